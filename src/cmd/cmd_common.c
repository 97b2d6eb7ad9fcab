/* cmd_common.c - what the long-running commands (webhook, controller,
 * agent) share beyond flags: list flags split on commas, the namespace a
 * replica runs in, and the signal mask their loops wait on. */
#include "cmd.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "doc.h"
#include "errlist.h"
#include "strutil.h"
#include "telemetry.h"
#include "kubeconfig.h"
#include "xalloc.h"

#define SA_NAMESPACE_FILE KUBE_SA_ROOT "/namespace"

void cmd_list_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		pg_free(v[i]);
	pg_free(v);
}

int cmd_split_list(const struct strlist *l, char ***ret, size_t *ret_n)
{
	char **v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		for (const char *p = l->v[i]; *p;) {
			size_t len = strcspn(p, ",");

			if (len) {
				char **nv = pg_realloc(v, (n + 2) * sizeof(*v));

				if (!nv)
					goto oom;
				v = nv;
				if (!(v[n] = pg_strndup(p, len)))
					goto oom;
				v[++n] = NULL;
			}
			p += len + (p[len] == ',');
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
oom:
	cmd_list_free(v, n);
	return -ENOMEM;
}

void cmd_own_namespace(const char *flag, const char *fallback, char *out, size_t n)
{
	const char *env = getenv("POD_NAMESPACE");
	char *data = NULL;
	size_t len = 0;

	if (flag && *flag) {
		snprintf(out, n, "%s", flag);
		return;
	}
	if (env && *env) {
		snprintf(out, n, "%s", env);
		return;
	}
	if (doc_read_file(SA_NAMESPACE_FILE, 4096, &data, &len) == 0) {
		while (len && (data[len - 1] == '\n' || data[len - 1] == ' '))
			data[--len] = '\0';
		snprintf(out, n, "%s", data);
		pg_free(data);
		if (*out)
			return;
	}
	snprintf(out, n, "%s", fallback ? fallback : "");
}

void cmd_block_signals(bool hup, sigset_t *ret_set)
{
	sigemptyset(ret_set);
	sigaddset(ret_set, SIGTERM);
	sigaddset(ret_set, SIGINT);
	if (hup)
		sigaddset(ret_set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, ret_set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

#define NS_MAX 63

/* -n takes what kubectl apply -n does: an RFC 1123 label. */
int cmd_check_namespace(const char *cmd, const char *ns)
{
	size_t n = strlen(ns);
	bool ok = n > 0 && isalnum((unsigned char)ns[0]) && isalnum((unsigned char)ns[n - 1]);

	if (n > NS_MAX) {
		fprintf(stderr, "profileguard %s: -n: a namespace name is at most %d characters (got %zu)\n",
			cmd, NS_MAX, n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n && ok; i++)
		ok = (ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9') || ns[i] == '-';
	if (!ok) {
		json_t *q = json_string(ns);
		char *quoted = q ? json_dumps(q, JSON_ENCODE_ANY) : NULL;

		fprintf(stderr, "profileguard %s: -n: %s is not a namespace name (RFC 1123 label: a-z, 0-9 and '-')\n",
			cmd, quoted ? quoted : "the value");
		free(quoted);
		json_decref(q);
		return -EINVAL;
	}
	return 0;
}

bool cmd_is_audit_file(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	bool audit = false;

	if (!strcmp(path, "-") || str_has_suffix(path, ".yaml") || str_has_suffix(path, ".yml"))
		return false;
	if (doc_read_file(path, CMD_MAX_AUDIT_BYTES, &data, &len) == 0)
		audit = telemetry_detect(data, len) == TELEMETRY_AUDIT;
	pg_free(data);
	return audit;
}

int cmd_read_audit(const char *path, int (*fn)(void *ud, const struct telemetry_event *e), void *ud,
		   struct errlist *errs)
{
	struct telemetry_stats st;
	char *data = NULL;
	size_t len = 0;
	int r = doc_read_file(path, CMD_MAX_AUDIT_BYTES, &data, &len);

	if (r < 0) {
		errlist_add(errs, "%s: %s", path,
			    r == -EFBIG ? "larger than " CMD_MAX_AUDIT_TEXT " (profileguard's limit)" : strerror(-r));
		return r == -ENOMEM ? r : 0;
	}
	r = telemetry_parse(TELEMETRY_AUDIT, data, len, fn, ud, &st);
	pg_free(data);
	if (r == -E2BIG) {
		errlist_add(errs, "%s: more than %d audit events (profileguard's limit)", path, TELEMETRY_MAX_EVENTS);
		return 0;
	}
	if (r == 0 && st.rejected)
		errlist_add(errs, "%s: %zu audit events not read: %s", path, st.rejected, st.first_error);
	return r;
}
