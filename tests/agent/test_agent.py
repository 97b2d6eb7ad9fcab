#!/usr/bin/env python3
"""profileguard agent against real processes started here.

A synthetic /proc places real processes (sleep, a Python client holding a
real TCP connection and a connected UDP socket to a non-loopback address
of this machine) in pods: their cgroup files are written, their exe links
point at the real executables, and fd, net, ns and cmdline are links into
their real /proc entries.  A kubelet pods directory holds projected
tokens.  The agent is checked with --once (events read back by the
project's own parser through `profileguard learn`), and running against a
fake controller over real TLS: batches, nothing reported twice across
samples, 401 then a re-read token, 500 and a refused connection with
backoff and no loss, the queue bound, SIGTERM.  When this machine lets a
test make cgroups, the agent also reads the real /proc for a process
moved into a real kubepods cgroup."""
import base64
import http.server
import json
import os
import re
import secrets
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
import urllib.request

BIN = os.environ.get("PROFILEGUARD", "build/src/cmd/profileguard")
# hack/valgrind: the agent under memcheck
WRAPPER = os.environ.get("PG_TEST_WRAPPER", "").split()

UID_A = "8a7c2e1f-9b3d-4c5e-8f7a-6b5c4d3e2f1a"
UID_B = "a5c1f8d5-1919-434d-add7-4afaafdaef89"
C1 = "c1" * 32
C2 = "c2" * 32
SIGNATURE = "VGhlLXNpZ25hdHVyZS1tdXN0LW5ldmVyLWxlYXZlLXRoZS1ub2Rl"


def cg_containerd_systemd(uid, cid):
    return ("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
            "cri-containerd-%s.scope\n" % (uid.replace("-", "_"), cid))


def cg_crio_v1(uid, cid):
    return "".join("%d:%s:/kubepods/besteffort/pod%s/crio-%s\n" % (12 - i, c, uid, cid)
                   for i, c in enumerate(["pids", "memory", "cpu,cpuacct", "devices"])) + "1:misc:/\n"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(uid, iat, exp):
    header = b64url(json.dumps({"alg": "RS256", "kid": "k"}).encode())
    payload = b64url(json.dumps({
        "aud": ["https://kubernetes.default.svc"], "iat": iat, "exp": exp, "nbf": iat,
        "iss": "https://kubernetes.default.svc",
        "kubernetes.io": {"namespace": "ns", "pod": {"name": "p", "uid": uid},
                          "serviceaccount": {"name": "sa", "uid": "0" * 8 + "-0000-0000-0000-" + "0" * 12}},
        "sub": "system:serviceaccount:ns:sa"}).encode())
    return "%s.%s.%s" % (header, payload, SIGNATURE)


def write_token(pods, uid, vol, iat, exp, serial):
    """The kubelet's atomic-writer layout: <vol>/token -> ..data/token,
    ..data -> ..<timestamp>, swapped on rotation."""
    d = os.path.join(pods, uid, "volumes", "kubernetes.io~projected", vol)
    stamp = "..2026_11_22_10_00_%02d.%d" % (serial % 60, serial)
    os.makedirs(os.path.join(d, stamp), exist_ok=True)
    with open(os.path.join(d, stamp, "token"), "w") as f:
        f.write(jwt(uid, iat, exp))
    tmp = os.path.join(d, "..data_tmp")
    os.symlink(stamp, tmp)
    os.replace(tmp, os.path.join(d, "..data"))
    if not os.path.islink(os.path.join(d, "token")):
        os.symlink("..data/token", os.path.join(d, "token"))


def nonloopback_ipv4():
    """A local IPv4 address outside 127/8, found without sending anything."""
    for probe in ("192.0.2.1", "10.255.255.1", "198.51.100.1"):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect((probe, 9))
            addr = s.getsockname()[0]
            s.close()
            if not addr.startswith("127.") and addr != "0.0.0.0":
                return addr, None
        except OSError:
            pass
    # a dummy interface, if this sandbox lets us make one
    name = "pga%d" % (os.getpid() % 100000)
    try:
        subprocess.run(["ip", "link", "add", name, "type", "dummy"], check=True, capture_output=True)
        subprocess.run(["ip", "addr", "add", "198.18.77.1/32", "dev", name], check=True, capture_output=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True, capture_output=True)
        return "198.18.77.1", name
    except (OSError, subprocess.CalledProcessError):
        return None, None


CLIENT = r"""
import socket, sys, time
addr, port, lport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = socket.create_connection((addr, port))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.connect((addr, 5353))
lo = socket.create_connection(("127.0.0.1", lport))
print("ready", flush=True)
time.sleep(600)
"""


def key(ev):
    """What "reported once" is about: everything but the time."""
    e = dict(ev)
    e.pop("time", None)
    return json.dumps(e, sort_keys=True)


class Controller:
    """A fake controller: HTTPS, POST /telemetry/v1/events, records every
    request; self.decide(request) picks the status."""

    def __init__(self, certfile, keyfile, port=0):
        self.certfile, self.keyfile = certfile, keyfile
        self.requests = []      # (time, auth, status, lines)
        self.lock = threading.Lock()
        self.decide = lambda req: 200
        self.port = port
        self.server = None
        self.conns = set()
        self.start()

    def start(self):
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with outer.lock:
                    outer.conns.add(self.connection)

            def finish(self):
                super().finish()
                with outer.lock:
                    outer.conns.discard(self.connection)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n).decode()
                lines = [json.loads(l) for l in body.splitlines() if l]
                req = {"time": time.monotonic(), "auth": self.headers.get("Authorization", ""),
                       "path": self.path, "ctype": self.headers.get("Content-Type"), "lines": lines}
                status = outer.decide(req)
                req["status"] = status
                with outer.lock:
                    outer.requests.append(req)
                reply = json.dumps({"accepted": len(lines), "rejected": 0} if status == 200
                                   else {"error": "no"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.certfile, self.keyfile)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        srv.daemon_threads = True
        self.port = srv.server_address[1]
        self.server = srv
        threading.Thread(target=srv.serve_forever, daemon=True).start()

    def stop(self):
        """Gone: no listener, and the keep-alive connections cut."""
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            conns, self.conns = list(self.conns), set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def delivered(self):
        with self.lock:
            return [l for r in self.requests if r["status"] == 200 for l in r["lines"]]

    def snapshot(self):
        with self.lock:
            return list(self.requests)


def wait_for(cond, timeout=15.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


class Agent(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pg-agent-it-")
        cls.procs = []
        cls.addr, cls.dummy = nonloopback_ipv4()
        cls.make_certs()
        cls.proc_root = os.path.join(cls.tmp, "proc")
        cls.pods = os.path.join(cls.tmp, "pods")
        os.makedirs(cls.proc_root)
        os.makedirs(cls.pods)
        # a listener on a non-loopback address of this machine, and one on loopback
        cls.listener = cls.lo_listener = None
        if cls.addr:
            cls.listener = socket.socket()
            cls.listener.bind((cls.addr, 0))
            cls.listener.listen(16)
        cls.lo_listener = socket.socket()
        cls.lo_listener.bind(("127.0.0.1", 0))
        cls.lo_listener.listen(16)
        cls.sleep = cls.spawn(["sleep", "600"])
        cls.sleep2 = cls.spawn(["sleep", "601"])
        cls.place(cls.sleep, cg_containerd_systemd(UID_A, C1))
        cls.place(cls.sleep2, cg_containerd_systemd(UID_A, C1))
        if cls.addr:
            cls.client = cls.spawn([sys.executable, "-c", CLIENT, cls.addr, str(cls.listener.getsockname()[1]),
                                    str(cls.lo_listener.getsockname()[1])], stdout=subprocess.PIPE)
            assert cls.client.stdout.readline().strip() == b"ready"
            cls.place(cls.client, cg_crio_v1(UID_B, C2))
        # this test's own Python: a host process, never reported
        cls.place_pid(os.getpid(), "0::/user.slice/user-0.slice/session-1.scope\n")
        write_token(cls.pods, UID_A, "kube-api-access-7xk2p", 1795340000, 1795343600, 0)
        cls.token_file = os.path.join(cls.tmp, "agent-token")
        cls.tok1 = "tok1-" + secrets.token_hex(24)
        cls.tok2 = "tok2-" + secrets.token_hex(24)
        with open(cls.token_file, "w") as f:
            f.write(cls.tok1 + "\n")

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.kill()
            p.wait()
            for f in (p.stdin, p.stdout):
                if f:
                    f.close()
        for s in (cls.listener, cls.lo_listener):
            if s:
                s.close()
        if cls.dummy:
            subprocess.run(["ip", "link", "del", cls.dummy], capture_output=True)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def make_certs(cls):
        d = cls.tmp
        run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=d)
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=profileguard-test-ca")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
            "-subj", "/CN=profileguard-controller")
        with open(os.path.join(d, "ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "srv.pem", "-days", "2", "-extfile", "ext")
        # a CA that signed nothing of ours: the agent must refuse the controller
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem",
            "-days", "2", "-subj", "/CN=someone-else")
        cls.ca = os.path.join(d, "ca.pem")
        cls.other_ca = os.path.join(d, "other.pem")
        cls.cert = os.path.join(d, "srv.pem")
        cls.key = os.path.join(d, "srv.key")

    @classmethod
    def spawn(cls, argv, **kw):
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, **kw)
        cls.procs.append(p)
        return p

    @classmethod
    def place_pid(cls, pid, cgroup):
        d = os.path.join(cls.proc_root, str(pid))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "cgroup"), "w") as f:
            f.write(cgroup)
        for name in ("exe",):
            os.symlink(os.readlink("/proc/%d/exe" % pid), os.path.join(d, name))
        for name in ("fd", "net", "ns", "cmdline", "status"):
            os.symlink("/proc/%d/%s" % (pid, name), os.path.join(d, name))

    @classmethod
    def place(cls, p, cgroup):
        cls.place_pid(p.pid, cgroup)

    def exe(self, p):
        return os.readlink("/proc/%d/exe" % p.pid)

    def agent(self, *args, **kw):
        return subprocess.Popen([*WRAPPER, BIN, "agent", "--proc-root", self.proc_root, "--kubelet-pods-dir", self.pods,
                                 "--node-name", "node-a", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)

    def stop(self, a):
        a.send_signal(signal.SIGTERM)
        out, err = a.communicate(timeout=20)
        self.assertEqual(a.returncode, 0, err)
        self.assertIn('"msg":"agent stopped"', err)
        for t in (self.tok1, self.tok2, SIGNATURE):
            self.assertNotIn(t, err)
        return err

    def expected_first(self):
        want = {
            ("exec", UID_A, "containerd://" + C1, self.exe(self.sleep)),
            ("token", UID_A, None, (1795340000, 1795343600)),
        }
        if self.addr:
            port = self.listener.getsockname()[1]
            want |= {
                ("exec", UID_B, "cri-o://" + C2, self.exe(self.client)),
                ("connect", UID_B, "cri-o://" + C2, (self.addr, port, "tcp")),
                ("connect", UID_B, "cri-o://" + C2, (self.addr, 5353, "udp")),
            }
        return want

    @staticmethod
    def summary(ev):
        facts = {"exec": lambda e: e["exe"], "connect": lambda e: (e["daddr"], e["dport"], e["protocol"]),
                 "token": lambda e: (e["iat"], e["exp"])}[ev["kind"]](ev)
        return (ev["kind"], ev["pod"]["uid"], ev.get("containerID"), facts)

    # ---- --once -------------------------------------------------------------

    def test_once(self):
        a = self.agent("--once", "--log-level", "debug")
        out, err = a.communicate(timeout=30)
        self.assertEqual(a.returncode, 0, err)
        events = [json.loads(l) for l in out.splitlines()]
        got = [self.summary(e) for e in events]
        self.assertEqual(sorted(map(str, got)), sorted(map(str, self.expected_first())), out)
        self.assertEqual(len(got), len(set(got)), "reported twice in one sample")
        for e in events:
            self.assertEqual(e["node"], "node-a")
            self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertNotIn(SIGNATURE, out + err)
        if not self.addr:
            self.skipTest("no non-loopback address here: the connection path is covered by the "
                          "synthetic net tables of tests/agent/test_scan.c")
        # The project's own reader takes every line: learn turns them into a
        # profile that allows exactly these executables and destinations.
        # Only the pod the manifest names counts (its UID ties the agent's
        # events to it): pod A's executable stays out of pod B's profile.
        path = os.path.join(self.tmp, "once.jsonl")
        with open(path, "w") as f:
            f.write(out)
        pod = os.path.join(self.tmp, "pod-b.yaml")
        with open(pod, "w") as f:
            f.write("apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: default, uid: %s}\n"
                    "spec: {containers: [{name: c, image: 'r.io/b@sha256:%s'}]}\n" % (UID_B, "b" * 64))
        r = subprocess.run([BIN, "learn", "-f", path, "--format", "native", "--name", "learned",
                            "--namespace", "default", "--pod", pod], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(self.exe(self.sleep), r.stdout)
        self.assertIn(self.exe(self.client), r.stdout)
        self.assertIn(self.addr + "/32", r.stdout)
        self.assertNotIn("127.0.0.1", r.stdout)    # loopback is not egress

    def test_env_flags_and_bad_flags(self):
        env = dict(os.environ, PROFILEGUARD_PROC_ROOT=self.proc_root, PROFILEGUARD_KUBELET_PODS_DIR=self.pods,
                   PROFILEGUARD_ONCE="true", NODE_NAME="node-from-env")
        r = subprocess.run([BIN, "agent"], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        events = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertTrue(events)
        self.assertTrue(all(e["node"] == "node-from-env" for e in events))
        for bad in (["--interval", "0"], ["--interval", "fast"], ["--max-queue", "0"],
                    ["--controller-url", "http://ctl:9443"], ["--controller-ca", "a", "--ca-file", "b"],
                    ["extra"]):
            r = subprocess.run([BIN, "agent", *bad], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))

    # ---- against a controller -------------------------------------------------

    def run_agent(self, ctl, *extra):
        return self.agent("--interval", "200ms", "--controller-url", "https://127.0.0.1:%d" % ctl.port,
                          "--controller-ca", self.ca, "--token-file", self.token_file,
                          "--metrics-addr", "127.0.0.1:0", "--log-level", "debug", *extra)

    def metrics_port(self, a):
        # the port is in the "metrics listening" log line; read stderr as it comes
        buf = ""
        end = time.monotonic() + 10
        while time.monotonic() < end:
            line = a.stderr.readline()
            buf += line
            m = re.search(r'"msg":"metrics listening".*"port":"(\d+)"', line)
            if m:
                return int(m.group(1)), buf
        self.fail("no metrics line: " + buf)

    def scrape(self, port, path="/metrics"):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()

    def drain_stderr(self, a, sink):
        def pump():
            for line in a.stderr:
                sink.append(line)
        t = threading.Thread(target=pump, daemon=True)
        t.start()
        return t

    def assert_once_each(self, ctl):
        keys = [key(e) for e in ctl.delivered()]
        dups = {k for k in keys if keys.count(k) > 1}
        self.assertFalse(dups, "delivered twice: %s" % dups)

    def test_controller_flow(self):
        """batches, nothing twice, 401 + token re-read, 500 + backoff,
        refused connections, all without loss, then SIGTERM."""
        ctl = Controller(self.cert, self.key)
        with open(self.token_file, "w") as f:
            f.write(self.tok1 + "\n")
        ctl.decide = lambda req: 200 if req["auth"] == "Bearer " + self.tok1 else 401
        a = self.run_agent(ctl)
        port, log = self.metrics_port(a)
        logs = [log]
        self.drain_stderr(a, logs)
        want = self.expected_first()
        added = []

        def spawn(argv, cgroup):
            p = self.spawn(argv)
            self.place(p, cgroup)
            added.append(p)
            return p
        try:
            self.assertTrue(wait_for(lambda: len(ctl.delivered()) >= len(want)), ctl.snapshot())
            first = ctl.snapshot()[0]
            self.assertEqual(first["path"], "/telemetry/v1/events")
            self.assertEqual(first["ctype"], "application/x-ndjson")
            # a sample's events travel together (a lookup that did not fit the
            # sample's budget for net tables comes with the next one)
            self.assertGreaterEqual(len(first["lines"]), 3, "one sample, one batch")
            self.assertLessEqual(len(ctl.snapshot()), 3)
            self.assertEqual(sorted(map(str, (self.summary(e) for e in ctl.delivered()))),
                             sorted(map(str, want)))
            status, _ = self.scrape(port, "/readyz")
            self.assertEqual(status, 200)
            # several intervals of nothing new: no request with events, nothing twice
            time.sleep(1.2)
            self.assertEqual(len(ctl.delivered()), len(want))

            # a new executable in C1 and a known one in a new process
            cat = spawn(["cat"], cg_containerd_systemd(UID_A, C1))
            spawn(["sleep", "602"], cg_containerd_systemd(UID_A, C1))
            self.assertTrue(wait_for(lambda: len(ctl.delivered()) == len(want) + 1))
            time.sleep(0.6)
            new = ctl.delivered()[len(want):]
            self.assertEqual([self.summary(e) for e in new],
                             [("exec", UID_A, "containerd://" + C1, self.exe(cat))])

            # the kubelet rotates the token: 401 with the old one, re-read, sent with the new
            ctl.decide = lambda req: 200 if req["auth"] == "Bearer " + self.tok2 else 401
            with open(self.token_file + ".new", "w") as f:
                f.write(self.tok2)
            os.replace(self.token_file + ".new", self.token_file)
            write_token(self.pods, UID_A, "kube-api-access-7xk2p", 1795343000, 1795346600, 1)
            self.assertTrue(wait_for(lambda: any(e["kind"] == "token" and e["iat"] == 1795343000
                                                 for e in ctl.delivered())))
            reqs = ctl.snapshot()
            refused = [r for r in reqs if r["status"] == 401]
            self.assertTrue(refused and all(r["auth"] == "Bearer " + self.tok1 for r in refused))
            self.assertEqual(reqs[-1]["auth"], "Bearer " + self.tok2)

            # 500s: retried with growing, jittered delays; nothing lost
            fails = {"n": 0}

            def flaky(req):
                if fails["n"] < 3:
                    fails["n"] += 1
                    return 500
                return 200
            ctl.decide = flaky
            t0 = len(ctl.snapshot())
            tail = spawn(["tail", "-f", "/dev/null"], cg_crio_v1(UID_B, C2))
            self.assertTrue(wait_for(lambda: any(e["kind"] == "exec" and e["exe"] == self.exe(tail)
                                                 for e in ctl.delivered()), timeout=20))
            attempts = [r for r in ctl.snapshot()[t0:] if any(l.get("exe") == self.exe(tail) for l in r["lines"])]
            self.assertEqual([r["status"] for r in attempts], [500, 500, 500, 200])
            gaps = [b["time"] - a_["time"] for a_, b in zip(attempts, attempts[1:])]
            # nominal 0.5 s, 1 s, 2 s, each jittered down by at most half
            self.assertGreaterEqual(gaps[0], 0.2)
            self.assertGreaterEqual(gaps[1], 0.45)
            self.assertGreaterEqual(gaps[2], 0.95)

            # the controller goes away (connections refused), events pile up, it comes back
            ctl.stop()
            time.sleep(0.3)
            head = spawn(["head", "-c", "1"], cg_containerd_systemd(UID_A, C1))
            write_token(self.pods, UID_A, "kube-api-access-7xk2p", 1795344000, 1795347600, 2)
            time.sleep(1.5)
            ctl.start()
            self.assertTrue(wait_for(lambda: any(e.get("exe") == self.exe(head) for e in ctl.delivered())
                                     and any(e["kind"] == "token" and e["iat"] == 1795344000
                                             for e in ctl.delivered()), timeout=40))
            time.sleep(0.6)
            self.assert_once_each(ctl)
            _, text = self.scrape(port)
            self.assertIn("profileguard_agent_events_dropped_total 0", text)
            self.assertRegex(text, r'profileguard_agent_posts_total\{result="failure"\} [1-9]')
            self.assertRegex(text, r"profileguard_agent_samples_total\{result=\"success\"\} \d+")
        finally:
            a.send_signal(signal.SIGTERM)
            a.wait(timeout=20)
            try:
                ctl.stop()
            except OSError:
                pass
            # leave the node as the other tests expect it
            for p in added:
                p.kill()
                p.wait()
                shutil.rmtree(os.path.join(self.proc_root, str(p.pid)), ignore_errors=True)
            write_token(self.pods, UID_A, "kube-api-access-7xk2p", 1795340000, 1795343600, 3)
        err = "".join(logs)
        self.assertEqual(a.returncode, 0, err)
        self.assertIn('"msg":"agent stopped"', err)
        self.assertIn("401", err)
        self.assertIn("controller unreachable", err)
        for t in (self.tok1, self.tok2, SIGNATURE):
            self.assertNotIn(t, err)
        with open(self.token_file, "w") as f:
            f.write(self.tok1 + "\n")

    def test_queue_bound(self):
        """The controller is away from the start: a queue of 2 keeps the
        newest 2 events of the first sample and counts the rest as dropped."""
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        ctl_url = "https://127.0.0.1:%d" % port
        a = self.agent("--interval", "200ms", "--controller-url", ctl_url, "--controller-ca", self.ca,
                       "--token-file", self.token_file, "--max-queue", "2", "--metrics-addr", "127.0.0.1:0")
        mport, log = self.metrics_port(a)
        logs = [log]
        self.drain_stderr(a, logs)
        n = len(self.expected_first())
        if n <= 2:
            a.kill()
            a.wait()
            self.skipTest("needs more than 2 events: no non-loopback address here")
        try:
            self.assertTrue(wait_for(lambda: ("profileguard_agent_events_dropped_total %d" % (n - 2))
                                     in self.scrape(mport)[1], timeout=10))
            ctl = Controller(self.cert, self.key, port=port)
            self.assertTrue(wait_for(lambda: len(ctl.delivered()) == 2, timeout=40))
            time.sleep(0.6)
            self.assertEqual(len(ctl.delivered()), 2)
            _, text = self.scrape(mport)
            self.assertIn("profileguard_agent_queue_events 0", text)
            ctl.stop()
        finally:
            a.send_signal(signal.SIGTERM)
            a.wait(timeout=20)
        err = "".join(logs)
        self.assertIn("queue full", err)
        self.assertEqual(a.returncode, 0, err)

    def test_untrusted_certificate(self):
        """A controller whose certificate the CA did not sign gets nothing."""
        ctl = Controller(self.cert, self.key)
        a = self.agent("--interval", "200ms", "--controller-url", "https://127.0.0.1:%d" % ctl.port,
                       "--controller-ca", self.other_ca, "--token-file", self.token_file)
        try:
            time.sleep(1.5)
            self.assertEqual(ctl.snapshot(), [])
        finally:
            err = self.stop(a)
            ctl.stop()
        self.assertIn("controller unreachable", err)

    def test_sigterm_flushes(self):
        """SIGTERM while backing off after a 500: what is queued is sent
        before the agent exits, backoff or not."""
        ctl = Controller(self.cert, self.key)
        ctl.decide = lambda req: 500 if len(ctl.snapshot()) == 0 else 200
        a = self.agent("--interval", "10s", "--controller-url", "https://127.0.0.1:%d" % ctl.port,
                       "--controller-ca", self.ca, "--token-file", self.token_file)
        try:
            self.assertTrue(wait_for(lambda: len(ctl.snapshot()) >= 1, timeout=10))
            self.assertEqual(ctl.delivered(), [])
            t = time.monotonic()
            self.stop(a)
            self.assertLess(time.monotonic() - t, 8)
            self.assertEqual(len(ctl.delivered()), len(self.expected_first()))
        finally:
            ctl.stop()


class RealCgroup(unittest.TestCase):
    """The real /proc of a process moved into a real kubepods cgroup, when
    this machine lets a test make one (cgroup v1 pids, or v2)."""

    def try_hierarchy(self, base, rel):
        path = os.path.join(base, rel)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            self.skipTest("cannot make cgroups under %s: %s" % (base, e))
        made = []
        p = path
        while p != base:
            made.append(p)
            p = os.path.dirname(p)
        sleep = subprocess.Popen(["sleep", "600"])
        try:
            try:
                with open(os.path.join(path, "cgroup.procs"), "w") as f:
                    f.write(str(sleep.pid))
            except OSError as e:
                self.skipTest("cannot move a process into %s: %s" % (path, e))
            r = subprocess.run([BIN, "agent", "--once", "--kubelet-pods-dir", "/nonexistent"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            return [json.loads(l) for l in r.stdout.splitlines()], os.readlink("/proc/%d/exe" % sleep.pid)
        finally:
            sleep.kill()
            sleep.wait()
            time.sleep(0.1)
            for d in made:
                try:
                    os.rmdir(d)
                except OSError:
                    pass

    def test_v1_cgroupfs(self):
        base = "/sys/fs/cgroup/pids"
        if not os.path.isfile(os.path.join(base, "cgroup.procs")):
            self.skipTest("no cgroup v1 pids hierarchy")
        cid = secrets.token_hex(32)
        events, exe = self.try_hierarchy(base, "kubepods/besteffort/pod%s/%s" % (UID_A, cid))
        self.assertIn({"kind": "exec", "pod": {"uid": UID_A}, "containerID": cid, "exe": exe},
                      [{k: e[k] for k in ("kind", "pod", "containerID", "exe") if k in e} for e in events])

    def test_v2_systemd(self):
        base = next((b for b in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup")
                     if os.path.isfile(os.path.join(b, "cgroup.controllers"))), None)
        if not base:
            self.skipTest("no cgroup v2 hierarchy")
        cid = secrets.token_hex(32)
        rel = ("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
               "cri-containerd-%s.scope" % (UID_B.replace("-", "_"), cid))
        events, exe = self.try_hierarchy(base, rel)
        self.assertIn({"kind": "exec", "pod": {"uid": UID_B}, "containerID": "containerd://" + cid, "exe": exe},
                      [{k: e[k] for k in ("kind", "pod", "containerID", "exe") if k in e} for e in events])


if __name__ == "__main__":
    unittest.main(verbosity=2)
