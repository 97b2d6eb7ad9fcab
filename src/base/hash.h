/* hash.h - the one hash function (FNV-1a, 32 and 64 bits) and the one
 * string-keyed hash table.  The table is intrusive and chained: embed a
 * struct smap_node in what you index, so an entry costs no allocation of
 * its own; a specialised index (an age list, several values a key, a pool
 * of shared strings) is built on top of it. */
#ifndef PG_HASH_H
#define PG_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The FNV-1a offset bases: the @h of a first call. */
#define HASH_FNV32_BASIS 2166136261u
#define HASH_FNV64_BASIS 14695981039346656037ull

/* @h extended by the @n bytes at @p. */
uint32_t hash_fnv1a32(uint32_t h, const void *p, size_t n);
uint64_t hash_fnv1a64(uint64_t h, const void *p, size_t n);
/* @h extended by the bytes of the C string @s (not its NUL). */
uint32_t hash_fnv1a32_str(uint32_t h, const char *s);
uint64_t hash_fnv1a64_str(uint64_t h, const char *s);
/* @h extended by @s (NULL as "") and then a 0xff byte, which no UTF-8
 * string holds: so the fields ("ab", "c") and ("a", "bc") differ. */
uint64_t hash_fnv1a64_field(uint64_t h, const char *s);

/* ---- smap: an intrusive, chained hash table keyed by C strings ---------- */

/* Embed one in the struct to index; @key must live as long as the node. */
struct smap_node {
	struct smap_node *next;
	uint32_t hash;
	const char *key;
};

/* Zeroed is empty; no allocation until the first smap_put(). */
struct smap {
	struct smap_node **b;
	size_t cap;             /* a power of two, or 0 */
	size_t n;
};

/* The hash smap uses: FNV-1a 32 of @key. */
uint32_t smap_hash(const char *key);
/* The node with @key, NULL when none.  With several nodes of one key
 * (smap_add()), the one added last. */
struct smap_node *smap_get(const struct smap *m, const char *key);
/* The next node with @after's key after @after, NULL when none: with
 * smap_get() walks every node of one key, newest first. */
struct smap_node *smap_next(const struct smap *m, const struct smap_node *after);
/* Adds @node (node->key set; no node with that key may be present).
 * 0 or -ENOMEM (then nothing changed). */
int smap_put(struct smap *m, struct smap_node *node);
/* Adds @node even when nodes with its key are present (a multimap).
 * 0 or -ENOMEM (then nothing changed). */
int smap_add(struct smap *m, struct smap_node *node);
/* Unlinks and returns the node with @key (the newest), NULL when none. */
struct smap_node *smap_del(struct smap *m, const char *key);
/* Unlinks @node, which must be in @m. */
void smap_remove(struct smap *m, struct smap_node *node);
/* Unlinks every node, calling @fn (may be NULL) on each, and frees the
 * table; NULL-safe. */
void smap_clear(struct smap *m, void (*fn)(void *ud, struct smap_node *n), void *ud);
/* Calls @fn on every node; @fn may return true to have the node unlinked
 * (it then owns it). */
void smap_filter(struct smap *m, bool (*fn)(void *ud, struct smap_node *n), void *ud);

#define smap_entry(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
