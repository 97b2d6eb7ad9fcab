/* ticker.c - the clock and the periodic background thread of
 * include/ticker.h: one monotonic condition variable, one stop flag, one
 * join. */
#include "ticker.h"

int64_t ticker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ticker_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double ticker_since_s(int64_t t0_ns)
{
	return (double)(ticker_now_ns() - t0_ns) / 1e9;
}

void ticker_wall(struct timespec *ret_ts)
{
	clock_gettime(CLOCK_REALTIME, ret_ts);
}

void ticker_deadline(int64_t ms, struct timespec *ret_ts)
{
	clock_gettime(CLOCK_MONOTONIC, ret_ts);
	ret_ts->tv_sec += (time_t)(ms / 1000);
	ret_ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ret_ts->tv_nsec >= 1000000000L) {
		ret_ts->tv_sec++;
		ret_ts->tv_nsec -= 1000000000L;
	}
}

void ticker_init(struct ticker *t)
{
	pthread_condattr_t ca;

	t->started = t->stopping = false;
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
}

int ticker_start(struct ticker *t, void *(*fn)(void *), void *ud)
{
	int r = -pthread_create(&t->thread, NULL, fn, ud);

	t->started = r == 0;
	return r;
}

bool ticker_sleep(struct ticker *t, int64_t ms)
{
	struct timespec ts;

	if (t->stopping)
		return false;
	ticker_deadline(ms, &ts);
	pthread_cond_timedwait(&t->cond, &t->mu, &ts);
	return !t->stopping;
}

void ticker_stop(struct ticker *t)
{
	if (!t || !t->started)
		return;
	pthread_mutex_lock(&t->mu);
	t->stopping = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	t->started = false;
}

void ticker_destroy(struct ticker *t)
{
	if (!t)
		return;
	ticker_stop(t);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cond);
}
