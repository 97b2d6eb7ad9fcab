/* cmd_controller.c - `profileguard controller`: the drift controller of
 * SPEC §4.  Wires flags to the Kubernetes client, the controller and the
 * ops listener, then waits for SIGTERM/SIGINT, on which it stops judging,
 * flushes profile status and releases the Lease before exiting, all within
 * --shutdown-timeout (a watchdog exits at the deadline whatever hangs). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certs_ops.h"
#include "cmd.h"
#include "controller.h"
#include "doc.h"
#include "errlist.h"
#include "kube_client.h"
#include "kubeconfig.h"
#include "lifecycle.h"
#include "metrics.h"
#include "ops.h"
#include "pg_config.h"
#include "pglog.h"
#include "http_server.h"
#include "strutil.h"
#include "telemetry_ops.h"
#include "ticker.h"
#include "webhookcfg_ops.h"
#include "xalloc.h"

#define DEFAULT_NAMESPACE "profileguard"
/* Below Kubernetes' (and the chart's) 30 s terminationGracePeriodSeconds. */
#define SHUTDOWN_TIMEOUT_MS 20000

struct controller_opts {
	struct cmd_common_opts common;
	struct cmd_kube_api_opts api;
	const char *context;
	const char *namespace;
	struct strlist ignore;
	bool leader_elect;
	const char *lease_name;
	const char *identity;
	bool dry_run;
	long max_actions;
	const char *resync_period;
	const char *lease_duration;
	const char *renew_deadline;
	const char *retry_period;
	const char *owner_backoff;
	const char *shutdown_timeout;
	/* The telemetry endpoints (SPEC §5.1). */
	const char *tel_listen, *tel_cert, *tel_key, *tel_ca, *tel_audience;
	struct strlist tel_users;
	long tel_max_conns, tel_max_conns_per_ip, tel_request_timeout;
	/* The generated webhook certificate (SPEC §8). */
	const char *cert_secret, *webhook_config, *webhook_service, *tel_service, *cert_interval;
	const char *arm_interval;
	/* The identity lifecycle (SPEC §9.3). */
	const char *id_unused_after, *id_orphaned_after, *id_retire_after, *id_usage_window;
	const char *audit_live_window, *id_lifecycle;
	bool id_prune_bindings;
};

/* "90", "90s", "1m30s", "500ms", "2h": milliseconds.  -EINVAL otherwise. */
static int parse_duration(const char *s, int64_t *ret_ms)
{
	int64_t total = 0;
	bool any = false;

	if (!s || !*s)
		return -EINVAL;
	if (str_to_i64(s, &total) == 0) {
		if (total < 0)
			return -EINVAL;
		*ret_ms = total * 1000;
		return 0;
	}
	total = 0;
	while (*s) {
		int64_t v = 0, unit;
		bool digits = false;

		while (*s >= '0' && *s <= '9') {
			if (v > INT64_MAX / 10 - 10)
				return -EINVAL;
			v = v * 10 + (*s++ - '0');
			digits = true;
		}
		if (!digits)
			return -EINVAL;
		if (str_has_prefix(s, "ms"))
			unit = 1, s += 2;
		else if (*s == 's')
			unit = 1000, s++;
		else if (*s == 'm')
			unit = 60 * 1000, s++;
		else if (*s == 'h')
			unit = 3600 * 1000, s++;
		else
			return -EINVAL;
		if (v > INT64_MAX / unit / 2)
			return -EINVAL;
		total += v * unit;
		any = true;
	}
	if (!any)
		return -EINVAL;
	*ret_ms = total;
	return 0;
}

/* Exits the process when the shutdown deadline passes with something still
 * hanging (a request to an API server that stopped answering): better a
 * quick exit the next leader recovers from than the kubelet's SIGKILL. */
static void *shutdown_watchdog(void *arg)
{
	const struct timespec *at = arg;

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, at, NULL) == EINTR)
		;
	pglog(PGLOG_ERROR, "shutdown deadline passed: exiting before the clean stop finished",
	      NULL);
	_exit(EXIT_FAILURE);
	return NULL;
}

static void start_watchdog(struct timespec *at, int64_t timeout_ms)
{
	pthread_t t;

	ticker_deadline(timeout_ms, at);
	if (pthread_create(&t, NULL, shutdown_watchdog, at) == 0)
		pthread_detach(t);
}

static bool duration_flag(const char *name, const char *value, int64_t min_ms, int64_t *ret)
{
	if (!value)
		return true;
	if (parse_duration(value, ret) == 0 && *ret >= min_ms)
		return true;
	fprintf(stderr, "profileguard controller: --%s \"%s\": expected a duration such as 15s, "
			"2m or 500ms (at least %lld ms)\n", name, value, (long long)min_ms);
	return false;
}

/* --identity, else $POD_NAME, else hostname_pid. */
static void own_identity(const char *flag, char *out, size_t n)
{
	const char *env = getenv("POD_NAME");
	char host[200];

	if (flag && *flag) {
		snprintf(out, n, "%s", flag);
	} else if (env && *env) {
		snprintf(out, n, "%s", env);
	} else {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(out, n, "%s_%ld", host, (long)getpid());
	}
}

/* Whether --leader-elect was given at all (flag or environment): its
 * default depends on where the configuration came from. */
static bool leader_elect_given(int argc, char **argv)
{
	if (getenv("PROFILEGUARD_LEADER_ELECT"))
		return true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--leader-elect") == 0 ||
		    str_has_prefix(argv[i], "--leader-elect="))
			return true;
	}
	return false;
}

static bool ops_healthy(void *ud, char *why, size_t n)
{
	return controller_healthy(ud, why, n);
}

static bool ops_ready(void *ud, char *why, size_t n)
{
	return controller_ready(ud, why, n);
}

int cmd_controller(int argc, char **argv)
{
	static const char synopsis[] = "[flags]\n\n"
		"Runs the drift controller: watches Pods, WorkloadProfiles, ServiceAccounts,\n"
		"Namespaces and service-account-token Secrets (metadata only), judges running\n"
		"pods against their profiles, and deletes or evicts drifted pods (Enforce mode),\n"
		"writing an Event per finding and the profiles' status.  One replica leads\n"
		"(a coordination.k8s.io Lease); the others keep their caches warm.";
	struct controller_opts o = {
		.lease_name = "profileguard-controller",
		.max_actions = 30,
		.tel_max_conns = TELEMETRY_OPS_MAX_CONNECTIONS,
		.tel_max_conns_per_ip = -1,
		.tel_request_timeout = HTTP_SERVER_DEFAULT_REQUEST_TIMEOUT,
	};
	const struct flag flags[] = {
		{ "context", 0, FLAG_STRING, &o.context, "NAME", "kubeconfig context (default: current-context)" },
		{ "namespace", 0, FLAG_STRING, &o.namespace, "NS", "own namespace: holds the Lease, never judged (default $POD_NAMESPACE, else the in-cluster namespace, else profileguard)" },
		{ "ignore-namespaces", 0, FLAG_STRINGS, &o.ignore, "NS,...", "namespaces never judged, besides those labelled profileguard.io/ignore=true" },
		{ "leader-elect", 0, FLAG_BOOL, &o.leader_elect, NULL, "elect a leader on a Lease; --leader-elect=false to run alone (default true in cluster, false otherwise)" },
		{ "lease-name", 0, FLAG_STRING, &o.lease_name, "NAME", "the Lease (default profileguard-controller)" },
		{ "lease-duration", 0, FLAG_STRING, &o.lease_duration, "DURATION", "how long a Lease holds without renewal (default 15s)" },
		{ "renew-deadline", 0, FLAG_STRING, &o.renew_deadline, "DURATION", "the leader gives up when it could not renew for this long (default 10s)" },
		{ "retry-period", 0, FLAG_STRING, &o.retry_period, "DURATION", "how often the Lease is tried and renewed (default 2s)" },
		{ "identity", 0, FLAG_STRING, &o.identity, "ID", "holder identity and Event reportingInstance (default $POD_NAME, else hostname_pid)" },
		{ "dry-run", 0, FLAG_BOOL, &o.dry_run, NULL, "write no pod: Events and status say what would have been done" },
		{ "max-actions-per-minute", 0, FLAG_INT, &o.max_actions, "N", "global bucket of pod deletions and evictions (default 30; 0: no limit)" },
		{ "owner-backoff", 0, FLAG_STRING, &o.owner_backoff, "DURATION", "first wait before acting again on pods of one owner, doubling to 1h (default 30s)" },
		{ "resync-period", 0, FLAG_STRING, &o.resync_period, "DURATION", "judge every pod this often besides changes (default 10m)" },
		{ "shutdown-timeout", 0, FLAG_STRING, &o.shutdown_timeout, "DURATION", "on SIGTERM, exit within this: changed profile statuses are written most important first until a few seconds before it, the rest is left to the next leader; keep it below terminationGracePeriodSeconds (default 20s)" },
		{ "telemetry-listen", 0, FLAG_STRING, &o.tel_listen, "HOST:PORT", "HTTPS telemetry endpoints /telemetry/v1/{events,falco,tetragon,audit} on the leader (default: off)" },
		{ "telemetry-tls-cert", 0, FLAG_STRING, &o.tel_cert, "PATH", "telemetry serving certificate (PEM; re-read when it changes; the listener waits for it)" },
		{ "telemetry-tls-key", 0, FLAG_STRING, &o.tel_key, "PATH", "its private key (PEM)" },
		{ "telemetry-client-ca", 0, FLAG_STRING, &o.tel_ca, "PATH", "CA of client certificates senders may present (their CN is the user; system:node:NAME speaks for node NAME)" },
		{ "telemetry-allowed-users", 0, FLAG_STRINGS, &o.tel_users, "USER,...", "who may send telemetry: token users (TokenReview) or certificate CNs, '*' patterns allowed; senders with a node claim speak for their node's pods only" },
		{ "telemetry-max-connections", 0, FLAG_INT, &o.tel_max_conns, "N", "open telemetry connections at most (default 16384); near it, the one waiting longest for its request (else idle longest) is closed to make room" },
		{ "telemetry-max-connections-per-ip", 0, FLAG_INT, &o.tel_max_conns_per_ip, "N", "telemetry connections per sender address (default: a quarter of --telemetry-max-connections; 0: no cap)" },
		{ "telemetry-request-timeout", 0, FLAG_INT, &o.tel_request_timeout, "SECONDS", "a telemetry request's headers and body (and a new connection's TLS handshake) must be in within this (default 10)" },
		{ "telemetry-audience", 0, FLAG_STRING, &o.tel_audience, "AUD", "audience asked of telemetry tokens in the TokenReview (default: the API server's)" },
		{ "webhook-cert-secret", 0, FLAG_STRING, &o.cert_secret, "NAME", "generate the webhook's CA and serving certificate into this Secret (own namespace; keys tls.crt, tls.key, ca.crt), renew them before they expire, patch the caBundle (default: off)" },
		{ "webhook-config-name", 0, FLAG_STRING, &o.webhook_config, "NAME", "the ValidatingWebhookConfiguration the leader arms (rules from its profileguard.io/webhook-rules annotation, once the webhook Service answers) and whose webhooks get the caBundle; never created" },
		{ "webhook-arm-interval", 0, FLAG_STRING, &o.arm_interval, "DURATION", "how often the leader checks that configuration (default 2s)" },
		{ "webhook-service", 0, FLAG_STRING, &o.webhook_service, "NAME", "the webhook's Service, named by the certificate" },
		{ "telemetry-service", 0, FLAG_STRING, &o.tel_service, "NAME", "the telemetry Service, also named by the certificate (default: none)" },
		{ "cert-check-interval", 0, FLAG_STRING, &o.cert_interval, "DURATION", "how often the leader checks the certificate (default 1h)" },
		{ "identity-lifecycle", 0, FLAG_STRING, &o.id_lifecycle, "MODE", "what is done to idle ServiceAccounts: Report (states, IdentityReports and Events only; the default); Disable and Retire are not available yet" },
		{ "identity-unused-after", 0, FLAG_STRING, &o.id_unused_after, "DURATION", "an account with pods or templates but no API call for this long of live audit is Unused (default 2160h)" },
		{ "identity-orphaned-after", 0, FLAG_STRING, &o.id_orphaned_after, "DURATION", "an account no pod or template has named, with no API call, for this long of live audit is Orphaned (default 1h)" },
		{ "identity-retire-after", 0, FLAG_STRING, &o.id_retire_after, "DURATION", "a Disabled account nothing tried to use for this long is retired, with --identity-lifecycle Retire (default 336h)" },
		{ "identity-usage-window", 0, FLAG_STRING, &o.id_usage_window, "DURATION", "how long an IdentityReport's usage entries are kept after their last use (default 720h)" },
		{ "identity-prune-bindings", 0, FLAG_BOOL, &o.id_prune_bindings, NULL, "with Retire, also delete the bindings whose only subject was the retired account (default false)" },
		{ "audit-live-window", 0, FLAG_STRING, &o.audit_live_window, "DURATION", "the audit source is live while a batch arrived within this; idle time counts only while it is (default 10m)" },
		CMD_KUBE_API_FLAGS(&o.api),
		CMD_COMMON_FLAGS(&o.common),
		{ 0 },
	};
	struct controller_config cc = { 0 };
	struct lifecycle_policy lc = LIFECYCLE_POLICY_DEFAULT;
	struct kube_client_opts ko;
	struct kubeconfig *kcfg = NULL;
	struct kube_client *client = NULL;
	struct metrics *metrics = NULL;
	struct controller *ctl = NULL;
	struct ops *ops = NULL;
	struct telemetry_ops *tel = NULL;
	struct certs_ops *certs = NULL;
	struct webhookcfg_ops *arm = NULL;
	int64_t cert_interval_ms = 0, arm_interval_ms = 0;
	struct errlist errs;
	char ns[254], identity[320], err[512], port[8], max[24], qps[32], burst[24];
	char **ignored = NULL, **users = NULL;
	size_t nignored = 0, nusers = 0;
	bool explicit_le;
	static struct timespec watchdog_at;    /* the watchdog outlives this frame */
	int64_t t_sig;
	sigset_t set;
	int r, sig, rc = CMD_EXIT_BAD_INPUT;

	errlist_init(&errs, 16);
	cmd_kube_api_init(&o.api);
	explicit_le = leader_elect_given(argc, argv);
	if (cmd_begin("controller", flags, synopsis, argc, argv, &o.common, &rc) < 0)
		goto out;
	if (cmd_kube_api_apply("controller", &o.api, &ko) < 0)
		goto out;
	if (o.max_actions < 0 || o.max_actions > 1000000) {
		fprintf(stderr, "profileguard controller: --max-actions-per-minute must be 0..1000000\n");
		goto out;
	}
	if (o.tel_max_conns < 1 || o.tel_max_conns > 1000000 || o.tel_max_conns_per_ip < -1 ||
	    o.tel_max_conns_per_ip > 1000000 || o.tel_request_timeout < 1 ||
	    o.tel_request_timeout > 3600) {
		fprintf(stderr, "profileguard controller: --telemetry-max-connections must be "
			"1..1000000, --telemetry-max-connections-per-ip 0..1000000, "
			"--telemetry-request-timeout 1..3600\n");
		goto out;
	}
	cc.lease_ms = 15000;
	cc.renew_deadline_ms = 10000;
	cc.retry_ms = 2000;
	cc.shutdown_timeout_ms = SHUTDOWN_TIMEOUT_MS;
	if (!duration_flag("lease-duration", o.lease_duration, 1000, &cc.lease_ms) ||
	    !duration_flag("renew-deadline", o.renew_deadline, 1, &cc.renew_deadline_ms) ||
	    !duration_flag("retry-period", o.retry_period, 1, &cc.retry_ms) ||
	    !duration_flag("resync-period", o.resync_period, 1000, &cc.resync_ms) ||
	    !duration_flag("owner-backoff", o.owner_backoff, 1, &cc.owner_backoff_ms) ||
	    !duration_flag("cert-check-interval", o.cert_interval, 100, &cert_interval_ms) ||
	    !duration_flag("webhook-arm-interval", o.arm_interval, 100, &arm_interval_ms))
		goto out;
	if (!duration_flag("shutdown-timeout", o.shutdown_timeout, 1000, &cc.shutdown_timeout_ms))
		goto out;
	{
		int64_t unused = lc.unused_after * 1000, orphaned = lc.orphaned_after * 1000;
		int64_t retire = lc.retire_after * 1000, usage = 720LL * 3600 * 1000, live = 600 * 1000;

		if (!duration_flag("identity-unused-after", o.id_unused_after, 1000, &unused) ||
		    !duration_flag("identity-orphaned-after", o.id_orphaned_after, 1000, &orphaned) ||
		    !duration_flag("identity-retire-after", o.id_retire_after, 1000, &retire) ||
		    !duration_flag("identity-usage-window", o.id_usage_window, 1000, &usage) ||
		    !duration_flag("audit-live-window", o.audit_live_window, 1000, &live))
			goto out;
		if (o.id_lifecycle && lifecycle_mode_parse(o.id_lifecycle, &lc.mode) < 0) {
			fprintf(stderr, "profileguard controller: --identity-lifecycle \"%s\": expected Report, "
					"Disable or Retire\n", o.id_lifecycle);
			goto out;
		}
		if (lc.mode != LIFECYCLE_REPORT) {
			fprintf(stderr, "profileguard controller: --identity-lifecycle %s is not available yet: "
					"only Report (states, reports and Events)\n", o.id_lifecycle);
			goto out;
		}
		lc.unused_after = unused / 1000;
		lc.orphaned_after = orphaned / 1000;
		lc.retire_after = retire / 1000;
		cc.usage_window_s = usage / 1000;
		cc.audit_live_window_s = live / 1000;
		cc.lifecycle = &lc;
	}
	if (!(cc.retry_ms < cc.renew_deadline_ms && cc.renew_deadline_ms < cc.lease_ms)) {
		fprintf(stderr, "profileguard controller: need --retry-period < --renew-deadline < "
				"--lease-duration\n");
		goto out;
	}

	rc = EXIT_FAILURE;
	r = kubeconfig_resolve(o.common.kubeconfig, o.context, NULL, &errs, &kcfg);
	if (r < 0) {
		pglog(PGLOG_ERROR, "no Kubernetes configuration", "error",
		      errs.n ? errs.msgs[0] : strerror(-r), NULL);
		goto out;
	}
	if (!explicit_le)
		o.leader_elect = strcmp(kcfg->source, "in-cluster") == 0;
	cmd_own_namespace(o.namespace, DEFAULT_NAMESPACE, ns, sizeof(ns));
	if (cmd_split_list(&o.ignore, &ignored, &nignored) < 0)
		goto oom;
	own_identity(o.identity, identity, sizeof(identity));

	r = kube_client_new(kcfg, &ko, &client);
	if (r < 0) {
		pglog(PGLOG_ERROR, "Kubernetes client not created", "error", strerror(-r), NULL);
		goto out;
	}

	/* Every thread started below inherits this mask: the signals are
	 * taken here, in sigtimedwait(), and nowhere else. */
	cmd_block_signals(false, &set);

	metrics = metrics_new();
	if (!metrics)
		goto oom;
	metrics_enable_process(metrics);
	{
		static const char *const version[] = { "version", NULL };

		metric_set(metric_vec_get1(metrics_gauge(metrics, "profileguard_build_info",
							 "profileguard's version.", version),
					   PG_VERSION), 1);
	}
	cc.client = client;
	cc.metrics = metrics;
	cc.namespace = ns;
	cc.ignored_ns = (const char *const *)ignored;
	cc.nignored = nignored;
	cc.identity = identity;
	cc.leader_elect = o.leader_elect;
	cc.lease_name = o.lease_name;
	cc.dry_run = o.dry_run;
	cc.max_actions_per_minute = (double)o.max_actions;
	r = controller_new(&cc, &ctl);
	if (r < 0) {
		pglog(PGLOG_ERROR, "controller not created", "error", strerror(-r), NULL);
		goto out;
	}
	if (o.tel_listen && *o.tel_listen) {
		struct telemetry_ops_config tc = {
			.controller = ctl, .client = client, .metrics = metrics, .namespace = ns,
			.pod_name = getenv("POD_NAME"), .listen = o.tel_listen, .tls_cert = o.tel_cert,
			.tls_key = o.tel_key, .client_ca = o.tel_ca, .audience = o.tel_audience,
			.max_connections = (unsigned)o.tel_max_conns,
			/* -1: the server's default; 0: no cap. */
			.max_connections_per_ip = o.tel_max_conns_per_ip < 0 ? 0
						: o.tel_max_conns_per_ip == 0 ? HTTP_SERVER_NO_CAP
						: (unsigned)o.tel_max_conns_per_ip,
			.request_timeout = (unsigned)o.tel_request_timeout,
		};

		if (cmd_split_list(&o.tel_users, &users, &nusers) < 0)
			goto oom;
		tc.allowed_users = (const char *const *)users;
		tc.nallowed = nusers;
		r = telemetry_ops_new(&tc, &tel, err, sizeof(err));
		if (r < 0) {
			pglog(PGLOG_ERROR, "telemetry endpoints not set up", "error", err, NULL);
			goto out;
		}
	}
	if (o.cert_secret && *o.cert_secret) {
		struct certs_ops_config ec = {
			.client = client, .controller = ctl, .namespace = ns, .secret = o.cert_secret,
			.webhook_config = o.webhook_config, .webhook_service = o.webhook_service,
			.telemetry_service = o.tel_service, .interval_ms = cert_interval_ms,
		};

		r = certs_ops_new(&ec, &certs, err, sizeof(err));
		if (r < 0) {
			pglog(PGLOG_ERROR, "webhook certificates not set up", "error", err, NULL);
			goto out;
		}
	}
	if (o.webhook_config && *o.webhook_config) {
		struct webhookcfg_ops_config wc = {
			.client = client, .controller = ctl, .namespace = ns,
			.webhook_config = o.webhook_config, .interval_ms = arm_interval_ms,
			.metrics = metrics,
		};

		r = webhookcfg_ops_new(&wc, &arm, err, sizeof(err));
		if (r < 0) {
			pglog(PGLOG_ERROR, "webhook configuration arming not set up", "error", err, NULL);
			goto out;
		}
	}
	if (o.common.metrics_addr) {
		struct ops_config oc = {
			.listen = o.common.metrics_addr, .metrics = metrics,
			.healthy = ops_healthy, .ready = ops_ready, .ud = ctl,
		};

		r = ops_start(&oc, &ops, err, sizeof(err));
		if (r < 0) {
			pglog(PGLOG_ERROR, "metrics server did not start", "error", err, NULL);
			goto out;
		}
		snprintf(port, sizeof(port), "%u", ops_port(ops));
		pglog(PGLOG_INFO, "metrics listening", "listen", o.common.metrics_addr, "port", port,
		      NULL);
	}
	snprintf(max, sizeof(max), "%ld", o.max_actions);
	snprintf(qps, sizeof(qps), "%g", ko.qps);
	snprintf(burst, sizeof(burst), "%u", ko.burst);
	pglog(PGLOG_INFO, "controller starting", "server", kcfg->server, "namespace", ns,
	      "identity", identity, "leader_elect", o.leader_elect ? "true" : "false",
	      "lease", o.lease_name, "dry_run", o.dry_run ? "true" : "false",
	      "max_actions_per_minute", max, "kube_api_qps", qps, "kube_api_burst", burst, NULL);
	r = controller_start(ctl);
	if (r < 0) {
		pglog(PGLOG_ERROR, "controller did not start", "error", strerror(-r), NULL);
		goto out;
	}
	if (tel && (r = telemetry_ops_start(tel)) < 0) {
		pglog(PGLOG_ERROR, "telemetry endpoints did not start", "error", strerror(-r), NULL);
		goto out;
	}
	if (certs && (r = certs_ops_start(certs)) < 0) {
		pglog(PGLOG_ERROR, "webhook certificate loop did not start", "error", strerror(-r),
		      NULL);
		goto out;
	}
	if (arm && (r = webhookcfg_ops_start(arm)) < 0) {
		pglog(PGLOG_ERROR, "webhook configuration loop did not start", "error", strerror(-r),
		      NULL);
		goto out;
	}
	do
		sig = sigwaitinfo(&set, NULL);
	while (sig < 0 && errno == EINTR);
	pglog(PGLOG_INFO, "shutting down: flushing status, releasing the lease", "signal",
	      sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
	start_watchdog(&watchdog_at, cc.shutdown_timeout_ms);
	t_sig = ticker_now_ms();
	certs_ops_stop(certs);
	webhookcfg_ops_stop(arm);
	telemetry_ops_stop(tel);
	/* What the other stops took comes off the controller's budget. */
	controller_stop_within(ctl, cc.shutdown_timeout_ms - (ticker_now_ms() - t_sig) > 1000 ?
				    cc.shutdown_timeout_ms - (ticker_now_ms() - t_sig) : 1000);
	rc = CMD_EXIT_PASS;
	pglog(PGLOG_INFO, "controller stopped", NULL);
	goto out;
oom:
	fprintf(stderr, "profileguard controller: out of memory\n");
out:
	ops = ops_stop(ops);
	/* It asks the controller whether it leads: stopped first. */
	certs = certs_ops_free(certs);
	arm = webhookcfg_ops_free(arm);
	/* The telemetry ops hear the controller's pod cache until it stops. */
	telemetry_ops_stop(tel);
	if (ctl)
		controller_stop(ctl);
	tel = telemetry_ops_free(tel);
	ctl = controller_free(ctl);
	client = kube_client_free(client);
	kcfg = kubeconfig_free(kcfg);
	metrics = metrics_free(metrics);
	errlist_free(&errs);
	cmd_list_free(ignored, nignored);
	strlist_free(&o.ignore);
	cmd_list_free(users, nusers);
	strlist_free(&o.tel_users);
	return rc;
}
