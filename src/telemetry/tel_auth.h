/* tel_auth.h - who may send telemetry (SPEC §5.1): a bearer token the API
 * server vouches for (TokenReview), or a client certificate the server
 * verified against --telemetry-client-ca, whose user is in
 * --telemetry-allowed-users.  TokenReview answers are cached under the
 * SHA-256 of the token (never the token itself) until the token's own
 * expiry, capped; the JWT's exp claim is read for that bound only and
 * never trusted for anything else.
 *
 * Pure of HTTP and of the API client: the TokenReview comes through a
 * callback.  Thread-safe. */
#ifndef PG_TEL_AUTH_H
#define PG_TEL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEL_AUTH_SHA256_LEN 32
#define TEL_AUTH_MAX_TOKEN (16u * 1024)
#define TEL_AUTH_DEFAULT_CACHE 4096
#define TEL_AUTH_DEFAULT_TTL_S 600
/* A token the API server refused is not asked about again this soon. */
#define TEL_AUTH_NEGATIVE_TTL_S 30

/* What a TokenReview said. */
struct tel_auth_review {
	bool authenticated;
	char username[512];
	/* user.extra: authentication.kubernetes.io/node-name, pod-name and
	 * pod-uid; "" when absent. */
	char node[256];
	char pod_name[256];
	char pod_uid[64];
	char error[256];                /* status.error, for logs */
};

/* Asks the API server about @token (borrowed; never kept, logged or put
 * in a message) for @audience (NULL: the API server's own).  0 with *ret
 * filled, or a negative errno when no answer came (the API server is
 * away): then nothing is cached. */
typedef int (*tel_auth_review_fn)(void *ud, const char *token, const char *audience,
				  struct tel_auth_review *ret);

struct tel_auth_config {
	/* Exact user names, or patterns with '*' (system:node:*).  Copied. */
	const char *const *allowed_users;
	size_t nallowed;
	const char *audience;           /* NULL: none asked for */
	tel_auth_review_fn review;      /* NULL: bearer tokens are refused */
	void *ud;
	size_t cache_max;               /* 0: TEL_AUTH_DEFAULT_CACHE */
	int64_t cache_ttl_s;            /* cap on a positive answer; 0: 600 s */
	int64_t (*now)(void);           /* epoch seconds; NULL: time() */
};

enum tel_auth_status {
	TEL_AUTH_OK,
	TEL_AUTH_UNAUTHENTICATED,       /* 401: no credential, or not a valid one */
	TEL_AUTH_FORBIDDEN,             /* 403: valid, but the user is not allowed */
	TEL_AUTH_UNAVAILABLE,           /* 503: the API server could not be asked */
};

/* Who sent a request, once authenticated. */
struct tel_auth_principal {
	char username[512];
	char node[256];                 /* the node claim; "" none */
	char pod_name[256];             /* a token bound to a pod; "" none */
	char pod_uid[64];
	bool via_cert;
	/* The first 8 hex digits of the token's SHA-256, to correlate log
	 * lines without the token; "" for certificates. */
	char token_id[9];
	bool cached;                    /* answered from the cache */
};

struct tel_auth;

/* 0, -EINVAL (an allowed user that is empty), -ENOMEM. */
int tel_auth_new(const struct tel_auth_config *cfg, struct tel_auth **ret);
/* NULL-safe; returns NULL. */
struct tel_auth *tel_auth_free(struct tel_auth *a);

/* Authenticates one request.  @authorization is the Authorization
 * header (NULL: none); @cert_cn the common name of a client certificate
 * the server verified (NULL: none); @cert_bad that one was presented and
 * did not verify.  A verified certificate wins over a token.  Fills
 * @ret (its username also for FORBIDDEN) and @why (a reason for logs,
 * never the token). */
enum tel_auth_status tel_auth_check(struct tel_auth *a, const char *authorization,
				    const char *cert_cn, bool cert_bad, struct tel_auth_principal *ret,
				    char *why, size_t whysz);

/* Whether @user is in the allowed list (exact, or matching a pattern). */
bool tel_auth_allowed(const struct tel_auth *a, const char *user);

/* The node a client certificate's CN names: "system:node:NAME" is NAME,
 * into @out (size @n).  False for any other CN. */
bool tel_auth_cert_node(const char *cn, char *out, size_t n);

/* The exp claim of a JWS compact token (header.payload.signature),
 * unverified.  0 with *ret; -ENOENT: a JWT without a numeric exp;
 * -EINVAL: not a JWT.  Reads at most TEL_AUTH_MAX_TOKEN bytes. */
int tel_auth_jwt_exp(const char *token, size_t len, int64_t *ret);

/* SHA-256 of @token into @out (the cache key). */
void tel_auth_token_hash(const char *token, size_t len, uint8_t out[TEL_AUTH_SHA256_LEN]);

/* Cache counters (tests, metrics). */
struct tel_auth_stats {
	size_t entries;
	uint64_t hits, misses, reviews, evictions;
};
void tel_auth_stats(struct tel_auth *a, struct tel_auth_stats *ret);

#endif
