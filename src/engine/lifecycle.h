/* lifecycle.h - the life of an identity as a pure function: from what is
 * known of one ServiceAccount (is it named by pods or templates, when was
 * it last used, since when has the audit source been live) to its state,
 * and to what the controller may do about it.  No evidence of use is not
 * evidence of no use: idle time counts only while the audit source is
 * live, and from the account's creation at the earliest. */
#ifndef PG_LIFECYCLE_H
#define PG_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "idreport.h"

enum lifecycle_mode { LIFECYCLE_REPORT, LIFECYCLE_DISABLE, LIFECYCLE_RETIRE };

/* "Report", "Disable", "Retire"; -EINVAL otherwise. */
int lifecycle_mode_parse(const char *s, enum lifecycle_mode *ret);

struct lifecycle_policy {
	enum lifecycle_mode mode;
	int64_t unused_after;           /* seconds (--identity-unused-after, 90 days) */
	int64_t orphaned_after;         /* seconds (--identity-orphaned-after, 1 hour) */
	int64_t retire_after;           /* seconds (--identity-retire-after, 14 days) */
};

#define LIFECYCLE_POLICY_DEFAULT ((struct lifecycle_policy){ LIFECYCLE_REPORT, 2160 * 3600, 3600, 336 * 3600 })

/* What is known of one account.  Every time is epoch seconds from the
 * API server's clock or the controller's receipt of audit batches; -1 is
 * unknown or never. */
struct lifecycle_facts {
	int64_t now;
	int64_t created;                /* the ServiceAccount's creationTimestamp */
	bool named;                     /* a pod not finished runs as it, or a template names it */
	int64_t last_named;             /* when it was last seen named */
	int64_t last_used;              /* last successful API call (audit log, legacy-token-last-used) */
	int64_t live_since;             /* start of the audit source's current live span; -1: not live */
	bool disabled;                  /* it carries profileguard.io/disabled-since */
	int64_t disabled_since;
	int64_t last_attempt;           /* last attempt to use it while disabled */
	bool protected_;                /* never disabled nor retired (default, kube-system, ignore label, ...) */
};

enum lifecycle_action {
	LIFECYCLE_NONE,
	LIFECYCLE_ACT_DISABLE,          /* annotate it, invalidate its legacy tokens */
	LIFECYCLE_ACT_RETIRE,           /* delete it (uid and resourceVersion preconditions) */
};

struct lifecycle_verdict {
	enum identity_state state;
	enum lifecycle_action action;
	bool unused_token;              /* UnusedToken: its pods mount a token it never uses */
	int64_t idle_since;             /* where its idle clock starts; -1: not idle */
};

/* The state of @f under @p, and the action the mode allows:
 *   Disabled  while the annotation is there; Retire once nothing tried to
 *             use it for retire_after (mode Retire, not protected).
 *   Active    named by a pod or template, or used within unused_after,
 *             unless it is provably Unused.
 *   Unused    named, and idle (no call) for unused_after of live audit.
 *   Orphaned  not named and idle for orphaned_after of live audit, since
 *             it was last named: Disable (modes Disable and Retire, not
 *             protected).
 *   Unknown   otherwise: the audit source has not been live long enough
 *             to say, and nothing is done. */
void lifecycle_judge(const struct lifecycle_policy *p, const struct lifecycle_facts *f,
		     struct lifecycle_verdict *ret);

/* The label that keeps an account (or every account of a namespace) out
 * of the lifecycle's actions. */
#define LIFECYCLE_LABEL "profileguard.io/lifecycle"

/* What the never-touch list looks at. */
struct lifecycle_subject {
	const char *ns, *name;
	const char *own_ns;             /* the controller's namespace; NULL: none */
	bool ns_ignored;                /* --ignore-namespaces, or labelled profileguard.io/ignore=true */
	const char *sa_label;           /* LIFECYCLE_LABEL on the account; NULL: none */
	const char *ns_label;           /* ... on its namespace; NULL: none */
};

/* Why @s is never disabled nor retired, or NULL when it may be: the
 * default ServiceAccount of any namespace; kube-system, kube-public,
 * kube-node-lease; the controller's own namespace; an ignored namespace;
 * profileguard.io/lifecycle=ignore on the account or its namespace.  The
 * one place that decides (lifecycle_facts.protected_). */
const char *lifecycle_protected(const struct lifecycle_subject *s);

#endif
