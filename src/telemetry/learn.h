/* learn.h - a WorkloadProfile from what a workload was seen doing: the
 * runtime section from telemetry (any SPEC §5 format), the admission part
 * from its pod manifest.  Pure: events and a pod in, YAML text out, in a
 * deterministic order so a learned profile diffs cleanly in review. */
#ifndef PG_LEARN_H
#define PG_LEARN_H

#include <stdbool.h>

#include "buf.h"
#include "pod.h"
#include "telemetry.h"

struct learn;

/* @name must be an RFC 1123 subdomain and @namespace a label, as the
 * profile's metadata requires; the caller checks (learn_render() assumes
 * it). */
struct learn_opts {
	const char *name;               /* metadata.name of the profile */
	const char *namespace;          /* metadata.namespace; events elsewhere are left out */
	const char *mode;               /* "Audit" (default) or "Enforce" */
	const char *service_account;    /* audit events of other identities are left out;
	                                 * NULL: the pod's, else any in the namespace */
	/* The profile's matchLabels, borrowed until learn_free(): valid label
	 * keys and values (the caller checks).  NULL: the pod's labels. */
	const struct labels *selector;
	/* Allow exactly what was seen: every image reference, file path
	 * and address as observed.  false: images by repository, files by
	 * directory where LEARN_FOLD_MIN were seen in one (see learn_render). */
	bool exact;
};

/* A directory is written as one pattern, DIR followed by a slash and a
 * star, when at least this many distinct
 * files directly in it were seen (and none of DIR's subtree looks
 * dangerous, and DIR is not above a dangerous location). */
#define LEARN_FOLD_MIN 3

struct learn *learn_new(const struct learn_opts *o);
struct learn *learn_free(struct learn *l);

/* Adds one observation (copied).  Only the workload's own pods count
 * (SPEC §6): those the pod set by learn_set_pod() is, or that its
 * controller would name (Deployment D: D-<hash>-<suffix>, StatefulSet S:
 * S-<ordinal>, ...), in the learned namespace.  An event that names its
 * pod only by container ID or UID is held until learn_render() and counts
 * when an own pod's event, or the manifest's status, named that container
 * or UID.  API calls count by identity, and when the token is bound to a
 * pod, that pod must be an own one.  Everything else is counted as
 * skipped: another namespace or identity, another pod, not tied.  No pod
 * set: nothing but API calls counts.  0 or -ENOMEM. */
int learn_add(struct learn *l, const struct telemetry_event *e);
/* The pod (or template) the admission rules are taken from, and whose
 * pods count; borrowed until learn_render().  Set it before the first
 * learn_add().  @origin names it in the header comment. */
void learn_set_pod(struct learn *l, const struct pod *pod, const char *origin);
/* Another object of the workload (several Pods that --selector picked):
 * its pods count as the first one's do.  Borrowed until learn_free().
 * 0 or -ENOMEM. */
int learn_add_pod(struct learn *l, const struct pod *pod);
/* Names a telemetry input in the header comment. */
int learn_note_source(struct learn *l, const char *what);

struct learn_counts {
	size_t used;
	size_t skipped;                 /* other namespaces or identities */
	size_t other_pods;              /* events of pods the workload would not make */
	size_t untied;                  /* naming no pod, or a container no own pod ran */
	size_t too_long;                /* left out: a string no profile can hold */
};
/* Final after learn_render(): held events are decided there. */
void learn_counts(const struct learn *l, struct learn_counts *ret);

/* Appends the profile as YAML, whole or not at all: 0, -ENOMEM, or -E2BIG
 * when a list would be longer than a profile may hold (learn_error() says
 * which) or @out's maximum was reached.  Every profile it writes passes
 * profile_parse() and allows every event it was given, but API calls
 * whose verb no profile can list (bind, impersonate, ...): those are left
 * out and marked.  Unless the options say exact, images are written by
 * repository and directories with LEARN_FOLD_MIN files seen as one
 * pattern; entries learn_danger() names carry "# review: WHY" and are
 * listed by learn_reviews().  Scalars are plain only when no YAML 1.1
 * reader could take them for anything else, otherwise double-quoted. */
int learn_render(struct learn *l, struct buf *out);
/* Why learn_render() gave -E2BIG; NULL when it was @out's maximum.
 * Borrowed. */
const char *learn_error(const struct learn *l);

/* An entry of the profile that looks dangerous, for the reviewer: what
 * learn_render() marked with "# review: WHY".  Valid until the next
 * learn_render() or learn_free(). */
struct learn_review {
	const char *field;              /* "runtime.files.read", ... */
	char *value;                    /* the path, executable or "verbs resource" */
	const char *why;
};
size_t learn_reviews(const struct learn *l, const struct learn_review **ret);

/* ---- the danger table (learn_danger.c): pure data, one place ------------- */

enum learn_on {
	LEARN_ON_READ,                  /* a path read */
	LEARN_ON_WRITE,                 /* a path written (and so readable) */
	LEARN_ON_EXEC,                  /* an executable */
	LEARN_ON_API,                   /* an API resource ("pods/exec", "apps/deployments") with a verb */
};

/* Why @subject (with @verb for LEARN_ON_API, else NULL) looks dangerous,
 * or NULL.  The text is a static phrase with no newline. */
const char *learn_danger(enum learn_on on, const char *subject, const char *verb);
/* Whether @dir may be written as one pattern (@dir, a slash, a star) for paths of
 * @on: false when @dir is the root or lies above (or inside) a location
 * the table names by absolute path, so a folded directory never covers
 * /etc/shadow or /proc/N/mem unseen. */
bool learn_dir_foldable(enum learn_on on, const char *dir);

#endif
