/* test_admission.c - AdmissionReview parsing, judgement and response bytes:
 * allowed, denied with the engine's exact messages, warnings, every
 * template kind, ephemeral containers, updates, skips, malformed input,
 * WorkloadProfile validation, and every allocation failing in turn. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "manifest.h"
#include "strutil.h"
#include "../lib/testutil.h"
#include "xalloc.h"

static struct profile_set examples;

static int add_profile(void *ud, const struct manifest_origin *o, const struct jval *obj)
{
	struct errlist errs;
	struct profile *p = NULL;

	if (!str_eq(jval_str(jval_get(obj, "kind")), "WorkloadProfile"))
		return 0;
	errlist_init(&errs, 0);
	ck_assert_int_eq(profile_parse(obj, "default", &errs, &p), 0);
	errlist_free(&errs);
	return profile_set_add(ud, p);
}

static void load_examples(void)
{
	const char *src = getenv("PG_SRCDIR");
	struct errlist errs;
	char path[4096];

	ck_assert_ptr_nonnull(src);
	snprintf(path, sizeof(path), "%s/examples/profiles", src);
	profile_set_init(&examples);
	errlist_init(&errs, 0);
	ck_assert_int_eq(manifest_walk(path, add_profile, &examples, &errs), 0);
	ck_assert_uint_eq(errs.n, 0);
	errlist_free(&errs);
	ck_assert_uint_eq(examples.n, 5);
}

static void free_examples(void)
{
	profile_set_free(&examples);
}

/* A review around @obj_yaml (and @old_yaml), serialised. */
static char *review_text(const char *op, const char *subres, const char *ns, const char *obj_yaml,
			 const char *old_yaml)
{
	json_t *req, *rv;
	char *s;

	req = json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:s, s:s, s:{s:s}}",
			"uid", "705ab4f5-6393-11e8-b7cc-42010a800002",
			"kind", "group", "", "version", "v1", "kind", "Pod",
			"resource", "group", "", "version", "v1", "resource", "pods",
			"operation", op, "namespace", ns, "userInfo", "username", "alice");
	ck_assert_ptr_nonnull(req);
	if (subres)
		json_object_set_new(req, "subResource", json_string(subres));
	if (obj_yaml)
		json_object_set_new(req, "object", tu_yaml(obj_yaml));
	if (old_yaml)
		json_object_set_new(req, "oldObject", tu_yaml(old_yaml));
	rv = json_pack("{s:s, s:s, s:o}", "apiVersion", "admission.k8s.io/v1", "kind",
		       "AdmissionReview", "request", req);
	s = json_dumps(rv, JSON_COMPACT);
	json_decref(rv);
	return s;
}

static bool ignore_ns(void *ud, const char *ns)
{
	return strcmp(ns, "profileguard-system") == 0 || strcmp(ns, "payments-ignored") == 0;
}

static const struct admission_policy policy = { .profiles = &examples, .ns_ignored = ignore_ns };

/* Judges on /validate/pods and returns the rendered response (malloc'd). */
static char *judge(const char *text, struct admission_response *r)
{
	struct admission_review rv;
	struct buf out = BUF_INIT(1 << 20);
	char err[256];

	ck_assert_msg(admission_review_parse(text, strlen(text), &rv, err, sizeof(err)) == 0, "%s", err);
	admission_response_init(r);
	ck_assert_int_eq(admission_judge_pod(&rv, &policy, r), 0);
	ck_assert_int_eq(admission_response_render(&rv, r, &out), 0);
	admission_review_free(&rv);
	return buf_steal(&out);
}

static char *judge_file_obj(const char *op, const char *ns, const char *yaml, struct admission_response *r)
{
	char *text = review_text(op, NULL, ns, yaml, NULL);
	char *out = judge(text, r);

	free(text);
	return out;
}

static char *read_example(const char *rel)
{
	const char *src = getenv("PG_SRCDIR");
	char path[4096], *data = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", src, rel);
	ck_assert_int_eq(doc_read_file(path, 1 << 20, &data, &len), 0);
	return data;
}

/* A copy of @s with the first @from replaced by @to. */
static char *replace_once(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	size_t head, n;
	char *out;

	ck_assert_ptr_nonnull(p);
	head = (size_t)(p - s);
	n = strlen(s) - strlen(from) + strlen(to);
	out = malloc(n + 1);
	memcpy(out, s, head);
	strcpy(out + head, to);
	strcat(out, p + strlen(from));
	return out;
}

/* ---- parsing ---------------------------------------------------------------- */

START_TEST(parse_fields)
{
	const char *t = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
			"\"request\":{\"uid\":\"u-1\",\"kind\":{\"group\":\"apps\",\"version\":\"v1\",\"kind\":\"Deployment\"},"
			"\"resource\":{\"group\":\"apps\",\"version\":\"v1\",\"resource\":\"deployments\"},"
			"\"namespace\":\"web\",\"name\":\"d\",\"operation\":\"UPDATE\",\"dryRun\":true,"
			"\"userInfo\":{\"username\":\"bob\"},\"object\":{\"a\":1},\"oldObject\":{\"b\":2}}}";
	struct admission_review rv;
	char err[256];

	ck_assert_int_eq(admission_review_parse(t, strlen(t), &rv, err, sizeof(err)), 0);
	ck_assert_str_eq(rv.uid, "u-1");
	ck_assert_int_eq(rv.op, ADM_UPDATE);
	ck_assert_str_eq(rv.kind, "Deployment");
	ck_assert_str_eq(rv.group, "apps");
	ck_assert_str_eq(rv.resource, "deployments");
	ck_assert_str_eq(rv.sub_resource, "");
	ck_assert_str_eq(rv.namespace, "web");
	ck_assert_str_eq(rv.name, "d");
	ck_assert_str_eq(rv.username, "bob");
	ck_assert(rv.dry_run);
	ck_assert_ptr_nonnull(rv.object);
	ck_assert_ptr_nonnull(rv.old_object);
	admission_review_free(&rv);
	admission_review_free(&rv);     /* idempotent */
}
END_TEST

struct bad_case {
	const char *body;
	const char *err;
};

#define RV "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
#define KIND "\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"}"

static const struct bad_case bad_cases[] = {
	{ "", "empty request body" },
	{ "{", "request body is not valid JSON: expected a string key at byte 1" },
	{ "not json at all", "request body is not valid JSON: unexpected token at byte 0" },
	{ "[1,2]", "request body must be a JSON object" },
	{ "{\"apiVersion\":\"v1\",\"kind\":\"AdmissionReview\",\"request\":{}}", "apiVersion must be admission.k8s.io/v1" },
	{ "{\"apiVersion\":7}", "apiVersion must be a string" },
	{ "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\"}", "kind must be AdmissionReview" },
	{ RV "\"request\":null}", "request is missing" },
	{ RV "\"request\":[]}", "request must be an object" },
	{ RV "\"request\":{\"operation\":\"CREATE\"}}", "request.uid is missing" },
	{ RV "\"request\":{\"uid\":\"\"}}", "request.uid is missing" },
	{ RV "\"request\":{\"uid\":5}}", "request.uid must be a string" },
	{ RV "\"request\":{\"uid\":\"u\"}}", "request.operation is missing" },
	{ RV "\"request\":{\"uid\":\"u\",\"operation\":\"PATCH\"}}", "request.operation must be CREATE, UPDATE, DELETE or CONNECT" },
	{ RV "\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\"}}", "request.kind is missing" },
	{ RV "\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\",\"kind\":{}}}", "request.kind.kind is missing" },
	{ RV "\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\"," KIND ",\"namespace\":1}}", "request.namespace must be a string" },
	{ RV "\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\"," KIND "}}", "request.object is missing for CREATE" },
	{ RV "\"request\":{\"uid\":\"u\",\"operation\":\"UPDATE\"," KIND ",\"object\":\"x\"}}", "request.object must be an object" },
	{ RV "\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\"," KIND ",\"object\":{},\"dryRun\":\"yes\"}}", "request.dryRun must be a boolean" },
	{ RV "\"request\":{\"uid\":\"u\",\"uid\":\"v\"}}", "request body is not valid JSON: duplicate key at byte 92" },
	{ RV "\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\"," KIND ",\"userInfo\":{\"username\":[]}}}", "request.userInfo.username must be a string" },
};

START_TEST(parse_malformed)
{
	const struct bad_case *c = &bad_cases[_i];
	struct admission_review rv = { 0 };
	char err[256] = "";

	ck_assert_int_eq(admission_review_parse(c->body, strlen(c->body), &rv, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, c->err);
	ck_assert_ptr_null(rv.root);
}
END_TEST

START_TEST(parse_deep_nesting)
{
	size_t n = 100000;
	char *s = malloc(n * 2 + 1);
	struct admission_review rv;
	char err[256];

	memset(s, '[', n);
	memset(s + n, ']', n);
	s[2 * n] = '\0';
	ck_assert_int_eq(admission_review_parse(s, 2 * n, &rv, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "request body is not valid JSON: nesting too deep at byte 64");
	/* Brackets inside strings do not count. */
	free(s);
	s = review_text("CREATE", NULL, "x", "{apiVersion: v1, kind: Pod, metadata: {name: \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}}", NULL);
	ck_assert_int_eq(admission_review_parse(s, strlen(s), &rv, err, sizeof(err)), 0);
	admission_review_free(&rv);
	free(s);
}
END_TEST

START_TEST(parse_v1beta1_echoed)
{
	const char *t = "{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\","
			"\"request\":{\"uid\":\"a\\\"b\",\"operation\":\"DELETE\"," KIND "}}";
	struct admission_response r;
	char *out = judge(t, &r);

	ck_assert_str_eq(out, "{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\","
			      "\"response\":{\"uid\":\"a\\\"b\",\"allowed\":true}}");
	ck_assert_int_eq(r.verdict, ADM_SKIP_OPERATION);
	admission_response_free(&r);
	pg_free(out);
}
END_TEST

/* ---- pods ------------------------------------------------------------------- */

START_TEST(pod_allowed)
{
	struct admission_response r;
	char *obj = read_example("examples/manifests/good/payments-pod.yaml");
	char *out = judge_file_obj("CREATE", "payments", obj, &r);

	ck_assert(r.allowed);
	ck_assert_int_eq(r.verdict, ADM_JUDGED);
	ck_assert_str_eq(r.kind, "Pod");
	ck_assert_uint_eq(r.nwarnings, 0);
	ck_assert_str_eq(out, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
			      "\"response\":{\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\",\"allowed\":true}}");
	admission_response_free(&r);
	pg_free(out);
	pg_free(obj);
}
END_TEST

START_TEST(pod_denied_exact)
{
	struct admission_response r;
	char *obj = read_example("examples/manifests/bad/payments-latest-image.yaml");
	char *out = judge_file_obj("CREATE", "payments", obj, &r);
	const char *msg =
		"spec.serviceAccountName: \\\"default\\\" (unset) not allowed by payments/payments-api identity.serviceAccountNames; "
		"spec.containers[1].image: \\\"nginx:latest\\\" not allowed by payments/payments-api images.allow; "
		"spec.containers[1].image: \\\"nginx:latest\\\" has no @sha256 digest, one is required by payments/payments-api images.requireDigest";
	char expect[2048];

	ck_assert(!r.allowed);
	ck_assert_int_eq(r.code, 403);
	ck_assert_uint_eq(r.violations, 3);
	ck_assert_str_eq(r.obj_namespace, "payments");
	ck_assert_str_eq(r.obj_name, "payments-api-debug");
	snprintf(expect, sizeof(expect),
		 "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":"
		 "{\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\",\"allowed\":false,\"status\":"
		 "{\"code\":403,\"reason\":\"Forbidden\",\"message\":\"%s\"}}}", msg);
	ck_assert_str_eq(out, expect);
	admission_response_free(&r);
	pg_free(out);
	pg_free(obj);
}
END_TEST

START_TEST(pod_two_profiles)
{
	struct admission_response r;
	char *obj = read_example("examples/manifests/bad/shop-both.yaml");
	char *out = judge_file_obj("CREATE", "shop", obj, &r);

	ck_assert(!r.allowed);
	ck_assert_str_eq(buf_str(&r.message),
			 "spec.serviceAccountName: \"cart-admin\" not allowed by shop/backend-identity identity.serviceAccountNames; "
			 "spec.containers[0].image: \"registry.example.com/shop/cart:1.8.0\" has no @sha256 digest, one is required by shop/cart-images images.requireDigest");
	admission_response_free(&r);
	pg_free(out);
	pg_free(obj);
}
END_TEST

START_TEST(audit_warnings)
{
	struct admission_response r;
	char *obj = read_example("examples/manifests/bad/batch-audit.yaml");
	char *out = judge_file_obj("CREATE", "batch", obj, &r);

	ck_assert(r.allowed);
	ck_assert_str_eq(r.kind, "Job");
	ck_assert_uint_eq(r.nwarnings, 3);
	ck_assert_str_eq(out,
		"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":"
		"{\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\",\"allowed\":true,\"warnings\":["
		"\"spec.template.spec.containers[0].image: \\\"python:3.12-slim\\\" not allowed by batch/batch-jobs images.allow\","
		"\"spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation: unset (defaults to true) forbidden by batch/batch-jobs privileges.privilegeEscalation\","
		"\"spec.template.spec.containers[0].securityContext.capabilities.add[0]: \\\"NET_RAW\\\" not allowed by batch/batch-jobs privileges.allowedCapabilities\"]}}");
	admission_response_free(&r);
	pg_free(out);
	pg_free(obj);
}
END_TEST

/* Every template kind, with the same bad image: the path names the template. */
struct kind_case {
	const char *kind, *api, *wrap_head, *wrap_tail, *path;
};

static const struct kind_case kind_cases[] = {
	{ "Deployment", "apps/v1", "spec: {selector: {matchLabels: {app: frontend}}, template: ", "}", "spec.template.spec" },
	{ "ReplicaSet", "apps/v1", "spec: {template: ", "}", "spec.template.spec" },
	{ "StatefulSet", "apps/v1", "spec: {serviceName: s, template: ", "}", "spec.template.spec" },
	{ "DaemonSet", "apps/v1", "spec: {template: ", "}", "spec.template.spec" },
	{ "Job", "batch/v1", "spec: {template: ", "}", "spec.template.spec" },
	{ "CronJob", "batch/v1", "spec: {schedule: '* * * * *', jobTemplate: {spec: {template: ", "}}}", "spec.jobTemplate.spec.template.spec" },
	{ "ReplicationController", "v1", "spec: {template: ", "}", "spec.template.spec" },
};

START_TEST(template_kinds)
{
	const struct kind_case *k = &kind_cases[_i];
	struct admission_response r;
	char yaml[2048], expect[1024];
	char *out;

	snprintf(yaml, sizeof(yaml),
		 "apiVersion: %s\nkind: %s\nmetadata: {name: t, namespace: web}\n%s"
		 "{metadata: {labels: {app: frontend}}, spec: {automountServiceAccountToken: false,"
		 " securityContext: {runAsNonRoot: true}, containers: [{name: c, image: 'evil.io/x:1'}]}}%s\n",
		 k->api, k->kind, k->wrap_head, k->wrap_tail);
	out = judge_file_obj("CREATE", "web", yaml, &r);
	ck_assert(!r.allowed);
	ck_assert_str_eq(r.kind, k->kind);
	snprintf(expect, sizeof(expect),
		 "%s.containers[0].image: \"evil.io/x:1\" not allowed by web/frontend images.allow", k->path);
	ck_assert_str_eq(buf_str(&r.message), expect);
	admission_response_free(&r);
	pg_free(out);
}
END_TEST

START_TEST(template_token_rule_without_sa_admission)
{
	/* A template that does not turn automount off would get a token; the
	 * same Pod, admitted (SA plugin done, no volume), would not. */
	struct admission_response r;
	char *out;

	out = judge_file_obj("CREATE", "web",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: t, namespace: web}\n"
		"spec: {template: {metadata: {labels: {app: frontend}}, spec: {securityContext: {runAsNonRoot: true},"
		" containers: [{name: c, image: 'nginx:1.27'}]}}}\n", &r);
	ck_assert(!r.allowed);
	ck_assert_str_eq(buf_str(&r.message),
		"spec.template.spec.automountServiceAccountToken: not false, so a service-account token would be mounted, forbidden by web/frontend identity.tokenAutomount");
	admission_response_free(&r);
	pg_free(out);

	out = judge_file_obj("CREATE", "web",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: t, namespace: web, labels: {app: frontend}}\n"
		"spec: {securityContext: {runAsNonRoot: true}, containers: [{name: c, image: 'nginx:1.27'}]}\n", &r);
	ck_assert_msg(r.allowed, "%s", buf_str(&r.message));
	admission_response_free(&r);
	pg_free(out);
}
END_TEST

#define SHOP_POD(extra) \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: cart, namespace: shop, labels: {tier: backend, app: cart}}\n" \
	"spec: {serviceAccountName: cart, automountServiceAccountToken: false, containers: [{name: c, image: " \
	"'registry.example.com/shop/cart@sha256:0000000000000000000000000000000000000000000000000000000000000000'}]" extra "}\n"

START_TEST(ephemeral_containers)
{
	struct admission_response r;
	char *text, *out;

	text = review_text("UPDATE", "ephemeralcontainers", "shop",
			   SHOP_POD(", ephemeralContainers: [{name: debug, image: 'busybox:1.36'}]"),
			   SHOP_POD(""));
	out = judge(text, &r);
	ck_assert(!r.allowed);
	ck_assert_str_eq(buf_str(&r.message),
		"spec.ephemeralContainers[0].image: \"busybox:1.36\" not allowed by shop/cart-images images.allow; "
		"spec.ephemeralContainers[0].image: \"busybox:1.36\" has no @sha256 digest, one is required by shop/cart-images images.requireDigest");
	admission_response_free(&r);
	pg_free(out);
	free(text);

	/* A compliant debug container is fine. */
	text = review_text("UPDATE", "ephemeralcontainers", "shop",
			   SHOP_POD(", ephemeralContainers: [{name: debug, image: 'registry.example.com/shop/debug@sha256:1111111111111111111111111111111111111111111111111111111111111111'}]"),
			   SHOP_POD(""));
	out = judge(text, &r);
	ck_assert(r.allowed);
	ck_assert_int_eq(r.verdict, ADM_JUDGED);
	admission_response_free(&r);
	pg_free(out);
	free(text);
}
END_TEST

#define SHOP_POD_IMAGE(image) \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: cart, namespace: shop, labels: {tier: backend, app: cart}}\n" \
	"spec: {serviceAccountName: cart, automountServiceAccountToken: false, containers: [{name: c, image: '" image "'}]}\n"

#define SHOP_BAD(labels) \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: {" labels "}}\n" \
	"spec: {serviceAccountName: cart-admin, automountServiceAccountToken: false, containers: [{name: c, image: i}]}\n"

START_TEST(update_keeps_preexisting_as_warnings)
{
	/* The pod already broke its profile (it predates it); a label change
	 * is allowed, with the old violations as warnings.  A new violation in
	 * the same update is still denied. */
	struct admission_response r;
	char *text, *out;

	text = review_text("UPDATE", NULL, "shop", SHOP_BAD("tier: backend, app: x, team: t"),
			   SHOP_BAD("tier: backend, app: x"));
	out = judge(text, &r);
	ck_assert(r.allowed);
	ck_assert_uint_eq(r.nwarnings, 1);
	ck_assert_str_eq(r.warnings[0], "spec.serviceAccountName: \"cart-admin\" not allowed by shop/backend-identity identity.serviceAccountNames");
	admission_response_free(&r);
	pg_free(out);
	free(text);

	/* Relabelled into shop/cart-images: its two image rules are new. */
	text = review_text("UPDATE", NULL, "shop", SHOP_BAD("tier: backend, app: cart"),
			   SHOP_BAD("tier: backend, app: x"));
	out = judge(text, &r);
	ck_assert(!r.allowed);
	ck_assert_uint_eq(r.violations, 2);
	ck_assert_uint_eq(r.nwarnings, 1);
	admission_response_free(&r);
	pg_free(out);
	free(text);

	/* CREATE of the same pod: denied. */
	text = review_text("CREATE", NULL, "shop", SHOP_BAD("tier: backend, app: x"), NULL);
	out = judge(text, &r);
	ck_assert(!r.allowed);
	admission_response_free(&r);
	pg_free(out);
	free(text);
}
END_TEST

/* An update that swaps one violating value for another that reads alike
 * in a cut message (the first 240 bytes equal) brings a new violation:
 * findings are compared by what they judged, never by their sentences. */
START_TEST(update_same_prefix_is_new)
{
	struct admission_response r;
	char img_old[400], img_new[400], obj_old[1024], obj_new[1024];
	char *text, *out;

	snprintf(img_old, sizeof(img_old), "evil.example.com/%0300d:1", 0);
	snprintf(img_new, sizeof(img_new), "evil.example.com/%0300d:2", 0);
	snprintf(obj_old, sizeof(obj_old), SHOP_POD_IMAGE("%s"), img_old);
	snprintf(obj_new, sizeof(obj_new), SHOP_POD_IMAGE("%s"), img_new);
	text = review_text("UPDATE", NULL, "shop", obj_new, obj_old);
	out = judge(text, &r);
	ck_assert_msg(!r.allowed, "a new image passed as the old one: %s", out);
	ck_assert_uint_eq(r.violations, 2);
	ck_assert_uint_eq(r.nwarnings, 0);
	admission_response_free(&r);
	pg_free(out);
	free(text);

	/* The same long image again (a label change): warnings only. */
	text = review_text("UPDATE", NULL, "shop", obj_old, obj_old);
	out = judge(text, &r);
	ck_assert(r.allowed);
	ck_assert_uint_eq(r.nwarnings, 2);
	admission_response_free(&r);
	pg_free(out);
	free(text);
}
END_TEST

/* Identity binding at admission: payments/payments-api names the account
 * payments-api, so a pod it does not select may not run as it. */
#define BORROWER(labels, sa) \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: debug, namespace: payments, labels: {" labels "}}\n" \
	"spec: {serviceAccountName: " sa ", containers: [{name: c, image: 'nginx:latest', securityContext: {privileged: true}}]}\n"

START_TEST(borrowed_identity_denied)
{
	struct admission_response r;
	char *text, *out;

	text = review_text("CREATE", NULL, "payments", BORROWER("app: payments-api-debug", "payments-api"), NULL);
	out = judge(text, &r);
	ck_assert(!r.allowed);
	ck_assert_uint_eq(r.violations, 1);
	ck_assert_str_eq(buf_str(&r.message), "spec.serviceAccountName: \"payments-api\" is bound to payments/payments-api "
			 "(identity.bindServiceAccounts); this pod is not selected by it");
	admission_response_free(&r);
	pg_free(out);
	free(text);

	/* Another account: nothing binds it, nothing selects the pod. */
	text = review_text("CREATE", NULL, "payments", BORROWER("app: payments-api-debug", "tools"), NULL);
	out = judge(text, &r);
	ck_assert(r.allowed);
	ck_assert_uint_eq(r.nwarnings, 0);
	admission_response_free(&r);
	pg_free(out);
	free(text);

	/* A Deployment whose template borrows is refused at apply. */
	text = review_text("CREATE", NULL, "payments",
			   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dbg, namespace: payments}\n"
			   "spec: {selector: {matchLabels: {app: dbg}}, template: {metadata: {labels: {app: dbg}}, "
			   "spec: {serviceAccountName: payments-api, containers: [{name: c, image: 'nginx:latest'}]}}}\n", NULL);
	out = judge(text, &r);
	ck_assert(!r.allowed);
	ck_assert_str_eq(buf_str(&r.message), "spec.template.spec.serviceAccountName: \"payments-api\" is bound to "
			 "payments/payments-api (identity.bindServiceAccounts); this pod is not selected by it");
	admission_response_free(&r);
	pg_free(out);
	free(text);

	/* Relabelling a running pod out of its profile while keeping the
	 * account is a new violation of the update. */
	text = review_text("UPDATE", NULL, "payments", BORROWER("app: other", "payments-api"),
			   BORROWER("app: payments-api", "payments-api"));
	out = judge(text, &r);
	ck_assert(!r.allowed);
	ck_assert_ptr_nonnull(strstr(buf_str(&r.message), "is bound to payments/payments-api"));
	admission_response_free(&r);
	pg_free(out);
	free(text);
}
END_TEST

/* Reviews that are let through without a judgement, or judged with no
 * profile to hold them to: the verdict says which.  @obj/@old: YAML or
 * "@path" of an example; "=" for @old repeats @obj. */
struct verdict_case {
	const char *what, *op, *subres, *ns, *obj, *old;
	enum admission_verdict verdict;
	const char *kind;               /* the kind label of the metrics; NULL: not checked */
};

#define TERMINATING_POD "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: {tier: backend}," \
	" deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: []}\n" \
	"spec: {serviceAccountName: cart-admin, containers: [{name: c, image: i}]}\n"
#define BAD_SHOP_POD "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: {tier: backend}}\n" \
	"spec: {serviceAccountName: cart-admin, containers: [{name: c, image: i}]}\n"

static const struct verdict_case verdict_cases[] = {
	{ "an update of a terminating pod", "UPDATE", NULL, "shop", TERMINATING_POD, "=", ADM_SKIP_TERMINATING, "Pod" },
	{ "a delete", "DELETE", NULL, "shop", NULL, BAD_SHOP_POD, ADM_SKIP_OPERATION, NULL },
	{ "pods/exec", "CONNECT", "exec", "shop", "{kind: PodExecOptions, apiVersion: v1, command: [sh]}", NULL,
	  ADM_SKIP_OPERATION, NULL },
	{ "pods/status", "UPDATE", "status", "shop", BAD_SHOP_POD, "=", ADM_SKIP_OPERATION, NULL },
	{ "a Scale", "UPDATE", NULL, "web",
	  "{apiVersion: autoscaling/v1, kind: Scale, metadata: {name: d, namespace: web}, spec: {replicas: 3}}", NULL,
	  ADM_SKIP_KIND, "other" },
	{ "a namespace without profiles", "CREATE", NULL, "misc", "@examples/manifests/good/misc-pod.yaml", NULL,
	  ADM_JUDGED, "Pod" },
};

START_TEST(allowed_verdicts)
{
	const struct verdict_case *c = &verdict_cases[_i];
	char *obj = c->obj && c->obj[0] == '@' ? read_example(c->obj + 1) : NULL;
	const char *o = obj ? obj : c->obj;
	char *text = review_text(c->op, c->subres, c->ns, o, c->old && !strcmp(c->old, "=") ? o : c->old);
	struct admission_response r;
	char *out = judge(text, &r);

	ck_assert_msg(r.allowed, "%s: denied", c->what);
	ck_assert_msg(r.verdict == c->verdict, "%s: verdict %d, want %d", c->what, (int)r.verdict, (int)c->verdict);
	if (c->kind)
		ck_assert_str_eq(r.kind, c->kind);
	admission_response_free(&r);
	pg_free(out);
	free(text);
	pg_free(obj);
}
END_TEST

START_TEST(dry_run_judged)
{
	char *obj = read_example("examples/manifests/bad/payments-privileged.yaml");
	char *plain = review_text("CREATE", NULL, "payments", obj, NULL), *out;
	char *text = replace_once(plain, "\"operation\"", "\"dryRun\":true,\"operation\"");
	struct admission_response r;

	free(plain);
	out = judge(text, &r);
	ck_assert(!r.allowed);
	ck_assert_uint_eq(r.violations, 6);
	admission_response_free(&r);
	pg_free(out);
	free(text);
	pg_free(obj);
}
END_TEST

START_TEST(ignored_namespace)
{
	struct admission_response r;
	char *obj = read_example("examples/manifests/bad/payments-privileged.yaml");
	char *out;

	/* The object's namespace is what is judged and what is skipped. */
	char *moved = replace_once(obj, "namespace: payments\n", "namespace: payments-ignored\n");

	out = judge_file_obj("CREATE", "payments-ignored", moved, &r);
	ck_assert(r.allowed);
	ck_assert_int_eq(r.verdict, ADM_SKIP_NAMESPACE);
	admission_response_free(&r);
	pg_free(out);
	pg_free(obj);
	free(moved);
}
END_TEST

START_TEST(bad_pod_shape)
{
	struct admission_response r;
	char *out;

	out = judge_file_obj("CREATE", "web",
			     "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: web, labels: {app: frontend}}\n"
			     "spec: {containers: {name: c}, hostNetwork: 'yes please'}\n", &r);
	ck_assert(!r.allowed);
	ck_assert_int_eq(r.code, 400);
	ck_assert_str_eq(r.reason, "BadRequest");
	ck_assert_int_eq(r.verdict, ADM_BAD_OBJECT);
	ck_assert_msg(strstr(buf_str(&r.message), "spec.containers: must be a list") != NULL, "%s", buf_str(&r.message));
	ck_assert_msg(strstr(buf_str(&r.message), "spec.hostNetwork: must be true or false") != NULL, "%s", buf_str(&r.message));
	admission_response_free(&r);
	pg_free(out);

	out = judge_file_obj("CREATE", "web", "{metadata: {name: x}}", &r);
	ck_assert(!r.allowed);
	ck_assert_int_eq(r.code, 400);
	ck_assert_str_eq(buf_str(&r.message), "request.object: apiVersion and kind are required");
	admission_response_free(&r);
	pg_free(out);
}
END_TEST

/* ---- warnings cap ------------------------------------------------------------ */

START_TEST(warnings_capped)
{
	struct admission_review rv = { .api_version = "admission.k8s.io/v1", .uid = "u" };
	struct admission_response r;
	struct buf out = BUF_INIT(1 << 20);
	char longmsg[600];
	const char *p;
	json_t *j, *w;

	admission_response_init(&r);
	/* 300 bytes ending in multi-byte characters straddling the cut. */
	memset(longmsg, 'a', 250);
	strcpy(longmsg + 250, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 tail");
	ck_assert_int_eq(admission_response_warn(&r, longmsg), 0);
	for (int i = 1; i < 25; i++) {
		char m[32];

		snprintf(m, sizeof(m), "warning %d", i);
		ck_assert_int_eq(admission_response_warn(&r, m), 0);
	}
	ck_assert_uint_eq(r.warnings_total, 25);
	ck_assert_uint_eq(r.nwarnings, ADMISSION_MAX_WARNINGS);
	ck_assert_uint_le(strlen(r.warnings[0]), ADMISSION_MAX_WARNING_LEN);
	ck_assert(str_has_suffix(r.warnings[0], "\xc3\xa9..."));
	ck_assert_int_eq(admission_response_render(&rv, &r, &out), 0);
	j = json_loads(buf_str(&out), 0, NULL);
	ck_assert_ptr_nonnull(j);      /* still valid UTF-8 */
	w = json_object_get(json_object_get(j, "response"), "warnings");
	ck_assert_uint_eq(json_array_size(w), ADMISSION_MAX_WARNINGS);
	ck_assert_str_eq(json_string_value(json_array_get(w, 18)), "warning 18");
	ck_assert_str_eq(json_string_value(json_array_get(w, 19)), "6 more warnings not shown");
	p = json_string_value(json_array_get(w, 0));
	ck_assert_uint_eq(strlen(p), 255);
	json_decref(j);
	buf_free(&out);
	admission_response_free(&r);
}
END_TEST

START_TEST(error_body)
{
	struct buf out = BUF_INIT(1024);

	ck_assert_int_eq(admission_error_render("request body is \"bad\"", &out), 0);
	ck_assert_str_eq(buf_str(&out), "{\"error\":\"request body is \\\"bad\\\"\"}\n");
	buf_free(&out);
}
END_TEST

/* ---- WorkloadProfiles -------------------------------------------------------- */

static char *judge_profile_text(const char *text, struct admission_response *r)
{
	struct admission_review rv;
	struct buf out = BUF_INIT(1 << 20);
	char err[256];

	ck_assert_msg(admission_review_parse(text, strlen(text), &rv, err, sizeof(err)) == 0, "%s", err);
	admission_response_init(r);
	ck_assert_int_eq(admission_judge_profile(&rv, r), 0);
	ck_assert_int_eq(admission_response_render(&rv, r, &out), 0);
	admission_review_free(&rv);
	return buf_steal(&out);
}

START_TEST(profile_invalid)
{
	char *obj = read_example("examples/broken/bad-profile.yaml");
	char *text = review_text("CREATE", NULL, "payments", obj, NULL);
	struct admission_response r;
	char *out = judge_profile_text(text, &r);

	ck_assert(!r.allowed);
	ck_assert_int_eq(r.code, 422);
	ck_assert_str_eq(r.reason, "Invalid");
	ck_assert_str_eq(r.kind, "WorkloadProfile");
	ck_assert_uint_eq(r.violations, 5);
	ck_assert_str_eq(buf_str(&r.message),
		"spec.selector: an empty selector is refused: select pods with matchLabels or matchExpressions; "
		"spec.mode: \"Enforcing\" must be Enforce or Audit; "
		"spec.identity.serviceAcountNames: unknown field (did you mean \"serviceAccountNames\"?); "
		"spec.runtime.egress[0].ports[1]: 70000 is not a port (1-65535); "
		"spec.runtime.egress[1].cidr: \"10.0.0.0/33\" is not a CIDR");
	admission_response_free(&r);
	pg_free(out);
	free(text);
	pg_free(obj);
}
END_TEST

START_TEST(profile_valid_and_skips)
{
	char *obj = read_example("examples/profiles/payments-api.yaml");
	char *text = review_text("CREATE", NULL, "payments", obj, NULL);
	struct admission_response r;
	char *out = judge_profile_text(text, &r);

	ck_assert(r.allowed);
	ck_assert_int_eq(r.verdict, ADM_JUDGED);
	ck_assert_str_eq(r.obj_name, "payments-api");
	admission_response_free(&r);
	pg_free(out);
	free(text);

	text = review_text("UPDATE", "status", "payments", "{apiVersion: profileguard.io/v1alpha1, kind: WorkloadProfile, spec: {}}", NULL);
	out = judge_profile_text(text, &r);
	ck_assert(r.allowed);
	ck_assert_int_eq(r.verdict, ADM_SKIP_OPERATION);
	admission_response_free(&r);
	pg_free(out);
	free(text);

	text = review_text("DELETE", NULL, "payments", NULL, obj);
	out = judge_profile_text(text, &r);
	ck_assert(r.allowed);
	admission_response_free(&r);
	pg_free(out);
	free(text);

	text = review_text("CREATE", NULL, "payments", "{apiVersion: v1, kind: ConfigMap}", NULL);
	out = judge_profile_text(text, &r);
	ck_assert(r.allowed);
	ck_assert_int_eq(r.verdict, ADM_SKIP_KIND);
	admission_response_free(&r);
	pg_free(out);
	free(text);
	pg_free(obj);
}
END_TEST

/* ---- every allocation failing in turn ----------------------------------------- */

START_TEST(torture)
{
	char *bad = read_example("examples/manifests/bad/payments-legacy-token.yaml");
	char *bp = read_example("examples/broken/bad-profile.yaml");
	char *texts[3];
	int done = 0;

	/* The second document of the legacy-token file is the Pod. */
	texts[0] = review_text("CREATE", NULL, "payments", strstr(bad, "\n---\n") + 5, NULL);
	texts[1] = review_text("UPDATE", NULL, "batch",
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: batch}\n"
		"spec: {template: {metadata: {labels: {app: export}}, spec: {containers: [{name: c, image: 'python:3', securityContext: {capabilities: {add: [NET_RAW]}}}]}}}\n",
		NULL);
	texts[2] = review_text("CREATE", NULL, "payments", bp, NULL);
	for (int t = 0; t < 3; t++) {
		for (long n = 0; n < 100000; n++) {
			struct admission_review rv;
			struct admission_response r;
			struct buf out = BUF_INIT(1 << 20);
			char err[256];
			int e;

			pg_alloc_fail_at(n);
			e = admission_review_parse(texts[t], strlen(texts[t]), &rv, err, sizeof(err));
			if (e == 0) {
				admission_response_init(&r);
				e = t == 2 ? admission_judge_profile(&rv, &r) : admission_judge_pod(&rv, &policy, &r);
				if (e == 0)
					e = admission_response_render(&rv, &r, &out);
				admission_response_free(&r);
				admission_review_free(&rv);
			}
			buf_free(&out);
			pg_alloc_fail_at(-1);
			ck_assert_msg(e == 0 || e == -ENOMEM, "text %d fail at %ld: %d", t, n, e);
			if (e == 0) {
				done++;
				break;
			}
		}
	}
	ck_assert_int_eq(done, 3);
	for (int t = 0; t < 3; t++)
		free(texts[t]);
	pg_free(bad);
	pg_free(bp);
}
END_TEST

/* identity.maxRisk at admission: judged from the account's IdentityReport
 * (the policy's identity_risk); without one, allowed with a warning that
 * says it was not judged. */
static struct risk_result report;

static int report_lookup(void *ud, const char *ns, const char *name, const struct risk_result **ret)
{
	(void)ud;
	if (strcmp(ns, "ns") || strcmp(name, "api"))
		return -ENOENT;
	*ret = &report;
	return 0;
}

START_TEST(max_risk_needs_a_report)
{
	struct profile_set set;
	struct admission_policy pol = { .profiles = &set };
	struct admission_response r;
	struct admission_review rv;
	struct buf out = BUF_INIT(1 << 20);
	char err[256], *text;
	const char *pods[] = { "api", "other" };

	profile_set_init(&set);
	ck_assert_int_eq(profile_set_add(&set, tu_profile("mode: Enforce, identity: {maxRisk: High}")), 0);
	memset(&report, 0, sizeof(report));
	report.level = RISK_CRITICAL;
	report.nfindings = 1;
	report.findings[0].rule = RR_READ_SECRETS;
	snprintf(report.findings[0].grant, sizeof(report.findings[0].grant), "get secrets in ns");
	snprintf(report.findings[0].via, sizeof(report.findings[0].via), "RoleBinding ns/a -> Role ns/a");
	for (int with = 0; with < 2; with++) {
		pol.identity_risk = with ? report_lookup : NULL;
		for (size_t k = 0; k < 2; k++) {
			char yaml[400];

			snprintf(yaml, sizeof(yaml), "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: ns, "
				 "labels: {app: a}}\nspec: {serviceAccountName: %s, containers: [{name: c, image: i}]}\n",
				 pods[k]);
			text = review_text("CREATE", NULL, "ns", yaml, NULL);
			ck_assert_int_eq(admission_review_parse(text, strlen(text), &rv, err, sizeof(err)), 0);
			admission_response_init(&r);
			ck_assert_int_eq(admission_judge_pod(&rv, &pol, &r), 0);
			if (with && k == 0) {
				ck_assert(!r.allowed);
				ck_assert_str_eq(buf_str(&r.message), "spec.serviceAccountName: ServiceAccount \"api\" has "
						 "RBAC risk Critical, above High (read-secrets (Critical): get secrets in ns via "
						 "RoleBinding ns/a -> Role ns/a), not allowed by ns/p identity.maxRisk");
				ck_assert_uint_eq(r.nwarnings, 0);
			} else {
				char want[300];

				ck_assert(r.allowed);
				ck_assert_uint_eq(r.nwarnings, 1);
				snprintf(want, sizeof(want), "spec.serviceAccountName: ServiceAccount \"%s\" has no "
					 "IdentityReport yet, so ns/p identity.maxRisk is not judged", pods[k]);
				ck_assert_str_eq(r.warnings[0], want);
			}
			ck_assert_int_eq(admission_response_render(&rv, &r, &out), 0);
			buf_reset(&out);
			admission_response_free(&r);
			admission_review_free(&rv);
			free(text);
		}
	}
	buf_free(&out);
	profile_set_free(&set);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("admission");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, parse_fields);
	tcase_add_loop_test(tc, parse_malformed, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, parse_deep_nesting);
	tcase_add_test(tc, error_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("pods");
	tcase_add_unchecked_fixture(tc, load_examples, free_examples);
	tcase_add_test(tc, parse_v1beta1_echoed);
	tcase_add_test(tc, pod_allowed);
	tcase_add_test(tc, pod_denied_exact);
	tcase_add_test(tc, pod_two_profiles);
	tcase_add_test(tc, audit_warnings);
	tcase_add_loop_test(tc, template_kinds, 0, (int)(sizeof(kind_cases) / sizeof(kind_cases[0])));
	tcase_add_test(tc, template_token_rule_without_sa_admission);
	tcase_add_test(tc, ephemeral_containers);
	tcase_add_test(tc, update_keeps_preexisting_as_warnings);
	tcase_add_test(tc, update_same_prefix_is_new);
	tcase_add_test(tc, borrowed_identity_denied);
	tcase_add_test(tc, max_risk_needs_a_report);
	tcase_add_loop_test(tc, allowed_verdicts, 0, (int)(sizeof(verdict_cases) / sizeof(verdict_cases[0])));
	tcase_add_test(tc, dry_run_judged);
	tcase_add_test(tc, ignored_namespace);
	tcase_add_test(tc, bad_pod_shape);
	tcase_add_test(tc, warnings_capped);
	tcase_add_test(tc, torture);
	suite_add_tcase(s, tc);

	tc = tcase_create("profiles");
	tcase_add_test(tc, profile_invalid);
	tcase_add_test(tc, profile_valid_and_skips);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	pg_alloc_setup_jansson();
	sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
