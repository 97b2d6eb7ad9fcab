/* idusage.h - what one identity was seen doing: the `usage` entries of
 * its IdentityReport, one per (resource, namespace) with the verbs seen
 * and the UTC day it was last seen.  Bounded: at most IDUSAGE_MAX
 * entries; past that the least recently seen entry goes and is counted in
 * `omitted` (the report's usageOmitted), never dropped silently.  A call
 * whose verb or resource is over the CRD's bounds, or a sixteenth-plus
 * verb on one resource, is counted there too.  Days, not times, so
 * steady use changes the set once a day per entry. */
#ifndef PG_IDUSAGE_H
#define PG_IDUSAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDUSAGE_MAX 256                 /* entries per report (the CRD's maxItems) */
#define IDUSAGE_MAX_VERBS 16            /* verbs per entry */
#define IDUSAGE_VERB_MAX 64             /* bytes of one verb */
#define IDUSAGE_RESOURCE_MAX 512        /* bytes of the resource string */
#define IDUSAGE_NS_MAX 63

struct idusage_entry {
	char *resource;                 /* canonical: "configmaps", "apps/deployments/scale" */
	char *ns;                       /* "" for cluster-scoped calls */
	char *verbs;                    /* sorted, distinct, comma-joined */
	uint8_t nverbs;
	int64_t day;                    /* epoch seconds of the UTC midnight last seen */
};

/* Sorted by resource, then namespace. */
struct idusage {
	struct idusage_entry *v;
	size_t n, cap;
	uint64_t omitted;
};

#define IDUSAGE_INIT ((struct idusage){ NULL, 0, 0, 0 })

/* One successful call of @verb on @resource in @ns (NULL or "": cluster
 * scope) at @when (epoch seconds).  *@changed (may be NULL) is set when
 * the set changed: a new entry, a new verb, a later day, or a count in
 * omitted.  0, or -ENOMEM (nothing changed). */
int idusage_add(struct idusage *u, const char *verb, const char *resource, const char *ns, int64_t when,
		bool *changed);
/* Drops the entries last seen before @before (epoch seconds): the usage
 * window.  True when any went. */
bool idusage_prune(struct idusage *u, int64_t before);
/* The `usage` array (new reference; NULL out of memory), in the set's
 * order, so equal sets give equal JSON. */
json_t *idusage_json(const struct idusage *u);
void idusage_free(struct idusage *u);

#endif
