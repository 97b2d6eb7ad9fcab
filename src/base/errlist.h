/* errlist.h - user-facing error messages collected where the fact is known
 * (file, document, field path) and passed up to be printed once. */
#ifndef PG_ERRLIST_H
#define PG_ERRLIST_H

#include <stddef.h>

struct errlist {
	char **msgs;
	size_t n;
	size_t cap;
	size_t max;       /* messages beyond this are counted, not kept */
	size_t dropped;
	int oom;          /* an allocation failed: some message was lost */
};

#define ERRLIST_DEFAULT_MAX 200

void errlist_init(struct errlist *e, size_t max);
/* Adds one message.  0, or -ENOMEM (then e->oom is set). Dropping past
 * e->max is not an error. */
int errlist_add(struct errlist *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Total messages reported, dropped included. */
size_t errlist_count(const struct errlist *e);
void errlist_clear(struct errlist *e);
void errlist_free(struct errlist *e);

#endif
