/* server.c - the webhook's HTTP(S) front: routing, bounded bodies, the
 * admission call, health and metrics, graceful drain.  One request's
 * memory (its body buffer) has one owner, struct request, freed by MHD's
 * request-completed callback whatever happened to the request. */
#include "webhook_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admission.h"
#include "buf.h"
#include "metrics.h"
#include "pglog.h"
#include "strutil.h"
#include "webhook_source.h"
#include "webhook_tls.h"
#include "xalloc.h"

enum route { RT_PODS, RT_PROFILES, RT_HEALTHZ, RT_READYZ, RT_METRICS, RT_HOOK, RT_OTHER, RT__COUNT };

static const char *const route_paths[RT__COUNT] = {
	"/validate/pods", "/validate/workloadprofiles", "/healthz", "/readyz", "/metrics", "hook",
	"other",
};

/* A route hook's reply body at most; its requests may take this long. */
#define HOOK_REPLY_MAX (64u * 1024)
#define HOOK_DEADLINE_S 60

/* The status codes this server answers with, for the metric slots. */
static const unsigned codes[] = { 200, 400, 404, 405, 413, 500, 503 };
#define NCODES (sizeof(codes) / sizeof(codes[0]))

/* Kinds the admission metric distinguishes; anything else is "other". */
static const char *const kind_labels[] = {
	"Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob",
	"ReplicationController", "WorkloadProfile", "other",
};
#define NKINDS (sizeof(kind_labels) / sizeof(kind_labels[0]))

struct request {
	struct buf body;
	enum route route;
	struct timespec t0;
	double deadline;                /* seconds, from ?timeout= */
	bool too_big;
	bool answered;
	/* Route hook requests only: the client, as the TLS handshake and
	 * the socket said. */
	bool cert_bad;
	char cert_cn[256];
	char peer[INET6_ADDRSTRLEN];
};

struct server {
	char name[32];
	struct MHD_Daemon *d;
	int listen_fd;
	uint16_t port;
	struct tls_store *tls;
	struct profile_source *source;
	struct metrics *metrics;
	bool (*ready)(void *ud);
	void *ready_ud;
	char *route_prefix;
	server_route_fn route;
	void *route_ud;
	char *client_ca;
	size_t max_body;
	atomic_bool draining;
	atomic_uint inflight;

	/* Metric series, resolved on first use and kept. */
	struct metric_vec *m_requests;          /* {operation,kind,allowed} */
	struct metric_vec *m_http;              /* {path,code} */
	struct metric_vec *m_skipped;           /* {reason} */
	struct metric *m_duration;
	struct metric *m_connections;
	_Atomic(struct metric *) req_slots[ADM_OP__COUNT][NKINDS][2];
	_Atomic(struct metric *) http_slots[RT__COUNT][NCODES];
};

static double elapsed(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- metrics ------------------------------------------------------------------ */

static void register_metrics(struct server *s)
{
	static const char *const req_labels[] = { "operation", "kind", "allowed", NULL };
	static const char *const http_labels[] = { "path", "code", NULL };
	static const char *const skip_labels[] = { "reason", NULL };
	static const double buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
					  0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

	s->m_requests = metrics_counter(s->metrics, "profileguard_admission_requests_total",
					"Admission reviews answered, by operation, object kind and outcome.",
					req_labels);
	s->m_duration = metric_vec_get(metrics_histogram(s->metrics,
		"profileguard_admission_duration_seconds",
		"Time from an admission request's headers being read to its response being queued.",
		NULL, buckets, sizeof(buckets) / sizeof(buckets[0])), NULL);
	s->m_http = metrics_counter(s->metrics, "profileguard_webhook_http_responses_total",
				    "HTTP responses of the webhook server, by path and status code.",
				    http_labels);
	s->m_skipped = metrics_counter(s->metrics, "profileguard_admission_skipped_total",
				       "Admission reviews allowed without judgement, by why.", skip_labels);
	s->m_connections = metric_vec_get(metrics_gauge(s->metrics, "profileguard_webhook_connections",
		"Open connections to the webhook server.", NULL), NULL);
}

static struct metric *slot_get(_Atomic(struct metric *) *slot, struct metric_vec *v,
			       const char *const *values)
{
	struct metric *m = atomic_load_explicit(slot, memory_order_acquire);

	if (!m && v) {
		m = metric_vec_get(v, values);
		atomic_store_explicit(slot, m, memory_order_release);
	}
	return m;
}

static void count_http(struct server *s, enum route rt, unsigned code)
{
	char cs[8];
	const char *vals[2] = { route_paths[rt], cs };
	size_t i;

	if (!s->m_http)
		return;
	for (i = 0; i < NCODES && codes[i] != code; i++)
		;
	if (i == NCODES)
		return;
	snprintf(cs, sizeof(cs), "%u", code);
	metric_inc(slot_get(&s->http_slots[rt][i], s->m_http, vals));
}

static void count_admission(struct server *s, const struct admission_review *rv,
			    const struct admission_response *r)
{
	static const char *const skip_names[] = {
		[ADM_SKIP_OPERATION] = "operation", [ADM_SKIP_NAMESPACE] = "namespace",
		[ADM_SKIP_KIND] = "kind", [ADM_SKIP_TERMINATING] = "terminating",
	};
	const char *vals[3];
	size_t k;

	for (k = 0; k < NKINDS - 1 && strcmp(kind_labels[k], r->kind) != 0; k++)
		;
	vals[0] = admission_op_name(rv->op);
	vals[1] = kind_labels[k];
	vals[2] = r->allowed ? "true" : "false";
	metric_inc(slot_get(&s->req_slots[rv->op][k][r->allowed], s->m_requests, vals));
	if (r->verdict != ADM_JUDGED && r->verdict != ADM_BAD_OBJECT && s->m_skipped)
		metric_inc(metric_vec_get1(s->m_skipped, skip_names[r->verdict]));
}

/* ---- responses ---------------------------------------------------------------- */

static enum MHD_Result respond(struct server *s, struct MHD_Connection *c, struct request *rq,
			       unsigned code, const char *ctype, struct buf *body, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = body->len;
	char *data = buf_steal(body);

	if (!data)
		return MHD_NO;
	resp = MHD_create_response_from_buffer_with_free_callback(len, data, pg_free);
	if (!resp) {
		pg_free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (atomic_load(&s->draining))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	if (rq) {
		rq->answered = true;
		count_http(s, rq->route, code);
	}
	return ret;
}

static enum MHD_Result respond_text(struct server *s, struct MHD_Connection *c,
				    struct request *rq, unsigned code, const char *text,
				    const char *allow)
{
	struct buf b = BUF_INIT(4096);

	if (buf_adds(&b, text) < 0)
		return MHD_NO;
	return respond(s, c, rq, code, "text/plain; charset=utf-8", &b, allow);
}

static enum MHD_Result respond_error(struct server *s, struct MHD_Connection *c,
				     struct request *rq, unsigned code, const char *msg,
				     const char *allow)
{
	struct buf b = BUF_INIT(4096);

	if (admission_error_render(msg, &b) < 0)
		return MHD_NO;
	return respond(s, c, rq, code, "application/json", &b, allow);
}

/* ---- admission ---------------------------------------------------------------- */

struct ns_check {
	struct profile_source *src;
	struct profile_snapshot *snap;
};

static bool ns_ignored(void *ud, const char *ns)
{
	struct ns_check *n = ud;

	return source_ns_ignored(n->src, n->snap, ns);
}

static bool token_secret(void *ud, const char *ns, const char *name)
{
	struct ns_check *n = ud;

	return source_is_token_secret(n->src, n->snap, ns, name);
}

static void log_decision(struct server *s, const struct admission_review *rv,
			 const struct admission_response *r)
{
	char nwarn[24];

	if (r->allowed && r->nwarnings == 0) {
		if (pglog_enabled(PGLOG_DEBUG))
			pglog(PGLOG_DEBUG, "admission allowed", "uid", rv->uid, "operation",
			      admission_op_name(rv->op), "kind", r->kind, "namespace", r->obj_namespace,
			      "name", r->obj_name, NULL);
		return;
	}
	snprintf(nwarn, sizeof(nwarn), "%zu", r->warnings_total);
	if (r->allowed) {
		pglog(PGLOG_INFO, "admission allowed with warnings", "uid", rv->uid, "operation",
		      admission_op_name(rv->op), "kind", r->kind, "namespace", r->obj_namespace, "name",
		      r->obj_name, "user", rv->username, "dry_run", rv->dry_run ? "true" : "false",
		      "warnings", nwarn, NULL);
		return;
	}
	pglog(PGLOG_INFO, "admission denied", "uid", rv->uid, "operation", admission_op_name(rv->op),
	      "kind", r->kind, "namespace", r->obj_namespace, "name", r->obj_name, "user",
	      rv->username, "dry_run", rv->dry_run ? "true" : "false", "reasons",
	      buf_str(&r->message), NULL);
}

static enum MHD_Result serve_admission(struct server *s, struct MHD_Connection *c,
				       struct request *rq)
{
	struct admission_review rv;
	struct admission_response r;
	struct admission_policy pol = { 0 };
	struct ns_check nc = { s->source, NULL };
	struct buf out = BUF_INIT(2 * 1024 * 1024);
	enum MHD_Result ret;
	char err[256];
	double took;
	int e;

	e = admission_review_parse(rq->body.data ? rq->body.data : "", rq->body.len, &rv, err,
				   sizeof(err));
	if (e == -ENOMEM)
		return respond_error(s, c, rq, 500, "out of memory", NULL);
	if (e < 0) {
		pglog(PGLOG_WARN, "malformed admission review", "path", route_paths[rq->route],
		      "error", err, NULL);
		return respond_error(s, c, rq, 400, err, NULL);
	}
	admission_response_init(&r);
	if (rq->route == RT_PROFILES) {
		e = admission_judge_profile(&rv, &r);
	} else {
		nc.snap = source_acquire(s->source);
		if (!nc.snap) {
			admission_response_free(&r);
			admission_review_free(&rv);
			return respond_error(s, c, rq, 503, "profiles are not loaded yet", NULL);
		}
		pol.profiles = &nc.snap->profiles;
		pol.ns_ignored = ns_ignored;
		pol.ud = &nc;
		pol.is_token_secret = token_secret;
		pol.secret_ud = &nc;
		e = admission_judge_pod(&rv, &pol, &r);
		source_release(nc.snap);
	}
	if (e == 0)
		e = admission_response_render(&rv, &r, &out);
	if (e < 0) {
		pglog(PGLOG_ERROR, "admission failed", "uid", rv.uid, "error", strerror(-e), NULL);
		ret = respond_error(s, c, rq, 500, "internal error", NULL);
	} else {
		log_decision(s, &rv, &r);
		count_admission(s, &rv, &r);
		ret = respond(s, c, rq, 200, "application/json", &out, NULL);
	}
	took = elapsed(&rq->t0);
	metric_observe(s->m_duration, took);
	if (took > rq->deadline / 2) {
		char t[32], d[32];

		snprintf(t, sizeof(t), "%.3f", took);
		snprintf(d, sizeof(d), "%.3f", rq->deadline);
		pglog(PGLOG_WARN, "admission close to the API server's deadline", "uid", rv.uid,
		      "seconds", t, "timeout", d, NULL);
	}
	buf_free(&out);
	admission_response_free(&r);
	admission_review_free(&rv);
	return ret;
}

/* Go duration syntax as the API server writes ?timeout= ("10s", "1m30s",
 * "500ms"); anything unreadable means the API server's default, 10 s. */
static double parse_timeout(const char *s)
{
	double total = 0;

	if (!s || !*s)
		return 10;
	while (*s) {
		char *end;
		double v = strtod(s, &end);

		if (end == s || v < 0)
			return 10;
		s = end;
		if (str_has_prefix(s, "ms"))
			v /= 1000, s += 2;
		else if (*s == 's')
			s++;
		else if (*s == 'm')
			v *= 60, s++;
		else if (*s == 'h')
			v *= 3600, s++;
		else
			return 10;
		total += v;
	}
	return total > 0 && total <= 3600 ? total : 10;
}

/* ---- the MHD callbacks ----------------------------------------------------------- */

static enum route route_of(const char *url)
{
	for (int i = 0; i < RT_HOOK; i++)
		if (strcmp(url, route_paths[i]) == 0)
			return (enum route)i;
	return RT_OTHER;
}

static bool is_ready(struct server *s)
{
	if (atomic_load(&s->draining))
		return false;
	if (s->source && !source_ready(s->source))
		return false;
	return !s->ready || s->ready(s->ready_ud);
}

static enum MHD_Result serve_ops(struct server *s, struct MHD_Connection *c, struct request *rq)
{
	struct buf b = BUF_INIT(16 * 1024 * 1024);

	switch (rq->route) {
	case RT_HEALTHZ:
		return respond_text(s, c, rq, 200, "ok\n", NULL);
	case RT_READYZ:
		if (is_ready(s))
			return respond_text(s, c, rq, 200, "ok\n", NULL);
		return respond_text(s, c, rq, 503,
				    atomic_load(&s->draining) ? "shutting down\n" : "profiles not loaded\n",
				    NULL);
	default:
		if (metrics_render(s->metrics, &b) < 0) {
			buf_free(&b);
			return respond_text(s, c, rq, 500, "metrics unavailable\n", NULL);
		}
		return respond(s, c, rq, 200, METRICS_CONTENT_TYPE, &b, NULL);
	}
}

/* Makes room for the announced body, or refuses an oversize one before a
 * byte of it is read (the client that sent Expect: 100-continue never
 * sends it at all). */
static enum MHD_Result expect_body(struct server *s, struct MHD_Connection *c, struct request *rq)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n;

	if (cl && str_to_u64(cl, &n) == 0) {
		if (n > s->max_body) {
			const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
									 MHD_HTTP_HEADER_EXPECT);

			/* A client waiting for 100 Continue gets the 413 instead.
			 * One that sends its body first (most do) would see a
			 * reset, not the 413, if the connection closed under it:
			 * read and drop a moderately larger body, as nginx's
			 * lingering close does; refuse an absurd one outright. */
			if ((expect && strcasecmp(expect, "100-continue") == 0) || n / 4 > s->max_body)
				return respond_error(s, c, rq, 413, "request body too large", NULL);
			rq->too_big = true;
			return MHD_YES;
		}
		/* Grow once, not by doubling. */
		rq->body.data = pg_malloc((size_t)n + 1);
		if (!rq->body.data)
			return respond_error(s, c, rq, 500, "out of memory", NULL);
		rq->body.cap = (size_t)n + 1;
		rq->body.data[0] = '\0';
	}
	return MHD_YES;
}

/* ---- the route hook ------------------------------------------------------------- */

/* The client's address, and the CN of a certificate that verifies
 * against the client CA (for the purpose of TLS client authentication). */
static void hook_client(struct server *s, struct MHD_Connection *c, struct request *rq)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	gnutls_typed_vdata_st purpose = { GNUTLS_DT_KEY_PURPOSE_OID,
					  (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_CLIENT, 0 };
	const gnutls_datum_t *chain;
	gnutls_x509_crt_t crt;
	gnutls_session_t tls;
	unsigned int n = 0, status = 0;
	size_t len = sizeof(rq->cert_cn);

	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;

		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
				  rq->peer, sizeof(rq->peer));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
				  rq->peer, sizeof(rq->peer));
	}
	if (!s->client_ca || !s->tls)
		return;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return;
	tls = ci->tls_session;
	chain = gnutls_certificate_get_peers(tls, &n);
	if (!chain || !n)
		return;                 /* none presented */
	rq->cert_bad = true;
	if (gnutls_certificate_verify_peers(tls, &purpose, 1, &status) < 0 || status != 0)
		return;
	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, rq->cert_cn,
					  &len) == 0 && rq->cert_cn[0]) {
		rq->cert_bad = false;
	} else {
		rq->cert_cn[0] = '\0';
	}
	gnutls_x509_crt_deinit(crt);
}

/* Asks the hook; 0 when it let the request go on (headers only), else
 * the reply is queued. */
static enum MHD_Result call_hook(struct server *s, struct MHD_Connection *c, struct request *rq,
				 const char *url, const char *method, bool headers_only,
				 bool *ret_answered)
{
	struct buf out = BUF_INIT(HOOK_REPLY_MAX);
	struct server_route_reply rep = { .body = &out };
	struct server_route_request req = {
		.method = method, .path = url, .cert_cn = rq->cert_cn[0] ? rq->cert_cn : NULL,
		.cert_bad = rq->cert_bad, .peer = rq->peer, .headers_only = headers_only,
		.body = buf_str(&rq->body), .len = rq->body.len,
		.t0_us = (int64_t)rq->t0.tv_sec * 1000000 + rq->t0.tv_nsec / 1000,
		.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_AUTHORIZATION),
	};
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char ra[16];
	char *data;
	size_t len;

	*ret_answered = false;
	s->route(s->route_ud, &req, &rep);
	if (!rep.status) {
		buf_free(&out);
		if (headers_only)
			return MHD_YES;
		rep.status = 500;
		buf_adds(&out, "{\"error\":\"no reply\"}");
	}
	*ret_answered = true;
	len = out.len;
	data = buf_steal(&out);
	if (!data)
		return MHD_NO;
	resp = MHD_create_response_from_buffer_with_free_callback(len, data, pg_free);
	if (!resp) {
		pg_free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (rep.allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rep.allow);
	if (rep.retry_after) {
		snprintf(ra, sizeof(ra), "%u", rep.retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (atomic_load(&s->draining))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, rep.status, resp);
	MHD_destroy_response(resp);
	rq->answered = true;
	count_http(s, rq->route, rep.status);
	return ret;
}

static enum MHD_Result first_call(struct server *s, struct MHD_Connection *c, const char *url,
				  const char *method, struct request *rq)
{
	if (s->route && str_has_prefix(url, s->route_prefix)) {
		enum MHD_Result r;
		bool answered;

		rq->route = RT_HOOK;
		rq->deadline = HOOK_DEADLINE_S;
		hook_client(s, c, rq);
		r = call_hook(s, c, rq, url, method, true, &answered);
		return answered || r == MHD_NO ? r : expect_body(s, c, rq);
	}
	rq->route = route_of(url);
	if ((rq->route == RT_PODS || rq->route == RT_PROFILES) && !s->source)
		rq->route = RT_OTHER;
	if (rq->route == RT_OTHER)
		return respond_error(s, c, rq, 404, "not found", NULL);
	if (rq->route == RT_HEALTHZ || rq->route == RT_READYZ || rq->route == RT_METRICS) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return respond_error(s, c, rq, 405, "method not allowed", "GET, HEAD");
		return serve_ops(s, c, rq);
	}
	if (strcmp(method, "POST") != 0)
		return respond_error(s, c, rq, 405, "method not allowed", "POST");
	rq->deadline = parse_timeout(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "timeout"));
	return expect_body(s, c, rq);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct server *s = cls;
	struct request *rq = *req_cls;
	int r;

	if (!rq) {
		rq = pg_calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &rq->t0);
		buf_init(&rq->body, s->max_body);
		*req_cls = rq;
		atomic_fetch_add(&s->inflight, 1);
		return first_call(s, c, url, method, rq);
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		/* A client dripping its body past the API server's own
		 * deadline is not the API server: drop it. */
		if (elapsed(&rq->t0) > rq->deadline + 1)
			return MHD_NO;
		if (rq->answered || rq->too_big)
			return MHD_YES;         /* discarding what is left */
		r = buf_add(&rq->body, upload_data, n);
		if (r == -E2BIG) {
			rq->too_big = true;
			buf_free(&rq->body);
			/* MHD cannot answer mid-body: the 413 goes out once the
			 * rest has been read and thrown away. */
		} else if (r < 0) {
			return MHD_NO;
		}
		return MHD_YES;
	}
	if (rq->answered)
		return MHD_YES;
	if (rq->too_big)
		return respond_error(s, c, rq, 413, "request body too large", NULL);
	if (rq->route == RT_HOOK) {
		bool answered;

		return call_hook(s, c, rq, url, method, false, &answered);
	}
	return serve_admission(s, c, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct server *s = cls;
	struct request *rq = *req_cls;

	if (!rq)
		return;
	buf_free(&rq->body);
	pg_free(rq);
	*req_cls = NULL;
	atomic_fetch_sub(&s->inflight, 1);
}

static void connection_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			      enum MHD_ConnectionNotificationCode toe)
{
	struct server *s = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		metric_gauge_add(s->m_connections, 1);
		if (s->tls)
			*socket_context = (void *)(uintptr_t)tls_store_conn_open(s->tls);
	} else {
		metric_gauge_add(s->m_connections, -1);
		if (s->tls)
			tls_store_conn_close(s->tls, (uint64_t)(uintptr_t)*socket_context);
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct server *s = cls;
	char msg[512];
	size_t n;

	if (!pglog_enabled(PGLOG_DEBUG))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	pglog(PGLOG_DEBUG, "http server", "server", s->name, "detail", msg, NULL);
}

/* ---- listening ---------------------------------------------------------------- */

int server_parse_listen(const char *listen, char *host, size_t hostsz, uint16_t *port)
{
	const char *colon, *h = listen;
	size_t hlen;
	uint64_t p;

	if (!listen || !*listen)
		return -EINVAL;
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = listen + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - listen);
		if (memchr(listen, ':', hlen))
			return -EINVAL;         /* IPv6 without brackets */
	}
	if (hlen >= hostsz || str_to_u64(colon + 1, &p) < 0 || p > 65535)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static int open_listener(const char *addr, int *ret_fd, uint16_t *ret_port, char *err,
			 size_t errsz)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[8];
	uint16_t p;
	int fd = -1, one = 1, zero = 0, r;

	if (server_parse_listen(addr, host, sizeof(host), &p) < 0) {
		snprintf(err, errsz, "--listen %s: expected HOST:PORT, :PORT or [IPv6]:PORT", addr);
		return -EINVAL;
	}
	snprintf(port, sizeof(port), "%u", p);
	if (!host[0]) {
		/* Every address, IPv4 too when the kernel has IPv6. */
		hints.ai_family = AF_INET6;
		r = getaddrinfo(NULL, port, &hints, &ai);
		if (r == 0)
			fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (fd < 0) {
			if (ai)
				freeaddrinfo(ai);
			hints.ai_family = AF_INET;
			ai = NULL;
			r = getaddrinfo(NULL, port, &hints, &ai);
		}
	} else {
		hints.ai_family = AF_UNSPEC;
		r = getaddrinfo(host, port, &hints, &ai);
	}
	if (r != 0) {
		snprintf(err, errsz, "--listen %s: %s", addr, gai_strerror(r));
		return -EINVAL;
	}
	if (fd < 0)
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto syserr;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0)
		goto syserr;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(ai);
	*ret_fd = fd;
	return 0;
syserr:
	r = -errno;
	snprintf(err, errsz, "--listen %s: %s", addr, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return r;
}

/* ---- start and stop ------------------------------------------------------------ */

int server_start(const struct server_config *cfg, struct server **ret, char *err, size_t errsz)
{
	struct server *s;
	unsigned threads = cfg->threads, flags;
	long ncpu;
	int r;

	s = pg_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	snprintf(s->name, sizeof(s->name), "%s", cfg->name ? cfg->name : "http");
	s->tls = cfg->tls;
	s->source = cfg->source;
	s->metrics = cfg->metrics;
	s->ready = cfg->ready;
	s->ready_ud = cfg->ready_ud;
	s->route = cfg->route_prefix ? cfg->route : NULL;
	s->route_ud = cfg->route_ud;
	s->max_body = cfg->max_request_bytes ? cfg->max_request_bytes : SERVER_DEFAULT_MAX_REQUEST_BYTES;
	s->listen_fd = -1;
	atomic_init(&s->draining, false);
	atomic_init(&s->inflight, 0);
	if ((s->route && !(s->route_prefix = pg_strdup(cfg->route_prefix))) ||
	    (cfg->client_ca_pem && !(s->client_ca = pg_strdup(cfg->client_ca_pem)))) {
		r = -ENOMEM;
		goto fail;
	}
	if (s->source)
		register_metrics(s);
	if (s->tls)
		tls_store_install(s->tls);

	r = open_listener(cfg->listen, &s->listen_fd, &s->port, err, errsz);
	if (r < 0)
		goto fail;
	if (!threads) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		threads = ncpu > 0 ? (unsigned)ncpu : 1;
	}
	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (s->tls)
		flags |= MHD_USE_TLS;
	{
		unsigned pool = threads > 1 ? threads : 0;
		unsigned maxc = cfg->max_connections ? cfg->max_connections : SERVER_DEFAULT_MAX_CONNECTIONS;
		unsigned idle = cfg->idle_timeout ? cfg->idle_timeout : SERVER_DEFAULT_IDLE_TIMEOUT;
		const char *prio = cfg->tls_priorities ? cfg->tls_priorities : SERVER_TLS_PRIORITIES;

#define COMMON_OPTIONS \
	MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, \
	MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd, \
	MHD_OPTION_THREAD_POOL_SIZE, pool, \
	MHD_OPTION_CONNECTION_LIMIT, maxc, \
	MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip, \
	MHD_OPTION_CONNECTION_TIMEOUT, idle, \
	MHD_OPTION_NOTIFY_COMPLETED, completed, s, \
	MHD_OPTION_NOTIFY_CONNECTION, connection_notify, s
		if (s->tls && s->client_ca)
			s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, COMMON_OPTIONS,
						MHD_OPTION_HTTPS_CERT_CALLBACK, tls_store_retrieve,
						MHD_OPTION_HTTPS_PRIORITIES, prio,
						MHD_OPTION_HTTPS_MEM_TRUST, s->client_ca, MHD_OPTION_END);
		else if (s->tls)
			s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, COMMON_OPTIONS,
						MHD_OPTION_HTTPS_CERT_CALLBACK, tls_store_retrieve,
						MHD_OPTION_HTTPS_PRIORITIES, prio, MHD_OPTION_END);
		else
			s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, COMMON_OPTIONS,
						MHD_OPTION_END);
#undef COMMON_OPTIONS
	}
	if (!s->d) {
		snprintf(err, errsz, "%s server on %s did not start (libmicrohttpd refused the "
			 "configuration; run with --log-level debug for its reason)", s->name, cfg->listen);
		r = -EINVAL;
		goto fail;
	}
	/* MHD owns the socket now and closes it when it stops, unless
	 * server_drain() took it back. */
	s->listen_fd = -1;
	*ret = s;
	return 0;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	pg_free(s->route_prefix);
	pg_free(s->client_ca);
	pg_free(s);
	return r;
}

uint16_t server_port(const struct server *s)
{
	return s->port;
}

void server_drain_begin(struct server *s)
{
	if (s)
		atomic_store(&s->draining, true);
}

void server_drain(struct server *s, unsigned timeout_ms)
{
	struct timespec t0;
	MHD_socket fd;

	if (!s || s->listen_fd >= 0)
		return;                 /* already drained */
	atomic_store(&s->draining, true);
	fd = MHD_quiesce_daemon(s->d);
	/* MHD's threads may still look at the socket until they stop, so it
	 * is closed in server_stop(); shutdown() takes it out of LISTEN now,
	 * so new connections are refused at once instead of queueing in a
	 * backlog nobody accepts from. */
	if (fd != MHD_INVALID_SOCKET) {
		s->listen_fd = fd;
		shutdown(fd, SHUT_RDWR);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (atomic_load(&s->inflight) > 0 && elapsed(&t0) * 1000 < timeout_ms)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
}

struct server *server_stop(struct server *s)
{
	if (!s)
		return NULL;
	MHD_stop_daemon(s->d);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	pg_free(s->route_prefix);
	pg_free(s->client_ca);
	pg_free(s);
	return NULL;
}
