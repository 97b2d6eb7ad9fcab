/* profcache.h - the drift controller's profile cache (profcache.c): the
 * WorkloadProfile informer's decoded value, and the controller's view of
 * each profile, sorted by namespace and name, with what it enforces.
 * Private to src/controller; the caller holds the controller's lock around
 * every call that takes a struct profcache. */
#ifndef PG_PROFCACHE_H
#define PG_PROFCACHE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jval;
struct kube_object;
struct profile;

/* The validation messages of an invalid profile, joined, at most. */
#define PROFCACHE_INVALID_MAX 4096

/* The informer's value for a WorkloadProfile. */
struct profcache_wp {
	struct profile *profile;        /* NULL: this generation is invalid */
	char *invalid;                  /* the validation messages, joined */
	int64_t generation;
	int64_t violations;             /* status.violations */
	char *ready;                    /* status of the Ready condition; NULL */
	char *ready_ltt;                /* its lastTransitionTime */
	uint64_t spec_hash;             /* what the spec says, whatever generation says */
	json_t *status;                 /* the status as the cluster has it; NULL */
	/* status.enforcedGeneration as the cluster has it (0: none). */
	int64_t stored_generation;
	/* Valid and not yet recorded in status: the spec to record (a
	 * reference); NULL otherwise, so a recorded spec is not held twice. */
	json_t *spec;
	size_t spec_bytes;              /* the spec's size, serialized (status_spec_bytes) */
	/* Invalid: the last valid generation read back from status, for a
	 * controller that never saw it valid (profile_restore_enforced). */
	struct profile *restored;
	int64_t restored_generation;
	size_t restored_bytes;
	char *restore_why;              /* why none was, when status said something */
};

/* The controller's view of one profile. */
struct profcache_state {
	int refs;
	bool removed;
	char *ns, *name, *uid;
	struct kube_object *obj;        /* the cached profile (a reference) */
	const struct profcache_wp *wp;
	/* While wp is invalid: the cache entry of this object's last valid
	 * generation (a reference), enforced instead (SPEC §2); NULL when
	 * wp is valid or none was seen this process. */
	struct kube_object *valid_obj;
	int64_t invalid_reported;       /* the invalid generation whose Event is written */
	int64_t invalid_retry_ms;       /* an Event write failed: not before this */
	int64_t matched;
	int64_t counting;               /* matched, while a recount runs */
	int64_t base, added;            /* violations: as found this term, and since */
	bool has_last;
	char *last_pod, *last_reason, *last_message;
	int64_t last_time;
	char *my_ready, *my_ltt;        /* the Ready condition this term wrote */
	bool dirty;
	int64_t flushed_ms;
	char *written;                  /* the last status patch sent */
};

/* The profiles, sorted by namespace, name. */
struct profcache {
	struct profcache_state **v;
	size_t n, cap;
	_Atomic uint64_t gen;           /* moves whenever v changes */
};

/* The informer's decode and free for WorkloadProfiles (kube_decode_fn,
 * kube_free_fn): keeps an invalid profile too, as "invalid with these
 * messages", with the last valid generation restored from its status. */
int profcache_wp_decode(void *ud, const struct jval *obj, void **ret);
void profcache_wp_free(void *ud, void *data);

/* The index of the first profile at or after (@ns, @name). */
size_t profcache_lower(const struct profcache *pc, const char *ns, const char *name);
/* The profile (@ns, @name) (borrowed), NULL when there is none. */
struct profcache_state *profcache_find(const struct profcache *pc, const char *ns, const char *name);
/* Takes over the cached object @o (its own reference is taken): a new
 * profile, or the next generation of one.  0 or -ENOMEM. */
int profcache_upsert(struct profcache *pc, struct kube_object *o);
/* Removes (@ns, @name) when its UID is @uid. */
void profcache_remove(struct profcache *pc, const char *ns, const char *name, const char *uid);
/* Removes the profile at @i (its reference is dropped). */
void profcache_remove_at(struct profcache *pc, size_t i);
/* Drops a reference; the last one frees.  NULL-safe. */
void profcache_unref(struct profcache_state *p);
/* A new term counts from what the cluster shows now. */
void profcache_reset_term(struct profcache_state *p);

/* The profile enforced for @p: its own, or while it is invalid its last
 * valid generation's (seen by this process, else the one recorded in its
 * status), or NULL (never valid: nothing is enforced).  Borrowed. */
struct profile *profcache_applied(const struct profcache_state *p);
/* The generation profcache_applied() comes from, 0 for none. */
int64_t profcache_applied_generation(const struct profcache_state *p);
/* The decoded generation profcache_applied() comes from when it is one
 * this process saw (its spec may still have to be recorded), else NULL. */
const struct profcache_wp *profcache_applied_wp(const struct profcache_state *p);

#endif
