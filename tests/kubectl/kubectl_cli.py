#!/usr/bin/env python3
"""The kubectl commands of the demo (hack/demo.py), run with the real kubectl
against the API stand-in, with the real `profileguard webhook` registered as a
ValidatingWebhookConfiguration with the chart's rules, and their output
asserted: the CRD installed and listed, invalid profiles refused by the CRD's
schema and by the webhook, a bad pod and a bad Deployment refused at apply, a
compliant pod admitted, updates judged, `get wp` printing the CRD's columns
from each profile's spec and status, `get events`, `explain`.

Skipped (exit 77, meson's skip) when no kubectl is on the PATH.

usage: kubectl_cli.py --binary PROFILEGUARD --srcdir SRC [--keep] [unittest args]
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import pgharness as h  # noqa: E402

KUBECTL = shutil.which("kubectl")
NS = "payments"
DIGEST = "@sha256:" + "9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a4f2a6c8e0b1d3f5a7c9e1b3d5f7a"
GOOD_CONTAINER = {"name": "api", "image": "registry.example.com/payments/api:2.14.3" + DIGEST,
                  "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
POD_SPEC = {"serviceAccountName": "payments-api", "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
            "containers": [GOOD_CONTAINER]}
PROFILE = {
    "apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
    "metadata": {"name": "payments-api", "namespace": NS},
    "spec": {
        "selector": {"matchLabels": {"app": "payments-api"}},
        "mode": "Enforce",
        "identity": {"serviceAccountNames": ["payments-api"]},
        "images": {"allow": ["registry.example.com/payments/*"], "requireDigest": True},
        "privileges": {"privileged": "Forbid", "privilegeEscalation": "Forbid"},
        "runtime": {"egress": [{"cidr": "10.0.0.0/8", "ports": [5432, 443]}]},
        "response": {"action": "Delete", "gracePeriodSeconds": 0},
    },
}
AGE = r"\d+s"


def kubectl_minor():
    """The client's minor version (Debian bookworm's kubernetes-client is 1.20)."""
    try:
        out = subprocess.run([KUBECTL, "version", "--client", "-o", "json"], capture_output=True,
                             text=True, timeout=30).stdout
        return int(re.match(r"\d+", json.loads(out)["clientVersion"]["minor"]).group(0))
    except (OSError, ValueError, KeyError, AttributeError, subprocess.SubprocessError):
        return 0


# kubectl sends fieldValidation=Strict and explains from OpenAPI v3 from 1.27 on (both GA).
MODERN = KUBECTL is not None and kubectl_minor() >= 27
NOT_MODERN = "this kubectl predates 1.27: no fieldValidation, explain from OpenAPI v2"


def copy(obj, **changes):
    out = json.loads(json.dumps(obj))
    out.update(changes)
    return out


def pod(name, containers=None, labels=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": labels or {"app": "payments-api"}},
            "spec": dict(POD_SPEC, containers=containers or [GOOD_CONTAINER])}


def rows(out):
    """kubectl's table output as lists of cells, cut where the header's columns start (a cell
    may be empty: kubectl prints a null cell as nothing)."""
    lines = out.rstrip("\n").splitlines()
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    bounds = list(zip(starts, starts[1:] + [None]))
    return [[line[a:b].strip() for a, b in bounds] for line in lines]


class Kubectl(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(ARGS.workdir, "kubectl")
        os.makedirs(cls.dir)
        cls.certs = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))
        seed = [h.namespace(NS), h.namespace("profileguard"),
                h.service_account(NS, "payments-api"), h.service_account(NS, "default")]
        cls.api = h.Standin(ARGS.srcdir, cls.certs, ARGS.workdir, seed=seed)
        cls.wh = h.webhook(ARGS.binary, cls.certs, ARGS.workdir, None,
                           ["--kubeconfig", cls.api.kubeconfig, "--namespace", "profileguard"])
        rc, out, err = cls.kubectl("apply", "-f", os.path.join(ARGS.srcdir, "crds", "workloadprofile.yaml"))
        assert rc == 0, err
        cls.crd_apply = out
        with open(cls.certs.ca, "rb") as f:
            bundle = base64.b64encode(f.read()).decode()
        url = f"https://127.0.0.1:{cls.wh.port}/validate/"
        common = {"sideEffects": "None", "admissionReviewVersions": ["v1"], "failurePolicy": "Fail",
                  "timeoutSeconds": 10}
        # The chart's rules: pods and the pod templates of the workload kinds; profiles.
        vwc = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
               "metadata": {"name": "profileguard"}, "webhooks": [
                   dict(common, name="pods.profileguard.io",
                        clientConfig={"url": url + "pods", "caBundle": bundle},
                        rules=[{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                "resources": ["pods", "pods/ephemeralcontainers", "replicationcontrollers"]},
                               {"operations": ["CREATE", "UPDATE"], "apiGroups": ["apps"], "apiVersions": ["v1"],
                                "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"]},
                               {"operations": ["CREATE", "UPDATE"], "apiGroups": ["batch"], "apiVersions": ["v1"],
                                "resources": ["jobs", "cronjobs"]}]),
                   dict(common, name="workloadprofiles.profileguard.io",
                        clientConfig={"url": url + "workloadprofiles", "caBundle": bundle},
                        rules=[{"operations": ["CREATE", "UPDATE"], "apiGroups": ["profileguard.io"],
                                "apiVersions": ["v1alpha1"], "resources": ["workloadprofiles"]}])]}
        rc, out, err = cls.apply(vwc, "vwc.json")
        assert rc == 0, err
        rc, out, err = cls.apply(PROFILE, "payments-api.json")
        assert rc == 0, err
        cls.profile_apply = out
        # The webhook judges pods by the profiles it has seen (it watches them).
        h.wait_for(lambda: cls.kubectl_ok_denied(), 20, what="the webhook to know payments-api")

    @classmethod
    def kubectl_ok_denied(cls):
        rc, _, err = cls.apply(pod("probe", [dict(GOOD_CONTAINER, image="nginx:latest")]), "probe.json",
                               "--dry-run=server")
        return rc != 0 and "pods.profileguard.io" in err

    @classmethod
    def tearDownClass(cls):
        cls.wh.stop()
        cls.wh.check_sanitizers()
        cls.api.stop()

    @classmethod
    def kubectl(cls, *args):
        r = subprocess.run([KUBECTL, "--kubeconfig", cls.api.kubeconfig,
                            "--cache-dir", os.path.join(cls.dir, "cache"), *args],
                           capture_output=True, text=True, timeout=60, cwd=cls.dir)
        return r.returncode, r.stdout, r.stderr

    @classmethod
    def apply(cls, obj, filename, *flags):
        with open(os.path.join(cls.dir, filename), "w") as f:
            json.dump(obj, f)
        return cls.kubectl("apply", "-f", filename, *flags)

    def assertRefused(self, result, *needles):
        rc, out, err = result
        self.assertNotEqual(rc, 0, out)
        for n in needles:
            self.assertIn(n, err)

    # -- the CRD --------------------------------------------------------------

    def test_crd_is_installed_and_listed(self):
        self.assertEqual(self.crd_apply.strip(),
                         "customresourcedefinition.apiextensions.k8s.io/workloadprofiles.profileguard.io created")
        rc, out, err = self.kubectl("get", "crd", "workloadprofiles.profileguard.io")
        self.assertEqual(rc, 0, err)
        (head, row) = rows(out)
        self.assertEqual(head, ["NAME", "CREATED AT"])
        self.assertEqual(row[0], "workloadprofiles.profileguard.io")
        self.assertRegex(row[1], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        rc, out, err = self.kubectl("wait", "--for", "condition=established", "--timeout", "10s",
                                    "crd/workloadprofiles.profileguard.io")
        self.assertEqual((rc, out.strip()), (0, "customresourcedefinition.apiextensions.k8s.io/"
                                                "workloadprofiles.profileguard.io condition met"), err)

    @unittest.skipUnless(MODERN, NOT_MODERN)
    def test_explain_reads_the_crd_schema(self):
        rc, out, err = self.kubectl("explain", "workloadprofile.spec")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"KIND:\s+WorkloadProfile")
        self.assertRegex(out, r"FIELD:\s+spec\s+<Object>")
        self.assertRegex(out, r"\n\s+selector\s+<Object> -required-")
        rc, out, err = self.kubectl("explain", "workloadprofile.spec.mode")
        self.assertEqual(rc, 0, err)
        self.assertIn("Enforce", out)
        self.assertIn("Audit", out)

    # -- profiles ---------------------------------------------------------------

    def test_profile_created(self):
        self.assertEqual(self.profile_apply.strip(), "workloadprofile.profileguard.io/payments-api created")

    def test_profile_refused_by_the_schema(self):
        bad = copy(PROFILE, metadata={"name": "typo", "namespace": NS})
        bad["spec"]["mode"] = "Enforcing"
        bad["spec"]["response"]["gracePeriodSeconds"] = -1
        self.assertRefused(self.apply(bad, "typo.json"),
                           'The WorkloadProfile "typo" is invalid: ',
                           '* spec.mode: Unsupported value: "Enforcing": supported values: "Enforce", "Audit"',
                           "* spec.response.gracePeriodSeconds: Invalid value: -1: "
                           "spec.response.gracePeriodSeconds in body should be greater than or equal to 0")
        rc, _, err = self.kubectl("get", "wp", "typo", "-n", NS)
        self.assertIn('workloadprofiles.profileguard.io "typo" not found', err)

    @unittest.skipUnless(MODERN, NOT_MODERN)
    def test_unknown_field_refused(self):
        bad = copy(PROFILE, metadata={"name": "typo", "namespace": NS})
        bad["spec"]["modee"] = "Audit"
        self.assertRefused(self.apply(bad, "typo.json"),
                           'Error from server (BadRequest): error when creating "typo.json": WorkloadProfile in '
                           'version "v1alpha1" cannot be handled as a WorkloadProfile: strict decoding error: '
                           'unknown field "spec.modee"')
        rc, _, err = self.kubectl("get", "wp", "typo", "-n", NS)
        self.assertIn('workloadprofiles.profileguard.io "typo" not found', err)

    def test_profile_refused_by_the_webhook_on_create_and_update(self):
        bad = copy(PROFILE, metadata={"name": "typo-cidr", "namespace": NS})
        bad["spec"]["runtime"]["egress"][0]["cidr"] = "10.0.0.0/33"
        want = ('admission webhook "workloadprofiles.profileguard.io" denied the request: '
                'spec.runtime.egress[0].cidr: "10.0.0.0/33" is not a CIDR')
        self.assertRefused(self.apply(bad, "typo-cidr.json"), 'error when creating "typo-cidr.json"', want)
        # The same change to the existing profile is an UPDATE: judged too.
        bad["metadata"]["name"] = "payments-api"
        self.assertRefused(self.apply(bad, "payments-api-cidr.json"), want)
        self.assertRefused(self.kubectl("patch", "wp", "payments-api", "-n", NS, "--type", "merge", "-p",
                                        json.dumps({"spec": {"runtime": {"egress": [{"cidr": "10.0.0.0/33"}]}}})),
                           want)
        rc, out, _ = self.kubectl("get", "wp", "payments-api", "-n", NS, "-o", "jsonpath={.spec.runtime.egress[0].cidr}")
        self.assertEqual(out, "10.0.0.0/8")

    # -- workloads ----------------------------------------------------------------

    def test_bad_pod_refused(self):
        evil = pod("payments-api-debug", [GOOD_CONTAINER, {"name": "debug", "image": "nginx:latest",
                                                           "securityContext": {"privileged": True}}])
        self.assertRefused(self.apply(evil, "debug.json"),
                           'Error from server (Forbidden): error when creating "debug.json": admission webhook '
                           '"pods.profileguard.io" denied the request: ',
                           'spec.containers[1].image: "nginx:latest" not allowed by payments/payments-api images.allow',
                           "spec.containers[1].securityContext.privileged: true forbidden by payments/payments-api "
                           "privileges.privileged")

    def test_bad_deployment_refused_at_apply(self):
        deploy = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "payments-api-canary", "namespace": NS},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "payments-api"}},
                           "template": {"metadata": {"labels": {"app": "payments-api"}},
                                        "spec": dict(POD_SPEC, containers=[
                                            dict(GOOD_CONTAINER, image="docker.io/library/nginx:1.27")])}}}
        self.assertRefused(self.apply(deploy, "canary.json"),
                           'Error from server (Forbidden): error when creating "canary.json": admission webhook '
                           '"pods.profileguard.io" denied the request: spec.template.spec.containers[0].image: '
                           '"docker.io/library/nginx:1.27" not allowed by payments/payments-api images.allow')
        rc, _, err = self.kubectl("get", "deployment", "payments-api-canary", "-n", NS)
        self.assertIn('deployments.apps "payments-api-canary" not found', err)

    def test_compliant_pod_admitted_listed_and_updates_judged(self):
        rc, out, err = self.apply(pod("payments-api-good"), "good.json")
        self.assertEqual((rc, out.strip()), (0, "pod/payments-api-good created"), err)
        rc, out, err = self.kubectl("get", "pods", "payments-api-good", "-n", NS, "-o", "wide")
        self.assertEqual(rc, 0, err)
        head, row = rows(out)
        self.assertEqual(head, ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                                "NOMINATED NODE", "READINESS GATES"])
        self.assertEqual(row[:4], ["payments-api-good", "0/1", "Pending", "0"])
        self.assertRegex(row[4], AGE)
        self.assertEqual(row[5:], ["<none>"] * 4)
        # Changing the image to one the profile does not allow is an UPDATE the webhook refuses.
        self.assertRefused(self.kubectl("patch", "pod", "payments-api-good", "-n", NS, "--type", "json", "-p",
                                        '[{"op":"replace","path":"/spec/containers/0/image","value":"nginx:latest"}]'),
                           'admission webhook "pods.profileguard.io" denied the request: '
                           'spec.containers[0].image: "nginx:latest" not allowed by payments/payments-api images.allow')
        rc, out, _ = self.kubectl("get", "pod", "payments-api-good", "-n", NS, "-o", "jsonpath={.spec.containers[0].image}")
        self.assertEqual(out, GOOD_CONTAINER["image"])

    # -- what kubectl get prints --------------------------------------------------

    def test_get_wp_prints_the_crd_columns_from_the_objects(self):
        audit = {"apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
                 "metadata": {"name": "batch-audit", "namespace": NS},
                 "spec": {"selector": {"matchLabels": {"app": "batch"}}, "mode": "Audit"}}
        rc, _, err = self.apply(audit, "batch-audit.json")
        self.assertEqual(rc, 0, err)
        # The controller's status, written as it writes it.
        path = f"/apis/profileguard.io/v1alpha1/namespaces/{NS}/workloadprofiles/payments-api"
        cur = self.api.kube("GET", path)
        cur["status"] = {"matchedPods": 3, "violations": 7, "observedGeneration": 1}
        self.api.kube("PUT", path + "/status", cur)
        rc, out, err = self.kubectl("get", "wp", "-n", NS)
        self.assertEqual(rc, 0, err)
        table = rows(out)
        self.assertEqual(table[0], ["NAME", "MODE", "ACTION", "PODS", "VIOLATIONS", "AGE"])
        by_name = {r[0]: r for r in table[1:]}
        self.assertEqual(by_name["payments-api"][:5], ["payments-api", "Enforce", "Delete", "3", "7"])
        self.assertRegex(by_name["payments-api"][5], AGE)
        # Absent values print as nothing, never as a default standing for them.
        self.assertEqual(by_name["batch-audit"][:5], ["batch-audit", "Audit", "", "", ""])

    def test_get_events(self):
        when = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        self.api.kube("POST", f"/apis/events.k8s.io/v1/namespaces/{NS}/events", {
            "metadata": {"name": "payments-api-legacy.1"}, "eventTime": when, "type": "Warning",
            "reason": "AdmissionDrift", "action": "Deleted",
            "note": "spec.containers[0].securityContext.privileged: true forbidden by payments/payments-api",
            "reportingController": "profileguard.io/controller", "reportingInstance": "c-1",
            "regarding": {"kind": "Pod", "namespace": NS, "name": "payments-api-legacy", "apiVersion": "v1"}})
        rc, out, err = self.kubectl("get", "events", "-n", NS)
        self.assertEqual(rc, 0, err)
        table = rows(out)
        self.assertEqual(table[0], ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"])
        row = next(r for r in table[1:] if r[3] == "pod/payments-api-legacy")
        self.assertRegex(row[0], AGE)
        self.assertEqual(row[1:], ["Warning", "AdmissionDrift", "pod/payments-api-legacy",
                                   "spec.containers[0].securityContext.privileged: true forbidden by "
                                   "payments/payments-api"])


if __name__ == "__main__":
    if not KUBECTL:
        print("SKIP: no kubectl on the PATH (hack/install-deps installs Debian's kubernetes-client)")
        sys.exit(77)
    ARGS, argv = h.suite_main(__doc__, prefix="pg-kubectl-")
    ARGS.srcdir = os.path.abspath(ARGS.srcdir)     # kubectl runs in a scratch directory
    sys.exit(h.run_tests(ARGS, argv))
