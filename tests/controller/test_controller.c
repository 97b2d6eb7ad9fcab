/* test_controller.c - the controller's set-up under allocation failure:
 * each allocation controller_new() makes fails in turn; every failure is a
 * clean -ENOMEM, and what was half built is freed (controller_free() on it
 * once shut down a queue never made: a NULL dereference); and the
 * destructors taking NULL.  Nothing is started, so no API server is
 * needed. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "kube_client.h"
#include "kube_informer.h"
#include "kubeconfig.h"
#include "leader.h"
#include "metrics.h"
#include "pglog.h"
#include "queue.h"
#include "telemetry_ops.h"
#include "xalloc.h"

#include "../lib/ctl_fixture.h"

static void controller_torture(bool elect)
{
	struct metrics *m = metrics_new();
	struct controller_config cc;
	long n;

	ck_assert_ptr_nonnull(m);
	controller_config(&cc, m, elect);
	for (n = 0; n < TRIES; n++) {
		struct controller *c = NULL;
		int r;

		pg_alloc_fail_at(n);
		r = controller_new(&cc, &c);
		pg_alloc_fail_at(-1);
		if (r == 0) {
			ck_assert_ptr_null(controller_free(c));
			break;
		}
		ck_assert_msg(r == -ENOMEM, "fail at %ld: %d", n, r);
	}
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, TRIES);
	metrics_free(m);
}

START_TEST(controller_new_alloc_failure)
{
	controller_torture(false);
}
END_TEST

START_TEST(controller_new_alloc_failure_elect)
{
	controller_torture(true);
}
END_TEST

START_TEST(destructors_take_null)
{
	controller_stop(NULL);
	controller_stop_within(NULL, 10);
	ck_assert_ptr_null(controller_free(NULL));
	telemetry_ops_stop(NULL);
	ck_assert_ptr_null(telemetry_ops_free(NULL));
	queue_shutdown(NULL);
	ck_assert_ptr_null(queue_free(NULL));
	leader_stop(NULL, true);
	ck_assert_ptr_null(leader_free(NULL));
	kube_informer_stop(NULL);
	ck_assert_ptr_null(kube_informer_free(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl_controller");
	TCase *tc = tcase_create("alloc");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, controller_new_alloc_failure);
	tcase_add_test(tc, controller_new_alloc_failure_elect);
	tcase_add_test(tc, destructors_take_null);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
