/* bench_informer.c - how long a pod informer takes to sync from the API
 * stand-in, and how much memory each cached pod costs.
 *
 * Usage: bench_informer PODS [PAGE_SIZE]   (PG_SRCDIR: the source tree)
 *
 * Seeds PODS realistic pods (2-4 KB of JSON each: two containers, labels,
 * an owner reference, the projected token volume) into a fresh stand-in,
 * then times list + decode (struct pod via pod_from_jval_kind) until the
 * informer has synced.  Memory is the process RSS after the sync minus
 * the RSS before it, both after malloc_trim(), so the transient JSON of the
 * list pages is not counted; the heap in use (mallinfo2) and the pods' own
 * arenas are reported beside it, and the CPU time of this process (the
 * client's own cost, TLS and JSON included; the stand-in's is not).  One
 * line of key=value pairs. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "arena.h"
#include "kube_api.h"
#include "kube_decode.h"
#include "kube_informer.h"
#include "pod.h"
#include "standin_harness.h"

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/* CPU seconds this process used: the client's share of a sync, apart from
 * the stand-in's. */
static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* Free bytes malloc keeps (fragments between live blocks). */
static size_t heap_free(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.fordblks;
}

/* Writes the seed file: PODS pods over 50 namespaces.  Returns the mean
 * JSON size of one pod. */
static double write_seed(const char *path, unsigned pods)
{
	FILE *f = fopen(path, "w");
	size_t total = 0;

	if (!f)
		kt_die("cannot write %s: %s", path, strerror(errno));
	fputs("{\"items\":[", f);
	for (unsigned i = 0; i < pods; i++) {
		char ns[32], name[96], app[32];
		json_t *pod;
		char *text;

		snprintf(ns, sizeof(ns), "team-%02u", i % 50);
		snprintf(app, sizeof(app), "svc-%u", (i / 50) % 200);
		snprintf(name, sizeof(name), "%s-7d9f8c6b5d-%05x", app, i);
		pod = kt_pod(ns, name, app, true, i);
		if (!pod)
			kt_die("kt_pod failed");
		text = json_dumps(pod, JSON_COMPACT);
		total += strlen(text);
		fprintf(f, "%s%s", i ? "," : "", text);
		free(text);
		json_decref(pod);
	}
	fputs("]}\n", f);
	if (fclose(f) != 0)
		kt_die("cannot write %s", path);
	return pods ? (double)total / pods : 0;
}

struct sizes {
	size_t arenas;
};

static int add_sizes(void *ud, struct kube_object *o)
{
	struct sizes *s = ud;
	const struct pod *p = kube_object_data(o);

	s->arenas += arena_footprint(p->arena) + sizeof(*p);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned pods = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 10000;
	unsigned page = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 500;
	const char *args[4] = { "--seed", NULL, NULL };
	struct kube_informer_opts o = {
		.resource = &kube_res_pods,
		.page_size = page,
		.decode = kube_decode_pod,
		.free_data = kube_free_pod,
	};
	struct kube_client_opts co;
	struct kube_informer_stats st;
	struct kube_informer *inf;
	struct kube_client *c;
	struct kt_standin s;
	struct sizes sz = { 0 };
	char seed[] = "/tmp/pgkube-bench-seed-XXXXXX";
	double mean_json, t0, secs, cpu0, cpu;
	long rss0, rss1;
	size_t heap0, heap1, free0, free1, n;
	json_t *warm;
	int fd;

	if (pods == 0 || page == 0) {
		fprintf(stderr, "usage: %s PODS [PAGE_SIZE]\n", argv[0]);
		return 2;
	}
	fd = mkstemp(seed);
	if (fd < 0)
		kt_die("mkstemp: %s", strerror(errno));
	close(fd);
	mean_json = write_seed(seed, pods);
	args[1] = seed;
	t0 = kt_now();
	kt_start(&s, 0, args);
	fprintf(stderr, "bench: stand-in up with %u pods in %.1f s\n", pods, kt_now() - t0);
	unlink(seed);

	/* The client, TLS and one request before the baseline: only the
	 * informer and its cache are measured. */
	kube_client_opts_default(&co);
	co.qps = 0;
	co.timeout_ms = 600000;
	c = kt_client(&s, KT_AUTH_CERT, NULL, &co);
	if (kube_api_get(c, &kube_res_namespaces, NULL, "default", &warm, NULL) < 0)
		kt_die("warm-up request failed");
	json_decref(warm);
	malloc_trim(0);
	rss0 = rss_bytes();
	heap0 = heap_in_use();
	free0 = heap_free();

	if (kube_informer_new(c, &o, &inf) < 0 || kube_informer_start(inf) < 0)
		kt_die("informer start failed");
	t0 = kt_now();
	cpu0 = cpu_seconds();
	if (kube_informer_wait_synced(inf, 3600 * 1000L) < 0)
		kt_die("informer did not sync");
	secs = kt_now() - t0;
	cpu = cpu_seconds() - cpu0;
	/* Stop the thread (the cache stays): nothing moves while measuring. */
	kube_informer_stop(inf);
	malloc_trim(0);
	rss1 = rss_bytes();
	heap1 = heap_in_use();
	free1 = heap_free();
	n = kube_informer_count(inf);
	kube_informer_foreach(inf, add_sizes, &sz);
	kube_informer_stats(inf, &st);
	if (n != pods)
		kt_die("cached %zu pods of %u", n, pods);
	printf("pods=%u page=%u sync_seconds=%.2f pods_per_s=%.0f client_cpu_us_per_pod=%.1f "
	       "rss_bytes_per_pod=%.0f "
	       "heap_bytes_per_pod=%.0f pod_arena_bytes_per_pod=%.0f json_bytes_per_pod=%.0f "
	       "heap_free_bytes_per_pod=%.0f pages=%llu\n",
	       pods, page, secs, pods / secs, cpu * 1e6 / pods, (double)(rss1 - rss0) / pods,
	       (double)(heap1 - heap0) / pods, (double)sz.arenas / pods, mean_json,
	       ((double)free1 - (double)free0) / pods, (unsigned long long)st.list_pages);
	kube_informer_free(inf);
	kube_client_free(c);
	kt_stop(&s);
	return 0;
}
