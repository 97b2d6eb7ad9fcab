#!/usr/bin/env python3
"""Integration tests of arming the webhook configuration (--webhook-config-name,
SPEC §8): the real controller and webhook against the API stand-in, which
routes admission calls to a clientConfig.service through the Service's
EndpointSlices as kube-apiserver does.

The configuration is the chart's: failurePolicy Fail, webhooks without rules,
the rules in the profileguard.io/webhook-rules annotation.  While the webhook
Service has no ready endpoint, or its endpoint does not answer over TLS with
the caBundle, the configuration stays without rules and pod creation works;
once the webhook answers, the controller arms it and pods are judged; when
the webhook goes away later, Fail holds (outside the excluded namespaces).

usage: integration_webhookcfg.py --binary PROFILEGUARD --srcdir SRC [unittest args]
"""

import base64
import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pgharness as h  # noqa: E402

ARGS = None
CERTS = None
NS = "profileguard"
TEAM = "team"
SECRET = "profileguard-tls"
VWC = "profileguard"
SVC = "profileguard-webhook"
ANNOTATION = "profileguard.io/webhook-rules"

POD_RULES = [
    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
     "resources": ["pods", "pods/ephemeralcontainers", "replicationcontrollers"],
     "scope": "Namespaced"},
    {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
     "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"],
     "scope": "Namespaced"},
]
WP_RULES = [{"apiGroups": ["profileguard.io"], "apiVersions": ["v1alpha1"],
             "operations": ["CREATE", "UPDATE"], "resources": ["workloadprofiles"],
             "scope": "Namespaced"}]


def chart_vwc(ca_bundle=None, cert_manager=False):
    """The configuration as charts/profileguard renders it (templates/
    validatingwebhookconfiguration.yaml), for release namespace NS."""
    rules = {"pods.profileguard.io": POD_RULES, "workloadprofiles.profileguard.io": WP_RULES}
    ann = {ANNOTATION: json.dumps(rules)}
    if cert_manager:
        ann["cert-manager.io/inject-ca-from"] = f"{NS}/profileguard-serving"
    hooks = []
    for name, path in (("pods.profileguard.io", "/validate/pods"),
                       ("workloadprofiles.profileguard.io", "/validate/workloadprofiles")):
        cc = {"service": {"name": SVC, "namespace": NS, "path": path, "port": 443}}
        if ca_bundle:
            cc["caBundle"] = ca_bundle
        hooks.append({
            "name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Fail", "timeoutSeconds": 5, "matchPolicy": "Equivalent",
            "clientConfig": cc,
            "namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                 "values": ["kube-system", NS]},
                {"key": "profileguard.io/ignore", "operator": "NotIn", "values": ["true"]}]}})
    return {"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": VWC, "annotations": ann,
                         "labels": {"app.kubernetes.io/managed-by": "Helm"}},
            "webhooks": hooks}


def service():
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": SVC, "namespace": NS},
            "spec": {"type": "ClusterIP", "ports": [{"name": "https", "port": 443,
                                                     "targetPort": "https",
                                                     "protocol": "TCP"}]}}


def slice_of(port, ready, addr="127.0.0.1", name=SVC + "-abcde"):
    """An EndpointSlice as the EndpointSlice controller writes it for SVC."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": NS,
                         "labels": {"kubernetes.io/service-name": SVC,
                                    "endpointslice.kubernetes.io/managed-by":
                                        "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [addr],
                           "conditions": {"ready": ready, "serving": ready,
                                          "terminating": False},
                           "targetRef": {"kind": "Pod", "namespace": NS,
                                         "name": "profileguard-webhook-0"}}]}


TEAM_PROFILE = {"apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
                "metadata": {"name": "team-app", "namespace": TEAM},
                "spec": {"selector": {"matchLabels": {"app": "a"}}, "mode": "Enforce",
                         "images": {"requireDigest": True}}}


def setUpModule():
    global CERTS
    CERTS = h.Certs(ARGS.srcdir, os.path.join(ARGS.workdir, "certs"))


class ArmBase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pg-arm-", dir=ARGS.workdir)
        self.profiles = os.path.join(self.dir, "profiles")
        os.makedirs(self.profiles)
        with open(os.path.join(self.profiles, "team.json"), "w") as f:
            json.dump(TEAM_PROFILE, f)
        self.api = None
        self.ctl = None
        self.webhooks = []

    def tearDown(self):
        try:
            for w in self.webhooks:
                if w.alive():
                    w.stop(timeout=10)
        finally:
            try:
                if self.ctl:
                    self.ctl.stop(timeout=15)
            finally:
                if self.api:
                    self.api.stop()

    def start(self, *seed, generated=True, leader_elect=False):
        self.api = h.Standin(ARGS.srcdir, CERTS, ARGS.workdir,
                             seed=[h.namespace(NS), h.namespace(TEAM),
                                   h.namespace("kube-system")], default_sa=True)
        self.api.put(service(), *seed)
        flags = ["--leader-elect=" + ("true" if leader_elect else "false"),
                 "--webhook-config-name", VWC, "--webhook-arm-interval", "300ms"]
        if leader_elect:
            flags += ["--lease-duration", "3s", "--renew-deadline", "2s", "--retry-period", "500ms"]
        if generated:
            flags += ["--webhook-cert-secret", SECRET, "--webhook-service", SVC,
                      "--cert-check-interval", "500ms"]
        self.ctl = h.controller(ARGS.binary, self.api, ARGS.workdir, "ctl", flags, own_ns=NS,
                                port_timeout=10, ready_timeout=15)

    def webhook(self, cert, name):
        w = h.webhook(ARGS.binary, CERTS, self.dir, self.profiles, ["--threads", "2"],
                      name=name, tls=cert)
        self.webhooks.append(w)
        return w

    def hooks(self):
        return self.api.one("ValidatingWebhookConfiguration", None, VWC)["webhooks"]

    def armed(self):
        return [bool(w.get("rules")) for w in self.hooks()]

    def create_pod(self, ns, name, image=h.GOOD_IMAGE):
        return self.api.call("POST", f"/api/v1/namespaces/{ns}/pods", h.pod(ns, name, image=image))

    def svc_cert(self, tag):
        """A serving certificate for the name the API server dials, signed by
        the test CA (not by the controller's generated CA)."""
        name = f"{SVC}.{NS}.svc"
        return CERTS._mint(f"svc-{tag}-", name, "basicConstraints=critical,CA:FALSE\n"
                           "extendedKeyUsage=serverAuth\n"
                           f"subjectAltName=DNS:{name},DNS:localhost\n", 2)

    def not_armed_for(self, seconds, why):
        """Several rounds go by and nothing is armed; the controller says @why."""
        h.wait_for(lambda: any(l.get("msg") == "webhook not armed yet" and
                               why in l.get("reason", "") for l in self.ctl.lines()),
                   10, what=f"'not armed yet: {why}' logged")
        time.sleep(seconds)
        self.assertEqual(self.armed(), [False, False])

    def assert_not_locked(self, tag):
        """The configuration refuses nothing: a pod that the profile would
        refuse is created in a judged namespace."""
        st, out = self.create_pod(TEAM, f"unjudged-{tag}", image="nginx:latest")
        self.assertEqual(st, 201, out)


class TestGenerated(ArmBase):
    def test_armed_only_once_the_webhook_answers(self):
        self.start(chart_vwc())
        # The certificate loop generates the CA and patches the caBundle.
        h.wait_for(lambda: all(w["clientConfig"].get("caBundle") for w in self.hooks()), 15,
                   what="caBundle patched")
        secret = self.api.one("Secret", NS, SECRET)

        # 1. No endpoint at all (the image cannot be pulled): not armed, nothing locked.
        self.not_armed_for(1.5, f"Service {SVC} has no ready endpoint")
        self.assert_not_locked("no-endpoints")
        self.assertEqual(self.ctl.metric("profileguard_webhook_armed"), 0)

        # 2. An endpoint that is not ready: the same.
        self.api.put(slice_of(1, False))
        self.ctl.mark()
        time.sleep(1.5)
        self.assertEqual(self.armed(), [False, False])
        self.assert_not_locked("not-ready")

        # 3. A ready endpoint whose server does not have a certificate of the
        #    caBundle's CA: the API server could not call it, so not armed.
        stranger = self.webhook(self.svc_cert("stranger"), "stranger")
        self.api.put(slice_of(stranger.port, True))
        self.not_armed_for(1.5, "did not answer over TLS with the caBundle")
        self.assert_not_locked("wrong-ca")

        # 4. The webhook with the Secret's certificate answers: armed.
        crt, key = os.path.join(self.dir, "tls.crt"), os.path.join(self.dir, "tls.key")
        for path, k in ((crt, "tls.crt"), (key, "tls.key")):
            with open(path, "wb") as f:
                f.write(base64.b64decode(secret["data"][k]))
        good = self.webhook((crt, key), "webhook")
        self.api.put(slice_of(good.port, True))
        h.wait_for(lambda: self.armed() == [True, True], 10, what="configuration armed")
        hooks = {w["name"]: w for w in self.hooks()}
        self.assertEqual(hooks["pods.profileguard.io"]["rules"], POD_RULES)
        self.assertEqual(hooks["workloadprofiles.profileguard.io"]["rules"], WP_RULES)
        for w in hooks.values():
            # Nothing else changed: the policy, the caBundle, the selector.
            self.assertEqual(w["failurePolicy"], "Fail")
            self.assertEqual(w["timeoutSeconds"], 5)
            self.assertEqual(w["clientConfig"]["caBundle"], secret["data"]["ca.crt"])
            self.assertEqual(w["namespaceSelector"], chart_vwc()["webhooks"][0]["namespaceSelector"])
        self.assertTrue(any(l.get("msg", "").startswith("webhook configuration armed")
                            for l in self.ctl.lines()))
        self.assertEqual(self.ctl.metric("profileguard_webhook_armed"), 1)

        # 5. Pods are judged now, through the Service, with the caBundle.
        st, out = self.create_pod(TEAM, "bad", image="nginx:latest")
        self.assertEqual(st, 403, out)
        self.assertIn("requireDigest", out["message"])
        st, out = self.create_pod(TEAM, "good")
        self.assertEqual(st, 201, out)
        for ns in ("kube-system", NS):
            st, out = self.create_pod(ns, "unjudged", image="nginx:latest")
            self.assertEqual(st, 201, f"{ns}: {out}")

        # 6. Armed stays armed when the webhook goes away: Fail refuses pods
        #    outside the excluded namespaces, which keep working.
        good.stop(timeout=10)
        stranger.stop(timeout=10)
        self.api.remove("EndpointSlice", NS, SVC + "-abcde")
        time.sleep(1)
        self.assertEqual(self.armed(), [True, True])
        self.assertEqual(self.ctl.metric("profileguard_webhook_armed"), 1)
        st, out = self.create_pod(TEAM, "during-outage")
        self.assertEqual(st, 500, out)
        self.assertIn("no endpoints available", out["message"])
        for ns in ("kube-system", NS):
            st, out = self.create_pod(ns, "during-outage")
            self.assertEqual(st, 201, f"{ns}: {out}")

        # Written once: one patch arms both webhooks, no rewrite while armed.
        arms = [r for r in self.api.requests("PATCH", "validatingwebhookconfigurations")
                if r["status"] == 200 and any("rules" in w for w in
                                              (r.get("body") or {}).get("webhooks", []))]
        self.assertEqual(len(arms), 1, arms)


class TestCertManager(ArmBase):
    def test_injected_ca_bundle_and_resync(self):
        # cert-manager's CA injector has not filled caBundle yet: never armed, even with a
        # ready webhook, since the API server could not verify it.
        cert = self.svc_cert("cm")
        self.start(chart_vwc(cert_manager=True), generated=False)
        w = self.webhook(cert, "webhook")
        self.api.put(slice_of(w.port, True))
        self.not_armed_for(1.5, "no caBundle yet")
        self.assert_not_locked("no-ca")

        # The injector writes the CA: armed, and its annotation and caBundle are kept.
        with open(CERTS.ca, "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        self.api.put(chart_vwc(ca_bundle=ca, cert_manager=True))
        h.wait_for(lambda: self.armed() == [True, True], 10, what="configuration armed")
        obj = self.api.one("ValidatingWebhookConfiguration", None, VWC)
        self.assertEqual(obj["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
                         f"{NS}/profileguard-serving")
        self.assertEqual([x["clientConfig"]["caBundle"] for x in obj["webhooks"]], [ca, ca])
        st, out = self.create_pod(TEAM, "bad", image="nginx:latest")
        self.assertEqual(st, 403, out)

        # `helm upgrade --force` replaces the object with the chart's, unarmed: armed again.
        self.api.put(chart_vwc(ca_bundle=ca, cert_manager=True))
        self.assertEqual(self.armed(), [False, False])
        h.wait_for(lambda: self.armed() == [True, True], 10, what="configuration armed again")

        # A chart upgrade that changes the rules: brought to the annotation's.
        obj = self.api.one("ValidatingWebhookConfiguration", None, VWC)
        rules = json.loads(obj["metadata"]["annotations"][ANNOTATION])
        rules["pods.profileguard.io"] = POD_RULES[:1]
        obj["metadata"]["annotations"][ANNOTATION] = json.dumps(rules)
        obj["metadata"].pop("resourceVersion", None)
        self.api.put(obj)
        h.wait_for(lambda: self.hooks()[0].get("rules") == POD_RULES[:1], 10,
                   what="rules resynced")
        self.assertEqual(self.hooks()[1]["rules"], WP_RULES)


class TestUnsafe(ArmBase):
    def test_never_armed_when_it_would_judge_kube_system(self):
        cfg = chart_vwc()
        for w in cfg["webhooks"]:
            w["namespaceSelector"]["matchExpressions"][0]["values"] = [NS]
        self.start(cfg)
        h.wait_for(lambda: any(l.get("msg") == "webhook not armed" and
                               "kube-system" in l.get("reason", "")
                               for l in self.ctl.lines()), 10, what="refusal logged")
        secret = h.wait_for(lambda: self.api.one("Secret", NS, SECRET), 10, what="Secret")
        crt, key = os.path.join(self.dir, "tls.crt"), os.path.join(self.dir, "tls.key")
        h.wait_for(lambda: all(w["clientConfig"].get("caBundle") for w in self.hooks()), 15,
                   what="caBundle patched")
        secret = self.api.one("Secret", NS, SECRET)
        for path, k in ((crt, "tls.crt"), (key, "tls.key")):
            with open(path, "wb") as f:
                f.write(base64.b64decode(secret["data"][k]))
        w = self.webhook((crt, key), "webhook")
        self.api.put(slice_of(w.port, True))
        time.sleep(2)
        self.assertEqual(self.armed(), [False, False])
        st, out = self.create_pod("kube-system", "system", image="nginx:latest")
        self.assertEqual(st, 201, out)


class TestFollower(ArmBase):
    def test_only_the_leader_arms(self):
        # Another replica holds the Lease: this one keeps its caches warm and writes nothing,
        # even with a webhook that answers with the configuration's caBundle.
        cert = self.svc_cert("follower")
        with open(CERTS.ca, "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": "profileguard-controller", "namespace": NS},
                 "spec": {"holderIdentity": "the-other-replica", "leaseDurationSeconds": 3600,
                          "renewTime": h.rfc3339(fraction=True),
                          "acquireTime": h.rfc3339(fraction=True), "leaseTransitions": 0}}
        self.start(chart_vwc(ca_bundle=ca, cert_manager=True), lease, generated=False,
                   leader_elect=True)
        w = self.webhook(cert, "webhook")
        self.api.put(slice_of(w.port, True))
        time.sleep(2)
        self.assertEqual(self.armed(), [False, False])
        self.assertEqual(self.api.requests("PATCH", "validatingwebhookconfigurations"), [])
        self.assertEqual(self.ctl.metric("profileguard_webhook_armed"), 0)
        # The holder goes away (its Lease expires): this replica leads and arms.
        lease["spec"]["renewTime"] = h.rfc3339(time.time() - 7200, fraction=True)
        lease["spec"]["leaseDurationSeconds"] = 1
        self.api.put(lease)
        h.wait_for(lambda: self.armed() == [True, True], 20, what="armed by the new leader")
        h.wait_for(lambda: self.ctl.metric("profileguard_webhook_armed") == 1, 5,
                   what="profileguard_webhook_armed 1")


if __name__ == "__main__":
    ARGS, argv = h.suite_main(__doc__, prefix="pg-arm-")
    sys.exit(h.run_tests(ARGS, argv))
