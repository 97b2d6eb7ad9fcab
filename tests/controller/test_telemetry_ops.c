/* test_telemetry_ops.c - the telemetry ops' set-up under allocation
 * failure: each allocation telemetry_ops_new() makes fails in turn; every
 * failure is a clean -ENOMEM, and what was half built is freed.  Nothing
 * is started, so no API server is needed. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "controller.h"
#include "metrics.h"
#include "telemetry_ops.h"
#include "xalloc.h"

#include "../lib/ctl_fixture.h"

START_TEST(telemetry_ops_new_alloc_failure)
{
	static const char *const users[] = { "system:serviceaccount:pg:agent" };
	struct metrics *m = metrics_new();
	struct controller_config cc;
	struct controller *c = NULL;
	struct telemetry_ops_config tc = {
		.client = client, .namespace = "profileguard", .pod_name = "pod-0",
		.listen = "127.0.0.1:0", .tls_cert = "/nonexistent/tls.crt",
		.tls_key = "/nonexistent/tls.key", .client_ca = "/nonexistent/ca.crt",
		.allowed_users = users, .nallowed = 1, .audience = "profileguard",
	};
	long n;

	ck_assert_ptr_nonnull(m);
	controller_config(&cc, m, false);
	ck_assert_int_eq(controller_new(&cc, &c), 0);
	tc.controller = c;
	tc.metrics = m;
	for (n = 0; n < TRIES; n++) {
		struct telemetry_ops *t = NULL;
		char err[256] = "";
		int r;

		pg_alloc_fail_at(n);
		r = telemetry_ops_new(&tc, &t, err, sizeof(err));
		pg_alloc_fail_at(-1);
		if (r == 0) {
			telemetry_ops_stop(t);
			ck_assert_ptr_null(telemetry_ops_free(t));
			break;
		}
		ck_assert_msg(r == -ENOMEM, "fail at %ld: %d (%s)", n, r, err);
		ck_assert_str_eq(err, "out of memory");
	}
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, TRIES);
	controller_free(c);
	metrics_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("telemetry_ops");
	TCase *tc = tcase_create("alloc");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, telemetry_ops_new_alloc_failure);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
