"""Shared harness for the integration suites that start the real profileguard
binaries over real TLS against the API stand-in (tests/standin/kube_standin.py).

What every such suite needs once: test certificates, a stand-in with a seed and
a kubeconfig, profileguard commands started with flags and their JSON log lines
read as they come, polling with deadlines, metrics scraping, and builders for
Pods and WorkloadProfiles.  Python 3 standard library only.
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
import threading
import time
import unittest
import urllib.parse

DIGEST = "sha256:" + "a" * 64
GOOD_IMAGE = "registry.example.com/app@" + DIGEST
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                     "runtime error:")
# Every process the harness started: cleanup() kills those a failed test left.
_STARTED = []


# ---------------------------------------------------------------------------
# Time and waiting
# ---------------------------------------------------------------------------

def rfc3339(t=None, fraction=False):
    t = time.time() if t is None else t
    d = datetime.datetime.fromtimestamp(t if fraction else int(t), datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if fraction else "%Y-%m-%dT%H:%M:%SZ")


# hack/valgrind runs every profileguard process under memcheck by setting
# PG_TEST_WRAPPER to the valgrind command; code is then ~20x slower, so
# every deadline stretches by PG_TEST_SLOW (its default there: 10).
WRAPPER = os.environ.get("PG_TEST_WRAPPER", "").split()
SLOW = float(os.environ.get("PG_TEST_SLOW", "10" if WRAPPER else "1"))


def wait_for(fn, timeout=10.0, interval=0.05, what="condition"):
    """Polls @fn until it returns something truthy and returns that value;
    fails with the last value seen once @timeout seconds (times SLOW) have
    passed."""
    timeout *= SLOW
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def sanitized(binary):
    """True when @binary was built with AddressSanitizer: memory bounds and
    timeouts are then looser (shadow memory, quarantine, 2-5x slower code)."""
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# ---------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------

class Certs:
    """tests/standin/gencerts.sh's set in @directory: ca, server (localhost,
    127.0.0.1, ::1), client (admin, system:masters), bad-client (another CA).
    mint_client() signs more client certificates with the test CA."""

    def __init__(self, srcdir, directory):
        self.dir = directory
        subprocess.run(["sh", os.path.join(srcdir, "tests", "standin", "gencerts.sh"), directory],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        p = lambda n: os.path.join(directory, n)
        self.ca, self.ca_key = p("ca.crt"), p("ca.key")
        self.server = (p("server.crt"), p("server.key"))
        self.client = (p("client.crt"), p("client.key"))
        self.bad_client = (p("bad-client.crt"), p("bad-client.key"))

    def _mint(self, prefix, cn, extensions, days):
        """A certificate for CN @cn with @extensions, signed by the test CA for
        @days, kept as PREFIX-CN.crt/.key in the directory: (cert, key)."""
        base = os.path.join(self.dir, prefix + re.sub(r"[^A-Za-z0-9_.-]", "_", cn))
        crt, key, csr, ext = base + ".crt", base + ".key", base + ".csr", base + ".ext"
        if os.path.exists(crt):
            return crt, key
        with open(ext, "w") as f:
            f.write(extensions)
        for cmd in (["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-out", key],
                    ["openssl", "req", "-new", "-key", key, "-subj", f"/CN={cn}", "-out", csr],
                    ["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
                     "-set_serial", "0x" + os.urandom(8).hex(), "-days", str(days), "-sha256",
                     "-extfile", ext, "-out", crt]):
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return crt, key

    def mint_client(self, cn):
        """A client certificate for CN @cn signed by the test CA: (cert, key)."""
        return self._mint("minted-", cn, "basicConstraints=critical,CA:FALSE\n"
                          "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n", 2)

    def mint_server(self, cn, days=1):
        """A serving certificate for CN @cn (localhost, 127.0.0.1) signed by
        the test CA: (cert, key).  Distinct CNs tell pairs apart on the wire."""
        return self._mint("server-", cn, "basicConstraints=critical,CA:FALSE\n"
                          "extendedKeyUsage=serverAuth\n"
                          "subjectAltName=DNS:localhost,IP:127.0.0.1\n", days)

    def context(self, cert=None):
        """A client TLS context trusting the test CA, presenting @cert if given."""
        ctx = ssl.create_default_context(cafile=self.ca)
        if cert:
            ctx.load_cert_chain(*cert)
        return ctx


# ---------------------------------------------------------------------------
# Object builders
# ---------------------------------------------------------------------------

def pod(ns, name, image=GOOD_IMAGE, labels=None, node="node-a", sa=None, ip=None,
        spec=None, owner=None, uid=None, container="c", container_id=None, started=None,
        annotations=None, meta=None):
    """A Running, Ready pod with one container (compliant with a
    requireDigest profile unless @image says otherwise).  @meta is merged
    into metadata last (deletionTimestamp, finalizers...)."""
    m = {"name": name, "namespace": ns, "labels": dict(labels or {"app": "a"})}
    if uid:
        m["uid"] = uid
    if annotations:
        m["annotations"] = dict(annotations)
    if owner:
        m["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                 "uid": owner[2], "controller": True}]
    if meta:
        m.update(meta)
    s = {"nodeName": node, "containers": [{"name": container, "image": image}]}
    if sa:
        s["serviceAccountName"] = sa
    if spec:
        s.update(spec)
    st = {"phase": "Running", "startTime": rfc3339(started if started else time.time() - 600),
          "conditions": [{"type": "Ready", "status": "True"}]}
    if ip:
        st["podIP"] = ip
        st["podIPs"] = [{"ip": ip}]
    if container_id:
        st["containerStatuses"] = [{"name": container, "ready": True,
                                    "containerID": container_id}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": s, "status": st}


def profile(ns, name, spec, selector=None):
    s = {"selector": selector or {"matchLabels": {"app": "a"}}}
    s.update(spec)
    return {"apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
            "metadata": {"name": name, "namespace": ns}, "spec": s}


def namespace(name, labels=None):
    m = {"name": name}
    if labels:
        m["labels"] = labels
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": m}


def service_account(ns, name, created=None):
    """A ServiceAccount created a day ago unless @created says when: pods
    started after it are not running on a recreated identity."""
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": ns,
                         "creationTimestamp": rfc3339(created if created else time.time() - 86400)}}


def uid_of(obj):
    return obj["metadata"]["uid"]


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------

_SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text into [(name, {label: value}, float)]."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        try:
            out.append((m.group(1), labels, float(m.group(3))))
        except ValueError:
            pass
    return out


def metric_sum(samples, name, **labels):
    """The sum of the series of @name carrying @labels (0 when none)."""
    return sum(v for n, l, v in samples
               if n == name and all(l.get(k) == str(x) for k, x in labels.items()))


# ---------------------------------------------------------------------------
# The API stand-in
# ---------------------------------------------------------------------------

class Standin:
    """kube_standin.py on 127.0.0.1:@port (0: a free one) with @seed objects
    and a @tokens table, in its own working directory under @workdir.

    With @default_sa, put() first gives every namespace it meets the
    ServiceAccount "default" a real cluster has (created a day ago), so pods
    are not running on a missing identity by accident."""

    def __init__(self, srcdir, certs, workdir, seed=(), tokens=None, extra=(), port=0,
                 default_sa=False):
        self.certs = certs
        self.default_sa = default_sa
        self.known_ns = set()
        self.dir = tempfile.mkdtemp(prefix="standin-", dir=workdir)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        port_file = os.path.join(self.dir, "port")
        seed_path = os.path.join(self.dir, "seed.json")
        with open(seed_path, "w") as f:
            json.dump({"items": list(seed)}, f)
        cmd = [sys.executable, os.path.join(srcdir, "tests", "standin", "kube_standin.py"),
               "--cert", certs.server[0], "--key", certs.server[1], "--client-ca", certs.ca,
               "--seed", seed_path, "--port", str(port), "--port-file", port_file,
               "--kubeconfig-out", self.kubeconfig, "--ca-for-kubeconfig", certs.ca,
               "--bookmark-interval", "1"] + list(extra)
        if tokens is not None:
            tpath = os.path.join(self.dir, "tokens.json")
            with open(tpath, "w") as f:
                json.dump(tokens, f)
            cmd += ["--tokens", tpath]
        # Its access log says when a request finished, even one whose
        # client had gone (a request's recorded status stays None then).
        self.log_path = os.path.join(self.dir, "standin.log")
        cmd += ["--log", self.log_path]
        self.stderr_path = os.path.join(self.dir, "standin.stderr")
        self.stdout_path = os.path.join(self.dir, "standin.stdout")
        self._stderr = open(self.stderr_path, "wb")
        with open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=self._stderr)
        _STARTED.append(self.proc)
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("stand-in did not start: " + self._tail())
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        self.ctx = certs.context()

    def _tail(self):
        return self.stderr()[-3000:]

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def banner(self, timeout=10):
        """The first line the stand-in printed ("listening on https://...")."""
        def line():
            with open(self.stdout_path, errors="replace") as f:
                text = f.read()
            return text.split("\n", 1)[0] if "\n" in text else None
        return wait_for(line, timeout, what="the stand-in's banner")

    def stop(self):
        """SIGTERM (SIGKILL after 10 s); returns what it wrote on stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        return self.stderr()

    def kubeconfig_with(self, token):
        """A copy of the kubeconfig that authenticates with @token."""
        with open(self.kubeconfig) as f:
            text = f.read()
        path = os.path.join(self.dir, f"kubeconfig-{token}")
        with open(path, "w") as f:
            f.write(text.replace("admin-token", token))
        return path

    def call(self, method, path, body=None, token="admin-token", ctype="application/json"):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=60)
        headers = {"Authorization": "Bearer " + token} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = ctype
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            raw = r.read()
        finally:
            conn.close()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw.decode(errors="replace")

    def _ok(self, method, path, body=None):
        return self.kube(method, path, body, expect=(200,))

    def kube(self, method, path, body=None, ctype="application/json", expect=(200, 201)):
        """One request as admin, to the API or the control API; fails unless
        answered with a status in @expect; returns the parsed body."""
        st, out = self.call(method, path, body, ctype=ctype)
        if st not in expect:
            raise AssertionError(f"stand-in {method} {path}: {st} {out}")
        return out

    def finished(self, method, path_regex):
        """Access-log entries of finished requests: {method, path, status, ms}."""
        rx = re.compile(path_regex)
        out = []
        try:
            with open(self.log_path, errors="replace") as f:
                for raw in f:
                    try:
                        e = json.loads(raw)
                    except ValueError:
                        continue
                    if e.get("msg") == "request" and e.get("method") == method \
                            and rx.search(e.get("path", "")):
                        out.append(e)
        except FileNotFoundError:
            pass
        return out

    # -- control API (no faults, no recording) ------------------------------------
    def put(self, *items):
        """Creates or replaces @items as given; returns them as stored (uids)."""
        if self.default_sa:
            fresh = []
            for it in items:
                ns = (it.get("metadata") or {}).get("namespace")
                if it.get("kind") != "Namespace" and ns and ns not in self.known_ns:
                    self.known_ns.add(ns)
                    fresh.append(service_account(ns, "default"))
            if fresh:
                self._ok("POST", "/_standin/objects", {"items": fresh})
        return self._ok("POST", "/_standin/objects", {"items": list(items)})["items"]

    def objects(self, kind, ns=None, name=None):
        q = {"kind": kind}
        if ns is not None:
            q["namespace"] = ns
        if name:
            q["name"] = name
        return self._ok("GET", "/_standin/objects?" + urllib.parse.urlencode(q))["items"]

    def one(self, kind, ns, name):
        items = self.objects(kind, ns, name)
        return items[0] if items else None

    def remove(self, kind, ns, name):
        q = urllib.parse.urlencode({"kind": kind, "namespace": ns, "name": name})
        self._ok("DELETE", "/_standin/objects?" + q)

    def requests(self, method=None, path_regex=None):
        q = {}
        if method:
            q["method"] = method
        if path_regex:
            q["path_regex"] = path_regex
        return self._ok("GET", "/_standin/requests?" + urllib.parse.urlencode(q))

    def faults(self, knobs):
        """Merges @knobs (None removes one); returns the knobs now set."""
        return self._ok("POST", "/_standin/faults", knobs)

    def clear_faults(self):
        self._ok("DELETE", "/_standin/faults")

    def compact(self):
        return self._ok("POST", "/_standin/compact")

    def watches(self):
        return self._ok("GET", "/_standin/watches")

    def state(self):
        return self._ok("GET", "/_standin/state")

    # -- what a controller wrote ---------------------------------------------------
    def events(self, ns, pod_name=None, reason=None, uid=None):
        out = []
        for e in self.objects("Event", ns):
            reg = e.get("regarding") or {}
            if pod_name and reg.get("name") != pod_name:
                continue
            if uid and reg.get("uid") != uid:
                continue
            if reason and e.get("reason") != reason:
                continue
            out.append(e)
        return out

    def profile_status(self, ns, name):
        """The status of WorkloadProfile @ns/@name ({} when none)."""
        return (self.one("WorkloadProfile", ns, name) or {}).get("status") or {}

    def patch_profile(self, ns, name, spec):
        """A merge patch of the spec through the API, as kubectl would send
        it: the API server bumps metadata.generation."""
        return self.kube("PATCH", f"/apis/profileguard.io/v1alpha1/namespaces/{ns}"
                         f"/workloadprofiles/{name}", {"spec": spec},
                         ctype="application/merge-patch+json", expect=(200,))

    def deletes(self, ns, name):
        """pod_deletes() of pod @name as (status, preconditions uid) pairs."""
        return [(d["status"], d["uid"]) for d in self.pod_deletes(ns, name)]

    def evictions(self, ns, name):
        """The statuses of the Evictions posted for pod @ns/@name."""
        return [r["status"] for r in self.requests(
            "POST", "^" + re.escape(f"/api/v1/namespaces/{ns}/pods/{name}/eviction") + "$")]

    def pod_deletes(self, ns, name=None):
        """Recorded DELETEs of pods of @ns (or of pod @name) as dicts
        {name, status, uid}: status None when the answer never went out
        (the client hung up first), 0 when a fault reset the connection."""
        rx = "^" + re.escape(f"/api/v1/namespaces/{ns}/pods/") + \
             (re.escape(name) if name else "[^/]+") + "$"
        out = []
        for r in self.requests("DELETE", rx):
            body = r.get("body") if isinstance(r.get("body"), dict) else {}
            out.append({"name": r["path"].rsplit("/", 1)[1], "status": r["status"],
                        "uid": (body.get("preconditions") or {}).get("uid")})
        return out


# ---------------------------------------------------------------------------
# profileguard commands
# ---------------------------------------------------------------------------

class Profileguard:
    """One `profileguard COMMAND` process: its stderr (JSON log lines) goes to
    a file read incrementally, so polling a long log stays cheap."""

    def __init__(self, binary, command, args, workdir, name, env=None):
        self.name = name
        # A fresh file per process: a second process of the same name must
        # never read the first one's "listening" line.
        self.log_path = os.path.join(workdir, name + ".log")
        n = 1
        while os.path.exists(self.log_path):
            n += 1
            self.log_path = os.path.join(workdir, f"{name}-{n}.log")
        self._log = open(self.log_path, "wb")
        self._lines, self._offset, self._partial = [], 0, b""
        self._lock = threading.Lock()
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("PROFILEGUARD_")
             and k not in ("POD_NAME", "POD_NAMESPACE", "KUBERNETES_SERVICE_HOST", "KUBECONFIG")}
        e.update(env or {})
        self.cmd = WRAPPER + [binary, command] + list(args)
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self._log, env=e)
        _STARTED.append(self.proc)
        self.pid = self.proc.pid
        self.metrics_port = None

    # -- the log ----------------------------------------------------------------------
    def lines(self):
        """Every JSON log line so far (non-JSON lines as {"msg": "UNPARSEABLE"})."""
        with self._lock:
            with open(self.log_path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
            self._offset += len(chunk)
            data = self._partial + chunk
            *complete, self._partial = data.split(b"\n")
            for raw in complete:
                if not raw.strip():
                    continue
                try:
                    self._lines.append(json.loads(raw))
                except ValueError:
                    self._lines.append({"msg": "UNPARSEABLE", "raw": raw.decode(errors="replace")})
            return list(self._lines)

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def mark(self):
        """How many log lines there are so far: wait_log(start=) looks past them."""
        return len(self.lines())

    def wait_log(self, pred, timeout=10, what="log line", start=0):
        """The first log line from index @start on that satisfies @pred."""
        def seen():
            if not self.alive():
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n"
                                     + self.text()[-3000:])
            return next((l for l in self.lines()[start:] if pred(l)), None)
        return wait_for(seen, timeout, what=f"{self.name}: {what}")

    def port_of(self, msg, timeout=15):
        return int(self.wait_log(lambda l: l.get("msg") == msg, timeout, msg)["port"])

    # -- the metrics listener ------------------------------------------------------------
    def http(self, path, timeout=10):
        """(status, body) of GET @path on --metrics-addr; (0, error) when refused."""
        conn = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=timeout)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read().decode(errors="replace")
        except OSError as e:
            return 0, str(e)
        finally:
            conn.close()

    def metrics(self):
        st, text = self.http("/metrics")
        if st != 200:
            raise AssertionError(f"{self.name} /metrics: {st} {text[:200]}")
        return parse_metrics(text)

    def metric(self, name, **labels):
        return metric_sum(self.metrics(), name, **labels)

    def rss_kb(self):
        """VmRSS of the process in KiB (from /proc/PID/status)."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError(f"{self.name}: no VmRSS")

    # -- stopping ---------------------------------------------------------------------
    def kill(self):
        """SIGKILL, as a node losing the process would: no clean-up at all."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._log.close()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops the process and returns its exit status; fails on a
        sanitizer report in its log or when it does not stop in time."""
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
                raise AssertionError(f"{self.name} did not stop on {sig} within {timeout} s")
        self._log.close()
        self.check_sanitizers()
        return self.proc.returncode

    def check_sanitizers(self):
        text = self.text()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                i = text.index(marker)
                raise AssertionError(f"{self.name}: {marker}:\n" + text[max(0, i - 300):][:5000])


def controller(binary, standin, workdir, name, flags=(), own_ns="profileguard",
               telemetry=None, wait_ready=True, env=None, kubeconfig=None,
               port_timeout=15, ready_timeout=30):
    """`profileguard controller` against @standin (through @kubeconfig if
    given, else the stand-in's own), metrics on an ephemeral port.
    @telemetry, when given, is a dict: certs (Certs), allowed_users (list) and
    optionally client_ca (default: the test CA; None: no such flag), cert
    (a (cert, key) pair instead of the test server's) and wait (default
    True); the listener's port is then in .telemetry_port, unless wait is
    False: then nothing waits for it."""
    args = ["--kubeconfig", kubeconfig or standin.kubeconfig, "--metrics-addr", "127.0.0.1:0",
            "--log-format", "json", "--log-level", "debug", "--namespace", own_ns,
            "--identity", name]
    if telemetry:
        c = telemetry["certs"]
        cert = telemetry.get("cert", c.server)
        args += ["--telemetry-listen", "127.0.0.1:0",
                 "--telemetry-tls-cert", cert[0], "--telemetry-tls-key", cert[1]]
        if telemetry.get("client_ca", c.ca) is not None:
            args += ["--telemetry-client-ca", telemetry.get("client_ca", c.ca)]
        args += ["--telemetry-allowed-users", ",".join(telemetry["allowed_users"])]
    p = Profileguard(binary, "controller", args + list(flags), workdir, name, env=env)
    p.metrics_port = p.port_of("metrics listening", port_timeout)
    if telemetry and telemetry.get("wait", True):
        p.telemetry_port = p.port_of("telemetry listening", port_timeout)
    if wait_ready:
        wait_for(lambda: p.http("/readyz")[0] == 200 or not p.alive(), ready_timeout,
                 what=f"{name} ready")
        if not p.alive():
            raise AssertionError(f"{name} exited:\n" + p.text()[-3000:])
    return p


def webhook(binary, certs, workdir, profiles_dir, flags=(), name="webhook", tls=None,
            log_level="info", wait_ready=True):
    """`profileguard webhook` on 127.0.0.1:0 with the test server certificate
    (or the (cert, key) pair @tls), profiles from @profiles_dir (None: no
    --profiles flag); its HTTPS port is in .port.  With @wait_ready False it
    returns once both listeners are up, ready or not."""
    cert = tls or certs.server
    args = ["--listen", "127.0.0.1:0", "--tls-cert", cert[0], "--tls-key", cert[1]]
    if profiles_dir is not None:
        args += ["--profiles", profiles_dir]
    args += ["--metrics-addr", "127.0.0.1:0",
             "--log-format", "json", "--log-level", log_level, "--shutdown-delay", "0"]
    p = Profileguard(binary, "webhook", args + list(flags), workdir, name)
    p.port = p.port_of("webhook listening")
    p.metrics_port = p.port_of("metrics listening")
    if wait_ready:
        wait_for(lambda: p.http("/readyz")[0] == 200, 15, what=f"{name} ready")
    return p


def https_request(port, ctx, method, path, body=None, headers=None, timeout=30):
    """(status, headers, body bytes) of one request on a fresh connection."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def telemetry_post(port, certs, path, body, token=None, cert=None, method="POST",
                   ctype="application/json", timeout=30):
    """(status, reply parsed as JSON (else its text), headers) of one request
    to a controller's telemetry listener on @port, presenting @token as a
    bearer token and/or the client certificate @cert."""
    headers = {"Content-Type": ctype}
    if token:
        headers["Authorization"] = "Bearer " + token
    st, hdrs, raw = https_request(port, certs.context(cert), method, path,
                                  body.encode() if isinstance(body, str) else body,
                                  headers, timeout)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return st, parsed, hdrs


def suite_main(description, prefix="pg-faults-", options=()):
    """Parses --binary and --srcdir, and the required @options (such as
    "--yaml2json"), the rest going to unittest; returns (args, unittest
    argv).  A scratch directory named @prefix... is in args.workdir."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--srcdir", required=True)
    for o in options:
        ap.add_argument(o, required=True)
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (logs)")
    args, rest = ap.parse_known_args()
    args.binary = os.path.abspath(args.binary)
    args.workdir = tempfile.mkdtemp(prefix=prefix)
    return args, [sys.argv[0]] + rest


def cleanup(args):
    """Kills what a failed test left running, then removes the scratch
    directory (unless --keep)."""
    for proc in _STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if args.keep:
        print(f"kept {args.workdir}", file=sys.stderr)
    else:
        shutil.rmtree(args.workdir, ignore_errors=True)


def run_tests(args, argv):
    """unittest.main over @argv, verbose; then cleanup(@args).  Returns the
    exit status: 0 when every test passed."""
    try:
        prog = unittest.main(argv=argv, exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1
    finally:
        cleanup(args)
