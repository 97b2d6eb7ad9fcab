/* tokens.h - the claims of a pod's projected service-account token,
 * and only the claims: the JWT's payload segment is decoded, its header
 * and signature are never looked at, and the token text never leaves the
 * buffer it was read into (zeroed before that is freed).  What comes out
 * is numbers and a UID: nothing in it could authenticate anyone. */
#ifndef PG_TOKENS_H
#define PG_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A projected token is a few hundred bytes to a few KiB; anything bigger
 * is not one, and is never read whole. */
#define TOKENS_MAX_BYTES (16u * 1024)

struct token_claims {
	int64_t iat;                    /* -1: absent */
	int64_t exp;                    /* -1: absent */
	int64_t nbf;                    /* -1: absent */
	char pod_uid[40];               /* kubernetes.io.pod.uid; "" when absent */
};

/* Decodes the claims of the compact JWT @jwt (@len bytes, surrounding
 * whitespace allowed): three base64url segments without padding, the
 * second a JSON object.  0; -EINVAL when it is not a JWT, the payload is
 * not base64url or not a JSON object, or a claim has the wrong type;
 * -E2BIG past TOKENS_MAX_BYTES; -ENOMEM.  *ret is left alone on error. */
int tokens_decode(const char *jwt, size_t len, struct token_claims *ret);

/* Reads the token file @name relative to @dirfd (a symlink into the
 * projected volume's ..data is followed; a FIFO or a directory is
 * refused), decodes it, and zeroes every copy of the text.  0, -E2BIG
 * for a file over TOKENS_MAX_BYTES, -EINVAL, or negative errno. */
int tokens_read_at(int dirfd, const char *name, struct token_claims *ret);

#endif
