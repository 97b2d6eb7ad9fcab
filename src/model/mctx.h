/* mctx.h - the context every model reader carries: the arena the object
 * is built in, the error list, the field path errors name, and whether
 * the object failed or memory ran out.  One error helper for every reader
 * of the model (profiles, RBAC objects), so they all say "path: what". */
#ifndef PG_MCTX_H
#define PG_MCTX_H

#include <stdbool.h>

#include "fpath.h"

struct arena;
struct errlist;

struct mctx {
	struct arena *a;
	struct errlist *errs;
	struct fpath path;
	bool failed;
	bool oom;
};

/* Adds "PATH: MESSAGE" (the message cut at 1 KiB) and marks the object
 * failed; a lost message marks it out of memory. */
void mctx_err(struct mctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A copy of @s in the arena; NULL (and oom marked) when out of memory. */
const char *mctx_dup(struct mctx *c, const char *s);
/* What the reader returns: -ENOMEM, -EINVAL (see errs) or 0. */
int mctx_result(const struct mctx *c);

#endif
