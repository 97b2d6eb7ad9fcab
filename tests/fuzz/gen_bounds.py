#!/usr/bin/env python3
"""Corpus inputs at and just past every cap of the pod decoder (SPEC §2
"Bounds"), too large to commit (the 1.2 MB pod that overflowed the tokens
array among them) and out of reach of the fuzzers' 4 KB inputs.  Written
at test time into a scratch directory, one subdirectory per fuzz target,
then replayed by that target's replay runner like any committed corpus.

usage: gen_bounds.py --replay TARGET=REPLAY_BINARY ... [--keep DIR]
       gen_bounds.py --write DIR
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGE = "r.io/app@" + DIGEST


def pod(spec, labels=None, status=None, ns="default"):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "x", "namespace": ns, "labels": labels if labels is not None else {"app": "a"}},
         "spec": spec}
    if status is not None:
        p["status"] = status
    return p


def container(name="c", env=0, env_from=0, caps=0, secret="s"):
    c = {"name": name, "image": IMAGE}
    if env:
        c["env"] = [{"name": "E%d" % i, "valueFrom": {"secretKeyRef": {"name": secret, "key": "k"}}}
                    for i in range(env)]
    if env_from:
        c["envFrom"] = [{"secretRef": {"name": "f%d" % i}} for i in range(env_from)]
    if caps:
        c["securityContext"] = {"capabilities": {"add": ["C%d" % i for i in range(caps)]}}
    return c


def projected(nvol, nsrc):
    return [{"name": "t%d" % v, "projected": {"sources": [
        {"serviceAccountToken": {"path": "t%d" % i, "expirationSeconds": 3600}} for i in range(nsrc)]}}
        for v in range(nvol)]


def statuses(n):
    lists = ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses")
    st = {}
    for l, key in enumerate(lists):
        k = n // 3 + (1 if l < n % 3 else 0)
        st[key] = [{"name": "c%d-%d" % (l, i), "containerID": "containerd://%012x" % (l * 10000 + i)}
                   for i in range(k)]
    return st


def shapes():
    """(name, pod) at each cap and one past it."""
    yield "overflow-17x1024-tokens-1100-env", pod(
        {"volumes": projected(17, 1024),
         "containers": [dict(container(), env=[{"name": "E%d" % i, "value": "v"} for i in range(1100)])]})
    yield "sources-total-at-cap", pod({"volumes": projected(16, 1024), "containers": [container()]})
    yield "sources-total-past-cap", pod({"volumes": projected(17, 1024)[:16] + projected(1, 1),
                                         "containers": [container()]})
    yield "sources-one-volume-past-cap", pod({"volumes": projected(1, 1025), "containers": [container()]})
    yield "volumes-at-cap", pod({"volumes": [{"name": "h%d" % i, "hostPath": {"path": "/var/log/%d" % i}}
                                             for i in range(4096)], "containers": [container()]})
    yield "volumes-past-cap", pod({"volumes": [{"name": "h%d" % i, "hostPath": {"path": "/var/log/%d" % i}}
                                               for i in range(4097)], "containers": [container()]})
    yield "env-at-cap", pod({"containers": [container(env=16384)]})
    yield "env-past-cap", pod({"containers": [container(env=16385)]})
    yield "envfrom-past-cap", pod({"containers": [container(env_from=16385)]})
    yield "env-total-at-cap", pod({"containers": [container("a", env=16384), container("b", env=16384)]})
    yield "env-total-past-cap", pod({"containers": [container("a", env=16384),
                                                    container("b", env=16384, env_from=1)]})
    # The legacy token Secret that 18,000 references used to hide.
    yield "legacy-token-behind-18000-refs", pod({"containers": [
        container("a", env=9000), dict(container("b", env=9000), envFrom=[{"secretRef": {"name": "token"}}])]})
    yield "caps-past-cap", pod({"containers": [container(caps=257)]})
    yield "containers-past-cap", pod({"initContainers": [container("i%d" % i) for i in range(24)],
                                      "containers": [container("c%d" % i) for i in range(1001)]})
    yield "labels-past-cap", pod({"containers": [container()]}, labels={"l%d" % i: "v" for i in range(1025)})
    yield "podips-past-k8s", pod({"containers": [container()]},
                                 status={"podIPs": [{"ip": "10.0.0.%d" % i} for i in range(3)]})
    yield "statuses-past-cap", pod({"containers": [container()]}, status=statuses(1025))
    yield "kube-system-overflow", pod({"volumes": projected(17, 1024), "containers": [container()]},
                                      ns="kube-system")


def review(obj, uid):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "operation": "CREATE", "namespace": obj["metadata"]["namespace"],
                        "userInfo": {"username": "alice"}, "object": obj}}


def write(d):
    for target in ("admission", "jval"):
        os.makedirs(os.path.join(d, target), exist_ok=True)
    for name, p in shapes():
        with open(os.path.join(d, "admission", name + ".json"), "w") as f:
            json.dump(review(p, name), f, separators=(",", ":"))
        with open(os.path.join(d, "jval", name + ".json"), "w") as f:
            json.dump(p, f, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", metavar="DIR")
    ap.add_argument("--replay", nargs="*", default=[], metavar="TARGET=BINARY")
    ap.add_argument("--keep", metavar="DIR", help="write here and keep it (default: a scratch directory)")
    a = ap.parse_args()
    if a.write:
        write(a.write)
        return 0
    d = a.keep or tempfile.mkdtemp(prefix="pg-bounds-corpus-")
    try:
        write(d)
        rc = 0
        for spec in a.replay:
            target, binary = spec.split("=", 1)
            p = subprocess.run([binary, os.path.join(d, target)])
            if p.returncode != 0:
                print("%s: replay failed (%d)" % (target, p.returncode), file=sys.stderr)
                rc = 1
        return rc
    finally:
        if not a.keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
