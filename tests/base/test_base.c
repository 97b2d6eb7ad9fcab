/* test_base.c - foundations: buffers, arenas, strings, patterns, paths,
 * addresses.  One suite per module. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/glob_reference.h"
#include "arena.h"
#include "buf.h"
#include "errlist.h"
#include "fpath.h"
#include "netaddr.h"
#include "strutil.h"
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

START_TEST(test_cidr)
{
	struct cidr c;
	struct netaddr a;

	ck_assert_int_eq(cidr_parse("10.0.0.0/8", &c), 0);
	ck_assert_int_eq(netaddr_parse("10.200.1.1", &a), 0);
	ck_assert(cidr_contains(&c, &a));
	ck_assert_int_eq(netaddr_parse("11.0.0.1", &a), 0);
	ck_assert(!cidr_contains(&c, &a));
	ck_assert_int_eq(netaddr_parse("::ffff:10.1.2.3", &a), 0);   /* mapped form */
	ck_assert(cidr_contains(&c, &a));
	ck_assert_int_eq(cidr_parse("10.0.0.0/33", &c), -EINVAL);
	ck_assert_int_eq(cidr_parse("10.0.0.0/", &c), -EINVAL);
	ck_assert_int_eq(cidr_parse("10.0.0/8", &c), -EINVAL);
	ck_assert_int_eq(cidr_parse("10.0.0.0/+8", &c), -EINVAL);
	ck_assert_int_eq(cidr_parse("fd00::/8", &c), 0);
	ck_assert_int_eq(netaddr_parse("fdab::1", &a), 0);
	ck_assert(cidr_contains(&c, &a));
	ck_assert_int_eq(netaddr_parse("fe80::1", &a), 0);
	ck_assert(!cidr_contains(&c, &a));
	ck_assert_int_eq(cidr_parse("10.9.8.7/12", &c), 0);
	ck_assert_int_eq(netaddr_parse("10.15.255.255", &a), 0);
	ck_assert(cidr_contains(&c, &a));
	ck_assert_int_eq(cidr_parse("0.0.0.0/0", &c), 0);
	ck_assert_int_eq(netaddr_parse("1.2.3.4", &a), 0);
	ck_assert(cidr_contains(&c, &a));
	ck_assert_int_eq(netaddr_parse("::1", &a), 0);
	ck_assert(!cidr_contains(&c, &a));                          /* families differ */
	ck_assert_int_eq(cidr_parse("192.168.1.7", &c), 0);
	ck_assert_uint_eq(c.prefix, 32);
	ck_assert_int_eq(netaddr_parse("1.2.3.4.5", &a), -EINVAL);
}
END_TEST

/* The periodic loops' thread: it runs, sleeps its interval, and a stop
 * wakes it at once rather than after the interval. */
struct tick_count {
	struct ticker t;
	int rounds;
};

static void *tick_main(void *ud)
{
	struct tick_count *tc = ud;

	pthread_mutex_lock(&tc->t.mu);
	while (!tc->t.stopping) {
		tc->rounds++;
		ticker_sleep(&tc->t, 60000);
	}
	pthread_mutex_unlock(&tc->t.mu);
	return NULL;
}

START_TEST(test_ticker)
{
	struct tick_count tc = { .rounds = 0 };
	struct timespec ts, now;
	int64_t t0;

	ticker_deadline(1999, &ts);
	clock_gettime(CLOCK_MONOTONIC, &now);
	ck_assert(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
	ck_assert(ts.tv_sec >= now.tv_sec + 1 && ts.tv_sec <= now.tv_sec + 3);

	ticker_init(&tc.t);
	ticker_stop(&tc.t);                     /* not started: nothing to join */
	ck_assert_int_eq(ticker_start(&tc.t, tick_main, &tc), 0);
	while (1) {
		pthread_mutex_lock(&tc.t.mu);
		if (tc.rounds > 0) {
			pthread_mutex_unlock(&tc.t.mu);
			break;
		}
		pthread_mutex_unlock(&tc.t.mu);
	}
	t0 = ticker_now_ms();
	ticker_stop(&tc.t);                     /* the 60 s sleep ends now */
	ck_assert_int_lt(ticker_now_ms() - t0, 30000);
	ck_assert_int_eq(tc.rounds, 1);
	ck_assert(!ticker_sleep(&tc.t, 1));     /* stopping: no wait */
	ticker_destroy(&tc.t);
	ticker_destroy(NULL);
}
END_TEST

/* One clock in three units: the monotonic milli- and nanoseconds are the
 * same clock, and the wall clock is time()'s. */
START_TEST(test_clock)
{
	int64_t ms0 = ticker_now_ms(), ns = ticker_now_ns(), ms1 = ticker_now_ms();
	struct timespec wall;
	time_t t0 = time(NULL), t1;

	ck_assert_int_le(ms0, ns / 1000000);
	ck_assert_int_ge(ms1, ns / 1000000);
	ck_assert_int_le(ns, ticker_now_ns());
	ticker_wall(&wall);
	t1 = time(NULL);
	ck_assert(wall.tv_nsec >= 0 && wall.tv_nsec < 1000000000L);
	ck_assert_int_ge(wall.tv_sec, t0 - 1);
	ck_assert_int_le(wall.tv_sec, t1 + 1);
}
END_TEST

int main(void)
{
	Suite *suites[] = { suite_create("buf"), suite_create("arena"), suite_create("errlist"),
			    suite_create("fpath"), suite_create("strutil"), suite_create("netaddr"),
			    suite_create("ticker") };
	TCase *tc[7], *hostile;
	SRunner *sr;
	int failed;

	for (int i = 0; i < 7; i++) {
		tc[i] = tcase_create("main");
		suite_add_tcase(suites[i], tc[i]);
	}
	hostile = tcase_create("hostile");
	tcase_set_timeout(hostile, 60);
	suite_add_tcase(suites[4], hostile);
	tcase_add_test(tc[0], test_buf_limits);
	tcase_add_test(tc[0], test_json_strings);
	tcase_add_test(tc[0], test_utf8_cut);
	tcase_add_test(tc[0], test_buf_alloc_failure);
	tcase_add_test(tc[0], test_free_null);
	tcase_add_test(tc[1], test_arena);
	tcase_add_test(tc[2], test_errlist_cap);
	tcase_add_test(tc[3], test_fpath);
	tcase_add_test(tc[4], test_glob);
	tcase_add_test(tc[4], test_glob_differential);
	tcase_add_test(tc[4], test_glob_long_segments);
	tcase_add_test(hostile, test_glob_hostile_linear);
	tcase_add_test(tc[4], test_numbers);
	tcase_add_test(tc[4], test_names);
	tcase_add_test(tc[4], test_paths);
	tcase_add_test(tc[5], test_cidr);
	tcase_add_test(tc[6], test_ticker);
	tcase_add_test(tc[6], test_clock);
	sr = srunner_create(suites[0]);
	for (int i = 1; i < 7; i++)
		srunner_add_suite(sr, suites[i]);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
