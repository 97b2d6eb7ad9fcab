/* hash.c - FNV-1a and the intrusive string-keyed table of include/hash.h.
 * Chained, so a node never moves and one allocation per entry is the
 * caller's; the table doubles at a load of one. */
#include "hash.h"

#include <errno.h>
#include <string.h>

#include "xalloc.h"

#define FNV32_PRIME 16777619u
#define FNV64_PRIME 1099511628211ull
#define SMAP_MIN_CAP 64

uint32_t hash_fnv1a32(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * FNV32_PRIME;
	return h;
}

uint64_t hash_fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * FNV64_PRIME;
	return h;
}

uint32_t hash_fnv1a32_str(uint32_t h, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * FNV32_PRIME;
	return h;
}

uint64_t hash_fnv1a64_str(uint64_t h, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * FNV64_PRIME;
	return h;
}

uint64_t hash_fnv1a64_field(uint64_t h, const char *s)
{
	h = hash_fnv1a64_str(h, s ? s : "");
	return (h ^ 0xffu) * FNV64_PRIME;
}

/* ---- smap ------------------------------------------------------------------ */

uint32_t smap_hash(const char *key)
{
	return hash_fnv1a32_str(HASH_FNV32_BASIS, key);
}

static struct smap_node *find(struct smap_node *n, uint32_t h, const char *key)
{
	for (; n; n = n->next)
		if (n->hash == h && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

struct smap_node *smap_get(const struct smap *m, const char *key)
{
	uint32_t h;

	if (!m->n)
		return NULL;
	h = smap_hash(key);
	return find(m->b[h & (m->cap - 1)], h, key);
}

struct smap_node *smap_next(const struct smap *m, const struct smap_node *after)
{
	(void)m;
	return find(after->next, after->hash, after->key);
}

/* Doubles the table: bucket i splits into i and i + cap, each keeping its
 * nodes in order, so the nodes of one key stay newest first. */
static int grow(struct smap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : SMAP_MIN_CAP;
	struct smap_node **nb = pg_calloc(ncap, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct smap_node **lo = &nb[i], **hi = &nb[i + m->cap], *n, *next;

		for (n = m->b[i]; n; n = next) {
			next = n->next;
			n->next = NULL;
			if (n->hash & m->cap) {
				*hi = n;
				hi = &n->next;
			} else {
				*lo = n;
				lo = &n->next;
			}
		}
	}
	pg_free(m->b);
	m->b = nb;
	m->cap = ncap;
	return 0;
}

int smap_add(struct smap *m, struct smap_node *node)
{
	size_t i;

	if (m->n >= m->cap && grow(m) < 0)
		return -ENOMEM;
	node->hash = smap_hash(node->key);
	i = node->hash & (m->cap - 1);
	node->next = m->b[i];
	m->b[i] = node;
	m->n++;
	return 0;
}

int smap_put(struct smap *m, struct smap_node *node)
{
	return smap_add(m, node);
}

struct smap_node *smap_del(struct smap *m, const char *key)
{
	uint32_t h;

	if (!m->n)
		return NULL;
	h = smap_hash(key);
	for (struct smap_node **pp = &m->b[h & (m->cap - 1)]; *pp; pp = &(*pp)->next) {
		struct smap_node *n = *pp;

		if (n->hash == h && strcmp(n->key, key) == 0) {
			*pp = n->next;
			n->next = NULL;
			m->n--;
			return n;
		}
	}
	return NULL;
}

void smap_remove(struct smap *m, struct smap_node *node)
{
	struct smap_node **pp = &m->b[node->hash & (m->cap - 1)];

	while (*pp != node)
		pp = &(*pp)->next;
	*pp = node->next;
	node->next = NULL;
	m->n--;
}

void smap_filter(struct smap *m, bool (*fn)(void *ud, struct smap_node *n), void *ud)
{
	for (size_t i = 0; i < m->cap; i++) {
		struct smap_node **pp = &m->b[i];

		while (*pp) {
			struct smap_node *n = *pp;

			/* Unlink first: fn may free the node. */
			*pp = n->next;
			n->next = NULL;
			if (fn(ud, n)) {
				m->n--;
				continue;
			}
			n->next = *pp;
			*pp = n;
			pp = &n->next;
		}
	}
}

void smap_clear(struct smap *m, void (*fn)(void *ud, struct smap_node *n), void *ud)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++) {
		struct smap_node *n = m->b[i], *next;

		for (; n; n = next) {
			next = n->next;
			if (fn)
				fn(ud, n);
		}
	}
	pg_free(m->b);
	m->b = NULL;
	m->cap = m->n = 0;
}
