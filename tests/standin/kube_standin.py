#!/usr/bin/env python3
"""Kubernetes API server stand-in for profileguard's integration tests.

No real kube-apiserver can run in CI, so this speaks the parts of its protocol profileguard
relies on, shaped the way the real server shapes them (Status objects, list items without
kind, 410 after compaction, 429 from evictions...), so a client that passes against it has a
fair chance against a real cluster. Tests steer it through a control API under /_standin/
(fault injection, request recording, compaction, raw seeding). Python 3 standard library only.
"""

import argparse
import base64
import bisect
import copy
import hashlib
import datetime
import http.server
import json
import math
import os
import random
import re
import select
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from dataclasses import dataclass

MAX_BODY_BYTES = 8 * 1024 * 1024
# The real server closes a watch without timeoutSeconds after --min-request-timeout (1800 s).
DEFAULT_WATCH_TIMEOUT = 1800
# How long a list with a resourceVersion from the future waits before 504 (real: 3 s).
TOO_LARGE_RV_WAIT = 3.0
MAX_RECORDED_REQUESTS = 10000
MEDIA_JSON = "application/json"


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def now_rfc3339(t=None):
    """Kubernetes timestamps are second-precision RFC 3339 in UTC with a Z."""
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text):
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def meta_of(obj):
    m = obj.get("metadata") if isinstance(obj, dict) else None
    return m if isinstance(m, dict) else {}


def ordered(obj):
    """kind, apiVersion, metadata first, as the real server writes them: easier to read in logs."""
    out = {}
    for k in ("kind", "apiVersion", "metadata"):
        if k in obj:
            out[k] = obj[k]
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    return out


def truthy(value):
    return str(value).lower() in ("1", "true", "yes")


# ---------------------------------------------------------------------------
# Status objects and API errors, shaped like apimachinery's errors package
# ---------------------------------------------------------------------------

def status_obj(code, reason, message, details=None, status="Failure", metadata=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": metadata or {}, "status": status}
    if message:
        s["message"] = message
    if reason:
        s["reason"] = reason
    if details is not None:
        s["details"] = details
    s["code"] = code
    return s


class ApiError(Exception):
    """An error answered as a Status object; raised anywhere below the HTTP layer."""

    def __init__(self, code, reason, message, details=None, headers=None, metadata=None):
        super().__init__(message)
        self.code = code
        self.status = status_obj(code, reason, message, details, metadata=metadata)
        self.headers = headers or {}


def details_for(rt, name=None, uid=None):
    d = {}
    if name:
        d["name"] = name
    if rt.group:
        d["group"] = rt.group
    d["kind"] = rt.plural
    if uid:
        d["uid"] = uid
    return d


def err_not_found(rt, name):
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', details_for(rt, name))


def err_namespace_not_found(ns):
    return ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                    {"name": ns, "kind": "namespaces"})


def err_conflict(rt, name, why):
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.qualified} "{name}": {why}',
                    details_for(rt, name))


def err_stale(rt, name):
    return err_conflict(rt, name, "the object has been modified; please apply your changes to the "
                                  "latest version and try again")


def err_bad_request(message):
    return ApiError(400, "BadRequest", message)


def err_invalid(rt, name, causes):
    """422 Invalid; causes are (field, reason, message) triples like field.ErrorList."""
    # As field.ErrorList.ToAggregate() prints: one error alone, several as [a, b].
    text = ", ".join(f"{f}: {m}" for f, _, m in causes)
    text = text if len(causes) == 1 else f"[{text}]"
    details = {"name": name or ""}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.kind
    details["causes"] = [{"reason": r, "message": m, "field": f} for f, r, m in causes]
    qualified_kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    return ApiError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {text}', details)


def err_not_found_path():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def err_method_not_allowed():
    return ApiError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource", {})


def err_not_acceptable():
    return ApiError(406, "NotAcceptable", "only the following media types are accepted: "
                    "application/json, application/yaml, application/vnd.kubernetes.protobuf")


# ---------------------------------------------------------------------------
# Resource registry
# ---------------------------------------------------------------------------

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple = ()
    categories: tuple = ()
    bucket: str = ""               # storage bucket; the two Event APIs share one, as in etcd
    subresources: tuple = ()
    has_generation: bool = False
    drop_status_on_create: bool = False   # CRDs with a status subresource do this
    custom: bool = False           # served like a CRD (unstructured): list items keep kind
    return_deleted_object: bool = False
    allow_create_on_update: bool = False
    allow_unconditional_update: bool = True
    verbs: tuple = ALL_VERBS
    fields: tuple = ()             # field selector labels beyond metadata.name/namespace
    stored: bool = True

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def store_key(self):
        return self.bucket or f"{self.group}/{self.plural}"

    @property
    def qualified(self):
        """What error messages call the resource: pods, deployments.apps, ..."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_OBJREF = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")

RESOURCES = [
    ResourceType("", "v1", "pods", "pod", "Pod", True, ("po",), ("all",),
                 subresources=("status", "eviction"), return_deleted_object=True,
                 fields=("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                         "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                         "status.podIP", "status.nominatedNodeName")),
    ResourceType("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, ("sa",)),
    ResourceType("", "v1", "secrets", "secret", "Secret", True, fields=("type",)),
    ResourceType("", "v1", "namespaces", "namespace", "Namespace", False, ("ns",),
                 subresources=("status",), return_deleted_object=True, fields=("status.phase",)),
    ResourceType("", "v1", "events", "event", "Event", True, ("ev",), bucket="events",
                 allow_create_on_update=True,
                 fields=tuple(f"involvedObject.{f}" for f in _OBJREF)
                 + ("reason", "reportingComponent", "source", "type")),
    ResourceType("events.k8s.io", "v1", "events", "event", "Event", True, ("ev",), bucket="events",
                 allow_create_on_update=True,
                 fields=tuple(f"regarding.{f}" for f in _OBJREF)
                 + ("reason", "reportingController", "type")),
    ResourceType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True),
    ResourceType("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget",
                 "PodDisruptionBudget", True, ("pdb",), subresources=("status",),
                 has_generation=True),
    ResourceType("authentication.k8s.io", "v1", "tokenreviews", "tokenreview", "TokenReview",
                 False, verbs=("create",), stored=False),
    ResourceType("profileguard.io", "v1alpha1", "workloadprofiles", "workloadprofile",
                 "WorkloadProfile", True, ("wp",), ("profileguard",), subresources=("status",),
                 has_generation=True, drop_status_on_create=True, custom=True,
                 return_deleted_object=True, allow_unconditional_update=False),
    ResourceType("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                 "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", False,
                 has_generation=True),
    ResourceType("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, ("rs",), ("all",),
                 subresources=("status",), has_generation=True),
    ResourceType("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",),
                 ("all",), subresources=("status",), has_generation=True),
    ResourceType("apps", "v1", "statefulsets", "statefulset", "StatefulSet", True, ("sts",), ("all",),
                 subresources=("status",), has_generation=True),
    ResourceType("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True, ("ds",), ("all",),
                 subresources=("status",), has_generation=True),
    ResourceType("batch", "v1", "jobs", "job", "Job", True, (), ("all",), subresources=("status",),
                 has_generation=True),
    ResourceType("batch", "v1", "cronjobs", "cronjob", "CronJob", True, ("cj",), ("all",),
                 subresources=("status",), has_generation=True),
    ResourceType("", "v1", "replicationcontrollers", "replicationcontroller", "ReplicationController",
                 True, ("rc",), ("all",), subresources=("status",), has_generation=True),
    # RBAC is stored as written: no authorization, no escalation check, no aggregation controller
    # (a ClusterRole with an aggregationRule keeps the rules it was given, as once filled); kubectl
    # can apply (or dry-run) the Roles `profileguard rbac` writes.
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole",
                 False),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding",
                 True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding",
                 "ClusterRoleBinding", False),
    ResourceType("profileguard.io", "v1alpha1", "identityreports", "identityreport",
                 "IdentityReport", True, ("idr",), ("profileguard",), subresources=("status",),
                 has_generation=True, drop_status_on_create=True, custom=True,
                 return_deleted_object=True),
    # Services and their EndpointSlices: no IP allocation and no endpoints controller. Tests
    # write the slices (label kubernetes.io/service-name) as the EndpointSlice controller would;
    # webhook calls to a clientConfig.service go through them (see _resolve_service).
    ResourceType("", "v1", "services", "service", "Service", True, ("svc",), ("all",),
                 subresources=("status",)),
    ResourceType("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice",
                 True, fields=("addressType",)),
    # CRDs are stored and served (kubectl apply -f crds/...; kubectl get crd), and the one for
    # workloadprofiles gives them their Table columns and OpenAPI schema, as in a cluster; the
    # resource itself is served whether or not its CRD was created.
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                 "customresourcedefinition", "CustomResourceDefinition", False, ("crd", "crds"),
                 ("api-extensions",), subresources=("status",), has_generation=True),
]

BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
GROUP_VERSIONS = {}
for _r in RESOURCES:
    GROUP_VERSIONS.setdefault(_r.group, [])
    if _r.version not in GROUP_VERSIONS[_r.group]:
        GROUP_VERSIONS[_r.group].append(_r.version)
PODS = BY_PATH[("", "v1", "pods")]
NAMESPACES = BY_PATH[("", "v1", "namespaces")]
PDBS = BY_PATH[("policy", "v1", "poddisruptionbudgets")]
TOKENREVIEWS = BY_PATH[("authentication.k8s.io", "v1", "tokenreviews")]
VWCS = BY_PATH[("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")]
SERVICES = BY_PATH[("", "v1", "services")]
ENDPOINTSLICES = BY_PATH[("discovery.k8s.io", "v1", "endpointslices")]
CRDS = BY_PATH[("apiextensions.k8s.io", "v1", "customresourcedefinitions")]


def resource_for(api_version, kind):
    """Seeds name objects by apiVersion/kind; a missing apiVersion picks the first match."""
    for r in RESOURCES:
        if r.kind == kind and r.stored and (not api_version or r.api_version == api_version):
            return r
    return None


def resource_for_query(text):
    """/_standin/objects?kind=Pod also takes plural or short names, case-insensitively."""
    t = (text or "").lower()
    for r in RESOURCES:
        if r.stored and t in (r.kind.lower(), r.plural, r.singular, *r.short_names):
            return r
    return None


# The two Event APIs are one storage with renamed fields; the real server converts between
# them. Pairs are (core v1 name, events.k8s.io/v1 name); the rest is shared.
EVENT_FIELD_MAP = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
)


def convert_event(obj, to_group):
    out = dict(obj)
    for core_name, ev_name in EVENT_FIELD_MAP:
        src, dst = (core_name, ev_name) if to_group else (ev_name, core_name)
        if src in out:
            value = out.pop(src)
            out.setdefault(dst, value)
    return out


def present(rt, obj, mode="full"):
    """The object as the API of rt serves it. mode: full | item (inside a list) | meta.

    Stored objects are never mutated, so this only ever makes shallow copies."""
    if mode == "meta":
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": meta_of(obj)}
    out = dict(obj)
    if rt.store_key == "events":
        out = convert_event(out, bool(rt.group))
    out["apiVersion"] = rt.api_version
    out["kind"] = rt.kind
    if mode == "item" and not rt.custom:
        # Typed lists of built-in resources carry kind/apiVersion only on the list itself:
        # a client that expects them on each item breaks on real clusters.
        out.pop("apiVersion")
        out.pop("kind")
    return ordered(out)


# ---------------------------------------------------------------------------
# Selectors
# ---------------------------------------------------------------------------

_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_KEY_RE = re.compile(rf"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?{_LABEL_NAME}$")
_LABEL_VALUE_RE = re.compile(rf"^({_LABEL_NAME})?$")


def _split_top_level(text, sep=","):
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


class LabelSelector:
    """The query-string label selector: =, ==, !=, in, notin, key, !key, <, >; comma = AND."""

    def __init__(self, text):
        self.text = text or ""
        self.reqs = []
        if not self.text.strip():
            return
        for term in _split_top_level(self.text):
            self.reqs.append(self._parse(term.strip()))

    @staticmethod
    def _bad(term, why):
        return err_bad_request(f"unable to parse requirement: {why}: {term!r}")

    def _check_key(self, key, term):
        if len(key.split("/")[-1]) > 63 or not _LABEL_KEY_RE.match(key):
            raise self._bad(term, f"invalid label key {key!r}")

    def _check_value(self, value, term):
        if len(value) > 63 or not _LABEL_VALUE_RE.match(value):
            raise self._bad(term, f"invalid label value {value!r}")

    def _parse(self, term):
        if not term:
            raise self._bad(term, "empty requirement")
        m = re.fullmatch(r"(\S+)\s+(in|notin)\s*\(([^()]*)\)", term)
        if m:
            key, op = m.group(1), m.group(2)
            values = [v.strip() for v in m.group(3).split(",")]
            self._check_key(key, term)
            if not values or values == [""]:
                raise self._bad(term, "for 'in', 'notin' operators, values set can't be empty")
            for v in values:
                self._check_value(v, term)
            return (key, op, set(values))
        if term.startswith("!"):
            key = term[1:].strip()
            self._check_key(key, term)
            return (key, "!", None)
        m = re.fullmatch(r"([^\s!=<>()]+)\s*(==|=|!=|<|>)\s*([^\s()]*)", term)
        if m:
            key, op, value = m.groups()
            self._check_key(key, term)
            if op in ("<", ">"):
                if not re.fullmatch(r"-?\d+", value):
                    raise self._bad(term, "for 'Gt', 'Lt' operators, the value must be an integer")
                return (key, op, int(value))
            self._check_value(value, term)
            return (key, "=" if op == "==" else op, value)
        if re.fullmatch(r"[^\s!=<>(),]+", term):
            self._check_key(term, term)
            return (term, "exists", None)
        raise self._bad(term, "found unexpected token")

    @property
    def empty(self):
        return not self.reqs

    def matches(self, labels):
        labels = labels if isinstance(labels, dict) else {}
        for key, op, value in self.reqs:
            have = key in labels
            v = labels.get(key)
            if op == "=" and not (have and v == value):
                return False
            if op == "!=" and have and v == value:
                return False
            if op == "in" and not (have and v in value):
                return False
            if op == "notin" and have and v in value:
                return False
            if op == "exists" and not have:
                return False
            if op == "!" and have:
                return False
            if op in ("<", ">"):
                try:
                    n = int(v)
                except (TypeError, ValueError):
                    return False
                if (op == "<" and not n < value) or (op == ">" and not n > value):
                    return False
        return True


def _split_unescaped(text, sep):
    parts, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape_field(value):
    return re.sub(r"\\(.)", r"\1", value)


def field_value(obj, label):
    """Field selector values are strings; absent fields compare as the empty string."""
    cur = obj
    for part in label.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


class FieldSelector:
    """Field selectors: a fixed set of labels per resource, =, == and !=; comma = AND."""

    def __init__(self, text, rt):
        self.text = text or ""
        self.reqs = []
        allowed = {"metadata.name", "metadata.namespace", *rt.fields}
        # Core events select on "source", which means source.component.
        self.aliases = {"source": "source.component"} if rt.store_key == "events" and not rt.group else {}
        if not self.text.strip():
            return
        for term in _split_unescaped(self.text, ","):
            m = re.fullmatch(r"\s*([^=!\s]+)\s*(==|!=|=)(.*)", term)
            if not m:
                raise err_bad_request(f"invalid selector: '{self.text}'; can't understand '{term}'")
            label, op, value = m.group(1), m.group(2), _unescape_field(m.group(3))
            if label not in allowed:
                raise err_bad_request(f'field label not supported: {label}')
            self.reqs.append((label, "!=" if op == "!=" else "=", value))

    def add(self, label, op, value):
        self.reqs.append((label, op, value))

    @property
    def empty(self):
        return not self.reqs

    def matches(self, obj):
        for label, op, value in self.reqs:
            have = field_value(obj, self.aliases.get(label, label))
            if (op == "=") != (have == value):
                return False
        return True


def label_selector_matches(selector, labels):
    """metav1.LabelSelector (matchLabels + matchExpressions), as used in PDB specs."""
    if selector is None:
        return False
    labels = labels if isinstance(labels, dict) else {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# ---------------------------------------------------------------------------
# Validating admission webhooks
# ---------------------------------------------------------------------------
# kube-apiserver calls every ValidatingWebhookConfiguration whose rules and
# namespaceSelector match a write, over TLS verified with its caBundle, and
# refuses the write when a webhook denies it.  The stand-in does this for
# CREATE, UPDATE (PUT and every PATCH, no-op or not, with oldObject) and
# DELETE (object null, oldObject the stored one), with clientConfig.url, or with a
# clientConfig.service resolved as kube-apiserver routes to endpoints: the
# Service's port (default 443) by number, its name to the EndpointSlice port
# of that name, a ready endpoint's address, and TLS verified for the name
# <service>.<namespace>.svc.

def _rule_matches(rule, operation, rt, sub):
    ops = rule.get("operations") or []
    if "*" not in ops and operation not in ops:
        return False
    if not ({"*", rt.group} & set(rule.get("apiGroups") or [])):
        return False
    if not ({"*", rt.version} & set(rule.get("apiVersions") or [])):
        return False
    want = rt.plural + ("/" + sub if sub else "")
    resources = rule.get("resources") or []
    return "*" in resources or want in resources or (sub and f"{rt.plural}/*" in resources)


def _namespace_labels(store, ns):
    with store.cond:
        obj = store.get(NAMESPACES, "", ns) if ns else None
    labels = dict(meta_of(obj).get("labels") or {}) if obj else {}
    if ns:
        labels["kubernetes.io/metadata.name"] = ns
    return labels


def admit(store, rt, ns, obj, operation, user, dry_run, sub=None, old=None):
    """Runs the matching validating webhooks; returns their warnings, or raises
    ApiError as kube-apiserver answers a denial or a failed call.  @obj is None
    on DELETE, @old the stored object on UPDATE and DELETE."""
    with store.cond:
        configs = [copy.deepcopy(c) for c in store.bucket(VWCS.store_key).values()]
    warnings = []
    for cfg in configs:
        for hook in cfg.get("webhooks") or []:
            name = hook.get("name", "")
            if not any(_rule_matches(r, operation, rt, sub) for r in hook.get("rules") or []):
                continue
            sel = hook.get("namespaceSelector")
            if rt.namespaced and sel and (sel.get("matchLabels") or sel.get("matchExpressions")):
                if not label_selector_matches(sel, _namespace_labels(store, ns)):
                    continue
            osel = hook.get("objectSelector")
            if osel and (osel.get("matchLabels") or osel.get("matchExpressions")):
                # kube-apiserver matches the new object, or the old one, either sufficing.
                if not any(label_selector_matches(osel, meta_of(o).get("labels") or {})
                           for o in (obj, old) if o is not None):
                    continue
            warnings += _call_webhook(store, hook, name, rt, ns, obj, operation, user, dry_run,
                                      sub, old)
    return warnings


def _resolve_service(store, ref):
    """(host to dial, port, TLS server name) for a clientConfig.service, or ValueError with
    what kube-apiserver says when it cannot route to one."""
    svc_ns, svc_name = ref.get("namespace", ""), ref.get("name", "")
    port = int(ref.get("port") or 443)
    with store.cond:
        svc = store.get(SERVICES, svc_ns, svc_name)
        slices = [s for (sns, _), s in store.bucket(ENDPOINTSLICES.store_key).items()
                  if sns == svc_ns and (meta_of(s).get("labels") or {}).get(
                      "kubernetes.io/service-name") == svc_name]
    if svc is None:
        raise ValueError(f'service "{svc_name}" not found')
    sp = [p for p in (svc.get("spec") or {}).get("ports") or [] if p.get("port") == port]
    if not sp:
        raise ValueError(f'no service port {port} found for service "{svc_name}"')
    port_name = sp[0].get("name", "")
    for sl in sorted(slices, key=lambda x: meta_of(x).get("name", "")):
        if sl.get("addressType") not in ("IPv4", "IPv6"):
            continue
        target = [p.get("port") for p in sl.get("ports") or [] if p.get("name", "") == port_name]
        if not target or not target[0]:
            continue
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            if cond.get("ready") is False or cond.get("terminating") is True:
                continue
            for addr in ep.get("addresses") or []:
                return addr, int(target[0]), f"{svc_name}.{svc_ns}.svc"
    raise ValueError(f'no endpoints available for service "{svc_name}"')


_OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


def _call_webhook(store, hook, name, rt, ns, obj, operation, user, dry_run, sub, old=None):
    timeout = int(hook.get("timeoutSeconds") or 10)
    fail_open = hook.get("failurePolicy") == "Ignore"
    cc = hook.get("clientConfig") or {}
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()),
        "kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "resource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
        "requestKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "requestResource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
        "name": meta_of(obj if obj is not None else old).get("name", ""), "namespace": ns or "",
        "operation": operation,
        "userInfo": {"username": (user or {}).get("username", ""),
                     "groups": (user or {}).get("groups", [])},
        "object": obj, "oldObject": old, "dryRun": bool(dry_run),
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": _OPTIONS_KIND.get(operation, "")}}}
    if sub:
        review["request"]["subResource"] = sub
    try:
        if "service" in cc:
            host, port, server_name = _resolve_service(store, cc["service"])
            path = cc["service"].get("path") or "/"
        else:
            url = urllib.parse.urlsplit(cc["url"])
            if url.scheme != "https":
                raise ValueError("webhook url must be https")
            host, port, server_name, path = url.hostname, url.port or 443, None, url.path or "/"
        ctx = ssl.create_default_context()
        if cc.get("caBundle"):
            ctx = ssl.create_default_context(cadata=base64.b64decode(cc["caBundle"]).decode())
        import http.client
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
        if server_name:
            # Dial the endpoint, verify the Service's name, as kube-apiserver does.
            def connect(conn=conn, ctx=ctx):
                raw = socket.create_connection((host, port), timeout)
                try:
                    conn.sock = ctx.wrap_socket(raw, server_hostname=server_name)
                except BaseException:
                    raw.close()
                    raise
            conn.connect = connect
        try:
            conn.request("POST", path + f"?timeout={timeout}s", body=dumps(review),
                         headers={"Content-Type": "application/json", "Accept": "application/json"})
            resp = conn.getresponse()
            data = resp.read(8 << 20)
            if resp.status != 200:
                raise ValueError(f"the server responded with HTTP {resp.status}")
        finally:
            conn.close()
        answer = json.loads(data).get("response") or {}
        if answer.get("uid") != review["request"]["uid"]:
            raise ValueError("expected response.uid to match the request.uid")
    except (KeyError, ValueError, OSError, ssl.SSLError, json.JSONDecodeError) as e:
        if fail_open:
            return []
        why = "no url or service in clientConfig" if isinstance(e, KeyError) else str(e)
        raise ApiError(500, "InternalError", f'Internal error occurred: failed calling webhook "{name}": {why}')
    if not answer.get("allowed"):
        st = answer.get("status") or {}
        code = int(st.get("code") or 403)
        msg = st.get("message") or ""
        raise ApiError(code, st.get("reason") or "Forbidden",
                       f'admission webhook "{name}" denied the request: {msg}')
    return [str(w) for w in answer.get("warnings") or []]


# ---------------------------------------------------------------------------
# Patches
# ---------------------------------------------------------------------------

def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class PatchError(Exception):
    pass


def _pointer(path):
    if path == "":
        return []
    if not isinstance(path, str) or not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container, token, allow_end=False):
    if token == "-" and allow_end:
        return len(container)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise PatchError(f"invalid array index {token!r}")
    i = int(token)
    if i > len(container) or (i == len(container) and not allow_end):
        raise PatchError(f"array index {i} out of range")
    return i


def _parent(doc, tokens, path):
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict) and t in cur:
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t)]
        else:
            raise PatchError(f"path {path!r} does not exist")
    return cur


def _get(doc, path):
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last)]
    raise PatchError(f"path {path!r} does not exist")


def _add(doc, path, value):
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise PatchError(f"path {path!r} does not exist")
    return doc


def _remove(doc, path):
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last))
    raise PatchError(f"path {path!r} does not exist")


def json_patch(doc, ops):
    """RFC 6902: add, remove, replace, move, copy, test. All or nothing."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid operation {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"operation {kind} needs a value")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            if _pointer(path):
                _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "move":
            value = _remove(doc, op.get("from", ""))
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op.get("from", ""))))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"unknown operation {kind!r}")
    return doc


# ---------------------------------------------------------------------------
# The store: objects, one global resourceVersion, and the change history watches replay
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    rv: int
    type: str          # ADDED | MODIFIED | DELETED
    bucket: str
    key: tuple         # (namespace, name)
    obj: dict          # the object after the change (for DELETED: its last state, new rv)
    prev: dict         # the object before, or None


class Store:
    """All state behind one lock. Stored objects are immutable once committed: every write
    builds a new dict, so readers may serialise them after releasing the lock."""

    def __init__(self, window):
        self.cond = threading.Condition(threading.RLock())
        self.objects = {}          # bucket -> {(ns, name): obj}
        self.rv = 0
        self.history = []          # Change, ascending rv
        self.history_rvs = []
        self.window = max(1, window)
        # Every change with rv > compacted_rv is still in history: a watch or a snapshot
        # from rv R is possible iff R >= compacted_rv (etcd's compaction, in miniature).
        self.compacted_rv = 0
        self.closing = False

    def bucket(self, name):
        return self.objects.setdefault(name, {})

    def get(self, rt, ns, name):
        return self.objects.get(rt.store_key, {}).get((ns or "", name))

    def commit(self, rt, key, new, etype, final=None):
        """Store a change, give it the next resourceVersion, wake watchers. Lock held.

        For DELETED, final is the state to report (default: the stored one)."""
        self.rv += 1
        rv = str(self.rv)
        bucket = self.bucket(rt.store_key)
        prev = bucket.get(key)
        if etype == "DELETED":
            obj = dict(final if final is not None else prev)
            obj["metadata"] = dict(meta_of(obj), resourceVersion=rv)
            del bucket[key]
        else:
            obj = new
            obj["metadata"]["resourceVersion"] = rv
            bucket[key] = obj
        self.history.append(Change(self.rv, etype, rt.store_key, key, obj, prev))
        self.history_rvs.append(self.rv)
        if len(self.history) > self.window:
            drop = len(self.history) - self.window
            self.compacted_rv = self.history_rvs[drop - 1]
            del self.history[:drop]
            del self.history_rvs[:drop]
        self.cond.notify_all()
        return obj

    def compact(self):
        with self.cond:
            self.compacted_rv = self.rv
            self.history.clear()
            self.history_rvs.clear()
            self.cond.notify_all()
            return self.rv

    def changes_after(self, rv):
        i = bisect.bisect_right(self.history_rvs, rv)
        return self.history[i:]

    def snapshot(self, bucket, at_rv):
        """The bucket as it was at at_rv, rebuilt by undoing later changes; None if compacted."""
        current = self.objects.get(bucket, {})
        if at_rv >= self.rv:
            return dict(current)
        if at_rv < self.compacted_rv:
            return None
        state = dict(current)
        for ch in reversed(self.history):
            if ch.rv <= at_rv:
                break
            if ch.bucket != bucket:
                continue
            if ch.prev is None:
                state.pop(ch.key, None)
            else:
                state[ch.key] = ch.prev
        return state


# ---------------------------------------------------------------------------
# Fault knobs and the request recorder (control API state)
# ---------------------------------------------------------------------------

class Faults:
    KNOBS = ("status_500", "status_429", "reset_watch", "slow", "expire_continue",
             "watch_410_http", "split_chunks", "reset", "graceful_delete")
    COUNTED = ("status_500", "status_429", "reset_watch", "slow", "reset")

    def __init__(self):
        self.lock = threading.Lock()
        self.knobs = {}

    def set(self, knobs):
        if not isinstance(knobs, dict):
            raise err_bad_request("faults must be a JSON object")
        for name, value in knobs.items():
            if name not in self.KNOBS:
                raise err_bad_request(f"unknown fault knob {name!r}; known: {', '.join(self.KNOBS)}")
            if name in self.COUNTED and value not in (None, False) and not isinstance(value, dict):
                raise err_bad_request(f"fault knob {name!r} takes an object")
            if isinstance(value, dict) and value.get("path_regex"):
                try:
                    re.compile(value["path_regex"])
                except re.error as e:
                    raise err_bad_request(f"bad path_regex for {name}: {e}") from None
        with self.lock:
            for name, value in knobs.items():
                if value in (None, False):
                    self.knobs.pop(name, None)
                else:
                    self.knobs[name] = copy.deepcopy(value)
            return copy.deepcopy(self.knobs)

    def clear(self):
        with self.lock:
            self.knobs.clear()

    def snapshot(self):
        with self.lock:
            return copy.deepcopy(self.knobs)

    def flag(self, name):
        with self.lock:
            return bool(self.knobs.get(name))

    def value(self, name):
        with self.lock:
            return copy.deepcopy(self.knobs.get(name))

    def take(self, name, target):
        """Consume one use of a counted knob if it applies to this request target.

        count defaults to 1; a negative count never runs out."""
        with self.lock:
            knob = self.knobs.get(name)
            if not isinstance(knob, dict):
                return None
            rx = knob.get("path_regex")
            if rx and not re.search(rx, target):
                return None
            count = knob.get("count", 1)
            if count == 0:
                self.knobs.pop(name, None)
                return None
            if count > 0:
                knob["count"] = count - 1
                if knob["count"] == 0:
                    self.knobs.pop(name, None)
            return dict(knob)


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries = []

    def add(self, entry):
        with self.lock:
            self.entries.append(entry)
            if len(self.entries) > MAX_RECORDED_REQUESTS:
                del self.entries[: len(self.entries) - MAX_RECORDED_REQUESTS]

    def list(self):
        with self.lock:
            return copy.deepcopy(self.entries)

    def clear(self):
        with self.lock:
            n = len(self.entries)
            self.entries.clear()
            return n


# ---------------------------------------------------------------------------
# The API: object semantics, independent of HTTP
# ---------------------------------------------------------------------------

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_GEN_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"   # the real server's: no vowels, no 0/1/3


def _spec_part(obj):
    """What generation tracks: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _without_rv(obj):
    out = dict(obj)
    m = dict(meta_of(obj))
    m.pop("resourceVersion", None)
    m.pop("managedFields", None)
    out["metadata"] = m
    out.pop("apiVersion", None)
    out.pop("kind", None)
    return out


class Api:
    def __init__(self, store, faults, tokens, page_expiry, log):
        self.store = store
        self._list_keys = None      # ((bucket, namespace, rv), sorted keys) of the last list
        self.faults = faults
        self.tokens = tokens
        self.page_expiry = page_expiry
        self.log = log

    # -- bodies ---------------------------------------------------------------

    @staticmethod
    def _check_body(rt, body, kinds=None):
        if not isinstance(body, dict):
            raise err_bad_request("the body of the request must be a JSON object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        want_versions = [rt.api_version] if kinds is None else kinds[0]
        want_kind = rt.kind if kinds is None else kinds[1]
        if api_version and api_version not in want_versions:
            raise err_bad_request(f"the API version in the data ({api_version}) does not match "
                                  f"the expected API version ({want_versions[0]})")
        if kind and kind != want_kind:
            raise err_bad_request(f"the kind in the data ({kind}) does not match the expected "
                                  f"kind ({want_kind})")
        obj = copy.deepcopy(body)
        if "metadata" in obj and not isinstance(obj["metadata"], dict):
            raise err_bad_request("metadata must be an object")
        obj.setdefault("metadata", {})
        return obj

    def _check_namespace(self, rt, ns, obj):
        meta = obj["metadata"]
        if rt.namespaced:
            body_ns = meta.get("namespace") or ""
            if body_ns and body_ns != ns:
                raise err_bad_request("the namespace of the provided object does not match the "
                                      "namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)

    def _validate_name(self, rt, name):
        pattern, what = ((_DNS_LABEL, "RFC 1123 label") if rt is NAMESPACES
                         else (_DNS_SUBDOMAIN, "RFC 1123 subdomain"))
        if len(name) > (63 if rt is NAMESPACES else 253) or not pattern.match(name):
            raise err_invalid(rt, name, [(
                "metadata.name", "FieldValueInvalid",
                f'Invalid value: "{name}": a lowercase {what} must consist of lower case '
                "alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character")])

    def _precondition_check(self, rt, cur, pre):
        if not isinstance(pre, dict):
            return
        meta = meta_of(cur)
        name = meta.get("name")
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise err_conflict(rt, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                                         f"UID in object meta: {meta.get('uid', '')}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
            raise err_conflict(rt, name, "Precondition failed: ResourceVersion in precondition: "
                                         f"{pre['resourceVersion']}, ResourceVersion in object "
                                         f"meta: {meta.get('resourceVersion', '')}")

    # -- create ---------------------------------------------------------------

    def create(self, rt, ns, body, dry_run=False):
        obj = self._check_body(rt, body)
        self._check_namespace(rt, ns, obj)
        meta = obj["metadata"]
        with self.store.cond:
            if rt.namespaced and self.store.get(NAMESPACES, "", ns) is None:
                raise err_namespace_not_found(ns)
            name = meta.get("name") or ""
            if not name:
                prefix = meta.get("generateName") or ""
                if not prefix:
                    raise err_invalid(rt, "", [("metadata.name", "FieldValueRequired",
                                                "Required value: name or generateName is required")])
                while True:
                    name = prefix + "".join(random.choice(_GEN_ALPHABET) for _ in range(5))
                    if self.store.get(rt, ns, name) is None:
                        break
                meta["name"] = name
            self._validate_name(rt, name)
            if self.store.get(rt, ns, name) is not None:
                raise ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists',
                               details_for(rt, name))
            for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "selfLink", "managedFields"):
                meta.pop(k, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if rt.has_generation:
                meta["generation"] = 1
            self._prepare_create(rt, obj)
            if rt.custom:
                crd_validate(self.store, rt, obj)
            obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
            obj = ordered(obj)
            if dry_run:
                return obj
            return self.store.commit(rt, (ns or "", name), obj, "ADDED")

    @staticmethod
    def _prepare_create(rt, obj):
        if rt.drop_status_on_create:
            obj.pop("status", None)
        if rt is PODS and not isinstance(obj.get("status"), dict):
            obj["status"] = {"phase": "Pending"}
        if rt is NAMESPACES:
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        if rt.kind == "Secret":
            obj.setdefault("type", "Opaque")
        if rt is CRDS:
            # The apiextensions controllers accept the names and establish the resource at
            # once here (kubectl wait --for condition=established waits on this).
            now = now_rfc3339()
            obj["status"] = {"acceptedNames": copy.deepcopy((obj.get("spec") or {}).get("names") or {}),
                             "storedVersions": [v.get("name") for v in (obj.get("spec") or {}).get("versions") or []
                                                if v.get("storage")],
                             "conditions": [
                                 {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                                  "message": "no conflicts found", "lastTransitionTime": now},
                                 {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                                  "message": "the initial names have been accepted", "lastTransitionTime": now}]}

    # -- update and patch -----------------------------------------------------

    def update(self, rt, ns, name, body, sub=None, dry_run=False, admit_fn=None):
        obj = self._check_body(rt, body)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise err_bad_request(f"the name of the object ({meta['name']}) does not match the "
                                  f"name on the URL ({name})")
        self._check_namespace(rt, ns, obj)
        meta["name"] = name
        with self.store.cond:
            if self.store.get(rt, ns, name) is None:
                if rt.allow_create_on_update and sub is None:
                    # Only Events do this, and no webhook of ours watches them: no admission.
                    return self.create(rt, ns, obj, dry_run), 201
                raise err_not_found(rt, name)
        return self._guaranteed_update(rt, ns, name, lambda cur: copy.deepcopy(obj), sub,
                                       dry_run, admit_fn), 200

    def _guaranteed_update(self, rt, ns, name, build, sub, dry_run, admit_fn):
        """Builds the new object from the current one (lock held), has admission judge it
        with the lock released (a webhook may call back into this server), and writes it
        only if the object did not change meanwhile; else starts again, as the real
        server's GuaranteedUpdate does."""
        for _ in range(16):
            with self.store.cond:
                cur = self.store.get(rt, ns, name)
                if cur is None:
                    raise err_not_found(rt, name)
                new = build(cur)
                if admit_fn is None:
                    return self._apply_update(rt, cur, new, sub, dry_run)
                preview = self._apply_update(rt, cur, copy.deepcopy(new), sub, True)
                seen = meta_of(cur).get("resourceVersion")
            admit_fn(cur, preview)
            with self.store.cond:
                cur = self.store.get(rt, ns, name)
                if cur is None:
                    raise err_not_found(rt, name)
                if meta_of(cur).get("resourceVersion") == seen:
                    return self._apply_update(rt, cur, new, sub, dry_run)
        raise err_conflict(rt, name, "the object kept changing while admission judged it")

    def patch(self, rt, ns, name, content_type, raw, sub=None, dry_run=False, admit_fn=None):
        ctype = (content_type or "").split(";")[0].strip().lower()
        if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json",
                         "application/json-patch+json"):
            raise ApiError(415, "UnsupportedMediaType",
                           f'the body of the request was in an unknown format - accepted media '
                           f'types include: application/json-patch+json, '
                           f'application/merge-patch+json, application/strategic-merge-patch+json')
        try:
            patch = json.loads(raw.decode("utf-8") if raw else "null")
        except (ValueError, UnicodeDecodeError) as e:
            raise err_bad_request(f"error decoding patch: {e}") from None

        def build(cur):
            view = present(rt, cur)
            try:
                if ctype == "application/json-patch+json":
                    new = json_patch(view, patch)
                else:
                    if not isinstance(patch, dict):
                        raise PatchError("a merge patch must be a JSON object")
                    new = merge_patch(view, patch)
            except PatchError as e:
                raise ApiError(422, "Invalid", str(e), details_for(rt, name)) from None
            if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
                raise ApiError(422, "Invalid", "the patch removed the object's metadata",
                               details_for(rt, name))
            # A resourceVersion written by the patch is a precondition; otherwise the patch
            # applies to whatever is current (that is what makes patches conflict-free).
            if new["metadata"].get("resourceVersion") in (None, ""):
                new["metadata"]["resourceVersion"] = meta_of(cur).get("resourceVersion")
            self._check_body(rt, new)
            if new["metadata"].get("name") != name or (
                    rt.namespaced and new["metadata"].get("namespace") != ns):
                raise err_bad_request("the patch changed the object's name or namespace")
            return new
        return self._guaranteed_update(rt, ns, name, build, sub, dry_run, admit_fn)

    def _apply_update(self, rt, cur, new, sub, dry_run):
        """Shared tail of PUT and PATCH: concurrency, immutable fields, status isolation,
        generation, no-op suppression. Lock held."""
        cmeta = meta_of(cur)
        name = cmeta["name"]
        nmeta = new.setdefault("metadata", {})
        rv = nmeta.get("resourceVersion")
        if rv:
            if rv != cmeta.get("resourceVersion"):
                raise err_stale(rt, name)
        elif not rt.allow_unconditional_update:
            raise err_invalid(rt, name, [("metadata.resourceVersion", "FieldValueInvalid",
                                          "Invalid value: 0x0: must be specified for an update")])
        if nmeta.get("uid") and nmeta["uid"] != cmeta.get("uid"):
            raise err_conflict(rt, name, f"Precondition failed: UID in precondition: "
                                         f"{nmeta['uid']}, UID in object meta: {cmeta.get('uid')}")
        if sub == "status":
            # The status subresource writes status and nothing else.
            result = copy.deepcopy(cur)
            if "status" in new:
                result["status"] = copy.deepcopy(new["status"])
            else:
                result.pop("status", None)
        else:
            result = copy.deepcopy(new)
            rmeta = result["metadata"]
            for k in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation"):
                if k in cmeta:
                    rmeta[k] = copy.deepcopy(cmeta[k])
                else:
                    rmeta.pop(k, None)
            if "status" in rt.subresources:
                # With a status subresource the main resource cannot change status.
                if "status" in cur:
                    result["status"] = copy.deepcopy(cur["status"])
                else:
                    result.pop("status", None)
        result["apiVersion"], result["kind"] = rt.api_version, rt.kind
        rmeta = result["metadata"]
        rmeta.pop("managedFields", None)
        if rt.has_generation:
            gen = cmeta.get("generation", 1)
            if _spec_part(result) != _spec_part(cur):
                gen += 1
            rmeta["generation"] = gen
        if rt.custom:
            crd_validate(self.store, rt, result)
        result = ordered(result)
        rmeta["resourceVersion"] = cmeta.get("resourceVersion")
        if _without_rv(result) == _without_rv(cur):
            # The real server does not write (nor bump resourceVersion, nor wake watches)
            # for an update that changes nothing.
            return cur
        if dry_run:
            return result
        key = (cmeta.get("namespace", ""), name)
        if rmeta.get("deletionTimestamp") and not rmeta.get("finalizers") \
                and not (rt is PODS and self._grace_pending(cur)):
            # Removing the last finalizer of an object being deleted completes the delete.
            return self.store.commit(rt, key, None, "DELETED", final=result)
        return self.store.commit(rt, key, result, "MODIFIED")

    @staticmethod
    def _grace_pending(obj):
        deadline = parse_rfc3339(meta_of(obj).get("deletionTimestamp"))
        return deadline is not None and deadline > time.time()

    # -- delete ---------------------------------------------------------------

    def delete(self, rt, ns, name, opts, dry_run=False, query_grace=None):
        opts = opts if isinstance(opts, dict) else {}
        with self.store.cond:
            cur = self.store.get(rt, ns, name)
            if cur is None:
                raise err_not_found(rt, name)
            self._precondition_check(rt, cur, opts.get("preconditions"))
            key = (ns or "", name)
            meta = meta_of(cur)
            grace = opts.get("gracePeriodSeconds", query_grace)
            if rt is PODS and self.faults.flag("graceful_delete"):
                if grace is None:
                    grace = (cur.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                if int(grace) > 0:
                    return self._delete_gracefully(rt, cur, key, int(grace), dry_run), 200
            if meta.get("finalizers"):
                # Finalizers hold the object: mark it and wait for them to be removed.
                if meta.get("deletionTimestamp"):
                    return cur, 200
                new = copy.deepcopy(cur)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                if dry_run:
                    return new, 200
                return self.store.commit(rt, key, new, "MODIFIED"), 200
            if dry_run:
                deleted = cur
            else:
                if rt is NAMESPACES:
                    self._delete_namespace_contents(name)
                deleted = self.store.commit(rt, key, None, "DELETED")
        if rt.return_deleted_object:
            return deleted, 200
        return status_obj(200, None, None, details_for(rt, name, meta.get("uid")),
                          status="Success"), 200

    def _delete_gracefully(self, rt, cur, key, grace, dry_run):
        meta = meta_of(cur)
        if meta.get("deletionTimestamp"):
            old = meta.get("deletionGracePeriodSeconds")
            if old is not None and old <= grace:
                return cur
        new = copy.deepcopy(cur)
        new["metadata"]["deletionTimestamp"] = now_rfc3339(time.time() + grace)
        new["metadata"]["deletionGracePeriodSeconds"] = grace
        if dry_run:
            return new
        obj = self.store.commit(rt, key, new, "MODIFIED")
        uid = meta.get("uid")
        t = threading.Timer(grace, self._finish_graceful, args=(rt, key, uid))
        t.daemon = True
        t.start()
        return obj

    def _finish_graceful(self, rt, key, uid):
        with self.store.cond:
            cur = self.store.objects.get(rt.store_key, {}).get(key)
            # Only the pod this timer was started for (not a replacement with the same name),
            # and only once its deletionTimestamp is reached: a shorter grace period given by
            # a later DELETE has its own, earlier timer.
            m = meta_of(cur)
            if cur is None or m.get("uid") != uid or not m.get("deletionTimestamp"):
                return
            if m.get("finalizers") or self._grace_pending(cur):
                return
            self.store.commit(rt, key, None, "DELETED")

    def _delete_namespace_contents(self, ns):
        # The real namespace controller deletes everything in a terminating namespace; here
        # it happens at once, each object with its own DELETED event.
        for r in RESOURCES:
            if not r.namespaced or not r.stored or (r.group and r.store_key == "events"):
                continue
            bucket = self.store.objects.get(r.store_key, {})
            for key in sorted(k for k in bucket if k[0] == ns):
                self.store.commit(r, key, None, "DELETED")

    def delete_collection(self, rt, ns, q, opts, dry_run):
        label = LabelSelector(q.get("labelSelector", ""))
        fsel = FieldSelector(q.get("fieldSelector", ""), rt)
        deleted = []
        with self.store.cond:
            bucket = self.store.objects.get(rt.store_key, {})
            for key in sorted(bucket):
                obj = bucket[key]
                if ns and key[0] != ns:
                    continue
                view = present(rt, obj)
                if label.matches(meta_of(view).get("labels")) and fsel.matches(view):
                    try:
                        out, _ = self.delete(rt, key[0], key[1], opts, dry_run)
                    except ApiError:
                        continue
                    deleted.append(out if out.get("kind") != "Status" else obj)
            rv = self.store.rv
        return {"kind": rt.kind + "List", "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(rv)},
                "items": [present(rt, o, "item") for o in deleted]}

    # -- list -----------------------------------------------------------------

    def _encode_continue(self, at_rv, start_key):
        token = {"v": "meta.k8s.io/v1", "rv": at_rv, "start": list(start_key), "ts": time.time()}
        return base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")

    @staticmethod
    def _decode_continue(text):
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            token = json.loads(raw)
            if token.get("v") != "meta.k8s.io/v1":
                raise ValueError("unknown version")
            return int(token["rv"]), tuple(token["start"]), float(token["ts"])
        except (ValueError, KeyError, TypeError) as e:
            raise err_bad_request(f"continue key is not valid: {e}") from None

    def list(self, rt, ns, q, mode):
        label = LabelSelector(q.get("labelSelector", ""))
        fsel = FieldSelector(q.get("fieldSelector", ""), rt)
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise err_bad_request(f"invalid limit {q.get('limit')!r}") from None
        cont = q.get("continue") or ""
        rv_q = q.get("resourceVersion", "")
        match = q.get("resourceVersionMatch", "")
        if match and not rv_q:
            raise err_bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if match and match not in ("Exact", "NotOlderThan"):
            raise err_bad_request(f"resourceVersionMatch: Unsupported value: {match!r}")
        if cont and rv_q not in ("", "0"):
            raise err_bad_request("specifying resource version is not allowed when using continue")
        start = None
        with self.store.cond:
            if cont:
                at, start, issued = self._decode_continue(cont)
                expired = (self.faults.flag("expire_continue")
                           or time.time() - issued > self.page_expiry
                           or at < self.store.compacted_rv or at > self.store.rv)
                if expired:
                    # Like the real server: 410, with a token that continues from the same
                    # place at the current resourceVersion (an inconsistent continuation).
                    fresh = self._encode_continue(self.store.rv, start)
                    raise ApiError(
                        410, "Expired",
                        "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue parameter, "
                        "or use the continue token in this response to retrieve the remainder "
                        "of the results. Continuing with the provided token results in an "
                        "inconsistent list - objects that were created, modified, or deleted "
                        "between the time the first chunk was returned and now may show up in "
                        "the list.", metadata={"continue": fresh})
                state = self.store.snapshot(rt.store_key, at)
            elif rv_q not in ("", "0"):
                try:
                    wanted = int(rv_q)
                except ValueError:
                    raise err_bad_request(f"invalid resource version {rv_q!r}") from None
                deadline = time.monotonic() + TOO_LARGE_RV_WAIT
                while wanted > self.store.rv and time.monotonic() < deadline:
                    self.store.cond.wait(deadline - time.monotonic())
                if wanted > self.store.rv:
                    raise ApiError(504, "Timeout", f"Too large resource version: {wanted}, "
                                   f"current: {self.store.rv}",
                                   {"causes": [{"reason": "ResourceVersionTooLarge",
                                                "message": "Too large resource version"}],
                                    "retryAfterSeconds": 1})
                if match == "Exact":
                    at = wanted
                    state = self.store.snapshot(rt.store_key, at)
                    if state is None:
                        raise ApiError(410, "Expired",
                                       "The resourceVersion for the provided list is too old.")
                else:
                    at = self.store.rv
                    state = dict(self.store.objects.get(rt.store_key, {}))
            else:
                at = self.store.rv
                state = dict(self.store.objects.get(rt.store_key, {}))
        # The sorted keys of a snapshot never change, and the pages of one list all read the
        # same snapshot: sorting 150,000 keys for every page dominated a large paged list.
        cache_key = (rt.store_key, ns, at)
        cached = self._list_keys
        if cached is not None and cached[0] == cache_key:
            keys = cached[1]
        else:
            keys = sorted(k for k in state if not ns or k[0] == ns)
            self._list_keys = (cache_key, keys)
        if start is not None:
            keys = keys[bisect.bisect_right(keys, start):]
        # Only as many objects as the page needs are presented and matched: doing all the
        # remaining ones made each page O(n) and a 150,000-pod list quadratic.
        page, more = [], False
        for k in keys:
            view = present(rt, state[k])
            if label.matches(meta_of(view).get("labels")) and fsel.matches(view):
                if 0 < limit <= len(page):
                    more = True
                    break
                page.append((k, view))
        # Without selectors every remaining key matches, so the count needs no matching.
        rest = len(keys) - len(page) if label.empty and fsel.empty else int(more)
        lmeta = {"resourceVersion": str(at)}
        if rest > 0:
            lmeta["continue"] = self._encode_continue(at, page[-1][0])
            if label.empty and fsel.empty:
                lmeta["remainingItemCount"] = rest
        if mode == "meta":
            return {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                    "metadata": lmeta, "items": [present(rt, v, "meta") for _, v in page]}
        return {"kind": rt.kind + "List", "apiVersion": rt.api_version, "metadata": lmeta,
                "items": [present(rt, v, "item") for _, v in page]}

    # -- eviction -------------------------------------------------------------

    def evict(self, ns, name, body, dry_run_q):
        ev = self._check_body(PODS, body, kinds=(["policy/v1", "policy/v1beta1"], "Eviction"))
        if meta_of(ev).get("name") and meta_of(ev)["name"] != name:
            raise err_bad_request("name in URL does not match name in Eviction object")
        opts = ev.get("deleteOptions") or {}
        dry_run = dry_run_q or opts.get("dryRun") == ["All"]
        with self.store.cond:
            pod = self.store.get(PODS, ns, name)
            if pod is None:
                raise err_not_found(PODS, name)
            self._precondition_check(PODS, pod, opts.get("preconditions"))
            phase = (pod.get("status") or {}).get("phase")
            # Pods that are not running (or already terminating) never count against a budget.
            if phase not in ("Succeeded", "Failed", "Pending") and not meta_of(pod).get("deletionTimestamp"):
                self._check_disruption_budgets(ns, pod)
            self.delete(PODS, ns, name, opts, dry_run)
        return status_obj(201, None, None, status="Success")

    @staticmethod
    def _healthy(pod):
        status = pod.get("status") or {}
        if status.get("phase") != "Running" or meta_of(pod).get("deletionTimestamp"):
            return False
        for c in status.get("conditions") or []:
            if c.get("type") == "Ready":
                return c.get("status") == "True"
        return True

    @staticmethod
    def _scaled(value, total):
        if isinstance(value, str) and value.endswith("%"):
            try:
                return math.ceil(int(value[:-1]) * total / 100)
            except ValueError:
                return 0
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0

    def _check_disruption_budgets(self, ns, pod):
        labels = meta_of(pod).get("labels") or {}
        pdbs = [p for (pns, _), p in sorted(self.store.objects.get(PDBS.store_key, {}).items())
                if pns == ns and label_selector_matches((p.get("spec") or {}).get("selector"), labels)]
        if not pdbs:
            return
        if len(pdbs) > 1:
            raise ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, "
                           "which the eviction subresource does not support.")
        pdb = pdbs[0]
        spec = pdb.get("spec") or {}
        pods = [p for (pns, _), p in self.store.objects.get(PODS.store_key, {}).items()
                if pns == ns and not meta_of(p).get("deletionTimestamp")
                and label_selector_matches(spec.get("selector"), meta_of(p).get("labels"))]
        expected = len(pods)
        healthy = sum(1 for p in pods if self._healthy(p))
        # The disruption controller's arithmetic, done on the spot instead of from status.
        if spec.get("minAvailable") is not None:
            desired = self._scaled(spec["minAvailable"], expected)
        elif spec.get("maxUnavailable") is not None:
            desired = max(0, expected - self._scaled(spec["maxUnavailable"], expected))
        else:
            desired = 0
        if self._healthy(pod):
            allowed = healthy - desired > 0
        else:
            # An unhealthy pod may go when the budget is met anyway, or always by policy.
            allowed = (spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow"
                       or healthy >= desired)
        if not allowed:
            raise ApiError(429, "TooManyRequests",
                           "Cannot evict pod as it would violate the pod's disruption budget.",
                           {"causes": [{"reason": "DisruptionBudget",
                                        "message": f"The disruption budget {meta_of(pdb)['name']} "
                                                   f"needs {desired} healthy pods and has "
                                                   f"{healthy} currently"}]})

    # -- TokenReview ------------------------------------------------------------

    def lookup_token(self, token):
        """(entry, error) for a bearer token; entry is None when it does not authenticate."""
        entry = self.tokens.get(token) if token else None
        if not isinstance(entry, dict):
            return None, "[invalid bearer token, token lookup failed]"
        exp = parse_rfc3339(entry.get("expirationTimestamp"))
        if entry.get("expired") or (exp is not None and exp <= time.time()):
            return None, "[invalid bearer token, service account token has expired]"
        return entry, None

    def token_review(self, body):
        tr = self._check_body(TOKENREVIEWS, body)
        spec = tr.get("spec") if isinstance(tr.get("spec"), dict) else {}
        token = spec.get("token")
        if not token:
            raise err_bad_request("token is required for TokenReview in authentication")
        entry, error = self.lookup_token(token)
        status = {"user": {}}
        if entry is not None:
            have = entry.get("audiences") or ["https://kubernetes.default.svc"]
            wanted = spec.get("audiences") or []
            audiences = [a for a in wanted if a in have] if wanted else list(have)
            if wanted and not audiences:
                error = f"[invalid bearer token, token audiences {have!r} is invalid for the target audiences {wanted!r}]"
            else:
                user = {"username": entry.get("username", "")}
                for k in ("uid", "groups", "extra"):
                    if entry.get(k):
                        user[k] = copy.deepcopy(entry[k])
                # Every authenticated user is also in system:authenticated.
                groups = user.setdefault("groups", [])
                if "system:authenticated" not in groups:
                    groups.append("system:authenticated")
                status = {"authenticated": True, "user": user, "audiences": audiences}
        if "authenticated" not in status:
            # The real status omits authenticated (omitempty) when false.
            status["error"] = error
        tr["apiVersion"], tr["kind"] = TOKENREVIEWS.api_version, TOKENREVIEWS.kind
        tr["metadata"] = {"creationTimestamp": None}
        tr["status"] = status
        return ordered(tr)

    # -- seeding (control API and --seed) ----------------------------------------

    def seed(self, items):
        """Create or replace objects as given, without admission, faults or preconditions."""
        if not isinstance(items, list):
            raise err_bad_request("items must be a list")
        out = []
        with self.store.cond:
            for item in items:
                if not isinstance(item, dict):
                    raise err_bad_request("every item must be an object")
                rt = resource_for(item.get("apiVersion"), item.get("kind"))
                if rt is None:
                    raise err_bad_request(f"unknown apiVersion/kind {item.get('apiVersion')}/{item.get('kind')}")
                obj = copy.deepcopy(item)
                meta = obj.setdefault("metadata", {})
                if not meta.get("name"):
                    raise err_bad_request("every item needs metadata.name")
                ns = ""
                if rt.namespaced:
                    ns = meta.setdefault("namespace", "default") or "default"
                    meta["namespace"] = ns
                    if self.store.get(NAMESPACES, "", ns) is None:
                        self._seed_one(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": ns}})
                else:
                    meta.pop("namespace", None)
                out.append(self._seed_one(rt, obj))
        return out

    def _seed_one(self, rt, obj):
        meta = obj["metadata"]
        ns = meta.get("namespace", "")
        key = (ns, meta["name"])
        cur = self.store.get(rt, ns, meta["name"])
        meta.pop("resourceVersion", None)
        meta.setdefault("uid", meta_of(cur).get("uid") if cur else str(uuid.uuid4()))
        meta.setdefault("creationTimestamp",
                        meta_of(cur).get("creationTimestamp") if cur else now_rfc3339())
        if rt.has_generation:
            meta.setdefault("generation", 1)
        if rt is NAMESPACES:
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj.setdefault("status", {"phase": "Active"})
        if rt is PODS:
            obj.setdefault("status", {"phase": "Pending"})
        obj["apiVersion"] = obj.get("apiVersion") or rt.api_version
        obj["kind"] = rt.kind
        return self.store.commit(rt, key, ordered(obj), "MODIFIED" if cur else "ADDED")


# ---------------------------------------------------------------------------
# Discovery documents
# ---------------------------------------------------------------------------

def discovery_resources(group, version):
    resources = []
    for r in RESOURCES:
        if r.group != group or r.version != version:
            continue
        entry = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                 "kind": r.kind, "verbs": list(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        for sub in r.subresources:
            if sub == "eviction":
                resources.append({"name": f"{r.plural}/eviction", "singularName": r.singular,
                                  "namespaced": True, "group": "policy", "version": "v1",
                                  "kind": "Eviction", "verbs": ["create"]})
            else:
                resources.append({"name": f"{r.plural}/{sub}", "singularName": r.singular,
                                  "namespaced": r.namespaced, "kind": r.kind,
                                  "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


def discovery_group(group):
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in GROUP_VERSIONS[group]]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def discovery_groups():
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [discovery_group(g) for g in GROUP_VERSIONS if g]}


# ---------------------------------------------------------------------------
# Tables (kubectl get) and OpenAPI (kubectl apply validation, kubectl explain)
# ---------------------------------------------------------------------------
# kubectl get asks for Accept: application/json;as=Table;v=v1;g=meta.k8s.io and prints the
# columns the server computed.  As kube-apiserver: a CRD's additionalPrinterColumns evaluated
# on each object (a simple JSONPath; date columns as an age, integer cells as numbers, a
# missing value as null), the built-in printers for pods and events, and Name + Created At
# for the rest.

_NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, "
              "although some resources may allow a client to request the generation of an "
              "appropriate name automatically. Name is primarily intended for creation "
              "idempotence and configuration definition. Cannot be updated. More info: "
              "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
_CREATED_DESC = ("CreationTimestamp is a timestamp representing the server time when this object "
                 "was created.")


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, to the letter."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def age(timestamp):
    t = parse_rfc3339(timestamp) if timestamp else None
    return "<unknown>" if t is None else human_duration(time.time() - t)


def _column(name, typ, desc="", fmt="", priority=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


def simple_jsonpath(obj, path):
    """The value at a CRD column's JSONPath (.a.b.c), or None when absent."""
    cur = obj
    for part in [p for p in (path or "").strip().lstrip(".").split(".") if p]:
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def crd_for(store, rt):
    """The stored CRD that defines rt, and its entry for rt.version; (None, None) if none."""
    with store.cond:
        crds = list(store.bucket(CRDS.store_key).values())
    for crd in crds:
        spec = crd.get("spec") or {}
        if spec.get("group") == rt.group and (spec.get("names") or {}).get("plural") == rt.plural:
            for v in spec.get("versions") or []:
                if v.get("name") == rt.version:
                    return crd, v
    return None, None


def _crd_cell(typ, value):
    """apiextensions-apiserver's cellForJSONValue; strings as JSONPath prints them."""
    if value is None:
        return None
    if typ == "string":
        return value if isinstance(value, str) else dumps(value).decode()
    if typ == "integer":
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if typ == "number":
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if typ == "boolean":
        return value if isinstance(value, bool) else None
    if typ == "date":
        if not isinstance(value, str):
            return None
        return "<invalid>" if parse_rfc3339(value) is None else age(value)
    return None


def _pod_row(obj):
    """pkg/printers/internalversion printPod, the common cases."""
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    statuses = st.get("containerStatuses") or []
    reason = st.get("reason") or st.get("phase") or ""
    restarts = 0
    ready = 0
    for cs in reversed(statuses):
        restarts += int(cs.get("restartCount") or 0)
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
        if cs.get("ready") and state.get("running") is not None:
            ready += 1
    if meta_of(obj).get("deletionTimestamp"):
        reason = "Terminating"
    ips = [p.get("ip") for p in st.get("podIPs") or [] if p.get("ip")] or (
        [st["podIP"]] if st.get("podIP") else [])
    gates = spec.get("readinessGates") or []
    return [meta_of(obj).get("name", ""), f"{ready}/{len(spec.get('containers') or [])}", reason,
            str(restarts), age(meta_of(obj).get("creationTimestamp")),
            ips[0] if ips else "<none>", spec.get("nodeName") or "<none>",
            st.get("nominatedNodeName") or "<none>",
            f"{len(gates)}/{len(gates)}" if gates else "<none>"]


def _event_row(obj):
    """printEvent, on the core/v1 view of the Event."""
    ev = convert_event(obj, False)
    if ev.get("lastTimestamp"):
        last = age(ev["lastTimestamp"])
    elif (ev.get("series") or {}).get("lastObservedTime"):
        last = age(ev["series"]["lastObservedTime"])
    elif ev.get("eventTime"):
        last = age(ev["eventTime"])
    else:
        last = "<unknown>"
    first = age(ev["firstTimestamp"]) if ev.get("firstTimestamp") else (
        age(ev["eventTime"]) if ev.get("eventTime") else "<unknown>")
    io = ev.get("involvedObject") or {}
    src = ev.get("source") or {}
    source = src.get("component") or ev.get("reportingComponent") or ""
    if src.get("host"):
        source += ", " + src["host"]
    count = ev.get("count") or ((ev.get("series") or {}).get("count")) or 1
    return [last, ev.get("type", ""), ev.get("reason", ""),
            f"{(io.get('kind') or '').lower()}/{io.get('name', '')}", io.get("fieldPath", ""),
            source, (ev.get("message") or "").strip(), first, int(count), meta_of(obj).get("name", "")]


def table_columns(store, rt):
    """(columnDefinitions, row function) for rt."""
    if rt.custom:
        _, ver = crd_for(store, rt)
        extra = (ver or {}).get("additionalPrinterColumns")
        if not extra:
            # What the CRD API defaults an empty column list to.
            extra = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
        cols = [_column("Name", "string", _NAME_DESC, "name")] + [
            _column(c.get("name", ""), c.get("type", "string"), c.get("description", ""),
                    c.get("format", ""), int(c.get("priority") or 0)) for c in extra]

        def row(obj):
            return [meta_of(obj).get("name", "")] + [
                _crd_cell(c.get("type", "string"), simple_jsonpath(obj, c.get("jsonPath")))
                for c in extra]
        return cols, row
    if rt is PODS:
        return [_column("Name", "string", _NAME_DESC, "name"),
                _column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
                _column("Status", "string", "The aggregate status of the containers in this pod."),
                _column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                _column("Age", "string", _CREATED_DESC),
                _column("IP", "string", "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", priority=1),
                _column("Node", "string", "NodeName is a request to schedule this pod onto a specific node.", priority=1),
                _column("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node.", priority=1),
                _column("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness.", priority=1),
                ], _pod_row
    if rt.store_key == "events":
        return [_column("Last Seen", "string", "The last time this event was seen."),
                _column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future."),
                _column("Reason", "string", "This should be a short, machine understandable string that gives the reason for this event being generated."),
                _column("Object", "string", "The object this event is about."),
                _column("Subobject", "string", "The specific part of the object the event is about.", priority=1),
                _column("Source", "string", "The component reporting this event.", priority=1),
                _column("Message", "string", "A human-readable description of the status of this operation."),
                _column("First Seen", "string", "The first time this event was seen.", priority=1),
                _column("Count", "integer", "The number of times this event has occurred.", priority=1),
                _column("Name", "string", _NAME_DESC, "name", priority=1),
                ], _event_row
    return [_column("Name", "string", _NAME_DESC, "name"),
            _column("Created At", "date", _CREATED_DESC)], lambda obj: [
        meta_of(obj).get("name", ""), meta_of(obj).get("creationTimestamp")]


def as_table(store, rt, objs, list_meta, include):
    """A meta.k8s.io/v1 Table of @objs; @include: None | Object | PartialObjectMetadata."""
    if include not in ("None", "Object", "PartialObjectMetadata"):
        raise err_bad_request(f'includeObject: Unsupported value: "{include}": supported values: '
                              f'"None", "Object", "PartialObjectMetadata"')
    cols, row = table_columns(store, rt)
    rows = []
    for obj in objs:
        r = {"cells": row(obj)}
        if include == "Object":
            r["object"] = present(rt, obj)
        elif include == "PartialObjectMetadata":
            r["object"] = present(rt, obj, "meta")
        rows.append(r)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": cols, "rows": rows}


# OpenAPI: what kube-apiserver publishes for a CRD, from its openAPIV3Schema.  v3 per group
# version (kubectl explain; kubectl apply reads there that PATCH takes fieldValidation, and
# leaves field validation to the server) and v2 (JSON with the CRD schemas; as protobuf, see
# openapi_v2_protobuf).  Only CRD-defined kinds have schemas here.

_V2_DROP = ("oneOf", "anyOf", "allOf", "not", "nullable", "x-kubernetes-validations")


def _schema_v2(schema):
    """A structural v3 schema as the v2 document carries it: without what Swagger 2.0 lacks."""
    if isinstance(schema, list):
        return [_schema_v2(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for k, v in schema.items():
        if k in _V2_DROP:
            continue
        if k in ("properties",):
            out[k] = {pk: _schema_v2(pv) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties") and isinstance(v, dict):
            out[k] = _schema_v2(v)
        else:
            out[k] = v
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
    return out


def _crd_models(store, group_version=None):
    """{definition name: schema} for every CRD-defined kind (of one group/version)."""
    with store.cond:
        crds = list(store.bucket(CRDS.store_key).values())
    models = {}
    for crd in crds:
        spec = crd.get("spec") or {}
        group, kind = spec.get("group", ""), (spec.get("names") or {}).get("kind", "")
        for v in spec.get("versions") or []:
            if not v.get("served", True):
                continue
            if group_version and f"{group}/{v.get('name')}" != group_version:
                continue
            schema = copy.deepcopy(((v.get("schema") or {}).get("openAPIV3Schema")) or {})
            props = schema.setdefault("properties", {})
            props["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}
            props["kind"] = {"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}
            props["metadata"] = {"type": "object", "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}
            schema["x-kubernetes-group-version-kind"] = [
                {"group": group, "kind": kind, "version": v.get("name", "")}]
            rev = ".".join(reversed(group.split(".")))
            models[f"{rev}.{v.get('name')}.{kind}"] = schema
    return models


def _pb_field(num, payload):
    """One length-delimited protobuf field (wire type 2)."""
    key, size, out = (num << 3) | 2, len(payload), bytearray()
    for v in (key, size):
        while True:
            b, v = v & 0x7F, v >> 7
            out.append(b | (0x80 if v else 0))
            if not v:
                break
    return bytes(out) + payload


def openapi_v2_protobuf():
    """/openapi/v2 as kubectl asks for it (gnostic's openapi_v2.Document, protobuf): swagger (1)
    and info (2: title 1, version 2) only, no definitions.  Older kubectls (before 1.28 or so)
    fetch it for client-side validation; with no schema in it they validate nothing themselves,
    and the stand-in still checks custom resources against their CRD."""
    info = _pb_field(1, b"Kubernetes") + _pb_field(2, VERSION_INFO["gitVersion"].encode())
    return _pb_field(1, b"2.0") + _pb_field(2, info)


def openapi_v2(store):
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
            "paths": {}, "definitions": {k: _schema_v2(m) for k, m in _crd_models(store).items()}}


def _gv_path(group, version):
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_v3_paths(store):
    out = {}
    for group, versions in GROUP_VERSIONS.items():
        for version in versions:
            gv = _gv_path(group, version)
            digest = hashlib.sha512(dumps(openapi_v3_doc(store, gv))).hexdigest().upper()
            out[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": out}


def openapi_v3_doc(store, gv_path):
    """The document of one group version: its object paths, whose PATCH takes fieldValidation
    (the stand-in checks custom resources' fields itself, so kubectl leaves that to it), and
    the schemas of its CRD-defined kinds."""
    gv = [(g, v) for g, vs in GROUP_VERSIONS.items() for v in vs if _gv_path(g, v) == gv_path]
    if not gv:
        return None
    group, version = gv[0]
    paths = {}
    for r in RESOURCES:
        if r.group != group or r.version != version or "patch" not in r.verbs:
            continue
        scope = "namespaces/{namespace}/" if r.namespaced else ""
        paths[f"/{gv_path}/{scope}{r.plural}/{{name}}"] = {"patch": {
            "operationId": f"patch{r.kind}", "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": r.kind},
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"},
                            "description": "fieldValidation instructs the server on how to handle "
                                           "objects in the request containing unknown or duplicate "
                                           "fields: Ignore, Warn (the default) or Strict."}],
            "responses": {"200": {"description": "OK"}}}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
            "paths": paths,
            "components": {"schemas": _crd_models(store, f"{group}/{version}" if group else version)}}

# Custom resources are checked against their CRD's openAPIV3Schema, as kube-apiserver does
# before any validating webhook is called: unknown fields pruned (a warning), or refused with
# ?fieldValidation=Strict (what kubectl sends); then types, required fields, enums, patterns,
# lengths, item counts and bounds (all errors at once, 422).  Schema defaults are filled in
# first.  x-kubernetes-validations (CEL) rules are not evaluated.

_REQUEST = threading.local()   # fieldValidation and warnings of the request being served

_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def _type_ok(typ, v):
    if typ == "integer":
        return isinstance(v, int) and not isinstance(v, bool) or (
            isinstance(v, float) and v.is_integer())
    if typ == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return typ not in _JSON_TYPES or isinstance(v, _JSON_TYPES[typ])


def _json_type(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "integer" if isinstance(v, int) or v.is_integer() else "number"
    return {dict: "object", list: "array", str: "string", type(None): "null"}.get(type(v), "string")


def _schema_walk(schema, v, path, errs, unknown):
    """Validates @v against @schema; prunes unknown fields of objects, naming them in @unknown."""
    if v is None:
        if not schema.get("nullable"):
            errs.append((path, "FieldValueTypeInvalid",
                         f'Invalid value: "null": {path} in body must be of type {schema.get("type", "object")}: "null"'))
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not (isinstance(v, str) or _type_ok("integer", v)):
            errs.append((path, "FieldValueTypeInvalid",
                         f'Invalid value: "{_json_type(v)}": {path} in body must be of type integer-or-string'))
        return
    typ = schema.get("type")
    if typ and not _type_ok(typ, v):
        errs.append((path, "FieldValueTypeInvalid",
                     f'Invalid value: "{_json_type(v)}": {path} in body must be of type {typ}: "{_json_type(v)}"'))
        return
    if "enum" in schema and v not in schema["enum"]:
        allowed = ", ".join(json.dumps(x) for x in schema["enum"])
        errs.append((path, "FieldValueNotSupported",
                     f"Unsupported value: {json.dumps(v)}: supported values: {allowed}"))
    if isinstance(v, str):
        if "maxLength" in schema and len(v) > schema["maxLength"]:
            errs.append((path, "FieldValueTooLong", f"Too long: may not be longer than {schema['maxLength']}"))
        if "minLength" in schema and len(v) < schema["minLength"]:
            errs.append((path, "FieldValueInvalid",
                         f'Invalid value: "{v}": {path} in body should be at least {schema["minLength"]} chars long'))
        if "pattern" in schema and not re.search(schema["pattern"], v):
            errs.append((path, "FieldValueInvalid",
                         f"Invalid value: \"{v}\": {path} in body should match '{schema['pattern']}'"))
    if _type_ok("number", v):
        if "minimum" in schema and v < schema["minimum"]:
            errs.append((path, "FieldValueInvalid",
                         f"Invalid value: {v}: {path} in body should be greater than or equal to {schema['minimum']}"))
        if "maximum" in schema and v > schema["maximum"]:
            errs.append((path, "FieldValueInvalid",
                         f"Invalid value: {v}: {path} in body should be less than or equal to {schema['maximum']}"))
    if isinstance(v, list):
        if "maxItems" in schema and len(v) > schema["maxItems"]:
            errs.append((path, "FieldValueTooMany",
                         f"Too many: {len(v)}: must have at most {schema['maxItems']} items"))
        if "minItems" in schema and len(v) < schema["minItems"]:
            errs.append((path, "FieldValueInvalid",
                         f"Invalid value: {len(v)}: {path} in body should have at least {schema['minItems']} items"))
        for i, item in enumerate(v):
            if isinstance(schema.get("items"), dict):
                _schema_walk(schema["items"], item, f"{path}[{i}]", errs, unknown)
    if isinstance(v, dict):
        props = schema.get("properties") or {}
        for req in schema.get("required") or []:
            if req not in v:
                errs.append((f"{path}.{req}" if path else req, "FieldValueRequired", "Required value"))
        extra = schema.get("additionalProperties")
        for k in list(v):
            sub = f"{path}.{k}" if path else k
            if k in props:
                _schema_walk(props[k], v[k], sub, errs, unknown)
            elif isinstance(extra, dict):
                _schema_walk(extra, v[k], sub, errs, unknown)
            elif not schema.get("x-kubernetes-preserve-unknown-fields") and extra is not True:
                unknown.append(sub)
                del v[k]


def warning_header(text):
    """A Warning header as kube-apiserver writes it (k8s.io/apimachinery net.NewWarningHeader):
    code 299, agent "-", the text a quoted-string with its '"' and '\\' escaped; kubectl
    unquotes it and prints the text as the webhook wrote it."""
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _schema_default(schema, v):
    """Fills in the schema's `default`s of the fields @v lacks, as kube-apiserver does for a
    structural schema: in every object present (never creating a parent that is absent)."""
    if isinstance(v, dict):
        for k, sub in (schema.get("properties") or {}).items():
            if k not in v and "default" in sub:
                v[k] = json.loads(json.dumps(sub["default"]))
            if k in v:
                _schema_default(sub, v[k])
    elif isinstance(v, list) and isinstance(schema.get("items"), dict):
        for item in v:
            _schema_default(schema["items"], item)


def crd_validate(store, rt, obj):
    """Checks (and prunes) a custom resource in place against its CRD, if there is one, after
    filling in the schema's defaults."""
    _, ver = crd_for(store, rt)
    schema = ((ver or {}).get("schema") or {}).get("openAPIV3Schema")
    if not schema:
        return
    errs, unknown = [], []
    top = dict(schema, properties=dict(schema.get("properties") or {}))
    for k in ("apiVersion", "kind"):
        top["properties"].setdefault(k, {"type": "string"})
    top["properties"]["metadata"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    _schema_default(top, obj)
    _schema_walk(top, obj, "", errs, unknown)
    mode = getattr(_REQUEST, "field_validation", None) or "Warn"
    if unknown and mode == "Strict":
        text = ", ".join(f'unknown field "{u}"' for u in unknown)
        raise err_bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a '
                              f'{rt.kind}: strict decoding error: {text}')
    if unknown and mode == "Warn" and hasattr(_REQUEST, "warnings"):
        _REQUEST.warnings.extend(f'unknown field "{u}"' for u in unknown)
    if errs:
        raise err_invalid(rt, meta_of(obj).get("name", ""), errs)


VERSION_INFO = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-profileguard-standin",
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2024-01-01T00:00:00Z", "goVersion": "go1.22.0", "compiler": "gc",
                "platform": "linux/amd64"}


# ---------------------------------------------------------------------------
# Request routing
# ---------------------------------------------------------------------------

@dataclass
class Route:
    kind: str                  # resource | api | apis | group | resources | version | health
    rt: ResourceType = None
    ns: str = None
    name: str = None
    sub: str = None
    group: str = ""
    version: str = ""
    watch_prefix: bool = False


def route(path):
    segs = [urllib.parse.unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
    if segs == ["version"]:
        return Route("version")
    if segs in (["healthz"], ["livez"], ["readyz"]):
        return Route("health")
    if segs[:1] == ["openapi"] and len(segs) >= 2:
        return Route("openapi", name="/".join(segs[1:]))
    if not segs:
        raise err_not_found_path()
    if segs[0] == "api":
        if len(segs) == 1:
            return Route("api")
        if segs[1] != "v1":
            raise err_not_found_path()
        group, version, rest = "", "v1", segs[2:]
    elif segs[0] == "apis":
        if len(segs) == 1:
            return Route("apis")
        group = segs[1]
        if group not in GROUP_VERSIONS or not group:
            raise err_not_found_path()
        if len(segs) == 2:
            return Route("group", group=group)
        version, rest = segs[2], segs[3:]
        if version not in GROUP_VERSIONS[group]:
            raise err_not_found_path()
    else:
        raise err_not_found_path()
    if not rest:
        return Route("resources", group=group, version=version)
    watch_prefix = False
    if rest[0] == "watch":
        watch_prefix, rest = True, rest[1:]
        if not rest:
            raise err_not_found_path()
    ns = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        inner = BY_PATH.get((group, version, rest[2]))
        if inner is not None and inner.namespaced:
            ns, rest = rest[1], rest[2:]
    rt = BY_PATH.get((group, version, rest[0]))
    if rt is None or len(rest) > 3:
        raise err_not_found_path()
    if rt.namespaced and ns is None and len(rest) > 1:
        raise err_not_found_path()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in rt.subresources:
        raise err_not_found_path()
    if name == "":
        raise err_not_found_path()
    return Route("resource", rt=rt, ns=ns, name=name, sub=sub, group=group, version=version,
                 watch_prefix=watch_prefix)


def negotiate(accept, target):
    """Pick the representation from Accept: 'full', 'meta' or 'table'. target: object|list|watch.

    The real server takes the first acceptable entry in order, ignoring q-values."""
    if not accept or not accept.strip():
        return "full"
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        mt = pieces[0].lower()
        params = {}
        for p in pieces[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip().lower()] = v.strip()
        if mt not in ("application/json", "application/*", "*/*"):
            continue
        as_ = params.get("as")
        if as_ is None:
            return "full"
        if params.get("g") != "meta.k8s.io" or params.get("v") not in ("v1", "v1beta1"):
            continue
        if as_ == "PartialObjectMetadata" and target in ("object", "watch"):
            return "meta"
        if as_ == "PartialObjectMetadataList" and target in ("list", "watch"):
            return "meta"
        if as_ == "Table" and target in ("object", "list"):
            return "table"
    raise err_not_acceptable()


# ---------------------------------------------------------------------------
# HTTP layer
# ---------------------------------------------------------------------------

class _Aborted(Exception):
    """The connection was torn down on purpose (fault knob); nothing more may be written."""


WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
VERB_OF = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-standin"
    sys_version = ""
    # Idle keep-alive connections and stuck writers are dropped after this long.
    timeout = 120
    # Headers and body leave in separate writes: with Nagle on, the body waits for the
    # client's delayed ACK, and every request on a kept-alive connection takes ~40 ms.
    disable_nagle_algorithm = True

    # BaseHTTPRequestHandler logs each request to stderr; the app logs on its own terms.
    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def do_OPTIONS(self):
        self._dispatch()

    # -- plumbing ---------------------------------------------------------------

    def handle(self):
        try:
            super().handle()
        except _Aborted:
            pass
        except (OSError, ssl.SSLError, ValueError):
            # A client vanishing mid-request is normal for a test server; never fatal.
            self.close_connection = True

    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise err_bad_request("invalid Content-Length") from None
        if n > MAX_BODY_BYTES:
            # Draining 8 MiB of junk is pointless: answer and hang up.
            self.close_connection = True
            raise ApiError(413, "RequestEntityTooLarge",
                           f"Request entity too large: limit is {MAX_BODY_BYTES}")
        return self.rfile.read(n)

    def _read_chunked(self):
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise err_bad_request("malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                self.close_connection = True
                raise ApiError(413, "RequestEntityTooLarge",
                               f"Request entity too large: limit is {MAX_BODY_BYTES}")
            body += self.rfile.read(size)
            self.rfile.readline(16)

    def _send(self, code, data, content_type=MEDIA_JSON, headers=None):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", self._audit_id)
        # a dict, or (name, value) pairs when a header repeats (Warning)
        for k, v in (headers.items() if isinstance(headers, dict) else headers or ()):
            self.send_header(k, str(v))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._status = code

    def _send_json(self, code, obj, headers=None):
        self._send(code, dumps(obj), MEDIA_JSON, headers)

    def _abort(self):
        """Tear the connection down without an answer (RST, no TLS close_notify)."""
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.rfile.close()   # makefile() keeps the socket open until it is closed too
        except (OSError, ValueError):
            pass
        try:
            sock.close()
        except OSError:
            pass
        self.close_connection = True
        self._status = 0
        raise _Aborted()

    # -- dispatch ---------------------------------------------------------------

    def _dispatch(self):
        app = self.server.app
        self._audit_id = str(uuid.uuid4())
        self._status = None
        started = time.monotonic()
        split = urllib.parse.urlsplit(self.path)
        path = split.path or "/"
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        target = path + ("?" + split.query if split.query else "")
        record = None
        user = None
        try:
            if path == "/_standin" or path.startswith("/_standin/"):
                body = self._read_body()
                app.control(self, path, query, body)
                return
            body = b""
            try:
                body = self._read_body()
            finally:
                record = app.record(self, path, split.query, query, body)
            if app.faults.take("reset", target) is not None:
                self._abort()
            slow = app.faults.take("slow", target)
            if slow is not None:
                time.sleep(max(0, float(slow.get("delay_ms", 0))) / 1000.0)
            f429 = app.faults.take("status_429", target)
            if f429 is not None:
                retry = int(f429.get("retry_after", 1))
                raise ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                               {"retryAfterSeconds": retry}, headers={"Retry-After": retry})
            if app.faults.take("status_500", target) is not None:
                raise ApiError(500, "InternalError", "Internal error occurred: injected fault",
                               {"causes": [{"message": "injected fault"}]})
            r = route(path)
            if r.kind == "health":
                self._send(200, b"ok", "text/plain; charset=utf-8")
                return
            if r.kind == "version":
                self._send_json(200, VERSION_INFO)
                return
            user = app.authenticate(self)
            if r.kind != "resource":
                if self.command != "GET":
                    raise err_method_not_allowed()
                if r.kind == "openapi":
                    self._openapi(app, r.name)
                elif r.kind == "api":
                    host, port = self.server.server_address[:2]
                    self._send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                          "serverAddressByClientCIDRs": [
                                              {"clientCIDR": "0.0.0.0/0",
                                               "serverAddress": f"{host}:{port}"}]})
                elif r.kind == "apis":
                    self._send_json(200, discovery_groups())
                elif r.kind == "group":
                    self._send_json(200, dict(kind="APIGroup", apiVersion="v1",
                                              **discovery_group(r.group)))
                else:
                    self._send_json(200, discovery_resources(r.group, r.version))
                return
            self._resource(app, r, query, body, user, target)
        except _Aborted:
            raise
        except ApiError as e:
            self._send_json(e.code, e.status, e.headers)
        except OSError:   # the client went away (ssl.SSLError and timeouts are OSErrors)
            self.close_connection = True
        except Exception:  # a server bug must cost one request, never the server
            app.error(f"internal error on {self.command} {path}:\n{traceback.format_exc()}")
            if self._status is None:
                self.close_connection = True
                try:
                    self._send_json(500, status_obj(500, "InternalError",
                                                    "Internal error occurred: stand-in bug"))
                except OSError:
                    pass
        finally:
            if record is not None:
                record["status"] = self._status
            if not path.startswith("/_standin"):
                app.access(self.command, path, self._status, user,
                           (time.monotonic() - started) * 1000)

    def _openapi(self, app, which):
        if which == "v2":
            if "protobuf" in (self.headers.get("Accept") or ""):
                # Asked for as ...spec.v2@v1.0+protobuf; answered with the parseable name.
                self._send(200, openapi_v2_protobuf(),
                           "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
            else:
                self._send_json(200, openapi_v2(app.store))
            return
        if which == "v3":
            self._send_json(200, openapi_v3_paths(app.store))
            return
        doc = openapi_v3_doc(app.store, which[len("v3/"):]) if which.startswith("v3/") else None
        if doc is None:
            raise err_not_found_path()
        self._send_json(200, doc)

    def _parse_json_body(self, body):
        ctype = (self.headers.get("Content-Type") or MEDIA_JSON).split(";")[0].strip().lower()
        if ctype not in (MEDIA_JSON, "*/*", "application/*"):
            raise ApiError(415, "UnsupportedMediaType",
                           f'the body of the request was in an unknown format - accepted media '
                           f'types include: application/json')
        try:
            return json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise err_bad_request(f"couldn't get version/kind; json parse error: {e}") from None

    @staticmethod
    def _dry_run(query):
        value = query.get("dryRun")
        if value is None or value == "":
            return False
        if value != "All":
            raise err_bad_request(f'Invalid dry run value "{value}": supported values are "All"')
        return True

    def _forbid(self, user, r, verb):
        res = r.rt.plural + (f"/{r.sub}" if r.sub else "")
        who = f'{r.rt.qualified} "{r.name}"' if r.name else r.rt.qualified
        scope = f'in the namespace "{r.ns}"' if r.ns else "at the cluster scope"
        details = details_for(r.rt, r.name)
        raise ApiError(403, "Forbidden", f'{who} is forbidden: User "{user["username"]}" cannot '
                       f'{verb} resource "{res}" in API group "{r.rt.group}" {scope}', details)

    def _resource(self, app, r, q, body, user, target):
        method = self.command
        rt, ns, name, sub = r.rt, r.ns, r.name, r.sub
        _REQUEST.field_validation = q.get("fieldValidation")
        _REQUEST.warnings = []
        watch = r.watch_prefix or truthy(q.get("watch", ""))
        if method in WRITE_METHODS and user.get("readonly"):
            verb = "deletecollection" if method == "DELETE" and not name else VERB_OF[method]
            self._forbid(user, r, verb)
        api = app.api

        if rt is TOKENREVIEWS:
            if method != "POST" or name:
                raise err_method_not_allowed()
            self._send_json(201, api.token_review(self._parse_json_body(body)))
            return

        if sub == "eviction":
            if method != "POST":
                raise err_method_not_allowed()
            result = api.evict(ns, name, self._parse_json_body(body), self._dry_run(q))
            self._send_json(201, result)
            return

        if name is None:
            if method == "GET":
                if watch:
                    self._serve_watch(app, rt, ns, None, q, negotiate(self.headers.get("Accept"), "watch"), target)
                else:
                    mode = negotiate(self.headers.get("Accept"), "list")
                    lst = api.list(rt, ns, q, "full" if mode == "table" else mode)
                    if mode == "table":
                        lst = as_table(app.store, rt, lst["items"], lst["metadata"],
                                       q.get("includeObject") or "PartialObjectMetadata")
                    self._send_json(200, lst)
                return
            if method == "POST":
                if rt.namespaced and ns is None:
                    raise err_method_not_allowed()
                obj = self._parse_json_body(body)
                warnings = []
                if isinstance(obj, dict) and rt.custom:
                    # The schema is checked before any webhook sees the object.
                    crd_validate(app.store, rt, obj)
                if isinstance(obj, dict) and rt.stored:
                    warnings = admit(app.store, rt, ns, obj, "CREATE", user, self._dry_run(q))
                obj = api.create(rt, ns, obj, self._dry_run(q))
                # kube-apiserver passes webhook warnings on as Warning headers.
                self._send_json(201, present(rt, obj), headers=[
                    ("Warning", warning_header(w))
                    for w in _REQUEST.warnings + warnings])
                return
            if method == "DELETE":
                opts = self._parse_json_body(body) if body.strip() else {}
                self._send_json(200, api.delete_collection(rt, ns, q, opts, self._dry_run(q)))
                return
            raise err_method_not_allowed()

        if method == "GET":
            if watch:
                self._serve_watch(app, rt, ns, name, q, negotiate(self.headers.get("Accept"), "watch"), target)
                return
            mode = negotiate(self.headers.get("Accept"), "object")
            with app.store.cond:
                obj = app.store.get(rt, ns, name)
            if obj is None:
                raise err_not_found(rt, name)
            if mode == "table":
                self._send_json(200, as_table(app.store, rt, [obj],
                                              {"resourceVersion": meta_of(obj).get("resourceVersion", "")},
                                              q.get("includeObject") or "PartialObjectMetadata"))
                return
            self._send_json(200, present(rt, obj, mode))
            return
        warnings = _REQUEST.warnings

        def admit_fn(old, new, operation="UPDATE"):
            warnings.extend(admit(app.store, rt, ns, present(rt, new) if new is not None else None,
                                  operation, user, dry, sub, old=present(rt, old)))
        hdrs = lambda: [("Warning", warning_header(w)) for w in warnings]
        if method == "PUT":
            dry = self._dry_run(q)
            obj, code = api.update(rt, ns, name, self._parse_json_body(body), sub, dry,
                                   admit_fn if rt.stored else None)
            self._send_json(code, present(rt, obj), headers=hdrs())
            return
        if method == "PATCH":
            dry = self._dry_run(q)
            obj = api.patch(rt, ns, name, self.headers.get("Content-Type"), body, sub, dry,
                            admit_fn if rt.stored else None)
            self._send_json(200, present(rt, obj), headers=hdrs())
            return
        if method == "DELETE" and sub is None:
            opts = self._parse_json_body(body) if body.strip() else {}
            if not isinstance(opts, dict):
                raise err_bad_request("DeleteOptions must be a JSON object")
            grace = None
            if q.get("gracePeriodSeconds", "") != "":
                try:
                    grace = int(q["gracePeriodSeconds"])
                except ValueError:
                    raise err_bad_request("invalid gracePeriodSeconds") from None
            dry = self._dry_run(q) or opts.get("dryRun") == ["All"]
            with app.store.cond:
                cur = app.store.get(rt, ns, name)
            if cur is not None and rt.stored:
                # Admission sees the object as it is; the delete itself checks it again.
                admit_fn(cur, None, "DELETE")
            obj, code = api.delete(rt, ns, name, opts, dry, grace)
            self._send_json(code, present(rt, obj) if obj.get("kind") != "Status" else obj,
                            headers=hdrs())
            return
        raise err_method_not_allowed()

    # -- watch ------------------------------------------------------------------

    def _write_chunk(self, data, split):
        if split:
            # One write per piece: each lands in its own TLS record, so the client's reads
            # really return fragments of a JSON line, not just oddly framed chunks.
            for i in range(0, len(data), split):
                piece = data[i:i + split]
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        else:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def _client_gone(self):
        """A watch client says nothing after its request, so readable means EOF (or junk)."""
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable and not sock.pending():
                return False
            old = sock.gettimeout()
            sock.settimeout(0.05)
            try:
                return not sock.recv(4096)
            except (socket.timeout, ssl.SSLWantReadError):
                return False
            finally:
                sock.settimeout(old)
        except (OSError, ValueError):
            return True

    def _serve_watch(self, app, rt, ns, name, q, mode, target):
        store = app.store
        label = LabelSelector(q.get("labelSelector", ""))
        fsel = FieldSelector(q.get("fieldSelector", ""), rt)
        if name:
            fsel.add("metadata.name", "=", name)
        try:
            timeout = int(q.get("timeoutSeconds") or 0)
        except ValueError:
            raise err_bad_request("invalid timeoutSeconds") from None
        if timeout <= 0:
            timeout = DEFAULT_WATCH_TIMEOUT
        bookmarks = truthy(q.get("allowWatchBookmarks", ""))
        # Watch-list streaming: the current state as ADDED whatever the resourceVersion, then
        # a bookmark annotated k8s.io/initial-events-end once it has all been sent.
        send_initial = truthy(q.get("sendInitialEvents", ""))
        rv_q = q.get("resourceVersion", "")
        if rv_q not in ("", "0"):
            try:
                int(rv_q)
            except ValueError:
                raise err_bad_request(f"invalid resource version {rv_q!r}") from None

        def matches(view):
            m = meta_of(view)
            return ((not ns or m.get("namespace") == ns) and label.matches(m.get("labels"))
                    and fsel.matches(view))

        initial, too_old = [], None
        with store.cond:
            if rv_q in ("", "0") or send_initial:
                # No (or any) resourceVersion: the current state as ADDED, then changes.
                pos = store.rv
                bucket = store.objects.get(rt.store_key, {})
                initial = [bucket[k] for k in sorted(bucket)]
            else:
                pos = int(rv_q)
                if pos < store.compacted_rv:
                    too_old = (f"too old resource version: {pos} ({store.compacted_rv})")
        if too_old and app.faults.flag("watch_410_http"):
            raise ApiError(410, "Expired", too_old)

        reset = app.faults.take("reset_watch", target)
        reset_after = int(reset.get("after_events", 0)) if reset is not None else None
        split = app.faults.value("split_chunks")
        split = (int(split.get("size", 7)) if isinstance(split, dict) else 7) if split else 0

        self.send_response(200)
        self.send_header("Content-Type", MEDIA_JSON)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", self._audit_id)
        self.end_headers()
        self._status = 200
        sent = 0

        def emit(etype, obj):
            nonlocal sent
            self._write_chunk(dumps({"type": etype, "object": obj}) + b"\n", split)
            if etype in ("ADDED", "MODIFIED", "DELETED"):
                sent += 1
                if reset_after is not None and sent >= reset_after:
                    self._abort()

        watch_id = app.watch_started(self, rt, ns, q)
        try:
            if reset_after == 0:
                self._abort()
            if too_old:
                emit("ERROR", status_obj(410, "Expired", too_old))
                self.wfile.write(b"0\r\n\r\n")
                return
            for obj in initial:
                view = present(rt, obj)
                if matches(view):
                    emit("ADDED", present(rt, view, mode))

            def bookmark(annotations=None):
                if mode == "meta":
                    bm = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1"}
                else:
                    bm = {"kind": rt.kind, "apiVersion": rt.api_version}
                bm["metadata"] = {"resourceVersion": str(pos)}
                if annotations:
                    bm["metadata"]["annotations"] = annotations
                emit("BOOKMARK", bm)

            if send_initial and bookmarks:
                bookmark({"k8s.io/initial-events-end": "true"})
            deadline = time.monotonic() + timeout
            interval = app.bookmark_interval
            next_bookmark = time.monotonic() + interval
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                wait = min(deadline - now, 1.0)
                if bookmarks:
                    wait = min(wait, max(0.0, next_bookmark - now))
                expired = None
                with store.cond:
                    if store.rv <= pos and not store.closing and wait > 0:
                        store.cond.wait(wait)
                    if store.closing:
                        break
                    if pos < store.compacted_rv:
                        # The client fell behind the retained history while streaming.
                        expired = f"too old resource version: {pos} ({store.compacted_rv})"
                    changes = store.changes_after(pos)
                    pos = store.rv
                if expired:
                    emit("ERROR", status_obj(410, "Expired", expired))
                    break
                for ch in changes:
                    if ch.bucket != rt.store_key:
                        continue
                    etype, obj = self._translate(rt, ch, matches)
                    if etype:
                        emit(etype, present(rt, obj, mode))
                if bookmarks and time.monotonic() >= next_bookmark:
                    bookmark()
                    next_bookmark = time.monotonic() + interval
                if self._client_gone():
                    self.close_connection = True
                    return
            self.wfile.write(b"0\r\n\r\n")
        finally:
            app.watch_ended(watch_id)

    @staticmethod
    def _translate(rt, ch, matches):
        """A change as a selective watch sees it: leaving the selection is a DELETED,
        entering it an ADDED (the real watch cache does the same)."""
        new = present(rt, ch.obj)
        if ch.type == "ADDED":
            return ("ADDED", new) if matches(new) else (None, None)
        if ch.type == "DELETED":
            return ("DELETED", new) if matches(new) else (None, None)
        now_in = matches(new)
        was_in = ch.prev is not None and matches(present(rt, ch.prev))
        if now_in and was_in:
            return "MODIFIED", new
        if now_in:
            return "ADDED", new
        if was_in:
            return "DELETED", new
        return None, None


# ---------------------------------------------------------------------------
# The application: authentication, control API, logging
# ---------------------------------------------------------------------------

class App:
    def __init__(self, args, tokens):
        self.store = Store(args.compaction_window)
        self.faults = Faults()
        self.recorder = Recorder()
        self.tokens = tokens
        self.bookmark_interval = max(0.05, args.bookmark_interval)
        self.api = Api(self.store, self.faults, tokens, args.page_expiry_seconds, self)
        self.log_lock = threading.Lock()
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else None
        self.watch_lock = threading.Lock()
        self.watches = {}
        self.watch_seq = 0

    # -- logging: JSON lines; paths only, never headers or bodies (they hold tokens) ----

    def _log(self, entry):
        if self.log_file is None:
            return
        entry = dict(ts=datetime.datetime.now(datetime.timezone.utc).isoformat(), **entry)
        with self.log_lock:
            try:
                self.log_file.write(json.dumps(entry) + "\n")
                self.log_file.flush()
            except (OSError, ValueError):
                pass

    def access(self, method, path, status, user, ms):
        self._log({"msg": "request", "method": method, "path": path, "status": status,
                   "user": (user or {}).get("username"), "ms": round(ms, 1)})

    def info(self, msg, **fields):
        self._log(dict(level="info", msg=msg, **fields))

    def error(self, msg):
        self._log({"level": "error", "msg": msg})
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    # -- authentication -------------------------------------------------------

    def authenticate(self, handler):
        """x509 first, then bearer tokens, like the real union authenticator."""
        try:
            cert = handler.connection.getpeercert()
        except (ValueError, OSError):
            cert = None
        if cert:
            cn, orgs = None, []
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        orgs.append(v)
            if cn:
                return {"username": cn, "groups": orgs + ["system:authenticated"], "via": "x509"}
        header = handler.headers.get("Authorization") or ""
        if header[:7].lower() == "bearer ":
            entry, _ = self.api.lookup_token(header[7:].strip())
            if entry is not None:
                user = {"username": entry.get("username", ""), "groups": entry.get("groups", []),
                        "via": "token"}
                if entry.get("readonly"):
                    user["readonly"] = True
                return user
        raise ApiError(401, "Unauthorized", "Unauthorized")

    # -- recording ------------------------------------------------------------------

    def record(self, handler, path, raw_query, query, body):
        headers = {}
        for k, v in handler.headers.items():
            headers[k] = "<redacted>" if k.lower() in ("authorization", "cookie") else v
        parsed = None
        if body:
            try:
                parsed = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                parsed = {"_unparsed_bytes": len(body)}
        if path.endswith("/tokenreviews") and isinstance(parsed, dict) \
                and isinstance(parsed.get("spec"), dict) and "token" in parsed["spec"]:
            parsed = copy.deepcopy(parsed)
            parsed["spec"]["token"] = "<redacted>"
        entry = {"time": now_rfc3339(), "method": handler.command, "path": path,
                 "query": query, "rawQuery": raw_query, "headers": headers, "body": parsed,
                 "status": None}
        self.recorder.add(entry)
        return entry

    # -- watch registry (lets tests wait until a client's watch is established) ----------

    def watch_started(self, handler, rt, ns, q):
        with self.watch_lock:
            self.watch_seq += 1
            self.watches[self.watch_seq] = {
                "id": self.watch_seq, "resource": rt.qualified, "apiVersion": rt.api_version,
                "namespace": ns or "", "query": q, "since": now_rfc3339()}
            return self.watch_seq

    def watch_ended(self, watch_id):
        with self.watch_lock:
            self.watches.pop(watch_id, None)

    # -- control API ------------------------------------------------------------------

    def control(self, handler, path, q, body):
        method = handler.command

        def body_json():
            try:
                return json.loads(body.decode("utf-8")) if body.strip() else {}
            except (ValueError, UnicodeDecodeError) as e:
                raise err_bad_request(f"invalid JSON: {e}") from None

        sub = path[len("/_standin/"):].strip("/") if path.startswith("/_standin/") else ""
        if sub == "healthz" and method == "GET":
            handler._send(200, b"ok", "text/plain; charset=utf-8")
        elif sub == "requests" and method == "GET":
            entries = self.recorder.list()
            if q.get("method"):
                entries = [e for e in entries if e["method"] == q["method"].upper()]
            if q.get("path_regex"):
                try:
                    rx = re.compile(q["path_regex"])
                except re.error as e:
                    raise err_bad_request(f"bad path_regex: {e}") from None
                entries = [e for e in entries if rx.search(e["path"])]
            handler._send_json(200, entries)
        elif sub == "requests" and method == "DELETE":
            handler._send_json(200, {"cleared": self.recorder.clear()})
        elif sub == "faults" and method == "GET":
            handler._send_json(200, self.faults.snapshot())
        elif sub == "faults" and method == "POST":
            handler._send_json(200, self.faults.set(body_json()))
        elif sub == "faults" and method == "DELETE":
            self.faults.clear()
            handler._send_json(200, {})
        elif sub == "compact" and method == "POST":
            rv = self.store.compact()
            handler._send_json(200, {"compactedResourceVersion": str(rv)})
        elif sub == "objects" and method == "POST":
            items = self.api.seed(body_json().get("items"))
            handler._send_json(200, {"items": items})
        elif sub == "objects" and method in ("GET", "DELETE"):
            self._control_objects(handler, method, q)
        elif sub == "watches" and method == "GET":
            with self.watch_lock:
                handler._send_json(200, list(self.watches.values()))
        elif sub == "state" and method == "GET":
            with self.store.cond:
                state = {"resourceVersion": str(self.store.rv),
                         "compactedResourceVersion": str(self.store.compacted_rv),
                         "historyLength": len(self.store.history)}
            with self.watch_lock:
                state["watches"] = len(self.watches)
            handler._send_json(200, state)
        else:
            raise ApiError(404, "NotFound", f"no control endpoint {method} {path}", {})

    def _control_objects(self, handler, method, q):
        rts = [r for r in RESOURCES if r.stored]
        if q.get("kind"):
            rt = resource_for_query(q["kind"])
            if rt is None:
                raise err_bad_request(f"unknown kind {q['kind']!r}")
            rts = [rt]
        seen, items = set(), []
        with self.store.cond:
            for rt in rts:
                if rt.store_key in seen:
                    continue
                seen.add(rt.store_key)
                bucket = self.store.objects.get(rt.store_key, {})
                for key in sorted(bucket):
                    if q.get("namespace") is not None and key[0] != q["namespace"]:
                        continue
                    if q.get("name") and key[1] != q["name"]:
                        continue
                    if method == "DELETE":
                        self.store.commit(rt, key, None, "DELETED")
                    items.append(bucket.get(key) or {"metadata": {"namespace": key[0], "name": key[1]}})
        handler._send_json(200, {"items": items})


# ---------------------------------------------------------------------------
# Server and start-up
# ---------------------------------------------------------------------------

class StandinServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app, ctx):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        self.ctx = ctx
        super().__init__(address, Handler)

    def server_bind(self):
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread: a slow or broken
        # client must never stall accept() for everyone else.
        request.settimeout(30)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.app.info("tls handshake failed", peer=str(client_address[0]), error=str(e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        self.app.error(f"connection error from {client_address}:\n{traceback.format_exc()}")


def write_atomically(path, text):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def kubeconfig_text(url, ca_pem, token):
    ca_b64 = base64.b64encode(ca_pem).decode()
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        "- name: standin\n"
        "  cluster:\n"
        f"    server: {url}\n"
        f"    certificate-authority-data: {ca_b64}\n"
        "users:\n"
        "- name: admin\n"
        "  user:\n"
        f"    token: {json.dumps(token)}\n"
        "contexts:\n"
        "- name: standin\n"
        "  context:\n"
        "    cluster: standin\n"
        "    user: admin\n"
        "    namespace: default\n"
        "current-context: standin\n")


def parse_args(argv):
    p = argparse.ArgumentParser(description="Kubernetes API server stand-in for tests")
    p.add_argument("--cert", required=True, help="server certificate (PEM)")
    p.add_argument("--key", required=True, help="server private key (PEM)")
    p.add_argument("--client-ca", help="CA whose client certificates authenticate (CN = user)")
    p.add_argument("--tokens", help="JSON file: bearer token -> user entry")
    p.add_argument("--seed", help='JSON file {"items": [...]} created at start')
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", help="the real port is written here once listening")
    p.add_argument("--kubeconfig-out", help="write a kubeconfig for this server here")
    p.add_argument("--ca-for-kubeconfig", help="CA that signed --cert (default: --client-ca, "
                   "else --cert itself)")
    p.add_argument("--kubeconfig-token", default="admin-token",
                   help="bearer token the kubeconfig's user carries")
    p.add_argument("--compaction-window", type=int, default=1000,
                   help="how many changes the watch history keeps")
    p.add_argument("--page-expiry-seconds", type=float, default=300.0,
                   help="continue tokens older than this get 410 Expired")
    p.add_argument("--bookmark-interval", type=float, default=1.0,
                   help="seconds between BOOKMARK events on watches that allow them")
    p.add_argument("--log", help="append JSON-lines access/diagnostic log here")
    return p.parse_args(argv)


def load_json_file(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"kube_standin: cannot read {what} {path}: {e}")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.tokens:
        tokens = load_json_file(args.tokens, "tokens")
        if not isinstance(tokens, dict):
            sys.exit("kube_standin: --tokens must hold a JSON object")
    else:
        # Without a table the kubeconfig's token must still work.
        tokens = {"admin-token": {"username": "admin", "groups": ["system:masters"]}}

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])
    if args.client_ca:
        ctx.load_verify_locations(args.client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL

    app = App(args, tokens)
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        app.api.seed([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}])
    if args.seed:
        seed = load_json_file(args.seed, "seed")
        try:
            app.api.seed(seed.get("items", []) if isinstance(seed, dict) else seed)
        except ApiError as e:
            sys.exit(f"kube_standin: bad seed: {e.status.get('message')}")

    server = StandinServer((args.host, args.port), app, ctx)
    host, port = server.server_address[:2]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"https://{shown}:{port}"
    if args.port_file:
        write_atomically(args.port_file, f"{port}\n")
    if args.kubeconfig_out:
        ca_path = args.ca_for_kubeconfig or args.client_ca or args.cert
        with open(ca_path, "rb") as f:
            write_atomically(args.kubeconfig_out, kubeconfig_text(url, f.read(), args.kubeconfig_token))

    def stop(signum, frame):
        # shutdown() waits for serve_forever to return, so it cannot run on this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening on {url}", flush=True)
    app.info("listening", url=url)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        with app.store.cond:
            app.store.closing = True
            app.store.cond.notify_all()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
