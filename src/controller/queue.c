/* queue.c - the controller's work queue: keys (pods, namespaces to
 * re-judge) deduplicated while they wait, due now or later, and never
 * handed to two workers at once.  A FIFO for keys due now, a binary heap
 * for keys due later, one hash index over both. */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "ticker.h"
#include "xalloc.h"

enum qstate { Q_READY, Q_DELAYED, Q_ACTIVE };

struct qent {
	struct smap_node node;
	struct qent *fifo_next;
	int64_t due;
	size_t heap_i;
	uint8_t state;          /* enum qstate */
	bool dirty;             /* added again while active */
	int64_t dirty_due;
	char key[];
};

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct smap map;
	struct qent *head, *tail;
	struct qent **heap;
	size_t nheap, capheap;
	size_t max;
	bool shut;
	queue_clock_fn clock;
};

struct queue *queue_new(size_t max, queue_clock_fn clock)
{
	struct queue *q = pg_calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	if (!q)
		return NULL;
	q->max = max;
	q->clock = clock ? clock : ticker_now_ms;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	return q;
}

static void free_node(void *ud, struct smap_node *n)
{
	pg_free(smap_entry(n, struct qent, node));
}

struct queue *queue_free(struct queue *q)
{
	if (!q)
		return NULL;
	smap_clear(&q->map, free_node, NULL);
	pg_free(q->heap);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	pg_free(q);
	return NULL;
}

/* ---- the heap of delayed keys -------------------------------------------- */

static void heap_swap(struct queue *q, size_t i, size_t j)
{
	struct qent *t = q->heap[i];

	q->heap[i] = q->heap[j];
	q->heap[j] = t;
	q->heap[i]->heap_i = i;
	q->heap[j]->heap_i = j;
}

static void heap_up(struct queue *q, size_t i)
{
	while (i > 0 && q->heap[(i - 1) / 2]->due > q->heap[i]->due) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct queue *q, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->nheap && q->heap[l]->due < q->heap[m]->due)
			m = l;
		if (r < q->nheap && q->heap[r]->due < q->heap[m]->due)
			m = r;
		if (m == i)
			return;
		heap_swap(q, i, m);
		i = m;
	}
}

static int heap_push(struct queue *q, struct qent *e)
{
	if (q->nheap == q->capheap) {
		size_t ncap = q->capheap ? q->capheap * 2 : 64;
		struct qent **nh = pg_realloc(q->heap, ncap * sizeof(*nh));

		if (!nh)
			return -ENOMEM;
		q->heap = nh;
		q->capheap = ncap;
	}
	e->heap_i = q->nheap;
	q->heap[q->nheap++] = e;
	heap_up(q, e->heap_i);
	return 0;
}

static void heap_remove(struct queue *q, struct qent *e)
{
	size_t i = e->heap_i;

	q->nheap--;
	if (i != q->nheap) {
		q->heap[i] = q->heap[q->nheap];
		q->heap[i]->heap_i = i;
		heap_down(q, i);
		heap_up(q, i);
	}
}

/* ---- the FIFO of keys due now ------------------------------------------------ */

static void fifo_push(struct queue *q, struct qent *e)
{
	e->state = Q_READY;
	e->fifo_next = NULL;
	if (q->tail)
		q->tail->fifo_next = e;
	else
		q->head = e;
	q->tail = e;
}

static struct qent *fifo_pop(struct queue *q)
{
	struct qent *e = q->head;

	if (e) {
		q->head = e->fifo_next;
		if (!q->head)
			q->tail = NULL;
		e->fifo_next = NULL;
	}
	return e;
}

/* Moves the keys that became due to the FIFO. */
static void promote(struct queue *q, int64_t now)
{
	while (q->nheap && q->heap[0]->due <= now) {
		struct qent *e = q->heap[0];

		heap_remove(q, e);
		fifo_push(q, e);
	}
}

/* Places @e (not in any list) by its due time. */
static int place(struct queue *q, struct qent *e, int64_t now)
{
	if (e->due <= now) {
		fifo_push(q, e);
		return 0;
	}
	e->state = Q_DELAYED;
	return heap_push(q, e);
}

static int add_locked(struct queue *q, const char *key, int64_t due)
{
	struct smap_node *n;
	struct qent *e;
	size_t len;
	int64_t now = q->clock();

	if (q->shut)
		return -ESHUTDOWN;
	n = smap_get(&q->map, key);
	if (n) {
		e = smap_entry(n, struct qent, node);
		switch (e->state) {
		case Q_READY:
			return 1;
		case Q_DELAYED:
			if (due < e->due) {
				heap_remove(q, e);
				e->due = due;
				if (place(q, e, now) < 0)
					return -ENOMEM;     /* not reached: the heap had room */
			}
			return 1;
		default:
			if (!e->dirty || due < e->dirty_due)
				e->dirty_due = due;
			e->dirty = true;
			return 1;
		}
	}
	if (q->max && q->map.n >= q->max)
		return -ENOBUFS;
	len = strlen(key);
	e = pg_calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, len + 1);
	e->node.key = e->key;
	e->due = due;
	if (smap_put(&q->map, &e->node) < 0) {
		pg_free(e);
		return -ENOMEM;
	}
	if (place(q, e, now) < 0) {
		smap_del(&q->map, key);
		pg_free(e);
		return -ENOMEM;
	}
	pthread_cond_signal(&q->cond);
	return 0;
}

int queue_add_after(struct queue *q, const char *key, int64_t delay_ms)
{
	int r;

	pthread_mutex_lock(&q->mu);
	r = add_locked(q, key, q->clock() + (delay_ms > 0 ? delay_ms : 0));
	pthread_mutex_unlock(&q->mu);
	return r;
}

int queue_add(struct queue *q, const char *key)
{
	return queue_add_after(q, key, 0);
}

static int take_locked(struct queue *q, const char **ret_key)
{
	struct qent *e;

	promote(q, q->clock());
	e = fifo_pop(q);
	if (!e)
		return -EAGAIN;
	e->state = Q_ACTIVE;
	e->dirty = false;
	*ret_key = e->key;
	return 0;
}

int queue_try_get(struct queue *q, const char **ret_key)
{
	int r;

	pthread_mutex_lock(&q->mu);
	r = q->shut ? -ESHUTDOWN : take_locked(q, ret_key);
	pthread_mutex_unlock(&q->mu);
	return r;
}

int queue_get(struct queue *q, long timeout_ms, const char **ret_key)
{
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : q->clock() + timeout_ms;
	int r;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		int64_t now, until;
		struct timespec ts;

		if (q->shut) {
			r = -ESHUTDOWN;
			break;
		}
		r = take_locked(q, ret_key);
		if (r == 0)
			break;
		now = q->clock();
		if (now >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		until = deadline;
		if (q->nheap && q->heap[0]->due < until)
			until = q->heap[0]->due;
		if (until == INT64_MAX) {
			pthread_cond_wait(&q->cond, &q->mu);
			continue;
		}
		/* The condition variable runs on the monotonic clock; the
		 * queue's own clock only says how long to wait. */
		ticker_deadline(until - now, &ts);
		pthread_cond_timedwait(&q->cond, &q->mu, &ts);
	}
	pthread_mutex_unlock(&q->mu);
	return r;
}

void queue_done(struct queue *q, const char *key)
{
	struct smap_node *n;
	struct qent *e;

	pthread_mutex_lock(&q->mu);
	n = smap_get(&q->map, key);
	e = n ? smap_entry(n, struct qent, node) : NULL;
	if (e && e->state == Q_ACTIVE) {
		if (e->dirty && !q->shut) {
			e->dirty = false;
			e->due = e->dirty_due;
			if (place(q, e, q->clock()) == 0) {
				pthread_cond_signal(&q->cond);
				pthread_mutex_unlock(&q->mu);
				return;
			}
		}
		smap_del(&q->map, key);
		pg_free(e);
	}
	pthread_mutex_unlock(&q->mu);
}

static bool drop_waiting(void *ud, struct smap_node *n)
{
	struct qent *e = smap_entry(n, struct qent, node);

	if (e->state == Q_ACTIVE) {
		e->dirty = false;
		return false;
	}
	pg_free(e);
	return true;
}

void queue_clear(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->head = q->tail = NULL;
	q->nheap = 0;
	smap_filter(&q->map, drop_waiting, NULL);
	pthread_mutex_unlock(&q->mu);
}

size_t queue_len(struct queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->map.n;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void queue_shutdown(struct queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->shut = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}
