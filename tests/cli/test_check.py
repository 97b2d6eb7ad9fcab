#!/usr/bin/env python3
"""CLI tests: run the built `profileguard` binary on examples/ and on broken
input, and assert its output and exit codes (SPEC §6)."""
import json
import os
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
        self.assertIn("6 objects checked: 6 passed, 0 denied, 0 allowed with warnings; 2 other objects skipped", out)
        self.assertEqual(err, "")

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
        self.assertEqual(doc["summary"], {"objects": 6, "passed": 0, "denied": 5, "warned": 1, "skipped": 0, "errors": 0})
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
