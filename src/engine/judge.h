/* judge.h - internal to the engine: how a rule turns into a finding, shared
 * by the admission rules (engine.c) and the telemetry judgements
 * (runtime.c) so both write the one SPEC §3 sentence form. */
#ifndef PG_JUDGE_H
#define PG_JUDGE_H

#include <stddef.h>

#include "engine.h"

struct judge {
	const struct profile *prof;
	const struct pod *pod;
	const struct engine_ctx *ctx;
	struct findings *out;
	enum evidence evidence;         /* stamped on every finding; EV_SPEC when zeroed */
	int err;
};

/* Adds one finding: "@path: <what, from @fmt> @verb by ns/name @rule".
 * @value is the whole value judged (copied into the finding, uncut: what
 * finding_same() compares), NULL when the message holds it all.  Past
 * out->max it is counted, not kept; on allocation failure j->err is set
 * and later calls do nothing. */
void judge_add(struct judge *j, enum reason reason, const char *rule, const char *path,
	       const char *value, const char *verb, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* @s quoted for a message: JSON-escaped (a newline or an escape sequence
 * cannot forge a line in a terminal) and cut at 240 bytes.  Into @tmp. */
const char *judge_quote(const char *s, char *tmp, size_t n);

#endif
