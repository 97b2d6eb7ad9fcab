/* throttle.h - the actions' throttles: a global token bucket and a
 * per-owner exponential backoff, on the caller's clock. */
#ifndef PG_THROTTLE_H
#define PG_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

/* Refuses rather than reserves: an action that finds no token is put off,
 * and asks again later. */
struct throttle_bucket {
	double per_ms;          /* refill rate; <= 0: unlimited */
	double burst;
	double tokens;
	int64_t last_ms;
};

/* @per_minute tokens a minute, as many held at most. */
void throttle_bucket_init(struct throttle_bucket *b, double per_minute, int64_t now_ms);
/* Takes a token: 0, or the milliseconds until one will be there (none is
 * taken). */
int64_t throttle_bucket_take(struct throttle_bucket *b, int64_t now_ms);
/* Gives back a token taken for an action that did not happen. */
void throttle_bucket_refund(struct throttle_bucket *b);

/* Owners (controller ownerReference UIDs) whose pods were acted on: the
 * n-th action within a streak waits base * 2^(n-1) after the previous one
 * (capped).  A streak ends after a quiet time of max(10 min, 2 * wait). */
struct throttle_backoff;

struct throttle_backoff *throttle_backoff_new(int64_t base_ms, int64_t cap_ms, size_t max);
struct throttle_backoff *throttle_backoff_free(struct throttle_backoff *ob);
/* Milliseconds until an action on @owner may happen (0: now); *ret_n (may
 * be NULL) gets the actions of the current streak. */
int64_t throttle_backoff_wait(struct throttle_backoff *ob, const char *owner, int64_t now_ms,
			   unsigned *ret_n);
/* An action on @owner happened.  0 or -ENOMEM (then it is not tracked). */
int throttle_backoff_record(struct throttle_backoff *ob, const char *owner, int64_t now_ms);
/* The wait after @n actions in a streak. */
int64_t throttle_backoff_delay(const struct throttle_backoff *ob, unsigned n);
void throttle_backoff_clear(struct throttle_backoff *ob);

#endif
