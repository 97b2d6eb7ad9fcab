/* server.h - the HTTP(S) server of `profileguard webhook` on
 * libmicrohttpd: a thread pool on epoll, keep-alive, bounded bodies, idle
 * timeouts and connection caps, TLS 1.2+ through GnuTLS with the
 * certificate chosen per handshake (http_tls.h).
 *
 * No client can hold the server: a request (a new connection's TLS
 * handshake included) must arrive whole within request_timeout, however
 * slowly its bytes drip; a client address holds at most
 * max_connections_per_ip connections; and when the connections near
 * max_connections, the one that has waited longest without completing a
 * request (else the one idle longest) is closed to make room for the new
 * one.  Admission reviews whose judging could take long are judged off
 * the connection threads, on a pool that takes namespaces in turn and
 * never gives one namespace all its workers, so no namespace's slow
 * judging holds another's review (a review whose work is bounded small is
 * judged in place: the hand-off would cost more).
 *
 * Routes: POST /validate/pods and /validate/workloadprofiles (when a
 * profile source is given), GET /healthz, /readyz, /metrics, and any path
 * under a prefix handed to a route hook (the controller's telemetry
 * endpoints).  The same server without TLS and without a source is the
 * plain --metrics-addr listener, which the controller reuses. */
#ifndef PG_SERVER_H
#define PG_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct metrics;
struct profile_source;
struct http_tls_store;

#define SERVER_DEFAULT_MAX_REQUEST_BYTES (3u * 1024 * 1024 + 64 * 1024)
#define SERVER_DEFAULT_MAX_CONNECTIONS 1024
#define SERVER_DEFAULT_IDLE_TIMEOUT 60
#define SERVER_DEFAULT_REQUEST_TIMEOUT 10
/* max_connections_per_ip: no cap at all. */
#define SERVER_NO_CAP UINT_MAX
/* TLS 1.2 and 1.3 with AEAD ciphers only. */
#define SERVER_TLS_PRIORITIES \
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:" \
	"+CHACHA20-POLY1305:-MAC-ALL:+AEAD:%SERVER_PRECEDENCE"

/* A request under server_config.route_prefix, for the route hook: it is
 * called once when the headers are in (headers_only; it may answer at
 * once, so a refused client's body is never read), then, unless it
 * answered, with the body.  Everything is borrowed for the call. */
struct server_route_request {
	const char *method;
	const char *path;               /* without the query */
	const char *authorization;      /* the Authorization header; NULL: none */
	const char *cert_cn;            /* the CN of a client certificate that verified
	                                 * against client_ca_pem; NULL: none */
	bool cert_bad;                  /* a certificate was presented and did not verify */
	const char *peer;               /* the client's address */
	bool headers_only;
	const char *body;               /* "" when none */
	size_t len;
	int64_t t0_us;                  /* CLOCK_MONOTONIC microseconds of its arrival */
};

struct server_route_reply {
	unsigned status;                /* 0 after headers_only: go on, read the body */
	unsigned retry_after;           /* seconds; 0: no Retry-After */
	const char *allow;              /* the Allow header (static); NULL: none */
	struct buf *body;               /* JSON, up to 64 KiB; the server owns it */
};

typedef void (*server_route_fn)(void *ud, const struct server_route_request *rq,
				struct server_route_reply *ret);

struct server_config {
	const char *name;               /* for logs: "webhook", "metrics" */
	const char *listen;             /* ":8443", "127.0.0.1:0", "[::1]:8443", "host:port" */
	struct http_tls_store *tls;          /* borrowed; NULL: plain HTTP */
	struct profile_source *source;  /* borrowed; NULL: no /validate routes */
	struct metrics *metrics;        /* borrowed; NULL: /metrics is empty */
	/* /readyz beyond the source's own readiness (the controller's leader
	 * state, say); NULL: ready when the source is (or always, without one). */
	bool (*ready)(void *ud);
	void *ready_ud;
	unsigned threads;               /* 0: one per online CPU */
	unsigned max_connections;       /* 0: SERVER_DEFAULT_MAX_CONNECTIONS */
	unsigned max_connections_per_ip;/* 0: a quarter of max_connections (at least
	                                 * 1); SERVER_NO_CAP: none */
	unsigned idle_timeout;          /* seconds; 0: SERVER_DEFAULT_IDLE_TIMEOUT */
	/* Seconds a request's headers and body may take to arrive, counted
	 * from the accept for a connection's first request (so the TLS
	 * handshake too), from its headers for a later one; a kept-alive
	 * connection's next request must be in within idle_timeout +
	 * request_timeout of the last answer.  0: SERVER_DEFAULT_REQUEST_TIMEOUT. */
	unsigned request_timeout;
	/* Admission judging (with a source): worker threads (0: two per
	 * online CPU), and how many of them one namespace may hold at once
	 * (0: half of them, at least 1; never all of them when there are 2+). */
	unsigned judge_threads;
	unsigned judge_threads_per_namespace;
	/* Prepended to the flag names in log lines about the caps
	 * ("telemetry-" names --telemetry-max-connections); NULL: "". */
	const char *flag_prefix;
	size_t max_request_bytes;       /* 0: SERVER_DEFAULT_MAX_REQUEST_BYTES */
	const char *tls_priorities;     /* NULL: SERVER_TLS_PRIORITIES */
	/* Requests whose path starts with @route_prefix (copied) go to
	 * @route, whatever their method; bodies are bounded by
	 * max_request_bytes.  NULL: no such routes. */
	const char *route_prefix;
	server_route_fn route;
	void *route_ud;
	/* PEM CA certificates (copied): TLS clients are asked for a
	 * certificate, verified against these for the route hook.  NULL:
	 * none is asked for.  Fixed for the server's life. */
	const char *client_ca_pem;
};

struct server;

/* Binds, listens and starts the worker threads.  0 with *ret set, or
 * -errno with a one-line reason in @err. */
int server_start(const struct server_config *cfg, struct server **ret, char *err, size_t errsz);
/* The bound port (useful with port 0). */
uint16_t server_port(const struct server *s);
/* Graceful stop, in two steps.  server_drain_begin(): /readyz turns 503
 * and responses carry "Connection: close", while the server still
 * accepts, so clients that have not yet seen the endpoint go are served.
 * server_drain(): the listening socket closes (new connections are
 * refused, idle keep-alive ones are closed) and this waits up to
 * @timeout_ms for the requests in flight to finish. */
void server_drain_begin(struct server *s);
void server_drain(struct server *s, unsigned timeout_ms);
/* Stops the threads and closes every connection.  NULL-safe; returns NULL. */
struct server *server_stop(struct server *s);

#endif
