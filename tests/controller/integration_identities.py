#!/usr/bin/env python3
"""Integration tests of the controller's identity inventory: the real binary
against the API stand-in (tests/standin/kube_standin.py) over real TLS.

ServiceAccounts, Roles and bindings are seeded through the stand-in's
control API; the tests read the IdentityReports the controller wrote, the
requests it sent to write them (/_standin/requests), the Events of a
running pod whose account is above its profile's identity.maxRisk, and a
second controller's writes after a restart.  A report is written at most
once a minute, so the test of a changed binding waits for that minute.
The lifecycle tests post audit batches to the controller's telemetry
endpoint and compress time with --identity-orphaned-after and
--audit-live-window.
Standard library only.

usage: integration_identities.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import json
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pgharness as h  # noqa: E402
from pgharness import pod, profile, wait_for  # noqa: E402

ARGS = None
CERTS = None
OWN_NS = "profileguard"
STOP_TIMEOUT = 15
RBAC = "rbac.authorization.k8s.io/v1"


def setUpModule():
    global CERTS
    CERTS = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))


def standin():
    return h.Standin(ARGS.srcdir, CERTS, ARGS.workdir, seed=[h.namespace(OWN_NS)], default_sa=True)


def controller(api, *flags, name="ctl"):
    return h.controller(ARGS.binary, api, ARGS.workdir, name,
                        ["--leader-elect=false", "--max-actions-per-minute", "1000"] + list(flags),
                        own_ns=OWN_NS, port_timeout=10, ready_timeout=15)


def role(ns, name, resources, verbs=("get",)):
    return {"apiVersion": RBAC, "kind": "Role", "metadata": {"namespace": ns, "name": name},
            "rules": [{"apiGroups": [""], "resources": list(resources), "verbs": list(verbs)}]}


def binding(ns, name, role_name, sa):
    return {"apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"namespace": ns, "name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]}


def report_writes(api, ns, name):
    """The requests that wrote report @ns/@name: its creation and its status."""
    base = re.escape(f"/apis/profileguard.io/v1alpha1/namespaces/{ns}/identityreports")
    posts = [r for r in api.requests("POST", "^" + base + "$")
             if isinstance(r.get("body"), dict) and r["body"].get("metadata", {}).get("name") == name]
    patches = api.requests("PATCH", "^" + base + "/" + re.escape(name) + "/status$")
    return posts, patches


def all_report_writes(api):
    rx = "^/apis/profileguard.io/v1alpha1/namespaces/[^/]+/identityreports"
    return api.requests("POST", rx + "$") + api.requests("PATCH", rx + "/[^/]+/status$")


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = standin()
        cls.ctl = controller(cls.api)

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.ctl.stop(timeout=STOP_TIMEOUT)
            assert rc == 0, f"controller exited {rc}"
        finally:
            cls.api.stop()

    def report(self, ns, name, pred=lambda s: True, timeout=15):
        def get():
            r = self.api.one("IdentityReport", ns, name)
            return r if r and pred(r.get("status") or {}) else None
        return wait_for(get, timeout, what=f"IdentityReport {ns}/{name}")


class TestReports(Base):
    """Reports appear with their risk; a changed binding changes the level
    (after the report's minute); a pod above its profile's maxRisk is found."""

    def test_reports_levels_and_runtime(self):
        ns = "idt"
        sa = self.api.put(h.service_account(ns, "api"))[0]
        self.api.put(role(ns, "secrets", ["secrets"]), role(ns, "pods", ["pods"], ("list",)),
                     binding(ns, "api", "secrets", "api"))
        rep = self.report(ns, "api", lambda s: (s.get("risk") or {}).get("level") == "Critical")
        st = rep["status"]
        self.assertEqual(st["serviceAccountUID"], sa["metadata"]["uid"])
        owner = rep["metadata"]["ownerReferences"][0]
        self.assertEqual((owner["kind"], owner["name"], owner["uid"], owner["controller"]),
                         ("ServiceAccount", "api", sa["metadata"]["uid"], True))
        f = st["risk"]["findings"][0]
        self.assertEqual((f["rule"], f["severity"]), ("read-secrets", "Critical"))
        self.assertEqual(f["via"], f"RoleBinding {ns}/api -> Role {ns}/secrets")
        self.assertEqual(st["state"], "Unknown")
        self.assertEqual(st["pods"], 0)
        self.assertEqual(st["conditions"][0]["type"], "Ready")
        # The namespace's default account: nothing granted.
        dflt = self.report(ns, "default", lambda s: (s.get("risk") or {}).get("level") == "None")
        self.assertEqual(dflt["status"]["risk"]["findings"], [])
        posts, patches = report_writes(self.api, ns, "api")
        self.assertEqual((len(posts), len(patches)), (1, 1))
        ltt = st["conditions"][0]["lastTransitionTime"]

        # A running pod of that account under an Enforce profile holding it
        # to Low is found.
        self.api.put(profile(ns, "low", {"mode": "Enforce", "identity": {"maxRisk": "Low"},
                                         "response": {"action": "None"}},
                             selector={"matchLabels": {"app": "web"}}))
        p = self.api.put(pod(ns, "web-1", labels={"app": "web"}, sa="api"))[0]
        ev = wait_for(lambda: self.api.events(ns, "web-1", "IdentityRiskExceeded"), 15,
                      what="IdentityRiskExceeded Event")[0]
        self.assertEqual(ev["regarding"]["uid"], p["metadata"]["uid"])
        self.assertIn('ServiceAccount "api" has RBAC risk Critical, above Low', ev["note"])
        self.assertIn("read-secrets (Critical): get secrets in idt via RoleBinding idt/api -> Role idt/secrets",
                      ev["note"])

        # The binding now names the read-only role (roleRef cannot change:
        # deleted and made again, as kubectl does).  The report moves to
        # Low within its minute, in one write with the new pod counted.
        self.api.remove("RoleBinding", ns, "api")
        self.api.put(binding(ns, "api", "pods", "api"))
        rep = self.report(ns, "api", lambda s: (s.get("risk") or {}).get("level") == "Low", timeout=75)
        st = rep["status"]
        self.assertEqual(st["risk"]["findings"][0]["rule"], "read-only")
        self.assertEqual(st["pods"], 1)
        self.assertEqual(st["state"], "Active")
        self.assertEqual(st["tokens"]["automount"], True)
        self.assertEqual(st["conditions"][0]["lastTransitionTime"], ltt)
        posts, patches = report_writes(self.api, ns, "api")
        self.assertEqual((len(posts), len(patches)), (1, 2))
        # The pods of the account were judged again: no new finding now
        # that it is Low, and nothing more is written while nothing changes.
        time.sleep(3)
        self.assertEqual(len(report_writes(self.api, ns, "api")[1]), 2)
        self.assertEqual(len(self.api.events(ns, "web-1", "IdentityRiskExceeded")), 1)

        m = self.ctl.metrics()
        self.assertGreaterEqual(h.metric_sum(m, "profileguard_identities", risk="Low"), 1)
        self.assertGreaterEqual(h.metric_sum(m, "profileguard_identity_findings", rule="read-only"), 1)


class TestRestart(unittest.TestCase):
    """A new controller finds the reports stored and writes nothing."""

    def test_restart_writes_nothing(self):
        api = standin()
        try:
            ns = "rst"
            api.put(h.service_account(ns, "app"), role(ns, "secrets", ["secrets"]),
                    binding(ns, "app", "secrets", "app"))
            ctl = controller(api, name="ctl-a")
            try:
                wait_for(lambda: (lambda r: r and (r.get("status") or {}).get("risk"))(
                    api.one("IdentityReport", ns, "app")), 15, what="report rst/app")
                wait_for(lambda: (lambda r: r and (r.get("status") or {}).get("risk"))(
                    api.one("IdentityReport", ns, "default")), 15, what="report rst/default")
                # Every account of the stand-in has its report.
                want = len(api.objects("ServiceAccount"))
                wait_for(lambda: len([r for r in api.objects("IdentityReport") if r.get("status")]) == want,
                         15, what="every report")
            finally:
                self.assertEqual(ctl.stop(timeout=STOP_TIMEOUT), 0)
            before = len(all_report_writes(api))
            ctl = controller(api, name="ctl-b")
            try:
                # Evaluated: the gauge counts every account once.
                wait_for(lambda: sum(h.metric_sum(ctl.metrics(), "profileguard_identities", risk=lv)
                                     for lv in ("Critical", "High", "Medium", "Low", "None")) == want,
                         15, what="accounts evaluated")
                time.sleep(3)
                self.assertEqual(len(all_report_writes(api)), before)
                # A change after the restart is written (as a status write).
                api.put(role(ns, "secrets", ["pods"]))
                wait_for(lambda: (api.one("IdentityReport", ns, "app")["status"]["risk"]["level"] == "Low"),
                         15, what="report rst/app at Low")
                self.assertEqual(len(report_writes(api, ns, "app")[0]), 1)
            finally:
                self.assertEqual(ctl.stop(timeout=STOP_TIMEOUT), 0)
        finally:
            api.stop()


AUDIT_USER = "kube-apiserver-audit"


def audit_batch(ns, sa, verb="get", resource="configmaps", code=200):
    """An EventList of one call by ServiceAccount @ns/@sa, as the API
    server's audit webhook backend sends it."""
    now = h.rfc3339()
    ev = {"level": "Metadata", "auditID": os.urandom(8).hex(), "stage": "ResponseComplete",
          "requestURI": f"/api/v1/namespaces/{ns}/{resource}", "verb": verb,
          "user": {"username": f"system:serviceaccount:{ns}:{sa}",
                   "groups": ["system:serviceaccounts", "system:authenticated"]},
          "sourceIPs": ["10.244.9.9"], "userAgent": "app/1",
          "objectRef": {"resource": resource, "namespace": ns, "apiVersion": "v1"},
          "responseStatus": {"metadata": {}, "code": code},
          "requestReceivedTimestamp": now, "stageTimestamp": now}
    return json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": [ev]})


def deployment(ns, name, sa):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": ns, "name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"serviceAccountName": sa,
                                           "containers": [{"name": "c", "image": "nginx"}]}}}}


class TestLifecycle(unittest.TestCase):
    """Report mode, time compressed (--identity-orphaned-after 3s,
    --audit-live-window 2s): no idleness without a live audit source; an
    identity with a running pod is never Orphaned; one whose Deployment
    and pods are deleted becomes Orphaned, with its Event, while audit
    batches keep arriving; an outage longer than the window makes nothing
    idle; the default account, kube-system and labelled accounts are
    reported but never written to; usage and the live span are kept."""

    NS = "life"

    def setUp(self):
        tokens = {"admin-token": {"username": "admin", "groups": ["system:masters"]},
                  "audit-token": {"username": AUDIT_USER}}
        self.api = h.Standin(ARGS.srcdir, CERTS, ARGS.workdir, seed=[h.namespace(OWN_NS)], default_sa=True,
                             tokens=tokens)
        self.ctl = controller(self.api, "--telemetry-listen", "127.0.0.1:0",
                              "--telemetry-tls-cert", CERTS.server[0], "--telemetry-tls-key", CERTS.server[1],
                              "--telemetry-allowed-users", AUDIT_USER,
                              "--identity-orphaned-after", "3s", "--audit-live-window", "2s", name="ctl-life")
        self.tport = self.ctl.port_of("telemetry listening", 10)
        self.sending = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sender, daemon=True)
        self.thread.start()

    def tearDown(self):
        self.stop.set()
        self.thread.join(10)
        try:
            self.assertEqual(self.ctl.stop(timeout=STOP_TIMEOUT), 0)
        finally:
            self.api.stop()

    def sender(self):
        """While self.sending is set, one batch every 0.3 s: `api` reads
        configmaps (its use, and proof the audit source is live)."""
        while not self.stop.is_set():
            if self.sending.is_set():
                st, out, _ = h.telemetry_post(self.tport, CERTS, "/telemetry/v1/audit",
                                              audit_batch(self.NS, "api"), token="audit-token")
                assert st == 200, out
            time.sleep(0.3)

    def orphaned(self, ns, name):
        return self.api.events(ns, name, "IdentityOrphaned")

    def test_states_events_and_outage(self):
        ns, api = self.NS, self.api
        api.put(h.service_account(ns, "api"), h.service_account(ns, "gone"), h.service_account(ns, "quiet"),
                h.service_account("kube-system", "old"))
        keep = h.service_account(ns, "keep")
        keep["metadata"]["labels"] = {"profileguard.io/lifecycle": "ignore"}
        api.put(keep)
        api.put(pod(ns, "api-1", sa="api"), deployment(ns, "gone", "gone"), pod(ns, "gone-1", sa="gone"),
                pod(ns, "quiet-1", sa="quiet"))
        self.report(ns, "gone", lambda s: s.get("state") == "Active")
        self.report(ns, "quiet", lambda s: s.get("state") == "Active")

        # No audit source yet: quiet's pod goes, and 6 s (twice the
        # orphaned window) later nothing is Orphaned, nothing idle.
        api.remove("Pod", ns, "quiet-1")
        time.sleep(6)
        for who in (("life", "quiet"), ("life", "default"), ("kube-system", "old"), ("life", "keep")):
            self.assertEqual(self.orphaned(*who), [], who)

        # The audit source is live: the Deployment and pod of `gone` are
        # deleted; it becomes Orphaned with its Event.  `api`, with its
        # pod running (and calls), never does.
        self.sending.set()
        wait_for(lambda: self.ctl.metric("profileguard_telemetry_events_total", source="audit") or None, 10,
                 what="audit batches accepted")
        api.remove("Deployment", ns, "gone")
        api.remove("Pod", ns, "gone-1")
        ev = wait_for(lambda: self.orphaned(ns, "gone"), 20, what="IdentityOrphaned for gone")[0]
        self.assertEqual(ev["regarding"]["kind"], "ServiceAccount")
        self.assertEqual(ev["regarding"]["uid"], api.one("ServiceAccount", ns, "gone")["metadata"]["uid"])
        self.assertNotIn("never-touch", ev["note"])
        # Quiet was idle since the span began: Orphaned too, 3 s into it.
        wait_for(lambda: self.orphaned(ns, "quiet"), 20, what="IdentityOrphaned for quiet")
        # Protected accounts: reported, and the Event says nothing is done.
        for who in (("life", "default"), ("kube-system", "old"), ("life", "keep")):
            e = wait_for(lambda: self.orphaned(*who), 20, what=f"IdentityOrphaned for {who}")[0]
            self.assertIn("never-touch", e["note"], who)
        self.assertEqual(self.orphaned(ns, "api"), [])

        # An outage longer than the window: a pod deleted now makes
        # nothing idle, however long the outage lasts.
        api.put(h.service_account(ns, "late"), pod(ns, "late-1", sa="late"))
        self.report(ns, "late", lambda s: s.get("state") == "Active")
        self.sending.clear()
        time.sleep(2.5)
        api.remove("Pod", ns, "late-1")
        time.sleep(6)
        self.assertEqual(self.orphaned(ns, "late"), [])
        self.assertEqual(self.orphaned(ns, "api"), [])

        # The reports: gone is Orphaned (written once its minute passed),
        # api is Active with its usage.
        rep = self.report(ns, "gone", lambda s: s.get("state") == "Orphaned", timeout=75)
        self.assertIn("stateSince", rep["status"])
        st = self.report(ns, "api", lambda s: s.get("usage"), timeout=75)["status"]
        self.assertEqual(st["state"], "Active")
        self.assertEqual(st["usage"][0]["resource"], "configmaps")
        self.assertEqual(st["usage"][0]["verbs"], ["get"])
        self.assertEqual(st["usage"][0]["namespace"], ns)
        self.assertRegex(st["lastUsed"], r"^\d{4}-\d{2}-\d{2}$")
        # The live span is kept on the controller's audit Lease.
        lease = api.one("Lease", OWN_NS, "profileguard-controller-audit")
        ann = lease["metadata"]["annotations"]
        self.assertIn("profileguard.io/audit-live-since", ann)
        self.assertIn("profileguard.io/audit-live-confirmed", ann)
        # Report mode writes no ServiceAccount, no Secret.
        for m in ("PATCH", "PUT", "DELETE"):
            self.assertEqual(api.requests(m, "^/api/v1/namespaces/[^/]+/(serviceaccounts|secrets)"), [], m)

    def report(self, ns, name, pred=lambda s: True, timeout=15):
        def get():
            r = self.api.one("IdentityReport", ns, name)
            return r if r and pred(r.get("status") or {}) else None
        return wait_for(get, timeout, what=f"IdentityReport {ns}/{name}")


class TestLiveSpanRestart(unittest.TestCase):
    """The audit source's live span survives a restart: the new controller
    reads it from the audit Lease and goes on with it (the same
    audit-live-since), instead of starting a new span, which would restart
    every identity's idle clock."""

    def test_span_continues(self):
        tokens = {"admin-token": {"username": "admin", "groups": ["system:masters"]},
                  "audit-token": {"username": AUDIT_USER}}
        api = h.Standin(ARGS.srcdir, CERTS, ARGS.workdir, seed=[h.namespace(OWN_NS)], default_sa=True,
                        tokens=tokens)
        flags = ["--telemetry-listen", "127.0.0.1:0", "--telemetry-tls-cert", CERTS.server[0],
                 "--telemetry-tls-key", CERTS.server[1], "--telemetry-allowed-users", AUDIT_USER,
                 "--audit-live-window", "8s"]

        def annotations():
            lease = api.one("Lease", OWN_NS, "profileguard-controller-audit") or {}
            return (lease.get("metadata") or {}).get("annotations") or {}

        def send(port):
            st, out, _ = h.telemetry_post(port, CERTS, "/telemetry/v1/audit", audit_batch("span", "app"),
                                          token="audit-token")
            self.assertEqual(st, 200, out)

        try:
            api.put(h.service_account("span", "app"))
            ctl = controller(api, *flags, name="ctl-span-a")
            try:
                port = ctl.port_of("telemetry listening", 10)
                send(port)
                since = wait_for(lambda: annotations().get("profileguard.io/audit-live-since"), 15,
                                 what="the live span saved")
                send(port)
            finally:
                self.assertEqual(ctl.stop(timeout=STOP_TIMEOUT), 0)
            ctl = controller(api, *flags, name="ctl-span-b")
            try:
                port = ctl.port_of("telemetry listening", 10)
                confirmed = annotations()["profileguard.io/audit-live-confirmed"]
                # Batches keep coming; the new controller confirms the span
                # within a window, and it is the same span.
                deadline = time.time() + 20
                while time.time() < deadline and \
                        annotations().get("profileguard.io/audit-live-confirmed") == confirmed:
                    send(port)
                    time.sleep(0.5)
                ann = annotations()
                self.assertNotEqual(ann["profileguard.io/audit-live-confirmed"], confirmed)
                self.assertEqual(ann["profileguard.io/audit-live-since"], since)
            finally:
                self.assertEqual(ctl.stop(timeout=STOP_TIMEOUT), 0)
        finally:
            api.stop()


if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__, prefix="pg-idint-")
    sys.exit(h.run_tests(ARGS, argv))
