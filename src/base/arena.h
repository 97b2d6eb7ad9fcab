/* arena.h - memory tied to one object's lifetime (after nginx's pools).
 * A profile or a cached pod keeps all its strings and arrays in one arena
 * and is freed in one call. */
#ifndef PG_ARENA_H
#define PG_ARENA_H

#include <stddef.h>

struct arena;

/* @chunk is the size of each block; small objects want small chunks. */
struct arena *arena_new(size_t chunk);
/* Memory aligned for any type, zeroed; NULL on allocation failure. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Bytes held from the system, blocks and headers included. */
size_t arena_footprint(const struct arena *a);
/* NULL-safe; returns NULL. */
struct arena *arena_free(struct arena *a);

#endif
