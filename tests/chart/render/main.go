// Command render renders a Helm 3 chart the way `helm template` does, with Helm's own template
// libraries (Go text/template, sprig v3, sigs.k8s.io/yaml), and prints every document as JSON
// for the chart tests. It exists because Helm itself is not packaged for Debian 12 and there is
// no network to fetch it.
//
//	render -chart DIR [-f values.yaml]... [-name RELEASE] [-namespace NS] [-lookup objects.json] [-raw]
//
// What it reproduces of Helm (pkg/engine, pkg/chartutil):
//   - values: values.yaml, then each -f file coalesced over it (maps merge deeply, a null
//     deletes a default key, anything else replaces); numbers are float64, as Helm reads them;
//   - values.schema.json is checked against the coalesced values before rendering (see
//     schema.go for the subset of JSON Schema draft-07 supported; an unknown keyword is an error);
//   - the function map: sprig's text functions without env/expandenv, plus toYaml, fromYaml,
//     fromYamlArray, toJson, fromJson, fromJsonArray, include, tpl, required and lookup
//     (answered from -lookup, else an empty map, as under `helm template`);
//   - missingkey=zero and "<no value>" erased; every file under templates/ parsed into one
//     set; files whose name starts with "_" define templates only; NOTES.txt rendered apart;
//   - .Release, .Chart (Chart.yaml), .Capabilities, .Template, .Values.
//
// Output: {"documents":[{"template":..., "object":{...}}...], "notes":"..."}. A template
// error, a schema violation or a document that is not valid YAML exits 1 with the message on
// stderr. Duplicate keys in a rendered document are errors, as the API server's strict decoding
// makes them.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	sprig "github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// chartMeta is the part of Chart.yaml templates read, under Helm's field names.
type chartMeta struct {
	APIVersion  string            `json:"apiVersion"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	AppVersion  string            `json:"appVersion"`
	KubeVersion string            `json:"kubeVersion"`
	Description string            `json:"description"`
	Type        string            `json:"type"`
	Keywords    []string          `json:"keywords"`
	Annotations map[string]string `json:"annotations"`
}

type kubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k kubeVersion) String() string     { return k.Version }
func (k kubeVersion) GitVersion() string { return k.Version }

type versionSet []string

func (v versionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type capabilities struct {
	KubeVersion kubeVersion
	APIVersions versionSet
	HelmVersion map[string]string
}

type renderedDoc struct {
	Template string      `json:"template"`
	Object   interface{} `json:"object"`
}

const recursionMax = 1000

func main() {
	var valueFiles multiFlag
	chartDir := flag.String("chart", "", "chart directory")
	release := flag.String("name", "profileguard", "release name")
	namespace := flag.String("namespace", "profileguard", "release namespace")
	lookupFile := flag.String("lookup", "", "JSON list of live objects lookup may return")
	upgrade := flag.Bool("upgrade", false, "render as an upgrade (.Release.IsUpgrade)")
	kubeVer := flag.String("kube-version", "v1.29.0", "Capabilities.KubeVersion")
	raw := flag.Bool("raw", false, "print the rendered manifests as `helm template` does, not JSON")
	flag.Var(&valueFiles, "f", "values file (repeatable; later files win)")
	flag.Parse()
	if *chartDir == "" {
		fmt.Fprintln(os.Stderr, "render: -chart is required")
		os.Exit(2)
	}
	out, err := render(*chartDir, valueFiles, *release, *namespace, *lookupFile, *upgrade, *kubeVer, *raw)
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}

func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// coalesce merges src (user values) over dst (chart defaults) as Helm's CoalesceTables does
// for the parent chart: maps merge key by key, a null in src deletes the key, any other value
// replaces. dst is modified and returned.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, sv := range src {
		if sv == nil {
			delete(dst, k)
			continue
		}
		dv, ok := dst[k]
		sm, sIsMap := sv.(map[string]interface{})
		dm, dIsMap := dv.(map[string]interface{})
		if ok && sIsMap && dIsMap {
			dst[k] = coalesce(dm, sm)
		} else {
			dst[k] = sv
		}
	}
	return dst
}

func render(chartDir string, valueFiles []string, release, namespace, lookupFile string,
	upgrade bool, kubeVer string, raw bool) ([]byte, error) {
	var meta chartMeta
	chartRaw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalStrict(chartRaw, &meta); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	if meta.APIVersion != "v2" || meta.Name == "" || meta.Version == "" {
		return nil, errors.New("Chart.yaml: apiVersion v2, name and version are required")
	}

	values, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	for _, f := range valueFiles {
		user, err := readYAMLMap(f)
		if err != nil {
			return nil, err
		}
		values = coalesce(values, user)
	}
	if schemaRaw, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json")); err == nil {
		if errs := validateSchema(schemaRaw, values); len(errs) > 0 {
			return nil, fmt.Errorf("values don't meet the specifications of the schema(s):\n- %s",
				strings.Join(errs, "\n- "))
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}

	var live []map[string]interface{}
	if lookupFile != "" {
		data, err := os.ReadFile(lookupFile)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &live); err != nil {
			return nil, fmt.Errorf("%s: %w", lookupFile, err)
		}
	}

	major, minor := "1", "29"
	if m := regexp.MustCompile(`^v?(\d+)\.(\d+)`).FindStringSubmatch(kubeVer); m != nil {
		major, minor = m[1], m[2]
	}
	top := map[string]interface{}{
		"Values": values,
		"Chart":  meta,
		"Release": map[string]interface{}{
			"Name":      release,
			"Namespace": namespace,
			"IsUpgrade": upgrade,
			"IsInstall": !upgrade,
			"Revision":  1,
			"Service":   "Helm",
		},
		"Capabilities": capabilities{
			KubeVersion: kubeVersion{Version: kubeVer, Major: major, Minor: minor},
			APIVersions: versionSet{"v1", "apps/v1", "batch/v1", "policy/v1",
				"rbac.authorization.k8s.io/v1", "admissionregistration.k8s.io/v1",
				"coordination.k8s.io/v1", "events.k8s.io/v1", "apiextensions.k8s.io/v1"},
			HelmVersion: map[string]string{"version": "v3.14.0"},
		},
		"Files": map[string]interface{}{},
	}

	// Every file under templates/, in name order, into one template set.
	var files []string
	tdir := filepath.Join(chartDir, "templates")
	err = filepath.Walk(tdir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)

	t := template.New("gotpl").Option("missingkey=zero")
	t.Funcs(funcMap(t, live))
	names := map[string]string{}
	for _, p := range files {
		rel, _ := filepath.Rel(chartDir, p)
		name := path.Join(meta.Name, filepath.ToSlash(rel))
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if _, err := t.New(name).Parse(string(data)); err != nil {
			return nil, err
		}
		names[name] = p
	}

	var docs []renderedDoc
	var notes string
	var manifests strings.Builder
	order := make([]string, 0, len(names))
	for n := range names {
		order = append(order, n)
	}
	sort.Strings(order)
	for _, name := range order {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") {
			continue
		}
		vals := map[string]interface{}{}
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{"Name": name, "BasePath": path.Join(meta.Name, "templates")}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, name, vals); err != nil {
			return nil, err
		}
		out := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			notes = out
			continue
		}
		for i, d := range splitDocuments(out) {
			fmt.Fprintf(&manifests, "---\n# Source: %s\n%s\n", name, strings.Trim(d, "\n"))
			j, err := yaml.YAMLToJSONStrict([]byte(d))
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w\n%s", name, i+1, err, d)
			}
			var obj interface{}
			if err := json.Unmarshal(j, &obj); err != nil {
				return nil, err
			}
			if obj == nil {
				continue // only comments
			}
			docs = append(docs, renderedDoc{Template: name, Object: obj})
		}
	}
	if raw {
		return []byte(manifests.String() + "\nNOTES:\n" + notes + "\n"), nil
	}
	return json.MarshalIndent(map[string]interface{}{"documents": docs, "notes": notes}, "", " ")
}

// Helm splits a rendered file on "---" lines (pkg/releaseutil.SplitManifests).
var sep = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

func splitDocuments(s string) []string {
	var out []string
	for _, d := range sep.Split(s, -1) {
		if strings.TrimSpace(d) != "" {
			out = append(out, d)
		}
	}
	return out
}

func funcMap(t *template.Template, live []map[string]interface{}) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")

	included := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if included[name] > recursionMax {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		included[name]++
		defer func() { included[name]-- }()
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	f["tpl"] = func(text string, vals interface{}) (string, error) {
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		c.Option("missingkey=zero")
		if _, err := c.New("tpl").Parse(text); err != nil {
			return "", err
		}
		var buf strings.Builder
		if err := c.ExecuteTemplate(&buf, "tpl", vals); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	f["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, errors.New(warn)
		}
		if s, ok := val.(string); ok && s == "" {
			return val, errors.New(warn)
		}
		return val, nil
	}
	f["toYaml"] = func(v interface{}) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	f["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromJsonArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	// lookup answers from the -lookup objects; with none it behaves as under `helm template`
	// (an empty map). An empty name asks for a list, as in Helm.
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		var items []interface{}
		for _, o := range live {
			md, _ := o["metadata"].(map[string]interface{})
			ns, _ := md["namespace"].(string)
			if o["apiVersion"] != apiVersion || o["kind"] != kind || ns != namespace {
				continue
			}
			if name == "" {
				items = append(items, o)
			} else if md["name"] == name {
				return o, nil
			}
		}
		if name == "" && items != nil {
			return map[string]interface{}{"apiVersion": apiVersion, "kind": kind + "List", "items": items}, nil
		}
		return map[string]interface{}{}, nil
	}
	return f
}
