/* test_http_listen.c - http/http_listen.c: the address forms the flags
 * take (and the ones they refuse, the host's size cap included), and the
 * socket: bound, listening, non-blocking, close-on-exec, the port the
 * kernel picked, IPv4 reaching the "every address" socket, and a port in
 * use refused with the flag and address in the reason. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_listen.h"

START_TEST(parse_forms)
{
	static const struct {
		const char *in, *host;
		uint16_t port;
	} ok[] = {
		{ ":8443", "", 8443 },
		{ "0.0.0.0:80", "0.0.0.0", 80 },
		{ "127.0.0.1:0", "127.0.0.1", 0 },
		{ "localhost:65535", "localhost", 65535 },
		{ "[::1]:443", "::1", 443 },
		{ "[::]:9", "::", 9 },
		{ "[]:9", "", 9 },
	};
	char host[64];
	uint16_t port;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(host, 'x', sizeof(host));
		port = 1;
		ck_assert_msg(http_listen_parse(ok[i].in, host, sizeof(host), &port) == 0, "%s", ok[i].in);
		ck_assert_str_eq(host, ok[i].host);
		ck_assert_uint_eq(port, ok[i].port);
	}
}
END_TEST

START_TEST(parse_refusals)
{
	static const char *const bad[] = {
		"", "8443", "host", "host:", ":", "host:65536", "host:-1", "host:+1", "host:1x", "host: 1",
		"::1:80",               /* IPv6 without brackets */
		"[::1]80", "[::1", "[::1]", "[::1]:", "a:b:80",
	};
	char host[64] = "untouched";
	uint16_t port = 7;

	ck_assert_int_eq(http_listen_parse(NULL, host, sizeof(host), &port), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(http_listen_parse(bad[i], host, sizeof(host), &port) == -EINVAL, "\"%s\"", bad[i]);
	ck_assert_str_eq(host, "untouched");
	ck_assert_uint_eq(port, 7);
}
END_TEST

START_TEST(host_size_cap)
{
	/* a host that fills the buffer but its NUL is refused, not cut */
	char host[8];
	uint16_t port;

	ck_assert_int_eq(http_listen_parse("1234567:1", host, sizeof(host), &port), 0);
	ck_assert_str_eq(host, "1234567");
	ck_assert_int_eq(http_listen_parse("12345678:1", host, sizeof(host), &port), -EINVAL);
	ck_assert_int_eq(http_listen_parse("[1234567]:1", host, sizeof(host), &port), 0);
	ck_assert_int_eq(http_listen_parse("[12345678]:1", host, sizeof(host), &port), -EINVAL);
}
END_TEST

/* Connects to 127.0.0.1:@port: 0 when accepted into the backlog. */
static int connect_v4(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r;

	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return r;
}

static void assert_listening(int fd)
{
	int v = 0;
	socklen_t sl = sizeof(v);

	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &sl), 0);
	ck_assert_int_eq(v, 1);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

START_TEST(opens_a_listener)
{
	char err[256] = "";
	uint16_t port = 0;
	int fd = -1;

	ck_assert_int_eq(http_listen_open("127.0.0.1:0", "--listen", &fd, &port, err, sizeof(err)), 0);
	assert_listening(fd);
	ck_assert_uint_ne(port, 0);
	ck_assert_int_eq(connect_v4(port), 0);
	close(fd);
}
END_TEST

START_TEST(every_address_takes_ipv4_too)
{
	char err[256] = "";
	uint16_t port = 0;
	int fd = -1;

	ck_assert_int_eq(http_listen_open(":0", "--metrics-listen", &fd, &port, err, sizeof(err)), 0);
	assert_listening(fd);
	ck_assert_uint_ne(port, 0);
	ck_assert_int_eq(connect_v4(port), 0);
	close(fd);
}
END_TEST

START_TEST(refusals_name_flag_and_address)
{
	char err[256] = "", want[128];
	uint16_t port = 0, port2 = 0;
	int fd = -1, fd2 = -1;

	ck_assert_int_eq(http_listen_open("8443", "--listen", &fd2, &port2, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--listen 8443: expected HOST:PORT, :PORT or [IPv6]:PORT");
	ck_assert_int_eq(fd2, -1);
	/* a port in use */
	ck_assert_int_eq(http_listen_open("127.0.0.1:0", "--listen", &fd, &port, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	ck_assert_int_eq(http_listen_open(want, "--telemetry-listen", &fd2, &port2, err, sizeof(err)), -EADDRINUSE);
	ck_assert_int_eq(fd2, -1);
	snprintf(want, sizeof(want), "--telemetry-listen 127.0.0.1:%u: %s", port, strerror(EADDRINUSE));
	ck_assert_str_eq(err, want);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_listen");
	TCase *tc = tcase_create("http_listen");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, parse_forms);
	tcase_add_test(tc, parse_refusals);
	tcase_add_test(tc, host_size_cap);
	tcase_add_test(tc, opens_a_listener);
	tcase_add_test(tc, every_address_takes_ipv4_too);
	tcase_add_test(tc, refusals_name_flag_and_address);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
