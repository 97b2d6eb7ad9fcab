/* test_buf.c - base/buf.c: growing buffers within their cap, JSON strings
 * from any bytes, allocation failures; and every base destructor taking
 * NULL. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "errlist.h"
#include "ticker.h"
#include "xalloc.h"

START_TEST(test_buf_limits)
{
	struct buf b = BUF_INIT(10);

	ck_assert_int_eq(buf_adds(&b, "hello"), 0);
	ck_assert_int_eq(buf_printf(&b, "%d", 12345), 0);
	ck_assert_str_eq(buf_str(&b), "hello12345");
	ck_assert_int_eq(buf_addc(&b, 'x'), -E2BIG);
	ck_assert_str_eq(buf_str(&b), "hello12345");   /* unchanged on error */
	ck_assert_int_eq(buf_printf(&b, "%s", ""), 0);
	buf_free(&b);
	buf_init(&b, 16);
	ck_assert_int_eq(buf_add_json_escaped(&b, "a\"\n\x01"), 0);
	ck_assert_str_eq(buf_str(&b), "a\\\"\\n\\u0001");
	ck_assert_int_eq(buf_add_json_escaped(&b, "0123456789"), -E2BIG);
	ck_assert_str_eq(buf_str(&b), "a\\\"\\n\\u0001");
	buf_free(&b);
	ck_assert_str_eq(buf_str(&b), "");
}
END_TEST

/* Whatever bytes come in, JSON comes out: a name cut mid-character once
 * made the webhook answer with invalid UTF-8 (found by fuzzing). */
START_TEST(test_json_strings)
{
	struct buf b = BUF_INIT(64);

	ck_assert_int_eq(buf_add_json_escaped(&b, "a\"b\\c\x7f\xed\xa0\x80\xf0\x9f\x98\x80\xc0\xaf"), 0);
	/* surrogates and overlong forms are not UTF-8; an emoji is */
	ck_assert_str_eq(buf_str(&b), "a\\\"b\\\\c\\u007f\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				      "\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd");
	buf_reset(&b);
	/* past the buffer's max, nothing half-written stays */
	ck_assert_int_eq(buf_adds(&b, "x"), 0);
	ck_assert_int_eq(buf_add_json_escaped(&b, "0123456789012345678901234567890123456789012345678901234567890123"),
			 -E2BIG);
	ck_assert_str_eq(buf_str(&b), "x");
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_alloc_failure)
{
	struct buf b = BUF_INIT(1 << 20);
	char *s;

	pg_alloc_fail_at(0);
	ck_assert_int_eq(buf_adds(&b, "x"), -ENOMEM);
	pg_alloc_fail_at(-1);
	ck_assert_int_eq(buf_adds(&b, "x"), 0);
	s = buf_steal(&b);
	ck_assert_str_eq(s, "x");
	pg_free(s);
}
END_TEST

/* Destructors take NULL (systemd's rule), so a half-built owner can call
 * them on whatever it never made. */
START_TEST(test_free_null)
{
	buf_free(NULL);
	errlist_free(NULL);
	ck_assert_ptr_null(arena_free(NULL));
	ticker_stop(NULL);
	ticker_destroy(NULL);
	pg_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_buf_limits);
	tcase_add_test(tc, test_json_strings);
	tcase_add_test(tc, test_buf_alloc_failure);
	tcase_add_test(tc, test_free_null);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
