#!/usr/bin/env python3
"""Fault scenario 2: the webhook under a flood of malformed and slow clients.

One `profileguard webhook` (2 worker threads, --idle-timeout 3,
--max-request-bytes 256 KiB so over-size bodies are cheap to send) serves two
profiles from a directory.  While about 300 hostile connections are held
open, and replaced as the server closes them -- TCP connections that never
start TLS, garbage instead of TLS, half a ClientHello, slowloris header
drips, bodies announced and half sent -- two clients send malformed requests
(not JSON, truncated, deeply nested, invalid UTF-8, duplicate keys, not a
review, empty, over-size in three ways, a wrong method, a wrong
Content-Type) and two keep-alive clients send valid AdmissionReviews.

Asserted:
  - every valid review is answered within 20 s with exactly what
    `profileguard check -o json` says of the same pod (allowed; the joined
    Enforce messages as status.message with code 403; the Audit messages as
    warnings);
  - every malformed request gets its 400/405/413 with a JSON {"error"} (a
    wrong Content-Type is either refused the same way or judged correctly);
  - the response counters in /metrics equal what the clients received;
  - every hostile connection is closed by the server once it stops (idle,
    garbage, half handshakes, stalled bodies), within 30 s of its last byte;
  - the process is alive at the end, answers, stops cleanly (exit 0), and
    its RSS stayed within the bound explained at RSS_BUDGET_KB.

A second scenario (DripFeed) is the slowloris of issue "Safety first": from
eight loopback addresses, more drip-fed TLS connections than the webhook has
slots (--max-connections 256), one byte a second each -- ClientHellos,
request headers, request bodies -- and every connection the server closes is
opened again.  Asserted: with every slot taken, a valid review on a fresh
connection (as the API server opens one per burst) is answered, correctly,
within 2 s, five times over; no drip-fed connection lives past its
--request-timeout; the per-address cap holds.

usage: webhook_flood.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import http.client
import json
import os
import queue
import random
import selectors
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pgharness as h  # noqa: E402

ARGS = None
NS = "shop"
MAX_BODY = 256 * 1024
IDLE_S = 3
ANSWER_S = 20          # "answered within": generous, for a loaded 2-core machine
VALID_PER_CLIENT = 100

# The hostile connections held open at any time, by kind.
FLOOD = {"idle": 140, "garbage": 50, "plaintext": 20, "half_hello": 50, "loris": 30,
         "stalled_body": 10}

# The RSS bound over the flood, above the RSS measured after start-up and a
# warm-up.  What a peer can make the webhook hold: per connection, the TLS
# session and MHD's connection state and read buffer (tens of KiB, and ~310
# connections) -- 24 MiB at 80 KiB each; the stalled bodies, whose announced
# length is allocated when the headers arrive (10 x 200 KiB = 2 MiB); the
# requests in flight (4 clients, each at most 256 KiB).  Allocator slack
# (per-thread arenas for 2 workers) gets the rest: 48 MiB in all.  Under
# AddressSanitizer, freed memory sits in its quarantine (256 MiB by default)
# and every allocation carries redzones and shadow, so the bound only rules
# out runaway growth there.
RSS_BUDGET_KB = 48 * 1024
RSS_BUDGET_ASAN_KB = 400 * 1024


def review(obj, uid):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "operation": "CREATE", "namespace": NS,
                        "userInfo": {"username": "alice"}, "object": obj}}


def client_hello_half(ctx):
    """The first half of a real TLS ClientHello: a handshake that never ends."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    return hello[:len(hello) // 2]


class Flood:
    """Holds the hostile connections open from one thread, opening a new one
    each time the server closes one, until stop(); then watches the last
    ones until the server closes them too."""

    def __init__(self, port, ctx):
        self.port, self.ctx = port, ctx
        self.sel = selectors.DefaultSelector()
        self.hello = client_hello_half(ctx)
        self.flooding = True
        self.lock = threading.Lock()
        self.closed = []          # (kind, seconds from its last byte to the server's close)
        self.reopen = []          # (due, kind): replacements, a little later
        self.open_failures = 0
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        for kind, n in FLOOD.items():
            for _ in range(n):
                self._open(kind)
        self.thread.start()

    def _open(self, kind):
        try:
            raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            sock = raw
            if kind == "garbage":
                # Random bytes whose first one is not a TLS record type.
                raw.sendall(bytes([0x47]) + os.urandom(511))
            elif kind == "plaintext":
                raw.sendall(b"POST /validate/pods HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Length: 2\r\n\r\n{}")
            elif kind == "half_hello":
                raw.sendall(self.hello)
            elif kind in ("loris", "stalled_body"):
                sock = self.ctx.wrap_socket(raw, server_hostname="localhost")
                if kind == "loris":
                    sock.sendall(b"POST /validate/pods HTTP/1.1\r\nHost: x\r\nX-Drip: ")
                else:
                    sock.sendall(b"POST /validate/pods?timeout=30s HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Type: application/json\r\n"
                                 b"Content-Length: 204800\r\n\r\n" + b" " * 150000)
            sock.setblocking(False)
        except (OSError, ssl.SSLError):
            # Refused or reset while the server sheds load: counted, not fatal.
            with self.lock:
                self.open_failures += 1
            return
        self.sel.register(sock, selectors.EVENT_READ, {"kind": kind, "last": time.monotonic()})

    def _run(self):
        next_drip = time.monotonic()
        while True:
            with self.lock:
                flooding = self.flooding
            if not flooding and not self.sel.get_map():
                return
            now = time.monotonic()
            # Connections the server drops at once (garbage) come back a
            # little later: a reconnect loop would only measure Python.
            due = [k for t, k in self.reopen if t <= now]
            self.reopen = [(t, k) for t, k in self.reopen if t > now]
            for kind in due if flooding else ():
                self._open(kind)
            if flooding and now >= next_drip:
                next_drip = now + 0.5
                for key in list(self.sel.get_map().values()):
                    if key.data["kind"] == "loris":
                        try:
                            key.fileobj.send(b"a")
                            key.data["last"] = now
                        except (OSError, ssl.SSLError):
                            pass          # closed: the read side will see it
            for key, _ in self.sel.select(timeout=0.1):
                sock = key.fileobj
                try:
                    data = sock.recv(4096)
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue
                except (OSError, ssl.SSLError):
                    data = b""
                if data:
                    if not data.startswith(b"\x15"):
                        # Anything but a TLS alert: the server answered a
                        # request these clients never completed.
                        self.errors.append((key.data["kind"], data[:200]))
                    continue
                self.sel.unregister(sock)
                sock.close()
                with self.lock:
                    self.closed.append((key.data["kind"], time.monotonic() - key.data["last"]))
                    if self.flooding:
                        # Spread out, or connections opened together stay in step.
                        self.reopen.append((time.monotonic() + random.uniform(0.1, 0.6),
                                            key.data["kind"]))

    def stop(self):
        with self.lock:
            self.flooding = False

    def open_now(self):
        return len(self.sel.get_map())


class WebhookFlood(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.asan = h.sanitized(ARGS.binary)
        cls.certs = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))
        cls.ctx = cls.certs.context()
        cls.profiles = os.path.join(ARGS.workdir, "profiles")
        os.makedirs(cls.profiles)
        for p in (h.profile(NS, "web", {"mode": "Enforce",
                                        "images": {"allow": ["registry.example.com/*"],
                                                   "requireDigest": True},
                                        "privileges": {"privileged": "Forbid"}},
                            selector={"matchLabels": {"app": "web"}}),
                  h.profile(NS, "batch", {"mode": "Audit", "images": {"requireDigest": True}},
                            selector={"matchLabels": {"app": "batch"}})):
            with open(os.path.join(cls.profiles, p["metadata"]["name"] + ".json"), "w") as f:
                json.dump(p, f)
        web = {"app": "web"}
        cls.pods = [
            h.pod(NS, "allowed", labels=web),
            h.pod(NS, "no-digest", image="registry.example.com/app:1.0", labels=web),
            h.pod(NS, "wrong-registry", image="nginx", labels=web),
            h.pod(NS, "privileged", labels=web, spec={"containers": [
                {"name": "c", "image": h.GOOD_IMAGE, "securityContext": {"privileged": True}}]}),
            h.pod(NS, "audited", image="busybox", labels={"app": "batch"}),
        ]
        cls.expected = cls.check_answers(cls.pods)
        cls.wh = h.webhook(ARGS.binary, cls.certs, ARGS.workdir, cls.profiles,
                           # Every client here, hostile or not, is 127.0.0.1: the
                           # per-address cap (tested by Slowloris below, with
                           # clients on several addresses) would refuse the
                           # honest ones beside ~300 hostile connections.
                           ["--threads", "2", "--idle-timeout", str(IDLE_S),
                            "--max-request-bytes", str(MAX_BODY),
                            "--max-connections-per-ip", "0"])

    @classmethod
    def tearDownClass(cls):
        if cls.wh.alive():
            cls.wh.stop()

    @classmethod
    def check_answers(cls, pods):
        """What `profileguard check -o json` says of each pod, as the
        AdmissionReview response the webhook must give."""
        mdir = os.path.join(ARGS.workdir, "manifests")
        os.makedirs(mdir)
        for p in pods:
            with open(os.path.join(mdir, p["metadata"]["name"] + ".json"), "w") as f:
                json.dump(p, f)
        out = subprocess.run([ARGS.binary, "check", "-p", cls.profiles, "-f", mdir, "-o", "json"],
                             capture_output=True, text=True)
        assert out.returncode in (0, 1), out.stderr
        answers = {}
        for r in json.loads(out.stdout)["results"]:
            resp = {"allowed": r["allowed"]}
            if r["violations"]:
                resp["status"] = {"code": 403, "reason": "Forbidden", "message":
                                  "; ".join(v["message"] for v in r["violations"])}
            if r["warnings"]:
                resp["warnings"] = [w["message"] for w in r["warnings"]]
            answers[r["name"]] = resp
        assert len(answers) == len(pods), answers
        # Not vacuous: allowed, denied and warned pods are all there.
        assert answers["allowed"] == {"allowed": True}, answers["allowed"]
        assert "has no @sha256 digest" in answers["no-digest"]["status"]["message"]
        assert answers["audited"]["allowed"] and answers["audited"]["warnings"]
        return answers

    # -- clients -----------------------------------------------------------------------

    def valid_client(self, n, tag, results):
        """@n valid reviews on one keep-alive connection (reconnecting when
        the server closes an idle one); appends (name, ok, detail, seconds)."""
        conn = None
        for i in range(n):
            p = self.pods[i % len(self.pods)]
            name, uid = p["metadata"]["name"], f"{tag}-{i}"
            body = json.dumps(review(p, uid)).encode()
            t0 = time.monotonic()
            for attempt in (1, 2):
                if conn is None:
                    conn = http.client.HTTPSConnection("127.0.0.1", self.wh.port,
                                                       context=self.ctx, timeout=ANSWER_S)
                try:
                    conn.request("POST", "/validate/pods?timeout=10s", body=body,
                                 headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    raw = r.read()
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                        ssl.SSLEOFError):
                    conn.close()
                    conn = None
                    if attempt == 2:
                        raise
            took = time.monotonic() - t0
            try:
                out = json.loads(raw)
                resp = dict(out["response"])
                ok = (r.status == 200 and out["apiVersion"] == "admission.k8s.io/v1"
                      and out["kind"] == "AdmissionReview" and resp.pop("uid") == uid
                      and resp == self.expected[name])
            except (ValueError, KeyError, TypeError):
                ok, resp = False, raw[:300]
            results.append((name, ok, (r.status, resp), took))
            time.sleep(0.05)
        if conn:
            conn.close()

    def malformed_cases(self):
        good = json.dumps(review(self.pods[0], "m")).encode()
        deny = json.dumps(review(self.pods[2], "m")).encode()
        big = b'{"pad":"' + b"x" * (MAX_BODY + 1024) + b'"}'
        ct = {"Content-Type": "application/json"}
        return [
            ("not-json", "POST", b"this is not json", ct, 400, "request body is not valid JSON"),
            ("truncated", "POST", good[:len(good) // 2], ct, 400, "request body is not valid JSON"),
            ("deep-array", "POST", b"[" * 100000, ct, 400, "nesting too deep"),
            ("deep-in-review", "POST", good[:-2] + b',"x":' + b'{"a":' * 20000 + b"1" +
             b"}" * 20000 + b"}}", ct, 400, "nesting too deep"),
            ("bad-utf8", "POST", b'{"apiVersion":"\xff\xfe"}', ct, 400, "invalid UTF-8"),
            ("duplicate-key", "POST", b'{"kind":"AdmissionReview","kind":"x"}', ct, 400,
             "duplicate key"),
            ("not-a-review", "POST", b"[]", ct, 400, "must be a JSON object"),
            ("no-request", "POST", b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}',
             ct, 400, "request is missing"),
            ("empty", "POST", b"", ct, 400, "empty request body"),
            ("oversize", "POST", big, ct, 413, "request body too large"),
            ("wrong-method", "GET", None, {}, 405, "method not allowed"),
            ("text-plain", "POST", deny, {"Content-Type": "text/plain"}, None, "wrong-registry"),
        ]

    def malformed_client(self, rounds, results):
        """Each malformed request on a fresh connection, @rounds times over."""
        cases = self.malformed_cases()
        for _ in range(rounds):
            for case in cases:
                label, method, body, headers, code, err = case
                try:
                    st, hdrs, raw = h.https_request(self.wh.port, self.ctx, method,
                                                    "/validate/pods?timeout=10s", body, headers,
                                                    timeout=ANSWER_S)
                except (OSError, http.client.HTTPException) as e:
                    results.append((label, False, repr(e), None))
                    continue
                try:
                    out = json.loads(raw)
                except ValueError:
                    out = raw[:200]
                if code is None:
                    # A wrong Content-Type: refused as malformed, or judged
                    # as what it is -- never judged wrongly.
                    ok = (st in (400, 415) and isinstance(out, dict) and "error" in out) or \
                         (st == 200 and isinstance(out, dict) and
                          {k: v for k, v in out["response"].items() if k != "uid"}
                          == self.expected[err])
                else:
                    ok = (st == code and hdrs.get("Content-Type") == "application/json"
                          and isinstance(out, dict) and err in out.get("error", ""))
                results.append((label, ok, (st, out), st))

    def raw_oversize(self):
        """Over-size bodies refused before they are read: an absurd announced
        length, and a client that waits for 100 Continue."""
        out = []
        for extra in (b"Content-Length: 4194304\r\n",
                      b"Content-Length: 300000\r\nExpect: 100-continue\r\n"):
            s = self.ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.wh.port),
                                                              timeout=ANSWER_S),
                                     server_hostname="localhost")
            try:
                s.sendall(b"POST /validate/pods HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\n" + extra + b"\r\n")
                data = b""
                while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            finally:
                s.close()
            out.append(data)
        return out

    # -- the scenario ------------------------------------------------------------------

    def counters(self):
        samples = self.wh.metrics()
        return {c: h.metric_sum(samples, "profileguard_webhook_http_responses_total",
                                path="/validate/pods", code=c)
                for c in ("200", "400", "405", "413", "415")}

    def test_flood(self):
        # Warm up, then take the baseline.
        warm = []
        self.valid_client(len(self.pods) * 2, "warm", warm)
        self.assertTrue(all(ok for _, ok, _, _ in warm), warm)
        base_rss = self.wh.rss_kb()
        before = self.counters()

        flood = Flood(self.wh.port, self.ctx)
        flood.start()
        peak = [base_rss]
        held = []                  # hostile connections open, while the clients run
        clients_running = threading.Event()
        sampling = threading.Event()

        def sample():
            while not sampling.is_set():
                try:
                    peak[0] = max(peak[0], self.wh.rss_kb())
                except (OSError, AssertionError):
                    return
                if clients_running.is_set():
                    held.append(flood.open_now())
                time.sleep(0.1)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        valid = [[], []]
        bad = [[], []]
        threads = [threading.Thread(target=self.valid_client, args=(VALID_PER_CLIENT, f"v{i}",
                                                                    valid[i]))
                   for i in range(2)]
        threads += [threading.Thread(target=self.malformed_client, args=(4, bad[i]))
                    for i in range(2)]
        clients_running.set()
        for t in threads:
            t.start()
        raw = self.raw_oversize()
        for t in threads:
            t.join(600)
        clients_running.clear()
        flood.stop()

        # The valid reviews: every one answered, correctly, in time.
        answered = valid[0] + valid[1]
        self.assertEqual(len(answered), 2 * VALID_PER_CLIENT)
        wrong = [r for r in answered if not r[1]]
        self.assertEqual(wrong, [], "valid reviews answered wrongly")
        self.assertLess(max(r[3] for r in answered), ANSWER_S)
        # The malformed ones: each refused as it should be.
        refused = bad[0] + bad[1]
        self.assertEqual(len(refused), 2 * 4 * len(self.malformed_cases()))
        wrong = [r for r in refused if not r[1]]
        self.assertEqual(wrong, [], "malformed requests answered wrongly")
        for data in raw:
            self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])
            self.assertIn(b'{"error":"request body too large"}', data)
        # The flood was there while they ran, and the server was cutting
        # idle connections (and new ones took their place) meanwhile.
        held.sort()
        self.assertTrue(held, "no sample of the flood")
        self.assertGreater(held[len(held) // 2], sum(FLOOD.values()) // 2,
                           f"the flood had collapsed: {held}")
        self.assertTrue([k for k, _ in flood.closed if k == "idle"],
                        "no idle connection was cut while the clients ran")

        # Every hostile connection is closed by the server, none answered.
        h.wait_for(lambda: flood.open_now() == 0, 30, interval=0.2,
                   what="the server closing every hostile connection")
        flood.thread.join(10)
        self.assertEqual(flood.errors, [])
        self.assertLess(max(t for _, t in flood.closed), 30)
        kinds = {k for k, _ in flood.closed}
        self.assertEqual(kinds, set(FLOOD), "some kind of connection was never closed")
        sampling.set()
        sampler.join(5)

        # The counters agree with what the clients saw.
        after = self.counters()
        seen = {c: 0 for c in after}
        seen["200"] += len(answered)
        seen["413"] += len(raw)
        for _, _, (st, _), _ in refused:
            seen[str(st)] += 1
        for code, n in seen.items():
            self.assertEqual(after[code] - before[code], n, f"responses with code {code}")

        # Alive, still right, within its memory bound, and a clean stop.
        self.assertTrue(self.wh.alive())
        again = []
        self.valid_client(len(self.pods), "after", again)
        self.assertTrue(all(ok for _, ok, _, _ in again), again)
        budget = RSS_BUDGET_ASAN_KB if self.asan else RSS_BUDGET_KB
        grew = peak[0] - base_rss
        print(f"\nflood: {len(flood.closed)} hostile connections closed by the server, "
              f"{flood.open_failures} refused, {held[len(held) // 2]} held (median); "
              f"RSS {base_rss} KiB at rest, "
              f"peak {peak[0]} KiB (+{grew} KiB, budget {budget} KiB)", file=sys.stderr)
        self.assertLess(grew, budget, f"RSS grew by {grew} KiB over the flood")
        self.assertEqual(self.wh.stop(), 0)


# ---------------------------------------------------------------------------
# The drip-feed: every slot held by slowloris connections
# ---------------------------------------------------------------------------

DRIP_MAX_CONN = 256
DRIP_REQUEST_TIMEOUT = 6
DRIP_PEERS = ["127.0.0.%d" % i for i in range(2, 10)]     # eight attacking addresses
DRIP_PER_PEER = 64            # the default per-address cap: a quarter of the slots
DRIP_ANSWER_S = 2.0           # the bound on a valid review under the drip-feed


class DripFeed:
    """Drip-fed connections from DRIP_PEERS, as many per address as the
    server takes, one byte a second each: "hello" drips the TLS
    ClientHello, "headers" the request headers after a full handshake,
    "body" the body after complete headers.  Each one the server closes is
    opened again (after a short pause), until stop().  Connections are
    opened by threads of their own, so a handshake the server makes wait
    (its slots all taken) never delays the drips and the watch for closes,
    which measure how long the server let each connection live."""

    KINDS = ("hello", "headers", "body")
    OPENERS = 4

    def __init__(self, port, ctx, per_peer, kinds=KINDS, path=b"/validate/pods?timeout=30s"):
        self.port, self.ctx = port, ctx
        self.per_peer = per_peer
        self.kinds, self.path = kinds, path
        self.sel = selectors.DefaultSelector()
        hello_ctx = ssl.create_default_context()
        hello_ctx.check_hostname = False
        hello_ctx.verify_mode = ssl.CERT_NONE
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = hello_ctx.wrap_bio(inc, out, server_hostname="localhost")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        self.hello = out.read()
        self.lock = threading.Lock()
        self.running = True
        self.lifetimes = []        # (kind, seconds from open to the server's close)
        self.refused = 0
        self.answered = []         # an HTTP answer to a request never completed: must stay empty
        self.to_open = queue.Queue()
        self.opened = queue.Queue()
        self.threads = [threading.Thread(target=self._run, daemon=True)]
        self.threads += [threading.Thread(target=self._opener, daemon=True) for _ in range(self.OPENERS)]
        self.n = 0

    def _opener(self):
        while True:
            item = self.to_open.get()
            if item is None:
                return
            due, peer, kind = item
            with self.lock:
                if not self.running:
                    return
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            self._open(peer, kind)

    def _open(self, peer, kind):
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            raw.bind((peer, 0))
            raw.settimeout(5)
            raw.connect(("127.0.0.1", self.port))
            t0 = time.monotonic()
            sock = raw
            if kind == "hello":
                left = self.hello
            else:
                sock = self.ctx.wrap_socket(raw, server_hostname="localhost")
                if kind == "headers":
                    left = b"POST " + self.path + b" HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"a" * 4096
                else:
                    sock.sendall(b"POST " + self.path + b" HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n")
                    left = b" " * 4096
            sock.setblocking(False)
        except (OSError, ssl.SSLError):
            raw.close()
            with self.lock:
                self.refused += 1
            self.to_open.put((time.monotonic() + 0.5, peer, kind))
            return
        self.opened.put((sock, {"peer": peer, "kind": kind, "left": left, "t0": t0}))

    def start(self):
        i = 0
        for peer in DRIP_PEERS:
            for _ in range(self.per_peer):
                self.to_open.put((0, peer, self.kinds[i % len(self.kinds)]))
                i += 1
        for t in self.threads:
            t.start()

    def _run(self):
        next_drip = 0
        while True:
            with self.lock:
                if not self.running:
                    break
            while True:
                try:
                    sock, data = self.opened.get_nowait()
                except queue.Empty:
                    break
                self.n += 1
                self.sel.register(sock, selectors.EVENT_READ, data)
            now = time.monotonic()
            if now >= next_drip:
                next_drip = now + 1.0
                for key in list(self.sel.get_map().values()):
                    d = key.data
                    if d["left"]:
                        try:
                            key.fileobj.send(d["left"][:1])
                            d["left"] = d["left"][1:]
                        except (BlockingIOError, ssl.SSLWantWriteError):
                            pass
                        except (OSError, ssl.SSLError):
                            pass              # closed: the read side will see it
            for key, _ in self.sel.select(timeout=0.1):
                self._readable(key)
        for key in list(self.sel.get_map().values()):
            self.sel.unregister(key.fileobj)
            key.fileobj.close()

    def _readable(self, key):
        sock, d = key.fileobj, key.data
        try:
            data = sock.recv(4096)
        except (ssl.SSLWantReadError, BlockingIOError):
            return
        except (OSError, ssl.SSLError):
            data = b""
        if data:
            # A TLS alert (or the server's half of a handshake a "hello"
            # drip started) is fine; an HTTP answer is not.
            if data.startswith(b"HTTP"):
                self.answered.append((d["kind"], data[:200]))
            return
        self.sel.unregister(sock)
        sock.close()
        with self.lock:
            self.lifetimes.append((d["kind"], time.monotonic() - d["t0"]))
        self.to_open.put((time.monotonic() + random.uniform(0.2, 0.6), d["peer"], d["kind"]))

    def open_now(self):
        return len(self.sel.get_map())

    def stop(self):
        with self.lock:
            self.running = False
        for _ in range(self.OPENERS):
            self.to_open.put(None)
        for t in self.threads:
            t.join(30)
        while True:
            try:
                self.opened.get_nowait()[0].close()
            except queue.Empty:
                break


class Slowloris(unittest.TestCase):
    """Every slot of the webhook held by drip-fed connections from eight
    addresses: the API server's next review is still answered in time."""

    @classmethod
    def setUpClass(cls):
        cls.certs = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs-drip"))
        cls.ctx = cls.certs.context()
        cls.profiles = os.path.join(ARGS.workdir, "profiles-drip")
        os.makedirs(cls.profiles)
        p = h.profile(NS, "web", {"mode": "Enforce", "images": {"allow": ["registry.example.com/*"]}},
                      selector={"matchLabels": {"app": "web"}})
        with open(os.path.join(cls.profiles, "web.json"), "w") as f:
            json.dump(p, f)
        cls.wh = h.webhook(ARGS.binary, cls.certs, ARGS.workdir, cls.profiles,
                           ["--threads", "2", "--max-connections", str(DRIP_MAX_CONN),
                            "--request-timeout", str(DRIP_REQUEST_TIMEOUT)],
                           name="webhook-drip", log_level="info")

    @classmethod
    def tearDownClass(cls):
        if cls.wh.alive():
            cls.wh.stop()

    def one_review(self, i, deny=False):
        pod = h.pod(NS, "p%d" % i, image="nginx" if deny else h.GOOD_IMAGE, labels={"app": "web"})
        body = json.dumps(review(pod, "drip-%d" % i)).encode()
        t0 = time.monotonic()
        try:
            st, _, raw = h.https_request(self.wh.port, self.ctx, "POST", "/validate/pods?timeout=10s",
                                         body, {"Content-Type": "application/json"}, timeout=15)
        except (OSError, http.client.HTTPException) as e:
            return None, repr(e), time.monotonic() - t0
        took = time.monotonic() - t0
        out = json.loads(raw)
        self.assertEqual(st, 200)
        self.assertEqual(out["response"]["uid"], "drip-%d" % i)
        self.assertEqual(out["response"]["allowed"], not deny, out)
        return st, out, took

    def test_review_answered_while_every_slot_drips(self):
        drip = DripFeed(self.wh.port, self.ctx, DRIP_PER_PEER)
        drip.start()
        try:
            # Every slot taken: the server's own count at its cap (less the
            # slots it keeps for new peers).
            reserve = DRIP_MAX_CONN // 8
            h.wait_for(lambda: self.wh.metric("profileguard_webhook_connections")
                       >= DRIP_MAX_CONN - reserve, 60, interval=0.5,
                       what="the drip-feed holding every slot")
            time.sleep(2)
            times = []
            for i in range(5):
                st, out, took = self.one_review(i, deny=(i % 2 == 1))
                self.assertIsNotNone(st, f"review {i} not answered under the drip-feed: {out} "
                                         f"after {took:.1f} s")
                times.append(took)
                time.sleep(0.5)
            held = self.wh.metric("profileguard_webhook_connections")
        finally:
            drip.stop()
        print(f"\ndrip-feed: {drip.n} connections opened, {drip.refused} refused, "
              f"{held:.0f} open at the end; review answered in "
              f"{', '.join('%.3f' % t for t in times)} s", file=sys.stderr)
        self.assertLess(max(times), DRIP_ANSWER_S, times)
        self.assertEqual(drip.answered, [])
        # No drip-fed connection lived past its deadline (with a sweep's
        # slack and a loaded machine's), whatever it was dripping.
        self.assertTrue(drip.lifetimes)
        self.assertLess(max(t for _, t in drip.lifetimes), DRIP_REQUEST_TIMEOUT + 5,
                        sorted(drip.lifetimes, key=lambda x: -x[1])[:5])
        kinds = {k for k, _ in drip.lifetimes}
        self.assertEqual(kinds, set(DripFeed.KINDS))
        self.assertTrue(self.wh.alive())

    def drip_request(self, seconds):
        """A valid review whose bytes drip over @seconds (headers at once,
        the body a piece at a time); (answer or None, seconds until the
        server answered or closed)."""
        pod = h.pod(NS, "slowbody", labels={"app": "web"})
        body = json.dumps(review(pod, "slowbody")).encode()
        s = self.ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.wh.port), timeout=30),
                                 server_hostname="localhost")
        t0 = time.monotonic()
        try:
            s.sendall(b"POST /validate/pods?timeout=30s HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
            pieces = 20
            step = (len(body) + pieces - 1) // pieces
            for i in range(0, len(body), step):
                time.sleep(seconds / pieces)
                s.sendall(body[i:i + step])
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (OSError, ssl.SSLError):
            data = b""
        finally:
            s.close()
        return data, time.monotonic() - t0

    def test_request_timeout(self):
        """A review delivered well inside --request-timeout, however slowly,
        is answered; one still dripping past it is cut there, and the log
        names the flag."""
        data, took = self.drip_request(DRIP_REQUEST_TIMEOUT / 2)
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        self.assertIn(b'"allowed":true', data)
        mark = self.wh.mark()
        data, took = self.drip_request(DRIP_REQUEST_TIMEOUT * 3)
        self.assertEqual(data, b"", "a request dripped past --request-timeout was answered")
        self.assertGreater(took, DRIP_REQUEST_TIMEOUT - 1)
        self.assertLess(took, DRIP_REQUEST_TIMEOUT * 2)
        line = self.wh.wait_log(lambda l: "--request-timeout" in l.get("msg", ""), 15, start=mark)
        self.assertEqual(line.get("seconds"), str(DRIP_REQUEST_TIMEOUT))

    def test_per_address_cap(self):
        """At the cap every connection from one address is served; one past
        it is closed at once, and the log names the cap."""
        peer = "127.0.0.20"
        body = json.dumps(review(h.pod(NS, "cap", labels={"app": "web"}), "cap")).encode()
        held = []
        try:
            # Each one answers a review and stays open (keep-alive, idle).
            for _ in range(DRIP_PER_PEER):
                raw = socket.socket()
                raw.bind((peer, 0))
                raw.connect(("127.0.0.1", self.wh.port))
                s = self.ctx.wrap_socket(raw, server_hostname="localhost")
                held.append(s)
                s.sendall(b"POST /validate/pods HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                data = b""
                while not data.rstrip().endswith(b"}"):
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, "a connection at the per-address cap was closed")
                    data += chunk
                self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])
            mark = self.wh.mark()
            raw = socket.socket()
            raw.bind((peer, 0))
            raw.connect(("127.0.0.1", self.wh.port))
            raw.settimeout(5)
            refused = False
            try:
                s = self.ctx.wrap_socket(raw, server_hostname="localhost")
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                refused = s.recv(100) == b""
                s.close()
            except (ConnectionResetError, ssl.SSLError, BrokenPipeError, OSError):
                refused = True
            self.assertTrue(refused, "a connection past the per-address cap was served")
            line = self.wh.wait_log(lambda l: "--max-connections-per-ip" in l.get("msg", "") +
                                    l.get("cap", ""), 5, start=mark)
            self.assertEqual(line.get("peer"), peer)
            # Another address is not affected.
            st, _, _ = h.https_request(self.wh.port, self.ctx, "GET", "/healthz", timeout=5)
            self.assertEqual(st, 200)
        finally:
            for s in held:
                s.close()


class TelemetrySlowloris(unittest.TestCase):
    """The controller's telemetry listener is the same server: every slot
    held by drip-fed connections from eight addresses, a sender's request
    is still answered in time (here a 401: no credentials, which is the
    listener's first answer to anyone), and the per-address cap names its
    flag."""

    MAX = 128

    def test_sender_answered_while_every_slot_drips(self):
        certs = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs-tel"))
        api = h.Standin(ARGS.srcdir, certs, ARGS.workdir)
        ctl = None
        try:
            ctl = h.controller(ARGS.binary, api, ARGS.workdir, "ctl-drip",
                               ["--telemetry-max-connections", str(self.MAX),
                                "--telemetry-request-timeout", str(DRIP_REQUEST_TIMEOUT)],
                               telemetry={"certs": certs, "allowed_users": ["agent"]})
            ctx = certs.context()
            # Handshakes and headers only: a sender without credentials is
            # answered 401 as soon as its headers are in.
            # Each address tries a few more than its cap.
            drip = DripFeed(ctl.telemetry_port, ctx, self.MAX // 4 + 8, kinds=("hello", "headers"),
                            path=b"/telemetry/v1/events")
            drip.start()
            try:
                # Every slot taken: the listener has begun to make room.
                ctl.wait_log(lambda l: "--telemetry-max-connections nearly reached" in l.get("msg", ""),
                             60)
                time.sleep(2)
                times = []
                for _ in range(3):
                    t0 = time.monotonic()
                    try:
                        st, _, _ = h.telemetry_post(ctl.telemetry_port, certs, "/telemetry/v1/events",
                                                    "{}\n", timeout=15)
                    except (OSError, http.client.HTTPException) as e:
                        st = repr(e)
                    times.append(time.monotonic() - t0)
                    self.assertEqual(st, 401, f"a sender was not answered under the drip-feed "
                                              f"after {times[-1]:.1f} s")
                    time.sleep(0.5)
            finally:
                drip.stop()
            print(f"\ntelemetry drip-feed: {drip.n} connections opened; sender answered in "
                  f"{', '.join('%.3f' % t for t in times)} s", file=sys.stderr)
            self.assertLess(max(times), DRIP_ANSWER_S, times)
            self.assertLess(max(t for _, t in drip.lifetimes), DRIP_REQUEST_TIMEOUT + 5)
            ctl.wait_log(lambda l: "--telemetry-max-connections-per-ip" in l.get("msg", ""), 15)
        finally:
            if ctl and ctl.alive():
                ctl.stop()
            api.stop()


if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__)
    random.seed(9)
    sys.exit(h.run_tests(ARGS, argv))
