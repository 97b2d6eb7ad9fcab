#!/usr/bin/env python3
"""Fault scenario 4: the leading controller is killed in the middle of acting.

Two `profileguard controller` replicas elect a leader on a Lease with short
timings (--lease-duration 3s --renew-deadline 2s --retry-period 500ms).  The
stand-in answers pod DELETEs slowly, several drifted pods are created, and the
leader is SIGKILLed while its first DELETE is still inside the stand-in and
the others wait in its queue.  Before the follower can act, the pod whose
DELETE is in flight is replaced by a compliant pod of the same name (a new
UID), and a queued one by a pod of the same name that drifts again.

Asserted: the follower takes the Lease and deletes every drifted original;
no UID is deleted twice (at most one DELETE answered 200 per UID, and at most
one "deleted" decision across both logs); the dead leader's late DELETE meets
the replacement's new UID and is refused (409), so the compliant replacement
is untouched, while the drifting replacement is deleted by its own UID; the
compliant pods are untouched; and each finding has one Event, whoever wrote
it (repeats fold into its series).

usage: leader_kill.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pgharness as h  # noqa: E402

ARGS = None
OWN_NS = "profileguard"
NS = "orders"
LEASE = ["--leader-elect", "--lease-duration", "3s", "--renew-deadline", "2s",
         "--retry-period", "500ms", "--max-actions-per-minute", "1000"]
DELETES = rf"^/api/v1/namespaces/{NS}/pods/[^/?]+$"
DELAY_MS = 5000


class LeaderKilled(unittest.TestCase):

    def setUp(self):
        self.slow = 3 if h.sanitized(ARGS.binary) else 1
        self.certs = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))
        seed = [h.namespace(OWN_NS), h.namespace(NS), h.service_account(NS, "default"),
                h.profile(NS, "digests", {"mode": "Enforce", "images": {"requireDigest": True},
                                          "response": {"action": "Delete"}})]
        seed += [h.pod(NS, f"ok-{i}") for i in range(4)]
        self.api = h.Standin(ARGS.srcdir, self.certs, ARGS.workdir, seed=seed)
        self.ctls = []

    def tearDown(self):
        try:
            for c in self.ctls:
                if c.alive():
                    c.stop(timeout=20)
        finally:
            self.api.stop()

    def holder(self):
        lease = self.api.one("Lease", OWN_NS, "profileguard-controller")
        return ((lease or {}).get("spec") or {}).get("holderIdentity")

    def test_leader_killed_mid_delete(self):
        a = h.controller(ARGS.binary, self.api, ARGS.workdir, "ctl-a", LEASE)
        self.ctls.append(a)
        b = h.controller(ARGS.binary, self.api, ARGS.workdir, "ctl-b", LEASE)
        self.ctls.append(b)
        first = h.wait_for(self.holder, 10 * self.slow, what="a leader")
        leader, follower = (a, b) if first == a.name else (b, a)
        h.wait_for(lambda: leader.metric("profileguard_leader") == 1, 10 * self.slow,
                   what="the leader's gauge")
        compliant = self.api.objects("Pod", NS)

        # Every DELETE of the namespace now waits inside the stand-in.
        self.api.faults({"slow": {"delay_ms": DELAY_MS, "count": -1, "path_regex": DELETES}})
        created = self.api.put(*[h.pod(NS, f"drift-{i}", image="nginx") for i in range(5)],
                               h.pod(NS, "ok-late"))
        originals, compliant = created[:5], compliant + created[5:]
        by_name = {p["metadata"]["name"]: p for p in originals}
        inflight = h.wait_for(lambda: self.api.pod_deletes(NS), 15 * self.slow,
                              what="the leader's first DELETE in flight")
        leader.kill()
        inflight_names = {d["name"] for d in inflight}
        self.assertTrue(all(d["status"] is None for d in inflight), inflight)

        # Before the follower may act: the pod whose DELETE is in flight is
        # replaced by a compliant one, a queued one by one that drifts again.
        x = inflight[0]["name"]
        y = next(n for n in sorted(by_name) if n not in inflight_names)
        self.api.remove("Pod", NS, x)
        self.api.remove("Pod", NS, y)
        repl_x, repl_y = self.api.put(h.pod(NS, x), h.pod(NS, y, image="nginx:1.27"))
        self.assertNotEqual(h.uid_of(repl_x), h.uid_of(by_name[x]))
        self.api.faults({"slow": None})

        h.wait_for(lambda: self.holder() == follower.name, 15 * self.slow,
                   what="the follower takes the Lease")
        h.wait_for(lambda: follower.metric("profileguard_leader") == 1, 10 * self.slow,
                   what="the follower's gauge")

        # The dead leader's DELETE of x ends inside the stand-in: refused by
        # the UID precondition, since x is now the replacement.
        done = h.wait_for(lambda: [e for e in self.api.finished("DELETE", re.escape(
            f"/namespaces/{NS}/pods/{x}") + "$") if e["ms"] >= DELAY_MS * 0.9],
            (DELAY_MS / 1000 + 10) * self.slow, what="the dead leader's DELETE finished")
        self.assertIn(done[0]["status"], (409, None), done)

        # Every drifted original goes, and the drifting replacement too.
        gone = [p for n, p in by_name.items() if n not in (x, y)] + [repl_y]
        for p in gone:
            name = p["metadata"]["name"]
            h.wait_for(lambda: (self.api.one("Pod", NS, name) or {}).get("metadata", {})
                       .get("uid") != h.uid_of(p), 20 * self.slow, what=f"{name} deleted")
        h.wait_for(lambda: self.api.one("Pod", NS, y) is None, 20 * self.slow,
                   what="the drifting replacement deleted")

        # No UID deleted twice; every DELETE carried the UID it meant.
        deletes = self.api.pod_deletes(NS)
        ok = [d["uid"] for d in deletes if d["status"] == 200]
        self.assertEqual(len(ok), len(set(ok)), f"a UID deleted twice: {deletes}")
        self.assertTrue(all(d["uid"] for d in deletes), deletes)
        for p in gone:
            mine = [d for d in deletes if d["uid"] == h.uid_of(p)]
            self.assertTrue(mine, f"{p['metadata']['name']}: no DELETE")
        decided = [l["uid"] for c in (a, b) for l in c.lines()
                   if l.get("msg") == "drift action" and l.get("result") == "deleted"]
        self.assertEqual(len(decided), len(set(decided)), decided)

        # The compliant replacement and the compliant pods are untouched.
        now = {p["metadata"]["name"]: h.uid_of(p) for p in self.api.objects("Pod", NS)}
        self.assertEqual(now.get(x), h.uid_of(repl_x), "the compliant replacement was deleted")
        self.assertEqual([d for d in deletes if d["uid"] == h.uid_of(repl_x)], [])
        self.assertEqual(self.api.events(NS, uid=h.uid_of(repl_x)), [])
        for p in compliant:
            self.assertEqual(now.get(p["metadata"]["name"]), h.uid_of(p),
                             f"compliant pod {p['metadata']['name']} touched")
            self.assertEqual(self.api.events(NS, p["metadata"]["name"]), [])

        # One Event per finding, whoever wrote it.
        for p in list(by_name.values()) + [repl_y]:
            if p is by_name[x] or p is by_name[y]:
                continue
            evs = h.wait_for(lambda: self.api.events(NS, reason="AdmissionDrift",
                                                     uid=h.uid_of(p)),
                             10 * self.slow, what=f"Event of {p['metadata']['name']}")
            self.assertEqual(len(evs), 1, evs)
        for p in (by_name[x], by_name[y]):
            self.assertLessEqual(len(self.api.events(NS, reason="AdmissionDrift",
                                                     uid=h.uid_of(p))), 1)

        self.assertTrue(follower.alive())
        self.assertEqual(follower.stop(), 0)
        leader.check_sanitizers()


if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__)
    sys.exit(h.run_tests(ARGS, argv))
