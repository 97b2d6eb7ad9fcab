/* profcache.c - the drift controller's profile cache: WorkloadProfiles
 * decoded as the informer lists them (an invalid generation kept with its
 * messages, and the last valid one restored from status.enforcedSpec), and
 * the controller's view of each, sorted by namespace and name, with the
 * generation it enforces (SPEC §2). */
#include "profcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "hash.h"
#include "jval.h"
#include "kube_informer.h"
#include "profile.h"
#include "status.h"
#include "xalloc.h"

/* ---- WorkloadProfile decoding ------------------------------------------------------ */

void profcache_wp_free(void *ud, void *data)
{
	struct profcache_wp *w = data;

	if (!w)
		return;
	profile_free(w->profile);
	pg_free(w->invalid);
	pg_free(w->ready);
	pg_free(w->ready_ltt);
	json_decref(w->status);
	json_decref(w->spec);
	profile_free(w->restored);
	pg_free(w->restore_why);
	pg_free(w);
}

static uint64_t hash_json(json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	uint64_t h = hash_fnv1a64_str(HASH_FNV64_BASIS, text ? text : "");

	free(text);
	return h;
}

static int64_t int_or_zero(const struct jval *v)
{
	return jval_is_int(v) ? v->u.i : 0;
}

/* Keeps an invalid profile too, as "invalid with these messages", so its
 * Ready condition can say why; it is never applied.  What is kept to be
 * written back or compared with what is written (status, spec) becomes
 * jansson values: the informer's tree lives only for this call. */
int profcache_wp_decode(void *ud, const struct jval *obj, void **ret)
{
	const struct jval *meta = jval_get(obj, "metadata");
	const struct jval *status = jval_get(obj, "status"), *cond, *jspec = jval_get(obj, "spec");
	json_t *spec = NULL;
	struct errlist errs;
	struct profcache_wp *w;
	size_t i;
	int r;

	w = pg_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	errlist_init(&errs, 64);
	r = profile_parse(obj, "default", &errs, &w->profile);
	if (r == -ENOMEM || errs.oom) {
		errlist_free(&errs);
		profcache_wp_free(NULL, w);
		return -ENOMEM;
	}
	if (r < 0) {
		w->profile = NULL;
		w->invalid = status_join_messages((const char *const *)errs.msgs, errs.n,
						  PROFCACHE_INVALID_MAX);
	}
	errlist_free(&errs);
	if ((jspec && !(spec = jval_to_json(jspec))) ||
	    (jval_is_object(status) && !(w->status = jval_to_json(status)))) {
		json_decref(spec);
		profcache_wp_free(NULL, w);
		return -ENOMEM;
	}
	w->generation = int_or_zero(jval_get(meta, "generation"));
	w->spec_hash = hash_json(spec);
	w->stored_generation = int_or_zero(jval_get(status, "enforcedGeneration"));
	w->spec_bytes = status_spec_bytes(spec);
	/* Over the cap it is not recorded: status_build() says so from the
	 * size alone. */
	if (w->profile && w->stored_generation != w->generation &&
	    w->spec_bytes <= STATUS_ENFORCED_SPEC_MAX)
		w->spec = json_incref(spec);
	json_decref(spec);
	if (!w->profile) {
		char why[PROFILE_MAX_STRING + 256];

		r = profile_restore_enforced(obj, &w->restored, &w->restored_generation, why, sizeof(why));
		if (r == -ENOMEM) {
			profcache_wp_free(NULL, w);
			return r;
		}
		/* Restored, so status.enforcedSpec is an object: measured
		 * as status_spec_bytes() measures every spec. */
		if (w->restored) {
			json_t *rs = jval_to_json(jval_get(status, "enforcedSpec"));

			if (!rs) {
				profcache_wp_free(NULL, w);
				return -ENOMEM;
			}
			w->restored_bytes = status_spec_bytes(rs);
			json_decref(rs);
		}
		if (!w->restored && why[0] && !(w->restore_why = pg_strdup(why))) {
			profcache_wp_free(NULL, w);
			return -ENOMEM;
		}
		r = -EINVAL;
	}
	w->violations = int_or_zero(jval_get(status, "violations"));
	if (w->violations < 0)
		w->violations = 0;
	jval_foreach_item(jval_get(status, "conditions"), i, cond) {
		/* Read as jansson read them, a NUL ending the text. */
		const char *type = jval_cstr(jval_get(cond, "type"));
		const char *st = jval_cstr(jval_get(cond, "status"));
		const char *ltt = jval_cstr(jval_get(cond, "lastTransitionTime"));

		if (!type || strcmp(type, "Ready") != 0)
			continue;
		w->ready = st ? pg_strdup(st) : NULL;
		w->ready_ltt = ltt ? pg_strdup(ltt) : NULL;
		break;
	}
	if ((r < 0 && !w->invalid)) {
		profcache_wp_free(NULL, w);
		return -ENOMEM;
	}
	*ret = w;
	return 0;
}


/* ---- profiles ---------------------------------------------------------------------- */

static int prof_cmp(const struct profcache_state *p, const char *ns, const char *name)
{
	int r = strcmp(p->ns, ns);

	return r ? r : strcmp(p->name, name);
}

size_t profcache_lower(const struct profcache *pc, const char *ns, const char *name)
{
	size_t lo = 0, hi = pc->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (prof_cmp(pc->v[mid], ns, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct profcache_state *profcache_find(const struct profcache *pc, const char *ns, const char *name)
{
	size_t i = profcache_lower(pc, ns, name);

	return i < pc->n && prof_cmp(pc->v[i], ns, name) == 0 ? pc->v[i] : NULL;
}

void profcache_unref(struct profcache_state *p)
{
	if (!p || --p->refs > 0)
		return;
	kube_object_unref(p->obj);
	kube_object_unref(p->valid_obj);
	pg_free(p->ns);
	pg_free(p->name);
	pg_free(p->uid);
	pg_free(p->last_pod);
	pg_free(p->last_reason);
	pg_free(p->last_message);
	pg_free(p->my_ready);
	pg_free(p->my_ltt);
	pg_free(p->written);
	pg_free(p);
}

/* The profile enforced for @p: its own, or while it is invalid its last
 * valid generation's (seen by this process, else the one recorded in its
 * status), or NULL (never valid: nothing is enforced). */
struct profile *profcache_applied(const struct profcache_state *p)
{
	if (p->wp->profile)
		return p->wp->profile;
	return p->valid_obj ? ((const struct profcache_wp *)kube_object_data(p->valid_obj))->profile
			    : p->wp->restored;
}

/* The generation profcache_applied() comes from, 0 for none. */
int64_t profcache_applied_generation(const struct profcache_state *p)
{
	if (p->wp->profile)
		return p->wp->generation;
	if (p->valid_obj)
		return ((const struct profcache_wp *)kube_object_data(p->valid_obj))->generation;
	return p->wp->restored ? p->wp->restored_generation : 0;
}

/* The decoded generation profcache_applied() comes from when it is one this
 * process saw (its spec may still have to be recorded), else NULL. */
const struct profcache_wp *profcache_applied_wp(const struct profcache_state *p)
{
	if (p->wp->profile)
		return p->wp;
	return p->valid_obj ? kube_object_data(p->valid_obj) : NULL;
}

void profcache_remove_at(struct profcache *pc, size_t i)
{
	struct profcache_state *p = pc->v[i];

	memmove(pc->v + i, pc->v + i + 1, (pc->n - i - 1) * sizeof(*pc->v));
	pc->n--;
	atomic_fetch_add(&pc->gen, 1);
	p->removed = true;
	profcache_unref(p);
}

void profcache_remove(struct profcache *pc, const char *ns, const char *name, const char *uid)
{
	size_t i = profcache_lower(pc, ns, name);

	if (i < pc->n && prof_cmp(pc->v[i], ns, name) == 0 && strcmp(pc->v[i]->uid, uid) == 0)
		profcache_remove_at(pc, i);
}

/* A new term counts from what the cluster shows now. */
void profcache_reset_term(struct profcache_state *p)
{
	p->base = p->wp->violations;
	p->added = 0;
	p->has_last = false;
	p->matched = 0;
	pg_free(p->my_ready);
	pg_free(p->my_ltt);
	pg_free(p->written);
	p->my_ready = p->my_ltt = p->written = NULL;
	p->dirty = true;
}

int profcache_upsert(struct profcache *pc, struct kube_object *o)
{
	const char *ns = kube_object_namespace(o), *name = kube_object_name(o);
	size_t i = profcache_lower(pc, ns, name);
	struct profcache_state *p;

	atomic_fetch_add(&pc->gen, 1);
	if (i < pc->n && prof_cmp(pc->v[i], ns, name) == 0) {
		p = pc->v[i];
		if (strcmp(p->uid, kube_object_uid(o)) == 0) {
			const struct profcache_wp *nw = kube_object_data(o);

			/* An invalid generation keeps the last valid one. */
			if (nw->profile) {
				p->valid_obj = kube_object_unref(p->valid_obj);
			} else if (p->wp->profile && p->obj != o) {
				kube_object_unref(p->valid_obj);
				p->valid_obj = kube_object_ref(p->obj);
			}
			kube_object_unref(p->obj);
			p->obj = kube_object_ref(o);
			p->wp = nw;
			p->dirty = true;
			return 0;
		}
		/* Recreated under the same name: a new profile. */
		profcache_remove_at(pc, i);
	}
	if (pc->n == pc->cap) {
		size_t ncap = pc->cap ? pc->cap * 2 : 64;
		struct profcache_state **v = pg_realloc(pc->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		pc->v = v;
		pc->cap = ncap;
	}
	p = pg_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->refs = 1;
	p->ns = pg_strdup(ns);
	p->name = pg_strdup(name);
	p->uid = pg_strdup(kube_object_uid(o));
	if (!p->ns || !p->name || !p->uid) {
		profcache_unref(p);
		return -ENOMEM;
	}
	p->obj = kube_object_ref(o);
	p->wp = kube_object_data(o);
	p->invalid_reported = -1;
	profcache_reset_term(p);
	memmove(pc->v + i + 1, pc->v + i, (pc->n - i) * sizeof(*pc->v));
	pc->v[i] = p;
	pc->n++;
	return 0;
}

