/* test_rfc3339.c - base/rfc3339.c: the one RFC 3339 reader and writer
 * (metav1.Time and MicroTime, telemetry record times). */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rfc3339.h"

/* Moved from the kube_util suite with its assertions. */
START_TEST(test_times)
{
	struct timespec ts = { 1700000000, 123456789 };
	char out[RFC3339_MAX];
	int64_t t;

	ck_assert_int_eq(rfc3339_format(&ts, 0, out), 0);
	ck_assert_str_eq(out, "2023-11-14T22:13:20Z");
	ck_assert_int_eq(rfc3339_format(&ts, 1, out), 0);
	ck_assert_str_eq(out, "2023-11-14T22:13:20.123456Z");
	ck_assert_int_eq(rfc3339_parse("2023-11-14T22:13:20Z", &t, NULL), 0);
	ck_assert_int_eq(t, 1700000000);
	ck_assert_int_eq(rfc3339_parse("2023-11-14T22:13:20.123456Z", &t, NULL), 0);
	ck_assert_int_eq(t, 1700000000);
	ck_assert_int_eq(rfc3339_parse("2023-11-15T00:13:20+02:00", &t, NULL), 0);
	ck_assert_int_eq(t, 1700000000);
	ck_assert_int_eq(rfc3339_parse("2023-11-14T21:13:20.5-01:00", &t, NULL), 0);
	ck_assert_int_eq(t, 1700000000);
	ck_assert_int_eq(rfc3339_parse("1970-01-01T00:00:00Z", &t, NULL), 0);
	ck_assert_int_eq(t, 0);
	static const char *const bad[] = {
		"", "2023-11-14", "2023-11-14T22:13:20", "2023-13-14T22:13:20Z",
		"2023-11-14T22:13:20.Z", "2023-11-14T22:13:20Zjunk", "2023-11-14 22:13:20Z",
		"2023-11-14T22:13:20+0200", "20231114T221320Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(rfc3339_parse(bad[i], &t, NULL) == -EINVAL, "accepted %s", bad[i]);
}
END_TEST

/* The fraction in nanoseconds; malformed offsets and digits refused (one
 * of the former copies read "+0a:00" as an offset of -20 hours). */
START_TEST(test_fraction_and_offsets)
{
	static const char *const bad[] = {
		"2023-11-14T22:13:20+0a:00", "2023-11-14T22:13:20+02:0x", "2023-11-14T22:13:20+24:00",
		"2023-11-14T22:13:20+02:60", "2023-11-14T22:13:20+02:00junk", "2023-11-14T22:13:20+02",
		"2023-1-14T22:13:20Z", " 2023-11-14T22:13:20Z", "2023-11-14T22:13:2Z",
		"2023-11-14T24:13:20Z", "2023-11-14T22:60:20Z", "2023-11-00T22:13:20Z",
	};
	int64_t t = 42;
	long ns = 42;

	ck_assert_int_eq(rfc3339_parse("2023-11-14T22:13:20.123456789Z", &t, &ns), 0);
	ck_assert_int_eq(t, 1700000000);
	ck_assert_int_eq(ns, 123456789);
	ck_assert_int_eq(rfc3339_parse("2023-11-14T22:13:20.5Z", &t, &ns), 0);
	ck_assert_int_eq(ns, 500000000);
	/* past nine digits the fraction is cut, not rounded */
	ck_assert_int_eq(rfc3339_parse("2023-11-14T22:13:20.0000000019Z", &t, &ns), 0);
	ck_assert_int_eq(ns, 1);
	ck_assert_int_eq(rfc3339_parse("2023-11-14t22:13:20z", &t, &ns), 0);
	ck_assert_int_eq(t, 1700000000);
	ck_assert_int_eq(ns, 0);
	ck_assert_int_eq(rfc3339_parse("2023-11-14T22:13:20-00:00", &t, NULL), 0);
	ck_assert_int_eq(t, 1700000000);
	ck_assert_int_eq(rfc3339_parse("2023-11-14T08:43:20-13:30", &t, NULL), 0);
	ck_assert_int_eq(t, 1700000000);
	t = 42;
	ns = 42;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(rfc3339_parse(bad[i], &t, &ns) == -EINVAL, "accepted %s", bad[i]);
	ck_assert_int_eq(rfc3339_parse(NULL, &t, &ns), -EINVAL);
	ck_assert_int_eq(t, 42);                /* untouched on failure */
	ck_assert_int_eq(ns, 42);
}
END_TEST

/* What is written reads back. */
START_TEST(test_round_trip)
{
	static const time_t secs[] = { 0, 951782400, 1700000000, 4102444799 };
	char out[RFC3339_MAX];

	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		struct timespec ts = { secs[i], 654321000 };
		int64_t t;
		long ns;

		ck_assert_int_eq(rfc3339_format(&ts, 1, out), 0);
		ck_assert_int_eq(rfc3339_parse(out, &t, &ns), 0);
		ck_assert_int_eq(t, secs[i]);
		ck_assert_int_eq(ns, 654321000);
		ck_assert_int_eq(rfc3339_format(&ts, 0, out), 0);
		ck_assert_int_eq(rfc3339_parse(out, &t, &ns), 0);
		ck_assert_int_eq(t, secs[i]);
		ck_assert_int_eq(ns, 0);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rfc3339");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_times);
	tcase_add_test(tc, test_fraction_and_offsets);
	tcase_add_test(tc, test_round_trip);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
