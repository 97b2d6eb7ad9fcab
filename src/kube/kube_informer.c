/* kube_informer.c - list, watch, relist on 410, and a reference-counted
 * cache of decoded objects keyed by namespace/name.
 *
 * One thread per informer is the only writer of its cache, so it may read
 * the cache without the lock; readers on other threads take the read lock.
 * Handlers are called after the write lock is dropped. */
#include "kube_informer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "hash.h"
#include "jval.h"
#include "kube_retry.h"
#include "kube_watch.h"
#include "ticker.h"
#include "xalloc.h"

#define ACCEPT_META_LIST "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1," \
			 "application/json"
#define ACCEPT_META "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1," \
		    "application/json"
#define RV_MAX 1024
/* Deeper than any object the API server stores (it nests 64 at most). */
#define LIST_MAX_DEPTH 128
/* Times a list starts over after an expired continue token. */
#define LIST_RESTARTS 3

struct kube_object {
	atomic_uint refs;
	uint32_t hash;
	void *data;
	kube_free_fn free_data;
	void *free_ud;
	uint16_t name_off, uid_off, rv_off;
	char str[];             /* "ns\0name\0uid\0rv\0" */
};

const char *kube_object_namespace(const struct kube_object *o) { return o->str; }
const char *kube_object_name(const struct kube_object *o) { return o->str + o->name_off; }
const char *kube_object_uid(const struct kube_object *o) { return o->str + o->uid_off; }
const char *kube_object_resource_version(const struct kube_object *o)
{
	return o->str + o->rv_off;
}
const void *kube_object_data(const struct kube_object *o) { return o->data; }

struct kube_object *kube_object_ref(struct kube_object *o)
{
	atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
	return o;
}

struct kube_object *kube_object_unref(struct kube_object *o)
{
	if (!o || atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	if (o->free_data && o->data)
		o->free_data(o->free_ud, o->data);
	pg_free(o);
	return NULL;
}

void kube_objects_release(struct kube_object **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kube_object_unref(v[i]);
	pg_free(v);
}

static uint32_t key_hash(const char *ns, const char *name)
{
	uint32_t h = hash_fnv1a32_str(HASH_FNV32_BASIS, ns);

	h = hash_fnv1a32(h, "/", 1);
	return hash_fnv1a32_str(h, name);
}

static bool key_eq(const struct kube_object *o, uint32_t hash, const char *ns, const char *name)
{
	return o->hash == hash && strcmp(o->str, ns) == 0 &&
	       strcmp(o->str + o->name_off, name) == 0;
}

/* ---- the table: open addressing, so one object can sit in two tables
 * while a relist compares the old cache with the new list (base's smap
 * embeds one node in its entry, so an entry is in one table at a time). */

struct ktable {
	struct kube_object **slots;
	size_t cap;             /* a power of two, or 0 */
	size_t n;
};

static void ktable_free(struct ktable *t)
{
	for (size_t i = 0; i < t->cap; i++)
		kube_object_unref(t->slots[i]);
	pg_free(t->slots);
	t->slots = NULL;
	t->cap = t->n = 0;
}

static size_t ktable_slot(const struct ktable *t, uint32_t hash, const char *ns,
			  const char *name, bool *found)
{
	size_t mask = t->cap - 1, i = hash & mask;

	for (;; i = (i + 1) & mask) {
		struct kube_object *o = t->slots[i];

		if (!o) {
			*found = false;
			return i;
		}
		if (key_eq(o, hash, ns, name)) {
			*found = true;
			return i;
		}
	}
}

static struct kube_object *ktable_get(const struct ktable *t, const char *ns, const char *name)
{
	bool found;
	size_t i;

	if (!t->n)
		return NULL;
	i = ktable_slot(t, key_hash(ns, name), ns, name, &found);
	return found ? t->slots[i] : NULL;
}

static int ktable_grow(struct ktable *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct kube_object **ns = pg_calloc(ncap, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		struct kube_object *o = t->slots[i];
		size_t j;

		if (!o)
			continue;
		for (j = o->hash & (ncap - 1); ns[j]; j = (j + 1) & (ncap - 1))
			;
		ns[j] = o;
	}
	pg_free(t->slots);
	t->slots = ns;
	t->cap = ncap;
	return 0;
}

/* Takes the caller's reference to @o; the replaced entry's reference goes
 * to *ret_old (NULL when the key was new). */
static int ktable_put(struct ktable *t, struct kube_object *o, struct kube_object **ret_old)
{
	const char *name = o->str + o->name_off;
	bool found;
	size_t i;

	*ret_old = NULL;
	if ((t->n + 1) * 4 > t->cap * 3 && ktable_grow(t) < 0)
		return -ENOMEM;
	i = ktable_slot(t, o->hash, o->str, name, &found);
	if (found)
		*ret_old = t->slots[i];
	else
		t->n++;
	t->slots[i] = o;
	return 0;
}

/* Removes the entry and hands its reference to the caller. */
static struct kube_object *ktable_remove(struct ktable *t, const char *ns, const char *name)
{
	struct kube_object *o;
	size_t mask = t->cap - 1, i, j;
	bool found;

	if (!t->n)
		return NULL;
	i = ktable_slot(t, key_hash(ns, name), ns, name, &found);
	if (!found)
		return NULL;
	o = t->slots[i];
	t->slots[i] = NULL;
	t->n--;
	/* Backward-shift deletion keeps every probe chain unbroken. */
	for (j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
		size_t home = t->slots[j]->hash & mask;

		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
	return o;
}

/* ---- the informer ------------------------------------------------------- */

struct kube_informer {
	struct kube_client *client;
	struct kube_informer_opts o;
	char *name, *namespace, *label_selector, *field_selector;
	char *path;                     /* the collection's path */
	/* What list items lack (fill_kind): strings in av_text and static. */
	struct jval kind, api_version;
	char *av_text;

	pthread_rwlock_t lock;          /* guards cache for readers */
	struct ktable cache;

	pthread_mutex_t mu;             /* guards rv; with cond, the sleeps */
	pthread_cond_t cond;
	struct buf rv;
	atomic_bool stop;
	atomic_bool synced;             /* the first list is in, its changes delivered */
	bool announced;                 /* ...and on_synced returned (guarded by mu) */
	bool running;
	pthread_t thread;

	/* The watch being read: its splitter and what it asks for next. */
	struct kube_lines lines;
	int watch_action;
	int watch_err;
	uint64_t watch_events;          /* events and bookmarks in this watch */

	_Atomic uint64_t n_lists, n_relists, n_pages, n_list_restarts, n_watches,
		n_watch_restarts, n_gone, n_events, n_bookmarks, n_decode_errors, n_errors;
};

enum { WATCH_GO_ON, WATCH_RELIST, WATCH_RESTART };
enum change { CH_ADD, CH_UPDATE, CH_DELETE };

static char *dup_opt(const char *s, bool *oom)
{
	char *r;

	if (!s)
		return NULL;
	r = pg_strdup(s);
	if (!r)
		*oom = true;
	return r;
}

int kube_informer_new(struct kube_client *c, const struct kube_informer_opts *o,
		      struct kube_informer **ret_informer)
{
	struct kube_informer *inf;
	struct buf path = BUF_INIT(8192);
	pthread_condattr_t ca;
	bool oom = false;

	if (!o->resource || !o->decode)
		return -EINVAL;
	inf = pg_calloc(1, sizeof(*inf));
	if (!inf)
		return -ENOMEM;
	inf->client = c;
	inf->o = *o;
	if (!inf->o.page_size)
		inf->o.page_size = 500;
	if (!inf->o.watch_min_s && !inf->o.watch_max_s) {
		inf->o.watch_min_s = 300;
		inf->o.watch_max_s = 600;
	}
	if (inf->o.watch_max_s < inf->o.watch_min_s)
		inf->o.watch_max_s = inf->o.watch_min_s;
	if (!inf->o.max_line)
		inf->o.max_line = KUBE_WATCH_MAX_LINE;
	if (!inf->o.max_objects)
		inf->o.max_objects = 4000000;
	if (inf->o.backoff_base_ms <= 0)
		inf->o.backoff_base_ms = 500;
	if (inf->o.backoff_cap_ms <= 0)
		inf->o.backoff_cap_ms = 30000;
	inf->name = dup_opt(o->name ? o->name : o->resource->plural, &oom);
	inf->namespace = dup_opt(o->namespace && *o->namespace ? o->namespace : NULL, &oom);
	inf->label_selector = dup_opt(o->label_selector, &oom);
	inf->field_selector = dup_opt(o->field_selector, &oom);
	inf->o.name = inf->name;
	inf->o.namespace = inf->namespace;
	inf->o.label_selector = inf->label_selector;
	inf->o.field_selector = inf->field_selector;
	if (!oom && kube_path(&path, o->resource, inf->namespace, NULL, NULL) == 0)
		inf->path = buf_steal(&path);
	buf_reset(&path);
	if (inf->o.metadata_only)
		inf->av_text = dup_opt("meta.k8s.io/v1", &oom);
	else if (!oom && kube_api_version(&path, o->resource) == 0)
		inf->av_text = buf_steal(&path);
	buf_free(&path);
	inf->kind = (struct jval){ .type = JV_STRING, .u.s = inf->o.metadata_only ? "PartialObjectMetadata"
										 : o->resource->kind };
	inf->kind.n = (uint32_t)strlen(inf->kind.u.s);
	inf->api_version = (struct jval){ .type = JV_STRING, .u.s = inf->av_text ? inf->av_text : "" };
	inf->api_version.n = (uint32_t)strlen(inf->api_version.u.s);
	buf_init(&inf->rv, RV_MAX);
	kube_lines_init(&inf->lines, inf->o.max_line);
	pthread_rwlock_init(&inf->lock, NULL);
	pthread_mutex_init(&inf->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&inf->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (oom || !inf->path || !inf->av_text) {
		kube_informer_free(inf);
		return -ENOMEM;
	}
	*ret_informer = inf;
	return 0;
}

struct kube_informer *kube_informer_free(struct kube_informer *inf)
{
	if (!inf)
		return NULL;
	kube_informer_stop(inf);
	ktable_free(&inf->cache);
	kube_lines_free(&inf->lines);
	buf_free(&inf->rv);
	pthread_rwlock_destroy(&inf->lock);
	pthread_mutex_destroy(&inf->mu);
	pthread_cond_destroy(&inf->cond);
	pg_free(inf->name);
	pg_free(inf->namespace);
	pg_free(inf->label_selector);
	pg_free(inf->field_selector);
	pg_free(inf->path);
	pg_free(inf->av_text);
	pg_free(inf);
	return NULL;
}

const char *kube_informer_name(const struct kube_informer *inf)
{
	return inf->name;
}

bool kube_informer_has_synced(const struct kube_informer *inf)
{
	return atomic_load(&inf->synced);
}

int kube_informer_wait_synced(struct kube_informer *inf, long timeout_ms)
{
	struct timespec dl;
	int r = 0;

	ticker_deadline(timeout_ms, &dl);
	pthread_mutex_lock(&inf->mu);
	while (!inf->announced && !atomic_load(&inf->stop) && r == 0)
		r = pthread_cond_timedwait(&inf->cond, &inf->mu, &dl);
	r = inf->announced ? 0 : atomic_load(&inf->stop) ? -ECANCELED : -ETIMEDOUT;
	pthread_mutex_unlock(&inf->mu);
	return r;
}

/* Sleeps unless stopped first; -ECANCELED when stopped. */
static int pause_ms(struct kube_informer *inf, int64_t ms)
{
	struct timespec dl;

	ticker_deadline(ms, &dl);
	pthread_mutex_lock(&inf->mu);
	while (!atomic_load(&inf->stop) &&
	       pthread_cond_timedwait(&inf->cond, &inf->mu, &dl) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&inf->mu);
	return atomic_load(&inf->stop) ? -ECANCELED : 0;
}

struct kube_object *kube_informer_get(struct kube_informer *inf, const char *ns,
				      const char *name)
{
	struct kube_object *o;

	pthread_rwlock_rdlock(&inf->lock);
	o = ktable_get(&inf->cache, ns ? ns : "", name);
	if (o)
		kube_object_ref(o);
	pthread_rwlock_unlock(&inf->lock);
	return o;
}

size_t kube_informer_count(struct kube_informer *inf)
{
	size_t n;

	pthread_rwlock_rdlock(&inf->lock);
	n = inf->cache.n;
	pthread_rwlock_unlock(&inf->lock);
	return n;
}

int kube_informer_foreach(struct kube_informer *inf,
			  int (*fn)(void *ud, struct kube_object *o), void *ud)
{
	int r = 0;

	pthread_rwlock_rdlock(&inf->lock);
	for (size_t i = 0; i < inf->cache.cap && r >= 0; i++)
		if (inf->cache.slots[i])
			r = fn(ud, inf->cache.slots[i]);
	pthread_rwlock_unlock(&inf->lock);
	return r < 0 ? r : 0;
}

int kube_informer_snapshot(struct kube_informer *inf, struct kube_object ***ret_v,
			   size_t *ret_n)
{
	struct kube_object **v;
	size_t n = 0;

	pthread_rwlock_rdlock(&inf->lock);
	v = pg_calloc(inf->cache.n ? inf->cache.n : 1, sizeof(*v));
	if (v)
		for (size_t i = 0; i < inf->cache.cap; i++)
			if (inf->cache.slots[i])
				v[n++] = kube_object_ref(inf->cache.slots[i]);
	pthread_rwlock_unlock(&inf->lock);
	if (!v)
		return -ENOMEM;
	*ret_v = v;
	*ret_n = n;
	return 0;
}

void kube_informer_stats(struct kube_informer *inf, struct kube_informer_stats *ret)
{
	ret->lists = atomic_load(&inf->n_lists);
	ret->relists = atomic_load(&inf->n_relists);
	ret->list_pages = atomic_load(&inf->n_pages);
	ret->list_restarts = atomic_load(&inf->n_list_restarts);
	ret->watches = atomic_load(&inf->n_watches);
	ret->watch_restarts = atomic_load(&inf->n_watch_restarts);
	ret->watch_gone = atomic_load(&inf->n_gone);
	ret->events = atomic_load(&inf->n_events);
	ret->bookmarks = atomic_load(&inf->n_bookmarks);
	ret->decode_errors = atomic_load(&inf->n_decode_errors);
	ret->errors = atomic_load(&inf->n_errors);
}

void kube_informer_resource_version(struct kube_informer *inf, char *out, size_t n)
{
	pthread_mutex_lock(&inf->mu);
	snprintf(out, n, "%s", buf_str(&inf->rv));
	pthread_mutex_unlock(&inf->mu);
}

static int set_rv(struct kube_informer *inf, const char *rv)
{
	int r;

	pthread_mutex_lock(&inf->mu);
	buf_reset(&inf->rv);
	r = buf_adds(&inf->rv, rv);
	pthread_mutex_unlock(&inf->mu);
	return r;
}

/* ---- objects from the tree ------------------------------------------------ */

/* A metadata string, "" when absent, not a string, or holding a NUL
 * (which would cut the key short). */
static const char *meta_str(const struct jval *meta, const char *key)
{
	const char *s = jval_str(jval_get(meta, key));

	return s ? s : "";
}

/* List items come without kind and apiVersion; decoders want them.  The
 * item's top level is copied into @a (its own arena) with kind appended
 * and apiVersion set (in place when present), as jansson's set would. */
static int fill_kind(struct kube_informer *inf, struct arena *a, const struct jval **obj)
{
	const struct jval *src = *obj;
	size_t n = jval_size(src), k = n;
	struct jmember *m;
	struct jval *o;

	if (!jval_is_object(src) || jval_get(src, "kind"))
		return 0;
	o = arena_alloc(a, sizeof(*o));
	m = arena_alloc(a, (n + 2) * sizeof(*m));
	if (!o || !m)
		return -ENOMEM;
	if (n)
		memcpy(m, src->u.members, n * sizeof(*m));
	m[k].key = "kind";
	m[k++].val = inf->kind;
	for (size_t i = 0; i <= n; i++) {
		if (i == n) {
			m[k].key = "apiVersion";
			m[k++].val = inf->api_version;
		} else if (strcmp(m[i].key, "apiVersion") == 0) {
			m[i].val = inf->api_version;
			break;
		}
	}
	*o = *src;
	o->u.members = m;
	o->n = (uint32_t)k;
	*obj = o;
	return 0;
}

/* A new entry with one reference for @obj (its tree in @a), its value
 * from the decoder.  -EINVAL (counted) for an object without a name or
 * one the decoder refuses; -ENOMEM. */
static int object_new(struct kube_informer *inf, struct arena *a, const struct jval *obj,
		      struct kube_object **ret)
{
	const struct jval *meta = jval_get(obj, "metadata");
	const char *ns = meta_str(meta, "namespace"), *name = meta_str(meta, "name");
	const char *uid = meta_str(meta, "uid"), *rv = meta_str(meta, "resourceVersion");
	size_t lns = strlen(ns), lname = strlen(name), luid = strlen(uid), lrv = strlen(rv);
	size_t total = lns + lname + luid + lrv + 4;
	struct kube_object *o;
	void *data = NULL;
	int r;

	if (!*name || total > UINT16_MAX) {
		atomic_fetch_add(&inf->n_decode_errors, 1);
		return -EINVAL;
	}
	if (!inf->o.resource->namespaced)
		ns = "", lns = 0, total = lname + luid + lrv + 4;
	r = fill_kind(inf, a, &obj);
	if (r == 0)
		r = inf->o.decode(inf->o.decode_ud, obj, &data);
	if (r < 0) {
		if (r != -ENOMEM) {
			atomic_fetch_add(&inf->n_decode_errors, 1);
			r = -EINVAL;
		}
		return r;
	}
	o = pg_malloc(sizeof(*o) + total);
	if (!o) {
		if (inf->o.free_data && data)
			inf->o.free_data(inf->o.decode_ud, data);
		return -ENOMEM;
	}
	atomic_init(&o->refs, 1);
	o->data = data;
	o->free_data = inf->o.free_data;
	o->free_ud = inf->o.decode_ud;
	o->name_off = (uint16_t)(lns + 1);
	o->uid_off = (uint16_t)(o->name_off + lname + 1);
	o->rv_off = (uint16_t)(o->uid_off + luid + 1);
	memcpy(o->str, ns, lns + 1);
	memcpy(o->str + o->name_off, name, lname + 1);
	memcpy(o->str + o->uid_off, uid, luid + 1);
	memcpy(o->str + o->rv_off, rv, lrv + 1);
	o->hash = key_hash(o->str, o->str + o->name_off);
	*ret = o;
	return 0;
}

/* ---- handlers ------------------------------------------------------------- */

static void notify(struct kube_informer *inf, enum change ch, struct kube_object *old,
		   struct kube_object *cur)
{
	const struct kube_informer_handlers *h = &inf->o.handlers;

	switch (ch) {
	case CH_ADD:
		if (h->on_add)
			h->on_add(h->ud, cur);
		break;
	case CH_UPDATE:
		if (h->on_update)
			h->on_update(h->ud, old, cur);
		break;
	case CH_DELETE:
		if (h->on_delete)
			h->on_delete(h->ud, old);
		break;
	}
}

/* Delivers what replacing @old by @cur under one key means (either may be
 * NULL), then drops both references. */
static void notify_change(struct kube_informer *inf, struct kube_object *old,
			  struct kube_object *cur)
{
	if (old && cur && strcmp(kube_object_uid(old), kube_object_uid(cur)) != 0) {
		notify(inf, CH_DELETE, old, NULL);
		notify(inf, CH_ADD, NULL, cur);
	} else if (old && cur) {
		notify(inf, CH_UPDATE, old, cur);
	} else if (cur) {
		notify(inf, CH_ADD, NULL, cur);
	} else if (old) {
		notify(inf, CH_DELETE, old, NULL);
	}
	kube_object_unref(old);
	kube_object_unref(cur);
}

static void report(struct kube_informer *inf, int err, const struct kube_error *e)
{
	const struct kube_informer_handlers *h = &inf->o.handlers;

	atomic_fetch_add(&inf->n_errors, 1);
	if (h->on_error && !atomic_load(&inf->stop))
		h->on_error(h->ud, err, e);
}

/* ---- list ------------------------------------------------------------------- */

/* Decodes one list item into the table being built. */
struct page_ctx {
	struct kube_informer *inf;
	struct ktable *t;
};

static int put_item(struct page_ctx *pc, struct kube_object *o);

/* One item's bytes, parsed into a short-lived arena. */
static int add_item(void *ud, const char *item, size_t len)
{
	struct page_ctx *pc = ud;
	struct jval_limits lim = { LIST_MAX_DEPTH, 1u << 20 };
	struct arena *a = arena_new(len + 1024);
	const struct jval *v;
	struct kube_object *o;
	int r;

	if (!a)
		return -ENOMEM;
	r = jval_parse(item, len, &lim, a, &v, NULL);
	if (r == 0)
		r = object_new(pc->inf, a, v, &o);
	else if (r != -ENOMEM)
		atomic_fetch_add(&pc->inf->n_decode_errors, 1), r = -EINVAL;
	arena_free(a);
	if (r == -EINVAL)
		return 0;
	if (r < 0)
		return r;
	return put_item(pc, o);
}

static int put_item(struct page_ctx *pc, struct kube_object *o)
{
	struct kube_object *old;
	int r;

	if (pc->t->n >= pc->inf->o.max_objects) {
		kube_object_unref(o);
		return -E2BIG;
	}
	r = ktable_put(pc->t, o, &old);
	if (r < 0) {
		kube_object_unref(o);
		return r;
	}
	kube_object_unref(old);
	return 0;
}

/* A full, paged list into @t; *ret_rv is the list's resourceVersion. */
static int list_all(struct kube_informer *inf, struct ktable *t, struct buf *ret_rv,
		    struct kube_error *err)
{
	char limit[24];
	struct buf body = BUF_INIT(0);
	char *cont = NULL;
	unsigned restarts = 0;
	int r;

	snprintf(limit, sizeof(limit), "%u", inf->o.page_size);
	for (;;) {
		const struct kube_param q[] = {
			{ "limit", limit },
			{ "continue", cont },
			{ "labelSelector", inf->label_selector },
			{ "fieldSelector", inf->field_selector },
			{ NULL, NULL },
		};
		struct kube_request req = {
			.method = "GET", .path = inf->path, .query = q,
			.accept = inf->o.metadata_only ? ACCEPT_META_LIST : NULL,
			.retry = KUBE_RETRY_IDEMPOTENT, .cancel = &inf->stop,
		};
		struct page_ctx pc = { inf, t };
		const struct jval *meta = NULL;
		const char *next;
		struct arena *a = arena_new(4096);

		if (!a) {
			r = -ENOMEM;
			break;
		}
		buf_reset(&body);
		r = kube_client_do(inf->client, &req, &body, err);
		if (r == -ETIME && cont && restarts++ < LIST_RESTARTS) {
			/* The continue token expired (the snapshot it reads
			 * was compacted): the pages so far are worthless, and
			 * the fresh token the server offers would give an
			 * inconsistent list.  Past a few tries the list fails
			 * and the informer backs off. */
			atomic_fetch_add(&inf->n_list_restarts, 1);
			ktable_free(t);
			pg_free(cont);
			cont = NULL;
			arena_free(a);
			continue;
		}
		if (r < 0) {
			arena_free(a);
			break;
		}
		atomic_fetch_add(&inf->n_pages, 1);
		/* Item by item: a page costs one item's tree, not its own. */
		r = kube_list_parse(buf_str(&body), body.len, LIST_MAX_DEPTH, add_item, &pc, a, &meta);
		if (r == -EINVAL) {
			snprintf(err->reason, sizeof(err->reason), "BadResponse");
			snprintf(err->message, sizeof(err->message), "a list page is not a list");
			r = -EBADMSG;
		}
		if (r < 0) {
			arena_free(a);
			break;
		}
		buf_reset(ret_rv);
		r = buf_adds(ret_rv, meta_str(meta, "resourceVersion"));
		next = jval_str(jval_get(meta, "continue"));
		pg_free(cont);
		cont = NULL;
		if (r == 0 && next && *next) {
			cont = pg_strdup(next);
			if (!cont)
				r = -ENOMEM;
		}
		arena_free(a);
		if (r < 0 || !cont)
			break;
	}
	pg_free(cont);
	buf_free(&body);
	return r;
}

struct pending {
	struct kube_object *old, *cur;
};

struct pending_list {
	struct pending *v;
	size_t n, cap;
};

static int pending_add(struct pending_list *l, struct kube_object *old, struct kube_object *cur)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 256;
		struct pending *p = pg_realloc(l->v, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = ncap;
	}
	l->v[l->n].old = old ? kube_object_ref(old) : NULL;
	l->v[l->n].cur = cur ? kube_object_ref(cur) : NULL;
	l->n++;
	return 0;
}

static void pending_free(struct pending_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		kube_object_unref(l->v[i].old);
		kube_object_unref(l->v[i].cur);
	}
	pg_free(l->v);
}

/* Lists, then swaps the new list in for the cache and delivers only the
 * differences.  An entry whose resourceVersion did not change keeps its
 * old object, so holders see no churn. */
static int list_and_replace(struct kube_informer *inf)
{
	struct kube_error err = { 0 };
	struct buf rv = BUF_INIT(RV_MAX);
	struct ktable fresh = { NULL, 0, 0 };
	struct pending_list changes = { NULL, 0, 0 };
	int r;

	r = list_all(inf, &fresh, &rv, &err);
	if (r < 0)
		goto fail;
	/* Only this thread writes the cache: reading it unlocked is safe. */
	for (size_t i = 0; i < fresh.cap && r == 0; i++) {
		struct kube_object *cur = fresh.slots[i], *old;

		if (!cur)
			continue;
		old = ktable_get(&inf->cache, cur->str, kube_object_name(cur));
		if (old && strcmp(kube_object_uid(old), kube_object_uid(cur)) == 0 &&
		    strcmp(kube_object_resource_version(old),
			   kube_object_resource_version(cur)) == 0) {
			fresh.slots[i] = kube_object_ref(old);
			kube_object_unref(cur);
			continue;
		}
		r = pending_add(&changes, old, cur);
	}
	for (size_t i = 0; i < inf->cache.cap && r == 0; i++) {
		struct kube_object *old = inf->cache.slots[i];

		if (old && !ktable_get(&fresh, old->str, kube_object_name(old)))
			r = pending_add(&changes, old, NULL);
	}
	if (r < 0)
		goto fail;
	pthread_rwlock_wrlock(&inf->lock);
	{
		struct ktable tmp = inf->cache;

		inf->cache = fresh;
		fresh = tmp;
	}
	pthread_rwlock_unlock(&inf->lock);
	r = set_rv(inf, buf_str(&rv));
	if (r < 0)
		goto fail;
	if (atomic_fetch_add(&inf->n_lists, 1) > 0)
		atomic_fetch_add(&inf->n_relists, 1);
	for (size_t i = 0; i < changes.n; i++) {
		notify_change(inf, changes.v[i].old, changes.v[i].cur);
		changes.v[i].old = changes.v[i].cur = NULL;
	}
	/* has_synced is true inside on_synced (a handler that waits for
	 * several caches sees this one ready); waiters wake after it. */
	atomic_store(&inf->synced, true);
	if (inf->o.handlers.on_synced)
		inf->o.handlers.on_synced(inf->o.handlers.ud);
	if (!inf->announced) {
		pthread_mutex_lock(&inf->mu);
		inf->announced = true;
		pthread_cond_broadcast(&inf->cond);
		pthread_mutex_unlock(&inf->mu);
	}
	ktable_free(&fresh);
	pending_free(&changes);
	buf_free(&rv);
	return 0;
fail:
	if (r != -ECANCELED)
		report(inf, r, &err);
	ktable_free(&fresh);
	pending_free(&changes);
	buf_free(&rv);
	return r;
}

/* ---- watch ---------------------------------------------------------------- */

static bool status_is_gone(const struct jval *st)
{
	const struct jval *code = jval_get(st, "code");
	const char *reason = meta_str(st, "reason");

	return (jval_is_int(code) && code->u.i == 410) || strcmp(reason, "Expired") == 0 ||
	       strcmp(reason, "Gone") == 0;
}

/* An ADDED or MODIFIED event: @r and @o are what object_new() made of
 * it, @ns and @name its metadata. */
static int apply_upsert(struct kube_informer *inf, int r, struct kube_object *o, const char *ns,
			const char *name)
{
	struct kube_object *old = NULL;

	if (r == -EINVAL) {
		/* Not cacheable: an older version must not linger. */
		if (!inf->o.resource->namespaced)
			ns = "";
		pthread_rwlock_wrlock(&inf->lock);
		old = ktable_remove(&inf->cache, ns, name);
		pthread_rwlock_unlock(&inf->lock);
		notify_change(inf, old, NULL);
		return 0;
	}
	if (r < 0)
		return r;
	old = ktable_get(&inf->cache, o->str, kube_object_name(o));
	if (old && strcmp(kube_object_uid(old), kube_object_uid(o)) == 0 &&
	    strcmp(kube_object_resource_version(old), kube_object_resource_version(o)) == 0) {
		/* Seen already (a watch resumed at an older point). */
		kube_object_unref(o);
		return 0;
	}
	if (!old && inf->cache.n >= inf->o.max_objects) {
		kube_object_unref(o);
		return -E2BIG;
	}
	pthread_rwlock_wrlock(&inf->lock);
	r = ktable_put(&inf->cache, kube_object_ref(o), &old);
	pthread_rwlock_unlock(&inf->lock);
	if (r < 0) {
		kube_object_unref(o);
		kube_object_unref(o);
		return r;
	}
	notify_change(inf, old, o);
	return 0;
}

static void apply_delete(struct kube_informer *inf, const char *ns, const char *name, const char *uid)
{
	struct kube_object *old;

	if (!inf->o.resource->namespaced)
		ns = "";
	old = ktable_get(&inf->cache, ns, name);
	/* A delete of another incarnation of the name changes nothing. */
	if (!old || (*uid && *kube_object_uid(old) && strcmp(uid, kube_object_uid(old)) != 0))
		return;
	pthread_rwlock_wrlock(&inf->lock);
	old = ktable_remove(&inf->cache, ns, name);
	pthread_rwlock_unlock(&inf->lock);
	notify_change(inf, old, NULL);
}

/* After an event was applied (@r its result, @rv its resourceVersion):
 * 0, or -EINTR with watch_action saying what to do next. */
static int event_done(struct kube_informer *inf, enum kube_event_type type, int r, const char *rv)
{
	if (r < 0) {
		/* Out of memory or over the object limit: this event is
		 * lost, so only a relist can make the cache whole again. */
		inf->watch_err = r;
		inf->watch_action = WATCH_RELIST;
		return -EINTR;
	}
	if (type != KUBE_EVENT_BOOKMARK)
		atomic_fetch_add(&inf->n_events, 1);
	inf->watch_events++;
	/* Every event moves the point a resumed watch starts from. */
	if (*rv && (r = set_rv(inf, rv)) < 0) {
		inf->watch_err = r;
		inf->watch_action = WATCH_RELIST;
		return -EINTR;
	}
	return 0;
}

/* One event line, its tree in a short-lived arena.  A negative return
 * aborts the stream; watch_action says what to do next. */
static int on_line(void *ud, const char *line, size_t len)
{
	struct kube_informer *inf = ud;
	struct jval_limits lim = { LIST_MAX_DEPTH, 1u << 20 };
	struct arena *a = arena_new(len + 1024);
	enum kube_event_type type = KUBE_EVENT_ERROR;
	const struct jval *obj = NULL, *meta;
	struct kube_object *o = NULL;
	int r;

	r = a ? kube_watch_event_parse(line, len, &lim, a, &type, &obj) : -ENOMEM;
	if (r < 0) {
		/* Garbage in the stream: the events after it cannot be
		 * trusted to follow on; start over from the last good one. */
		arena_free(a);
		inf->watch_err = r == -ENOMEM ? -ENOMEM : -EBADMSG;
		inf->watch_action = WATCH_RESTART;
		return -EINTR;
	}
	meta = jval_get(obj, "metadata");
	switch (type) {
	case KUBE_EVENT_ADDED:
	case KUBE_EVENT_MODIFIED:
		r = object_new(inf, a, obj, &o);
		r = apply_upsert(inf, r, o, meta_str(meta, "namespace"), meta_str(meta, "name"));
		break;
	case KUBE_EVENT_DELETED:
		apply_delete(inf, meta_str(meta, "namespace"), meta_str(meta, "name"), meta_str(meta, "uid"));
		break;
	case KUBE_EVENT_BOOKMARK:
		atomic_fetch_add(&inf->n_bookmarks, 1);
		break;
	case KUBE_EVENT_ERROR:
		inf->watch_action = status_is_gone(obj) ? WATCH_RELIST : WATCH_RESTART;
		inf->watch_err = inf->watch_action == WATCH_RELIST ? -ETIME : -EIO;
		arena_free(a);
		return -EINTR;
	}
	r = event_done(inf, type, r, meta_str(meta, "resourceVersion"));
	arena_free(a);
	return r;
}

static int on_watch_data(void *ud, const char *data, size_t len)
{
	struct kube_informer *inf = ud;
	int r = kube_lines_feed(&inf->lines, data, len, on_line, inf);

	if (r == -E2BIG) {
		/* An event too large to read was dropped. */
		inf->watch_err = -E2BIG;
		inf->watch_action = WATCH_RELIST;
		return -EINTR;
	}
	return r;
}

/* One watch request, from the current resourceVersion until the server
 * ends it.  Returns WATCH_RESTART (watch again from where we are),
 * WATCH_RELIST, or -ECANCELED; *ret_err is the failure, 0 for a normal
 * end. */
static int watch_once(struct kube_informer *inf, int *ret_err, struct kube_error *err)
{
	char timeout[24], rv[RV_MAX + 1];
	unsigned span = inf->o.watch_max_s - inf->o.watch_min_s;
	unsigned secs = inf->o.watch_min_s + (span ? (unsigned)(kube_rand() % (span + 1)) : 0);
	int r;

	kube_informer_resource_version(inf, rv, sizeof(rv));
	snprintf(timeout, sizeof(timeout), "%u", secs);
	{
		const struct kube_param q[] = {
			{ "watch", "1" },
			{ "resourceVersion", rv },
			{ "allowWatchBookmarks", "true" },
			{ "timeoutSeconds", timeout },
			{ "labelSelector", inf->label_selector },
			{ "fieldSelector", inf->field_selector },
			{ NULL, NULL },
		};
		struct kube_request req = {
			.method = "GET", .path = inf->path, .query = q,
			.accept = inf->o.metadata_only ? ACCEPT_META : NULL,
			.retry = KUBE_RETRY_IDEMPOTENT, .cancel = &inf->stop,
			/* The server ends the watch; this only catches a
			 * connection that died without a word. */
			.timeout_ms = ((long)secs + 60) * 1000,
			.on_data = on_watch_data, .ud = inf,
		};

		kube_lines_reset(&inf->lines);
		inf->watch_action = WATCH_GO_ON;
		inf->watch_err = 0;
		atomic_fetch_add(&inf->n_watches, 1);
		r = kube_client_do(inf->client, &req, NULL, err);
	}
	if (atomic_load(&inf->stop))
		return -ECANCELED;
	if (inf->watch_action != WATCH_GO_ON) {
		*ret_err = inf->watch_err;
		return inf->watch_action;
	}
	*ret_err = r;
	if (r == -ETIME)
		return WATCH_RELIST;
	/* A clean end, a reset, a timeout: the events up to the last whole
	 * line are applied, so watching again from there loses nothing. */
	return WATCH_RESTART;
}

static void *informer_main(void *arg)
{
	struct kube_informer *inf = arg;
	unsigned failures = 0;
	bool need_list = true;

	while (!atomic_load(&inf->stop)) {
		struct kube_error err = { 0 };
		int64_t t0;
		int werr = 0, action;

		if (need_list) {
			if (list_and_replace(inf) < 0) {
				pause_ms(inf, kube_backoff_ms(failures++, inf->o.backoff_base_ms,
							      inf->o.backoff_cap_ms, kube_rand()));
				continue;
			}
			need_list = false;
			failures = 0;
		}
		t0 = ticker_now_ms();
		inf->watch_events = 0;
		action = watch_once(inf, &werr, &err);
		if (action == -ECANCELED)
			break;
		atomic_fetch_add(&inf->n_watch_restarts, 1);
		if (werr == -ETIME)
			atomic_fetch_add(&inf->n_gone, 1);
		if (action == WATCH_RELIST) {
			need_list = true;
			if (werr == -ETIME)
				continue;       /* history gone: relist at once */
		}
		if (werr && werr != -ETIME)
			report(inf, werr, &err);
		/* A watch that carried anything was healthy however it ended
		 * (a cut after events is what proxies do): resume at once,
		 * or drift is seen seconds late.  One that failed, or ended
		 * at once with nothing, backs off. */
		if (action == WATCH_RESTART &&
		    kube_watch_progressed(werr, inf->watch_events,
					  ticker_now_ms() - t0)) {
			failures = 0;
			continue;
		}
		pause_ms(inf, kube_backoff_ms(failures++, inf->o.backoff_base_ms,
					      inf->o.backoff_cap_ms, kube_rand()));
	}
	return NULL;
}

int kube_informer_start(struct kube_informer *inf)
{
	int r;

	if (inf->running)
		return 0;
	atomic_store(&inf->stop, false);
	r = pthread_create(&inf->thread, NULL, informer_main, inf);
	if (r != 0)
		return -r;
	inf->running = true;
	return 0;
}

void kube_informer_stop(struct kube_informer *inf)
{
	if (!inf || !inf->running)
		return;
	pthread_mutex_lock(&inf->mu);
	atomic_store(&inf->stop, true);
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->mu);
	pthread_join(inf->thread, NULL);
	inf->running = false;
}
