/* queue.h - the controller's deduplicating work queue with delayed adds.
 * The time comes from the caller's clock, so the Check suite drives it
 * exactly. */
#ifndef PG_QUEUE_H
#define PG_QUEUE_H

#include <stddef.h>
#include <stdint.h>

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
/* Wakes every waiter; later adds and gets return -ESHUTDOWN. */
void queue_shutdown(struct queue *q);

#endif
