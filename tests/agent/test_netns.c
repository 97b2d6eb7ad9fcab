/* test_netns.c - the network namespaces of a sample, fed from a synthetic
 * /proc/<pid>/net (synthproc.h): which namespace a process is in, when
 * its fds are worth walking (the snmp counters), the net tables read on
 * demand and only the ones asked for, egress versus listening and
 * loopback, the table budget, forgetting, and allocation failures. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"
#include "synthproc.h"

#include "../lib/allocfail.h"

#define SNMP(opens, udp_out) \
	"Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens\n" \
	"Tcp: 1 200 120000 -1 " #opens " 7\n" \
	"Udp: InDatagrams NoPorts InErrors OutDatagrams\n" \
	"Udp: 3 0 0 " #udp_out "\n"

static char root[64];

/* The process 100: a TCP server on 8080 with an accepted connection,
 * outbound TCP to the world, to loopback and one still connecting, a
 * TIME_WAIT row (no inode); a UDP listener on 53 with a reply socket
 * connected from it, and an outbound connected UDP socket.  Process 200
 * has header-only tables and no IPv6 tables at all. */
static void build_tree(void)
{
	char tcp[4096] = "", udp[2048] = "", tcp6[1024] = "";

	snprintf(root, sizeof(root), "/tmp/pg-netns-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	sp_mkdir("%s/100/net", root);
	sp_row(tcp, sizeof(tcp), "0.0.0.0", 8080, "0.0.0.0", 0, PROCFS_LISTEN, 10);
	sp_row(tcp, sizeof(tcp), "10.0.0.5", 8080, "10.0.0.9", 5555, PROCFS_ESTABLISHED, 11);
	sp_row(tcp, sizeof(tcp), "10.0.0.5", 40000, "93.184.216.34", 443, PROCFS_ESTABLISHED, 12);
	sp_row(tcp, sizeof(tcp), "127.0.0.1", 40001, "127.0.0.1", 5432, PROCFS_ESTABLISHED, 13);
	sp_row(tcp, sizeof(tcp), "10.0.0.5", 40002, "1.2.3.4", 80, PROCFS_SYN_SENT, 14);
	sp_row(tcp, sizeof(tcp), "10.0.0.5", 40003, "1.2.3.5", 80, 0x06 /* TIME_WAIT */, 0);
	sp_row(tcp6, sizeof(tcp6), "2001:db8::5", 40004, "2001:db8::9", 443, PROCFS_ESTABLISHED, 15);
	sp_row(udp, sizeof(udp), "0.0.0.0", 53, "0.0.0.0", 0, PROCFS_CLOSE, 20);
	sp_row(udp, sizeof(udp), "10.0.0.5", 53, "8.8.8.8", 53, PROCFS_ESTABLISHED, 21);
	sp_row(udp, sizeof(udp), "10.0.0.5", 40005, "8.8.4.4", 53, PROCFS_ESTABLISHED, 22);
	sp_net(root, 100, tcp, tcp6, udp, NULL);
	sp_write(SNMP(5, 9), strlen(SNMP(5, 9)), "%s/100/net/snmp", root);

	sp_mkdir("%s/200/net", root);
	sp_write(SP_TCP_HEADER, strlen(SP_TCP_HEADER), "%s/200/net/tcp", root);
	sp_write(SP_UDP_HEADER, strlen(SP_UDP_HEADER), "%s/200/net/udp", root);
}

static int pid_dir(int pid)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%d", root, pid);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

START_TEST(one_namespace_per_process_without_links)
{
	struct netns_set t = { 0 };
	struct netns *a, *a2, *b;
	int p100, p200;

	build_tree();
	p100 = pid_dir(100);
	p200 = pid_dir(200);
	netns_set_init(&t, 42, 0);
	netns_set_begin(&t, 1);
	ck_assert_int_eq(netns_get(&t, p100, "100", &a), 0);
	ck_assert_int_eq(netns_get(&t, p100, "100", &a2), 0);
	ck_assert_int_eq(netns_get(&t, p200, "200", &b), 0);
	ck_assert_ptr_eq(a, a2);
	ck_assert_ptr_ne(a, b);
	ck_assert_str_eq(a->key, "pid:100");
	ck_assert_str_eq(b->key, "pid:200");
	ck_assert_uint_eq(t.st.netns, 2);
	ck_assert_uint_eq(t.nets.n, 2);
	/* a key that does not fit is refused, not cut */
	ck_assert_int_eq(netns_get(&t, p200, "12345678901234567890123456789012345678901234567890123456789012", &b),
			 -EINVAL);
	close(p100);
	close(p200);
	netns_set_free(&t);
	sp_rmtree(root);
}
END_TEST

START_TEST(walk_only_when_counters_move)
{
	struct netns_set t = { 0 };
	struct netns *a, *b;
	int p100 = -1, p200 = -1;

	build_tree();
	p100 = pid_dir(100);
	p200 = pid_dir(200);
	netns_set_init(&t, 42, 0);
	for (uint64_t gen = 1; gen <= 4; gen++) {
		if (gen == 3)   /* a connect() since the last sample */
			sp_write(SNMP(6, 9), strlen(SNMP(6, 9)), "%s/100/net/snmp", root);
		netns_set_begin(&t, gen);
		ck_assert_int_eq(netns_get(&t, p100, "100", &a), 0);
		ck_assert_int_eq(netns_get(&t, p200, "200", &b), 0);
		/* first sample: nothing to compare with; third: moved */
		ck_assert_msg(a->walk == (gen == 1 || gen == 3), "sample %llu", (unsigned long long)gen);
		ck_assert(a->have_counters);
		/* no snmp: cannot be told, so always walked */
		ck_assert(b->walk);
		ck_assert(!b->have_counters);
		ck_assert_int_eq(netns_set_collect(&t), 0);
		netns_set_end(&t);
	}
	close(p100);
	close(p200);
	netns_set_free(&t);
	sp_rmtree(root);
}
END_TEST

static bool egress_of(struct netns_set *t, struct netns *n, uint64_t inode)
{
	const struct procfs_sock *sk = netns_lookup(t, n, inode);

	ck_assert_msg(sk != NULL, "inode %llu not found", (unsigned long long)inode);
	return netns_is_egress(n, sk);
}

START_TEST(tables_and_egress)
{
	struct netns_set t = { 0 };
	struct netns *n;
	int pfd;

	build_tree();
	pfd = pid_dir(100);
	netns_set_init(&t, 7, 0);
	netns_set_begin(&t, 1);
	ck_assert_int_eq(netns_get(&t, pfd, "100", &n), 0);
	ck_assert_ptr_null(netns_lookup(&t, n, 12));       /* nothing loaded yet */

	/* only the table asked for is read */
	ck_assert_int_eq(netns_load(&t, n, pfd, NETNS_TCP), 0);
	ck_assert_uint_eq(n->loaded, NETNS_TCP);
	ck_assert_uint_eq(t.st.tables, 1);
	ck_assert_ptr_null(netns_lookup(&t, n, 22));       /* a UDP socket */
	ck_assert_ptr_null(netns_lookup(&t, n, 99));       /* no such socket */
	ck_assert(egress_of(&t, n, 12));                   /* out to the world */
	ck_assert(egress_of(&t, n, 14));                   /* still connecting */
	ck_assert(!egress_of(&t, n, 10));                  /* the listener */
	ck_assert(!egress_of(&t, n, 11));                  /* accepted on 8080 */
	ck_assert(!egress_of(&t, n, 13));                  /* loopback */
	ck_assert_uint_eq(n->nrows, 5);                    /* TIME_WAIT has no inode */

	/* asking again reads nothing again */
	ck_assert_int_eq(netns_load(&t, n, pfd, NETNS_TCP), 0);
	ck_assert_uint_eq(t.st.tables, 1);

	/* the rest: UDP's listener is a bound unconnected socket; udp6 is absent */
	ck_assert_int_eq(netns_load(&t, n, pfd, NETNS_ALL), 0);
	ck_assert_uint_eq(n->loaded, NETNS_ALL);
	ck_assert_uint_eq(t.st.tables, 4);
	ck_assert_uint_eq(t.st.unreadable, 0);
	ck_assert(egress_of(&t, n, 22));
	ck_assert(!egress_of(&t, n, 21));                  /* a reply from port 53 */
	ck_assert(!egress_of(&t, n, 20));
	ck_assert(egress_of(&t, n, 15));                   /* IPv6 */
	ck_assert(egress_of(&t, n, 12));                   /* still there */

	/* the sample's reads are dropped at its end */
	netns_set_end(&t);
	ck_assert_ptr_null(netns_lookup(&t, n, 12));
	ck_assert_uint_eq(n->loaded, 0);
	close(pfd);
	netns_set_free(&t);
	sp_rmtree(root);
}
END_TEST

START_TEST(missing_tables)
{
	struct netns_set t = { 0 };
	struct netns *n;
	char tcp[128];
	int pfd;

	build_tree();
	pfd = pid_dir(200);
	netns_set_init(&t, 7, 0);
	netns_set_begin(&t, 1);
	ck_assert_int_eq(netns_get(&t, pfd, "200", &n), 0);
	/* no IPv6 in this kernel is not unreadable */
	ck_assert_int_eq(netns_load(&t, n, pfd, NETNS_ALL), 0);
	ck_assert_uint_eq(t.st.tables, 2);
	ck_assert_uint_eq(t.st.unreadable, 0);
	netns_set_end(&t);
	/* a missing IPv4 table is */
	snprintf(tcp, sizeof(tcp), "%s/200/net/tcp", root);
	ck_assert_int_eq(unlink(tcp), 0);
	netns_set_begin(&t, 2);
	ck_assert_int_eq(netns_load(&t, n, pfd, NETNS_TCP), 0);
	ck_assert_uint_eq(t.st.unreadable, 1);
	ck_assert_uint_eq(t.st.tables, 0);
	close(pfd);
	netns_set_free(&t);
	sp_rmtree(root);
}
END_TEST

START_TEST(budget_defers_a_load)
{
	struct netns_set t = { 0 };
	struct netns *n;
	int pfd;

	build_tree();
	pfd = pid_dir(100);
	netns_set_init(&t, 7, 5);
	netns_set_begin(&t, 1);
	ck_assert_int_eq(netns_get(&t, pfd, "100", &n), 0);
	ck_assert_int_eq(netns_load(&t, n, pfd, NETNS_TCP), 0);
	t.table_ms = 5;         /* the sample's budget spent */
	ck_assert_int_eq(netns_load(&t, n, pfd, NETNS_UDP), -EAGAIN);
	ck_assert_uint_eq(n->loaded, NETNS_TCP);
	ck_assert_ptr_null(netns_lookup(&t, n, 22));
	/* what was loaded still answers */
	ck_assert_int_eq(netns_load(&t, n, pfd, NETNS_TCP), 0);
	ck_assert(egress_of(&t, n, 12));
	/* the next sample has its budget again */
	netns_set_end(&t);
	netns_set_begin(&t, 2);
	ck_assert_int_eq(netns_load(&t, n, pfd, NETNS_UDP), 0);
	ck_assert(egress_of(&t, n, 22));
	close(pfd);
	netns_set_free(&t);
	sp_rmtree(root);
}
END_TEST

START_TEST(collect_forgets)
{
	struct netns_set t = { 0 };
	struct netns *a, *b;
	struct netns_sock *e;
	int p100, p200;

	build_tree();
	p100 = pid_dir(100);
	p200 = pid_dir(200);
	netns_set_init(&t, 7, 0);
	netns_set_begin(&t, 1);
	ck_assert_int_eq(netns_get(&t, p100, "100", &a), 0);
	ck_assert_int_eq(netns_get(&t, p200, "200", &b), 0);
	a->walked = 1;
	for (uint64_t ino = 1; ino <= 40; ino++) {
		e = netns_sock(&t, a, ino);
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq(e->inode, ino);
		e->seen = 1;
	}
	ck_assert_uint_eq(a->sn, 40);
	e = netns_sock(&t, a, 7);
	ck_assert_uint_eq(e->seen, 1);                     /* the same entry, grown past 32 */
	ck_assert_int_eq(netns_set_collect(&t), 0);
	netns_set_end(&t);
	ck_assert_uint_eq(t.nets.n, 2);

	/* sample 2: only 100, whose fds show inode 3 alone */
	netns_set_begin(&t, 2);
	ck_assert_int_eq(netns_get(&t, p100, "100", &a), 0);
	a->walked = 2;
	netns_sock(&t, a, 3)->seen = 2;
	ck_assert_int_eq(netns_set_collect(&t), 0);
	netns_set_end(&t);
	ck_assert_uint_eq(t.nets.n, 1);
	ck_assert_uint_eq(a->sn, 1);
	ck_assert_uint_eq(netns_sock(&t, a, 3)->seen, 2);
	ck_assert_uint_eq(netns_sock(&t, a, 4)->seen, 0);  /* forgotten: new again */

	/* sample 3: 100 not walked keeps every inode */
	netns_set_begin(&t, 3);
	ck_assert_int_eq(netns_get(&t, p100, "100", &a), 0);
	ck_assert_int_eq(netns_set_collect(&t), 0);
	ck_assert_uint_eq(a->sn, 2);
	close(p100);
	close(p200);
	netns_set_free(&t);
	sp_rmtree(root);
}
END_TEST

START_TEST(sock_tables_without_the_attribute)
{
	char p[128];

	build_tree();
	snprintf(p, sizeof(p), "%s/100/fd/3", root);
	sp_mkdir("%s/100/fd", root);
	sp_sock(root, 100, 3, 12);
	/* a synthetic link: every table may hold it */
	ck_assert_uint_eq(netns_sock_tables(p), NETNS_ALL);
	sp_rmtree(root);
}
END_TEST

START_TEST(free_is_null_and_half_built_safe)
{
	struct netns_set t = { 0 };

	netns_set_free(NULL);
	netns_set_free(&t);             /* zeroed */
	netns_set_init(&t, 1, 0);
	netns_set_free(&t);             /* no sample yet */
	netns_set_free(&t);             /* twice */
}
END_TEST

/* Two samples of process 100's namespace: looked up, a socket seen,
 * every table loaded, forgotten or kept. */
static int two_samples(void *ud)
{
	struct netns_set t = { 0 };
	int pfd = pid_dir(100), r = 0;

	netns_set_init(&t, 7, 0);
	for (uint64_t gen = 1; gen <= 2 && r == 0; gen++) {
		struct netns *n;
		struct netns_sock *e;

		netns_set_begin(&t, gen);
		r = netns_get(&t, pfd, "100", &n);
		if (r == 0) {
			n->walked = gen;
			e = netns_sock(&t, n, 12);
			if (e)
				e->seen = gen;
			r = e ? netns_load(&t, n, pfd, NETNS_ALL) : -ENOMEM;
			if (r == 0)
				ck_assert(egress_of(&t, n, 12));
		}
		if (r == 0)
			r = netns_set_collect(&t);
		netns_set_end(&t);
	}
	netns_set_free(&t);
	close(pfd);
	return r;
}

START_TEST(allocation_failures)
{
	build_tree();
	af_each(200, two_samples, NULL);
	sp_rmtree(root);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent_netns");
	TCase *tc = tcase_create("netns");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, one_namespace_per_process_without_links);
	tcase_add_test(tc, walk_only_when_counters_move);
	tcase_add_test(tc, tables_and_egress);
	tcase_add_test(tc, missing_tables);
	tcase_add_test(tc, budget_defers_a_load);
	tcase_add_test(tc, collect_forgets);
	tcase_add_test(tc, sock_tables_without_the_attribute);
	tcase_add_test(tc, free_is_null_and_half_built_safe);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
