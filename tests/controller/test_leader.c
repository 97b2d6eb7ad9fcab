/* test_leader.c - the leader election's decision, apart from any
 * clock or API server. */
#include <check.h>

#include "leader.h"

START_TEST(leader_decisions)
{
	/* Free or released: take it now. */
	ck_assert_int_eq(leader_decide(NULL, "me", 0, 15000, 0), LEADER_TAKE);
	ck_assert_int_eq(leader_decide("", "me", 0, 15000, 0), LEADER_TAKE);
	/* Ours: renew. */
	ck_assert_int_eq(leader_decide("me", "me", 0, 15000, 99999), LEADER_RENEW);
	/* Another holder: wait a whole lease from when we last saw the record
	 * change, by our clock, whatever its renewTime says. */
	ck_assert_int_eq(leader_decide("other", "me", 1000, 15000, 1000), LEADER_WAIT);
	ck_assert_int_eq(leader_decide("other", "me", 1000, 15000, 15999), LEADER_WAIT);
	ck_assert_int_eq(leader_decide("other", "me", 1000, 15000, 16000), LEADER_TAKE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl_leader");
	TCase *tc = tcase_create("leader");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, leader_decisions);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
