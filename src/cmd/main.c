/* main.c - profileguard's entry point: one binary, a command each. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "kube_client.h"
#include "pg_config.h"
#include "pglog.h"
#include "xalloc.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "agent", cmd_agent, "node agent: /proc telemetry (execs, connections, token claims) to the controller" },
	{ "check", cmd_check, "evaluate manifests against profiles offline (CI)" },
	{ "controller", cmd_controller, "run the drift controller (leader-elected reconcile loop)" },
	{ "identities", cmd_identities, "inventory the ServiceAccounts of manifests: RBAC grants and risk (CI)" },
	{ "learn", cmd_learn, "write a WorkloadProfile from observed telemetry and a pod manifest" },
	{ "rbac", cmd_rbac, "propose the smallest Roles from audit events; granted but unused (CI)" },
	{ "test", cmd_test, "run test suites: manifests with their expected results (CI)" },
	{ "webhook", cmd_webhook, "serve the validating admission webhook (HTTPS)" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

int cmd_common_setup(const char *cmd, const struct cmd_common_opts *o)
{
	enum pglog_format fmt = PGLOG_JSON;
	enum pglog_level lvl = PGLOG_INFO;

	if (o->log_format && pglog_format_parse(o->log_format, &fmt) < 0) {
		fprintf(stderr, "profileguard %s: --log-format must be json or text\n", cmd);
		return -1;
	}
	if (o->log_level && pglog_level_parse(o->log_level, &lvl) < 0) {
		fprintf(stderr, "profileguard %s: --log-level must be error, warn, info or debug\n", cmd);
		return -1;
	}
	pglog_setup(fmt, lvl, stderr);
	return 0;
}

void cmd_kube_api_init(struct cmd_kube_api_opts *o)
{
	struct kube_client_opts ko;

	kube_client_opts_default(&ko);
	o->qps = ko.qps;
	o->burst = (long)ko.burst;
}

int cmd_kube_api_apply(const char *cmd, const struct cmd_kube_api_opts *o,
		       struct kube_client_opts *ret)
{
	/* "!(x > 0)" so that a NaN is refused too. */
	if (!(o->qps > 0) || o->qps > CMD_KUBE_API_QPS_MAX) {
		fprintf(stderr, "profileguard %s: --kube-api-qps must be a number above 0 and at most "
			"%.0f (got %g)\n", cmd, CMD_KUBE_API_QPS_MAX, o->qps);
		return -EINVAL;
	}
	if (o->burst < 1 || o->burst > CMD_KUBE_API_BURST_MAX) {
		fprintf(stderr, "profileguard %s: --kube-api-burst must be 1..%ld (got %ld)\n", cmd,
			CMD_KUBE_API_BURST_MAX, o->burst);
		return -EINVAL;
	}
	kube_client_opts_default(ret);
	ret->qps = o->qps;
	ret->burst = (unsigned)o->burst;
	return 0;
}

int cmd_begin(const char *cmd, const struct flag *flags, const char *synopsis, int argc,
	      char **argv, const struct cmd_common_opts *common, int *ret_rc)
{
	int optind_, r = flags_parse(flags, argc, argv, cmd, synopsis, &optind_);

	if (r != 0) {
		*ret_rc = r > 0 ? CMD_EXIT_PASS : CMD_EXIT_BAD_INPUT;
		return -1;
	}
	*ret_rc = CMD_EXIT_BAD_INPUT;
	if (optind_ < argc) {
		fprintf(stderr, "profileguard %s: unexpected argument \"%s\"\n", cmd, argv[optind_]);
		return -1;
	}
	return cmd_common_setup(cmd, common) < 0 ? -1 : 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"profileguard %s - pre-baked workload identity profiles for Kubernetes\n\n"
		"usage: profileguard <command> [flags]\n\ncommands:\n", PG_VERSION);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n  profileguard help <command>   flags of one command\n"
		     "  profileguard --version\n");
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct command *c;

	pg_alloc_setup_jansson();
	if (argc < 2) {
		usage(stderr);
		return CMD_EXIT_BAD_INPUT;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("profileguard %s\n", PG_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "help")) {
		char *hargv[] = { argv[2], (char *)"--help", NULL };

		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		c = find(argv[2]);
		if (!c) {
			fprintf(stderr, "profileguard: unknown command \"%s\"\n", argv[2]);
			return CMD_EXIT_BAD_INPUT;
		}
		return c->run(2, hargv);
	}
	c = find(argv[1]);
	if (!c) {
		fprintf(stderr, "profileguard: unknown command \"%s\" (see profileguard --help)\n", argv[1]);
		return CMD_EXIT_BAD_INPUT;
	}
	return c->run(argc - 1, argv + 1);
}
