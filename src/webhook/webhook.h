/* webhook.h - the admission webhook on the HTTP server: the handler of
 * POST /validate/pods and /validate/workloadprofiles that judges each
 * AdmissionReview against a profile source, and its metrics
 * (profileguard_admission_*). */
#ifndef PG_WEBHOOK_H
#define PG_WEBHOOK_H

struct http_server_handler;
struct metrics;
struct profile_source;
struct webhook;

/* @source and @metrics are borrowed and outlive the webhook; registers the
 * admission families in @metrics.  0 or -ENOMEM. */
int webhook_new(struct profile_source *source, struct metrics *metrics, struct webhook **ret);
/* The handler to give http_server_config.handler (valid while @w is). */
void webhook_handler(struct webhook *w, struct http_server_handler *ret);
/* NULL-safe; after the server has stopped.  Returns NULL. */
struct webhook *webhook_free(struct webhook *w);

#endif
