/* kube_watch.c - splits a watch stream into lines whatever the chunking,
 * and parses each line into a typed event. */
#include "kube_watch.h"

#include <errno.h>
#include <string.h>

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

int kube_watch_event_parse(const char *line, size_t len, struct kube_watch_event *ev)
{
	json_error_t jerr;
	json_t *root, *type, *obj;
	int r = -EINVAL;

	/* Size is bounded by the line limit, depth by jansson's own nesting
	 * limit; the API server never writes duplicate keys. */
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
	type = json_object_get(root, "type");
	obj = json_object_get(root, "object");
	if (!json_is_object(root) || !json_is_string(type) || !json_is_object(obj))
		goto out;
	for (unsigned t = 0; t <= KUBE_EVENT_ERROR; t++) {
		if (strcmp(json_string_value(type), event_names[t]) == 0) {
			ev->type = (enum kube_event_type)t;
			ev->object = json_incref(obj);
			r = 0;
			break;
		}
	}
out:
	json_decref(root);
	return r;
}
