/* test_errlist.c - base/errlist.c: the list of messages and its cap. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"

START_TEST(test_errlist_cap)
{
	struct errlist e;

	errlist_init(&e, 2);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(errlist_add(&e, "e%d", i), 0);
	ck_assert_uint_eq(e.n, 2);
	ck_assert_uint_eq(errlist_count(&e), 5);
	ck_assert_str_eq(e.msgs[1], "e1");
	errlist_free(&e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("errlist");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_errlist_cap);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
