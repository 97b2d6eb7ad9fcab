/* identity.c - the RBAC graph as four string-keyed tables: roles and
 * bindings by "NAMESPACE/NAME" ("/NAME" cluster-scoped), and two
 * multimaps of edges, subject -> binding and role -> binding, so a change
 * finds the accounts it touches, and an account its grants, without a
 * scan of the cluster's bindings. */
#include "identity.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"
#include "xalloc.h"

#define SA_GROUP "system:serviceaccounts"
#define SA_GROUP_NS "system:serviceaccounts:"
#define AUTHENTICATED "system:authenticated"

struct role_ent {
	struct smap_node node;
	struct rbac_role *role;
	char key[];
};

struct bind_ent;

/* An edge of a multimap: subject key ("s:NS/NAME", "g:GROUP") or role
 * key -> the binding. */
struct edge {
	struct smap_node node;
	struct bind_ent *be;
	char key[];
};

struct bind_ent {
	struct smap_node node;
	struct rbac_binding *b;
	struct edge *role_edge;
	struct edge **subjects;     /* one edge per account or group subject */
	size_t nsubjects;
	char key[];
};

struct identity_index {
	struct smap roles;
	struct smap bindings;
	struct smap subjects;       /* multimap */
	struct smap role_refs;      /* multimap */
	size_t nedges;
};

int identity_index_new(struct identity_index **ret)
{
	struct identity_index *x = pg_calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	*ret = x;
	return 0;
}

/* "NS/NAME", "/NAME" for a cluster-scoped object, in @out. */
static int obj_key(const char *ns, const char *name, char *out, size_t n)
{
	int r = snprintf(out, n, "%s/%s", ns ? ns : "", name ? name : "");

	return r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

static struct edge *edge_new(const char *key, struct bind_ent *be)
{
	size_t l = strlen(key) + 1;
	struct edge *e = pg_malloc(sizeof(*e) + l);

	if (e) {
		memcpy(e->key, key, l);
		e->node.key = e->key;
		e->be = be;
	}
	return e;
}

/* The accounts a binding may touch, told to @dirty. */
static void binding_dirty(const struct rbac_binding *b, identity_dirty_fn dirty, void *ud)
{
	if (!dirty)
		return;
	for (size_t i = 0; i < b->nsubjects; i++) {
		const struct rbac_subject *s = &b->subjects[i];

		if (s->kind == SUBJECT_SERVICE_ACCOUNT)
			dirty(ud, s->namespace, s->name);
		else if (s->kind == SUBJECT_GROUP && (!strcmp(s->name, SA_GROUP) || !strcmp(s->name, AUTHENTICATED)))
			dirty(ud, NULL, NULL);
		else if (s->kind == SUBJECT_GROUP && !strncmp(s->name, SA_GROUP_NS, strlen(SA_GROUP_NS)))
			dirty(ud, s->name + strlen(SA_GROUP_NS), NULL);
	}
}

/* The subject key of @s, or false for a subject no account can be (a
 * User, or a group no account is in). */
static bool subject_key(const struct rbac_subject *s, char *out, size_t n)
{
	int r;

	if (s->kind == SUBJECT_SERVICE_ACCOUNT)
		r = snprintf(out, n, "s:%s/%s", s->namespace, s->name);
	else if (s->kind == SUBJECT_GROUP && (!strcmp(s->name, SA_GROUP) || !strcmp(s->name, AUTHENTICATED) ||
					      !strncmp(s->name, SA_GROUP_NS, strlen(SA_GROUP_NS))))
		r = snprintf(out, n, "g:%s", s->name);
	else
		return false;
	return r >= 0 && (size_t)r < n;
}

static void bind_ent_free(struct identity_index *x, struct bind_ent *be, bool linked)
{
	if (!be)
		return;
	for (size_t i = 0; i < be->nsubjects; i++) {
		if (linked)
			smap_remove(&x->subjects, &be->subjects[i]->node);
		pg_free(be->subjects[i]);
		x->nedges -= linked;
	}
	if (be->role_edge) {
		if (linked)
			smap_remove(&x->role_refs, &be->role_edge->node);
		x->nedges -= linked;
		pg_free(be->role_edge);
	}
	pg_free(be->subjects);
	rbac_binding_free(be->b);
	pg_free(be);
}

/* Subject keys are at most "s:" + namespace (63) + "/" + name (253),
 * role keys "/" + 253; a longer one is no valid object and indexes
 * nothing. */
#define KEY_MAX 600

int identity_index_put_binding(struct identity_index *x, struct rbac_binding *b,
			       identity_dirty_fn dirty, void *ud)
{
	size_t klen = strlen(b->namespace ? b->namespace : "") + strlen(b->name) + 2;
	struct bind_ent *be = pg_calloc(1, sizeof(*be) + klen);
	char key[KEY_MAX];

	if (!be) {
		rbac_binding_free(b);
		return -ENOMEM;
	}
	be->b = b;
	snprintf(be->key, klen, "%s/%s", b->namespace ? b->namespace : "", b->name);
	be->node.key = be->key;
	if (b->nsubjects && !(be->subjects = pg_calloc(b->nsubjects, sizeof(*be->subjects))))
		goto oom;
	for (size_t i = 0; i < b->nsubjects; i++) {
		if (!subject_key(&b->subjects[i], key, sizeof(key)))
			continue;
		if (!(be->subjects[be->nsubjects] = edge_new(key, be)))
			goto oom;
		be->nsubjects++;
	}
	if (obj_key(b->role_cluster ? NULL : b->namespace, b->role_name, key, sizeof(key)) == 0 &&
	    !(be->role_edge = edge_new(key, be)))
		goto oom;
	/* Link: reserve table room first, so a failure leaves the index as
	 * it was (smap_add fails only when growing). */
	for (size_t i = 0; i < be->nsubjects; i++) {
		if (smap_add(&x->subjects, &be->subjects[i]->node) < 0) {
			while (i--)
				smap_remove(&x->subjects, &be->subjects[i]->node);
			goto oom;
		}
	}
	if (be->role_edge && smap_add(&x->role_refs, &be->role_edge->node) < 0) {
		for (size_t i = 0; i < be->nsubjects; i++)
			smap_remove(&x->subjects, &be->subjects[i]->node);
		goto oom;
	}
	x->nedges += be->nsubjects + (be->role_edge != NULL);
	identity_index_del_binding(x, b->namespace, b->name, dirty, ud);
	binding_dirty(b, dirty, ud);
	if (smap_put(&x->bindings, &be->node) < 0) {
		bind_ent_free(x, be, true);
		return -ENOMEM;
	}
	return 0;
oom:
	bind_ent_free(x, be, false);
	return -ENOMEM;
}

void identity_index_del_binding(struct identity_index *x, const char *ns, const char *name,
				identity_dirty_fn dirty, void *ud)
{
	char key[KEY_MAX];
	struct smap_node *n;
	struct bind_ent *be;

	if (obj_key(ns, name, key, sizeof(key)) < 0 || !(n = smap_del(&x->bindings, key)))
		return;
	be = smap_entry(n, struct bind_ent, node);
	binding_dirty(be->b, dirty, ud);
	bind_ent_free(x, be, true);
}

/* Every binding that refers to the role @key: its accounts are dirty. */
static void role_dirty(struct identity_index *x, const char *key, identity_dirty_fn dirty, void *ud)
{
	if (!dirty)
		return;
	for (struct smap_node *n = smap_get(&x->role_refs, key); n; n = smap_next(&x->role_refs, n))
		binding_dirty(smap_entry(n, struct edge, node)->be->b, dirty, ud);
}

int identity_index_put_role(struct identity_index *x, struct rbac_role *role,
			    identity_dirty_fn dirty, void *ud)
{
	size_t klen = strlen(role->namespace ? role->namespace : "") + strlen(role->name) + 2;
	struct role_ent *re = pg_malloc(sizeof(*re) + klen);
	struct smap_node *old;

	if (!re) {
		rbac_role_free(role);
		return -ENOMEM;
	}
	snprintf(re->key, klen, "%s/%s", role->namespace ? role->namespace : "", role->name);
	re->role = role;
	re->node.key = re->key;
	if ((old = smap_del(&x->roles, re->key))) {
		struct role_ent *o = smap_entry(old, struct role_ent, node);

		rbac_role_free(o->role);
		pg_free(o);
	}
	/* The old role is gone either way: its accounts are dirty. */
	role_dirty(x, re->key, dirty, ud);
	if (smap_put(&x->roles, &re->node) < 0) {
		rbac_role_free(role);
		pg_free(re);
		return -ENOMEM;
	}
	return 0;
}

void identity_index_del_role(struct identity_index *x, const char *ns, const char *name,
			     identity_dirty_fn dirty, void *ud)
{
	char key[KEY_MAX];
	struct smap_node *n;
	struct role_ent *re;

	if (obj_key(ns, name, key, sizeof(key)) < 0 || !(n = smap_del(&x->roles, key)))
		return;
	re = smap_entry(n, struct role_ent, node);
	role_dirty(x, re->key, dirty, ud);
	rbac_role_free(re->role);
	pg_free(re);
}

const struct rbac_role *identity_index_role(const struct identity_index *x, const char *ns,
					    const char *name)
{
	char key[KEY_MAX];
	struct smap_node *n;

	if (obj_key(ns, name, key, sizeof(key)) < 0 || !(n = smap_get(&x->roles, key)))
		return NULL;
	return smap_entry(n, struct role_ent, node)->role;
}

int identity_index_load(struct identity_index *x, struct rbac_role **roles, size_t nroles,
			struct rbac_binding **bindings, size_t nbindings, struct errlist *errs)
{
	int r;

	if ((r = rbac_aggregate(roles, nroles, errs)) == -ENOMEM)
		return r;
	for (size_t i = 0; i < nroles; i++) {
		r = identity_index_put_role(x, roles[i], NULL, NULL);
		roles[i] = NULL;
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < nbindings; i++) {
		r = identity_index_put_binding(x, bindings[i], NULL, NULL);
		bindings[i] = NULL;
		if (r < 0)
			return r;
	}
	return 0;
}

static int binding_grants(const struct identity_index *x, const struct bind_ent *be,
			  const char *as_group, identity_grant_fn fn, void *ud)
{
	const struct rbac_binding *b = be->b;
	const struct rbac_role *role;
	struct risk_grant g;
	char via[RISK_VIA_TEXT];
	int r;

	role = identity_index_role(x, b->role_cluster ? NULL : b->namespace, b->role_name);
	if (!role)
		return 0;
	if (b->namespace)
		snprintf(via, sizeof(via), "RoleBinding %s/%s -> %s %s%s%s%s%s%s", b->namespace, b->name,
			 b->role_cluster ? "ClusterRole" : "Role", b->role_cluster ? "" : b->namespace,
			 b->role_cluster ? "" : "/", b->role_name, as_group ? " (as " : "",
			 as_group ? as_group : "", as_group ? ")" : "");
	else
		snprintf(via, sizeof(via), "ClusterRoleBinding %s -> ClusterRole %s%s%s%s", b->name,
			 b->role_name, as_group ? " (as " : "", as_group ? as_group : "", as_group ? ")" : "");
	g.namespace = b->namespace;
	g.via = via;
	for (size_t i = 0; i < role->nrules; i++) {
		g.rule = &role->rules[i];
		if ((r = fn(ud, &g)) < 0)
			return r;
	}
	return 0;
}

int identity_index_grants(const struct identity_index *x, const char *ns, const char *name,
			  identity_grant_fn fn, void *ud)
{
	char keys[4][KEY_MAX];
	int r;

	if (snprintf(keys[0], KEY_MAX, "s:%s/%s", ns, name) >= KEY_MAX)
		return 0;
	snprintf(keys[1], KEY_MAX, "g:%s%s", SA_GROUP_NS, ns);
	snprintf(keys[2], KEY_MAX, "g:%s", SA_GROUP);
	snprintf(keys[3], KEY_MAX, "g:%s", AUTHENTICATED);
	for (int k = 0; k < 4; k++) {
		for (struct smap_node *n = smap_get(&x->subjects, keys[k]); n; n = smap_next(&x->subjects, n)) {
			const struct edge *e = smap_entry(n, struct edge, node);

			if ((r = binding_grants(x, e->be, k ? keys[k] + 2 : NULL, fn, ud)) < 0)
				return r;
		}
	}
	return 0;
}

/* Grants gathered for one judgement: the rules are borrowed from the
 * index, the via texts copied (they live only for the callback). */
struct gather {
	struct risk_grant *v;
	char (*via)[RISK_VIA_TEXT];
	size_t n, cap;
};

static int gather_one(void *ud, const struct risk_grant *g)
{
	struct gather *ga = ud;

	if (ga->n == ga->cap) {
		size_t cap = ga->cap ? ga->cap * 2 : 16;
		struct risk_grant *v = pg_realloc(ga->v, cap * sizeof(*v));
		char (*via)[RISK_VIA_TEXT];

		if (!v)
			return -ENOMEM;
		ga->v = v;
		if (!(via = pg_realloc(ga->via, cap * sizeof(*via))))
			return -ENOMEM;
		ga->via = via;
		ga->cap = cap;
	}
	memcpy(ga->via[ga->n], g->via, strlen(g->via) + 1);
	ga->v[ga->n] = *g;
	ga->n++;
	return 0;
}

int identity_index_judge(const struct identity_index *x, const char *ns, const char *name,
			 struct risk_result *ret)
{
	struct gather ga = { 0 };
	int r = identity_index_grants(x, ns, name, gather_one, &ga);

	if (r == 0) {
		/* The via pointers are set once the array stops moving. */
		for (size_t i = 0; i < ga.n; i++)
			ga.v[i].via = ga.via[i];
		r = risk_judge(ga.v, ga.n, ret);
	} else {
		memset(ret, 0, sizeof(*ret));
	}
	pg_free(ga.v);
	pg_free(ga.via);
	return r;
}

static void free_role_node(void *ud, struct smap_node *n)
{
	struct role_ent *re = smap_entry(n, struct role_ent, node);

	(void)ud;
	rbac_role_free(re->role);
	pg_free(re);
}

static void free_binding_node(void *ud, struct smap_node *n)
{
	bind_ent_free(ud, smap_entry(n, struct bind_ent, node), false);
}

struct identity_index *identity_index_free(struct identity_index *x)
{
	if (!x)
		return NULL;
	/* The edge tables only borrow: unlink them first, then free the
	 * bindings that own the edges. */
	smap_clear(&x->subjects, NULL, NULL);
	smap_clear(&x->role_refs, NULL, NULL);
	smap_clear(&x->bindings, free_binding_node, x);
	smap_clear(&x->roles, free_role_node, NULL);
	pg_free(x);
	return NULL;
}

void identity_index_stats(const struct identity_index *x, struct identity_index_stats *ret)
{
	ret->roles = x->roles.n;
	ret->bindings = x->bindings.n;
	ret->edges = x->nedges;
}
