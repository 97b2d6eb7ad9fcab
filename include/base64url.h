/* base64url.h - RFC 7515 §2 base64url without padding, as JWT segments
 * carry it (the agent reads its pods' token claims, the telemetry server
 * its senders' expiry).  Standard base64 with padding is kube_util.h's. */
#ifndef PG_BASE64URL_H
#define PG_BASE64URL_H

#include <stddef.h>

/* Decodes @len bytes of @in into @out (room for len*3/4+1).  A length of
 * 1 mod 4 cannot be produced by an encoder, and neither can leftover bits
 * that are not zero: both are refused, so one payload has one encoding.
 * The decoded length, or -EINVAL. */
long base64url_decode(const char *in, size_t len, unsigned char *out);

#endif
