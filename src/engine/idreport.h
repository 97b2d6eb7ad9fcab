/* idreport.h - one ServiceAccount's report: what the controller (or the
 * offline inventory) knows of the identity, and its risk, as the status
 * of an IdentityReport.  The controller and `profileguard identities`
 * both write it here, so the cluster's reports and the CI's JSON hold the
 * same fields with the same meaning. */
#ifndef PG_IDREPORT_H
#define PG_IDREPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "risk.h"

struct idusage;

enum identity_state {
	IDSTATE_UNKNOWN,
	IDSTATE_ACTIVE,
	IDSTATE_UNUSED,
	IDSTATE_ORPHANED,
	IDSTATE_DISABLED,
};

const char *identity_state_name(enum identity_state s);     /* "Active", ... */

#define IDREPORT_MAX_WORKLOADS 16

struct idreport {
	const char *uid;                /* the ServiceAccount's; NULL: none known */
	enum identity_state state;
	int64_t state_since;            /* epoch seconds; -1: not written */
	uint32_t pods;                  /* pods not finished that run as it */
	/* "apps/Deployment/api" (no group for the core kinds), sorted,
	 * distinct; the first IDREPORT_MAX_WORKLOADS are written and the
	 * rest counted in workloadsOmitted. */
	const char *const *workloads;
	size_t nworkloads;
	struct {
		uint32_t bound;         /* pods with a projected token */
		uint32_t legacy_secrets;        /* service-account-token Secrets */
		uint32_t extended;      /* pods whose token the API server extends (3607 s) */
		bool automount;         /* the ServiceAccount's automountServiceAccountToken */
	} tokens;
	int64_t last_used;              /* epoch seconds within the UTC day; -1: never seen */
	const struct idusage *usage;    /* NULL or empty: no `usage` key */
	const struct risk_result *risk; /* NULL: not evaluated */
	int64_t evaluated;              /* epoch seconds of the Ready condition; -1: none */
	/* Unused: its pods mount a token it never uses (condition
	 * UnusedToken, since state_since). */
	bool unused_token;
};

/* The status object (new reference), or NULL when out of memory.  Keys
 * whose value is unknown are left out (uid, stateSince, lastUsed). */
json_t *idreport_status(const struct idreport *r);

/* "YYYY-MM-DD" of @t (UTC) into @out (11 bytes). */
void idreport_day(int64_t t, char out[11]);

#endif
