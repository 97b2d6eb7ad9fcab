/* ktab.c - the agent's keyed hash (FNV-1a under a per-process seed, then
 * splitmix64's finaliser) and the open-addressing table, linear probing at
 * most half full, that the sampler keeps its containers, network
 * namespaces and tokens in. */
#include "ktab.h"

#include <errno.h>
#include <string.h>

#include "hash.h"
#include "xalloc.h"

uint64_t ktab_hash(uint64_t seed, const void *p, size_t n)
{
	uint64_t h = hash_fnv1a64(HASH_FNV64_BASIS ^ seed, p, n);

	/* splitmix64's finaliser: FNV alone leaves the low bits weak */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

struct ktab_entry *ktab_find(const struct ktab *t, uint64_t h, const void *key, size_t len)
{
	if (!t->cap)
		return NULL;
	for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct ktab_entry *e = &t->tab[i];

		if (!e->key)
			return NULL;
		if (e->h == h && e->len == len && memcmp(e->key, key, len) == 0)
			return e;
	}
}

static void ktab_place(struct ktab_entry *tab, size_t cap, const struct ktab_entry *e)
{
	size_t i = e->h & (cap - 1);

	while (tab[i].key)
		i = (i + 1) & (cap - 1);
	tab[i] = *e;
}

int ktab_add(struct ktab *t, uint64_t h, const void *key, size_t len, void *val)
{
	struct ktab_entry e = { h, key, len, val };

	if ((t->n + 1) * 2 > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct ktab_entry *nt = pg_calloc(ncap, sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		for (size_t i = 0; i < t->cap; i++)
			if (t->tab[i].key)
				ktab_place(nt, ncap, &t->tab[i]);
		pg_free(t->tab);
		t->tab = nt;
		t->cap = ncap;
	}
	ktab_place(t->tab, t->cap, &e);
	t->n++;
	return 0;
}

void ktab_free(struct ktab *t)
{
	pg_free(t->tab);
	t->tab = NULL;
	t->cap = t->n = 0;
}
