/* webhookcfg_ops.h - the leader's loop that arms the
 * ValidatingWebhookConfiguration (webhookcfg_ops.c), on the decisions of
 * webhookcfg.h.  Logs. */
#ifndef PG_WEBHOOKCFG_OPS_H
#define PG_WEBHOOKCFG_OPS_H

#include <stddef.h>
#include <stdint.h>

struct controller;
struct kube_client;
struct metrics;

struct webhookcfg_ops;

struct webhookcfg_ops_config {
	struct kube_client *client;     /* borrowed */
	struct controller *controller;  /* borrowed: writes only while it leads */
	const char *namespace;          /* the controller's: the Services', the slices' */
	const char *webhook_config;     /* --webhook-config-name */
	int64_t interval_ms;            /* --webhook-arm-interval; 0: 2 s */
	int64_t probe_timeout_ms;       /* 0: 3 s */
	struct metrics *metrics;        /* borrowed, may be NULL: profileguard_webhook_armed */
};

/* Copies the configuration.  0, or -EINVAL or -ENOMEM with a reason in
 * @err. */
int webhookcfg_ops_new(const struct webhookcfg_ops_config *cfg, struct webhookcfg_ops **ret,
		       char *err, size_t errsz);
/* Starts the thread: a check when this replica starts leading and every
 * interval while it leads.  0 or -errno. */
int webhookcfg_ops_start(struct webhookcfg_ops *o);
/* Stops the thread.  Idempotent, NULL-safe. */
void webhookcfg_ops_stop(struct webhookcfg_ops *o);
/* NULL-safe; returns NULL. */
struct webhookcfg_ops *webhookcfg_ops_free(struct webhookcfg_ops *o);

#endif
