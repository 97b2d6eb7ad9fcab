/* test_idusage.c - an identity's usage set: one entry per resource and
 * namespace, verbs sorted and distinct, the day kept, bounded (the least
 * recently seen goes and is counted), entries past the window pruned. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "idusage.h"

#define DAY 86400
#define T0 1795000000

static const char *verbs_of(json_t *a, size_t i, char *out, size_t n)
{
	json_t *vs = json_object_get(json_array_get(a, i), "verbs");
	size_t k, at = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(vs, k, v) {
		int w = snprintf(out + at, n - at, "%s%s", k ? "," : "", json_string_value(v));

		if (w < 0 || (size_t)w >= n - at)
			break;
		at += (size_t)w;
	}
	return out;
}

START_TEST(verbs_sorted_and_distinct)
{
	struct idusage u = IDUSAGE_INIT;
	static const char *const in[] = { "watch", "get", "list", "get", "listx", "lis", "create", "watch" };
	bool changed;
	char text[256];
	json_t *a;

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		ck_assert_int_eq(idusage_add(&u, in[i], "configmaps", "pay", T0, &changed), 0);
	ck_assert(!changed);            /* the last one, "watch", was there */
	ck_assert_uint_eq(u.n, 1);
	a = idusage_json(&u);
	ck_assert_str_eq(verbs_of(a, 0, text, sizeof(text)), "create,get,lis,list,listx,watch");
	json_decref(a);
	/* A later call the same day changes nothing; the next day does. */
	ck_assert_int_eq(idusage_add(&u, "get", "configmaps", "pay", T0 + 60, &changed), 0);
	ck_assert(!changed);
	ck_assert_int_eq(idusage_add(&u, "get", "configmaps", "pay", T0 + DAY, &changed), 0);
	ck_assert(changed);
	/* An earlier day never moves lastSeen back. */
	ck_assert_int_eq(idusage_add(&u, "get", "configmaps", "pay", T0 - 5 * DAY, &changed), 0);
	ck_assert(!changed);
	ck_assert_int_eq(u.v[0].day, (T0 + DAY) - (T0 + DAY) % DAY);
	idusage_free(&u);
}
END_TEST

START_TEST(bounds_are_counted)
{
	struct idusage u = IDUSAGE_INIT;
	char verb[IDUSAGE_VERB_MAX + 2], res[IDUSAGE_RESOURCE_MAX + 2];
	bool changed;

	memset(verb, 'v', sizeof(verb) - 1);
	verb[sizeof(verb) - 1] = '\0';
	memset(res, 'r', sizeof(res) - 1);
	res[sizeof(res) - 1] = '\0';
	ck_assert_int_eq(idusage_add(&u, verb, "pods", NULL, T0, &changed), 0);
	ck_assert(changed);
	ck_assert_int_eq(idusage_add(&u, "get", res, NULL, T0, NULL), 0);
	ck_assert_int_eq(idusage_add(&u, "a,b", "pods", NULL, T0, NULL), 0);
	ck_assert_int_eq(idusage_add(&u, NULL, "pods", NULL, T0, NULL), 0);
	ck_assert_uint_eq(u.n, 0);
	ck_assert_uint_eq(u.omitted, 4);
	/* Sixteen verbs fit; the seventeenth is counted. */
	for (int i = 0; i < IDUSAGE_MAX_VERBS + 1; i++) {
		char v[8];

		snprintf(v, sizeof(v), "v%02d", i);
		ck_assert_int_eq(idusage_add(&u, v, "pods", "", T0, NULL), 0);
	}
	ck_assert_uint_eq(u.v[0].nverbs, IDUSAGE_MAX_VERBS);
	ck_assert_uint_eq(u.omitted, 5);
	idusage_free(&u);
}
END_TEST

START_TEST(cap_keeps_the_most_recent)
{
	struct idusage u = IDUSAGE_INIT;
	char res[16];

	for (int i = 0; i < IDUSAGE_MAX; i++) {
		snprintf(res, sizeof(res), "r%03d", i);
		ck_assert_int_eq(idusage_add(&u, "get", res, "ns", T0 + (i == 7 ? 0 : DAY), NULL), 0);
	}
	ck_assert_uint_eq(u.n, IDUSAGE_MAX);
	/* An older call than everything held is the one left out. */
	ck_assert_int_eq(idusage_add(&u, "get", "ancient", "ns", T0 - 10 * DAY, NULL), 0);
	ck_assert_uint_eq(u.omitted, 1);
	for (size_t i = 0; i < u.n; i++)
		ck_assert_str_ne(u.v[i].resource, "ancient");
	/* A newer one evicts the least recently seen (r007). */
	ck_assert_int_eq(idusage_add(&u, "get", "fresh", "ns", T0 + 2 * DAY, NULL), 0);
	ck_assert_uint_eq(u.n, IDUSAGE_MAX);
	ck_assert_uint_eq(u.omitted, 2);
	for (size_t i = 0; i < u.n; i++) {
		ck_assert_str_ne(u.v[i].resource, "r007");
		if (i)
			ck_assert_int_lt(strcmp(u.v[i - 1].resource, u.v[i].resource), 0);
	}
	/* Pruned past the window: only fresh is left. */
	ck_assert(idusage_prune(&u, T0 + 2 * DAY));
	ck_assert_uint_eq(u.n, 1);
	ck_assert_str_eq(u.v[0].resource, "fresh");
	ck_assert(!idusage_prune(&u, T0 + 2 * DAY));
	idusage_free(&u);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("idusage");
	TCase *tc = tcase_create("idusage");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, verbs_sorted_and_distinct);
	tcase_add_test(tc, bounds_are_counted);
	tcase_add_test(tc, cap_keeps_the_most_recent);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
