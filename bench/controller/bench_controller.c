/* bench_controller.c - the controller's own side of a sync and a judge
 * pass, without the network: where a pod's microseconds go.
 *
 * Usage: bench_controller [PODS]   (default 150000)
 *
 * PODS pods of ~2.5 KB of JSON (the shape bench/controller/run seeds:
 * two containers, the projected token volume, an owner, container
 * statuses) over 1,000 namespaces, one profile each.  Figures, one
 * key=value line each:
 *   parse_jansson   json_loads of one pod (what the informer does today)
 *   parse_jval      the fast reader on the same bytes
 *   decode          kube_decode_pod (jansson tree -> compact cached pod)
 *   heap_per_pod    heap held per decoded pod (mallinfo2), shared strings in
 *   judge           one pod against the profiles of its namespace, as the
 *                   controller's judge calls engine_eval_running */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "engine.h"
#include "errlist.h"
#include "jval.h"
#include "kube_decode.h"
#include "pod.h"
#include "profile.h"
#include "xalloc.h"

#define NAMESPACES 1000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static char *pod_json(unsigned i, size_t *len)
{
	static const char digest[] = "sha256:0123456789abcdef0123456789abcdef"
				     "0123456789abcdef0123456789abcdef";
	char *s = NULL;
	unsigned app = i % 7;
	int n;

	n = asprintf(&s,
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"svc-%u-7d9f8c6b5d-%05x\","
		"\"namespace\":\"team-%03u\",\"uid\":\"%08x-1111-2222-3333-444455556666\","
		"\"resourceVersion\":\"%u\",\"generateName\":\"svc-%u-7d9f8c6b5d-\","
		"\"labels\":{\"app\":\"bench\",\"component\":\"svc-%u\",\"pod-template-hash\":\"7d9f8c6b5d\","
		"\"app.kubernetes.io/part-of\":\"shop\",\"tier\":\"backend\"},"
		"\"annotations\":{\"prometheus.io/scrape\":\"true\",\"prometheus.io/port\":\"9090\"},"
		"\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
		"\"name\":\"svc-%u-7d9f8c6b5d\",\"uid\":\"rs-team-%03u-svc-%u\",\"controller\":true,"
		"\"blockOwnerDeletion\":true}]},"
		"\"spec\":{\"serviceAccountName\":\"default\",\"nodeName\":\"node-%u\","
		"\"securityContext\":{\"runAsNonRoot\":true,\"runAsUser\":10001},"
		"\"volumes\":[{\"name\":\"kube-api-access-x7d2k\",\"projected\":{\"defaultMode\":420,"
		"\"sources\":[{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}},"
		"{\"configMap\":{\"name\":\"kube-root-ca.crt\",\"items\":[{\"key\":\"ca.crt\",\"path\":\"ca.crt\"}]}},"
		"{\"downwardAPI\":{\"items\":[{\"path\":\"namespace\",\"fieldRef\":{\"apiVersion\":\"v1\","
		"\"fieldPath\":\"metadata.namespace\"}}]}}]}},"
		"{\"name\":\"config\",\"configMap\":{\"name\":\"svc-%u-config\"}}],"
		"\"containers\":[{\"name\":\"app\",\"image\":\"registry.example.com/shop/svc-%u@%s\","
		"\"ports\":[{\"containerPort\":8080,\"protocol\":\"TCP\"}],"
		"\"env\":[{\"name\":\"LOG_LEVEL\",\"value\":\"info\"},{\"name\":\"DB_HOST\",\"value\":\"db.shop.svc\"}],"
		"\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"},\"limits\":{\"memory\":\"256Mi\"}},"
		"\"securityContext\":{\"allowPrivilegeEscalation\":false,\"privileged\":false,"
		"\"capabilities\":{\"drop\":[\"ALL\"]}},"
		"\"volumeMounts\":[{\"name\":\"kube-api-access-x7d2k\",\"readOnly\":true,"
		"\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\"},"
		"{\"name\":\"config\",\"mountPath\":\"/etc/app\"}]},"
		"{\"name\":\"proxy\",\"image\":\"registry.example.com/shop/proxy@%s\","
		"\"securityContext\":{\"allowPrivilegeEscalation\":false},"
		"\"volumeMounts\":[{\"name\":\"kube-api-access-x7d2k\",\"readOnly\":true,"
		"\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\"}]}]},"
		"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.%u.%u.%u\",\"startTime\":\"2026-11-01T00:00:00Z\","
		"\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":\"ContainersReady\",\"status\":\"True\"}],"
		"\"containerStatuses\":[{\"name\":\"app\",\"ready\":true,\"restartCount\":0,"
		"\"containerID\":\"containerd://%064x\"},{\"name\":\"proxy\",\"ready\":true,"
		"\"restartCount\":0,\"containerID\":\"containerd://%064x\"}]}}",
		app, i, i % NAMESPACES, i, i + 100, app, app, app, i % NAMESPACES, app, i % 40, app, app,
		digest, digest, i % 200, i % 250, i % 199, i, i + 1);
	if (n < 0) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	*len = (size_t)n;
	return s;
}

static struct profile *bench_profile(unsigned k)
{
	char text[2048];
	struct errlist errs;
	struct profile *p = NULL;
	struct arena *a = arena_new(4096);
	const struct jval *obj = NULL;

	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"profileguard.io/v1alpha1\",\"kind\":\"WorkloadProfile\","
		 "\"metadata\":{\"name\":\"bench\",\"namespace\":\"team-%03u\"},"
		 "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"bench\"}},\"mode\":\"Enforce\","
		 "\"identity\":{\"serviceAccountNames\":[\"default\"],\"maxTokenExpirationSeconds\":3607,"
		 "\"legacyTokenSecrets\":\"Forbid\"},"
		 "\"images\":{\"allow\":[\"registry.example.com/shop/*\"],\"requireDigest\":true},"
		 "\"privileges\":{\"privileged\":\"Forbid\",\"privilegeEscalation\":\"Forbid\","
		 "\"hostNamespaces\":\"Forbid\",\"runAsNonRoot\":\"Require\","
		 "\"allowedCapabilities\":[\"NET_BIND_SERVICE\"]},\"response\":{\"action\":\"Delete\"}}}", k);
	errlist_init(&errs, 4);
	if (!a || jval_parse(text, strlen(text), NULL, a, &obj, NULL) < 0 ||
	    profile_parse(obj, "default", &errs, &p) < 0) {
		fprintf(stderr, "bench profile invalid: %s\n", errs.n ? errs.msgs[0] : "?");
		exit(1);
	}
	errlist_free(&errs);
	arena_free(a);
	return p;
}

static void line(const char *name, double secs, unsigned n)
{
	printf("%s ns_per_op=%.0f ops_per_s=%.0f\n", name, secs * 1e9 / n, n / secs);
}

int main(int argc, char **argv)
{
	unsigned pods = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 150000;
	struct profile_set set;
	char **text;
	size_t *len, bytes = 0, heap0, heap1, shared;
	void **cached;
	double t0, t;
	unsigned drifting = 0;

	if (!pods)
		return 2;
	pg_alloc_setup_jansson();
	text = calloc(pods, sizeof(*text));
	len = calloc(pods, sizeof(*len));
	cached = calloc(pods, sizeof(*cached));
	if (!text || !len || !cached)
		return 1;
	for (unsigned i = 0; i < pods; i++) {
		text[i] = pod_json(i, &len[i]);
		bytes += len[i];
	}
	printf("pods n=%u json_bytes_per_pod=%.0f\n", pods, (double)bytes / pods);

	/* Parsing alone: jansson, then the fast reader. */
	t0 = now();
	for (unsigned i = 0; i < pods; i++) {
		json_t *o = json_loadb(text[i], len[i], 0, NULL);

		if (!o)
			return 1;
		json_decref(o);
	}
	t = now() - t0;
	line("parse_jansson", t, pods);
	printf("parse_jansson_mb_per_s value=%.1f\n", (double)bytes / t / 1e6);
	t0 = now();
	for (unsigned i = 0; i < pods; i++) {
		struct arena *a = arena_new(16384);
		const struct jval *v;
		struct jval_error je;
		struct jval_limits lim = JVAL_LIMITS_DEFAULT;

		if (!a || jval_parse(text[i], len[i], &lim, a, &v, &je) < 0)
			return 1;
		arena_free(a);
	}
	t = now() - t0;
	line("parse_jval", t, pods);
	printf("parse_jval_mb_per_s value=%.1f\n", (double)bytes / t / 1e6);

	/* What the informer does per pod today: parse, then decode into the
	 * cached form, which stays. */
	malloc_trim(0);
	heap0 = heap_in_use();
	t0 = now();
	for (unsigned i = 0; i < pods; i++) {
		struct arena *a = arena_new(len[i] + 1024);
		const struct jval *o;

		if (!a || jval_parse(text[i], len[i], NULL, a, &o, NULL) < 0 ||
		    kube_decode_pod(NULL, o, &cached[i]) < 0)
			return 1;
		arena_free(a);
	}
	t = now() - t0;
	line("parse_and_decode", t, pods);
	heap1 = heap_in_use();
	shared = kube_decode_shared_strings();
	printf("heap_per_pod value=%.0f shared_strings=%zu\n", (double)(heap1 - heap0) / pods,
	       shared);

	/* The judge: the profiles of the pod's namespace, then the engine. */
	profile_set_init(&set);
	for (unsigned k = 0; k < NAMESPACES; k++)
		if (profile_set_add(&set, bench_profile(k)) < 0)
			return 1;
	t0 = now();
	for (unsigned i = 0; i < pods; i++) {
		const struct pod *p = cached[i];
		struct engine_ctx ctx = { 0 };
		struct sa_facts sa = { true, 1700000000 };
		struct findings f;

		findings_init(&f, 0);
		if (engine_eval_running(&set, p, &ctx, &sa, &f) < 0)
			return 1;
		drifting += f.n > 0;
		findings_free(&f);
	}
	t = now() - t0;
	line("judge", t, pods);
	printf("judge_findings drifting_pods=%u\n", drifting);

	for (unsigned i = 0; i < pods; i++) {
		kube_free_pod(NULL, cached[i]);
		free(text[i]);
	}
	profile_set_free(&set);
	free(text);
	free(len);
	free(cached);
	return 0;
}
