#!/usr/bin/env python3
"""Integration tests of the controller's identity inventory: the real binary
against the API stand-in (tests/standin/kube_standin.py) over real TLS.

ServiceAccounts, Roles and bindings are seeded through the stand-in's
control API; the tests read the IdentityReports the controller wrote, the
requests it sent to write them (/_standin/requests), the Events of a
running pod whose account is above its profile's identity.maxRisk, and a
second controller's writes after a restart.  A report is written at most
once a minute, so the test of a changed binding waits for that minute.
Standard library only.

usage: integration_identities.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import os
import re
import sys
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


if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__, prefix="pg-idint-")
    sys.exit(h.run_tests(ARGS, argv))
