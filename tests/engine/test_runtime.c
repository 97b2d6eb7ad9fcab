/* test_runtime.c - telemetry judgements: each reason, allowed and
 * denied, with the exact message; the rate window; token replay. */
#include <check.h>
#include <stdlib.h>

#include "runtime.h"
#include "../lib/testutil.h"

#define PROF "runtime: {executables: [/app/server, \"/usr/bin/*\"], " \
	"egress: [{cidr: 10.0.0.0/8, ports: [5432, 443]}, {cidr: 'fd00::/8'}], " \
	"files: {read: [\"/etc/ssl/*\", \"/app/*\"], write: [\"/tmp/*\"]}, " \
	"kubernetesAPI: [{verbs: [get, list, watch], resources: [configmaps]}, " \
	"{verbs: [get], resources: [apps/deployments, pods/log], resourceNames: [api]}], maxAPICallsPerMinute: 5}, " \
	"identity: {maxTokenAgeSeconds: 3600, legacyTokenSecrets: Forbid}"

static struct profile *prof;
static struct pod *pod;

static void setup(void)
{
	prof = tu_profile(PROF);
	pod = tu_pod("apiVersion: v1\nkind: Pod\nmetadata: {name: api-1, namespace: ns, uid: u1, labels: {app: a}}\n"
		     "spec: {containers: [{name: api, image: x}]}\n"
		     "status: {podIPs: [{ip: 10.1.2.3}, {ip: 'fd00::3'}],\n"
		     "  containerStatuses: [{name: api, containerID: 'containerd://0123456789abcdef0123456789abcdef'}]}\n");
}

static void teardown(void)
{
	profile_free(prof);
	pod_free(pod);
}

static void expect(const struct runtime_event *ev, const char *want, enum reason reason)
{
	struct findings f;

	findings_init(&f, 0);
	ck_assert_int_eq(runtime_judge(prof, pod, ev, &f), 0);
	if (!want) {
		ck_assert_msg(f.n == 0, "unexpected: %s", f.n ? f.v[0].message : "");
	} else {
		ck_assert_uint_eq(f.n, 1);
		ck_assert_str_eq(f.v[0].message, want);
		ck_assert_int_eq(f.v[0].reason, reason);
	}
	findings_free(&f);
}

START_TEST(test_exec)
{
	struct runtime_event ev = { .kind = RUNTIME_EXEC, .container = "api", .exe = "/app/server" };

	expect(&ev, NULL, 0);
	ev.exe = "/usr/bin/curl";
	expect(&ev, NULL, 0);
	ev.exe = "/bin/sh";
	expect(&ev, "container \"api\": exec \"/bin/sh\" not allowed by ns/p runtime.executables", R_UNEXPECTED_EXECUTABLE);
	ev.container = NULL;
	expect(&ev, "pod ns/api-1: exec \"/bin/sh\" not allowed by ns/p runtime.executables", R_UNEXPECTED_EXECUTABLE);
}
END_TEST

START_TEST(test_egress)
{
	struct runtime_event ev = { .kind = RUNTIME_CONNECT, .container = "api", .dport = 5432, .protocol = "tcp" };

	netaddr_parse("10.9.9.9", &ev.daddr);
	expect(&ev, NULL, 0);
	ev.dport = 22;
	expect(&ev, "container \"api\": connect 10.9.9.9:22/tcp not allowed by ns/p runtime.egress", R_UNEXPECTED_EGRESS);
	netaddr_parse("8.8.8.8", &ev.daddr);
	ev.dport = 443;
	expect(&ev, "container \"api\": connect 8.8.8.8:443/tcp not allowed by ns/p runtime.egress", R_UNEXPECTED_EGRESS);
	netaddr_parse("fd00::1:2", &ev.daddr);
	ev.dport = 9999;
	expect(&ev, NULL, 0);   /* no ports: any port */
	netaddr_parse("2001:db8::1", &ev.daddr);
	ev.protocol = "udp";
	expect(&ev, "container \"api\": connect [2001:db8::1]:9999/udp not allowed by ns/p runtime.egress", R_UNEXPECTED_EGRESS);
	netaddr_parse("127.0.0.1", &ev.daddr);
	expect(&ev, NULL, 0);   /* loopback is not egress */
	netaddr_parse("::1", &ev.daddr);
	expect(&ev, NULL, 0);
	netaddr_parse("::ffff:10.0.0.1", &ev.daddr);     /* mapped form */
	ev.dport = 443;
	expect(&ev, NULL, 0);
}
END_TEST

START_TEST(test_files)
{
	struct runtime_event ev = { .kind = RUNTIME_OPEN, .container = "api", .path = "/etc/ssl/certs/ca.pem" };

	expect(&ev, NULL, 0);
	ev.path = "/tmp/x";
	expect(&ev, NULL, 0);           /* writable implies readable */
	ev.path = "/etc/shadow";
	expect(&ev, "container \"api\": read \"/etc/shadow\" not allowed by ns/p runtime.files.read", R_UNEXPECTED_FILE_ACCESS);
	ev.write = true;
	ev.path = "/tmp/x";
	expect(&ev, NULL, 0);
	ev.path = "/app/config";
	expect(&ev, "container \"api\": write \"/app/config\" not allowed by ns/p runtime.files.write", R_UNEXPECTED_FILE_ACCESS);
}
END_TEST

START_TEST(test_files_absent_constrains_nothing)
{
	struct profile *p = tu_profile("runtime: {files: {write: []}}");
	struct runtime_event ev = { .kind = RUNTIME_OPEN, .container = "api", .path = "/anything" };
	struct findings f;

	findings_init(&f, 0);
	ck_assert_int_eq(runtime_judge(p, pod, &ev, &f), 0);
	ck_assert_uint_eq(f.n, 0);
	ev.write = true;
	ck_assert_int_eq(runtime_judge(p, pod, &ev, &f), 0);
	ck_assert_uint_eq(f.n, 1);      /* empty list: no writes at all */
	findings_free(&f);
	profile_free(p);
}
END_TEST

START_TEST(test_api_calls)
{
	struct runtime_event ev = { .kind = RUNTIME_API, .username = "system:serviceaccount:ns:api",
			       .verb = "list", .api_group = "", .resource = "configmaps",
			       .object_namespace = "ns" };

	expect(&ev, NULL, 0);
	ev.resource = "secrets";
	expect(&ev, "identity \"system:serviceaccount:ns:api\": list secrets in ns not allowed by ns/p runtime.kubernetesAPI",
	       R_UNEXPECTED_API_CALL);
	ev.verb = "get";
	ev.api_group = "apps";
	ev.resource = "deployments";
	ev.object_name = "api";
	expect(&ev, NULL, 0);
	ev.object_name = "other";
	expect(&ev, "identity \"system:serviceaccount:ns:api\": get apps/deployments \"other\" in ns not allowed by ns/p runtime.kubernetesAPI",
	       R_UNEXPECTED_API_CALL);
	ev.object_name = NULL;
	ev.verb = "list";
	expect(&ev, "identity \"system:serviceaccount:ns:api\": list apps/deployments in ns not allowed by ns/p runtime.kubernetesAPI",
	       R_UNEXPECTED_API_CALL);
	ev.api_group = "";
	ev.verb = "get";
	ev.resource = "pods";
	ev.subresource = "log";
	ev.object_name = "api";
	expect(&ev, NULL, 0);
	ev.subresource = "exec";
	expect(&ev, "identity \"system:serviceaccount:ns:api\": get pods/exec \"api\" in ns not allowed by ns/p runtime.kubernetesAPI",
	       R_UNEXPECTED_API_CALL);
	ev.resource = NULL;                     /* a non-resource URL */
	expect(&ev, NULL, 0);
}
END_TEST

START_TEST(test_api_token_annotations)
{
	struct runtime_event ev = { .kind = RUNTIME_API, .username = "system:serviceaccount:ns:api",
			       .verb = "get", .api_group = "", .resource = "configmaps", .legacy_token = true };
	struct findings f;

	expect(&ev, "identity \"system:serviceaccount:ns:api\": API call with a legacy service-account token Secret forbidden by ns/p identity.legacyTokenSecrets",
	       R_LEGACY_TOKEN);
	ev.legacy_token = false;
	ev.stale_token = true;
	expect(&ev, "identity \"system:serviceaccount:ns:api\": API call with a stale token (the API server flagged it), reported by ns/p identity",
	       R_STALE_TOKEN);
	ev.resource = "secrets";
	findings_init(&f, 0);
	ck_assert_int_eq(runtime_judge(prof, pod, &ev, &f), 0);
	ck_assert_uint_eq(f.n, 2);
	findings_free(&f);
}
END_TEST

START_TEST(test_token_claims)
{
	struct runtime_event ev = { .kind = RUNTIME_TOKEN, .container = "api", .time = 100000, .iat = 99000, .exp = 102600 };

	expect(&ev, NULL, 0);
	ev.iat = 90000;
	expect(&ev, "container \"api\": token issued 10000 s ago exceeds 3600, not allowed by ns/p identity.maxTokenAgeSeconds",
	       R_STALE_TOKEN);
	ev.iat = 99000;
	ev.exp = 99500;
	expect(&ev, "container \"api\": token expired 500 s ago and was not rotated, not allowed by ns/p identity.maxTokenAgeSeconds",
	       R_STALE_TOKEN);
}
END_TEST

START_TEST(test_rate)
{
	struct findings f;

	findings_init(&f, 0);
	ck_assert_int_eq(runtime_judge_rate(prof, pod, "system:serviceaccount:ns:api", 5, &f), 0);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_int_eq(runtime_judge_rate(prof, pod, "system:serviceaccount:ns:api", 6, &f), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_int_eq(f.v[0].reason, R_API_RATE_EXCEEDED);
	ck_assert_str_eq(f.v[0].message, "identity \"system:serviceaccount:ns:api\": 6 API calls in the last minute exceed 5, "
			 "not allowed by ns/p runtime.maxAPICallsPerMinute");
	findings_free(&f);
}
END_TEST

START_TEST(test_ratewin)
{
	struct runtime_ratewin w;

	runtime_ratewin_init(&w);
	ck_assert_uint_eq(runtime_ratewin_add(&w, 1000, 3), 3);
	ck_assert_uint_eq(runtime_ratewin_add(&w, 1030, 2), 5);
	ck_assert_uint_eq(runtime_ratewin_add(&w, 1059, 1), 6);
	ck_assert_uint_eq(runtime_ratewin_add(&w, 1060, 0), 3);         /* second 1000 slid out */
	ck_assert_uint_eq(runtime_ratewin_add(&w, 1089, 0), 3);         /* 1030..1089 */
	ck_assert_uint_eq(runtime_ratewin_add(&w, 1090, 0), 1);         /* second 1030 slid out */
	ck_assert_uint_eq(runtime_ratewin_add(&w, 1118, 0), 1);
	ck_assert_uint_eq(runtime_ratewin_add(&w, 1119, 0), 0);
	ck_assert_uint_eq(runtime_ratewin_add(&w, 5000, 7), 7);         /* a long gap */
	ck_assert_uint_eq(runtime_ratewin_add(&w, 4000, 1), 8);         /* the past counts as now */
}
END_TEST

START_TEST(test_replay)
{
	struct findings f;
	const char *user = "system:serviceaccount:ns:api";

	findings_init(&f, 0);
	ck_assert_int_eq(runtime_judge_replay(prof, pod, false, -1, "10.1.2.3", user, &f), 0);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_int_eq(runtime_judge_replay(prof, pod, false, -1, "fd00:0::3", user, &f), 0);
	ck_assert_uint_eq(f.n, 0);      /* another spelling of the pod's IPv6 */
	ck_assert_int_eq(runtime_judge_replay(prof, pod, false, -1, "203.0.113.9", user, &f), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_str_eq(f.v[0].message, "token of pod ns/api-1: used from \"203.0.113.9\", not from the pod's address 10.1.2.3: "
			 "a replayed token, reported by ns/p identity");
	ck_assert_int_eq(f.v[0].reason, R_TOKEN_REPLAY);
	ck_assert_str_eq(f.v[0].value, "203.0.113.9");
	findings_free(&f);
}
END_TEST

/* The node's address is the pod's too: masquerading (SNAT, some CNIs)
 * puts the pod's calls there.  status.hostIPs, or hostIP alone. */
START_TEST(test_replay_from_node_address)
{
	static const char *const statuses[] = {
		"{podIPs: [{ip: 10.1.2.3}], hostIP: 192.168.0.10}",
		"{podIPs: [{ip: 10.1.2.3}], hostIP: 192.168.0.10, hostIPs: [{ip: 192.168.0.10}, {ip: 'fd00:1::10'}]}",
	};

	for (size_t k = 0; k < 2; k++) {
		char yaml[1024];
		struct findings f;
		struct pod *p;

		snprintf(yaml, sizeof(yaml), "apiVersion: v1\nkind: Pod\nmetadata: {name: api-1, namespace: ns, uid: u1, labels: {app: a}}\n"
			 "spec: {nodeName: n1, containers: [{name: api, image: x}]}\nstatus: %s\n", statuses[k]);
		p = tu_pod(yaml);
		findings_init(&f, 0);
		ck_assert_int_eq(runtime_judge_replay(prof, p, false, -1, "192.168.0.10", "u", &f), 0);
		ck_assert_msg(f.n == 0, "from the node's address: %s", f.n ? f.v[0].message : "");
		if (k == 1) {
			ck_assert_int_eq(runtime_judge_replay(prof, p, false, -1, "fd00:1:0::10", "u", &f), 0);
			ck_assert_uint_eq(f.n, 0);
		}
		ck_assert_int_eq(runtime_judge_replay(prof, p, false, -1, "192.168.0.11", "u", &f), 0);
		ck_assert_uint_eq(f.n, 1);
		ck_assert_str_eq(f.v[0].message, "token of pod ns/api-1: used from \"192.168.0.11\", not from the pod's "
				 "address 10.1.2.3 or its node's 192.168.0.10: a replayed token, reported by ns/p identity");
		findings_free(&f);
		pod_free(p);
	}
}
END_TEST

/* A pod with no address yet (Pending, its sandbox not up) is not judged
 * on address: unknown is not a mismatch. */
START_TEST(test_replay_no_address_yet)
{
	struct pod *p = tu_pod("apiVersion: v1\nkind: Pod\nmetadata: {name: api-1, namespace: ns, uid: u1, labels: {app: a}}\n"
			       "spec: {containers: [{name: api, image: x}]}\nstatus: {phase: Pending}\n");
	struct findings f;

	findings_init(&f, 0);
	ck_assert_int_eq(runtime_judge_replay(prof, p, false, -1, "203.0.113.9", "u", &f), 0);
	ck_assert_uint_eq(f.n, 0);
	findings_free(&f);
	pod_free(p);
}
END_TEST

/* After the pod is gone: the call's requestReceivedTimestamp against the
 * pod's deletionTimestamp, both the API server's.  A late batch about a
 * call made while the pod lived is judged as that call was. */
START_TEST(test_replay_after_deletion)
{
	/* deletionTimestamp 2026-11-22T10:00:00Z = 1795341600 */
	struct pod *gone = tu_pod("apiVersion: v1\nkind: Pod\nmetadata: {name: api-0, namespace: ns, uid: u0, labels: {app: a},\n"
				  "  deletionTimestamp: '2026-11-22T10:00:00Z'}\n"
				  "spec: {containers: [{name: api, image: x}]}\nstatus: {podIPs: [{ip: 10.1.2.3}]}\n");
	struct pod *unknown = tu_pod("apiVersion: v1\nkind: Pod\nmetadata: {name: api-0, namespace: ns, uid: u0, labels: {app: a}}\n"
				     "spec: {containers: [{name: api, image: x}]}\nstatus: {podIPs: [{ip: 10.1.2.3}]}\n");
	struct findings f;

	ck_assert_int_eq(gone->deletion_time, 1795341600);
	findings_init(&f, 0);
	/* Made 20 s before the deletion, reported late: not a replay. */
	ck_assert_int_eq(runtime_judge_replay(prof, gone, true, 1795341580, "10.1.2.3", "u", &f), 0);
	ck_assert_uint_eq(f.n, 0);
	/* In the very second of the deletion: not provably after. */
	ck_assert_int_eq(runtime_judge_replay(prof, gone, true, 1795341600, "10.1.2.3", "u", &f), 0);
	ck_assert_uint_eq(f.n, 0);
	/* Made before, but from elsewhere: a replay on address. */
	ck_assert_int_eq(runtime_judge_replay(prof, gone, true, 1795341580, "203.0.113.9", "u", &f), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_ptr_nonnull(strstr(f.v[0].message, "not from the pod's address 10.1.2.3"));
	findings_clear(&f);
	/* Received after the deletion, even from the pod's old address. */
	ck_assert_int_eq(runtime_judge_replay(prof, gone, true, 1795341605, "10.1.2.3",
					      "system:serviceaccount:ns:api", &f), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_str_eq(f.v[0].message, "token of pod ns/api-0: used by \"system:serviceaccount:ns:api\" from \"10.1.2.3\" "
			 "5 s after the pod was gone: a stolen token, reported by ns/p identity");
	findings_clear(&f);
	/* No receipt time, or no deletion time the API server gave: no
	 * judgement on time (a local clock is never compared with its). */
	ck_assert_int_eq(runtime_judge_replay(prof, gone, true, -1, "10.1.2.3", "u", &f), 0);
	ck_assert_int_eq(runtime_judge_replay(prof, unknown, true, 1795341605, "10.1.2.3", "u", &f), 0);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_int_eq(runtime_judge_replay(prof, unknown, true, 1795341605, "203.0.113.9", "u", &f), 0);
	ck_assert_uint_eq(f.n, 1);
	findings_free(&f);
	pod_free(gone);
	pod_free(unknown);
}
END_TEST

/* The identity reasons are judged only for a profile with an identity
 * section (SPEC §4): a profile of images or runtime rules alone says
 * nothing about tokens. */
START_TEST(test_identity_reasons_need_identity_section)
{
	struct profile *noid = tu_profile("runtime: {executables: [/app/server]}");
	struct profile *withid = tu_profile("runtime: {executables: [/app/server]}, identity: {}");
	struct runtime_event tok = { .kind = RUNTIME_TOKEN, .container = "api", .time = 100000, .iat = 99000, .exp = 99500 };
	struct runtime_event api = { .kind = RUNTIME_API, .username = "system:serviceaccount:ns:api",
				.verb = "get", .api_group = "", .resource = "configmaps", .stale_token = true };
	struct findings f;

	findings_init(&f, 0);
	ck_assert_int_eq(runtime_judge_replay(noid, pod, false, -1, "203.0.113.9", "u", &f), 0);
	ck_assert_int_eq(runtime_judge(noid, pod, &tok, &f), 0);
	ck_assert_int_eq(runtime_judge(noid, pod, &api, &f), 0);
	ck_assert_msg(f.n == 0, "identity judged without an identity section: %s", f.n ? f.v[0].message : "");
	ck_assert_int_eq(runtime_judge_replay(withid, pod, false, -1, "203.0.113.9", "u", &f), 0);
	ck_assert_int_eq(runtime_judge(withid, pod, &tok, &f), 0);
	ck_assert_int_eq(runtime_judge(withid, pod, &api, &f), 0);
	ck_assert_uint_eq(f.n, 3);
	ck_assert_int_eq(f.v[0].reason, R_TOKEN_REPLAY);
	ck_assert_int_eq(f.v[1].reason, R_STALE_TOKEN);
	ck_assert_int_eq(f.v[2].reason, R_STALE_TOKEN);
	findings_free(&f);
	profile_free(noid);
	profile_free(withid);
}
END_TEST

/* A pod that has finished: what a node reports about it is stale and not
 * judged; what the audit log shows its still-valid token doing is.  Each
 * finding says which evidence it rests on. */
START_TEST(test_finished_pod)
{
	static const char *const phases[] = { "Succeeded", "Failed" };

	for (size_t k = 0; k < 2; k++) {
		char yaml[1024];
		struct pod *done;
		struct findings f;
		struct runtime_event exec = { .kind = RUNTIME_EXEC, .container = "api", .exe = "/bin/sh" };
		struct runtime_event conn = { .kind = RUNTIME_CONNECT, .dport = 22, .protocol = "tcp" };
		struct runtime_event open_ = { .kind = RUNTIME_OPEN, .path = "/etc/shadow" };
		struct runtime_event tok = { .kind = RUNTIME_TOKEN, .time = 100000, .iat = 90000, .exp = 99500 };
		struct runtime_event api = { .kind = RUNTIME_API, .username = "system:serviceaccount:ns:api",
					.verb = "list", .api_group = "", .resource = "secrets",
					.object_namespace = "ns", .legacy_token = true };
		const struct runtime_event *stale[] = { &exec, &conn, &open_, &tok };

		snprintf(yaml, sizeof(yaml),
			 "apiVersion: v1\nkind: Pod\nmetadata: {name: api-1, namespace: ns, uid: u1, labels: {app: a}}\n"
			 "spec: {containers: [{name: api, image: x}]}\n"
			 "status: {phase: %s, podIPs: [{ip: 10.1.2.3}]}\n", phases[k]);
		done = tu_pod(yaml);
		ck_assert_int_eq(netaddr_parse("192.0.2.1", &conn.daddr), 0);
		findings_init(&f, 0);
		for (size_t i = 0; i < 4; i++) {
			/* The running pod is judged on each, as node evidence. */
			ck_assert_int_eq(runtime_judge(prof, pod, stale[i], &f), 0);
			ck_assert_uint_ge(f.n, 1);
			for (size_t j = 0; j < f.n; j++)
				ck_assert_int_eq(f.v[j].evidence, EV_NODE);
			findings_clear(&f);
			ck_assert_int_eq(runtime_judge(prof, done, stale[i], &f), 0);
			ck_assert_msg(f.n == 0, "%s pod judged on a node report: %s", phases[k], f.v[0].message);
		}
		ck_assert_int_eq(runtime_judge(prof, done, &api, &f), 0);
		ck_assert_uint_eq(f.n, 2);
		ck_assert_int_eq(f.v[0].reason, R_LEGACY_TOKEN);
		ck_assert_int_eq(f.v[1].reason, R_UNEXPECTED_API_CALL);
		ck_assert_int_eq(runtime_judge_rate(prof, done, api.username, 6, &f), 0);
		ck_assert_int_eq(runtime_judge_replay(prof, done, false, -1, "203.0.113.9",
						      api.username, &f), 0);
		ck_assert_uint_eq(f.n, 4);
		ck_assert_int_eq(f.v[2].reason, R_API_RATE_EXCEEDED);
		ck_assert_int_eq(f.v[3].reason, R_TOKEN_REPLAY);
		for (size_t j = 0; j < f.n; j++)
			ck_assert_int_eq(f.v[j].evidence, EV_AUDIT);
		findings_free(&f);
		pod_free(done);
	}
}
END_TEST

START_TEST(test_container_ids)
{
	ck_assert_str_eq(pod_container_by_id(pod, "0123456789abcdef0123456789abcdef"), "api");
	ck_assert_str_eq(pod_container_by_id(pod, "containerd://0123456789abcdef0123456789abcdef"), "api");
	ck_assert_str_eq(pod_container_by_id(pod, "0123456789ab"), "api");     /* Falco's 12 hex */
	ck_assert_ptr_null(pod_container_by_id(pod, "0123456789a"));           /* too short to trust */
	ck_assert_ptr_null(pod_container_by_id(pod, "fedcba987654"));
	ck_assert(pod_has_ip(pod, "10.1.2.3"));
	ck_assert(!pod_has_ip(pod, "10.1.2.4"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("runtime");
	TCase *tc = tcase_create("runtime");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_exec);
	tcase_add_test(tc, test_egress);
	tcase_add_test(tc, test_files);
	tcase_add_test(tc, test_files_absent_constrains_nothing);
	tcase_add_test(tc, test_api_calls);
	tcase_add_test(tc, test_api_token_annotations);
	tcase_add_test(tc, test_token_claims);
	tcase_add_test(tc, test_rate);
	tcase_add_test(tc, test_ratewin);
	tcase_add_test(tc, test_replay);
	tcase_add_test(tc, test_replay_from_node_address);
	tcase_add_test(tc, test_replay_no_address_yet);
	tcase_add_test(tc, test_replay_after_deletion);
	tcase_add_test(tc, test_identity_reasons_need_identity_section);
	tcase_add_test(tc, test_container_ids);
	tcase_add_test(tc, test_finished_pod);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
