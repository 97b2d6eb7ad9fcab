/* kube_util.h - what the Kubernetes client needs and nothing else in the
 * tree does yet: percent encoding of path segments and query values and
 * a per-thread random source for jitter.  Pure functions, no I/O.  Base64
 * is base64.h's, API timestamps rfc3339.h's. */
#ifndef PG_KUBE_UTIL_H
#define PG_KUBE_UTIL_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/* Appends @s percent-encoded: everything but RFC 3986 unreserved
 * characters (A-Z a-z 0-9 - . _ ~) becomes %XX, so the result is safe as
 * a query value and as one path segment.  0, -E2BIG, -ENOMEM; on error
 * @out is left as it was. */
int kube_escape(struct buf *out, const char *s);

/* One query parameter; arrays of them end with a NULL key.  A NULL value
 * leaves the parameter out, so optional ones can sit in a fixed table. */
struct kube_param {
	const char *key;
	const char *value;
};

/* Appends "?k=v&k2=v2" (keys and values escaped) for the parameters with
 * a value; nothing when none has one. */
int kube_query_append(struct buf *out, const struct kube_param *params);

/* A fast non-cryptographic random number for jitter, from a per-thread
 * generator seeded from getrandom().  Never use it for secrets. */
uint64_t kube_rand(void);

#endif
