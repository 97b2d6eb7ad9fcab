/* telemetry.h - the four telemetry formats of SPEC §5 read into one event
 * shape: profileguard's native JSON lines, Falco http_output alerts,
 * Tetragon export lines, and audit.k8s.io/v1 EventLists.  Pure parsers:
 * bytes in, events out, malformed lines counted and skipped.  The same
 * parsers serve the controller's endpoints and `profileguard learn`. */
#ifndef PG_TELEMETRY_H
#define PG_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

enum telemetry_source { TELEMETRY_NATIVE, TELEMETRY_FALCO, TELEMETRY_TETRAGON, TELEMETRY_AUDIT, TELEMETRY__COUNT };

const char *telemetry_source_name(enum telemetry_source s);   /* "events", "falco", ... */

/* One observation, attributed by pod name or uid, or by container ID.
 * Strings are borrowed from the parser's arena and live only for the
 * callback. */
struct telemetry_event {
	enum telemetry_source source;
	struct runtime_event ev;             /* kind, time, container and the facts */
	const char *node;               /* the node that saw it; NULL unknown */
	const char *pod_namespace;      /* NULL when only a container ID is known */
	const char *pod_name;
	const char *pod_uid;
	const char *container_id;       /* full, prefixed or 12-hex short; NULL */
	/* RUNTIME_API only: the token's binding and where it was used from. */
	const char *bound_pod_name;     /* user.extra authentication.kubernetes.io/pod-name */
	const char *bound_pod_uid;      /* ... /pod-uid */
	const char *source_ip;          /* the last of sourceIPs: the connection's address */
	int code;                       /* RUNTIME_API: responseStatus.code; 0: absent */
	int64_t received;               /* requestReceivedTimestamp (the API server's
	                                 * clock), epoch seconds; -1: absent */
	const char *args;               /* exec arguments, joined (learn shows them) */
	const char *request_uri;        /* RUNTIME_API: requestURI; a call without
	                                 * objectRef is a non-resource URL */
	size_t line;                    /* where it was in the body: the line of
	                                 * JSON lines (1-based), 0 for one value */
	size_t item;                    /* the item of an EventList (1-based), 0 */
};

/* Called for each event; a negative return stops the batch with it. */
typedef int (*telemetry_fn)(void *ud, const struct telemetry_event *e);

struct telemetry_stats {
	size_t accepted;                /* events delivered */
	size_t rejected;                /* lines or items that were malformed */
	size_t ignored;                 /* well-formed but not for us (another
	                                 * stage, another Falco event type, ...) */
	char first_error[160];          /* the first rejection, for a log line */
};

/* Limits on what one request may make us parse. */
#define TELEMETRY_MAX_LINE (256u * 1024)
#define TELEMETRY_MAX_EVENTS 100000        /* per batch */

/* Parses @body (JSON lines, or for Falco one object or JSON lines, for
 * audit one EventList or Event per line) and calls @fn per event.
 * Counts go to @stats (zeroed first).  Returns 0, -E2BIG when the batch
 * holds more than TELEMETRY_MAX_EVENTS (the rest is not read), -ENOMEM, or the
 * callback's value. */
int telemetry_parse(enum telemetry_source src, const char *body, size_t len, telemetry_fn fn, void *ud,
	      struct telemetry_stats *stats);

/* Guesses the format of a captured body from its first record: Falco
 * alerts carry "output_fields", Tetragon lines "process_exec" or
 * "process_kprobe", audit events "auditID" or an EventList; anything
 * else is read as native events. */
enum telemetry_source telemetry_detect(const char *body, size_t len);
/* "events", "native", "falco", "tetragon", "audit": 0, or -EINVAL. */
int telemetry_source_parse(const char *s, enum telemetry_source *ret);

/* "2026-11-22T10:00:00.123Z" (fractions and offsets allowed) to epoch
 * seconds; -1 when not an RFC 3339 time (rfc3339_parse()). */
int64_t telemetry_time(const char *s);

#endif
