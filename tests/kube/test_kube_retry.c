/* test_kube_retry.c - the client's pacing arithmetic (token bucket,
 * backoff, Retry-After) and how a refusal becomes an errno and a Status. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_client.h"
#include "kube_retry.h"

#define MS 1000000LL
#define SEC 1000000000LL

START_TEST(test_bucket_burst_then_rate)
{
	struct kube_bucket b;
	int64_t t = 5 * SEC;

	kube_bucket_init(&b, 10, 3, t);         /* 10 QPS, burst 3 */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(kube_bucket_reserve(&b, t), 0);
	/* The 4th waits one token (100 ms), the 5th two: places are kept. */
	ck_assert_int_eq((kube_bucket_reserve(&b, t) + MS / 2) / MS, 100);
	ck_assert_int_eq((kube_bucket_reserve(&b, t) + MS / 2) / MS, 200);
	/* After a quiet second the bucket is full again, not fuller. */
	t += 2 * SEC;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(kube_bucket_reserve(&b, t), 0);
	ck_assert_int_gt(kube_bucket_reserve(&b, t), 0);
	/* Over 1 s at a steady 10 requests per second nobody waits long. */
	kube_bucket_init(&b, 10, 1, 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_le(kube_bucket_reserve(&b, (int64_t)i * 100 * MS), 1);
	/* Unlimited. */
	kube_bucket_init(&b, 0, 1, 0);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(kube_bucket_reserve(&b, 0), 0);
}
END_TEST

/* The pacing the --kube-api-qps/--kube-api-burst flags set, on a fake
 * clock: a controller acting on 25 pods a second sends a DELETE and an
 * Event for each, plus status patches and series updates: about 100
 * requests a second.  The defaults (50, 100) fall behind by seconds; a
 * bucket of 200 QPS and 400 burst never makes one wait. */
static int64_t steady_load(double qps, unsigned burst, int per_sec, int secs, int64_t *ret_max)
{
	struct kube_bucket b;
	int64_t t0 = 42 * SEC, total = 0;

	*ret_max = 0;
	kube_bucket_init(&b, qps, burst, t0);
	for (int i = 0; i < per_sec * secs; i++) {
		int64_t w = kube_bucket_reserve(&b, t0 + (int64_t)i * SEC / per_sec);

		total += w;
		if (w > *ret_max)
			*ret_max = w;
	}
	return total;
}

START_TEST(test_bucket_flag_values)
{
	struct kube_bucket b;
	int64_t max, t = 7 * SEC;

	/* Defaults: the burst hides the first two seconds, then each
	 * request waits 10 ms more than the one before: the 1,000th, sent
	 * at 10 s, goes 8 s late. */
	steady_load(50, 100, 100, 10, &max);
	ck_assert_int_ge(max, 8000 * MS);
	ck_assert_int_le(max, 8020 * MS);
	ck_assert_int_eq(steady_load(200, 400, 100, 10, &max), 0);
	ck_assert_int_eq(max, 0);
	/* Exactly burst at once, then one every 1/qps. */
	kube_bucket_init(&b, 200, 400, t);
	for (int i = 0; i < 400; i++)
		ck_assert_int_eq(kube_bucket_reserve(&b, t), 0);
	ck_assert_int_eq((kube_bucket_reserve(&b, t) + MS / 2) / MS, 5);
	ck_assert_int_eq((kube_bucket_reserve(&b, t) + MS / 2) / MS, 10);
	/* A fractional rate and the smallest burst: one every 2 s. */
	kube_bucket_init(&b, 0.5, 1, t);
	ck_assert_int_eq(kube_bucket_reserve(&b, t), 0);
	ck_assert_int_eq((kube_bucket_reserve(&b, t) + MS / 2) / MS, 2000);
	ck_assert_int_eq((kube_bucket_reserve(&b, t + 2 * SEC) + MS / 2) / MS, 2000);
	ck_assert_int_eq(kube_bucket_reserve(&b, t + 6 * SEC), 0);
	/* The client's defaults are the flags' documented ones. */
	{
		struct kube_client_opts o;

		kube_client_opts_default(&o);
		ck_assert(o.qps == 50);
		ck_assert_uint_eq(o.burst, 100);
	}
}
END_TEST

/* After a watch ends (and is to resume, not relist): at once with the
 * backoff reset when it carried anything, however it ended; a pause only
 * when it failed, or ended at once, before delivering anything. */
START_TEST(test_watch_progressed)
{
	static const struct {
		int err;
		uint64_t delivered;
		int64_t ran_ms;
		bool progressed;
	} cases[] = {
		{ 0, 0, 300000, true },                 /* timeoutSeconds ran out, quiet */
		{ 0, 12, 300000, true },
		{ 0, 3, 5, true },                      /* a quick clean end after events */
		{ -ECONNRESET, 3, 40, true },           /* cut after events: the stand-in's reset_watch */
		{ -ECONNRESET, 1, 0, true },            /* a bookmark counts */
		{ -EPROTO, 7, 2000, true },             /* no terminating chunk */
		{ -EIO, 2, 10, true },                  /* an ERROR event after events */
		{ -EBADMSG, 5, 10, true },              /* garbage after good events */
		{ 0, 0, 10, false },                    /* ended at once, nothing */
		{ 0, 0, KUBE_WATCH_QUIET_OK_MS - 1, false },
		{ 0, 0, KUBE_WATCH_QUIET_OK_MS, true },
		{ -ECONNRESET, 0, 40, false },          /* cut before anything */
		{ -ECONNREFUSED, 0, 0, false },
		{ -EIO, 0, 60000, false },              /* a failure, however long it took */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(kube_watch_progressed(cases[i].err, cases[i].delivered,
						    cases[i].ran_ms) == cases[i].progressed,
			      "case %zu", i);
}
END_TEST

START_TEST(test_backoff)
{
	/* d = min(cap, base * 2^n); the result lies in [d/2, d]. */
	static const struct { unsigned n; int64_t d; } cases[] = {
		{ 0, 200 }, { 1, 400 }, { 2, 800 }, { 5, 6400 }, { 6, 10000 }, { 60, 10000 },
		{ 1000, 10000 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t d = cases[i].d;

		ck_assert_int_eq(kube_backoff_ms(cases[i].n, 200, 10000, 0), d / 2);
		ck_assert_int_eq(kube_backoff_ms(cases[i].n, 200, 10000, (uint64_t)d / 2), d);
		for (uint64_t r = 0; r < 5000; r += 7) {
			int64_t v = kube_backoff_ms(cases[i].n, 200, 10000, r * 2654435761u);

			ck_assert_int_ge(v, d / 2);
			ck_assert_int_le(v, d);
		}
	}
	/* Jitter spreads the values. */
	ck_assert_int_ne(kube_backoff_ms(3, 200, 10000, 1), kube_backoff_ms(3, 200, 10000, 900));
	ck_assert_int_eq(kube_backoff_ms(0, 0, 10, 5), 1);
}
END_TEST

START_TEST(test_retry_after)
{
	time_t now = 1445412480;                /* Wed, 21 Oct 2015 07:28:00 GMT */
	int64_t s = -1;

	ck_assert_int_eq(kube_retry_after_parse("1", now, &s), 0);
	ck_assert_int_eq(s, 1);
	ck_assert_int_eq(kube_retry_after_parse(" 120\r\n", now, &s), 0);
	ck_assert_int_eq(s, 120);
	ck_assert_int_eq(kube_retry_after_parse("0", now, &s), 0);
	ck_assert_int_eq(s, 0);
	ck_assert_int_eq(kube_retry_after_parse("Wed, 21 Oct 2015 07:28:30 GMT", now, &s), 0);
	ck_assert_int_eq(s, 30);
	/* A date in the past means now. */
	ck_assert_int_eq(kube_retry_after_parse("Wed, 21 Oct 2015 07:00:00 GMT", now, &s), 0);
	ck_assert_int_eq(s, 0);
	static const char *const bad[] = { "", "  ", "-1", "1.5", "12abc", "soon",
					   "99999999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(kube_retry_after_parse(bad[i], now, &s) == -EINVAL, "accepted %s",
			      bad[i]);
}
END_TEST

START_TEST(test_errno_mapping)
{
	ck_assert_int_eq(kube_errno_from_http(404, "NotFound"), -ENOENT);
	ck_assert_int_eq(kube_errno_from_http(409, "AlreadyExists"), -EEXIST);
	ck_assert_int_eq(kube_errno_from_http(409, "Conflict"), -ESTALE);
	ck_assert_int_eq(kube_errno_from_http(410, "Expired"), -ETIME);
	ck_assert_int_eq(kube_errno_from_http(410, "Gone"), -ETIME);
	ck_assert_int_eq(kube_errno_from_http(429, "TooManyRequests"), -EAGAIN);
	ck_assert_int_eq(kube_errno_from_http(401, ""), -EACCES);
	ck_assert_int_eq(kube_errno_from_http(403, ""), -EPERM);
	ck_assert_int_eq(kube_errno_from_http(422, "Invalid"), -EINVAL);
	ck_assert_int_eq(kube_errno_from_http(400, "BadRequest"), -EINVAL);
	ck_assert_int_eq(kube_errno_from_http(405, ""), -EOPNOTSUPP);
	ck_assert_int_eq(kube_errno_from_http(500, ""), -EIO);
	ck_assert_int_eq(kube_errno_from_http(503, ""), -EIO);
	ck_assert_int_eq(kube_errno_from_http(418, ""), -EPROTO);
}
END_TEST

START_TEST(test_status_parse)
{
	struct kube_error e;
	static const char st[] =
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		"\"message\":\"pods \\\"x\\\" not found\\nsecond line\",\"reason\":\"NotFound\","
		"\"details\":{\"name\":\"x\",\"kind\":\"pods\"},\"code\":404}";
	char big[2000];

	kube_error_from_body(&e, 404, st, strlen(st));
	ck_assert_int_eq(e.code, 404);
	ck_assert_str_eq(e.reason, "NotFound");
	ck_assert_str_eq(e.message, "pods \"x\" not found second line");   /* one line */
	/* Not a Status: the reason comes from the code, the body is cut. */
	kube_error_from_body(&e, 503, "<html>upstream\r\ndown</html>", 27);
	ck_assert_str_eq(e.reason, "ServiceUnavailable");
	ck_assert_str_eq(e.message, "<html>upstream  down</html>");
	memset(big, 'z', sizeof(big));
	kube_error_from_body(&e, 502, big, sizeof(big));
	ck_assert_uint_eq(strlen(e.message), 200);
	ck_assert_str_eq(e.reason, "InternalError");
	/* A Status without a reason. */
	kube_error_from_body(&e, 410, "{\"kind\":\"Status\",\"code\":410}", 28);
	ck_assert_str_eq(e.reason, "Gone");
	ck_assert_str_eq(e.message, "");
	kube_error_from_body(&e, 500, "", 0);
	ck_assert_str_eq(e.reason, "InternalError");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_retry");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_bucket_burst_then_rate);
	tcase_add_test(tc, test_bucket_flag_values);
	tcase_add_test(tc, test_watch_progressed);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_retry_after);
	tcase_add_test(tc, test_errno_mapping);
	tcase_add_test(tc, test_status_parse);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
