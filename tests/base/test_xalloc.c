/* test_xalloc.c - the one allocator: growing an array (pg_grow) at and
 * past its capacity, its first size, an overflowing size refused, and an
 * allocation failure leaving the array as it was. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "xalloc.h"

START_TEST(test_grow)
{
	size_t cap = 0;
	int *v = NULL, *w;

	v = pg_grow(v, &cap, 0, sizeof(*v), 4);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(cap, 4);
	/* room left: the same array */
	ck_assert_ptr_eq(pg_grow(v, &cap, 3, sizeof(*v), 4), v);
	ck_assert_uint_eq(cap, 4);
	/* full: doubled */
	v[3] = 7;
	v = pg_grow(v, &cap, 4, sizeof(*v), 4);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(cap, 8);
	ck_assert_int_eq(v[3], 7);
	/* a size that would overflow is refused, nothing changed */
	w = pg_grow(v, &cap, 8, SIZE_MAX / 8, 4);
	ck_assert_ptr_null(w);
	ck_assert_uint_eq(cap, 8);
	/* an allocation failure: NULL, the array and its capacity kept */
	pg_alloc_fail_at(0);
	w = pg_grow(v, &cap, 8, sizeof(*v), 4);
	pg_alloc_fail_at(-1);
	ck_assert_ptr_null(w);
	ck_assert_uint_eq(cap, 8);
	ck_assert_int_eq(v[3], 7);
	pg_free(v);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("xalloc");
	TCase *tc = tcase_create("xalloc");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_grow);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
