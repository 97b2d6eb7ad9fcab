/* webhookcfg_ops.c - the leader's loop that arms the ValidatingWebhookConfiguration
 * (webhookcfg.h): at start and every --webhook-arm-interval, reads the
 * configuration, and for each webhook without its rules checks the
 * webhook's Service (a ready EndpointSlice endpoint, then GET /readyz over
 * TLS verified with the webhook's caBundle for <svc>.<ns>.svc, dialled at
 * that endpoint) before a merge patch, guarded by the resourceVersion it
 * read, gives it the rules.  Never creates the configuration. */
#include "webhookcfg_ops.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "buf.h"
#include "webhookcfg.h"
#include "controller.h"
#include "kube_api.h"
#include "kube_client.h"
#include "metrics.h"
#include "pglog.h"
#include "strutil.h"
#include "ticker.h"
#include "xalloc.h"

#define DEFAULT_INTERVAL_MS 2000
#define DEFAULT_PROBE_MS 3000
#define MAX_CA_BUNDLE (64 * 1024)       /* decoded caBundle used for a probe */
#define MAX_SLICE_PAGES 20              /* pages of 100 EndpointSlices looked at */

static const struct kube_resource res_endpointslices = {
	"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true,
};

struct webhookcfg_ops {
	struct kube_client *client;
	struct controller *ctl;
	char *ns, *vwc;
	int64_t interval_ms, probe_ms;
	/* 1 while this replica leads and every webhook the annotation names
	 * is armed; 0 otherwise, so max() over the replicas is the truth. */
	struct metric *armed;

	struct ticker tick;
	/* What was last logged, so a state is logged when it changes, not
	 * every round. */
	char last[512];
};

/* Logs @msg at @lvl unless it is what was logged last. */
static void say(struct webhookcfg_ops *o, enum pglog_level lvl, const char *msg,
		const char *hook, const char *why)
{
	char key[sizeof(o->last)];

	snprintf(key, sizeof(key), "%s|%s|%s", msg, hook ? hook : "", why ? why : "");
	if (strcmp(key, o->last) == 0)
		return;
	snprintf(o->last, sizeof(o->last), "%s", key);
	pglog(lvl, msg, "name", o->vwc, "webhook", hook ? hook : "", "reason", why ? why : "",
	      NULL);
}

/* ---- is the webhook there ---------------------------------------------------- */

/* A ready endpoint of @svc (in the controller's namespace): 0 with its
 * address and port, -ENOENT when none, or -errno (reason in @why). */
static int ready_endpoint(struct webhookcfg_ops *o, const char *svc, char *addr, size_t addrsz,
			  int *port, char *why, size_t whysz)
{
	struct buf path = BUF_INIT(1024), sel = BUF_INIT(512), cont = BUF_INIT(8192);
	int r = -ENOENT;

	if (kube_path(&path, &res_endpointslices, o->ns, NULL, NULL) < 0 ||
	    buf_printf(&sel, "kubernetes.io/service-name=%s", svc) < 0) {
		r = -ENOMEM;
		goto out;
	}
	for (int page = 0; page < MAX_SLICE_PAGES; page++) {
		struct kube_param q[] = {
			{ "labelSelector", buf_str(&sel) }, { "limit", "100" },
			{ "continue", cont.len ? buf_str(&cont) : NULL }, { NULL, NULL },
		};
		struct kube_error err = { 0 };
		json_t *list = NULL;
		const char *next;

		r = kube_api_get_json(o->client, buf_str(&path), q, &list, &err);
		if (r < 0) {
			snprintf(why, whysz, "EndpointSlices of Service %s not listed: %.300s", svc,
				 err.message[0] ? err.message : strerror(-r));
			goto out;
		}
		r = webhookcfg_ready_endpoint(list, addr, addrsz, port);
		next = json_string_value(json_object_get(json_object_get(list, "metadata"),
							 "continue"));
		buf_reset(&cont);
		if (r == -ENOENT && next && *next && buf_adds(&cont, next) < 0)
			r = -ENOMEM;
		json_decref(list);
		if (r != -ENOENT || !cont.len)
			break;
	}
	if (r == -ENOENT)
		snprintf(why, whysz, "Service %s has no ready endpoint", svc);
out:
	buf_free(&path);
	buf_free(&sel);
	buf_free(&cont);
	return r;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* GET https://<svc>.<ns>.svc:<port>/readyz dialled at @addr, trusting
 * only @ca_b64 (the webhook's caBundle), the name checked as the API
 * server checks it.  0 on HTTP 200; otherwise -errno, reason in @why. */
static int probe(struct webhookcfg_ops *o, const char *svc, const char *addr, int port,
		 const char *ca_b64, char *why, size_t whysz)
{
	struct buf ca = BUF_INIT(MAX_CA_BUNDLE), url = BUF_INIT(1024), to = BUF_INIT(1024);
	struct curl_slist *connect_to = NULL;
	char cerr[CURL_ERROR_SIZE] = "";
	struct curl_blob blob;
	long code = 0;
	CURLcode cr;
	CURL *c = NULL;
	int r;

	if (base64_decode(ca_b64, strlen(ca_b64), &ca) < 0 || ca.len == 0) {
		snprintf(why, whysz, "caBundle is not base64 (or over %d bytes)", MAX_CA_BUNDLE);
		r = -EINVAL;
		goto out;
	}
	if (buf_printf(&url, "https://%s.%s.svc:%d/readyz", svc, o->ns, port) < 0 ||
	    buf_printf(&to, strchr(addr, ':') ? "%s.%s.svc:%d:[%s]:%d" : "%s.%s.svc:%d:%s:%d",
		       svc, o->ns, port, addr, port) < 0 ||
	    !(connect_to = curl_slist_append(NULL, buf_str(&to))) || !(c = curl_easy_init())) {
		r = -ENOMEM;
		goto out;
	}
	blob = (struct curl_blob){ .data = ca.data, .len = ca.len, .flags = CURL_BLOB_COPY };
	curl_easy_setopt(c, CURLOPT_URL, buf_str(&url));
	curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* The caBundle and nothing else, as the API server trusts it. */
	curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	curl_easy_setopt(c, CURLOPT_CAINFO, (char *)NULL);
	curl_easy_setopt(c, CURLOPT_CAPATH, (char *)NULL);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->probe_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->probe_ms);
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "profileguard-controller");
	cr = curl_easy_perform(c);
	if (cr != CURLE_OK) {
		snprintf(why, whysz, "webhook at %s:%d did not answer over TLS with the caBundle: %s",
			 addr, port, cerr[0] ? cerr : curl_easy_strerror(cr));
		r = cr == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNABORTED;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		snprintf(why, whysz, "webhook at %s:%d answered /readyz with HTTP %ld", addr, port,
			 code);
		r = -EAGAIN;
		goto out;
	}
	r = 0;
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(connect_to);
	buf_free(&ca);
	buf_free(&url);
	buf_free(&to);
	return r;
}

/* Whether webhook @w answers as the API server will call it. */
static bool answers(struct webhookcfg_ops *o, const struct webhookcfg_hook *w, char *why,
		    size_t whysz)
{
	char addr[64];
	int port;

	if (!w->svc_name) {
		snprintf(why, whysz, "only a clientConfig.service is checked, not a url");
		return false;
	}
	/* It goes into a URL: a DNS label (RFC 1123) and nothing else. */
	if (strlen(w->svc_name) == 0 || strlen(w->svc_name) > 63 ||
	    strspn(w->svc_name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(w->svc_name)) {
		snprintf(why, whysz, "its Service name is not a DNS label");
		return false;
	}
	if (!w->svc_ns || strcmp(w->svc_ns, o->ns) != 0) {
		snprintf(why, whysz, "its Service is not in the controller's namespace");
		return false;
	}
	if (!w->ca_bundle) {
		snprintf(why, whysz, "no caBundle yet");
		return false;
	}
	if (ready_endpoint(o, w->svc_name, addr, sizeof(addr), &port, why, whysz) < 0)
		return false;
	return probe(o, w->svc_name, addr, port, w->ca_bundle, why, whysz) == 0;
}

/* answers() for webhook @i of @p, asked once a round per Service and
 * caBundle: the webhooks of one server are armed together or not at all,
 * never split by a probe that raced the server's readiness.  @answered[j]
 * is -1 (not asked), 0 or 1; @why is the reason of the probe that said no. */
static bool answers_once(struct webhookcfg_ops *o, const struct webhookcfg_plan *p, size_t i,
			 signed char *answered, char *why, size_t whysz)
{
	const struct webhookcfg_hook *w = &p->hooks[i];

	for (size_t j = 0; j < i; j++) {
		const struct webhookcfg_hook *v = &p->hooks[j];

		if (answered[j] >= 0 && w->svc_name && v->svc_name && w->ca_bundle && v->ca_bundle &&
		    str_eq(w->svc_ns, v->svc_ns) && strcmp(w->svc_name, v->svc_name) == 0 &&
		    strcmp(w->ca_bundle, v->ca_bundle) == 0) {
			answered[i] = answered[j];
			if (!answered[i])
				snprintf(why, whysz, "its Service did not answer, as for %s", v->name);
			return answered[i] == 1;
		}
	}
	answered[i] = answers(o, w, why, whysz) ? 1 : 0;
	return answered[i] == 1;
}

/* ---- one round --------------------------------------------------------------- */

/* Whether every webhook the annotation names is armed once @arm is written;
 * false when it names none. */
static bool all_armed(const struct webhookcfg_plan *p, const bool *arm)
{
	size_t managed = 0;

	for (size_t i = 0; i < p->nhooks; i++) {
		if (p->hooks[i].state == WEBHOOKCFG_UNMANAGED)
			continue;
		managed++;
		if (p->hooks[i].state != WEBHOOKCFG_ARMED && !arm[i])
			return false;
	}
	return managed > 0;
}

static int webhookcfg_round(struct webhookcfg_ops *o)
{
	struct webhookcfg_plan plan = { 0 };
	struct kube_error err = { 0 };
	json_t *cur = NULL, *hooks = NULL, *patch = NULL, *rv;
	bool arm[WEBHOOKCFG_MAX_HOOKS] = { false };
	signed char answered[WEBHOOKCFG_MAX_HOOKS];
	char why[512], names[512] = "";
	size_t narm = 0, nresync = 0;
	int r;

	r = kube_api_get(o->client, &kube_res_validatingwebhookconfigurations, NULL, o->vwc, &cur,
			 &err);
	if (r == -ENOENT) {
		metric_set(o->armed, 0);
		say(o, PGLOG_WARN, "webhook configuration to arm not found; it is not created "
		    "(deleting it is the off-switch)", NULL, NULL);
		return 0;
	}
	if (r < 0) {
		pglog(PGLOG_WARN, "webhook configuration not read", "name", o->vwc, "error",
		      err.message[0] ? err.message : strerror(-r), NULL);
		return r;
	}
	r = webhookcfg_plan(cur, o->ns, &plan, why, sizeof(why));
	if (r < 0)
		metric_set(o->armed, 0);
	if (r == -ENOENT) {
		say(o, PGLOG_INFO, "webhook configuration has no " WEBHOOKCFG_ANNOTATION
		    " annotation: its rules are left to its owner", NULL, NULL);
		r = 0;
		goto out;
	}
	if (r < 0) {
		say(o, PGLOG_ERROR, "webhook configuration not armed", NULL, why);
		goto out;
	}
	memset(answered, -1, sizeof(answered));
	for (size_t i = 0; i < plan.nhooks; i++) {
		const struct webhookcfg_hook *w = &plan.hooks[i];

		switch (w->state) {
		case WEBHOOKCFG_UNSAFE:
			say(o, PGLOG_ERROR, "webhook not armed", w->name, w->why);
			break;
		case WEBHOOKCFG_RESYNC:
			arm[i] = true;
			nresync++;
			break;
		case WEBHOOKCFG_UNARMED:
			if (answers_once(o, &plan, i, answered, why, sizeof(why))) {
				arm[i] = true;
				narm++;
				snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
					 names[0] ? "," : "", w->name);
			} else {
				say(o, PGLOG_INFO, "webhook not armed yet", w->name, why);
			}
			break;
		default:
			break;
		}
	}
	if (!narm && !nresync) {
		metric_set(o->armed, all_armed(&plan, arm) ? 1 : 0);
		goto out;
	}
	hooks = webhookcfg_armed_hooks(cur, &plan, arm);
	rv = json_object_get(json_object_get(cur, "metadata"), "resourceVersion");
	if (!hooks || !(patch = json_pack("{s:{s:O}, s:O}", "metadata", "resourceVersion",
					  rv ? rv : json_null(), "webhooks", hooks))) {
		r = -ENOMEM;
		goto out;
	}
	r = kube_api_merge_patch(o->client, &kube_res_validatingwebhookconfigurations, NULL, o->vwc,
				 NULL, patch, NULL, &err);
	if (r == -ESTALE) {
		/* The certificate loop or cert-manager wrote it meanwhile. */
		r = 0;
		goto out;
	}
	if (r < 0) {
		pglog(PGLOG_WARN, "webhook configuration not armed", "name", o->vwc, "error",
		      err.message[0] ? err.message : strerror(-r), NULL);
		goto out;
	}
	o->last[0] = '\0';
	metric_set(o->armed, all_armed(&plan, arm) ? 1 : 0);
	if (narm)
		pglog(PGLOG_INFO, "webhook configuration armed: its failurePolicy applies from now "
		      "on", "name", o->vwc, "webhooks", names, NULL);
	if (nresync)
		pglog(PGLOG_INFO, "webhook rules brought to the " WEBHOOKCFG_ANNOTATION
		      " annotation", "name", o->vwc, NULL);
out:
	json_decref(patch);
	json_decref(hooks);
	webhookcfg_plan_clear(&plan);
	json_decref(cur);
	return r;
}

/* ---- the thread ---------------------------------------------------------------- */

static void *webhookcfg_main(void *ud)
{
	struct webhookcfg_ops *o = ud;
	bool was_leading = false;

	pthread_mutex_lock(&o->tick.mu);
	/* Leadership is looked at every interval too: at most 2 s by
	 * default, so a new leader arms within one interval. */
	while (!o->tick.stopping) {
		bool leading = controller_leading(o->ctl);

		if (leading) {
			pthread_mutex_unlock(&o->tick.mu);
			webhookcfg_round(o);
			pthread_mutex_lock(&o->tick.mu);
		} else if (was_leading) {
			o->last[0] = '\0';
			metric_set(o->armed, 0);
		}
		was_leading = leading;
		ticker_sleep(&o->tick, o->interval_ms);
	}
	pthread_mutex_unlock(&o->tick.mu);
	return NULL;
}

int webhookcfg_ops_new(const struct webhookcfg_ops_config *cfg, struct webhookcfg_ops **ret,
		       char *err, size_t errsz)
{
	struct webhookcfg_ops *o;

	if (!cfg->client || !cfg->controller || !cfg->namespace || !*cfg->namespace ||
	    !cfg->webhook_config || !*cfg->webhook_config) {
		snprintf(err, errsz, "no client, controller, namespace or configuration name");
		return -EINVAL;
	}
	o = pg_calloc(1, sizeof(*o));
	if (!o)
		goto oom;
	ticker_init(&o->tick);
	o->client = cfg->client;
	o->ctl = cfg->controller;
	o->interval_ms = cfg->interval_ms > 0 ? cfg->interval_ms : DEFAULT_INTERVAL_MS;
	o->probe_ms = cfg->probe_timeout_ms > 0 ? cfg->probe_timeout_ms : DEFAULT_PROBE_MS;
	if (cfg->metrics)
		o->armed = metric_vec_get(metrics_gauge(cfg->metrics, "profileguard_webhook_armed",
							"1 while this replica leads and every webhook "
							"of the configuration is armed (its rules "
							"live); 0 otherwise.", NULL), NULL);
	metric_set(o->armed, 0);
	o->ns = pg_strdup(cfg->namespace);
	o->vwc = pg_strdup(cfg->webhook_config);
	if (!o->ns || !o->vwc)
		goto oom;
	*ret = o;
	return 0;
oom:
	webhookcfg_ops_free(o);
	snprintf(err, errsz, "out of memory");
	return -ENOMEM;
}

int webhookcfg_ops_start(struct webhookcfg_ops *o)
{
	return ticker_start(&o->tick, webhookcfg_main, o);
}

void webhookcfg_ops_stop(struct webhookcfg_ops *o)
{
	if (o)
		ticker_stop(&o->tick);
}

struct webhookcfg_ops *webhookcfg_ops_free(struct webhookcfg_ops *o)
{
	if (!o)
		return NULL;
	ticker_destroy(&o->tick);
	pg_free(o->ns);
	pg_free(o->vwc);
	pg_free(o);
	return NULL;
}
