/* ticker.h - the one clock (monotonic milli- and nanoseconds, the wall
 * clock, deadlines for condition variables on CLOCK_MONOTONIC), and a
 * background thread that wakes now and then until it is stopped: the one
 * shape of the controller's periodic loops (the certificate keeper, the
 * webhook arming), so each writes only its round. */
#ifndef PG_TICKER_H
#define PG_TICKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct ticker {
	pthread_t thread;
	pthread_mutex_t mu;             /* held by the loop except while it works */
	pthread_cond_t cond;            /* on CLOCK_MONOTONIC */
	bool started, stopping;
};

/* The monotonic clock, in milliseconds, and in nanoseconds. */
int64_t ticker_now_ms(void);
int64_t ticker_now_ns(void);
/* Seconds since @t0_ns, a ticker_now_ns() value. */
double ticker_since_s(int64_t t0_ns);
/* The wall clock (CLOCK_REALTIME): for timestamps that leave the process,
 * never for durations. */
void ticker_wall(struct timespec *ret_ts);
/* *@ret_ts = the monotonic time @ms from now, for pthread_cond_timedwait
 * on a condition variable of CLOCK_MONOTONIC. */
void ticker_deadline(int64_t ms, struct timespec *ret_ts);

void ticker_init(struct ticker *t);
/* Runs @fn(@ud) on a thread of its own: 0 or a negative errno. */
int ticker_start(struct ticker *t, void *(*fn)(void *), void *ud);
/* With t->mu held: sleeps up to @ms, or until ticker_stop().  Returns
 * false once the ticker is stopping. */
bool ticker_sleep(struct ticker *t, int64_t ms);
/* Wakes the loop, tells it to stop and joins it; NULL-safe, idempotent. */
void ticker_stop(struct ticker *t);
/* Stops, then frees what ticker_init() made. */
void ticker_destroy(struct ticker *t);

#endif
