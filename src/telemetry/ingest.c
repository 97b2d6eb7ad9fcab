/* ingest.c - a telemetry batch becomes judgements and reports: each event
 * is attributed to a pod through the controller's caches (ingest_ops),
 * checked against what the sender may speak for, judged against every
 * profile that selects the pod, and its findings submitted as drift
 * reports.  Keeps three small memories of its own: deleted pods (for a
 * token used after its pod is gone), per-pod API rate windows, and the
 * findings submitted lately (so an exec loop is not an API call per exec). */
#include "ingest.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "metrics.h"
#include "strutil.h"
#include "ticker.h"
#include "xalloc.h"

#define DEFAULT_GONE_TTL_S (15 * 60)
#define DEFAULT_MAX_GONE 65536
#define DEFAULT_MAX_RATE 65536
#define DEFAULT_REPEAT_MS 10000
/* The fold cache: a direct-mapped table of recent finding fingerprints. */
#define FOLD_SLOTS 8192
/* An event this much older than the pod it names (by name, without a
 * UID) is about an earlier pod of that name. */
#define START_SLACK_S 30
/* APIRateExceeded is reported once a minute per pod and profile set. */
#define RATE_REPORT_EVERY_S 60
#define SA_PREFIX "system:serviceaccount:"

static const char *const outcome_names[INGEST__COUNT] = {
	[INGEST_ACCEPTED] = "accepted", [INGEST_REJECTED] = "rejected",
	[INGEST_UNATTRIBUTED] = "unattributed", [INGEST_FORBIDDEN] = "forbidden",
	[INGEST_IGNORED] = "ignored",
};

const char *ingest_outcome_name(enum ingest_outcome o)
{
	return o < INGEST__COUNT ? outcome_names[o] : "unknown";
}

/* ---- a string-keyed table with an age order ------------------------------------- */

/* An smap with an age list: embed a node; the oldest (least recently
 * touched) is first in the age list, so eviction and expiry look at the
 * head only. */
struct hnode {
	struct smap_node s;             /* s.key: the key */
	struct hnode *older, *newer;    /* age list */
};

struct htab {
	struct smap m;
	struct hnode age;               /* sentinel: age.newer is the oldest */
};

static void htab_init(struct htab *t)
{
	memset(t, 0, sizeof(*t));
	t->age.older = t->age.newer = &t->age;
}

static struct hnode *htab_get(const struct htab *t, const char *key)
{
	struct smap_node *s = smap_get(&t->m, key);

	return s ? smap_entry(s, struct hnode, s) : NULL;
}

static void age_unlink(struct hnode *n)
{
	n->older->newer = n->newer;
	n->newer->older = n->older;
}

static void age_append(struct htab *t, struct hnode *n)
{
	n->newer = &t->age;
	n->older = t->age.older;
	t->age.older->newer = n;
	t->age.older = n;
}

/* Adds @n (no node with its key present).  0 or -ENOMEM. */
static int htab_put(struct htab *t, struct hnode *n)
{
	int r = smap_put(&t->m, &n->s);

	if (r < 0)
		return r;
	age_append(t, n);
	return 0;
}

static void htab_del(struct htab *t, struct hnode *n)
{
	smap_remove(&t->m, &n->s);
	age_unlink(n);
}

static void htab_touch(struct htab *t, struct hnode *n)
{
	age_unlink(n);
	age_append(t, n);
}

static struct hnode *htab_oldest(const struct htab *t)
{
	return t->age.newer != &t->age ? t->age.newer : NULL;
}

#define hentry(ptr, type) ((type *)(void *)((char *)(ptr) - offsetof(type, node)))

/* ---- deleted pods ------------------------------------------------------------------ */

/* One allocation: the record, the label arrays, then the strings; @pod
 * is what the engine and the reports read. */
struct gone {
	struct hnode node;              /* keyed by pod UID */
	int64_t expires;                /* epoch seconds */
	struct pod pod;
};

/* ---- per-pod API rate ----------------------------------------------------------------- */

struct rate {
	struct hnode node;              /* keyed by pod UID */
	struct runtime_ratewin win;
	int64_t reported;               /* event time APIRateExceeded was last reported */
	char key[];
};

struct fold_slot {
	uint64_t fp;
	int64_t at_ms;
};

struct ingest {
	struct ingest_config cfg;
	pthread_mutex_t mu;             /* the three memories */
	struct htab gone;
	struct htab rates;
	struct fold_slot *fold;         /* FOLD_SLOTS; NULL: folding off */
	struct metric *m_events[TELEMETRY__COUNT][INGEST__COUNT];
	struct metric *m_latency;
};

static int64_t wall_now(void)
{
	return (int64_t)time(NULL);
}

static void gone_drop(struct ingest *ing, struct gone *g)
{
	htab_del(&ing->gone, &g->node);
	pg_free(g);
}

/* Expired records are at the head: deletion order is age order. */
static void gone_expire(struct ingest *ing, int64_t now)
{
	struct hnode *n;

	while ((n = htab_oldest(&ing->gone)) && hentry(n, struct gone)->expires <= now)
		gone_drop(ing, hentry(n, struct gone));
}

static size_t slen(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static const char *scopy(char **p, const char *s)
{
	size_t n;
	char *d = *p;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	memcpy(d, s, n);
	*p += n;
	return d;
}

static struct gone *gone_new(const struct pod *pod, int64_t expires)
{
	size_t n = sizeof(struct gone) + 2 * pod->labels.n * sizeof(char *);
	struct gone *g;
	char *p;

	/* The addresses too: a late audit batch about a call made while the
	 * pod lived is judged on where it came from. */
	n += (size_t)(pod->nips + pod->nhost_ips) * sizeof(char *);
	n += slen(pod->namespace) + slen(pod->name) + slen(pod->uid) + slen(pod->node_name) +
	     slen(pod->owner_kind) + slen(pod->owner_name) + slen(pod->owner_uid) +
	     slen(pod->service_account);
	for (size_t i = 0; i < pod->labels.n; i++)
		n += slen(pod->labels.keys[i]) + slen(pod->labels.values[i]);
	for (uint8_t i = 0; i < pod->nips; i++)
		n += slen(pod->ips[i]);
	for (uint8_t i = 0; i < pod->nhost_ips; i++)
		n += slen(pod->host_ips[i]);
	g = pg_calloc(1, n);
	if (!g)
		return NULL;
	g->expires = expires;
	g->pod.labels.keys = (const char **)(void *)(g + 1);
	g->pod.labels.values = g->pod.labels.keys + pod->labels.n;
	g->pod.labels.n = pod->labels.n;
	g->pod.ips = g->pod.labels.values + pod->labels.n;
	g->pod.host_ips = g->pod.ips + pod->nips;
	p = (char *)(g->pod.host_ips + pod->nhost_ips);
	g->pod.kind = WK_POD;
	g->pod.spec_root = "spec";
	g->pod.namespace = scopy(&p, pod->namespace);
	g->pod.name = scopy(&p, pod->name);
	g->pod.uid = scopy(&p, pod->uid);
	g->pod.node_name = scopy(&p, pod->node_name);
	g->pod.owner_kind = scopy(&p, pod->owner_kind);
	g->pod.owner_name = scopy(&p, pod->owner_name);
	g->pod.owner_uid = scopy(&p, pod->owner_uid);
	g->pod.service_account = scopy(&p, pod->service_account);
	g->pod.start_time = pod->start_time;
	g->pod.created = pod->created;
	g->pod.deletion_time = pod->deletion_time;
	g->pod.run_as_user = -1;
	for (size_t i = 0; i < pod->labels.n; i++) {
		g->pod.labels.keys[i] = scopy(&p, pod->labels.keys[i]);
		g->pod.labels.values[i] = scopy(&p, pod->labels.values[i]);
	}
	for (uint8_t i = 0; i < pod->nips; i++)
		g->pod.ips[g->pod.nips++] = scopy(&p, pod->ips[i]);
	for (uint8_t i = 0; i < pod->nhost_ips; i++)
		g->pod.host_ips[g->pod.nhost_ips++] = scopy(&p, pod->host_ips[i]);
	g->node.s.key = g->pod.uid;
	return g;
}

void ingest_pod_gone(struct ingest *ing, const struct pod *pod)
{
	int64_t now = ing->cfg.now();
	struct hnode *n;
	struct gone *g;

	if (!pod || !pod->uid || !*pod->uid || !pod->namespace || !pod->name)
		return;
	g = gone_new(pod, now + ing->cfg.gone_ttl_s);
	pthread_mutex_lock(&ing->mu);
	if ((n = htab_get(&ing->rates, pod->uid))) {
		htab_del(&ing->rates, n);
		pg_free(n);
	}
	gone_expire(ing, now);
	if (g) {
		if ((n = htab_get(&ing->gone, pod->uid)))
			gone_drop(ing, hentry(n, struct gone));
		while (ing->gone.m.n >= ing->cfg.max_gone && (n = htab_oldest(&ing->gone)))
			gone_drop(ing, hentry(n, struct gone));
		if (htab_put(&ing->gone, &g->node) < 0)
			pg_free(g);
	}
	pthread_mutex_unlock(&ing->mu);
}

size_t ingest_gone_count(struct ingest *ing)
{
	size_t n;

	pthread_mutex_lock(&ing->mu);
	n = ing->gone.m.n;
	pthread_mutex_unlock(&ing->mu);
	return n;
}

/* ---- set-up ------------------------------------------------------------------------- */

static void register_metrics(struct ingest *ing)
{
	static const char *const labels[] = { "source", "result", NULL };
	static const double buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
					  0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
	struct metric_vec *v;

	v = metrics_counter(ing->cfg.metrics, "profileguard_telemetry_events_total",
			    "Telemetry events received, by source and what became of them: accepted "
			    "(attributed and judged), rejected (malformed), unattributed (no such pod), "
			    "forbidden (a pod the sender may not speak for), ignored (no profile, "
			    "exempt, or not an event that is judged).", labels);
	for (int s = 0; s < TELEMETRY__COUNT; s++)
		for (int o = 0; o < INGEST__COUNT; o++)
			ing->m_events[s][o] = metric_vec_get2(v, telemetry_source_name((enum telemetry_source)s),
							      outcome_names[o]);
	ing->m_latency = metric_vec_get(metrics_histogram(ing->cfg.metrics,
		"profileguard_telemetry_receipt_to_action_seconds",
		"From a telemetry request's arrival to its drift report being queued on the action "
		"path (the pod write follows on the actions worker).", NULL, buckets,
		sizeof(buckets) / sizeof(buckets[0])), NULL);
}

int ingest_new(const struct ingest_config *cfg, struct ingest **ret)
{
	const struct ingest_ops *o = &cfg->ops;
	struct ingest *ing;

	if (!o->pod_by_name || !o->pod_by_uid || !o->pod_by_container || !o->pods_of_sa ||
	    !o->pod_release || !o->profiles_acquire || !o->profiles_release || !o->submit)
		return -EINVAL;
	ing = pg_calloc(1, sizeof(*ing));
	if (!ing)
		return -ENOMEM;
	ing->cfg = *cfg;
	if (ing->cfg.gone_ttl_s <= 0)
		ing->cfg.gone_ttl_s = DEFAULT_GONE_TTL_S;
	if (!ing->cfg.max_gone)
		ing->cfg.max_gone = DEFAULT_MAX_GONE;
	if (!ing->cfg.max_rate_pods)
		ing->cfg.max_rate_pods = DEFAULT_MAX_RATE;
	if (ing->cfg.repeat_ms == 0)
		ing->cfg.repeat_ms = DEFAULT_REPEAT_MS;
	if (!ing->cfg.now)
		ing->cfg.now = wall_now;
	if (!ing->cfg.now_ms)
		ing->cfg.now_ms = ticker_now_ms;
	if (ing->cfg.repeat_ms > 0) {
		ing->fold = pg_calloc(FOLD_SLOTS, sizeof(*ing->fold));
		if (!ing->fold) {
			pg_free(ing);
			return -ENOMEM;
		}
	}
	pthread_mutex_init(&ing->mu, NULL);
	htab_init(&ing->gone);
	htab_init(&ing->rates);
	if (cfg->metrics)
		register_metrics(ing);
	*ret = ing;
	return 0;
}

struct ingest *ingest_free(struct ingest *ing)
{
	struct hnode *n;

	if (!ing)
		return NULL;
	while ((n = htab_oldest(&ing->gone)))
		gone_drop(ing, hentry(n, struct gone));
	while ((n = htab_oldest(&ing->rates))) {
		htab_del(&ing->rates, n);
		pg_free(n);
	}
	smap_clear(&ing->gone.m, NULL, NULL);
	smap_clear(&ing->rates.m, NULL, NULL);
	pg_free(ing->fold);
	pthread_mutex_destroy(&ing->mu);
	pg_free(ing);
	return NULL;
}

/* ---- one batch ------------------------------------------------------------------------ */

struct batch {
	struct ingest *ing;
	const struct ingest_sender *sender;
	enum telemetry_source src;
	const struct profile_set *set;
	struct ingest_result *res;
	int64_t t0_us;
	size_t counts[INGEST__COUNT];
};

static int outcome(struct batch *b, enum ingest_outcome o)
{
	b->counts[o]++;
	return 0;
}

static bool ns_has_profiles(const struct batch *b, const char *ns)
{
	struct profile *const *first;

	return b->set && ns && profile_set_namespace(b->set, ns, &first) > 0;
}

/* True when the same finding went out less than repeat_ms ago; else
 * notes that it goes out now. */
static bool folded(struct batch *b, const struct pod *pod, const struct finding *f)
{
	struct ingest *ing = b->ing;
	uint64_t fp = HASH_FNV64_BASIS;
	int64_t now = ing->cfg.now_ms();
	struct fold_slot *s;
	bool hit;

	if (!ing->fold)
		return false;
	fp = hash_fnv1a64_field(fp, pod->uid);
	fp = hash_fnv1a64_field(fp, f->profile->uid ? f->profile->uid : f->profile->name);
	fp = hash_fnv1a64_field(fp, reason_name(f->reason));
	fp = hash_fnv1a64_field(fp, f->message);
	fp |= 1;                        /* 0 marks an empty slot */
	s = &ing->fold[fp % FOLD_SLOTS];
	pthread_mutex_lock(&ing->mu);
	hit = s->fp == fp && now - s->at_ms < ing->cfg.repeat_ms;
	if (!hit) {
		s->fp = fp;
		s->at_ms = now;
	}
	pthread_mutex_unlock(&ing->mu);
	return hit;
}

/* One report per profile, its findings grouped by reason in the engine's
 * order (drift_group_findings()). */
static void submit(struct batch *b, const struct pod *pod, const struct findings *f,
		   bool no_pod, int64_t observed)
{
	const struct ingest_ops *o = &b->ing->cfg.ops;
	bool sent[FINDINGS_DEFAULT_MAX] = { false }, any = false;

	if (!f->n)
		return;
	for (size_t i = 0; i < f->n && i < FINDINGS_DEFAULT_MAX; i++) {
		sent[i] = !folded(b, pod, &f->v[i]);
		if (!sent[i])
			b->res->folded++;
		any |= sent[i];
	}
	if (!any)
		return;
	for (size_t i = 0; i < f->n && i < FINDINGS_DEFAULT_MAX; i++) {
		const struct profile *prof = f->v[i].profile;
		struct drift_groups g;
		struct drift_report r;
		bool seen = !sent[i];

		for (size_t k = 0; k < i && !seen; k++)
			seen = sent[k] && f->v[k].profile == prof;
		if (seen)
			continue;
		drift_group_findings(f, FINDINGS_DEFAULT_MAX, sent, prof, NULL, NULL, &g);
		drift_report_fill(&r, pod, prof);
		r.no_pod = no_pod;
		r.evidence = f->v[i].evidence;
		r.groups = g.g;
		r.ngroups = g.n;
		r.observed = observed;
		if (o->submit(o->ud, &r) < 0) {
			b->res->dropped++;
		} else {
			b->res->reports++;
			if (b->t0_us)
				metric_observe(b->ing->m_latency, (double)(ticker_now_ns() / 1000 - b->t0_us) / 1e6);
		}
	}
}

/* Judges @ev from @pod against every profile of the set that selects it:
 * -ENOENT when none does (ignored), 0 (findings in @f), -ENOMEM. */
static int judge_pod(struct batch *b, const struct pod *pod, const struct telemetry_event *e,
		     struct findings *f)
{
	struct profile *const *first;
	size_t n = b->set ? profile_set_namespace(b->set, pod->namespace, &first) : 0;
	bool any = false;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		if (!selector_matches(&first[i]->selector, &pod->labels))
			continue;
		any = true;
		r = runtime_judge(first[i], pod, &e->ev, f);
	}
	return r < 0 ? r : any ? 0 : -ENOENT;
}

/* Not judged on evidence @ev: a mirror pod, an exempt namespace, or a pod
 * whose phase makes @ev moot (a finished pod, for what a node says). */
static bool exempt(const struct batch *b, const struct pod *pod, enum evidence ev)
{
	const struct ingest_ops *o = &b->ing->cfg.ops;

	return pod->mirror || !engine_counts(pod, ev) ||
	       (o->ns_exempt && o->ns_exempt(o->ud, pod->namespace));
}

/* ---- exec, connect, open, token: native, Falco, Tetragon ---------------------------- */

static const struct pod *attribute(struct batch *b, const struct telemetry_event *e, void **ref)
{
	const struct ingest_ops *o = &b->ing->cfg.ops;
	const struct pod *pod = NULL;

	*ref = NULL;
	if (e->pod_namespace && e->pod_name) {
		pod = o->pod_by_name(o->ud, e->pod_namespace, e->pod_name, ref);
		if (pod && e->pod_uid && !str_eq(pod->uid, e->pod_uid)) {
			/* Another pod of that name now: the event is not its. */
			o->pod_release(o->ud, *ref);
			pod = NULL;
		}
		if (pod && !e->pod_uid && pod->start_time > 0 && e->ev.time > 0 &&
		    e->ev.time + START_SLACK_S < pod->start_time) {
			o->pod_release(o->ud, *ref);
			pod = NULL;
		}
	} else if (e->pod_uid) {
		pod = o->pod_by_uid(o->ud, e->pod_uid, ref);
	} else if (e->container_id) {
		pod = o->pod_by_container(o->ud, e->container_id, ref);
	}
	if (!pod)
		*ref = NULL;
	return pod;
}

static int node_event(struct batch *b, const struct telemetry_event *e)
{
	const struct ingest_ops *o = &b->ing->cfg.ops;
	const char *node = b->sender->node;
	struct telemetry_event ev = *e;
	struct findings f;
	const struct pod *pod;
	void *ref;
	int r;

	/* The event's own node field is not consulted: Falco writes the
	 * host name there, which need not be the node's name.  What counts
	 * is where the pod runs. */
	if (e->pod_namespace && e->pod_name && !ns_has_profiles(b, e->pod_namespace)) {
		/* Cheap: no profile in the namespace, nothing to judge. */
		return outcome(b, INGEST_IGNORED);
	}
	pod = attribute(b, e, &ref);
	if (!pod)
		return outcome(b, INGEST_UNATTRIBUTED);
	/* An agent speaks for its own node only. */
	if (node && !str_eq(pod->node_name, node)) {
		o->pod_release(o->ud, ref);
		return outcome(b, INGEST_FORBIDDEN);
	}
	if (exempt(b, pod, EV_NODE)) {
		o->pod_release(o->ud, ref);
		return outcome(b, INGEST_IGNORED);
	}
	if (!ev.ev.container && e->container_id)
		ev.ev.container = pod_container_by_id(pod, e->container_id);
	findings_init(&f, FINDINGS_DEFAULT_MAX);
	r = judge_pod(b, pod, &ev, &f);
	if (r == 0)
		submit(b, pod, &f, false, ev.ev.time);
	findings_free(&f);
	o->pod_release(o->ud, ref);
	if (r == -ENOMEM)
		return r;
	return outcome(b, r == -ENOENT ? INGEST_IGNORED : INGEST_ACCEPTED);
}

/* ---- audit -------------------------------------------------------------------------- */

/* The calls of the last minute by @pod, this one counted; 0 when the
 * rate is not to be judged now (reported within the minute, or no room
 * to keep a window). */
static uint32_t rate_count(struct batch *b, const struct pod *pod, int64_t t)
{
	struct ingest *ing = b->ing;
	struct hnode *n;
	struct rate *rt;
	uint32_t calls = 0;

	pthread_mutex_lock(&ing->mu);
	n = htab_get(&ing->rates, pod->uid);
	if (n) {
		rt = hentry(n, struct rate);
		htab_touch(&ing->rates, n);
	} else {
		size_t len = strlen(pod->uid) + 1;

		while (ing->rates.m.n >= ing->cfg.max_rate_pods && (n = htab_oldest(&ing->rates))) {
			htab_del(&ing->rates, n);
			pg_free(n);
		}
		rt = pg_calloc(1, sizeof(*rt) + len);
		if (rt) {
			memcpy(rt->key, pod->uid, len);
			rt->node.s.key = rt->key;
			runtime_ratewin_init(&rt->win);
			rt->reported = INT64_MIN / 2;
			if (htab_put(&ing->rates, &rt->node) < 0) {
				pg_free(rt);
				rt = NULL;
			}
		}
	}
	if (rt) {
		calls = runtime_ratewin_add(&rt->win, t, 1);
		if (t - rt->reported < RATE_REPORT_EVERY_S)
			calls = 0;
	}
	pthread_mutex_unlock(&ing->mu);
	return calls;
}

static void rate_reported(struct batch *b, const struct pod *pod, int64_t t)
{
	struct hnode *n;

	pthread_mutex_lock(&b->ing->mu);
	n = htab_get(&b->ing->rates, pod->uid);
	if (n)
		(hentry(n, struct rate))->reported = t;
	pthread_mutex_unlock(&b->ing->mu);
}

/* Judges one API call against the profiles that select @pod: the
 * kubernetesAPI rules and token annotations, the rate, and when the token
 * is bound to this pod, where it was used from.  0, -ENOENT (no profile
 * selects the pod), -ENOMEM. */
static int judge_api(struct batch *b, const struct pod *pod, const struct telemetry_event *e, bool bound)
{
	struct profile *const *first;
	size_t n = b->set ? profile_set_namespace(b->set, pod->namespace, &first) : 0;
	uint32_t calls = 0;
	bool any = false, counted = false, rate_found = false;
	struct findings f;
	int r = 0;

	findings_init(&f, FINDINGS_DEFAULT_MAX);
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct profile *p = first[i];

		if (!selector_matches(&p->selector, &pod->labels))
			continue;
		any = true;
		r = runtime_judge(p, pod, &e->ev, &f);
		if (r == 0 && p->runtime.max_api_calls_per_minute >= 0) {
			size_t before = f.n;

			if (!counted) {
				calls = rate_count(b, pod, e->ev.time);
				counted = true;
			}
			if (calls)
				r = runtime_judge_rate(p, pod, e->ev.username, calls, &f);
			rate_found |= f.n > before;
		}
		if (r == 0 && bound)
			r = runtime_judge_replay(p, pod, false, e->received, e->source_ip,
						 e->ev.username, &f);
	}
	if (rate_found)
		rate_reported(b, pod, e->ev.time);
	if (r == 0 && any)
		submit(b, pod, &f, false, e->ev.time);
	findings_free(&f);
	return r < 0 ? r : any ? 0 : -ENOENT;
}

/* A token bound to a pod that is gone: a TokenReplay of every profile
 * that selected it, on record only.  The outcome in *@ret; 0 or -ENOMEM. */
static int judge_gone(struct batch *b, const struct telemetry_event *e, enum ingest_outcome *ret)
{
	struct ingest *ing = b->ing;
	struct profile *const *first;
	struct findings f;
	struct hnode *n = NULL;
	struct gone *g = NULL;
	size_t np;
	bool any = false;
	int r = 0;

	*ret = INGEST_UNATTRIBUTED;
	pthread_mutex_lock(&ing->mu);
	gone_expire(ing, ing->cfg.now());
	if (e->bound_pod_uid)
		n = htab_get(&ing->gone, e->bound_pod_uid);
	/* A copy: the record may go while this runs. */
	if (n)
		g = gone_new(&hentry(n, struct gone)->pod, hentry(n, struct gone)->expires);
	pthread_mutex_unlock(&ing->mu);
	if (!n)
		return 0;
	if (!g)
		return -ENOMEM;
	if (!str_eq(g->pod.namespace, e->pod_namespace)) {
		pg_free(g);
		return 0;
	}
	np = b->set ? profile_set_namespace(b->set, g->pod.namespace, &first) : 0;
	findings_init(&f, FINDINGS_DEFAULT_MAX);
	for (size_t i = 0; i < np && r == 0; i++) {
		if (!selector_matches(&first[i]->selector, &g->pod.labels))
			continue;
		any = true;
		r = runtime_judge_replay(first[i], &g->pod, true, e->received, e->source_ip,
					 e->ev.username, &f);
	}
	if (r == 0 && any)
		submit(b, &g->pod, &f, true, e->ev.time);
	findings_free(&f);
	pg_free(g);
	*ret = any ? INGEST_ACCEPTED : INGEST_IGNORED;
	return r;
}

static int audit_event(struct batch *b, const struct telemetry_event *e)
{
	const struct ingest_ops *o = &b->ing->cfg.ops;
	const struct pod *pods[INGEST_MAX_SA_PODS];
	void *refs[INGEST_MAX_SA_PODS];
	const char *sa;
	size_t n;
	bool any = false;
	int r = 0;

	/* Identities of namespaces without a profile cost one lookup. */
	if (!ns_has_profiles(b, e->pod_namespace))
		return outcome(b, INGEST_IGNORED);
	if (e->bound_pod_name || e->bound_pod_uid) {
		const struct pod *pod = NULL;
		void *ref = NULL;

		if (e->bound_pod_name)
			pod = o->pod_by_name(o->ud, e->pod_namespace, e->bound_pod_name, &ref);
		else
			pod = o->pod_by_uid(o->ud, e->bound_pod_uid, &ref);
		if (pod && ((e->bound_pod_uid && !str_eq(pod->uid, e->bound_pod_uid)) ||
			    !str_eq(pod->namespace, e->pod_namespace))) {
			/* The name lives on in a newer pod: the bound one is gone. */
			o->pod_release(o->ud, ref);
			pod = NULL;
		}
		if (!pod) {
			enum ingest_outcome oc;

			r = judge_gone(b, e, &oc);
			return r < 0 ? r : outcome(b, oc);
		}
		if (exempt(b, pod, EV_AUDIT)) {
			o->pod_release(o->ud, ref);
			return outcome(b, INGEST_IGNORED);
		}
		r = judge_api(b, pod, e, true);
		o->pod_release(o->ud, ref);
		if (r == -ENOMEM)
			return r;
		return outcome(b, r == 0 ? INGEST_ACCEPTED : INGEST_IGNORED);
	}
	/* A token that names no pod (a legacy Secret, a TokenRequest without
	 * a binding): every running pod of the identity is a suspect. */
	sa = e->ev.username + strlen(SA_PREFIX) + strlen(e->pod_namespace) + 1;
	n = o->pods_of_sa(o->ud, e->pod_namespace, sa, pods, refs, INGEST_MAX_SA_PODS);
	if (!n)
		return outcome(b, INGEST_UNATTRIBUTED);
	for (size_t i = 0; i < n; i++) {
		int k = 0;

		if (r == 0 && !exempt(b, pods[i], EV_AUDIT)) {
			k = judge_api(b, pods[i], e, false);
			if (k == 0)
				any = true;
			else if (k == -ENOMEM)
				r = k;
		}
		o->pod_release(o->ud, refs[i]);
	}
	if (r < 0)
		return r;
	return outcome(b, any ? INGEST_ACCEPTED : INGEST_IGNORED);
}

/* A call that succeeded is a use of the identity, profiles or not. */
static void account_used(struct batch *b, const struct telemetry_event *e)
{
	const struct ingest_ops *o = &b->ing->cfg.ops;
	size_t lp = strlen(SA_PREFIX), lns = strlen(e->pod_namespace);
	const char *rest = e->ev.username + lp;

	if (!o->account_used || e->code <= 0 || e->code >= 400 || e->ev.time <= 0 ||
	    strlen(rest) <= lns + 1 || strncmp(rest, e->pod_namespace, lns) != 0 || rest[lns] != ':')
		return;
	o->account_used(o->ud, e->pod_namespace, rest + lns + 1, &e->ev);
}

static int on_event(void *ud, const struct telemetry_event *e)
{
	struct batch *b = ud;

	if (e->source == TELEMETRY_AUDIT) {
		/* The parser only delivers system:serviceaccount:NS:NAME users. */
		if (!e->ev.username || !str_has_prefix(e->ev.username, SA_PREFIX) || !e->pod_namespace)
			return outcome(b, INGEST_IGNORED);
		account_used(b, e);
		return audit_event(b, e);
	}
	return node_event(b, e);
}

int ingest_batch(struct ingest *ing, const struct ingest_sender *sender, enum telemetry_source src,
		 const char *body, size_t len, int64_t t0_us, struct ingest_result *ret)
{
	const struct ingest_ops *o = &ing->cfg.ops;
	struct batch b = { .ing = ing, .sender = sender, .src = src, .res = ret };
	struct telemetry_stats st;
	void *pref = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (src == TELEMETRY_AUDIT && sender->node)
		return -EPERM;
	b.t0_us = t0_us;
	b.set = o->profiles_acquire(o->ud, &pref);
	r = telemetry_parse(src, body ? body : "", len, on_event, &b, &st);
	if (src == TELEMETRY_AUDIT && r == 0 && o->audit_batch)
		o->audit_batch(o->ud);
	if (b.set)
		o->profiles_release(o->ud, pref);
	b.counts[INGEST_REJECTED] = st.rejected;
	b.counts[INGEST_IGNORED] += st.ignored;
	ret->accepted = b.counts[INGEST_ACCEPTED];
	ret->rejected = b.counts[INGEST_REJECTED];
	ret->forbidden = b.counts[INGEST_FORBIDDEN];
	ret->unattributed = b.counts[INGEST_UNATTRIBUTED];
	ret->ignored = b.counts[INGEST_IGNORED];
	memcpy(ret->first_error, st.first_error, sizeof(ret->first_error));
	if (src < TELEMETRY__COUNT)
		for (int k = 0; k < INGEST__COUNT; k++)
			metric_add(ing->m_events[src][k], b.counts[k]);
	return r;
}
