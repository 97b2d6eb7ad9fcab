/* test_ticker.c - base/ticker.c: the periodic loops' thread and the one
 * clock. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "ticker.h"

/* The periodic loops' thread: it runs, sleeps its interval, and a stop
 * wakes it at once rather than after the interval. */
struct tick_count {
	struct ticker t;
	int rounds;
};

static void *tick_main(void *ud)
{
	struct tick_count *tc = ud;

	pthread_mutex_lock(&tc->t.mu);
	while (!tc->t.stopping) {
		tc->rounds++;
		ticker_sleep(&tc->t, 60000);
	}
	pthread_mutex_unlock(&tc->t.mu);
	return NULL;
}

START_TEST(test_ticker)
{
	struct tick_count tc = { .rounds = 0 };
	struct timespec ts, now;
	int64_t t0;

	ticker_deadline(1999, &ts);
	clock_gettime(CLOCK_MONOTONIC, &now);
	ck_assert(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
	ck_assert(ts.tv_sec >= now.tv_sec + 1 && ts.tv_sec <= now.tv_sec + 3);

	ticker_init(&tc.t);
	ticker_stop(&tc.t);                     /* not started: nothing to join */
	ck_assert_int_eq(ticker_start(&tc.t, tick_main, &tc), 0);
	while (1) {
		pthread_mutex_lock(&tc.t.mu);
		if (tc.rounds > 0) {
			pthread_mutex_unlock(&tc.t.mu);
			break;
		}
		pthread_mutex_unlock(&tc.t.mu);
	}
	t0 = ticker_now_ms();
	ticker_stop(&tc.t);                     /* the 60 s sleep ends now */
	ck_assert_int_lt(ticker_now_ms() - t0, 30000);
	ck_assert_int_eq(tc.rounds, 1);
	ck_assert(!ticker_sleep(&tc.t, 1));     /* stopping: no wait */
	ticker_destroy(&tc.t);
	ticker_destroy(NULL);
}
END_TEST

/* One clock in three units: the monotonic milli- and nanoseconds are the
 * same clock, and the wall clock is time()'s. */
START_TEST(test_clock)
{
	int64_t ms0 = ticker_now_ms(), ns = ticker_now_ns(), ms1 = ticker_now_ms();
	struct timespec wall;
	time_t t0 = time(NULL), t1;

	ck_assert_int_le(ms0, ns / 1000000);
	ck_assert_int_ge(ms1, ns / 1000000);
	ck_assert_int_le(ns, ticker_now_ns());
	ticker_wall(&wall);
	t1 = time(NULL);
	ck_assert(wall.tv_nsec >= 0 && wall.tv_nsec < 1000000000L);
	ck_assert_int_ge(wall.tv_sec, t0 - 1);
	ck_assert_int_le(wall.tv_sec, t1 + 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ticker");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_ticker);
	tcase_add_test(tc, test_clock);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
