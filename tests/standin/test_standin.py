#!/usr/bin/env python3
"""Self-test of the Kubernetes API stand-in (kube_standin.py).

Starts the stand-in as a subprocess over real TLS (with tests/lib/pgharness.py, as the
integration suites do) and checks, with http.client/ssl and a raw chunked-stream reader,
each behaviour the integration tests and the C client rely on.
Standard library only; run directly: python3 tests/standin/test_standin.py
"""

import base64
import http.client
import json
import os
import shutil
import socket
import ssl
import sys
import tempfile
import time
import unittest
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
import pgharness as h  # noqa: E402

META_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
META_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

TOKENS = {
    "admin-token": {"username": "admin", "groups": ["system:masters"]},
    "ro-token": {"username": "viewer", "groups": ["viewers"], "readonly": True},
    "agent-a-token": {
        "username": "system:serviceaccount:profileguard:agent",
        "uid": "0b8f5c1e-agent-a",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:profileguard"],
        "extra": {"authentication.kubernetes.io/node-name": ["node-a"]},
        "audiences": ["https://kubernetes.default.svc"],
        "expirationTimestamp": "2099-01-01T00:00:00Z",
    },
    "expired-token": {"username": "old", "expirationTimestamp": "2001-01-01T00:00:00Z"},
}

SEED = {"items": [
    {"apiVersion": "v1", "kind": "Pod",
     "metadata": {"name": "seeded-pod", "namespace": "seeded", "labels": {"app": "seeded"}},
     "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "nginx"}]},
     "status": {"phase": "Running", "podIP": "10.0.0.9"}},
    {"apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
     "metadata": {"name": "seeded-wp", "namespace": "seeded"},
     "spec": {"selector": {"matchLabels": {"app": "seeded"}}}},
]}

CERTS = None       # h.Certs
WORKDIR = None


def standin(*extra):
    """One stand-in process with its own files, SEED and TOKENS."""
    return h.Standin(SRCDIR, CERTS, WORKDIR, seed=SEED["items"], tokens=TOKENS, extra=extra)


class Client:
    def __init__(self, port, token="admin-token", cert=None):
        self.port = port
        self.token = token
        self.ctx = CERTS.context(cert)

    def connect(self, timeout=15):
        return http.client.HTTPSConnection("localhost", self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None, ctype="application/json", headers=None, conn=None):
        own = conn is None
        conn = conn or self.connect()
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = ctype
        h.update(headers or {})
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            raw = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            ctype_out = hdrs.get("content-type", "")
            obj = json.loads(raw) if raw and ctype_out.startswith("application/json") else raw
            return resp.status, hdrs, obj
        finally:
            if own:
                conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body, kind="merge", **kw):
        ctype = {"merge": "application/merge-patch+json",
                 "strategic": "application/strategic-merge-patch+json",
                 "json": "application/json-patch+json"}[kind]
        return self.request("PATCH", path, body, ctype=ctype, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)


class RawWatch:
    """A watch read straight off the TLS socket, so chunk framing itself is checked."""

    def __init__(self, port, path, token="admin-token", accept="application/json", timeout=10):
        ctx = CERTS.context()
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = ctx.wrap_socket(sock, server_hostname="localhost")
        req = (f"GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
               f"Accept: {accept}\r\nUser-Agent: standin-selftest\r\n\r\n")
        self.sock.sendall(req.encode())
        self.buf = b""
        self.pending = b""
        self.chunk_sizes = []
        self.terminated = False
        head = self._read_until(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            if line:
                k, v = line.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        self.body = None
        if "content-length" in self.headers:
            n = int(self.headers["content-length"])
            while len(self.buf) < n:
                self._fill()
            self.body = json.loads(self.buf[:n])

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def _read_until(self, marker):
        while marker not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _chunk(self):
        size = int(self._read_until(b"\r\n").split(b";")[0], 16)
        while len(self.buf) < size + 2:
            self._fill()
        data, trailer, self.buf = self.buf[:size], self.buf[size:size + 2], self.buf[size + 2:]
        assert trailer == b"\r\n", trailer
        if size == 0:
            self.terminated = True
            return None
        self.chunk_sizes.append(size)
        return data

    def next(self):
        """The next event, or None once the stream ended cleanly."""
        while b"\n" not in self.pending:
            if self.terminated:
                return None
            data = self._chunk()
            if data is None:
                return None
            self.pending += data
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def next_non_bookmark(self):
        while True:
            ev = self.next()
            if ev is None or ev["type"] != "BOOKMARK":
                return ev

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def pod(name, ns, labels=None, phase="Running", node="node-a", **status):
    st = {"phase": phase, "podIP": "10.1.0.%d" % (abs(hash(name)) % 250 + 1),
          "startTime": "2026-01-01T00:00:00Z",
          "containerStatuses": [{"name": "app", "containerID": f"containerd://{uuid.uuid4().hex}"}]}
    st.update(status)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"nodeName": node, "serviceAccountName": "default",
                     "containers": [{"name": "app", "image": "registry.example.com/app@sha256:" + "a" * 64}]},
            "status": st}


STANDIN = None


def setUpModule():
    global CERTS, STANDIN, WORKDIR
    WORKDIR = tempfile.mkdtemp(prefix="standin-selftest-")
    CERTS = h.Certs(SRCDIR, os.path.join(WORKDIR, "certs"))
    STANDIN = standin("--bookmark-interval", "0.2", "--page-expiry-seconds", "60")


def tearDownModule():
    err = STANDIN.stop()
    shutil.rmtree(WORKDIR, ignore_errors=True)
    if err.strip():
        print("stand-in stderr:\n" + err, file=sys.stderr)


class Base(unittest.TestCase):
    def setUp(self):
        self.port = STANDIN.port
        self.c = Client(self.port)
        self.c.delete("/_standin/faults")

    def tearDown(self):
        self.c.delete("/_standin/faults")

    def namespace(self):
        name = "t-" + uuid.uuid4().hex[:10]
        st, _, _ = self.c.post("/api/v1/namespaces", {"metadata": {"name": name}})
        self.assertEqual(st, 201)
        return name

    def create(self, path, obj):
        st, _, out = self.c.post(path, obj)
        self.assertEqual(st, 201, out)
        return out

    def list_rv(self, path):
        st, _, out = self.c.get(path)
        self.assertEqual(st, 200, out)
        return out["metadata"]["resourceVersion"]


class TestStartup(Base):
    def test_banner_port_file_and_kubeconfig(self):
        self.assertEqual(STANDIN.banner(), f"listening on https://127.0.0.1:{self.port}")
        with open(STANDIN.kubeconfig) as f:
            text = f.read()
        self.assertIn(f"server: https://127.0.0.1:{self.port}\n", text)
        with open(CERTS.ca, "rb") as f:
            self.assertIn("certificate-authority-data: " + base64.b64encode(f.read()).decode(), text)
        self.assertIn('token: "admin-token"', text)

    def test_seed(self):
        st, _, out = self.c.get("/api/v1/namespaces/seeded/pods/seeded-pod")
        self.assertEqual(st, 200)
        self.assertEqual(out["status"]["podIP"], "10.0.0.9")
        st, _, out = self.c.get("/apis/profileguard.io/v1alpha1/namespaces/seeded/workloadprofiles/seeded-wp")
        self.assertEqual(out["metadata"]["generation"], 1)
        st, _, _ = self.c.get("/api/v1/namespaces/seeded")
        self.assertEqual(st, 200, "a seeded object's namespace is created")

    def test_health_and_version(self):
        self.assertEqual(Client(self.port, token=None).get("/_standin/healthz")[2], b"ok")
        st, _, out = Client(self.port, token=None).get("/version")
        self.assertEqual(st, 200)
        self.assertEqual(out["major"], "1")


class TestAuth(Base):
    def test_token(self):
        self.assertEqual(self.c.get("/api/v1/namespaces")[0], 200)

    def test_no_credentials(self):
        st, _, out = Client(self.port, token=None).get("/api/v1/namespaces")
        self.assertEqual(st, 401)
        self.assertEqual(out, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                               "status": "Failure", "message": "Unauthorized",
                               "reason": "Unauthorized", "code": 401})

    def test_unknown_and_expired_tokens(self):
        self.assertEqual(Client(self.port, token="nope").get("/api/v1/namespaces")[0], 401)
        self.assertEqual(Client(self.port, token="expired-token").get("/api/v1/namespaces")[0], 401)

    def test_client_certificate(self):
        c = Client(self.port, token=None, cert=CERTS.client)
        self.assertEqual(c.get("/api/v1/namespaces")[0], 200)

    def test_untrusted_client_certificate(self):
        # Python's ssl cannot request a certificate without verifying it, so an untrusted
        # certificate fails the handshake here; the real server answers 401. Both refuse.
        c = Client(self.port, token=None, cert=CERTS.bad_client)
        try:
            st = c.get("/api/v1/namespaces")[0]
        except (ssl.SSLError, ConnectionError, http.client.HTTPException):
            return
        self.assertEqual(st, 401)

    def test_readonly_token(self):
        ro = Client(self.port, token="ro-token")
        self.assertEqual(ro.get("/api/v1/namespaces/default/secrets")[0], 200)
        st, _, out = ro.post("/api/v1/namespaces/default/secrets", {"metadata": {"name": "x"}})
        self.assertEqual(st, 403)
        self.assertEqual(out["reason"], "Forbidden")
        self.assertEqual(out["message"], 'secrets is forbidden: User "viewer" cannot create '
                                         'resource "secrets" in API group "" in the namespace "default"')


class TestCrud(Base):
    def test_pod_lifecycle(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/pods"
        created = self.create(base, pod("p1", ns, {"app": "a"}))
        meta = created["metadata"]
        self.assertEqual((created["kind"], created["apiVersion"]), ("Pod", "v1"))
        self.assertRegex(meta["uid"], r"^[0-9a-f-]{36}$")
        self.assertRegex(meta["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertTrue(meta["resourceVersion"].isdigit())
        self.assertEqual(created["status"]["phase"], "Running", "pod status is kept as given")

        st, _, got = self.c.get(f"{base}/p1")
        self.assertEqual((st, got), (200, created))

        st, _, lst = self.c.get(base)
        self.assertEqual((lst["kind"], lst["apiVersion"]), ("PodList", "v1"))
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["p1"])
        self.assertNotIn("kind", lst["items"][0], "typed list items carry no kind")
        self.assertTrue(lst["metadata"]["resourceVersion"].isdigit())

        # PUT changes the object but not its status (that is the status subresource's job).
        upd = dict(got, metadata=dict(got["metadata"], labels={"app": "a", "v": "2"}),
                   status={"phase": "Failed"})
        st, _, put = self.c.put(f"{base}/p1", upd)
        self.assertEqual(st, 200, put)
        self.assertEqual(put["metadata"]["labels"]["v"], "2")
        self.assertEqual(put["status"]["phase"], "Running")
        self.assertGreater(int(put["metadata"]["resourceVersion"]), int(meta["resourceVersion"]))

        # A no-op update does not bump resourceVersion.
        st, _, same = self.c.put(f"{base}/p1", put)
        self.assertEqual(same["metadata"]["resourceVersion"], put["metadata"]["resourceVersion"])

        st, _, out = self.c.patch(f"{base}/p1/status", {"status": {"phase": "Succeeded"},
                                                        "metadata": {"labels": {"x": "y"}}})
        self.assertEqual(st, 200, out)
        self.assertEqual(out["status"]["phase"], "Succeeded")
        self.assertNotIn("x", out["metadata"]["labels"], "status writes change status only")

        st, _, out = self.c.patch(f"{base}/p1", {"metadata": {"labels": {"v": None, "m": "1"}}})
        self.assertEqual(out["metadata"]["labels"], {"app": "a", "m": "1"})
        st, _, out = self.c.patch(f"{base}/p1", {"metadata": {"annotations": {"s": "1"}}}, "strategic")
        self.assertEqual((st, out["metadata"]["annotations"]), (200, {"s": "1"}))
        st, _, out = self.c.patch(f"{base}/p1", [
            {"op": "test", "path": "/metadata/labels/app", "value": "a"},
            {"op": "add", "path": "/metadata/labels/j", "value": "k"},
            {"op": "replace", "path": "/metadata/annotations/s", "value": "2"},
            {"op": "remove", "path": "/metadata/labels/m"}], "json")
        self.assertEqual(st, 200, out)
        self.assertEqual(out["metadata"]["labels"], {"app": "a", "j": "k"})
        self.assertEqual(out["metadata"]["annotations"], {"s": "2"})
        rv = out["metadata"]["resourceVersion"]
        st, _, err = self.c.patch(f"{base}/p1", [{"op": "test", "path": "/metadata/labels/app", "value": "zzz"},
                                                 {"op": "add", "path": "/metadata/labels/q", "value": "q"}], "json")
        self.assertEqual((st, err["reason"]), (422, "Invalid"))
        self.assertEqual(self.c.get(f"{base}/p1")[2]["metadata"]["resourceVersion"], rv)
        st, _, err = self.c.request("PATCH", f"{base}/p1", {}, ctype="application/apply-patch+yaml")
        self.assertEqual(st, 415)

        st, _, deleted = self.c.delete(f"{base}/p1")
        self.assertEqual((st, deleted["kind"], deleted["metadata"]["name"]), (200, "Pod", "p1"))
        st, _, out = self.c.get(f"{base}/p1")
        self.assertEqual(st, 404)
        self.assertEqual(out, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                               "status": "Failure", "message": 'pods "p1" not found',
                               "reason": "NotFound", "details": {"name": "p1", "kind": "pods"},
                               "code": 404})

    def test_create_errors_and_generate_name(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/secrets"
        self.create(base, {"metadata": {"name": "s"}, "data": {"k": "dg=="}})
        st, _, out = self.c.post(base, {"metadata": {"name": "s"}})
        self.assertEqual(st, 409)
        self.assertEqual(out, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                               "status": "Failure", "message": 'secrets "s" already exists',
                               "reason": "AlreadyExists", "details": {"name": "s", "kind": "secrets"},
                               "code": 409})
        out = self.create(base, {"metadata": {"generateName": "gen-"}})
        self.assertRegex(out["metadata"]["name"], r"^gen-[a-z0-9]{5}$")
        self.assertEqual(out["type"], "Opaque")
        st, _, out = self.c.post(base, {"metadata": {"name": "s2", "namespace": "other"}})
        self.assertEqual((st, out["reason"]), (400, "BadRequest"))
        st, _, out = self.c.post(base, {"metadata": {}})
        self.assertEqual((st, out["reason"]), (422, "Invalid"))
        st, _, out = self.c.post(base, {"metadata": {"name": "Bad_Name"}})
        self.assertEqual((st, out["reason"]), (422, "Invalid"))
        st, _, out = self.c.post("/api/v1/namespaces/does-not-exist/secrets", {"metadata": {"name": "s"}})
        self.assertEqual((st, out["message"]), (404, 'namespaces "does-not-exist" not found'))
        st, _, out = self.c.post(base, {"apiVersion": "apps/v1", "metadata": {"name": "s3"}})
        self.assertEqual(st, 400)
        st, _, out = self.c.post(base + "?dryRun=All", {"metadata": {"name": "dry"}})
        self.assertEqual(st, 201)
        self.assertEqual(self.c.get(base + "/dry")[0], 404, "dryRun stores nothing")
        st, _, out = self.c.delete(base + "/s")
        self.assertEqual((st, out["kind"], out["status"]), (200, "Status", "Success"))
        self.assertEqual(out["details"]["name"], "s")

    def test_conflicts(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/pods"
        p = self.create(base, pod("c1", ns))
        st, _, _ = self.c.patch(f"{base}/c1", {"metadata": {"labels": {"n": "1"}}})
        st, _, out = self.c.put(f"{base}/c1", p)  # p carries the old resourceVersion
        self.assertEqual(st, 409)
        self.assertEqual(out["reason"], "Conflict")
        self.assertEqual(out["message"], f'Operation cannot be fulfilled on pods "c1": the object has been '
                                         f'modified; please apply your changes to the latest version and try again')
        st, _, out = self.c.patch(f"{base}/c1", {"metadata": {"resourceVersion": "1", "labels": {"z": "z"}}})
        self.assertEqual(st, 409, "a resourceVersion in a patch is a precondition")

        st, _, out = self.c.delete(f"{base}/c1", {"kind": "DeleteOptions", "apiVersion": "v1",
                                                  "preconditions": {"uid": "not-the-uid"}})
        self.assertEqual((st, out["reason"]), (409, "Conflict"))
        self.assertIn("Precondition failed: UID in precondition: not-the-uid", out["message"])
        st, _, out = self.c.delete(f"{base}/c1", {"preconditions": {"resourceVersion": "1"}})
        self.assertEqual(st, 409)
        self.assertIn("Precondition failed: ResourceVersion in precondition: 1", out["message"])
        st, _, out = self.c.delete(f"{base}/c1", {"preconditions": {"uid": p["metadata"]["uid"]}})
        self.assertEqual(st, 200)

    def test_finalizers_hold_deletion(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/secrets"
        self.create(base, {"metadata": {"name": "f", "finalizers": ["example.com/hold"]}})
        st, _, out = self.c.delete(f"{base}/f")
        self.assertEqual(st, 200)
        st, _, out = self.c.get(f"{base}/f")
        self.assertIn("deletionTimestamp", out["metadata"])
        self.c.patch(f"{base}/f", {"metadata": {"finalizers": None}})
        self.assertEqual(self.c.get(f"{base}/f")[0], 404)

    def test_namespace_delete_cascades(self):
        ns = self.namespace()
        self.create(f"/api/v1/namespaces/{ns}/pods", pod("x", ns))
        st, _, out = self.c.delete(f"/api/v1/namespaces/{ns}")
        self.assertEqual((st, out["kind"]), (200, "Namespace"))
        self.assertEqual(self.c.get(f"/api/v1/namespaces/{ns}/pods/x")[0], 404)

    def test_graceful_delete_knob(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/pods"
        self.create(base, pod("g", ns))
        self.c.post("/_standin/faults", {"graceful_delete": True})
        st, _, out = self.c.delete(f"{base}/g", {"gracePeriodSeconds": 1})
        self.assertEqual(st, 200)
        self.assertIn("deletionTimestamp", out["metadata"])
        self.assertEqual(out["metadata"]["deletionGracePeriodSeconds"], 1)
        self.assertEqual(self.c.get(f"{base}/g")[0], 200)
        deadline = time.time() + 4
        while self.c.get(f"{base}/g")[0] == 200 and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.c.get(f"{base}/g")[0], 404)

    def test_leases(self):
        ns = self.namespace()
        base = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
        lease = self.create(base, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                   "metadata": {"name": "profileguard-controller"},
                                   "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}})
        mine = dict(lease, spec=dict(lease["spec"], holderIdentity="b"))
        st, _, renewed = self.c.put(f"{base}/profileguard-controller", mine)
        self.assertEqual((st, renewed["spec"]["holderIdentity"]), (200, "b"))
        st, _, out = self.c.put(f"{base}/profileguard-controller",
                                dict(lease, spec=dict(lease["spec"], holderIdentity="c")))
        self.assertEqual((st, out["reason"]), (409, "Conflict"))
        self.assertEqual(out["details"], {"name": "profileguard-controller",
                                          "group": "coordination.k8s.io", "kind": "leases"})



class TestAdmission(Base):
    """CREATE, UPDATE and DELETE call the matching validating webhooks, as kube-apiserver does."""

    def setUp(self):
        super().setUp()
        import http.server
        import threading

        class Hook(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                req = review["request"]
                judged = req["object"] if req["object"] is not None else req["oldObject"]
                labels = judged["metadata"].get("labels") or {}
                Hook.reviews.append(req)
                resp = {"uid": req["uid"], "allowed": "deny" not in labels}
                if not resp["allowed"]:
                    resp["status"] = {"code": 403, "reason": "Forbidden", "message": "spec.x: no (ns/p rule)"}
                else:
                    resp["warnings"] = ['spec.y: "y" audited (ns/p rule)']
                Hook.seen.append(self.path)
                out = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
        Hook.seen = []
        Hook.reviews = []
        self.hook = Hook
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*CERTS.server)
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        with open(CERTS.ca, "rb") as f:
            self.bundle = base64.b64encode(f.read()).decode()
        self.ns = self.namespace()
        self.c.request("PATCH", f"/api/v1/namespaces/{self.ns}", {"metadata": {"labels": {"admission-test": "yes"}}},
                       ctype="application/merge-patch+json")

    def tearDown(self):
        self.c.request("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/t")
        self.srv.shutdown()
        super().tearDown()

    def register(self, url, policy="Fail", ops=("CREATE",)):
        self.create("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", {
            "metadata": {"name": "t"}, "webhooks": [{
                "name": "pods.test.io", "failurePolicy": policy, "timeoutSeconds": 2, "sideEffects": "None",
                "admissionReviewVersions": ["v1"], "clientConfig": {"url": url, "caBundle": self.bundle},
                "namespaceSelector": {"matchLabels": {"admission-test": "yes"}},
                "rules": [{"operations": list(ops), "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}]})

    def test_update_and_delete_are_judged(self):
        base = f"/api/v1/namespaces/{self.ns}/pods"
        self.create(base, pod("keep", self.ns, {"deny": "1"}))     # before the webhook exists
        self.register(f"https://localhost:{self.srv.server_address[1]}/validate/pods",
                      ops=("CREATE", "UPDATE", "DELETE"))
        self.create(base, pod("p", self.ns))
        # PATCH and PUT: the webhook sees the new object and the old one; a denial stores nothing.
        st, _, out = self.c.patch(f"{base}/p", {"metadata": {"labels": {"deny": "1"}}})
        self.assertEqual((st, out.get("message")), (403, 'admission webhook "pods.test.io" denied '
                                                         'the request: spec.x: no (ns/p rule)'), out)
        req = self.hook.reviews[-1]
        self.assertEqual((req["operation"], req["options"]["kind"]), ("UPDATE", "UpdateOptions"))
        self.assertEqual(req["object"]["metadata"]["labels"], {"deny": "1"})
        self.assertEqual(req["oldObject"]["metadata"].get("labels") or {}, {})
        st, _, cur = self.c.get(f"{base}/p")
        self.assertEqual(cur["metadata"].get("labels") or {}, {})
        cur["metadata"]["labels"] = {"deny": "1"}
        st, _, out = self.c.put(f"{base}/p", cur)
        self.assertEqual(st, 403, out)
        self.assertEqual(self.hook.reviews[-1]["operation"], "UPDATE")
        # An allowed update passes the webhook's warnings on.
        conn = self.c.connect()
        conn.request("PATCH", f"{base}/p", body=json.dumps({"metadata": {"labels": {"ok": "1"}}}),
                     headers={"Authorization": "Bearer admin-token",
                              "Content-Type": "application/merge-patch+json"})
        r = conn.getresponse()
        r.read()
        conn.close()
        self.assertEqual((r.status, r.headers.get_all("Warning")), (200, ['299 - "spec.y: \\"y\\" audited (ns/p rule)"']))
        # DELETE: object null, oldObject the stored pod; a denial keeps it.
        st, _, out = self.c.delete(f"{base}/keep")
        self.assertEqual(st, 403, out)
        req = self.hook.reviews[-1]
        self.assertEqual((req["operation"], req["object"], req["oldObject"]["metadata"]["name"],
                          req["options"]["kind"]), ("DELETE", None, "keep", "DeleteOptions"))
        st, _, _ = self.c.get(f"{base}/keep")
        self.assertEqual(st, 200)
        st, _, _ = self.c.delete(f"{base}/p")
        self.assertEqual(st, 200)
        # pods/status is another resource: the rule for pods does not match it.
        n = len(self.hook.reviews)
        st, _, out = self.c.patch(f"{base}/keep/status", {"status": {"phase": "Running"}})
        self.assertEqual((st, len(self.hook.reviews)), (200, n), out)

    def test_deny_and_warnings(self):
        self.register(f"https://localhost:{self.srv.server_address[1]}/validate/pods")
        st, _, out = self.c.post(f"/api/v1/namespaces/{self.ns}/pods", pod("bad", self.ns, {"deny": "1"}))
        self.assertEqual(st, 403, out)
        self.assertEqual(out["message"], 'admission webhook "pods.test.io" denied the request: spec.x: no (ns/p rule)')
        st, _, _ = self.c.get(f"/api/v1/namespaces/{self.ns}/pods/bad")
        self.assertEqual(st, 404)      # nothing stored
        conn = self.c.connect()
        conn.request("POST", f"/api/v1/namespaces/{self.ns}/pods", body=json.dumps(pod("good", self.ns)),
                     headers={"Authorization": "Bearer admin-token", "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 201)
        self.assertEqual(r.headers.get_all("Warning"), ['299 - "spec.y: \\"y\\" audited (ns/p rule)"'])
        conn.close()
        self.assertTrue(all(p.startswith("/validate/pods?timeout=2s") for p in self.hook.seen), self.hook.seen)
        # another namespace is outside the selector: not called
        other = self.namespace()
        n = len(self.hook.seen)
        self.create(f"/api/v1/namespaces/{other}/pods", pod("x", other, {"deny": "1"}))
        self.assertEqual(len(self.hook.seen), n)

    def test_failure_policy(self):
        self.register("https://localhost:1/validate", policy="Fail")
        st, _, out = self.c.post(f"/api/v1/namespaces/{self.ns}/pods", pod("a", self.ns))
        self.assertEqual(st, 500, out)
        self.assertIn('failed calling webhook "pods.test.io"', out["message"])
        self.c.request("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/t")
        self.register("https://localhost:1/validate", policy="Ignore")
        st, _, out = self.c.post(f"/api/v1/namespaces/{self.ns}/pods", pod("a", self.ns))
        self.assertEqual(st, 201, out)

    def register_service(self, policy="Fail"):
        self.create("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", {
            "metadata": {"name": "t"}, "webhooks": [{
                "name": "pods.test.io", "failurePolicy": policy, "timeoutSeconds": 2, "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "clientConfig": {"service": {"name": "hook", "namespace": self.ns, "path": "/validate/pods"},
                                 "caBundle": self.bundle},
                "namespaceSelector": {"matchLabels": {"admission-test": "yes"}},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}]})

    def test_service_reference_goes_through_endpoint_slices(self):
        # As kube-apiserver: the Service's port 443 by name to the EndpointSlice port, a ready
        # endpoint, TLS verified for <service>.<namespace>.svc.
        self.register_service()
        st, _, out = self.c.post(f"/api/v1/namespaces/{self.ns}/pods", pod("a", self.ns))
        self.assertEqual(st, 500, out)
        self.assertIn('service "hook" not found', out["message"])
        self.create(f"/api/v1/namespaces/{self.ns}/services", {
            "metadata": {"name": "hook"},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}})
        port = self.srv.server_address[1]
        eps = {"metadata": {"name": "hook-x", "labels": {"kubernetes.io/service-name": "hook"}},
               "addressType": "IPv4", "ports": [{"name": "https", "port": port}],
               "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": False}}]}
        base = f"/apis/discovery.k8s.io/v1/namespaces/{self.ns}/endpointslices"
        self.create(base, eps)
        st, _, lst = self.c.get(base + "?labelSelector=kubernetes.io%2Fservice-name%3Dhook")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["hook-x"])
        st, _, out = self.c.post(f"/api/v1/namespaces/{self.ns}/pods", pod("a", self.ns))
        self.assertEqual(st, 500, out)
        self.assertIn('no endpoints available for service "hook"', out["message"])
        # Ready now: dialled, but the server's certificate names localhost, not hook.<ns>.svc.
        eps["endpoints"][0]["conditions"]["ready"] = True
        st, _, _ = self.c.put(f"{base}/hook-x", eps)
        self.assertEqual(st, 200)
        st, _, out = self.c.post(f"/api/v1/namespaces/{self.ns}/pods", pod("a", self.ns))
        self.assertEqual(st, 500, out)
        self.assertIn(f"hook.{self.ns}.svc", out["message"])
        self.assertEqual(self.hook.seen, [])
        # Ignore: the same failure admits the pod.
        self.c.request("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/t")
        self.register_service(policy="Ignore")
        st, _, out = self.c.post(f"/api/v1/namespaces/{self.ns}/pods", pod("a", self.ns))
        self.assertEqual(st, 201, out)


CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "workloadprofiles.profileguard.io"},
       "spec": {"group": "profileguard.io", "scope": "Namespaced",
                "names": {"plural": "workloadprofiles", "singular": "workloadprofile",
                          "kind": "WorkloadProfile", "shortNames": ["wp"]},
                "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                              "subresources": {"status": {}},
                              "additionalPrinterColumns": [
                                  {"name": "MODE", "type": "string", "jsonPath": ".spec.mode"},
                                  {"name": "PODS", "type": "integer", "jsonPath": ".status.matchedPods"},
                                  {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
                              "schema": {"openAPIV3Schema": {
                                  "type": "object", "required": ["spec"], "properties": {
                                      "spec": {"type": "object", "description": "The profile.",
                                               "properties": {
                                                   "mode": {"type": "string", "enum": ["Enforce", "Audit"]},
                                                   "free": {"type": "object",
                                                            "x-kubernetes-preserve-unknown-fields": True}}},
                                      "status": {"type": "object", "properties": {
                                          "matchedPods": {"type": "integer"}}}}}}}]}}
TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")


class TestKubectlFormats(Base):
    """What kubectl needs beyond CRUD: Tables, the CRD behind a custom resource, OpenAPI."""

    CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

    def setUp(self):
        super().setUp()
        self.create(self.CRDS, CRD)
        self.ns = self.namespace()
        self.base = f"/apis/profileguard.io/v1alpha1/namespaces/{self.ns}/workloadprofiles"

    def tearDown(self):
        self.c.request("DELETE", f"{self.CRDS}/workloadprofiles.profileguard.io")
        super().tearDown()

    def test_crd_is_established(self):
        st, _, crd = self.c.get(f"{self.CRDS}/workloadprofiles.profileguard.io")
        self.assertEqual(st, 200, crd)
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        self.assertEqual(conds, {"NamesAccepted": "True", "Established": "True"})
        self.assertEqual(crd["status"]["acceptedNames"]["kind"], "WorkloadProfile")
        self.assertEqual(crd["status"]["storedVersions"], ["v1alpha1"])

    def test_ages_round_as_kubectl_prints_them(self):
        import importlib.util
        spec = importlib.util.spec_from_file_location("kube_standin", os.path.join(HERE, "kube_standin.py"))
        ks = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ks)
        # k8s.io/apimachinery/pkg/util/duration.HumanDuration, at and past each of its steps
        for secs, want in ((-2, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"),
                           (125, "2m5s"), (599, "9m59s"), (600, "10m"), (3 * 3600 - 1, "179m"),
                           (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"), (8 * 3600, "8h"), (47 * 3600, "47h"),
                           (48 * 3600, "2d"), (50 * 3600, "2d2h"), (8 * 86400, "8d"),
                           (2 * 365 * 86400, "2y"), (2 * 365 * 86400 + 86400, "2y1d"), (8 * 365 * 86400, "8y")):
            self.assertEqual(ks.human_duration(secs), want, secs)

    def test_crd_columns_come_from_the_objects(self):
        self.create(self.base, {"metadata": {"name": "a"}, "spec": {"mode": "Audit"}})
        self.create(self.base, {"metadata": {"name": "b"}, "spec": {}})
        st, _, cur = self.c.get(f"{self.base}/a")
        cur["status"] = {"matchedPods": 3}
        st, _, out = self.c.put(f"{self.base}/a/status", cur)
        self.assertEqual(st, 200, out)
        st, _, t = self.c.get(self.base, headers={"Accept": TABLE_ACCEPT})
        self.assertEqual((st, t["kind"], t["apiVersion"]), (200, "Table", "meta.k8s.io/v1"), t)
        self.assertEqual([(c["name"], c["type"]) for c in t["columnDefinitions"]],
                         [("Name", "string"), ("MODE", "string"), ("PODS", "integer"), ("AGE", "date")])
        rows = {r["cells"][0]: r["cells"] for r in t["rows"]}
        self.assertEqual(rows["a"][1:3], ["Audit", 3])
        self.assertEqual(rows["b"][1:3], [None, None], "absent values are null, never made up")
        self.assertRegex(rows["a"][3], r"^\d+s$")
        self.assertEqual(rows["a"] and t["rows"][0]["object"]["kind"], "PartialObjectMetadata")
        self.assertTrue(t["metadata"]["resourceVersion"])
        st, _, one = self.c.get(f"{self.base}/a?includeObject=Object", headers={"Accept": TABLE_ACCEPT})
        self.assertEqual(([r["cells"][:3] for r in one["rows"]], one["rows"][0]["object"]["spec"]),
                         ([["a", "Audit", 3]], {"mode": "Audit"}))

    def test_pod_and_event_tables(self):
        self.create(f"/api/v1/namespaces/{self.ns}/pods", pod("p", self.ns))
        st, _, t = self.c.get(f"/api/v1/namespaces/{self.ns}/pods", headers={"Accept": TABLE_ACCEPT})
        self.assertEqual([c["name"] for c in t["columnDefinitions"] if c["priority"] == 0],
                         ["Name", "Ready", "Status", "Restarts", "Age"])
        self.assertEqual(t["rows"][0]["cells"][:4], ["p", "0/1", "Running", "0"])
        self.create(f"/apis/events.k8s.io/v1/namespaces/{self.ns}/events", {
            "metadata": {"name": "e1"}, "eventTime": "2024-01-01T00:00:00.000000Z", "type": "Warning",
            "reason": "ProfileViolation", "note": "  container x: privileged  ", "action": "Deleted",
            "reportingController": "profileguard.io/controller", "reportingInstance": "c-1",
            "regarding": {"kind": "Pod", "namespace": self.ns, "name": "p"}})
        st, _, t = self.c.get(f"/api/v1/namespaces/{self.ns}/events", headers={"Accept": TABLE_ACCEPT})
        cols = [c["name"] for c in t["columnDefinitions"] if c["priority"] == 0]
        self.assertEqual(cols, ["Last Seen", "Type", "Reason", "Object", "Message"])
        cells = dict(zip([c["name"] for c in t["columnDefinitions"]], t["rows"][0]["cells"]))
        self.assertEqual((cells["Type"], cells["Reason"], cells["Object"], cells["Message"]),
                         ("Warning", "ProfileViolation", "pod/p", "container x: privileged"))
        self.assertRegex(cells["Last Seen"], r"^\d+(y|d)")

    def test_schema_checked_before_storage(self):
        st, _, out = self.c.post(self.base, {"metadata": {"name": "x"}, "spec": {"mode": "Enforcing"}})
        self.assertEqual((st, out["reason"]), (422, "Invalid"), out)
        self.assertEqual(out["message"], 'WorkloadProfile.profileguard.io "x" is invalid: spec.mode: '
                                         'Unsupported value: "Enforcing": supported values: "Enforce", "Audit"')
        st, _, out = self.c.post(self.base, {"metadata": {"name": "x"}})
        self.assertEqual((st, out["details"]["causes"][0]["field"]), (422, "spec"), out)
        # Unknown fields: refused with fieldValidation=Strict (what kubectl sends), else pruned.
        st, _, out = self.c.post(self.base + "?fieldValidation=Strict",
                                 {"metadata": {"name": "x"}, "spec": {"modee": "Audit", "free": {"k": 1}}})
        self.assertEqual((st, out["reason"]), (400, "BadRequest"), out)
        self.assertEqual(out["message"], 'WorkloadProfile in version "v1alpha1" cannot be handled as a '
                                         'WorkloadProfile: strict decoding error: unknown field "spec.modee"')
        st, _, out = self.c.post(self.base, {"metadata": {"name": "x"}, "spec": {"modee": "Audit", "free": {"k": 1}}})
        self.assertEqual((st, out["spec"]), (201, {"free": {"k": 1}}), out)
        # ... and on updates too.
        st, _, out = self.c.patch(f"{self.base}/x?fieldValidation=Strict", {"spec": {"mode": "Nope"}})
        self.assertEqual(st, 422, out)

    def test_schema_defaults_filled_in(self):
        """A field the CRD's schema gives a default (crds/workloadprofile.yaml: mode Audit) is
        filled in when absent, on create and on update, as kube-apiserver does."""
        st, _, crd = self.c.get(f"{self.CRDS}/workloadprofiles.profileguard.io")
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["mode"][
            "default"] = "Audit"
        st, _, out = self.c.put(f"{self.CRDS}/workloadprofiles.profileguard.io", crd)
        self.assertEqual(st, 200, out)
        out = self.create(self.base, {"metadata": {"name": "d"}, "spec": {"free": {"k": 1}}})
        self.assertEqual(out["spec"], {"mode": "Audit", "free": {"k": 1}})
        st, _, out = self.c.patch(f"{self.base}/d", {"spec": {"mode": "Enforce"}})
        self.assertEqual((st, out["spec"]["mode"]), (200, "Enforce"), out)
        st, _, out = self.c.patch(f"{self.base}/d", {"spec": {"mode": None}})
        self.assertEqual((st, out["spec"]["mode"]), (200, "Audit"), out)
        st, _, t = self.c.get(self.base, headers={"Accept": TABLE_ACCEPT})
        self.assertEqual([r["cells"][:2] for r in t["rows"]], [["d", "Audit"]])

    def test_openapi(self):
        st, _, root = self.c.get("/openapi/v3")
        self.assertEqual(st, 200, root)
        self.assertIn("api/v1", root["paths"])
        url = root["paths"]["apis/profileguard.io/v1alpha1"]["serverRelativeURL"]
        self.assertRegex(url, r"^/openapi/v3/apis/profileguard.io/v1alpha1\?hash=[0-9A-F]{128}$")
        st, _, doc = self.c.get(url)
        schema = doc["components"]["schemas"]["io.profileguard.v1alpha1.WorkloadProfile"]
        self.assertEqual(schema["properties"]["spec"]["description"], "The profile.")
        self.assertEqual(schema["x-kubernetes-group-version-kind"],
                         [{"group": "profileguard.io", "kind": "WorkloadProfile", "version": "v1alpha1"}])
        patch = doc["paths"]["/apis/profileguard.io/v1alpha1/namespaces/{namespace}/workloadprofiles/{name}"]["patch"]
        self.assertIn("fieldValidation", [p["name"] for p in patch["parameters"]])
        st, _, _ = self.c.get("/openapi/v3/apis/nope.io/v1")
        self.assertEqual(st, 404)
        # v2 as kubectl before 1.28 or so fetches it: protobuf, a content type Go can parse,
        # gnostic's Document with swagger (field 1) and info (field 2: title, version).
        st, hdrs, raw = self.c.get("/openapi/v2", headers={
            "Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json"})
        self.assertEqual((st, hdrs["content-type"]),
                         (200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"))
        title, version = b"Kubernetes", b"v1.30.0-profileguard-standin"
        info = b"\x0a" + bytes([len(title)]) + title + b"\x12" + bytes([len(version)]) + version
        self.assertEqual(raw, b"\x0a\x032.0\x12" + bytes([len(info)]) + info)
        st, _, doc = self.c.get("/openapi/v2")
        self.assertEqual((st, doc["swagger"]), (200, "2.0"))
        self.assertEqual(doc["definitions"]["io.profileguard.v1alpha1.WorkloadProfile"]["required"], ["spec"])


class TestWorkloadProfiles(Base):
    def test_generation_and_status_isolation(self):
        ns = self.namespace()
        base = f"/apis/profileguard.io/v1alpha1/namespaces/{ns}/workloadprofiles"
        wp = self.create(base, {"apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
                                "metadata": {"name": "w"},
                                "spec": {"selector": {"matchLabels": {"app": "a"}}, "mode": "Enforce"},
                                "status": {"violations": 99}})
        self.assertEqual(wp["metadata"]["generation"], 1)
        self.assertNotIn("status", wp, "status is dropped on create")
        st, _, lst = self.c.get(base)
        self.assertEqual(lst["items"][0]["kind"], "WorkloadProfile", "CR list items keep kind")

        st, _, out = self.c.put(f"{base}/w", dict(wp, metadata=dict(wp["metadata"], resourceVersion="")))
        self.assertEqual(st, 422, "custom resources need a resourceVersion on update")

        st, _, out = self.c.patch(f"{base}/w", {"metadata": {"labels": {"l": "1"}}})
        self.assertEqual(out["metadata"]["generation"], 1, "metadata changes keep the generation")
        st, _, out = self.c.patch(f"{base}/w", {"spec": {"mode": "Audit"}, "status": {"violations": 5}})
        self.assertEqual(out["metadata"]["generation"], 2)
        self.assertNotIn("status", out, "the main resource ignores status")

        st, _, out = self.c.patch(f"{base}/w/status", {"status": {"observedGeneration": 2, "matchedPods": 3},
                                                       "spec": {"mode": "Enforce"}})
        self.assertEqual(st, 200, out)
        self.assertEqual(out["status"], {"observedGeneration": 2, "matchedPods": 3})
        self.assertEqual(out["spec"]["mode"], "Audit", "/status ignores spec")
        self.assertEqual(out["metadata"]["generation"], 2)

        stale = dict(out, status={"matchedPods": 4}, metadata=dict(out["metadata"], resourceVersion="1"))
        self.assertEqual(self.c.put(f"{base}/w/status", stale)[0], 409)
        st, _, out = self.c.put(f"{base}/w/status", dict(out, status={"matchedPods": 4}))
        self.assertEqual((st, out["status"]), (200, {"matchedPods": 4}))

        st, _, out = self.c.get(f"/apis/profileguard.io/v1alpha1/namespaces/{ns}/workloadprofiles/nope")
        self.assertEqual(out["message"], 'workloadprofiles.profileguard.io "nope" not found')
        self.assertEqual(out["details"], {"name": "nope", "group": "profileguard.io", "kind": "workloadprofiles"})


class TestLists(Base):
    def test_pagination_is_a_consistent_snapshot(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/secrets"
        for i in range(10):
            self.create(base, {"metadata": {"name": f"s{i:02d}", "labels": {"v": "old"}}})
        st, _, p1 = self.c.get(base + "?limit=4")
        self.assertEqual([i["metadata"]["name"] for i in p1["items"]], ["s00", "s01", "s02", "s03"])
        self.assertEqual(p1["metadata"]["remainingItemCount"], 6)
        rv = p1["metadata"]["resourceVersion"]
        # Writes between pages must not show up in the paginated list.
        self.create(base, {"metadata": {"name": "s10"}})
        self.c.delete(base + "/s05")
        self.c.patch(base + "/s06", {"metadata": {"labels": {"v": "new"}}})
        cont = urllib.parse.quote(p1["metadata"]["continue"])
        st, _, p2 = self.c.get(f"{base}?limit=4&continue={cont}")
        self.assertEqual(st, 200, p2)
        self.assertEqual([i["metadata"]["name"] for i in p2["items"]], ["s04", "s05", "s06", "s07"])
        self.assertEqual(p2["items"][2]["metadata"]["labels"], {"v": "old"})
        self.assertEqual(p2["metadata"]["resourceVersion"], rv)
        cont = urllib.parse.quote(p2["metadata"]["continue"])
        st, _, p3 = self.c.get(f"{base}?limit=4&continue={cont}")
        self.assertEqual([i["metadata"]["name"] for i in p3["items"]], ["s08", "s09"])
        self.assertNotIn("continue", p3["metadata"])
        st, _, fresh = self.c.get(base)
        names = [i["metadata"]["name"] for i in fresh["items"]]
        self.assertIn("s10", names)
        self.assertNotIn("s05", names)
        st, _, sel = self.c.get(base + "?limit=2&labelSelector=v%3Dold")
        self.assertIn("continue", sel["metadata"])
        self.assertNotIn("remainingItemCount", sel["metadata"], "unknown with selectors")

    def test_expired_continue(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/secrets"
        for i in range(3):
            self.create(base, {"metadata": {"name": f"e{i}"}})
        st, _, p1 = self.c.get(base + "?limit=1")
        cont = urllib.parse.quote(p1["metadata"]["continue"])
        self.c.post("/_standin/faults", {"expire_continue": True})
        st, _, out = self.c.get(f"{base}?limit=1&continue={cont}")
        self.assertEqual(st, 410)
        self.assertEqual(out["reason"], "Expired")
        self.assertTrue(out["message"].startswith(
            "The provided continue parameter is too old to display a consistent list result."))
        self.c.delete("/_standin/faults")
        st, _, rest = self.c.get(f"{base}?continue={urllib.parse.quote(out['metadata']['continue'])}")
        self.assertEqual([i["metadata"]["name"] for i in rest["items"]], ["e1", "e2"],
                         "the token in the 410 continues inconsistently")
        # Compaction also expires continue tokens.
        self.create(base, {"metadata": {"name": "e3"}})
        self.c.post("/_standin/compact", {})
        self.assertEqual(self.c.get(f"{base}?limit=1&continue={cont}")[0], 410)
        self.assertEqual(self.c.get(f"{base}?limit=1&continue=garbage")[0], 400)

    def test_resource_version_semantics(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/secrets"
        self.create(base, {"metadata": {"name": "a"}})
        rv = self.list_rv(base)
        self.create(base, {"metadata": {"name": "b"}})
        st, _, out = self.c.get(f"{base}?resourceVersion={rv}&resourceVersionMatch=Exact")
        self.assertEqual([i["metadata"]["name"] for i in out["items"]], ["a"])
        self.assertEqual(out["metadata"]["resourceVersion"], rv)
        st, _, out = self.c.get(f"{base}?resourceVersion=0")
        self.assertEqual(len(out["items"]), 2)
        self.assertEqual(self.c.get(f"{base}?resourceVersionMatch=Exact")[0], 400)

    def test_selectors(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/pods"
        self.create(base, pod("web-1", ns, {"app": "web", "tier": "front"}, node="node-a"))
        self.create(base, pod("web-2", ns, {"app": "web"}, node="node-b"))
        self.create(base, pod("db-1", ns, {"app": "db", "tier": "back"}, phase="Pending", node=""))

        def names(query):
            st, _, out = self.c.get(f"{base}?{urllib.parse.urlencode(query)}")
            self.assertEqual(st, 200, out)
            return sorted(i["metadata"]["name"] for i in out["items"])

        self.assertEqual(names({"labelSelector": "app=web"}), ["web-1", "web-2"])
        self.assertEqual(names({"labelSelector": "app==web,tier"}), ["web-1"])
        self.assertEqual(names({"labelSelector": "app!=web"}), ["db-1"])
        self.assertEqual(names({"labelSelector": "tier in (front, back)"}), ["db-1", "web-1"])
        self.assertEqual(names({"labelSelector": "tier notin (front)"}), ["db-1", "web-2"])
        self.assertEqual(names({"labelSelector": "!tier"}), ["web-2"])
        self.assertEqual(names({"labelSelector": "app in (web),!tier"}), ["web-2"])
        self.assertEqual(names({"fieldSelector": "metadata.name=web-2"}), ["web-2"])
        self.assertEqual(names({"fieldSelector": "status.phase=Running"}), ["web-1", "web-2"])
        self.assertEqual(names({"fieldSelector": "spec.nodeName==node-a"}), ["web-1"])
        self.assertEqual(names({"fieldSelector": "spec.nodeName="}), ["db-1"])
        self.assertEqual(names({"fieldSelector": "status.phase!=Running,metadata.namespace=" + ns}), ["db-1"])
        self.assertEqual(names({"fieldSelector": "spec.nodeName=node-b", "labelSelector": "app=web"}), ["web-2"])
        st, _, out = self.c.get(f"/api/v1/pods?fieldSelector=metadata.namespace%3D{ns}&labelSelector=app%3Ddb")
        self.assertEqual([i["metadata"]["name"] for i in out["items"]], ["db-1"], "all-namespace list")
        st, _, out = self.c.get(f"{base}?fieldSelector=spec.foo%3Dbar")
        self.assertEqual((st, out["message"]), (400, "field label not supported: spec.foo"))
        self.assertEqual(self.c.get(f"{base}?labelSelector=a%20in%20(")[0], 400)

    def test_metadata_only_secrets(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/secrets"
        self.create(base, {"metadata": {"name": "tok", "annotations": {
            "kubernetes.io/service-account.name": "default"}},
            "type": "kubernetes.io/service-account-token", "data": {"token": "c2VjcmV0"}})
        self.create(base, {"metadata": {"name": "plain"}, "data": {"k": "dg=="}})
        q = urllib.parse.urlencode({"fieldSelector": "type=kubernetes.io/service-account-token"})
        st, hdrs, out = self.c.get(f"{base}?{q}", headers={"Accept": META_LIST_ACCEPT})
        self.assertEqual(st, 200, out)
        self.assertEqual((out["kind"], out["apiVersion"]), ("PartialObjectMetadataList", "meta.k8s.io/v1"))
        self.assertEqual(len(out["items"]), 1)
        item = out["items"][0]
        self.assertEqual(set(item), {"kind", "apiVersion", "metadata"})
        self.assertEqual((item["kind"], item["metadata"]["name"]), ("PartialObjectMetadata", "tok"))
        self.assertNotIn("c2VjcmV0", json.dumps(out))
        st, _, one = self.c.get(f"{base}/tok", headers={"Accept": META_ACCEPT})
        self.assertEqual((one["kind"], set(one)), ("PartialObjectMetadata", {"kind", "apiVersion", "metadata"}))
        st, _, out = self.c.get(base, headers={"Accept": META_ACCEPT})
        self.assertEqual((st, out["reason"]), (406, "NotAcceptable"), "a list needs ...List")
        st, _, out = self.c.get(base, headers={
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
        # A real server answers kubectl's Accept with a Table (its default columns for a
        # kind without a printer), the rows carrying metadata only, never the data.
        self.assertEqual((out["kind"], out["apiVersion"]), ("Table", "meta.k8s.io/v1"))
        self.assertEqual([c["name"] for c in out["columnDefinitions"]], ["Name", "Created At"])
        self.assertEqual(sorted(r["cells"][0] for r in out["rows"]), ["plain", "tok"])
        self.assertEqual({r["object"]["kind"] for r in out["rows"]}, {"PartialObjectMetadata"})
        self.assertNotIn("c2VjcmV0", json.dumps(out))


class TestWatch(Base):
    def watch(self, path, **kw):
        w = RawWatch(self.port, path, **kw)
        self.addCleanup(w.close)
        return w

    def test_sequence_bookmarks_and_timeout(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/pods"
        rv = self.list_rv(base)
        w = self.watch(f"{base}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=2")
        self.assertEqual(w.status, 200)
        self.assertEqual(w.headers.get("transfer-encoding"), "chunked")
        self.create(base, pod("w1", ns))
        self.c.patch(f"{base}/w1", {"metadata": {"labels": {"m": "1"}}})
        self.c.delete(f"{base}/w1")
        events = [w.next_non_bookmark() for _ in range(3)]
        self.assertEqual([e["type"] for e in events], ["ADDED", "MODIFIED", "DELETED"])
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        self.assertEqual(rvs, sorted(rvs))
        self.assertEqual(events[0]["object"]["kind"], "Pod")
        started = time.time()
        bookmark = None
        while True:
            ev = w.next()
            if ev is None:
                break
            if ev["type"] == "BOOKMARK":
                bookmark = ev
        self.assertTrue(w.terminated, "the stream ends with the terminating chunk")
        self.assertLess(time.time() - started, 3)
        self.assertIsNotNone(bookmark)
        self.assertEqual(set(bookmark["object"]), {"kind", "apiVersion", "metadata"})
        self.assertEqual(list(bookmark["object"]["metadata"]), ["resourceVersion"])
        self.assertGreaterEqual(int(bookmark["object"]["metadata"]["resourceVersion"]), rvs[-1])

    def test_initial_state_without_resource_version(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/pods"
        self.create(base, pod("i1", ns))
        self.create(base, pod("i2", ns))
        w = self.watch(f"{base}?watch=true&timeoutSeconds=1")
        evs = [w.next(), w.next()]
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs],
                         [("ADDED", "i1"), ("ADDED", "i2")])
        self.assertIsNone(w.next())

    def test_send_initial_events(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/pods"
        self.create(base, pod("l1", ns))
        rv = self.list_rv(base)
        w = self.watch(f"{base}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
                       f"&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=1")
        self.assertEqual(w.next()["type"], "ADDED")
        bm = w.next()
        self.assertEqual(bm["type"], "BOOKMARK")
        self.assertEqual(bm["object"]["metadata"]["annotations"], {"k8s.io/initial-events-end": "true"})

    def test_selector_transitions(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/pods"
        rv = self.list_rv(base)
        w = self.watch(f"{base}?watch=1&resourceVersion={rv}&labelSelector=app%3Da&timeoutSeconds=3")
        self.create(base, pod("s1", ns, {"app": "a"}))
        self.create(base, pod("s2", ns, {"app": "b"}))
        self.c.patch(f"{base}/s1", {"metadata": {"labels": {"app": "b"}}})
        self.c.patch(f"{base}/s1", {"metadata": {"labels": {"app": "a"}}})
        got = [(e["type"], e["object"]["metadata"]["name"]) for e in (w.next(), w.next(), w.next())]
        self.assertEqual(got, [("ADDED", "s1"), ("DELETED", "s1"), ("ADDED", "s1")])

    def test_single_object_and_metadata_watch(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/secrets"
        rv = self.list_rv(base)
        w = self.watch(f"{base}?watch=1&resourceVersion={rv}&fieldSelector=metadata.name%3Dme&timeoutSeconds=2",
                       accept=META_ACCEPT)
        self.create(base, {"metadata": {"name": "other"}, "data": {"a": "c2VjcmV0"}})
        self.create(base, {"metadata": {"name": "me"}, "data": {"a": "c2VjcmV0"}})
        ev = w.next()
        self.assertEqual((ev["type"], ev["object"]["kind"], ev["object"]["metadata"]["name"]),
                         ("ADDED", "PartialObjectMetadata", "me"))
        self.assertNotIn("data", ev["object"])

    def test_410_after_compaction(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/pods"
        rv = self.list_rv(base)
        self.create(base, pod("old", ns))
        st, _, out = self.c.post("/_standin/compact", {})
        current = out["compactedResourceVersion"]
        w = self.watch(f"{base}?watch=1&resourceVersion={rv}")
        self.assertEqual(w.status, 200, "the real server starts the stream, then sends ERROR")
        ev = w.next()
        self.assertEqual(ev["type"], "ERROR")
        self.assertEqual(ev["object"]["code"], 410)
        self.assertEqual(ev["object"]["reason"], "Expired")
        self.assertEqual(ev["object"]["message"], f"too old resource version: {rv} ({current})")
        self.assertIsNone(w.next())
        self.c.post("/_standin/faults", {"watch_410_http": True})
        w = self.watch(f"{base}?watch=1&resourceVersion={rv}")
        self.assertEqual((w.status, w.body["reason"], w.body["code"]), (410, "Expired", 410))
        # Watching from a version still in history works.
        w = self.watch(f"{base}?watch=1&resourceVersion={current}&timeoutSeconds=2")
        self.c.delete(f"{base}/old")
        self.assertEqual(w.next()["type"], "DELETED")

    def test_split_chunks(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/pods"
        rv = self.list_rv(base)
        self.c.post("/_standin/faults", {"split_chunks": True})
        w = self.watch(f"{base}?watch=1&resourceVersion={rv}&timeoutSeconds=1")
        self.create(base, pod("sp", ns))
        ev = w.next()
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "sp"))
        self.assertIsNone(w.next())
        self.assertGreater(len(w.chunk_sizes), 20)
        self.assertLessEqual(max(w.chunk_sizes), 7)

    def test_reset_mid_watch(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/pods"
        rv = self.list_rv(base)
        self.c.post("/_standin/faults", {"reset_watch": {"after_events": 2}})
        w = self.watch(f"{base}?watch=1&resourceVersion={rv}&timeoutSeconds=5")
        for i in range(3):
            self.create(base, pod(f"r{i}", ns))
        self.assertEqual(w.next()["type"], "ADDED")
        self.assertEqual(w.next()["type"], "ADDED")
        with self.assertRaises((EOFError, ConnectionError, ssl.SSLError)):
            w.next()
        self.assertFalse(w.terminated, "no terminating chunk on a reset")
        # The knob was used up: the next watch resumes normally.
        w2 = self.watch(f"{base}?watch=1&resourceVersion={rv}&timeoutSeconds=1")
        self.assertEqual([w2.next()["object"]["metadata"]["name"] for _ in range(3)], ["r0", "r1", "r2"])

    def test_concurrent_writers(self):
        import threading
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/secrets"
        rv = self.list_rv(base)
        w = self.watch(f"{base}?watch=1&resourceVersion={rv}&timeoutSeconds=10")
        errors = []

        def writer(n):
            c = Client(self.port)
            conn = c.connect()
            for i in range(25):
                st = c.post(base, {"metadata": {"name": f"c{n}-{i}"}}, conn=conn)[0]
                if st != 201:
                    errors.append(st)
            conn.close()

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        events = [w.next() for _ in range(100)]
        self.assertEqual({e["type"] for e in events}, {"ADDED"})
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        self.assertEqual(rvs, sorted(set(rvs)), "every change once, in resourceVersion order")
        self.assertEqual(len(self.c.get(base)[2]["items"]), 100)

    def test_watch_ends_when_client_leaves(self):
        ns = self.namespace()
        w = RawWatch(self.port, f"/api/v1/namespaces/{ns}/pods?watch=1&labelSelector=leave%3D{ns}")

        def mine():
            return [x for x in self.c.get("/_standin/watches")[2] if x["query"].get("labelSelector") == f"leave={ns}"]

        deadline = time.time() + 3
        while not mine() and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(mine()), 1, "the control API lists established watches")
        w.close()
        deadline = time.time() + 4
        while mine() and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(mine(), [])


class TestSmallWindow(unittest.TestCase):
    """A second stand-in with a tiny history and fast page expiry."""

    @classmethod
    def setUpClass(cls):
        cls.s = standin("--compaction-window", "5", "--page-expiry-seconds", "1")
        cls.c = Client(cls.s.port)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def test_window_and_page_expiry(self):
        base = "/api/v1/namespaces/default/secrets"
        rv = self.c.get(base)[2]["metadata"]["resourceVersion"]
        for i in range(7):
            self.assertEqual(self.c.post(base, {"metadata": {"name": f"w{i}"}})[0], 201)
        w = RawWatch(self.s.port, f"{base}?watch=1&resourceVersion={rv}")
        ev = w.next()
        w.close()
        self.assertEqual((ev["type"], ev["object"]["code"]), ("ERROR", 410))
        st, _, p1 = self.c.get(base + "?limit=2")
        time.sleep(1.2)
        st, _, out = self.c.get(f"{base}?limit=2&continue={urllib.parse.quote(p1['metadata']['continue'])}")
        self.assertEqual((st, out["reason"]), (410, "Expired"))


class TestEvictionAndReviews(Base):
    def test_eviction_and_disruption_budget(self):
        ns = self.namespace()
        base = f"/api/v1/namespaces/{ns}/pods"
        a1 = self.create(base, pod("a1", ns, {"app": "web"}))
        self.create(base, pod("a2", ns, {"app": "web"}))
        self.create(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web-pdb"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})
        eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "a1", "namespace": ns}}
        st, _, out = self.c.post(f"{base}/a1/eviction", eviction)
        self.assertEqual(st, 429, out)
        self.assertEqual(out["reason"], "TooManyRequests")
        self.assertEqual(out["message"], "Cannot evict pod as it would violate the pod's disruption budget.")
        self.assertEqual(out["details"]["causes"], [{"reason": "DisruptionBudget",
                         "message": "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"}])
        self.assertEqual(self.c.get(f"{base}/a1")[0], 200)

        self.create(base, pod("a3", ns, {"app": "web"}))
        bad = dict(eviction, deleteOptions={"preconditions": {"uid": "wrong"}})
        self.assertEqual(self.c.post(f"{base}/a1/eviction", bad)[0], 409)
        good = dict(eviction, deleteOptions={"preconditions": {"uid": a1["metadata"]["uid"]}})
        st, _, out = self.c.post(f"{base}/a1/eviction", good)
        self.assertEqual((st, out["kind"], out["status"]), (201, "Status", "Success"))
        self.assertEqual(self.c.get(f"{base}/a1")[0], 404)

        self.create(base, pod("pending", ns, {"app": "web"}, phase="Pending"))
        st, _, out = self.c.post(f"{base}/pending/eviction",
                                 dict(eviction, metadata={"name": "pending"}))
        self.assertEqual(st, 201, "pods that are not running ignore budgets")
        self.assertEqual(self.c.post(f"{base}/ghost/eviction", dict(eviction, metadata={"name": "ghost"}))[0], 404)

        ns2 = self.namespace()
        self.create(f"/api/v1/namespaces/{ns2}/pods", pod("b", ns2, {"app": "b"}))
        self.create(f"/apis/policy/v1/namespaces/{ns2}/poddisruptionbudgets", {
            "metadata": {"name": "none"}, "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "b"}}}})
        st, _, out = self.c.post(f"/api/v1/namespaces/{ns2}/pods/b/eviction",
                                 {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "b"}})
        self.assertEqual(st, 429)
        self.assertIn("needs 1 healthy pods and has 1 currently", out["details"]["causes"][0]["message"])

    def test_token_review(self):
        path = "/apis/authentication.k8s.io/v1/tokenreviews"
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                  "spec": {"token": "agent-a-token"}}
        st, _, out = self.c.post(path, review)
        self.assertEqual(st, 201, out)
        self.assertEqual(out["kind"], "TokenReview")
        status = out["status"]
        self.assertIs(status["authenticated"], True)
        self.assertEqual(status["user"]["username"], "system:serviceaccount:profileguard:agent")
        self.assertEqual(status["user"]["uid"], "0b8f5c1e-agent-a")
        self.assertEqual(status["user"]["extra"], {"authentication.kubernetes.io/node-name": ["node-a"]})
        self.assertIn("system:authenticated", status["user"]["groups"])
        self.assertEqual(status["audiences"], ["https://kubernetes.default.svc"])
        st, _, out = self.c.post(path, dict(review, spec={"token": "who-knows"}))
        self.assertEqual(st, 201)
        self.assertFalse(out["status"].get("authenticated", False))
        self.assertTrue(out["status"]["error"])
        st, _, out = self.c.post(path, dict(review, spec={"token": "agent-a-token", "audiences": ["other"]}))
        self.assertFalse(out["status"].get("authenticated", False))
        st, _, out = self.c.post(path, dict(review, spec={"token": "expired-token"}))
        self.assertFalse(out["status"].get("authenticated", False))
        recorded = self.c.get("/_standin/requests?path_regex=tokenreviews")[2]
        self.assertTrue(recorded)
        self.assertNotIn("agent-a-token", json.dumps(recorded))
        with open(STANDIN.log_path) as f:
            self.assertNotIn("agent-a-token", f.read())

    def test_events_series(self):
        ns = self.namespace()
        base = f"/apis/events.k8s.io/v1/namespaces/{ns}/events"
        ev = self.create(base, {
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "api-7d9f.drift"},
            "eventTime": "2026-11-22T10:00:00.000000Z",
            "regarding": {"kind": "Pod", "namespace": ns, "name": "api-7d9f", "uid": "u1", "apiVersion": "v1"},
            "related": {"kind": "WorkloadProfile", "namespace": ns, "name": "wp",
                        "apiVersion": "profileguard.io/v1alpha1"},
            "reason": "UnexpectedExecutable", "note": "exec of /bin/sh", "action": "Delete", "type": "Warning",
            "reportingController": "profileguard.io/controller", "reportingInstance": "controller-0"})
        st, _, out = self.c.patch(f"{base}/api-7d9f.drift",
                                  {"series": {"count": 2, "lastObservedTime": "2026-11-22T10:01:00.000000Z"}})
        self.assertEqual(st, 200, out)
        self.assertEqual(out["series"]["count"], 2)
        self.assertEqual(out["note"], "exec of /bin/sh")
        st, _, core = self.c.get(f"/api/v1/namespaces/{ns}/events/api-7d9f.drift")
        self.assertEqual((core["apiVersion"], core["kind"]), ("v1", "Event"))
        self.assertEqual(core["involvedObject"]["name"], "api-7d9f")
        self.assertEqual(core["message"], "exec of /bin/sh")
        self.assertEqual(core["series"]["count"], 2)
        st, _, lst = self.c.get(f"/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3Dapi-7d9f")
        self.assertEqual(len(lst["items"]), 1)
        st, _, lst = self.c.get(f"{base}?fieldSelector=regarding.name%3Dapi-7d9f,reason%3DUnexpectedExecutable")
        self.assertEqual((lst["kind"], len(lst["items"])), ("EventList", 1))
        self.assertEqual(ev["regarding"]["uid"], "u1")


class TestFaultsAndProtocol(Base):
    def test_status_500_and_429(self):
        path = "/api/v1/namespaces/default/secrets"
        self.c.post("/_standin/faults", {"status_500": {"count": 1, "path_regex": "/secrets"}})
        self.assertEqual(self.c.get("/api/v1/namespaces")[0], 200, "path_regex limits the knob")
        st, _, out = self.c.get(path)
        self.assertEqual((st, out["reason"]), (500, "InternalError"))
        self.assertEqual(self.c.get(path)[0], 200, "count ran out")
        self.c.post("/_standin/faults", {"status_429": {"count": 2, "retry_after": 3}})
        st, hdrs, out = self.c.get(path)
        self.assertEqual((st, hdrs.get("retry-after"), out["details"]["retryAfterSeconds"]), (429, "3", 3))
        self.assertEqual(self.c.get(path)[0], 429)
        self.assertEqual(self.c.get(path)[0], 200)
        st, _, out = self.c.post("/_standin/faults", {"status_501": {}})
        self.assertEqual(st, 400, "unknown knobs are refused")

    def test_slow_and_reset(self):
        self.c.post("/_standin/faults", {"slow": {"delay_ms": 300, "count": 1}})
        t = time.time()
        self.assertEqual(self.c.get("/api/v1/namespaces")[0], 200)
        self.assertGreaterEqual(time.time() - t, 0.3)
        self.c.post("/_standin/faults", {"reset": {"count": 1}})
        with self.assertRaises((ConnectionError, http.client.HTTPException, ssl.SSLError)):
            self.c.get("/api/v1/namespaces")
        self.assertEqual(self.c.get("/api/v1/namespaces")[0], 200)

    def test_recorded_requests(self):
        self.c.delete("/_standin/requests")
        self.c.post("/api/v1/namespaces/default/secrets?dryRun=All", {"metadata": {"name": "rec"}})
        rec = self.c.get("/_standin/requests")[2]
        self.assertEqual(len(rec), 1)
        r = rec[0]
        self.assertEqual((r["method"], r["path"], r["query"], r["status"]),
                         ("POST", "/api/v1/namespaces/default/secrets", {"dryRun": "All"}, 201))
        self.assertEqual(r["headers"]["Authorization"], "<redacted>")
        self.assertEqual(r["body"], {"metadata": {"name": "rec"}})

    def test_discovery(self):
        st, _, apis = self.c.get("/apis")
        self.assertEqual(apis["kind"], "APIGroupList")
        pg = [g for g in apis["groups"] if g["name"] == "profileguard.io"]
        self.assertEqual(pg[0]["preferredVersion"]["groupVersion"], "profileguard.io/v1alpha1")
        st, _, res = self.c.get("/apis/profileguard.io/v1alpha1")
        wp = [r for r in res["resources"] if r["name"] == "workloadprofiles"][0]
        self.assertEqual((wp["kind"], wp["namespaced"], wp["shortNames"]), ("WorkloadProfile", True, ["wp"]))
        self.assertIn("workloadprofiles/status", [r["name"] for r in res["resources"]])
        st, _, core = self.c.get("/api/v1")
        ev = [r for r in core["resources"] if r["name"] == "pods/eviction"][0]
        self.assertEqual((ev["group"], ev["version"], ev["kind"]), ("policy", "v1", "Eviction"))
        self.assertEqual(self.c.get("/api")[2]["versions"], ["v1"])
        self.assertEqual(self.c.get("/apis/policy")[2]["kind"], "APIGroup")

    def test_protocol_errors(self):
        st, _, out = self.c.get("/apis/nope.io/v1/things")
        self.assertEqual((st, out["message"]), (404, "the server could not find the requested resource"))
        self.assertEqual(self.c.put("/api/v1/namespaces/default/pods", {})[0], 405)
        st, _, out = self.c.request("POST", "/api/v1/namespaces/default/secrets", b"{not json")
        self.assertEqual((st, out["reason"]), (400, "BadRequest"))
        st, _, out = self.c.request("POST", "/api/v1/namespaces/default/secrets", b"x: 1",
                                    ctype="application/yaml")
        self.assertEqual(st, 415)
        # Garbage on the wire costs that connection only.
        s = CERTS.context().wrap_socket(socket.create_connection(("127.0.0.1", self.port)),
                                      server_hostname="localhost")
        s.sendall(b"\x00\x01garbage\r\n\r\n")
        s.recv(1024)
        s.close()
        self.assertEqual(self.c.get("/api/v1/namespaces")[0], 200)

    def test_body_limit(self):
        conn = self.c.connect()
        conn.putrequest("POST", "/api/v1/namespaces/default/secrets")
        conn.putheader("Authorization", "Bearer admin-token")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(9 * 1024 * 1024))
        conn.endheaders()
        resp = conn.getresponse()
        out = json.loads(resp.read())
        conn.close()
        self.assertEqual((resp.status, out["reason"]), (413, "RequestEntityTooLarge"))

    def test_keep_alive(self):
        conn = self.c.connect()
        for _ in range(5):
            st, hdrs, _ = self.c.get("/api/v1/namespaces", conn=conn)
            self.assertEqual(st, 200)
            self.assertIn("content-length", hdrs)
        sock = conn.sock
        self.c.get("/api/v1/namespaces", conn=conn)
        self.assertIs(conn.sock, sock, "one connection served every request")
        conn.close()

    def test_control_objects(self):
        ns = "ctl-" + uuid.uuid4().hex[:8]
        st, _, out = self.c.post("/_standin/objects", {"items": [pod("raw", ns, {"k": "v"})]})
        self.assertEqual(st, 200, out)
        self.assertEqual(self.c.get(f"/api/v1/namespaces/{ns}")[0], 200)
        st, _, out = self.c.get(f"/_standin/objects?kind=Pod&namespace={ns}")
        self.assertEqual([o["metadata"]["name"] for o in out["items"]], ["raw"])
        st, _, state = self.c.get("/_standin/state")
        self.assertTrue(state["resourceVersion"].isdigit())
        self.c.delete(f"/_standin/objects?kind=pods&namespace={ns}&name=raw")
        self.assertEqual(self.c.get(f"/api/v1/namespaces/{ns}/pods/raw")[0], 404)


class TestShutdown(unittest.TestCase):
    def test_sigterm_with_open_watch(self):
        s = standin()
        w = RawWatch(s.port, "/api/v1/pods?watch=1")
        t = time.time()
        err = s.stop()
        w.close()
        self.assertEqual(s.proc.returncode, 0, err)
        self.assertLess(time.time() - t, 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
