/* test_idreport.c - an IdentityReport's status from what is known: every
 * field, the keys left out when unknown, the workload cap with its
 * count, UTC days, and the Ready condition. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idreport.h"

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);

	json_decref(j);
	return s;
}

START_TEST(test_full)
{
	static const char *const wl[] = { "apps/Deployment/api", "batch/Job/migrate" };
	struct risk_result risk = { .level = RISK_CRITICAL, .nfindings = 1, .omitted = 2 };
	struct idreport r = {
		.uid = "u-1", .state = IDSTATE_ACTIVE, .state_since = 1796000000, .pods = 3,
		.workloads = wl, .nworkloads = 2,
		.tokens = { .bound = 3, .legacy_secrets = 1, .extended = 2, .automount = true },
		.last_used = 1796169599,        /* 2026-12-01T23:59:59Z */
		.risk = &risk, .evaluated = 1796000000,
	};
	char *s;

	risk.findings[0].rule = RR_READ_SECRETS;
	snprintf(risk.findings[0].grant, sizeof(risk.findings[0].grant), "get secrets in pay");
	snprintf(risk.findings[0].via, sizeof(risk.findings[0].via), "RoleBinding pay/a -> Role pay/a");
	s = dump(idreport_status(&r));
	ck_assert_str_eq(s, "{\"conditions\":[{\"lastTransitionTime\":\"2026-11-30T00:53:20Z\",\"reason\":\"Evaluated\","
			 "\"status\":\"True\",\"type\":\"Ready\"}],\"lastUsed\":\"2026-12-01\",\"pods\":3,"
			 "\"risk\":{\"findings\":[{\"grant\":\"get secrets in pay\",\"rule\":\"read-secrets\","
			 "\"severity\":\"Critical\",\"via\":\"RoleBinding pay/a -> Role pay/a\"}],\"findingsOmitted\":2,"
			 "\"level\":\"Critical\"},\"serviceAccountUID\":\"u-1\",\"state\":\"Active\","
			 "\"stateSince\":\"2026-11-30T00:53:20Z\",\"tokens\":{\"automount\":true,\"bound\":3,"
			 "\"extended\":2,\"legacySecrets\":1},\"workloads\":[\"apps/Deployment/api\",\"batch/Job/migrate\"]}");
	free(s);
}
END_TEST

START_TEST(test_unknowns_left_out_and_workload_cap)
{
	static const char *wl[20];
	static char names[20][32];
	struct idreport r = { .state = IDSTATE_UNKNOWN, .state_since = -1, .last_used = -1, .evaluated = -1 };
	json_t *j;

	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "apps/Deployment/w%02d", i);
		wl[i] = names[i];
	}
	r.workloads = wl;
	r.nworkloads = 20;
	j = idreport_status(&r);
	ck_assert_ptr_nonnull(j);
	ck_assert_ptr_null(json_object_get(j, "serviceAccountUID"));
	ck_assert_ptr_null(json_object_get(j, "stateSince"));
	ck_assert_ptr_null(json_object_get(j, "lastUsed"));
	ck_assert_ptr_null(json_object_get(j, "risk"));
	ck_assert_ptr_null(json_object_get(j, "conditions"));
	ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "Unknown");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "workloads")), IDREPORT_MAX_WORKLOADS);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "workloads"), 15)), "apps/Deployment/w15");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "workloadsOmitted")), 4);
	ck_assert(json_is_false(json_object_get(json_object_get(j, "tokens"), "automount")));
	json_decref(j);
	/* at the cap: no count */
	r.nworkloads = IDREPORT_MAX_WORKLOADS;
	j = idreport_status(&r);
	ck_assert_ptr_null(json_object_get(j, "workloadsOmitted"));
	json_decref(j);
}
END_TEST

START_TEST(test_days_and_names)
{
	char day[11];

	idreport_day(0, day);
	ck_assert_str_eq(day, "1970-01-01");
	idreport_day(1796169600, day);  /* 2026-12-02T00:00:00Z */
	ck_assert_str_eq(day, "2026-12-02");
	idreport_day(1796169599, day);
	ck_assert_str_eq(day, "2026-12-01");
	ck_assert_str_eq(identity_state_name(IDSTATE_ORPHANED), "Orphaned");
	ck_assert_str_eq(identity_state_name(IDSTATE_DISABLED), "Disabled");
	ck_assert_str_eq(identity_state_name((enum identity_state)99), "Unknown");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("idreport");
	TCase *tc = tcase_create("idreport");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_unknowns_left_out_and_workload_cap);
	tcase_add_test(tc, test_days_and_names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
