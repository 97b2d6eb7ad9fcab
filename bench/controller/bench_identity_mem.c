/* bench_identity_mem.c - the identity inventory's memory per account in
 * the controller (src/controller/identities.c), beyond the caches it
 * reads (pods, ServiceAccounts, RBAC objects): 10,000 ServiceAccounts in
 * 100 namespaces, each with a pod and a Deployment naming it, evaluated
 * once (every report built and "written" to a no-op writer).  The pods
 * and ServiceAccount values are built before the first heap reading, as
 * their informers own them.  Prints one key=value line for bench/run.
 * Usage: bench_identity_mem [ACCOUNTS] */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "errlist.h"
#include "identities.h"
#include "jval.h"
#include "pod.h"

static size_t heap(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static int no_write(void *ud, const struct identities_write *w)
{
	(void)ud;
	(void)w;
	return 0;
}

static const struct jval *parse(struct arena *a, const char *json)
{
	struct jval_limits lim = JVAL_LIMITS_DEFAULT;
	struct jval_error err;
	const struct jval *v;

	if (jval_parse(json, strlen(json), &lim, a, &v, &err) < 0) {
		fprintf(stderr, "bench_identity_mem: %s\n", err.msg);
		exit(1);
	}
	return v;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	struct identities_config cfg = { .write = no_write, .settle_ms = -1, .max_writes = 1000000 };
	struct identities_sa **sas = calloc((size_t)n, sizeof(*sas));
	struct pod **pods = calloc((size_t)n, sizeof(*pods));
	struct arena *a = arena_new(1 << 20);
	struct identities *id;
	struct identities_stats st;
	char buf[2048], ns[32], name[32], uid[32];
	size_t h0, h1, written;

	if (!sas || !pods || !a || identities_new(&cfg, &id) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		struct errlist e;
		void *v = NULL;

		snprintf(ns, sizeof(ns), "ns-%d", i % 100);
		snprintf(name, sizeof(name), "sa-%d", i);
		snprintf(buf, sizeof(buf), "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"%s\","
			 "\"namespace\":\"%s\",\"uid\":\"u-%d\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"}}", name, ns, i);
		if (identities_decode_sa(id, parse(a, buf), &v) < 0)
			return 1;
		sas[i] = v;
		snprintf(buf, sizeof(buf), "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p-%d\","
			 "\"namespace\":\"%s\",\"uid\":\"pu-%d\"},\"spec\":{\"serviceAccountName\":\"%s\","
			 "\"containers\":[{\"name\":\"c\",\"image\":\"i\"}],\"volumes\":[{\"name\":\"kube-api-access-x\","
			 "\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}}]}}]},"
			 "\"status\":{\"phase\":\"Running\"}}", i, ns, i, name);
		errlist_init(&e, 4);
		if (pod_from_jval(parse(a, buf), NULL, &e, &pods[i]) < 0)
			return 1;
		errlist_free(&e);
	}
	arena_free(a);
	h0 = heap();
	for (int i = 0; i < n; i++) {
		snprintf(ns, sizeof(ns), "ns-%d", i % 100);
		snprintf(name, sizeof(name), "sa-%d", i);
		snprintf(uid, sizeof(uid), "u-%d", i);
		identities_sa_changed(id, ns, name, uid, sas[i]);
		identities_pod_changed(id, NULL, pods[i]);
		snprintf(buf, sizeof(buf), "d-%d", i);
		identities_workload_changed(id, IDWL_DEPLOYMENTS, ns, buf, NULL, name);
	}
	identities_set_synced(id, true);
	identities_new_term(id);
	written = identities_flush(id, 1LL << 40, 1796169600);
	h1 = heap();
	identities_stats(id, &st);
	printf("identity_memory accounts=%zu reports_written=%zu bytes_per_account=%.0f\n", st.accounts, written,
	       (double)(h1 - h0) / (double)n);
	identities_free(id);
	for (int i = 0; i < n; i++) {
		identities_free_sa(NULL, sas[i]);
		pod_free(pods[i]);
	}
	free(sas);
	free(pods);
	return 0;
}
