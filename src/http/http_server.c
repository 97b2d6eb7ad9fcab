/* http_server.c - the HTTP(S) front of every command: routing, bounded
 * bodies, the handler's jobs, health and metrics, graceful drain.  One
 * request's memory (its body buffer, its job and answer) has one owner,
 * struct request, freed by MHD's request-completed callback whatever
 * happened to the request.
 *
 * Two things MHD does not do are done here.  Connection bookkeeping (struct
 * conn, from MHD's connection notifications): a deadline on a whole
 * request, not only on inactivity, a cap per client address, and eviction
 * when the slots run out; a connection is closed from outside its thread
 * by shutdown(2) on its socket, which MHD then sees as the peer leaving.
 * And a work pool: a handler's job is parsed on its connection's thread;
 * unless it is cheap (then it is done in place, cheaper than any
 * hand-off), the connection is suspended and the job handed to a worker;
 * workers take keys (namespaces) in turn and no key holds them all, so one
 * namespace's slow judgements never hold another's review. */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "hash.h"
#include "http_listen.h"
#include "http_tls.h"
#include "metrics.h"
#include "pglog.h"
#include "strutil.h"
#include "ticker.h"
#include "xalloc.h"

/* The handler's paths first (HTTP_SERVER_MAX_PATHS), then the server's own. */
enum route { RT_PATH0, RT_HEALTHZ = HTTP_SERVER_MAX_PATHS, RT_READYZ, RT_METRICS, RT_HOOK, RT_OTHER,
	     RT__COUNT };

static const char *const own_paths[RT__COUNT - RT_HEALTHZ] = {
	"/healthz", "/readyz", "/metrics", "hook", "other",
};

/* A route hook's reply body at most; its requests may take this long. */
#define HOOK_REPLY_MAX (64u * 1024)
#define HOOK_DEADLINE_S 60

/* Under eviction pressure, a connection still waiting for its request
 * this long is slower than any healthy client, and goes before idle ones. */
#define EVICT_SLOW_MS 1000
/* How often deadlines are checked; how often a kind of closing is logged. */
#define SWEEP_MS 250
#define CLOSE_LOG_MS 10000
#define NS_BUCKETS 256

/* The status codes this server answers with, for the metric slots. */
static const unsigned codes[] = { 200, 400, 404, 405, 413, 500, 503 };
#define NCODES (sizeof(codes) / sizeof(codes[0]))

enum job_state { JOB_NONE, JOB_QUEUED, JOB_DONE };

struct ns_queue;

struct request {
	struct buf body;
	enum route route;
	int64_t t0_ns;                  /* ticker_now_ns() at arrival */
	double deadline;                /* seconds, from ?timeout= */
	bool too_big;
	bool answered;
	/* The handler's job, handed to the pool: parsed on the connection's
	 * thread, worked on by a worker, answered after resume. */
	enum job_state job;
	struct MHD_Connection *mc;
	void *work;                     /* the handler's; NULL: none yet */
	struct request *qnext;          /* in its namespace's queue */
	struct ns_queue *ns;
	unsigned code;                  /* the answer, once JOB_DONE */
	struct buf out;
	/* Route hook requests only: the client, as the TLS handshake and
	 * the socket said. */
	bool cert_bad;
	char cert_cn[256];
	char peer[INET6_ADDRSTRLEN];
};

/* One client address and its open connections. */
struct peer {
	struct peer *next;
	unsigned char addr[16];
	uint8_t len;
	unsigned n;
	char text[INET6_ADDRSTRLEN];
};

/* Where a connection is: waiting for (part of) a request or for its
 * answer to go out, under the request deadline and first to be evicted;
 * idle between requests; busy (being judged), in no list; closing. */
enum conn_state { CONN_WAITING, CONN_IDLE, CONN_BUSY, CONN_CLOSING };

struct conn {
	struct conn *prev, *next;       /* in waiting or idle, oldest first */
	int fd;
	enum conn_state state;
	int64_t since_ms;               /* start of the current wait */
	struct peer *peer;
	uint64_t tls_token;
};

struct conn_list {
	struct conn *head, *tail;
};

/* What the sweep or a notification closed, logged outside the lock and
 * at most once per CLOSE_LOG_MS per kind. */
enum close_kind { CLOSE_TIMEOUT, CLOSE_EVICTED, CLOSE_PER_IP, CLOSE__COUNT };

struct close_log {
	uint64_t count;                 /* since the last line */
	int64_t last_ms;
	char peer[INET6_ADDRSTRLEN];
};

/* A namespace with reviews queued or being judged. */
struct ns_queue {
	struct ns_queue *hnext;         /* hash chain */
	struct ns_queue *rprev, *rnext; /* the round, while reviews are queued */
	struct request *head, *tail;
	unsigned queued, running;
	bool in_round;
	uint32_t hash;
	char name[];
};

struct judge_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t *threads;
	unsigned nthreads, started, per_ns;
	bool stopping;
	struct ns_queue *buckets[NS_BUCKETS];
	struct ns_queue *round;         /* the next namespace to serve */
	unsigned queued;
	/* Workers asleep, and wake-ups sent and not yet taken: a review
	 * wakes a worker only when none is already on its way, so a burst
	 * costs a few wake-ups, not one per review. */
	unsigned idle, waking;
};

struct http_server {
	char name[32];
	struct MHD_Daemon *d;
	int listen_fd;
	uint16_t port;
	struct http_tls_store *tls;
	struct http_server_handler handler;  /* paths[0] NULL: none */
	const char *paths[RT__COUNT];   /* the metric's path labels */
	struct metrics *metrics;
	bool (*healthy)(void *ud, char *why, size_t whysz);
	bool (*ready)(void *ud, char *why, size_t whysz);
	void *ready_ud;
	char *route_prefix;
	http_server_route_fn route;
	void *route_ud;
	char *client_ca;
	size_t max_body;
	atomic_bool draining;
	atomic_uint inflight;

	/* Connection bookkeeping, under conn_mu. */
	pthread_mutex_t conn_mu;
	struct conn_list waiting, idle;
	unsigned nconns;                /* open, not closing */
	unsigned max_conns, evict_above, per_ip;
	int64_t request_ms, idle_ms;
	char flag_prefix[32];
	struct peer *peers[NS_BUCKETS];
	struct close_log closes[CLOSE__COUNT];
	pthread_t sweeper;
	bool sweeper_started;
	bool sweeper_stop;
	pthread_cond_t sweeper_cv;

	struct judge_pool *pool;        /* NULL without a handler */

	/* Metric series, resolved on first use and kept. */
	struct metric_vec *m_http;              /* {path,code} */
	struct metric *m_connections;
	struct metric *m_closed[CLOSE__COUNT];
	_Atomic(struct metric *) http_slots[RT__COUNT][NCODES];
};

/* ---- metrics ------------------------------------------------------------------ */

static void register_metrics(struct http_server *s)
{
	static const char *const http_labels[] = { "path", "code", NULL };

	s->m_http = metrics_counter(s->metrics, "profileguard_webhook_http_responses_total",
				    "HTTP responses of the webhook server, by path and status code.",
				    http_labels);
	s->m_connections = metric_vec_get(metrics_gauge(s->metrics, "profileguard_webhook_connections",
		"Open connections to the webhook server.", NULL), NULL);
	{
		static const char *const close_labels[] = { "reason", NULL };
		struct metric_vec *v = metrics_counter(s->metrics,
			"profileguard_webhook_connections_closed_total",
			"Connections the webhook server closed to protect its slots, by why: "
			"request_timeout (a request not in within --request-timeout), evicted (room "
			"made for a new connection near --max-connections), per_ip_cap (past "
			"--max-connections-per-ip).", close_labels);

		s->m_closed[CLOSE_TIMEOUT] = metric_vec_get1(v, "request_timeout");
		s->m_closed[CLOSE_EVICTED] = metric_vec_get1(v, "evicted");
		s->m_closed[CLOSE_PER_IP] = metric_vec_get1(v, "per_ip_cap");
	}
}

static void count_http(struct http_server *s, enum route rt, unsigned code)
{
	char cs[8];
	const char *vals[2] = { s->paths[rt], cs };
	size_t i;

	if (!s->m_http)
		return;
	for (i = 0; i < NCODES && codes[i] != code; i++)
		;
	if (i == NCODES)
		return;
	snprintf(cs, sizeof(cs), "%u", code);
	metric_inc(metric_vec_cached(&s->http_slots[rt][i], s->m_http, vals));
}

/* ---- connection bookkeeping ------------------------------------------------------ */

static void list_remove(struct conn_list *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

static void list_append(struct conn_list *l, struct conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static struct conn_list *list_of(struct http_server *s, enum conn_state st)
{
	return st == CONN_WAITING ? &s->waiting : st == CONN_IDLE ? &s->idle : NULL;
}

/* Moves @c to @st; @restart: its wait starts now (else it keeps its
 * start, and its place in the list, when it stays waiting).  Locked. */
static void conn_move_locked(struct http_server *s, struct conn *c, enum conn_state st, bool restart)
{
	struct conn_list *from = list_of(s, c->state), *to = list_of(s, st);

	if (c->state == CONN_CLOSING)
		return;                 /* shut down already: MHD is closing it */
	if (from == to && to && !restart)
		return;
	if (from)
		list_remove(from, c);
	c->state = st;
	c->since_ms = ticker_now_ms();
	if (to)
		list_append(to, c);
}

static void conn_move(struct http_server *s, struct conn *c, enum conn_state st, bool restart)
{
	if (!c)
		return;
	pthread_mutex_lock(&s->conn_mu);
	conn_move_locked(s, c, st, restart);
	pthread_mutex_unlock(&s->conn_mu);
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Closes @c from outside MHD: shutdown(2) makes its socket readable at
 * EOF, MHD's thread sees the peer gone and closes it, and its close
 * notification (which takes conn_mu, so the descriptor cannot have been
 * reused under us) forgets it.  Locked. */
static void conn_close_locked(struct http_server *s, struct conn *c, enum close_kind why)
{
	struct conn_list *from = list_of(s, c->state);

	if (c->state == CONN_CLOSING)
		return;
	if (from)
		list_remove(from, c);
	c->state = CONN_CLOSING;
	s->nconns--;
	shutdown(c->fd, SHUT_RDWR);
	s->closes[why].count++;
	if (why == CLOSE_PER_IP && c->peer)
		snprintf(s->closes[why].peer, sizeof(s->closes[why].peer), "%s", c->peer->text);
	metric_inc(s->m_closed[why]);
}

/* Room for a new connection: the one that has waited longest for its
 * request, if it is slower than any healthy client; else the one idle
 * longest (a client reconnects at no cost); else the oldest waiting one.
 * Connections being judged are never chosen.  Locked. */
static bool evict_one_locked(struct http_server *s, int64_t now)
{
	struct conn *c = s->waiting.head;

	if (!c || now - c->since_ms < EVICT_SLOW_MS)
		c = s->idle.head ? s->idle.head : s->waiting.head;
	if (!c)
		return false;
	conn_close_locked(s, c, CLOSE_EVICTED);
	return true;
}

static uint32_t hash_bytes(const void *p, size_t n)
{
	return hash_fnv1a32(HASH_FNV32_BASIS, p, n);
}

static struct peer *peer_get_locked(struct http_server *s, const struct sockaddr *sa)
{
	unsigned char addr[16];
	uint8_t len;
	struct peer **slot, *p;

	if (sa && sa->sa_family == AF_INET) {
		len = 4;
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		len = 16;
		memcpy(addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	} else {
		return NULL;            /* not an IP peer: no cap applies */
	}
	slot = &s->peers[hash_bytes(addr, len) % NS_BUCKETS];
	for (p = *slot; p; p = p->next)
		if (p->len == len && memcmp(p->addr, addr, len) == 0)
			return p;
	p = pg_calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->addr, addr, len);
	p->len = len;
	inet_ntop(len == 4 ? AF_INET : AF_INET6, addr, p->text, sizeof(p->text));
	p->next = *slot;
	*slot = p;
	return p;
}

static void peer_put_locked(struct http_server *s, struct peer *p)
{
	struct peer **pp;

	if (!p || --p->n > 0)
		return;
	for (pp = &s->peers[hash_bytes(p->addr, p->len) % NS_BUCKETS]; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			pg_free(p);
			return;
		}
	}
}

/* The log lines of what was closed since the last ones, at most one per
 * kind per CLOSE_LOG_MS.  Called without the lock. */
static void log_closes(struct http_server *s)
{
	struct close_log copy[CLOSE__COUNT];
	int64_t now = ticker_now_ms();
	bool any = false;
	char n[24], cap[24], flag[160];

	pthread_mutex_lock(&s->conn_mu);
	for (int i = 0; i < CLOSE__COUNT; i++) {
		copy[i] = s->closes[i];
		copy[i].count = 0;
		if (s->closes[i].count && now - s->closes[i].last_ms >= CLOSE_LOG_MS) {
			copy[i].count = s->closes[i].count;
			s->closes[i].count = 0;
			s->closes[i].last_ms = now;
			any = true;
		}
	}
	pthread_mutex_unlock(&s->conn_mu);
	if (!any)
		return;
	if (copy[CLOSE_TIMEOUT].count) {
		snprintf(n, sizeof(n), "%llu", (unsigned long long)copy[CLOSE_TIMEOUT].count);
		snprintf(cap, sizeof(cap), "%lld", (long long)(s->request_ms / 1000));
		snprintf(flag, sizeof(flag), "connections closed: request not in within --%srequest-timeout",
			 s->flag_prefix);
		pglog(PGLOG_WARN, flag, "server", s->name, "closed", n, "seconds", cap, NULL);
	}
	if (copy[CLOSE_EVICTED].count) {
		snprintf(n, sizeof(n), "%llu", (unsigned long long)copy[CLOSE_EVICTED].count);
		snprintf(cap, sizeof(cap), "%u", s->max_conns);
		snprintf(flag, sizeof(flag), "connections closed to make room for new ones: "
			 "--%smax-connections nearly reached", s->flag_prefix);
		pglog(PGLOG_WARN, flag, "server", s->name, "closed", n, "cap", cap, NULL);
	}
	if (copy[CLOSE_PER_IP].count) {
		snprintf(n, sizeof(n), "%llu", (unsigned long long)copy[CLOSE_PER_IP].count);
		snprintf(cap, sizeof(cap), "%u", s->per_ip);
		snprintf(flag, sizeof(flag), "connection refused: --%smax-connections-per-ip reached",
			 s->flag_prefix);
		pglog(PGLOG_WARN, flag, "server", s->name, "peer", copy[CLOSE_PER_IP].peer, "refused", n,
		      "cap", cap, NULL);
	}
}

static void conn_started(struct http_server *s, struct MHD_Connection *mc, void **socket_context)
{
	const union MHD_ConnectionInfo *fdi = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ai = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct conn *c = pg_calloc(1, sizeof(*c));
	int64_t now = ticker_now_ms();
	bool refused = false;

	*socket_context = c;
	if (!c) {
		/* Untracked, it could outlive every deadline: refuse it. */
		if (fdi)
			shutdown(fdi->connect_fd, SHUT_RDWR);
		return;
	}
	c->fd = fdi ? fdi->connect_fd : -1;
	if (s->tls)
		c->tls_token = http_tls_store_conn_open(s->tls);
	pthread_mutex_lock(&s->conn_mu);
	c->peer = peer_get_locked(s, ai ? ai->client_addr : NULL);
	if (c->peer)
		c->peer->n++;
	c->state = CONN_WAITING;
	c->since_ms = now;
	list_append(&s->waiting, c);
	s->nconns++;
	if (c->peer && c->peer->n > s->per_ip) {
		conn_close_locked(s, c, CLOSE_PER_IP);
		refused = true;
	}
	while (!refused && s->nconns > s->evict_above && evict_one_locked(s, now))
		;
	pthread_mutex_unlock(&s->conn_mu);
	log_closes(s);
}

static void conn_closed(struct http_server *s, void *socket_context)
{
	struct conn *c = socket_context;

	if (!c)
		return;
	pthread_mutex_lock(&s->conn_mu);
	if (c->state != CONN_CLOSING) {
		struct conn_list *from = list_of(s, c->state);

		if (from)
			list_remove(from, c);
		s->nconns--;
	}
	peer_put_locked(s, c->peer);
	pthread_mutex_unlock(&s->conn_mu);
	if (s->tls)
		http_tls_store_conn_close(s->tls, c->tls_token);
	pg_free(c);
}

/* Every SWEEP_MS: closes connections past their deadline (the lists are
 * in deadline order, so only their heads are looked at), and makes room
 * when the connections are over the eviction mark (new ones make room as
 * they arrive, but only while MHD still accepts). */
static void *sweeper_main(void *ud)
{
	struct http_server *s = ud;
	struct timespec wake;

	pthread_mutex_lock(&s->conn_mu);
	while (!s->sweeper_stop) {
		int64_t now = ticker_now_ms();
		struct conn *c;

		while ((c = s->waiting.head) && now - c->since_ms >= s->request_ms)
			conn_close_locked(s, c, CLOSE_TIMEOUT);
		while ((c = s->idle.head) && now - c->since_ms >= s->idle_ms + s->request_ms)
			conn_close_locked(s, c, CLOSE_TIMEOUT);
		while (s->nconns > s->evict_above && evict_one_locked(s, now))
			;
		pthread_mutex_unlock(&s->conn_mu);
		log_closes(s);
		pthread_mutex_lock(&s->conn_mu);
		ticker_deadline(SWEEP_MS, &wake);
		if (!s->sweeper_stop)
			pthread_cond_timedwait(&s->sweeper_cv, &s->conn_mu, &wake);
	}
	pthread_mutex_unlock(&s->conn_mu);
	return NULL;
}

int http_server_error_render(const char *msg, struct buf *out)
{
	size_t start = out->len;
	int e = buf_adds(out, "{\"error\":\"");

	if (e == 0)
		e = buf_add_json_escaped(out, msg);
	if (e == 0)
		e = buf_adds(out, "\"}\n");
	if (e < 0)
		buf_truncate(out, start);
	return e;
}

/* ---- responses ---------------------------------------------------------------- */

static enum MHD_Result respond(struct http_server *s, struct MHD_Connection *c, struct request *rq,
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
	/* Sending is waiting on the client too: a reader that never reads
	 * is under the same deadline. */
	conn_move(s, conn_of(c), CONN_WAITING, true);
	if (rq) {
		rq->answered = true;
		count_http(s, rq->route, code);
	}
	return ret;
}

static enum MHD_Result respond_text(struct http_server *s, struct MHD_Connection *c,
				    struct request *rq, unsigned code, const char *text,
				    const char *allow)
{
	struct buf b = BUF_INIT(4096);

	if (buf_adds(&b, text) < 0)
		return MHD_NO;
	return respond(s, c, rq, code, "text/plain; charset=utf-8", &b, allow);
}

static enum MHD_Result respond_error(struct http_server *s, struct MHD_Connection *c,
				     struct request *rq, unsigned code, const char *msg,
				     const char *allow)
{
	struct buf b = BUF_INIT(4096);

	if (http_server_error_render(msg, &b) < 0)
		return MHD_NO;
	return respond(s, c, rq, code, "application/json", &b, allow);
}

/* ---- the judging pool ---------------------------------------------------------- */

/* The round: namespaces with reviews queued, served in turn.  Locked. */
static void round_insert(struct judge_pool *p, struct ns_queue *q)
{
	if (!p->round) {
		q->rprev = q->rnext = q;
		p->round = q;
	} else {
		/* Last in this round: just before the next one served. */
		q->rnext = p->round;
		q->rprev = p->round->rprev;
		q->rprev->rnext = q;
		p->round->rprev = q;
	}
	q->in_round = true;
}

static void round_remove(struct judge_pool *p, struct ns_queue *q)
{
	if (q->rnext == q) {
		p->round = NULL;
	} else {
		q->rprev->rnext = q->rnext;
		q->rnext->rprev = q->rprev;
		if (p->round == q)
			p->round = q->rnext;
	}
	q->rprev = q->rnext = NULL;
	q->in_round = false;
}

static struct ns_queue *ns_get_locked(struct judge_pool *p, const char *name)
{
	size_t len = strlen(name);
	uint32_t hash = hash_bytes(name, len);
	struct ns_queue **slot = &p->buckets[hash % NS_BUCKETS], *q;

	for (q = *slot; q; q = q->hnext)
		if (q->hash == hash && strcmp(q->name, name) == 0)
			return q;
	q = pg_calloc(1, sizeof(*q) + len + 1);
	if (!q)
		return NULL;
	memcpy(q->name, name, len + 1);
	q->hash = hash;
	q->hnext = *slot;
	*slot = q;
	return q;
}

static void ns_put_locked(struct judge_pool *p, struct ns_queue *q)
{
	struct ns_queue **pp;

	if (q->queued || q->running)
		return;
	for (pp = &p->buckets[q->hash % NS_BUCKETS]; *pp; pp = &(*pp)->hnext) {
		if (*pp == q) {
			*pp = q->hnext;
			pg_free(q);
			return;
		}
	}
}

/* The next review to judge: the first namespace of the round under its
 * share of the workers gives its oldest; the round moves past it.  Skips
 * at most the namespaces at their share, so it is short.  Locked. */
static struct request *pick_locked(struct judge_pool *p)
{
	struct ns_queue *q = p->round, *first = q;
	struct request *rq;

	if (!q)
		return NULL;
	while (q->running >= p->per_ns) {
		q = q->rnext;
		if (q == first)
			return NULL;
	}
	rq = q->head;
	q->head = rq->qnext;
	if (!q->head)
		q->tail = NULL;
	rq->qnext = NULL;
	q->queued--;
	q->running++;
	p->queued--;
	p->round = q->rnext;
	if (!q->queued)
		round_remove(p, q);
	return rq;
}

/* Whether to wake a worker, once the lock is released (a worker woken
 * while the lock is held would only block on it again).  Locked. */
static bool wake_one_locked(struct judge_pool *p)
{
	if (p->idle <= p->waking)
		return false;
	p->waking++;
	return true;
}

static void *judge_main(void *ud)
{
	struct http_server *s = ud;
	struct judge_pool *p = s->pool;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct request *rq = pick_locked(p);
		struct ns_queue *q;
		bool wake;

		if (!rq) {
			if (p->stopping && !p->queued)
				break;
			p->idle++;
			pthread_cond_wait(&p->cv, &p->mu);
			p->idle--;
			if (p->waking)
				p->waking--;
			continue;
		}
		q = rq->ns;
		/* More queued than this worker takes: another one may start. */
		wake = p->queued && wake_one_locked(p);
		pthread_mutex_unlock(&p->mu);
		if (wake)
			pthread_cond_signal(&p->cv);
		rq->code = s->handler.work(s->handler.ud, rq->work, rq->t0_ns, rq->deadline, &rq->out);
		rq->job = JOB_DONE;
		/* From here @rq is MHD's again: the connection's thread answers. */
		MHD_resume_connection(rq->mc);
		pthread_mutex_lock(&p->mu);
		q->running--;
		ns_put_locked(p, q);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Suspends the connection and queues its review; false when the pool is
 * stopping (the caller judges in place, so nothing stays suspended past
 * the daemon's stop) or out of memory. */
static bool judge_later(struct http_server *s, struct MHD_Connection *mc, struct request *rq)
{
	struct judge_pool *p = s->pool;
	struct ns_queue *q;
	bool wake;

	if (!p)
		return false;
	pthread_mutex_lock(&p->mu);
	if (p->stopping || !(q = ns_get_locked(p, s->handler.key(s->handler.ud, rq->work)))) {
		pthread_mutex_unlock(&p->mu);
		return false;
	}
	rq->mc = mc;
	rq->ns = q;
	rq->job = JOB_QUEUED;
	/* Suspended before a worker can see it: a resume must follow the
	 * suspend. */
	MHD_suspend_connection(mc);
	if (q->tail)
		q->tail->qnext = rq;
	else
		q->head = rq;
	q->tail = rq;
	q->queued++;
	p->queued++;
	if (!q->in_round)
		round_insert(p, q);
	wake = wake_one_locked(p);
	pthread_mutex_unlock(&p->mu);
	if (wake)
		pthread_cond_signal(&p->cv);
	return true;
}

static struct judge_pool *pool_free(struct judge_pool *p)
{
	if (!p)
		return NULL;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	pg_free(p->threads);
	pg_free(p);
	return NULL;
}

static int pool_start(struct http_server *s, unsigned nthreads, unsigned per_ns)
{
	struct judge_pool *p = pg_calloc(1, sizeof(*p));
	sigset_t all, old;
	int r = 0;

	if (!p)
		return -ENOMEM;
	p->nthreads = nthreads;
	p->per_ns = per_ns;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->threads = pg_calloc(nthreads, sizeof(*p->threads));
	if (!p->threads) {
		pool_free(p);
		return -ENOMEM;
	}
	s->pool = p;
	/* Signals are the command's main thread's to take. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; p->started < nthreads; p->started++) {
		r = -pthread_create(&p->threads[p->started], NULL, judge_main, s);
		if (r < 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		s->pool = pool_free(p);
	return r;
}

/* The body is in: parse here (bounded by the body's size), work on the
 * pool, answer when the connection is resumed and this is called again. */
static enum MHD_Result serve_handler(struct http_server *s, struct MHD_Connection *c,
				     struct request *rq)
{
	bool cheap;
	unsigned code;

	if (rq->job == JOB_DONE)
		return respond(s, c, rq, rq->code, "application/json", &rq->out, NULL);
	code = s->handler.parse(s->handler.ud, (unsigned)(rq->route - RT_PATH0),
				rq->body.data ? rq->body.data : "", rq->body.len, &rq->work, &rq->out);
	if (code)
		return respond(s, c, rq, code, "application/json", &rq->out, NULL);
	cheap = s->handler.cheap(s->handler.ud, rq->work, rq->body.len);
	/* The body is no longer needed: the job holds its own copy. */
	buf_free(&rq->body);
	conn_move(s, conn_of(c), CONN_BUSY, true);
	if (!cheap && judge_later(s, c, rq))
		return MHD_YES;
	rq->code = s->handler.work(s->handler.ud, rq->work, rq->t0_ns, rq->deadline, &rq->out);
	rq->job = JOB_DONE;
	return respond(s, c, rq, rq->code, "application/json", &rq->out, NULL);
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

static enum route route_of(const struct http_server *s, const char *url)
{
	for (int i = 0; i < RT_HOOK; i++)
		if (s->paths[i] && strcmp(url, s->paths[i]) == 0)
			return (enum route)i;
	return RT_OTHER;
}

static bool is_ready(struct http_server *s, char *why, size_t whysz)
{
	if (atomic_load(&s->draining)) {
		snprintf(why, whysz, "shutting down");
		return false;
	}
	if (s->handler.ready && !s->handler.ready(s->handler.ud, why, whysz))
		return false;
	return !s->ready || s->ready(s->ready_ud, why, whysz);
}

/* 200 "ok", or 503 with the callback's reason (@dflt when it gave none). */
static enum MHD_Result respond_check(struct http_server *s, struct MHD_Connection *c,
				     struct request *rq, bool ok, const char *why, const char *dflt)
{
	char text[600];

	if (ok)
		return respond_text(s, c, rq, 200, "ok\n", NULL);
	snprintf(text, sizeof(text), "%s\n", why[0] ? why : dflt);
	return respond_text(s, c, rq, 503, text, NULL);
}

static enum MHD_Result serve_ops(struct http_server *s, struct MHD_Connection *c, struct request *rq)
{
	struct buf b = BUF_INIT(16 * 1024 * 1024);
	char why[512] = "";

	switch (rq->route) {
	case RT_HEALTHZ:
		return respond_check(s, c, rq, !s->healthy || s->healthy(s->ready_ud, why, sizeof(why)),
				     why, "not healthy");
	case RT_READYZ:
		return respond_check(s, c, rq, is_ready(s, why, sizeof(why)), why, "not ready");
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
static enum MHD_Result expect_body(struct http_server *s, struct MHD_Connection *c, struct request *rq)
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
static void hook_client(struct http_server *s, struct MHD_Connection *c, struct request *rq)
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
static enum MHD_Result call_hook(struct http_server *s, struct MHD_Connection *c, struct request *rq,
				 const char *url, const char *method, bool headers_only,
				 bool *ret_answered)
{
	struct buf out = BUF_INIT(HOOK_REPLY_MAX);
	struct http_server_route_reply rep = { .body = &out };
	struct http_server_route_request req = {
		.method = method, .path = url, .cert_cn = rq->cert_cn[0] ? rq->cert_cn : NULL,
		.cert_bad = rq->cert_bad, .peer = rq->peer, .headers_only = headers_only,
		.body = buf_str(&rq->body), .len = rq->body.len,
		.t0_us = rq->t0_ns / 1000,
		.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_AUTHORIZATION),
	};
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char ra[16];
	char *data;
	size_t len;

	*ret_answered = false;
	/* The hook may wait on the API server (a TokenReview): that is not
	 * the client's time. */
	conn_move(s, conn_of(c), CONN_BUSY, true);
	s->route(s->route_ud, &req, &rep);
	if (!rep.status) {
		buf_free(&out);
		if (headers_only) {
			conn_move(s, conn_of(c), CONN_WAITING, true);
			return MHD_YES;
		}
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
	conn_move(s, conn_of(c), CONN_WAITING, true);
	rq->answered = true;
	count_http(s, rq->route, rep.status);
	return ret;
}

static enum MHD_Result first_call(struct http_server *s, struct MHD_Connection *c, const char *url,
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
	rq->route = route_of(s, url);
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
	struct http_server *s = cls;
	struct request *rq = *req_cls;
	int r;

	if (!rq) {
		rq = pg_calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->t0_ns = ticker_now_ns();
		buf_init(&rq->body, s->max_body);
		buf_init(&rq->out, 2 * 1024 * 1024);
		*req_cls = rq;
		atomic_fetch_add(&s->inflight, 1);
		/* Headers in.  A kept-alive connection's request waits from
		 * now for its body; a new connection's still from its accept. */
		conn_move(s, conn_of(c), CONN_WAITING, false);
		return first_call(s, c, url, method, rq);
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		/* A client dripping its body past the API server's own
		 * deadline is not the API server: drop it. */
		if (ticker_since_s(rq->t0_ns) > rq->deadline + 1)
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
	if (rq->answered || rq->job == JOB_QUEUED)
		return MHD_YES;
	if (rq->too_big)
		return respond_error(s, c, rq, 413, "request body too large", NULL);
	if (rq->route == RT_HOOK) {
		bool answered;

		return call_hook(s, c, rq, url, method, false, &answered);
	}
	return serve_handler(s, c, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct request *rq = *req_cls;

	/* Answered (or abandoned): the connection now waits for the next. */
	conn_move(s, conn_of(c), CONN_IDLE, true);
	if (!rq)
		return;
	buf_free(&rq->body);
	buf_free(&rq->out);
	if (rq->work)
		s->handler.job_free(s->handler.ud, rq->work);
	pg_free(rq);
	*req_cls = NULL;
	atomic_fetch_sub(&s->inflight, 1);
}

static void connection_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			      enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *s = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		metric_gauge_add(s->m_connections, 1);
		conn_started(s, c, socket_context);
	} else {
		metric_gauge_add(s->m_connections, -1);
		conn_closed(s, *socket_context);
		*socket_context = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
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

/* ---- start and stop ------------------------------------------------------------ */

static void *sweeper_main(void *ud);

/* The caps, from the configuration and its defaults. */
static void set_caps(struct http_server *s, const struct http_server_config *cfg)
{
	unsigned maxc = cfg->max_connections ? cfg->max_connections : HTTP_SERVER_DEFAULT_MAX_CONNECTIONS;
	unsigned reserve = maxc / 8;

	if (!reserve && maxc > 1)
		reserve = 1;
	s->max_conns = maxc;
	s->evict_above = maxc - reserve;
	s->per_ip = cfg->max_connections_per_ip ? cfg->max_connections_per_ip
						: (maxc / 4 ? maxc / 4 : 1);
	s->request_ms = 1000LL * (cfg->request_timeout ? cfg->request_timeout
						      : HTTP_SERVER_DEFAULT_REQUEST_TIMEOUT);
	s->idle_ms = 1000LL * (cfg->idle_timeout ? cfg->idle_timeout : HTTP_SERVER_DEFAULT_IDLE_TIMEOUT);
	snprintf(s->flag_prefix, sizeof(s->flag_prefix), "%s", cfg->flag_prefix ? cfg->flag_prefix : "");
}

static int sweeper_start(struct http_server *s)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&s->sweeper, NULL, sweeper_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	s->sweeper_started = r == 0;
	return r;
}

static void sweeper_stop(struct http_server *s)
{
	if (!s->sweeper_started)
		return;
	pthread_mutex_lock(&s->conn_mu);
	s->sweeper_stop = true;
	pthread_cond_signal(&s->sweeper_cv);
	pthread_mutex_unlock(&s->conn_mu);
	pthread_join(s->sweeper, NULL);
	s->sweeper_started = false;
}

/* After the daemon stopped: every connection closed, so every peer gone. */
static void conns_free(struct http_server *s)
{
	for (int i = 0; i < NS_BUCKETS; i++) {
		while (s->peers[i]) {
			struct peer *p = s->peers[i];

			s->peers[i] = p->next;
			pg_free(p);
		}
	}
	pthread_cond_destroy(&s->sweeper_cv);
	pthread_mutex_destroy(&s->conn_mu);
}

/* Stops and frees what @s holds, built whole or in part: the sweeper,
 * then the pool (every review handed to it is judged and its connection
 * resumed first: MHD refuses to stop with a connection suspended), then
 * the daemon, the socket when it is still ours, the connections. */
static void server_free(struct http_server *s)
{
	sweeper_stop(s);
	s->pool = pool_free(s->pool);
	if (s->d)
		MHD_stop_daemon(s->d);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	conns_free(s);
	pg_free(s->route_prefix);
	pg_free(s->client_ca);
	pg_free(s);
}

int http_server_start(const struct http_server_config *cfg, struct http_server **ret, char *err, size_t errsz)
{
	struct http_server *s;
	unsigned threads = cfg->threads, flags;
	long ncpu;
	int r;

	s = pg_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->conn_mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->sweeper_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	set_caps(s, cfg);
	snprintf(s->name, sizeof(s->name), "%s", cfg->name ? cfg->name : "http");
	s->tls = cfg->tls;
	for (int i = 0; i < RT__COUNT - RT_HEALTHZ; i++)
		s->paths[RT_HEALTHZ + i] = own_paths[i];
	if (cfg->handler && cfg->handler->paths[0]) {
		s->handler = *cfg->handler;
		for (int i = 0; i < HTTP_SERVER_MAX_PATHS; i++)
			s->paths[RT_PATH0 + i] = s->handler.paths[i];
	}
	s->metrics = cfg->metrics;
	s->healthy = cfg->healthy;
	s->ready = cfg->ready;
	s->ready_ud = cfg->ready_ud;
	s->route = cfg->route_prefix ? cfg->route : NULL;
	s->route_ud = cfg->route_ud;
	s->max_body = cfg->max_request_bytes ? cfg->max_request_bytes : HTTP_SERVER_DEFAULT_MAX_REQUEST_BYTES;
	s->listen_fd = -1;
	atomic_init(&s->draining, false);
	atomic_init(&s->inflight, 0);
	if ((s->route && !(s->route_prefix = pg_strdup(cfg->route_prefix))) ||
	    (cfg->client_ca_pem && !(s->client_ca = pg_strdup(cfg->client_ca_pem)))) {
		r = -ENOMEM;
		goto fail;
	}
	if (s->handler.paths[0])
		register_metrics(s);
	if (s->tls)
		http_tls_store_install(s->tls);

	r = http_listen_open(cfg->listen, "--listen", &s->listen_fd, &s->port, err, errsz);
	if (r < 0)
		goto fail;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (!threads)
		threads = (unsigned)ncpu;
	if (s->handler.paths[0]) {
		unsigned jt = cfg->judge_threads ? cfg->judge_threads : 2 * (unsigned)ncpu;
		unsigned per_ns = cfg->judge_threads_per_namespace;

		if (!per_ns)
			per_ns = jt / 2 ? jt / 2 : 1;
		if (per_ns >= jt && jt > 1)
			per_ns = jt - 1;        /* never every worker to one namespace */
		r = pool_start(s, jt, per_ns);
		if (r < 0) {
			snprintf(err, errsz, "%s server: judging threads not started: %s", s->name,
				 strerror(-r));
			goto fail;
		}
	}
	r = sweeper_start(s);
	if (r < 0) {
		snprintf(err, errsz, "%s server: connection sweeper not started: %s", s->name,
			 strerror(-r));
		goto fail;
	}
	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (s->tls)
		flags |= MHD_USE_TLS;
	if (s->pool)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	{
		unsigned pool = threads > 1 ? threads : 0;
		unsigned maxc = cfg->max_connections ? cfg->max_connections : HTTP_SERVER_DEFAULT_MAX_CONNECTIONS;
		unsigned idle = cfg->idle_timeout ? cfg->idle_timeout : HTTP_SERVER_DEFAULT_IDLE_TIMEOUT;
		const char *prio = cfg->tls_priorities ? cfg->tls_priorities : HTTP_SERVER_TLS_PRIORITIES;

#define COMMON_OPTIONS \
	MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, \
	MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd, \
	MHD_OPTION_THREAD_POOL_SIZE, pool, \
	MHD_OPTION_CONNECTION_LIMIT, maxc, \
	MHD_OPTION_CONNECTION_TIMEOUT, idle, \
	MHD_OPTION_NOTIFY_COMPLETED, completed, s, \
	MHD_OPTION_NOTIFY_CONNECTION, connection_notify, s
		if (s->tls && s->client_ca)
			s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, COMMON_OPTIONS,
						MHD_OPTION_HTTPS_CERT_CALLBACK, http_tls_store_retrieve,
						MHD_OPTION_HTTPS_PRIORITIES, prio,
						MHD_OPTION_HTTPS_MEM_TRUST, s->client_ca, MHD_OPTION_END);
		else if (s->tls)
			s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, COMMON_OPTIONS,
						MHD_OPTION_HTTPS_CERT_CALLBACK, http_tls_store_retrieve,
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
	 * http_server_drain() took it back. */
	s->listen_fd = -1;
	*ret = s;
	return 0;
fail:
	server_free(s);
	return r;
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_drain_begin(struct http_server *s)
{
	if (s)
		atomic_store(&s->draining, true);
}

void http_server_drain(struct http_server *s, unsigned timeout_ms)
{
	int64_t t0;
	MHD_socket fd;

	if (!s || s->listen_fd >= 0)
		return;                 /* already drained */
	atomic_store(&s->draining, true);
	fd = MHD_quiesce_daemon(s->d);
	/* MHD's threads may still look at the socket until they stop, so it
	 * is closed in http_server_stop(); shutdown() takes it out of LISTEN now,
	 * so new connections are refused at once instead of queueing in a
	 * backlog nobody accepts from. */
	if (fd != MHD_INVALID_SOCKET) {
		s->listen_fd = fd;
		shutdown(fd, SHUT_RDWR);
	}
	t0 = ticker_now_ms();
	while (atomic_load(&s->inflight) > 0 && ticker_now_ms() - t0 < (int64_t)timeout_ms)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
}

struct http_server *http_server_stop(struct http_server *s)
{
	if (!s)
		return NULL;
	server_free(s);
	return NULL;
}
