/* smap.c - an intrusive, chained hash table keyed by C strings: the
 * controller's indexes of pods, owners, Events and queue keys embed a
 * node, so an entry costs one allocation. */
#include "smap.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"

uint32_t smap_hash(const char *key)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

struct smap_node *smap_get(const struct smap *m, const char *key)
{
	uint32_t h;

	if (!m->n)
		return NULL;
	h = smap_hash(key);
	for (struct smap_node *n = m->b[h & (m->cap - 1)]; n; n = n->next)
		if (n->hash == h && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

static int grow(struct smap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	struct smap_node **nb = pg_calloc(ncap, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct smap_node *n = m->b[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = nb[n->hash & (ncap - 1)];
			nb[n->hash & (ncap - 1)] = n;
		}
	}
	pg_free(m->b);
	m->b = nb;
	m->cap = ncap;
	return 0;
}

int smap_put(struct smap *m, struct smap_node *node)
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
