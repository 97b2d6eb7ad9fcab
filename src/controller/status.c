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

static json_t *time_string(int64_t epoch)
{
	struct timespec ts = { (time_t)epoch, 0 };
	char t[KUBE_TIME_MAX];

	if (kube_time_format(&ts, 0, t) < 0)
		return json_null();
	return json_string(t);
}

static json_t *ready_condition(const struct pstatus *s, int64_t now)
{
	const char *status = s->valid ? "True" : "False";
	json_t *c, *ltt;

	if (s->prev_ready && s->prev_transition && strcmp(s->prev_ready, status) == 0)
		ltt = json_string(s->prev_transition);
	else
		ltt = time_string(now);
	c = json_pack("{ss ss ss ss so* sI}", "type", "Ready", "status", status,
		      "reason", s->valid ? "Accepted" : "Invalid",
		      "message", s->valid ? "" : (s->invalid_message ? s->invalid_message : ""),
		      "lastTransitionTime", ltt,
		      "observedGeneration", (json_int_t)s->generation);
	return c;
}

json_t *status_build(const struct pstatus *s, int64_t now)
{
	json_t *st, *cond;

	cond = ready_condition(s, now);
	if (!cond)
		return NULL;
	st = json_pack("{sI sI sI s[o]}", "observedGeneration", (json_int_t)s->generation,
		       "matchedPods", (json_int_t)(s->valid ? s->matched : 0),
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
