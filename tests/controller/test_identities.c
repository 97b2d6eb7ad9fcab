/* test_identities.c - the controller's identity inventory: counts kept
 * from the informers' changes, risk from the RBAC index, and reports
 * written sparingly (one write per change, none without one, one per
 * interval, none after a restart that finds them stored). */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "identities.h"
#include "idreport.h"
#include "jval.h"
#include "kube_decode.h"
#include "metrics.h"
#include "pod.h"
#include "ticker.h"
#include "xalloc.h"

#define WALL 1795000000         /* 2026-11-18T11:06:40Z */
#define MIN 60000

static struct arena *arena;

struct writes {
	int n;
	int rc;                 /* what the fake API answers */
	bool exists;
	char ns[64], name[64], uid[64];
	json_t *last;
};

static int fake_write(void *ud, const struct identities_write *w)
{
	struct writes *ws = ud;

	if (ws->rc < 0)
		return ws->rc;
	ws->n++;
	ws->exists = w->exists;
	snprintf(ws->ns, sizeof(ws->ns), "%s", w->ns);
	snprintf(ws->name, sizeof(ws->name), "%s", w->name);
	snprintf(ws->uid, sizeof(ws->uid), "%s", w->sa_uid);
	/* The test's own copy is not under torture. */
	pg_alloc_hold(true);
	json_decref(ws->last);
	ws->last = json_deep_copy(w->status);
	pg_alloc_hold(false);
	return 0;
}

static int moved_n;
static char moved_key[128];

static void on_moved(void *ud, const char *ns, const char *name)
{
	moved_n++;
	snprintf(moved_key, sizeof(moved_key), "%s/%s", ns, name);
}

static const struct jval *obj(const char *text)
{
	const struct jval *v = NULL;
	struct jval_error e;

	ck_assert_int_eq(jval_parse(text, strlen(text), NULL, arena, &v, &e), 0);
	return v;
}

static struct identities *mk(struct writes *ws, struct metrics *m)
{
	struct identities_config cfg = {
		.metrics = m, .write_interval_ms = MIN, .settle_ms = -1, .retry_ms = 1000,
		.write = fake_write, .risk_changed = on_moved, .ud = ws,
	};
	struct identities *id = NULL;

	ck_assert_int_eq(identities_new(&cfg, &id), 0);
	identities_set_synced(id, true);
	return id;
}

static void add_sa(struct identities *id, const char *ns, const char *name, const char *uid)
{
	char text[512];
	void *data = NULL;

	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"namespace\":\"%s\","
		 "\"name\":\"%s\",\"uid\":\"%s\"}}", ns, name, uid);
	ck_assert_int_eq(identities_decode_sa(NULL, obj(text), &data), 0);
	identities_sa_changed(id, ns, name, uid, data);
	identities_free_sa(NULL, data);
}

#define ROLE_JSON \
	"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":{\"namespace\":\"pay\"," \
	"\"name\":\"%s\",\"uid\":\"r1\"},\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"%s\"],\"verbs\":[\"get\"]}]}"

static void put_role(struct identities *id, const char *name, const char *resource)
{
	char text[512];
	void *data = (void *)1;

	snprintf(text, sizeof(text), ROLE_JSON, name, resource);
	ck_assert_int_eq(identities_decode_role(id, obj(text), &data), 0);
	ck_assert_ptr_null(data);
}

static void put_binding(struct identities *id, const char *name, const char *role, const char *sa)
{
	char text[512];
	void *data = (void *)1;

	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":"
		 "{\"namespace\":\"pay\",\"name\":\"%s\",\"uid\":\"b1\"},\"roleRef\":{\"apiGroup\":"
		 "\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"%s\"},\"subjects\":[{\"kind\":"
		 "\"ServiceAccount\",\"name\":\"%s\",\"namespace\":\"pay\"}]}", name, role, sa);
	ck_assert_int_eq(identities_decode_binding(id, obj(text), &data), 0);
	ck_assert_ptr_null(data);
}

static const char *level_of(json_t *status)
{
	return json_string_value(json_object_get(json_object_get(status, "risk"), "level"));
}

static int64_t now0;

static void used(struct identities *id, const char *ns, const char *name, int64_t when, const char *verb,
		 const char *resource, const char *obj_ns)
{
	struct identities_call c = { when, verb, resource, obj_ns };

	identities_used(id, ns, name, &c);
}

static void setup(void)
{
	arena = arena_new(4096);
	now0 = ticker_now_ms() + 1000;
	moved_n = 0;
}

static void teardown(void)
{
	arena_free(arena);
}

START_TEST(one_change_one_write)
{
	struct writes ws = { 0 };
	struct identities *id = mk(&ws, NULL);

	add_sa(id, "pay", "api", "u-api");
	put_role(id, "reader", "secrets");
	put_binding(id, "api", "reader", "api");
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 1);
	ck_assert_int_eq(ws.n, 1);
	ck_assert(!ws.exists);
	ck_assert_str_eq(ws.ns, "pay");
	ck_assert_str_eq(ws.name, "api");
	ck_assert_str_eq(ws.uid, "u-api");
	ck_assert_str_eq(level_of(ws.last), "Critical");
	ck_assert_str_eq(json_string_value(json_object_get(ws.last, "serviceAccountUID")), "u-api");
	/* Nothing changed: nothing written, now or after the interval. */
	ck_assert_uint_eq(identities_flush(id, now0 + 1000, WALL + 1), 0);
	ck_assert_uint_eq(identities_flush(id, now0 + 5 * MIN, WALL + 300), 0);
	/* A change that leaves the status as it was writes nothing either. */
	put_binding(id, "api", "reader", "api");
	ck_assert_uint_eq(identities_flush(id, now0 + 6 * MIN, WALL + 360), 0);
	ck_assert_int_eq(ws.n, 1);
	json_decref(ws.last);
	identities_free(id);
}
END_TEST

START_TEST(second_change_waits_for_the_interval)
{
	struct writes ws = { 0 };
	struct identities *id = mk(&ws, NULL);

	add_sa(id, "pay", "api", "u-api");
	put_role(id, "reader", "secrets");
	put_role(id, "pods", "pods");
	put_binding(id, "api", "reader", "api");
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 1);
	ck_assert_int_eq(moved_n, 0);
	/* The binding now names a read-only role: the level falls, the pods
	 * are judged again at once, but the report waits for its minute. */
	put_binding(id, "api", "pods", "api");
	ck_assert_uint_eq(identities_flush(id, now0 + 1000, WALL + 1), 0);
	ck_assert_int_eq(moved_n, 1);
	ck_assert_str_eq(moved_key, "pay/api");
	ck_assert_uint_eq(identities_flush(id, now0 + 30000, WALL + 30), 0);
	/* And another change within the minute: only the last goes out. */
	identities_del_binding(id, "pay", "api");
	ck_assert_uint_eq(identities_flush(id, now0 + 40000, WALL + 40), 0);
	ck_assert_int_eq(ws.n, 1);
	ck_assert_uint_eq(identities_flush(id, now0 + MIN, WALL + 60), 1);
	ck_assert_int_eq(ws.n, 2);
	ck_assert(ws.exists);
	ck_assert_str_eq(level_of(ws.last), "None");
	ck_assert_uint_eq(identities_flush(id, now0 + 3 * MIN, WALL + 180), 0);
	json_decref(ws.last);
	identities_free(id);
}
END_TEST

static struct identities_stored *stored_of(json_t *status)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O}", "apiVersion", "profileguard.io/v1alpha1",
			      "kind", "IdentityReport", "metadata", "namespace", "pay", "name", "api",
			      "status", status);
	char *text = json_dumps(o, JSON_COMPACT);
	void *data = NULL;

	ck_assert_int_eq(identities_decode_report(NULL, obj(text), &data), 0);
	free(text);
	json_decref(o);
	return data;
}

static void replay(struct identities *id, int64_t evaluated_wall)
{
	add_sa(id, "pay", "api", "u-api");
	put_role(id, "reader", "secrets");
	put_binding(id, "api", "reader", "api");
	(void)evaluated_wall;
}

START_TEST(restart_with_stored_hash)
{
	struct writes ws = { 0 }, ws2 = { 0 };
	struct identities *id = mk(&ws, NULL), *id2;
	struct identities_stored *st;

	replay(id, WALL);
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 1);
	st = stored_of(ws.last);
	ck_assert_uint_ne(st->hash, 0);
	ck_assert_int_eq(st->ltt, WALL);
	identities_free(id);

	/* The next leader, an hour later, finds the report stored as
	 * written: nothing to write, the Ready time kept. */
	id2 = mk(&ws2, NULL);
	replay(id2, WALL + 3600);
	identities_report_changed(id2, "pay", "api", st);
	identities_new_term(id2);
	ck_assert_uint_eq(identities_flush(id2, now0 + 3600000, WALL + 3600), 0);
	ck_assert_int_eq(ws2.n, 0);
	/* Stored, but different (a pod started meanwhile): one status write,
	 * no create. */
	{
		struct pod p = { .namespace = "pay", .name = "p1", .service_account = "api",
				 .phase = PHASE_RUNNING };

		identities_pod_changed(id2, NULL, &p);
	}
	ck_assert_uint_eq(identities_flush(id2, now0 + 3601000, WALL + 3601), 1);
	ck_assert(ws2.exists);
	ck_assert_int_eq(json_integer_value(json_object_get(ws2.last, "pods")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
		json_object_get(ws2.last, "conditions"), 0), "lastTransitionTime")), "2026-11-18T11:06:40Z");
	identities_free_report(NULL, st);
	/* Our write comes back from the informer: nothing to do.  A status
	 * someone else wrote is written over, once its minute has passed. */
	st = stored_of(ws2.last);
	identities_report_changed(id2, "pay", "api", st);
	ck_assert_uint_eq(identities_flush(id2, now0 + 3700000, WALL + 3700), 0);
	identities_free_report(NULL, st);
	json_object_set_new(ws2.last, "pods", json_integer(7));
	st = stored_of(ws2.last);
	identities_report_changed(id2, "pay", "api", st);
	ck_assert_uint_eq(identities_flush(id2, now0 + 3701000, WALL + 3701), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(ws2.last, "pods")), 1);
	ck_assert_int_eq(ws2.n, 2);
	identities_free_report(NULL, st);
	json_decref(ws.last);
	json_decref(ws2.last);
	identities_free(id2);
}
END_TEST

START_TEST(counts_from_pods_workloads_and_secrets)
{
	struct writes ws = { 0 };
	struct identities *id = mk(&ws, NULL);
	struct token_source tok[] = { { 0, 0, 3607 } }, tok2[] = { { 0, 0, -1 } };
	struct pod a = { .namespace = "pay", .name = "a", .service_account = "api", .phase = PHASE_RUNNING,
			 .tokens = tok, .ntokens = 1 };
	struct pod b = { .namespace = "pay", .name = "b", .service_account = "api", .phase = PHASE_RUNNING,
			 .tokens = tok2, .ntokens = 1 };
	struct pod done = { .namespace = "pay", .name = "c", .service_account = "api",
			    .phase = PHASE_SUCCEEDED };
	void *w1 = NULL, *w2 = NULL, *sec = NULL;
	json_t *tokens, *wl;

	add_sa(id, "pay", "api", "u-api");
	identities_pod_changed(id, NULL, &a);
	identities_pod_changed(id, NULL, &b);
	identities_pod_changed(id, NULL, &done);
	ck_assert_int_eq(identities_decode_workload(NULL, obj(
		"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},\"spec\":{\"template\":{\"spec\":"
		"{\"serviceAccountName\":\"api\"}}}}"), &w1), 0);
	ck_assert_str_eq(w1, "api");
	/* Owned by a controller: its owner is listed, it is not. */
	ck_assert_int_eq(identities_decode_workload(NULL, obj(
		"{\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"web-1\",\"ownerReferences\":[{\"kind\":"
		"\"Deployment\",\"name\":\"web\",\"controller\":true}]},\"spec\":{\"template\":{\"spec\":"
		"{\"serviceAccountName\":\"api\"}}}}"), &w2), 0);
	ck_assert_ptr_null(w2);
	identities_workload_changed(id, IDWL_DEPLOYMENTS, "pay", "web", NULL, w1);
	ck_assert_int_eq(identities_decode_workload(NULL, obj(
		"{\"kind\":\"CronJob\",\"metadata\":{\"name\":\"nightly\"},\"spec\":{\"jobTemplate\":{\"spec\":"
		"{\"template\":{\"spec\":{\"serviceAccountName\":\"api\"}}}}}}"), &w2), 0);
	identities_workload_changed(id, IDWL_CRONJOBS, "pay", "nightly", NULL, w2);
	ck_assert_int_eq(identities_decode_token(NULL, obj(
		"{\"metadata\":{\"name\":\"api-token\",\"namespace\":\"pay\",\"annotations\":"
		"{\"kubernetes.io/service-account.name\":\"api\"},\"labels\":"
		"{\"kubernetes.io/legacy-token-last-used\":\"2026-11-02\"}}}"), &sec), 0);
	identities_secret_changed(id, "pay", NULL, sec);
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(ws.last, "pods")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(ws.last, "state")), "Active");
	ck_assert_str_eq(json_string_value(json_object_get(ws.last, "lastUsed")), "2026-11-02");
	tokens = json_object_get(ws.last, "tokens");
	ck_assert_int_eq(json_integer_value(json_object_get(tokens, "bound")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(tokens, "extended")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(tokens, "legacySecrets")), 1);
	ck_assert(json_is_true(json_object_get(tokens, "automount")));
	wl = json_object_get(ws.last, "workloads");
	ck_assert_uint_eq(json_array_size(wl), 2);
	ck_assert_str_eq(json_string_value(json_array_get(wl, 0)), "apps/Deployment/web");
	ck_assert_str_eq(json_string_value(json_array_get(wl, 1)), "batch/CronJob/nightly");

	/* A pod replaced (deleted, then its successor added) between two
	 * looks: the counts are back where they were, nothing is written. */
	identities_pod_changed(id, &a, NULL);
	identities_pod_changed(id, NULL, &a);
	ck_assert_uint_eq(identities_flush(id, now0 + 2 * MIN, WALL + 120), 0);
	/* A status-only update moves nothing. */
	identities_pod_changed(id, &a, &a);
	/* An audit event of today: lastUsed moves to it. */
	used(id, "pay", "api", WALL + 200, NULL, NULL, NULL);
	ck_assert_uint_eq(identities_flush(id, now0 + 4 * MIN, WALL + 240), 1);
	ck_assert_str_eq(json_string_value(json_object_get(ws.last, "lastUsed")), "2026-11-18");

	identities_secret_changed(id, "pay", sec, NULL);
	identities_workload_changed(id, IDWL_DEPLOYMENTS, "pay", "web", w1, NULL);
	identities_workload_changed(id, IDWL_CRONJOBS, "pay", "nightly", w2, NULL);
	identities_pod_changed(id, &a, NULL);
	identities_pod_changed(id, &b, NULL);
	ck_assert_uint_eq(identities_flush(id, now0 + 6 * MIN, WALL + 360), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(ws.last, "pods")), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(ws.last, "workloads")), 0);
	/* Used today still: Active. */
	ck_assert_str_eq(json_string_value(json_object_get(ws.last, "state")), "Active");
	identities_free_string(NULL, w1);
	identities_free_string(NULL, w2);
	identities_free_token(NULL, sec);
	json_decref(ws.last);
	identities_free(id);
}
END_TEST

START_TEST(no_report_without_account_or_sync)
{
	struct writes ws = { 0 };
	struct identities *id = mk(&ws, NULL);
	struct pod p = { .namespace = "pay", .name = "p", .service_account = "ghost", .phase = PHASE_RUNNING };
	struct identities_stats st;

	identities_pod_changed(id, NULL, &p);
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 0);
	identities_set_synced(id, false);
	add_sa(id, "pay", "api", "u-api");
	ck_assert_uint_eq(identities_flush(id, now0 + 1000, WALL + 1), 0);
	{
		struct risk_result rr;

		ck_assert_int_eq(identities_risk(id, "pay", "api", &rr), -ENOENT);
	}
	identities_set_synced(id, true);
	ck_assert_uint_eq(identities_flush(id, now0 + 2000, WALL + 2), 1);
	/* The ServiceAccount goes, and its report with it (the garbage
	 * collector): so does its entry. */
	identities_sa_changed(id, "pay", "api", "u-api", NULL);
	identities_report_changed(id, "pay", "api", NULL);
	identities_pod_changed(id, &p, NULL);
	identities_stats(id, &st);
	ck_assert_uint_eq(st.accounts, 0);
	ck_assert_uint_eq(st.reports, 0);
	json_decref(ws.last);
	identities_free(id);
}
END_TEST

START_TEST(group_binding_touches_every_account)
{
	struct writes ws = { 0 };
	struct metrics *m = metrics_new();
	struct identities *id = mk(&ws, m);
	void *data = NULL;
	struct buf out = BUF_INIT(1 << 20);
	struct risk_result rr;

	add_sa(id, "pay", "a", "u-a");
	add_sa(id, "ops", "b", "u-b");
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 2);
	put_role(id, "reader", "secrets");
	ck_assert_int_eq(identities_decode_role(id, obj(
		"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"metadata\":"
		"{\"name\":\"view-pods\"},\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],"
		"\"verbs\":[\"list\"]}]}"), &data), 0);
	ck_assert_int_eq(identities_decode_binding(id, obj(
		"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\",\"metadata\":"
		"{\"name\":\"all\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":"
		"\"ClusterRole\",\"name\":\"view-pods\"},\"subjects\":[{\"kind\":\"Group\",\"name\":"
		"\"system:serviceaccounts\",\"apiGroup\":\"rbac.authorization.k8s.io\"}]}"), &data), 0);
	ck_assert_uint_eq(identities_flush(id, now0 + MIN, WALL + 60), 2);
	ck_assert_str_eq(level_of(ws.last), "Low");
	ck_assert_int_eq(identities_risk(id, "ops", "b", &rr), 0);
	ck_assert_int_eq(rr.level, RISK_LOW);
	ck_assert_int_eq(metrics_render(m, &out), 0);
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "profileguard_identities{risk=\"Low\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "profileguard_identities{risk=\"None\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "profileguard_identity_findings{rule=\"read-only\"} 2\n"));
	identities_del_binding(id, NULL, "all");
	ck_assert_uint_eq(identities_flush(id, now0 + 2 * MIN, WALL + 120), 2);
	buf_free(&out);
	out = (struct buf)BUF_INIT(1 << 20);
	ck_assert_int_eq(metrics_render(m, &out), 0);
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "profileguard_identities{risk=\"None\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "profileguard_identity_findings{rule=\"read-only\"} 0\n"));
	buf_free(&out);
	json_decref(ws.last);
	identities_free(id);
	metrics_free(m);
}
END_TEST

START_TEST(failed_write_is_retried)
{
	struct writes ws = { .rc = -EIO };
	struct identities *id = mk(&ws, NULL);

	add_sa(id, "pay", "api", "u-api");
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 0);
	ws.rc = 0;
	/* Not before the retry pause (1 s here). */
	ck_assert_uint_eq(identities_flush(id, now0 + 500, WALL), 0);
	ck_assert_uint_eq(identities_flush(id, now0 + 1000, WALL + 1), 1);
	ck_assert(!ws.exists);
	ck_assert_uint_eq(identities_flush(id, now0 + 2000, WALL + 2), 0);
	json_decref(ws.last);
	identities_free(id);
}
END_TEST

/* Every allocation of an evaluation and write refused in turn: nothing
 * crashes or leaks, and the report goes out whole once memory is back. */
START_TEST(flush_under_allocation_failures)
{
	long total;

	{
		struct writes ws = { 0 };
		struct identities *id = mk(&ws, NULL);

		replay(id, WALL);
		pg_alloc_fail_at(1L << 40);
		ck_assert_uint_eq(identities_flush(id, now0, WALL), 1);
		total = pg_alloc_count();
		json_decref(ws.last);
		identities_free(id);
	}
	ck_assert_int_gt(total, 5);
	for (long i = 0; i < total; i++) {
		struct writes ws = { 0 };
		struct identities *id = mk(&ws, NULL);
		size_t n;

		replay(id, WALL);
		pg_alloc_fail_at(i);
		n = identities_flush(id, now0, WALL);
		pg_alloc_fail_at(-1);
		if (n == 0)
			ck_assert_uint_eq(identities_flush(id, now0 + 2 * MIN, WALL + 120), 1);
		ck_assert_int_eq(ws.n, 1);
		ck_assert_str_eq(level_of(ws.last), "Critical");
		json_decref(ws.last);
		identities_free(id);
	}
}
END_TEST

/* A constructor that runs out of memory leaves nothing behind. */
START_TEST(new_under_allocation_failures)
{
	struct metrics *m = metrics_new();

	for (long i = 0; i < 64; i++) {
		struct identities_config cfg = { .metrics = NULL, .write = fake_write };
		struct identities *id = NULL;
		int r;

		pg_alloc_fail_at(i);
		r = identities_new(&cfg, &id);
		pg_alloc_fail_at(-1);
		if (r == 0) {
			identities_free(id);
			break;
		}
		ck_assert_int_eq(r, -ENOMEM);
	}
	metrics_free(m);
}
END_TEST

/* ---- usage (audit calls) ------------------------------------------------------ */

static json_t *usage_at(json_t *status, size_t i)
{
	return json_array_get(json_object_get(status, "usage"), i);
}

static const char *ustr(json_t *entry, const char *key)
{
	return json_string_value(json_object_get(entry, key));
}

/* Calls become usage entries; a repeat the same day writes nothing, a new
 * verb or a new day writes once. */
START_TEST(usage_entries_written_sparingly)
{
	struct writes ws = { 0 };
	struct identities *id = mk(&ws, NULL);
	json_t *e, *verbs;

	add_sa(id, "pay", "api", "u-api");
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 1);
	ck_assert_ptr_null(json_object_get(ws.last, "usage"));

	used(id, "pay", "api", WALL + 10, "get", "configmaps", "pay");
	used(id, "pay", "api", WALL + 11, "get", "nodes", NULL);
	ck_assert_uint_eq(identities_flush(id, now0 + MIN, WALL + 60), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(ws.last, "usage")), 2);
	e = usage_at(ws.last, 0);
	ck_assert_str_eq(ustr(e, "resource"), "configmaps");
	ck_assert_str_eq(ustr(e, "namespace"), "pay");
	ck_assert_str_eq(ustr(e, "lastSeen"), "2026-11-18");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(e, "verbs"), 0)), "get");
	e = usage_at(ws.last, 1);
	ck_assert_str_eq(ustr(e, "resource"), "nodes");
	ck_assert_ptr_null(json_object_get(e, "namespace"));

	/* The same calls later that day: no write at all. */
	used(id, "pay", "api", WALL + 3000, "get", "configmaps", "pay");
	used(id, "pay", "api", WALL + 3001, "get", "nodes", NULL);
	ck_assert_uint_eq(identities_flush(id, now0 + 60 * MIN, WALL + 3600), 0);
	ck_assert_int_eq(ws.n, 2);

	/* A new verb: one write, verbs sorted. */
	used(id, "pay", "api", WALL + 3700, "watch", "configmaps", "pay");
	used(id, "pay", "api", WALL + 3701, "list", "configmaps", "pay");
	ck_assert_uint_eq(identities_flush(id, now0 + 62 * MIN, WALL + 3720), 1);
	verbs = json_object_get(usage_at(ws.last, 0), "verbs");
	ck_assert_uint_eq(json_array_size(verbs), 3);
	ck_assert_str_eq(json_string_value(json_array_get(verbs, 0)), "get");
	ck_assert_str_eq(json_string_value(json_array_get(verbs, 1)), "list");
	ck_assert_str_eq(json_string_value(json_array_get(verbs, 2)), "watch");

	/* The next day: lastSeen (and lastUsed) move, one write. */
	used(id, "pay", "api", WALL + 86400, "get", "configmaps", "pay");
	ck_assert_uint_eq(identities_flush(id, now0 + 70 * MIN, WALL + 86460), 1);
	ck_assert_str_eq(ustr(usage_at(ws.last, 0), "lastSeen"), "2026-11-19");
	ck_assert_str_eq(ustr(usage_at(ws.last, 1), "lastSeen"), "2026-11-18");
	ck_assert_str_eq(json_string_value(json_object_get(ws.last, "lastUsed")), "2026-11-19");
	ck_assert_int_eq(ws.n, 4);

	/* Past the usage window (30 days), an entry goes. */
	used(id, "pay", "api", WALL + 31 * 86400, "get", "configmaps", "pay");
	ck_assert_uint_eq(identities_flush(id, now0 + 80 * MIN, WALL + 31 * 86400 + 60), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(ws.last, "usage")), 1);
	ck_assert_str_eq(ustr(usage_at(ws.last, 0), "resource"), "configmaps");
	json_decref(ws.last);
	identities_free(id);
}
END_TEST

/* Past 256 entries the least recently seen goes and is counted; a call
 * over an entry's bounds is counted, never dropped silently. */
START_TEST(usage_capped_and_counted)
{
	struct writes ws = { 0 };
	struct identities *id = mk(&ws, NULL);
	char res[32], verb[80];
	json_t *u;
	bool found = false;

	add_sa(id, "pay", "api", "u-api");
	/* Entry 0 last seen on the first day, the others on the second. */
	used(id, "pay", "api", WALL, "get", "r000", "pay");
	for (int i = 1; i < IDUSAGE_MAX; i++) {
		snprintf(res, sizeof(res), "r%03d", i);
		used(id, "pay", "api", WALL + 86400, "get", res, "pay");
	}
	ck_assert_uint_eq(identities_flush(id, now0, WALL + 86400), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(ws.last, "usage")), IDUSAGE_MAX);
	ck_assert_ptr_null(json_object_get(ws.last, "usageOmitted"));

	used(id, "pay", "api", WALL + 86401, "get", "secrets", "pay");
	ck_assert_uint_eq(identities_flush(id, now0 + MIN, WALL + 86460), 1);
	u = json_object_get(ws.last, "usage");
	ck_assert_uint_eq(json_array_size(u), IDUSAGE_MAX);
	ck_assert_int_eq(json_integer_value(json_object_get(ws.last, "usageOmitted")), 1);
	for (size_t i = 0; i < json_array_size(u); i++) {
		ck_assert_str_ne(ustr(json_array_get(u, i), "resource"), "r000");
		found = found || strcmp(ustr(json_array_get(u, i), "resource"), "secrets") == 0;
	}
	ck_assert(found);

	memset(verb, 'v', 65);
	verb[65] = '\0';
	used(id, "pay", "api", WALL + 86402, verb, "secrets", "pay");
	ck_assert_uint_eq(identities_flush(id, now0 + 2 * MIN, WALL + 86520), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(ws.last, "usageOmitted")), 2);
	json_decref(ws.last);
	identities_free(id);
}
END_TEST

/* A new controller restores lastUsed and usage from the stored report:
 * nothing to write without news, and news is merged, not a reset. */
START_TEST(usage_restored_from_stored_report)
{
	struct writes ws = { 0 }, ws2 = { 0 };
	struct identities *id = mk(&ws, NULL), *id2;
	struct identities_stored *st;

	add_sa(id, "pay", "api", "u-api");
	used(id, "pay", "api", WALL, "get", "configmaps", "pay");
	used(id, "pay", "api", WALL, "create", "apps/deployments/scale", "pay");
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 1);
	json_object_set_new(ws.last, "usageOmitted", json_integer(3));
	st = stored_of(ws.last);
	ck_assert_int_eq(st->last_used, WALL - WALL % 86400);
	ck_assert_uint_eq(st->usage.n, 2);
	identities_free(id);

	id2 = mk(&ws2, NULL);
	add_sa(id2, "pay", "api", "u-api");
	identities_report_changed(id2, "pay", "api", st);
	identities_new_term(id2);
	/* Everything restored (usageOmitted too): nothing to write. */
	ck_assert_uint_eq(identities_flush(id2, now0 + 3600000, WALL + 3600), 0);
	ck_assert_int_eq(ws2.n, 0);
	/* News is merged into what was restored. */
	used(id2, "pay", "api", WALL + 3800, "get", "secrets", "pay");
	ck_assert_uint_eq(identities_flush(id2, now0 + 3900000, WALL + 3900), 1);
	ck_assert_str_eq(json_string_value(json_object_get(ws2.last, "lastUsed")), "2026-11-18");
	ck_assert_uint_eq(json_array_size(json_object_get(ws2.last, "usage")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(ws2.last, "usageOmitted")), 3);
	ck_assert_str_eq(ustr(usage_at(ws2.last, 0), "resource"), "apps/deployments/scale");
	ck_assert_str_eq(ustr(usage_at(ws2.last, 2), "resource"), "secrets");
	identities_free_report(NULL, st);
	json_decref(ws.last);
	json_decref(ws2.last);
	identities_free(id2);
}
END_TEST

/* ---- the lifecycle (Report mode) ------------------------------------------------ */

static struct {
	int n;
	char reason[8][32], key[8][96], note[8][1024];
} evs;

static void on_event(void *ud, const struct identities_event *e)
{
	if (evs.n < 8) {
		snprintf(evs.reason[evs.n], sizeof(evs.reason[0]), "%s", e->reason);
		snprintf(evs.key[evs.n], sizeof(evs.key[0]), "%s/%s/%s", e->ns, e->name, e->uid);
		snprintf(evs.note[evs.n], sizeof(evs.note[0]), "%s", e->note);
	}
	evs.n++;
}

static void ns_facts(void *ud, const char *ns, bool *ignored, char label[64])
{
	*ignored = strcmp(ns, "legacy") == 0;
	snprintf(label, 64, "%s", strcmp(ns, "frozen") == 0 ? "ignore" : "");
}

static struct identities *mk_life(struct writes *ws)
{
	struct lifecycle_policy p = LIFECYCLE_POLICY_DEFAULT;
	struct identities_config cfg = {
		.write_interval_ms = MIN, .settle_ms = -1, .retry_ms = 1000, .policy = &p,
		.own_ns = "profileguard", .write = fake_write, .ns_facts = ns_facts, .event = on_event, .ud = ws,
	};
	struct identities *id = NULL;

	memset(&evs, 0, sizeof(evs));
	ck_assert_int_eq(identities_new(&cfg, &id), 0);
	identities_set_synced(id, true);
	return id;
}

static const char *state_of(json_t *status)
{
	return json_string_value(json_object_get(status, "state"));
}

/* A running pod makes it Active, however long the audit has been live;
 * its pod deleted, it becomes Orphaned an hour (of live audit) later,
 * once, with its Event; an audit outage makes it Unknown, not idle. */
START_TEST(orphaned_after_its_pods_go)
{
	struct writes ws = { 0 };
	struct identities *id = mk_life(&ws);
	struct pod p = { .namespace = "pay", .name = "p1", .service_account = "api", .phase = PHASE_RUNNING };
	int64_t t = WALL;

	identities_set_audit_live(id, WALL - 10 * 86400);
	add_sa(id, "pay", "api", "u-api");
	identities_pod_changed(id, NULL, &p);
	ck_assert_uint_eq(identities_flush(id, now0, t), 1);
	ck_assert_str_eq(state_of(ws.last), "Active");
	/* Days later, still running: still Active, nothing written. */
	ck_assert_uint_eq(identities_flush(id, now0 + 10 * MIN, t + 5 * 86400), 0);
	ck_assert_int_eq(evs.n, 0);

	/* The Deployment and its pod are deleted. */
	t += 6 * 86400;
	identities_pod_changed(id, &p, NULL);
	ck_assert_uint_eq(identities_flush(id, now0 + 20 * MIN, t), 1);
	ck_assert_str_eq(state_of(ws.last), "Unknown");
	ck_assert_uint_eq(identities_flush(id, now0 + 30 * MIN, t + 3599), 0);
	ck_assert_int_eq(evs.n, 0);
	/* An hour of live audit later, time alone makes it Orphaned. */
	ck_assert_uint_eq(identities_flush(id, now0 + 90 * MIN, t + 3600), 1);
	ck_assert_str_eq(state_of(ws.last), "Orphaned");
	ck_assert_str_eq(json_string_value(json_object_get(ws.last, "stateSince")), "2026-11-24T12:06:40Z");
	ck_assert_int_eq(evs.n, 1);
	ck_assert_str_eq(evs.reason[0], "IdentityOrphaned");
	ck_assert_str_eq(evs.key[0], "pay/api/u-api");
	ck_assert_ptr_null(strstr(evs.note[0], "never-touch"));
	/* Evaluated again later: the same state, no second Event. */
	identities_new_term(id);
	ck_assert_uint_eq(identities_flush(id, now0 + 100 * MIN, t + 7200), 0);
	ck_assert_int_eq(evs.n, 1);

	/* The audit source goes silent, then comes back: no new evidence
	 * either way, the state holds (no write, no Event). */
	identities_set_audit_live(id, -1);
	ck_assert_uint_eq(identities_flush(id, now0 + 200 * MIN, t + 8000), 0);
	identities_set_audit_live(id, t + 9000);
	ck_assert_uint_eq(identities_flush(id, now0 + 300 * MIN, t + 9000 + 60), 0);
	ck_assert_str_eq(state_of(ws.last), "Orphaned");
	ck_assert_int_eq(evs.n, 1);
	/* A call is new evidence: Active. */
	used(id, "pay", "api", t + 9100, "get", "configmaps", "pay");
	ck_assert_uint_eq(identities_flush(id, now0 + 400 * MIN, t + 9200), 1);
	ck_assert_str_eq(state_of(ws.last), "Active");
	/* Nothing names it and it stays silent: Orphaned again an hour
	 * after that call, with a new Event. */
	ck_assert_uint_eq(identities_flush(id, now0 + 500 * MIN, t + 9100 + 3600), 1);
	ck_assert_str_eq(state_of(ws.last), "Orphaned");
	ck_assert_int_eq(evs.n, 2);
	json_decref(ws.last);
	identities_free(id);
}
END_TEST

/* Without a live audit source, an account no pod names is Unknown for
 * ever; an API call makes it Active. */
START_TEST(no_audit_source_no_idleness)
{
	struct writes ws = { 0 };
	struct identities *id = mk_life(&ws);

	add_sa(id, "pay", "api", "u-api");
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 1);
	ck_assert_str_eq(state_of(ws.last), "Unknown");
	ck_assert_uint_eq(identities_flush(id, now0 + 10 * MIN, WALL + 400 * 86400), 0);
	used(id, "pay", "api", WALL + 400 * 86400, "get", "configmaps", "pay");
	ck_assert_uint_eq(identities_flush(id, now0 + 20 * MIN, WALL + 400 * 86400 + 60), 1);
	ck_assert_str_eq(state_of(ws.last), "Active");
	ck_assert_int_eq(evs.n, 0);
	json_decref(ws.last);
	identities_free(id);
}
END_TEST

/* Named but silent through the whole unused window of live audit:
 * Unused, its Event and the UnusedToken condition. */
START_TEST(unused_with_unused_token)
{
	struct writes ws = { 0 };
	struct identities *id = mk_life(&ws);
	struct pod p = { .namespace = "pay", .name = "p1", .service_account = "api", .phase = PHASE_RUNNING };
	json_t *c;

	identities_set_audit_live(id, WALL - 89 * 86400);
	add_sa(id, "pay", "api", "u-api");
	identities_pod_changed(id, NULL, &p);
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 1);
	ck_assert_str_eq(state_of(ws.last), "Active");
	ck_assert_uint_eq(json_array_size(json_object_get(ws.last, "conditions")), 1);
	ck_assert_uint_eq(identities_flush(id, now0 + 10 * MIN, WALL + 86400), 1);
	ck_assert_str_eq(state_of(ws.last), "Unused");
	c = json_array_get(json_object_get(ws.last, "conditions"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(c, "type")), "UnusedToken");
	ck_assert_int_eq(evs.n, 1);
	ck_assert_str_eq(evs.reason[0], "IdentityUnused");
	ck_assert_ptr_nonnull(strstr(evs.note[0], "automountServiceAccountToken: false"));
	json_decref(ws.last);
	identities_free(id);
}
END_TEST

/* The never-touch list reaches the judge: a protected account is still
 * reported Orphaned, and its Event says nothing will be done. */
START_TEST(protected_accounts_say_so)
{
	static const char *const who[][2] = {
		{ "pay", "default" }, { "kube-system", "old" }, { "profileguard", "old" },
		{ "legacy", "old" }, { "frozen", "old" },
	};

	for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		struct writes ws = { 0 };
		struct identities *id = mk_life(&ws);

		identities_set_audit_live(id, WALL - 86400);
		add_sa(id, who[i][0], who[i][1], "u");
		ck_assert_uint_eq(identities_flush(id, now0, WALL), 1);
		ck_assert_str_eq(state_of(ws.last), "Orphaned");
		ck_assert_int_eq(evs.n, 1);
		ck_assert_msg(strstr(evs.note[0], "never-touch") != NULL, "%s/%s", who[i][0], who[i][1]);
		json_decref(ws.last);
		identities_free(id);
	}
}
END_TEST

/* A level change of the account's risk is an Event. */
START_TEST(risk_change_is_an_event)
{
	struct writes ws = { 0 };
	struct identities *id = mk_life(&ws);

	add_sa(id, "pay", "api", "u-api");
	put_role(id, "r", "pods");
	put_binding(id, "b", "r", "api");
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 1);
	ck_assert_int_eq(evs.n, 0);
	put_role(id, "r", "secrets");
	ck_assert_uint_eq(identities_flush(id, now0 + 2 * MIN, WALL + 120), 1);
	ck_assert_str_eq(level_of(ws.last), "Critical");
	ck_assert_int_eq(evs.n, 1);
	ck_assert_str_eq(evs.reason[0], "IdentityRiskChanged");
	ck_assert_ptr_nonnull(strstr(evs.note[0], "from Low to Critical"));
	json_decref(ws.last);
	identities_free(id);
}
END_TEST

/* A restart changes no state and invents no idleness: a stored report
 * that counted pods restarts the Orphaned clock at the first look (the
 * pods may have gone just before), and a stored Orphaned report stays
 * Orphaned, with its stateSince and no second Event. */
START_TEST(restart_changes_no_state)
{
	struct writes ws = { 0 }, ws2 = { 0 };
	struct identities *id = mk_life(&ws), *id2;
	struct identities_stored *st;
	struct pod p = { .namespace = "pay", .name = "p1", .service_account = "api", .phase = PHASE_RUNNING };

	identities_set_audit_live(id, WALL - 10 * 86400);
	add_sa(id, "pay", "api", "u-api");
	add_sa(id, "pay", "old", "u-old");
	identities_pod_changed(id, NULL, &p);
	ck_assert_uint_eq(identities_flush(id, now0, WALL), 2);
	ck_assert_int_eq(evs.n, 1);     /* pay/old: Orphaned */
	ck_assert_str_eq(evs.key[0], "pay/old/u-old");
	identities_free(id);

	/* The next controller: api's pod went while none ran. */
	id2 = mk_life(&ws2);
	identities_set_audit_live(id2, WALL - 10 * 86400);
	add_sa(id2, "pay", "api", "u-api");
	add_sa(id2, "pay", "old", "u-old");
	{
		json_t *api_status = json_pack("{s:s, s:s, s:i, s:[], s:{s:i, s:i, s:i, s:b}}", "serviceAccountUID",
					       "u-api", "state", "Active", "pods", 1, "workloads", "tokens", "bound", 0,
					       "legacySecrets", 0, "extended", 0, "automount", 1);

		st = stored_of(api_status);
		ck_assert(st->named);
		identities_report_changed(id2, "pay", "api", st);
		identities_free_report(NULL, st);
		json_decref(api_status);
	}
	{
		json_t *old_status = json_pack("{s:s, s:s, s:s, s:i, s:[], s:{s:i, s:i, s:i, s:b}}",
					       "serviceAccountUID", "u-old", "state", "Orphaned", "stateSince",
					       "2026-11-18T11:06:40Z", "pods", 0, "workloads", "tokens", "bound", 0,
					       "legacySecrets", 0, "extended", 0, "automount", 1);

		st = stored_of(old_status);
		identities_report_changed(id2, "pay", "old", st);
		identities_free_report(NULL, st);
		json_decref(old_status);
	}
	identities_new_term(id2);
	ck_assert_uint_ge(identities_flush(id2, now0 + 60 * MIN, WALL + 7200), 1);
	/* Nothing became Orphaned at the restart, and old's state held. */
	ck_assert_int_eq(evs.n, 0);
	ck_assert_uint_eq(identities_flush(id2, now0 + 70 * MIN, WALL + 7200 + 3599), 0);
	ck_assert_int_eq(evs.n, 0);
	ck_assert_uint_eq(identities_flush(id2, now0 + 80 * MIN, WALL + 7200 + 3600), 1);
	ck_assert_int_eq(evs.n, 1);
	ck_assert_str_eq(evs.key[0], "pay/api/u-api");
	ck_assert_str_eq(state_of(ws2.last), "Orphaned");
	json_decref(ws.last);
	json_decref(ws2.last);
	identities_free(id2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("identities");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, one_change_one_write);
	tcase_add_test(tc, second_change_waits_for_the_interval);
	tcase_add_test(tc, restart_with_stored_hash);
	tcase_add_test(tc, counts_from_pods_workloads_and_secrets);
	tcase_add_test(tc, no_report_without_account_or_sync);
	tcase_add_test(tc, group_binding_touches_every_account);
	tcase_add_test(tc, failed_write_is_retried);
	tcase_add_test(tc, flush_under_allocation_failures);
	tcase_add_test(tc, new_under_allocation_failures);
	tcase_add_test(tc, usage_entries_written_sparingly);
	tcase_add_test(tc, usage_capped_and_counted);
	tcase_add_test(tc, usage_restored_from_stored_report);
	tcase_add_test(tc, orphaned_after_its_pods_go);
	tcase_add_test(tc, no_audit_source_no_idleness);
	tcase_add_test(tc, unused_with_unused_token);
	tcase_add_test(tc, protected_accounts_say_so);
	tcase_add_test(tc, risk_change_is_an_event);
	tcase_add_test(tc, restart_changes_no_state);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	pg_alloc_setup_jansson();
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
