/* source_kube.c - profiles and ignored namespaces from the API server:
 * a WorkloadProfile informer (every namespace) and a metadata-only
 * Namespace informer selecting profileguard.io/ignore=true.  Snapshots
 * borrow the informer's decoded profiles by reference, so 1,000 profiles
 * are held once, and a request in flight keeps its whole set alive.  A
 * profile edited into an invalid spec keeps its last valid generation
 * enforced, held by the invalid entry, or, when this process never saw
 * it valid, read back from the status the controller recorded. */
#include "source.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "errlist.h"
#include "jval.h"
#include "kube_client.h"
#include "kube_decode.h"
#include "kube_informer.h"
#include "kubeconfig.h"
#include "pglog.h"
#include "strutil.h"
#include "xalloc.h"

struct kube_source {
	struct profile_source *src;
	struct kubeconfig *cfg;
	struct kube_client *client;
	struct kube_informer *profiles;
	struct kube_informer *namespaces;
	struct kube_informer *secrets;          /* token Secrets, metadata only */
	struct kube_informer *reports;          /* IdentityReports: each account's risk */
	char **static_ignored;
	size_t nstatic;
	pthread_mutex_t rebuild_lock;
	bool started;
	/* Set by each informer's on_synced, which the informer calls before
	 * its own has_synced() turns true. */
	atomic_bool profiles_synced;
	atomic_bool namespaces_synced;
};

/* ---- decoding ------------------------------------------------------------------ */

#define INVALID_ERRORS_MAX 8192

/* The informer's value for a WorkloadProfile.  A generation that does not
 * validate is cached too, holding its messages and the last valid
 * generation of the same object (same UID), which stays enforced (SPEC
 * §2): an edit that slipped past admission never drops a profile. */
struct kprofile {
	struct profile *profile;        /* NULL: this generation is invalid */
	char *errors;                   /* its validation messages, joined */
	int64_t generation;
	/* When invalid: the cache entry of the last valid generation (a
	 * reference, whose profile is enforced instead); NULL when the
	 * object never was valid here: then nothing is enforced. */
	struct kube_object *last_valid;
	/* When invalid and no last_valid: the last valid generation read
	 * back from status.enforcedSpec (profile_restore_enforced), or NULL. */
	struct profile *restored;
	int64_t restored_generation;
};

static const char *str_or_empty(const struct jval *v)
{
	const char *s = jval_cstr(v);

	return s ? s : "";
}

/* The profile to enforce for a cache entry, NULL for none. */
static const struct profile *kprofile_enforced(const struct kprofile *kp)
{
	if (kp->profile)
		return kp->profile;
	return kp->last_valid ? ((const struct kprofile *)kube_object_data(kp->last_valid))->profile
			      : kp->restored;
}

static void free_profile(void *ud, void *data)
{
	struct kprofile *kp = data;

	if (!kp)
		return;
	profile_free(kp->profile);
	profile_free(kp->restored);
	pg_free(kp->errors);
	kube_object_unref(kp->last_valid);
	pg_free(kp);
}

/* Runs on the profile informer's thread before the cache shows @obj, so
 * the cache still holds the generation it replaces. */
static int decode_profile(void *ud, const struct jval *obj, void **ret)
{
	struct kube_source *ks = ud;
	const struct jval *meta = jval_get(obj, "metadata");
	const struct jval *g = jval_get(meta, "generation");
	const char *ns = str_or_empty(jval_get(meta, "namespace"));
	const char *name = str_or_empty(jval_get(meta, "name"));
	const struct kprofile *prev = NULL;
	struct kube_object *prev_obj = NULL;
	struct kprofile *kp;
	struct errlist errs;
	struct buf b = BUF_INIT(INVALID_ERRORS_MAX);
	char gen[24], valid_gen[24], why[PROFILE_MAX_STRING + 256] = "";
	int r;

	kp = pg_calloc(1, sizeof(*kp));
	if (!kp)
		return -ENOMEM;
	kp->generation = jval_is_int(g) ? g->u.i : 0;
	errlist_init(&errs, 20);
	r = profile_parse(obj, "default", &errs, &kp->profile);
	if (r == 0 || r != -EINVAL || errs.oom) {
		errlist_free(&errs);
		if (r == 0)
			*ret = kp;
		else
			free_profile(NULL, kp);
		return r == 0 ? 0 : r == -EINVAL ? -ENOMEM : r;
	}
	/* Invalid: only reachable when the webhook was bypassed or down
	 * when it was written, or a stricter release reads an old spec. */
	for (size_t i = 0; i < errs.n; i++)
		if (buf_printf(&b, "%s%s", i ? "; " : "", errs.msgs[i]) < 0)
			break;
	errlist_free(&errs);
	kp->errors = pg_strdup(buf_str(&b));
	buf_free(&b);
	if (!kp->errors) {
		free_profile(NULL, kp);
		return -ENOMEM;
	}
	/* The generation this one replaces, if it is the same object: its
	 * own profile when it was valid, else what it kept. */
	if (ks && ks->profiles)
		prev_obj = kube_informer_get(ks->profiles, ns, name);
	if (prev_obj && str_eq(kube_object_uid(prev_obj),
			       str_or_empty(jval_get(meta, "uid")))) {
		prev = kube_object_data(prev_obj);
		if (prev->profile)
			kp->last_valid = kube_object_ref(prev_obj);
		else if (prev->last_valid)
			kp->last_valid = kube_object_ref(prev->last_valid);
	}
	/* Never seen valid here (this process started while it was
	 * invalid): the last valid generation the controller recorded. */
	if (!kp->last_valid) {
		r = profile_restore_enforced(obj, &kp->restored, &kp->restored_generation, why, sizeof(why));
		if (r == -ENOMEM) {
			kube_object_unref(prev_obj);
			free_profile(NULL, kp);
			return r;
		}
	}
	/* Said once per invalid generation, not at every status write or
	 * relist that brings the same generation back. */
	if (!prev || prev->profile || prev->generation != kp->generation) {
		snprintf(gen, sizeof(gen), "%lld", (long long)kp->generation);
		if (kp->restored) {
			snprintf(valid_gen, sizeof(valid_gen), "%lld", (long long)kp->restored_generation);
			pglog(PGLOG_ERROR, "invalid WorkloadProfile in the cluster: its last valid generation, "
			      "restored from status.enforcedSpec, stays enforced",
			      "namespace", ns, "name", name, "generation", gen,
			      "enforced_generation", valid_gen, "errors", kp->errors, NULL);
		} else if (kp->last_valid) {
			const struct kprofile *lv = kube_object_data(kp->last_valid);

			snprintf(valid_gen, sizeof(valid_gen), "%lld", (long long)lv->generation);
			pglog(PGLOG_ERROR, "invalid WorkloadProfile in the cluster: its last valid generation stays enforced",
			      "namespace", ns, "name", name, "generation", gen,
			      "enforced_generation", valid_gen, "errors", kp->errors, NULL);
		} else {
			pglog(PGLOG_ERROR, "invalid WorkloadProfile in the cluster is not enforced",
			      "namespace", ns, "name", name, "generation", gen, "errors", kp->errors,
			      /* no "status" field when status held nothing */
			      why[0] ? "status" : NULL, why, NULL);
		}
	}
	kube_object_unref(prev_obj);
	*ret = kp;
	return 0;
}

/* ---- snapshots ------------------------------------------------------------------ */

static void release_refs(struct profile_snapshot *snap)
{
	kube_objects_release(snap->owner, snap->nowner);
}

static int cmp_profile(const void *a, const void *b)
{
	const struct profile *x = *(const struct profile *const *)a;
	const struct profile *y = *(const struct profile *const *)b;
	int r = strcmp(x->namespace, y->namespace);

	return r ? r : strcmp(x->name, y->name);
}

static int set_ignored(struct kube_source *ks, struct profile_snapshot *snap)
{
	struct kube_object **v = NULL;
	const char **names;
	size_t n = 0;
	int r;

	r = kube_informer_snapshot(ks->namespaces, &v, &n);
	if (r < 0)
		return r;
	names = pg_calloc(n + ks->nstatic + 1, sizeof(*names));
	if (!names) {
		kube_objects_release(v, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = kube_object_name(v[i]);
	for (size_t i = 0; i < ks->nstatic; i++)
		names[n + i] = ks->static_ignored[i];
	r = source_snapshot_set_ignored(snap, names, n + ks->nstatic);
	pg_free(names);
	kube_objects_release(v, n);
	return r;
}

/* Publishes the caches as they are now.  Serialised: both informers'
 * threads come here. */
static void rebuild(struct kube_source *ks)
{
	struct profile_snapshot *snap = NULL;
	struct kube_object **v = NULL;
	size_t n = 0;
	bool first;
	int r;

	if (!atomic_load(&ks->profiles_synced) || !atomic_load(&ks->namespaces_synced))
		return;
	pthread_mutex_lock(&ks->rebuild_lock);
	first = !source_ready(ks->src);
	snap = source_snapshot_new();
	r = snap ? kube_informer_snapshot(ks->profiles, &v, &n) : -ENOMEM;
	if (r == 0) {
		snap->release = release_refs;
		snap->owner = v;
		snap->nowner = n;
		snap->profiles.v = pg_calloc(n ? n : 1, sizeof(struct profile *));
		if (!snap->profiles.v)
			r = -ENOMEM;
	}
	if (r == 0) {
		size_t k = 0;

		/* profile_set holds non-const pointers, but a snapshot is
		 * only ever read (the engine takes it const).  The entries
		 * referenced keep a last valid generation alive too. */
		for (size_t i = 0; i < n; i++) {
			const struct profile *d = kprofile_enforced(kube_object_data(v[i]));

			if (d)
				memcpy(&snap->profiles.v[k++], &d, sizeof(d));
		}
		snap->profiles.n = k;
		snap->profiles.cap = n ? n : 1;
		qsort(snap->profiles.v, k, sizeof(struct profile *), cmp_profile);
		r = set_ignored(ks, snap);
	}
	if (r < 0) {
		/* The previous snapshot stays; the next change retries. */
		pglog(PGLOG_ERROR, "profile snapshot not rebuilt", "error", strerror(-r), NULL);
		source_release(snap);
	} else {
		char np[24], ni[24];

		snprintf(np, sizeof(np), "%zu", snap->profiles.n);
		snprintf(ni, sizeof(ni), "%zu", snap->nignored);
		source_publish(ks->src, snap);
		pglog(first ? PGLOG_INFO : PGLOG_DEBUG, first ? "profiles synced from the API server"
							      : "profiles updated from the API server",
		      "profiles", np, "ignored_namespaces", ni, NULL);
	}
	pthread_mutex_unlock(&ks->rebuild_lock);
}

/* ---- informer handlers ------------------------------------------------------------- */

static void on_add(void *ud, struct kube_object *cur)
{
	rebuild(ud);
}

static void on_update(void *ud, struct kube_object *old, struct kube_object *cur)
{
	rebuild(ud);
}

static void on_delete(void *ud, struct kube_object *old)
{
	rebuild(ud);
}

static void on_profiles_synced(void *ud)
{
	struct kube_source *ks = ud;

	atomic_store(&ks->profiles_synced, true);
	rebuild(ks);
}

static void on_namespaces_synced(void *ud)
{
	struct kube_source *ks = ud;

	atomic_store(&ks->namespaces_synced, true);
	rebuild(ks);
}

static void on_error(void *ud, int err, const struct kube_error *e)
{
	char code[16];

	snprintf(code, sizeof(code), "%ld", e ? e->code : 0L);
	pglog(PGLOG_WARN, "watch of the API server failed, retrying", "error", strerror(-err),
	      "code", code, "reason", e ? e->reason : "", "message", e ? e->message : "", NULL);
}

/* ---- IdentityReports ------------------------------------------------------------ */

/* The informer's value for an IdentityReport: its risk only, compact (a
 * few hundred bytes), expanded into a risk_result per lookup. */
struct kreport {
	uint8_t level;                  /* enum risk_level */
	uint8_t nfindings;
	uint32_t omitted;
	struct {
		uint8_t rule;           /* enum risk_rule */
		const char *grant;      /* in this allocation */
		const char *via;
	} f[];
};

/* A report without a risk yet (just created) decodes to no value: the
 * account reads as having no report.  A report over the CRD's bounds is
 * refused (counted by the informer), never cut. */
static int decode_report(void *ud, const struct jval *obj, void **ret)
{
	const struct jval *risk = jval_get(jval_get(obj, "status"), "risk");
	const struct jval *fs = jval_get(risk, "findings"), *it;
	enum risk_level level;
	struct kreport *k;
	size_t i, n = jval_size(fs), strings = 0, nk = 0;
	char *p;

	(void)ud;
	if (risk_level_parse(jval_cstr(jval_get(risk, "level")), &level) < 0)
		return -EINVAL;
	if (n > RISK_MAX_FINDINGS)
		return -E2BIG;
	jval_foreach_item(fs, i, it) {
		const char *g = jval_cstr(jval_get(it, "grant")), *v = jval_cstr(jval_get(it, "via"));

		if ((g && strlen(g) >= RISK_GRANT_TEXT) || (v && strlen(v) >= RISK_VIA_TEXT))
			return -E2BIG;
		strings += (g ? strlen(g) : 0) + (v ? strlen(v) : 0) + 2;
	}
	k = pg_malloc(sizeof(*k) + n * sizeof(k->f[0]) + strings);
	if (!k)
		return -ENOMEM;
	k->level = (uint8_t)level;
	k->omitted = 0;
	p = (char *)&k->f[n];
	jval_foreach_item(fs, i, it) {
		const char *g = jval_cstr(jval_get(it, "grant")), *v = jval_cstr(jval_get(it, "via"));
		enum risk_rule rule;
		size_t lg = g ? strlen(g) : 0, lv = v ? strlen(v) : 0;

		/* A rule this version does not know (a newer controller's)
		 * still counts in the level; it is counted, not named. */
		if (risk_rule_parse(jval_cstr(jval_get(it, "rule")), &rule) < 0) {
			k->omitted++;
			continue;
		}
		k->f[nk].rule = (uint8_t)rule;
		k->f[nk].grant = memcpy(p, g ? g : "", lg + 1);
		p += lg + 1;
		k->f[nk].via = memcpy(p, v ? v : "", lv + 1);
		p += lv + 1;
		nk++;
	}
	{
		const struct jval *om = jval_get(risk, "findingsOmitted");

		if (jval_is_int(om) && om->u.i > 0 && om->u.i < UINT32_MAX - k->omitted)
			k->omitted += (uint32_t)om->u.i;
	}
	k->nfindings = (uint8_t)nk;
	*ret = k;
	return 0;
}

static void free_report(void *ud, void *data)
{
	(void)ud;
	pg_free(data);
}

static int kube_identity_risk(struct profile_source *src, const char *ns, const char *name,
			      const struct risk_result **ret)
{
	/* One per judging thread: the engine reads it within the call. */
	static _Thread_local struct risk_result res;
	struct kube_source *ks = src->impl;
	struct kube_object *o;
	const struct kreport *k;

	if (!ks->reports || !(o = kube_informer_get(ks->reports, ns, name)))
		return -ENOENT;
	k = kube_object_data(o);
	memset(&res, 0, sizeof(res));
	res.level = (enum risk_level)k->level;
	for (size_t i = 0; i < k->nfindings; i++) {
		res.findings[i].rule = (enum risk_rule)k->f[i].rule;
		snprintf(res.findings[i].grant, sizeof(res.findings[i].grant), "%s", k->f[i].grant);
		snprintf(res.findings[i].via, sizeof(res.findings[i].via), "%s", k->f[i].via);
	}
	res.nfindings = k->nfindings;
	res.omitted = k->omitted;
	kube_object_unref(o);
	*ret = &res;
	return 0;
}

/* ---- the source ------------------------------------------------------------------ */

static int kube_start(struct profile_source *src)
{
	struct kube_source *ks = src->impl;
	int r;

	if (ks->started)
		return 0;
	r = kube_informer_start(ks->namespaces);
	if (r == 0 && ks->secrets)
		r = kube_informer_start(ks->secrets);
	if (r == 0 && ks->reports)
		r = kube_informer_start(ks->reports);
	if (r == 0)
		r = kube_informer_start(ks->profiles);
	if (r < 0) {
		kube_informer_stop(ks->namespaces);
		if (ks->secrets)
			kube_informer_stop(ks->secrets);
		if (ks->reports)
			kube_informer_stop(ks->reports);
		return r;
	}
	ks->started = true;
	return 0;
}

static void kube_stop(struct profile_source *src)
{
	struct kube_source *ks = src->impl;

	if (!ks->started)
		return;
	kube_informer_stop(ks->profiles);
	kube_informer_stop(ks->namespaces);
	if (ks->secrets)
		kube_informer_stop(ks->secrets);
	if (ks->reports)
		kube_informer_stop(ks->reports);
	ks->started = false;
}

static void kube_destroy(struct profile_source *src)
{
	struct kube_source *ks = src->impl;

	if (!ks)
		return;
	/* Snapshots hold cache entries by reference: release the current
	 * one before the caches go (entries outlive their cache anyway). */
	source_release(src->cur);
	src->cur = NULL;
	kube_informer_free(ks->profiles);
	kube_informer_free(ks->namespaces);
	kube_informer_free(ks->secrets);
	kube_informer_free(ks->reports);
	kube_client_free(ks->client);
	kubeconfig_free(ks->cfg);
	for (size_t i = 0; i < ks->nstatic; i++)
		pg_free(ks->static_ignored[i]);
	pg_free(ks->static_ignored);
	pthread_mutex_destroy(&ks->rebuild_lock);
	pg_free(ks);
	src->impl = NULL;
}

static bool kube_is_token_secret(struct profile_source *src, const char *ns, const char *name)
{
	struct kube_source *ks = src->impl;
	struct kube_object *o;

	if (!ks->secrets)
		return false;
	o = kube_informer_get(ks->secrets, ns, name);
	kube_object_unref(o);
	return o != NULL;
}

static const struct profile_source_ops kube_ops = {
	.name = "kube",
	.start = kube_start,
	.stop = kube_stop,
	.destroy = kube_destroy,
	.is_token_secret = kube_is_token_secret,
	.identity_risk = kube_identity_risk,
};

struct kube_informer *source_kube_informer(struct profile_source *src, int which)
{
	struct kube_source *ks;

	if (!src || src->ops != &kube_ops)
		return NULL;
	ks = src->impl;
	return which == 0 ? ks->profiles : which == 1 ? ks->namespaces : which == 2 ? ks->secrets :
	       which == 3 ? ks->reports : NULL;
}

/* One informer of the source.  @h NULL: errors are logged, nothing else
 * (a live lookup); else @h with @on_synced. */
static int informer(struct kube_source *ks, const struct kube_resource *res, const char *label_selector,
		    const char *field_selector, bool metadata_only, kube_decode_fn decode, kube_free_fn free_fn,
		    const struct kube_informer_handlers *h, void (*on_synced)(void *ud), struct kube_informer **ret)
{
	struct kube_informer_opts o = {
		.resource = res, .name = res->plural, .label_selector = label_selector,
		.field_selector = field_selector, .metadata_only = metadata_only,
		.decode = decode, .free_data = free_fn, .decode_ud = ks,
	};

	if (h) {
		o.handlers = *h;
		o.handlers.on_synced = on_synced;
	} else {
		o.handlers.on_error = on_error;
	}
	return kube_informer_new(ks->client, &o, ret);
}

int source_kube_new(const struct source_kube_opts *o, const char *own_namespace,
		    struct profile_source *ret, char *err, size_t errsz)
{
	struct kube_informer_handlers h = {
		.on_add = on_add, .on_update = on_update, .on_delete = on_delete,
		.on_error = on_error,
	};
	struct kube_source *ks;
	struct errlist errs;
	int r;

	r = source_init(ret, &kube_ops, own_namespace);
	if (r < 0)
		return r;
	ks = pg_calloc(1, sizeof(*ks));
	if (!ks) {
		source_destroy(ret);
		return -ENOMEM;
	}
	ret->impl = ks;
	ks->src = ret;
	pthread_mutex_init(&ks->rebuild_lock, NULL);
	atomic_init(&ks->profiles_synced, false);
	atomic_init(&ks->namespaces_synced, false);

	errlist_init(&errs, 4);
	r = kubeconfig_resolve(o->kubeconfig, NULL, o->sa_root, &errs, &ks->cfg);
	if (r < 0) {
		snprintf(err, errsz, "%s", errs.n ? errs.msgs[0] : strerror(-r));
		errlist_free(&errs);
		goto fail;
	}
	errlist_free(&errs);
	r = kube_client_new(ks->cfg, o->client_opts, &ks->client);
	if (r < 0) {
		snprintf(err, errsz, "API client: %s", strerror(-r));
		goto fail;
	}
	if (o->nignored) {
		ks->static_ignored = pg_calloc(o->nignored, sizeof(char *));
		if (!ks->static_ignored)
			goto oom;
		for (size_t i = 0; i < o->nignored; i++, ks->nstatic++)
			if (!(ks->static_ignored[i] = pg_strdup(o->ignored_ns[i])))
				goto oom;
	}
	h.ud = ks;

	r = informer(ks, &kube_res_workloadprofiles, NULL, NULL, false, decode_profile, free_profile,
		     &h, on_profiles_synced, &ks->profiles);
	if (r == 0)
		r = informer(ks, &kube_res_namespaces, SOURCE_IGNORE_SELECTOR, NULL, true, kube_decode_meta,
			     kube_free_meta, &h, on_namespaces_synced, &ks->namespaces);
	/* IdentityReports: risk only, and no rebuild: the lookup is live.
	 * Not part of readiness: without a report, maxRisk is not judged
	 * (and said so), nothing is refused. */
	if (r == 0 && o->watch_identity_reports)
		r = informer(ks, &kube_res_identityreports, NULL, NULL, false, decode_report, free_report,
			     NULL, NULL, &ks->reports);
	/* Token Secrets: names only (never data), and no rebuild either. */
	if (r == 0 && o->watch_token_secrets)
		r = informer(ks, &kube_res_secrets, NULL, "type=kubernetes.io/service-account-token", true,
			     kube_decode_meta, kube_free_meta, NULL, NULL, &ks->secrets);
	if (r < 0)
		goto informer_fail;
	return 0;
informer_fail:
	snprintf(err, errsz, "informer: %s", strerror(-r));
	goto fail;
oom:
	r = -ENOMEM;
	snprintf(err, errsz, "out of memory");
fail:
	source_destroy(ret);
	return r;
}
