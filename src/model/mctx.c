/* mctx.c - the model readers' error helper (mctx.h). */
#include "mctx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "arena.h"
#include "errlist.h"

void mctx_err(struct mctx *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (errlist_add(c->errs, "%s: %s", fpath_str(&c->path), msg) < 0)
		c->oom = true;
	c->failed = true;
}

const char *mctx_dup(struct mctx *c, const char *s)
{
	char *r = arena_strdup(c->a, s);

	if (!r)
		c->oom = true;
	return r;
}

int mctx_result(const struct mctx *c)
{
	if (c->oom)
		return -ENOMEM;
	return c->failed ? -EINVAL : 0;
}
