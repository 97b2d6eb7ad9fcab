#!/usr/bin/env python3
"""CLI tests: run the built `profileguard` binary on examples/ and on broken
input, and assert its output and exit codes (SPEC §6)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("PROFILEGUARD", "build/src/cmd/profileguard")
# hack/valgrind: every run under memcheck
WRAPPER = os.environ.get("PG_TEST_WRAPPER", "").split()
ROOT = os.environ.get("SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
EX = os.path.join(ROOT, "examples")
PROFILES = os.path.join(EX, "profiles")


def run(*args, stdin=None, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([*WRAPPER, BIN, *args], input=stdin, capture_output=True, text=True, env=e, timeout=600 if WRAPPER else 60)
    return p.returncode, p.stdout, p.stderr


def ex(*parts):
    return os.path.join(EX, *parts)


class CheckCommand(unittest.TestCase):
    def test_good_manifests_pass(self):
        rc, out, err = run("check", "-p", PROFILES, "-f", ex("manifests", "good"))
        self.assertEqual(rc, 0, out + err)
        # misc/toolbox: no profile lives in misc, so it is not judged, and
        # that is said (the first hour of a new user: it used to count as passed).
        self.assertIn("6 objects checked: 5 passed, 0 denied, 0 allowed with warnings; 1 not judged by any profile; "
                      "2 other objects skipped", out)
        self.assertEqual(err, "profileguard check: warning: %s: document 1: Pod misc/toolbox: no profile selects it, "
                         "nothing judged it\n" % ex("manifests", "good", "misc-pod.yaml"))

    def test_denied_pod_names_every_violation(self):
        rc, out, _ = run("check", "-p", PROFILES, "-f", ex("manifests", "bad", "payments-latest-image.yaml"))
        self.assertEqual(rc, 1)
        lines = out.splitlines()
        self.assertTrue(lines[0].endswith("payments-latest-image.yaml: document 1: Pod payments/payments-api-debug: denied"), lines[0])
        self.assertEqual(lines[1:4], [
            '  spec.serviceAccountName: "default" (unset) not allowed by payments/payments-api identity.serviceAccountNames',
            '  spec.containers[1].image: "nginx:latest" not allowed by payments/payments-api images.allow',
            '  spec.containers[1].image: "nginx:latest" has no @sha256 digest, one is required by payments/payments-api images.requireDigest',
        ])

    def test_privileged(self):
        rc, out, _ = run("check", "-p", PROFILES, "-f", ex("manifests", "bad", "payments-privileged.yaml"))
        self.assertEqual(rc, 1)
        for want in ("spec.hostNetwork: true forbidden by payments/payments-api privileges.hostNamespaces",
                     "spec.containers[0].securityContext.privileged: true forbidden by payments/payments-api privileges.privileged",
                     "spec.containers[0].securityContext.runAsUser: 0 (root) forbidden by payments/payments-api privileges.runAsNonRoot",
                     'spec.containers[0].securityContext.capabilities.add[1]: "SYS_ADMIN" not allowed by payments/payments-api privileges.allowedCapabilities',
                     'spec.volumes[0].hostPath.path: "/var/run/docker.sock" not allowed by payments/payments-api privileges.allowedHostPaths'):
            self.assertIn(want, out)

    def test_legacy_token_secret_known_from_same_input(self):
        rc, out, _ = run("check", "-p", PROFILES, "-f", ex("manifests", "bad", "payments-legacy-token.yaml"))
        self.assertEqual(rc, 1)
        self.assertIn('spec.volumes[0].secret.secretName: "payments-api-token" is a legacy service-account token Secret, '
                      'forbidden by payments/payments-api identity.legacyTokenSecrets', out)
        self.assertIn("3607 is silently extended to one year", out)
        self.assertIn("7200 exceeds 3600", out)
        self.assertEqual(out.count("identity.legacyTokenSecrets"), 3)

    def test_template_kinds_and_two_profiles(self):
        rc, out, _ = run("check", "-p", PROFILES, "-f", ex("manifests", "bad", "web-deployment.yaml"),
                         "-f", ex("manifests", "bad", "shop-both.yaml"))
        self.assertEqual(rc, 1)
        self.assertIn('spec.template.spec.initContainers[0].image: "busybox:1.36" not allowed by web/frontend images.allow', out)
        self.assertIn("by shop/backend-identity identity.serviceAccountNames", out)
        self.assertIn("by shop/cart-images images.requireDigest", out)

    def test_audit_findings_are_warnings_and_exit_zero(self):
        rc, out, _ = run("check", "-p", PROFILES, "-f", ex("manifests", "bad", "batch-audit.yaml"))
        self.assertEqual(rc, 0, out)
        self.assertIn("Job batch/export-orders: allowed with warnings", out)
        self.assertIn('  warning: spec.template.spec.containers[0].image: "python:3.12-slim" not allowed by batch/batch-jobs images.allow', out)
        self.assertIn("1 allowed with warnings", out)

    def test_profile_without_mode_is_audit(self):
        # The six-line profile someone applies to try the tool (SPEC §2:
        # mode defaults to Audit): its findings are warnings, exit 0;
        # the same profile saying Enforce denies.
        six = ("apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
               "metadata: {name: try, namespace: payments}\nspec:\n"
               "  selector: {matchLabels: {app: payments-api}}\n"
               "  privileges: {privileged: Forbid}\n")
        pod = ex("manifests", "bad", "payments-privileged.yaml")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "try.yaml"), "w") as f:
                f.write(six)
            rc, out, _ = run("check", "-p", d, "-f", pod)
            self.assertEqual(rc, 0, out)
            self.assertIn("Pod payments/payments-api-node-debug: allowed with warnings", out)
            self.assertIn("  warning: spec.containers[0].securityContext.privileged: true forbidden by "
                          "payments/try privileges.privileged", out)
            rc, out, _ = run("check", "-p", d, "-f", pod, "-o", "json")
            self.assertEqual(rc, 0, out)
            res = json.loads(out)["results"][0]
            self.assertTrue(res["allowed"])
            self.assertEqual(res["violations"], [])
            self.assertEqual(len(res["warnings"]), 1, res)
            with open(os.path.join(d, "try.yaml"), "w") as f:
                f.write(six + "  mode: Enforce\n")
            rc, out, _ = run("check", "-p", d, "-f", pod)
            self.assertEqual(rc, 1, out)
            self.assertIn("Pod payments/payments-api-node-debug: denied", out)

    def test_json_output(self):
        rc, out, _ = run("check", "-p", PROFILES, "-f", ex("manifests", "bad"), "-o", "json")
        self.assertEqual(rc, 1)
        doc = json.loads(out)
        self.assertEqual(doc["summary"], {"objects": 6, "passed": 0, "denied": 5, "warned": 1, "unjudged": 0,
                                          "skipped": 0, "errors": 0, "warnings": 0})
        by_name = {r["name"]: r for r in doc["results"]}
        latest = by_name["payments-api-debug"]
        self.assertFalse(latest["allowed"])
        self.assertEqual(latest["document"], 1)
        v = latest["violations"][1]
        self.assertEqual(v["rule"], "images.allow")
        self.assertEqual(v["path"], "spec.containers[1].image")
        self.assertEqual(v["profile"], "payments/payments-api")
        self.assertEqual(v["reason"], "AdmissionDrift")
        self.assertEqual(v["mode"], "Enforce")
        legacy = by_name["payments-api-legacy"]
        self.assertIn("TokenTTLExceeded", {x["reason"] for x in legacy["violations"]})
        self.assertIn("LegacyToken", {x["reason"] for x in legacy["violations"]})
        audit = by_name["export-orders"]
        self.assertTrue(audit["allowed"])
        self.assertEqual(len(audit["warnings"]), 3)
        self.assertEqual(audit["violations"], [])

    BORROWER = """apiVersion: v1
kind: Pod
metadata: {name: payments-api-debug, namespace: payments, labels: {app: payments-api-debug}}
spec:
  serviceAccountName: payments-api
  containers: [{name: debug, image: "nginx:latest", securityContext: {privileged: true}}]
"""

    def test_borrowed_service_account(self):
        # No profile selects the pod, yet it runs as the account
        # payments/payments-api names: identity binding denies it, with the
        # webhook's and the controller's sentence.
        rc, out, _ = run("check", "-p", PROFILES, "-f", "-", stdin=self.BORROWER)
        self.assertEqual(rc, 1, out)
        self.assertEqual(out.splitlines()[:2], [
            "-: document 1: Pod payments/payments-api-debug: denied",
            '  spec.serviceAccountName: "payments-api" is bound to payments/payments-api '
            "(identity.bindServiceAccounts); this pod is not selected by it"])
        rc, out, _ = run("check", "-p", PROFILES, "-f", "-", "-o", "json", stdin=self.BORROWER)
        self.assertEqual(rc, 1)
        v = json.loads(out)["results"][0]["violations"]
        self.assertEqual(len(v), 1)
        self.assertEqual((v[0]["reason"], v[0]["rule"], v[0]["path"], v[0]["profile"], v[0]["mode"]),
                         ("ServiceAccountBorrowed", "identity.bindServiceAccounts", "spec.serviceAccountName",
                          "payments/payments-api", "Enforce"))
        # A template whose pods would borrow: the same, at its path.
        dep = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "dbg", "namespace": "payments"},
               "spec": {"selector": {"matchLabels": {"app": "dbg"}},
                        "template": {"metadata": {"labels": {"app": "dbg"}},
                                     "spec": {"serviceAccountName": "payments-api",
                                              "containers": [{"name": "c", "image": "nginx"}]}}}}
        rc, out, _ = run("check", "-p", PROFILES, "-f", "-", stdin=json.dumps(dep))
        self.assertEqual(rc, 1)
        self.assertIn('  spec.template.spec.serviceAccountName: "payments-api" is bound to payments/payments-api '
                      "(identity.bindServiceAccounts); this pod is not selected by it", out)
        # batch/reporting binds "reporting" in Audit mode: a warning, exit 0.
        rc, out, _ = run("check", "-p", PROFILES, "-f", "-", stdin=self.BORROWER.replace(
            "payments-api-debug, namespace: payments", "tool, namespace: batch").replace(
            "serviceAccountName: payments-api", "serviceAccountName: reporting").replace(
            "app: payments-api-debug", "app.kubernetes.io/name: tool"))
        self.assertEqual(rc, 0, out)
        self.assertIn('  warning: spec.serviceAccountName: "reporting" is bound to batch/', out)

    def test_stdin_and_multi_doc(self):
        with open(ex("manifests", "bad", "payments-privileged.yaml")) as f:
            bad = f.read()
        with open(ex("manifests", "good", "payments-pod.yaml")) as f:
            good = f.read()
        rc, out, _ = run("check", "-p", PROFILES, "-f", "-", stdin=good + "\n---\n" + bad)
        self.assertEqual(rc, 1)
        self.assertIn("-: document 2: Pod payments/payments-api-node-debug: denied", out)
        self.assertIn("2 objects checked: 1 passed, 1 denied", out)

    def test_profiles_from_stdin(self):
        with open(os.path.join(PROFILES, "payments-api.yaml")) as f:
            prof = f.read()
        rc, out, _ = run("check", "-p", "-", "-f", ex("manifests", "bad", "payments-privileged.yaml"), stdin=prof)
        self.assertEqual(rc, 1)

    def test_list_kind(self):
        lst = {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "payments", "labels": {"app": "payments-api"}},
             "spec": {"containers": [{"name": "c", "image": "nginx"}]}}]}
        rc, out, _ = run("check", "-p", PROFILES, "-f", "-", stdin=json.dumps(lst))
        self.assertEqual(rc, 1)
        self.assertIn("-: document 1, item 1: Pod payments/a: denied", out)

    def test_bad_yaml_exit_2_names_file_doc_line(self):
        rc, out, err = run("check", "-p", PROFILES, "-f", ex("broken", "bad-yaml.yaml"))
        self.assertEqual(rc, 2)
        self.assertRegex(err, r"bad-yaml\.yaml: document 1: line 13, column 6: YAML syntax error")

    def test_not_k8s_exit_2(self):
        rc, _, err = run("check", "-p", PROFILES, "-f", ex("broken", "not-k8s.json"))
        self.assertEqual(rc, 2)
        self.assertIn("not-k8s.json: document 1: not a Kubernetes object", err)

    def test_bad_profile_every_error(self):
        rc, _, err = run("check", "-p", ex("broken", "bad-profile.yaml"), "-f", ex("manifests", "good"))
        self.assertEqual(rc, 2)
        for want in ("spec.selector: an empty selector is refused",
                     'spec.mode: "Enforcing" must be Enforce or Audit',
                     'spec.identity.serviceAcountNames: unknown field (did you mean "serviceAccountNames"?)',
                     "spec.runtime.egress[0].ports[1]: 70000 is not a port (1-65535)",
                     'spec.runtime.egress[1].cidr: "10.0.0.0/33" is not a CIDR'):
            self.assertIn("bad-profile.yaml: document 1: " + want, err)

    def test_bad_profile_among_manifests_is_bad_input(self):
        # an invalid WorkloadProfile given with -f is validated like one
        # given with -p (it used to crash the run: SIGSEGV)
        rc, out, err = run("check", "-p", PROFILES, "-f", ex("broken", "bad-profile.yaml"),
                           "-f", ex("manifests", "good", "shop-pod.yaml"))
        self.assertEqual(rc, 2, err)
        self.assertIn('bad-profile.yaml: document 1: spec.mode: "Enforcing" must be Enforce or Audit', err)
        self.assertNotIn("is among the manifests", err)
        self.assertIn("1 object checked: 1 passed", out)

    def test_bad_input_wins_over_violations_and_rest_still_checked(self):
        rc, out, err = run("check", "-p", PROFILES, "-f", ex("broken", "bad-yaml.yaml"),
                           "-f", ex("manifests", "bad", "shop-both.yaml"))
        self.assertEqual(rc, 2)
        self.assertIn("shop/cart-hotfix: denied", out)

    def test_malformed_pod_field_is_bad_input(self):
        pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: payments}\nspec: {containers: [{name: c, image: x, securityContext: {privileged: 'yes'}}]}\n"
        rc, _, err = run("check", "-p", PROFILES, "-f", "-", stdin=pod)
        self.assertEqual(rc, 2)
        self.assertIn("-: document 1: spec.containers[0].securityContext.privileged: must be true or false", err)

    def test_missing_file_and_usage(self):
        rc, _, err = run("check", "-p", PROFILES, "-f", "/nonexistent.yaml")
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent.yaml: No such file or directory", err)
        rc, _, err = run("check", "-f", "x")
        self.assertEqual(rc, 2)
        self.assertIn("need -p PROFILES and -f MANIFESTS", err)
        rc, _, err = run("check", "--bogus")
        self.assertEqual(rc, 2)
        self.assertIn("unknown flag --bogus", err)
        rc, _, err = run("check", "-p", PROFILES, "-f", ex("manifests", "good"), "-o", "yaml")
        self.assertEqual(rc, 2)

    def test_empty_directory(self):
        with tempfile.TemporaryDirectory() as d:
            rc, out, err = run("check", "-p", PROFILES, "-f", d)
            self.assertEqual(rc, 0, err)
            self.assertIn("0 objects checked", out)

    def test_no_profiles_found(self):
        rc, _, err = run("check", "-p", ex("manifests", "good"), "-f", ex("manifests", "good"))
        self.assertEqual(rc, 2)
        self.assertIn("no WorkloadProfile found", err)

    def test_env_flags(self):
        rc, out, _ = run("check", "-f", ex("manifests", "bad", "shop-both.yaml"),
                         env={"PROFILEGUARD_PROFILES": PROFILES, "PROFILEGUARD_OUTPUT": "json"})
        self.assertEqual(rc, 1)
        self.assertEqual(json.loads(out)["summary"]["denied"], 1)

    def test_oversized_and_deep_input(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("a: " + "[" * 200 + "]" * 200 + "\n")
            path = f.name
        try:
            rc, _, err = run("check", "-p", PROFILES, "-f", path)
            self.assertEqual(rc, 2)
            self.assertIn("nests deeper than", err)
        finally:
            os.unlink(path)

    def test_version_and_help(self):
        rc, out, _ = run("--version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^profileguard \d+\.\d+\.\d+")
        rc, out, _ = run("help", "check")
        self.assertEqual(rc, 0)
        self.assertIn("-p, --profiles PATH", out)
        self.assertIn("[$PROFILEGUARD_PROFILES]", out)
        rc, out, _ = run("check", "-h")
        self.assertEqual(rc, 0)
        rc, out, _ = run("help")
        self.assertEqual(rc, 0)
        self.assertIn("check", out)
        rc, _, err = run("nope")
        self.assertEqual(rc, 2)


# ---------------------------------------------------------------------------
# Bounds, NUL and digests (issue "Safety first"): shapes the fuzzers' 4 KB
# inputs could not reach.
# ---------------------------------------------------------------------------

GOOD = "registry.example.com/payments/api@sha256:682a1c47a1d34030b53d929d93f628b8e80e292b915f8c0e8d8fb51b3b7be968"


def payments_pod(name, spec):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "payments", "labels": {"app": "payments-api"}},
            "spec": spec}


def token_overflow_pod(ns="payments"):
    """17 projected volumes of 1,024 serviceAccountToken sources and 1,100
    env entries: about 1.2 MB, under etcd's 1.5 MB.  It overflowed the
    decoder's tokens array (a heap overflow, then "double free or
    corruption")."""
    vols = [{"name": "t%d" % v, "projected": {"sources": [
        {"serviceAccountToken": {"path": "t%d" % i, "expirationSeconds": 3600}} for i in range(1024)]}}
        for v in range(17)]
    env = [{"name": "E%d" % i, "value": "v"} for i in range(1100)]
    p = payments_pod("overflow", {"volumes": vols, "containers": [{"name": "c", "image": GOOD, "env": env}]})
    p["metadata"]["namespace"] = ns
    return p


SOURCES_CAP = "spec.volumes: more than 16384 projected sources in all volumes together (profileguard's limit)"


class Bounds(unittest.TestCase):
    def test_token_overflow_pod_refused_naming_the_cap(self):
        body = json.dumps(token_overflow_pod())
        self.assertGreater(len(body), 1_000_000)
        self.assertLess(len(body), 1_500_000)
        rc, out, err = run("check", "-p", PROFILES, "-f", "-", stdin=body)
        self.assertEqual(rc, 2, err[-2000:])
        self.assertIn("-: document 1: " + SOURCES_CAP, err)
        self.assertNotIn("double free", err)

    def test_env_past_its_cap_refused(self):
        env = [{"name": "E%d" % i, "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}} for i in range(16385)]
        body = json.dumps(payments_pod("env", {"containers": [{"name": "c", "image": GOOD, "env": env}]}))
        rc, _, err = run("check", "-p", PROFILES, "-f", "-", stdin=body)
        self.assertEqual(rc, 2)
        self.assertIn("-: document 1: spec.containers[0].env: more than 16384 items (profileguard's limit)", err)

    def test_legacy_token_behind_18000_secret_refs_found(self):
        """18,000 secretKeyRefs in two containers, then an envFrom of a
        token Secret: references past 16,384 were dropped, and the envFrom
        with them, so legacyTokenSecrets: Forbid passed."""
        with open(ex("manifests", "bad", "payments-legacy-token.yaml")) as f:
            secret = f.read().split("\n---\n")[0]
        env = [{"name": "E%d" % i, "valueFrom": {"secretKeyRef": {"name": "plain", "key": "k"}}} for i in range(9000)]
        pod = payments_pod("hidden", {"containers": [
            {"name": "a", "image": GOOD, "env": env},
            {"name": "b", "image": GOOD, "env": env, "envFrom": [{"secretRef": {"name": "payments-api-token"}}]}]})
        rc, out, err = run("check", "-p", PROFILES, "-f", "-", stdin=secret + "\n---\n" + json.dumps(pod) + "\n")
        self.assertEqual(rc, 1, out + err)
        self.assertIn('spec.containers[1].envFrom[0].secretRef.name: "payments-api-token" is a legacy '
                      'service-account token Secret, forbidden by payments/payments-api identity.legacyTokenSecrets', out)

    def test_nul_in_image_refused(self):
        body = json.dumps(payments_pod("nul", {"containers": [
            {"name": "c", "image": "registry.example.com/payments/x\u0000evil.com/x"}]}))
        self.assertIn("\\u0000", body)
        rc, _, err = run("check", "-p", PROFILES, "-f", "-", stdin=body)
        self.assertEqual(rc, 2, err)
        self.assertIn("-: document 1: spec.containers[0].image: must not contain NUL", err)

    def test_tag_beside_digest_is_not_the_tag(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "p.yaml"), "w") as f:
                f.write("apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
                        "metadata: {name: web, namespace: web}\n"
                        "spec: {selector: {matchLabels: {app: web}}, mode: Enforce, images: {allow: ['nginx:1.25']}}\n")
            any_build = "nginx:1.25@sha256:" + "f" * 64

            def pod(image):
                return json.dumps({"apiVersion": "v1", "kind": "Pod",
                                   "metadata": {"name": "w", "namespace": "web", "labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "c", "image": image}]}})
            rc, out, err = run("check", "-p", d, "-f", "-", stdin=pod(any_build))
            self.assertEqual(rc, 1, out + err)
            self.assertIn('spec.containers[0].image: "%s" not allowed by web/web images.allow' % any_build, out)
            rc, out, err = run("check", "-p", d, "-f", "-", stdin=pod("nginx:1.25"))
            self.assertEqual(rc, 0, out + err)



# ---------------------------------------------------------------------------
# The first hour of a new user (SPEC §6): nothing judged never looks like a
# pass, profiles passed the wrong way are named, JSON has one shape.
# ---------------------------------------------------------------------------

PAYMENTS_PROFILE = ("apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
                    "metadata: {name: api, namespace: payments}\n"
                    "spec: {selector: {matchLabels: {app: api}}, mode: Enforce, privileges: {privileged: Forbid}}\n")
# As argo-cd renders it: no metadata.namespace, applied with -n payments.
NO_NS_POD = ("apiVersion: v1\nkind: Pod\nmetadata: {name: api, labels: {app: api}}\n"
             "spec: {containers: [{name: c, image: x, securityContext: {privileged: true}}]}\n")


class Tmp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name, text):
        p = os.path.join(self.tmp.name, name)
        with open(p, "w") as f:
            f.write(text)
        return p


class NothingJudged(Tmp):
    def test_manifest_without_namespace_is_not_a_silent_pass(self):
        prof = self.path("p.yaml", PAYMENTS_PROFILE)
        pod = self.path("pod.yaml", NO_NS_POD)
        rc, out, err = run("check", "-p", prof, "-f", pod)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("1 object checked: 0 passed, 0 denied, 0 allowed with warnings; 1 not judged by any profile; "
                      "0 other objects skipped", out)
        self.assertIn("warning: %s: document 1: Pod default/api: no profile selects it, nothing judged it" % pod, err)
        self.assertIn("warning: profile payments/api (%s: document 1) selects no object in the inputs" % prof, err)
        rc, out, err = run("check", "-p", prof, "-f", pod, "--require-profile")
        self.assertEqual(rc, 1, out + err)
        # -n: the namespace kubectl apply -n would give it
        for ns in (["-n", "payments"], ["--namespace", "payments"], ["--namespace=payments"]):
            rc, out, err = run("check", "-p", prof, "-f", pod, *ns)
            self.assertEqual(rc, 1, out + err)
            self.assertIn("Pod payments/api: denied", out)
            self.assertIn("1 object checked: 0 passed, 1 denied, 0 allowed with warnings; 0 other objects skipped\n", out)
            self.assertEqual(err, "")

    def test_namespace_given_by_the_object_wins(self):
        prof = self.path("p.yaml", PAYMENTS_PROFILE)
        pod = self.path("pod.yaml", NO_NS_POD.replace("{name: api,", "{name: api, namespace: payments,"))
        rc, out, err = run("check", "-p", prof, "-f", pod, "-n", "other")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("Pod payments/api: denied", out)

    def test_namespace_must_be_a_namespace_name(self):
        prof = self.path("p.yaml", PAYMENTS_PROFILE)
        pod = self.path("pod.yaml", NO_NS_POD)
        at_cap = "a" * 63
        rc, out, err = run("check", "-p", prof, "-f", pod, "-n", at_cap, "-o", "json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["results"][0]["namespace"], at_cap)
        rc, out, err = run("check", "-p", prof, "-f", pod, "-n", "a" * 64)
        self.assertEqual(rc, 2)
        self.assertIn("-n: a namespace name is at most 63 characters", err)
        for bad in ("Payments", "pay_ments", "-x", ""):
            rc, out, err = run("check", "-p", prof, "-f", pod, "-n", bad)
            self.assertEqual(rc, 2, bad)
            self.assertIn("-n: %s is not a namespace name (RFC 1123 label: a-z, 0-9 and '-')" % json.dumps(bad), err)

    def test_require_profile(self):
        rc, out, err = run("check", "-p", PROFILES, "-f", ex("manifests", "good"), "--require-profile")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("misc-pod.yaml: document 1: Pod misc/toolbox: no profile selects it", err)
        rc, out, err = run("check", "-p", PROFILES, "-f", ex("manifests", "good", "payments-pod.yaml"), "--require-profile")
        self.assertEqual(rc, 0, out + err)
        # borrowing an account: judged by the profile that binds it
        rc, out, err = run("check", "-p", PROFILES, "-f", "-", "--require-profile", "-o", "json", stdin=CheckCommand.BORROWER)
        self.assertEqual(rc, 1)
        res = json.loads(out)["results"][0]
        self.assertEqual(res["profiles"], ["payments/payments-api"])

    def test_warnings_past_their_cap_are_counted(self):
        # one warning per object no profile judges; 1,000 are listed, past
        # that they are counted (as errors are), never dropped unsaid
        def pods(n):
            return "---\n".join("apiVersion: v1\nkind: Pod\nmetadata: {name: p%d, namespace: misc}\n"
                                "spec: {containers: [{name: c, image: x}]}\n" % i for i in range(n))
        prof = ex("manifests", "good", "payments-pod.yaml")
        for n, listed in ((999, 999), (1000, 1000), (1001, 1000)):
            # payments-api alone, which selects the payments pod: no profile warning
            rc, out, err = run("check", "-p", os.path.join(PROFILES, "payments-api.yaml"), "-f", prof, "-f", "-",
                               stdin=pods(n))
            self.assertEqual(rc, 0, err[-500:])
            self.assertEqual(err.count(": no profile selects it"), listed)
            if n > listed:
                self.assertIn("warning: ... and %d more warnings (the first 1000 are listed)" % (n - listed), err)
            else:
                self.assertNotIn("more warnings", err)
            rc, out, err = run("check", "-p", os.path.join(PROFILES, "payments-api.yaml"), "-f", prof, "-f", "-",
                               "-o", "json", stdin=pods(n))
            doc = json.loads(out)
            self.assertEqual(len(doc["warnings"]), listed)
            self.assertEqual(doc["summary"]["warnings"], n)
            self.assertEqual(doc["summary"]["unjudged"], n)

    def test_every_unused_profile_is_named(self):
        rc, out, err = run("check", "-p", PROFILES, "-f", ex("manifests", "good", "payments-pod.yaml"))
        self.assertEqual(rc, 0, out + err)
        for prof in ("batch/batch-jobs", "web/frontend", "shop/backend-identity", "shop/cart-images"):
            self.assertIn("warning: profile %s (" % prof, err)
        self.assertNotIn("payments/payments-api (", err)


class ProfilesGivenWrong(Tmp):
    def test_profile_among_manifests_says_use_p(self):
        prof = self.path("p.yaml", PAYMENTS_PROFILE)
        pod = self.path("pod.yaml", NO_NS_POD)
        both = self.path("both.yaml", PAYMENTS_PROFILE + "---\n" + NO_NS_POD)
        rc, out, err = run("check", "-p", PROFILES, "-f", both, "-n", "payments")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("warning: %s: document 1: WorkloadProfile payments/api is among the manifests (-f): "
                      "it is checked for validity but judges nothing; pass it with -p" % both, err)
        # given with -p as well (-p k8s/ -f k8s/): applied, no warning
        rc, out, err = run("check", "-p", prof, "-f", both, "-n", "payments")
        self.assertEqual(rc, 1, out + err)
        self.assertNotIn("among the manifests", err)

    def test_duplicate_profiles_are_an_error(self):
        a = self.path("a.yaml", PAYMENTS_PROFILE)
        b = self.path("b.yaml", PAYMENTS_PROFILE.replace("privileged: Forbid", "privileged: Allow"))
        pod = self.path("pod.yaml", NO_NS_POD)
        rc, out, err = run("check", "-p", a, "-p", b, "-f", pod, "-n", "payments")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("%s: document 1: WorkloadProfile payments/api is also defined at %s: document 1; "
                      "two profiles with one namespace/name: the last would silently win" % (b, a), err)
        two = self.path("two.yaml", PAYMENTS_PROFILE + "---\n" + PAYMENTS_PROFILE)
        rc, out, err = run("check", "-p", two, "-f", pod, "-n", "payments", "-o", "json")
        self.assertEqual(rc, 2, out + err)
        e = json.loads(out)["errors"]
        self.assertEqual([(x["file"], x["document"]) for x in e], [(two, 2)])
        self.assertIn("also defined at %s: document 1" % two, e[0]["message"])
        # the same document named twice is one profile
        rc, out, err = run("check", "-p", a, "-p", a, "-p", self.tmp.name + "/./a.yaml", "-f", pod, "-n", "payments")
        self.assertEqual(rc, 1, out + err)
        self.assertNotIn("also defined", err)
        # a profile without a namespace takes -n's, so these two clash too
        nons = self.path("nons.yaml", PAYMENTS_PROFILE.replace(", namespace: payments}", "}"))
        rc, out, err = run("check", "-p", a, "-p", nons, "-f", pod, "-n", "payments")
        self.assertEqual(rc, 2, out + err)


# The JSON schema of docs/check.md, as a checker: every key, its type, and
# no key the document does not name.  A type is a Python type, a tuple of
# choices, a dict (an object: key -> (type, required)), or a list of one type.
STR, INT, BOOL = str, int, bool
FINDING = {"reason": (STR, True), "rule": (STR, True), "path": (STR, True), "profile": (STR, True),
           "mode": (("Enforce", "Audit"), True), "message": (STR, True)}
EVENT_FINDING = dict(FINDING, kind=(STR, True), namespace=(STR, True), workload=(STR, True))
SCHEMA = {
    "results": ([{
        "file": (STR, True), "document": (INT, True), "item": (INT, False), "kind": (STR, True),
        "namespace": (STR, True), "name": (STR, True), "allowed": (BOOL, True), "judged": (BOOL, True),
        "profiles": ([STR], True), "violations": ([FINDING], True), "warnings": ([FINDING], True)}], True),
    "events": ([{"file": (STR, True), "findings": ([EVENT_FINDING], True)}], False),
    "warnings": ([{
        "type": (("ProfileSelectsNothing", "NotJudged", "ProfileInManifests"), True),
        "file": (STR, True), "document": (INT, True), "item": (INT, False),
        "kind": (STR, True), "namespace": (STR, True), "name": (STR, True), "message": (STR, True)}], True),
    "errors": ([{"file": (STR, False), "document": (INT, False), "item": (INT, False), "line": (INT, False),
                 "column": (INT, False), "path": (STR, False), "message": (STR, True)}], True),
    "summary": ({"objects": (INT, True), "passed": (INT, True), "denied": (INT, True), "warned": (INT, True),
                 "unjudged": (INT, True), "skipped": (INT, True), "errors": (INT, True), "warnings": (INT, True),
                 "events": ({"judged": (INT, True), "findings": (INT, True), "enforce": (INT, True),
                             "unattributed": (INT, True)}, False)}, True),
}


def schema_errors(v, t, where="$"):
    if isinstance(t, dict):
        if not isinstance(v, dict):
            return ["%s: not an object" % where]
        errs = ["%s.%s: not in the schema" % (where, k) for k in v if k not in t]
        for k, (kt, req) in t.items():
            if k in v:
                errs += schema_errors(v[k], kt, "%s.%s" % (where, k))
            elif req:
                errs.append("%s.%s: missing" % (where, k))
        return errs
    if isinstance(t, list):
        if not isinstance(v, list):
            return ["%s: not an array" % where]
        return [e for i, x in enumerate(v) for e in schema_errors(x, t[0], "%s[%d]" % (where, i))]
    if isinstance(t, tuple):
        return [] if v in t else ["%s: %r not one of %r" % (where, v, t)]
    if t is int and isinstance(v, bool):
        return ["%s: a boolean, not an integer" % where]
    return [] if isinstance(v, t) else ["%s: %r is not %s" % (where, v, t.__name__)]


class JsonShape(Tmp):
    def test_schema_checker_catches_drift(self):
        # the checker itself can fail
        self.assertEqual(schema_errors({"a": 1}, {"a": (INT, True)}), [])
        self.assertTrue(schema_errors({"a": True}, {"a": (INT, True)}))
        self.assertTrue(schema_errors({"a": 1, "b": 2}, {"a": (INT, True)}))
        self.assertTrue(schema_errors({}, {"a": (INT, True)}))
        self.assertTrue(schema_errors({"a": [{"x": 1}]}, {"a": ([{"x": (STR, True)}], True)}))

    def test_docs_name_every_key(self):
        with open(os.path.join(ROOT, "docs", "check.md")) as f:
            doc = f.read()

        def keys(t):
            if isinstance(t, dict):
                for k, (kt, _) in t.items():
                    yield k
                    yield from keys(kt)
            elif isinstance(t, list):
                yield from keys(t[0])
        for k in set(keys(SCHEMA)):
            self.assertIn("`%s`" % k, doc, k)
        # and its example is of that shape
        example = json.loads(doc.split("### Example\n\n```json\n", 1)[1].split("```", 1)[0])
        self.assertEqual(schema_errors(example, SCHEMA), [])

    def run_everything(self):
        with open(ex("manifests", "bad", "payments-privileged.yaml")) as f:
            bad = f.read()
        pod = self.path("pod.yaml", bad.replace("name: payments-api-node-debug", "name: payments-api"))
        events = self.path("ev.jsonl", "\n".join(json.dumps({
            "kind": "exec", "time": "2026-11-22T11:00:00Z", "node": "n", "container": "api",
            "pod": {"namespace": "payments", "name": "payments-api-7d9f-x2"}, "exe": "/usr/bin/nc"}) for _ in range(2)) + "\n")
        prof_in_f = self.path("prof.yaml", PAYMENTS_PROFILE)
        return run("check", "-p", PROFILES, "-f", pod, "-f", ex("manifests", "good", "misc-pod.yaml"),
                   "-f", ex("manifests", "bad", "batch-audit.yaml"), "-f", ex("broken", "bad-yaml.yaml"),
                   "-f", prof_in_f, "-f", "-", "--events", events, "-o", "json",
                   stdin="apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: payments}\n"
                         "spec: {containers: [{name: c, image: x, securityContext: {privileged: 'yes'}}]}\n")

    def test_real_output_matches_the_documented_schema(self):
        rc, out, err = self.run_everything()
        self.assertEqual(rc, 2, err)
        doc = json.loads(out)
        self.assertEqual(schema_errors(doc, SCHEMA), [])
        # every part of the schema is exercised by this run
        res = {r["name"]: r for r in doc["results"]}
        self.assertTrue(res["payments-api"]["violations"])
        self.assertTrue(res["export-orders"]["warnings"])
        self.assertEqual(res["payments-api"]["profiles"], ["payments/payments-api"])
        self.assertEqual(res["toolbox"]["profiles"], [])
        self.assertFalse(res["toolbox"]["judged"])
        self.assertEqual({w["type"] for w in doc["warnings"]}, {"ProfileSelectsNothing", "NotJudged", "ProfileInManifests"})
        self.assertEqual(doc["summary"]["unjudged"], 1)
        self.assertEqual(len(doc["events"]), 1)
        self.assertEqual(len(doc["events"][0]["findings"]), 2)
        self.assertEqual(doc["events"][0]["findings"][0]["workload"], "payments-api")
        # one shape per array: this is what a script does
        self.assertEqual(len([v for r in doc["results"] for v in r["violations"]]),
                         sum(len(r["violations"]) for r in res.values()))
        errs = doc["errors"]
        yaml_err = [e for e in errs if e.get("line")]
        self.assertEqual(len(yaml_err), 1, errs)
        self.assertTrue(yaml_err[0]["file"].endswith("bad-yaml.yaml"))
        self.assertEqual((yaml_err[0]["document"], yaml_err[0]["line"], yaml_err[0]["column"]), (1, 13, 6))
        self.assertIn("YAML syntax error", yaml_err[0]["message"])
        field = [e for e in errs if e.get("path")]
        self.assertEqual(field, [{"file": "-", "document": 1, "path": "spec.containers[0].securityContext.privileged",
                                  "message": "must be true or false"}])

    def test_errors_without_document(self):
        rc, out, err = run("check", "-p", PROFILES, "-f", "/nonexistent.yaml", "-o", "json")
        self.assertEqual(rc, 2)
        doc = json.loads(out)
        self.assertEqual(schema_errors(doc, SCHEMA), [])
        self.assertEqual(doc["errors"], [{"file": "/nonexistent.yaml", "message": "No such file or directory"}])
        rc, out, err = run("check", "-p", ex("manifests", "good"), "-f", ex("manifests", "good"), "-o", "json")
        self.assertEqual(rc, 2)
        self.assertEqual(json.loads(out)["errors"], [{"message": "no WorkloadProfile found in the -p inputs"}])

class MaxRisk(unittest.TestCase):
    """identity.maxRisk offline: the RBAC among the manifests is judged with the controller's
    engine, and a workload whose account is above its profile's ceiling is denied, naming each
    finding above it and the binding it comes through (docs/identities.md)."""
    PROFILE = """apiVersion: profileguard.io/v1alpha1
kind: WorkloadProfile
metadata: {name: api, namespace: pay}
spec:
  mode: Enforce
  selector: {matchLabels: {app: api}}
  identity: {maxRisk: %s}
"""
    MANIFESTS = """apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: app, namespace: pay}
rules:
- {apiGroups: [""], resources: [secrets], verbs: [get, list], resourceNames: [one]}
- {apiGroups: [""], resources: [configmaps], verbs: ["*"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: app, namespace: pay}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: app}
subjects: [{kind: ServiceAccount, name: api}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: pay}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {serviceAccountName: api, containers: [{name: c, image: i}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: quiet, namespace: pay}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {serviceAccountName: quiet, containers: [{name: c, image: i}]}
"""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pgmaxrisk-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, text):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_denied_above_the_ceiling(self):
        p = self.write("p.yaml", self.PROFILE % "Medium")
        m = self.write("m.yaml", self.MANIFESTS)
        code, out, err = run("check", "-p", p, "-f", m, "-o", "json")
        self.assertEqual(code, 1, out + err)
        res = {r["name"]: r for r in json.loads(out)["results"]}
        self.assertFalse(res["api"]["allowed"])
        v = res["api"]["violations"]
        self.assertEqual(len(v), 1)
        self.assertEqual(v[0]["reason"], "IdentityRiskExceeded")
        self.assertEqual(v[0]["rule"], "identity.maxRisk")
        # resourceNames do not narrow read-secrets; the Medium wildcard is at the ceiling, not named
        self.assertEqual(v[0]["message"],
                         'spec.template.spec.serviceAccountName: ServiceAccount "api" has RBAC risk Critical, '
                         'above Medium (read-secrets (Critical): get,list secrets in pay via RoleBinding pay/app '
                         '-> Role pay/app), not allowed by pay/api identity.maxRisk')
        # an account no binding names has no risk: allowed
        self.assertTrue(res["quiet"]["allowed"])

    def test_at_the_ceiling_passes(self):
        p = self.write("p.yaml", self.PROFILE % "Critical")
        m = self.write("m.yaml", self.MANIFESTS)
        code, out, err = run("check", "-p", p, "-f", m)
        self.assertEqual(code, 0, out + err)

    def test_without_rbac_in_the_inputs_not_judged(self):
        p = self.write("p.yaml", self.PROFILE % "Low")
        # the same workloads without the Role and binding: the account's risk is unknown offline
        only_apps = "---\n".join(d for d in self.MANIFESTS.split("---\n") if "apps/v1" in d)
        m = self.write("m2.yaml", only_apps)
        code, out, err = run("check", "-p", p, "-f", m)
        self.assertEqual(code, 0, out + err)

    def test_bad_value(self):
        p = self.write("p.yaml", self.PROFILE % "Severe")
        m = self.write("m.yaml", self.MANIFESTS)
        code, out, err = run("check", "-p", p, "-f", m)
        self.assertEqual(code, 2, out + err)
        self.assertIn('spec.identity.maxRisk: "Severe" must be Low, Medium, High or Critical', err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
