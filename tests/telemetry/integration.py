#!/usr/bin/env python3
"""Integration tests of the controller's telemetry endpoints (SPEC §5.1): the
real `profileguard controller` with --telemetry-listen over real TLS, against
the API stand-in (tests/standin/kube_standin.py), which answers TokenReviews
from a --tokens table.

Each format is sent as the tools write it (the samples of tests/data/telemetry,
adapted to the seeded pods) and the test checks what the controller did
through the stand-in: the pod DELETEs it sent (with the UID precondition), the
Events it wrote (reason, action, note), the profile's status, and its metrics.
Forged, unauthenticated, unlisted and other-node reports must change nothing.
Standard library only.

usage: integration.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

ARGS = None
CERTS = None
OWN_NS = "profileguard"
NS = "payments"
AGENT_USER = "system:serviceaccount:profileguard:profileguard-agent"
FALCO_USER = "system:serviceaccount:falco:falco"
AUDIT_USER = "kube-apiserver-audit"

TOKENS = {
    "admin-token": {"username": "admin", "groups": ["system:masters"]},
    "readonly-token": {"username": "viewer", "readonly": True},
    "agent-a-token": {"username": AGENT_USER, "extra": {
        "authentication.kubernetes.io/node-name": ["node-a"],
        "authentication.kubernetes.io/pod-name": ["agent-a"],
        "authentication.kubernetes.io/pod-uid": ["u-agent-a"]}},
    "agent-b-token": {"username": AGENT_USER, "extra": {
        "authentication.kubernetes.io/node-name": ["node-b"],
        "authentication.kubernetes.io/pod-name": ["agent-b"],
        "authentication.kubernetes.io/pod-uid": ["u-agent-b"]}},
    "falco-token": {"username": FALCO_USER},
    "audit-token": {"username": AUDIT_USER},
    "unlisted-token": {"username": "system:serviceaccount:default:default"},
}
ALLOWED = [AGENT_USER, FALCO_USER, AUDIT_USER, "audit-backend", "system:node:*"]

PROFILE_SPEC = {
    "mode": "Enforce",
    "runtime": {
        "executables": ["/app/server"],
        "egress": [{"cidr": "10.0.0.0/8", "ports": [5432, 443, 53]}],
        "files": {"read": ["/etc/ssl/*", "/app/*"], "write": ["/tmp/*"]},
        "kubernetesAPI": [{"verbs": ["get", "list", "watch"], "resources": ["configmaps"]}],
        "maxAPICallsPerMinute": 600,
    },
    "identity": {"maxTokenAgeSeconds": 3600},
    "response": {"action": "Delete"},
}


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def rfc3339(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def wait_for(fn, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def cid(n):
    """A 64-hex container ID whose 12-hex short form is distinct per @n."""
    return "%012x" % (0x9c1e3b000000 + n) + "5d7f9a1c3e5b7d9f" * 3 + "0a1b"


def pod(name, node="node-a", ip="10.244.1.7", app="api", sa="payments-api", n=0, ns=NS):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
            "spec": {"nodeName": node, "serviceAccountName": sa,
                     "containers": [{"name": "api", "image": "registry.example.com/api@sha256:" + "a" * 64}]},
            "status": {"phase": "Running", "startTime": rfc3339(time.time() - 600),
                       "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "api", "ready": True,
                                              "containerID": "containerd://" + cid(n)}]}}


def profile(name, app, spec):
    s = {"selector": {"matchLabels": {"app": app}}}
    s.update(spec)
    return {"apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
            "metadata": {"name": name, "namespace": NS}, "spec": s}


def native(p, kind="exec", **fields):
    e = {"kind": kind, "time": rfc3339(), "node": p["spec"]["nodeName"],
         "pod": {"namespace": p["metadata"]["namespace"], "name": p["metadata"]["name"],
                 "uid": p["metadata"]["uid"]}, "container": "api"}
    e.update(fields)
    return json.dumps(e)


def audit_event(p, verb="get", resource="configmaps", ip=None, bound=True, user=None, name=None):
    extra = {}
    if bound:
        extra = {"authentication.kubernetes.io/node-name": [p["spec"]["nodeName"]],
                 "authentication.kubernetes.io/pod-name": [p["metadata"]["name"]],
                 "authentication.kubernetes.io/pod-uid": [p["metadata"]["uid"]]}
    ref = {"resource": resource, "namespace": NS, "apiVersion": "v1"}
    if name:
        ref["name"] = name
    now = rfc3339()
    return {"level": "Metadata", "auditID": os.urandom(8).hex(), "stage": "ResponseComplete",
            "requestURI": f"/api/v1/namespaces/{NS}/{resource}", "verb": verb,
            "user": {"username": user or f"system:serviceaccount:{NS}:payments-api",
                     "groups": ["system:serviceaccounts", "system:authenticated"], "extra": extra},
            "sourceIPs": [ip or p["status"]["podIP"]], "userAgent": "test",
            "objectRef": ref, "responseStatus": {"metadata": {}, "code": 200},
            "requestReceivedTimestamp": now, "stageTimestamp": now}


def event_list(*items):
    return json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {},
                       "items": list(items)})


def sample(name):
    with open(os.path.join(ARGS.srcdir, "tests", "data", "telemetry", name)) as f:
        return f.read()


# ---------------------------------------------------------------------------
# The stand-in and the controller
# ---------------------------------------------------------------------------

class Standin:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pg-tel-standin-")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        port_file = os.path.join(self.dir, "port")
        with open(os.path.join(self.dir, "seed.json"), "w") as f:
            json.dump({"items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
                                 for n in (OWN_NS, NS)] +
                       [{"apiVersion": "v1", "kind": "ServiceAccount",
                         "metadata": {"name": n, "namespace": NS,
                                      "creationTimestamp": rfc3339(time.time() - 86400)[:19] + "Z"}}
                        for n in ("default", "payments-api")]}, f)
        with open(os.path.join(self.dir, "tokens.json"), "w") as f:
            json.dump(TOKENS, f)
        cmd = [sys.executable, os.path.join(ARGS.srcdir, "tests", "standin", "kube_standin.py"),
               "--cert", f"{CERTS}/server.crt", "--key", f"{CERTS}/server.key",
               "--client-ca", f"{CERTS}/ca.crt", "--tokens", os.path.join(self.dir, "tokens.json"),
               "--seed", os.path.join(self.dir, "seed.json"), "--port", "0",
               "--port-file", port_file, "--kubeconfig-out", self.kubeconfig,
               "--ca-for-kubeconfig", f"{CERTS}/ca.crt", "--bookmark-interval", "1"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("stand-in did not start: " + self.proc.stderr.read().decode())
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        self.ctx = ssl.create_default_context(cafile=f"{CERTS}/ca.crt")

    def kubeconfig_with(self, token):
        """A copy of the kubeconfig that authenticates with @token."""
        with open(self.kubeconfig) as f:
            text = f.read()
        path = os.path.join(self.dir, f"kubeconfig-{token}")
        with open(path, "w") as f:
            f.write(text.replace("admin-token", token))
        return path

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def call(self, method, path, body=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)
        headers = {"Authorization": "Bearer admin-token"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            raw = r.read()
        finally:
            conn.close()
        return r.status, json.loads(raw) if raw else None

    def put(self, *items):
        st, out = self.call("POST", "/_standin/objects", {"items": list(items)})
        assert st == 200, out
        return out["items"]

    def objects(self, kind, ns=None, name=None):
        q = {"kind": kind}
        if ns is not None:
            q["namespace"] = ns
        if name:
            q["name"] = name
        st, out = self.call("GET", "/_standin/objects?" + urllib.parse.urlencode(q))
        assert st == 200, out
        return out["items"]

    def one(self, kind, ns, name):
        items = self.objects(kind, ns, name)
        return items[0] if items else None

    def remove(self, kind, ns, name):
        q = urllib.parse.urlencode({"kind": kind, "namespace": ns, "name": name})
        st, out = self.call("DELETE", "/_standin/objects?" + q)
        assert st == 200, out

    def requests(self, method=None, path_regex=None):
        q = {}
        if method:
            q["method"] = method
        if path_regex:
            q["path_regex"] = path_regex
        st, out = self.call("GET", "/_standin/requests?" + urllib.parse.urlencode(q))
        assert st == 200, out
        return out

    def events(self, pod_name=None, reason=None, ns=NS):
        return [e for e in self.objects("Event", ns)
                if (not pod_name or (e.get("regarding") or {}).get("name") == pod_name)
                and (not reason or e.get("reason") == reason)]

    def deletes(self, name, ns=NS):
        path = re.escape(f"/api/v1/namespaces/{ns}/pods/{name}") + "$"
        return [(r["status"], ((r.get("body") or {}).get("preconditions") or {}).get("uid"))
                for r in self.requests("DELETE", path)]


class Controller:
    def __init__(self, standin, *flags, name="ctl", kubeconfig=None, pod_name=None, certs=None):
        self.certs = certs or CERTS
        self.standin = standin
        self.flags = list(flags)
        self.name = name
        self.kubeconfig = kubeconfig or standin.kubeconfig
        self.pod_name = pod_name
        self.log_path = os.path.join(standin.dir, name + ".log")
        self.proc = None

    def start(self, wait_ready=True, wait_listening=True):
        self.log = open(self.log_path, "ab")
        cmd = [ARGS.binary, "controller", "--kubeconfig", self.kubeconfig,
               "--metrics-addr", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug",
               "--namespace", OWN_NS, "--identity", self.name,
               "--telemetry-listen", "127.0.0.1:0",
               "--telemetry-tls-cert", f"{self.certs}/server.crt",
               "--telemetry-tls-key", f"{self.certs}/server.key",
               "--telemetry-client-ca", f"{CERTS}/ca.crt",
               "--telemetry-allowed-users", ",".join(ALLOWED[:2]),
               "--telemetry-allowed-users", ",".join(ALLOWED[2:])] + self.flags
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PROFILEGUARD_") and k not in ("POD_NAME", "POD_NAMESPACE",
                                                                  "KUBERNETES_SERVICE_HOST")}
        if self.pod_name:
            env["POD_NAME"] = self.pod_name
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        self.port = wait_for(lambda: self._port("metrics listening"), 10, what="metrics port")
        if wait_listening:
            self.listening()
        if wait_ready:
            wait_for(lambda: self.http("/readyz")[0] == 200, 15, what=f"{self.name} ready")
        return self

    def listening(self, timeout=10):
        self.tport = wait_for(lambda: self._port("telemetry listening"), timeout, what="telemetry port")
        return self.tport

    def lines(self):
        out = []
        try:
            with open(self.log_path, "rb") as f:
                for raw in f:
                    try:
                        out.append(json.loads(raw))
                    except ValueError:
                        pass
        except FileNotFoundError:
            pass
        return out

    def _port(self, msg):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited: " + open(self.log_path).read()[-3000:])
        for line in self.lines():
            if line.get("msg") == msg:
                return int(line["port"])
        return None

    def http(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read().decode()
        except OSError as e:
            return 0, str(e)
        finally:
            conn.close()

    def metric(self, name, **labels):
        st, text = self.http("/metrics")
        assert st == 200, text
        total = 0.0
        for line in text.splitlines():
            m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
            if not m or m.group(1) != name:
                continue
            if all(f'{k}="{v}"' in (m.group(2) or "") for k, v in labels.items()):
                total += float(m.group(3))
        return total

    def post(self, path, body, token=None, cert=None, method="POST", ctype="application/json"):
        """(status, parsed reply, headers) of one request to the telemetry listener."""
        ctx = ssl.create_default_context(cafile=f"{CERTS}/ca.crt")
        if cert:
            ctx.load_cert_chain(*cert)
        conn = http.client.HTTPSConnection("127.0.0.1", self.tport, context=ctx, timeout=30)
        headers = {"Content-Type": ctype}
        if token:
            headers["Authorization"] = "Bearer " + token
        try:
            conn.request(method, path, body=body.encode() if isinstance(body, str) else body,
                         headers=headers)
            r = conn.getresponse()
            raw = r.read()
        finally:
            conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return r.status, parsed, dict(r.getheaders())

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} did not stop on {sig}")
        if hasattr(self, "log"):
            self.log.close()
        with open(self.log_path, errors="replace") as f:
            text = f.read()
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            if marker in text:
                raise AssertionError(f"{self.name}: {marker}:\n" + text[text.index(marker) - 200:][:4000])
        # Never a token in a log line.
        for tok in TOKENS:
            if tok != "admin-token" and tok in text:
                raise AssertionError(f"{self.name} logged the token {tok}")
        return self.proc.returncode if self.proc else None


def mint_client_cert(cn, out_dir):
    """A client certificate for @cn signed by the test CA: (cert, key) paths."""
    crt, key = os.path.join(out_dir, cn.replace(":", "_") + ".crt"), os.path.join(out_dir, cn.replace(":", "_") + ".key")
    ext = os.path.join(out_dir, "client.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=clientAuth\n")
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
    run("openssl", "req", "-new", "-key", key, "-subj", f"/CN={cn}", "-out", crt + ".csr")
    run("openssl", "x509", "-req", "-in", crt + ".csr", "-CA", f"{CERTS}/ca.crt", "-CAkey",
        f"{CERTS}/ca.key", "-set_serial", "0x" + os.urandom(8).hex(), "-days", "30", "-sha256",
        "-extfile", ext, "-out", crt)
    return crt, key


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

class Base(unittest.TestCase):
    FLAGS = ["--leader-elect=false", "--max-actions-per-minute", "1000"]
    counter = 0

    @classmethod
    def setUpClass(cls):
        cls.api = Standin()
        cls.api.put(profile("api", "api", PROFILE_SPEC),
                    profile("batch", "batch", dict(PROFILE_SPEC, mode="Audit")))
        cls.ctl = Controller(cls.api, *cls.FLAGS).start()

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.ctl.stop()
            assert rc == 0, f"controller exited {rc}"
        finally:
            cls.api.stop()

    def new_pod(self, prefix, **kw):
        """A fresh pod (its own name and container ID) as the stand-in stored it."""
        Base.counter += 1
        kw.setdefault("n", Base.counter)
        p = self.api.put(pod(f"{prefix}-{Base.counter}", **kw))[0]
        p["_n"] = kw["n"]
        # The controller must have it cached before telemetry names it.
        wait_for(lambda: self.ctl.metric("profileguard_pods_judged_total") > 0, 5, what="judging")
        return p

    def send_until_attributed(self, path, body, token, p, **kw):
        """Posts until the controller's cache has @p (the reply says accepted)."""
        def once():
            st, out, _ = self.ctl.post(path, body() if callable(body) else body, token=token, **kw)
            self.assertEqual(st, 200, out)
            return out if out["accepted"] else None
        return wait_for(once, 10, interval=0.1, what=f"{p['metadata']['name']} attributed")

    def wait_deleted(self, p):
        name, uid = p["metadata"]["name"], p["metadata"]["uid"]
        wait_for(lambda: (200, uid) in self.api.deletes(name), 10, what=f"DELETE of {name}")
        self.assertEqual([d for d in self.api.deletes(name) if d[0] == 200], [(200, uid)])

    def wait_event(self, p, reason):
        name = p["metadata"]["name"]
        return wait_for(lambda: self.api.events(name, reason), 10, what=f"{reason} Event for {name}")[0]

    def assert_event(self, ev, p, reason, action, note_part, profile_name="api"):
        self.assertEqual(ev["reason"], reason)
        self.assertEqual(ev["action"], action)
        self.assertEqual(ev["reportingController"], "profileguard.io/controller")
        self.assertEqual(ev["regarding"]["kind"], "Pod")
        self.assertEqual(ev["regarding"]["name"], p["metadata"]["name"])
        self.assertEqual(ev["regarding"]["uid"], p["metadata"]["uid"])
        self.assertEqual(ev["related"]["kind"], "WorkloadProfile")
        self.assertEqual(ev["related"]["name"], profile_name)
        self.assertIn(note_part, ev["note"])

    def assert_untouched(self, p, settle=1.0):
        time.sleep(settle)
        name = p["metadata"]["name"]
        self.assertEqual(self.api.deletes(name), [])
        self.assertEqual(self.api.events(name), [])
        self.assertIsNotNone(self.api.one("Pod", NS, name))


class TestFormats(Base):
    """Each format, from each kind of sender, to a DELETE and an Event."""

    def test_native_exec_by_agent(self):
        p = self.new_pod("native")
        body = native(p, exe="/bin/sh", args=["-c", "id"]) + "\n" + native(p, exe="/app/server") + "\n"
        out = self.send_until_attributed("/telemetry/v1/events", body, "agent-a-token", p)
        self.assertEqual(out, {"accepted": 2, "rejected": 0, "forbidden": 0, "unattributed": 0,
                               "ignored": 0})
        self.wait_deleted(p)
        ev = self.wait_event(p, "UnexpectedExecutable")
        self.assert_event(ev, p, "UnexpectedExecutable", "Delete",
                          'container "api": exec "/bin/sh" not allowed by payments/api runtime.executables')
        st = wait_for(lambda: (self.api.one("WorkloadProfile", NS, "api").get("status") or {})
                      if ((self.api.one("WorkloadProfile", NS, "api").get("status") or {})
                          .get("lastViolation") or {}).get("pod") == p["metadata"]["name"] else None,
                      10, what="profile status")
        self.assertGreaterEqual(st["violations"], 1)
        self.assertEqual(st["lastViolation"]["reason"], "UnexpectedExecutable")
        self.assertGreater(self.ctl.metric("profileguard_telemetry_receipt_to_action_seconds_count"), 0)

    def test_native_sample_by_container_id_and_kinds(self):
        # The native sample, pointed at a fresh pod: by name, by UID and by
        # containerID; exec, connect, open and token lines.
        p = self.new_pod("sample", n=777)
        text = sample("native.jsonl").replace("payments-api-7d9f-x2", p["metadata"]["name"])
        text = text.replace("8a7c2e1f-9b3d-4c5e-8f7a-6b5c4d3e2f1a", p["metadata"]["uid"])
        text = text.replace("9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a4f2a6c8e0b1d3f5a7c9e1b3d5f7a", cid(777))
        now = rfc3339()
        text = re.sub(r'"time":"[^"]+"', f'"time":"{now}"', text)
        text = re.sub(r'"iat":\d+,"exp":\d+', f'"iat":{int(time.time()) - 7200},"exp":{int(time.time()) + 600}', text)
        out = self.send_until_attributed("/telemetry/v1/events", text, "agent-a-token", p)
        self.assertEqual(out["accepted"], 7)
        self.wait_deleted(p)
        ev = self.wait_event(p, "UnexpectedExecutable")
        self.assert_event(ev, p, "UnexpectedExecutable", "Delete", 'exec "/usr/bin/curl"')
        # The connection to 10.96.0.10:53/udp is allowed; the token is
        # older than maxTokenAgeSeconds: StaleToken, recorded on the pod.
        ev = self.wait_event(p, "StaleToken")
        self.assertIn("token issued", ev["note"])

    def test_falco_short_container_id(self):
        p = self.new_pod("falco")
        alert = json.loads(sample("falco.json"))
        alert["time"] = rfc3339()
        f = alert["output_fields"]
        del f["k8s.pod.name"], f["k8s.ns.name"]
        f["container.id"] = cid(p["_n"])[:12]
        out = self.send_until_attributed("/telemetry/v1/falco", json.dumps(alert), "falco-token", p)
        self.assertEqual(out["accepted"], 1)
        self.wait_deleted(p)
        self.assert_event(self.wait_event(p, "UnexpectedExecutable"), p, "UnexpectedExecutable",
                          "Delete", 'exec "/bin/sh"')

    def test_tetragon_exec_and_connect(self):
        p = self.new_pod("tetra")
        lines = []
        for line in sample("tetragon.jsonl").splitlines():
            if not line.strip():
                continue
            ev = json.loads(line)
            body = ev.get("process_exec") or ev.get("process_kprobe")
            if not body:
                continue
            body["process"]["pod"]["name"] = p["metadata"]["name"]
            body["process"]["pod"]["container"]["id"] = "containerd://" + cid(p["_n"])
            ev["time"] = rfc3339()
            lines.append(json.dumps(ev))
        out = self.send_until_attributed("/telemetry/v1/tetragon", "\n".join(lines), "agent-a-token", p)
        self.assertGreaterEqual(out["accepted"], 2)
        self.wait_deleted(p)
        self.assert_event(self.wait_event(p, "UnexpectedExecutable"), p, "UnexpectedExecutable",
                          "Delete", 'exec "/usr/bin/wget"')
        # The connection's report reaches the actions after the exec's: the
        # pod is being deleted already, or gone (then the Event records).
        ev = self.wait_event(p, "UnexpectedEgress")
        self.assert_event(ev, p, "UnexpectedEgress", ev["action"],
                          "connect 203.0.113.9:80/tcp not allowed by payments/api runtime.egress")
        self.assertIn(ev["action"], ("Delete", "Record"))

    def test_audit_unexpected_api_call(self):
        p = self.new_pod("audit")
        body = lambda: event_list(audit_event(p, "get", "configmaps"),
                                  audit_event(p, "list", "secrets"))
        out = self.send_until_attributed("/telemetry/v1/audit", body, "audit-token", p)
        self.assertEqual(out["accepted"], 2)
        self.wait_deleted(p)
        self.assert_event(self.wait_event(p, "UnexpectedAPICall"), p, "UnexpectedAPICall", "Delete",
                          "list secrets in payments not allowed by payments/api runtime.kubernetesAPI")

    def test_audit_sample(self):
        # The audit sample as the API server's webhook backend posts it.
        p = self.new_pod("auditsample", ip="10.244.1.7")
        text = sample("audit.json").replace("payments-api-7d9f-x2", p["metadata"]["name"])
        text = text.replace("8a7c2e1f-9b3d-4c5e-8f7a-6b5c4d3e2f1a", p["metadata"]["uid"])
        now = rfc3339()
        text = re.sub(r'"(stageTimestamp|requestReceivedTimestamp)":"[^"]+"', f'"\\1":"{now}"', text)
        out = self.send_until_attributed("/telemetry/v1/audit", text, "audit-token", p)
        self.assertEqual(out["rejected"], 0)
        self.wait_deleted(p)
        # The sample's stolen-token call from 203.0.113.9 is a replay.
        self.wait_event(p, "TokenReplay")
        self.wait_event(p, "StaleToken")

    def test_token_replay_from_another_address(self):
        p = self.new_pod("replay")
        out = self.send_until_attributed("/telemetry/v1/audit",
                                         lambda: event_list(audit_event(p, ip="203.0.113.50")),
                                         "audit-token", p)
        self.assertEqual(out["accepted"], 1)
        self.wait_deleted(p)
        self.assert_event(self.wait_event(p, "TokenReplay"), p, "TokenReplay", "Delete",
                          'used from "203.0.113.50", not from the pod\'s address 10.244.1.7')

    def test_token_replay_after_pod_gone(self):
        p = self.new_pod("gone")
        # From the pod's own address, while it lives: nothing to say.
        self.send_until_attributed("/telemetry/v1/audit", lambda: event_list(audit_event(p)),
                                   "audit-token", p)
        self.api.remove("Pod", NS, p["metadata"]["name"])

        def replayed():
            st, out, _ = self.ctl.post("/telemetry/v1/audit", event_list(audit_event(p)),
                                       token="audit-token")
            self.assertEqual(st, 200, out)
            return self.api.events(p["metadata"]["name"], "TokenReplay")
        ev = wait_for(replayed, 10, interval=0.2, what="TokenReplay after deletion")[0]
        self.assertEqual(ev["action"], "Record")
        self.assertEqual(ev["regarding"]["uid"], p["metadata"]["uid"])
        self.assertEqual(ev["related"]["name"], "api")
        self.assertIn("after the pod was gone", ev["note"])
        self.assertEqual(self.api.deletes(p["metadata"]["name"]), [])

    def test_audit_mode_records_only(self):
        p = self.new_pod("batch", app="batch")
        out = self.send_until_attributed("/telemetry/v1/events", native(p, exe="/bin/sh"),
                                         "agent-a-token", p)
        self.assertEqual(out["accepted"], 1)
        ev = self.wait_event(p, "UnexpectedExecutable")
        self.assert_event(ev, p, "UnexpectedExecutable", "Record", 'exec "/bin/sh"',
                          profile_name="batch")
        time.sleep(0.5)
        self.assertEqual(self.api.deletes(p["metadata"]["name"]), [])

    def test_malformed_lines_counted_rest_counts(self):
        p = self.new_pod("malformed")
        before = self.ctl.metric("profileguard_telemetry_events_total", source="events", result="rejected")
        body = "\n".join(["{not json", native(p, exe="/bin/bash"), '{"kind":"exec"}', "[]"])
        out = self.send_until_attributed("/telemetry/v1/events", body, "agent-a-token", p)
        self.assertEqual((out["accepted"], out["rejected"]), (1, 3))
        self.wait_deleted(p)
        self.assertGreaterEqual(self.ctl.metric("profileguard_telemetry_events_total",
                                                source="events", result="rejected"), before + 3)
        self.assertTrue([l for l in self.ctl.lines() if l.get("msg", "").startswith(
            "telemetry lines rejected as malformed")])


class TestRefusals(Base):
    """Nothing a refused or untrusted sender says changes anything."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certdir = tempfile.mkdtemp(prefix="pg-tel-certs-")
        cls.audit_cert = mint_client_cert("audit-backend", cls.certdir)
        cls.node_b_cert = mint_client_cert("system:node:node-b", cls.certdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)
        super().tearDownClass()

    def test_other_node_refused(self):
        p = self.new_pod("othernode", node="node-a")
        before = self.ctl.metric("profileguard_telemetry_events_total", source="events", result="forbidden")
        # Wait until the pod is cached (a central sender sees it accepted... in
        # an Audit-free way: an allowed exec).
        self.send_until_attributed("/telemetry/v1/events", native(p, exe="/app/server"), "falco-token", p)
        st, out, _ = self.ctl.post("/telemetry/v1/events", native(p, exe="/bin/sh"), token="agent-b-token")
        self.assertEqual(st, 200)
        self.assertEqual(out, {"accepted": 0, "rejected": 0, "forbidden": 1, "unattributed": 0,
                               "ignored": 0})
        # The node-b certificate alike.
        st, out, _ = self.ctl.post("/telemetry/v1/events", native(p, exe="/bin/sh"), cert=self.node_b_cert)
        self.assertEqual((st, out["forbidden"]), (200, 1))
        self.assertEqual(self.ctl.metric("profileguard_telemetry_events_total", source="events",
                                         result="forbidden"), before + 2)
        self.assert_untouched(p)

    def test_unauthenticated_and_forged(self):
        p = self.new_pod("forged")
        body = native(p, exe="/bin/sh")
        before = self.ctl.metric("profileguard_telemetry_requests_total", code="401")
        for kw in ({}, {"token": "forged-token"}, {"cert": (f"{CERTS}/bad-client.crt", f"{CERTS}/bad-client.key")}):
            st, out, _ = self.ctl.post("/telemetry/v1/events", body, **kw)
            self.assertEqual(st, 401, (kw, out))
        self.assertEqual(self.ctl.metric("profileguard_telemetry_requests_total", code="401"), before + 3)
        for kw in ({"token": "unlisted-token"}, {"cert": (f"{CERTS}/client.crt", f"{CERTS}/client.key")}):
            st, out, _ = self.ctl.post("/telemetry/v1/events", body, **kw)
            self.assertEqual(st, 403, (kw, out))
        # An agent may not send the audit log.
        st, _, _ = self.ctl.post("/telemetry/v1/audit", event_list(audit_event(p, "list", "secrets")),
                                 token="agent-a-token")
        self.assertEqual(st, 403)
        self.assert_untouched(p)
        refused = [l for l in self.ctl.lines() if l.get("msg") == "telemetry request refused"]
        self.assertTrue(any(l.get("reason", "").startswith("token refused") for l in refused))
        self.assertTrue(any(l.get("user") == "system:serviceaccount:default:default" for l in refused))

    def test_client_certificate_sender(self):
        p = self.new_pod("cert")
        out = self.send_until_attributed("/telemetry/v1/audit",
                                         lambda: event_list(audit_event(p, "delete", "configmaps", name="x")),
                                         None, p, cert=self.audit_cert)
        self.assertEqual(out["accepted"], 1)
        self.wait_deleted(p)
        self.assert_event(self.wait_event(p, "UnexpectedAPICall"), p, "UnexpectedAPICall", "Delete",
                          'delete configmaps "x" in payments')

    def test_routes(self):
        st, _, _ = self.ctl.post("/telemetry/v1/nothing", "{}", token="falco-token")
        self.assertEqual(st, 404)
        st, _, h = self.ctl.post("/telemetry/v1/events", "", token="falco-token", method="GET")
        self.assertEqual(st, 405)
        self.assertEqual(h.get("Allow"), "POST")
        st, _, _ = self.ctl.post("/telemetry/v1/events", "x" * (17 * 1024 * 1024), token="falco-token")
        self.assertEqual(st, 413)


class TestReviewerRefused(unittest.TestCase):
    """A controller whose own credentials may not create TokenReviews
    cannot tell who is sending: 503, and nothing is acted on."""

    def test_503(self):
        api = Standin()
        try:
            p = api.put(pod("rr-1"), profile("api", "api", PROFILE_SPEC))[0]
            c = Controller(api, "--leader-elect=false", kubeconfig=api.kubeconfig_with("readonly-token"),
                           name="readonly").start()
            try:
                st, out, h = c.post("/telemetry/v1/events", native(p, exe="/bin/sh"), token="agent-a-token")
                self.assertEqual(st, 503, out)
                self.assertEqual(h.get("Retry-After"), "5")
                time.sleep(0.5)
                self.assertEqual(api.deletes("rr-1"), [])
            finally:
                c.stop()
        finally:
            api.stop()


class TestCertificateLater(unittest.TestCase):
    """The chart mounts the telemetry certificate from an optional Secret:
    the controller runs without it, says so, and listens once it appears."""

    def test_listener_waits_for_certificate(self):
        api = Standin()
        later = os.path.join(api.dir, "later")
        os.mkdir(later)
        c = Controller(api, "--leader-elect=false", name="later", certs=later)
        try:
            c.start(wait_listening=False)
            wait_for(lambda: [l for l in c.lines() if l.get("msg", "").startswith(
                "telemetry listener waits for its certificate")], 5, what="the wait logged")
            self.assertFalse([l for l in c.lines() if l.get("msg") == "telemetry listening"])
            shutil.copy(f"{CERTS}/server.key", later)
            shutil.copy(f"{CERTS}/server.crt", later)
            c.listening(timeout=10)
            st, out, _ = c.post("/telemetry/v1/events", "{}\n", token="falco-token")
            self.assertEqual((st, out["rejected"]), (200, 1))
        finally:
            c.stop()
            api.stop()


class TestLeadership(unittest.TestCase):
    """Only the leader takes telemetry, and only its Pod carries the label
    the telemetry Service selects."""

    LEASE = ["--leader-elect", "--lease-duration", "3s", "--renew-deadline", "2s",
             "--retry-period", "500ms", "--max-actions-per-minute", "1000"]

    def label(self, name):
        p = self.api.one("Pod", OWN_NS, name)
        return ((p or {}).get("metadata", {}).get("labels") or {}).get("profileguard.io/leader")

    def test_follower_503_and_leader_label(self):
        self.api = Standin()
        ctls = []
        try:
            self.api.put(pod("ctl-a", ns=OWN_NS, app="profileguard"),
                         pod("ctl-b", ns=OWN_NS, app="profileguard"),
                         profile("api", "api", PROFILE_SPEC))
            p = self.api.put(pod("lead-1"))[0]
            a = Controller(self.api, *self.LEASE, name="ctl-a", pod_name="ctl-a").start()
            ctls.append(a)
            wait_for(lambda: a.metric("profileguard_leader") == 1, 10, what="a leads")
            b = Controller(self.api, *self.LEASE, name="ctl-b", pod_name="ctl-b").start()
            ctls.append(b)
            wait_for(lambda: self.label("ctl-a") == "true", 10, what="leader label on ctl-a")
            self.assertIsNone(self.label("ctl-b"))
            st, out, h = b.post("/telemetry/v1/events", native(p, exe="/bin/sh"), token="agent-a-token")
            self.assertEqual(st, 503, out)
            self.assertEqual(h.get("Retry-After"), "2")
            time.sleep(0.5)
            self.assertEqual(self.api.deletes("lead-1"), [])
            # A clean stop takes the label off; the new leader puts it on.
            a.stop()
            wait_for(lambda: self.label("ctl-a") is None, 10, what="label off ctl-a")
            wait_for(lambda: self.label("ctl-b") == "true", 15, what="label on ctl-b")

            def taken():
                st, out, _ = b.post("/telemetry/v1/events", native(p, exe="/bin/sh"),
                                    token="agent-a-token")
                return st == 200 and out["accepted"] == 1
            wait_for(taken, 10, interval=0.2, what="the new leader takes telemetry")
            wait_for(lambda: (200, p["metadata"]["uid"]) in self.api.deletes("lead-1"), 10,
                     what="DELETE by the new leader")
        finally:
            for c in ctls:
                c.stop()
            self.api.stop()


def main():
    global ARGS, CERTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--srcdir", required=True)
    ARGS, rest = ap.parse_known_args()
    ARGS.binary = os.path.abspath(ARGS.binary)
    tmp = tempfile.mkdtemp(prefix="pg-tel-certs-")
    CERTS = os.path.join(tmp, "certs")
    try:
        subprocess.run(["sh", os.path.join(ARGS.srcdir, "tests", "standin", "gencerts.sh"), CERTS],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
