/* leastpriv.c - the smallest RBAC rules that allow exactly the calls an
 * account made, and the grants it never used.  Calls are kept as distinct
 * keys (namespace, group, resource, verb) with the objects they named;
 * rules are keys of one (namespace, group, resource, objects) with their
 * verbs merged, so no rule allows a verb on an object it was not used on. */
#include "leastpriv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "hash.h"
#include "rbac.h"
#include "xalloc.h"

/* An object name a key saw; a list of at most LEASTPRIV_MAX_NAMES. */
struct lp_name {
	struct lp_name *next;
	const char *name;
};

struct lp_key {
	struct smap_node node;          /* the fields joined by 0xff */
	const char *namespace;          /* "" cluster-wide */
	const char *group;
	const char *resource;           /* NULL: @path */
	const char *path;
	const char *verb;
	struct lp_name *names;
	size_t nnames;
	bool any;                       /* a call named no object */
	bool dropped;                   /* more than LEASTPRIV_MAX_NAMES */
	size_t calls;
	int64_t first, last;
	/* filled when rules are built: sorted names */
	const char **sorted;
};

struct lp_keys {
	struct smap map;
	struct lp_key **v;
	size_t n, cap;
};

struct lp_account {
	struct smap_node node;          /* "ns\xffname" */
	struct leastpriv_account pub;
	struct lp_keys ok, refused;
	size_t capunused, granted;
};

struct leastpriv {
	struct arena *arena;
	struct smap accounts;
	struct lp_account **acc;
	size_t nacc, capacc;
	struct leastpriv_account *out;
	bool built;
	char error[256];
};

enum leastpriv_outcome leastpriv_outcome_of(int code)
{
	if ((code >= 100 && code < 400) || code == 404 || code == 409 || code == 422)
		return LEASTPRIV_AUTHORIZED;
	if (code == 403)
		return LEASTPRIV_REFUSED;
	return LEASTPRIV_OTHER;
}

static int fail(struct leastpriv *lp, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct leastpriv *lp, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(lp->error, sizeof(lp->error), fmt, ap);
	va_end(ap);
	return r;
}

const char *leastpriv_error(const struct leastpriv *lp)
{
	return lp->error;
}

int leastpriv_new(struct leastpriv **ret)
{
	struct leastpriv *lp = pg_calloc(1, sizeof(*lp));

	if (!lp || !(lp->arena = arena_new(65536))) {
		pg_free(lp);
		return -ENOMEM;
	}
	*ret = lp;
	return 0;
}

struct leastpriv *leastpriv_free(struct leastpriv *lp)
{
	if (!lp)
		return NULL;
	for (size_t i = 0; i < lp->nacc; i++) {
		struct lp_account *a = lp->acc[i];

		smap_clear(&a->ok.map, NULL, NULL);
		smap_clear(&a->refused.map, NULL, NULL);
		pg_free(a->ok.v);
		pg_free(a->refused.v);
		if (lp->out)
			pg_free(lp->out[i].unused);
	}
	smap_clear(&lp->accounts, NULL, NULL);
	pg_free(lp->acc);
	pg_free(lp->out);
	arena_free(lp->arena);
	pg_free(lp);
	return NULL;
}

static bool bad_string(const char *s)
{
	return s && (strlen(s) > LEASTPRIV_MAX_STRING || strchr(s, '\xff'));
}

/* The fields joined by 0xff, a byte no UTF-8 string holds, into @out;
 * false when they do not fit (they always do under LEASTPRIV_MAX_STRING). */
static bool join(char *out, size_t n, const char *const *f, size_t nf)
{
	size_t off = 0;

	for (size_t i = 0; i < nf; i++) {
		const char *s = f[i] ? f[i] : "";
		size_t l = strlen(s);

		if (off + l + 2 > n)
			return false;
		memcpy(out + off, s, l);
		off += l;
		out[off++] = '\xff';
	}
	out[off] = '\0';
	return true;
}

static struct lp_account *account_get(struct leastpriv *lp, const char *ns, const char *name, int *r)
{
	char key[2 * LEASTPRIV_MAX_STRING + 8];
	const char *f[] = { ns, name };
	struct smap_node *node;
	struct lp_account *a, **acc;

	if (!join(key, sizeof(key), f, 2)) {
		*r = fail(lp, -EINVAL, "user.username: too long");
		return NULL;
	}
	if ((node = smap_get(&lp->accounts, key)))
		return smap_entry(node, struct lp_account, node);
	if (lp->nacc == LEASTPRIV_MAX_ACCOUNTS) {
		*r = fail(lp, -E2BIG, "more than %d ServiceAccounts (profileguard's limit)", LEASTPRIV_MAX_ACCOUNTS);
		return NULL;
	}
	*r = -ENOMEM;
	if (!(acc = pg_grow(lp->acc, &lp->capacc, lp->nacc, sizeof(*acc), 8)))
		return NULL;
	lp->acc = acc;
	if (!(a = arena_alloc(lp->arena, sizeof(*a))))
		return NULL;
	memset(a, 0, sizeof(*a));
	if (!(a->node.key = arena_strdup(lp->arena, key)) || !(a->pub.namespace = arena_strdup(lp->arena, ns)) ||
	    !(a->pub.name = arena_strdup(lp->arena, name)))
		return NULL;
	if (smap_put(&lp->accounts, &a->node) < 0)
		return NULL;
	acc[lp->nacc++] = a;
	*r = 0;
	return a;
}

static const char *dup_or(struct leastpriv *lp, const char *s, const char *none)
{
	return arena_strdup(lp->arena, s && *s ? s : none);
}

int leastpriv_add(struct leastpriv *lp, const struct leastpriv_call *c)
{
	char key[5 * LEASTPRIV_MAX_STRING + 16], res[2 * LEASTPRIV_MAX_STRING + 2];
	enum leastpriv_outcome o = leastpriv_outcome_of(c->code);
	const char *ns = c->namespace && *c->namespace ? c->namespace : "";
	const char *group = c->group ? c->group : "";
	struct lp_account *a;
	struct lp_keys *keys;
	struct smap_node *node;
	struct lp_key *k;
	int r;

	if (lp->built)
		return fail(lp, -EINVAL, "calls added after the roles were built");
	if (!c->sa_namespace || !*c->sa_namespace || !c->sa_name || !*c->sa_name || !c->verb || !*c->verb)
		return fail(lp, -EINVAL, "not a ServiceAccount's call (user.username, verb)");
	if (!c->resource && (!c->path || !*c->path))
		return fail(lp, -EINVAL, "neither objectRef.resource nor requestURI");
	if (bad_string(c->sa_namespace) || bad_string(c->sa_name) || bad_string(c->verb) || bad_string(c->group) ||
	    bad_string(c->resource) || bad_string(c->subresource) || bad_string(c->name) ||
	    bad_string(c->namespace) || bad_string(c->path))
		return fail(lp, -EINVAL, "a field longer than %d bytes or not UTF-8", LEASTPRIV_MAX_STRING);
	if (!(a = account_get(lp, c->sa_namespace, c->sa_name, &r)))
		return r;
	if (o == LEASTPRIV_OTHER) {
		a->pub.other++;
		return 0;
	}
	if (c->resource) {
		if (c->subresource && *c->subresource)
			snprintf(res, sizeof(res), "%s/%s", c->resource, c->subresource);
		else
			snprintf(res, sizeof(res), "%s", c->resource);
	}
	{
		const char *f[] = { ns, group, c->resource ? res : NULL, c->resource ? NULL : c->path, c->verb };

		if (!join(key, sizeof(key), f, 5))
			return fail(lp, -EINVAL, "a call too long");
	}
	keys = o == LEASTPRIV_AUTHORIZED ? &a->ok : &a->refused;
	if (o == LEASTPRIV_AUTHORIZED)
		a->pub.authorized++;
	else
		a->pub.refused++;
	if ((node = smap_get(&keys->map, key))) {
		k = smap_entry(node, struct lp_key, node);
	} else {
		struct lp_key **v;

		if (keys->n == LEASTPRIV_MAX_KEYS)
			return fail(lp, -E2BIG,
				    "ServiceAccount %s:%s: more than %d distinct %s calls (namespace, group, resource, verb) (profileguard's limit)",
				    a->pub.namespace, a->pub.name, LEASTPRIV_MAX_KEYS,
				    o == LEASTPRIV_AUTHORIZED ? "authorized" : "refused");
		if (!(v = pg_grow(keys->v, &keys->cap, keys->n, sizeof(*v), 8)))
			return -ENOMEM;
		keys->v = v;
		if (!(k = arena_alloc(lp->arena, sizeof(*k))))
			return -ENOMEM;
		memset(k, 0, sizeof(*k));
		if (!(k->node.key = arena_strdup(lp->arena, key)) || !(k->namespace = dup_or(lp, ns, "")) ||
		    !(k->verb = dup_or(lp, c->verb, "")))
			return -ENOMEM;
		if (c->resource) {
			if (!(k->group = dup_or(lp, group, "")) || !(k->resource = dup_or(lp, res, "")))
				return -ENOMEM;
		} else if (!(k->path = dup_or(lp, c->path, ""))) {
			return -ENOMEM;
		}
		k->first = k->last = c->time;
		if (smap_put(&keys->map, &k->node) < 0)
			return -ENOMEM;
		v[keys->n++] = k;
	}
	k->calls++;
	if (c->time < k->first)
		k->first = c->time;
	if (c->time > k->last)
		k->last = c->time;
	if (!c->resource || k->any || k->dropped)
		return 0;
	if (!c->name || !*c->name) {
		k->any = true;
		return 0;
	}
	for (struct lp_name *n = k->names; n; n = n->next)
		if (!strcmp(n->name, c->name))
			return 0;
	if (k->nnames == LEASTPRIV_MAX_NAMES) {
		k->dropped = true;
		return 0;
	}
	{
		struct lp_name *n = arena_alloc(lp->arena, sizeof(*n));

		if (!n || !(n->name = arena_strdup(lp->arena, c->name)))
			return -ENOMEM;
		n->next = k->names;
		k->names = n;
		k->nnames++;
	}
	return 0;
}

/* ---- building the roles ------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool names_any(const struct lp_key *k)
{
	return k->any || k->dropped;
}

/* Keys that may share a rule: one namespace, group, resource and set of
 * objects named (none: any). */
static int cmp_names(const struct lp_key *a, const struct lp_key *b)
{
	if (names_any(a) != names_any(b))
		return names_any(a) ? -1 : 1;
	if (names_any(a))
		return 0;
	for (size_t i = 0; i < a->nnames && i < b->nnames; i++) {
		int d = strcmp(a->sorted[i], b->sorted[i]);

		if (d)
			return d;
	}
	return a->nnames < b->nnames ? -1 : a->nnames > b->nnames;
}

static int cmp_opt(const char *a, const char *b)
{
	if (!a || !b)
		return a ? 1 : b ? -1 : 0;
	return strcmp(a, b);
}

static int cmp_rule_key(const struct lp_key *a, const struct lp_key *b)
{
	int d;

	/* the ClusterRole ("" namespace) last */
	if (!*a->namespace != !*b->namespace)
		return *a->namespace ? -1 : 1;
	if ((d = strcmp(a->namespace, b->namespace)))
		return d;
	/* resource rules before non-resource ones */
	if ((d = (a->resource == NULL) - (b->resource == NULL)))
		return d;
	if ((d = cmp_opt(a->group, b->group)) || (d = cmp_opt(a->resource, b->resource)) ||
	    (d = cmp_opt(a->path, b->path)))
		return d;
	return cmp_names(a, b);
}

static int cmp_key(const void *pa, const void *pb)
{
	const struct lp_key *a = *(struct lp_key *const *)pa, *b = *(struct lp_key *const *)pb;
	int d = cmp_rule_key(a, b);

	return d ? d : strcmp(a->verb, b->verb);
}

static int build_account(struct leastpriv *lp, struct lp_account *a)
{
	struct lp_keys *ks = &a->ok;
	size_t nroles = 0, i, j;

	for (i = 0; i < ks->n; i++) {
		struct lp_key *k = ks->v[i];
		size_t m = 0;

		if (names_any(k) || !k->resource)
			continue;
		if (!(k->sorted = arena_alloc(lp->arena, k->nnames * sizeof(*k->sorted))))
			return -ENOMEM;
		for (struct lp_name *n = k->names; n; n = n->next)
			k->sorted[m++] = n->name;
		if (m > 1)
			qsort(k->sorted, m, sizeof(*k->sorted), cmp_str);
	}
	if (ks->n > 1)
		qsort(ks->v, ks->n, sizeof(*ks->v), cmp_key);
	for (i = 0; i < ks->n; i++)
		if (i == 0 || strcmp(ks->v[i]->namespace, ks->v[i - 1]->namespace))
			nroles++;
	if (nroles && !(a->pub.roles = arena_alloc(lp->arena, nroles * sizeof(*a->pub.roles))))
		return -ENOMEM;
	a->pub.nroles = 0;
	for (i = 0; i < ks->n; i = j) {
		struct leastpriv_role *role = &a->pub.roles[a->pub.nroles++];
		size_t nrules = 0, e;

		for (j = i; j < ks->n && !strcmp(ks->v[j]->namespace, ks->v[i]->namespace); j++)
			if (j == i || cmp_rule_key(ks->v[j], ks->v[j - 1]))
				nrules++;
		role->namespace = *ks->v[i]->namespace ? ks->v[i]->namespace : NULL;
		if (!(role->rules = arena_alloc(lp->arena, nrules * sizeof(*role->rules))))
			return -ENOMEM;
		role->nrules = 0;
		for (size_t s = i; s < j; s = e) {
			struct leastpriv_rule *rule = &role->rules[role->nrules++];
			const struct lp_key *k = ks->v[s];

			for (e = s + 1; e < j && !cmp_rule_key(ks->v[e], k); e++)
				;
			memset(rule, 0, sizeof(*rule));
			rule->group = k->group;
			rule->resource = k->resource;
			rule->path = k->path;
			rule->first = k->first;
			rule->last = k->last;
			if (!names_any(k)) {
				rule->names = k->sorted;
				rule->nnames = k->nnames;
			}
			if (!(rule->verbs = arena_alloc(lp->arena, (e - s) * sizeof(*rule->verbs))))
				return -ENOMEM;
			for (size_t t = s; t < e; t++) {
				const struct lp_key *kt = ks->v[t];

				rule->verbs[rule->nverbs++] = kt->verb;    /* sorted by cmp_key */
				rule->calls += kt->calls;
				rule->names_dropped |= kt->dropped;
				if (kt->first < rule->first)
					rule->first = kt->first;
				if (kt->last > rule->last)
					rule->last = kt->last;
			}
		}
	}
	/* refusals */
	ks = &a->refused;
	if (ks->n > 1)
		qsort(ks->v, ks->n, sizeof(*ks->v), cmp_key);
	if (ks->n && !(a->pub.refusals = arena_alloc(lp->arena, ks->n * sizeof(*a->pub.refusals))))
		return -ENOMEM;
	for (i = 0; i < ks->n; i++) {
		const struct lp_key *k = ks->v[i];
		struct leastpriv_refusal *f = &a->pub.refusals[i];

		f->namespace = *k->namespace ? k->namespace : NULL;
		f->group = k->group;
		f->resource = k->resource;
		f->path = k->path;
		f->verb = k->verb;
		f->calls = k->calls;
		f->first = k->first;
		f->last = k->last;
	}
	a->pub.nrefusals = ks->n;
	return 0;
}

static int cmp_account(const void *pa, const void *pb)
{
	const struct leastpriv_account *a = pa, *b = pb;
	int d = strcmp(a->namespace, b->namespace);

	return d ? d : strcmp(a->name, b->name);
}

int leastpriv_accounts(struct leastpriv *lp, struct leastpriv_account **ret, size_t *n)
{
	int r;

	if (!lp->built) {
		if (lp->nacc && !(lp->out = pg_calloc(lp->nacc, sizeof(*lp->out))))
			return -ENOMEM;
		for (size_t i = 0; i < lp->nacc; i++) {
			if ((r = build_account(lp, lp->acc[i])) < 0)
				return r;
			lp->out[i] = lp->acc[i]->pub;
		}
		if (lp->nacc > 1)
			qsort(lp->out, lp->nacc, sizeof(*lp->out), cmp_account);
		lp->built = true;
	}
	*ret = lp->out;
	*n = lp->nacc;
	return 0;
}

/* ---- granted but unused -------------------------------------------------------- */

static struct lp_account *account_of(struct leastpriv *lp, const struct leastpriv_account *pub)
{
	char key[2 * LEASTPRIV_MAX_STRING + 8];
	const char *f[] = { pub->namespace, pub->name };
	struct smap_node *node;

	if (!join(key, sizeof(key), f, 2) || !(node = smap_get(&lp->accounts, key)))
		return NULL;
	return smap_entry(node, struct lp_account, node);
}

/* The RBAC authorizer's resource match: "*", the resource itself, or
 * "*\/sub" for its subresource. */
static bool resource_matches(const char *rule, const char *res)
{
	const char *slash;

	if (!strcmp(rule, "*") || !strcmp(rule, res))
		return true;
	slash = strchr(res, '/');
	return slash && rule[0] == '*' && !strcmp(rule + 1, slash);
}

static bool key_matches(const struct lp_key *k, const char *verb, const char *group, const char *res,
			const struct risk_grant *g)
{
	const struct rbac_rule *rule = g->rule;

	if (!k->resource)
		return false;
	if (strcmp(verb, "*") && strcmp(verb, k->verb))
		return false;
	if (strcmp(group, "*") && strcmp(group, k->group))
		return false;
	if (!resource_matches(res, k->resource))
		return false;
	if (g->namespace && strcmp(g->namespace, k->namespace))
		return false;
	if (rule->nnames && !names_any(k)) {
		for (size_t i = 0; i < rule->nnames; i++)
			for (size_t m = 0; m < k->nnames; m++)
				if (!strcmp(rule->names[i], k->sorted[m]))
					return true;
		return false;
	}
	return true;
}

int leastpriv_grant(struct leastpriv *lp, struct leastpriv_account *pub, const struct risk_grant *g)
{
	struct lp_account *a = account_of(lp, pub);
	const struct rbac_rule *rule = g->rule;
	const char *via = NULL, *ns = NULL;

	if (!a || !lp->built)
		return -EINVAL;
	if (rule->non_resource) {
		pub->nonresource_grants++;
		return 0;
	}
	for (size_t v = 0; v < rule->nverbs; v++)
		for (size_t gi = 0; gi < rule->ngroups; gi++)
			for (size_t ri = 0; ri < rule->nresources; ri++) {
				struct leastpriv_unused *u;
				bool used = false;

				if (++a->granted > LEASTPRIV_MAX_GRANTED)
					return fail(lp, -E2BIG,
						    "ServiceAccount %s:%s: more than %d granted (verb, group, resource, namespace) (profileguard's limit)",
						    pub->namespace, pub->name, LEASTPRIV_MAX_GRANTED);
				for (size_t k = 0; k < a->ok.n && !used; k++)
					used = key_matches(a->ok.v[k], rule->verbs[v], rule->groups[gi],
							   rule->resources[ri], g);
				if (used)
					continue;
				if (!via && (!(via = arena_strdup(lp->arena, g->via ? g->via : "")) ||
					     (g->namespace && !(ns = arena_strdup(lp->arena, g->namespace)))))
					return -ENOMEM;
				if (!(u = pg_grow(pub->unused, &a->capunused, pub->nunused, sizeof(*u), 8)))
					return -ENOMEM;
				pub->unused = u;
				u += pub->nunused++;
				/* the rule's strings live as long as the index that
				 * holds it, which outlives the report */
				u->verb = rule->verbs[v];
				u->group = rule->groups[gi];
				u->resource = rule->resources[ri];
				u->names = rule->names;
				u->nnames = rule->nnames;
				u->namespace = ns;
				u->via = via;
			}
	return 0;
}

static int cmp_unused(const void *pa, const void *pb)
{
	const struct leastpriv_unused *a = pa, *b = pb;
	int d;

	if (!a->namespace != !b->namespace)
		return a->namespace ? -1 : 1;
	if ((d = cmp_opt(a->namespace, b->namespace)) || (d = strcmp(a->group, b->group)) ||
	    (d = strcmp(a->resource, b->resource)) || (d = strcmp(a->verb, b->verb)) || (d = strcmp(a->via, b->via)))
		return d;
	if (a->nnames != b->nnames)
		return a->nnames < b->nnames ? -1 : 1;
	for (size_t i = 0; i < a->nnames; i++)
		if ((d = strcmp(a->names[i], b->names[i])))
			return d;
	return 0;
}

void leastpriv_grants_done(struct leastpriv_account *a)
{
	size_t n = 0;

	if (a->nunused > 1)
		qsort(a->unused, a->nunused, sizeof(*a->unused), cmp_unused);
	for (size_t i = 0; i < a->nunused; i++)
		if (n == 0 || cmp_unused(&a->unused[n - 1], &a->unused[i]))
			a->unused[n++] = a->unused[i];
	a->nunused = n;
}
