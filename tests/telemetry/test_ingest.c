/* test_ingest.c - the telemetry ingest against fake caches: attribution
 * by name, UID and container ID (full and the 12-hex short form); the
 * other-node rule; audit-only senders; the API rate window; token replay
 * from another address and after the pod is gone; identities without a
 * profile ignored before any lookup; folding of repeats; the counts. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ingest.h"
#include "metrics.h"
#include "../lib/testutil.h"
#include "xalloc.h"

/* ---- fake caches ------------------------------------------------------------- */

#define MAX_PODS 8
#define MAX_REPORTS 64

struct rep {
	char ns[64], pod[64], uid[64], profile[64];
	bool no_pod;
	enum evidence kind;             /* the report's evidence */
	enum pg_mode mode;
	enum action action;
	size_t ngroups;
	enum reason reason[4];
	char evidence[4][400];
};

static struct pod *pods[MAX_PODS];
static size_t npods;
static struct profile_set set;
static struct rep reps[MAX_REPORTS];
static size_t nreps;
static unsigned lookups, refs_held;
static const char *exempt_ns;
static int64_t clock_s = 1795341600;   /* 2026-11-22T10:00:00Z */
static int64_t clock_ms = 1000000;
static struct ingest *ing;
static struct metrics *metrics;

static const struct pod *hold(struct pod *p, void **ref)
{
	if (p) {
		refs_held++;
		*ref = p;
	}
	return p;
}

static const struct pod *by_name(void *ud, const char *ns, const char *name, void **ref)
{
	lookups++;
	for (size_t i = 0; i < npods; i++)
		if (!strcmp(pods[i]->namespace, ns) && !strcmp(pods[i]->name, name))
			return hold(pods[i], ref);
	return NULL;
}

static const struct pod *by_uid(void *ud, const char *uid, void **ref)
{
	lookups++;
	for (size_t i = 0; i < npods; i++)
		if (!strcmp(pods[i]->uid, uid))
			return hold(pods[i], ref);
	return NULL;
}

static const struct pod *by_container(void *ud, const char *id, void **ref)
{
	lookups++;
	for (size_t i = 0; i < npods; i++)
		if (pod_container_by_id(pods[i], id))
			return hold(pods[i], ref);
	return NULL;
}

static size_t of_sa(void *ud, const char *ns, const char *sa, const struct pod **ret,
		    void **ret_refs, size_t max)
{
	size_t n = 0;

	lookups++;
	for (size_t i = 0; i < npods && n < max; i++)
		if (!strcmp(pods[i]->namespace, ns) && !strcmp(pod_service_account(pods[i]), sa) &&
		    !pods[i]->terminating) {
			ret[n] = hold(pods[i], &ret_refs[n]);
			n++;
		}
	return n;
}

static void release(void *ud, void *ref)
{
	ck_assert_ptr_nonnull(ref);
	refs_held--;
}

static const struct profile_set *profiles_acquire(void *ud, void **ref)
{
	*ref = &set;
	return &set;
}

static void profiles_release(void *ud, void *ref)
{
	ck_assert_ptr_eq(ref, &set);
}

static bool ns_exempt(void *ud, const char *ns)
{
	return exempt_ns && !strcmp(ns, exempt_ns);
}

static int submit(void *ud, const struct drift_report *r)
{
	struct rep *x;

	ck_assert_uint_lt(nreps, MAX_REPORTS);
	x = &reps[nreps++];
	memset(x, 0, sizeof(*x));
	snprintf(x->ns, sizeof(x->ns), "%s", r->namespace);
	snprintf(x->pod, sizeof(x->pod), "%s", r->pod);
	snprintf(x->uid, sizeof(x->uid), "%s", r->uid ? r->uid : "");
	snprintf(x->profile, sizeof(x->profile), "%s", r->profile);
	x->no_pod = r->no_pod;
	x->kind = r->evidence;
	x->mode = r->mode;
	x->action = r->action;
	x->ngroups = r->ngroups;
	for (size_t i = 0; i < r->ngroups && i < 4; i++) {
		x->reason[i] = r->groups[i].reason;
		snprintf(x->evidence[i], sizeof(x->evidence[i]), "%s", r->groups[i].evidence[0]);
	}
	return 0;
}

static int64_t fake_now(void)
{
	return clock_s;
}

static int64_t fake_now_ms(void)
{
	return clock_ms;
}

/* ---- fixtures ------------------------------------------------------------------ */

#define CID_API "9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a4f2a6c8e0b1d3f5a7c9e1b3d5f7a"

static struct pod *mkpod(const char *name, const char *uid, const char *node, const char *ip,
			 const char *sa, const char *cid, const char *app)
{
	char y[2048];

	snprintf(y, sizeof(y),
		 "apiVersion: v1\nkind: Pod\n"
		 "metadata: {name: %s, namespace: payments, uid: %s, labels: {app: %s}}\n"
		 "spec: {nodeName: %s, serviceAccountName: %s, containers: [{name: api, image: x}]}\n"
		 "status: {startTime: '2026-11-22T09:00:00Z', podIPs: [{ip: '%s'}],\n"
		 "  containerStatuses: [{name: api, containerID: 'containerd://%s'}]}\n",
		 name, uid, app, node, sa, ip, cid);
	return tu_pod(y);
}

static struct profile *mkprofile(const char *name, const char *mode, const char *app,
				 const char *extra)
{
	char y[4096];
	struct errlist errs;
	struct profile *p = NULL;
	json_t *obj;

	snprintf(y, sizeof(y),
		 "apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
		 "metadata: {name: %s, namespace: payments, uid: uid-%s}\n"
		 "spec: {selector: {matchLabels: {app: %s}}, mode: %s%s%s}\n",
		 name, name, app, mode, *extra ? ", " : "", extra);
	obj = tu_yaml(y);
	errlist_init(&errs, 0);
	ck_assert_msg(profile_parse(tu_jv(obj), "default", &errs, &p) == 0, "%s", errs.n ? errs.msgs[0] : "");
	errlist_free(&errs);
	json_decref(obj);
	return p;
}

#define RUNTIME "runtime: {executables: [/app/server], egress: [{cidr: 10.0.0.0/8}], " \
	"kubernetesAPI: [{verbs: [get], resources: [configmaps]}], maxAPICallsPerMinute: 3}, identity: {}"

/* What account_used heard. */
static int used_n;
static char used_key[128];
static int64_t used_when;
static char used_call[128];
static int audit_batches;

static void account_used(void *ud, const char *ns, const char *sa, const struct runtime_event *ev)
{
	used_n++;
	snprintf(used_key, sizeof(used_key), "%s/%s", ns, sa);
	snprintf(used_call, sizeof(used_call), "%s %s %s", ev->verb, ev->resource,
		 ev->object_namespace ? ev->object_namespace : "-");
	used_when = ev->time;
}

static void audit_batch(void *ud)
{
	audit_batches++;
}

static void setup(void)
{
	struct ingest_config cfg = {
		.ops = { by_name, by_uid, by_container, of_sa, release, profiles_acquire,
			 profiles_release, ns_exempt, submit, NULL, account_used, audit_batch },
		.now = fake_now, .now_ms = fake_now_ms,
	};

	npods = 0;
	pods[npods++] = mkpod("api-1", "u-api-1", "node-a", "10.244.1.7", "payments-api", CID_API, "api");
	pods[npods++] = mkpod("api-2", "u-api-2", "node-b", "10.244.2.9", "payments-api",
			      "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "api");
	pods[npods++] = mkpod("batch-1", "u-batch-1", "node-a", "10.244.1.8", "batch",
			      "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100", "batch");
	profile_set_init(&set);
	ck_assert_int_eq(profile_set_add(&set, mkprofile("api", "Enforce", "api", RUNTIME)), 0);
	ck_assert_int_eq(profile_set_add(&set, mkprofile("batch-audit", "Audit", "batch",
		"runtime: {executables: [/bin/batch]}")), 0);
	nreps = 0;
	used_n = 0;
	lookups = refs_held = 0;
	exempt_ns = NULL;
	metrics = metrics_new();
	cfg.metrics = metrics;
	ck_assert_int_eq(ingest_new(&cfg, &ing), 0);
}

static void teardown(void)
{
	ck_assert_uint_eq(refs_held, 0);
	ing = ingest_free(ing);
	for (size_t i = 0; i < npods; i++)
		pod_free(pods[i]);
	profile_set_free(&set);
	metrics = metrics_free(metrics);
}

static const struct ingest_sender central = { "system:serviceaccount:falco:falco", NULL };
static const struct ingest_sender agent_a = { "system:serviceaccount:profileguard:agent", "node-a" };
static const struct ingest_sender agent_b = { "system:serviceaccount:profileguard:agent", "node-b" };

static struct ingest_result run(const struct ingest_sender *s, enum telemetry_source src, const char *body)
{
	struct ingest_result res;

	ck_assert_int_eq(ingest_batch(ing, s, src, body, strlen(body), 0, &res), 0);
	return res;
}

#define NATIVE_EXEC(podsel, exe) \
	"{\"kind\":\"exec\",\"time\":\"2026-11-22T10:00:00Z\",\"node\":\"node-a\"," podsel \
	",\"container\":\"api\",\"exe\":\"" exe "\"}\n"

/* ---- attribution --------------------------------------------------------------- */

START_TEST(test_by_name)
{
	struct ingest_result r = run(&central, TELEMETRY_NATIVE,
		NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\"}", "/bin/sh")
		NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\"}", "/app/server"));

	ck_assert_uint_eq(r.accepted, 2);
	ck_assert_uint_eq(r.reports, 1);
	ck_assert_uint_eq(nreps, 1);
	ck_assert_str_eq(reps[0].pod, "api-1");
	ck_assert_str_eq(reps[0].uid, "u-api-1");
	ck_assert_str_eq(reps[0].profile, "api");
	ck_assert(!reps[0].no_pod);
	ck_assert_int_eq(reps[0].mode, MODE_ENFORCE);
	ck_assert_int_eq(reps[0].reason[0], R_UNEXPECTED_EXECUTABLE);
	ck_assert_str_eq(reps[0].evidence[0],
			 "container \"api\": exec \"/bin/sh\" not allowed by payments/api runtime.executables");
}
END_TEST

START_TEST(test_by_uid_and_mismatch)
{
	struct ingest_result r = run(&central, TELEMETRY_NATIVE,
		NATIVE_EXEC("\"pod\":{\"uid\":\"u-api-1\"}", "/bin/sh")
		/* The name lives on in another pod: not this event's. */
		NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\",\"uid\":\"old\"}", "/bin/sh")
		NATIVE_EXEC("\"pod\":{\"uid\":\"nobody\"}", "/bin/sh"));

	ck_assert_uint_eq(r.accepted, 1);
	ck_assert_uint_eq(r.unattributed, 2);
	ck_assert_uint_eq(nreps, 1);
	ck_assert_str_eq(reps[0].pod, "api-1");
}
END_TEST

START_TEST(test_by_container_id)
{
	/* Full with the runtime prefix (native, Tetragon), and Falco's 12-hex
	 * short ID: the container's name comes from the pod's status. */
	struct ingest_result r = run(&central, TELEMETRY_NATIVE,
		"{\"kind\":\"connect\",\"time\":\"2026-11-22T10:00:00Z\",\"containerID\":"
		"\"containerd://" CID_API "\",\"daddr\":\"203.0.113.9\",\"dport\":443}\n");

	ck_assert_uint_eq(r.accepted, 1);
	ck_assert_uint_eq(nreps, 1);
	ck_assert_int_eq(reps[0].reason[0], R_UNEXPECTED_EGRESS);
	ck_assert_str_eq(reps[0].evidence[0],
			 "container \"api\": connect 203.0.113.9:443 not allowed by payments/api runtime.egress");
	r = run(&central, TELEMETRY_FALCO,
		"{\"time\":\"2026-11-22T10:00:09Z\",\"hostname\":\"ip-10-0-1-7.ec2.internal\","
		"\"output_fields\":{\"container.id\":\"9c1e3b5d7f9a\",\"evt.type\":\"execve\","
		"\"proc.exepath\":\"/bin/sh\"}}");
	ck_assert_uint_eq(r.accepted, 1);
	ck_assert_uint_eq(nreps, 2);
	ck_assert_str_eq(reps[1].pod, "api-1");
	ck_assert_str_eq(reps[1].evidence[0],
			 "container \"api\": exec \"/bin/sh\" not allowed by payments/api runtime.executables");
	/* Too short to be an ID, or nobody's. */
	r = run(&central, TELEMETRY_FALCO,
		"{\"time\":\"2026-11-22T10:00:09Z\",\"output_fields\":{\"container.id\":\"9c1e3b\","
		"\"evt.type\":\"execve\",\"proc.exepath\":\"/bin/sh\"}}\n"
		"{\"time\":\"2026-11-22T10:00:09Z\",\"output_fields\":{\"container.id\":\"abcdefabcdef\","
		"\"evt.type\":\"execve\",\"proc.exepath\":\"/bin/sh\"}}\n");
	ck_assert_uint_eq(r.unattributed, 2);
	ck_assert_uint_eq(nreps, 2);
}
END_TEST

START_TEST(test_event_before_pod)
{
	/* By name without a UID, an event from before the pod started is an
	 * earlier pod's. */
	struct ingest_result r = run(&central, TELEMETRY_NATIVE,
		"{\"kind\":\"exec\",\"time\":\"2026-11-22T08:00:00Z\",\"pod\":{\"namespace\":\"payments\","
		"\"name\":\"api-1\"},\"exe\":\"/bin/sh\"}\n");

	ck_assert_uint_eq(r.unattributed, 1);
	ck_assert_uint_eq(nreps, 0);
}
END_TEST

/* ---- trust ------------------------------------------------------------------------ */

START_TEST(test_other_node_refused)
{
	const char *body =
		NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-2\"}", "/bin/sh")
		"{\"kind\":\"exec\",\"time\":\"2026-11-22T10:00:00Z\",\"containerID\":"
		"\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\",\"exe\":\"/bin/sh\"}\n";
	struct ingest_result r = run(&agent_a, TELEMETRY_NATIVE, body);

	/* api-2 runs on node-b: node-a's agent may not speak for it. */
	ck_assert_uint_eq(r.forbidden, 2);
	ck_assert_uint_eq(r.accepted, 0);
	ck_assert_uint_eq(nreps, 0);
	r = run(&agent_b, TELEMETRY_NATIVE, body);
	ck_assert_uint_eq(r.accepted, 2);
	ck_assert_uint_eq(nreps, 1);            /* the second one folds into the first */
	ck_assert_uint_eq(r.folded, 1);
	ck_assert_str_eq(reps[0].pod, "api-2");
	/* A sender without a node claim speaks for every node. */
	clock_ms += 20000;
	r = run(&central, TELEMETRY_NATIVE, body);
	ck_assert_uint_eq(r.accepted, 2);
}
END_TEST

START_TEST(test_audit_needs_central_sender)
{
	struct ingest_result r;

	ck_assert_int_eq(ingest_batch(ing, &agent_a, TELEMETRY_AUDIT, "{}", 2, 0, &r), -EPERM);
	ck_assert_uint_eq(lookups, 0);
}
END_TEST

/* ---- audit --------------------------------------------------------------------------- */

static char *audit(char *out, size_t n, const char *verb, const char *resource, const char *ip,
		   const char *pod_name, const char *pod_uid, const char *t, const char *user)
{
	char extra[512] = "";

	if (pod_name)
		snprintf(extra, sizeof(extra), ",\"extra\":{\"authentication.kubernetes.io/pod-name\":[\"%s\"],"
			 "\"authentication.kubernetes.io/pod-uid\":[\"%s\"]}", pod_name, pod_uid);
	snprintf(out, n, "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\","
		 "\"auditID\":\"a\",\"stage\":\"ResponseComplete\",\"verb\":\"%s\",\"user\":{\"username\":"
		 "\"%s\"%s},\"sourceIPs\":[\"%s\"],\"objectRef\":{\"resource\":\"%s\",\"namespace\":"
		 "\"payments\",\"apiVersion\":\"v1\"},\"requestReceivedTimestamp\":\"%s\",\"stageTimestamp\":\"%s\"}\n",
		 verb, user ? user : "system:serviceaccount:payments:payments-api", extra, ip, resource, t, t);
	return out;
}

/* Successful calls are uses of the identity (the inventory's lastUsed),
 * in any namespace, profiles or not; refused ones are not. */
START_TEST(test_audit_account_used)
{
	static const char *const fmt =
		"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\","
		"\"auditID\":\"a\",\"stage\":\"ResponseComplete\",\"verb\":\"get\",\"user\":{\"username\":"
		"\"system:serviceaccount:%s:%s\"},\"sourceIPs\":[\"10.0.0.1\"],\"objectRef\":{\"resource\":"
		"\"configmaps\",\"namespace\":\"%s\",\"apiVersion\":\"v1\"},\"responseStatus\":{\"code\":%d},"
		"\"requestReceivedTimestamp\":\"2026-11-22T10:00:00Z\",\"stageTimestamp\":\"2026-11-22T10:00:00Z\"}\n";
	char b[2048];
	int batches = audit_batches;

	snprintf(b, sizeof(b), fmt, "tools", "cron", "tools", 200);
	run(&central, TELEMETRY_AUDIT, b);
	ck_assert_int_eq(used_n, 1);
	ck_assert_int_eq(audit_batches, batches + 1);
	ck_assert_str_eq(used_key, "tools/cron");
	ck_assert_str_eq(used_call, "get configmaps tools");
	ck_assert_int_eq(used_when, 1795341600);       /* 2026-11-22T10:00:00Z */
	snprintf(b, sizeof(b), fmt, "tools", "cron", "tools", 403);
	run(&central, TELEMETRY_AUDIT, b);
	ck_assert_int_eq(used_n, 1);
	snprintf(b, sizeof(b), fmt, "payments", "payments-api", "payments", 201);
	run(&central, TELEMETRY_AUDIT, b);
	ck_assert_int_eq(used_n, 2);
	ck_assert_str_eq(used_key, "payments/payments-api");
}
END_TEST

START_TEST(test_audit_api_call_and_replay)
{
	char b[2048];
	struct ingest_result r;

	/* From the pod's own address, an allowed call: nothing. */
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "10.244.1.7", "api-1",
					   "u-api-1", "2026-11-22T10:00:00Z", NULL));
	ck_assert_uint_eq(r.accepted, 1);
	ck_assert_uint_eq(nreps, 0);
	/* A call outside kubernetesAPI. */
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "list", "secrets", "10.244.1.7", "api-1",
					   "u-api-1", "2026-11-22T10:00:01Z", NULL));
	ck_assert_uint_eq(nreps, 1);
	ck_assert_int_eq(reps[0].reason[0], R_UNEXPECTED_API_CALL);
	ck_assert_str_eq(reps[0].pod, "api-1");
	/* The pod's token from somewhere else. */
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "203.0.113.9", "api-1",
					   "u-api-1", "2026-11-22T10:00:02Z", NULL));
	ck_assert_uint_eq(nreps, 2);
	ck_assert_int_eq(reps[1].reason[0], R_TOKEN_REPLAY);
	ck_assert(!reps[1].no_pod);
	ck_assert_ptr_nonnull(strstr(reps[1].evidence[0], "used from \"203.0.113.9\", not from the pod's address 10.244.1.7"));
}
END_TEST

/* A pod as the watch showed it last, with @meta (extra metadata) and
 * @status (the whole status). */
static struct pod *mkpod_as(const char *name, const char *uid, const char *meta, const char *status)
{
	char y[2048];

	snprintf(y, sizeof(y),
		 "apiVersion: v1\nkind: Pod\n"
		 "metadata: {name: %s, namespace: payments, uid: %s, labels: {app: api}%s%s}\n"
		 "spec: {nodeName: node-a, serviceAccountName: payments-api, containers: [{name: api, image: x}]}\n"
		 "status: %s\n", name, uid, *meta ? ", " : "", meta, status);
	return tu_pod(y);
}

START_TEST(test_replay_after_deletion)
{
	char b[2048];
	struct ingest_result r;
	struct pod *gone = mkpod_as("api-1", "u-api-1", "deletionTimestamp: '2026-11-22T10:00:03Z'",
				    "{podIPs: [{ip: 10.244.1.7}]}");

	/* Without a memory of the pod, nobody to attribute it to. */
	pod_free(pods[0]);
	pods[0] = pods[--npods];
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "10.244.1.7", "api-1",
					   "u-api-1", "2026-11-22T10:00:00Z", NULL));
	ck_assert_uint_eq(r.unattributed, 1);
	ck_assert_uint_eq(nreps, 0);
	ingest_pod_gone(ing, gone);
	pod_free(gone);
	ck_assert_uint_eq(ingest_gone_count(ing), 1);
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "10.244.1.7", "api-1",
					   "u-api-1", "2026-11-22T10:00:05Z", NULL));
	ck_assert_uint_eq(r.accepted, 1);
	ck_assert_uint_eq(nreps, 1);
	ck_assert(reps[0].no_pod);
	ck_assert_str_eq(reps[0].pod, "api-1");
	ck_assert_str_eq(reps[0].uid, "u-api-1");
	ck_assert_str_eq(reps[0].profile, "api");
	ck_assert_int_eq(reps[0].reason[0], R_TOKEN_REPLAY);
	ck_assert_ptr_nonnull(strstr(reps[0].evidence[0], "2 s after the pod was gone"));
	/* A new pod of the same name is not the one the token is bound to. */
	pods[npods++] = mkpod("api-1", "u-api-1-new", "node-a", "10.244.1.9", "payments-api", CID_API, "api");
	clock_ms += 60000;
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "10.244.1.9", "api-1",
					   "u-api-1", "2026-11-22T10:00:06Z", NULL));
	ck_assert_uint_eq(nreps, 2);
	ck_assert(reps[1].no_pod);
	ck_assert_str_eq(reps[1].uid, "u-api-1");
	/* Forgotten after the memory's time. */
	clock_s += 16 * 60;
	clock_ms += 60000;
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "10.244.1.7", "api-1",
					   "u-api-1", "2026-11-22T10:16:06Z", NULL));
	ck_assert_uint_eq(r.unattributed, 1);
	ck_assert_uint_eq(ingest_gone_count(ing), 0);
}
END_TEST

/* An audit batch that arrives after the pod was deleted, about a call it
 * made 20 s before: judged as that call was, not as a stolen token. */
START_TEST(test_late_batch_after_deletion)
{
	char b[2048];
	struct ingest_result r;
	struct pod *gone = mkpod_as("api-1", "u-api-1", "deletionTimestamp: '2026-11-22T10:00:20Z'",
				    "{podIPs: [{ip: 10.244.1.7}], hostIP: 192.168.1.10}");

	pod_free(pods[0]);
	pods[0] = pods[--npods];
	ingest_pod_gone(ing, gone);
	pod_free(gone);
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "10.244.1.7", "api-1",
					   "u-api-1", "2026-11-22T10:00:00Z", NULL));
	ck_assert_uint_eq(r.unattributed, 0);
	ck_assert_msg(nreps == 0, "a call made while the pod lived: %s", nreps ? reps[0].evidence[0] : "");
	/* From its node's address (SNAT) too. */
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "192.168.1.10", "api-1",
					   "u-api-1", "2026-11-22T10:00:01Z", NULL));
	ck_assert_uint_eq(nreps, 0);
	/* Made then, but from elsewhere: a replay, on record. */
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "203.0.113.9", "api-1",
					   "u-api-1", "2026-11-22T10:00:02Z", NULL));
	ck_assert_uint_eq(nreps, 1);
	ck_assert(reps[0].no_pod);
	ck_assert_ptr_nonnull(strstr(reps[0].evidence[0], "used from \"203.0.113.9\", not from the pod's address 10.244.1.7"));
	/* Received after the deletion: a stolen token. */
	clock_ms += 60000;
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "10.244.1.7", "api-1",
					   "u-api-1", "2026-11-22T10:00:21Z", NULL));
	ck_assert_uint_eq(nreps, 2);
	ck_assert_ptr_nonnull(strstr(reps[1].evidence[0], "1 s after the pod was gone"));
}
END_TEST

/* Without a deletionTimestamp (a pod removed at once, or a removal only a
 * relist saw) there is no API server time for the deletion: calls are
 * judged on address only, never on the controller's clock. */
START_TEST(test_gone_without_deletion_time)
{
	char b[2048];
	struct ingest_result r;
	struct pod *gone = mkpod_as("api-1", "u-api-1", "", "{podIPs: [{ip: 10.244.1.7}]}");

	pod_free(pods[0]);
	pods[0] = pods[--npods];
	ingest_pod_gone(ing, gone);
	pod_free(gone);
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "10.244.1.7", "api-1",
					   "u-api-1", "2026-11-22T10:30:00Z", NULL));
	ck_assert_uint_eq(r.unattributed, 0);
	ck_assert_uint_eq(nreps, 0);
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "203.0.113.9", "api-1",
					   "u-api-1", "2026-11-22T10:30:01Z", NULL));
	ck_assert_uint_eq(nreps, 1);
	ck_assert_int_eq(reps[0].reason[0], R_TOKEN_REPLAY);
}
END_TEST

/* Masquerading (SNAT, some CNIs) puts a pod's calls on its node's
 * address: status.hostIP is the pod's too.  Compliant pods are kept. */
START_TEST(test_replay_from_node_address)
{
	char b[2048];
	struct ingest_result r;

	pod_free(pods[0]);
	pods[0] = mkpod_as("api-1", "u-api-1", "", "{podIPs: [{ip: 10.244.1.7}], hostIP: 192.168.1.10, "
			   "hostIPs: [{ip: 192.168.1.10}]}");
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "192.168.1.10", "api-1",
					   "u-api-1", "2026-11-22T10:00:00Z", NULL));
	ck_assert_uint_eq(r.accepted, 1);
	ck_assert_msg(nreps == 0, "the node's address judged a replay: %s", nreps ? reps[0].evidence[0] : "");
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "192.168.1.11", "api-1",
					   "u-api-1", "2026-11-22T10:00:01Z", NULL));
	ck_assert_uint_eq(nreps, 1);
	ck_assert_int_eq(reps[0].reason[0], R_TOKEN_REPLAY);
	ck_assert(!reps[0].no_pod);
}
END_TEST

/* A pod with no address yet is not judged on address: unknown is not a
 * mismatch. */
START_TEST(test_replay_pod_without_address)
{
	char b[2048];
	struct ingest_result r;

	pod_free(pods[0]);
	pods[0] = mkpod_as("api-1", "u-api-1", "", "{phase: Pending}");
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "10.244.1.7", "api-1",
					   "u-api-1", "2026-11-22T10:00:00Z", NULL));
	ck_assert_uint_eq(r.accepted, 1);
	ck_assert_msg(nreps == 0, "a pod with no IP judged a replay: %s", nreps ? reps[0].evidence[0] : "");
}
END_TEST

/* The identity reasons are judged only for profiles with an identity
 * section: batch-audit profiles the runtime alone. */
START_TEST(test_replay_needs_identity_section)
{
	char b[2048];
	struct ingest_result r;

	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "203.0.113.9", "batch-1",
					   "u-batch-1", "2026-11-22T10:00:00Z", "system:serviceaccount:payments:batch"));
	ck_assert_uint_eq(r.accepted, 1);
	ck_assert_msg(nreps == 0, "replay judged without an identity section: %s", nreps ? reps[0].evidence[0] : "");
}
END_TEST

START_TEST(test_rate_window)
{
	char b[2048], t[32];
	struct ingest_result r;
	size_t rate = 0;

	/* maxAPICallsPerMinute: 3; four allowed calls in a minute exceed it,
	 * reported once a minute. */
	for (int i = 0; i < 8; i++) {
		snprintf(t, sizeof(t), "2026-11-22T10:00:%02dZ", i * 5);
		r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "10.244.1.7",
						   "api-1", "u-api-1", t, NULL));
		ck_assert_uint_eq(r.accepted, 1);
	}
	for (size_t i = 0; i < nreps; i++)
		rate += reps[i].reason[0] == R_API_RATE_EXCEEDED;
	ck_assert_uint_eq(rate, 1);
	ck_assert_ptr_nonnull(strstr(reps[0].evidence[0], "4 API calls in the last minute exceed 3"));
	/* A minute later the window has slid past them all: one call. */
	snprintf(t, sizeof(t), "2026-11-22T10:01:36Z");
	run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "10.244.1.7", "api-1",
				       "u-api-1", t, NULL));
	ck_assert_uint_eq(nreps, 1);
	/* The other pod of the identity has its own window. */
	run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "10.244.2.9", "api-2",
				       "u-api-2", "2026-11-22T10:00:00Z", NULL));
	ck_assert_uint_eq(nreps, 1);
}
END_TEST

START_TEST(test_identity_without_profile_ignored)
{
	char b[2048];
	struct ingest_result r;

	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "delete", "pods", "10.9.9.9", NULL, NULL,
					   "2026-11-22T10:00:00Z", "system:serviceaccount:kube-system:coredns"));
	ck_assert_uint_eq(r.ignored, 1);
	ck_assert_uint_eq(lookups, 0);
	r = run(&central, TELEMETRY_NATIVE,
		"{\"kind\":\"exec\",\"time\":\"2026-11-22T10:00:00Z\",\"pod\":{\"namespace\":\"other\","
		"\"name\":\"x\"},\"exe\":\"/bin/sh\"}\n");
	ck_assert_uint_eq(r.ignored, 1);
	ck_assert_uint_eq(lookups, 0);
	/* A pod no profile selects. */
	pods[npods++] = mkpod("web-1", "u-web-1", "node-a", "10.244.1.20", "web",
			      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "web");
	r = run(&central, TELEMETRY_NATIVE, NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"web-1\"}", "/bin/sh"));
	ck_assert_uint_eq(r.ignored, 1);
	ck_assert_uint_eq(nreps, 0);
	/* An exempt namespace. */
	exempt_ns = "payments";
	r = run(&central, TELEMETRY_NATIVE, NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\"}", "/bin/sh"));
	ck_assert_uint_eq(r.ignored, 1);
	ck_assert_uint_eq(nreps, 0);
}
END_TEST

START_TEST(test_unbound_token_every_pod)
{
	char b[2048];
	struct ingest_result r;

	/* A token that names no pod: every pod of the identity is judged. */
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "list", "secrets", "10.9.9.9", NULL, NULL,
					   "2026-11-22T10:00:00Z", NULL));
	ck_assert_uint_eq(r.accepted, 1);
	ck_assert_uint_eq(nreps, 2);
	ck_assert_str_eq(reps[0].pod, "api-1");
	ck_assert_str_eq(reps[1].pod, "api-2");
	ck_assert_int_eq(reps[0].reason[0], R_UNEXPECTED_API_CALL);
	/* No replay judgement without a binding. */
	ck_assert_uint_eq(reps[0].ngroups, 1);
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "list", "secrets", "10.9.9.9", NULL, NULL,
					   "2026-11-22T10:00:00Z", "system:serviceaccount:payments:nobody"));
	ck_assert_uint_eq(r.unattributed, 1);
}
END_TEST

/* A pod that has finished (a Job's, Succeeded): what an agent or Falco
 * says it did is stale and ignored, but its token is valid until the pod
 * object goes, so what the audit log shows still reaches the action path,
 * as audit evidence, which the controller acts on whatever the phase. */
START_TEST(test_finished_pod)
{
	char b[2048];
	struct ingest_result r;

	pods[0]->phase = PHASE_SUCCEEDED;
	r = run(&agent_a, TELEMETRY_NATIVE,
		NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\"}", "/bin/sh")
		"{\"kind\":\"token\",\"time\":\"2026-11-22T10:00:00Z\",\"pod\":{\"uid\":\"u-api-1\"},"
		"\"iat\":1795000000,\"exp\":1795003600}\n");
	ck_assert_uint_eq(r.ignored, 2);
	ck_assert_uint_eq(r.accepted, 0);
	ck_assert_uint_eq(nreps, 0);
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "list", "secrets", "10.244.1.7", "api-1",
					   "u-api-1", "2026-11-22T10:00:01Z", NULL));
	ck_assert_uint_eq(r.accepted, 1);
	ck_assert_uint_eq(nreps, 1);
	ck_assert_int_eq(reps[0].reason[0], R_UNEXPECTED_API_CALL);
	ck_assert_int_eq(reps[0].kind, EV_AUDIT);
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "get", "configmaps", "203.0.113.9", "api-1",
					   "u-api-1", "2026-11-22T10:00:02Z", NULL));
	ck_assert_uint_eq(nreps, 2);
	ck_assert_int_eq(reps[1].reason[0], R_TOKEN_REPLAY);
	ck_assert_int_eq(reps[1].kind, EV_AUDIT);
	ck_assert(!reps[1].no_pod);
	/* A token that names no pod still suspects the finished one too. */
	r = run(&central, TELEMETRY_AUDIT, audit(b, sizeof(b), "list", "pods", "10.9.9.9", NULL, NULL,
					   "2026-11-22T10:00:03Z", NULL));
	ck_assert_uint_eq(nreps, 4);
	ck_assert_str_eq(reps[2].pod, "api-1");
	/* Running again (as far as the cache knows): node reports count,
	 * as node evidence. */
	pods[0]->phase = PHASE_RUNNING;
	r = run(&agent_a, TELEMETRY_NATIVE,
		NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\"}", "/bin/sh"));
	ck_assert_uint_eq(r.accepted, 1);
	ck_assert_uint_eq(nreps, 5);
	ck_assert_int_eq(reps[4].kind, EV_NODE);
}
END_TEST

START_TEST(test_audit_mode_profile)
{
	struct ingest_result r = run(&central, TELEMETRY_TETRAGON,
		"{\"process_exec\":{\"process\":{\"binary\":\"/usr/bin/wget\",\"pod\":{\"namespace\":"
		"\"payments\",\"name\":\"batch-1\",\"container\":{\"id\":\"containerd://ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\","
		"\"name\":\"api\"}}}},\"node_name\":\"node-a\",\"time\":\"2026-11-22T10:00:14Z\"}\n");

	ck_assert_uint_eq(r.accepted, 1);
	ck_assert_uint_eq(nreps, 1);
	ck_assert_str_eq(reps[0].profile, "batch-audit");
	ck_assert_int_eq(reps[0].mode, MODE_AUDIT);
}
END_TEST

/* ---- batches ------------------------------------------------------------------------ */

START_TEST(test_malformed_lines_counted)
{
	struct ingest_result r = run(&central, TELEMETRY_NATIVE,
		"not json\n"
		NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\"}", "/bin/sh")
		"{\"kind\":\"exec\"}\n"
		"\n"
		NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\"}", "/app/server"));

	ck_assert_uint_eq(r.rejected, 2);
	ck_assert_uint_eq(r.accepted, 2);
	ck_assert_uint_eq(nreps, 1);
	ck_assert_str_ne(r.first_error, "");
}
END_TEST

static double events_total(const char *src, const char *result)
{
	struct buf b = BUF_INIT(1 << 20);
	char line[256];
	const char *p;
	double v = 0;

	ck_assert_int_eq(metrics_render(metrics, &b), 0);
	snprintf(line, sizeof(line), "profileguard_telemetry_events_total{source=\"%s\",result=\"%s\"} ",
		 src, result);
	p = strstr(buf_str(&b), line);
	if (p)
		v = strtod(p + strlen(line), NULL);
	buf_free(&b);
	return v;
}

START_TEST(test_metrics)
{
	run(&central, TELEMETRY_NATIVE, "x\n" NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\"}", "/bin/sh"));
	run(&agent_b, TELEMETRY_NATIVE, NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\"}", "/bin/sh"));
	ck_assert_double_eq(events_total("events", "rejected"), 1);
	ck_assert_double_eq(events_total("events", "accepted"), 1);
	ck_assert_double_eq(events_total("events", "forbidden"), 1);
	ck_assert_double_eq(events_total("audit", "accepted"), 0);
}
END_TEST

START_TEST(test_repeats_fold)
{
	const char *ev = NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\"}", "/bin/sh");
	struct ingest_result r;

	run(&central, TELEMETRY_NATIVE, ev);
	r = run(&central, TELEMETRY_NATIVE, ev);
	ck_assert_uint_eq(r.folded, 1);
	ck_assert_uint_eq(nreps, 1);
	/* Another finding on the same pod is not a repeat. */
	run(&central, TELEMETRY_NATIVE, NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\"}", "/bin/bash"));
	ck_assert_uint_eq(nreps, 2);
	clock_ms += 10001;
	run(&central, TELEMETRY_NATIVE, ev);
	ck_assert_uint_eq(nreps, 3);
}
END_TEST

START_TEST(test_alloc_failures)
{
	/* Every allocation failing in turn: an error or a result, never a
	 * crash or a leak (ASan). */
	const char *body = "x\n"
		NATIVE_EXEC("\"pod\":{\"namespace\":\"payments\",\"name\":\"api-1\"}", "/bin/sh");
	char b[2048];

	audit(b, sizeof(b), "list", "secrets", "203.0.113.9", "api-1", "u-api-1",
	      "2026-11-22T10:00:00Z", NULL);
	for (long n = 0; n < 400; n++) {
		struct ingest_result r;
		int e1, e2;

		clock_ms += 20000;
		nreps = 0;
		pg_alloc_fail_at(n);
		e1 = ingest_batch(ing, &central, TELEMETRY_NATIVE, body, strlen(body), 0, &r);
		e2 = ingest_batch(ing, &central, TELEMETRY_AUDIT, b, strlen(b), 0, &r);
		ingest_pod_gone(ing, pods[0]);
		pg_alloc_fail_at(-1);
		ck_assert(e1 == 0 || e1 == -ENOMEM);
		ck_assert(e2 == 0 || e2 == -ENOMEM);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ingest");
	TCase *tc = tcase_create("ingest");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_by_name);
	tcase_add_test(tc, test_audit_account_used);
	tcase_add_test(tc, test_by_uid_and_mismatch);
	tcase_add_test(tc, test_by_container_id);
	tcase_add_test(tc, test_event_before_pod);
	tcase_add_test(tc, test_other_node_refused);
	tcase_add_test(tc, test_audit_needs_central_sender);
	tcase_add_test(tc, test_audit_api_call_and_replay);
	tcase_add_test(tc, test_replay_after_deletion);
	tcase_add_test(tc, test_late_batch_after_deletion);
	tcase_add_test(tc, test_gone_without_deletion_time);
	tcase_add_test(tc, test_replay_from_node_address);
	tcase_add_test(tc, test_replay_pod_without_address);
	tcase_add_test(tc, test_replay_needs_identity_section);
	tcase_add_test(tc, test_rate_window);
	tcase_add_test(tc, test_identity_without_profile_ignored);
	tcase_add_test(tc, test_unbound_token_every_pod);
	tcase_add_test(tc, test_audit_mode_profile);
	tcase_add_test(tc, test_finished_pod);
	tcase_add_test(tc, test_malformed_lines_counted);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_repeats_fold);
	tcase_add_test(tc, test_alloc_failures);
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
