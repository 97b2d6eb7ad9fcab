#!/usr/bin/env python3
"""CLI tests of `profileguard rbac`: least privilege from audit events.  The
events are written here in the shape the API server's audit backend writes
(audit.k8s.io/v1 Event, JSON lines or an EventList).  The YAML is read back
with the project's YAML reader (tests/yaml2json) and fed back to `profileguard
rbac` as RBAC manifests: its own Role and binding parser (src/model/rbac.c)
must take every object, and the roles must grant exactly what was used
(nothing granted but unused).  The diff runs against ingress-nginx's rendered
chart (tests/data/identities, with its source and licence)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("PROFILEGUARD", "build/src/cmd/profileguard")
WRAPPER = os.environ.get("PG_TEST_WRAPPER", "").split()
ROOT = os.path.abspath(os.environ.get("SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..")))
YAML2JSON = os.environ.get("YAML2JSON", "build/tests/yaml2json")
INGRESS = os.path.join(ROOT, "tests", "data", "identities", "ingress-nginx", "deploy.yaml")
RBAC_GROUP = "rbac.authorization.k8s.io"


def run(*args):
    p = subprocess.run([*WRAPPER, os.path.abspath(BIN) if os.path.exists(BIN) else BIN, "rbac", *args],
                       capture_output=True, text=True, timeout=600 if WRAPPER else 120)
    return p.returncode, p.stdout, p.stderr


_ids = iter(range(1, 10 ** 9))


def event(sa, verb, resource=None, namespace=None, name=None, group="", sub=None, code=200,
          t="2026-12-01T10:00:00Z", uri=None, stage="ResponseComplete"):
    """One audit.k8s.io/v1 Event as the API server writes it at level Metadata."""
    ev = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
          "auditID": "00000000-0000-0000-0000-%012d" % next(_ids), "stage": stage,
          "verb": verb,
          "user": {"username": "system:serviceaccount:" + sa,
                   "groups": ["system:serviceaccounts", "system:serviceaccounts:" + sa.split(":")[0],
                              "system:authenticated"]},
          "sourceIPs": ["10.244.1.7"], "userAgent": "test/1.0",
          "responseStatus": {"metadata": {}, "code": code},
          "requestReceivedTimestamp": t, "stageTimestamp": t}
    if resource is not None:
        ref = {"resource": resource, "apiVersion": "v1"}
        if group:
            ref["apiGroup"] = group
        if namespace:
            ref["namespace"] = namespace
        if name:
            ref["name"] = name
        if sub:
            ref["subresource"] = sub
        ev["objectRef"] = ref
        path = "/api/v1" if not group else "/apis/%s/v1" % group
        if namespace:
            path += "/namespaces/" + namespace
        path += "/" + resource + ("/" + name if name else "") + ("/" + sub if sub else "")
        ev["requestURI"] = uri or path
    else:
        ev["requestURI"] = uri
    return ev


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pg-rbac-")
        self.addCleanup(shutil.rmtree, self.dir)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def events(self, evs, name="audit.log", eventlist=False):
        if eventlist:
            return self.write(name, json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
                                                "metadata": {}, "items": evs}))
        return self.write(name, "".join(json.dumps(e) + "\n" for e in evs))

    def ok(self, *args):
        rc, out, err = run(*args)
        self.assertEqual(rc, 0, err)
        return out

    def json(self, *args):
        return json.loads(self.ok("-o", "json", *args))

    def objects(self, yaml_text):
        """The YAML read back by the project's reader, one object per document."""
        path = self.write("out.yaml", yaml_text)
        p = subprocess.run([YAML2JSON, path], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip() not in ("", "null")]

    def assertRoundTrip(self, audit, yaml_text):
        """The generated objects, given back as manifests with the same events: every object
        is read by the Role and binding parser, and nothing they grant is unused."""
        back = self.write("back.yaml", yaml_text)
        doc = self.json("-f", audit, "-f", back)
        for sa in doc["serviceAccounts"]:
            self.assertEqual(sa["grantedButUnused"], [], sa["name"])
        return doc


def sa_of(doc, ns, name):
    for sa in doc["serviceAccounts"]:
        if (sa["namespace"], sa["name"]) == (ns, name):
            return sa
    raise AssertionError("no %s:%s in %s" % (ns, name, [(s["namespace"], s["name"]) for s in doc["serviceAccounts"]]))


def rules_of(sa):
    """{(kind, namespace): [(groups, resources, names, verbs, urls)]}"""
    out = {}
    for r in sa["roles"]:
        out[(r["kind"], r.get("namespace"))] = [
            (tuple(x.get("apiGroups", ())), tuple(x.get("resources", ())), tuple(x.get("resourceNames", ())),
             tuple(x["verbs"]), tuple(x.get("nonResourceURLs", ()))) for x in r["rules"]]
    return out


EXPECTED_YAML = """\
# profileguard rbac: ServiceAccounts: 1, calls: 7
# ServiceAccount shop:web: calls: 6 authorized, 1 refused (403), 0 neither
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: profileguard-shop.web
  namespace: shared
  labels:
    app.kubernetes.io/managed-by: profileguard
rules:
  # get secrets [tls]: 1 call, first seen 2026-12-01T10:03:00Z, last seen 2026-12-01T10:03:00Z
  - apiGroups:
      - ""
    resources:
      - secrets
    resourceNames:
      - tls
    verbs:
      - get
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: profileguard-shop.web
  namespace: shared
  labels:
    app.kubernetes.io/managed-by: profileguard
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: profileguard-shop.web
subjects:
  - kind: ServiceAccount
    name: web
    namespace: shop
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: profileguard-shop.web
  namespace: shop
  labels:
    app.kubernetes.io/managed-by: profileguard
rules:
  # get configmaps [web-config]: 2 calls, first seen 2026-12-01T10:00:00Z, last seen 2026-12-01T11:00:00Z
  - apiGroups:
      - ""
    resources:
      - configmaps
    resourceNames:
      - web-config
    verbs:
      - get
  # list pods: 1 call, first seen 2026-12-01T10:01:00Z, last seen 2026-12-01T10:01:00Z
  - apiGroups:
      - ""
    resources:
      - pods
    verbs:
      - list
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: profileguard-shop.web
  namespace: shop
  labels:
    app.kubernetes.io/managed-by: profileguard
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: profileguard-shop.web
subjects:
  - kind: ServiceAccount
    name: web
    namespace: shop
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: profileguard-shop.web
  labels:
    app.kubernetes.io/managed-by: profileguard
rules:
  # get nodes [node-a]: 1 call, first seen 2026-12-01T10:04:00Z, last seen 2026-12-01T10:04:00Z
  - apiGroups:
      - ""
    resources:
      - nodes
    resourceNames:
      - node-a
    verbs:
      - get
  # get /healthz: 1 call, first seen 2026-12-01T10:05:00Z, last seen 2026-12-01T10:05:00Z
  - nonResourceURLs:
      - /healthz
    verbs:
      - get
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: profileguard-shop.web
  labels:
    app.kubernetes.io/managed-by: profileguard
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: profileguard-shop.web
subjects:
  - kind: ServiceAccount
    name: web
    namespace: shop
# used but refused (403): 1
#   list secrets in shop: 1 call, first seen 2026-12-01T10:06:00Z, last seen 2026-12-01T10:06:00Z
"""


class Generate(Base):
    EVENTS = [
        event("shop:web", "get", "configmaps", "shop", "web-config", t="2026-12-01T11:00:00Z"),
        event("shop:web", "get", "configmaps", "shop", "web-config", t="2026-12-01T10:00:00Z"),
        event("shop:web", "list", "pods", "shop", t="2026-12-01T10:01:00Z"),
        event("shop:web", "get", "secrets", "shared", "tls", t="2026-12-01T10:03:00Z"),
        event("shop:web", "get", "nodes", None, "node-a", t="2026-12-01T10:04:00Z"),
        event("shop:web", "get", uri="/healthz?verbose=1", t="2026-12-01T10:05:00Z"),
        event("shop:web", "list", "secrets", "shop", code=403, t="2026-12-01T10:06:00Z"),
        # not the last stage: the API server writes ResponseComplete after it
        event("shop:web", "get", "configmaps", "shop", "other", stage="RequestReceived"),
    ]

    def test_exact_yaml(self):
        audit = self.events(self.EVENTS)
        out = self.ok("-f", audit)
        want = EXPECTED_YAML.replace("  # list pods: 1 call", "  # list pods: 1 call")
        self.assertEqual(out, want)
        objs = self.objects(out)
        self.assertEqual([(o["kind"], o["metadata"].get("namespace")) for o in objs],
                         [("Role", "shared"), ("RoleBinding", "shared"), ("Role", "shop"), ("RoleBinding", "shop"),
                          ("ClusterRole", None), ("ClusterRoleBinding", None)])
        for o in objs:
            self.assertEqual(o["apiVersion"], RBAC_GROUP + "/v1")
            if o["kind"].endswith("Binding"):
                self.assertEqual(o["roleRef"], {"apiGroup": RBAC_GROUP, "kind": o["kind"][:-len("Binding")],
                                                "name": "profileguard-shop.web"})
                self.assertEqual(o["subjects"], [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}])
        self.assertRoundTrip(audit, out)

    def test_eventlist_same_as_lines(self):
        a = self.ok("-f", self.events(self.EVENTS))
        b = self.ok("-f", self.events(self.EVENTS, "list.json", eventlist=True))
        self.assertEqual(a, b)

    def test_json_carries_the_comments_facts(self):
        doc = self.json("-f", self.events(self.EVENTS))
        sa = sa_of(doc, "shop", "web")
        self.assertEqual((sa["authorizedCalls"], sa["refusedCalls"], sa["otherCalls"]), (6, 1, 0))
        role = [r for r in sa["roles"] if r.get("namespace") == "shop"][0]
        self.assertEqual(role["rules"][0], {
            "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["web-config"], "verbs": ["get"],
            "calls": 2, "firstSeen": "2026-12-01T10:00:00Z", "lastSeen": "2026-12-01T11:00:00Z",
            "resourceNamesDropped": False})
        self.assertEqual(sa["usedButRefused"], [{
            "verb": "list", "apiGroup": "", "resource": "secrets", "namespace": "shop", "calls": 1,
            "firstSeen": "2026-12-01T10:06:00Z", "lastSeen": "2026-12-01T10:06:00Z"}])
        self.assertNotIn("grantedButUnused", sa)        # no RBAC manifests given
        self.assertEqual(doc["summary"], {"serviceAccounts": 1, "calls": 7, "rbacManifests": False})

    def test_text(self):
        out = self.ok("-o", "text", "-f", self.events(self.EVENTS))
        self.assertIn("shop:web: calls: 6 authorized, 1 refused (403), 0 neither\n", out)
        self.assertIn("  Role shop/profileguard-shop.web (RoleBinding shop/profileguard-shop.web)\n"
                      "    get configmaps [web-config]: 2 calls, first seen 2026-12-01T10:00:00Z, "
                      "last seen 2026-12-01T11:00:00Z\n", out)
        self.assertIn("  used but refused: list secrets in shop: 1 call", out)

    def test_resource_names_kept_and_dropped(self):
        evs = [event("a:x", "get", "configmaps", "a", "c1"), event("a:x", "get", "configmaps", "a", "c2"),
               event("a:x", "update", "configmaps", "a", "c1"),
               event("a:x", "get", "secrets", "a", "s1"), event("a:x", "get", "secrets", "a"),  # no name
               event("a:x", "create", "events", "a"), event("a:x", "watch", "leases", "a", group="coordination.k8s.io")]
        audit = self.events(evs)
        rules = rules_of(sa_of(self.json("-f", audit), "a", "x"))[("Role", "a")]
        self.assertEqual(rules, [
            (("",), ("configmaps",), ("c1",), ("update",), ()),
            (("",), ("configmaps",), ("c1", "c2"), ("get",), ()),
            (("",), ("events",), (), ("create",), ()),
            (("",), ("secrets",), (), ("get",), ()),
            (("coordination.k8s.io",), ("leases",), (), ("watch",), ()),
        ])
        self.assertRoundTrip(audit, self.ok("-f", audit))

    def test_names_cap_at_and_past(self):
        for n, kept in ((64, True), (65, False)):
            evs = [event("a:x", "get", "configmaps", "a", "cm-%03d" % i) for i in range(n)]
            audit = self.events(evs, "cap%d.log" % n)
            out = self.ok("-f", audit)
            rule = sa_of(self.json("-f", audit), "a", "x")["roles"][0]["rules"][0]
            self.assertEqual(len(rule.get("resourceNames", [])), n if kept else 0)
            self.assertEqual(rule["resourceNamesDropped"], not kept)
            self.assertEqual("resourceNames dropped: the calls named more than 64 objects" in out, not kept)
            self.assertRoundTrip(audit, out)

    def test_cross_namespace(self):
        """A call in another namespace: a Role there, bound there to the account (never a
        ClusterRole, which would grant it in every namespace)."""
        evs = [event("a:x", "get", "configmaps", "b", "shared"), event("a:x", "list", "pods", None)]
        audit = self.events(evs)
        out = self.ok("-f", audit)
        objs = self.objects(out)
        rb = [o for o in objs if o["kind"] == "RoleBinding"][0]
        self.assertEqual(rb["metadata"]["namespace"], "b")
        self.assertEqual(rb["subjects"], [{"kind": "ServiceAccount", "name": "x", "namespace": "a"}])
        rules = rules_of(sa_of(self.json("-f", audit), "a", "x"))
        self.assertEqual(rules, {("Role", "b"): [(("",), ("configmaps",), ("shared",), ("get",), ())],
                                 ("ClusterRole", None): [(("",), ("pods",), (), ("list",), ())]})
        self.assertRoundTrip(audit, out)

    def test_subresources_and_non_resource_urls(self):
        evs = [event("a:x", "get", "pods", "a", "p1", sub="log"),
               event("a:x", "update", "deployments", "a", "web", group="apps", sub="scale"),
               event("a:x", "get", uri="/metrics"), event("a:x", "get", uri="/version"),
               event("a:x", "post", uri="/metrics")]
        audit = self.events(evs)
        rules = rules_of(sa_of(self.json("-f", audit), "a", "x"))
        self.assertEqual(rules[("Role", "a")], [(("",), ("pods/log",), ("p1",), ("get",), ()),
                                                (("apps",), ("deployments/scale",), ("web",), ("update",), ())])
        self.assertEqual(rules[("ClusterRole", None)], [((), (), (), ("get", "post"), ("/metrics",)),
                                                        ((), (), (), ("get",), ("/version",))])
        self.assertRoundTrip(audit, self.ok("-f", audit))

    def test_codes(self):
        """404, 409 and 422 come from past the authorizer: the call was allowed.  403 is
        refused; 401, 429 and 5xx say nothing about RBAC."""
        evs = [event("a:x", "get", "configmaps", "a", "missing", code=404),
               event("a:x", "create", "configmaps", "a", code=409),
               event("a:x", "get", "secrets", "a", "s", code=403),
               event("a:x", "get", "pods", "a", "p", code=500), event("a:x", "get", "pods", "a", "p", code=429),
               event("a:x", "get", "pods", "a", "p", code=401)]
        sa = sa_of(self.json("-f", self.events(evs)), "a", "x")
        self.assertEqual((sa["authorizedCalls"], sa["refusedCalls"], sa["otherCalls"]), (2, 1, 3))
        self.assertEqual(rules_of(sa)[("Role", "a")], [(("",), ("configmaps",), (), ("create",), ()),
                                                       (("",), ("configmaps",), ("missing",), ("get",), ())])
        self.assertEqual([(r["verb"], r["resource"]) for r in sa["usedButRefused"]], [("get", "secrets")])

    def test_sorted_and_one_account(self):
        evs = [event("b:y", "get", "pods", "b", "p"), event("a:z", "get", "pods", "a", "p"),
               event("a:y", "get", "pods", "a", "p")]
        audit = self.events(evs)
        doc = self.json("-f", audit)
        self.assertEqual([(s["namespace"], s["name"]) for s in doc["serviceAccounts"]],
                         [("a", "y"), ("a", "z"), ("b", "y")])
        doc = self.json("-f", audit, "--serviceaccount", "a:z")
        self.assertEqual([(s["namespace"], s["name"]) for s in doc["serviceAccounts"]], [("a", "z")])
        # the same input, the same bytes
        self.assertEqual(self.ok("-f", audit), self.ok("-f", audit))

    def test_long_name(self):
        """profileguard-NS.NAME past 253 bytes is cut and ends in a hash of the whole."""
        ns, name = "n" * 63, ("s" * 62 + ".") * 3 + "s" * 62      # the longest DNS names
        audit = self.events([event(ns + ":" + name, "get", "pods", ns, "p")])
        objs = self.objects(self.ok("-f", audit))
        got = objs[0]["metadata"]["name"]
        self.assertEqual(len(got), 253)
        self.assertTrue(got.startswith("profileguard-" + ns + ".sss"), got)
        self.assertRegex(got, r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")  # DNS
        self.assertRegex(got, r"[^.-]-[0-9a-f]{16}$")
        self.assertEqual(objs[1]["subjects"][0]["name"], name)
        self.assertRoundTrip(audit, self.ok("-f", audit))


class IngressNginx(Base):
    """The diff against kubernetes/ingress-nginx's rendered chart: the controller uses part
    of what its Role and ClusterRole grant."""
    SA = "ingress-nginx:ingress-nginx"
    ROLE_VIA = "RoleBinding ingress-nginx/ingress-nginx -> Role ingress-nginx/ingress-nginx"
    CR_VIA = "ClusterRoleBinding ingress-nginx -> ClusterRole ingress-nginx"

    def test_granted_but_unused(self):
        evs = [event(self.SA, "list", "services"), event(self.SA, "watch", "services"),
               event(self.SA, "list", "ingresses", group="networking.k8s.io"),
               event(self.SA, "get", "configmaps", "ingress-nginx", "ingress-nginx-controller"),
               event(self.SA, "get", "leases", "ingress-nginx", "ingress-nginx-leader", group="coordination.k8s.io"),
               event(self.SA, "update", "leases", "ingress-nginx", "ingress-nginx-leader",
                     group="coordination.k8s.io"),
               event(self.SA, "update", "ingresses", "shop", "web", group="networking.k8s.io", sub="status"),
               event(self.SA, "get", "secrets", "kube-system", "other", code=403)]
        audit = self.events(evs)
        doc = self.json("-f", audit, "-f", INGRESS)
        sa = sa_of(doc, "ingress-nginx", "ingress-nginx")
        unused = {(u["verb"], u["apiGroup"], u["resource"], u["namespace"], u["via"]) for u in sa["grantedButUnused"]}
        # Every grant, expanded, from the manifest itself.
        granted = set()
        with open(INGRESS) as f:
            manifest = f.read()
        for o in self.objects(manifest):
            if o.get("kind") not in ("Role", "ClusterRole") or o["metadata"]["name"] != "ingress-nginx":
                continue
            ns = o["metadata"].get("namespace", "*")
            via = self.ROLE_VIA if o["kind"] == "Role" else self.CR_VIA
            for r in o["rules"]:
                for v in r["verbs"]:
                    for g in r["apiGroups"]:
                        for res in r["resources"]:
                            granted.add((v, g, res, ns, via))
        used = {("list", "", "services", "*", self.CR_VIA), ("watch", "", "services", "*", self.CR_VIA),
                ("list", "networking.k8s.io", "ingresses", "*", self.CR_VIA),
                ("get", "", "configmaps", "ingress-nginx", self.ROLE_VIA),
                ("get", "coordination.k8s.io", "leases", "ingress-nginx", self.ROLE_VIA),
                ("update", "coordination.k8s.io", "leases", "ingress-nginx", self.ROLE_VIA),
                # a call in namespace shop: the ClusterRoleBinding's grant, not the Role's
                ("update", "networking.k8s.io", "ingresses/status", "*", self.CR_VIA)}
        self.assertTrue(used <= granted, used - granted)
        self.assertEqual(unused, granted - used)
        self.assertIn(("update", "networking.k8s.io", "ingresses/status", "ingress-nginx", self.ROLE_VIA), unused)
        self.assertIn(("get", "", "secrets", "ingress-nginx", self.ROLE_VIA), unused)
        self.assertEqual([(r["verb"], r["resource"], r["namespace"], r["calls"]) for r in sa["usedButRefused"]],
                         [("get", "secrets", "kube-system", 1)])
        # YAML says the same in comments
        out = self.ok("-f", audit, "-f", INGRESS)
        self.assertIn("# granted but unused: %d\n" % len(unused), out)
        self.assertIn("#   get secrets in ingress-nginx via " + self.ROLE_VIA + "\n", out)
        self.assertIn("#   get secrets in kube-system: 1 call", out)

    def test_accounts_without_calls_are_not_listed(self):
        doc = self.json("-f", self.events([event(self.SA, "list", "services")]), "-f", INGRESS)
        self.assertEqual([s["name"] for s in doc["serviceAccounts"]], ["ingress-nginx"])


@unittest.skipIf(shutil.which("kubectl") is None, "no kubectl on the PATH")
class Kubectl(Base):
    """kubectl takes the YAML: client-side (its own decoding of every object against the
    API's discovery) and server-side dry runs against the API stand-in."""

    def test_apply_dry_run(self):
        sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
        import pgharness as h
        evs = Generate.EVENTS + [event("shop:web", "get", "pods", "shop", "p", sub="log"),
                                 event("shop:web", "update", "deployments", "shop", "web", group="apps",
                                       sub="scale")]
        roles = self.write("roles.yaml", self.ok("-f", self.events(evs)))
        certs = h.Certs(ROOT, os.path.join(self.dir, "certs"))
        api = h.Standin(ROOT, certs, self.dir, seed=[h.namespace("shop"), h.namespace("shared")])
        try:
            for mode in ("client", "server"):
                p = subprocess.run(["kubectl", "--kubeconfig", api.kubeconfig, "--cache-dir",
                                    os.path.join(self.dir, "cache"), "apply", "--dry-run=" + mode, "-f", roles],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.count(" created ("), 6, p.stdout)
        finally:
            api.stop()


class BadInput(Base):
    def assertBad(self, args, *needles):
        rc, out, err = run(*args)
        self.assertEqual(rc, 2, out + err)
        self.assertEqual(out, "")
        for n in needles:
            self.assertIn(n, err)

    def test_malformed_event(self):
        good = json.dumps(event("a:x", "get", "pods", "a", "p"))
        bad = json.dumps(dict(event("a:x", "get", "pods", "a", "p"), stageTimestamp="yesterday",
                              requestReceivedTimestamp="yesterday"))
        path = self.write("audit.log", good + "\n" + bad + "\n")
        self.assertBad(["-f", path], path + ": 1 audit events not read: stageTimestamp")

    def test_bad_username_names_the_line(self):
        evs = [event("a:x", "get", "pods", "a", "p"), event("A_B:x", "get", "pods", "a", "p")]
        path = self.events(evs)
        self.assertBad(["-f", path], path + ": line 2: user.username")

    def test_bad_manifest_names_the_document(self):
        audit = self.events([event("a:x", "get", "pods", "a", "p")])
        bad = self.write("rbac.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n"
                         "  name: r\n  namespace: a\nrules: []\n---\napiVersion: rbac.authorization.k8s.io/v1\n"
                         "kind: RoleBinding\nmetadata:\n  name: b\n  namespace: a\nsubjects: []\n")
        self.assertBad(["-f", audit, "-f", bad], bad + ": document 2: RoleBinding")

    def test_flags(self):
        audit = self.events([event("a:x", "get", "pods", "a", "p")])
        self.assertBad(["-f", audit, "--serviceaccount", "x"], "--serviceaccount must be NS:NAME")
        self.assertBad(["-f", audit, "-o", "xml"])
        self.assertBad([], "need -f AUDIT_EVENTS")
        self.assertBad(["-f", os.path.join(self.dir, "absent.log")], "absent.log")
        self.assertBad(["-f", INGRESS], "none of the -f files holds audit events")

    def test_accounts_cap_at_and_past(self):
        for n, ok in ((10000, True), (10001, False)):
            path = self.events([event("a:x%d" % i, "get", "pods", "a", "p") for i in range(n)], "n%d.log" % n)
            if ok:
                self.assertEqual(len(self.json("-f", path)["serviceAccounts"]), n)
            else:
                self.assertBad(["-f", path], "line 10001: more than 10000 ServiceAccounts (profileguard's limit)")

    def test_calls_cap_at_and_past(self):
        for n, ok in ((1024, True), (1025, False)):
            path = self.events([event("a:x", "get", "r%d" % i, "a") for i in range(n)], "k%d.log" % n)
            if ok:
                self.assertEqual(len(self.json("-f", path)["serviceAccounts"][0]["roles"][0]["rules"]), n)
            else:
                self.assertBad(["-f", path], "more than 1024 distinct authorized calls")


if __name__ == "__main__":
    unittest.main(verbosity=2)
