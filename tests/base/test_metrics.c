/* test_metrics.c - the Prometheus registry: exposition text byte for byte,
 * label escaping, series limits, histogram buckets, concurrent updates,
 * and allocation failures. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "xalloc.h"

START_TEST(render_exact)
{
	static const char *const op_labels[] = { "operation", "allowed", NULL };
	static const double buckets[] = { 0.001, 0.01, 0.1 };
	struct metrics *m = metrics_new();
	struct metric_vec *c, *g, *h;
	struct buf out = BUF_INIT(1 << 20);

	c = metrics_counter(m, "pg_requests_total", "Requests.\nTwo lines \\ here.", op_labels);
	g = metrics_gauge(m, "pg_profiles", "Profiles loaded.", NULL);
	h = metrics_histogram(m, "pg_duration_seconds", "Latency.", NULL, buckets, 3);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(h);
	metric_inc(metric_vec_get2(c, "CREATE", "true"));
	metric_add(metric_vec_get2(c, "CREATE", "true"), 2);
	metric_inc(metric_vec_get2(c, "UPDATE", "a\"b\\c\nd"));
	metric_set(metric_vec_get(g, NULL), 1000);
	metric_gauge_add(metric_vec_get(g, NULL), -0.5);
	metric_observe(metric_vec_get(h, NULL), 0.0005);
	metric_observe(metric_vec_get(h, NULL), 0.001);       /* on the bound: in it */
	metric_observe(metric_vec_get(h, NULL), 0.05);
	metric_observe(metric_vec_get(h, NULL), 7);
	ck_assert_int_eq(metrics_render(m, &out), 0);
	ck_assert_str_eq(buf_str(&out),
		"# HELP pg_requests_total Requests.\\nTwo lines \\\\ here.\n"
		"# TYPE pg_requests_total counter\n"
		"pg_requests_total{operation=\"CREATE\",allowed=\"true\"} 3\n"
		"pg_requests_total{operation=\"UPDATE\",allowed=\"a\\\"b\\\\c\\nd\"} 1\n"
		"# HELP pg_profiles Profiles loaded.\n"
		"# TYPE pg_profiles gauge\n"
		"pg_profiles 999.5\n"
		"# HELP pg_duration_seconds Latency.\n"
		"# TYPE pg_duration_seconds histogram\n"
		"pg_duration_seconds_bucket{le=\"0.001\"} 2\n"
		"pg_duration_seconds_bucket{le=\"0.01\"} 2\n"
		"pg_duration_seconds_bucket{le=\"0.1\"} 3\n"
		"pg_duration_seconds_bucket{le=\"+Inf\"} 4\n"
		"pg_duration_seconds_sum 7.0515\n"
		"pg_duration_seconds_count 4\n");
	ck_assert_uint_eq(metric_count(metric_vec_get(h, NULL)), 4);
	ck_assert(metric_value(metric_vec_get(g, NULL)) == 999.5);
	buf_free(&out);
	metrics_free(m);
}
END_TEST

START_TEST(labelled_histogram)
{
	static const char *const labels[] = { "kind", NULL };
	static const double buckets[] = { 1, 2.5 };
	struct metrics *m = metrics_new();
	struct metric_vec *h = metrics_histogram(m, "x_seconds", "X.", labels, buckets, 2);
	struct buf out = BUF_INIT(1 << 20);

	metric_observe(metric_vec_get1(h, "Pod"), 2);
	ck_assert_int_eq(metrics_render(m, &out), 0);
	ck_assert_str_eq(buf_str(&out),
		"# HELP x_seconds X.\n# TYPE x_seconds histogram\n"
		"x_seconds_bucket{kind=\"Pod\",le=\"1\"} 0\n"
		"x_seconds_bucket{kind=\"Pod\",le=\"2.5\"} 1\n"
		"x_seconds_bucket{kind=\"Pod\",le=\"+Inf\"} 1\n"
		"x_seconds_sum{kind=\"Pod\"} 2\n"
		"x_seconds_count{kind=\"Pod\"} 1\n");
	buf_free(&out);
	metrics_free(m);
}
END_TEST

START_TEST(bad_registrations)
{
	static const char *const many[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", NULL };
	static const double unsorted[] = { 2, 1 };
	struct metrics *m = metrics_new();

	ck_assert_ptr_nonnull(metrics_counter(m, "dup_total", "", NULL));
	ck_assert_ptr_null(metrics_counter(m, "dup_total", "", NULL));
	ck_assert_ptr_null(metrics_gauge(m, "many", "", many));
	ck_assert_ptr_null(metrics_histogram(m, "h", "", NULL, unsorted, 2));
	ck_assert_ptr_null(metrics_counter(NULL, "x", "", NULL));
	ck_assert_ptr_null(metric_vec_get(NULL, NULL));
	/* Updates on NULL are no-ops. */
	metric_inc(NULL);
	metric_add(NULL, 3);
	metric_set(NULL, 1);
	metric_gauge_add(NULL, 1);
	metric_observe(NULL, 1);
	metrics_free(m);
	metrics_free(NULL);
}
END_TEST

START_TEST(series_limit)
{
	static const char *const labels[] = { "k", NULL };
	struct metrics *m = metrics_new();
	struct metric_vec *c = metrics_counter(m, "c_total", "", labels);
	char v[32];

	for (int i = 0; i < METRICS_MAX_SERIES; i++) {
		snprintf(v, sizeof(v), "%d", i);
		ck_assert_ptr_nonnull(metric_vec_get1(c, v));
	}
	ck_assert_ptr_null(metric_vec_get1(c, "one-too-many"));
	ck_assert_ptr_nonnull(metric_vec_get1(c, "7"));       /* existing ones still found */
	metrics_free(m);
}
END_TEST

START_TEST(cached_series)
{
	static const char *const labels[] = { "k", NULL };
	static const char *const a[] = { "a" }, *const b[] = { "b" };
	struct metrics *m = metrics_new();
	struct metric_vec *c = metrics_counter(m, "c_total", "", labels);
	_Atomic(struct metric *) slot = NULL, other = NULL, unused = NULL;
	struct metric *first = metric_vec_cached(&slot, c, a);

	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_eq(first, metric_vec_get(c, a));          /* the same series */
	ck_assert_ptr_eq(atomic_load(&slot), first);           /* kept in the slot */
	ck_assert_ptr_eq(metric_vec_cached(&slot, c, b), first);/* the slot wins after */
	ck_assert_ptr_ne(metric_vec_cached(&other, c, b), first);
	ck_assert_ptr_null(metric_vec_cached(&unused, NULL, a));
	metrics_free(m);
}
END_TEST

struct worker {
	struct metric *c, *h, *g;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 100000; i++) {
		metric_inc(w->c);
		metric_observe(w->h, 0.5);
		metric_gauge_add(w->g, 1);
	}
	return NULL;
}

START_TEST(concurrent_updates)
{
	static const double buckets[] = { 1 };
	struct metrics *m = metrics_new();
	struct worker w = {
		metric_vec_get(metrics_counter(m, "c_total", "", NULL), NULL),
		metric_vec_get(metrics_histogram(m, "h", "", NULL, buckets, 1), NULL),
		metric_vec_get(metrics_gauge(m, "g", "", NULL), NULL),
	};
	pthread_t t[4];
	struct buf out = BUF_INIT(1 << 20);

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, &w);
	/* Scrapes race with the updates. */
	for (int i = 0; i < 50; i++) {
		buf_reset(&out);
		ck_assert_int_eq(metrics_render(m, &out), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert(metric_value(w.c) == 400000);
	ck_assert(metric_value(w.g) == 400000);
	ck_assert_uint_eq(metric_count(w.h), 400000);
	buf_reset(&out);
	metrics_render(m, &out);
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "h_sum 200000\n"));
	buf_free(&out);
	metrics_free(m);
}
END_TEST

START_TEST(process_metrics)
{
	struct metrics *m = metrics_new();
	struct buf out = BUF_INIT(1 << 20);

	metrics_enable_process(m);
	ck_assert_int_eq(metrics_render(m, &out), 0);
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "\nprocess_resident_memory_bytes "));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "\nprocess_open_fds "));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "\nprocess_cpu_seconds_total "));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "\nprocess_start_time_seconds "));
	buf_free(&out);
	metrics_free(m);
}
END_TEST

START_TEST(render_limit)
{
	struct metrics *m = metrics_new();
	struct buf out = BUF_INIT(16);

	metric_inc(metric_vec_get(metrics_counter(m, "a_long_metric_name_total", "help", NULL), NULL));
	ck_assert_int_eq(metrics_render(m, &out), -E2BIG);
	buf_free(&out);
	metrics_free(m);
}
END_TEST

START_TEST(torture)
{
	static const char *const labels[] = { "a", "b", NULL };
	static const double buckets[] = { 1, 2 };
	int done = 0;

	for (long n = 0; n < 10000 && !done; n++) {
		struct metrics *m;
		struct metric_vec *c, *h;
		struct buf out = BUF_INIT(1 << 20);
		int r = -ENOMEM;

		pg_alloc_fail_at(n);
		m = metrics_new();
		c = metrics_counter(m, "c_total", "h", labels);
		h = metrics_histogram(m, "h", "h", labels, buckets, 2);
		metric_inc(metric_vec_get2(c, "x", "y"));
		metric_observe(metric_vec_get2(h, "x", "y"), 1.5);
		if (m && c && h && metric_vec_get2(c, "x", "y") && metric_vec_get2(h, "x", "y"))
			r = metrics_render(m, &out);
		pg_alloc_fail_at(-1);
		ck_assert(r == 0 || r == -ENOMEM);
		done = r == 0;
		buf_free(&out);
		metrics_free(m);
	}
	ck_assert(done);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("registry");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, render_exact);
	tcase_add_test(tc, labelled_histogram);
	tcase_add_test(tc, bad_registrations);
	tcase_add_test(tc, series_limit);
	tcase_add_test(tc, cached_series);
	tcase_add_test(tc, concurrent_updates);
	tcase_add_test(tc, process_metrics);
	tcase_add_test(tc, render_limit);
	tcase_add_test(tc, torture);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
