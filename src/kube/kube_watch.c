/* kube_watch.c - splits a watch stream into lines whatever the chunking,
 * parses each line into a typed event, and takes list pages apart one
 * item at a time. */
#include "kube_watch.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "arena.h"
#include "jval.h"

void kube_lines_init(struct kube_lines *s, size_t max_line)
{
	buf_init(&s->line, max_line);
	s->discarding = false;
	s->oversized = 0;
}

/* Hands over the buffered line, without a trailing '\r', and empties it. */
static int deliver(struct kube_lines *s, kube_line_fn fn, void *ud)
{
	int r = 0;

	if (s->line.len && s->line.data[s->line.len - 1] == '\r')
		buf_truncate(&s->line, s->line.len - 1);
	if (s->line.len)
		r = fn(ud, s->line.data, s->line.len);
	buf_reset(&s->line);
	return r;
}

int kube_lines_feed(struct kube_lines *s, const char *data, size_t len,
		    kube_line_fn fn, void *ud)
{
	const char *p = data, *end = data + len;
	int ret = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int r;

		if (s->discarding) {
			if (nl)
				s->discarding = false;
			p = nl ? nl + 1 : end;
			continue;
		}
		r = buf_add(&s->line, p, n);
		if (r == -E2BIG) {
			buf_reset(&s->line);
			s->oversized++;
			ret = -E2BIG;
			s->discarding = !nl;
			p = nl ? nl + 1 : end;
			continue;
		}
		if (r < 0)
			return r;
		if (!nl)
			break;
		p = nl + 1;
		r = deliver(s, fn, ud);
		if (r < 0)
			return r;
	}
	return ret;
}

bool kube_lines_pending(const struct kube_lines *s)
{
	return s->line.len > 0 || s->discarding;
}

void kube_lines_reset(struct kube_lines *s)
{
	buf_reset(&s->line);
	s->discarding = false;
}

void kube_lines_free(struct kube_lines *s)
{
	if (!s)
		return;
	buf_free(&s->line);
}

static const char *const event_names[] = {
	[KUBE_EVENT_ADDED] = "ADDED",
	[KUBE_EVENT_MODIFIED] = "MODIFIED",
	[KUBE_EVENT_DELETED] = "DELETED",
	[KUBE_EVENT_BOOKMARK] = "BOOKMARK",
	[KUBE_EVENT_ERROR] = "ERROR",
};

const char *kube_event_type_name(enum kube_event_type t)
{
	return (unsigned)t <= KUBE_EVENT_ERROR ? event_names[t] : "?";
}

int kube_watch_event_parse(const char *line, size_t len, const struct jval_limits *lim,
				struct arena *a, enum kube_event_type *ret_type,
				const struct jval **ret_obj)
{
	const struct jval *root, *obj;
	const char *type;
	int r = jval_parse(line, len, lim, a, &root, NULL);

	if (r < 0)
		return r == -ENOMEM ? -ENOMEM : -EINVAL;
	type = jval_str(jval_get(root, "type"));
	obj = jval_get(root, "object");
	if (!type || !jval_is_object(obj) || strlen(type) != jval_get(root, "type")->n)
		return -EINVAL;
	for (unsigned t = 0; t <= KUBE_EVENT_ERROR; t++) {
		if (strcmp(type, event_names[t]) == 0) {
			*ret_type = (enum kube_event_type)t;
			*ret_obj = obj;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- list pages --------------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static bool is_delim(char c)
{
	return c == ',' || c == ':' || c == ']' || c == '}' || c == '"' || c == '{' ||
	       c == '[' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
}

/* The end of the string starting at @p (on its opening quote), or NULL. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p == end)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* The end of the JSON value at @p, or NULL when it is cut or malformed at
 * the structural level (jval checks the rest when the value is parsed).
 * Iterative: nesting is only counted, never recursed into. */
static const char *skip_value(const char *p, const char *end, unsigned max_depth)
{
	unsigned depth = 0;

	p = skip_ws(p, end);
	do {
		if (p >= end)
			return NULL;
		switch (*p) {
		case '{':
		case '[':
			if (++depth > max_depth)
				return NULL;
			p++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return NULL;
			depth--;
			p++;
			break;
		case '"':
			p = skip_string(p, end);
			if (!p)
				return NULL;
			break;
		case ',':
		case ':':
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			if (depth == 0)
				return NULL;
			p++;
			break;
		default: {
			/* A number, true, false or null: up to a delimiter. */
			const char *start = p;

			while (p < end && !is_delim(*p))
				p++;
			if (p == start)
				return NULL;
			break;
		}
		}
	} while (depth > 0);
	return p;
}

/* Parses @n bytes at @p with the fast reader into @a: -EINVAL for what it
 * refuses, -ENOMEM. */
static int parse_slice(const char *p, size_t n, unsigned max_depth, struct arena *a,
		       const struct jval **ret)
{
	struct jval_limits lim = { max_depth, 1u << 20 };
	int r = jval_parse(p, n, &lim, a, ret, NULL);

	return r == -ENOMEM ? -ENOMEM : r < 0 ? -EINVAL : 0;
}

static int list_items(const char *p, const char *end, unsigned max_depth, kube_raw_item_fn fn,
		      void *ud, const char **ret_end)
{
	p = skip_ws(p, end);
	if (p >= end)
		return -EINVAL;
	if (*p == 'n' && end - p >= 4 && memcmp(p, "null", 4) == 0) {
		*ret_end = p + 4;
		return 0;
	}
	if (*p != '[')
		return -EINVAL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == ']') {
		*ret_end = p + 1;
		return 0;
	}
	for (;;) {
		const char *v = skip_ws(p, end), *ve = skip_value(v, end, max_depth);
		int r;

		if (!ve)
			return -EINVAL;
		if (*v == '{') {
			/* The caller parses the item itself, alone. */
			r = fn(ud, v, (size_t)(ve - v));
		} else {
			/* Not an object: skipped, but only if it is JSON at all
			 * ("tru\x0e" is a broken page, not an item to skip). */
			struct arena *a = arena_new(256);
			const struct jval *item;

			r = a ? parse_slice(v, (size_t)(ve - v), max_depth, a, &item) : -ENOMEM;
			arena_free(a);
		}
		if (r < 0)
			return r;
		p = skip_ws(ve, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == ']') {
			*ret_end = p + 1;
			return 0;
		}
		return -EINVAL;
	}
}

int kube_list_parse(const char *body, size_t len, unsigned max_depth, kube_raw_item_fn fn,
		    void *ud, struct arena *a, const struct jval **ret_meta)
{
	const char *p = body, *end = body + len;
	const struct jval *meta = NULL;
	bool items = false;
	int r = -EINVAL;

	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return -EINVAL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}') {
		p++;
		goto done;
	}
	for (;;) {
		const char *k = p, *ke, *v, *ve;
		size_t klen;

		if (p >= end || *p != '"' || !(ke = skip_string(p, end)))
			return -EINVAL;
		klen = (size_t)(ke - k);
		p = skip_ws(ke, end);
		if (p >= end || *p != ':')
			return -EINVAL;
		v = skip_ws(p + 1, end);
		/* Keys are compared as written: the API server never escapes
		 * "items" or "metadata". */
		if (klen == 7 && memcmp(k, "\"items\"", 7) == 0) {
			if (items)
				return -EINVAL;
			items = true;
			r = list_items(v, end, max_depth, fn, ud, &ve);
			if (r < 0)
				return r;
		} else {
			ve = skip_value(v, end, max_depth);
			if (!ve)
				return -EINVAL;
			if (klen == 10 && memcmp(k, "\"metadata\"", 10) == 0) {
				if (meta)
					return -EINVAL;
				r = parse_slice(v, (size_t)(ve - v), max_depth, a, &meta);
				if (r < 0)
					return r;
				if (!jval_is_object(meta))
					return -EINVAL;
			}
		}
		p = skip_ws(ve, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}') {
			p++;
			break;
		}
		return -EINVAL;
	}
done:
	if (skip_ws(p, end) != end)
		return -EINVAL;
	if (ret_meta) {
		if (!meta && !(meta = jval_object_new(a)))
			return -ENOMEM;
		*ret_meta = meta;
	}
	return 0;
}
