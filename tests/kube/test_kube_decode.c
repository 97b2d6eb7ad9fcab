/* test_kube_decode.c - the informer decoders: a cached pod is the same pod
 * pod_from_jval() makes, field by field, only smaller; shared strings are
 * held once and released with the last pod; metadata keeps what the
 * controller needs and not kubectl's last-applied copy. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "errlist.h"
#include "jval.h"
#include "kube_decode.h"
#include "kube_watch.h"
#include "pod.h"
#include "xalloc.h"

/* @j as the informer hands objects over (jval.h), in an arena that lives
 * as long as the test process. */
static const struct jval *jv(json_t *j)
{
	static struct arena *a;
	const struct jval *v = NULL;

	if (!a)
		a = arena_new(64 * 1024);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(jval_from_json(j, a, &v), 0);
	return v;
}

static json_t *rich_pod(const char *name, const char *uid)
{
	const char *src = getenv("PG_SRCDIR");
	char path[4096];
	json_t *pod, *meta, *spec, *sc;

	snprintf(path, sizeof(path), "%s/tests/kube/rich-pod.json", src ? src : "..");
	pod = json_load_file(path, 0, NULL);
	ck_assert_msg(pod != NULL, "cannot load %s", path);
	meta = json_object_get(pod, "metadata");
	json_object_set_new(meta, "name", json_string(name));
	json_object_set_new(meta, "namespace", json_string("payments"));
	json_object_set_new(meta, "uid", json_string(uid));
	json_object_set_new(json_object_get(meta, "labels"), "app", json_string("payments-api"));
	json_object_set_new(json_object_get(pod, "status"), "podIP", json_string("10.1.2.3"));
	/* A capability and a hostPath, so every array is exercised. */
	spec = json_object_get(pod, "spec");
	sc = json_object_get(json_array_get(json_object_get(spec, "containers"), 1),
			     "securityContext");
	json_object_set_new(sc, "capabilities", json_pack("{s[ss]}", "add", "NET_ADMIN",
							  "NET_RAW"));
	json_array_append_new(json_object_get(spec, "volumes"),
			      json_pack("{ss s{ss}}", "name", "logs", "hostPath", "path", "/var/log"));
	return pod;
}

static void same_str(const char *a, const char *b, const char *what)
{
	if (!a || !b)
		ck_assert_msg(a == b, "%s: %s vs %s", what, a ? a : "NULL", b ? b : "NULL");
	else
		ck_assert_msg(strcmp(a, b) == 0, "%s: %s vs %s", what, a, b);
}

/* Every field of struct pod, compared by value. */
static void same_pod(const struct pod *a, const struct pod *b)
{
	ck_assert_int_eq(a->kind, b->kind);
	same_str(a->spec_root, b->spec_root, "spec_root");
	same_str(a->namespace, b->namespace, "namespace");
	same_str(a->name, b->name, "name");
	same_str(a->uid, b->uid, "uid");
	ck_assert_uint_eq(a->labels.n, b->labels.n);
	for (size_t i = 0; i < a->labels.n; i++) {
		same_str(a->labels.keys[i], b->labels.keys[i], "label key");
		same_str(a->labels.values[i], b->labels.values[i], "label value");
	}
	same_str(a->service_account, b->service_account, "service_account");
	ck_assert_int_eq(a->automount, b->automount);
	ck_assert_int_eq(a->host_network, b->host_network);
	ck_assert_int_eq(a->host_pid, b->host_pid);
	ck_assert_int_eq(a->host_ipc, b->host_ipc);
	ck_assert_int_eq(a->run_as_non_root, b->run_as_non_root);
	ck_assert_int_eq(a->run_as_user, b->run_as_user);
	ck_assert_uint_eq(a->ncontainers, b->ncontainers);
	for (uint16_t i = 0; i < a->ncontainers; i++) {
		const struct container *x = &a->containers[i], *y = &b->containers[i];

		same_str(x->name, y->name, "container name");
		same_str(x->image, y->image, "image");
		ck_assert_uint_eq(x->ncaps, y->ncaps);
		for (uint16_t j = 0; j < x->ncaps; j++)
			same_str(x->caps_add[j], y->caps_add[j], "cap");
		ck_assert_uint_eq(x->index, y->index);
		ck_assert_uint_eq(x->kind, y->kind);
		ck_assert_uint_eq(x->privileged, y->privileged);
		ck_assert_uint_eq(x->allow_escalation, y->allow_escalation);
		ck_assert_uint_eq(x->run_as_non_root, y->run_as_non_root);
		ck_assert_int_eq(x->run_as_user, y->run_as_user);
	}
	ck_assert_uint_eq(a->ntokens, b->ntokens);
	ck_assert(a->ntokens == 0 || memcmp(a->tokens, b->tokens, a->ntokens * sizeof(*a->tokens)) == 0);
	ck_assert_uint_eq(a->nsecrets, b->nsecrets);
	for (uint16_t i = 0; i < a->nsecrets; i++) {
		same_str(a->secrets[i].secret, b->secrets[i].secret, "secret");
		ck_assert_uint_eq(a->secrets[i].kind, b->secrets[i].kind);
		ck_assert_uint_eq(a->secrets[i].ckind, b->secrets[i].ckind);
		ck_assert_uint_eq(a->secrets[i].a, b->secrets[i].a);
		ck_assert_uint_eq(a->secrets[i].b, b->secrets[i].b);
	}
	ck_assert_uint_eq(a->nhost_paths, b->nhost_paths);
	for (uint16_t i = 0; i < a->nhost_paths; i++) {
		same_str(a->host_paths[i].path, b->host_paths[i].path, "host path");
		ck_assert_uint_eq(a->host_paths[i].volume, b->host_paths[i].volume);
	}
	ck_assert_int_eq(a->has_api_access_volume, b->has_api_access_volume);
	same_str(a->node_name, b->node_name, "node_name");
	same_str(a->owner_kind, b->owner_kind, "owner_kind");
	same_str(a->owner_name, b->owner_name, "owner_name");
	same_str(a->owner_uid, b->owner_uid, "owner_uid");
	ck_assert_int_eq(a->mirror, b->mirror);
	ck_assert_int_eq(a->terminating, b->terminating);
	ck_assert_uint_eq(a->phase, b->phase);
	ck_assert_int_eq(a->start_time, b->start_time);
	ck_assert_uint_eq(a->nips, b->nips);
	for (uint8_t i = 0; i < a->nips; i++)
		same_str(a->ips[i], b->ips[i], "ip");
	ck_assert_uint_eq(a->ncontainer_ids, b->ncontainer_ids);
	for (uint16_t i = 0; i < a->ncontainer_ids; i++) {
		same_str(a->container_ids[i], b->container_ids[i], "container id");
		same_str(a->container_names[i], b->container_names[i], "container name");
	}
}

START_TEST(test_pod_is_the_same_pod)
{
	json_t *obj = rich_pod("payments-api-7d9f-x2", "uid-1");
	struct pod *ref = NULL, *p = NULL;
	struct errlist errs;
	size_t base = kube_decode_shared_strings();

	errlist_init(&errs, 0);
	ck_assert_int_eq(pod_from_jval(jv(obj), "default", &errs, &ref), 0);
	errlist_free(&errs);
	ck_assert_int_eq(kube_decode_pod(NULL, jv(obj), (void **)&p), 0);
	same_pod(p, ref);
	/* What the test pod carries, to be sure each array was compared. */
	ck_assert_uint_eq(p->ncontainers, 2);
	ck_assert_uint_eq(p->containers[1].ncaps, 2);
	ck_assert_uint_eq(p->nhost_paths, 1);
	ck_assert_uint_ge(p->nsecrets, 1);
	ck_assert_uint_ge(p->ntokens, 1);
	ck_assert_uint_eq(p->ncontainer_ids, 2);
	ck_assert_ptr_null(p->containers[1].caps_add[2]);       /* NULL-terminated */
	/* Smaller, which is the point. */
	ck_assert_uint_lt(arena_footprint(p->arena), arena_footprint(ref->arena) / 2);
	pod_free(ref);
	kube_free_pod(NULL, p);
	ck_assert_uint_eq(kube_decode_shared_strings(), base);
	json_decref(obj);
}
END_TEST

/* A list page (kube_list_parse + kube_decode_pod, items without kind as
 * the API server sends them) caches the very same pod. */
static struct pod *raw_pod;

static int decode_raw(void *ud, const char *item, size_t len)
{
	struct arena *a = arena_new(4096);
	const struct jval *v;
	int r = jval_parse(item, len, NULL, a, &v, NULL);

	if (r == 0)
		r = kube_decode_pod(NULL, v, (void **)&raw_pod);
	arena_free(a);
	return r;
}

START_TEST(test_pod_from_list_fast_path)
{
	json_t *obj = rich_pod("payments-api-7d9f-x2", "uid-1");
	const struct jval *meta = NULL;
	struct arena *a = arena_new(1024);
	struct pod *ref = NULL;
	char *item, *list;
	size_t n;

	ck_assert_int_eq(kube_decode_pod(NULL, jv(obj), (void **)&ref), 0);
	json_object_del(obj, "kind");
	json_object_del(obj, "apiVersion");
	item = json_dumps(obj, JSON_COMPACT);
	n = strlen(item) + 128;
	list = malloc(n);
	snprintf(list, n, "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[%s]}", item);
	raw_pod = NULL;
	ck_assert_int_eq(kube_list_parse(list, strlen(list), 64, decode_raw, NULL, a, &meta), 0);
	ck_assert_ptr_nonnull(raw_pod);
	same_pod(raw_pod, ref);
	ck_assert_str_eq(jval_str(jval_get(meta, "resourceVersion")), "7");
	kube_free_pod(NULL, raw_pod);
	kube_free_pod(NULL, ref);
	arena_free(a);
	free(item);
	free(list);
	json_decref(obj);
}
END_TEST

/* Decodes @obj through the list fast path: what kube_informer's list
 * pages give (items without kind).  The pod is the caller's. */
static struct pod *decode_as_list_item(json_t *obj)
{
	json_t *item = json_deep_copy(obj);
	struct arena *a = arena_new(1024);
	char *text, *list;
	size_t n;

	json_object_del(item, "kind");
	json_object_del(item, "apiVersion");
	text = json_dumps(item, JSON_COMPACT);
	n = strlen(text) + 128;
	list = malloc(n);
	snprintf(list, n, "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[%s]}", text);
	raw_pod = NULL;
	ck_assert_int_eq(kube_list_parse(list, strlen(list), 64, decode_raw, NULL, a, NULL), 0);
	ck_assert_ptr_nonnull(raw_pod);
	arena_free(a);
	free(text);
	free(list);
	json_decref(item);
	return raw_pod;
}

/* status.phase reaches the cached pod, the same from a watch event's
 * object and from a list page's item; anything but the API's own
 * spelling, and no phase at all, is PHASE_UNSET. */
START_TEST(test_pod_phase_both_paths)
{
	static const struct {
		const char *phase;      /* NULL: no phase key; "#": a number */
		enum pod_phase want;
	} cases[] = {
		{ "Pending", PHASE_PENDING }, { "Running", PHASE_RUNNING },
		{ "Succeeded", PHASE_SUCCEEDED }, { "Failed", PHASE_FAILED },
		{ "Unknown", PHASE_UNKNOWN }, { "succeeded", PHASE_UNSET }, { "Succeeded ", PHASE_UNSET },
		{ "", PHASE_UNSET }, { NULL, PHASE_UNSET }, { "#", PHASE_UNSET },
	};
	size_t base = kube_decode_shared_strings();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *obj = rich_pod("job-1-x7k2p", "uid-phase");
		json_t *status = json_object_get(obj, "status");
		struct pod *watched = NULL, *listed;

		if (!cases[i].phase)
			json_object_del(status, "phase");
		else if (strcmp(cases[i].phase, "#") == 0)
			json_object_set_new(status, "phase", json_integer(3));
		else
			json_object_set_new(status, "phase", json_string(cases[i].phase));
		ck_assert_int_eq(kube_decode_pod(NULL, jv(obj), (void **)&watched), 0);
		listed = decode_as_list_item(obj);
		ck_assert_msg(watched->phase == cases[i].want, "%s: watch path gave %u",
			      cases[i].phase ? cases[i].phase : "(none)", watched->phase);
		ck_assert_msg(listed->phase == cases[i].want, "%s: list path gave %u",
			      cases[i].phase ? cases[i].phase : "(none)", listed->phase);
		same_pod(watched, listed);
		if (cases[i].want != PHASE_UNSET)
			ck_assert_str_eq(pod_phase_name(watched->phase), cases[i].phase);
		kube_free_pod(NULL, watched);
		kube_free_pod(NULL, listed);
		json_decref(obj);
	}
	ck_assert_str_eq(pod_phase_name(PHASE_UNSET), "");
	ck_assert_uint_eq(kube_decode_shared_strings(), base);
}
END_TEST

START_TEST(test_shared_strings)
{
	json_t *a = rich_pod("api-1", "uid-a"), *b = rich_pod("api-2", "uid-b");
	struct pod *pa = NULL, *pb = NULL;
	size_t base = kube_decode_shared_strings(), one;

	ck_assert_int_eq(kube_decode_pod(NULL, jv(a), (void **)&pa), 0);
	one = kube_decode_shared_strings();
	ck_assert_uint_gt(one, base);
	ck_assert_int_eq(kube_decode_pod(NULL, jv(b), (void **)&pb), 0);
	/* The second pod of the workload adds no shared string. */
	ck_assert_uint_eq(kube_decode_shared_strings(), one);
	ck_assert_ptr_eq(pa->containers[0].image, pb->containers[0].image);
	ck_assert_ptr_eq(pa->namespace, pb->namespace);
	ck_assert_ptr_eq(pa->owner_uid, pb->owner_uid);
	ck_assert_ptr_ne(pa->name, pb->name);
	ck_assert_str_eq(pa->name, "api-1");
	ck_assert_str_eq(pb->uid, "uid-b");
	kube_free_pod(NULL, pa);
	ck_assert_uint_eq(kube_decode_shared_strings(), one);   /* pb still holds them */
	ck_assert_str_eq(pb->containers[0].image, "registry.example.com/payments/api@sha256:"
			 "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945");
	kube_free_pod(NULL, pb);
	ck_assert_uint_eq(kube_decode_shared_strings(), base);
	kube_free_pod(NULL, NULL);
	json_decref(a);
	json_decref(b);
}
END_TEST

START_TEST(test_pod_alloc_failures)
{
	json_t *obj = rich_pod("api-1", "uid-a");
	const struct jval *v = jv(obj);
	size_t base = kube_decode_shared_strings();

	for (long n = 0;; n++) {
		struct pod *p = NULL;
		int r;

		pg_alloc_fail_at(n);
		r = kube_decode_pod(NULL, v, (void **)&p);
		pg_alloc_fail_at(-1);
		if (r == 0) {
			kube_free_pod(NULL, p);
			break;
		}
		ck_assert_msg(r == -ENOMEM, "n=%ld: %d", n, r);
		ck_assert_uint_eq(kube_decode_shared_strings(), base);
		ck_assert_int_lt(n, 10000);
	}
	ck_assert_uint_eq(kube_decode_shared_strings(), base);
	json_decref(obj);
}
END_TEST

START_TEST(test_refused_pod)
{
	json_t *obj = rich_pod("api-1", "uid-a");
	void *p = NULL;

	json_object_set_new(json_object_get(obj, "spec"), "containers", json_string("x"));
	ck_assert_int_eq(kube_decode_pod(NULL, jv(obj), &p), -EINVAL);
	ck_assert_ptr_null(p);
	json_decref(obj);
}
END_TEST

START_TEST(test_meta)
{
	json_t *obj = json_pack(
		"{ss ss s{ss ss ss s{ss} s{ss ss} s[{ss ss ss sb} {ss ss ss}]}}",
		"apiVersion", "meta.k8s.io/v1", "kind", "PartialObjectMetadata", "metadata",
		"name", "api-token-x", "namespace", "payments", "creationTimestamp",
		"2026-11-22T10:00:00Z", "labels", "app", "api", "annotations",
		"kubernetes.io/service-account.name", "api",
		"kubectl.kubernetes.io/last-applied-configuration", "{\"huge\":true}",
		"ownerReferences", "kind", "ServiceAccount", "name", "api", "uid", "sa-1",
		"controller", 1, "kind", "Other", "name", "o", "uid", "o-1");
	struct kube_meta *m = NULL;

	ck_assert_int_eq(kube_decode_meta(NULL, jv(obj), (void **)&m), 0);
	ck_assert_str_eq(labels_get(&m->labels, "app"), "api");
	ck_assert_str_eq(labels_get(&m->annotations, "kubernetes.io/service-account.name"), "api");
	ck_assert_ptr_null(labels_get(&m->annotations,
				      "kubectl.kubernetes.io/last-applied-configuration"));
	ck_assert_int_eq(m->created, 1795341600);
	ck_assert_str_eq(m->owner_kind, "ServiceAccount");
	ck_assert_str_eq(m->owner_uid, "sa-1");
	kube_free_meta(NULL, m);
	json_object_del(obj, "metadata");
	ck_assert_int_eq(kube_decode_meta(NULL, jv(obj), (void **)&m), -EINVAL);
	json_decref(obj);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_decode");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_pod_is_the_same_pod);
	tcase_add_test(tc, test_shared_strings);
	tcase_add_test(tc, test_pod_from_list_fast_path);
	tcase_add_test(tc, test_pod_phase_both_paths);
	tcase_add_test(tc, test_pod_alloc_failures);
	tcase_add_test(tc, test_refused_pod);
	tcase_add_test(tc, test_meta);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
