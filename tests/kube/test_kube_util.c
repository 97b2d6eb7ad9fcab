/* test_kube_util.c - percent encoding of paths and queries, API
 * timestamps. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "kube_client.h"
#include "kube_util.h"
#include "xalloc.h"

START_TEST(test_escape_and_query)
{
	struct buf b = BUF_INIT(4096);
	const struct kube_param q[] = {
		{ "labelSelector", "app in (a,b),tier!=db" },
		{ "continue", NULL },                           /* left out */
		{ "fieldSelector", "spec.nodeName=node-a" },
		{ "x y", "100%/&=?#+~._-" },
		{ NULL, NULL },
	};
	const struct kube_param none[] = { { "a", NULL }, { NULL, NULL } };

	ck_assert_int_eq(kube_escape(&b, "a-Z_0.9~"), 0);
	ck_assert_str_eq(buf_str(&b), "a-Z_0.9~");
	buf_reset(&b);
	ck_assert_int_eq(kube_escape(&b, "é/ ü"), 0);
	ck_assert_str_eq(buf_str(&b), "%C3%A9%2F%20%C3%BC");
	buf_reset(&b);
	ck_assert_int_eq(kube_query_append(&b, q), 0);
	ck_assert_str_eq(buf_str(&b),
			 "?labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Ddb"
			 "&fieldSelector=spec.nodeName%3Dnode-a"
			 "&x%20y=100%25%2F%26%3D%3F%23%2B~._-");
	buf_reset(&b);
	ck_assert_int_eq(kube_query_append(&b, none), 0);
	ck_assert_int_eq(kube_query_append(&b, NULL), 0);
	ck_assert_str_eq(buf_str(&b), "");
	buf_free(&b);

	/* A cap hit leaves the buffer as it was. */
	buf_init(&b, 10);
	ck_assert_int_eq(buf_adds(&b, "/p"), 0);
	ck_assert_int_eq(kube_query_append(&b, q), -E2BIG);
	ck_assert_str_eq(buf_str(&b), "/p");
	buf_free(&b);
}
END_TEST

START_TEST(test_paths)
{
	struct buf b = BUF_INIT(4096);

	ck_assert_int_eq(kube_path(&b, &kube_res_pods, "payments", "api-1", "eviction"), 0);
	ck_assert_str_eq(buf_str(&b), "/api/v1/namespaces/payments/pods/api-1/eviction");
	buf_reset(&b);
	ck_assert_int_eq(kube_path(&b, &kube_res_pods, NULL, NULL, NULL), 0);
	ck_assert_str_eq(buf_str(&b), "/api/v1/pods");
	buf_reset(&b);
	ck_assert_int_eq(kube_path(&b, &kube_res_workloadprofiles, "ns", "p", "status"), 0);
	ck_assert_str_eq(buf_str(&b),
			 "/apis/profileguard.io/v1alpha1/namespaces/ns/workloadprofiles/p/status");
	buf_reset(&b);
	/* Cluster-scoped resources ignore a namespace. */
	ck_assert_int_eq(kube_path(&b, &kube_res_tokenreviews, "ns", NULL, NULL), 0);
	ck_assert_str_eq(buf_str(&b), "/apis/authentication.k8s.io/v1/tokenreviews");
	buf_reset(&b);
	/* Names are escaped: a hostile name cannot change the path. */
	ck_assert_int_eq(kube_path(&b, &kube_res_secrets, "a/../b", "x?y", NULL), 0);
	ck_assert_str_eq(buf_str(&b), "/api/v1/namespaces/a%2F..%2Fb/secrets/x%3Fy");
	buf_reset(&b);
	ck_assert_int_eq(kube_api_version(&b, &kube_res_leases), 0);
	ck_assert_str_eq(buf_str(&b), "coordination.k8s.io/v1");
	buf_reset(&b);
	ck_assert_int_eq(kube_api_version(&b, &kube_res_pods), 0);
	ck_assert_str_eq(buf_str(&b), "v1");
	buf_free(&b);
}
END_TEST

START_TEST(test_rand)
{
	uint64_t a = kube_rand(), b = kube_rand();
	int low = 0;

	ck_assert(a != b);
	for (int i = 0; i < 1000; i++)
		low += (kube_rand() & 1) == 0;
	ck_assert_int_gt(low, 400);
	ck_assert_int_lt(low, 600);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_util");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_escape_and_query);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_rand);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
