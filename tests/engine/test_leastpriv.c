/* test_leastpriv.c - calls in, smallest rules out: resourceNames kept or
 * dropped, verbs merged only over one set of objects, a Role per
 * namespace and the ClusterRole for cluster-wide and non-resource calls,
 * outcomes by code, the bounds at and past, and granted-but-unused as the
 * RBAC authorizer matches. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "leastpriv.h"
#include "rbac.h"

/* "SANS SANAME VERB GROUP RESOURCE[/SUB] NAME NS CODE TIME"; "-" for
 * none, GROUP "core" for "", RESOURCE starting with '/' a path. */
static int add(struct leastpriv *lp, const char *spec)
{
	char sans[64], saname[64], verb[32], group[64], res[128], name[128], ns[64], sub[64];
	int code;
	long t;
	struct leastpriv_call c = { 0 };
	char *slash;

	ck_assert_int_eq(sscanf(spec, "%63s %63s %31s %63s %127s %127s %63s %d %ld", sans, saname, verb, group, res,
				name, ns, &code, &t), 9);
	c.sa_namespace = sans;
	c.sa_name = saname;
	c.verb = verb;
	c.code = code;
	c.time = t;
	if (res[0] == '/') {
		c.path = res;
	} else {
		c.group = strcmp(group, "core") ? group : "";
		sub[0] = '\0';
		if ((slash = strchr(res, '/'))) {
			snprintf(sub, sizeof(sub), "%s", slash + 1);
			*slash = '\0';
		}
		c.resource = res;
		c.subresource = sub;
		c.name = strcmp(name, "-") ? name : NULL;
		c.namespace = strcmp(ns, "-") ? ns : NULL;
	}
	return leastpriv_add(lp, &c);
}

static void list(struct buf *b, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%s%s", i ? "," : "", v[i]);
}

/* Every account as text: "ns:name a=A r=R o=O" then per role
 * "  Role NS|ClusterRole" and per rule "    GROUP|RESOURCE|VERBS|NAMES|calls FIRST-LAST[ dropped]",
 * then "  refused VERB NS GROUP RESOURCE calls". */
static char *dump(struct leastpriv *lp)
{
	struct buf b = BUF_INIT(1 << 20);
	struct leastpriv_account *acc;
	size_t n;

	ck_assert_int_eq(leastpriv_accounts(lp, &acc, &n), 0);
	for (size_t i = 0; i < n; i++) {
		const struct leastpriv_account *a = &acc[i];

		buf_printf(&b, "%s:%s a=%zu r=%zu o=%zu\n", a->namespace, a->name, a->authorized, a->refused, a->other);
		for (size_t j = 0; j < a->nroles; j++) {
			const struct leastpriv_role *ro = &a->roles[j];

			if (ro->namespace)
				buf_printf(&b, "  Role %s\n", ro->namespace);
			else
				buf_printf(&b, "  ClusterRole\n");
			for (size_t k = 0; k < ro->nrules; k++) {
				const struct leastpriv_rule *r = &ro->rules[k];

				if (r->path)
					buf_printf(&b, "    url %s|", r->path);
				else
					buf_printf(&b, "    %s|%s|", r->group, r->resource);
				list(&b, r->verbs, r->nverbs);
				buf_adds(&b, "|");
				list(&b, r->names, r->nnames);
				buf_printf(&b, "|%zu %lld-%lld%s\n", r->calls, (long long)r->first, (long long)r->last,
					   r->names_dropped ? " dropped" : "");
			}
		}
		for (size_t j = 0; j < a->nrefusals; j++) {
			const struct leastpriv_refusal *f = &a->refusals[j];

			buf_printf(&b, "  refused %s %s %s %s %zu\n", f->verb, f->namespace ? f->namespace : "*",
				   f->group ? f->group : "-", f->resource ? f->resource : f->path, f->calls);
		}
	}
	return buf_steal(&b);
}

static const struct {
	const char *what;
	const char *calls[8];
	const char *want;
} cases[] = {
	{ "every call named its object: resourceNames kept, sorted",
	  { "app a get core configmaps cfg-b app 200 10", "app a get core configmaps cfg-a app 200 12", NULL },
	  "app:a a=2 r=0 o=0\n  Role app\n    |configmaps|get|cfg-a,cfg-b|2 10-12\n" },
	{ "verbs on the same objects share a rule",
	  { "app a update core configmaps cfg app 200 5", "app a get core configmaps cfg app 200 3", NULL },
	  "app:a a=2 r=0 o=0\n  Role app\n    |configmaps|get,update|cfg|2 3-5\n" },
	{ "a collection call keeps its verb apart: get keeps its name, list and watch have none",
	  { "app a get core configmaps cfg app 200 1", "app a list core configmaps - app 200 2",
	    "app a watch core configmaps - app 200 3", NULL },
	  "app:a a=3 r=0 o=0\n  Role app\n    |configmaps|list,watch||2 2-3\n    |configmaps|get|cfg|1 1-1\n" },
	{ "one call without a name drops the names of that verb",
	  { "app a get core secrets s1 app 200 1", "app a get core secrets - app 200 2", NULL },
	  "app:a a=2 r=0 o=0\n  Role app\n    |secrets|get||2 1-2\n" },
	{ "a call in another namespace: a Role there; cluster-wide and cluster-scoped: the ClusterRole",
	  { "app a list core pods - other 200 1", "app a list core pods - - 200 2", "app a get core nodes n1 - 200 3",
	    "app a get apps deployments/scale web app 200 4", NULL },
	  "app:a a=4 r=0 o=0\n  Role app\n    apps|deployments/scale|get|web|1 4-4\n"
	  "  Role other\n    |pods|list||1 1-1\n  ClusterRole\n    |nodes|get|n1|1 3-3\n    |pods|list||1 2-2\n" },
	{ "non-resource URLs go to the ClusterRole, one rule a path",
	  { "app a get - /healthz - - 200 1", "app a get - /metrics - - 200 2", "app a get - /healthz - - 200 5", NULL },
	  "app:a a=3 r=0 o=0\n  ClusterRole\n    url /healthz|get||2 1-5\n    url /metrics|get||1 2-2\n" },
	{ "404, 409 and 422 passed the authorizer; 403 is refused; 401, 429, 500 and none are neither",
	  { "app a get core configmaps c app 404 1", "app a create core configmaps - app 409 2",
	    "app a get core secrets s app 403 3", "app a get core secrets s app 403 4",
	    "app a get core pods p app 500 5", "app a get core pods p app 429 6", "app a get core pods p app 0 7",
	    "app a get core pods p app 401 8" },
	  "app:a a=2 r=2 o=4\n  Role app\n    |configmaps|create||1 2-2\n    |configmaps|get|c|1 1-1\n"
	  "  refused get app  secrets 2\n" },
	{ "accounts sorted by namespace and name",
	  { "b x get core pods p b 200 1", "a y get core pods p a 200 1", "a x get core pods p a 200 1", NULL },
	  "a:x a=1 r=0 o=0\n  Role a\n    |pods|get|p|1 1-1\n"
	  "a:y a=1 r=0 o=0\n  Role a\n    |pods|get|p|1 1-1\n"
	  "b:x a=1 r=0 o=0\n  Role b\n    |pods|get|p|1 1-1\n" },
};

START_TEST(test_rules)
{
	struct leastpriv *lp;
	char *got;

	ck_assert_int_eq(leastpriv_new(&lp), 0);
	for (size_t i = 0; i < 8 && cases[_i].calls[i]; i++)
		ck_assert_int_eq(add(lp, cases[_i].calls[i]), 0);
	got = dump(lp);
	if (strcmp(got, cases[_i].want))
		ck_abort_msg("%s:\ngot:\n%swant:\n%s", cases[_i].what, got, cases[_i].want);
	free(got);
	leastpriv_free(lp);
}
END_TEST

/* LEASTPRIV_MAX_NAMES names keep resourceNames; one more drops them and
 * says so. */
START_TEST(test_names_cap)
{
	for (int extra = 0; extra < 2; extra++) {
		struct leastpriv *lp;
		struct leastpriv_account *acc;
		size_t n;
		char spec[128];

		ck_assert_int_eq(leastpriv_new(&lp), 0);
		for (int i = 0; i < LEASTPRIV_MAX_NAMES + extra; i++) {
			snprintf(spec, sizeof(spec), "app a get core configmaps c%03d app 200 %d", i, i);
			ck_assert_int_eq(add(lp, spec), 0);
		}
		ck_assert_int_eq(leastpriv_accounts(lp, &acc, &n), 0);
		ck_assert_uint_eq(n, 1);
		ck_assert_uint_eq(acc[0].roles[0].nrules, 1);
		ck_assert_uint_eq(acc[0].roles[0].rules[0].nnames, extra ? 0 : LEASTPRIV_MAX_NAMES);
		ck_assert(acc[0].roles[0].rules[0].names_dropped == (extra == 1));
		ck_assert_uint_eq(acc[0].roles[0].rules[0].calls, (size_t)(LEASTPRIV_MAX_NAMES + extra));
		leastpriv_free(lp);
	}
}
END_TEST

/* LEASTPRIV_MAX_KEYS distinct calls are taken, one more is refused
 * naming the bound; a repeat of a known one still counts. */
START_TEST(test_keys_cap)
{
	struct leastpriv *lp;
	char spec[128];

	ck_assert_int_eq(leastpriv_new(&lp), 0);
	for (int i = 0; i < LEASTPRIV_MAX_KEYS; i++) {
		snprintf(spec, sizeof(spec), "app a get core r%d - app 200 1", i);
		ck_assert_int_eq(add(lp, spec), 0);
	}
	ck_assert_int_eq(add(lp, "app a get core r0 - app 200 2"), 0);
	ck_assert_int_eq(add(lp, "app a get core extra - app 200 2"), -E2BIG);
	ck_assert_ptr_nonnull(strstr(leastpriv_error(lp), "more than 1024 distinct authorized calls"));
	/* refused calls have their own bound */
	ck_assert_int_eq(add(lp, "app a get core extra - app 403 2"), 0);
	leastpriv_free(lp);
}
END_TEST

START_TEST(test_accounts_cap)
{
	struct leastpriv *lp;
	char spec[128];

	ck_assert_int_eq(leastpriv_new(&lp), 0);
	for (int i = 0; i < LEASTPRIV_MAX_ACCOUNTS; i++) {
		snprintf(spec, sizeof(spec), "app a%d get core pods - app 200 1", i);
		ck_assert_int_eq(add(lp, spec), 0);
	}
	ck_assert_int_eq(add(lp, "app a0 get core pods - app 200 1"), 0);
	ck_assert_int_eq(add(lp, "app new get core pods - app 200 1"), -E2BIG);
	ck_assert_ptr_nonnull(strstr(leastpriv_error(lp), "more than 10000 ServiceAccounts"));
	leastpriv_free(lp);
}
END_TEST

START_TEST(test_bad_calls)
{
	struct leastpriv *lp;
	struct leastpriv_call c = { .sa_namespace = "app", .sa_name = "a", .verb = "get", .resource = "pods",
				    .code = 200 };
	char *big = malloc(LEASTPRIV_MAX_STRING + 2);

	memset(big, 'x', LEASTPRIV_MAX_STRING + 1);
	big[LEASTPRIV_MAX_STRING + 1] = '\0';
	ck_assert_int_eq(leastpriv_new(&lp), 0);
	c.name = big;
	ck_assert_int_eq(leastpriv_add(lp, &c), -EINVAL);
	big[LEASTPRIV_MAX_STRING] = '\0';
	ck_assert_int_eq(leastpriv_add(lp, &c), 0);
	c.sa_name = "";
	ck_assert_int_eq(leastpriv_add(lp, &c), -EINVAL);
	c.sa_name = "a";
	c.resource = NULL;
	ck_assert_int_eq(leastpriv_add(lp, &c), -EINVAL);      /* neither resource nor path */
	leastpriv_free(lp);
	free(big);
}
END_TEST

/* ---- granted but unused ---------------------------------------------------------- */

/* "VERBS|GROUPS|RESOURCES|NAMES" with comma lists, NAMES may be empty. */
struct grant_spec {
	const char *rule;
	const char *ns;         /* NULL: every namespace */
};

static const char **split(char *s, size_t *n)
{
	const char **v = calloc(16, sizeof(*v));
	char *save = NULL;

	*n = 0;
	for (char *t = strtok_r(s, ",", &save); t && *n < 16; t = strtok_r(NULL, ",", &save))
		v[(*n)++] = strcmp(t, "core") ? t : "";
	return v;
}

static const struct {
	const char *what;
	const char *calls[4];
	struct grant_spec grants[3];
	const char *want;
} unused_cases[] = {
	{ "verbs and resources expanded; what a call used is not listed",
	  { "app a get core configmaps cfg app 200 1", NULL },
	  { { "get,list|core|configmaps,secrets|", "app" } },
	  "list  configmaps app\nget  secrets app\nlist  secrets app\n" },
	{ "a RoleBinding's grant holds in its namespace only: a call elsewhere does not use it",
	  { "app a get core configmaps cfg other 200 1", NULL },
	  { { "get|core|configmaps|", "app" }, { "get|core|configmaps|", NULL } },
	  "get  configmaps app\n" },
	{ "wildcards stay one entry, used by any call they match",
	  { "app a patch apps deployments/scale web app 200 1", NULL },
	  { { "*|*|*|", "app" }, { "*|apps|*/scale|", "app" }, { "*|apps|*/status|", "app" } },
	  "* apps */status app\n" },
	{ "resourceNames: used only by a call on one of the objects",
	  { "app a get core secrets s1 app 200 1", NULL },
	  { { "get|core|secrets|s2", "app" }, { "get|core|secrets|s1,s3", "app" } },
	  "get  secrets app s2\n" },
	{ "refused and other calls use nothing",
	  { "app a get core secrets s1 app 403 1", "app a get core secrets s1 app 500 1", NULL },
	  { { "get|core|secrets|", NULL } },
	  "get  secrets *\n" },
};

START_TEST(test_unused)
{
	struct leastpriv *lp;
	struct leastpriv_account *acc;
	struct buf b = BUF_INIT(1 << 16);
	struct rbac_rule rules[3] = { 0 };
	char texts[3][256];
	size_t n, ng = 0;

	ck_assert_int_eq(leastpriv_new(&lp), 0);
	for (size_t i = 0; i < 4 && unused_cases[_i].calls[i]; i++)
		ck_assert_int_eq(add(lp, unused_cases[_i].calls[i]), 0);
	ck_assert_int_eq(leastpriv_accounts(lp, &acc, &n), 0);
	ck_assert_uint_eq(n, 1);
	/* the entries borrow the rules' strings, as from the index: they
	 * live until the end */
	for (; ng < 3 && unused_cases[_i].grants[ng].rule; ng++) {
		char *f[4], *p = texts[ng];
		struct rbac_rule *rule = &rules[ng];
		struct risk_grant g = { rule, unused_cases[_i].grants[ng].ns, "via" };

		snprintf(texts[ng], sizeof(texts[ng]), "%s", unused_cases[_i].grants[ng].rule);
		for (int k = 0; k < 4; k++) {
			f[k] = p;
			p = strchr(p, '|');
			if (p)
				*p++ = '\0';
			else
				p = f[k] + strlen(f[k]);
		}
		rule->verbs = split(f[0], &rule->nverbs);
		rule->groups = split(f[1], &rule->ngroups);
		rule->resources = split(f[2], &rule->nresources);
		rule->names = split(f[3], &rule->nnames);
		ck_assert_int_eq(leastpriv_grant(lp, &acc[0], &g), 0);
	}
	leastpriv_grants_done(&acc[0]);
	for (size_t k = 0; k < acc[0].nunused; k++) {
		const struct leastpriv_unused *u = &acc[0].unused[k];

		buf_printf(&b, "%s %s %s %s", u->verb, u->group, u->resource, u->namespace ? u->namespace : "*");
		for (size_t m = 0; m < u->nnames; m++)
			buf_printf(&b, "%s%s", m ? "," : " ", u->names[m]);
		ck_assert_str_eq(u->via, "via");
		buf_addc(&b, '\n');
	}
	if (strcmp(buf_str(&b), unused_cases[_i].want))
		ck_abort_msg("%s:\ngot:\n%swant:\n%s", unused_cases[_i].what, buf_str(&b), unused_cases[_i].want);
	for (size_t i = 0; i < ng; i++) {
		free(rules[i].verbs);
		free(rules[i].groups);
		free(rules[i].resources);
		free(rules[i].names);
	}
	buf_free(&b);
	leastpriv_free(lp);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("leastpriv");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_rules, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_names_cap);
	tcase_add_test(tc, test_keys_cap);
	tcase_add_test(tc, test_accounts_cap);
	tcase_add_test(tc, test_bad_calls);
	tcase_add_loop_test(tc, test_unused, 0, sizeof(unused_cases) / sizeof(unused_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
