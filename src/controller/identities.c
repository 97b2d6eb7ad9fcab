/* identities.c - the controller's identity inventory: one entry per
 * ServiceAccount (or account named by a pod, template or token Secret)
 * with the counts its report shows, kept by deltas from the informers'
 * handlers; the RBAC index (engine/identity.h) its risk comes from; and
 * the report writes.
 *
 * A change marks the accounts it touches dirty.  The leader's loop
 * evaluates an account once it has been quiet for settle_ms (a pod
 * replaced is a delete then an add: one evaluation, not two), builds its
 * status (idreport_status) and hashes it; the report is written only
 * when the hash differs from the last one written or stored, at most once
 * per write interval, the last change flushed when the interval passes.
 * The stored reports come from an informer, so a new leader compares
 * against what is in the cluster and writes only differences; the Ready
 * condition keeps its stored lastTransitionTime (and stateSince its time
 * while the state holds), or every evaluation would differ. */
#include "identities.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "errlist.h"
#include "hash.h"
#include "identity.h"
#include "idreport.h"
#include "jval.h"
#include "kube_api.h"
#include "kube_decode.h"
#include "metrics.h"
#include "pglog.h"
#include "pod.h"
#include "rbac.h"
#include "rfc3339.h"
#include "strutil.h"
#include "ticker.h"
#include "xalloc.h"

#define SA_NAME_ANNOTATION "kubernetes.io/service-account.name"
#define LEGACY_USED_LABEL "kubernetes.io/legacy-token-last-used"
/* The API server's bound token lifetime when it extends it to a year. */
#define EXTENDED_TOKEN_SECONDS 3607
#define NAME_MAX_LEN 253            /* a ServiceAccount's name (DNS subdomain) */
#define KEY_MAX (63 + 1 + NAME_MAX_LEN + 1)
#define WORKLOAD_TEXT_MAX 600       /* the CRD's bound on one entry */
#define DAY 86400

const struct kube_resource identities_res_workloads[IDWL__COUNT] = {
	[IDWL_DEPLOYMENTS] = { "apps", "v1", "deployments", "Deployment", true },
	[IDWL_STATEFULSETS] = { "apps", "v1", "statefulsets", "StatefulSet", true },
	[IDWL_DAEMONSETS] = { "apps", "v1", "daemonsets", "DaemonSet", true },
	[IDWL_REPLICASETS] = { "apps", "v1", "replicasets", "ReplicaSet", true },
	[IDWL_JOBS] = { "batch", "v1", "jobs", "Job", true },
	[IDWL_CRONJOBS] = { "batch", "v1", "cronjobs", "CronJob", true },
	[IDWL_RCS] = { "", "v1", "replicationcontrollers", "ReplicationController", true },
};

/* One account.  The key "ns/name" is stored after the struct. */
struct account {
	struct smap_node node;
	char *uid;                      /* the ServiceAccount's; NULL: none (no report) */
	int8_t automount;
	uint32_t pods, bound, extended, legacy;
	int64_t audit_used, legacy_used;        /* epoch seconds; -1 */
	struct idusage usage;
	/* the lifecycle */
	int64_t created, disabled_since;        /* -1 */
	int64_t last_named;             /* when an evaluation first found it no longer named; -1 */
	int64_t recheck;                /* wall seconds its verdict may change by time alone; -1 */
	bool disabled, lc_ignore, was_named, lc_seen;
	char **workloads;               /* sorted, distinct */
	size_t nworkloads;
	/* evaluation */
	bool dirty, judged, have_state;
	int64_t changed_ms, dirty_since_ms, wait_ms;
	uint64_t risk_fp;
	uint8_t level;
	uint16_t rule_counts[RR__COUNT];
	uint8_t state;
	int64_t since, evaluated;
	/* what the cluster holds (or we wrote) */
	bool stored;
	struct identities_stored st;
	int64_t next_write_ms;
};

struct identities {
	struct identities_config cfg;
	pthread_mutex_t mu;
	struct identity_index *index;
	struct smap accounts;
	size_t nreports, ndirty;
	bool synced;
	uint64_t writes, write_errors;
	struct risk_result scratch;     /* the loop's evaluations, under mu */
	int64_t live_since;             /* the audit source's span; -1 */
	struct lifecycle_policy policy;
	char *own_ns;
	int64_t next_recheck;           /* the earliest account recheck; INT64_MAX */
	struct metric *m_level[RISK_CRITICAL + 1];
	struct metric *m_rule[RR__COUNT];
	struct metric *m_writes;
	size_t level_count[RISK_CRITICAL + 1];
	size_t rule_total[RR__COUNT];
};

/* ---- accounts -------------------------------------------------------------------- */

static struct account *account_find(struct identities *id, const char *ns, const char *name)
{
	char key[KEY_MAX];
	struct smap_node *n;

	if ((size_t)snprintf(key, sizeof(key), "%s/%s", ns, name) >= sizeof(key))
		return NULL;
	n = smap_get(&id->accounts, key);
	return n ? smap_entry(n, struct account, node) : NULL;
}

/* The account, added when absent; NULL out of memory or for a name over
 * its bound (the API server refuses such names: logged). */
static struct account *account_get(struct identities *id, const char *ns, const char *name)
{
	struct account *a = account_find(id, ns, name);
	size_t lns = strlen(ns), ln = strlen(name);
	char *key;

	if (a)
		return a;
	if (lns > 63 || ln > NAME_MAX_LEN || !ln) {
		pglog(PGLOG_WARN, "identity not tracked: name over 253 bytes or namespace over 63",
		      "namespace", ns, NULL);
		return NULL;
	}
	a = pg_calloc(1, sizeof(*a) + lns + ln + 2);
	if (!a)
		return NULL;
	key = (char *)(a + 1);
	memcpy(key, ns, lns);
	key[lns] = '/';
	memcpy(key + lns + 1, name, ln + 1);
	a->node.key = key;
	a->automount = -1;
	a->audit_used = a->legacy_used = -1;
	a->since = a->evaluated = -1;
	a->created = a->disabled_since = a->last_named = a->recheck = -1;
	a->st = (struct identities_stored){ 0, -1, -1, -1, -1, false, IDUSAGE_INIT };
	if (smap_put(&id->accounts, &a->node) < 0) {
		pg_free(a);
		return NULL;
	}
	return a;
}

static const char *account_ns(const struct account *a, char out[64])
{
	const char *slash = strchr(a->node.key, '/');
	size_t n = (size_t)(slash - a->node.key);

	memcpy(out, a->node.key, n);
	out[n] = '\0';
	return out;
}

static const char *account_name(const struct account *a)
{
	return strchr(a->node.key, '/') + 1;
}

static void mark(struct identities *id, struct account *a, int64_t now_ms)
{
	if (!a->dirty) {
		a->dirty = true;
		a->dirty_since_ms = now_ms;
		id->ndirty++;
	}
	a->changed_ms = now_ms;
}

static void unmark(struct identities *id, struct account *a)
{
	if (a->dirty) {
		a->dirty = false;
		id->ndirty--;
	}
}

/* Metrics count accounts with a ServiceAccount that were judged. */
static void contribution(struct identities *id, const struct account *a, int sign)
{
	if (!a->uid || !a->judged)
		return;
	id->level_count[a->level] += (size_t)sign;
	for (int r = 0; r < RR__COUNT; r++)
		id->rule_total[r] += (size_t)((long)sign * a->rule_counts[r]);
}

static void account_free(struct account *a)
{
	for (size_t i = 0; i < a->nworkloads; i++)
		pg_free(a->workloads[i]);
	pg_free(a->workloads);
	pg_free(a->uid);
	idusage_free(&a->usage);
	pg_free(a);
}

/* Drops an entry nothing refers to any more. */
static void maybe_drop(struct identities *id, struct account *a)
{
	if (a->uid || a->pods || a->nworkloads || a->legacy || a->stored)
		return;
	unmark(id, a);
	smap_remove(&id->accounts, &a->node);
	account_free(a);
}

/* ---- the RBAC index ------------------------------------------------------------ */

struct dirty_ctx {
	struct identities *id;
	int64_t now;
};

static void on_dirty(void *ud, const char *ns, const char *name)
{
	struct dirty_ctx *d = ud;
	struct identities *id = d->id;

	if (ns && name) {
		struct account *a = account_find(id, ns, name);

		if (a)
			mark(id, a, d->now);
		return;
	}
	for (size_t i = 0; i < id->accounts.cap; i++) {
		for (struct smap_node *n = id->accounts.b[i]; n; n = n->next) {
			struct account *a = smap_entry(n, struct account, node);
			char nsb[64];

			if (!ns || strcmp(account_ns(a, nsb), ns) == 0)
				mark(id, a, d->now);
		}
	}
}

static void log_refused(const char *kind, const struct jval *obj, const struct errlist *e)
{
	const struct jval *meta = jval_get(obj, "metadata");

	pglog(PGLOG_WARN, "RBAC object not read: it grants nothing in the inventory", "kind", kind,
	      "namespace", jval_str(jval_get(meta, "namespace")) ? jval_str(jval_get(meta, "namespace")) : "",
	      "name", jval_str(jval_get(meta, "name")) ? jval_str(jval_get(meta, "name")) : "",
	      "error", e->n ? e->msgs[0] : "invalid", NULL);
}

int identities_decode_role(void *ud, const struct jval *obj, void **ret)
{
	struct identities *id = ud;
	struct dirty_ctx d = { id, ticker_now_ms() };
	struct rbac_role *role = NULL;
	struct errlist e;
	int r;

	*ret = NULL;
	errlist_init(&e, 4);
	r = rbac_role_parse(obj, "", &e, &role);
	if (r == -EINVAL)
		log_refused("role", obj, &e);
	errlist_free(&e);
	if (r < 0)
		return r;
	pthread_mutex_lock(&id->mu);
	r = identity_index_put_role(id->index, role, on_dirty, &d);
	pthread_mutex_unlock(&id->mu);
	return r;
}

int identities_decode_binding(void *ud, const struct jval *obj, void **ret)
{
	struct identities *id = ud;
	struct dirty_ctx d = { id, ticker_now_ms() };
	struct rbac_binding *b = NULL;
	struct errlist e;
	int r;

	*ret = NULL;
	errlist_init(&e, 4);
	r = rbac_binding_parse(obj, "", &e, &b);
	if (r == -EINVAL)
		log_refused("binding", obj, &e);
	errlist_free(&e);
	if (r < 0)
		return r;
	pthread_mutex_lock(&id->mu);
	r = identity_index_put_binding(id->index, b, on_dirty, &d);
	pthread_mutex_unlock(&id->mu);
	return r;
}

void identities_del_role(struct identities *id, const char *ns, const char *name)
{
	struct dirty_ctx d = { id, ticker_now_ms() };

	pthread_mutex_lock(&id->mu);
	identity_index_del_role(id->index, ns && *ns ? ns : NULL, name, on_dirty, &d);
	pthread_mutex_unlock(&id->mu);
}

void identities_del_binding(struct identities *id, const char *ns, const char *name)
{
	struct dirty_ctx d = { id, ticker_now_ms() };

	pthread_mutex_lock(&id->mu);
	identity_index_del_binding(id->index, ns && *ns ? ns : NULL, name, on_dirty, &d);
	pthread_mutex_unlock(&id->mu);
}

/* ---- decoders ------------------------------------------------------------------ */

static bool controller_owned(const struct jval *meta)
{
	const struct jval *refs = jval_get(meta, "ownerReferences");

	for (size_t i = 0; i < jval_size(refs); i++)
		if (jval_is_true(jval_get(jval_at(refs, i), "controller")))
			return true;
	return false;
}

int identities_decode_workload(void *ud, const struct jval *obj, void **ret)
{
	const struct jval *spec = jval_get(obj, "spec"), *ps;
	const char *kind = jval_str(jval_get(obj, "kind")), *sa;

	*ret = NULL;
	if (controller_owned(jval_get(obj, "metadata")))
		return 0;
	if (str_eq(kind, "CronJob"))
		spec = jval_get(jval_get(spec, "jobTemplate"), "spec");
	ps = jval_get(jval_get(spec, "template"), "spec");
	sa = jval_str(jval_get(ps, "serviceAccountName"));
	if (!sa || !*sa)
		sa = jval_str(jval_get(ps, "serviceAccount"));
	if (!sa || !*sa)
		sa = "default";
	if (strlen(sa) > NAME_MAX_LEN)
		return -EINVAL;
	*ret = pg_strdup(sa);
	return *ret ? 0 : -ENOMEM;
}

void identities_free_string(void *ud, void *data)
{
	pg_free(data);
}

int identities_decode_sa(void *ud, const struct jval *obj, void **ret)
{
	const struct jval *am = jval_get(obj, "automountServiceAccountToken");
	struct identities_sa *s = pg_calloc(1, sizeof(*s));
	void *meta = NULL;
	int r;

	if (!s)
		return -ENOMEM;
	r = kube_decode_meta(NULL, obj, &meta);
	if (r < 0) {
		pg_free(s);
		return r;
	}
	s->meta = meta;
	s->automount = jval_is_bool(am) ? (int8_t)jval_is_true(am) : -1;
	*ret = s;
	return 0;
}

void identities_free_sa(void *ud, void *data)
{
	struct identities_sa *s = data;

	if (!s)
		return;
	kube_free_meta(NULL, s->meta);
	pg_free(s);
}

static int64_t time_of(const char *s)
{
	int64_t t;
	long ns;

	return s && rfc3339_parse(s, &t, &ns) == 0 ? t : -1;
}

/* The label is a day (YYYY-MM-DD): its midnight, UTC. */
static int64_t day_of(const char *s)
{
	char text[32];

	if (!s || strlen(s) != 10)
		return -1;
	snprintf(text, sizeof(text), "%sT00:00:00Z", s);
	return time_of(text);
}

int identities_decode_token(void *ud, const struct jval *obj, void **ret)
{
	const struct jval *meta = jval_get(obj, "metadata");
	const char *sa = jval_str(jval_get(jval_get(meta, "annotations"), SA_NAME_ANNOTATION));
	struct identities_token *t;
	size_t n;

	if (!sa || strlen(sa) > NAME_MAX_LEN)
		sa = "";
	n = strlen(sa);
	t = pg_malloc(sizeof(*t) + n + 1);
	if (!t)
		return -ENOMEM;
	memcpy(t->account, sa, n + 1);
	t->last_used = day_of(jval_str(jval_get(jval_get(meta, "labels"), LEGACY_USED_LABEL)));
	*ret = t;
	return 0;
}

void identities_free_token(void *ud, void *data)
{
	pg_free(data);
}

static uint64_t status_hash(json_t *status)
{
	char *text = json_dumps(status, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h;

	if (!text)
		return 0;
	h = hash_fnv1a64_str(HASH_FNV64_BASIS, text);
	free(text);
	return h ? h : 1;
}

static int64_t int_of(const struct jval *v)
{
	return jval_is_int(v) ? v->u.i : 0;
}

/* The stored report's usage, entry by entry and verb by verb, through the
 * same bounds as a call's; its usageOmitted stays counted. */
static int restore_usage(const struct jval *st, struct idusage *u)
{
	const struct jval *arr = jval_get(st, "usage");
	int64_t om = int_of(jval_get(st, "usageOmitted"));

	for (size_t i = 0; i < jval_size(arr); i++) {
		const struct jval *e = jval_at(arr, i), *verbs = jval_get(e, "verbs");
		int64_t day = day_of(jval_str(jval_get(e, "lastSeen")));

		if (day < 0)
			continue;
		for (size_t k = 0; k < jval_size(verbs); k++)
			if (idusage_add(u, jval_str(jval_at(verbs, k)), jval_str(jval_get(e, "resource")),
					jval_str(jval_get(e, "namespace")), day, NULL) < 0)
				return -ENOMEM;
	}
	u->omitted = om > 0 ? (uint64_t)om : 0;
	return 0;
}

int identities_decode_report(void *ud, const struct jval *obj, void **ret)
{
	const struct jval *st = jval_get(obj, "status"), *conds = jval_get(st, "conditions");
	struct identities_stored *s = pg_calloc(1, sizeof(*s));
	const char *state = jval_str(jval_get(st, "state"));

	if (!s)
		return -ENOMEM;
	s->ltt = s->since = s->last_used = -1;
	s->state = -1;
	s->usage = IDUSAGE_INIT;
	if (jval_is_object(st)) {
		json_t *j = jval_to_json(st);

		if (!j) {
			pg_free(s);
			return -ENOMEM;
		}
		s->hash = status_hash(j);
		json_decref(j);
	}
	for (size_t i = 0; i < jval_size(conds); i++)
		if (str_eq(jval_str(jval_get(jval_at(conds, i), "type")), "Ready"))
			s->ltt = time_of(jval_str(jval_get(jval_at(conds, i), "lastTransitionTime")));
	s->since = time_of(jval_str(jval_get(st, "stateSince")));
	s->last_used = day_of(jval_str(jval_get(st, "lastUsed")));
	s->named = jval_size(jval_get(st, "workloads")) > 0 || int_of(jval_get(st, "pods")) > 0;
	if (restore_usage(st, &s->usage) < 0) {
		identities_free_report(ud, s);
		return -ENOMEM;
	}
	for (int k = IDSTATE_UNKNOWN; k <= IDSTATE_DISABLED; k++)
		if (str_eq(state, identity_state_name((enum identity_state)k)))
			s->state = k;
	*ret = s;
	return 0;
}

void identities_free_report(void *ud, void *data)
{
	struct identities_stored *s = data;

	if (!s)
		return;
	idusage_free(&s->usage);
	pg_free(s);
}

/* ---- what the handlers say ---------------------------------------------------- */

void identities_sa_changed(struct identities *id, const char *ns, const char *name, const char *uid,
			   const struct identities_sa *cur)
{
	struct account *a;

	pthread_mutex_lock(&id->mu);
	a = cur ? account_get(id, ns, name) : account_find(id, ns, name);
	if (!a)
		goto out;
	if (cur) {
		if (!a->uid || strcmp(a->uid, uid) != 0) {
			char *u = pg_strdup(uid);

			if (!u)
				goto out;
			contribution(id, a, -1);
			if (!a->uid)
				id->nreports++;
			pg_free(a->uid);
			a->uid = u;
			contribution(id, a, +1);
			mark(id, a, ticker_now_ms());
		}
		if (a->automount != cur->automount) {
			a->automount = cur->automount;
			mark(id, a, ticker_now_ms());
		}
		{
			const char *ds = labels_get(&cur->meta->annotations, IDENTITIES_DISABLED_ANNOTATION);
			int64_t dsince = ds ? time_of(ds) : -1;
			bool ign = str_eq(labels_get(&cur->meta->labels, LIFECYCLE_LABEL), "ignore");

			/* An unreadable time is still the annotation: disabled,
			 * its clock from now on. */
			if (ds && dsince < 0)
				dsince = a->disabled && a->disabled_since >= 0 ? a->disabled_since : -1;
			if (a->created != cur->meta->created || a->disabled != (ds != NULL) ||
			    a->disabled_since != dsince || a->lc_ignore != ign) {
				a->created = cur->meta->created;
				a->disabled = ds != NULL;
				a->disabled_since = dsince;
				a->lc_ignore = ign;
				mark(id, a, ticker_now_ms());
			}
		}
	} else if (a->uid) {
		contribution(id, a, -1);
		pg_free(a->uid);
		a->uid = NULL;
		id->nreports--;
		a->automount = -1;
		a->judged = false;
		unmark(id, a);
		maybe_drop(id, a);
	}
out:
	pthread_mutex_unlock(&id->mu);
}

static int workload_text(enum identities_wl k, const char *name, char out[WORKLOAD_TEXT_MAX])
{
	const struct kube_resource *r = &identities_res_workloads[k];
	int n = *r->group ? snprintf(out, WORKLOAD_TEXT_MAX, "%s/%s/%s", r->group, r->kind, name)
			  : snprintf(out, WORKLOAD_TEXT_MAX, "%s/%s", r->kind, name);

	return n > 0 && n < WORKLOAD_TEXT_MAX ? 0 : -E2BIG;
}

static size_t workload_lower(const struct account *a, const char *text)
{
	size_t lo = 0, hi = a->nworkloads;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(a->workloads[mid], text) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void workload_del(struct identities *id, struct account *a, const char *text)
{
	size_t i = workload_lower(a, text);

	if (i == a->nworkloads || strcmp(a->workloads[i], text) != 0)
		return;
	pg_free(a->workloads[i]);
	memmove(&a->workloads[i], &a->workloads[i + 1], (a->nworkloads - i - 1) * sizeof(char *));
	a->nworkloads--;
	mark(id, a, ticker_now_ms());
}

static int workload_add(struct identities *id, struct account *a, const char *text)
{
	size_t i = workload_lower(a, text);
	char **v, *s;

	if (i < a->nworkloads && strcmp(a->workloads[i], text) == 0)
		return 0;
	v = pg_realloc(a->workloads, (a->nworkloads + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	a->workloads = v;
	if (!(s = pg_strdup(text)))
		return -ENOMEM;
	memmove(&v[i + 1], &v[i], (a->nworkloads - i) * sizeof(*v));
	v[i] = s;
	a->nworkloads++;
	mark(id, a, ticker_now_ms());
	return 0;
}

void identities_workload_changed(struct identities *id, enum identities_wl k, const char *ns,
				 const char *name, const char *old_sa, const char *cur_sa)
{
	char text[WORKLOAD_TEXT_MAX];
	struct account *a;

	if (str_eq(old_sa, cur_sa) || workload_text(k, name, text) < 0)
		return;
	pthread_mutex_lock(&id->mu);
	if (old_sa && (a = account_find(id, ns, old_sa))) {
		workload_del(id, a, text);
		maybe_drop(id, a);
	}
	if (cur_sa && (a = account_get(id, ns, cur_sa))) {
		if (workload_add(id, a, text) < 0)
			pglog(PGLOG_WARN, "identity workload not counted: out of memory", "namespace", ns,
			      "workload", text, NULL);
		maybe_drop(id, a);
	}
	pthread_mutex_unlock(&id->mu);
}

/* What one pod adds to its account's counts. */
struct podfacts {
	bool counted, bound, extended;
};

static struct podfacts pod_facts(const struct pod *p)
{
	struct podfacts f = { false, false, false };

	if (!p || p->terminating || p->phase == PHASE_SUCCEEDED || p->phase == PHASE_FAILED)
		return f;
	f.counted = true;
	f.bound = p->ntokens > 0;
	for (size_t i = 0; i < p->ntokens; i++)
		if (p->tokens[i].expiration == EXTENDED_TOKEN_SECONDS)
			f.extended = true;
	return f;
}

static void pod_apply(struct identities *id, const struct pod *p, struct podfacts f, int sign)
{
	struct account *a;

	if (!f.counted)
		return;
	a = sign > 0 ? account_get(id, p->namespace, pod_service_account(p))
		     : account_find(id, p->namespace, pod_service_account(p));
	if (!a)
		return;
	a->pods += (uint32_t)sign;
	a->bound += f.bound ? (uint32_t)sign : 0;
	a->extended += f.extended ? (uint32_t)sign : 0;
	mark(id, a, ticker_now_ms());
	if (sign < 0)
		maybe_drop(id, a);
}

void identities_pod_changed(struct identities *id, const struct pod *old, const struct pod *cur)
{
	struct podfacts fo = pod_facts(old), fc = pod_facts(cur);

	/* Most updates are status: nothing the report counts moves. */
	if (old && cur && fo.counted == fc.counted && fo.bound == fc.bound && fo.extended == fc.extended &&
	    str_eq(pod_service_account(old), pod_service_account(cur)))
		return;
	pthread_mutex_lock(&id->mu);
	if (old)
		pod_apply(id, old, fo, -1);
	if (cur)
		pod_apply(id, cur, fc, +1);
	pthread_mutex_unlock(&id->mu);
}

static void secret_apply(struct identities *id, const char *ns, const struct identities_token *t, int sign)
{
	struct account *a;

	if (!t || !*t->account)
		return;
	a = sign > 0 ? account_get(id, ns, t->account) : account_find(id, ns, t->account);
	if (!a)
		return;
	a->legacy += (uint32_t)sign;
	/* A last use stays a last use when its Secret goes. */
	if (t->last_used > a->legacy_used)
		a->legacy_used = t->last_used;
	mark(id, a, ticker_now_ms());
	if (sign < 0)
		maybe_drop(id, a);
}

void identities_secret_changed(struct identities *id, const char *ns, const struct identities_token *old,
			       const struct identities_token *cur)
{
	if (old && cur && old->last_used == cur->last_used && strcmp(old->account, cur->account) == 0)
		return;
	pthread_mutex_lock(&id->mu);
	if (old)
		secret_apply(id, ns, old, -1);
	if (cur)
		secret_apply(id, ns, cur, +1);
	pthread_mutex_unlock(&id->mu);
}

/* What a stored report remembers and memory does not (a restart, or a
 * report another leader wrote): its last use and its usage, merged. */
static void restore(struct account *a, const struct identities_stored *s)
{
	const struct idusage *u = &s->usage;

	if (s->last_used > a->audit_used)
		a->audit_used = s->last_used;
	for (size_t i = 0; i < u->n; i++) {
		const struct idusage_entry *e = &u->v[i];

		for (const char *p = e->verbs; *p;) {
			const char *c = strchr(p, ',');
			size_t n = c ? (size_t)(c - p) : strlen(p);
			char verb[IDUSAGE_VERB_MAX + 1];

			memcpy(verb, p, n);
			verb[n] = '\0';
			/* Out of memory, it is left to the next echo. */
			(void)idusage_add(&a->usage, verb, e->resource, e->ns, e->day, NULL);
			p += n + (c ? 1 : 0);
		}
	}
	if (u->omitted > a->usage.omitted)
		a->usage.omitted = u->omitted;
}

void identities_report_changed(struct identities *id, const char *ns, const char *name,
			       const struct identities_stored *cur)
{
	struct account *a;

	pthread_mutex_lock(&id->mu);
	a = cur ? account_get(id, ns, name) : account_find(id, ns, name);
	if (a) {
		if (cur) {
			/* Our own writes come back with the hash written; a
			 * status someone else wrote is made right again. */
			if (!a->stored || a->st.hash != cur->hash)
				mark(id, a, ticker_now_ms());
			a->stored = true;
			a->st = *cur;
			a->st.usage = IDUSAGE_INIT;
			restore(a, cur);
		} else {
			/* Deleted (by hand, or with its ServiceAccount): written
			 * again if the account is still there. */
			a->stored = false;
			a->st = (struct identities_stored){ 0, -1, -1, -1, -1, false, IDUSAGE_INIT };
			mark(id, a, ticker_now_ms());
			maybe_drop(id, a);
		}
	}
	pthread_mutex_unlock(&id->mu);
}

void identities_used(struct identities *id, const char *ns, const char *name, const struct identities_call *c)
{
	int64_t when = c->when;
	struct account *a;
	bool changed = false;

	pthread_mutex_lock(&id->mu);
	a = account_find(id, ns, name);
	/* Only a new day, or a new verb or resource, changes the report. */
	if (a && when > a->audit_used) {
		changed = a->audit_used < 0 || when / DAY != a->audit_used / DAY;
		a->audit_used = when;
	}
	if (a && c->resource && *c->resource) {
		bool moved = false;

		/* Out of memory, the entry waits for the next call. */
		if (idusage_add(&a->usage, c->verb, c->resource, c->obj_ns, when, &moved) == 0 && moved)
			changed = true;
	}
	if (changed)
		mark(id, a, ticker_now_ms());
	pthread_mutex_unlock(&id->mu);
}

/* ---- evaluation and writes ------------------------------------------------------- */

struct pending {
	char *ns, *name, *uid;
	json_t *status;
	uint64_t hash;
	bool exists;
};

static void pending_free(struct pending *p)
{
	pg_free(p->ns);
	pg_free(p->name);
	pg_free(p->uid);
	json_decref(p->status);
}

static uint64_t risk_fp(const struct risk_result *r)
{
	uint64_t h = HASH_FNV64_BASIS;
	char n[24];

	snprintf(n, sizeof(n), "%d/%zu", (int)r->level, r->omitted);
	h = hash_fnv1a64_field(h, n);
	for (size_t i = 0; i < r->nfindings; i++) {
		h = hash_fnv1a64_field(h, risk_rule_name(r->findings[i].rule));
		h = hash_fnv1a64_field(h, r->findings[i].grant);
		h = hash_fnv1a64_field(h, r->findings[i].via);
	}
	return h ? h : 1;
}

/* Events to write once the lock is released. */
struct evq {
	struct pending_event {
		char *ns, *name, *uid, *note;
		const char *type, *reason;
		char key[32];
	} *v;
	size_t n, cap;
};

static void evq_push(struct evq *q, const struct account *a, const char *type, const char *reason,
		     const char *key, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void evq_push(struct evq *q, const struct account *a, const char *type, const char *reason,
		     const char *key, const char *fmt, ...)
{
	struct pending_event *e;
	char nsb[64], note[1024];
	va_list ap;

	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 8;
		struct pending_event *v = pg_realloc(q->v, cap * sizeof(*v));

		if (!v) {
			pglog(PGLOG_WARN, "identity Event not written: out of memory", "reason", reason, NULL);
			return;
		}
		q->v = v;
		q->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	e = &q->v[q->n];
	e->ns = pg_strdup(account_ns(a, nsb));
	e->name = pg_strdup(account_name(a));
	e->uid = pg_strdup(a->uid);
	e->note = pg_strdup(note);
	e->type = type;
	e->reason = reason;
	snprintf(e->key, sizeof(e->key), "%s", key);
	if (!e->ns || !e->name || !e->uid || !e->note) {
		pg_free(e->ns);
		pg_free(e->name);
		pg_free(e->uid);
		pg_free(e->note);
		pglog(PGLOG_WARN, "identity Event not written: out of memory", "reason", reason, NULL);
		return;
	}
	q->n++;
}

static void evq_flush(struct identities *id, struct evq *q)
{
	for (size_t i = 0; i < q->n; i++) {
		struct pending_event *e = &q->v[i];
		struct identities_event ev = { e->ns, e->name, e->uid, e->type, e->reason, e->note, e->key };

		if (id->cfg.event)
			id->cfg.event(id->cfg.ud, &ev);
		pg_free(e->ns);
		pg_free(e->name);
		pg_free(e->uid);
		pg_free(e->note);
	}
	pg_free(q->v);
	*q = (struct evq){ 0 };
}

static int64_t min_after(int64_t best, int64_t t, int64_t wall)
{
	return t > wall && (best < 0 || t < best) ? t : best;
}

/* The never-touch list (lifecycle_protected()) for @a. */
static bool is_protected(struct identities *id, const struct account *a)
{
	char nsb[64], label[64] = "";
	struct lifecycle_subject s = { account_ns(a, nsb), account_name(a), id->own_ns, false,
				       a->lc_ignore ? "ignore" : NULL, NULL };

	if (id->cfg.ns_facts)
		id->cfg.ns_facts(id->cfg.ud, s.ns, &s.ns_ignored, label);
	s.ns_label = *label ? label : NULL;
	return lifecycle_protected(&s) != NULL;
}

/* The lifecycle's verdict on @a at @wall (lifecycle_judge()), its Events
 * on a change of state, and when time alone may change it. */
static void judge_life(struct identities *id, struct account *a, int64_t wall, int64_t used,
		       struct lifecycle_verdict *v, struct evq *q)
{
	bool named = a->pods || a->nworkloads;
	/* Before this process's first look, the stored report says whether
	 * it was named: if so, it was until now as far as we know. */
	bool was = a->lc_seen ? a->was_named : a->stored && a->st.named;
	struct lifecycle_facts f = {
		.now = wall, .created = a->created, .named = named, .last_used = used,
		.live_since = id->live_since, .disabled = a->disabled, .disabled_since = a->disabled_since,
		.last_attempt = -1,
	};
	int prev = a->have_state ? a->state : a->stored ? a->st.state : -1;
	char key[32];
	int64_t r = -1;

	if (!named && was)
		a->last_named = wall;
	a->was_named = named;
	a->lc_seen = true;
	f.last_named = named ? wall : a->last_named;
	f.protected_ = is_protected(id, a);
	lifecycle_judge(&id->policy, &f, v);
	/* A state reached on evidence holds until new evidence: an audit
	 * outage (or the new span after it) says nothing, so an Orphaned
	 * account stays Orphaned while nothing names or uses it, an Unused
	 * one Unused while nothing uses it.  Never an action from that. */
	if (((v->state == IDSTATE_UNKNOWN && prev == IDSTATE_ORPHANED && !named) ||
	     (v->state == IDSTATE_ACTIVE && prev == IDSTATE_UNUSED && named))) {
		int64_t since = a->have_state ? a->since : a->st.since;

		if (since >= 0 && used < since) {
			v->state = (enum identity_state)prev;
			v->action = LIFECYCLE_NONE;
			v->unused_token = prev == IDSTATE_UNUSED;
		}
	}
	if (v->state == IDSTATE_DISABLED && f.disabled_since < 0)
		v->idle_since = -1;
	/* When time alone may move it: a threshold of its idle clock, or its
	 * last use leaving the unused window. */
	if (v->idle_since >= 0) {
		r = min_after(r, v->idle_since + id->policy.orphaned_after, wall);
		r = min_after(r, v->idle_since + id->policy.unused_after, wall);
	}
	if (used >= 0)
		r = min_after(r, used + id->policy.unused_after, wall);
	a->recheck = r;
	if (r >= 0 && r < id->next_recheck)
		id->next_recheck = r;
	if ((int)v->state == prev)
		return;
	snprintf(key, sizeof(key), "%lld", (long long)wall);
	if (v->state == IDSTATE_ORPHANED)
		evq_push(q, a, "Warning", "IdentityOrphaned", key,
			 "ServiceAccount %s has been named by no pod or pod template, and made no API call, "
			 "for %lld minutes of live audit (since %lld): its workload is gone%s",
			 account_name(a), (long long)((wall - v->idle_since) / 60), (long long)v->idle_since,
			 f.protected_ ? "; it is on the never-touch list, so nothing will be done to it" : "");
	else if (v->state == IDSTATE_UNUSED)
		evq_push(q, a, "Warning", "IdentityUnused", key,
			 "ServiceAccount %s made no API call for %lld days of live audit while pods or templates "
			 "name it. UnusedToken: its pods mount a token they never use; set "
			 "automountServiceAccountToken: false on the pods or the ServiceAccount",
			 account_name(a), (long long)((wall - v->idle_since) / 86400));
}

/* Judges @a and builds its status (new reference in *@ret; NULL out of
 * memory).  *@risk_moved when its risk differs from the last
 * evaluation's.  Lock held. */
static int evaluate(struct identities *id, struct account *a, int64_t wall, json_t **ret, bool *risk_moved,
		    struct evq *q)
{
	struct lifecycle_verdict v;
	uint8_t old_level = a->level;
	bool was_judged = a->judged;
	struct risk_result *rr = &id->scratch;
	char nsb[64];
	const char *ns = account_ns(a, nsb), *name = account_name(a);
	struct idreport rep = { 0 };
	int64_t used = a->audit_used > a->legacy_used ? a->audit_used : a->legacy_used;
	enum identity_state state;
	uint64_t fp;
	int r;

	*ret = NULL;
	*risk_moved = false;
	r = identity_index_judge(id->index, ns, name, rr);
	if (r < 0)
		return r;
	fp = risk_fp(rr);
	if (a->judged && fp != a->risk_fp)
		*risk_moved = true;
	contribution(id, a, -1);
	a->judged = true;
	a->risk_fp = fp;
	a->level = (uint8_t)rr->level;
	for (int k = 0; k < RR__COUNT; k++)
		a->rule_counts[k] = rr->rule_counts[k] > UINT16_MAX ? UINT16_MAX : (uint16_t)rr->rule_counts[k];
	contribution(id, a, +1);

	if (was_judged && old_level != a->level) {
		char key[32];

		snprintf(key, sizeof(key), "%lld", (long long)wall);
		evq_push(q, a, "Normal", "IdentityRiskChanged", key,
			 "ServiceAccount %s: the RBAC risk of what it is granted moved from %s to %s",
			 account_name(a), risk_level_name((enum risk_level)old_level), risk_level_name(rr->level));
	}
	judge_life(id, a, wall, used, &v, q);
	state = v.state;
	rep.unused_token = v.unused_token;
	if (!a->have_state || a->state != state) {
		a->since = a->stored && a->st.state == (int)state && a->st.since >= 0 ? a->st.since : wall;
		a->state = (uint8_t)state;
		a->have_state = true;
	}
	/* The first evaluation's time stays (the stored one first): a
	 * condition's transition time that moved with every write would make
	 * every write differ. */
	if (a->stored && a->st.ltt >= 0)
		a->evaluated = a->st.ltt;
	else if (a->evaluated < 0)
		a->evaluated = wall;
	rep.uid = a->uid;
	rep.state = state;
	rep.state_since = a->since;
	rep.pods = a->pods;
	rep.workloads = (const char *const *)a->workloads;
	rep.nworkloads = a->nworkloads;
	rep.tokens.bound = a->bound;
	rep.tokens.legacy_secrets = a->legacy;
	rep.tokens.extended = a->extended;
	rep.tokens.automount = a->automount != 0;
	rep.last_used = used;
	idusage_prune(&a->usage, wall - id->cfg.usage_window_s);
	rep.usage = &a->usage;
	rep.risk = rr;
	rep.evaluated = a->evaluated;
	*ret = idreport_status(&rep);
	return *ret ? 0 : -ENOMEM;
}

static void set_metrics(struct identities *id)
{
	for (int l = 0; l <= RISK_CRITICAL; l++)
		metric_set(id->m_level[l], (double)id->level_count[l]);
	for (int r = 0; r < RR__COUNT; r++)
		metric_set(id->m_rule[r], (double)id->rule_total[r]);
}

struct moved {
	char *ns, *name;
};

/* Evaluated at once: a new term, a new audit span, a recheck. */
static void mark_now(struct identities *id, struct account *a, int64_t now_ms)
{
	a->wait_ms = 0;
	mark(id, a, now_ms);
	a->changed_ms = a->dirty_since_ms = now_ms - id->cfg.write_interval_ms;
}

/* The accounts whose verdict time alone may have changed by @wall. */
static void recheck_due(struct identities *id, int64_t now_ms, int64_t wall)
{
	id->next_recheck = INT64_MAX;
	for (size_t i = 0; i < id->accounts.cap; i++) {
		for (struct smap_node *n = id->accounts.b[i]; n; n = n->next) {
			struct account *a = smap_entry(n, struct account, node);

			if (a->recheck < 0)
				continue;
			if (a->recheck <= wall) {
				a->recheck = -1;
				mark_now(id, a, now_ms);
			} else if (a->recheck < id->next_recheck) {
				id->next_recheck = a->recheck;
			}
		}
	}
}

size_t identities_flush(struct identities *id, int64_t now_ms, int64_t wall)
{
	struct pending *pv = NULL;
	struct moved *mv = NULL;
	size_t np = 0, nm = 0, capm = 0, written = 0;
	bool evaluated = false;
	struct evq evq = { 0 };

	pthread_mutex_lock(&id->mu);
	if (id->synced && wall >= id->next_recheck)
		recheck_due(id, now_ms, wall);
	if (!id->synced || !id->ndirty) {
		pthread_mutex_unlock(&id->mu);
		return 0;
	}
	pv = pg_calloc(id->cfg.max_writes, sizeof(*pv));
	for (size_t i = 0; pv && i < id->accounts.cap; i++) {
		for (struct smap_node *n = id->accounts.b[i]; n; n = n->next) {
			struct account *a = smap_entry(n, struct account, node);
			json_t *status = NULL;
			bool moved = false;
			uint64_t h;

			if (!a->dirty || now_ms < a->wait_ms)
				continue;
			if (now_ms - a->changed_ms < id->cfg.settle_ms &&
			    now_ms - a->dirty_since_ms < id->cfg.write_interval_ms)
				continue;
			if (!a->uid) {
				/* No ServiceAccount, no report; its risk is
				 * judged when a pod asks. */
				unmark(id, a);
				continue;
			}
			if (np == id->cfg.max_writes && now_ms >= a->next_write_ms)
				continue;       /* the next flush */
			if (evaluate(id, a, wall, &status, &moved, &evq) < 0) {
				a->wait_ms = now_ms + id->cfg.retry_ms;
				continue;
			}
			evaluated = true;
			if (moved) {
				size_t cap = nm < capm ? capm : (capm ? capm * 2 : 8);
				struct moved *v = cap == capm ? mv : pg_realloc(mv, cap * sizeof(*mv));
				char nsb[64];

				/* Out of memory, its pods wait for the resync. */
				if (v) {
					mv = v;
					capm = cap;
					mv[nm].ns = pg_strdup(account_ns(a, nsb));
					mv[nm].name = pg_strdup(account_name(a));
					nm++;
				}
			}
			h = status_hash(status);
			if (a->stored && h == a->st.hash) {
				unmark(id, a);
				json_decref(status);
				continue;
			}
			if (now_ms < a->next_write_ms) {
				/* Written within the interval: the last state
				 * goes out when it passes. */
				a->wait_ms = a->next_write_ms;
				json_decref(status);
				continue;
			}
			{
				struct pending *p = &pv[np];
				char nsb[64];

				p->ns = pg_strdup(account_ns(a, nsb));
				p->name = pg_strdup(account_name(a));
				p->uid = pg_strdup(a->uid);
				p->status = status;
				p->hash = h;
				p->exists = a->stored;
				if (!p->ns || !p->name || !p->uid) {
					pending_free(p);
					memset(p, 0, sizeof(*p));
					a->wait_ms = now_ms + id->cfg.retry_ms;
					continue;
				}
				np++;
				/* Not dirty while in flight: a change meanwhile
				 * marks it again. */
				unmark(id, a);
				a->next_write_ms = now_ms + id->cfg.write_interval_ms;
			}
		}
	}
	if (evaluated)
		set_metrics(id);
	pthread_mutex_unlock(&id->mu);
	evq_flush(id, &evq);

	for (size_t i = 0; i < nm; i++) {
		if (mv[i].ns && mv[i].name && id->cfg.risk_changed)
			id->cfg.risk_changed(id->cfg.ud, mv[i].ns, mv[i].name);
		pg_free(mv[i].ns);
		pg_free(mv[i].name);
	}
	pg_free(mv);

	for (size_t i = 0; i < np; i++) {
		struct pending *p = &pv[i];
		struct identities_write w = { p->ns, p->name, p->uid, p->exists, p->status };
		int r = id->cfg.write(id->cfg.ud, &w);
		struct account *a;

		pthread_mutex_lock(&id->mu);
		a = account_find(id, p->ns, p->name);
		if (r == 0) {
			id->writes++;
			written++;
			metric_inc(id->m_writes);
		} else if (r != -EPERM) {
			id->write_errors++;
		}
		if (a && a->uid && strcmp(a->uid, p->uid) == 0) {
			if (r == 0) {
				/* As written; the informer's echo says the same. */
				a->stored = true;
				a->st.hash = p->hash;
				a->st.ltt = a->evaluated;
				a->st.since = a->since;
				a->st.state = a->state;
			} else {
				if (r == -ENOENT)
					a->stored = false;
				/* Tried again after a pause, not counted as a write. */
				a->next_write_ms = 0;
				a->wait_ms = now_ms + id->cfg.retry_ms;
				mark(id, a, a->changed_ms);
				a->dirty_since_ms = now_ms - id->cfg.write_interval_ms;
			}
		}
		pthread_mutex_unlock(&id->mu);
		if (r < 0 && r != -EPERM) {
			char e[64];

			snprintf(e, sizeof(e), "%s", strerror(-r));
			pglog(PGLOG_WARN, "IdentityReport not written; retrying", "namespace", p->ns,
			      "name", p->name, "error", e, NULL);
		}
		pending_free(p);
	}
	pg_free(pv);
	return written;
}

void identities_new_term(struct identities *id)
{
	int64_t now = ticker_now_ms();

	pthread_mutex_lock(&id->mu);
	for (size_t i = 0; i < id->accounts.cap; i++) {
		for (struct smap_node *n = id->accounts.b[i]; n; n = n->next) {
			struct account *a = smap_entry(n, struct account, node);

			a->next_write_ms = 0;
			a->wait_ms = 0;
			mark(id, a, now);
			/* Evaluated at the first flush, not after settling. */
			a->changed_ms = a->dirty_since_ms = now - id->cfg.write_interval_ms;
		}
	}
	pthread_mutex_unlock(&id->mu);
}

void identities_set_audit_live(struct identities *id, int64_t since)
{
	int64_t now = ticker_now_ms();

	pthread_mutex_lock(&id->mu);
	if (since != id->live_since) {
		/* Every idle clock moved: every account is judged again (a
		 * write only where its status changed). */
		id->live_since = since;
		for (size_t i = 0; i < id->accounts.cap; i++)
			for (struct smap_node *n = id->accounts.b[i]; n; n = n->next)
				mark_now(id, smap_entry(n, struct account, node), now);
	}
	pthread_mutex_unlock(&id->mu);
}

void identities_set_synced(struct identities *id, bool synced)
{
	pthread_mutex_lock(&id->mu);
	id->synced = synced;
	pthread_mutex_unlock(&id->mu);
}

int identities_risk(struct identities *id, const char *ns, const char *name, struct risk_result *scratch)
{
	int r = -ENOENT;

	pthread_mutex_lock(&id->mu);
	if (id->synced)
		r = identity_index_judge(id->index, ns, name, scratch);
	pthread_mutex_unlock(&id->mu);
	return r;
}

void identities_stats(struct identities *id, struct identities_stats *ret)
{
	pthread_mutex_lock(&id->mu);
	ret->accounts = id->accounts.n;
	ret->reports = id->nreports;
	ret->dirty = id->ndirty;
	ret->writes = id->writes;
	ret->write_errors = id->write_errors;
	pthread_mutex_unlock(&id->mu);
}

/* ---- the default write ------------------------------------------------------------ */

/* The merge patch: the status, with null for each key it no longer has
 * (a merge patch leaves keys it does not name). */
static json_t *status_patch(json_t *status)
{
	static const char *const optional[] = { "serviceAccountUID", "stateSince", "workloadsOmitted",
						"lastUsed", "usage", "usageOmitted", "risk", "conditions" };
	json_t *s = json_deep_copy(status), *risk;

	if (!s)
		return NULL;
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		if (!json_object_get(s, optional[i]) && json_object_set_new(s, optional[i], json_null()) < 0)
			goto fail;
	risk = json_object_get(s, "risk");
	if (json_is_object(risk) && !json_object_get(risk, "findingsOmitted") &&
	    json_object_set_new(risk, "findingsOmitted", json_null()) < 0)
		goto fail;
	return s;
fail:
	json_decref(s);
	return NULL;
}

int identities_kube_write(void *ud, const struct identities_write *w)
{
	struct identities_kube *k = ud;
	struct kube_error err = { 0 };
	struct buf path = BUF_INIT(4096);
	struct kube_request req = {
		.method = "PATCH", .content_type = "application/merge-patch+json",
		.retry = KUBE_RETRY_IDEMPOTENT, .cancel = k->cancel,
	};
	json_t *patch = NULL;
	char *text = NULL;
	int r;

	if (!w->exists) {
		json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:b, s:b}]}, s:{}}",
					"apiVersion", "profileguard.io/v1alpha1", "kind", "IdentityReport",
					"metadata", "name", w->name, "namespace", w->ns, "ownerReferences",
					"apiVersion", "v1", "kind", "ServiceAccount", "name", w->name,
					"uid", w->sa_uid, "controller", 1, "blockOwnerDeletion", 0, "spec");

		if (!obj)
			return -ENOMEM;
		r = kube_api_create(k->client, &kube_res_identityreports, w->ns, obj, true, NULL, &err);
		json_decref(obj);
		if (r < 0 && r != -EEXIST)
			goto out;
	}
	r = -ENOMEM;
	patch = json_object();
	if (!patch || json_object_set_new(patch, "status", status_patch(w->status)) < 0 ||
	    !(text = json_dumps(patch, JSON_COMPACT)))
		goto out;
	if ((r = kube_path(&path, &kube_res_identityreports, w->ns, w->name, "status")) < 0)
		goto out;
	req.path = buf_str(&path);
	req.body = text;
	req.body_len = strlen(text);
	r = kube_client_do(k->client, &req, NULL, &err);
out:
	if (r < 0 && r != -ENOENT && r != -ECANCELED && err.message[0])
		pglog(PGLOG_DEBUG, "IdentityReport write refused", "namespace", w->ns, "name", w->name,
		      "error", err.message, NULL);
	free(text);
	json_decref(patch);
	buf_free(&path);
	return r;
}

/* ---- life ------------------------------------------------------------------------ */

int identities_new(const struct identities_config *cfg, struct identities **ret)
{
	static const char *const risk_label[] = { "risk", NULL };
	static const char *const rule_label[] = { "rule", NULL };
	struct identities *id;
	struct metric_vec *lv = NULL, *rv = NULL;
	int r;

	if (!cfg->write)
		return -EINVAL;
	id = pg_calloc(1, sizeof(*id));
	if (!id)
		return -ENOMEM;
	id->cfg = *cfg;
	if (id->cfg.write_interval_ms <= 0)
		id->cfg.write_interval_ms = 60000;
	if (id->cfg.settle_ms == 0)
		id->cfg.settle_ms = 2000;
	if (id->cfg.retry_ms <= 0)
		id->cfg.retry_ms = 10000;
	id->policy = cfg->policy ? *cfg->policy : LIFECYCLE_POLICY_DEFAULT;
	id->cfg.policy = NULL;
	id->next_recheck = INT64_MAX;
	id->own_ns = cfg->own_ns ? pg_strdup(cfg->own_ns) : NULL;
	id->cfg.own_ns = NULL;
	if (cfg->own_ns && !id->own_ns) {
		pg_free(id);
		return -ENOMEM;
	}
	if (id->cfg.usage_window_s <= 0)
		id->cfg.usage_window_s = 30 * DAY;
	if (!id->cfg.max_writes)
		id->cfg.max_writes = 10;
	pthread_mutex_init(&id->mu, NULL);
	id->live_since = -1;
	r = identity_index_new(&id->index);
	if (r < 0) {
		identities_free(id);
		return r;
	}
	if (cfg->metrics) {
		lv = metrics_gauge(cfg->metrics, "profileguard_identities",
				   "ServiceAccounts by the risk level of their RBAC grants.", risk_label);
		rv = metrics_gauge(cfg->metrics, "profileguard_identity_findings",
				   "Risk findings of every ServiceAccount, by rule.", rule_label);
		id->m_writes = metric_vec_get(metrics_counter(cfg->metrics,
			"profileguard_identity_report_writes_total",
			"IdentityReport writes (a create and its status, or a status alone).", NULL), NULL);
	}
	for (int l = 0; l <= RISK_CRITICAL; l++)
		id->m_level[l] = metric_vec_get1(lv, risk_level_name((enum risk_level)l));
	for (int k = 0; k < RR__COUNT; k++)
		id->m_rule[k] = metric_vec_get1(rv, risk_rule_name((enum risk_rule)k));
	set_metrics(id);
	*ret = id;
	return 0;
}

static void free_account(void *ud, struct smap_node *n)
{
	account_free(smap_entry(n, struct account, node));
}

struct identities *identities_free(struct identities *id)
{
	if (!id)
		return NULL;
	smap_clear(&id->accounts, free_account, NULL);
	id->index = identity_index_free(id->index);
	pg_free(id->own_ns);
	pthread_mutex_destroy(&id->mu);
	pg_free(id);
	return NULL;
}
