/* test_rbac.c - model/rbac.c: Roles, ClusterRoles, bindings and
 * ServiceAccounts read from their API objects; subjects as the authorizer
 * reads them, errors with their field paths, every bound, offline
 * aggregation, and allocation failures. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "errlist.h"
#include "jval.h"
#include "rbac.h"
#include "xalloc.h"

static struct arena *ja;

static const struct jval *J(const char *json)
{
	const struct jval *v;
	struct jval_error err;
	struct jval_limits lim = JVAL_LIMITS_DEFAULT;

	if (!ja)
		ja = arena_new(1 << 16);
	ck_assert_msg(jval_parse(json, strlen(json), &lim, ja, &v, &err) == 0, "%s: %s", json, err.msg);
	return v;
}

static void teardown(void)
{
	ja = arena_free(ja);
}

/* The errors of @e joined by "; ". */
static const char *errs_str(struct errlist *e)
{
	static char out[4096];
	size_t l = 0;

	out[0] = '\0';
	for (size_t i = 0; i < errlist_count(e); i++)
		l += (size_t)snprintf(out + l, sizeof(out) - l, "%s%s", i ? "; " : "", e->msgs[i]);
	return out;
}

START_TEST(test_kinds)
{
	ck_assert_int_eq(rbac_kind_of(J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\"}")), RBAC_ROLE);
	ck_assert_int_eq(rbac_kind_of(J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\"}")),
			 RBAC_CLUSTER_ROLE_BINDING);
	ck_assert_int_eq(rbac_kind_of(J("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\"}")), RBAC_SERVICE_ACCOUNT);
	ck_assert_int_eq(rbac_kind_of(J("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Role\"}")), RBAC_OTHER);
	ck_assert_int_eq(rbac_kind_of(J("{\"apiVersion\":\"apps/v1\",\"kind\":\"ServiceAccount\"}")), RBAC_OTHER);
	ck_assert_int_eq(rbac_kind_of(J("{\"kind\":\"Role\"}")), RBAC_OTHER);
	ck_assert_str_eq(rbac_kind_name(RBAC_CLUSTER_ROLE), "ClusterRole");
}
END_TEST

START_TEST(test_role)
{
	struct errlist e;
	struct rbac_role *r;

	errlist_init(&e, 16);
	ck_assert_int_eq(rbac_role_parse(J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\","
		"\"metadata\":{\"name\":\"app\",\"uid\":\"u1\",\"labels\":{\"a\":\"b\"}},"
		"\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],\"verbs\":[\"get\",\"list\"],"
		"\"resourceNames\":[\"one\"]},{\"nonResourceURLs\":[\"/healthz\"],\"verbs\":[\"get\"]}]}"),
		"pay", &e, &r), 0);
	ck_assert_str_eq(r->namespace, "pay");   /* the default namespace */
	ck_assert_str_eq(r->name, "app");
	ck_assert_str_eq(r->uid, "u1");
	ck_assert_str_eq(labels_get(&r->labels, "a"), "b");
	ck_assert_uint_eq(r->nrules, 2);
	ck_assert_uint_eq(r->rules[0].nverbs, 2);
	ck_assert_str_eq(r->rules[0].groups[0], "");
	ck_assert_str_eq(r->rules[0].resources[0], "secrets");
	ck_assert_str_eq(r->rules[0].names[0], "one");
	ck_assert(!r->rules[0].non_resource);
	ck_assert(r->rules[1].non_resource);
	rbac_role_free(r);

	/* a ClusterRole has no namespace, whatever the default */
	ck_assert_int_eq(rbac_role_parse(J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
		"\"metadata\":{\"name\":\"view\",\"namespace\":\"ignored\"}}"), "pay", &e, &r), 0);
	ck_assert_ptr_null(r->namespace);
	ck_assert_uint_eq(r->nrules, 0);
	rbac_role_free(r);
	errlist_free(&e);
}
END_TEST

START_TEST(test_role_errors)
{
	struct errlist e;
	struct rbac_role *r = NULL;

	errlist_init(&e, 16);
	ck_assert_int_eq(rbac_role_parse(J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\","
		"\"metadata\":{\"namespace\":\"x\"},"
		"\"rules\":[{\"verbs\":\"get\"},{\"verbs\":[1],\"resources\":[\"a\\u0000b\"]},7]}"),
		NULL, &e, &r), -EINVAL);
	ck_assert_ptr_null(r);
	ck_assert_str_eq(errs_str(&e), "metadata.name: required; rules[0].verbs: must be a list of strings; "
			 "rules[1].verbs[0]: must be a string; rules[1].resources[0]: must not contain NUL; "
			 "rules[2]: must be an object");
	errlist_clear(&e);
	ck_assert_int_eq(rbac_role_parse(J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\","
		"\"metadata\":{\"name\":\"r\",\"namespace\":\"Not_A_Namespace\"}}"), NULL, &e, &r), -EINVAL);
	ck_assert_str_eq(errs_str(&e), "metadata.namespace: not a namespace name (RFC 1123 label: a-z, 0-9 and '-', at most 63)");
	errlist_clear(&e);
	ck_assert_int_eq(rbac_role_parse(J("{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}"), NULL, &e, &r), -EINVAL);
	ck_assert_str_eq(errs_str(&e), "kind: must be Role or ClusterRole of rbac.authorization.k8s.io");
	errlist_free(&e);
}
END_TEST

/* Every bound: at the cap is read, one past is refused with the cap named. */
START_TEST(test_role_bounds)
{
	static char big[200000];
	struct errlist e;
	struct rbac_role *r;
	size_t l;

	errlist_init(&e, 16);
	for (int past = 0; past <= 1; past++) {
		l = (size_t)snprintf(big, sizeof(big), "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
				     "\"metadata\":{\"name\":\"x\"},\"rules\":[");
		for (int i = 0; i < RBAC_MAX_RULES + past; i++)
			l += (size_t)snprintf(big + l, sizeof(big) - l, "%s{\"verbs\":[\"get\"]}", i ? "," : "");
		snprintf(big + l, sizeof(big) - l, "]}");
		errlist_clear(&e);
		ck_assert_int_eq(rbac_role_parse(J(big), NULL, &e, &r), past ? -EINVAL : 0);
		if (past)
			ck_assert_str_eq(errs_str(&e), "rules: more than 1024 rules (profileguard's limit)");
		else
			rbac_role_free(r);

		l = (size_t)snprintf(big, sizeof(big), "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
				     "\"metadata\":{\"name\":\"x\"},\"rules\":[{\"verbs\":[");
		for (int i = 0; i < RBAC_MAX_LIST + past; i++)
			l += (size_t)snprintf(big + l, sizeof(big) - l, "%s\"v\"", i ? "," : "");
		snprintf(big + l, sizeof(big) - l, "]}]}");
		errlist_clear(&e);
		ck_assert_int_eq(rbac_role_parse(J(big), NULL, &e, &r), past ? -EINVAL : 0);
		if (past)
			ck_assert_str_eq(errs_str(&e), "rules[0].verbs: more than 1024 items (profileguard's limit)");
		else
			rbac_role_free(r);

		l = (size_t)snprintf(big, sizeof(big), "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
				     "\"metadata\":{\"name\":\"x\"},\"rules\":[{\"verbs\":[\"");
		for (int i = 0; i < RBAC_MAX_STRING + past; i++)
			big[l++] = 'v';
		snprintf(big + l, sizeof(big) - l, "\"]}]}");
		errlist_clear(&e);
		ck_assert_int_eq(rbac_role_parse(J(big), NULL, &e, &r), past ? -EINVAL : 0);
		if (past)
			ck_assert_str_eq(errs_str(&e), "rules[0].verbs[0]: longer than 1024 bytes (profileguard's limit)");
		else
			rbac_role_free(r);
	}
	errlist_free(&e);
}
END_TEST

START_TEST(test_binding_subjects)
{
	struct errlist e;
	struct rbac_binding *b;

	errlist_init(&e, 16);
	ck_assert_int_eq(rbac_binding_parse(J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
		"\"metadata\":{\"name\":\"app\",\"namespace\":\"pay\"},"
		"\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},"
		"\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"api\"},"
		"{\"kind\":\"ServiceAccount\",\"name\":\"w\",\"namespace\":\"jobs\"},"
		"{\"kind\":\"User\",\"name\":\"system:serviceaccount:ops:bot\"},"
		"{\"kind\":\"User\",\"name\":\"system:serviceaccount:bad\"},"
		"{\"kind\":\"Group\",\"name\":\"system:serviceaccounts:pay\"}]}"), NULL, &e, &b), 0);
	ck_assert_str_eq(b->namespace, "pay");
	ck_assert(b->role_cluster);
	ck_assert_str_eq(b->role_name, "view");
	ck_assert_uint_eq(b->nsubjects, 5);
	/* an account without a namespace is in the binding's */
	ck_assert_int_eq(b->subjects[0].kind, SUBJECT_SERVICE_ACCOUNT);
	ck_assert_str_eq(b->subjects[0].namespace, "pay");
	ck_assert_str_eq(b->subjects[1].namespace, "jobs");
	/* a User that is an account's user name is that account */
	ck_assert_int_eq(b->subjects[2].kind, SUBJECT_SERVICE_ACCOUNT);
	ck_assert_str_eq(b->subjects[2].namespace, "ops");
	ck_assert_str_eq(b->subjects[2].name, "bot");
	ck_assert_int_eq(b->subjects[3].kind, SUBJECT_USER);
	ck_assert_int_eq(b->subjects[4].kind, SUBJECT_GROUP);
	rbac_binding_free(b);
	errlist_free(&e);
}
END_TEST

START_TEST(test_binding_errors)
{
	struct errlist e;
	struct rbac_binding *b;

	errlist_init(&e, 16);
	ck_assert_int_eq(rbac_binding_parse(J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
		"\"metadata\":{\"name\":\"x\"},\"roleRef\":{\"kind\":\"Role\",\"name\":\"r\"},"
		"\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"api\"},{\"kind\":\"Robot\",\"name\":\"r\"},{\"kind\":\"User\"}]}"),
		NULL, &e, &b), -EINVAL);
	ck_assert_str_eq(errs_str(&e), "roleRef.kind: a ClusterRoleBinding can only refer to a ClusterRole; "
			 "subjects[0].namespace: required for a ServiceAccount subject of a ClusterRoleBinding; "
			 "subjects[1].kind: must be ServiceAccount, User or Group; "
			 "subjects[2]: a subject needs a kind and a name");
	errlist_clear(&e);
	ck_assert_int_eq(rbac_binding_parse(J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
		"\"metadata\":{\"name\":\"x\"}}"), NULL, &e, &b), -EINVAL);
	ck_assert_str_eq(errs_str(&e), "roleRef: required: the role this binding grants");
	errlist_free(&e);
}
END_TEST

START_TEST(test_account)
{
	struct errlist e;
	struct rbac_account *a;

	errlist_init(&e, 16);
	ck_assert_int_eq(rbac_account_parse(J("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
		"\"metadata\":{\"name\":\"api\",\"namespace\":\"pay\",\"uid\":\"u\"},"
		"\"automountServiceAccountToken\":false,\"secrets\":[{\"name\":\"api-token-x\"}]}"), NULL, &e, &a), 0);
	ck_assert_str_eq(a->namespace, "pay");
	ck_assert_int_eq(a->automount, 0);
	ck_assert_uint_eq(a->nsecrets, 1);
	ck_assert_str_eq(a->secrets[0], "api-token-x");
	rbac_account_free(a);
	ck_assert_int_eq(rbac_account_parse(J("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
		"\"metadata\":{\"name\":\"d\"}}"), NULL, &e, &a), 0);
	ck_assert_str_eq(a->namespace, "default");
	ck_assert_int_eq(a->automount, -1);
	rbac_account_free(a);
	ck_assert_int_eq(rbac_account_parse(J("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
		"\"metadata\":{\"name\":\"d\"},\"automountServiceAccountToken\":\"no\",\"secrets\":[3]}"), NULL, &e, &a), -EINVAL);
	ck_assert_str_eq(errs_str(&e), "automountServiceAccountToken: must be true or false; "
			 "secrets[0]: must be an object with a name");
	errlist_free(&e);
	ck_assert_ptr_null(rbac_account_free(NULL));
	ck_assert_ptr_null(rbac_role_free(NULL));
	ck_assert_ptr_null(rbac_binding_free(NULL));
}
END_TEST

START_TEST(test_set)
{
	struct rbac_set set = { 0 };
	struct errlist e;

	errlist_init(&e, 16);
	ck_assert_int_eq(rbac_set_add(&set, J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\","
		"\"metadata\":{\"name\":\"r\"}}"), "pay", &e), 0);
	ck_assert_int_eq(rbac_set_add(&set, J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
		"\"metadata\":{\"name\":\"b\"},\"roleRef\":{\"kind\":\"Role\",\"name\":\"r\"}}"), "pay", &e), 0);
	ck_assert_int_eq(rbac_set_add(&set, J("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
		"\"metadata\":{\"name\":\"a\"}}"), "pay", &e), -ENOENT);
	ck_assert_int_eq(rbac_set_add(&set, J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
		"\"metadata\":{}}"), NULL, &e), -EINVAL);
	ck_assert_str_eq(errs_str(&e), "metadata.name: required");
	ck_assert_uint_eq(set.nroles, 1);
	ck_assert_uint_eq(set.nbindings, 1);
	ck_assert_str_eq(set.roles[0]->namespace, "pay");
	ck_assert_str_eq(set.bindings[0]->role_name, "r");
	rbac_set_free(&set);
	ck_assert_uint_eq(set.nroles, 0);
	rbac_set_free(NULL);
	errlist_free(&e);
}
END_TEST

/* Each allocation failing in turn: -ENOMEM and nothing leaked (ASan). */
START_TEST(test_alloc_failures)
{
	const struct jval *role = J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\","
		"\"metadata\":{\"name\":\"app\",\"labels\":{\"a\":\"b\"}},"
		"\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],\"verbs\":[\"get\",\"list\"]}]}");
	const struct jval *bind = J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
		"\"metadata\":{\"name\":\"app\"},\"roleRef\":{\"kind\":\"Role\",\"name\":\"app\"},"
		"\"subjects\":[{\"kind\":\"User\",\"name\":\"system:serviceaccount:a:b\"}]}");
	bool done_r = false, done_b = false;

	for (long n = 1; !(done_r && done_b) && n < 200; n++) {
		struct errlist e;
		struct rbac_role *r = NULL;
		struct rbac_binding *b = NULL;
		int rr, rb;

		errlist_init(&e, 16);
		pg_alloc_fail_at(n);
		rr = rbac_role_parse(role, "pay", &e, &r);
		pg_alloc_fail_at(n);
		rb = rbac_binding_parse(bind, "pay", &e, &b);
		pg_alloc_fail_at(0);
		ck_assert(rr == 0 || rr == -ENOMEM);
		ck_assert(rb == 0 || rb == -ENOMEM);
		done_r |= rr == 0;
		done_b |= rb == 0;
		rbac_role_free(r);
		rbac_binding_free(b);
		errlist_free(&e);
	}
	ck_assert(done_r && done_b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rbac");
	TCase *tc = tcase_create("rbac");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_kinds);
	tcase_add_test(tc, test_role);
	tcase_add_test(tc, test_role_errors);
	tcase_add_test(tc, test_role_bounds);
	tcase_add_test(tc, test_binding_subjects);
	tcase_add_test(tc, test_binding_errors);
	tcase_add_test(tc, test_account);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_alloc_failures);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
