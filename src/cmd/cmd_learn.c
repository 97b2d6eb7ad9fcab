/* cmd_learn.c - `profileguard learn`: telemetry captured while a workload
 * ran (any SPEC §5 format, detected per input) plus its pod manifest, to
 * a WorkloadProfile on stdout (SPEC §6). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "doc.h"
#include "errlist.h"
#include "learn.h"
#include "manifest.h"
#include "pod.h"
#include "selector.h"
#include "strutil.h"
#include "telemetry.h"
#include "xalloc.h"

struct podpick {
	struct pod *pod;
	char *origin;
	size_t candidates;
	const char *ns;                 /* for manifests without one, as kubectl apply -n */
	const struct labels *selector;  /* --selector: every object it matches */
	struct pod **more;              /* the matches after the first */
	size_t nmore, cap_more;
	struct errlist *errs;
};

static bool labels_match(const struct labels *want, const struct labels *have)
{
	for (size_t i = 0; i < want->n; i++) {
		const char *v = labels_get(have, want->keys[i]);

		if (!v || strcmp(v, want->values[i]) != 0)
			return false;
	}
	return true;
}

static int pick_pod(void *ud, const struct manifest_origin *o, const struct jval *obj)
{
	struct podpick *pp = ud;
	enum workload_kind wk;
	struct pod *pod = NULL;
	char label[4200];
	int r;

	if (pod_workload_kind_cstr(obj, &wk) < 0)
		return 0;
	pp->candidates++;
	if (pp->pod && !pp->selector)
		return 0;       /* the first pod-bearing object is the workload */
	r = pod_from_jval(obj, pp->ns, pp->errs, &pod);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return 0;
	if (pp->selector && !labels_match(pp->selector, &pod->labels)) {
		pod_free(pod);
		return 0;
	}
	if (pp->pod) {
		if (pp->nmore == pp->cap_more) {
			size_t ncap = pp->cap_more ? pp->cap_more * 2 : 8;
			struct pod **v = pg_realloc(pp->more, ncap * sizeof(*v));

			if (!v) {
				pod_free(pod);
				return -ENOMEM;
			}
			pp->more = v;
			pp->cap_more = ncap;
		}
		pp->more[pp->nmore++] = pod;
		return 0;
	}
	snprintf(label, sizeof(label), "%s: document %zu", o->file, o->doc);
	pp->pod = pod;
	pp->origin = pg_strdup(label);
	return pp->origin ? 0 : -ENOMEM;
}

/* "k=v[,k=v...]" into @ret (strings in @buf, which it cuts up): the
 * matchLabels a kubectl -l user writes; set-based forms are not taken,
 * since the profile's selector is written from it.  -EINVAL. */
static int parse_selector(char *buf, const char **keys, const char **values, size_t max, struct labels *ret)
{
	size_t n = 0;

	for (char *p = buf; p;) {
		char *comma = strchr(p, ','), *eq;

		if (comma)
			*comma = '\0';
		eq = strchr(p, '=');
		if (!eq || n == max)
			return -EINVAL;
		*eq = '\0';
		if (!str_is_label_key(p) || !str_is_label_value(eq + 1) || labels_get(ret, p))
			return -EINVAL;
		keys[n] = p;
		values[n] = eq + 1;
		ret->n = ++n;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

static int keep_doc(void *ud, size_t index, json_t *doc)
{
	(void)index;
	if (!*(json_t **)ud)    /* one profile is rendered */
		*(json_t **)ud = json_incref(doc);
	return 0;
}

/* The profile as JSON: the rendered YAML read back by the reader check
 * and the webhook use, so both formats say the same thing (the YAML's
 * header comments, the counts, are on stderr anyway). */
static int write_json(const struct buf *yaml, FILE *f)
{
	struct doc_error derr;
	json_t *doc = NULL;
	int r = doc_parse(buf_str(yaml), yaml->len, &DOC_LIMITS_DEFAULT, keep_doc, &doc, &derr);

	if (r < 0 || !doc) {
		json_decref(doc);
		return r == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	r = json_dumpf(doc, f, JSON_INDENT(2)) < 0 || fputc('\n', f) == EOF ? -EIO : 0;
	json_decref(doc);
	return r;
}

/* The entries marked for review: JSON holds no comments, so there each
 * is a warning here; the YAML carries them, and this says how many. */
static void report_reviews(const struct learn *l, bool each)
{
	const struct learn_review *rev;
	size_t n = learn_reviews(l, &rev);

	for (size_t i = 0; each && i < n; i++) {
		/* the value came from telemetry: escaped as a JSON string */
		struct buf v = BUF_INIT(64u * 1024);

		if (buf_add_json_escaped(&v, rev[i].value) < 0)
			buf_reset(&v);
		fprintf(stderr, "profileguard learn: warning: review %s \"%s\": %s\n", rev[i].field, buf_str(&v),
			rev[i].why);
		buf_free(&v);
	}
	if (n && !each)
		fprintf(stderr, "profileguard learn: %zu entr%s marked \"# review:\" in the profile\n", n,
			n == 1 ? "y" : "ies");
}

static int on_event(void *ud, const struct telemetry_event *e)
{
	return learn_add(ud, e);
}

int cmd_learn(int argc, char **argv)
{
	static const char synopsis[] = "-f EVENTS --pod MANIFEST [--selector K=V,...] --name NAME --namespace NS\n"
		"       [--mode Audit|Enforce] [--exact] [-o yaml|json] [--output-file PATH]\n\n"
		"Prints a WorkloadProfile that allows what the telemetry shows the workload doing\n"
		"(executables, egress, files, API calls), with its admission rules taken from the\n"
		"pod manifest.  EVENTS: files or - (stdin), in any format profileguard ingests\n"
		"(native JSON lines, Falco, Tetragon, audit), detected per file unless --format says.\n\n"
		"By default the profile is generalised so the next release still passes: images by\n"
		"repository (REPO:* for tags, REPO@sha256:* when pinned by digest), and files by\n"
		"directory (DIR/* once 3 or more files directly in DIR were seen, never over a\n"
		"directory holding or leading to a sensitive file).  Executables, egress addresses\n"
		"and API calls stay as seen.  --exact allows exactly what was seen instead.\n"
		"Entries that look dangerous (credential files, writes to system files, shells,\n"
		"package managers, /proc/*/mem, API calls on Secrets, pods/exec, bind, escalate,\n"
		"impersonate) carry a \"# review: WHY\" comment; with -o json they are listed on stderr.\n\n"
		"Only events of the workload's own pods count: the pod a Pod manifest names, or the\n"
		"pods its controller would name (Deployment D: D-<hash>-<suffix>; StatefulSet S:\n"
		"S-<ordinal>; ReplicaSet, DaemonSet, Job R: R-<suffix>; CronJob C: C-<time>-<suffix>),\n"
		"in NS.  An event that names only a container ID or pod UID counts when an own pod's\n"
		"event, or the manifest's status, names that container or UID; API calls count for\n"
		"the workload's service account, and a token bound to a pod must be an own pod's.\n"
		"Everything else is skipped and counted in the profile's header, so another pod's\n"
		"behaviour in the capture never widens the profile.  --pod is required: without it\n"
		"nothing says whose events are the workload's.  With --selector, every object of\n"
		"MANIFEST whose labels match is the workload's (a pod list from kubectl get pods\n"
		"-o yaml: their names, UIDs and container IDs), and it is the profile's selector.";
	struct cmd_common_opts common = { 0 };
	struct strlist inputs = { 0 };
	const char *pod_path = NULL, *name = NULL, *ns = NULL, *mode = "Audit", *format = NULL,
		   *sa = NULL, *output = "yaml", *output_file = NULL, *selector = NULL;
	bool exact = false;
	const struct flag flags[] = {
		{ "filename", 'f', FLAG_STRINGS, &inputs, "PATH", "captured telemetry: file or -; repeats" },
		{ "pod", 0, FLAG_STRING, &pod_path, "MANIFEST", "the workload's Pod or Deployment/Job/... manifest (required)" },
		{ "name", 0, FLAG_STRING, &name, "NAME", "name of the profile (required)" },
		{ "namespace", 'n', FLAG_STRING, &ns, "NS", "namespace of the profile and workload (required)" },
		{ "selector", 0, FLAG_STRING, &selector, "K=V,...",
		  "the workload is every object of --pod whose labels match (e.g. kubectl get pods -o yaml)" },
		{ "service-account", 0, FLAG_STRING, &sa, "NAME", "identity whose API calls count (default: the pod's)" },
		{ "mode", 0, FLAG_ENUM, &mode, "Audit|Enforce", "the profile's mode (default Audit)" },
		{ "exact", 0, FLAG_BOOL, &exact, NULL,
		  "allow exactly what was seen: no image tag or file directory generalised" },
		{ "events-format", 0, FLAG_ENUM, &format, "native|falco|tetragon|audit", "format of -f (default: detect per file)" },
		{ "format", 0, FLAG_ENUM, &format, "native|falco|tetragon|audit", "same as --events-format, as check names it" },
		CMD_OUTPUT_FLAG(&output, "yaml|json|text", "the profile's format (default yaml; text is yaml)"),
		CMD_OUTPUT_FILE_FLAG(&output_file),
		CMD_LOG_FLAGS(&common),
		{ 0 },
	};
	struct errlist errs;
	struct podpick pp = { 0 };
	struct learn *l = NULL;
	struct buf out = BUF_INIT(64u * 1024 * 1024);
	struct learn_counts counts;
	struct labels sel = { 0 };
	char *selbuf = NULL;
	enum telemetry_source forced = TELEMETRY_NATIVE;
	int optind_, r, rc = CMD_EXIT_BAD_INPUT;
	FILE *f = stdout;

	errlist_init(&errs, 100);
	pp.errs = &errs;
	r = flags_parse(flags, argc, argv, "learn", synopsis, &optind_);
	if (r != 0) {
		rc = r > 0 ? CMD_EXIT_PASS : CMD_EXIT_BAD_INPUT;
		goto out;
	}
	if (cmd_common_setup("learn", &common) < 0)
		goto out;
	if (!name || !ns || inputs.n == 0) {
		fprintf(stderr, "profileguard learn: need -f EVENTS, --name and --namespace (see --help)\n");
		goto out;
	}
	/* What the profile's metadata and identity will hold: refused here,
	 * rather than printed into a profile the API server refuses. */
	if (!str_is_dns1123_subdomain(name)) {
		fprintf(stderr, "profileguard learn: --name \"%s\" is not a valid name (RFC 1123 subdomain)\n", name);
		goto out;
	}
	if (!str_is_dns1123_label(ns)) {
		fprintf(stderr, "profileguard learn: --namespace \"%s\" is not a valid namespace name\n", ns);
		goto out;
	}
	if (sa && !str_is_dns1123_subdomain(sa)) {
		fprintf(stderr, "profileguard learn: --service-account \"%s\" is not a valid name\n", sa);
		goto out;
	}
	if (format && telemetry_source_parse(format, &forced) < 0) {
		fprintf(stderr, "profileguard learn: --format must be native, falco, tetragon or audit\n");
		goto out;
	}
	/* Without the manifest, every pod of the namespace would count: a
	 * capture that holds another pod's reverse shell would allow it. */
	if (!pod_path) {
		fprintf(stderr, "profileguard learn: --pod MANIFEST is required: only events of the pods it makes "
			"are learned, and without it nothing says which pods those are (see --help)\n");
		goto out;
	}
	if (selector) {
		size_t max = strlen(selector) / 2 + 1;

		selbuf = pg_strdup(selector);
		sel.keys = pg_calloc(max, sizeof(*sel.keys));
		sel.values = pg_calloc(max, sizeof(*sel.values));
		if (!selbuf || !sel.keys || !sel.values)
			goto oom;
		if (parse_selector(selbuf, sel.keys, sel.values, max, &sel) < 0) {
			fprintf(stderr, "profileguard learn: --selector \"%s\": not KEY=VALUE[,KEY=VALUE...] with valid "
				"label keys and values, each key once\n", selector);
			goto out;
		}
	}
	l = learn_new(&(struct learn_opts){ .name = name, .namespace = ns, .mode = mode, .service_account = sa,
					    .selector = selector ? &sel : NULL, .exact = exact });
	if (!l)
		goto oom;
	pp.ns = ns;
	pp.selector = selector ? &sel : NULL;
	r = manifest_walk(pod_path, pick_pod, &pp, &errs);
	if (r == -ENOMEM)
		goto oom;
	if (!pp.pod && !errs.n && selector)
		errlist_add(&errs, "%s: no Pod or pod template whose labels match --selector %s", pod_path, selector);
	else if (!pp.pod && !errs.n)
		errlist_add(&errs, "%s: no Pod or pod template found", pod_path);
	for (size_t i = 0; pp.pod && i <= pp.nmore; i++) {
		const struct pod *p = i ? pp.more[i - 1] : pp.pod;

		if (strcmp(p->namespace, ns) != 0)
			errlist_add(&errs, "%s: the workload %s is in namespace %s, not %s (--namespace)", pod_path,
				    p->name ? p->name : "", p->namespace, ns);
	}
	if (errs.n)
		goto bad_input;
	if (pp.candidates > 1 && !selector)
		fprintf(stderr, "profileguard learn: %s holds %zu workloads; learning from the first\n",
			pod_path, pp.candidates);
	learn_set_pod(l, pp.pod, pp.origin);
	for (size_t i = 0; i < pp.nmore; i++)
		if (learn_add_pod(l, pp.more[i]) < 0)
			goto oom;
	for (size_t i = 0; i < inputs.n; i++) {
		struct telemetry_stats st;
		enum telemetry_source src;
		char *data = NULL, note[4200];
		size_t len;

		r = doc_read_file(inputs.v[i], 256u * 1024 * 1024, &data, &len);
		if (r < 0) {
			errlist_add(&errs, "%s: %s", inputs.v[i], r == -EFBIG ? "larger than 256 MiB" : strerror(-r));
			continue;
		}
		src = format ? forced : telemetry_detect(data, len);
		r = telemetry_parse(src, data, len, on_event, l, &st);
		pg_free(data);
		if (r == -ENOMEM)
			goto oom;
		if (r == -E2BIG)
			errlist_add(&errs, "%s: more than %u events in one input: split it", inputs.v[i], TELEMETRY_MAX_EVENTS);
		if (st.rejected)
			errlist_add(&errs, "%s: %zu malformed %s record%s skipped (first: %s)", inputs.v[i], st.rejected,
				    telemetry_source_name(src), st.rejected == 1 ? "" : "s", st.first_error);
		snprintf(note, sizeof(note), "%s: %zu %s", inputs.v[i], st.accepted, telemetry_source_name(src));
		if (learn_note_source(l, note) < 0)
			goto oom;
	}
	r = learn_render(l, &out);
	learn_counts(l, &counts);   /* after: events held for a tie are decided there */
	if (r == -E2BIG) {
		fprintf(stderr, "profileguard learn: cannot write the profile: %s\n",
			learn_error(l) ? learn_error(l) : "it is larger than the output limit");
		rc = CMD_EXIT_BAD_INPUT;
		goto out;
	}
	if (r < 0)
		goto oom;
	if (output_file && !(f = fopen(output_file, "we"))) {
		fprintf(stderr, "profileguard learn: %s: %s\n", output_file, strerror(errno));
		goto out;
	}
	if (strcmp(output, "json") == 0)
		r = write_json(&out, f);
	else
		r = fwrite(buf_str(&out), 1, out.len, f) != out.len ? -EIO : 0;
	if (output_file && fclose(f) != 0 && r == 0)
		r = -EIO;
	if (r == -ENOMEM)
		goto oom;
	if (r < 0) {
		fprintf(stderr, "profileguard learn: write failed: %s\n",
			r == -EINVAL ? "the profile does not read back" : strerror(errno));
		goto out;
	}
	/* Malformed records were skipped, and the profile still printed:
	 * a bad line in a capture must not cost the rest.  Say so, and exit
	 * 2 so CI notices. */
	if (errs.n)
		goto bad_input;
	report_reviews(l, strcmp(output, "json") == 0);
	if (counts.too_long)
		fprintf(stderr, "profileguard learn: %zu events left out: a path or name longer than a profile holds\n",
			counts.too_long);
	fprintf(stderr, "profileguard learn: %zu events used, %zu skipped (%zu other namespaces or identities, "
		"%zu of other pods, %zu not tied to this workload)\n", counts.used,
		counts.skipped + counts.other_pods + counts.untied, counts.skipped, counts.other_pods, counts.untied);
	rc = CMD_EXIT_PASS;
	goto out;
oom:
	fprintf(stderr, "profileguard learn: out of memory\n");
	goto out;
bad_input:
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "profileguard learn: %s\n", errs.msgs[i]);
	rc = CMD_EXIT_BAD_INPUT;
out:
	learn_free(l);
	pod_free(pp.pod);
	for (size_t i = 0; i < pp.nmore; i++)
		pod_free(pp.more[i]);
	pg_free(pp.more);
	pg_free(selbuf);
	pg_free(sel.keys);
	pg_free(sel.values);
	pg_free(pp.origin);
	buf_free(&out);
	errlist_free(&errs);
	strlist_free(&inputs);
	return rc;
}
