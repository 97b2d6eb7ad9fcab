/* podjudge.c - the drift controller's judge: holds a running pod to the
 * profiles of its namespace with engine_eval_running() and submits to the
 * actions the finding groups not reported yet.  For a pod with findings it
 * remembers a fingerprint of each (profile, reason) group reported, so a
 * re-judge reports only what changed; pods without findings cost nothing.
 * The controller owns the lock and the leadership term the memory belongs
 * to. */
#include "podjudge.h"

#include <string.h>

#include "actions.h"
#include "drift.h"
#include "engine.h"
#include "hash.h"
#include "identities.h"
#include "kube_decode.h"
#include "kube_informer.h"
#include "pglog.h"
#include "profcache.h"
#include "xalloc.h"

/* A finding group reported for a pod. */
struct pentry {
	struct profcache_state *prof;         /* a reference */
	uint64_t fp;
	uint8_t reason;
};

/* The groups reported for one pod, in one allocation: the entries, then
 * the key ("ns/name") and the pod's UID. */
struct podstate {
	struct smap_node node;
	const char *uid;
	size_t n;
	struct pentry v[];
};

/* ---- pods: the judge's memory ------------------------------------------------------ */

static void podstate_free(struct podstate *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		profcache_unref(ps->v[i].prof);
	pg_free(ps);
}

static void podstate_drop(struct podjudge *j, struct podstate *ps)
{
	smap_del(&j->pods, ps->node.key);
	podstate_free(ps);
}

static const struct pentry *pentry_find(const struct pentry *v, size_t n,
					const struct profcache_state *p, uint8_t reason)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].prof == p && v[i].reason == reason)
			return &v[i];
	return NULL;
}

/* A podstate holding @v (the references are taken over). */
static struct podstate *podstate_new(const char *key, const char *uid, const struct pentry *v,
				     size_t n)
{
	size_t lk = strlen(key), lu = strlen(uid);
	struct podstate *ps = pg_malloc(sizeof(*ps) + n * sizeof(*v) + lk + lu + 2);
	char *str;

	if (!ps)
		return NULL;
	memcpy(ps->v, v, n * sizeof(*v));
	ps->n = n;
	str = (char *)(ps->v + n);
	memcpy(str, key, lk + 1);
	memcpy(str + lk + 1, uid, lu + 1);
	ps->node.key = str;
	ps->uid = str + lk + 1;
	return ps;
}

static void drop_all(void *ud, struct smap_node *n)
{
	podstate_free(smap_entry(n, struct podstate, node));
}

void podjudge_forget_all(struct podjudge *j)
{
	smap_clear(&j->pods, drop_all, NULL);
}

/* ---- the judge ------------------------------------------------------------------------ */

static uint64_t fingerprint(const struct findings *f, const struct profile *prof,
			    enum reason reason)
{
	uint64_t h = HASH_FNV64_BASIS;

	/* What would be done is part of what was reported: a profile that
	 * goes from Audit to Enforce, or changes its action, acts on the
	 * pods it only reported until then. */
	h = hash_fnv1a64_field(h, mode_name(prof->mode));
	h = hash_fnv1a64_field(h, action_name(prof->response.action));
	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].profile != prof || f->v[i].reason != reason)
			continue;
		h = hash_fnv1a64_field(h, f->v[i].message);
	}
	return h ? h : 1;
}

/* A reason of one profile's findings that was not reported yet, or not
 * with these messages. */
struct unreported {
	const struct findings *f;
	const struct profile *prof;
	struct profcache_state *ps;
	const struct pentry *old;
	size_t nold;
};

static bool unreported(void *ud, enum reason reason)
{
	const struct unreported *u = ud;
	const struct pentry *pe = pentry_find(u->old, u->nold, u->ps, (uint8_t)reason);

	return !(pe && pe->fp == fingerprint(u->f, u->prof, reason));
}

/* Submits, per profile, the finding groups not reported yet.  False when
 * a report was refused (the action queue at a bound). */
static bool submit_new(const struct podjudge_env *env, const struct pod *pod, const struct findings *f,
		       struct profcache_state *const *ps, struct profile *const *view, size_t nview,
		       const struct pentry *old, size_t nold)
{
	bool all = true;

	for (size_t k = 0; k < nview; k++) {
		struct unreported u = { f, view[k], ps[k], old, nold };
		struct drift_groups g;
		struct drift_report r;

		if (!drift_group_findings(f, f->n, NULL, view[k], unreported, &u, &g))
			continue;
		drift_report_fill(&r, pod, view[k]);
		r.evidence = EV_SPEC;
		r.groups = g.g;
		r.ngroups = g.n;
		if (actions_submit(env->actions, &r) < 0)
			all = false;
	}
	return all;
}

void podjudge_pod(struct podjudge *j, const struct podjudge_env *env, const char *key,
		  struct kube_object *obj)
{
	struct smap_node *sn = smap_get(&j->pods, key);
	struct podstate *ps = sn ? smap_entry(sn, struct podstate, node) : NULL, *nps;
	struct profile *view[256], **pview = view;
	struct profcache_state *pstate[256], **ppstate = pstate;
	struct pentry *nv = NULL;
	struct findings f;
	const struct pod *pod;
	size_t lo, hi, nview = 0, nn = 0;

	if (!obj) {
		if (ps)
			podstate_drop(j, ps);
		return;
	}
	pod = kube_object_data(obj);
	if (ps && strcmp(ps->uid, kube_object_uid(obj)) != 0) {
		podstate_drop(j, ps);
		ps = NULL;
	}
	if (pod->terminating || pod->mirror || env->ns_ignored(env->ud, pod->namespace)) {
		/* Never acted on: nothing to remember either. */
		if (ps)
			podstate_drop(j, ps);
		return;
	}
	lo = profcache_lower(env->profs, pod->namespace, "");
	for (hi = lo; hi < env->profs->n && strcmp(env->profs->v[hi]->ns, pod->namespace) == 0; hi++)
		;
	if (hi == lo && !ps)
		return;         /* no profile here, nothing to forget */
	if (hi - lo > 256) {
		pview = pg_malloc((hi - lo) * sizeof(*pview));
		ppstate = pg_malloc((hi - lo) * sizeof(*ppstate));
		if (!pview || !ppstate)
			goto oom;
	}
	for (size_t i = lo; i < hi; i++) {
		struct profcache_state *p = env->profs->v[i];
		struct profile *prof = profcache_applied(p);

		/* The profiles that bind the pod's account judge it too, even
		 * when they do not select it: that is identity binding. */
		if (!prof || (!selector_matches(&prof->selector, &pod->labels) &&
			      !engine_binds(prof, pod)))
			continue;
		pview[nview] = prof;
		ppstate[nview++] = p;
	}
	findings_init(&f, 0);
	if (nview) {
		struct profile_set set = { pview, nview, nview };
		struct engine_ctx ctx = { .is_token_secret = env->is_token_secret,
					  .identity_risk = env->identity_risk, .ud = env->ud };
		struct kube_object *sa = kube_informer_get(env->sas, pod->namespace,
							   pod_service_account(pod));
		const struct identities_sa *isa = sa ? kube_object_data(sa) : NULL;
		const struct kube_meta *m = isa ? isa->meta : NULL;
		struct sa_facts facts = { sa != NULL, m ? m->created : -1 };

		if (engine_eval_running(&set, pod, &ctx, &facts, &f) < 0)
			pglog(PGLOG_WARN, "pod judged in part: out of memory", "namespace",
			      pod->namespace, "pod", pod->name, NULL);
		kube_object_unref(sa);
	}
	if (f.n) {
		/* One entry per (profile, reason) group, then what is new. */
		nv = pg_calloc(f.n, sizeof(*nv));
		if (!nv) {
			findings_free(&f);
			goto oom;
		}
		for (size_t k = 0; k < nview; k++) {
			for (size_t i = 0; i < f.n; i++) {
				if (f.v[i].profile != pview[k] ||
				    pentry_find(nv, nn, ppstate[k], (uint8_t)f.v[i].reason))
					continue;
				nv[nn++] = (struct pentry){ ppstate[k],
							    fingerprint(&f, pview[k], f.v[i].reason),
							    (uint8_t)f.v[i].reason };
			}
		}
		if (!submit_new(env, pod, &f, ppstate, pview, nview, ps ? ps->v : NULL,
				ps ? ps->n : 0)) {
			/* Refused (the actions log the bound): not remembered,
			 * so the next look (a change, the resync) reports it
			 * again. */
			findings_free(&f);
			if (ps)
				podstate_drop(j, ps);
			goto out;
		}
	}
	findings_free(&f);
	if (ps && ps->n == nn) {
		bool same = true;

		for (size_t i = 0; i < nn && same; i++) {
			const struct pentry *pe = pentry_find(ps->v, ps->n, nv[i].prof, nv[i].reason);

			same = pe && pe->fp == nv[i].fp;
		}
		if (same)
			goto out;
	}
	if (ps)
		podstate_drop(j, ps);
	if (!nn)
		goto out;
	nps = podstate_new(key, kube_object_uid(obj), nv, nn);
	if (!nps || smap_put(&j->pods, &nps->node) < 0) {
		/* Forgotten: the findings are reported again at the next look,
		 * as repeats (their Events fold). */
		pg_free(nps);
		goto oom;
	}
	for (size_t i = 0; i < nn; i++)
		nv[i].prof->refs++;
	goto out;
oom:
	pglog(PGLOG_WARN, "pod not judged: out of memory", "key", key, NULL);
out:
	pg_free(nv);
	if (pview != view)
		pg_free(pview);
	if (ppstate != pstate)
		pg_free(ppstate);
}
