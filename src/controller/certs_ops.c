/* certs_ops.c - the controller's certificate loop (certs.h): on the
 * leader, at start and every --cert-check-interval, reads the Secret,
 * renews what certs_check() says, writes the Secret back (create, or a
 * replace guarded by its resourceVersion) and patches the caBundle of
 * every webhook of the named ValidatingWebhookConfiguration.  The
 * configuration is never created: deleting it is the off-switch. */
#include "certs_ops.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base64.h"
#include "buf.h"
#include "certs.h"
#include "controller.h"
#include "kube_api.h"
#include "kube_client.h"
#include "kube_util.h"
#include "pglog.h"
#include "rfc3339.h"
#include "ticker.h"
#include "xalloc.h"

#define RETRY_MS 10000          /* after a failed round, at most this long */
#define TICK_MS 1000            /* how often leadership is looked at */

struct certs_ops {
	struct kube_client *client;
	struct controller *ctl;
	char *ns, *secret, *vwc;
	const char *names[CERTS_MAX_NAMES];
	size_t nnames;
	char store[CERTS_MAX_NAMES * 260];
	int64_t interval_ms;

	struct ticker tick;
	bool vwc_missing_logged;
};

static const char *const secret_keys[] = { "tls.crt", "tls.key", "ca.crt", "ca.key" };

static char **bundle_slot(struct certs_bundle *b, size_t i)
{
	char **slots[] = { &b->cert, &b->key, &b->ca_cert, &b->ca_key };

	return slots[i];
}

/* ---- the Secret -------------------------------------------------------------- */

/* The Secret's four keys into @b; a key missing or not decoding is left
 * NULL (certs_check() then renews). */
static void secret_read(json_t *obj, struct certs_bundle *b)
{
	json_t *data = json_object_get(obj, "data");

	for (size_t i = 0; i < 4; i++) {
		const char *v = json_string_value(json_object_get(data, secret_keys[i]));
		struct buf out = BUF_INIT(CERTS_MAX_PEM);

		if (!v || base64_decode(v, strlen(v), &out) < 0 || out.len == 0 ||
		    memchr(out.data, '\0', out.len)) {
			if (out.data)
				memset(out.data, 0, out.len);
			buf_free(&out);
			continue;
		}
		*bundle_slot(b, i) = buf_steal(&out);
	}
}

/* {"tls.crt": base64, ...} as a new object; NULL on allocation failure. */
static json_t *secret_data(struct certs_bundle *b)
{
	json_t *data = json_object();

	for (size_t i = 0; data && i < 4; i++) {
		const char *pem = *bundle_slot(b, i);
		struct buf enc = BUF_INIT(4 * CERTS_MAX_PEM);

		if (!pem || base64_encode(pem, strlen(pem), &enc) < 0 ||
		    json_object_set_new(data, secret_keys[i], json_string(buf_str(&enc))) < 0) {
			json_decref(data);
			data = NULL;
		}
		if (enc.data)
			memset(enc.data, 0, enc.len);
		buf_free(&enc);
	}
	return data;
}

/* Writes @b: a replace of @cur guarded by its resourceVersion, or a
 * create when there is none.  -ESTALE / -EEXIST: another writer. */
static int secret_write(struct certs_ops *o, json_t *cur, struct certs_bundle *b,
			struct kube_error *err)
{
	json_t *obj, *data = secret_data(b);
	int r;

	if (!data)
		return -ENOMEM;
	if (cur) {
		obj = json_deep_copy(cur);
		if (!obj || json_object_set(obj, "data", data) < 0 ||
		    json_object_set_new(obj, "type", json_string("kubernetes.io/tls")) < 0) {
			r = -ENOMEM;
			goto out;
		}
		r = kube_api_replace(o->client, &kube_res_secrets, o->ns, o->secret, obj, NULL, err);
	} else {
		obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:O}", "apiVersion", "v1",
				"kind", "Secret", "metadata", "name", o->secret, "namespace", o->ns,
				"labels", "app.kubernetes.io/managed-by", "profileguard",
				"type", "kubernetes.io/tls", "data", data);
		if (!obj) {
			r = -ENOMEM;
			goto out;
		}
		r = kube_api_create(o->client, &kube_res_secrets, o->ns, obj, true, NULL, err);
	}
out:
	json_decref(obj);
	json_decref(data);
	return r;
}

/* ---- the webhook configuration ------------------------------------------------- */

/* Sets every webhook's clientConfig.caBundle to @ca_pem when one differs:
 * a merge patch carries the whole webhooks array (a merge patch replaces
 * arrays) with the resourceVersion it was read at, so a concurrent edit
 * is a conflict, never lost.  0, or -errno. */
static int vwc_patch(struct certs_ops *o, const char *ca_pem)
{
	struct kube_error err = { 0 };
	struct buf enc = BUF_INIT(4 * CERTS_MAX_PEM);
	json_t *cur = NULL, *hooks, *patch = NULL;
	size_t i, changed = 0;
	json_t *h, *rv;
	char nbuf[24];
	int r;

	if (!o->vwc)
		return 0;
	r = kube_api_get(o->client, &kube_res_validatingwebhookconfigurations, NULL, o->vwc, &cur,
			 &err);
	if (r == -ENOENT) {
		if (!o->vwc_missing_logged)
			pglog(PGLOG_WARN, "webhook configuration not found: caBundle not patched, "
			      "and the configuration is not created (deleting it is the off-switch)",
			      "name", o->vwc, NULL);
		o->vwc_missing_logged = true;
		return 0;
	}
	if (r < 0) {
		pglog(PGLOG_WARN, "webhook configuration not read", "name", o->vwc, "error",
		      err.message[0] ? err.message : strerror(-r), NULL);
		return r;
	}
	o->vwc_missing_logged = false;
	r = base64_encode(ca_pem, strlen(ca_pem), &enc);
	if (r < 0)
		goto out;
	hooks = json_deep_copy(json_object_get(cur, "webhooks"));
	json_array_foreach(hooks, i, h) {
		json_t *cc = json_object_get(h, "clientConfig");

		if (!json_is_object(cc)) {
			cc = json_object();
			if (!cc || json_object_set_new(h, "clientConfig", cc) < 0) {
				r = -ENOMEM;
				json_decref(hooks);
				goto out;
			}
		}
		const char *have = json_string_value(json_object_get(cc, "caBundle"));

		if (!have || strcmp(have, buf_str(&enc)) != 0) {
			json_object_set_new(cc, "caBundle", json_string(buf_str(&enc)));
			changed++;
		}
	}
	if (!changed) {
		json_decref(hooks);
		r = 0;
		goto out;
	}
	rv = json_object_get(json_object_get(cur, "metadata"), "resourceVersion");
	patch = json_pack("{s:{s:O}, s:o}", "metadata", "resourceVersion", rv ? rv : json_null(),
			  "webhooks", hooks);
	if (!patch) {
		r = -ENOMEM;
		goto out;
	}
	r = kube_api_merge_patch(o->client, &kube_res_validatingwebhookconfigurations, NULL, o->vwc,
				 NULL, patch, NULL, &err);
	snprintf(nbuf, sizeof(nbuf), "%zu", changed);
	if (r < 0)
		pglog(PGLOG_WARN, "caBundle not patched", "name", o->vwc, "error",
		      err.message[0] ? err.message : strerror(-r), NULL);
	else
		pglog(PGLOG_INFO, "caBundle patched", "name", o->vwc, "webhooks", nbuf, NULL);
out:
	json_decref(patch);
	json_decref(cur);
	buf_free(&enc);
	return r;
}

/* ---- one round --------------------------------------------------------------- */

static int certs_ops_round(struct certs_ops *o)
{
	struct kube_error err = { 0 };
	struct certs_bundle b = { 0 };
	struct certs_info ci;
	json_t *cur = NULL;
	enum certs_verdict v;
	char why[128], until[RFC3339_MAX];
	int64_t now = (int64_t)time(NULL);
	int r;

	r = kube_api_get(o->client, &kube_res_secrets, o->ns, o->secret, &cur, &err);
	if (r < 0 && r != -ENOENT) {
		pglog(PGLOG_WARN, "webhook certificate Secret not read", "secret", o->secret,
		      "error", err.message[0] ? err.message : strerror(-r), NULL);
		return r;
	}
	if (cur)
		secret_read(cur, &b);
	v = certs_check(&b, o->names, o->nnames, now, why, sizeof(why));
	if (v != CERTS_KEEP) {
		r = certs_renew(&b, v, o->names, o->nnames, now);
		if (r < 0) {
			pglog(PGLOG_ERROR, "webhook certificate not generated", "error", strerror(-r),
			      NULL);
			goto out;
		}
		r = secret_write(o, cur, &b, &err);
		if (r == -ESTALE || r == -EEXIST) {
			/* Another writer got there first: read again next round. */
			pglog(PGLOG_INFO, "webhook certificate Secret changed meanwhile; next round "
			      "reads it again", "secret", o->secret, NULL);
			goto out;
		}
		if (r < 0) {
			pglog(PGLOG_WARN, "webhook certificate Secret not written", "secret",
			      o->secret, "error", err.message[0] ? err.message : strerror(-r), NULL);
			goto out;
		}
		if (certs_parse(b.cert, &ci) == 0 &&
		    rfc3339_format(&(struct timespec){ .tv_sec = (time_t)ci.not_after }, 0,
				     until) == 0)
			pglog(PGLOG_INFO, v == CERTS_NEW_CA ? "webhook CA and certificate generated"
			      : "webhook certificate renewed", "secret", o->secret, "reason", why,
			      "not_after", until, NULL);
	}
	r = vwc_patch(o, b.ca_cert);
out:
	certs_bundle_clear(&b);
	json_decref(cur);
	return r;
}

/* ---- the thread ---------------------------------------------------------------- */

static void *certs_ops_main(void *ud)
{
	struct certs_ops *o = ud;
	int64_t due = 0, tick = o->interval_ms < TICK_MS ? o->interval_ms : TICK_MS;
	bool was_leading = false;

	pthread_mutex_lock(&o->tick.mu);
	while (!o->tick.stopping) {
		bool leading = controller_leading(o->ctl);

		if (leading && (!was_leading || ticker_now_ms() >= due)) {
			int r;

			pthread_mutex_unlock(&o->tick.mu);
			r = certs_ops_round(o);
			pthread_mutex_lock(&o->tick.mu);
			due = ticker_now_ms() +
			      (r < 0 && o->interval_ms > RETRY_MS ? RETRY_MS : o->interval_ms);
		}
		was_leading = leading;
		ticker_sleep(&o->tick, tick);
	}
	pthread_mutex_unlock(&o->tick.mu);
	return NULL;
}

int certs_ops_new(const struct certs_ops_config *cfg, struct certs_ops **ret, char *err,
		  size_t errsz)
{
	const char *svcs[] = { cfg->webhook_service, cfg->telemetry_service };
	struct certs_ops *o;
	int n;

	if (!cfg->client || !cfg->controller || !cfg->namespace || !cfg->secret ||
	    !*cfg->secret) {
		snprintf(err, errsz, "no client, controller, namespace or Secret name");
		return -EINVAL;
	}
	if (!cfg->webhook_service || !*cfg->webhook_service) {
		snprintf(err, errsz, "--webhook-service is needed with --webhook-cert-secret");
		return -EINVAL;
	}
	o = pg_calloc(1, sizeof(*o));
	if (!o)
		goto oom;
	n = certs_dns_names(cfg->namespace, svcs, 2, o->names, o->store, sizeof(o->store));
	if (n < 0) {
		snprintf(err, errsz, "--webhook-service, --telemetry-service and the namespace must "
			 "be DNS labels (RFC 1123)");
		pg_free(o);
		return -EINVAL;
	}
	o->nnames = (size_t)n;
	ticker_init(&o->tick);
	o->client = cfg->client;
	o->ctl = cfg->controller;
	o->interval_ms = cfg->interval_ms > 0 ? cfg->interval_ms : 3600 * 1000;
	o->ns = pg_strdup(cfg->namespace);
	o->secret = pg_strdup(cfg->secret);
	o->vwc = cfg->webhook_config && *cfg->webhook_config ? pg_strdup(cfg->webhook_config)
							       : NULL;
	if (!o->ns || !o->secret || (cfg->webhook_config && *cfg->webhook_config && !o->vwc))
		goto oom;
	*ret = o;
	return 0;
oom:
	certs_ops_free(o);
	snprintf(err, errsz, "out of memory");
	return -ENOMEM;
}

int certs_ops_start(struct certs_ops *o)
{
	return ticker_start(&o->tick, certs_ops_main, o);
}

void certs_ops_stop(struct certs_ops *o)
{
	if (o)
		ticker_stop(&o->tick);
}

struct certs_ops *certs_ops_free(struct certs_ops *o)
{
	if (!o)
		return NULL;
	ticker_destroy(&o->tick);
	pg_free(o->ns);
	pg_free(o->secret);
	pg_free(o->vwc);
	pg_free(o);
	return NULL;
}
