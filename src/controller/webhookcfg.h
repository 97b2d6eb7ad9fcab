/* webhookcfg.h - arming the ValidatingWebhookConfiguration (SPEC §8).
 *
 * The chart installs the configuration with webhooks that have no rules:
 * such a webhook matches nothing, so the configuration cannot refuse a
 * request while no webhook pod can answer (an image that cannot be
 * pulled, a certificate not issued yet).  The rules it should have travel
 * in its annotation profileguard.io/webhook-rules ({"webhook name":
 * [rules]}).  The controller's leader copies them into a webhook once the
 * webhook's Service has a ready endpoint (discovery.k8s.io/v1
 * EndpointSlices) that answers GET /readyz with 200 over TLS verified
 * with that webhook's caBundle for the name the API server dials
 * (<service>.<namespace>.svc): only then is failurePolicy Fail live.
 *
 * Once armed, a webhook stays armed when its endpoints go away: that is
 * what failurePolicy Fail is for (nothing is admitted unjudged during an
 * outage).  Rules that differ from the annotation (a chart upgrade) are
 * brought to it without waiting.  A webhook whose namespaceSelector would
 * judge the controller's namespace (or kube-system, with failurePolicy
 * Fail) is never armed.  The configuration is never created: deleting it
 * is the off-switch.
 *
 * webhookcfg_* are pure (JSON in, decisions out); webhookcfg_ops_* (webhookcfg_ops.h)
 * is the leader's loop, which logs. */
#ifndef PG_WEBHOOKCFG_H
#define PG_WEBHOOKCFG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOKCFG_ANNOTATION "profileguard.io/webhook-rules"
#define WEBHOOKCFG_MAX_ANNOTATION (16 * 1024)  /* bytes of the annotation's value */
#define WEBHOOKCFG_MAX_HOOKS 16                 /* webhooks in the configuration */

enum webhookcfg_state {
	WEBHOOKCFG_UNMANAGED,   /* not named by the annotation: left alone */
	WEBHOOKCFG_ARMED,       /* its rules are the annotation's */
	WEBHOOKCFG_UNARMED,     /* no rules: armed once its Service answers */
	WEBHOOKCFG_RESYNC,      /* armed, with other rules: given the annotation's */
	WEBHOOKCFG_UNSAFE,      /* its namespaceSelector is unsafe: never armed */
};

/* One webhook of the configuration.  Strings are borrowed from the
 * configuration the plan was made from. */
struct webhookcfg_hook {
	const char *name;
	enum webhookcfg_state state;
	const char *svc_ns, *svc_name;  /* clientConfig.service; NULL: a url */
	const char *ca_bundle;          /* base64; NULL when it has none yet */
	const char *why;                /* UNSAFE: a static sentence */
	json_t *rules;                  /* the annotation's, borrowed from the plan */
};

struct webhookcfg_plan {
	size_t nhooks;
	struct webhookcfg_hook hooks[WEBHOOKCFG_MAX_HOOKS];
	json_t *desired;                /* the parsed annotation, owned */
};

/* Reads the annotation and the webhooks of @vwc (borrowed, and kept
 * alive by the caller while the plan is used) for a controller in
 * @own_ns.  0; -ENOENT: no annotation (the configuration's rules are its
 * owner's); -EINVAL: the annotation is not {"name": [rule objects]} or
 * names a webhook the configuration lacks; -E2BIG: the annotation is over
 * WEBHOOKCFG_MAX_ANNOTATION bytes or the configuration has more than
 * WEBHOOKCFG_MAX_HOOKS webhooks.  Failures say why in @err, naming the
 * cap.  webhookcfg_plan_clear() the plan in every case. */
int webhookcfg_plan(json_t *vwc, const char *own_ns, struct webhookcfg_plan *ret, char *err,
		    size_t errsz);
void webhookcfg_plan_clear(struct webhookcfg_plan *p);

/* A new copy of @vwc's webhooks array in which each webhook i with @arm[i]
 * has the plan's rules; everything else (caBundle, cert-manager's
 * injection included) is kept.  NULL on allocation failure. */
json_t *webhookcfg_armed_hooks(json_t *vwc, const struct webhookcfg_plan *p, const bool *arm);

/* The first ready endpoint of a discovery.k8s.io/v1 EndpointSliceList
 * (borrowed): an IPv4 or IPv6 address whose conditions.ready is not false
 * and whose terminating is not true (a missing ready means ready, as the
 * API documents), and the slice's port: its only one, else the one named
 * "https".  0 with the address in @addr (@addrsz bytes) and *ret_port;
 * -ENOENT when there is none. */
int webhookcfg_ready_endpoint(json_t *slices, char *addr, size_t addrsz, int *ret_port);

#endif
