/* standin_harness.c - the API stand-in as a child process for C tests. */
#include "standin_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "buf.h"
#include "doc.h"
#include "errlist.h"
#include "kube_util.h"
#include "rfc3339.h"
#include "xalloc.h"

void kt_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "standin harness: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

double kt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void kt_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
	struct buf b = BUF_INIT(1 << 20);
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r < 0)
		kt_die("out of memory");
	return buf_steal(&b);
}

static const char *srcdir(void)
{
	const char *d = getenv("PG_SRCDIR");

	if (!d || !*d)
		kt_die("PG_SRCDIR is not set (meson sets it)");
	return d;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		kt_die("cannot write %s: %s", path, strerror(errno));
}

static char *make_certs(void)
{
	const char *dir = getenv("PG_CERTS_DIR");
	char *out, *cmd;

	if (dir && *dir)
		out = xasprintf("%s", dir);
	else
		out = xasprintf("/tmp/pgkube-certs-%d", (int)getpid());
	cmd = xasprintf("sh '%s/tests/standin/gencerts.sh' '%s'", srcdir(), out);
	if (system(cmd) != 0)
		kt_die("gencerts.sh failed: %s", cmd);
	pg_free(cmd);
	return out;
}

static void write_tokens(struct kt_standin *s, int short_ttl_s)
{
	char when[RFC3339_MAX];
	struct timespec ts;
	char *path, *text;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += short_ttl_s > 0 ? short_ttl_s : 3600;
	ts.tv_nsec = 0;
	rfc3339_format(&ts, 0, when);
	text = xasprintf(
		"{\"" KT_TOKEN_ADMIN "\": {\"username\": \"admin\", \"groups\": [\"system:masters\"]},"
		"\"" KT_TOKEN_AGENT "\": {\"username\": \"system:serviceaccount:profileguard:agent\","
		" \"uid\": \"0b8f5c1e-agent-a\", \"groups\": [\"system:serviceaccounts\","
		" \"system:serviceaccounts:profileguard\"], \"extra\": {"
		"\"authentication.kubernetes.io/node-name\": [\"node-a\"],"
		"\"authentication.kubernetes.io/pod-uid\": [\"7d3c\"]},"
		" \"audiences\": [\"https://kubernetes.default.svc\"]},"
		"\"" KT_TOKEN_SHORT "\": {\"username\": \"short\", \"groups\": [\"system:masters\"],"
		" \"expirationTimestamp\": \"%s\"},"
		"\"" KT_TOKEN_NEXT "\": {\"username\": \"rotated\", \"groups\": [\"system:masters\"]}}",
		when);
	path = xasprintf("%s/tokens.json", s->dir);
	write_file(path, text);
	pg_free(path);
	pg_free(text);
}

void kt_start(struct kt_standin *s, int short_ttl_s, const char *const *extra)
{
	char tmpl[] = "/tmp/pgkube-standin-XXXXXX";
	const char *argv[64];
	char *port_file, *tokens, *script, *cert, *key, *ca, *log;
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	if (!mkdtemp(tmpl))
		kt_die("mkdtemp: %s", strerror(errno));
	s->dir = xasprintf("%s", tmpl);
	s->certs = make_certs();
	write_tokens(s, short_ttl_s);
	port_file = xasprintf("%s/port", s->dir);
	tokens = xasprintf("%s/tokens.json", s->dir);
	script = xasprintf("%s/tests/standin/kube_standin.py", srcdir());
	cert = xasprintf("%s/server.crt", s->certs);
	key = xasprintf("%s/server.key", s->certs);
	ca = xasprintf("%s/ca.crt", s->certs);
	log = xasprintf("%s/standin.log", s->dir);
	argv[n++] = "python3";
	argv[n++] = script;
	argv[n++] = "--cert";
	argv[n++] = cert;
	argv[n++] = "--key";
	argv[n++] = key;
	argv[n++] = "--client-ca";
	argv[n++] = ca;
	argv[n++] = "--tokens";
	argv[n++] = tokens;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--port-file";
	argv[n++] = port_file;
	argv[n++] = "--log";
	argv[n++] = log;
	for (; extra && *extra && n < 62; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;

	s->pid = fork();
	if (s->pid < 0)
		kt_die("fork: %s", strerror(errno));
	if (s->pid == 0) {
		/* The stand-in must not outlive a test that crashes. */
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Its "listening on" line is for people; the log has the rest. */
		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		execvp("python3", (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	/* Seeding many objects takes a while; a dead stand-in is noticed at once. */
	for (int i = 0; i < 12000 && !s->port; i++) {
		FILE *f = fopen(port_file, "r");
		int status;

		if (f) {
			if (fscanf(f, "%d", &s->port) != 1)
				s->port = 0;
			fclose(f);
		}
		if (!s->port && waitpid(s->pid, &status, WNOHANG) == s->pid)
			kt_die("the stand-in exited at start (status %d)", status);
		if (!s->port)
			kt_sleep_ms(50);
	}
	if (!s->port)
		kt_die("the stand-in did not start in 600 s");
	{
		struct kube_client_opts o;

		kube_client_opts_default(&o);
		o.qps = 0;
		o.max_retries = 0;
		s->ctl = kt_client(s, KT_AUTH_TOKEN, KT_TOKEN_ADMIN, &o);
	}
	pg_free(port_file);
	pg_free(tokens);
	pg_free(script);
	pg_free(cert);
	pg_free(key);
	pg_free(ca);
	pg_free(log);
}

void kt_stop(struct kt_standin *s)
{
	char *cmd;
	int status;

	s->ctl = kube_client_free(s->ctl);
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, &status, 0);
	}
	cmd = xasprintf("rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "standin harness: could not remove %s\n", s->dir);
	pg_free(cmd);
	pg_free(s->dir);
	pg_free(s->certs);
	memset(s, 0, sizeof(*s));
}

static char *file_base64(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name), *data;
	struct buf b = BUF_INIT(1 << 20);
	size_t len;

	if (doc_read_file(path, 1 << 20, &data, &len) < 0)
		kt_die("cannot read %s", path);
	if (base64_encode(data, len, &b) < 0)
		kt_die("out of memory");
	pg_free(data);
	pg_free(path);
	return buf_steal(&b);
}

struct kubeconfig *kt_config(struct kt_standin *s, enum kt_auth auth, const char *token)
{
	const char *ca_name = auth == KT_AUTH_WRONG_CA || auth == KT_AUTH_INSECURE
			      ? "client.crt" : "ca.crt";
	char *ca = file_base64(s->certs, ca_name), *user, *yaml;
	struct kubeconfig *c = NULL;
	struct errlist errs;

	if (auth == KT_AUTH_CERT || auth == KT_AUTH_BAD_CERT) {
		const char *p = auth == KT_AUTH_CERT ? "client" : "bad-client";
		char *crt_name = xasprintf("%s.crt", p), *key_name = xasprintf("%s.key", p);
		char *crt = file_base64(s->certs, crt_name), *key = file_base64(s->certs, key_name);

		user = xasprintf("{client-certificate-data: %s, client-key-data: %s}", crt, key);
		pg_free(crt_name);
		pg_free(key_name);
		pg_free(crt);
		pg_free(key);
	} else {
		user = xasprintf("{token: '%s'}", token ? token : KT_TOKEN_ADMIN);
	}
	yaml = xasprintf("apiVersion: v1\nkind: Config\ncurrent-context: standin\n"
			 "clusters:\n- name: standin\n  cluster:\n"
			 "    server: https://127.0.0.1:%d\n"
			 "    certificate-authority-data: %s\n"
			 "    insecure-skip-tls-verify: %s\n"
			 "contexts:\n- name: standin\n  context: {cluster: standin, user: u,"
			 " namespace: default}\n"
			 "users:\n- name: u\n  user: %s\n",
			 s->port, ca, auth == KT_AUTH_INSECURE ? "true" : "false", user);
	errlist_init(&errs, 0);
	if (kubeconfig_parse(yaml, strlen(yaml), "standin-kubeconfig", NULL, &errs, &c) < 0)
		kt_die("kubeconfig: %s", errs.n ? errs.msgs[0] : "?");
	errlist_free(&errs);
	/* The insecure case must not send the CA it does not trust. */
	if (auth == KT_AUTH_INSECURE) {
		pg_free(c->ca_pem);
		c->ca_pem = NULL;
		c->ca_len = 0;
	}
	pg_free(ca);
	pg_free(user);
	explicit_bzero(yaml, strlen(yaml));
	pg_free(yaml);
	return c;
}

struct kube_client *kt_client(struct kt_standin *s, enum kt_auth auth, const char *token,
			      const struct kube_client_opts *opts)
{
	struct kubeconfig *cfg = kt_config(s, auth, token);
	struct kube_client *c;

	if (kube_client_new(cfg, opts, &c) < 0)
		kt_die("kube_client_new failed");
	kubeconfig_free(cfg);
	return c;
}

json_t *kt_call(struct kt_standin *s, const char *method, const char *path_and_query,
		const char *body)
{
	/* Retried as idempotent with no retries left: a control call must
	 * not pay a fresh TLS connection each time. */
	struct kube_request req = { .method = method, .path = path_and_query,
				    .retry = KUBE_RETRY_IDEMPOTENT, .body = body,
				    .body_len = body ? strlen(body) : 0,
				    .max_response = 1u << 30 };
	struct buf out = BUF_INIT(0);
	struct kube_error err;
	json_t *v;
	int r;

	r = kube_client_do(s->ctl, &req, &out, &err);
	if (r < 0)
		kt_die("%s %s: %d %ld %s: %s", method, path_and_query, r, err.code, err.reason,
		       err.message);
	v = json_loadb(buf_str(&out), out.len, 0, NULL);
	buf_free(&out);
	return v;
}

void kt_faults(struct kt_standin *s, const char *json)
{
	json_decref(kt_call(s, "POST", "/_standin/faults", json));
}

void kt_clear(struct kt_standin *s)
{
	json_decref(kt_call(s, "DELETE", "/_standin/faults", NULL));
	json_decref(kt_call(s, "DELETE", "/_standin/requests", NULL));
}

void kt_seed(struct kt_standin *s, json_t *items)
{
	json_t *body = json_pack("{so}", "items", items);
	char *text = json_dumps(body, JSON_COMPACT);

	if (!text)
		kt_die("out of memory");
	json_decref(kt_call(s, "POST", "/_standin/objects", text));
	free(text);
	json_decref(body);
}

void kt_namespace(struct kt_standin *s, const char *name)
{
	kt_seed(s, json_pack("[{ss ss s{ss}}]", "apiVersion", "v1", "kind", "Namespace",
			     "metadata", "name", name));
}

json_t *kt_objects(struct kt_standin *s, const char *kind, const char *ns)
{
	struct buf p = BUF_INIT(4096);
	const struct kube_param q[] = { { "kind", kind }, { "namespace", ns }, { NULL, NULL } };
	json_t *v, *items;

	buf_adds(&p, "/_standin/objects");
	kube_query_append(&p, q);
	v = kt_call(s, "GET", buf_str(&p), NULL);
	items = json_incref(json_object_get(v, "items"));
	json_decref(v);
	buf_free(&p);
	if (!json_is_array(items))
		kt_die("objects: no items");
	return items;
}

json_t *kt_requests(struct kt_standin *s, const char *method, const char *path_regex)
{
	struct buf p = BUF_INIT(4096);
	const struct kube_param q[] = { { "method", method }, { "path_regex", path_regex },
					{ NULL, NULL } };
	json_t *v;

	buf_adds(&p, "/_standin/requests");
	kube_query_append(&p, q);
	v = kt_call(s, "GET", buf_str(&p), NULL);
	buf_free(&p);
	if (!json_is_array(v))
		kt_die("requests: not a list");
	return v;
}

int kt_open_watches(struct kt_standin *s)
{
	json_t *v = kt_call(s, "GET", "/_standin/watches", NULL);
	int n = (int)json_array_size(v);

	json_decref(v);
	return n;
}

/* tests/kube/rich-pod.json: what a Deployment's pod looks like on a real
 * cluster, give or take; read once. */
static json_t *rich_pod_template(void)
{
	static json_t *tmpl;
	json_error_t jerr;
	char *path;

	if (tmpl)
		return tmpl;
	path = xasprintf("%s/tests/kube/rich-pod.json", srcdir());
	tmpl = json_load_file(path, 0, &jerr);
	if (!tmpl)
		kt_die("%s: %s", path, jerr.text);
	pg_free(path);
	return tmpl;
}

json_t *kt_pod(const char *ns, const char *name, const char *app, bool rich, unsigned seq)
{
	char owner[256], ip[32];
	json_t *pod, *meta;

	if (!rich)
		return json_pack("{ss ss s{ss ss s{ss}} s{ss s[{ss ss}]} s{ss}}",
				 "apiVersion", "v1", "kind", "Pod",
				 "metadata", "name", name, "namespace", ns, "labels", "app", app,
				 "spec", "nodeName", "node-a", "containers", "name", "c",
				 "image", "registry.example.com/app:1",
				 "status", "phase", "Running");
	pod = json_deep_copy(rich_pod_template());
	if (!pod)
		kt_die("out of memory");
	meta = json_object_get(pod, "metadata");
	json_object_set_new(meta, "name", json_string(name));
	json_object_set_new(meta, "namespace", json_string(ns));
	json_object_set_new(json_object_get(meta, "labels"), "app", json_string(app));
	/* The owning ReplicaSet is the pod's name without its last part. */
	snprintf(owner, sizeof(owner), "%s", name);
	if (strrchr(owner, '-'))
		*strrchr(owner, '-') = '\0';
	json_object_set_new(json_array_get(json_object_get(meta, "ownerReferences"), 0), "name",
			    json_string(owner));
	snprintf(ip, sizeof(ip), "10.%u.%u.%u", (seq >> 16) & 255, (seq >> 8) & 255, seq & 255);
	json_object_set_new(json_object_get(pod, "status"), "podIP", json_string(ip));
	return pod;
}

struct kube_client_opts kt_fast_opts(void)
{
	struct kube_client_opts o;

	kube_client_opts_default(&o);
	o.backoff_base_ms = 20;
	o.backoff_cap_ms = 200;
	return o;
}
