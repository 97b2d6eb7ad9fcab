/* ops.c - the controller's plain HTTP listener (--metrics-addr): GET
 * /metrics, /healthz and /livez (the watches are healthy), /readyz (the
 * caches have synced), on the same libmicrohttpd and listening socket
 * (http_listen.h) as http_server.h, which answers its errors in JSON and
 * knows no /livez: this one keeps its plain-text answers. */
#include "ops.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "http_listen.h"
#include "metrics.h"
#include "strutil.h"
#include "xalloc.h"

#define METRICS_MAX (16u * 1024 * 1024)

struct ops {
	struct ops_config cfg;
	struct MHD_Daemon *d;
	int fd;
	uint16_t port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *ctype,
			     char *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result r;

	resp = MHD_create_response_from_buffer_with_free_callback(len, body, pg_free);
	if (!resp) {
		pg_free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	r = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
	char *s = pg_strdup(text);

	if (!s)
		return MHD_NO;
	return reply(c, code, "text/plain; charset=utf-8", s, strlen(s));
}

static enum MHD_Result check(struct MHD_Connection *c, bool (*fn)(void *, char *, size_t),
			     void *ud)
{
	char why[512], text[600];

	why[0] = '\0';
	if (!fn || fn(ud, why, sizeof(why)))
		return reply_text(c, 200, "ok\n");
	snprintf(text, sizeof(text), "%s\n", why[0] ? why : "not ready");
	return reply_text(c, 503, text);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **req_cls)
{
	struct ops *o = cls;
	struct buf b = BUF_INIT(METRICS_MAX);
	size_t len;

	/* Bodies are not wanted: answer on the first call. */
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(c, 405, "method not allowed\n");
	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/livez") == 0)
		return check(c, o->cfg.healthy, o->cfg.ud);
	if (strcmp(url, "/readyz") == 0)
		return check(c, o->cfg.ready, o->cfg.ud);
	if (strcmp(url, "/metrics") != 0)
		return reply_text(c, 404, "not found\n");
	if (o->cfg.metrics && metrics_render(o->cfg.metrics, &b) < 0) {
		buf_free(&b);
		return reply_text(c, 500, "metrics unavailable\n");
	}
	len = b.len;
	return reply(c, 200, METRICS_CONTENT_TYPE, buf_steal(&b), len);
}

int ops_start(const struct ops_config *cfg, struct ops **ret, char *err, size_t errsz)
{
	struct ops *o = pg_calloc(1, sizeof(*o));
	int r;

	if (!o) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	o->cfg = *cfg;
	r = http_listen_open(cfg->listen, "--metrics-addr", &o->fd, &o->port, err, errsz);
	if (r < 0) {
		pg_free(o);
		return r;
	}
	o->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL,
				handle, o,
				MHD_OPTION_LISTEN_SOCKET, o->fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
				MHD_OPTION_END);
	if (!o->d) {
		snprintf(err, errsz, "--metrics-addr %s: the HTTP server did not start", cfg->listen);
		close(o->fd);
		pg_free(o);
		return -EIO;
	}
	*ret = o;
	return 0;
}

uint16_t ops_port(const struct ops *o)
{
	return o->port;
}

struct ops *ops_stop(struct ops *o)
{
	if (!o)
		return NULL;
	MHD_stop_daemon(o->d);
	close(o->fd);
	pg_free(o);
	return NULL;
}
