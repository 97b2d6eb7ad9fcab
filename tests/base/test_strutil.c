/* test_strutil.c - base/strutil.c: glob patterns (against a reference
 * matcher, and linear on hostile input), numbers, names, paths, and UTF-8
 * cut on a character boundary. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/glob_reference.h"
#include "fpath.h"
#include "strutil.h"
#include "xalloc.h"

START_TEST(test_glob)
{
	ck_assert(glob_match("*", ""));
	ck_assert(glob_match("/app/*", "/app/bin/server"));
	ck_assert(!glob_match("/app/*", "/apps"));
	ck_assert(glob_match("/usr/bin/?url", "/usr/bin/curl"));
	ck_assert(!glob_match("/usr/bin/?url", "/usr/bin/url"));
	ck_assert(glob_match("*.so*", "/lib/libc.so.6"));
	ck_assert(glob_match("a*b*c", "aXXbYYc"));
	ck_assert(!glob_match("a*b*c", "aXXbYY"));
	ck_assert(glob_match("exact", "exact"));
	ck_assert(!glob_match("exact", "exactly"));
	ck_assert(glob_match("**a", "bba"));
	/* Hostile input stays linear: this returns at once. */
	{
		char s[20001], pat[60];

		memset(s, 'a', 20000);
		s[20000] = '\0';
		snprintf(pat, sizeof(pat), "*a*a*a*a*a*a*a*a*a*a*a*a*b");
		ck_assert(!glob_match(pat, s));
	}
	ck_assert(glob_has_wildcard("a?"));
	ck_assert(!glob_has_wildcard("/app/server"));
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static void rnd_str(char *out, size_t len, const char *alphabet)
{
	size_t na = strlen(alphabet);

	for (size_t i = 0; i < len; i++)
		out[i] = alphabet[rnd((unsigned)na)];
	out[len] = '\0';
}

/* Random patterns and strings, short and long, over small alphabets (so
 * that segments recur and overlap, the cases a search gets wrong), with
 * '*' runs, '?' at ends and inside, empty strings, and segments past one
 * 64-bit word: the new matcher answers as the old one does. */
START_TEST(test_glob_differential)
{
	static const struct {
		size_t plen, slen;
		const char *pa, *sa;
		int rounds;
	} shapes[] = {
		{ 8, 12, "ab*?", "ab", 200000 },
		{ 14, 30, "ab*", "ab", 100000 },
		{ 14, 30, "aab*?", "aab", 100000 },
		{ 30, 80, "aaab*", "aab", 40000 },
		{ 60, 200, "ab?*", "ab", 20000 },
		{ 10, 20, "a\xc3\xa9?*/", "a\xc3\xa9/", 50000 },
		/* rare '*': segments of 60..300 bytes, over several words */
		{ 300, 390, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab?*", "aaaaaaaaaab", 5000 },
	};
	char p[400], s[400];
	size_t disagree = 0, matched = 0;

	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		for (int i = 0; i < shapes[k].rounds; i++) {
			rnd_str(p, rnd((unsigned)shapes[k].plen + 1), shapes[k].pa);
			if (rnd(2)) {
				rnd_str(s, rnd((unsigned)shapes[k].slen + 1), shapes[k].sa);
			} else {
				/* a string built from the pattern, so that matches are common */
				size_t n = 0;

				for (const char *q = p; *q && n < sizeof(s) - 8; q++) {
					if (*q == '*')
						for (unsigned r = rnd(4); r; r--)
							s[n++] = shapes[k].sa[rnd((unsigned)strlen(shapes[k].sa))];
					else if (*q == '?')
						s[n++] = shapes[k].sa[rnd((unsigned)strlen(shapes[k].sa))];
					else
						s[n++] = rnd(20) ? *q : 'x';
				}
				s[n] = '\0';
			}
			if (glob_match(p, s) != glob_reference(p, s)) {
				if (disagree++ < 5)
					fprintf(stderr, "glob_match(\"%s\", \"%s\") = %d\n", p, s, glob_match(p, s));
			}
			matched += glob_reference(p, s);
		}
	}
	ck_assert_uint_eq(disagree, 0);
	ck_assert_uint_gt(matched, 100000);     /* the generator makes both answers */
}
END_TEST

/* Segments long enough for several Shift-And words and for two-way's
 * periodic and aperiodic cases, hand-picked around word edges. */
START_TEST(test_glob_long_segments)
{
	static char p[9000], s[20000];

	for (size_t k = 60; k <= 200; k += 7) {
		/* "*a^k?b*" in a^(k+1) b c: found at the end only */
		size_t n = 0;

		p[n++] = '*';
		memset(p + n, 'a', k);
		n += k;
		memcpy(p + n, "?b*", 4);
		memset(s, 'a', 3 * k);
		memcpy(s + 3 * k, "bc", 3);
		ck_assert(glob_match(p, s));
		ck_assert(glob_reference(p, s));
		s[3 * k] = 'c';
		ck_assert(!glob_match(p, s));
		/* the same without '?' (two-way, periodic needle) */
		p[1 + k] = 'a';
		s[3 * k] = 'b';
		ck_assert(glob_match(p, s));
		s[3 * k - 1] = 'c';
		ck_assert(!glob_match(p, s));
		ck_assert(!glob_reference(p, s));
	}
	/* A '?' segment with more distinct bytes than the stack table holds:
	 * the heap one; and when it cannot be had, no match (never a guess). */
	{
		size_t n = 0, k;

		p[n++] = '*';
		for (k = 0; k < 3000; k++)
			p[n++] = k % 50 == 7 ? '?' : (char)('A' + k % 58);
		p[n++] = '*';
		p[n] = '\0';
		memset(s, '-', 5000);
		for (k = 0; k < 3000; k++)
			s[1000 + k] = (char)('A' + k % 58);
		s[5000] = '\0';
		ck_assert(glob_match(p, s));
		pg_alloc_fail_at(0);
		ck_assert(!glob_match(p, s));
		pg_alloc_fail_at(-1);
		s[1000 + 2999] = '-';
		ck_assert(!glob_match(p, s));
	}
}
END_TEST

/* The patterns a profile may hold (4,096 bytes) against a long string:
 * the old matcher needed n * m byte comparisons for each, about 16 G, and
 * minutes in all, so the test case's timeout (60 s, room for a sanitizer
 * build on a loaded machine) ends it; the linear one takes well under a
 * second.  The figures are in bench/engine (bench_match), not asserted. */
#define HOSTILE_LEN (4u << 20)
START_TEST(test_glob_hostile_linear)
{
	static char s[HOSTILE_LEN + 1], p[5][4100];
	size_t n = 0;

	memset(s, 'a', HOSTILE_LEN);
	s[HOSTILE_LEN] = '\0';
	/* "*a...ab", "*a...ab*", "*a...a?b*", "a*a...ab*", "*a...a?ab" */
	for (int i = 0; i < 5; i++) {
		n = 0;
		if (i == 3)
			p[i][n++] = 'a';
		p[i][n++] = '*';
		memset(p[i] + n, 'a', 4000);
		n += 4000;
		if (i == 2 || i == 4)
			p[i][n - 100] = '?';
		p[i][n++] = 'b';
		if (i == 1 || i == 2 || i == 3)
			p[i][n++] = '*';
		p[i][n] = '\0';
	}
	for (int i = 0; i < 5; i++)
		ck_assert(!glob_match(p[i], s));
	s[HOSTILE_LEN - 1] = 'b';
	for (int i = 0; i < 5; i++)
		ck_assert(glob_match(p[i], s));
}
END_TEST

START_TEST(test_numbers)
{
	int64_t v;
	uint64_t u;

	ck_assert_int_eq(str_to_i64("-42", &v), 0);
	ck_assert_int_eq(v, -42);
	ck_assert_int_eq(str_to_i64("9223372036854775807", &v), 0);
	ck_assert_int_eq(str_to_i64("9223372036854775808", &v), -ERANGE);
	ck_assert_int_eq(str_to_i64("-9223372036854775808", &v), 0);
	ck_assert_int_eq(v, INT64_MIN);
	ck_assert_int_eq(str_to_i64("12x", &v), -EINVAL);
	ck_assert_int_eq(str_to_i64("", &v), -EINVAL);
	ck_assert_int_eq(str_to_u64("-1", &u), -EINVAL);
	ck_assert_int_eq(str_to_u64("18446744073709551616", &u), -ERANGE);
}
END_TEST

START_TEST(test_names)
{
	ck_assert(str_is_dns1123_label("payments-api"));
	ck_assert(!str_is_dns1123_label("Payments"));
	ck_assert(!str_is_dns1123_label("-a"));
	ck_assert(!str_is_dns1123_label("a.b"));
	ck_assert(str_is_dns1123_subdomain("a.b-c.d"));
	ck_assert(!str_is_dns1123_subdomain("a..b"));
	ck_assert(!str_is_dns1123_subdomain(""));
	ck_assert(str_is_label_key("app.kubernetes.io/name"));
	ck_assert(str_is_label_key("App_1"));
	ck_assert(!str_is_label_key("/name"));
	ck_assert(!str_is_label_key("a/b/c"));
	ck_assert(str_is_label_value(""));
	ck_assert(str_is_label_value("v1.2_x-y"));
	ck_assert(!str_is_label_value("-v"));
}
END_TEST

START_TEST(test_paths)
{
	char out[64];

	ck_assert_int_eq(path_clean("/var//log/./pods/", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/var/log/pods");
	ck_assert_int_eq(path_clean("/var/log/../../../etc", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/etc");
	ck_assert_int_eq(path_clean("/", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/");
	ck_assert_int_eq(path_clean("var", out, sizeof(out)), -EINVAL);
	ck_assert(path_has_prefix("/var/log/x", "/var/log"));
	ck_assert(path_has_prefix("/var/log", "/var/log/"));
	ck_assert(!path_has_prefix("/var/logs", "/var/log"));
	ck_assert(path_has_prefix("/anything", "/"));
}
END_TEST

START_TEST(test_utf8_cut)
{
	struct fpath fp;
	char key[FPATH_MAX + 8];

	ck_assert_uint_eq(str_utf8_cut("abc", 5), 3);
	ck_assert_uint_eq(str_utf8_cut("abc", 2), 2);
	ck_assert_uint_eq(str_utf8_cut("a\xc3\xa9" "b", 2), 1);           /* not inside the é */
	ck_assert_uint_eq(str_utf8_cut("a\xc3\xa9" "b", 3), 3);
	ck_assert_uint_eq(str_utf8_cut("\xf0\x9f\x98\x80z", 3), 0);
	ck_assert_uint_eq(str_utf8_cut("\xf0\x9f\x98\x80z", 4), 4);
	/* a field path full to the brim ends on a whole character */
	fpath_init(&fp, "spec");
	memset(key, 0, sizeof(key));
	for (size_t i = 0; i + 2 < sizeof(key) - 1; i += 2)
		memcpy(key + i, "\xc3\xa9", 2);
	fpath_key(&fp, "x");
	fpath_key(&fp, key);
	ck_assert_uint_lt(fp.len, FPATH_MAX);
	ck_assert_uint_eq(str_utf8_cut(fp.s, fp.len), fp.len);
}
END_TEST

START_TEST(test_closest_and_quote)
{
	static const char *const keys[] = { "selector", "mode", "response", NULL };
	char tmp[256], big[300];

	ck_assert_str_eq(str_closest("selectr", keys, SIZE_MAX), "selector");
	ck_assert_str_eq(str_closest("mdoe", keys, SIZE_MAX), "mode");
	ck_assert_ptr_null(str_closest("identity", keys, SIZE_MAX));    /* none near */
	ck_assert_ptr_null(str_closest("respons", keys, 2));            /* past @n */
	ck_assert_str_eq(str_closest("respons", keys, 3), "response");
	ck_assert_str_eq(str_quote("a\"b", tmp, sizeof(tmp)), "\"a\"b\"");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	str_quote(big, tmp, sizeof(tmp));
	ck_assert_uint_eq(strlen(tmp), 1 + 200 + 3 + 1);               /* cut, and said */
	ck_assert(str_has_suffix(tmp, "x...\""));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("strutil");
	TCase *tc = tcase_create("main");
	TCase *hostile = tcase_create("hostile");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_glob);
	tcase_add_test(tc, test_glob_differential);
	tcase_add_test(tc, test_glob_long_segments);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_utf8_cut);
	tcase_add_test(tc, test_closest_and_quote);
	suite_add_tcase(s, tc);
	tcase_set_timeout(hostile, 60);
	tcase_add_test(hostile, test_glob_hostile_linear);
	suite_add_tcase(s, hostile);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
