/* standin_harness.h - runs the Kubernetes API stand-in
 * (tests/standin/kube_standin.py) for C integration tests and benches:
 * certificates, a token table, the process, its control API, kubeconfigs
 * for each kind of credential, and realistic pods.  Any failure here is a
 * broken test set-up: it prints why and aborts. */
#ifndef PG_STANDIN_HARNESS_H
#define PG_STANDIN_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "kube_client.h"
#include "kubeconfig.h"

struct kt_standin {
	char *dir;                  /* scratch: tokens, port file, token mounts */
	char *certs;                /* gencerts.sh output */
	pid_t pid;
	int port;
	struct kube_client *ctl;    /* control API and raw API calls: no retries */
};

/* Tokens every stand-in knows ("admin-token" is system:masters). */
#define KT_TOKEN_ADMIN "admin-token"
#define KT_TOKEN_AGENT "agent-a-token"      /* node-a agent, with user.extra */
#define KT_TOKEN_SHORT "short-lived-token"  /* expires kt_start()'s @short_ttl_s later */
#define KT_TOKEN_NEXT "rotated-token"

enum kt_auth {
	KT_AUTH_TOKEN,              /* bearer token (the one given) */
	KT_AUTH_CERT,               /* client certificate signed by the CA */
	KT_AUTH_BAD_CERT,           /* client certificate from another CA */
	KT_AUTH_WRONG_CA,           /* token, but the server's CA is not trusted */
	KT_AUTH_INSECURE,           /* token, wrong CA, insecure-skip-tls-verify */
};

/* Starts a stand-in with @extra arguments (NULL-terminated, may be NULL).
 * Needs $PG_SRCDIR (the source tree); certificates are made once per
 * $PG_CERTS_DIR or per process. */
void kt_start(struct kt_standin *s, int short_ttl_s, const char *const *extra);
void kt_stop(struct kt_standin *s);

/* A kubeconfig for this stand-in, parsed by kubeconfig_parse (so the
 * parser is exercised with real PEM data too). */
struct kubeconfig *kt_config(struct kt_standin *s, enum kt_auth auth, const char *token);
/* A client with @opts (NULL: defaults) on top of kt_config(). */
struct kube_client *kt_client(struct kt_standin *s, enum kt_auth auth, const char *token,
			      const struct kube_client_opts *opts);

/* The client's defaults with short backoffs (20 ms, at most 200 ms), so
 * the fault tests retry quickly. */
struct kube_client_opts kt_fast_opts(void);

/* Control API and raw calls through s->ctl.  @body may be NULL.  Returns
 * the parsed answer (new reference, NULL when not JSON); aborts unless
 * the call succeeds. */
json_t *kt_call(struct kt_standin *s, const char *method, const char *path_and_query,
		const char *body);
void kt_faults(struct kt_standin *s, const char *json);   /* merge knobs */
void kt_clear(struct kt_standin *s);                     /* faults and request log */
void kt_seed(struct kt_standin *s, json_t *items);       /* takes @items */
void kt_namespace(struct kt_standin *s, const char *name);
/* The stored objects of @kind in @ns (NULL: all): the "items" array. */
json_t *kt_objects(struct kt_standin *s, const char *kind, const char *ns);
/* Recorded requests whose path matches @path_regex (NULL: all). */
json_t *kt_requests(struct kt_standin *s, const char *method, const char *path_regex);
/* Open watches on the stand-in. */
int kt_open_watches(struct kt_standin *s);

/* A pod: @rich makes it realistic (2-4 KB of JSON: two containers with
 * env, ports, probes and resources, labels, an owner reference, the
 * projected token volume); otherwise small.  New reference. */
json_t *kt_pod(const char *ns, const char *name, const char *app, bool rich, unsigned seq);

void kt_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
double kt_now(void);            /* monotonic seconds */
void kt_sleep_ms(long ms);

#endif
