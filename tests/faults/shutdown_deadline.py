#!/usr/bin/env python3
"""Fault scenario: SIGTERM while 2,000 profile statuses wait to be written
to an API server slow to answer status writes.

One `profileguard controller` (no leader election, --shutdown-timeout 10s)
against the stand-in holding 2,000 WorkloadProfiles, one per namespace,
each of which gets a status to write (matchedPods, the Ready condition);
every PATCH of a profile's /status is answered after 300 ms.  The last
profile in the controller's order (namespace "zz-last") is an Audit profile
with a drifting pod, so its status also has a violation to say.  Once the
controller writes statuses, it gets SIGTERM.

Asserted:
  - it exits 0 within the deadline (10 s, plus 1.5 s for the process to
    be seen gone); before the deadline, the stop waited for every status
    write (2,000 x 300 ms, or 40 s at the client's 50 requests a second
    with a prompt API server);
  - the status with the violation, last in order, was written first at
    shutdown (status.violations == 1);
  - the controller says how many statuses it left to the next leader.

PG_SHUTDOWN_SLOW_MS (default 300) and PG_SHUTDOWN_TIMEOUT (default 10s;
empty: the flag is not given, the default applies) set the scenario, for
measuring; PG_SHUTDOWN_WITHIN (default: the timeout + 1.5 s) the bound.

usage: shutdown_deadline.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pgharness as h  # noqa: E402

ARGS = None
PROFILES = int(os.environ.get("PG_SHUTDOWN_PROFILES", "2000"))
SLOW_MS = int(os.environ.get("PG_SHUTDOWN_SLOW_MS", "300"))
TIMEOUT = os.environ.get("PG_SHUTDOWN_TIMEOUT", "10s")
TIMEOUT_S = float(TIMEOUT.rstrip("s")) if TIMEOUT else 20.0
WITHIN = float(os.environ.get("PG_SHUTDOWN_WITHIN", str(TIMEOUT_S + 1.5)))
STATUS = r"^/apis/profileguard\.io/v1alpha1/namespaces/[^/]+/workloadprofiles/[^/]+/status$"


class ShutdownDeadline(unittest.TestCase):

    def test_flag_bound(self):
        """--shutdown-timeout takes 1s at least: 999ms is refused, naming the
        bound; 1s passes the flags (and fails later, on the kubeconfig)."""
        missing = os.path.join(ARGS.workdir, "no-kubeconfig")
        for value, rc, text in (("999ms", 2, "--shutdown-timeout \"999ms\": expected a duration"),
                                ("1s", 1, "no Kubernetes configuration")):
            p = subprocess.run([ARGS.binary, "controller", "--kubeconfig", missing,
                                "--shutdown-timeout", value], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, rc, p.stderr)
            self.assertIn(text, p.stderr)
        self.assertIn("at least 1000 ms", subprocess.run(
            [ARGS.binary, "controller", "--shutdown-timeout", "0"], capture_output=True,
            text=True, timeout=30).stderr)

    def test_sigterm_within_deadline(self):
        certs = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))
        seed = [h.namespace("profileguard")]
        for i in range(PROFILES - 1):
            ns = f"team-{i:04d}"
            seed += [h.namespace(ns),
                     h.profile(ns, "p", {"images": {"requireDigest": True}})]
        seed += [h.namespace("zz-last"), h.service_account("zz-last", "default"),
                 h.profile("zz-last", "audit", {"images": {"requireDigest": True},
                                                "mode": "Audit"}),
                 h.pod("zz-last", "drifted", image="nginx")]
        api = h.Standin(ARGS.srcdir, certs, ARGS.workdir, seed=seed)
        ctl = None
        try:
            if SLOW_MS:
                api.faults({"slow": {"delay_ms": SLOW_MS, "count": -1, "path_regex": STATUS}})
            flags = ["--leader-elect=false"]
            if TIMEOUT:
                flags += ["--shutdown-timeout", TIMEOUT]
            ctl = h.controller(ARGS.binary, api, ARGS.workdir, "ctl", flags, ready_timeout=120)
            # The violation is on record, and status writes are under way.
            h.wait_for(lambda: api.events("zz-last", "drifted", "AdmissionDrift"), 60,
                       what="the drifted pod's Event")
            h.wait_for(lambda: api.requests("PATCH", STATUS), 60, what="status writes begun")
            early = api.profile_status("zz-last", "audit").get("violations") == 1
            if SLOW_MS:
                self.assertFalse(early, "the violation's status was written before the shutdown")
            t0 = time.monotonic()
            try:
                rc = ctl.stop(timeout=max(WITHIN, 120))
            finally:
                took = time.monotonic() - t0
                print(f"\nSIGTERM to exit with {PROFILES} profiles: {took:.2f} s "
                      f"(status writes answered after {SLOW_MS} ms, "
                      f"--shutdown-timeout {TIMEOUT or 'default'})", file=sys.stderr)
            self.assertEqual(rc, 0)
            self.assertLessEqual(took, WITHIN, "SIGTERM took past the shutdown deadline")
            # The status that says a violation went first (when it was
            # still to be written).
            self.assertEqual(api.profile_status("zz-last", "audit").get("violations"), 1)
            if early:
                print("(the violation was written before SIGTERM)", file=sys.stderr)
            written = [r for r in api.requests("PATCH", STATUS) if r["status"] == 200]
            print(f"statuses written: {len(written)} of {PROFILES}", file=sys.stderr)
            if len(written) < PROFILES:
                left = [l for l in ctl.lines() if l.get("msg", "").startswith(
                    "shutdown deadline: profile statuses left unwritten")]
                self.assertTrue(left, "no word of the statuses left to the next leader")
                self.assertGreater(int(left[0]["profiles"]), 0)
        finally:
            if ctl and ctl.alive():
                ctl.kill()
            api.stop()


if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__)
    sys.exit(h.run_tests(ARGS, argv))
