/* bench_rbac.c - `profileguard rbac`'s work without the file read: 100,000
 * audit events (the most one file may hold) of 1,000 ServiceAccounts in 50
 * namespaces, each making 60 distinct calls (get of named objects, list
 * and watch, calls in another namespace, /healthz), parsed from JSON lines
 * and folded into the smallest roles.  Prints key=value lines for
 * bench/run.  Usage: bench_rbac [EVENTS] [ROUNDS] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "leastpriv.h"
#include "telemetry.h"

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int on_event(void *ud, const struct telemetry_event *e)
{
	struct leastpriv *lp = ud;
	const char *rest = e->ev.username + strlen("system:serviceaccount:");
	const char *colon = strchr(rest, ':');
	char ns[64];
	struct leastpriv_call c = { 0 };

	snprintf(ns, sizeof(ns), "%.*s", (int)(colon - rest), rest);
	c.sa_namespace = ns;
	c.sa_name = colon + 1;
	c.verb = e->ev.verb;
	c.group = e->ev.api_group;
	c.resource = e->ev.resource;
	c.subresource = e->ev.subresource;
	c.name = e->ev.object_name;
	c.namespace = e->ev.object_namespace;
	c.path = c.resource ? NULL : e->request_uri;
	c.code = e->code;
	c.time = e->ev.time;
	return leastpriv_add(lp, &c) == -ENOMEM ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const char *const res[] = { "configmaps", "secrets", "pods", "services", "endpoints", "leases" };
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	struct buf body = BUF_INIT((size_t)1 << 31);
	double best_parse = 1e9, best_all = 1e9;
	size_t rules = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned sa = (unsigned)(i % 1000), k = (unsigned)((i / 1000) % 60);
		const char *verb = k % 3 == 0 ? "list" : k % 3 == 1 ? "get" : "watch";
		char ref[256];

		if (k == 59)
			snprintf(ref, sizeof(ref), "\"requestURI\":\"/healthz\"");
		else
			snprintf(ref, sizeof(ref), "\"requestURI\":\"/x\",\"objectRef\":{\"resource\":\"%s\",\"namespace\":\"ns%u\"%s%s%s,\"apiVersion\":\"v1\"}",
				 res[k % 6], k % 10 == 9 ? (sa + 1) % 50 : sa % 50, k % 3 == 1 ? ",\"name\":\"obj-" : "",
				 k % 3 == 1 ? (const char *[]){ "a", "b", "c", "d" }[i % 4] : "", k % 3 == 1 ? "\"" : "");
		buf_printf(&body,
			   "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"%zu\","
			   "\"stage\":\"ResponseComplete\",%s,\"verb\":\"%s\",\"user\":{\"username\":"
			   "\"system:serviceaccount:ns%u:sa%u\"},\"sourceIPs\":[\"10.0.0.1\"],"
			   "\"responseStatus\":{\"code\":%d},\"requestReceivedTimestamp\":\"2026-12-01T10:00:00Z\","
			   "\"stageTimestamp\":\"2026-12-01T10:%02zu:00Z\"}\n",
			   i, ref, verb, sa % 50, sa, k == 58 ? 403 : 200, i % 60);
	}
	for (int r = 0; r < rounds; r++) {
		struct leastpriv *lp;
		struct leastpriv_account *acc;
		struct telemetry_stats st;
		size_t nacc;
		double t0, t1, t2;

		if (leastpriv_new(&lp) < 0)
			return 1;
		t0 = cpu_s();
		if (telemetry_parse(TELEMETRY_AUDIT, buf_str(&body), body.len, on_event, lp, &st) < 0 || st.rejected) {
			fprintf(stderr, "bench_rbac: parse failed: %s\n", st.first_error);
			return 1;
		}
		t1 = cpu_s();
		if (leastpriv_accounts(lp, &acc, &nacc) < 0)
			return 1;
		t2 = cpu_s();
		rules = 0;
		for (size_t i = 0; i < nacc; i++)
			for (size_t j = 0; j < acc[i].nroles; j++)
				rules += acc[i].roles[j].nrules;
		if (t1 - t0 < best_parse)
			best_parse = t1 - t0;
		if (t2 - t0 < best_all)
			best_all = t2 - t0;
		leastpriv_free(lp);
	}
	printf("rbac_events events=%zu accounts=1000 rules=%zu cpu_s=%.4f events_per_s=%.0f build_s=%.4f\n", n, rules,
	       best_all, (double)n / best_all, best_all - best_parse);
	buf_free(&body);
	return 0;
}
