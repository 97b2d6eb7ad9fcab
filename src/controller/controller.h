/* controller.h - the drift controller of SPEC §4: informers over Pods,
 * WorkloadProfiles, ServiceAccounts, Namespaces and service-account-token
 * Secrets (metadata only), and for the identity inventory (identities.h)
 * over RBAC, the workload kinds and IdentityReports; leader election;
 * event-driven judging of running pods with a slow periodic resync;
 * findings handed to the actions (actions.h); profile and identity
 * reports; metrics and health.
 *
 * Threads: one per informer, the election, one judge, the actions worker
 * and a housekeeping loop (status flushes, resync, metrics). */
#ifndef PG_CONTROLLER_H
#define PG_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct actions;
struct kube_client;
struct metrics;
struct controller;
struct runtime_event;
struct lifecycle_policy;

struct controller_config {
	struct kube_client *client;     /* borrowed, outlives the controller */
	struct metrics *metrics;        /* borrowed; families are registered here */
	const char *namespace;          /* its own: never judged, holds the Lease */
	const char *const *ignored_ns;  /* never judged either, besides namespaces
	                                 * labelled profileguard.io/ignore=true (copied) */
	size_t nignored;
	const char *identity;           /* holderIdentity and reportingInstance */
	bool leader_elect;              /* false: this replica always leads */
	const char *lease_name;
	int64_t lease_ms, renew_deadline_ms, retry_ms;  /* 0: 15 s, 10 s, 2 s */
	bool dry_run;
	double max_actions_per_minute;  /* <= 0: unlimited */
	int64_t resync_ms;              /* 0: 10 min */
	int64_t owner_backoff_ms;       /* 0: 30 s */
	int64_t status_interval_ms;     /* per profile, at most this often; 0: 2 s */
	int64_t shutdown_timeout_ms;    /* controller_stop() within it; 0: 20 s */
	unsigned page_size;             /* informer list pages; 0: 500 */
	/* The identity lifecycle: the audit source is live while a batch
	 * arrived within audit_live_window_s (0: 10 min); usage entries older
	 * than usage_window_s go (0: 30 days). */
	int64_t audit_live_window_s;
	int64_t usage_window_s;
	/* States, windows and mode (--identity-*); NULL: the defaults. */
	const struct lifecycle_policy *lifecycle;
};

/* Builds the informers, the election and the actions; starts nothing.
 * 0, -EINVAL, -ENOMEM. */
int controller_new(const struct controller_config *cfg, struct controller **ret);
/* Starts every thread.  0 or -errno (what started is stopped again). */
int controller_start(struct controller *c);
/* The actions, for the telemetry endpoints (borrowed). */
struct actions *controller_actions(struct controller *c);

/* Every informer has listed once. */
bool controller_synced(struct controller *c);
/* Readiness for /readyz; a reason in @why when not. */
bool controller_ready(struct controller *c, char *why, size_t n);
/* Liveness for /healthz: false when an informer has failed without a
 * success for over two minutes. */
bool controller_healthy(struct controller *c, char *why, size_t n);
bool controller_leading(struct controller *c);

/* Clean shutdown: stops judging and acting, flushes profile status while
 * still leading, releases the Lease, stops the informers, within the
 * config's shutdown_timeout_ms.  Idempotent, NULL-safe, and safe on a
 * controller that controller_new() left half-built. */
void controller_stop(struct controller *c);
/* The same within @budget_ms (<= 0: shutdown_timeout_ms): the status
 * flush writes the changed statuses that say new violations first, then
 * those whose Ready condition changed, and stops a few seconds before the
 * budget ends, keeping them for the Lease release and the informers.
 * Counts alone (matchedPods, observedGeneration) and what the deadline
 * cuts are left to the next leader, which recomputes them (violations
 * cut by the deadline are not: they are written first for that reason).
 * A request in flight past the budget (a Lease release to a hung API
 * server) can still overrun it: the command's watchdog bounds that. */
void controller_stop_within(struct controller *c, int64_t budget_ms);
/* Stops, then frees.  NULL-safe; returns NULL. */
struct controller *controller_free(struct controller *c);

/* ---- what the telemetry ingest reads (telemetry_ops.c) ------------------- */

struct kube_informer;
struct kube_object;
struct profile;

/* Called on the pod informer's thread after each change, once the cache
 * shows it: @old NULL for an add, @cur NULL for a delete. */
typedef void (*controller_pod_hook_fn)(void *ud, struct kube_object *old, struct kube_object *cur);
/* Before controller_start() only. */
void controller_set_pod_hook(struct controller *c, controller_pod_hook_fn fn, void *ud);
/* The pod cache (borrowed). */
struct kube_informer *controller_pod_informer(struct controller *c);
/* A successful API call by ServiceAccount @ns/@name (@ev: RUNTIME_API),
 * from the audit source: the identity inventory's lastUsed and usage. */
void controller_identity_used(struct controller *c, const char *ns, const char *name,
			      const struct runtime_event *ev);
/* An audit batch arrived: the audit source is live (now). */
void controller_audit_batch(struct controller *c);
/* The controller's own namespace, a --ignore-namespaces one, or one
 * labelled profileguard.io/ignore=true. */
bool controller_ns_ignored(struct controller *c, const char *ns);
/* The enforced profiles (while a profile is invalid, its last valid
 * generation, SPEC §2), sorted by namespace and name, unless the set is
 * still generation @have (then -EALREADY).  Each profile is kept alive by
 * a reference to its cached object: release @ret_objs with
 * kube_objects_release() and pg_free() @ret_profiles.  0 or -ENOMEM. */
int controller_profiles_snapshot(struct controller *c, uint64_t have, struct kube_object ***ret_objs,
			  struct profile ***ret_profiles, size_t *ret_n, uint64_t *ret_gen);

#endif
