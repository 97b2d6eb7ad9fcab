/* test_kube_informer_it.c - informers against the API stand-in over TLS.
 *
 * Every test checks the same invariant at the end: the cache, the state
 * the handlers were told about, and the stand-in's own objects agree
 * exactly, and no handler call contradicted the one before it (an add of
 * a key already there, an update or delete of a version never delivered).
 * That is "no lost or duplicated entry", under paging, writes during the
 * list and the watch, resets, 410s as status and as event, compaction,
 * expired continue tokens and 1-byte chunks. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jval.h"
#include "kube_api.h"
#include "kube_decode.h"
#include "kube_informer.h"
#include "pod.h"
#include "standin_harness.h"
#include "xalloc.h"

static struct kt_standin S;

static void start(void)
{
	static const char *const args[] = { "--bookmark-interval", "0.2", NULL };

	kt_start(&S, 0, args);
}

static void stop(void)
{
	kt_stop(&S);
}

/* ---- what the handlers saw ------------------------------------------------- */

struct tracker {
	pthread_mutex_t mu;
	json_t *map;            /* "ns/name" -> "uid rv", as delivered */
	int adds, updates, deletes, syncs;
	struct kube_informer *inf;      /* when set, on_synced checks has_synced */
	int violations;
	char first_violation[1024];
};

static void tracker_init(struct tracker *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
	t->map = json_object();
}

static void tracker_free(struct tracker *t)
{
	json_decref(t->map);
	pthread_mutex_destroy(&t->mu);
}

static int tracker_deletes(struct tracker *t)
{
	int n;

	pthread_mutex_lock(&t->mu);
	n = t->deletes;
	pthread_mutex_unlock(&t->mu);
	return n;
}

static int tracker_updates(struct tracker *t)
{
	int n;

	pthread_mutex_lock(&t->mu);
	n = t->updates;
	pthread_mutex_unlock(&t->mu);
	return n;
}

static void key_of(const struct kube_object *o, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", kube_object_namespace(o), kube_object_name(o));
}

static void version_of(const struct kube_object *o, char *out, size_t n)
{
	snprintf(out, n, "%s %s", kube_object_uid(o), kube_object_resource_version(o));
}

static void violation(struct tracker *t, const char *what, const char *key)
{
	if (!t->violations++)
		snprintf(t->first_violation, sizeof(t->first_violation), "%s %s", what, key);
}

static void on_add(void *ud, struct kube_object *cur)
{
	struct tracker *t = ud;
	char key[512], ver[256];

	key_of(cur, key, sizeof(key));
	version_of(cur, ver, sizeof(ver));
	pthread_mutex_lock(&t->mu);
	if (json_object_get(t->map, key))
		violation(t, "add of a key already delivered:", key);
	json_object_set_new(t->map, key, json_string(ver));
	t->adds++;
	pthread_mutex_unlock(&t->mu);
}

static void on_update(void *ud, struct kube_object *old, struct kube_object *cur)
{
	struct tracker *t = ud;
	char key[512], ver[256], oldver[256];
	json_t *have;

	key_of(cur, key, sizeof(key));
	version_of(cur, ver, sizeof(ver));
	version_of(old, oldver, sizeof(oldver));
	pthread_mutex_lock(&t->mu);
	have = json_object_get(t->map, key);
	if (!have || strcmp(json_string_value(have), oldver) != 0)
		violation(t, "update from a version never delivered:", key);
	if (strcmp(kube_object_uid(old), kube_object_uid(cur)) != 0)
		violation(t, "update across UIDs:", key);
	if (strcmp(oldver, ver) == 0)
		violation(t, "update to the same version:", key);
	json_object_set_new(t->map, key, json_string(ver));
	t->updates++;
	pthread_mutex_unlock(&t->mu);
}

static void on_delete(void *ud, struct kube_object *old)
{
	struct tracker *t = ud;
	char key[512], ver[256];
	json_t *have;

	key_of(old, key, sizeof(key));
	version_of(old, ver, sizeof(ver));
	pthread_mutex_lock(&t->mu);
	have = json_object_get(t->map, key);
	if (!have || strcmp(json_string_value(have), ver) != 0)
		violation(t, "delete of a version never delivered:", key);
	json_object_del(t->map, key);
	t->deletes++;
	pthread_mutex_unlock(&t->mu);
}

static void on_synced(void *ud)
{
	struct tracker *t = ud;

	pthread_mutex_lock(&t->mu);
	t->syncs++;
	/* A handler waiting for several caches must see this one ready. */
	if (t->inf && !kube_informer_has_synced(t->inf))
		violation(t, "on_synced before has_synced:", "");
	pthread_mutex_unlock(&t->mu);
}

/* ---- comparing with the stand-in ------------------------------------------------ */

static int cache_entry(void *ud, struct kube_object *o)
{
	char key[512], ver[256];

	key_of(o, key, sizeof(key));
	version_of(o, ver, sizeof(ver));
	json_object_set_new(ud, key, json_string(ver));
	return 0;
}

static bool label_is(json_t *obj, const char *key, const char *value)
{
	json_t *v = json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"),
				    key);

	return json_is_string(v) && strcmp(json_string_value(v), value) == 0;
}

/* The stand-in's objects of @kind in @ns (NULL: all), optionally only
 * those labelled app=@app, as "ns/name" -> "uid rv". */
static json_t *server_map(const char *kind, const char *ns, const char *app)
{
	json_t *items = kt_objects(&S, kind, ns), *out = json_object(), *it;
	size_t i;

	json_array_foreach(items, i, it) {
		json_t *m = json_object_get(it, "metadata");
		const char *mns = json_string_value(json_object_get(m, "namespace"));
		char key[512], ver[256];

		if (app && !label_is(it, "app", app))
			continue;
		snprintf(key, sizeof(key), "%s/%s", mns ? mns : "",
			 json_string_value(json_object_get(m, "name")));
		snprintf(ver, sizeof(ver), "%s %s", json_string_value(json_object_get(m, "uid")),
			 json_string_value(json_object_get(m, "resourceVersion")));
		json_object_set_new(out, key, json_string(ver));
	}
	json_decref(items);
	return out;
}

/* Waits until cache == handlers == server; reports the sizes if never. */
static void assert_converges(struct kube_informer *inf, struct tracker *t, const char *kind,
			     const char *ns, const char *app)
{
	double deadline = kt_now() + 30;
	size_t ncache = 0, nserver = 0, nseen = 0;

	for (;;) {
		json_t *cache = json_object(), *server = server_map(kind, ns, app);
		bool same;

		kube_informer_foreach(inf, cache_entry, cache);
		pthread_mutex_lock(&t->mu);
		same = json_equal(cache, server) && json_equal(t->map, server);
		nseen = json_object_size(t->map);
		pthread_mutex_unlock(&t->mu);
		ncache = json_object_size(cache);
		nserver = json_object_size(server);
		json_decref(cache);
		json_decref(server);
		if (same)
			break;
		ck_assert_msg(kt_now() < deadline, "no convergence: cache %zu, handlers %zu, "
			      "server %zu", ncache, nseen, nserver);
		kt_sleep_ms(100);
	}
	ck_assert_msg(t->violations == 0, "%d handler violations, first: %s", t->violations,
		      t->first_violation);
	ck_assert_uint_eq(kube_informer_count(inf), nserver);
	ck_assert_int_eq(t->adds - t->deletes, (int)nserver);
}

static struct kube_informer_opts pod_opts(struct tracker *t, const char *ns)
{
	return (struct kube_informer_opts){
		.resource = &kube_res_pods,
		.namespace = ns,
		.decode = kube_decode_pod,
		.free_data = kube_free_pod,
		.backoff_base_ms = 20,
		.backoff_cap_ms = 200,
		.handlers = { on_add, on_update, on_delete, on_synced, NULL, t },
	};
}

static struct kube_client *test_client(void)
{
	struct kube_client_opts o;

	kube_client_opts_default(&o);
	o.qps = 0;
	o.backoff_base_ms = 20;
	o.backoff_cap_ms = 200;
	return kt_client(&S, KT_AUTH_CERT, NULL, &o);
}

static void seed_pods(const char *ns, const char *prefix, const char *app, int n)
{
	json_t *items = json_array();
	char name[128];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s-%04d", prefix, i);
		json_array_append_new(items, kt_pod(ns, name, app, false, (unsigned)i));
	}
	kt_seed(&S, items);
}

static void create_pod(struct kube_client *c, const char *ns, const char *name, const char *app)
{
	json_t *pod = kt_pod(ns, name, app, false, 0);
	struct kube_error err;
	int r = kube_api_create(c, &kube_res_pods, ns, pod, true, NULL, &err);

	ck_assert_msg(r == 0, "create %s: %d %s", name, r, err.message);
	json_decref(pod);
}

static int relabel(struct kube_client *c, const char *ns, const char *name, const char *key,
		   const char *value)
{
	json_t *patch = json_pack("{s{s{ss}}}", "metadata", "labels", key, value);
	int r = kube_api_merge_patch(c, &kube_res_pods, ns, name, NULL, patch, NULL, NULL);

	json_decref(patch);
	return r;
}

static int delete_pod(struct kube_client *c, const char *ns, const char *name)
{
	struct kube_api_delete_opts d = { .grace_period = 0 };

	return kube_api_pod_delete(c, ns, name, &d, NULL);
}

/* Polls @cond every 20 ms for up to @secs seconds, or fails with @what. */
#define WAIT_UNTIL(cond, secs, what) do {                                       \
		double wait_deadline_ = kt_now() + (secs);                      \
		while (!(cond)) {                                               \
			ck_assert_msg(kt_now() < wait_deadline_, "timed out: %s", what); \
			kt_sleep_ms(20);                                        \
		}                                                               \
	} while (0)

static void wait_watching(int n)
{
	WAIT_UNTIL(kt_open_watches(&S) >= n, 10, "no watch opened");
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_list_pages_then_watch)
{
	struct kube_client *c = test_client();
	struct tracker t;
	struct kube_informer_opts o;
	struct kube_informer *inf;
	struct kube_informer_stats st;
	struct kube_object *obj;
	struct kube_object **snap;
	const struct pod *pod;
	json_t *log, *q;
	char rv[64], name[64];
	size_t n;
	long timeout;

	seed_pods("a", "pod", "web", 1000);
	seed_pods("b", "other", "web", 50);
	kt_clear(&S);
	tracker_init(&t);
	o = pod_opts(&t, "a");
	o.page_size = 100;
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	t.inf = inf;
	ck_assert(!kube_informer_has_synced(inf));
	ck_assert_int_eq(kube_informer_wait_synced(inf, 10), -ETIMEDOUT);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 20000), 0);
	ck_assert(kube_informer_has_synced(inf));
	/* Every handler of the first list, on_synced too, ran before the
	 * wait returned. */
	ck_assert_int_eq(t.adds, 1000);
	ck_assert_int_eq(t.syncs, 1);
	ck_assert_int_eq(t.violations, 0);
	ck_assert_uint_eq(kube_informer_count(inf), 1000);
	kube_informer_stats(inf, &st);
	ck_assert_uint_eq(st.list_pages, 10);
	ck_assert_uint_eq(st.lists, 1);
	ck_assert_uint_eq(st.relists, 0);
	ck_assert_str_eq(kube_informer_name(inf), "pods");

	/* The list was paged with limit/continue, then the watch resumed at
	 * the list's resourceVersion with bookmarks and a random timeout. */
	wait_watching(1);
	log = kt_requests(&S, "GET", "^/api/v1/namespaces/a/pods$");
	ck_assert_uint_ge(json_array_size(log), 11);
	q = json_object_get(json_array_get(log, 0), "query");
	ck_assert_str_eq(json_string_value(json_object_get(q, "limit")), "100");
	ck_assert_ptr_null(json_object_get(q, "continue"));
	q = json_object_get(json_array_get(log, 1), "query");
	ck_assert_ptr_nonnull(json_object_get(q, "continue"));
	q = json_object_get(json_array_get(log, 10), "query");
	ck_assert_str_eq(json_string_value(json_object_get(q, "watch")), "1");
	ck_assert_str_eq(json_string_value(json_object_get(q, "allowWatchBookmarks")), "true");
	timeout = strtol(json_string_value(json_object_get(q, "timeoutSeconds")), NULL, 10);
	ck_assert_int_ge(timeout, 300);
	ck_assert_int_le(timeout, 600);
	ck_assert_ptr_nonnull(json_object_get(q, "resourceVersion"));
	json_decref(log);

	/* The cache holds compact pods, found by key. */
	obj = kube_informer_get(inf, "a", "pod-0042");
	ck_assert_ptr_nonnull(obj);
	pod = kube_object_data(obj);
	ck_assert_str_eq(pod->name, "pod-0042");
	ck_assert_str_eq(pod->namespace, "a");
	ck_assert_str_eq(kube_object_namespace(obj), "a");
	ck_assert_str_eq(kube_object_name(obj), "pod-0042");
	ck_assert_str_eq(labels_get(&pod->labels, "app"), "web");
	ck_assert_ptr_null(kube_informer_get(inf, "b", "other-0001"));
	ck_assert_ptr_null(kube_informer_get(inf, "a", "nope"));

	/* Changes through the watch. */
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "new-%d", i);
		create_pod(c, "a", name, "web");
		snprintf(name, sizeof(name), "pod-%04d", 100 + i);
		ck_assert_int_eq(relabel(c, "a", name, "tier", "gold"), 0);
		snprintf(name, sizeof(name), "pod-%04d", 200 + i);
		ck_assert_int_eq(delete_pod(c, "a", name), 0);
	}
	ck_assert_int_eq(delete_pod(c, "a", "pod-0042"), 0);
	assert_converges(inf, &t, "Pod", "a", NULL);
	ck_assert_int_eq(t.adds, 1005);
	ck_assert_int_eq(t.updates, 5);
	ck_assert_int_eq(t.deletes, 6);
	/* A reference outlives the entry. */
	ck_assert_str_eq(((const struct pod *)kube_object_data(obj))->name, "pod-0042");
	kube_object_unref(obj);

	ck_assert_int_eq(kube_informer_snapshot(inf, &snap, &n), 0);
	ck_assert_uint_eq(n, 999);
	kube_objects_release(snap, n);
	/* Bookmarks move the resourceVersion even when nothing changes. */
	kt_sleep_ms(600);
	kube_informer_stats(inf, &st);
	ck_assert_uint_gt(st.bookmarks, 0);
	ck_assert_uint_eq(st.events, 16);
	kube_informer_resource_version(inf, rv, sizeof(rv));
	ck_assert_str_ne(rv, "");
	kube_informer_free(inf);
	tracker_free(&t);
	kube_client_free(c);
}
END_TEST

/* A writer that creates, relabels and deletes pods until told to stop. */
struct writer {
	struct kube_client *c;
	const char *ns;
	atomic_bool stop;
	int ops;
	unsigned seed;
	pthread_t thread;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char name[64];
	int created = 0;

	while (!atomic_load(&w->stop)) {
		unsigned r = (unsigned)rand_r(&w->seed);

		switch (r % 3) {
		case 0:
			snprintf(name, sizeof(name), "w-%05d", created++);
			{
				json_t *pod = kt_pod(w->ns, name, "web", false, (unsigned)created);

				kube_api_create(w->c, &kube_res_pods, w->ns, pod, true, NULL, NULL);
				json_decref(pod);
			}
			break;
		case 1:
			snprintf(name, sizeof(name), "pod-%04u", (r / 3) % 600);
			relabel(w->c, w->ns, name, "gen", (r & 8) ? "odd" : "even");
			break;
		case 2:
			if (r & 16)
				snprintf(name, sizeof(name), "pod-%04u", (r / 3) % 600);
			else
				snprintf(name, sizeof(name), "w-%05d",
					 created ? (int)((r / 3) % (unsigned)created) : 0);
			delete_pod(w->c, w->ns, name);
			break;
		}
		w->ops++;
		kt_sleep_ms(3);
	}
	return NULL;
}

static void writer_start(struct writer *w, const char *ns)
{
	memset(w, 0, sizeof(*w));
	w->c = test_client();
	w->ns = ns;
	w->seed = 12345;
	ck_assert_int_eq(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

static void writer_stop(struct writer *w)
{
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL);
	kube_client_free(w->c);
}

static size_t faults_left(void)
{
	json_t *f = kt_call(&S, "GET", "/_standin/faults", NULL);
	size_t n = json_object_size(f);

	json_decref(f);
	return n;
}

/* Waits until the stand-in has used up every fault knob. */
static void wait_faults_used(void)
{
	WAIT_UNTIL(faults_left() == 0, 20, "fault knobs not used up");
}

static void wait_no_watch(void)
{
	WAIT_UNTIL(kt_open_watches(&S) == 0, 10, "the watch did not end");
}

/* One writer runs through every phase: a slow paged list, watches reset
 * mid-stream, a watch that finds its history compacted (410) and the
 * relist after it. */
START_TEST(test_no_lost_or_duplicate_entries)
{
	struct kube_client *c = test_client();
	struct kube_informer_opts o;
	struct kube_informer_stats st;
	struct kube_informer *inf;
	struct tracker t;
	struct writer w;

	seed_pods("s", "pod", "web", 600);
	tracker_init(&t);
	o = pod_opts(&t, "s");
	o.page_size = 50;
	o.watch_min_s = o.watch_max_s = 2;
	/* Slow pages stretch the list over ~1.5 s of concurrent writes. */
	kt_faults(&S, "{\"slow\": {\"delay_ms\": 120, \"count\": -1, \"path_regex\": \"limit=\"}}");
	writer_start(&w, "s");
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 30000), 0);
	kt_clear(&S);
	/* Watches dropped mid-stream. */
	kt_faults(&S, "{\"reset_watch\": {\"after_events\": 3, \"count\": 3}}");
	wait_faults_used();
	/* The next watch is held back while writes go on and the history
	 * is compacted: it gets 410, and the relist (slow pages again)
	 * runs under writes too. */
	kt_faults(&S, "{\"slow\": {\"delay_ms\": 1500, \"count\": 1, \"path_regex\": \"watch=1\"}}");
	wait_no_watch();
	kt_sleep_ms(500);
	json_decref(kt_call(&S, "POST", "/_standin/compact", NULL));
	kt_faults(&S, "{\"slow\": {\"delay_ms\": 60, \"count\": -1, \"path_regex\": \"limit=\"}}");
	WAIT_UNTIL((kube_informer_stats(inf, &st), st.relists >= 1), 20, "no relist");
	kt_sleep_ms(1000);
	writer_stop(&w);
	kt_clear(&S);
	assert_converges(inf, &t, "Pod", "s", NULL);
	kube_informer_stats(inf, &st);
	fprintf(stderr, "stress: %d writes; adds %d updates %d deletes %d; lists %llu, "
		"watches %llu, restarts %llu, gone %llu\n", w.ops, t.adds, t.updates, t.deletes,
		(unsigned long long)st.lists, (unsigned long long)st.watches,
		(unsigned long long)st.watch_restarts, (unsigned long long)st.watch_gone);
	ck_assert_int_gt(w.ops, 100);
	ck_assert_uint_ge(st.watch_restarts, 4);
	ck_assert_uint_ge(st.watch_gone, 1);
	ck_assert_uint_eq(t.syncs, st.lists);
	kube_informer_free(inf);
	tracker_free(&t);
	kube_client_free(c);
}
END_TEST

START_TEST(test_reset_watch_resumes)
{
	struct kube_client *c = test_client();
	struct kube_informer_opts o;
	struct kube_informer_stats st;
	struct kube_informer *inf;
	struct tracker t;
	char name[64];

	seed_pods("r", "pod", "web", 20);
	tracker_init(&t);
	o = pod_opts(&t, "r");
	/* Long enough that only the resets end watches here. */
	o.watch_min_s = o.watch_max_s = 30;
	kt_faults(&S, "{\"reset_watch\": {\"after_events\": 2, \"count\": 4}}");
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 10000), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "pod-%04d", i);
		ck_assert_int_eq(relabel(c, "r", name, "round", "1"), 0);
		kt_sleep_ms(40);
	}
	wait_faults_used();
	assert_converges(inf, &t, "Pod", "r", NULL);
	ck_assert_int_eq(t.updates, 20);
	kube_informer_stats(inf, &st);
	/* Each reset resumed the watch from the last event: no relist. */
	ck_assert_uint_eq(st.lists, 1);
	ck_assert_uint_ge(st.watch_restarts, 4);
	kube_informer_free(inf);
	tracker_free(&t);
	kube_client_free(c);
}
END_TEST

/* A watch cut after it delivered an event (a reset, no terminating chunk:
 * what proxies and load balancers do) made progress: the next watch
 * starts at once, so each change is seen in milliseconds.  The backoff is
 * set far beyond the test's patience: sitting one out fails it. */
START_TEST(test_cut_after_events_resumes_at_once)
{
	struct kube_client *c = test_client();
	struct kube_informer_opts o;
	struct kube_informer_stats st;
	struct kube_informer *inf;
	struct tracker t;
	char name[64];
	double worst = 0;

	seed_pods("cut", "pod", "web", 6);
	tracker_init(&t);
	o = pod_opts(&t, "cut");
	o.watch_min_s = o.watch_max_s = 30;
	o.backoff_base_ms = 20000;
	o.backoff_cap_ms = 40000;
	/* Every watch of the five after the list is cut after one event. */
	kt_faults(&S, "{\"reset_watch\": {\"after_events\": 1, \"count\": 5, \"path_regex\": \"watch=1\"}}");
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 10000), 0);
	for (int i = 0; i < 6; i++) {
		double t0;

		wait_watching(1);
		t0 = kt_now();
		snprintf(name, sizeof(name), "pod-%04d", i);
		ck_assert_int_eq(relabel(c, "cut", name, "round", "1"), 0);
		/* A 10 s pause (the old backoff's least) would time out here. */
		WAIT_UNTIL(tracker_updates(&t) >= i + 1, 5, "update seen");
		if (kt_now() - t0 > worst)
			worst = kt_now() - t0;
	}
	wait_faults_used();
	assert_converges(inf, &t, "Pod", "cut", NULL);
	kube_informer_stats(inf, &st);
	fprintf(stderr, "cut after events: slowest update seen after %.0f ms; watches %llu, "
		"restarts %llu, errors %llu\n", worst * 1000, (unsigned long long)st.watches,
		(unsigned long long)st.watch_restarts, (unsigned long long)st.errors);
	ck_assert_int_eq(t.updates, 6);
	ck_assert_uint_eq(st.lists, 1);
	ck_assert_uint_ge(st.watch_restarts, 5);
	/* Still reported (a cut is worth a log line), just not waited for. */
	ck_assert_uint_ge(st.errors, 5);
	kube_informer_free(inf);
	tracker_free(&t);
	kube_client_free(c);
}
END_TEST

/* A watch cut before it delivered anything is what a server refusing
 * watches looks like: those still back off. */
START_TEST(test_cut_before_events_backs_off)
{
	struct kube_client_opts co;
	struct kube_client *c;
	struct kube_informer_opts o;
	struct kube_informer_stats st;
	struct kube_informer *inf;
	struct tracker t;
	uint64_t before;

	/* No retries inside the client: each cut reaches the informer, so
	 * only its own backoff spaces the watches. */
	kube_client_opts_default(&co);
	co.qps = 0;
	co.max_retries = 0;
	c = kt_client(&S, KT_AUTH_CERT, NULL, &co);
	seed_pods("cut0", "pod", "web", 3);
	tracker_init(&t);
	o = pod_opts(&t, "cut0");
	o.watch_min_s = o.watch_max_s = 30;
	o.backoff_base_ms = 400;                /* pauses of 200..400 ms */
	o.backoff_cap_ms = 400;
	/* Every watch is cut before its first byte of body. */
	kt_faults(&S, "{\"reset_watch\": {\"after_events\": 0, \"count\": -1, \"path_regex\": \"watch=1\"}}");
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 10000), 0);
	ck_assert_int_eq(relabel(c, "cut0", "pod-0000", "round", "1"), 0);
	WAIT_UNTIL((kube_informer_stats(inf, &st), st.watches >= 3), 5, "watches cut");
	before = st.watches;
	kt_sleep_ms(2000);
	kube_informer_stats(inf, &st);
	fprintf(stderr, "cut before events: %llu watches in 2 s\n",
		(unsigned long long)(st.watches - before));
	ck_assert_uint_ge(st.watches - before, 3);
	ck_assert_uint_le(st.watches - before, 11);
	kt_clear(&S);
	ck_assert_int_eq(relabel(c, "cut0", "pod-0001", "round", "1"), 0);
	assert_converges(inf, &t, "Pod", "cut0", NULL);
	kube_informer_stats(inf, &st);
	ck_assert_uint_eq(st.lists, 1);
	kube_informer_free(inf);
	tracker_free(&t);
	kube_client_free(c);
}
END_TEST

/* The watch after the current one is held back; meanwhile things change
 * and the history is compacted, so it gets 410 (as an ERROR event, or as
 * HTTP 410 with watch_410_http): the informer relists and delivers only
 * the differences. */
static void gone_while_away(bool as_http)
{
	struct kube_client *c = test_client();
	struct kube_informer_opts o;
	struct kube_informer_stats st;
	struct kube_informer *inf;
	struct tracker t;
	char name[64];

	seed_pods("g", "pod", "web", 30);
	tracker_init(&t);
	o = pod_opts(&t, "g");
	o.watch_min_s = o.watch_max_s = 1;
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 10000), 0);
	wait_watching(1);
	kt_faults(&S, as_http ? "{\"slow\": {\"delay_ms\": 2500, \"count\": 1, \"path_regex\":"
				" \"watch=1\"}, \"watch_410_http\": true}"
			      : "{\"slow\": {\"delay_ms\": 2500, \"count\": 1, \"path_regex\":"
				" \"watch=1\"}}");
	/* The current watch ends (1 s); the next one waits in "slow". */
	wait_no_watch();
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "late-%d", i);
		create_pod(c, "g", name, "web");
		snprintf(name, sizeof(name), "pod-%04d", i);
		ck_assert_int_eq(delete_pod(c, "g", name), 0);
		snprintf(name, sizeof(name), "pod-%04d", 10 + i);
		ck_assert_int_eq(relabel(c, "g", name, "moved", "yes"), 0);
	}
	json_decref(kt_call(&S, "POST", "/_standin/compact", NULL));
	assert_converges(inf, &t, "Pod", "g", NULL);
	kube_informer_stats(inf, &st);
	ck_assert_uint_eq(st.lists, 2);
	ck_assert_uint_eq(st.relists, 1);
	ck_assert_uint_ge(st.watch_gone, 1);
	ck_assert_int_eq(t.syncs, 2);
	/* Exactly the differences, not the whole list again. */
	ck_assert_int_eq(t.adds, 33);
	ck_assert_int_eq(t.deletes, 3);
	ck_assert_int_eq(t.updates, 3);
	kube_informer_free(inf);
	tracker_free(&t);
	kube_client_free(c);
}

START_TEST(test_410_as_error_event)
{
	gone_while_away(false);
}
END_TEST

START_TEST(test_410_as_http_status)
{
	gone_while_away(true);
}
END_TEST

START_TEST(test_expired_continue_restarts_list)
{
	struct kube_client *c = test_client();
	struct kube_informer_opts o;
	struct kube_informer_stats st;
	struct kube_informer *inf;
	struct tracker t;

	seed_pods("x", "pod", "web", 300);
	tracker_init(&t);
	o = pod_opts(&t, "x");
	o.page_size = 50;
	kt_faults(&S, "{\"expire_continue\": true}");
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	WAIT_UNTIL((kube_informer_stats(inf, &st), st.list_restarts >= 4), 10,
		   "the list did not restart");
	ck_assert(!kube_informer_has_synced(inf));
	/* Things change while the list keeps failing. */
	create_pod(c, "x", "during", "web");
	ck_assert_int_eq(delete_pod(c, "x", "pod-0007"), 0);
	kt_clear(&S);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 10000), 0);
	/* The partial lists never reached the cache or the handlers. */
	ck_assert_int_eq(t.adds, 300);
	assert_converges(inf, &t, "Pod", "x", NULL);
	kube_informer_stats(inf, &st);
	ck_assert_uint_ge(st.errors, 1);       /* a list that gave up, reported */
	ck_assert_uint_eq(st.lists, 1);
	kube_informer_free(inf);
	tracker_free(&t);
	kube_client_free(c);
}
END_TEST

START_TEST(test_split_chunks)
{
	static const char *const knobs[] = { "{\"split_chunks\": {\"size\": 1}}",
					     "{\"split_chunks\": true}" };
	struct kube_client *c = test_client();

	for (int k = 0; k < 2; k++) {
		struct kube_informer_opts o;
		struct kube_informer *inf;
		struct tracker t;
		char ns[8], name[64], value[64];

		snprintf(ns, sizeof(ns), "sp%d", k);
		seed_pods(ns, "pod", "web", 10);
		kt_faults(&S, knobs[k % 2]);
		tracker_init(&t);
		o = pod_opts(&t, ns);
		ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
		ck_assert_int_eq(kube_informer_start(inf), 0);
		ck_assert_int_eq(kube_informer_wait_synced(inf, 10000), 0);
		wait_watching(1);
		for (int i = 0; i < 10; i++) {
			snprintf(name, sizeof(name), "pod-%04d", i);
			snprintf(value, sizeof(value), "v%d-\xc3\xa9-%d", k, i);
			ck_assert_int_eq(relabel(c, ns, name, "round", i % 2 ? "a" : "b"), 0);
			snprintf(name, sizeof(name), "extra-%d", i);
			create_pod(c, ns, name, "web");
		}
		assert_converges(inf, &t, "Pod", ns, NULL);
		ck_assert_int_eq(t.updates, 10);
		kube_informer_free(inf);
		tracker_free(&t);
		kt_clear(&S);
	}
	kube_client_free(c);
}
END_TEST

START_TEST(test_transport_faults_during_list_and_watch)
{
	struct kube_client *c = test_client();
	struct kube_informer_opts o;
	struct kube_informer_stats st;
	struct kube_informer *inf;
	struct tracker t;

	seed_pods("f", "pod", "web", 200);
	tracker_init(&t);
	o = pod_opts(&t, "f");
	o.page_size = 40;
	o.watch_min_s = o.watch_max_s = 1;
	kt_faults(&S, "{\"status_500\": {\"count\": 2, \"path_regex\": \"limit=\"},"
		  " \"status_429\": {\"count\": 1, \"retry_after\": 1, \"path_regex\": \"continue=\"},"
		  " \"reset\": {\"count\": 1, \"path_regex\": \"continue=\"}}");
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 20000), 0);
	/* Now the watches: 500s and 429s before they start. */
	kt_faults(&S, "{\"status_500\": {\"count\": 2, \"path_regex\": \"watch=1\"},"
		  " \"status_429\": {\"count\": 1, \"retry_after\": 0, \"path_regex\": \"watch=1\"}}");
	kt_sleep_ms(1500);
	create_pod(c, "f", "after-faults", "web");
	ck_assert_int_eq(delete_pod(c, "f", "pod-0001"), 0);
	assert_converges(inf, &t, "Pod", "f", NULL);
	kube_informer_stats(inf, &st);
	/* The client absorbed every fault: the informer saw none. */
	ck_assert_uint_eq(st.errors, 0);
	ck_assert_uint_eq(st.lists, 1);
	ck_assert_int_eq(t.adds, 201);
	kube_informer_free(inf);
	tracker_free(&t);
	kube_client_free(c);
}
END_TEST

/* A decoder that proves metadata-only: no data, no type, no spec. */
static int meta_seen_with_data;

static int decode_meta_checked(void *ud, const struct jval *obj, void **ret)
{
	const char *kind = jval_str(jval_get(obj, "kind"));

	if (jval_get(obj, "data") || jval_get(obj, "stringData") ||
	    jval_get(obj, "type") || !kind || strcmp(kind, "PartialObjectMetadata") != 0)
		meta_seen_with_data++;
	return kube_decode_meta(ud, obj, ret);
}

START_TEST(test_metadata_only_secrets)
{
	struct kube_client *c = test_client();
	struct kube_informer_opts o;
	struct kube_informer *inf;
	struct tracker t;
	struct kube_object *obj;
	const struct kube_meta *m;
	json_t *items = json_array(), *log, *sec;

	for (int i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "api-token-%d", i);
		json_array_append_new(items, json_pack(
			"{ss ss s{ss ss s{ss ss}} ss s{ss}}", "apiVersion", "v1", "kind", "Secret",
			"metadata", "name", name, "namespace", "m", "annotations",
			"kubernetes.io/service-account.name", "api",
			"kubernetes.io/service-account.uid", "sa-uid-1",
			"type", "kubernetes.io/service-account-token", "data", "token", "c2VjcmV0"));
	}
	json_array_append_new(items, json_pack("{ss ss s{ss ss} ss s{ss}}", "apiVersion", "v1",
					       "kind", "Secret", "metadata", "name", "db",
					       "namespace", "m", "type", "Opaque", "data", "pw",
					       "c2VjcmV0"));
	kt_seed(&S, items);
	kt_clear(&S);
	tracker_init(&t);
	o = (struct kube_informer_opts){
		.resource = &kube_res_secrets,
		.name = "secrets",
		.field_selector = "type=kubernetes.io/service-account-token",
		.metadata_only = true,
		.decode = decode_meta_checked,
		.free_data = kube_free_meta,
		.backoff_base_ms = 20,
		.handlers = { on_add, on_update, on_delete, on_synced, NULL, &t },
	};
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 10000), 0);
	ck_assert_uint_eq(kube_informer_count(inf), 3);
	obj = kube_informer_get(inf, "m", "api-token-1");
	ck_assert_ptr_nonnull(obj);
	m = kube_object_data(obj);
	ck_assert_str_eq(labels_get(&m->annotations, "kubernetes.io/service-account.name"), "api");
	kube_object_unref(obj);
	ck_assert_ptr_null(kube_informer_get(inf, "m", "db"));
	/* A new token Secret arrives through the watch, still without data. */
	wait_watching(1);
	sec = json_pack("{ss ss s{ss} ss s{ss}}", "apiVersion", "v1", "kind", "Secret",
			"metadata", "name", "api-token-9", "type",
			"kubernetes.io/service-account-token", "data", "token", "c2VjcmV0");
	ck_assert_int_eq(kube_api_create(c, &kube_res_secrets, "m", sec, true, NULL, NULL), 0);
	json_decref(sec);
	WAIT_UNTIL(kube_informer_count(inf) == 4, 10, "the new Secret did not arrive");
	ck_assert_int_eq(meta_seen_with_data, 0);
	ck_assert_int_eq(t.violations, 0);
	/* The requests asked for metadata only, with the field selector. */
	log = kt_requests(&S, "GET", "^/api/v1/secrets$");
	ck_assert_uint_ge(json_array_size(log), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(log, 0),
				"headers"), "Accept")),
			 "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,"
			 "application/json");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(log, 0),
				"query"), "fieldSelector")), "type=kubernetes.io/service-account-token");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(log, 1),
				"headers"), "Accept")),
			 "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,"
			 "application/json");
	json_decref(log);
	kube_informer_free(inf);
	tracker_free(&t);
	kube_client_free(c);
}
END_TEST

START_TEST(test_label_selector)
{
	struct kube_client *c = test_client();
	struct kube_informer_opts o;
	struct kube_informer *inf;
	struct tracker t;

	seed_pods("l", "web", "web", 5);
	seed_pods("l", "db", "db", 5);
	tracker_init(&t);
	o = pod_opts(&t, NULL);                 /* all namespaces */
	o.label_selector = "app=web";
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 10000), 0);
	ck_assert_uint_eq(kube_informer_count(inf), 5);
	wait_watching(1);
	/* Leaving the selection is a delete; entering it an add. */
	ck_assert_int_eq(relabel(c, "l", "web-0000", "app", "db"), 0);
	ck_assert_int_eq(relabel(c, "l", "db-0000", "app", "web"), 0);
	assert_converges(inf, &t, "Pod", NULL, "web");
	ck_assert_int_eq(t.adds, 6);
	ck_assert_int_eq(t.deletes, 1);
	ck_assert_ptr_null(kube_informer_get(inf, "l", "web-0000"));
	kube_object_unref(kube_informer_get(inf, "l", "db-0000"));
	kube_informer_free(inf);
	tracker_free(&t);
	kube_client_free(c);
}
END_TEST

START_TEST(test_cluster_scoped_and_decode_errors)
{
	struct kube_client *c = test_client();
	struct kube_informer_opts o;
	struct kube_informer_stats st;
	struct kube_informer *inf;
	struct kube_object *obj;
	struct tracker t;
	json_t *bad;

	/* Namespaces: keys without a namespace. */
	tracker_init(&t);
	o = (struct kube_informer_opts){
		.resource = &kube_res_namespaces, .decode = kube_decode_meta,
		.free_data = kube_free_meta,
		.handlers = { on_add, on_update, on_delete, on_synced, NULL, &t },
	};
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 10000), 0);
	obj = kube_informer_get(inf, NULL, "default");
	ck_assert_ptr_nonnull(obj);
	ck_assert_str_eq(kube_object_namespace(obj), "");
	kube_object_unref(obj);
	obj = kube_informer_get(inf, "", "kube-system");
	ck_assert_ptr_nonnull(obj);
	kube_object_unref(obj);
	assert_converges(inf, &t, "Namespace", NULL, NULL);
	kube_informer_free(inf);
	tracker_free(&t);

	/* A pod the model refuses is left out and counted; when a valid
	 * pod turns invalid, it leaves the cache with a delete. */
	seed_pods("d", "pod", "web", 3);
	bad = kt_pod("d", "broken", "web", false, 0);
	json_object_set_new(json_object_get(bad, "spec"), "containers", json_string("nope"));
	kt_seed(&S, json_pack("[o]", bad));
	tracker_init(&t);
	o = pod_opts(&t, "d");
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 10000), 0);
	ck_assert_uint_eq(kube_informer_count(inf), 3);
	kube_informer_stats(inf, &st);
	ck_assert_uint_eq(st.decode_errors, 1);
	wait_watching(1);
	bad = kt_pod("d", "pod-0001", "web", false, 0);
	json_object_set_new(json_object_get(bad, "spec"), "containers", json_integer(1));
	kt_seed(&S, json_pack("[o]", bad));
	WAIT_UNTIL(kube_informer_count(inf) == 2, 10, "the broken pod stayed");
	/* The cache changes first, the handler runs after. */
	WAIT_UNTIL(tracker_deletes(&t) == 1, 10, "no delete delivered");
	ck_assert_int_eq(t.violations, 0);
	kube_informer_free(inf);
	tracker_free(&t);
	kube_client_free(c);
}
END_TEST

START_TEST(test_stop_is_prompt)
{
	struct kube_client *c = test_client();
	struct kube_informer_opts o;
	struct kube_informer *inf, *never;
	struct tracker t;
	double t0;

	seed_pods("p", "pod", "web", 5);
	tracker_init(&t);
	o = pod_opts(&t, "p");                  /* 300-600 s watches */
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 10000), 0);
	wait_watching(1);
	t0 = kt_now();
	kube_informer_stop(inf);
	ck_assert_double_lt(kt_now() - t0, 3.0);
	kube_informer_stop(inf);                /* idempotent */
	/* The cache stays readable after a stop. */
	ck_assert_uint_eq(kube_informer_count(inf), 5);
	kube_informer_free(inf);

	/* An informer that cannot list never syncs, and stops as fast. */
	kt_faults(&S, "{\"status_500\": {\"count\": -1, \"path_regex\": \"/pods\"}}");
	ck_assert_int_eq(kube_informer_new(c, &o, &never), 0);
	ck_assert_int_eq(kube_informer_start(never), 0);
	ck_assert_int_eq(kube_informer_wait_synced(never, 500), -ETIMEDOUT);
	ck_assert(!kube_informer_has_synced(never));
	t0 = kt_now();
	kube_informer_free(never);
	ck_assert_double_lt(kt_now() - t0, 3.0);
	tracker_free(&t);
	kube_client_free(c);
}
END_TEST

/* The pod that overflowed the decoder's tokens array (17 projected volumes
 * of 1,024 serviceAccountToken sources, 1,100 env entries: 1.2 MB) and
 * crashed the informer's process from any namespace. */
static json_t *overflow_pod(const char *ns, const char *name)
{
	json_t *pod = kt_pod(ns, name, "web", false, 0), *vols = json_array(), *env = json_array();
	json_t *spec = json_object_get(pod, "spec");

	for (int v = 0; v < 17; v++) {
		json_t *src = json_array();

		for (int i = 0; i < 1024; i++)
			json_array_append_new(src, json_pack("{s{ss si}}", "serviceAccountToken", "path", "t",
							     "expirationSeconds", 3600));
		json_array_append_new(vols, json_pack("{ss s{so}}", "name", "t", "projected", "sources", src));
	}
	for (int i = 0; i < 1100; i++)
		json_array_append_new(env, json_pack("{ss ss}", "name", "E", "value", "v"));
	json_object_set_new(spec, "volumes", vols);
	json_object_set_new(json_array_get(json_object_get(spec, "containers"), 0), "env", env);
	return pod;
}

struct refusals {
	pthread_mutex_t lock;
	int n;
	char last[256];
};

static void on_refused(void *ud, const char *ns, const char *name, const char *why)
{
	struct refusals *r = ud;

	pthread_mutex_lock(&r->lock);
	r->n++;
	snprintf(r->last, sizeof(r->last), "%s/%s: %s", ns, name, why);
	pthread_mutex_unlock(&r->lock);
}

static int refusals_n(struct refusals *r)
{
	int n;

	pthread_mutex_lock(&r->lock);
	n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Listed and watched, through both readers (the controller's fast one and
 * jansson's): the pod is left out and counted, the caller told which pod
 * and which cap, and the other pods are cached as before. */
START_TEST(test_pod_over_a_cap_left_out)
{
	static const char *const want =
		"spec.volumes: more than 16384 projected sources in all volumes together (profileguard's limit)";
	struct kube_client *c = test_client();
	struct refusals rf = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct kube_pod_refused tell = { on_refused, &rf };
	struct kube_informer_opts o;
	struct kube_informer_stats st;
	struct kube_informer *inf;
	struct tracker t;
	char msg[256];

	seed_pods("b", "pod", "web", 3);
	kt_seed(&S, json_pack("[o]", overflow_pod("b", "overflow-listed")));
	tracker_init(&t);
	o = pod_opts(&t, "b");
	o.decode_ud = &tell;
	ck_assert_int_eq(kube_informer_new(c, &o, &inf), 0);
	ck_assert_int_eq(kube_informer_start(inf), 0);
	ck_assert_int_eq(kube_informer_wait_synced(inf, 10000), 0);
	ck_assert_uint_eq(kube_informer_count(inf), 3);
	kube_informer_stats(inf, &st);
	ck_assert_uint_eq(st.decode_errors, 1);
	ck_assert_int_eq(refusals_n(&rf), 1);
	snprintf(msg, sizeof(msg), "b/overflow-listed: %s", want);
	ck_assert_str_eq(rf.last, msg);

	wait_watching(1);
	kt_seed(&S, json_pack("[o]", overflow_pod("b", "overflow-watched")));
	WAIT_UNTIL(refusals_n(&rf) == 2, 10, "the watched pod was not refused");
	snprintf(msg, sizeof(msg), "b/overflow-watched: %s", want);
	pthread_mutex_lock(&rf.lock);
	ck_assert_str_eq(rf.last, msg);
	pthread_mutex_unlock(&rf.lock);
	/* Still watching: a pod after it is cached. */
	create_pod(c, "b", "after", "web");
	WAIT_UNTIL(kube_informer_count(inf) == 4, 10, "the pod after it was not cached");
	kube_object_unref(kube_informer_get(inf, "b", "after"));
	ck_assert_ptr_null(kube_informer_get(inf, "b", "overflow-watched"));
	kube_informer_free(inf);
	tracker_free(&t);
	kube_client_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_informer_integration");
	TCase *tc = tcase_create("standin");
	SRunner *sr;
	int failed;

	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tc, start, stop);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_list_pages_then_watch);
	tcase_add_test(tc, test_no_lost_or_duplicate_entries);
	tcase_add_test(tc, test_reset_watch_resumes);
	tcase_add_test(tc, test_cut_after_events_resumes_at_once);
	tcase_add_test(tc, test_cut_before_events_backs_off);
	tcase_add_test(tc, test_410_as_error_event);
	tcase_add_test(tc, test_410_as_http_status);
	tcase_add_test(tc, test_expired_continue_restarts_list);
	tcase_add_test(tc, test_split_chunks);
	tcase_add_test(tc, test_transport_faults_during_list_and_watch);
	tcase_add_test(tc, test_metadata_only_secrets);
	tcase_add_test(tc, test_label_selector);
	tcase_add_test(tc, test_cluster_scoped_and_decode_errors);
	tcase_add_test(tc, test_pod_over_a_cap_left_out);
	tcase_add_test(tc, test_stop_is_prompt);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
