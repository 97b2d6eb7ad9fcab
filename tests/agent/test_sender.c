/* test_sender.c - agent/sender.c's backoff schedule. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sender.h"

START_TEST(backoff_schedule)
{
	/* doubles from the minimum to the cap; jitter takes off at most half */
	unsigned prev_max = 0;

	for (unsigned f = 1; f <= 20; f++) {
		unsigned nominal = 500u << (f - 1 < 10 ? f - 1 : 10);
		unsigned lo = UINT32_MAX, hi = 0;

		if (nominal > 30000 || f > 10)
			nominal = 30000;
		for (uint64_t rnd = 0; rnd < 2000; rnd += 7) {
			unsigned d = sender_backoff_ms(f, 500, 30000, rnd * 0x9e3779b97f4a7c15ULL);

			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		ck_assert_uint_le(hi, nominal);
		ck_assert_uint_ge(lo, nominal / 2);
		ck_assert_uint_lt(lo, hi);              /* it is jittered */
		ck_assert_uint_ge(hi, prev_max / 2);
		prev_max = hi;
	}
	ck_assert_uint_eq(sender_backoff_ms(1, 0, 0, 12345), 0);
	ck_assert_uint_le(sender_backoff_ms(UINT32_MAX, 500, 30000, 1), 30000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sender");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, backoff_schedule);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
