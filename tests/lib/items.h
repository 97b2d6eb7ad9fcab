/* items.h - JSON lists built to a size, for the cap tests of the pod and
 * selector readers (tests/model/). */
#ifndef PG_TEST_ITEMS_H
#define PG_TEST_ITEMS_H

#include <stddef.h>

#include "buf.h"

/* @n items of @item, each '#' in it the item's index, joined by commas. */
static inline void add_items(struct buf *b, size_t n, const char *item)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(b, ',');
		for (const char *q = item; *q; q++) {
			if (*q == '#')
				buf_printf(b, "%zu", i);
			else
				buf_addc(b, *q);
		}
	}
}

#endif
