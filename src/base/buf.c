/* buf.c - bounded growable buffers: every buffer a peer can grow has a cap. */
#include "buf.h"

#include <errno.h>
#include <stdbool.h>
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

/* The inside of a YAML double-quoted scalar that reads back as exactly
 * @s.  YAML allows fewer characters than JSON does (no C1 controls, no
 * U+FFFE/U+FFFF: libyaml refuses them) and breaks lines at more (NEL,
 * U+2028, U+2029), so those are \\u escapes too. */
static int yaml_escaped(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int r = 0;

	while (*p && r == 0) {
		unsigned long cp = *p;
		size_t n = str_utf8_len((const char *)p, strnlen((const char *)p, 4));

		if (n > 1) {
			cp = *p & (0x7f >> n);
			for (size_t i = 1; i < n; i++)
				cp = cp << 6 | (p[i] & 0x3f);
		}
		if (n == 0) {
			r = buf_adds(b, "\\ufffd");
			p++;
		} else if (cp == '"' || cp == '\\') {
			if ((r = buf_addc(b, '\\')) == 0)
				r = buf_addc(b, (char)cp);
			p++;
		} else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 ||
			   cp == 0x2029 || cp == 0xfeff || cp == 0xfffe || cp == 0xffff) {
			/* controls, and the line breaks YAML would fold */
			r = buf_printf(b, "\\u%04lx", cp);
			p += n;
		} else {
			r = buf_add(b, p, n);
			p += n;
		}
	}
	return r;
}

int buf_add_yaml_scalar(struct buf *b, const char *s)
{
	static const char *const words[] = { "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
					     "true", "True", "TRUE", "false", "False", "FALSE", "on", "On",
					     "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", NULL };
	bool plain = *s && strchr("/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", s[0]);
	size_t start = b->len;
	int r;

	for (const char *p = s; plain && *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_.-", *p))
			plain = false;
	for (const char *const *w = words; plain && *w; w++)
		if (!strcmp(*w, s))
			plain = false;
	if (plain)
		return buf_adds(b, s);
	if ((r = buf_addc(b, '"')) == 0 && (r = yaml_escaped(b, s)) == 0)
		r = buf_addc(b, '"');
	if (r < 0)
		buf_truncate(b, start);
	return r;
}

int buf_add_yaml_comment(struct buf *b, const char *s)
{
	size_t start = b->len;
	int r = 0;

	for (; *s && r == 0; s++)
		r = buf_addc(b, (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?');
	if (r < 0)
		buf_truncate(b, start);
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
