/* fake_apiserver.c - just enough of a Kubernetes API server, over plain
 * HTTP, for the receipt-to-DELETE benchmark: lists of pods (N, in
 * namespace "bench"), one WorkloadProfile, namespaces, ServiceAccounts and
 * no Secrets; watches that stay open and quiet; TokenReviews that believe
 * everyone; Events, status patches and pod DELETEs answered at once.  It
 * timestamps (CLOCK_REALTIME, when the request line and headers are in)
 * every pod DELETE and the first Event about each pod, so the bench can
 * tell where the time went without the API server's own cost in it.
 *
 * usage: fake_apiserver PORT_FILE NPODS
 * GET /_bench/times: {"deletes":{"pod":t,...},"events":{"pod":t,...}} */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

#define MAX_BODY (1u << 20)

static atomic_bool stopping;
static char *pods_list, *profiles_list, *ns_list, *sa_list, *secret_list;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *deletes, *events;        /* pod name -> seconds */

struct req {
	double t;
	struct buf body;
};

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *make_list(const char *kind, const char *api, json_t *items)
{
	json_t *l = json_pack("{ss ss s{ss} so}", "kind", kind, "apiVersion", api, "metadata",
			      "resourceVersion", "10", "items", items);
	char *s = json_dumps(l, JSON_COMPACT);

	json_decref(l);
	return s;
}

static void make_lists(int npods)
{
	json_t *pods = json_array();

	for (int i = 0; i < npods; i++) {
		char name[64], uid[64], ip[32], cid[80];

		snprintf(name, sizeof(name), "bench-%d", i);
		snprintf(uid, sizeof(uid), "00000000-0000-4000-8000-%012d", i);
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", 64 + i / 65536, (i / 256) % 256, i % 256);
		snprintf(cid, sizeof(cid), "containerd://%012lx%052d", 0xbe0000000000L + i, 0);
		json_array_append_new(pods, json_pack(
			"{ss ss s{ss ss ss ss s{ss}} s{ss ss s[{ss ss}]} s{ss ss ss s[{ss}] s[{ss ss sb}]}}",
			"apiVersion", "v1", "kind", "Pod",
			"metadata", "name", name, "namespace", "bench", "uid", uid,
			"resourceVersion", "10", "labels", "app", "bench",
			"spec", "nodeName", "node-a", "serviceAccountName", "default",
			"containers", "name", "app", "image", "registry.example.com/app@sha256:aaaa",
			"status", "phase", "Running", "startTime", "2020-01-01T00:00:00Z",
			"podIP", ip, "podIPs", "ip", ip,
			"containerStatuses", "name", "app", "containerID", cid, "ready", 1));
	}
	pods_list = make_list("PodList", "v1", pods);
	profiles_list = make_list("WorkloadProfileList", "profileguard.io/v1alpha1", json_pack(
		"[{ss ss s{ss ss ss ss si} s{s{s{ss}} ss s{s[s]} s{ss}}}]",
		"apiVersion", "profileguard.io/v1alpha1", "kind", "WorkloadProfile",
		"metadata", "name", "bench", "namespace", "bench", "uid", "p-bench",
		"resourceVersion", "10", "generation", 1,
		"spec", "selector", "matchLabels", "app", "bench", "mode", "Enforce",
		"runtime", "executables", "/app/server", "response", "action", "Delete"));
	ns_list = make_list("PartialObjectMetadataList", "meta.k8s.io/v1", json_pack(
		"[{ss ss s{ss ss ss}}]", "apiVersion", "meta.k8s.io/v1", "kind", "PartialObjectMetadata",
		"metadata", "name", "bench", "uid", "ns-bench", "resourceVersion", "10"));
	sa_list = make_list("PartialObjectMetadataList", "meta.k8s.io/v1", json_pack(
		"[{ss ss s{ss ss ss ss ss}}]", "apiVersion", "meta.k8s.io/v1",
		"kind", "PartialObjectMetadata", "metadata", "name", "default", "namespace", "bench",
		"uid", "sa-default", "resourceVersion", "10", "creationTimestamp", "2019-01-01T00:00:00Z"));
	secret_list = make_list("PartialObjectMetadataList", "meta.k8s.io/v1", json_array());
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body, bool copy)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
		copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* A watch: open, quiet, until the server stops. */
static ssize_t watch_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	while (!atomic_load(&stopping))
		nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	return MHD_CONTENT_READER_END_OF_STREAM;
}

static void note(json_t *map, const char *pod, double t)
{
	pthread_mutex_lock(&mu);
	if (!json_object_get(map, pod))
		json_object_set_new(map, pod, json_real(t));
	pthread_mutex_unlock(&mu);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *size, void **ptr)
{
	struct req *rq = *ptr;
	const char *watch;

	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		rq->t = wall();
		buf_init(&rq->body, MAX_BODY);
		*ptr = rq;
		return MHD_YES;
	}
	if (*size) {
		buf_add(&rq->body, data, *size);
		*size = 0;
		return MHD_YES;
	}
	if (!strcmp(method, "GET")) {
		if (!strcmp(url, "/_bench/times")) {
			json_t *all;
			char *s;
			enum MHD_Result r;

			pthread_mutex_lock(&mu);
			all = json_pack("{sOsO}", "deletes", deletes, "events", events);
			s = json_dumps(all, JSON_COMPACT);
			json_decref(all);
			pthread_mutex_unlock(&mu);
			r = reply(c, 200, s, true);
			free(s);
			return r;
		}
		watch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch");
		if (watch && (!strcmp(watch, "1") || !strcmp(watch, "true"))) {
			struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
										   watch_cb, NULL, NULL);
			enum MHD_Result ret;

			MHD_add_response_header(r, "Content-Type", "application/json");
			ret = MHD_queue_response(c, 200, r);
			MHD_destroy_response(r);
			return ret;
		}
		if (!strcmp(url, "/api/v1/pods"))
			return reply(c, 200, pods_list, false);
		if (!strcmp(url, "/apis/profileguard.io/v1alpha1/workloadprofiles"))
			return reply(c, 200, profiles_list, false);
		if (!strcmp(url, "/api/v1/namespaces"))
			return reply(c, 200, ns_list, false);
		if (!strcmp(url, "/api/v1/serviceaccounts"))
			return reply(c, 200, sa_list, false);
		if (!strcmp(url, "/api/v1/secrets"))
			return reply(c, 200, secret_list, false);
		return reply(c, 404, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}", false);
	}
	if (!strcmp(method, "DELETE") && strstr(url, "/pods/")) {
		note(deletes, strrchr(url, '/') + 1, rq->t);
		return reply(c, 200, "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{}}", false);
	}
	if (!strcmp(method, "POST") && strstr(url, "/tokenreviews"))
		return reply(c, 201, "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
			     "\"status\":{\"authenticated\":true,\"user\":{\"username\":\"bench-agent\","
			     "\"groups\":[\"system:authenticated\"]}}}", false);
	if (!strcmp(method, "POST") && strstr(url, "/events")) {
		json_t *ev = json_loadb(buf_str(&rq->body), rq->body.len, 0, NULL);
		const char *pod = json_string_value(json_object_get(json_object_get(ev, "regarding"), "name"));
		enum MHD_Result r;

		if (pod)
			note(events, pod, rq->t);
		r = reply(c, 201, buf_str(&rq->body), true);
		json_decref(ev);
		return r;
	}
	return reply(c, 200, "{}", false);
}

static void completed(void *cls, struct MHD_Connection *c, void **ptr,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *ptr;

	if (rq) {
		buf_free(&rq->body);
		free(rq);
	}
	*ptr = NULL;
}

int main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sigset_t set;
	FILE *f;
	int sig;

	if (argc != 3) {
		fprintf(stderr, "usage: fake_apiserver PORT_FILE NPODS\n");
		return 2;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	deletes = json_object();
	events = json_object();
	make_lists(atoi(argv[2]));
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
			     0, NULL, NULL, handle, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	if (!d)
		return 1;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	f = fopen(argv[1], "w");
	fprintf(f, "%u\n", info->port);
	fclose(f);
	do
		sig = sigwaitinfo(&set, NULL);
	while (sig < 0 && errno == EINTR);
	atomic_store(&stopping, true);
	MHD_stop_daemon(d);
	return 0;
}
