/* kube_informer.h - a local, always-current cache of one kind of object:
 * list (paged), then watch from the list's resourceVersion, relisting when
 * the server says the history is gone (410), with add/update/delete
 * handlers.  Each informer runs in its own thread.
 *
 * The cache never holds raw JSON: a decoder turns each object into the
 * compact form the caller wants (struct pod, struct profile, kube_meta),
 * which the cache owns.  Entries are reference-counted, so a caller may
 * keep one past the next update.
 *
 * Threads: lookups are safe from any thread.  Handlers run on the
 * informer's thread, one at a time, in the order of the changes, after
 * the cache already shows the change, and without any informer lock held
 * (a handler may call kube_informer_get() or the API client).  They run
 * while the watch stream is read, so a slow handler delays the events
 * after it (never loses them): queue long work elsewhere. */
#ifndef PG_KUBE_INFORMER_H
#define PG_KUBE_INFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube_client.h"

struct jval;
struct kube_informer;
struct kube_object;

/* ---- cached objects ---------------------------------------------------- */

/* All borrowed, valid while a reference is held.  namespace is "" for
 * cluster-scoped objects. */
const char *kube_object_namespace(const struct kube_object *o);
const char *kube_object_name(const struct kube_object *o);
const char *kube_object_uid(const struct kube_object *o);
const char *kube_object_resource_version(const struct kube_object *o);
/* The decoder's value; shared by every holder, so read-only. */
const void *kube_object_data(const struct kube_object *o);
/* Takes another reference; returns @o. */
struct kube_object *kube_object_ref(struct kube_object *o);
/* Drops one; the last frees the value with the informer's free function.
 * NULL-safe; returns NULL. */
struct kube_object *kube_object_unref(struct kube_object *o);

/* ---- decoding ------------------------------------------------------------ */

/* Turns @obj (the strict fast reader's tree, jval.h, borrowed: it lives
 * until the call returns; kind and apiVersion are filled in for list
 * items, which the API server sends without them) into the value to cache in
 * *ret_data.  -ENOMEM makes the informer start over after a pause; any
 * other negative value leaves the object out of the cache (counted in
 * decode_errors; if an older version was cached it is dropped and
 * on_delete is called).  A decoder that wants invalid objects seen (an
 * invalid profile to report) returns a value that says so instead. */
typedef int (*kube_decode_fn)(void *ud, const struct jval *obj, void **ret_data);
typedef void (*kube_free_fn)(void *ud, void *data);

struct kube_informer_handlers {
	void (*on_add)(void *ud, struct kube_object *cur);
	/* Same UID, new resourceVersion.  A new UID under the same name is
	 * on_delete(old) then on_add(cur). */
	void (*on_update)(void *ud, struct kube_object *old, struct kube_object *cur);
	void (*on_delete)(void *ud, struct kube_object *old);
	/* After every complete list (the first sync and each relist),
	 * once its differences were delivered. */
	void (*on_synced)(void *ud);
	/* A list or watch failed (the informer will retry); for logs.
	 * @e may hold the server's Status.  Not called for the normal end
	 * of a watch. */
	void (*on_error)(void *ud, int err, const struct kube_error *e);
	void *ud;
};

struct kube_informer_opts {
	const struct kube_resource *resource;
	const char *name;               /* for metrics and logs; NULL: the plural */
	const char *namespace;          /* NULL: every namespace */
	const char *label_selector;     /* NULL: none */
	const char *field_selector;     /* NULL: none, e.g. "type=kubernetes.io/service-account-token" */
	bool metadata_only;             /* PartialObjectMetadata: no spec, no data */
	unsigned page_size;             /* list limit; 0: 500 */
	unsigned watch_min_s;           /* timeoutSeconds is random in [min, max]; */
	unsigned watch_max_s;           /* 0, 0: 300..600 */
	size_t max_line;                /* largest watch event; 0: KUBE_WATCH_MAX_LINE */
	size_t max_objects;             /* largest cache; 0: 4,000,000 */
	int64_t backoff_base_ms;        /* pause after a failure; 0: 500 */
	int64_t backoff_cap_ms;         /* 0: 30000 */
	kube_decode_fn decode;          /* required; list items and watch events alike */
	kube_free_fn free_data;         /* NULL: the value needs no freeing */
	void *decode_ud;
	struct kube_informer_handlers handlers;
};

/* Copies @o (strings included).  @c is borrowed and must outlive the
 * informer.  0, -EINVAL (no resource or decoder), -ENOMEM. */
int kube_informer_new(struct kube_client *c, const struct kube_informer_opts *o,
		      struct kube_informer **ret_informer);
/* Starts the thread.  0, or a negative errno from pthread_create. */
int kube_informer_start(struct kube_informer *inf);
/* Stops the thread and waits for it: a blocked watch is interrupted
 * within about a second.  Idempotent, NULL-safe.  The cache stays
 * readable. */
void kube_informer_stop(struct kube_informer *inf);
/* Stops, then frees the cache (entries still referenced elsewhere live
 * on until unreferenced).  NULL-safe; returns NULL. */
struct kube_informer *kube_informer_free(struct kube_informer *inf);

/* True once the first list is in the cache and its add/update/delete
 * handlers have run; already true inside on_synced, so a handler waiting
 * for several informers sees this one ready (readiness). */
bool kube_informer_has_synced(const struct kube_informer *inf);
/* 0 once synced and on_synced has returned, -ETIMEDOUT, or -ECANCELED
 * when stopped first. */
int kube_informer_wait_synced(struct kube_informer *inf, long timeout_ms);

/* A new reference to the entry @ns/@name (@ns NULL or "" for
 * cluster-scoped), or NULL. */
struct kube_object *kube_informer_get(struct kube_informer *inf, const char *ns,
				      const char *name);
size_t kube_informer_count(struct kube_informer *inf);
/* Calls @fn for every entry (borrowed) under the cache's read lock: @fn
 * must be quick and must not call this informer's functions but
 * kube_object_*.  A negative return stops and is returned. */
int kube_informer_foreach(struct kube_informer *inf,
			  int (*fn)(void *ud, struct kube_object *o), void *ud);
/* References to every entry, for long work without the lock: an array
 * the caller releases with kube_objects_release(). */
int kube_informer_snapshot(struct kube_informer *inf, struct kube_object ***ret_v,
			   size_t *ret_n);
void kube_objects_release(struct kube_object **v, size_t n);

struct kube_informer_stats {
	uint64_t lists;                 /* complete lists, the first included */
	uint64_t relists;               /* lists after the first (410, errors) */
	uint64_t list_pages;
	uint64_t list_restarts;         /* a continue token expired mid-list */
	uint64_t watches;               /* watch requests opened */
	uint64_t watch_restarts;        /* watches that ended and were replaced
	                                 * (SPEC §7 watch_restarts_total) */
	uint64_t watch_gone;            /* 410 Gone, as HTTP status or ERROR event */
	uint64_t events;                /* ADDED/MODIFIED/DELETED applied */
	uint64_t bookmarks;
	uint64_t decode_errors;
	uint64_t errors;                /* failed lists and watches */
};
void kube_informer_stats(struct kube_informer *inf, struct kube_informer_stats *ret);
/* The metric label: opts.name or the resource's plural (borrowed). */
const char *kube_informer_name(const struct kube_informer *inf);
/* The resourceVersion the next watch resumes from, into @out (size @n). */
void kube_informer_resource_version(struct kube_informer *inf, char *out, size_t n);

#endif
