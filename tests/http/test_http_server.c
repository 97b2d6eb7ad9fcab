/* test_http_server.c - the HTTP server's set-up under allocation failure:
 * each allocation http_server_start() makes fails in turn, and every failure
 * is a clean -ENOMEM (ASan: no leak, no touch of what was never built). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "http_server.h"
#include "xalloc.h"

static void route(void *ud, const struct http_server_route_request *rq, struct http_server_route_reply *ret)
{
	(void)ud;
	(void)rq;
	ret->status = 404;
}

START_TEST(test_http_server_start_alloc_failure)
{
	struct http_server_config cfg = {
		.name = "test", .listen = "127.0.0.1:0", .threads = 1,
		.route_prefix = "/v1/", .route = route, .client_ca_pem = "not a certificate",
	};
	long n;

	for (n = 0; n < 1000; n++) {
		struct http_server *s = NULL;
		char err[256] = "";
		int r;

		pg_alloc_fail_at(n);
		r = http_server_start(&cfg, &s, err, sizeof(err));
		pg_alloc_fail_at(-1);
		if (r == 0) {
			ck_assert_ptr_nonnull(s);
			ck_assert_uint_ne(http_server_port(s), 0);
			http_server_drain_begin(s);
			http_server_drain(s, 100);
			ck_assert_ptr_null(http_server_stop(s));
			break;
		}
		ck_assert_msg(r == -ENOMEM, "fail at %ld: %d (%s)", n, r, err);
		ck_assert_ptr_null(s);
	}
	ck_assert_int_gt(n, 0);                 /* something was allocated */
	ck_assert_int_lt(n, 1000);
	/* the destructors take NULL */
	http_server_drain_begin(NULL);
	http_server_drain(NULL, 0);
	ck_assert_ptr_null(http_server_stop(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_server");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_http_server_start_alloc_failure);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
