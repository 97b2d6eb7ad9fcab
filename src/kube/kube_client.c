/* kube_client.c - libcurl easy handles, pooled so several threads can
 * talk to the API server at once over kept-alive HTTP/1.1 connections,
 * with pacing, retries, caps and Status parsing. */
#include "kube_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "doc.h"
#include "kube_retry.h"
#include "kubeconfig.h"
#include "pg_config.h"
#include "ticker.h"
#include "xalloc.h"

#define TOKEN_MAX (64 * 1024)
#define ERROR_BODY_MAX (64 * 1024)

struct kube_client {
	struct kube_client_opts opts;
	char *server;
	char *namespace;
	char *user_agent;
	char *ca_pem, *cert_pem, *key_pem;
	size_t ca_len, cert_len, key_len;
	bool insecure;

	/* The bearer token: a static one, or a file re-read every
	 * opts.token_reread_s and after a 401. */
	pthread_mutex_t token_lock;
	char *token_static;
	char *token_file;
	char *token_cached;
	int64_t token_read_ns;

	pthread_mutex_t bucket_lock;
	struct kube_bucket bucket;

	/* Idle easy handles, each holding its live connection. */
	pthread_mutex_t pool_lock;
	CURL **idle;
	unsigned nidle;

	_Atomic uint64_t n_requests, n_retries, n_throttled, n_token_reads, n_connections;
};

const struct kube_resource kube_res_pods = { "", "v1", "pods", "Pod", true };
const struct kube_resource kube_res_serviceaccounts =
	{ "", "v1", "serviceaccounts", "ServiceAccount", true };
const struct kube_resource kube_res_secrets = { "", "v1", "secrets", "Secret", true };
const struct kube_resource kube_res_namespaces = { "", "v1", "namespaces", "Namespace", false };
const struct kube_resource kube_res_workloadprofiles =
	{ "profileguard.io", "v1alpha1", "workloadprofiles", "WorkloadProfile", true };
const struct kube_resource kube_res_identityreports =
	{ "profileguard.io", "v1alpha1", "identityreports", "IdentityReport", true };
const struct kube_resource kube_res_roles = { "rbac.authorization.k8s.io", "v1", "roles", "Role", true };
const struct kube_resource kube_res_clusterroles =
	{ "rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false };
const struct kube_resource kube_res_rolebindings =
	{ "rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true };
const struct kube_resource kube_res_clusterrolebindings =
	{ "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false };
const struct kube_resource kube_res_leases =
	{ "coordination.k8s.io", "v1", "leases", "Lease", true };
const struct kube_resource kube_res_events = { "events.k8s.io", "v1", "events", "Event", true };
const struct kube_resource kube_res_tokenreviews =
	{ "authentication.k8s.io", "v1", "tokenreviews", "TokenReview", false };
const struct kube_resource kube_res_validatingwebhookconfigurations =
	{ "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
	  "ValidatingWebhookConfiguration", false };

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool cancelled(const atomic_bool *cancel)
{
	return cancel && atomic_load(cancel);
}

/* Sleeps in short slices so a stop is noticed quickly. */
static int sleep_cancellable(int64_t ms, const atomic_bool *cancel)
{
	while (ms > 0) {
		int64_t step = ms < 50 ? ms : 50;
		struct timespec ts = { step / 1000, (long)(step % 1000) * 1000000 };

		if (cancelled(cancel))
			return -ECANCELED;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return cancelled(cancel) ? -ECANCELED : 0;
}

static char *wipe_free(char *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		pg_free(p);
	}
	return NULL;
}

static char *dup_blob(const char *p, size_t n)
{
	char *r;

	if (!p)
		return NULL;
	r = pg_malloc(n + 1);
	if (r) {
		memcpy(r, p, n);
		r[n] = '\0';
	}
	return r;
}

void kube_client_opts_default(struct kube_client_opts *o)
{
	*o = (struct kube_client_opts){
		.qps = 50,
		.burst = 100,
		.timeout_ms = 30000,
		.connect_timeout_ms = 10000,
		.max_response = 64u * 1024 * 1024,
		.max_retries = 5,
		.backoff_base_ms = 200,
		.backoff_cap_ms = 10000,
		.retry_after_max_s = 60,
		.token_reread_s = 60,
		.max_idle = 8,
		.user_agent = NULL,
	};
}

int kube_client_new(const struct kubeconfig *cfg, const struct kube_client_opts *opts,
		    struct kube_client **ret_client)
{
	struct kube_client *c;

	if (!cfg->server || !*cfg->server)
		return -EINVAL;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK)
		return -ENOMEM;
	c = pg_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (opts)
		c->opts = *opts;
	else
		kube_client_opts_default(&c->opts);
	if (c->opts.max_idle == 0)
		c->opts.max_idle = 1;
	pthread_mutex_init(&c->token_lock, NULL);
	pthread_mutex_init(&c->bucket_lock, NULL);
	pthread_mutex_init(&c->pool_lock, NULL);
	kube_bucket_init(&c->bucket, c->opts.qps, c->opts.burst, ticker_now_ns());
	c->server = pg_strdup(cfg->server);
	c->namespace = pg_strdup(cfg->namespace ? cfg->namespace : "default");
	c->user_agent = pg_strdup(c->opts.user_agent ? c->opts.user_agent
						     : "profileguard/" PG_VERSION);
	c->opts.user_agent = NULL;
	c->idle = pg_calloc(c->opts.max_idle, sizeof(*c->idle));
	if (!c->server || !c->namespace || !c->user_agent || !c->idle)
		goto oom;
	c->insecure = cfg->insecure;
	if ((cfg->ca_pem && !(c->ca_pem = dup_blob(cfg->ca_pem, cfg->ca_len))) ||
	    (cfg->cert_pem && !(c->cert_pem = dup_blob(cfg->cert_pem, cfg->cert_len))) ||
	    (cfg->key_pem && !(c->key_pem = dup_blob(cfg->key_pem, cfg->key_len))) ||
	    (cfg->token && !(c->token_static = pg_strdup(cfg->token))) ||
	    (cfg->token_file && !(c->token_file = pg_strdup(cfg->token_file))))
		goto oom;
	c->ca_len = cfg->ca_len;
	c->cert_len = cfg->cert_len;
	c->key_len = cfg->key_len;
	*ret_client = c;
	return 0;
oom:
	kube_client_free(c);
	return -ENOMEM;
}

struct kube_client *kube_client_free(struct kube_client *c)
{
	if (!c)
		return NULL;
	for (unsigned i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	pg_free(c->idle);
	pg_free(c->server);
	pg_free(c->namespace);
	pg_free(c->user_agent);
	pg_free(c->ca_pem);
	pg_free(c->cert_pem);
	wipe_free(c->key_pem, c->key_len);
	if (c->token_static)
		wipe_free(c->token_static, strlen(c->token_static));
	if (c->token_cached)
		wipe_free(c->token_cached, strlen(c->token_cached));
	pg_free(c->token_file);
	pthread_mutex_destroy(&c->token_lock);
	pthread_mutex_destroy(&c->bucket_lock);
	pthread_mutex_destroy(&c->pool_lock);
	pg_free(c);
	return NULL;
}

const char *kube_client_namespace(const struct kube_client *c)
{
	return c->namespace;
}

void kube_client_stats(struct kube_client *c, struct kube_client_stats *ret)
{
	ret->requests = atomic_load(&c->n_requests);
	ret->retries = atomic_load(&c->n_retries);
	ret->throttled = atomic_load(&c->n_throttled);
	ret->token_reads = atomic_load(&c->n_token_reads);
	ret->connections = atomic_load(&c->n_connections);
}

/* ---- the bearer token -------------------------------------------------- */

/* Re-reads the token file when it is older than the re-read period or
 * @force; a failed read keeps the last good token (client-go does the
 * same: the kubelet swaps the file atomically, so failures are brief). */
static void token_refresh_locked(struct kube_client *c, bool force)
{
	int64_t now = ticker_now_ns();
	char *data = NULL;
	size_t len;

	if (!c->token_file)
		return;
	if (c->token_cached && !force &&
	    now - c->token_read_ns < c->opts.token_reread_s * 1000000000)
		return;
	if (doc_read_file(c->token_file, TOKEN_MAX, &data, &len) < 0)
		return;
	atomic_fetch_add(&c->n_token_reads, 1);
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' ||
			   data[len - 1] == ' '))
		data[--len] = '\0';
	if (len == 0 || memchr(data, '\n', len) || strlen(data) != len) {
		wipe_free(data, len);
		return;
	}
	if (c->token_cached)
		wipe_free(c->token_cached, strlen(c->token_cached));
	c->token_cached = data;
	c->token_read_ns = now;
}

/* Appends the Authorization header line to @out (a wiped buffer). */
static int token_header(struct kube_client *c, bool force, struct buf *out)
{
	const char *tok;
	int r = 0;

	pthread_mutex_lock(&c->token_lock);
	token_refresh_locked(c, force);
	tok = c->token_cached ? c->token_cached : c->token_static;
	if (tok)
		r = buf_printf(out, "Authorization: Bearer %s", tok);
	pthread_mutex_unlock(&c->token_lock);
	return r;
}

/* ---- paths ------------------------------------------------------------- */

int kube_api_version(struct buf *out, const struct kube_resource *r)
{
	if (!r->group[0])
		return buf_adds(out, r->version);
	return buf_printf(out, "%s/%s", r->group, r->version);
}

int kube_path(struct buf *out, const struct kube_resource *r, const char *ns,
	      const char *name, const char *sub)
{
	size_t start = out->len;
	int e;

	if (r->group[0])
		e = buf_printf(out, "/apis/%s/%s", r->group, r->version);
	else
		e = buf_printf(out, "/api/%s", r->version);
	if (e == 0 && r->namespaced && ns && *ns) {
		e = buf_adds(out, "/namespaces/");
		if (e == 0)
			e = kube_escape(out, ns);
	}
	if (e == 0)
		e = buf_printf(out, "/%s", r->plural);
	if (e == 0 && name) {
		e = buf_addc(out, '/');
		if (e == 0)
			e = kube_escape(out, name);
		if (e == 0 && sub)
			e = buf_printf(out, "/%s", sub);
	}
	if (e < 0)
		buf_truncate(out, start);
	return e;
}

/* ---- errors ------------------------------------------------------------- */

int kube_errno_from_http(long code, const char *reason)
{
	switch (code) {
	case 400:
	case 422:
		return -EINVAL;
	case 401:
		return -EACCES;
	case 403:
		return -EPERM;
	case 404:
		return -ENOENT;
	case 405:
		return -EOPNOTSUPP;
	case 409:
		return reason && strcmp(reason, "AlreadyExists") == 0 ? -EEXIST : -ESTALE;
	case 410:
		return -ETIME;
	case 429:
		return -EAGAIN;
	default:
		if (code >= 500 && code <= 599)
			return -EIO;
		return -EPROTO;
	}
}

static void copy_str(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

/* Server text goes into logs: keep it printable and one line. */
static void copy_text(char *dst, size_t n, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		dst[o++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	dst[o] = '\0';
}

static const char *reason_for_code(long code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 406: return "NotAcceptable";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "RequestEntityTooLarge";
	case 415: return "UnsupportedMediaType";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	default: return code >= 500 ? "InternalError" : "Unknown";
	}
}

void kube_error_from_body(struct kube_error *err, long code, const char *body, size_t len)
{
	json_t *st = len ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *kind = json_object_get(st, "kind");
	json_t *reason = json_object_get(st, "reason");
	json_t *msg = json_object_get(st, "message");

	err->code = code;
	if (json_is_string(kind) && strcmp(json_string_value(kind), "Status") == 0) {
		copy_str(err->reason, sizeof(err->reason), json_is_string(reason) &&
			 *json_string_value(reason) ? json_string_value(reason)
						     : reason_for_code(code));
		if (json_is_string(msg))
			copy_text(err->message, sizeof(err->message), json_string_value(msg),
				  json_string_length(msg));
		else
			err->message[0] = '\0';
	} else {
		copy_str(err->reason, sizeof(err->reason), reason_for_code(code));
		copy_text(err->message, sizeof(err->message), body, len > 200 ? 200 : len);
	}
	json_decref(st);
}

/* ---- one attempt ---------------------------------------------------------- */

struct xfer {
	const struct kube_request *req;
	CURL *h;
	struct buf *body;           /* the 2xx body (NULL: discarded) */
	struct buf errbody;         /* a non-2xx body, for the Status */
	long status;                /* known once the body starts */
	bool delivered;             /* a byte went to on_data: no retry */
	int werr;                   /* why the write callback refused */
	char retry_after[64];
};

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	static const char key[] = "retry-after:";

	/* A new status line (after a 100 Continue) starts over. */
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
		x->retry_after[0] = '\0';
	if (len > sizeof(key) - 1 && strncasecmp(data, key, sizeof(key) - 1) == 0) {
		size_t vlen = len - (sizeof(key) - 1);

		if (vlen >= sizeof(x->retry_after))
			vlen = sizeof(x->retry_after) - 1;
		memcpy(x->retry_after, data + sizeof(key) - 1, vlen);
		/* Without the line's CRLF: an HTTP-date is parsed as it is. */
		while (vlen > 0 && (x->retry_after[vlen - 1] == '\r' ||
				    x->retry_after[vlen - 1] == '\n' || x->retry_after[vlen - 1] == ' '))
			vlen--;
		x->retry_after[vlen] = '\0';
	}
	return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	int r;

	if (x->status == 0)
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->status < 200 || x->status > 299) {
		/* Error bodies are only read for their Status: the rest of
		 * an oversized one is dropped, not an error. */
		size_t room = ERROR_BODY_MAX - x->errbody.len;

		if (buf_add(&x->errbody, data, len < room ? len : room) == -ENOMEM) {
			x->werr = -ENOMEM;
			return 0;
		}
		return len;
	}
	if (x->req->on_data) {
		x->delivered = true;
		r = x->req->on_data(x->req->ud, data, len);
		if (r < 0) {
			x->werr = r;
			return 0;
		}
		return len;
	}
	if (!x->body)
		return len;
	r = buf_add(x->body, data, len);
	if (r < 0) {
		x->werr = r == -E2BIG ? -EFBIG : r;
		return 0;
	}
	return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct xfer *x = ud;

	return cancelled(x->req->cancel);
}

static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
	struct kube_client *c = ud;

	if (purpose == CURLSOCKTYPE_IPCXN)
		atomic_fetch_add(&c->n_connections, 1);
	return CURL_SOCKOPT_OK;
}

static CURL *pool_get(struct kube_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->pool_lock);
	if (c->nidle)
		h = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->pool_lock);
	if (!h)
		h = curl_easy_init();
	return h;
}

static void pool_put(struct kube_client *c, CURL *h)
{
	pthread_mutex_lock(&c->pool_lock);
	if (c->nidle < c->opts.max_idle) {
		c->idle[c->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->pool_lock);
	if (h)
		curl_easy_cleanup(h);
}

static int errno_from_curl(CURLcode cc, const char **ret_reason)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		*ret_reason = "HostUnreachable";
		return -EHOSTUNREACH;
	case CURLE_COULDNT_CONNECT:
		*ret_reason = "ConnectionRefused";
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		*ret_reason = "Timeout";
		return -ETIMEDOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		*ret_reason = "ConnectionReset";
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
		*ret_reason = "TLSError";
		return -ECONNABORTED;
	case CURLE_ABORTED_BY_CALLBACK:
		*ret_reason = "Cancelled";
		return -ECANCELED;
	case CURLE_OUT_OF_MEMORY:
		*ret_reason = "OutOfMemory";
		return -ENOMEM;
	default:
		*ret_reason = "TransportError";
		return -EIO;
	}
}

static void wipe_slist(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

/* Everything an attempt needs set on the handle: the handle is reset
 * before each use, which keeps its connection but forgets options. */
static int setup_handle(struct kube_client *c, CURL *h, const struct kube_request *req,
			const char *url, struct curl_slist *headers, struct xfer *x,
			char *errbuf)
{
	struct curl_blob ca = { c->ca_pem, c->ca_len, CURL_BLOB_NOCOPY };
	struct curl_blob cert = { c->cert_pem, c->cert_len, CURL_BLOB_NOCOPY };
	struct curl_blob key = { c->key_pem, c->key_len, CURL_BLOB_NOCOPY };
	long timeout = req->timeout_ms ? req->timeout_ms : c->opts.timeout_ms;
	CURLcode e = CURLE_OK;

#define SET(opt, val) do { if (e == CURLE_OK) e = curl_easy_setopt(h, opt, val); } while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "https,http");
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_USERAGENT, c->user_agent);
	SET(CURLOPT_ACCEPT_ENCODING, "gzip");
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 30L);
	SET(CURLOPT_TCP_KEEPINTVL, 15L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, timeout > 0 ? timeout : 0L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* libcurl resends a request by itself once when a reused connection
	 * turns out dead before any answer; the server may have read it.  A
	 * request that must not go twice gets a connection of its own. */
	if (req->retry != KUBE_RETRY_IDEMPOTENT)
		SET(CURLOPT_FRESH_CONNECT, 1L);
	if (c->ca_pem) {
		/* Trust exactly the configured CA, as kubectl does: no
		 * system bundle next to it. */
		SET(CURLOPT_CAINFO_BLOB, &ca);
		SET(CURLOPT_CAINFO, (char *)NULL);
		SET(CURLOPT_CAPATH, (char *)NULL);
	}
	if (c->cert_pem) {
		SET(CURLOPT_SSLCERT_BLOB, &cert);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
		SET(CURLOPT_SSLKEY_BLOB, &key);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (c->insecure) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (strcmp(req->method, "GET") == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else {
		if (strcmp(req->method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body || strcmp(req->method, "DELETE") != 0) {
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
			SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
		}
	}
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	SET(CURLOPT_SOCKOPTDATA, c);
	if (req->cancel) {
		SET(CURLOPT_XFERINFOFUNCTION, on_progress);
		SET(CURLOPT_XFERINFODATA, x);
		SET(CURLOPT_NOPROGRESS, 0L);
	}
#undef SET
	return e == CURLE_OK ? 0 : e == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

/* What one attempt came to. */
struct outcome {
	int r;                      /* 0 or a negative errno, as kube_client_do */
	bool sent;                  /* some of the request reached the socket */
	bool delivered;             /* some of a stream reached on_data */
	bool retryable_transport;   /* a network failure, not a cap or a cancel */
};

static struct outcome attempt(struct kube_client *c, const struct kube_request *req,
			      const char *url, bool force_token, struct buf *body,
			      struct kube_error *err)
{
	struct outcome o = { 0, false, false, false };
	struct buf auth = BUF_INIT(TOKEN_MAX + 64);
	struct buf hdr = BUF_INIT(1024);
	struct curl_slist *headers = NULL, *tmp;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct xfer x = { .req = req, .body = body };
	const char *reason = NULL;
	long reqsize = 0;
	CURL *h;
	CURLcode cc;

	buf_init(&x.errbody, ERROR_BODY_MAX);
	h = pool_get(c);
	if (!h) {
		o.r = -ENOMEM;
		goto out;
	}
	curl_easy_reset(h);
	x.h = h;
	o.r = -ENOMEM;
	if (token_header(c, force_token, &auth) < 0)
		goto out;
	if (buf_printf(&hdr, "Accept: %s", req->accept ? req->accept : "application/json") < 0 ||
	    !(tmp = curl_slist_append(headers, buf_str(&hdr))))
		goto out;
	headers = tmp;
	if (req->body) {
		buf_reset(&hdr);
		if (buf_printf(&hdr, "Content-Type: %s",
			       req->content_type ? req->content_type : "application/json") < 0 ||
		    !(tmp = curl_slist_append(headers, buf_str(&hdr))))
			goto out;
		headers = tmp;
	}
	/* No "Expect: 100-continue" round trip for bodies. */
	if (!(tmp = curl_slist_append(headers, "Expect:")))
		goto out;
	headers = tmp;
	if (auth.len) {
		if (!(tmp = curl_slist_append(headers, buf_str(&auth))))
			goto out;
		headers = tmp;
	}
	o.r = setup_handle(c, h, req, url, headers, &x, errbuf);
	if (o.r < 0)
		goto out;

	atomic_fetch_add(&c->n_requests, 1);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &reqsize);
	o.sent = reqsize > 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x.status);
	if (x.retry_after[0]) {
		if (kube_retry_after_parse(x.retry_after, time(NULL), &err->retry_after) < 0)
			err->retry_after = -1;
	}
	if (cc != CURLE_OK) {
		o.r = x.werr ? x.werr : errno_from_curl(cc, &reason);
		if (x.werr == -EFBIG)
			reason = "ResponseTooLarge";
		else if (x.werr)
			reason = x.werr == -ENOMEM ? "OutOfMemory" : "Aborted";
		o.retryable_transport = !x.werr && o.r != -ECANCELED && o.r != -ENOMEM &&
					o.r != -ECONNABORTED && o.r != -EIO;
		err->code = x.status;
		copy_str(err->reason, sizeof(err->reason), reason);
		copy_str(err->message, sizeof(err->message),
			 errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	err->code = x.status;
	if (x.status >= 200 && x.status <= 299) {
		o.r = 0;
		goto out;
	}
	kube_error_from_body(err, x.status, x.errbody.data, x.errbody.len);
	o.r = kube_errno_from_http(x.status, err->reason);
out:
	wipe_slist(headers);
	wipe_free(auth.data, auth.cap);
	buf_free(&hdr);
	buf_free(&x.errbody);
	if (h) {
		/* A handle whose transfer failed half-way may hold a broken
		 * connection; curl closes those itself, the handle stays. */
		pool_put(c, h);
	}
	o.delivered = x.delivered;
	return o;
}

static int wait_for_bucket(struct kube_client *c, const atomic_bool *cancel)
{
	int64_t wait_ns;

	pthread_mutex_lock(&c->bucket_lock);
	wait_ns = kube_bucket_reserve(&c->bucket, ticker_now_ns());
	pthread_mutex_unlock(&c->bucket_lock);
	if (wait_ns <= 0)
		return 0;
	atomic_fetch_add(&c->n_throttled, 1);
	return sleep_cancellable((wait_ns + 999999) / 1000000, cancel);
}

/* May this outcome be tried again, and after how long? */
static bool should_retry(struct kube_client *c, const struct kube_request *req,
			 const struct outcome *o, const struct kube_error *err,
			 unsigned retry, int64_t *ret_delay_ms)
{
	bool ok = false;
	int64_t ra = err->retry_after;

	*ret_delay_ms = kube_backoff_ms(retry, c->opts.backoff_base_ms, c->opts.backoff_cap_ms,
					kube_rand());
	/* Half a stream was handed over already: the caller restarts it. */
	if (o->delivered || req->retry == KUBE_RETRY_NEVER || retry >= c->opts.max_retries)
		return false;
	if (o->r == -EAGAIN && err->code == 429) {
		/* Refused before it was processed: safe for every request,
		 * unless the 429 is the answer itself. */
		ok = !req->no_retry_429;
	} else if (o->r == -EIO && err->code >= 500) {
		ok = req->retry == KUBE_RETRY_IDEMPOTENT;
	} else if (o->retryable_transport) {
		ok = req->retry == KUBE_RETRY_IDEMPOTENT || !o->sent;
	}
	if (ok && ra >= 0 && err->code) {
		if (ra > c->opts.retry_after_max_s)
			ra = c->opts.retry_after_max_s;
		*ret_delay_ms = ra * 1000;
	}
	return ok;
}

int kube_client_do(struct kube_client *c, const struct kube_request *req,
		   struct buf *ret_body, struct kube_error *ret_err)
{
	struct buf url = BUF_INIT(64 * 1024);
	struct kube_error scratch;
	struct kube_error *err = ret_err ? ret_err : &scratch;
	size_t start = ret_body ? ret_body->len : 0;
	bool token_retried = false;
	struct outcome o = { -ENOMEM, false, false, false };
	int r;

	memset(err, 0, sizeof(*err));
	err->retry_after = -1;
	if (ret_body)
		ret_body->max = req->max_response ? req->max_response : c->opts.max_response;
	if (buf_adds(&url, c->server) < 0 || buf_adds(&url, req->path) < 0 ||
	    kube_query_append(&url, req->query) < 0) {
		buf_free(&url);
		copy_str(err->reason, sizeof(err->reason), "OutOfMemory");
		return -ENOMEM;
	}
	for (unsigned retry = 0;;) {
		int64_t delay_ms;

		r = wait_for_bucket(c, req->cancel);
		if (r < 0) {
			o.r = r;
			copy_str(err->reason, sizeof(err->reason), "Cancelled");
			break;
		}
		memset(err, 0, sizeof(*err));
		err->retry_after = -1;
		if (ret_body)
			buf_truncate(ret_body, start);
		o = attempt(c, req, buf_str(&url), token_retried, ret_body, err);
		err->attempts = retry + 1 + (token_retried ? 1 : 0);
		if (o.r == 0)
			break;
		/* A rotated token: read the file again and retry once. */
		if (o.r == -EACCES && c->token_file && !token_retried) {
			token_retried = true;
			continue;
		}
		if (!should_retry(c, req, &o, err, retry, &delay_ms))
			break;
		atomic_fetch_add(&c->n_retries, 1);
		retry++;
		r = sleep_cancellable(delay_ms, req->cancel);
		if (r < 0) {
			o.r = r;
			break;
		}
	}
	buf_free(&url);
	if (o.r < 0 && ret_body)
		buf_truncate(ret_body, start);
	return o.r;
}
