#!/usr/bin/env python3
"""Fault scenario 1: the API server misbehaves while the controller runs.

One `profileguard controller` (no leader election) judges 600 compliant pods
(enough for two list pages, so continue tokens exist) and drifted pods under
an Enforce profile whose response is Delete.  Phase by phase, the stand-in's
fault knobs are turned on (5xx and 429 on lists, watches, DELETEs and Event
POSTs; connection resets; slow answers; watches cut after each event; history
compacted so the next watch gets an HTTP 410; continue tokens expiring on the
relist; watch events split across TLS records), and more drifted and
compliant pods are created while they are on.  Throughout:

  - every drifted pod gets exactly one DELETE answered 200, and every DELETE
    carries preconditions.uid equal to the pod's UID;
  - every drifted pod gets its AdmissionDrift Event, once;
  - no compliant pod is ever the target of a DELETE or an Event;
  - the controller stays alive, is ready once the faults clear, and counts
    its watch restarts.

usage: api_faults.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pgharness as h  # noqa: E402

ARGS = None
NS = "shop"
PODS_WATCH = r"^/api/v1/pods\?watch"
PODS_LIST = r"^/api/v1/pods\?limit"
DELETES = rf"^/api/v1/namespaces/{NS}/pods/[^/?]+$"
EVENTS = rf"^/apis/events.k8s.io/v1/namespaces/{NS}/events$"
FILLER = 600


class ApiFaults(unittest.TestCase):
    """The phases run in order (test_1 ... test_6) on one controller."""

    drifted = []      # stored pods that break the profile
    compliant = []    # stored pods that do not

    @classmethod
    def setUpClass(cls):
        cls.slow = 3 if h.sanitized(ARGS.binary) else 1
        cls.certs = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))
        seed = [h.namespace("profileguard"), h.namespace(NS), h.service_account(NS, "default"),
                h.profile(NS, "digests", {"mode": "Enforce", "images": {"requireDigest": True},
                                          "response": {"action": "Delete"}})]
        seed += [h.pod(NS, f"filler-{i:03d}") for i in range(FILLER)]
        seed += [h.pod(NS, f"seed-d{i}", image="nginx") for i in range(3)]
        cls.api = h.Standin(ARGS.srcdir, cls.certs, ARGS.workdir, seed=seed)
        # A fault only applies to requests that start after it is set, and a
        # watch lives for minutes: from the start, every pods watch is cut
        # after two events, so the knobs of each phase meet new watches.
        cls.api.faults({"reset_watch": {"after_events": 2, "count": -1, "path_regex": PODS_WATCH}})
        stored = cls.api.objects("Pod", NS)
        cls.compliant = [p for p in stored if p["metadata"]["name"].startswith("filler-")]
        cls.drifted = [p for p in stored if p["metadata"]["name"].startswith("seed-d")]
        cls.ctl = h.controller(ARGS.binary, cls.api, ARGS.workdir, "ctl",
                               ["--leader-elect=false", "--max-actions-per-minute", "10000"])

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.ctl.stop()
            assert rc == 0, f"controller exited {rc}"
        finally:
            cls.api.stop()

    # -- helpers ---------------------------------------------------------------------

    def create(self, phase, n_drifted, n_compliant):
        """New drifted and compliant pods, created while the phase's faults are on."""
        items = [h.pod(NS, f"{phase}-d{i}", image="nginx") for i in range(n_drifted)]
        items += [h.pod(NS, f"{phase}-c{i}") for i in range(n_compliant)]
        stored = self.api.put(*items)
        d, c = stored[:n_drifted], stored[n_drifted:]
        ApiFaults.drifted += d
        ApiFaults.compliant += c
        return d, c

    def assert_deleted_once(self, pods, timeout=30):
        """Each pod is gone and exactly one DELETE with its UID was answered
        200; no DELETE of it lacked the UID precondition."""
        for p in pods:
            name, uid = p["metadata"]["name"], h.uid_of(p)
            h.wait_for(lambda: self.api.one("Pod", NS, name) is None, timeout * self.slow,
                       what=f"drifted pod {name} deleted")
            ds = self.api.pod_deletes(NS, name)
            self.assertEqual([d["uid"] for d in ds if d["status"] == 200], [uid],
                             f"{name}: DELETEs {ds}")
            self.assertEqual({d["uid"] for d in ds}, {uid},
                             f"{name}: a DELETE without (or with another) UID precondition: {ds}")

    def assert_one_event(self, pods, timeout=30, scaled=True):
        for p in pods:
            name, uid = p["metadata"]["name"], h.uid_of(p)
            evs = h.wait_for(lambda: self.api.events(NS, name, "AdmissionDrift", uid=uid),
                             timeout * (self.slow if scaled else 1),
                             what=f"AdmissionDrift Event of {name}")
            self.assertEqual(len(evs), 1, f"{name}: {evs}")
            self.assertEqual(evs[0]["action"], "Delete")
            self.assertIn("has no @sha256 digest", evs[0]["note"])

    def assert_alive(self):
        self.assertTrue(self.ctl.alive(), "the controller died:\n" + self.ctl.text()[-3000:])

    # -- phases ------------------------------------------------------------------------

    def test_1_seeded_drift_deleted(self):
        self.assert_deleted_once(self.drifted)
        self.assert_one_event(self.drifted)

    def test_2_errors_and_throttling(self):
        """500s on the pods list and watch, watches cut after every event,
        429 with Retry-After on DELETEs and Event POSTs."""
        before = self.ctl.metric("profileguard_watch_restarts_total", resource="pods")
        self.api.faults({
            "reset_watch": {"after_events": 1, "count": -1, "path_regex": PODS_WATCH},
            "status_500": {"count": 3, "path_regex": rf"{PODS_WATCH}|{PODS_LIST}"},
            "status_429": {"count": 4, "retry_after": 1, "path_regex": rf"{DELETES}|{EVENTS}"},
        })
        d, c = self.create("p2", 4, 3)
        self.assert_deleted_once(d)
        self.assert_one_event(d)
        h.wait_for(lambda: self.ctl.metric("profileguard_watch_restarts_total", resource="pods")
                   > before, 10 * self.slow, what="pods watch restarts counted")
        answered = [r["status"] for r in self.api.requests(path_regex=rf"{DELETES}|{EVENTS}")
                    if r["status"] == 429]
        self.assertEqual(len(answered), 4, "the 429s were not all met")
        h.wait_for(lambda: "status_500" not in self.api.faults({}), 10 * self.slow,
                   what="the 500s on the pods list and watch met")
        self.assertTrue([r for r in self.api.requests("GET", r"^/api/v1/pods$")
                         if r["status"] == 500])
        self.assert_alive()

    def test_3_resets_and_slow_answers(self):
        """Connections reset (no answer at all) on pod DELETEs and Event POSTs,
        slow answers on DELETEs and on the pods list."""
        self.api.clear_faults()
        self.api.faults({
            "reset_watch": {"after_events": 2, "count": -1, "path_regex": PODS_WATCH},
            "reset": {"count": 4, "path_regex": rf"{DELETES}|{EVENTS}"},
            "slow": {"delay_ms": 1500, "count": 3, "path_regex": rf"{DELETES}|{PODS_LIST}"},
        })
        d, c = self.create("p3", 4, 3)
        self.assert_deleted_once(d)
        self.assert_one_event(d)
        self.assertNotIn("reset", self.api.faults({}), "the resets were not all met")
        resets = [r for r in self.api.requests(path_regex=rf"{DELETES}|{EVENTS}")
                  if r["status"] == 0]
        self.assertEqual(len(resets), 4)
        self.assert_alive()

    def test_4_watch_refused(self):
        """New pods watches reset before any answer: the informer retries
        (backing off) and misses nothing that was created meanwhile."""
        self.api.faults({"reset": {"count": 3, "path_regex": PODS_WATCH}, "slow": None})
        d, c = self.create("p4", 3, 3)
        self.assert_deleted_once(d, timeout=45)
        self.assert_one_event(d)
        self.assertNotIn("reset", self.api.faults({}), "the watch resets were not all met")
        self.assert_alive()

    def test_5_compaction_410_and_expired_continue(self):
        """The pods watch is cut and cannot come back while pods drift and the
        history is compacted: the next watch gets HTTP 410, and the relist
        that follows meets connection resets and expired continue tokens
        until they are allowed again.  The new watch's events arrive in
        7-byte TLS records."""
        self.api.clear_faults()
        restarts = self.ctl.metric("profileguard_watch_restarts_total", resource="pods")
        # The watch open now started under test_3's reset_watch (after 2
        # events): two changes cut it, and no new watch is let through.
        self.api.faults({"reset": {"count": -1, "path_regex": PODS_WATCH}})
        ApiFaults.compliant += self.api.put(h.pod(NS, "p5-other-0", labels={"app": "other"}),
                                            h.pod(NS, "p5-other-1", labels={"app": "other"}))
        h.wait_for(lambda: not [w for w in self.api.watches() if w["resource"] == "pods"],
                   10 * self.slow, what="the pods watch cut")
        d, c = self.create("p5", 3, 3)
        self.api.compact()
        self.api.faults({"watch_410_http": True, "expire_continue": True, "split_chunks": True,
                         "reset": {"count": 2, "path_regex": PODS_LIST}})
        h.wait_for(lambda: [r for r in self.api.requests("GET", r"^/api/v1/pods$")
                            if "watch=" in r["rawQuery"] and r["status"] == 410],
                   20 * self.slow, what="a pods watch answered 410")
        h.wait_for(lambda: [r for r in self.api.requests("GET", r"^/api/v1/pods$")
                            if "continue=" in r["rawQuery"] and r["status"] == 410],
                   20 * self.slow, what="an expired continue token on the relist")
        self.assertNotIn("reset", self.api.faults({}), "the list resets were not met")
        self.assertTrue([r for r in self.api.requests("GET", r"^/api/v1/pods$")
                         if "limit=" in r["rawQuery"] and r["status"] == 0])
        # No compliant pod was deleted from a half list.
        self.assertEqual([x for x in self.api.pod_deletes(NS)
                          if not re.match(r"(seed|p\d)-d\d$", x["name"])], [])
        self.api.faults({"expire_continue": None})
        self.assert_deleted_once(d, timeout=45)
        self.assert_one_event(d)
        # A pod that can only arrive over the new watch, in 7-byte pieces.
        h.wait_for(lambda: [w for w in self.api.watches() if w["resource"] == "pods"],
                   10 * self.slow, what="a new pods watch")
        late, _ = self.create("p5-late", 1, 1)
        self.assert_deleted_once(late)
        self.assert_one_event(late)
        h.wait_for(lambda: self.ctl.metric("profileguard_watch_restarts_total", resource="pods")
                   > restarts, 10 * self.slow, what="the 410 counted as a watch restart")
        self.assert_alive()

    def test_6_faults_clear(self):
        """With every fault off, the controller is ready and healthy, a new
        drifted pod goes at once, and the run's invariants hold for every pod."""
        self.api.clear_faults()
        d, c = self.create("p6", 2, 2)
        self.assert_deleted_once(d)
        self.assert_one_event(d)
        h.wait_for(lambda: self.ctl.http("/readyz")[0] == 200, 10 * self.slow, what="ready")
        self.assertEqual(self.ctl.http("/healthz")[0], 200)
        self.assertGreaterEqual(self.ctl.metric("profileguard_watch_restarts_total",
                                                resource="pods"), 3)
        # The whole run: every drifted pod deleted once, by UID, with one
        # Event; no compliant pod touched; no DELETE of anything else.
        self.assert_deleted_once(self.drifted, timeout=5)
        self.assert_one_event(self.drifted, timeout=5)
        drifted_names = {p["metadata"]["name"] for p in self.drifted}
        stray = [d for d in self.api.pod_deletes(NS) if d["name"] not in drifted_names]
        self.assertEqual(stray, [], "DELETEs of pods that did not drift")
        evs = [e for e in self.api.objects("Event", NS)
               if (e.get("regarding") or {}).get("name") not in drifted_names]
        self.assertEqual(evs, [], "Events about pods that did not drift")
        live = {p["metadata"]["name"]: h.uid_of(p) for p in self.api.objects("Pod", NS)}
        for p in self.compliant:
            self.assertEqual(live.get(p["metadata"]["name"]), h.uid_of(p),
                             f"compliant pod {p['metadata']['name']} lost")
        self.assertEqual(self.ctl.metric("profileguard_actions_total", action="Delete",
                                         result="deleted"), len(self.drifted))
        self.assert_alive()


    def test_7_event_outlives_a_longer_outage(self):
        """Every Event POST fails for longer than the API client's retries
        (5, about 6 s): the controller logs "event not written" and acts,
        and the Event is written once the API server takes it again, so no
        deletion goes without its Event (SPEC 4: every finding writes an
        Event).  This once lost the Event for good."""
        self.api.clear_faults()
        self.api.faults({"status_500": {"count": -1, "path_regex": EVENTS}})
        d, _ = self.create("p7", 1, 0)
        self.ctl.wait_log(lambda l: l.get("msg") == "event not written"
                          and l.get("event", "").startswith("p7-d0."), 30 * self.slow,
                          "the Event given up")
        self.assert_deleted_once(d)
        self.api.clear_faults()
        # A retry would be a timer in the controller, not CPU: not scaled.
        self.assert_one_event(d, timeout=15, scaled=False)

if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__)
    sys.exit(h.run_tests(ARGS, argv))
