/* test_lifecycle.c - an identity's state and action, case by case: what
 * makes it Active, Unused, Orphaned, Disabled or Unknown, and the safety
 * cases (an audit outage, a young account, a running pod, the protected
 * accounts, Report mode) that must never reach an action. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "lifecycle.h"

#define H 3600
#define D (24 * H)
#define NOW 1800000000

static const struct {
	const char *what;
	enum lifecycle_mode mode;
	struct lifecycle_facts f;       /* .now is NOW unless set */
	enum identity_state state;
	enum lifecycle_action action;
	bool unused_token;
} cases[] = {
	/* Active */
	{ "a running pod", LIFECYCLE_RETIRE,
	  { .created = NOW - 100 * D, .named = true, .last_named = NOW, .last_used = NOW - D, .live_since = NOW - 200 * D,
	    .disabled_since = -1, .last_attempt = -1 }, IDSTATE_ACTIVE, LIFECYCLE_NONE, false },
	{ "no audit source: a pod makes it Active", LIFECYCLE_RETIRE,
	  { .created = NOW - 400 * D, .named = true, .last_named = NOW, .last_used = -1, .live_since = -1,
	    .disabled_since = -1, .last_attempt = -1 }, IDSTATE_ACTIVE, LIFECYCLE_NONE, false },
	/* Unused */
	{ "named, no call for 90 days of live audit", LIFECYCLE_RETIRE,
	  { .created = NOW - 400 * D, .named = true, .last_named = NOW, .last_used = -1, .live_since = NOW - 90 * D,
	    .disabled_since = -1, .last_attempt = -1 }, IDSTATE_UNUSED, LIFECYCLE_NONE, true },
	{ "named, audit live only 89 days: not provably unused", LIFECYCLE_RETIRE,
	  { .created = NOW - 400 * D, .named = true, .last_named = NOW, .last_used = -1, .live_since = NOW - 89 * D,
	    .disabled_since = -1, .last_attempt = -1 }, IDSTATE_ACTIVE, LIFECYCLE_NONE, false },
	{ "named, created 10 days ago: too young to be unused", LIFECYCLE_RETIRE,
	  { .created = NOW - 10 * D, .named = true, .last_named = NOW, .last_used = -1, .live_since = NOW - 300 * D,
	    .disabled_since = -1, .last_attempt = -1 }, IDSTATE_ACTIVE, LIFECYCLE_NONE, false },
	{ "named, used 100 days ago", LIFECYCLE_RETIRE,
	  { .created = NOW - 400 * D, .named = true, .last_named = NOW, .last_used = NOW - 100 * D,
	    .live_since = NOW - 300 * D, .disabled_since = -1, .last_attempt = -1 }, IDSTATE_UNUSED, LIFECYCLE_NONE, true },
	/* Orphaned */
	{ "workload gone an hour ago, audit live: Disable", LIFECYCLE_DISABLE,
	  { .created = NOW - 40 * D, .named = false, .last_named = NOW - H, .last_used = NOW - 2 * H,
	    .live_since = NOW - 10 * D, .disabled_since = -1, .last_attempt = -1 }, IDSTATE_ORPHANED, LIFECYCLE_ACT_DISABLE, false },
	{ "orphaned in Retire mode: Disable first", LIFECYCLE_RETIRE,
	  { .created = NOW - 40 * D, .named = false, .last_named = NOW - 2 * H, .last_used = -1,
	    .live_since = NOW - 10 * D, .disabled_since = -1, .last_attempt = -1 }, IDSTATE_ORPHANED, LIFECYCLE_ACT_DISABLE, false },
	{ "orphaned in Report mode: state only", LIFECYCLE_REPORT,
	  { .created = NOW - 40 * D, .named = false, .last_named = NOW - 2 * H, .last_used = -1,
	    .live_since = NOW - 10 * D, .disabled_since = -1, .last_attempt = -1 }, IDSTATE_ORPHANED, LIFECYCLE_NONE, false },
	{ "orphaned but protected: never disabled", LIFECYCLE_RETIRE,
	  { .created = NOW - 40 * D, .named = false, .last_named = NOW - 2 * H, .last_used = -1,
	    .live_since = NOW - 10 * D, .disabled_since = -1, .last_attempt = -1, .protected_ = true },
	  IDSTATE_ORPHANED, LIFECYCLE_NONE, false },
	{ "workload gone 59 minutes ago: Unknown", LIFECYCLE_RETIRE,
	  { .created = NOW - 40 * D, .named = false, .last_named = NOW - H + 60, .last_used = -1,
	    .live_since = NOW - 10 * D, .disabled_since = -1, .last_attempt = -1 }, IDSTATE_UNKNOWN, LIFECYCLE_NONE, false },
	{ "a call 30 minutes ago keeps it from Orphaned", LIFECYCLE_RETIRE,
	  { .created = NOW - 40 * D, .named = false, .last_named = NOW - 5 * D, .last_used = NOW - 1800,
	    .live_since = NOW - 10 * D, .disabled_since = -1, .last_attempt = -1 }, IDSTATE_ACTIVE, LIFECYCLE_NONE, false },
	{ "audit outage: live again 30 minutes ago, nothing idle yet", LIFECYCLE_RETIRE,
	  { .created = NOW - 40 * D, .named = false, .last_named = NOW - 5 * D, .last_used = -1,
	    .live_since = NOW - 1800, .disabled_since = -1, .last_attempt = -1 }, IDSTATE_UNKNOWN, LIFECYCLE_NONE, false },
	{ "no audit source at all: Unknown, never Orphaned", LIFECYCLE_RETIRE,
	  { .created = NOW - 400 * D, .named = false, .last_named = NOW - 300 * D, .last_used = -1,
	    .live_since = -1, .disabled_since = -1, .last_attempt = -1 }, IDSTATE_UNKNOWN, LIFECYCLE_NONE, false },
	{ "created 20 minutes ago, nothing names it yet", LIFECYCLE_RETIRE,
	  { .created = NOW - 1200, .named = false, .last_named = -1, .last_used = -1,
	    .live_since = NOW - 10 * D, .disabled_since = -1, .last_attempt = -1 }, IDSTATE_UNKNOWN, LIFECYCLE_NONE, false },
	/* Disabled */
	{ "disabled 14 days, no attempt: Retire", LIFECYCLE_RETIRE,
	  { .created = NOW - 40 * D, .named = false, .last_named = NOW - 20 * D, .last_used = -1,
	    .live_since = NOW - 30 * D, .disabled = true, .disabled_since = NOW - 14 * D, .last_attempt = -1 },
	  IDSTATE_DISABLED, LIFECYCLE_ACT_RETIRE, false },
	{ "disabled 14 days in Disable mode: stays", LIFECYCLE_DISABLE,
	  { .created = NOW - 40 * D, .named = false, .last_named = NOW - 20 * D, .last_used = -1,
	    .live_since = NOW - 30 * D, .disabled = true, .disabled_since = NOW - 14 * D, .last_attempt = -1 },
	  IDSTATE_DISABLED, LIFECYCLE_NONE, false },
	{ "an attempt 2 days ago restarts the retirement clock", LIFECYCLE_RETIRE,
	  { .created = NOW - 40 * D, .named = false, .last_named = NOW - 20 * D, .last_used = -1,
	    .live_since = NOW - 30 * D, .disabled = true, .disabled_since = NOW - 20 * D, .last_attempt = NOW - 2 * D },
	  IDSTATE_DISABLED, LIFECYCLE_NONE, false },
	{ "a template names it again: never retired", LIFECYCLE_RETIRE,
	  { .created = NOW - 40 * D, .named = true, .last_named = NOW, .last_used = -1,
	    .live_since = NOW - 30 * D, .disabled = true, .disabled_since = NOW - 20 * D, .last_attempt = -1 },
	  IDSTATE_DISABLED, LIFECYCLE_NONE, false },
	{ "disabled and protected: never retired", LIFECYCLE_RETIRE,
	  { .created = NOW - 40 * D, .named = false, .last_named = NOW - 20 * D, .last_used = -1,
	    .live_since = NOW - 30 * D, .disabled = true, .disabled_since = NOW - 20 * D, .last_attempt = -1,
	    .protected_ = true }, IDSTATE_DISABLED, LIFECYCLE_NONE, false },
};

START_TEST(test_cases)
{
	struct lifecycle_policy p = LIFECYCLE_POLICY_DEFAULT;
	struct lifecycle_facts f = cases[_i].f;
	struct lifecycle_verdict v;

	p.mode = cases[_i].mode;
	f.now = NOW;
	lifecycle_judge(&p, &f, &v);
	ck_assert_msg(v.state == cases[_i].state, "%s: state %s, want %s", cases[_i].what,
		      identity_state_name(v.state), identity_state_name(cases[_i].state));
	ck_assert_msg(v.action == cases[_i].action, "%s: action %d, want %d", cases[_i].what, v.action,
		      cases[_i].action);
	ck_assert_msg(v.unused_token == cases[_i].unused_token, "%s: unused_token", cases[_i].what);
}
END_TEST

START_TEST(test_modes)
{
	enum lifecycle_mode m;

	ck_assert_int_eq(lifecycle_mode_parse("Retire", &m), 0);
	ck_assert_int_eq(m, LIFECYCLE_RETIRE);
	ck_assert_int_eq(lifecycle_mode_parse("Report", &m), 0);
	ck_assert_int_eq(m, LIFECYCLE_REPORT);
	ck_assert_int_eq(lifecycle_mode_parse("retire", &m), -EINVAL);
	ck_assert_int_eq(lifecycle_mode_parse(NULL, &m), -EINVAL);
}
END_TEST

static const struct {
	struct lifecycle_subject s;
	bool protected_;
} subjects[] = {
	{ { "pay", "api", "profileguard", false, NULL, NULL }, false },
	{ { "pay", "default", "profileguard", false, NULL, NULL }, true },
	{ { "kube-system", "coredns", "profileguard", false, NULL, NULL }, true },
	{ { "kube-public", "reader", "profileguard", false, NULL, NULL }, true },
	{ { "kube-node-lease", "x", "profileguard", false, NULL, NULL }, true },
	{ { "profileguard", "profileguard-controller", "profileguard", false, NULL, NULL }, true },
	{ { "legacy", "api", "profileguard", true, NULL, NULL }, true },
	{ { "pay", "api", "profileguard", false, "ignore", NULL }, true },
	{ { "pay", "api", "profileguard", false, NULL, "ignore" }, true },
	/* Only the value ignore counts; names that merely look alike do not. */
	{ { "pay", "api", "profileguard", false, "Ignore", "true" }, false },
	{ { "kube-systemx", "default-x", "profileguard", false, NULL, NULL }, false },
	{ { "pay", "api", NULL, false, NULL, NULL }, false },
};

START_TEST(test_protected)
{
	const char *why = lifecycle_protected(&subjects[_i].s);

	ck_assert_msg((why != NULL) == subjects[_i].protected_, "%s/%s: %s", subjects[_i].s.ns,
		      subjects[_i].s.name, why ? why : "not protected");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("lifecycle");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_modes);
	tcase_add_loop_test(tc, test_protected, 0, (int)(sizeof(subjects) / sizeof(subjects[0])));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
