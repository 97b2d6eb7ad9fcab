/* test_engine.c - every admission rule, allowed and denied, table-driven:
 * (profile spec, pod, context) -> the exact messages, in order. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/testutil.h"
#include "xalloc.h"

#define POD_HEAD "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: ns, labels: {app: a}}\n"

struct ecase {
	const char *name;
	const char *spec;          /* profile spec entries */
	const char *pod;           /* whole object */
	int sa_done;               /* engine_ctx.sa_admission_done */
	const char *expect;        /* messages joined by "\n"; "" = allowed */
	const char *reasons;       /* reason names joined by ","; NULL = don't check */
};

static const struct ecase cases[] = {
	/* --- identity.serviceAccountNames --- */
	{ "sa allowed", "identity: {serviceAccountNames: [api]}",
	  POD_HEAD "spec: {serviceAccountName: api, containers: [{name: c, image: x}]}", 1, "", NULL },
	{ "sa denied", "identity: {serviceAccountNames: [api]}",
	  POD_HEAD "spec: {serviceAccountName: other, containers: [{name: c, image: x}]}", 1,
	  "spec.serviceAccountName: \"other\" not allowed by ns/p identity.serviceAccountNames",
	  "AdmissionDrift" },
	{ "sa unset is default", "identity: {serviceAccountNames: [api]}",
	  POD_HEAD "spec: {containers: [{name: c, image: x}]}", 1,
	  "spec.serviceAccountName: \"default\" (unset) not allowed by ns/p identity.serviceAccountNames", NULL },
	{ "sa empty string is default, default allowed", "identity: {serviceAccountNames: [default]}",
	  POD_HEAD "spec: {serviceAccountName: '', containers: [{name: c, image: x}]}", 1, "", NULL },
	{ "sa deprecated serviceAccount field", "identity: {serviceAccountNames: [api]}",
	  POD_HEAD "spec: {serviceAccount: api, containers: [{name: c, image: x}]}", 1, "", NULL },
	{ "sa empty list allows nothing", "identity: {serviceAccountNames: []}",
	  POD_HEAD "spec: {serviceAccountName: api, containers: [{name: c, image: x}]}", 1,
	  "spec.serviceAccountName: \"api\" not allowed by ns/p identity.serviceAccountNames", NULL },

	/* --- identity.tokenAutomount --- */
	{ "automount forbid: injected volume", "identity: {tokenAutomount: Forbid}",
	  POD_HEAD "spec:\n  containers: [{name: c, image: x}]\n  volumes:\n"
	  "  - name: kube-api-access-abcde\n    projected:\n      sources:\n"
	  "      - serviceAccountToken: {expirationSeconds: 3607, path: token}\n"
	  "      - configMap: {name: kube-root-ca.crt}\n", 1,
	  "spec.volumes[0].projected.sources[0].serviceAccountToken: service-account token projected into the pod forbidden by ns/p identity.tokenAutomount",
	  "AdmissionDrift" },
	{ "automount forbid: admitted pod without token", "identity: {tokenAutomount: Forbid}",
	  POD_HEAD "spec: {containers: [{name: c, image: x}]}", 1, "", NULL },
	{ "automount forbid: template unset would get a token", "identity: {tokenAutomount: Forbid}",
	  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: ns}\n"
	  "spec: {template: {metadata: {labels: {app: a}}, spec: {containers: [{name: c, image: x}]}}}", 0,
	  "spec.template.spec.automountServiceAccountToken: not false, so a service-account token would be mounted, forbidden by ns/p identity.tokenAutomount", NULL },
	{ "automount forbid: template explicit true", "identity: {tokenAutomount: Forbid}",
	  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: ns}\n"
	  "spec: {template: {metadata: {labels: {app: a}}, spec: {automountServiceAccountToken: true, containers: [{name: c, image: x}]}}}", 0,
	  "spec.template.spec.automountServiceAccountToken: true, so a service-account token would be mounted, forbidden by ns/p identity.tokenAutomount", NULL },
	{ "automount forbid: template false ok", "identity: {tokenAutomount: Forbid}",
	  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: ns}\n"
	  "spec: {template: {metadata: {labels: {app: a}}, spec: {automountServiceAccountToken: false, containers: [{name: c, image: x}]}}}", 0,
	  "", NULL },
	{ "automount allow: token fine", "identity: {tokenAutomount: Allow}",
	  POD_HEAD "spec:\n  containers: [{name: c, image: x}]\n  volumes:\n"
	  "  - {name: t, projected: {sources: [{serviceAccountToken: {path: t}}]}}\n", 1, "", NULL },

	/* --- identity.maxTokenExpirationSeconds / extendedTokens --- */
	{ "ttl within", "identity: {maxTokenExpirationSeconds: 3600}",
	  POD_HEAD "spec:\n  containers: [{name: c, image: x}]\n  volumes:\n"
	  "  - {name: t, projected: {sources: [{serviceAccountToken: {path: t, expirationSeconds: 3600}}]}}\n", 1, "", NULL },
	{ "ttl exceeded", "identity: {maxTokenExpirationSeconds: 3600}",
	  POD_HEAD "spec:\n  containers: [{name: c, image: x}]\n  volumes:\n"
	  "  - {name: cm, configMap: {name: x}}\n"
	  "  - {name: t, projected: {sources: [{configMap: {name: y}}, {serviceAccountToken: {path: t, expirationSeconds: 7200}}]}}\n", 1,
	  "spec.volumes[1].projected.sources[1].serviceAccountToken.expirationSeconds: 7200 exceeds 3600, not allowed by ns/p identity.maxTokenExpirationSeconds",
	  "TokenTTLExceeded" },
	{ "ttl default 3600 exceeds 1800", "identity: {maxTokenExpirationSeconds: 1800}",
	  POD_HEAD "spec:\n  containers: [{name: c, image: x}]\n  volumes:\n"
	  "  - {name: t, projected: {sources: [{serviceAccountToken: {path: t}}]}}\n", 1,
	  "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: 3600 (the default) exceeds 1800, not allowed by ns/p identity.maxTokenExpirationSeconds", NULL },
	{ "extended forbidden", "identity: {extendedTokens: Forbid}",
	  POD_HEAD "spec:\n  containers: [{name: c, image: x}]\n  volumes:\n"
	  "  - {name: t, projected: {sources: [{serviceAccountToken: {path: t, expirationSeconds: 3607}}]}}\n", 1,
	  "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: 3607 is silently extended to one year by the API server, forbidden by ns/p identity.extendedTokens",
	  "TokenTTLExceeded" },
	{ "extended: 3608 is not the magic value", "identity: {extendedTokens: Forbid}",
	  POD_HEAD "spec:\n  containers: [{name: c, image: x}]\n  volumes:\n"
	  "  - {name: t, projected: {sources: [{serviceAccountToken: {path: t, expirationSeconds: 3608}}]}}\n", 1, "", NULL },
	{ "extended allowed", "identity: {extendedTokens: Allow, maxTokenExpirationSeconds: 3607}",
	  POD_HEAD "spec:\n  containers: [{name: c, image: x}]\n  volumes:\n"
	  "  - {name: t, projected: {sources: [{serviceAccountToken: {path: t, expirationSeconds: 3607}}]}}\n", 1, "", NULL },

	/* --- identity.legacyTokenSecrets (secrets named "tok*" are token Secrets here) --- */
	{ "legacy: volume, projected, env, envFrom", "identity: {legacyTokenSecrets: Forbid}",
	  POD_HEAD "spec:\n  volumes:\n  - {name: v, secret: {secretName: tok-a}}\n"
	  "  - {name: w, secret: {secretName: plain}}\n"
	  "  - {name: p, projected: {sources: [{secret: {name: tok-b}}]}}\n"
	  "  containers:\n  - name: c\n    image: x\n    env:\n    - {name: A, value: b}\n"
	  "    - {name: T, valueFrom: {secretKeyRef: {name: tok-c, key: token}}}\n"
	  "    envFrom: [{configMapRef: {name: cm}}, {secretRef: {name: tok-d}}]\n"
	  "  initContainers:\n  - {name: i, image: x, envFrom: [{secretRef: {name: tok-e}}]}\n", 1,
	  "spec.volumes[0].secret.secretName: \"tok-a\" is a legacy service-account token Secret, forbidden by ns/p identity.legacyTokenSecrets\n"
	  "spec.volumes[2].projected.sources[0].secret.name: \"tok-b\" is a legacy service-account token Secret, forbidden by ns/p identity.legacyTokenSecrets\n"
	  "spec.initContainers[0].envFrom[0].secretRef.name: \"tok-e\" is a legacy service-account token Secret, forbidden by ns/p identity.legacyTokenSecrets\n"
	  "spec.containers[0].env[1].valueFrom.secretKeyRef.name: \"tok-c\" is a legacy service-account token Secret, forbidden by ns/p identity.legacyTokenSecrets\n"
	  "spec.containers[0].envFrom[1].secretRef.name: \"tok-d\" is a legacy service-account token Secret, forbidden by ns/p identity.legacyTokenSecrets",
	  "LegacyToken,LegacyToken,LegacyToken,LegacyToken,LegacyToken" },
	{ "legacy allowed", "identity: {legacyTokenSecrets: Allow}",
	  POD_HEAD "spec:\n  volumes: [{name: v, secret: {secretName: tok-a}}]\n  containers: [{name: c, image: x}]\n", 1, "", NULL },

	/* --- images --- */
	{ "image allowed by wildcard", "images: {allow: [\"registry.example.com/payments/*\"]}",
	  POD_HEAD "spec: {containers: [{name: c, image: registry.example.com/payments/api:1.2}]}", 1, "", NULL },
	{ "image denied, original text in message", "images: {allow: [\"registry.example.com/payments/*\"]}",
	  POD_HEAD "spec: {containers: [{name: c, image: registry.example.com/payments/api:1.2}, {name: d, image: \"nginx:latest\"}]}", 1,
	  "spec.containers[1].image: \"nginx:latest\" not allowed by ns/p images.allow", "AdmissionDrift" },
	{ "image exact pattern normalised", "images: {allow: [nginx]}",
	  POD_HEAD "spec: {containers: [{name: c, image: docker.io/library/nginx:latest}, {name: d, image: nginx}]}", 1, "", NULL },
	{ "image exact tag mismatch", "images: {allow: [\"nginx:1.25\"]}",
	  POD_HEAD "spec: {containers: [{name: c, image: nginx}]}", 1,
	  "spec.containers[0].image: \"nginx\" not allowed by ns/p images.allow", NULL },
	/* The runtime pulls by the digest, whatever tag stands beside it
	 * (SPEC §2): a tag pattern does not allow name:tag@digest. */
	{ "image tag pattern does not allow the tag beside a digest", "images: {allow: [\"r.io/app:1.2\"]}",
	  POD_HEAD "spec: {containers: [{name: c, image: \"r.io/app:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}]}", 1,
	  "spec.containers[0].image: \"r.io/app:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\" not allowed by ns/p images.allow", NULL },
	{ "image empty allow list allows nothing", "images: {allow: []}",
	  POD_HEAD "spec: {containers: [{name: c, image: x}]}", 1,
	  "spec.containers[0].image: \"x\" not allowed by ns/p images.allow", NULL },
	{ "image digest required", "images: {requireDigest: true}",
	  POD_HEAD "spec: {containers: [{name: c, image: \"r.io/a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}, {name: d, image: \"r.io/a@sha256:abc\"}]}", 1,
	  "spec.containers[1].image: \"r.io/a@sha256:abc\" has no @sha256 digest, one is required by ns/p images.requireDigest", NULL },
	{ "image checks init and ephemeral containers", "images: {allow: [\"r.io/*\"]}",
	  POD_HEAD "spec:\n  initContainers: [{name: i, image: busybox}]\n  containers: [{name: c, image: r.io/x}]\n"
	  "  ephemeralContainers: [{name: dbg, image: alpine}]\n", 1,
	  "spec.initContainers[0].image: \"busybox\" not allowed by ns/p images.allow\n"
	  "spec.ephemeralContainers[0].image: \"alpine\" not allowed by ns/p images.allow", NULL },
	{ "image malformed", "images: {allow: [\"*\"]}",
	  POD_HEAD "spec: {containers: [{name: c, image: \"bad image\"}]}", 1,
	  "spec.containers[0].image: \"bad image\" (not an image reference) not allowed by ns/p images.allow", NULL },

	/* --- privileges --- */
	{ "privileged forbidden", "privileges: {privileged: Forbid}",
	  POD_HEAD "spec: {containers: [{name: c, image: x, securityContext: {privileged: true}}, {name: d, image: x, securityContext: {privileged: false}}]}", 1,
	  "spec.containers[0].securityContext.privileged: true forbidden by ns/p privileges.privileged", NULL },
	{ "privileged allowed", "privileges: {privileged: Allow}",
	  POD_HEAD "spec: {containers: [{name: c, image: x, securityContext: {privileged: true}}]}", 1, "", NULL },
	{ "escalation must be explicitly false", "privileges: {privilegeEscalation: Forbid}",
	  POD_HEAD "spec: {containers: [{name: c, image: x}, {name: d, image: x, securityContext: {allowPrivilegeEscalation: true}}, {name: e, image: x, securityContext: {allowPrivilegeEscalation: false}}]}", 1,
	  "spec.containers[0].securityContext.allowPrivilegeEscalation: unset (defaults to true) forbidden by ns/p privileges.privilegeEscalation\n"
	  "spec.containers[1].securityContext.allowPrivilegeEscalation: true forbidden by ns/p privileges.privilegeEscalation", NULL },
	{ "host namespaces", "privileges: {hostNamespaces: Forbid}",
	  POD_HEAD "spec: {hostNetwork: true, hostPID: true, hostIPC: false, containers: [{name: c, image: x}]}", 1,
	  "spec.hostNetwork: true forbidden by ns/p privileges.hostNamespaces\n"
	  "spec.hostPID: true forbidden by ns/p privileges.hostNamespaces", NULL },
	{ "runAsNonRoot from pod level", "privileges: {runAsNonRoot: Require}",
	  POD_HEAD "spec: {securityContext: {runAsNonRoot: true}, containers: [{name: c, image: x}]}", 1, "", NULL },
	{ "runAsNonRoot container overrides pod", "privileges: {runAsNonRoot: Require}",
	  POD_HEAD "spec: {securityContext: {runAsNonRoot: true}, containers: [{name: c, image: x, securityContext: {runAsNonRoot: false}}]}", 1,
	  "spec.containers[0].securityContext.runAsNonRoot: false and no non-zero runAsUser: a non-root user is required by ns/p privileges.runAsNonRoot", NULL },
	{ "runAsNonRoot satisfied by non-zero uid", "privileges: {runAsNonRoot: Require}",
	  POD_HEAD "spec: {containers: [{name: c, image: x, securityContext: {runAsUser: 1000}}]}", 1, "", NULL },
	{ "runAsNonRoot: uid 0 at pod level", "privileges: {runAsNonRoot: Require}",
	  POD_HEAD "spec: {securityContext: {runAsUser: 0, runAsNonRoot: true}, containers: [{name: c, image: x}, {name: d, image: x, securityContext: {runAsUser: 10}}]}", 1,
	  "spec.containers[0].securityContext.runAsUser: 0 (root), from the pod securityContext, forbidden by ns/p privileges.runAsNonRoot", NULL },
	{ "runAsNonRoot unset", "privileges: {runAsNonRoot: Require}",
	  POD_HEAD "spec: {containers: [{name: c, image: x}]}", 1,
	  "spec.containers[0].securityContext.runAsNonRoot: unset and no non-zero runAsUser: a non-root user is required by ns/p privileges.runAsNonRoot", NULL },
	{ "runAsNonRoot Any", "privileges: {runAsNonRoot: Any}",
	  POD_HEAD "spec: {containers: [{name: c, image: x, securityContext: {runAsUser: 0}}]}", 1, "", NULL },
	{ "capabilities", "privileges: {allowedCapabilities: [NET_BIND_SERVICE]}",
	  POD_HEAD "spec: {containers: [{name: c, image: x, securityContext: {capabilities: {add: [NET_BIND_SERVICE, CAP_NET_BIND_SERVICE, SYS_ADMIN], drop: [ALL]}}}]}", 1,
	  "spec.containers[0].securityContext.capabilities.add[2]: \"SYS_ADMIN\" not allowed by ns/p privileges.allowedCapabilities", NULL },
	{ "capabilities empty list: none may be added", "privileges: {allowedCapabilities: []}",
	  POD_HEAD "spec: {containers: [{name: c, image: x, securityContext: {capabilities: {add: [ALL]}}}]}", 1,
	  "spec.containers[0].securityContext.capabilities.add[0]: \"ALL\" not allowed by ns/p privileges.allowedCapabilities", NULL },
	{ "host paths by component prefix", "privileges: {allowedHostPaths: [/var/log]}",
	  POD_HEAD "spec:\n  containers: [{name: c, image: x}]\n  volumes:\n"
	  "  - {name: a, hostPath: {path: /var/log/pods}}\n  - {name: b, hostPath: {path: /var/logs}}\n"
	  "  - {name: c, hostPath: {path: /var/log/../run/docker.sock}}\n  - {name: d, hostPath: {path: /var/log}}\n", 1,
	  "spec.volumes[1].hostPath.path: \"/var/logs\" not allowed by ns/p privileges.allowedHostPaths\n"
	  "spec.volumes[2].hostPath.path: \"/var/log/../run/docker.sock\" not allowed by ns/p privileges.allowedHostPaths", NULL },
	{ "host paths empty list forbids all", "privileges: {allowedHostPaths: []}",
	  POD_HEAD "spec:\n  containers: [{name: c, image: x}]\n  volumes: [{name: a, hostPath: {path: /}}]\n", 1,
	  "spec.volumes[0].hostPath.path: \"/\" not allowed by ns/p privileges.allowedHostPaths", NULL },

	/* --- absent constrains nothing --- */
	{ "empty profile judges nothing", "",
	  POD_HEAD "spec: {hostNetwork: true, containers: [{name: c, image: nginx, securityContext: {privileged: true, runAsUser: 0}}]}", 1, "", NULL },
	{ "audit mode still finds", "mode: Audit, privileges: {privileged: Forbid}",
	  POD_HEAD "spec: {containers: [{name: c, image: x, securityContext: {privileged: true}}]}", 1,
	  "spec.containers[0].securityContext.privileged: true forbidden by ns/p privileges.privileged", NULL },

	/* --- templates: every kind --- */
	{ "cronjob path", "images: {allow: []}",
	  "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj, namespace: ns}\n"
	  "spec: {schedule: '* * * * *', jobTemplate: {spec: {template: {metadata: {labels: {app: a}}, spec: {containers: [{name: c, image: x}]}}}}}", 0,
	  "spec.jobTemplate.spec.template.spec.containers[0].image: \"x\" not allowed by ns/p images.allow", NULL },
	{ "statefulset path", "images: {allow: []}",
	  "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s, namespace: ns}\n"
	  "spec: {template: {metadata: {labels: {app: a}}, spec: {containers: [{name: c, image: x}]}}}", 0,
	  "spec.template.spec.containers[0].image: \"x\" not allowed by ns/p images.allow", NULL },
	{ "daemonset path", "images: {allow: []}",
	  "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: s, namespace: ns}\n"
	  "spec: {template: {metadata: {labels: {app: a}}, spec: {containers: [{name: c, image: x}]}}}", 0,
	  "spec.template.spec.containers[0].image: \"x\" not allowed by ns/p images.allow", NULL },
	{ "replicaset path", "images: {allow: []}",
	  "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: s, namespace: ns}\n"
	  "spec: {template: {metadata: {labels: {app: a}}, spec: {containers: [{name: c, image: x}]}}}", 0,
	  "spec.template.spec.containers[0].image: \"x\" not allowed by ns/p images.allow", NULL },
	{ "job path", "images: {allow: []}",
	  "apiVersion: batch/v1\nkind: Job\nmetadata: {name: s, namespace: ns}\n"
	  "spec: {template: {metadata: {labels: {app: a}}, spec: {containers: [{name: c, image: x}]}}}", 0,
	  "spec.template.spec.containers[0].image: \"x\" not allowed by ns/p images.allow", NULL },
	{ "template labels, not the workload's, are matched", "images: {allow: []}",
	  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: ns, labels: {app: a}}\n"
	  "spec: {template: {metadata: {labels: {app: b}}, spec: {containers: [{name: c, image: x}]}}}", 0, "", NULL },
	{ "other namespace not judged", "images: {allow: []}",
	  "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: other, labels: {app: a}}\nspec: {containers: [{name: c, image: x}]}", 1, "", NULL },
	{ "no namespace is default", "images: {allow: []}",
	  "apiVersion: v1\nkind: Pod\nmetadata: {name: x, labels: {app: a}}\nspec: {containers: [{name: c, image: x}]}", 1, "", NULL },

	/* --- identity binding (SPEC §2): the accounts a profile names are its own --- */
	{ "binding: a pod borrows the account with other labels", "identity: {serviceAccountNames: [api]}",
	  "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: ns, labels: {app: a-debug}}\n"
	  "spec: {serviceAccountName: api, containers: [{name: c, image: 'nginx:latest', securityContext: {privileged: true}}]}", 1,
	  "spec.serviceAccountName: \"api\" is bound to ns/p (identity.bindServiceAccounts); this pod is not selected by it",
	  "ServiceAccountBorrowed" },
	{ "binding: the deprecated serviceAccount field too", "identity: {serviceAccountNames: [api]}",
	  "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: ns}\n"
	  "spec: {serviceAccount: api, containers: [{name: c, image: x}]}", 1,
	  "spec.serviceAccountName: \"api\" is bound to ns/p (identity.bindServiceAccounts); this pod is not selected by it",
	  "ServiceAccountBorrowed" },
	{ "binding: a template borrows", "identity: {serviceAccountNames: [api]}",
	  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: ns, labels: {app: a}}\n"
	  "spec: {template: {metadata: {labels: {app: other}}, spec: {serviceAccountName: api, containers: [{name: c, image: x}]}}}", 0,
	  "spec.template.spec.serviceAccountName: \"api\" is bound to ns/p (identity.bindServiceAccounts); this pod is not selected by it",
	  "ServiceAccountBorrowed" },
	{ "binding: Audit mode warns", "mode: Audit, identity: {serviceAccountNames: [api]}",
	  "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: ns, labels: {app: b}}\n"
	  "spec: {serviceAccountName: api, containers: [{name: c, image: x}]}", 1,
	  "spec.serviceAccountName: \"api\" is bound to ns/p (identity.bindServiceAccounts); this pod is not selected by it",
	  "ServiceAccountBorrowed" },
	{ "binding: the selected pod is fine", "identity: {serviceAccountNames: [api]}",
	  POD_HEAD "spec: {serviceAccountName: api, containers: [{name: c, image: x}]}", 1, "", NULL },
	{ "binding: off", "identity: {serviceAccountNames: [api], bindServiceAccounts: false}",
	  "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: ns, labels: {app: b}}\n"
	  "spec: {serviceAccountName: api, containers: [{name: c, image: x}]}", 1, "", NULL },
	{ "binding: default is never bound", "identity: {serviceAccountNames: [default, api]}",
	  "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: ns, labels: {app: b}}\n"
	  "spec: {containers: [{name: c, image: x}]}", 1, "", NULL },
	{ "binding: another account is free", "identity: {serviceAccountNames: [api]}",
	  "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: ns, labels: {app: b}}\n"
	  "spec: {serviceAccountName: worker, containers: [{name: c, image: x}]}", 1, "", NULL },
	{ "binding: another namespace's account of that name is free", "identity: {serviceAccountNames: [api]}",
	  "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: other, labels: {app: b}}\n"
	  "spec: {serviceAccountName: api, containers: [{name: c, image: x}]}", 1, "", NULL },
};

static bool tok_secret(void *ud, const char *ns, const char *name)
{
	return strncmp(name, "tok", 3) == 0;
}

START_TEST(test_rule_table)
{
	const struct ecase *tc = &cases[_i];
	struct engine_ctx ctx = { .sa_admission_done = tc->sa_done, .is_token_secret = tok_secret };
	struct profile_set set;
	struct findings f;
	struct pod *pod = tu_pod(tc->pod);
	char got[8192] = "", reasons[1024] = "";
	size_t len = 0, rlen = 0;

	profile_set_init(&set);
	ck_assert_int_eq(profile_set_add(&set, tu_profile(tc->spec)), 0);
	findings_init(&f, 0);
	ck_assert_int_eq(engine_eval_pod(&set, pod, &ctx, &f), 0);
	for (size_t i = 0; i < f.n; i++) {
		len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s", i ? "\n" : "", f.v[i].message);
		rlen += (size_t)snprintf(reasons + rlen, sizeof(reasons) - rlen, "%s%s", i ? "," : "",
					 reason_name(f.v[i].reason));
	}
	ck_assert_msg(strcmp(got, tc->expect) == 0, "case \"%s\":\n got: %s\nwant: %s", tc->name, got, tc->expect);
	if (tc->reasons)
		ck_assert_msg(strcmp(reasons, tc->reasons) == 0, "case \"%s\": reasons %s, want %s",
			      tc->name, reasons, tc->reasons);
	if (strstr(tc->spec, "Audit"))
		ck_assert_uint_eq(findings_count(&f, MODE_AUDIT), f.n);
	findings_free(&f);
	profile_set_free(&set);
	pod_free(pod);
}
END_TEST

/* A pod selected by two profiles must satisfy both; findings name each. */
START_TEST(test_two_profiles)
{
	struct profile_set set;
	struct findings f;
	struct pod *pod;
	struct profile *p2;
	json_t *obj;
	struct errlist errs;

	profile_set_init(&set);
	profile_set_add(&set, tu_profile("mode: Enforce, identity: {serviceAccountNames: [api]}"));
	obj = tu_yaml("apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
		      "metadata: {name: a-images, namespace: ns}\n"
		      "spec: {selector: {matchExpressions: [{key: tier, operator: Exists}]}, mode: Audit, images: {allow: []}}\n");
	errlist_init(&errs, 0);
	ck_assert_int_eq(profile_parse(tu_jv(obj), "default", &errs, &p2), 0);
	json_decref(obj);
	errlist_free(&errs);
	profile_set_add(&set, p2);
	pod = tu_pod(POD_HEAD "spec: {containers: [{name: c, image: x}]}");
	findings_init(&f, 0);
	ck_assert_int_eq(engine_eval_pod(&set, pod, NULL, &f), 0);
	ck_assert_uint_eq(f.n, 1);      /* no tier label: a-images does not select */
	pod_free(pod);
	findings_clear(&f);

	pod = tu_pod("apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: ns, labels: {app: a, tier: web}}\n"
		     "spec: {containers: [{name: c, image: x}]}");
	ck_assert_int_eq(engine_eval_pod(&set, pod, NULL, &f), 0);
	ck_assert_uint_eq(f.n, 2);
	/* Profiles in name order: a-images (Audit) before p (Enforce). */
	ck_assert_str_eq(f.v[0].message, "spec.containers[0].image: \"x\" not allowed by ns/a-images images.allow");
	ck_assert_int_eq(f.v[0].mode, MODE_AUDIT);
	ck_assert_int_eq(f.v[1].mode, MODE_ENFORCE);
	ck_assert_uint_eq(findings_count(&f, MODE_ENFORCE), 1);
	findings_free(&f);
	pod_free(pod);
	profile_set_free(&set);
}
END_TEST

static struct profile *named_profile(const char *name, const char *spec)
{
	char yaml[4096];
	struct errlist errs;
	struct profile *p = NULL;
	json_t *obj;

	snprintf(yaml, sizeof(yaml), "apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
		 "metadata: {name: %s, namespace: ns}\nspec: {%s}\n", name, spec);
	obj = tu_yaml(yaml);
	errlist_init(&errs, 0);
	ck_assert_msg(profile_parse(tu_jv(obj), "default", &errs, &p) == 0, "%s", errs.n ? errs.msgs[0] : "");
	errlist_free(&errs);
	json_decref(obj);
	return p;
}

/* Two profiles may bind one account: a pod selected by either may run as
 * it; one selected by neither is reported by each, in its own mode. */
START_TEST(test_binding_two_profiles)
{
	struct profile_set set;
	struct findings f;
	struct pod *pod;

	profile_set_init(&set);
	profile_set_add(&set, named_profile("api", "selector: {matchLabels: {app: api}}, mode: Enforce, identity: {serviceAccountNames: [api]}"));
	profile_set_add(&set, named_profile("api-jobs", "selector: {matchLabels: {app: api-job}}, mode: Audit, "
					    "identity: {serviceAccountNames: [api, jobs]}"));
	profile_set_add(&set, named_profile("other", "selector: {matchLabels: {app: x}}, images: {allow: []}"));
	findings_init(&f, 0);
	pod = tu_pod("apiVersion: v1\nkind: Pod\nmetadata: {name: j, namespace: ns, labels: {app: api-job}}\n"
		     "spec: {serviceAccountName: api, containers: [{name: c, image: x}]}");
	ck_assert_int_eq(engine_eval_pod(&set, pod, NULL, &f), 0);
	ck_assert_msg(f.n == 0, "selected by one binder: %s", f.n ? f.v[0].message : "");
	pod_free(pod);
	pod = tu_pod("apiVersion: v1\nkind: Pod\nmetadata: {name: j, namespace: ns, labels: {app: x}}\n"
		     "spec: {serviceAccountName: api, containers: [{name: c, image: x}]}");
	ck_assert_int_eq(engine_eval_pod(&set, pod, NULL, &f), 0);
	ck_assert_uint_eq(f.n, 3);
	ck_assert_int_eq(f.v[0].reason, R_ADMISSION_DRIFT);     /* "other" selects it */
	ck_assert_str_eq(f.v[1].message, "spec.serviceAccountName: \"api\" is bound to ns/api "
			 "(identity.bindServiceAccounts); this pod is not selected by it");
	ck_assert_int_eq(f.v[1].reason, R_SERVICE_ACCOUNT_BORROWED);
	ck_assert_int_eq(f.v[1].mode, MODE_ENFORCE);
	ck_assert_str_eq(f.v[1].rule, "identity.bindServiceAccounts");
	ck_assert_str_eq(f.v[1].value, "api");
	ck_assert_str_eq(f.v[2].profile->name, "api-jobs");
	ck_assert_int_eq(f.v[2].mode, MODE_AUDIT);
	ck_assert(engine_binds(set.v[0], pod) && engine_binds(set.v[1], pod) && !engine_binds(set.v[2], pod));
	findings_clear(&f);
	/* A running pod: the controller hands the binders over with the
	 * selecting profiles, and the same sentence comes back. */
	ck_assert_int_eq(engine_eval_running(&set, pod, NULL, NULL, &f), 0);
	ck_assert_uint_eq(f.n, 3);
	ck_assert_str_eq(f.v[1].message, "spec.serviceAccountName: \"api\" is bound to ns/api "
			 "(identity.bindServiceAccounts); this pod is not selected by it");
	ck_assert_int_eq(f.v[1].evidence, EV_SPEC);
	findings_free(&f);
	pod_free(pod);
	profile_set_free(&set);
}
END_TEST

/* Findings compare by what they judged, not by their (cut) sentences. */
START_TEST(test_finding_same)
{
	struct profile *p = tu_profile("images: {allow: []}");
	struct findings a, b;
	char long_a[600], long_b[600], yaml[2048];
	struct pod *pa, *pb;

	memset(long_a, 'a', 300);
	strcpy(long_a + 300, ":1");
	strcpy(long_b, long_a);
	long_b[301] = '2';
	snprintf(yaml, sizeof(yaml), POD_HEAD "spec: {containers: [{name: c, image: 'r/%s'}]}", long_a);
	pa = tu_pod(yaml);
	snprintf(yaml, sizeof(yaml), POD_HEAD "spec: {containers: [{name: c, image: 'r/%s'}]}", long_b);
	pb = tu_pod(yaml);
	findings_init(&a, 0);
	findings_init(&b, 0);
	ck_assert_int_eq(engine_eval_profile(p, pa, NULL, &a), 0);
	ck_assert_int_eq(engine_eval_profile(p, pb, NULL, &b), 0);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_uint_eq(b.n, 1);
	/* The sentences read alike (both cut), the findings differ. */
	ck_assert_str_eq(a.v[0].message, b.v[0].message);
	ck_assert(!finding_same(&a.v[0], &b.v[0]));
	ck_assert(finding_same(&a.v[0], &a.v[0]));
	findings_free(&a);
	findings_free(&b);
	pod_free(pa);
	pod_free(pb);
	profile_free(p);
}
END_TEST

/* The findings cap counts what it drops instead of growing without end. */
START_TEST(test_findings_cap)
{
	struct profile *p = tu_profile("images: {allow: []}");
	struct findings f;
	char yaml[16384];
	size_t len;
	struct pod *pod;

	len = (size_t)snprintf(yaml, sizeof(yaml), POD_HEAD "spec:\n  containers:\n");
	for (int i = 0; i < 50; i++)
		len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "  - {name: c%d, image: x}\n", i);
	pod = tu_pod(yaml);
	findings_init(&f, 10);
	ck_assert_int_eq(engine_eval_profile(p, pod, NULL, &f), 0);
	ck_assert_uint_eq(f.n, 10);
	ck_assert_uint_eq(f.dropped, 40);
	findings_free(&f);
	pod_free(pod);
	profile_free(p);
}
END_TEST

/* Hostile strings are escaped and cut in messages. */
START_TEST(test_message_escaping)
{
	struct profile *p = tu_profile("identity: {serviceAccountNames: [a]}");
	struct findings f;
	struct pod *pod = tu_pod(POD_HEAD "spec: {serviceAccountName: \"x\\n\\u001b[31mred\", containers: [{name: c, image: x}]}");

	findings_init(&f, 0);
	ck_assert_int_eq(engine_eval_profile(p, pod, NULL, &f), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_ptr_null(strchr(f.v[0].message, '\n'));
	ck_assert_ptr_null(strchr(f.v[0].message, '\x1b'));
	ck_assert_ptr_nonnull(strstr(f.v[0].message, "\\u001b"));
	findings_free(&f);
	pod_free(pod);
	profile_free(p);
}
END_TEST

/* True when @s is UTF-8 (no sequence cut short, none overlong). */
static bool valid_utf8(const unsigned char *s)
{
	while (*s) {
		size_t n = *s < 0x80 ? 1 : *s >= 0xf0 ? 4 : *s >= 0xe0 ? 3 : *s >= 0xc2 ? 2 : 0;

		if (!n)
			return false;
		for (size_t i = 1; i < n; i++)
			if ((s[i] & 0xc0) != 0x80)
				return false;
		s += n;
	}
	return true;
}

/* A long value is cut between characters, never inside one: every offset
 * of a run of 2-, 3- and 4-byte characters against the 240-byte cut. */
START_TEST(test_message_cut_on_characters)
{
	static const char *const chars[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
	struct profile *p = tu_profile("identity: {serviceAccountNames: [a]}");

	for (size_t c = 0; c < 3; c++) {
		for (size_t lead = 0; lead < 4; lead++) {
			char yaml[4096], sa[1024] = "";
			struct findings f;
			struct pod *pod;

			memset(sa, 'a', lead);
			sa[lead] = '\0';
			for (int i = 0; i < 150; i++)
				memcpy(sa + strlen(sa), chars[c], strlen(chars[c]) + 1);
			snprintf(yaml, sizeof(yaml), POD_HEAD "spec: {serviceAccountName: \"%s\", containers: [{name: c, image: x}]}", sa);
			pod = tu_pod(yaml);
			findings_init(&f, 0);
			ck_assert_int_eq(engine_eval_profile(p, pod, NULL, &f), 0);
			ck_assert_uint_eq(f.n, 1);
			ck_assert_msg(valid_utf8((const unsigned char *)f.v[0].message), "char %zu, lead %zu: %s", c,
				      lead, f.v[0].message);
			ck_assert_ptr_nonnull(strstr(f.v[0].message, "...\""));
			findings_free(&f);
			pod_free(pod);
		}
	}
	profile_free(p);
}
END_TEST

/* A running pod: forced sa_admission_done, and the ServiceAccount facts. */
START_TEST(test_running_pod)
{
	struct profile_set set;
	struct findings f;
	struct pod *pod = tu_pod("apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: ns, labels: {app: a},\n"
				 "  creationTimestamp: '2026-11-22T10:00:00Z'}\n"
				 "spec: {serviceAccountName: api, containers: [{name: c, image: x}]}\n"
				 "status: {startTime: '2026-11-22T10:00:00Z'}\n");
	struct sa_facts gone = { false, -1 }, older = { true, 1795341000 }, same = { true, 1795341600 },
			newer = { true, 1795341601 };

	profile_set_init(&set);
	profile_set_add(&set, tu_profile("identity: {tokenAutomount: Forbid}"));
	findings_init(&f, 0);
	/* A pod read from the cluster without a token volume passes. */
	ck_assert_int_eq(engine_eval_running(&set, pod, NULL, NULL, &f), 0);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_int_eq(engine_eval_running(&set, pod, NULL, &older, &f), 0);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_int_eq(engine_eval_running(&set, pod, NULL, &same, &f), 0);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_int_eq(engine_eval_running(&set, pod, NULL, &gone, &f), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_int_eq(f.v[0].reason, R_SERVICE_ACCOUNT_MISSING);
	ck_assert_str_eq(f.v[0].message, "spec.serviceAccountName: ServiceAccount \"api\" no longer exists: "
			 "the pod runs on a zombie identity, reported by ns/p identity");
	findings_clear(&f);
	ck_assert_int_eq(engine_eval_running(&set, pod, NULL, &newer, &f), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_ptr_nonnull(strstr(f.v[0].message, "was recreated after the pod was created"));
	findings_free(&f);
	pod_free(pod);
	profile_set_free(&set);
}
END_TEST

/* ServiceAccountMissing compares API server times only: the pod's
 * creationTimestamp with the account's.  A fresh pod on a node whose
 * clock is 4 s behind has a startTime before its account's creation. */
START_TEST(test_running_pod_node_clock_behind)
{
	struct profile_set set;
	struct findings f;
	/* created 10:00:02 (API server), started 09:59:59 by a node 4 s behind */
	struct pod *pod = tu_pod("apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: ns, labels: {app: a},\n"
				 "  creationTimestamp: '2026-11-22T10:00:02Z'}\n"
				 "spec: {serviceAccountName: api, containers: [{name: c, image: x}]}\n"
				 "status: {startTime: '2026-11-22T09:59:59Z'}\n");
	struct sa_facts before = { true, 1795341600 },         /* 10:00:00 */
			after = { true, 1795341603 };          /* 10:00:03: recreated */

	profile_set_init(&set);
	profile_set_add(&set, tu_profile("identity: {serviceAccountNames: [api]}"));
	findings_init(&f, 0);
	ck_assert_int_eq(pod->created, 1795341602);
	ck_assert_int_eq(engine_eval_running(&set, pod, NULL, &before, &f), 0);
	ck_assert_msg(f.n == 0, "a fresh pod judged a zombie: %s", f.n ? f.v[0].message : "");
	ck_assert_int_eq(engine_eval_running(&set, pod, NULL, &after, &f), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_int_eq(f.v[0].reason, R_SERVICE_ACCOUNT_MISSING);
	findings_free(&f);
	pod_free(pod);
	profile_set_free(&set);
}
END_TEST

/* A profile without an identity section judges no identity reason: its
 * pods' ServiceAccount may come and go. */
START_TEST(test_running_pod_identity_section)
{
	struct profile_set set;
	struct findings f;
	struct pod *pod = tu_pod(POD_HEAD "spec: {serviceAccountName: api, containers: [{name: c, image: x}]}\n");
	struct sa_facts gone = { false, -1 };

	profile_set_init(&set);
	profile_set_add(&set, tu_profile("images: {allow: [x]}"));
	findings_init(&f, 0);
	ck_assert_int_eq(engine_eval_running(&set, pod, NULL, &gone, &f), 0);
	ck_assert_msg(f.n == 0, "judged without an identity section: %s", f.n ? f.v[0].message : "");
	findings_free(&f);
	pod_free(pod);
	profile_set_free(&set);
}
END_TEST

/* The one decision about phase: what a finished pod is still held to. */
static const struct {
	const char *phase;              /* status.phase; NULL: none */
	bool spec, node, audit;         /* engine_counts() per evidence */
} phase_cases[] = {
	{ NULL, true, true, true },
	{ "Pending", true, true, true },
	{ "Running", true, true, true },
	{ "Unknown", true, true, true },        /* the node went quiet: maybe still running */
	{ "Succeeded", false, false, true },
	{ "Failed", false, false, true },
};

static struct pod *phase_pod(const char *phase)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), POD_HEAD "spec: {serviceAccountName: api, containers: [{name: c, image: nginx}]}\n"
		 "status: {startTime: '2026-11-22T10:00:00Z'%s%s}\n",
		 phase ? ", phase: " : "", phase ? phase : "");
	return tu_pod(yaml);
}

START_TEST(test_phase_decides)
{
	const char *phase = phase_cases[_i].phase;
	struct pod *pod = phase_pod(phase);
	struct sa_facts gone = { false, -1 };
	struct profile_set set;
	struct findings f;

	ck_assert_int_eq(engine_counts(pod, EV_SPEC), phase_cases[_i].spec);
	ck_assert_int_eq(engine_counts(pod, EV_NODE), phase_cases[_i].node);
	ck_assert_int_eq(engine_counts(pod, EV_AUDIT), phase_cases[_i].audit);
	/* The sweep asks it itself: a finished Job's pod that drifted (a
	 * tag, not a digest; its ServiceAccount gone) is not judged, while
	 * any other phase is. */
	profile_set_init(&set);
	profile_set_add(&set, tu_profile("images: {requireDigest: true}, identity: {}"));
	findings_init(&f, 0);
	ck_assert_int_eq(engine_eval_running(&set, pod, NULL, &gone, &f), 0);
	if (phase_cases[_i].spec) {
		ck_assert_uint_eq(f.n, 2);
		ck_assert_int_eq(f.v[0].reason, R_ADMISSION_DRIFT);
		ck_assert_int_eq(f.v[1].reason, R_SERVICE_ACCOUNT_MISSING);
		for (size_t i = 0; i < f.n; i++)
			ck_assert_int_eq(f.v[i].evidence, EV_SPEC);
	} else {
		ck_assert_msg(f.n == 0, "%s pod judged: %s", phase, f.n ? f.v[0].message : "");
	}
	/* Admission judges what is written, whatever the status says. */
	findings_clear(&f);
	ck_assert_int_eq(engine_eval_pod(&set, pod, NULL, &f), 0);
	ck_assert_uint_eq(f.n, 1);
	findings_free(&f);
	profile_set_free(&set);
	pod_free(pod);
}
END_TEST

/* Every allocation of an evaluation fails in turn: -ENOMEM, nothing
 * leaked (the ASan pass), and the findings so far stay consistent. */
START_TEST(test_alloc_failures)
{
	struct profile_set set;
	struct findings f;
	struct pod *pod = tu_pod(POD_HEAD "spec:\n  hostNetwork: true\n  volumes: [{name: v, secret: {secretName: tok-a}},"
				 " {name: t, projected: {sources: [{serviceAccountToken: {expirationSeconds: 3607}}]}}]\n"
				 "  containers: [{name: c, image: nginx, securityContext: {privileged: true, capabilities: {add: [SYS_ADMIN]}}},"
				 " {name: d, image: \"bad image\"}]\n");
	struct engine_ctx ctx = { .sa_admission_done = true, .is_token_secret = tok_secret };
	long total;

	profile_set_init(&set);
	profile_set_add(&set, tu_profile("identity: {serviceAccountNames: [a], tokenAutomount: Forbid, extendedTokens: Forbid,"
					 " maxTokenExpirationSeconds: 600, legacyTokenSecrets: Forbid}, images: {allow: [x], requireDigest: true},"
					 " privileges: {privileged: Forbid, privilegeEscalation: Forbid, hostNamespaces: Forbid,"
					 " runAsNonRoot: Require, allowedCapabilities: []}"));
	findings_init(&f, 0);
	pg_alloc_fail_at(1L << 40);
	ck_assert_int_eq(engine_eval_pod(&set, pod, &ctx, &f), 0);
	total = pg_alloc_count();
	ck_assert_uint_ge(f.n, 10);
	findings_free(&f);
	for (long i = 0; i < total; i++) {
		int r;

		/* fresh each time: a cleared list keeps its capacity and would
		 * allocate less than the count above */
		findings_init(&f, 0);
		pg_alloc_fail_at(i);
		r = engine_eval_pod(&set, pod, &ctx, &f);
		pg_alloc_fail_at(-1);
		ck_assert_int_eq(r, -ENOMEM);
		for (size_t k = 0; k < f.n; k++)
			ck_assert_ptr_nonnull(f.v[k].message);
		findings_free(&f);
	}
	profile_set_free(&set);
	pod_free(pod);
}
END_TEST

START_TEST(test_reason_names)
{
	ck_assert_str_eq(reason_name(R_ADMISSION_DRIFT), "AdmissionDrift");
	ck_assert_str_eq(reason_name(R_TOKEN_REPLAY), "TokenReplay");
	ck_assert_str_eq(reason_name(R_SERVICE_ACCOUNT_MISSING), "ServiceAccountMissing");
	ck_assert_str_eq(reason_name(R_SERVICE_ACCOUNT_BORROWED), "ServiceAccountBorrowed");
	for (int r = 0; r < R__COUNT; r++)
		ck_assert_ptr_nonnull(reason_name((enum reason)r));
	ck_assert_str_eq(reason_name(R__COUNT), "Unknown");
}
END_TEST

/* identity.maxRisk: the engine asks the context for the account's risk
 * (an IdentityReport in the cluster, the manifests' RBAC offline). */
static struct risk_result stub_risk;
static int stub_rc;
static char stub_asked[128];

static int stub_identity_risk(void *ud, const char *ns, const char *name, const struct risk_result **ret)
{
	(void)ud;
	snprintf(stub_asked, sizeof(stub_asked), "%s/%s", ns, name);
	if (stub_rc < 0)
		return stub_rc;
	*ret = &stub_risk;
	return 0;
}

static void stub_finding(size_t i, enum risk_rule rule, const char *grant, const char *via)
{
	stub_risk.findings[i].rule = rule;
	snprintf(stub_risk.findings[i].grant, sizeof(stub_risk.findings[i].grant), "%s", grant);
	snprintf(stub_risk.findings[i].via, sizeof(stub_risk.findings[i].via), "%s", via);
	stub_risk.nfindings = i + 1;
}

START_TEST(test_max_risk)
{
	struct profile *prof = tu_profile("mode: Enforce, identity: {maxRisk: Medium}");
	struct pod *pod = tu_pod(POD_HEAD "spec: {serviceAccountName: api, containers: [{name: c, image: x}]}");
	struct engine_ctx ctx = { .sa_admission_done = true, .identity_risk = stub_identity_risk };
	struct findings f;

	memset(&stub_risk, 0, sizeof(stub_risk));
	stub_risk.level = RISK_CRITICAL;
	stub_finding(0, RR_READ_SECRETS, "get,list secrets in ns", "RoleBinding ns/app -> Role ns/app");
	stub_finding(1, RR_EXEC_INTO_PODS, "create pods/exec in ns", "RoleBinding ns/dbg -> ClusterRole dbg");
	stub_finding(2, RR_WILDCARD, "* configmaps in ns", "RoleBinding ns/app -> Role ns/app");
	stub_rc = 0;
	findings_init(&f, 0);
	ck_assert_int_eq(engine_eval_profile(prof, pod, &ctx, &f), 0);
	ck_assert_str_eq(stub_asked, "ns/api");
	ck_assert_uint_eq(f.n, 1);
	ck_assert_str_eq(reason_name(f.v[0].reason), "IdentityRiskExceeded");
	ck_assert_int_eq(f.v[0].mode, MODE_ENFORCE);
	/* only the findings above the ceiling are named, each with its binding */
	ck_assert_str_eq(f.v[0].message, "spec.serviceAccountName: ServiceAccount \"api\" has RBAC risk Critical, "
			 "above Medium (read-secrets (Critical): get,list secrets in ns via RoleBinding ns/app -> Role ns/app; "
			 "exec-into-pods (High): create pods/exec in ns via RoleBinding ns/dbg -> ClusterRole dbg), "
			 "not allowed by ns/p identity.maxRisk");
	findings_clear(&f);

	/* at the ceiling: allowed */
	stub_risk.level = RISK_MEDIUM;
	stub_risk.nfindings = 0;
	stub_finding(0, RR_WILDCARD, "* configmaps in ns", "RoleBinding ns/app -> Role ns/app");
	ck_assert_int_eq(engine_eval_profile(prof, pod, &ctx, &f), 0);
	ck_assert_uint_eq(f.n, 0);
	/* no report: not judged */
	stub_risk.level = RISK_CRITICAL;
	stub_rc = -ENOENT;
	ck_assert_int_eq(engine_eval_profile(prof, pod, &ctx, &f), 0);
	ck_assert_uint_eq(f.n, 0);
	/* no source of risk at all: not judged */
	ck_assert_int_eq(engine_eval_profile(prof, pod, NULL, &f), 0);
	ck_assert_uint_eq(f.n, 0);
	profile_free(prof);

	/* a profile without maxRisk never asks */
	prof = tu_profile("identity: {serviceAccountNames: [api]}");
	stub_asked[0] = '\0';
	stub_rc = 0;
	ck_assert_int_eq(engine_eval_profile(prof, pod, &ctx, &f), 0);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_str_eq(stub_asked, "");
	profile_free(prof);

	/* many findings: as many as fit, the rest counted, omitted ones too */
	prof = tu_profile("identity: {maxRisk: Low}");
	memset(&stub_risk, 0, sizeof(stub_risk));
	stub_risk.level = RISK_HIGH;
	for (size_t i = 0; i < RISK_MAX_FINDINGS; i++) {
		char via[300];

		snprintf(via, sizeof(via), "ClusterRoleBinding b%02zu -> ClusterRole %0200zu", i, i);
		stub_finding(i, RR_CREATE_WORKLOADS, "create pods in ns", via);
	}
	stub_risk.omitted = 5;
	ck_assert_int_eq(engine_eval_profile(prof, pod, &ctx, &f), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_int_eq(f.v[0].mode, MODE_AUDIT);
	ck_assert_ptr_nonnull(strstr(f.v[0].message, " more), not allowed by ns/p identity.maxRisk"));
	ck_assert_ptr_nonnull(strstr(f.v[0].message, "; and "));
	ck_assert_uint_lt(strlen(f.v[0].message), 4500);
	findings_free(&f);
	profile_free(prof);
	pod_free(pod);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("rules");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_rule_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_two_profiles);
	tcase_add_test(tc, test_findings_cap);
	tcase_add_test(tc, test_message_escaping);
	tcase_add_test(tc, test_message_cut_on_characters);
	tcase_add_test(tc, test_reason_names);
	tcase_add_test(tc, test_running_pod);
	tcase_add_test(tc, test_running_pod_node_clock_behind);
	tcase_add_test(tc, test_running_pod_identity_section);
	tcase_add_test(tc, test_binding_two_profiles);
	tcase_add_test(tc, test_finding_same);
	tcase_add_loop_test(tc, test_phase_decides, 0, (int)(sizeof(phase_cases) / sizeof(phase_cases[0])));
	tcase_add_test(tc, test_alloc_failures);
	tcase_add_test(tc, test_max_risk);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
