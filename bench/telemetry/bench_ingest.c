/* bench_ingest.c - native events judged per second on one core through the
 * whole ingest: parse, attribution (by namespace/name, by pod UID and by
 * container ID, in 10,000 pods), the profiles that select the pod (1,000
 * profiles in 100 namespaces), judgement, and the reports of the 1% that
 * drift (to a counting action path).  The caches are hash tables with a
 * read lock and an atomic reference per lookup, as the controller's are.
 *
 * usage: bench_ingest [EVENTS_PER_BATCH] [SECONDS]
 * prints: ingest events_per_s=N ns_per_event=N reports=N unattributed=N */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "errlist.h"
#include "ingest.h"
#include "jval.h"

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

#define NPODS 10000
#define NNS 100
#define PROFILES_PER_NS 10
#define BUCKETS 32768

struct entry {
	uint32_t hash;
	const char *key;
	struct pod *pod;
	struct entry *next;
};

static struct entry *by_name[BUCKETS], *by_uid[BUCKETS], *by_cid[BUCKETS];
static struct entry entries[3 * NPODS];
static size_t nentries;
static struct pod *pods[NPODS];
static char keys[NPODS][3][96];
static struct profile_set set;
static atomic_long refs;
static atomic_long reports;
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static void put(struct entry **tab, const char *key, struct pod *p)
{
	struct entry *e = &entries[nentries++];

	e->hash = hash(key);
	e->key = key;
	e->pod = p;
	e->next = tab[e->hash % BUCKETS];
	tab[e->hash % BUCKETS] = e;
}

static const struct pod *get(struct entry **tab, const char *key, void **ref)
{
	const struct pod *p = NULL;
	uint32_t h = hash(key);

	pthread_rwlock_rdlock(&lock);
	for (struct entry *e = tab[h % BUCKETS]; e && !p; e = e->next)
		if (e->hash == h && !strcmp(e->key, key))
			p = e->pod;
	pthread_rwlock_unlock(&lock);
	if (p) {
		atomic_fetch_add(&refs, 1);
		*ref = (void *)1;
	}
	return p;
}

static const struct pod *op_name(void *ud, const char *ns, const char *name, void **ref)
{
	char key[300];

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	return get(by_name, key, ref);
}

static const struct pod *op_uid(void *ud, const char *uid, void **ref)
{
	return get(by_uid, uid, ref);
}

static const struct pod *op_cid(void *ud, const char *id, void **ref)
{
	char key[13];
	const char *sep = strstr(id, "://");
	const struct pod *p;

	if (sep)
		id = sep + 3;
	snprintf(key, sizeof(key), "%.12s", id);
	p = get(by_cid, key, ref);
	if (p && !pod_container_by_id(p, id)) {
		atomic_fetch_sub(&refs, 1);
		p = NULL;
	}
	return p;
}

static size_t op_sa(void *ud, const char *ns, const char *sa, const struct pod **p, void **r,
		    size_t max)
{
	return 0;
}

static void op_release(void *ud, void *ref)
{
	atomic_fetch_sub(&refs, 1);
}

static const struct profile_set *op_acquire(void *ud, void **ref)
{
	*ref = &set;
	return &set;
}

static void op_unacquire(void *ud, void *ref)
{
}

static int op_submit(void *ud, const struct drift_report *r)
{
	atomic_fetch_add(&reports, 1);
	return 0;
}

static json_t *pod_json(int i)
{
	char name[64], ns[32], uid[64], app[16], ip[32], cid[96];

	snprintf(name, sizeof(name), "api-%d-7d9f", i);
	snprintf(ns, sizeof(ns), "team-%d", i % NNS);
	snprintf(uid, sizeof(uid), "8a7c2e1f-9b3d-4c5e-8f7a-%012d", i);
	snprintf(app, sizeof(app), "app-%d", (i / NNS) % PROFILES_PER_NS);
	snprintf(ip, sizeof(ip), "10.%d.%d.%d", 64 + i / 65536, (i / 256) % 256, i % 256);
	snprintf(cid, sizeof(cid), "containerd://%012lx%052d", 0x9c1e00000000L + i, 0);
	return json_pack("{ss ss s{ss ss ss s{ss}} s{ss s[{ss ss}]} s{ss s[{ss}] s[{ss ss}]}}",
			 "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace", ns,
			 "uid", uid, "labels", "app", app, "spec", "nodeName", "node-a", "containers",
			 "name", "api", "image", "x", "status", "startTime", "2020-01-01T00:00:00Z",
			 "podIPs", "ip", ip, "containerStatuses", "name", "api", "containerID", cid);
}

static json_t *profile_json(int ns, int k)
{
	char name[32], nss[32], app[16], uid[32];

	snprintf(name, sizeof(name), "p-%d", k);
	snprintf(nss, sizeof(nss), "team-%d", ns);
	snprintf(app, sizeof(app), "app-%d", k);
	snprintf(uid, sizeof(uid), "uid-%d-%d", ns, k);
	return json_pack("{ss ss s{ss ss ss} s{s{s{ss}} ss s{s[sss] s[{ss s[ii]}, {ss s[i]}] s{s[ss] s[s]}}}}",
			 "apiVersion", "profileguard.io/v1alpha1", "kind", "WorkloadProfile",
			 "metadata", "name", name, "namespace", nss, "uid", uid,
			 "spec", "selector", "matchLabels", "app", app, "mode", "Enforce", "runtime",
			 "executables", "/app/server", "/usr/bin/curl", "/usr/lib/*",
			 "egress", "cidr", "10.0.0.0/8", "ports", 5432, 443, "cidr", "10.96.0.10/32",
			 "ports", 53, "files", "read", "/etc/ssl/*", "/app/*", "write", "/tmp/*");
}

/* One agent batch: lines about pods picked at random, 1% drifting. */
static void make_batch(struct buf *b, size_t n, unsigned *seed)
{
	static const char *const allowed[] = {
		"\"kind\":\"exec\",\"exe\":\"/app/server\",\"args\":[\"--listen=:8080\"]",
		"\"kind\":\"connect\",\"daddr\":\"10.96.14.2\",\"dport\":5432,\"protocol\":\"tcp\"",
		"\"kind\":\"open\",\"path\":\"/etc/ssl/certs/ca-certificates.crt\",\"write\":false",
		"\"kind\":\"exec\",\"exe\":\"/usr/lib/postgresql/bin/psql\"",
	};

	for (size_t i = 0; i < n; i++) {
		int p = rand_r(seed) % NPODS, how = rand_r(seed) % 100;
		const char *what = rand_r(seed) % 100 == 0 ? "\"kind\":\"exec\",\"exe\":\"/bin/sh\"" :
				   allowed[rand_r(seed) % 4];

		buf_printf(b, "{\"time\":\"2026-11-22T10:00:00Z\",\"node\":\"node-a\",\"container\":\"api\",");
		if (how < 70)
			buf_printf(b, "\"pod\":{\"namespace\":\"team-%d\",\"name\":\"api-%d-7d9f\"}", p % NNS, p);
		else if (how < 85)
			buf_printf(b, "\"pod\":{\"uid\":\"8a7c2e1f-9b3d-4c5e-8f7a-%012d\"}", p);
		else
			buf_printf(b, "\"containerID\":\"containerd://%012lx%052d\"", 0x9c1e00000000L + p, 0);
		buf_printf(b, ",%s}\n", what);
	}
}

int main(int argc, char **argv)
{
	size_t batch = argc > 1 ? (size_t)atol(argv[1]) : 1000;
	double seconds = argc > 2 ? atof(argv[2]) : 3.0;
	struct ingest_config cfg = {
		.ops = { op_name, op_uid, op_cid, op_sa, op_release, op_acquire, op_unacquire, NULL,
			 op_submit, NULL, NULL, NULL },
	};
	struct ingest_sender sender = { "system:serviceaccount:profileguard:profileguard-agent", "node-a" };
	struct buf body[16];
	struct ingest_result res;
	struct ingest *ing;
	struct errlist errs;
	unsigned seed = 42;
	size_t events = 0, unattributed = 0;
	double t0, el;

	errlist_init(&errs, 0);
	profile_set_init(&set);
	for (int ns = 0; ns < NNS; ns++) {
		for (int k = 0; k < PROFILES_PER_NS; k++) {
			json_t *j = profile_json(ns, k);
			const struct jval *v = jv(j);
			struct profile *p = NULL;

			if (!v || profile_parse(v, "default", &errs, &p) < 0 || profile_set_add(&set, p) < 0) {
				fprintf(stderr, "profile: %s\n", errs.n ? errs.msgs[0] : "?");
				return 1;
			}
			json_decref(j);
		}
	}
	for (int i = 0; i < NPODS; i++) {
		json_t *j = pod_json(i);
		const struct jval *v = jv(j);

		if (!v || pod_from_jval(v, "default", &errs, &pods[i]) < 0) {
			fprintf(stderr, "pod: %s\n", errs.n ? errs.msgs[0] : "?");
			return 1;
		}
		json_decref(j);
		snprintf(keys[i][0], sizeof(keys[i][0]), "%s/%s", pods[i]->namespace, pods[i]->name);
		snprintf(keys[i][1], sizeof(keys[i][1]), "%s", pods[i]->uid);
		snprintf(keys[i][2], sizeof(keys[i][2]), "%.12s", pods[i]->container_ids[0]);
		put(by_name, keys[i][0], pods[i]);
		put(by_uid, keys[i][1], pods[i]);
		put(by_cid, keys[i][2], pods[i]);
	}
	if (ingest_new(&cfg, &ing) < 0)
		return 1;
	/* Sixteen different batches in turn; one warm-up pass, then whole
	 * batches are timed. */
	for (int i = 0; i < 16; i++) {
		buf_init(&body[i], 64u << 20);
		make_batch(&body[i], batch, &seed);
		ingest_batch(ing, &sender, TELEMETRY_NATIVE, buf_str(&body[i]), body[i].len, 0, &res);
	}
	t0 = now();
	for (unsigned k = 0;; k++) {
		const struct buf *b = &body[k % 16];

		if (ingest_batch(ing, &sender, TELEMETRY_NATIVE, buf_str(b), b->len, 0, &res) < 0)
			return 1;
		events += res.accepted + res.unattributed + res.ignored + res.forbidden;
		unattributed += res.unattributed;
		el = now() - t0;
		if (el >= seconds)
			break;
	}
	printf("ingest events_per_s=%.0f ns_per_event=%.0f reports=%ld unattributed=%zu refs_left=%ld\n",
	       (double)events / el, el * 1e9 / (double)events, atomic_load(&reports), unattributed,
	       atomic_load(&refs));
	ingest_free(ing);
	for (int i = 0; i < NPODS; i++)
		pod_free(pods[i]);
	profile_set_free(&set);
	for (int i = 0; i < 16; i++)
		buf_free(&body[i]);
	errlist_free(&errs);
	return 0;
}
