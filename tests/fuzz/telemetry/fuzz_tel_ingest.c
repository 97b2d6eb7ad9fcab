/* fuzz_tel_ingest.c - a peer's batch through the whole ingest: the first
 * byte picks the format and whether the sender speaks for a node, the rest
 * is the body.  Fake caches hold two pods (one per node) and a profile
 * with every runtime rule, so attribution, trust, judgement, the rate
 * window, the deleted-pod memory and the reports all run. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "errlist.h"
#include "ingest.h"
#include "jval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pod *pods[2];
static struct profile_set set;
static struct ingest *ing;
static int64_t clock_ms;

static const struct pod *by_name(void *ud, const char *ns, const char *name, void **ref)
{
	for (int i = 0; i < 2; i++)
		if (!strcmp(pods[i]->namespace, ns) && !strcmp(pods[i]->name, name))
			return *ref = pods[i], pods[i];
	return NULL;
}

static const struct pod *by_uid(void *ud, const char *uid, void **ref)
{
	for (int i = 0; i < 2; i++)
		if (!strcmp(pods[i]->uid, uid))
			return *ref = pods[i], pods[i];
	return NULL;
}

static const struct pod *by_cid(void *ud, const char *id, void **ref)
{
	for (int i = 0; i < 2; i++)
		if (pod_container_by_id(pods[i], id))
			return *ref = pods[i], pods[i];
	return NULL;
}

static size_t of_sa(void *ud, const char *ns, const char *sa, const struct pod **ret, void **refs,
		    size_t max)
{
	size_t n = 0;

	for (int i = 0; i < 2 && n < max; i++)
		if (!strcmp(pods[i]->namespace, ns) && !strcmp(pod_service_account(pods[i]), sa))
			ret[n] = pods[i], refs[n++] = pods[i];
	return n;
}

static void release(void *ud, void *ref)
{
	if (!ref)
		abort();
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
	/* Read what the action path would copy. */
	size_t n = strlen(r->namespace) + strlen(r->pod) + strlen(r->profile);

	for (size_t i = 0; i < r->ngroups; i++)
		for (size_t k = 0; k < r->groups[i].nevidence; k++)
			n += strlen(r->groups[i].evidence[k]);
	return n ? 0 : -1;
}

static int64_t now_ms(void)
{
	return clock_ms;
}

static struct pod *mkpod(const char *name, const char *uid, const char *node, const char *ip,
			 const char *cid)
{
	json_t *j = json_pack("{ss ss s{ss ss ss s{ss}} s{ss ss s[{ss ss}]} s{ss s[{ss}] s[{ss ss}]}}",
			      "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
			      "payments", "uid", uid, "labels", "app", "api", "spec", "nodeName", node,
			      "serviceAccountName", "payments-api", "containers", "name", "api", "image",
			      "x", "status", "startTime", "2026-11-22T09:00:00Z", "podIPs", "ip", ip,
			      "containerStatuses", "name", "api", "containerID", cid);
	struct arena *a = arena_new(4096);
	const struct jval *v;
	struct errlist errs;
	struct pod *p = NULL;

	errlist_init(&errs, 0);
	if (a && j && jval_from_json(j, a, &v) == 0)
		pod_from_jval(v, "default", &errs, &p);
	errlist_free(&errs);
	arena_free(a);
	json_decref(j);
	return p;
}

static int setup(void)
{
	struct ingest_config cfg = {
		.ops = { by_name, by_uid, by_cid, of_sa, release, acquire, unacquire, NULL, submit, NULL, NULL, NULL },
		.now_ms = now_ms,
	};
	json_t *j = json_loads(
		"{\"apiVersion\":\"profileguard.io/v1alpha1\",\"kind\":\"WorkloadProfile\","
		"\"metadata\":{\"name\":\"api\",\"namespace\":\"payments\",\"uid\":\"p1\"},"
		"\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"api\"}},"
		"\"identity\":{\"maxTokenAgeSeconds\":3600,\"legacyTokenSecrets\":\"Forbid\"},"
		"\"runtime\":{\"executables\":[\"/app/server\"],\"egress\":[{\"cidr\":\"10.0.0.0/8\","
		"\"ports\":[443]}],\"files\":{\"read\":[\"/etc/*\"],\"write\":[\"/tmp/*\"]},"
		"\"kubernetesAPI\":[{\"verbs\":[\"get\"],\"resources\":[\"configmaps\"]}],"
		"\"maxAPICallsPerMinute\":2}}}", 0, NULL);
	struct arena *a = arena_new(4096);
	const struct jval *v;
	struct errlist errs;
	struct profile *p = NULL;

	errlist_init(&errs, 0);
	if (a && j && jval_from_json(j, a, &v) == 0)
		profile_parse(v, "default", &errs, &p);
	errlist_free(&errs);
	arena_free(a);
	json_decref(j);
	profile_set_init(&set);
	pods[0] = mkpod("payments-api-7d9f-x2", "8a7c2e1f-9b3d-4c5e-8f7a-6b5c4d3e2f1a", "node-a",
			"10.244.1.7", "containerd://9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a4f2a6c8e0b1d3f5a7c9e1b3d5f7a");
	pods[1] = mkpod("api-b", "u-b", "node-b", "10.244.2.9",
			"containerd://00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	if (!p || profile_set_add(&set, p) < 0 || !pods[0] || !pods[1])
		return -1;
	return ingest_new(&cfg, &ing);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct ingest_sender central = { "falco", NULL }, agent = { "agent", "node-a" };
	struct ingest_result res;

	if (!ready)
		ready = setup() == 0 ? 1 : -1;
	if (ready < 0 || size < 1)
		return 0;
	clock_ms += 3000;
	ingest_batch(ing, data[0] & 4 ? &agent : &central, (enum telemetry_source)(data[0] & 3),
		     (const char *)data + 1, size - 1, 1, &res);
	if (data[0] & 8)
		ingest_pod_gone(ing, pods[data[0] >> 7]);
	return 0;
}
