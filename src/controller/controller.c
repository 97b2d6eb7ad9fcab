/* controller.c - the drift controller's wiring: five informers feed a
 * deduplicating queue of pods to judge; one judge thread holds every pod
 * to the profiles of its namespace with engine_eval_running() and hands
 * what is new to the actions; a housekeeping loop writes profile status,
 * resyncs, and keeps metrics and health.  Nothing is judged until every
 * cache has synced and this replica leads.
 *
 * For a pod with findings the judge (podjudge.c) remembers a fingerprint
 * of each (profile, reason) group already reported, so a re-judge reports
 * only what changed; pods without findings cost nothing beyond the
 * informer's cache.  That memory belongs to one leadership term: a new
 * term starts from the cluster's state.  matchedPods is counted afresh by
 * a scan of the cache when pods or profiles changed, at most once per
 * status interval.  The profile cache is profcache.c's, the status writes
 * status_ops.c's, the identity inventory and its reports identities.c's
 * (its informers are wired here; the loop flushes its reports). */
#include "controller.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions.h"
#include "auditlive.h"
#include "buf.h"
#include "engine.h"
#include "hash.h"
#include "identities.h"
#include "kube_api.h"
#include "kube_client.h"
#include "kube_decode.h"
#include "kube_informer.h"
#include "leader.h"
#include "metrics.h"
#include "pglog.h"
#include "podjudge.h"
#include "profcache.h"
#include "queue.h"
#include "recorder.h"
#include "rfc3339.h"
#include "runtime.h"
#include "status.h"
#include "status_ops.h"
#include "strutil.h"
#include "ticker.h"
#include "xalloc.h"

#define IGNORE_LABEL "profileguard.io/ignore"
#define TOKEN_SECRET_SELECTOR "type=kubernetes.io/service-account-token"
/* A ProfileInvalid Event that could not be written is tried again after this. */
#define INVALID_EVENT_RETRY_MS 30000
/* An informer failing this long with no success in between: /healthz 503. */
#define UNHEALTHY_AFTER_MS (2 * 60 * 1000)
/* Errors and retries quiet this long: the watch is taken to be running. */
#define QUIET_HEALTHY_MS (90 * 1000)
#define TICK_MS 250
/* The whole shutdown, by default: below the chart's (and Kubernetes')
 * terminationGracePeriodSeconds of 30 s. */
#define SHUTDOWN_DEFAULT_MS 20000
/* Of the shutdown (a quarter at most), kept for the Lease release and the
 * informers' stop (about a second). */
#define SHUTDOWN_RESERVE_MS 3000
#define KEY_MAX 600

/* The identity inventory's informers follow the judge's (identities.c):
 * RBAC whole, the workloads' template accounts, the stored reports. */
enum {
	INF_PODS, INF_PROFILES, INF_SAS, INF_NAMESPACES, INF_SECRETS,
	INF_ROLES, INF_CLUSTERROLES, INF_ROLEBINDINGS, INF_CLUSTERROLEBINDINGS, INF_REPORTS,
	INF_WORKLOADS, INF__COUNT = INF_WORKLOADS + IDWL__COUNT
};

struct controller;

struct infslot {
	struct controller *c;
	int idx;
	struct kube_informer *inf;
	struct metric *m_restarts;
	atomic_bool synced;             /* on_synced came: the first list was delivered */
	uint64_t restarts_seen;
	_Atomic int64_t failing_since;  /* 0: healthy */
	uint64_t progress_seen, activity_seen;
	int64_t activity_ms;
};

struct nsreq {
	struct smap_node node;
	char ns[];
};

struct controller {
	struct controller_config cfg;
	char *ns, *identity, *lease_name;
	char **ignored;
	size_t nignored;
	struct infslot slot[INF__COUNT];
	struct leader *leader;
	struct actions *actions;
	struct queue *queue;

	pthread_t judge_thread, loop_thread;
	bool judge_running, loop_running, started, stopped;
	atomic_bool stopping;
	atomic_bool flush_cancel;       /* status writes in flight give up */
	atomic_bool leading;
	atomic_bool active;             /* leading and synced: judging */

	pthread_mutex_t mu;             /* everything below */
	pthread_cond_t loop_cond;
	struct profcache profs;
	struct podjudge judge;          /* what was reported, per pod with findings */
	atomic_bool recount;            /* matchedPods may have moved */
	int64_t recounted_ms;
	struct smap pending_ns;         /* namespaces to re-judge */
	bool warming;                   /* the first pass of a term runs */
	int64_t pass_started_ms;        /* a pass (all pods, or namespaces) runs */
	size_t pass_count;
	bool pass_all;
	int64_t next_resync_ms;
	/* The telemetry ingest's indexes follow the pods (telemetry_ops.c). */
	controller_pod_hook_fn pod_hook;
	void *pod_hook_ud;
	/* The identity inventory (its own lock, taken after mu) and the
	 * judge's scratch for an account's risk (under mu). */
	struct identities *ids;
	struct identities_kube idk;
	struct risk_result *risk_scratch;
	/* The audit source's live span (its own lock: the telemetry threads
	 * tell of batches), restored once per term from the Lease
	 * "<lease>-audit", saved there by the loop. */
	pthread_mutex_t live_mu;
	struct auditlive live;
	bool live_restored;             /* loop thread only */
	int64_t live_retry;             /* loop thread only: wall seconds */
	char *live_lease;

	struct metric *m_leader, *m_profiles, *m_judged, *m_judge_all;
};

static void request_ns(struct controller *c, const char *ns);
static void maybe_activate(struct controller *c);
static void live_tick(struct controller *c, int64_t wall);


/* ---- the judge ------------------------------------------------------------------------ */

static bool is_token_secret(void *ud, const char *ns, const char *name)
{
	struct controller *c = ud;
	struct kube_object *o = kube_informer_get(c->slot[INF_SECRETS].inf, ns, name);

	kube_object_unref(o);
	return o != NULL;
}

static bool ns_ignored(struct controller *c, const char *ns)
{
	struct kube_object *o;
	const struct kube_meta *m;
	bool ignored = false;

	if (strcmp(ns, c->ns) == 0)
		return true;
	for (size_t i = 0; i < c->nignored; i++)
		if (strcmp(ns, c->ignored[i]) == 0)
			return true;
	o = kube_informer_get(c->slot[INF_NAMESPACES].inf, NULL, ns);
	m = o ? kube_object_data(o) : NULL;
	if (m)
		ignored = str_eq(labels_get(&m->labels, IGNORE_LABEL), "true");
	kube_object_unref(o);
	return ignored;
}

static bool env_ns_ignored(void *ud, const char *ns)
{
	return ns_ignored(ud, ns);
}

/* identity.maxRisk: the account's risk from the RBAC index now (the
 * judge runs under mu, so one scratch result serves). */
static int env_identity_risk(void *ud, const char *ns, const char *name, const struct risk_result **ret)
{
	struct controller *c = ud;
	int r = identities_risk(c->ids, ns, name, c->risk_scratch);

	*ret = r == 0 ? c->risk_scratch : NULL;
	return r;
}

static void judge_key(struct controller *c, const char *key)
{
	const struct podjudge_env env = {
		.profs = &c->profs, .actions = c->actions, .sas = c->slot[INF_SAS].inf,
		.ns_ignored = env_ns_ignored, .is_token_secret = is_token_secret,
		.identity_risk = env_identity_risk, .ud = c,
	};
	char ns[256];
	const char *slash = strchr(key, '/');
	struct kube_object *obj;
	size_t len;

	if (!slash || (len = (size_t)(slash - key)) >= sizeof(ns))
		return;
	memcpy(ns, key, len);
	ns[len] = '\0';
	obj = kube_informer_get(c->slot[INF_PODS].inf, ns, slash + 1);
	pthread_mutex_lock(&c->mu);
	if (atomic_load(&c->active))
		podjudge_pod(&c->judge, &env, key, obj);
	pthread_mutex_unlock(&c->mu);
	kube_object_unref(obj);
	metric_inc(c->m_judged);
}

struct expand_ctx {
	struct controller *c;
	struct smap *only;              /* NULL: every namespace */
	size_t n;
};

static int expand_one(void *ud, struct kube_object *o)
{
	struct expand_ctx *x = ud;
	char key[KEY_MAX];

	if (x->only && !smap_get(x->only, kube_object_namespace(o)))
		return 0;
	if ((size_t)snprintf(key, sizeof(key), "%s/%s", kube_object_namespace(o),
			     kube_object_name(o)) >= sizeof(key))
		return 0;
	if (queue_add(x->c->queue, key) >= 0)
		x->n++;
	return 0;
}

static void free_nsreq(void *ud, struct smap_node *n)
{
	pg_free(smap_entry(n, struct nsreq, node));
}

/* "*all": every pod; "*ns": the pods of the namespaces asked for. */
static void expand(struct controller *c, const char *key)
{
	struct expand_ctx x = { c, NULL, 0 };
	struct smap only = { 0 };

	if (strcmp(key, "*ns") == 0) {
		pthread_mutex_lock(&c->mu);
		only = c->pending_ns;
		memset(&c->pending_ns, 0, sizeof(c->pending_ns));
		pthread_mutex_unlock(&c->mu);
		x.only = &only;
	}
	if (!x.only) {
		pthread_mutex_lock(&c->mu);
		if (!c->pass_started_ms)
			c->pass_started_ms = ticker_now_ms();
		c->pass_all = true;
		pthread_mutex_unlock(&c->mu);
	}
	kube_informer_foreach(c->slot[INF_PODS].inf, expand_one, &x);
	pthread_mutex_lock(&c->mu);
	c->pass_count += x.n;
	pthread_mutex_unlock(&c->mu);
	smap_clear(&only, free_nsreq, NULL);
}

/* The queue drained after a pass: how long it took, from the request. */
static void pass_done(struct controller *c, int64_t started, size_t n, bool all)
{
	double secs = (double)(ticker_now_ms() - started) / 1000.0;
	char pods[24], s[32];

	snprintf(pods, sizeof(pods), "%zu", n);
	snprintf(s, sizeof(s), "%.3f", secs);
	if (all) {
		metric_set(c->m_judge_all, secs);
		pglog(PGLOG_INFO, "judged every pod", "pods", pods, "seconds", s, NULL);
#ifdef __GLIBC__
		/* A pass queues a key per pod: hand that peak back. */
		malloc_trim(0);
#endif
	} else {
		pglog(PGLOG_DEBUG, "judged pods of changed namespaces", "pods", pods, "seconds", s,
		      NULL);
	}
}

static void *judge_main(void *arg)
{
	struct controller *c = arg;
	const char *key;

	while (queue_get(c->queue, -1, &key) == 0) {
		if (key[0] == '*')
			expand(c, key);
		else
			judge_key(c, key);
		queue_done(c->queue, key);
		if (queue_len(c->queue) == 0) {
			int64_t started;
			size_t n;
			bool all;

			pthread_mutex_lock(&c->mu);
			started = c->pass_started_ms;
			n = c->pass_count;
			all = c->pass_all;
			c->pass_started_ms = 0;
			c->pass_count = 0;
			c->pass_all = false;
			c->warming = false;
			pthread_mutex_unlock(&c->mu);
			if (started)
				pass_done(c, started, n, all);
		}
	}
	return NULL;
}

/* ---- leadership -------------------------------------------------------------------- */

/* Counted from on_synced, so every handler of the first list has run
 * (and its changes are in the controller's tables) before judging. */
static bool all_synced(struct controller *c)
{
	for (int i = 0; i < INF__COUNT; i++)
		if (!atomic_load(&c->slot[i].synced))
			return false;
	return true;
}

static void maybe_activate(struct controller *c)
{
	bool go = false;

	pthread_mutex_lock(&c->mu);
	if (atomic_load(&c->leading) && !atomic_load(&c->active) && !atomic_load(&c->stopping) &&
	    all_synced(c)) {
		atomic_store(&c->active, true);
		c->warming = true;
		c->next_resync_ms = ticker_now_ms() + c->cfg.resync_ms;
		c->recounted_ms = 0;
		atomic_store(&c->recount, true);
		for (size_t i = 0; i < c->profs.n; i++)
			profcache_reset_term(c->profs.v[i]);
		go = true;
	}
	pthread_mutex_unlock(&c->mu);
	if (go) {
		identities_new_term(c->ids);
		c->live_restored = false;
	}
	if (go) {
		pglog(PGLOG_INFO, "judging: caches synced and leading", "identity", c->identity, NULL);
		queue_add(c->queue, "*all");
	}
}

static void on_started_leading(void *ud)
{
	struct controller *c = ud;

	pglog(PGLOG_INFO, "became leader", "identity", c->identity, "lease", c->lease_name,
	      "namespace", c->ns, NULL);
	actions_reset(c->actions);
	atomic_store(&c->leading, true);
	metric_set(c->m_leader, 1);
	maybe_activate(c);
}

static void on_stopped_leading(void *ud)
{
	struct controller *c = ud;

	atomic_store(&c->leading, false);
	metric_set(c->m_leader, 0);
	pthread_mutex_lock(&c->mu);
	atomic_store(&c->active, false);
	podjudge_forget_all(&c->judge);
	smap_clear(&c->pending_ns, free_nsreq, NULL);
	for (size_t i = 0; i < c->profs.n; i++)
		profcache_reset_term(c->profs.v[i]);
	pthread_mutex_unlock(&c->mu);
	queue_clear(c->queue);
	actions_reset(c->actions);
	pglog(PGLOG_INFO, "stopped leading", "identity", c->identity, NULL);
}

static void on_lease_error(void *ud, int err, const char *what, const char *message)
{
	pglog(PGLOG_WARN, "leader election", "what", what, "error",
	      message && *message ? message : strerror(-err), NULL);
}

static bool may_act(void *ud)
{
	struct controller *c = ud;

	if (!atomic_load(&c->active))
		return false;
	/* Act only on a lease that has not expired by our own clock, with a
	 * fifth of it to spare for the request itself. */
	return !c->leader || leader_holds(c->leader, c->cfg.lease_ms / 5);
}

static enum actions_liveness pod_check(void *ud, const char *ns, const char *name, const char *uid,
				   enum evidence ev)
{
	struct controller *c = ud;
	struct kube_object *o = kube_informer_get(c->slot[INF_PODS].inf, ns, name);
	const struct pod *p = o ? kube_object_data(o) : NULL;
	enum actions_liveness r;

	if (!o)
		return ACTIONS_POD_GONE;
	if (strcmp(kube_object_uid(o), uid) != 0)
		r = ACTIONS_POD_REPLACED;
	else if (p->terminating)
		r = ACTIONS_POD_TERMINATING;
	else if (p->mirror || ns_ignored(c, ns))
		r = ACTIONS_POD_EXEMPT;
	else if (!engine_counts(p, ev))
		r = ACTIONS_POD_FINISHED;       /* it finished after it was judged */
	else
		r = ACTIONS_POD_LIVE;
	kube_object_unref(o);
	return r;
}

static char *dup_or_keep(char *old, const char *s)
{
	char *n = pg_strdup(s ? s : "");

	if (!n)
		return old;
	pg_free(old);
	return n;
}

static void on_violation(void *ud, const struct actions_violation *v)
{
	struct controller *c = ud;
	struct profcache_state *p;

	pthread_mutex_lock(&c->mu);
	p = profcache_find(&c->profs, v->namespace, v->profile);
	if (p && (!v->profile_uid || !*v->profile_uid || strcmp(p->uid, v->profile_uid) == 0)) {
		p->added += v->count > 1 ? v->count : 1;
		p->has_last = true;
		p->last_pod = dup_or_keep(p->last_pod, v->pod);
		p->last_reason = dup_or_keep(p->last_reason, v->reason);
		p->last_message = dup_or_keep(p->last_message, v->message);
		p->last_time = v->time;
		p->dirty = true;
	}
	pthread_mutex_unlock(&c->mu);
}

/* ---- informer handlers ----------------------------------------------------------- */

static void slot_ok(struct infslot *s)
{
	atomic_store(&s->failing_since, 0);
}

static void queue_pod(struct controller *c, struct kube_object *o)
{
	char key[KEY_MAX];

	if (!atomic_load(&c->active))
		return;
	if ((size_t)snprintf(key, sizeof(key), "%s/%s", kube_object_namespace(o),
			     kube_object_name(o)) < sizeof(key))
		queue_add(c->queue, key);
}

static bool labels_differ(const struct labels *a, const struct labels *b)
{
	if (a->n != b->n)
		return true;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->keys[i], b->keys[i]) != 0 || strcmp(a->values[i], b->values[i]) != 0)
			return true;
	return false;
}

static void pod_add(void *ud, struct kube_object *cur)
{
	struct infslot *s = ud;

	slot_ok(s);
	atomic_store(&s->c->recount, true);
	identities_pod_changed(s->c->ids, NULL, kube_object_data(cur));
	if (s->c->pod_hook)
		s->c->pod_hook(s->c->pod_hook_ud, NULL, cur);
	queue_pod(s->c, cur);
}

static void pod_update(void *ud, struct kube_object *old, struct kube_object *cur)
{
	struct infslot *s = ud;
	const struct pod *a = kube_object_data(old), *b = kube_object_data(cur);

	slot_ok(s);
	/* Most updates are status: only labels and deletion move counts. */
	if (a->terminating != b->terminating || labels_differ(&a->labels, &b->labels))
		atomic_store(&s->c->recount, true);
	identities_pod_changed(s->c->ids, a, b);
	if (s->c->pod_hook)
		s->c->pod_hook(s->c->pod_hook_ud, old, cur);
	queue_pod(s->c, cur);
}

static void pod_delete(void *ud, struct kube_object *old)
{
	struct infslot *s = ud;

	slot_ok(s);
	atomic_store(&s->c->recount, true);
	actions_forget_pod(s->c->actions, kube_object_uid(old));
	identities_pod_changed(s->c->ids, kube_object_data(old), NULL);
	if (s->c->pod_hook)
		s->c->pod_hook(s->c->pod_hook_ud, old, NULL);
	queue_pod(s->c, old);
}

static void profile_changed(struct infslot *s, struct kube_object *cur, struct kube_object *old)
{
	struct controller *c = s->c;
	const char *ns = kube_object_namespace(cur ? cur : old);
	int64_t kept = 0;
	bool restored = false;
	int r = 0;

	slot_ok(s);
	pthread_mutex_lock(&c->mu);
	if (cur) {
		struct profcache_state *p;

		r = profcache_upsert(&c->profs, cur);
		p = r == 0 ? profcache_find(&c->profs, ns, kube_object_name(cur)) : NULL;
		if (p && !p->wp->profile) {
			kept = profcache_applied_generation(p);
			restored = !p->valid_obj && p->wp->restored;
		}
	} else {
		profcache_remove(&c->profs, ns, kube_object_name(old), kube_object_uid(old));
	}
	metric_set(c->m_profiles, (double)c->profs.n);
	pthread_mutex_unlock(&c->mu);
	atomic_store(&c->recount, true);
	if (r < 0)
		pglog(PGLOG_ERROR, "profile not tracked: out of memory", "namespace", ns,
		      "profile", kube_object_name(cur), NULL);
	if (cur) {
		const struct profcache_wp *w = kube_object_data(cur);
		char gen[24], kgen[24];

		snprintf(gen, sizeof(gen), "%lld", (long long)w->generation);
		snprintf(kgen, sizeof(kgen), "%lld", (long long)kept);
		if (!w->profile && (!old || ((const struct profcache_wp *)kube_object_data(old))->profile ||
				    !str_eq(w->invalid, ((const struct profcache_wp *)kube_object_data(old))->invalid))) {
			if (restored)
				pglog(PGLOG_WARN, "invalid WorkloadProfile: its last valid generation, restored "
				      "from status.enforcedSpec, stays applied",
				      "namespace", ns, "profile", kube_object_name(cur), "generation", gen,
				      "enforced_generation", kgen, "error", w->invalid ? w->invalid : "", NULL);
			else if (kept)
				pglog(PGLOG_WARN, "invalid WorkloadProfile: its last valid generation stays applied",
				      "namespace", ns, "profile", kube_object_name(cur), "generation", gen,
				      "enforced_generation", kgen, "error", w->invalid ? w->invalid : "", NULL);
			else
				pglog(PGLOG_WARN, "invalid WorkloadProfile: not applied", "namespace", ns,
				      "profile", kube_object_name(cur), "generation", gen,
				      "error", w->invalid ? w->invalid : "",
				      /* no "status" field when status held nothing */
				      w->restore_why ? "status" : NULL, w->restore_why, NULL);
		}
	}
	request_ns(c, ns);
}

static void profile_add(void *ud, struct kube_object *cur)
{
	profile_changed(ud, cur, NULL);
}

static void profile_update(void *ud, struct kube_object *old, struct kube_object *cur)
{
	const struct profcache_wp *a = kube_object_data(old), *b = kube_object_data(cur);
	struct infslot *s = ud;

	/* Our own status writes come back as updates: only a new spec
	 * changes what the profile selects.  The generation says so, unless
	 * a writer skipped the API server's bookkeeping: the spec's hash
	 * says so always. */
	if (a->generation == b->generation && a->spec_hash == b->spec_hash &&
	    !a->profile == !b->profile) {
		pthread_mutex_lock(&s->c->mu);
		profcache_upsert(&s->c->profs, cur);
		pthread_mutex_unlock(&s->c->mu);
		slot_ok(s);
		return;
	}
	profile_changed(ud, cur, old);
}

static void profile_delete(void *ud, struct kube_object *old)
{
	profile_changed(ud, NULL, old);
}

/* ServiceAccounts and token Secrets: the pods of the namespace are judged
 * again (a new UID is a recreated ServiceAccount). */
static void meta_add(void *ud, struct kube_object *cur)
{
	struct infslot *s = ud;

	slot_ok(s);
	request_ns(s->c, kube_object_namespace(cur));
}

static void meta_update(void *ud, struct kube_object *old, struct kube_object *cur)
{
	slot_ok(ud);
}

static void meta_delete(void *ud, struct kube_object *old)
{
	struct infslot *s = ud;

	slot_ok(s);
	request_ns(s->c, kube_object_namespace(old));
}

/* ServiceAccounts and token Secrets also move the identity inventory. */
static void sa_add(void *ud, struct kube_object *cur)
{
	struct infslot *s = ud;

	identities_sa_changed(s->c->ids, kube_object_namespace(cur), kube_object_name(cur),
			      kube_object_uid(cur), kube_object_data(cur));
	meta_add(ud, cur);
}

static void sa_update(void *ud, struct kube_object *old, struct kube_object *cur)
{
	struct infslot *s = ud;

	identities_sa_changed(s->c->ids, kube_object_namespace(cur), kube_object_name(cur),
			      kube_object_uid(cur), kube_object_data(cur));
	meta_update(ud, old, cur);
}

static void sa_delete(void *ud, struct kube_object *old)
{
	struct infslot *s = ud;

	identities_sa_changed(s->c->ids, kube_object_namespace(old), kube_object_name(old),
			      kube_object_uid(old), NULL);
	meta_delete(ud, old);
}

static void secret_add(void *ud, struct kube_object *cur)
{
	struct infslot *s = ud;

	identities_secret_changed(s->c->ids, kube_object_namespace(cur), NULL, kube_object_data(cur));
	meta_add(ud, cur);
}

static void secret_update(void *ud, struct kube_object *old, struct kube_object *cur)
{
	struct infslot *s = ud;

	identities_secret_changed(s->c->ids, kube_object_namespace(cur), kube_object_data(old),
				  kube_object_data(cur));
	meta_update(ud, old, cur);
}

static void secret_delete(void *ud, struct kube_object *old)
{
	struct infslot *s = ud;

	identities_secret_changed(s->c->ids, kube_object_namespace(old), kube_object_data(old), NULL);
	meta_delete(ud, old);
}

/* Roles and bindings went into the index as they were decoded. */
static void rbac_upsert(void *ud, struct kube_object *cur)
{
	slot_ok(ud);
}

static void rbac_update(void *ud, struct kube_object *old, struct kube_object *cur)
{
	slot_ok(ud);
}

static void rbac_delete(void *ud, struct kube_object *old)
{
	struct infslot *s = ud;

	slot_ok(s);
	if (s->idx == INF_ROLES || s->idx == INF_CLUSTERROLES)
		identities_del_role(s->c->ids, kube_object_namespace(old), kube_object_name(old));
	else
		identities_del_binding(s->c->ids, kube_object_namespace(old), kube_object_name(old));
}

static void workload_add(void *ud, struct kube_object *cur)
{
	struct infslot *s = ud;

	slot_ok(s);
	identities_workload_changed(s->c->ids, (enum identities_wl)(s->idx - INF_WORKLOADS),
				    kube_object_namespace(cur), kube_object_name(cur), NULL,
				    kube_object_data(cur));
}

static void workload_update(void *ud, struct kube_object *old, struct kube_object *cur)
{
	struct infslot *s = ud;

	slot_ok(s);
	identities_workload_changed(s->c->ids, (enum identities_wl)(s->idx - INF_WORKLOADS),
				    kube_object_namespace(cur), kube_object_name(cur),
				    kube_object_data(old), kube_object_data(cur));
}

static void workload_delete(void *ud, struct kube_object *old)
{
	struct infslot *s = ud;

	slot_ok(s);
	identities_workload_changed(s->c->ids, (enum identities_wl)(s->idx - INF_WORKLOADS),
				    kube_object_namespace(old), kube_object_name(old),
				    kube_object_data(old), NULL);
}

static void report_add(void *ud, struct kube_object *cur)
{
	struct infslot *s = ud;

	slot_ok(s);
	identities_report_changed(s->c->ids, kube_object_namespace(cur), kube_object_name(cur),
				  kube_object_data(cur));
}

static void report_update(void *ud, struct kube_object *old, struct kube_object *cur)
{
	report_add(ud, cur);
}

static void report_delete(void *ud, struct kube_object *old)
{
	struct infslot *s = ud;

	slot_ok(s);
	identities_report_changed(s->c->ids, kube_object_namespace(old), kube_object_name(old), NULL);
}

static void ns_update(void *ud, struct kube_object *old, struct kube_object *cur)
{
	struct infslot *s = ud;
	const struct kube_meta *a = kube_object_data(old), *b = kube_object_data(cur);

	slot_ok(s);
	if (!str_eq(labels_get(&a->labels, IGNORE_LABEL), labels_get(&b->labels, IGNORE_LABEL)))
		request_ns(s->c, kube_object_name(cur));
}

static void ns_other(void *ud, struct kube_object *o)
{
	slot_ok(ud);
}

static void on_synced(void *ud)
{
	struct infslot *s = ud;

	slot_ok(s);
	atomic_store(&s->synced, true);
	if (all_synced(s->c))
		identities_set_synced(s->c->ids, true);
	maybe_activate(s->c);
}

static void on_error(void *ud, int err, const struct kube_error *e)
{
	struct infslot *s = ud;
	int64_t zero = 0;

	atomic_compare_exchange_strong(&s->failing_since, &zero, ticker_now_ms());
	pglog(PGLOG_WARN, "list or watch failed; retrying", "resource",
	      kube_informer_name(s->inf), "error",
	      e && e->message[0] ? e->message : strerror(-err), NULL);
}

static void request_ns(struct controller *c, const char *ns)
{
	size_t len = strlen(ns);
	struct nsreq *r;
	bool add = false;

	if (!atomic_load(&c->active))
		return;
	pthread_mutex_lock(&c->mu);
	if (!c->pass_started_ms)
		c->pass_started_ms = ticker_now_ms();
	if (!smap_get(&c->pending_ns, ns)) {
		r = pg_calloc(1, sizeof(*r) + len + 1);
		if (r) {
			memcpy(r->ns, ns, len + 1);
			r->node.key = r->ns;
			if (smap_put(&c->pending_ns, &r->node) < 0)
				pg_free(r);
			else
				add = true;
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (add)
		queue_add(c->queue, "*ns");
}

/* ---- status ------------------------------------------------------------------------ */

/* The status patches due now, taken under the lock, most important
 * first. */
static size_t collect_patches(struct controller *c, int64_t now_ms, bool all,
			      struct status_ops_patch **ret)
{
	struct status_ops_patch *v = NULL;
	size_t n = 0;
	struct timespec wall;

	ticker_wall(&wall);
	pthread_mutex_lock(&c->mu);
	if (atomic_load(&c->active) && !c->warming)
		n = status_ops_collect(&c->profs, now_ms, wall.tv_sec, all, c->cfg.status_interval_ms,
				       &v);
	pthread_mutex_unlock(&c->mu);
	status_ops_sort(v, n);
	*ret = v;
	return n;
}

/* Writes the status patches due (@all: every changed one, the interval
 * aside), most important first, up to rank @max_rank.  The loop's flush
 * stops when shutdown begins; the last one stops at @deadline_ms (0: none)
 * or on c->flush_cancel.  What is not written stays dirty; the number is
 * returned. */
static size_t flush_status(struct controller *c, bool all, int max_rank, int64_t deadline_ms)
{
	struct status_ops_patch *v;
	size_t n = collect_patches(c, ticker_now_ms(), all, &v), left = 0;

	for (size_t i = 0; i < n; i++) {
		struct status_ops_patch *p = &v[i];
		struct kube_error err = { 0 };
		bool late = p->rank > max_rank || atomic_load(&c->flush_cancel) ||
			    (deadline_ms && ticker_now_ms() >= deadline_ms) ||
			    (!all && atomic_load(&c->stopping));
		int r = -ENOMEM;

		if (late)
			r = -ECANCELED;
		else if (p->ns && p->name && p->uid && p->text && p->ready && p->ltt)
			r = may_act(c) ? status_ops_write(c->cfg.client, &c->flush_cancel, p->ns,
							  p->name, p->status, &err)
				       : -EPERM;
		if (r == -ECANCELED)
			left++;
		pthread_mutex_lock(&c->mu);
		status_ops_settle(&c->profs, p, r);
		pthread_mutex_unlock(&c->mu);
		if (r < 0 && r != -ENOENT && r != -EPERM && r != -ECANCELED)
			pglog(PGLOG_WARN, "profile status not written", "namespace", p->ns ? p->ns : "",
			      "profile", p->name ? p->name : "",
			      "error", err.message[0] ? err.message : strerror(-r), NULL);
		status_ops_patch_free(p);
	}
	pg_free(v);
	return left;
}

/* ---- ProfileInvalid --------------------------------------------------------------- */

struct invalid_report {
	char *ns, *name, *uid, *note;
	int64_t generation;
};

/* The Event's note: which generation is invalid, what holds meanwhile,
 * and the validation messages (the API server cuts a note at 1 KiB). */
static char *invalid_note(const struct profcache_state *p)
{
	struct buf b = BUF_INIT(PROFCACHE_INVALID_MAX + 128);
	int64_t kept = profcache_applied_generation(p);
	int r;

	if (kept)
		r = buf_printf(&b, "generation %lld is invalid, generation %lld stays enforced: %s",
			       (long long)p->wp->generation, (long long)kept, p->wp->invalid ? p->wp->invalid : "");
	else
		r = buf_printf(&b, "generation %lld is invalid, not enforced: %s",
			       (long long)p->wp->generation, p->wp->invalid ? p->wp->invalid : "");
	if (r < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* Writes one Warning Event ProfileInvalid, regarding the profile, per
 * invalid generation (SPEC §2).  Its name is fixed by (profile, UID,
 * generation), so a new term or the next leader meets the Event already
 * written (-EEXIST) instead of writing another; a failed write is retried
 * after INVALID_EVENT_RETRY_MS. */
static void report_invalid(struct controller *c)
{
	struct invalid_report *v = NULL;
	int64_t now = ticker_now_ms();
	size_t n = 0;

	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->profs.n; i++) {
		struct profcache_state *p = c->profs.v[i];

		if (p->wp->profile || p->invalid_reported == p->wp->generation || now < p->invalid_retry_ms)
			continue;
		if (n % 16 == 0) {
			struct invalid_report *nv = pg_realloc(v, (n + 16) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
		}
		v[n] = (struct invalid_report){ pg_strdup(p->ns), pg_strdup(p->name), pg_strdup(p->uid),
						invalid_note(p), p->wp->generation };
		n++;
	}
	pthread_mutex_unlock(&c->mu);
	for (size_t i = 0; i < n; i++) {
		struct invalid_report *ir = &v[i];
		char name[RECORDER_NAME_MAX], gen[24];
		struct kube_error err = { 0 };
		struct kube_api_event ev = { 0 };
		struct profcache_state *ps;
		int r = -ENOMEM;

		snprintf(gen, sizeof(gen), "%lld", (long long)ir->generation);
		if (ir->ns && ir->name && ir->uid && ir->note) {
			recorder_event_name(name, ir->name, ir->uid, "ProfileInvalid", NULL, gen);
			ev.name = name;
			ev.type = "Warning";
			ev.reason = "ProfileInvalid";
			ev.action = "Validate";
			ev.note = ir->note;
			ev.reporting_controller = "profileguard.io/controller";
			ev.reporting_instance = c->identity;
			ev.regarding = (struct kube_api_object_ref){ "profileguard.io/v1alpha1", "WorkloadProfile",
								     ir->ns, ir->name, ir->uid };
			r = may_act(c) ? kube_api_event_create(c->cfg.client, ir->ns, &ev, NULL, &err) : -EPERM;
		}
		pthread_mutex_lock(&c->mu);
		ps = ir->ns && ir->name ? profcache_find(&c->profs, ir->ns, ir->name) : NULL;
		if (ps && ir->uid && strcmp(ps->uid, ir->uid) == 0) {
			if (r == 0 || r == -EEXIST)
				ps->invalid_reported = ir->generation;
			else if (r != -EPERM)
				ps->invalid_retry_ms = now + INVALID_EVENT_RETRY_MS;
		}
		pthread_mutex_unlock(&c->mu);
		if (r < 0 && r != -EEXIST && r != -EPERM)
			pglog(PGLOG_WARN, "event not written", "namespace", ir->ns ? ir->ns : "",
			      "profile", ir->name ? ir->name : "", "reason", "ProfileInvalid",
			      "error", err.message[0] ? err.message : strerror(-r), NULL);
		pg_free(ir->ns);
		pg_free(ir->name);
		pg_free(ir->uid);
		pg_free(ir->note);
	}
	pg_free(v);
}

/* ---- matchedPods ------------------------------------------------------------------- */

static int count_one(void *ud, struct kube_object *o)
{
	struct controller *c = ud;
	const struct pod *pod = kube_object_data(o);
	size_t i;

	if (!pod || pod->terminating)
		return 0;
	for (i = profcache_lower(&c->profs, pod->namespace, "");
	     i < c->profs.n && strcmp(c->profs.v[i]->ns, pod->namespace) == 0; i++) {
		struct profcache_state *p = c->profs.v[i];
		const struct profile *prof = profcache_applied(p);

		if (prof && selector_matches(&prof->selector, &pod->labels))
			p->counting++;
	}
	return 0;
}

/* Counts the pods every profile selects now: one pass over the cache,
 * cheaper than remembering it per pod (about 0.3 us a pod). */
static void recount_matched(struct controller *c, int64_t now)
{
	atomic_store(&c->recount, false);
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->profs.n; i++)
		c->profs.v[i]->counting = 0;
	kube_informer_foreach(c->slot[INF_PODS].inf, count_one, c);
	for (size_t i = 0; i < c->profs.n; i++) {
		struct profcache_state *p = c->profs.v[i];

		if (p->matched != p->counting) {
			p->matched = p->counting;
			p->dirty = true;
		}
	}
	c->recounted_ms = now;
	pthread_mutex_unlock(&c->mu);
}

/* ---- housekeeping ------------------------------------------------------------------ */

static void track_health(struct controller *c, int64_t now)
{
	for (int i = 0; i < INF__COUNT; i++) {
		struct infslot *s = &c->slot[i];
		struct kube_informer_stats st;
		uint64_t progress, activity;

		kube_informer_stats(s->inf, &st);
		if (st.watch_restarts > s->restarts_seen) {
			metric_add(s->m_restarts, st.watch_restarts - s->restarts_seen);
			s->restarts_seen = st.watch_restarts;
		}
		/* Progress proves health; errors and new requests prove
		 * trying.  A watch quiet on both for a while is running. */
		progress = st.lists + st.events + st.bookmarks;
		activity = st.errors + st.watches + st.lists;
		if (progress != s->progress_seen) {
			s->progress_seen = progress;
			slot_ok(s);
		}
		if (activity != s->activity_seen) {
			s->activity_seen = activity;
			s->activity_ms = now;
		} else if (now - s->activity_ms > QUIET_HEALTHY_MS) {
			slot_ok(s);
		}
	}
}

static void *loop_main(void *arg)
{
	struct controller *c = arg;

	pthread_mutex_lock(&c->mu);
	while (!atomic_load(&c->stopping)) {
		struct timespec ts;
		int64_t now;
		bool resync = false;

		pthread_mutex_unlock(&c->mu);
		now = ticker_now_ms();
		track_health(c, now);
		if (atomic_load(&c->active)) {
			pthread_mutex_lock(&c->mu);
			if (now >= c->next_resync_ms) {
				c->next_resync_ms = now + c->cfg.resync_ms;
				resync = true;
			}
			pthread_mutex_unlock(&c->mu);
			if (resync)
				queue_add(c->queue, "*all");
			if (atomic_load(&c->recount) &&
			    now - c->recounted_ms >= c->cfg.status_interval_ms)
				recount_matched(c, now);
			flush_status(c, false, 2, 0);
			report_invalid(c);
			{
				struct timespec wall;

				ticker_wall(&wall);
				live_tick(c, wall.tv_sec);
				identities_flush(c->ids, now, wall.tv_sec);
			}
		}
		pthread_mutex_lock(&c->mu);
		ticker_deadline(TICK_MS, &ts);
		if (!atomic_load(&c->stopping))
			pthread_cond_timedwait(&c->loop_cond, &c->mu, &ts);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- the API --------------------------------------------------------------------------- */

bool controller_synced(struct controller *c)
{
	return all_synced(c);
}

bool controller_leading(struct controller *c)
{
	return atomic_load(&c->leading);
}

struct actions *controller_actions(struct controller *c)
{
	return c->actions;
}

/* ---- for the telemetry ingest (telemetry_ops.c) ----------------------------------- */

void controller_set_pod_hook(struct controller *c, controller_pod_hook_fn fn, void *ud)
{
	c->pod_hook = fn;
	c->pod_hook_ud = ud;
}

struct kube_informer *controller_pod_informer(struct controller *c)
{
	return c->slot[INF_PODS].inf;
}

bool controller_ns_ignored(struct controller *c, const char *ns)
{
	return ns_ignored(c, ns);
}

int controller_profiles_snapshot(struct controller *c, uint64_t have, struct kube_object ***ret_objs,
			  struct profile ***ret_profiles, size_t *ret_n, uint64_t *ret_gen)
{
	struct kube_object **objs;
	struct profile **profs;
	size_t n = 0;

	if (atomic_load(&c->profs.gen) == have)
		return -EALREADY;
	pthread_mutex_lock(&c->mu);
	objs = pg_malloc((c->profs.n ? c->profs.n : 1) * sizeof(*objs));
	profs = pg_malloc((c->profs.n ? c->profs.n : 1) * sizeof(*profs));
	if (!objs || !profs) {
		pthread_mutex_unlock(&c->mu);
		pg_free(objs);
		pg_free(profs);
		return -ENOMEM;
	}
	*ret_gen = atomic_load(&c->profs.gen);
	for (size_t i = 0; i < c->profs.n; i++) {
		struct profcache_state *p = c->profs.v[i];

		if (!profcache_applied(p))
			continue;
		objs[n] = kube_object_ref(p->wp->profile ? p->obj : p->valid_obj);
		profs[n++] = profcache_applied(p);
	}
	pthread_mutex_unlock(&c->mu);
	*ret_objs = objs;
	*ret_profiles = profs;
	*ret_n = n;
	return 0;
}

bool controller_ready(struct controller *c, char *why, size_t n)
{
	for (int i = 0; i < INF__COUNT; i++) {
		if (!atomic_load(&c->slot[i].synced)) {
			snprintf(why, n, "%s not synced", kube_informer_name(c->slot[i].inf));
			return false;
		}
	}
	if (atomic_load(&c->stopping)) {
		snprintf(why, n, "shutting down");
		return false;
	}
	return true;
}

bool controller_healthy(struct controller *c, char *why, size_t n)
{
	int64_t now = ticker_now_ms();

	for (int i = 0; i < INF__COUNT; i++) {
		int64_t since = atomic_load(&c->slot[i].failing_since);

		if (since && now - since > UNHEALTHY_AFTER_MS) {
			snprintf(why, n, "%s: list/watch failing for %lld s",
				 kube_informer_name(c->slot[i].inf), (long long)((now - since) / 1000));
			return false;
		}
	}
	return true;
}

/* A pod the model refuses (over a cap, a NUL in a name, a field of the
 * wrong type) stays out of the cache: it is neither judged nor acted on,
 * since nothing sound can be said of it, and the controller goes on with
 * every other pod.  The admission webhook refuses such pods; one that got
 * in anyway is named here, with the cap or field, for an admin to see. */
static void pod_refused(void *ud, const char *ns, const char *name, const char *why)
{
	pglog(PGLOG_WARN, "pod not judged: refused by the pod decoder", "namespace", ns, "pod", name,
	      "reason", why, NULL);
}

static struct kube_pod_refused pod_refused_log = { pod_refused, NULL };

static int add_informer_ud(struct controller *c, int idx, const struct kube_resource *res,
			   bool meta_only, const char *field_selector, kube_decode_fn decode,
			   kube_free_fn free_fn, void *decode_ud, const struct kube_informer_handlers *h);

static int add_informer(struct controller *c, int idx, const struct kube_resource *res,
			bool meta_only, const char *field_selector, kube_decode_fn decode,
			kube_free_fn free_fn, const struct kube_informer_handlers *h)
{
	return add_informer_ud(c, idx, res, meta_only, field_selector, decode, free_fn, NULL, h);
}

static int add_informer_ud(struct controller *c, int idx, const struct kube_resource *res,
			   bool meta_only, const char *field_selector, kube_decode_fn decode,
			   kube_free_fn free_fn, void *decode_ud, const struct kube_informer_handlers *h)
{
	struct infslot *s = &c->slot[idx];
	struct kube_informer_opts o = {
		.resource = res, .metadata_only = meta_only, .field_selector = field_selector,
		.page_size = c->cfg.page_size, .decode = decode, .free_data = free_fn,
		.decode_ud = decode_ud, .handlers = *h,
	};

	s->c = c;
	s->idx = idx;
	o.handlers.ud = s;
	o.handlers.on_synced = on_synced;
	o.handlers.on_error = on_error;
	if (decode == kube_decode_pod)
		o.decode_ud = &pod_refused_log;
	return kube_informer_new(c->cfg.client, &o, &s->inf);
}

/* An account's risk moved: its pods are judged again (those of its
 * namespace: the judge's memory makes the others cost a lookup). */
static void identity_risk_changed(void *ud, const char *ns, const char *name)
{
	request_ns(ud, ns);
}

/* The never-touch list's facts of a namespace (lifecycle_protected()). */
static void identity_ns_facts(void *ud, const char *ns, bool *ignored, char label[64])
{
	struct controller *c = ud;
	struct kube_object *o = kube_informer_get(c->slot[INF_NAMESPACES].inf, NULL, ns);
	const struct kube_meta *m = o ? kube_object_data(o) : NULL;
	const char *v = m ? labels_get(&m->labels, LIFECYCLE_LABEL) : NULL;

	snprintf(label, 64, "%s", v ? v : "");
	kube_object_unref(o);
	*ignored = ns_ignored(c, ns);
}

/* An Event regarding a ServiceAccount, by the leader. */
static void identity_event(void *ud, const struct identities_event *e)
{
	struct controller *c = ud;
	char name[RECORDER_NAME_MAX];
	struct kube_error err = { 0 };
	struct kube_api_event ev = { 0 };
	int r;

	recorder_event_name(name, e->name, e->uid, e->reason, NULL, e->key);
	ev.name = name;
	ev.type = e->type;
	ev.reason = e->reason;
	ev.action = "Report";
	ev.note = e->note;
	ev.reporting_controller = "profileguard.io/controller";
	ev.reporting_instance = c->identity;
	ev.regarding = (struct kube_api_object_ref){ "v1", "ServiceAccount", e->ns, e->name, e->uid };
	r = may_act(c) ? kube_api_event_create(c->cfg.client, e->ns, &ev, NULL, &err) : -EPERM;
	if (r < 0 && r != -EEXIST && r != -EPERM)
		pglog(PGLOG_WARN, "event not written", "namespace", e->ns, "serviceaccount", e->name,
		      "reason", e->reason, "error", err.message[0] ? err.message : strerror(-r), NULL);
}

/* Only the leader, on a lease it holds, writes reports. */
static int identity_write(void *ud, const struct identities_write *w)
{
	struct controller *c = ud;

	return may_act(c) ? identities_kube_write(&c->idk, w) : -EPERM;
}

/* ---- the audit source's live span ----------------------------------------------- */

#define LIVE_SINCE_ANNOTATION "profileguard.io/audit-live-since"
#define LIVE_CONFIRMED_ANNOTATION "profileguard.io/audit-live-confirmed"

/* Its own Lease, beside the election's: the chart lets the controller
 * create Leases in its namespace and patch this one only. */
static const struct kube_resource res_leases = { "coordination.k8s.io", "v1", "leases", "Lease", true };

void controller_audit_batch(struct controller *c)
{
	struct timespec wall;

	ticker_wall(&wall);
	pthread_mutex_lock(&c->live_mu);
	auditlive_batch(&c->live, wall.tv_sec);
	pthread_mutex_unlock(&c->live_mu);
}

static int64_t annotation_time(json_t *obj, const char *key)
{
	json_t *a = json_object_get(json_object_get(obj, "metadata"), "annotations");
	const char *s = json_string_value(json_object_get(a, key));
	int64_t t;
	long ns;

	return s && rfc3339_parse(s, &t, &ns) == 0 ? t : -1;
}

static void live_restore(struct controller *c, int64_t wall)
{
	struct kube_error err = { 0 };
	json_t *obj = NULL;
	int r = kube_api_get(c->cfg.client, &res_leases, c->ns, c->live_lease, &obj, &err);

	if (r == 0) {
		int64_t since = annotation_time(obj, LIVE_SINCE_ANNOTATION);
		int64_t confirmed = annotation_time(obj, LIVE_CONFIRMED_ANNOTATION);

		pthread_mutex_lock(&c->live_mu);
		auditlive_restore(&c->live, since, confirmed, wall);
		pthread_mutex_unlock(&c->live_mu);
		pglog(PGLOG_DEBUG, "audit live span read", "lease", c->live_lease, NULL);
	} else if (r != -ENOENT) {
		/* Memory alone: a span starts again with the next batch,
		 * which delays states and invents nothing. */
		pglog(PGLOG_WARN, "audit live span not read; counting from the next audit batch", "lease",
		      c->live_lease, "error", err.message[0] ? err.message : strerror(-r), NULL);
	}
	json_decref(obj);
	c->live_restored = true;
}

static int live_write(struct controller *c, int64_t since, int64_t at)
{
	struct timespec ts1 = { .tv_sec = (time_t)since }, ts2 = { .tv_sec = (time_t)at };
	char s1[RFC3339_MAX], s2[RFC3339_MAX];
	struct kube_error err = { 0 };
	json_t *patch;
	int r;

	if (rfc3339_format(&ts1, 0, s1) < 0 || rfc3339_format(&ts2, 0, s2) < 0)
		return -EINVAL;
	patch = json_pack("{s:{s:{s:s, s:s}}}", "metadata", "annotations", LIVE_SINCE_ANNOTATION, s1,
			  LIVE_CONFIRMED_ANNOTATION, s2);
	if (!patch)
		return -ENOMEM;
	r = kube_api_merge_patch(c->cfg.client, &res_leases, c->ns, c->live_lease, NULL, patch, NULL, &err);
	if (r == -ENOENT) {
		json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:O}, s:{}}", "apiVersion",
					"coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
					c->live_lease, "namespace", c->ns, "annotations",
					json_object_get(json_object_get(patch, "metadata"), "annotations"), "spec");

		r = obj ? kube_api_create(c->cfg.client, &res_leases, c->ns, obj, true, NULL, &err) : -ENOMEM;
		json_decref(obj);
	}
	json_decref(patch);
	if (r < 0)
		pglog(PGLOG_WARN, "audit live span not saved; retrying", "lease", c->live_lease, "error",
		      err.message[0] ? err.message : strerror(-r), NULL);
	return r;
}

/* The leader's: restore once a term, save when due, and tell the
 * inventory where idle time may start counting. */
static void live_tick(struct controller *c, int64_t wall)
{
	int64_t since;
	bool due;

	if (!c->live_restored)
		live_restore(c, wall);
	pthread_mutex_lock(&c->live_mu);
	since = auditlive_since(&c->live, wall);
	due = auditlive_due(&c->live, wall) && wall >= c->live_retry;
	pthread_mutex_unlock(&c->live_mu);
	if (due && may_act(c)) {
		if (live_write(c, since, wall) == 0) {
			pthread_mutex_lock(&c->live_mu);
			auditlive_saved(&c->live, since, wall);
			pthread_mutex_unlock(&c->live_mu);
		} else {
			c->live_retry = wall + 10;
		}
	}
	identities_set_audit_live(c->ids, since);
}

void controller_identity_used(struct controller *c, const char *ns, const char *name,
			      const struct runtime_event *ev)
{
	char res[IDUSAGE_RESOURCE_MAX + 2];
	struct identities_call call = { ev->time, ev->verb, NULL, ev->object_namespace };

	if (ev->resource && *ev->resource) {
		runtime_api_resource(ev->api_group, ev->resource, ev->subresource, res, sizeof(res));
		call.resource = res;
	}
	identities_used(c->ids, ns, name, &call);
}

/* The identity inventory's informers: RBAC whole (it holds no secrets),
 * the workloads' template accounts, the stored reports. */
static int add_identity_informers(struct controller *c)
{
	const struct kube_informer_handlers rbac = { rbac_upsert, rbac_update, rbac_delete, NULL, NULL, NULL };
	const struct kube_informer_handlers wl = { workload_add, workload_update, workload_delete,
						   NULL, NULL, NULL };
	const struct kube_informer_handlers rep = { report_add, report_update, report_delete, NULL, NULL, NULL };
	int r;

	r = add_informer_ud(c, INF_ROLES, &kube_res_roles, false, NULL, identities_decode_role, NULL,
			    c->ids, &rbac);
	if (r == 0)
		r = add_informer_ud(c, INF_CLUSTERROLES, &kube_res_clusterroles, false, NULL,
				    identities_decode_role, NULL, c->ids, &rbac);
	if (r == 0)
		r = add_informer_ud(c, INF_ROLEBINDINGS, &kube_res_rolebindings, false, NULL,
				    identities_decode_binding, NULL, c->ids, &rbac);
	if (r == 0)
		r = add_informer_ud(c, INF_CLUSTERROLEBINDINGS, &kube_res_clusterrolebindings, false,
				    NULL, identities_decode_binding, NULL, c->ids, &rbac);
	if (r == 0)
		r = add_informer_ud(c, INF_REPORTS, &kube_res_identityreports, false, NULL,
				    identities_decode_report, identities_free_report, c->ids, &rep);
	for (int k = 0; r == 0 && k < IDWL__COUNT; k++)
		r = add_informer_ud(c, INF_WORKLOADS + k, &identities_res_workloads[k], false, NULL,
				    identities_decode_workload, identities_free_string, c->ids, &wl);
	return r;
}

int controller_new(const struct controller_config *cfg, struct controller **ret)
{
	static const char *const resource[] = { "resource", NULL };
	const struct kube_informer_handlers pods = { pod_add, pod_update, pod_delete, NULL, NULL, NULL };
	const struct kube_informer_handlers profiles = { profile_add, profile_update, profile_delete,
							 NULL, NULL, NULL };
	const struct kube_informer_handlers sas = { sa_add, sa_update, sa_delete, NULL, NULL, NULL };
	const struct kube_informer_handlers secrets = { secret_add, secret_update, secret_delete,
							NULL, NULL, NULL };
	const struct kube_informer_handlers nss = { ns_other, ns_update, ns_other, NULL, NULL, NULL };
	struct controller *c;
	struct metric_vec *restarts = NULL;
	pthread_condattr_t ca;
	int r = -ENOMEM;

	if (!cfg->client || !cfg->namespace || !*cfg->namespace || !cfg->identity || !*cfg->identity)
		return -EINVAL;
	c = pg_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* First, so controller_free() may take the lock whatever fails next. */
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->live_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->loop_cond, &ca);
	pthread_condattr_destroy(&ca);
	c->cfg = *cfg;
	if (c->cfg.lease_ms <= 0)
		c->cfg.lease_ms = 15000;
	if (c->cfg.renew_deadline_ms <= 0)
		c->cfg.renew_deadline_ms = 10000;
	if (c->cfg.retry_ms <= 0)
		c->cfg.retry_ms = 2000;
	if (c->cfg.resync_ms <= 0)
		c->cfg.resync_ms = 10 * 60 * 1000;
	if (c->cfg.status_interval_ms <= 0)
		c->cfg.status_interval_ms = 2000;
	if (c->cfg.shutdown_timeout_ms <= 0)
		c->cfg.shutdown_timeout_ms = SHUTDOWN_DEFAULT_MS;
	c->ns = pg_strdup(cfg->namespace);
	c->identity = pg_strdup(cfg->identity);
	c->lease_name = pg_strdup(cfg->lease_name ? cfg->lease_name : "profileguard-controller");
	if (c->lease_name) {
		size_t n = strlen(c->lease_name) + sizeof("-audit");

		c->live_lease = pg_malloc(n);
		if (c->live_lease)
			snprintf(c->live_lease, n, "%s-audit", c->lease_name);
	}
	auditlive_init(&c->live, cfg->audit_live_window_s > 0 ? cfg->audit_live_window_s : 600);
	c->cfg.namespace = c->ns;
	c->cfg.identity = c->identity;
	c->cfg.lease_name = c->lease_name;
	c->cfg.ignored_ns = NULL;
	if (cfg->nignored) {
		c->ignored = pg_calloc(cfg->nignored, sizeof(*c->ignored));
		if (!c->ignored)
			goto fail;
		for (size_t i = 0; i < cfg->nignored; i++, c->nignored++)
			if (!(c->ignored[i] = pg_strdup(cfg->ignored_ns[i])))
				goto fail;
	}
	c->queue = queue_new(0, NULL);
	if (!c->ns || !c->identity || !c->lease_name || !c->live_lease || !c->queue)
		goto fail;

	if (cfg->metrics) {
		c->m_leader = metric_vec_get(metrics_gauge(cfg->metrics, "profileguard_leader",
			"1 while this replica leads (acts, writes Events and status).", NULL), NULL);
		c->m_profiles = metric_vec_get(metrics_gauge(cfg->metrics, "profileguard_profiles",
			"WorkloadProfiles in the controller's cache, invalid ones included.", NULL), NULL);
		c->m_judged = metric_vec_get(metrics_counter(cfg->metrics,
			"profileguard_pods_judged_total", "Pod judgements made by the controller.",
			NULL), NULL);
		c->m_judge_all = metric_vec_get(metrics_gauge(cfg->metrics,
			"profileguard_judge_all_seconds",
			"How long the last pass over every pod took, from start to an empty queue.",
			NULL), NULL);
		restarts = metrics_counter(cfg->metrics, "profileguard_watch_restarts_total",
			"Watches that ended and were started again, by resource.", resource);
	}

	{
		struct actions_config ac = {
			.client = cfg->client, .metrics = cfg->metrics, .identity = c->identity,
			.dry_run = cfg->dry_run, .max_per_minute = cfg->max_actions_per_minute,
			.owner_backoff_ms = cfg->owner_backoff_ms,
			.hooks = { may_act, pod_check, on_violation, c },
		};

		r = actions_new(&ac, &c->actions);
		if (r < 0)
			goto fail;
	}
	{
		struct identities_config ic = {
			.metrics = cfg->metrics, .write = identity_write,
			.usage_window_s = cfg->usage_window_s, .policy = cfg->lifecycle,
			.own_ns = cfg->namespace, .ns_facts = identity_ns_facts, .event = identity_event,
			.risk_changed = identity_risk_changed, .ud = c,
		};

		c->idk.client = cfg->client;
		c->idk.cancel = &c->flush_cancel;
		c->risk_scratch = pg_calloc(1, sizeof(*c->risk_scratch));
		r = c->risk_scratch ? identities_new(&ic, &c->ids) : -ENOMEM;
		if (r < 0)
			goto fail;
	}
	if (cfg->leader_elect) {
		struct leader_config lc = {
			.client = cfg->client, .namespace = c->ns, .name = c->lease_name,
			.identity = c->identity, .lease_ms = c->cfg.lease_ms,
			.renew_deadline_ms = c->cfg.renew_deadline_ms, .retry_ms = c->cfg.retry_ms,
			.on_started = on_started_leading, .on_stopped = on_stopped_leading,
			.on_error = on_lease_error, .ud = c,
		};

		r = leader_new(&lc, &c->leader);
		if (r < 0)
			goto fail;
	}

	r = add_informer(c, INF_PODS, &kube_res_pods, false, NULL, kube_decode_pod, kube_free_pod,
			 &pods);
	if (r == 0)
		r = add_informer(c, INF_PROFILES, &kube_res_workloadprofiles, false, NULL, profcache_wp_decode,
				 profcache_wp_free, &profiles);
	if (r == 0)
		r = add_informer(c, INF_SAS, &kube_res_serviceaccounts, false, NULL, identities_decode_sa,
				 identities_free_sa, &sas);
	if (r == 0)
		r = add_informer(c, INF_NAMESPACES, &kube_res_namespaces, true, NULL,
				 kube_decode_meta, kube_free_meta, &nss);
	if (r == 0)
		r = add_informer(c, INF_SECRETS, &kube_res_secrets, true, TOKEN_SECRET_SELECTOR,
				 identities_decode_token, identities_free_token, &secrets);
	if (r == 0)
		r = add_identity_informers(c);
	if (r < 0)
		goto fail;
	for (int i = 0; i < INF__COUNT; i++)
		c->slot[i].m_restarts = metric_vec_get1(restarts, kube_informer_name(c->slot[i].inf));
	*ret = c;
	return 0;
fail:
	controller_free(c);
	return r;
}

int controller_start(struct controller *c)
{
	int r;

	if (c->started)
		return 0;
	c->started = true;
	for (int i = 0; i < INF__COUNT; i++) {
		r = kube_informer_start(c->slot[i].inf);
		if (r < 0)
			goto fail;
	}
	r = actions_start(c->actions);
	if (r < 0)
		goto fail;
	r = -pthread_create(&c->judge_thread, NULL, judge_main, c);
	if (r < 0)
		goto fail;
	c->judge_running = true;
	r = -pthread_create(&c->loop_thread, NULL, loop_main, c);
	if (r < 0)
		goto fail;
	c->loop_running = true;
	if (c->leader) {
		metric_set(c->m_leader, 0);
		r = leader_start(c->leader);
		if (r < 0)
			goto fail;
	} else {
		on_started_leading(c);
	}
	return 0;
fail:
	controller_stop(c);
	return r;
}

static void *stop_one(void *arg)
{
	kube_informer_stop(arg);
	return NULL;
}

/* Each stop waits up to a second for its watch to notice: in parallel. */
static void stop_informers(struct controller *c)
{
	pthread_t t[INF__COUNT];
	bool started[INF__COUNT] = { false };

	for (int i = 0; i < INF__COUNT; i++)
		if (c->slot[i].inf)
			started[i] = pthread_create(&t[i], NULL, stop_one, c->slot[i].inf) == 0;
	for (int i = 0; i < INF__COUNT; i++) {
		if (started[i])
			pthread_join(t[i], NULL);
		else if (c->slot[i].inf)
			kube_informer_stop(c->slot[i].inf);
	}
}

/* Sets an atomic flag at a monotonic time unless disarmed first: the
 * shutdown deadline for status writes in flight. */
struct alarm {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool done, running;
	int64_t at_ms;
	atomic_bool *flag;
};

static void *alarm_main(void *arg)
{
	struct alarm *al = arg;

	pthread_mutex_lock(&al->mu);
	while (!al->done) {
		int64_t now = ticker_now_ms(), d = al->at_ms - now;
		struct timespec ts;

		if (d <= 0) {
			atomic_store(al->flag, true);
			break;
		}
		ticker_deadline(d, &ts);
		pthread_cond_timedwait(&al->cond, &al->mu, &ts);
	}
	pthread_mutex_unlock(&al->mu);
	return NULL;
}

static void alarm_arm(struct alarm *al, atomic_bool *flag, int64_t at_ms)
{
	pthread_condattr_t ca;

	memset(al, 0, sizeof(*al));
	al->flag = flag;
	al->at_ms = at_ms;
	pthread_mutex_init(&al->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&al->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Without the thread, the flush still checks the time between
	 * patches; only a patch in flight would not be cut. */
	al->running = pthread_create(&al->thread, NULL, alarm_main, al) == 0;
}

static void alarm_disarm(struct alarm *al)
{
	pthread_mutex_lock(&al->mu);
	al->done = true;
	pthread_cond_broadcast(&al->cond);
	pthread_mutex_unlock(&al->mu);
	if (al->running)
		pthread_join(al->thread, NULL);
	pthread_mutex_destroy(&al->mu);
	pthread_cond_destroy(&al->cond);
}

void controller_stop_within(struct controller *c, int64_t budget_ms)
{
	int64_t t0 = ticker_now_ms(), reserve, flush_by;

	if (!c || c->stopped)
		return;
	if (budget_ms <= 0)
		budget_ms = c->cfg.shutdown_timeout_ms;
	reserve = budget_ms / 4 < SHUTDOWN_RESERVE_MS ? budget_ms / 4 : SHUTDOWN_RESERVE_MS;
	flush_by = t0 + budget_ms - reserve;
	c->stopped = true;
	atomic_store(&c->stopping, true);
	/* The loop's status writes give up now: the last flush below writes
	 * what matters most first. */
	atomic_store(&c->flush_cancel, true);
	queue_shutdown(c->queue);
	if (c->judge_running) {
		pthread_join(c->judge_thread, NULL);
		c->judge_running = false;
	}
	pthread_mutex_lock(&c->mu);
	pthread_cond_broadcast(&c->loop_cond);
	pthread_mutex_unlock(&c->mu);
	if (c->loop_running) {
		pthread_join(c->loop_thread, NULL);
		c->loop_running = false;
	}
	if (c->actions)
		actions_stop(c->actions);
	/* What the last seconds counted goes out while the lease is ours, most
	 * important first, until the deadline: new violations (no one else
	 * can count them) and Ready conditions.  Counts alone (matchedPods,
	 * observedGeneration) are left, like whatever the deadline cuts, to the
	 * next leader, which recomputes them with one scan: every second
	 * spent here is a second no replica enforces. */
	if (c->started) {
		struct alarm al;
		size_t left;
		char n[24], ms[24];

		atomic_store(&c->flush_cancel, false);
		alarm_arm(&al, &c->flush_cancel, flush_by);
		left = flush_status(c, true, 1, flush_by);
		alarm_disarm(&al);
		if (left) {
			snprintf(n, sizeof(n), "%zu", left);
			snprintf(ms, sizeof(ms), "%lld", (long long)budget_ms);
			pglog(PGLOG_WARN, "shutdown deadline: profile statuses left unwritten; "
			      "the next leader recomputes them", "profiles", n,
			      "shutdown_timeout_ms", ms, NULL);
		}
	}
	if (c->leader)
		leader_stop(c->leader, true);
	else if (atomic_load(&c->leading))
		on_stopped_leading(c);
	stop_informers(c);
}

void controller_stop(struct controller *c)
{
	controller_stop_within(c, 0);
}

struct controller *controller_free(struct controller *c)
{
	if (!c)
		return NULL;
	controller_stop(c);
	c->leader = leader_free(c->leader);
	c->actions = actions_free(c->actions);
	podjudge_forget_all(&c->judge);
	smap_clear(&c->pending_ns, free_nsreq, NULL);
	while (c->profs.n)
		profcache_remove_at(&c->profs, c->profs.n - 1);
	pg_free(c->profs.v);
	for (int i = 0; i < INF__COUNT; i++)
		c->slot[i].inf = kube_informer_free(c->slot[i].inf);
	c->ids = identities_free(c->ids);
	pg_free(c->risk_scratch);
	c->queue = queue_free(c->queue);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->live_mu);
	pthread_cond_destroy(&c->loop_cond);
	for (size_t i = 0; i < c->nignored; i++)
		pg_free(c->ignored[i]);
	pg_free(c->ignored);
	pg_free(c->ns);
	pg_free(c->identity);
	pg_free(c->lease_name);
	pg_free(c->live_lease);
	pg_free(c);
	return NULL;
}
