/* actions.c - findings become Events, status counts and, in Enforce mode,
 * pod deletions or evictions.  Submitters only queue; one worker thread
 * makes every API call, so the throttles see one stream.  The queue is
 * fair (queue.c): a sub-queue per namespace served in turn, Enforce actions
 * before Audit-only records, and a pod's findings of one reason folded
 * while they wait, so one tenant's flood neither fills it nor delays the
 * others.
 *
 * An item's life: the first pass writes one Event per finding group and
 * counts the violations; then, when the profile enforces, the action is
 * tried, and put off (owner backoff, empty bucket, a PodDisruptionBudget,
 * an API error) until it happens, the pod goes, or leadership is lost. */
#include "actions.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "fairq.h"
#include "kube_api.h"
#include "kube_retry.h"
#include "kube_util.h"
#include "metrics.h"
#include "pglog.h"
#include "hash.h"
#include "recorder.h"
#include "rfc3339.h"
#include "status.h"
#include "strutil.h"
#include "throttle.h"
#include "ticker.h"
#include "xalloc.h"

/* The API server cuts a note at 1 KiB: keeping more is waste. */
#define NOTE_KEEP 1024
/* lastViolation's message, and each earlier finding a folded note names. */
#define FIRST_KEEP 512
#define SAMPLE_KEEP 200
/* Cost a namespace may spend per turn (an entry costs its API writes). */
#define FAIR_QUANTUM 4
/* A refused report is logged at most this often (with the count since). */
#define REFUSAL_LOG_MS 10000
/* A finding Event that cannot be written is retried with the action
 * backoff (5 s doubling to 5 min): 12 tries cover about half an hour of
 * API trouble before it is given up, logged and counted. */
#define EVENT_MAX_ATTEMPTS 12
#define REPORTING_CONTROLLER "profileguard.io/controller"

/* The group's strings are its own (not the arena's): a fold replaces them. */
struct agroup {
	enum reason reason;
	char *note;             /* the latest evidence, joined */
	char *first;            /* its first message, for lastViolation */
	int64_t count;          /* findings folded into it (1: itself) */
	char *samples[ACTIONS_FOLD_SAMPLES];    /* earlier findings' first messages */
	size_t nsamples;
};

struct item {
	struct fairq_entry fe;     /* queued, or held while in the later list */
	struct smap_node knode; /* in pending by key, while reports may fold in */
	bool indexed;
	bool parked;            /* a record waiting so repeats fold into it */
	char *key;              /* class, evidence, pod, profile */
	struct item *next;      /* the later list */
	struct arena *arena;
	int64_t due_ms;
	unsigned attempts;
	bool recorded;          /* first pass done: violations counted */
	bool events_only;       /* acted on or not, only Events are left to write */
	uint32_t unwritten;     /* groups whose finding Event could not be written yet */
	unsigned event_attempts;
	const char *ev_action;  /* what the finding Events say (static strings) */
	const char *ev_prefix;
	bool said_backoff, said_throttle;
	char *ns, *pod, *uid, *node, *owner_kind, *owner_name, *owner_uid;
	char *profile, *profile_uid;
	char *reasons;          /* "AdmissionDrift,LegacyToken", for logs */
	bool no_pod;
	enum evidence evidence;
	enum pg_mode mode;
	enum action action;
	int64_t grace;
	int64_t observed;
	struct agroup g[DRIFT_MAX_GROUPS];
	size_t ng;
};

enum pm_state { PM_PENDING, PM_ACTED };

/* What this term did to one pod UID. */
struct podmem {
	struct smap_node node;
	uint8_t state;
	char uid[];
};

struct actions {
	struct actions_config cfg;
	char *identity;
	pthread_t thread;
	bool running;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
	uint64_t epoch;                 /* bumped by reset: older items are void */
	struct fairq *fq;               /* reports not yet worked on, and the held */
	struct smap pending;            /* key -> item that reports fold into */
	struct item *later;             /* sorted by due_ms; held in fq */
	size_t nlater;
	uint64_t refused, refused_logged;       /* reports refused; as of the last log */
	int64_t refused_log_ms;
	struct smap pods;               /* uid -> podmem */
	struct throttle_backoff *owners;
	struct throttle_bucket bucket;
	struct recorder *rec;

	struct metric_vec *m_actions;   /* {action,result} */
	struct metric_vec *m_findings;  /* {reason,mode} */
	struct metric_vec *m_refused;   /* {bound} */
	struct metric *m_folded;
	struct metric *m_pending;
};

enum rec_result { REC_NEW, REC_FOLDED, REC_ALREADY, REC_FAILED };

/* ---- reports ---------------------------------------------------------------------- */

static char *adup(struct arena *ar, const char *s, bool *oom)
{
	char *r;

	if (!s)
		return NULL;
	r = arena_strdup(ar, s);
	if (!r)
		*oom = true;
	return r;
}

/* A copy of @s cut at @max bytes on a UTF-8 boundary (heap). */
static char *hdup_cut(const char *s, size_t max, bool *oom)
{
	size_t n = strlen(s ? s : "");
	char *r;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	r = pg_malloc(n + 1);
	if (!r) {
		*oom = true;
		return NULL;
	}
	memcpy(r, s ? s : "", n);
	r[n] = '\0';
	return r;
}

static void group_free(struct agroup *g)
{
	pg_free(g->note);
	pg_free(g->first);
	for (size_t i = 0; i < g->nsamples; i++)
		pg_free(g->samples[i]);
	memset(g, 0, sizeof(*g));
}

static size_t slen(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* The memory @it holds, for the queue's byte bounds. */
static size_t item_bytes(const struct item *it)
{
	size_t n = arena_footprint(it->arena);

	for (size_t i = 0; i < it->ng; i++) {
		n += slen(it->g[i].note) + slen(it->g[i].first);
		for (size_t k = 0; k < it->g[i].nsamples; k++)
			n += slen(it->g[i].samples[k]);
	}
	return n;
}

static bool acting_class(const struct item *it)
{
	return !it->no_pod && it->mode == MODE_ENFORCE && it->action != ACTION_NONE;
}

static struct item *item_from_report(const struct drift_report *r)
{
	struct arena *ar = arena_new(2048);
	struct buf reasons = BUF_INIT(1024), key = BUF_INIT(2048);
	struct item *it;
	bool oom = false;

	if (!ar)
		return NULL;
	it = arena_alloc(ar, sizeof(*it));
	if (!it) {
		arena_free(ar);
		return NULL;
	}
	memset(it, 0, sizeof(*it));
	it->arena = ar;
	it->ns = adup(ar, r->namespace, &oom);
	it->pod = adup(ar, r->pod, &oom);
	it->uid = adup(ar, r->uid ? r->uid : "", &oom);
	it->node = adup(ar, r->node, &oom);
	it->owner_kind = adup(ar, r->owner_kind, &oom);
	it->owner_name = adup(ar, r->owner_name, &oom);
	it->owner_uid = adup(ar, r->owner_uid, &oom);
	it->profile = adup(ar, r->profile, &oom);
	it->profile_uid = adup(ar, r->profile_uid ? r->profile_uid : "", &oom);
	it->no_pod = r->no_pod || !r->uid || !*r->uid;
	it->evidence = r->evidence;
	it->mode = r->mode;
	it->action = r->action;
	it->grace = r->grace_period;
	it->observed = r->observed;
	if (!it->observed) {
		struct timespec ts;

		ticker_wall(&ts);
		it->observed = ts.tv_sec;
	}
	for (size_t i = 0; i < r->ngroups && it->ng < DRIFT_MAX_GROUPS; i++) {
		const struct drift_group *g = &r->groups[i];
		size_t ne = g->nevidence < DRIFT_MAX_EVIDENCE ? g->nevidence : DRIFT_MAX_EVIDENCE;
		struct agroup *ag = &it->g[it->ng++];
		char *joined = status_join_messages(g->evidence, ne, NOTE_KEEP);

		ag->reason = g->reason;
		ag->count = 1;
		ag->note = joined;
		if (!joined)
			oom = true;
		ag->first = hdup_cut(ne ? g->evidence[0] : "", FIRST_KEEP, &oom);
		if (i && buf_addc(&reasons, ',') < 0)
			oom = true;
		if (buf_adds(&reasons, reason_name(g->reason)) < 0)
			oom = true;
	}
	it->reasons = adup(ar, buf_str(&reasons), &oom);
	/* Reports fold by pod (its UID: a replacement is another pod),
	 * profile, class and the kind of evidence. */
	if (buf_printf(&key, "%c%d/%s/%s/%s/%s", acting_class(it) ? 'A' : 'R', (int)it->evidence,
		       it->ns ? it->ns : "", *it->uid ? it->uid : (it->pod ? it->pod : ""),
		       *it->profile_uid ? it->profile_uid : (it->profile ? it->profile : ""),
		       it->pod ? it->pod : "") < 0)
		oom = true;
	it->key = adup(ar, buf_str(&key), &oom);
	buf_free(&reasons);
	buf_free(&key);
	if (oom) {
		for (size_t i = 0; i < it->ng; i++)
			group_free(&it->g[i]);
		arena_free(ar);
		return NULL;
	}
	it->knode.key = it->key;
	it->fe.cls = acting_class(it) ? FAIRQ_ACTION : FAIRQ_RECORD;
	it->fe.cost = (uint32_t)it->ng + (it->fe.cls == FAIRQ_ACTION);
	it->fe.bytes = item_bytes(it);
	return it;
}

static void item_free(struct item *it)
{
	if (!it)
		return;
	for (size_t i = 0; i < it->ng; i++)
		group_free(&it->g[i]);
	arena_free(it->arena);
}

/* Folds the fresh report @src into @dst, which waits with the same key:
 * per reason a count, the latest evidence, and the first messages of a few
 * earlier ones.  Takes what it keeps of @src's strings.  Lock held. */
static void fold(struct actions *a, struct item *dst, struct item *src)
{
	bool oom = false;

	for (size_t i = 0; i < src->ng; i++) {
		struct agroup *sg = &src->g[i], *dg = NULL;

		for (size_t k = 0; k < dst->ng && !dg; k++)
			if (dst->g[k].reason == sg->reason)
				dg = &dst->g[k];
		if (!dg) {
			char *reasons;
			size_t n;

			if (dst->ng == DRIFT_MAX_GROUPS)
				continue;
			dst->g[dst->ng++] = *sg;
			memset(sg, 0, sizeof(*sg));
			/* At most DRIFT_MAX_GROUPS times an item: bounded. */
			n = strlen(dst->reasons) + strlen(reason_name(dst->g[dst->ng - 1].reason)) + 2;
			reasons = arena_alloc(dst->arena, n);
			if (reasons) {
				snprintf(reasons, n, "%s,%s", dst->reasons,
					 reason_name(dst->g[dst->ng - 1].reason));
				dst->reasons = reasons;
			}
			dst->fe.cost++;
			continue;
		}
		dg->count += sg->count;
		/* The evidence replaced is named as an earlier finding, once. */
		if (dg->first && *dg->first && dg->nsamples < ACTIONS_FOLD_SAMPLES &&
		    strcmp(dg->first, sg->first ? sg->first : "") != 0) {
			bool known = false;

			for (size_t k = 0; k < dg->nsamples && !known; k++)
				known = strncmp(dg->samples[k], dg->first, SAMPLE_KEEP) == 0;
			if (!known) {
				char *smp = hdup_cut(dg->first, SAMPLE_KEEP, &oom);

				if (smp)
					dg->samples[dg->nsamples++] = smp;
			}
		}
		pg_free(dg->note);
		pg_free(dg->first);
		dg->note = sg->note;
		dg->first = sg->first;
		sg->note = sg->first = NULL;
	}
	dst->observed = src->observed;
	dst->action = src->action;
	dst->grace = src->grace;
	fairq_resize(a->fq, &dst->fe, item_bytes(dst));
	metric_inc(a->m_folded);
}

/* ---- metrics and logs ----------------------------------------------------------------- */

static const char *action_label(const struct item *it, bool acting)
{
	if (!acting)
		return "Record";
	return it->action == ACTION_EVICT ? "Evict" : "Delete";
}

static void count_action(struct actions *a, const char *action, const char *result)
{
	metric_inc(metric_vec_get2(a->m_actions, action, result));
}

static void log_action(const struct item *it, enum pglog_level lvl, const char *action,
		       const char *result, const char *detail)
{
	pglog(lvl, "drift action", "namespace", it->ns, "pod", it->pod, "uid", it->uid,
	      "reason", it->reasons, "profile", it->profile, "action", action, "result", result,
	      "detail", detail ? detail : "", NULL);
}

/* ---- Events ------------------------------------------------------------------------- */

static bool get_series(json_t *ev, int32_t *ret_count)
{
	json_t *series = json_object_get(ev, "series");
	json_t *count = json_object_get(series, "count");

	*ret_count = json_is_integer(count) && json_integer_value(count) > 0 ?
		     (int32_t)json_integer_value(count) : 1;
	return true;
}

/* Folds @count into @name's series; with @note (folded findings) the
 * note too, so the Event says how many it folds and names a few. */
static int series_update(struct actions *a, const char *ns, const char *name, int32_t count,
			 const char *note, struct kube_error *err)
{
	char when[RFC3339_MAX];
	struct timespec t;
	json_t *patch;
	int e;

	if (!note)
		return kube_api_event_series_update(a->cfg.client, ns, name, count, NULL, err);
	ticker_wall(&t);
	if (rfc3339_format(&t, 1, when) < 0)
		return -EINVAL;
	patch = json_pack("{s{siss}ss}", "series", "count", (int)count, "lastObservedTime", when,
			  "note", note);
	if (!patch)
		return -ENOMEM;
	e = kube_api_merge_patch(a->cfg.client, &kube_res_events, ns, name, NULL, patch, NULL, err);
	json_decref(patch);
	return e;
}

/* A series count after @times more observations (it is an int32). */
static int32_t series_add(int32_t count, int64_t times)
{
	int64_t n = (int64_t)count + (times > 0 ? times : 1);

	return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

/* The Event exists though this term did not write it: tell our own
 * create retried after a lost answer, an observation already on record
 * (same note: a restart or a new leader re-judging), and a repeat. */
static enum rec_result existing_event(struct actions *a, const struct item *it, const char *name,
				      const char *note, const char *sent_time, int64_t times)
{
	struct kube_error err = { 0 };
	json_t *ev = NULL;
	const char *t, *n;
	int32_t count;
	int r;

	r = kube_api_get(a->cfg.client, &kube_res_events, it->ns, name, &ev, &err);
	if (r < 0) {
		pglog(PGLOG_WARN, "event not read", "namespace", it->ns, "event", name,
		      "error", err.message[0] ? err.message : strerror(-r), NULL);
		return REC_FAILED;
	}
	t = json_string_value(json_object_get(ev, "eventTime"));
	n = json_string_value(json_object_get(ev, "note"));
	get_series(ev, &count);
	if (t && strcmp(t, sent_time) == 0) {
		json_decref(ev);
		pthread_mutex_lock(&a->mu);
		recorder_store(a->rec, name, count, ticker_now_ms());
		pthread_mutex_unlock(&a->mu);
		return REC_NEW;
	}
	if (n && strcmp(n, note) == 0) {
		json_decref(ev);
		pthread_mutex_lock(&a->mu);
		recorder_store(a->rec, name, count, ticker_now_ms());
		pthread_mutex_unlock(&a->mu);
		return REC_ALREADY;
	}
	json_decref(ev);
	count = series_add(count, times);
	r = series_update(a, it->ns, name, count, times > 1 ? note : NULL, &err);
	if (r < 0) {
		pglog(PGLOG_WARN, "event series not updated", "namespace", it->ns, "event", name,
		      "error", err.message[0] ? err.message : strerror(-r), NULL);
		return REC_FAILED;
	}
	pthread_mutex_lock(&a->mu);
	recorder_store(a->rec, name, count, ticker_now_ms());
	pthread_mutex_unlock(&a->mu);
	return REC_FOLDED;
}

/* Writes (or folds into a series) the Event for @reason on the item's pod,
 * related to its profile, for @times observations (folded ones: the series
 * count carries them). */
static enum rec_result record_event(struct actions *a, const struct item *it, const char *reason,
				    const char *action, const char *prefix, const char *text,
				    int64_t times)
{
	char name[RECORDER_NAME_MAX], when[RFC3339_MAX];
	struct kube_error err = { 0 };
	struct buf note = BUF_INIT(NOTE_KEEP + 256);
	struct timespec now;
	struct kube_api_event ev = { 0 };
	int32_t count;
	int r;
	enum rec_result res = REC_FAILED;

	recorder_event_name(name, it->pod, it->uid, reason, action,
			    *it->profile_uid ? it->profile_uid : it->profile);
	if (buf_adds(&note, prefix ? prefix : "") < 0 || buf_adds(&note, text ? text : "") < 0)
		buf_truncate(&note, note.len);
	buf_truncate(&note, recorder_note_len(buf_str(&note)));

	pthread_mutex_lock(&a->mu);
	count = recorder_count(a->rec, name, ticker_now_ms());
	pthread_mutex_unlock(&a->mu);
	if (count > 0) {
		count = series_add(count, times);
		r = series_update(a, it->ns, name, count, times > 1 ? buf_str(&note) : NULL, &err);
		if (r == 0) {
			pthread_mutex_lock(&a->mu);
			recorder_store(a->rec, name, count, ticker_now_ms());
			pthread_mutex_unlock(&a->mu);
			res = REC_FOLDED;
			goto out;
		}
		pthread_mutex_lock(&a->mu);
		recorder_forget(a->rec, name);
		pthread_mutex_unlock(&a->mu);
		if (r != -ENOENT) {
			pglog(PGLOG_WARN, "event series not updated", "namespace", it->ns,
			      "event", name, "error", err.message[0] ? err.message : strerror(-r), NULL);
			goto out;
		}
		/* Expired: start a new Event. */
	}
	ticker_wall(&now);
	rfc3339_format(&now, 1, when);
	ev.name = name;
	ev.type = "Warning";
	ev.reason = reason;
	ev.action = action;
	ev.note = buf_str(&note);
	ev.reporting_controller = REPORTING_CONTROLLER;
	ev.reporting_instance = a->identity;
	ev.regarding = (struct kube_api_object_ref){ "v1", "Pod", it->ns, it->pod,
						     *it->uid ? it->uid : NULL };
	ev.related = (struct kube_api_object_ref){ "profileguard.io/v1alpha1", "WorkloadProfile",
						   it->ns, it->profile,
						   *it->profile_uid ? it->profile_uid : NULL };
	ev.event_time = now;
	memset(&err, 0, sizeof(err));
	r = kube_api_event_create(a->cfg.client, it->ns, &ev, NULL, &err);
	if (r == 0) {
		count = 1;
		/* Folded observations: the series says how many there were
		 * (the Event exists; a failed update costs only the count). */
		if (times > 1 && series_update(a, it->ns, name, series_add(0, times), NULL,
						       &err) == 0)
			count = series_add(0, times);
		pthread_mutex_lock(&a->mu);
		recorder_store(a->rec, name, count, ticker_now_ms());
		pthread_mutex_unlock(&a->mu);
		res = REC_NEW;
	} else if (r == -EEXIST) {
		res = existing_event(a, it, name, buf_str(&note), when, times);
	} else {
		pglog(PGLOG_WARN, "event not written", "namespace", it->ns, "event", name,
		      "reason", reason, "error", err.message[0] ? err.message : strerror(-r), NULL);
	}
out:
	buf_free(&note);
	return res;
}

/* The finding Event of the item's group @i: its note says how many
 * findings were folded into it and names a few. */
static enum rec_result record_group(struct actions *a, const struct item *it, size_t i)
{
	const struct agroup *g = &it->g[i];
	struct buf note = BUF_INIT(NOTE_KEEP + 256);
	enum rec_result rr;

	recorder_fold_note(&note, g->count, g->note, (const char *const *)g->samples, g->nsamples);
	rr = record_event(a, it, reason_name(g->reason), it->ev_action, it->ev_prefix,
			  buf_str(&note), g->count);
	buf_free(&note);
	return rr;
}

/* ---- the queue --------------------------------------------------------------------- */

static void unindex(struct actions *a, struct item *it)
{
	if (it->indexed) {
		smap_del(&a->pending, it->key);
		it->indexed = false;
	}
}

/* A report displaced from the queue by a bound (queue.c).  Lock held. */
static void drop_displaced(void *ud, struct fairq_entry *e)
{
	struct actions *a = ud;
	struct item *it = smap_entry(e, struct item, fe);

	unindex(a, it);
	count_action(a, "Record", "dropped");
	item_free(it);
}

/* Puts @it back, due at @due_ms, unless a reset voided it; @park: a
 * record that reports go on folding into meanwhile.  It stays counted
 * against its namespace's bounds.  Takes it. */
static void put_off(struct actions *a, struct item *it, uint64_t epoch, int64_t due_ms, bool park)
{
	struct item **pp;

	struct smap_node *n;

	pthread_mutex_lock(&a->mu);
	if (a->stop || epoch != a->epoch) {
		pthread_mutex_unlock(&a->mu);
		item_free(it);
		return;
	}
	/* A report of the same key came while this one was in hand: one
	 * entry waits for both. */
	if (park && (n = smap_get(&a->pending, it->key))) {
		struct item *w = smap_entry(n, struct item, knode);

		fold(a, it, w);
		unindex(a, w);
		if (w->fe.held) {
			/* Parked too: it leaves the later list for @it. */
			for (pp = &a->later; *pp && *pp != w; pp = &(*pp)->next)
				;
			if (*pp) {
				*pp = w->next;
				a->nlater--;
			}
		}
		fairq_forget(a->fq, &w->fe);
		item_free(w);
	}
	if (fairq_hold(a->fq, it->ns, &it->fe) < 0) {
		pthread_mutex_unlock(&a->mu);
		item_free(it);
		return;
	}
	it->due_ms = due_ms;
	it->parked = park;
	if (park && smap_put(&a->pending, &it->knode) == 0)
		it->indexed = true;
	for (pp = &a->later; *pp && (*pp)->due_ms <= due_ms; pp = &(*pp)->next)
		;
	it->next = *pp;
	*pp = it;
	a->nlater++;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
}

static void defer(struct actions *a, struct item *it, uint64_t epoch, int64_t due_ms)
{
	put_off(a, it, epoch, due_ms, false);
}

/* When a record's Events may be written again: ACTIONS_FOLD_MS after the
 * latest of them, 0 when now. */
static int64_t fold_until(struct actions *a, const struct item *it, const char *action,
			  int64_t now)
{
	char name[RECORDER_NAME_MAX];
	int64_t until = 0;

	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < it->ng; i++) {
		int64_t w;

		recorder_event_name(name, it->pod, it->uid, reason_name(it->g[i].reason), action,
				    *it->profile_uid ? it->profile_uid : it->profile);
		w = recorder_written_ms(a->rec, name, now);
		if (w >= 0 && w + ACTIONS_FOLD_MS > now && w + ACTIONS_FOLD_MS > until)
			until = w + ACTIONS_FOLD_MS;
	}
	pthread_mutex_unlock(&a->mu);
	return until;
}

static void set_pod(struct actions *a, const char *uid, int state)
{
	struct smap_node *n;
	struct podmem *pm;
	size_t len;

	pthread_mutex_lock(&a->mu);
	n = smap_get(&a->pods, uid);
	if (state < 0) {
		n = n ? smap_del(&a->pods, uid) : NULL;
		pg_free(n ? smap_entry(n, struct podmem, node) : NULL);
	} else if (n) {
		smap_entry(n, struct podmem, node)->state = (uint8_t)state;
	} else {
		len = strlen(uid);
		pm = pg_calloc(1, sizeof(*pm) + len + 1);
		if (pm) {
			memcpy(pm->uid, uid, len + 1);
			pm->node.key = pm->uid;
			pm->state = (uint8_t)state;
			if (smap_put(&a->pods, &pm->node) < 0)
				pg_free(pm);
		}
	}
	pthread_mutex_unlock(&a->mu);
}

static int get_pod(struct actions *a, const char *uid)
{
	struct smap_node *n;
	int s;

	pthread_mutex_lock(&a->mu);
	n = smap_get(&a->pods, uid);
	s = n ? smap_entry(n, struct podmem, node)->state : -1;
	pthread_mutex_unlock(&a->mu);
	return s;
}

/* ---- acting ---------------------------------------------------------------------------- */

static bool may_act(struct actions *a)
{
	return !a->cfg.hooks.may_act || a->cfg.hooks.may_act(a->cfg.hooks.ud);
}

static enum actions_liveness check_pod(struct actions *a, const struct item *it)
{
	if (!a->cfg.hooks.pod_check)
		return ACTIONS_POD_LIVE;
	return a->cfg.hooks.pod_check(a->cfg.hooks.ud, it->ns, it->pod, it->uid, it->evidence);
}

static const char *liveness_result(enum actions_liveness l)
{
	switch (l) {
	case ACTIONS_POD_GONE:
		return "gone";
	case ACTIONS_POD_REPLACED:
		return "replaced";
	case ACTIONS_POD_TERMINATING:
		return "terminating";
	case ACTIONS_POD_EXEMPT:
		return "skipped";
	case ACTIONS_POD_FINISHED:
		return "finished";
	default:
		return "live";
	}
}

static int64_t retry_delay(struct actions *a, unsigned attempt)
{
	int64_t d = kube_backoff_ms(attempt, a->cfg.retry_base_ms, a->cfg.retry_cap_ms, kube_rand());

	return d > 0 ? d : a->cfg.retry_base_ms;
}

/* Ends an item, unless one of its finding Events is still unwritten: then
 * it stays for the Events alone, retried with backoff, so no pod is acted
 * on without an Event saying why, even when the API server refused the
 * Event for longer than the client retries.  Takes @it. */
static void finish(struct actions *a, struct item *it, uint64_t epoch)
{
	if (!it->unwritten) {
		item_free(it);
		return;
	}
	it->events_only = true;
	defer(a, it, epoch, ticker_now_ms() + retry_delay(a, it->event_attempts));
}

static void retry_events(struct actions *a, struct item *it, uint64_t epoch)
{
	it->event_attempts++;
	for (size_t i = 0; i < it->ng; i++) {
		if (!(it->unwritten & (1u << i)))
			continue;
		if (record_group(a, it, i) != REC_FAILED)
			it->unwritten &= ~(1u << i);
	}
	if (!it->unwritten) {
		log_action(it, PGLOG_INFO, "Record", "event_written", "written after a retry");
		item_free(it);
		return;
	}
	if (it->event_attempts >= EVENT_MAX_ATTEMPTS) {
		count_action(a, "Record", "event_lost");
		log_action(it, PGLOG_ERROR, "Record", "event_lost",
			   "the finding Event could not be written; given up after retries");
		item_free(it);
		return;
	}
	finish(a, it, epoch);
}

static void act(struct actions *a, struct item *it, uint64_t epoch)
{
	const char *label = action_label(it, true), *result;
	char detail[640], owner_desc[512];
	struct kube_api_delete_opts o = { .uid = it->uid, .grace_period = it->grace };
	struct kube_error err = { 0 };
	enum actions_liveness lv;
	int64_t now = ticker_now_ms(), wait;
	unsigned n = 0;
	int r;

	if (!may_act(a)) {
		count_action(a, label, "not_leader");
		set_pod(a, it->uid, -1);
		item_free(it);
		return;
	}
	lv = check_pod(a, it);
	if (lv != ACTIONS_POD_LIVE) {
		result = liveness_result(lv);
		count_action(a, label, result);
		log_action(it, PGLOG_INFO, label, result, "the pod changed before the action");
		set_pod(a, it->uid, -1);
		finish(a, it, epoch);
		return;
	}
	if (a->cfg.dry_run) {
		count_action(a, label, "dry_run");
		log_action(it, PGLOG_INFO, label, "dry_run", "--dry-run: the pod is kept");
		set_pod(a, it->uid, PM_ACTED);
		finish(a, it, epoch);
		return;
	}
	snprintf(owner_desc, sizeof(owner_desc), "%s %s", it->owner_kind ? it->owner_kind : "owner",
		 it->owner_name ? it->owner_name : "");
	pthread_mutex_lock(&a->mu);
	wait = throttle_backoff_wait(a->owners, it->owner_uid, now, &n);
	pthread_mutex_unlock(&a->mu);
	if (wait > 0) {
		snprintf(detail, sizeof(detail),
			 "%s: its pods drifted and were acted on %u time%s lately; the next %s "
			 "waits %" PRId64 " s (exponential backoff per owner)", owner_desc, n,
			 n == 1 ? "" : "s", label, (wait + 999) / 1000);
		if (!it->said_backoff) {
			record_event(a, it, "DriftRepeated", label, NULL, detail, 1);
			it->said_backoff = true;
		}
		count_action(a, label, "backoff");
		log_action(it, PGLOG_INFO, label, "backoff", detail);
		defer(a, it, epoch, now + wait);
		return;
	}
	pthread_mutex_lock(&a->mu);
	wait = throttle_bucket_take(&a->bucket, now);
	pthread_mutex_unlock(&a->mu);
	if (wait > 0) {
		/* A little spread, so put-off actions do not all ask at once. */
		int64_t d = wait + (int64_t)(kube_rand() % 250);

		snprintf(detail, sizeof(detail),
			 "--max-actions-per-minute (%g) reached: the pod is kept and the %s is "
			 "retried in %" PRId64 " s", a->cfg.max_per_minute, label, (d + 999) / 1000);
		if (!it->said_throttle) {
			record_event(a, it, "ActionThrottled", label, NULL, detail, 1);
			it->said_throttle = true;
		}
		count_action(a, label, "throttled");
		log_action(it, PGLOG_INFO, label, "throttled", detail);
		defer(a, it, epoch, now + d);
		return;
	}
	if (!may_act(a)) {
		pthread_mutex_lock(&a->mu);
		throttle_bucket_refund(&a->bucket);
		pthread_mutex_unlock(&a->mu);
		count_action(a, label, "not_leader");
		set_pod(a, it->uid, -1);
		item_free(it);
		return;
	}
	if (it->action == ACTION_EVICT)
		r = kube_api_pod_evict(a->cfg.client, it->ns, it->pod, &o, &err);
	else
		r = kube_api_pod_delete(a->cfg.client, it->ns, it->pod, &o, &err);
	switch (r) {
	case 0:
		result = it->action == ACTION_EVICT ? "evicted" : "deleted";
		set_pod(a, it->uid, PM_ACTED);
		pthread_mutex_lock(&a->mu);
		throttle_backoff_record(a->owners, it->owner_uid, ticker_now_ms());
		pthread_mutex_unlock(&a->mu);
		count_action(a, label, result);
		log_action(it, PGLOG_INFO, label, result, "");
		finish(a, it, epoch);
		return;
	case -ENOENT:
	case -ESTALE:
		/* Gone already, or a replacement holds the name: the UID
		 * precondition kept it safe, and it is never retried. */
		result = r == -ENOENT ? "gone" : "replaced";
		set_pod(a, it->uid, -1);
		count_action(a, label, result);
		log_action(it, PGLOG_INFO, label, result, err.message);
		finish(a, it, epoch);
		return;
	default:
		break;
	}
	pthread_mutex_lock(&a->mu);
	throttle_bucket_refund(&a->bucket);
	pthread_mutex_unlock(&a->mu);
	wait = retry_delay(a, it->attempts++);
	if (r == -EAGAIN) {
		snprintf(detail, sizeof(detail),
			 "eviction refused by a PodDisruptionBudget: the pod is kept and the "
			 "eviction retried in %" PRId64 " s (%s)", (wait + 999) / 1000, err.message);
		record_event(a, it, "EvictionBlocked", label, NULL, detail, 1);
		count_action(a, label, "blocked");
		log_action(it, PGLOG_WARN, label, "blocked", err.message);
	} else {
		snprintf(detail, sizeof(detail), "%s (retried in %" PRId64 " s)",
			 err.message[0] ? err.message : strerror(-r), (wait + 999) / 1000);
		count_action(a, label, "error");
		log_action(it, PGLOG_WARN, label, "error", detail);
	}
	defer(a, it, epoch, ticker_now_ms() + wait);
}

/* The first pass: Events and violations, then the action if any. */
static void first_pass(struct actions *a, struct item *it, uint64_t epoch)
{
	bool acting = !it->no_pod && it->mode == MODE_ENFORCE && it->action != ACTION_NONE;
	enum actions_liveness lv = it->no_pod ? ACTIONS_POD_GONE : check_pod(a, it);
	const char *result = "recorded", *prefix = NULL;
	size_t fresh = 0;
	int pm;

	if (lv == ACTIONS_POD_EXEMPT) {
		count_action(a, "Record", "skipped");
		item_free(it);
		return;
	}
	for (size_t i = 0; i < it->ng; i++)
		metric_add(metric_vec_get2(a->m_findings, reason_name(it->g[i].reason),
					   mode_name(it->mode)), (uint64_t)it->g[i].count);
	if (acting && lv != ACTIONS_POD_LIVE) {
		acting = false;
		result = liveness_result(lv);
	}
	pm = acting ? get_pod(a, it->uid) : -1;
	if (pm >= 0) {
		/* Acted on already, or an action waits: never twice. */
		acting = false;
		result = pm == PM_ACTED ? "already_acted" : "pending";
	}
	if (acting && a->cfg.dry_run)
		prefix = it->action == ACTION_EVICT ? "dry-run: the pod would be evicted; " :
						      "dry-run: the pod would be deleted; ";
	it->ev_action = action_label(it, acting || pm >= 0);
	it->ev_prefix = prefix;
	for (size_t i = 0; i < it->ng; i++) {
		const struct agroup *g = &it->g[i];
		enum rec_result rr = record_group(a, it, i);

		if (rr == REC_FAILED)
			it->unwritten |= 1u << i;
		if (rr != REC_ALREADY)
			fresh++;
		if (rr != REC_ALREADY && a->cfg.hooks.on_violation) {
			struct actions_violation v = {
				.namespace = it->ns, .profile = it->profile,
				.profile_uid = it->profile_uid, .pod = it->pod,
				.reason = reason_name(g->reason), .message = g->first,
				.time = it->observed, .count = g->count,
			};

			a->cfg.hooks.on_violation(a->cfg.hooks.ud, &v);
		}
	}
	it->recorded = true;
	if (!acting) {
		/* Every Event was on record already: a restart or a new
		 * leader looking again, not a new violation. */
		if (!fresh && strcmp(result, "recorded") == 0)
			result = "already_recorded";
		count_action(a, "Record", result);
		log_action(it, PGLOG_INFO, "Record", result, "");
		finish(a, it, epoch);
		return;
	}
	set_pod(a, it->uid, PM_PENDING);
	act(a, it, epoch);
}

static void process(struct actions *a, struct item *it, uint64_t epoch)
{
	if (!may_act(a)) {
		/* The next leader judges again and writes what is missing
		 * for pods that are still there. */
		count_action(a, it->events_only ? "Record" : action_label(it, it->recorded), "not_leader");
		if (it->recorded && !it->events_only)
			set_pod(a, it->uid, -1);
		item_free(it);
		return;
	}
	if (!it->recorded) {
		/* A report that only records (Audit, or its pod acted on or
		 * waiting for it already) and whose Events were just written
		 * waits, folding the repeats, so a flood costs one series
		 * update per interval. */
		bool acting = !it->no_pod && it->mode == MODE_ENFORCE && it->action != ACTION_NONE;
		bool held = get_pod(a, it->uid) >= 0;
		bool records = it->fe.cls == FAIRQ_RECORD || held;
		/* the action first_pass() would name in its Events */
		const char *label = action_label(it, acting && held);
		int64_t until = records ? fold_until(a, it, label, ticker_now_ms()) : 0;

		if (until > 0)
			put_off(a, it, epoch, until, true);
		else
			first_pass(a, it, epoch);
	} else if (it->events_only)
		retry_events(a, it, epoch);
	else
		act(a, it, epoch);
}

static void *actions_main(void *arg)
{
	struct actions *a = arg;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		int64_t now = ticker_now_ms();
		struct item *it = NULL;
		struct fairq_entry *e;
		uint64_t epoch;

		if (a->later && a->later->due_ms <= now) {
			it = a->later;
			a->later = it->next;
			it->next = NULL;
			a->nlater--;
			if (it->parked) {
				/* Its turn comes in the fair queue, where reports
				 * go on folding into it. */
				it->parked = false;
				fairq_requeue(a->fq, &it->fe);
				continue;
			}
			fairq_unhold(a->fq, &it->fe);
		} else if ((e = fairq_pop(a->fq))) {
			it = smap_entry(e, struct item, fe);
			unindex(a, it);
		}
		metric_set(a->m_pending, (double)fairq_len(a->fq));
		if (!it) {
			struct timespec ts;
			int64_t d = a->later ? a->later->due_ms - now : 1000;

			ticker_deadline(d, &ts);
			pthread_cond_timedwait(&a->cond, &a->mu, &ts);
			continue;
		}
		epoch = a->epoch;
		pthread_mutex_unlock(&a->mu);
		process(a, it, epoch);
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* ---- the API ---------------------------------------------------------------------- */

/* Counts a refused report; logs the bound it met at most every
 * REFUSAL_LOG_MS, with how many were refused since. */
static void refused(struct actions *a, const struct item *it, enum fairq_refusal why)
{
	char limit[32], n[24];
	uint64_t since = 0;
	int64_t now = ticker_now_ms();
	bool say = false;

	count_action(a, "Record", "dropped");
	metric_inc(metric_vec_get1(a->m_refused, fairq_refusal_name(why)));
	pthread_mutex_lock(&a->mu);
	a->refused++;
	if (!a->refused_log_ms || now - a->refused_log_ms >= REFUSAL_LOG_MS) {
		say = true;
		since = a->refused - a->refused_logged;
		a->refused_logged = a->refused;
		a->refused_log_ms = now;
	}
	pthread_mutex_unlock(&a->mu);
	if (!say)
		return;
	switch (why) {
	case FAIRQ_NS_ENTRIES:
		snprintf(limit, sizeof(limit), "%u", (unsigned)ACTIONS_NS_MAX_PENDING);
		break;
	case FAIRQ_NS_BYTES:
		snprintf(limit, sizeof(limit), "%u", (unsigned)ACTIONS_NS_MAX_PENDING_BYTES);
		break;
	case FAIRQ_ENTRIES:
		snprintf(limit, sizeof(limit), "%u", (unsigned)ACTIONS_MAX_PENDING);
		break;
	default:
		snprintf(limit, sizeof(limit), "%u", (unsigned)ACTIONS_MAX_PENDING_BYTES);
		break;
	}
	snprintf(n, sizeof(n), "%llu", (unsigned long long)since);
	pglog(PGLOG_WARN, "drift report refused: the action queue is at a bound", "namespace",
	      it->ns, "pod", it->pod, "reason", it->reasons, "bound", fairq_refusal_name(why),
	      "limit", limit, "refused_since_last_log", n, NULL);
}

int actions_submit(struct actions *a, const struct drift_report *r)
{
	struct item *it;
	struct smap_node *n;
	enum fairq_refusal why = FAIRQ_OK;
	int e;

	if (!r->namespace || !*r->namespace || !r->pod || !*r->pod || !r->profile ||
	    !*r->profile || !r->ngroups || !r->groups)
		return -EINVAL;
	pthread_mutex_lock(&a->mu);
	if (a->stop) {
		pthread_mutex_unlock(&a->mu);
		return -ESHUTDOWN;
	}
	pthread_mutex_unlock(&a->mu);
	/* Copy outside the lock: submitters never wait on each other long. */
	it = item_from_report(r);
	if (!it)
		return -ENOMEM;
	pthread_mutex_lock(&a->mu);
	if (a->stop) {
		pthread_mutex_unlock(&a->mu);
		item_free(it);
		return -ESHUTDOWN;
	}
	n = smap_get(&a->pending, it->key);
	if (n) {
		fold(a, smap_entry(n, struct item, knode), it);
		pthread_mutex_unlock(&a->mu);
		item_free(it);
		return 0;
	}
	e = fairq_push(a->fq, it->ns, &it->fe, drop_displaced, a, NULL, &why);
	if (e < 0) {
		pthread_mutex_unlock(&a->mu);
		if (e == -ENOBUFS)
			refused(a, it, why);
		item_free(it);
		return e;
	}
	if (smap_put(&a->pending, &it->knode) == 0)
		it->indexed = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

int actions_new(const struct actions_config *cfg, struct actions **ret)
{
	static const char *const action_labels[] = { "action", "result", NULL };
	static const char *const finding_labels[] = { "reason", "mode", NULL };
	static const char *const bound_labels[] = { "bound", NULL };
	struct actions *a;
	pthread_condattr_t ca;

	if (!cfg->client)
		return -EINVAL;
	a = pg_calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	if (a->cfg.retry_base_ms <= 0)
		a->cfg.retry_base_ms = 5000;
	if (a->cfg.retry_cap_ms <= 0)
		a->cfg.retry_cap_ms = 300000;
	a->identity = pg_strdup(cfg->identity ? cfg->identity : "");
	a->cfg.identity = a->identity;
	a->owners = throttle_backoff_new(cfg->owner_backoff_ms, cfg->owner_backoff_cap_ms, 0);
	a->rec = recorder_new(0, 0);
	{
		struct fairq_limits lim = {
			.ns_max = ACTIONS_NS_MAX_PENDING, .ns_max_bytes = ACTIONS_NS_MAX_PENDING_BYTES,
			.max = ACTIONS_MAX_PENDING, .max_bytes = ACTIONS_MAX_PENDING_BYTES,
			.quantum = FAIR_QUANTUM,
		};

		a->fq = fairq_new(&lim);
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	throttle_bucket_init(&a->bucket, cfg->max_per_minute, ticker_now_ms());
	if (cfg->metrics) {
		a->m_actions = metrics_counter(cfg->metrics, "profileguard_actions_total",
			"Actions on drifted pods, by action (Delete, Evict, Record) and result.",
			action_labels);
		a->m_findings = metrics_counter(cfg->metrics, "profileguard_drift_findings_total",
			"Drift findings on running pods, by reason and profile mode.",
			finding_labels);
		a->m_refused = metrics_counter(cfg->metrics,
			"profileguard_action_queue_refused_total",
			"Drift reports refused by a bound of the action queue (per-namespace or "
			"total, entries or bytes): the namespace that floods loses its own.",
			bound_labels);
		a->m_folded = metric_vec_get(metrics_counter(cfg->metrics,
			"profileguard_action_reports_folded_total",
			"Drift reports folded into one of the same pod, profile and reason that "
			"waited already (its Event counts them).", NULL), NULL);
		a->m_pending = metric_vec_get(metrics_gauge(cfg->metrics,
			"profileguard_action_queue_pending",
			"Drift reports and actions waiting for the actions worker.", NULL), NULL);
	}
	if (!a->identity || !a->owners || !a->rec || !a->fq) {
		actions_free(a);
		return -ENOMEM;
	}
	*ret = a;
	return 0;
}

int actions_start(struct actions *a)
{
	int r;

	if (a->running)
		return 0;
	r = pthread_create(&a->thread, NULL, actions_main, a);
	if (r != 0)
		return -r;
	a->running = true;
	return 0;
}

static void free_pod(void *ud, struct smap_node *n)
{
	pg_free(smap_entry(n, struct podmem, node));
}

static void drop_queued(void *ud, struct fairq_entry *e)
{
	struct actions *a = ud;
	struct item *it = smap_entry(e, struct item, fe);

	unindex(a, it);
	item_free(it);
}

/* Drops every waiting report and put-off item.  Lock held. */
static void drop_all_locked(struct actions *a)
{
	struct fairq_entry *e;

	while (a->later) {
		struct item *next = a->later->next;

		unindex(a, a->later);
		fairq_unhold(a->fq, &a->later->fe);
		item_free(a->later);
		a->later = next;
	}
	a->nlater = 0;
	while (a->fq && (e = fairq_pop(a->fq)))
		drop_queued(a, e);
	smap_clear(&a->pending, NULL, NULL);
}

void actions_reset(struct actions *a)
{
	pthread_mutex_lock(&a->mu);
	a->epoch++;
	drop_all_locked(a);
	smap_clear(&a->pods, free_pod, NULL);
	throttle_backoff_clear(a->owners);
	recorder_clear(a->rec);
	throttle_bucket_init(&a->bucket, a->cfg.max_per_minute, ticker_now_ms());
	pthread_mutex_unlock(&a->mu);
}

void actions_forget_pod(struct actions *a, const char *uid)
{
	struct smap_node *n;

	if (!uid || !*uid)
		return;
	pthread_mutex_lock(&a->mu);
	n = smap_get(&a->pods, uid);
	/* A pending action keeps its entry: it learns of the pod's end
	 * from the cache when it runs. */
	if (n && smap_entry(n, struct podmem, node)->state == PM_ACTED) {
		smap_del(&a->pods, uid);
		pg_free(smap_entry(n, struct podmem, node));
	}
	pthread_mutex_unlock(&a->mu);
}

size_t actions_pending(struct actions *a)
{
	size_t n;

	pthread_mutex_lock(&a->mu);
	n = a->fq ? fairq_len(a->fq) : 0;
	pthread_mutex_unlock(&a->mu);
	return n;
}

void actions_stop(struct actions *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mu);
	if (a->running) {
		pthread_join(a->thread, NULL);
		a->running = false;
	}
}

struct actions *actions_free(struct actions *a)
{
	if (!a)
		return NULL;
	actions_stop(a);
	drop_all_locked(a);
	a->fq = fairq_free(a->fq, NULL, NULL);
	smap_clear(&a->pods, free_pod, NULL);
	throttle_backoff_free(a->owners);
	recorder_free(a->rec);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cond);
	pg_free(a->identity);
	pg_free(a);
	return NULL;
}
