/* idreport.c - an IdentityReport's status from what is known of one
 * ServiceAccount.  Findings are written most severe first as risk_judge()
 * sorted them; a report stays far under its 16 KB bound: 32 findings of
 * at most 256 + 512 bytes and 16 workload names. */
#include "idreport.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "idusage.h"
#include "rfc3339.h"

static const char *const state_names[] = {
	[IDSTATE_UNKNOWN] = "Unknown",
	[IDSTATE_ACTIVE] = "Active",
	[IDSTATE_UNUSED] = "Unused",
	[IDSTATE_ORPHANED] = "Orphaned",
	[IDSTATE_DISABLED] = "Disabled",
};

const char *identity_state_name(enum identity_state s)
{
	return (unsigned)s <= IDSTATE_DISABLED ? state_names[s] : "Unknown";
}

void idreport_day(int64_t t, char out[11])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(out, 11, "%Y-%m-%d", &tm) != 10)
		snprintf(out, 11, "1970-01-01");
}

static int set_time(json_t *o, const char *key, int64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)t, .tv_nsec = 0 };
	char buf[RFC3339_MAX];

	if (rfc3339_format(&ts, 0, buf) < 0)
		return -1;
	return json_object_set_new(o, key, json_string(buf));
}

static json_t *risk_json(const struct risk_result *r)
{
	json_t *o = json_object(), *fs = json_array();

	if (!o || !fs || json_object_set_new(o, "level", json_string(risk_level_name(r->level))) < 0)
		goto fail;
	for (size_t i = 0; i < r->nfindings; i++) {
		const struct risk_finding *f = &r->findings[i];

		if (json_array_append_new(fs, json_pack("{s:s, s:s, s:s, s:s}", "rule", risk_rule_name(f->rule),
							"severity", risk_level_name(risk_rule_severity(f->rule)),
							"grant", f->grant, "via", f->via)) < 0)
			goto fail;
	}
	if (json_object_set_new(o, "findings", fs) < 0)
		goto fail_o;
	if (r->omitted && json_object_set_new(o, "findingsOmitted", json_integer((json_int_t)r->omitted)) < 0)
		goto fail_o;
	return o;
fail:
	json_decref(fs);
fail_o:
	json_decref(o);
	return NULL;
}

json_t *idreport_status(const struct idreport *r)
{
	json_t *s = json_object(), *wl = json_array(), *v;
	size_t shown = r->nworkloads < IDREPORT_MAX_WORKLOADS ? r->nworkloads : IDREPORT_MAX_WORKLOADS;
	char day[11];

	if (!s || !wl)
		goto fail;
	if (r->uid && json_object_set_new(s, "serviceAccountUID", json_string(r->uid)) < 0)
		goto fail;
	if (json_object_set_new(s, "state", json_string(identity_state_name(r->state))) < 0)
		goto fail;
	if (r->state_since >= 0 && set_time(s, "stateSince", r->state_since) < 0)
		goto fail;
	if (json_object_set_new(s, "pods", json_integer(r->pods)) < 0)
		goto fail;
	for (size_t i = 0; i < shown; i++)
		if (json_array_append_new(wl, json_string(r->workloads[i])) < 0)
			goto fail;
	v = wl;
	wl = NULL;
	if (json_object_set_new(s, "workloads", v) < 0)
		goto fail;
	if (r->nworkloads > shown &&
	    json_object_set_new(s, "workloadsOmitted", json_integer((json_int_t)(r->nworkloads - shown))) < 0)
		goto fail;
	if (json_object_set_new(s, "tokens", json_pack("{s:I, s:I, s:I, s:b}", "bound", (json_int_t)r->tokens.bound,
						       "legacySecrets", (json_int_t)r->tokens.legacy_secrets,
						       "extended", (json_int_t)r->tokens.extended,
						       "automount", r->tokens.automount)) < 0)
		goto fail;
	if (r->last_used >= 0) {
		idreport_day(r->last_used, day);
		if (json_object_set_new(s, "lastUsed", json_string(day)) < 0)
			goto fail;
	}
	if (r->usage && r->usage->n && json_object_set_new(s, "usage", idusage_json(r->usage)) < 0)
		goto fail;
	if (r->usage && r->usage->omitted &&
	    json_object_set_new(s, "usageOmitted", json_integer((json_int_t)r->usage->omitted)) < 0)
		goto fail;
	if (r->risk && json_object_set_new(s, "risk", risk_json(r->risk)) < 0)
		goto fail;
	if (r->evaluated >= 0) {
		json_t *c = json_pack("{s:s, s:s, s:s}", "type", "Ready", "status", "True", "reason", "Evaluated");

		if (!c || set_time(c, "lastTransitionTime", r->evaluated) < 0) {
			json_decref(c);
			goto fail;
		}
		/* "o" takes @c, also when the pack fails. */
		if (json_object_set_new(s, "conditions", json_pack("[o]", c)) < 0)
			goto fail;
		if (r->unused_token) {
			json_t *u = json_pack("{s:s, s:s, s:s, s:s}", "type", "UnusedToken", "status", "True",
					      "reason", "NoAPICalls", "message",
					      "Its pods mount a token they never use: set "
					      "automountServiceAccountToken: false.");

			if (!u || set_time(u, "lastTransitionTime", r->state_since >= 0 ? r->state_since
											 : r->evaluated) < 0) {
				json_decref(u);
				goto fail;
			}
			/* Takes @u, also when it fails. */
			if (json_array_append_new(json_object_get(s, "conditions"), u) < 0)
				goto fail;
		}
	}
	return s;
fail:
	json_decref(wl);
	json_decref(s);
	return NULL;
}
