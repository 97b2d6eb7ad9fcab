/* source_dir.c - profiles from a directory (--profiles DIR): a poll thread
 * fingerprints the tree every second (names, sizes, mtimes, inodes,
 * symlinks followed) and reloads it whole when the fingerprint moves.  A
 * reload is all or nothing: one bad file keeps the previous set, as a
 * server keeps its running configuration when a new one does not parse. */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dirwalk.h"
#include "errlist.h"
#include "hash.h"
#include "jval.h"
#include "manifest.h"
#include "pglog.h"
#include "strutil.h"
#include "ticker.h"
#include "xalloc.h"

struct dir_source {
	char *dir;
	char **ignored;
	size_t nignored;
	unsigned poll_ms;
	size_t max_profiles;
	uint64_t fingerprint;           /* of the last attempted load */
	bool attempted;
	pthread_t thread;
	bool running;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopping;
};

/* ---- fingerprint ----------------------------------------------------------- */

static uint64_t fnv_stat(uint64_t h, const char *name, const struct stat *st)
{
	int64_t v[6] = { (int64_t)st->st_dev, (int64_t)st->st_ino, (int64_t)st->st_size,
			 (int64_t)st->st_mtim.tv_sec, (int64_t)st->st_mtim.tv_nsec,
			 (int64_t)st->st_ctim.tv_nsec };

	h = hash_fnv1a64(h, name, strlen(name) + 1);
	return hash_fnv1a64(h, v, sizeof(v));
}

/* What manifest_walk() would read, as one number: the directories' paths
 * and the manifests' stat data, in the walk's order. */
static int fp_dir(void *ud, const char *path)
{
	uint64_t *h = ud;

	*h = hash_fnv1a64(*h, path, strlen(path) + 1);
	return 0;
}

static int fp_file(void *ud, const char *path, const struct stat *st)
{
	uint64_t *h = ud;

	if (manifest_is_manifest_name(path))
		*h = fnv_stat(*h, path, st);
	return 0;
}

static int fp_fail(void *ud, enum dirwalk_fail what, const char *path, int err)
{
	uint64_t *h = ud;

	/* past the depth cap and dangling links: nothing the walk reads */
	if (what == DIRWALK_OPEN)
		*h = hash_fnv1a64(*h, "unreadable", 10);
	return 0;
}

static uint64_t fingerprint(const char *path)
{
	uint64_t h = HASH_FNV64_BASIS;
	const struct dirwalk w = { .max_depth = MANIFEST_MAX_DEPTH, .file = fp_file, .dir = fp_dir,
				   .fail = fp_fail, .ud = &h };
	struct stat st;

	if (stat(path, &st) < 0)
		return hash_fnv1a64(h, "missing", 7);
	if (!S_ISDIR(st.st_mode))
		return fnv_stat(h, path, &st);
	/* out of memory part way: a number no complete walk gives, so the
	 * next poll looks again */
	if (dirwalk(&w, path) < 0)
		return hash_fnv1a64(h, "unreadable", 10);
	return h;
}

/* ---- loading ------------------------------------------------------------------ */

struct load {
	struct dir_source *ds;
	struct profile_snapshot *snap;
	struct errlist errs;
	size_t docs;
	char **secrets;                 /* "ns/name" of token Secrets */
	size_t nsecrets;
};

/* A Secret of type kubernetes.io/service-account-token: its name only. */
static int add_token_secret(struct load *l, const struct jval *obj)
{
	const struct jval *meta = jval_get(obj, "metadata");
	const char *ns = jval_cstr(jval_get(meta, "namespace"));
	const char *name = jval_cstr(jval_get(meta, "name"));
	char key[600], **v;

	if (!name)
		return 0;
	snprintf(key, sizeof(key), "%s/%s", ns && *ns ? ns : "default", name);
	v = pg_realloc(l->secrets, (l->nsecrets + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->secrets = v;
	if (!(v[l->nsecrets] = pg_strdup(key)))
		return -ENOMEM;
	l->nsecrets++;
	return 0;
}

static bool already_loaded(const struct profile_set *set, const struct profile *p)
{
	struct profile *const *first;
	size_t n = profile_set_namespace(set, p->namespace, &first);

	for (size_t i = 0; i < n; i++)
		if (strcmp(first[i]->name, p->name) == 0)
			return true;
	return false;
}

static int on_doc(void *ud, const struct manifest_origin *o, const struct jval *obj)
{
	struct load *l = ud;
	struct errlist perrs;
	struct profile *p = NULL;
	char where[4200];
	int r;

	/* Sorted as ever, a NUL in kind left to profile_parse (jval_cstr()). */
	if (str_eq(jval_cstr(jval_get(obj, "kind")), "Secret") &&
	    str_eq(jval_cstr(jval_get(obj, "type")), "kubernetes.io/service-account-token"))
		return add_token_secret(l, obj);
	if (!str_eq(jval_cstr(jval_get(obj, "kind")), "WorkloadProfile"))
		return 0;
	l->docs++;
	if (o->item)
		snprintf(where, sizeof(where), "%s: document %zu, item %zu", o->file, o->doc, o->item);
	else
		snprintf(where, sizeof(where), "%s: document %zu", o->file, o->doc);
	if (l->snap->profiles.n >= l->ds->max_profiles)
		return errlist_add(&l->errs, "%s: more than %zu profiles", where, l->ds->max_profiles);
	errlist_init(&perrs, 0);
	r = profile_parse(obj, "default", &perrs, &p);
	if (r == -EINVAL) {
		r = 0;
		for (size_t i = 0; i < perrs.n && r == 0; i++)
			r = errlist_add(&l->errs, "%s: %s", where, perrs.msgs[i]);
	} else if (r == 0 && already_loaded(&l->snap->profiles, p)) {
		r = errlist_add(&l->errs, "%s: profile %s/%s is defined twice", where, p->namespace, p->name);
		profile_free(p);
	} else if (r == 0) {
		r = profile_set_add(&l->snap->profiles, p);
	}
	errlist_free(&perrs);
	return r;
}

int source_dir_reload(struct profile_source *src, bool force)
{
	struct dir_source *ds = src->impl;
	struct load l = { .ds = ds };
	uint64_t fp = fingerprint(ds->dir);
	char count[32], version[32];
	int r;

	if (!force && ds->attempted && fp == ds->fingerprint)
		return 1;
	ds->fingerprint = fp;
	ds->attempted = true;
	l.snap = source_snapshot_new();
	if (!l.snap)
		return -ENOMEM;
	errlist_init(&l.errs, 100);
	r = source_snapshot_set_ignored(l.snap, (const char *const *)ds->ignored, ds->nignored);
	if (r == 0)
		r = manifest_walk(ds->dir, on_doc, &l, &l.errs);
	if (r == 0)
		r = source_snapshot_set_token_secrets(l.snap, (const char *const *)l.secrets, l.nsecrets);
	if (r == 0 && l.errs.oom)
		r = -ENOMEM;
	if (r < 0) {
		pglog(PGLOG_ERROR, "profiles not reloaded: out of memory", "dir", ds->dir, NULL);
		goto out;
	}
	if (errlist_count(&l.errs)) {
		snprintf(count, sizeof(count), "%zu", errlist_count(&l.errs));
		pglog(PGLOG_ERROR, src->cur ? "profiles not reloaded, keeping the previous set"
					    : "profiles not loaded, not ready",
		      "dir", ds->dir, "errors", count, NULL);
		for (size_t i = 0; i < l.errs.n; i++)
			pglog(PGLOG_ERROR, "invalid profile input", "dir", ds->dir, "error", l.errs.msgs[i], NULL);
		r = -EINVAL;
		goto out;
	}
	snprintf(count, sizeof(count), "%zu", l.snap->profiles.n);
	source_publish(src, l.snap);
	snprintf(version, sizeof(version), "%llu", (unsigned long long)l.snap->version);
	l.snap = NULL;
	pglog(PGLOG_INFO, "profiles loaded", "dir", ds->dir, "profiles", count, "version", version, NULL);
	r = 0;
out:
	source_release(l.snap);
	errlist_free(&l.errs);
	for (size_t i = 0; i < l.nsecrets; i++)
		pg_free(l.secrets[i]);
	pg_free(l.secrets);
	return r;
}

/* ---- the poll thread ---------------------------------------------------------- */

static void *poll_main(void *arg)
{
	struct profile_source *src = arg;
	struct dir_source *ds = src->impl;

	pthread_mutex_lock(&ds->stop_lock);
	while (!ds->stopping) {
		struct timespec ts;

		ticker_deadline(ds->poll_ms, &ts);
		pthread_cond_timedwait(&ds->stop_cond, &ds->stop_lock, &ts);
		if (ds->stopping)
			break;
		pthread_mutex_unlock(&ds->stop_lock);
		source_dir_reload(src, false);
		pthread_mutex_lock(&ds->stop_lock);
	}
	pthread_mutex_unlock(&ds->stop_lock);
	return NULL;
}

static int dir_start(struct profile_source *src)
{
	struct dir_source *ds = src->impl;
	int r;

	if (ds->running)
		return 0;
	if (source_dir_reload(src, false) == -ENOMEM)
		return -ENOMEM;
	ds->stopping = false;
	r = pthread_create(&ds->thread, NULL, poll_main, src);
	if (r)
		return -r;
	ds->running = true;
	return 0;
}

static void dir_stop(struct profile_source *src)
{
	struct dir_source *ds = src->impl;

	if (!ds || !ds->running)        /* half built: nothing started */
		return;
	pthread_mutex_lock(&ds->stop_lock);
	ds->stopping = true;
	pthread_cond_signal(&ds->stop_cond);
	pthread_mutex_unlock(&ds->stop_lock);
	pthread_join(ds->thread, NULL);
	ds->running = false;
}

static void dir_destroy(struct profile_source *src)
{
	struct dir_source *ds = src->impl;

	if (!ds)
		return;
	for (size_t i = 0; i < ds->nignored; i++)
		pg_free(ds->ignored[i]);
	pg_free(ds->ignored);
	pg_free(ds->dir);
	pthread_mutex_destroy(&ds->stop_lock);
	pthread_cond_destroy(&ds->stop_cond);
	pg_free(ds);
	src->impl = NULL;
}

static const struct profile_source_ops dir_ops = {
	.name = "dir",
	.start = dir_start,
	.stop = dir_stop,
	.destroy = dir_destroy,
};

int source_dir_new(const struct source_dir_opts *o, const char *own_namespace,
		   struct profile_source *ret)
{
	struct dir_source *ds;
	pthread_condattr_t ca;
	int r;

	r = source_init(ret, &dir_ops, own_namespace);
	if (r < 0)
		return r;
	ds = pg_calloc(1, sizeof(*ds));
	if (!ds)
		goto oom;
	ret->impl = ds;
	pthread_mutex_init(&ds->stop_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ds->stop_cond, &ca);
	pthread_condattr_destroy(&ca);
	ds->poll_ms = o->poll_ms ? o->poll_ms : 1000;
	ds->max_profiles = o->max_profiles ? o->max_profiles : SOURCE_MAX_PROFILES;
	if (!(ds->dir = pg_strdup(o->dir)))
		goto oom;
	if (o->nignored) {
		ds->ignored = pg_calloc(o->nignored, sizeof(char *));
		if (!ds->ignored)
			goto oom;
		for (size_t i = 0; i < o->nignored; i++, ds->nignored++)
			if (!(ds->ignored[i] = pg_strdup(o->ignored_ns[i])))
				goto oom;
	}
	return 0;
oom:
	source_destroy(ret);
	return -ENOMEM;
}
