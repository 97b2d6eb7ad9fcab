/* test_kube_watch.c - the watch-stream splitter under every chunking, its
 * line limit, and the event parser. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "jval.h"
#include "kube_watch.h"
#include "xalloc.h"

#include "../lib/watch_reference.h"

struct lines_seen {
	char out[8192];
	size_t len;
	int count;
	int fail_at;            /* the callback fails on this line; -1: never */
};

static int collect(void *ud, const char *line, size_t len)
{
	struct lines_seen *s = ud;

	ck_assert_uint_eq(strlen(line), len);  /* NUL-terminated at len */
	if (s->count == s->fail_at)
		return -ECANCELED;
	s->count++;
	s->len += (size_t)snprintf(s->out + s->len, sizeof(s->out) - s->len, "[%s]", line);
	return 0;
}

static const char stream[] =
	"{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n"
	"\n"                                            /* empty lines are skipped */
	"{\"type\":\"MODIFIED\",\"object\":{\"b\":\"x\\ny\"}}\r\n"
	"{\"type\":\"BOOKMARK\",\"object\":{}}\n"
	"tail-without-newline";

static const char expect[] =
	"[{\"type\":\"ADDED\",\"object\":{\"a\":1}}]"
	"[{\"type\":\"MODIFIED\",\"object\":{\"b\":\"x\\ny\"}}]"
	"[{\"type\":\"BOOKMARK\",\"object\":{}}]";

/* Every chunk size from 1 byte to the whole stream gives the same lines. */
START_TEST(test_every_chunking)
{
	size_t n = strlen(stream);

	for (size_t chunk = 1; chunk <= n; chunk++) {
		struct lines_seen s = { .fail_at = -1 };
		struct kube_lines l;

		kube_lines_init(&l, 1024);
		for (size_t off = 0; off < n; off += chunk) {
			size_t len = n - off < chunk ? n - off : chunk;

			ck_assert_int_eq(kube_lines_feed(&l, stream + off, len, collect, &s), 0);
		}
		ck_assert_msg(strcmp(s.out, expect) == 0, "chunk %zu: %s", chunk, s.out);
		ck_assert_int_eq(s.count, 3);
		ck_assert(kube_lines_pending(&l));      /* the unterminated tail */
		kube_lines_reset(&l);
		ck_assert(!kube_lines_pending(&l));
		kube_lines_free(&l);
	}
}
END_TEST

/* Every split point into two chunks, with "\r\n" split too. */
START_TEST(test_every_split_point)
{
	size_t n = strlen(stream);

	for (size_t cut = 0; cut <= n; cut++) {
		struct lines_seen s = { .fail_at = -1 };
		struct kube_lines l;

		kube_lines_init(&l, 1024);
		ck_assert_int_eq(kube_lines_feed(&l, stream, cut, collect, &s), 0);
		ck_assert_int_eq(kube_lines_feed(&l, stream + cut, n - cut, collect, &s), 0);
		ck_assert_msg(strcmp(s.out, expect) == 0, "cut %zu: %s", cut, s.out);
		kube_lines_free(&l);
	}
}
END_TEST

/* A line over the limit is dropped (and reported) whatever the chunking;
 * the lines around it survive, and a line of exactly the limit passes. */
START_TEST(test_oversized_lines)
{
	char big[200], ok[17], in[512];
	size_t n;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(ok, 'k', 16);
	ok[16] = '\0';
	n = (size_t)snprintf(in, sizeof(in), "a\n%s\n%s\nb\n%s", big, ok, big);
	for (size_t chunk = 1; chunk <= n; chunk++) {
		struct lines_seen s = { .fail_at = -1 };
		struct kube_lines l;
		int errs = 0;

		kube_lines_init(&l, 16);
		for (size_t off = 0; off < n; off += chunk) {
			size_t len = n - off < chunk ? n - off : chunk;
			int r = kube_lines_feed(&l, in + off, len, collect, &s);

			ck_assert_msg(r == 0 || r == -E2BIG, "chunk %zu: %d", chunk, r);
			errs += r == -E2BIG;
		}
		ck_assert_msg(strcmp(s.out, "[a][kkkkkkkkkkkkkkkk][b]") == 0, "chunk %zu: %s",
			      chunk, s.out);
		/* Counted each; a feed that drops two reports -E2BIG once. */
		ck_assert_uint_eq(l.oversized, 2);
		ck_assert_int_ge(errs, 1);
		ck_assert_int_le(errs, 2);
		/* The trailing oversized line is still being skipped. */
		ck_assert(kube_lines_pending(&l));
		ck_assert_int_eq(kube_lines_feed(&l, "tail\nc\n", 7, collect, &s), 0);
		ck_assert_str_eq(s.out, "[a][kkkkkkkkkkkkkkkk][b][c]");
		kube_lines_free(&l);
	}
}
END_TEST

START_TEST(test_callback_error_stops)
{
	struct lines_seen s = { .fail_at = 1 };
	struct kube_lines l;

	kube_lines_init(&l, 1024);
	ck_assert_int_eq(kube_lines_feed(&l, "a\nb\nc\n", 6, collect, &s), -ECANCELED);
	ck_assert_str_eq(s.out, "[a]");
	kube_lines_free(&l);
}
END_TEST

START_TEST(test_alloc_failure)
{
	struct lines_seen s = { .fail_at = -1 };
	struct kube_lines l;

	kube_lines_init(&l, 1024);
	pg_alloc_fail_at(0);
	ck_assert_int_eq(kube_lines_feed(&l, "abc\n", 4, collect, &s), -ENOMEM);
	pg_alloc_fail_at(-1);
	kube_lines_reset(&l);
	ck_assert_int_eq(kube_lines_feed(&l, "abc\n", 4, collect, &s), 0);
	ck_assert_str_eq(s.out, "[abc]");
	kube_lines_free(&l);
}
END_TEST

START_TEST(test_event_parse)
{
	static const struct {
		const char *line;
		int r;
		enum kube_event_type type;
	} cases[] = {
		{ "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\"}}", 0, KUBE_EVENT_ADDED },
		{ "{\"type\":\"MODIFIED\",\"object\":{}}", 0, KUBE_EVENT_MODIFIED },
		{ "{\"type\":\"DELETED\",\"object\":{}}", 0, KUBE_EVENT_DELETED },
		{ "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"7\"}}}", 0,
		  KUBE_EVENT_BOOKMARK },
		{ "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}", 0,
		  KUBE_EVENT_ERROR },
		{ "{\"type\":\"RENAMED\",\"object\":{}}", -EINVAL, 0 },
		{ "{\"type\":\"ADDED\",\"object\":[]}", -EINVAL, 0 },
		{ "{\"type\":\"ADDED\"}", -EINVAL, 0 },
		{ "{\"type\":1,\"object\":{}}", -EINVAL, 0 },
		{ "[1,2]", -EINVAL, 0 },
		{ "{\"type\":\"ADDED\",\"object\":{}", -EINVAL, 0 },
		{ "{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "{\"type\":\"ADD\\u0000ED\",\"object\":{}}", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ref_watch_event ev = { 0, NULL };
		struct jval_limits lim = { 64, 1000 };
		struct arena *a = arena_new(1024);
		enum kube_event_type type = 0;
		const struct jval *obj = NULL;
		int r = ref_watch_event_parse(cases[i].line, strlen(cases[i].line), &ev);

		ck_assert_msg(r == cases[i].r, "case %zu: %d", i, r);
		if (r == 0) {
			ck_assert_int_eq(ev.type, cases[i].type);
			ck_assert(json_is_object(ev.object));
			json_decref(ev.object);
		} else {
			ck_assert_ptr_null(ev.object);
		}
		/* The informer's fast reader agrees on every case. */
		ck_assert_ptr_nonnull(a);
		r = kube_watch_event_parse(cases[i].line, strlen(cases[i].line), &lim, a, &type, &obj);
		ck_assert_msg(r == cases[i].r, "case %zu (jval): %d", i, r);
		if (r == 0) {
			ck_assert_int_eq(type, cases[i].type);
			ck_assert(jval_is_object(obj));
		}
		arena_free(a);
	}
	ck_assert_str_eq(kube_event_type_name(KUBE_EVENT_BOOKMARK), "BOOKMARK");
}
END_TEST

/* Each item's bytes, read here as the informer reads them: one that is
 * not JSON fails the walk. */
static int count_item(void *ud, const char *bytes, size_t len)
{
	json_t *names = ud, *item = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, NULL);

	if (!item)
		return -EINVAL;
	json_array_append(names, json_object_get(json_object_get(item, "metadata"), "name"));
	json_decref(item);
	return json_array_size(names) == 99 ? -ECANCELED : 0;
}

START_TEST(test_list_parse)
{
	static const char page[] =
		" {\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"42\","
		"\"continue\":\"abc\",\"remainingItemCount\":3},\"items\":[{\"metadata\":{\"name\":\"a\"},"
		"\"spec\":{\"x\":[1,2.5e3,true,null,\"}]\\\"\"]}}, 7 ,{\"metadata\":{\"name\":\"b\\u00e9\"}}]} \n";
	/* Keys in another order, items first; null items; no metadata. */
	static const char reordered[] =
		"{\"items\":[{\"metadata\":{\"name\":\"c\"}}],\"metadata\":{\"resourceVersion\":\"7\"}}";
	json_t *names = json_array();
	const struct jval *meta = NULL;
	struct arena *a = arena_new(1024);

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(kube_list_parse(page, strlen(page), 16, count_item, names, a, &meta), 0);
	ck_assert_uint_eq(json_array_size(names), 2);
	ck_assert_str_eq(json_string_value(json_array_get(names, 0)), "a");
	ck_assert_str_eq(json_string_value(json_array_get(names, 1)), "b\xc3\xa9");
	ck_assert_str_eq(jval_str(jval_get(meta, "resourceVersion")), "42");
	ck_assert_str_eq(jval_str(jval_get(meta, "continue")), "abc");
	json_array_clear(names);
	ck_assert_int_eq(kube_list_parse(reordered, strlen(reordered), 16, count_item, names,
					 a, &meta), 0);
	ck_assert_uint_eq(json_array_size(names), 1);
	ck_assert_str_eq(jval_str(jval_get(meta, "resourceVersion")), "7");
	ck_assert_int_eq(kube_list_parse("{\"items\":null}", 14, 16, count_item, names, a, &meta), 0);
	ck_assert(jval_is_object(meta));
	ck_assert_uint_eq(jval_size(meta), 0);
	ck_assert_int_eq(kube_list_parse("{}", 2, 16, count_item, names, a, NULL), 0);

	static const char *const bad[] = {
		"", "[]", "{", "{\"items\":[}", "{\"items\":[{}", "{\"items\":{}}", "{\"items\":[{]}",
		"{\"items\":[{\"a\":1}]} x", "{\"metadata\":[]}", "{\"metadata\":{},\"metadata\":{}}",
		"{\"items\":[],\"items\":[]}", "{\"kind\":\"unterminated}", "{\"items\":[{\"a\":}]}",
		"{\"items\":[{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}]}",  /* deeper than 16 */
		"{\"items\":[1,,2]}", "{\"k\" \"v\"}", "{\"items\":[\x00]}", "{\"items\":[tru\x0e]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(kube_list_parse(bad[i], strlen(bad[i]), 16, count_item, names, a, &meta) ==
			      -EINVAL, "accepted %s", bad[i]);
	/* The callback's error stops the walk. */
	{
		char big[4096];
		size_t n = (size_t)snprintf(big, sizeof(big), "{\"items\":[");

		for (int i = 0; i < 120; i++)
			n += (size_t)snprintf(big + n, sizeof(big) - n, "%s{\"metadata\":{\"name\":\"p%d\"}}",
					      i ? "," : "", i);
		n += (size_t)snprintf(big + n, sizeof(big) - n, "]}");
		json_array_clear(names);
		ck_assert_int_eq(kube_list_parse(big, n, 16, count_item, names, a, NULL), -ECANCELED);
		ck_assert_uint_eq(json_array_size(names), 99);
	}
	json_decref(names);
	arena_free(a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_watch");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_every_chunking);
	tcase_add_test(tc, test_every_split_point);
	tcase_add_test(tc, test_oversized_lines);
	tcase_add_test(tc, test_callback_error_stops);
	tcase_add_test(tc, test_alloc_failure);
	tcase_add_test(tc, test_event_parse);
	tcase_add_test(tc, test_list_parse);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
