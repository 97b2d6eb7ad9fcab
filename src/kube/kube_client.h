/* kube_client.h - HTTPS to the Kubernetes API server: one client per
 * process, shared by every thread.  Connections are kept alive and pooled,
 * requests are paced by a QPS/burst bucket, retried with jittered
 * exponential backoff where that is safe, capped in size and time, and
 * failures come back as a negative errno plus the server's Status.
 *
 * Library code: nothing here logs; no message ever carries a token. */
#ifndef PG_KUBE_CLIENT_H
#define PG_KUBE_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube_util.h"

struct buf;
struct kubeconfig;
struct kube_client;

struct kube_client_opts {
	double qps;                 /* request rate; <= 0: unlimited */
	unsigned burst;
	long timeout_ms;            /* whole request, for requests that give none */
	long connect_timeout_ms;
	size_t max_response;        /* body cap for requests that give none */
	unsigned max_retries;       /* retries after the first attempt */
	int64_t backoff_base_ms;    /* first retry waits base/2..base */
	int64_t backoff_cap_ms;
	int64_t retry_after_max_s;  /* a server's Retry-After is honoured up to this */
	int64_t token_reread_s;     /* the token file is re-read at least this often */
	unsigned max_idle;          /* idle connections kept for reuse */
	const char *user_agent;     /* NULL: "profileguard/<version>" */
};

/* qps 50, burst 100, timeout 30 s, connect 10 s, 64 MiB, 5 retries,
 * backoff 200 ms..10 s, Retry-After up to 60 s, token every 60 s, 8 idle. */
void kube_client_opts_default(struct kube_client_opts *o);

/* Copies what it needs from @cfg (borrowed).  @opts NULL: defaults.
 * 0, -EINVAL (a config without a server), -ENOMEM. */
int kube_client_new(const struct kubeconfig *cfg, const struct kube_client_opts *opts,
		    struct kube_client **ret_client);
/* NULL-safe; no request may be in flight.  Returns NULL. */
struct kube_client *kube_client_free(struct kube_client *c);
/* The default namespace of the config (borrowed). */
const char *kube_client_namespace(const struct kube_client *c);

/* ---- requests ----------------------------------------------------------- */

/* Which failures a request may be retried on.  The API server acts on a
 * request it has read, so a retry is only safe when repeating it cannot
 * do harm, or when the server cannot have read it. */
enum kube_retry {
	/* Repeating is harmless: GET/LIST, DELETE with a UID precondition,
	 * PUT with a resourceVersion (a repeat gets 409), merge patches that
	 * set absolute values, TokenReview.  Retried on connection errors,
	 * timeouts, 429 and 5xx. */
	KUBE_RETRY_IDEMPOTENT,
	/* A POST that creates: retried only when the server cannot have
	 * acted, that is on 429 (refused before admission) and when no
	 * byte of the request was sent.  Sent on a new connection, since
	 * libcurl silently resends once on a kept-alive one found dead. */
	KUBE_RETRY_UNSENT,
	KUBE_RETRY_NEVER,               /* also on a new connection */
};

/* Receives a 2xx body as it arrives (watches); a negative return aborts
 * the request, which then returns that value. */
typedef int (*kube_data_fn)(void *ud, const char *data, size_t len);

struct kube_request {
	const char *method;             /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *path;               /* escaped, e.g. from kube_path() */
	const struct kube_param *query; /* NULL-key terminated, escaped here */
	const char *accept;             /* NULL: application/json */
	const char *content_type;       /* NULL: application/json */
	const char *body;               /* NULL: none */
	size_t body_len;
	enum kube_retry retry;
	bool no_retry_429;              /* a 429 is an answer (Eviction vs a PDB) */
	long timeout_ms;                /* 0: the client's; < 0: none (watches) */
	size_t max_response;            /* 0: the client's */
	const atomic_bool *cancel;      /* when it becomes true: -ECANCELED within ~1 s */
	kube_data_fn on_data;           /* streaming: 2xx bodies go here, not to ret_body */
	void *ud;
};

/* What the server said when it refused, from its Status object when it
 * sent one.  Filled by every call; code is 0 when no response came. */
struct kube_error {
	long code;                      /* HTTP status */
	char reason[64];                /* "NotFound", "Conflict", "AlreadyExists",
	                                 * "Expired", "Gone", "TooManyRequests"...,
	                                 * or a transport class: "Timeout",
	                                 * "ConnectionRefused", "TLSError"... */
	char message[512];
	int64_t retry_after;            /* seconds the server asked for; -1: none */
	unsigned attempts;              /* tries made, the first included */
};

/* Sends @req, retrying as its policy allows.  On a 2xx answer returns 0
 * and, unless streaming, appends the body to @ret_body (may be NULL),
 * whose max the call sets to the request's cap.  Otherwise:
 *
 *   HTTP 400, 422 -EINVAL     401 -EACCES        403 -EPERM
 *   404 -ENOENT               405 -EOPNOTSUPP    409 AlreadyExists -EEXIST
 *   409 other -ESTALE (a precondition or resourceVersion conflict)
 *   410 -ETIME (resourceVersion too old: Expired / Gone)
 *   429 -EAGAIN               5xx -EIO           other -EPROTO
 *   transport: -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -ECONNRESET,
 *   -ECONNABORTED (TLS), -EFBIG (body over the cap), -ECANCELED,
 *   -ENOMEM, or the on_data callback's value.
 *
 * @err (may be NULL) says more.  Thread-safe. */
int kube_client_do(struct kube_client *c, const struct kube_request *req,
		   struct buf *ret_body, struct kube_error *err);

/* The errno kube_client_do() gives for an HTTP status and reason. */
int kube_errno_from_http(long code, const char *reason);
/* Fills @err from an error body: a Status object when it is one, else
 * the start of the body as text. */
void kube_error_from_body(struct kube_error *err, long code, const char *body, size_t len);

/* Counters since the client was made. */
struct kube_client_stats {
	uint64_t requests;              /* attempts sent */
	uint64_t retries;
	uint64_t throttled;             /* requests that waited for the bucket */
	uint64_t token_reads;
	uint64_t connections;           /* new connections opened */
};
void kube_client_stats(struct kube_client *c, struct kube_client_stats *ret);

/* ---- resources ---------------------------------------------------------- */

struct kube_resource {
	const char *group;              /* "" for the core group */
	const char *version;
	const char *plural;
	const char *kind;
	bool namespaced;
};

extern const struct kube_resource kube_res_pods;
extern const struct kube_resource kube_res_serviceaccounts;
extern const struct kube_resource kube_res_secrets;
extern const struct kube_resource kube_res_namespaces;
extern const struct kube_resource kube_res_workloadprofiles;
extern const struct kube_resource kube_res_identityreports;
extern const struct kube_resource kube_res_roles;
extern const struct kube_resource kube_res_clusterroles;
extern const struct kube_resource kube_res_rolebindings;
extern const struct kube_resource kube_res_clusterrolebindings;
extern const struct kube_resource kube_res_leases;
extern const struct kube_resource kube_res_events;          /* events.k8s.io/v1 */
extern const struct kube_resource kube_res_tokenreviews;
extern const struct kube_resource kube_res_validatingwebhookconfigurations;

/* Appends the escaped path of a collection (@name NULL), an object, or
 * an object's subresource (@sub, e.g. "status", "eviction").  @ns NULL
 * (or the resource cluster-scoped): not namespaced; for a namespaced
 * collection that means across all namespaces. */
int kube_path(struct buf *out, const struct kube_resource *r, const char *ns,
	      const char *name, const char *sub);
/* "v1" or "group/version" for apiVersion fields. */
int kube_api_version(struct buf *out, const struct kube_resource *r);

#endif
