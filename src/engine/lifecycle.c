/* lifecycle.c - an identity's state from its facts (lifecycle.h).  The
 * idle clock of an account starts at the latest of: its creation, its
 * last use, the last time a pod or template named it (for Orphaned), and
 * the start of the audit source's current live span, so an outage of the
 * audit source, a restart of the controller or a young account never
 * reads as idleness. */
#include "lifecycle.h"

#include <errno.h>
#include <string.h>

int lifecycle_mode_parse(const char *s, enum lifecycle_mode *ret)
{
	static const char *const names[] = { "Report", "Disable", "Retire" };

	for (int i = 0; s && i < 3; i++) {
		if (!strcmp(s, names[i])) {
			*ret = (enum lifecycle_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *lifecycle_protected(const struct lifecycle_subject *s)
{
	static const char *const system[] = { "kube-system", "kube-public", "kube-node-lease" };

	if (!s->ns || !s->name)
		return "no name";
	if (!strcmp(s->name, "default"))
		return "the namespace's default ServiceAccount";
	for (size_t i = 0; i < sizeof(system) / sizeof(system[0]); i++)
		if (!strcmp(s->ns, system[i]))
			return "a system namespace";
	if (s->own_ns && !strcmp(s->ns, s->own_ns))
		return "the controller's own namespace";
	if (s->ns_ignored)
		return "an ignored namespace";
	if (s->sa_label && !strcmp(s->sa_label, "ignore"))
		return "labelled " LIFECYCLE_LABEL "=ignore";
	if (s->ns_label && !strcmp(s->ns_label, "ignore"))
		return "its namespace is labelled " LIFECYCLE_LABEL "=ignore";
	return NULL;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

void lifecycle_judge(const struct lifecycle_policy *p, const struct lifecycle_facts *f,
		     struct lifecycle_verdict *ret)
{
	int64_t idle;

	memset(ret, 0, sizeof(*ret));
	ret->idle_since = -1;
	if (f->disabled) {
		/* Only the annotation's removal re-enables; an attempt to use
		 * it, a pod or template naming it again among them, restarts
		 * the retirement clock. */
		int64_t quiet = max64(max64(f->disabled_since, f->last_attempt), f->named ? f->now : -1);

		ret->state = IDSTATE_DISABLED;
		if (p->mode == LIFECYCLE_RETIRE && !f->protected_ && quiet >= 0 && f->now - quiet >= p->retire_after)
			ret->action = LIFECYCLE_ACT_RETIRE;
		return;
	}
	/* Idle time needs a live audit source: without one, nothing is idle. */
	if (f->live_since >= 0) {
		idle = max64(max64(f->created, f->last_used), f->live_since);
		ret->idle_since = idle;
		if (f->named) {
			if (f->now - idle >= p->unused_after) {
				ret->state = IDSTATE_UNUSED;
				ret->unused_token = true;
				return;
			}
		} else {
			idle = max64(idle, f->last_named);
			ret->idle_since = idle;
			if (f->now - idle >= p->orphaned_after) {
				ret->state = IDSTATE_ORPHANED;
				if (p->mode != LIFECYCLE_REPORT && !f->protected_)
					ret->action = LIFECYCLE_ACT_DISABLE;
				return;
			}
		}
	}
	if (f->named || (f->last_used >= 0 && f->now - f->last_used < p->unused_after))
		ret->state = IDSTATE_ACTIVE;
	else
		ret->state = IDSTATE_UNKNOWN;
}
