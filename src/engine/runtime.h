/* runtime.h - the telemetry judgements of SPEC §4/§5, beside the
 * admission rules: one observed event (an exec, a connection, a file
 * open, a token's claims, an API call from the audit log) against a
 * profile.  Pure: the caller attributes the event to a pod, supplies the
 * time, and keeps the per-pod rate windows. */
#ifndef PG_RUNTIME_H
#define PG_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "netaddr.h"

enum runtime_kind { RUNTIME_EXEC, RUNTIME_CONNECT, RUNTIME_OPEN, RUNTIME_TOKEN, RUNTIME_API };

struct runtime_event {
	enum runtime_kind kind;
	int64_t time;                   /* when it was observed, epoch seconds */
	const char *container;          /* name when known; NULL: the pod */

	/* RUNTIME_EXEC */
	const char *exe;
	/* RUNTIME_CONNECT */
	struct netaddr daddr;
	uint16_t dport;
	const char *protocol;           /* "tcp", "udp"; NULL: unknown */
	/* RUNTIME_OPEN */
	const char *path;
	bool write;
	/* RUNTIME_TOKEN: the claims of the pod's projected token file */
	int64_t iat;                    /* -1: unknown */
	int64_t exp;                    /* -1: unknown */
	/* RUNTIME_API: one audit event of the pod's own identity */
	const char *username;           /* system:serviceaccount:NS:NAME */
	const char *verb;
	const char *api_group;          /* "" for core */
	const char *resource;
	const char *subresource;        /* NULL or "" when none */
	const char *object_name;        /* NULL for collections */
	const char *object_namespace;
	bool stale_token;               /* authentication.k8s.io/stale-token */
	bool legacy_token;              /* authentication.k8s.io/legacy-token */
};

/* Judges @ev from @pod against @prof (which selects the pod; the caller
 * checked).  Appends UnexpectedExecutable, UnexpectedEgress,
 * UnexpectedFileAccess, UnexpectedAPICall, StaleToken or LegacyToken
 * findings; the last two, identity reasons, only when @prof has an
 * identity section.  Loopback connections are not egress and are never judged.
 * A read is allowed by files.read or files.write, a write only by
 * files.write.  Non-resource API calls (discovery, /healthz) are not
 * judged.  Findings of RUNTIME_API carry EV_AUDIT, the others EV_NODE; a pod
 * that has finished is judged on RUNTIME_API only (engine_counts()).  0 or
 * -ENOMEM. */
int runtime_judge(const struct profile *prof, const struct pod *pod, const struct runtime_event *ev,
		  struct findings *out);

/* The canonical resource string an API call is matched on: "configmaps",
 * "apps/deployments", "pods/log", "apps/deployments/scale".  Into @out. */
void runtime_api_resource(const char *group, const char *resource, const char *subresource,
			  char *out, size_t n);

/* APIRateExceeded: @calls in the last minute against
 * runtime.maxAPICallsPerMinute.  EV_AUDIT, whatever the phase.  0 or
 * -ENOMEM. */
int runtime_judge_rate(const struct profile *prof, const struct pod *pod, const char *username,
		       uint32_t calls, struct findings *out);

/* TokenReplay (SPEC §4): a call with a token bound to @pod, received by
 * the API server at @received (the audit event's requestReceivedTimestamp,
 * epoch seconds, the API server's clock; -1 unknown), from @source_ip.
 * @gone: the pod has been deleted and @pod is what was known of it; its
 * deletion_time (deletionTimestamp, the API server's clock; -1 unknown) is
 * when it went.  A replay is
 *   - a call received after the pod was deleted (both times known and in
 *     the API server's clock: never a local one), or
 *   - a call from an address that is neither the pod's nor its node's
 *     (status.hostIPs: masquerading and some CNIs put a pod's calls there);
 *     a pod with no address known is not judged on address.
 * A late audit batch about a call made while the pod lived is judged as
 * that call was.  Judged only when @prof has an identity section.
 * EV_AUDIT, whatever the phase.  0 or -ENOMEM. */
int runtime_judge_replay(const struct profile *prof, const struct pod *pod, bool gone,
			 int64_t received, const char *source_ip, const char *username,
			 struct findings *out);

/* A sliding one-minute counter in one-second buckets: small enough to
 * keep one per pod. */
struct runtime_ratewin {
	int64_t head;                   /* the second of buckets[head % 60] */
	uint32_t buckets[60];
	uint32_t total;
};

void runtime_ratewin_init(struct runtime_ratewin *w);
/* Counts @n calls at @now (epoch seconds; earlier times count as now) and
 * returns the calls in the 60 seconds ending at @now. */
uint32_t runtime_ratewin_add(struct runtime_ratewin *w, int64_t now, uint32_t n);

#endif
