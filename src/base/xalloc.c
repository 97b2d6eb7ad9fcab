/* xalloc.c - allocation wrappers with a failure-injection hook for tests. */
#include "xalloc.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static long fail_at = -1;
static long count;
static bool refused;
static bool held;

static bool should_fail(void)
{
	long n;

	if (held)
		return false;
	n = count++;

	if (fail_at >= 0 && n >= fail_at)
		refused = true;
	return refused;
}

void pg_alloc_fail_at(long n)
{
	fail_at = n;
	count = 0;
	refused = false;
}

void pg_alloc_hold(bool hold)
{
	held = hold;
}

bool pg_alloc_refused(void)
{
	return refused;
}

long pg_alloc_count(void)
{
	return count;
}

void *pg_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *pg_calloc(size_t nmemb, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *pg_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *pg_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *r = pg_malloc(len + 1);

	if (!r)
		return NULL;
	memcpy(r, s, len);
	r[len] = '\0';
	return r;
}

char *pg_strdup(const char *s)
{
	return pg_strndup(s, strlen(s));
}

void pg_free(void *p)
{
	free(p);
}

void pg_alloc_setup_jansson(void)
{
	json_set_alloc_funcs(pg_malloc, pg_free);
}

void *pg_grow(void *v, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t c;
	void *p;

	if (n < *cap)
		return v;
	c = *cap ? *cap * 2 : first;
	if (c < *cap || (size && c > SIZE_MAX / size) || !(p = pg_realloc(v, c * size)))
		return NULL;
	*cap = c;
	return p;
}
