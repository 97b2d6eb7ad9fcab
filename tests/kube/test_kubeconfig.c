/* test_kubeconfig.c - kubeconfig and in-cluster config: every field, data
 * against files, relative paths, contexts, and each error naming the file
 * and the field without the secret. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "kube_test.h"
#include "kubeconfig.h"
#include "xalloc.h"

#define SECRET "s3cr3t-t0ken-never-printed"

static const char full_config[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"current-context: main\n"
	"clusters:\n"
	"- name: other\n"
	"  cluster: {server: 'https://other:1'}\n"
	"- name: prod\n"
	"  cluster:\n"
	"    server: https://api.example.com:6443/\n"
	"    certificate-authority-data: Y2EtcGVtCg==\n"
	"    insecure-skip-tls-verify: yes\n"          /* YAML 1.1, as kubectl */
	"contexts:\n"
	"- name: main\n"
	"  context: {cluster: prod, user: admin, namespace: payments}\n"
	"- name: second\n"
	"  context: {cluster: other, user: tok}\n"
	"users:\n"
	"- name: admin\n"
	"  user:\n"
	"    client-certificate-data: Y2VydC1wZW0K\n"
	"    client-key-data: a2V5LXBlbQo=\n"
	"- name: tok\n"
	"  user: {token: " SECRET "}\n";

/* Parses @text as the kubeconfig at @path; returns the errno, with the
 * first message in @msg. */
static int parse(const char *text, const char *path, const char *context,
		 struct kubeconfig **ret, char *msg, size_t n)
{
	struct errlist errs;
	int r;

	errlist_init(&errs, 0);
	*ret = NULL;
	r = kubeconfig_parse(text, strlen(text), path, context, &errs, ret);
	snprintf(msg, n, "%s", errs.n ? errs.msgs[0] : "");
	ck_assert_msg(r == 0 || errs.n == 1, "one message per failure, got %zu", errs.n);
	ck_assert_msg(!strstr(msg, SECRET), "a secret in a message: %s", msg);
	errlist_free(&errs);
	return r;
}

START_TEST(test_every_field)
{
	struct kubeconfig *c;
	char msg[1024];

	ck_assert_int_eq(parse(full_config, "/etc/kc", NULL, &c, msg, sizeof(msg)), 0);
	ck_assert_str_eq(c->server, "https://api.example.com:6443");
	ck_assert_str_eq(c->namespace, "payments");
	ck_assert_str_eq(c->context, "main");
	ck_assert_str_eq(c->source, "/etc/kc");
	ck_assert(c->insecure);
	ck_assert_uint_eq(c->ca_len, 7);
	ck_assert_mem_eq(c->ca_pem, "ca-pem\n", 7);
	ck_assert_mem_eq(c->cert_pem, "cert-pem\n", 9);
	ck_assert_mem_eq(c->key_pem, "key-pem\n", 8);
	ck_assert_ptr_null(c->token);
	ck_assert_ptr_null(c->token_file);
	kubeconfig_free(c);

	/* --context wins over current-context; namespace defaults. */
	ck_assert_int_eq(parse(full_config, "/etc/kc", "second", &c, msg, sizeof(msg)), 0);
	ck_assert_str_eq(c->server, "https://other:1");
	ck_assert_str_eq(c->namespace, "default");
	ck_assert_str_eq(c->token, SECRET);
	ck_assert(!c->insecure);
	ck_assert_ptr_null(c->ca_pem);
	ck_assert_ptr_null(c->cert_pem);
	kubeconfig_free(c);
}
END_TEST

START_TEST(test_files_and_relative_paths)
{
	char *dir = kt_tmpdir();
	char sub[4200], path[4300], expect[4300], msg[1024];
	struct kubeconfig *c;
	struct errlist errs;

	snprintf(sub, sizeof(sub), "%s/kube", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	kt_write(sub, "ca.crt", "file-ca\n");
	kt_write(dir, "client.crt", "file-cert\n");
	kt_write(dir, "client.key", "file-key\n");
	/* Relative paths are read from the kubeconfig's own directory. */
	snprintf(path, sizeof(path), "%s/config", sub);
	kt_write(sub, "config",
		 "current-context: x\n"
		 "clusters: [{name: c, cluster: {server: 'api:443', certificate-authority: ca.crt}}]\n"
		 "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
		 "users: [{name: u, user: {client-certificate: ../client.crt,"
		 " client-key: ../client.key, tokenFile: ./token}}]\n");
	errlist_init(&errs, 0);
	ck_assert_int_eq(kubeconfig_load(path, NULL, &errs, &c), 0);
	ck_assert_str_eq(c->server, "https://api:443");        /* scheme added */
	ck_assert_str_eq(c->ca_pem, "file-ca\n");
	ck_assert_str_eq(c->cert_pem, "file-cert\n");
	ck_assert_str_eq(c->key_pem, "file-key\n");
	snprintf(expect, sizeof(expect), "%s/./token", sub);
	ck_assert_str_eq(c->token_file, expect);
	kubeconfig_free(c);

	/* Data wins over a file, as in client-go, even a missing one. */
	kt_write(sub, "config2",
		 "current-context: x\n"
		 "clusters: [{name: c, cluster: {server: 'https://a', certificate-authority: nope,"
		 " certificate-authority-data: Y2EtcGVtCg==}}]\n"
		 "contexts: [{name: x, context: {cluster: c}}]\n");
	snprintf(path, sizeof(path), "%s/config2", sub);
	ck_assert_int_eq(kubeconfig_load(path, NULL, &errs, &c), 0);
	ck_assert_str_eq(c->ca_pem, "ca-pem\n");
	kubeconfig_free(c);

	/* A named file that is missing: -ENOENT, naming field and path. */
	ck_assert_int_eq(parse("current-context: x\n"
			       "clusters: [{name: c, cluster: {server: 'https://a',"
			       " certificate-authority: /nonexistent/ca.crt}}]\n"
			       "contexts: [{name: x, context: {cluster: c}}]\n",
			       "/k/config", NULL, &c, msg, sizeof(msg)), -ENOENT);
	ck_assert_str_eq(msg, "kubeconfig /k/config: clusters[0].cluster.certificate-authority: "
			 "cannot read /nonexistent/ca.crt: No such file or directory");
	ck_assert_int_eq(errs.n, 0);
	errlist_free(&errs);
	kt_rmrf(dir);
}
END_TEST

struct bad_case {
	const char *yaml;
	const char *context;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ "clusters: []\n", NULL,
	  "kubeconfig /k: current-context: not set, and no --context given" },
	{ "current-context: nope\ncontexts: [{name: x, context: {cluster: c}}]\n", NULL,
	  "kubeconfig /k: contexts: no entry named \"nope\"" },
	{ "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n", "missing",
	  "kubeconfig /k: contexts: no entry named \"missing\"" },
	{ "current-context: x\ncontexts: [{name: x, context: {user: u}}]\n", NULL,
	  "kubeconfig /k: contexts[0].context.cluster: missing" },
	{ "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
	  "clusters: [{name: c, cluster: {}}]\n", NULL,
	  "kubeconfig /k: clusters[0].cluster.server: missing" },
	{ "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
	  "clusters: [{name: c, cluster: {server: 6443}}]\n", NULL,
	  "kubeconfig /k: clusters[0].cluster.server: must be a string" },
	{ "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
	  "clusters: [{name: c, cluster: {server: s, insecure-skip-tls-verify: maybe}}]\n", NULL,
	  "kubeconfig /k: clusters[0].cluster.insecure-skip-tls-verify: must be true or false" },
	{ "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
	  "clusters: [{name: c, cluster: {server: s, certificate-authority-data: '!!!'}}]\n", NULL,
	  "kubeconfig /k: clusters[0].cluster.certificate-authority-data: invalid base64" },
	{ "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
	  "clusters: [{name: c, cluster: {server: s}}]\n"
	  "users: [{name: v, user: {}}, {name: u, user: {client-certificate-data: Y2VydC1wZW0K,"
	  " client-key-data: 'a2V5LXBlbQo=" SECRET "'}}]\n", NULL,
	  "kubeconfig /k: users[1].user.client-key-data: invalid base64" },
	{ "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
	  "clusters: [{name: c, cluster: {server: s}}]\n"
	  "users: [{name: u, user: {client-certificate-data: Y2VydC1wZW0K}}]\n", NULL,
	  "kubeconfig /k: users[0].user.client-key: missing (client-certificate and client-key "
	  "go together)" },
	{ "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
	  "clusters: [{name: c, cluster: {server: s}}]\n"
	  "users: [{name: u, user: {exec: {command: aws}}}]\n", NULL,
	  "kubeconfig /k: users[0].user.exec: not supported: use a token, tokenFile or a client "
	  "certificate" },
	{ "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: nobody}}]\n"
	  "clusters: [{name: c, cluster: {server: s}}]\nusers: []\n", NULL,
	  "kubeconfig /k: users: no entry named \"nobody\"" },
	{ "current-context: x\ncontexts: {x: y}\n", NULL,
	  "kubeconfig /k: contexts: must be a list" },
	{ "current-context: x\ncontexts: [{context: {}}]\n", NULL,
	  "kubeconfig /k: contexts[0].name: must be a string" },
	{ "- a\n- b\n", NULL, "kubeconfig /k: not a kubeconfig (expected a mapping)" },
	{ "current-context: [unclosed\n", NULL, NULL },    /* any YAML error, with a line */
	{ "token: " SECRET "\n\tbad: [\n", NULL, NULL },
};

START_TEST(test_errors_name_file_and_field)
{
	const struct bad_case *bc = &bad_cases[_i];
	struct kubeconfig *c;
	char msg[1024];
	int r;

	r = parse(bc->yaml, "/k", bc->context, &c, msg, sizeof(msg));
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_ptr_null(c);
	if (bc->msg)
		ck_assert_str_eq(msg, bc->msg);
	else
		ck_assert_msg(strncmp(msg, "kubeconfig /k: line ", 20) == 0, "got: %s", msg);
}
END_TEST

START_TEST(test_base64_forms)
{
	struct kubeconfig *c;
	char msg[1024];
	/* Wrapped base64 (as some tools write it) decodes; a bad length and
	 * stray padding do not. */
	static const char good[] =
		"current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
		"clusters: [{name: c, cluster: {server: s, certificate-authority-data: \"Y2Et\\ncGVtCg==\"}}]\n";
	static const char *const bad[] = { "Y2EtcGVtCg=", "Y2E=cGVtCg==", "Y2EtcGVtCg===", "====" };

	ck_assert_int_eq(parse(good, "/k", NULL, &c, msg, sizeof(msg)), 0);
	ck_assert_str_eq(c->ca_pem, "ca-pem\n");
	kubeconfig_free(c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[512];

		snprintf(yaml, sizeof(yaml), "current-context: x\n"
			 "contexts: [{name: x, context: {cluster: c}}]\n"
			 "clusters: [{name: c, cluster: {server: s, certificate-authority-data: '%s'}}]\n",
			 bad[i]);
		ck_assert_int_eq(parse(yaml, "/k", NULL, &c, msg, sizeof(msg)), -EINVAL);
		ck_assert_str_eq(msg, "kubeconfig /k: clusters[0].cluster.certificate-authority-data: "
				 "invalid base64");
	}
}
END_TEST

START_TEST(test_parse_alloc_failures)
{
	/* Every allocation fails in turn: each failure is -ENOMEM with
	 * nothing leaked (ASan checks), and the run ends in success. */
	for (long n = 0;; n++) {
		struct kubeconfig *c = NULL;
		struct errlist errs;
		int r;

		errlist_init(&errs, 0);
		pg_alloc_fail_at(n);
		r = kubeconfig_parse(full_config, strlen(full_config), "/k", NULL, &errs, &c);
		pg_alloc_fail_at(-1);
		errlist_free(&errs);
		if (r == 0) {
			ck_assert_str_eq(c->server, "https://api.example.com:6443");
			kubeconfig_free(c);
			break;
		}
		ck_assert_msg(r == -ENOMEM || r == -EINVAL, "n=%ld: %d", n, r);
		ck_assert_ptr_null(c);
		ck_assert_int_lt(n, 100000);
	}
}
END_TEST

START_TEST(test_in_cluster)
{
	char *dir = kt_tmpdir();
	struct kubeconfig *c = NULL;
	struct errlist errs;
	char tok[4200];

	errlist_init(&errs, 0);
	/* Not in a cluster: -ENOENT and no message (resolve adds one). */
	ck_assert_int_eq(kubeconfig_in_cluster(NULL, "443", dir, &errs, &c), -ENOENT);
	ck_assert_int_eq(kubeconfig_in_cluster("10.0.0.1", "", dir, &errs, &c), -ENOENT);
	ck_assert_uint_eq(errs.n, 0);

	/* No ca.crt yet. */
	ck_assert_int_eq(kubeconfig_in_cluster("10.0.0.1", "443", dir, &errs, &c), -ENOENT);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.msgs[0], "/ca.crt: No such file"));
	errlist_clear(&errs);
	kt_write(dir, "ca.crt", "cluster-ca\n");
	/* No token file. */
	ck_assert_int_eq(kubeconfig_in_cluster("10.0.0.1", "443", dir, &errs, &c), -ENOENT);
	ck_assert_ptr_nonnull(strstr(errs.msgs[0], "/token: No such file"));
	errlist_clear(&errs);
	kt_write(dir, "token", SECRET "\n");

	ck_assert_int_eq(kubeconfig_in_cluster("10.0.0.1", "443", dir, &errs, &c), 0);
	ck_assert_str_eq(c->server, "https://10.0.0.1:443");
	ck_assert_str_eq(c->ca_pem, "cluster-ca\n");
	snprintf(tok, sizeof(tok), "%s/token", dir);
	ck_assert_str_eq(c->token_file, tok);
	ck_assert_ptr_null(c->token);           /* read by the client, when needed */
	ck_assert_str_eq(c->namespace, "default");
	ck_assert_str_eq(c->source, "in-cluster");
	c = kubeconfig_free(c);

	kt_write(dir, "namespace", "profileguard\n");
	ck_assert_int_eq(kubeconfig_in_cluster("fd00::1", "6443", dir, &errs, &c), 0);
	ck_assert_str_eq(c->server, "https://[fd00::1]:6443");
	ck_assert_str_eq(c->namespace, "profileguard");
	c = kubeconfig_free(c);
	ck_assert_int_eq(kubeconfig_in_cluster("[fd00::1]", "443", dir, &errs, &c), 0);
	ck_assert_str_eq(c->server, "https://[fd00::1]:443");
	c = kubeconfig_free(c);

	ck_assert_int_eq(kubeconfig_in_cluster("h", "https", dir, &errs, &c), -EINVAL);
	ck_assert_str_eq(errs.msgs[0], "in-cluster config: KUBERNETES_SERVICE_PORT: \"https\" is "
			 "not a port");
	errlist_free(&errs);
	kt_rmrf(dir);
}
END_TEST

START_TEST(test_resolve_order)
{
	char *dir = kt_tmpdir();
	char a[4200], b[4200], env[16384];
	struct kubeconfig *c = NULL;
	struct errlist errs;
	static const char cfg_a[] = "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
				    "clusters: [{name: c, cluster: {server: 'https://a'}}]\n";
	static const char cfg_b[] = "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
				    "clusters: [{name: c, cluster: {server: 'https://b'}}]\n";

	kt_write(dir, "a", cfg_a);
	kt_write(dir, "b", cfg_b);
	kt_write(dir, "ca.crt", "ca\n");
	kt_write(dir, "token", "t\n");
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	errlist_init(&errs, 0);
	setenv("KUBERNETES_SERVICE_HOST", "10.9.9.9", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);

	/* The flag first. */
	snprintf(env, sizeof(env), "%s", b);
	setenv("KUBECONFIG", env, 1);
	ck_assert_int_eq(kubeconfig_resolve(a, NULL, dir, &errs, &c), 0);
	ck_assert_str_eq(c->server, "https://a");
	c = kubeconfig_free(c);
	/* Then the first existing file of $KUBECONFIG. */
	snprintf(env, sizeof(env), "%s/missing::%s:%s", dir, b, a);
	setenv("KUBECONFIG", env, 1);
	ck_assert_int_eq(kubeconfig_resolve(NULL, NULL, dir, &errs, &c), 0);
	ck_assert_str_eq(c->server, "https://b");
	c = kubeconfig_free(c);
	/* A $KUBECONFIG whose files are all missing is an error, not a
	 * silent fall-through to in-cluster. */
	snprintf(env, sizeof(env), "%s/missing", dir);
	setenv("KUBECONFIG", env, 1);
	ck_assert_int_eq(kubeconfig_resolve(NULL, NULL, dir, &errs, &c), -ENOENT);
	ck_assert_ptr_nonnull(strstr(errs.msgs[0], "(from $KUBECONFIG)"));
	errlist_clear(&errs);
	/* Then in-cluster. */
	unsetenv("KUBECONFIG");
	ck_assert_int_eq(kubeconfig_resolve(NULL, NULL, dir, &errs, &c), 0);
	ck_assert_str_eq(c->server, "https://10.9.9.9:443");
	c = kubeconfig_free(c);
	/* Nothing at all. */
	unsetenv("KUBERNETES_SERVICE_HOST");
	ck_assert_int_eq(kubeconfig_resolve(NULL, NULL, dir, &errs, &c), -ENOENT);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.msgs[0], "no Kubernetes API configured"));
	errlist_clear(&errs);
	/* A missing --kubeconfig names itself. */
	ck_assert_int_eq(kubeconfig_resolve("/nonexistent/kc", NULL, dir, &errs, &c), -ENOENT);
	ck_assert_str_eq(errs.msgs[0], "kubeconfig /nonexistent/kc: No such file or directory");
	errlist_free(&errs);
	unsetenv("KUBERNETES_SERVICE_PORT");
	kt_rmrf(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kubeconfig");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_every_field);
	tcase_add_test(tc, test_files_and_relative_paths);
	tcase_add_loop_test(tc, test_errors_name_file_and_field, 0,
			    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_base64_forms);
	tcase_add_test(tc, test_parse_alloc_failures);
	tcase_add_test(tc, test_in_cluster);
	tcase_add_test(tc, test_resolve_order);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
