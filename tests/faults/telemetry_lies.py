#!/usr/bin/env python3
"""Fault scenario 3: telemetry senders that lie.

One `profileguard controller` with --telemetry-listen over TLS; senders
authenticate with TokenReview tokens (the stand-in's token table) or client
certificates.  The profile allows only /app/server, so any other exec a
sender reports would get the pod deleted.  The lies:

  - a node-bound agent (token or system:node certificate) reporting pods on
    another node, by name, by UID and by container ID, with or without a
    forged "node" field;
  - reports about pods that do not exist, or exist under another UID (a
    stale incarnation), another namespace, an unknown container ID;
  - no credentials, a forged token, an expired token, a certificate from an
    untrusted CA (401); a user not in --telemetry-allowed-users, a
    certificate CN not allowed, an agent posting the audit log (403);
  - a token that cannot be reviewed because the API server fails;
  - malformed lines (not JSON, wrong shapes, a line over 256 KiB, deep
    nesting) mixed into a batch with lies and one truthful event.

Asserted: the exact reply counts ({"accepted","rejected","forbidden",
"unattributed","ignored"}) of every batch; profileguard_telemetry_events_total
equal to the sums of the replies, and telemetry_requests_total counting the
401s and 403s; no DELETE and no Event for any pod lied about; the truthful
events (in the mixed batch and afterwards) each get their pod deleted by UID
with an UnexpectedExecutable Event; no token in the controller's log.

usage: telemetry_lies.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pgharness as h  # noqa: E402

ARGS = None
NS = "payments"
AGENT = "system:serviceaccount:profileguard:profileguard-agent"
FALCO = "system:serviceaccount:falco:falco"
TOKENS = {
    "admin-token": {"username": "admin", "groups": ["system:masters"]},
    "agent-a-token": {"username": AGENT, "extra": {
        "authentication.kubernetes.io/node-name": ["node-a"]}},
    "agent-b-token": {"username": AGENT, "extra": {
        "authentication.kubernetes.io/node-name": ["node-b"]}},
    "agent-c-token": {"username": AGENT, "extra": {
        "authentication.kubernetes.io/node-name": ["node-a"]}},
    "expired-agent-token": {"username": AGENT, "expired": True, "extra": {
        "authentication.kubernetes.io/node-name": ["node-a"]}},
    "unlisted-token": {"username": "system:serviceaccount:default:default"},
}
EMPTY = {"accepted": 0, "rejected": 0, "forbidden": 0, "unattributed": 0, "ignored": 0}


def cid(n):
    return "containerd://" + ("%02x" % n) * 32


class TelemetryLies(unittest.TestCase):
    # Sums of every reply, to hold the metrics to.
    totals = dict(EMPTY)

    @classmethod
    def setUpClass(cls):
        cls.slow = 3 if h.sanitized(ARGS.binary) else 1
        cls.certs = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))
        spec = {"mode": "Enforce", "runtime": {"executables": ["/app/server"]}, "response": {"action": "Delete"}}
        seed = [h.namespace("profileguard"), h.namespace(NS), h.namespace("elsewhere"),
                h.service_account(NS, "default"),
                h.profile(NS, "api", spec, selector={"matchLabels": {"app": "api"}})]
        for n, (name, node) in enumerate([("victim-a", "node-a"), ("victim-b", "node-b"),
                                          ("truth-a", "node-a"), ("truth-b", "node-b")]):
            seed.append(h.pod(NS, name, labels={"app": "api"}, node=node, ip=f"10.0.0.{n + 10}",
                              container="api", container_id=cid(n + 1)))
        cls.api = h.Standin(ARGS.srcdir, cls.certs, ARGS.workdir, seed=seed, tokens=TOKENS)
        cls.pods = {p["metadata"]["name"]: p for p in cls.api.objects("Pod", NS)}
        cls.ctl = h.controller(ARGS.binary, cls.api, ARGS.workdir, "ctl",
                               ["--leader-elect=false", "--max-actions-per-minute", "1000"],
                               telemetry={"certs": cls.certs,
                                          "allowed_users": [AGENT, FALCO, "system:node:*"]})

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.ctl.stop()
            assert rc == 0, f"controller exited {rc}"
            text = cls.ctl.text()
            for tok in TOKENS:
                assert tok not in text, f"the controller logged the token {tok}"
        finally:
            cls.api.stop()

    # -- helpers -----------------------------------------------------------------------

    def event(self, name=None, uid=None, container_id=None, ns=NS, node="node-a",
              exe="/bin/sh"):
        """A native exec line naming a pod by name, UID or container ID."""
        e = {"kind": "exec", "time": h.rfc3339(fraction=True), "node": node,
             "container": "api", "exe": exe, "args": ["-c", "id"]}
        if container_id:
            e["containerID"] = container_id
        else:
            e["pod"] = {"namespace": ns}
            if name:
                e["pod"]["name"] = name
            if uid:
                e["pod"]["uid"] = uid
        return json.dumps(e)

    def post(self, body, token=None, cert=None, path="/telemetry/v1/events"):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        st, hdrs, raw = h.https_request(self.ctl.telemetry_port, self.certs.context(cert), "POST",
                                        path, body.encode() if isinstance(body, str) else body,
                                        headers)
        try:
            out = json.loads(raw)
        except ValueError:
            out = raw
        return st, out, hdrs

    def reply(self, body, expect, **kw):
        """Posts a batch that must be answered 200 with @expect's counts."""
        st, out, _ = self.post(body, **kw)
        self.assertEqual(st, 200, out)
        want = dict(EMPTY, **expect)
        self.assertEqual(out, want, body[:300])
        for k, v in want.items():
            TelemetryLies.totals[k] += v
        return out

    def refused(self, body, code, **kw):
        st, out, _ = self.post(body, **kw)
        self.assertEqual(st, code, (kw, out))
        self.assertIsInstance(out, dict)
        self.assertIn("error", out)

    def assert_untouched(self, *names):
        for name in names:
            p = self.pods[name]
            self.assertEqual(self.api.pod_deletes(NS, name), [], f"{name} was acted on")
            self.assertEqual(self.api.events(NS, name), [], f"{name} got an Event")
            self.assertEqual(h.uid_of(self.api.one("Pod", NS, name)), h.uid_of(p))

    def assert_deleted(self, name):
        p = self.pods[name]
        h.wait_for(lambda: self.api.one("Pod", NS, name) is None, 10 * self.slow,
                   what=f"{name} deleted")
        ds = self.api.pod_deletes(NS, name)
        self.assertEqual([(d["status"], d["uid"]) for d in ds], [(200, h.uid_of(p))])
        ev = h.wait_for(lambda: self.api.events(NS, name, "UnexpectedExecutable"),
                        10 * self.slow, what=f"Event of {name}")
        self.assertEqual(len(ev), 1)
        self.assertIn('exec "/bin/sh" not allowed by payments/api runtime.executables',
                      ev[0]["note"])

    # -- the lies, in order ----------------------------------------------------------------

    def test_1_other_node(self):
        """An agent of node-b speaks about node-a's pod in every way it can."""
        va = self.pods["victim-a"]
        for body in (self.event("victim-a", node="node-b"),
                     self.event("victim-a", node="node-a"),       # the event's node field lies
                     self.event(uid=h.uid_of(va)),
                     self.event(container_id=cid(1))):
            self.reply(body, {"forbidden": 1}, token="agent-b-token")
        # The node-b kubelet's certificate is no better.
        self.reply(self.event("victim-a"), {"forbidden": 1},
                   cert=self.certs.mint_client("system:node:node-b"))
        # And node-a's agent about node-b's pod.
        self.reply(self.event("victim-b", node="node-b"), {"forbidden": 1},
                   token="agent-a-token")
        self.assert_untouched("victim-a", "victim-b")

    def test_2_unknown_pods(self):
        """Pods that do not exist, or not as named."""
        for body in (self.event("ghost"),
                     self.event("victim-a", uid="00000000-0000-4000-8000-00000000dead"),
                     self.event(uid="00000000-0000-4000-8000-00000000beef"),
                     self.event(container_id="containerd://" + "f" * 64)):
            self.reply(body, {"unattributed": 1}, token="agent-a-token")
        # A namespace no profile covers is not even looked into.
        self.reply(self.event("victim-a", ns="elsewhere"), {"ignored": 1}, token="agent-a-token")
        self.assert_untouched("victim-a", "victim-b")

    def test_3_bad_credentials(self):
        """Refused before the body is read: nothing is counted as an event."""
        before = {c: self.ctl.metric("profileguard_telemetry_requests_total", code=c)
                  for c in ("401", "403")}
        body = self.event("victim-a")
        self.refused(body, 401)
        self.refused(body, 401, token="forged-token")
        self.refused(body, 401, token="expired-agent-token")
        self.refused(body, 401, cert=self.certs.bad_client)
        self.refused(body, 403, token="unlisted-token")
        self.refused(body, 403, cert=self.certs.mint_client("intruder"))
        audit = json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": []})
        self.refused(audit, 403, token="agent-a-token", path="/telemetry/v1/audit")
        self.assertEqual(self.ctl.metric("profileguard_telemetry_requests_total", code="401"),
                         before["401"] + 4)
        self.assertEqual(self.ctl.metric("profileguard_telemetry_requests_total", code="403"),
                         before["403"] + 3)
        self.assert_untouched("victim-a", "victim-b")

    def test_4_reviewer_failing(self):
        """A token never seen before, while TokenReviews fail: it is not
        believed (503, try later); once the API answers, it is."""
        self.api.faults({"status_500": {"count": -1, "path_regex": "/tokenreviews$"}})
        try:
            st, out, hdrs = self.post(self.event("victim-a"), token="agent-c-token")
            self.assertEqual((st, out), (503, {"error": "cannot authenticate now"}))
            self.assertEqual(hdrs.get("Retry-After"), "5")
        finally:
            self.api.clear_faults()
        self.assert_untouched("victim-a")
        # Reviewed now, and truthful about an allowed exec: nothing to act on.
        self.reply(self.event("victim-a", exe="/app/server"), {"accepted": 1},
                   token="agent-c-token")
        self.assert_untouched("victim-a")

    def test_5_mixed_batch(self):
        """Malformed lines, lies and one truthful event in one batch from
        node-b's agent: only the truth counts, and it is acted on."""
        lines = [
            "{not json",
            '{"kind":"exec"}',                                   # no pod, no exe
            "[1,2,3]",
            '{"kind":"exec","pod":' * 5000 + "1" + "}" * 5000,  # deep nesting
            json.dumps({"kind": "exec", "pod": {"namespace": NS, "name": "truth-b"},
                        "exe": "/bin/sh", "pad": "x" * (300 * 1024)}),   # over 256 KiB
            self.event("victim-a", node="node-b"),               # another node's pod
            self.event("ghost-b", node="node-b"),                # no such pod
            self.event("truth-b", node="node-b"),                # the truth
        ]
        self.reply("\n".join(lines) + "\n",
                   {"accepted": 1, "rejected": 5, "forbidden": 1, "unattributed": 1},
                   token="agent-b-token")
        self.assert_deleted("truth-b")
        self.assert_untouched("victim-a", "victim-b")

    def test_6_truth_afterwards(self):
        """After every lie, a truthful report still gets its pod deleted."""
        self.reply(self.event("truth-a"), {"accepted": 1}, token="agent-a-token")
        self.assert_deleted("truth-a")
        self.assert_untouched("victim-a", "victim-b")

    def test_7_counts_match_replies(self):
        """The metrics agree with what every reply said."""
        for result in ("accepted", "rejected", "forbidden", "unattributed", "ignored"):
            self.assertEqual(self.ctl.metric("profileguard_telemetry_events_total",
                                             source="events", result=result),
                             self.totals[result], result)
        deletes = self.api.pod_deletes(NS)
        self.assertEqual(sorted(d["name"] for d in deletes), ["truth-a", "truth-b"])
        self.assertTrue(self.ctl.alive())


if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__)
    sys.exit(h.run_tests(ARGS, argv))
