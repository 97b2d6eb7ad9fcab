/* bench_match.c - what a hostile profile costs the engine (SPEC §2
 * "Bounds"): 250 patterns of ~4 KB built to make a matcher backtrack
 * ('*aaaa...ab' and kin), plus the one pattern that allows, against a pod
 * of 300 containers with 1 KB image names, and against one exec event of
 * a 4 KB path.  Prints one line per case: CPU ms per pod or per event.
 * Builds against any revision of the engine, so the same file measures
 * the matcher before and after (bench/engine/README.md). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "engine.h"
#include "errlist.h"
#include "jval.h"
#include "pod.h"
#include "profile.h"
#include "runtime.h"

#define NPATTERNS 250
#define NCONTAINERS 300
#define IMAGE_RUN 990           /* 'a's in each image name: ~1 KB with the registry */
#define EXE_RUN 4076            /* 'a's in the exec path: 4 KB with ".sh", PATH_MAX */

/* CPU time, not wall time: what a judgement costs the server, and steady
 * on a shared machine. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* @lead '*', then @run 'a's with a '?' @q from the end (0: none), 'b', and
 * a '*' when @trail. */
static char *hostile(size_t run, size_t q, int trail)
{
	char *p = malloc(run + 4);
	size_t n = 0;

	p[n++] = '*';
	memset(p + n, 'a', run);
	n += run;
	if (q)
		p[n - q] = '?';
	p[n++] = 'b';
	if (trail)
		p[n++] = '*';
	p[n] = '\0';
	return p;
}

static json_t *strlist(const char *pattern, const char *allow)
{
	json_t *a = json_array();

	for (int i = 0; i < NPATTERNS; i++)
		json_array_append_new(a, json_string(pattern));
	json_array_append_new(a, json_string(allow));
	return a;
}

static struct profile *make_profile(const char *img_pat, const char *exe_pat)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:s}}, s:s, s:{s:o}, s:{s:o}}}",
			      "apiVersion", "profileguard.io/v1alpha1", "kind", "WorkloadProfile",
			      "metadata", "name", "hostile", "namespace", "t",
			      "spec", "selector", "matchLabels", "app", "victim", "mode", "Enforce",
			      "images", "allow", strlist(img_pat, "registry.example.com/*"),
			      "runtime", "executables", strlist(exe_pat, "/usr/bin/*"));
	struct arena *a = arena_new(64 * 1024);
	const struct jval *v;
	struct errlist errs;
	struct profile *p = NULL;

	errlist_init(&errs, 0);
	if (!o || !a || jval_from_json(o, a, &v) < 0 || profile_parse(v, "t", &errs, &p) < 0) {
		fprintf(stderr, "profile refused: %s\n", errs.n ? errs.msgs[0] : "?");
		exit(1);
	}
	errlist_free(&errs);
	arena_free(a);
	json_decref(o);
	return p;
}

static struct pod *make_pod(void)
{
	json_t *cs = json_array(), *o;
	char *image = malloc(IMAGE_RUN + 64);
	struct arena *a = arena_new(64 * 1024);
	const struct jval *v;
	struct errlist errs;
	struct pod *pod = NULL;

	snprintf(image, IMAGE_RUN + 64, "registry.example.com/%0*d:v1", IMAGE_RUN, 0);
	memset(image + strlen("registry.example.com/"), 'a', IMAGE_RUN);
	for (int i = 0; i < NCONTAINERS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "c%d", i);
		json_array_append_new(cs, json_pack("{s:s, s:s}", "name", name, "image", image));
	}
	o = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:o}}", "apiVersion", "v1", "kind", "Pod",
		      "metadata", "name", "victim-0", "namespace", "t", "labels", "app", "victim",
		      "spec", "containers", cs);
	errlist_init(&errs, 0);
	if (!o || !a || jval_from_json(o, a, &v) < 0 || pod_from_jval(v, "t", &errs, &pod) < 0) {
		fprintf(stderr, "pod refused: %s\n", errs.n ? errs.msgs[0] : "?");
		exit(1);
	}
	errlist_free(&errs);
	arena_free(a);
	json_decref(o);
	free(image);
	return pod;
}

/* Runs @fn until @seconds have passed (at least once); seconds per call. */
static double timed(double seconds, int (*fn)(void *), void *ud, size_t *ret_findings)
{
	size_t iters = 0;
	double t0 = now(), el;

	do {
		*ret_findings = (size_t)fn(ud);
		iters++;
	} while ((el = now() - t0) < seconds);
	return el / (double)iters;
}

struct run {
	struct profile_set set;
	struct profile *prof;
	struct pod *pod;
	struct runtime_event ev;
	struct findings f;
};

static int judge_pod(void *ud)
{
	struct run *r = ud;
	struct engine_ctx ctx = { .sa_admission_done = true };

	findings_clear(&r->f);
	engine_eval_pod(&r->set, r->pod, &ctx, &r->f);
	return (int)r->f.n;
}

static int judge_exec(void *ud)
{
	struct run *r = ud;

	findings_clear(&r->f);
	runtime_judge(r->prof, r->pod, &r->ev, &r->f);
	return (int)r->f.n;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	/* The pattern families: the ('*a..ab', a '*' at the start
	 * only), one in the middle ('*a..ab*'), and the same with a '?'
	 * (Shift-And), long (4 KB) and sized to the text (the new matcher's
	 * worst: a run about half the text). */
	static const struct {
		const char *name;
		size_t img_run, exe_run, q;
		int trail;
	} cases[] = {
		{ "star_prefix_4k", 4094, 4094, 0, 0 },
		{ "star_both_4k", 4093, 4093, 0, 1 },
		{ "star_both_q_4k", 4093, 4093, 50, 1 },
		{ "star_both_half", IMAGE_RUN / 2, EXE_RUN / 2, 0, 1 },
		{ "star_both_q_half", IMAGE_RUN / 2, EXE_RUN / 2, 50, 1 },
	};
	char *exe = malloc(EXE_RUN + 16);

	memcpy(exe, "/usr/bin/", 9);
	memset(exe + 9, 'a', EXE_RUN);
	/* a byte other than 'a' after the run, so a backtracking matcher
	 * fails late rather than at the end of the text */
	memcpy(exe + 9 + EXE_RUN, ".sh", 4);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char *ip = hostile(cases[c].img_run, cases[c].q, cases[c].trail);
		char *ep = hostile(cases[c].exe_run, cases[c].q, cases[c].trail);
		struct run r = { 0 };
		size_t nf_pod, nf_exec;
		double t_pod, t_exec;

		profile_set_init(&r.set);
		r.prof = make_profile(ip, ep);
		profile_set_add(&r.set, r.prof);
		r.pod = make_pod();
		r.ev = (struct runtime_event){ .kind = RUNTIME_EXEC, .container = "c0", .exe = exe, .iat = -1, .exp = -1 };
		findings_init(&r.f, 0);
		t_pod = timed(seconds, judge_pod, &r, &nf_pod);
		t_exec = timed(seconds, judge_exec, &r, &nf_exec);
		printf("match_%s patterns=%d pattern_bytes=%zu containers=%d image_bytes=%zu exe_bytes=%zu "
		       "pod_ms=%.3f exec_ms=%.3f findings=%zu/%zu\n",
		       cases[c].name, NPATTERNS, strlen(ip), NCONTAINERS, strlen(r.pod->containers[0].image),
		       strlen(exe), t_pod * 1e3, t_exec * 1e3, nf_pod, nf_exec);
		fflush(stdout);
		findings_free(&r.f);
		pod_free(r.pod);
		profile_set_free(&r.set);
		free(ip);
		free(ep);
	}
	free(exe);
	return 0;
}
