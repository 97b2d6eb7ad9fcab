/* smap.h - an intrusive hash table keyed by C strings (the controller's
 * caches and queues index by it). */
#ifndef PG_SMAP_H
#define PG_SMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embed one in the struct to index; @key must live as long as the node. */
struct smap_node {
	struct smap_node *next;
	uint32_t hash;
	const char *key;
};

struct smap {
	struct smap_node **b;
	size_t cap;             /* a power of two, or 0 */
	size_t n;
};

uint32_t smap_hash(const char *key);
/* The node with @key, NULL when none. */
struct smap_node *smap_get(const struct smap *m, const char *key);
/* Adds @node (node->key set; no node with that key may be present).
 * 0 or -ENOMEM (then nothing changed). */
int smap_put(struct smap *m, struct smap_node *node);
/* Unlinks and returns the node with @key, NULL when none. */
struct smap_node *smap_del(struct smap *m, const char *key);
/* Unlinks every node, calling @fn (may be NULL) on each, and frees the
 * table. */
void smap_clear(struct smap *m, void (*fn)(void *ud, struct smap_node *n), void *ud);
/* Calls @fn on every node; @fn may return true to have the node unlinked
 * (it then owns it). */
void smap_filter(struct smap *m, bool (*fn)(void *ud, struct smap_node *n), void *ud);

#define smap_entry(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
