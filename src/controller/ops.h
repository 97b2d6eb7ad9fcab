/* ops.h - the controller's plain HTTP listener (--metrics-addr):
 * GET /metrics, /healthz and /readyz, each answered by a callback, so
 * /healthz can follow the watches and /readyz the caches. */
#ifndef PG_OPS_H
#define PG_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metrics;

struct ops_config {
	const char *listen;             /* "HOST:PORT", ":PORT", "[::1]:PORT" */
	struct metrics *metrics;        /* borrowed */
	/* 200 when true, else 503 with the reason written to @why. */
	bool (*healthy)(void *ud, char *why, size_t n);
	bool (*ready)(void *ud, char *why, size_t n);
	void *ud;
};

struct ops;

/* Binds and starts one thread.  0 with *ret, or -errno with a reason in
 * @err. */
int ops_start(const struct ops_config *cfg, struct ops **ret, char *err, size_t errsz);
/* The bound port (useful with port 0). */
uint16_t ops_port(const struct ops *o);
/* NULL-safe; returns NULL. */
struct ops *ops_stop(struct ops *o);

#endif
