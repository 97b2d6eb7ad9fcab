/* rbac.c - Roles, ClusterRoles, bindings and ServiceAccounts from their
 * API objects.  Strict about types and bounds (a Role the API server
 * would refuse is refused here with the field's path), lenient about
 * absence, as the API server's defaulting is. */
#include "rbac.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "errlist.h"
#include "fpath.h"
#include "jval.h"
#include "mctx.h"
#include "strutil.h"
#include "xalloc.h"

#define RBAC_GROUP "rbac.authorization.k8s.io/"
#define SA_USER_PREFIX "system:serviceaccount:"

static const char *const kind_names[] = {
	[RBAC_ROLE] = "Role",
	[RBAC_CLUSTER_ROLE] = "ClusterRole",
	[RBAC_ROLE_BINDING] = "RoleBinding",
	[RBAC_CLUSTER_ROLE_BINDING] = "ClusterRoleBinding",
	[RBAC_SERVICE_ACCOUNT] = "ServiceAccount",
	[RBAC_OTHER] = "object",
};

const char *rbac_kind_name(enum rbac_kind k)
{
	return (unsigned)k <= RBAC_OTHER ? kind_names[k] : "object";
}

enum rbac_kind rbac_kind_of(const struct jval *obj)
{
	const char *kind = jval_str(jval_get(obj, "kind"));
	const char *av = jval_str(jval_get(obj, "apiVersion"));

	if (!kind || !av)
		return RBAC_OTHER;
	if (!strcmp(kind, "ServiceAccount"))
		return !strcmp(av, "v1") ? RBAC_SERVICE_ACCOUNT : RBAC_OTHER;
	if (strncmp(av, RBAC_GROUP, strlen(RBAC_GROUP)))
		return RBAC_OTHER;
	for (int k = RBAC_ROLE; k <= RBAC_CLUSTER_ROLE_BINDING; k++)
		if (!strcmp(kind, kind_names[k]))
			return (enum rbac_kind)k;
	return RBAC_OTHER;
}

/* A string member: absent or null is NULL; another type, a NUL inside or
 * more than RBAC_MAX_STRING bytes is an error. */
static const char *get_str(struct mctx *c, const struct jval *o, const char *key)
{
	const struct jval *v = jval_get(o, key);
	size_t mark;
	const char *r = NULL;

	if (jval_is_null(v))
		return NULL;
	mark = fpath_key(&c->path, key);
	if (!jval_is_string(v))
		mctx_err(c, jval_has_nul(v) ? "must not contain NUL" : "must be a string");
	else if (v->n > RBAC_MAX_STRING)
		mctx_err(c, "longer than %d bytes (profileguard's limit)", RBAC_MAX_STRING);
	else
		r = mctx_dup(c, jval_str(v));
	fpath_pop(&c->path, mark);
	return r;
}

/* A list of strings at @key into @ret and @n.  Absent is empty. */
static void get_strv(struct mctx *c, const struct jval *o, const char *key, const char ***ret,
		     size_t *n)
{
	const struct jval *v = jval_get(o, key), *it;
	size_t mark, i;

	*ret = NULL;
	*n = 0;
	if (jval_is_null(v))
		return;
	mark = fpath_key(&c->path, key);
	if (!jval_is_array(v)) {
		mctx_err(c, "must be a list of strings");
	} else if (jval_size(v) > RBAC_MAX_LIST) {
		mctx_err(c, "more than %d items (profileguard's limit)", RBAC_MAX_LIST);
	} else if (jval_size(v) && !(*ret = arena_alloc(c->a, jval_size(v) * sizeof(char *)))) {
		c->oom = true;
	} else {
		jval_foreach_item(v, i, it) {
			size_t m2 = fpath_index(&c->path, i);

			if (!jval_is_string(it))
				mctx_err(c, jval_has_nul(it) ? "must not contain NUL" : "must be a string");
			else if (it->n > RBAC_MAX_STRING)
				mctx_err(c, "longer than %d bytes (profileguard's limit)", RBAC_MAX_STRING);
			else
				(*ret)[(*n)++] = mctx_dup(c, jval_str(it));
			fpath_pop(&c->path, m2);
		}
	}
	fpath_pop(&c->path, mark);
}

/* metadata: name (required), namespace (namespaced kinds: @default_ns
 * when absent; cluster kinds: NULL), uid, labels. */
static void read_meta(struct mctx *c, const struct jval *obj, bool namespaced,
		      const char *default_ns, const char **ns, const char **name,
		      const char **uid, struct labels *labels)
{
	const struct jval *meta = jval_get(obj, "metadata");
	size_t mark = fpath_key(&c->path, "metadata"), before;

	*ns = *name = *uid = NULL;
	if (!jval_is_object(meta)) {
		mctx_err(c, "must be an object with a name");
		fpath_pop(&c->path, mark);
		return;
	}
	before = errlist_count(c->errs);
	*name = get_str(c, meta, "name");
	if ((!*name || !**name) && errlist_count(c->errs) == before) {
		size_t m2 = fpath_key(&c->path, "name");

		mctx_err(c, "required");
		fpath_pop(&c->path, m2);
	}
	*uid = get_str(c, meta, "uid");
	if (namespaced) {
		*ns = get_str(c, meta, "namespace");
		if (*ns && !str_is_dns1123_label(*ns)) {
			size_t m2 = fpath_key(&c->path, "namespace");

			mctx_err(c, "not a namespace name (RFC 1123 label: a-z, 0-9 and '-', at most 63)");
			fpath_pop(&c->path, m2);
		} else if (!*ns) {
			*ns = mctx_dup(c, default_ns ? default_ns : "default");
		}
	}
	if (labels) {
		size_t m2 = fpath_key(&c->path, "labels");

		if (labels_from_jval(jval_get(meta, "labels"), c->a, &c->path, c->errs, labels) < 0)
			c->failed = true;
		fpath_pop(&c->path, m2);
	}
	fpath_pop(&c->path, mark);
}

static void read_rule(struct mctx *c, const struct jval *o, struct rbac_rule *r)
{
	const char **urls;
	size_t nurls;

	if (!jval_is_object(o)) {
		mctx_err(c, "must be an object");
		return;
	}
	get_strv(c, o, "verbs", &r->verbs, &r->nverbs);
	get_strv(c, o, "apiGroups", &r->groups, &r->ngroups);
	get_strv(c, o, "resources", &r->resources, &r->nresources);
	get_strv(c, o, "resourceNames", &r->names, &r->nnames);
	get_strv(c, o, "nonResourceURLs", &urls, &nurls);
	r->non_resource = nurls > 0 && r->nresources == 0;
}

static void read_rules(struct mctx *c, const struct jval *obj, struct rbac_role *role)
{
	const struct jval *rules = jval_get(obj, "rules"), *it;
	size_t mark, i;

	if (jval_is_null(rules))
		return;
	mark = fpath_key(&c->path, "rules");
	if (!jval_is_array(rules)) {
		mctx_err(c, "must be a list");
	} else if (jval_size(rules) > RBAC_MAX_RULES) {
		mctx_err(c, "more than %d rules (profileguard's limit)", RBAC_MAX_RULES);
	} else if (jval_size(rules) &&
		   !(role->rules = arena_alloc(c->a, jval_size(rules) * sizeof(*role->rules)))) {
		c->oom = true;
	} else {
		jval_foreach_item(rules, i, it) {
			size_t m2 = fpath_index(&c->path, i);

			memset(&role->rules[i], 0, sizeof(role->rules[i]));
			read_rule(c, it, &role->rules[i]);
			fpath_pop(&c->path, m2);
		}
		role->nrules = jval_size(rules);
	}
	fpath_pop(&c->path, mark);
}

static void read_aggregation(struct mctx *c, const struct jval *obj, struct rbac_role *role)
{
	const struct jval *ag = jval_get(obj, "aggregationRule"), *sels, *it;
	size_t mark, m2, i;

	if (jval_is_null(ag))
		return;
	mark = fpath_key(&c->path, "aggregationRule");
	sels = jval_get(ag, "clusterRoleSelectors");
	m2 = fpath_key(&c->path, "clusterRoleSelectors");
	if (!jval_is_object(ag) || !jval_is_array(sels)) {
		mctx_err(c, "must be a list of label selectors");
	} else if (jval_size(sels) > RBAC_MAX_SELECTORS) {
		mctx_err(c, "more than %d selectors (profileguard's limit)", RBAC_MAX_SELECTORS);
	} else if (jval_size(sels) &&
		   !(role->aggregation = arena_alloc(c->a, jval_size(sels) * sizeof(*role->aggregation)))) {
		c->oom = true;
	} else {
		jval_foreach_item(sels, i, it) {
			size_t m3 = fpath_index(&c->path, i);
			int r = selector_parse(it, c->a, &c->path, c->errs, &role->aggregation[i]);

			if (r == -ENOMEM)
				c->oom = true;
			else if (r < 0)
				c->failed = true;
			fpath_pop(&c->path, m3);
		}
		role->naggregation = jval_size(sels);
	}
	fpath_pop(&c->path, m2);
	fpath_pop(&c->path, mark);
}

int rbac_role_parse(const struct jval *obj, const char *default_ns, struct errlist *errs,
		    struct rbac_role **ret)
{
	enum rbac_kind k = rbac_kind_of(obj);
	struct mctx c = { .errs = errs };
	struct rbac_role *role;
	int r;

	fpath_init(&c.path, "");
	if (k != RBAC_ROLE && k != RBAC_CLUSTER_ROLE) {
		errlist_add(errs, "kind: must be Role or ClusterRole of rbac.authorization.k8s.io");
		return -EINVAL;
	}
	if (!(c.a = arena_new(1024)))
		return -ENOMEM;
	if (!(role = arena_alloc(c.a, sizeof(*role)))) {
		arena_free(c.a);
		return -ENOMEM;
	}
	memset(role, 0, sizeof(*role));
	role->arena = c.a;
	read_meta(&c, obj, k == RBAC_ROLE, default_ns, &role->namespace, &role->name, &role->uid,
		  &role->labels);
	read_rules(&c, obj, role);
	if (k == RBAC_CLUSTER_ROLE)
		read_aggregation(&c, obj, role);
	if ((r = mctx_result(&c)) < 0) {
		rbac_role_free(role);
		return r;
	}
	*ret = role;
	return 0;
}

/* "system:serviceaccount:NS:NAME" as an account subject; false when @user
 * is not one. */
static bool sa_user(struct mctx *c, const char *user, struct rbac_subject *s)
{
	const char *rest, *colon;

	if (strncmp(user, SA_USER_PREFIX, strlen(SA_USER_PREFIX)))
		return false;
	rest = user + strlen(SA_USER_PREFIX);
	colon = strchr(rest, ':');
	if (!colon || colon == rest || colon - rest > 63 || !colon[1] || strchr(colon + 1, ':'))
		return false;
	s->kind = SUBJECT_SERVICE_ACCOUNT;
	if (!(s->namespace = arena_strndup(c->a, rest, (size_t)(colon - rest))))
		c->oom = true;
	s->name = mctx_dup(c, colon + 1);
	return true;
}

static void read_subject(struct mctx *c, const struct jval *o, const char *binding_ns,
			 struct rbac_subject *s)
{
	size_t before = errlist_count(c->errs);
	const char *kind, *name, *ns;

	if (!jval_is_object(o)) {
		mctx_err(c, "must be an object");
		return;
	}
	kind = get_str(c, o, "kind");
	name = get_str(c, o, "name");
	ns = get_str(c, o, "namespace");
	if (errlist_count(c->errs) != before)
		return;
	if (!kind || !name || !*name) {
		mctx_err(c, "a subject needs a kind and a name");
		return;
	}
	s->name = name;
	if (!strcmp(kind, "ServiceAccount")) {
		s->kind = SUBJECT_SERVICE_ACCOUNT;
		s->namespace = ns ? ns : binding_ns;
		if (ns && !str_is_dns1123_label(ns)) {
			size_t m = fpath_key(&c->path, "namespace");

			mctx_err(c, "not a namespace name (RFC 1123 label: a-z, 0-9 and '-', at most 63)");
			fpath_pop(&c->path, m);
		} else if (!s->namespace) {
			size_t m = fpath_key(&c->path, "namespace");

			mctx_err(c, "required for a ServiceAccount subject of a ClusterRoleBinding");
			fpath_pop(&c->path, m);
		}
	} else if (!strcmp(kind, "Group")) {
		s->kind = SUBJECT_GROUP;
	} else if (!strcmp(kind, "User")) {
		if (!sa_user(c, name, s))
			s->kind = SUBJECT_USER;
	} else {
		size_t m = fpath_key(&c->path, "kind");

		mctx_err(c, "must be ServiceAccount, User or Group");
		fpath_pop(&c->path, m);
	}
}

static void read_subjects(struct mctx *c, const struct jval *obj, struct rbac_binding *b)
{
	const struct jval *subs = jval_get(obj, "subjects"), *it;
	size_t mark, i;

	if (jval_is_null(subs))
		return;
	mark = fpath_key(&c->path, "subjects");
	if (!jval_is_array(subs)) {
		mctx_err(c, "must be a list");
	} else if (jval_size(subs) > RBAC_MAX_SUBJECTS) {
		mctx_err(c, "more than %d subjects (profileguard's limit)", RBAC_MAX_SUBJECTS);
	} else if (jval_size(subs) &&
		   !(b->subjects = arena_alloc(c->a, jval_size(subs) * sizeof(*b->subjects)))) {
		c->oom = true;
	} else {
		jval_foreach_item(subs, i, it) {
			size_t m2 = fpath_index(&c->path, i);

			memset(&b->subjects[i], 0, sizeof(b->subjects[i]));
			read_subject(c, it, b->namespace, &b->subjects[i]);
			fpath_pop(&c->path, m2);
		}
		b->nsubjects = jval_size(subs);
	}
	fpath_pop(&c->path, mark);
}

int rbac_binding_parse(const struct jval *obj, const char *default_ns, struct errlist *errs,
		       struct rbac_binding **ret)
{
	enum rbac_kind k = rbac_kind_of(obj);
	struct mctx c = { .errs = errs };
	struct rbac_binding *b;
	const struct jval *ref;
	const char *rk;
	size_t mark;
	int r;

	fpath_init(&c.path, "");
	if (k != RBAC_ROLE_BINDING && k != RBAC_CLUSTER_ROLE_BINDING) {
		errlist_add(errs, "kind: must be RoleBinding or ClusterRoleBinding of rbac.authorization.k8s.io");
		return -EINVAL;
	}
	if (!(c.a = arena_new(1024)))
		return -ENOMEM;
	if (!(b = arena_alloc(c.a, sizeof(*b)))) {
		arena_free(c.a);
		return -ENOMEM;
	}
	memset(b, 0, sizeof(*b));
	b->arena = c.a;
	read_meta(&c, obj, k == RBAC_ROLE_BINDING, default_ns, &b->namespace, &b->name, &b->uid, NULL);
	ref = jval_get(obj, "roleRef");
	mark = fpath_key(&c.path, "roleRef");
	if (!jval_is_object(ref)) {
		mctx_err(&c, "required: the role this binding grants");
	} else {
		size_t before = errlist_count(errs);

		rk = get_str(&c, ref, "kind");
		b->role_name = get_str(&c, ref, "name");
		if (errlist_count(errs) != before) {
			/* named already */
		} else if ((!rk || (strcmp(rk, "Role") && strcmp(rk, "ClusterRole")))) {
			size_t m2 = fpath_key(&c.path, "kind");

			mctx_err(&c, "must be Role or ClusterRole");
			fpath_pop(&c.path, m2);
		} else if (k == RBAC_CLUSTER_ROLE_BINDING && strcmp(rk, "ClusterRole")) {
			size_t m2 = fpath_key(&c.path, "kind");

			mctx_err(&c, "a ClusterRoleBinding can only refer to a ClusterRole");
			fpath_pop(&c.path, m2);
		} else if ((!b->role_name || !*b->role_name)) {
			size_t m2 = fpath_key(&c.path, "name");

			mctx_err(&c, "required");
			fpath_pop(&c.path, m2);
		} else {
			b->role_cluster = !strcmp(rk, "ClusterRole");
		}
	}
	fpath_pop(&c.path, mark);
	read_subjects(&c, obj, b);
	if ((r = mctx_result(&c)) < 0) {
		rbac_binding_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

int rbac_account_parse(const struct jval *obj, const char *default_ns, struct errlist *errs,
		       struct rbac_account **ret)
{
	struct mctx c = { .errs = errs };
	struct rbac_account *sa;
	const struct jval *v, *secrets, *it;
	size_t mark, i;
	int r;

	fpath_init(&c.path, "");
	if (rbac_kind_of(obj) != RBAC_SERVICE_ACCOUNT) {
		errlist_add(errs, "kind: must be a v1 ServiceAccount");
		return -EINVAL;
	}
	if (!(c.a = arena_new(512)))
		return -ENOMEM;
	if (!(sa = arena_alloc(c.a, sizeof(*sa)))) {
		arena_free(c.a);
		return -ENOMEM;
	}
	memset(sa, 0, sizeof(*sa));
	sa->arena = c.a;
	sa->automount = -1;
	read_meta(&c, obj, true, default_ns, &sa->namespace, &sa->name, &sa->uid, &sa->labels);
	v = jval_get(obj, "automountServiceAccountToken");
	if (jval_is_bool(v)) {
		sa->automount = jval_is_true(v);
	} else if (!jval_is_null(v)) {
		mark = fpath_key(&c.path, "automountServiceAccountToken");
		mctx_err(&c, "must be true or false");
		fpath_pop(&c.path, mark);
	}
	secrets = jval_get(obj, "secrets");
	mark = fpath_key(&c.path, "secrets");
	if (jval_is_null(secrets)) {
		/* none */
	} else if (!jval_is_array(secrets)) {
		mctx_err(&c, "must be a list");
	} else if (jval_size(secrets) > RBAC_MAX_LIST) {
		mctx_err(&c, "more than %d items (profileguard's limit)", RBAC_MAX_LIST);
	} else if (jval_size(secrets) &&
		   !(sa->secrets = arena_alloc(c.a, jval_size(secrets) * sizeof(char *)))) {
		c.oom = true;
	} else {
		jval_foreach_item(secrets, i, it) {
			size_t m2 = fpath_index(&c.path, i);
			size_t before = errlist_count(errs);
			const char *name = jval_is_object(it) ? get_str(&c, it, "name") : NULL;

			if (name)
				sa->secrets[sa->nsecrets++] = name;
			else if (errlist_count(errs) == before)
				mctx_err(&c, "must be an object with a name");
			fpath_pop(&c.path, m2);
		}
	}
	fpath_pop(&c.path, mark);
	if ((r = mctx_result(&c)) < 0) {
		rbac_account_free(sa);
		return r;
	}
	*ret = sa;
	return 0;
}

struct rbac_role *rbac_role_free(struct rbac_role *r)
{
	if (r)
		arena_free(r->arena);
	return NULL;
}

struct rbac_binding *rbac_binding_free(struct rbac_binding *b)
{
	if (b)
		arena_free(b->arena);
	return NULL;
}

struct rbac_account *rbac_account_free(struct rbac_account *a)
{
	if (a)
		arena_free(a->arena);
	return NULL;
}

int rbac_set_add(struct rbac_set *s, const struct jval *obj, const char *default_ns, struct errlist *errs)
{
	enum rbac_kind k = rbac_kind_of(obj);
	struct rbac_role *role, **rs;
	struct rbac_binding *b, **bs;
	int r;

	if (k == RBAC_ROLE || k == RBAC_CLUSTER_ROLE) {
		if ((r = rbac_role_parse(obj, default_ns, errs, &role)) < 0)
			return r;
		if (!(rs = pg_grow(s->roles, &s->caproles, s->nroles, sizeof(*rs), 16))) {
			rbac_role_free(role);
			return -ENOMEM;
		}
		s->roles = rs;
		rs[s->nroles++] = role;
		return 0;
	}
	if (k != RBAC_ROLE_BINDING && k != RBAC_CLUSTER_ROLE_BINDING)
		return -ENOENT;
	if ((r = rbac_binding_parse(obj, default_ns, errs, &b)) < 0)
		return r;
	if (!(bs = pg_grow(s->bindings, &s->capbindings, s->nbindings, sizeof(*bs), 16))) {
		rbac_binding_free(b);
		return -ENOMEM;
	}
	s->bindings = bs;
	bs[s->nbindings++] = b;
	return 0;
}

void rbac_set_free(struct rbac_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nroles; i++)
		rbac_role_free(s->roles[i]);
	pg_free(s->roles);
	for (size_t i = 0; i < s->nbindings; i++)
		rbac_binding_free(s->bindings[i]);
	pg_free(s->bindings);
	*s = (struct rbac_set){ 0 };
}

/* Aggregation: a depth-first fill with marks, so a role aggregating an
 * aggregated role sees that role's filled rules, and a cycle ends. */
enum { AGG_TODO, AGG_BUSY, AGG_DONE };

struct agg {
	struct rbac_role **roles;
	size_t n;
	unsigned char *mark;
	struct errlist *errs;
};

static bool matches_any(const struct rbac_role *agg, const struct rbac_role *r)
{
	for (size_t i = 0; i < agg->naggregation; i++)
		if (selector_matches(&agg->aggregation[i], &r->labels))
			return true;
	return false;
}

static int strv_copy(struct arena *a, const char *const *src, size_t n, const char ***ret)
{
	const char **v;

	*ret = NULL;
	if (!n)
		return 0;
	if (!(v = arena_alloc(a, n * sizeof(*v))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = arena_strdup(a, src[i])))
			return -ENOMEM;
	*ret = v;
	return 0;
}

/* A deep copy into @a: the aggregating role owns what it holds, whatever
 * becomes of the roles it aggregated. */
static int rule_copy(struct arena *a, const struct rbac_rule *src, struct rbac_rule *dst)
{
	*dst = *src;
	if (strv_copy(a, src->verbs, src->nverbs, &dst->verbs) < 0 ||
	    strv_copy(a, src->groups, src->ngroups, &dst->groups) < 0 ||
	    strv_copy(a, src->resources, src->nresources, &dst->resources) < 0 ||
	    strv_copy(a, src->names, src->nnames, &dst->names) < 0)
		return -ENOMEM;
	return 0;
}

static int agg_fill(struct agg *g, size_t i)
{
	struct rbac_role *role = g->roles[i];
	size_t total = 0, k = 0;
	struct rbac_rule *rules;
	int r;

	if (g->mark[i] != AGG_TODO)
		return 0;       /* done, or a cycle: its rules as they are now */
	g->mark[i] = AGG_BUSY;
	if (role->namespace || !role->naggregation) {
		g->mark[i] = AGG_DONE;
		return 0;
	}
	for (size_t j = 0; j < g->n; j++) {
		if (j == i || g->roles[j]->namespace || !matches_any(role, g->roles[j]))
			continue;
		if ((r = agg_fill(g, j)) < 0)
			return r;
		total += g->roles[j]->nrules;
	}
	if (total > RBAC_MAX_RULES) {
		errlist_add(g->errs, "ClusterRole %s: aggregates %zu rules, more than %d (profileguard's limit)",
			    role->name, total, RBAC_MAX_RULES);
		return -E2BIG;
	}
	rules = total ? arena_alloc(role->arena, total * sizeof(*rules)) : NULL;
	if (total && !rules)
		return -ENOMEM;
	for (size_t j = 0; j < g->n; j++) {
		if (j == i || g->roles[j]->namespace || !matches_any(role, g->roles[j]))
			continue;
		for (size_t m = 0; m < g->roles[j]->nrules; m++)
			if ((r = rule_copy(role->arena, &g->roles[j]->rules[m], &rules[k++])) < 0)
				return r;
	}
	role->rules = rules;
	role->nrules = total;
	g->mark[i] = AGG_DONE;
	return 0;
}

int rbac_aggregate(struct rbac_role **roles, size_t n, struct errlist *errs)
{
	struct agg g = { .roles = roles, .n = n, .errs = errs };
	int r = 0;

	if (!n)
		return 0;
	if (!(g.mark = pg_calloc(n, 1)))
		return -ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = agg_fill(&g, i);
	pg_free(g.mark);
	return r;
}
