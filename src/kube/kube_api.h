/* kube_api.h - the API calls profileguard makes, on top of kube_client:
 * generic JSON get/create/replace/merge-patch, and the writes of SPEC §4
 * (pod DELETE with a UID precondition, Eviction, events.k8s.io Events with
 * series, CRD /status patches, Leases) and §5 (TokenReview).
 *
 * Return values are kube_client_do()'s: 0, or a negative errno with the
 * server's Status in @err (may be NULL).  Where a result needs a decision
 * (lost a race, refused by a PDB) the function says which errno means it.
 * Retry policies are chosen per call and said here. */
#ifndef PG_KUBE_API_H
#define PG_KUBE_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "kube_client.h"

/* ---- generic -------------------------------------------------------------- */

/* GET @path; *ret_obj is a new reference.  Idempotent retries. */
int kube_api_get_json(struct kube_client *c, const char *path, const struct kube_param *query,
		      json_t **ret_obj, struct kube_error *err);
/* GET one object. */
int kube_api_get(struct kube_client *c, const struct kube_resource *r, const char *ns,
		 const char *name, json_t **ret_obj, struct kube_error *err);
/* POST @obj (borrowed) to the collection.  Retried only when the server
 * cannot have acted (KUBE_RETRY_UNSENT), unless @idempotent says a repeat
 * is harmless (a named object: the repeat gets -EEXIST).  @ret_obj may be
 * NULL.  -EEXIST when an object of that name exists. */
int kube_api_create(struct kube_client *c, const struct kube_resource *r, const char *ns,
		    json_t *obj, bool idempotent, json_t **ret_obj, struct kube_error *err);
/* PUT @obj (which carries metadata.resourceVersion: a repeat or a
 * concurrent writer gets -ESTALE).  Idempotent retries. */
int kube_api_replace(struct kube_client *c, const struct kube_resource *r, const char *ns,
		     const char *name, json_t *obj, json_t **ret_obj, struct kube_error *err);
/* JSON merge patch (RFC 7386) of the object or its subresource @sub
 * ("status"; NULL: the object).  Patches set absolute values, so they are
 * retried as idempotent.  Used for a ValidatingWebhookConfiguration's
 * caBundle as for a profile's status. */
int kube_api_merge_patch(struct kube_client *c, const struct kube_resource *r, const char *ns,
			 const char *name, const char *sub, json_t *patch, json_t **ret_obj,
			 struct kube_error *err);
/* Merge-patches {"status": @status} into the /status subresource. */
int kube_api_status_patch(struct kube_client *c, const struct kube_resource *r, const char *ns,
			  const char *name, json_t *status, struct kube_error *err);

/* ---- pods --------------------------------------------------------------- */

struct kube_api_delete_opts {
	const char *uid;            /* preconditions.uid: never hit a replacement */
	int64_t grace_period;       /* gracePeriodSeconds; < 0: the pod's own */
	bool dry_run;               /* dryRun=All: validated, not written */
};

/* DELETE the pod.  Idempotent retries (with a UID precondition a repeat
 * is harmless).  -ENOENT: already gone; -ESTALE: the UID differs (a
 * replacement pod has the name). */
int kube_api_pod_delete(struct kube_client *c, const char *ns, const char *name,
			const struct kube_api_delete_opts *o, struct kube_error *err);
/* POST a policy/v1 Eviction.  A 429 is a PodDisruptionBudget refusing
 * (the pod is kept): -EAGAIN, never retried here; try again later.  5xx
 * and connection errors are retried (evicting twice is harmless).
 * -ENOENT: gone; -ESTALE: the UID differs. */
int kube_api_pod_evict(struct kube_client *c, const char *ns, const char *name,
		       const struct kube_api_delete_opts *o, struct kube_error *err);

/* ---- events.k8s.io/v1 Events ---------------------------------------------- */

struct kube_api_object_ref {
	const char *api_version;    /* "v1", "profileguard.io/v1alpha1" */
	const char *kind;           /* NULL: no reference */
	const char *ns;
	const char *name;
	const char *uid;
};

struct kube_api_event {
	const char *name;           /* NULL: "<regarding.name>.<hex ns>" as client-go */
	const char *type;           /* "Normal" or "Warning" */
	const char *reason;
	const char *action;
	const char *note;           /* cut at 1 KiB, as the API server requires */
	const char *reporting_controller;
	const char *reporting_instance;
	struct kube_api_object_ref regarding;
	struct kube_api_object_ref related;
	struct timespec event_time; /* 0: now */
};

/* Creates the Event in @ns; *ret_name (may be NULL) gets its name, which
 * the caller frees with pg_free() and uses for series updates.  Retried as
 * idempotent: the name is fixed, a repeat is -EEXIST. */
int kube_api_event_create(struct kube_client *c, const char *ns, const struct kube_api_event *ev,
			  char **ret_name, struct kube_error *err);
/* Folds a repeat into the Event: merge-patches series {count,
 * lastObservedTime} (lastObservedTime 0: now).  -ENOENT when the Event
 * expired (the API server keeps them an hour): create a new one. */
int kube_api_event_series_update(struct kube_client *c, const char *ns, const char *name,
				 int32_t count, const struct timespec *last_observed,
				 struct kube_error *err);

/* ---- coordination.k8s.io/v1 Leases ---------------------------------------- */

struct kube_api_lease {
	char *holder;               /* holderIdentity; NULL: none */
	int32_t duration_s;         /* leaseDurationSeconds */
	struct timespec acquire;    /* acquireTime, 0: unset */
	struct timespec renew;      /* renewTime */
	int32_t transitions;        /* leaseTransitions */
	char *resource_version;     /* from the server; update needs it */
};

/* The Lease @ns/@name into *ret (cleared first; kube_api_lease_clear() it).
 * -ENOENT when there is none. */
int kube_api_lease_get(struct kube_client *c, const char *ns, const char *name,
		       struct kube_api_lease *ret, struct kube_error *err);
/* Creates it; -ESTALE when another replica created it first (409: lost
 * the race).  *ret (may be NULL) is the stored Lease. */
int kube_api_lease_create(struct kube_client *c, const char *ns, const char *name,
			  const struct kube_api_lease *l, struct kube_api_lease *ret, struct kube_error *err);
/* Replaces it, guarded by l->resource_version; -ESTALE when it changed
 * since it was read (409: lost the race). */
int kube_api_lease_update(struct kube_client *c, const char *ns, const char *name,
			  const struct kube_api_lease *l, struct kube_api_lease *ret, struct kube_error *err);
/* Frees what @l holds and zeroes it; NULL-safe. */
void kube_api_lease_clear(struct kube_api_lease *l);

/* ---- authentication.k8s.io/v1 TokenReview ---------------------------------- */

struct kube_api_token_review {
	bool authenticated;
	char *username;
	char *uid;
	char **groups;
	size_t ngroups;
	char **audiences;           /* the audiences the token is valid for */
	size_t naudiences;
	json_t *extra;              /* user.extra: {key: [values]}, NULL if none */
	char *error;                /* status.error, NULL if none */
};

/* Asks the API server who @token belongs to.  The token only travels in
 * the request body, which is wiped after; it is never kept or put in a
 * message.  @audiences (NULL-terminated, may be NULL: the API server's).
 * A token that is not valid is 0 with authenticated false.  Idempotent
 * retries. */
int kube_api_token_review(struct kube_client *c, const char *token, const char *const *audiences,
			  struct kube_api_token_review *ret, struct kube_error *err);
/* The first value of user.extra[@key] (borrowed), e.g.
 * "authentication.kubernetes.io/node-name"; NULL when absent. */
const char *kube_api_token_review_extra(const struct kube_api_token_review *tr, const char *key);
/* Frees what @tr holds and zeroes it; NULL-safe. */
void kube_api_token_review_clear(struct kube_api_token_review *tr);

#endif
