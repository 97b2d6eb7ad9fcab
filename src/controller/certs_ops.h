/* certs_ops.h - the controller's certificate loop (certs_ops.c): on the
 * leader, the webhook's Secret read, renewed as certs.h decides, written
 * back, and the caBundle patched.  Logs; the decisions are certs.h's. */
#ifndef PG_CERTS_OPS_H
#define PG_CERTS_OPS_H

#include <stddef.h>
#include <stdint.h>

struct controller;
struct kube_client;

struct certs_ops;

struct certs_ops_config {
	struct kube_client *client;     /* borrowed */
	struct controller *controller;  /* borrowed: writes only while it leads */
	const char *namespace;          /* the Secret's, the Services' */
	const char *secret;             /* --webhook-cert-secret */
	const char *webhook_config;     /* --webhook-config-name; NULL or "": none */
	const char *webhook_service;    /* --webhook-service */
	const char *telemetry_service;  /* --telemetry-service; NULL or "": none */
	int64_t interval_ms;            /* --cert-check-interval; 0: 1 h */
};

/* Checks the configuration (the names make a certificate) and copies it.
 * 0, or -EINVAL or -ENOMEM with a reason in @err. */
int certs_ops_new(const struct certs_ops_config *cfg, struct certs_ops **ret, char *err,
		  size_t errsz);
/* Starts the thread: a round when this replica starts leading and every
 * interval while it leads.  0 or -errno. */
int certs_ops_start(struct certs_ops *o);
/* Stops the thread.  Idempotent, NULL-safe. */
void certs_ops_stop(struct certs_ops *o);
/* NULL-safe; returns NULL. */
struct certs_ops *certs_ops_free(struct certs_ops *o);

#endif
