/* tokens.c - a projected token's claims without its credential.  The
 * payload is decoded into a scratch buffer that is zeroed before it is
 * freed, as is the buffer the file was read into; the claims are copied
 * out as numbers and a UID. */
#include "tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "base64.h"
#include "fdio.h"
#include "jval.h"
#include "xalloc.h"

/* An integer claim; JSON numbers like 1.7e9 are not what the API server
 * writes and are refused with the rest. */
static int int_claim(const struct jval *obj, const char *key, int64_t *ret)
{
	const struct jval *v = jval_get(obj, key);

	if (!v) {
		*ret = -1;
		return 0;
	}
	if (!jval_is_int(v) || v->u.i < 0)
		return -EINVAL;
	*ret = v->u.i;
	return 0;
}

static int claims_of(const struct jval *payload, struct token_claims *c)
{
	const struct jval *kio, *pod, *uid;

	if (!jval_is_object(payload))
		return -EINVAL;
	if (int_claim(payload, "iat", &c->iat) < 0 || int_claim(payload, "exp", &c->exp) < 0 ||
	    int_claim(payload, "nbf", &c->nbf) < 0)
		return -EINVAL;
	c->pod_uid[0] = '\0';
	kio = jval_get(payload, "kubernetes.io");
	pod = jval_get(kio, "pod");
	uid = jval_get(pod, "uid");
	if (uid) {
		if (!jval_is_string(uid) || uid->n == 0 || uid->n >= sizeof(c->pod_uid))
			return -EINVAL;
		/* a UID is printable ASCII; keep it so, it ends up in logs */
		for (uint32_t i = 0; i < uid->n; i++)
			if ((unsigned char)uid->u.s[i] <= 0x20 || (unsigned char)uid->u.s[i] >= 0x7f)
				return -EINVAL;
		memcpy(c->pod_uid, uid->u.s, uid->n + 1);
	}
	return 0;
}

int tokens_decode(const char *jwt, size_t len, struct token_claims *ret)
{
	const char *p = jwt, *end = jwt + len, *dot1, *dot2;
	const struct jval *payload;
	struct jval_limits lim = { 8, 256 };
	struct jval_error err;
	struct token_claims c;
	struct arena *a = NULL;
	unsigned char *dec = NULL;
	size_t plen;
	long n;
	int r;

	if (len > TOKENS_MAX_BYTES)
		return -E2BIG;
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t'))
		end--;
	dot1 = memchr(p, '.', (size_t)(end - p));
	if (!dot1 || dot1 == p)
		return -EINVAL;
	dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
	/* header.payload.signature: an unsigned JWT (empty signature) or a
	 * JWE (five segments) is not a projected token */
	if (!dot2 || dot2 == dot1 + 1 || dot2 + 1 == end || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
		return -EINVAL;
	plen = (size_t)(dot2 - dot1 - 1);
	dec = pg_malloc(plen * 3 / 4 + 1);
	if (!dec)
		return -ENOMEM;
	n = base64url_decode(dot1 + 1, plen, dec);
	if (n < 0) {
		r = -EINVAL;
		goto out;
	}
	a = arena_new(4096);
	if (!a) {
		r = -ENOMEM;
		goto out;
	}
	r = jval_parse((const char *)dec, (size_t)n, &lim, a, &payload, &err);
	if (r == -E2BIG)
		r = -EINVAL;
	if (r < 0)
		goto out;
	/* Whole, padding and the unused tail of pod_uid too: the struct is
	 * copied out, and nothing uninitialised should travel with it. */
	memset(&c, 0, sizeof(c));
	r = claims_of(payload, &c);
	if (r == 0)
		*ret = c;
out:
	/* The payload alone authenticates no one, but its raw bytes are
	 * the token's: leave them nowhere in freed memory. */
	if (dec) {
		explicit_bzero(dec, plen * 3 / 4 + 1);
		pg_free(dec);
	}
	arena_free(a);
	return r;
}

int tokens_read_at(int dirfd, const char *name, struct token_claims *ret)
{
	char *text;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, r = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (st.st_size > (off_t)TOKENS_MAX_BYTES) {
		close(fd);
		return -E2BIG;
	}
	text = pg_malloc(TOKENS_MAX_BYTES + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	n = fdio_read_full(fd, text, TOKENS_MAX_BYTES + 1);
	if (n < 0)
		r = (int)n;
	else
		len = (size_t)n;
	close(fd);
	if (r == 0)
		r = len > TOKENS_MAX_BYTES ? -E2BIG : tokens_decode(text, len, ret);
	explicit_bzero(text, TOKENS_MAX_BYTES + 1);
	pg_free(text);
	return r;
}
