/* fuzz_watch.c - the watch-stream splitter and event parser, and the
 * list-page walker.  The first byte picks a chunk size; the lines must come
 * out the same as when the stream is fed one byte at a time, and oversized
 * lines must be dropped the same way.  The same bytes as a list page: where
 * jansson also reads the page (and no escape can hide a key), both must
 * find the same items. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "jval.h"
#include "kube_watch.h"
#include "xalloc.h"

#include "../../lib/watch_reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	struct buf all;     /* every line, NUL-separated */
	size_t events;
};

/* The informer's reader must agree with jansson, the reference, on every
 * event both take: same type, and an object either way.  A line only one
 * of them reads holds what they differ on by design: a NUL escape, an
 * integer past int64, a real out of range (jval reads them, jansson
 * refuses them). */
static void differential(const char *line, size_t len, int jr, const struct ref_watch_event *ev)
{
	struct jval_limits lim = { 128, 1u << 20 };
	struct arena *a = arena_new(len + 1024);
	enum kube_event_type type;
	const struct jval *obj;
	int r;

	if (!a)
		return;
	r = kube_watch_event_parse(line, len, &lim, a, &type, &obj);
	if (!pg_alloc_refused()) {
		if (r == 0 && jr == 0 && (type != ev->type || !jval_is_object(obj)))
			abort();
		if (r == 0 && jr != 0 && !memmem(line, len, "\\u0000", 6) && !memchr(line, 0, len) &&
		    jr != -ENOMEM && !memchr(line, 'e', len) && !memchr(line, 'E', len) &&
		    !memchr(line, '.', len)) {
			/* only reals and huge integers may differ; a line
			 * with none cannot be read by one and refused by the
			 * other */
			size_t digits = 0, most = 0;

			for (size_t i = 0; i < len; i++) {
				digits = line[i] >= '0' && line[i] <= '9' ? digits + 1 : 0;
				most = digits > most ? digits : most;
			}
			if (most < 19)
				abort();
		}
	}
	arena_free(a);
}

static int on_line(void *ud, const char *line, size_t len)
{
	struct seen *s = ud;
	struct ref_watch_event ev;
	int r;

	if (len == 0 || line[len] != '\0')
		abort();
	if (buf_add(&s->all, line, len + 1) < 0)
		return -1;
	/* The jansson parsers run with the torture held: jansson's lexer
	 * asserts when an allocation fails mid-token (akheron/jansson#362),
	 * which would stop the run on the library's bug, not ours.  The line
	 * splitter and the fast reader stay under it. */
	pg_alloc_hold(true);
	r = ref_watch_event_parse(line, len, &ev);
	pg_alloc_hold(false);
	differential(line, len, r, &ev);
	if (r == 0) {
		if (!json_is_object(ev.object))
			abort();
		json_decref(ev.object);
		s->events++;
	}
	return 0;
}

static void feed(const uint8_t *data, size_t size, size_t chunk, struct seen *s,
		 size_t *oversized)
{
	struct kube_lines l;

	kube_lines_init(&l, 512);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		int r = kube_lines_feed(&l, (const char *)data + off, n, on_line, s);

		if (r < 0 && r != -E2BIG)
			break;
	}
	*oversized = l.oversized;
	kube_lines_free(&l);
}

static int count_item(void *ud, const char *item, size_t len)
{
	if (len == 0 || item[0] != '{')
		abort();
	(*(size_t *)ud)++;
	return 0;
}

static void list_page(const char *body, size_t len)
{
	const struct jval *meta = NULL;
	json_t *whole, *items, *it;
	struct arena *a = arena_new(1024);
	size_t n = 0, want = 0, i;
	int r = a ? kube_list_parse(body, len, 64, count_item, &n, a, &meta) : -ENOMEM;

	if (r == 0 && !jval_is_object(meta))
		abort();
	arena_free(a);
	if (r < 0 || memchr(body, '\\', len) || pg_alloc_refused())
		return;
	pg_alloc_hold(true);
	whole = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	pg_alloc_hold(false);
	items = json_object_get(whole, "items");
	json_array_foreach(items, i, it)
		want += json_is_object(it);
	if (whole && json_is_object(whole) && (json_is_array(items) || !items) && n != want &&
	    !pg_alloc_refused())
		abort();
	json_decref(whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen a = { BUF_INIT(1 << 24), 0 }, b = { BUF_INIT(1 << 24), 0 };
	size_t chunk, over_a, over_b;

	if (size < 1)
		return 0;
	list_page((const char *)data + 1, size - 1);
	chunk = (size_t)data[0] + 1;
	feed(data + 1, size - 1, chunk, &a, &over_a);
	feed(data + 1, size - 1, 1, &b, &over_b);
	/* Two feeds compare equal only if neither lost anything to a refused
	 * allocation. */
	if (!pg_alloc_refused() &&
	    (a.all.len != b.all.len || (a.all.len && memcmp(a.all.data, b.all.data, a.all.len)) ||
	    a.events != b.events || over_a != over_b))
		abort();
	buf_free(&a.all);
	buf_free(&b.all);
	return 0;
}
