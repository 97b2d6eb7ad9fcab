/* ingest.h - the controller's telemetry ingest (SPEC §5.1): one batch from
 * an authenticated sender is parsed (telemetry.h), each event attributed
 * to a pod of the controller's caches, judged against every profile that
 * selects the pod (runtime.h), and the findings handed, as drift reports
 * (drift.h), to the action path.  Pure of HTTP and of the controller's
 * internals: the caches and the action path come through struct
 * ingest_ops, so the Check suites drive it with fakes.
 *
 * Trust (SPEC §5.1): a sender with a node claim (an agent) is believed
 * only about pods on its own node; a sender without one (the API server's
 * audit backend, a central Falco) about any pod.  Audit events are taken
 * only from senders without a node claim.
 *
 * Thread-safe: the server's threads call ingest_batch() at once. */
#ifndef PG_INGEST_H
#define PG_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drift.h"
#include "engine.h"
#include "telemetry.h"

struct metrics;
struct ingest;

/* Who sent a batch, as authentication found it. */
struct ingest_sender {
	const char *username;           /* for logs */
	const char *node;               /* the node claim; NULL: none, trusted for every pod */
};

/* The controller's caches and action path.  A lookup returns a pod that
 * stays valid until pod_release(@ud, *ret_ref), or NULL (nothing to
 * release).  Every callback may be called from several threads at once. */
struct ingest_ops {
	const struct pod *(*pod_by_name)(void *ud, const char *ns, const char *name, void **ret_ref);
	const struct pod *(*pod_by_uid)(void *ud, const char *uid, void **ret_ref);
	/* A full runtime ID, with or without "runtime://", or the 12-hex
	 * short form Falco prints. */
	const struct pod *(*pod_by_container)(void *ud, const char *id, void **ret_ref);
	/* Up to @max pods that run as ServiceAccount @ns/@sa and are not
	 * terminating, into @ret_pods with their references in @ret_refs.
	 * Returns how many. */
	size_t (*pods_of_sa)(void *ud, const char *ns, const char *sa, const struct pod **ret_pods,
			     void **ret_refs, size_t max);
	void (*pod_release)(void *ud, void *ref);
	/* The valid profiles now, sorted by namespace then name (as
	 * profile_set keeps them), valid until profiles_release(); NULL when
	 * none are known yet. */
	const struct profile_set *(*profiles_acquire)(void *ud, void **ret_ref);
	void (*profiles_release)(void *ud, void *ref);
	/* Namespaces never judged (the controller's own, those labelled
	 * profileguard.io/ignore=true).  NULL: none. */
	bool (*ns_exempt)(void *ud, const char *ns);
	/* The action path (actions_submit): copies @r before it returns.
	 * 0 or a negative errno. */
	int (*submit)(void *ud, const struct drift_report *r);
	void *ud;
	/* Told of each successful (HTTP status below 400) audited call of
	 * ServiceAccount @ns/@sa: @ev (RUNTIME_API; ev->time, epoch seconds,
	 * the verb, resource and object namespace) is the identity
	 * inventory's last use and usage.  NULL: nobody asks.  After the
	 * callbacks above, so their positional initializers stand. */
	void (*account_used)(void *ud, const char *ns, const char *sa, const struct runtime_event *ev);
	/* An audit batch was parsed (from an authorized sender): the audit
	 * source is live.  NULL: nobody asks. */
	void (*audit_batch)(void *ud);
};

struct ingest_config {
	struct ingest_ops ops;
	struct metrics *metrics;        /* borrowed; NULL: no metrics */
	int64_t gone_ttl_s;             /* deleted pods remembered this long; 0: 15 min */
	size_t max_gone;                /* at most this many; 0: 65536 */
	size_t max_rate_pods;           /* per-pod API rate windows; 0: 65536 */
	/* The same finding (pod, profile, reason, message) is submitted
	 * again only after this long: an exec loop must not become an API
	 * call per exec.  0: 10 s; < 0: never folded. */
	int64_t repeat_ms;
	/* Epoch seconds and monotonic milliseconds; NULL: the clocks. */
	int64_t (*now)(void);
	int64_t (*now_ms)(void);
};

/* Limits: pods judged for one call by an identity whose token names no
 * pod (every pod of the ServiceAccount is a suspect). */
#define INGEST_MAX_SA_PODS 256

/* What one batch came to.  Every event read lands in exactly one of
 * accepted, forbidden, unattributed and ignored; malformed lines and
 * items in rejected. */
struct ingest_result {
	size_t accepted;                /* attributed and judged */
	size_t rejected;                /* malformed */
	size_t forbidden;               /* about a pod the sender may not speak for */
	size_t unattributed;            /* no pod (alive, or remembered) matched */
	size_t ignored;                 /* not judged: no profile selects the pod, an
	                                 * exempt namespace, a node's report about a pod
	                                 * that has finished, or not an event for us */
	size_t reports;                 /* reports submitted to the action path */
	size_t folded;                  /* findings not submitted again (repeat_ms) */
	size_t dropped;                 /* reports the action path refused */
	char first_error[160];          /* the first malformed line's reason */
};

/* Result labels of profileguard_telemetry_events_total. */
enum ingest_outcome {
	INGEST_ACCEPTED, INGEST_REJECTED, INGEST_UNATTRIBUTED, INGEST_FORBIDDEN, INGEST_IGNORED,
	INGEST__COUNT
};
const char *ingest_outcome_name(enum ingest_outcome o);

/* Copies @cfg; registers profileguard_telemetry_events_total{source,result}
 * and profileguard_telemetry_receipt_to_action_seconds in cfg->metrics.
 * 0, -EINVAL (an ops callback missing), -ENOMEM. */
int ingest_new(const struct ingest_config *cfg, struct ingest **ret);
/* NULL-safe; returns NULL.  No batch may be running. */
struct ingest *ingest_free(struct ingest *ing);

/* Ingests @body (@len bytes, borrowed) of format @src from @sender.
 * @t0_us is when the request arrived (CLOCK_MONOTONIC microseconds; 0:
 * unknown), for the receipt-to-action histogram.  Fills @ret (zeroed first) and counts the
 * metric.  Returns 0; -EPERM when @sender may not send @src at all (audit
 * events from a sender with a node claim: nothing is read); -E2BIG when
 * the batch held more than TELEMETRY_MAX_EVENTS (what came before counts);
 * -ENOMEM. */
int ingest_batch(struct ingest *ing, const struct ingest_sender *sender, enum telemetry_source src,
		 const char *body, size_t len, int64_t t0_us, struct ingest_result *ret);

/* The pod @pod (borrowed) was deleted: remember its namespace, name, UID,
 * labels, node, owner, addresses and deletionTimestamp for gone_ttl_s, so
 * a call with a token bound to it, received after that time (or from an
 * address neither its nor its node's), is still a TokenReplay of the
 * profile that selected it, while a late report of a call it made while
 * it lived is not; and forget its API rate window.  @pod is the last state
 * the watch showed: without a deletionTimestamp there is no API server
 * time for the deletion, and calls are judged on address only.  Never fails: when out of memory the pod is
 * not remembered. */
void ingest_pod_gone(struct ingest *ing, const struct pod *pod);
/* Pods remembered now (tests, metrics). */
size_t ingest_gone_count(struct ingest *ing);

#endif
