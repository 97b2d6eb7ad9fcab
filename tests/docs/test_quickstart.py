#!/usr/bin/env python3
"""The README's quickstart, run word for word: every ```sh block marked
<!-- quickstart --> is extracted from README.md and its commands are run in
order, in one bash, from a scratch copy of the clone's top (symlinks to the
source tree, and a build/ whose src/ is this build's), against the sandbox
(hack/sandbox) with the real kubectl.  The output is asserted step by step:
the profile in Audit, the Audit warning at kubectl apply, check's exit codes,
learn's profile, the switch to Enforce and the denial.

Skipped (exit 77, meson's skip) when no kubectl is on the PATH.

usage: test_quickstart.py --srcdir SRC --builddir BUILD
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

MARK = "<!-- quickstart -->"


def quickstart_commands(readme):
    """The commands of the marked blocks, in order; a line ending in a backslash continues."""
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    blocks = re.findall(re.escape(MARK) + r"\s*\n```sh\n(.*?)\n```", text, flags=re.S)
    cmds = []
    for block in blocks:
        cur = ""
        for line in block.split("\n"):
            if not cur and (not line.strip() or line.lstrip().startswith("#")):
                continue
            cur += line
            if cur.endswith("\\"):
                cur = cur[:-1]
                continue
            cmds.append(cur.strip())
            cur = ""
        if cur:
            cmds.append(cur.strip())
    return blocks, cmds


def run_all(cmds, cwd, env):
    """Runs @cmds in one bash (exports carry over), each between markers; returns [(cmd, rc, out)]."""
    script = []
    for i, c in enumerate(cmds):
        script.append(f"echo '@@@begin {i}'")
        script.append(c)
        script.append(f"echo \"@@@end {i} $?\"")
    r = subprocess.run(["bash", "-c", "\n".join(script) + "\n"], cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    results = []
    for i, c in enumerate(cmds):
        m = re.search(rf"^@@@begin {i}\n(.*?)^@@@end {i} (\d+)$", r.stdout, flags=re.S | re.M)
        if not m:
            results.append((c, None, r.stdout))
            break
        results.append((c, int(m.group(2)), m.group(1)))
    return results


class Quickstart(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.readme = os.path.join(ARGS.srcdir, "README.md")
        cls.blocks, cls.cmds = quickstart_commands(cls.readme)
        cls.tmp = tempfile.mkdtemp(prefix="pg-quickstart-")
        top = os.path.join(cls.tmp, "clone")
        os.makedirs(top)
        # The clone's top as the reader has it, with build/ this build: build/src is its src/.
        for name in os.listdir(ARGS.srcdir):
            if name.startswith("build") or name.startswith("."):
                continue
            os.symlink(os.path.join(ARGS.srcdir, name), os.path.join(top, name))
        os.makedirs(os.path.join(top, "build"))
        os.symlink(os.path.join(ARGS.builddir, "src"), os.path.join(top, "build", "src"))
        home = os.path.join(cls.tmp, "home")
        os.makedirs(home)
        cls.top = top
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "PROFILEGUARD_"))}
        env["HOME"] = home           # kubectl's cache, never the user's
        try:
            cls.results = run_all(cls.cmds, top, env)
        finally:
            # Whatever happened, no sandbox is left running.
            subprocess.run([sys.executable, os.path.join(top, "hack", "sandbox"), "stop"], cwd=top,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        cls.at = 0

    @classmethod
    def tearDownClass(cls):
        if ARGS.keep:
            print(f"kept {cls.tmp}")
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def step(self, pattern):
        """The next command (after the previous step's) matching @pattern: (cmd, rc, output)."""
        for i in range(self.at, len(self.results)):
            cmd, rc, out = self.results[i]
            if re.search(pattern, cmd):
                self.__class__.at = i + 1
                self.assertIsNotNone(rc, f"{cmd!r} did not finish:\n{out}")
                return cmd, rc, out
        self.fail(f"no quickstart command matching {pattern!r} after command {self.at} of:\n"
                  + "\n".join(c for c, _, _ in self.results))

    def ok(self, pattern, *want):
        cmd, rc, out = self.step(pattern)
        self.assertEqual(rc, 0, f"{cmd!r} exited {rc}:\n{out}")
        for w in want:
            self.assertRegex(out, w, cmd)
        return out

    def test_quickstart(self):
        self.assertGreaterEqual(len(self.blocks), 5, f"README.md has too few {MARK} blocks")
        for cmd, rc, out in self.results:
            if rc is None:
                self.fail(f"{cmd!r} did not finish:\n{out}")
        # 1. The sandbox and kubectl.
        self.ok(r"^hack/sandbox start$", r"export KUBECONFIG=")
        self.ok(r"^export KUBECONFIG=")
        self.ok(r"^kubectl get namespaces$", r"(?m)^profileguard\s")
        # 2. The CRD, then a first profile that says no mode: Audit, from the CRD's default.
        self.ok(r"kubectl apply -f crds/workloadprofile.yaml",
                r"customresourcedefinition.apiextensions.k8s.io/workloadprofiles.profileguard.io created")
        self.ok(r"kubectl create namespace payments", r"namespace/payments created")
        self.ok(r"kubectl apply -f examples/quickstart/payments-api.yaml",
                r"workloadprofile.profileguard.io/payments-api created")
        self.ok(r"kubectl get wp -n payments", r"(?m)^NAME\s+MODE\s+ACTION\s+PODS\s+VIOLATIONS\s+AGE$",
                r"(?m)^payments-api\s+Audit\s")
        # 3. A pod that breaks it: admitted with the webhook's warning, as kubectl prints it.
        self.ok(r"kubectl apply -f examples/manifests/bad/payments-latest-image.yaml",
                r'(?m)^Warning: spec.containers\[1\].image: "nginx:latest" not allowed by '
                r"payments/payments-api images.allow$",
                r"(?m)^pod/payments-api-debug created$")
        # 4. check as in CI: a warning, exit 0.
        self.ok(r"profileguard check -p examples/quickstart/payments-api.yaml",
                r"Pod payments/payments-api-debug: allowed with warnings",
                r'warning: spec.containers\[1\].image: "nginx:latest" not allowed by payments/payments-api',
                r"(?m)^exit code 0$")
        # 4b. test: the example suites pass, in text and as JUnit.
        self.ok(r"^profileguard test examples/tests$", r"(?m)^12 cases: 12 passed, 0 failed$",
                r"(?m)^PASS payments: Pod/payments/payments-api-debug: deny \(AdmissionDrift\)$")
        self.ok(r"^profileguard test examples/tests -o junit", r"(?m)^12 cases: 12 passed, 0 failed$")
        junit = ET.parse(os.path.join(self.top, "build", "profileguard-junit.xml")).getroot()
        self.assertEqual(junit.tag, "testsuites")
        self.assertEqual(sum(int(s.get("tests")) for s in junit), 12)
        self.assertEqual(sum(int(s.get("failures")) for s in junit), 0)
        # 5. learn: the workload's events only, in Audit; the capture replays clean.
        self.ok(r"profileguard learn -f examples/quickstart/capture.jsonl",
                r"6 events used, 1 skipped .*1 of other pods")
        learned = self.ok(r"^cat build/payments-api.yaml$", r"kind: WorkloadProfile")
        self.assertRegex(learned, r"(?m)^  mode: Audit$")
        self.assertIn("- /app/server", learned)
        self.assertNotIn("/bin/sh", learned, "another pod's exec was learned")
        self.ok(r"profileguard check -p build/payments-api.yaml -f examples/manifests/good/payments-pod.yaml",
                r"7 events judged: 0 findings \(0 Enforce\), 1 not attributed",
                r"1 object checked: 1 passed")
        self.ok(r"^kubectl apply -f build/payments-api.yaml$", r"workloadprofile.profileguard.io/payments-api configured")
        # 6. Enforce: check fails the build, the webhook denies the same pod.
        self.ok(r"^sed -i 's/mode: Audit/mode: Enforce/' build/payments-api.yaml$")
        self.ok(r"^kubectl apply -f build/payments-api.yaml$", r"configured")
        self.ok(r"kubectl get wp -n payments", r"(?m)^payments-api\s+Enforce\s")
        self.ok(r"profileguard check -p build/payments-api.yaml",
                r"Pod payments/payments-api-debug: denied",
                r'spec.containers\[1\].image: "nginx:latest" not allowed by payments/payments-api images.allow',
                r"(?m)^exit code 1$")
        # The controller acts on the pod it only reported under Audit.
        self.ok(r"^kubectl wait --for=delete pod/payments-api-debug -n payments")
        cmd, rc, out = self.step(r"kubectl apply -f examples/manifests/bad/payments-latest-image.yaml")
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r'Error from server \(Forbidden\): error when creating '
                              r'"examples/manifests/bad/payments-latest-image.yaml": admission webhook '
                              r'"pods.profileguard.io" denied the request: ')
        self.assertIn('spec.containers[1].image: "nginx:latest" not allowed by payments/payments-api images.allow',
                      out)
        self.ok(r"kubectl get events -n payments",
                r"(?m)^\S+\s+Warning\s+AdmissionDrift\s+pod/payments-api-debug\s")
        # 7. Stopped.
        self.ok(r"^hack/sandbox stop$", r"sandbox: stopped")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--srcdir", required=True)
    p.add_argument("--builddir", required=True)
    p.add_argument("--keep", action="store_true")
    ARGS, rest = p.parse_known_args()
    ARGS.srcdir, ARGS.builddir = os.path.abspath(ARGS.srcdir), os.path.abspath(ARGS.builddir)
    if not shutil.which("kubectl"):
        print("SKIP: no kubectl on the PATH (hack/install-deps installs Debian's kubernetes-client):"
              " the quickstart needs one")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
