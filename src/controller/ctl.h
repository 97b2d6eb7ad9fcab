/* ctl.h - the drift controller's private modules, grouped by file (after
 * OpenBSD's one private header): the work queue, the action throttles,
 * the Event recorder's naming and cache, the profile status builder and
 * the ops listener (the string-keyed table is base's smap, hash.h).  The pure parts take the
 * time from their caller, so the Check suites can drive them exactly. */
#ifndef PG_CTL_H
#define PG_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "ticker.h"
#include "webhook_source.h"

struct metrics;

/* ---- queue.c: a deduplicating work queue with delayed adds ---------------- */

/* Keys are copied.  A key is handed to one worker at a time: a key added
 * while a worker holds it is queued again when the worker is done (as
 * client-go's workqueue), so no change is lost and no key is worked on
 * twice at once. */
struct queue;
typedef int64_t (*queue_clock_fn)(void);

/* @max keys at most (0: no limit); @clock NULL: ticker_now_ms. */
struct queue *queue_new(size_t max, queue_clock_fn clock);
struct queue *queue_free(struct queue *q);
/* 0 (added), 1 (already waiting: merged), -ENOBUFS (full), -ESHUTDOWN,
 * -ENOMEM. */
int queue_add(struct queue *q, const char *key);
/* The same, due @delay_ms from now; a key waiting already keeps the
 * earlier of the two times. */
int queue_add_after(struct queue *q, const char *key, int64_t delay_ms);
/* The next due key (borrowed until queue_done()).  Waits up to
 * @timeout_ms (< 0: for ever).  0, -ETIMEDOUT or -ESHUTDOWN. */
int queue_get(struct queue *q, long timeout_ms, const char **ret_key);
/* Without waiting: 0, or -EAGAIN when nothing is due. */
int queue_try_get(struct queue *q, const char **ret_key);
void queue_done(struct queue *q, const char *key);
/* Drops every key that is not being worked on. */
void queue_clear(struct queue *q);
/* Keys waiting or being worked on. */
size_t queue_len(struct queue *q);
/* Wakes every waiter; later adds and gets return -ESHUTDOWN.  NULL-safe. */
void queue_shutdown(struct queue *q);

/* ---- queue.c: the actions' fair queue ----------------------------------------- */

/* The reports waiting for the actions worker, so that one tenant cannot
 * starve another: a sub-queue per namespace, each bounded on its own, served
 * by deficit round robin (an entry costs the API writes it will make), and
 * two classes, served strictly in order, so Audit-only records never delay
 * an action.  When a bound is reached the newcomer is refused, except that
 * an action, or a record of a namespace holding less than the biggest
 * holder of records, takes the place of that holder's oldest record (a
 * fair share of the room, as longest-queue drop).  Not locked: the caller
 * holds its own lock. */
enum fq_class { FQ_ACTION, FQ_RECORD, FQ__CLASSES };

struct fq_ns;

/* Embedded in the caller's entry; the caller sets cls, cost and bytes. */
struct fq_entry {
	struct fq_entry *next;
	struct fq_ns *ns;       /* queued or held: its namespace */
	size_t bytes;           /* its memory, held against the byte bounds */
	uint32_t cost;          /* API writes it will make (1 at least) */
	uint8_t cls;            /* enum fq_class */
	bool held;              /* counted, not queued (put off for later) */
};

struct fq_limits {
	size_t ns_max;          /* entries of one namespace, held ones included */
	size_t ns_max_bytes;
	size_t max;             /* entries in all, held ones included */
	size_t max_bytes;
	uint32_t quantum;       /* cost a namespace may spend per turn; 0: 4 */
};

/* Why a push was refused: the bound it met. */
enum fq_refusal { FQ_OK, FQ_NS_ENTRIES, FQ_NS_BYTES, FQ_ENTRIES, FQ_BYTES };

struct fairq;
typedef void (*fq_drop_fn)(void *ud, struct fq_entry *e);

/* NULL on allocation failure. */
struct fairq *fairq_new(const struct fq_limits *lim);
/* Hands every queued entry to @drop (may be NULL), then frees; held
 * entries are the caller's.  NULL-safe. */
struct fairq *fairq_free(struct fairq *q, fq_drop_fn drop, void *ud);
/* Queues @e at the tail of namespace @ns (copied).  Room is made by
 * handing displaced records to @drop (counted in *ret_dropped, may be
 * NULL).  0; -ENOBUFS with *ret_why (may be NULL) the bound met; -ENOMEM. */
int fairq_push(struct fairq *q, const char *ns, struct fq_entry *e, fq_drop_fn drop, void *ud,
	       size_t *ret_dropped, enum fq_refusal *ret_why);
/* The next entry to serve, NULL when none is queued. */
struct fq_entry *fairq_pop(struct fairq *q);
/* Keeps @e (popped) counted against its namespace @ns and the total while
 * the caller holds it for later; never refused, since it was admitted once
 * (so a bound may be passed by the entries in the caller's hands).
 * 0 or -ENOMEM. */
int fairq_hold(struct fairq *q, const char *ns, struct fq_entry *e);
/* A held @e leaves the queue's counts (the caller is done with it). */
void fairq_unhold(struct fairq *q, struct fq_entry *e);
/* A held @e is queued again, at its namespace's tail. */
void fairq_requeue(struct fairq *q, struct fq_entry *e);
/* Takes @e (queued or held) out of the queue and its counts (it was
 * folded into another). */
void fairq_forget(struct fairq *q, struct fq_entry *e);
/* @e now holds @bytes (a merge grew it): accounted when queued or held. */
void fairq_resize(struct fairq *q, struct fq_entry *e, size_t bytes);
/* Entries (held ones included), those of namespace @ns, and bytes. */
size_t fairq_len(const struct fairq *q);
size_t fairq_ns_len(const struct fairq *q, const char *ns);
size_t fairq_bytes(const struct fairq *q);
/* The bound @why names, for messages ("per-namespace entries"...). */
const char *fairq_refusal_name(enum fq_refusal why);

/* ---- throttle.c: the global token bucket and per-owner backoff ------------ */

/* Refuses rather than reserves: an action that finds no token is put off,
 * and asks again later. */
struct bucket {
	double per_ms;          /* refill rate; <= 0: unlimited */
	double burst;
	double tokens;
	int64_t last_ms;
};

/* @per_minute tokens a minute, as many held at most. */
void bucket_init(struct bucket *b, double per_minute, int64_t now_ms);
/* Takes a token: 0, or the milliseconds until one will be there (none is
 * taken). */
int64_t bucket_take(struct bucket *b, int64_t now_ms);
/* Gives back a token taken for an action that did not happen. */
void bucket_refund(struct bucket *b);

/* Owners (controller ownerReference UIDs) whose pods were acted on: the
 * n-th action within a streak waits base * 2^(n-1) after the previous one
 * (capped).  A streak ends after a quiet time of max(10 min, 2 * wait). */
struct owner_backoff;

struct owner_backoff *owner_backoff_new(int64_t base_ms, int64_t cap_ms, size_t max);
struct owner_backoff *owner_backoff_free(struct owner_backoff *ob);
/* Milliseconds until an action on @owner may happen (0: now); *ret_n (may
 * be NULL) gets the actions of the current streak. */
int64_t owner_backoff_wait(struct owner_backoff *ob, const char *owner, int64_t now_ms,
			   unsigned *ret_n);
/* An action on @owner happened.  0 or -ENOMEM (then it is not tracked). */
int owner_backoff_record(struct owner_backoff *ob, const char *owner, int64_t now_ms);
/* The wait after @n actions in a streak. */
int64_t owner_backoff_delay(const struct owner_backoff *ob, unsigned n);
void owner_backoff_clear(struct owner_backoff *ob);

/* ---- recorder.c: Event names and the series cache ------------------------- */

#define RECORDER_NAME_MAX 254

/* The name of the Event for one finding group, fixed by (pod UID, reason,
 * profile), so repeats fold into one Event even across restarts and
 * leader changes: "<pod name>.<16 hex>", a valid DNS subdomain. */
void recorder_event_name(char out[RECORDER_NAME_MAX], const char *pod, const char *pod_uid,
			 const char *reason, const char *profile_key);
/* The API server's cap on a note, cut on a UTF-8 boundary: the length to
 * keep of @s. */
size_t recorder_note_len(const char *s);

/* Remembers the count of every Event written lately, so a repeat is one
 * series PATCH instead of a read. */
struct recorder;

/* @max entries, each forgotten @ttl_ms after its last write. */
struct recorder *recorder_new(size_t max, int64_t ttl_ms);
struct recorder *recorder_free(struct recorder *rc);
/* The count of @name's series (1 for an Event without one), 0 when not
 * known. */
int32_t recorder_count(struct recorder *rc, const char *name, int64_t now_ms);
/* Records that @name now has @count.  0 or -ENOMEM. */
int recorder_store(struct recorder *rc, const char *name, int32_t count, int64_t now_ms);
void recorder_forget(struct recorder *rc, const char *name);
/* When @name was last written (ticker_now_ms), -1 when not known. */
int64_t recorder_written_ms(struct recorder *rc, const char *name, int64_t now_ms);
/* The note of an Event that folds @count findings of one reason (found
 * while it waited): how many, the @latest evidence, and the @samples of
 * earlier ones named, appended to @out.  @count <= 1: @latest alone.
 * 0, or the first error of buf_printf() (a piece past @out's max is left
 * out; the rest is kept). */
struct buf;
int recorder_fold_note(struct buf *out, int64_t count, const char *latest,
		       const char *const *samples, size_t nsamples);
void recorder_clear(struct recorder *rc);
size_t recorder_size(const struct recorder *rc);

/* ---- status.c: a WorkloadProfile's status ----------------------------------- */

struct pstatus {
	int64_t generation;             /* metadata.generation */
	bool valid;
	const char *invalid_message;    /* the validation messages, joined */
	/* Invalid: the last valid generation, still enforced (SPEC §2);
	 * 0: none, nothing is. */
	int64_t enforced_generation;
	/* The enforced generation came from status.enforcedSpec (a restart
	 * while the profile was invalid), not from memory. */
	bool restored;
	/* status.enforcedGeneration as the cluster has it (0: none). */
	int64_t stored_generation;
	/* The spec of the enforced generation (valid: this one), borrowed,
	 * and its size (status_spec_bytes()); recorded in status when that
	 * generation is not the one stored.  NULL: not at hand. */
	json_t *enforced_spec;
	size_t enforced_spec_bytes;
	int64_t matched;                /* pods it selects now */
	int64_t violations;             /* since creation */
	bool has_last;                  /* a violation this term: write lastViolation */
	const char *last_pod;
	const char *last_reason;
	const char *last_message;
	int64_t last_time;              /* epoch seconds */
	/* The Ready condition as the cluster has it now: its lastTransitionTime
	 * is kept unless the status changes. */
	const char *prev_ready;         /* "True", "False", NULL: none */
	const char *prev_transition;    /* RFC 3339, NULL: none */
};

/* The most status.enforcedSpec holds, serialized: a bigger spec is not
 * recorded (and the Ready condition says so), never cut. */
#define STATUS_ENFORCED_SPEC_MAX SOURCE_ENFORCED_SPEC_MAX

/* The size of @spec serialized compactly, as status.enforcedSpec is
 * measured against STATUS_ENFORCED_SPEC_MAX. */
size_t status_spec_bytes(const json_t *spec);
/* The status object for a merge patch of /status (a new reference), or
 * NULL on allocation failure.  @now is epoch seconds. */
json_t *status_build(const struct pstatus *s, int64_t now);
/* The messages of @errs joined with "; ", cut at @max bytes (new string). */
char *status_join_messages(const char *const *msgs, size_t n, size_t max);

/* ---- controller.c: what the telemetry ingest reads (telemetry_ops.c) ----- */

struct controller;
struct kube_informer;
struct kube_object;
struct profile;

/* Called on the pod informer's thread after each change, once the cache
 * shows it: @old NULL for an add, @cur NULL for a delete. */
typedef void (*ctl_pod_hook_fn)(void *ud, struct kube_object *old, struct kube_object *cur);
/* Before controller_start() only. */
void ctl_set_pod_hook(struct controller *c, ctl_pod_hook_fn fn, void *ud);
/* The pod cache (borrowed). */
struct kube_informer *ctl_pod_informer(struct controller *c);
/* The controller's own namespace, a --ignore-namespaces one, or one
 * labelled profileguard.io/ignore=true. */
bool ctl_ns_ignored(struct controller *c, const char *ns);
/* The enforced profiles (while a profile is invalid, its last valid
 * generation, SPEC §2), sorted by namespace and name, unless the set is
 * still generation @have (then -EALREADY).  Each profile is kept alive by
 * a reference to its cached object: release @ret_objs with
 * kube_objects_release() and pg_free() @ret_profiles.  0 or -ENOMEM. */
int ctl_profiles_snapshot(struct controller *c, uint64_t have, struct kube_object ***ret_objs,
			  struct profile ***ret_profiles, size_t *ret_n, uint64_t *ret_gen);

#endif
