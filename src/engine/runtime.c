/* runtime.c - telemetry judgements: what a workload was seen doing,
 * against its profile's runtime section and identity rules.  The
 * messages keep the admission form, with the actor where a field path
 * would be:  container "api": exec "/bin/sh" not allowed by ns/p
 * runtime.executables */
#include "runtime.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "judge.h"
#include "strutil.h"

static void actor(const struct pod *pod, const struct runtime_event *ev, char *out, size_t n)
{
	char tmp[300];

	if (ev->container)
		snprintf(out, n, "container %s", judge_quote(ev->container, tmp, sizeof(tmp)));
	else
		snprintf(out, n, "pod %s/%s", pod->namespace, pod->name);
}

static bool any_match(const struct strv *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (glob_match(v->v[i], s))
			return true;
	return false;
}

static bool loopback(const struct netaddr *a)
{
	static const uint8_t v6_loop[16] = { [15] = 1 };

	if (a->family == 4)
		return a->bytes[0] == 127;
	return memcmp(a->bytes, v6_loop, 16) == 0;
}

static bool egress_allowed(const struct profile *p, const struct runtime_event *ev)
{
	for (size_t i = 0; i < p->runtime.negress; i++) {
		const struct egress_rule *r = &p->runtime.egress[i];

		if (!cidr_contains(&r->net, &ev->daddr))
			continue;
		if (r->nports == 0)
			return true;
		for (size_t k = 0; k < r->nports; k++)
			if (r->ports[k] == ev->dport)
				return true;
	}
	return false;
}

void runtime_api_resource(const char *group, const char *resource, const char *subresource,
			  char *out, size_t n)
{
	snprintf(out, n, "%s%s%s%s%s", group && *group ? group : "", group && *group ? "/" : "",
		 resource ? resource : "", subresource && *subresource ? "/" : "",
		 subresource && *subresource ? subresource : "");
}

static bool api_allowed(const struct profile *p, const struct runtime_event *ev)
{
	char res[512];

	runtime_api_resource(ev->api_group, ev->resource, ev->subresource, res, sizeof(res));
	for (size_t i = 0; i < p->runtime.napi; i++) {
		const struct api_rule *r = &p->runtime.api[i];
		bool verb = false, resource = false, name = true;

		for (size_t k = 0; k < r->verbs.n && !verb; k++)
			verb = strcmp(r->verbs.v[k], "*") == 0 || strcmp(r->verbs.v[k], ev->verb) == 0;
		for (size_t k = 0; k < r->resources.n && !resource; k++)
			resource = glob_match(r->resources.v[k], res);
		/* As in RBAC: names restrict calls on named objects, so a
		 * list or watch (no name) is not covered by a named rule. */
		if (r->names.n) {
			name = false;
			for (size_t k = 0; ev->object_name && k < r->names.n && !name; k++)
				name = strcmp(r->names.v[k], ev->object_name) == 0;
		}
		if (verb && resource && name)
			return true;
	}
	return false;
}

static void judge_token(struct judge *j, const struct runtime_event *ev, const char *who)
{
	const struct profile *p = j->prof;

	if (ev->exp >= 0 && ev->time > ev->exp) {
		/* The kubelet refreshes projected tokens at 80% of their
		 * life: one past its expiry was not rotated. */
		judge_add(j, R_STALE_TOKEN, "identity.maxTokenAgeSeconds", who, NULL, "not allowed",
			  "token expired %lld s ago and was not rotated,", (long long)(ev->time - ev->exp));
		return;
	}
	if (p->identity.max_token_age >= 0 && ev->iat >= 0 && ev->time - ev->iat > p->identity.max_token_age)
		judge_add(j, R_STALE_TOKEN, "identity.maxTokenAgeSeconds", who, NULL, "not allowed",
			  "token issued %lld s ago exceeds %lld,", (long long)(ev->time - ev->iat),
			  (long long)p->identity.max_token_age);
}

int runtime_judge(const struct profile *prof, const struct pod *pod, const struct runtime_event *ev,
		  struct findings *out)
{
	struct judge j = { .prof = prof, .pod = pod, .out = out,
			   .evidence = ev->kind == RUNTIME_API ? EV_AUDIT : EV_NODE };
	char who[400], tmp[600], addr[64];

	if (!engine_counts(pod, j.evidence))
		return 0;
	actor(pod, ev, who, sizeof(who));
	switch (ev->kind) {
	case RUNTIME_EXEC:
		if (prof->runtime.executables.set && ev->exe && !any_match(&prof->runtime.executables, ev->exe))
			judge_add(&j, R_UNEXPECTED_EXECUTABLE, "runtime.executables", who, ev->exe, "not allowed",
				  "exec %s", judge_quote(ev->exe, tmp, sizeof(tmp)));
		break;
	case RUNTIME_CONNECT:
		if (!prof->runtime.egress_set || loopback(&ev->daddr) || egress_allowed(prof, ev))
			break;
		if (!inet_ntop(ev->daddr.family == 4 ? AF_INET : AF_INET6, ev->daddr.bytes, addr, sizeof(addr)))
			snprintf(addr, sizeof(addr), "?");
		judge_add(&j, R_UNEXPECTED_EGRESS, "runtime.egress", who, NULL, "not allowed",
			  ev->daddr.family == 6 ? "connect [%s]:%u%s%s" : "connect %s:%u%s%s", addr,
			  ev->dport, ev->protocol ? "/" : "", ev->protocol ? ev->protocol : "");
		break;
	case RUNTIME_OPEN:
		if (!ev->path)
			break;
		if (ev->write) {
			if (prof->runtime.files_write.set && !any_match(&prof->runtime.files_write, ev->path))
				judge_add(&j, R_UNEXPECTED_FILE_ACCESS, "runtime.files.write", who, ev->path, "not allowed",
					  "write %s", judge_quote(ev->path, tmp, sizeof(tmp)));
		} else if (prof->runtime.files_read.set && !any_match(&prof->runtime.files_read, ev->path) &&
			   !any_match(&prof->runtime.files_write, ev->path)) {
			judge_add(&j, R_UNEXPECTED_FILE_ACCESS, "runtime.files.read", who, ev->path, "not allowed",
				  "read %s", judge_quote(ev->path, tmp, sizeof(tmp)));
		}
		break;
	case RUNTIME_TOKEN:
		if (prof->identity.set)
			judge_token(&j, ev, who);
		break;
	case RUNTIME_API: {
		char res[512], id[400];

		snprintf(id, sizeof(id), "identity %s", judge_quote(ev->username ? ev->username : "?", tmp, sizeof(tmp)));
		if (ev->legacy_token && prof->identity.legacy_token_secrets == KNOB_FORBID)
			judge_add(&j, R_LEGACY_TOKEN, "identity.legacyTokenSecrets", id, NULL, "forbidden",
				  "API call with a legacy service-account token Secret");
		if (ev->stale_token && prof->identity.set)
			judge_add(&j, R_STALE_TOKEN, "identity", id, NULL, "reported",
				  "API call with a stale token (the API server flagged it),");
		if (!prof->runtime.api_set || !ev->verb || !ev->resource || !*ev->resource)
			break;
		if (api_allowed(prof, ev))
			break;
		runtime_api_resource(ev->api_group, ev->resource, ev->subresource, res, sizeof(res));
		judge_add(&j, R_UNEXPECTED_API_CALL, "runtime.kubernetesAPI", id, NULL, "not allowed",
			  "%s %s%s%s%s%s", ev->verb, res, ev->object_name ? " " : "",
			  ev->object_name ? judge_quote(ev->object_name, tmp, sizeof(tmp)) : "",
			  ev->object_namespace && *ev->object_namespace ? " in " : "",
			  ev->object_namespace && *ev->object_namespace ? ev->object_namespace : "");
		break;
	}
	}
	return j.err;
}

int runtime_judge_rate(const struct profile *prof, const struct pod *pod, const char *username,
		       uint32_t calls, struct findings *out)
{
	struct judge j = { .prof = prof, .pod = pod, .out = out, .evidence = EV_AUDIT };
	char id[400], tmp[300];

	if (prof->runtime.max_api_calls_per_minute < 0 || (int64_t)calls <= prof->runtime.max_api_calls_per_minute)
		return 0;
	snprintf(id, sizeof(id), "identity %s", judge_quote(username ? username : "?", tmp, sizeof(tmp)));
	judge_add(&j, R_API_RATE_EXCEEDED, "runtime.maxAPICallsPerMinute", id, NULL, "not allowed",
		  "%u API calls in the last minute exceed %lld,", calls,
		  (long long)prof->runtime.max_api_calls_per_minute);
	return j.err;
}

int runtime_judge_replay(const struct profile *prof, const struct pod *pod, bool gone,
			 int64_t received, const char *source_ip, const char *username,
			 struct findings *out)
{
	struct judge j = { .prof = prof, .pod = pod, .out = out, .evidence = EV_AUDIT };
	char who[600], tmp[300], ip[300];

	if (!prof->identity.set)
		return 0;
	snprintf(who, sizeof(who), "token of pod %s/%s", pod->namespace, pod->name);
	/* Seconds on both sides (deletionTimestamp has no fraction): a call
	 * in the second the pod went is not provably after it. */
	if (gone && received >= 0 && pod->deletion_time >= 0 && received > pod->deletion_time) {
		judge_add(&j, R_TOKEN_REPLAY, "identity", who, source_ip, "reported",
			  "used by %s from %s %lld s after the pod was gone: a stolen token,",
			  judge_quote(username ? username : "?", tmp, sizeof(tmp)),
			  judge_quote(source_ip ? source_ip : "?", ip, sizeof(ip)),
			  (long long)(received - pod->deletion_time));
		return j.err;
	}
	if (source_ip && pod->nips && !pod_has_ip(pod, source_ip) && !pod_has_host_ip(pod, source_ip))
		judge_add(&j, R_TOKEN_REPLAY, "identity", who, source_ip, "reported",
			  "used from %s, not from the pod's address %s%s%s: a replayed token,",
			  judge_quote(source_ip, ip, sizeof(ip)), pod->ips[0],
			  pod->nhost_ips ? " or its node's " : "", pod->nhost_ips ? pod->host_ips[0] : "");
	return j.err;
}

void runtime_ratewin_init(struct runtime_ratewin *w)
{
	memset(w, 0, sizeof(*w));
}

uint32_t runtime_ratewin_add(struct runtime_ratewin *w, int64_t now, uint32_t n)
{
	if (w->head == 0 && w->total == 0)
		w->head = now;
	if (now > w->head) {
		/* Clear the buckets the window slid past (at most all 60). */
		int64_t steps = now - w->head;

		if (steps >= 60) {
			memset(w->buckets, 0, sizeof(w->buckets));
			w->total = 0;
		} else {
			for (int64_t t = w->head + 1; t <= now; t++) {
				uint32_t *b = &w->buckets[t % 60];

				w->total -= *b;
				*b = 0;
			}
		}
		w->head = now;
	}
	w->buckets[w->head % 60] += n;
	w->total += n;
	return w->total;
}
