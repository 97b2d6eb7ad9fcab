/* test_scan.c - samples of a synthetic /proc and pods directory:
 * which processes are a pod's, which sockets are egress, what each
 * sample reports (and that the next reports nothing again), tokens as
 * they rotate, bounds, odd bytes, and allocation failures.  Every event
 * is read back with the project's own native parser. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "scan.h"
#include "synthproc.h"
#include "telemetry.h"
#include "xalloc.h"

#define UID_A "8a7c2e1f-9b3d-4c5e-8f7a-6b5c4d3e2f1a"
#define UID_B "a5c1f8d5-1919-434d-add7-4afaafdaef89"
#define C1 "1111111111111111111111111111111111111111111111111111111111111111"
#define C2 "2222222222222222222222222222222222222222222222222222222222222222"
#define C3 "3333333333333333333333333333333333333333333333333333333333333333"

#define CG_A(c) "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" \
	"8a7c2e1f_9b3d_4c5e_8f7a_6b5c4d3e2f1a.slice/cri-containerd-" c ".scope\n"
#define CG_B(c) "12:pids:/kubepods/besteffort/pod" UID_B "/crio-" c "\n11:cpu:/\n"

static char root[64], proc[128], pods[128];

/* The events of one sample, each as a line for comparison. */
struct events {
	char lines[64][512];
	size_t n;
	struct buf raw;                 /* the JSON lines, for the native parser */
};

static int record(void *ud, const char *line, size_t len)
{
	struct events *ev = ud;

	ck_assert_uint_lt(ev->n, 64);
	ck_assert_ptr_null(memchr(line, '\n', len));
	ck_assert_int_eq(buf_add(&ev->raw, line, len), 0);
	ck_assert_int_eq(buf_addc(&ev->raw, '\n'), 0);
	ev->n++;
	return 0;
}

/* Each native event as "kind pod container facts". */
static int describe(void *ud, const struct telemetry_event *e)
{
	struct events *ev = ud;
	char *l = ev->lines[ev->n++];
	char addr[64] = "";
	const char *cid = e->container_id ? e->container_id : "-";

	/* short container IDs keep the expectations readable */
	if (strlen(cid) > 16)
		cid += strlen(cid) - 4;
	switch (e->ev.kind) {
	case RUNTIME_EXEC:
		snprintf(l, 512, "exec %.8s %s %s", e->pod_uid, cid, e->ev.exe);
		break;
	case RUNTIME_CONNECT:
		inet_ntop(e->ev.daddr.family == 4 ? AF_INET : AF_INET6, e->ev.daddr.bytes, addr, sizeof(addr));
		snprintf(l, 512, "connect %.8s %s %s %u %s", e->pod_uid, cid, addr, e->ev.dport, e->ev.protocol);
		break;
	case RUNTIME_TOKEN:
		snprintf(l, 512, "token %.8s %lld %lld", e->pod_uid, (long long)e->ev.iat, (long long)e->ev.exp);
		break;
	default:
		snprintf(l, 512, "other");
	}
	return 0;
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* One sample; its events parsed back, described and sorted. */
static struct scan_stats sample(struct scan *s, struct events *out)
{
	struct events raw = { .n = 0 };
	struct telemetry_stats ts;
	struct scan_stats st;
	struct timespec now = { 1795340100, 0 };

	buf_init(&raw.raw, 1 << 20);
	ck_assert_int_eq(scan_sample(s, &now, record, &raw, &st), 0);
	memset(out, 0, sizeof(*out));
	ck_assert_int_eq(telemetry_parse(TELEMETRY_NATIVE, buf_str(&raw.raw), raw.raw.len, describe, out, &ts), 0);
	ck_assert_msg(ts.rejected == 0, "native parser rejected: %s\n%s", ts.first_error, buf_str(&raw.raw));
	ck_assert_uint_eq(ts.accepted, raw.n);
	ck_assert_uint_eq(out->n, st.execs + st.connects + st.tokens);
	qsort(out->lines, out->n, sizeof(out->lines[0]), cmp_lines);
	/* what the agent writes never holds the token's signature */
	ck_assert_ptr_null(strstr(buf_str(&raw.raw), SP_SIGNATURE));
	buf_free(&raw.raw);
	return st;
}

static void expect(const struct events *ev, const char *const *want, size_t n)
{
	size_t i;

	for (i = 0; i < ev->n && i < n; i++)
		ck_assert_msg(strcmp(ev->lines[i], want[i]) == 0, "event %zu: got \"%s\", want \"%s\"", i,
			      ev->lines[i], want[i]);
	if (ev->n != n) {
		for (i = 0; i < ev->n; i++)
			fprintf(stderr, "  got: %s\n", ev->lines[i]);
		ck_abort_msg("%zu events, want %zu", ev->n, n);
	}
}

struct warned {
	char what[8][128];
	size_t n;
};

static void on_warn(void *ud, const char *what, const char *uid, const char *vol, const char *detail)
{
	struct warned *w = ud;

	ck_assert_ptr_null(strstr(detail, SP_SIGNATURE));
	if (w->n < 8)
		snprintf(w->what[w->n++], 128, "%.8s %s: %s", uid, vol, what);
}

/* Pod A: containers C1 (two sleeps, one process without an exe link)
 * and C2 (a deleted binary), one network namespace.  Pod B: container
 * C3 (curl) with every kind of socket.  A host process, a conmon, and
 * entries that are not processes. */
static void build_tree(void)
{
	char tcp[8192] = "", tcp6[4096] = "", udp[4096] = "", udp6[1024] = "";

	snprintf(root, sizeof(root), "/tmp/pg-scan-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(pods, sizeof(pods), "%s/pods", root);

	sp_proc(proc, 100, CG_A(C1), "/usr/bin/sleep");
	sp_proc(proc, 101, CG_A(C1), "/usr/bin/sleep");
	sp_proc(proc, 102, CG_A(C2), "/app/server (deleted)");
	sp_proc(proc, 103, CG_A(C1), NULL);
	for (int pid = 100; pid <= 103; pid++) {
		sp_mkdir("%s/%d/ns", proc, pid);
		sp_link("net:[4026532001]", "%s/%d/ns/net", proc, pid);
		sp_net(proc, pid, NULL, NULL, NULL, NULL);
	}

	sp_proc(proc, 200, CG_B(C3), "/usr/bin/curl");
	sp_row(tcp, sizeof(tcp), "10.0.0.2", 40001, "10.96.0.10", 5432, 0x01, 1001);     /* egress */
	sp_row(tcp, sizeof(tcp), "127.0.0.1", 40002, "127.0.0.1", 8081, 0x01, 1002);    /* loopback */
	sp_row(tcp, sizeof(tcp), "0.0.0.0", 8080, "0.0.0.0", 0, 0x0a, 1006);            /* listener */
	sp_row(tcp, sizeof(tcp), "10.0.0.2", 8080, "10.0.0.9", 51234, 0x01, 1007);      /* accepted: inbound */
	sp_row(tcp, sizeof(tcp), "10.0.0.2", 40003, "10.96.0.11", 80, 0x06, 1008);      /* TIME_WAIT */
	sp_row(tcp, sizeof(tcp), "10.0.0.2", 40004, "10.1.1.1", 443, 0x02, 1010);       /* SYN_SENT: egress */
	sp_row(tcp, sizeof(tcp), "10.0.0.2", 40005, "10.96.0.12", 443, 0x01, 9999);     /* not this process's */
	sp_row(tcp6, sizeof(tcp6), "fd00::2", 40006, "2001:db8::1", 443, 0x01, 1004);
	sp_row(tcp6, sizeof(tcp6), "::ffff:10.0.0.2", 40007, "::ffff:203.0.113.9", 80, 0x01, 1005);
	sp_row(tcp6, sizeof(tcp6), "::1", 40008, "::1", 9000, 0x01, 1011);               /* loopback */
	sp_row(udp, sizeof(udp), "10.0.0.2", 40009, "10.96.0.10", 53, 0x01, 1003);       /* connected UDP */
	sp_row(udp, sizeof(udp), "0.0.0.0", 5353, "0.0.0.0", 0, 0x07, 1009);             /* unconnected */
	sp_row(udp6, sizeof(udp6), "::", 40010, "::", 0, 0x07, 1012);
	strcat(tcp, "   9: garbage row\n");
	sp_net(proc, 200, tcp, tcp6, udp, udp6);
	for (int i = 1001; i <= 1012; i++)
		sp_sock(proc, 200, i - 990, (unsigned long long)i);
	sp_link("/dev/null", "%s/200/fd/0", proc);
	sp_link("pipe:[777]", "%s/200/fd/1", proc);

	/* a host process with an egress socket, and CRI-O's conmon */
	sp_proc(proc, 300, "0::/system.slice/kubelet.service\n", "/usr/bin/kubelet");
	sp_net(proc, 300, tcp, NULL, NULL, NULL);
	sp_sock(proc, 300, 3, 9999);
	sp_proc(proc, 400, "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
		"a5c1f8d5_1919_434d_add7_4afaafdaef89.slice/crio-conmon-" C3 ".scope\n", "/usr/bin/conmon");
	sp_mkdir("%s/self", proc);
	sp_mkdir("%s/sys", proc);
	sp_write("x", 1, "%s/uptime", proc);

	/* tokens: A has one; B a projected volume without a token file and
	 * one whose token is garbage; a directory that is not a pod */
	sp_token(pods, UID_A, "kube-api-access-7xk2p", 1795340000, 1795343600);
	sp_mkdir("%s/%s/volumes/kubernetes.io~projected/config", pods, UID_B);
	sp_write("{}", 2, "%s/%s/volumes/kubernetes.io~projected/config/settings.json", pods, UID_B);
	sp_mkdir("%s/%s/volumes/kubernetes.io~projected/broken", pods, UID_B);
	sp_write("not-a-jwt", 9, "%s/%s/volumes/kubernetes.io~projected/broken/token", pods, UID_B);
	sp_mkdir("%s/lost+found", pods);
}

static void teardown(void)
{
	sp_rmtree(root);
}

static struct scan *new_scan(struct warned *w, size_t max_keys)
{
	struct scan_config cfg = {
		.proc_root = proc,
		.pods_dir = pods,
		.node = "node-a",
		.max_keys = max_keys,
		.warn = on_warn,
		.warn_ud = w,
	};
	struct scan *s;

	ck_assert_int_eq(scan_new(&cfg, &s), 0);
	return s;
}

static const char *const first_sample[] = {
	"connect a5c1f8d5 3333 10.1.1.1 443 tcp",
	"connect a5c1f8d5 3333 10.96.0.10 53 udp",
	"connect a5c1f8d5 3333 10.96.0.10 5432 tcp",
	"connect a5c1f8d5 3333 2001:db8::1 443 tcp",
	"connect a5c1f8d5 3333 203.0.113.9 80 tcp",
	"exec 8a7c2e1f 1111 /usr/bin/sleep",
	"exec 8a7c2e1f 2222 /app/server",
	"exec a5c1f8d5 3333 /usr/bin/curl",
	"token 8a7c2e1f 1795340000 1795343600",
};

START_TEST(first_sample_then_nothing)
{
	struct warned w = { .n = 0 };
	struct scan *s;
	struct events ev;
	struct scan_stats st;

	build_tree();
	s = new_scan(&w, 0);
	st = sample(s, &ev);
	expect(&ev, first_sample, sizeof(first_sample) / sizeof(first_sample[0]));
	ck_assert_uint_eq(st.pod_processes, 5);         /* 100-103, 200 */
	ck_assert_uint_eq(st.containers, 3);
	ck_assert_uint_ge(st.bad_rows, 1);
	ck_assert_uint_eq(w.n, 1);
	ck_assert_str_eq(w.what[0], "a5c1f8d5 broken: projected token unreadable");

	/* the same node again: nothing new, no table read, no warning repeated */
	st = sample(s, &ev);
	ck_assert_uint_eq(ev.n, 0);
	ck_assert_uint_eq(st.tables, 0);
	ck_assert_uint_eq(st.lookups, 0);
	ck_assert_uint_eq(st.fd_walks, 5);
	ck_assert_uint_eq(st.pod_processes, 5);
	ck_assert_uint_eq(w.n, 1);
	scan_free(s);
	teardown();
}
END_TEST

static int collect_raw(void *ud, const char *line, size_t len)
{
	struct buf *b = ud;
	int r = buf_add(b, line, len);

	/* the allocation-failure test makes this fail too: pass it on */
	return r < 0 ? r : buf_addc(b, '\n');
}

START_TEST(event_fields)
{
	struct warned w = { .n = 0 };
	struct scan *s;
	struct buf out = BUF_INIT(1 << 20);
	struct timespec now = { 1795340100, 0 };
	const char *text;

	build_tree();
	s = new_scan(&w, 0);
	ck_assert_int_eq(scan_sample(s, &now, collect_raw, &out, NULL), 0);
	text = buf_str(&out);
	/* runtime-prefixed IDs as containerStatuses write them; the pod by
	 * uid; the time of the sample; a deleted binary says so */
	ck_assert_ptr_nonnull(strstr(text, "\"containerID\":\"containerd://" C1 "\""));
	ck_assert_ptr_nonnull(strstr(text, "\"containerID\":\"cri-o://" C3 "\""));
	ck_assert_ptr_nonnull(strstr(text, "\"pod\":{\"uid\":\"" UID_A "\"}"));
	ck_assert_ptr_nonnull(strstr(text, "\"time\":\"2026-11-22T09:35:00Z\""));
	ck_assert_ptr_nonnull(strstr(text, "\"exe\":\"/app/server\",\"deleted\":true"));
	ck_assert_ptr_nonnull(strstr(text, "\"node\":\"node-a\""));
	ck_assert_ptr_nonnull(strstr(text, "\"volume\":\"kube-api-access-7xk2p\""));
	ck_assert_ptr_null(strstr(text, "\"args\""));
	ck_assert_ptr_null(strstr(text, "kubelet"));
	ck_assert_ptr_null(strstr(text, "conmon"));
	buf_free(&out);
	scan_free(s);
	teardown();
}
END_TEST

START_TEST(only_changes)
{
	struct warned w = { .n = 0 };
	struct scan *s;
	struct events ev;
	struct scan_stats st;
	char tcp[4096] = "";
	static const char *const want[] = {
		"connect a5c1f8d5 3333 198.51.100.7 8443 tcp",
		"exec 8a7c2e1f 1111 /usr/bin/curl",
		"token 8a7c2e1f 1795343000 1795346600",
	};

	build_tree();
	s = new_scan(&w, 0);
	sample(s, &ev);
	/* a new exe in C1, the same exe in a new C1 process, a new
	 * destination in C3 (and an old one on a new socket), a rotated token */
	sp_proc(proc, 104, CG_A(C1), "/usr/bin/curl");
	sp_proc(proc, 105, CG_A(C1), "/usr/bin/sleep");
	sp_row(tcp, sizeof(tcp), "10.0.0.2", 40011, "198.51.100.7", 8443, 0x01, 1013);
	sp_row(tcp, sizeof(tcp), "10.0.0.2", 40012, "10.96.0.10", 5432, 0x01, 1014);
	sp_net(proc, 200, tcp, NULL, NULL, NULL);
	sp_sock(proc, 200, 40, 1013);
	sp_sock(proc, 200, 41, 1014);
	sp_token(pods, UID_A, "kube-api-access-7xk2p", 1795343000, 1795346600);
	st = sample(s, &ev);
	expect(&ev, want, 3);
	/* only pod B's namespace had new sockets: its tables, read once */
	ck_assert_uint_eq(st.tables, 4);
	ck_assert_uint_eq(st.lookups, 2);
	/* and then nothing */
	sample(s, &ev);
	ck_assert_uint_eq(ev.n, 0);
	scan_free(s);
	teardown();
}
END_TEST

START_TEST(gone_is_forgotten)
{
	struct warned w = { .n = 0 };
	struct scan *s;
	struct events ev;
	struct scan_stats st;
	static const char *const again[] = {
		"exec 8a7c2e1f 2222 /app/server",
		"token 8a7c2e1f 1795340000 1795343600",
	};

	build_tree();
	s = new_scan(&w, 0);
	sample(s, &ev);
	/* C2's only process exits; pod A's token volume goes */
	{
		char p[256];

		snprintf(p, sizeof(p), "%s/102", proc);
		sp_rmtree(p);
		snprintf(p, sizeof(p), "%s/%s", pods, UID_A);
		sp_rmtree(p);
	}
	st = sample(s, &ev);
	ck_assert_uint_eq(ev.n, 0);
	ck_assert_uint_eq(st.containers, 2);
	/* both come back: reported afresh, as a restarted container is */
	sp_proc(proc, 102, CG_A(C2), "/app/server");
	sp_mkdir("%s/102/ns", proc);
	sp_link("net:[4026532001]", "%s/102/ns/net", proc);
	sp_token(pods, UID_A, "kube-api-access-7xk2p", 1795340000, 1795343600);
	sample(s, &ev);
	expect(&ev, again, 2);
	scan_free(s);
	teardown();
}
END_TEST

START_TEST(udp_reconnect_and_recheck)
{
	/* A connected UDP socket may connect() elsewhere: it is looked up
	 * again every recheck_samples; a connected TCP socket never is. */
	struct scan_config cfg = { .node = "node-a", .recheck_samples = 2 };
	struct warned w = { .n = 0 };
	char udp[1024] = "", tcp[1024] = "";
	struct events ev;
	struct scan_stats st;
	struct scan *s;
	static const char *const want[] = { "connect a5c1f8d5 3333 10.96.0.99 53 udp" };

	build_tree();
	cfg.proc_root = proc;
	cfg.warn = on_warn;
	cfg.warn_ud = &w;
	ck_assert_int_eq(scan_new(&cfg, &s), 0);
	sample(s, &ev);
	ck_assert_uint_eq(ev.n, sizeof(first_sample) / sizeof(first_sample[0]) - 1);   /* no token dir */
	sp_row(udp, sizeof(udp), "10.0.0.2", 40009, "10.96.0.99", 53, 0x01, 1003);
	sp_row(tcp, sizeof(tcp), "10.0.0.2", 40001, "10.96.0.10", 5432, 0x01, 1001);
	sp_net(proc, 200, tcp, NULL, udp, NULL);
	st = sample(s, &ev);            /* not due yet */
	ck_assert_uint_eq(ev.n, 0);
	ck_assert_uint_eq(st.lookups, 0);
	st = sample(s, &ev);            /* due: the UDP sockets only */
	expect(&ev, want, 1);
	ck_assert_uint_eq(st.lookups, 3);       /* 1003, 1009, 1012 */
	scan_free(s);
	teardown();
}
END_TEST

START_TEST(table_budget)
{
	/* Six namespaces whose tables take more than the budget to read: a
	 * sample defers some lookups, the next ones (starting elsewhere)
	 * finish them; every destination is reported once. */
	struct scan_config cfg = { .node = "node-a", .table_budget_ms = 1 };
	size_t cap = 16u << 20, len, reported = 0, deferred = 0;
	char *tcp = malloc(cap);
	struct events ev;
	struct scan *s;

	build_tree();
	cfg.proc_root = proc;
	ck_assert_ptr_nonnull(tcp);
	snprintf(tcp, cap, "%s", SP_TCP_HEADER);
	for (int i = 0; i < 6; i++)
		sp_row(tcp, cap, "10.0.0.2", 41000 + (unsigned)i, "198.18.0.1", 1000 + (unsigned)i, 0x01,
		       5000 + (unsigned long long)i);
	len = strlen(tcp);
	for (int i = 0; i < 30000; i++) {
		/* TIME_WAIT rows hold no inode: only parsed, never kept */
		len += (size_t)snprintf(tcp + len, cap - len, "%5d: 0200000A:%04X 0100000A:01BB 06 00000000:00000000 "
					"03:00000F2A 00000000     0        0 0 3 0000000000000000\n", i, 20000 + i % 30000);
	}
	sp_mkdir("%s/shared-net", root);
	sp_write(tcp, len, "%s/shared-net/tcp", root);
	free(tcp);
	for (int i = 0; i < 6; i++) {
		char cid[65], cg[512], ns[64], target[256];
		int pid = 600 + i;

		snprintf(cid, sizeof(cid), "%064d", 7000 + i);
		snprintf(cg, sizeof(cg), "0::/kubepods/besteffort/pod%s/%s\n", UID_B, cid);
		sp_proc(proc, pid, cg, "/usr/bin/worker");
		snprintf(target, sizeof(target), "%s/%d/net", proc, pid);
		rmdir(target);
		snprintf(target, sizeof(target), "%s/shared-net", root);
		sp_link(target, "%s/%d/net", proc, pid);
		sp_mkdir("%s/%d/ns", proc, pid);
		snprintf(ns, sizeof(ns), "net:[%ld]", 4026533000L + i);
		sp_link(ns, "%s/%d/ns/net", proc, pid);
		sp_sock(proc, pid, 3, 5000 + (unsigned long long)i);
	}
	ck_assert_int_eq(scan_new(&cfg, &s), 0);
	for (int k = 0; k < 30 && reported < 6; k++) {
		struct scan_stats st = sample(s, &ev);

		deferred += st.deferred;
		for (size_t j = 0; j < ev.n; j++)
			reported += strstr(ev.lines[j], "198.18.0.1") != NULL;
	}
	ck_assert_uint_eq(reported, 6);
	ck_assert_uint_gt(deferred, 0);
	sample(s, &ev);
	ck_assert_uint_eq(ev.n, 0);
	scan_free(s);
	teardown();
}
END_TEST

static void write_snmp(int pid, unsigned long long opens, unsigned long long udp_out)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens\nTcp: 1 200 120000 -1 %llu 0\n"
		 "Udp: InDatagrams NoPorts InErrors OutDatagrams\nUdp: 0 0 0 %llu\n", opens, udp_out);
	sp_write(text, strlen(text), "%s/%d/net/snmp", proc, pid);
}

START_TEST(quiet_namespaces_not_walked)
{
	/* With the namespace's counters there, a namespace that attempted no
	 * TCP connection and sent no UDP datagram since the last sample has
	 * its fds left alone; one that did is read, and what is new found. */
	struct warned w = { .n = 0 };
	char tcp[2048] = "";
	struct events ev;
	struct scan_stats st;
	struct scan *s;
	static const char *const want[] = { "connect a5c1f8d5 3333 198.51.100.7 8443 tcp" };

	build_tree();
	for (int pid = 100; pid <= 103; pid++)
		write_snmp(pid, 10, 5);
	write_snmp(200, 10, 5);
	s = new_scan(&w, 0);
	st = sample(s, &ev);
	ck_assert_uint_eq(ev.n, sizeof(first_sample) / sizeof(first_sample[0]));
	ck_assert_uint_eq(st.fd_walks, 5);
	st = sample(s, &ev);
	ck_assert_uint_eq(ev.n, 0);
	ck_assert_uint_eq(st.fd_walks, 0);
	ck_assert_uint_eq(st.fd_skips, 5);
	/* pod B connects somewhere new: its counter moves */
	sp_row(tcp, sizeof(tcp), "10.0.0.2", 40011, "198.51.100.7", 8443, 0x02, 1013);
	sp_net(proc, 200, tcp, NULL, NULL, NULL);
	write_snmp(200, 11, 5);
	sp_sock(proc, 200, 40, 1013);
	st = sample(s, &ev);
	expect(&ev, want, 1);
	ck_assert_uint_eq(st.fd_walks, 1);
	/* known sockets stay known across skipped samples: nothing twice */
	sample(s, &ev);
	write_snmp(200, 11, 6);
	st = sample(s, &ev);
	ck_assert_uint_eq(ev.n, 0);
	ck_assert_uint_eq(st.fd_walks, 1);
	ck_assert_uint_eq(st.lookups, 0);
	scan_free(s);
	teardown();
}
END_TEST

START_TEST(bounded_per_container)
{
	struct warned w = { .n = 0 };
	struct scan *s;
	struct events ev;
	struct scan_stats st;

	build_tree();
	s = new_scan(&w, 2);
	sp_proc(proc, 106, CG_A(C1), "/bin/a");
	sp_proc(proc, 107, CG_A(C1), "/bin/b");
	sp_proc(proc, 108, CG_A(C1), "/bin/c");
	st = sample(s, &ev);
	/* C1 reports 2 of its 4 executables; C3 2 of its 5 destinations */
	ck_assert_uint_eq(st.execs, 2 + 1 + 1);
	ck_assert_uint_eq(st.connects, 2);
	ck_assert_uint_ge(st.untracked, 2 + 3);
	st = sample(s, &ev);
	ck_assert_uint_eq(ev.n, 0);
	scan_free(s);
	teardown();
}
END_TEST

START_TEST(odd_bytes_and_args)
{
	struct warned w = { .n = 0 };
	struct scan_config cfg = { .exec_args = true, .node = "node \"a\"\n" };
	struct scan *s;
	struct buf out = BUF_INIT(1 << 20);
	struct timespec now = { 1795340100, 0 };
	struct events ev;
	struct telemetry_stats ts;
	static const char cmdline[] = "/opt/t\xff\xfe" "ool\0--flag=\"x\"\0\x01tab\there\0caf\xc3\xa9\0";

	build_tree();
	cfg.proc_root = proc;
	cfg.pods_dir = pods;
	cfg.warn = on_warn;
	cfg.warn_ud = &w;
	sp_proc(proc, 109, CG_A(C1), "/opt/t\xff\xfeool");
	sp_write(cmdline, sizeof(cmdline) - 1, "%s/109/cmdline", proc);
	ck_assert_int_eq(scan_new(&cfg, &s), 0);
	ck_assert_int_eq(scan_sample(s, &now, collect_raw, &out, NULL), 0);
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "\"exe\":\"/opt/t\xef\xbf\xbd\xef\xbf\xbdool\""));
	ck_assert_ptr_nonnull(strstr(buf_str(&out),
		"\"args\":[\"--flag=\\\"x\\\"\",\"\\u0001tab\\there\",\"caf\xc3\xa9\"]"));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "\"node\":\"node \\\"a\\\"\\n\""));
	/* and the strict reader takes every line */
	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(telemetry_parse(TELEMETRY_NATIVE, buf_str(&out), out.len, describe, &ev, &ts), 0);
	ck_assert_uint_eq(ts.rejected, 0);
	ck_assert_uint_eq(ts.accepted, 10);
	buf_free(&out);
	scan_free(s);
	teardown();
}
END_TEST

START_TEST(pause_container)
{
	struct warned w = { .n = 0 };
	struct scan *s;
	struct events ev;
	static const char *const want[] = { "exec a5c1f8d5 4444 /pause" };
	static const char init[] = "Name:\tpause\nNSpid:\t110\t1\nNSpgid:\t110\t1\n";
	static const char child[] = "Name:\tpause\nNSpid:\t111\t7\n";

	build_tree();
	s = new_scan(&w, 0);
	sample(s, &ev);
	/* the sandbox's /pause, PID 1 of its namespace: the runtime's own */
	sp_proc(proc, 110, CG_A("5555555555555555555555555555555555555555555555555555555555555555"), "/pause");
	sp_write(init, strlen(init), "%s/110/status", proc);
	sample(s, &ev);
	ck_assert_uint_eq(ev.n, 0);
	/* a /pause that is not its namespace's init is reported */
	sp_proc(proc, 111, CG_B("4444444444444444444444444444444444444444444444444444444444444444"), "/pause");
	sp_write(child, strlen(child), "%s/111/status", proc);
	sample(s, &ev);
	expect(&ev, want, 1);
	scan_free(s);
	teardown();
}
END_TEST

START_TEST(missing_roots)
{
	struct scan_config cfg = { .proc_root = "/nonexistent/proc", .pods_dir = "/nonexistent/pods" };
	struct timespec now = { 1795340100, 0 };
	struct scan *s;
	struct buf out = BUF_INIT(1 << 20);

	ck_assert_int_eq(scan_new(&cfg, &s), 0);
	ck_assert_int_eq(scan_sample(s, &now, collect_raw, &out, NULL), -ENOENT);
	scan_free(s);
	/* no kubelet directory is not an error: there are no tokens */
	build_tree();
	cfg.proc_root = proc;
	ck_assert_int_eq(scan_new(&cfg, &s), 0);
	ck_assert_int_eq(scan_sample(s, &now, collect_raw, &out, NULL), 0);
	ck_assert_ptr_null(strstr(buf_str(&out), "\"token\""));
	buf_free(&out);
	scan_free(s);
	teardown();
}
END_TEST

static int refuse(void *ud, const char *line, size_t len)
{
	int *left = ud;

	return (*left)-- > 0 ? 0 : -ENOSPC;
}

START_TEST(emit_failure_loses_nothing)
{
	/* an event the loop could not take is reported by the next sample */
	struct warned w = { .n = 0 };
	struct timespec now = { 1795340100, 0 };
	struct scan *s;
	struct events ev;
	int left = 3;

	build_tree();
	s = new_scan(&w, 0);
	ck_assert_int_eq(scan_sample(s, &now, refuse, &left, NULL), -ENOSPC);
	sample(s, &ev);
	ck_assert_uint_eq(ev.n, sizeof(first_sample) / sizeof(first_sample[0]) - 3);
	scan_free(s);
	teardown();
}
END_TEST

START_TEST(allocation_failures)
{
	/* every allocation of a first and a second sample fails in turn:
	 * -ENOMEM or success, never a crash or a leak (ASan checks) */
	struct timespec now = { 1795340100, 0 };
	struct warned w = { .n = 0 };
	struct buf out = BUF_INIT(1 << 20);

	build_tree();
	for (long i = 0; i < 400; i++) {
		struct scan *s;
		int r1, r2;

		w.n = 0;
		pg_alloc_fail_at(i);
		if (scan_new(&(struct scan_config){ .proc_root = proc, .pods_dir = pods, .warn = on_warn,
						    .warn_ud = &w }, &s) < 0) {
			pg_alloc_fail_at(-1);
			continue;
		}
		r1 = scan_sample(s, &now, collect_raw, &out, NULL);
		r2 = scan_sample(s, &now, collect_raw, &out, NULL);
		pg_alloc_fail_at(-1);
		ck_assert_msg(r1 == 0 || r1 == -ENOMEM, "r1 %d at %ld", r1, i);
		ck_assert_msg(r2 == 0 || r2 == -ENOMEM, "r2 %d at %ld", r2, i);
		buf_reset(&out);
		scan_free(s);
	}
	buf_free(&out);
	teardown();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent_scan");
	TCase *tc = tcase_create("scan");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, first_sample_then_nothing);
	tcase_add_test(tc, event_fields);
	tcase_add_test(tc, only_changes);
	tcase_add_test(tc, gone_is_forgotten);
	tcase_add_test(tc, udp_reconnect_and_recheck);
	tcase_add_test(tc, table_budget);
	tcase_add_test(tc, quiet_namespaces_not_walked);
	tcase_add_test(tc, bounded_per_container);
	tcase_add_test(tc, odd_bytes_and_args);
	tcase_add_test(tc, pause_container);
	tcase_add_test(tc, missing_roots);
	tcase_add_test(tc, emit_failure_loses_nothing);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
