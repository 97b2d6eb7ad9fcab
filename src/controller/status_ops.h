/* status_ops.h - the controller's writes of WorkloadProfile status
 * (status_ops.c): the patches due, taken from the profile cache, and the
 * request that sends one.  Private to src/controller. */
#ifndef PG_STATUS_OPS_H
#define PG_STATUS_OPS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kube_client;
struct kube_error;
struct profcache;

/* One status patch due, with the copies it is matched back by. */
struct status_ops_patch {
	char *ns, *name, *uid, *text, *ready, *ltt;
	json_t *status;
	int rank;                       /* 0 violations, 1 the Ready condition, 2 counts */
	size_t order;
};

/* The status patches due at @now_ms (monotonic; @wall_sec epoch seconds)
 * for the dirty profiles of @pc not flushed within @interval_ms (@all: the
 * interval aside), in cache order; a profile taken is no longer dirty.
 * Lock held.  The array is new (pg_free() it after status_ops_patch_free()
 * of each entry), NULL when none; the count is returned. */
size_t status_ops_collect(struct profcache *pc, int64_t now_ms, int64_t wall_sec, bool all,
			  int64_t interval_ms, struct status_ops_patch **ret);
/* Most important first: new violations, the Ready condition, counts. */
void status_ops_sort(struct status_ops_patch *v, size_t n);
/* A merge patch of the profile's /status that gives up when @cancel is set
 * (the shutdown deadline), within about a second.  0 or -errno. */
int status_ops_write(struct kube_client *client, atomic_bool *cancel, const char *ns,
		     const char *name, json_t *status, struct kube_error *err);
/* Records the outcome @r of writing @p in its profile, if that is still
 * the same one: written (the texts are taken over), or dirty again unless
 * it is gone (-ENOENT).  Lock held. */
void status_ops_settle(struct profcache *pc, struct status_ops_patch *p, int r);
/* Frees what @p holds, not @p.  */
void status_ops_patch_free(struct status_ops_patch *p);

#endif
