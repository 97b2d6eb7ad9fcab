/* fairq.c - the actions' fair queue: a FIFO per namespace and class,
 * served by deficit round robin (Shreedhar and Varghese), bounded per
 * namespace and in all, so one tenant's flood of findings waits behind its
 * own. */
#include "fairq.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "hash.h"
#include "xalloc.h"

struct fairq_ns {
	struct smap_node node;
	struct fairq_entry *head[FAIRQ__CLASSES], *tail[FAIRQ__CLASSES];
	struct fairq_ns *ring_next[FAIRQ__CLASSES], *ring_prev[FAIRQ__CLASSES];
	int64_t deficit[FAIRQ__CLASSES];
	size_t n, bytes;                /* both classes, held ones included */
	size_t nrec, rec_bytes;         /* queued records: what others may displace */
	char name[];
};

struct fairq {
	struct fairq_limits lim;
	struct smap ns;                 /* name -> fairq_ns, while it holds entries */
	struct fairq_ns *cur[FAIRQ__CLASSES]; /* the ring of namespaces with entries */
	size_t n, bytes;                /* held ones included */
};

struct fairq *fairq_new(const struct fairq_limits *lim)
{
	struct fairq *q = pg_calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->lim = *lim;
	if (!q->lim.quantum)
		q->lim.quantum = 4;
	return q;
}

/* Unlinks @ns from the ring of @cls; the turn passes to the next one. */
static void ring_remove(struct fairq *q, int cls, struct fairq_ns *ns)
{
	struct fairq_ns *next = ns->ring_next[cls];

	ns->deficit[cls] = 0;
	if (next == ns) {
		q->cur[cls] = NULL;
	} else {
		ns->ring_prev[cls]->ring_next[cls] = next;
		next->ring_prev[cls] = ns->ring_prev[cls];
		if (q->cur[cls] == ns) {
			q->cur[cls] = next;
			next->deficit[cls] += q->lim.quantum;
		}
	}
	ns->ring_next[cls] = ns->ring_prev[cls] = NULL;
}

/* Links @ns into the ring of @cls, last in the current round. */
static void ring_add(struct fairq *q, int cls, struct fairq_ns *ns)
{
	struct fairq_ns *cur = q->cur[cls];

	if (!cur) {
		ns->ring_next[cls] = ns->ring_prev[cls] = ns;
		ns->deficit[cls] = q->lim.quantum;
		q->cur[cls] = ns;
		return;
	}
	ns->deficit[cls] = 0;
	ns->ring_next[cls] = cur;
	ns->ring_prev[cls] = cur->ring_prev[cls];
	cur->ring_prev[cls]->ring_next[cls] = ns;
	cur->ring_prev[cls] = ns;
}

/* Takes @e out of its namespace's and the queue's counts; frees the
 * namespace when it is left empty. */
static void uncount(struct fairq *q, struct fairq_entry *e)
{
	struct fairq_ns *ns = e->ns;

	e->ns = NULL;
	e->held = false;
	ns->n--;
	ns->bytes -= e->bytes;
	q->n--;
	q->bytes -= e->bytes;
	if (!ns->n) {
		smap_del(&q->ns, ns->name);
		pg_free(ns);
	}
}

/* Unlinks the head of @ns's @cls list (still counted). */
static struct fairq_entry *unlink_head(struct fairq *q, struct fairq_ns *ns, int cls)
{
	struct fairq_entry *e = ns->head[cls];

	ns->head[cls] = e->next;
	if (!ns->head[cls]) {
		ns->tail[cls] = NULL;
		ring_remove(q, cls, ns);
	}
	e->next = NULL;
	if (cls == FAIRQ_RECORD) {
		ns->nrec--;
		ns->rec_bytes -= e->bytes;
	}
	return e;
}

static struct fairq_entry *ns_shift(struct fairq *q, struct fairq_ns *ns, int cls)
{
	struct fairq_entry *e = unlink_head(q, ns, cls);

	uncount(q, e);
	return e;
}

/* Links @e (counted in @ns) at the tail of its class. */
static void link_tail(struct fairq *q, struct fairq_ns *ns, struct fairq_entry *e)
{
	e->next = NULL;
	if (ns->tail[e->cls]) {
		ns->tail[e->cls]->next = e;
	} else {
		ns->head[e->cls] = e;
		ring_add(q, e->cls, ns);
	}
	ns->tail[e->cls] = e;
	if (e->cls == FAIRQ_RECORD) {
		ns->nrec++;
		ns->rec_bytes += e->bytes;
	}
}

/* The namespace named @name, made when @make; NULL when none (or out of
 * memory). */
static struct fairq_ns *ns_get(struct fairq *q, const char *name, bool make)
{
	struct smap_node *sn = smap_get(&q->ns, name);
	struct fairq_ns *ns;
	size_t len;

	if (sn || !make)
		return sn ? smap_entry(sn, struct fairq_ns, node) : NULL;
	len = strlen(name);
	ns = pg_calloc(1, sizeof(*ns) + len + 1);
	if (!ns)
		return NULL;
	memcpy(ns->name, name, len + 1);
	ns->node.key = ns->name;
	if (smap_put(&q->ns, &ns->node) < 0) {
		pg_free(ns);
		return NULL;
	}
	return ns;
}

static void count_in(struct fairq *q, struct fairq_ns *ns, struct fairq_entry *e)
{
	e->ns = ns;
	ns->n++;
	ns->bytes += e->bytes;
	q->n++;
	q->bytes += e->bytes;
}

/* The namespace holding the most records, by entries or by bytes. */
static struct fairq_ns *biggest_holder(struct fairq *q, bool by_bytes)
{
	struct fairq_ns *best = NULL;

	for (size_t i = 0; i < q->ns.cap; i++) {
		for (struct smap_node *n = q->ns.b[i]; n; n = n->next) {
			struct fairq_ns *ns = smap_entry(n, struct fairq_ns, node);
			size_t v = by_bytes ? ns->rec_bytes : ns->nrec;

			if (v && (!best || v > (by_bytes ? best->rec_bytes : best->nrec)))
				best = ns;
		}
	}
	return best;
}

static void drop_oldest_record(struct fairq *q, struct fairq_ns *ns, fairq_drop_fn drop, void *ud,
			       size_t *ndropped)
{
	struct fairq_entry *e = ns_shift(q, ns, FAIRQ_RECORD);

	(*ndropped)++;
	if (drop)
		drop(ud, e);
}

int fairq_push(struct fairq *q, const char *nsname, struct fairq_entry *e, fairq_drop_fn drop, void *ud,
	       size_t *ret_dropped, enum fairq_refusal *ret_why)
{
	struct smap_node *sn = smap_get(&q->ns, nsname);
	struct fairq_ns *ns = sn ? smap_entry(sn, struct fairq_ns, node) : NULL;
	enum fairq_refusal why = FAIRQ_OK;
	size_t dropped = 0, have_n = ns ? ns->n : 0, have_bytes = ns ? ns->bytes : 0;
	bool action = e->cls == FAIRQ_ACTION;

	if (e->cost < 1)
		e->cost = 1;
	/* The namespace's own bounds: an action displaces its own records,
	 * a record is refused. */
	while (!why && (have_n + 1 > q->lim.ns_max || have_bytes + e->bytes > q->lim.ns_max_bytes)) {
		if (action && ns && ns->nrec) {
			drop_oldest_record(q, ns, drop, ud, &dropped);
			ns = smap_get(&q->ns, nsname) ? ns : NULL;
			have_n = ns ? ns->n : 0;
			have_bytes = ns ? ns->bytes : 0;
			continue;
		}
		why = have_n + 1 > q->lim.ns_max ? FAIRQ_NS_ENTRIES : FAIRQ_NS_BYTES;
	}
	/* The total: the biggest holder of records gives room to an action,
	 * or to a namespace holding less than it. */
	while (!why && (q->n + 1 > q->lim.max || q->bytes + e->bytes > q->lim.max_bytes)) {
		bool by_bytes = !(q->n + 1 > q->lim.max);
		struct fairq_ns *v = biggest_holder(q, by_bytes);

		if (v && v != ns &&
		    (action || (by_bytes ? have_bytes < v->bytes : have_n < v->n))) {
			drop_oldest_record(q, v, drop, ud, &dropped);
			continue;
		}
		if (v && v == ns && action) {
			drop_oldest_record(q, v, drop, ud, &dropped);
			ns = smap_get(&q->ns, nsname) ? ns : NULL;
			have_n = ns ? ns->n : 0;
			have_bytes = ns ? ns->bytes : 0;
			continue;
		}
		why = by_bytes ? FAIRQ_BYTES : FAIRQ_ENTRIES;
	}
	if (ret_dropped)
		*ret_dropped = dropped;
	if (ret_why)
		*ret_why = why;
	if (why)
		return -ENOBUFS;
	ns = ns_get(q, nsname, true);
	if (!ns)
		return -ENOMEM;
	e->held = false;
	count_in(q, ns, e);
	link_tail(q, ns, e);
	return 0;
}

struct fairq_entry *fairq_pop(struct fairq *q)
{
	for (int cls = 0; cls < FAIRQ__CLASSES; cls++) {
		struct fairq_ns *ns;

		/* Each turn adds a quantum, so this ends within
		 * cost / quantum rounds. */
		while ((ns = q->cur[cls])) {
			struct fairq_entry *e = ns->head[cls];

			if ((int64_t)e->cost <= ns->deficit[cls]) {
				ns->deficit[cls] -= e->cost;
				return ns_shift(q, ns, cls);
			}
			q->cur[cls] = ns->ring_next[cls];
			q->cur[cls]->deficit[cls] += q->lim.quantum;
		}
	}
	return NULL;
}

int fairq_hold(struct fairq *q, const char *nsname, struct fairq_entry *e)
{
	struct fairq_ns *ns = ns_get(q, nsname, true);

	if (!ns)
		return -ENOMEM;
	count_in(q, ns, e);
	e->held = true;
	return 0;
}

void fairq_unhold(struct fairq *q, struct fairq_entry *e)
{
	if (e->ns && e->held)
		uncount(q, e);
}

void fairq_requeue(struct fairq *q, struct fairq_entry *e)
{
	if (!e->ns || !e->held)
		return;
	e->held = false;
	link_tail(q, e->ns, e);
}

void fairq_forget(struct fairq *q, struct fairq_entry *e)
{
	struct fairq_ns *ns = e->ns;
	struct fairq_entry **pp, *prev = NULL;

	if (!ns)
		return;
	if (!e->held) {
		for (pp = &ns->head[e->cls]; *pp && *pp != e; pp = &(*pp)->next)
			prev = *pp;
		if (!*pp)
			return;
		*pp = e->next;
		if (ns->tail[e->cls] == e)
			ns->tail[e->cls] = prev;
		if (!ns->head[e->cls])
			ring_remove(q, e->cls, ns);
		if (e->cls == FAIRQ_RECORD) {
			ns->nrec--;
			ns->rec_bytes -= e->bytes;
		}
		e->next = NULL;
	}
	uncount(q, e);
}

void fairq_resize(struct fairq *q, struct fairq_entry *e, size_t bytes)
{
	struct fairq_ns *ns = e->ns;

	if (!ns) {
		e->bytes = bytes;
		return;
	}
	ns->bytes = ns->bytes - e->bytes + bytes;
	if (e->cls == FAIRQ_RECORD && !e->held)
		ns->rec_bytes = ns->rec_bytes - e->bytes + bytes;
	q->bytes = q->bytes - e->bytes + bytes;
	e->bytes = bytes;
}

size_t fairq_len(const struct fairq *q)
{
	return q->n;
}

size_t fairq_ns_len(const struct fairq *q, const char *ns)
{
	struct smap_node *n = smap_get(&q->ns, ns);

	return n ? smap_entry(n, struct fairq_ns, node)->n : 0;
}

size_t fairq_bytes(const struct fairq *q)
{
	return q->bytes;
}

const char *fairq_refusal_name(enum fairq_refusal why)
{
	switch (why) {
	case FAIRQ_NS_ENTRIES:
		return "per-namespace entries";
	case FAIRQ_NS_BYTES:
		return "per-namespace bytes";
	case FAIRQ_ENTRIES:
		return "total entries";
	case FAIRQ_BYTES:
		return "total bytes";
	default:
		return "none";
	}
}

struct fairq *fairq_free(struct fairq *q, fairq_drop_fn drop, void *ud)
{
	struct fairq_entry *e;

	if (!q)
		return NULL;
	while ((e = fairq_pop(q)))
		if (drop)
			drop(ud, e);
	smap_clear(&q->ns, NULL, NULL);
	pg_free(q);
	return NULL;
}
