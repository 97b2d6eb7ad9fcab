#!/usr/bin/env python3
"""Integration tests of `profileguard webhook`: the real binary, real TLS.

Serving certificates are minted with the test CA of tests/lib/pgharness.py,
which also starts the webhook and, for the API-server tests, the stand-in;
requests go through Python's ssl/http.client (keep-alive connections we can
hold open), curl and openssl s_client.  The examples (examples/profiles,
examples/manifests) are the inputs; yaml2json (built next to this script)
turns them into JSON with profileguard's own reader.  Standard library only.

usage: integration.py --binary PROFILEGUARD --yaml2json YAML2JSON --srcdir SRC
"""

import calendar
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pgharness as h  # noqa: E402

ARGS = None
CERTS = None
UID = "705ab4f5-6393-11e8-b7cc-42010a800002"


# ---------------------------------------------------------------------------
# Fixtures: certificates, manifests, the server process
# ---------------------------------------------------------------------------

def setUpModule():
    global CERTS
    CERTS = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))


def scratch(prefix):
    """A directory of its own for one test's files and logs."""
    return tempfile.mkdtemp(prefix=prefix, dir=ARGS.workdir)


def secret_volume_swap(vol, crt, key, version):
    """Writes a pair the way the kubelet updates a Secret volume: a new
    timestamped directory, then an atomic rename of the ..data symlink."""
    vdir = os.path.join(vol, "..v%d" % version)
    os.mkdir(vdir)
    shutil.copy(crt, os.path.join(vdir, "tls.crt"))
    shutil.copy(key, os.path.join(vdir, "tls.key"))
    tmp = os.path.join(vol, "..data_tmp")
    os.symlink("..v%d" % version, tmp)
    os.replace(tmp, os.path.join(vol, "..data"))
    for f in ("tls.crt", "tls.key"):
        link = os.path.join(vol, f)
        if not os.path.islink(link):
            os.symlink(os.path.join("..data", f), link)


def docs(path):
    out = subprocess.run([ARGS.yaml2json, path], check=True, capture_output=True).stdout.decode()
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def example(rel, kind=None):
    """The (first, or first of @kind) object of an example file."""
    for d in docs(os.path.join(ARGS.srcdir, rel)):
        if kind is None or d.get("kind") == kind:
            return d
    raise KeyError(rel)


def review(obj, op="CREATE", ns=None, subresource=None, old=None, uid=UID, dry_run=None):
    kind = obj.get("kind", "Pod") if obj else "Pod"
    ns = ns if ns is not None else (obj or old or {}).get("metadata", {}).get("namespace", "default")
    req = {"uid": uid, "kind": {"group": "", "version": "v1", "kind": kind},
           "resource": {"group": "", "version": "v1", "resource": kind.lower() + "s"},
           "operation": op, "namespace": ns, "userInfo": {"username": "alice"}}
    if obj is not None:
        req["object"] = obj
    if old is not None:
        req["oldObject"] = old
    if subresource:
        req["subResource"] = subresource
    if dry_run is not None:
        req["dryRun"] = dry_run
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


def start_webhook(tmp, cert, key, profiles, extra=()):
    """`profileguard webhook` serving @cert/@key on 127.0.0.1:0, debug log in
    @tmp, two threads; returns once it listens, ready or not."""
    return h.webhook(ARGS.binary, CERTS, tmp, profiles, ["--threads", "2"] + list(extra),
                     tls=(cert, key), log_level="debug", wait_ready=False)


def peer_cn(sock):
    for rdn in sock.getpeercert()["subject"]:
        for k, v in rdn:
            if k == "commonName":
                return v
    return None


class Client:
    """One keep-alive HTTPS connection."""

    def __init__(self, port, timeout=10):
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=CERTS.context(),
                                                timeout=timeout)

    reconnects = 0

    def request(self, method, path, body=None, headers=None, retry=True):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            # The server closed an idle keep-alive connection (the
            # idle timeout): reconnect once, as HTTP clients do.
            self.conn.close()
            if not retry:
                raise
            self.reconnects += 1
            return self.request(method, path, body, headers, retry=False)
        data = r.read()
        return r.status, dict(r.getheaders()), data

    def review(self, rv, path="/validate/pods?timeout=10s"):
        status, headers, data = self.request("POST", path, rv)
        assert status == 200, (status, data)
        out = json.loads(data)
        assert out["apiVersion"] == rv["apiVersion"] and out["kind"] == "AdmissionReview", out
        assert out["response"]["uid"] == rv["request"]["uid"], out
        return out["response"]

    def close(self):
        self.conn.close()


# ---------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------

PAYMENTS_LATEST = ("spec.serviceAccountName: \"default\" (unset) not allowed by payments/payments-api "
                   "identity.serviceAccountNames; "
                   "spec.containers[1].image: \"nginx:latest\" not allowed by payments/payments-api images.allow; "
                   "spec.containers[1].image: \"nginx:latest\" has no @sha256 digest, one is required by "
                   "payments/payments-api images.requireDigest")


def fresh_metrics(t):
    """GET /metrics on a connection of its own."""
    c = Client(t.server.port)
    try:
        return c.request("GET", "/metrics")
    finally:
        c.close()


class Webhook(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = scratch("pg-webhook-")
        cls.ca = CERTS.ca
        cls.pair1 = CERTS.mint_server("webhook-1")
        cls.pair2 = CERTS.mint_server("webhook-2")
        cls.vol = os.path.join(cls.tmp, "certs")
        os.mkdir(cls.vol)
        secret_volume_swap(cls.vol, *cls.pair1, version=1)
        cls.profiles = os.path.join(cls.tmp, "profiles")
        shutil.copytree(os.path.join(ARGS.srcdir, "examples", "profiles"), cls.profiles)
        # The payments profile again, in the two namespaces that are never
        # judged, so skipping them is visible.
        with open(os.path.join(ARGS.srcdir, "examples", "profiles", "payments-api.yaml")) as f:
            text = f.read()
        for ns in ("payments-ignored", "profileguard-system"):
            with open(os.path.join(cls.profiles, ns + ".yaml"), "w") as f:
                f.write(text.replace("namespace: payments\n", "namespace: %s\n" % ns))
        # A legacy token Secret, known to the webhook as to `check`.
        with open(os.path.join(cls.profiles, "token-secret.json"), "w") as f:
            json.dump(example("examples/manifests/bad/payments-legacy-token.yaml", "Secret"), f)
        cls.server = start_webhook(cls.tmp, os.path.join(cls.vol, "tls.crt"),
                                   os.path.join(cls.vol, "tls.key"), cls.profiles,
                                   ["--ignore-namespaces", "payments-ignored",
                                    "--namespace", "profileguard-system", "--idle-timeout", "4"])
        cls.client = Client(cls.server.port)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        rc = cls.server.stop()
        assert rc == 0, "webhook exit status %r; log:\n%s" % (
            rc, "\n".join(json.dumps(l) for l in cls.server.lines()[-40:]))

    # --- endpoints -------------------------------------------------------

    def test_health_ready_metrics(self):
        for path in ("/healthz", "/readyz"):
            status, _, body = self.client.request("GET", path)
            self.assertEqual((status, body), (200, b"ok\n"))
        status, headers, body = self.client.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        self.assertIn(b"profileguard_profiles 7\n", body)
        self.assertIn(b"profileguard_admission_duration_seconds_bucket", body)
        # The plain-HTTP listener of --metrics-addr.
        c = http.client.HTTPConnection("127.0.0.1", self.server.metrics_port, timeout=5)
        for path in ("/healthz", "/readyz", "/metrics"):
            c.request("GET", path)
            r = c.getresponse()
            self.assertEqual(r.status, 200, path)
            r.read()
        c.request("POST", "/validate/pods", body=b"{}")
        r = c.getresponse()
        self.assertEqual(r.status, 404)
        r.read()
        c.close()

    # --- decisions ---------------------------------------------------------

    def test_allowed(self):
        r = self.client.review(review(example("examples/manifests/good/payments-pod.yaml")))
        self.assertEqual(r, {"uid": UID, "allowed": True})

    def test_denied_exact_messages(self):
        r = self.client.review(review(example("examples/manifests/bad/payments-latest-image.yaml"),
                                      uid="deny-1"))
        self.assertEqual(r, {"uid": "deny-1", "allowed": False,
                             "status": {"code": 403, "reason": "Forbidden", "message": PAYMENTS_LATEST}})
        line = self.server.wait_log(lambda l: l.get("msg") == "admission denied" and l.get("uid") == "deny-1")
        self.assertEqual(line["reasons"], PAYMENTS_LATEST)
        self.assertEqual((line["kind"], line["namespace"], line["name"]), ("Pod", "payments", "payments-api-debug"))
        # Never the object body: the compliant container's digest is in the
        # request, not in any reason.
        for l in self.server.lines():
            self.assertNotIn("682a1c47a1d34030b53d929d93f628b8e80e292b915f8c0e8d8fb51b3b7be968", json.dumps(l))

    def test_audit_warnings(self):
        r = self.client.review(review(example("examples/manifests/bad/batch-audit.yaml")))
        self.assertTrue(r["allowed"])
        self.assertEqual(r["warnings"], [
            "spec.template.spec.containers[0].image: \"python:3.12-slim\" not allowed by batch/batch-jobs images.allow",
            "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation: unset (defaults to true) "
            "forbidden by batch/batch-jobs privileges.privilegeEscalation",
            "spec.template.spec.containers[0].securityContext.capabilities.add[0]: \"NET_RAW\" not allowed by "
            "batch/batch-jobs privileges.allowedCapabilities"])

    def test_good_examples_all_allowed(self):
        good = os.path.join(ARGS.srcdir, "examples", "manifests", "good")
        judged = 0
        for name in sorted(os.listdir(good)):
            for obj in docs(os.path.join(good, name)):
                if obj["kind"] in ("ConfigMap", "Service"):
                    continue
                r = self.client.review(review(obj))
                self.assertEqual(r, {"uid": UID, "allowed": True}, name)
                judged += 1
        self.assertEqual(judged, 6)

    def test_every_template_kind(self):
        wraps = {
            "Deployment": ("apps/v1", lambda t: {"selector": {"matchLabels": {"app": "frontend"}}, "template": t},
                           "spec.template.spec"),
            "ReplicaSet": ("apps/v1", lambda t: {"template": t}, "spec.template.spec"),
            "StatefulSet": ("apps/v1", lambda t: {"serviceName": "s", "template": t}, "spec.template.spec"),
            "DaemonSet": ("apps/v1", lambda t: {"template": t}, "spec.template.spec"),
            "Job": ("batch/v1", lambda t: {"template": t}, "spec.template.spec"),
            "CronJob": ("batch/v1", lambda t: {"schedule": "@daily", "jobTemplate": {"spec": {"template": t}}},
                        "spec.jobTemplate.spec.template.spec"),
        }
        tmpl = {"metadata": {"labels": {"app": "frontend"}},
                "spec": {"automountServiceAccountToken": False, "securityContext": {"runAsNonRoot": True},
                         "containers": [{"name": "c", "image": "evil.example.com/x:1"}]}}
        for kind, (api, wrap, path) in wraps.items():
            obj = {"apiVersion": api, "kind": kind, "metadata": {"name": "t", "namespace": "web"},
                   "spec": wrap(tmpl)}
            r = self.client.review(review(obj))
            self.assertFalse(r["allowed"], kind)
            self.assertEqual(r["status"]["message"],
                             path + ".containers[0].image: \"evil.example.com/x:1\" not allowed by web/frontend images.allow",
                             kind)
        # The example Deployment: init container and container both named.
        r = self.client.review(review(example("examples/manifests/bad/web-deployment.yaml")))
        self.assertEqual(r["status"]["message"].count("; "), 2)
        self.assertTrue(r["status"]["message"].startswith("spec.template.spec.initContainers[0].image"))

    def test_legacy_token_secret(self):
        """The same messages as `profileguard check`, legacy token Secrets included."""
        path = os.path.join(ARGS.srcdir, "examples", "manifests", "bad", "payments-legacy-token.yaml")
        out = subprocess.run([ARGS.binary, "check", "-p", os.path.join(ARGS.srcdir, "examples", "profiles"),
                              "-f", path, "-o", "json"], capture_output=True, text=True)
        expect = "; ".join(v["message"] for v in json.loads(out.stdout)["results"][0]["violations"])
        self.assertIn("is a legacy service-account token Secret", expect)
        r = self.client.review(review(example("examples/manifests/bad/payments-legacy-token.yaml", "Pod")))
        self.assertEqual(r["status"]["message"], expect)

    def test_ephemeral_containers(self):
        pod = example("examples/manifests/good/shop-pod.yaml")
        new = json.loads(json.dumps(pod))
        new["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "busybox:1.36",
                                               "securityContext": {"privileged": True}}]
        r = self.client.review(review(new, op="UPDATE", subresource="ephemeralcontainers", old=pod))
        self.assertFalse(r["allowed"])
        self.assertEqual(r["status"]["message"],
                         "spec.ephemeralContainers[0].image: \"busybox:1.36\" not allowed by shop/cart-images images.allow; "
                         "spec.ephemeralContainers[0].image: \"busybox:1.36\" has no @sha256 digest, one is required by "
                         "shop/cart-images images.requireDigest")

    def test_delete_and_dry_run(self):
        bad = example("examples/manifests/bad/payments-privileged.yaml")
        r = self.client.review(review(None, op="DELETE", ns="payments", old=bad))
        self.assertEqual(r, {"uid": UID, "allowed": True})
        r = self.client.review(review(bad, dry_run=True))
        self.assertFalse(r["allowed"])
        self.assertEqual(r["status"]["message"].count("; "), 5)

    def test_ignored_namespaces(self):
        bad = example("examples/manifests/bad/payments-privileged.yaml")
        r = self.client.review(review(bad))
        self.assertFalse(r["allowed"])
        for ns in ("payments-ignored", "profileguard-system"):
            obj = json.loads(json.dumps(bad))
            obj["metadata"]["namespace"] = ns
            r = self.client.review(review(obj))
            self.assertEqual(r, {"uid": UID, "allowed": True}, ns)

    def test_workloadprofile_validation(self):
        bad = example("examples/broken/bad-profile.yaml")
        r = self.client.review(review(bad), path="/validate/workloadprofiles?timeout=5s")
        self.assertEqual(r["status"], {
            "code": 422, "reason": "Invalid",
            "message": "spec.selector: an empty selector is refused: select pods with matchLabels or matchExpressions; "
                       "spec.mode: \"Enforcing\" must be Enforce or Audit; "
                       "spec.identity.serviceAcountNames: unknown field (did you mean \"serviceAccountNames\"?); "
                       "spec.runtime.egress[0].ports[1]: 70000 is not a port (1-65535); "
                       "spec.runtime.egress[1].cidr: \"10.0.0.0/33\" is not a CIDR"})
        good = example("examples/profiles/payments-api.yaml")
        r = self.client.review(review(good), path="/validate/workloadprofiles")
        self.assertEqual(r, {"uid": UID, "allowed": True})

    # --- bad input ---------------------------------------------------------------

    def test_bounds_token_overflow_pod(self):
        """17 projected volumes of 1,024 token sources and 1,100 env entries
        (1.2 MB, under --max-request-bytes and etcd's limit) overflowed the
        decoder's tokens array: one review killed the webhook before any
        namespace or profile was consulted.  Now it is refused, naming the
        cap, and the server goes on serving."""
        GOOD = ("registry.example.com/payments/api@sha256:"
                "682a1c47a1d34030b53d929d93f628b8e80e292b915f8c0e8d8fb51b3b7be968")
        vols = [{"name": "t%d" % v, "projected": {"sources": [
            {"serviceAccountToken": {"path": "t%d" % i, "expirationSeconds": 3600}} for i in range(1024)]}}
            for v in range(17)]
        env = [{"name": "E%d" % i, "value": "v"} for i in range(1100)]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "overflow", "namespace": "payments", "labels": {"app": "payments-api"}},
               "spec": {"volumes": vols, "containers": [{"name": "c", "image": GOOD, "env": env}]}}
        body = json.dumps(review(pod, uid="overflow-1")).encode()
        self.assertTrue(1_000_000 < len(body) < 1_500_000, len(body))
        c = Client(self.server.port, timeout=30)
        try:
            r = c.review(review(pod, uid="overflow-1"))
        finally:
            c.close()
        self.assertFalse(r["allowed"])
        self.assertEqual(r["status"]["code"], 400)
        self.assertIn("spec.volumes: more than 16384 projected sources in all volumes together "
                      "(profileguard's limit)", r["status"]["message"])
        self.assertEqual(self.server.proc.poll(), None, "the webhook exited")
        self.test_allowed()

    def test_nul_in_image(self):
        """A NUL in the image is refused with its path: it was judged as the
        part before the NUL, here a name the payments registry allows."""
        pod = example("examples/manifests/good/payments-pod.yaml")
        bad = json.loads(json.dumps(pod))
        bad["spec"]["containers"][0]["image"] = "registry.example.com/payments/x\u0000evil.com/x"
        r = self.client.review(review(bad, uid="nul-1"))
        self.assertFalse(r["allowed"])
        self.assertIn("spec.containers[0].image: must not contain NUL", r["status"]["message"])
        self.test_allowed()

    def test_malformed(self):
        cases = [
            (b"this is not json", "request body is not valid JSON: unexpected token at byte 0"),
            (b"[]", "request body must be a JSON object"),
            (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(), "request is missing"),
            (json.dumps(review({"kind": "Pod"}, uid="")).encode(), "request.uid is missing"),
            (b"", "empty request body"),
        ]
        for body, err in cases:
            status, headers, data = self.client.request("POST", "/validate/pods", body)
            self.assertEqual(status, 400, body)
            self.assertEqual(headers["Content-Type"], "application/json")
            self.assertEqual(json.loads(data), {"error": err})
        # The connection survived every one of them.
        self.test_allowed()

    def test_wrong_method_and_path(self):
        status, headers, data = self.client.request("GET", "/validate/pods")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "POST")
        status, headers, _ = self.client.request("POST", "/healthz", b"x")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "GET, HEAD")
        c = Client(self.server.port)
        status, _, data = c.request("GET", "/validate/podz")
        self.assertEqual((status, json.loads(data)), (404, {"error": "not found"}))
        c.close()
        # With curl as well: the query string is not part of the path.
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", self.ca,
                              "-X", "PUT", "https://127.0.0.1:%d/validate/pods?timeout=10s" % self.server.port],
                             capture_output=True, text=True)
        self.assertEqual(out.stdout, "405")

    def test_oversize(self):
        limit = 3 * 1024 * 1024 + 64 * 1024
        obj = example("examples/manifests/good/misc-pod.yaml")
        base = json.dumps(review(obj)).encode()

        def padded(size):
            o = json.loads(json.dumps(obj))
            o["metadata"]["annotations"] = {"pad": ""}
            b0 = len(json.dumps(review(o)).encode())
            o["metadata"]["annotations"]["pad"] = "x" * (size - b0)
            b = json.dumps(review(o)).encode()
            assert len(b) == size
            return b

        c = Client(self.server.port, timeout=30)
        status, _, data = c.request("POST", "/validate/pods", padded(limit))
        self.assertEqual(status, 200, data[:200])
        self.assertTrue(json.loads(data)["response"]["allowed"])
        status, _, data = c.request("POST", "/validate/pods", padded(limit + 1))
        self.assertEqual((status, json.loads(data)), (413, {"error": "request body too large"}))
        c.close()
        # curl announces 4 MiB with Expect: 100-continue: refused before the body.
        big = os.path.join(self.tmp, "big.json")
        with open(big, "wb") as f:
            f.write(base[:-2] + b" " * (4 << 20) + base[-2:])
        out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "--cacert", self.ca, "-H",
                              "Content-Type: application/json", "--data-binary", "@" + big,
                              "https://127.0.0.1:%d/validate/pods" % self.server.port],
                             capture_output=True, text=True)
        self.assertEqual(out.stdout.splitlines()[-1], "413")
        # Chunked, no length announced: counted as it arrives.
        out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "--cacert", self.ca, "-H",
                              "Transfer-Encoding: chunked", "--data-binary", "@" + big,
                              "https://127.0.0.1:%d/validate/pods" % self.server.port],
                             capture_output=True, text=True)
        self.assertEqual(out.stdout.splitlines()[-1], "413")

    def test_slow_clients(self):
        """A slowloris dripping headers and a client dripping its body,
        while other requests are served at full speed; the stalled and the
        too-slow ones are cut."""
        ctx = CERTS.context()
        stop = threading.Event()

        def drip(sock):
            try:
                sock.sendall(b"POST /validate/pods HTTP/1.1\r\nHost: x\r\n")
                while not stop.is_set():
                    sock.sendall(b"X")
                    time.sleep(0.3)
            except OSError:
                pass

        loris = [ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.server.port)),
                                 server_hostname="localhost") for _ in range(8)]
        threads = [threading.Thread(target=drip, args=(s,), daemon=True) for s in loris]
        for t in threads:
            t.start()
        ok = review(example("examples/manifests/good/payments-pod.yaml"))
        c = Client(self.server.port)
        worst = 0
        t_end = time.time() + 3
        n = 0
        while time.time() < t_end:
            t0 = time.time()
            self.assertTrue(c.review(ok)["allowed"])
            worst = max(worst, time.time() - t0)
            n += 1
        c.close()
        self.assertGreater(n, 20)
        self.assertLess(worst, 0.5)
        stop.set()
        for t in threads:
            t.join()
        # Now stalled: closed by the idle timeout (4 s here).
        t0 = time.time()
        for s in loris:
            s.settimeout(10)
            try:
                self.assertEqual(s.recv(100), b"")
            except (ConnectionResetError, ssl.SSLError):
                pass
            s.close()
        self.assertLess(time.time() - t0, 9)

        # A body dripped past the API server's deadline (?timeout=2s) is cut,
        # although each byte arrives well inside the idle timeout.
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.server.port)), server_hostname="localhost")
        s.sendall(b"POST /validate/pods?timeout=2s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000\r\n\r\n{")
        t0 = time.time()
        cut = False
        while time.time() - t0 < 10:
            try:
                s.sendall(b" ")
            except OSError:
                cut = True
                break
            time.sleep(0.4)
            s.settimeout(0.01)
            try:
                if s.recv(100) == b"":
                    cut = True
                    break
            except (socket.timeout, ssl.SSLWantReadError):
                pass
            except OSError:
                cut = True
                break
        s.close()
        self.assertTrue(cut)
        self.assertLess(time.time() - t0, 6)

    # --- rotation and reloads -------------------------------------------------

    def test_z1_certificate_rotation(self):
        """Runs late (z): the other tests expect the first certificate."""
        ok = review(example("examples/manifests/good/payments-pod.yaml"))
        held = Client(self.server.port)
        self.assertTrue(held.review(ok)["allowed"])
        sock = held.conn.sock
        self.assertEqual(peer_cn(sock), "webhook-1")

        mark = self.server.mark()
        secret_volume_swap(self.vol, *self.pair2, version=2)
        self.server.wait_log(lambda l: l.get("msg") == "serving certificate reloaded", start=mark)

        # New handshakes get the new certificate: Python, then openssl s_client.
        fresh = Client(self.server.port)
        self.assertTrue(fresh.review(ok)["allowed"])
        self.assertEqual(peer_cn(fresh.conn.sock), "webhook-2")
        fresh.close()
        out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.server.port,
                              "-servername", "localhost", "-CAfile", self.ca],
                             input=b"", capture_output=True, timeout=10)
        self.assertRegex(out.stdout.decode(), r"subject=\s*CN\s*=\s*webhook-2")
        self.assertIn("Verify return code: 0 (ok)", out.stdout.decode())

        # The connection opened before the rotation still works, unbroken.
        for _ in range(3):
            self.assertTrue(held.review(ok)["allowed"])
        self.assertIs(held.conn.sock, sock)
        self.assertEqual(held.reconnects, 0)
        self.assertEqual(peer_cn(sock), "webhook-1")
        deadline = time.time() + 5
        while b"profileguard_tls_certificates_retired 1\n" not in fresh_metrics(self)[2]:
            self.assertLess(time.time(), deadline)
            time.sleep(0.3)
        # Once the connections opened under the old pair are gone, it is freed.
        held.close()
        self.client.close()
        deadline = time.time() + 5
        while b"profileguard_tls_certificates_retired 0\n" not in fresh_metrics(self)[2]:
            self.assertLess(time.time(), deadline)
            time.sleep(0.3)

        # A broken pair (key of another certificate) is refused; the good one stays.
        mark = self.server.mark()
        secret_volume_swap(self.vol, self.pair1[0], self.pair2[1], version=3)
        line = self.server.wait_log(lambda l: l.get("msg", "").startswith("new serving certificate not loaded"),
                                    start=mark)
        self.assertIn("does not hold the key", line["error"])
        fresh = Client(self.server.port)
        self.assertTrue(fresh.review(ok)["allowed"])
        self.assertEqual(peer_cn(fresh.conn.sock), "webhook-2")
        fresh.close()
        status, _, body = self.client.request("GET", "/metrics")
        self.assertIn(b'profileguard_tls_certificate_reloads_total{result="success"} 1\n', body)
        self.assertIn(b'profileguard_tls_certificate_reloads_total{result="failure"} 1\n', body)
        # Back to a good pair, for the tests after this one.
        mark = self.server.mark()
        secret_volume_swap(self.vol, *self.pair1, version=4)
        self.server.wait_log(lambda l: l.get("msg") == "serving certificate reloaded", start=mark)

    def _decision(self, obj):
        return self.client.review(review(obj))

    def _wait_decision(self, obj, pred, timeout=8):
        deadline = time.time() + timeout
        while True:
            r = self._decision(obj)
            if pred(r):
                return r
            if time.time() > deadline:
                self.fail("decision never became the expected one: %r" % r)
            time.sleep(0.2)

    def test_z2_profile_changes(self):
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "t", "namespace": "team", "labels": {"app": "t"}},
               "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
        path = os.path.join(self.profiles, "team", "team.yaml")
        profile = ("apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
                   "metadata: {name: team-images, namespace: team}\n"
                   "spec:\n  selector: {matchLabels: {app: t}}\n  mode: %s\n"
                   "  images: {allow: [\"registry.example.com/*\"]}\n")
        msg = "spec.containers[0].image: \"nginx:1.27\" not allowed by team/team-images images.allow"
        self.assertEqual(self._decision(pod), {"uid": UID, "allowed": True})

        # Added, in a new subdirectory (moved in whole: the walk never
        # meets it empty).
        staging = os.path.join(self.tmp, "team-staging")
        os.mkdir(staging)
        with open(os.path.join(staging, "team.yaml"), "w") as f:
            f.write(profile % "Enforce")
        os.rename(staging, os.path.dirname(path))
        r = self._wait_decision(pod, lambda r: not r["allowed"])
        self.assertEqual(r["status"]["message"], msg)

        # Changed to Audit.
        with open(path + ".tmp", "w") as f:
            f.write(profile % "Audit")
        os.replace(path + ".tmp", path)
        r = self._wait_decision(pod, lambda r: r["allowed"])
        self.assertEqual(r["warnings"], [msg])

        # An invalid file: logged with its errors, the last good set stays.
        mark = self.server.mark()
        bad = os.path.join(self.profiles, "team", "broken.yaml")
        shutil.copy(os.path.join(ARGS.srcdir, "examples", "broken", "bad-profile.yaml"), bad)
        self.server.wait_log(lambda l: l.get("msg") == "profiles not reloaded, keeping the previous set", start=mark)
        line = self.server.wait_log(lambda l: l.get("msg") == "invalid profile input" and
                                    "spec.runtime.egress[1].cidr" in l.get("error", ""), start=mark)
        self.assertIn("broken.yaml: document 1: spec.runtime.egress[1].cidr", line["error"])
        self.assertEqual(self._decision(pod)["warnings"], [msg])
        os.unlink(bad)

        # Deleted (the directory moved out whole, as it came).
        os.rename(os.path.dirname(path), os.path.join(self.tmp, "team-deleted"))
        r = self._wait_decision(pod, lambda r: "warnings" not in r)
        self.assertEqual(r, {"uid": UID, "allowed": True})
        status, _, body = self.client.request("GET", "/metrics")
        self.assertIn(b"profileguard_profiles 7\n", body)

    def test_z2b_profile_file_edited_into_invalid(self):
        """--profiles DIR (SPEC §2): a file edited into an invalid profile
        keeps its last valid version enforced, with its errors logged;
        the next valid version replaces it."""
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "e", "namespace": "edits", "labels": {"app": "e"}},
               "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
        profile = ("apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
                   "metadata: {name: edited, namespace: edits}\n"
                   "spec:\n  selector: {matchLabels: {app: e}}\n  mode: %s\n"
                   "  images: {allow: [\"registry.example.com/*\"]}\n%s")
        msg = "spec.containers[0].image: \"nginx:1.27\" not allowed by edits/edited images.allow"
        path = os.path.join(self.profiles, "edits.yaml")

        def write(text):
            with open(path + ".tmp", "w") as f:
                f.write(text)
            os.replace(path + ".tmp", path)

        write(profile % ("Enforce", ""))
        r = self._wait_decision(pod, lambda r: not r["allowed"])
        self.assertEqual(r["status"]["message"], msg)
        mark = self.server.mark()
        write(profile % ("Enforce", "  runtime: {egress: [{cidr: 10.0.0.0/33}]}\n"))
        self.server.wait_log(lambda l: l.get("msg") == "profiles not reloaded, keeping the previous set", start=mark)
        line = self.server.wait_log(lambda l: l.get("msg") == "invalid profile input", start=mark)
        self.assertIn("edits.yaml: document 1: spec.runtime.egress[0].cidr", line["error"])
        r = self._decision(pod)
        self.assertFalse(r["allowed"], r)
        self.assertEqual(r["status"]["message"], msg)
        write(profile % ("Audit", ""))
        r = self._wait_decision(pod, lambda r: r["allowed"])
        self.assertEqual(r["warnings"], [msg])
        os.unlink(path)
        self._wait_decision(pod, lambda r: r == {"uid": UID, "allowed": True})

    def test_z3_metrics_counted(self):
        status, _, body = self.client.request("GET", "/metrics")
        text = body.decode()
        m = re.search(r'^profileguard_admission_requests_total\{operation="CREATE",kind="Pod",allowed="false"\} (\d+)$',
                      text, re.M)
        self.assertIsNotNone(m, text)
        self.assertGreaterEqual(int(m.group(1)), 3)
        self.assertRegex(text, r'profileguard_admission_requests_total\{operation="CREATE",kind="CronJob",allowed="false"\} 1\n')
        self.assertRegex(text, r'profileguard_admission_requests_total\{operation="DELETE",kind="Pod",allowed="true"\} 1\n')
        self.assertRegex(text, r'profileguard_admission_skipped_total\{reason="namespace"\} 2\n')
        self.assertRegex(text, r'profileguard_webhook_http_responses_total\{path="/validate/pods",code="413"\} \d+\n')
        self.assertRegex(text, r'\nprocess_resident_memory_bytes \d+\n')
        for l in self.server.lines():
            self.assertNotEqual(l.get("msg"), "UNPARSEABLE", l)


class ConnectionLimit(unittest.TestCase):
    """--max-connections: one slot in eight is kept for new clients.  Up to
    the mark every connection is kept; past it, a new connection makes room
    by closing the one that has waited longest for its request, else the
    one idle longest, and the log names the cap."""

    def test_cap(self):
        tmp = scratch("pg-webhook-cap-")
        crt, key = CERTS.mint_server("cap")
        server = start_webhook(tmp, crt, key, os.path.join(ARGS.srcdir, "examples", "profiles"),
                               ["--max-connections", "8", "--max-connections-per-ip", "0",
                                "--threads", "1"])
        # Reviews, not GETs: libmicrohttpd closes a connection whose answer
        # goes out before a body could be read.
        rv = review(example("examples/manifests/good/payments-pod.yaml"))

        def ok(c):
            return c.request("POST", "/validate/pods", rv, retry=False)[0] == 200

        held = [Client(server.port) for _ in range(7)]
        try:
            for c in held:
                self.assertTrue(ok(c))
            # At the mark (8 - 8/8): nothing is closed.
            time.sleep(0.6)
            for c in held:
                self.assertTrue(ok(c))
            mark = server.mark()
            # One past it: the new connection is served, the longest idle closed.
            extra = Client(server.port)
            self.assertTrue(ok(extra))
            line = server.wait_log(lambda l: "--max-connections nearly reached" in l.get("msg", ""),
                                   5, start=mark)
            self.assertEqual((line["closed"], line["cap"]), ("1", "8"))
            with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError,
                                    BrokenPipeError, ssl.SSLEOFError)):
                ok(held[0])
            for c in held[1:]:
                self.assertTrue(ok(c))
            extra.close()
            self.assertEqual(server.metric("profileguard_webhook_connections_closed_total",
                                           reason="evicted"), 1)
        finally:
            for c in held:
                c.close()
        self.assertEqual(server.stop(), 0)
        self.assertEqual(server.lines()[-1]["msg"], "webhook stopped")


class NotReady(unittest.TestCase):
    """A profiles directory with an error at start: not ready, no decision."""

    def test_not_ready_until_valid(self):
        tmp = scratch("pg-webhook-nr-")
        crt, key = CERTS.mint_server("nr")
        prof = os.path.join(tmp, "profiles")
        os.mkdir(prof)
        shutil.copy(os.path.join(ARGS.srcdir, "examples", "broken", "bad-profile.yaml"), prof)
        server = start_webhook(tmp, crt, key, prof)
        c = Client(server.port)
        self.assertEqual(c.request("GET", "/readyz")[:3:2], (503, b"profiles not loaded\n"))
        status, _, data = c.request("POST", "/validate/pods",
                                    review(example("examples/manifests/good/misc-pod.yaml")))
        self.assertEqual((status, json.loads(data)), (503, {"error": "profiles are not loaded yet"}))
        # Fixed on disk: ready without a restart.
        os.unlink(os.path.join(prof, "bad-profile.yaml"))
        shutil.copy(os.path.join(ARGS.srcdir, "examples", "profiles", "frontend.yaml"), prof)
        deadline = time.time() + 8
        while c.request("GET", "/readyz")[0] != 200:
            self.assertLess(time.time(), deadline)
            time.sleep(0.2)
        c.close()
        self.assertEqual(server.stop(), 0)


class Drain(unittest.TestCase):
    """SIGTERM: for --shutdown-delay the server still serves (new
    connections too) but /readyz says 503 and responses close their
    connection, so the API server moves to the other replicas while the
    endpoint goes; then the listener closes, the request in flight
    finishes, and the process exits 0."""

    def test_sigterm_drains(self):
        tmp = scratch("pg-webhook-drain-")
        crt, key = CERTS.mint_server("drain")
        server = start_webhook(tmp, crt, key, os.path.join(ARGS.srcdir, "examples", "profiles"),
                               ["--shutdown-delay", "2", "--shutdown-timeout", "10"])
        idle = Client(server.port)
        self.assertEqual(idle.request("GET", "/readyz")[0], 200)
        body = json.dumps(review(example("examples/manifests/bad/payments-latest-image.yaml"))).encode()
        ctx = CERTS.context()
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", server.port)), server_hostname="localhost")
        s.sendall(b"POST /validate/pods HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body[:100])
        time.sleep(0.3)
        mark = server.mark()
        t_term = time.time()
        server.proc.send_signal(signal.SIGTERM)
        server.wait_log(lambda l: l.get("msg") == "shutting down: not ready, still serving", start=mark)
        # The delay: not ready, still serving, on old and new connections.
        status, headers, data = idle.request("GET", "/readyz", retry=False)
        self.assertEqual((status, data, headers.get("Connection")), (503, b"shutting down\n", "close"))
        fresh = Client(server.port)
        self.assertEqual(fresh.request("GET", "/readyz")[0], 503)
        status, headers, data = fresh.request("POST", "/validate/pods?timeout=10s", body)
        self.assertEqual(status, 200)
        self.assertFalse(json.loads(data)["response"]["allowed"])
        fresh.close()
        # Then the listener closes; the request in flight holds the exit.
        server.wait_log(lambda l: l.get("msg") == "shutting down: draining requests in flight", start=mark)
        self.assertGreaterEqual(time.time() - t_term, 1.8)
        deadline = time.time() + 3
        while True:
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            except OSError:
                break
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)
        self.assertIsNone(server.proc.poll())
        s.sendall(body[100:])
        resp = b""
        while b"\r\n\r\n" not in resp or not resp.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
        head, _, payload = resp.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertIn(b"Connection: close", head)
        self.assertFalse(json.loads(payload)["response"]["allowed"])
        s.close()
        idle.close()
        server.proc.wait(15)
        self.assertEqual(server.stop(), 0)
        self.assertEqual(server.lines()[-1]["msg"], "webhook stopped")


class NamespaceIsolation(unittest.TestCase):
    """One namespace's reviews that are slow to judge (1,000 containers
    against 1,000 wildcard patterns whose every segment must be tried,
    slow for any linear matcher: about two seconds of CPU each) do not hold
    another namespace's review: it is answered while they are still being
    judged."""

    # More than the connection threads (2), so every one is busy; few enough
    # that the pool's two workers for the namespace judge them all well
    # inside their ?timeout=30s on a loaded machine (past it a queued review
    # gets 503 unjudged, by design).
    SLOW = 4

    @staticmethod
    def slow_inputs():
        # 1,000 distinct patterns: 401..500 "a" segments, then "b", then a
        # tail.  The image has one "b" after 400 "a"s, so every segment but
        # the last matches: a matcher has to walk them all, in order or not.
        pats = ["registry.example.com/" + "a*" * (401 + i % 100) + "b*" + "a" * (1 + i // 100) + "*"
                for i in range(1000)]
        image = "registry.example.com/" + "a" * 400 + "b" + "a" * 560 + ":1"
        prof = h.profile("slow", "many", {"mode": "Enforce", "images": {"allow": pats}},
                         selector={"matchLabels": {"app": "slow"}})
        pod = h.pod("slow", "big", labels={"app": "slow"},
                    spec={"containers": [{"name": "c%d" % i, "image": image}
                                         for i in range(250 if h.sanitized(ARGS.binary) else 1000)]})
        return prof, pod

    @staticmethod
    def pooled_inputs():
        """A namespace whose reviews go to the judging pool (its profile is
        too big for the in-place bound: 4,000 patterns) but are quick to
        judge: one image against exact names."""
        pats = ["registry.example.com/team/app-%04d:1.0" % i for i in range(4000)]
        prof = h.profile("pooled", "big-list", {"images": {"allow": pats}},
                         selector={"matchLabels": {"app": "pooled"}})
        pod = h.pod("pooled", "quick", image="registry.example.com/team/app-3999:1.0",
                    labels={"app": "pooled"})
        return prof, pod

    def test_slow_namespace_does_not_hold_another(self):
        tmp = scratch("pg-webhook-iso-")
        crt, key = CERTS.mint_server("iso")
        prof_dir = os.path.join(tmp, "profiles")
        os.mkdir(prof_dir)
        prof, slow_pod = self.slow_inputs()
        with open(os.path.join(prof_dir, "slow.json"), "w") as f:
            json.dump(prof, f)
        pooled_prof, pooled_pod = self.pooled_inputs()
        with open(os.path.join(prof_dir, "pooled.json"), "w") as f:
            json.dump(pooled_prof, f)
        shutil.copy(os.path.join(ARGS.srcdir, "examples", "profiles", "payments-api.yaml"), prof_dir)
        server = start_webhook(tmp, crt, key, prof_dir,
                               ["--judge-threads", "4", "--judge-threads-per-namespace", "2"])
        h.wait_for(lambda: server.http("/readyz")[0] == 200, 15, what="ready")
        slow_body = json.dumps(review(slow_pod)).encode()
        fast_rv = review(example("examples/manifests/good/payments-pod.yaml"))
        done = []
        lock = threading.Lock()
        sent = threading.Barrier(self.SLOW + 1)

        def slow(i):
            c = Client(server.port, timeout=120)
            try:
                c.conn.connect()
                sent.wait(30)
                status, _, data = c.request("POST", "/validate/pods?timeout=30s", slow_body,
                                            retry=False)
                with lock:
                    done.append(("slow", time.monotonic(), status, json.loads(data)))
            finally:
                c.close()

        threads = [threading.Thread(target=slow, args=(i,), daemon=True) for i in range(self.SLOW)]
        for t in threads:
            t.start()
        sent.wait(30)
        # The slow bodies (1 MB each) in and being judged.
        time.sleep(0.5)
        with lock:
            self.assertEqual(done, [], "slow reviews answered before they could be held up "
                                       "(the fixture is not slow on this machine)")
        # Judged in place (a usual review), and on the pool beside the slow
        # namespace's (which may hold only half the workers).
        fast = Client(server.port, timeout=120)
        t0 = time.monotonic()
        resp = fast.review(fast_rv)
        t_fast = time.monotonic()
        resp_pooled = fast.review(review(pooled_pod))
        t_pooled = time.monotonic()
        fast.close()
        self.assertTrue(resp["allowed"], resp)
        self.assertTrue(resp_pooled["allowed"], resp_pooled)
        for t in threads:
            t.join(300)
        self.assertEqual(len(done), self.SLOW)
        for _, _, status, out in done:
            self.assertEqual(status, 200)
            self.assertFalse(out["response"]["allowed"])
            self.assertIn("images.allow", out["response"]["status"]["message"])
        first_slow = min(t for _, t, _, _ in done)
        print(f"\nisolation: the other namespace's review took {t_fast - t0:.3f} s (a pooled one "
              f"{t_pooled - t_fast:.3f} s); the first of "
              f"{self.SLOW} slow ones finished {first_slow - t0:.3f} s after it was sent, the last "
              f"{max(t for _, t, _, _ in done) - t0:.3f} s", file=sys.stderr)
        self.assertLess(t_fast, first_slow,
                        "the other namespace's review waited for a slow namespace's judging")
        self.assertLess(t_pooled, first_slow,
                        "a review on the judging pool waited for a slow namespace's judging")
        self.assertEqual(server.stop(), 0)


def standin(tmp, seed, port=0, extra=()):
    """The API stand-in (tests/standin) on @port, its files under @tmp."""
    return h.Standin(ARGS.srcdir, CERTS, tmp, seed=seed, port=port, extra=extra)


WP = "/apis/profileguard.io/v1alpha1/namespaces/%s/workloadprofiles"


class KubeSource(unittest.TestCase):
    """Profiles and ignored namespaces from the API server (informers),
    against the stand-in: sync, readiness, create/update/delete of a
    profile, a namespace label flipped, an invalid profile slipped past
    admission, and watches cut and history compacted underneath."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = scratch("pg-webhook-kube-")
        profiles = []
        for name in sorted(os.listdir(os.path.join(ARGS.srcdir, "examples", "profiles"))):
            profiles += docs(os.path.join(ARGS.srcdir, "examples", "profiles", name))
        quiet = json.loads(json.dumps(profiles[[p["metadata"]["name"] for p in profiles].index("payments-api")]))
        quiet["metadata"]["namespace"] = "quiet"
        seed = [h.namespace("quiet", {"profileguard.io/ignore": "true"}),
                h.namespace("team")] + profiles + [quiet]
        seed.append(example("examples/manifests/bad/payments-legacy-token.yaml", "Secret"))
        cls.api = standin(cls.tmp, seed)
        cls.ca = CERTS.ca
        crt, key = CERTS.mint_server("webhook-kube")
        cls.server = start_webhook(cls.tmp, crt, key, None,
                                   ["--kubeconfig", cls.api.kubeconfig,
                                    "--namespace", "profileguard-system", "--watch-token-secrets"])
        cls.client = Client(cls.server.port)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        rc = cls.server.stop()
        cls.api.stop()
        assert rc == 0, "webhook exit status %r; log:\n%s" % (
            rc, "\n".join(json.dumps(l) for l in cls.server.lines()[-40:]))

    def wait_decision(self, obj, pred, timeout=10):
        deadline = time.time() + timeout
        while True:
            r = self.client.review(review(obj))
            if pred(r):
                return r
            if time.time() > deadline:
                self.fail("decision never became the expected one: %r" % r)
            time.sleep(0.1)

    def test_1_synced(self):
        line = self.server.wait_log(lambda l: l.get("msg") == "profiles synced from the API server")
        self.assertEqual((line["profiles"], line["ignored_namespaces"]), ("6", "1"))
        deadline = time.time() + 5
        while self.client.request("GET", "/readyz")[0] != 200:
            self.assertLess(time.time(), deadline)
            time.sleep(0.1)
        r = self.client.review(review(example("examples/manifests/bad/payments-latest-image.yaml")))
        self.assertEqual(r["status"]["message"], PAYMENTS_LATEST)
        bad = example("examples/manifests/bad/payments-privileged.yaml")
        bad["metadata"]["namespace"] = "quiet"
        self.assertEqual(self.client.review(review(bad)), {"uid": UID, "allowed": True})

    def test_1b_legacy_token_secret(self):
        r = self.client.review(review(example("examples/manifests/bad/payments-legacy-token.yaml", "Pod")))
        self.assertEqual(r["status"]["message"].count("is a legacy service-account token Secret"), 3)

    def test_2_profile_lifecycle(self):
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "t", "namespace": "team", "labels": {"app": "t"}},
               "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
        prof = {"apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
                "metadata": {"name": "team-images", "namespace": "team"},
                "spec": {"selector": {"matchLabels": {"app": "t"}}, "mode": "Enforce",
                         "images": {"allow": ["registry.example.com/*"]}}}
        msg = "spec.containers[0].image: \"nginx:1.27\" not allowed by team/team-images images.allow"
        self.assertEqual(self.client.review(review(pod)), {"uid": UID, "allowed": True})
        self.api.kube("POST", WP % "team", prof)
        r = self.wait_decision(pod, lambda r: not r["allowed"])
        self.assertEqual(r["status"]["message"], msg)
        self.api.patch_profile("team", "team-images", {"mode": "Audit"})
        r = self.wait_decision(pod, lambda r: r["allowed"])
        self.assertEqual(r["warnings"], [msg])
        self.api.kube("DELETE", WP % "team" + "/team-images")
        self.wait_decision(pod, lambda r: r == {"uid": UID, "allowed": True})

    def test_3_namespace_label(self):
        bad = example("examples/manifests/bad/payments-latest-image.yaml")
        self.api.kube("PATCH", "/api/v1/namespaces/payments",
                      {"metadata": {"labels": {"profileguard.io/ignore": "true"}}},
                      ctype="application/merge-patch+json")
        self.wait_decision(bad, lambda r: r["allowed"])
        self.api.kube("PATCH", "/api/v1/namespaces/payments",
                      {"metadata": {"labels": {"profileguard.io/ignore": None}}},
                      ctype="application/merge-patch+json")
        r = self.wait_decision(bad, lambda r: not r["allowed"])
        self.assertEqual(r["status"]["message"], PAYMENTS_LATEST)

    def test_4_invalid_profile_in_cluster(self):
        broken = example("examples/broken/bad-profile.yaml")
        broken["metadata"]["name"] = "slipped-in"
        # Written raw, as if the webhook had been bypassed.
        self.api.put(broken)
        line = self.server.wait_log(lambda l: l.get("msg") == "invalid WorkloadProfile in the cluster is not enforced")
        self.assertEqual((line["namespace"], line["name"]), ("payments", "slipped-in"))
        self.assertIn("spec.runtime.egress[1].cidr", line["errors"])
        r = self.client.review(review(example("examples/manifests/bad/payments-latest-image.yaml")))
        self.assertEqual(r["status"]["message"], PAYMENTS_LATEST)

    def test_4b_profile_edited_into_invalid(self):
        """SPEC §2: a valid profile edited into an invalid one (the webhook
        bypassed) stays enforced at its last valid generation; the next
        valid generation replaces it; deletion drops it."""
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "e", "namespace": "team", "labels": {"app": "e"}},
               "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
        prof = {"apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
                "metadata": {"name": "edited", "namespace": "team"},
                "spec": {"selector": {"matchLabels": {"app": "e"}}, "mode": "Enforce",
                         "images": {"allow": ["registry.example.com/*"]}}}
        msg = "spec.containers[0].image: \"nginx:1.27\" not allowed by team/edited images.allow"
        broken = {"runtime": {"egress": [{"cidr": "10.0.0.0/33", "ports": [443]}]}}

        def invalid_logged(start):
            line = self.server.wait_log(lambda l: l.get("msg", "").startswith("invalid WorkloadProfile in the cluster")
                                        and l.get("name") == "edited", start=start)
            return line

        self.api.kube("POST", WP % "team", prof)
        r = self.wait_decision(pod, lambda r: not r["allowed"])
        self.assertEqual(r["status"]["message"], msg)

        # Generation 2 is invalid: generation 1 stays enforced, and the
        # log says so with the validation messages.
        mark = self.server.mark()
        self.api.patch_profile("team", "edited", broken)
        line = invalid_logged(mark)
        r = self.client.review(review(pod))
        self.assertFalse(r["allowed"], r)
        self.assertEqual(r["status"]["message"], msg)
        self.assertEqual(line["msg"], "invalid WorkloadProfile in the cluster: its last valid generation stays enforced")
        self.assertEqual((line["namespace"], line.get("generation"), line.get("enforced_generation")),
                         ("team", "2", "1"))
        self.assertIn("spec.runtime.egress[0].cidr", line["errors"])
        # A status write (no new generation) is not a new invalidity.
        self.api.kube("PATCH", WP % "team" + "/edited/status", {"status": {"matchedPods": 1}},
                      ctype="application/merge-patch+json")
        time.sleep(0.5)
        self.assertEqual(len([l for l in self.server.lines()[mark:] if l.get("name") == "edited"
                              and l.get("msg", "").startswith("invalid WorkloadProfile")]), 1)
        self.assertFalse(self.client.review(review(pod))["allowed"])

        # Generation 3 is valid (Audit): it replaces generation 1.
        self.api.patch_profile("team", "edited", {"runtime": None, "mode": "Audit"})
        r = self.wait_decision(pod, lambda r: r["allowed"])
        self.assertEqual(r["warnings"], [msg])
        # Generation 4 invalid again: the last valid one is now 3.
        mark = self.server.mark()
        self.api.patch_profile("team", "edited", broken)
        line = invalid_logged(mark)
        self.assertEqual((line.get("generation"), line.get("enforced_generation")), ("4", "3"))
        r = self.client.review(review(pod))
        self.assertTrue(r["allowed"], r)
        self.assertEqual(r["warnings"], [msg])

        # Deleted: dropped, whatever its last valid generation was.
        self.api.kube("DELETE", WP % "team" + "/edited")
        self.wait_decision(pod, lambda r: r == {"uid": UID, "allowed": True})

    def test_4c_restart_while_invalid_restores_from_status(self):
        """SPEC §2 across a rollout: the real controller records the last
        valid generation in the profile's status (enforcedGeneration,
        enforcedSpec); the spec is then edited into an invalid one, and a
        webhook that starts afterwards (never having seen it valid) still
        enforces that generation, read back from status.  A valid spec
        always wins over what status recorded."""
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "r", "namespace": "team", "labels": {"app": "r"}},
               "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
        prof = {"apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
                "metadata": {"name": "restored", "namespace": "team"},
                "spec": {"selector": {"matchLabels": {"app": "r"}}, "mode": "Enforce",
                         "images": {"allow": ["registry.example.com/*"]}}}
        msg = "spec.containers[0].image: \"nginx:1.27\" not allowed by team/restored images.allow"
        tmp = scratch("pg-webhook-restore-")
        crt, key = CERTS.mint_server("webhook-restore")
        flags = ["--kubeconfig", self.api.kubeconfig, "--namespace", "profileguard-system",
                 "--threads", "2"]

        def replica(n):
            w = h.webhook(ARGS.binary, CERTS, tmp, None, flags, name="webhook-r%d" % n,
                          tls=(crt, key), log_level="debug")
            return w, Client(w.port)

        def stop(w, cl):
            cl.close()
            self.assertEqual(w.stop(), 0)

        self.api.kube("POST", WP % "team", prof)
        ctl = h.controller(ARGS.binary, self.api, tmp, "ctl-restore", ["--leader-elect=false"],
                           own_ns="profileguard-system")
        try:
            st = h.wait_for(lambda: (lambda s: s if s.get("enforcedGeneration") == 1 else None)(
                self.api.profile_status("team", "restored")), 15, what="enforcedSpec recorded")
        finally:
            self.assertEqual(ctl.stop(), 0)
        self.assertEqual(st["enforcedSpec"], self.api.one("WorkloadProfile", "team", "restored")["spec"])

        # Generation 2 is invalid (written past the webhook); then the
        # webhook rolls: the new replica never saw generation 1.
        self.api.patch_profile("team", "restored", {"runtime": {"egress": [{"cidr": "10.0.0.0/33"}]}})
        w, cl = replica(1)
        try:
            line = w.wait_log(lambda l: l.get("name") == "restored" and
                              l.get("msg", "").startswith("invalid WorkloadProfile in the cluster"))
            self.assertEqual(line["msg"], "invalid WorkloadProfile in the cluster: its last valid "
                             "generation, restored from status.enforcedSpec, stays enforced")
            self.assertEqual((line["generation"], line["enforced_generation"]), ("2", "1"))
            self.assertIn("spec.runtime.egress[0].cidr", line["errors"])
            r = cl.review(review(pod))
            self.assertFalse(r["allowed"], r)
            self.assertEqual(r["status"]["message"], msg)
        finally:
            stop(w, cl)

        # Generation 3 is valid (Audit) while status still records 1: the
        # current spec wins, before a restart and after one.
        self.api.patch_profile("team", "restored", {"runtime": None, "mode": "Audit"})
        self.assertEqual(self.api.profile_status("team", "restored")["enforcedGeneration"], 1)
        w, cl = replica(2)
        try:
            r = cl.review(review(pod))
            self.assertTrue(r["allowed"], r)
            self.assertEqual(r["warnings"], [msg])
            self.assertFalse([l for l in w.lines() if l.get("name") == "restored"])
        finally:
            stop(w, cl)
        self.api.kube("DELETE", WP % "team" + "/restored")
        self.wait_decision(pod, lambda r: r == {"uid": UID, "allowed": True})

    def test_5_api_server_restarts(self):
        """The API server goes away twice.  Meanwhile the webhook answers
        from its last snapshot and stays ready.  Back the first time with
        its history (resourceVersions go on, as etcd keeps them): the
        watches resume and deliver what changed.  Back the second time
        with its history compacted: the watches get 410, the informers
        relist, and a profile deleted during the outage is dropped."""
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "t", "namespace": "team", "labels": {"app": "u"}},
               "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
        prof = {"apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
                "metadata": {"name": "after-restart", "namespace": "team"},
                "spec": {"selector": {"matchLabels": {"app": "u"}}, "mode": "Enforce",
                         "images": {"allow": []}}}
        bad = example("examples/manifests/bad/payments-latest-image.yaml")
        examples = []
        for name in sorted(os.listdir(os.path.join(ARGS.srcdir, "examples", "profiles"))):
            examples += docs(os.path.join(ARGS.srcdir, "examples", "profiles", name))

        def outage():
            rv = int(self.api.state()["resourceVersion"])
            mark = self.server.mark()
            self.api.stop()
            self.server.wait_log(lambda l: l.get("msg") == "watch of the API server failed, retrying",
                                 start=mark)
            self.assertEqual(self.client.review(review(bad))["status"]["message"], PAYMENTS_LATEST)
            self.assertEqual(self.client.request("GET", "/readyz")[0], 200)
            # Enough objects first that resourceVersions pass the old ones.
            return [h.namespace("filler-%03d" % i) for i in range(rv + 5)]

        port = self.api.port
        filler = outage()
        type(self).api = standin(self.tmp, filler + examples + [prof], port=port)
        r = self.wait_decision(pod, lambda r: not r["allowed"], timeout=30)
        self.assertIn("team/after-restart images.allow", r["status"]["message"])
        self.assertEqual(self.client.review(review(bad))["status"]["message"], PAYMENTS_LATEST)

        filler = outage()
        mark = self.server.mark()
        type(self).api = standin(self.tmp, filler + examples, port=port,
                                 extra=["--compaction-window", "2"])
        self.wait_decision(pod, lambda r: r == {"uid": UID, "allowed": True}, timeout=30)
        self.assertEqual(self.client.review(review(bad))["status"]["message"], PAYMENTS_LATEST)
        status, _, body = self.client.request("GET", "/metrics")
        self.assertIn(b"profileguard_profiles 5\n", body)
        self.assertRegex(body.decode(), r'profileguard_watch_restarts_total\{resource="workloadprofiles"\} [1-9]')


IDR = "/apis/profileguard.io/v1alpha1/namespaces/%s/identityreports"


class IdentityReports(unittest.TestCase):
    """identity.maxRisk at admission from IdentityReports (--watch-identity-reports): a report
    above the ceiling denies, naming its findings; no report (or none yet) allows with a warning;
    a report that changes or goes away is seen live."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = scratch("pg-webhook-idr-")
        prof = {"apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
                "metadata": {"name": "ceiling", "namespace": "team"},
                "spec": {"selector": {"matchLabels": {"app": "t"}}, "mode": "Enforce",
                         "identity": {"maxRisk": "High"}}}
        cls.api = standin(cls.tmp, [h.namespace("team"), prof])
        crt, key = CERTS.mint_server("webhook-idr")
        cls.server = start_webhook(cls.tmp, crt, key, None,
                                   ["--kubeconfig", cls.api.kubeconfig, "--namespace", "profileguard-system",
                                    "--watch-identity-reports"])
        cls.client = Client(cls.server.port)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        rc = cls.server.stop()
        cls.api.stop()
        assert rc == 0, "webhook exit status %r" % rc

    def pod(self, sa):
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "team", "labels": {"app": "t"}},
                "spec": {"serviceAccountName": sa, "containers": [{"name": "c", "image": "i"}]}}

    def wait_decision(self, obj, pred, timeout=10):
        deadline = time.time() + timeout
        while True:
            r = self.client.review(review(obj))
            if pred(r):
                return r
            if time.time() > deadline:
                self.fail("decision never became the expected one: %r" % r)
            time.sleep(0.1)

    def set_status(self, name, level, findings):
        self.api.kube("PATCH", IDR % "team" + "/" + name + "/status",
                      {"status": {"state": "Active", "pods": 1,
                                  "risk": {"level": level, "findings": findings}}},
                      ctype="application/merge-patch+json")

    def test_max_risk(self):
        # Ready first (profiles synced): before that every review is a 503.
        deadline = time.time() + 60
        while self.client.request("GET", "/readyz")[0] != 200:
            self.assertLess(time.time(), deadline, "the webhook never became ready")
            time.sleep(0.1)
        self.wait_decision(self.pod("api"), lambda r: r.get("allowed"))
        warn = ('spec.serviceAccountName: ServiceAccount "api" has no IdentityReport yet, so '
                'team/ceiling identity.maxRisk is not judged')
        r = self.client.review(review(self.pod("api")))
        self.assertEqual((r["allowed"], r.get("warnings")), (True, [warn]))
        # the report appears (its status written as the controller does: after creation)
        self.api.kube("POST", IDR % "team", {"apiVersion": "profileguard.io/v1alpha1", "kind": "IdentityReport",
                                             "metadata": {"name": "api", "namespace": "team"}})
        self.set_status("api", "Critical", [
            {"rule": "read-secrets", "severity": "Critical", "grant": "get,list secrets in team",
             "via": "RoleBinding team/app -> Role team/app"},
            {"rule": "wildcard", "severity": "Medium", "grant": "* configmaps in team",
             "via": "RoleBinding team/app -> Role team/app"}])
        r = self.wait_decision(self.pod("api"), lambda r: not r["allowed"])
        self.assertEqual(r["status"]["message"],
                         'spec.serviceAccountName: ServiceAccount "api" has RBAC risk Critical, above High '
                         '(read-secrets (Critical): get,list secrets in team via RoleBinding team/app -> Role team/app), '
                         'not allowed by team/ceiling identity.maxRisk')
        # another account of the namespace has no report: allowed, warned
        r = self.client.review(review(self.pod("other")))
        self.assertTrue(r["allowed"])
        self.assertEqual(r["warnings"], [warn.replace('"api"', '"other"')])
        # the grant is narrowed: the report says Medium, at or under the ceiling
        self.set_status("api", "Medium", [{"rule": "wildcard", "severity": "Medium",
                                           "grant": "* configmaps in team", "via": "RoleBinding team/app -> Role team/app"}])
        r = self.wait_decision(self.pod("api"), lambda r: r["allowed"])
        self.assertNotIn("warnings", r)
        # the account is deleted with its report: not judged again
        self.api.kube("DELETE", IDR % "team" + "/api")
        r = self.wait_decision(self.pod("api"), lambda r: r.get("warnings") == [warn])
        self.assertTrue(r["allowed"])


class KubeApiFlags(unittest.TestCase):
    """--kube-api-qps/--kube-api-burst: the webhook's API client keeps to
    them (its three informers' lists and watches spread over seconds), and
    values out of range are refused before anything starts."""

    def test_paced_and_refused(self):
        tmp = scratch("pg-webhook-qps-")
        api = standin(tmp, [h.namespace("team")])
        crt, key = CERTS.mint_server("webhook-qps")
        server = None
        try:
            for args, want in ((["--kube-api-qps", "0"], "--kube-api-qps must be a number above 0"),
                               (["--kube-api-burst", "0"], "--kube-api-burst must be 1..")):
                p = subprocess.run([ARGS.binary, "webhook", "--tls-cert", crt, "--tls-key", key,
                                    "--kubeconfig", api.kubeconfig] + args,
                                   capture_output=True, text=True, timeout=20)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(want, p.stderr)
            server = start_webhook(tmp, crt, key, None,
                                   ["--kubeconfig", api.kubeconfig, "--namespace", "profileguard-system",
                                    "--watch-token-secrets", "--kube-api-qps", "2", "--kube-api-burst", "1"])
            server.wait_log(lambda l: l.get("msg") == "profiles synced from the API server", timeout=20)

            def mine():
                reqs = api.requests()
                return [r for r in reqs if (r.get("headers") or {}).get("User-Agent", "")
                        .startswith("profileguard/")]
            deadline = time.time() + 20
            while len(mine()) < 6:      # three lists, three watches
                self.assertLess(time.time(), deadline, "lists and watches not all sent")
                time.sleep(0.2)
            per_second = {}
            for r in mine():
                per_second[r["time"]] = per_second.get(r["time"], 0) + 1
            # A bucket of 1 refilled at 2/s lets 3 through in any second.
            self.assertLessEqual(max(per_second.values()), 3, per_second)
            # Six requests at 2/s take 2.5 s; unpaced they all go in a
            # few milliseconds (the stand-in stamps whole seconds).
            secs = sorted(calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ")) for t in per_second)
            self.assertGreaterEqual(secs[-1] - secs[0], 2, per_second)
        finally:
            rc = server.stop() if server else 0
            api.stop()
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__, prefix="pg-webhook-", options=("--yaml2json",))
    sys.exit(h.run_tests(ARGS, argv))
