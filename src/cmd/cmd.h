/* cmd.h - the commands of the profileguard binary (SPEC §1). */
#ifndef PG_CMD_H
#define PG_CMD_H

#include "flags.h"

/* Exit codes shared by the commands. */
enum { EXIT_PASS = 0, EXIT_VIOLATIONS = 1, EXIT_BAD_INPUT = 2 };

/* Flags every command takes (SPEC §1). */
struct common_opts {
	const char *kubeconfig;
	const char *log_format;
	const char *log_level;
	const char *metrics_addr;
};

#define COMMON_FLAGS(o) \
	{ "kubeconfig", 0, FLAG_STRING, &(o)->kubeconfig, "PATH", "kubeconfig file (else $KUBECONFIG, else in-cluster)" }, \
	{ "log-format", 0, FLAG_STRING, &(o)->log_format, "json|text", "log format (default json)" }, \
	{ "log-level", 0, FLAG_STRING, &(o)->log_level, "LEVEL", "error, warn, info or debug (default info)" }, \
	{ "metrics-addr", 0, FLAG_STRING, &(o)->metrics_addr, "HOST:PORT", "plain HTTP /metrics, /healthz, /readyz" }

/* Applies the log flags; -EINVAL with a message on stderr. */
int common_setup(const char *cmd, const struct common_opts *o);

int cmd_agent(int argc, char **argv);
/* The start every server command shares: parses @flags (help printed on
 * -h), refuses operands, applies the common flags.  0 to go on; -1 when the
 * command is to exit with *ret_rc (0 after --help, else 2). */
int cmd_begin(const char *cmd, const struct flag *flags, const char *synopsis, int argc,
	      char **argv, const struct common_opts *common, int *ret_rc);

int cmd_check(int argc, char **argv);
int cmd_controller(int argc, char **argv);
int cmd_learn(int argc, char **argv);
int cmd_webhook(int argc, char **argv);

#endif
