/* test_crd.c - the CRD's schema and the validator describe the same
 * resource: every field the schema declares is accepted by profile_parse
 * with a value the schema allows, every field of a full profile is in the
 * schema, enums agree, and the schema is closed (no preserved unknowns). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "../lib/testutil.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif

static json_t *crd;

static int keep_first(void *ud, size_t index, json_t *doc)
{
	json_t **ret = ud;

	if (!*ret)
		*ret = json_incref(doc);
	return 0;
}

static json_t *spec_schema(void)
{
	json_t *v = json_array_get(json_object_get(json_object_get(crd, "spec"), "versions"), 0);

	v = json_object_get(json_object_get(v, "schema"), "openAPIV3Schema");
	return json_object_get(json_object_get(v, "properties"), "spec");
}

static void setup(void)
{
	char *data;
	size_t len;
	struct doc_error err;

	ck_assert_int_eq(doc_read_file(SOURCE_ROOT "/crds/workloadprofile.yaml", 1 << 20, &data, &len), 0);
	crd = NULL;
	ck_assert_int_eq(doc_parse(data, len, NULL, keep_first, &crd, &err), 0);
	ck_assert_ptr_nonnull(crd);
	free(data);
}

static void teardown(void)
{
	json_decref(crd);
}

/* A value the schema allows at @s: enum[0], minimum, an item, ... */
static json_t *sample(json_t *s, const char *name)
{
	const char *type = json_string_value(json_object_get(s, "type"));
	json_t *en = json_object_get(s, "enum");

	if (json_array_size(en))
		return json_deep_copy(json_array_get(en, 0));
	if (!type)
		return json_string("x");
	if (!strcmp(type, "integer")) {
		json_t *min = json_object_get(s, "minimum");

		return json_integer(json_is_integer(min) ? json_integer_value(min) : 1);
	}
	if (!strcmp(type, "boolean"))
		return json_true();
	if (!strcmp(type, "array")) {
		json_t *arr = json_array();

		json_array_append_new(arr, sample(json_object_get(s, "items"), name));
		return arr;
	}
	if (!strcmp(type, "object")) {
		json_t *obj = json_object();
		json_t *props = json_object_get(s, "properties"), *p;
		const char *k;

		json_object_foreach(props, k, p)
			json_object_set_new(obj, k, sample(p, k));
		return obj;
	}
	/* strings: something every pattern of ours accepts */
	if (!strcmp(name, "cidr"))
		return json_string("10.0.0.0/8");
	if (strstr(name, "Capabilit"))
		return json_string("NET_ADMIN");
	if (strstr(name, "HostPath") || !strcmp(name, "executables") || !strcmp(name, "read") ||
	    !strcmp(name, "write"))
		return json_string("/x");
	if (!strcmp(name, "resources"))
		return json_string("apps/deployments");
	return json_string("abc");
}

START_TEST(test_schema_fields_accepted)
{
	json_t *spec = sample(spec_schema(), "spec");
	json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "profileguard.io/v1alpha1",
				"kind", "WorkloadProfile", "metadata", "name", "p", "namespace", "ns",
				"spec", spec);
	struct errlist errs;
	int r;

	/* The sampled selector has both parts filled and is valid. */
	errlist_init(&errs, 0);
	r = profile_parse(tu_jv(obj), "default", &errs, NULL);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "validator refused a schema field: %s\n", errs.msgs[i]);
	ck_assert_int_eq(r, 0);
	errlist_free(&errs);
	json_decref(obj);
}
END_TEST

/* Every key of @v (a profile fragment) exists in schema @s. */
static void in_schema(json_t *v, json_t *s, const char *path)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			in_schema(x, json_object_get(s, "items"), path);
		return;
	}
	if (!json_is_object(v))
		return;
	ck_assert_msg(!json_is_true(json_object_get(s, "x-kubernetes-preserve-unknown-fields")),
		      "%s preserves unknown fields", path);
	json_object_foreach(v, k, x) {
		json_t *props = json_object_get(s, "properties");
		json_t *add = json_object_get(s, "additionalProperties");
		json_t *sub = json_object_get(props, k);
		char p[512];

		snprintf(p, sizeof(p), "%s.%s", path, k);
		if (!sub && add)
			sub = add;
		ck_assert_msg(sub != NULL, "%s is not in the CRD schema", p);
		in_schema(x, sub, p);
	}
}

START_TEST(test_full_profile_in_schema)
{
	json_t *full = tu_yaml(
		"selector: {matchLabels: {app: a}, matchExpressions: [{key: k, operator: In, values: [v]}]}\n"
		"mode: Enforce\n"
		"identity: {serviceAccountNames: [a], bindServiceAccounts: true, tokenAutomount: Allow, maxTokenExpirationSeconds: 3607,\n"
		"  extendedTokens: Allow, legacyTokenSecrets: Forbid, maxTokenAgeSeconds: 86400}\n"
		"images: {allow: [x], requireDigest: true}\n"
		"privileges: {privileged: Forbid, privilegeEscalation: Forbid, hostNamespaces: Forbid,\n"
		"  runAsNonRoot: Require, allowedCapabilities: [NET_BIND_SERVICE], allowedHostPaths: [/x]}\n"
		"runtime: {executables: [/x], egress: [{cidr: 10.0.0.0/8, ports: [1]}], files: {read: [/x], write: [/y]},\n"
		"  kubernetesAPI: [{verbs: [get], resources: [configmaps], resourceNames: [a]}], maxAPICallsPerMinute: 1}\n"
		"response: {action: Delete, gracePeriodSeconds: 0}\n");

	in_schema(full, spec_schema(), "spec");
	json_decref(full);
}
END_TEST

START_TEST(test_enums_agree)
{
	static const struct {
		const char *path[4];
		const char *values;
	} enums[] = {
		{ { "mode" }, "Enforce,Audit" },
		{ { "identity", "tokenAutomount" }, "Allow,Forbid" },
		{ { "identity", "legacyTokenSecrets" }, "Allow,Forbid" },
		{ { "privileges", "runAsNonRoot" }, "Any,Require" },
		{ { "response", "action" }, "Delete,Evict,None" },
	};

	for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
		json_t *s = spec_schema(), *en, *x;
		char got[256] = "", want[256];
		size_t j, len = 0;

		for (int d = 0; d < 4 && enums[i].path[d]; d++)
			s = json_object_get(json_object_get(s, "properties"), enums[i].path[d]);
		en = json_object_get(s, "enum");
		ck_assert_msg(json_array_size(en), "%s has no enum", enums[i].path[0]);
		json_array_foreach(en, j, x) {
			char prof[512];
			struct profile *p;

			len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s", j ? "," : "",
						json_string_value(x));
			/* and the validator takes each value */
			if (enums[i].path[1])
				snprintf(prof, sizeof(prof), "%s: {%s: %s}", enums[i].path[0], enums[i].path[1],
					 json_string_value(x));
			else
				snprintf(prof, sizeof(prof), "%s: %s", enums[i].path[0], json_string_value(x));
			p = tu_profile(prof);
			profile_free(p);
		}
		snprintf(want, sizeof(want), "%s", enums[i].values);
		/* order-insensitive: both sorted by the comparisons below */
		for (char *save = NULL, *t = strtok_r(want, ",", &save); t; t = strtok_r(NULL, ",", &save))
			ck_assert_msg(strstr(got, t), "enum %s lacks %s (has %s)", enums[i].path[0], t, got);
	}
}
END_TEST

START_TEST(test_names_and_columns)
{
	json_t *names = json_object_get(json_object_get(crd, "spec"), "names");
	json_t *v = json_array_get(json_object_get(json_object_get(crd, "spec"), "versions"), 0);
	json_t *cols = json_object_get(v, "additionalPrinterColumns"), *c;
	static const char *const want[] = { "MODE", "ACTION", "PODS", "VIOLATIONS", "AGE" };
	size_t i;

	ck_assert_str_eq(json_string_value(json_object_get(names, "plural")), "workloadprofiles");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(names, "shortNames"), 0)), "wp");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(crd, "spec"), "scope")), "Namespaced");
	ck_assert(json_is_object(json_object_get(json_object_get(v, "subresources"), "status")));
	ck_assert_uint_eq(json_array_size(cols), 5);
	json_array_foreach(cols, i, c)
		ck_assert_str_eq(json_string_value(json_object_get(c, "name")), want[i]);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cols, 2), "jsonPath")), ".status.matchedPods");
}
END_TEST

/* The API server fills in what the schema defaults, so a default there
 * and the validator's reading of an absent field must be the same: mode
 * defaults to Audit in both (SPEC §2), and no other field has a default
 * (an absent rule constrains nothing). */
static void defaults_in(json_t *s, const char *path, char *out, size_t n)
{
	json_t *props = json_object_get(s, "properties"), *p;
	const char *k;
	char sub[512];

	if (json_object_get(s, "default")) {
		size_t len = strlen(out);

		snprintf(out + len, n - len, "%s%s", len ? "," : "", path);
	}
	json_object_foreach(props, k, p) {
		snprintf(sub, sizeof(sub), "%s.%s", path, k);
		defaults_in(p, sub, out, n);
	}
	if (json_object_get(s, "items"))
		defaults_in(json_object_get(s, "items"), path, out, n);
}

START_TEST(test_mode_default_agrees)
{
	json_t *mode = json_object_get(json_object_get(spec_schema(), "properties"), "mode");
	struct profile *p = tu_profile("");
	char found[1024] = "";

	ck_assert_str_eq(json_string_value(json_object_get(mode, "default")), "Audit");
	ck_assert_str_eq(mode_name(p->mode), "Audit");
	profile_free(p);
	defaults_in(spec_schema(), "spec", found, sizeof(found));
	ck_assert_str_eq(found, "spec.mode");
}
END_TEST

/* The controller records the last valid generation in status (SPEC §2):
 * without these in the schema the API server would prune them, and a
 * restart while a profile is invalid would enforce nothing of it.  The
 * spec is kept whole (unknown fields preserved): it is validated when it
 * is read back, as the spec is. */
START_TEST(test_status_records_enforced_spec)
{
	json_t *v = json_array_get(json_object_get(json_object_get(crd, "spec"), "versions"), 0);
	json_t *props;

	v = json_object_get(json_object_get(v, "schema"), "openAPIV3Schema");
	props = json_object_get(json_object_get(json_object_get(v, "properties"), "status"), "properties");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(props, "enforcedGeneration"), "type")),
			 "integer");
	v = json_object_get(props, "enforcedSpec");
	ck_assert_str_eq(json_string_value(json_object_get(v, "type")), "object");
	ck_assert(json_is_true(json_object_get(v, "x-kubernetes-preserve-unknown-fields")));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("crd");
	TCase *tc = tcase_create("crd");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_schema_fields_accepted);
	tcase_add_test(tc, test_full_profile_in_schema);
	tcase_add_test(tc, test_enums_agree);
	tcase_add_test(tc, test_names_and_columns);
	tcase_add_test(tc, test_mode_default_agrees);
	tcase_add_test(tc, test_status_records_enforced_spec);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
