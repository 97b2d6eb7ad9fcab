/* tel_endpoint.c - one telemetry request, from its headers to its reply:
 * route, leadership, sender, trust, ingest.  The edge of the telemetry
 * path, so this is where it logs: every refused request (who, why; never
 * a token), and malformed lines once a minute per sender. */
#include "tel_endpoint.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "hash.h"
#include "ingest.h"
#include "metrics.h"
#include "pglog.h"
#include "strutil.h"
#include "tel_auth.h"
#include "ticker.h"
#include "xalloc.h"

/* Refusals logged per second at most; the rest are counted in one line. */
#define REFUSAL_LOGS_PER_S 20
/* Senders whose malformed lines were logged lately: a lossy table. */
#define MALFORMED_SLOTS 1024
#define MALFORMED_EVERY_MS 60000
#define SA_PREFIX "system:serviceaccount:"
#define PG_STR_(x) #x
#define PG_STR(x) PG_STR_(x)

/* Reply codes counted in profileguard_telemetry_requests_total. */
static const unsigned codes[] = { 200, 400, 401, 403, 404, 405, 413, 500, 503 };
#define NCODES (sizeof(codes) / sizeof(codes[0]))
#define SRC_OTHER TELEMETRY__COUNT

struct malformed_slot {
	uint64_t who;
	int64_t at_ms;
};

struct tel_endpoint {
	struct tel_endpoint_config cfg;
	pthread_mutex_t mu;
	int64_t log_second;             /* refusal log budget */
	unsigned logged;
	uint64_t unlogged;
	struct malformed_slot malformed[MALFORMED_SLOTS];
	struct metric *m_requests[TELEMETRY__COUNT + 1][NCODES];
};

int tel_endpoint_new(const struct tel_endpoint_config *cfg, struct tel_endpoint **ret)
{
	static const char *const labels[] = { "source", "code", NULL };
	struct tel_endpoint *ep;
	struct metric_vec *v;

	if (!cfg->ingest || !cfg->auth)
		return -EINVAL;
	ep = pg_calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->cfg = *cfg;
	if (!ep->cfg.now_ms)
		ep->cfg.now_ms = ticker_now_ms;
	pthread_mutex_init(&ep->mu, NULL);
	if (cfg->metrics) {
		v = metrics_counter(cfg->metrics, "profileguard_telemetry_requests_total",
				    "Telemetry requests answered, by source and HTTP status code (401/403: "
				    "refused senders, 503: not the leader).", labels);
		for (int s = 0; s <= TELEMETRY__COUNT; s++) {
			for (size_t c = 0; c < NCODES; c++) {
				char cs[8];

				snprintf(cs, sizeof(cs), "%u", codes[c]);
				ep->m_requests[s][c] = metric_vec_get2(v, s == SRC_OTHER ? "other" :
							telemetry_source_name((enum telemetry_source)s), cs);
			}
		}
	}
	*ret = ep;
	return 0;
}

struct tel_endpoint *tel_endpoint_free(struct tel_endpoint *ep)
{
	if (!ep)
		return NULL;
	pthread_mutex_destroy(&ep->mu);
	pg_free(ep);
	return NULL;
}

/* ---- replies ------------------------------------------------------------------ */

static void count(struct tel_endpoint *ep, int src, unsigned code)
{
	for (size_t c = 0; c < NCODES; c++)
		if (codes[c] == code)
			metric_inc(ep->m_requests[src][c]);
}

static void reply_error(struct tel_endpoint *ep, int src, struct tel_endpoint_reply *ret, unsigned code,
			const char *msg)
{
	struct buf b = BUF_INIT(sizeof(ret->body) - 16);

	ret->status = code;
	if (buf_adds(&b, "{\"error\":\"") < 0 || buf_add_json_escaped(&b, msg) < 0 ||
	    buf_adds(&b, "\"}") < 0)
		snprintf(ret->body, sizeof(ret->body), "{\"error\":\"%u\"}", code);
	else
		snprintf(ret->body, sizeof(ret->body), "%s", buf_str(&b));
	buf_free(&b);
	count(ep, src, code);
}

/* One line per refused request, within a budget per second. */
static void log_refusal(struct tel_endpoint *ep, const struct tel_endpoint_request *rq, unsigned code,
			const struct tel_auth_principal *p, const char *why)
{
	int64_t sec = ep->cfg.now_ms() / 1000;
	uint64_t dropped = 0;
	bool log;
	char cs[8], nd[24];

	pthread_mutex_lock(&ep->mu);
	if (sec != ep->log_second) {
		dropped = ep->unlogged;
		ep->unlogged = 0;
		ep->logged = 0;
		ep->log_second = sec;
	}
	log = ep->logged < REFUSAL_LOGS_PER_S;
	if (log)
		ep->logged++;
	else
		ep->unlogged++;
	pthread_mutex_unlock(&ep->mu);
	if (dropped) {
		snprintf(nd, sizeof(nd), "%llu", (unsigned long long)dropped);
		pglog(PGLOG_WARN, "telemetry requests refused without a log line (too many)",
		      "count", nd, NULL);
	}
	if (!log)
		return;
	snprintf(cs, sizeof(cs), "%u", code);
	pglog(PGLOG_WARN, "telemetry request refused", "status", cs, "path", rq->path,
	      "peer", rq->peer ? rq->peer : "", "user", p && p->username[0] ? p->username : "",
	      "via", p && p->via_cert ? "certificate" : p && p->token_id[0] ? "token" : "",
	      "token_sha256", p ? p->token_id : "", "node", p ? p->node : "", "reason", why, NULL);
}

static void log_malformed(struct tel_endpoint *ep, const struct tel_auth_principal *p,
			  enum telemetry_source src, const struct ingest_result *res)
{
	uint64_t who = hash_fnv1a64_str(HASH_FNV64_BASIS, p->username);
	int64_t now = ep->cfg.now_ms();
	struct malformed_slot *s;
	char n[24];
	bool log;

	who |= 1;
	s = &ep->malformed[who % MALFORMED_SLOTS];
	pthread_mutex_lock(&ep->mu);
	log = s->who != who || now - s->at_ms >= MALFORMED_EVERY_MS;
	if (log) {
		s->who = who;
		s->at_ms = now;
	}
	pthread_mutex_unlock(&ep->mu);
	if (!log)
		return;
	snprintf(n, sizeof(n), "%zu", res->rejected);
	pglog(PGLOG_WARN, "telemetry lines rejected as malformed (logged once a minute per sender)",
	      "user", p->username, "source", telemetry_source_name(src), "rejected", n, "first_error",
	      res->first_error, NULL);
}

/* ---- the request ------------------------------------------------------------------ */

static int source_of(const char *path)
{
	static const struct { const char *path; enum telemetry_source src; } routes[] = {
		{ TEL_ENDPOINT_PREFIX "v1/events", TELEMETRY_NATIVE },
		{ TEL_ENDPOINT_PREFIX "v1/falco", TELEMETRY_FALCO },
		{ TEL_ENDPOINT_PREFIX "v1/tetragon", TELEMETRY_TETRAGON },
		{ TEL_ENDPOINT_PREFIX "v1/audit", TELEMETRY_AUDIT },
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(path, routes[i].path) == 0)
			return (int)routes[i].src;
	return -1;
}

/* A pod-bound token without a node claim speaks for the node its pod
 * runs on, as it would with the claim: never for every node.  False when
 * that pod is not known. */
static bool bound_node(struct tel_endpoint *ep, struct tel_auth_principal *p)
{
	char ns[256];
	const char *colon;
	size_t n;

	if (p->node[0] || !p->pod_name[0])
		return true;
	if (!str_has_prefix(p->username, SA_PREFIX) || !ep->cfg.pod_node)
		return false;
	colon = strchr(p->username + strlen(SA_PREFIX), ':');
	n = colon ? (size_t)(colon - (p->username + strlen(SA_PREFIX))) : 0;
	if (!n || n >= sizeof(ns))
		return false;
	memcpy(ns, p->username + strlen(SA_PREFIX), n);
	ns[n] = '\0';
	return ep->cfg.pod_node(ep->cfg.ud, ns, p->pod_name, p->pod_uid[0] ? p->pod_uid : NULL,
				p->node, sizeof(p->node)) && p->node[0];
}

void tel_endpoint_handle(struct tel_endpoint *ep, const struct tel_endpoint_request *rq,
			 struct tel_endpoint_reply *ret)
{
	struct tel_auth_principal p;
	struct ingest_sender sender;
	struct ingest_result res;
	enum tel_auth_status st;
	char why[640];
	int src, r;

	memset(ret, 0, sizeof(*ret));
	src = source_of(rq->path);
	if (src < 0) {
		reply_error(ep, SRC_OTHER, ret, 404, "not found");
		return;
	}
	if (strcmp(rq->method, "POST") != 0) {
		ret->allow = "POST";
		reply_error(ep, src, ret, 405, "method not allowed");
		return;
	}
	if (ep->cfg.serving && !ep->cfg.serving(ep->cfg.ud)) {
		/* The Service selects the leader by label; a sender that still
		 * reached a follower tries again shortly. */
		ret->retry_after = 2;
		reply_error(ep, src, ret, 503, "not the leader: telemetry is taken by the leading "
			    "controller only");
		return;
	}
	st = tel_auth_check(ep->cfg.auth, rq->authorization, rq->cert_cn, rq->cert_bad, &p, why,
			    sizeof(why));
	if (st == TEL_AUTH_OK && !bound_node(ep, &p)) {
		snprintf(why, sizeof(why), "token bound to pod %s, which is not known: cannot tell "
			 "which node it speaks for", p.pod_name);
		st = TEL_AUTH_FORBIDDEN;
	}
	if (st == TEL_AUTH_OK && src == TELEMETRY_AUDIT && p.node[0]) {
		snprintf(why, sizeof(why), "audit events are taken only from senders without a "
			 "node claim (this one speaks for node %s)", p.node);
		st = TEL_AUTH_FORBIDDEN;
	}
	if (st != TEL_AUTH_OK) {
		unsigned code = st == TEL_AUTH_UNAUTHENTICATED ? 401 : st == TEL_AUTH_FORBIDDEN ? 403 : 503;

		if (code == 503)
			ret->retry_after = 5;
		log_refusal(ep, rq, code, &p, why);
		reply_error(ep, src, ret, code, code == 401 ? "unauthenticated" :
			    code == 403 ? "forbidden" : "cannot authenticate now");
		return;
	}
	if (rq->headers_only)
		return;                 /* status 0: read the body */

	sender.username = p.username;
	sender.node = p.node[0] ? p.node : NULL;
	r = ingest_batch(ep->cfg.ingest, &sender, (enum telemetry_source)src, rq->body, rq->len, rq->t0_us,
			 &res);
	if (res.rejected)
		log_malformed(ep, &p, (enum telemetry_source)src, &res);
	if (r == -ENOMEM) {
		pglog(PGLOG_ERROR, "telemetry batch not taken: out of memory", "user", p.username,
		      NULL);
		reply_error(ep, src, ret, 500, "out of memory");
		return;
	}
	ret->status = r == -E2BIG ? 413 : 200;
	snprintf(ret->body, sizeof(ret->body),
		 "{\"accepted\":%zu,\"rejected\":%zu,\"forbidden\":%zu,\"unattributed\":%zu,"
		 "\"ignored\":%zu%s}", res.accepted, res.rejected, res.forbidden, res.unattributed,
		 res.ignored, r == -E2BIG ? ",\"error\":\"more events than one batch may hold "
		 "(" PG_STR(TELEMETRY_MAX_EVENTS) "): the rest was not read\"" : "");
	count(ep, src, ret->status);
	if (res.forbidden) {
		char n[24];

		snprintf(n, sizeof(n), "%zu", res.forbidden);
		pglog(PGLOG_WARN, "telemetry events about pods on another node refused", "user",
		      p.username, "node", p.node, "source", telemetry_source_name((enum telemetry_source)src),
		      "count", n, NULL);
	}
	if (pglog_enabled(PGLOG_DEBUG)) {
		char a[24], rep[24];

		snprintf(a, sizeof(a), "%zu", res.accepted);
		snprintf(rep, sizeof(rep), "%zu", res.reports);
		pglog(PGLOG_DEBUG, "telemetry batch", "user", p.username, "source",
		      telemetry_source_name((enum telemetry_source)src), "accepted", a, "reports", rep, NULL);
	}
}
