/* errlist.c - bounded list of error messages. */
#include "errlist.h"

#include <errno.h>
#include <stdarg.h>

#include "buf.h"
#include "xalloc.h"

void errlist_init(struct errlist *e, size_t max)
{
	e->msgs = NULL;
	e->n = e->cap = e->dropped = 0;
	e->max = max ? max : ERRLIST_DEFAULT_MAX;
	e->oom = 0;
}

int errlist_add(struct errlist *e, const char *fmt, ...)
{
	struct buf b = BUF_INIT(64 * 1024);
	va_list ap;
	char *msg;
	int r;

	if (e->n >= e->max) {
		e->dropped++;
		return 0;
	}
	if (e->n == e->cap) {
		size_t ncap = e->cap ? e->cap * 2 : 8;
		char **p = pg_realloc(e->msgs, ncap * sizeof(*p));

		if (!p)
			goto oom;
		e->msgs = p;
		e->cap = ncap;
	}
	va_start(ap, fmt);
	r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r < 0)
		goto oom_buf;
	msg = buf_steal(&b);
	if (!msg)
		goto oom;
	e->msgs[e->n++] = msg;
	return 0;
oom_buf:
	buf_free(&b);
oom:
	e->oom = 1;
	return -ENOMEM;
}

size_t errlist_count(const struct errlist *e)
{
	return e->n + e->dropped;
}

void errlist_clear(struct errlist *e)
{
	for (size_t i = 0; i < e->n; i++)
		pg_free(e->msgs[i]);
	e->n = 0;
	e->dropped = 0;
	e->oom = 0;
}

void errlist_free(struct errlist *e)
{
	if (!e)
		return;
	errlist_clear(e);
	pg_free(e->msgs);
	e->msgs = NULL;
	e->cap = 0;
}
