/* arena.c - bump allocator over a list of blocks; freed all at once. */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "xalloc.h"

struct block {
	struct block *next;
	size_t size;
	size_t used;
	alignas(max_align_t) unsigned char mem[];
};

struct arena {
	struct block *head;
	size_t chunk;
	size_t footprint;
};

struct arena *arena_new(size_t chunk)
{
	struct arena *a = pg_calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->chunk = chunk < 64 ? 64 : chunk;
	a->footprint = sizeof(*a);
	return a;
}

void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = alignof(max_align_t);
	struct block *b = a->head;
	size_t off;

	if (n > SIZE_MAX / 2)
		return NULL;
	if (b) {
		off = (b->used + align - 1) & ~(align - 1);
		if (off <= b->size && n <= b->size - off) {
			b->used = off + n;
			return memset(b->mem + off, 0, n);
		}
	}
	{
		size_t size = n > a->chunk ? n : a->chunk;
		struct block *nb = pg_malloc(sizeof(*nb) + size);

		if (!nb)
			return NULL;
		nb->size = size;
		nb->used = n;
		/* A big one-off allocation goes behind the current block so
		 * the current block's free space is not wasted. */
		if (b && n > a->chunk) {
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			a->head = nb;
		}
		a->footprint += sizeof(*nb) + size;
		return memset(nb->mem, 0, n);
	}
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *r = arena_alloc(a, len + 1);

	if (r)
		memcpy(r, s, len);
	return r;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

size_t arena_footprint(const struct arena *a)
{
	return a ? a->footprint : 0;
}

struct arena *arena_free(struct arena *a)
{
	if (!a)
		return NULL;
	for (struct block *b = a->head, *n; b; b = n) {
		n = b->next;
		pg_free(b);
	}
	pg_free(a);
	return NULL;
}
