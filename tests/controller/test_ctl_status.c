/* test_ctl_status.c - the WorkloadProfile status the controller writes,
 * and the leader election's decision. */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "ctl.h"
#include "xalloc.h"

#define T0 1795000000          /* 2026-11-18T11:06:40Z */

static const char *str(json_t *o, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	return json_string_value(json_object_get(o, path));
}

static json_t *ready(json_t *st)
{
	json_t *c = json_array_get(json_object_get(st, "conditions"), 0);

	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(json_string_value(json_object_get(c, "type")), "Ready");
	return c;
}

START_TEST(valid_profile)
{
	struct pstatus s = { .generation = 3, .valid = true, .matched = 4, .violations = 12 };
	json_t *st = status_build(&s, T0), *c;

	ck_assert_int_eq(json_integer_value(json_object_get(st, "observedGeneration")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "matchedPods")), 4);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "violations")), 12);
	ck_assert_ptr_null(json_object_get(st, "lastViolation"));
	c = ready(st);
	ck_assert_str_eq(str(c, "status"), "True");
	ck_assert_str_eq(str(c, "reason"), "Accepted");
	ck_assert_str_eq(str(c, "message"), "");
	ck_assert_str_eq(str(c, "lastTransitionTime"), "2026-11-18T11:06:40Z");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "observedGeneration")), 3);
	json_decref(st);
}
END_TEST

START_TEST(transition_time_moves_only_on_change)
{
	struct pstatus s = { .generation = 1, .valid = true, .prev_ready = "True",
			     .prev_transition = "2026-01-01T00:00:00Z" };
	json_t *st = status_build(&s, T0);

	ck_assert_str_eq(str(ready(st), "lastTransitionTime"), "2026-01-01T00:00:00Z");
	json_decref(st);
	s.prev_ready = "False";
	st = status_build(&s, T0);
	ck_assert_str_eq(str(ready(st), "lastTransitionTime"), "2026-11-18T11:06:40Z");
	json_decref(st);
}
END_TEST

START_TEST(invalid_profile)
{
	const char *msgs[] = { "spec.mode: must be Enforce or Audit",
			       "spec.selector: required: a profile must select its pods" };
	char *joined = status_join_messages(msgs, 2, 4096);
	struct pstatus s = { .generation = 2, .valid = false, .invalid_message = joined,
			     .matched = 5, .prev_ready = "True",
			     .prev_transition = "2026-01-01T00:00:00Z" };
	json_t *st = status_build(&s, T0), *c = ready(st);

	ck_assert_str_eq(joined, "spec.mode: must be Enforce or Audit; "
				 "spec.selector: required: a profile must select its pods");
	ck_assert_str_eq(str(c, "status"), "False");
	ck_assert_str_eq(str(c, "reason"), "Invalid");
	ck_assert_str_eq(str(c, "message"), joined);
	ck_assert_str_eq(str(c, "lastTransitionTime"), "2026-11-18T11:06:40Z");
	/* Not applied: it selects nothing. */
	ck_assert_int_eq(json_integer_value(json_object_get(st, "matchedPods")), 0);
	json_decref(st);
	pg_free(joined);
}
END_TEST

/* SPEC §2: edited into an invalid spec, the profile is still enforced at
 * its last valid generation, and its status says which, and counts the
 * pods that generation selects. */
START_TEST(invalid_keeps_last_valid)
{
	struct pstatus s = { .generation = 4, .valid = false, .enforced_generation = 3,
			     .invalid_message = "spec.mode: must be Enforce or Audit", .matched = 5,
			     .prev_ready = "True", .prev_transition = "2026-01-01T00:00:00Z" };
	json_t *st = status_build(&s, T0), *c = ready(st);

	ck_assert_int_eq(json_integer_value(json_object_get(st, "observedGeneration")), 4);
	ck_assert_str_eq(str(c, "status"), "False");
	ck_assert_str_eq(str(c, "reason"), "Invalid");
	ck_assert_str_eq(str(c, "message"), "generation 4 is invalid, generation 3 stays enforced: "
					    "spec.mode: must be Enforce or Audit");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "observedGeneration")), 4);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "matchedPods")), 5);
	json_decref(st);
}
END_TEST

START_TEST(last_violation)
{
	struct pstatus s = { .valid = true, .violations = 1, .has_last = true,
			     .last_pod = "api-7d9f-x2", .last_reason = "LegacyToken",
			     .last_message = "spec.volumes[0].secret.secretName: ...",
			     .last_time = T0 };
	json_t *st = status_build(&s, T0 + 5);

	ck_assert_str_eq(str(st, "lastViolation.pod"), "api-7d9f-x2");
	ck_assert_str_eq(str(st, "lastViolation.reason"), "LegacyToken");
	ck_assert_str_eq(str(st, "lastViolation.message"), "spec.volumes[0].secret.secretName: ...");
	ck_assert_str_eq(str(st, "lastViolation.time"), "2026-11-18T11:06:40Z");
	json_decref(st);
}
END_TEST

START_TEST(join_is_bounded)
{
	const char *msgs[] = { "aaaa", "bbbb", "cccc" };
	const char *utf[] = { "xx\xc3\xa9" };
	char *s;

	s = status_join_messages(msgs, 3, 9);
	ck_assert_str_eq(s, "aaaa; bbb");
	pg_free(s);
	s = status_join_messages(msgs, 0, 10);
	ck_assert_str_eq(s, "");
	pg_free(s);
	s = status_join_messages(utf, 1, 3);
	ck_assert_str_eq(s, "xx");
	pg_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl_status");
	TCase *tc = tcase_create("status");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, valid_profile);
	tcase_add_test(tc, transition_time_moves_only_on_change);
	tcase_add_test(tc, invalid_profile);
	tcase_add_test(tc, invalid_keeps_last_valid);
	tcase_add_test(tc, last_violation);
	tcase_add_test(tc, join_is_bounded);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
