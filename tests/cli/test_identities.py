#!/usr/bin/env python3
"""CLI tests of `profileguard identities`: the offline identity inventory on
real install manifests (ingress-nginx's rendered chart, prometheus-operator's
RBAC bundle: tests/data/identities, with their source and licence) and on
manifests written here.  Each identity's JSON is checked against the
IdentityReport CRD's status schema with the API stand-in's validator, the
one the stand-in applies to every custom resource (docs/identities.md)."""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("PROFILEGUARD", "build/src/cmd/profileguard")
WRAPPER = os.environ.get("PG_TEST_WRAPPER", "").split()
ROOT = os.path.abspath(os.environ.get("SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..")))
DATA = os.path.join(ROOT, "tests", "data", "identities")
sys.path.insert(0, os.path.join(ROOT, "tests", "standin"))
import kube_standin  # noqa: E402  (the CRD schema validator)


def run(*args, stdin=None):
    p = subprocess.run([*WRAPPER, os.path.abspath(BIN) if os.path.exists(BIN) else BIN, "identities", *args],
                       capture_output=True, text=True, input=stdin, timeout=600 if WRAPPER else 60)
    return p.returncode, p.stdout, p.stderr


def run_json(*args, rc=0):
    code, out, err = run("-o", "json", *args)
    if code != rc:
        raise AssertionError("exit %d, want %d\n%s%s" % (code, rc, out, err))
    return json.loads(out), err


def by_name(doc):
    return {"%s/%s" % (i["namespace"], i["name"]): i for i in doc["identities"]}


def rules_of(ident):
    return [(f["rule"], f["grant"], f["via"]) for f in ident["risk"]["findings"]]


class IngressNginx(unittest.TestCase):
    """kubernetes/ingress-nginx deploy/static/provider/cloud/deploy.yaml (the chart rendered)."""
    FILE = os.path.join(DATA, "ingress-nginx", "deploy.yaml")

    def test_inventory(self):
        doc, err = run_json("-f", self.FILE)
        self.assertEqual(err, "")
        ids = by_name(doc)
        self.assertEqual(sorted(ids), ["ingress-nginx/ingress-nginx", "ingress-nginx/ingress-nginx-admission"])
        ctl = ids["ingress-nginx/ingress-nginx"]
        self.assertEqual(ctl["state"], "Active")
        self.assertEqual(ctl["pods"], 0)            # manifests hold templates, not pods
        self.assertEqual(ctl["workloads"], ["apps/Deployment/ingress-nginx-controller"])
        # the account says automount: true, the template says nothing: one bound token
        self.assertEqual(ctl["tokens"], {"bound": 1, "legacySecrets": 0, "extended": 0, "automount": True})
        self.assertTrue(ctl["defined"])
        # its Role reads the namespace's Secrets, its ClusterRole every namespace's
        self.assertEqual(ctl["risk"]["level"], "Critical")
        self.assertEqual(rules_of(ctl), [
            ("read-secrets", "list,watch secrets cluster-wide",
             "ClusterRoleBinding ingress-nginx -> ClusterRole ingress-nginx"),
            ("read-secrets", "get,list,watch secrets in ingress-nginx",
             "RoleBinding ingress-nginx/ingress-nginx -> Role ingress-nginx/ingress-nginx"),
        ])
        adm = ids["ingress-nginx/ingress-nginx-admission"]
        self.assertEqual(adm["workloads"], ["batch/Job/ingress-nginx-admission-create",
                                            "batch/Job/ingress-nginx-admission-patch"])
        self.assertEqual(adm["tokens"]["bound"], 2)
        self.assertEqual(rules_of(adm), [
            ("read-secrets", "get secrets in ingress-nginx",
             "RoleBinding ingress-nginx/ingress-nginx-admission -> Role ingress-nginx/ingress-nginx-admission"),
            ("control-webhooks", "update validatingwebhookconfigurations.admissionregistration.k8s.io cluster-wide",
             "ClusterRoleBinding ingress-nginx-admission -> ClusterRole ingress-nginx-admission"),
        ])
        self.assertEqual(doc["summary"], {"identities": 2, "failing": 0, "byRisk": {
            "Critical": 2, "High": 0, "Medium": 0, "Low": 0, "None": 0}})

    def test_fail_on(self):
        doc, _ = run_json("-f", self.FILE, "--fail-on", "Critical", rc=1)
        self.assertEqual(doc["summary"]["failing"], 2)
        self.assertEqual(doc["summary"]["failOn"], "Critical")
        code, out, err = run("-f", self.FILE, "--fail-on", "High")
        self.assertEqual(code, 1, out + err)
        self.assertIn("2 at or above High", out)

    def test_text(self):
        code, out, err = run("-f", self.FILE)
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "ingress-nginx/ingress-nginx: Critical (pods 0, workloads 1)")
        self.assertIn("  workload: apps/Deployment/ingress-nginx-controller", lines)
        self.assertIn("  read-secrets (Critical): get,list,watch secrets in ingress-nginx via "
                      "RoleBinding ingress-nginx/ingress-nginx -> Role ingress-nginx/ingress-nginx", lines)
        self.assertEqual(lines[-1], "2 identities: Critical 2, High 0, Medium 0, Low 0, None 0")


class PrometheusOperator(unittest.TestCase):
    """prometheus-operator/prometheus-operator example/rbac: the operator's install bundle."""
    DIR = os.path.join(DATA, "prometheus-operator")

    def test_inventory(self):
        doc, err = run_json("-f", self.DIR)
        self.assertEqual(err, "")
        ids = by_name(doc)
        self.assertEqual(list(ids), ["default/prometheus-operator"])
        op = ids["default/prometheus-operator"]
        # the account turns automount off, the pod template turns it back on
        self.assertEqual(op["tokens"], {"bound": 1, "legacySecrets": 0, "extended": 0, "automount": False})
        rules = [r for r, _, _ in rules_of(op)]
        self.assertEqual(op["risk"]["level"], "Critical")
        self.assertEqual(rules[0], "read-secrets")
        self.assertIn(("read-secrets", "* secrets cluster-wide",
                       "ClusterRoleBinding prometheus-operator -> ClusterRole prometheus-operator"), rules_of(op))
        self.assertIn(("create-workloads", "* statefulsets.apps cluster-wide",
                       "ClusterRoleBinding prometheus-operator -> ClusterRole prometheus-operator"), rules_of(op))
        # severity order: Critical, then High, then Medium
        sev = [f["severity"] for f in op["risk"]["findings"]]
        order = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3}
        self.assertEqual(sev, sorted(sev, key=order.get))
        self.assertIn("wildcard", rules)
        self.assertIn("delete-broadly", rules)
        self.assertNotIn("cluster-admin", rules)


class Written(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pgids-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, text):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_aggregation_templates_and_namespaces(self):
        """An aggregated ClusterRole holds what its selectors pick (offline, as the API server
        fills it); a template naming an undefined account still gets an entry; -n places
        manifests without a namespace."""
        p = self.write("m.yaml", """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: agg}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {example.com/agg: "true"}}]
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]   # replaced, as the API server does
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: part, labels: {example.com/agg: "true"}}
rules: [{apiGroups: [""], resources: [pods/exec], verbs: [create]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: use-agg}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: agg}
subjects: [{kind: ServiceAccount, name: app}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {serviceAccountName: app, automountServiceAccountToken: false, containers: [{name: c, image: i}]}
""")
        doc, err = run_json("-f", p, "-n", "shop")
        self.assertEqual(err, "")
        app = by_name(doc)["shop/app"]
        self.assertFalse(app["defined"])
        self.assertEqual(app["workloads"], ["apps/Deployment/web"])
        self.assertEqual(app["tokens"]["bound"], 0)
        self.assertEqual(rules_of(app), [("exec-into-pods", "create pods/exec in shop",
                                          "RoleBinding shop/use-agg -> ClusterRole agg")])
        self.assertEqual(app["risk"]["level"], "High")

    def test_groups_users_and_legacy_tokens(self):
        """Grants through system:serviceaccounts:NS and the account's user name reach it; a
        legacy token Secret is counted, and its data is never read out."""
        p = self.write("m.yaml", """
apiVersion: v1
kind: ServiceAccount
metadata: {name: bot, namespace: ops}
---
apiVersion: v1
kind: Secret
type: kubernetes.io/service-account-token
metadata: {name: bot-token, namespace: ops, annotations: {kubernetes.io/service-account.name: bot}}
data: {token: U0VDUkVULURBVEEtTkVWRVItU0hPV04=}
stringData: {note: SECRET-DATA-NEVER-SHOWN}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: viewer}
rules: [{apiGroups: [""], resources: [services], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: all-sa-in-ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: viewer}
subjects: [{kind: Group, name: "system:serviceaccounts:ops"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: binder}
rules: [{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: as-user, namespace: ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: binder}
subjects: [{kind: User, name: "system:serviceaccount:ops:bot"}]
""")
        code, out, err = run("-o", "json", "-f", p)
        self.assertEqual(code, 0, out + err)
        self.assertNotIn("SECRET-DATA", out + err)
        self.assertNotIn("U0VDUkVU", out + err)
        bot = by_name(json.loads(out))["ops/bot"]
        self.assertEqual(bot["tokens"]["legacySecrets"], 1)
        self.assertEqual(bot["state"], "Unknown")        # nothing runs as it
        self.assertEqual(rules_of(bot), [("escalate-or-bind", "bind clusterroles.rbac.authorization.k8s.io in ops",
                                          "RoleBinding ops/as-user -> ClusterRole binder")])
        # without the binder binding only read-only grants remain: Low
        with open(p) as f:
            head = f.read().split("---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: binder}")[0]
        p2 = self.write("m2.yaml", head)
        doc, _ = run_json("-f", p2)
        bot = by_name(doc)["ops/bot"]
        self.assertEqual(bot["risk"]["level"], "Low")
        self.assertEqual(rules_of(bot), [("read-only", "get,list only",
                                          "ClusterRoleBinding all-sa-in-ops -> ClusterRole viewer "
                                          "(as system:serviceaccounts:ops)")])

    def test_audit_last_used(self):
        """Captured audit events give each account the UTC day of its last successful call; a
        refused call (403) is no use."""
        m = self.write("m.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: api, namespace: pay}\n"
                       "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: idle, namespace: pay}\n")
        ev = []
        for user, code, when in (("system:serviceaccount:pay:api", 200, "2026-12-01T23:59:59Z"),
                                 ("system:serviceaccount:pay:api", 200, "2026-11-20T10:00:00Z"),
                                 ("system:serviceaccount:pay:idle", 403, "2026-12-05T10:00:00Z")):
            ev.append(json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                                  "auditID": "a-%d" % len(ev), "stage": "ResponseComplete", "verb": "get",
                                  "requestURI": "/api/v1/namespaces/pay/configmaps/x",
                                  "user": {"username": user}, "sourceIPs": ["10.0.0.1"],
                                  "objectRef": {"resource": "configmaps", "namespace": "pay", "name": "x",
                                                "apiVersion": "v1"},
                                  "responseStatus": {"metadata": {}, "code": code},
                                  "requestReceivedTimestamp": when, "stageTimestamp": when}))
        a = self.write("audit.log", "\n".join(ev) + "\n")
        doc, err = run_json("-f", m, "-f", a)
        self.assertEqual(err, "")
        ids = by_name(doc)
        self.assertEqual(ids["pay/api"]["lastUsed"], "2026-12-01")
        self.assertNotIn("lastUsed", ids["pay/idle"])

    def test_bad_input_is_exit_2_with_the_field(self):
        p = self.write("bad.yaml", """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: x}
rules: [{apiGroups: [""], resources: [secrets], verbs: get}]
""")
        code, out, err = run("-f", p)
        self.assertEqual(code, 2, out + err)
        self.assertIn("bad.yaml: document 1: Role: rules[0].verbs: must be a list of strings", err)
        for args, msg in ((("--fail-on", "Severe", "-f", p), "--fail-on"),
                          (("--fail-on", "None", "-f", p), "--fail-on must be Low, Medium, High or Critical"),
                          ((), "need -f MANIFESTS"),
                          (("-f", p, "-n", "Bad_NS"), "is not a namespace name")):
            code, out, err = run(*args)
            self.assertEqual(code, 2, args)
            self.assertIn(msg, err, args)

    def test_cap_on_rules_is_a_refusal(self):
        rules = ",".join('{"verbs":["get"],"apiGroups":[""],"resources":["pods"]}' for _ in range(1025))
        p = self.write("big.json", '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",'
                       '"metadata":{"name":"big"},"rules":[%s]}' % rules)
        code, out, err = run("-f", p)
        self.assertEqual(code, 2, out + err)
        self.assertIn("rules: more than 1024 rules (profileguard's limit)", err)


class Schema(unittest.TestCase):
    """Every identity the CLI writes is a valid IdentityReport status: the controller writes the
    same fields (engine/idreport.c), so a report the API server would refuse fails here first."""

    def test_statuses_validate(self):
        crd = yaml_file_to_json(os.path.join(ROOT, "crds", "identityreport.yaml"))
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        for src in (os.path.join(DATA, "ingress-nginx", "deploy.yaml"), os.path.join(DATA, "prometheus-operator")):
            doc, _ = run_json("-f", src)
            for ident in doc["identities"]:
                st = copy.deepcopy(ident)
                for k in ("namespace", "name", "defined"):
                    del st[k]
                errs, unknown = [], []
                kube_standin._schema_walk(schema, st, "status", errs, unknown)
                self.assertEqual((errs, unknown), ([], []), ident["name"])


def yaml_file_to_json(path):
    """A YAML file as JSON, read by the project's own YAML reader (src/base/doc.c, built as
    tests/yaml2json): Python's standard library has no YAML."""
    tool = os.environ.get("YAML2JSON", "build/tests/yaml2json")
    return json.loads(subprocess.run([tool, path], check=True, capture_output=True, timeout=60).stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
