/* actions.c - findings become Events, status counts and, in Enforce mode,
 * pod deletions or evictions.  Submitters only queue; one worker thread
 * makes every API call, in order, so the throttles see one stream.
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
#include "ctl.h"
#include "kube_api.h"
#include "kube_retry.h"
#include "kube_util.h"
#include "metrics.h"
#include "pglog.h"
#include "strutil.h"
#include "xalloc.h"

#define NOTE_KEEP 4096
/* A finding Event that cannot be written is retried with the action
 * backoff (5 s doubling to 5 min): 12 tries cover about half an hour of
 * API trouble before it is given up, logged and counted. */
#define EVENT_MAX_ATTEMPTS 12
#define REPORTING_CONTROLLER "profileguard.io/controller"

struct agroup {
	enum reason reason;
	char *note;             /* the evidence, joined */
	char *first;            /* the first message, for lastViolation */
};

struct item {
	struct item *next;
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
	struct item *new_head, *new_tail;
	struct item *later;             /* sorted by due_ms */
	size_t nnew, nlater;
	struct smap pods;               /* uid -> podmem */
	struct owner_backoff *owners;
	struct bucket bucket;
	struct recorder *rec;

	struct metric_vec *m_actions;   /* {action,result} */
	struct metric_vec *m_findings;  /* {reason,mode} */
};

enum rec_result { REC_NEW, REC_FOLDED, REC_ALREADY, REC_FAILED };

/* ---- reports ---------------------------------------------------------------------- */

void drift_report_fill(struct drift_report *r, const struct pod *pod,
		       const struct profile *prof)
{
	memset(r, 0, sizeof(*r));
	r->namespace = pod->namespace;
	r->pod = pod->name;
	r->uid = pod->uid;
	r->node = pod->node_name;
	r->owner_kind = pod->owner_kind;
	r->owner_name = pod->owner_name;
	r->owner_uid = pod->owner_uid;
	r->profile = prof->name;
	r->profile_uid = prof->uid;
	r->mode = prof->mode;
	r->action = prof->response.action;
	r->grace_period = prof->response.grace_period;
}

int actions_submit_findings(struct actions *a, const struct pod *pod, const struct findings *f)
{
	int first_err = 0;

	for (size_t i = 0; i < f->n; i++) {
		const struct profile *prof = f->v[i].profile;
		const char *ev[DRIFT_MAX_GROUPS][DRIFT_MAX_EVIDENCE];
		struct drift_group g[DRIFT_MAX_GROUPS];
		struct drift_report r;
		size_t ng = 0;
		bool seen = false;
		int e;

		/* One report per profile, at its first finding. */
		for (size_t k = 0; k < i && !seen; k++)
			seen = f->v[k].profile == prof;
		if (seen)
			continue;
		for (size_t k = i; k < f->n; k++) {
			size_t j;

			if (f->v[k].profile != prof)
				continue;
			for (j = 0; j < ng && g[j].reason != f->v[k].reason; j++)
				;
			if (j == ng) {
				if (ng == DRIFT_MAX_GROUPS)
					continue;
				g[ng].reason = f->v[k].reason;
				g[ng].evidence = ev[ng];
				g[ng].nevidence = 0;
				ng++;
			}
			if (g[j].nevidence < DRIFT_MAX_EVIDENCE)
				ev[j][g[j].nevidence++] = f->v[k].message;
		}
		drift_report_fill(&r, pod, prof);
		r.evidence = f->v[i].evidence;
		r.groups = g;
		r.ngroups = ng;
		e = actions_submit(a, &r);
		if (e < 0 && !first_err)
			first_err = e;
	}
	return first_err;
}

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

/* Joins @n messages with "; " into the arena, at most NOTE_KEEP bytes. */
static char *join(struct arena *ar, const char *const *v, size_t n, bool *oom)
{
	char *s = status_join_messages(v, n, NOTE_KEEP), *r;

	if (!s) {
		*oom = true;
		return NULL;
	}
	r = adup(ar, s, oom);
	pg_free(s);
	return r;
}

static struct item *item_from_report(const struct drift_report *r)
{
	struct arena *ar = arena_new(2048);
	struct buf reasons = BUF_INIT(1024);
	struct item *it;
	bool oom = false;

	if (!ar)
		return NULL;
	it = arena_alloc(ar, sizeof(*it));
	if (!it) {
		arena_free(ar);
		return NULL;
	}
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

		clock_gettime(CLOCK_REALTIME, &ts);
		it->observed = ts.tv_sec;
	}
	for (size_t i = 0; i < r->ngroups && it->ng < DRIFT_MAX_GROUPS; i++) {
		const struct drift_group *g = &r->groups[i];
		size_t ne = g->nevidence < DRIFT_MAX_EVIDENCE ? g->nevidence : DRIFT_MAX_EVIDENCE;
		struct agroup *ag = &it->g[it->ng++];

		ag->reason = g->reason;
		ag->note = join(ar, g->evidence, ne, &oom);
		ag->first = adup(ar, ne ? g->evidence[0] : "", &oom);
		if (i && buf_addc(&reasons, ',') < 0)
			oom = true;
		if (buf_adds(&reasons, reason_name(g->reason)) < 0)
			oom = true;
	}
	it->reasons = adup(ar, buf_str(&reasons), &oom);
	buf_free(&reasons);
	if (oom) {
		arena_free(ar);
		return NULL;
	}
	return it;
}

static void item_free(struct item *it)
{
	if (it)
		arena_free(it->arena);
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

/* The Event exists though this term did not write it: tell our own
 * create retried after a lost answer, an observation already on record
 * (same note: a restart or a new leader re-judging), and a repeat. */
static enum rec_result existing_event(struct actions *a, const struct item *it, const char *name,
				      const char *note, const char *sent_time)
{
	struct kube_error err = { 0 };
	json_t *ev = NULL;
	const char *t, *n;
	int32_t count;
	int r;

	r = kube_get(a->cfg.client, &kube_res_events, it->ns, name, &ev, &err);
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
		recorder_store(a->rec, name, count, ctl_now_ms());
		pthread_mutex_unlock(&a->mu);
		return REC_NEW;
	}
	if (n && strcmp(n, note) == 0) {
		json_decref(ev);
		pthread_mutex_lock(&a->mu);
		recorder_store(a->rec, name, count, ctl_now_ms());
		pthread_mutex_unlock(&a->mu);
		return REC_ALREADY;
	}
	json_decref(ev);
	r = kube_event_series_update(a->cfg.client, it->ns, name, count + 1, NULL, &err);
	if (r < 0) {
		pglog(PGLOG_WARN, "event series not updated", "namespace", it->ns, "event", name,
		      "error", err.message[0] ? err.message : strerror(-r), NULL);
		return REC_FAILED;
	}
	pthread_mutex_lock(&a->mu);
	recorder_store(a->rec, name, count + 1, ctl_now_ms());
	pthread_mutex_unlock(&a->mu);
	return REC_FOLDED;
}

/* Writes (or folds into a series) the Event for @reason on the item's pod,
 * related to its profile. */
static enum rec_result record_event(struct actions *a, const struct item *it, const char *reason,
				    const char *action, const char *prefix, const char *text)
{
	char name[RECORDER_NAME_MAX], when[KUBE_TIME_MAX];
	struct kube_error err = { 0 };
	struct buf note = BUF_INIT(NOTE_KEEP + 256);
	struct timespec now;
	struct kube_event ev = { 0 };
	int32_t count;
	int r;
	enum rec_result res = REC_FAILED;

	recorder_event_name(name, it->pod, it->uid, reason,
			    *it->profile_uid ? it->profile_uid : it->profile);
	if (buf_adds(&note, prefix ? prefix : "") < 0 || buf_adds(&note, text ? text : "") < 0)
		buf_truncate(&note, note.len);
	buf_truncate(&note, recorder_note_len(buf_str(&note)));

	pthread_mutex_lock(&a->mu);
	count = recorder_count(a->rec, name, ctl_now_ms());
	pthread_mutex_unlock(&a->mu);
	if (count > 0) {
		r = kube_event_series_update(a->cfg.client, it->ns, name, count + 1, NULL, &err);
		if (r == 0) {
			pthread_mutex_lock(&a->mu);
			recorder_store(a->rec, name, count + 1, ctl_now_ms());
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
	clock_gettime(CLOCK_REALTIME, &now);
	kube_time_format(&now, 1, when);
	ev.name = name;
	ev.type = "Warning";
	ev.reason = reason;
	ev.action = action;
	ev.note = buf_str(&note);
	ev.reporting_controller = REPORTING_CONTROLLER;
	ev.reporting_instance = a->identity;
	ev.regarding = (struct kube_object_ref){ "v1", "Pod", it->ns, it->pod,
						 *it->uid ? it->uid : NULL };
	ev.related = (struct kube_object_ref){ "profileguard.io/v1alpha1", "WorkloadProfile",
					       it->ns, it->profile,
					       *it->profile_uid ? it->profile_uid : NULL };
	ev.event_time = now;
	memset(&err, 0, sizeof(err));
	r = kube_event_create(a->cfg.client, it->ns, &ev, NULL, &err);
	if (r == 0) {
		pthread_mutex_lock(&a->mu);
		recorder_store(a->rec, name, 1, ctl_now_ms());
		pthread_mutex_unlock(&a->mu);
		res = REC_NEW;
	} else if (r == -EEXIST) {
		res = existing_event(a, it, name, buf_str(&note), when);
	} else {
		pglog(PGLOG_WARN, "event not written", "namespace", it->ns, "event", name,
		      "reason", reason, "error", err.message[0] ? err.message : strerror(-r), NULL);
	}
out:
	buf_free(&note);
	return res;
}

/* ---- the queue --------------------------------------------------------------------- */

/* Puts @it back, due at @due_ms, unless a reset voided it.  Takes it. */
static void defer(struct actions *a, struct item *it, uint64_t epoch, int64_t due_ms)
{
	struct item **pp;

	pthread_mutex_lock(&a->mu);
	if (a->stop || epoch != a->epoch) {
		pthread_mutex_unlock(&a->mu);
		item_free(it);
		return;
	}
	it->due_ms = due_ms;
	for (pp = &a->later; *pp && (*pp)->due_ms <= due_ms; pp = &(*pp)->next)
		;
	it->next = *pp;
	*pp = it;
	a->nlater++;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
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

static enum pod_liveness check_pod(struct actions *a, const struct item *it)
{
	if (!a->cfg.hooks.pod_check)
		return POD_LIVE;
	return a->cfg.hooks.pod_check(a->cfg.hooks.ud, it->ns, it->pod, it->uid, it->evidence);
}

static const char *liveness_result(enum pod_liveness l)
{
	switch (l) {
	case POD_GONE:
		return "gone";
	case POD_REPLACED:
		return "replaced";
	case POD_TERMINATING:
		return "terminating";
	case POD_EXEMPT:
		return "skipped";
	case POD_FINISHED:
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
	defer(a, it, epoch, ctl_now_ms() + retry_delay(a, it->event_attempts));
}

static void retry_events(struct actions *a, struct item *it, uint64_t epoch)
{
	it->event_attempts++;
	for (size_t i = 0; i < it->ng; i++) {
		if (!(it->unwritten & (1u << i)))
			continue;
		if (record_event(a, it, reason_name(it->g[i].reason), it->ev_action, it->ev_prefix,
				 it->g[i].note) != REC_FAILED)
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
	struct kube_delete_opts o = { .uid = it->uid, .grace_period = it->grace };
	struct kube_error err = { 0 };
	enum pod_liveness lv;
	int64_t now = ctl_now_ms(), wait;
	unsigned n = 0;
	int r;

	if (!may_act(a)) {
		count_action(a, label, "not_leader");
		set_pod(a, it->uid, -1);
		item_free(it);
		return;
	}
	lv = check_pod(a, it);
	if (lv != POD_LIVE) {
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
	wait = owner_backoff_wait(a->owners, it->owner_uid, now, &n);
	pthread_mutex_unlock(&a->mu);
	if (wait > 0) {
		snprintf(detail, sizeof(detail),
			 "%s: its pods drifted and were acted on %u time%s lately; the next %s "
			 "waits %" PRId64 " s (exponential backoff per owner)", owner_desc, n,
			 n == 1 ? "" : "s", label, (wait + 999) / 1000);
		if (!it->said_backoff) {
			record_event(a, it, "DriftRepeated", label, NULL, detail);
			it->said_backoff = true;
		}
		count_action(a, label, "backoff");
		log_action(it, PGLOG_INFO, label, "backoff", detail);
		defer(a, it, epoch, now + wait);
		return;
	}
	pthread_mutex_lock(&a->mu);
	wait = bucket_take(&a->bucket, now);
	pthread_mutex_unlock(&a->mu);
	if (wait > 0) {
		/* A little spread, so put-off actions do not all ask at once. */
		int64_t d = wait + (int64_t)(kube_rand() % 250);

		snprintf(detail, sizeof(detail),
			 "--max-actions-per-minute (%g) reached: the pod is kept and the %s is "
			 "retried in %" PRId64 " s", a->cfg.max_per_minute, label, (d + 999) / 1000);
		if (!it->said_throttle) {
			record_event(a, it, "ActionThrottled", label, NULL, detail);
			it->said_throttle = true;
		}
		count_action(a, label, "throttled");
		log_action(it, PGLOG_INFO, label, "throttled", detail);
		defer(a, it, epoch, now + d);
		return;
	}
	if (!may_act(a)) {
		pthread_mutex_lock(&a->mu);
		bucket_refund(&a->bucket);
		pthread_mutex_unlock(&a->mu);
		count_action(a, label, "not_leader");
		set_pod(a, it->uid, -1);
		item_free(it);
		return;
	}
	if (it->action == ACTION_EVICT)
		r = kube_pod_evict(a->cfg.client, it->ns, it->pod, &o, &err);
	else
		r = kube_pod_delete(a->cfg.client, it->ns, it->pod, &o, &err);
	switch (r) {
	case 0:
		result = it->action == ACTION_EVICT ? "evicted" : "deleted";
		set_pod(a, it->uid, PM_ACTED);
		pthread_mutex_lock(&a->mu);
		owner_backoff_record(a->owners, it->owner_uid, ctl_now_ms());
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
	bucket_refund(&a->bucket);
	pthread_mutex_unlock(&a->mu);
	wait = retry_delay(a, it->attempts++);
	if (r == -EAGAIN) {
		snprintf(detail, sizeof(detail),
			 "eviction refused by a PodDisruptionBudget: the pod is kept and the "
			 "eviction retried in %" PRId64 " s (%s)", (wait + 999) / 1000, err.message);
		record_event(a, it, "EvictionBlocked", label, NULL, detail);
		count_action(a, label, "blocked");
		log_action(it, PGLOG_WARN, label, "blocked", err.message);
	} else {
		snprintf(detail, sizeof(detail), "%s (retried in %" PRId64 " s)",
			 err.message[0] ? err.message : strerror(-r), (wait + 999) / 1000);
		count_action(a, label, "error");
		log_action(it, PGLOG_WARN, label, "error", detail);
	}
	defer(a, it, epoch, ctl_now_ms() + wait);
}

/* The first pass: Events and violations, then the action if any. */
static void first_pass(struct actions *a, struct item *it, uint64_t epoch)
{
	bool acting = !it->no_pod && it->mode == MODE_ENFORCE && it->action != ACTION_NONE;
	enum pod_liveness lv = it->no_pod ? POD_GONE : check_pod(a, it);
	const char *result = "recorded", *prefix = NULL;
	size_t fresh = 0;
	int pm;

	if (lv == POD_EXEMPT) {
		count_action(a, "Record", "skipped");
		item_free(it);
		return;
	}
	for (size_t i = 0; i < it->ng; i++)
		metric_inc(metric_vec_get2(a->m_findings, reason_name(it->g[i].reason),
					   mode_name(it->mode)));
	if (acting && lv != POD_LIVE) {
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
		enum rec_result rr = record_event(a, it, reason_name(g->reason), it->ev_action,
						  prefix, g->note);

		if (rr == REC_FAILED)
			it->unwritten |= 1u << i;
		if (rr != REC_ALREADY)
			fresh++;
		if (rr != REC_ALREADY && a->cfg.hooks.on_violation) {
			struct violation v = {
				.namespace = it->ns, .profile = it->profile,
				.profile_uid = it->profile_uid, .pod = it->pod,
				.reason = reason_name(g->reason), .message = g->first,
				.time = it->observed,
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
	if (!it->recorded)
		first_pass(a, it, epoch);
	else if (it->events_only)
		retry_events(a, it, epoch);
	else
		act(a, it, epoch);
}

static void *actions_main(void *arg)
{
	struct actions *a = arg;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		int64_t now = ctl_now_ms();
		struct item *it = NULL;
		uint64_t epoch;

		if (a->later && a->later->due_ms <= now) {
			it = a->later;
			a->later = it->next;
			a->nlater--;
		} else if (a->new_head) {
			it = a->new_head;
			a->new_head = it->next;
			if (!a->new_head)
				a->new_tail = NULL;
			a->nnew--;
		}
		if (!it) {
			struct timespec ts;
			int64_t d = a->later ? a->later->due_ms - now : 1000;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (time_t)(d / 1000);
			ts.tv_nsec += (long)(d % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&a->cond, &a->mu, &ts);
			continue;
		}
		it->next = NULL;
		epoch = a->epoch;
		pthread_mutex_unlock(&a->mu);
		process(a, it, epoch);
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* ---- the API ---------------------------------------------------------------------- */

int actions_submit(struct actions *a, const struct drift_report *r)
{
	struct item *it;

	if (!r->namespace || !*r->namespace || !r->pod || !*r->pod || !r->profile ||
	    !*r->profile || !r->ngroups || !r->groups)
		return -EINVAL;
	pthread_mutex_lock(&a->mu);
	if (a->stop) {
		pthread_mutex_unlock(&a->mu);
		return -ESHUTDOWN;
	}
	if (a->nnew + a->nlater >= ACTIONS_MAX_PENDING) {
		pthread_mutex_unlock(&a->mu);
		count_action(a, "Record", "dropped");
		return -ENOBUFS;
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
	if (a->new_tail)
		a->new_tail->next = it;
	else
		a->new_head = it;
	a->new_tail = it;
	a->nnew++;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

int actions_new(const struct actions_config *cfg, struct actions **ret)
{
	static const char *const action_labels[] = { "action", "result", NULL };
	static const char *const finding_labels[] = { "reason", "mode", NULL };
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
	a->owners = owner_backoff_new(cfg->owner_backoff_ms, cfg->owner_backoff_cap_ms, 0);
	a->rec = recorder_new(0, 0);
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	bucket_init(&a->bucket, cfg->max_per_minute, ctl_now_ms());
	if (cfg->metrics) {
		a->m_actions = metrics_counter(cfg->metrics, "profileguard_actions_total",
			"Actions on drifted pods, by action (Delete, Evict, Record) and result.",
			action_labels);
		a->m_findings = metrics_counter(cfg->metrics, "profileguard_drift_findings_total",
			"Drift findings on running pods, by reason and profile mode.",
			finding_labels);
	}
	if (!a->identity || !a->owners || !a->rec) {
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

static void drop_items(struct item *it)
{
	while (it) {
		struct item *next = it->next;

		item_free(it);
		it = next;
	}
}

void actions_reset(struct actions *a)
{
	pthread_mutex_lock(&a->mu);
	a->epoch++;
	drop_items(a->new_head);
	drop_items(a->later);
	a->new_head = a->new_tail = a->later = NULL;
	a->nnew = a->nlater = 0;
	smap_clear(&a->pods, free_pod, NULL);
	owner_backoff_clear(a->owners);
	recorder_clear(a->rec);
	bucket_init(&a->bucket, a->cfg.max_per_minute, ctl_now_ms());
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
	n = a->nnew + a->nlater;
	pthread_mutex_unlock(&a->mu);
	return n;
}

void actions_stop(struct actions *a)
{
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
	drop_items(a->new_head);
	drop_items(a->later);
	smap_clear(&a->pods, free_pod, NULL);
	owner_backoff_free(a->owners);
	recorder_free(a->rec);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cond);
	pg_free(a->identity);
	pg_free(a);
	return NULL;
}
