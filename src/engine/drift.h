/* drift.h - a judgement's findings as reports for the action path: one
 * report per pod and profile, its findings grouped by reason (one Event
 * each).  Pure: the controller's judge and the telemetry ingest both build
 * their reports here, and hand them to whatever takes them (actions.h). */
#ifndef PG_DRIFT_H
#define PG_DRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* Limits on one report: more groups or evidence lines are cut, not
 * refused (the Event note is cut at 1 KiB anyway). */
#define DRIFT_MAX_GROUPS 16
#define DRIFT_MAX_EVIDENCE 32

/* One reason and the engine messages that prove it: one Event. */
struct drift_group {
	enum reason reason;
	const char *const *evidence;    /* engine messages (finding.message) */
	size_t nevidence;
};

/* Everything an action needs, copied by actions_submit(): the caller's
 * strings may go away as soon as it returns. */
struct drift_report {
	/* The pod. */
	const char *namespace;
	const char *pod;
	const char *uid;
	const char *node;               /* NULL: unknown */
	const char *owner_kind;         /* the controller ownerReference; NULL: none */
	const char *owner_name;
	const char *owner_uid;
	/* The pod is gone (telemetry's TokenReplay after deletion, say): the
	 * Event is still written, nothing is acted on. */
	bool no_pod;
	/* The profile that found it, in the pod's namespace. */
	const char *profile;
	const char *profile_uid;
	enum pg_mode mode;
	enum action action;             /* response.action */
	int64_t grace_period;           /* response.gracePeriodSeconds; -1: the pod's own */
	/* Where its findings' evidence comes from (one judgement: one kind);
	 * with the pod's phase just before acting it decides whether the
	 * action still stands (engine_counts()). */
	enum evidence evidence;
	/* The findings, grouped by reason. */
	const struct drift_group *groups;
	size_t ngroups;
	int64_t observed;               /* epoch seconds; 0: now */
};

/* Fills the pod and profile fields of @r (zeroed first) from @pod and
 * @prof (both borrowed; @r points into them, so submit before they go
 * away). */
void drift_report_fill(struct drift_report *r, const struct pod *pod,
		       const struct profile *prof);

/* One profile's findings grouped by reason; the groups point into the
 * evidence table, so a struct drift_groups is filled in place, never
 * copied. */
struct drift_groups {
	struct drift_group g[DRIFT_MAX_GROUPS];
	const char *ev[DRIFT_MAX_GROUPS][DRIFT_MAX_EVIDENCE];
	size_t n;
};

/* Groups the findings of @prof among the first @n of @f by reason, in the
 * engine's order, into @ret: past DRIFT_MAX_GROUPS reasons or
 * DRIFT_MAX_EVIDENCE messages a group, the rest is left out.  @keep (NULL:
 * every one) says which of the @n findings count; @want (NULL: every
 * reason) is asked, before a reason gets its group, whether it gets one
 * (a reason already reported, say).  Returns ret->n. */
size_t drift_group_findings(const struct findings *f, size_t n, const bool *keep,
			    const struct profile *prof,
			    bool (*want)(void *ud, enum reason reason), void *ud,
			    struct drift_groups *ret);

#endif
