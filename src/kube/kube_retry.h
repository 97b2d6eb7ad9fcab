/* kube_retry.h - the client's pacing arithmetic, apart from any clock or
 * socket so it can be tested exactly: a QPS/burst token bucket, jittered
 * exponential backoff, and Retry-After. */
#ifndef PG_KUBE_RETRY_H
#define PG_KUBE_RETRY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* A token bucket (client-go's default is 5 QPS, burst 10).  Not locked:
 * the caller holds its own lock around it. */
struct kube_bucket {
	double rate;            /* tokens per second; <= 0: unlimited */
	double burst;           /* the most tokens held */
	double tokens;          /* may go negative: reservations made ahead */
	int64_t last_ns;        /* clock of the last refill */
};

void kube_bucket_init(struct kube_bucket *b, double qps, unsigned burst, int64_t now_ns);
/* Takes one token and returns how long the caller must wait before using
 * it (0: at once).  Reservations queue in order, like golang.org/x/time/
 * rate's Reserve: a caller never loses its place. */
int64_t kube_bucket_reserve(struct kube_bucket *b, int64_t now_ns);

/* Backoff before retry number @attempt (0 for the first retry):
 * d = min(cap, base * 2^attempt), then a uniformly random value in
 * [d/2, d] drawn from @rnd, so a fleet of clients does not retry in step.
 * Milliseconds. */
int64_t kube_backoff_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms, uint64_t rnd);

/* Whether a watch that ended, and is to be resumed from where it got to
 * (not relisted), made progress, so the next one starts at once and the
 * backoff starts over.  A watch that delivered anything (@delivered events
 * or bookmarks) did, however it ended: the server's timeout, a proxy's
 * reset, a cut without the terminating chunk (@err set).  So did a quiet
 * one that ended cleanly (@err 0) after running KUBE_WATCH_QUIET_OK_MS or
 * more.  Only a watch that failed, or ended at once, before delivering
 * anything backs off: that is what a server refusing watches looks like. */
#define KUBE_WATCH_QUIET_OK_MS 500
bool kube_watch_progressed(int err, uint64_t delivered, int64_t ran_ms);

/* Parses a Retry-After value: delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT", counted from @now, never negative).
 * 0 with *ret_seconds, or -EINVAL. */
int kube_retry_after_parse(const char *value, time_t now, int64_t *ret_seconds);

#endif
