/* kubeconfig.h - where the API server is and how to prove who we are
 * (SPEC §1): a kubeconfig file (read as kubectl reads it: YAML 1.1), or
 * the in-cluster service-account mount.  The result is plain data the
 * client copies; files named by the kubeconfig are read here, at load,
 * except the bearer-token file, which the client re-reads because the
 * kubelet rotates it. */
#ifndef PG_KUBECONFIG_H
#define PG_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct errlist;

/* Where in-cluster credentials live; tests point elsewhere. */
#define KUBE_SA_ROOT "/var/run/secrets/kubernetes.io/serviceaccount"
/* The largest kubeconfig, certificate, key or token file we read. */
#define KUBECONFIG_MAX_FILE (4u * 1024 * 1024)

struct kubeconfig {
	char *server;           /* "https://host:port[/prefix]", no trailing '/' */
	char *ca_pem;           /* NULL: the system trust store */
	size_t ca_len;
	char *cert_pem;         /* client certificate; with key_pem, or both NULL */
	size_t cert_len;
	char *key_pem;          /* wiped on free */
	size_t key_len;
	char *token;            /* static bearer token, NULL if none; wiped on free */
	char *token_file;       /* bearer-token file, re-read by the client; wins
	                         * over token once read, as in client-go */
	bool insecure;          /* insecure-skip-tls-verify */
	char *namespace;        /* the context's (or pod's) namespace; "default" */
	char *source;           /* the kubeconfig path, or "in-cluster" */
	char *context;          /* the context used; NULL in-cluster */
};

/* Parses a kubeconfig held in memory.  @path names it in messages and
 * anchors relative file paths (its directory); @context overrides
 * current-context when not NULL.  Files it names are read now.  Every
 * problem is one message in @errs naming the file and the field, e.g.
 * "kubeconfig /home/a/.kube/config: users[0].user.client-key-data:
 * invalid base64", never a secret.  Returns 0 with a new config in
 * *ret_config, -EINVAL (see @errs), -ENOENT (a named file is missing),
 * or -ENOMEM. */
int kubeconfig_parse(const char *data, size_t len, const char *path, const char *context,
		     struct errlist *errs, struct kubeconfig **ret_config);
/* Reads @path (at most KUBECONFIG_MAX_FILE) and parses it. */
int kubeconfig_load(const char *path, const char *context, struct errlist *errs,
		    struct kubeconfig **ret_config);

/* In-cluster config from the service host and port (as in
 * KUBERNETES_SERVICE_HOST/_PORT; an IPv6 host is bracketed) and the
 * service-account mount at @sa_root (NULL: KUBE_SA_ROOT): ca.crt is read
 * now, token is left to the client, namespace is read when present.
 * -ENOENT when @host or @port is NULL or empty (not in a cluster). */
int kubeconfig_in_cluster(const char *host, const char *port, const char *sa_root,
			   struct errlist *errs, struct kubeconfig **ret_config);

/* SPEC §1 resolution: @kubeconfig_flag (--kubeconfig) when not NULL, else
 * the first existing file of $KUBECONFIG (a colon-separated list), else
 * in-cluster from the environment and @sa_root.  @context is --context.
 * -ENOENT, with a message, when none applies. */
int kubeconfig_resolve(const char *kubeconfig_flag, const char *context, const char *sa_root,
			struct errlist *errs, struct kubeconfig **ret_config);

/* NULL-safe, wipes key and token; returns NULL. */
struct kubeconfig *kubeconfig_free(struct kubeconfig *c);

#endif
