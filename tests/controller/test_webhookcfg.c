/* test_webhookcfg.c - arming the webhook configuration (webhookcfg.h),
 * the pure half: each webhook's state from the configuration and its
 * annotation, the caps on both, the armed webhooks keeping everything
 * else (a cert-manager caBundle), and which EndpointSlice endpoint is
 * ready. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "webhookcfg.h"

#define RULES "[{\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"operations\":[\"CREATE\"]," \
	      "\"resources\":[\"pods\"],\"scope\":\"Namespaced\"}]"
#define SEL(vals) "{\"matchExpressions\":[{\"key\":\"kubernetes.io/metadata.name\"," \
		  "\"operator\":\"NotIn\",\"values\":" vals "}]}"
#define SAFE SEL("[\"kube-system\",\"pg\"]")

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	ck_assert_msg(j != NULL, "bad test JSON: %s: %s", e.text, text);
	return j;
}

/* A configuration with webhooks given as JSON texts and the annotation
 * @ann (NULL: none). */
static json_t *vwc(const char *ann, const char *const *hooks, size_t n)
{
	json_t *v = parse("{\"metadata\":{\"name\":\"profileguard\",\"resourceVersion\":\"7\"},"
			  "\"webhooks\":[]}");

	if (ann)
		json_object_set_new(json_object_get(v, "metadata"), "annotations",
				    json_pack("{s:s}", WEBHOOKCFG_ANNOTATION, ann));
	for (size_t i = 0; i < n; i++)
		json_array_append_new(json_object_get(v, "webhooks"), parse(hooks[i]));
	return v;
}

static const char hook_unarmed[] =
	"{\"name\":\"pods.profileguard.io\",\"failurePolicy\":\"Fail\",\"namespaceSelector\":" SAFE
	",\"clientConfig\":{\"service\":{\"name\":\"pg-webhook\",\"namespace\":\"pg\","
	"\"port\":443},\"caBundle\":\"Q0E=\"}}";

START_TEST(states)
{
	const char *hooks[] = {
		hook_unarmed,
		/* armed: same rules, scope defaulted by the API server when the
		 * annotation leaves it out */
		"{\"name\":\"b\",\"namespaceSelector\":" SAFE ",\"rules\":[{\"apiGroups\":[\"\"],"
		"\"apiVersions\":[\"v1\"],\"operations\":[\"CREATE\"],\"resources\":[\"pods\"],"
		"\"scope\":\"*\"}]}",
		/* armed with other rules: resynced */
		"{\"name\":\"c\",\"namespaceSelector\":" SAFE ",\"rules\":" RULES "}",
		/* Fail that would judge kube-system */
		"{\"name\":\"d\",\"namespaceSelector\":" SEL("[\"pg\"]") "}",
		/* would judge the controller's own namespace, even with Ignore */
		"{\"name\":\"e\",\"failurePolicy\":\"Ignore\",\"namespaceSelector\":"
		SEL("[\"kube-system\"]") "}",
		/* Ignore may judge kube-system */
		"{\"name\":\"f\",\"failurePolicy\":\"Ignore\",\"namespaceSelector\":" SEL("[\"pg\"]")
		",\"rules\":[]}",
		/* not in the annotation */
		"{\"name\":\"g\"}",
		/* no rules wanted, none there (the API server drops an empty list) */
		"{\"name\":\"h\",\"namespaceSelector\":" SAFE "}",
	};
	const char *ann = "{\"pods.profileguard.io\":" RULES ",\"b\":[{\"apiGroups\":[\"\"],"
			  "\"apiVersions\":[\"v1\"],\"operations\":[\"CREATE\"],\"resources\":"
			  "[\"pods\"]}],\"c\":[],\"d\":" RULES ",\"e\":" RULES ",\"f\":" RULES
			  ",\"h\":[]}";
	struct webhookcfg_plan p;
	char err[256] = "";
	json_t *v = vwc(ann, hooks, 8);

	ck_assert_int_eq(webhookcfg_plan(v, "pg", &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.nhooks, 8);
	ck_assert_int_eq(p.hooks[0].state, WEBHOOKCFG_UNARMED);
	ck_assert_str_eq(p.hooks[0].svc_name, "pg-webhook");
	ck_assert_str_eq(p.hooks[0].svc_ns, "pg");
	ck_assert_str_eq(p.hooks[0].ca_bundle, "Q0E=");
	ck_assert_int_eq(p.hooks[1].state, WEBHOOKCFG_ARMED);
	ck_assert_int_eq(p.hooks[2].state, WEBHOOKCFG_RESYNC);
	ck_assert_int_eq(p.hooks[3].state, WEBHOOKCFG_UNSAFE);
	ck_assert_ptr_nonnull(strstr(p.hooks[3].why, "kube-system"));
	ck_assert_int_eq(p.hooks[4].state, WEBHOOKCFG_UNSAFE);
	ck_assert_ptr_nonnull(strstr(p.hooks[4].why, "controller's namespace"));
	ck_assert_int_eq(p.hooks[5].state, WEBHOOKCFG_UNARMED);
	ck_assert_int_eq(p.hooks[6].state, WEBHOOKCFG_UNMANAGED);
	ck_assert_ptr_null(p.hooks[6].svc_name);
	ck_assert_int_eq(p.hooks[7].state, WEBHOOKCFG_ARMED);
	webhookcfg_plan_clear(&p);
	json_decref(v);
}
END_TEST

START_TEST(no_or_bad_annotation)
{
	const char *hooks[] = { hook_unarmed };
	struct webhookcfg_plan p;
	char err[256] = "";
	json_t *v = vwc(NULL, hooks, 1);

	/* No annotation: the configuration is not the controller's to arm. */
	ck_assert_int_eq(webhookcfg_plan(v, "pg", &p, err, sizeof(err)), -ENOENT);
	webhookcfg_plan_clear(&p);
	json_decref(v);

	const char *bad[] = { "[]", "{\"pods.profileguard.io\":{}}", "not json",
			      "{\"pods.profileguard.io\":[1]}", "{\"nosuch\":" RULES "}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		v = vwc(bad[i], hooks, 1);
		err[0] = '\0';
		ck_assert_int_eq(webhookcfg_plan(v, "pg", &p, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, WEBHOOKCFG_ANNOTATION), "%s", err);
		webhookcfg_plan_clear(&p);
		json_decref(v);
	}
}
END_TEST

/* An annotation of exactly @len bytes: the rules padded with a long
 * operation name. */
static char *annotation_of(size_t len)
{
	const char *head = "{\"pods.profileguard.io\":[{\"operations\":[\"";
	const char *tail = "\"]}]}";
	size_t fill = len - strlen(head) - strlen(tail);
	char *s = malloc(len + 1);

	ck_assert_ptr_nonnull(s);

	memcpy(s, head, strlen(head));
	memset(s + strlen(head), 'X', fill);
	memcpy(s + strlen(head) + fill, tail, strlen(tail) + 1);
	ck_assert_uint_eq(strlen(s), len);
	return s;
}

START_TEST(annotation_cap)
{
	const char *hooks[] = { hook_unarmed };
	struct webhookcfg_plan p;
	char err[256] = "";
	char *at = annotation_of(WEBHOOKCFG_MAX_ANNOTATION);
	char *past = annotation_of(WEBHOOKCFG_MAX_ANNOTATION + 1);
	json_t *v = vwc(at, hooks, 1);

	ck_assert_int_eq(webhookcfg_plan(v, "pg", &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.hooks[0].state, WEBHOOKCFG_UNARMED);
	webhookcfg_plan_clear(&p);
	json_decref(v);
	v = vwc(past, hooks, 1);
	ck_assert_int_eq(webhookcfg_plan(v, "pg", &p, err, sizeof(err)), -E2BIG);
	ck_assert_msg(strstr(err, "over the cap of 16384"), "%s", err);
	webhookcfg_plan_clear(&p);
	json_decref(v);
	free(at);
	free(past);
}
END_TEST

START_TEST(hooks_cap)
{
	const char *hooks[WEBHOOKCFG_MAX_HOOKS + 1];
	char names[WEBHOOKCFG_MAX_HOOKS + 1][64];
	struct webhookcfg_plan p;
	char err[256] = "";
	json_t *v;

	for (size_t i = 0; i <= WEBHOOKCFG_MAX_HOOKS; i++) {
		snprintf(names[i], sizeof(names[i]), "{\"name\":\"h%zu\"}", i);
		hooks[i] = names[i];
	}
	v = vwc("{\"h0\":" RULES "}", hooks, WEBHOOKCFG_MAX_HOOKS);
	ck_assert_int_eq(webhookcfg_plan(v, "pg", &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.nhooks, WEBHOOKCFG_MAX_HOOKS);
	webhookcfg_plan_clear(&p);
	json_decref(v);
	v = vwc("{\"h0\":" RULES "}", hooks, WEBHOOKCFG_MAX_HOOKS + 1);
	ck_assert_int_eq(webhookcfg_plan(v, "pg", &p, err, sizeof(err)), -E2BIG);
	ck_assert_msg(strstr(err, "17 webhooks, over the cap of 16"), "%s", err);
	webhookcfg_plan_clear(&p);
	json_decref(v);
}
END_TEST

START_TEST(armed_hooks_keep_the_rest)
{
	const char *hooks[] = {
		hook_unarmed,
		"{\"name\":\"other\",\"clientConfig\":{\"caBundle\":\"T1RIRVI=\"}}",
	};
	struct webhookcfg_plan p;
	char err[256] = "";
	bool arm[WEBHOOKCFG_MAX_HOOKS] = { true, true };
	json_t *v = vwc("{\"pods.profileguard.io\":" RULES "}", hooks, 2), *out, *want = parse(RULES);

	ck_assert_int_eq(webhookcfg_plan(v, "pg", &p, err, sizeof(err)), 0);
	out = webhookcfg_armed_hooks(v, &p, arm);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(json_array_size(out), 2);
	ck_assert(json_equal(json_object_get(json_array_get(out, 0), "rules"), want));
	/* The caBundle (the controller's or cert-manager's) and the policy stay. */
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
		json_array_get(out, 0), "clientConfig"), "caBundle")), "Q0E=");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(out, 0),
							   "failurePolicy")), "Fail");
	/* A webhook the annotation does not name gets no rules. */
	ck_assert_ptr_null(json_object_get(json_array_get(out, 1), "rules"));
	/* The configuration read is not changed. */
	ck_assert_ptr_null(json_object_get(json_array_get(json_object_get(v, "webhooks"), 0),
					   "rules"));
	json_decref(out);
	webhookcfg_plan_clear(&p);
	json_decref(v);
	json_decref(want);
}
END_TEST

static int endpoint_of(const char *slices, char *addr, int *port)
{
	json_t *j = parse(slices);
	int r = webhookcfg_ready_endpoint(j, addr, 64, port);

	json_decref(j);
	return r;
}

START_TEST(ready_endpoint)
{
	char addr[64];
	int port = 0;

	ck_assert_int_eq(endpoint_of("{\"items\":[]}", addr, &port), -ENOENT);
	/* Not ready, terminating, no address, FQDN, not an IP: none. */
	ck_assert_int_eq(endpoint_of(
		"{\"items\":[{\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"https\",\"port\":8443}],"
		"\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":false}},"
		"{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":true,\"terminating\":true}},"
		"{\"addresses\":[],\"conditions\":{\"ready\":true}},"
		"{\"addresses\":[\"10.0.0.3:1@evil\"],\"conditions\":{\"ready\":true}}]},"
		"{\"addressType\":\"FQDN\",\"ports\":[{\"port\":8443}],"
		"\"endpoints\":[{\"addresses\":[\"a.example\"],\"conditions\":{\"ready\":true}}]}]}",
		addr, &port), -ENOENT);
	/* No ready condition means ready, as the API documents. */
	ck_assert_int_eq(endpoint_of(
		"{\"items\":[{\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"https\",\"port\":8443}],"
		"\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":false}},"
		"{\"addresses\":[\"10.0.0.4\"]}]}]}", addr, &port), 0);
	ck_assert_str_eq(addr, "10.0.0.4");
	ck_assert_int_eq(port, 8443);
	/* Several ports: the one named https; IPv6. */
	ck_assert_int_eq(endpoint_of(
		"{\"items\":[{\"addressType\":\"IPv6\",\"ports\":[{\"name\":\"metrics\",\"port\":8080},"
		"{\"name\":\"https\",\"port\":9443}],\"endpoints\":[{\"addresses\":[\"fd00::5\"],"
		"\"conditions\":{\"ready\":true}}]}]}", addr, &port), 0);
	ck_assert_str_eq(addr, "fd00::5");
	ck_assert_int_eq(port, 9443);
	/* Several ports, none named https: no port to dial. */
	ck_assert_int_eq(endpoint_of(
		"{\"items\":[{\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"a\",\"port\":1},"
		"{\"name\":\"b\",\"port\":2}],\"endpoints\":[{\"addresses\":[\"10.0.0.1\"]}]}]}",
		addr, &port), -ENOENT);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("webhookcfg");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, states);
	tcase_add_test(tc, no_or_bad_annotation);
	tcase_add_test(tc, annotation_cap);
	tcase_add_test(tc, hooks_cap);
	tcase_add_test(tc, armed_hooks_keep_the_rest);
	tcase_add_test(tc, ready_endpoint);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
