/* test_hash.c - base/hash.c: FNV-1a against the published test vectors,
 * and the intrusive string table every index is built on. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "xalloc.h"

START_TEST(test_fnv_vectors)
{
	/* From the FNV reference (draft-eastlake-fnv, test_fnv.c). */
	ck_assert_uint_eq(hash_fnv1a32_str(HASH_FNV32_BASIS, ""), 0x811c9dc5u);
	ck_assert_uint_eq(hash_fnv1a32_str(HASH_FNV32_BASIS, "a"), 0xe40c292cu);
	ck_assert_uint_eq(hash_fnv1a32_str(HASH_FNV32_BASIS, "foobar"), 0xbf9cf968u);
	ck_assert_uint_eq(hash_fnv1a32(HASH_FNV32_BASIS, "foobar", 6), 0xbf9cf968u);
	ck_assert_uint_eq(hash_fnv1a64_str(HASH_FNV64_BASIS, ""), 0xcbf29ce484222325ull);
	ck_assert_uint_eq(hash_fnv1a64_str(HASH_FNV64_BASIS, "a"), 0xaf63dc4c8601ec8cull);
	ck_assert_uint_eq(hash_fnv1a64_str(HASH_FNV64_BASIS, "foobar"), 0x85944171f73967e8ull);
	ck_assert_uint_eq(hash_fnv1a64(HASH_FNV64_BASIS, "foobar", 6), 0x85944171f73967e8ull);
	/* continuing a hash is hashing the concatenation */
	ck_assert_uint_eq(hash_fnv1a64_str(hash_fnv1a64_str(HASH_FNV64_BASIS, "foo"), "bar"),
			  0x85944171f73967e8ull);
	ck_assert_uint_eq(smap_hash("foobar"), 0xbf9cf968u);
	/* fields are separated; NULL is "" */
	ck_assert_uint_ne(hash_fnv1a64_field(hash_fnv1a64_field(HASH_FNV64_BASIS, "ab"), "c"),
			  hash_fnv1a64_field(hash_fnv1a64_field(HASH_FNV64_BASIS, "a"), "bc"));
	ck_assert_uint_eq(hash_fnv1a64_field(HASH_FNV64_BASIS, NULL),
			  hash_fnv1a64_field(HASH_FNV64_BASIS, ""));
	ck_assert_uint_eq(hash_fnv1a64_field(HASH_FNV64_BASIS, "a"),
			  hash_fnv1a64(HASH_FNV64_BASIS, "a\xff", 2));
}
END_TEST

struct item {
	struct smap_node node;
	char key[16];
	int val;
	bool freed;
};

static void mark_freed(void *ud, struct smap_node *n)
{
	(*(int *)ud)++;
	smap_entry(n, struct item, node)->freed = true;
}

static bool drop_odd(void *ud, struct smap_node *n)
{
	(void)ud;
	return smap_entry(n, struct item, node)->val % 2;
}

#define N_ITEMS 1000

START_TEST(test_smap)
{
	static struct item it[N_ITEMS];
	struct smap m = { 0 };
	struct smap_node *n;
	int cleared = 0;

	ck_assert_ptr_null(smap_get(&m, "x"));
	ck_assert_ptr_null(smap_del(&m, "x"));
	for (int i = 0; i < N_ITEMS; i++) {
		snprintf(it[i].key, sizeof(it[i].key), "k%d", i);
		it[i].node.key = it[i].key;
		it[i].val = i;
		ck_assert_int_eq(smap_put(&m, &it[i].node), 0);
	}
	ck_assert_uint_eq(m.n, N_ITEMS);
	ck_assert_uint_ge(m.cap, N_ITEMS);      /* grew past the first 64 */
	for (int i = 0; i < N_ITEMS; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		n = smap_get(&m, k);
		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(smap_entry(n, struct item, node)->val, i);
		ck_assert_ptr_null(smap_next(&m, n));
	}
	ck_assert_ptr_null(smap_get(&m, "k1000"));
	n = smap_del(&m, "k7");
	ck_assert_ptr_eq(n, &it[7].node);
	ck_assert_ptr_null(smap_get(&m, "k7"));
	ck_assert_uint_eq(m.n, N_ITEMS - 1);
	smap_remove(&m, &it[8].node);
	ck_assert_ptr_null(smap_get(&m, "k8"));
	ck_assert_uint_eq(m.n, N_ITEMS - 2);
	smap_filter(&m, drop_odd, NULL);        /* 7 is gone already */
	ck_assert_uint_eq(m.n, N_ITEMS / 2 - 1);
	ck_assert_ptr_null(smap_get(&m, "k9"));
	ck_assert_ptr_eq(smap_get(&m, "k10"), &it[10].node);
	smap_clear(&m, mark_freed, &cleared);
	ck_assert_int_eq(cleared, N_ITEMS / 2 - 1);
	ck_assert(it[10].freed && !it[9].freed && !it[8].freed);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_ptr_null(m.b);
	ck_assert_ptr_null(smap_get(&m, "k10"));
	smap_clear(NULL, NULL, NULL);
}
END_TEST

/* Several values a key: newest first, each removable on its own. */
START_TEST(test_smap_multi)
{
	struct item a = { .key = "k", .val = 1 }, b = { .key = "k", .val = 2 },
		    c = { .key = "k", .val = 3 }, o = { .key = "other", .val = 4 };
	struct smap m = { 0 };
	struct smap_node *n;

	a.node.key = a.key, b.node.key = b.key, c.node.key = c.key, o.node.key = o.key;
	ck_assert_int_eq(smap_add(&m, &a.node), 0);
	ck_assert_int_eq(smap_add(&m, &o.node), 0);
	ck_assert_int_eq(smap_add(&m, &b.node), 0);
	ck_assert_int_eq(smap_add(&m, &c.node), 0);
	n = smap_get(&m, "k");
	ck_assert_ptr_eq(n, &c.node);
	n = smap_next(&m, n);
	ck_assert_ptr_eq(n, &b.node);
	n = smap_next(&m, n);
	ck_assert_ptr_eq(n, &a.node);
	ck_assert_ptr_null(smap_next(&m, n));
	smap_remove(&m, &b.node);
	ck_assert_ptr_eq(smap_next(&m, smap_get(&m, "k")), &a.node);
	ck_assert_ptr_eq(smap_del(&m, "k"), &c.node);
	ck_assert_ptr_eq(smap_get(&m, "k"), &a.node);
	ck_assert_uint_eq(m.n, 2);
	smap_clear(&m, NULL, NULL);
}
END_TEST

/* The values of one key stay newest first however often the table grows
 * under them (a growth once reversed them). */
START_TEST(test_smap_multi_order_across_growth)
{
	static struct item it[300];
	struct smap m = { 0 };
	struct smap_node *n;
	int want;

	for (int i = 0; i < 300; i++) {
		/* keys "a" (every third) and filler that makes the table grow */
		if (i % 3 == 0)
			snprintf(it[i].key, sizeof(it[i].key), "a");
		else
			snprintf(it[i].key, sizeof(it[i].key), "f%d", i);
		it[i].node.key = it[i].key;
		it[i].val = i;
		ck_assert_int_eq(smap_add(&m, &it[i].node), 0);
	}
	ck_assert_uint_ge(m.cap, 256);
	want = 297;
	for (n = smap_get(&m, "a"); n; n = smap_next(&m, n), want -= 3)
		ck_assert_int_eq(smap_entry(n, struct item, node)->val, want);
	ck_assert_int_eq(want, -3);
	smap_clear(&m, NULL, NULL);
}
END_TEST

/* A refused growth leaves the table as it was. */
START_TEST(test_smap_alloc_failure)
{
	static struct item it[65];
	struct smap m = { 0 };

	for (int i = 0; i < 65; i++) {
		snprintf(it[i].key, sizeof(it[i].key), "k%d", i);
		it[i].node.key = it[i].key;
	}
	pg_alloc_fail_at(0);
	ck_assert_int_eq(smap_put(&m, &it[0].node), -ENOMEM);
	ck_assert_uint_eq(m.n, 0);
	pg_alloc_fail_at(-1);
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(smap_put(&m, &it[i].node), 0);
	pg_alloc_fail_at(0);
	ck_assert_int_eq(smap_put(&m, &it[64].node), -ENOMEM);
	pg_alloc_fail_at(-1);
	ck_assert_uint_eq(m.n, 64);
	ck_assert_ptr_null(smap_get(&m, "k64"));
	for (int i = 0; i < 64; i++)
		ck_assert_ptr_eq(smap_get(&m, it[i].key), &it[i].node);
	smap_clear(&m, NULL, NULL);
}
END_TEST

/* Drops the keys that end in an odd digit. */
static bool drop_odd_key(void *ud, struct smap_node *n)
{
	(void)ud;
	return n->key[strlen(n->key) - 1] % 2 == 1;
}

START_TEST(smap_put_get_del_filter)
{
	struct smap m = { 0 };
	struct smap_node nodes[100];
	char keys[100][8];

	for (int i = 0; i < 100; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		nodes[i].key = keys[i];
		ck_assert_int_eq(smap_put(&m, &nodes[i]), 0);
	}
	ck_assert_uint_eq(m.n, 100);
	ck_assert_ptr_eq(smap_get(&m, "k42"), &nodes[42]);
	ck_assert_ptr_null(smap_get(&m, "k100"));
	ck_assert_ptr_eq(smap_del(&m, "k42"), &nodes[42]);
	ck_assert_ptr_null(smap_get(&m, "k42"));
	smap_filter(&m, drop_odd_key, NULL);
	ck_assert_uint_eq(m.n, 49);
	ck_assert_ptr_null(smap_get(&m, "k41"));
	ck_assert_ptr_eq(smap_get(&m, "k40"), &nodes[40]);
	smap_clear(&m, NULL, NULL);
	ck_assert_uint_eq(m.n, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hash");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_fnv_vectors);
	tcase_add_test(tc, test_smap);
	tcase_add_test(tc, test_smap_multi);
	tcase_add_test(tc, test_smap_multi_order_across_growth);
	tcase_add_test(tc, test_smap_alloc_failure);
	tcase_add_test(tc, smap_put_get_del_filter);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
