/* test_selector.c - model/selector.c: label selectors, matched in a table,
 * and their caps. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "arena.h"
#include "fpath.h"
#include "../lib/items.h"
#include "../lib/testutil.h"

struct scase {
	const char *selector;   /* YAML */
	const char *labels;     /* YAML map */
	bool match;
};

static const struct scase scases[] = {
	{ "{matchLabels: {app: a}}", "{app: a, x: z}", true },
	{ "{matchLabels: {app: a}}", "{app: b}", false },
	{ "{matchLabels: {app: a}}", "{}", false },
	{ "{matchLabels: {app: a, tier: web}}", "{app: a}", false },
	{ "{matchExpressions: [{key: app, operator: In, values: [a, b]}]}", "{app: b}", true },
	{ "{matchExpressions: [{key: app, operator: In, values: [a, b]}]}", "{app: c}", false },
	{ "{matchExpressions: [{key: app, operator: In, values: [a]}]}", "{}", false },
	{ "{matchExpressions: [{key: app, operator: NotIn, values: [a]}]}", "{app: b}", true },
	{ "{matchExpressions: [{key: app, operator: NotIn, values: [a]}]}", "{}", true },
	{ "{matchExpressions: [{key: app, operator: NotIn, values: [a]}]}", "{app: a}", false },
	{ "{matchExpressions: [{key: app, operator: Exists}]}", "{app: ''}", true },
	{ "{matchExpressions: [{key: app, operator: Exists}]}", "{other: x}", false },
	{ "{matchExpressions: [{key: canary, operator: DoesNotExist}]}", "{app: a}", true },
	{ "{matchExpressions: [{key: canary, operator: DoesNotExist}]}", "{canary: 'true'}", false },
	{ "{matchLabels: {app: a}, matchExpressions: [{key: t, operator: Exists}]}", "{app: a}", false },
	{ "{matchLabels: {app: a}, matchExpressions: [{key: t, operator: Exists}]}", "{app: a, t: x}", true },
};

START_TEST(test_selector_table)
{
	const struct scase *tc = &scases[_i];
	struct arena *a = arena_new(256);
	struct errlist errs;
	struct fpath path;
	struct selector sel;
	struct labels labels;
	json_t *sj = tu_yaml(tc->selector), *lj = tu_yaml(tc->labels);

	errlist_init(&errs, 0);
	fpath_init(&path, "selector");
	ck_assert_int_eq(selector_parse(tu_jv(sj), a, &path, &errs, &sel), 0);
	ck_assert_int_eq(labels_from_jval(tu_jv(lj), a, &path, &errs, &labels), 0);
	ck_assert_msg(selector_matches(&sel, &labels) == tc->match, "case %d: %s vs %s", _i,
		      tc->selector, tc->labels);
	errlist_free(&errs);
	json_decref(sj);
	json_decref(lj);
	arena_free(a);
}
END_TEST

static void expect_selector(const char *json, int code, const char *msg, size_t nreqs)
{
	struct arena *a = arena_new(256);
	struct errlist errs;
	struct fpath path;
	struct selector sel;
	json_t *obj = json_loads(json, 0, NULL);

	ck_assert_ptr_nonnull(obj);
	errlist_init(&errs, 0);
	fpath_init(&path, "spec.selector");
	ck_assert_int_eq(selector_parse(tu_jv(obj), a, &path, &errs, &sel), code);
	if (msg)
		ck_assert_msg(errs.n && strcmp(errs.msgs[0], msg) == 0, "got \"%s\" want \"%s\"",
			      errs.n ? errs.msgs[0] : "", msg);
	if (code == 0)
		ck_assert_uint_eq(sel.nreqs, nreqs);
	errlist_free(&errs);
	json_decref(obj);
	arena_free(a);
}

START_TEST(test_selector_caps)
{
	struct buf b;

	buf_init(&b, 64 << 20);
	buf_adds(&b, "{\"matchLabels\":{");
	add_items(&b, SELECTOR_MAX_REQS, "\"k#\":\"v\"");
	buf_adds(&b, "}}");
	expect_selector(buf_str(&b), 0, NULL, SELECTOR_MAX_REQS);
	buf_reset(&b);
	buf_adds(&b, "{\"matchLabels\":{");
	add_items(&b, SELECTOR_MAX_REQS, "\"k#\":\"v\"");
	buf_adds(&b, "},\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"Exists\"}]}");
	expect_selector(buf_str(&b), -EINVAL, "spec.selector: more than 256 requirements (profileguard's limit)", 0);

	buf_reset(&b);
	buf_adds(&b, "{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"In\",\"values\":[");
	add_items(&b, SELECTOR_MAX_VALUES, "\"v#\"");
	buf_adds(&b, "]}]}");
	expect_selector(buf_str(&b), 0, NULL, 1);
	buf_reset(&b);
	buf_adds(&b, "{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"In\",\"values\":[");
	add_items(&b, SELECTOR_MAX_VALUES + 1, "\"v#\"");
	buf_adds(&b, "]}]}");
	expect_selector(buf_str(&b), -EINVAL,
			"spec.selector.matchExpressions[0].values: more than 1024 values (profileguard's limit)", 0);
	buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("selector");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_selector_table, 0, (int)(sizeof(scases) / sizeof(scases[0])));
	tcase_add_test(tc, test_selector_caps);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
