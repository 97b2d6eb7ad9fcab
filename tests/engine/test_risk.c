/* test_risk.c - the identity risk rules, rule by rule: the grants that
 * must fire each one and the near misses that must not, then the
 * judgement's order, distinctness, cap and texts. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbac.h"
#include "risk.h"

/* A rule from "VERBS|GROUPS|RESOURCES[|NAMES]", lists comma-separated,
 * "-" for the core group "".  Storage is static: one rule per slot. */
#define SLOTS 64
static char store[SLOTS][512];
static const char *lists[SLOTS][4][16];
static struct rbac_rule slots[SLOTS];

static size_t split(char *s, const char **out)
{
	size_t n = 0;

	if (!*s)
		return 0;
	for (char *tok = s; tok; ) {
		char *c = strchr(tok, ',');

		if (c)
			*c++ = '\0';
		out[n++] = strcmp(tok, "-") ? tok : "";
		tok = c;
	}
	return n;
}

static const struct rbac_rule *mk(int slot, const char *spec)
{
	char *f[4] = { NULL, NULL, NULL, NULL };
	size_t nf = 0, cnt[4] = { 0, 0, 0, 0 };
	struct rbac_rule *r = &slots[slot];

	snprintf(store[slot], sizeof(store[slot]), "%s", spec);
	for (char *p = store[slot]; p && nf < 4; nf++) {
		f[nf] = p;
		if ((p = strchr(p, '|')))
			*p++ = '\0';
	}
	for (size_t i = 0; i < nf; i++)
		cnt[i] = split(f[i], lists[slot][i]);
	*r = (struct rbac_rule){
		.verbs = lists[slot][0], .nverbs = cnt[0],
		.groups = lists[slot][1], .ngroups = cnt[1],
		.resources = lists[slot][2], .nresources = cnt[2],
		.names = lists[slot][3], .nnames = cnt[3],
	};
	return r;
}

/* The rule names that fired, sorted as the result holds them, joined. */
static void fired(const struct risk_result *res, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (int k = 0; k < RR__COUNT; k++)
		if (res->rule_counts[k])
			len += (size_t)snprintf(out + len, n - len, "%s%s", len ? " " : "",
						risk_rule_name((enum risk_rule)k));
}

static const struct {
	const char *rule;
	bool cluster;           /* through a ClusterRoleBinding */
	const char *want;       /* rules that fire, in table order; "" none */
	const char *level;
} cases[] = {
	/* cluster-admin: all three stars, and only cluster-wide */
	{ "*|*|*", true, "cluster-admin escalate-or-bind impersonate read-secrets create-tokens approve-csr "
	  "control-webhooks create-workloads exec-into-pods node-proxy wildcard delete-broadly write-rbac", "Critical" },
	{ "*|*|*", false, "escalate-or-bind impersonate read-secrets create-tokens approve-csr "
	  "control-webhooks create-workloads exec-into-pods node-proxy wildcard write-rbac", "Critical" },
	/* `*` in a non-core group is wildcard, not cluster-admin nor secrets */
	{ "*|apps|*", true, "create-workloads wildcard delete-broadly", "High" },
	{ "*|apps|*", false, "create-workloads wildcard", "High" },
	/* escalate-or-bind */
	{ "bind|rbac.authorization.k8s.io|clusterroles", false, "escalate-or-bind", "Critical" },
	{ "escalate|rbac.authorization.k8s.io|roles", false, "escalate-or-bind", "Critical" },
	{ "bind|-|clusterroles", false, "", "None" },
	{ "bind|rbac.authorization.k8s.io|rolebindings", false, "", "None" },
	/* impersonate */
	{ "impersonate|-|users", false, "impersonate", "Critical" },
	{ "impersonate|-|serviceaccounts", false, "impersonate", "Critical" },
	{ "impersonate|-|*", false, "impersonate wildcard", "Critical" },
	{ "impersonate|-|nodes", false, "", "None" },
	/* read-secrets: resourceNames do not narrow it */
	{ "get|-|secrets|one-secret", false, "read-secrets", "Critical" },
	{ "watch|-|secrets", false, "read-secrets", "Critical" },
	{ "get|*|secrets", false, "read-secrets wildcard", "Critical" },
	/* get on every resource reaches pods/exec and nodes/proxy too */
	{ "get|-|*", false, "read-secrets exec-into-pods node-proxy wildcard", "Critical" },
	{ "create,delete|-|secrets", false, "", "None" },
	{ "get|apps|secrets", false, "read-only", "Low" },
	{ "get|-|secrets/status", false, "read-only", "Low" },
	/* create-tokens */
	{ "create|-|serviceaccounts/token", false, "create-tokens", "Critical" },
	{ "create|-|*/token", false, "create-tokens wildcard", "Critical" },
	{ "create|-|serviceaccounts", false, "", "None" },
	/* approve-csr */
	{ "update|certificates.k8s.io|certificatesigningrequests/approval", false, "approve-csr", "Critical" },
	{ "update|certificates.k8s.io|certificatesigningrequests", false, "", "None" },
	/* control-webhooks */
	{ "patch|admissionregistration.k8s.io|mutatingwebhookconfigurations", false, "control-webhooks", "High" },
	{ "delete|admissionregistration.k8s.io|validatingwebhookconfigurations", false, "control-webhooks", "High" },
	{ "get,list|admissionregistration.k8s.io|validatingwebhookconfigurations", false, "read-only", "Low" },
	/* create-workloads */
	{ "create|-|pods", false, "create-workloads", "High" },
	{ "update|apps|deployments", false, "create-workloads", "High" },
	{ "patch|batch|cronjobs", false, "create-workloads", "High" },
	{ "create|-|replicationcontrollers", false, "create-workloads", "High" },
	{ "update|-|pods", false, "", "None" },
	{ "create|-|deployments", false, "", "None" },
	/* exec-into-pods */
	{ "create|-|pods/exec", false, "exec-into-pods", "High" },
	{ "get|-|pods/attach", false, "exec-into-pods", "High" },
	{ "create|-|pods/portforward", false, "exec-into-pods", "High" },
	{ "patch|-|pods/ephemeralcontainers", false, "exec-into-pods", "High" },
	{ "get|-|pods/ephemeralcontainers", false, "read-only", "Low" },
	{ "get|-|pods/log", false, "read-only", "Low" },
	/* node-proxy */
	{ "get|-|nodes/proxy", false, "node-proxy", "High" },
	{ "get|-|nodes", false, "read-only", "Low" },
	/* wildcard */
	{ "*|-|configmaps", false, "wildcard", "Medium" },
	{ "get|*|configmaps", false, "wildcard", "Medium" },
	/* delete-broadly: only cluster-wide */
	{ "delete|-|configmaps", true, "delete-broadly", "Medium" },
	{ "deletecollection|-|events", true, "delete-broadly", "Medium" },
	{ "delete|-|configmaps", false, "", "None" },
	/* write-rbac */
	{ "create|rbac.authorization.k8s.io|rolebindings", false, "write-rbac", "Medium" },
	{ "patch|rbac.authorization.k8s.io|clusterroles", false, "write-rbac", "Medium" },
	{ "create|-|rolebindings", false, "", "None" },
	/* read-only */
	{ "get,list,watch|-|configmaps,pods", false, "read-only", "Low" },
	{ "get,list,update|-|configmaps", false, "", "None" },
};

START_TEST(test_rule_table)
{
	const struct risk_grant g = {
		.rule = mk(0, cases[_i].rule),
		.namespace = cases[_i].cluster ? NULL : "payments",
		.via = "RoleBinding payments/app -> Role payments/app",
	};
	struct risk_result res;
	char got[512];

	ck_assert_int_eq(risk_judge(&g, 1, &res), 0);
	fired(&res, got, sizeof(got));
	ck_assert_msg(!strcmp(got, cases[_i].want), "%s (%s): got \"%s\", want \"%s\"",
		      cases[_i].rule, cases[_i].cluster ? "cluster" : "namespace", got, cases[_i].want);
	ck_assert_str_eq(risk_level_name(res.level), cases[_i].level);
}
END_TEST

START_TEST(test_non_resource_rules_are_not_judged)
{
	struct rbac_rule r = *mk(0, "get|-|-");

	r.non_resource = true;
	r.nresources = 0;
	struct risk_grant g = { .rule = &r, .namespace = NULL, .via = "x" };
	struct risk_result res;

	ck_assert_int_eq(risk_judge(&g, 1, &res), 0);
	ck_assert_uint_eq(res.nfindings, 0);
	ck_assert_int_eq(res.level, RISK_NONE);
}
END_TEST

START_TEST(test_texts)
{
	const struct risk_grant g[] = {
		{ mk(0, "get,list,create|-|secrets,configmaps"), "payments",
		  "RoleBinding payments/app -> Role payments/app" },
		{ mk(1, "create|apps|deployments"), NULL, "ClusterRoleBinding deployer -> ClusterRole deployer" },
		{ mk(2, "*|*|*"), NULL, "ClusterRoleBinding admins -> ClusterRole cluster-admin" },
	};
	struct risk_result res;
	char line[1024];

	ck_assert_int_eq(risk_judge(g, 2, &res), 0);
	ck_assert_str_eq(risk_level_name(res.level), "Critical");
	ck_assert_uint_eq(res.nfindings, 2);
	ck_assert_int_eq(res.findings[0].rule, RR_READ_SECRETS);
	ck_assert_str_eq(res.findings[0].grant, "get,list secrets in payments");
	ck_assert_str_eq(res.findings[0].via, "RoleBinding payments/app -> Role payments/app");
	ck_assert_int_eq(res.findings[1].rule, RR_CREATE_WORKLOADS);
	ck_assert_str_eq(res.findings[1].grant, "create deployments.apps cluster-wide");
	ck_assert_int_eq(risk_finding_format(&res.findings[0], line, sizeof(line)), 0);
	ck_assert_str_eq(line, "read-secrets (Critical): get,list secrets in payments via "
			 "RoleBinding payments/app -> Role payments/app");
	ck_assert_int_eq(risk_finding_format(&res.findings[0], line, 10), -ENOSPC);

	ck_assert_int_eq(risk_judge(&g[2], 1, &res), 0);
	ck_assert_int_eq(res.findings[0].rule, RR_CLUSTER_ADMIN);
	ck_assert_str_eq(res.findings[0].grant, "* * cluster-wide");
}
END_TEST

START_TEST(test_read_only_names_verbs_and_ways)
{
	const struct risk_grant g[] = {
		{ mk(0, "get|-|configmaps"), "a", "RoleBinding a/r -> Role a/r" },
		{ mk(1, "watch|-|pods"), "b", "RoleBinding b/r -> Role b/r" },
		{ mk(2, "list|-|services"), NULL, "ClusterRoleBinding c -> ClusterRole c" },
	};
	struct risk_result res;

	ck_assert_int_eq(risk_judge(g, 3, &res), 0);
	ck_assert_int_eq(res.level, RISK_LOW);
	ck_assert_uint_eq(res.nfindings, 1);
	ck_assert_int_eq(res.findings[0].rule, RR_READ_ONLY);
	ck_assert_str_eq(res.findings[0].grant, "get,list,watch only");
	ck_assert_str_eq(res.findings[0].via, "RoleBinding a/r -> Role a/r (and 2 more)");
	/* No grant at all: level None, no finding. */
	ck_assert_int_eq(risk_judge(g, 0, &res), 0);
	ck_assert_int_eq(res.level, RISK_NONE);
	ck_assert_uint_eq(res.nfindings, 0);
}
END_TEST

START_TEST(test_same_finding_twice_is_one)
{
	const struct rbac_rule *r = mk(0, "get|-|secrets");
	const struct risk_grant g[] = {
		{ r, "a", "RoleBinding a/x -> Role a/x" },
		{ mk(1, "get|-|secrets"), "a", "RoleBinding a/x -> Role a/x" },
		{ r, "a", "RoleBinding a/y -> Role a/x" },
	};
	struct risk_result res;

	ck_assert_int_eq(risk_judge(g, 3, &res), 0);
	ck_assert_uint_eq(res.nfindings, 2);
	ck_assert_uint_eq(res.rule_counts[RR_READ_SECRETS], 2);
	ck_assert_str_eq(res.findings[0].via, "RoleBinding a/x -> Role a/x");
	ck_assert_str_eq(res.findings[1].via, "RoleBinding a/y -> Role a/x");
	ck_assert_uint_eq(res.omitted, 0);
}
END_TEST

START_TEST(test_cap_keeps_most_severe_and_counts_the_rest)
{
	static struct risk_grant g[41];
	static char via[41][64];
	struct risk_result res;

	/* 40 ways to read configmaps (read-only would be one finding, so
	 * make them delete-broadly: Medium), then one Critical last. */
	for (int i = 0; i < 40; i++) {
		snprintf(via[i], sizeof(via[i]), "ClusterRoleBinding b%02d -> ClusterRole r", i);
		g[i] = (struct risk_grant){ mk(1, "delete|-|configmaps"), NULL, via[i] };
	}
	/* exactly at the cap: every finding kept, none counted as omitted */
	ck_assert_int_eq(risk_judge(g, RISK_MAX_FINDINGS, &res), 0);
	ck_assert_uint_eq(res.nfindings, RISK_MAX_FINDINGS);
	ck_assert_uint_eq(res.omitted, 0);
	g[40] = (struct risk_grant){ mk(2, "get|-|secrets"), "z", "RoleBinding z/z -> Role z/z" };
	ck_assert_int_eq(risk_judge(g, 41, &res), 0);
	ck_assert_uint_eq(res.nfindings, RISK_MAX_FINDINGS);
	ck_assert_uint_eq(res.omitted, 41 - RISK_MAX_FINDINGS);
	ck_assert_int_eq(res.level, RISK_CRITICAL);
	ck_assert_int_eq(res.findings[0].rule, RR_READ_SECRETS);
	ck_assert_str_eq(res.findings[1].via, "ClusterRoleBinding b00 -> ClusterRole r");
	ck_assert_uint_eq(res.rule_counts[RR_DELETE_BROADLY], 40);
}
END_TEST

START_TEST(test_long_texts_are_cut_visibly)
{
	static const char *many[200];
	static char via[2000];
	struct rbac_rule r = *mk(3, "get|-|secrets");
	struct risk_grant g = { &r, "ns", via };
	struct risk_result res;

	/* mk() holds 16 items a list: the long rule is built by hand. */
	for (int i = 0; i < 200; i++)
		many[i] = "secrets";
	r.resources = many;
	r.nresources = 200;
	memset(via, 'v', sizeof(via) - 1);
	ck_assert_int_eq(risk_judge(&g, 1, &res), 0);
	ck_assert_uint_eq(res.nfindings, 1);
	/* the body is cut, the scope after it kept */
	ck_assert_uint_eq(strlen(res.findings[0].grant), RISK_GRANT_TEXT - 1);
	ck_assert_str_eq(res.findings[0].grant + RISK_GRANT_TEXT - 1 - strlen("... in ns"), "... in ns");
	ck_assert_uint_eq(strlen(res.findings[0].via), RISK_VIA_TEXT - 1);
	ck_assert_str_eq(res.findings[0].via + RISK_VIA_TEXT - 4, "...");
}
END_TEST

START_TEST(test_level_names)
{
	enum risk_level l;

	for (int i = RISK_NONE; i <= RISK_CRITICAL; i++) {
		ck_assert_int_eq(risk_level_parse(risk_level_name((enum risk_level)i), &l), 0);
		ck_assert_int_eq(l, i);
	}
	ck_assert_int_eq(risk_level_parse("critical", &l), -EINVAL);
	ck_assert_int_eq(risk_level_parse(NULL, &l), -EINVAL);
	ck_assert_str_eq(risk_rule_name(RR_READ_SECRETS), "read-secrets");
	for (int k = 0; k < RR__COUNT; k++) {
		enum risk_rule r;

		ck_assert_int_eq(risk_rule_parse(risk_rule_name((enum risk_rule)k), &r), 0);
		ck_assert_int_eq(r, k);
	}
	{
		enum risk_rule r;

		ck_assert_int_eq(risk_rule_parse("read_secrets", &r), -EINVAL);
		ck_assert_int_eq(risk_rule_parse(NULL, &r), -EINVAL);
	}
	ck_assert_int_eq(risk_rule_severity(RR_WILDCARD), RISK_MEDIUM);
	ck_assert_int_eq(risk_rule_severity(RR_READ_ONLY), RISK_LOW);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("risk");
	TCase *tc = tcase_create("risk");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_rule_table, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_non_resource_rules_are_not_judged);
	tcase_add_test(tc, test_texts);
	tcase_add_test(tc, test_read_only_names_verbs_and_ways);
	tcase_add_test(tc, test_same_finding_twice_is_one);
	tcase_add_test(tc, test_cap_keeps_most_severe_and_counts_the_rest);
	tcase_add_test(tc, test_long_texts_are_cut_visibly);
	tcase_add_test(tc, test_level_names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
