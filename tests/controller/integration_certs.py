#!/usr/bin/env python3
"""Integration tests of the controller's generated webhook certificates
(--webhook-cert-secret, SPEC §8): the real binary against the API stand-in
over TLS.  The Secret is generated (three keys, valid PEM checked with the
openssl CLI), every webhook's caBundle is patched to the CA, an almost
expired certificate is renewed, `profileguard webhook` serves the renewed
certificate without a restart once its files change (as the kubelet
rewrites a Secret volume), and a configuration that does not exist is
never created.  The stand-in, the processes and the test CA come from
tests/lib/pgharness.py.

usage: integration_certs.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import base64
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pgharness as h  # noqa: E402

ARGS = None
CERTS = None
NS = "profileguard"
SECRET = "pg-tls"
VWC = "profileguard-webhook"
SVC = "profileguard-webhook"
TEL_SVC = "profileguard-telemetry"
NAMES = [f"{s}{suffix}" for s in (SVC, TEL_SVC)
         for suffix in ("", f".{NS}", f".{NS}.svc", f".{NS}.svc.cluster.local")]


def vwc(name, hooks=2):
    """A configuration whose rules match nothing the tests create, with url
    clientConfigs and no caBundle."""
    return {"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration", "metadata": {"name": name},
            "webhooks": [{"name": f"hook{i}.profileguard.io", "sideEffects": "None",
                          "admissionReviewVersions": ["v1"], "failurePolicy": "Ignore",
                          "clientConfig": {"url": f"https://127.0.0.1:1/validate{i}"},
                          "rules": [{"apiGroups": ["example.invalid"], "apiVersions": ["v1"],
                                     "operations": ["CREATE"], "resources": ["things"]}]}
                         for i in range(hooks)]}


def openssl(*args, stdin=None):
    p = subprocess.run(["openssl"] + list(args), input=stdin, capture_output=True)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def serial_of(pem_path):
    rc, out = openssl("x509", "-noout", "-serial", "-in", pem_path)
    assert rc == 0, out
    return int(out.strip().split("=", 1)[1], 16)


def write_atomic(path, data):
    """As the kubelet updates a Secret volume: new content appears at once."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def setUpModule():
    global CERTS
    CERTS = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))


class CertsBase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pg-certs-", dir=ARGS.workdir)
        self.api = None
        self.ctl = None
        self.webhook = None

    def tearDown(self):
        # Each stop fails on a sanitizer report in its log.
        try:
            if self.webhook:
                self.webhook.stop(timeout=10)
        finally:
            try:
                if self.ctl:
                    self.ctl.stop(timeout=15)
            finally:
                if self.api:
                    self.api.stop()

    def start(self, *seed, config=VWC, telemetry=True):
        self.api = h.Standin(ARGS.srcdir, CERTS, ARGS.workdir, seed=[h.namespace(NS)],
                             default_sa=True)
        if seed:
            self.api.put(*seed)
        flags = ["--leader-elect=false", "--webhook-cert-secret", SECRET,
                 "--webhook-config-name", config, "--webhook-service", SVC,
                 "--cert-check-interval", "500ms"]
        if telemetry:
            flags += ["--telemetry-service", TEL_SVC]
        self.ctl = h.controller(ARGS.binary, self.api, ARGS.workdir, "ctl", flags, own_ns=NS,
                                port_timeout=10, ready_timeout=15)

    def secret(self):
        return self.api.one("Secret", NS, SECRET)

    def secret_files(self, obj=None, prefix="s"):
        """The Secret's keys as files; a dict key -> path."""
        obj = obj or self.secret()
        out = {}
        for k in ("tls.crt", "tls.key", "ca.crt", "ca.key"):
            if k in obj.get("data", {}):
                p = os.path.join(self.dir, f"{prefix}-{k}")
                write_atomic(p, base64.b64decode(obj["data"][k]))
                out[k] = p
        return out

    def wait_secret(self, pred=lambda s: True, timeout=15):
        def ok():
            s = self.secret()
            return s if s and pred(s) else None
        return h.wait_for(ok, timeout, what="the certificate Secret")

    def assert_valid(self, files, days=300):
        rc, out = openssl("x509", "-noout", "-checkend", str(days * 86400), "-in",
                          files["tls.crt"])
        self.assertEqual(rc, 0, out)
        rc, out = openssl("verify", "-CAfile", files["ca.crt"], files["tls.crt"])
        self.assertEqual(rc, 0, out)
        rc, out = openssl("x509", "-noout", "-ext", "subjectAltName,extendedKeyUsage",
                          "-in", files["tls.crt"])
        self.assertEqual(rc, 0, out)
        dns = [l for l in out.splitlines() if l.strip().startswith("DNS:")]
        self.assertEqual(len(dns), 1, out)
        sans = sorted(x.strip()[4:] for x in dns[0].split(","))
        self.assertEqual(sans, sorted(NAMES))
        self.assertIn("TLS Web Server Authentication", out)
        rc, out = openssl("x509", "-noout", "-subject", "-ext", "basicConstraints,keyUsage",
                          "-in", files["ca.crt"])
        self.assertEqual(rc, 0, out)
        self.assertIn("CN = profileguard-ca", out)
        self.assertIn("CA:TRUE", out)
        self.assertIn("Certificate Sign", out)

    def ca_bundles(self, name=VWC):
        obj = self.api.one("ValidatingWebhookConfiguration", None, name) or {}
        return [(w.get("clientConfig") or {}).get("caBundle") for w in obj.get("webhooks", [])]

    def almost_expired(self, files):
        """A serving certificate for the right names, signed by the Secret's
        own CA, valid for one day: only its expiry calls for renewal."""
        key = os.path.join(self.dir, "old.key")
        csr = os.path.join(self.dir, "old.csr")
        crt = os.path.join(self.dir, "old.crt")
        ext = os.path.join(self.dir, "old.ext")
        with open(ext, "w") as f:
            f.write("[v3]\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
                    "subjectAltName=" + ",".join("DNS:" + n for n in NAMES) + "\n")
        for args in (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-out", key],
                     ["req", "-new", "-key", key, "-subj", "/CN=old", "-out", csr],
                     ["x509", "-req", "-in", csr, "-CA", files["ca.crt"], "-CAkey",
                      files["ca.key"], "-days", "1", "-extfile", ext, "-extensions", "v3",
                      "-out", crt]):
            rc, out = openssl(*args)
            self.assertEqual(rc, 0, out)
        with open(crt, "rb") as f:
            c = f.read()
        with open(key, "rb") as f:
            k = f.read()
        return c, k

    def put_secret_leaf(self, cert, key):
        """Replaces the Secret's tls.crt/tls.key through the control API."""
        obj = self.secret()
        obj["data"]["tls.crt"] = base64.b64encode(cert).decode()
        obj["data"]["tls.key"] = base64.b64encode(key).decode()
        obj["metadata"].pop("resourceVersion", None)
        self.api.put(obj)

    def assert_no_key_in_log(self):
        with open(self.ctl.log_path, "rb") as f:
            log = f.read()
        self.assertNotIn(b"PRIVATE KEY", log)
        self.assertNotIn(b"LS0tLS1CRUdJTi", log)     # base64 of "-----BEGIN"


class TestGenerated(CertsBase):
    def test_generate_renew_and_serve_without_restart(self):
        self.start(vwc(VWC))

        # 1. The Secret appears: kubernetes.io/tls, the three keys, valid PEM.
        s = self.wait_secret(lambda s: {"tls.crt", "tls.key", "ca.crt"} <= set(s.get("data", {})))
        self.assertEqual(s.get("type"), "kubernetes.io/tls")
        files = self.secret_files(s, "gen")
        self.assert_valid(files)
        rc, out = openssl("pkey", "-in", files["tls.key"], "-noout")
        self.assertEqual(rc, 0, out)

        # 2. Every webhook's caBundle is the CA.
        want = s["data"]["ca.crt"]
        h.wait_for(lambda: self.ca_bundles() == [want, want], 10, what="caBundle patched")
        # Patched in place: the rest of the configuration is kept.
        hooks = self.api.one("ValidatingWebhookConfiguration", None, VWC)["webhooks"]
        self.assertEqual([w["clientConfig"]["url"] for w in hooks],
                         ["https://127.0.0.1:1/validate0", "https://127.0.0.1:1/validate1"])
        self.assertEqual(hooks[0]["rules"][0]["resources"], ["things"])
        # Nothing changes while everything is valid: no second write.
        time.sleep(2)
        self.assertEqual(self.secret()["metadata"]["resourceVersion"],
                         s["metadata"]["resourceVersion"])
        patches = self.api.requests("PATCH", "validatingwebhookconfigurations")
        self.assertEqual(len([r for r in patches if r["status"] == 200]), 1, patches)

        # 3. An almost-expired certificate (one day) is renewed; the CA is kept.
        old_cert, old_key = self.almost_expired(files)
        self.put_secret_leaf(old_cert, old_key)
        s2 = self.wait_secret(lambda x: x["data"]["tls.crt"] != base64.b64encode(old_cert).decode()
                              and x["data"]["tls.crt"] != s["data"]["tls.crt"])
        self.assertEqual(s2["data"]["ca.crt"], s["data"]["ca.crt"])
        f2 = self.secret_files(s2, "renewed")
        self.assert_valid(f2)
        self.assertTrue(any(r["status"] == 200 for r in
                            self.api.requests("PUT", f"/secrets/{SECRET}$")))
        self.assertTrue(any(l.get("msg") == "webhook certificate renewed" and
                            l.get("reason") == "tls.crt expires within 30 days"
                            for l in self.ctl.lines()))

        # 4. The webhook serves the Secret's certificate from files ...
        live = {"crt": os.path.join(self.dir, "live-tls.crt"),
                "key": os.path.join(self.dir, "live-tls.key")}
        write_atomic(live["crt"], base64.b64decode(s2["data"]["tls.crt"]))
        write_atomic(live["key"], base64.b64decode(s2["data"]["tls.key"]))
        port, pid = self.start_webhook(live)
        self.assertEqual(self.served_serial(port, f2["ca.crt"]), serial_of(f2["tls.crt"]))

        # ... the Secret is rotated again (this time tls.key is gone) ...
        obj = self.secret()
        del obj["data"]["tls.key"]
        obj["metadata"].pop("resourceVersion", None)
        self.api.put(obj)
        s3 = self.wait_secret(lambda x: "tls.key" in x["data"] and
                              x["data"]["tls.crt"] != s2["data"]["tls.crt"])
        f3 = self.secret_files(s3, "rotated")
        self.assert_valid(f3)
        self.assertNotEqual(serial_of(f3["tls.crt"]), serial_of(f2["tls.crt"]))
        # ... the kubelet rewrites the files, and the same process serves the new one.
        write_atomic(live["key"], base64.b64decode(s3["data"]["tls.key"]))
        write_atomic(live["crt"], base64.b64decode(s3["data"]["tls.crt"]))
        want_serial = serial_of(f3["tls.crt"])
        h.wait_for(lambda: self.served_serial(port, f3["ca.crt"]) == want_serial, 15,
                   interval=0.2, what="the webhook serving the new certificate")
        self.assertTrue(self.webhook.alive())
        self.assertEqual(self.webhook.pid, pid)
        # The old CA still trusts the new serving certificate (the CA was kept).
        self.assertEqual(self.served_serial(port, files["ca.crt"]), want_serial)
        self.assert_no_key_in_log()

    def start_webhook(self, live):
        profiles = os.path.join(self.dir, "profiles")
        os.makedirs(profiles, exist_ok=True)
        self.webhook = h.webhook(ARGS.binary, CERTS, self.dir, profiles, ["--threads", "2"],
                                 tls=(live["crt"], live["key"]), log_level="debug",
                                 wait_ready=False)
        return self.webhook.port, self.webhook.pid

    @staticmethod
    def served_serial(port, cafile):
        """The serial of the certificate the webhook serves, verified against
        @cafile for the name the API server dials (<svc>.<ns>.svc)."""
        ctx = ssl.create_default_context(cafile=cafile)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=f"{SVC}.{NS}.svc") as tls:
                return int(tls.getpeercert()["serialNumber"], 16)


class TestNoConfiguration(CertsBase):
    def test_missing_configuration_is_never_created(self):
        # Another configuration exists and is left alone.
        self.start(vwc("someone-else", hooks=1), config="pg-deleted", telemetry=False)
        s = self.wait_secret(lambda s: "tls.crt" in s.get("data", {}))
        files = self.secret_files(s)
        rc, out = openssl("verify", "-CAfile", files["ca.crt"], files["tls.crt"])
        self.assertEqual(rc, 0, out)
        rc, out = openssl("x509", "-noout", "-ext", "subjectAltName", "-in", files["tls.crt"])
        self.assertNotIn(TEL_SVC, out)
        h.wait_for(lambda: any(l.get("msg", "").startswith("webhook configuration not found")
                               for l in self.ctl.lines()), 10, what="not-found logged")
        time.sleep(2.5)     # several rounds at 500 ms
        self.assertEqual(self.api.objects("ValidatingWebhookConfiguration", None, "pg-deleted"), [])
        self.assertEqual(self.api.requests("POST", "validatingwebhookconfigurations"), [])
        self.assertEqual(self.api.requests("PATCH", "validatingwebhookconfigurations"), [])
        self.assertEqual(self.ca_bundles("someone-else"), [None])
        # Logged once, not every round.
        self.assertEqual(sum(l.get("msg", "").startswith("webhook configuration not found")
                             for l in self.ctl.lines()), 1)


if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__, prefix="pg-certs-")
    sys.exit(h.run_tests(ARGS, argv))
