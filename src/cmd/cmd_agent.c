/* cmd_agent.c - `profileguard agent`: the node agent of SPEC §5.3.  Wires
 * the flags to the sampling loop, the sender and the plain-HTTP metrics
 * listener, then runs until SIGTERM/SIGINT (or one sample with --once). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cmd.h"
#include "metrics.h"
#include "pg_config.h"
#include "pglog.h"
#include "http_server.h"

#define DEFAULT_CONTROLLER_URL "https://profileguard-controller.profileguard.svc:9443" AGENT_EVENTS_PATH
#define DEFAULT_CA_FILE "/var/run/secrets/profileguard/ca.crt"
#define DEFAULT_TOKEN_FILE "/var/run/secrets/tokens/profileguard-agent"

struct agent_opts {
	struct cmd_common_opts common;
	const char *interval;
	const char *proc_root;
	const char *cgroup_root;
	const char *pods_dir;
	const char *controller_url;
	const char *controller_ca;
	const char *ca_file;
	const char *token_file;
	const char *node_name;
	long max_queue;
	bool once;
	bool exec_args;
};

/* The cgroup layout, for the first log line: useful when a node's pods
 * are not found. */
static const char *cgroup_layout(const char *root)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
	if (access(path, F_OK) == 0)
		return "v2";
	snprintf(path, sizeof(path), "%s/unified/cgroup.controllers", root);
	if (access(path, F_OK) == 0)
		return "hybrid";
	snprintf(path, sizeof(path), "%s/pids", root);
	if (access(path, F_OK) == 0)
		return "v1";
	return "unknown";
}

/* /readyz: the agent has sampled once (the 503 text is the one it always had). */
static bool agent_is_ready(void *ud, char *why, size_t whysz)
{
	if (agent_ready(ud))
		return true;
	snprintf(why, whysz, "profiles not loaded");
	return false;
}

static int start_metrics(const char *addr, struct metrics *m, struct agent *a, struct http_server **ret)
{
	struct http_server_config mc = {
		.name = "metrics",
		.listen = addr,
		.metrics = m,
		.ready = agent_is_ready,
		.ready_ud = a,
		.threads = 1,
		.max_connections = 64,
		.max_request_bytes = 4096,
	};
	char err[256], port[8];
	int r = http_server_start(&mc, ret, err, sizeof(err));

	if (r < 0) {
		pglog(PGLOG_ERROR, "metrics server did not start", "error", err, NULL);
		return r;
	}
	snprintf(port, sizeof(port), "%u", http_server_port(*ret));
	pglog(PGLOG_INFO, "metrics listening", "listen", addr, "port", port, NULL);
	return 0;
}

int cmd_agent(int argc, char **argv)
{
	static const char synopsis[] = "[flags]\n\n"
		"Samples /proc every --interval for the processes of pod containers (pod UID and\n"
		"container ID from their cgroups), their executables and outbound TCP/UDP\n"
		"connections, and reads the claims (never the signature) of each pod's projected\n"
		"token under --kubelet-pods-dir.  What changed since the last sample is sent in\n"
		"batches to the controller (POST /telemetry/v1/events) with the agent's own token.\n"
		"--once prints one sample's events as JSON lines instead.";
	struct agent_opts o = {
		.interval = "1s",
		.proc_root = "/proc",
		.cgroup_root = "/sys/fs/cgroup",
		.pods_dir = "/var/lib/kubelet/pods",
		.controller_url = DEFAULT_CONTROLLER_URL,
		.token_file = DEFAULT_TOKEN_FILE,
		.max_queue = SENDER_DEFAULT_MAX_QUEUE,
	};
	const struct flag flags[] = {
		{ "interval", 0, FLAG_STRING, &o.interval, "DURATION", "how often /proc is sampled: 1s, 500ms, 2m (default 1s)" },
		{ "proc-root", 0, FLAG_STRING, &o.proc_root, "DIR", "the host's /proc (default /proc)" },
		{ "cgroup-root", 0, FLAG_STRING, &o.cgroup_root, "DIR", "the host's cgroup mount, for diagnostics (default /sys/fs/cgroup)" },
		{ "kubelet-pods-dir", 0, FLAG_STRING, &o.pods_dir, "DIR", "pods' volumes, for projected tokens (default /var/lib/kubelet/pods)" },
		{ "controller-url", 0, FLAG_STRING, &o.controller_url, "URL", "the controller's telemetry endpoint, https (a URL without a path gets " AGENT_EVENTS_PATH ")" },
		{ "controller-ca", 0, FLAG_STRING, &o.controller_ca, "FILE", "CA of the controller's serving certificate, PEM (default " DEFAULT_CA_FILE ")" },
		{ "ca-file", 0, FLAG_STRING, &o.ca_file, "FILE", "same as --controller-ca" },
		{ "token-file", 0, FLAG_STRING, &o.token_file, "FILE", "the agent's projected token, re-read every minute and after a 401 (default " DEFAULT_TOKEN_FILE ")" },
		{ "node-name", 0, FLAG_STRING, &o.node_name, "NAME", "this node, in every event (default $NODE_NAME)" },
		{ "max-queue", 0, FLAG_INT, &o.max_queue, "N", "events kept while the controller is away; the oldest are dropped past it (default 10000)" },
		{ "exec-args", 0, FLAG_BOOL, &o.exec_args, NULL, "also send each first exec's arguments (they may hold secrets; off by default)" },
		{ "once", 0, FLAG_BOOL, &o.once, NULL, "one sample, its events as JSON lines on stdout, then exit" },
		CMD_LOG_FLAGS(&o.common),
		CMD_METRICS_FLAG(&o.common),
		{ 0 },
	};
	struct agent_config cfg = { 0 };
	struct metrics *metrics = NULL;
	struct http_server *ops = NULL;
	struct agent *a = NULL;
	char url[2048] = "";
	const char *ca;
	sigset_t set;
	int r, rc = CMD_EXIT_BAD_INPUT;

	if (cmd_begin("agent", flags, synopsis, argc, argv, &o.common, &r) < 0)
		return r;
	if (agent_parse_interval(o.interval, &cfg.interval_ms) < 0) {
		fprintf(stderr, "profileguard agent: --interval must be a duration between 10ms and 1h "
				"(1s, 500ms, 2m), not \"%s\"\n", o.interval);
		return CMD_EXIT_BAD_INPUT;
	}
	if (o.max_queue < 1 || o.max_queue > 10000000) {
		fprintf(stderr, "profileguard agent: --max-queue must be between 1 and 10000000\n");
		return CMD_EXIT_BAD_INPUT;
	}
	if (o.controller_ca && o.ca_file && strcmp(o.controller_ca, o.ca_file) != 0) {
		fprintf(stderr, "profileguard agent: --controller-ca and --ca-file name different files\n");
		return CMD_EXIT_BAD_INPUT;
	}
	if (!o.once && agent_events_url(o.controller_url, url, sizeof(url)) < 0) {
		fprintf(stderr, "profileguard agent: --controller-url must be an https:// URL "
				"(the requests carry a token), not \"%s\"\n", o.controller_url);
		return CMD_EXIT_BAD_INPUT;
	}
	if (!o.node_name || !*o.node_name)
		o.node_name = getenv("NODE_NAME");
	ca = o.controller_ca ? o.controller_ca : o.ca_file ? o.ca_file : DEFAULT_CA_FILE;

	cfg.scan.proc_root = o.proc_root;
	cfg.scan.pods_dir = o.pods_dir;
	cfg.scan.node = o.node_name;
	cfg.scan.exec_args = o.exec_args;
	/* 5% of the interval for net tables, so a node where every pod opens
	 * connections all the time costs a bounded share of a core (what
	 * does not fit is looked up by the next samples); --once takes a
	 * whole snapshot */
	if (!o.once)
		cfg.scan.table_budget_ms = cfg.interval_ms / 20 > 10 ? cfg.interval_ms / 20 : 10;
	cfg.send.url = url;
	cfg.send.token_file = o.token_file && *o.token_file ? o.token_file : NULL;
	cfg.send.max_queue = (size_t)o.max_queue;
	if (access(ca, R_OK) == 0) {
		cfg.send.ca_file = ca;
	} else if (!o.once) {
		/* the chart's CA Secret is optional (cert-manager may publish the
		 * CA elsewhere): the system's CAs are the only other choice */
		pglog(PGLOG_WARN, "controller CA unreadable: verifying the controller with the system's CAs",
		      "file", ca, "error", strerror(errno), NULL);
	}

	rc = EXIT_FAILURE;
	if (o.once) {
		if (agent_new(&cfg, &a) < 0)
			goto oom;
		rc = agent_once(a, stdout) < 0 ? EXIT_FAILURE : CMD_EXIT_PASS;
		goto out;
	}

	/* Every thread started below inherits this mask: the signals are
	 * taken in the loop's sigtimedwait() and nowhere else. */
	cmd_block_signals(false, &set);
	signal(SIGHUP, SIG_IGN);

	metrics = metrics_new();
	if (!metrics)
		goto oom;
	metrics_enable_process(metrics);
	metric_set(metric_vec_get1(metrics_gauge(metrics, "profileguard_build_info",
		"profileguard's version.", (const char *const[]){ "version", NULL }), PG_VERSION), 1);
	cfg.metrics = metrics;
	if (agent_new(&cfg, &a) < 0)
		goto oom;
	if (o.common.metrics_addr && start_metrics(o.common.metrics_addr, metrics, a, &ops) < 0)
		goto out;
	if (!o.node_name || !*o.node_name)
		pglog(PGLOG_WARN, "no --node-name and no $NODE_NAME: events name no node", NULL);
	pglog(PGLOG_INFO, "agent started", "version", PG_VERSION, "controller", url, "proc_root",
	      o.proc_root, "kubelet_pods_dir", o.pods_dir, "cgroups", cgroup_layout(o.cgroup_root),
	      "interval", o.interval, "node", o.node_name ? o.node_name : "", NULL);
	r = agent_run(a, &set);
	if (r < 0)
		goto out;
	pglog(PGLOG_INFO, "agent stopped", "signal", r == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
	rc = CMD_EXIT_PASS;
	goto out;
oom:
	fprintf(stderr, "profileguard agent: out of memory\n");
out:
	ops = http_server_stop(ops);
	a = agent_free(a);
	metrics_free(metrics);
	return rc;
}
