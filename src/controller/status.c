/* status.c - a WorkloadProfile's status (SPEC §2) as the controller writes
 * it: observedGeneration, matchedPods, violations, lastViolation, the
 * Ready condition, whose lastTransitionTime moves only when its status
 * does, and the last valid generation's spec (enforcedGeneration,
 * enforcedSpec), which a restart reads back while the spec is invalid.  Pure: the caller gathers the facts and sends the patch. */
#include "status.h"

#include <string.h>
#include <time.h>

#include "buf.h"
#include "rfc3339.h"
#include "xalloc.h"

/* The joined messages (at most 4 KiB) and the generations before them. */
#define READY_MESSAGE_MAX 8192

static json_t *time_string(int64_t epoch)
{
	struct timespec ts = { (time_t)epoch, 0 };
	char t[RFC3339_MAX];

	if (rfc3339_format(&ts, 0, t) < 0)
		return json_null();
	return json_string(t);
}

/* Whether the enforced generation's spec is over STATUS_ENFORCED_SPEC_MAX,
 * so that a restart while the profile is invalid would find nothing. */
static bool spec_over_cap(const struct status_profile *s)
{
	return (s->valid || s->enforced_generation > 0) && !s->restored &&
	       s->enforced_spec_bytes > STATUS_ENFORCED_SPEC_MAX;
}

/* The condition's message: the validation messages, led, when an older
 * generation is still enforced, by which one and where it came from
 * (SPEC §2), so that kubectl describe says both what is wrong and what
 * holds meanwhile.  A spec too big to record is said too: over a cap is
 * never silent. */
static char *ready_message(const struct status_profile *s)
{
	struct buf b = BUF_INIT(READY_MESSAGE_MAX);
	char *out;
	int r = 0;

	if (s->valid) {
		if (spec_over_cap(s))
			r = buf_printf(&b, "status.enforcedSpec not recorded: the spec is %zu bytes, over the cap "
				       "of %d: a webhook or controller that starts while this profile is "
				       "invalid will not enforce it", s->enforced_spec_bytes,
				       STATUS_ENFORCED_SPEC_MAX);
		goto out;
	}
	if (s->enforced_generation > 0) {
		r = buf_printf(&b, "generation %lld is invalid, generation %lld stays enforced",
			       (long long)s->generation, (long long)s->enforced_generation);
		if (r == 0 && s->restored)
			r = buf_adds(&b, " (restored from status.enforcedSpec)");
		else if (r == 0 && spec_over_cap(s))
			r = buf_printf(&b, " (not recorded in status.enforcedSpec: %zu bytes, over the cap of %d)",
				       s->enforced_spec_bytes, STATUS_ENFORCED_SPEC_MAX);
		if (r == 0)
			r = buf_adds(&b, ": ");
	}
	/* The messages were cut to fit already (status_join_messages). */
	if (r == 0)
		r = buf_adds(&b, s->invalid_message ? s->invalid_message : "");
out:
	if (r < 0) {
		buf_free(&b);
		return NULL;
	}
	out = b.len ? buf_steal(&b) : pg_strdup("");
	buf_free(&b);
	return out;
}

static json_t *ready_condition(const struct status_profile *s, int64_t now)
{
	const char *status = s->valid ? "True" : "False";
	char *msg = ready_message(s);
	json_t *c, *ltt;

	if (!msg)
		return NULL;
	if (s->prev_ready && s->prev_transition && strcmp(s->prev_ready, status) == 0)
		ltt = json_string(s->prev_transition);
	else
		ltt = time_string(now);
	c = json_pack("{ss ss ss ss so* sI}", "type", "Ready", "status", status,
		      "reason", s->valid ? "Accepted" : "Invalid",
		      "message", msg,
		      "lastTransitionTime", ltt,
		      "observedGeneration", (json_int_t)s->generation);
	pg_free(msg);
	return c;
}

size_t status_spec_bytes(const json_t *spec)
{
	return spec ? json_dumpb(spec, NULL, 0, JSON_COMPACT) : 0;
}

/* The last valid generation, recorded for a webhook or controller that
 * starts while the profile is invalid (SPEC §2): only when it is not the
 * one the cluster shows already, so a spec is written once per valid
 * generation (in the write that moves observedGeneration), not with every
 * count.  Over the cap, enforcedSpec is removed (null in a merge patch)
 * rather than left at an older generation that is not the last valid. */
static int enforced_record(const struct status_profile *s, json_t *st)
{
	int64_t gen = s->valid ? s->generation : s->enforced_generation;
	json_t *spec;

	if (gen <= 0 || s->restored || gen == s->stored_generation)
		return 0;
	if (s->enforced_spec_bytes > STATUS_ENFORCED_SPEC_MAX)
		spec = json_null();
	else if (s->enforced_spec)
		spec = json_incref(s->enforced_spec);
	else
		return 0;       /* not at hand: nothing true to write */
	if (json_object_set_new(st, "enforcedSpec", spec) < 0 ||
	    json_object_set_new(st, "enforcedGeneration", json_integer(gen)) < 0)
		return -1;
	return 0;
}

json_t *status_build(const struct status_profile *s, int64_t now)
{
	json_t *st, *cond;

	cond = ready_condition(s, now);
	if (!cond)
		return NULL;
	st = json_pack("{sI sI sI s[o]}", "observedGeneration", (json_int_t)s->generation,
		       "matchedPods", (json_int_t)(s->valid || s->enforced_generation > 0 ? s->matched : 0),
		       "violations", (json_int_t)s->violations, "conditions", cond);
	if (!st)
		return NULL;
	if (enforced_record(s, st) < 0) {
		json_decref(st);
		return NULL;
	}
	if (s->has_last) {
		json_t *lv = json_pack("{ss ss ss so*}", "pod", s->last_pod ? s->last_pod : "",
				       "reason", s->last_reason ? s->last_reason : "",
				       "message", s->last_message ? s->last_message : "",
				       "time", time_string(s->last_time));

		if (!lv || json_object_set_new(st, "lastViolation", lv) < 0) {
			json_decref(st);
			return NULL;
		}
	}
	return st;
}

char *status_join_messages(const char *const *msgs, size_t n, size_t max)
{
	struct buf b = BUF_INIT(max);

	for (size_t i = 0; i < n; i++) {
		if (i && buf_adds(&b, "; ") < 0)
			break;
		if (buf_adds(&b, msgs[i]) < 0) {
			/* Keep what fits, whole characters only. */
			size_t room = max > b.len ? max - b.len : 0, k = strlen(msgs[i]);

			if (k > room)
				k = room;
			while (k > 0 && ((unsigned char)msgs[i][k] & 0xC0) == 0x80)
				k--;
			buf_add(&b, msgs[i], k);
			break;
		}
	}
	return buf_steal(&b);
}
