/* webhook.c - the admission webhook's work on the HTTP server
 * (http_server.h): an AdmissionReview parsed on the connection's thread,
 * judged against the profile source (in place when bounded small, else on
 * the server's pool, namespaces in turn), answered, logged and counted. */
#include "webhook.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admission.h"
#include "arena.h"
#include "buf.h"
#include "http_server.h"
#include "metrics.h"
#include "pglog.h"
#include "source.h"
#include "ticker.h"
#include "xalloc.h"

enum { WEBHOOK_PATH_PODS, WEBHOOK_PATH_PROFILES };

static const char *const paths[] = { "/validate/pods", "/validate/workloadprofiles" };

/* A review is judged in place, without the hand-off to the pool, when a
 * bound on its judging work is this small: its bytes times the bytes of
 * the profiles of its namespace (every pattern compared with every string
 * of the pod costs at most that, even with a quadratic matcher; a linear
 * one a fraction of it).  2^25 pairs is some milliseconds at the very
 * worst, and takes the usual review (4-10 KB against a few KB of
 * profiles) in place: the hand-off costs more than judging it. */
#define INLINE_WORK_MAX (1ull << 25)
#define INLINE_BODY_MAX (64u * 1024)

/* Kinds the admission metric distinguishes; anything else is "other". */
static const char *const kind_labels[] = {
	"Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob",
	"ReplicationController", "WorkloadProfile", "other",
};
#define NKINDS (sizeof(kind_labels) / sizeof(kind_labels[0]))

struct webhook {
	struct profile_source *source;
	struct metric_vec *m_requests;          /* {operation,kind,allowed} */
	struct metric_vec *m_skipped;           /* {reason} */
	struct metric *m_duration;
	_Atomic(struct metric *) req_slots[ADM_OP__COUNT][NKINDS][2];
};

struct webhook_job {
	struct admission_review rv;
	unsigned path;
};

static void count_admission(struct webhook *w, const struct admission_review *rv,
			    const struct admission_response *r)
{
	static const char *const skip_names[] = {
		[ADM_SKIP_OPERATION] = "operation", [ADM_SKIP_NAMESPACE] = "namespace",
		[ADM_SKIP_KIND] = "kind", [ADM_SKIP_TERMINATING] = "terminating",
	};
	const char *vals[3];
	size_t k;

	for (k = 0; k < NKINDS - 1 && strcmp(kind_labels[k], r->kind) != 0; k++)
		;
	vals[0] = admission_op_name(rv->op);
	vals[1] = kind_labels[k];
	vals[2] = r->allowed ? "true" : "false";
	metric_inc(metric_vec_cached(&w->req_slots[rv->op][k][r->allowed], w->m_requests, vals));
	if (r->verdict != ADM_JUDGED && r->verdict != ADM_BAD_OBJECT && w->m_skipped)
		metric_inc(metric_vec_get1(w->m_skipped, skip_names[r->verdict]));
}

struct ns_check {
	struct profile_source *src;
	struct profile_snapshot *snap;
};

static bool ns_ignored(void *ud, const char *ns)
{
	struct ns_check *n = ud;

	return source_ns_ignored(n->src, n->snap, ns);
}

static bool token_secret(void *ud, const char *ns, const char *name)
{
	struct ns_check *n = ud;

	return source_is_token_secret(n->src, n->snap, ns, name);
}

static int identity_risk(void *ud, const char *ns, const char *name, const struct risk_result **ret)
{
	struct ns_check *n = ud;

	return source_identity_risk(n->src, ns, name, ret);
}

static void log_decision( const struct admission_review *rv,
			 const struct admission_response *r)
{
	char nwarn[24];

	if (r->allowed && r->nwarnings == 0) {
		if (pglog_enabled(PGLOG_DEBUG))
			pglog(PGLOG_DEBUG, "admission allowed", "uid", rv->uid, "operation",
			      admission_op_name(rv->op), "kind", r->kind, "namespace", r->obj_namespace,
			      "name", r->obj_name, NULL);
		return;
	}
	snprintf(nwarn, sizeof(nwarn), "%zu", r->warnings_total);
	if (r->allowed) {
		pglog(PGLOG_INFO, "admission allowed with warnings", "uid", rv->uid, "operation",
		      admission_op_name(rv->op), "kind", r->kind, "namespace", r->obj_namespace, "name",
		      r->obj_name, "user", rv->username, "dry_run", rv->dry_run ? "true" : "false",
		      "warnings", nwarn, NULL);
		return;
	}
	pglog(PGLOG_INFO, "admission denied", "uid", rv->uid, "operation", admission_op_name(rv->op),
	      "kind", r->kind, "namespace", r->obj_namespace, "name", r->obj_name, "user",
	      rv->username, "dry_run", rv->dry_run ? "true" : "false", "reasons",
	      buf_str(&r->message), NULL);
}

static const char *object_namespace(const struct jval *obj)
{
	const char *ns = jval_str(jval_get(jval_get(obj, "metadata"), "namespace"));

	return ns && *ns ? ns : NULL;
}

/* The namespace whose profiles judge @rv, as the pod decoder picks it:
 * the object's own, else the request's.  A review sent by anyone but the
 * API server may make them differ. */
static const char *judged_namespace(const struct admission_review *rv)
{
	const char *ns = object_namespace(rv->object);

	if (!ns)
		ns = object_namespace(rv->old_object);
	return ns ? ns : rv->namespace[0] ? rv->namespace : "default";
}

/* Judges @job's review into @out and returns the status, and logs and
 * counts the decision.  On a worker of the server's pool, or in place. */
static unsigned work(void *ud, void *job, int64_t t0_ns, double deadline,
		     struct buf *out)
{
	struct webhook *w = ud;
	struct webhook_job *j = job;
	struct admission_review *rv = &j->rv;
	unsigned code;
	struct admission_response r;
	struct admission_policy pol = { 0 };
	struct ns_check nc = { w->source, NULL };
	double took;
	int e;

	if (ticker_since_s(t0_ns) > deadline) {
		/* The API server has given up on it: judging it now would only
		 * delay the reviews behind it. */
		admission_error_render("not judged within the request's timeout", out);
		return 503;
	}
	admission_response_init(&r);
	if (j->path == WEBHOOK_PATH_PROFILES) {
		e = admission_judge_profile(rv, &r);
	} else {
		nc.snap = source_acquire(w->source);
		if (!nc.snap) {
			admission_response_free(&r);
			admission_error_render("profiles are not loaded yet", out);
			return 503;
		}
		pol.profiles = &nc.snap->profiles;
		pol.ns_ignored = ns_ignored;
		pol.ud = &nc;
		pol.is_token_secret = token_secret;
		pol.identity_risk = identity_risk;
		pol.secret_ud = &nc;
		e = admission_judge_pod(rv, &pol, &r);
		source_release(nc.snap);
	}
	if (e == 0)
		e = admission_response_render(rv, &r, out);
	if (e < 0) {
		pglog(PGLOG_ERROR, "admission failed", "uid", rv->uid, "error", strerror(-e), NULL);
		buf_reset(out);
		code = 500;
		admission_error_render("internal error", out);
	} else {
		log_decision(rv, &r);
		count_admission(w, rv, &r);
		code = 200;
	}
	took = ticker_since_s(t0_ns);
	metric_observe(w->m_duration, took);
	if (took > deadline / 2) {
		char t[32], d[32];

		snprintf(t, sizeof(t), "%.3f", took);
		snprintf(d, sizeof(d), "%.3f", deadline);
		pglog(PGLOG_WARN, "admission close to the API server's deadline", "uid", rv->uid,
		      "seconds", t, "timeout", d, NULL);
	}
	admission_response_free(&r);
	return code;
}

/* Whether @job's judging is bounded small enough (INLINE_WORK_MAX) to be
 * done on the connection's thread: the hand-off to the pool costs more
 * than judging a usual review. */
static uint64_t ns_profile_bytes(const struct profile_set *set, const char *ns)
{
	struct profile *const *first;
	size_t n = profile_set_namespace(set, ns, &first);
	uint64_t bytes = 0;

	for (size_t i = 0; i < n; i++)
		bytes += arena_footprint(first[i]->arena);
	return bytes;
}

static bool cheap(void *ud, void *job, size_t len)
{
	struct webhook *w = ud;
	struct webhook_job *j = job;
	const struct admission_review *rv = &j->rv;
	struct profile_snapshot *snap;
	const char *obj_ns = object_namespace(rv->object), *old_ns = object_namespace(rv->old_object);
	uint64_t bytes;

	if (len > INLINE_BODY_MAX)
		return false;
	if (j->path == WEBHOOK_PATH_PROFILES)
		return true;            /* parsing a profile: linear in its bytes */
	snap = source_acquire(w->source);
	if (!snap)
		return true;            /* answered at once: not loaded yet */
	/* Every namespace the object or its old version may be judged in. */
	bytes = ns_profile_bytes(&snap->profiles, rv->namespace[0] ? rv->namespace : "default");
	if (obj_ns)
		bytes += ns_profile_bytes(&snap->profiles, obj_ns);
	if (old_ns)
		bytes += ns_profile_bytes(&snap->profiles, old_ns);
	source_release(snap);
	return bytes * len <= INLINE_WORK_MAX;
}

static unsigned parse(void *ud, unsigned path, const char *body, size_t len, void **ret_job,
		      struct buf *out)
{
	struct webhook_job *j = pg_calloc(1, sizeof(*j));
	char err[256];
	int e;

	if (!j) {
		admission_error_render("out of memory", out);
		return 500;
	}
	e = admission_review_parse(body, len, &j->rv, err, sizeof(err));
	if (e == -ENOMEM) {
		pg_free(j);
		admission_error_render("out of memory", out);
		return 500;
	}
	if (e < 0) {
		pg_free(j);
		pglog(PGLOG_WARN, "malformed admission review", "path", paths[path], "error", err,
		      NULL);
		admission_error_render(err, out);
		return 400;
	}
	j->path = path;
	*ret_job = j;
	return 0;
}

static const char *key(void *ud, void *job)
{
	return judged_namespace(&((struct webhook_job *)job)->rv);
}

static void job_free(void *ud, void *job)
{
	struct webhook_job *j = job;

	admission_review_free(&j->rv);
	pg_free(j);
}

static bool ready(void *ud, char *why, size_t whysz)
{
	struct webhook *w = ud;

	if (source_ready(w->source))
		return true;
	snprintf(why, whysz, "profiles not loaded");
	return false;
}

int webhook_new(struct profile_source *source, struct metrics *metrics, struct webhook **ret)
{
	static const char *const req_labels[] = { "operation", "kind", "allowed", NULL };
	static const char *const skip_labels[] = { "reason", NULL };
	static const double buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
					  0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
	struct webhook *w = pg_calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->source = source;
	w->m_requests = metrics_counter(metrics, "profileguard_admission_requests_total",
					"Admission reviews answered, by operation, object kind and outcome.",
					req_labels);
	w->m_duration = metric_vec_get(metrics_histogram(metrics,
		"profileguard_admission_duration_seconds",
		"Time from an admission request's headers being read to its response being queued.",
		NULL, buckets, sizeof(buckets) / sizeof(buckets[0])), NULL);
	w->m_skipped = metrics_counter(metrics, "profileguard_admission_skipped_total",
				       "Admission reviews allowed without judgement, by why.", skip_labels);
	*ret = w;
	return 0;
}

void webhook_handler(struct webhook *w, struct http_server_handler *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->paths[WEBHOOK_PATH_PODS] = paths[WEBHOOK_PATH_PODS];
	ret->paths[WEBHOOK_PATH_PROFILES] = paths[WEBHOOK_PATH_PROFILES];
	ret->parse = parse;
	ret->cheap = cheap;
	ret->key = key;
	ret->work = work;
	ret->job_free = job_free;
	ret->ready = ready;
	ret->ud = w;
}

struct webhook *webhook_free(struct webhook *w)
{
	pg_free(w);
	return NULL;
}
