/* cmd_webhook.c - `profileguard webhook`: the validating admission webhook
 * of SPEC §3.  Wires flags to the profile source, the certificate store and
 * the servers, then waits for signals: once a second it re-checks the
 * certificate files; SIGHUP reloads now; SIGTERM/SIGINT drain and exit. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "doc.h"
#include "http_server.h"
#include "http_tls.h"
#include "kube_informer.h"
#include "metrics.h"
#include "pg_config.h"
#include "pglog.h"
#include "source.h"
#include "strutil.h"
#include "webhook.h"
#include "xalloc.h"


struct webhook_opts {
	struct cmd_common_opts common;
	struct cmd_kube_api_opts api;
	const char *listen;
	const char *tls_cert;
	const char *tls_key;
	const char *profiles;
	const char *namespace;
	struct strlist ignore;
	long max_request_bytes;
	long threads;
	long max_connections;
	long max_connections_per_ip;
	long idle_timeout;
	long request_timeout;
	long judge_threads;
	long judge_threads_per_ns;
	long shutdown_delay;
	long shutdown_timeout;
	bool watch_token_secrets;
	bool watch_identity_reports;
};

struct webhook_run {
	struct metrics *metrics;
	struct metric *m_profiles;
	struct metric *m_not_after;
	struct metric *m_cert_ok;
	struct metric *m_cert_failed;
	struct metric *m_retired;
	struct metric_vec *m_watch_restarts;
	uint64_t restarts_seen[3];
	struct profile_source source;
	bool source_ok;
	struct http_tls_store *tls;
	struct webhook *hook;           /* the admission handler of https */
	struct http_server_handler handler;
	struct http_server *https;
	struct http_server *ops;
	char namespace[254];
};

static void on_publish(void *ud, const struct profile_snapshot *snap)
{
	struct webhook_run *w = ud;

	metric_set(w->m_profiles, (double)snap->profiles.n);
}

static bool source_is_ready(void *ud, char *why, size_t whysz)
{
	if (source_ready(ud))
		return true;
	snprintf(why, whysz, "profiles not loaded");
	return false;
}

static void check_certificates(struct webhook_run *w)
{
	char err[512], when[32];
	int r = http_tls_store_check(w->tls, err, sizeof(err));

	metric_set(w->m_retired, (double)http_tls_store_retired(w->tls));    /* after: counts this swap */
	if (r == 0)
		return;
	if (r < 0) {
		metric_inc(w->m_cert_failed);
		pglog(PGLOG_ERROR, "new serving certificate not loaded, keeping the previous one",
		      "error", err, NULL);
		return;
	}
	metric_inc(w->m_cert_ok);
	metric_set(w->m_not_after, (double)http_tls_store_not_after(w->tls));
	snprintf(when, sizeof(when), "%lld", (long long)http_tls_store_not_after(w->tls));
	pglog(PGLOG_INFO, "serving certificate reloaded", "not_after", when, NULL);
}

static int setup_metrics(struct webhook_run *w)
{
	static const char *const result[] = { "result", NULL };
	static const char *const version[] = { "version", NULL };
	static const char *const resource[] = { "resource", NULL };
	struct metric_vec *reloads;

	w->metrics = metrics_new();
	if (!w->metrics)
		return -ENOMEM;
	metrics_enable_process(w->metrics);
	metric_set(metric_vec_get1(metrics_gauge(w->metrics, "profileguard_build_info",
						 "profileguard's version.", version), PG_VERSION), 1);
	w->m_profiles = metric_vec_get(metrics_gauge(w->metrics, "profileguard_profiles",
		"WorkloadProfiles in the webhook's current snapshot.", NULL), NULL);
	w->m_not_after = metric_vec_get(metrics_gauge(w->metrics,
		"profileguard_tls_certificate_not_after_timestamp_seconds",
		"notAfter of the serving certificate in use.", NULL), NULL);
	reloads = metrics_counter(w->metrics, "profileguard_tls_certificate_reloads_total",
				  "Serving certificate reloads after a file change, by result.", result);
	w->m_retired = metric_vec_get(metrics_gauge(w->metrics, "profileguard_tls_certificates_retired",
		"Replaced serving certificates kept until the connections that may use them close.",
		NULL), NULL);
	w->m_watch_restarts = metrics_counter(w->metrics, "profileguard_watch_restarts_total",
		"Watches of the API server that ended and were opened again.", resource);
	w->m_cert_ok = metric_vec_get1(reloads, "success");
	w->m_cert_failed = metric_vec_get1(reloads, "failure");
	return 0;
}

static void webhook_run_free(struct webhook_run *w)
{
	w->ops = http_server_stop(w->ops);
	w->https = http_server_stop(w->https);
	w->hook = webhook_free(w->hook);
	if (w->source_ok)
		source_destroy(&w->source);
	w->tls = http_tls_store_free(w->tls);
	w->metrics = metrics_free(w->metrics);
}

static bool positive_or_zero(const char *name, long v)
{
	if (v >= 0 && v <= 1L << 40)
		return true;
	fprintf(stderr, "profileguard webhook: --%s must be a non-negative number\n", name);
	return false;
}

/* SPEC §7 watch_restarts_total, from the informers' own counters. */
static void count_watch_restarts(struct webhook_run *w)
{
	for (int i = 0; i < 3; i++) {
		struct kube_informer *inf = source_kube_informer(&w->source, i);
		struct kube_informer_stats st;

		if (!inf)
			return;
		kube_informer_stats(inf, &st);
		if (st.watch_restarts > w->restarts_seen[i])
			metric_add(metric_vec_get1(w->m_watch_restarts, kube_informer_name(inf)),
				   st.watch_restarts - w->restarts_seen[i]);
		w->restarts_seen[i] = st.watch_restarts;
	}
}

/* Blocks until SIGTERM or SIGINT, doing the once-a-second chores. */
static int wait_loop(struct webhook_run *w, const sigset_t *set)
{
	for (;;) {
		struct timespec tick = { 1, 0 };
		int sig = sigtimedwait(set, NULL, &tick);

		if (sig == SIGTERM || sig == SIGINT)
			return sig;
		if (sig == SIGHUP) {
			pglog(PGLOG_INFO, "SIGHUP: reloading profiles and certificates", NULL);
			if (w->source.ops && strcmp(w->source.ops->name, "dir") == 0)
				source_dir_reload(&w->source, true);
		}
		check_certificates(w);
		count_watch_restarts(w);
	}
}

int cmd_webhook(int argc, char **argv)
{
	static const char synopsis[] = "--tls-cert FILE --tls-key FILE [--profiles DIR | --kubeconfig PATH] [flags]\n\n"
		"Serves the validating admission webhook over HTTPS: POST /validate/pods (Pods,\n"
		"the ephemeralcontainers subresource, and the pod templates of Deployments,\n"
		"ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs), POST\n"
		"/validate/workloadprofiles, GET /healthz, /readyz, /metrics.  Profiles come from\n"
		"the API server (watched; namespaces labelled profileguard.io/ignore=true are\n"
		"skipped), or from --profiles DIR, re-read when it changes.  Certificates are\n"
		"re-read when their files change; SIGHUP reloads at once.";
	struct webhook_opts o = {
		.listen = ":8443",
		.max_request_bytes = HTTP_SERVER_DEFAULT_MAX_REQUEST_BYTES,
		.max_connections = HTTP_SERVER_DEFAULT_MAX_CONNECTIONS,
		.max_connections_per_ip = -1,
		.idle_timeout = HTTP_SERVER_DEFAULT_IDLE_TIMEOUT,
		.request_timeout = HTTP_SERVER_DEFAULT_REQUEST_TIMEOUT,
		.shutdown_delay = 5,
		.shutdown_timeout = 10,
	};
	const struct flag flags[] = {
		{ "listen", 0, FLAG_STRING, &o.listen, "ADDR", "HTTPS address (default :8443)" },
		{ "tls-cert", 0, FLAG_STRING, &o.tls_cert, "FILE", "serving certificate, PEM (chain after the leaf)" },
		{ "tls-key", 0, FLAG_STRING, &o.tls_key, "FILE", "serving key, PEM" },
		{ "profiles", 0, FLAG_STRING, &o.profiles, "DIR", "WorkloadProfiles from files (default: the API server)" },
		{ "ignore-namespaces", 0, FLAG_STRINGS, &o.ignore, "NS,...", "namespaces never judged, besides labelled ones" },
		{ "namespace", 0, FLAG_STRING, &o.namespace, "NS", "own namespace, never judged (default $POD_NAMESPACE)" },
		{ "max-request-bytes", 0, FLAG_INT, &o.max_request_bytes, "N", "larger bodies get 413 (default 3 MiB + 64 KiB)" },
		{ "threads", 0, FLAG_INT, &o.threads, "N", "worker threads (default: one per CPU)" },
		{ "max-connections", 0, FLAG_INT, &o.max_connections, "N", "open connections at most (default 1024); near it, the connection waiting longest for its request (else idle longest) is closed to make room" },
		{ "max-connections-per-ip", 0, FLAG_INT, &o.max_connections_per_ip, "N", "per client address (default: a quarter of --max-connections; 0: no cap)" },
		{ "idle-timeout", 0, FLAG_INT, &o.idle_timeout, "SECONDS", "close connections idle this long (default 60)" },
		{ "request-timeout", 0, FLAG_INT, &o.request_timeout, "SECONDS", "a request's headers and body (and a new connection's TLS handshake) must be in within this, however slowly they drip (default 10)" },
		{ "judge-threads", 0, FLAG_INT, &o.judge_threads, "N", "threads judging reviews, off the connection threads (default: two per CPU)" },
		{ "judge-threads-per-namespace", 0, FLAG_INT, &o.judge_threads_per_ns, "N", "of those, how many one namespace's reviews may hold at once (default: half; never all)" },
		{ "watch-token-secrets", 0, FLAG_BOOL, &o.watch_token_secrets, NULL, "watch token Secrets' names for legacyTokenSecrets (needs list/watch on Secrets)" },
		{ "watch-identity-reports", 0, FLAG_BOOL, &o.watch_identity_reports, NULL, "watch IdentityReports for identity.maxRisk (needs their CRD and list/watch on identityreports)" },
		{ "shutdown-delay", 0, FLAG_INT, &o.shutdown_delay, "SECONDS", "on SIGTERM, keep serving (not ready) this long first (default 5)" },
		{ "shutdown-timeout", 0, FLAG_INT, &o.shutdown_timeout, "SECONDS", "then wait this long for requests in flight (default 10)" },
		CMD_KUBE_API_FLAGS(&o.api),
		CMD_COMMON_FLAGS(&o.common),
		{ 0 },
	};
	struct webhook_run w = { 0 };
	struct http_server_config cfg = { 0 };
	struct kube_client_opts client_opts;
	char err[512], port[8], **ignored = NULL;
	size_t nignored = 0;
	sigset_t set;
	int r, sig, rc = CMD_EXIT_BAD_INPUT;

	cmd_kube_api_init(&o.api);
	if (cmd_begin("webhook", flags, synopsis, argc, argv, &o.common, &rc) < 0)
		goto out_flags;
	if (cmd_kube_api_apply("webhook", &o.api, &client_opts) < 0)
		goto out_flags;
	if (!o.tls_cert || !o.tls_key) {
		fprintf(stderr, "profileguard webhook: --tls-cert and --tls-key are required\n");
		goto out_flags;
	}
	if (!positive_or_zero("max-request-bytes", o.max_request_bytes) ||
	    !positive_or_zero("threads", o.threads) ||
	    !positive_or_zero("max-connections", o.max_connections) ||
	    (o.max_connections_per_ip != -1 &&
	     !positive_or_zero("max-connections-per-ip", o.max_connections_per_ip)) ||
	    !positive_or_zero("idle-timeout", o.idle_timeout) ||
	    !positive_or_zero("request-timeout", o.request_timeout) ||
	    !positive_or_zero("judge-threads", o.judge_threads) ||
	    !positive_or_zero("judge-threads-per-namespace", o.judge_threads_per_ns) ||
	    !positive_or_zero("shutdown-delay", o.shutdown_delay) ||
	    !positive_or_zero("shutdown-timeout", o.shutdown_timeout))
		goto out_flags;
	if (cmd_split_list(&o.ignore, &ignored, &nignored) < 0)
		goto oom;
	cmd_own_namespace(o.namespace, NULL, w.namespace, sizeof(w.namespace));

	/* Every thread started below inherits this mask: the signals are
	 * taken here, in sigtimedwait(), and nowhere else. */
	cmd_block_signals(true, &set);

	/* From here on a failure is the environment's, not the flags'. */
	rc = EXIT_FAILURE;
	if (setup_metrics(&w) < 0)
		goto oom;
	r = http_tls_store_new(o.tls_cert, o.tls_key, &w.tls, err, sizeof(err));
	if (r < 0) {
		pglog(PGLOG_ERROR, "serving certificate not loaded", "error", err, NULL);
		goto out;
	}
	metric_set(w.m_not_after, (double)http_tls_store_not_after(w.tls));

	if (o.profiles) {
		struct source_dir_opts so = {
			.dir = o.profiles,
			.ignored_ns = (const char *const *)ignored,
			.nignored = nignored,
		};

		if (source_dir_new(&so, w.namespace, &w.source) < 0)
			goto oom;
	} else {
		struct source_kube_opts ko = {
			.kubeconfig = o.common.kubeconfig,
			.ignored_ns = (const char *const *)ignored,
			.nignored = nignored,
			.watch_token_secrets = o.watch_token_secrets,
			.watch_identity_reports = o.watch_identity_reports,
			.client_opts = &client_opts,
		};

		r = source_kube_new(&ko, w.namespace, &w.source, err, sizeof(err));
		if (r < 0) {
			pglog(PGLOG_ERROR, "no API server to read profiles from (or use --profiles DIR)",
			      "error", err, NULL);
			goto out;
		}
	}
	w.source_ok = true;
	w.source.notify = on_publish;
	w.source.notify_ud = &w;
	r = source_start(&w.source);
	if (r < 0) {
		pglog(PGLOG_ERROR, "profile source did not start", "error", strerror(-r), NULL);
		goto out;
	}

	r = webhook_new(&w.source, w.metrics, &w.hook);
	if (r < 0) {
		pglog(PGLOG_ERROR, "webhook server did not start", "error", strerror(-r), NULL);
		goto out;
	}
	webhook_handler(w.hook, &w.handler);
	cfg.name = "webhook";
	cfg.listen = o.listen;
	cfg.tls = w.tls;
	cfg.handler = &w.handler;
	cfg.metrics = w.metrics;
	cfg.threads = (unsigned)o.threads;
	cfg.max_connections = (unsigned)o.max_connections;
	/* -1: the server's default (a quarter of the slots); 0: no cap. */
	cfg.max_connections_per_ip = o.max_connections_per_ip < 0 ? 0
				   : o.max_connections_per_ip == 0 ? HTTP_SERVER_NO_CAP
				   : (unsigned)o.max_connections_per_ip;
	cfg.idle_timeout = (unsigned)o.idle_timeout;
	cfg.request_timeout = (unsigned)o.request_timeout;
	cfg.judge_threads = (unsigned)o.judge_threads;
	cfg.judge_threads_per_namespace = (unsigned)o.judge_threads_per_ns;
	cfg.max_request_bytes = (size_t)o.max_request_bytes;
	r = http_server_start(&cfg, &w.https, err, sizeof(err));
	if (r < 0) {
		pglog(PGLOG_ERROR, "webhook server did not start", "error", err, NULL);
		goto out;
	}
	snprintf(port, sizeof(port), "%u", http_server_port(w.https));
	pglog(PGLOG_INFO, "webhook listening", "listen", o.listen, "port", port, "profiles",
	      o.profiles ? o.profiles : "API server", "namespace", w.namespace, NULL);

	if (o.common.metrics_addr) {
		struct http_server_config mc = {
			.name = "metrics",
			.listen = o.common.metrics_addr,
			.metrics = w.metrics,
			.ready = source_is_ready,
			.ready_ud = &w.source,
			.threads = 1,
			.max_connections = 64,
			.idle_timeout = (unsigned)o.idle_timeout,
			.max_request_bytes = 4096,
		};

		r = http_server_start(&mc, &w.ops, err, sizeof(err));
		if (r < 0) {
			pglog(PGLOG_ERROR, "metrics server did not start", "error", err, NULL);
			goto out;
		}
		snprintf(port, sizeof(port), "%u", http_server_port(w.ops));
		pglog(PGLOG_INFO, "metrics listening", "listen", o.common.metrics_addr, "port", port, NULL);
	}

	sig = wait_loop(&w, &set);
	/* SIGTERM is Kubernetes taking the pod away: its endpoint goes from
	 * every node only after a while, so keep serving, not ready, for
	 * --shutdown-delay (a second signal cuts it short).  SIGINT is a
	 * person at a terminal: no delay. */
	http_server_drain_begin(w.https);
	if (sig == SIGTERM && o.shutdown_delay > 0) {
		struct timespec delay = { o.shutdown_delay, 0 };
		char d[24];

		snprintf(d, sizeof(d), "%ld", o.shutdown_delay);
		pglog(PGLOG_INFO, "shutting down: not ready, still serving", "signal", "SIGTERM",
		      "seconds", d, NULL);
		sigtimedwait(&set, NULL, &delay);
	}
	pglog(PGLOG_INFO, "shutting down: draining requests in flight", "signal",
	      sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
	http_server_drain(w.https, (unsigned)o.shutdown_timeout * 1000);
	webhook_run_free(&w);
	pglog(PGLOG_INFO, "webhook stopped", NULL);
	rc = CMD_EXIT_PASS;
	goto out;
oom:
	fprintf(stderr, "profileguard webhook: out of memory\n");
out:
	webhook_run_free(&w);
	cmd_list_free(ignored, nignored);
out_flags:
	strlist_free(&o.ignore);
	return rc;
}
