/* judge.h - profiles and manifests loaded from files and judged by the
 * engine, offline: the one code `check` and `test` share, so the two can
 * never tell a manifest apart (private to src/cmd). */
#ifndef PG_JUDGE_H
#define PG_JUDGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "errlist.h"
#include "profile.h"
#include "rbac.h"

struct arena;
struct identity_index;
struct jval;

/* A Pod or pod template of the manifests. */
struct judge_item {
	char *label;            /* "file: document N" */
	char *file;
	size_t doc, sub;
	struct arena *arena;    /* owns obj */
	const struct jval *obj;
	struct pod *pod;        /* after judge_eval(); NULL when it failed */
};

/* A profile loaded from the profile inputs, where it came from and whether
 * it selected anything: kept sorted by key after loading. */
struct judge_pdef {
	char *key;              /* "ns/name" */
	char *label;            /* "file: document N" */
	char *file;
	char *real;             /* realpath(file), else file: one file named two ways */
	size_t doc, sub;
	bool used;
};

enum judge_warn_type { JUDGE_W_PROFILE_IN_MANIFESTS, JUDGE_W_NOT_JUDGED, JUDGE_W_SELECTS_NOTHING };

struct judge_warning {
	enum judge_warn_type type;
	char *file, *kind, *ns, *name;
	size_t doc, sub;
	char *text;             /* the stderr line, without the prefix */
};

/* Warnings are one per input object or profile; past this many they are
 * counted, as errors are. */
#define JUDGE_MAX_WARNINGS 1000
/* Errors kept (the rest counted). */
#define JUDGE_MAX_ERRORS 1000
/* A capture given to judge_events(). */
#define JUDGE_MAX_EVENTS_BYTES (256u * 1024 * 1024)

/* The profiles that judged an object: those that select it, and those
 * that reported on it without selecting it (identity binding), as
 * "ns/name", sorted and unique. */
struct judge_by {
	char (*v)[600];
	size_t n;
};

struct judge_event_counts {
	size_t events;
	size_t findings;
	size_t enforce;
	size_t unattributed;
};

struct judge {
	struct profile_set profiles;
	struct errlist errs;    /* bad input, each "FILE: ..." (docs/check.md) */
	char **token_secrets;   /* "ns/name", sorted after loading */
	size_t ntoken_secrets;
	struct judge_item *items;
	size_t nitems;
	size_t skipped;         /* objects of other kinds */
	size_t profile_docs;
	const char *default_ns; /* borrowed */
	struct judge_pdef *pdefs;
	size_t npdefs;
	struct judge_warning *warns;
	size_t nwarns, warns_dropped;
	/* judge_eval()'s counts, one per item judged */
	size_t passed, denied, warned, unjudged;
	struct judge_event_counts ev;
	/* RBAC of the manifests, for identity.maxRisk: the roles until
	 * loading ends (aggregation needs them all), then the index; NULL
	 * when the manifests hold none (risk is then not judged). */
	struct rbac_set rbac_objs;
	struct identity_index *rbac;
	struct risk_result *risk;       /* the last account judged, for the engine */
};

/* @default_ns (borrowed, outliving @j) is the namespace of objects and
 * profiles that name none. */
void judge_init(struct judge *j, const char *default_ns);
void judge_free(struct judge *j);

/* Reads every profile input, then every manifest input (files,
 * directories or "-").  Bad input goes to j->errs ("no WorkloadProfile
 * found in the -p inputs" when the profile inputs hold none).  0 or
 * -ENOMEM. */
int judge_load(struct judge *j, const char *const *profiles, size_t nprofiles,
	       const char *const *manifests, size_t nmanifests);

/* Called once per item judged, in input order; @it->pod is set.  All
 * arguments are borrowed for the call.  A negative return stops. */
typedef int (*judge_item_fn)(void *ud, const struct judge_item *it, const struct findings *f,
			     const struct judge_by *jb);

/* Judges every item with the engine, counts it, warns about objects no
 * profile judges and profiles that select nothing.  0, -ENOMEM or @fn's
 * error. */
int judge_eval(struct judge *j, judge_item_fn fn, void *ud);

/* Called once per event attributed to an item (after judge_eval()), with
 * the runtime findings of the profiles that select it (possibly none). */
typedef int (*judge_event_fn)(void *ud, const char *file, const struct judge_item *it,
			      const struct findings *f);

/* Judges the captured telemetry at @path (@format a telemetry_source name, or
 * NULL to detect) against the profiles of the items' workloads; counts go
 * to j->ev, bad input to j->errs.  0 when it was read (malformed records
 * are errors in j->errs), 1 when it could not be read at all (the error
 * is in j->errs), -ENOMEM or @fn's error. */
int judge_events(struct judge *j, const char *path, const char *format, judge_event_fn fn, void *ud);

/* A finding as the JSON object of docs/check.md; a new reference. */
json_t *judge_finding_json(const struct finding *f);

#endif
