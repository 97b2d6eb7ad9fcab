/* learn.c - building a WorkloadProfile from observations.  Only the
 * workload's own pods count (SPEC §6): those its manifest's name or
 * template would produce, and container IDs or pod UIDs tied to them;
 * everything else is skipped and counted, so another pod's behaviour in
 * the capture never widens the profile.  What counts is collected into
 * sets, then written sorted: executables, file reads and writes, egress
 * (addresses merged into exact CIDRs when whole aligned blocks share a
 * port set), and API calls per resource.  Unless exact, images become
 * their repository and directories with LEARN_FOLD_MIN files seen become
 * one pattern; what learn_danger() names is marked "# review:".  The YAML
 * is written by hand (libyaml's emitter writes no comments), every scalar
 * through yq(). */
#include "learn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "image.h"
#include "pg_config.h"
#include "profile.h"
#include "rfc3339.h"
#include "strutil.h"
#include "xalloc.h"

/* group/resource/subresource strings are built in buffers of this size. */
#define LEARN_MAX_RESOURCE 512

struct strset {
	char **v;
	size_t n, cap;
};

struct dest {
	struct netaddr addr;
	uint16_t port;
};

struct apicall {
	char *resource;         /* canonical: "apps/deployments/scale" */
	char *verb;
	char *name;             /* NULL: a collection call */
};

/* An event that named its pod only by container ID or UID, held until
 * every event has been seen: an event of an own pod may tie it later. */
struct pending {
	struct runtime_event ev;             /* exe and path point to the copies below */
	char *exe, *path;
	char *container_id;             /* without the runtime's "scheme://" */
	char *pod_uid;
};

struct learn {
	struct learn_opts o;
	char *name, *namespace, *mode, *sa;
	struct strset exes, reads, writes, sources;
	struct dest *dests;
	size_t ndests, cap_dests;
	struct apicall *calls;
	size_t ncalls, cap_calls;
	bool seen[5];                   /* per runtime_kind */
	size_t used, skipped;
	size_t other_pods;              /* events of pods the workload would not make */
	size_t untied;                  /* events naming no pod, not tied to an own one */
	size_t too_long;                /* events with a string no profile can hold */
	struct strset own_cids, own_uids;       /* container IDs and UIDs of own pods */
	struct pending *pend;
	size_t npend, cap_pend;
	int64_t first, last;
	/* peak API calls of one pod in one minute */
	char *rate_key;
	int64_t rate_minute;
	uint32_t rate_count, rate_peak;
	const struct pod *pod;
	const struct pod **more;        /* the workload's other objects (--selector) */
	const struct labels *selector;  /* borrowed; NULL: from the pod's labels */
	size_t nmore, cap_more;
	char *pod_origin;
	char error[200];                /* why learn_render() gave -E2BIG */
	bool exact;                     /* --exact: no generalisation */
	/* what the last learn_render() marked for review, and generalised */
	struct learn_review *rev;
	size_t nrev, cap_rev;
	size_t folded_dirs, images_by_repo;
};

static int set_add(struct strset *s, const char *v)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		char **p = pg_realloc(s->v, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = ncap;
	}
	if (!(s->v[s->n] = pg_strdup(v)))
		return -ENOMEM;
	s->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and removes duplicates. */
static void set_finish(struct strset *s)
{
	size_t w = 0;

	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	for (size_t i = 0; i < s->n; i++) {
		if (w && strcmp(s->v[w - 1], s->v[i]) == 0) {
			pg_free(s->v[i]);
			continue;
		}
		s->v[w++] = s->v[i];
	}
	s->n = w;
}

static bool set_has(const struct strset *s, const char *v)
{
	return s->n && bsearch(&v, s->v, s->n, sizeof(*s->v), cmp_str);
}

static void set_free(struct strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		pg_free(s->v[i]);
	pg_free(s->v);
	memset(s, 0, sizeof(*s));
}

static void pending_free(struct pending *p)
{
	pg_free(p->exe);
	pg_free(p->path);
	pg_free(p->container_id);
	pg_free(p->pod_uid);
}

static void reviews_reset(struct learn *l)
{
	for (size_t i = 0; i < l->nrev; i++)
		pg_free(l->rev[i].value);
	l->nrev = 0;
}

size_t learn_reviews(const struct learn *l, const struct learn_review **ret)
{
	*ret = l->rev;
	return l->nrev;
}

static int review_add(struct learn *l, const char *field, const char *value, const char *why)
{
	struct learn_review *r;

	if (l->nrev == l->cap_rev) {
		size_t ncap = l->cap_rev ? l->cap_rev * 2 : 16;
		struct learn_review *v = pg_realloc(l->rev, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->rev = v;
		l->cap_rev = ncap;
	}
	r = &l->rev[l->nrev];
	r->field = field;
	r->why = why;
	if (!(r->value = pg_strdup(value)))
		return -ENOMEM;
	l->nrev++;
	return 0;
}

struct learn *learn_new(const struct learn_opts *o)
{
	struct learn *l = pg_calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->name = pg_strdup(o->name ? o->name : "learned");
	l->namespace = pg_strdup(o->namespace ? o->namespace : "default");
	l->mode = pg_strdup(o->mode ? o->mode : "Audit");
	l->sa = o->service_account ? pg_strdup(o->service_account) : NULL;
	l->selector = o->selector;
	l->exact = o->exact;
	l->first = -1;
	l->last = -1;
	if (!l->name || !l->namespace || !l->mode || (o->service_account && !l->sa))
		return learn_free(l);
	return l;
}

struct learn *learn_free(struct learn *l)
{
	if (!l)
		return NULL;
	set_free(&l->exes);
	set_free(&l->reads);
	set_free(&l->writes);
	set_free(&l->sources);
	set_free(&l->own_cids);
	set_free(&l->own_uids);
	for (size_t i = 0; i < l->npend; i++)
		pending_free(&l->pend[i]);
	pg_free(l->pend);
	pg_free(l->dests);
	for (size_t i = 0; i < l->ncalls; i++) {
		pg_free(l->calls[i].resource);
		pg_free(l->calls[i].verb);
		pg_free(l->calls[i].name);
	}
	pg_free(l->calls);
	pg_free(l->name);
	pg_free(l->namespace);
	pg_free(l->mode);
	pg_free(l->sa);
	pg_free(l->rate_key);
	pg_free(l->pod_origin);
	pg_free(l->more);
	reviews_reset(l);
	pg_free(l->rev);
	pg_free(l);
	return NULL;
}

void learn_set_pod(struct learn *l, const struct pod *pod, const char *origin)
{
	l->pod = pod;
	pg_free(l->pod_origin);
	l->pod_origin = origin ? pg_strdup(origin) : NULL;
}

int learn_add_pod(struct learn *l, const struct pod *pod)
{
	if (l->nmore == l->cap_more) {
		size_t ncap = l->cap_more ? l->cap_more * 2 : 8;
		const struct pod **v = pg_realloc(l->more, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->more = v;
		l->cap_more = ncap;
	}
	l->more[l->nmore++] = pod;
	return 0;
}

int learn_note_source(struct learn *l, const char *what)
{
	return set_add(&l->sources, what);
}

const char *learn_error(const struct learn *l)
{
	return l->error[0] ? l->error : NULL;
}

void learn_counts(const struct learn *l, struct learn_counts *ret)
{
	ret->used = l->used;
	ret->skipped = l->skipped;
	ret->other_pods = l->other_pods;
	ret->untied = l->untied;
	ret->too_long = l->too_long;
}

static const char *identity_sa(const struct learn *l)
{
	if (l->sa)
		return l->sa;
	return l->pod ? pod_service_account(l->pod) : NULL;
}

static int add_call(struct learn *l, const struct telemetry_event *e)
{
	char res[LEARN_MAX_RESOURCE];
	struct apicall *c;

	if (!e->ev.resource || !*e->ev.resource || !e->ev.verb)
		return 0;       /* discovery and /healthz: not profiled */
	runtime_api_resource(e->ev.api_group, e->ev.resource, e->ev.subresource, res, sizeof(res));
	if (l->ncalls == l->cap_calls) {
		size_t ncap = l->cap_calls ? l->cap_calls * 2 : 16;
		struct apicall *p = pg_realloc(l->calls, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->calls = p;
		l->cap_calls = ncap;
	}
	c = &l->calls[l->ncalls];
	c->resource = pg_strdup(res);
	c->verb = pg_strdup(e->ev.verb);
	c->name = e->ev.object_name ? pg_strdup(e->ev.object_name) : NULL;
	if (!c->resource || !c->verb || (e->ev.object_name && !c->name)) {
		pg_free(c->resource);
		pg_free(c->verb);
		pg_free(c->name);
		return -ENOMEM;
	}
	l->ncalls++;
	return 0;
}

/* Peak calls per minute of one pod (or identity). */
static int count_rate(struct learn *l, const struct telemetry_event *e)
{
	const char *key = e->pod_uid ? e->pod_uid : e->pod_name ? e->pod_name : e->ev.username;
	int64_t minute = e->ev.time / 60;

	if (!key)
		key = "";
	if (!l->rate_key || strcmp(l->rate_key, key) != 0 || l->rate_minute != minute) {
		pg_free(l->rate_key);
		l->rate_key = pg_strdup(key);
		if (!l->rate_key)
			return -ENOMEM;
		l->rate_minute = minute;
		l->rate_count = 0;
	}
	if (++l->rate_count > l->rate_peak)
		l->rate_peak = l->rate_count;
	return 0;
}

static bool fits(const char *s)
{
	return !s || strlen(s) <= PROFILE_MAX_STRING;
}

/* Whether a profile can hold what @e would add: the validator refuses
 * strings past PROFILE_MAX_STRING, and a profile it refuses is no use. */
static bool representable(const struct runtime_event *ev)
{
	switch (ev->kind) {
	case RUNTIME_EXEC:
		return fits(ev->exe);
	case RUNTIME_OPEN:
		return fits(ev->path);
	case RUNTIME_API:
		/* group/resource/subresource is matched in a 512-byte buffer
		 * (runtime_api_resource); real ones are far shorter. */
		return fits(ev->verb) && fits(ev->object_name) &&
		       strlen(ev->resource ? ev->resource : "") + strlen(ev->api_group ? ev->api_group : "") +
		       strlen(ev->subresource ? ev->subresource : "") + 2 < LEARN_MAX_RESOURCE;
	default:
		return true;
	}
}

/* ---- whose events count ------------------------------------------------------- */

/* The alphabet of the random parts of generated names (the API server's
 * generateName suffix, a pod-template-hash): no vowels, no 0, 1 or 3. */
static const char gen_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";

static bool all_in(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

/* Whether @pod is a name the API server generates from the prefix
 * "@base-" or, with @mid_max, "@base-<mid>-" (<mid>: 1..@mid_max bytes of
 * @mid_set, a pod-template-hash or a CronJob's schedule time): the prefix,
 * cut to 58 bytes as generateName cuts it, then 5 random bytes. */
static bool generated_name(const char *pod, const char *base, const char *mid_set, size_t mid_max)
{
	size_t np = strlen(pod), nb = strlen(base), nq;

	if (np < 6 || np > 63 || !all_in(pod + np - 5, 5, gen_alphabet))
		return false;
	nq = np - 5;
	for (size_t h = mid_max ? 1 : 0; h <= mid_max; h++) {
		size_t full = nb + 1 + (h ? h + 1 : 0);
		bool ok = nq == (full > 58 ? 58 : full);

		for (size_t i = 0; i < nq && ok; i++) {
			if (i < nb)
				ok = pod[i] == base[i];
			else if (i == nb || i == nb + 1 + h)
				ok = pod[i] == '-';
			else
				ok = all_in(pod + i, 1, mid_set);
		}
		if (ok)
			return true;
	}
	return false;
}

/* A container ID as compared: without "containerd://" and the like. */
static const char *cid_bare(const char *id)
{
	const char *s = strstr(id, "://");

	return s ? s + 3 : id;
}

/* Whether the object @p would make the pod named @name (in the learned
 * namespace): what its controller names its pods. */
static bool makes_pod(const struct pod *p, const char *name)
{
	size_t nb;

	if (!p || !p->name || !*p->name)
		return false;
	nb = strlen(p->name);
	switch ((enum workload_kind)p->kind) {
	case WK_POD:
		return strcmp(name, p->name) == 0;
	case WK_DEPLOYMENT:
		return generated_name(name, p->name, gen_alphabet, 10);
	case WK_CRONJOB:
		/* its Jobs are NAME-<minutes since the epoch> */
		return generated_name(name, p->name, "0123456789", 12);
	case WK_STATEFULSET:
		/* NAME-<ordinal>, decimal without leading zeros */
		return strncmp(name, p->name, nb) == 0 && name[nb] == '-' && name[nb + 1] &&
		       strlen(name + nb + 1) <= 10 && all_in(name + nb + 1, strlen(name + nb + 1), "0123456789") &&
		       (name[nb + 1] != '0' || !name[nb + 2]);
	case WK_REPLICASET:
	case WK_DAEMONSET:
	case WK_JOB:
	case WK_REPLICATIONCONTROLLER:
		return generated_name(name, p->name, NULL, 0);
	}
	return false;
}

static bool own_pod_name(const struct learn *l, const char *name)
{
	if (makes_pod(l->pod, name))
		return true;
	for (size_t i = 0; i < l->nmore; i++)
		if (makes_pod(l->more[i], name))
			return true;
	return false;
}

/* The container IDs and UID a manifest's object states (a Pod read from
 * the cluster) tie events to it. */
static int tie_object(struct learn *l, const struct pod *pod)
{
	int r = 0;

	for (uint16_t i = 0; pod && i < pod->ncontainer_ids && r == 0; i++)
		r = set_add(&l->own_cids, cid_bare(pod->container_ids[i]));
	if (r == 0 && pod && pod->uid && *pod->uid)
		r = set_add(&l->own_uids, pod->uid);
	return r;
}

static const char *kind_pods(const struct pod *p)
{
	switch ((enum workload_kind)p->kind) {
	case WK_POD: return "";
	case WK_DEPLOYMENT: return "-<hash>-<suffix>";
	case WK_CRONJOB: return "-<time>-<suffix>";
	case WK_STATEFULSET: return "-<ordinal>";
	default: return "-<suffix>";
	}
}

/* Whether the container ID @id is one of @set (sorted): the same, or one
 * the short form (at least 12 bytes) of the other, as `crictl ps` and
 * Falco print them. */
static bool cid_known(const struct strset *set, const char *id)
{
	size_t lo = 0, hi = set->n, n = strlen(id);

	if (n < 12)
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strncmp(set->v[mid], id, 12) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < set->n && strncmp(set->v[lo], id, 12) == 0; lo++) {
		size_t m = strlen(set->v[lo]);

		if (strncmp(set->v[lo], id, m < n ? m : n) == 0)
			return true;
	}
	return false;
}

/* Adds what @ev shows to the profile. */
static int take(struct learn *l, const struct runtime_event *ev, const struct telemetry_event *e)
{
	int r = 0;

	if (!representable(ev)) {
		l->too_long++;
		return 0;
	}
	switch (ev->kind) {
	case RUNTIME_EXEC:
		r = set_add(&l->exes, ev->exe);
		break;
	case RUNTIME_OPEN:
		r = set_add(ev->write ? &l->writes : &l->reads, ev->path);
		break;
	case RUNTIME_CONNECT:
		if (l->ndests == l->cap_dests) {
			size_t ncap = l->cap_dests ? l->cap_dests * 2 : 16;
			struct dest *p = pg_realloc(l->dests, ncap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			l->dests = p;
			l->cap_dests = ncap;
		}
		l->dests[l->ndests].addr = ev->daddr;
		l->dests[l->ndests].port = ev->dport;
		l->ndests++;
		break;
	case RUNTIME_API:
		r = add_call(l, e);
		if (r == 0)
			r = count_rate(l, e);
		break;
	case RUNTIME_TOKEN:
		break;
	}
	if (r < 0)
		return r;
	l->seen[ev->kind] = true;
	l->used++;
	if (l->first < 0 || ev->time < l->first)
		l->first = ev->time;
	if (ev->time > l->last)
		l->last = ev->time;
	return 0;
}

static int hold(struct learn *l, const struct telemetry_event *e)
{
	struct pending *p;

	if (l->npend == l->cap_pend) {
		size_t ncap = l->cap_pend ? l->cap_pend * 2 : 16;
		struct pending *v = pg_realloc(l->pend, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->pend = v;
		l->cap_pend = ncap;
	}
	p = &l->pend[l->npend];
	memset(p, 0, sizeof(*p));
	p->ev.kind = e->ev.kind;
	p->ev.time = e->ev.time;
	p->ev.daddr = e->ev.daddr;
	p->ev.dport = e->ev.dport;
	p->ev.write = e->ev.write;
	if ((e->ev.exe && !(p->exe = pg_strdup(e->ev.exe))) ||
	    (e->ev.path && !(p->path = pg_strdup(e->ev.path))) ||
	    (e->container_id && !(p->container_id = pg_strdup(cid_bare(e->container_id)))) ||
	    (e->pod_uid && !(p->pod_uid = pg_strdup(e->pod_uid)))) {
		pending_free(p);
		return -ENOMEM;
	}
	p->ev.exe = p->exe;
	p->ev.path = p->path;
	l->npend++;
	return 0;
}

/* Decides the held events, now that every own pod's event has tied its
 * container IDs and UID: tied ones count, the rest are skipped. */
static int settle(struct learn *l)
{
	int r = tie_object(l, l->pod);

	for (size_t i = 0; i < l->nmore && r == 0; i++)
		r = tie_object(l, l->more[i]);
	if (r < 0)
		return r;
	set_finish(&l->own_cids);
	set_finish(&l->own_uids);
	for (size_t i = 0; i < l->npend; i++) {
		struct pending *p = &l->pend[i];

		if (r == 0) {
			if ((p->container_id && cid_known(&l->own_cids, p->container_id)) ||
			    (p->pod_uid && set_has(&l->own_uids, p->pod_uid)))
				r = take(l, &p->ev, NULL);
			else
				l->untied++;
		}
		pending_free(p);
	}
	l->npend = 0;
	return r;
}

int learn_add(struct learn *l, const struct telemetry_event *e)
{
	int r = 0;

	if (e->pod_namespace && strcmp(e->pod_namespace, l->namespace) != 0) {
		l->skipped++;
		return 0;
	}
	if (e->ev.kind == RUNTIME_API) {
		const char *sa = identity_sa(l);
		char want[600];

		snprintf(want, sizeof(want), "system:serviceaccount:%s:%s", l->namespace, sa ? sa : "");
		if (sa ? strcmp(e->ev.username, want) != 0
		       : !str_has_prefix(e->ev.username, want)) {
			l->skipped++;
			return 0;
		}
		/* The workload's identity; a token bound to a pod says which
		 * pod used it, and that pod must be an own one. */
		if (e->pod_name && !own_pod_name(l, e->pod_name)) {
			l->other_pods++;
			return 0;
		}
		return take(l, &e->ev, e);
	}
	if (e->pod_namespace && e->pod_name) {
		if (!own_pod_name(l, e->pod_name)) {
			l->other_pods++;
			return 0;
		}
		/* What this event ties to the workload: events that name only
		 * the container or the pod's UID count through it. */
		if (e->container_id && strlen(cid_bare(e->container_id)) >= 12)
			r = set_add(&l->own_cids, cid_bare(e->container_id));
		if (r == 0 && e->pod_uid)
			r = set_add(&l->own_uids, e->pod_uid);
		return r < 0 ? r : take(l, &e->ev, e);
	}
	if (e->container_id || e->pod_uid)
		return hold(l, e);
	l->untied++;
	return 0;
}

/* ---- YAML out ------------------------------------------------------------- */

/* The renderers write through this: the first error sticks and every
 * later write is skipped, so a profile missing a line (an executable, a
 * port) is never handed out as complete.  A learned profile that forbids
 * what was seen would get the workload flagged, or deleted in Enforce. */
struct out {
	struct buf *b;
	int err;                        /* 0, -ENOMEM or -E2BIG */
};

/* A list longer than a profile may hold (PROFILE_MAX_LIST) cannot be
 * written as one: fail with a message that says which. */
static bool too_many(struct learn *l, struct out *o, const char *what, size_t n)
{
	if (n <= PROFILE_MAX_LIST)
		return false;
	if (!o->err) {
		snprintf(l->error, sizeof(l->error), "%zu distinct %s seen; a profile holds at most %d",
			 n, what, PROFILE_MAX_LIST);
		o->err = -E2BIG;
	}
	return true;
}

static void out_check(struct out *o, int r)
{
	if (r < 0 && !o->err)
		o->err = r;
}

static void out_adds(struct out *o, const char *s)
{
	if (!o->err)
		o->err = buf_adds(o->b, s);
}

static void out_addc(struct out *o, char c)
{
	if (!o->err)
		o->err = buf_addc(o->b, c);
}

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->err)
		return;
	va_start(ap, fmt);
	o->err = buf_vprintf(o->b, fmt, ap);
	va_end(ap);
}

/* One YAML scalar, plain or quoted (buf_add_yaml_scalar()). */
static void yq(struct out *o, const char *s)
{
	if (!o->err)
		o->err = buf_add_yaml_scalar(o->b, s);
}

static void ylist(struct out *o, const char *indent, const char *key, char *const *v, size_t n)
{
	out_printf(o, "%s%s:", indent, key);
	if (!n) {
		out_adds(o, " []\n");
		return;
	}
	out_addc(o, '\n');
	for (size_t i = 0; i < n; i++) {
		out_printf(o, "%s  - ", indent);
		yq(o, v[i]);
		out_addc(o, '\n');
	}
}

/* One item of a block list; "# review: WHY" after it when @why, recorded
 * for learn_reviews() under @field, else "# NOTE" when @note. */
static void yitem(struct learn *l, struct out *o, const char *indent, const char *field, const char *v,
		  const char *why, const char *note)
{
	out_printf(o, "%s  - ", indent);
	yq(o, v);
	if (why) {
		out_printf(o, "  # review: %s", why);
		out_check(o, review_add(l, field, v, why));
	} else if (note) {
		out_printf(o, "  # %s", note);
	}
	out_addc(o, '\n');
}

/* Text from the command line (a file name) in a comment
 * (buf_add_yaml_comment()). */
static void out_comment_text(struct out *o, const char *s)
{
	if (!o->err)
		o->err = buf_add_yaml_comment(o->b, s);
}

/* @t (seconds since the epoch) as RFC 3339, "?" when there is none. */
static void fmt_time(int64_t t, char out[RFC3339_MAX])
{
	struct timespec ts = { (time_t)t, 0 };

	if (t < 0 || rfc3339_format(&ts, 0, out) < 0)
		snprintf(out, RFC3339_MAX, "?");
}

/* ---- egress: exact CIDR aggregation ------------------------------------------ */

/* One egress rule: a CIDR and the ports seen on every address in it, a
 * run of the deduplicated, sorted port array the blocks share. */
struct block {
	struct cidr net;
	const uint16_t *ports;
	size_t nports;
};

static int cmp_dest(const void *a, const void *b)
{
	const struct dest *x = a, *y = b;
	int r = (int)x->addr.family - (int)y->addr.family;

	if (r)
		return r;
	r = memcmp(x->addr.bytes, y->addr.bytes, 16);
	return r ? r : (int)x->port - (int)y->port;
}

static int cmp_ports(const struct block *x, const struct block *y)
{
	for (size_t i = 0; i < x->nports && i < y->nports; i++)
		if (x->ports[i] != y->ports[i])
			return (int)x->ports[i] - (int)y->ports[i];
	return x->nports < y->nports ? -1 : x->nports > y->nports;
}

static int cmp_block(const void *a, const void *b)
{
	const struct block *x = a, *y = b;
	int r = (int)x->net.addr.family - (int)y->net.addr.family;

	if (r)
		return r;
	r = cmp_ports(x, y);
	if (r)
		return r;
	r = (int)x->net.prefix - (int)y->net.prefix;
	if (r)
		return r;
	return memcmp(x->net.addr.bytes, y->net.addr.bytes, 16);
}

/* Two blocks with the same ports that are the halves of their parent. */
static bool siblings(const struct block *a, const struct block *b)
{
	return !cmp_ports(a, b) && cidr_siblings(&a->net, &b->net);
}

/* The egress rules: one block per address, then sibling halves with the
 * same ports merged.  Into *ret_blocks and *ret_ports (both pg_free()d by
 * the caller); returns the number of blocks, or -ENOMEM. */
static ssize_t egress_blocks(struct learn *l, struct block **ret_blocks, uint16_t **ret_ports)
{
	struct block *v;
	uint16_t *ports;
	size_t n = 0, np = 0;
	bool merged = true;

	*ret_blocks = NULL;
	*ret_ports = NULL;
	if (!l->ndests)
		return 0;
	qsort(l->dests, l->ndests, sizeof(*l->dests), cmp_dest);
	v = pg_calloc(l->ndests, sizeof(*v));
	ports = pg_calloc(l->ndests, sizeof(*ports));
	if (!v || !ports) {
		pg_free(v);
		pg_free(ports);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->ndests;) {
		size_t j = i;
		struct block *b = &v[n++];

		b->net.addr = l->dests[i].addr;
		b->net.prefix = l->dests[i].addr.family == 4 ? 32 : 128;
		b->ports = &ports[np];
		for (; j < l->ndests && !memcmp(&l->dests[j].addr, &l->dests[i].addr, sizeof(struct netaddr)); j++) {
			if (j > i && l->dests[j].port == l->dests[j - 1].port)
				continue;
			ports[np++] = l->dests[j].port;
			b->nports++;
		}
		i = j;
	}
	/* Merge sibling halves with the same ports until nothing merges:
	 * the result allows exactly the addresses seen. */
	while (merged) {
		size_t w = 0;

		merged = false;
		qsort(v, n, sizeof(*v), cmp_block);
		for (size_t i = 0; i < n; i++) {
			if (i + 1 < n && siblings(&v[i], &v[i + 1])) {
				v[w] = v[i];
				v[w].net.prefix--;
				w++;
				i++;
				merged = true;
			} else {
				v[w++] = v[i];
			}
		}
		n = w;
	}
	*ret_blocks = v;
	*ret_ports = ports;
	return (ssize_t)n;
}

static int cmp_block_addr(const void *a, const void *b)
{
	const struct block *x = a, *y = b;
	int r = (int)x->net.addr.family - (int)y->net.addr.family;

	if (r)
		return r;
	r = memcmp(x->net.addr.bytes, y->net.addr.bytes, 16);
	return r ? r : (int)x->net.prefix - (int)y->net.prefix;
}

static void render_egress(struct learn *l, struct out *o)
{
	struct block *v;
	uint16_t *ports;
	ssize_t n = egress_blocks(l, &v, &ports);

	if (n < 0) {
		out_check(o, (int)n);
		return;
	}
	if (n == 0) {
		out_adds(o, "    egress: []\n");
		return;
	}
	if (too_many(l, o, "egress destinations (after merging into CIDRs)", (size_t)n)) {
		pg_free(v);
		pg_free(ports);
		return;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_block_addr);
	out_adds(o, "    egress:\n");
	for (ssize_t i = 0; i < n; i++) {
		char addr[64];

		inet_ntop(v[i].net.addr.family == 4 ? AF_INET : AF_INET6, v[i].net.addr.bytes, addr, sizeof(addr));
		out_printf(o, "      - cidr: \"%s/%u\"\n        ports: [", addr, v[i].net.prefix);
		for (size_t k = 0; k < v[i].nports; k++)
			out_printf(o, "%s%u", k ? ", " : "", v[i].ports[k]);
		out_adds(o, "]\n");
	}
	pg_free(v);
	pg_free(ports);
}

/* ---- files: exact paths, and directories folded -------------------------------- */

/* One item of runtime.files.read or .write as written. */
struct fitem {
	char *text;                     /* the path, or the directory's pattern */
	const char *why;                /* learn_danger() of an exact path */
	size_t nfiles;                  /* a folded directory: the paths it stands for */
};

struct flist {
	struct fitem *v;
	size_t n, cap;
};

/* @text and @suffix as one item. */
static int flist_add(struct flist *f, const char *text, const char *suffix, const char *why)
{
	struct fitem *it;
	size_t n = strlen(text), ns = strlen(suffix);

	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 16;
		struct fitem *v = pg_realloc(f->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->v = v;
		f->cap = ncap;
	}
	it = &f->v[f->n];
	if (!(it->text = pg_malloc(n + ns + 1)))
		return -ENOMEM;
	memcpy(it->text, text, n);
	memcpy(it->text + n, suffix, ns + 1);
	it->why = why;
	it->nfiles = 0;
	f->n++;
	return 0;
}

static void flist_free(struct flist *f)
{
	for (size_t i = 0; i < f->n; i++)
		pg_free(f->v[i].text);
	pg_free(f->v);
	memset(f, 0, sizeof(*f));
}

static int cmp_fitem(const void *a, const void *b)
{
	return strcmp(((const struct fitem *)a)->text, ((const struct fitem *)b)->text);
}

/* The length of @p's directory: "/a/b/c" -> 3 ("/a/b"); 0 at the root
 * or without a slash. */
static size_t dir_len(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? (size_t)(s - p) : 0;
}

static int cmp_parent(const void *a, const void *b, void *ud)
{
	char *const *v = ud;
	const char *x = v[*(const size_t *)a], *y = v[*(const size_t *)b];
	size_t nx = dir_len(x), ny = dir_len(y);
	int r = memcmp(x, y, nx < ny ? nx : ny);

	return r ? r : (nx > ny) - (nx < ny);
}

/* Whether a path of sorted @v starting with @dir_slash ("/a/b/") looks
 * dangerous for @on. */
static bool subtree_dangerous(char *const *v, size_t n, const char *dir_slash, enum learn_on on)
{
	size_t lo = 0, hi = n, nd = strlen(dir_slash);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(v[mid], dir_slash) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && !strncmp(v[lo], dir_slash, nd); lo++)
		if (learn_danger(on, v[lo], NULL))
			return true;
	return false;
}

/* The index in sorted @folds (directories "/a/b/", none under another)
 * of the one @p lies under, or -1. */
static ssize_t folded_under(const struct strset *folds, const char *p)
{
	size_t lo = 0, hi = folds->n;

	/* the greatest fold <= @p: any fold that is a prefix of @p is it */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(folds->v[mid], p) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && str_has_prefix(p, folds->v[lo - 1]) ? (ssize_t)lo - 1 : -1;
}

/* Sorted unique paths @v of @on as list items (sorted): a directory in
 * which LEARN_FOLD_MIN or more paths were seen directly becomes its
 * pattern ("/a/b/" and a star, which the profile's glob also lets reach
 * subdirectories), unless a path anywhere under it, in @v or in sorted
 * @also (the other list, judged as @also_on), looks dangerous, or
 * learn_dir_foldable() says no; every other path stays exact, with
 * learn_danger()'s reason.  With l->exact, every path stays.  The
 * directories folded go to @folds ("/a/b/").  0 or -ENOMEM. */
static int fold_paths(struct learn *l, char **v, size_t n, enum learn_on on, char **also,
		      size_t nalso, enum learn_on also_on, struct strset *folds, struct flist *ret)
{
	struct strset cand = { 0 };
	size_t *idx = NULL;
	int r = 0;

	if (!l->exact && n >= LEARN_FOLD_MIN) {
		idx = pg_calloc(n, sizeof(*idx));
		if (!idx)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			idx[i] = i;
		qsort_r(idx, n, sizeof(*idx), cmp_parent, v);
		for (size_t i = 0; i < n && r == 0;) {
			const char *p = v[idx[i]];
			size_t nd = dir_len(p), j = i;

			while (j < n && cmp_parent(&idx[i], &idx[j], v) == 0)
				j++;
			if (j - i >= LEARN_FOLD_MIN && nd) {
				char *d = pg_strndup(p, nd + 1);        /* "/a/b/" */

				if (!d) {
					r = -ENOMEM;
					break;
				}
				d[nd] = '\0';
				if (learn_dir_foldable(on, d)) {
					d[nd] = '/';
					if (!subtree_dangerous(v, n, d, on) && !subtree_dangerous(also, nalso, d, also_on))
						r = set_add(&cand, d);
				}
				pg_free(d);
			}
			i = j;
		}
		pg_free(idx);
		set_finish(&cand);
		/* a directory under another folded one adds nothing */
		for (size_t i = 0; i < cand.n && r == 0; i++)
			if (folded_under(folds, cand.v[i]) < 0)
				r = set_add(folds, cand.v[i]);
		set_free(&cand);
	}
	/* the folds first, in the order of @folds: item k is fold k */
	for (size_t i = 0; i < folds->n && r == 0; i++)
		r = flist_add(ret, folds->v[i], "*", NULL);
	for (size_t i = 0; i < n && r == 0; i++) {
		ssize_t k = folded_under(folds, v[i]);

		if (k >= 0)
			ret->v[k].nfiles++;
		else
			r = flist_add(ret, v[i], "", learn_danger(on, v[i], NULL));
	}
	if (ret->n)
		qsort(ret->v, ret->n, sizeof(*ret->v), cmp_fitem);
	return r;
}

static void render_flist(struct learn *l, struct out *o, const char *key, const char *field, const struct flist *f)
{
	out_printf(o, "      %s:", key);
	if (!f->n) {
		out_adds(o, " []\n");
		return;
	}
	out_addc(o, '\n');
	for (size_t i = 0; i < f->n; i++) {
		char note[64];

		snprintf(note, sizeof(note), "generalised: %zu files seen", f->v[i].nfiles);
		yitem(l, o, "      ", field, f->v[i].text, f->v[i].why, f->v[i].nfiles ? note : NULL);
	}
}

static void render_files(struct learn *l, struct out *o)
{
	struct strset wfolds = { 0 }, rfolds = { 0 }, reads = { 0 };
	struct flist w = { 0 }, r = { 0 };

	out_check(o, fold_paths(l, l->writes.v, l->writes.n, LEARN_ON_WRITE, l->reads.v, l->reads.n, LEARN_ON_READ,
				&wfolds, &w));
	/* A path written is also readable: list it once, under write. */
	for (size_t i = 0; i < l->reads.n && !o->err; i++)
		if (!set_has(&l->writes, l->reads.v[i]) && folded_under(&wfolds, l->reads.v[i]) < 0)
			out_check(o, set_add(&reads, l->reads.v[i]));
	/* a written dangerous file keeps its directory's reads exact too */
	out_check(o, fold_paths(l, reads.v, reads.n, LEARN_ON_READ, l->writes.v, l->writes.n, LEARN_ON_WRITE,
				&rfolds, &r));
	l->folded_dirs += wfolds.n + rfolds.n;
	too_many(l, o, "paths read", r.n);
	too_many(l, o, "paths written", w.n);
	out_adds(o, "    files:\n");
	render_flist(l, o, "read", "runtime.files.read", &r);
	render_flist(l, o, "write", "runtime.files.write", &w);
	flist_free(&w);
	flist_free(&r);
	set_free(&wfolds);
	set_free(&rfolds);
	set_free(&reads);
}

/* ---- API calls ---------------------------------------------------------------- */

static int cmp_call(const void *a, const void *b)
{
	const struct apicall *x = a, *y = b;
	int r = strcmp(x->resource, y->resource);

	return r ? r : strcmp(x->verb, y->verb);
}

/* "# review: WHY: "VERBS RESOURCE"" above a rule, a line per reason its
 * verbs on @resource have. */
static void render_api_review(struct learn *l, struct out *o, const char *resource, const struct strset *verbs)
{
	for (size_t i = 0; i < verbs->n; i++) {
		const char *why = learn_danger(LEARN_ON_API, resource, verbs->v[i]);
		struct buf what = BUF_INIT(2 * LEARN_MAX_RESOURCE + PROFILE_MAX_STRING * 2);
		bool first = true;

		/* each reason once, at its first verb */
		for (size_t k = 0; why && k < i; k++)
			if (learn_danger(LEARN_ON_API, resource, verbs->v[k]) == why)
				why = NULL;
		if (!why)
			continue;
		for (size_t k = i; k < verbs->n && !o->err; k++) {
			if (learn_danger(LEARN_ON_API, resource, verbs->v[k]) != why)
				continue;
			out_check(o, buf_printf(&what, "%s%s", first ? "" : ",", verbs->v[k]));
			first = false;
		}
		out_check(o, buf_printf(&what, " %s", resource));
		/* verbs and the resource come from audit events: quoted as a
		 * scalar, never raw in the comment */
		out_printf(o, "      # review: %s: ", why);
		yq(o, o->err ? "" : buf_str(&what));
		out_addc(o, '\n');
		if (!o->err)
			out_check(o, review_add(l, "runtime.kubernetesAPI", buf_str(&what), why));
		buf_free(&what);
	}
}

/* A call whose verb no profile can list is left out (the profile would
 * be refused), and said above the list: a comment the reviewer reads,
 * and a finding when the workload makes the call again. */
static void render_api_left_out(struct learn *l, struct out *o, const char *resource, const char *verb)
{
	const char *why = learn_danger(LEARN_ON_API, resource, verb);
	struct buf what = BUF_INIT(LEARN_MAX_RESOURCE + PROFILE_MAX_STRING + 2);

	out_check(o, buf_printf(&what, "%s %s", verb, resource));
	if (o->err) {
		buf_free(&what);
		return;
	}
	out_adds(o, "    # review: left out, a profile cannot list this verb: ");
	yq(o, buf_str(&what));
	out_printf(o, "%s%s\n", why ? ": " : "", why ? why : "");
	out_check(o, review_add(l, "runtime.kubernetesAPI (left out)", buf_str(&what),
				why ? why : "a verb a profile cannot list: left out"));
	buf_free(&what);
}

static void render_api(struct learn *l, struct out *o)
{
	size_t rules = 0;

	if (l->ncalls)
		qsort(l->calls, l->ncalls, sizeof(*l->calls), cmp_call);
	/* first the calls left out, and whether any rule remains */
	for (size_t i = 0; i < l->ncalls; i++) {
		if (profile_verb_valid(l->calls[i].verb))
			rules++;
		else if (!i || strcmp(l->calls[i].resource, l->calls[i - 1].resource) ||
			 strcmp(l->calls[i].verb, l->calls[i - 1].verb))
			render_api_left_out(l, o, l->calls[i].resource, l->calls[i].verb);
	}
	if (!rules) {
		out_adds(o, "    kubernetesAPI: []\n");
		return;
	}
	rules = 0;
	out_adds(o, "    kubernetesAPI:\n");
	for (size_t i = 0; i < l->ncalls;) {
		struct strset verbs = { 0 }, names = { 0 };
		bool unnamed = false;
		size_t j = i;

		for (; j < l->ncalls && !strcmp(l->calls[j].resource, l->calls[i].resource); j++) {
			if (!profile_verb_valid(l->calls[j].verb))
				continue;
			out_check(o, set_add(&verbs, l->calls[j].verb));
			if (l->calls[j].name)
				out_check(o, set_add(&names, l->calls[j].name));
			else
				unnamed = true;
		}
		set_finish(&verbs);
		set_finish(&names);
		if (!verbs.n) {
			set_free(&verbs);
			set_free(&names);
			i = j;
			continue;
		}
		too_many(l, o, "verbs on one resource", verbs.n);
		too_many(l, o, "resourceNames of one resource", names.n);
		rules++;
		render_api_review(l, o, l->calls[i].resource, &verbs);
		out_adds(o, "      - verbs: [");
		for (size_t k = 0; k < verbs.n; k++) {
			out_adds(o, k ? ", " : "");
			yq(o, verbs.v[k]);
		}
		out_adds(o, "]\n        resources: [");
		yq(o, l->calls[i].resource);
		out_adds(o, "]\n");
		/* Names restrict only when every call named its object; a list
		 * or watch was seen otherwise. */
		if (!unnamed && names.n) {
			out_adds(o, "        resourceNames: [");
			for (size_t k = 0; k < names.n; k++) {
				out_adds(o, k ? ", " : "");
				yq(o, names.v[k]);
			}
			out_adds(o, "]\n");
		}
		set_free(&verbs);
		set_free(&names);
		i = j;
	}
	too_many(l, o, "API resources", rules);
}

/* ---- admission part from the pod ------------------------------------------------ */

static bool volatile_label(const char *k)
{
	/* Set per replica or per revision by controllers, or per release:
	 * a selector on them would stop matching at the next rollout. */
	return !strcmp(k, "pod-template-hash") || !strcmp(k, "controller-revision-hash") ||
	       !strcmp(k, "statefulset.kubernetes.io/pod-name") || !strcmp(k, "job-name") ||
	       !strcmp(k, "controller-uid") || str_has_prefix(k, "batch.kubernetes.io/") ||
	       !strcmp(k, "apps.kubernetes.io/pod-index") ||
	       /* and labels that change with every release */
	       !strcmp(k, "app.kubernetes.io/version") || !strcmp(k, "version") ||
	       !strcmp(k, "helm.sh/chart");
}

static int cmp_idx_labels(const void *a, const void *b, void *ud)
{
	const struct labels *l = ud;

	return strcmp(l->keys[*(const size_t *)a], l->keys[*(const size_t *)b]);
}

static void render_selector(struct learn *l, struct out *o)
{
	const struct labels *lb = l->selector ? l->selector : l->pod ? &l->pod->labels : NULL;
	size_t idx[256], n = 0, invalid = 0;

	for (size_t i = 0; lb && i < lb->n && n < 256; i++) {
		/* --selector is written as given (the caller checked it) */
		if (!l->selector && volatile_label(lb->keys[i]))
			continue;
		/* A manifest's labels are not validated on the way in; a
		 * selector on one the API server would refuse is no use. */
		if (!str_is_label_key(lb->keys[i]) || !str_is_label_value(lb->values[i]))
			invalid++;
		else
			idx[n++] = i;
	}
	if (!n) {
		char app[64];
		size_t len = strlen(l->name);

		/* The name is an RFC 1123 subdomain: cut to a label value's
		 * 63 characters, it ends on an alphanumeric. */
		if (len > sizeof(app) - 1)
			len = sizeof(app) - 1;
		memcpy(app, l->name, len);
		while (len && !((app[len - 1] >= 'a' && app[len - 1] <= 'z') ||
				(app[len - 1] >= '0' && app[len - 1] <= '9')))
			len--;
		app[len] = '\0';
		out_adds(o, "  selector:\n    # no pod labels known: check this selector\n    matchLabels:\n      app: ");
		yq(o, len ? app : "learned");
		out_addc(o, '\n');
		return;
	}
	{
		struct labels sorted_by = *lb;

		qsort_r(idx, n, sizeof(idx[0]), cmp_idx_labels, &sorted_by);
	}
	out_adds(o, "  selector:\n");
	if (invalid)
		out_printf(o, "    # %zu pod label%s left out: not a valid label key or value\n", invalid,
			   invalid == 1 ? "" : "s");
	out_adds(o, "    matchLabels:\n");
	for (size_t i = 0; i < n; i++) {
		out_adds(o, "      ");
		yq(o, lb->keys[idx[i]]);
		out_adds(o, ": ");
		yq(o, lb->values[idx[i]]);
		out_addc(o, '\n');
	}
}

/* An image reference as images.allow holds it: with l->exact as seen;
 * else its repository, normalised as the engine matches ("app:1.0" is
 * docker.io/library/app:1.0), with any tag ("REPO:*") or, pinned by
 * digest, any digest ("REPO@sha256:*").  A tag never contains '/', ':'
 * or '@', so the pattern matches no other repository.  A reference that
 * does not normalise, or whose repository holds a wildcard, stays as
 * seen.  0 or -ENOMEM. */
static int add_image(struct learn *l, struct strset *images, const char *ref)
{
	char norm[IMAGE_REF_MAX + 64], pat[IMAGE_REF_MAX + 80];
	size_t end;
	const char *at;

	if (l->exact || image_normalize(ref, norm, sizeof(norm)) < 0)
		return set_add(images, ref);
	at = strchr(norm, '@');
	if (at && !image_has_digest(at))
		return set_add(images, ref);
	/* the name ends at the digest, or at the tag: the last ':' after
	 * the last '/' (image_normalize() writes one when there is no digest) */
	if (at) {
		end = (size_t)(at - norm);
	} else {
		const char *colon = strrchr(norm, ':'), *slash = strrchr(norm, '/');

		if (!colon || !slash || colon < slash)
			return set_add(images, ref);
		end = (size_t)(colon - norm);
	}
	norm[end] = '\0';
	if (glob_has_wildcard(norm) || !strchr(norm, '/'))
		return set_add(images, ref);
	snprintf(pat, sizeof(pat), "%s%s", norm, at ? "@sha256:*" : ":*");
	l->images_by_repo++;
	return set_add(images, pat);
}

static void render_admission(struct learn *l, struct out *o)
{
	const struct pod *p = l->pod;
	struct strset images = { 0 }, caps = { 0 }, paths = { 0 };
	bool all_digest = true, any_priv = false, all_no_esc = true, all_nonroot = true, any_3607 = false;
	int64_t max_exp = -1;

	if (!p)
		return;
	for (uint16_t i = 0; i < p->ntokens; i++) {
		int64_t exp = p->tokens[i].expiration < 0 ? 3600 : p->tokens[i].expiration;

		any_3607 |= exp == 3607;
		if (exp > max_exp)
			max_exp = exp;
	}
	out_adds(o, "  identity:\n    serviceAccountNames: [");
	yq(o, pod_service_account(p));
	out_adds(o, "]\n");
	out_printf(o, "    tokenAutomount: %s\n", p->ntokens || p->automount != OPT_FALSE ? "Allow" : "Forbid");
	if (max_exp >= 0) {
		out_printf(o, "    maxTokenExpirationSeconds: %lld\n", (long long)(max_exp < 600 ? 600 : max_exp));
		out_printf(o, "    extendedTokens: %s\n", any_3607 ? "Allow" : "Forbid");
		out_printf(o, "    maxTokenAgeSeconds: %lld\n", (long long)max_exp);
	}
	out_adds(o, "    legacyTokenSecrets: Forbid\n");

	for (uint16_t i = 0; i < p->ncontainers; i++) {
		const struct container *c = &p->containers[i];
		int64_t uid = c->run_as_user >= 0 ? c->run_as_user : p->run_as_user;
		uint8_t nr = c->run_as_non_root != OPT_UNSET ? c->run_as_non_root : p->run_as_non_root;

		all_digest &= c->image && image_has_digest(c->image);
		any_priv |= c->privileged == OPT_TRUE;
		all_no_esc &= c->allow_escalation == OPT_FALSE;
		all_nonroot &= uid > 0 || (uid < 0 && nr == OPT_TRUE);
		for (uint16_t k = 0; k < c->ncaps; k++) {
			char cap[80];
			const char *s = c->caps_add[k];
			size_t n;

			if (str_has_prefix(s, "CAP_") || str_has_prefix(s, "cap_"))
				s += 4;
			for (n = 0; s[n] && n < sizeof(cap) - 1; n++)
				cap[n] = (s[n] >= 'a' && s[n] <= 'z') ? (char)(s[n] - 32) : s[n];
			cap[n] = '\0';
			out_check(o, set_add(&caps, cap));
		}
	}
	for (uint16_t i = 0; i < p->ncontainers; i++)
		if (p->containers[i].image)
			out_check(o, add_image(l, &images, p->containers[i].image));
	for (uint16_t i = 0; i < p->nhost_paths; i++)
		out_check(o, set_add(&paths, p->host_paths[i].path));
	set_finish(&images);
	set_finish(&caps);
	set_finish(&paths);
	out_adds(o, "  images:\n");
	ylist(o, "    ", "allow", images.v, images.n);
	out_printf(o, "    requireDigest: %s\n", all_digest && images.n ? "true" : "false");
	out_adds(o, "  privileges:\n");
	out_printf(o, "    privileged: %s\n", any_priv ? "Allow" : "Forbid");
	out_printf(o, "    privilegeEscalation: %s\n", all_no_esc ? "Forbid" : "Allow");
	out_printf(o, "    hostNamespaces: %s\n", p->host_network || p->host_pid || p->host_ipc ? "Allow" : "Forbid");
	out_printf(o, "    runAsNonRoot: %s\n", all_nonroot ? "Require" : "Any");
	ylist(o, "    ", "allowedCapabilities", caps.v, caps.n);
	ylist(o, "    ", "allowedHostPaths", paths.v, paths.n);
	set_free(&images);
	set_free(&caps);
	set_free(&paths);
}

/* The header: what was seen and skipped, whose events counted, and what
 * was generalised (known once the body is written). */
static void render_header(struct learn *l, struct out *o, const char *t1, const char *t2)
{
	out_printf(o, "# WorkloadProfile learned by profileguard learn %s\n", PG_VERSION);
	out_printf(o, "# from %zu events", l->used);
	for (size_t i = 0; i < l->sources.n; i++) {
		out_adds(o, i ? ", " : " (");
		out_comment_text(o, l->sources.v[i]);
	}
	out_printf(o, "%s; %zu skipped (other namespaces or identities)\n", l->sources.n ? ")" : "", l->skipped);
	out_printf(o, "# skipped: %zu event%s of other pods, %zu event%s not tied to this workload\n", l->other_pods,
		   l->other_pods == 1 ? "" : "s", l->untied, l->untied == 1 ? "" : "s");
	if (l->too_long)
		out_printf(o, "# %zu events left out: a path or name longer than a profile holds (%d bytes)\n",
			   l->too_long, PROFILE_MAX_STRING);
	if (l->used)
		out_printf(o, "# observed %s .. %s\n", t1, t2);
	if (l->pod) {
		/* A manifest's name is not validated on the way in: one that
		 * could break the comment line is not written. */
		const char *wname = l->pod->name && str_is_dns1123_subdomain(l->pod->name) ? l->pod->name : "?";
		const char *wkind = workload_kind_name((enum workload_kind)l->pod->kind);

		out_adds(o, "# admission rules from ");
		out_comment_text(o, l->pod_origin ? l->pod_origin : "the pod manifest");
		out_printf(o, " (%s %s/%s)\n", wkind, l->namespace, wname);
		if (l->selector) {
			out_printf(o, "# workload: %zu object%s of the manifest matching ", l->nmore + 1,
				   l->nmore ? "s" : "");
			for (size_t i = 0; i < l->selector->n; i++)
				out_printf(o, "%s%s=%s", i ? "," : "", l->selector->keys[i], l->selector->values[i]);
			out_adds(o, ": their pods, and the containers and pod UIDs their events name\n");
		} else {
			out_printf(o, "# workload: %s %s/%s: %s %s%s, and the containers and pod UIDs their events name\n",
				   wkind, l->namespace, wname, l->pod->kind == WK_POD ? "the pod" : "its pods", wname,
				   kind_pods(l->pod));
		}
	}
	if (l->exact)
		out_adds(o, "# It allows exactly what was seen (--exact).\n");
	else
		out_printf(o, "# Generalised: %s; %zu director%s generalised (%d or more files seen in one);\n"
			   "# executables, egress and API calls as seen.  --exact allows exactly what was seen.\n",
			   l->images_by_repo ? "images by repository" : "no image to generalise", l->folded_dirs,
			   l->folded_dirs == 1 ? "y" : "ies", LEARN_FOLD_MIN);
	out_printf(o, "# %zu entr%s need%s review (marked \"# review:\").\n", l->nrev, l->nrev == 1 ? "y" : "ies",
		   l->nrev == 1 ? "s" : "");
	out_adds(o, "# Review it; mode Audit reports without acting:\n"
		    "# switch to Enforce once the workload has run clean against it.\n");
}

int learn_render(struct learn *l, struct buf *b)
{
	char t1[RFC3339_MAX], t2[RFC3339_MAX];
	struct buf body = BUF_INIT(b->max);
	struct out out = { &body, 0 }, *o = &out, head = { b, 0 };
	size_t start = b->len;

	reviews_reset(l);
	l->folded_dirs = 0;
	l->images_by_repo = 0;
	out_check(o, settle(l));
	set_finish(&l->exes);
	set_finish(&l->reads);
	set_finish(&l->writes);
	set_finish(&l->sources);
	fmt_time(l->first, t1);
	fmt_time(l->last, t2);

	out_adds(o, "apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\nmetadata:\n  name: ");
	yq(o, l->name);
	out_adds(o, "\n  namespace: ");
	yq(o, l->namespace);
	out_adds(o, "\nspec:\n");
	render_selector(l, o);
	out_printf(o, "  mode: %s\n", l->mode);
	render_admission(l, o);

	out_adds(o, "  runtime:\n");
	too_many(l, o, "executables", l->exes.n);
	if (l->seen[RUNTIME_EXEC] && !l->exes.n) {
		out_adds(o, "    executables: []\n");
	} else if (l->seen[RUNTIME_EXEC]) {
		out_adds(o, "    executables:\n");
		for (size_t i = 0; i < l->exes.n; i++)
			yitem(l, o, "    ", "runtime.executables", l->exes.v[i],
			      learn_danger(LEARN_ON_EXEC, l->exes.v[i], NULL), NULL);
	} else {
		out_adds(o, "    # no exec events seen: executables are not profiled\n");
	}
	if (l->seen[RUNTIME_CONNECT])
		render_egress(l, o);
	else
		out_adds(o, "    # no connections seen: egress is not profiled\n");
	if (l->seen[RUNTIME_OPEN])
		render_files(l, o);
	else
		out_adds(o, "    # no file opens seen: files are not profiled\n");
	if (l->seen[RUNTIME_API]) {
		uint32_t limit = l->rate_peak * 2 < 60 ? 60 : l->rate_peak * 2;

		render_api(l, o);
		out_printf(o, "    # peak seen: %u calls in one minute by one pod; the limit leaves 2x headroom\n", l->rate_peak);
		out_printf(o, "    maxAPICallsPerMinute: %u\n", limit);
	} else {
		out_adds(o, "    # no audit events of this identity seen: API calls are not profiled\n");
	}
	if (!o->err) {
		render_header(l, &head, t1, t2);
		if (!head.err)
			head.err = buf_add(b, body.data, body.len);
		o->err = head.err;
	}
	buf_free(&body);
	if (o->err)
		buf_truncate(b, start);
	return o->err;
}
