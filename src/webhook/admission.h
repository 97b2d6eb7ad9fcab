/* admission.h - admission.k8s.io AdmissionReview in, AdmissionReview out
 * (SPEC §3).  Pure: bytes and profiles in, a decision and response bytes
 * out; no I/O, no logging, no clock.  The rules themselves are the
 * engine's; this layer only picks the object to judge, and turns findings
 * into allowed/status/warnings without rephrasing a single message. */
#ifndef PG_ADMISSION_H
#define PG_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "engine.h"
#include "jval.h"
#include "profile.h"

enum admission_op { ADM_CREATE, ADM_UPDATE, ADM_DELETE, ADM_CONNECT, ADM_OP__COUNT };

const char *admission_op_name(enum admission_op op);

/* Limits on what a review may be. */
#define ADMISSION_MAX_DEPTH 64          /* nesting of JSON objects and arrays */
#define ADMISSION_MAX_UID 256

/* A parsed review, read with the fast strict reader (jval.h: no
 * duplicate keys, valid UTF-8, bounded depth).  Every string and value is
 * in @arena and lives until admission_review_free(). */
struct admission_review {
	struct arena *arena;            /* owned: holds root and everything below */
	const struct jval *root;
	const char *api_version;        /* "admission.k8s.io/v1" (v1beta1 too), echoed */
	const char *uid;                /* request.uid, never empty */
	enum admission_op op;
	const char *kind;               /* request.kind.kind */
	const char *group;              /* request.kind.group, "" for core */
	const char *resource;           /* request.resource.resource, "" when absent */
	const char *sub_resource;       /* request.subResource, "" when absent */
	const char *namespace;          /* request.namespace, "" for cluster scope */
	const char *name;               /* request.name, "" when generated */
	const char *username;           /* request.userInfo.username, "" when absent */
	bool dry_run;
	const struct jval *object;      /* request.object: an object, or NULL */
	const struct jval *old_object;  /* request.oldObject: an object, or NULL */
};

/* Parses and checks the shape of a review: a JSON object with apiVersion
 * admission.k8s.io/v1 (or v1beta1), kind AdmissionReview, and a request
 * with a uid, a known operation, a kind, and an object for CREATE and
 * UPDATE.  Returns 0 with @ret filled (free it with
 * admission_review_free()), -EINVAL with a one-line reason in @err (the
 * 400 body: it names the field, never echoes the input), or -ENOMEM.
 * @ret is untouched on failure. */
int admission_review_parse(const char *data, size_t len, struct admission_review *ret,
			   char *err, size_t errsz);
/* NULL-safe, idempotent. */
void admission_review_free(struct admission_review *rv);

/* Kubernetes shows at most this many warnings, each cut to this length. */
#define ADMISSION_MAX_WARNINGS 20
#define ADMISSION_MAX_WARNING_LEN 256

/* What was done with a review, for logs and metrics. */
enum admission_verdict {
	ADM_JUDGED,             /* the engine ran */
	ADM_SKIP_OPERATION,     /* DELETE, CONNECT, a subresource we do not judge */
	ADM_SKIP_NAMESPACE,     /* own or ignored namespace */
	ADM_SKIP_KIND,          /* not a pod-bearing object (Scale, ...) */
	ADM_SKIP_TERMINATING,   /* a pod update while it is being deleted */
	ADM_BAD_OBJECT,         /* the object itself is malformed: denied 400 */
};

struct admission_response {
	bool allowed;
	int code;                       /* status.code when denied */
	const char *reason;             /* static: "Forbidden", "BadRequest", "Invalid" */
	struct buf message;             /* status.message: every violation, "; " joined */
	char **warnings;                /* owned, each capped and already final */
	size_t nwarnings;
	size_t warnings_total;          /* before the cap */
	enum admission_verdict verdict;
	const char *kind;               /* static metric label: "Pod", ..., "WorkloadProfile", "other" */
	size_t violations;              /* Enforce findings that denied */
	char obj_namespace[254];        /* what was judged, for the log line */
	char obj_name[254];
};

void admission_response_init(struct admission_response *r);
void admission_response_free(struct admission_response *r);
/* Adds a warning, cut to ADMISSION_MAX_WARNING_LEN bytes with "..." on a
 * UTF-8 boundary; past ADMISSION_MAX_WARNINGS the last slot says how many
 * more there were.  0 or -ENOMEM. */
int admission_response_warn(struct admission_response *r, const char *msg);
/* Denies with @code and @reason (static); @msg is appended to the message
 * ("; " between).  0 or -ENOMEM. */
int admission_response_deny(struct admission_response *r, int code, const char *reason,
			    const char *msg);

/* What the pod judgement needs besides the review. */
struct admission_policy {
	const struct profile_set *profiles;     /* borrowed snapshot */
	/* True for a namespace never judged (the webhook's own, or labelled
	 * profileguard.io/ignore=true).  NULL: none. */
	bool (*ns_ignored)(void *ud, const char *ns);
	void *ud;
	/* Passed to the engine (legacy token Secrets); may be NULL. */
	bool (*is_token_secret)(void *ud, const char *ns, const char *name);
	void *secret_ud;
	/* The RBAC risk of a ServiceAccount (its IdentityReport), for
	 * identity.maxRisk; passed to the engine with @secret_ud.  NULL, or
	 * -ENOENT for one account: no report, so maxRisk is not judged and
	 * the answer carries a warning saying so. */
	int (*identity_risk)(void *ud, const char *ns, const char *name, const struct risk_result **ret);
};

/* POST /validate/pods: Pods (CREATE, UPDATE, the ephemeralcontainers
 * subresource) and the pod templates of Deployments, ReplicaSets,
 * StatefulSets, DaemonSets, Jobs and CronJobs.  Fills @ret (initialised
 * by the caller).  0 or -ENOMEM.
 *
 * Decisions beyond the engine's findings:
 *   - DELETE and CONNECT, and subresources other than ephemeralcontainers
 *     (status, scale, binding...), are allowed without judgement.
 *   - An object that is not pod-bearing (a Scale) is allowed.
 *   - A pod whose spec has the wrong shape is denied with code 400 and
 *     the field errors: the API server's own validation would refuse it
 *     too, and answering "allowed" for something we could not read would
 *     be a bypass.
 *   - A Pod UPDATE (the ephemeralcontainers subresource included) denies
 *     only what the update introduces: an Enforce violation the old
 *     object already had (finding_same(): the same reason, rule, field,
 *     whole value and profile; never the cut sentence) is returned as a
 *     warning, so labels, annotations
 *     and finalizers of a running pod can still change after its profile
 *     tightened (the drift controller owns running pods).  A Pod update
 *     while metadata.deletionTimestamp is set is allowed.
 *   - Pods are judged with sa_admission_done (the ServiceAccount plugin
 *     has run), templates without.
 *   - Identity binding (engine_eval_pod()) holds for Pods and templates
 *     alike: a pod, or a template whose pods would, running as an account
 *     bound to profiles that do not select it is denied (Enforce) or
 *     warned (Audit) as ServiceAccountBorrowed; relabelling a running pod
 *     out of its profile while it keeps the account is a new violation. */
int admission_judge_pod(const struct admission_review *rv, const struct admission_policy *pol,
			struct admission_response *ret);

/* POST /validate/workloadprofiles: profile_parse() on request.object;
 * every field error (as profile_parse names it) in the message, code 422
 * reason Invalid.  DELETE, CONNECT and the status subresource are allowed.
 * 0 or -ENOMEM. */
int admission_judge_profile(const struct admission_review *rv, struct admission_response *ret);

/* Appends the AdmissionReview answer for @rv: same apiVersion and kind,
 * response.uid echoed, allowed, status when denied, warnings.
 * 0, -ENOMEM or -E2BIG (@out's limit). */
int admission_response_render(const struct admission_review *rv,
			      const struct admission_response *r, struct buf *out);

/* Appends {"error":"<msg>"} for the 4xx answers that are not reviews. */
int admission_error_render(const char *msg, struct buf *out);

#endif
