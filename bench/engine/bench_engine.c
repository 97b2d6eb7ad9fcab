/* bench_engine.c - how fast the engine judges: evaluate only (the pod
 * already compact, as in the controller's cache), and parse + extract +
 * evaluate of a whole AdmissionReview body (the webhook's work minus
 * HTTP and TLS).  Prints one line per figure: name, ns/op, ops/s. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "doc.h"
#include "engine.h"
#include "arena.h"
#include "errlist.h"
#include "jval.h"
#include "manifest.h"
#include "pod.h"
#include "profile.h"
#include "xalloc.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int add_profile(void *ud, const struct manifest_origin *o, const struct jval *obj)
{
	struct profile_set *set = ud;
	struct errlist errs;
	struct profile *p;

	if (!jval_str(jval_get(obj, "kind")) || strcmp(jval_str(jval_get(obj, "kind")), "WorkloadProfile"))
		return 0;
	errlist_init(&errs, 0);
	if (profile_parse(obj, "default", &errs, &p) == 0)
		profile_set_add(set, p);
	errlist_free(&errs);
	return 0;
}

/* 1,000 other profiles over 200 namespaces, so the namespace lookup is
 * realistic; two more in "payments" that select the pod. */
static void synthetic_profiles(struct profile_set *set, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char yaml[1024];
		struct arena *a = arena_new(4096);
		const struct jval *obj = NULL;
		struct errlist errs;
		struct profile *p;

		snprintf(yaml, sizeof(yaml),
			 "{\"apiVersion\":\"profileguard.io/v1alpha1\",\"kind\":\"WorkloadProfile\","
			 "\"metadata\":{\"name\":\"p%zu\",\"namespace\":\"ns%zu\"},"
			 "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"a%zu\"}},\"mode\":\"Enforce\","
			 "\"images\":{\"allow\":[\"registry.example.com/t%zu/*\"],\"requireDigest\":true},"
			 "\"privileges\":{\"privileged\":\"Forbid\",\"runAsNonRoot\":\"Require\"}}}",
			 i, i % 200, i, i);
		errlist_init(&errs, 0);
		if (a && jval_parse(yaml, strlen(yaml), NULL, a, &obj, NULL) == 0 &&
		    profile_parse(obj, "default", &errs, &p) == 0)
			profile_set_add(set, p);
		errlist_free(&errs);
		arena_free(a);
	}
}

static char *slurp(const char *path, size_t *len)
{
	char *data;

	if (doc_read_file(path, 1 << 20, &data, len) < 0) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	return data;
}

int main(int argc, char **argv)
{
	const char *profiles = argc > 1 ? argv[1] : "examples/profiles";
	const char *review_path = argc > 2 ? argv[2] : "bench/engine/review.json";
	double seconds = argc > 3 ? atof(argv[3]) : 2.0;
	struct engine_ctx ctx = { .sa_admission_done = true };
	struct profile_set set;
	struct errlist errs;
	struct findings f;
	struct pod *pod = NULL;
	size_t len, iters, nfind;
	char *review;
	struct arena *ra = arena_new(16384);
	const struct jval *obj = NULL;
	double t0, el;

	profile_set_init(&set);
	errlist_init(&errs, 0);
	manifest_walk(profiles, add_profile, &set, &errs);
	synthetic_profiles(&set, 1000);
	review = slurp(review_path, &len);
	if (!ra || jval_parse(review, len, NULL, ra, &obj, NULL) < 0 ||
	    pod_from_jval(jval_get(jval_get(obj, "request"), "object"), "payments", &errs, &pod) < 0) {
		fprintf(stderr, "bad review\n");
		return 1;
	}
	findings_init(&f, 0);
	engine_eval_pod(&set, pod, &ctx, &f);
	nfind = f.n;

	/* Evaluate only. */
	iters = 0;
	t0 = now();
	do {
		for (int i = 0; i < 1000; i++) {
			findings_clear(&f);
			engine_eval_pod(&set, pod, &ctx, &f);
		}
		iters += 1000;
	} while ((el = now() - t0) < seconds);
	printf("engine_eval_only profiles=%zu findings=%zu ns_per_op=%.0f ops_per_s=%.0f\n",
	       set.n, nfind, el / (double)iters * 1e9, (double)iters / el);

	/* Parse + extract + evaluate a whole AdmissionReview body, read by
	 * jansson and copied to the model's tree (what YAML input costs). */
	iters = 0;
	t0 = now();
	do {
		for (int i = 0; i < 200; i++) {
			json_t *rv = json_loadb(review, len, 0, NULL);
			struct arena *a = arena_new(16384);
			const struct jval *v;
			struct pod *p = NULL;

			if (jval_from_json(json_object_get(json_object_get(rv, "request"), "object"), a, &v) == 0)
				pod_from_jval(v, "payments", &errs, &p);
			findings_clear(&f);
			engine_eval_pod(&set, p, &ctx, &f);
			pod_free(p);
			arena_free(a);
			json_decref(rv);
		}
		iters += 200;
	} while ((el = now() - t0) < seconds);
	printf("engine_parse_eval_jansson bytes=%zu ns_per_op=%.0f ops_per_s=%.0f\n", len,
	       el / (double)iters * 1e9, (double)iters / el);

	/* The same through the fast reader, as the webhook does it. */
	iters = 0;
	t0 = now();
	do {
		for (int i = 0; i < 200; i++) {
			struct arena *a = arena_new(16384);
			const struct jval *rv;
			struct pod *p = NULL;

			if (jval_parse(review, len, NULL, a, &rv, NULL) == 0)
				pod_from_jval(jval_get(jval_get(rv, "request"), "object"), "payments", &errs, &p);
			findings_clear(&f);
			engine_eval_pod(&set, p, &ctx, &f);
			pod_free(p);
			arena_free(a);
		}
		iters += 200;
	} while ((el = now() - t0) < seconds);
	printf("engine_parse_eval bytes=%zu ns_per_op=%.0f ops_per_s=%.0f\n", len,
	       el / (double)iters * 1e9, (double)iters / el);

	/* The JSON parse alone, to show where the time of the above goes. */
	iters = 0;
	t0 = now();
	do {
		for (int i = 0; i < 200; i++)
			json_decref(json_loadb(review, len, 0, NULL));
		iters += 200;
	} while ((el = now() - t0) < seconds);
	printf("jansson_parse_only bytes=%zu ns_per_op=%.0f ops_per_s=%.0f\n", len,
	       el / (double)iters * 1e9, (double)iters / el);

	findings_free(&f);
	pod_free(pod);
	arena_free(ra);
	pg_free(review);
	errlist_free(&errs);
	profile_set_free(&set);
	return 0;
}
