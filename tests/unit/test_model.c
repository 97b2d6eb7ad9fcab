/* test_model.c - the Kubernetes model: label selectors, image references,
 * pods and templates. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "arena.h"
#include "fpath.h"
#include "image.h"
#include "testutil.h"
#include "xalloc.h"

/* ---- selectors ----------------------------------------------------------- */

struct scase {
	const char *selector;   /* YAML */
	const char *labels;     /* YAML map */
	bool match;
};

static const struct scase scases[] = {
	{ "{matchLabels: {app: a}}", "{app: a, x: z}", true },
	{ "{matchLabels: {app: a}}", "{app: b}", false },
	{ "{matchLabels: {app: a}}", "{}", false },
	{ "{matchLabels: {app: a, tier: web}}", "{app: a}", false },
	{ "{matchExpressions: [{key: app, operator: In, values: [a, b]}]}", "{app: b}", true },
	{ "{matchExpressions: [{key: app, operator: In, values: [a, b]}]}", "{app: c}", false },
	{ "{matchExpressions: [{key: app, operator: In, values: [a]}]}", "{}", false },
	{ "{matchExpressions: [{key: app, operator: NotIn, values: [a]}]}", "{app: b}", true },
	{ "{matchExpressions: [{key: app, operator: NotIn, values: [a]}]}", "{}", true },
	{ "{matchExpressions: [{key: app, operator: NotIn, values: [a]}]}", "{app: a}", false },
	{ "{matchExpressions: [{key: app, operator: Exists}]}", "{app: ''}", true },
	{ "{matchExpressions: [{key: app, operator: Exists}]}", "{other: x}", false },
	{ "{matchExpressions: [{key: canary, operator: DoesNotExist}]}", "{app: a}", true },
	{ "{matchExpressions: [{key: canary, operator: DoesNotExist}]}", "{canary: 'true'}", false },
	{ "{matchLabels: {app: a}, matchExpressions: [{key: t, operator: Exists}]}", "{app: a}", false },
	{ "{matchLabels: {app: a}, matchExpressions: [{key: t, operator: Exists}]}", "{app: a, t: x}", true },
};

START_TEST(test_selector_table)
{
	const struct scase *tc = &scases[_i];
	struct arena *a = arena_new(256);
	struct errlist errs;
	struct fpath path;
	struct selector sel;
	struct labels labels;
	json_t *sj = tu_yaml(tc->selector), *lj = tu_yaml(tc->labels);

	errlist_init(&errs, 0);
	fpath_init(&path, "selector");
	ck_assert_int_eq(selector_parse(sj, a, &path, &errs, &sel), 0);
	ck_assert_int_eq(labels_from_json(lj, a, &path, &errs, &labels), 0);
	ck_assert_msg(selector_matches(&sel, &labels) == tc->match, "case %d: %s vs %s", _i,
		      tc->selector, tc->labels);
	errlist_free(&errs);
	json_decref(sj);
	json_decref(lj);
	arena_free(a);
}
END_TEST

/* ---- images -------------------------------------------------------------- */

static const char *const norm_cases[][2] = {
	{ "nginx", "docker.io/library/nginx:latest" },
	{ "nginx:1.25", "docker.io/library/nginx:1.25" },
	{ "bitnami/nginx", "docker.io/bitnami/nginx:latest" },
	{ "docker.io/nginx", "docker.io/library/nginx:latest" },
	{ "index.docker.io/nginx:1", "docker.io/library/nginx:1" },
	{ "ghcr.io/a/b", "ghcr.io/a/b:latest" },
	{ "localhost/app", "localhost/app:latest" },
	{ "localhost:5000/app:dev", "localhost:5000/app:dev" },
	{ "registry.example.com:443/team/app:1.0", "registry.example.com:443/team/app:1.0" },
	{ "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  "docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
	{ "r.io/a:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  "r.io/a:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
};

START_TEST(test_image_normalize)
{
	char out[IMAGE_REF_MAX + 64];

	ck_assert_int_eq(image_normalize(norm_cases[_i][0], out, sizeof(out)), 0);
	ck_assert_str_eq(out, norm_cases[_i][1]);
}
END_TEST

START_TEST(test_image_invalid)
{
	char out[64];

	ck_assert_int_eq(image_normalize("", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(image_normalize("a b", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(image_normalize("nginx:", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(image_normalize("r.io/", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(image_normalize("@sha256:00", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(image_normalize("nginx@md5:00", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(image_normalize("registry.example.com/a-very-long/path/that/does/not/fit/in/sixty-four/bytes:1", out, sizeof(out)),
			 -ENAMETOOLONG);
}
END_TEST

START_TEST(test_image_patterns)
{
	const char *d = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char img[256];

	ck_assert(image_pattern_match("docker.io/library/nginx:*", "docker.io/library/nginx:1.25"));
	ck_assert(!image_pattern_match("nginx:*", "docker.io/library/nginx:1.25"));  /* wildcards are not normalised */
	ck_assert(image_pattern_match("nginx:1.25", "docker.io/library/nginx:1.25"));
	snprintf(img, sizeof(img), "r.io/app:1%s", d);
	ck_assert(image_pattern_match("r.io/app:1", img));
	ck_assert(image_pattern_match("r.io/*", img));
	ck_assert(!image_pattern_match("r.io/app:2", img));
	snprintf(img, sizeof(img), "r.io/app%s", d);
	ck_assert(!image_pattern_match("r.io/app", img));      /* :latest is not the digest */
	ck_assert(image_pattern_match("r.io/app@sha256:*", img));
	ck_assert(image_has_digest(img));
	ck_assert(!image_has_digest("r.io/app@sha256:ABCDEF"));
	ck_assert(!image_has_digest("r.io/app:sha256"));
}
END_TEST

/* ---- pods ---------------------------------------------------------------- */

START_TEST(test_pod_fields)
{
	struct pod *p = tu_pod(
		"apiVersion: v1\nkind: Pod\n"
		"metadata:\n  name: api-1\n  namespace: pay\n  uid: u-1\n  labels: {app: api}\n"
		"  annotations: {kubernetes.io/config.mirror: abc}\n  deletionTimestamp: '2026-01-01T00:00:00Z'\n"
		"  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-7d9f, uid: rs-1, controller: true}]\n"
		"spec:\n  nodeName: node-a\n  serviceAccountName: api\n  automountServiceAccountToken: false\n"
		"  hostPID: true\n  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n"
		"  volumes:\n  - {name: kube-api-access-x, projected: {sources: [{serviceAccountToken: {expirationSeconds: 3607}}]}}\n"
		"  - {name: h, hostPath: {path: /var/log}}\n"
		"  initContainers: [{name: init, image: busybox}]\n"
		"  containers:\n  - name: app\n    image: r.io/app:1\n"
		"    securityContext: {privileged: true, allowPrivilegeEscalation: false, runAsUser: 0, capabilities: {add: [NET_ADMIN]}}\n"
		"  ephemeralContainers: [{name: dbg, image: alpine}]\n"
		"status: {startTime: '2026-11-22T10:00:00Z'}\n");

	ck_assert_str_eq(p->namespace, "pay");
	ck_assert_str_eq(p->name, "api-1");
	ck_assert_str_eq(p->uid, "u-1");
	ck_assert_str_eq(p->spec_root, "spec");
	ck_assert_str_eq(labels_get(&p->labels, "app"), "api");
	ck_assert_str_eq(pod_service_account(p), "api");
	ck_assert_int_eq(p->automount, OPT_FALSE);
	ck_assert(p->host_pid && !p->host_network);
	ck_assert_int_eq(p->run_as_non_root, OPT_TRUE);
	ck_assert_int_eq(p->run_as_user, 1000);
	ck_assert_uint_eq(p->ntokens, 1);
	ck_assert_int_eq(p->tokens[0].expiration, 3607);
	ck_assert(p->has_api_access_volume);
	ck_assert_uint_eq(p->nhost_paths, 1);
	ck_assert_uint_eq(p->ncontainers, 3);
	ck_assert_int_eq(p->containers[0].kind, CK_INIT);
	ck_assert_int_eq(p->containers[1].kind, CK_CONTAINER);
	ck_assert_int_eq(p->containers[1].privileged, OPT_TRUE);
	ck_assert_int_eq(p->containers[1].allow_escalation, OPT_FALSE);
	ck_assert_int_eq(p->containers[1].run_as_user, 0);
	ck_assert_str_eq(p->containers[1].caps_add[0], "NET_ADMIN");
	ck_assert_int_eq(p->containers[2].kind, CK_EPHEMERAL);
	ck_assert_str_eq(p->node_name, "node-a");
	ck_assert_str_eq(p->owner_kind, "ReplicaSet");
	ck_assert_str_eq(p->owner_uid, "rs-1");
	ck_assert(p->mirror);
	ck_assert(p->terminating);
	ck_assert_int_eq(p->start_time, 1795341600);
	pod_free(p);
}
END_TEST

static void expect_pod_error(const char *yaml, int code, const char *msg)
{
	json_t *obj = tu_yaml(yaml);
	struct errlist errs;
	struct pod *p = NULL;
	int r;

	errlist_init(&errs, 0);
	r = pod_from_object(obj, "default", &errs, &p);
	ck_assert_msg(r == code, "%s: got %d", yaml, r);
	if (msg)
		ck_assert_msg(errs.n && strcmp(errs.msgs[0], msg) == 0, "got \"%s\" want \"%s\"",
			      errs.n ? errs.msgs[0] : "", msg);
	ck_assert_ptr_null(p);
	errlist_free(&errs);
	json_decref(obj);
}

START_TEST(test_pod_errors)
{
	expect_pod_error("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", -ENOENT, NULL);
	expect_pod_error("apiVersion: v2\nkind: Pod\n", -ENOENT, NULL);
	expect_pod_error("kind: Pod\n", -EINVAL, NULL);
	expect_pod_error("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: {}}\n", -EINVAL,
			 "spec.containers: must be a list");
	expect_pod_error("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"
			 "spec: {containers: [{name: c, image: x, securityContext: {privileged: 'yes'}}]}\n", -EINVAL,
			 "spec.containers[0].securityContext.privileged: must be true or false");
	expect_pod_error("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
			 "spec: {template: {metadata: {labels: {app: [a]}}, spec: {containers: []}}}\n", -EINVAL,
			 "spec.template.metadata.labels.app: must be a string");
	expect_pod_error("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"
			 "spec: {volumes: [{name: t, projected: {sources: [{serviceAccountToken: {expirationSeconds: -5}}]}}], containers: []}\n",
			 -EINVAL, "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: must be a non-negative integer");
	expect_pod_error("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", -EINVAL, "spec: required");
}
END_TEST

START_TEST(test_pod_kinds)
{
	enum workload_kind k;
	json_t *o = tu_yaml("{apiVersion: batch/v1beta1, kind: CronJob}");

	ck_assert_int_eq(pod_workload_kind(o, &k), 0);
	ck_assert_int_eq(k, WK_CRONJOB);
	ck_assert_str_eq(workload_kind_name(k), "CronJob");
	json_decref(o);
	o = tu_yaml("{apiVersion: v1, kind: ReplicationController}");
	ck_assert_int_eq(pod_workload_kind(o, &k), 0);
	json_decref(o);
	o = tu_yaml("{apiVersion: example.com/v1, kind: Deployment}");
	ck_assert_int_eq(pod_workload_kind(o, &k), -ENOENT);
	json_decref(o);
}
END_TEST

START_TEST(test_pod_alloc_failures)
{
	json_t *obj = tu_yaml("apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: n, labels: {a: b, c: d}}\n"
			      "spec: {serviceAccountName: s, volumes: [{name: v, secret: {secretName: t}}, "
			      "{name: p, projected: {sources: [{serviceAccountToken: {path: t}}, {secret: {name: u}}]}}], "
			      "containers: [{name: c, image: x, env: [{name: e, valueFrom: {secretKeyRef: {name: t, key: k}}}], "
			      "securityContext: {capabilities: {add: [A, B]}}}]}\n");
	long total;
	struct errlist errs;
	struct pod *p = NULL;

	errlist_init(&errs, 0);
	pg_alloc_fail_at(1L << 40);
	ck_assert_int_eq(pod_from_object(obj, "default", &errs, &p), 0);
	total = pg_alloc_count();
	pod_free(p);
	for (long i = 0; i < total; i++) {
		p = NULL;
		pg_alloc_fail_at(i);
		ck_assert_int_eq(pod_from_object(obj, "default", &errs, &p), -ENOMEM);
		pg_alloc_fail_at(-1);
		ck_assert_ptr_null(p);
		errlist_clear(&errs);
	}
	errlist_free(&errs);
	json_decref(obj);
}
END_TEST

int main(void)
{
	Suite *sel = suite_create("selector"), *img = suite_create("image"), *pod = suite_create("pod");
	TCase *t1 = tcase_create("main"), *t2 = tcase_create("main"), *t3 = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(t1, test_selector_table, 0, (int)(sizeof(scases) / sizeof(scases[0])));
	tcase_add_loop_test(t2, test_image_normalize, 0, (int)(sizeof(norm_cases) / sizeof(norm_cases[0])));
	tcase_add_test(t2, test_image_invalid);
	tcase_add_test(t2, test_image_patterns);
	tcase_add_test(t3, test_pod_fields);
	tcase_add_test(t3, test_pod_errors);
	tcase_add_test(t3, test_pod_kinds);
	tcase_add_test(t3, test_pod_alloc_failures);
	suite_add_tcase(sel, t1);
	suite_add_tcase(img, t2);
	suite_add_tcase(pod, t3);
	sr = srunner_create(sel);
	srunner_add_suite(sr, img);
	srunner_add_suite(sr, pod);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
