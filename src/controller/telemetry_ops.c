/* telemetry_ops.c - the telemetry ingest wired into the controller: the
 * ingest's cache lookups over the controller's pod informer (with indexes
 * of its own by UID, container ID and ServiceAccount, kept by the pod
 * hook, which also tells the ingest of deleted pods), the profile set as
 * refcounted snapshots, TokenReview through the API client, the HTTPS
 * listener (http_server.h with a route hook), and the leader label
 * on this replica's Pod, so the chart's telemetry Service selects only the
 * replica that takes telemetry. */
#include "telemetry_ops.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "actions.h"
#include "buf.h"
#include "controller.h"
#include "doc.h"
#include "hash.h"
#include "http_tls.h"
#include "ingest.h"
#include "kube_api.h"
#include "kube_informer.h"
#include "pglog.h"
#include "http_server.h"
#include "strutil.h"
#include "tel_auth.h"
#include "tel_endpoint.h"
#include "ticker.h"
#include "xalloc.h"

#define TICK_MS 500
#define CERT_WAIT_LOG_MS 60000
#define LABEL_RETRY_MS 5000
#define LABEL_SWEEP_MS 30000
#define MAX_CA_BYTES (1024 * 1024)
#define KEY_MAX 600

/* ---- an index: string key -> "ns/name", several values per key ------------ */

struct ientry {
	struct smap_node node;          /* node.key and val: in this allocation */
	char *val;
};

struct index {
	struct smap m;
};

static int index_add(struct index *ix, const char *key, const char *val)
{
	size_t lk = strlen(key) + 1, lv = strlen(val) + 1;
	struct ientry *e = pg_malloc(sizeof(*e) + lk + lv);
	char *k;

	if (!e)
		return -ENOMEM;
	k = (char *)(e + 1);
	e->val = k + lk;
	memcpy(k, key, lk);
	memcpy(e->val, val, lv);
	e->node.key = k;
	if (smap_add(&ix->m, &e->node) < 0) {
		pg_free(e);
		return -ENOMEM;
	}
	return 0;
}

static void index_del(struct index *ix, const char *key, const char *val)
{
	for (struct smap_node *n = smap_get(&ix->m, key); n; n = smap_next(&ix->m, n)) {
		struct ientry *e = smap_entry(n, struct ientry, node);

		if (!strcmp(e->val, val)) {
			smap_remove(&ix->m, n);
			pg_free(e);
			return;
		}
	}
}

/* The first value of @key after @after (NULL: the first), or NULL. */
static const struct ientry *index_next(const struct index *ix, const char *key,
				       const struct ientry *after)
{
	struct smap_node *n = after ? smap_next(&ix->m, &after->node) : smap_get(&ix->m, key);

	return n ? smap_entry(n, struct ientry, node) : NULL;
}

static void free_ientry(void *ud, struct smap_node *n)
{
	pg_free(smap_entry(n, struct ientry, node));
}

static void index_clear(struct index *ix)
{
	smap_clear(&ix->m, free_ientry, NULL);
}

/* ---- the state ---------------------------------------------------------------- */

struct snap {
	atomic_uint refs;
	struct kube_object **objs;
	struct profile_set set;         /* set.v borrowed from the objects */
};

struct telemetry_ops {
	struct telemetry_ops_config cfg;
	char *ns, *pod_name, *listen, *cert, *key, *ca, *audience;

	struct ingest *ingest;
	struct tel_auth *auth;
	struct tel_endpoint *endpoint;
	struct kube_informer *pods;     /* the controller's */

	pthread_rwlock_t ix_lock;       /* the three indexes */
	struct index by_uid, by_cid, by_sa;

	pthread_mutex_t snap_lock;
	struct snap *snap;
	uint64_t snap_gen;

	pthread_t thread;
	bool running, stopped;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
	struct http_tls_store *tls;
	struct http_server *server;
	_Atomic uint16_t port;
	int64_t cert_logged_ms;
	bool labelled;                  /* our label is on our Pod */
	int64_t label_tried_ms, swept_ms;
};

/* ---- pod indexes ---------------------------------------------------------------- */

/* A runtime ID without "runtime://", cut to the 12 hex digits every form
 * of it shares: NULL when shorter. */
static const char *short_id(const char *id, char out[13])
{
	const char *sep = id ? strstr(id, "://") : NULL;

	if (sep)
		id = sep + 3;
	if (!id || strlen(id) < 12)
		return NULL;
	memcpy(out, id, 12);
	out[12] = '\0';
	return out;
}

static bool pod_key(const struct pod *p, char *out, size_t n)
{
	return (size_t)snprintf(out, n, "%s/%s", p->namespace, p->name) < n;
}

static bool sa_key(const char *ns, const char *sa, char *out, size_t n)
{
	return (size_t)snprintf(out, n, "%s\037%s", ns, sa) < n;
}

static bool same_keys(const struct pod *a, const struct pod *b)
{
	if (!str_eq(a->uid, b->uid) || strcmp(pod_service_account(a), pod_service_account(b)) ||
	    a->ncontainer_ids != b->ncontainer_ids)
		return false;
	for (uint16_t i = 0; i < a->ncontainer_ids; i++)
		if (strcmp(a->container_ids[i], b->container_ids[i]))
			return false;
	return true;
}

static void index_pod(struct telemetry_ops *t, const struct pod *p, bool add)
{
	char key[KEY_MAX], sk[KEY_MAX], id[13];
	int r = 0;

	if (!p->uid || !pod_key(p, key, sizeof(key)))
		return;
	if (add)
		r |= index_add(&t->by_uid, p->uid, key);
	else
		index_del(&t->by_uid, p->uid, key);
	for (uint16_t i = 0; i < p->ncontainer_ids; i++) {
		if (!short_id(p->container_ids[i], id))
			continue;
		if (add)
			r |= index_add(&t->by_cid, id, key);
		else
			index_del(&t->by_cid, id, key);
	}
	if (sa_key(p->namespace, pod_service_account(p), sk, sizeof(sk))) {
		if (add)
			r |= index_add(&t->by_sa, sk, key);
		else
			index_del(&t->by_sa, sk, key);
	}
	if (r)
		pglog(PGLOG_WARN, "telemetry: pod not indexed: out of memory", "namespace",
		      p->namespace, "pod", p->name, NULL);
}

static void on_pod(void *ud, struct kube_object *old, struct kube_object *cur)
{
	struct telemetry_ops *t = ud;
	const struct pod *a = old ? kube_object_data(old) : NULL;
	const struct pod *b = cur ? kube_object_data(cur) : NULL;

	if (!a || !b || !same_keys(a, b)) {
		pthread_rwlock_wrlock(&t->ix_lock);
		if (a)
			index_pod(t, a, false);
		if (b)
			index_pod(t, b, true);
		pthread_rwlock_unlock(&t->ix_lock);
	}
	if (a && !b)
		ingest_pod_gone(t->ingest, a);
}

/* ---- the ingest's ops ------------------------------------------------------------- */

static const struct pod *get_key(struct telemetry_ops *t, const char *key, void **ref)
{
	char ns[256];
	const char *slash = strchr(key, '/');
	struct kube_object *o;
	size_t n;

	if (!slash || (n = (size_t)(slash - key)) >= sizeof(ns))
		return NULL;
	memcpy(ns, key, n);
	ns[n] = '\0';
	o = kube_informer_get(t->pods, ns, slash + 1);
	*ref = o;
	return o ? kube_object_data(o) : NULL;
}

static void op_release(void *ud, void *ref)
{
	kube_object_unref(ref);
}

static const struct pod *op_by_name(void *ud, const char *ns, const char *name, void **ref)
{
	struct telemetry_ops *t = ud;
	struct kube_object *o = kube_informer_get(t->pods, ns, name);

	*ref = o;
	return o ? kube_object_data(o) : NULL;
}

static const struct pod *op_by_uid(void *ud, const char *uid, void **ref)
{
	struct telemetry_ops *t = ud;
	const struct ientry *e;
	const struct pod *p = NULL;

	pthread_rwlock_rdlock(&t->ix_lock);
	for (e = index_next(&t->by_uid, uid, NULL); e && !p; e = index_next(&t->by_uid, uid, e)) {
		p = get_key(t, e->val, ref);
		if (p && !str_eq(p->uid, uid)) {
			kube_object_unref(*ref);
			p = NULL;
		}
	}
	pthread_rwlock_unlock(&t->ix_lock);
	return p;
}

static const struct pod *op_by_container(void *ud, const char *id, void **ref)
{
	struct telemetry_ops *t = ud;
	const struct ientry *e;
	const struct pod *p = NULL;
	char sid[13];

	if (!short_id(id, sid))
		return NULL;
	pthread_rwlock_rdlock(&t->ix_lock);
	for (e = index_next(&t->by_cid, sid, NULL); e && !p; e = index_next(&t->by_cid, sid, e)) {
		p = get_key(t, e->val, ref);
		if (p && !pod_container_by_id(p, id)) {
			kube_object_unref(*ref);
			p = NULL;
		}
	}
	pthread_rwlock_unlock(&t->ix_lock);
	return p;
}

static size_t op_of_sa(void *ud, const char *ns, const char *sa, const struct pod **ret_pods,
		       void **ret_refs, size_t max)
{
	struct telemetry_ops *t = ud;
	const struct ientry *e;
	char sk[KEY_MAX];
	size_t n = 0;

	if (!sa_key(ns, sa, sk, sizeof(sk)))
		return 0;
	pthread_rwlock_rdlock(&t->ix_lock);
	for (e = index_next(&t->by_sa, sk, NULL); e && n < max; e = index_next(&t->by_sa, sk, e)) {
		const struct pod *p = get_key(t, e->val, &ret_refs[n]);

		if (!p)
			continue;
		if (p->terminating || strcmp(pod_service_account(p), sa) || strcmp(p->namespace, ns)) {
			kube_object_unref(ret_refs[n]);
			continue;
		}
		ret_pods[n++] = p;
	}
	pthread_rwlock_unlock(&t->ix_lock);
	return n;
}

static void snap_unref(struct snap *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	kube_objects_release(s->objs, s->set.n);
	pg_free(s->set.v);
	pg_free(s);
}

static const struct profile_set *op_profiles_acquire(void *ud, void **ref)
{
	struct telemetry_ops *t = ud;
	struct kube_object **objs;
	struct profile **profs;
	struct snap *s;
	uint64_t gen;
	size_t n;

	pthread_mutex_lock(&t->snap_lock);
	if (controller_profiles_snapshot(t->cfg.controller, t->snap_gen, &objs, &profs, &n, &gen) == 0) {
		s = pg_calloc(1, sizeof(*s));
		if (s) {
			atomic_init(&s->refs, 1);
			s->objs = objs;
			s->set = (struct profile_set){ profs, n, n };
			snap_unref(t->snap);
			t->snap = s;
			t->snap_gen = gen;
		} else {
			kube_objects_release(objs, n);
			pg_free(profs);
		}
	}
	s = t->snap;
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&t->snap_lock);
	*ref = s;
	return s ? &s->set : NULL;
}

static void op_profiles_release(void *ud, void *ref)
{
	snap_unref(ref);
}

static bool op_ns_exempt(void *ud, const char *ns)
{
	struct telemetry_ops *t = ud;

	return controller_ns_ignored(t->cfg.controller, ns);
}

static void op_account_used(void *ud, const char *ns, const char *sa, const struct runtime_event *ev)
{
	struct telemetry_ops *t = ud;

	controller_identity_used(t->cfg.controller, ns, sa, ev);
}

static void op_audit_batch(void *ud)
{
	struct telemetry_ops *t = ud;

	controller_audit_batch(t->cfg.controller);
}

static int op_submit(void *ud, const struct drift_report *r)
{
	struct telemetry_ops *t = ud;

	return actions_submit(controller_actions(t->cfg.controller), r);
}

/* ---- authentication and the endpoint ----------------------------------------------- */

static int review(void *ud, const char *token, const char *audience, struct tel_auth_review *ret)
{
	struct telemetry_ops *t = ud;
	const char *const auds[] = { audience, NULL };
	struct kube_api_token_review tr = { 0 };
	struct kube_error err = { 0 };
	bool aud_ok = !audience;
	int r;

	r = kube_api_token_review(t->cfg.client, token, audience ? auds : NULL, &tr, &err);
	if (r < 0) {
		pglog(PGLOG_WARN, "TokenReview failed", "error",
		      err.message[0] ? err.message : strerror(-r), NULL);
		kube_api_token_review_clear(&tr);
		return r;
	}
	for (size_t i = 0; i < tr.naudiences && !aud_ok; i++)
		aud_ok = str_eq(tr.audiences[i], audience);
	ret->authenticated = tr.authenticated && tr.username && aud_ok;
	snprintf(ret->username, sizeof(ret->username), "%s", tr.username ? tr.username : "");
#define EXTRA(field, key) snprintf(ret->field, sizeof(ret->field), "%s", \
	kube_api_token_review_extra(&tr, "authentication.kubernetes.io/" key) ? \
	kube_api_token_review_extra(&tr, "authentication.kubernetes.io/" key) : "")
	EXTRA(node, "node-name");
	EXTRA(pod_name, "pod-name");
	EXTRA(pod_uid, "pod-uid");
#undef EXTRA
	snprintf(ret->error, sizeof(ret->error), "%s", tr.error ? tr.error :
		 tr.authenticated && !aud_ok ? "not valid for --telemetry-audience" : "");
	kube_api_token_review_clear(&tr);
	return 0;
}

static bool serving(void *ud)
{
	struct telemetry_ops *t = ud;

	return controller_leading(t->cfg.controller) && controller_synced(t->cfg.controller);
}

static bool pod_node(void *ud, const char *ns, const char *name, const char *uid, char *out,
		     size_t n)
{
	struct telemetry_ops *t = ud;
	struct kube_object *o = kube_informer_get(t->pods, ns, name);
	const struct pod *p = o ? kube_object_data(o) : NULL;
	bool ok = p && p->node_name && (!uid || str_eq(p->uid, uid));

	if (ok)
		snprintf(out, n, "%s", p->node_name);
	kube_object_unref(o);
	return ok;
}

static void route(void *ud, const struct http_server_route_request *rq, struct http_server_route_reply *ret)
{
	struct telemetry_ops *t = ud;
	struct tel_endpoint_request req = {
		.method = rq->method, .path = rq->path, .authorization = rq->authorization,
		.cert_cn = rq->cert_cn, .cert_bad = rq->cert_bad, .peer = rq->peer,
		.headers_only = rq->headers_only, .body = rq->body, .len = rq->len, .t0_us = rq->t0_us,
	};
	struct tel_endpoint_reply rep;

	tel_endpoint_handle(t->endpoint, &req, &rep);
	ret->status = rep.status;
	ret->retry_after = rep.retry_after;
	ret->allow = rep.allow;
	if (rep.status)
		buf_adds(ret->body, rep.body);
}

/* ---- the listener -------------------------------------------------------------------- */

static void start_listener(struct telemetry_ops *t)
{
	char err[512], port[8];
	char *ca = NULL;
	size_t calen = 0;
	int64_t now = ticker_now_ms();
	int r;

	if (!t->tls) {
		r = http_tls_store_new(t->cert, t->key, &t->tls, err, sizeof(err));
		if (r < 0) {
			t->tls = NULL;
			if (!t->cert_logged_ms || now - t->cert_logged_ms >= CERT_WAIT_LOG_MS) {
				t->cert_logged_ms = now;
				pglog(PGLOG_WARN, "telemetry listener waits for its certificate (the "
				      "listener starts once it loads)", "cert", t->cert, "key", t->key,
				      "error", err, NULL);
			}
			return;
		}
	}
	if (t->ca && doc_read_file(t->ca, MAX_CA_BYTES, &ca, &calen) < 0) {
		if (!t->cert_logged_ms || now - t->cert_logged_ms >= CERT_WAIT_LOG_MS) {
			t->cert_logged_ms = now;
			pglog(PGLOG_WARN, "telemetry listener waits for --telemetry-client-ca", "file",
			      t->ca, NULL);
		}
		return;
	}
	{
		struct http_server_config sc = {
			.name = "telemetry", .listen = t->listen, .tls = t->tls,
			.metrics = NULL, .threads = t->cfg.threads,
			.max_connections = t->cfg.max_connections ? t->cfg.max_connections
								  : TELEMETRY_OPS_MAX_CONNECTIONS,
			.max_connections_per_ip = t->cfg.max_connections_per_ip,
			.request_timeout = t->cfg.request_timeout, .flag_prefix = "telemetry-",
			.idle_timeout = 120,
			.max_request_bytes = TEL_ENDPOINT_MAX_BODY,
			.route_prefix = TEL_ENDPOINT_PREFIX, .route = route, .route_ud = t,
			.client_ca_pem = ca,
		};
		struct http_server *s = NULL;

		r = http_server_start(&sc, &s, err, sizeof(err));
		pg_free(ca);
		if (r < 0) {
			if (!t->cert_logged_ms || now - t->cert_logged_ms >= CERT_WAIT_LOG_MS) {
				t->cert_logged_ms = now;
				pglog(PGLOG_ERROR, "telemetry listener did not start; retrying", "error",
				      err, NULL);
			}
			return;
		}
		pthread_mutex_lock(&t->mu);
		t->server = s;
		pthread_mutex_unlock(&t->mu);
		atomic_store(&t->port, http_server_port(s));
	}
	snprintf(port, sizeof(port), "%u", atomic_load(&t->port));
	pglog(PGLOG_INFO, "telemetry listening", "listen", t->listen, "port", port,
	      "client_ca", t->ca ? t->ca : "", NULL);
}

static void check_certificate(struct telemetry_ops *t)
{
	char err[512];
	int r = http_tls_store_check(t->tls, err, sizeof(err));

	if (r < 0)
		pglog(PGLOG_ERROR, "new telemetry certificate not loaded, keeping the previous one",
		      "error", err, NULL);
	else if (r > 0)
		pglog(PGLOG_INFO, "telemetry certificate reloaded", NULL);
}

/* ---- the leader label ------------------------------------------------------------------- */

static int patch_label(struct telemetry_ops *t, const char *pod, bool on)
{
	json_t *patch = json_pack("{s:{s:{s:s?}}}", "metadata", "labels", TELEMETRY_OPS_LEADER_LABEL,
				  on ? "true" : NULL);
	struct kube_error err = { 0 };
	int r;

	if (!patch)
		return -ENOMEM;
	r = kube_api_merge_patch(t->cfg.client, &kube_res_pods, t->ns, pod, NULL, patch, NULL, &err);
	json_decref(patch);
	if (r < 0 && r != -ENOENT)
		pglog(PGLOG_WARN, "leader label not written", "pod", pod, "label",
		      on ? "true" : "(removed)", "error", err.message[0] ? err.message : strerror(-r),
		      NULL);
	return r;
}

struct sweep {
	struct telemetry_ops *t;
	char (*names)[254];
	size_t n, max;
};

static int sweep_one(void *ud, struct kube_object *o)
{
	struct sweep *s = ud;
	const struct pod *p = kube_object_data(o);

	if (s->n < s->max && !strcmp(p->namespace, s->t->ns) && strcmp(p->name, s->t->pod_name) &&
	    labels_get(&p->labels, TELEMETRY_OPS_LEADER_LABEL))
		snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", p->name);
	return 0;
}

/* While leading, this Pod carries the label and no other Pod of the
 * namespace does (a leader that lost its lease without saying so);
 * otherwise this one does not.  Level-triggered, from the pod cache. */
static void sync_label(struct telemetry_ops *t)
{
	bool want = controller_leading(t->cfg.controller), have;
	struct kube_object *o;
	const struct pod *p;
	int64_t now = ticker_now_ms();

	if (!t->pod_name)
		return;
	o = kube_informer_get(t->pods, t->ns, t->pod_name);
	p = o ? kube_object_data(o) : NULL;
	have = p ? str_eq(labels_get(&p->labels, TELEMETRY_OPS_LEADER_LABEL), "true") :
		   (want ? false : t->labelled);
	kube_object_unref(o);
	if (want != have && now - t->label_tried_ms >= LABEL_RETRY_MS) {
		t->label_tried_ms = now;
		if (patch_label(t, t->pod_name, want) == 0) {
			t->labelled = want;
			pglog(PGLOG_INFO, want ? "leader label set on this pod" :
			      "leader label taken off this pod", "pod", t->pod_name, "label",
			      TELEMETRY_OPS_LEADER_LABEL, NULL);
		}
	}
	if (want && now - t->swept_ms >= LABEL_SWEEP_MS) {
		char names[8][254];
		struct sweep s = { t, names, 0, 8 };

		t->swept_ms = now;
		kube_informer_foreach(t->pods, sweep_one, &s);
		for (size_t i = 0; i < s.n; i++)
			if (patch_label(t, names[i], false) == 0)
				pglog(PGLOG_INFO, "leader label taken off a former leader", "pod",
				      names[i], NULL);
	}
}

static void *loop_main(void *arg)
{
	struct telemetry_ops *t = arg;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		struct timespec ts;
		bool listening = t->server != NULL;

		pthread_mutex_unlock(&t->mu);
		if (!listening)
			start_listener(t);
		else
			check_certificate(t);
		sync_label(t);
		pthread_mutex_lock(&t->mu);
		ticker_deadline(TICK_MS, &ts);
		if (!t->stop)
			pthread_cond_timedwait(&t->cond, &t->mu, &ts);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

/* ---- set-up ----------------------------------------------------------------------------- */

static char *dup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s || !*s)
		return NULL;
	d = pg_strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int telemetry_ops_new(const struct telemetry_ops_config *cfg, struct telemetry_ops **ret,
		      char *err, size_t errsz)
{
	struct telemetry_ops *t;
	pthread_condattr_t ca;
	bool oom = false;
	int r = -ENOMEM;

	if (!cfg->controller || !cfg->client || !cfg->namespace || !cfg->listen || !cfg->tls_cert ||
	    !cfg->tls_key) {
		snprintf(err, errsz, "--telemetry-listen needs --telemetry-tls-cert and --telemetry-tls-key");
		return -EINVAL;
	}
	if (!cfg->nallowed)
		/* A chart with telemetry on and no sender wired yet: listen, and
		 * refuse everyone, rather than not start. */
		pglog(PGLOG_WARN, "no --telemetry-allowed-users: every telemetry sender will be refused "
		      "(403)", NULL);
	t = pg_calloc(1, sizeof(*t));
	if (!t)
		goto oom;
	t->cfg = *cfg;
	t->ns = dup_opt(cfg->namespace, &oom);
	t->pod_name = dup_opt(cfg->pod_name, &oom);
	t->listen = dup_opt(cfg->listen, &oom);
	t->cert = dup_opt(cfg->tls_cert, &oom);
	t->key = dup_opt(cfg->tls_key, &oom);
	t->ca = dup_opt(cfg->client_ca, &oom);
	t->audience = dup_opt(cfg->audience, &oom);
	pthread_rwlock_init(&t->ix_lock, NULL);
	pthread_mutex_init(&t->snap_lock, NULL);
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	t->snap_gen = UINT64_MAX;
	t->pods = controller_pod_informer(cfg->controller);
	if (oom)
		goto oom;
	{
		struct ingest_config ic = {
			.ops = { op_by_name, op_by_uid, op_by_container, op_of_sa, op_release,
				 op_profiles_acquire, op_profiles_release, op_ns_exempt, op_submit, t,
				 op_account_used, op_audit_batch },
			.metrics = cfg->metrics,
		};
		struct tel_auth_config ac = {
			.allowed_users = cfg->allowed_users, .nallowed = cfg->nallowed,
			.audience = t->audience, .review = review, .ud = t,
		};
		struct tel_endpoint_config ec = { .metrics = cfg->metrics, .serving = serving,
						  .pod_node = pod_node, .ud = t };

		r = ingest_new(&ic, &t->ingest);
		if (r == 0)
			r = tel_auth_new(&ac, &t->auth);
		if (r == -EINVAL) {
			snprintf(err, errsz, "--telemetry-allowed-users: an empty user name");
			goto fail;
		}
		ec.ingest = t->ingest;
		ec.auth = t->auth;
		if (r == 0)
			r = tel_endpoint_new(&ec, &t->endpoint);
		if (r < 0)
			goto oom;
	}
	t->cfg.namespace = t->ns;
	t->cfg.pod_name = t->pod_name;
	t->cfg.listen = t->listen;
	t->cfg.tls_cert = t->cert;
	t->cfg.tls_key = t->key;
	t->cfg.client_ca = t->ca;
	t->cfg.audience = t->audience;
	t->cfg.allowed_users = NULL;
	controller_set_pod_hook(cfg->controller, on_pod, t);
	*ret = t;
	return 0;
oom:
	r = -ENOMEM;
	snprintf(err, errsz, "out of memory");
fail:
	telemetry_ops_free(t);
	return r;
}

int telemetry_ops_start(struct telemetry_ops *t)
{
	int r = -pthread_create(&t->thread, NULL, loop_main, t);

	if (r == 0)
		t->running = true;
	return r;
}

uint16_t telemetry_ops_port(struct telemetry_ops *t)
{
	return atomic_load(&t->port);
}

void telemetry_ops_stop(struct telemetry_ops *t)
{
	if (!t || t->stopped)
		return;
	t->stopped = true;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->mu);
	if (t->running) {
		pthread_join(t->thread, NULL);
		t->running = false;
	}
	if (t->server) {
		http_server_drain(t->server, 2000);
		t->server = http_server_stop(t->server);
	}
	atomic_store(&t->port, 0);
	if (t->labelled && t->pod_name && patch_label(t, t->pod_name, false) == 0)
		t->labelled = false;
}

struct telemetry_ops *telemetry_ops_free(struct telemetry_ops *t)
{
	if (!t)
		return NULL;
	telemetry_ops_stop(t);
	if (t->cfg.controller && t->pods)
		controller_set_pod_hook(t->cfg.controller, NULL, NULL);
	t->tls = http_tls_store_free(t->tls);
	t->endpoint = tel_endpoint_free(t->endpoint);
	t->auth = tel_auth_free(t->auth);
	t->ingest = ingest_free(t->ingest);
	snap_unref(t->snap);
	index_clear(&t->by_uid);
	index_clear(&t->by_cid);
	index_clear(&t->by_sa);
	pthread_rwlock_destroy(&t->ix_lock);
	pthread_mutex_destroy(&t->snap_lock);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cond);
	pg_free(t->ns);
	pg_free(t->pod_name);
	pg_free(t->listen);
	pg_free(t->cert);
	pg_free(t->key);
	pg_free(t->ca);
	pg_free(t->audience);
	pg_free(t);
	return NULL;
}
