/* kube_watch.h - API responses as streams of objects: the watch stream
 * (one JSON object per line, {"type":...,"object":...}\n, in whatever
 * chunks the network likes) and list pages (items taken one at a time).
 * Pure: no I/O, so the splitters and parsers are fuzzed and unit-tested
 * alone. */
#ifndef PG_KUBE_WATCH_H
#define PG_KUBE_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* A line longer than this is refused by default: an object is at most
 * ~1.5 MiB in etcd, and JSON escaping can double it. */
#define KUBE_WATCH_MAX_LINE (4u * 1024 * 1024)

struct kube_lines {
	struct buf line;        /* the unfinished line; line.max is the limit */
	bool discarding;        /* skipping the rest of an oversized line */
	size_t oversized;       /* oversized lines seen */
};

/* Called once per complete, non-empty line, without its "\n" (and
 * without a "\r" before it).  @line is borrowed and NUL-terminated at
 * @len.  A negative return stops kube_lines_feed(), which returns it. */
typedef int (*kube_line_fn)(void *ud, const char *line, size_t len);

void kube_lines_init(struct kube_lines *s, size_t max_line);
/* Feeds one chunk.  Returns 0, the callback's negative value, -ENOMEM, or
 * -E2BIG when a line grows past the limit: that line is dropped (the
 * splitter skips to its end, so the next feed carries on with the next
 * line) and counted in s->oversized.  A dropped line is a lost event, so
 * a watch that sees -E2BIG must relist. */
int kube_lines_feed(struct kube_lines *s, const char *data, size_t len,
		    kube_line_fn fn, void *ud);
/* True when a partial line is pending (a stream that ends here was cut). */
bool kube_lines_pending(const struct kube_lines *s);
void kube_lines_reset(struct kube_lines *s);
void kube_lines_free(struct kube_lines *s);

enum kube_event_type {
	KUBE_EVENT_ADDED,
	KUBE_EVENT_MODIFIED,
	KUBE_EVENT_DELETED,
	KUBE_EVENT_BOOKMARK,
	KUBE_EVENT_ERROR,
};

const char *kube_event_type_name(enum kube_event_type t);

struct arena;
struct jval;
struct jval_limits;

/* Parses one line with the strict fast reader (jval.h): the tree lives in
 * @a, *ret_obj (the object, or the Status of ERROR) borrows from it.
 * -EINVAL for anything that is not an object with a known "type" and an
 * object "object", and for what jval refuses (bad JSON, duplicate keys,
 * depth past @lim); -ENOMEM. */
int kube_watch_event_parse(const char *line, size_t len, const struct jval_limits *lim,
				struct arena *a, enum kube_event_type *ret_type,
				const struct jval **ret_obj);

/* ---- list pages ------------------------------------------------------------ */

/* Receives one object item's bytes, unparsed (@item, @len borrowed): the
 * caller parses it alone (the informer with jval.h into a short-lived
 * arena), so the memory a page costs is one item's tree, not the whole
 * page's.  A negative return stops kube_list_parse(), which returns it. */
typedef int (*kube_raw_item_fn)(void *ud, const char *item, size_t len);

/* Walks a list response ({"kind":..., "metadata":{...}, "items":[...]},
 * keys in any order) and hands over each object item.  Items that are
 * not objects are skipped, once read as JSON.  *ret_meta (may be NULL)
 * gets the list's metadata, read into @a (an empty object when absent).
 * -EINVAL for a body that is not such an object (also nesting deeper
 * than @max_depth), -ENOMEM, or the callback's value.  Items before a
 * failure have been delivered. */
int kube_list_parse(const char *body, size_t len, unsigned max_depth, kube_raw_item_fn fn,
		    void *ud, struct arena *a, const struct jval **ret_meta);

#endif
