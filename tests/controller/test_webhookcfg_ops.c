/* test_webhookcfg_ops.c - the arming loop's set-up and life cycle: a
 * configuration without its names is refused with the reason, each
 * allocation failing in turn is a clean -ENOMEM with its reason, the
 * armed gauge starts at 0, the thread starts and stops (nothing is done
 * while this replica does not lead), and stop and free are NULL-safe.
 * The rounds run against the API stand-in (integration_webhookcfg.py). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "buf.h"
#include "controller.h"
#include "metrics.h"
#include "webhookcfg_ops.h"
#include "xalloc.h"

#include "../lib/allocfail.h"
#include "../lib/ctl_fixture.h"

static struct webhookcfg_ops_config config(void)
{
	return (struct webhookcfg_ops_config){
		.client = client, .controller = ctl, .namespace = "profileguard",
		.webhook_config = "profileguard", .metrics = met,
	};
}

START_TEST(refusals)
{
	static const char want[] = "no client, controller, namespace or configuration name";
	struct webhookcfg_ops_config c[4];
	struct webhookcfg_ops *o = NULL;

	for (int i = 0; i < 4; i++)
		c[i] = config();
	c[0].client = NULL;
	c[1].controller = NULL;
	c[2].namespace = "";
	c[3].webhook_config = NULL;
	for (int i = 0; i < 4; i++) {
		char err[256] = "";

		ck_assert_int_eq(webhookcfg_ops_new(&c[i], &o, err, sizeof(err)), -EINVAL);
		ck_assert_ptr_null(o);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

START_TEST(gauge_starts_unarmed)
{
	struct webhookcfg_ops_config c = config();
	struct webhookcfg_ops *o = NULL;
	struct buf b = BUF_INIT(1 << 20);
	char err[256] = "";

	ck_assert_int_eq(webhookcfg_ops_new(&c, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(metrics_render(met, &b), 0);
	ck_assert_msg(strstr(buf_str(&b), "\nprofileguard_webhook_armed 0\n") != NULL, "%s", buf_str(&b));
	buf_free(&b);
	ck_assert_ptr_null(webhookcfg_ops_free(o));
	/* without metrics: no gauge, no crash */
	c.metrics = NULL;
	ck_assert_int_eq(webhookcfg_ops_new(&c, &o, err, sizeof(err)), 0);
	ck_assert_ptr_null(webhookcfg_ops_free(o));
}
END_TEST

START_TEST(start_stop_free)
{
	struct webhookcfg_ops_config c = config();
	struct webhookcfg_ops *o = NULL;
	char err[256] = "";

	ck_assert_int_eq(webhookcfg_ops_new(&c, &o, err, sizeof(err)), 0);
	ck_assert(!controller_leading(ctl));
	ck_assert_int_eq(webhookcfg_ops_start(o), 0);
	webhookcfg_ops_stop(o);
	webhookcfg_ops_stop(o);         /* idempotent */
	ck_assert_ptr_null(webhookcfg_ops_free(o));
	ck_assert_int_eq(webhookcfg_ops_new(&c, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(webhookcfg_ops_start(o), 0);
	ck_assert_ptr_null(webhookcfg_ops_free(o));        /* stops it */
	webhookcfg_ops_stop(NULL);
	ck_assert_ptr_null(webhookcfg_ops_free(NULL));
}
END_TEST

static int new_and_free(void *ud)
{
	struct webhookcfg_ops_config c = config();
	struct webhookcfg_ops *o = NULL;
	char err[256] = "";
	int r = webhookcfg_ops_new(&c, &o, err, sizeof(err));

	if (r == -ENOMEM) {
		ck_assert_str_eq(err, "out of memory");
		ck_assert_ptr_null(o);
	}
	webhookcfg_ops_free(o);
	return r;
}

START_TEST(alloc_failure)
{
	ck_assert_int_gt(af_each(TRIES, new_and_free, NULL), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("webhookcfg_ops");
	TCase *tc = tcase_create("webhookcfg_ops");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup_controller, teardown_controller);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, gauge_starts_unarmed);
	tcase_add_test(tc, start_stop_free);
	tcase_add_test(tc, alloc_failure);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
