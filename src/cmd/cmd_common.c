/* cmd_common.c - what the long-running commands (webhook, controller,
 * agent) share beyond flags: list flags split on commas, the namespace a
 * replica runs in, and the signal mask their loops wait on. */
#include "cmd.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
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
