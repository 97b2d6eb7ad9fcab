/* drift.c - findings into drift reports: the one grouping of a
 * judgement's findings by profile and reason that the controller and the
 * telemetry ingest both submit. */
#include "drift.h"

#include <string.h>

void drift_report_fill(struct drift_report *r, const struct pod *pod,
		       const struct profile *prof)
{
	memset(r, 0, sizeof(*r));
	r->namespace = pod->namespace;
	r->pod = pod->name;
	r->uid = pod->uid;
	r->node = pod->node_name;
	r->owner_kind = pod->owner_kind;
	r->owner_name = pod->owner_name;
	r->owner_uid = pod->owner_uid;
	r->profile = prof->name;
	r->profile_uid = prof->uid;
	r->mode = prof->mode;
	r->action = prof->response.action;
	r->grace_period = prof->response.grace_period;
}

size_t drift_group_findings(const struct findings *f, size_t n, const bool *keep,
			    const struct profile *prof,
			    bool (*want)(void *ud, enum reason reason), void *ud,
			    struct drift_groups *ret)
{
	size_t ng = 0;

	for (size_t k = 0; k < n && k < f->n; k++) {
		const struct finding *fd = &f->v[k];
		size_t j;

		if ((keep && !keep[k]) || fd->profile != prof)
			continue;
		for (j = 0; j < ng && ret->g[j].reason != fd->reason; j++)
			;
		if (j == ng) {
			if (ng == DRIFT_MAX_GROUPS || (want && !want(ud, fd->reason)))
				continue;
			ret->g[ng].reason = fd->reason;
			ret->g[ng].evidence = ret->ev[ng];
			ret->g[ng].nevidence = 0;
			ng++;
		}
		if (ret->g[j].nevidence < DRIFT_MAX_EVIDENCE)
			ret->ev[j][ret->g[j].nevidence++] = fd->message;
	}
	ret->n = ng;
	return ng;
}
