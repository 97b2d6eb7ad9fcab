/* kube_decode.c - informer decoders for pods and for bare metadata. */
#include "kube_decode.h"

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "errlist.h"
#include "fpath.h"
#include "kube_util.h"
#include "pod.h"
#include "xalloc.h"

int kube_decode_pod(void *ud, json_t *obj, void **ret_pod)
{
	struct errlist errs;
	struct pod *p = NULL;
	int r;

	/* The messages are not wanted here: keep one, to stay cheap. */
	errlist_init(&errs, 1);
	r = pod_from_object(obj, "default", &errs, &p);
	errlist_free(&errs);
	if (r < 0)
		return r;
	*ret_pod = p;
	return 0;
}

void kube_free_pod(void *ud, void *pod)
{
	pod_free(pod);
}

/* Annotations as strings, without kubectl's copy of the whole object:
 * the cache is for facts, not for last-applied-configuration. */
static int copy_annotations(struct kube_meta *m, json_t *obj)
{
	const char *k;
	size_t n = 0, max = json_object_size(obj);
	json_t *v;

	if (!json_is_object(obj) || max == 0)
		return 0;
	m->annotations.keys = arena_alloc(m->arena, max * sizeof(char *));
	m->annotations.values = arena_alloc(m->arena, max * sizeof(char *));
	if (!m->annotations.keys || !m->annotations.values)
		return -ENOMEM;
	json_object_foreach(obj, k, v) {
		if (!json_is_string(v) ||
		    strcmp(k, "kubectl.kubernetes.io/last-applied-configuration") == 0)
			continue;
		m->annotations.keys[n] = arena_strdup(m->arena, k);
		m->annotations.values[n] = arena_strdup(m->arena, json_string_value(v));
		if (!m->annotations.keys[n] || !m->annotations.values[n])
			return -ENOMEM;
		n++;
	}
	m->annotations.n = n;
	return 0;
}

static int copy_owner(struct kube_meta *m, json_t *owners)
{
	json_t *ref;
	size_t i;

	json_array_foreach(owners, i, ref) {
		json_t *kind = json_object_get(ref, "kind");
		json_t *name = json_object_get(ref, "name");
		json_t *uid = json_object_get(ref, "uid");

		if (!json_is_true(json_object_get(ref, "controller")) ||
		    !json_is_string(kind) || !json_is_string(name))
			continue;
		m->owner_kind = arena_strdup(m->arena, json_string_value(kind));
		m->owner_name = arena_strdup(m->arena, json_string_value(name));
		m->owner_uid = arena_strdup(m->arena, json_is_string(uid) ?
					    json_string_value(uid) : "");
		if (!m->owner_kind || !m->owner_name || !m->owner_uid)
			return -ENOMEM;
		break;
	}
	return 0;
}

int kube_decode_meta(void *ud, json_t *obj, void **ret_meta)
{
	json_t *meta = json_object_get(obj, "metadata");
	json_t *created = json_object_get(meta, "creationTimestamp");
	struct kube_meta *m;
	struct errlist errs;
	struct fpath fp;
	int r;

	if (!json_is_object(meta))
		return -EINVAL;
	m = pg_calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->arena = arena_new(256);
	if (!m->arena) {
		pg_free(m);
		return -ENOMEM;
	}
	errlist_init(&errs, 1);
	fpath_init(&fp, "metadata.labels");
	r = labels_from_json(json_object_get(meta, "labels"), m->arena, &fp, &errs, &m->labels);
	errlist_free(&errs);
	if (r == 0)
		r = copy_annotations(m, json_object_get(meta, "annotations"));
	if (r == 0)
		r = copy_owner(m, json_object_get(meta, "ownerReferences"));
	m->created = -1;
	if (r == 0 && json_is_string(created) &&
	    kube_time_parse(json_string_value(created), &m->created) < 0)
		m->created = -1;
	if (r < 0) {
		kube_free_meta(NULL, m);
		return r;
	}
	*ret_meta = m;
	return 0;
}

void kube_free_meta(void *ud, void *meta)
{
	struct kube_meta *m = meta;

	if (!m)
		return;
	arena_free(m->arena);
	pg_free(m);
}
