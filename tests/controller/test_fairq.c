/* test_fairq.c - the actions' fair queue (fairq.h): refused actions
 * first under a flood, an action displacing its own record, the total and
 * byte bounds dropping from the longest tenant, deficit round robin. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fairq.h"
#include "hash.h"

struct tent {
	struct fairq_entry fe;
	int id;
	bool dropped;
};

static struct tent tents[64];
static size_t ndropped;

static void tdrop(void *ud, struct fairq_entry *e)
{
	(void)ud;
	smap_entry(e, struct tent, fe)->dropped = true;
	ndropped++;
}

static struct tent *tent(int id, enum fairq_class cls, uint32_t cost, size_t bytes)
{
	struct tent *t = &tents[id];

	memset(t, 0, sizeof(*t));
	t->id = id;
	t->fe.cls = (uint8_t)cls;
	t->fe.cost = cost;
	t->fe.bytes = bytes;
	return t;
}

static int push(struct fairq *q, const char *ns, int id, enum fairq_class cls,
		enum fairq_refusal *why)
{
	return fairq_push(q, ns, &tent(id, cls, 1, 10)->fe, tdrop, NULL, NULL, why);
}

static int pop_id(struct fairq *q)
{
	struct fairq_entry *e = fairq_pop(q);

	return e ? smap_entry(e, struct tent, fe)->id : -1;
}

/* One namespace floods Audit records past its bound: it refuses its own
 * overflow, naming the bound, and an Enforce action of another namespace is
 * still taken, and served first.  (Before the fair queue, one FIFO of 20,000
 * reports: the flood filled it and the action was refused or waited behind
 * every record.) */
START_TEST(fair_flood_refused_action_first)
{
	struct fairq_limits lim = { .ns_max = 50, .ns_max_bytes = 1 << 20, .max = 60,
				 .max_bytes = 1 << 20, .quantum = 1 };
	struct fairq *q = fairq_new(&lim);
	enum fairq_refusal why = FAIRQ_OK;
	int id;

	ndropped = 0;
	for (id = 0; id < 50; id++)
		ck_assert_int_eq(push(q, "tenant", id, FAIRQ_RECORD, &why), 0);
	/* At the bound: refused, and the refusal names the namespace bound. */
	ck_assert_int_eq(push(q, "tenant", 50, FAIRQ_RECORD, &why), -ENOBUFS);
	ck_assert_int_eq(why, FAIRQ_NS_ENTRIES);
	ck_assert_str_eq(fairq_refusal_name(why), "per-namespace entries");
	ck_assert_uint_eq(fairq_ns_len(q, "tenant"), 50);
	ck_assert_uint_eq(ndropped, 0);
	/* The other namespace's action is taken, and first. */
	ck_assert_int_eq(push(q, "bank", 51, FAIRQ_ACTION, &why), 0);
	ck_assert_uint_eq(fairq_len(q), 51);
	ck_assert_int_eq(pop_id(q), 51);
	/* Then the records, in order. */
	for (id = 0; id < 50; id++)
		ck_assert_int_eq(pop_id(q), id);
	ck_assert_int_eq(pop_id(q), -1);
	ck_assert_uint_eq(fairq_len(q), 0);
	ck_assert_uint_eq(fairq_ns_len(q, "tenant"), 0);
	fairq_free(q, NULL, NULL);
}
END_TEST

/* A namespace at its bound with an action to queue: its own oldest record
 * makes room; with no record to give, the action is refused. */
START_TEST(fair_action_displaces_own_record)
{
	struct fairq_limits lim = { .ns_max = 3, .ns_max_bytes = 1 << 20, .max = 100,
				 .max_bytes = 1 << 20 };
	struct fairq *q = fairq_new(&lim);
	enum fairq_refusal why;

	ndropped = 0;
	ck_assert_int_eq(push(q, "a", 0, FAIRQ_RECORD, &why), 0);
	ck_assert_int_eq(push(q, "a", 1, FAIRQ_RECORD, &why), 0);
	ck_assert_int_eq(push(q, "a", 2, FAIRQ_ACTION, &why), 0);
	ck_assert_int_eq(push(q, "a", 3, FAIRQ_ACTION, &why), 0);
	ck_assert(tents[0].dropped);
	ck_assert_int_eq(push(q, "a", 4, FAIRQ_ACTION, &why), 0);
	ck_assert(tents[1].dropped);
	ck_assert_int_eq(push(q, "a", 5, FAIRQ_ACTION, &why), -ENOBUFS);
	ck_assert_int_eq(why, FAIRQ_NS_ENTRIES);
	ck_assert_int_eq(push(q, "a", 6, FAIRQ_RECORD, &why), -ENOBUFS);
	ck_assert_uint_eq(ndropped, 2);
	ck_assert_int_eq(pop_id(q), 2);
	ck_assert_int_eq(pop_id(q), 3);
	ck_assert_int_eq(pop_id(q), 4);
	ck_assert_int_eq(pop_id(q), -1);
	fairq_free(q, NULL, NULL);
}
END_TEST

/* The total bound: a namespace holding less than the biggest holder of
 * records takes the place of its oldest record; the biggest holder itself
 * is refused; held entries count. */
START_TEST(fair_total_bound_longest_drop)
{
	struct fairq_limits lim = { .ns_max = 20, .ns_max_bytes = 1 << 20, .max = 10,
				 .max_bytes = 1 << 20 };
	struct fairq *q = fairq_new(&lim);
	enum fairq_refusal why;

	ndropped = 0;
	for (int id = 0; id < 10; id++)
		ck_assert_int_eq(push(q, "big", id, FAIRQ_RECORD, &why), 0);
	ck_assert_int_eq(push(q, "big", 10, FAIRQ_RECORD, &why), -ENOBUFS);
	ck_assert_int_eq(why, FAIRQ_ENTRIES);
	ck_assert_int_eq(push(q, "small", 11, FAIRQ_RECORD, &why), 0);
	ck_assert(tents[0].dropped);
	ck_assert_uint_eq(fairq_ns_len(q, "big"), 9);
	ck_assert_int_eq(push(q, "small", 12, FAIRQ_RECORD, &why), 0);
	ck_assert(tents[1].dropped);
	ck_assert_uint_eq(fairq_len(q), 10);
	/* Held entries (put off for later) still count against the total
	 * and their namespace, and can be queued again. */
	{
		struct fairq_entry *e = fairq_pop(q);

		ck_assert_ptr_eq(e, &tents[2].fe);
		ck_assert_uint_eq(fairq_len(q), 9);
		ck_assert_int_eq(fairq_hold(q, "big", e), 0);
		ck_assert_uint_eq(fairq_len(q), 10);
		ck_assert_uint_eq(fairq_ns_len(q, "big"), 8);
		ck_assert_int_eq(push(q, "other", 13, FAIRQ_ACTION, &why), 0);
		ck_assert(tents[3].dropped);
		ck_assert_uint_eq(fairq_len(q), 10);
		ck_assert_uint_eq(ndropped, 3);
		fairq_requeue(q, e);
		/* The action first; then big's turn goes on (a quantum of 4,
		 * one spent on 2), small's, and big's again, 2 last in it. */
		{
			int want[] = { 13, 4, 5, 6, 11, 12, 7, 8, 9, 2, -1 };

			for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
				ck_assert_int_eq(pop_id(q), want[i]);
		}
		ck_assert_int_eq(fairq_hold(q, "big", e), 0);
		ck_assert_uint_eq(fairq_ns_len(q, "big"), 1);
		fairq_unhold(q, e);
		ck_assert_uint_eq(fairq_len(q), 0);
		ck_assert_uint_eq(fairq_ns_len(q, "big"), 0);
	}
	fairq_free(q, tdrop, NULL);
}
END_TEST

/* The byte bounds, per namespace and in all: at the bound and just past. */
START_TEST(fair_byte_bounds)
{
	struct fairq_limits lim = { .ns_max = 100, .ns_max_bytes = 1000, .max = 100,
				 .max_bytes = 1500 };
	struct fairq *q = fairq_new(&lim);
	enum fairq_refusal why = FAIRQ_OK;

	ndropped = 0;
	for (int id = 0; id < 10; id++)
		ck_assert_int_eq(fairq_push(q, "a", &tent(id, FAIRQ_RECORD, 1, 100)->fe, tdrop, NULL,
					    NULL, &why), 0);
	ck_assert_uint_eq(fairq_bytes(q), 1000);
	ck_assert_int_eq(fairq_push(q, "a", &tent(10, FAIRQ_RECORD, 1, 1)->fe, tdrop, NULL, NULL,
				    &why), -ENOBUFS);
	ck_assert_int_eq(why, FAIRQ_NS_BYTES);
	ck_assert_str_eq(fairq_refusal_name(why), "per-namespace bytes");
	for (int id = 11; id < 16; id++)
		ck_assert_int_eq(fairq_push(q, "b", &tent(id, FAIRQ_RECORD, 1, 100)->fe, tdrop, NULL,
					    NULL, &why), 0);
	ck_assert_uint_eq(fairq_bytes(q), 1500);
	/* b holds less than a: a's oldest record makes room. */
	ck_assert_int_eq(fairq_push(q, "b", &tent(16, FAIRQ_RECORD, 1, 100)->fe, tdrop, NULL,
				    NULL, &why), 0);
	ck_assert(tents[0].dropped);
	/* a is the biggest holder: refused on the total. */
	ck_assert_int_eq(fairq_push(q, "a", &tent(17, FAIRQ_RECORD, 1, 100)->fe, tdrop, NULL,
				    NULL, &why), -ENOBUFS);
	ck_assert_int_eq(why, FAIRQ_BYTES);
	/* A merge that grows an entry is accounted. */
	fairq_resize(q, &tents[16].fe, 150);
	ck_assert_uint_eq(fairq_bytes(q), 1550);
	fairq_free(q, tdrop, NULL);
}
END_TEST

/* Deficit round robin: each namespace spends up to a quantum of API writes
 * per turn, so a namespace whose entries cost more gets fewer of them. */
START_TEST(fair_deficit_round_robin)
{
	struct fairq_limits lim = { .ns_max = 100, .ns_max_bytes = 1 << 20, .max = 100,
				 .max_bytes = 1 << 20, .quantum = 4 };
	struct fairq *q = fairq_new(&lim);
	int want[] = { 0, 10, 11, 12, 13, 1, 14, 15, 2, 3 };

	for (int id = 0; id < 4; id++)
		ck_assert_int_eq(fairq_push(q, "heavy", &tent(id, FAIRQ_RECORD, 4, 10)->fe, NULL,
					    NULL, NULL, NULL), 0);
	for (int id = 10; id < 16; id++)
		ck_assert_int_eq(fairq_push(q, "light", &tent(id, FAIRQ_RECORD, 1, 10)->fe, NULL,
					    NULL, NULL, NULL), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_int_eq(pop_id(q), want[i]);
	ck_assert_int_eq(pop_id(q), -1);
	/* An entry taken out of the middle, the tail, and a held one. */
	for (int id = 20; id < 24; id++)
		ck_assert_int_eq(fairq_push(q, "m", &tent(id, FAIRQ_RECORD, 1, 10)->fe, NULL, NULL,
					    NULL, NULL), 0);
	fairq_forget(q, &tents[21].fe);
	fairq_forget(q, &tents[23].fe);
	ck_assert_uint_eq(fairq_len(q), 2);
	ck_assert_uint_eq(fairq_bytes(q), 20);
	ck_assert_int_eq(fairq_push(q, "m", &tent(24, FAIRQ_RECORD, 1, 10)->fe, NULL, NULL, NULL,
				    NULL), 0);
	ck_assert_int_eq(pop_id(q), 20);
	ck_assert_int_eq(fairq_hold(q, "m", &tents[20].fe), 0);
	fairq_forget(q, &tents[20].fe);
	ck_assert_uint_eq(fairq_len(q), 2);
	ck_assert_int_eq(pop_id(q), 22);
	ck_assert_int_eq(pop_id(q), 24);
	ck_assert_int_eq(pop_id(q), -1);
	ck_assert_uint_eq(fairq_len(q), 0);
	/* Plain round robin across many namespaces. */
	for (int id = 0; id < 6; id++) {
		char ns[8];

		snprintf(ns, sizeof(ns), "n%d", id % 3);
		ck_assert_int_eq(fairq_push(q, ns, &tent(id, FAIRQ_RECORD, 4, 10)->fe, NULL, NULL,
					    NULL, NULL), 0);
	}
	for (int id = 0; id < 6; id++)
		ck_assert_int_eq(pop_id(q), id);
	fairq_free(q, NULL, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fairq");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, fair_flood_refused_action_first);
	tcase_add_test(tc, fair_action_displaces_own_record);
	tcase_add_test(tc, fair_total_bound_longest_drop);
	tcase_add_test(tc, fair_byte_bounds);
	tcase_add_test(tc, fair_deficit_round_robin);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
