/* test_drift.c - the one grouping of findings into drift reports: per
 * profile, by reason in the engine's order, within the caps, and the keep
 * mask and want callback its two callers (the ingest, the controller) use. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "drift.h"

static struct profile p1, p2;

static void set(struct finding *f, const struct profile *p, enum reason r, char *msg)
{
	memset(f, 0, sizeof(*f));
	f->profile = p;
	f->reason = r;
	f->message = msg;
}

/* p1 exec a1, p2 exec x, p1 egress b1, p1 exec a2 */
static struct finding v[4];
static struct findings fs = { .v = v, .n = 4, .cap = 4, .max = 4 };

static void setup(void)
{
	set(&v[0], &p1, R_UNEXPECTED_EXECUTABLE, "a1");
	set(&v[1], &p2, R_UNEXPECTED_EXECUTABLE, "x");
	set(&v[2], &p1, R_UNEXPECTED_EGRESS, "b1");
	set(&v[3], &p1, R_UNEXPECTED_EXECUTABLE, "a2");
}

START_TEST(test_groups_by_reason_in_order)
{
	struct drift_groups g;

	setup();
	ck_assert_uint_eq(drift_group_findings(&fs, fs.n, NULL, &p1, NULL, NULL, &g), 2);
	ck_assert_int_eq(g.g[0].reason, R_UNEXPECTED_EXECUTABLE);
	ck_assert_uint_eq(g.g[0].nevidence, 2);
	ck_assert_str_eq(g.g[0].evidence[0], "a1");
	ck_assert_str_eq(g.g[0].evidence[1], "a2");
	ck_assert_int_eq(g.g[1].reason, R_UNEXPECTED_EGRESS);
	ck_assert_uint_eq(g.g[1].nevidence, 1);
	ck_assert_str_eq(g.g[1].evidence[0], "b1");
	ck_assert_uint_eq(drift_group_findings(&fs, fs.n, NULL, &p2, NULL, NULL, &g), 1);
	ck_assert_str_eq(g.g[0].evidence[0], "x");
	/* Only the first n findings are looked at. */
	ck_assert_uint_eq(drift_group_findings(&fs, 2, NULL, &p1, NULL, NULL, &g), 1);
	ck_assert_uint_eq(g.g[0].nevidence, 1);
}
END_TEST

START_TEST(test_keep_mask)
{
	bool keep[4] = { false, true, true, true };
	struct drift_groups g;

	setup();
	/* Without its first finding, p1's first reason is egress. */
	ck_assert_uint_eq(drift_group_findings(&fs, fs.n, keep, &p1, NULL, NULL, &g), 2);
	ck_assert_int_eq(g.g[0].reason, R_UNEXPECTED_EGRESS);
	ck_assert_int_eq(g.g[1].reason, R_UNEXPECTED_EXECUTABLE);
	ck_assert_uint_eq(g.g[1].nevidence, 1);
	ck_assert_str_eq(g.g[1].evidence[0], "a2");
}
END_TEST

static bool not_exec(void *ud, enum reason r)
{
	(*(int *)ud)++;
	return r != R_UNEXPECTED_EXECUTABLE;
}

START_TEST(test_want)
{
	struct drift_groups g;
	int asked = 0;

	setup();
	ck_assert_uint_eq(drift_group_findings(&fs, fs.n, NULL, &p1, not_exec, &asked, &g), 1);
	ck_assert_int_eq(g.g[0].reason, R_UNEXPECTED_EGRESS);
	/* Asked for every finding of a reason without a group, never for one
	 * whose reason has its group already. */
	ck_assert_int_eq(asked, 3);
}
END_TEST

START_TEST(test_evidence_cap)
{
	struct finding many[DRIFT_MAX_EVIDENCE + 5];
	struct findings f = { .v = many, .n = DRIFT_MAX_EVIDENCE + 5,
			      .cap = DRIFT_MAX_EVIDENCE + 5, .max = DRIFT_MAX_EVIDENCE + 5 };
	struct drift_groups g;

	for (size_t i = 0; i < f.n; i++)
		set(&many[i], &p1, R_UNEXPECTED_EGRESS, i < DRIFT_MAX_EVIDENCE ? "in" : "out");
	ck_assert_uint_eq(drift_group_findings(&f, f.n, NULL, &p1, NULL, NULL, &g), 1);
	ck_assert_uint_eq(g.g[0].nevidence, DRIFT_MAX_EVIDENCE);
	ck_assert_str_eq(g.g[0].evidence[DRIFT_MAX_EVIDENCE - 1], "in");
}
END_TEST

START_TEST(test_report_fill)
{
	struct pod pod;
	struct drift_report r;

	memset(&pod, 0, sizeof(pod));
	pod.namespace = "ns";
	pod.name = "web-1";
	pod.uid = "u-1";
	p1.name = "prof";
	p1.mode = MODE_ENFORCE;
	memset(&r, 0xff, sizeof(r));
	drift_report_fill(&r, &pod, &p1);
	ck_assert_str_eq(r.namespace, "ns");
	ck_assert_str_eq(r.pod, "web-1");
	ck_assert_str_eq(r.uid, "u-1");
	ck_assert_str_eq(r.profile, "prof");
	ck_assert_int_eq(r.mode, MODE_ENFORCE);
	ck_assert(!r.no_pod);
	ck_assert_ptr_null(r.groups);
	ck_assert_int_eq(r.observed, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("drift");
	TCase *tc = tcase_create("grouping");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_groups_by_reason_in_order);
	tcase_add_test(tc, test_keep_mask);
	tcase_add_test(tc, test_want);
	tcase_add_test(tc, test_evidence_cap);
	tcase_add_test(tc, test_report_fill);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
