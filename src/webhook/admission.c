/* admission.c - AdmissionReview parsing, the choice of what to judge, and
 * the response bytes.  The engine decides; this file only reports, with
 * the engine's messages verbatim. */
#include "admission.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "errlist.h"
#include "pod.h"
#include "strutil.h"
#include "xalloc.h"

#define STATUS_MESSAGE_MAX (1024 * 1024)

static const char *const op_names[ADM_OP__COUNT] = {
	[ADM_CREATE] = "CREATE",
	[ADM_UPDATE] = "UPDATE",
	[ADM_DELETE] = "DELETE",
	[ADM_CONNECT] = "CONNECT",
};

const char *admission_op_name(enum admission_op op)
{
	return op < ADM_OP__COUNT ? op_names[op] : "other";
}

/* ---- parsing --------------------------------------------------------------- */

static int fail(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err && errsz) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A string member: absent or null gives @dflt; another type is an error. */
static int opt_str(const struct jval *o, const char *key, const char *path, const char *dflt,
		   const char **ret, char *err, size_t errsz)
{
	const struct jval *v = jval_get(o, key);

	if (jval_is_null(v)) {
		*ret = dflt;
		return 0;
	}
	if (!jval_is_string(v))
		return fail(err, errsz, "%s must be a string", path);
	*ret = jval_str(v);
	return 0;
}

static int opt_obj(const struct jval *o, const char *key, const char *path,
		   const struct jval **ret, char *err, size_t errsz)
{
	const struct jval *v = jval_get(o, key);

	if (jval_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	if (!jval_is_object(v))
		return fail(err, errsz, "%s must be an object", path);
	*ret = v;
	return 0;
}

static int parse_request(const struct jval *req, struct admission_review *rv, char *err,
			 size_t errsz)
{
	const struct jval *kind = NULL, *resource = NULL, *user = NULL, *dry;
	const char *op = NULL;
	int r;

	if ((r = opt_str(req, "uid", "request.uid", NULL, &rv->uid, err, errsz)) < 0)
		return r;
	if (!rv->uid || !*rv->uid)
		return fail(err, errsz, "request.uid is missing");
	if (strlen(rv->uid) > ADMISSION_MAX_UID)
		return fail(err, errsz, "request.uid is longer than %d bytes", ADMISSION_MAX_UID);

	if ((r = opt_str(req, "operation", "request.operation", NULL, &op, err, errsz)) < 0)
		return r;
	if (!op)
		return fail(err, errsz, "request.operation is missing");
	for (rv->op = 0; rv->op < ADM_OP__COUNT; rv->op++)
		if (strcmp(op, op_names[rv->op]) == 0)
			break;
	if (rv->op == ADM_OP__COUNT)
		return fail(err, errsz, "request.operation must be CREATE, UPDATE, DELETE or CONNECT");

	if ((r = opt_obj(req, "kind", "request.kind", &kind, err, errsz)) < 0)
		return r;
	if (!kind)
		return fail(err, errsz, "request.kind is missing");
	if ((r = opt_str(kind, "kind", "request.kind.kind", NULL, &rv->kind, err, errsz)) < 0 ||
	    (r = opt_str(kind, "group", "request.kind.group", "", &rv->group, err, errsz)) < 0)
		return r;
	if (!rv->kind || !*rv->kind)
		return fail(err, errsz, "request.kind.kind is missing");

	if ((r = opt_obj(req, "resource", "request.resource", &resource, err, errsz)) < 0 ||
	    (r = opt_str(resource, "resource", "request.resource.resource", "", &rv->resource,
			 err, errsz)) < 0 ||
	    (r = opt_str(req, "subResource", "request.subResource", "", &rv->sub_resource, err,
			 errsz)) < 0 ||
	    (r = opt_str(req, "namespace", "request.namespace", "", &rv->namespace, err, errsz)) < 0 ||
	    (r = opt_str(req, "name", "request.name", "", &rv->name, err, errsz)) < 0 ||
	    (r = opt_obj(req, "userInfo", "request.userInfo", &user, err, errsz)) < 0 ||
	    (r = opt_str(user, "username", "request.userInfo.username", "", &rv->username, err,
			 errsz)) < 0 ||
	    (r = opt_obj(req, "object", "request.object", &rv->object, err, errsz)) < 0 ||
	    (r = opt_obj(req, "oldObject", "request.oldObject", &rv->old_object, err, errsz)) < 0)
		return r;

	dry = jval_get(req, "dryRun");
	if (!jval_is_null(dry) && !jval_is_bool(dry))
		return fail(err, errsz, "request.dryRun must be a boolean");
	rv->dry_run = jval_is_true(dry);

	if ((rv->op == ADM_CREATE || rv->op == ADM_UPDATE) && !rv->object)
		return fail(err, errsz, "request.object is missing for %s", op_names[rv->op]);
	return 0;
}

int admission_review_parse(const char *data, size_t len, struct admission_review *ret,
			   char *err, size_t errsz)
{
	struct jval_limits lim = { ADMISSION_MAX_DEPTH, 1 << 20 };
	struct admission_review rv = { 0 };
	struct jval_error jerr;
	const struct jval *req = NULL;
	const char *kind = NULL;
	int r;

	if (len == 0)
		return fail(err, errsz, "empty request body");
	/* Most of a review becomes arena nodes: start near its size. */
	rv.arena = arena_new(len < 4096 ? 4096 : len < 256 * 1024 ? len * 2 : 256 * 1024);
	if (!rv.arena)
		return -ENOMEM;
	r = jval_parse(data, len, &lim, rv.arena, &rv.root, &jerr);
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		r = fail(err, errsz, "request body is not valid JSON: %s", jerr.msg);
		goto out;
	}
	if (!jval_is_object(rv.root)) {
		r = fail(err, errsz, "request body must be a JSON object");
		goto out;
	}
	if ((r = opt_str(rv.root, "apiVersion", "apiVersion", NULL, &rv.api_version, err, errsz)) < 0 ||
	    (r = opt_str(rv.root, "kind", "kind", NULL, &kind, err, errsz)) < 0)
		goto out;
	if (!str_eq(rv.api_version, "admission.k8s.io/v1") &&
	    !str_eq(rv.api_version, "admission.k8s.io/v1beta1")) {
		r = fail(err, errsz, "apiVersion must be admission.k8s.io/v1");
		goto out;
	}
	if (!str_eq(kind, "AdmissionReview")) {
		r = fail(err, errsz, "kind must be AdmissionReview");
		goto out;
	}
	if ((r = opt_obj(rv.root, "request", "request", &req, err, errsz)) < 0)
		goto out;
	if (!req) {
		r = fail(err, errsz, "request is missing");
		goto out;
	}
	r = parse_request(req, &rv, err, errsz);
	if (r < 0)
		goto out;
	*ret = rv;
	return 0;
out:
	arena_free(rv.arena);
	return r;
}

void admission_review_free(struct admission_review *rv)
{
	if (!rv)
		return;
	arena_free(rv->arena);
	memset(rv, 0, sizeof(*rv));
}

/* ---- responses ------------------------------------------------------------- */

void admission_response_init(struct admission_response *r)
{
	memset(r, 0, sizeof(*r));
	r->allowed = true;
	r->kind = "other";
	r->verdict = ADM_SKIP_KIND;
	buf_init(&r->message, STATUS_MESSAGE_MAX);
}

void admission_response_free(struct admission_response *r)
{
	if (!r)
		return;
	buf_free(&r->message);
	for (size_t i = 0; i < r->nwarnings; i++)
		pg_free(r->warnings[i]);
	pg_free(r->warnings);
	r->warnings = NULL;
	r->nwarnings = 0;
}

/* Cuts @s to at most @max bytes, "..." included, on a UTF-8 boundary. */
static char *cut_warning(const char *s, size_t max)
{
	size_t len = strlen(s), n;
	char *out;

	if (len <= max)
		return pg_strdup(s);
	n = max - 3;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	out = pg_malloc(n + 4);
	if (!out)
		return NULL;
	memcpy(out, s, n);
	memcpy(out + n, "...", 4);
	return out;
}

int admission_response_warn(struct admission_response *r, const char *msg)
{
	char **v;

	r->warnings_total++;
	if (r->nwarnings >= ADMISSION_MAX_WARNINGS)
		return 0;
	v = pg_realloc(r->warnings, (r->nwarnings + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->warnings = v;
	v[r->nwarnings] = cut_warning(msg, ADMISSION_MAX_WARNING_LEN);
	if (!v[r->nwarnings])
		return -ENOMEM;
	r->nwarnings++;
	return 0;
}

int admission_response_deny(struct admission_response *r, int code, const char *reason,
			    const char *msg)
{
	int e = 0;

	r->allowed = false;
	r->code = code;
	r->reason = reason;
	if (r->message.len)
		e = buf_adds(&r->message, "; ");
	if (e == 0)
		e = buf_adds(&r->message, msg);
	/* A message past the cap is cut, not an error: the denial stands. */
	return e == -ENOMEM ? -ENOMEM : 0;
}

static void set_object_ids(struct admission_response *r, const char *ns, const char *name)
{
	snprintf(r->obj_namespace, sizeof(r->obj_namespace), "%s", ns ? ns : "");
	snprintf(r->obj_name, sizeof(r->obj_name), "%s", name ? name : "");
}

static int deny_errors(struct admission_response *r, int code, const char *reason,
		       const struct errlist *errs)
{
	char more[64];
	int e = 0;

	for (size_t i = 0; i < errs->n && e == 0; i++)
		e = admission_response_deny(r, code, reason, errs->msgs[i]);
	if (e == 0 && errs->dropped) {
		snprintf(more, sizeof(more), "and %zu more errors", errs->dropped);
		e = admission_response_deny(r, code, reason, more);
	}
	if (e == 0 && r->allowed)       /* invalid without a message: still deny */
		e = admission_response_deny(r, code, reason, "invalid object");
	return e;
}

/* Whether the old pod already had @x.  By structure (reason, rule, path,
 * the whole value, profile), never by sentence: a sentence quotes at most
 * 240 bytes of a value, so an image swapped for another with the same
 * prefix would read as the old one. */
static bool had_finding(const struct findings *old, const struct finding *x)
{
	for (size_t i = 0; i < old->n; i++)
		if (old->v[i].mode == MODE_ENFORCE && finding_same(&old->v[i], x))
			return true;
	return false;
}

/* The Enforce findings of the old pod: what an update did not introduce. */
static int old_findings(const struct admission_review *rv, const struct profile_set *set,
			const struct engine_ctx *ctx, struct findings *out)
{
	struct errlist errs;
	struct pod *old = NULL;
	int r;

	errlist_init(&errs, 1);
	r = pod_from_jval(rv->old_object, rv->namespace[0] ? rv->namespace : NULL, &errs, &old);
	errlist_free(&errs);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return 0;       /* unreadable old object: judge the new one fully */
	r = engine_eval_pod(set, old, ctx, out);
	pod_free(old);
	return r;
}

static bool is_terminating(const struct jval *obj)
{
	return !jval_is_null(jval_get(jval_get(obj, "metadata"), "deletionTimestamp"));
}

/* identity.maxRisk needs the account's IdentityReport: without one it is
 * not judged (no report is no evidence), and the answer says so once per
 * profile, so nobody reads an allowed pod as a pod within its ceiling. */
static int warn_risk_unjudged(const struct admission_policy *pol, const struct pod *pod,
			      struct admission_response *ret)
{
	struct profile *const *first;
	size_t n = profile_set_namespace(pol->profiles, pod->namespace, &first);
	const struct risk_result *rr;
	const char *sa = pod_service_account(pod);
	char msg[1200], tmp[600];
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		if (first[i]->identity.max_risk == PROFILE_RISK_UNSET || !engine_selects(first[i], pod))
			continue;
		if (pol->identity_risk && pol->identity_risk(pol->secret_ud, pod->namespace, sa, &rr) == 0)
			continue;
		snprintf(msg, sizeof(msg), "%s.serviceAccountName: ServiceAccount %s has no IdentityReport yet, "
			 "so %s/%s identity.maxRisk is not judged", pod->spec_root, str_quote(sa, tmp, sizeof(tmp)),
			 first[i]->namespace, first[i]->name);
		r = admission_response_warn(ret, msg);
	}
	return r;
}

int admission_judge_pod(const struct admission_review *rv, const struct admission_policy *pol,
			struct admission_response *ret)
{
	struct engine_ctx ctx = { 0 };
	struct findings f, old;
	struct errlist errs;
	enum workload_kind wk;
	struct pod *pod = NULL;
	int r;

	set_object_ids(ret, rv->namespace, rv->name);
	if (rv->op == ADM_DELETE || rv->op == ADM_CONNECT ||
	    (rv->sub_resource[0] && strcmp(rv->sub_resource, "ephemeralcontainers") != 0)) {
		ret->verdict = ADM_SKIP_OPERATION;
		if (rv->object && pod_workload_kind(rv->object, &wk) == 0)
			ret->kind = workload_kind_name(wk);
		else if (str_eq(rv->kind, "Pod") && rv->group[0] == '\0')
			ret->kind = "Pod";
		return 0;
	}
	r = pod_workload_kind(rv->object, &wk);
	if (r == -ENOENT) {
		ret->verdict = ADM_SKIP_KIND;
		return 0;
	}
	if (r < 0) {
		ret->verdict = ADM_BAD_OBJECT;
		return admission_response_deny(ret, 400, "BadRequest",
					       "request.object: apiVersion and kind are required");
	}
	ret->kind = workload_kind_name(wk);
	if (wk == WK_POD && rv->op == ADM_UPDATE && is_terminating(rv->object)) {
		ret->verdict = ADM_SKIP_TERMINATING;
		return 0;
	}

	errlist_init(&errs, 0);
	r = pod_from_jval(rv->object, rv->namespace[0] ? rv->namespace : NULL, &errs, &pod);
	if (r == -EINVAL) {
		ret->verdict = ADM_BAD_OBJECT;
		r = deny_errors(ret, 400, "BadRequest", &errs);
	}
	errlist_free(&errs);
	if (r == -ENOENT) {
		ret->verdict = ADM_SKIP_KIND;
		return 0;
	}
	if (r < 0 || ret->verdict == ADM_BAD_OBJECT)
		return r;
	set_object_ids(ret, pod->namespace, pod->name[0] ? pod->name : rv->name);
	if (pol->ns_ignored && pol->ns_ignored(pol->ud, pod->namespace)) {
		ret->verdict = ADM_SKIP_NAMESPACE;
		pod_free(pod);
		return 0;
	}

	ret->verdict = ADM_JUDGED;
	ctx.sa_admission_done = wk == WK_POD;
	ctx.is_token_secret = pol->is_token_secret;
	ctx.identity_risk = pol->identity_risk;
	ctx.ud = pol->secret_ud;
	findings_init(&f, 0);
	findings_init(&old, 0);
	r = engine_eval_pod(pol->profiles, pod, &ctx, &f);
	if (r == 0 && f.n && wk == WK_POD && rv->op == ADM_UPDATE && rv->old_object &&
	    findings_count(&f, MODE_ENFORCE))
		r = old_findings(rv, pol->profiles, &ctx, &old);
	for (size_t i = 0; i < f.n && r == 0; i++) {
		const struct finding *x = &f.v[i];

		if (x->mode == MODE_ENFORCE && !had_finding(&old, x)) {
			ret->violations++;
			r = admission_response_deny(ret, 403, "Forbidden", x->message);
		} else {
			r = admission_response_warn(ret, x->message);
		}
	}
	if (r == 0)
		r = warn_risk_unjudged(pol, pod, ret);
	if (r == 0 && f.dropped) {
		char more[96];

		snprintf(more, sizeof(more), "and %zu more findings", f.dropped);
		r = ret->allowed ? admission_response_warn(ret, more)
				 : admission_response_deny(ret, 403, "Forbidden", more);
	}
	findings_free(&old);
	findings_free(&f);
	pod_free(pod);
	return r;
}

int admission_judge_profile(const struct admission_review *rv, struct admission_response *ret)
{
	const char *av, *kind, *name;
	struct errlist errs;
	int r;

	ret->kind = "WorkloadProfile";
	set_object_ids(ret, rv->namespace, rv->name);
	if (rv->op == ADM_DELETE || rv->op == ADM_CONNECT || rv->sub_resource[0]) {
		ret->verdict = ADM_SKIP_OPERATION;
		return 0;
	}
	av = jval_str(jval_get(rv->object, "apiVersion"));
	kind = jval_str(jval_get(rv->object, "kind"));
	if (!str_eq(kind, "WorkloadProfile") || !av || !str_has_prefix(av, "profileguard.io/")) {
		ret->kind = "other";
		ret->verdict = ADM_SKIP_KIND;
		return 0;
	}
	name = jval_str(jval_get(jval_get(rv->object, "metadata"), "name"));
	if (name)
		set_object_ids(ret, rv->namespace, name);
	ret->verdict = ADM_JUDGED;
	errlist_init(&errs, 0);
	r = profile_parse(rv->object, rv->namespace[0] ? rv->namespace : "default", &errs, NULL);
	if (r == -EINVAL) {
		ret->violations = errlist_count(&errs);
		r = deny_errors(ret, 422, "Invalid", &errs);
	}
	errlist_free(&errs);
	return r;
}

/* ---- rendering ------------------------------------------------------------- */

/* "s", escaped as JSON (buf_add_json_escaped copies runs of plain ASCII in
 * one go, and replaces what is not UTF-8: a key cut mid-character must not
 * make the API server's review answer invalid). */
static int add_json_str(struct buf *b, const char *s)
{
	size_t start = b->len;
	int r = buf_addc(b, '"');

	if (r == 0)
		r = buf_add_json_escaped(b, s);
	if (r == 0)
		r = buf_addc(b, '"');
	if (r < 0)
		buf_truncate(b, start);
	return r;
}

int admission_response_render(const struct admission_review *rv,
			      const struct admission_response *r, struct buf *out)
{
	size_t start = out->len, shown;
	int e;

	e = buf_adds(out, "{\"apiVersion\":");
	if (e == 0)
		e = add_json_str(out, rv->api_version);
	if (e == 0)
		e = buf_adds(out, ",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":");
	if (e == 0)
		e = add_json_str(out, rv->uid);
	if (e == 0)
		e = buf_printf(out, ",\"allowed\":%s", r->allowed ? "true" : "false");
	if (e == 0 && !r->allowed) {
		e = buf_printf(out, ",\"status\":{\"code\":%d,\"reason\":\"%s\",\"message\":", r->code,
			       r->reason ? r->reason : "Forbidden");
		if (e == 0)
			e = add_json_str(out, buf_str(&r->message));
		if (e == 0)
			e = buf_addc(out, '}');
	}
	if (e == 0 && r->nwarnings) {
		/* Past the cap the last slot says what was left out. */
		shown = r->warnings_total > r->nwarnings ? r->nwarnings - 1 : r->nwarnings;
		e = buf_adds(out, ",\"warnings\":[");
		for (size_t i = 0; i < shown && e == 0; i++) {
			e = i ? buf_addc(out, ',') : 0;
			if (e == 0)
				e = add_json_str(out, r->warnings[i]);
		}
		if (e == 0 && shown < r->nwarnings)
			e = buf_printf(out, "%s\"%zu more warnings not shown\"", shown ? "," : "",
				       r->warnings_total - shown);
		if (e == 0)
			e = buf_addc(out, ']');
	}
	if (e == 0)
		e = buf_adds(out, "}}");
	if (e < 0)
		buf_truncate(out, start);
	return e;
}

int admission_error_render(const char *msg, struct buf *out)
{
	size_t start = out->len;
	int e = buf_adds(out, "{\"error\":");

	if (e == 0)
		e = add_json_str(out, msg);
	if (e == 0)
		e = buf_adds(out, "}\n");
	if (e < 0)
		buf_truncate(out, start);
	return e;
}
