/* tel_endpoint.h - the telemetry endpoints of SPEC §5.1 as one function
 * from a request to a reply, pure of the HTTP library: the route (the
 * four paths, POST only), the leader check (followers answer 503 with
 * Retry-After), authentication (tel_auth.h), the node a pod-bound token
 * speaks for, the ingest (ingest.h) and the JSON reply; one log line per
 * refused request and, per sender, one a minute about malformed lines.
 * The server calls it twice per request: once when the headers are in
 * (so a refused sender's body is never read into memory), once with the
 * body. */
#ifndef PG_TEL_ENDPOINT_H
#define PG_TEL_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ingest;
struct metrics;
struct tel_auth;

#define TEL_ENDPOINT_PREFIX "/telemetry/"
#define TEL_ENDPOINT_MAX_BODY (16u * 1024 * 1024)

struct tel_endpoint_config {
	struct ingest *ingest;          /* borrowed */
	struct tel_auth *auth;          /* borrowed */
	struct metrics *metrics;        /* borrowed; NULL: none */
	/* True while this replica leads and its caches have synced: only
	 * then is telemetry taken. */
	bool (*serving)(void *ud);
	/* The node of pod @ns/@name with UID @uid into @out, for a pod-bound
	 * token that carries no node claim (API servers before the
	 * node-name claim): false when no such pod is known. */
	bool (*pod_node)(void *ud, const char *ns, const char *name, const char *uid, char *out,
			 size_t n);
	void *ud;
	int64_t (*now_ms)(void);        /* monotonic; NULL: the clock */
};

struct tel_endpoint_request {
	const char *method;
	const char *path;               /* without the query */
	const char *authorization;      /* the header; NULL: none */
	const char *cert_cn;            /* a verified client certificate's CN; NULL */
	bool cert_bad;                  /* one was presented and did not verify */
	const char *peer;               /* the client's address, for logs; NULL */
	bool headers_only;              /* the body has not been read yet */
	const char *body;
	size_t len;
	int64_t t0_us;                  /* arrival, CLOCK_MONOTONIC microseconds; 0: unknown */
};

struct tel_endpoint_reply {
	unsigned status;                /* 0 (headers only): go on, read the body */
	unsigned retry_after;           /* seconds; 0: no header */
	const char *allow;              /* the Allow header for 405; NULL */
	char body[512];                 /* JSON */
};

struct tel_endpoint;

/* 0, -EINVAL (no ingest or auth), -ENOMEM. */
int tel_endpoint_new(const struct tel_endpoint_config *cfg, struct tel_endpoint **ret);
struct tel_endpoint *tel_endpoint_free(struct tel_endpoint *ep);

/* Answers @rq into @ret.  Thread-safe. */
void tel_endpoint_handle(struct tel_endpoint *ep, const struct tel_endpoint_request *rq,
			 struct tel_endpoint_reply *ret);

#endif
