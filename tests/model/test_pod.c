/* test_pod.c - model/pod.c: pods and templates read from YAML and JSON,
 * their errors, allocation failures, every bound and NUL in any string. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "arena.h"
#include "jval.h"
#include "../lib/items.h"
#include "../lib/testutil.h"
#include "xalloc.h"

/* Times with an offset are read at their instant (the pod reader once
 * dropped the offset), and a malformed one is no time at all. */
START_TEST(test_pod_times)
{
	struct pod *p = tu_pod(
		"apiVersion: v1\nkind: Pod\n"
		"metadata: {name: a, namespace: n, uid: u, creationTimestamp: '2026-11-22T12:00:00+02:00',\n"
		"  deletionTimestamp: '2026-11-22T10:00:00+0a:00'}\n"
		"spec: {containers: [{name: c, image: i}]}\n"
		"status: {startTime: '2026-11-22T10:00:00.5Z'}\n");

	ck_assert_int_eq(p->created, 1795341600);
	ck_assert_int_eq(p->start_time, 1795341600);
	ck_assert_int_eq(p->deletion_time, -1);
	pod_free(p);
}
END_TEST

START_TEST(test_pod_fields)
{
	struct pod *p = tu_pod(
		"apiVersion: v1\nkind: Pod\n"
		"metadata:\n  name: api-1\n  namespace: pay\n  uid: u-1\n  labels: {app: api}\n"
		"  annotations: {kubernetes.io/config.mirror: abc}\n  deletionTimestamp: '2026-01-01T00:00:00Z'\n"
		"  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-7d9f, uid: rs-1, controller: true}]\n"
		"spec:\n  nodeName: node-a\n  serviceAccountName: api\n  automountServiceAccountToken: false\n"
		"  hostPID: true\n  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n"
		"  volumes:\n  - {name: kube-api-access-x, projected: {sources: [{serviceAccountToken: {expirationSeconds: 3607}}]}}\n"
		"  - {name: h, hostPath: {path: /var/log}}\n"
		"  initContainers: [{name: init, image: busybox}]\n"
		"  containers:\n  - name: app\n    image: r.io/app:1\n"
		"    securityContext: {privileged: true, allowPrivilegeEscalation: false, runAsUser: 0, capabilities: {add: [NET_ADMIN]}}\n"
		"  ephemeralContainers: [{name: dbg, image: alpine}]\n"
		"status: {startTime: '2026-11-22T10:00:00Z'}\n");

	ck_assert_str_eq(p->namespace, "pay");
	ck_assert_str_eq(p->name, "api-1");
	ck_assert_str_eq(p->uid, "u-1");
	ck_assert_str_eq(p->spec_root, "spec");
	ck_assert_str_eq(labels_get(&p->labels, "app"), "api");
	ck_assert_str_eq(pod_service_account(p), "api");
	ck_assert_int_eq(p->automount, OPT_FALSE);
	ck_assert(p->host_pid && !p->host_network);
	ck_assert_int_eq(p->run_as_non_root, OPT_TRUE);
	ck_assert_int_eq(p->run_as_user, 1000);
	ck_assert_uint_eq(p->ntokens, 1);
	ck_assert_int_eq(p->tokens[0].expiration, 3607);
	ck_assert(p->has_api_access_volume);
	ck_assert_uint_eq(p->nhost_paths, 1);
	ck_assert_uint_eq(p->ncontainers, 3);
	ck_assert_int_eq(p->containers[0].kind, CK_INIT);
	ck_assert_int_eq(p->containers[1].kind, CK_CONTAINER);
	ck_assert_int_eq(p->containers[1].privileged, OPT_TRUE);
	ck_assert_int_eq(p->containers[1].allow_escalation, OPT_FALSE);
	ck_assert_int_eq(p->containers[1].run_as_user, 0);
	ck_assert_str_eq(p->containers[1].caps_add[0], "NET_ADMIN");
	ck_assert_int_eq(p->containers[2].kind, CK_EPHEMERAL);
	ck_assert_str_eq(p->node_name, "node-a");
	ck_assert_str_eq(p->owner_kind, "ReplicaSet");
	ck_assert_str_eq(p->owner_uid, "rs-1");
	ck_assert(p->mirror);
	ck_assert(p->terminating);
	ck_assert_int_eq(p->start_time, 1795341600);
	pod_free(p);
}
END_TEST

static void expect_pod_error(const char *yaml, int code, const char *msg)
{
	json_t *obj = tu_yaml(yaml);
	struct errlist errs;
	struct pod *p = NULL;
	int r;

	errlist_init(&errs, 0);
	r = pod_from_jval(tu_jv(obj), "default", &errs, &p);
	ck_assert_msg(r == code, "%s: got %d", yaml, r);
	if (msg)
		ck_assert_msg(errs.n && strcmp(errs.msgs[0], msg) == 0, "got \"%s\" want \"%s\"",
			      errs.n ? errs.msgs[0] : "", msg);
	ck_assert_ptr_null(p);
	errlist_free(&errs);
	json_decref(obj);
}

START_TEST(test_pod_errors)
{
	expect_pod_error("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", -ENOENT, NULL);
	expect_pod_error("apiVersion: v2\nkind: Pod\n", -ENOENT, NULL);
	expect_pod_error("kind: Pod\n", -EINVAL, NULL);
	expect_pod_error("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: {}}\n", -EINVAL,
			 "spec.containers: must be a list");
	expect_pod_error("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"
			 "spec: {containers: [{name: c, image: x, securityContext: {privileged: 'yes'}}]}\n", -EINVAL,
			 "spec.containers[0].securityContext.privileged: must be true or false");
	expect_pod_error("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
			 "spec: {template: {metadata: {labels: {app: [a]}}, spec: {containers: []}}}\n", -EINVAL,
			 "spec.template.metadata.labels.app: must be a string");
	expect_pod_error("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"
			 "spec: {volumes: [{name: t, projected: {sources: [{serviceAccountToken: {expirationSeconds: -5}}]}}], containers: []}\n",
			 -EINVAL, "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: must be a non-negative integer");
	expect_pod_error("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", -EINVAL, "spec: required");
}
END_TEST

START_TEST(test_pod_kinds)
{
	enum workload_kind k;
	json_t *o = tu_yaml("{apiVersion: batch/v1beta1, kind: CronJob}");

	ck_assert_int_eq(pod_workload_kind(tu_jv(o), &k), 0);
	ck_assert_int_eq(k, WK_CRONJOB);
	ck_assert_str_eq(workload_kind_name(k), "CronJob");
	json_decref(o);
	o = tu_yaml("{apiVersion: v1, kind: ReplicationController}");
	ck_assert_int_eq(pod_workload_kind(tu_jv(o), &k), 0);
	json_decref(o);
	o = tu_yaml("{apiVersion: example.com/v1, kind: Deployment}");
	ck_assert_int_eq(pod_workload_kind(tu_jv(o), &k), -ENOENT);
	json_decref(o);
}
END_TEST

START_TEST(test_pod_alloc_failures)
{
	json_t *obj = tu_yaml("apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: n, labels: {a: b, c: d}}\n"
			      "spec: {serviceAccountName: s, volumes: [{name: v, secret: {secretName: t}}, "
			      "{name: p, projected: {sources: [{serviceAccountToken: {path: t}}, {secret: {name: u}}]}}], "
			      "containers: [{name: c, image: x, env: [{name: e, valueFrom: {secretKeyRef: {name: t, key: k}}}], "
			      "securityContext: {capabilities: {add: [A, B]}}}]}\n");
	const struct jval *jv = tu_jv(obj);
	long total;
	struct errlist errs;
	struct pod *p = NULL;

	errlist_init(&errs, 0);
	pg_alloc_fail_at(1L << 40);
	ck_assert_int_eq(pod_from_jval(jv, "default", &errs, &p), 0);
	total = pg_alloc_count();
	pod_free(p);
	for (long i = 0; i < total; i++) {
		p = NULL;
		pg_alloc_fail_at(i);
		ck_assert_int_eq(pod_from_jval(jv, "default", &errs, &p), -ENOMEM);
		pg_alloc_fail_at(-1);
		ck_assert_ptr_null(p);
		errlist_clear(&errs);
	}
	errlist_free(&errs);
	json_decref(obj);
}
END_TEST

/* ---- bounds (SPEC §2 "Bounds") -------------------------------------------- */

/* Decodes @json through both readers (the fast one of the webhook and the
 * informer, and jansson's of check) and expects the same verdict: 0 with
 * the pod of the fast reader in *ret_pod, or @code with @msg first. */
static int decode2(const char *json, size_t len, int code, const char *msg, struct pod **ret_pod)
{
	struct arena *a = arena_new(4096);
	struct errlist errs;
	const struct jval *v;
	struct jval_error jerr;
	struct pod *p = NULL;
	json_error_t err;
	json_t *obj;
	int r;

	errlist_init(&errs, 0);
	ck_assert_int_eq(jval_parse(json, len, NULL, a, &v, &jerr), 0);
	r = pod_from_jval(v, "default", &errs, &p);
	ck_assert_msg(r == code, "fast reader: got %d (%s), want %d", r, errs.n ? errs.msgs[0] : "", code);
	if (msg)
		ck_assert_msg(errs.n && strcmp(errs.msgs[0], msg) == 0, "fast reader: got \"%s\" want \"%s\"",
			      errs.n ? errs.msgs[0] : "", msg);
	if (r == 0)
		*ret_pod = p;
	errlist_clear(&errs);
	arena_free(a);

	obj = json_loadb(json, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);
	ck_assert_msg(obj != NULL, "jansson: %s", err.text);
	p = NULL;
	r = pod_from_jval(tu_jv(obj), "default", &errs, &p);
	ck_assert_msg(r == code, "jansson: got %d (%s), want %d", r, errs.n ? errs.msgs[0] : "", code);
	if (msg)
		ck_assert_msg(errs.n && strcmp(errs.msgs[0], msg) == 0, "jansson: got \"%s\" want \"%s\"",
			      errs.n ? errs.msgs[0] : "", msg);
	pod_free(p);
	json_decref(obj);
	errlist_free(&errs);
	return r;
}

#define PODJ "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\",\"namespace\":\"ns\""

/* A pod whose container c has @nenv env secretKeyRefs and @nfrom envFrom
 * secretRefs, over @nc containers; @ncaps capabilities in container 0. */
static void env_pod(struct buf *b, size_t nc, size_t nenv, size_t nfrom, size_t ncaps)
{
	buf_reset(b);
	buf_adds(b, PODJ "},\"spec\":{\"containers\":[");
	for (size_t c = 0; c < nc; c++) {
		buf_printf(b, "%s{\"name\":\"c%zu\",\"image\":\"x\",\"env\":[", c ? "," : "", c);
		add_items(b, nenv, "{\"name\":\"E#\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"}}}");
		buf_adds(b, "],\"envFrom\":[");
		add_items(b, nfrom, "{\"secretRef\":{\"name\":\"f#\"}}");
		buf_adds(b, "],\"securityContext\":{\"capabilities\":{\"add\":[");
		add_items(b, c == 0 ? ncaps : 0, "\"C#\"");
		buf_adds(b, "]}}}");
	}
	buf_adds(b, "]}}");
}

START_TEST(test_pod_cap_env)
{
	struct buf b;
	struct pod *p = NULL;

	buf_init(&b, 64 << 20);
	env_pod(&b, 1, POD_MAX_ENV, 0, 0);
	decode2(buf_str(&b), b.len, 0, NULL, &p);
	ck_assert_uint_eq(p->nsecrets, POD_MAX_ENV);
	ck_assert_uint_eq(p->secrets[POD_MAX_ENV - 1].b, POD_MAX_ENV - 1);
	p = pod_free(p);
	env_pod(&b, 1, POD_MAX_ENV + 1, 0, 0);
	decode2(buf_str(&b), b.len, -EINVAL, "spec.containers[0].env: more than 16384 items (profileguard's limit)", NULL);

	env_pod(&b, 1, 0, POD_MAX_ENV_FROM, 0);
	decode2(buf_str(&b), b.len, 0, NULL, &p);
	ck_assert_uint_eq(p->nsecrets, POD_MAX_ENV_FROM);
	p = pod_free(p);
	env_pod(&b, 1, 0, POD_MAX_ENV_FROM + 1, 0);
	decode2(buf_str(&b), b.len, -EINVAL, "spec.containers[0].envFrom: more than 16384 items (profileguard's limit)", NULL);

	/* All containers together: 2 x 16384 is the cap, one more is past. */
	env_pod(&b, 2, POD_MAX_ENV, 0, 0);
	decode2(buf_str(&b), b.len, 0, NULL, &p);
	ck_assert_uint_eq(p->nsecrets, POD_MAX_ENV_TOTAL);
	ck_assert_str_eq(p->secrets[POD_MAX_ENV_TOTAL - 1].secret, "s");
	ck_assert_uint_eq(p->secrets[POD_MAX_ENV_TOTAL - 1].a, 1);
	p = pod_free(p);
	env_pod(&b, 2, POD_MAX_ENV, 1, 0);
	decode2(buf_str(&b), b.len, -EINVAL,
		"spec: more than 32768 env and envFrom items in all containers together (profileguard's limit)", NULL);
	buf_free(&b);
}
END_TEST

static bool only_sa_token(void *ud, const char *ns, const char *name)
{
	return strcmp(name, "sa-token") == 0;
}

/* 18,000 secretKeyRefs over two containers, then an envFrom of a token
 * Secret: references past 16,384 in all were dropped, so the envFrom was
 * never seen and legacyTokenSecrets: Forbid passed. */
START_TEST(test_pod_env_truncation_hid_secret)
{
	struct profile *pr = tu_profile("identity: {legacyTokenSecrets: Forbid}");
	struct engine_ctx ctx = { .is_token_secret = only_sa_token };
	struct findings f;
	struct pod *p = NULL;
	struct buf b;

	buf_init(&b, 64 << 20);
	buf_adds(&b, PODJ ",\"labels\":{\"app\":\"a\"}},\"spec\":{\"containers\":[");
	for (int c = 0; c < 2; c++) {
		buf_printf(&b, "%s{\"name\":\"c%d\",\"image\":\"x\",\"env\":[", c ? "," : "", c);
		add_items(&b, 9000, "{\"name\":\"E#\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"}}}");
		buf_adds(&b, c ? "],\"envFrom\":[{\"secretRef\":{\"name\":\"sa-token\"}}]}" : "]}");
	}
	buf_adds(&b, "]}}");
	decode2(buf_str(&b), b.len, 0, NULL, &p);
	ck_assert_uint_eq(p->nsecrets, 18001);
	ck_assert_str_eq(p->secrets[18000].secret, "sa-token");
	findings_init(&f, 0);
	ck_assert_int_eq(engine_eval_profile(pr, p, &ctx, &f), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_str_eq(f.v[0].path, "spec.containers[1].envFrom[0].secretRef.name");
	findings_free(&f);
	pod_free(p);
	profile_free(pr);
	buf_free(&b);
}
END_TEST

START_TEST(test_pod_cap_caps)
{
	struct buf b;
	struct pod *p = NULL;

	buf_init(&b, 64 << 20);
	env_pod(&b, 1, 0, 0, POD_MAX_CAPS);
	decode2(buf_str(&b), b.len, 0, NULL, &p);
	ck_assert_uint_eq(p->containers[0].ncaps, POD_MAX_CAPS);
	ck_assert_str_eq(p->containers[0].caps_add[POD_MAX_CAPS - 1], "C255");
	p = pod_free(p);
	env_pod(&b, 1, 0, 0, POD_MAX_CAPS + 1);
	decode2(buf_str(&b), b.len, -EINVAL,
		"spec.containers[0].securityContext.capabilities.add: more than 256 items (profileguard's limit)", NULL);
	buf_free(&b);
}
END_TEST

/* @ninit init containers, @nc containers, @neph ephemeral ones. */
static void containers_pod(struct buf *b, size_t ninit, size_t nc, size_t neph)
{
	buf_reset(b);
	buf_adds(b, PODJ "},\"spec\":{\"initContainers\":[");
	add_items(b, ninit, "{\"name\":\"i#\",\"image\":\"x\"}");
	buf_adds(b, "],\"containers\":[");
	add_items(b, nc, "{\"name\":\"c#\",\"image\":\"x\"}");
	buf_adds(b, "],\"ephemeralContainers\":[");
	add_items(b, neph, "{\"name\":\"e#\",\"image\":\"x\"}");
	buf_adds(b, "]}}");
}

START_TEST(test_pod_cap_containers)
{
	struct buf b;
	struct pod *p = NULL;

	buf_init(&b, 64 << 20);
	containers_pod(&b, 0, POD_MAX_CONTAINERS, 0);
	decode2(buf_str(&b), b.len, 0, NULL, &p);
	ck_assert_uint_eq(p->ncontainers, POD_MAX_CONTAINERS);
	p = pod_free(p);
	containers_pod(&b, 0, POD_MAX_CONTAINERS + 1, 0);
	decode2(buf_str(&b), b.len, -EINVAL, "spec.containers: more than 1024 items (profileguard's limit)", NULL);
	containers_pod(&b, 24, 1000, 0);
	decode2(buf_str(&b), b.len, 0, NULL, &p);
	ck_assert_uint_eq(p->ncontainers, POD_MAX_CONTAINERS);
	p = pod_free(p);
	containers_pod(&b, 24, 1000, 1);
	decode2(buf_str(&b), b.len, -EINVAL,
		"spec: more than 1024 containers in initContainers, containers and ephemeralContainers together (profileguard's limit)",
		NULL);
	buf_free(&b);
}
END_TEST

/* @nvol volumes of @nsrc projected serviceAccountToken sources each (or,
 * with @nsrc 0, a hostPath each), then one of @last sources. */
static void volumes_pod(struct buf *b, size_t nvol, size_t nsrc, size_t last, size_t nenv)
{
	buf_reset(b);
	buf_adds(b, PODJ "},\"spec\":{\"volumes\":[");
	for (size_t v = 0; v < nvol + (last > 0); v++) {
		size_t n = v < nvol ? nsrc : last;

		if (v)
			buf_addc(b, ',');
		if (n == 0) {
			buf_printf(b, "{\"name\":\"h%zu\",\"hostPath\":{\"path\":\"/h/%zu\"}}", v, v);
			continue;
		}
		buf_printf(b, "{\"name\":\"t%zu\",\"projected\":{\"sources\":[", v);
		add_items(b, n, "{\"serviceAccountToken\":{\"path\":\"t#\",\"expirationSeconds\":3600}}");
		buf_adds(b, "]}}");
	}
	buf_adds(b, "],\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"env\":[");
	add_items(b, nenv, "{\"name\":\"E#\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"}}}");
	buf_adds(b, "]}]}}");
}

START_TEST(test_pod_cap_volumes)
{
	struct buf b;
	struct pod *p = NULL;

	buf_init(&b, 64 << 20);
	volumes_pod(&b, POD_MAX_VOLUMES, 0, 0, 0);
	decode2(buf_str(&b), b.len, 0, NULL, &p);
	ck_assert_uint_eq(p->nhost_paths, POD_MAX_VOLUMES);
	ck_assert_str_eq(p->host_paths[POD_MAX_VOLUMES - 1].path, "/h/4095");
	p = pod_free(p);
	volumes_pod(&b, POD_MAX_VOLUMES + 1, 0, 0, 0);
	decode2(buf_str(&b), b.len, -EINVAL, "spec.volumes: more than 4096 items (profileguard's limit)", NULL);

	volumes_pod(&b, 1, POD_MAX_PROJECTED_SOURCES, 0, 0);
	decode2(buf_str(&b), b.len, 0, NULL, &p);
	ck_assert_uint_eq(p->ntokens, POD_MAX_PROJECTED_SOURCES);
	p = pod_free(p);
	volumes_pod(&b, 1, POD_MAX_PROJECTED_SOURCES + 1, 0, 0);
	decode2(buf_str(&b), b.len, -EINVAL,
		"spec.volumes[0].projected.sources: more than 1024 items (profileguard's limit)", NULL);

	/* 16 x 1024 sources is the cap of all volumes together. */
	volumes_pod(&b, 16, 1024, 0, 0);
	decode2(buf_str(&b), b.len, 0, NULL, &p);
	ck_assert_uint_eq(p->ntokens, POD_MAX_SOURCES_TOTAL);
	ck_assert_uint_eq(p->tokens[POD_MAX_SOURCES_TOTAL - 1].volume, 15);
	ck_assert_uint_eq(p->tokens[POD_MAX_SOURCES_TOTAL - 1].source, 1023);
	p = pod_free(p);
	volumes_pod(&b, 16, 1024, 1, 0);
	decode2(buf_str(&b), b.len, -EINVAL,
		"spec.volumes: more than 16384 projected sources in all volumes together (profileguard's limit)", NULL);
	buf_free(&b);
}
END_TEST

/* The pod that overflowed the tokens array (heap corruption in check, the
 * webhook and the informer): 17 projected volumes of 1,024 token sources
 * and ~1,100 env entries, about 1.2 MB, under etcd's 1.5 MB. */
START_TEST(test_pod_token_overflow_shape)
{
	struct buf b;

	buf_init(&b, 64 << 20);
	volumes_pod(&b, 17, 1024, 0, 1100);
	ck_assert_uint_lt(b.len, 1500000);
	decode2(buf_str(&b), b.len, -EINVAL,
		"spec.volumes: more than 16384 projected sources in all volumes together (profileguard's limit)", NULL);
	buf_free(&b);
}
END_TEST

/* @nips podIPs and @nst statuses split over the three lists. */
static void status_pod(struct buf *b, size_t nips, size_t nst)
{
	static const char *const lists[] = { "initContainerStatuses", "containerStatuses",
					     "ephemeralContainerStatuses" };

	buf_reset(b);
	buf_adds(b, PODJ "},\"spec\":{\"containers\":[]},\"status\":{\"podIPs\":[");
	add_items(b, nips, "{\"ip\":\"10.0.0.#\"}");
	buf_adds(b, "]");
	for (size_t l = 0; l < 3; l++) {
		size_t n = nst / 3 + (l < nst % 3);

		buf_printf(b, ",\"%s\":[", lists[l]);
		for (size_t i = 0; i < n; i++)
			buf_printf(b, "%s{\"name\":\"c%zu-%zu\",\"containerID\":\"containerd://%012zx%zu\"}",
				   i ? "," : "", l, i, l * 10000 + i, l);
		buf_adds(b, "]");
	}
	buf_adds(b, "}}");
}

START_TEST(test_pod_cap_status)
{
	struct buf b;
	struct pod *p = NULL;

	buf_init(&b, 64 << 20);
	status_pod(&b, POD_MAX_IPS, POD_MAX_STATUSES);
	decode2(buf_str(&b), b.len, 0, NULL, &p);
	ck_assert_uint_eq(p->nips, 2);
	ck_assert(pod_has_ip(p, "10.0.0.1"));
	ck_assert_uint_eq(p->ncontainer_ids, POD_MAX_STATUSES);
	p = pod_free(p);
	/* Kubernetes allows one address per family: a third is malformed. */
	status_pod(&b, POD_MAX_IPS + 1, 0);
	decode2(buf_str(&b), b.len, -EINVAL, "status.podIPs: more than 2 items (Kubernetes allows 2)", NULL);
	status_pod(&b, 0, POD_MAX_STATUSES + 1);
	decode2(buf_str(&b), b.len, -EINVAL,
		"status: more than 1024 container statuses in all three lists together (profileguard's limit)", NULL);
	buf_free(&b);
}
END_TEST

static void labels_pod(struct buf *b, size_t n)
{
	buf_reset(b);
	buf_adds(b, PODJ ",\"labels\":{");
	add_items(b, n, "\"l#\":\"v\"");
	buf_adds(b, "}},\"spec\":{\"containers\":[]}}");
}

START_TEST(test_pod_cap_labels)
{
	struct buf b;
	struct pod *p = NULL;

	buf_init(&b, 64 << 20);
	labels_pod(&b, LABELS_MAX);
	decode2(buf_str(&b), b.len, 0, NULL, &p);
	ck_assert_uint_eq(p->labels.n, LABELS_MAX);
	p = pod_free(p);
	labels_pod(&b, LABELS_MAX + 1);
	decode2(buf_str(&b), b.len, -EINVAL, "metadata.labels: more than 1024 labels (profileguard's limit)", NULL);
	buf_free(&b);
}
END_TEST

/* ---- NUL (U+0000) -------------------------------------------------------- */

/* Every string the decoder reads is refused with its path when it holds a
 * NUL: as a C string it would be judged as the part before it. */
START_TEST(test_pod_nul)
{
	static const char *const cases[][2] = {
		{ PODJ "},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"registry.example.com/payments/x\\u0000evil.com/x\"}]}}",
		  "spec.containers[0].image: must not contain NUL" },
		{ PODJ "},\"spec\":{\"serviceAccountName\":\"api\\u0000x\",\"containers\":[]}}",
		  "spec.serviceAccountName: must not contain NUL" },
		{ PODJ "},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"securityContext\":{\"capabilities\":{\"add\":[\"NET_BIND_SERVICE\\u0000SYS_ADMIN\"]}}}]}}",
		  "spec.containers[0].securityContext.capabilities.add[0]: must not contain NUL" },
		{ PODJ "},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"env\":[{\"name\":\"e\"},{\"name\":\"E\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"a\\u0000b\",\"key\":\"k\"}}}]}]}}",
		  "spec.containers[0].env[1].valueFrom.secretKeyRef.name: must not contain NUL" },
		{ PODJ "},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"envFrom\":[{\"secretRef\":{\"name\":\"a\\u0000b\"}}]}]}}",
		  "spec.containers[0].envFrom[0].secretRef.name: must not contain NUL" },
		{ PODJ "},\"spec\":{\"volumes\":[{\"name\":\"s\",\"secret\":{\"secretName\":\"a\\u0000b\"}}],\"containers\":[]}}",
		  "spec.volumes[0].secret.secretName: must not contain NUL" },
		{ PODJ "},\"spec\":{\"volumes\":[{\"name\":\"p\",\"projected\":{\"sources\":[{\"secret\":{\"name\":\"a\\u0000b\"}}]}}],\"containers\":[]}}",
		  "spec.volumes[0].projected.sources[0].secret.name: must not contain NUL" },
		{ PODJ "},\"spec\":{\"volumes\":[{\"name\":\"h\",\"hostPath\":{\"path\":\"/var/log\\u0000/etc\"}}],\"containers\":[]}}",
		  "spec.volumes[0].hostPath.path: must not contain NUL" },
		{ PODJ "},\"spec\":{\"volumes\":[{\"name\":\"kube-api-access-\\u0000\"}],\"containers\":[]}}",
		  "spec.volumes[0].name: must not contain NUL" },
		{ PODJ ",\"labels\":{\"app\":\"a\\u0000b\"}},\"spec\":{\"containers\":[]}}",
		  "metadata.labels.app: must not contain NUL" },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\",\"namespace\":\"ns\\u0000kube-system\"},\"spec\":{\"containers\":[]}}",
		  "metadata.namespace: must not contain NUL" },
		{ "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"a\\u0000b\"}]}}}}",
		  "spec.template.spec.containers[0].image: must not contain NUL" },
		{ PODJ "},\"spec\":{\"containers\":[]},\"status\":{\"podIPs\":[{\"ip\":\"10.0.0.1\\u0000\"}]}}",
		  "status.podIPs[0].ip: must not contain NUL" },
		{ PODJ "},\"spec\":{\"containers\":[]},\"status\":{\"containerStatuses\":[{\"name\":\"c\",\"containerID\":\"containerd://ab\\u0000c\"}]}}",
		  "status.containerStatuses[0].containerID: must not contain NUL" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		decode2(cases[i][0], strlen(cases[i][0]), -EINVAL, cases[i][1], NULL);
}
END_TEST

/* The same through YAML, which writes NUL as "\0". */
START_TEST(test_pod_nul_yaml)
{
	json_t *obj = tu_yaml("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"
			      "spec: {containers: [{name: c, image: \"registry.example.com/payments/x\\0evil.com/x\"}]}\n");
	struct errlist errs;
	struct pod *p = NULL;

	errlist_init(&errs, 0);
	ck_assert_int_eq(pod_from_jval(tu_jv(obj), "default", &errs, &p), -EINVAL);
	ck_assert_str_eq(errs.msgs[0], "spec.containers[0].image: must not contain NUL");
	ck_assert_ptr_null(p);
	errlist_free(&errs);
	json_decref(obj);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pod");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	/* The pod cases build pods at every cap and one past it (tens of
	 * thousands of entries, each through both readers): not a timing
	 * test, so room for a sanitizer build on a loaded machine. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pod_fields);
	tcase_add_test(tc, test_pod_times);
	tcase_add_test(tc, test_pod_errors);
	tcase_add_test(tc, test_pod_kinds);
	tcase_add_test(tc, test_pod_alloc_failures);
	tcase_add_test(tc, test_pod_cap_env);
	tcase_add_test(tc, test_pod_env_truncation_hid_secret);
	tcase_add_test(tc, test_pod_cap_caps);
	tcase_add_test(tc, test_pod_cap_containers);
	tcase_add_test(tc, test_pod_cap_volumes);
	tcase_add_test(tc, test_pod_token_overflow_shape);
	tcase_add_test(tc, test_pod_cap_status);
	tcase_add_test(tc, test_pod_cap_labels);
	tcase_add_test(tc, test_pod_nul);
	tcase_add_test(tc, test_pod_nul_yaml);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
