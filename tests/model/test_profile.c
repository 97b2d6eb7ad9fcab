/* test_profile.c - WorkloadProfile validation: every error, by field path,
 * all reported at once; and the profile set. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "image.h"
#include "../lib/testutil.h"
#include "xalloc.h"

#define HEAD "apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\nmetadata: {name: p, namespace: ns}\n"
#define SEL "selector: {matchLabels: {app: a}}"

struct vcase {
	const char *yaml;
	const char *expect;     /* "; "-joined errors, "" = valid */
};

static const struct vcase vcases[] = {
	{ HEAD "spec: {" SEL "}", "" },
	{ HEAD "spec: {" SEL ", mode: Audit, response: {action: None, gracePeriodSeconds: 0}}", "" },
	/* the full SPEC §2 example is valid */
	{ HEAD "spec:\n  selector: {matchLabels: {app: payments-api}}\n  mode: Enforce\n"
	  "  identity: {serviceAccountNames: [payments-api], tokenAutomount: Allow, maxTokenExpirationSeconds: 3607,\n"
	  "    extendedTokens: Allow, legacyTokenSecrets: Forbid, maxTokenAgeSeconds: 86400}\n"
	  "  images: {allow: [\"registry.example.com/payments/*\"], requireDigest: true}\n"
	  "  privileges: {privileged: Forbid, privilegeEscalation: Forbid, hostNamespaces: Forbid, runAsNonRoot: Require,\n"
	  "    allowedCapabilities: [NET_BIND_SERVICE], allowedHostPaths: []}\n"
	  "  runtime:\n    executables: [/app/server, /usr/bin/curl]\n"
	  "    egress: [{cidr: 10.0.0.0/8, ports: [5432, 443]}, {cidr: 'fd00::/8'}]\n"
	  "    files: {read: [\"/etc/ssl/*\", \"/app/*\"], write: [\"/tmp/*\"]}\n"
	  "    kubernetesAPI: [{verbs: [get, list, watch], resources: [configmaps, apps/deployments, pods/log], resourceNames: []}]\n"
	  "    maxAPICallsPerMinute: 600\n"
	  "  response: {action: Delete, gracePeriodSeconds: 0}\n"
	  "status: {matchedPods: 4, violations: 12}\n", "" },

	{ HEAD "spec: {selector: {}}",
	  "spec.selector: an empty selector is refused: select pods with matchLabels or matchExpressions" },
	{ HEAD "spec: {selector: {matchLabels: {}, matchExpressions: []}}",
	  "spec.selector: an empty selector is refused: select pods with matchLabels or matchExpressions" },
	{ HEAD "spec: {mode: Audit}", "spec.selector: required: a profile must select its pods" },
	{ HEAD "spec: {selector: {matchLabels: {'bad key!': a}}}",
	  "spec.selector.matchLabels.bad key!: \"bad key!\" is not a valid label key" },
	{ HEAD "spec: {selector: {matchLabels: {app: 7}}}", "spec.selector.matchLabels.app: must be a valid label value" },
	{ HEAD "spec: {selector: {matchExpressions: [{key: a, operator: In}]}}",
	  "spec.selector.matchExpressions[0].values: must be non-empty when operator is In or NotIn" },
	{ HEAD "spec: {selector: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}}",
	  "spec.selector.matchExpressions[0].values: must be empty when operator is Exists or DoesNotExist" },
	{ HEAD "spec: {selector: {matchExpressions: [{key: a, operator: Like, values: [x]}]}}",
	  "spec.selector.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist" },
	{ HEAD "spec: {selector: {matchExpressions: [{operator: Exists, extra: 1}]}}",
	  "spec.selector.matchExpressions[0].extra: unknown field; spec.selector.matchExpressions[0].key: required" },
	{ HEAD "spec: {" SEL ", mode: Enforcing}", "spec.mode: \"Enforcing\" must be Enforce or Audit" },
	{ HEAD "spec: {" SEL ", mode: 1}", "spec.mode: must be Enforce or Audit" },
	{ HEAD "spec: {" SEL ", identity: {serviceAcountNames: [a]}}",
	  "spec.identity.serviceAcountNames: unknown field (did you mean \"serviceAccountNames\"?)" },
	{ HEAD "spec: {" SEL ", identity: {serviceAccountNames: [Bad_Name], tokenAutomount: Maybe}}",
	  "spec.identity.serviceAccountNames[0]: \"Bad_Name\" is not a valid service account name; "
	  "spec.identity.tokenAutomount: \"Maybe\" must be Forbid or Allow" },
	{ HEAD "spec: {" SEL ", identity: {maxTokenExpirationSeconds: 60, maxTokenAgeSeconds: '5'}}",
	  "spec.identity.maxTokenExpirationSeconds: 60 is out of range [600, 4294967296]; "
	  "spec.identity.maxTokenAgeSeconds: must be an integer" },
	{ HEAD "spec: {" SEL ", identity: {extendedTokens: forbid, legacyTokenSecrets: []}}",
	  "spec.identity.extendedTokens: \"forbid\" must be Forbid or Allow; spec.identity.legacyTokenSecrets: must be Forbid or Allow" },
	{ HEAD "spec: {" SEL ", images: {allow: nginx, requireDigest: 'true'}}",
	  "spec.images.allow: must be a list of strings; spec.images.requireDigest: must be true or false" },
	{ HEAD "spec: {" SEL ", identity: {serviceAccountNames: [a], bindServiceAccounts: 'no'}}",
	  "spec.identity.bindServiceAccounts: must be true or false" },
	/* a wildcard pattern no normalised reference can match names the one to write */
	{ HEAD "spec: {" SEL ", images: {allow: ['redis:*', 'bitnami/redis:*', 'docker.io/redis:*', 'redis@sha256:*']}}",
	  "spec.images.allow[0]: \"redis:*\" can never match: references are normalised, write \"docker.io/library/redis:*\"; "
	  "spec.images.allow[1]: \"bitnami/redis:*\" can never match: references are normalised, write \"docker.io/bitnami/redis:*\"; "
	  "spec.images.allow[2]: \"docker.io/redis:*\" can never match: references are normalised, write \"docker.io/library/redis:*\"; "
	  "spec.images.allow[3]: \"redis@sha256:*\" can never match: references are normalised, write \"docker.io/library/redis@sha256:*\"" },
	{ HEAD "spec: {" SEL ", images: {allow: ['nginx:1.25@sha256:*', 'registry.example.com/app:*@sha256:*', "
	  "'index.docker.io/library/*', 'index.docker.io/nginx:*', 'library/nginx:?.*']}}",
	  "spec.images.allow[0]: \"nginx:1.25@sha256:*\" can never match: references are normalised, write \"docker.io/library/nginx@sha256:*\"; "
	  "spec.images.allow[1]: \"registry.example.com/app:*@sha256:*\" can never match: references are normalised, write \"registry.example.com/app@sha256:*\"; "
	  "spec.images.allow[2]: \"index.docker.io/library/*\" can never match: references are normalised, write \"docker.io/library/*\"; "
	  "spec.images.allow[3]: \"index.docker.io/nginx:*\" can never match: references are normalised, write \"docker.io/library/nginx:*\"; "
	  "spec.images.allow[4]: \"library/nginx:?.*\" can never match: references are normalised, write \"docker.io/library/nginx:?.*\"" },
	/* patterns that can match are kept: exact ones are normalised before matching */
	{ HEAD "spec: {" SEL ", images: {allow: ['*', 'docker.io/library/*', '*/nginx:*', 'registry.example.com/*', 'redis*', "
	  "'*redis:*', 'localhost:*', 'localhost:5000/*', 'registry.example.com:5000/app:*', 'Registry/*', 'redis', 'nginx:1.25', "
	  "'docker.io/redis*', 'docker.io/library/nginx@sha256:*', '*@sha256:*', '*:*@sha256:*', 'r.io/*:1', "
	  "'docker.io/library/redis:*', 'docker.io/bitnami/redis:*', '?edis:*', 'registry.example.com:*']}}", "" },
	{ HEAD "spec: {" SEL ", images: {allow: ['', 'a b', 3]}}",
	  "spec.images.allow[0]: must be a non-empty string; spec.images.allow[1]: \"a b\" contains a space or control character; "
	  "spec.images.allow[2]: must be a non-empty string" },
	{ HEAD "spec: {" SEL ", privileges: {privileged: true, runAsNonRoot: Forbid, allowedCapabilities: [net_admin, 'SYS ADMIN'], allowedHostPaths: [var/log]}}",
	  "spec.privileges.privileged: must be Forbid or Allow; spec.privileges.runAsNonRoot: \"Forbid\" must be Require or Any; "
	  "spec.privileges.allowedCapabilities[1]: \"SYS ADMIN\" is not a capability name; "
	  "spec.privileges.allowedHostPaths[0]: \"var/log\" must be an absolute path" },
	{ HEAD "spec: {" SEL ", runtime: {executables: [server], egress: [{cidr: 10.0.0.0/8, ports: [5432, 70000]}, {cidr: 10.0.0.0/33}, {ports: [1]}, {cidr: 'fd00::/129'}]}}",
	  "spec.runtime.executables[0]: \"server\" must be an absolute path or start with *; "
	  "spec.runtime.egress[0].ports[1]: 70000 is not a port (1-65535); "
	  "spec.runtime.egress[1].cidr: \"10.0.0.0/33\" is not a CIDR; "
	  "spec.runtime.egress[2].cidr: required; "
	  "spec.runtime.egress[3].cidr: \"fd00::/129\" is not a CIDR" },
	{ HEAD "spec: {" SEL ", runtime: {files: {read: [etc], exec: []}, kubernetesAPI: [{verbs: [get, fly], resources: [Pods]}, {resources: [x]}], maxAPICallsPerMinute: 0}}",
	  "spec.runtime.files.exec: unknown field; spec.runtime.files.read[0]: \"etc\" must be an absolute path or start with *; "
	  "spec.runtime.kubernetesAPI[0].verbs[1]: \"fly\" is not a Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection, *); "
	  "spec.runtime.kubernetesAPI[0].resources[0]: \"Pods\" is not a resource (\"configmaps\", \"apps/deployments\", \"pods/log\"); "
	  "spec.runtime.kubernetesAPI[1].verbs: required; "
	  "spec.runtime.maxAPICallsPerMinute: 0 is out of range [1, 100000000]" },
	{ HEAD "spec: {" SEL ", response: {action: Kill, gracePeriodSeconds: -1}}",
	  "spec.response.action: \"Kill\" must be Delete, Evict or None; spec.response.gracePeriodSeconds: -1 is out of range [0, 31536000]" },
	{ HEAD "spec: {" SEL ", identity: []}", "spec.identity: must be an object" },
	{ HEAD "spec: {" SEL ", runtimes: {}}", "spec.runtimes: unknown field (did you mean \"runtime\"?)" },
	{ HEAD "spec: {selector: {matchLabel: {app: a}}}",
	  "spec.selector.matchLabel: unknown field (did you mean \"matchLabels\"?)" },
	{ HEAD "spec: {selector: {matchLabels: {app: a}, matchExpression: []}}",
	  "spec.selector.matchExpression: unknown field (did you mean \"matchExpressions\"?)" },
	{ HEAD "spec: {selector: {matchLabel: {app: a}, matchLabels: {'bad key!': a}}}",
	  "spec.selector.matchLabel: unknown field (did you mean \"matchLabels\"?); "
	  "spec.selector.matchLabels.bad key!: \"bad key!\" is not a valid label key" },
	{ HEAD "spec: {selector: {app: a}}", "spec.selector.app: unknown field" },

	{ "apiVersion: profileguard.io/v1\nkind: WorkloadProfile\nmetadata: {name: p}\nspec: {" SEL "}",
	  "apiVersion: must be profileguard.io/v1alpha1" },
	{ "apiVersion: profileguard.io/v1alpha1\nkind: Profile\nmetadata: {name: Bad_Name, nmespace: x}\nspec: {" SEL "}\nextra: 1",
	  "extra: unknown field; kind: must be WorkloadProfile; metadata.nmespace: unknown field (did you mean \"namespace\"?); "
	  "metadata.name: \"Bad_Name\" is not a valid name (RFC 1123 subdomain)" },
	{ "apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\nspec: 3",
	  "metadata: required; spec: must be an object" },
};

START_TEST(test_validation_table)
{
	char got[8192];

	tu_profile_errors(vcases[_i].yaml, got, sizeof(got));
	ck_assert_msg(strcmp(got, vcases[_i].expect) == 0, "case %d:\n got: %s\nwant: %s", _i, got,
		      vcases[_i].expect);
}
END_TEST

/* The refusal is earned and the advice right: the refused pattern misses
 * the reference it was written for, the pattern named instead matches
 * it and is valid; and each pattern kept matches some reference. */
#define HEX64 "682a1c47a1d34030b53d929d93f628b8e80e292b915f8c0e8d8fb51b3b7be968"
START_TEST(test_image_pattern_advice)
{
	static const char *const refused[][3] = {
		{ "redis:*", "redis:7", "docker.io/library/redis:*" },
		{ "bitnami/redis:*", "bitnami/redis:7.2", "docker.io/bitnami/redis:*" },
		{ "docker.io/redis:*", "redis:7", "docker.io/library/redis:*" },
		{ "redis@sha256:*", "redis@sha256:" HEX64, "docker.io/library/redis@sha256:*" },
		{ "nginx:1.25@sha256:*", "nginx:1.25@sha256:" HEX64, "docker.io/library/nginx@sha256:*" },
		{ "registry.example.com/app:*@sha256:*", "registry.example.com/app:1@sha256:" HEX64,
		  "registry.example.com/app@sha256:*" },
		{ "index.docker.io/library/*", "index.docker.io/library/nginx", "docker.io/library/*" },
		{ "index.docker.io/nginx:*", "nginx:1", "docker.io/library/nginx:*" },
		{ "library/nginx:?.*", "nginx:1.25", "docker.io/library/nginx:?.*" },
	};
	static const char *const kept[][2] = {
		{ "*", "nginx" }, { "docker.io/library/*", "nginx" }, { "*/nginx:*", "nginx:1" },
		{ "registry.example.com/*", "registry.example.com/a" }, { "redis*", "redis.internal/x" },
		{ "*redis:*", "redis:7" }, { "localhost:*", "localhost:5000/a" }, { "localhost:5000/*", "localhost:5000/a" },
		{ "registry.example.com:5000/app:*", "registry.example.com:5000/app:1" }, { "Registry/*", "Registry/a" },
		{ "docker.io/redis*", "redisfoo/bar" }, { "docker.io/library/nginx@sha256:*", "nginx@sha256:" HEX64 },
		{ "*@sha256:*", "nginx@sha256:" HEX64 }, { "*:*@sha256:*", "r:5000/a@sha256:" HEX64 },
		{ "r.io/*:1", "r.io/a:1" }, { "?edis:*", "redis:5000/a:1" }, { "registry.example.com:*", "registry.example.com:5000/a" },
	};
	char norm[IMAGE_REF_MAX + 64], yaml[512], got[1024];

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		ck_assert_int_eq(image_normalize(refused[i][1], norm, sizeof(norm)), 0);
		ck_assert_msg(!image_pattern_match(refused[i][0], norm), "%s matches %s", refused[i][0], norm);
		ck_assert_msg(image_pattern_match(refused[i][2], norm), "%s misses %s", refused[i][2], norm);
		snprintf(yaml, sizeof(yaml), HEAD "spec: {" SEL ", images: {allow: ['%s']}}", refused[i][2]);
		tu_profile_errors(yaml, got, sizeof(got));
		ck_assert_msg(!*got, "%s: %s", refused[i][2], got);
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		ck_assert_int_eq(image_normalize(kept[i][1], norm, sizeof(norm)), 0);
		ck_assert_msg(image_pattern_match(kept[i][0], norm), "%s misses %s", kept[i][0], norm);
	}
}
END_TEST

/* A refused egress rule gives its slot to the next one; its port count
 * once carried over, and the next rule's ports were written past their
 * block (found by fuzzing; the ASan pass sees a relapse).  2,000 ports
 * each, so the blocks are the arena's own allocations. */
START_TEST(test_refused_rule_leaves_nothing)
{
	char *yaml = malloc(64 * 1024), got[512];
	size_t n = 0;

	ck_assert_ptr_nonnull(yaml);
	n += (size_t)snprintf(yaml + n, 64 * 1024 - n, HEAD "spec: {" SEL ", runtime: {egress: [");
	for (int r = 0; r < 2; r++) {
		n += (size_t)snprintf(yaml + n, 64 * 1024 - n, "%s{cidr: %s, ports: [", r ? ", " : "",
				      r ? "10.0.0.0/8" : "10.0.0.0/33");
		for (int i = 1; i <= 2000; i++)
			n += (size_t)snprintf(yaml + n, 64 * 1024 - n, "%s%d", i > 1 ? ", " : "", i);
		n += (size_t)snprintf(yaml + n, 64 * 1024 - n, "]}");
	}
	snprintf(yaml + n, 64 * 1024 - n, "]}}");
	tu_profile_errors(yaml, got, sizeof(got));
	ck_assert_str_eq(got, "spec.runtime.egress[0].cidr: \"10.0.0.0/33\" is not a CIDR");
	free(yaml);
}
END_TEST

START_TEST(test_parsed_values)
{
	struct profile *p = tu_profile("mode: Audit, identity: {serviceAccountNames: [a, b], maxTokenAgeSeconds: 60},"
				       " privileges: {allowedCapabilities: [cap_net_admin], allowedHostPaths: [/var//log/]},"
				       " runtime: {egress: [{cidr: 10.1.2.3/8, ports: [443]}], executables: []}");

	ck_assert_str_eq(p->namespace, "ns");
	ck_assert_str_eq(p->name, "p");
	ck_assert_int_eq(p->mode, MODE_AUDIT);
	ck_assert_uint_eq(p->identity.service_accounts.n, 2);
	ck_assert_int_eq(p->identity.max_token_age, 60);
	ck_assert_int_eq(p->identity.max_token_expiration, -1);
	ck_assert_str_eq(p->privileges.capabilities.v[0], "NET_ADMIN");
	ck_assert_str_eq(p->privileges.host_paths.v[0], "/var/log");
	ck_assert_uint_eq(p->runtime.negress, 1);
	ck_assert_uint_eq(p->runtime.egress[0].net.addr.bytes[1], 0);   /* host bits cleared */
	ck_assert(p->runtime.executables.set);
	ck_assert_uint_eq(p->runtime.executables.n, 0);
	ck_assert(!p->runtime.files_read.set);
	ck_assert_int_eq(p->response.action, ACTION_DELETE);
	profile_free(p);
}
END_TEST

/* A profile that does not say Enforce deletes nothing (SPEC §2): a
 * six-line profile applied to try the tool must not act on running pods.
 * Saying it, or null (as a JSON client may send an unset field), is
 * judged as written. */
START_TEST(test_mode_default_audit)
{
	struct profile *p = tu_profile("identity: {serviceAccountNames: [a]}");

	ck_assert_int_eq(p->mode, MODE_AUDIT);
	ck_assert_str_eq(mode_name(p->mode), "Audit");
	profile_free(p);
	p = tu_profile("mode: null");
	ck_assert_int_eq(p->mode, MODE_AUDIT);
	profile_free(p);
	p = tu_profile("mode: Enforce");
	ck_assert_int_eq(p->mode, MODE_ENFORCE);
	profile_free(p);
}
END_TEST

START_TEST(test_default_namespace)
{
	json_t *obj = tu_yaml("apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\nmetadata: {name: p}\nspec: {" SEL "}");
	struct errlist errs;
	struct profile *p = NULL;

	errlist_init(&errs, 0);
	ck_assert_int_eq(profile_parse(tu_jv(obj), "default", &errs, &p), 0);
	ck_assert_str_eq(p->namespace, "default");
	profile_free(p);
	errlist_free(&errs);
	json_decref(obj);
}
END_TEST

START_TEST(test_set)
{
	struct profile_set s;
	struct profile *const *first;
	const char *names[] = { "b", "a", "c" };
	/* not "y": YAML 1.1 reads a bare y as true, as kubectl does */
	const char *nss[] = { "x", "yy", "x" };

	profile_set_init(&s);
	/* An empty set answers without touching its (NULL) array. */
	ck_assert_uint_eq(profile_set_namespace(&s, "x", &first), 0);
	for (int i = 0; i < 3; i++) {
		char yaml[512];
		json_t *obj;
		struct errlist errs;
		struct profile *p;

		snprintf(yaml, sizeof(yaml), "apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
			 "metadata: {name: %s, namespace: %s}\nspec: {" SEL "}", names[i], nss[i]);
		obj = tu_yaml(yaml);
		errlist_init(&errs, 0);
		ck_assert_int_eq(profile_parse(tu_jv(obj), "default", &errs, &p), 0);
		ck_assert_int_eq(profile_set_add(&s, p), 0);
		errlist_free(&errs);
		json_decref(obj);
	}
	ck_assert_uint_eq(profile_set_namespace(&s, "x", &first), 2);
	ck_assert_str_eq(first[0]->name, "b");
	ck_assert_str_eq(first[1]->name, "c");
	ck_assert_uint_eq(profile_set_namespace(&s, "yy", &first), 1);
	ck_assert_uint_eq(profile_set_namespace(&s, "z", &first), 0);
	ck_assert_uint_eq(profile_set_namespace(&s, "", &first), 0);
	ck_assert_int_eq(profile_set_remove(&s, "x", "b"), 0);
	ck_assert_int_eq(profile_set_remove(&s, "x", "b"), -ENOENT);
	ck_assert_uint_eq(profile_set_namespace(&s, "x", &first), 1);
	profile_set_free(&s);
}
END_TEST

START_TEST(test_alloc_failures)
{
	json_t *obj = tu_yaml(vcases[2].yaml);
	const struct jval *jv = tu_jv(obj);
	long total;

	pg_alloc_fail_at(1L << 40);
	{
		struct errlist errs;
		struct profile *p = NULL;

		errlist_init(&errs, 0);
		ck_assert_int_eq(profile_parse(jv, "default", &errs, &p), 0);
		total = pg_alloc_count();
		profile_free(p);
		errlist_free(&errs);
	}
	for (long i = 0; i < total; i++) {
		struct errlist errs;
		struct profile *p = NULL;
		int r;

		errlist_init(&errs, 0);
		pg_alloc_fail_at(i);
		r = profile_parse(jv, "default", &errs, &p);
		pg_alloc_fail_at(-1);
		ck_assert_msg(r == -ENOMEM, "allocation %ld failed but parse returned %d", i, r);
		ck_assert_ptr_null(p);
		errlist_free(&errs);
	}
	json_decref(obj);
}
END_TEST

/* ---- caps (SPEC §2 "Bounds"): at each cap valid, one past it refused,
 * with the cap named, never cut ---------------------------------------- */

/* A profile (JSON) whose spec holds @section with @n items of @item joined
 * by commas in the place of its one "%s". */
static char *cap_profile(const char *section, size_t n, const char *item)
{
	size_t cap = 64 + strlen(section) + n * (strlen(item) + 1) + 256, len = 0;
	char *items = malloc(n * (strlen(item) + 1) + 1), *out = malloc(cap);

	ck_assert_ptr_nonnull(items);
	ck_assert_ptr_nonnull(out);
	items[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(items + len, "%s%s", i ? "," : "", item);
	len = (size_t)snprintf(out, cap, "{\"apiVersion\":\"profileguard.io/v1alpha1\",\"kind\":\"WorkloadProfile\","
			       "\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\"},\"spec\":{\"selector\":"
			       "{\"matchLabels\":{\"app\":\"a\"}},");
	/* @section around the items: what is before its "%s", then after. */
	len += (size_t)snprintf(out + len, cap - len, "%.*s%s%s}}", (int)(strstr(section, "%s") - section),
				section, items, strstr(section, "%s") + 2);
	free(items);
	return out;
}

static void expect_cap(const char *section, size_t n, const char *item, const char *want)
{
	char *json = cap_profile(section, n, item), got[512];

	tu_profile_errors(json, got, sizeof(got));
	ck_assert_msg(strcmp(got, want) == 0, "%zu items: got \"%s\" want \"%s\"", n, got, want);
	free(json);
}

START_TEST(test_cap_lists)
{
	expect_cap("\"images\":{\"allow\":[%s]}", PROFILE_MAX_LIST, "\"r.io/*\"", "");
	expect_cap("\"images\":{\"allow\":[%s]}", PROFILE_MAX_LIST + 1, "\"r.io/*\"",
		   "spec.images.allow: more than 4096 items (profileguard's limit)");
	expect_cap("\"runtime\":{\"executables\":[%s]}", PROFILE_MAX_LIST + 1, "\"/x\"",
		   "spec.runtime.executables: more than 4096 items (profileguard's limit)");
	expect_cap("\"runtime\":{\"egress\":[%s]}", PROFILE_MAX_LIST, "{\"cidr\":\"10.0.0.0/8\"}", "");
	expect_cap("\"runtime\":{\"egress\":[%s]}", PROFILE_MAX_LIST + 1, "{\"cidr\":\"10.0.0.0/8\"}",
		   "spec.runtime.egress: more than 4096 rules (profileguard's limit)");
	expect_cap("\"runtime\":{\"kubernetesAPI\":[%s]}", PROFILE_MAX_LIST + 1,
		   "{\"verbs\":[\"get\"],\"resources\":[\"pods\"]}",
		   "spec.runtime.kubernetesAPI: more than 4096 rules (profileguard's limit)");
	expect_cap("\"runtime\":{\"egress\":[{\"cidr\":\"10.0.0.0/8\",\"ports\":[%s]}]}", PROFILE_MAX_PORTS,
		   "443", "");
	expect_cap("\"runtime\":{\"egress\":[{\"cidr\":\"10.0.0.0/8\",\"ports\":[%s]}]}", PROFILE_MAX_PORTS + 1,
		   "443", "spec.runtime.egress[0].ports: more than 65535 ports (profileguard's limit)");
}
END_TEST

START_TEST(test_cap_string)
{
	char item[PROFILE_MAX_STRING + 8];

	item[0] = '"';
	item[1] = '/';
	memset(item + 2, 'a', PROFILE_MAX_STRING - 1);
	strcpy(item + 1 + PROFILE_MAX_STRING, "\"");
	expect_cap("\"runtime\":{\"executables\":[%s]}", 1, item, "");
	strcpy(item + 1 + PROFILE_MAX_STRING, "a\"");
	expect_cap("\"runtime\":{\"executables\":[%s]}", 1, item,
		   "spec.runtime.executables[0]: longer than 4096 bytes (profileguard's limit)");
}
END_TEST

/* A string holding U+0000 is refused with its path: read as a C string,
 * "Forbid\u0000x" would be Forbid and "r.io/x\u0000evil" r.io/x. */
START_TEST(test_nul_refused)
{
	static const char *const cases[][2] = {
		{ "\"images\":{\"allow\":[\"registry.example.com/payments/x\\u0000evil.com/x\"]}",
		  "spec.images.allow[0]: must not contain NUL" },
		{ "\"identity\":{\"legacyTokenSecrets\":\"Forbid\\u0000x\"}",
		  "spec.identity.legacyTokenSecrets: must not contain NUL" },
		{ "\"privileges\":{\"allowedCapabilities\":[\"NET_BIND_SERVICE\\u0000\"]}",
		  "spec.privileges.allowedCapabilities[0]: must not contain NUL" },
		{ "\"identity\":{\"serviceAccountNames\":[\"api\\u0000x\"]}",
		  "spec.identity.serviceAccountNames[0]: must not contain NUL" },
	};
	char *json, got[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json = cap_profile("%s", 1, cases[i][0]);
		tu_profile_errors(json, got, sizeof(got));
		ck_assert_msg(strncmp(got, cases[i][1], strlen(cases[i][1])) == 0, "got \"%s\" want \"%s\"",
			      got, cases[i][1]);
		free(json);
	}
	/* The selector too, and through YAML ("\0"). */
	json = strdup(HEAD "spec: {selector: {matchLabels: {app: \"a\\0b\"}}}");
	tu_profile_errors(json, got, sizeof(got));
	ck_assert_msg(strncmp(got, "spec.selector.matchLabels.app: must not contain NUL", 51) == 0, "got %s", got);
	free(json);
}
END_TEST

/* Every message, whole, of the profile @json read as the informer and the
 * webhook read it (jval_parse, no jansson on the way). */
static char *errors_read_by_jval(const char *json, char *out, size_t n)
{
	struct arena *a = arena_new(1024);
	const struct jval *v;
	struct errlist errs;
	size_t len = 0;

	ck_assert_int_eq(jval_parse(json, strlen(json), NULL, a, &v, NULL), 0);
	errlist_init(&errs, 0);
	ck_assert_int_eq(profile_parse(v, "default", &errs, NULL), -EINVAL);
	out[0] = '\0';
	for (size_t i = 0; i < errs.n; i++)
		len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s", i ? "; " : "", errs.msgs[i]);
	errlist_free(&errs);
	arena_free(a);
	return out;
}

/* A NUL is named once, and only the NUL: the rest of the profile reads
 * its strings as before (up to the NUL), so no second message appears
 * for a name, a mode or a label value that is valid before it.  The same
 * from the cluster (jval) and from a file (YAML "\0"). */
START_TEST(test_nul_named_once)
{
	static const char *const cases[][3] = {
		{ "{\"apiVersion\":\"profileguard.io/v1alpha1\",\"kind\":\"WorkloadProfile\","
		  "\"metadata\":{\"name\":\"p\\u0000x\",\"namespace\":\"ns\"},"
		  "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"a\"}}}}",
		  "apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
		  "metadata: {name: \"p\\0x\", namespace: ns}\nspec: {" SEL "}\n",
		  "metadata.name: must not contain NUL" },
		{ "{\"apiVersion\":\"profileguard.io/v1alpha1\",\"kind\":\"WorkloadProfile\","
		  "\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\"},"
		  "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"a\\u0000b\"}},\"mode\":\"Enforce\\u0000\","
		  "\"response\":{\"action\":\"Evict\\u0000x\"}}}",
		  HEAD "spec: {selector: {matchLabels: {app: \"a\\0b\"}}, mode: \"Enforce\\0\", "
		  "response: {action: \"Evict\\0x\"}}\n",
		  "spec.selector.matchLabels.app: must not contain NUL; spec.mode: must not contain NUL; "
		  "spec.response.action: must not contain NUL" },
	};
	char got[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_str_eq(errors_read_by_jval(cases[i][0], got, sizeof(got)), cases[i][2]);
		ck_assert_str_eq(tu_profile_errors(cases[i][1], got, sizeof(got)), cases[i][2]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("profile");
	TCase *tc = tcase_create("profile");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_validation_table, 0, (int)(sizeof(vcases) / sizeof(vcases[0])));
	tcase_add_test(tc, test_refused_rule_leaves_nothing);
	tcase_add_test(tc, test_parsed_values);
	tcase_add_test(tc, test_mode_default_audit);
	tcase_add_test(tc, test_default_namespace);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_alloc_failures);
	tcase_add_test(tc, test_cap_lists);
	tcase_add_test(tc, test_cap_string);
	tcase_add_test(tc, test_nul_refused);
	tcase_add_test(tc, test_nul_named_once);
	tcase_add_test(tc, test_image_pattern_advice);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
