/* http_server.h - the HTTP(S) server of every command, on libmicrohttpd: a
 * thread pool on epoll, keep-alive, bounded bodies, idle timeouts and
 * connection caps, TLS 1.2+ through GnuTLS with the certificate chosen per
 * handshake (http_tls.h).
 *
 * No client can hold the server: a request (a new connection's TLS
 * handshake included) must arrive whole within request_timeout, however
 * slowly its bytes drip; a client address holds at most
 * max_connections_per_ip connections; and when the connections near
 * max_connections, the one that has waited longest without completing a
 * request (else the one idle longest) is closed to make room for the new
 * one.  A handler's jobs whose work could take long (the webhook's
 * admission reviews) are done off the connection threads, on a pool that
 * takes their keys (namespaces) in turn and never gives one key all its
 * workers, so no namespace's slow judging holds another's review (a job
 * bounded small is done in place: the hand-off would cost more).
 *
 * Routes: a handler's POST paths (the webhook's /validate/pods and
 * /validate/workloadprofiles), GET /healthz, /readyz, /metrics, and any
 * path under a prefix handed to a route hook (the controller's telemetry
 * endpoints).  The same server without TLS and without a handler is the
 * plain --metrics-addr listener of the webhook and the agent. */
#ifndef PG_HTTP_SERVER_H
#define PG_HTTP_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct metrics;
struct timespec;
struct http_tls_store;

#define HTTP_SERVER_DEFAULT_MAX_REQUEST_BYTES (3u * 1024 * 1024 + 64 * 1024)
#define HTTP_SERVER_DEFAULT_MAX_CONNECTIONS 1024
#define HTTP_SERVER_DEFAULT_IDLE_TIMEOUT 60
#define HTTP_SERVER_DEFAULT_REQUEST_TIMEOUT 10
/* max_connections_per_ip: no cap at all. */
#define HTTP_SERVER_NO_CAP UINT_MAX
/* TLS 1.2 and 1.3 with AEAD ciphers only. */
#define HTTP_SERVER_TLS_PRIORITIES \
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:" \
	"+CHACHA20-POLY1305:-MAC-ALL:+AEAD:%SERVER_PRECEDENCE"

/* The POST routes of a caller that does the work off the connection
 * threads (the webhook's admission reviews): a body at an exact path is
 * parsed on its connection's thread; unless its work is cheap it is then
 * done on a pool of workers that takes the jobs' keys (namespaces) in turn
 * and never gives one key all its workers, and answered when done.  Every
 * callback may be called from several threads at once. */
#define HTTP_SERVER_MAX_PATHS 2

struct http_server_handler {
	/* Exact paths, POST only; NULL ends (paths[0] NULL: no handler). */
	const char *paths[HTTP_SERVER_MAX_PATHS];
	/* The body (@len bytes, borrowed) at paths[@path]: 0 with the job in
	 * *ret_job, or the status to answer with, the JSON body in @out. */
	unsigned (*parse)(void *ud, unsigned path, const char *body, size_t len, void **ret_job,
			  struct buf *out);
	/* Whether @job (of a body of @len bytes) is bounded small enough to be
	 * done in place: the hand-off to the pool costs more. */
	bool (*cheap)(void *ud, void *job, size_t len);
	/* The pool's fairness key of @job (its namespace), valid while it is. */
	const char *(*key)(void *ud, void *job);
	/* Does @job: the status, the JSON body in @out.  @t0_ns is when its
	 * request arrived (ticker_now_ns()), @deadline the seconds its client
	 * waits (?timeout=). */
	unsigned (*work)(void *ud, void *job, int64_t t0_ns, double deadline,
			 struct buf *out);
	void (*job_free)(void *ud, void *job);
	/* /readyz beyond the server's own: false, with why in @why (a line of
	 * text; "": "not ready"), answers 503.  NULL: ready. */
	bool (*ready)(void *ud, char *why, size_t whysz);
	void *ud;
};

/* A request under http_server_config.route_prefix, for the route hook: it is
 * called once when the headers are in (headers_only; it may answer at
 * once, so a refused client's body is never read), then, unless it
 * answered, with the body.  Everything is borrowed for the call. */
struct http_server_route_request {
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

struct http_server_route_reply {
	unsigned status;                /* 0 after headers_only: go on, read the body */
	unsigned retry_after;           /* seconds; 0: no Retry-After */
	const char *allow;              /* the Allow header (static); NULL: none */
	struct buf *body;               /* JSON, up to 64 KiB; the server owns it */
};

typedef void (*http_server_route_fn)(void *ud, const struct http_server_route_request *rq,
				struct http_server_route_reply *ret);

struct http_server_config {
	const char *name;               /* for logs: "webhook", "metrics" */
	const char *listen;             /* ":8443", "127.0.0.1:0", "[::1]:8443", "host:port" */
	struct http_tls_store *tls;          /* borrowed; NULL: plain HTTP */
	/* Copied; NULL: no POST routes.  Its families of metrics
	 * (profileguard_webhook_*) are registered only with one. */
	const struct http_server_handler *handler;
	struct metrics *metrics;        /* borrowed; NULL: /metrics is empty */
	/* The caller's health: /healthz and /readyz answer 200 "ok" unless
	 * the callback says false, with why in @why (a line of text; "": "not
	 * healthy", "not ready"), which then answers 503.  /readyz asks the
	 * handler's ready too, and is 503 "shutting down" once draining.
	 * NULL: healthy; ready when the handler is (or always, without one). */
	bool (*healthy)(void *ud, char *why, size_t whysz);
	bool (*ready)(void *ud, char *why, size_t whysz);
	void *ready_ud;                 /* of both */
	unsigned threads;               /* 0: one per online CPU */
	unsigned max_connections;       /* 0: HTTP_SERVER_DEFAULT_MAX_CONNECTIONS */
	unsigned max_connections_per_ip;/* 0: a quarter of max_connections (at least
	                                 * 1); HTTP_SERVER_NO_CAP: none */
	unsigned idle_timeout;          /* seconds; 0: HTTP_SERVER_DEFAULT_IDLE_TIMEOUT */
	/* Seconds a request's headers and body may take to arrive, counted
	 * from the accept for a connection's first request (so the TLS
	 * handshake too), from its headers for a later one; a kept-alive
	 * connection's next request must be in within idle_timeout +
	 * request_timeout of the last answer.  0: HTTP_SERVER_DEFAULT_REQUEST_TIMEOUT. */
	unsigned request_timeout;
	/* The handler's pool: worker threads (0: two per online CPU), and how
	 * many of them one key may hold at once (0: half of them, at least 1;
	 * never all of them when there are 2+). */
	unsigned judge_threads;
	unsigned judge_threads_per_namespace;
	/* Prepended to the flag names in log lines about the caps
	 * ("telemetry-" names --telemetry-max-connections); NULL: "". */
	const char *flag_prefix;
	size_t max_request_bytes;       /* 0: HTTP_SERVER_DEFAULT_MAX_REQUEST_BYTES */
	const char *tls_priorities;     /* NULL: HTTP_SERVER_TLS_PRIORITIES */
	/* Requests whose path starts with @route_prefix (copied) go to
	 * @route, whatever their method; bodies are bounded by
	 * max_request_bytes.  NULL: no such routes. */
	const char *route_prefix;
	http_server_route_fn route;
	void *route_ud;
	/* PEM CA certificates (copied): TLS clients are asked for a
	 * certificate, verified against these for the route hook.  NULL:
	 * none is asked for.  Fixed for the server's life. */
	const char *client_ca_pem;
};

struct http_server;

/* Binds, listens and starts the worker threads.  0 with *ret set, or
 * -errno with a one-line reason in @err. */
int http_server_start(const struct http_server_config *cfg, struct http_server **ret, char *err, size_t errsz);
/* The bound port (useful with port 0). */
uint16_t http_server_port(const struct http_server *s);
/* Graceful stop, in two steps.  http_server_drain_begin(): /readyz turns 503
 * and responses carry "Connection: close", while the server still
 * accepts, so clients that have not yet seen the endpoint go are served.
 * http_server_drain(): the listening socket closes (new connections are
 * refused, idle keep-alive ones are closed) and this waits up to
 * @timeout_ms for the requests in flight to finish. */
void http_server_drain_begin(struct http_server *s);
void http_server_drain(struct http_server *s, unsigned timeout_ms);
/* Stops the threads and closes every connection.  NULL-safe; returns NULL. */
struct http_server *http_server_stop(struct http_server *s);

/* {"error":"@msg"} and a newline, @msg JSON-escaped, appended to @out:
 * the body of every error this server answers.  0 or -E2BIG/-ENOMEM
 * (@out as it was). */
int http_server_error_render(const char *msg, struct buf *out);

#endif
