/* kubeconfig.c - kubeconfig files and in-cluster config to a kube_config.
 * Errors name the file and the field; secrets never reach a message. */
#include "kubeconfig.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "buf.h"
#include "doc.h"
#include "errlist.h"
#include "fpath.h"
#include "strutil.h"
#include "xalloc.h"

/* What one parse needs to report and to resolve relative paths. */
struct kcx {
	const char *path;       /* for messages */
	char *dir;              /* directory of path, "" for the current one */
	struct errlist *errs;
};

static int kc_err(struct kcx *x, int code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int kc_err(struct kcx *x, int code, const char *field, const char *fmt, ...)
{
	struct buf b = BUF_INIT(4096);
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r < 0) {
		buf_free(&b);
		return -ENOMEM;
	}
	if (field && *field)
		r = errlist_add(x->errs, "kubeconfig %s: %s: %s", x->path, field, buf_str(&b));
	else
		r = errlist_add(x->errs, "kubeconfig %s: %s", x->path, buf_str(&b));
	buf_free(&b);
	return r < 0 ? r : code;
}

static char *wipe_free(char *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		pg_free(p);
	}
	return NULL;
}

struct kubeconfig *kubeconfig_free(struct kubeconfig *c)
{
	if (!c)
		return NULL;
	pg_free(c->server);
	pg_free(c->ca_pem);
	pg_free(c->cert_pem);
	wipe_free(c->key_pem, c->key_len);
	if (c->token)
		wipe_free(c->token, strlen(c->token));
	pg_free(c->token_file);
	pg_free(c->namespace);
	pg_free(c->source);
	pg_free(c->context);
	pg_free(c);
	return NULL;
}

/* ---- typed field access -------------------------------------------------- */

/* *ret borrowed, NULL when absent or null. */
static int get_string(struct kcx *x, json_t *obj, const char *key, struct fpath *fp,
		      const char **ret)
{
	json_t *v = json_object_get(obj, key);
	size_t mark;
	int r = 0;

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		mark = fpath_key(fp, key);
		r = kc_err(x, -EINVAL, fpath_str(fp), "must be a string");
		fpath_pop(fp, mark);
		return r;
	}
	*ret = json_string_value(v);
	return 0;
}

static int get_object(struct kcx *x, json_t *obj, const char *key, struct fpath *fp,
		      bool required, json_t **ret)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = fpath_key(fp, key);
	int r = 0;

	*ret = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			r = kc_err(x, -EINVAL, fpath_str(fp), "missing");
	} else if (!json_is_object(v)) {
		r = kc_err(x, -EINVAL, fpath_str(fp), "must be a mapping");
	} else {
		*ret = v;
	}
	fpath_pop(fp, mark);
	return r;
}

/* Finds the entry called @name in the list @list_key ("contexts") and
 * returns its @inner mapping ("context"); @fp is left at that mapping
 * ("contexts[2].context"). */
static int find_named(struct kcx *x, json_t *root, const char *list_key, const char *inner,
		      const char *name, struct fpath *fp, json_t **ret)
{
	json_t *list = json_object_get(root, list_key), *item;
	size_t i;

	*ret = NULL;
	fpath_init(fp, list_key);
	if (list && !json_is_null(list) && !json_is_array(list))
		return kc_err(x, -EINVAL, list_key, "must be a list");
	json_array_foreach(list, i, item) {
		json_t *n = json_is_object(item) ? json_object_get(item, "name") : NULL;

		fpath_init(fp, list_key);
		fpath_index(fp, i);
		if (!json_is_object(item))
			return kc_err(x, -EINVAL, fpath_str(fp), "must be a mapping");
		if (!json_is_string(n)) {
			fpath_key(fp, "name");
			return kc_err(x, -EINVAL, fpath_str(fp), "must be a string");
		}
		if (strcmp(json_string_value(n), name) != 0)
			continue;
		if (get_object(x, item, inner, fp, true, ret) < 0)
			return -EINVAL;
		fpath_key(fp, inner);
		return 0;
	}
	/* kubectl: `context was not found for specified context: x`. */
	return kc_err(x, -EINVAL, list_key, "no entry named \"%s\"", name);
}

/* A path from the kubeconfig, relative to the kubeconfig's directory. */
static int resolve_path(struct kcx *x, const char *p, char **ret)
{
	struct buf b = BUF_INIT(64 * 1024);

	if (p[0] != '/' && x->dir[0]) {
		if (buf_adds(&b, x->dir) < 0 || buf_addc(&b, '/') < 0)
			goto fail;
	}
	if (buf_adds(&b, p) < 0)
		goto fail;
	*ret = buf_steal(&b);
	return *ret ? 0 : -ENOMEM;
fail:
	buf_free(&b);
	return -ENOMEM;
}

/* Reads a PEM (or token) from "<key>-data" (base64; it wins, as in
 * client-go) or from the file "<key>". */
static int get_blob(struct kcx *x, json_t *obj, struct fpath *fp, const char *file_key,
		    const char *data_key, char **ret, size_t *ret_len)
{
	const char *data, *file;
	size_t mark;
	char *path = NULL;
	int r;

	*ret = NULL;
	*ret_len = 0;
	if (get_string(x, obj, data_key, fp, &data) < 0 ||
	    get_string(x, obj, file_key, fp, &file) < 0)
		return -EINVAL;
	if (data && *data) {
		struct buf b = BUF_INIT(KUBECONFIG_MAX_FILE);

		r = base64_decode(data, strlen(data), &b);
		if (r == 0 && b.len == 0)
			r = -EINVAL;
		if (r < 0) {
			wipe_free(b.data, b.cap);
			if (r == -ENOMEM)
				return r;
			mark = fpath_key(fp, data_key);
			r = kc_err(x, -EINVAL, fpath_str(fp), r == -E2BIG ? "too large" :
				   "invalid base64");
			fpath_pop(fp, mark);
			return r;
		}
		*ret_len = b.len;
		*ret = buf_steal(&b);
		return *ret ? 0 : -ENOMEM;
	}
	if (!file || !*file)
		return 0;
	r = resolve_path(x, file, &path);
	if (r < 0)
		return r;
	r = doc_read_file(path, KUBECONFIG_MAX_FILE, ret, ret_len);
	if (r < 0) {
		int code = r == -ENOMEM ? -ENOMEM : r == -ENOENT ? -ENOENT : -EINVAL;

		mark = fpath_key(fp, file_key);
		code = kc_err(x, code, fpath_str(fp), "cannot read %s: %s", path, strerror(-r));
		fpath_pop(fp, mark);
		pg_free(path);
		return code;
	}
	pg_free(path);
	return 0;
}

static int dup_into(char **dst, const char *s)
{
	*dst = pg_strdup(s);
	return *dst ? 0 : -ENOMEM;
}

/* "host:6443" and "https://host:6443/" both become "https://host:6443". */
static int set_server(struct kubeconfig *c, const char *server)
{
	struct buf b = BUF_INIT(8192);

	if (!strstr(server, "://") && buf_adds(&b, "https://") < 0)
		goto fail;
	if (buf_adds(&b, server) < 0)
		goto fail;
	while (b.len > 0 && b.data[b.len - 1] == '/')
		buf_truncate(&b, b.len - 1);
	c->server = buf_steal(&b);
	return c->server ? 0 : -ENOMEM;
fail:
	buf_free(&b);
	return -ENOMEM;
}

/* ---- kubeconfig ------------------------------------------------------------ */

static int parse_cluster(struct kcx *x, json_t *cl, struct fpath *fp, struct kubeconfig *c)
{
	const char *server;
	json_t *v;
	size_t mark;
	int r;

	r = get_string(x, cl, "server", fp, &server);
	if (r < 0)
		return r;
	if (!server || !*server) {
		mark = fpath_key(fp, "server");
		r = kc_err(x, -EINVAL, fpath_str(fp), "missing");
		fpath_pop(fp, mark);
		return r;
	}
	r = set_server(c, server);
	if (r < 0)
		return r;
	v = json_object_get(cl, "insecure-skip-tls-verify");
	if (v && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			mark = fpath_key(fp, "insecure-skip-tls-verify");
			r = kc_err(x, -EINVAL, fpath_str(fp), "must be true or false");
			fpath_pop(fp, mark);
			return r;
		}
		c->insecure = json_is_true(v);
	}
	return get_blob(x, cl, fp, "certificate-authority", "certificate-authority-data",
			&c->ca_pem, &c->ca_len);
}

static int parse_user(struct kcx *x, json_t *u, struct fpath *fp, struct kubeconfig *c)
{
	const char *token, *token_file;
	size_t mark;
	int r;

	r = get_blob(x, u, fp, "client-certificate", "client-certificate-data",
		     &c->cert_pem, &c->cert_len);
	if (r < 0)
		return r;
	r = get_blob(x, u, fp, "client-key", "client-key-data", &c->key_pem, &c->key_len);
	if (r < 0)
		return r;
	if (!c->cert_pem != !c->key_pem) {
		mark = fpath_key(fp, c->cert_pem ? "client-key" : "client-certificate");
		r = kc_err(x, -EINVAL, fpath_str(fp), "missing (client-certificate and "
			   "client-key go together)");
		fpath_pop(fp, mark);
		return r;
	}
	if (get_string(x, u, "token", fp, &token) < 0 ||
	    get_string(x, u, "tokenFile", fp, &token_file) < 0)
		return -EINVAL;
	if (token && *token && dup_into(&c->token, token) < 0)
		return -ENOMEM;
	if (token_file && *token_file) {
		r = resolve_path(x, token_file, &c->token_file);
		if (r < 0)
			return r;
	}
	if (!c->cert_pem && !c->token && !c->token_file) {
		static const char *const unsupported[] = { "exec", "auth-provider", "username", NULL };

		for (const char *const *k = unsupported; *k; k++) {
			if (!json_object_get(u, *k))
				continue;
			mark = fpath_key(fp, *k);
			r = kc_err(x, -EINVAL, fpath_str(fp), "not supported: use a token, "
				   "tokenFile or a client certificate");
			fpath_pop(fp, mark);
			return r;
		}
	}
	return 0;
}

struct first_doc {
	json_t *doc;
};

static int take_first(void *ud, size_t index, json_t *doc)
{
	struct first_doc *f = ud;

	if (!f->doc)
		f->doc = json_incref(doc);
	return 0;
}

static int kcx_init(struct kcx *x, const char *path, struct errlist *errs)
{
	const char *slash = strrchr(path, '/');

	x->path = path;
	x->errs = errs;
	if (!slash)
		x->dir = pg_strdup("");
	else if (slash == path)
		x->dir = pg_strdup("/");
	else
		x->dir = pg_strndup(path, (size_t)(slash - path));
	return x->dir ? 0 : -ENOMEM;
}

int kubeconfig_parse(const char *data, size_t len, const char *path, const char *context,
		     struct errlist *errs, struct kubeconfig **ret_config)
{
	struct doc_limits lim = { 32, 100000, 1 };
	struct first_doc first = { NULL };
	struct doc_error derr = { 0 };
	struct kubeconfig *c = NULL;
	const char *cluster_name, *user_name, *ns;
	json_t *ctx, *cl, *user;
	struct fpath fp;
	struct kcx x;
	int r;

	r = kcx_init(&x, path, errs);
	if (r < 0)
		return r;
	fpath_init(&fp, NULL);
	r = doc_parse(data, len, &lim, take_first, &first, &derr);
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		r = derr.line ? kc_err(&x, -EINVAL, NULL, "line %zu: %s", derr.line, derr.msg)
			      : kc_err(&x, -EINVAL, NULL, "%s", derr.msg);
		goto out;
	}
	if (!json_is_object(first.doc)) {
		r = kc_err(&x, -EINVAL, NULL, "not a kubeconfig (expected a mapping)");
		goto out;
	}
	if (!context || !*context) {
		r = get_string(&x, first.doc, "current-context", &fp, &context);
		if (r < 0)
			goto out;
		if (!context || !*context) {
			r = kc_err(&x, -EINVAL, "current-context",
				   "not set, and no --context given");
			goto out;
		}
	}
	r = -ENOMEM;
	c = pg_calloc(1, sizeof(*c));
	if (!c || dup_into(&c->source, path) < 0 || dup_into(&c->context, context) < 0)
		goto out;

	r = find_named(&x, first.doc, "contexts", "context", context, &fp, &ctx);
	if (r < 0)
		goto out;
	if ((r = get_string(&x, ctx, "cluster", &fp, &cluster_name)) < 0 ||
	    (r = get_string(&x, ctx, "user", &fp, &user_name)) < 0 ||
	    (r = get_string(&x, ctx, "namespace", &fp, &ns)) < 0)
		goto out;
	if (!cluster_name || !*cluster_name) {
		fpath_key(&fp, "cluster");
		r = kc_err(&x, -EINVAL, fpath_str(&fp), "missing");
		goto out;
	}
	r = -ENOMEM;
	if (dup_into(&c->namespace, ns && *ns ? ns : "default") < 0)
		goto out;

	r = find_named(&x, first.doc, "clusters", "cluster", cluster_name, &fp, &cl);
	if (r < 0)
		goto out;
	r = parse_cluster(&x, cl, &fp, c);
	if (r < 0)
		goto out;
	/* A context without a user talks to the server anonymously. */
	if (user_name && *user_name) {
		r = find_named(&x, first.doc, "users", "user", user_name, &fp, &user);
		if (r < 0)
			goto out;
		r = parse_user(&x, user, &fp, c);
		if (r < 0)
			goto out;
	}
	*ret_config = c;
	c = NULL;
	r = 0;
out:
	json_decref(first.doc);
	kubeconfig_free(c);
	pg_free(x.dir);
	return r;
}

int kubeconfig_load(const char *path, const char *context, struct errlist *errs,
		    struct kubeconfig **ret_config)
{
	char *data;
	size_t len;
	int r;

	r = doc_read_file(path, KUBECONFIG_MAX_FILE, &data, &len);
	if (r < 0) {
		if (r != -ENOMEM && errlist_add(errs, "kubeconfig %s: %s", path, strerror(-r)) < 0)
			return -ENOMEM;
		return r;
	}
	r = kubeconfig_parse(data, len, path, context, errs, ret_config);
	/* The file may hold tokens and keys. */
	wipe_free(data, len);
	return r;
}

/* ---- in-cluster --------------------------------------------------------- */

int kubeconfig_in_cluster(const char *host, const char *port, const char *sa_root,
			   struct errlist *errs, struct kubeconfig **ret_config)
{
	struct buf b = BUF_INIT(8192);
	struct kubeconfig *c = NULL;
	char *ns = NULL;
	size_t nslen;
	int64_t portnum;
	int r;

	if (!host || !*host || !port || !*port)
		return -ENOENT;
	if (!sa_root)
		sa_root = KUBE_SA_ROOT;
	if (str_to_i64(port, &portnum) < 0 || portnum < 1 || portnum > 65535) {
		r = errlist_add(errs, "in-cluster config: KUBERNETES_SERVICE_PORT: "
				"\"%s\" is not a port", port);
		return r < 0 ? r : -EINVAL;
	}
	r = -ENOMEM;
	c = pg_calloc(1, sizeof(*c));
	if (!c || dup_into(&c->source, "in-cluster") < 0)
		goto out;
	/* An IPv6 service address needs brackets in a URL. */
	if (strchr(host, ':') && host[0] != '[')
		r = buf_printf(&b, "https://[%s]:%s", host, port);
	else
		r = buf_printf(&b, "https://%s:%s", host, port);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	c->server = buf_steal(&b);
	if (!c->server)
		goto out;

	if (buf_printf(&b, "%s/ca.crt", sa_root) < 0)
		goto out;
	r = doc_read_file(buf_str(&b), KUBECONFIG_MAX_FILE, &c->ca_pem, &c->ca_len);
	if (r < 0) {
		if (r != -ENOMEM && errlist_add(errs, "in-cluster config: %s: %s", buf_str(&b),
						strerror(-r)) < 0)
			r = -ENOMEM;
		goto out;
	}
	buf_reset(&b);
	if (buf_printf(&b, "%s/token", sa_root) < 0) {
		r = -ENOMEM;
		goto out;
	}
	/* Only checked here: the client reads it, and re-reads it as the
	 * kubelet rotates it. */
	if (access(buf_str(&b), R_OK) < 0) {
		r = -errno;
		if (errlist_add(errs, "in-cluster config: %s: %s", buf_str(&b), strerror(-r)) < 0)
			r = -ENOMEM;
		goto out;
	}
	c->token_file = buf_steal(&b);
	r = -ENOMEM;
	if (!c->token_file || buf_printf(&b, "%s/namespace", sa_root) < 0)
		goto out;
	if (doc_read_file(buf_str(&b), 4096, &ns, &nslen) == 0) {
		while (nslen > 0 && (ns[nslen - 1] == '\n' || ns[nslen - 1] == ' '))
			ns[--nslen] = '\0';
	}
	if (ns && *ns) {
		c->namespace = ns;
		ns = NULL;
	} else if (dup_into(&c->namespace, "default") < 0) {
		goto out;
	}
	*ret_config = c;
	c = NULL;
	r = 0;
out:
	buf_free(&b);
	pg_free(ns);
	kubeconfig_free(c);
	return r;
}

int kubeconfig_resolve(const char *kubeconfig_flag, const char *context, const char *sa_root,
			struct errlist *errs, struct kubeconfig **ret_config)
{
	const char *env = getenv("KUBECONFIG");
	size_t nerrs = errlist_count(errs);
	int r;

	if (kubeconfig_flag && *kubeconfig_flag)
		return kubeconfig_load(kubeconfig_flag, context, errs, ret_config);
	if (env && *env) {
		/* kubectl merges the list; its first existing file is
		 * enough for us (SPEC §1), and a missing one is skipped. */
		const char *p = env;
		char *first = NULL;

		while (*p) {
			const char *colon = strchr(p, ':');
			size_t n = colon ? (size_t)(colon - p) : strlen(p);

			if (n) {
				char *f = pg_strndup(p, n);

				if (!f) {
					pg_free(first);
					return -ENOMEM;
				}
				if (access(f, F_OK) == 0) {
					pg_free(first);
					r = kubeconfig_load(f, context, errs, ret_config);
					pg_free(f);
					return r;
				}
				if (!first)
					first = f;
				else
					pg_free(f);
			}
			p += n + (colon ? 1 : 0);
		}
		if (first) {
			r = errlist_add(errs, "kubeconfig %s (from $KUBECONFIG): %s", first,
					strerror(ENOENT));
			pg_free(first);
			return r < 0 ? r : -ENOENT;
		}
	}
	r = kubeconfig_in_cluster(getenv("KUBERNETES_SERVICE_HOST"),
				   getenv("KUBERNETES_SERVICE_PORT"), sa_root, errs, ret_config);
	if (r == -ENOENT && errlist_count(errs) == nerrs) {
		if (errlist_add(errs, "no Kubernetes API configured: give --kubeconfig, set "
				"$KUBECONFIG, or run in a cluster (KUBERNETES_SERVICE_HOST and "
				"KUBERNETES_SERVICE_PORT)") < 0)
			return -ENOMEM;
	}
	return r;
}
