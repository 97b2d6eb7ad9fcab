/* test_kube_client_it.c - the C client against the API stand-in over
 * TLS: both kinds of credential, token rotation, keep-alive, threads,
 * query encoding, pacing, every fault knob (500, 429 + Retry-After, reset,
 * slow), caps, Status errors and cancellation.  The calls of kube_api.h
 * have their own suite (test_kube_api.c). */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "kube_api.h"
#include "kube_client.h"
#include "kubeconfig.h"
#include "standin_harness.h"
#include "errlist.h"
#include "xalloc.h"

static struct kt_standin S;

static void start(void)
{
	kt_start(&S, 4, NULL);
}

static void stop(void)
{
	kt_stop(&S);
}

static int get(struct kube_client *c, const char *path, struct kube_error *err)
{
	struct kube_request req = { .method = "GET", .path = path };

	return kube_client_do(c, &req, NULL, err);
}

/* ---- credentials ---------------------------------------------------------- */

START_TEST(test_token_and_cert_auth)
{
	struct kube_client *c;
	struct kube_error err;
	json_t *ns = NULL;

	c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, NULL);
	ck_assert_int_eq(kube_api_get(c, &kube_res_namespaces, NULL, "default", &ns, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ns, "metadata"), "name")),
			 "default");
	json_decref(ns);
	ck_assert_str_eq(kube_client_namespace(c), "default");
	kube_client_free(c);

	c = kt_client(&S, KT_AUTH_CERT, NULL, NULL);
	ck_assert_int_eq(get(c, "/api/v1/namespaces/default", &err), 0);
	ck_assert_int_eq(err.code, 200);
	kube_client_free(c);

	/* A token the server does not know: 401, and the token is in no
	 * message. */
	c = kt_client(&S, KT_AUTH_TOKEN, "not-a-real-token", NULL);
	ck_assert_int_eq(get(c, "/api/v1/namespaces/default", &err), -EACCES);
	ck_assert_int_eq(err.code, 401);
	ck_assert_str_eq(err.reason, "Unauthorized");
	ck_assert_ptr_null(strstr(err.message, "not-a-real-token"));
	kube_client_free(c);

	/* A client certificate from another CA fails the handshake. */
	c = kt_client(&S, KT_AUTH_BAD_CERT, NULL, NULL);
	ck_assert_int_lt(get(c, "/api/v1/namespaces/default", &err), 0);
	ck_assert_int_eq(err.code, 0);
	kube_client_free(c);

	/* A server whose CA we do not trust is refused; with
	 * insecure-skip-tls-verify it is not. */
	c = kt_client(&S, KT_AUTH_WRONG_CA, KT_TOKEN_ADMIN, NULL);
	ck_assert_int_eq(get(c, "/api/v1/namespaces/default", &err), -ECONNABORTED);
	ck_assert_str_eq(err.reason, "TLSError");
	ck_assert_uint_eq(err.attempts, 1);     /* not a failure to retry */
	kube_client_free(c);
	c = kt_client(&S, KT_AUTH_INSECURE, KT_TOKEN_ADMIN, NULL);
	ck_assert_int_eq(get(c, "/api/v1/namespaces/default", &err), 0);
	kube_client_free(c);
}
END_TEST

/* The kubelet rotates the projected token by swapping a symlink: the
 * client re-reads it on schedule, and at once on a 401. */
START_TEST(test_token_file_rotation)
{
	struct kube_client_opts o = kt_fast_opts();
	struct kube_client_stats st;
	struct kubeconfig *cfg;
	struct kube_client *c;
	struct kube_error err;
	struct errlist errs;
	char root[4096], d1[4200], d2[4200], link[4200], tmp[4200], path[8800];
	char port[16];
	FILE *f;

	/* An in-cluster mount: ca.crt, and token -> ..data/token. */
	snprintf(root, sizeof(root), "%s/sa", S.dir);
	ck_assert_int_eq(mkdir(root, 0700), 0);
	snprintf(path, sizeof(path), "cp '%s/ca.crt' '%s/ca.crt'", S.certs, root);
	ck_assert_int_eq(system(path), 0);
	snprintf(d1, sizeof(d1), "%s/..2026_1", root);
	snprintf(d2, sizeof(d2), "%s/..2026_2", root);
	ck_assert_int_eq(mkdir(d1, 0700), 0);
	ck_assert_int_eq(mkdir(d2, 0700), 0);
	snprintf(path, sizeof(path), "%s/token", d1);
	f = fopen(path, "w");
	fputs(KT_TOKEN_SHORT, f);               /* expires 4 s after start */
	fclose(f);
	snprintf(path, sizeof(path), "%s/token", d2);
	f = fopen(path, "w");
	fputs(KT_TOKEN_NEXT "\n", f);
	fclose(f);
	snprintf(link, sizeof(link), "%s/..data", root);
	ck_assert_int_eq(symlink("..2026_1", link), 0);
	snprintf(path, sizeof(path), "%s/token", root);
	ck_assert_int_eq(symlink("..data/token", path), 0);

	snprintf(port, sizeof(port), "%d", S.port);
	errlist_init(&errs, 0);
	ck_assert_int_eq(kubeconfig_in_cluster("127.0.0.1", port, root, &errs, &cfg), 0);
	errlist_free(&errs);
	o.token_reread_s = 3600;
	ck_assert_int_eq(kube_client_new(cfg, &o, &c), 0);
	kubeconfig_free(cfg);

	ck_assert_int_eq(get(c, "/api/v1/namespaces", &err), 0);
	/* The kubelet's atomic swap. */
	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", root);
	ck_assert_int_eq(symlink("..2026_2", tmp), 0);
	ck_assert_int_eq(rename(tmp, link), 0);
	ck_assert_int_eq(get(c, "/api/v1/namespaces", &err), 0);
	kube_client_stats(c, &st);
	ck_assert_uint_eq(st.token_reads, 1);   /* cached within the period */
	/* The old token expires: the 401 makes the client read the file
	 * again and succeed with the new token in the same call. */
	kt_sleep_ms(4500);
	ck_assert_int_eq(get(c, "/api/v1/namespaces", &err), 0);
	ck_assert_uint_eq(err.attempts, 2);
	kube_client_stats(c, &st);
	ck_assert_uint_eq(st.token_reads, 2);
	kube_client_free(c);

	/* With a short period the file is re-read on schedule. */
	o.token_reread_s = 1;
	snprintf(port, sizeof(port), "%d", S.port);
	errlist_init(&errs, 0);
	ck_assert_int_eq(kubeconfig_in_cluster("127.0.0.1", port, root, &errs, &cfg), 0);
	errlist_free(&errs);
	ck_assert_int_eq(kube_client_new(cfg, &o, &c), 0);
	kubeconfig_free(cfg);
	ck_assert_int_eq(get(c, "/api/v1/namespaces", &err), 0);
	ck_assert_int_eq(get(c, "/api/v1/namespaces", &err), 0);
	kube_client_stats(c, &st);
	ck_assert_uint_eq(st.token_reads, 1);
	kt_sleep_ms(1100);
	ck_assert_int_eq(get(c, "/api/v1/namespaces", &err), 0);
	kube_client_stats(c, &st);
	ck_assert_uint_eq(st.token_reads, 2);
	kube_client_free(c);
}
END_TEST

/* ---- transport -------------------------------------------------------------- */

START_TEST(test_keepalive_reuse)
{
	struct kube_client *c = kt_client(&S, KT_AUTH_CERT, NULL, NULL);
	struct kube_client_stats st;
	struct kube_error err;

	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(get(c, "/api/v1/namespaces/default", &err), 0);
	kube_client_stats(c, &st);
	ck_assert_uint_eq(st.requests, 20);
	ck_assert_uint_eq(st.connections, 1);
	kube_client_free(c);
}
END_TEST

struct worker {
	struct kube_client *c;
	int ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct kube_error err;

	for (int i = 0; i < 25; i++)
		w->ok += get(w->c, "/api/v1/namespaces/default", &err) == 0;
	return NULL;
}

START_TEST(test_threads_share_a_client)
{
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, NULL);
	struct worker w[4];
	pthread_t t[4];
	struct kube_client_stats st;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ c, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].ok, 25);
	}
	kube_client_stats(c, &st);
	ck_assert_uint_eq(st.requests, 100);
	/* One connection per concurrent caller at most, all reused. */
	ck_assert_uint_le(st.connections, 4);
	kube_client_free(c);
}
END_TEST

START_TEST(test_query_encoding)
{
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, NULL);
	const char *sel = "app in (a,b),tier!=db,x.io/y=z w";
	const struct kube_param q[] = {
		{ "labelSelector", sel },
		{ "fieldSelector", "spec.nodeName=node-a" },
		{ "limit", "5" },
		{ NULL, NULL },
	};
	struct kube_request req = { .method = "GET", .path = "/api/v1/pods", .query = q };
	struct kube_error err;
	json_t *log, *entry;

	kt_clear(&S);
	/* The selector is invalid for the server (the space), which is fine:
	 * what matters is what arrived. */
	kube_client_do(c, &req, NULL, &err);
	log = kt_requests(&S, "GET", "^/api/v1/pods$");
	ck_assert_uint_eq(json_array_size(log), 1);
	entry = json_array_get(log, 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(entry, "query"),
							    "labelSelector")), sel);
	ck_assert_str_eq(json_string_value(json_object_get(entry, "rawQuery")),
			 "labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Ddb%2Cx.io%2Fy%3Dz%20w"
			 "&fieldSelector=spec.nodeName%3Dnode-a&limit=5");
	json_decref(log);
	kube_client_free(c);
}
END_TEST

START_TEST(test_qps_limiter)
{
	struct kube_client_opts o = kt_fast_opts();
	struct kube_client_stats st;
	struct kube_client *c;
	struct kube_error err;
	double t0, dt;

	o.qps = 10;
	o.burst = 2;
	c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, &o);
	t0 = kt_now();
	for (int i = 0; i < 12; i++)
		ck_assert_int_eq(get(c, "/api/v1/namespaces/default", &err), 0);
	dt = kt_now() - t0;
	/* Two at once, then one per 100 ms. */
	ck_assert_msg(dt >= 0.95, "12 requests at 10 QPS burst 2 took %.3f s", dt);
	kube_client_stats(c, &st);
	ck_assert_uint_ge(st.throttled, 9);
	kube_client_free(c);
}
END_TEST

START_TEST(test_fault_500_retried)
{
	struct kube_client_opts o = kt_fast_opts();
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, &o);
	struct kube_client_stats st;
	struct kube_error err;
	json_t *obj = json_pack("{ss ss s{ss}}", "apiVersion", "v1", "kind", "ConfigMap",
				"metadata", "name", "cm");

	/* A GET is retried through two 500s. */
	kt_faults(&S, "{\"status_500\": {\"count\": 2, \"path_regex\": \"namespaces/default$\"}}");
	ck_assert_int_eq(get(c, "/api/v1/namespaces/default", &err), 0);
	ck_assert_uint_eq(err.attempts, 3);
	kube_client_stats(c, &st);
	ck_assert_uint_eq(st.retries, 2);
	/* A create is not: the server may have acted before failing. */
	kt_faults(&S, "{\"status_500\": {\"count\": 1, \"path_regex\": \"serviceaccounts\"}}");
	json_decref(obj);
	obj = json_pack("{ss ss s{ss}}", "apiVersion", "v1", "kind", "ServiceAccount",
			"metadata", "name", "sa1");
	ck_assert_int_eq(kube_api_create(c, &kube_res_serviceaccounts, "default", obj, false, NULL,
					 &err), -EIO);
	ck_assert_int_eq(err.code, 500);
	ck_assert_str_eq(err.reason, "InternalError");
	ck_assert_uint_eq(err.attempts, 1);
	/* Endless 500s: the retries run out. */
	kt_faults(&S, "{\"status_500\": {\"count\": -1, \"path_regex\": \"namespaces/default$\"}}");
	ck_assert_int_eq(get(c, "/api/v1/namespaces/default", &err), -EIO);
	ck_assert_uint_eq(err.attempts, o.max_retries + 1);
	kt_clear(&S);
	json_decref(obj);
	kube_client_free(c);
}
END_TEST

START_TEST(test_fault_429_retry_after)
{
	struct kube_client_opts o = kt_fast_opts();
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, &o);
	struct kube_error err;
	json_t *obj;
	double t0;

	/* Retry-After (1 s) wins over the 20 ms backoff. */
	kt_faults(&S, "{\"status_429\": {\"count\": 1, \"retry_after\": 1,"
		  " \"path_regex\": \"namespaces/default$\"}}");
	t0 = kt_now();
	ck_assert_int_eq(get(c, "/api/v1/namespaces/default", &err), 0);
	ck_assert_double_ge(kt_now() - t0, 0.95);
	ck_assert_uint_eq(err.attempts, 2);
	/* A 429 is retried even for a create: the server refused before
	 * doing anything. */
	kt_faults(&S, "{\"status_429\": {\"count\": 1, \"retry_after\": 0,"
		  " \"path_regex\": \"serviceaccounts\"}}");
	obj = json_pack("{ss ss s{ss}}", "apiVersion", "v1", "kind", "ServiceAccount",
			"metadata", "name", "sa2");
	ck_assert_int_eq(kube_api_create(c, &kube_res_serviceaccounts, "default", obj, false, NULL,
					 &err), 0);
	ck_assert_uint_eq(err.attempts, 2);
	json_decref(obj);
	/* A Retry-After beyond the client's cap is cut to the cap. */
	kube_client_free(c);
	o.retry_after_max_s = 0;
	c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, &o);
	kt_faults(&S, "{\"status_429\": {\"count\": 1, \"retry_after\": 3600,"
		  " \"path_regex\": \"namespaces/default$\"}}");
	t0 = kt_now();
	ck_assert_int_eq(get(c, "/api/v1/namespaces/default", &err), 0);
	ck_assert_double_lt(kt_now() - t0, 5.0);
	kube_client_free(c);
}
END_TEST

START_TEST(test_fault_reset)
{
	struct kube_client_opts o = kt_fast_opts();
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, &o);
	struct kube_error err;
	json_t *obj, *items;

	/* A dropped connection: a GET is retried on a new one. */
	kt_faults(&S, "{\"reset\": {\"count\": 1, \"path_regex\": \"namespaces/default$\"}}");
	ck_assert_int_eq(get(c, "/api/v1/namespaces/default", &err), 0);
	ck_assert_uint_eq(err.attempts, 2);
	/* A create whose request went out is not repeated blindly. */
	kt_faults(&S, "{\"reset\": {\"count\": 1, \"path_regex\": \"serviceaccounts\"}}");
	obj = json_pack("{ss ss s{ss}}", "apiVersion", "v1", "kind", "ServiceAccount",
			"metadata", "name", "sa3");
	ck_assert_int_eq(kube_api_create(c, &kube_res_serviceaccounts, "default", obj, false, NULL,
					 &err), -ECONNRESET);
	ck_assert_uint_eq(err.attempts, 1);
	items = kt_objects(&S, "ServiceAccount", "default");
	for (size_t i = 0; i < json_array_size(items); i++)
		ck_assert_str_ne(json_string_value(json_object_get(json_object_get(
			json_array_get(items, i), "metadata"), "name")), "sa3");
	json_decref(items);
	json_decref(obj);
	kube_client_free(c);
}
END_TEST

START_TEST(test_fault_slow_and_timeouts)
{
	struct kube_client_opts o = kt_fast_opts();
	struct kube_request req = { .method = "GET", .path = "/api/v1/namespaces/default",
				    .timeout_ms = 300 };
	struct kube_client *c;
	struct kube_error err;
	double t0;

	o.max_retries = 1;
	c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, &o);
	/* One slow answer: the attempt times out, the retry succeeds. */
	kt_faults(&S, "{\"slow\": {\"delay_ms\": 1500, \"count\": 1,"
		  " \"path_regex\": \"namespaces/default$\"}}");
	ck_assert_int_eq(kube_client_do(c, &req, NULL, &err), 0);
	ck_assert_uint_eq(err.attempts, 2);
	/* Always slow: -ETIMEDOUT once the retries are spent. */
	kt_faults(&S, "{\"slow\": {\"delay_ms\": 1500, \"count\": -1,"
		  " \"path_regex\": \"namespaces/default$\"}}");
	t0 = kt_now();
	ck_assert_int_eq(kube_client_do(c, &req, NULL, &err), -ETIMEDOUT);
	ck_assert_str_eq(err.reason, "Timeout");
	ck_assert_uint_eq(err.attempts, 2);
	ck_assert_double_lt(kt_now() - t0, 2.5);
	/* Slow but within the timeout is fine. */
	kt_faults(&S, "{\"slow\": {\"delay_ms\": 200, \"count\": -1,"
		  " \"path_regex\": \"namespaces/default$\"}}");
	req.timeout_ms = 3000;
	ck_assert_int_eq(kube_client_do(c, &req, NULL, &err), 0);
	ck_assert_uint_eq(err.attempts, 1);
	kt_clear(&S);
	kube_client_free(c);
}
END_TEST

struct canceller {
	atomic_bool *flag;
	long after_ms;
};

static void *cancel_main(void *arg)
{
	struct canceller *cn = arg;

	kt_sleep_ms(cn->after_ms);
	atomic_store(cn->flag, true);
	return NULL;
}

START_TEST(test_cancel)
{
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, NULL);
	atomic_bool flag = false;
	struct canceller cn = { &flag, 200 };
	struct kube_request req = { .method = "GET", .path = "/api/v1/namespaces/default",
				    .cancel = &flag };
	struct kube_error err;
	pthread_t t;
	double t0;

	kt_faults(&S, "{\"slow\": {\"delay_ms\": 5000, \"count\": 1}}");
	pthread_create(&t, NULL, cancel_main, &cn);
	t0 = kt_now();
	ck_assert_int_eq(kube_client_do(c, &req, NULL, &err), -ECANCELED);
	ck_assert_double_lt(kt_now() - t0, 3.0);
	pthread_join(t, NULL);
	kube_client_free(c);
}
END_TEST

START_TEST(test_caps_and_status)
{
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, NULL);
	struct kube_request req = { .method = "GET", .path = "/api/v1/namespaces",
				    .max_response = 64 };
	struct buf body = BUF_INIT(64);
	struct kube_error err;
	json_t *obj = NULL;

	/* Over the cap: -EFBIG, nothing kept, no retry. */
	ck_assert_int_eq(buf_adds(&body, "kept"), 0);
	ck_assert_int_eq(kube_client_do(c, &req, &body, &err), -EFBIG);
	ck_assert_str_eq(err.reason, "ResponseTooLarge");
	ck_assert_uint_eq(err.attempts, 1);
	ck_assert_str_eq(buf_str(&body), "kept");
	req.max_response = 0;
	ck_assert_int_eq(kube_client_do(c, &req, &body, &err), 0);
	ck_assert_uint_gt(body.len, 64);
	buf_free(&body);
	/* A Status becomes an errno, a reason and a message. */
	ck_assert_int_eq(kube_api_get(c, &kube_res_pods, "default", "nope", &obj, &err), -ENOENT);
	ck_assert_ptr_null(obj);
	ck_assert_int_eq(err.code, 404);
	ck_assert_str_eq(err.reason, "NotFound");
	ck_assert_str_eq(err.message, "pods \"nope\" not found");
	kube_client_free(c);
}
END_TEST

START_TEST(test_connection_refused)
{
	struct kube_client_opts o = kt_fast_opts();
	struct kubeconfig *cfg = kt_config(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN);
	struct kube_client *c;
	struct kube_error err;

	/* Port 1 on loopback: nothing listens. */
	pg_free(cfg->server);
	cfg->server = pg_strdup("https://127.0.0.1:1");
	o.max_retries = 2;
	ck_assert_int_eq(kube_client_new(cfg, &o, &c), 0);
	kubeconfig_free(cfg);
	ck_assert_int_eq(get(c, "/api/v1/namespaces", &err), -ECONNREFUSED);
	ck_assert_str_eq(err.reason, "ConnectionRefused");
	ck_assert_uint_eq(err.attempts, 3);
	kube_client_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_client_integration");
	TCase *tc = tcase_create("standin");
	SRunner *sr;
	int failed;

	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tc, start, stop);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_token_and_cert_auth);
	tcase_add_test(tc, test_token_file_rotation);
	tcase_add_test(tc, test_keepalive_reuse);
	tcase_add_test(tc, test_threads_share_a_client);
	tcase_add_test(tc, test_query_encoding);
	tcase_add_test(tc, test_qps_limiter);
	tcase_add_test(tc, test_fault_500_retried);
	tcase_add_test(tc, test_fault_429_retry_after);
	tcase_add_test(tc, test_fault_reset);
	tcase_add_test(tc, test_fault_slow_and_timeouts);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_caps_and_status);
	tcase_add_test(tc, test_connection_refused);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
