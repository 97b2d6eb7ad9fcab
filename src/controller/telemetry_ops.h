/* telemetry_ops.h - the controller's side of the telemetry ingest (SPEC
 * §5.1): the HTTPS listener on --telemetry-listen (started once its
 * certificate files load, re-read when they change), the caches the ingest
 * reads (pods by name, UID, container ID and ServiceAccount; the profile
 * set; deleted pods), TokenReview for senders, the action path, and the
 * leader's label on its own Pod (profileguard.io/leader=true), which the
 * chart's telemetry Service selects. */
#ifndef PG_TELEMETRY_OPS_H
#define PG_TELEMETRY_OPS_H

#include <stddef.h>
#include <stdint.h>

struct controller;
struct kube_client;
struct metrics;
struct telemetry_ops;

#define TELEMETRY_OPS_LEADER_LABEL "profileguard.io/leader"

struct telemetry_ops_config {
	struct controller *controller;  /* borrowed; outlives these ops */
	struct kube_client *client;     /* borrowed */
	struct metrics *metrics;        /* borrowed; NULL: none */
	const char *namespace;          /* the controller's own */
	const char *pod_name;           /* its own Pod; NULL or "": never labelled */
	const char *listen;             /* "HOST:PORT", ":PORT" */
	const char *tls_cert;           /* PEM files; may not exist yet */
	const char *tls_key;
	const char *client_ca;          /* PEM file; NULL: no client certificates */
	const char *const *allowed_users;
	size_t nallowed;
	const char *audience;           /* TokenReview audience; NULL: the API server's */
	unsigned threads;               /* server threads; 0: one per CPU */
	/* The listener's caps (http_server.h): 0 is TELEMETRY_OPS_MAX_CONNECTIONS,
	 * the server's per-address default (a quarter of the connections;
	 * HTTP_SERVER_NO_CAP: none) and its request deadline. */
	unsigned max_connections;
	unsigned max_connections_per_ip;
	unsigned request_timeout;
};

#define TELEMETRY_OPS_MAX_CONNECTIONS 16384

/* Builds the ingest and authentication and hooks into the controller's
 * pod cache: call after controller_new() and before controller_start().
 * Strings are copied.  0, or -errno with a reason in @err. */
int telemetry_ops_new(const struct telemetry_ops_config *cfg, struct telemetry_ops **ret,
		      char *err, size_t errsz);
/* Starts the thread that starts the listener (now, or once the
 * certificate loads), reloads the certificate, and keeps the leader
 * label.  0 or -errno. */
int telemetry_ops_start(struct telemetry_ops *t);
/* The listener's port; 0 while it is not listening. */
uint16_t telemetry_ops_port(struct telemetry_ops *t);
/* Stops the listener and the thread and takes the leader label off
 * this Pod.  Idempotent.  The controller must be stopped after this and
 * before telemetry_ops_free(). */
void telemetry_ops_stop(struct telemetry_ops *t);
/* NULL-safe; returns NULL. */
struct telemetry_ops *telemetry_ops_free(struct telemetry_ops *t);

#endif
