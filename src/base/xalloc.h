/* xalloc.h - the one allocator every profileguard module uses.
 * A test hook makes the Nth allocation fail, so tests can prove that every
 * allocation failure is handled (curl's "torture", jansson's test_chaos). */
#ifndef PG_XALLOC_H
#define PG_XALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Same contracts as malloc/calloc/realloc/free/strdup; NULL on failure. */
void *pg_malloc(size_t n);
void *pg_calloc(size_t nmemb, size_t size);
void *pg_realloc(void *p, size_t n);
char *pg_strdup(const char *s);
char *pg_strndup(const char *s, size_t n);
void pg_free(void *p);
/* Room for one more item in an array of @n items of @size bytes and
 * capacity *@cap: @v itself when there is room, else @v reallocated to
 * double the capacity (@first when it is 0), *@cap updated.  NULL when out
 * of memory or the size would overflow (@v is then left as it was). */
void *pg_grow(void *v, size_t *cap, size_t n, size_t size, size_t first);

/* Test hook: the allocation numbered @n (0-based, counted from now) and
 * every later one fails.  n < 0 disables.  Not thread-safe: tests only. */
void pg_alloc_fail_at(long n);
/* Allocations made since the last pg_alloc_fail_at() call. */
long pg_alloc_count(void);
/* Whether an allocation was refused since the last pg_alloc_fail_at() call:
 * fuzz oracles hold only for runs where nothing was refused. */
bool pg_alloc_refused(void);
/* While held, no allocation is refused or counted: a fuzz oracle uses it to
 * check a result under torture, or to keep a reference parser out of it. */
void pg_alloc_hold(bool hold);

/* Routes jansson's allocations through pg_malloc/pg_free. */
void pg_alloc_setup_jansson(void);

#endif
