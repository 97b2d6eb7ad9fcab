/* source.h - where the webhook's profiles and ignored namespaces
 * come from: a directory (--profiles DIR, reloaded on change) or the API
 * server (informers).  Both publish immutable, refcounted snapshots, so a
 * request judges against one consistent set however long it runs, and a
 * reload never waits for requests. */
#ifndef PG_SOURCE_H
#define PG_SOURCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "risk.h"

struct kube_client_opts;

/* One published state.  Immutable once published; freed when the last
 * holder releases it. */
struct profile_snapshot {
	atomic_uint refs;
	uint64_t version;               /* 1, 2, ... per publication */
	struct profile_set profiles;
	char **ignored_ns;              /* sorted, for bsearch */
	size_t nignored;
	/* Secrets of type kubernetes.io/service-account-token, "ns/name",
	 * sorted (the directory source; the API source asks its informer). */
	char **token_secrets;
	size_t ntoken_secrets;
	/* When set, the profiles belong to someone else (an informer's
	 * cache, through @owner): freeing the snapshot frees profiles.v and
	 * calls this instead of freeing each profile. */
	void (*release)(struct profile_snapshot *snap);
	void *owner;
	size_t nowner;
};

struct profile_source;

struct profile_source_ops {
	const char *name;               /* "dir", "kube": for logs */
	/* Starts the background work (a poll thread, informers). 0 or -errno. */
	int (*start)(struct profile_source *src);
	/* Stops and joins it; the last snapshot stays readable. */
	void (*stop)(struct profile_source *src);
	/* Frees what the implementation added. */
	void (*destroy)(struct profile_source *src);
	/* Whether @ns/@name is a legacy service-account token Secret; NULL:
	 * look in the snapshot's list. */
	bool (*is_token_secret)(struct profile_source *src, const char *ns, const char *name);
	/* The RBAC risk of the ServiceAccount @ns/@name from its
	 * IdentityReport: 0 with *@ret (valid until this thread's next call),
	 * -ENOENT when there is none.  NULL: no reports known. */
	int (*identity_risk)(struct profile_source *src, const char *ns, const char *name,
			     const struct risk_result **ret);
};

/* Called after every publication (from the publishing thread), e.g. to
 * set the profiles gauge. */
typedef void (*source_notify_fn)(void *ud, const struct profile_snapshot *snap);

struct profile_source {
	const struct profile_source_ops *ops;
	void *impl;
	pthread_rwlock_t lock;          /* guards cur (the pointer only) */
	struct profile_snapshot *cur;   /* NULL until the first load */
	atomic_bool ready;              /* first complete load published */
	atomic_uint_least64_t versions;
	/* The webhook's own namespace: never judged, whatever the source says. */
	char *own_namespace;
	source_notify_fn notify;
	void *notify_ud;
};

/* Generic part, for implementations: initialises @src (ops set by the
 * caller).  0 or -ENOMEM. */
int source_init(struct profile_source *src, const struct profile_source_ops *ops,
		const char *own_namespace);
/* A new, empty snapshot (refs 1) for an implementation to fill. */
struct profile_snapshot *source_snapshot_new(void);
/* Copies @names into @snap's ignored list (sorted, duplicates dropped).
 * 0 or -ENOMEM. */
int source_snapshot_set_ignored(struct profile_snapshot *snap, const char *const *names, size_t n);
/* Copies @keys ("ns/name") into @snap's token Secret list, sorted.
 * 0 or -ENOMEM. */
int source_snapshot_set_token_secrets(struct profile_snapshot *snap, const char *const *keys, size_t n);
/* Publishes @snap (takes the caller's reference), releases the previous
 * one, marks the source ready and calls the notify hook. */
void source_publish(struct profile_source *src, struct profile_snapshot *snap);

/* For readers: the current snapshot with a reference held, NULL before
 * the first load.  Lock held only to copy the pointer and count. */
struct profile_snapshot *source_acquire(struct profile_source *src);
/* NULL-safe; frees the snapshot with its last reference. */
void source_release(struct profile_snapshot *snap);
/* True when @ns is the webhook's own namespace or in @snap's ignored list. */
bool source_ns_ignored(const struct profile_source *src, const struct profile_snapshot *snap,
		       const char *ns);
bool source_ready(const struct profile_source *src);
/* For the engine's legacyTokenSecrets rule: whether @ns/@name is a Secret
 * of type kubernetes.io/service-account-token, as far as @src knows. */
bool source_is_token_secret(struct profile_source *src, const struct profile_snapshot *snap,
			    const char *ns, const char *name);

/* For identity.maxRisk: the account's risk from its IdentityReport, as
 * the source's identity_risk op says; -ENOENT when the source has none. */
int source_identity_risk(struct profile_source *src, const char *ns, const char *name,
			 const struct risk_result **ret);

int source_start(struct profile_source *src);
void source_stop(struct profile_source *src);
/* Stops if needed, releases the current snapshot, frees @src's contents
 * (not @src itself: the caller owns that). NULL-safe. */
void source_destroy(struct profile_source *src);

/* ---- the directory source ---------------------------------------------------- */

struct source_dir_opts {
	const char *dir;                        /* borrowed for the source's life */
	const char *const *ignored_ns;          /* --ignore-namespaces, copied */
	size_t nignored;
	unsigned poll_ms;                       /* 0: 1000 */
	size_t max_profiles;                    /* 0: SOURCE_MAX_PROFILES */
};

#define SOURCE_MAX_PROFILES 100000

/* A source reading every WorkloadProfile in @o->dir (manifest_walk: YAML or
 * JSON, recursively), and the names of the Secrets of type
 * kubernetes.io/service-account-token found there, as `check` does, and re-reading it when a file's name, size, mtime or
 * inode changes (symlinks followed, so a ConfigMap volume's ..data swap is
 * seen).  A reload with any error (a bad file, an invalid profile) is
 * logged with every problem and the previous good snapshot stays whole,
 * so a file edited into an invalid profile keeps its last valid version;
 * at start-up the source stays not ready until a clean load.
 * Starts nothing until source_start().  0, -ENOMEM. */
int source_dir_new(const struct source_dir_opts *o, const char *own_namespace,
		   struct profile_source *ret);
/* Loads once, synchronously (the poll thread calls this too).  Returns 0
 * when a new snapshot was published, 1 when nothing changed, -EINVAL when
 * the directory has errors (logged), -ENOMEM. */
int source_dir_reload(struct profile_source *src, bool force);

/* ---- the API server source ----------------------------------------------------- */

struct kube_informer;

struct source_kube_opts {
	const char *kubeconfig;                 /* --kubeconfig; NULL: $KUBECONFIG, else in-cluster */
	const char *const *ignored_ns;          /* extra namespaces never judged, copied */
	size_t nignored;
	const char *sa_root;                    /* tests: in-cluster mount; NULL: the real one */
	/* Watch token Secrets' names.  Off by default: RBAC cannot grant
	 * "list Secrets, metadata only", so this needs a role that could
	 * read every Secret's data, which a webhook should not hold unless
	 * the cluster wants legacyTokenSecrets enforced at admission (the
	 * controller enforces it on running pods either way). */
	bool watch_token_secrets;
	/* Watch IdentityReports for identity.maxRisk (needs their CRD and
	 * list/watch on identityreports).  Off: maxRisk is never judged at
	 * admission, and a pod under a profile with it gets a warning. */
	bool watch_identity_reports;
	/* The API client's pacing and limits (borrowed, copied); NULL: its
	 * defaults (kube_client_opts_default). */
	const struct kube_client_opts *client_opts;
};

/* The label that keeps a namespace out of judgement. */
#define SOURCE_IGNORE_SELECTOR "profileguard.io/ignore=true"

/* A source fed by three informers: WorkloadProfiles in every namespace
 * (each validated as the webhook validates it; a generation that does not
 * validate is logged with its messages, once, and the object's last valid
 * generation stays enforced (SPEC §2): the one this process saw, else the
 * one the controller recorded in its status (profile_restore_enforced);
 * one with neither is not enforced; a deleted one is dropped), the Namespaces labelled profileguard.io/ignore=true
 * (metadata only, by label selector, so the cache holds just those), and
 * with @o->watch_token_secrets, the Secrets of type
 * kubernetes.io/service-account-token (metadata only, by field selector:
 * names, never data) for legacyTokenSecrets.  That one does not hold
 * readiness back: without RBAC on Secrets it logs its errors and legacy
 * token Secrets go unrecognised at admission.
 * Profiles are shared with the informer cache, not copied.  Ready once
 * both lists have synced; every later change publishes a new snapshot.
 * 0, or -errno with a one-line reason in @err (no usable kubeconfig). */
int source_kube_new(const struct source_kube_opts *o, const char *own_namespace,
		    struct profile_source *ret, char *err, size_t errsz);

/* The informers behind a kube source (0 profiles, 1 namespaces, 2 token
 * Secrets), for their counters; NULL for other sources. */
struct kube_informer *source_kube_informer(struct profile_source *src, int which);

#endif
