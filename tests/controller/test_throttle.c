/* test_throttle.c - the global token bucket and the per-owner
 * exponential backoff, on times the test chooses. */
#include <check.h>
#include <errno.h>
#include <stdio.h>

#include "throttle.h"

START_TEST(bucket_refuses_then_refills)
{
	struct throttle_bucket b;

	throttle_bucket_init(&b, 2, 0);
	ck_assert_int_eq(throttle_bucket_take(&b, 0), 0);
	ck_assert_int_eq(throttle_bucket_take(&b, 0), 0);
	/* Empty: one token every 30 s at 2 a minute. */
	ck_assert_int_eq(throttle_bucket_take(&b, 0), 30000);
	ck_assert_int_eq(throttle_bucket_take(&b, 10000), 20000);
	ck_assert_int_eq(throttle_bucket_take(&b, 30000), 0);
	ck_assert_int_eq(throttle_bucket_take(&b, 30000), 30000);
	/* A refund for an action that did not happen. */
	throttle_bucket_refund(&b);
	ck_assert_int_eq(throttle_bucket_take(&b, 30000), 0);
	/* Idle for an hour: never more than a minute's worth. */
	ck_assert_int_eq(throttle_bucket_take(&b, 3600000), 0);
	ck_assert_int_eq(throttle_bucket_take(&b, 3600000), 0);
	ck_assert_int_gt(throttle_bucket_take(&b, 3600000), 0);
}
END_TEST

START_TEST(bucket_unlimited)
{
	struct throttle_bucket b;

	throttle_bucket_init(&b, 0, 0);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(throttle_bucket_take(&b, 0), 0);
}
END_TEST

START_TEST(backoff_doubles_per_owner)
{
	struct throttle_backoff *ob = throttle_backoff_new(30000, 3600000, 0);
	unsigned n;

	ck_assert_int_eq(throttle_backoff_wait(ob, "rs-1", 0, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(throttle_backoff_record(ob, "rs-1", 0), 0);
	/* The next action on the same owner waits 30 s after the first... */
	ck_assert_int_eq(throttle_backoff_wait(ob, "rs-1", 1000, &n), 29000);
	ck_assert_uint_eq(n, 1);
	/* ...other owners are not held. */
	ck_assert_int_eq(throttle_backoff_wait(ob, "rs-2", 1000, NULL), 0);
	ck_assert_int_eq(throttle_backoff_wait(ob, "rs-1", 30000, NULL), 0);
	throttle_backoff_record(ob, "rs-1", 30000);
	ck_assert_int_eq(throttle_backoff_wait(ob, "rs-1", 30000, &n), 60000);
	ck_assert_uint_eq(n, 2);
	throttle_backoff_record(ob, "rs-1", 90000);
	ck_assert_int_eq(throttle_backoff_wait(ob, "rs-1", 90000, NULL), 120000);
	/* No owner, no backoff. */
	ck_assert_int_eq(throttle_backoff_record(ob, NULL, 0), 0);
	ck_assert_int_eq(throttle_backoff_wait(ob, NULL, 0, NULL), 0);
	ck_assert_int_eq(throttle_backoff_wait(ob, "", 0, NULL), 0);
	throttle_backoff_free(ob);
}
END_TEST

START_TEST(backoff_caps_and_forgets)
{
	struct throttle_backoff *ob = throttle_backoff_new(30000, 3600000, 0);
	int64_t t = 0;

	ck_assert_int_eq(throttle_backoff_delay(ob, 0), 0);
	ck_assert_int_eq(throttle_backoff_delay(ob, 1), 30000);
	ck_assert_int_eq(throttle_backoff_delay(ob, 2), 60000);
	ck_assert_int_eq(throttle_backoff_delay(ob, 8), 3600000);
	ck_assert_int_eq(throttle_backoff_delay(ob, 1000), 3600000);
	for (int i = 0; i < 20; i++) {
		t += throttle_backoff_wait(ob, "dep", t, NULL);
		throttle_backoff_record(ob, "dep", t);
	}
	ck_assert_int_eq(throttle_backoff_wait(ob, "dep", t, NULL), 3600000);
	/* Quiet for twice the wait: the streak is over. */
	ck_assert_int_eq(throttle_backoff_wait(ob, "dep", t + 7200001, NULL), 0);
	throttle_backoff_record(ob, "dep", t + 7200001);
	ck_assert_int_eq(throttle_backoff_wait(ob, "dep", t + 7200001, NULL), 30000);
	/* Short streaks end after ten quiet minutes. */
	throttle_backoff_record(ob, "once", 0);
	ck_assert_int_eq(throttle_backoff_wait(ob, "once", 600000, NULL), 0);
	ck_assert_int_eq(throttle_backoff_wait(ob, "once", 600001, NULL), 0);
	throttle_backoff_record(ob, "once", 600001);
	ck_assert_int_eq(throttle_backoff_wait(ob, "once", 600001, NULL), 30000);
	throttle_backoff_free(ob);
}
END_TEST

START_TEST(backoff_table_is_bounded)
{
	struct throttle_backoff *ob = throttle_backoff_new(1000, 8000, 4);
	char uid[16];

	for (int i = 0; i < 4; i++) {
		snprintf(uid, sizeof(uid), "o%d", i);
		ck_assert_int_eq(throttle_backoff_record(ob, uid, 0), 0);
	}
	ck_assert_int_eq(throttle_backoff_record(ob, "o4", 1), -ENOMEM);
	/* Long after, the quiet ones make room. */
	ck_assert_int_eq(throttle_backoff_record(ob, "o4", 700000), 0);
	throttle_backoff_clear(ob);
	ck_assert_int_eq(throttle_backoff_wait(ob, "o4", 700000, NULL), 0);
	throttle_backoff_free(ob);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl_throttle");
	TCase *tc = tcase_create("throttle");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, bucket_refuses_then_refills);
	tcase_add_test(tc, bucket_unlimited);
	tcase_add_test(tc, backoff_doubles_per_owner);
	tcase_add_test(tc, backoff_caps_and_forgets);
	tcase_add_test(tc, backoff_table_is_bounded);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
