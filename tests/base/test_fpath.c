/* test_fpath.c - base/fpath.c: field paths built and popped. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fpath.h"

START_TEST(test_fpath)
{
	struct fpath p;
	size_t m;

	fpath_init(&p, "spec");
	m = fpath_key(&p, "containers");
	fpath_index(&p, 3);
	fpath_key(&p, "image");
	ck_assert_str_eq(fpath_str(&p), "spec.containers[3].image");
	fpath_pop(&p, m);
	ck_assert_str_eq(fpath_str(&p), "spec");
	fpath_init(&p, NULL);
	fpath_key(&p, "a");
	ck_assert_str_eq(fpath_str(&p), "a");
	for (int i = 0; i < 1000; i++)
		fpath_key(&p, "long-component");
	ck_assert_uint_lt(strlen(fpath_str(&p)), FPATH_MAX);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fpath");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_fpath);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
