#!/usr/bin/env python3
"""CLI tests of `profileguard test`: run the built binary on examples/tests,
on the failing suite of tests/data/test-suites and on test files written
here, and assert the per-case verdicts, the reports (text, JSON, JUnit XML)
and the exit codes (docs/test.md)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

BIN = os.environ.get("PROFILEGUARD", "build/src/cmd/profileguard")
WRAPPER = os.environ.get("PG_TEST_WRAPPER", "").split()
ROOT = os.path.abspath(os.environ.get("SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..")))
EX = os.path.join(ROOT, "examples")
FAILING = os.path.join(ROOT, "tests", "data", "test-suites")


def run(*args, cwd=None):
    p = subprocess.run([*WRAPPER, os.path.abspath(BIN) if os.path.exists(BIN) else BIN, *args],
                       capture_output=True, text=True, cwd=cwd, timeout=600 if WRAPPER else 60)
    return p.returncode, p.stdout, p.stderr


def ex(*parts):
    return os.path.join(EX, *parts)


class Tmp(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pgtest-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, rel, text):
        p = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        return p

    def suite(self, results, rel="profileguard-test.yaml", extra=""):
        """A test file over every example profile and manifest."""
        return self.write(rel, "name: t\nprofiles: [%s]\nresources: [%s, %s]\n%sresults:\n%s" % (
            ex("profiles"), ex("manifests", "good"), ex("manifests", "bad"), extra, results))


class Examples(unittest.TestCase):
    def test_examples_suite_passes(self):
        rc, out, err = run("test", ex("tests"))
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(err, "")
        lines = out.splitlines()
        self.assertEqual(lines[-1], "12 cases: 12 passed, 0 failed")
        self.assertTrue(all(l.startswith("PASS ") for l in lines[:-1]), out)
        # every result value is exercised by the examples
        for want in ("PASS payments: Pod/payments/payments-api: allow",
                     "PASS payments: Pod/payments/payments-api-legacy: deny (LegacyToken, TokenTTLExceeded)",
                     "PASS platform: Job/batch/export-orders: warn (AdmissionDrift)",
                     "PASS platform: Pod/misc/toolbox: unjudged"):
            self.assertIn(want, lines)

    def test_failing_suite_names_expected_and_got(self):
        rc, out, err = run("test", FAILING)
        self.assertEqual(rc, 1, out + err)
        lines = out.splitlines()
        self.assertEqual(lines[-1], "7 cases: 1 passed, 6 failed")
        self.assertIn("PASS failing: Pod/shop/cart: allow", lines)
        self.assertIn("FAIL failing: Pod/payments/payments-api-debug: expected allow, got deny", lines)
        self.assertIn("FAIL failing: Pod/payments/payments-api-legacy: expected reasons [LegacyToken], "
                      "got [LegacyToken, TokenTTLExceeded]", lines)
        self.assertIn("FAIL failing: Deployment/web/frontend-canary: expected rules [images.allow], "
                      "got [images.allow, privileges.runAsNonRoot]", lines)
        self.assertIn("FAIL failing: Job/batch/export-orders: expected deny, got warn", lines)
        self.assertIn("FAIL failing: Deployment/web/frontend-canry: no such resource: no Deployment named "
                      "frontend-canry in namespace web among the resources (did you mean "
                      "Deployment/web/frontend-canary?)", lines)
        self.assertIn("FAIL failing: Pod/misc/toolbox: expected allow, got unjudged", lines)

    def test_failure_lists_checks_own_messages(self):
        """Judged by check's code: a failed case shows check's sentences, word for word."""
        _, out, _ = run("test", FAILING)
        _, chk, _ = run("check", "-p", ex("profiles"), "-f", ex("manifests", "bad", "payments-latest-image.yaml"))
        check_msgs = [l.strip() for l in chk.splitlines() if l.startswith("  ")]
        self.assertEqual(len(check_msgs), 3)
        lines = out.splitlines()
        i = lines.index("FAIL failing: Pod/payments/payments-api-debug: expected allow, got deny")
        self.assertEqual([l.strip() for l in lines[i + 1:i + 4]], check_msgs)
        # Audit findings are marked as check marks them
        i = lines.index("FAIL failing: Job/batch/export-orders: expected deny, got warn")
        self.assertTrue(lines[i + 1].startswith("    warning: spec.template.spec.containers[0].image"), lines[i + 1])

    def test_help(self):
        for args in (("test", "-h"), ("help", "test")):
            rc, out, _ = run(*args)
            self.assertEqual(rc, 0)
            self.assertIn("usage: profileguard test [-o text|json|junit] [--output-file PATH] [PATH...]", out)
            self.assertIn("profileguard-test.yaml", out)
        rc, out, _ = run("--help")
        self.assertIn("  test ", out)


class Expectations(Tmp):
    def test_one_wrong_expectation_fails(self):
        good = self.suite("  - {resource: Pod/shop/cart, result: allow}\n"
                          "  - {resource: Pod/shop/cart-hotfix, result: deny, reasons: [AdmissionDrift]}\n")
        rc, out, _ = run("test", good)
        self.assertEqual(rc, 0, out)
        bad = self.suite("  - {resource: Pod/shop/cart, result: allow}\n"
                         "  - {resource: Pod/shop/cart-hotfix, result: deny, reasons: [LegacyToken]}\n")
        rc, out, _ = run("test", bad)
        self.assertEqual(rc, 1, out)
        self.assertIn("FAIL t: Pod/shop/cart-hotfix: expected reasons [LegacyToken], got [AdmissionDrift]", out)
        self.assertTrue(out.endswith("2 cases: 1 passed, 1 failed\n"), out)

    def test_namespace_fills_resources_and_manifests(self):
        # a manifest without metadata.namespace is in the suite's namespace, as check -n
        with open(ex("manifests", "bad", "payments-latest-image.yaml")) as f:
            pod = self.write("m/pod.yaml", f.read().replace("  namespace: payments\n", ""))
        self.write("profileguard-test.yaml", "profiles: [%s]\nresources: [m/]\nnamespace: payments\nresults:\n"
                   "  - {resource: Pod/payments-api-debug, result: deny}\n" % ex("profiles", "payments-api.yaml"))
        with open(pod) as f:
            self.assertNotIn("namespace: payments", f.read())
        rc, out, err = run("test", self.dir)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("PASS %s: Pod/payments/payments-api-debug: deny" % os.path.join(self.dir, "profileguard-test.yaml"), out)

    def test_resource_twice_is_a_failed_case(self):
        with open(ex("manifests", "good", "shop-pod.yaml")) as f:
            shop = f.read()
        p = self.write("profileguard-test.yaml", "profiles: [%s]\nresources: [%s, %s]\nresults:\n"
                       "  - {resource: Pod/shop/cart, result: allow}\n" % (
                           ex("profiles"), ex("manifests", "good", "shop-pod.yaml"), self.write("copy/shop.yaml", shop)))
        rc, out, _ = run("test", p)
        self.assertEqual(rc, 1, out)
        self.assertIn("2 objects among the resources are Pod/shop/cart", out)

    def test_events_count_as_the_workloads_findings(self):
        ev = self.write("ev.jsonl", json.dumps({
            "kind": "exec", "time": "2026-11-22T11:00:00Z", "node": "n", "container": "api",
            "pod": {"namespace": "payments", "name": "payments-api-7d9f-x2"}, "exe": "/usr/bin/nc"}) + "\n")
        base = "profiles: [%s]\nresources: [%s]\n" % (ex("profiles"), ex("manifests", "good", "payments-pod.yaml"))
        self.write("a/profileguard-test.yaml", base + "results:\n  - {resource: Pod/payments/payments-api, result: allow}\n")
        self.write("b/profileguard-test.yaml", base + "events: [%s]\nresults:\n  - {resource: Pod/payments/payments-api, "
                   "result: deny, reasons: [UnexpectedExecutable]}\n" % ev)
        rc, out, err = run("test", self.dir)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("deny (UnexpectedExecutable)", out)


class BadInput(Tmp):
    def test_unknown_keys_refused_with_did_you_mean(self):
        p = self.write("profileguard-test.yaml", "profile: [x]\nresources: [%s]\nresults:\n"
                       "  - resource: Pod/shop/cart\n    reslt: allow\n    reasons: [AdmisionDrift]\n"
                       "  - {resource: pod/shop/cart, result: denied}\n" % ex("manifests"))
        rc, out, err = run("test", p)
        self.assertEqual(rc, 2, out + err)
        # every mistake of the file in one run
        for want in ('profile: unknown key (did you mean "profiles"?)',
                     "profiles: required",
                     'results[0].reslt: unknown key (did you mean "result"?)',
                     'results[0].reasons[0]: "AdmisionDrift" is not a reason (did you mean "AdmissionDrift"?)',
                     'results[1].resource: kind "pod" is not a Pod or a pod template kind',
                     'did you mean "Pod"?',
                     'results[1].result: "denied" is not allow, deny, warn or unjudged (did you mean "deny"?)'):
            self.assertIn("profileguard test: %s: %s" % (p, want) if want.startswith(("profile", "results"))
                          else want, err)
        self.assertIn("bad input", out)

    def test_other_tools_words_are_pointed_at_ours(self):
        p = self.write("k.yaml", "policies: [a]\nresources: [b]\nresults:\n  - {resource: Pod/a/b, result: pass}\n"
                       "  - {resource: Pod/a/b, result: skip}\n  - {resource: Pod/a/b, result: warning}\n")
        rc, _, err = run("test", p)
        self.assertEqual(rc, 2)
        self.assertIn('policies: unknown key (did you mean "profiles"?)', err)
        self.assertIn('results[0].result: "pass" is not allow, deny, warn or unjudged (did you mean "allow"?)', err)
        self.assertIn('results[1].result: "skip" is not allow, deny, warn or unjudged (did you mean "unjudged"?)', err)
        self.assertIn('results[2].result: "warning" is not allow, deny, warn or unjudged (did you mean "warn"?)', err)

    def test_caps(self):
        case = "  - {resource: Pod/shop/cart, result: allow}\n"
        many = self.suite(case * 1001)
        rc, _, err = run("test", many)
        self.assertEqual(rc, 2)
        self.assertIn("results: 1001 cases, more than the cap of 1000", err)
        rc, out, err = run("test", self.suite(case * 1000, rel="ok/profileguard-test.yaml"))
        self.assertEqual(rc, 0, err)
        self.assertIn("1000 cases: 1000 passed, 0 failed", out)

        big = self.write("big.yaml", "# " + "x" * (1024 * 1024) + "\n")
        rc, _, err = run("test", big)
        self.assertEqual(rc, 2)
        self.assertIn("larger than the cap of 1048576 bytes for a test file", err)

        paths = self.write("paths.yaml", "profiles: [%s]\nresources: [%s]\nresults: [{resource: Pod/a/b, result: allow}]\n"
                           % (ex("profiles"), ", ".join(["x.yaml"] * 101)))
        rc, _, err = run("test", paths)
        self.assertEqual(rc, 2)
        self.assertIn("resources: 101 paths, more than the cap of 100", err)

        reasons = self.suite("  - {resource: Pod/shop/cart, result: deny, reasons: [%s]}\n" % ", ".join(["LegacyToken"] * 65))
        rc, _, err = run("test", reasons)
        self.assertEqual(rc, 2)
        self.assertIn("results[0].reasons: 65 entries, more than the cap of 64", err)

        long_ = self.suite("  - {resource: Pod/shop/%s, result: allow}\n" % ("a" * 1100))
        rc, _, err = run("test", long_)
        self.assertEqual(rc, 2)
        self.assertIn("results[0].resource: longer than the cap of 1024 bytes", err)

    def test_at_the_caps_no_refusal(self):
        # Each cap exactly reached is not a refusal (what else is wrong with
        # the input may still be reported, never the cap).
        exact = self.write("exact.yaml", "#" + "x" * (1024 * 1024 - 2) + "\n")
        self.assertEqual(os.path.getsize(exact), 1024 * 1024)
        rc, _, err = run("test", exact)
        self.assertNotIn("larger than the cap", err)

        paths = self.write("paths.yaml", "profiles: [%s]\nresources: [%s]\nresults: [{resource: Pod/a/b, result: allow}]\n"
                           % (ex("profiles"), ", ".join(["x.yaml"] * 100)))
        rc, _, err = run("test", paths)
        self.assertNotIn("more than the cap", err)
        self.assertIn("x.yaml", err)          # judged as far as the paths go

        reasons = self.suite("  - {resource: Pod/shop/cart, result: deny, reasons: [%s]}\n" % ", ".join(["LegacyToken"] * 64))
        rc, _, err = run("test", reasons)
        self.assertNotIn("more than the cap", err)

        res = "Pod/shop/" + "a" * (1024 - len("Pod/shop/"))
        self.assertEqual(len(res), 1024)
        rc, out, err = run("test", self.suite("  - {resource: %s, result: allow}\n" % res))
        self.assertNotIn("longer than the cap", err)
        self.assertIn("no such resource", out + err)

    def test_bad_values(self):
        for results, want in (
                ("  - {resource: Pod, result: allow}\n", '"Pod" is not Kind/name or Kind/namespace/name'),
                ("  - {resource: Pod/a/b/c, result: allow}\n", "is not Kind/name or Kind/namespace/name"),
                ("  - {resource: Pod/A_B/c, result: allow}\n", 'namespace "A_B" is not a namespace name'),
                ("  - {resource: Pod/a/b, result: allow, reasons: [LegacyToken]}\n", "result allow has no findings"),
                ("  - {resource: Pod/a/b, result: deny, reasons: LegacyToken}\n", "must be a list of reasons"),
                ("  - {result: deny}\n", "results[0].resource: required"),
                ("  - Pod/a/b\n", "results[0]: must be a mapping")):
            rc, _, err = run("test", self.suite(results))
            self.assertEqual(rc, 2, results)
            self.assertIn(want, err)
        rc, _, err = run("test", self.suite("  []\n"))
        self.assertIn("results: required: a list of at least one", err)
        rc, _, err = run("test", self.suite("  - {resource: Pod/a/b, result: allow}\n", extra="namespace: Bad\n"))
        self.assertIn('namespace: "Bad" is not a namespace name', err)
        p = self.write("two.yaml", "name: a\n---\nname: b\n")
        rc, _, err = run("test", p)
        self.assertEqual(rc, 2)
        self.assertIn("2 documents: a test file is one document", err)
        p = self.write("syntax.yaml", "name: [a\nresults: x\n")
        rc, _, err = run("test", p)
        self.assertEqual(rc, 2)
        self.assertRegex(err, r"syntax.yaml: line \d+, column \d+: ")
        p = self.write("stdin.yaml", "profiles: ['-']\nresources: [a]\nresults: [{resource: Pod/a/b, result: allow}]\n")
        rc, _, err = run("test", p)
        self.assertIn('profiles[0]: "-" (stdin) cannot be read from a test file', err)

    def test_bad_manifests_are_checks_errors_and_other_suites_still_run(self):
        self.write("a/profileguard-test.yaml", "profiles: [%s]\nresources: [%s]\nresults:\n"
                   "  - {resource: Pod/shop/cart, result: allow}\n" % (ex("profiles"), ex("broken", "bad-yaml.yaml")))
        self.write("b/profileguard-test.yaml", "profiles: [%s]\nresources: [%s]\nresults:\n"
                   "  - {resource: Pod/shop/cart, result: allow}\n" % (ex("profiles"), ex("manifests", "good")))
        rc, out, err = run("test", self.dir)
        self.assertEqual(rc, 2, out + err)
        _, _, chk = run("check", "-p", ex("profiles"), "-f", ex("broken", "bad-yaml.yaml"))
        # check's message, word for word, under test's prefix
        msg = chk.splitlines()[0].replace("profileguard check: ", "profileguard test: ", 1)
        self.assertIn("YAML syntax error", msg)
        self.assertIn(msg, err.splitlines())
        self.assertIn("PASS %s: Pod/shop/cart: allow" % os.path.join(self.dir, "b", "profileguard-test.yaml"), out)
        self.assertTrue(out.endswith("1 case: 1 passed, 0 failed; 1 error: bad input, see above\n"), out)

    def test_output_format_and_flags(self):
        rc, out, err = run("test", "-o", "yaml", ex("tests"))
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertIn("-o/--output must be text, json or junit (got \"yaml\")", err)
        # flags after paths, as in kubectl; "--" ends the flags
        rc, out, err = run("test", ex("tests"), "-o", "json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["summary"]["passed"], 12)
        rc, out, err = run("test", "--", "-o")
        self.assertEqual(rc, 2)
        self.assertIn("-o", err)
        rc, _, err = run("test", "--outptu", "json", ex("tests"))
        self.assertEqual(rc, 2)
        self.assertIn("did you mean --output?", err)
        rc, out, _ = run("test", "-oJSON", ex("tests"))
        self.assertEqual(rc, 0)
        self.assertEqual(json.loads(out)["summary"]["passed"], 12)


class Discovery(Tmp):
    def test_directories_searched_for_the_file_name(self):
        case = "  - {resource: Pod/shop/cart, result: allow}\n"
        self.suite(case, rel="z/profileguard-test.yaml", extra="")
        self.suite(case, rel="a/deep/er/profileguard-test.yaml")
        self.suite("  - {resource: Pod/shop/cart, result: deny}\n", rel=".hidden/profileguard-test.yaml")
        self.suite("  - {resource: Pod/shop/cart, result: deny}\n", rel="a/other-test.yaml")
        self.write("a/profileguard-test.yml", "not: read\n")
        rc, out, err = run("test", "-o", "json", self.dir)
        self.assertEqual(rc, 0, out + err)
        files = [s["file"] for s in json.loads(out)["suites"]]
        self.assertEqual(files, [os.path.join(self.dir, "a/deep/er/profileguard-test.yaml"),
                                 os.path.join(self.dir, "z/profileguard-test.yaml")])
        # a file named on the command line is read whatever its name
        rc, out, _ = run("test", os.path.join(self.dir, "a", "other-test.yaml"))
        self.assertEqual(rc, 1)
        # no path: the current directory
        rc, out, _ = run("test", cwd=os.path.join(self.dir, "z"))
        self.assertEqual(rc, 0)
        self.assertIn("PASS t: Pod/shop/cart: allow", out)

    def test_nothing_found_is_not_a_pass(self):
        os.mkdir(os.path.join(self.dir, "empty"))
        rc, out, err = run("test", os.path.join(self.dir, "empty"))
        self.assertEqual(rc, 2)
        self.assertIn("empty: no profileguard-test.yaml in this directory or below it", err)
        rc, _, err = run("test", os.path.join(self.dir, "missing"))
        self.assertEqual(rc, 2)
        self.assertIn("missing: No such file or directory", err)

    def test_test_file_cap(self):
        # 1,000 test files in one run are the cap: all run; one more is a
        # refusal naming the cap (exit 2), not a silent skip
        case = "  - {resource: Pod/shop/cart, result: allow}\n"
        for i in range(1000):
            self.suite(case, rel="s%04d/profileguard-test.yaml" % i)
        rc, out, err = run("test", self.dir)
        self.assertEqual(rc, 0, err)
        self.assertIn("1000 cases: 1000 passed, 0 failed", out)
        self.assertNotIn("cap", err)
        self.suite(case, rel="s1000/profileguard-test.yaml")
        rc, out, err = run("test", self.dir)
        self.assertEqual(rc, 2, out)
        self.assertIn(os.path.join(self.dir, "s1000", "profileguard-test.yaml") +
                      ": more than the cap of 1000 test files in one run", err)

    def test_dangling_links_and_depth(self):
        case = "  - {resource: Pod/shop/cart, result: allow}\n"
        self.suite(case, rel="a/profileguard-test.yaml")
        # a dangling link, even one with the file's name, is not a test
        os.symlink(os.path.join(self.dir, "gone"), os.path.join(self.dir, "b"))
        os.makedirs(os.path.join(self.dir, "c"))
        os.symlink(os.path.join(self.dir, "gone"), os.path.join(self.dir, "c", "profileguard-test.yaml"))
        rc, out, err = run("test", "-o", "json", self.dir)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual([s["file"] for s in json.loads(out)["suites"]],
                         [os.path.join(self.dir, "a/profileguard-test.yaml")])
        # 16 directories below the operand are searched, the 17th is not
        deep = os.path.join(*["d"] * 16)
        self.suite(case, rel=os.path.join(deep, "profileguard-test.yaml"))
        rc, out, err = run("test", "-o", "json", self.dir)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(len(json.loads(out)["suites"]), 2)
        self.suite(case, rel=os.path.join(deep, "d", "profileguard-test.yaml"))
        rc, out, err = run("test", self.dir)
        self.assertEqual(rc, 2, out)
        self.assertIn(os.path.join(self.dir, deep, "d") + ": directories nest deeper than the cap of 16", err)

    def test_relative_paths_are_the_test_files(self):
        # the example suites name ../../profiles from their own directory,
        # whatever the working directory
        for cwd in (ROOT, ex("tests", "payments"), "/"):
            rc, out, err = run("test", ex("tests", "payments", "profileguard-test.yaml"), cwd=cwd)
            self.assertEqual(rc, 0, out + err)


class Reports(Tmp):
    def test_junit(self):
        report = os.path.join(self.dir, "report.xml")
        self.write("bad/profileguard-test.yaml", "nme: x\n")
        shutil.copytree(FAILING, os.path.join(self.dir, "failing"))
        # the copied suite names paths relative to the original place
        with open(os.path.join(FAILING, "failing", "profileguard-test.yaml")) as f:
            text = f.read()
        self.write("failing/failing/profileguard-test.yaml", text.replace("../../../../examples", EX))
        rc, out, err = run("test", "-o", "junit", "--output-file", report, self.dir)
        self.assertEqual(rc, 2, out + err)
        self.assertEqual(out, "7 cases: 1 passed, 6 failed; bad input, see errors above\n")
        root = ET.parse(report).getroot()
        self.assertEqual(root.tag, "testsuites")
        self.assertEqual((root.get("tests"), root.get("failures"), root.get("errors")), ("8", "6", "1"))
        suites = {s.get("name"): s for s in root.findall("testsuite")}
        bad = suites[os.path.join(self.dir, "bad", "profileguard-test.yaml")]
        self.assertEqual((bad.get("tests"), bad.get("failures"), bad.get("errors")), ("1", "0", "1"))
        e = bad.find("testcase/error")
        self.assertIn('nme: unknown key (did you mean "name"?)', e.get("message"))
        f = suites["failing"]
        self.assertEqual((f.get("tests"), f.get("failures"), f.get("errors")), ("7", "6", "0"))
        cases = {c.get("name"): c for c in f.findall("testcase")}
        self.assertEqual(len(cases), 7)
        self.assertIsNone(cases["Pod/shop/cart"].find("failure"))
        self.assertEqual(cases["Pod/shop/cart"].get("classname"), "failing")
        fail = cases["Pod/payments/payments-api-debug"].find("failure")
        self.assertEqual(fail.get("message"), "expected allow, got deny")
        self.assertIn('spec.containers[1].image: "nginx:latest" not allowed by payments/payments-api images.allow',
                      fail.text)
        self.assertEqual(cases["Deployment/web/frontend-canry"].find("failure").get("type"), "NoSuchResource")

    def test_junit_escapes_everything(self):
        name = "a<b>&\"c\" 'd'\x01\u00e9\n2"
        p = self.write("profileguard-test.yaml", "name: %s\nprofiles: [%s]\nresources: [%s]\nresults:\n"
                       "  - {resource: Pod/shop/cart, result: deny}\n" % (json.dumps(name), ex("profiles"), ex("manifests", "good")))
        rc, out, _ = run("test", "-o", "junit", p)
        self.assertEqual(rc, 1)
        root = ET.fromstring(out)
        s = root.find("testsuite")
        self.assertEqual(s.get("name"), name.replace("\x01", "\ufffd"))
        self.assertEqual(s.find("testcase").get("classname"), name.replace("\x01", "\ufffd"))
        self.assertEqual(s.find("testcase/failure").get("message"), "expected deny, got allow")

    def test_json(self):
        rc, out, err = run("test", "-o", "json", FAILING)
        self.assertEqual(rc, 1, err)
        doc = json.loads(out)
        self.assertEqual(doc["summary"], {"suites": 1, "cases": 7, "passed": 1, "failed": 6, "errors": 0})
        self.assertEqual(doc["errors"], [])
        s = doc["suites"][0]
        self.assertEqual(set(s), {"file", "name", "passed", "cases", "errors"})
        self.assertEqual((s["name"], s["passed"], s["errors"]), ("failing", False, []))
        cases = {c["resource"]: c for c in s["cases"]}
        c = cases["Pod/payments/payments-api-legacy"]
        self.assertEqual(set(c), {"resource", "kind", "namespace", "name", "passed", "message", "objects",
                                  "expected", "got"})
        self.assertEqual(c["expected"], {"result": "deny", "reasons": ["LegacyToken"]})
        self.assertEqual(c["got"]["result"], "deny")
        self.assertEqual(c["got"]["reasons"], ["LegacyToken", "TokenTTLExceeded"])
        self.assertEqual(c["got"]["rules"], ["identity.extendedTokens", "identity.legacyTokenSecrets",
                                             "identity.maxTokenExpirationSeconds"])
        self.assertEqual(len(c["got"]["findings"]), 6)
        self.assertEqual(set(c["got"]["findings"][0]), {"reason", "rule", "path", "profile", "mode", "message"})
        self.assertEqual(c["got"]["findingsNotListed"], 0)
        self.assertFalse(c["passed"])
        self.assertIn("expected reasons", c["message"])
        ok = cases["Pod/shop/cart"]
        self.assertTrue(ok["passed"])
        self.assertIsNone(ok["message"])
        missing = cases["Deployment/web/frontend-canry"]
        self.assertIsNone(missing["got"])
        self.assertEqual(missing["objects"], 0)

        # every key the report has is documented
        with open(os.path.join(ROOT, "docs", "test.md")) as f:
            docs = f.read()

        def keys(v):
            if isinstance(v, dict):
                for k, x in v.items():
                    yield k
                    yield from keys(x)
            elif isinstance(v, list):
                for x in v:
                    yield from keys(x)
        for k in set(keys(doc)):
            self.assertIn("`%s`" % k, docs, k)

    def test_output_file_text(self):
        report = os.path.join(self.dir, "r.txt")
        rc, out, _ = run("test", "--output-file", report, ex("tests"))
        self.assertEqual(rc, 0)
        self.assertEqual(out, "12 cases: 12 passed, 0 failed\n")
        with open(report) as f:
            self.assertTrue(f.read().endswith("12 cases: 12 passed, 0 failed\n"))
        rc, _, err = run("test", "--output-file", os.path.join(self.dir, "no", "such", "dir"), ex("tests"))
        self.assertEqual(rc, 2)
        self.assertIn("--output-file", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
