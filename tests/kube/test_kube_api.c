/* test_kube_api.c - the calls of kube_api.h against the API stand-in over
 * TLS: pod DELETE with a UID precondition and dry run, Eviction and a
 * PodDisruptionBudget, Events with series and the note cap, /status
 * patches, generic get/create/replace/merge-patch, the Lease race,
 * TokenReview; and the clear functions on what they may be handed. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube_api.h"
#include "kube_client.h"
#include "standin_harness.h"
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
	struct kube_api_delete_opts d = { .uid = "not-the-uid", .grace_period = 0 };
	struct kube_error err;
	json_t *pod, *log, *body;
	char uid[128];

	kt_seed(&S, json_pack("[o]", kt_pod("w", "victim", "web", false, 1)));
	pod = stored("Pod", "w", "victim");
	snprintf(uid, sizeof(uid), "%s", uid_of(pod));
	json_decref(pod);

	/* The UID of a replacement: 409, and the pod stays. */
	ck_assert_int_eq(kube_api_pod_delete(c, "w", "victim", &d, &err), -ESTALE);
	ck_assert_int_eq(err.code, 409);
	ck_assert_ptr_nonnull(strstr(err.message, "Precondition failed"));
	pod = stored("Pod", "w", "victim");
	ck_assert_ptr_nonnull(pod);
	json_decref(pod);
	/* Dry run: validated, not done. */
	kt_clear(&S);
	d.uid = uid;
	d.dry_run = true;
	ck_assert_int_eq(kube_api_pod_delete(c, "w", "victim", &d, &err), 0);
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
	ck_assert_int_eq(kube_api_pod_delete(c, "w", "victim", &d, &err), 0);
	ck_assert_ptr_null(stored("Pod", "w", "victim"));
	ck_assert_int_eq(kube_api_pod_delete(c, "w", "victim", &d, &err), -ENOENT);
	kube_client_free(c);
}
END_TEST

START_TEST(test_eviction_and_pdb)
{
	struct kube_client_opts o = kt_fast_opts();
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, &o);
	struct kube_api_delete_opts d = { .grace_period = -1 };
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
	ck_assert_int_eq(kube_api_pod_evict(c, "e", "guarded-1", &d, &err), -EAGAIN);
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
	ck_assert_int_eq(kube_api_pod_evict(c, "e", "free-1", &d, &err), -ESTALE);
	json_decref(pod);
	/* No budget in the way, through one 500: evicted. */
	pod = stored("Pod", "e", "free-1");
	d.uid = uid_of(pod);
	kt_faults(&S, "{\"status_500\": {\"count\": 1, \"path_regex\": \"eviction\"}}");
	ck_assert_int_eq(kube_api_pod_evict(c, "e", "free-1", &d, &err), 0);
	ck_assert_uint_eq(err.attempts, 2);
	ck_assert_ptr_null(stored("Pod", "e", "free-1"));
	ck_assert_int_eq(kube_api_pod_evict(c, "e", "free-1", &d, &err), -ENOENT);
	json_decref(pod);
	kube_client_free(c);
}
END_TEST

START_TEST(test_events_with_series)
{
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, NULL);
	struct kube_api_event ev = {
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
	ck_assert_int_eq(kube_api_event_create(c, "ev", &ev, &name, &err), 0);
	ck_assert_ptr_nonnull(name);
	ck_assert(strncmp(name, "api-7d9f-x2.", 12) == 0);
	ck_assert_int_eq(kube_api_get(c, &kube_res_events, "ev", name, &obj, &err), 0);
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
	ck_assert_int_eq(kube_api_event_series_update(c, "ev", name, 2, &later, &err), 0);
	ck_assert_int_eq(kube_api_get(c, &kube_res_events, "ev", name, &obj, &err), 0);
	series = json_object_get(obj, "series");
	ck_assert_int_eq(json_integer_value(json_object_get(series, "count")), 2);
	ck_assert_ptr_nonnull(json_object_get(series, "lastObservedTime"));
	json_decref(obj);
	/* The same name again: the create is refused, not duplicated. */
	ev.name = name;
	ck_assert_int_eq(kube_api_event_create(c, "ev", &ev, NULL, &err), -EEXIST);
	ck_assert_int_eq(kube_api_event_series_update(c, "ev", "gone", 3, NULL, &err), -ENOENT);
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
	ck_assert_int_eq(kube_api_create(c, &kube_res_workloadprofiles, "st", wp, true, &obj, &err), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(obj, "metadata"),
							     "generation")), 1);
	json_decref(obj);
	status = json_pack("{si si s[{ss ss ss}]}", "matchedPods", 4, "violations", 12,
			   "conditions", "type", "Ready", "status", "True", "reason", "Accepted");
	ck_assert_int_eq(kube_api_status_patch(c, &kube_res_workloadprofiles, "st", "payments", status,
					       &err), 0);
	ck_assert_int_eq(kube_api_get(c, &kube_res_workloadprofiles, "st", "payments", &obj, &err), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(obj, "status"),
							     "matchedPods")), 4);
	/* Status does not bump the generation. */
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(obj, "metadata"),
							     "generation")), 1);
	json_decref(obj);
	ck_assert_int_eq(kube_api_status_patch(c, &kube_res_workloadprofiles, "st", "nope", status,
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
	ck_assert_int_eq(kube_api_create(c, &kube_res_validatingwebhookconfigurations, NULL, vwc, true,
					 NULL, &err), 0);
	/* Read, change the caBundle, write back under the resourceVersion. */
	ck_assert_int_eq(kube_api_get(c, &kube_res_validatingwebhookconfigurations, NULL,
				      "profileguard", &obj, &err), 0);
	stale = json_deep_copy(obj);
	json_object_set_new(json_object_get(json_array_get(json_object_get(obj, "webhooks"), 0),
					    "clientConfig"), "caBundle", json_string("Q0E="));
	ck_assert_int_eq(kube_api_replace(c, &kube_res_validatingwebhookconfigurations, NULL,
					  "profileguard", obj, NULL, &err), 0);
	/* The same write from a stale read: another writer won. */
	ck_assert_int_eq(kube_api_replace(c, &kube_res_validatingwebhookconfigurations, NULL,
					  "profileguard", stale, NULL, &err), -ESTALE);
	ck_assert_int_eq(err.code, 409);
	json_decref(obj);
	json_decref(stale);
	/* A merge patch of labels. */
	patch = json_pack("{s{s{ss}}}", "metadata", "labels", "app.kubernetes.io/managed-by",
			  "profileguard");
	ck_assert_int_eq(kube_api_merge_patch(c, &kube_res_validatingwebhookconfigurations, NULL,
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
	ck_assert_int_eq(kube_api_create(c, &kube_res_secrets, "default", secret, true, NULL, &err), 0);
	ck_assert_int_eq(kube_api_create(c, &kube_res_secrets, "default", secret, true, NULL, &err),
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
	struct kube_api_lease want = { .holder = "replica-a", .duration_s = 15 }, got = { 0 }, other;
	struct kube_error err;

	clock_gettime(CLOCK_REALTIME, &want.acquire);
	want.renew = want.acquire;
	ck_assert_int_eq(kube_api_lease_get(a, "default", "profileguard-controller", &got, &err),
			 -ENOENT);
	ck_assert_int_eq(kube_api_lease_create(a, "default", "profileguard-controller", &want, &got,
					       &err), 0);
	ck_assert_str_eq(got.holder, "replica-a");
	ck_assert_int_eq(got.duration_s, 15);
	ck_assert_int_eq(got.renew.tv_sec, want.renew.tv_sec);
	ck_assert_ptr_nonnull(got.resource_version);
	/* B tries to create too: lost. */
	want.holder = "replica-b";
	ck_assert_int_eq(kube_api_lease_create(b, "default", "profileguard-controller", &want, NULL,
					       &err), -ESTALE);
	ck_assert_int_eq(err.code, 409);
	/* Both read the same version; A renews first, B's takeover loses. */
	ck_assert_int_eq(kube_api_lease_get(b, "default", "profileguard-controller", &other, &err), 0);
	ck_assert_str_eq(other.resource_version, got.resource_version);
	got.renew.tv_sec += 10;
	ck_assert_int_eq(kube_api_lease_update(a, "default", "profileguard-controller", &got, &got,
					       &err), 0);
	pg_free(other.holder);
	other.holder = pg_strdup("replica-b");
	other.transitions++;
	ck_assert_int_eq(kube_api_lease_update(b, "default", "profileguard-controller", &other, NULL,
					       &err), -ESTALE);
	ck_assert_int_eq(err.code, 409);
	kube_api_lease_clear(&other);
	ck_assert_int_eq(kube_api_lease_get(b, "default", "profileguard-controller", &other, &err), 0);
	ck_assert_str_eq(other.holder, "replica-a");
	ck_assert_int_eq(other.transitions, 0);
	kube_api_lease_clear(&other);
	kube_api_lease_clear(&got);
	kube_client_free(a);
	kube_client_free(b);
}
END_TEST

START_TEST(test_token_review)
{
	struct kube_client *c = kt_client(&S, KT_AUTH_CERT, NULL, NULL);
	const char *aud[] = { "https://kubernetes.default.svc", NULL };
	struct kube_api_token_review tr;
	struct kube_error err;
	json_t *log;
	char *text;

	kt_clear(&S);
	ck_assert_int_eq(kube_api_token_review(c, KT_TOKEN_AGENT, aud, &tr, &err), 0);
	ck_assert(tr.authenticated);
	ck_assert_str_eq(tr.username, "system:serviceaccount:profileguard:agent");
	ck_assert_str_eq(tr.uid, "0b8f5c1e-agent-a");
	ck_assert_uint_eq(tr.ngroups, 3);
	ck_assert_str_eq(tr.groups[2], "system:authenticated");
	ck_assert_uint_eq(tr.naudiences, 1);
	ck_assert_str_eq(kube_api_token_review_extra(&tr, "authentication.kubernetes.io/node-name"),
			 "node-a");
	ck_assert_str_eq(kube_api_token_review_extra(&tr, "authentication.kubernetes.io/pod-uid"),
			 "7d3c");
	ck_assert_ptr_null(kube_api_token_review_extra(&tr, "nope"));
	ck_assert_ptr_null(tr.error);
	kube_api_token_review_clear(&tr);
	/* The token travelled in the body only (the stand-in redacts it in
	 * its log; it must not show in the query or a header). */
	log = kt_requests(&S, "POST", "tokenreviews$");
	ck_assert_uint_eq(json_array_size(log), 1);
	text = json_dumps(log, 0);
	ck_assert_ptr_null(strstr(text, KT_TOKEN_AGENT));
	free(text);
	json_decref(log);

	ck_assert_int_eq(kube_api_token_review(c, "forged-token", NULL, &tr, &err), 0);
	ck_assert(!tr.authenticated);
	ck_assert_ptr_nonnull(tr.error);
	ck_assert_ptr_null(tr.username);
	kube_api_token_review_clear(&tr);
	/* The wrong audience. */
	aud[0] = "https://elsewhere";
	ck_assert_int_eq(kube_api_token_review(c, KT_TOKEN_AGENT, aud, &tr, &err), 0);
	ck_assert(!tr.authenticated);
	kube_api_token_review_clear(&tr);
	kube_client_free(c);
}
END_TEST

START_TEST(test_event_note_cap)
{
	/* The API server refuses a note over 1 KiB: it is cut there, on a
	 * UTF-8 boundary, rather than the Event being lost. */
	struct kube_client *c = kt_client(&S, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, NULL);
	struct kube_api_event ev = {
		.type = "Warning", .reason = "UnexpectedExecutable", .action = "Delete",
		.regarding = { "v1", "Pod", "ev", "cap", "uid-1" },
	};
	char note[1100], *name = NULL;
	struct kube_error err;
	json_t *obj = NULL;
	const char *got;

	kt_namespace(&S, "ev");
	/* exactly 1024 bytes: kept whole */
	memset(note, 'a', 1024);
	note[1024] = '\0';
	ev.note = note;
	ev.name = "at-the-cap";
	ck_assert_int_eq(kube_api_event_create(c, "ev", &ev, &name, &err), 0);
	ck_assert_int_eq(kube_api_get(c, &kube_res_events, "ev", name, &obj, &err), 0);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(obj, "note"))), 1024);
	json_decref(obj);
	pg_free(name);
	/* 1023 ASCII bytes, then "é" across the cap: cut before it */
	memset(note, 'b', 1023);
	memcpy(note + 1023, "\xc3\xa9tail", 7);
	ev.name = "past-the-cap";
	ck_assert_int_eq(kube_api_event_create(c, "ev", &ev, &name, &err), 0);
	ck_assert_int_eq(kube_api_get(c, &kube_res_events, "ev", name, &obj, &err), 0);
	got = json_string_value(json_object_get(obj, "note"));
	ck_assert_uint_eq(strlen(got), 1023);
	ck_assert(strncmp(got, note, 1023) == 0);
	json_decref(obj);
	pg_free(name);
	kube_client_free(c);
}
END_TEST

START_TEST(test_clear_is_null_and_zero_safe)
{
	struct kube_api_lease l = { 0 };
	struct kube_api_token_review tr = { 0 };

	kube_api_lease_clear(NULL);
	kube_api_lease_clear(&l);
	l.holder = pg_strdup("a");
	kube_api_lease_clear(&l);
	ck_assert_ptr_null(l.holder);
	kube_api_lease_clear(&l);                   /* twice */
	kube_api_token_review_clear(NULL);
	kube_api_token_review_clear(&tr);
	kube_api_token_review_clear(&tr);
	ck_assert_ptr_null(kube_api_token_review_extra(&tr, "authentication.kubernetes.io/node-name"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_api");
	TCase *tc = tcase_create("standin");
	TCase *pure = tcase_create("pure");
	SRunner *sr;
	int failed;

	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tc, start, stop);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pod_delete_preconditions);
	tcase_add_test(tc, test_eviction_and_pdb);
	tcase_add_test(tc, test_events_with_series);
	tcase_add_test(tc, test_status_patch);
	tcase_add_test(tc, test_generic_get_replace_patch);
	tcase_add_test(tc, test_lease_race);
	tcase_add_test(tc, test_token_review);
	tcase_add_test(tc, test_event_note_cap);
	suite_add_tcase(s, pure);
	tcase_add_test(pure, test_clear_is_null_and_zero_safe);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
