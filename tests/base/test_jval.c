/* test_jval.c - the fast JSON reader: values, strictness, limits. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "jval.h"
#include "xalloc.h"

static int parse(const char *s, struct arena *a, const struct jval **v, struct jval_error *e)
{
	return jval_parse(s, strlen(s), NULL, a, v, e);
}

START_TEST(test_values)
{
	struct arena *a = arena_new(1024);
	const struct jval *v, *x;
	size_t i;

	ck_assert_int_eq(parse(" {\"s\":\"a\\n\\u00e9\\ud83d\\ude00\",\"i\":-42,\"r\":1.5e2,\"t\":true,"
			       "\"f\":false,\"n\":null,\"l\":[1,[2],{}]} ", a, &v, NULL), 0);
	ck_assert(jval_is_object(v));
	ck_assert_str_eq(jval_str(jval_get(v, "s")), "a\n\xc3\xa9\xf0\x9f\x98\x80");
	ck_assert_int_eq(jval_get(v, "i")->u.i, -42);
	ck_assert(jval_get(v, "r")->type == JV_REAL && jval_get(v, "r")->u.d == 150.0);
	ck_assert(jval_is_true(jval_get(v, "t")));
	ck_assert(jval_is_bool(jval_get(v, "f")) && !jval_is_true(jval_get(v, "f")));
	ck_assert(jval_is_null(jval_get(v, "n")));
	ck_assert(jval_is_null(jval_get(v, "missing")));
	ck_assert_ptr_null(jval_get(v, "missing"));
	ck_assert_uint_eq(jval_size(jval_get(v, "l")), 3);
	ck_assert_uint_eq(jval_size(jval_at(jval_get(v, "l"), 1)), 1);
	ck_assert_ptr_null(jval_at(jval_get(v, "l"), 3));
	i = 0;
	jval_foreach_item(jval_get(v, "l"), i, x)
		ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(i, 3);
	ck_assert_int_eq(parse("9223372036854775808", a, &v, NULL), 0);
	ck_assert_int_eq(v->type, JV_REAL);
	ck_assert_int_eq(parse("\"a\\u0000b\"", a, &v, NULL), 0);
	ck_assert_uint_eq(v->n, 3);
	arena_free(a);
}
END_TEST

START_TEST(test_refusals)
{
	static const char *const bad[] = {
		"", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", "-", "1e", "tru", "nul",
		"\"abc", "\"\\x\"", "\"\\ud800\"", "\"\\udc00x\"", "\"a\x01\"", "\"\xff\"", "\"\xc0\x80\"",
		"\"\xed\xa0\x80\"", "{\"a\":1,\"a\":2}", "[1] [2]", "{\"a\\u0000\":1}", "\"\\", "\"\\u12",
	};
	struct arena *a = arena_new(1024);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct jval *v = NULL;
		struct jval_error e;
		int r = parse(bad[i], a, &v, &e);

		ck_assert_msg(r == -EINVAL, "\"%s\" gave %d", bad[i], r);
		ck_assert_msg(e.msg[0], "no message for \"%s\"", bad[i]);
	}
	arena_free(a);
}
END_TEST

START_TEST(test_duplicates_in_big_object)
{
	struct arena *a = arena_new(1024);
	char *s = malloc(200 * 16 + 32);
	size_t n = 0;
	const struct jval *v;

	n += (size_t)snprintf(s, 8, "{");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(s + n, 32, "%s\"k%d\":%d", i ? "," : "", i, i);
	n += (size_t)snprintf(s + n, 32, ",\"k7\":0}");
	ck_assert_int_eq(jval_parse(s, n, NULL, a, &v, NULL), -EINVAL);
	free(s);
	arena_free(a);
}
END_TEST

START_TEST(test_limits)
{
	struct jval_limits lim = { 4, 3 };
	struct arena *a = arena_new(1024);
	const struct jval *v;

	ck_assert_int_eq(jval_parse("[[[[1]]]]", 9, &lim, a, &v, NULL), 0);
	ck_assert_int_eq(jval_parse("[[[[[1]]]]]", 11, &lim, a, &v, NULL), -E2BIG);
	ck_assert_int_eq(jval_parse("[1,2,3]", 7, &lim, a, &v, NULL), 0);
	ck_assert_int_eq(jval_parse("[1,2,3,4]", 9, &lim, a, &v, NULL), -E2BIG);
	arena_free(a);
}
END_TEST

START_TEST(test_from_json)
{
	struct arena *a = arena_new(1024);
	json_t *j = json_loads("{\"a\":[1,2.5,\"x\",null,true],\"b\":{}}", 0, NULL);
	const struct jval *v;

	ck_assert_int_eq(jval_from_json(j, a, &v), 0);
	ck_assert_uint_eq(jval_size(jval_get(v, "a")), 5);
	ck_assert_str_eq(jval_str(jval_at(jval_get(v, "a"), 2)), "x");
	ck_assert(jval_is_object(jval_get(v, "b")));
	json_decref(j);
	arena_free(a);
}
END_TEST

START_TEST(test_alloc_failures)
{
	static const char s[] = "{\"a\":[1,{\"b\":\"c\\n\"}],\"d\":\"e\"}";
	long total;

	pg_alloc_fail_at(1L << 40);
	{
		struct arena *a = arena_new(64);
		const struct jval *v;

		ck_assert_int_eq(jval_parse(s, strlen(s), NULL, a, &v, NULL), 0);
		total = pg_alloc_count();
		arena_free(a);
	}
	for (long i = 1; i < total; i++) {
		struct arena *a;
		const struct jval *v;
		int r;

		pg_alloc_fail_at(-1);
		a = arena_new(64);
		pg_alloc_fail_at(i - 1);
		r = jval_parse(s, strlen(s), NULL, a, &v, NULL);
		pg_alloc_fail_at(-1);
		ck_assert_int_eq(r, -ENOMEM);
		arena_free(a);
	}
}
END_TEST

/* A string holding U+0000 keeps its length and says so; jval_str() and
 * jval_is_string() do not hand it out as a C string, which would end at
 * the NUL. */
START_TEST(test_nul_in_string)
{
	static const char text[] = "{\"image\":\"registry.example.com/payments/x\\u0000evil.com/x\",\"ok\":\"a\\u0001\"}";
	struct arena *a = arena_new(256);
	const struct jval *v, *img, *cp;
	json_t *j;

	ck_assert_int_eq(jval_parse(text, strlen(text), NULL, a, &v, NULL), 0);
	img = jval_get(v, "image");
	ck_assert_int_eq(img->type, JV_STRING);
	ck_assert(!jval_is_string(img));        /* not a string any reader may take */
	ck_assert(jval_has_nul(img));
	ck_assert_uint_eq(img->n, strlen("registry.example.com/payments/x") + 1 + strlen("evil.com/x"));
	ck_assert_ptr_null(jval_str(img));
	ck_assert(!jval_has_nul(jval_get(v, "ok")));
	ck_assert_str_eq(jval_str(jval_get(v, "ok")), "a\x01");
	/* The jansson copy keeps every byte and the flag. */
	j = json_loadb(text, strlen(text), JSON_ALLOW_NUL, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(jval_from_json(j, a, &cp), 0);
	img = jval_get(cp, "image");
	ck_assert(jval_has_nul(img));
	ck_assert_uint_eq(img->n, strlen("registry.example.com/payments/x") + 1 + strlen("evil.com/x"));
	ck_assert_int_eq(memcmp(img->u.s + img->n - 10, "evil.com/x", 10), 0);
	ck_assert_ptr_null(jval_str(img));
	json_decref(j);
	arena_free(a);
}
END_TEST

/* jval_to_json() gives back what jval_from_json() took, NULs, reals and
 * member order included, so a tree read by jval is written as it was. */
START_TEST(test_to_json_round_trip)
{
	static const char text[] = "{\"z\":1,\"a\":[-9223372036854775807,2.5,1e300,\"x\\u0000y\",null,true,false],"
				   "\"m\":{\"k\":{}},\"e\":[]}";
	struct arena *a = arena_new(256);
	json_t *want = json_loadb(text, strlen(text), JSON_ALLOW_NUL, NULL), *got;
	const struct jval *v;
	char *dump;

	ck_assert_ptr_nonnull(want);
	ck_assert_int_eq(jval_parse(text, strlen(text), NULL, a, &v, NULL), 0);
	got = jval_to_json(v);
	ck_assert_ptr_nonnull(got);
	ck_assert(json_equal(got, want));
	ck_assert_uint_eq(json_string_length(json_array_get(json_object_get(got, "a"), 3)), 3);
	/* Members in the order read: the compact dump is the text. */
	dump = json_dumps(got, JSON_COMPACT);
	ck_assert_str_eq(dump, "{\"z\":1,\"a\":[-9223372036854775807,2.5,1.0000000000000001e300,\"x\\u0000y\","
			 "null,true,false],\"m\":{\"k\":{}},\"e\":[]}");
	free(dump);
	json_decref(got);
	json_decref(want);
	arena_free(a);
}
END_TEST

/* A deep copy outlives the arena it was read into. */
START_TEST(test_copy)
{
	static const char text[] = "{\"a\":[1,{\"b\":\"c\\u0000d\"}],\"s\":\"t\"}";
	struct arena *from = arena_new(64), *to = arena_new(64);
	const struct jval *v, *cp;

	ck_assert_int_eq(jval_parse(text, strlen(text), NULL, from, &v, NULL), 0);
	ck_assert_int_eq(jval_copy(to, v, &cp), 0);
	arena_free(from);
	ck_assert_str_eq(jval_str(jval_get(cp, "s")), "t");
	ck_assert_int_eq(jval_at(jval_get(cp, "a"), 0)->u.i, 1);
	ck_assert(jval_has_nul(jval_get(jval_at(jval_get(cp, "a"), 1), "b")));
	ck_assert_uint_eq(jval_get(jval_at(jval_get(cp, "a"), 1), "b")->n, 3);
	arena_free(to);
}
END_TEST

/* Objects derived from others: set replaces in place or appends, del
 * keeps the order of the rest, the source is untouched (as jansson's
 * json_object_set()/del() on a copy). */
START_TEST(test_object_building)
{
	static const char text[] = "{\"a\":1,\"b\":2,\"c\":3}";
	struct arena *a = arena_new(64);
	const struct jval *v;
	struct jval *o, nine = { .type = JV_INT, .u.i = 9 };
	char *dump;
	json_t *j;

	ck_assert_int_eq(jval_parse(text, strlen(text), NULL, a, &v, NULL), 0);
	o = jval_object_copy(a, v);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(jval_object_set(a, o, "b", &nine), 0);
	ck_assert_int_eq(jval_object_set(a, o, "d", &nine), 0);
	jval_object_del(o, "a");
	jval_object_del(o, "nothing");
	j = jval_to_json(o);
	dump = json_dumps(j, JSON_COMPACT);
	ck_assert_str_eq(dump, "{\"b\":9,\"c\":3,\"d\":9}");
	free(dump);
	json_decref(j);
	ck_assert_int_eq(jval_get(v, "b")->u.i, 2);
	ck_assert_uint_eq(jval_size(v), 3);
	ck_assert_ptr_null(jval_object_copy(a, jval_get(v, "a")));
	o = jval_object_new(a);
	ck_assert(jval_is_object(o));
	ck_assert_uint_eq(jval_size(o), 0);
	arena_free(a);
}
END_TEST

/* jval_cstr() reads what jval_str() refuses, up to the NUL, as jansson's
 * json_string_value() does. */
START_TEST(test_cstr)
{
	static const char text[] = "{\"k\":\"Pod\\u0000x\",\"n\":1}";
	struct arena *a = arena_new(64);
	const struct jval *v;

	ck_assert_int_eq(jval_parse(text, strlen(text), NULL, a, &v, NULL), 0);
	ck_assert_ptr_null(jval_str(jval_get(v, "k")));
	ck_assert_str_eq(jval_cstr(jval_get(v, "k")), "Pod");
	ck_assert_ptr_null(jval_cstr(jval_get(v, "n")));
	ck_assert_ptr_null(jval_cstr(NULL));
	arena_free(a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jval");
	TCase *tc = tcase_create("jval");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_duplicates_in_big_object);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_from_json);
	tcase_add_test(tc, test_alloc_failures);
	tcase_add_test(tc, test_nul_in_string);
	tcase_add_test(tc, test_to_json_round_trip);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_object_building);
	tcase_add_test(tc, test_cstr);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
