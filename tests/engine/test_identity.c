/* test_identity.c - the incremental RBAC graph: which rules reach an
 * account (direct subjects, the service-account groups,
 * system:authenticated, RoleBinding scope, absent roles), and which
 * accounts each change says it touched. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "errlist.h"
#include "identity.h"

static const char *sdup(struct arena *a, const char *s)
{
	return s ? arena_strdup(a, s) : NULL;
}

/* A role with one rule "VERBS|GROUP|RESOURCE" (one item each). */
static struct rbac_role *role(const char *ns, const char *name, const char *verb, const char *group,
			      const char *resource)
{
	struct arena *a = arena_new(512);
	struct rbac_role *r = arena_alloc(a, sizeof(*r));
	const char **v = arena_alloc(a, 3 * sizeof(char *));

	memset(r, 0, sizeof(*r));
	r->arena = a;
	r->namespace = sdup(a, ns);
	r->name = sdup(a, name);
	v[0] = sdup(a, verb);
	v[1] = sdup(a, group);
	v[2] = sdup(a, resource);
	r->rules = arena_alloc(a, sizeof(*r->rules));
	memset(r->rules, 0, sizeof(*r->rules));
	r->rules[0] = (struct rbac_rule){ .verbs = &v[0], .nverbs = 1, .groups = &v[1], .ngroups = 1,
					  .resources = &v[2], .nresources = 1 };
	r->nrules = 1;
	return r;
}

/* A binding; subjects "sa:NS/NAME", "g:GROUP", "u:USER", comma-separated. */
static struct rbac_binding *binding(const char *ns, const char *name, bool cluster_role,
				    const char *role_name, const char *subjects)
{
	struct arena *a = arena_new(512);
	struct rbac_binding *b = arena_alloc(a, sizeof(*b));
	char buf[512], *save = NULL;

	memset(b, 0, sizeof(*b));
	b->arena = a;
	b->namespace = sdup(a, ns);
	b->name = sdup(a, name);
	b->role_cluster = cluster_role;
	b->role_name = sdup(a, role_name);
	b->subjects = arena_alloc(a, 8 * sizeof(*b->subjects));
	snprintf(buf, sizeof(buf), "%s", subjects);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct rbac_subject *s = &b->subjects[b->nsubjects++];

		memset(s, 0, sizeof(*s));
		if (!strncmp(t, "sa:", 3)) {
			char *slash = strchr(t + 3, '/');

			*slash = '\0';
			s->kind = SUBJECT_SERVICE_ACCOUNT;
			s->namespace = sdup(a, t + 3);
			s->name = sdup(a, slash + 1);
		} else {
			s->kind = t[0] == 'g' ? SUBJECT_GROUP : SUBJECT_USER;
			s->name = sdup(a, t + 2);
		}
	}
	return b;
}

/* Dirty calls, recorded as "NS/NAME" ("*" for NULL), space-joined. */
static char dirty_log[2048];

static void dirty(void *ud, const char *ns, const char *name)
{
	size_t l = strlen(dirty_log);

	(void)ud;
	snprintf(dirty_log + l, sizeof(dirty_log) - l, "%s%s/%s", l ? " " : "", ns ? ns : "*",
		 name ? name : "*");
}

/* The account's grants as "via: verb resource [ns]" lines joined by "; ". */
static char grants_log[4096];

static int grant(void *ud, const struct risk_grant *g)
{
	size_t l = strlen(grants_log);

	(void)ud;
	snprintf(grants_log + l, sizeof(grants_log) - l, "%s%s: %s %s [%s]", l ? "; " : "", g->via,
		 g->rule->verbs[0], g->rule->resources[0], g->namespace ? g->namespace : "*");
	return 0;
}

static const char *grants_of(struct identity_index *x, const char *ns, const char *name)
{
	grants_log[0] = '\0';
	ck_assert_int_eq(identity_index_grants(x, ns, name, grant, NULL), 0);
	return grants_log;
}

START_TEST(test_subjects_groups_and_scope)
{
	struct identity_index *x;

	ck_assert_int_eq(identity_index_new(&x), 0);
	ck_assert_int_eq(identity_index_put_role(x, role("pay", "app", "get", "", "secrets"), NULL, NULL), 0);
	ck_assert_int_eq(identity_index_put_role(x, role(NULL, "view", "list", "", "pods"), NULL, NULL), 0);
	ck_assert_int_eq(identity_index_put_role(x, role(NULL, "disc", "get", "", "nodes"), NULL, NULL), 0);
	ck_assert_int_eq(identity_index_put_role(x, role(NULL, "all-sa", "watch", "", "services"), NULL, NULL), 0);
	ck_assert_int_eq(identity_index_put_role(x, role(NULL, "ns-sa", "get", "", "events"), NULL, NULL), 0);
	/* direct, a RoleBinding to a ClusterRole (scoped to its namespace), the groups */
	ck_assert_int_eq(identity_index_put_binding(x, binding("pay", "app", false, "app", "sa:pay/api"), NULL, NULL), 0);
	ck_assert_int_eq(identity_index_put_binding(x, binding("pay", "view", true, "view", "sa:pay/api,sa:other/x"), NULL, NULL), 0);
	ck_assert_int_eq(identity_index_put_binding(x, binding(NULL, "disc", true, "disc", "g:system:authenticated"), NULL, NULL), 0);
	ck_assert_int_eq(identity_index_put_binding(x, binding(NULL, "all", true, "all-sa", "g:system:serviceaccounts"), NULL, NULL), 0);
	ck_assert_int_eq(identity_index_put_binding(x, binding("pay", "nsg", true, "ns-sa", "g:system:serviceaccounts:pay"), NULL, NULL), 0);
	/* a user and an unrelated group reach no account */
	ck_assert_int_eq(identity_index_put_binding(x, binding(NULL, "ops", true, "view", "u:alice,g:ops"), NULL, NULL), 0);
	/* a binding to an absent role grants nothing */
	ck_assert_int_eq(identity_index_put_binding(x, binding("pay", "ghost", false, "nope", "sa:pay/api"), NULL, NULL), 0);

	/* bindings of one subject come newest first */
	ck_assert_str_eq(grants_of(x, "pay", "api"),
			 "RoleBinding pay/view -> ClusterRole view: list pods [pay]; "
			 "RoleBinding pay/app -> Role pay/app: get secrets [pay]; "
			 "RoleBinding pay/nsg -> ClusterRole ns-sa (as system:serviceaccounts:pay): get events [pay]; "
			 "ClusterRoleBinding all -> ClusterRole all-sa (as system:serviceaccounts): watch services [*]; "
			 "ClusterRoleBinding disc -> ClusterRole disc (as system:authenticated): get nodes [*]");
	/* another namespace: no namespace group, the RoleBinding in pay only */
	ck_assert_str_eq(grants_of(x, "other", "x"),
			 "RoleBinding pay/view -> ClusterRole view: list pods [pay]; "
			 "ClusterRoleBinding all -> ClusterRole all-sa (as system:serviceaccounts): watch services [*]; "
			 "ClusterRoleBinding disc -> ClusterRole disc (as system:authenticated): get nodes [*]");
	identity_index_free(x);
}
END_TEST

START_TEST(test_changes_name_the_accounts_they_touch)
{
	struct identity_index *x;
	struct identity_index_stats st;

	ck_assert_int_eq(identity_index_new(&x), 0);
	dirty_log[0] = '\0';
	ck_assert_int_eq(identity_index_put_role(x, role("pay", "app", "get", "", "secrets"), dirty, NULL), 0);
	ck_assert_str_eq(dirty_log, "");        /* no binding refers to it yet */
	ck_assert_int_eq(identity_index_put_binding(x, binding("pay", "app", false, "app", "sa:pay/api,sa:pay/worker,u:bob"), dirty, NULL), 0);
	ck_assert_str_eq(dirty_log, "pay/api pay/worker");
	ck_assert_int_eq(identity_index_put_binding(x, binding(NULL, "g", true, "v", "g:system:serviceaccounts:pay,g:system:authenticated"), dirty, NULL), 0);

	/* a changed role: the accounts of the bindings that refer to it */
	dirty_log[0] = '\0';
	ck_assert_int_eq(identity_index_put_role(x, role("pay", "app", "list", "", "secrets"), dirty, NULL), 0);
	ck_assert_str_eq(dirty_log, "pay/api pay/worker");
	ck_assert_str_eq(grants_of(x, "pay", "api"), "RoleBinding pay/app -> Role pay/app: list secrets [pay]");
	/* a Role of the same name elsewhere touches no one */
	dirty_log[0] = '\0';
	ck_assert_int_eq(identity_index_put_role(x, role("other", "app", "get", "", "pods"), dirty, NULL), 0);
	ck_assert_str_eq(dirty_log, "");
	/* a group binding: the namespace, then everyone */
	dirty_log[0] = '\0';
	ck_assert_int_eq(identity_index_put_role(x, role(NULL, "v", "get", "", "pods"), dirty, NULL), 0);
	ck_assert_str_eq(dirty_log, "pay/* */*");

	/* a replaced binding: the accounts of the old and of the new */
	dirty_log[0] = '\0';
	ck_assert_int_eq(identity_index_put_binding(x, binding("pay", "app", false, "app", "sa:pay/api,sa:pay/new"), dirty, NULL), 0);
	ck_assert_str_eq(dirty_log, "pay/api pay/worker pay/api pay/new");
	ck_assert_str_eq(grants_of(x, "pay", "worker"),
			 "ClusterRoleBinding g -> ClusterRole v (as system:serviceaccounts:pay): get pods [*]; "
			 "ClusterRoleBinding g -> ClusterRole v (as system:authenticated): get pods [*]");
	/* deletes */
	dirty_log[0] = '\0';
	identity_index_del_binding(x, "pay", "app", dirty, NULL);
	ck_assert_str_eq(dirty_log, "pay/api pay/new");
	dirty_log[0] = '\0';
	identity_index_del_binding(x, "pay", "app", dirty, NULL);       /* absent: nothing */
	identity_index_del_role(x, "pay", "app", dirty, NULL);           /* no binding left */
	ck_assert_str_eq(dirty_log, "");
	identity_index_stats(x, &st);
	ck_assert_uint_eq(st.roles, 2);
	ck_assert_uint_eq(st.bindings, 1);
	ck_assert_uint_eq(st.edges, 3);         /* two group subjects and one role reference */
	identity_index_free(x);
}
END_TEST

START_TEST(test_judge_reads_the_grants)
{
	struct identity_index *x;
	struct risk_result res;

	ck_assert_int_eq(identity_index_new(&x), 0);
	ck_assert_int_eq(identity_index_put_role(x, role("pay", "app", "get", "", "secrets"), NULL, NULL), 0);
	ck_assert_int_eq(identity_index_put_role(x, role(NULL, "del", "delete", "", "pods"), NULL, NULL), 0);
	ck_assert_int_eq(identity_index_put_binding(x, binding("pay", "app", false, "app", "sa:pay/api"), NULL, NULL), 0);
	/* delete-broadly only through a ClusterRoleBinding: a RoleBinding to the same ClusterRole is not */
	ck_assert_int_eq(identity_index_put_binding(x, binding("pay", "del", true, "del", "sa:pay/api"), NULL, NULL), 0);
	ck_assert_int_eq(identity_index_judge(x, "pay", "api", &res), 0);
	ck_assert_int_eq(res.level, RISK_CRITICAL);
	ck_assert_uint_eq(res.nfindings, 1);
	ck_assert_str_eq(res.findings[0].grant, "get secrets in pay");
	ck_assert_str_eq(res.findings[0].via, "RoleBinding pay/app -> Role pay/app");
	ck_assert_int_eq(identity_index_put_binding(x, binding(NULL, "del", true, "del", "sa:pay/api"), NULL, NULL), 0);
	ck_assert_int_eq(identity_index_judge(x, "pay", "api", &res), 0);
	ck_assert_uint_eq(res.nfindings, 2);
	ck_assert_int_eq(res.findings[1].rule, RR_DELETE_BROADLY);
	ck_assert_str_eq(res.findings[1].via, "ClusterRoleBinding del -> ClusterRole del");
	/* an account nothing names */
	ck_assert_int_eq(identity_index_judge(x, "pay", "nobody", &res), 0);
	ck_assert_int_eq(res.level, RISK_NONE);
	identity_index_free(x);
	ck_assert_ptr_null(identity_index_free(NULL));
}
END_TEST

START_TEST(test_load_takes_everything)
{
	struct identity_index *x;
	struct identity_index_stats st;
	struct rbac_role *roles[2] = { role("pay", "app", "get", "", "secrets"), role(NULL, "v", "list", "", "pods") };
	struct rbac_binding *b[1] = { binding("pay", "app", false, "app", "sa:pay/api") };
	struct errlist errs;

	errlist_init(&errs, 4);
	ck_assert_int_eq(identity_index_new(&x), 0);
	ck_assert_int_eq(identity_index_load(x, roles, 2, b, 1, &errs), 0);
	/* every slot taken: the caller frees nothing twice */
	ck_assert_ptr_null(roles[0]);
	ck_assert_ptr_null(roles[1]);
	ck_assert_ptr_null(b[0]);
	identity_index_stats(x, &st);
	ck_assert_uint_eq(st.roles, 2);
	ck_assert_uint_eq(st.bindings, 1);
	ck_assert_str_eq(grants_of(x, "pay", "api"), "RoleBinding pay/app -> Role pay/app: get secrets [pay]");
	ck_assert_uint_eq(errs.n, 0);
	errlist_free(&errs);
	identity_index_free(x);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("identity");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_subjects_groups_and_scope);
	tcase_add_test(tc, test_changes_name_the_accounts_they_touch);
	tcase_add_test(tc, test_judge_reads_the_grants);
	tcase_add_test(tc, test_load_takes_everything);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
