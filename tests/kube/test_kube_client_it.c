/* test_kube_client_it.c - the C client against the API stand-in over
 * TLS: both kinds of credential, token rotation, keep-alive, threads,
 * query encoding, pacing, every fault knob (500, 429 + Retry-After, reset,
 * slow), caps, Status errors, cancellation, and each write of kube_api.h. */
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

static struct kube_client_opts fast_opts(void)
{
	struct kube_client_opts o;

	kube_client_opts_default(&o);
	o.backoff_base_ms = 20;
	o.backoff_cap_ms = 200;
	return o;
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
	ck_assert_int_eq(kube_get(c, &kube_res_namespaces, NULL, "default", &ns, &err), 0);
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
	struct kube_client_opts o = fast_opts();
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
	struct kube_client_opts o = fast_opts();
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
	struct kube_client_opts o = fast_opts();
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
	ck_assert_int_eq(kube_create(c, &kube_res_serviceaccounts, "default", obj, false, NULL,
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
	struct kube_client_opts o = fast_opts();
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
	ck_assert_int_eq(kube_create(c, &kube_res_serviceaccounts, "default", obj, false, NULL,
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
	struct kube_client_opts o = fast_opts();
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
	ck_assert_int_eq(kube_create(c, &kube_res_serviceaccounts, "default", obj, false, NULL,
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
	struct kube_client_opts o = fast_opts();
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
	ck_assert_int_eq(kube_get(c, &kube_res_pods, "default", "nope", &obj, &err), -ENOENT);
	ck_assert_ptr_null(obj);
	ck_assert_int_eq(err.code, 404);
	ck_assert_str_eq(err.reason, "NotFound");
	ck_assert_str_eq(err.message, "pods \"nope\" not found");
	kube_client_free(c);
}
END_TEST

START_TEST(test_connection_refused)
{
	struct kube_client_opts o = fast_opts();
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

/* ---- writes ------------------------------------------------------------------- */

static json_t *stored(const char *kind, const char *ns, const char *name)
{
	json_t *items = kt_objects(&S, kind, ns), *it, *found = NULL;
	size_t i;

	json_array_foreach(items, i, it) {
		json_t *m = json_object_get(it, "metadata");

		if (strcmp(json_string_value(json_object_get(m, "name")), name) == 0)
			found = json_incref(it);
	}
	json_decref(items);
	return found;
}

static const char *uid_of(json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));
}

START_TEST(test_pod_delete_preconditions)
{
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, NULL);
	struct kube_delete_opts d = { .uid = "not-the-uid", .grace_period = 0 };
	struct kube_error err;
	json_t *pod, *log, *body;
	char uid[128];

	kt_seed(&S, json_pack("[o]", kt_pod("w", "victim", "web", false, 1)));
	pod = stored("Pod", "w", "victim");
	snprintf(uid, sizeof(uid), "%s", uid_of(pod));
	json_decref(pod);

	/* The UID of a replacement: 409, and the pod stays. */
	ck_assert_int_eq(kube_pod_delete(c, "w", "victim", &d, &err), -ESTALE);
	ck_assert_int_eq(err.code, 409);
	ck_assert_ptr_nonnull(strstr(err.message, "Precondition failed"));
	pod = stored("Pod", "w", "victim");
	ck_assert_ptr_nonnull(pod);
	json_decref(pod);
	/* Dry run: validated, not done. */
	kt_clear(&S);
	d.uid = uid;
	d.dry_run = true;
	ck_assert_int_eq(kube_pod_delete(c, "w", "victim", &d, &err), 0);
	pod = stored("Pod", "w", "victim");
	ck_assert_ptr_nonnull(pod);
	json_decref(pod);
	log = kt_requests(&S, "DELETE", "/pods/victim$");
	ck_assert_uint_eq(json_array_size(log), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(log, 0),
				"query"), "dryRun")), "All");
	body = json_object_get(json_array_get(log, 0), "body");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(body, "preconditions"),
							    "uid")), uid);
	ck_assert_int_eq(json_integer_value(json_object_get(body, "gracePeriodSeconds")), 0);
	json_decref(log);
	/* The real thing, then again: gone. */
	d.dry_run = false;
	ck_assert_int_eq(kube_pod_delete(c, "w", "victim", &d, &err), 0);
	ck_assert_ptr_null(stored("Pod", "w", "victim"));
	ck_assert_int_eq(kube_pod_delete(c, "w", "victim", &d, &err), -ENOENT);
	kube_client_free(c);
}
END_TEST

START_TEST(test_eviction_and_pdb)
{
	struct kube_client_opts o = fast_opts();
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, &o);
	struct kube_delete_opts d = { .grace_period = -1 };
	struct kube_error err;
	json_t *p1 = kt_pod("e", "guarded-1", "guarded", false, 1);
	json_t *p2 = kt_pod("e", "free-1", "free", false, 2), *pod, *log;

	json_object_set_new(json_object_get(p1, "status"), "conditions",
			    json_pack("[{ssss}]", "type", "Ready", "status", "True"));
	kt_seed(&S, json_pack("[o o {ss ss s{ss ss} s{si s{s{ss}}}}]", p1, p2,
			      "apiVersion", "policy/v1", "kind", "PodDisruptionBudget",
			      "metadata", "name", "keep-one", "namespace", "e",
			      "spec", "minAvailable", 1, "selector", "matchLabels", "app", "guarded"));
	kt_clear(&S);
	/* The budget refuses: -EAGAIN, 429, asked once, the pod stays. */
	ck_assert_int_eq(kube_pod_evict(c, "e", "guarded-1", &d, &err), -EAGAIN);
	ck_assert_int_eq(err.code, 429);
	ck_assert_str_eq(err.reason, "TooManyRequests");
	ck_assert_uint_eq(err.attempts, 1);
	log = kt_requests(&S, "POST", "/eviction$");
	ck_assert_uint_eq(json_array_size(log), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(log, 0),
				"body"), "apiVersion")), "policy/v1");
	json_decref(log);
	pod = stored("Pod", "e", "guarded-1");
	ck_assert_ptr_nonnull(pod);
	/* A UID that does not match: 409. */
	d.uid = "other";
	ck_assert_int_eq(kube_pod_evict(c, "e", "free-1", &d, &err), -ESTALE);
	json_decref(pod);
	/* No budget in the way, through one 500: evicted. */
	pod = stored("Pod", "e", "free-1");
	d.uid = uid_of(pod);
	kt_faults(&S, "{\"status_500\": {\"count\": 1, \"path_regex\": \"eviction\"}}");
	ck_assert_int_eq(kube_pod_evict(c, "e", "free-1", &d, &err), 0);
	ck_assert_uint_eq(err.attempts, 2);
	ck_assert_ptr_null(stored("Pod", "e", "free-1"));
	ck_assert_int_eq(kube_pod_evict(c, "e", "free-1", &d, &err), -ENOENT);
	json_decref(pod);
	kube_client_free(c);
}
END_TEST

START_TEST(test_events_with_series)
{
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, NULL);
	struct kube_event ev = {
		.type = "Warning", .reason = "UnexpectedExecutable", .action = "Delete",
		.note = "exec of /bin/sh by container api", .reporting_instance = "controller-0",
		.regarding = { "v1", "Pod", "ev", "api-7d9f-x2", "uid-1" },
		.related = { "profileguard.io/v1alpha1", "WorkloadProfile", "ev", "payments", "uid-2" },
	};
	struct timespec later;
	struct kube_error err;
	char *name = NULL;
	json_t *obj = NULL, *series;

	kt_namespace(&S, "ev");
	ck_assert_int_eq(kube_event_create(c, "ev", &ev, &name, &err), 0);
	ck_assert_ptr_nonnull(name);
	ck_assert(strncmp(name, "api-7d9f-x2.", 12) == 0);
	ck_assert_int_eq(kube_get(c, &kube_res_events, "ev", name, &obj, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(obj, "reportingController")),
			 "profileguard.io/controller");
	ck_assert_str_eq(json_string_value(json_object_get(obj, "reason")), "UnexpectedExecutable");
	ck_assert_str_eq(json_string_value(json_object_get(obj, "action")), "Delete");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(obj, "regarding"),
							    "kind")), "Pod");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(obj, "related"),
							    "name")), "payments");
	ck_assert_ptr_nonnull(json_object_get(obj, "eventTime"));
	json_decref(obj);
	/* A repeat folds into series. */
	clock_gettime(CLOCK_REALTIME, &later);
	ck_assert_int_eq(kube_event_series_update(c, "ev", name, 2, &later, &err), 0);
	ck_assert_int_eq(kube_get(c, &kube_res_events, "ev", name, &obj, &err), 0);
	series = json_object_get(obj, "series");
	ck_assert_int_eq(json_integer_value(json_object_get(series, "count")), 2);
	ck_assert_ptr_nonnull(json_object_get(series, "lastObservedTime"));
	json_decref(obj);
	/* The same name again: the create is refused, not duplicated. */
	ev.name = name;
	ck_assert_int_eq(kube_event_create(c, "ev", &ev, NULL, &err), -EEXIST);
	ck_assert_int_eq(kube_event_series_update(c, "ev", "gone", 3, NULL, &err), -ENOENT);
	pg_free(name);
	kube_client_free(c);
}
END_TEST

START_TEST(test_status_patch)
{
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, NULL);
	struct kube_error err;
	json_t *wp, *status, *obj = NULL;

	kt_namespace(&S, "st");
	wp = json_pack("{ss ss s{ss ss} s{s{s{ss}}}}", "apiVersion", "profileguard.io/v1alpha1",
		       "kind", "WorkloadProfile", "metadata", "name", "payments", "namespace", "st",
		       "spec", "selector", "matchLabels", "app", "payments");
	ck_assert_int_eq(kube_create(c, &kube_res_workloadprofiles, "st", wp, true, &obj, &err), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(obj, "metadata"),
							     "generation")), 1);
	json_decref(obj);
	status = json_pack("{si si s[{ss ss ss}]}", "matchedPods", 4, "violations", 12,
			   "conditions", "type", "Ready", "status", "True", "reason", "Accepted");
	ck_assert_int_eq(kube_status_patch(c, &kube_res_workloadprofiles, "st", "payments", status,
					   &err), 0);
	ck_assert_int_eq(kube_get(c, &kube_res_workloadprofiles, "st", "payments", &obj, &err), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(obj, "status"),
							     "matchedPods")), 4);
	/* Status does not bump the generation. */
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(obj, "metadata"),
							     "generation")), 1);
	json_decref(obj);
	ck_assert_int_eq(kube_status_patch(c, &kube_res_workloadprofiles, "st", "nope", status,
					   &err), -ENOENT);
	json_decref(status);
	json_decref(wp);
	kube_client_free(c);
}
END_TEST

START_TEST(test_generic_get_replace_patch)
{
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, NULL);
	struct kube_error err;
	json_t *vwc, *obj = NULL, *stale, *patch, *secret;

	vwc = json_pack("{ss ss s{ss} s[{ss s{ss} s[ss] ss ss}]}",
			"apiVersion", "admissionregistration.k8s.io/v1",
			"kind", "ValidatingWebhookConfiguration", "metadata", "name", "profileguard",
			"webhooks", "name", "pods.profileguard.io", "clientConfig", "caBundle", "",
			"admissionReviewVersions", "v1", "v1beta1", "sideEffects", "None",
			"failurePolicy", "Fail");
	ck_assert_int_eq(kube_create(c, &kube_res_validatingwebhookconfigurations, NULL, vwc, true,
				     NULL, &err), 0);
	/* Read, change the caBundle, write back under the resourceVersion. */
	ck_assert_int_eq(kube_get(c, &kube_res_validatingwebhookconfigurations, NULL,
				  "profileguard", &obj, &err), 0);
	stale = json_deep_copy(obj);
	json_object_set_new(json_object_get(json_array_get(json_object_get(obj, "webhooks"), 0),
					    "clientConfig"), "caBundle", json_string("Q0E="));
	ck_assert_int_eq(kube_replace(c, &kube_res_validatingwebhookconfigurations, NULL,
				      "profileguard", obj, NULL, &err), 0);
	/* The same write from a stale read: another writer won. */
	ck_assert_int_eq(kube_replace(c, &kube_res_validatingwebhookconfigurations, NULL,
				      "profileguard", stale, NULL, &err), -ESTALE);
	ck_assert_int_eq(err.code, 409);
	json_decref(obj);
	json_decref(stale);
	/* A merge patch of labels. */
	patch = json_pack("{s{s{ss}}}", "metadata", "labels", "app.kubernetes.io/managed-by",
			  "profileguard");
	ck_assert_int_eq(kube_merge_patch(c, &kube_res_validatingwebhookconfigurations, NULL,
					  "profileguard", NULL, patch, &obj, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(obj,
				"metadata"), "labels"), "app.kubernetes.io/managed-by")),
			 "profileguard");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(
				json_object_get(obj, "webhooks"), 0), "clientConfig"), "caBundle")),
			 "Q0E=");
	json_decref(obj);
	json_decref(patch);
	/* A Secret, as the controller will write one. */
	secret = json_pack("{ss ss s{ss} ss s{ss}}", "apiVersion", "v1", "kind", "Secret",
			   "metadata", "name", "webhook-tls", "type", "kubernetes.io/tls",
			   "data", "tls.crt", "Q0VSVA==");
	ck_assert_int_eq(kube_create(c, &kube_res_secrets, "default", secret, true, NULL, &err), 0);
	ck_assert_int_eq(kube_create(c, &kube_res_secrets, "default", secret, true, NULL, &err),
			 -EEXIST);
	ck_assert_str_eq(err.reason, "AlreadyExists");
	json_decref(secret);
	json_decref(vwc);
	kube_client_free(c);
}
END_TEST

START_TEST(test_lease_race)
{
	struct kube_client *a = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, NULL);
	struct kube_client *b = kt_client(&S, KT_AUTH_CERT, NULL, NULL);
	struct kube_lease want = { .holder = "replica-a", .duration_s = 15 }, got = { 0 }, other;
	struct kube_error err;

	clock_gettime(CLOCK_REALTIME, &want.acquire);
	want.renew = want.acquire;
	ck_assert_int_eq(kube_lease_get(a, "default", "profileguard-controller", &got, &err),
			 -ENOENT);
	ck_assert_int_eq(kube_lease_create(a, "default", "profileguard-controller", &want, &got,
					   &err), 0);
	ck_assert_str_eq(got.holder, "replica-a");
	ck_assert_int_eq(got.duration_s, 15);
	ck_assert_int_eq(got.renew.tv_sec, want.renew.tv_sec);
	ck_assert_ptr_nonnull(got.resource_version);
	/* B tries to create too: lost. */
	want.holder = "replica-b";
	ck_assert_int_eq(kube_lease_create(b, "default", "profileguard-controller", &want, NULL,
					   &err), -ESTALE);
	ck_assert_int_eq(err.code, 409);
	/* Both read the same version; A renews first, B's takeover loses. */
	ck_assert_int_eq(kube_lease_get(b, "default", "profileguard-controller", &other, &err), 0);
	ck_assert_str_eq(other.resource_version, got.resource_version);
	got.renew.tv_sec += 10;
	ck_assert_int_eq(kube_lease_update(a, "default", "profileguard-controller", &got, &got,
					   &err), 0);
	pg_free(other.holder);
	other.holder = pg_strdup("replica-b");
	other.transitions++;
	ck_assert_int_eq(kube_lease_update(b, "default", "profileguard-controller", &other, NULL,
					   &err), -ESTALE);
	ck_assert_int_eq(err.code, 409);
	kube_lease_clear(&other);
	ck_assert_int_eq(kube_lease_get(b, "default", "profileguard-controller", &other, &err), 0);
	ck_assert_str_eq(other.holder, "replica-a");
	ck_assert_int_eq(other.transitions, 0);
	kube_lease_clear(&other);
	kube_lease_clear(&got);
	kube_client_free(a);
	kube_client_free(b);
}
END_TEST

START_TEST(test_token_review)
{
	struct kube_client *c = kt_client(&S, KT_AUTH_CERT, NULL, NULL);
	const char *aud[] = { "https://kubernetes.default.svc", NULL };
	struct kube_token_review tr;
	struct kube_error err;
	json_t *log;
	char *text;

	kt_clear(&S);
	ck_assert_int_eq(kube_token_review(c, KT_TOKEN_AGENT, aud, &tr, &err), 0);
	ck_assert(tr.authenticated);
	ck_assert_str_eq(tr.username, "system:serviceaccount:profileguard:agent");
	ck_assert_str_eq(tr.uid, "0b8f5c1e-agent-a");
	ck_assert_uint_eq(tr.ngroups, 3);
	ck_assert_str_eq(tr.groups[2], "system:authenticated");
	ck_assert_uint_eq(tr.naudiences, 1);
	ck_assert_str_eq(kube_token_review_extra(&tr, "authentication.kubernetes.io/node-name"),
			 "node-a");
	ck_assert_str_eq(kube_token_review_extra(&tr, "authentication.kubernetes.io/pod-uid"),
			 "7d3c");
	ck_assert_ptr_null(kube_token_review_extra(&tr, "nope"));
	ck_assert_ptr_null(tr.error);
	kube_token_review_clear(&tr);
	/* The token travelled in the body only (the stand-in redacts it in
	 * its log; it must not show in the query or a header). */
	log = kt_requests(&S, "POST", "tokenreviews$");
	ck_assert_uint_eq(json_array_size(log), 1);
	text = json_dumps(log, 0);
	ck_assert_ptr_null(strstr(text, KT_TOKEN_AGENT));
	free(text);
	json_decref(log);

	ck_assert_int_eq(kube_token_review(c, "forged-token", NULL, &tr, &err), 0);
	ck_assert(!tr.authenticated);
	ck_assert_ptr_nonnull(tr.error);
	ck_assert_ptr_null(tr.username);
	kube_token_review_clear(&tr);
	/* The wrong audience. */
	aud[0] = "https://elsewhere";
	ck_assert_int_eq(kube_token_review(c, KT_TOKEN_AGENT, aud, &tr, &err), 0);
	ck_assert(!tr.authenticated);
	kube_token_review_clear(&tr);
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
	tcase_add_test(tc, test_pod_delete_preconditions);
	tcase_add_test(tc, test_eviction_and_pdb);
	tcase_add_test(tc, test_events_with_series);
	tcase_add_test(tc, test_status_patch);
	tcase_add_test(tc, test_generic_get_replace_patch);
	tcase_add_test(tc, test_lease_race);
	tcase_add_test(tc, test_token_review);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
