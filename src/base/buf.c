/* buf.c - bounded growable buffers: every buffer a peer can grow has a cap. */
#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "strutil.h"
#include "xalloc.h"

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return -E2BIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	p = pg_realloc(b->data, ncap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
	int r = buf_reserve(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, r;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -EINVAL;
	r = buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int buf_add_json_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t start = b->len;
	int r = 0;

	while (*p && r == 0) {
		size_t n = str_utf8_len((const char *)p, strnlen((const char *)p, 4));
		char esc[6];

		if (n == 0) {
			/* Not UTF-8 (a name cut mid-character, bytes from a
			 * peer): JSON must be, so U+FFFD stands in. */
			r = buf_add(b, "\xef\xbf\xbd", 3);
			p++;
		} else if (n > 1) {
			r = buf_add(b, p, n);
			p += n;
		} else if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p++;
			r = buf_add(b, esc, 2);
		} else if (*p == '\n' || *p == '\r' || *p == '\t') {
			esc[0] = '\\';
			esc[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
			p++;
			r = buf_add(b, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			p++;
			r = buf_add(b, esc, 6);
		} else {
			const unsigned char *q = p;

			/* a run of plain ASCII in one copy */
			while (*q >= 0x20 && *q < 0x7f && *q != '"' && *q != '\\')
				q++;
			r = buf_add(b, p, (size_t)(q - p));
			p = q;
		}
	}
	if (r < 0)
		buf_truncate(b, start);
	return r;
}

const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

void buf_reset(struct buf *b)
{
	buf_truncate(b, 0);
}

char *buf_steal(struct buf *b)
{
	char *p = b->data;

	if (!p)
		p = pg_strdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void buf_free(struct buf *b)
{
	if (!b)
		return;
	pg_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
