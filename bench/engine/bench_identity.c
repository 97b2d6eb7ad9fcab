/* bench_identity.c - the identity inventory's engine at cluster scale:
 * 10,000 ServiceAccounts in 100 namespaces, 2,000 Roles and ClusterRoles,
 * 20,000 bindings (some to the service-account groups), parsed from their
 * API objects.  Measures the full evaluation (every account's grants
 * judged), one binding change (the put, the accounts it names, their
 * re-judgement), and the index's memory.  Prints key=value lines for
 * bench/run.  Usage: bench_identity [ROUNDS] */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "errlist.h"
#include "identity.h"
#include "jval.h"
#include "rbac.h"

#define NS 100
#define SA_PER_NS 100
#define ROLES_PER_NS 10                 /* 1,000 Roles */
#define CLUSTER_ROLES 1000
#define RB_PER_NS 180                   /* 18,000 RoleBindings */
#define CRBS 2000

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static const struct jval *parse(struct arena *a, const char *json)
{
	const struct jval *v;
	struct jval_error err;
	struct jval_limits lim = JVAL_LIMITS_DEFAULT;

	if (jval_parse(json, strlen(json), &lim, a, &v, &err) < 0) {
		fprintf(stderr, "bench_identity: %s: %s\n", json, err.msg);
		exit(1);
	}
	return v;
}

/* A role of five rules, one of them sometimes risky. */
static void role_json(char *out, size_t n, const char *ns, int i)
{
	static const char *const risky[] = {
		"{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],\"verbs\":[\"get\"]}",
		"{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],\"verbs\":[\"get\",\"list\"]}",
		"{\"apiGroups\":[\"apps\"],\"resources\":[\"deployments\"],\"verbs\":[\"create\",\"update\"]}",
		"{\"apiGroups\":[\"\"],\"resources\":[\"pods/exec\"],\"verbs\":[\"create\"]}",
		"{\"apiGroups\":[\"monitoring.coreos.com\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]}",
	};

	snprintf(out, n, "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"%s\","
		 "\"metadata\":{\"name\":\"role-%d\"%s%s%s},\"rules\":["
		 "{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"services\",\"endpoints\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
		 "{\"apiGroups\":[\"apps\"],\"resources\":[\"deployments\",\"replicasets\"],\"verbs\":[\"get\",\"list\"]},"
		 "{\"apiGroups\":[\"coordination.k8s.io\"],\"resources\":[\"leases\"],\"resourceNames\":[\"x\"],\"verbs\":[\"get\",\"update\"]},"
		 "{\"apiGroups\":[\"events.k8s.io\"],\"resources\":[\"events\"],\"verbs\":[\"create\",\"patch\"]},%s]}",
		 ns ? "Role" : "ClusterRole", i, ns ? ",\"namespace\":\"" : "", ns ? ns : "", ns ? "\"" : "",
		 risky[i % 5]);
}

static void binding_json(char *out, size_t n, const char *ns, int i, const char *role_kind, int role,
			 const char *subjects)
{
	snprintf(out, n, "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"%s\","
		 "\"metadata\":{\"name\":\"b-%d\"%s%s%s},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\","
		 "\"kind\":\"%s\",\"name\":\"role-%d\"},\"subjects\":[%s]}",
		 ns ? "RoleBinding" : "ClusterRoleBinding", i, ns ? ",\"namespace\":\"" : "", ns ? ns : "",
		 ns ? "\"" : "", role_kind, role, subjects);
}

static struct rbac_binding *binding(const char *json)
{
	struct arena *a = arena_new(4096);
	struct rbac_binding *b;
	struct errlist e;

	errlist_init(&e, 4);
	if (rbac_binding_parse(parse(a, json), NULL, &e, &b) < 0) {
		fprintf(stderr, "bench_identity: %s\n", e.n ? e.msgs[0] : "binding");
		exit(1);
	}
	errlist_free(&e);
	arena_free(a);
	return b;
}

static size_t ndirty;

static void count_dirty(void *ud, const char *ns, const char *name)
{
	struct identity_index *x = ud;
	struct risk_result res;

	/* Re-judge what the change touched, as the controller will. */
	if (ns && name) {
		identity_index_judge(x, ns, name, &res);
		ndirty++;
	}
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3;
	static char buf[8192], subj[1024], ns[32], ns2[32];
	struct identity_index *x;
	struct identity_index_stats st;
	struct risk_result *res = malloc(sizeof(*res));
	size_t h0, h1, levels[RISK_CRITICAL + 1] = { 0 };
	double t0, build_s, full_s = 1e9, change_s = 1e9;

	h0 = heap();
	t0 = cpu_s();
	identity_index_new(&x);
	for (int n = 0; n < NS; n++) {
		snprintf(ns, sizeof(ns), "ns-%d", n);
		for (int r = 0; r < ROLES_PER_NS; r++) {
			struct arena *a = arena_new(4096);
			struct rbac_role *role;
			struct errlist e;

			errlist_init(&e, 4);
			role_json(buf, sizeof(buf), ns, r);
			if (rbac_role_parse(parse(a, buf), NULL, &e, &role) < 0)
				return 1;
			identity_index_put_role(x, role, NULL, NULL);
			errlist_free(&e);
			arena_free(a);
		}
		for (int b = 0; b < RB_PER_NS; b++) {
			/* two accounts each; every 30th to the namespace's group */
			if (b % 30 == 29)
				snprintf(subj, sizeof(subj), "{\"kind\":\"Group\",\"name\":\"system:serviceaccounts:%s\"}", ns);
			else
				snprintf(subj, sizeof(subj), "{\"kind\":\"ServiceAccount\",\"name\":\"sa-%d\",\"namespace\":\"%s\"},"
					 "{\"kind\":\"ServiceAccount\",\"name\":\"sa-%d\",\"namespace\":\"%s\"}",
					 b % SA_PER_NS, ns, (b * 7 + 3) % SA_PER_NS, ns);
			binding_json(buf, sizeof(buf), ns, b, b % 3 ? "Role" : "ClusterRole",
				     b % 3 ? b % ROLES_PER_NS : (n * 10 + b) % CLUSTER_ROLES, subj);
			identity_index_put_binding(x, binding(buf), NULL, NULL);
		}
	}
	for (int r = 0; r < CLUSTER_ROLES; r++) {
		struct arena *a = arena_new(4096);
		struct rbac_role *role;
		struct errlist e;

		errlist_init(&e, 4);
		role_json(buf, sizeof(buf), NULL, r);
		if (rbac_role_parse(parse(a, buf), NULL, &e, &role) < 0)
			return 1;
		identity_index_put_role(x, role, NULL, NULL);
		errlist_free(&e);
		arena_free(a);
	}
	for (int b = 0; b < CRBS; b++) {
		if (b < 3)      /* what every cluster has: discovery for everyone */
			snprintf(subj, sizeof(subj), "{\"kind\":\"Group\",\"name\":\"system:authenticated\"}");
		else
			snprintf(subj, sizeof(subj), "{\"kind\":\"ServiceAccount\",\"name\":\"sa-%d\",\"namespace\":\"ns-%d\"}",
				 b % SA_PER_NS, b % NS);
		binding_json(buf, sizeof(buf), NULL, b, "ClusterRole", b < 3 ? 0 : 900 + b % 100, subj);
		identity_index_put_binding(x, binding(buf), NULL, NULL);
	}
	build_s = cpu_s() - t0;
	h1 = heap();
	identity_index_stats(x, &st);

	for (int round = 0; round < rounds; round++) {
		double t;

		memset(levels, 0, sizeof(levels));
		t = cpu_s();
		for (int n = 0; n < NS; n++) {
			snprintf(ns, sizeof(ns), "ns-%d", n);
			for (int s = 0; s < SA_PER_NS; s++) {
				char name[32];

				snprintf(name, sizeof(name), "sa-%d", s);
				identity_index_judge(x, ns, name, res);
				levels[res->level]++;
			}
		}
		t = cpu_s() - t;
		if (t < full_s)
			full_s = t;
	}
	/* One binding changed: a new subject list on an existing binding,
	 * the accounts of the old and the new re-judged. */
	for (int round = 0; round < rounds; round++) {
		const int changes = 1000;
		double t = cpu_s();

		ndirty = 0;
		for (int c = 0; c < changes; c++) {
			snprintf(ns2, sizeof(ns2), "ns-%d", c % NS);
			snprintf(subj, sizeof(subj), "{\"kind\":\"ServiceAccount\",\"name\":\"sa-%d\",\"namespace\":\"%s\"}",
				 (c * 13 + round) % SA_PER_NS, ns2);
			binding_json(buf, sizeof(buf), ns2, c % RB_PER_NS, "Role", c % ROLES_PER_NS, subj);
			identity_index_put_binding(x, binding(buf), count_dirty, x);
		}
		t = (cpu_s() - t) / changes;
		if (t < change_s)
			change_s = t;
	}
	printf("identity_build accounts=%d roles=%zu bindings=%zu edges=%zu cpu_s=%.3f\n", NS * SA_PER_NS, st.roles,
	       st.bindings, st.edges, build_s);
	printf("identity_full_eval accounts=%d cpu_s=%.3f us_per_account=%.1f critical=%zu high=%zu medium=%zu "
	       "low=%zu none=%zu\n", NS * SA_PER_NS, full_s, full_s * 1e6 / (NS * SA_PER_NS), levels[RISK_CRITICAL],
	       levels[RISK_HIGH], levels[RISK_MEDIUM], levels[RISK_LOW], levels[RISK_NONE]);
	printf("identity_binding_change us_per_change=%.1f accounts_rejudged_per_change=%.1f\n", change_s * 1e6,
	       (double)ndirty / 1000);
	printf("identity_memory index_bytes=%zu bytes_per_binding=%.0f bytes_per_account_beyond_rbac=0\n", h1 - h0,
	       (double)(h1 - h0) / (double)st.bindings);
	identity_index_free(x);
	free(res);
	return 0;
}
