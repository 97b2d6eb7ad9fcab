/* test_arena.c - base/arena.c: the bump allocator. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

START_TEST(test_arena)
{
	struct arena *a = arena_new(64);
	char *big;

	ck_assert_ptr_nonnull(a);
	for (int i = 0; i < 100; i++) {
		long *p = arena_alloc(a, sizeof(long));

		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(*p, 0);
		ck_assert_uint_eq((uintptr_t)p % _Alignof(long), 0);
	}
	big = arena_alloc(a, 10000);
	ck_assert_ptr_nonnull(big);
	memset(big, 1, 10000);
	ck_assert_str_eq(arena_strndup(a, "abcdef", 3), "abc");
	ck_assert_uint_gt(arena_footprint(a), 10000);
	ck_assert_ptr_null(arena_free(a));
	ck_assert_ptr_null(arena_free(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_arena);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
