/* ktab.h - the agent's keyed hash and open-addressing table (ktab.c).
 * Not base's smap: keys are bytes (inodes, container IDs, paths a
 * container chooses), hashed with a per-process seed and a finaliser so a
 * container cannot aim its entries at one chain, and the entries are
 * values, not nodes embedded in what they index.  Private to src/agent. */
#ifndef PG_KTAB_H
#define PG_KTAB_H

#include <stddef.h>
#include <stdint.h>

/* Entries point at keys their owner keeps; a table never frees them. */
struct ktab_entry {
	uint64_t h;
	const void *key;                /* NULL: empty slot */
	size_t len;
	void *val;
};

/* Zeroed: empty. */
struct ktab {
	struct ktab_entry *tab;
	size_t cap;                     /* 0 or a power of two */
	size_t n;
};

/* The hash of @n bytes at @p under @seed (the owner's, random per
 * process). */
uint64_t ktab_hash(uint64_t seed, const void *p, size_t n);
/* The entry of @key (@len bytes, hash @h), borrowed; NULL when absent. */
struct ktab_entry *ktab_find(const struct ktab *t, uint64_t h, const void *key, size_t len);
/* Adds a key known to be absent; @key is borrowed and must outlive the
 * entry.  0 or -ENOMEM. */
int ktab_add(struct ktab *t, uint64_t h, const void *key, size_t len, void *val);
/* Frees the slots (never the keys or values) and empties @t. */
void ktab_free(struct ktab *t);

#endif
