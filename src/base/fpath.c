/* fpath.c - building field paths for messages. */
#include "fpath.h"

#include <stdio.h>
#include <string.h>

#include "strutil.h"

void fpath_init(struct fpath *p, const char *root)
{
	p->len = 0;
	p->s[0] = '\0';
	if (root && *root) {
		snprintf(p->s, sizeof(p->s), "%s", root);
		p->len = strlen(p->s);
	}
}

static void fpath_append(struct fpath *p, const char *s)
{
	size_t n = strlen(s);

	if (p->len + n >= sizeof(p->s))
		n = str_utf8_cut(s, sizeof(p->s) - 1 - p->len);
	memcpy(p->s + p->len, s, n);
	p->len += n;
	p->s[p->len] = '\0';
}

size_t fpath_key(struct fpath *p, const char *key)
{
	size_t mark = p->len;

	if (p->len)
		fpath_append(p, ".");
	fpath_append(p, key);
	return mark;
}

size_t fpath_index(struct fpath *p, size_t i)
{
	char tmp[32];
	size_t mark = p->len;

	snprintf(tmp, sizeof(tmp), "[%zu]", i);
	fpath_append(p, tmp);
	return mark;
}

void fpath_pop(struct fpath *p, size_t mark)
{
	if (mark <= p->len) {
		p->len = mark;
		p->s[mark] = '\0';
	}
}
