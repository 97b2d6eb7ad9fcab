/* bench_admission.c - the webhook's own work per review, without HTTP or
 * TLS: parse (jval), judge (pod extraction + engine), render, and the
 * denial log line, each timed over the same reviews bench/webhook/run
 * sends.  Says how much of a request's CPU is ours.
 *   bench_admission PROFILES_DIR REVIEW.json... */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admission.h"
#include "doc.h"
#include "errlist.h"
#include "manifest.h"
#include "pglog.h"
#include "strutil.h"
#include "xalloc.h"

static struct profile_set set;

static int add_profile(void *ud, const struct manifest_origin *o, const struct jval *obj)
{
	struct errlist errs;
	struct profile *p = NULL;

	if (!str_eq(jval_str(jval_get(obj, "kind")), "WorkloadProfile"))
		return 0;
	errlist_init(&errs, 0);
	if (profile_parse(obj, "default", &errs, &p) == 0)
		profile_set_add(&set, p);
	errlist_free(&errs);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct admission_policy pol = { .profiles = &set };
	struct errlist errs;
	FILE *devnull = fopen("/dev/null", "w");

	if (argc < 3) {
		fprintf(stderr, "usage: bench_admission PROFILES REVIEW.json...\n");
		return 2;
	}
	pg_alloc_setup_jansson();
	pglog_setup(PGLOG_JSON, PGLOG_INFO, devnull);
	profile_set_init(&set);
	errlist_init(&errs, 0);
	manifest_walk(argv[1], add_profile, NULL, &errs);
	errlist_free(&errs);
	printf("profiles=%zu\n", set.n);
	for (int i = 2; i < argc; i++) {
		char *data = NULL;
		size_t len = 0;
		double t_parse = 0, t_judge = 0, t_render = 0, t_log = 0, t0;
		long n = 20000;
		bool allowed = true;

		if (doc_read_file(argv[i], 16 << 20, &data, &len) < 0)
			return 1;
		for (long k = 0; k < n; k++) {
			struct admission_review rv;
			struct admission_response r;
			struct buf out = BUF_INIT(1 << 20);
			char err[256];

			t0 = now();
			if (admission_review_parse(data, len, &rv, err, sizeof(err)) < 0) {
				fprintf(stderr, "%s: %s\n", argv[i], err);
				return 1;
			}
			t_parse += now() - t0;
			t0 = now();
			admission_response_init(&r);
			admission_judge_pod(&rv, &pol, &r);
			t_judge += now() - t0;
			t0 = now();
			admission_response_render(&rv, &r, &out);
			t_render += now() - t0;
			t0 = now();
			if (!r.allowed)
				pglog(PGLOG_INFO, "admission denied", "uid", rv.uid, "kind", r.kind, "namespace",
				      r.obj_namespace, "name", r.obj_name, "reasons", buf_str(&r.message), NULL);
			t_log += now() - t0;
			allowed = r.allowed;
			buf_free(&out);
			admission_response_free(&r);
			admission_review_free(&rv);
		}
		printf("review=%s bytes=%zu allowed=%d parse_us=%.2f judge_us=%.2f render_us=%.2f log_us=%.2f total_us=%.2f\n",
		       strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i], len, allowed,
		       t_parse * 1e6 / n, t_judge * 1e6 / n, t_render * 1e6 / n, t_log * 1e6 / n,
		       (t_parse + t_judge + t_render + t_log) * 1e6 / n);
		pg_free(data);
	}
	profile_set_free(&set);
	fclose(devnull);
	return 0;
}
