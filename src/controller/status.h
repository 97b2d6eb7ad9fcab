/* status.h - a WorkloadProfile's status, built from what the controller
 * knows of it. */
#ifndef PG_STATUS_H
#define PG_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"

struct status_profile {
	int64_t generation;             /* metadata.generation */
	bool valid;
	const char *invalid_message;    /* the validation messages, joined */
	/* Invalid: the last valid generation, still enforced (SPEC §2);
	 * 0: none, nothing is. */
	int64_t enforced_generation;
	/* The enforced generation came from status.enforcedSpec (a restart
	 * while the profile was invalid), not from memory. */
	bool restored;
	/* status.enforcedGeneration as the cluster has it (0: none). */
	int64_t stored_generation;
	/* The spec of the enforced generation (valid: this one), borrowed,
	 * and its size (status_spec_bytes()); recorded in status when that
	 * generation is not the one stored.  NULL: not at hand. */
	json_t *enforced_spec;
	size_t enforced_spec_bytes;
	int64_t matched;                /* pods it selects now */
	int64_t violations;             /* since creation */
	bool has_last;                  /* a violation this term: write lastViolation */
	const char *last_pod;
	const char *last_reason;
	const char *last_message;
	int64_t last_time;              /* epoch seconds */
	/* The Ready condition as the cluster has it now: its lastTransitionTime
	 * is kept unless the status changes. */
	const char *prev_ready;         /* "True", "False", NULL: none */
	const char *prev_transition;    /* RFC 3339, NULL: none */
};

/* The most status.enforcedSpec holds, serialized: a bigger spec is not
 * recorded (and the Ready condition says so), never cut. */
#define STATUS_ENFORCED_SPEC_MAX PROFILE_ENFORCED_SPEC_MAX

/* The size of @spec serialized compactly, as status.enforcedSpec is
 * measured against STATUS_ENFORCED_SPEC_MAX. */
size_t status_spec_bytes(const json_t *spec);
/* The status object for a merge patch of /status (a new reference), or
 * NULL on allocation failure.  @now is epoch seconds. */
json_t *status_build(const struct status_profile *s, int64_t now);
/* The messages of @errs joined with "; ", cut at @max bytes (new string). */
char *status_join_messages(const char *const *msgs, size_t n, size_t max);

#endif
