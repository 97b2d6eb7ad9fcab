#!/usr/bin/env python3
"""Integration tests of the controller's telemetry endpoints (SPEC §5.1): the
real `profileguard controller` with --telemetry-listen over real TLS, against
the API stand-in (tests/standin/kube_standin.py), which answers TokenReviews
from a --tokens table; both started with tests/lib/pgharness.py.

Each format is sent as the tools write it (the samples of tests/data/telemetry,
adapted to the seeded pods) and the test checks what the controller did
through the stand-in: the pod DELETEs it sent (with the UID precondition), the
Events it wrote (reason, action, note), the profile's status, and its metrics.
Forged, unauthenticated, unlisted and other-node reports must change nothing.
Standard library only.

usage: integration.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import json
import os
import re
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pgharness as h  # noqa: E402
from pgharness import wait_for  # noqa: E402

ARGS = None
CERTS = None
OWN_NS = "profileguard"
NS = "payments"
AGENT_USER = "system:serviceaccount:profileguard:profileguard-agent"
FALCO_USER = "system:serviceaccount:falco:falco"
AUDIT_USER = "kube-apiserver-audit"
IMAGE = "registry.example.com/api@" + h.DIGEST

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
# Helpers: events as each sender writes them
# ---------------------------------------------------------------------------

def cid(n):
    """A 64-hex container ID whose 12-hex short form is distinct per @n."""
    return "%012x" % (0x9c1e3b000000 + n) + "5d7f9a1c3e5b7d9f" * 3 + "0a1b"


def pod(name, node="node-a", ip="10.244.1.7", app="api", sa="payments-api", n=0, ns=NS):
    """A Running pod of @app with one container "api" whose ID is cid(@n)."""
    return h.pod(ns, name, image=IMAGE, labels={"app": app}, node=node, sa=sa, ip=ip,
                 container="api", container_id="containerd://" + cid(n))


def profile(name, app, spec):
    return h.profile(NS, name, spec, selector={"matchLabels": {"app": app}})


def stamp():
    """This instant, RFC 3339 with microseconds, as the senders stamp events."""
    return h.rfc3339(fraction=True)


def native(p, kind="exec", **fields):
    e = {"kind": kind, "time": stamp(), "node": p["spec"]["nodeName"],
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
    now = stamp()
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
# The stand-in and the controller (tests/lib/pgharness.py)
# ---------------------------------------------------------------------------

def setUpModule():
    global CERTS
    CERTS = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))


def standin():
    """The stand-in with both namespaces, their ServiceAccounts and TOKENS."""
    seed = [h.namespace(OWN_NS), h.namespace(NS),
            h.service_account(NS, "default"), h.service_account(NS, "payments-api")]
    return h.Standin(ARGS.srcdir, CERTS, ARGS.workdir, seed=seed, tokens=TOKENS)


def controller(api, *flags, name="ctl", kubeconfig=None, pod_name=None, cert=None,
               wait_listening=True):
    """`profileguard controller` with its telemetry listener (the allowed users
    given in two flags), its own Pod named @pod_name if given, serving @cert
    (default: the test server's)."""
    tel = {"certs": CERTS, "allowed_users": ALLOWED[:2], "wait": wait_listening}
    if cert:
        tel["cert"] = cert
    return h.controller(ARGS.binary, api, ARGS.workdir, name,
                        ["--telemetry-allowed-users", ",".join(ALLOWED[2:])] + list(flags),
                        own_ns=OWN_NS, telemetry=tel, kubeconfig=kubeconfig,
                        env={"POD_NAME": pod_name} if pod_name else None,
                        port_timeout=10, ready_timeout=15)


def post(ctl, path, body, **kw):
    """(status, parsed reply, headers) of one request to @ctl's telemetry listener."""
    return h.telemetry_post(ctl.telemetry_port, CERTS, path, body, **kw)


def stop(ctl):
    """Stops @ctl (failing on a sanitizer report) and returns its exit status;
    fails as well if a token other than its own reached its log."""
    rc = ctl.stop(timeout=15)
    text = ctl.text()
    for tok in TOKENS:
        if tok != "admin-token" and tok in text:
            raise AssertionError(f"{ctl.name} logged the token {tok}")
    return rc


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

class Base(unittest.TestCase):
    FLAGS = ["--leader-elect=false", "--max-actions-per-minute", "1000"]
    counter = 0

    @classmethod
    def setUpClass(cls):
        cls.api = standin()
        cls.api.put(profile("api", "api", PROFILE_SPEC),
                    profile("batch", "batch", dict(PROFILE_SPEC, mode="Audit")))
        cls.ctl = controller(cls.api, *cls.FLAGS)

    @classmethod
    def tearDownClass(cls):
        try:
            rc = stop(cls.ctl)
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
            st, out, _ = post(self.ctl, path, body() if callable(body) else body, token=token, **kw)
            self.assertEqual(st, 200, out)
            return out if out["accepted"] else None
        return wait_for(once, 10, interval=0.1, what=f"{p['metadata']['name']} attributed")

    def wait_deleted(self, p):
        name, uid = p["metadata"]["name"], p["metadata"]["uid"]
        wait_for(lambda: (200, uid) in self.api.deletes(NS, name), 10, what=f"DELETE of {name}")
        self.assertEqual([d for d in self.api.deletes(NS, name) if d[0] == 200], [(200, uid)])

    def wait_event(self, p, reason):
        name = p["metadata"]["name"]
        return wait_for(lambda: self.api.events(NS, name, reason), 10, what=f"{reason} Event for {name}")[0]

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
        self.assertEqual(self.api.deletes(NS, name), [])
        self.assertEqual(self.api.events(NS, name), [])
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
        now = stamp()
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
        alert["time"] = stamp()
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
            ev["time"] = stamp()
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
        now = stamp()
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
        # As the API server deletes a pod: its deletionTimestamp first (the
        # watch shows it, in order), then the object goes.  Calls received
        # after that time are replays; without it there is no API server
        # time for the deletion to compare with.
        dying = {k: v for k, v in p.items() if k != "_n"}
        dying["metadata"] = dict(p["metadata"], deletionTimestamp=h.rfc3339(time.time() - 1))
        self.api.put(dying)
        self.api.remove("Pod", NS, p["metadata"]["name"])

        def replayed():
            st, out, _ = post(self.ctl, "/telemetry/v1/audit", event_list(audit_event(p)),
                                       token="audit-token")
            self.assertEqual(st, 200, out)
            return self.api.events(NS, p["metadata"]["name"], "TokenReplay")
        ev = wait_for(replayed, 10, interval=0.2, what="TokenReplay after deletion")[0]
        self.assertEqual(ev["action"], "Record")
        self.assertEqual(ev["regarding"]["uid"], p["metadata"]["uid"])
        self.assertEqual(ev["related"]["name"], "api")
        self.assertIn("after the pod was gone", ev["note"])
        self.assertEqual(self.api.deletes(NS, p["metadata"]["name"]), [])

    def test_audit_mode_records_only(self):
        p = self.new_pod("batch", app="batch")
        out = self.send_until_attributed("/telemetry/v1/events", native(p, exe="/bin/sh"),
                                         "agent-a-token", p)
        self.assertEqual(out["accepted"], 1)
        ev = self.wait_event(p, "UnexpectedExecutable")
        self.assert_event(ev, p, "UnexpectedExecutable", "Record", 'exec "/bin/sh"',
                          profile_name="batch")
        time.sleep(0.5)
        self.assertEqual(self.api.deletes(NS, p["metadata"]["name"]), [])

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
        cls.audit_cert = CERTS.mint_client("audit-backend")
        cls.node_b_cert = CERTS.mint_client("system:node:node-b")

    def test_other_node_refused(self):
        p = self.new_pod("othernode", node="node-a")
        before = self.ctl.metric("profileguard_telemetry_events_total", source="events", result="forbidden")
        # Wait until the pod is cached (a central sender sees it accepted... in
        # an Audit-free way: an allowed exec).
        self.send_until_attributed("/telemetry/v1/events", native(p, exe="/app/server"), "falco-token", p)
        st, out, _ = post(self.ctl, "/telemetry/v1/events", native(p, exe="/bin/sh"), token="agent-b-token")
        self.assertEqual(st, 200)
        self.assertEqual(out, {"accepted": 0, "rejected": 0, "forbidden": 1, "unattributed": 0,
                               "ignored": 0})
        # The node-b certificate alike.
        st, out, _ = post(self.ctl, "/telemetry/v1/events", native(p, exe="/bin/sh"), cert=self.node_b_cert)
        self.assertEqual((st, out["forbidden"]), (200, 1))
        self.assertEqual(self.ctl.metric("profileguard_telemetry_events_total", source="events",
                                         result="forbidden"), before + 2)
        self.assert_untouched(p)

    def test_unauthenticated_and_forged(self):
        p = self.new_pod("forged")
        body = native(p, exe="/bin/sh")
        before = self.ctl.metric("profileguard_telemetry_requests_total", code="401")
        for kw in ({}, {"token": "forged-token"}, {"cert": CERTS.bad_client}):
            st, out, _ = post(self.ctl, "/telemetry/v1/events", body, **kw)
            self.assertEqual(st, 401, (kw, out))
        self.assertEqual(self.ctl.metric("profileguard_telemetry_requests_total", code="401"), before + 3)
        for kw in ({"token": "unlisted-token"}, {"cert": CERTS.client}):
            st, out, _ = post(self.ctl, "/telemetry/v1/events", body, **kw)
            self.assertEqual(st, 403, (kw, out))
        # An agent may not send the audit log.
        st, _, _ = post(self.ctl, "/telemetry/v1/audit", event_list(audit_event(p, "list", "secrets")),
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
        st, _, _ = post(self.ctl, "/telemetry/v1/nothing", "{}", token="falco-token")
        self.assertEqual(st, 404)
        st, _, hdrs = post(self.ctl, "/telemetry/v1/events", "", token="falco-token", method="GET")
        self.assertEqual(st, 405)
        self.assertEqual(hdrs.get("Allow"), "POST")
        st, _, _ = post(self.ctl, "/telemetry/v1/events", "x" * (17 * 1024 * 1024), token="falco-token")
        self.assertEqual(st, 413)


class TestReviewerRefused(unittest.TestCase):
    """A controller whose own credentials may not create TokenReviews
    cannot tell who is sending: 503, and nothing is acted on."""

    def test_503(self):
        api = standin()
        try:
            p = api.put(pod("rr-1"), profile("api", "api", PROFILE_SPEC))[0]
            c = controller(api, "--leader-elect=false", kubeconfig=api.kubeconfig_with("readonly-token"),
                           name="readonly")
            try:
                st, out, hdrs = post(c, "/telemetry/v1/events", native(p, exe="/bin/sh"), token="agent-a-token")
                self.assertEqual(st, 503, out)
                self.assertEqual(hdrs.get("Retry-After"), "5")
                time.sleep(0.5)
                self.assertEqual(api.deletes(NS, "rr-1"), [])
            finally:
                stop(c)
        finally:
            api.stop()


class TestCertificateLater(unittest.TestCase):
    """The chart mounts the telemetry certificate from an optional Secret:
    the controller runs without it, says so, and listens once it appears."""

    def test_listener_waits_for_certificate(self):
        api = standin()
        later = os.path.join(api.dir, "later")
        os.mkdir(later)
        c = None
        try:
            c = controller(api, "--leader-elect=false", name="later", wait_listening=False,
                           cert=(os.path.join(later, "server.crt"), os.path.join(later, "server.key")))
            wait_for(lambda: [l for l in c.lines() if l.get("msg", "").startswith(
                "telemetry listener waits for its certificate")], 5, what="the wait logged")
            self.assertFalse([l for l in c.lines() if l.get("msg") == "telemetry listening"])
            shutil.copy(CERTS.server[1], later)
            shutil.copy(CERTS.server[0], later)
            c.telemetry_port = c.port_of("telemetry listening", 10)
            st, out, _ = post(c, "/telemetry/v1/events", "{}\n", token="falco-token")
            self.assertEqual((st, out["rejected"]), (200, 1))
        finally:
            try:
                self.assertIsNotNone(c, "the controller did not start")
                stop(c)
            finally:
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
        self.api = standin()
        ctls = []
        try:
            self.api.put(pod("ctl-a", ns=OWN_NS, app="profileguard"),
                         pod("ctl-b", ns=OWN_NS, app="profileguard"),
                         profile("api", "api", PROFILE_SPEC))
            p = self.api.put(pod("lead-1"))[0]
            a = controller(self.api, *self.LEASE, name="ctl-a", pod_name="ctl-a")
            ctls.append(a)
            wait_for(lambda: a.metric("profileguard_leader") == 1, 10, what="a leads")
            b = controller(self.api, *self.LEASE, name="ctl-b", pod_name="ctl-b")
            ctls.append(b)
            wait_for(lambda: self.label("ctl-a") == "true", 10, what="leader label on ctl-a")
            self.assertIsNone(self.label("ctl-b"))
            st, out, hdrs = post(b, "/telemetry/v1/events", native(p, exe="/bin/sh"), token="agent-a-token")
            self.assertEqual(st, 503, out)
            self.assertEqual(hdrs.get("Retry-After"), "2")
            time.sleep(0.5)
            self.assertEqual(self.api.deletes(NS, "lead-1"), [])
            # A clean stop takes the label off; the new leader puts it on.
            stop(a)
            wait_for(lambda: self.label("ctl-a") is None, 10, what="label off ctl-a")
            wait_for(lambda: self.label("ctl-b") == "true", 15, what="label on ctl-b")

            def taken():
                st, out, _ = post(b, "/telemetry/v1/events", native(p, exe="/bin/sh"),
                                    token="agent-a-token")
                return st == 200 and out["accepted"] == 1
            wait_for(taken, 10, interval=0.2, what="the new leader takes telemetry")
            wait_for(lambda: (200, p["metadata"]["uid"]) in self.api.deletes(NS, "lead-1"), 10,
                     what="DELETE by the new leader")
        finally:
            for c in ctls:
                stop(c)
            self.api.stop()


if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__, prefix="pg-tel-")
    sys.exit(h.run_tests(ARGS, argv))
