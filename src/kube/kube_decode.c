/* kube_decode.c - informer decoders for pods and for bare metadata. */
#include "kube_decode.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "errlist.h"
#include "fpath.h"
#include "hash.h"
#include "jval.h"
#include "pod.h"
#include "rfc3339.h"
#include "xalloc.h"

/* ---- shared strings --------------------------------------------------------
 * Most strings of a cached pod are the same in every pod of its workload
 * (namespace, labels, images, service account, owner, node).  They are
 * kept once, reference-counted, in one pool for the process. */

struct istr {
	struct smap_node node;          /* node.key is s */
	uint32_t refs;
	char s[];
};

static struct {
	pthread_mutex_t mu;
	struct smap map;
} pool = { PTHREAD_MUTEX_INITIALIZER, { NULL, 0, 0 } };

/* A pooled copy of @s with one more reference; NULL for NULL, and on
 * allocation failure (*oom set). */
static const char *istr_get(const char *s, bool *oom)
{
	struct smap_node *n;
	struct istr *e;
	size_t len;

	if (!s)
		return NULL;
	pthread_mutex_lock(&pool.mu);
	if ((n = smap_get(&pool.map, s))) {
		e = smap_entry(n, struct istr, node);
		e->refs++;
		pthread_mutex_unlock(&pool.mu);
		return e->s;
	}
	len = strlen(s);
	e = pg_malloc(sizeof(*e) + len + 1);
	if (!e)
		goto fail;
	e->refs = 1;
	memcpy(e->s, s, len + 1);
	e->node.key = e->s;
	if (smap_put(&pool.map, &e->node) < 0) {
		pg_free(e);
		goto fail;
	}
	pthread_mutex_unlock(&pool.mu);
	return e->s;
fail:
	pthread_mutex_unlock(&pool.mu);
	*oom = true;
	return NULL;
}

/* Drops a reference taken by istr_get(); NULL-safe. */
static void istr_put(const char *s)
{
	struct istr *e;

	if (!s)
		return;
	e = (struct istr *)(uintptr_t)(s - offsetof(struct istr, s));
	pthread_mutex_lock(&pool.mu);
	if (--e->refs == 0) {
		smap_remove(&pool.map, &e->node);
		pg_free(e);
	}
	pthread_mutex_unlock(&pool.mu);
}

size_t kube_decode_shared_strings(void)
{
	size_t n;

	pthread_mutex_lock(&pool.mu);
	n = pool.map.n;
	pthread_mutex_unlock(&pool.mu);
	return n;
}

/* ---- pods -----------------------------------------------------------------
 * pod_from_jval() builds a pod for one-off judgement: a 512-byte-chunk
 * arena, arrays sized for the worst case.  A pod that stays in a cache for
 * its life is copied once into an exact-size block, with its shared
 * strings pooled: about a third of the memory. */

/* Every field of struct pod and of the structs it points to is handled in
 * pod_compact() and pod_release().  Scalars come along with the struct
 * copy; a new pointer field changes these sizes and must be added there. */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct pod) == 280 && sizeof(struct container) == 40 &&
	       sizeof(struct secret_use) == 16 && sizeof(struct host_path) == 16 &&
	       sizeof(struct token_source) == 16 && sizeof(struct labels) == 24,
	       "struct pod changed: handle the new fields in pod_compact() and pod_release() "
	       "(src/kube/kube_decode.c)");
#endif

/* Carves exact-size pieces out of one block. */
struct carve {
	char *p;
	size_t used, size;
};

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static void *carve(struct carve *c, size_t n)
{
	void *r;

	if (n == 0)
		return NULL;
	n = align8(n);
	r = c->p + c->used;
	c->used += n;
	return r;
}

static const char *carve_str(struct carve *c, const char *s)
{
	size_t n;
	char *r;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	r = c->p + c->used;
	memcpy(r, s, n);
	c->used += n;
	return r;
}

static size_t strsz(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Pointer arrays keep a NULL after the last entry, as pod_from_jval's. */
static size_t ptrs(size_t n)
{
	return n ? align8((n + 1) * sizeof(char *)) : 0;
}

static size_t compact_size(const struct pod *p)
{
	size_t n = 0;

	n += align8(p->ncontainers * sizeof(*p->containers));
	for (uint16_t i = 0; i < p->ncontainers; i++)
		n += ptrs(p->containers[i].ncaps);
	n += align8(p->ntokens * sizeof(*p->tokens));
	n += align8(p->nsecrets * sizeof(*p->secrets));
	n += align8(p->nhost_paths * sizeof(*p->host_paths));
	n += 2 * ptrs(p->labels.n);
	n += ptrs(p->nips);
	n += ptrs(p->nhost_ips);
	n += 2 * ptrs(p->ncontainer_ids);
	/* The strings no other pod has, packed at the end. */
	n += strsz(p->name) + strsz(p->uid);
	for (uint8_t i = 0; i < p->nips; i++)
		n += strsz(p->ips[i]);
	for (uint16_t i = 0; i < p->ncontainer_ids; i++)
		n += strsz(p->container_ids[i]);
	return n;
}

static void pod_release(struct pod *p)
{
	istr_put(p->namespace);
	for (size_t i = 0; i < p->labels.n; i++) {
		istr_put(p->labels.keys[i]);
		istr_put(p->labels.values[i]);
	}
	istr_put(p->service_account);
	for (uint16_t i = 0; i < p->ncontainers; i++) {
		istr_put(p->containers[i].name);
		istr_put(p->containers[i].image);
		for (uint16_t j = 0; j < p->containers[i].ncaps; j++)
			istr_put(p->containers[i].caps_add[j]);
	}
	for (uint16_t i = 0; i < p->nsecrets; i++)
		istr_put(p->secrets[i].secret);
	for (uint16_t i = 0; i < p->nhost_paths; i++)
		istr_put(p->host_paths[i].path);
	istr_put(p->node_name);
	for (uint8_t i = 0; i < p->nhost_ips; i++)
		istr_put(p->host_ips[i]);
	istr_put(p->owner_kind);
	istr_put(p->owner_name);
	istr_put(p->owner_uid);
	for (uint16_t i = 0; i < p->ncontainer_ids; i++)
		istr_put(p->container_names[i]);
}

/* A copy of @src in one exact block plus pooled strings.  Every array is
 * carved before any string is pooled, so a failure part-way can release
 * what it has with pod_release(). */
static int pod_compact(const struct pod *src, struct pod **ret)
{
	size_t size = compact_size(src);
	struct carve c = { NULL, 0, size };
	struct pod *p;
	bool oom = false;

	p = pg_malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	*p = *src;
	p->arena = arena_new(size);
	c.p = p->arena && size ? arena_alloc(p->arena, size) : NULL;
	if (!p->arena || (size && !c.p)) {
		arena_free(p->arena);
		pg_free(p);
		return -ENOMEM;
	}
	p->containers = carve(&c, src->ncontainers * sizeof(*p->containers));
	p->tokens = carve(&c, src->ntokens * sizeof(*p->tokens));
	p->secrets = carve(&c, src->nsecrets * sizeof(*p->secrets));
	p->host_paths = carve(&c, src->nhost_paths * sizeof(*p->host_paths));
	if (src->ncontainers)
		memcpy(p->containers, src->containers, src->ncontainers * sizeof(*p->containers));
	if (src->ntokens)
		memcpy(p->tokens, src->tokens, src->ntokens * sizeof(*p->tokens));
	if (src->nsecrets)
		memcpy(p->secrets, src->secrets, src->nsecrets * sizeof(*p->secrets));
	if (src->nhost_paths)
		memcpy(p->host_paths, src->host_paths, src->nhost_paths * sizeof(*p->host_paths));
	/* Every pooled slot is cleared before the first is filled. */
	p->namespace = p->service_account = p->node_name = NULL;
	p->owner_kind = p->owner_name = p->owner_uid = NULL;
	for (uint16_t i = 0; i < p->ncontainers; i++) {
		p->containers[i].name = p->containers[i].image = NULL;
		p->containers[i].caps_add = carve(&c, src->containers[i].ncaps ?
						  (src->containers[i].ncaps + 1U) * sizeof(char *) : 0);
	}
	for (uint16_t i = 0; i < p->nsecrets; i++)
		p->secrets[i].secret = NULL;
	for (uint16_t i = 0; i < p->nhost_paths; i++)
		p->host_paths[i].path = NULL;
	p->labels.keys = carve(&c, src->labels.n ? (src->labels.n + 1) * sizeof(char *) : 0);
	p->labels.values = carve(&c, src->labels.n ? (src->labels.n + 1) * sizeof(char *) : 0);
	p->ips = carve(&c, src->nips ? (src->nips + 1U) * sizeof(char *) : 0);
	/* A node's addresses are every pod's of that node: pooled. */
	p->host_ips = carve(&c, src->nhost_ips ? (src->nhost_ips + 1U) * sizeof(char *) : 0);
	for (uint8_t i = 0; i < src->nhost_ips; i++)
		p->host_ips[i] = NULL;
	p->container_ids = carve(&c, src->ncontainer_ids ?
				 (src->ncontainer_ids + 1U) * sizeof(char *) : 0);
	p->container_names = NULL;
	if (src->ncontainer_ids)
		p->container_names = carve(&c, (src->ncontainer_ids + 1U) * sizeof(char *));

	/* Unique strings go in the block... */
	p->name = carve_str(&c, src->name);
	p->uid = carve_str(&c, src->uid);
	for (uint8_t i = 0; i < src->nips; i++)
		p->ips[i] = carve_str(&c, src->ips[i]);
	for (uint16_t i = 0; i < src->ncontainer_ids; i++)
		p->container_ids[i] = carve_str(&c, src->container_ids[i]);
	/* ...shared ones in the pool. */
	p->namespace = istr_get(src->namespace, &oom);
	for (size_t i = 0; i < src->labels.n; i++) {
		p->labels.keys[i] = istr_get(src->labels.keys[i], &oom);
		p->labels.values[i] = istr_get(src->labels.values[i], &oom);
	}
	p->service_account = istr_get(src->service_account, &oom);
	for (uint8_t i = 0; i < src->nhost_ips; i++)
		p->host_ips[i] = istr_get(src->host_ips[i], &oom);
	for (uint16_t i = 0; i < src->ncontainers; i++) {
		struct container *ct = &p->containers[i];
		const struct container *sc = &src->containers[i];

		ct->name = istr_get(sc->name, &oom);
		ct->image = istr_get(sc->image, &oom);
		for (uint16_t j = 0; j < sc->ncaps; j++)
			ct->caps_add[j] = istr_get(sc->caps_add[j], &oom);
	}
	for (uint16_t i = 0; i < src->nsecrets; i++)
		p->secrets[i].secret = istr_get(src->secrets[i].secret, &oom);
	for (uint16_t i = 0; i < src->nhost_paths; i++)
		p->host_paths[i].path = istr_get(src->host_paths[i].path, &oom);
	p->node_name = istr_get(src->node_name, &oom);
	p->owner_kind = istr_get(src->owner_kind, &oom);
	p->owner_name = istr_get(src->owner_name, &oom);
	p->owner_uid = istr_get(src->owner_uid, &oom);
	for (uint16_t i = 0; i < src->ncontainer_ids; i++)
		p->container_names[i] = istr_get(src->container_names[i], &oom);
	if (oom || c.used != size) {
		pod_release(p);
		pod_free(p);
		return -ENOMEM;
	}
	*ret = p;
	return 0;
}

/* The compact copy of @p (which it frees) into *ret_pod; @r is what
 * building @p returned. */
static int compacted(int r, struct pod *p, void **ret_pod)
{
	struct pod *compact = NULL;

	if (r < 0)
		return r;
	r = pod_compact(p, &compact);
	pod_free(p);
	if (r < 0)
		return r;
	*ret_pod = compact;
	return 0;
}

static void tell_refused(void *ud, const char *ns, const char *name, const struct errlist *errs)
{
	const struct kube_pod_refused *t = ud;

	if (t && t->fn)
		t->fn(t->ud, ns ? ns : "", name ? name : "", errs->n ? errs->msgs[0] : "refused");
}

int kube_decode_pod(void *ud, const struct jval *obj, void **ret_pod)
{
	const struct jval *meta = jval_get(obj, "metadata");
	struct errlist errs;
	struct pod *p = NULL;
	int r;

	errlist_init(&errs, 1);
	r = pod_from_jval_kind(obj, WK_POD, "default", &errs, &p);
	if (r == -EINVAL)
		tell_refused(ud, jval_str(jval_get(meta, "namespace")), jval_str(jval_get(meta, "name")),
			     &errs);
	errlist_free(&errs);
	return compacted(r, p, ret_pod);
}

void kube_free_pod(void *ud, void *pod)
{
	if (!pod)
		return;
	pod_release(pod);
	pod_free(pod);
}

/* Annotations as strings, without kubectl's copy of the whole object:
 * the cache is for facts, not for last-applied-configuration. */
static int copy_annotations(struct kube_meta *m, const struct jval *obj)
{
	size_t n = 0, max = jval_size(obj);

	if (!jval_is_object(obj) || max == 0)
		return 0;
	m->annotations.keys = arena_alloc(m->arena, max * sizeof(char *));
	m->annotations.values = arena_alloc(m->arena, max * sizeof(char *));
	if (!m->annotations.keys || !m->annotations.values)
		return -ENOMEM;
	jval_foreach_member(obj, mem) {
		/* A value holding U+0000 is not a string here (jval_str()). */
		if (!jval_is_string(&mem->val) ||
		    strcmp(mem->key, "kubectl.kubernetes.io/last-applied-configuration") == 0)
			continue;
		m->annotations.keys[n] = arena_strdup(m->arena, mem->key);
		m->annotations.values[n] = arena_strdup(m->arena, jval_str(&mem->val));
		if (!m->annotations.keys[n] || !m->annotations.values[n])
			return -ENOMEM;
		n++;
	}
	m->annotations.n = n;
	return 0;
}

static int copy_owner(struct kube_meta *m, const struct jval *owners)
{
	const struct jval *ref;
	size_t i;

	jval_foreach_item(owners, i, ref) {
		const char *kind = jval_str(jval_get(ref, "kind"));
		const char *name = jval_str(jval_get(ref, "name"));
		const char *uid = jval_str(jval_get(ref, "uid"));

		if (!jval_is_true(jval_get(ref, "controller")) || !kind || !name)
			continue;
		m->owner_kind = arena_strdup(m->arena, kind);
		m->owner_name = arena_strdup(m->arena, name);
		m->owner_uid = arena_strdup(m->arena, uid ? uid : "");
		if (!m->owner_kind || !m->owner_name || !m->owner_uid)
			return -ENOMEM;
		break;
	}
	return 0;
}

int kube_decode_meta(void *ud, const struct jval *obj, void **ret_meta)
{
	const struct jval *meta = jval_get(obj, "metadata");
	const char *created = jval_str(jval_get(meta, "creationTimestamp"));
	struct kube_meta *m;
	struct errlist errs;
	struct fpath fp;
	int r;

	if (!jval_is_object(meta))
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
	r = labels_from_jval(jval_get(meta, "labels"), m->arena, &fp, &errs, &m->labels);
	errlist_free(&errs);
	if (r == 0)
		r = copy_annotations(m, jval_get(meta, "annotations"));
	if (r == 0)
		r = copy_owner(m, jval_get(meta, "ownerReferences"));
	m->created = -1;
	if (r == 0 && created && rfc3339_parse(created, &m->created, NULL) < 0)
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
