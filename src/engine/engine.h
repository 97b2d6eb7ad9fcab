/* engine.h - the policy engine: objects in, findings out.  Pure: no I/O,
 * no logging, no clocks it does not get from the caller.  `check`, the
 * webhook and the controller all call it, so they print the same words. */
#ifndef PG_ENGINE_H
#define PG_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "pod.h"
#include "profile.h"
#include "risk.h"

/* SPEC §4: each is an Event reason and a metric label. */
enum reason {
	R_ADMISSION_DRIFT,
	R_UNEXPECTED_EXECUTABLE,
	R_UNEXPECTED_EGRESS,
	R_UNEXPECTED_FILE_ACCESS,
	R_UNEXPECTED_API_CALL,
	R_API_RATE_EXCEEDED,
	R_LEGACY_TOKEN,
	R_TOKEN_TTL_EXCEEDED,
	R_STALE_TOKEN,
	R_SERVICE_ACCOUNT_MISSING,
	R_TOKEN_REPLAY,
	R_SERVICE_ACCOUNT_BORROWED,
	R_IDENTITY_RISK_EXCEEDED,
	R__COUNT
};

const char *reason_name(enum reason r);

/* Where the evidence of a finding comes from.  It decides, with the pod's
 * phase, whether the finding still counts (engine_counts()). */
enum evidence {
	EV_SPEC,        /* the pod's own spec and identity facts: the admission rules,
	                 * ServiceAccountBorrowed, ServiceAccountMissing
	                 * (engine_eval_running) */
	EV_NODE,        /* a node's report: exec, connect, open, token claims */
	EV_AUDIT,       /* the API server's audit log: calls made with the pod's token */
};

struct finding {
	enum reason reason;
	enum evidence evidence;
	enum pg_mode mode;              /* of the profile that found it */
	const struct profile *profile;  /* borrowed from the caller's set */
	const char *rule;               /* static: "images.allow" */
	char *path;                     /* owned: "spec.containers[1].image" */
	char *value;                    /* owned: the whole value judged, uncut (the
	                                 * message quotes at most 240 bytes of it);
	                                 * NULL when the message says it all */
	char *message;                  /* owned: the SPEC §3 sentence */
};

/* Whether @a and @b are the same finding: reason, rule, path, the whole
 * value judged, and profile (namespace/name).  Messages cut long values,
 * so two different values can read alike: never compare messages. */
bool finding_same(const struct finding *a, const struct finding *b);

struct findings {
	struct finding *v;
	size_t n;
	size_t cap;
	size_t max;                     /* past this, findings are counted only */
	size_t dropped;
};

#define FINDINGS_DEFAULT_MAX 256

void findings_init(struct findings *f, size_t max);
/* Counts by mode. */
size_t findings_count(const struct findings *f, enum pg_mode mode);
void findings_clear(struct findings *f);
void findings_free(struct findings *f);

/* What the engine needs to know beyond the pod and the profiles. */
struct engine_ctx {
	/* The API server's ServiceAccount admission plugin has already run
	 * on this pod (a Pod at admission or read from the cluster), so the
	 * absence of a token volume is the truth.  False for templates and
	 * offline manifests: there, a pod that does not set
	 * automountServiceAccountToken: false will get a token. */
	bool sa_admission_done;
	/* Answers whether @ns/@name is a Secret of type
	 * kubernetes.io/service-account-token; NULL: none known. */
	bool (*is_token_secret)(void *ud, const char *ns, const char *name);
	/* The RBAC risk of the ServiceAccount @ns/@name (its IdentityReport,
	 * or offline the manifests' RBAC): 0 with *@ret borrowed for the
	 * call, -ENOENT when none is known (identity.maxRisk is then not
	 * judged: no report is no evidence).  NULL: none known. */
	int (*identity_risk)(void *ud, const char *ns, const char *name, const struct risk_result **ret);
	void *ud;
};

/* Judges @pod against every profile of @set in its namespace whose
 * selector matches; appends to @out, in a stable order (profiles by name,
 * then pod-level rules, volumes, containers).  Then identity binding
 * (SPEC §2): when the pod runs as a ServiceAccount (other than "default")
 * bound by profiles of its namespace (identity.serviceAccountNames with
 * bindServiceAccounts true, the default) and none of them selects it,
 * each such profile reports ServiceAccountBorrowed:
 *   spec.serviceAccountName: "payments-api" is bound to payments/payments-api
 *   (identity.bindServiceAccounts); this pod is not selected by it
 * Pod templates are judged alike, on the template's labels and account,
 * so a Deployment that would borrow is refused at apply.  0 or -ENOMEM. */
int engine_eval_pod(const struct profile_set *set, const struct pod *pod,
		    const struct engine_ctx *ctx, struct findings *out);
/* The same for one profile, selector not consulted. */
int engine_eval_profile(const struct profile *prof, const struct pod *pod,
			const struct engine_ctx *ctx, struct findings *out);
/* What the controller knows about a running pod's ServiceAccount. */
struct sa_facts {
	bool exists;            /* present in the (synced) ServiceAccount cache */
	int64_t created;        /* its creationTimestamp, epoch seconds; -1 unknown */
};

/* Judges a pod that runs in the cluster: the admission rules (as the API
 * server has admitted it: sa_admission_done is forced on), identity
 * binding (as engine_eval_pod(): @set must hold every profile of the
 * namespace that binds the pod's account, engine_binds()), then, for
 * profiles with an identity section, the identity facts: a ServiceAccount
 * that is gone, or was created after the pod was (its tokens carry the old
 * UID), is ServiceAccountMissing.  Both creationTimestamps are the API
 * server's: the pod's status.startTime is the kubelet's clock and is never
 * compared with them.
 * @sa NULL: not judged (the cache is not synced: never guess).  Token rules
 * a running pod breaks report LegacyToken / TokenTTLExceeded, the other
 * admission rules AdmissionDrift.  A pod that has finished is not judged
 * (engine_counts(pod, EV_SPEC)).  Findings carry EV_SPEC.  0 or -ENOMEM. */
int engine_eval_running(const struct profile_set *set, const struct pod *pod,
			const struct engine_ctx *ctx, const struct sa_facts *sa,
			struct findings *out);

/* Whether evidence of kind @ev counts against @pod, given its phase: the
 * one place the phase is decided.  A pod that has finished (Succeeded or
 * Failed) runs nothing any more, so its spec and what a node says it did
 * are moot: deleting it would only wipe its Job's history.  But its bound
 * token stays valid until the pod object is deleted, so what the audit
 * log shows that token doing still counts, and deleting the pod is what
 * revokes it.  Any other phase (unset included) counts everything.
 * engine_eval_running() and runtime_judge() ask it themselves; the
 * controller asks it again just before it acts, since the pod may have
 * finished after it was judged. */
bool engine_counts(const struct pod *pod, enum evidence ev);

/* Whether @prof selects @pod (namespace and selector). */
bool engine_selects(const struct profile *prof, const struct pod *pod);
/* Whether @prof binds the ServiceAccount @pod runs as (SPEC §2 identity
 * binding): same namespace, an identity section naming the account in
 * serviceAccountNames, bindServiceAccounts true, and the account is not
 * "default".  Whether it selects the pod is not consulted. */
bool engine_binds(const struct profile *prof, const struct pod *pod);

#endif
