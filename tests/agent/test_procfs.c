/* test_procfs.c - rows of /proc/PID/net/{tcp,tcp6,udp,udp6} (IPv4,
 * IPv6, IPv4-mapped, every state the agent cares about, malformed rows),
 * socket links of /proc/PID/fd, the exe link's " (deleted)", bounded
 * reads; and the real kernel's own table for a socket this test opens. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "procfs.h"

/* The address as the kernel prints it: each 32-bit word of the address
 * in memory, read as a host integer, %08X. */
static void kernel_hex(const char *text, char *out, size_t n)
{
	unsigned char b[16];
	size_t words;

	if (inet_pton(AF_INET, text, b) == 1) {
		words = 1;
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, text, b), 1);
		words = 4;
	}
	out[0] = '\0';
	for (size_t i = 0; i < words; i++) {
		uint32_t w;
		size_t len = strlen(out);

		memcpy(&w, b + 4 * i, 4);
		snprintf(out + len, n - len, "%08X", w);
	}
}

static void row(char *out, size_t n, const char *laddr, unsigned lport, const char *raddr, unsigned rport,
		unsigned state, unsigned long long inode)
{
	char l[40], r[40];

	kernel_hex(laddr, l, sizeof(l));
	kernel_hex(raddr, r, sizeof(r));
	snprintf(out, n, "  %u: %s:%04X %s:%04X %02X 00000000:00000000 00:00000000 00000000  1000        0 %llu 1 "
		 "0000000000000000 20 4 30 10 -1", 7u, l, lport, r, rport, state, inode);
}

static void addr_is(const struct netaddr *a, const char *text)
{
	char got[INET6_ADDRSTRLEN];

	ck_assert_ptr_nonnull(inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->bytes, got, sizeof(got)));
	ck_assert_str_eq(got, text);
}

START_TEST(ipv4_established)
{
	struct procfs_sock s;
	char line[512];

	row(line, sizeof(line), "10.1.2.3", 43210, "10.96.0.10", 5432, 0x01, 123456789ULL);
	ck_assert_int_eq(procfs_net_line(line, strlen(line), PROCFS_TCP, &s), 0);
	ck_assert_int_eq(s.laddr.family, 4);
	addr_is(&s.laddr, "10.1.2.3");
	addr_is(&s.raddr, "10.96.0.10");
	ck_assert_uint_eq(s.lport, 43210);
	ck_assert_uint_eq(s.rport, 5432);
	ck_assert_uint_eq(s.state, PROCFS_ESTABLISHED);
	ck_assert_uint_eq(s.inode, 123456789ULL);
	ck_assert_int_eq(s.proto, PROCFS_TCP);
}
END_TEST

START_TEST(recorded_little_endian_rows)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* as an x86-64 kernel wrote them */
	static const char v4[] = "   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999"
		"        0 31337 1 0000000000000000 100 0 0 10 0";
	static const char v6[] = "   3: 00000000000000000000000001000000:1F90 B80D0120000000000000000001000000:01BB"
		" 01 00000000:00000000 02:000AB2A4 00000000     0        0 4242 2 0000000000000000 20 4 1 10 -1";
	static const char mapped[] = "   1: 0000000000000000FFFF00000201A8C0:D431 0000000000000000FFFF0000090260C6:0050"
		" 02 00000001:00000000 01:00000064 00000002  1000        0 777 2 0000000000000000 20 4 0 10 -1";
	struct procfs_sock s;

	ck_assert_int_eq(procfs_net_line(v4, strlen(v4), PROCFS_TCP, &s), 0);
	addr_is(&s.laddr, "127.0.0.1");
	ck_assert_uint_eq(s.lport, 3306);
	ck_assert_uint_eq(s.state, PROCFS_LISTEN);
	ck_assert_uint_eq(s.inode, 31337);

	ck_assert_int_eq(procfs_net_line(v6, strlen(v6), PROCFS_TCP, &s), 0);
	addr_is(&s.laddr, "::1");
	addr_is(&s.raddr, "2001:db8::1");
	ck_assert_uint_eq(s.lport, 8080);
	ck_assert_uint_eq(s.rport, 443);

	ck_assert_int_eq(procfs_net_line(mapped, strlen(mapped), PROCFS_TCP, &s), 0);
	ck_assert_int_eq(s.laddr.family, 4);
	ck_assert_int_eq(s.raddr.family, 4);
	addr_is(&s.laddr, "192.168.1.2");
	addr_is(&s.raddr, "198.96.2.9");
	ck_assert_uint_eq(s.rport, 80);
	ck_assert_uint_eq(s.state, PROCFS_SYN_SENT);
#endif
}
END_TEST

START_TEST(ipv6_and_mapped)
{
	struct procfs_sock s;
	char line[512];

	row(line, sizeof(line), "fd00::2", 40000, "2001:db8:1::53", 53, 0x01, 99);
	ck_assert_int_eq(procfs_net_line(line, strlen(line), PROCFS_UDP, &s), 0);
	ck_assert_int_eq(s.raddr.family, 6);
	addr_is(&s.raddr, "2001:db8:1::53");
	addr_is(&s.laddr, "fd00::2");
	ck_assert_int_eq(s.proto, PROCFS_UDP);

	row(line, sizeof(line), "::ffff:10.0.0.5", 40001, "::ffff:203.0.113.9", 443, 0x01, 100);
	ck_assert_int_eq(procfs_net_line(line, strlen(line), PROCFS_TCP, &s), 0);
	ck_assert_int_eq(s.raddr.family, 4);
	addr_is(&s.raddr, "203.0.113.9");
	addr_is(&s.laddr, "10.0.0.5");
	/* ::ffff:0:0/96 only: another v6 with a zero prefix stays v6 */
	row(line, sizeof(line), "::", 0, "::1.2.3.4", 1, 0x01, 101);
	ck_assert_int_eq(procfs_net_line(line, strlen(line), PROCFS_TCP, &s), 0);
	ck_assert_int_eq(s.raddr.family, 6);
}
END_TEST

START_TEST(local_addresses)
{
	static const struct {
		const char *addr;
		bool local;
	} cases[] = {
		{ "127.0.0.1", true }, { "127.255.0.9", true }, { "0.0.0.0", true }, { "::1", true },
		{ "::", true }, { "::ffff:127.0.0.2", true }, { "10.0.0.1", false }, { "192.0.2.2", false },
		{ "fd00::2", false }, { "::2", false }, { "128.0.0.1", false }, { "::ffff:10.0.0.1", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct procfs_sock s;
		char line[512];

		row(line, sizeof(line), "::", 1, cases[i].addr, 2, 1, 1);
		if (!strchr(cases[i].addr, ':'))
			row(line, sizeof(line), "0.0.0.0", 1, cases[i].addr, 2, 1, 1);
		ck_assert_int_eq(procfs_net_line(line, strlen(line), PROCFS_TCP, &s), 0);
		ck_assert_msg(procfs_addr_is_local(&s.raddr) == cases[i].local, "%s", cases[i].addr);
	}
}
END_TEST

START_TEST(malformed_rows)
{
	static const char *const bad[] = {
		"",
		"   0:",
		"   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 999 0",
		"   0 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 999 0 1",
		"   0: 0100007G:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 999 0 1",
		"   0: 0100007F-0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 999 0 1",
		"   0: 0100007F:CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 999 0 1",
		"   0: 100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 999 0 1",
		"   0: 0100007F:0CEA 00000000000000000000000000000000:0000 0A 0:0 0:0 0 999 0 1",
		"   0: 0100007F:0CEA 00000000:0000 A 00000000:00000000 00:00000000 00000000 999 0 1",
		"   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 999 0 -1",
		"   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 999 0 99999999999999999999999",
		"   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 999 0 12x",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct procfs_sock s;

		ck_assert_msg(procfs_net_line(bad[i], strlen(bad[i]), PROCFS_TCP, &s) == -EINVAL, "row %zu", i);
	}
}
END_TEST

struct collect {
	struct procfs_sock s[8];
	size_t n;
};

static int collect(void *ud, const struct procfs_sock *s)
{
	struct collect *c = ud;

	if (c->n < 8)
		c->s[c->n++] = *s;
	return 0;
}

static int stop_at_first(void *ud, const struct procfs_sock *s)
{
	return -ECANCELED;
}

START_TEST(whole_table)
{
	char a[512], b[512], table[2048];
	struct collect c = { .n = 0 };
	size_t bad = 99;

	row(a, sizeof(a), "0.0.0.0", 53, "0.0.0.0", 0, 0x07, 11);
	row(b, sizeof(b), "10.0.0.2", 40000, "10.96.0.10", 53, 0x01, 12);
	snprintf(table, sizeof(table),
		 "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
		 "%s\nnot a row\n\n%s", a, b);   /* no newline at the end */
	ck_assert_int_eq(procfs_net_parse(table, strlen(table), PROCFS_UDP, collect, &c, &bad), 0);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_uint_eq(bad, 1);
	ck_assert_uint_eq(c.s[0].state, PROCFS_CLOSE);
	ck_assert_uint_eq(c.s[1].inode, 12);
	ck_assert_int_eq(c.s[1].proto, PROCFS_UDP);
	/* the header alone, or nothing */
	ck_assert_int_eq(procfs_net_parse(table, 20, PROCFS_UDP, collect, &c, NULL), 0);
	ck_assert_int_eq(procfs_net_parse("", 0, PROCFS_UDP, collect, &c, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(procfs_net_parse(table, strlen(table), PROCFS_UDP, stop_at_first, NULL, NULL), -ECANCELED);
}
END_TEST

START_TEST(socket_links)
{
	static const struct {
		const char *link;
		int r;
		uint64_t inode;
	} cases[] = {
		{ "socket:[12345]", 0, 12345 },
		{ "socket:[0]", 0, 0 },
		{ "socket:[18446744073709551615]", 0, UINT64_MAX },
		{ "socket:[18446744073709551616]", -EINVAL, 0 },
		{ "socket:[]", -EINVAL, 0 },
		{ "socket:[12a]", -EINVAL, 0 },
		{ "socket:[123", -EINVAL, 0 },
		{ "socket:123]", -EINVAL, 0 },
		{ "pipe:[123]", -EINVAL, 0 },
		{ "anon_inode:[eventpoll]", -EINVAL, 0 },
		{ "/dev/null", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t inode = 7;

		ck_assert_msg(procfs_socket_inode(cases[i].link, strlen(cases[i].link), &inode) == cases[i].r,
			      "%s", cases[i].link);
		if (cases[i].r == 0)
			ck_assert(inode == cases[i].inode);
	}
}
END_TEST

START_TEST(deleted_exe)
{
	char a[] = "/usr/bin/curl (deleted)", b[] = "/usr/bin/curl", c[] = " (deleted)", d[] = "/x (deleted) ";

	ck_assert(procfs_strip_deleted(a));
	ck_assert_str_eq(a, "/usr/bin/curl");
	ck_assert(!procfs_strip_deleted(b));
	ck_assert(!procfs_strip_deleted(c));
	ck_assert(!procfs_strip_deleted(d));
}
END_TEST

START_TEST(bounded_reads)
{
	char dir[] = "/tmp/pg-procfs-XXXXXX", path[256], out[8], target[300];
	struct buf b = BUF_INIT(5);
	size_t len;
	int dfd, fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, "0123456789", 10), 10);
	close(fd);
	ck_assert_int_eq(procfs_read_at(dfd, "f", out, sizeof(out), &len), -E2BIG);
	ck_assert_uint_eq(len, 7);
	ck_assert_str_eq(out, "0123456");
	{
		char exact[11];

		ck_assert_int_eq(procfs_read_at(dfd, "f", exact, sizeof(exact), &len), 0);
		ck_assert_str_eq(exact, "0123456789");
	}
	ck_assert_int_eq(procfs_read_at(dfd, "missing", out, sizeof(out), &len), -ENOENT);
	ck_assert_int_eq(procfs_read_buf(dfd, "f", &b), -E2BIG);
	buf_free(&b);
	/* a FIFO where a file should be does not hang the read */
	ck_assert_int_eq(mkfifoat(dfd, "fifo", 0600), 0);
	ck_assert_int_eq(procfs_read_at(dfd, "fifo", out, sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 0);
	/* links */
	ck_assert_int_eq(symlinkat("socket:[42]", dfd, "l"), 0);
	ck_assert_int_eq(procfs_readlink_at(dfd, "l", out, sizeof(out)), -ENAMETOOLONG);
	ck_assert_int_eq(procfs_readlink_at(dfd, "l", target, sizeof(target)), 11);
	ck_assert_str_eq(target, "socket:[42]");
	unlinkat(dfd, "l", 0);
	unlinkat(dfd, "fifo", 0);
	unlinkat(dfd, "f", 0);
	close(dfd);
	rmdir(dir);
}
END_TEST

START_TEST(snmp_counters)
{
	static const char snmp[] =
		"Ip: Forwarding DefaultTTL InReceives\nIp: 1 64 100\n"
		"Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails\n"
		"Tcp: 1 200 120000 -1 23486 23208 265\n"
		"Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors\n"
		"Udp: 32 0 0 33 0\n"
		"UdpLite: InDatagrams NoPorts InErrors OutDatagrams\nUdpLite: 0 0 0 7\n";
	static const char snmp6[] = "Udp6InDatagrams                 \t5\nUdp6OutDatagrams                \t9\n";
	struct procfs_counters c;

	ck_assert_int_eq(procfs_snmp_parse(snmp, strlen(snmp), snmp6, strlen(snmp6), &c), 0);
	ck_assert(c.tcp_active_opens == 23486);
	ck_assert(c.udp_out == 33);
	ck_assert(c.udp6_out == 9);
	ck_assert_int_eq(procfs_snmp_parse(snmp, strlen(snmp), NULL, 0, &c), 0);
	ck_assert(c.udp6_out == 0);
	/* missing or malformed lines */
	{
		static const char *const bad[] = {
			"Tcp: A ActiveOpens\nTcp: 1 x\nUdp: OutDatagrams\nUdp: 1\n",   /* not a number */
			"Tcp: ActiveOpens\nTcp: 1\n",                                    /* no Udp */
			"Udp: OutDatagrams\nUdp: 1\nTcp: ActiveOpens\n",                /* no Tcp values */
			"Tcp: A ActiveOpens\nTcp: 1\nUdp: OutDatagrams\nUdp: 1\n",     /* a value short */
			"",
		};
		static const char good[] = "Tcp: ActiveOpens\nTcp: 3\nUdp: OutDatagrams\nUdp: 4";
		static const char bad6[] = "Udp6OutDatagrams x";

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ck_assert_msg(procfs_snmp_parse(bad[i], strlen(bad[i]), NULL, 0, &c) == -EINVAL, "%zu", i);
		ck_assert_int_eq(procfs_snmp_parse(good, strlen(good), NULL, 0, &c), 0);
		ck_assert(c.tcp_active_opens == 3 && c.udp_out == 4);
		ck_assert_int_eq(procfs_snmp_parse(good, strlen(good), bad6, strlen(bad6), &c), -EINVAL);
	}
}
END_TEST

START_TEST(snmp_of_this_kernel)
{
	/* this process's own namespace: a connection attempt moves the counter */
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	char snmp[8192], snmp6[16384];
	struct procfs_counters a, b;
	size_t len, len6 = 0;
	int pfd = open("/proc/self", O_RDONLY | O_DIRECTORY), l, c;

	ck_assert_int_ge(procfs_read_at(pfd, "net/snmp", snmp, sizeof(snmp), &len), 0);
	if (procfs_read_at(pfd, "net/snmp6", snmp6, sizeof(snmp6), &len6) < 0)
		len6 = 0;
	ck_assert_int_eq(procfs_snmp_parse(snmp, len, len6 ? snmp6 : NULL, len6, &a), 0);
	l = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sin, &sl), 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_ge(procfs_read_at(pfd, "net/snmp", snmp, sizeof(snmp), &len), 0);
	ck_assert_int_eq(procfs_snmp_parse(snmp, len, NULL, 0, &b), 0);
	ck_assert(b.tcp_active_opens > a.tcp_active_opens);
	close(c);
	close(l);
	close(pfd);
}
END_TEST

struct want {
	uint64_t inode;
	uint16_t port;
	bool found;
};

static int find_inode(void *ud, const struct procfs_sock *s)
{
	struct want *w = ud;

	if (s->inode == w->inode && s->state == PROCFS_LISTEN && s->lport == w->port)
		w->found = true;
	return 0;
}

START_TEST(real_kernel_table)
{
	/* a listening socket of this process, found in this process's own
	 * table by its inode, port and state */
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	struct buf b = BUF_INIT(16 << 20);
	struct want w = { 0 };
	struct stat st;
	char link[64], fdname[32];
	uint64_t inode;
	long n;
	int fd = socket(AF_INET, SOCK_STREAM, 0), pfd;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	pfd = open("/proc/self", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(pfd, 0);
	snprintf(fdname, sizeof(fdname), "fd/%d", fd);
	n = procfs_readlink_at(pfd, fdname, link, sizeof(link));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(procfs_socket_inode(link, (size_t)n, &inode), 0);
	ck_assert(inode == (uint64_t)st.st_ino);
	ck_assert_int_eq(procfs_read_buf(pfd, "net/tcp", &b), 0);
	w.inode = inode;
	w.port = ntohs(sin.sin_port);
	ck_assert_int_eq(procfs_net_parse(b.data, b.len, PROCFS_TCP, find_inode, &w, NULL), 0);
	ck_assert(w.found);
	buf_free(&b);
	close(pfd);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent_procfs");
	TCase *tc = tcase_create("procfs");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, ipv4_established);
	tcase_add_test(tc, recorded_little_endian_rows);
	tcase_add_test(tc, ipv6_and_mapped);
	tcase_add_test(tc, local_addresses);
	tcase_add_test(tc, malformed_rows);
	tcase_add_test(tc, whole_table);
	tcase_add_test(tc, socket_links);
	tcase_add_test(tc, deleted_exe);
	tcase_add_test(tc, bounded_reads);
	tcase_add_test(tc, snmp_counters);
	tcase_add_test(tc, snmp_of_this_kernel);
	tcase_add_test(tc, real_kernel_table);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
