/* actions.h - the one place where drift findings become actions (SPEC §4):
 * an events.k8s.io Event per finding group (repeats folded into a series),
 * the profile's status, and in Enforce mode a pod DELETE (with a UID
 * precondition) or Eviction, under a global token bucket and a per-owner
 * exponential backoff.
 *
 * Callers (the controller's judge, the telemetry handlers) submit a report
 * and return at once: actions_submit() copies it onto a bounded queue and a
 * worker thread makes every API call.  Only the leader writes: reports
 * that reach the worker while this replica does not lead are dropped
 * (counted as result "not_leader"); the new leader re-judges every pod.
 * Thread-safe. */
#ifndef PG_ACTIONS_H
#define PG_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drift.h"
#include "engine.h"

struct kube_client;
struct metrics;
struct actions;

/* What waits for the worker, per namespace and in all (reports queued,
 * actions and Events put off for later): entries and their bytes.  Past a
 * bound submit refuses, except that an Enforce action, or a namespace
 * holding less than the biggest holder, takes the place of that holder's
 * oldest Audit-only record.  Together with the item in hand, memory is
 * bounded by 4 MiB a namespace and 64 MiB in all. */
#define ACTIONS_MAX_PENDING 20000
#define ACTIONS_MAX_PENDING_BYTES (64u << 20)
#define ACTIONS_NS_MAX_PENDING 1000
#define ACTIONS_NS_MAX_PENDING_BYTES (4u << 20)
/* A pod's findings of one reason (and profile) that arrive while an
 * earlier one waits are folded into it: a count, the latest evidence and
 * a few earlier ones named.  An Audit-only record whose Event was written
 * less than this ago waits until then, folding what comes meanwhile, so a
 * flood of findings makes one series update per interval, not one each. */
#define ACTIONS_FOLD_MS 5000
#define ACTIONS_FOLD_SAMPLES 3

/* Queues @r (copied), or folds it into the report of the same pod,
 * profile and class that waits already.  Never blocks on the API server.
 * 0; -EINVAL for a report without namespace, pod, profile or groups;
 * -ENOBUFS when a bound of the queue is met (ACTIONS_*_PENDING*: the
 * report is counted as dropped and the bound logged); -ESHUTDOWN after
 * actions_stop(); -ENOMEM. */
int actions_submit(struct actions *a, const struct drift_report *r);

/* ---- set-up (the controller's) -------------------------------------------- */

/* What the worker asks of its owner before it writes. */
enum actions_liveness {
	ACTIONS_POD_LIVE,               /* the same UID is cached and not terminating */
	ACTIONS_POD_GONE,               /* no pod of that name */
	ACTIONS_POD_REPLACED,           /* a pod of that name with another UID */
	ACTIONS_POD_TERMINATING,        /* deletionTimestamp set */
	ACTIONS_POD_EXEMPT,             /* mirror pod, ignored or own namespace */
	ACTIONS_POD_FINISHED,           /* Succeeded or Failed, and the report's evidence no
	                         * longer counts (engine_counts()): recorded, not acted on */
};

/* A violation that the status of @profile must count. */
struct actions_violation {
	const char *namespace;
	const char *profile;
	const char *profile_uid;
	const char *pod;
	const char *reason;
	const char *message;
	int64_t time;                   /* epoch seconds */
	int64_t count;                  /* findings folded into it; 0 or 1: one */
};

struct actions_hooks {
	/* True while this replica holds an unexpired lease by its own clock,
	 * with margin: checked right before every pod write. */
	bool (*may_act)(void *ud);
	/* Re-checks the pod against the informer cache before acting on
	 * findings of evidence @ev. */
	enum actions_liveness (*pod_check)(void *ud, const char *ns, const char *name,
				       const char *uid, enum evidence ev);
	/* A new violation was recorded (not a repeat of one already on
	 * record): count it in the profile's status. */
	void (*on_violation)(void *ud, const struct actions_violation *v);
	void *ud;
};

struct actions_config {
	struct kube_client *client;     /* borrowed, outlives the actions */
	struct metrics *metrics;        /* borrowed; NULL: no metrics */
	const char *identity;           /* reportingInstance (copied) */
	bool dry_run;                   /* no pod is written; Events say what would be */
	double max_per_minute;          /* the global bucket; <= 0: unlimited */
	int64_t owner_backoff_ms;       /* first wait for a repeat owner; 0: 30 s */
	int64_t owner_backoff_cap_ms;   /* 0: 1 h */
	int64_t retry_base_ms;          /* blocked evictions and errors; 0: 5 s */
	int64_t retry_cap_ms;           /* 0: 5 min */
	struct actions_hooks hooks;
};

/* 0, -EINVAL (no client), -ENOMEM. */
int actions_new(const struct actions_config *cfg, struct actions **ret);
/* Starts the worker thread.  0 or -errno. */
int actions_start(struct actions *a);
/* Leadership changed: drops queued and waiting work and every memory of
 * pods, owners and Events, so the next term starts from the cluster's
 * state. */
void actions_reset(struct actions *a);
/* The pod with @uid is gone: forget it was acted on. */
void actions_forget_pod(struct actions *a, const char *uid);
/* Reports queued or waiting for a retry. */
size_t actions_pending(struct actions *a);
/* Stops the worker (the report in hand is finished first); later submits
 * get -ESHUTDOWN.  Idempotent, NULL-safe. */
void actions_stop(struct actions *a);
/* Stops, then frees.  NULL-safe; returns NULL. */
struct actions *actions_free(struct actions *a);

#endif
