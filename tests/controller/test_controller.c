/* test_controller.c - the controller's and the telemetry ops' set-up
 * under allocation failure: each allocation controller_new() and
 * telemetry_ops_new() make fails in turn; every failure is a clean
 * -ENOMEM, and what was half built is freed (controller_free() on it once
 * shut down a queue never made: a NULL dereference).  Nothing is started,
 * so no API server is needed. */
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

#define TRIES 100000

static struct kubeconfig cfg;
static struct kube_client *client;
static FILE *log_file;

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.server = pg_strdup("https://127.0.0.1:1");  /* never reached */
	cfg.namespace = pg_strdup("default");
	ck_assert_int_eq(kube_client_new(&cfg, NULL, &client), 0);
	log_file = tmpfile();
	ck_assert_ptr_nonnull(log_file);
	pglog_setup(PGLOG_JSON, PGLOG_INFO, log_file);
}

static void teardown(void)
{
	pglog_setup(PGLOG_JSON, PGLOG_INFO, stderr);
	fclose(log_file);
	client = kube_client_free(client);
	pg_free(cfg.server);
	pg_free(cfg.namespace);
}

static const char *const ignored[] = { "kube-system", "kube-public" };

static void controller_config(struct controller_config *cc, struct metrics *m, bool elect)
{
	*cc = (struct controller_config){
		.client = client, .metrics = m, .namespace = "profileguard",
		.ignored_ns = ignored, .nignored = 2, .identity = "pod-0", .leader_elect = elect,
	};
}

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
	Suite *s = suite_create("ctl_controller");
	TCase *tc = tcase_create("alloc");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, controller_new_alloc_failure);
	tcase_add_test(tc, controller_new_alloc_failure_elect);
	tcase_add_test(tc, destructors_take_null);
	tcase_add_test(tc, telemetry_ops_new_alloc_failure);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
