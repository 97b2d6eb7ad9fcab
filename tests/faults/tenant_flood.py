#!/usr/bin/env python3
"""Fault scenario: one tenant floods the controller with findings.

One `profileguard controller` with --telemetry-listen.  In namespace
"tenant" a pod under an Audit profile (only /app/server may run) reports
21,000 distinct exec paths: 21,000 UnexpectedExecutable findings, more
than the action queue ever held (20,000).  Then, in namespace "bank", a pod
under an Enforce profile whose response is Delete breaks it once.

Asserted:
  - the bank pod is deleted, by a DELETE carrying its UID as precondition,
    within 20 s of its finding (before the fair queue the flood filled the
    one queue: the finding was refused, or waited behind every record);
    the delay is printed ("enforce delay under the flood");
  - the flooding pod is recorded, not acted on, with one Event whose
    series count reaches 21,000 (every finding counted, none lost), whose
    note says how many findings it folds and names a few, and written a
    bounded number of times: at most once per 5 s of flood (ACTIONS_FOLD_MS)
    plus a few, not once per finding;
  - the profile's status counts the 21,000 violations.

usage: tenant_flood.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pgharness as h  # noqa: E402

ARGS = None
AGENT = "system:serviceaccount:profileguard:profileguard-agent"
TOKENS = {
    "admin-token": {"username": "admin", "groups": ["system:masters"]},
    "agent-token": {"username": AGENT, "extra": {
        "authentication.kubernetes.io/node-name": ["node-a"]}},
}
FLOOD = int(os.environ.get("PG_FLOOD_PATHS", "21000"))
BATCH = 1000
# How long the bank pod may wait for its deletion under the flood (and the
# flood's size: both may be changed to measure).
ENFORCE_WITHIN = float(os.environ.get("PG_FLOOD_ENFORCE_WITHIN", "20"))


def cid(n):
    return "containerd://" + ("%02x" % n) * 32


def exec_line(ns, name, exe):
    return json.dumps({"kind": "exec", "time": h.rfc3339(fraction=True), "node": "node-a",
                       "container": "api", "exe": exe, "args": [],
                       "pod": {"namespace": ns, "name": name}})


class TenantFlood(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.slow = 3 if h.sanitized(ARGS.binary) else 1
        cls.certs = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))
        allow = {"runtime": {"executables": ["/app/server"]}}
        seed = [h.namespace("profileguard"), h.namespace("tenant"), h.namespace("bank"),
                h.service_account("tenant", "default"), h.service_account("bank", "default"),
                h.profile("tenant", "noisy", dict(allow, mode="Audit"),
                          selector={"matchLabels": {"app": "noisy"}}),
                h.profile("bank", "strict", dict(allow, mode="Enforce", response={"action": "Delete"}),
                          selector={"matchLabels": {"app": "bank"}}),
                h.pod("tenant", "noisy-0", labels={"app": "noisy"}, container="api",
                      container_id=cid(1), ip="10.0.0.10"),
                h.pod("bank", "teller-0", labels={"app": "bank"}, container="api",
                      container_id=cid(2), ip="10.0.0.11")]
        cls.api = h.Standin(ARGS.srcdir, cls.certs, ARGS.workdir, seed=seed, tokens=TOKENS)
        cls.ctl = h.controller(ARGS.binary, cls.api, ARGS.workdir, "ctl",
                               ["--leader-elect=false", "--max-actions-per-minute", "1000"],
                               telemetry={"certs": cls.certs, "allowed_users": [AGENT]})

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.ctl.stop(timeout=30)
            assert rc == 0, f"controller exited {rc}"
        finally:
            cls.api.stop()

    def post(self, lines):
        st, out, _ = h.telemetry_post(self.ctl.telemetry_port, self.certs, "/telemetry/v1/events",
                                      "\n".join(lines) + "\n", token="agent-token", timeout=120)
        self.assertEqual(st, 200, out)
        return out

    def test_flood_does_not_starve_enforcement(self):
        victim = self.api.one("Pod", "bank", "teller-0")
        noisy = self.api.one("Pod", "tenant", "noisy-0")
        t0 = time.monotonic()
        accepted = 0
        for start in range(0, FLOOD, BATCH):
            out = self.post([exec_line("tenant", "noisy-0", f"/tmp/flood/bin/x{i:05d}")
                             for i in range(start, min(FLOOD, start + BATCH))])
            accepted += out["accepted"]
        flood_s = time.monotonic() - t0
        self.assertEqual(accepted, FLOOD)

        # Another namespace's pod breaks its Enforce/Delete profile.
        t1 = time.monotonic()
        out = self.post([exec_line("bank", "teller-0", "/bin/sh")])
        self.assertEqual(out["accepted"], 1)
        h.wait_for(lambda: self.api.one("Pod", "bank", "teller-0") is None,
                   ENFORCE_WITHIN * self.slow, interval=0.02,
                   what="the Enforce pod deleted under the flood")
        delay = time.monotonic() - t1
        print(f"\nenforce delay under the flood: {delay:.2f} s "
              f"(flood of {FLOOD} paths posted in {flood_s:.1f} s)", file=sys.stderr)
        ds = self.api.pod_deletes("bank", "teller-0")
        self.assertEqual([d["uid"] for d in ds if d["status"] == 200], [h.uid_of(victim)], ds)
        self.assertEqual({d["uid"] for d in ds}, {h.uid_of(victim)}, ds)

        # The flooding pod: recorded (Audit), never acted on, its findings
        # folded into one Event that counts every one of them.
        def folded():
            evs = self.api.events("tenant", "noisy-0", "UnexpectedExecutable",
                                  uid=h.uid_of(noisy))
            return evs if evs and (evs[0].get("series") or {}).get("count") == FLOOD else None
        evs = h.wait_for(folded, 30 * self.slow, what=f"the series count reaching {FLOOD}")
        self.assertEqual(len(evs), 1, [e["metadata"]["name"] for e in evs])
        ev = evs[0]
        self.assertEqual(ev["action"], "Record")
        self.assertRegex(ev["note"], r"^\d+ findings of this reason since the last Event")
        self.assertRegex(ev["note"], r"; earlier ones, e\.g\.: [^;]*/tmp/flood/bin/x\d+[^;]*; ")
        self.assertIn("; latest: ", ev["note"])
        self.assertIn("/tmp/flood/bin/x", ev["note"])
        self.assertLessEqual(len(ev["note"].encode()), 1024)
        self.assertEqual(self.api.pod_deletes("tenant"), [])
        name = re.escape(ev["metadata"]["name"])
        writes = [r for r in self.api.requests(path_regex=r"^/apis/events.k8s.io/v1/namespaces/"
                                               r"tenant/events(/" + name + ")?$")
                  if r["method"] in ("POST", "PATCH")]
        elapsed = time.monotonic() - t0
        bound = elapsed / 5 + 4
        print(f"flooding pod: {len(writes)} Event writes for {FLOOD} findings in {elapsed:.1f} s",
              file=sys.stderr)
        self.assertLessEqual(len(writes), bound, "the flood's Event was written per finding")
        h.wait_for(lambda: self.api.profile_status("tenant", "noisy").get("violations") == FLOOD,
                   15 * self.slow, what=f"status.violations == {FLOOD}")
        self.assertEqual(self.ctl.metric("profileguard_actions_total", action="Record",
                                         result="dropped"), 0)
        self.assertTrue(self.ctl.alive())


if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__)
    sys.exit(h.run_tests(ARGS, argv))
