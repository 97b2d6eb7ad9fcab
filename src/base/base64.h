/* base64.h - standard base64 (RFC 4648 §4, padded) and base64url without
 * padding (RFC 7515 §2, as JWT segments carry it). */
#ifndef PG_BASE64_H
#define PG_BASE64_H

#include <stddef.h>

struct buf;

/* Standard base64 with padding, as Go's StdEncoding writes it.  Whitespace
 * (line breaks of wrapped PEM-in-YAML) is skipped; any other byte outside
 * the alphabet, bad padding, or a length that is not a multiple of four is
 * -EINVAL.  Appends to @out (NUL-terminated, so text decodes to a C
 * string); -E2BIG past out->max; -ENOMEM.  On error @out is left as it
 * was. */
int base64_decode(const char *in, size_t len, struct buf *out);
int base64_encode(const void *in, size_t len, struct buf *out);

/* Decodes @len bytes of base64url @in into @out (room for len*3/4+1).  A
 * length of 1 mod 4 cannot be produced by an encoder, and neither can
 * leftover bits that are not zero: both are refused, so one payload has one
 * encoding.  The decoded length, or -EINVAL. */
long base64url_decode(const char *in, size_t len, unsigned char *out);

#endif
