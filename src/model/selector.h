/* selector.h - Kubernetes labels and metav1.LabelSelector. */
#ifndef PG_SELECTOR_H
#define PG_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

struct arena;
struct errlist;
struct fpath;
struct jval;

/* A selector is small; a hostile one must not become large.  Over a cap
 * is an error naming it, never a cut list (SPEC §2 "Bounds"). */
#define SELECTOR_MAX_REQS 256       /* matchLabels + matchExpressions */
#define SELECTOR_MAX_VALUES 1024    /* values of one expression */
#define LABELS_MAX 1024             /* labels of one object */

struct labels {
	const char **keys;      /* parallel arrays, in the arena of their owner */
	const char **values;
	size_t n;
};

enum sel_op { SEL_IN, SEL_NOT_IN, SEL_EXISTS, SEL_DOES_NOT_EXIST };

struct sel_req {
	const char *key;
	enum sel_op op;
	const char **values;
	size_t nvalues;
};

/* matchLabels entries become In requirements with one value. */
struct selector {
	struct sel_req *reqs;
	size_t nreqs;
};

/* Borrowed result, NULL when absent. */
const char *labels_get(const struct labels *l, const char *key);
/* Copies a JSON object of strings into @a.  Errors go to @errs at @path;
 * -EINVAL for a non-string value or bad key, -ENOMEM. */
int labels_from_jval(const struct jval *obj, struct arena *a, struct fpath *path,
		     struct errlist *errs, struct labels *ret);

/* Parses and validates a LabelSelector; an empty selector is an error
 * (SPEC §2: it must select something). */
int selector_parse(const struct jval *obj, struct arena *a, struct fpath *path,
		   struct errlist *errs, struct selector *ret);
bool selector_matches(const struct selector *s, const struct labels *l);

#endif
