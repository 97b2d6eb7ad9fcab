/* cmd_rbac.c - `profileguard rbac`: least privilege from behaviour.  From
 * captured audit events, the smallest Role, ClusterRole and bindings per
 * ServiceAccount that allow exactly its authorized calls (engine/leastpriv.h),
 * each rule commented with what it covers; with RBAC manifests, what they
 * grant that was never used.  Exit 0, 2 for bad input (docs/rbac.md). */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "cmd.h"
#include "errlist.h"
#include "hash.h"
#include "identity.h"
#include "jval.h"
#include "leastpriv.h"
#include "manifest.h"
#include "rbac.h"
#include "rfc3339.h"
#include "strutil.h"
#include "telemetry.h"
#include "xalloc.h"

#define SA_USER_PREFIX "system:serviceaccount:"
#define NAME_PREFIX "profileguard-"
#define NAME_MAX_LEN 253                /* a Role's or binding's name */
/* Bounds on one run: each is a refusal naming it, never a cut. */
#define RBAC_CMD_MAX_OBJECTS 1000000    /* roles and bindings in the manifests */
#define RBAC_CMD_MAX_OUTPUT (512u * 1024 * 1024)
#define MANAGED_BY "app.kubernetes.io/managed-by"

struct run {
	const char *default_ns;
	const char *only_ns, *only_name;        /* --serviceaccount */
	struct errlist errs;
	struct leastpriv *lp;
	const char *file;                       /* the audit file being read */
	size_t events;                          /* calls taken */
	struct rbac_set rbac;           /* until indexed */
	size_t objects;
	bool manifests;                         /* RBAC manifests were given */
	bool audit;                             /* a file of audit events was */
};

/* ---- reading ------------------------------------------------------------------- */

static int on_object(void *ud, const struct manifest_origin *o, const struct jval *obj)
{
	struct run *v = ud;
	enum rbac_kind k = rbac_kind_of(obj);
	struct errlist e;
	int r = 0;

	if (k != RBAC_ROLE && k != RBAC_CLUSTER_ROLE && k != RBAC_ROLE_BINDING && k != RBAC_CLUSTER_ROLE_BINDING)
		return 0;       /* a chart's Deployments, ServiceAccounts, ... */
	if (++v->objects > RBAC_CMD_MAX_OBJECTS) {
		errlist_add(&v->errs, "%s: document %zu: more than %d RBAC objects (profileguard's limit)", o->file,
			    o->doc, RBAC_CMD_MAX_OBJECTS);
		return -E2BIG;
	}
	errlist_init(&e, 16);
	r = rbac_set_add(&v->rbac, obj, v->default_ns, &e);
	if (r == -EINVAL) {
		for (size_t i = 0; i < e.n; i++)
			errlist_add(&v->errs, "%s: document %zu: %s: %s", o->file, o->doc, rbac_kind_name(k), e.msgs[i]);
		r = 0;
	}
	errlist_free(&e);
	return r;
}

/* "FILE: line N" or "FILE: item N" of the event @e. */
static void where(const struct run *v, const struct telemetry_event *e, char *out, size_t n)
{
	if (e->line)
		snprintf(out, n, "%s: line %zu", v->file, e->line);
	else if (e->item)
		snprintf(out, n, "%s: item %zu", v->file, e->item);
	else
		snprintf(out, n, "%s", v->file);
}

static int on_audit(void *ud, const struct telemetry_event *e)
{
	struct run *v = ud;
	struct leastpriv_call c = { 0 };
	char name_ns[254], path[LEASTPRIV_MAX_STRING + 2], at[1024];
	const char *rest, *colon;
	int r;

	if (e->ev.kind != RUNTIME_API || !str_has_prefix(e->ev.username, SA_USER_PREFIX))
		return 0;
	rest = e->ev.username + strlen(SA_USER_PREFIX);
	colon = strchr(rest, ':');
	if (!colon || (size_t)(colon - rest) >= sizeof(name_ns)) {
		where(v, e, at, sizeof(at));
		errlist_add(&v->errs, "%s: user.username: not system:serviceaccount:NS:NAME", at);
		return 0;
	}
	memcpy(name_ns, rest, (size_t)(colon - rest));
	name_ns[colon - rest] = '\0';
	c.sa_namespace = name_ns;
	c.sa_name = colon + 1;
	if (v->only_ns && (strcmp(v->only_ns, c.sa_namespace) || strcmp(v->only_name, c.sa_name)))
		return 0;
	/* The account's names make the generated objects' names and
	 * subjects: they must be what the API server allows. */
	if (!str_is_dns1123_label(c.sa_namespace) || !str_is_dns1123_subdomain(c.sa_name)) {
		where(v, e, at, sizeof(at));
		errlist_add(&v->errs, "%s: user.username: not a ServiceAccount's name (system:serviceaccount:NS:NAME)",
			    at);
		return 0;
	}
	c.verb = e->ev.verb;
	c.group = e->ev.api_group;
	c.resource = e->ev.resource;
	c.subresource = e->ev.subresource;
	c.name = e->ev.object_name;
	c.namespace = e->ev.object_namespace;
	c.code = e->code;
	c.time = e->ev.time;
	if (!c.resource && e->request_uri) {
		/* a non-resource URL: the path, without the query */
		size_t n = strcspn(e->request_uri, "?");

		if (n <= LEASTPRIV_MAX_STRING) {
			memcpy(path, e->request_uri, n);
			path[n] = '\0';
			c.path = path;
		} else {
			c.path = e->request_uri;        /* refused as too long */
		}
	}
	r = leastpriv_add(v->lp, &c);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		where(v, e, at, sizeof(at));
		errlist_add(&v->errs, "%s: %s", at, leastpriv_error(v->lp));
		return r == -E2BIG ? -ECANCELED : 0;
	}
	v->events++;
	return 0;
}

static void run_free(struct run *v)
{
	rbac_set_free(&v->rbac);
	leastpriv_free(v->lp);
	errlist_free(&v->errs);
}

/* ---- the output: a buffer whose first failed write sticks, so a role
 * missing a rule is never handed out ---------------------------------------------- */

struct w {
	struct buf b;
	int err;
};

static void w_adds(struct w *o, const char *s)
{
	if (!o->err)
		o->err = buf_adds(&o->b, s);
}

static void w_addc(struct w *o, char c)
{
	if (!o->err)
		o->err = buf_addc(&o->b, c);
}

static void w_printf(struct w *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_printf(struct w *o, const char *fmt, ...)
{
	va_list ap;

	if (o->err)
		return;
	va_start(ap, fmt);
	o->err = buf_vprintf(&o->b, fmt, ap);
	va_end(ap);
}

static void w_scalar(struct w *o, const char *s)
{
	if (!o->err)
		o->err = buf_add_yaml_scalar(&o->b, s);
}

/* Text from the audit log or the manifests in a comment or a text line:
 * printable ASCII only (buf_add_yaml_comment()). */
static void safe(struct w *o, const char *s)
{
	if (!o->err)
		o->err = buf_add_yaml_comment(&o->b, s);
}

/* ---- names and text -------------------------------------------------------------- */

/* profileguard-NS.NAME: a DNS subdomain, which every validator takes (the
 * API server asks less of RBAC names), and unambiguous since a namespace
 * holds no dot.  Past NAME_MAX_LEN bytes it is cut (before a dot or dash,
 * so it stays a subdomain) and ends in "-" and 16 hex digits of the FNV-1a
 * 64 of the whole, so it stays unique and stable; the subject names the
 * account in full. */
static void object_name(const struct leastpriv_account *a, char out[NAME_MAX_LEN + 1])
{
	char full[sizeof(NAME_PREFIX) + 2 * NAME_MAX_LEN + 2];
	size_t n = (size_t)snprintf(full, sizeof(full), NAME_PREFIX "%s.%s", a->namespace, a->name);

	if (n <= NAME_MAX_LEN) {
		memcpy(out, full, n + 1);
		return;
	}
	n = NAME_MAX_LEN - 17;
	while (n > 0 && (full[n - 1] == '.' || full[n - 1] == '-'))
		n--;
	snprintf(out, NAME_MAX_LEN + 1, "%.*s-%016" PRIx64, (int)n, full, hash_fnv1a64_str(HASH_FNV64_BASIS, full));
}

static void fmt_time(int64_t t, char out[RFC3339_MAX])
{
	struct timespec ts = { (time_t)t, 0 };

	if (t < 0 || rfc3339_format(&ts, 0, out) < 0)
		snprintf(out, RFC3339_MAX, "?");
}

/* "pods/log", "apps/deployments/scale": the group before the resource. */
static void res_text(struct w *b, const char *group, const char *resource)
{
	if (group && *group)
		w_printf(b, "%s/", group);
	w_adds(b, resource);
}

static void join_safe(struct w *b, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			w_addc(b, ',');
		safe(b, v[i]);
	}
}

/* "get,watch configmaps [cfg] in app" of a rule, for comments and text. */
static void rule_text(struct w *b, const struct leastpriv_rule *r)
{
	join_safe(b, r->verbs, r->nverbs);
	w_addc(b, ' ');
	if (r->path) {
		safe(b, r->path);
		return;
	}
	res_text(b, r->group, r->resource);
	if (r->nnames) {
		w_adds(b, " [");
		join_safe(b, r->names, r->nnames);
		w_addc(b, ']');
	}
}

static void calls_text(struct w *b, size_t calls, int64_t first, int64_t last)
{
	char t1[RFC3339_MAX], t2[RFC3339_MAX];

	fmt_time(first, t1);
	fmt_time(last, t2);
	w_printf(b, "%zu call%s, first seen %s, last seen %s", calls, calls == 1 ? "" : "s", t1, t2);
}

static void unused_text(struct w *b, const struct leastpriv_unused *u)
{
	safe(b, u->verb);
	w_addc(b, ' ');
	if (*u->group) {
		safe(b, u->group);
		w_addc(b, '/');
	}
	safe(b, u->resource);
	if (u->nnames) {
		w_adds(b, " [");
		join_safe(b, u->names, u->nnames);
		w_addc(b, ']');
	}
	if (u->namespace) {
		w_adds(b, " in ");
		safe(b, u->namespace);
	} else {
		w_adds(b, " cluster-wide");
	}
	w_adds(b, " via ");
	safe(b, u->via);
}

static void refusal_text(struct w *b, const struct leastpriv_refusal *f)
{
	safe(b, f->verb);
	w_addc(b, ' ');
	if (f->path) {
		safe(b, f->path);
	} else {
		if (*f->group) {
			safe(b, f->group);
			w_addc(b, '/');
		}
		safe(b, f->resource);
	}
	if (f->namespace) {
		w_adds(b, " in ");
		safe(b, f->namespace);
	} else if (!f->path) {
		w_adds(b, " cluster-wide");
	}
	w_adds(b, ": ");
	calls_text(b, f->calls, f->first, f->last);
}

/* ---- YAML ------------------------------------------------------------------------- */

static void ylist(struct w *b, const char *key, const char *const *v, size_t n)
{
	w_printf(b, "    %s:\n", key);
	for (size_t i = 0; i < n; i++) {
		w_adds(b, "      - ");
		w_scalar(b, v[i]);
		w_addc(b, '\n');
	}
}

static void yaml_meta(struct w *b, const char *kind, const char *ns, const char *name)
{
	w_printf(b, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: %s\nmetadata:\n  name: ", kind);
	w_scalar(b, name);
	w_addc(b, '\n');
	if (ns) {
		w_adds(b, "  namespace: ");
		w_scalar(b, ns);
		w_addc(b, '\n');
	}
	w_adds(b, "  labels:\n    " MANAGED_BY ": profileguard\n");
}

static void yaml_account(struct w *b, const struct leastpriv_account *a, bool manifests)
{
	char name[NAME_MAX_LEN + 1];

	object_name(a, name);
	w_adds(b, "# ServiceAccount ");
	safe(b, a->namespace);
	w_addc(b, ':');
	safe(b, a->name);
	w_printf(b, ": calls: %zu authorized, %zu refused (403), %zu neither\n", a->authorized, a->refused,
		   a->other);
	for (size_t i = 0; i < a->nroles; i++) {
		const struct leastpriv_role *ro = &a->roles[i];

		yaml_meta(b, ro->namespace ? "Role" : "ClusterRole", ro->namespace, name);
		w_adds(b, "rules:\n");
		for (size_t k = 0; k < ro->nrules; k++) {
			const struct leastpriv_rule *r = &ro->rules[k];

			w_adds(b, "  # ");
			rule_text(b, r);
			w_adds(b, ": ");
			calls_text(b, r->calls, r->first, r->last);
			w_addc(b, '\n');
			if (r->names_dropped)
				w_printf(b, "  # resourceNames dropped: the calls named more than %d objects "
					      "(profileguard's limit), so this rule allows every object\n",
					   LEASTPRIV_MAX_NAMES);
			if (r->path) {
				w_adds(b, "  - nonResourceURLs:\n      - ");
				w_scalar(b, r->path);
				w_addc(b, '\n');
			} else {
				w_adds(b, "  - apiGroups:\n      - ");
				w_scalar(b, r->group);
				w_adds(b, "\n    resources:\n      - ");
				w_scalar(b, r->resource);
				w_addc(b, '\n');
				if (r->nnames)
					ylist(b, "resourceNames", r->names, r->nnames);
			}
			ylist(b, "verbs", r->verbs, r->nverbs);
		}
		yaml_meta(b, ro->namespace ? "RoleBinding" : "ClusterRoleBinding", ro->namespace, name);
		w_printf(b, "roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: %s\n  name: ",
			   ro->namespace ? "Role" : "ClusterRole");
		w_scalar(b, name);
		w_adds(b, "\nsubjects:\n  - kind: ServiceAccount\n    name: ");
		w_scalar(b, a->name);
		w_adds(b, "\n    namespace: ");
		w_scalar(b, a->namespace);
		w_addc(b, '\n');
	}
	if (manifests) {
		w_printf(b, "# granted but unused: %zu\n", a->nunused);
		for (size_t i = 0; i < a->nunused; i++) {
			w_adds(b, "#   ");
			unused_text(b, &a->unused[i]);
			w_addc(b, '\n');
		}
		if (a->nonresource_grants)
			w_printf(b, "#   (%zu nonResourceURLs rules granted, not compared)\n", a->nonresource_grants);
	}
	if (a->nrefusals) {
		w_printf(b, "# used but refused (403): %zu\n", a->nrefusals);
		for (size_t i = 0; i < a->nrefusals; i++) {
			w_adds(b, "#   ");
			refusal_text(b, &a->refusals[i]);
			w_addc(b, '\n');
		}
	}
}

/* ---- text ------------------------------------------------------------------------- */

static void text_account(struct w *b, const struct leastpriv_account *a, bool manifests)
{
	char name[NAME_MAX_LEN + 1];

	object_name(a, name);
	safe(b, a->namespace);
	w_addc(b, ':');
	safe(b, a->name);
	w_printf(b, ": calls: %zu authorized, %zu refused (403), %zu neither\n", a->authorized, a->refused,
		   a->other);
	for (size_t i = 0; i < a->nroles; i++) {
		const struct leastpriv_role *ro = &a->roles[i];

		if (ro->namespace)
			w_printf(b, "  Role %s/%s (RoleBinding %s/%s)\n", ro->namespace, name, ro->namespace, name);
		else
			w_printf(b, "  ClusterRole %s (ClusterRoleBinding %s)\n", name, name);
		for (size_t k = 0; k < ro->nrules; k++) {
			w_adds(b, "    ");
			rule_text(b, &ro->rules[k]);
			w_adds(b, ": ");
			calls_text(b, ro->rules[k].calls, ro->rules[k].first, ro->rules[k].last);
			if (ro->rules[k].names_dropped)
				w_printf(b, " (resourceNames dropped: more than %d objects)", LEASTPRIV_MAX_NAMES);
			w_addc(b, '\n');
		}
	}
	if (manifests) {
		for (size_t i = 0; i < a->nunused; i++) {
			w_adds(b, "  granted but unused: ");
			unused_text(b, &a->unused[i]);
			w_addc(b, '\n');
		}
	}
	for (size_t i = 0; i < a->nrefusals; i++) {
		w_adds(b, "  used but refused: ");
		refusal_text(b, &a->refusals[i]);
		w_addc(b, '\n');
	}
}

/* ---- JSON ------------------------------------------------------------------------- */

static json_t *jlist(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *jtime(int64_t t)
{
	char s[RFC3339_MAX];

	fmt_time(t, s);
	return json_string(s);
}

/* Builds with json_*_new, whose failures leave a NULL somewhere: the
 * caller checks the whole tree once (json_dumpb fails on none; a missing
 * member is an out-of-memory we report). */
static json_t *json_account(const struct leastpriv_account *a, bool manifests)
{
	char name[NAME_MAX_LEN + 1];
	json_t *o = json_object(), *roles = json_array(), *refused = json_array(), *unused = NULL;

	object_name(a, name);
	if (!o || !roles || !refused)
		goto fail;
	for (size_t i = 0; i < a->nroles; i++) {
		const struct leastpriv_role *ro = &a->roles[i];
		json_t *jr = json_object(), *rules = json_array();

		if (!jr || !rules || json_array_append_new(roles, jr) < 0) {
			json_decref(rules);
			goto fail;
		}
		if (json_object_set_new(jr, "kind", json_string(ro->namespace ? "Role" : "ClusterRole")) < 0 ||
		    (ro->namespace && json_object_set_new(jr, "namespace", json_string(ro->namespace)) < 0) ||
		    json_object_set_new(jr, "name", json_string(name)) < 0 ||
		    json_object_set_new(jr, "bindingKind",
					json_string(ro->namespace ? "RoleBinding" : "ClusterRoleBinding")) < 0 ||
		    json_object_set_new(jr, "rules", rules) < 0)
			goto fail;
		for (size_t k = 0; k < ro->nrules; k++) {
			const struct leastpriv_rule *r = &ro->rules[k];
			json_t *j = json_object();

			if (!j || json_array_append_new(rules, j) < 0)
				goto fail;
			if (r->path) {
				if (json_object_set_new(j, "nonResourceURLs", jlist(&r->path, 1)) < 0)
					goto fail;
			} else if (json_object_set_new(j, "apiGroups", jlist(&r->group, 1)) < 0 ||
				   json_object_set_new(j, "resources", jlist(&r->resource, 1)) < 0 ||
				   (r->nnames && json_object_set_new(j, "resourceNames", jlist(r->names, r->nnames)) < 0)) {
				goto fail;
			}
			if (json_object_set_new(j, "verbs", jlist(r->verbs, r->nverbs)) < 0 ||
			    json_object_set_new(j, "calls", json_integer((json_int_t)r->calls)) < 0 ||
			    json_object_set_new(j, "firstSeen", jtime(r->first)) < 0 ||
			    json_object_set_new(j, "lastSeen", jtime(r->last)) < 0 ||
			    json_object_set_new(j, "resourceNamesDropped", json_boolean(r->names_dropped)) < 0)
				goto fail;
		}
	}
	for (size_t i = 0; i < a->nrefusals; i++) {
		const struct leastpriv_refusal *f = &a->refusals[i];
		json_t *j = json_object();

		if (!j || json_array_append_new(refused, j) < 0 ||
		    json_object_set_new(j, "verb", json_string(f->verb)) < 0 ||
		    (f->path && json_object_set_new(j, "nonResourceURL", json_string(f->path)) < 0) ||
		    (!f->path && json_object_set_new(j, "apiGroup", json_string(f->group)) < 0) ||
		    (!f->path && json_object_set_new(j, "resource", json_string(f->resource)) < 0) ||
		    (f->namespace && json_object_set_new(j, "namespace", json_string(f->namespace)) < 0) ||
		    json_object_set_new(j, "calls", json_integer((json_int_t)f->calls)) < 0 ||
		    json_object_set_new(j, "firstSeen", jtime(f->first)) < 0 ||
		    json_object_set_new(j, "lastSeen", jtime(f->last)) < 0)
			goto fail;
	}
	if (manifests) {
		if (!(unused = json_array()))
			goto fail;
		for (size_t i = 0; i < a->nunused; i++) {
			const struct leastpriv_unused *u = &a->unused[i];
			json_t *j = json_object();

			if (!j || json_array_append_new(unused, j) < 0 ||
			    json_object_set_new(j, "verb", json_string(u->verb)) < 0 ||
			    json_object_set_new(j, "apiGroup", json_string(u->group)) < 0 ||
			    json_object_set_new(j, "resource", json_string(u->resource)) < 0 ||
			    json_object_set_new(j, "namespace", json_string(u->namespace ? u->namespace : "*")) < 0 ||
			    (u->nnames && json_object_set_new(j, "resourceNames", jlist(u->names, u->nnames)) < 0) ||
			    json_object_set_new(j, "via", json_string(u->via)) < 0)
				goto fail;
		}
	}
	if (json_object_set_new(o, "namespace", json_string(a->namespace)) < 0 ||
	    json_object_set_new(o, "name", json_string(a->name)) < 0 ||
	    json_object_set_new(o, "authorizedCalls", json_integer((json_int_t)a->authorized)) < 0 ||
	    json_object_set_new(o, "refusedCalls", json_integer((json_int_t)a->refused)) < 0 ||
	    json_object_set_new(o, "otherCalls", json_integer((json_int_t)a->other)) < 0 ||
	    json_object_set_new(o, "roles", roles) < 0 || json_object_set_new(o, "usedButRefused", refused) < 0)
		goto fail_set;
	roles = refused = NULL;
	if (unused) {
		if (json_object_set_new(o, "grantedButUnused", unused) < 0)
			goto fail_set;
		if (a->nonresource_grants &&
		    json_object_set_new(o, "nonResourceGrantsNotCompared", json_integer((json_int_t)a->nonresource_grants)) < 0)
			goto fail_set;
	}
	return o;
fail:
	json_decref(roles);
	json_decref(refused);
	json_decref(unused);
fail_set:
	json_decref(o);
	return NULL;
}

/* ---- the command ---------------------------------------------------------------------- */

static int on_grant(void *ud, const struct risk_grant *g)
{
	void **p = ud;

	return leastpriv_grant(p[0], p[1], g);
}

int cmd_rbac(int argc, char **argv)
{
	static const char synopsis[] =
		"-f AUDIT_EVENTS [-f RBAC_MANIFESTS] [--serviceaccount NS:NAME] [-o yaml|json|text]\n\n"
		"Least privilege from behaviour: for each ServiceAccount in captured audit events (a\n"
		"file the audit backend wrote), the smallest Role per namespace and ClusterRole, with\n"
		"their bindings, that allow exactly its authorized calls, each rule commented with the\n"
		"calls it covers and when they were first and last seen.  With RBAC manifests (Roles,\n"
		"ClusterRoles, bindings), also what they grant that no call used; calls refused (403)\n"
		"are listed either way.\n"
		"Exit 0: written; 2: bad input (nothing is written then).\n"
		"The output is described in docs/rbac.md.";
	struct cmd_common_opts common = { 0 };
	struct strlist files = { 0 };
	const char *output = "yaml", *namespace = NULL, *only = NULL;
	const struct flag flags[] = {
		{ "filename", 'f', FLAG_STRINGS, &files, "PATH", "audit events or RBAC manifests: file, directory or -" },
		CMD_OUTPUT_FLAG(&output, "yaml|json|text", "output format (default yaml)"),
		{ "serviceaccount", 0, FLAG_STRING, &only, "NS:NAME", "only this ServiceAccount" },
		{ "namespace", 'n', FLAG_STRING, &namespace, "NS", "namespace of manifests that name none, as kubectl apply -n (default: default)" },
		CMD_LOG_FLAGS(&common),
		{ 0 },
	};
	struct run v = { 0 };
	struct identity_index *x = NULL;
	struct leastpriv_account *acc = NULL;
	struct w out = { BUF_INIT(RBAC_CMD_MAX_OUTPUT), 0 };
	char only_ns[254];
	size_t nacc = 0;
	json_t *list = NULL;
	bool json = false, text = false;
	int optind_, r, rc = CMD_EXIT_PASS;

	r = flags_parse(flags, argc, argv, "rbac", synopsis, &optind_);
	if (r != 0)
		return r > 0 ? CMD_EXIT_PASS : CMD_EXIT_BAD_INPUT;
	if (optind_ < argc) {
		fprintf(stderr, "profileguard rbac: unexpected argument \"%s\" (inputs go after -f)\n", argv[optind_]);
		goto usage;
	}
	if (cmd_common_setup("rbac", &common) < 0)
		goto usage;
	json = !strcmp(output, "json");
	text = !strcmp(output, "text");
	if (namespace && cmd_check_namespace("rbac", namespace) < 0)
		goto usage;
	if (only) {
		const char *colon = strchr(only, ':');

		if (!colon || (size_t)(colon - only) >= sizeof(only_ns) || colon == only || !colon[1]) {
			fprintf(stderr, "profileguard rbac: --serviceaccount must be NS:NAME\n");
			goto usage;
		}
		memcpy(only_ns, only, (size_t)(colon - only));
		only_ns[colon - only] = '\0';
		v.only_ns = only_ns;
		v.only_name = colon + 1;
	}
	if (files.n == 0) {
		fprintf(stderr, "profileguard rbac: need -f AUDIT_EVENTS (see --help)\n");
		goto usage;
	}
	v.default_ns = namespace ? namespace : "default";
	errlist_init(&v.errs, 1000);
	if (leastpriv_new(&v.lp) < 0)
		goto oom;
	for (size_t i = 0; i < files.n && !v.errs.n; i++) {
		if (cmd_is_audit_file(files.v[i])) {
			v.file = files.v[i];
			v.audit = true;
			r = cmd_read_audit(files.v[i], on_audit, &v, &v.errs);
		} else {
			v.manifests = true;
			r = manifest_walk(files.v[i], on_object, &v, &v.errs);
		}
		if (r == -ENOMEM)
			goto oom;
		if (r < 0)
			break;
	}
	if (!v.errs.n && !v.audit)
		errlist_add(&v.errs, "none of the -f files holds audit events (a file the audit backend wrote)");
	/* The manifests' RBAC, aggregated as the API server would: its
	 * refusals are errors like any other, before anything is printed. */
	if (!v.errs.n && v.manifests &&
	    (identity_index_new(&x) < 0 ||
	     identity_index_load(x, v.rbac.roles, v.rbac.nroles, v.rbac.bindings, v.rbac.nbindings, &v.errs) < 0))
		goto oom;
	if (v.errs.n || v.errs.dropped)
		goto errors;
	if (leastpriv_accounts(v.lp, &acc, &nacc) < 0)
		goto oom;
	if (v.manifests) {
		for (size_t i = 0; i < nacc; i++) {
			void *p[2] = { v.lp, &acc[i] };

			r = identity_index_grants(x, acc[i].namespace, acc[i].name, on_grant, p);
			if (r == -ENOMEM)
				goto oom;
			if (r < 0) {
				errlist_add(&v.errs, "%s", leastpriv_error(v.lp));
				goto errors;
			}
			leastpriv_grants_done(&acc[i]);
		}
	}
	if (json) {
		json_t *doc;

		if (!(list = json_array()))
			goto oom;
		for (size_t i = 0; i < nacc; i++) {
			json_t *j = json_account(&acc[i], v.manifests);

			if (!j || json_array_append_new(list, j) < 0)
				goto oom;
		}
		doc = json_pack("{s:o, s:{s:I, s:I, s:b}}", "serviceAccounts", list, "summary", "serviceAccounts",
				(json_int_t)nacc, "calls", (json_int_t)v.events, "rbacManifests", v.manifests);
		list = NULL;
		if (!doc)
			goto oom;
		r = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		json_decref(doc);
		if (r < 0)
			goto oom;
		putchar('\n');
	} else {
		if (!text)
			w_printf(&out, "# profileguard rbac: ServiceAccounts: %zu, calls: %zu\n", nacc, v.events);
		for (size_t i = 0; i < nacc; i++) {
			if (text)
				text_account(&out, &acc[i], v.manifests);
			else
				yaml_account(&out, &acc[i], v.manifests);
		}
		if (text)
			w_printf(&out, "ServiceAccounts: %zu, calls: %zu\n", nacc, v.events);
		if (out.err == -ENOMEM)
			goto oom;
		if (out.err) {
			errlist_add(&v.errs, "the output is larger than 512 MiB (profileguard's limit)");
			goto errors;
		}
		fwrite(buf_str(&out.b), 1, out.b.len, stdout);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "profileguard rbac: writing the output: %s\n", strerror(errno));
		rc = CMD_EXIT_BAD_INPUT;
	}
	goto done;
errors:
	for (size_t i = 0; i < v.errs.n; i++)
		fprintf(stderr, "profileguard rbac: %s\n", v.errs.msgs[i]);
	if (v.errs.dropped)
		fprintf(stderr, "profileguard rbac: %zu more errors not listed\n", v.errs.dropped);
	rc = CMD_EXIT_BAD_INPUT;
done:
	buf_free(&out.b);
	identity_index_free(x);
	run_free(&v);
	strlist_free(&files);
	return rc;
oom:
	fprintf(stderr, "profileguard rbac: out of memory\n");
	json_decref(list);
	buf_free(&out.b);
	identity_index_free(x);
	run_free(&v);
	strlist_free(&files);
	return CMD_EXIT_BAD_INPUT;
usage:
	strlist_free(&files);
	return CMD_EXIT_BAD_INPUT;
}
