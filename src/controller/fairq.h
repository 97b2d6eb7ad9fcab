/* fairq.h - the actions' fair queue: a sub-queue per namespace and
 * class, served by deficit round robin, bounded per namespace and in all. */
#ifndef PG_FAIRQ_H
#define PG_FAIRQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The reports waiting for the actions worker, so that one tenant cannot
 * starve another: a sub-queue per namespace, each bounded on its own, served
 * by deficit round robin (an entry costs the API writes it will make), and
 * two classes, served strictly in order, so Audit-only records never delay
 * an action.  When a bound is reached the newcomer is refused, except that
 * an action, or a record of a namespace holding less than the biggest
 * holder of records, takes the place of that holder's oldest record (a
 * fair share of the room, as longest-queue drop).  Not locked: the caller
 * holds its own lock. */
enum fairq_class { FAIRQ_ACTION, FAIRQ_RECORD, FAIRQ__CLASSES };

struct fairq_ns;

/* Embedded in the caller's entry; the caller sets cls, cost and bytes. */
struct fairq_entry {
	struct fairq_entry *next;
	struct fairq_ns *ns;       /* queued or held: its namespace */
	size_t bytes;           /* its memory, held against the byte bounds */
	uint32_t cost;          /* API writes it will make (1 at least) */
	uint8_t cls;            /* enum fairq_class */
	bool held;              /* counted, not queued (put off for later) */
};

struct fairq_limits {
	size_t ns_max;          /* entries of one namespace, held ones included */
	size_t ns_max_bytes;
	size_t max;             /* entries in all, held ones included */
	size_t max_bytes;
	uint32_t quantum;       /* cost a namespace may spend per turn; 0: 4 */
};

/* Why a push was refused: the bound it met. */
enum fairq_refusal { FAIRQ_OK, FAIRQ_NS_ENTRIES, FAIRQ_NS_BYTES, FAIRQ_ENTRIES, FAIRQ_BYTES };

struct fairq;
typedef void (*fairq_drop_fn)(void *ud, struct fairq_entry *e);

/* NULL on allocation failure. */
struct fairq *fairq_new(const struct fairq_limits *lim);
/* Hands every queued entry to @drop (may be NULL), then frees; held
 * entries are the caller's.  NULL-safe. */
struct fairq *fairq_free(struct fairq *q, fairq_drop_fn drop, void *ud);
/* Queues @e at the tail of namespace @ns (copied).  Room is made by
 * handing displaced records to @drop (counted in *ret_dropped, may be
 * NULL).  0; -ENOBUFS with *ret_why (may be NULL) the bound met; -ENOMEM. */
int fairq_push(struct fairq *q, const char *ns, struct fairq_entry *e, fairq_drop_fn drop, void *ud,
	       size_t *ret_dropped, enum fairq_refusal *ret_why);
/* The next entry to serve, NULL when none is queued. */
struct fairq_entry *fairq_pop(struct fairq *q);
/* Keeps @e (popped) counted against its namespace @ns and the total while
 * the caller holds it for later; never refused, since it was admitted once
 * (so a bound may be passed by the entries in the caller's hands).
 * 0 or -ENOMEM. */
int fairq_hold(struct fairq *q, const char *ns, struct fairq_entry *e);
/* A held @e leaves the queue's counts (the caller is done with it). */
void fairq_unhold(struct fairq *q, struct fairq_entry *e);
/* A held @e is queued again, at its namespace's tail. */
void fairq_requeue(struct fairq *q, struct fairq_entry *e);
/* Takes @e (queued or held) out of the queue and its counts (it was
 * folded into another). */
void fairq_forget(struct fairq *q, struct fairq_entry *e);
/* @e now holds @bytes (a merge grew it): accounted when queued or held. */
void fairq_resize(struct fairq *q, struct fairq_entry *e, size_t bytes);
/* Entries (held ones included), those of namespace @ns, and bytes. */
size_t fairq_len(const struct fairq *q);
size_t fairq_ns_len(const struct fairq *q, const char *ns);
size_t fairq_bytes(const struct fairq *q);
/* The bound @why names, for messages ("per-namespace entries"...). */
const char *fairq_refusal_name(enum fairq_refusal why);

#endif
