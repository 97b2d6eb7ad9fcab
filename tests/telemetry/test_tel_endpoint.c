/* test_tel_endpoint.c - the telemetry endpoint from request to reply:
 * routes and methods, followers answering 503, refusals before the body
 * is read, audit only from senders without a node claim, the node of a
 * pod-bound token without the claim, and the counts of the reply. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "tel_auth.h"
#include "tel_endpoint.h"
#include "../lib/testutil.h"

static struct pod *pod_a;
static struct profile_set set;
static size_t nreports;
static bool leading;
static struct ingest *ing;
static struct tel_auth *auth;
static struct tel_endpoint *ep;

static const struct pod *by_name(void *ud, const char *ns, const char *name, void **ref)
{
	if (strcmp(ns, pod_a->namespace) || strcmp(name, pod_a->name))
		return NULL;
	*ref = pod_a;
	return pod_a;
}

static const struct pod *by_none(void *ud, const char *k, void **ref)
{
	return NULL;
}

static size_t of_sa(void *ud, const char *ns, const char *sa, const struct pod **p, void **r,
		    size_t max)
{
	return 0;
}

static void release(void *ud, void *ref)
{
}

static const struct profile_set *acquire(void *ud, void **ref)
{
	*ref = &set;
	return &set;
}

static void unacquire(void *ud, void *ref)
{
}

static int submit(void *ud, const struct drift_report *r)
{
	nreports++;
	return 0;
}

static bool serving(void *ud)
{
	return leading;
}

/* The agent pods: "agent-a" on node-a. */
static bool pod_node(void *ud, const char *ns, const char *name, const char *uid, char *out,
		     size_t n)
{
	if (strcmp(ns, "profileguard") || strcmp(name, "agent-a") || (uid && strcmp(uid, "u-agent-a")))
		return false;
	snprintf(out, n, "node-a");
	return true;
}

/* "agent-b": node-b's agent with the node claim; "agent-old": node-a's
 * agent on an API server that writes no node claim; "audit": the audit
 * backend; "nobody": not listed. */
static int review(void *ud, const char *token, const char *audience, struct tel_auth_review *ret)
{
	if (!strcmp(token, "agent-b") || !strcmp(token, "agent-old") || !strcmp(token, "agent-lost")) {
		ret->authenticated = true;
		snprintf(ret->username, sizeof(ret->username), "system:serviceaccount:profileguard:agent");
		if (!strcmp(token, "agent-b"))
			snprintf(ret->node, sizeof(ret->node), "node-b");
		snprintf(ret->pod_name, sizeof(ret->pod_name), "%s",
			 !strcmp(token, "agent-lost") ? "agent-z" : "agent-a");
		snprintf(ret->pod_uid, sizeof(ret->pod_uid), "u-agent-a");
	} else if (!strcmp(token, "audit")) {
		ret->authenticated = true;
		snprintf(ret->username, sizeof(ret->username), "audit-backend");
	} else if (!strcmp(token, "nobody")) {
		ret->authenticated = true;
		snprintf(ret->username, sizeof(ret->username), "nobody");
	}
	return 0;
}

static void setup(void)
{
	static const char *const users[] = { "system:serviceaccount:profileguard:agent", "audit-backend" };
	struct ingest_config ic = {
		.ops = { by_name, by_none, by_none, of_sa, release, acquire, unacquire, NULL, submit, NULL, NULL, NULL },
	};
	struct tel_auth_config ac = { .allowed_users = users, .nallowed = 2, .review = review };
	struct tel_endpoint_config ec = { .serving = serving, .pod_node = pod_node };

	pod_a = tu_pod("apiVersion: v1\nkind: Pod\nmetadata: {name: api-1, namespace: payments, uid: u1, labels: {app: a}}\n"
		       "spec: {nodeName: node-a, containers: [{name: api, image: x}]}\n"
		       "status: {podIPs: [{ip: 10.1.2.3}]}\n");
	profile_set_init(&set);
	profile_set_add(&set, tu_profile("runtime: {executables: [/app/server]}"));
	/* tu_profile makes ns/p: move the pod there. */
	pod_a->namespace = "ns";
	nreports = 0;
	leading = true;
	ck_assert_int_eq(ingest_new(&ic, &ing), 0);
	ck_assert_int_eq(tel_auth_new(&ac, &auth), 0);
	ec.ingest = ing;
	ec.auth = auth;
	ck_assert_int_eq(tel_endpoint_new(&ec, &ep), 0);
}

static void teardown(void)
{
	ep = tel_endpoint_free(ep);
	auth = tel_auth_free(auth);
	ing = ingest_free(ing);
	profile_set_free(&set);
	pod_free(pod_a);
}

#define EXEC "{\"kind\":\"exec\",\"time\":\"2026-11-22T10:00:00Z\",\"pod\":{\"namespace\":\"ns\"," \
	"\"name\":\"api-1\"},\"exe\":\"/bin/sh\"}\n"

static struct tel_endpoint_reply call(const char *method, const char *path, const char *token,
			     const char *body)
{
	struct tel_endpoint_request rq = { .method = method, .path = path, .peer = "127.0.0.1" };
	struct tel_endpoint_reply rep;
	char h[256];

	if (token) {
		snprintf(h, sizeof(h), "Bearer %s", token);
		rq.authorization = h;
	}
	rq.headers_only = true;
	tel_endpoint_handle(ep, &rq, &rep);
	if (rep.status)
		return rep;
	rq.headers_only = false;
	rq.body = body;
	rq.len = strlen(body);
	tel_endpoint_handle(ep, &rq, &rep);
	return rep;
}

START_TEST(test_routes)
{
	struct tel_endpoint_reply r = call("POST", "/telemetry/v1/nothing", "audit", "");

	ck_assert_uint_eq(r.status, 404);
	r = call("GET", "/telemetry/v1/events", "audit", "");
	ck_assert_uint_eq(r.status, 405);
	ck_assert_str_eq(r.allow, "POST");
	leading = false;
	r = call("POST", "/telemetry/v1/events", "audit", EXEC);
	ck_assert_uint_eq(r.status, 503);
	ck_assert_uint_eq(r.retry_after, 2);
	ck_assert_uint_eq(nreports, 0);
}
END_TEST

START_TEST(test_refusals)
{
	struct tel_endpoint_reply r = call("POST", "/telemetry/v1/events", NULL, EXEC);

	ck_assert_uint_eq(r.status, 401);
	r = call("POST", "/telemetry/v1/events", "forged", EXEC);
	ck_assert_uint_eq(r.status, 401);
	r = call("POST", "/telemetry/v1/events", "nobody", EXEC);
	ck_assert_uint_eq(r.status, 403);
	r = call("POST", "/telemetry/v1/audit", "agent-b", "{}");
	ck_assert_uint_eq(r.status, 403);
	/* A pod-bound token without the node claim, for a pod not known. */
	r = call("POST", "/telemetry/v1/events", "agent-lost", EXEC);
	ck_assert_uint_eq(r.status, 403);
	ck_assert_uint_eq(nreports, 0);
}
END_TEST

START_TEST(test_accepted)
{
	struct tel_endpoint_reply r = call("POST", "/telemetry/v1/events", "audit", "bad\n" EXEC);

	ck_assert_uint_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"accepted\":1,\"rejected\":1,\"forbidden\":0,\"unattributed\":0,\"ignored\":0}");
	ck_assert_uint_eq(nreports, 1);
}
END_TEST

START_TEST(test_node_of_bound_token)
{
	/* node-b's agent about a pod on node-a: refused per event. */
	struct tel_endpoint_reply r = call("POST", "/telemetry/v1/events", "agent-b", EXEC);

	ck_assert_uint_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"accepted\":0,\"rejected\":0,\"forbidden\":1,\"unattributed\":0,\"ignored\":0}");
	/* Without the claim, the agent speaks for its own pod's node: node-a. */
	r = call("POST", "/telemetry/v1/events", "agent-old", EXEC);
	ck_assert_str_eq(r.body, "{\"accepted\":1,\"rejected\":0,\"forbidden\":0,\"unattributed\":0,\"ignored\":0}");
	ck_assert_uint_eq(nreports, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tel_endpoint");
	TCase *tc = tcase_create("tel_endpoint");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_routes);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_accepted);
	tcase_add_test(tc, test_node_of_bound_token);
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
