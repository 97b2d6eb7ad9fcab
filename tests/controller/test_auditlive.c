/* test_auditlive.c - the audit source's live span: an outage ends it, a
 * restart continues it only when the stored confirmation is within a
 * window, and the store is written once per span start and at most once
 * per window while live. */
#include <check.h>

#include "auditlive.h"

#define T0 1795000000
#define W 600

START_TEST(batches_make_a_span_and_an_outage_ends_it)
{
	struct auditlive l;

	auditlive_init(&l, W);
	ck_assert_int_eq(auditlive_since(&l, T0), -1);
	auditlive_batch(&l, T0);
	ck_assert_int_eq(auditlive_since(&l, T0), T0);
	auditlive_batch(&l, T0 + W);
	auditlive_batch(&l, T0 + 2 * W);
	ck_assert_int_eq(auditlive_since(&l, T0 + 3 * W), T0);
	/* Silent for longer than the window: not live, and the next batch
	 * starts a new span. */
	ck_assert_int_eq(auditlive_since(&l, T0 + 3 * W + 1), -1);
	auditlive_batch(&l, T0 + 5 * W);
	ck_assert_int_eq(auditlive_since(&l, T0 + 5 * W), T0 + 5 * W);
}
END_TEST

START_TEST(saved_once_per_span_and_window)
{
	struct auditlive l;
	int writes = 0;

	auditlive_init(&l, W);
	ck_assert(!auditlive_due(&l, T0));
	for (int64_t t = T0; t < T0 + 10 * W; t += 5) {
		auditlive_batch(&l, t);
		if (auditlive_due(&l, t)) {
			auditlive_saved(&l, auditlive_since(&l, t), t);
			writes++;
		}
	}
	/* The start, then one per window. */
	ck_assert_int_eq(writes, 10);
	/* Not live: nothing to write. */
	ck_assert(!auditlive_due(&l, T0 + 12 * W));
	/* A new span is written at once. */
	auditlive_batch(&l, T0 + 12 * W);
	ck_assert(auditlive_due(&l, T0 + 12 * W));
}
END_TEST

START_TEST(restore_continues_only_a_recent_span)
{
	struct auditlive l;

	/* Confirmed a minute before the restart: the span goes on, and
	 * nothing needs writing until its window passes. */
	auditlive_init(&l, W);
	auditlive_restore(&l, T0 - 86400, T0 - 60, T0);
	ck_assert_int_eq(auditlive_since(&l, T0), T0 - 86400);
	ck_assert(!auditlive_due(&l, T0));
	auditlive_batch(&l, T0 + 30);
	ck_assert_int_eq(auditlive_since(&l, T0 + 30), T0 - 86400);
	ck_assert(auditlive_due(&l, T0 + W - 60));

	/* Confirmed longer ago than the window: an outage might have been
	 * missed; nothing is live until a batch comes, and the span starts
	 * then. */
	auditlive_init(&l, W);
	auditlive_restore(&l, T0 - 86400, T0 - W - 1, T0);
	ck_assert_int_eq(auditlive_since(&l, T0), -1);
	auditlive_batch(&l, T0 + 5);
	ck_assert_int_eq(auditlive_since(&l, T0 + 5), T0 + 5);

	/* Batches heard before the term's restore join a stored span they
	 * continue... */
	auditlive_init(&l, W);
	auditlive_batch(&l, T0);
	auditlive_restore(&l, T0 - 86400, T0 - 100, T0 + 1);
	ck_assert_int_eq(auditlive_since(&l, T0 + 1), T0 - 86400);
	/* ...but not one that ended before they began. */
	auditlive_init(&l, W);
	auditlive_batch(&l, T0);
	auditlive_restore(&l, T0 - 86400, T0 - W - 100, T0 + 1);
	ck_assert_int_eq(auditlive_since(&l, T0 + 1), T0);
	/* Nonsense (a confirmation in the future, before its start, or
	 * nothing) restores nothing. */
	auditlive_init(&l, W);
	auditlive_restore(&l, T0 - 10, T0 + 100, T0);
	auditlive_restore(&l, T0 - 10, T0 - 20, T0);
	auditlive_restore(&l, -1, -1, T0);
	ck_assert_int_eq(auditlive_since(&l, T0), -1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("auditlive");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, batches_make_a_span_and_an_outage_ends_it);
	tcase_add_test(tc, saved_once_per_span_and_window);
	tcase_add_test(tc, restore_continues_only_a_recent_span);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
