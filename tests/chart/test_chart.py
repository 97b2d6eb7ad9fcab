#!/usr/bin/env python3
"""Chart tests: render charts/profileguard with Helm's own template libraries (the Go renderer
in render/, built from Debian's golang-go, sprig v3 and sigs.k8s.io/yaml) for several value
sets, parse every document, and check what the chart promises: minimal RBAC per component, the
webhook's rules and selectors, restricted workloads (the agent's documented exception aside),
the PDB and priority class, the CRD copy, and a strict values schema.

    RENDER=path/to/render SOURCE_ROOT=. python3 test_chart.py [TestClass ...]

Without RENDER only the tests that need no rendering run (CrdCopyTest); the others skip.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

SOURCE_ROOT = os.path.abspath(os.environ.get("SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..")))
CHART = os.path.join(SOURCE_ROOT, "charts", "profileguard")
RENDER = os.environ.get("RENDER", "")

# ---------------------------------------------------------------------------------------------
# Value sets: name -> (values, release name, namespace)
DIGEST = "sha256:" + "0123456789abcdef" * 4
VALUE_SETS = {
    "default": ({}, "profileguard", "profileguard"),
    "cert-manager": ({"certManager": {"enabled": True}}, "profileguard", "profileguard"),
    "agent": ({"agent": {"enabled": True}}, "profileguard", "profileguard"),
    "ignore": ({"webhook": {"failurePolicy": "Ignore", "timeoutSeconds": 10},
                "flags": {"webhook": {"max-request-bytes": 4194304}}}, "profileguard", "profileguard"),
    "telemetry-off": ({"telemetry": {"enabled": False}}, "profileguard", "profileguard"),
    "custom-namespace": ({"excludedNamespaces": ["kube-system", "monitoring"]}, "pg", "security"),
    "all-on": ({
        "certManager": {"enabled": True},
        "agent": {"enabled": True, "extraArgs": ["--interval=500ms"]},
        "image": {"digest": DIGEST},
        "imagePullSecrets": [{"name": "regcred"}],
        "webhook": {"podAntiAffinity": "required", "replicaCount": 4,
                    "podDisruptionBudget": {"minAvailable": None, "maxUnavailable": 1},
                    "extraArgs": ["--idle-timeout=30"],
                    "extraEnv": [{"name": "PROFILEGUARD_THREADS", "value": "4"}]},
        "flags": {"controller": {"dry-run": True, "resync-period": "10m", "lease-duration": "20s",
                                 "kube-api-qps": 200, "kube-api-burst": 400},
                  "webhook": {"kube-api-qps": 12.5, "kube-api-burst": None}},
        "telemetry": {"allowedUsers": ["system:serviceaccount:falco:falco"],
                      "clientCA": {"secretName": "audit-ca"},
                      "service": {"clusterIP": "10.96.0.50"},
                      "sources": {"audit": {"enabled": True},
                                  "tetragon": {"enabled": True,
                                               "user": "system:serviceaccount:kube-system:forwarder"}}},
    }, "pg", "security"),
    # kube-system left out of the list: with failurePolicy Fail the chart excludes it anyway.
    "no-kube-system": ({"excludedNamespaces": ["monitoring"]}, "profileguard", "profileguard"),
    "issuer-ref": ({"certManager": {"enabled": True,
                                    "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer",
                                                  "group": "cert-manager.io"}}}, "profileguard", "profileguard"),
}

# The flags each component may be given: the contract with the authors of the webhook, the
# controller and the agent. A flag the chart renders that is not here fails the tests.
COMMON_FLAGS = {"kubeconfig", "log-format", "log-level", "metrics-addr"}
KNOWN_FLAGS = {
    "webhook": COMMON_FLAGS | {"listen", "tls-cert", "tls-key", "profiles", "ignore-namespaces", "namespace",
                               "max-request-bytes", "threads", "max-connections", "max-connections-per-ip",
                               "idle-timeout", "request-timeout", "judge-threads",
                               "judge-threads-per-namespace", "shutdown-timeout", "kube-api-qps",
                               "kube-api-burst"},
    "controller": COMMON_FLAGS | {"namespace", "ignore-namespaces", "leader-elect", "lease-name", "identity",
                                  "dry-run", "max-actions-per-minute", "resync-period", "owner-backoff",
                                  "shutdown-timeout",
                                  "lease-duration", "renew-deadline", "retry-period",
                                  "telemetry-listen", "telemetry-tls-cert", "telemetry-tls-key",
                                  "telemetry-client-ca", "telemetry-allowed-users", "telemetry-audience",
                                  "webhook-cert-secret", "webhook-config-name", "webhook-service",
                                  "webhook-arm-interval",
                                  "telemetry-service", "telemetry-max-connections",
                                  "telemetry-max-connections-per-ip", "telemetry-request-timeout",
                                  "kube-api-qps", "kube-api-burst",
                                  "identity-lifecycle", "identity-unused-after", "identity-orphaned-after",
                                  "identity-retire-after", "identity-usage-window", "identity-prune-bindings",
                                  "audit-live-window"},
    "agent": COMMON_FLAGS | {"controller-url", "controller-ca", "token-file", "interval",
                             "kubelet-pods-dir", "proc-root"},
}


def _binary_flags():
    """The flags each command really takes, from `profileguard help CMD`, when the
    build's binary is given (meson passes PROFILEGUARD): the chart must never render
    a flag the binary would refuse, and must be free to use any it takes."""
    import re
    import subprocess
    pg = os.environ.get("PROFILEGUARD")
    if not pg or not os.access(pg, os.X_OK):
        return
    for comp in ("webhook", "controller", "agent"):
        out = subprocess.run([pg, "help", comp], capture_output=True, text=True).stdout
        found = set(re.findall(r"--([a-z0-9][a-z0-9-]*)", out)) - {"help"}
        if found:
            KNOWN_FLAGS[comp] = found


_binary_flags()
REPEATABLE_FLAGS = {"telemetry-allowed-users"}

RECOMMENDED_LABELS = ["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                      "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of", "helm.sh/chart"]
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration",
                  "CustomResourceDefinition", "Namespace"}
WORKLOAD_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob", "ReplicaSet", "Pod"}


# ---------------------------------------------------------------------------------------------
class RenderError(Exception):
    pass


_cache = {}


def render(values, name="profileguard", namespace="profileguard", lookup=None, chart=CHART):
    """Renders the chart; returns (list of objects, notes). Raises RenderError with stderr."""
    key = (json.dumps(values, sort_keys=True), name, namespace, json.dumps(lookup, sort_keys=True), chart)
    if key in _cache:
        return _cache[key]
    with tempfile.TemporaryDirectory() as tmp:
        args = [RENDER, "-chart", chart, "-name", name, "-namespace", namespace]
        vf = os.path.join(tmp, "values.json")  # JSON is YAML
        with open(vf, "w") as f:
            json.dump(values, f)
        args += ["-f", vf]
        if lookup is not None:
            lf = os.path.join(tmp, "lookup.json")
            with open(lf, "w") as f:
                json.dump(lookup, f)
            args += ["-lookup", lf]
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RenderError(p.stderr)
    out = json.loads(p.stdout)
    result = ([d["object"] for d in out["documents"]], out["notes"])
    _cache[key] = result
    return result


def render_set(name):
    values, release, ns = VALUE_SETS[name]
    return render(values, release, ns)


def of_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def one(docs, kind, name=None):
    found = [d for d in of_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    if len(found) != 1:
        raise AssertionError(f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0]


def component_of(obj):
    return obj.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/component")


def workload(docs, component):
    found = [d for d in docs if d["kind"] in ("Deployment", "DaemonSet") and component_of(d) == component]
    if len(found) != 1:
        raise AssertionError(f"expected one workload for {component}, found {len(found)}")
    return found[0]


def pod_spec(w):
    return w["spec"]["template"]["spec"]


def containers(spec):
    return spec.get("initContainers", []) + spec.get("containers", []) + spec.get("ephemeralContainers", [])


def parse_args(container):
    """Container args -> (command, {flag: [values]}). Fails on anything that is not --flag=value."""
    args = container.get("args", [])
    cmd, flags = args[0], {}
    for a in args[1:]:
        m = re.fullmatch(r"--([a-z0-9-]+)=(.*)", a, re.S)
        if not m:
            raise AssertionError(f"argument {a!r} is not --flag=value")
        flags.setdefault(m.group(1), []).append(m.group(2))
    return cmd, flags


def flag(container, name):
    vals = parse_args(container)[1].get(name)
    return vals[-1] if vals else None


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def needs_renderer(cls):
    return unittest.skipUnless(RENDER, "RENDER not set: the Go renderer was not built")(cls)


# ---------------------------------------------------------------------------------------------
class CrdCopyTest(unittest.TestCase):
    """The chart ships the CRD in its crds/ directory; it must be the repository's, byte for byte."""

    def test_chart_crd_equals_repository_crd(self):
        for fn in ("workloadprofile.yaml", "identityreport.yaml"):
            with self.subTest(crd=fn):
                with open(os.path.join(SOURCE_ROOT, "crds", fn), "rb") as f:
                    want = f.read()
                with open(os.path.join(CHART, "crds", fn), "rb") as f:
                    got = f.read()
                self.assertEqual(got, want, f"charts/profileguard/crds/{fn} differs from "
                                 f"crds/{fn}: copy it again (cp crds/{fn} charts/profileguard/crds/)")

    def test_every_crd_is_in_the_chart(self):
        self.assertEqual(sorted(os.listdir(os.path.join(SOURCE_ROOT, "crds"))),
                         sorted(os.listdir(os.path.join(CHART, "crds"))))

    def test_crd_is_not_templated(self):
        for root, _, files in os.walk(os.path.join(CHART, "templates")):
            for fn in files:
                with open(os.path.join(root, fn)) as f:
                    self.assertNotIn("kind: CustomResourceDefinition", f.read(), fn)

    def test_chart_metadata(self):
        with open(os.path.join(CHART, "Chart.yaml")) as f:
            text = f.read()
        self.assertRegex(text, r"(?m)^apiVersion: v2$")
        self.assertRegex(text, r"(?m)^name: profileguard$")
        self.assertRegex(text, r'(?m)^appVersion: "[0-9]+\.[0-9]+\.[0-9]+"$')
        with open(os.path.join(SOURCE_ROOT, "meson.build")) as f:
            version = re.search(r"version: '([^']+)'", f.read()).group(1)
        self.assertIn(f'appVersion: "{version}"', text, "appVersion must follow meson.build's version")


# ---------------------------------------------------------------------------------------------
def expected_rbac(values, namespace, fullname):
    """The complete, exact permission table of each component for a value set:
    {component: {(scope, apiGroup, resource, verb, resourceName or None)}}, scope being
    "cluster" or the namespace."""
    cert_manager = values.get("certManager", {}).get("enabled", False)
    telemetry = values.get("telemetry", {}).get("enabled", True)

    def rules(scope, group, resources, verbs, names=(None,)):
        return {(scope, group, r, v, n) for r in resources for v in verbs for n in names}

    c = "cluster"
    webhook = rules(c, "profileguard.io", ["workloadprofiles"], ["get", "list", "watch"]) | \
        rules(c, "", ["namespaces"], ["get", "list", "watch"]) | \
        rules(c, "profileguard.io", ["identityreports"], ["get", "list", "watch"])  # maxRisk at admission
    controller = (
        rules(c, "", ["pods"], ["get", "list", "watch", "delete"])
        | rules(c, "", ["pods/eviction"], ["create"])
        | rules(c, "profileguard.io", ["workloadprofiles"], ["get", "list", "watch"])
        | rules(c, "profileguard.io", ["workloadprofiles/status"], ["get", "patch", "update"])
        | rules(c, "", ["serviceaccounts", "namespaces"], ["get", "list", "watch"])
        | rules(c, "", ["secrets"], ["list", "watch"])
        | rules(c, "events.k8s.io", ["events"], ["create", "patch"])
        # the identity inventory: RBAC read whole (it holds no secrets) ...
        | rules(c, "rbac.authorization.k8s.io", ["roles", "clusterroles", "rolebindings", "clusterrolebindings"],
                ["get", "list", "watch"])
        # ... the workloads whose pod templates name an account ...
        | rules(c, "apps", ["deployments", "statefulsets", "daemonsets", "replicasets"], ["get", "list", "watch"])
        | rules(c, "batch", ["jobs", "cronjobs"], ["get", "list", "watch"])
        | rules(c, "", ["replicationcontrollers"], ["get", "list", "watch"])
        # ... and one IdentityReport per ServiceAccount, its status written by the leader
        | rules(c, "profileguard.io", ["identityreports"], ["create", "get", "list", "watch", "update", "patch"])
        | rules(c, "profileguard.io", ["identityreports/status"], ["update", "patch"])
        | rules(namespace, "coordination.k8s.io", ["leases"], ["create"])
        | rules(namespace, "coordination.k8s.io", ["leases"], ["get", "update"], [f"{fullname}-controller"])
        # The audit source's live span, on a Lease of its own.
        | rules(namespace, "coordination.k8s.io", ["leases"], ["get", "patch"], [f"{fullname}-controller-audit"])
    )
    if telemetry:
        controller |= rules(c, "authentication.k8s.io", ["tokenreviews"], ["create"])
        # the leader's own pod label, which the telemetry Service selects
        controller |= rules(namespace, "", ["pods"], ["patch"])
    # Both modes: the leader arms the chart's webhook configuration (and, generating the
    # certificate, patches its caBundle) once the webhook Service has a ready endpoint.
    controller |= rules(c, "admissionregistration.k8s.io", ["validatingwebhookconfigurations"],
                        ["get", "patch"], [fullname])
    controller |= rules(namespace, "discovery.k8s.io", ["endpointslices"], ["list"])
    if not cert_manager:
        controller |= rules(namespace, "", ["secrets"], ["create"])
        controller |= rules(namespace, "", ["secrets"], ["get", "update"], [f"{fullname}-tls"])
    return {"webhook": webhook, "controller": controller, "agent": set()}


FULLNAMES = {"profileguard": "profileguard", "pg": "pg-profileguard"}


def granted(docs, namespace):
    """What each component's ServiceAccount is granted by the rendered bindings."""
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
             for d in docs if d["kind"] in ("ClusterRole", "Role")}
    sa_component = {d["metadata"]["name"]: component_of(d) for d in of_kind(docs, "ServiceAccount")}
    out = {c: set() for c in ("webhook", "controller", "agent")}
    for b in docs:
        if b["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        ref = b["roleRef"]
        role_ns = b["metadata"].get("namespace") if ref["kind"] == "Role" else None
        role = roles.get((ref["kind"], role_ns, ref["name"]))
        if role is None:
            raise AssertionError(f"{b['kind']} {b['metadata']['name']} refers to a missing {ref['kind']}")
        scope = "cluster" if b["kind"] == "ClusterRoleBinding" else b["metadata"]["namespace"]
        for s in b["subjects"]:
            if s["kind"] != "ServiceAccount" or s["namespace"] != namespace:
                raise AssertionError(f"binding {b['metadata']['name']}: unexpected subject {s}")
            comp = sa_component[s["name"]]
            for r in role["rules"]:
                for g in r.get("apiGroups", []):
                    for res in r.get("resources", []):
                        for v in r["verbs"]:
                            for n in r.get("resourceNames") or [None]:
                                out[comp].add((scope, g, res, v, n))
    return out


@needs_renderer
class RbacTest(unittest.TestCase):
    def test_exact_permission_table_per_component(self):
        for name, (values, release, ns) in VALUE_SETS.items():
            with self.subTest(values=name):
                docs, _ = render_set(name)
                got = granted(docs, ns)
                want = expected_rbac(values, ns, FULLNAMES[release])
                for comp in want:
                    self.assertEqual(sorted(got[comp] - want[comp], key=str), [],
                                     f"{comp}: permissions beyond the allowed table")
                    self.assertEqual(sorted(want[comp] - got[comp], key=str), [],
                                     f"{comp}: permissions it needs are missing")

    def test_no_wildcards_or_escalation(self):
        for name in VALUE_SETS:
            docs, _ = render_set(name)
            for role in of_kind(docs, "ClusterRole") + of_kind(docs, "Role"):
                for r in role["rules"]:
                    with self.subTest(values=name, role=role["metadata"]["name"], rule=r):
                        self.assertNotIn("nonResourceURLs", r)
                        for key in ("apiGroups", "resources", "verbs", "resourceNames"):
                            self.assertNotIn("*", r.get(key, []))
                        self.assertFalse({"escalate", "bind", "impersonate", "deletecollection"} & set(r["verbs"]))
                        self.assertNotIn("aggregationRule", role)

    def test_no_secret_get_cluster_wide_and_leases_namespaced(self):
        for name in VALUE_SETS:
            docs, _ = render_set(name)
            for role in of_kind(docs, "ClusterRole"):
                for r in role["rules"]:
                    if "secrets" in r["resources"]:
                        self.assertNotIn("get", r["verbs"], f"{name}: secrets get in a ClusterRole")
                        self.assertNotIn("update", r["verbs"])
                        self.assertNotIn("create", r["verbs"])
                    self.assertNotIn("leases", r["resources"], f"{name}: leases in a ClusterRole")
            for role in of_kind(docs, "Role"):
                self.assertEqual(role["metadata"]["namespace"], VALUE_SETS[name][2])
                for r in role["rules"]:
                    if "get" in r["verbs"] or "update" in r["verbs"]:
                        self.assertTrue(r.get("resourceNames"), f"{name}: namespaced get/update must name objects: {r}")

    def test_each_component_has_its_own_service_account(self):
        for name in ("default", "agent", "all-on"):
            docs, _ = render_set(name)
            ns = VALUE_SETS[name][2]
            sas = {component_of(s): s["metadata"]["name"] for s in of_kind(docs, "ServiceAccount")}
            want = {"webhook", "controller"} | ({"agent"} if "agent" in name or name == "all-on" else set())
            self.assertEqual(set(sas), want)
            self.assertEqual(len(set(sas.values())), len(sas), "service accounts must differ")
            for comp, sa in sas.items():
                self.assertEqual(pod_spec(workload(docs, comp))["serviceAccountName"], sa)
            for s in of_kind(docs, "ServiceAccount"):
                self.assertIs(s.get("automountServiceAccountToken"), False)
                self.assertEqual(s["metadata"]["namespace"], ns)

    def test_rbac_create_false_renders_no_rbac(self):
        docs, _ = render({"rbac": {"create": False}})
        kinds = {d["kind"] for d in docs}
        self.assertFalse(kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"})


# ---------------------------------------------------------------------------------------------
@needs_renderer
class WebhookConfigTest(unittest.TestCase):
    def vwc(self, name):
        docs, _ = render_set(name)
        return docs, one(docs, "ValidatingWebhookConfiguration")

    def test_two_webhooks_to_the_right_paths_and_service(self):
        for name, (values, release, ns) in VALUE_SETS.items():
            with self.subTest(values=name):
                docs, v = self.vwc(name)
                self.assertEqual(v["metadata"]["name"], FULLNAMES[release])
                hooks = {h["name"]: h for h in v["webhooks"]}
                self.assertEqual(set(hooks), {"pods.profileguard.io", "workloadprofiles.profileguard.io"})
                self.assertEqual(hooks["pods.profileguard.io"]["clientConfig"]["service"]["path"], "/validate/pods")
                self.assertEqual(hooks["workloadprofiles.profileguard.io"]["clientConfig"]["service"]["path"],
                                 "/validate/workloadprofiles")
                svc = one(docs, "Service", f"{FULLNAMES[release]}-webhook")
                dep = workload(docs, "webhook")
                self.assertTrue(selects(svc["spec"]["selector"], dep["spec"]["template"]["metadata"]["labels"]))
                (port,) = svc["spec"]["ports"]
                self.assertEqual(port["port"], 443)
                cports = {p["name"]: p["containerPort"] for p in pod_spec(dep)["containers"][0]["ports"]}
                self.assertEqual(cports[port["targetPort"]], 8443)
                for h in hooks.values():
                    s = h["clientConfig"]["service"]
                    self.assertEqual((s["name"], s["namespace"], s["port"]), (svc["metadata"]["name"], ns, 443))
                    self.assertNotIn("url", h["clientConfig"])

    def test_safety_fields(self):
        for name, (values, _, _) in VALUE_SETS.items():
            wv = values.get("webhook", {})
            _, v = self.vwc(name)
            for h in v["webhooks"]:
                with self.subTest(values=name, webhook=h["name"]):
                    self.assertEqual(h["sideEffects"], "None")
                    self.assertEqual(h["admissionReviewVersions"], ["v1"])
                    self.assertEqual(h["matchPolicy"], "Equivalent")
                    self.assertEqual(h["failurePolicy"], wv.get("failurePolicy", "Fail"))
                    self.assertEqual(h["timeoutSeconds"], wv.get("timeoutSeconds", 5))
                    self.assertNotIn("objectSelector", h)

    @staticmethod
    def armed_rules(v):
        """The rules the controller gives each webhook: the annotation's."""
        return json.loads(v["metadata"]["annotations"]["profileguard.io/webhook-rules"])

    def test_not_live_before_the_controller_arms_it(self):
        # Installed with an image that cannot be pulled, nothing can ever answer: the rendered
        # configuration must match nothing, so no request is refused (failurePolicy Fail) or
        # delayed until the controller has seen the webhook answer and armed it.
        for name, (values, release, ns) in VALUE_SETS.items():
            with self.subTest(values=name):
                docs, v = self.vwc(name)
                for h in v["webhooks"]:
                    self.assertFalse(h.get("rules"), f"{h['name']}: rules are live before the webhook answers")
                    self.assertNotIn("objectSelector", h)
                rules = self.armed_rules(v)
                self.assertEqual(set(rules), {h["name"] for h in v["webhooks"]})
                for hook_rules in rules.values():
                    self.assertTrue(hook_rules)
                # The controller is told which configuration to arm, in both certificate modes,
                # and may read its Service's EndpointSlices.
                ctrl = pod_spec(workload(docs, "controller"))["containers"][0]
                self.assertEqual(flag(ctrl, "webhook-config-name"), v["metadata"]["name"])
                got = granted(docs, ns)["controller"]
                self.assertIn((ns, "discovery.k8s.io", "endpointslices", "list", None), got)
                for verb in ("get", "patch"):
                    self.assertIn(("cluster", "admissionregistration.k8s.io", "validatingwebhookconfigurations",
                                   verb, v["metadata"]["name"]), got)
                self.assertNotIn(("cluster", "admissionregistration.k8s.io", "validatingwebhookconfigurations",
                                  "create", None), got, "the configuration is the chart's, never the controller's")

    def test_upgrade_keeps_what_the_controller_armed(self):
        # Helm 3 upgrades with a three-way merge (previous manifest, new manifest, live object):
        # a field that neither manifest has is left as the live object has it. So an upgrade
        # keeps the armed rules (and the caBundle) only if the chart never renders them, even
        # when lookup shows the live, armed object.
        _, fresh = self.vwc("default")
        live = json.loads(json.dumps(fresh))
        rules = self.armed_rules(fresh)
        for h in live["webhooks"]:
            h["rules"] = rules[h["name"]]
            h["clientConfig"]["caBundle"] = "Q0EtMQ=="
        docs, _ = render({}, lookup=[live])
        for h in one(docs, "ValidatingWebhookConfiguration")["webhooks"]:
            self.assertNotIn("rules", h)
            self.assertEqual(h["clientConfig"]["caBundle"], "Q0EtMQ==")

    def test_rules(self):
        _, v = self.vwc("default")
        rules = self.armed_rules(v)
        hooks = {h["name"]: {"name": h["name"], "rules": rules[h["name"]]} for h in v["webhooks"]}

        def covered(hook):
            out = set()
            for r in hook["rules"]:
                for key in ("apiGroups", "apiVersions", "operations", "resources"):
                    self.assertNotIn("*", r[key], f"{hook['name']}: no wildcard in {key}")
                    self.assertNotIn("*/*", r[key])
                self.assertEqual(r.get("scope"), "Namespaced")
                for g in r["apiGroups"]:
                    for ver in r["apiVersions"]:
                        for res in r["resources"]:
                            for op in r["operations"]:
                                out.add((g, ver, res, op))
            return out

        pods = covered(hooks["pods.profileguard.io"])
        want = [("", "v1", "pods"), ("", "v1", "pods/ephemeralcontainers"),
                ("apps", "v1", "deployments"), ("apps", "v1", "replicasets"),
                ("apps", "v1", "statefulsets"), ("apps", "v1", "daemonsets"),
                ("batch", "v1", "jobs"), ("batch", "v1", "cronjobs")]
        for g, ver, res in want:
            for op in ("CREATE", "UPDATE"):
                self.assertIn((g, ver, res, op), pods)
        self.assertFalse({x for x in pods if x[3] not in ("CREATE", "UPDATE")}, "only CREATE and UPDATE")
        # The subresource is listed by name, not reached through a wildcard.
        self.assertIn("pods/ephemeralcontainers", hooks["pods.profileguard.io"]["rules"][0]["resources"])
        wp = covered(hooks["workloadprofiles.profileguard.io"])
        self.assertEqual(wp, {("profileguard.io", "v1alpha1", "workloadprofiles", op) for op in ("CREATE", "UPDATE")})

    def test_namespace_selector(self):
        for name, (values, _, ns) in VALUE_SETS.items():
            # kube-system is always left out with failurePolicy Fail, listed or not.
            excluded = set(values.get("excludedNamespaces", ["kube-system"])) | {ns, "kube-system"}
            _, v = self.vwc(name)
            for h in v["webhooks"]:
                with self.subTest(values=name, webhook=h["name"]):
                    sel = h["namespaceSelector"]
                    self.assertNotIn("matchLabels", sel)
                    exprs = {e["key"]: e for e in sel["matchExpressions"]}
                    self.assertEqual(len(exprs), 2)
                    by_name = exprs["kubernetes.io/metadata.name"]
                    self.assertEqual(by_name["operator"], "NotIn")
                    self.assertEqual(set(by_name["values"]), excluded)
                    self.assertIn("kube-system", by_name["values"])
                    self.assertIn(ns, by_name["values"])
                    ignore = exprs["profileguard.io/ignore"]
                    self.assertEqual((ignore["operator"], ignore["values"]), ("NotIn", ["true"]))

    def test_ca_bundle_generated_mode(self):
        docs, v = self.vwc("default")
        self.assertNotIn("cert-manager.io/inject-ca-from", v["metadata"]["annotations"])
        for h in v["webhooks"]:
            self.assertNotIn("caBundle", h["clientConfig"], "a fresh install leaves caBundle to the controller")
        ctrl = pod_spec(workload(docs, "controller"))["containers"][0]
        dep = pod_spec(workload(docs, "webhook"))
        secret = [vol for vol in dep["volumes"] if "secret" in vol][0]["secret"]["secretName"]
        self.assertEqual(flag(ctrl, "webhook-cert-secret"), secret)
        self.assertEqual(flag(ctrl, "webhook-config-name"), v["metadata"]["name"])
        self.assertEqual(flag(ctrl, "webhook-service"), v["webhooks"][0]["clientConfig"]["service"]["name"])
        self.assertEqual(flag(ctrl, "telemetry-service"), "profileguard-telemetry")
        self.assertFalse(of_kind(docs, "Certificate") + of_kind(docs, "Issuer"))

    def test_kube_system_only_removable_with_ignore(self):
        docs, v = render({"excludedNamespaces": ["monitoring"], "webhook": {"failurePolicy": "Ignore"}})
        v = one(docs, "ValidatingWebhookConfiguration")
        for h in v["webhooks"]:
            (by_name,) = [e for e in h["namespaceSelector"]["matchExpressions"]
                          if e["key"] == "kubernetes.io/metadata.name"]
            self.assertEqual(set(by_name["values"]), {"monitoring", "profileguard"})

    def test_ca_bundle_survives_upgrade(self):
        live = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": "profileguard"},
                "webhooks": [{"name": "pods.profileguard.io", "clientConfig": {"caBundle": "Q0EtMQ=="}},
                             {"name": "workloadprofiles.profileguard.io", "clientConfig": {}}]}
        # lookup returns the live object as the API server stores it: caBundle under clientConfig.
        docs, _ = render({}, lookup=[live])
        hooks = {h["name"]: h for h in one(docs, "ValidatingWebhookConfiguration")["webhooks"]}
        self.assertEqual(hooks["pods.profileguard.io"]["clientConfig"].get("caBundle"), "Q0EtMQ==")
        self.assertNotIn("caBundle", hooks["workloadprofiles.profileguard.io"]["clientConfig"])

    def test_cert_manager_mode(self):
        for name in ("cert-manager", "all-on", "issuer-ref"):
            with self.subTest(values=name):
                values, release, ns = VALUE_SETS[name]
                full = FULLNAMES[release]
                docs, v = self.vwc(name)
                ann = v["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
                cert_ns, cert_name = ann.split("/")
                self.assertEqual(cert_ns, ns)
                cert = one(docs, "Certificate", cert_name)
                self.assertEqual(cert["metadata"]["namespace"], ns)
                secret = [vol for vol in pod_spec(workload(docs, "webhook"))["volumes"] if "secret" in vol]
                self.assertEqual(cert["spec"]["secretName"], secret[0]["secret"]["secretName"])
                svc = f"{full}-webhook"
                for dns in (svc, f"{svc}.{ns}", f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.cluster.local"):
                    self.assertIn(dns, cert["spec"]["dnsNames"])
                self.assertIn(f"{full}-telemetry.{ns}.svc", cert["spec"]["dnsNames"])
                self.assertIn("server auth", cert["spec"]["usages"])
                for h in v["webhooks"]:
                    self.assertNotIn("caBundle", h["clientConfig"])
                ctrl = pod_spec(workload(docs, "controller"))["containers"][0]
                for f in ("webhook-cert-secret", "webhook-service", "telemetry-service"):
                    self.assertIsNone(flag(ctrl, f), f"--{f} only in the generated-certificate mode")
                # The controller arms the configuration in this mode too; the injector's
                # annotation stays the chart's.
                self.assertEqual(flag(ctrl, "webhook-config-name"), v["metadata"]["name"])
                issuers = {i["metadata"]["name"]: i for i in of_kind(docs, "Issuer")}
                ref = cert["spec"]["issuerRef"]
                if name == "issuer-ref":
                    self.assertEqual(issuers, {})
                    self.assertEqual(ref, values["certManager"]["issuerRef"])
                else:
                    ca_issuer = issuers[ref["name"]]
                    ca_cert = one(docs, "Certificate", f"{full}-ca")
                    self.assertTrue(ca_cert["spec"]["isCA"])
                    self.assertEqual(ca_issuer["spec"]["ca"]["secretName"], ca_cert["spec"]["secretName"])
                    self.assertEqual(issuers[ca_cert["spec"]["issuerRef"]["name"]]["spec"], {"selfSigned": {}})
                if name == "all-on":
                    self.assertEqual(cert["spec"]["ipAddresses"], ["10.96.0.50"])


# ---------------------------------------------------------------------------------------------
@needs_renderer
class WorkloadsTest(unittest.TestCase):
    def test_webhook_deployment(self):
        for name, (values, release, ns) in VALUE_SETS.items():
            with self.subTest(values=name):
                docs, _ = render_set(name)
                wv = values.get("webhook", {})
                d = workload(docs, "webhook")
                self.assertEqual(d["kind"], "Deployment")
                self.assertEqual(d["spec"]["replicas"], wv.get("replicaCount", 3))
                spec = pod_spec(d)
                self.assertEqual(spec["priorityClassName"], "system-cluster-critical")
                self.assertEqual(d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0)
                aff = spec["affinity"]["podAntiAffinity"]
                mode = wv.get("podAntiAffinity", "preferred")
                if mode == "required":
                    (term,) = aff["requiredDuringSchedulingIgnoredDuringExecution"]
                else:
                    (term,) = [t["podAffinityTerm"] for t in aff["preferredDuringSchedulingIgnoredDuringExecution"]]
                    self.assertNotIn("requiredDuringSchedulingIgnoredDuringExecution", aff)
                self.assertEqual(term["topologyKey"], "kubernetes.io/hostname")
                labels = d["spec"]["template"]["metadata"]["labels"]
                self.assertTrue(selects(term["labelSelector"]["matchLabels"], labels))
                (tsc,) = spec["topologySpreadConstraints"]
                self.assertEqual(tsc["topologyKey"], "topology.kubernetes.io/zone")
                self.assertTrue(selects(tsc["labelSelector"]["matchLabels"], labels))

                (c,) = spec["containers"]
                ports = {p["name"]: p["containerPort"] for p in c["ports"]}
                self.assertEqual(ports["https"], 8443)
                for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                    g = c[probe]["httpGet"]
                    self.assertEqual((g["path"], g["scheme"], ports[g["port"]]), (path, "HTTPS", 8443))
                self.assertTrue(c["resources"]["requests"] and c["resources"]["limits"])

                cmd, flags = parse_args(c)
                self.assertEqual(cmd, "webhook")
                self.assertEqual(flags["listen"], [":8443"])
                mounts = {m["name"]: m for m in c["volumeMounts"]}
                vols = {v["name"]: v for v in spec["volumes"]}
                (tls,) = [n for n, v in vols.items() if "secret" in v]
                self.assertTrue(mounts[tls]["readOnly"])
                self.assertNotIn("subPath", mounts[tls], "subPath would freeze the certificate")
                self.assertNotIn("subPathExpr", mounts[tls])
                for f in ("tls-cert", "tls-key"):
                    self.assertEqual(os.path.dirname(flags[f][0]), mounts[tls]["mountPath"])
                self.assertNotIn("optional", vols[tls]["secret"])
                self.assertEqual(flags["namespace"], [ns])
                pre = c["lifecycle"]["preStop"]["exec"]["command"]
                grace = spec["terminationGracePeriodSeconds"]
                self.assertLess(int(pre[1]) + int(flags["shutdown-timeout"][0]), grace)

    def test_pod_disruption_budgets(self):
        for name, (values, _, _) in VALUE_SETS.items():
            with self.subTest(values=name):
                docs, _ = render_set(name)
                for comp in ("webhook", "controller"):
                    d = workload(docs, comp)
                    pdbs = [p for p in of_kind(docs, "PodDisruptionBudget")
                            if selects(p["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"])]
                    self.assertEqual(len(pdbs), 1, comp)
                    self.assertEqual(pdbs[0]["apiVersion"], "policy/v1")
                    spec = pdbs[0]["spec"]
                    self.assertEqual(len({"minAvailable", "maxUnavailable"} & set(spec)), 1)
                    if comp == "webhook":
                        replicas = d["spec"]["replicas"]
                        allowed = replicas - spec["minAvailable"] if "minAvailable" in spec else spec["maxUnavailable"]
                        self.assertEqual(allowed, 1, "the webhook loses one replica at a time")
                        self.assertGreaterEqual(replicas - allowed, 2)

    def test_pdb_that_blocks_every_drain_is_refused(self):
        with self.assertRaisesRegex(RenderError, "minAvailable .* must be below replicaCount"):
            render({"webhook": {"replicaCount": 2}})

    def test_controller(self):
        for name, (values, release, ns) in VALUE_SETS.items():
            with self.subTest(values=name):
                docs, _ = render_set(name)
                full = FULLNAMES[release]
                d = workload(docs, "controller")
                self.assertEqual(d["spec"]["replicas"], 2)
                (c,) = pod_spec(d)["containers"]
                cmd, flags = parse_args(c)
                self.assertEqual(cmd, "controller")
                self.assertEqual(flags["leader-elect"], ["true"])
                self.assertEqual(flags["lease-name"], [f"{full}-controller"])
                self.assertEqual(flags["identity"], ["$(POD_NAME)"])
                self.assertIn("POD_NAME", {e["name"] for e in c["env"]})
                self.assertEqual(flags["namespace"], [ns])
                excluded = set(values.get("excludedNamespaces", ["kube-system"])) | {ns, "kube-system"}
                self.assertEqual(set(flags["ignore-namespaces"][0].split(",")), excluded)
                labels = d["spec"]["template"]["metadata"]["labels"]
                ports = {p["name"]: p["containerPort"] for p in c["ports"]}
                # the leader label is put on a running pod by the leader itself
                leader = dict(labels, **{"profileguard.io/leader": "true"})
                services = [s for s in of_kind(docs, "Service") if selects(s["spec"]["selector"], leader)]
                by_port = {p["name"]: p for s in services for p in s["spec"]["ports"]}
                self.assertIn("metrics", by_port)
                self.assertEqual(ports[by_port["metrics"]["targetPort"]], 8080)
                self.assertEqual(flags["metrics-addr"], [":8080"])
                for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                    g = c[probe]["httpGet"]
                    self.assertEqual((g["path"], g["port"]), (path, "metrics"))
                telemetry = values.get("telemetry", {}).get("enabled", True)
                if telemetry:
                    self.assertEqual(by_port["telemetry"]["port"], 9443)
                    self.assertEqual(ports[by_port["telemetry"]["targetPort"]], 9443)
                    self.assertEqual(flags["telemetry-listen"], [":9443"])
                    tls_dir = os.path.dirname(flags["telemetry-tls-cert"][0])
                    self.assertIn(tls_dir, {m["mountPath"] for m in c["volumeMounts"] if m["readOnly"]})
                    self.assertIsNotNone(one(docs, "Service", f"{full}-telemetry"))
                else:
                    self.assertNotIn("telemetry", by_port)
                    self.assertNotIn("telemetry", ports)
                    self.assertEqual(flags["telemetry-listen"], [""])
                    self.assertFalse([f for f in flags if f.startswith("telemetry-") and f != "telemetry-listen"])
                # SIGTERM is answered before the kubelet's SIGKILL.
                grace = pod_spec(d)["terminationGracePeriodSeconds"]
                self.assertLess(int(flags.get("shutdown-timeout", ["20"])[0]), grace)

    def test_controller_shutdown_below_grace_period(self):
        with self.assertRaisesRegex(RenderError, "shutdown-timeout .* must be below "
                                                 "controller.terminationGracePeriodSeconds"):
            render({"controller": {"terminationGracePeriodSeconds": 20}})
        with self.assertRaisesRegex(RenderError, "shutdown-timeout .* must be below"):
            render({"flags": {"controller": {"shutdown-timeout": 45}}})
        docs, _ = render({"flags": {"controller": {"shutdown-timeout": 40}},
                          "controller": {"terminationGracePeriodSeconds": 45}})
        self.assertEqual(flag(pod_spec(workload(docs, "controller"))["containers"][0],
                              "shutdown-timeout"), "40")

    def test_telemetry_allowed_users(self):
        docs, _ = render_set("all-on")
        c = pod_spec(workload(docs, "controller"))["containers"][0]
        flags = parse_args(c)[1]
        self.assertEqual(sorted(flags["telemetry-allowed-users"]), sorted([
            "system:serviceaccount:falco:falco",
            "system:serviceaccount:security:pg-profileguard-agent",
            "system:serviceaccount:kube-system:forwarder"]))
        self.assertEqual(flags["telemetry-client-ca"], ["/etc/profileguard/telemetry-client-ca/ca.crt"])
        docs, _ = render_set("default")
        flags = parse_args(pod_spec(workload(docs, "controller"))["containers"][0])[1]
        self.assertNotIn("telemetry-allowed-users", flags, "nobody is allowed by default")

    def test_agent_only_when_enabled(self):
        for name, (values, _, _) in VALUE_SETS.items():
            docs, _ = render_set(name)
            agents = of_kind(docs, "DaemonSet")
            self.assertEqual(len(agents), 1 if values.get("agent", {}).get("enabled") else 0, name)
        with self.assertRaisesRegex(RenderError, "agent.enabled needs telemetry.enabled"):
            render({"agent": {"enabled": True}, "telemetry": {"enabled": False}})

    def test_agent_talks_to_the_controller(self):
        docs, _ = render_set("agent")
        a = workload(docs, "agent")
        (c,) = pod_spec(a)["containers"]
        cmd, flags = parse_args(c)
        self.assertEqual(cmd, "agent")
        self.assertEqual(flags["controller-url"], ["https://profileguard-telemetry.profileguard.svc:9443"])
        self.assertEqual(flags["proc-root"], ["/host/proc"])
        self.assertEqual(flags["kubelet-pods-dir"], ["/var/lib/kubelet/pods"])
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        for f in ("token-file", "controller-ca"):
            self.assertIn(os.path.dirname(flags[f][0]), mounts)
        ctrl_flags = parse_args(pod_spec(workload(docs, "controller"))["containers"][0])[1]
        (proj,) = [v["projected"] for v in pod_spec(a)["volumes"] if "projected" in v]
        (tok,) = [s["serviceAccountToken"] for s in proj["sources"] if "serviceAccountToken" in s]
        self.assertEqual(tok["audience"], ctrl_flags["telemetry-audience"][0])
        self.assertEqual(os.path.basename(flags["token-file"][0]), tok["path"])
        self.assertGreaterEqual(tok["expirationSeconds"], 600)
        self.assertIn("system:serviceaccount:profileguard:profileguard-agent", ctrl_flags["telemetry-allowed-users"])

    def test_flags_are_known_and_well_formed(self):
        for name in VALUE_SETS:
            docs, _ = render_set(name)
            for comp in ("webhook", "controller", "agent"):
                found = [d for d in docs if d["kind"] in ("Deployment", "DaemonSet") and component_of(d) == comp]
                for d in found:
                    (c,) = pod_spec(d)["containers"]
                    cmd, flags = parse_args(c)
                    with self.subTest(values=name, component=comp):
                        self.assertEqual(cmd, comp)
                        self.assertEqual(sorted(set(flags) - KNOWN_FLAGS[comp]), [],
                                         "flags the binary does not take")
                        extra = {a[2:].split("=")[0] for a in
                                 (VALUE_SETS[name][0].get(comp) or {}).get("extraArgs", [])}
                        for f, vals in flags.items():
                            for v in vals:
                                self.assertNotRegex(v, r"^[0-9.]+e[+-][0-9]+$", f"--{f} printed as a float")
                            if f not in REPEATABLE_FLAGS and f not in extra:
                                self.assertEqual(len(vals), 1, f"--{f} given twice")
        docs, _ = render_set("ignore")
        flags = parse_args(pod_spec(workload(docs, "webhook"))["containers"][0])[1]
        self.assertEqual(flags["max-request-bytes"], ["4194304"])
        # identity.maxRisk is judged from IdentityReports, which the chart installs and grants
        self.assertEqual(flags["watch-identity-reports"], ["true"])
        docs, _ = render_set("all-on")
        c = pod_spec(workload(docs, "webhook"))["containers"][0]
        self.assertEqual(c["args"][-1], "--idle-timeout=30", "extraArgs come last, so they win")
        self.assertIn({"name": "PROFILEGUARD_THREADS", "value": "4"}, c["env"])
        self.assertEqual(flag(pod_spec(workload(docs, "controller"))["containers"][0], "dry-run"), "true")
        self.assertEqual(flag(pod_spec(workload(docs, "agent"))["containers"][0], "interval"), "500ms")

    def test_kube_api_pace(self):
        # The API client's QPS and burst: the binaries' defaults rendered for the webhook and
        # the controller, values passed through (a fractional rate as written), a null left
        # out, and never given to the agent, which does not talk to the API server.
        docs, _ = render_set("agent")
        for comp in ("webhook", "controller"):
            flags = parse_args(pod_spec(workload(docs, comp))["containers"][0])[1]
            self.assertEqual((flags["kube-api-qps"], flags["kube-api-burst"]), (["50"], ["100"]), comp)
        agent = parse_args(pod_spec(workload(docs, "agent"))["containers"][0])[1]
        self.assertFalse([f for f in agent if f.startswith("kube-api-")])
        docs, _ = render_set("all-on")
        ctrl = parse_args(pod_spec(workload(docs, "controller"))["containers"][0])[1]
        self.assertEqual((ctrl["kube-api-qps"], ctrl["kube-api-burst"]), (["200"], ["400"]))
        wh = parse_args(pod_spec(workload(docs, "webhook"))["containers"][0])[1]
        self.assertEqual(wh["kube-api-qps"], ["12.5"])
        self.assertNotIn("kube-api-burst", wh)

    def test_null_flag_is_left_out(self):
        docs, _ = render({"flags": {"webhook": {"max-connections": None}, "common": {"log-level": None}}})
        flags = parse_args(pod_spec(workload(docs, "webhook"))["containers"][0])[1]
        self.assertNotIn("max-connections", flags)
        self.assertNotIn("log-level", flags)
        self.assertEqual(flags["log-format"], ["json"])

    def test_images(self):
        docs, _ = render_set("default")
        for comp in ("webhook", "controller"):
            c = pod_spec(workload(docs, comp))["containers"][0]
            self.assertEqual(c["image"], "ghcr.io/profileguard/profileguard:0.1.0")
            self.assertEqual(c["imagePullPolicy"], "IfNotPresent")
        docs, _ = render_set("all-on")
        for comp in ("webhook", "controller", "agent"):
            spec = pod_spec(workload(docs, comp))
            self.assertEqual(spec["containers"][0]["image"], "ghcr.io/profileguard/profileguard@" + DIGEST)
            self.assertEqual(spec["imagePullSecrets"], [{"name": "regcred"}])

    def test_labels_namespaces_and_selectors(self):
        for name, (values, release, ns) in VALUE_SETS.items():
            docs, _ = render_set(name)
            names = set()
            for d in docs:
                md = d["metadata"]
                with self.subTest(values=name, kind=d["kind"], name=md["name"]):
                    key = (d["kind"], md.get("namespace"), md["name"])
                    self.assertNotIn(key, names, "duplicate object")
                    names.add(key)
                    for label in RECOMMENDED_LABELS:
                        self.assertIn(label, md.get("labels", {}))
                    self.assertEqual(md["labels"]["app.kubernetes.io/instance"], release)
                    self.assertEqual(md["labels"]["app.kubernetes.io/managed-by"], "Helm")
                    self.assertLessEqual(len(md["name"]), 63)
                    if d["kind"] in CLUSTER_SCOPED:
                        self.assertNotIn("namespace", md)
                    else:
                        self.assertEqual(md.get("namespace"), ns)
                    self.assertNotEqual(d["kind"], "Namespace", "the chart never creates or labels its namespace")
                    if d["kind"] in ("Deployment", "DaemonSet"):
                        sel = d["spec"]["selector"]["matchLabels"]
                        self.assertTrue(selects(sel, d["spec"]["template"]["metadata"]["labels"]))
                        self.assertEqual(sel["app.kubernetes.io/component"], component_of(d))
                        self.assertNotIn("app.kubernetes.io/version", sel, "selectors must survive upgrades")
            pods = [(component_of(w), w["spec"]["template"]["metadata"]["labels"])
                    for w in docs if w["kind"] in ("Deployment", "DaemonSet")]
            for s in of_kind(docs, "Service") + of_kind(docs, "PodDisruptionBudget"):
                sel = s["spec"]["selector"]
                sel = dict(sel.get("matchLabels", sel))
                # The telemetry Service selects the leader only: the label is set at run
                # time by the leader on its own pod, never in the template.
                if s["metadata"]["name"].endswith("telemetry"):
                    self.assertEqual(sel.pop("profileguard.io/leader", None), "true",
                                     f"{name}: the telemetry Service must select the leader")
                hit = [c for c, labels in pods if selects(sel, labels)]
                self.assertEqual(hit, [component_of(s)], f"{name}: {s['kind']} {s['metadata']['name']}")

    def test_notes(self):
        _, notes = render_set("default")
        # What an admin sees before the webhook answers, and how to check.
        self.assertIn("Nothing is judged, and nothing is refused, until the webhook answers", notes)
        self.assertIn("kubectl get validatingwebhookconfiguration profileguard", notes)
        self.assertIn("kubectl delete validatingwebhookconfiguration profileguard", notes)
        self.assertIn("profileguard.io/ignore=true", notes)
        _, notes = render_set("all-on")
        self.assertIn("pod-security.kubernetes.io/enforce=privileged", notes)
        self.assertIn("server: https://10.96.0.50:9443/telemetry/v1/audit", notes)
        self.assertIn("kind: Config", notes)
        self.assertIn("DRY RUN", notes)
        _, notes = render_set("cert-manager")
        self.assertNotIn("/telemetry/v1/audit", notes)


# ---------------------------------------------------------------------------------------------
def effective(spec, container, key):
    sc = container.get("securityContext", {})
    if key in sc:
        return sc[key]
    return spec.get("securityContext", {}).get(key)


@needs_renderer
class SecurityTest(unittest.TestCase):
    def test_restricted_everywhere_but_the_agent(self):
        for name in VALUE_SETS:
            docs, _ = render_set(name)
            for w in docs:
                if w["kind"] not in WORKLOAD_KINDS or component_of(w) == "agent":
                    continue
                spec = pod_spec(w)
                for c in containers(spec):
                    with self.subTest(values=name, workload=w["metadata"]["name"], container=c["name"]):
                        sc = c["securityContext"]
                        self.assertIs(effective(spec, c, "runAsNonRoot"), True)
                        uid, gid = effective(spec, c, "runAsUser"), effective(spec, c, "runAsGroup")
                        self.assertIsInstance(uid, int)
                        self.assertGreater(uid, 0)
                        self.assertGreater(gid, 0)
                        self.assertIs(sc["readOnlyRootFilesystem"], True)
                        self.assertIs(sc["allowPrivilegeEscalation"], False)
                        self.assertIn("ALL", sc["capabilities"]["drop"])
                        self.assertFalse(sc["capabilities"].get("add"))
                        self.assertIsNot(sc.get("privileged"), True)
                        seccomp = sc.get("seccompProfile") or spec["securityContext"].get("seccompProfile")
                        self.assertEqual(seccomp["type"], "RuntimeDefault")
                        for m in c.get("volumeMounts", []):
                            self.assertTrue(m.get("readOnly"), f"mount {m['name']} must be read-only")
                with self.subTest(values=name, workload=w["metadata"]["name"]):
                    for host in ("hostPID", "hostNetwork", "hostIPC"):
                        self.assertFalse(spec.get(host))
                    self.assertFalse([v for v in spec.get("volumes", []) if "hostPath" in v])
                    # Both talk to the API server, and say so explicitly.
                    self.assertIs(spec["automountServiceAccountToken"], True)

    def test_agent_exception_is_exactly_the_documented_one(self):
        for name in ("agent", "all-on"):
            values, _, _ = VALUE_SETS[name]
            docs, _ = render_set(name)
            a = workload(docs, "agent")
            spec = pod_spec(a)
            with self.subTest(values=name):
                self.assertEqual(a["kind"], "DaemonSet")
                self.assertIs(spec["hostPID"], True)
                self.assertFalse(spec.get("hostNetwork"))
                self.assertFalse(spec.get("hostIPC"))
                self.assertIs(spec["automountServiceAccountToken"], False, "the agent uses a projected token only")
                hostpaths = {v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
                self.assertEqual(hostpaths, {"/proc", "/var/lib/kubelet/pods"})
                for v in spec["volumes"]:
                    self.assertFalse({"secret", "configMap", "emptyDir", "persistentVolumeClaim"} & set(v),
                                     f"unexpected volume {v['name']}")
                (c,) = containers(spec)
                sc = c["securityContext"]
                self.assertEqual(effective(spec, c, "runAsUser"), 0)
                self.assertIs(sc["readOnlyRootFilesystem"], True)
                self.assertIs(sc["allowPrivilegeEscalation"], False)
                self.assertIsNot(sc.get("privileged"), True)
                self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
                self.assertEqual(sorted(sc["capabilities"]["add"]), ["DAC_READ_SEARCH", "SYS_PTRACE"])
                self.assertEqual(sc["seccompProfile"]["type"], "RuntimeDefault")
                for m in c["volumeMounts"]:
                    self.assertIs(m["readOnly"], True, m["name"])
                    self.assertIn(m.get("mountPropagation", "None"), ("None", "HostToContainer"))
                self.assertFalse([b for b in docs if b["kind"] in ("RoleBinding", "ClusterRoleBinding")
                                  and any(s["name"].endswith("-agent") for s in b["subjects"])],
                                 "the agent has no RBAC")

    def test_agent_exception_is_documented(self):
        with open(os.path.join(CHART, "values.yaml")) as f:
            values = f.read()
        with open(os.path.join(CHART, "templates", "agent-daemonset.yaml")) as f:
            tpl = f.read()
        for text in (values, tpl):
            for word in ("hostPID", "SYS_PTRACE", "DAC_READ_SEARCH", "read-only"):
                self.assertIn(word, text)

    def test_secret_volumes_are_not_world_readable(self):
        docs, _ = render_set("all-on")
        for comp in ("webhook", "controller"):
            spec = pod_spec(workload(docs, comp))
            for v in spec.get("volumes", []):
                if "secret" in v and "tls" in v["name"]:
                    self.assertEqual(v["secret"]["defaultMode"] & 0o007, 0, v["name"])
                    self.assertEqual(spec["securityContext"]["fsGroup"], effective(spec, spec["containers"][0], "runAsGroup"))


# ---------------------------------------------------------------------------------------------
@needs_renderer
class SchemaTest(unittest.TestCase):
    BAD = [
        ({"webhook": {"failurePolicy": "Sometimes"}}, "webhook.failurePolicy"),
        ({"webhook": {"timeoutSeconds": 31}}, "webhook.timeoutSeconds"),
        ({"webhook": {"timeoutSeconds": 0}}, "webhook.timeoutSeconds"),
        ({"webhook": {"replicas": 3}}, "additional property replicas"),
        ({"webhook": {"replicaCount": "three"}}, "webhook.replicaCount"),
        ({"webhook": {"podAntiAffinity": "soft"}}, "webhook.podAntiAffinity"),
        ({"flags": {"webhook": {"max-request-byte": 1}}}, "additional property max-request-byte"),
        ({"flags": {"common": {"log-level": "verbose"}}}, "flags.common.log-level"),
        ({"flags": {"controller": {"resync-period": "ten minutes"}}}, "flags.controller.resync-period"),
        ({"flags": {"controller": {"kube-api-qps": 0}}}, "flags.controller.kube-api-qps"),
        ({"flags": {"webhook": {"kube-api-qps": -1}}}, "flags.webhook.kube-api-qps"),
        ({"flags": {"controller": {"kube-api-qps": "fast"}}}, "flags.controller.kube-api-qps"),
        ({"flags": {"controller": {"kube-api-burst": 0}}}, "flags.controller.kube-api-burst"),
        ({"flags": {"webhook": {"kube-api-burst": 1.5}}}, "flags.webhook.kube-api-burst"),
        ({"flags": {"agent": {"kube-api-qps": 10}}}, "additional property kube-api-qps"),
        ({"image": {"digest": "latest"}}, "image.digest"),
        ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy"),
        ({"excludedNamespaces": ["Kube_System"]}, "excludedNamespaces.0"),
        ({"agent": {"tokenExpirationSeconds": 60}}, "agent.tokenExpirationSeconds"),
        ({"certManager": {"issuerRef": {"kind": "Issuer"}}}, "certManager.issuerRef"),
        ({"telemetry": {"allowedUsers": ["a", "a"]}}, "telemetry.allowedUsers"),
        ({"webhook": {"podLabels": {"tier": 1}}}, "webhook.podLabels.tier"),
        ({"webhook": {"extraArgs": ["idle-timeout=3"]}}, "webhook.extraArgs.0"),
        ({"unknownTopLevel": True}, "additional property unknownTopLevel"),
    ]

    def test_defaults_pass(self):
        render({})

    def test_bad_values_are_refused(self):
        for values, where in self.BAD:
            with self.subTest(values=values):
                with self.assertRaises(RenderError) as cm:
                    render(values)
                self.assertIn("schema", str(cm.exception))
                self.assertIn(where, str(cm.exception))

    def test_schema_is_strict(self):
        with open(os.path.join(CHART, "values.schema.json")) as f:
            schema = json.load(f)
        self.assertEqual(schema["$schema"], "http://json-schema.org/draft-07/schema#")
        loose = []

        def walk(s, at):
            if isinstance(s, dict):
                if "properties" in s and s.get("additionalProperties") is not False:
                    loose.append(at)
                for k, v in s.items():
                    walk(v, f"{at}/{k}")
            elif isinstance(s, list):
                for i, v in enumerate(s):
                    walk(v, f"{at}/{i}")
        walk(schema, "#")
        # The one open object: an env var entry, which takes value or valueFrom.
        self.assertEqual(loose, ["#/definitions/envList/items"])

    def test_values_yaml_is_commented(self):
        with open(os.path.join(CHART, "values.yaml")) as f:
            lines = f.read().splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^([A-Za-z][A-Za-z0-9]*):", line)
            if m:
                above = lines[i - 1] if i else ""
                self.assertTrue(above.startswith("#"), f"top-level key {m.group(1)} has no comment above it")

    def test_checker_refuses_keywords_it_does_not_know(self):
        with tempfile.TemporaryDirectory() as tmp:
            chart = os.path.join(tmp, "profileguard")
            os.mkdir(chart)
            for fn in ("Chart.yaml", "values.yaml"):
                with open(os.path.join(CHART, fn)) as src, open(os.path.join(chart, fn), "w") as dst:
                    dst.write(src.read())
            os.mkdir(os.path.join(chart, "templates"))
            with open(os.path.join(chart, "values.schema.json"), "w") as f:
                json.dump({"type": "object", "patternProperties": {".*": {"type": "string"}}}, f)
            with self.assertRaisesRegex(RenderError, "unsupported schema keyword \"patternProperties\""):
                render({}, chart=chart)


if __name__ == "__main__":
    unittest.main(verbosity=2)
