/* agent.h - the node agent's loop (SPEC §5.3): a sample every interval
 * (scan.h), what changed queued for the controller
 * (sender.h), until a stop signal; or one sample printed as JSON
 * lines (--once). */
#ifndef PG_AGENT_H
#define PG_AGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "scan.h"
#include "sender.h"

#define AGENT_EVENTS_PATH "/telemetry/v1/events"
#define AGENT_DEFAULT_INTERVAL_MS 1000
#define AGENT_DEFAULT_FLUSH_MS 5000

struct agent_config {
	struct scan_config scan;        /* scan.warn is the agent's own */
	struct sender_config send;      /* send.metrics is agent_config.metrics */
	unsigned interval_ms;           /* 0: AGENT_DEFAULT_INTERVAL_MS */
	unsigned flush_ms;              /* on stop; 0: AGENT_DEFAULT_FLUSH_MS */
	struct metrics *metrics;        /* borrowed; NULL: none */
};

struct agent;

/* The strings of @cfg are borrowed for the agent's life.  0 or -ENOMEM. */
int agent_new(const struct agent_config *cfg, struct agent **ret);
/* One sample, each event a line on @out.  0, or negative errno (logged). */
int agent_once(struct agent *a, FILE *out);
/* Samples every interval and sends until a signal of @stop arrives (the
 * caller has blocked them), then flushes for up to flush_ms.  Returns the
 * signal, or negative errno when the sender could not start (logged). */
int agent_run(struct agent *a, const sigset_t *stop);
/* True once a sample has completed: /readyz.  @a is a struct agent *. */
bool agent_ready(void *a);
/* NULL-safe; returns NULL. */
struct agent *agent_free(struct agent *a);

/* The events URL from --controller-url: a URL without a path (or with
 * "/") gets AGENT_EVENTS_PATH.  Only https:// is accepted, since the
 * request carries a token.  0, -EINVAL, or -ENAMETOOLONG. */
int agent_events_url(const char *url, char *out, size_t n);
/* "1s", "500ms", "2m", "1.5s" or a bare number of seconds, between 10 ms
 * and one hour.  0 or -EINVAL. */
int agent_parse_interval(const char *s, unsigned *ret_ms);

#endif
