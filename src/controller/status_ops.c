/* status_ops.c - the controller's writes of WorkloadProfile status: which
 * profiles' statuses are due, built by status.c (pure) from the profile
 * cache, ranked by how much they matter, and the merge patch of /status
 * that sends one.  The controller's housekeeping and shutdown drive it
 * (flush_status() in controller.c). */
#include "status_ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "kube_api.h"
#include "kube_client.h"
#include "profcache.h"
#include "status.h"
#include "xalloc.h"

/* How long our own status write may take to come back through the watch. */
#define STATUS_ECHO_MS 5000

void status_ops_patch_free(struct status_ops_patch *p)
{
	pg_free(p->ns);
	pg_free(p->name);
	pg_free(p->uid);
	pg_free(p->text);
	pg_free(p->ready);
	pg_free(p->ltt);
	json_decref(p->status);
}

/* Whether the cluster's status already says what @built says. */
static bool status_current(json_t *cached, json_t *built)
{
	const char *k;
	json_t *v;

	if (!cached)
		return false;
	json_object_foreach(built, k, v) {
		if (!json_equal(v, json_object_get(cached, k)))
			return false;
	}
	return true;
}

/* How much a status patch matters when there is no time for all: new
 * violations first (evidence of drift), then the Ready condition, then
 * counts (matchedPods, observedGeneration), which any leader recomputes. */
static int patch_rank(json_t *cached, json_t *built)
{
	json_t *last = json_object_get(built, "lastViolation");

	/* A status never written says no violation: 0 is no news. */
	if (json_integer_value(json_object_get(built, "violations")) !=
	    json_integer_value(json_object_get(cached, "violations")) ||
	    (last && !json_equal(last, json_object_get(cached, "lastViolation"))))
		return 0;
	/* The last valid generation recorded: what a restart while the
	 * profile is invalid will enforce. */
	if (!json_equal(json_object_get(built, "conditions"), json_object_get(cached, "conditions")) ||
	    json_object_get(built, "enforcedGeneration"))
		return 1;
	return 2;
}

static int patch_cmp(const void *x, const void *y)
{
	const struct status_ops_patch *a = x, *b = y;

	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

size_t status_ops_collect(struct profcache *pc, int64_t now_ms, int64_t wall_sec, bool all,
			  int64_t interval_ms, struct status_ops_patch **ret)
{
	struct status_ops_patch *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < pc->n; i++) {
		struct profcache_state *p = pc->v[i];
		struct status_profile st;
		const struct profcache_wp *aw;
		json_t *js, *cond;
		char *text;

		if (!p->dirty || (!all && now_ms - p->flushed_ms < interval_ms))
			continue;
		aw = profcache_applied_wp(p);
		st = (struct status_profile){
			.generation = p->wp->generation, .valid = p->wp->profile != NULL,
			.invalid_message = p->wp->invalid,
			.enforced_generation = p->wp->profile ? 0 : profcache_applied_generation(p),
			.restored = !aw && p->wp->restored,
			.stored_generation = p->wp->stored_generation,
			.enforced_spec = aw ? aw->spec : NULL,
			.enforced_spec_bytes = aw ? aw->spec_bytes : p->wp->restored_bytes,
			.matched = p->matched,
			.violations = p->base + p->added, .has_last = p->has_last,
			.last_pod = p->last_pod, .last_reason = p->last_reason,
			.last_message = p->last_message, .last_time = p->last_time,
			.prev_ready = p->my_ready ? p->my_ready : p->wp->ready,
			.prev_transition = p->my_ready ? p->my_ltt : p->wp->ready_ltt,
		};
		js = status_build(&st, wall_sec);
		text = js ? json_dumps(js, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		if (!text) {
			json_decref(js);
			continue;
		}
		p->dirty = false;
		/* Nothing to say when the cluster shows it already, or when we
		 * just said it and the cache has not caught up. */
		if (status_current(p->wp->status, js) ||
		    (p->written && strcmp(p->written, text) == 0 &&
		     now_ms - p->flushed_ms < STATUS_ECHO_MS)) {
			free(text);
			json_decref(js);
			continue;
		}
		if (n % 16 == 0) {
			struct status_ops_patch *nv = pg_realloc(v, (n + 16) * sizeof(*v));

			if (!nv) {
				free(text);
				json_decref(js);
				p->dirty = true;
				break;
			}
			v = nv;
		}
		p->flushed_ms = now_ms;
		cond = json_array_get(json_object_get(js, "conditions"), 0);
		v[n] = (struct status_ops_patch){
			.ns = pg_strdup(p->ns), .name = pg_strdup(p->name), .uid = pg_strdup(p->uid),
			.text = pg_strdup(text), .status = js,
			.ready = pg_strdup(json_string_value(json_object_get(cond, "status"))),
			.ltt = pg_strdup(json_string_value(json_object_get(cond, "lastTransitionTime"))),
			.rank = patch_rank(p->wp->status, js), .order = n,
		};
		free(text);
		n++;
	}
	*ret = v;
	return n;
}

void status_ops_sort(struct status_ops_patch *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), patch_cmp);
}

int status_ops_write(struct kube_client *client, atomic_bool *cancel, const char *ns,
		     const char *name, json_t *status, struct kube_error *err)
{
	struct buf path = BUF_INIT(4096);
	struct kube_request req = {
		.method = "PATCH", .content_type = "application/merge-patch+json",
		.retry = KUBE_RETRY_IDEMPOTENT, .cancel = cancel,
	};
	json_t *patch = json_pack("{sO}", "status", status);
	char *text = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
	int r = -ENOMEM;

	if (text && kube_path(&path, &kube_res_workloadprofiles, ns, name, "status") == 0) {
		req.path = buf_str(&path);
		req.body = text;
		req.body_len = strlen(text);
		r = kube_client_do(client, &req, NULL, err);
	}
	free(text);
	json_decref(patch);
	buf_free(&path);
	return r;
}

void status_ops_settle(struct profcache *pc, struct status_ops_patch *p, int r)
{
	struct profcache_state *ps = p->ns && p->name ? profcache_find(pc, p->ns, p->name) : NULL;

	if (!ps || !p->uid || strcmp(ps->uid, p->uid) != 0)
		return;
	if (r == 0) {
		pg_free(ps->written);
		pg_free(ps->my_ready);
		pg_free(ps->my_ltt);
		ps->written = p->text;
		ps->my_ready = p->ready;
		ps->my_ltt = p->ltt;
		p->text = p->ready = p->ltt = NULL;
	} else if (r != -ENOENT) {
		ps->dirty = true;
	}
}
