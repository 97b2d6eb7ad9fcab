/* test_base64.c - base/base64.c: every length and byte round-trips, bad
 * input refused with the output untouched, whitespace skipped, the
 * buffer's cap held. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "buf.h"

START_TEST(test_base64_round_trip)
{
	/* Every length 0..64 of every byte value round-trips. */
	unsigned char in[64];
	struct buf enc = BUF_INIT(1024), dec = BUF_INIT(1024);

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(in); n++) {
		buf_reset(&enc);
		buf_reset(&dec);
		ck_assert_int_eq(base64_encode(in, n, &enc), 0);
		ck_assert_uint_eq(enc.len, (n + 2) / 3 * 4);
		ck_assert_int_eq(base64_decode(enc.data, enc.len, &dec), 0);
		ck_assert_uint_eq(dec.len, n);
		if (n)
			ck_assert_mem_eq(dec.data, in, n);
	}
	buf_reset(&enc);
	ck_assert_int_eq(base64_encode("any carnal pleas", 16, &enc), 0);
	ck_assert_str_eq(buf_str(&enc), "YW55IGNhcm5hbCBwbGVhcw==");
	buf_free(&enc);
	buf_free(&dec);
}
END_TEST

START_TEST(test_base64_rejects)
{
	static const char *const bad[] = {
		"Y", "YW", "YW5", "YW55I", "YW55=", "YW5=5", "Y===", "=YW5", "YW55IGNh*m5h",
		"YW55\x80", "YW==YW55",
	};
	struct buf out = BUF_INIT(1024);

	ck_assert_int_eq(buf_adds(&out, "keep"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(base64_decode(bad[i], strlen(bad[i]), &out) == -EINVAL,
			      "accepted %s", bad[i]);
		ck_assert_str_eq(buf_str(&out), "keep");        /* untouched */
	}
	/* Whitespace anywhere is skipped (wrapped PEM data). */
	buf_reset(&out);
	{
		static const char wrapped[] = "YW5 5\nIG\r\nNh\tcg==\n";

		ck_assert_int_eq(base64_decode(wrapped, strlen(wrapped), &out), 0);
	}
	ck_assert_str_eq(buf_str(&out), "any car");
	/* The buffer's cap holds. */
	buf_free(&out);
	buf_init(&out, 4);
	ck_assert_int_eq(base64_decode("YW55IGNhcg==", 12, &out), -E2BIG);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_base64_round_trip);
	tcase_add_test(tc, test_base64_rejects);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
