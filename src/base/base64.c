/* base64.c - the two base64s the tree reads: standard base64 with padding
 * (kubeconfig *-data, Secret data, caBundle) and unpadded base64url (JWT
 * segments).  Hand-written because each is a page and OpenSSL's BIO
 * machinery would not be shorter. */
#include "base64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of @c in the standard (+/) or the URL (-_) alphabet;
 * -1 outside it. */
static int b64_value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int base64_decode(const char *in, size_t len, struct buf *out)
{
	size_t start = out->len;
	unsigned char quad[4];
	size_t nq = 0, pad = 0;
	int r;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (is_space(c))
			continue;
		if (c == '=') {
			/* Padding only in the last two places of a quad, and
			 * nothing but more padding or whitespace after it. */
			if (nq < 2)
				goto bad;
			pad++;
			quad[nq++] = 0;
			if (pad > 2)
				goto bad;
		} else {
			if (pad)
				goto bad;
			v = b64_value(c, false);
			if (v < 0)
				goto bad;
			quad[nq++] = (unsigned char)v;
		}
		if (nq == 4) {
			unsigned char bytes[3] = {
				(unsigned char)(quad[0] << 2 | quad[1] >> 4),
				(unsigned char)(quad[1] << 4 | quad[2] >> 2),
				(unsigned char)(quad[2] << 6 | quad[3]),
			};

			r = buf_add(out, bytes, 3 - pad);
			if (r < 0) {
				buf_truncate(out, start);
				return r;
			}
			nq = 0;
			if (pad)
				pad = 3;        /* a quad after padding is an error */
		}
	}
	if (nq != 0)
		goto bad;
	return 0;
bad:
	buf_truncate(out, start);
	return -EINVAL;
}

int base64_encode(const void *in, size_t len, struct buf *out)
{
	const unsigned char *p = in;
	size_t start = out->len;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;
		char q[4];
		int r;

		if (n > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (n > 2)
			v |= p[i + 2];
		q[0] = b64_alphabet[v >> 18 & 63];
		q[1] = b64_alphabet[v >> 12 & 63];
		q[2] = n > 1 ? b64_alphabet[v >> 6 & 63] : '=';
		q[3] = n > 2 ? b64_alphabet[v & 63] : '=';
		r = buf_add(out, q, 4);
		if (r < 0) {
			buf_truncate(out, start);
			return r;
		}
	}
	/* An empty input still makes the buffer a valid (empty) string. */
	return buf_add(out, "", 0);
}

long base64url_decode(const char *in, size_t len, unsigned char *out)
{
	uint32_t acc = 0;
	size_t bits = 0;
	long o = 0;

	if (len % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)in[i], true);

		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return acc ? -EINVAL : o;
}
