/* status.c - a WorkloadProfile's status (SPEC §2) as the controller writes
 * it: observedGeneration, matchedPods, violations, lastViolation and the
 * Ready condition, whose lastTransitionTime moves only when its status
 * does.  Pure: the caller gathers the facts and sends the patch. */
#include "ctl.h"

#include <string.h>
#include <time.h>

#include "buf.h"
#include "kube_util.h"
#include "xalloc.h"

/* The joined messages (at most 4 KiB) and the generations before them. */
#define READY_MESSAGE_MAX 8192

static json_t *time_string(int64_t epoch)
{
	struct timespec ts = { (time_t)epoch, 0 };
	char t[KUBE_TIME_MAX];

	if (kube_time_format(&ts, 0, t) < 0)
		return json_null();
	return json_string(t);
}

/* The condition's message: the validation messages, led, when an older
 * generation is still enforced, by which one (SPEC §2), so that
 * kubectl describe says both what is wrong and what holds meanwhile. */
static char *ready_message(const struct pstatus *s)
{
	struct buf b = BUF_INIT(READY_MESSAGE_MAX);
	char *out;

	if (s->valid)
		return pg_strdup("");
	if (s->enforced_generation > 0 &&
	    buf_printf(&b, "generation %lld is invalid, generation %lld stays enforced: ",
		       (long long)s->generation, (long long)s->enforced_generation) < 0) {
		buf_free(&b);
		return NULL;
	}
	/* The messages were cut to fit already (status_join_messages). */
	if (buf_adds(&b, s->invalid_message ? s->invalid_message : "") < 0) {
		buf_free(&b);
		return NULL;
	}
	out = b.len ? buf_steal(&b) : pg_strdup("");
	buf_free(&b);
	return out;
}

static json_t *ready_condition(const struct pstatus *s, int64_t now)
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

json_t *status_build(const struct pstatus *s, int64_t now)
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
