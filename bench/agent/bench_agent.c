/* bench_agent.c - the agent's CPU per 1,000 processes per sample.
 *
 *   bench_agent synthetic PROCESSES PODS SAMPLES
 *       a synthetic /proc (tests/agent/synthproc.h): every process has a
 *       cgroup file, an exe link, an ns/net link and six fds (three of
 *       them sockets: a listener, an accepted connection, an outbound
 *       one), each pod one network namespace whose four tables hold its
 *       processes' rows.  Prints the first sample (everything new) and
 *       the steady state (nothing new), then where a steady sample's time
 *       goes, step by step, over the same tree.
 *   bench_agent real PROCESSES PODS SAMPLES
 *       PROCESSES real processes moved into real kubepods cgroups (v1
 *       pids hierarchy, root only), PODS network namespaces, sampled on
 *       the real /proc: the kernel's own cost of generating each file.
 *
 * CPU is user+sys of this process (getrusage) around scan_sample() only,
 * so building the tree is not counted.  One line of key=value each. */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cgroup.h"
#include "procfs.h"
#include "scan.h"
#include "synthproc.h"

static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void cpu_split(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static size_t events;

static int count(void *ud, const char *line, size_t len)
{
	events++;
	return 0;
}

static void pod_uid(int pod, char *out, size_t n)
{
	snprintf(out, n, "%08x-0000-4000-8000-%012x", 0xbe000000u + (unsigned)pod, (unsigned)pod);
}

static void container_id(int pod, int c, char *out)
{
	for (int i = 0; i < 64; i++)
		out[i] = "0123456789abcdef"[(unsigned)(pod * 7 + c * 13 + i) % 16];
	snprintf(out + 48, 17, "%08x%08x", (unsigned)pod, (unsigned)c);
}

/* ---- the synthetic tree ---------------------------------------------------- */

static void build(const char *proc, int nprocs, int npods)
{
	int per_pod = (nprocs + npods - 1) / npods;

	for (int pod = 0; pod < npods; pod++) {
		char tcp[1 << 16] = "", udp[4096] = "";
		int first = pod * per_pod, last = first + per_pod < nprocs ? first + per_pod : nprocs;

		for (int i = first; i < last; i++) {
			unsigned long long base = 100000ULL + (unsigned long long)i * 3;

			sp_row(tcp, sizeof(tcp), "0.0.0.0", 8000 + (unsigned)(i - first), "0.0.0.0", 0, 0x0a, base);
			sp_row(tcp, sizeof(tcp), "10.1.0.2", 8000 + (unsigned)(i - first), "10.2.3.4",
			       30000 + (unsigned)i % 30000, 0x01, base + 1);
			sp_row(tcp, sizeof(tcp), "10.1.0.2", 40000 + (unsigned)(i - first), "10.96.0.10", 5432, 0x01,
			       base + 2);
		}
		sp_row(udp, sizeof(udp), "0.0.0.0", 5353, "0.0.0.0", 0, 0x07, 99);
		sp_mkdir("%s/netns/%d", proc, pod);
		sp_write(SP_TCP_HEADER, strlen(SP_TCP_HEADER), "%s/netns/%d/tcp6", proc, pod);
		sp_write(SP_UDP_HEADER, strlen(SP_UDP_HEADER), "%s/netns/%d/udp6", proc, pod);
		{
			char t[sizeof(tcp) + 256], u[sizeof(udp) + 256];

			snprintf(t, sizeof(t), "%s%s", SP_TCP_HEADER, tcp);
			snprintf(u, sizeof(u), "%s%s", SP_UDP_HEADER, udp);
			sp_write(t, strlen(t), "%s/netns/%d/tcp", proc, pod);
			sp_write(u, strlen(u), "%s/netns/%d/udp", proc, pod);
		}
		for (int i = first; i < last; i++) {
			char uid[40], cid[65], cg[512], ns[64], netdir[64];
			int pid = 1000 + i, c = (i - first) % 3;
			unsigned long long base = 100000ULL + (unsigned long long)i * 3;

			pod_uid(pod, uid, sizeof(uid));
			for (char *p = uid; *p; p++)
				if (*p == '-')
					*p = '_';
			container_id(pod, c, cid);
			snprintf(cg, sizeof(cg), "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s"
				 ".slice/cri-containerd-%s.scope\n", uid, cid);
			sp_mkdir("%s/%d/fd", proc, pid);
			sp_mkdir("%s/%d/ns", proc, pid);
			sp_write(cg, strlen(cg), "%s/%d/cgroup", proc, pid);
			sp_link(c == 0 ? "/app/server" : c == 1 ? "/usr/bin/python3.11" : "/bin/sh", "%s/%d/exe", proc, pid);
			snprintf(ns, sizeof(ns), "net:[%u]", 4026540000u + (unsigned)pod);
			sp_link(ns, "%s/%d/ns/net", proc, pid);
			snprintf(netdir, sizeof(netdir), "../netns/%d", pod);
			sp_link(netdir, "%s/%d/net", proc, pid);
			for (int fd = 0; fd < 3; fd++)
				sp_link("/dev/null", "%s/%d/fd/%d", proc, pid, fd);
			for (int k = 0; k < 3; k++)
				sp_sock(proc, pid, 3 + k, base + (unsigned long long)k);
		}
	}
}

/* ---- samples ---------------------------------------------------------------- */

struct result {
	double first_ms;                /* CPU of the first sample */
	double steady_ms;               /* CPU per steady sample */
	double steady_user_ms, steady_sys_ms;
	size_t first_events;
	struct scan_stats st;
};

static int run_samples(const char *proc, int samples, struct result *res)
{
	struct scan_config cfg = { .proc_root = proc, .node = "bench" };
	struct timespec now = { 1795340100, 0 };
	struct scan *s;
	double t0, u0, s0, u1, s1;
	int r;

	if (scan_new(&cfg, &s) < 0)
		return -ENOMEM;
	events = 0;
	t0 = cpu_now();
	r = scan_sample(s, &now, count, NULL, &res->st);
	res->first_ms = (cpu_now() - t0) * 1000;
	res->first_events = events;
	if (r < 0)
		goto out;
	cpu_split(&u0, &s0);
	for (int i = 0; i < samples && r == 0; i++)
		r = scan_sample(s, &now, count, NULL, &res->st);
	cpu_split(&u1, &s1);
	res->steady_user_ms = (u1 - u0) * 1000 / samples;
	res->steady_sys_ms = (s1 - s0) * 1000 / samples;
	res->steady_ms = res->steady_user_ms + res->steady_sys_ms;
out:
	scan_free(s);
	return r;
}

static double cpu_precise(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the agent does with a process's fds in a steady sample: read
 * every link, keep the socket inodes. */
static size_t walk_fds(int pfd)
{
	int dfd = openat(pfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (dfd < 0)
		return 0;
	d = fdopendir(dfd);
	while (d && (de = readdir(d))) {
		char link[64];
		long len;
		uint64_t inode;

		if (de->d_name[0] == '.')
			continue;
		len = procfs_readlink_at(dfd, de->d_name, link, sizeof(link));
		n += len > 0 && procfs_socket_inode(link, (size_t)len, &inode) == 0;
	}
	if (d)
		closedir(d);
	return n;
}

enum step { OPEN_ONLY, CGROUP, EXE, NETNS, FDS, NSTEPS };

/* One pass over every process directory doing one step. */
static double pass(const char *proc, enum step step)
{
	char buf[16384], link[4096];
	struct dirent *de;
	double t0 = cpu_precise();
	DIR *d = opendir(proc);
	int procfd = dirfd(d);
	size_t len;

	while ((de = readdir(d))) {
		struct cgroup_ident id;
		int pfd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		pfd = openat(procfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			continue;
		if (step == CGROUP && procfs_read_at(pfd, "cgroup", buf, sizeof(buf), &len) >= 0)
			cgroup_parse(buf, len, &id);
		else if (step == EXE)
			procfs_readlink_at(pfd, "exe", link, sizeof(link));
		else if (step == NETNS)
			procfs_readlink_at(pfd, "ns/net", link, sizeof(link));
		else if (step == FDS)
			walk_fds(pfd);
		close(pfd);
	}
	closedir(d);
	return cpu_precise() - t0;
}

/* Each step of a steady sample alone, over the same tree: where the
 * time goes.  A pass per step; a step costs its pass minus the pass that
 * only opens the directories.  Per 1,000 processes, ms of CPU. */
static void breakdown(const char *proc, int nprocs, int npods, int rounds)
{
	struct buf table = BUF_INIT(64 << 20);
	double t[NSTEPS] = { 0 }, tables = 0, t0;

	for (int round = 0; round < rounds; round++) {
		for (int k = 0; k < NSTEPS; k++)
			t[k] += pass(proc, (enum step)k);
		t0 = cpu_precise();
		for (int pod = 0; pod < npods; pod++) {
			static const char *const names[] = { "tcp", "tcp6", "udp", "udp6" };
			char dir[4200];
			int nfd;

			snprintf(dir, sizeof(dir), "%s/netns/%d", proc, pod);
			nfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			for (int k = 0; k < 4; k++) {
				buf_reset(&table);
				procfs_read_buf(nfd, names[k], &table);
			}
			close(nfd);
		}
		tables += cpu_precise() - t0;
	}
	buf_free(&table);
#define PER1000(x) ((x) * 1e6 / rounds / nprocs)
	printf("breakdown procs=%d walk_and_open_ms=%.3f cgroup_read_parse_ms=%.3f exe_readlink_ms=%.3f "
	       "netns_readlink_ms=%.3f fd_walk_ms=%.3f net_tables_read_ms=%.3f\n", nprocs, PER1000(t[OPEN_ONLY]),
	       PER1000(t[CGROUP] - t[OPEN_ONLY]), PER1000(t[EXE] - t[OPEN_ONLY]),
	       PER1000(t[NETNS] - t[OPEN_ONLY]), PER1000(t[FDS] - t[OPEN_ONLY]), PER1000(tables));
#undef PER1000
}

static void report(const char *mode, int nprocs, int npods, int samples, const struct result *r)
{
	printf("%s procs=%d pods=%d samples=%d pod_processes=%zu netns=%zu first_events=%zu "
	       "first_ms_per_1000=%.3f steady_ms_per_1000=%.3f steady_user_ms_per_1000=%.3f "
	       "steady_sys_ms_per_1000=%.3f steady_ms_per_sample=%.3f\n",
	       mode, nprocs, npods, samples, r->st.pod_processes, r->st.netns, r->first_events,
	       r->first_ms * 1000 / nprocs, r->steady_ms * 1000 / nprocs, r->steady_user_ms * 1000 / nprocs,
	       r->steady_sys_ms * 1000 / nprocs, r->steady_ms);
}

static int synthetic(int nprocs, int npods, int samples)
{
	char root[] = "/tmp/pg-bench-agent-XXXXXX", proc[64];
	struct result r = { 0 };
	int rc;

	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(proc, sizeof(proc), "%s/proc", root);
	build(proc, nprocs, npods);
	rc = run_samples(proc, samples, &r);
	if (rc == 0) {
		report("synthetic", nprocs, npods, samples, &r);
		breakdown(proc, nprocs, npods, samples);
	}
	sp_rmtree(root);
	return rc == 0 ? 0 : 1;
}

/* ---- real processes in real cgroups -------------------------------------- */

#define CG_BASE "/sys/fs/cgroup/pids/kubepods/burstable"

static void cg_path(int pod, int c, char *out, size_t n)
{
	char uid[40], cid[65];

	pod_uid(pod, uid, sizeof(uid));
	container_id(pod, c, cid);
	if (c < 0)
		snprintf(out, n, CG_BASE "/pod%s", uid);
	else
		snprintf(out, n, CG_BASE "/pod%s/%s", uid, cid);
}

static void cg_cleanup(int npods)
{
	char p[256];

	for (int pod = 0; pod < npods; pod++) {
		for (int c = 0; c < 3; c++) {
			cg_path(pod, c, p, sizeof(p));
			rmdir(p);
		}
		cg_path(pod, -1, p, sizeof(p));
		rmdir(p);
	}
	rmdir(CG_BASE);
	rmdir("/sys/fs/cgroup/pids/kubepods");
}

/* Brings up "lo" in the current network namespace. */
static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), r;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	r = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (r == 0)
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return r;
}

/* A child: joins its pod's network namespace (made by the pod's first
 * process), opens a listener, and waits to be killed; with @busy, the
 * pod's first process sends a UDP datagram every 5 ms, so the
 * namespace's counters move every sample and every fd is read. */
static void child(int ready_fd, int netns_of, bool busy)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(8080) };
	int s;

	if (netns_of > 0) {
		char p[64];
		int fd;

		snprintf(p, sizeof(p), "/proc/%d/ns/net", netns_of);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(1);
		close(fd);
	} else if (unshare(CLONE_NEWNET) < 0 || lo_up() < 0) {
		_exit(1);
	}
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &(int){ 1 }, sizeof(int));
	if (s < 0 || bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(s, 1) < 0)
		_exit(1);
	if (write(ready_fd, "x", 1) != 1)
		_exit(1);
	close(ready_fd);
	if (busy && netns_of == 0) {
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int u = socket(AF_INET, SOCK_DGRAM, 0);

		for (;;) {
			sendto(u, "x", 1, 0, (struct sockaddr *)&to, sizeof(to));
			usleep(5000);
		}
	}
	for (;;)
		pause();
}

/* The same steps on the real /proc (every process of the machine is
 * walked; only the pods' are read), and the net tables of one process of
 * each pod. */
static void breakdown_real(const pid_t *pids, int nprocs, int per_pod, int rounds)
{
	struct buf table = BUF_INIT(64 << 20);
	double t[NSTEPS] = { 0 }, tables = 0, t0;

	for (int round = 0; round < rounds; round++) {
		for (int k = 0; k < NSTEPS; k++)
			t[k] += pass("/proc", (enum step)k);
		t0 = cpu_precise();
		for (int i = 0; i < nprocs; i += per_pod) {
			static const char *const names[] = { "net/tcp", "net/tcp6", "net/udp", "net/udp6" };
			char dir[64];
			int pfd;

			snprintf(dir, sizeof(dir), "/proc/%d", pids[i]);
			pfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			for (int k = 0; k < 4; k++) {
				buf_reset(&table);
				procfs_read_buf(pfd, names[k], &table);
			}
			close(pfd);
		}
		tables += cpu_precise() - t0;
	}
	buf_free(&table);
#define PER1000(x) ((x) * 1e6 / rounds / nprocs)
	printf("breakdown_real procs=%d walk_and_open_ms=%.3f cgroup_read_parse_ms=%.3f exe_readlink_ms=%.3f "
	       "netns_readlink_ms=%.3f fd_walk_ms=%.3f net_tables_read_ms=%.3f\n", nprocs, PER1000(t[OPEN_ONLY]),
	       PER1000(t[CGROUP] - t[OPEN_ONLY]), PER1000(t[EXE] - t[OPEN_ONLY]),
	       PER1000(t[NETNS] - t[OPEN_ONLY]), PER1000(t[FDS] - t[OPEN_ONLY]), PER1000(tables));
#undef PER1000
}

static int real(int nprocs, int npods, int samples, bool busy)
{
	int per_pod = (nprocs + npods - 1) / npods, rc = 1, nstarted = 0;
	pid_t *pids = calloc((size_t)nprocs, sizeof(*pids));
	struct result r = { 0 };
	char p[256];

	if (!pids)
		return 1;
	if (access("/sys/fs/cgroup/pids/cgroup.procs", W_OK) < 0) {
		printf("real skipped=no_writable_cgroup_v1_pids_hierarchy\n");
		free(pids);
		return 0;
	}
	for (int i = 0; i < nprocs; i++) {
		int pod = i / per_pod, c = (i % per_pod) % 3, pfd[2];
		char x;
		FILE *f;

		cg_path(pod, c, p, sizeof(p));
		sp_mkdir("%s", p);
		if (pipe(pfd) < 0)
			goto out;
		pids[i] = fork();
		if (pids[i] == 0) {
			close(pfd[0]);
			child(pfd[1], i % per_pod ? pids[pod * per_pod] : 0, busy);
		}
		close(pfd[1]);
		if (pids[i] < 0 || read(pfd[0], &x, 1) != 1) {
			close(pfd[0]);
			fprintf(stderr, "bench_agent: child %d did not start\n", i);
			goto out;
		}
		close(pfd[0]);
		nstarted++;
		snprintf(p + strlen(p), sizeof(p) - strlen(p), "/cgroup.procs");
		f = fopen(p, "w");
		if (!f || fprintf(f, "%d\n", pids[i]) < 0 || fclose(f) != 0) {
			fprintf(stderr, "bench_agent: cannot move %d into %s\n", pids[i], p);
			goto out;
		}
	}
	if (run_samples("/proc", samples, &r) == 0) {
		report(busy ? "real_busy" : "real_idle", nprocs, npods, samples, &r);
		breakdown_real(pids, nprocs, per_pod, samples);
		rc = 0;
	}
out:
	for (int i = 0; i < nstarted; i++)
		kill(pids[i], SIGKILL);
	for (int i = 0; i < nstarted; i++)
		waitpid(pids[i], NULL, 0);
	cg_cleanup(npods);
	free(pids);
	return rc;
}

int main(int argc, char **argv)
{
	int nprocs, npods, samples;

	if ((argc != 5 && argc != 6) || (strcmp(argv[1], "synthetic") && strcmp(argv[1], "real")) ||
	    (argc == 6 && strcmp(argv[5], "busy"))) {
		fprintf(stderr, "usage: bench_agent synthetic|real PROCESSES PODS SAMPLES [busy]\n");
		return 2;
	}
	nprocs = (int)strtol(argv[2], NULL, 10);
	npods = (int)strtol(argv[3], NULL, 10);
	samples = (int)strtol(argv[4], NULL, 10);
	if (nprocs < 1 || npods < 1 || npods > nprocs || samples < 1) {
		fprintf(stderr, "bench_agent: bad sizes\n");
		return 2;
	}
	return strcmp(argv[1], "real") ? synthetic(nprocs, npods, samples)
				       : real(nprocs, npods, samples, argc == 6);
}
