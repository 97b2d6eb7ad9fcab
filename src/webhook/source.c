/* source.c - refcounted profile snapshots and the generic half of a profile
 * source: publish, acquire, release, namespace skips. */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"
#include "xalloc.h"

int source_init(struct profile_source *src, const struct profile_source_ops *ops,
		const char *own_namespace)
{
	memset(src, 0, sizeof(*src));
	src->ops = ops;
	if (own_namespace && *own_namespace && !(src->own_namespace = pg_strdup(own_namespace)))
		return -ENOMEM;
	pthread_rwlock_init(&src->lock, NULL);
	atomic_init(&src->ready, false);
	atomic_init(&src->versions, 0);
	return 0;
}

struct profile_snapshot *source_snapshot_new(void)
{
	struct profile_snapshot *s = pg_calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	profile_set_init(&s->profiles);
	return s;
}

/* A sorted copy of @names without repeats, into *ret_v / *ret_n (NULL, 0
 * for none); -ENOMEM leaves them alone. */
static int sorted_copy(const char *const *names, size_t n, char ***ret_v, size_t *ret_n)
{
	char **v = n ? pg_calloc(n, sizeof(char *)) : NULL;
	size_t k = 0;

	if (n && !v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!(v[i] = pg_strdup(names[i]))) {
			for (size_t j = 0; j < i; j++)
				pg_free(v[j]);
			pg_free(v);
			return -ENOMEM;
		}
	}
	if (n)
		qsort(v, n, sizeof(char *), str_ptr_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k && strcmp(v[k - 1], v[i]) == 0)
			pg_free(v[i]);
		else
			v[k++] = v[i];
	}
	*ret_v = v;
	*ret_n = k;
	return 0;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pg_free(v[i]);
	pg_free(v);
}

int source_snapshot_set_ignored(struct profile_snapshot *snap, const char *const *names, size_t n)
{
	char **v;
	size_t k;

	if (sorted_copy(names, n, &v, &k) < 0)
		return -ENOMEM;
	free_strv(snap->ignored_ns, snap->nignored);
	snap->ignored_ns = v;
	snap->nignored = k;
	return 0;
}

int source_snapshot_set_token_secrets(struct profile_snapshot *snap, const char *const *keys, size_t n)
{
	char **v;
	size_t k;

	if (sorted_copy(keys, n, &v, &k) < 0)
		return -ENOMEM;
	free_strv(snap->token_secrets, snap->ntoken_secrets);
	snap->token_secrets = v;
	snap->ntoken_secrets = k;
	return 0;
}

static void snapshot_free(struct profile_snapshot *s)
{
	if (s->release) {
		s->release(s);
		pg_free(s->profiles.v);
	} else {
		profile_set_free(&s->profiles);
	}
	free_strv(s->ignored_ns, s->nignored);
	free_strv(s->token_secrets, s->ntoken_secrets);
	pg_free(s);
}

void source_release(struct profile_snapshot *snap)
{
	if (snap && atomic_fetch_sub_explicit(&snap->refs, 1, memory_order_acq_rel) == 1)
		snapshot_free(snap);
}

void source_publish(struct profile_source *src, struct profile_snapshot *snap)
{
	struct profile_snapshot *old;

	snap->version = atomic_fetch_add(&src->versions, 1) + 1;
	pthread_rwlock_wrlock(&src->lock);
	old = src->cur;
	src->cur = snap;
	pthread_rwlock_unlock(&src->lock);
	atomic_store(&src->ready, true);
	if (src->notify)
		src->notify(src->notify_ud, snap);
	source_release(old);
}

struct profile_snapshot *source_acquire(struct profile_source *src)
{
	struct profile_snapshot *s;

	pthread_rwlock_rdlock(&src->lock);
	s = src->cur;
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	pthread_rwlock_unlock(&src->lock);
	return s;
}

bool source_ns_ignored(const struct profile_source *src, const struct profile_snapshot *snap,
		       const char *ns)
{
	if (src->own_namespace && strcmp(ns, src->own_namespace) == 0)
		return true;
	return snap && snap->nignored &&
	       bsearch(&ns, snap->ignored_ns, snap->nignored, sizeof(char *), str_ptr_cmp) != NULL;
}

int source_identity_risk(struct profile_source *src, const char *ns, const char *name,
			 const struct risk_result **ret)
{
	if (!src->ops || !src->ops->identity_risk)
		return -ENOENT;
	return src->ops->identity_risk(src, ns, name, ret);
}

bool source_is_token_secret(struct profile_source *src, const struct profile_snapshot *snap,
			    const char *ns, const char *name)
{
	char key[600];
	const char *k = key;

	if (src->ops && src->ops->is_token_secret)
		return src->ops->is_token_secret(src, ns, name);
	if (!snap || !snap->ntoken_secrets)
		return false;
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	return bsearch(&k, snap->token_secrets, snap->ntoken_secrets, sizeof(char *), str_ptr_cmp) != NULL;
}

bool source_ready(const struct profile_source *src)
{
	return atomic_load(&src->ready);
}

int source_start(struct profile_source *src)
{
	return src->ops && src->ops->start ? src->ops->start(src) : 0;
}

void source_stop(struct profile_source *src)
{
	if (src && src->ops && src->ops->stop)
		src->ops->stop(src);
}

void source_destroy(struct profile_source *src)
{
	if (!src || !src->ops)
		return;
	source_stop(src);
	if (src->ops->destroy)
		src->ops->destroy(src);
	source_release(src->cur);
	src->cur = NULL;
	pg_free(src->own_namespace);
	pthread_rwlock_destroy(&src->lock);
	src->ops = NULL;
}
