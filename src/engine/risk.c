/* risk.c - the risk rules of the identity inventory.  Each rule is a set
 * of needs (an API group, resources, verbs); a granted rule covers a need
 * when its apiGroups, resources and verbs each hold a needed value or
 * `*`, as the RBAC authorizer matches a request.  resourceNames never
 * narrow a finding; nonResourceURLs are not judged. */
#include "risk.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbac.h"
#include "strutil.h"
#include "xalloc.h"

static const char *const level_names[] = { "None", "Low", "Medium", "High", "Critical" };

const char *risk_level_name(enum risk_level l)
{
	return (unsigned)l <= RISK_CRITICAL ? level_names[l] : "None";
}

int risk_level_parse(const char *s, enum risk_level *ret)
{
	for (int l = RISK_NONE; l <= RISK_CRITICAL; l++) {
		if (s && !strcmp(s, level_names[l])) {
			*ret = (enum risk_level)l;
			return 0;
		}
	}
	return -EINVAL;
}

#define V(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* One need: any of @resources in @group with any of @verbs. */
struct need {
	const char *group;
	const char *const *resources;
	const char *const *verbs;
};

enum scope { ANY_SCOPE, CLUSTER_ONLY };

static const struct rule_def {
	const char *name;
	enum risk_level severity;
	enum scope scope;
	const struct need *needs;       /* NULL-group-terminated; NULL: a special rule */
} rules[RR__COUNT] = {
	[RR_CLUSTER_ADMIN] = { "cluster-admin", RISK_CRITICAL, CLUSTER_ONLY, NULL },
	[RR_ESCALATE_OR_BIND] = { "escalate-or-bind", RISK_CRITICAL, ANY_SCOPE, (const struct need[]){
		{ "rbac.authorization.k8s.io", V("roles", "clusterroles"), V("escalate", "bind") },
		{ NULL, NULL, NULL } } },
	[RR_IMPERSONATE] = { "impersonate", RISK_CRITICAL, ANY_SCOPE, (const struct need[]){
		{ "", V("users", "groups", "serviceaccounts"), V("impersonate") },
		{ NULL, NULL, NULL } } },
	[RR_READ_SECRETS] = { "read-secrets", RISK_CRITICAL, ANY_SCOPE, (const struct need[]){
		{ "", V("secrets"), V("get", "list", "watch") },
		{ NULL, NULL, NULL } } },
	[RR_CREATE_TOKENS] = { "create-tokens", RISK_CRITICAL, ANY_SCOPE, (const struct need[]){
		{ "", V("serviceaccounts/token"), V("create") },
		{ NULL, NULL, NULL } } },
	[RR_APPROVE_CSR] = { "approve-csr", RISK_CRITICAL, ANY_SCOPE, (const struct need[]){
		{ "certificates.k8s.io", V("certificatesigningrequests/approval"), V("update") },
		{ NULL, NULL, NULL } } },
	[RR_CONTROL_WEBHOOKS] = { "control-webhooks", RISK_HIGH, ANY_SCOPE, (const struct need[]){
		{ "admissionregistration.k8s.io",
		  V("validatingwebhookconfigurations", "mutatingwebhookconfigurations"),
		  V("create", "update", "patch", "delete") },
		{ NULL, NULL, NULL } } },
	[RR_CREATE_WORKLOADS] = { "create-workloads", RISK_HIGH, ANY_SCOPE, (const struct need[]){
		{ "", V("pods"), V("create") },
		{ "", V("replicationcontrollers"), V("create", "update", "patch") },
		{ "apps", V("deployments", "daemonsets", "statefulsets", "replicasets"),
		  V("create", "update", "patch") },
		{ "batch", V("jobs", "cronjobs"), V("create", "update", "patch") },
		{ NULL, NULL, NULL } } },
	[RR_EXEC_INTO_PODS] = { "exec-into-pods", RISK_HIGH, ANY_SCOPE, (const struct need[]){
		{ "", V("pods/exec", "pods/attach", "pods/portforward"), V("create", "get") },
		{ "", V("pods/ephemeralcontainers"), V("update", "patch") },
		{ NULL, NULL, NULL } } },
	[RR_NODE_PROXY] = { "node-proxy", RISK_HIGH, ANY_SCOPE, (const struct need[]){
		{ "", V("nodes/proxy"), V("get", "create") },
		{ NULL, NULL, NULL } } },
	[RR_WILDCARD] = { "wildcard", RISK_MEDIUM, ANY_SCOPE, NULL },
	[RR_DELETE_BROADLY] = { "delete-broadly", RISK_MEDIUM, CLUSTER_ONLY, NULL },
	[RR_WRITE_RBAC] = { "write-rbac", RISK_MEDIUM, ANY_SCOPE, (const struct need[]){
		{ "rbac.authorization.k8s.io",
		  V("roles", "rolebindings", "clusterroles", "clusterrolebindings"),
		  V("create", "update", "patch") },
		{ NULL, NULL, NULL } } },
	[RR_READ_ONLY] = { "read-only", RISK_LOW, ANY_SCOPE, NULL },
};

const char *risk_rule_name(enum risk_rule r)
{
	return (unsigned)r < RR__COUNT ? rules[r].name : "unknown";
}

int risk_rule_parse(const char *s, enum risk_rule *ret)
{
	for (int k = 0; s && k < RR__COUNT; k++) {
		if (!strcmp(s, rules[k].name)) {
			*ret = (enum risk_rule)k;
			return 0;
		}
	}
	return -EINVAL;
}

enum risk_level risk_rule_severity(enum risk_rule r)
{
	return (unsigned)r < RR__COUNT ? rules[r].severity : RISK_NONE;
}

static bool in_list(const char *s, const char *const *v)
{
	for (; *v; v++)
		if (!strcmp(s, *v))
			return true;
	return false;
}

static bool has_star(const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], "*"))
			return true;
	return false;
}

/* A `*` anywhere in an item: "*" or "*\/scale". */
static bool holds_star(const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strchr(v[i], '*'))
			return true;
	return false;
}

/* Whether the granted resource @g covers the needed resource @need: `*`,
 * the same name, or `*` /SUB for a subresource SUB. */
static bool resource_covers(const char *g, const char *need)
{
	const char *slash;

	if (!strcmp(g, "*") || !strcmp(g, need))
		return true;
	if (g[0] == '*' && g[1] == '/' && (slash = strchr(need, '/')))
		return !strcmp(g + 1, slash);
	return false;
}

static bool resource_covers_any(const char *g, const char *const *needs)
{
	for (; *needs; needs++)
		if (resource_covers(g, *needs))
			return true;
	return false;
}

/* Bounded text: the grant and via texts are cut (with "...") at their
 * buffer, never overflowed; a cut is a display matter, the finding and
 * its level are whole. */
struct text {
	char *s;
	size_t n, len;
	bool cut;
};

static void text_add(struct text *t, const char *s)
{
	size_t l = strlen(s), room;

	if (t->cut)
		return;
	room = t->n - 1 - t->len;
	if (l > room) {
		size_t keep = room > 3 ? str_utf8_cut(s, room - 3) : 0;

		memcpy(t->s + t->len, s, keep);
		t->len += keep;
		memcpy(t->s + t->len, "...", room - keep >= 3 ? 3 : room - keep);
		t->len += room - keep >= 3 ? 3 : room - keep;
		t->cut = true;
	} else {
		memcpy(t->s + t->len, s, l);
		t->len += l;
	}
	t->s[t->len] = '\0';
}

/* " in NAMESPACE" or " cluster-wide" into @out. */
static void scope_text(const struct risk_grant *g, char *out, size_t n)
{
	if (g->namespace)
		snprintf(out, n, " in %s", g->namespace);
	else
		snprintf(out, n, " cluster-wide");
}

/* The verbs of @r that cover @verbs (NULL: all of them), comma-joined. */
static void text_verbs(struct text *t, const struct rbac_rule *r, const char *const *verbs)
{
	bool first = true;

	for (size_t i = 0; i < r->nverbs; i++) {
		if (verbs && strcmp(r->verbs[i], "*") && !in_list(r->verbs[i], verbs))
			continue;
		text_add(t, first ? "" : ",");
		text_add(t, r->verbs[i]);
		first = false;
	}
}

/* RESOURCE or RESOURCE.GROUP for a named non-core group (a `*` group is
 * not written: the resource then reads as in every group). */
static void text_resources(struct text *t, const struct rbac_rule *r, const struct need *need)
{
	const char *group = NULL;
	bool first = true;

	if (need && need->group[0])
		for (size_t i = 0; i < r->ngroups && !group; i++)
			if (!strcmp(r->groups[i], need->group))
				group = need->group;
	if (!need && r->ngroups == 1 && r->groups[0][0] && strcmp(r->groups[0], "*"))
		group = r->groups[0];
	for (size_t i = 0; i < r->nresources; i++) {
		if (need && !resource_covers_any(r->resources[i], need->resources))
			continue;
		text_add(t, first ? "" : ",");
		text_add(t, r->resources[i]);
		if (group && strcmp(r->resources[i], "*")) {
			text_add(t, ".");
			text_add(t, group);
		}
		first = false;
	}
}

static bool rule_covers(const struct rbac_rule *r, const struct need *need)
{
	bool g = false, res = false, verb = false;

	for (size_t i = 0; i < r->ngroups && !g; i++)
		g = !strcmp(r->groups[i], "*") || !strcmp(r->groups[i], need->group);
	for (size_t i = 0; i < r->nresources && g && !res; i++)
		res = resource_covers_any(r->resources[i], need->resources);
	for (size_t i = 0; i < r->nverbs && res && !verb; i++)
		verb = !strcmp(r->verbs[i], "*") || in_list(r->verbs[i], need->verbs);
	return g && res && verb;
}

/* A finding before it is formatted: the rule, the grant, and for rules
 * of needs the need that fired. */
struct cand {
	enum risk_rule rule;
	const struct risk_grant *grant;
	const struct need *need;
	char *text;                     /* formatted grant text, in one block */
};

static void cand_text(struct cand *c, char *out)
{
	const struct rbac_rule *r = c->grant->rule;
	char scope[80];
	struct text t = { out, RISK_GRANT_TEXT, 0, false };

	/* The scope is never cut: the body is, before it. */
	scope_text(c->grant, scope, sizeof(scope));
	t.n = RISK_GRANT_TEXT - strlen(scope);
	out[0] = '\0';
	switch (c->rule) {
	case RR_CLUSTER_ADMIN:
		text_add(&t, "* *");
		break;
	case RR_WILDCARD:
		text_verbs(&t, r, NULL);
		text_add(&t, " ");
		text_resources(&t, r, NULL);
		if (has_star(r->groups, r->ngroups))
			text_add(&t, " in every apiGroup");
		break;
	case RR_DELETE_BROADLY:
		text_verbs(&t, r, V("delete", "deletecollection"));
		text_add(&t, " ");
		text_resources(&t, r, NULL);
		break;
	default:
		text_verbs(&t, r, c->need->verbs);
		text_add(&t, " ");
		text_resources(&t, r, c->need);
		break;
	}
	t.n = RISK_GRANT_TEXT;
	t.cut = false;
	text_add(&t, scope);
	c->text = out;
}

static int cand_cmp(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	int d;

	if (a->rule != b->rule)
		return a->rule < b->rule ? -1 : 1;
	if ((d = strcmp(a->grant->via ? a->grant->via : "", b->grant->via ? b->grant->via : "")))
		return d;
	return strcmp(a->text, b->text);
}

static bool cand_same(const struct cand *a, const struct cand *b)
{
	return cand_cmp(a, b) == 0;
}

struct cands {
	struct cand *v;
	size_t n, cap;
	bool oom;
};

static void cand_push(struct cands *cs, enum risk_rule rule, const struct risk_grant *g,
		      const struct need *need)
{
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 16;
		struct cand *v = pg_realloc(cs->v, cap * sizeof(*v));

		if (!v) {
			cs->oom = true;
			return;
		}
		cs->v = v;
		cs->cap = cap;
	}
	cs->v[cs->n++] = (struct cand){ rule, g, need, NULL };
}

/* Every rule of needs and the special ones on one grant. */
static void judge_grant(struct cands *cs, const struct risk_grant *g)
{
	const struct rbac_rule *r = g->rule;
	bool sv, sr, sg;

	if (!r || r->non_resource || !r->nverbs || !r->nresources || !r->ngroups)
		return;
	sv = has_star(r->verbs, r->nverbs);
	sr = has_star(r->resources, r->nresources);
	sg = has_star(r->groups, r->ngroups);
	if (sv && sr && sg && !g->namespace)
		cand_push(cs, RR_CLUSTER_ADMIN, g, NULL);
	for (int k = 0; k < RR__COUNT; k++) {
		if (!rules[k].needs || (rules[k].scope == CLUSTER_ONLY && g->namespace))
			continue;
		for (const struct need *n = rules[k].needs; n->group; n++) {
			if (rule_covers(r, n)) {
				cand_push(cs, (enum risk_rule)k, g, n);
				break;
			}
		}
	}
	if (sv || sg || holds_star(r->resources, r->nresources))
		cand_push(cs, RR_WILDCARD, g, NULL);
	if (!g->namespace) {
		for (size_t i = 0; i < r->nverbs; i++) {
			if (!strcmp(r->verbs[i], "*") || !strcmp(r->verbs[i], "delete") ||
			    !strcmp(r->verbs[i], "deletecollection")) {
				cand_push(cs, RR_DELETE_BROADLY, g, NULL);
				break;
			}
		}
	}
}

static bool read_verb(const char *v)
{
	return !strcmp(v, "get") || !strcmp(v, "list") || !strcmp(v, "watch");
}

/* read-only: some grant, every granted verb get, list or watch, and no
 * other rule fired.  One finding naming the verbs and the first way. */
static void judge_read_only(const struct risk_grant *grants, size_t n, struct risk_result *ret)
{
	const struct risk_grant *first = NULL;
	bool seen[3] = { false, false, false };
	static const char *const names[3] = { "get", "list", "watch" };
	struct risk_finding *f;
	struct text t;
	size_t ways = 0;

	for (size_t i = 0; i < n; i++) {
		const struct rbac_rule *r = grants[i].rule;

		if (!r || r->non_resource || !r->nverbs || !r->nresources || !r->ngroups)
			continue;
		for (size_t k = 0; k < r->nverbs; k++) {
			if (!read_verb(r->verbs[k]))
				return;
			for (int m = 0; m < 3; m++)
				seen[m] |= !strcmp(r->verbs[k], names[m]);
		}
		if (!first)
			first = &grants[i];
		ways++;
	}
	if (!first)
		return;
	f = &ret->findings[0];
	f->rule = RR_READ_ONLY;
	t = (struct text){ f->grant, sizeof(f->grant), 0, false };
	f->grant[0] = '\0';
	for (int m = 0, k = 0; m < 3; m++) {
		if (seen[m]) {
			text_add(&t, k++ ? "," : "");
			text_add(&t, names[m]);
		}
	}
	text_add(&t, " only");
	t = (struct text){ f->via, sizeof(f->via), 0, false };
	f->via[0] = '\0';
	text_add(&t, first->via ? first->via : "");
	if (ways > 1) {
		char more[48];

		snprintf(more, sizeof(more), " (and %zu more)", ways - 1);
		text_add(&t, more);
	}
	ret->nfindings = 1;
	ret->rule_counts[RR_READ_ONLY] = 1;
	ret->level = RISK_LOW;
}

int risk_judge(const struct risk_grant *grants, size_t n, struct risk_result *ret)
{
	struct cands cs = { 0 };
	char *texts = NULL;
	size_t distinct = 0;

	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < n; i++)
		judge_grant(&cs, &grants[i]);
	if (cs.oom)
		goto oom;
	if (!cs.n) {
		judge_read_only(grants, n, ret);
		return 0;
	}
	if (!(texts = pg_malloc(cs.n * RISK_GRANT_TEXT)))
		goto oom;
	for (size_t i = 0; i < cs.n; i++)
		cand_text(&cs.v[i], texts + i * RISK_GRANT_TEXT);
	qsort(cs.v, cs.n, sizeof(*cs.v), cand_cmp);
	for (size_t i = 0; i < cs.n; i++) {
		struct risk_finding *f;
		struct text t;

		if (i && cand_same(&cs.v[i], &cs.v[i - 1]))
			continue;
		distinct++;
		ret->rule_counts[cs.v[i].rule]++;
		if (risk_rule_severity(cs.v[i].rule) > ret->level)
			ret->level = risk_rule_severity(cs.v[i].rule);
		if (ret->nfindings == RISK_MAX_FINDINGS)
			continue;
		f = &ret->findings[ret->nfindings++];
		f->rule = cs.v[i].rule;
		memcpy(f->grant, cs.v[i].text, RISK_GRANT_TEXT);
		t = (struct text){ f->via, sizeof(f->via), 0, false };
		f->via[0] = '\0';
		text_add(&t, cs.v[i].grant->via ? cs.v[i].grant->via : "");
	}
	ret->omitted = distinct - ret->nfindings;
	pg_free(texts);
	pg_free(cs.v);
	return 0;
oom:
	pg_free(cs.v);
	memset(ret, 0, sizeof(*ret));
	return -ENOMEM;
}

int risk_finding_format(const struct risk_finding *f, char *out, size_t n)
{
	int r = snprintf(out, n, "%s (%s): %s via %s", risk_rule_name(f->rule),
			 risk_level_name(risk_rule_severity(f->rule)), f->grant, f->via);

	return r < 0 || (size_t)r >= n ? -ENOSPC : 0;
}
