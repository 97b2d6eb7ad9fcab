/* bench_telemetry.c - native events judged per second on one core: parse
 * (strict reader, one arena per line) + runtime judgement against a
 * realistic profile.  Attribution (a hash lookup in the controller) is
 * not included here.  Prints events/s and ns/event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "doc.h"
#include "errlist.h"
#include "jval.h"
#include "runtime.h"
#include "telemetry.h"

/* @j as the model reads it (jval.h), in an arena kept for the run. */
static const struct jval *jv(json_t *j)
{
	static struct arena *a;
	const struct jval *v = NULL;

	if (!a)
		a = arena_new(64 * 1024);
	if (!a || !j || jval_from_json(j, a, &v) < 0)
		return NULL;
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct judge_ctx {
	const struct profile *prof;
	const struct pod *pod;
	struct findings f;
	size_t findings;
};

static int judge(void *ud, const struct telemetry_event *e)
{
	struct judge_ctx *j = ud;

	findings_clear(&j->f);
	runtime_judge(j->prof, j->pod, &e->ev, &j->f);
	j->findings += j->f.n;
	return 0;
}

static int first_doc(void *ud, size_t index, json_t *doc)
{
	json_t **ret = ud;

	if (!*ret)
		*ret = json_incref(doc);
	return 0;
}

static json_t *yaml(const char *s)
{
	json_t *ret = NULL;
	struct doc_error err;

	doc_parse(s, strlen(s), NULL, first_doc, &ret, &err);
	return ret;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)atol(argv[1]) : 200000;
	double seconds = argc > 2 ? atof(argv[2]) : 3.0;
	json_t *pj = yaml("apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
			  "metadata: {name: payments-api, namespace: payments}\n"
			  "spec:\n  selector: {matchLabels: {app: payments-api}}\n  mode: Enforce\n"
			  "  runtime:\n    executables: [/app/server, /usr/bin/curl, \"/usr/lib/*\"]\n"
			  "    egress: [{cidr: 10.0.0.0/8, ports: [5432, 443]}, {cidr: 10.96.0.10/32, ports: [53]}]\n"
			  "    files: {read: [\"/etc/ssl/*\", \"/app/*\"], write: [\"/tmp/*\"]}\n");
	json_t *podj = yaml("apiVersion: v1\nkind: Pod\nmetadata: {name: payments-api-7d9f-x2, namespace: payments, labels: {app: payments-api}}\n"
			    "spec: {containers: [{name: api, image: x}]}\n");
	const struct jval *pv, *podv;
	struct judge_ctx j = { 0 };
	struct errlist errs;
	struct profile *prof = NULL;
	struct pod *pod = NULL;
	struct telemetry_stats st;
	char *body;
	size_t len = 0, cap = n * 300 + 1, iters = 0;
	double t0, el;

	errlist_init(&errs, 0);
	if (!pj || !podj || !(pv = jv(pj)) || !(podv = jv(podj)) ||
	    profile_parse(pv, "default", &errs, &prof) || pod_from_jval(podv, "default", &errs, &pod)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	j.prof = prof;
	j.pod = pod;
	findings_init(&j.f, 0);
	body = malloc(cap);
	/* A realistic mix: mostly allowed, some drift. */
	for (size_t i = 0; i < n; i++) {
		const char *tail;

		switch (i % 4) {
		case 0: tail = "\"kind\":\"exec\",\"exe\":\"/usr/bin/curl\",\"args\":[\"-s\",\"https://ledger\"]"; break;
		case 1: tail = "\"kind\":\"connect\",\"daddr\":\"10.96.14.2\",\"dport\":5432,\"protocol\":\"tcp\""; break;
		case 2: tail = "\"kind\":\"open\",\"path\":\"/etc/ssl/certs/ca.pem\",\"write\":false"; break;
		default: tail = i % 40 == 3 ? "\"kind\":\"exec\",\"exe\":\"/bin/sh\"" :
				"\"kind\":\"connect\",\"daddr\":\"10.96.0.10\",\"dport\":53,\"protocol\":\"udp\""; break;
		}
		len += (size_t)snprintf(body + len, cap - len,
					"{\"time\":\"2026-11-22T10:00:00Z\",\"node\":\"node-a\",\"pod\":{\"namespace\":\"payments\","
					"\"name\":\"payments-api-7d9f-x2\",\"uid\":\"8a7c2e1f-9b3d-4c5e-8f7a-6b5c4d3e2f1a\"},"
					"\"container\":\"api\",%s}\n", tail);
	}
	t0 = now();
	do {
		telemetry_parse(TELEMETRY_NATIVE, body, len, judge, &j, &st);
		iters++;
	} while ((el = now() - t0) < seconds);
	printf("telemetry_native_judged events=%zu bytes_per_event=%zu ns_per_event=%.0f events_per_s=%.0f findings_per_batch=%zu\n",
	       st.accepted, len / n, el / (double)(iters * st.accepted) * 1e9, (double)(iters * st.accepted) / el,
	       j.findings / iters);
	free(body);
	findings_free(&j.f);
	profile_free(prof);
	pod_free(pod);
	json_decref(pj);
	json_decref(podj);
	errlist_free(&errs);
	return 0;
}
