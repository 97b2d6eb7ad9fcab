/* kube_api.c - typed API calls: generic JSON verbs, pod deletes and
 * evictions, Events, Leases, TokenReviews. */
#include "kube_api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "rfc3339.h"
#include "ticker.h"
#include "xalloc.h"

#define MERGE_PATCH "application/merge-patch+json"

static int decode_body(const struct buf *body, json_t **ret_obj)
{
	json_error_t jerr;
	json_t *v;

	if (!ret_obj)
		return 0;
	v = json_loadb(buf_str(body), body->len, 0, &jerr);
	if (!v)
		return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EBADMSG;
	if (!json_is_object(v)) {
		json_decref(v);
		return -EBADMSG;
	}
	*ret_obj = v;
	return 0;
}

static void set_local_error(struct kube_error *err, const char *reason, const char *msg)
{
	if (!err)
		return;
	snprintf(err->reason, sizeof(err->reason), "%s", reason);
	snprintf(err->message, sizeof(err->message), "%s", msg);
}

/* Sends @body (a serialized object, may be NULL) and decodes the answer
 * when @ret_obj asks for it. */
static int call(struct kube_client *c, struct kube_request *req, json_t **ret_obj,
		struct kube_error *err)
{
	struct buf body = BUF_INIT(0);
	int r;

	r = kube_client_do(c, req, ret_obj ? &body : NULL, err);
	if (r == 0) {
		r = decode_body(&body, ret_obj);
		if (r == -EBADMSG)
			set_local_error(err, "BadResponse", "the API server's answer is not a "
					"JSON object");
	}
	buf_free(&body);
	return r;
}

static int send_json(struct kube_client *c, const char *method, const char *path,
		     const struct kube_param *query, const char *content_type, json_t *obj,
		     enum kube_retry retry, json_t **ret_obj, struct kube_error *err)
{
	struct kube_request req = {
		.method = method, .path = path, .query = query,
		.content_type = content_type, .retry = retry,
	};
	char *text = NULL;
	int r;

	if (obj) {
		text = json_dumps(obj, JSON_COMPACT);
		if (!text)
			return -ENOMEM;
		req.body = text;
		req.body_len = strlen(text);
	}
	r = call(c, &req, ret_obj, err);
	free(text);     /* json_dumps allocates with jansson's allocator */
	return r;
}

int kube_api_get_json(struct kube_client *c, const char *path, const struct kube_param *query,
		      json_t **ret_obj, struct kube_error *err)
{
	struct kube_request req = { .method = "GET", .path = path, .query = query };

	return call(c, &req, ret_obj, err);
}

/* Builds the path into @p; -ENOMEM only. */
static int path_of(struct buf *p, const struct kube_resource *r, const char *ns,
		   const char *name, const char *sub)
{
	return kube_path(p, r, ns, name, sub);
}

int kube_api_get(struct kube_client *c, const struct kube_resource *r, const char *ns,
		 const char *name, json_t **ret_obj, struct kube_error *err)
{
	struct buf p = BUF_INIT(8192);
	int e = path_of(&p, r, ns, name, NULL);

	if (e == 0)
		e = kube_api_get_json(c, buf_str(&p), NULL, ret_obj, err);
	buf_free(&p);
	return e;
}

int kube_api_create(struct kube_client *c, const struct kube_resource *r, const char *ns,
		    json_t *obj, bool idempotent, json_t **ret_obj, struct kube_error *err)
{
	struct buf p = BUF_INIT(8192);
	int e = path_of(&p, r, ns, NULL, NULL);

	if (e == 0)
		e = send_json(c, "POST", buf_str(&p), NULL, NULL, obj,
			      idempotent ? KUBE_RETRY_IDEMPOTENT : KUBE_RETRY_UNSENT, ret_obj, err);
	buf_free(&p);
	return e;
}

int kube_api_replace(struct kube_client *c, const struct kube_resource *r, const char *ns,
		     const char *name, json_t *obj, json_t **ret_obj, struct kube_error *err)
{
	struct buf p = BUF_INIT(8192);
	int e = path_of(&p, r, ns, name, NULL);

	if (e == 0)
		e = send_json(c, "PUT", buf_str(&p), NULL, NULL, obj, KUBE_RETRY_IDEMPOTENT,
			      ret_obj, err);
	buf_free(&p);
	return e;
}

int kube_api_merge_patch(struct kube_client *c, const struct kube_resource *r, const char *ns,
			 const char *name, const char *sub, json_t *patch, json_t **ret_obj,
			 struct kube_error *err)
{
	struct buf p = BUF_INIT(8192);
	int e = path_of(&p, r, ns, name, sub);

	if (e == 0)
		e = send_json(c, "PATCH", buf_str(&p), NULL, MERGE_PATCH, patch,
			      KUBE_RETRY_IDEMPOTENT, ret_obj, err);
	buf_free(&p);
	return e;
}

int kube_api_status_patch(struct kube_client *c, const struct kube_resource *r, const char *ns,
			  const char *name, json_t *status, struct kube_error *err)
{
	json_t *patch = json_pack("{sO}", "status", status);
	int e;

	if (!patch)
		return -ENOMEM;
	e = kube_api_merge_patch(c, r, ns, name, "status", patch, NULL, err);
	json_decref(patch);
	return e;
}

/* ---- pods --------------------------------------------------------------- */

/* DeleteOptions as a JSON object: preconditions and grace period. */
static json_t *delete_options(const struct kube_api_delete_opts *o, bool typed)
{
	json_t *d = typed ? json_pack("{ssss}", "apiVersion", "v1", "kind", "DeleteOptions")
			  : json_object();

	if (!d)
		return NULL;
	if (o && o->uid && json_object_set_new(d, "preconditions",
					       json_pack("{ss}", "uid", o->uid)) < 0)
		goto fail;
	if (o && o->grace_period >= 0 &&
	    json_object_set_new(d, "gracePeriodSeconds", json_integer(o->grace_period)) < 0)
		goto fail;
	return d;
fail:
	json_decref(d);
	return NULL;
}

int kube_api_pod_delete(struct kube_client *c, const char *ns, const char *name,
			const struct kube_api_delete_opts *o, struct kube_error *err)
{
	const struct kube_param q[] = {
		{ "dryRun", o && o->dry_run ? "All" : NULL },
		{ NULL, NULL },
	};
	struct buf p = BUF_INIT(8192);
	json_t *body = delete_options(o, true);
	int e = -ENOMEM;

	if (body && path_of(&p, &kube_res_pods, ns, name, NULL) == 0)
		e = send_json(c, "DELETE", buf_str(&p), q, NULL, body, KUBE_RETRY_IDEMPOTENT,
			      NULL, err);
	json_decref(body);
	buf_free(&p);
	return e;
}

int kube_api_pod_evict(struct kube_client *c, const char *ns, const char *name,
		       const struct kube_api_delete_opts *o, struct kube_error *err)
{
	const struct kube_param q[] = {
		{ "dryRun", o && o->dry_run ? "All" : NULL },
		{ NULL, NULL },
	};
	struct kube_request req = {
		.method = "POST", .query = q, .retry = KUBE_RETRY_IDEMPOTENT,
		.no_retry_429 = true,
	};
	struct buf p = BUF_INIT(8192);
	json_t *ev = NULL, *opts = delete_options(o, false);
	char *text = NULL;
	int e = -ENOMEM;

	if (!opts)
		goto out;
	ev = json_pack("{sssss{ssss}sO}", "apiVersion", "policy/v1", "kind", "Eviction",
		       "metadata", "name", name, "namespace", ns, "deleteOptions", opts);
	if (!ev || path_of(&p, &kube_res_pods, ns, name, "eviction") < 0)
		goto out;
	text = json_dumps(ev, JSON_COMPACT);
	if (!text)
		goto out;
	req.path = buf_str(&p);
	req.body = text;
	req.body_len = strlen(text);
	e = call(c, &req, NULL, err);
out:
	free(text);
	json_decref(opts);
	json_decref(ev);
	buf_free(&p);
	return e;
}

/* ---- events --------------------------------------------------------------- */

static json_t *object_ref(const struct kube_api_object_ref *r)
{
	json_t *o = json_pack("{ssss}", "apiVersion", r->api_version ? r->api_version : "v1",
			      "kind", r->kind);

	if (!o)
		return NULL;
	if ((r->ns && json_object_set_new(o, "namespace", json_string(r->ns)) < 0) ||
	    (r->name && json_object_set_new(o, "name", json_string(r->name)) < 0) ||
	    (r->uid && json_object_set_new(o, "uid", json_string(r->uid)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void now_or(struct timespec *ts, const struct timespec *given)
{
	if (given && (given->tv_sec || given->tv_nsec))
		*ts = *given;
	else
		ticker_wall(ts);
}

/* The API server refuses notes over 1 KiB; cut on a UTF-8 boundary. */
static json_t *note_string(const char *note)
{
	size_t n = strlen(note);

	if (n > 1024) {
		n = 1024;
		while (n > 0 && ((unsigned char)note[n] & 0xC0) == 0x80)
			n--;
	}
	return json_stringn(note, n);
}

int kube_api_event_create(struct kube_client *c, const char *ns, const struct kube_api_event *ev,
			  char **ret_name, struct kube_error *err)
{
	struct buf name = BUF_INIT(253);
	char when[RFC3339_MAX];
	struct timespec t;
	json_t *obj = NULL, *v;
	int e = -ENOMEM;

	now_or(&t, &ev->event_time);
	if (rfc3339_format(&t, 1, when) < 0)
		return -EINVAL;
	if (ev->name) {
		if (buf_adds(&name, ev->name) < 0)
			goto out;
	} else {
		/* <name>.<nanoseconds in hex>, kept under 253 characters. */
		const char *base = ev->regarding.name ? ev->regarding.name : "profileguard";
		int64_t nanos = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;

		if (buf_printf(&name, "%.*s.%llx", 200, base, (unsigned long long)nanos) < 0)
			goto out;
	}
	obj = json_pack("{ssss s{ssss} ss ss ss ss ss}",
			"apiVersion", "events.k8s.io/v1", "kind", "Event",
			"metadata", "name", buf_str(&name), "namespace", ns,
			"eventTime", when,
			"type", ev->type ? ev->type : "Normal",
			"reason", ev->reason ? ev->reason : "",
			"action", ev->action ? ev->action : "",
			"reportingController", ev->reporting_controller ?
				ev->reporting_controller : "profileguard.io/controller");
	if (!obj)
		goto out;
	if (ev->reporting_instance &&
	    json_object_set_new(obj, "reportingInstance", json_string(ev->reporting_instance)) < 0)
		goto out;
	if (ev->note && json_object_set_new(obj, "note", note_string(ev->note)) < 0)
		goto out;
	if (ev->regarding.kind) {
		v = object_ref(&ev->regarding);
		if (!v || json_object_set_new(obj, "regarding", v) < 0)
			goto out;
	}
	if (ev->related.kind) {
		v = object_ref(&ev->related);
		if (!v || json_object_set_new(obj, "related", v) < 0)
			goto out;
	}
	e = kube_api_create(c, &kube_res_events, ns, obj, true, NULL, err);
	if (e == 0 && ret_name) {
		*ret_name = buf_steal(&name);
		if (!*ret_name)
			e = -ENOMEM;
	}
out:
	json_decref(obj);
	buf_free(&name);
	return e;
}

int kube_api_event_series_update(struct kube_client *c, const char *ns, const char *name,
				 int32_t count, const struct timespec *last_observed,
				 struct kube_error *err)
{
	char when[RFC3339_MAX];
	struct timespec t;
	json_t *patch;
	int e;

	now_or(&t, last_observed);
	if (rfc3339_format(&t, 1, when) < 0)
		return -EINVAL;
	patch = json_pack("{s{siss}}", "series", "count", (int)count, "lastObservedTime", when);
	if (!patch)
		return -ENOMEM;
	e = kube_api_merge_patch(c, &kube_res_events, ns, name, NULL, patch, NULL, err);
	json_decref(patch);
	return e;
}

/* ---- leases --------------------------------------------------------------- */

void kube_api_lease_clear(struct kube_api_lease *l)
{
	if (!l)
		return;
	pg_free(l->holder);
	pg_free(l->resource_version);
	memset(l, 0, sizeof(*l));
}

static int time_field(json_t *obj, const char *key, struct timespec *ret)
{
	json_t *v = json_object_get(obj, key);
	int64_t t;

	ret->tv_sec = 0;
	ret->tv_nsec = 0;
	if (!json_is_string(v))
		return 0;
	if (rfc3339_parse(json_string_value(v), &t, NULL) < 0)
		return -EBADMSG;
	ret->tv_sec = (time_t)t;
	return 0;
}

static int lease_from_json(json_t *obj, struct kube_api_lease *ret)
{
	json_t *spec = json_object_get(obj, "spec");
	json_t *meta = json_object_get(obj, "metadata");
	json_t *holder = json_object_get(spec, "holderIdentity");
	json_t *rv = json_object_get(meta, "resourceVersion");
	struct kube_api_lease l = { 0 };

	if (!json_is_object(meta))
		return -EBADMSG;
	l.duration_s = (int32_t)json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	l.transitions = (int32_t)json_integer_value(json_object_get(spec, "leaseTransitions"));
	if (time_field(spec, "acquireTime", &l.acquire) < 0 ||
	    time_field(spec, "renewTime", &l.renew) < 0)
		return -EBADMSG;
	if ((json_is_string(holder) && !(l.holder = pg_strdup(json_string_value(holder)))) ||
	    (json_is_string(rv) && !(l.resource_version = pg_strdup(json_string_value(rv))))) {
		kube_api_lease_clear(&l);
		return -ENOMEM;
	}
	*ret = l;
	return 0;
}

static json_t *lease_to_json(const char *ns, const char *name, const struct kube_api_lease *l)
{
	char t[RFC3339_MAX];
	json_t *o, *spec;

	o = json_pack("{sssss{ssss}s{si si}}", "apiVersion", "coordination.k8s.io/v1",
		      "kind", "Lease", "metadata", "name", name, "namespace", ns,
		      "spec", "leaseDurationSeconds", (int)l->duration_s,
		      "leaseTransitions", (int)l->transitions);
	if (!o)
		return NULL;
	spec = json_object_get(o, "spec");
	if (l->resource_version &&
	    json_object_set_new(json_object_get(o, "metadata"), "resourceVersion",
				json_string(l->resource_version)) < 0)
		goto fail;
	if (l->holder && json_object_set_new(spec, "holderIdentity", json_string(l->holder)) < 0)
		goto fail;
	if (l->acquire.tv_sec && (rfc3339_format(&l->acquire, 1, t) < 0 ||
				  json_object_set_new(spec, "acquireTime", json_string(t)) < 0))
		goto fail;
	if (l->renew.tv_sec && (rfc3339_format(&l->renew, 1, t) < 0 ||
				json_object_set_new(spec, "renewTime", json_string(t)) < 0))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static int lease_result(int e, json_t *obj, struct kube_api_lease *ret, struct kube_error *err)
{
	if (e == 0 && ret) {
		kube_api_lease_clear(ret);
		e = lease_from_json(obj, ret);
		if (e == -EBADMSG)
			set_local_error(err, "BadResponse", "the Lease in the answer is malformed");
	}
	/* Both 409s mean another replica wrote first. */
	if (e == -EEXIST)
		e = -ESTALE;
	json_decref(obj);
	return e;
}

int kube_api_lease_get(struct kube_client *c, const char *ns, const char *name,
		       struct kube_api_lease *ret, struct kube_error *err)
{
	json_t *obj = NULL;
	int e;

	memset(ret, 0, sizeof(*ret));
	e = kube_api_get(c, &kube_res_leases, ns, name, &obj, err);
	return lease_result(e, obj, ret, err);
}

int kube_api_lease_create(struct kube_client *c, const char *ns, const char *name,
			  const struct kube_api_lease *l, struct kube_api_lease *ret, struct kube_error *err)
{
	json_t *body = lease_to_json(ns, name, l), *obj = NULL;
	int e;

	if (!body)
		return -ENOMEM;
	json_object_del(json_object_get(body, "metadata"), "resourceVersion");
	e = kube_api_create(c, &kube_res_leases, ns, body, true, ret ? &obj : NULL, err);
	json_decref(body);
	return lease_result(e, obj, ret, err);
}

int kube_api_lease_update(struct kube_client *c, const char *ns, const char *name,
			  const struct kube_api_lease *l, struct kube_api_lease *ret, struct kube_error *err)
{
	json_t *body, *obj = NULL;
	int e;

	if (!l->resource_version)
		return -EINVAL;
	body = lease_to_json(ns, name, l);
	if (!body)
		return -ENOMEM;
	e = kube_api_replace(c, &kube_res_leases, ns, name, body, ret ? &obj : NULL, err);
	json_decref(body);
	return lease_result(e, obj, ret, err);
}

/* ---- token reviews -------------------------------------------------------- */

void kube_api_token_review_clear(struct kube_api_token_review *tr)
{
	if (!tr)
		return;
	pg_free(tr->username);
	pg_free(tr->uid);
	for (size_t i = 0; i < tr->ngroups; i++)
		pg_free(tr->groups[i]);
	pg_free(tr->groups);
	for (size_t i = 0; i < tr->naudiences; i++)
		pg_free(tr->audiences[i]);
	pg_free(tr->audiences);
	json_decref(tr->extra);
	pg_free(tr->error);
	memset(tr, 0, sizeof(*tr));
}

static int strings_of(json_t *arr, char ***ret, size_t *ret_n)
{
	size_t i, n = json_is_array(arr) ? json_array_size(arr) : 0;
	json_t *v;

	*ret = NULL;
	*ret_n = 0;
	if (n == 0)
		return 0;
	*ret = pg_calloc(n, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			continue;
		(*ret)[*ret_n] = pg_strdup(json_string_value(v));
		if (!(*ret)[*ret_n])
			return -ENOMEM;
		(*ret_n)++;
	}
	return 0;
}

static int dup_opt(json_t *v, char **ret)
{
	*ret = NULL;
	if (!json_is_string(v))
		return 0;
	*ret = pg_strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

static int token_review_from_json(json_t *obj, struct kube_api_token_review *tr)
{
	json_t *st = json_object_get(obj, "status");
	json_t *user = json_object_get(st, "user");
	json_t *extra = json_object_get(user, "extra");

	tr->authenticated = json_is_true(json_object_get(st, "authenticated"));
	if (dup_opt(json_object_get(user, "username"), &tr->username) < 0 ||
	    dup_opt(json_object_get(user, "uid"), &tr->uid) < 0 ||
	    dup_opt(json_object_get(st, "error"), &tr->error) < 0 ||
	    strings_of(json_object_get(user, "groups"), &tr->groups, &tr->ngroups) < 0 ||
	    strings_of(json_object_get(st, "audiences"), &tr->audiences, &tr->naudiences) < 0)
		return -ENOMEM;
	if (json_is_object(extra))
		tr->extra = json_incref(extra);
	return 0;
}

int kube_api_token_review(struct kube_client *c, const char *token, const char *const *audiences,
			  struct kube_api_token_review *ret, struct kube_error *err)
{
	struct kube_request req = { .method = "POST", .retry = KUBE_RETRY_IDEMPOTENT };
	struct buf body = BUF_INIT(128 * 1024), p = BUF_INIT(256);
	json_t *obj = NULL;
	int e = -ENOMEM;

	memset(ret, 0, sizeof(*ret));
	/* Built by hand, not with jansson, so every copy of the token is
	 * ours to wipe. */
	if (buf_adds(&body, "{\"apiVersion\":\"authentication.k8s.io/v1\","
		     "\"kind\":\"TokenReview\",\"spec\":{\"token\":\"") < 0 ||
	    buf_add_json_escaped(&body, token) < 0 || buf_adds(&body, "\"") < 0)
		goto out;
	if (audiences && *audiences) {
		if (buf_adds(&body, ",\"audiences\":[") < 0)
			goto out;
		for (const char *const *a = audiences; *a; a++) {
			if ((a != audiences && buf_addc(&body, ',') < 0) ||
			    buf_addc(&body, '"') < 0 || buf_add_json_escaped(&body, *a) < 0 ||
			    buf_addc(&body, '"') < 0)
				goto out;
		}
		if (buf_addc(&body, ']') < 0)
			goto out;
	}
	if (buf_adds(&body, "}}") < 0 || path_of(&p, &kube_res_tokenreviews, NULL, NULL, NULL) < 0)
		goto out;
	req.path = buf_str(&p);
	req.body = body.data;
	req.body_len = body.len;
	e = call(c, &req, &obj, err);
	if (e == 0) {
		e = token_review_from_json(obj, ret);
		if (e < 0)
			kube_api_token_review_clear(ret);
	}
out:
	json_decref(obj);
	if (body.data)
		explicit_bzero(body.data, body.cap);
	buf_free(&body);
	buf_free(&p);
	return e;
}

const char *kube_api_token_review_extra(const struct kube_api_token_review *tr, const char *key)
{
	json_t *v = json_object_get(tr->extra, key);

	if (json_is_array(v))
		v = json_array_get(v, 0);
	return json_is_string(v) ? json_string_value(v) : NULL;
}
