/* test_status.c - the WorkloadProfile status the controller writes,
 * and the leader election's decision. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "arena.h"
#include "jval.h"
#include "status.h"
#include "xalloc.h"

#define T0 1795000000          /* 2026-11-18T11:06:40Z */

static const char *str(json_t *o, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	return json_string_value(json_object_get(o, path));
}

static json_t *ready(json_t *st)
{
	json_t *c = json_array_get(json_object_get(st, "conditions"), 0);

	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(json_string_value(json_object_get(c, "type")), "Ready");
	return c;
}

START_TEST(valid_profile)
{
	struct status_profile s = { .generation = 3, .valid = true, .matched = 4, .violations = 12 };
	json_t *st = status_build(&s, T0), *c;

	ck_assert_int_eq(json_integer_value(json_object_get(st, "observedGeneration")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "matchedPods")), 4);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "violations")), 12);
	ck_assert_ptr_null(json_object_get(st, "lastViolation"));
	c = ready(st);
	ck_assert_str_eq(str(c, "status"), "True");
	ck_assert_str_eq(str(c, "reason"), "Accepted");
	ck_assert_str_eq(str(c, "message"), "");
	ck_assert_str_eq(str(c, "lastTransitionTime"), "2026-11-18T11:06:40Z");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "observedGeneration")), 3);
	json_decref(st);
}
END_TEST

START_TEST(transition_time_moves_only_on_change)
{
	struct status_profile s = { .generation = 1, .valid = true, .prev_ready = "True",
			     .prev_transition = "2026-01-01T00:00:00Z" };
	json_t *st = status_build(&s, T0);

	ck_assert_str_eq(str(ready(st), "lastTransitionTime"), "2026-01-01T00:00:00Z");
	json_decref(st);
	s.prev_ready = "False";
	st = status_build(&s, T0);
	ck_assert_str_eq(str(ready(st), "lastTransitionTime"), "2026-11-18T11:06:40Z");
	json_decref(st);
}
END_TEST

START_TEST(invalid_profile)
{
	const char *msgs[] = { "spec.mode: must be Enforce or Audit",
			       "spec.selector: required: a profile must select its pods" };
	char *joined = status_join_messages(msgs, 2, 4096);
	struct status_profile s = { .generation = 2, .valid = false, .invalid_message = joined,
			     .matched = 5, .prev_ready = "True",
			     .prev_transition = "2026-01-01T00:00:00Z" };
	json_t *st = status_build(&s, T0), *c = ready(st);

	ck_assert_str_eq(joined, "spec.mode: must be Enforce or Audit; "
				 "spec.selector: required: a profile must select its pods");
	ck_assert_str_eq(str(c, "status"), "False");
	ck_assert_str_eq(str(c, "reason"), "Invalid");
	ck_assert_str_eq(str(c, "message"), joined);
	ck_assert_str_eq(str(c, "lastTransitionTime"), "2026-11-18T11:06:40Z");
	/* Not applied: it selects nothing. */
	ck_assert_int_eq(json_integer_value(json_object_get(st, "matchedPods")), 0);
	json_decref(st);
	pg_free(joined);
}
END_TEST

/* SPEC §2: edited into an invalid spec, the profile is still enforced at
 * its last valid generation, and its status says which, and counts the
 * pods that generation selects. */
START_TEST(invalid_keeps_last_valid)
{
	struct status_profile s = { .generation = 4, .valid = false, .enforced_generation = 3,
			     .invalid_message = "spec.mode: must be Enforce or Audit", .matched = 5,
			     .prev_ready = "True", .prev_transition = "2026-01-01T00:00:00Z" };
	json_t *st = status_build(&s, T0), *c = ready(st);

	ck_assert_int_eq(json_integer_value(json_object_get(st, "observedGeneration")), 4);
	ck_assert_str_eq(str(c, "status"), "False");
	ck_assert_str_eq(str(c, "reason"), "Invalid");
	ck_assert_str_eq(str(c, "message"), "generation 4 is invalid, generation 3 stays enforced: "
					    "spec.mode: must be Enforce or Audit");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "observedGeneration")), 4);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "matchedPods")), 5);
	json_decref(st);
}
END_TEST

/* A spec whose compact serialization is @bytes long: {"x":"aaa..."}. */
static json_t *spec_of_size(size_t bytes)
{
	size_t n = bytes - strlen("{\"x\":\"\"}");
	char *a = pg_malloc(n + 1);
	json_t *spec;

	memset(a, 'a', n);
	a[n] = '\0';
	spec = json_pack("{ss}", "x", a);
	pg_free(a);
	ck_assert_uint_eq(status_spec_bytes(spec), bytes);
	return spec;
}

/* The last valid generation goes to status once, in the write that says
 * a new valid generation (observedGeneration moves): never again while
 * the cluster shows it, so etcd is not written a spec per status write. */
START_TEST(enforced_spec_recorded_once_per_valid_generation)
{
	json_t *spec = json_pack("{s{s{ss}} ss s{sb}}", "selector", "matchLabels", "app", "a",
				 "mode", "Enforce", "images", "requireDigest", 1);
	struct status_profile s = { .generation = 3, .valid = true, .stored_generation = 2,
			     .enforced_spec = spec, .enforced_spec_bytes = status_spec_bytes(spec) };
	json_t *st = status_build(&s, T0);

	ck_assert_int_eq(json_integer_value(json_object_get(st, "enforcedGeneration")), 3);
	ck_assert(json_equal(json_object_get(st, "enforcedSpec"), spec));
	ck_assert_str_eq(str(ready(st), "message"), "");
	json_decref(st);

	/* The cluster shows generation 3 recorded: not written again. */
	s.stored_generation = 3;
	st = status_build(&s, T0);
	ck_assert_ptr_null(json_object_get(st, "enforcedGeneration"));
	ck_assert_ptr_null(json_object_get(st, "enforcedSpec"));
	json_decref(st);

	/* Invalid, generation 3 kept in memory, never recorded (the spec
	 * changed twice before a write went out): recorded now. */
	s = (struct status_profile){ .generation = 4, .valid = false, .enforced_generation = 3,
			      .invalid_message = "spec.mode: must be Enforce or Audit",
			      .enforced_spec = spec, .enforced_spec_bytes = status_spec_bytes(spec) };
	st = status_build(&s, T0);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "enforcedGeneration")), 3);
	ck_assert(json_equal(json_object_get(st, "enforcedSpec"), spec));
	json_decref(st);
	s.stored_generation = 3;
	st = status_build(&s, T0);
	ck_assert_ptr_null(json_object_get(st, "enforcedSpec"));
	json_decref(st);

	/* Invalid from the start: nothing to record. */
	s = (struct status_profile){ .generation = 1, .valid = false, .invalid_message = "x: y" };
	st = status_build(&s, T0);
	ck_assert_ptr_null(json_object_get(st, "enforcedGeneration"));
	ck_assert_ptr_null(json_object_get(st, "enforcedSpec"));
	json_decref(st);
	json_decref(spec);
}
END_TEST

/* Restored from status after a restart: the message says where the
 * enforced generation came from, and status is not rewritten. */
START_TEST(enforced_restored_from_status)
{
	struct status_profile s = { .generation = 4, .valid = false, .enforced_generation = 3,
			     .restored = true, .stored_generation = 3, .enforced_spec_bytes = 100,
			     .invalid_message = "spec.mode: must be Enforce or Audit" };
	json_t *st = status_build(&s, T0);

	ck_assert_str_eq(str(ready(st), "message"),
			 "generation 4 is invalid, generation 3 stays enforced (restored from "
			 "status.enforcedSpec): spec.mode: must be Enforce or Audit");
	ck_assert_ptr_null(json_object_get(st, "enforcedSpec"));
	ck_assert_ptr_null(json_object_get(st, "enforcedGeneration"));
	json_decref(st);
}
END_TEST

/* At the cap the spec is recorded; one byte past it, it is not, and the
 * status says so (enforcedSpec removed, the cap in the message), never a
 * cut spec. */
START_TEST(enforced_spec_cap)
{
	json_t *at = spec_of_size(STATUS_ENFORCED_SPEC_MAX), *past = spec_of_size(STATUS_ENFORCED_SPEC_MAX + 1);
	struct status_profile s = { .generation = 5, .valid = true, .stored_generation = 4,
			     .enforced_spec = at, .enforced_spec_bytes = STATUS_ENFORCED_SPEC_MAX };
	json_t *st = status_build(&s, T0), *c;

	ck_assert(json_equal(json_object_get(st, "enforcedSpec"), at));
	ck_assert_str_eq(str(ready(st), "message"), "");
	json_decref(st);

	s.enforced_spec = past;
	s.enforced_spec_bytes = STATUS_ENFORCED_SPEC_MAX + 1;
	st = status_build(&s, T0);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "enforcedGeneration")), 5);
	ck_assert(json_is_null(json_object_get(st, "enforcedSpec")));
	c = ready(st);
	ck_assert_str_eq(str(c, "status"), "True");
	ck_assert_str_eq(str(c, "message"),
			 "status.enforcedSpec not recorded: the spec is 262145 bytes, over the cap of "
			 "262144: a webhook or controller that starts while this profile is invalid "
			 "will not enforce it");
	json_decref(st);

	/* Still said while the cluster shows it; the spec is not sent again. */
	s.stored_generation = 5;
	st = status_build(&s, T0);
	ck_assert_ptr_null(json_object_get(st, "enforcedSpec"));
	ck_assert_ptr_nonnull(strstr(str(ready(st), "message"), "over the cap of 262144"));
	json_decref(st);

	/* Invalid later, generation 5 kept in memory: the message says it is
	 * not recorded. */
	s = (struct status_profile){ .generation = 6, .valid = false, .enforced_generation = 5,
			      .stored_generation = 5, .enforced_spec = past,
			      .enforced_spec_bytes = STATUS_ENFORCED_SPEC_MAX + 1,
			      .invalid_message = "x: y" };
	st = status_build(&s, T0);
	ck_assert_str_eq(str(ready(st), "message"),
			 "generation 6 is invalid, generation 5 stays enforced (not recorded in "
			 "status.enforcedSpec: 262145 bytes, over the cap of 262144): x: y");
	json_decref(st);
	json_decref(at);
	json_decref(past);
}
END_TEST

/* A valid spec whose compact serialization is exactly @bytes long: its
 * runtime.executables padded with absolute paths. */
static json_t *valid_spec_of_size(size_t bytes)
{
	json_t *spec = json_pack("{s{s{ss}} ss s{s[]}}", "selector", "matchLabels", "app", "a",
				 "mode", "Enforce", "runtime", "executables");
	json_t *ex = json_object_get(json_object_get(spec, "runtime"), "executables");
	char *path = pg_malloc(PROFILE_MAX_STRING + 1);
	size_t have;

	memset(path, 'a', PROFILE_MAX_STRING);
	path[0] = '/';
	/* Whole items while one more fits with room for a last one. */
	while ((have = status_spec_bytes(spec)) + 2 * (PROFILE_MAX_STRING + 3) < bytes) {
		path[PROFILE_MAX_STRING] = '\0';
		json_array_append_new(ex, json_string(path));
	}
	/* Two last items share what is left: ,"/a..." is length + 3. */
	{
		size_t left = bytes - have, a = left / 2, b = left - a;

		path[a - 3] = '\0';
		json_array_append_new(ex, json_string(path));
		memset(path, 'a', PROFILE_MAX_STRING);
		path[0] = '/';
		path[b - 3] = '\0';
		json_array_append_new(ex, json_string(path));
	}
	pg_free(path);
	ck_assert_uint_eq(status_spec_bytes(spec), bytes);
	return spec;
}

/* A WorkloadProfile at @generation whose status records @stored with
 * @spec (NULL: none), its own spec invalid. */
static json_t *invalid_object(int64_t generation, int64_t stored, json_t *spec)
{
	json_t *o = json_pack("{ss ss s{ss ss ss sI} s{s{s{ss}} ss} s{sI}}",
			      "apiVersion", "profileguard.io/v1alpha1", "kind", "WorkloadProfile",
			      "metadata", "name", "p", "namespace", "ns", "uid", "u-1",
			      "generation", (json_int_t)generation,
			      "spec", "selector", "matchLabels", "app", "a", "mode", "Sometimes",
			      "status", "enforcedGeneration", (json_int_t)stored);

	if (spec)
		json_object_set(json_object_get(o, "status"), "enforcedSpec", spec);
	return o;
}

/* profile_restore_enforced() on @o as the informer hands it over (jval.h). */
static int restore(json_t *o, struct profile **p, int64_t *gen, char *why, size_t whysz)
{
	struct arena *a = arena_new(4096);
	const struct jval *v = NULL;
	int r;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(jval_from_json(o, a, &v), 0);
	r = profile_restore_enforced(v, p, gen, why, whysz);
	arena_free(a);
	return r;
}

/* What a restart reads back while the spec is invalid: the recorded
 * generation, validated as a spec is, only when older than the spec, and
 * within the cap (at it: read; one byte past: refused, the cap named). */
START_TEST(restore_from_status)
{
	json_t *small = json_pack("{s{s{ss}} ss s{sb}}", "selector", "matchLabels", "app", "a",
				  "mode", "Enforce", "images", "requireDigest", 1);
	json_t *bad = json_pack("{s{s{ss}} ss}", "selector", "matchLabels", "app", "a", "mode", "Never");
	json_t *at = valid_spec_of_size(PROFILE_ENFORCED_SPEC_MAX);
	json_t *past = valid_spec_of_size(PROFILE_ENFORCED_SPEC_MAX + 1);
	struct profile *p;
	int64_t gen;
	char why[512];
	json_t *o;

	o = invalid_object(4, 3, small);
	ck_assert_int_eq(restore(o, &p, &gen, why, sizeof(why)), 0);
	ck_assert_int_eq(gen, 3);
	ck_assert_int_eq(p->generation, 3);
	ck_assert_str_eq(p->namespace, "ns");
	ck_assert_str_eq(p->name, "p");
	ck_assert_str_eq(mode_name(p->mode), "Enforce");
	profile_free(p);
	json_decref(o);

	/* Not older than the spec: not a last valid generation. */
	o = invalid_object(3, 3, small);
	ck_assert_int_eq(restore(o, &p, &gen, why, sizeof(why)), -ENOENT);
	ck_assert_ptr_null(p);
	json_decref(o);

	/* Nothing recorded at all: nothing to say. */
	o = invalid_object(2, 0, NULL);
	json_object_del(json_object_get(o, "status"), "enforcedGeneration");
	ck_assert_int_eq(restore(o, &p, &gen, why, sizeof(why)), -ENOENT);
	ck_assert_str_eq(why, "");
	json_decref(o);

	/* A generation recorded without its spec (it was over the cap). */
	o = invalid_object(4, 3, NULL);
	ck_assert_int_eq(restore(o, &p, &gen, why, sizeof(why)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(why, "status.enforcedSpec is absent"));
	json_decref(o);

	/* A recorded spec that does not validate is not enforced. */
	o = invalid_object(4, 3, bad);
	ck_assert_int_eq(restore(o, &p, &gen, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(why, "status.enforcedSpec of generation 3 does not validate: spec.mode"));
	json_decref(o);

	o = invalid_object(4, 3, at);
	ck_assert_int_eq(restore(o, &p, &gen, why, sizeof(why)), 0);
	ck_assert_int_eq(gen, 3);
	profile_free(p);
	json_decref(o);
	o = invalid_object(4, 3, past);
	ck_assert_int_eq(restore(o, &p, &gen, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(why, "status.enforcedSpec is 262145 bytes, over the cap of 262144");
	json_decref(o);

	json_decref(small);
	json_decref(bad);
	json_decref(at);
	json_decref(past);
}
END_TEST

START_TEST(last_violation)
{
	struct status_profile s = { .valid = true, .violations = 1, .has_last = true,
			     .last_pod = "api-7d9f-x2", .last_reason = "LegacyToken",
			     .last_message = "spec.volumes[0].secret.secretName: ...",
			     .last_time = T0 };
	json_t *st = status_build(&s, T0 + 5);

	ck_assert_str_eq(str(st, "lastViolation.pod"), "api-7d9f-x2");
	ck_assert_str_eq(str(st, "lastViolation.reason"), "LegacyToken");
	ck_assert_str_eq(str(st, "lastViolation.message"), "spec.volumes[0].secret.secretName: ...");
	ck_assert_str_eq(str(st, "lastViolation.time"), "2026-11-18T11:06:40Z");
	json_decref(st);
}
END_TEST

START_TEST(join_is_bounded)
{
	const char *msgs[] = { "aaaa", "bbbb", "cccc" };
	const char *utf[] = { "xx\xc3\xa9" };
	char *s;

	s = status_join_messages(msgs, 3, 9);
	ck_assert_str_eq(s, "aaaa; bbb");
	pg_free(s);
	s = status_join_messages(msgs, 0, 10);
	ck_assert_str_eq(s, "");
	pg_free(s);
	s = status_join_messages(utf, 1, 3);
	ck_assert_str_eq(s, "xx");
	pg_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl_status");
	TCase *tc = tcase_create("status");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, valid_profile);
	tcase_add_test(tc, transition_time_moves_only_on_change);
	tcase_add_test(tc, invalid_profile);
	tcase_add_test(tc, invalid_keeps_last_valid);
	tcase_add_test(tc, enforced_spec_recorded_once_per_valid_generation);
	tcase_add_test(tc, enforced_restored_from_status);
	tcase_add_test(tc, enforced_spec_cap);
	tcase_add_test(tc, restore_from_status);
	tcase_add_test(tc, last_violation);
	tcase_add_test(tc, join_is_bounded);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
