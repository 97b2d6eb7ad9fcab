/* test_certs_ops.c - the certificate loop's set-up and life cycle: a
 * configuration that cannot make a certificate is refused with the
 * reason, each allocation failing in turn is a clean -ENOMEM with its
 * reason, the thread starts and stops (nothing is done while this replica
 * does not lead), and stop and free are NULL-safe.  The rounds themselves
 * run against the API stand-in (integration_certs.py). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "certs_ops.h"
#include "controller.h"
#include "metrics.h"
#include "xalloc.h"

#include "../lib/allocfail.h"
#include "../lib/ctl_fixture.h"

static struct certs_ops_config config(void)
{
	return (struct certs_ops_config){
		.client = client, .controller = ctl, .namespace = "profileguard",
		.secret = "profileguard-webhook-tls", .webhook_config = "profileguard",
		.webhook_service = "profileguard-webhook", .telemetry_service = "profileguard-telemetry",
	};
}

static void refused(const struct certs_ops_config *c, const char *want)
{
	struct certs_ops *o = NULL;
	char err[256] = "";

	ck_assert_int_eq(certs_ops_new(c, &o, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(o);
	ck_assert_str_eq(err, want);
}

START_TEST(refusals)
{
	struct certs_ops_config c;

	c = config(), c.client = NULL;
	refused(&c, "no client, controller, namespace or Secret name");
	c = config(), c.controller = NULL;
	refused(&c, "no client, controller, namespace or Secret name");
	c = config(), c.secret = "";
	refused(&c, "no client, controller, namespace or Secret name");
	c = config(), c.webhook_service = NULL;
	refused(&c, "--webhook-service is needed with --webhook-cert-secret");
	c = config(), c.webhook_service = "Not_A_Label";
	refused(&c, "--webhook-service, --telemetry-service and the namespace must be DNS labels (RFC 1123)");
	c = config(), c.namespace = "bad.ns";
	refused(&c, "--webhook-service, --telemetry-service and the namespace must be DNS labels (RFC 1123)");
}
END_TEST

START_TEST(optional_names)
{
	/* no configuration to patch, no telemetry Service: still a loop */
	struct certs_ops_config c = config();
	struct certs_ops *o = NULL;
	char err[256] = "";

	c.webhook_config = "";
	c.telemetry_service = NULL;
	ck_assert_int_eq(certs_ops_new(&c, &o, err, sizeof(err)), 0);
	ck_assert_ptr_null(certs_ops_free(o));
}
END_TEST

START_TEST(start_stop_free)
{
	struct certs_ops_config c = config();
	struct certs_ops *o = NULL;
	char err[256] = "";

	ck_assert_int_eq(certs_ops_new(&c, &o, err, sizeof(err)), 0);
	ck_assert(!controller_leading(ctl));
	ck_assert_int_eq(certs_ops_start(o), 0);
	certs_ops_stop(o);
	certs_ops_stop(o);              /* idempotent */
	ck_assert_ptr_null(certs_ops_free(o));
	/* free stops a running loop */
	ck_assert_int_eq(certs_ops_new(&c, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(certs_ops_start(o), 0);
	ck_assert_ptr_null(certs_ops_free(o));
	certs_ops_stop(NULL);
	ck_assert_ptr_null(certs_ops_free(NULL));
}
END_TEST

static int new_and_free(void *ud)
{
	struct certs_ops_config c = config();
	struct certs_ops *o = NULL;
	char err[256] = "";
	int r = certs_ops_new(&c, &o, err, sizeof(err));

	if (r == -ENOMEM) {
		ck_assert_str_eq(err, "out of memory");
		ck_assert_ptr_null(o);
	}
	certs_ops_free(o);
	return r;
}

START_TEST(alloc_failure)
{
	ck_assert_int_gt(af_each(TRIES, new_and_free, NULL), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("certs_ops");
	TCase *tc = tcase_create("certs_ops");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup_controller, teardown_controller);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, optional_names);
	tcase_add_test(tc, start_stop_free);
	tcase_add_test(tc, alloc_failure);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
