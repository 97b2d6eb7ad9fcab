/* identities.h - the controller's identity inventory (identities.c): the
 * RBAC index fed by the informers, what is known of each ServiceAccount
 * (pods, workloads, tokens, last use), and its IdentityReport, written
 * sparingly: only when its status changed, at most once per write
 * interval per report, never by a replica that does not lead.  Private to
 * src/controller.
 *
 * Threads: every function takes the inventory's own lock; the write and
 * risk_changed callbacks run without it.  Lock order: the controller's
 * lock, then this one (the judge asks for risks under the former). */
#ifndef PG_IDENTITIES_H
#define PG_IDENTITIES_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "idusage.h"
#include "kube_client.h"
#include "lifecycle.h"
#include "risk.h"

struct jval;
struct kube_meta;
struct metrics;
struct pod;
struct identities;


/* The workload kinds whose pod templates name an account. */
enum identities_wl {
	IDWL_DEPLOYMENTS, IDWL_STATEFULSETS, IDWL_DAEMONSETS, IDWL_REPLICASETS, IDWL_JOBS,
	IDWL_CRONJOBS, IDWL_RCS, IDWL__COUNT
};
extern const struct kube_resource identities_res_workloads[IDWL__COUNT];

/* An Event regarding ServiceAccount @ns/@name (@uid): IdentityOrphaned,
 * IdentityUnused, IdentityRiskChanged.  @key tells transitions apart
 * (the Event's name is fixed by it). */
struct identities_event {
	const char *ns, *name, *uid;
	const char *type, *reason, *note, *key;
};

/* One report to write: create it first unless @exists, then its status. */
struct identities_write {
	const char *ns, *name;
	const char *sa_uid;             /* the owner reference's */
	bool exists;
	json_t *status;                 /* borrowed */
};

struct identities_config {
	struct metrics *metrics;        /* borrowed; NULL: none */
	int64_t write_interval_ms;      /* per report, at most this often; 0: 60 s */
	/* A change is evaluated once the account was quiet this long (a pod
	 * replaced is a delete and an add), or dirty for a write interval.
	 * 0: 2 s; < 0: at once. */
	int64_t settle_ms;
	int64_t retry_ms;               /* after a failed write; 0: 10 s */
	/* The lifecycle's windows and mode; NULL: LIFECYCLE_POLICY_DEFAULT.
	 * Copied. */
	const struct lifecycle_policy *policy;
	int64_t usage_window_s;         /* usage entries older go; 0: 30 days */
	const char *own_ns;             /* the controller's (never touched); copied */
	size_t max_writes;              /* reports written per flush; 0: 10 */
	/* Writes one report; 0, or -errno (-ENOENT: the report went away
	 * between the create and the status write). */
	int (*write)(void *ud, const struct identities_write *w);
	/* An account's risk changed: the pods running as it are judged
	 * again.  NULL: none. */
	void (*risk_changed)(void *ud, const char *ns, const char *name);
	/* Namespace @ns is ignored (--ignore-namespaces, the ignore label);
	 * its profileguard.io/lifecycle label into @label ("" when none).
	 * Called with the inventory's lock held.  NULL: none. */
	void (*ns_facts)(void *ud, const char *ns, bool *ignored, char label[64]);
	/* An Event regarding a ServiceAccount, without the lock.  NULL: none. */
	void (*event)(void *ud, const struct identities_event *e);
	void *ud;
};

/* 0, -EINVAL (no write function), -ENOMEM. */
int identities_new(const struct identities_config *cfg, struct identities **ret);
/* NULL-safe; returns NULL. */
struct identities *identities_free(struct identities *id);

/* ---- informer decoders (decode_ud: the inventory) ------------------------ */

/* Roles and bindings go into the index as they are decoded: the cache
 * keeps no value (the handlers' on_delete calls identities_del_*()).  A
 * refused object is logged and left out (-EINVAL), as the informer then
 * drops any older version it held. */
int identities_decode_role(void *ud, const struct jval *obj, void **ret);
int identities_decode_binding(void *ud, const struct jval *obj, void **ret);
void identities_del_role(struct identities *id, const char *ns, const char *name);
void identities_del_binding(struct identities *id, const char *ns, const char *name);

/* A workload: its template's account (a string), or NULL for one a
 * controller owns (its owner is listed and named). */
int identities_decode_workload(void *ud, const struct jval *obj, void **ret);
void identities_free_string(void *ud, void *data);

/* A ServiceAccount: its metadata and automountServiceAccountToken. */
struct identities_sa {
	struct kube_meta *meta;
	int8_t automount;               /* -1 unset (true), 0, 1 */
};
/* The annotation that says an account was disabled, and since when. */
#define IDENTITIES_DISABLED_ANNOTATION "profileguard.io/disabled-since"
int identities_decode_sa(void *ud, const struct jval *obj, void **ret);
void identities_free_sa(void *ud, void *data);

/* A service-account-token Secret (metadata only): the account it is for
 * (annotation kubernetes.io/service-account.name) and the day of label
 * kubernetes.io/legacy-token-last-used, nothing else, so no annotation
 * that copies the object (kubectl's last-applied-configuration) is kept. */
struct identities_token {
	int64_t last_used;              /* epoch seconds of the day; -1 */
	char account[];                 /* "" when not annotated */
};
int identities_decode_token(void *ud, const struct jval *obj, void **ret);
void identities_free_token(void *ud, void *data);

/* A stored IdentityReport: what the controller compares against. */
struct identities_stored {
	uint64_t hash;                  /* of its status; 0: none */
	int64_t ltt;                    /* its Ready lastTransitionTime; -1 */
	int64_t since;                  /* stateSince; -1 */
	int state;                      /* enum identity_state; -1: none */
	int64_t last_used;              /* lastUsed (a day); -1 */
	bool named;                     /* it counted pods or workloads */
	struct idusage usage;           /* restored into the account's */
};
int identities_decode_report(void *ud, const struct jval *obj, void **ret);
void identities_free_report(void *ud, void *data);

/* ---- what the informers' handlers say ------------------------------------ */

/* @old and @cur (either NULL) of one object of the named key. */
void identities_sa_changed(struct identities *id, const char *ns, const char *name, const char *uid,
			   const struct identities_sa *cur);
void identities_workload_changed(struct identities *id, enum identities_wl k, const char *ns,
				 const char *name, const char *old_sa, const char *cur_sa);
void identities_pod_changed(struct identities *id, const struct pod *old, const struct pod *cur);
void identities_secret_changed(struct identities *id, const char *ns, const struct identities_token *old,
			       const struct identities_token *cur);
void identities_report_changed(struct identities *id, const char *ns, const char *name,
			       const struct identities_stored *cur);
/* A successful API call by the account at @when (epoch seconds): @verb
 * on @resource (canonical, runtime_api_resource()) in @obj_ns (NULL or
 * "": cluster scope).  A NULL @resource (a non-resource call) is a use
 * without a usage entry. */
struct identities_call {
	int64_t when;
	const char *verb, *resource, *obj_ns;
};
void identities_used(struct identities *id, const char *ns, const char *name, const struct identities_call *c);

/* ---- the leader's side ---------------------------------------------------- */

/* A new leadership term: every account is evaluated again (against the
 * stored reports, so only differences are written). */
void identities_new_term(struct identities *id);
/* Evaluates the accounts due at @now_ms (monotonic; @wall epoch seconds)
 * and writes the reports whose status changed and whose interval passed,
 * up to max_writes.  Returns how many were written. */
size_t identities_flush(struct identities *id, int64_t now_ms, int64_t wall);
/* The risk of account @ns/@name now, into @scratch: 0, or -ENOENT before
 * the RBAC informers synced (the callers set that), -ENOMEM. */
int identities_risk(struct identities *id, const char *ns, const char *name,
		    struct risk_result *scratch);
void identities_set_synced(struct identities *id, bool synced);
/* The start of the audit source's live span (auditlive.h); -1: not live. */
void identities_set_audit_live(struct identities *id, int64_t since);

struct identities_stats {
	size_t accounts;                /* entries held (with or without a ServiceAccount) */
	size_t reports;                 /* accounts with a ServiceAccount */
	size_t dirty;
	uint64_t writes, write_errors;
};
void identities_stats(struct identities *id, struct identities_stats *ret);

/* The default write: POST the report (owned by the ServiceAccount) unless
 * it exists, then a merge patch of its status subresource that clears the
 * keys the status no longer has.  @ud is a struct identities_kube. */
struct identities_kube {
	struct kube_client *client;
	atomic_bool *cancel;            /* NULL: none */
};
int identities_kube_write(void *ud, const struct identities_write *w);

#endif
