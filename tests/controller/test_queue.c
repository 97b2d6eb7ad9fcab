/* test_queue.c - the controller's work queue: deduplication, keys
 * added while worked on, delayed keys, limits and shutdown, on a clock the
 * test moves by hand. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "queue.h"
#include "ticker.h"

static int64_t fake_now;

static int64_t fake_clock(void)
{
	return fake_now;
}

static const char *take(struct queue *q)
{
	const char *k = NULL;

	ck_assert_int_eq(queue_try_get(q, &k), 0);
	return k;
}

static void assert_empty_now(struct queue *q)
{
	const char *k;

	ck_assert_int_eq(queue_try_get(q, &k), -EAGAIN);
}

START_TEST(dedups_waiting_keys)
{
	struct queue *q = queue_new(0, fake_clock);

	fake_now = 1000;
	ck_assert_int_eq(queue_add(q, "ns/a"), 0);
	ck_assert_int_eq(queue_add(q, "ns/b"), 0);
	ck_assert_int_eq(queue_add(q, "ns/a"), 1);
	ck_assert_uint_eq(queue_len(q), 2);
	ck_assert_str_eq(take(q), "ns/a");
	ck_assert_str_eq(take(q), "ns/b");
	assert_empty_now(q);
	queue_done(q, "ns/a");
	queue_done(q, "ns/b");
	ck_assert_uint_eq(queue_len(q), 0);
	queue_free(q);
}
END_TEST

START_TEST(key_added_while_active_comes_back_once)
{
	struct queue *q = queue_new(0, fake_clock);
	const char *k;

	fake_now = 0;
	queue_add(q, "x");
	k = take(q);
	ck_assert_str_eq(k, "x");
	/* Not handed out again while a worker holds it... */
	ck_assert_int_eq(queue_add(q, "x"), 1);
	ck_assert_int_eq(queue_add(q, "x"), 1);
	assert_empty_now(q);
	/* ...but once after, and only once. */
	queue_done(q, k);
	ck_assert_str_eq(take(q), "x");
	queue_done(q, "x");
	assert_empty_now(q);
	ck_assert_uint_eq(queue_len(q), 0);
	queue_free(q);
}
END_TEST

START_TEST(delayed_keys_wait_their_turn)
{
	struct queue *q = queue_new(0, fake_clock);

	fake_now = 0;
	ck_assert_int_eq(queue_add_after(q, "late", 5000), 0);
	ck_assert_int_eq(queue_add_after(q, "soon", 1000), 0);
	assert_empty_now(q);
	fake_now = 999;
	assert_empty_now(q);
	fake_now = 1000;
	ck_assert_str_eq(take(q), "soon");
	queue_done(q, "soon");
	assert_empty_now(q);
	/* An earlier time wins over a later one. */
	ck_assert_int_eq(queue_add_after(q, "late", 10), 1);
	fake_now = 1010;
	ck_assert_str_eq(take(q), "late");
	queue_done(q, "late");
	/* A later time never delays a key due earlier. */
	queue_add(q, "now");
	ck_assert_int_eq(queue_add_after(q, "now", 60000), 1);
	ck_assert_str_eq(take(q), "now");
	queue_done(q, "now");
	queue_free(q);
}
END_TEST

START_TEST(delayed_readd_while_active)
{
	struct queue *q = queue_new(0, fake_clock);

	fake_now = 0;
	queue_add(q, "k");
	take(q);
	queue_add_after(q, "k", 3000);
	queue_done(q, "k");
	assert_empty_now(q);
	ck_assert_uint_eq(queue_len(q), 1);
	fake_now = 3000;
	ck_assert_str_eq(take(q), "k");
	queue_done(q, "k");
	queue_free(q);
}
END_TEST

START_TEST(fifo_order_and_many_keys)
{
	struct queue *q = queue_new(0, fake_clock);
	char key[32];

	fake_now = 0;
	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "ns/pod-%d", i);
		ck_assert_int_eq(queue_add(q, key), 0);
	}
	for (int i = 0; i < 20000; i += 2) {
		snprintf(key, sizeof(key), "ns/pod-%d", i);
		ck_assert_int_eq(queue_add(q, key), 1);
	}
	ck_assert_uint_eq(queue_len(q), 20000);
	for (int i = 0; i < 20000; i++) {
		const char *k = take(q);

		snprintf(key, sizeof(key), "ns/pod-%d", i);
		ck_assert_str_eq(k, key);
		queue_done(q, k);
	}
	ck_assert_uint_eq(queue_len(q), 0);
	queue_free(q);
}
END_TEST

START_TEST(limit_clear_and_shutdown)
{
	struct queue *q = queue_new(2, fake_clock);
	const char *k;

	fake_now = 0;
	ck_assert_int_eq(queue_add(q, "a"), 0);
	ck_assert_int_eq(queue_add_after(q, "b", 100), 0);
	ck_assert_int_eq(queue_add(q, "c"), -ENOBUFS);
	k = take(q);
	ck_assert_str_eq(k, "a");
	queue_clear(q);
	/* The key in hand survives a clear; "b" does not. */
	ck_assert_uint_eq(queue_len(q), 1);
	fake_now = 200;
	assert_empty_now(q);
	queue_done(q, k);
	ck_assert_uint_eq(queue_len(q), 0);
	queue_shutdown(q);
	ck_assert_int_eq(queue_add(q, "d"), -ESHUTDOWN);
	ck_assert_int_eq(queue_get(q, 10, &k), -ESHUTDOWN);
	queue_free(q);
}
END_TEST

static void *adder(void *arg)
{
	usleep(50000);
	queue_add(arg, "woken");
	return NULL;
}

START_TEST(blocking_get_wakes_and_times_out)
{
	struct queue *q = queue_new(0, NULL);
	const char *k;
	pthread_t t;
	int64_t t0;

	t0 = ticker_now_ms();
	ck_assert_int_eq(queue_get(q, 60, &k), -ETIMEDOUT);
	ck_assert_int_ge(ticker_now_ms() - t0, 55);
	pthread_create(&t, NULL, adder, q);
	ck_assert_int_eq(queue_get(q, 5000, &k), 0);
	ck_assert_str_eq(k, "woken");
	queue_done(q, k);
	pthread_join(t, NULL);
	/* A delayed key wakes a waiter when due. */
	queue_add_after(q, "later", 80);
	t0 = ticker_now_ms();
	ck_assert_int_eq(queue_get(q, -1, &k), 0);
	ck_assert_int_ge(ticker_now_ms() - t0, 70);
	queue_done(q, k);
	queue_free(q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl_queue");
	TCase *tc = tcase_create("queue");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, dedups_waiting_keys);
	tcase_add_test(tc, key_added_while_active_comes_back_once);
	tcase_add_test(tc, delayed_keys_wait_their_turn);
	tcase_add_test(tc, delayed_readd_while_active);
	tcase_add_test(tc, fifo_order_and_many_keys);
	tcase_add_test(tc, limit_clear_and_shutdown);
	tcase_add_test(tc, blocking_get_wakes_and_times_out);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
