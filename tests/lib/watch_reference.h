/* watch_reference.h - a watch event line read by jansson, the reference
 * the informer's reader (kube_watch_event_parse) is held to by the
 * unit test and the differential fuzzer.  The informer itself reads every
 * line with jval only. */
#ifndef PG_WATCH_REFERENCE_H
#define PG_WATCH_REFERENCE_H

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "kube_watch.h"

struct ref_watch_event {
	enum kube_event_type type;
	json_t *object;         /* new reference: the object, or the Status of ERROR */
};

/* -EINVAL for anything that is not an object with a known "type" and an
 * object "object"; -ENOMEM.  @ev is untouched on failure; on success the
 * caller owns ev->object (json_decref). */
static inline int ref_watch_event_parse(const char *line, size_t len, struct ref_watch_event *ev)
{
	json_error_t jerr;
	json_t *root, *type, *obj;
	int r = -EINVAL;

	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
	type = json_object_get(root, "type");
	obj = json_object_get(root, "object");
	if (!json_is_object(root) || !json_is_string(type) || !json_is_object(obj))
		goto out;
	for (unsigned t = 0; t <= KUBE_EVENT_ERROR; t++) {
		if (strcmp(json_string_value(type), kube_event_type_name((enum kube_event_type)t)) == 0) {
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

#endif
