/* scan.c - one sample of the node, diffed against what was reported.
 *
 * Per pod process: its cgroup (which pod and container), its exe link,
 * its network namespace (netns.c) and its fds.  A socket inode is looked
 * up in the namespace's net tables only when it is new (or due again, see
 * check_sock): reading /proc/PID/net/tcp walks the kernel's whole
 * established hash, a few ms each time on a large machine, so the steady
 * state never reads one. */
#include "scan.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "cgroup.h"
#include "ktab.h"
#include "netns.h"
#include "procfs.h"
#include "rfc3339.h"
#include "strutil.h"
#include "ticker.h"
#include "tokens.h"
#include "xalloc.h"

#define LINE_MAX_BYTES (64u * 1024)
#define CMDLINE_MAX 4096
#define ARGS_MAX 64

/* ---- state kept across samples ------------------------------------------ */

struct ctr {
	char id[CGROUP_CONTAINER_ID_LEN + 1];
	char ref[CGROUP_CONTAINER_ID_LEN + 16];         /* "containerd://<id>" */
	char pod_uid[CGROUP_POD_UID_MAX + 1];
	uint64_t gen;                   /* the last sample it had a process in */
	struct arena *keys;             /* the exe and connection keys below */
	struct ktab exes;
	struct ktab conns;
};

/* A connection key: what "reported once" means for a destination. */
struct conn_key {
	uint8_t family;
	uint8_t proto;
	uint8_t port[2];
	uint8_t addr[16];
};

struct scan {
	struct scan_config cfg;
	uint64_t seed;
	uint64_t gen;
	struct ktab ctrs;               /* id -> struct ctr * */
	struct tokens_seen toks;
	struct netns_set nets;
	struct buf line;                /* the event being written */
	char time[RFC3339_MAX];
	struct scan_stats st;
	uint32_t *pids;                 /* this sample's process directories */
	size_t npids, cappids;
	scan_emit_fn emit;
	void *emit_ud;
};

static unsigned recheck(const struct scan *s)
{
	return s->cfg.recheck_samples ? s->cfg.recheck_samples : SCAN_DEFAULT_RECHECK;
}

/* ---- events --------------------------------------------------------------- */

/* The fields every event starts with; @ref NULL for pod-level events. */
static int event_begin(struct scan *s, const char *kind, const char *pod_uid, const char *ref)
{
	int r;

	buf_reset(&s->line);
	r = buf_printf(&s->line, "{\"kind\":\"%s\",\"time\":\"%s\"", kind, s->time);
	if (r == 0 && s->cfg.node && *s->cfg.node) {
		r = buf_adds(&s->line, ",\"node\":\"");
		if (r == 0)
			r = buf_add_json_escaped(&s->line, s->cfg.node);
		if (r == 0)
			r = buf_addc(&s->line, '"');
	}
	/* the UID and the reference are validated hex and dashes: no escaping */
	if (r == 0)
		r = buf_printf(&s->line, ",\"pod\":{\"uid\":\"%s\"}", pod_uid);
	if (r == 0 && ref)
		r = buf_printf(&s->line, ",\"containerID\":\"%s\"", ref);
	return r;
}

static int event_end(struct scan *s)
{
	int r = buf_addc(&s->line, '}');

	if (r < 0)
		return r;
	return s->emit(s->emit_ud, s->line.data, s->line.len);
}

/* The arguments of a process, as a JSON array, from its cmdline. */
static int add_args(struct scan *s, int pfd)
{
	char cmd[CMDLINE_MAX];
	size_t len = 0, nargs = 0;
	int r = procfs_read_at(pfd, "cmdline", cmd, sizeof(cmd), &len);

	if (r < 0 && r != -E2BIG)
		return 0;       /* exited, or a kernel thread: no args */
	r = buf_adds(&s->line, ",\"args\":[");
	/* argv[0] is the exe already; the rest, NUL-separated */
	for (size_t i = strnlen(cmd, len) + 1; r == 0 && i < len && nargs < ARGS_MAX; nargs++) {
		size_t n = strnlen(cmd + i, len - i);

		if (nargs)
			r = buf_addc(&s->line, ',');
		if (r == 0)
			r = buf_addc(&s->line, '"');
		if (r == 0)
			r = buf_add_json_escaped(&s->line, cmd + i);
		if (r == 0)
			r = buf_addc(&s->line, '"');
		i += n + 1;
	}
	if (r == 0)
		r = buf_addc(&s->line, ']');
	return r;
}

/* ---- containers ------------------------------------------------------------ */

static size_t max_keys(const struct scan *s)
{
	return s->cfg.max_keys ? s->cfg.max_keys : SCAN_DEFAULT_MAX_KEYS;
}

static struct ctr *ctr_free(struct ctr *c)
{
	if (c) {
		ktab_free(&c->exes);
		ktab_free(&c->conns);
		arena_free(c->keys);
		pg_free(c);
	}
	return NULL;
}

static int ctr_get(struct scan *s, const struct cgroup_ident *id, struct ctr **ret)
{
	uint64_t h = ktab_hash(s->seed, id->container_id, CGROUP_CONTAINER_ID_LEN);
	struct ktab_entry *e = ktab_find(&s->ctrs, h, id->container_id, CGROUP_CONTAINER_ID_LEN);
	struct ctr *c;

	if (e) {
		/* An ID is the runtime's and unique; should two pods ever show
		 * the same one, the first pod seen keeps it. */
		*ret = e->val;
		return 0;
	}
	c = pg_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->keys = arena_new(2048);
	if (!c->keys) {
		pg_free(c);
		return -ENOMEM;
	}
	memcpy(c->id, id->container_id, sizeof(c->id));
	memcpy(c->pod_uid, id->pod_uid, sizeof(c->pod_uid));
	snprintf(c->ref, sizeof(c->ref), "%s%s", cgroup_runtime_scheme(id->runtime), c->id);
	if (ktab_add(&s->ctrs, h, c->id, CGROUP_CONTAINER_ID_LEN, c) < 0) {
		ctr_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

/* Drops the containers without a process in this sample. */
static int ctrs_collect(struct scan *s)
{
	struct ktab keep = { 0 };

	for (size_t i = 0; i < s->ctrs.cap; i++) {
		struct ktab_entry *e = &s->ctrs.tab[i];
		struct ctr *c = e->val;

		if (!e->key)
			continue;
		if (c->gen != s->gen) {
			ctr_free(c);
			continue;
		}
		s->st.containers++;
		if (ktab_add(&keep, e->h, e->key, e->len, c) < 0) {
			/* out of memory mid-way: forget everything rather than leak */
			ctr_free(c);
			for (size_t j = i + 1; j < s->ctrs.cap; j++)
				if (s->ctrs.tab[j].key)
					ctr_free(s->ctrs.tab[j].val);
			for (size_t j = 0; j < keep.cap; j++)
				if (keep.tab[j].key)
					ctr_free(keep.tab[j].val);
			ktab_free(&keep);
			ktab_free(&s->ctrs);
			return -ENOMEM;
		}
	}
	ktab_free(&s->ctrs);
	s->ctrs = keep;
	return 0;
}

/* The pause container's process: PID 1 of its own namespace running
 * /pause.  It is the runtime's, not the workload's, and would otherwise
 * be an "unexpected executable" in every pod. */
static bool is_sandbox_pause(int pfd, const char *exe)
{
	char status[4096], *p, *eol;
	size_t len;
	int r;

	if (strcmp(exe, "/pause") != 0)
		return false;
	r = procfs_read_at(pfd, "status", status, sizeof(status), &len);
	if (r < 0 && r != -E2BIG)
		return false;
	p = strstr(status, "\nNSpid:");
	if (!p)
		return false;
	eol = strchr(p + 1, '\n');
	if (eol)
		*eol = '\0';
	p = strrchr(p, '\t');
	return p && strcmp(p + 1, "1") == 0;
}

static int report_exe(struct scan *s, struct ctr *c, int pfd)
{
	char exe[4096 + 16];
	long n = procfs_readlink_at(pfd, "exe", exe, sizeof(exe));
	bool deleted;
	uint64_t h;
	char *key;
	int r;

	if (n < 0) {
		/* a kernel thread, a zombie, or one that just exited */
		if (n != -ENOENT && n != -ESRCH)
			s->st.unreadable++;
		return 0;
	}
	if (exe[0] != '/')
		return 0;
	deleted = procfs_strip_deleted(exe);
	n = (long)strlen(exe);
	h = ktab_hash(s->seed, exe, (size_t)n);
	if (ktab_find(&c->exes, h, exe, (size_t)n))
		return 0;
	if (c->exes.n >= max_keys(s)) {
		s->st.untracked++;
		return 0;
	}
	if (!is_sandbox_pause(pfd, exe)) {
		r = event_begin(s, "exec", c->pod_uid, c->ref);
		if (r == 0)
			r = buf_adds(&s->line, ",\"exe\":\"");
		if (r == 0)
			r = buf_add_json_escaped(&s->line, exe);
		if (r == 0)
			r = buf_addc(&s->line, '"');
		if (r == 0 && deleted)
			r = buf_adds(&s->line, ",\"deleted\":true");
		if (r == 0 && s->cfg.exec_args)
			r = add_args(s, pfd);
		if (r == 0)
			r = event_end(s);
		if (r < 0)
			return r;
		s->st.execs++;
	}
	key = arena_strndup(c->keys, exe, (size_t)n);
	if (!key)
		return -ENOMEM;
	return ktab_add(&c->exes, h, key, (size_t)n, NULL);
}

static int report_conn(struct scan *s, struct ctr *c, const struct procfs_sock *k)
{
	struct conn_key key;
	char addr[INET6_ADDRSTRLEN];
	const char *proto = k->proto == PROCFS_TCP ? "tcp" : "udp";
	struct conn_key *stored;
	uint64_t h;
	int r;

	memset(&key, 0, sizeof(key));
	key.family = k->raddr.family;
	key.proto = (uint8_t)k->proto;
	key.port[0] = (uint8_t)(k->rport >> 8);
	key.port[1] = (uint8_t)k->rport;
	memcpy(key.addr, k->raddr.bytes, sizeof(key.addr));
	h = ktab_hash(s->seed, &key, sizeof(key));
	if (ktab_find(&c->conns, h, &key, sizeof(key)))
		return 0;
	if (c->conns.n >= max_keys(s)) {
		s->st.untracked++;
		return 0;
	}
	if (!inet_ntop(k->raddr.family == 4 ? AF_INET : AF_INET6, k->raddr.bytes, addr, sizeof(addr)))
		return 0;
	r = event_begin(s, "connect", c->pod_uid, c->ref);
	if (r == 0)
		r = buf_printf(&s->line, ",\"daddr\":\"%s\",\"dport\":%u,\"protocol\":\"%s\"", addr,
			       (unsigned)k->rport, proto);
	if (r == 0)
		r = event_end(s);
	if (r < 0)
		return r;
	s->st.connects++;
	stored = arena_alloc(c->keys, sizeof(*stored));
	if (!stored)
		return -ENOMEM;
	*stored = key;
	return ktab_add(&c->conns, h, stored, sizeof(*stored), NULL);
}

/* One socket inode of a process: looked up in its namespace's tables
 * when it is new or due again, reported when it is egress.  A TCP
 * socket past CLOSE cannot change its remote and is never looked up
 * again; a UDP socket (it may connect() anew) or a TCP one not yet
 * connected is looked up again recheck_samples later. */
static int check_sock(struct scan *s, struct ctr *c, int pfd, struct netns *n, uint64_t inode,
		      const char *fdpath)
{
	struct netns_sock *e = netns_sock(&s->nets, n, inode);
	const struct procfs_sock *sk;
	int r;

	if (!e)
		return -ENOMEM;
	e->seen = s->gen;
	if (e->due > s->gen)
		return 0;
	if (!e->tables) {
		e->tables = netns_sock_tables(fdpath);
		if (!e->tables) {
			e->due = NETNS_DUE_NEVER;
			return 0;
		}
	}
	r = netns_load(&s->nets, n, pfd, e->tables);
	if (r == -EAGAIN) {
		s->st.deferred++;
		return 0;       /* still due */
	}
	if (r < 0)
		return r;
	s->st.lookups++;
	sk = netns_lookup(&s->nets, n, inode);
	if (!sk) {
		/* closed since, or a socket of another namespace */
		e->due = s->gen + recheck(s);
		return 0;
	}
	if (netns_is_egress(n, sk)) {
		r = report_conn(s, c, sk);
		if (r < 0)
			return r;       /* still due: the next sample reports it */
	}
	e->due = sk->proto == PROCFS_TCP && sk->state != PROCFS_CLOSE ? NETNS_DUE_NEVER : s->gen + recheck(s);
	return 0;
}

/* The socket fds of one process. */
static int walk_fds(struct scan *s, struct ctr *c, int pfd, const char *pid, struct netns *n)
{
	int dfd = openat(pfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char path[PATH_MAX];
	struct dirent *de;
	size_t plen, nlen;
	DIR *d;
	int r = 0;

	if (dfd < 0) {
		if (errno != ENOENT && errno != ESRCH)
			s->st.unreadable++;
		return 0;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -ENOMEM;
	}
	s->st.fd_walks++;
	plen = (size_t)snprintf(path, sizeof(path), "%s/%s/fd/", s->cfg.proc_root, pid);
	while (r == 0 && (de = readdir(d))) {
		char link[64];
		long ln;
		uint64_t inode;

		if (de->d_name[0] == '.')
			continue;
		ln = procfs_readlink_at(dfd, de->d_name, link, sizeof(link));
		if (ln < 0 || procfs_socket_inode(link, (size_t)ln, &inode) < 0 || inode == 0)
			continue;
		nlen = strlen(de->d_name);
		if (plen + nlen >= sizeof(path))
			continue;
		memcpy(path + plen, de->d_name, nlen + 1);
		r = check_sock(s, c, pfd, n, inode, path);
	}
	closedir(d);
	return r;
}

static bool is_pid(const char *name)
{
	if (!*name)
		return false;
	for (; *name; name++)
		if (*name < '0' || *name > '9')
			return false;
	return true;
}

static int scan_process(struct scan *s, int procfd, const char *pid)
{
	char cg[16384];
	struct cgroup_ident id;
	struct netns *n;
	struct ctr *c;
	size_t len;
	int pfd, r;

	pfd = openat(procfd, pid, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return 0;       /* gone already */
	s->st.processes++;
	r = procfs_read_at(pfd, "cgroup", cg, sizeof(cg), &len);
	if (r < 0 && r != -E2BIG) {
		if (r != -ENOENT && r != -ESRCH)
			s->st.unreadable++;
		r = 0;
		goto out;
	}
	if (cgroup_parse(cg, len, &id) < 0 || !id.container_id[0]) {
		r = 0;
		goto out;
	}
	s->st.pod_processes++;
	r = ctr_get(s, &id, &c);
	if (r < 0)
		goto out;
	c->gen = s->gen;
	r = report_exe(s, c, pfd);
	if (r < 0)
		goto out;
	r = netns_get(&s->nets, pfd, pid, &n);
	if (r == 0 && n->walk) {
		n->walked = s->gen;
		r = walk_fds(s, c, pfd, pid, n);
	} else if (r == 0) {
		s->st.fd_skips++;
	} else if (r == -EINVAL) {
		r = 0;
	}
out:
	close(pfd);
	return r;
}

/* ---- tokens (tokens.c reads them) --------------------------------------------- */

static int report_token(void *ud, const char *uid, const char *vol, int64_t iat, int64_t exp)
{
	struct scan *s = ud;
	int r = event_begin(s, "token", uid, NULL);

	if (r == 0) {
		r = buf_adds(&s->line, ",\"volume\":\"");
		if (r == 0)
			r = buf_add_json_escaped(&s->line, vol);
		if (r == 0)
			r = buf_printf(&s->line, "\",\"iat\":%lld,\"exp\":%lld", (long long)iat,
				       (long long)exp);
	}
	if (r == 0)
		r = event_end(s);
	if (r < 0)
		return r;
	s->st.tokens++;
	return 0;
}

static int scan_tokens(struct scan *s)
{
	const struct tokens_sink sink = { report_token, s->cfg.warn, s->cfg.warn_ud, s };

	return tokens_scan(&s->toks, s->cfg.pods_dir, s->seed, s->gen, &sink);
}

/* ---- the sample ------------------------------------------------------------ */

int scan_new(const struct scan_config *cfg, struct scan **ret)
{
	struct scan *s = pg_calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	if (getrandom(&s->seed, sizeof(s->seed), GRND_NONBLOCK) != sizeof(s->seed))
		s->seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
	buf_init(&s->line, LINE_MAX_BYTES);
	netns_set_init(&s->nets, s->seed, cfg->table_budget_ms);
	*ret = s;
	return 0;
}

/* The namespaces' counts join the sample's. */
static void sample_end(struct scan *s)
{
	netns_set_end(&s->nets);
	s->st.netns += s->nets.st.netns;
	s->st.tables += s->nets.st.tables;
	s->st.unreadable += s->nets.st.unreadable;
	s->st.bad_rows += s->nets.st.bad_rows;
}

int scan_sample(struct scan *s, const struct timespec *now, scan_emit_fn emit, void *ud,
		struct scan_stats *ret_stats)
{
	struct dirent *de;
	DIR *d;
	int r = 0;

	memset(&s->st, 0, sizeof(s->st));
	s->emit = emit;
	s->emit_ud = ud;
	if (rfc3339_format(&(struct timespec){ now->tv_sec, 0 }, 0, s->time) < 0)
		return -EINVAL;
	d = opendir(s->cfg.proc_root);
	if (!d)
		return -errno;
	s->gen++;
	netns_set_begin(&s->nets, s->gen);
	s->npids = 0;
	while ((de = readdir(d))) {
		uint64_t pid;

		if (!is_pid(de->d_name) || str_to_u64(de->d_name, &pid) < 0 || pid > UINT32_MAX)
			continue;
		if (s->npids == s->cappids) {
			size_t ncap = s->cappids ? s->cappids * 2 : 1024;
			uint32_t *np = pg_realloc(s->pids, ncap * sizeof(*np));

			if (!np) {
				r = -ENOMEM;
				break;
			}
			s->pids = np;
			s->cappids = ncap;
		}
		s->pids[s->npids++] = (uint32_t)pid;
	}
	/* Each sample starts at another process, so that when the budget for
	 * net tables runs out, the namespaces left for the next sample are
	 * not always the same ones. */
	for (size_t i = 0; r == 0 && i < s->npids; i++) {
		char name[16];

		snprintf(name, sizeof(name), "%u", s->pids[(i + s->gen) % s->npids]);
		r = scan_process(s, dirfd(d), name);
	}
	closedir(d);
	if (r == 0)
		r = scan_tokens(s);
	/* after a failed sample nothing is forgotten: what it missed is seen
	 * by the next one */
	if (r == 0)
		r = netns_set_collect(&s->nets);
	if (r == 0)
		r = ctrs_collect(s);
	if (r == 0)
		tokens_forget(&s->toks, s->gen);
	sample_end(s);
	if (ret_stats)
		*ret_stats = s->st;
	return r;
}

struct scan *scan_free(struct scan *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->ctrs.cap; i++)
		if (s->ctrs.tab[i].key)
			ctr_free(s->ctrs.tab[i].val);
	ktab_free(&s->ctrs);
	tokens_seen_free(&s->toks);
	netns_set_free(&s->nets);
	pg_free(s->pids);
	buf_free(&s->line);
	pg_free(s);
	return NULL;
}
