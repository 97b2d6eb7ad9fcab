/* fpath.h - field paths as users read them: spec.containers[1].image.
 * A fixed-size stack: paths deeper than the documents we accept are cut,
 * never overflowed. */
#ifndef PG_FPATH_H
#define PG_FPATH_H

#include <stddef.h>

#define FPATH_MAX 512

struct fpath {
	char s[FPATH_MAX];
	size_t len;
};

void fpath_init(struct fpath *p, const char *root);
/* Each push returns the length before it, for fpath_pop(). */
size_t fpath_key(struct fpath *p, const char *key);
size_t fpath_index(struct fpath *p, size_t i);
void fpath_pop(struct fpath *p, size_t mark);
static inline const char *fpath_str(const struct fpath *p) { return p->s; }

#endif
