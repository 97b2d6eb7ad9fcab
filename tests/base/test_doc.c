/* test_doc.c - YAML and JSON edge cases: what kubectl would read. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "doc.h"
#include "jval.h"
#include "xalloc.h"

struct collect {
	json_t *docs;           /* array */
	json_t *indexes;
};

static int collect(void *ud, size_t index, json_t *doc)
{
	struct collect *c = ud;

	json_array_append(c->docs, doc);
	json_array_append_new(c->indexes, json_integer((json_int_t)index));
	return 0;
}

static int parse(const char *s, struct collect *c, struct doc_error *err)
{
	c->docs = json_array();
	c->indexes = json_array();
	return doc_parse(s, strlen(s), NULL, collect, c, err);
}

static void done(struct collect *c)
{
	json_decref(c->docs);
	json_decref(c->indexes);
}

/* Parses @yaml and compares its only document with @json. */
static void expect_json(const char *yaml, const char *json)
{
	struct collect c;
	struct doc_error err;
	json_t *want = json_loads(json, 0, NULL);

	ck_assert_ptr_nonnull(want);
	ck_assert_int_eq(parse(yaml, &c, &err), 0);
	ck_assert_uint_eq(json_array_size(c.docs), 1);
	if (!json_equal(json_array_get(c.docs, 0), want)) {
		char *got = json_dumps(json_array_get(c.docs, 0), JSON_SORT_KEYS);

		ck_abort_msg("%s\n got %s\nwant %s", yaml, got, json);
	}
	json_decref(want);
	done(&c);
}

static void expect_error(const char *yaml, int code, const char *msg_part)
{
	struct collect c;
	struct doc_error err;
	int r = parse(yaml, &c, &err);

	ck_assert_msg(r == code, "%s: got %d want %d (%s)", yaml, r, code, err.msg);
	ck_assert_msg(strstr(err.msg, msg_part), "message \"%s\" lacks \"%s\"", err.msg, msg_part);
	done(&c);
}

START_TEST(test_scalars)
{
	expect_json("a: 1\nb: -2\nc: 0x1f\nd: 0644\ne: 0o17\nf: 1.5\ng: 1e3\n",
		    "{\"a\":1,\"b\":-2,\"c\":31,\"d\":420,\"e\":15,\"f\":1.5,\"g\":1000.0}");
	expect_json("a: true\nb: yes\nc: On\nd: false\ne: no\nf: OFF\ng: y\n",
		    "{\"a\":true,\"b\":true,\"c\":true,\"d\":false,\"e\":false,\"f\":false,\"g\":true}");
	expect_json("a: ~\nb: null\nc:\nd: ''\ne: 'yes'\nf: \"1\"\n",
		    "{\"a\":null,\"b\":null,\"c\":null,\"d\":\"\",\"e\":\"yes\",\"f\":\"1\"}");
	expect_json("a: !!str 123\nb: !!int '7'\nc: !!float 1\nd: .inf\ne: 1.2.3\nf: 09\n",
		    "{\"a\":\"123\",\"b\":7,\"c\":1.0,\"d\":\".inf\",\"e\":\"1.2.3\",\"f\":\"09\"}");
	expect_json("a: 99999999999999999999\n", "{\"a\":\"99999999999999999999\"}");
}
END_TEST

START_TEST(test_anchors_and_merge)
{
	expect_json("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n",
		    "{\"base\":{\"x\":1,\"y\":2},\"c\":{\"x\":1,\"y\":3}}");
	expect_json("a: &a [1, 2]\nb: *a\nk: &k key\n*k : v\n",
		    "{\"a\":[1,2],\"b\":[1,2],\"k\":\"key\",\"key\":\"v\"}");
	expect_json("a: &x {p: 1}\nb: &y {q: 2}\nc: {<<: [*x, *y], r: 3}\n",
		    "{\"a\":{\"p\":1},\"b\":{\"q\":2},\"c\":{\"p\":1,\"q\":2,\"r\":3}}");
	expect_error("a: *nope\n", -EINVAL, "unknown anchor");
	expect_error("a: &a [*a]\n", -EINVAL, "unknown anchor");
}
END_TEST

START_TEST(test_alias_bomb)
{
	/* Nine levels of ten-fold aliases: a billion nodes if expanded. */
	static const char bomb[] =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";

	expect_error(bomb, -E2BIG, "nodes");
}
END_TEST

START_TEST(test_multi_doc)
{
	struct collect c;
	struct doc_error err;

	ck_assert_int_eq(parse("---\na: 1\n---\n---\n# only a comment\n---\nb: 2\n...\n---\nc: 3\n", &c, &err), 0);
	ck_assert_uint_eq(json_array_size(c.docs), 3);
	/* Empty documents are counted, so numbers match what an editor shows. */
	ck_assert_int_eq(json_integer_value(json_array_get(c.indexes, 0)), 1);
	ck_assert_int_eq(json_integer_value(json_array_get(c.indexes, 1)), 4);
	ck_assert_int_eq(json_integer_value(json_array_get(c.indexes, 2)), 5);
	done(&c);
	ck_assert_int_eq(parse("", &c, &err), 0);
	ck_assert_uint_eq(json_array_size(c.docs), 0);
	done(&c);
}
END_TEST

START_TEST(test_json_stream)
{
	struct collect c;
	struct doc_error err;

	ck_assert_int_eq(parse("{\"a\":1}\n{\"b\":2} {\"c\":[3]}\n", &c, &err), 0);
	ck_assert_uint_eq(json_array_size(c.docs), 3);
	done(&c);
	ck_assert_int_eq(parse("\xef\xbb\xbf  [1,2]", &c, &err), 0);
	ck_assert(json_is_array(json_array_get(c.docs, 0)));
	done(&c);
	expect_error("{\"a\":1,\"a\":2}", -EINVAL, "duplicate");
	/* A YAML flow mapping also starts with '{'. */
	expect_json("{app: a, n: 1}\n", "{\"app\":\"a\",\"n\":1}");
	expect_json("[a, {b: c}]", "[\"a\",{\"b\":\"c\"}]");
	expect_error("{\"a\":1}\n{\"b\":", -EINVAL, "JSON syntax error");
}
END_TEST

START_TEST(test_errors_located)
{
	struct collect c;
	struct doc_error err;

	ck_assert_int_eq(parse("a: 1\n---\nb: [1,\n  c: 2\n", &c, &err), -EINVAL);
	ck_assert_uint_eq(err.doc, 2);
	ck_assert_uint_gt(err.line, 2);
	ck_assert_ptr_nonnull(strstr(err.msg, "YAML syntax error"));
	done(&c);
	expect_error("a: 1\na: 2\n", -EINVAL, "duplicate key \"a\"");
	expect_error("? [a]\n: 1\n", -EINVAL, "mapping keys must be scalars");
	expect_error("a: !!int abc\n", -EINVAL, "!!int");
	expect_error("a: !!bool maybe\n", -EINVAL, "!!bool");
	/* Invalid UTF-8 is refused by libyaml, with a position. */
	expect_error("a: \"\xff\xfe\"\n", -EINVAL, "YAML syntax error");
	expect_error("a:\t- b\n\tc", -EINVAL, "YAML syntax error");
}
END_TEST

START_TEST(test_depth_and_doc_limits)
{
	struct doc_limits lim = { 8, 1000, 2 };
	struct collect c = { json_array(), json_array() };
	struct doc_error err;
	char deep[512];
	size_t n = 0;

	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "[");
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "]");
	/* As YAML (flow sequences inside a plain scalar context). */
	ck_assert_int_eq(doc_parse("a: [[[[[[[[[[1]]]]]]]]]]", 24, &lim, collect, &c, &err), -E2BIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "deeper"));
	ck_assert_int_eq(doc_parse("a: 1\n---\nb: 1\n---\nc: 1\n", 22, &lim, collect, &c, &err), -E2BIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "documents"));
	done(&c);
}
END_TEST

START_TEST(test_huge_document)
{
	/* 4 MiB of list items: parsed, within default limits, in one piece. */
	size_t items = 200000, cap = items * 24 + 64, len = 0;
	char *big = malloc(cap);
	struct collect c = { json_array(), json_array() };
	struct doc_error err;

	ck_assert_ptr_nonnull(big);
	len += (size_t)snprintf(big, cap, "items:\n");
	for (size_t i = 0; i < items; i++)
		len += (size_t)snprintf(big + len, cap - len, "- name-%012zu\n", i);
	ck_assert_int_eq(doc_parse(big, len, NULL, collect, &c, &err), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(c.docs, 0), "items")), items);
	done(&c);
	free(big);
}
END_TEST

static int stop_at_second(void *ud, size_t index, json_t *doc)
{
	return index == 2 ? -ECANCELED : 0;
}

START_TEST(test_callback_stops)
{
	struct doc_error err;

	ck_assert_int_eq(doc_parse("a: 1\n---\nb: 2\n---\nc: 3\n", 22, NULL, stop_at_second, NULL, &err),
			 -ECANCELED);
}
END_TEST

START_TEST(test_alloc_failures)
{
	static const char yaml[] = "a: &x {b: [1, 2, {c: d}]}\ne:\n  <<: *x\n  f: g\n---\nh: i\n";
	long total;
	struct doc_error err;

	/* Every allocation fails in turn: an error, never a crash or a leak
	 * (the ASan run of this suite proves the latter). */
	pg_alloc_setup_jansson();
	pg_alloc_fail_at(-1);
	{
		struct collect c = { json_array(), json_array() };

		ck_assert_int_eq(doc_parse(yaml, strlen(yaml), NULL, collect, &c, &err), 0);
		done(&c);
	}
	pg_alloc_fail_at(1L << 40);
	{
		struct collect c = { json_array(), json_array() };

		doc_parse(yaml, strlen(yaml), NULL, collect, &c, &err);
		total = pg_alloc_count();
		done(&c);
	}
	for (long i = 0; i < total; i++) {
		struct collect c = { json_array(), json_array() };
		int r;

		pg_alloc_fail_at(i);
		r = doc_parse(yaml, strlen(yaml), NULL, collect, &c, &err);
		pg_alloc_fail_at(-1);
		ck_assert_msg(r == 0 || r == -ENOMEM, "allocation %ld: %d", i, r);
		done(&c);
	}
}
END_TEST

/* doc_parse_jval() hands over the very documents doc_parse() gives, in
 * order, with the same indexes: YAML 1.1 scalars, merges, a NUL escape
 * kept (and flagged), empty documents counted but not delivered. */
static int collect_jval(void *ud, size_t index, const struct jval *doc)
{
	struct collect *c = ud;
	json_t *j = jval_to_json(doc);

	ck_assert_ptr_nonnull(j);
	json_array_append_new(c->docs, j);
	json_array_append_new(c->indexes, json_integer((json_int_t)index));
	return jval_has_nul(jval_get(doc, "nul")) ? 0 : -EBADMSG;
}

START_TEST(test_jval_documents)
{
	static const char yaml[] =
		"base: &b {x: 1}\nnul: \"a\\0b\"\ny: {<<: *b, z: yes}\nn: 0644\nf: 1.5\n---\n---\n"
		"nul: \"\\0\"\nlist: [~, \"x\"]\n";
	struct collect want, got = { json_array(), json_array() };
	struct doc_error err;

	ck_assert_int_eq(parse(yaml, &want, &err), 0);
	ck_assert_int_eq(doc_parse_jval(yaml, strlen(yaml), NULL, collect_jval, &got, &err), 0);
	ck_assert_uint_eq(json_array_size(got.docs), 2);
	ck_assert(json_equal(got.docs, want.docs));
	ck_assert(json_equal(got.indexes, want.indexes));
	ck_assert_int_eq(json_integer_value(json_array_get(got.indexes, 1)), 3);
	done(&want);
	done(&got);
	/* The callback's value stops the walk, as with doc_parse(). */
	got.docs = json_array();
	got.indexes = json_array();
	ck_assert_int_eq(doc_parse_jval("a: 1\n", 5, NULL, collect_jval, &got, &err), -EBADMSG);
	done(&got);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("doc");
	TCase *tc = tcase_create("doc");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_scalars);
	tcase_add_test(tc, test_anchors_and_merge);
	tcase_add_test(tc, test_alias_bomb);
	tcase_add_test(tc, test_multi_doc);
	tcase_add_test(tc, test_json_stream);
	tcase_add_test(tc, test_errors_located);
	tcase_add_test(tc, test_depth_and_doc_limits);
	tcase_add_test(tc, test_huge_document);
	tcase_add_test(tc, test_callback_stops);
	tcase_add_test(tc, test_alloc_failures);
	tcase_add_test(tc, test_jval_documents);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
