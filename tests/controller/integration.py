#!/usr/bin/env python3
"""Integration tests of `profileguard controller`: the real binary against the
API stand-in (tests/standin/kube_standin.py) over real TLS.

Each test class starts one stand-in and the controller(s) it needs, seeds
objects through the stand-in's control API, and checks what the controller
wrote: the requests it sent (/_standin/requests), the Events and the
WorkloadProfile status it left (/_standin/objects), and its metrics.  Lease
timings are shortened with the controller's public flags (--lease-duration,
--renew-deadline, --retry-period) and the owner backoff with --owner-backoff.
Certificates, the stand-in, the controller process and the object builders
come from tests/lib/pgharness.py.  Standard library only.

usage: integration.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import datetime
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pgharness as h  # noqa: E402
from pgharness import pod, profile, rfc3339, wait_for  # noqa: E402

ARGS = None
CERTS = None
OWN_NS = "profileguard"
STOP_TIMEOUT = 15       # seconds a controller gets to stop on a signal


def setUpModule():
    global CERTS
    CERTS = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))


def token_secret(ns, name, typ="kubernetes.io/service-account-token"):
    return {"apiVersion": "v1", "kind": "Secret", "type": typ,
            "metadata": {"name": name, "namespace": ns,
                         "annotations": {"kubernetes.io/service-account.name": "default"}},
            "data": {"token": "c2VjcmV0"}}


# Enforce said explicitly: a profile without mode is Audit (SPEC §2).
REQUIRE_DIGEST = {"mode": "Enforce", "images": {"requireDigest": True}}


def standin(tokens=None):
    """A stand-in holding the controller's own namespace, whose put() gives
    each new namespace its ServiceAccount "default"."""
    return h.Standin(ARGS.srcdir, CERTS, ARGS.workdir, seed=[h.namespace(OWN_NS)],
                     tokens=tokens, default_sa=True)


def controller(api, *flags, name="ctl", wait_ready=True):
    """`profileguard controller` against @api with @flags, metrics on an
    ephemeral port; waits for /readyz unless told not to."""
    return h.controller(ARGS.binary, api, ARGS.workdir, name, flags, own_ns=OWN_NS,
                        wait_ready=wait_ready, port_timeout=10, ready_timeout=15)


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

class Base(unittest.TestCase):
    FLAGS = []

    @classmethod
    def setUpClass(cls):
        cls.api = standin()
        cls.ctl = controller(cls.api, "--leader-elect=false", *cls.FLAGS)

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.ctl.stop(timeout=STOP_TIMEOUT)
            assert rc == 0, f"controller exited {rc}"
        finally:
            cls.api.stop()

    def wait_gone(self, ns, name, timeout=10):
        wait_for(lambda: self.api.one("Pod", ns, name) is None, timeout, what=f"pod {ns}/{name} gone")

    def wait_event(self, ns, pod_name, reason, timeout=10):
        return wait_for(lambda: self.api.events(ns, pod_name, reason), timeout,
                        what=f"{reason} Event for {ns}/{pod_name}")[0]

    def wait_status(self, ns, name, pred, timeout=10):
        return wait_for(lambda: (lambda s: s if pred(s) else None)(self.api.profile_status(ns, name)),
                        timeout, what=f"status of {ns}/{name}")

    def assert_event(self, ev, reason, action, pod_obj, prof_name, note_part):
        self.assertEqual(ev["type"], "Warning")
        self.assertEqual(ev["reason"], reason)
        self.assertEqual(ev["action"], action)
        self.assertEqual(ev["reportingController"], "profileguard.io/controller")
        self.assertEqual(ev["reportingInstance"], self.ctl.name)
        self.assertEqual(ev["regarding"]["kind"], "Pod")
        self.assertEqual(ev["regarding"]["name"], pod_obj["metadata"]["name"])
        self.assertEqual(ev["regarding"]["uid"], pod_obj["metadata"]["uid"])
        self.assertEqual(ev["related"]["kind"], "WorkloadProfile")
        self.assertEqual(ev["related"]["apiVersion"], "profileguard.io/v1alpha1")
        self.assertEqual(ev["related"]["name"], prof_name)
        self.assertIn(note_part, ev["note"])


class TestEnforce(Base):
    """One controller, Enforce profiles: every reason, its action, Event and status."""

    FLAGS = ["--max-actions-per-minute", "1000", "--owner-backoff", "3s",
             "--ignore-namespaces", "kube-system,skipped"]

    def test_admission_drift_pod_predates_profile(self):
        ns = "drift-old"
        bad, good = self.api.put(pod(ns, "old-pod", image="nginx"),
                                 pod(ns, "good-pod"))
        time.sleep(0.3)
        self.assertEqual(self.api.deletes(ns, "old-pod"), [])
        self.api.put(profile(ns, "digests", dict(REQUIRE_DIGEST, response={"action": "Delete"})))
        self.wait_gone(ns, "old-pod")
        self.assertEqual(self.api.deletes(ns, "old-pod"), [(200, bad["metadata"]["uid"])])
        self.assertEqual(self.api.deletes(ns, "good-pod"), [])
        ev = self.wait_event(ns, "old-pod", "AdmissionDrift")
        self.assert_event(ev, "AdmissionDrift", "Delete", bad, "digests",
                          'spec.containers[0].image: "nginx" has no @sha256 digest')
        st = self.wait_status(ns, "digests", lambda s: s.get("violations") == 1 and
                              s.get("matchedPods") == 1)
        self.assertEqual(st["observedGeneration"], 1)
        self.assertEqual(st["lastViolation"]["pod"], "old-pod")
        self.assertEqual(st["lastViolation"]["reason"], "AdmissionDrift")
        self.assertIn("has no @sha256 digest", st["lastViolation"]["message"])
        cond = st["conditions"][0]
        self.assertEqual((cond["type"], cond["status"], cond["reason"]), ("Ready", "True", "Accepted"))

    def test_admission_drift_profile_tightened(self):
        ns = "drift-tight"
        p = self.api.put(pod(ns, "priv", spec={"containers": [
            {"name": "c", "image": h.GOOD_IMAGE,
             "securityContext": {"privileged": True}}]}))[0]
        self.api.put(profile(ns, "tight", REQUIRE_DIGEST))
        st = self.wait_status(ns, "tight", lambda s: s.get("matchedPods") == 1)
        ltt = st["conditions"][0]["lastTransitionTime"]
        time.sleep(0.5)
        self.assertEqual(self.api.deletes(ns, "priv"), [], "deleted before the profile tightened")
        self.assertEqual(st.get("violations"), 0)
        # Tighten: a new generation forbids privileged containers.
        self.api.patch_profile(ns, "tight", {"privileges": {"privileged": "Forbid"}})
        self.wait_gone(ns, "priv")
        self.assertEqual(self.api.deletes(ns, "priv"), [(200, p["metadata"]["uid"])])
        ev = self.wait_event(ns, "priv", "AdmissionDrift")
        self.assert_event(ev, "AdmissionDrift", "Delete", p, "tight", "privileged")
        st = self.wait_status(ns, "tight", lambda s: s.get("observedGeneration") == 2 and
                              s.get("violations") == 1)
        self.assertEqual(st["conditions"][0]["lastTransitionTime"], ltt,
                         "Ready did not change: its lastTransitionTime must not move")

    def test_legacy_token_every_reference(self):
        ns = "legacy"
        self.api.put(token_secret(ns, "old-token"), token_secret(ns, "plain", "Opaque"))
        pods = self.api.put(
            pod(ns, "by-volume", spec={"volumes": [{"name": "t", "secret": {"secretName": "old-token"}}]}),
            pod(ns, "by-projected", spec={"volumes": [{"name": "t", "projected": {"sources": [
                {"secret": {"name": "old-token"}}]}}]}),
            pod(ns, "by-env", spec={"containers": [{"name": "c", "image": h.GOOD_IMAGE,
                                                    "env": [{"name": "T", "valueFrom": {"secretKeyRef": {
                                                        "name": "old-token", "key": "token"}}}]}]}),
            pod(ns, "by-envfrom", spec={"containers": [{"name": "c", "image": h.GOOD_IMAGE,
                                                        "envFrom": [{"secretRef": {"name": "old-token"}}]}]}),
            pod(ns, "opaque-only", spec={"volumes": [{"name": "t", "secret": {"secretName": "plain"}}]}))
        self.api.put(profile(ns, "no-legacy", {"mode": "Enforce", "identity": {"legacyTokenSecrets": "Forbid"}}))
        for p in pods[:4]:
            name = p["metadata"]["name"]
            self.wait_gone(ns, name)
            self.assertEqual(self.api.deletes(ns, name), [(200, p["metadata"]["uid"])])
            ev = self.wait_event(ns, name, "LegacyToken")
            self.assert_event(ev, "LegacyToken", "Delete", p, "no-legacy", "old-token")
        self.assertIsNotNone(self.api.one("Pod", ns, "opaque-only"))
        self.assertEqual(self.api.deletes(ns, "opaque-only"), [])
        self.wait_status(ns, "no-legacy", lambda s: s.get("violations") == 4 and
                         s.get("lastViolation", {}).get("reason") == "LegacyToken")

    def test_token_ttl_evicts_and_pdb_blocks(self):
        ns = "ttl"
        vol = {"volumes": [{"name": "tok", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 86400}}]}}]}
        free = self.api.put(pod(ns, "long-token", spec=vol))[0]
        guarded = self.api.put(pod(ns, "guarded", labels={"app": "a", "pdb": "yes"}, spec=vol))[0]
        self.api.put({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                      "metadata": {"name": "keep-one", "namespace": ns},
                      "spec": {"minAvailable": 1, "selector": {"matchLabels": {"pdb": "yes"}}}})
        self.api.put(profile(ns, "short", {"mode": "Enforce", "identity": {"maxTokenExpirationSeconds": 3600},
                                           "response": {"action": "Evict"}}))
        self.wait_gone(ns, "long-token")
        self.assertEqual(self.api.evictions(ns, "long-token"), [201])
        self.assertEqual(self.api.deletes(ns, "long-token"), [])
        ev = self.wait_event(ns, "long-token", "TokenTTLExceeded")
        self.assert_event(ev, "TokenTTLExceeded", "Evict", free, "short", "expirationSeconds")
        # The budget refuses: the pod is kept, an EvictionBlocked Event says so.
        blocked = self.wait_event(ns, "guarded", "EvictionBlocked")
        self.assertEqual(blocked["action"], "Evict")
        self.assertIn("PodDisruptionBudget", blocked["note"])
        self.assertEqual(self.api.evictions(ns, "guarded")[0], 429)
        self.assertIsNotNone(self.api.one("Pod", ns, "guarded"))
        self.assertEqual(guarded["metadata"]["uid"],
                         self.api.one("Pod", ns, "guarded")["metadata"]["uid"])
        self.wait_status(ns, "short", lambda s: s.get("violations") == 2)
        self.assertGreaterEqual(self.ctl.metric("profileguard_actions_total", action="Evict",
                                                result="blocked"), 1)

    def test_service_account_deleted(self):
        ns = "sa-gone"
        self.api.put(h.service_account(ns, "app", created=time.time() - 3600))
        p = self.api.put(pod(ns, "zombie", sa="app", started=time.time() - 60))[0]
        self.api.put(profile(ns, "ids", {"mode": "Enforce", "identity": {"serviceAccountNames": ["app"]}}))
        self.wait_status(ns, "ids", lambda s: s.get("matchedPods") == 1)
        time.sleep(0.3)
        self.assertEqual(self.api.deletes(ns, "zombie"), [])
        self.api.remove("ServiceAccount", ns, "app")
        self.wait_gone(ns, "zombie")
        self.assertEqual(self.api.deletes(ns, "zombie"), [(200, p["metadata"]["uid"])])
        ev = self.wait_event(ns, "zombie", "ServiceAccountMissing")
        self.assert_event(ev, "ServiceAccountMissing", "Delete", p, "ids", "no longer exists")

    def test_service_account_recreated_audit_records_only(self):
        ns = "sa-new"
        self.api.put(h.service_account(ns, "app", created=time.time() - 7200))
        p = self.api.put(pod(ns, "old-identity", sa="app", started=time.time() - 3600,
                             meta={"creationTimestamp": rfc3339(time.time() - 3600)}))[0]
        # An identity section: the identity reasons are judged (SPEC §4).
        self.api.put(profile(ns, "watch", {"mode": "Audit", "identity": {}}))
        self.wait_status(ns, "watch", lambda s: s.get("matchedPods") == 1)
        # Recreated in one step (a new UID, created now), as the watch of
        # a busy cluster may well show it.
        self.api.put(dict(h.service_account(ns, "app"), metadata={"name": "app", "namespace": ns,
                                                   "uid": "recreated-0001",
                                                   "creationTimestamp": rfc3339()}))
        ev = self.wait_event(ns, "old-identity", "ServiceAccountMissing")
        self.assert_event(ev, "ServiceAccountMissing", "Record", p, "watch", "was recreated after the pod was created")
        self.wait_status(ns, "watch", lambda s: s.get("violations") >= 1)
        time.sleep(0.5)
        self.assertEqual(self.api.deletes(ns, "old-identity"), [])
        self.assertIsNotNone(self.api.one("Pod", ns, "old-identity"))

    def test_service_account_older_than_pod_node_clock_behind(self):
        # The API server created the account, then the pod; the pod's node
        # runs 4 s behind, so its startTime is before the account's
        # creation.  Only API server times are compared: the pod is kept.
        ns = "sa-fresh"
        now = time.time()
        self.api.put(h.service_account(ns, "app", created=now - 10))
        p = self.api.put(pod(ns, "fresh", sa="app", started=now - 12,
                             meta={"creationTimestamp": rfc3339(now - 8)}))[0]
        self.api.put(profile(ns, "ids", {"mode": "Enforce", "identity": {"serviceAccountNames": ["app"]}}))
        self.wait_status(ns, "ids", lambda s: s.get("matchedPods") == 1)
        time.sleep(1.0)
        self.assertEqual(self.api.deletes(ns, "fresh"), [])
        self.assertEqual(self.api.events(ns, "fresh"), [])
        self.assertEqual(self.api.one("Pod", ns, "fresh")["metadata"]["uid"], p["metadata"]["uid"])

    def test_borrowed_service_account(self):
        # payments-api is bound to its profile: a pod with other labels may
        # not run as it (SPEC §2 identity binding).  The selected pod and a
        # pod of another account are left alone.
        ns = "borrow"
        self.api.put(h.service_account(ns, "payments-api"), h.service_account(ns, "tools"))
        good, debug, tools = self.api.put(
            pod(ns, "api", sa="payments-api", labels={"app": "payments-api"}),
            pod(ns, "debug", sa="payments-api", image="nginx:latest", labels={"app": "payments-api-debug"},
                spec={"containers": [{"name": "c", "image": "nginx:latest",
                                      "securityContext": {"privileged": True}}]}),
            pod(ns, "tools", sa="tools", labels={"app": "payments-api-debug"}))
        self.api.put(profile(ns, "payments-api", {"mode": "Enforce",
                                                  "identity": {"serviceAccountNames": ["payments-api"]}},
                             selector={"matchLabels": {"app": "payments-api"}}))
        self.wait_gone(ns, "debug")
        self.assertEqual(self.api.deletes(ns, "debug"), [(200, debug["metadata"]["uid"])])
        ev = self.wait_event(ns, "debug", "ServiceAccountBorrowed")
        self.assert_event(ev, "ServiceAccountBorrowed", "Delete", debug, "payments-api",
                          'spec.serviceAccountName: "payments-api" is bound to borrow/payments-api '
                          "(identity.bindServiceAccounts); this pod is not selected by it")
        self.assertGreaterEqual(self.ctl.metric("profileguard_drift_findings_total",
                                                reason="ServiceAccountBorrowed"), 1)
        time.sleep(0.5)
        for keep in (good, tools):
            name = keep["metadata"]["name"]
            self.assertEqual(self.api.deletes(ns, name), [], f"{name} deleted")
            self.assertEqual(self.api.events(ns, name), [], f"{name} got an Event")

    def test_audit_and_none_delete_nothing(self):
        ns = "audit"
        a = self.api.put(pod(ns, "audited", image="nginx", labels={"app": "audit"}))[0]
        n = self.api.put(pod(ns, "noned", image="nginx", labels={"app": "none"}))[0]
        self.api.put(profile(ns, "audit", dict(REQUIRE_DIGEST, mode="Audit"),
                             selector={"matchLabels": {"app": "audit"}}),
                     profile(ns, "none", dict(REQUIRE_DIGEST, response={"action": "None"}),
                             selector={"matchLabels": {"app": "none"}}))
        ev = self.wait_event(ns, "audited", "AdmissionDrift")
        self.assert_event(ev, "AdmissionDrift", "Record", a, "audit", "no @sha256 digest")
        ev = self.wait_event(ns, "noned", "AdmissionDrift")
        self.assert_event(ev, "AdmissionDrift", "Record", n, "none", "no @sha256 digest")
        self.wait_status(ns, "audit", lambda s: s.get("violations") == 1)
        self.wait_status(ns, "none", lambda s: s.get("violations") == 1)
        time.sleep(0.5)
        self.assertEqual(self.api.deletes(ns, "audited") + self.api.deletes(ns, "noned"), [])
        self.assertEqual(self.api.evictions(ns, "audited") + self.api.evictions(ns, "noned"), [])

    def test_audit_then_enforce_acts_on_running_pods(self):
        """The documented path: a profile in Audit reports a running pod;
        switched to Enforce, the same findings are acted on (they were
        remembered as reported, not as acted on)."""
        ns = "promote"
        bad = self.api.put(pod(ns, "running", image="nginx"))[0]
        self.api.put(profile(ns, "watch", dict(REQUIRE_DIGEST, mode="Audit")))
        ev = self.wait_event(ns, "running", "AdmissionDrift")
        self.assert_event(ev, "AdmissionDrift", "Record", bad, "watch", "no @sha256 digest")
        time.sleep(0.5)
        self.assertEqual(self.api.deletes(ns, "running"), [])
        self.api.patch_profile(ns, "watch", {"mode": "Enforce"})
        self.wait_gone(ns, "running")
        self.assertEqual(self.api.deletes(ns, "running"), [(200, bad["metadata"]["uid"])])
        # What was done is an Event of its own, not a repeat of the Record.
        evs = wait_for(lambda: [e for e in self.api.events(ns, "running", "AdmissionDrift")
                                if e.get("action") == "Delete"], 10, what="a Delete Event")
        self.assert_event(evs[0], "AdmissionDrift", "Delete", bad, "watch", "no @sha256 digest")
        rec = [e for e in self.api.events(ns, "running", "AdmissionDrift") if e.get("action") == "Record"]
        self.assertEqual(len(rec), 1, rec)
        self.assertNotIn("series", rec[0])

    def test_repeat_folds_into_series(self):
        ns = "series"
        self.api.put(pod(ns, "twice", image="nginx", spec={"hostNetwork": True}))
        self.api.put(profile(ns, "watch", dict(REQUIRE_DIGEST, mode="Audit")))
        ev = self.wait_event(ns, "twice", "AdmissionDrift")
        self.assertNotIn("series", ev)
        # New evidence for the same (pod, reason, profile): one Event, a series.
        self.api.patch_profile(ns, "watch", {"privileges": {"hostNamespaces": "Forbid"}})
        ev = wait_for(lambda: [e for e in self.api.events(ns, "twice", "AdmissionDrift")
                               if (e.get("series") or {}).get("count") == 2], 10,
                      what="series count 2")[0]
        self.assertIn("lastObservedTime", ev["series"])
        self.assertEqual(len(self.api.events(ns, "twice", "AdmissionDrift")), 1)
        self.wait_status(ns, "watch", lambda s: s.get("violations") == 2)

    def test_replacement_pod_never_deleted(self):
        ns = "replace"
        old = self.api.put(pod(ns, "web-0", image="nginx"))[0]
        # The DELETE reaches the server only after the pod was replaced.
        self.api.faults({"slow": {"delay_ms": 2000, "count": 1,
                                  "path_regex": f"/namespaces/{ns}/pods/web-0$"}})
        self.api.put(profile(ns, "digests", REQUIRE_DIGEST))
        wait_for(lambda: self.api.deletes(ns, "web-0"), 10, what="the DELETE on its way")
        self.api.remove("Pod", ns, "web-0")
        new = self.api.put(pod(ns, "web-0"))[0]          # compliant, a new UID
        wait_for(lambda: all(s is not None for s, _ in self.api.deletes(ns, "web-0")), 10,
                 what="the slow DELETE answered")
        time.sleep(0.5)
        cur = self.api.one("Pod", ns, "web-0")
        self.assertIsNotNone(cur, "the replacement was deleted")
        self.assertEqual(cur["metadata"]["uid"], new["metadata"]["uid"])
        self.assertEqual(self.api.deletes(ns, "web-0"), [(409, old["metadata"]["uid"])])
        self.assertGreaterEqual(self.ctl.metric("profileguard_actions_total", action="Delete",
                                                result="replaced"), 1)

    def test_owner_backoff_drift_repeated(self):
        ns = "owner"
        owner = ("ReplicaSet", "api-7d9f", "rs-uid-0001")
        first = self.api.put(pod(ns, "api-7d9f-a", image="nginx", owner=owner))[0]
        self.api.put(profile(ns, "digests", REQUIRE_DIGEST))
        self.wait_gone(ns, "api-7d9f-a")
        t0 = time.monotonic()
        second = self.api.put(pod(ns, "api-7d9f-b", image="nginx", owner=owner))[0]
        ev = self.wait_event(ns, "api-7d9f-b", "DriftRepeated")
        self.assertEqual(ev["action"], "Delete")
        self.assertIn("ReplicaSet api-7d9f", ev["note"])
        self.assertIsNotNone(self.api.one("Pod", ns, "api-7d9f-b"), "acted on at once")
        self.wait_gone(ns, "api-7d9f-b", timeout=10)
        self.assertGreaterEqual(time.monotonic() - t0, 1.5, "the backoff did not hold")
        self.assertEqual(self.api.deletes(ns, "api-7d9f-a"), [(200, first["metadata"]["uid"])])
        self.assertEqual(self.api.deletes(ns, "api-7d9f-b"), [(200, second["metadata"]["uid"])])
        self.assertGreaterEqual(self.ctl.metric("profileguard_actions_total", action="Delete",
                                                result="backoff"), 1)

    def test_invalid_profile_not_applied(self):
        ns = "invalid"
        self.api.put(pod(ns, "kept", image="nginx"))
        self.api.put(profile(ns, "broken", dict(REQUIRE_DIGEST, mode="Sometimes")))
        st = self.wait_status(ns, "broken", lambda s: s.get("conditions"))
        cond = st["conditions"][0]
        self.assertEqual((cond["status"], cond["reason"]), ("False", "Invalid"))
        self.assertIn("spec.mode", cond["message"])
        self.assertEqual(st["matchedPods"], 0)
        time.sleep(0.5)
        self.assertEqual(self.api.deletes(ns, "kept"), [])
        self.assertEqual(self.api.events(ns, "kept"), [])
        # Fixed: Ready, applied, and the pod goes.
        self.api.patch_profile(ns, "broken", {"mode": "Enforce"})
        self.wait_gone(ns, "kept")
        st = self.wait_status(ns, "broken", lambda s: s["conditions"][0]["status"] == "True")
        self.assertEqual(st["conditions"][0]["reason"], "Accepted")

    def test_profile_edited_into_invalid_keeps_last_valid(self):
        """SPEC §2: a profile that was valid and becomes invalid stays
        enforced at its last valid generation, Ready=False with the
        messages, and one Warning Event ProfileInvalid per invalid
        generation; a profile invalid from the start is not enforced and
        is reported the same way."""
        ns = "invalid-later"
        broken = {"runtime": {"egress": [{"cidr": "10.0.0.0/33", "ports": [443]}]}}
        wp = self.api.put(profile(ns, "edited", dict(REQUIRE_DIGEST, response={"action": "Delete"})))[0]
        self.wait_status(ns, "edited", lambda s: s.get("observedGeneration") == 1 and
                         s["conditions"][0]["status"] == "True")

        self.api.patch_profile(ns, "edited", broken)
        st = self.wait_status(ns, "edited", lambda s: s.get("observedGeneration") == 2)
        cond = st["conditions"][0]
        self.assertEqual((cond["status"], cond["reason"]), ("False", "Invalid"))
        self.assertIn('spec.runtime.egress[0].cidr: "10.0.0.0/33" is not a CIDR', cond["message"])
        self.assertIn("generation 2 is invalid, generation 1 stays enforced", cond["message"])
        ev = wait_for(lambda: self.api.events(ns, "edited", "ProfileInvalid"), 10,
                      what="ProfileInvalid Event")
        self.assertEqual(len(ev), 1, ev)
        ev = ev[0]
        self.assertEqual(ev["type"], "Warning")
        self.assertEqual(ev["reportingController"], "profileguard.io/controller")
        self.assertEqual((ev["regarding"]["kind"], ev["regarding"]["apiVersion"], ev["regarding"]["name"],
                          ev["regarding"]["uid"]),
                         ("WorkloadProfile", "profileguard.io/v1alpha1", "edited", wp["metadata"]["uid"]))
        self.assertIn("generation 2 is invalid, generation 1 stays enforced", ev["note"])
        self.assertIn('spec.runtime.egress[0].cidr: "10.0.0.0/33" is not a CIDR', ev["note"])

        # A drifted pod is still found, and acted on, under generation 1.
        bad = self.api.put(pod(ns, "drifted", image="nginx"))[0]
        self.wait_gone(ns, "drifted")
        self.assertEqual(self.api.deletes(ns, "drifted"), [(200, bad["metadata"]["uid"])])
        self.assert_event(self.wait_event(ns, "drifted", "AdmissionDrift"), "AdmissionDrift", "Delete",
                          bad, "edited", "requireDigest")
        self.wait_status(ns, "edited", lambda s: s.get("violations") == 1)

        # Status writes and re-judging do not write the Event again; the
        # next invalid generation does.
        self.api.put(pod(ns, "fine"))
        self.wait_status(ns, "edited", lambda s: s.get("matchedPods") == 1)
        time.sleep(1)
        self.assertEqual(len(self.api.events(ns, "edited", "ProfileInvalid")), 1)
        self.api.patch_profile(ns, "edited", {"runtime": {"egress": [{"cidr": "10.0.0.0/40"}]}})
        wait_for(lambda: len(self.api.events(ns, "edited", "ProfileInvalid")) == 2, 10,
                 what="a second ProfileInvalid Event")
        st = self.wait_status(ns, "edited", lambda s: s.get("observedGeneration") == 3)
        self.assertIn("generation 3 is invalid, generation 1 stays enforced", st["conditions"][0]["message"])

        # Invalid from its first generation: never enforced, reported.
        self.api.put(pod(ns, "other", image="nginx", labels={"app": "o"}))
        self.api.put(profile(ns, "never", dict(REQUIRE_DIGEST, **broken), selector={"matchLabels": {"app": "o"}}))
        st = self.wait_status(ns, "never", lambda s: s.get("conditions"))
        self.assertEqual((st["conditions"][0]["status"], st["matchedPods"]), ("False", 0))
        self.assertIn("spec.runtime.egress[0].cidr", st["conditions"][0]["message"])
        ev = wait_for(lambda: self.api.events(ns, "never", "ProfileInvalid"), 10, what="ProfileInvalid Event")
        self.assertIn("generation 1 is invalid, not enforced: ", ev[0]["note"])
        self.assertIn("spec.runtime.egress[0].cidr", ev[0]["note"])
        time.sleep(0.5)
        self.assertEqual(self.api.deletes(ns, "other"), [])

        # Deleted: dropped, not kept at its last valid generation.
        self.api.remove("WorkloadProfile", ns, "edited")
        time.sleep(0.5)
        self.api.put(pod(ns, "after", image="nginx"))
        time.sleep(1)
        self.assertEqual(self.api.deletes(ns, "after"), [])

    def test_exempt_pods_never_acted_on(self):
        self.api.put({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": "ignored", "labels": {"profileguard.io/ignore": "true"}}})
        self.api.put(pod("ignored", "free", image="nginx"), profile("ignored", "p", REQUIRE_DIGEST),
                     pod(OWN_NS, "me", image="nginx"), profile(OWN_NS, "p", REQUIRE_DIGEST),
                     pod("skipped", "flagged", image="nginx"), profile("skipped", "p", REQUIRE_DIGEST),
                     pod("exempt", "mirror", image="nginx",
                         annotations={"kubernetes.io/config.mirror": "abc"}),
                     pod("exempt", "leaving", image="nginx",
                         meta={"deletionTimestamp": rfc3339(time.time() + 600),
                               "finalizers": ["example.com/hold"]}),
                     pod("exempt", "barrier", image="nginx"),
                     profile("exempt", "p", REQUIRE_DIGEST))
        self.wait_gone("exempt", "barrier")
        time.sleep(1.0)
        for ns, name in (("ignored", "free"), (OWN_NS, "me"), ("skipped", "flagged"),
                         ("exempt", "mirror"), ("exempt", "leaving")):
            self.assertEqual(self.api.deletes(ns, name), [], f"{ns}/{name} was acted on")
            self.assertEqual(self.api.events(ns, name), [], f"{ns}/{name} got an Event")

    def test_bounds_pod_over_a_cap_skipped_others_judged(self):
        """The 1.2 MB pod that overflowed the pod decoder (17 projected
        volumes of 1,024 token sources, 1,100 env entries) crash-looped the
        controller through the informer, from any namespace, kube-system
        included.  Now the informer leaves it out: the controller keeps
        running, logs which pod and which cap, acts on neither copy (it
        cannot judge them), and still judges the pods beside them."""
        ns = "bounds"
        vols = [{"name": "t%d" % v, "projected": {"sources": [
            {"serviceAccountToken": {"path": "t%d" % i, "expirationSeconds": 3600}} for i in range(1024)]}}
            for v in range(17)]
        env = [{"name": "E%d" % i, "value": "v"} for i in range(1100)]

        def overflow(pns):
            return pod(pns, "overflow", image="nginx", spec={
                "volumes": vols, "containers": [{"name": "c", "image": "nginx", "env": env}]})
        self.assertGreater(len(json.dumps(overflow(ns))), 1_000_000)
        start = self.ctl.mark()
        self.api.put(overflow("kube-system"), overflow(ns), pod(ns, "bad", image="nginx"),
                     pod(ns, "good"), profile(ns, "digests", REQUIRE_DIGEST))
        self.wait_gone(ns, "bad")
        for pns in ("kube-system", ns):
            line = self.ctl.wait_log(lambda l: l.get("msg") == "pod not judged: refused by the pod decoder"
                                     and l.get("namespace") == pns and l.get("pod") == "overflow",
                                     what=f"{pns}/overflow refused", start=start)
            self.assertEqual(line["level"], "warn")
            self.assertEqual(line["reason"], "spec.volumes: more than 16384 projected sources in all "
                             "volumes together (profileguard's limit)")
        self.assertTrue(self.ctl.alive())
        self.assertEqual(self.ctl.http("/healthz")[0], 200)
        time.sleep(0.5)
        for pns in ("kube-system", ns):
            self.assertEqual(self.api.deletes(pns, "overflow"), [])
            self.assertEqual(self.api.events(pns, "overflow"), [])
            self.assertIsNotNone(self.api.one("Pod", pns, "overflow"))
        self.assertEqual(self.api.deletes(ns, "good"), [])

    def test_metrics_and_health(self):
        ns = "metrics"
        self.api.put(pod(ns, "m", image="nginx"), profile(ns, "p", REQUIRE_DIGEST))
        self.wait_gone(ns, "m")
        wait_for(lambda: self.ctl.metric("profileguard_actions_total", action="Delete",
                                         result="deleted") >= 1, 5, what="actions metric")
        self.assertGreaterEqual(self.ctl.metric("profileguard_drift_findings_total",
                                                reason="AdmissionDrift", mode="Enforce"), 1)
        self.assertEqual(self.ctl.metric("profileguard_leader"), 1)
        self.assertGreaterEqual(self.ctl.metric("profileguard_profiles"), 1)
        st, text = self.ctl.http("/metrics")
        self.assertIn('profileguard_watch_restarts_total{resource="pods"}', text)
        self.assertEqual(self.ctl.http("/healthz")[0], 200)
        self.assertEqual(self.ctl.http("/readyz")[0], 200)
        actions = [l for l in self.ctl.lines() if l.get("msg") == "drift action"
                   and l.get("pod") == "m"]
        self.assertTrue(actions)
        for k in ("namespace", "pod", "uid", "reason", "action", "result"):
            self.assertIn(k, actions[-1])


class TestRestoreFromStatus(Base):
    """SPEC §2 across a controller restart: the last valid generation is
    recorded in the profile's status, so a controller that starts while
    the profile is invalid still enforces it."""

    FLAGS = ["--max-actions-per-minute", "1000"]

    def test_restart_while_invalid_restores_from_status(self):
        ns = "restore"
        broken = {"runtime": {"egress": [{"cidr": "10.0.0.0/33", "ports": [443]}]}}
        wp = self.api.put(profile(ns, "edited", dict(REQUIRE_DIGEST, response={"action": "Delete"})))[0]
        # Recorded in the write that says generation 1 is observed.
        st = self.wait_status(ns, "edited", lambda s: s.get("enforcedGeneration") == 1)
        self.assertEqual(st["observedGeneration"], 1)
        self.assertEqual(st["enforcedSpec"], self.api.one("WorkloadProfile", ns, "edited")["spec"])
        patches = lambda: [r for r in self.api.requests("PATCH", f"/namespaces/{ns}/workloadprofiles/edited/status$")
                           if "enforcedSpec" in (r["body"].get("status") or {})]
        self.assertEqual(len(patches()), 1)

        # The controller goes; the spec is edited into an invalid one; a
        # new controller, which never saw generation 1, starts.
        self.assertEqual(self.ctl.stop(timeout=STOP_TIMEOUT), 0)
        self.api.patch_profile(ns, "edited", broken)
        type(self).ctl = controller(self.api, "--leader-elect=false", *self.FLAGS, name="ctl-restarted")
        st = self.wait_status(ns, "edited", lambda s: s.get("observedGeneration") == 2)
        cond = st["conditions"][0]
        self.assertEqual((cond["status"], cond["reason"]), ("False", "Invalid"))
        self.assertIn("generation 2 is invalid, generation 1 stays enforced (restored from status.enforcedSpec)",
                      cond["message"])
        self.assertIn('spec.runtime.egress[0].cidr: "10.0.0.0/33" is not a CIDR', cond["message"])
        # Status still records generation 1, untouched.
        self.assertEqual((st["enforcedGeneration"], st["enforcedSpec"]["images"]), (1, {"requireDigest": True}))
        self.assertEqual(len(patches()), 1, [(r.get("time"), r["body"]) for r in patches()])
        line = self.ctl.wait_log(lambda l: l.get("profile") == "edited" and
                                 l.get("msg", "").startswith("invalid WorkloadProfile"))
        self.assertEqual(line["msg"], "invalid WorkloadProfile: its last valid generation, restored from "
                         "status.enforcedSpec, stays applied")
        self.assertEqual((line["generation"], line["enforced_generation"]), ("2", "1"))
        ev = wait_for(lambda: self.api.events(ns, "edited", "ProfileInvalid"), 10, what="ProfileInvalid Event")
        self.assertIn("generation 2 is invalid, generation 1 stays enforced", ev[0]["note"])

        # A drifted pod is found, and acted on, under the restored generation.
        bad = self.api.put(pod(ns, "drifted", image="nginx"))[0]
        self.wait_gone(ns, "drifted")
        self.assertEqual(self.api.deletes(ns, "drifted"), [(200, bad["metadata"]["uid"])])
        self.assert_event(self.wait_event(ns, "drifted", "AdmissionDrift"), "AdmissionDrift", "Delete",
                          bad, "edited", "requireDigest")

        # Valid again: the current spec wins, and status follows it.
        self.api.patch_profile(ns, "edited", {"runtime": None, "mode": "Audit"})
        st = self.wait_status(ns, "edited", lambda s: s.get("enforcedGeneration") == 3)
        self.assertEqual(st["conditions"][0]["status"], "True")
        self.assertEqual(st["enforcedSpec"]["mode"], "Audit")
        self.assertEqual(st["enforcedSpec"], self.api.one("WorkloadProfile", ns, "edited")["spec"])
        self.api.put(pod(ns, "audited", image="nginx"))
        self.wait_event(ns, "audited", "AdmissionDrift")
        self.assertEqual(self.api.deletes(ns, "audited"), [])
        self.assertEqual(wp["metadata"]["uid"], self.api.one("WorkloadProfile", ns, "edited")["metadata"]["uid"])


    def test_spec_over_the_cap_not_recorded(self):
        """A spec over 256 KiB serialized is not recorded, and Ready says
        so: over the cap is never a silent truncation."""
        ns = "restore-big"
        big = ["/" + "a" * 3999 for _ in range(70)]     # about 280 KiB serialized
        self.api.put(profile(ns, "big", dict(REQUIRE_DIGEST, runtime={"executables": big})))
        st = self.wait_status(ns, "big", lambda s: s.get("enforcedGeneration") == 1)
        self.assertNotIn("enforcedSpec", st)
        cond = st["conditions"][0]
        self.assertEqual((cond["status"], cond["reason"]), ("True", "Accepted"))
        self.assertRegex(cond["message"], r"^status\.enforcedSpec not recorded: the spec is 28\d{4} bytes, "
                         r"over the cap of 262144: ")


class TestDryRun(Base):
    FLAGS = ["--dry-run"]

    def test_dry_run_writes_no_pod(self):
        ns = "dry"
        d = self.api.put(pod(ns, "would-delete", image="nginx", labels={"app": "d"}))[0]
        e = self.api.put(pod(ns, "would-evict", image="nginx", labels={"app": "e"}))[0]
        self.api.put(profile(ns, "del", REQUIRE_DIGEST, selector={"matchLabels": {"app": "d"}}),
                     profile(ns, "evict", dict(REQUIRE_DIGEST, response={"action": "Evict"}),
                             selector={"matchLabels": {"app": "e"}}))
        ev = self.wait_event(ns, "would-delete", "AdmissionDrift")
        self.assert_event(ev, "AdmissionDrift", "Delete", d, "del", "no @sha256 digest")
        self.assertTrue(ev["note"].startswith("dry-run:"), ev["note"])
        ev = self.wait_event(ns, "would-evict", "AdmissionDrift")
        self.assert_event(ev, "AdmissionDrift", "Evict", e, "evict", "no @sha256 digest")
        self.assertIn("dry-run", ev["note"])
        self.wait_status(ns, "del", lambda s: s.get("violations") == 1)
        self.wait_status(ns, "evict", lambda s: s.get("violations") == 1)
        time.sleep(0.5)
        self.assertEqual(self.api.requests("DELETE", f"/namespaces/{ns}/pods"), [])
        self.assertEqual(self.api.requests("POST", "/eviction$"), [])
        self.assertGreaterEqual(self.ctl.metric("profileguard_actions_total", action="Delete",
                                                result="dry_run"), 1)


class TestThrottle(Base):
    FLAGS = ["--max-actions-per-minute", "2"]

    def test_bucket_throttles(self):
        ns = "throttle"
        self.api.put(*[pod(ns, f"p{i}", image="nginx") for i in range(4)])
        self.api.put(profile(ns, "digests", REQUIRE_DIGEST))
        wait_for(lambda: len([p for p in self.api.objects("Pod", ns)]) == 2, 10, what="two deleted")
        throttled = wait_for(lambda: self.api.events(ns, reason="ActionThrottled")
                             if len(self.api.events(ns, reason="ActionThrottled")) == 2 else None,
                             10, what="two ActionThrottled Events")
        for ev in throttled:
            self.assertEqual(ev["action"], "Delete")
            self.assertIn("--max-actions-per-minute", ev["note"])
        time.sleep(1.0)
        self.assertEqual(len(self.api.objects("Pod", ns)), 2, "the bucket did not hold")
        self.assertEqual(len(self.api.requests("DELETE", f"/namespaces/{ns}/pods/")), 2)
        self.assertGreaterEqual(self.ctl.metric("profileguard_actions_total", action="Delete",
                                                result="throttled"), 2)


class TestFaults(Base):
    """API faults: the informers recover and nothing is lost or done twice.

    Every pods watch is cut after one event for the whole class (a fault
    only applies to requests that start after it is set, so it is set
    before the controller starts)."""

    FLAGS = ["--max-actions-per-minute", "1000"]
    WATCH = r"^/api/v1/pods\?watch"

    @classmethod
    def setUpClass(cls):
        cls.api = standin()
        cls.api.faults({"reset_watch": {"after_events": 1, "count": -1, "path_regex": cls.WATCH}})
        cls.ctl = controller(cls.api, "--leader-elect=false", *cls.FLAGS)

    def drifting(self, ns, n, prefix):
        return self.api.put(*[pod(ns, f"{prefix}{i}", image="nginx") for i in range(n)])

    def assert_each_deleted_once(self, ns, pods):
        for p in pods:
            name = p["metadata"]["name"]
            self.wait_gone(ns, name, timeout=20)
            ok = [d for d in self.api.deletes(ns, name) if d[0] == 200]
            self.assertEqual(ok, [(200, p["metadata"]["uid"])], f"{name}: {self.api.deletes(ns, name)}")
            self.assertEqual(len(self.api.events(ns, name, "AdmissionDrift")), 1, name)

    def test_watch_reset_410_and_write_errors(self):
        ns = "faults"
        self.api.put(profile(ns, "digests", REQUIRE_DIGEST))
        self.wait_status(ns, "digests", lambda s: s.get("conditions"))

        # Watches cut mid-stream after every event.
        batch1 = self.drifting(ns, 3, "reset-")
        self.assert_each_deleted_once(ns, batch1)
        wait_for(lambda: self.ctl.metric("profileguard_watch_restarts_total", resource="pods") >= 3,
                 5, what="watch restarts counted")

        # History compacted while no watch could be opened: the next one
        # gets 410 and the informer lists again.
        self.api.faults({"reset": {"count": -1, "path_regex": self.WATCH}})
        self.api.put(pod(ns, "trigger", labels={"app": "other"}))
        time.sleep(0.5)
        batch2 = self.drifting(ns, 3, "compacted-")
        self.api.compact()
        time.sleep(0.5)
        self.api.faults({"reset": None})
        self.assert_each_deleted_once(ns, batch2)
        lists = self.api.requests("GET", r"^/api/v1/pods$")
        self.assertGreaterEqual(len([r for r in lists if "watch" not in r["rawQuery"]]), 2,
                                "no relist after 410")

        # 429 and 500 on the writes themselves, and a slow API server.
        self.api.faults({"status_500": {"count": 2, "path_regex": f"/namespaces/{ns}/pods/w500$"},
                         "status_429": {"count": 2, "retry_after": 1,
                                        "path_regex": f"/namespaces/{ns}/events"},
                         "slow": {"delay_ms": 1500, "count": 3,
                                  "path_regex": f"/namespaces/{ns}/pods/wslow$"}})
        batch3 = self.api.put(pod(ns, "w500", image="nginx"), pod(ns, "wslow", image="nginx"))
        self.assert_each_deleted_once(ns, batch3)
        self.assertEqual([s for s, _ in self.api.deletes(ns, "w500")], [500, 500, 200])
        self.assertEqual(len([r for r in self.api.requests("POST", f"/namespaces/{ns}/events$")
                              if r["status"] == 429]), 2)
        self.api.faults({"status_500": None, "status_429": None, "slow": None})

        self.wait_status(ns, "digests", lambda s: s.get("violations") == 8)
        self.assertEqual(self.ctl.http("/healthz")[0], 200)


class TestFinishedPods(Base):
    """Pods that have finished (a Job's, Succeeded or Failed): their spec and
    what nodes report about them are not acted on, so a completed Job keeps
    its history; but their bound token stays valid until the pod object goes,
    so the audit log still gets them deleted.  Audit events are posted to the
    controller's telemetry endpoint as the API server's audit backend would."""

    AUDIT_USER = "kube-apiserver-audit"
    NS = "jobs"

    @classmethod
    def setUpClass(cls):
        tokens = {"admin-token": {"username": "admin", "groups": ["system:masters"]},
                  "audit-token": {"username": cls.AUDIT_USER}}
        cls.api = standin(tokens=tokens)
        # No --telemetry-client-ca: senders authenticate with tokens only.
        cls.ctl = controller(cls.api, "--leader-elect=false", "--max-actions-per-minute", "1000",
                             "--owner-backoff", "3s",
                             "--telemetry-listen", "127.0.0.1:0",
                             "--telemetry-tls-cert", CERTS.server[0],
                             "--telemetry-tls-key", CERTS.server[1],
                             "--telemetry-allowed-users", cls.AUDIT_USER)
        cls.tport = cls.ctl.port_of("telemetry listening", 10)

    def finished_pod(self, name, phase, ip="10.244.3.9", owner=None):
        p = pod(self.NS, name, image="nginx", owner=owner)     # a tag: AdmissionDrift
        p["status"] = {"phase": phase, "startTime": rfc3339(time.time() - 600), "podIP": ip,
                       "podIPs": [{"ip": ip}],
                       "containerStatuses": [{"name": "c", "ready": False, "state": {
                           "terminated": {"exitCode": 0 if phase == "Succeeded" else 1}}}]}
        return p

    def post(self, path, body):
        st, out, _ = h.telemetry_post(self.tport, CERTS, path, body, token="audit-token")
        self.assertEqual(st, 200, out)
        return out

    def audit_replay(self, p, from_ip, received=None):
        """One audit event: @p's bound token used from @from_ip, received
        by the API server at @received (default now)."""
        now = rfc3339(received)
        ns = p["metadata"]["namespace"]
        ev = {"level": "Metadata", "auditID": os.urandom(8).hex(), "stage": "ResponseComplete",
              "requestURI": f"/api/v1/namespaces/{ns}/configmaps", "verb": "list",
              "user": {"username": f"system:serviceaccount:{ns}:default",
                       "groups": ["system:serviceaccounts", "system:authenticated"],
                       "extra": {"authentication.kubernetes.io/node-name": ["node-a"],
                                 "authentication.kubernetes.io/pod-name": [p["metadata"]["name"]],
                                 "authentication.kubernetes.io/pod-uid": [p["metadata"]["uid"]]}},
              "sourceIPs": [from_ip], "userAgent": "curl/8",
              "objectRef": {"resource": "configmaps", "namespace": ns, "apiVersion": "v1"},
              "responseStatus": {"metadata": {}, "code": 200},
              "requestReceivedTimestamp": now, "stageTimestamp": now}
        return json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
                           "metadata": {}, "items": [ev]})

    def test_1_spec_sweep_and_node_reports_spare_finished_pods(self):
        ns = self.NS
        done = self.finished_pod("job-a-done", "Succeeded")
        failed = self.finished_pod("job-b-failed", "Failed")
        running = pod(ns, "job-c-running", image="nginx")
        done, failed, running = self.api.put(done, failed, running)
        self.api.put(profile(ns, "digests", REQUIRE_DIGEST))
        # The same sweep judges all three: the running one goes...
        wait_for(lambda: self.api.one("Pod", ns, "job-c-running") is None, 10,
                 what="the running drifted pod deleted")
        self.assertEqual(self.api.deletes(ns, "job-c-running"), [(200, running["metadata"]["uid"])])
        wait_for(lambda: self.api.events(ns, "job-c-running", "AdmissionDrift"), 10,
                 what="its AdmissionDrift Event")
        # ...the finished ones stay, with no Event either: there is nothing
        # running to hold to a profile.
        time.sleep(1.0)
        for p in (done, failed):
            name = p["metadata"]["name"]
            self.assertEqual(self.api.deletes(ns, name), [], f"{name} deleted")
            self.assertEqual(self.api.events(ns, name), [], f"{name} got an Event")
            self.assertEqual(self.api.one("Pod", ns, name)["metadata"]["uid"], p["metadata"]["uid"])
        # A node's report about a finished pod is stale: ignored.
        exe = json.dumps({"kind": "exec", "time": rfc3339(), "node": "node-a",
                          "pod": {"namespace": ns, "name": "job-b-failed",
                                  "uid": failed["metadata"]["uid"]},
                          "container": "c", "exe": "/bin/sh"})
        out = self.post("/telemetry/v1/events", exe)
        self.assertEqual((out["accepted"], out["ignored"]), (0, 1), out)
        time.sleep(0.5)
        self.assertEqual(self.api.deletes(ns, "job-b-failed"), [])
        self.assertGreaterEqual(self.ctl.metric("profileguard_telemetry_events_total",
                                                source="events", result="ignored"), 1)

    def test_2_audit_token_replay_deletes_a_finished_pod(self):
        ns = self.NS
        # TokenReplay is an identity reason: judged for profiles with an
        # identity section only (SPEC §4), not by "digests".
        self.api.put(profile(ns, "tokens", {"mode": "Enforce", "identity": {}}))
        p = self.api.put(self.finished_pod("job-d-done", "Succeeded"))[0]
        # Until the controller's cache has it, the event is unattributed.
        wait_for(lambda: self.post("/telemetry/v1/audit", self.audit_replay(p, "203.0.113.50"))
                 ["accepted"], 10, interval=0.1, what="the audit event attributed")
        wait_for(lambda: self.api.one("Pod", ns, "job-d-done") is None, 10,
                 what="the finished pod deleted for its replayed token")
        self.assertEqual([d for d in self.api.deletes(ns, "job-d-done") if d[0] == 200],
                         [(200, p["metadata"]["uid"])])
        ev = wait_for(lambda: self.api.events(ns, "job-d-done", "TokenReplay"), 10,
                      what="TokenReplay Event")[0]
        self.assertEqual(ev["action"], "Delete")
        self.assertEqual(ev["regarding"]["uid"], p["metadata"]["uid"])
        self.assertIn('used from "203.0.113.50", not from the pod\'s address 10.244.3.9', ev["note"])
        self.assertEqual(self.api.events(ns, "job-d-done", "AdmissionDrift"), [])

    def test_4_token_replay_spares_compliant_pods(self):
        # A compliant pod's calls reach the API server from its node's
        # address (SNAT), or come from a pod with no IP yet: not replays.
        # After a pod is deleted, a call received after its
        # deletionTimestamp is a replay; a late audit batch about a call it
        # made 20 s before the deletion is not.
        ns = "replay"
        self.api.put(profile(ns, "tokens", {"mode": "Enforce", "identity": {}}))
        snat = pod(ns, "snat", ip="10.244.4.2")
        snat["status"]["hostIP"] = "192.168.7.4"
        snat["status"]["hostIPs"] = [{"ip": "192.168.7.4"}]
        fresh = pod(ns, "fresh")
        fresh["status"] = {"phase": "Pending"}
        late = pod(ns, "late", ip="10.244.4.3")
        snat, fresh, late = self.api.put(snat, fresh, late)
        for p, ip in ((snat, "192.168.7.4"), (fresh, "10.244.4.9"), (late, "10.244.4.3")):
            wait_for(lambda: self.post("/telemetry/v1/audit", self.audit_replay(p, ip))["accepted"], 10,
                     interval=0.1, what=f"the audit event of {p['metadata']['name']} attributed")
        # Deleted as the API server does it: deletionTimestamp (the watch
        # shows it), then the object goes.
        deleted_at = time.time() - 30
        self.api.put(dict(late, metadata=dict(late["metadata"], deletionTimestamp=rfc3339(deleted_at))))
        self.api.remove("Pod", ns, "late")
        after = self.audit_replay(late, "10.244.4.3", received=deleted_at + 5)

        def replayed():
            self.post("/telemetry/v1/audit", after)
            return self.api.events(ns, "late", "TokenReplay")
        ev = wait_for(replayed, 10, interval=0.3, what="TokenReplay after the deletion")[0]
        self.assertEqual(ev["action"], "Record")
        self.assertIn("5 s after the pod was gone", ev["note"])
        seen = self.api.events(ns, "late", "TokenReplay")
        # The gone pod is known now: a late batch about a call made before
        # its deletion, from its address, adds nothing.
        out = self.post("/telemetry/v1/audit", self.audit_replay(late, "10.244.4.3", received=deleted_at - 20))
        self.assertEqual(out["accepted"], 1, out)
        time.sleep(1.5)
        self.assertEqual(self.api.events(ns, "late", "TokenReplay"), seen)
        for p in (snat, fresh):
            name = p["metadata"]["name"]
            self.assertEqual(self.api.events(ns, name, "TokenReplay"), [], f"{name}: TokenReplay")
            self.assertEqual(self.api.deletes(ns, name), [])
            self.assertIsNotNone(self.api.one("Pod", ns, name))

    def test_3_pod_that_finishes_before_the_action_is_kept(self):
        # The second drifting pod of one owner waits out the owner backoff
        # (3 s); it finishes meanwhile, and the action is dropped.
        ns = "jobs-late"
        owner = ("Job", "nightly", "job-uid-0001")
        first = self.api.put(pod(ns, "nightly-1", image="nginx", owner=owner))[0]
        self.api.put(profile(ns, "digests", REQUIRE_DIGEST))
        wait_for(lambda: self.api.one("Pod", ns, "nightly-1") is None, 10, what="first pod deleted")
        second = self.api.put(pod(ns, "nightly-2", image="nginx", owner=owner))[0]
        wait_for(lambda: self.api.events(ns, "nightly-2", "DriftRepeated"), 10,
                 what="DriftRepeated: the action waits")
        done = dict(second, status={"phase": "Succeeded", "startTime": rfc3339(time.time() - 60)})
        self.api.put(done)
        time.sleep(5.0)
        cur = self.api.one("Pod", ns, "nightly-2")
        self.assertIsNotNone(cur, "deleted after it finished")
        self.assertEqual(cur["metadata"]["uid"], second["metadata"]["uid"])
        self.assertEqual(self.api.deletes(ns, "nightly-2"), [])
        self.assertEqual(self.api.deletes(ns, "nightly-1"), [(200, first["metadata"]["uid"])])
        self.assertGreaterEqual(self.ctl.metric("profileguard_actions_total", action="Delete",
                                                result="finished"), 1)


class TestKubeApiFlags(unittest.TestCase):
    """--kube-api-qps and --kube-api-burst: refused when out of range, and the
    API client keeps to them."""

    def run_bad(self, *args, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("PROFILEGUARD_")}
        e.update(env or {})
        return subprocess.run([ARGS.binary, "controller", "--kubeconfig", "/nonexistent"] + list(args),
                              capture_output=True, text=True, env=e, timeout=20)

    def test_invalid_values_refused(self):
        cases = [
            (["--kube-api-qps", "0"], None, "--kube-api-qps must be a number above 0"),
            (["--kube-api-qps", "-5"], None, "--kube-api-qps must be a number above 0"),
            (["--kube-api-qps=fast"], None, '"fast" is not a number'),
            (["--kube-api-qps", "inf"], None, '"inf" is not a number'),
            (["--kube-api-burst", "0"], None, "--kube-api-burst must be 1.."),
            (["--kube-api-burst", "2.5"], None, '"2.5" is not an integer'),
            ([], {"PROFILEGUARD_KUBE_API_QPS": "0"}, "--kube-api-qps must be a number above 0"),
            ([], {"PROFILEGUARD_KUBE_API_BURST": "-1"}, "--kube-api-burst must be 1.."),
        ]
        for args, env, want in cases:
            with self.subTest(args=args, env=env):
                p = self.run_bad(*args, env=env)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(want, p.stderr)
        text = subprocess.run([ARGS.binary, "help", "controller"], capture_output=True,
                              text=True).stdout
        self.assertIn("--kube-api-qps QPS", text)
        self.assertIn("(default 50) [$PROFILEGUARD_KUBE_API_QPS]", text)
        self.assertIn("(default 100) [$PROFILEGUARD_KUBE_API_BURST]", text)

    def test_requests_are_paced(self):
        # 2 requests a second and no burst: the start-up lists and watches
        # (five informers) spread over seconds instead of one.
        api = standin()
        ctl = None
        try:
            ctl = controller(api, "--leader-elect=false", "--kube-api-qps", "2",
                             "--kube-api-burst", "1", wait_ready=False)
            mine = lambda: [r for r in api.requests()
                            if (r.get("headers") or {}).get("User-Agent", "").startswith("profileguard/")]
            wait_for(lambda: len(mine()) >= 10, 20, interval=0.2, what="lists and watches")
            wait_for(lambda: ctl.http("/readyz")[0] == 200, 10, what="ready")
            per_second = {}
            for r in mine():
                per_second[r["time"]] = per_second.get(r["time"], 0) + 1
            # A bucket of 1 refilled at 2/s lets 3 through in any second.
            self.assertLessEqual(max(per_second.values()), 3, per_second)
            # Ten requests at 2/s take 4.5 s; unpaced they all go in a
            # few milliseconds (the stand-in stamps whole seconds).
            secs = sorted(datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").timestamp()
                          for t in per_second)
            self.assertGreaterEqual(secs[-1] - secs[0], 3, per_second)
            self.assertTrue([l for l in ctl.lines() if l.get("msg") == "controller starting"
                             and l.get("kube_api_qps") == "2" and l.get("kube_api_burst") == "1"])
        finally:
            try:
                self.assertIsNotNone(ctl, "the controller did not start")
                self.assertEqual(ctl.stop(timeout=STOP_TIMEOUT), 0)
            finally:
                api.stop()


class TestLeaderElection(unittest.TestCase):
    LEASE = ["--leader-elect", "--lease-duration", "3s", "--renew-deadline", "2s",
             "--retry-period", "500ms", "--max-actions-per-minute", "1000"]

    def setUp(self):
        self.api = standin()
        self.ctls = []

    def tearDown(self):
        try:
            for c in self.ctls:
                c.stop(timeout=10)
        finally:
            self.api.stop()

    def start(self, name):
        c = controller(self.api, *self.LEASE, name=name)
        self.ctls.append(c)
        return c

    def holder(self):
        lease = self.api.one("Lease", OWN_NS, "profileguard-controller")
        return ((lease or {}).get("spec") or {}).get("holderIdentity")

    def test_one_leader_failover_and_release(self):
        a, b = self.start("ctl-a"), self.start("ctl-b")
        first = wait_for(self.holder, 10, what="a leader")
        leader, follower = (a, b) if first == "ctl-a" else (b, a)
        wait_for(lambda: leader.metric("profileguard_leader") == 1, 5, what="leader gauge")
        self.assertEqual(follower.metric("profileguard_leader"), 0)

        ns = "elect"
        self.api.put(profile(ns, "digests", REQUIRE_DIGEST))
        p1 = self.api.put(pod(ns, "one", image="nginx"))[0]
        wait_for(lambda: self.api.one("Pod", ns, "one") is None, 10, what="pod one deleted")
        ev = wait_for(lambda: self.api.events(ns, "one", "AdmissionDrift"), 10, what="event")[0]
        self.assertEqual(ev["reportingInstance"], leader.name)

        # The leader dies without a word; the follower takes over within a
        # lease duration (plus a retry period) of its last renewal.
        killed = time.monotonic()
        leader.stop(signal.SIGKILL, timeout=STOP_TIMEOUT)
        p2 = self.api.put(pod(ns, "two", image="nginx"))[0]
        wait_for(lambda: self.holder() == follower.name, 6, interval=0.05, what="takeover")
        took = time.monotonic() - killed
        self.assertLess(took, 3.0 + 1.2 + 0.5, f"takeover took {took:.1f} s")
        wait_for(lambda: self.api.one("Pod", ns, "two") is None, 10, what="pod two deleted")
        for p in (p1, p2):
            ok = [d for d in self.api.deletes(ns, p["metadata"]["name"]) if d[0] == 200]
            self.assertEqual(ok, [(200, p["metadata"]["uid"])])
        wait_for(lambda: follower.metric("profileguard_leader") == 1, 5, what="new leader gauge")

        # A clean stop releases the Lease: a third replica takes over at once.
        c = self.start("ctl-c")
        time.sleep(1.0)
        self.assertEqual(self.holder(), follower.name)
        released = time.monotonic()
        self.assertEqual(follower.stop(timeout=STOP_TIMEOUT), 0)
        wait_for(lambda: self.holder() == "ctl-c", 3, interval=0.05, what="takeover after release")
        self.assertLess(time.monotonic() - released, 2.5)
        puts = self.api.requests("PUT", "/leases/profileguard-controller$")
        self.assertTrue([r for r in puts if not (r["body"].get("spec") or {}).get("holderIdentity")],
                        "the Lease was not released")
        p3 = self.api.put(pod(ns, "three", image="nginx"))[0]
        wait_for(lambda: self.api.one("Pod", ns, "three") is None, 10, what="pod three deleted")
        self.assertEqual([d for d in self.api.deletes(ns, "three") if d[0] == 200],
                         [(200, p3["metadata"]["uid"])])
        # Never two Events for one finding, whoever led.
        for name in ("one", "two", "three"):
            self.assertEqual(len(self.api.events(ns, name, "AdmissionDrift")), 1, name)
        self.assertEqual(c.metric("profileguard_leader"), 1)


if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__, prefix="pg-ctl-")
    sys.exit(h.run_tests(ARGS, argv))
