/* cmd.h - the commands of the profileguard binary (SPEC §1). */
#ifndef PG_CMD_H
#define PG_CMD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "flags.h"

/* Exit codes shared by the commands. */
enum { CMD_EXIT_PASS = 0, CMD_EXIT_VIOLATIONS = 1, CMD_EXIT_BAD_INPUT = 2 };

/* The common flags of SPEC §1.  Each command declares only those it uses
 * (check and learn read no cluster and serve no metrics), so that a flag
 * it would ignore is refused instead. */
struct cmd_common_opts {
	const char *kubeconfig;
	const char *log_format;
	const char *log_level;
	const char *metrics_addr;
};

#define CMD_LOG_FLAGS(o) \
	{ "log-format", 0, FLAG_ENUM, &(o)->log_format, "json|text", "log format (default json)" }, \
	{ "log-level", 0, FLAG_ENUM, &(o)->log_level, "error|warn|info|debug", "log level (default info)" }

#define CMD_KUBECONFIG_FLAG(o) \
	{ "kubeconfig", 0, FLAG_STRING, &(o)->kubeconfig, "PATH", "kubeconfig file (else $KUBECONFIG, else in-cluster)" }

#define CMD_METRICS_FLAG(o) \
	{ "metrics-addr", 0, FLAG_STRING, &(o)->metrics_addr, "HOST:PORT", "plain HTTP /metrics, /healthz, /readyz" }

/* The commands that talk to the API server and serve metrics. */
#define CMD_COMMON_FLAGS(o) CMD_KUBECONFIG_FLAG(o), CMD_LOG_FLAGS(o), CMD_METRICS_FLAG(o)

/* The output format flag: -o/--output is a format in every command, a
 * path is --output-file (SPEC §6). */
#define CMD_OUTPUT_FLAG(dst, formats, help) \
	{ "output", 'o', FLAG_ENUM, (dst), (formats), (help) }
#define CMD_OUTPUT_FILE_FLAG(dst) \
	{ "output-file", 0, FLAG_STRING, (dst), "PATH", "write the output to this file instead of stdout" }

/* Applies the log flags; -EINVAL with a message on stderr. */
int cmd_common_setup(const char *cmd, const struct cmd_common_opts *o);

struct kube_client_opts;

/* How fast the commands that talk to the API server (webhook, controller)
 * may: the API client's QPS/burst bucket.  Every request waits for a
 * token, the watches' included; the defaults are
 * kube_client_opts_default()'s, which the help texts name. */
struct cmd_kube_api_opts {
	double qps;
	long burst;
};

#define CMD_KUBE_API_QPS_MAX 100000.0
#define CMD_KUBE_API_BURST_MAX 1000000L

#define CMD_KUBE_API_FLAGS(o) \
	{ "kube-api-qps", 0, FLAG_DOUBLE, &(o)->qps, "QPS", "requests per second to the API server, sustained (default 50)" }, \
	{ "kube-api-burst", 0, FLAG_INT, &(o)->burst, "N", "requests that may go at once before --kube-api-qps paces them (default 100)" }

/* Sets @o to the client's defaults, before the flags are parsed. */
void cmd_kube_api_init(struct cmd_kube_api_opts *o);
/* Checks @o (qps a number in (0, CMD_KUBE_API_QPS_MAX], burst in
 * 1..CMD_KUBE_API_BURST_MAX) and fills the client's defaults with it into
 * @ret.  0, or -EINVAL with a message on stderr naming the flag. */
int cmd_kube_api_apply(const char *cmd, const struct cmd_kube_api_opts *o,
		       struct kube_client_opts *ret);

int cmd_agent(int argc, char **argv);
/* The start every server command shares: parses @flags (help printed on
 * -h), refuses operands, applies the common flags.  0 to go on; -1 when the
 * command is to exit with *ret_rc (0 after --help, else 2). */
/* Every comma-separated piece of a repeated list flag (--ignore-namespaces
 * a,b --ignore-namespaces c), copied into *@ret, NULL-terminated (NULL
 * when there is none).  0 or -ENOMEM (nothing kept). */
int cmd_split_list(const struct strlist *l, char ***ret, size_t *ret_n);
/* Frees what cmd_split_list() made. */
void cmd_list_free(char **v, size_t n);
/* The namespace this replica runs in: @flag, else $POD_NAMESPACE, else
 * the in-cluster namespace file, else @fallback ("" when NULL). */
void cmd_own_namespace(const char *flag, const char *fallback, char *out, size_t n);
/* Blocks SIGTERM and SIGINT (and SIGHUP when @hup) in this thread and so
 * in every thread started after, for the command's sigtimedwait(), and
 * ignores SIGPIPE.  @ret_set: the blocked set. */
void cmd_block_signals(bool hup, sigset_t *ret_set);

/* -n takes what kubectl apply -n does: an RFC 1123 label.  0, or -EINVAL
 * with a message on stderr naming @cmd. */
int cmd_check_namespace(const char *cmd, const char *ns);

/* Captured audit events (a file the audit backend wrote: JSON lines of
 * audit.k8s.io Events, or an EventList), as the offline commands
 * (identities, rbac) take them next to manifests. */
#define CMD_MAX_AUDIT_BYTES (256u * 1024 * 1024)
#define CMD_MAX_AUDIT_TEXT "256 MiB"
struct errlist;
struct telemetry_event;
/* Whether @path holds audit events rather than manifests.  YAML files,
 * directories and stdin are manifests. */
bool cmd_is_audit_file(const char *path);
/* Reads the audit events of @path (at most CMD_MAX_AUDIT_BYTES, at most
 * TELEMETRY_MAX_EVENTS) into @fn.  Problems go to @errs under the file's
 * name: unreadable, a bound (then 0: the caller stops on errors), events
 * that are not audit Events.  Returns 0, -ENOMEM, or @fn's negative
 * return (its message is the caller's to add; -E2BIG is taken by the
 * bound on events, so @fn stops with another). */
int cmd_read_audit(const char *path, int (*fn)(void *ud, const struct telemetry_event *e), void *ud,
		   struct errlist *errs);
int cmd_begin(const char *cmd, const struct flag *flags, const char *synopsis, int argc,
	      char **argv, const struct cmd_common_opts *common, int *ret_rc);

int cmd_check(int argc, char **argv);
int cmd_controller(int argc, char **argv);
int cmd_identities(int argc, char **argv);
int cmd_learn(int argc, char **argv);
int cmd_rbac(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_webhook(int argc, char **argv);

#endif
