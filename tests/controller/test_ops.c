/* test_ops.c - the controller's plain HTTP listener over a real socket:
 * /metrics renders the registry, /healthz, /livez and /readyz answer 200
 * or 503 with the callback's reason (or "not ready"), other paths 404,
 * other methods 405; a bad address is refused with the flag in the
 * reason; ops_stop() is NULL-safe. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"
#include "ops.h"

struct state {
	bool healthy, ready;
	const char *why;
};

static bool healthy(void *ud, char *why, size_t n)
{
	struct state *s = ud;

	if (!s->healthy && s->why)
		snprintf(why, n, "%s", s->why);
	return s->healthy;
}

static bool ready(void *ud, char *why, size_t n)
{
	struct state *s = ud;

	return s->ready;
}

/* One HTTP/1.0 request; the status code, and the body in @body. */
static int request(uint16_t port, const char *method, const char *path, char *body, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	char buf[65536], req[256];
	size_t len = 0;
	ssize_t got;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), code = -1;
	const char *sep;

	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: x\r\n\r\n", method, path);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (len < sizeof(buf) - 1 && (got = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)got;
	close(fd);
	buf[len] = '\0';
	ck_assert_int_eq(sscanf(buf, "HTTP/1.%*d %d", &code), 1);
	sep = strstr(buf, "\r\n\r\n");
	snprintf(body, n, "%s", sep ? sep + 4 : "");
	return code;
}

START_TEST(answers)
{
	struct metrics *m = metrics_new();
	struct state st = { .healthy = true, .ready = false };
	struct ops_config cfg = { .listen = "127.0.0.1:0", .metrics = m, .healthy = healthy,
				  .ready = ready, .ud = &st };
	struct ops *o = NULL;
	char err[256] = "", body[65536];
	uint16_t port;

	ck_assert_ptr_nonnull(m);
	metric_inc(metric_vec_get(metrics_counter(m, "pg_test_total", "A test counter.", NULL), NULL));
	ck_assert_int_eq(ops_start(&cfg, &o, err, sizeof(err)), 0);
	port = ops_port(o);
	ck_assert_uint_ne(port, 0);

	ck_assert_int_eq(request(port, "GET", "/metrics", body, sizeof(body)), 200);
	ck_assert_msg(strstr(body, "\npg_test_total 1\n") != NULL, "%s", body);
	ck_assert_int_eq(request(port, "GET", "/healthz", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "ok\n");
	ck_assert_int_eq(request(port, "GET", "/livez", body, sizeof(body)), 200);
	/* not ready, no reason given */
	ck_assert_int_eq(request(port, "GET", "/readyz", body, sizeof(body)), 503);
	ck_assert_str_eq(body, "not ready\n");
	/* unhealthy, with the reason */
	st.healthy = false;
	st.why = "the pods watch has not answered for 90 s";
	ck_assert_int_eq(request(port, "GET", "/healthz", body, sizeof(body)), 503);
	ck_assert_str_eq(body, "the pods watch has not answered for 90 s\n");
	ck_assert_int_eq(request(port, "GET", "/livez", body, sizeof(body)), 503);
	st.ready = true;
	ck_assert_int_eq(request(port, "GET", "/readyz", body, sizeof(body)), 200);

	ck_assert_int_eq(request(port, "GET", "/", body, sizeof(body)), 404);
	ck_assert_str_eq(body, "not found\n");
	ck_assert_int_eq(request(port, "GET", "/metricsx", body, sizeof(body)), 404);
	ck_assert_int_eq(request(port, "POST", "/metrics", body, sizeof(body)), 405);
	ck_assert_str_eq(body, "method not allowed\n");
	ck_assert_int_eq(request(port, "HEAD", "/healthz", body, sizeof(body)), 503);
	ck_assert_ptr_null(ops_stop(o));
	metrics_free(m);
}
END_TEST

START_TEST(no_callbacks_no_metrics)
{
	/* without callbacks every check is healthy; without a registry
	 * /metrics is empty */
	struct ops_config cfg = { .listen = "127.0.0.1:0" };
	struct ops *o = NULL;
	char err[256] = "", body[1024];

	ck_assert_int_eq(ops_start(&cfg, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(request(ops_port(o), "GET", "/readyz", body, sizeof(body)), 200);
	ck_assert_int_eq(request(ops_port(o), "GET", "/metrics", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "");
	ck_assert_ptr_null(ops_stop(o));
}
END_TEST

START_TEST(refusals)
{
	struct ops_config cfg = { .listen = "9090" };
	struct ops *o = NULL, *busy = NULL;
	char err[256] = "", addr[64], want[128];

	ck_assert_int_eq(ops_start(&cfg, &o, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(o);
	ck_assert_str_eq(err, "--metrics-addr 9090: expected HOST:PORT, :PORT or [IPv6]:PORT");
	cfg.listen = "127.0.0.1:0";
	ck_assert_int_eq(ops_start(&cfg, &busy, err, sizeof(err)), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ops_port(busy));
	cfg.listen = addr;
	ck_assert_int_eq(ops_start(&cfg, &o, err, sizeof(err)), -EADDRINUSE);
	snprintf(want, sizeof(want), "--metrics-addr %s: %s", addr, strerror(EADDRINUSE));
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(ops_stop(busy));
	ck_assert_ptr_null(ops_stop(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ops");
	TCase *tc = tcase_create("ops");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, answers);
	tcase_add_test(tc, no_callbacks_no_metrics);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
