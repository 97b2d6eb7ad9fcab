/* scan.c - one sample of the node, diffed against what was reported.
 *
 * Per pod process: its cgroup (which pod and container), its exe link,
 * and its network namespace.  Per namespace, once a sample: the four net
 * tables, kept only for outbound candidates (established or connecting
 * TCP and connected UDP, to a remote that is neither loopback nor
 * unspecified, from a local port nothing listens on: an accepted
 * connection is inbound).  The fds of a namespace's processes are read
 * only when it holds a candidate not examined before, which keeps the
 * steady state to a few syscalls per process. */
#include "agent_scan.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "agent_cgroup.h"
#include "agent_procfs.h"
#include "agent_tokens.h"
#include "arena.h"
#include "buf.h"
#include "xalloc.h"

#define LINE_MAX_BYTES (64u * 1024)
#define NET_TABLE_MAX (64u * 1024 * 1024)   /* a host netns with ~400k sockets */
#define CMDLINE_MAX 4096
#define ARGS_MAX 64

/* ---- a keyed hash and an open-addressing table ------------------------- */

static uint64_t hash_bytes(uint64_t seed, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	/* splitmix64's finaliser: FNV alone leaves the low bits weak */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/* Entries point at keys their owner keeps; a table never frees them. */
struct kent {
	uint64_t h;
	const void *key;                /* NULL: empty slot */
	size_t len;
	void *val;
};

struct ktab {
	struct kent *tab;
	size_t cap;                     /* 0 or a power of two */
	size_t n;
};

static struct kent *ktab_find(const struct ktab *t, uint64_t h, const void *key, size_t len)
{
	if (!t->cap)
		return NULL;
	for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct kent *e = &t->tab[i];

		if (!e->key)
			return NULL;
		if (e->h == h && e->len == len && memcmp(e->key, key, len) == 0)
			return e;
	}
}

static void ktab_place(struct kent *tab, size_t cap, const struct kent *e)
{
	size_t i = e->h & (cap - 1);

	while (tab[i].key)
		i = (i + 1) & (cap - 1);
	tab[i] = *e;
}

/* Adds a key known to be absent.  0 or -ENOMEM. */
static int ktab_add(struct ktab *t, uint64_t h, const void *key, size_t len, void *val)
{
	struct kent e = { h, key, len, val };

	if ((t->n + 1) * 2 > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct kent *nt = pg_calloc(ncap, sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		for (size_t i = 0; i < t->cap; i++)
			if (t->tab[i].key)
				ktab_place(nt, ncap, &t->tab[i]);
		pg_free(t->tab);
		t->tab = nt;
		t->cap = ncap;
	}
	ktab_place(t->tab, t->cap, &e);
	t->n++;
	return 0;
}

static void ktab_free(struct ktab *t)
{
	pg_free(t->tab);
	t->tab = NULL;
	t->cap = t->n = 0;
}

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

struct tok {
	char *key;                      /* "<pod uid>/<volume>" */
	size_t uid_len;
	int64_t iat, exp;
	uint64_t gen;
	int last_err;                   /* the problem last told, 0 none */
	bool reported;
};

struct scan {
	struct scan_config cfg;
	uint64_t seed;
	uint64_t gen;
	struct ktab ctrs;               /* id -> struct ctr * */
	struct ktab toks;               /* key -> struct tok * */
	/* Outbound candidates examined in the last sample: hashes of
	 * (inode, proto, remote).  A 64-bit keyed hash stands for the key;
	 * a collision would cost one fd walk skipped, once. */
	struct {
		uint64_t *h;
		size_t cap, n;
	} done;
	struct buf line;                /* the event being written */
	struct buf table;               /* a net table being read */
	char time[32];

	/* per sample */
	struct arena *sample;
	struct ktab nstabs;             /* netns key -> struct nstab * */
	struct nstab **nslist;
	size_t nsn, nscap;
	struct scan_stats st;
	scan_emit_fn emit;
	void *emit_ud;
};

/* ---- per-sample network namespace tables -------------------------------- */

struct cand {
	uint64_t inode;
	uint64_t h;                     /* the done-set hash */
	struct procfs_sock sock;
};

struct nstab {
	char *key;
	struct cand *c;
	size_t n, cap;
	uint32_t *idx;                  /* inode -> index + 1 */
	size_t idxcap;
	uint32_t *listen;               /* proto << 16 | port, sorted */
	size_t nl, capl;
	bool fresh;                     /* a candidate not examined before */
	bool walk_failed;               /* some process's fds could not be read */
};

static void nstab_free(struct nstab *t)
{
	pg_free(t->c);
	pg_free(t->idx);
	pg_free(t->listen);
}

static int push_listen(struct nstab *t, uint32_t v)
{
	if (t->nl == t->capl) {
		size_t ncap = t->capl ? t->capl * 2 : 16;
		uint32_t *nl = pg_realloc(t->listen, ncap * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		t->listen = nl;
		t->capl = ncap;
	}
	t->listen[t->nl++] = v;
	return 0;
}

static int on_row(void *ud, const struct procfs_sock *s)
{
	struct nstab *t = ud;

	if (s->proto == PROCFS_TCP && s->state == PROCFS_LISTEN)
		return push_listen(t, (uint32_t)s->proto << 16 | s->lport);
	if (s->proto == PROCFS_UDP && s->state == PROCFS_CLOSE && s->lport != 0)
		/* a bound, unconnected UDP socket is UDP's listener */
		return push_listen(t, (uint32_t)s->proto << 16 | s->lport);
	if (s->proto == PROCFS_TCP ? s->state != PROCFS_ESTABLISHED && s->state != PROCFS_SYN_SENT
				   : s->state != PROCFS_ESTABLISHED)
		return 0;
	if (procfs_addr_is_local(&s->raddr) || s->rport == 0 || s->inode == 0)
		return 0;
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct cand *nc = pg_realloc(t->c, ncap * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		t->c = nc;
		t->cap = ncap;
	}
	t->c[t->n].inode = s->inode;
	t->c[t->n].sock = *s;
	t->n++;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_listening(const struct nstab *t, const struct procfs_sock *s)
{
	uint32_t v = (uint32_t)s->proto << 16 | s->lport;

	return t->nl && bsearch(&v, t->listen, t->nl, sizeof(v), cmp_u32) != NULL;
}

static bool done_has(const struct scan *s, uint64_t h)
{
	if (!s->done.cap)
		return false;
	for (size_t i = h & (s->done.cap - 1);; i = (i + 1) & (s->done.cap - 1)) {
		if (!s->done.h[i])
			return false;
		if (s->done.h[i] == h)
			return true;
	}
}

static uint64_t cand_hash(const struct scan *s, const struct procfs_sock *k)
{
	struct {
		uint64_t inode;
		uint8_t proto, family;
		uint16_t port;
		uint8_t addr[16];
	} key;

	memset(&key, 0, sizeof(key));
	key.inode = k->inode;
	key.proto = (uint8_t)k->proto;
	key.family = k->raddr.family;
	key.port = k->rport;
	memcpy(key.addr, k->raddr.bytes, sizeof(key.addr));
	/* 0 marks an empty slot of the done set */
	return hash_bytes(s->seed, &key, sizeof(key)) | 1;
}

/* Reads the four tables of the namespace @pfd is in, keeps the outbound
 * candidates, and indexes them by inode. */
static int nstab_build(struct scan *s, int pfd, struct nstab *t)
{
	static const struct {
		const char *name;
		enum procfs_proto proto;
	} files[] = {
		{ "net/tcp", PROCFS_TCP }, { "net/tcp6", PROCFS_TCP },
		{ "net/udp", PROCFS_UDP }, { "net/udp6", PROCFS_UDP },
	};
	size_t keep = 0;
	int r;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t bad = 0;

		buf_reset(&s->table);
		r = procfs_read_buf(pfd, files[i].name, &s->table);
		if (r == -ENOMEM)
			return r;
		if (r == -ENOENT && (i == 1 || i == 3))
			continue;       /* no IPv6 in this kernel */
		if (r < 0 && r != -E2BIG) {
			s->st.unreadable++;
			t->walk_failed = true;  /* look again next sample */
			continue;
		}
		r = procfs_net_parse(s->table.data ? s->table.data : "", s->table.len, files[i].proto,
				     on_row, t, &bad);
		if (r < 0)
			return r;
		s->st.bad_rows += bad;
	}
	if (t->nl > 1)
		qsort(t->listen, t->nl, sizeof(*t->listen), cmp_u32);
	for (size_t i = 0; i < t->n; i++) {
		if (is_listening(t, &t->c[i].sock))
			continue;
		t->c[keep] = t->c[i];
		t->c[keep].h = cand_hash(s, &t->c[i].sock);
		if (!done_has(s, t->c[keep].h))
			t->fresh = true;
		keep++;
	}
	t->n = keep;
	if (!keep)
		return 0;
	t->idxcap = 16;
	while (t->idxcap < keep * 2)
		t->idxcap *= 2;
	t->idx = pg_calloc(t->idxcap, sizeof(*t->idx));
	if (!t->idx)
		return -ENOMEM;
	for (size_t i = 0; i < keep; i++) {
		size_t j = hash_bytes(s->seed, &t->c[i].inode, sizeof(t->c[i].inode)) & (t->idxcap - 1);

		while (t->idx[j])
			j = (j + 1) & (t->idxcap - 1);
		t->idx[j] = (uint32_t)(i + 1);
	}
	return 0;
}

static const struct cand *nstab_lookup(const struct scan *s, const struct nstab *t, uint64_t inode)
{
	if (!t->idxcap)
		return NULL;
	for (size_t j = hash_bytes(s->seed, &inode, sizeof(inode)) & (t->idxcap - 1);;
	     j = (j + 1) & (t->idxcap - 1)) {
		if (!t->idx[j])
			return NULL;
		if (t->c[t->idx[j] - 1].inode == inode)
			return &t->c[t->idx[j] - 1];
	}
}

/* The table of the namespace @pfd's process is in, read on first use in
 * this sample.  Namespaces are told apart by their ns/net link; a tree
 * without one (a synthetic one) gets a table per process. */
static int nstab_get(struct scan *s, int pfd, const char *pid, struct nstab **ret)
{
	char key[64];
	long n = procfs_readlink_at(pfd, "ns/net", key, sizeof(key));
	struct kent *e;
	struct nstab *t;
	uint64_t h;
	int r;

	if (n < 0)
		n = snprintf(key, sizeof(key), "pid:%s", pid);
	if (n < 0 || (size_t)n >= sizeof(key))
		return -EINVAL;
	h = hash_bytes(s->seed, key, (size_t)n);
	e = ktab_find(&s->nstabs, h, key, (size_t)n);
	if (e) {
		*ret = e->val;
		return 0;
	}
	t = arena_alloc(s->sample, sizeof(*t));
	if (!t || !(t->key = arena_strdup(s->sample, key)))
		return -ENOMEM;
	if (s->nsn == s->nscap) {
		size_t ncap = s->nscap ? s->nscap * 2 : 16;
		struct nstab **nl = pg_realloc(s->nslist, ncap * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		s->nslist = nl;
		s->nscap = ncap;
	}
	s->nslist[s->nsn++] = t;
	r = ktab_add(&s->nstabs, h, t->key, (size_t)n, t);
	if (r < 0)
		return r;
	s->st.netns++;
	r = nstab_build(s, pfd, t);
	if (r < 0)
		return r;
	*ret = t;
	return 0;
}

/* The candidates of this sample's namespaces whose processes were all
 * examined become the done set; the ones no longer in any table are
 * forgotten with the old set. */
static int done_rebuild(struct scan *s)
{
	size_t n = 0, cap = 16;
	uint64_t *nh;

	for (size_t i = 0; i < s->nsn; i++)
		if (!s->nslist[i]->walk_failed)
			n += s->nslist[i]->n;
	while (cap < n * 2)
		cap *= 2;
	nh = pg_calloc(cap, sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	for (size_t i = 0; i < s->nsn; i++) {
		const struct nstab *t = s->nslist[i];

		if (t->walk_failed)
			continue;
		for (size_t k = 0; k < t->n; k++) {
			size_t j = t->c[k].h & (cap - 1);

			while (nh[j] && nh[j] != t->c[k].h)
				j = (j + 1) & (cap - 1);
			nh[j] = t->c[k].h;
		}
	}
	pg_free(s->done.h);
	s->done.h = nh;
	s->done.cap = cap;
	s->done.n = n;
	return 0;
}

/* ---- events --------------------------------------------------------------- */

static int utf8_len(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		unsigned lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		unsigned lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

int scan_json_string(struct buf *out, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)str;
	size_t start = out->len;
	int r = 0;

	while (*p && r == 0) {
		int n = utf8_len(p);
		char esc[6];

		if (n == 0) {
			r = buf_add(out, "\xef\xbf\xbd", 3);
			p++;
		} else if (n > 1) {
			r = buf_add(out, p, (size_t)n);
			p += n;
		} else if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p++;
			r = buf_add(out, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			p++;
			r = buf_add(out, esc, 6);
		} else {
			const unsigned char *q = p;

			/* a run of plain ASCII in one copy */
			while (*q >= 0x20 && *q < 0x7f && *q != '"' && *q != '\\')
				q++;
			r = buf_add(out, p, (size_t)(q - p));
			p = q;
		}
	}
	if (r < 0)
		buf_truncate(out, start);
	return r;
}

/* The fields every event starts with; @ref NULL for pod-level events. */
static int event_begin(struct scan *s, const char *kind, const char *pod_uid, const char *ref)
{
	int r;

	buf_reset(&s->line);
	r = buf_printf(&s->line, "{\"kind\":\"%s\",\"time\":\"%s\"", kind, s->time);
	if (r == 0 && s->cfg.node && *s->cfg.node) {
		r = buf_adds(&s->line, ",\"node\":\"");
		if (r == 0)
			r = scan_json_string(&s->line, s->cfg.node);
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
			r = scan_json_string(&s->line, cmd + i);
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
	uint64_t h = hash_bytes(s->seed, id->container_id, CGROUP_CONTAINER_ID_LEN);
	struct kent *e = ktab_find(&s->ctrs, h, id->container_id, CGROUP_CONTAINER_ID_LEN);
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
		struct kent *e = &s->ctrs.tab[i];
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
	h = hash_bytes(s->seed, exe, (size_t)n);
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
			r = scan_json_string(&s->line, exe);
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
	h = hash_bytes(s->seed, &key, sizeof(key));
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

/* The socket fds of one process, matched against its namespace's
 * outbound candidates. */
static int walk_fds(struct scan *s, struct ctr *c, int pfd, struct nstab *t)
{
	int dfd = openat(pfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (dfd < 0) {
		if (errno != ENOENT && errno != ESRCH) {
			s->st.unreadable++;
			t->walk_failed = true;
		}
		return 0;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -ENOMEM;
	}
	s->st.fd_walks++;
	while (r == 0 && (de = readdir(d))) {
		char link[64];
		long n;
		uint64_t inode;
		const struct cand *k;

		if (de->d_name[0] == '.')
			continue;
		n = procfs_readlink_at(dfd, de->d_name, link, sizeof(link));
		if (n < 0 || procfs_socket_inode(link, (size_t)n, &inode) < 0)
			continue;
		k = nstab_lookup(s, t, inode);
		if (k)
			r = report_conn(s, c, &k->sock);
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
	struct nstab *t;
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
	r = nstab_get(s, pfd, pid, &t);
	if (r == -EINVAL) {
		r = 0;
		goto out;
	}
	if (r == 0 && t->fresh)
		r = walk_fds(s, c, pfd, t);
out:
	close(pfd);
	return r;
}

/* ---- tokens ---------------------------------------------------------------- */

static void tok_warn(struct scan *s, struct tok *t, int err, const char *what, const char *detail)
{
	char uid[CGROUP_POD_UID_MAX + 1];

	if (t->last_err == err)
		return;
	t->last_err = err;
	if (!s->cfg.warn)
		return;
	snprintf(uid, sizeof(uid), "%.*s", (int)t->uid_len, t->key);
	s->cfg.warn(s->cfg.warn_ud, what, uid, t->key + t->uid_len + 1, detail);
}

static int tok_get(struct scan *s, const char *uid, const char *vol, struct tok **ret)
{
	char key[512];
	int n = snprintf(key, sizeof(key), "%s/%s", uid, vol);
	struct kent *e;
	struct tok *t;
	uint64_t h;

	if (n < 0 || (size_t)n >= sizeof(key))
		return -EINVAL;
	h = hash_bytes(s->seed, key, (size_t)n);
	e = ktab_find(&s->toks, h, key, (size_t)n);
	if (e) {
		*ret = e->val;
		return 0;
	}
	t = pg_calloc(1, sizeof(*t));
	if (!t || !(t->key = pg_strdup(key))) {
		pg_free(t);
		return -ENOMEM;
	}
	t->uid_len = strlen(uid);
	if (ktab_add(&s->toks, h, t->key, (size_t)n, t) < 0) {
		pg_free(t->key);
		pg_free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

static int report_token(struct scan *s, int voldirfd, const char *uid, const char *vol)
{
	char path[300];
	struct token_claims cl;
	struct tok *t;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/token", vol) >= sizeof(path))
		return 0;
	r = tokens_read_at(voldirfd, path, &cl);
	if (r == -ENOENT)
		return 0;       /* a projected volume without a token file */
	if (r == -ENOMEM)
		return r;
	if (tok_get(s, uid, vol, &t) < 0)
		return 0;
	t->gen = s->gen;
	if (r < 0) {
		tok_warn(s, t, r, "projected token unreadable", strerror(-r));
		return 0;
	}
	if (cl.iat < 0 || cl.exp < 0) {
		tok_warn(s, t, -ENODATA, "projected token without iat or exp", "");
		return 0;
	}
	if (cl.pod_uid[0] && strcmp(cl.pod_uid, uid) != 0)
		tok_warn(s, t, -EXDEV, "projected token bound to another pod", cl.pod_uid);
	else
		t->last_err = 0;
	if (t->reported && t->iat == cl.iat && t->exp == cl.exp)
		return 0;
	r = event_begin(s, "token", uid, NULL);
	if (r == 0) {
		r = buf_adds(&s->line, ",\"volume\":\"");
		if (r == 0)
			r = scan_json_string(&s->line, vol);
		if (r == 0)
			r = buf_printf(&s->line, "\",\"iat\":%lld,\"exp\":%lld", (long long)cl.iat,
				       (long long)cl.exp);
	}
	if (r == 0)
		r = event_end(s);
	if (r < 0)
		return r;
	s->st.tokens++;
	t->iat = cl.iat;
	t->exp = cl.exp;
	t->reported = true;
	return 0;
}

static bool is_pod_uid(const char *name)
{
	size_t n = strlen(name);

	if (n != 36 && n != 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
		char ch = name[i];

		if (dash ? ch != '-' : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
	}
	return true;
}

static int scan_pod_tokens(struct scan *s, int podsfd, const char *uid)
{
	char path[128];
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/volumes/kubernetes.io~projected", uid);
	fd = openat(podsfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while (r == 0 && (de = readdir(d)))
		if (de->d_name[0] != '.')
			r = report_token(s, fd, uid, de->d_name);
	closedir(d);
	return r;
}

static int scan_tokens(struct scan *s)
{
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!s->cfg.pods_dir || !*s->cfg.pods_dir)
		return 0;
	d = opendir(s->cfg.pods_dir);
	if (!d)
		return 0;       /* no kubelet here (yet): nothing to read */
	while (r == 0 && (de = readdir(d)))
		if (is_pod_uid(de->d_name))
			r = scan_pod_tokens(s, dirfd(d), de->d_name);
	closedir(d);
	return r;
}

/* Drops the volumes gone from disk.  Out of memory, a live one is
 * dropped too: it is then reported again, never lost. */
static void toks_collect(struct scan *s)
{
	struct ktab keep = { 0 };

	for (size_t i = 0; i < s->toks.cap; i++) {
		struct kent *e = &s->toks.tab[i];
		struct tok *t = e->val;

		if (!e->key)
			continue;
		if (t->gen == s->gen && ktab_add(&keep, e->h, e->key, e->len, t) == 0)
			continue;
		pg_free(t->key);
		pg_free(t);
	}
	ktab_free(&s->toks);
	s->toks = keep;
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
	buf_init(&s->table, NET_TABLE_MAX);
	*ret = s;
	return 0;
}

static void sample_end(struct scan *s)
{
	for (size_t i = 0; i < s->nsn; i++)
		nstab_free(s->nslist[i]);
	s->nsn = 0;
	ktab_free(&s->nstabs);
	s->sample = arena_free(s->sample);
	/* a hostNetwork pod's table can be large: do not hold it between samples */
	if (s->table.cap > 1024 * 1024)
		buf_free(&s->table);
}

int scan_sample(struct scan *s, const struct timespec *now, scan_emit_fn emit, void *ud,
		struct scan_stats *ret_stats)
{
	struct tm tm;
	struct dirent *de;
	DIR *d;
	int r = 0;

	memset(&s->st, 0, sizeof(s->st));
	s->emit = emit;
	s->emit_ud = ud;
	if (!gmtime_r(&now->tv_sec, &tm) || !strftime(s->time, sizeof(s->time), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -EINVAL;
	d = opendir(s->cfg.proc_root);
	if (!d)
		return -errno;
	s->sample = arena_new(16384);
	if (!s->sample) {
		closedir(d);
		return -ENOMEM;
	}
	s->gen++;
	while (r == 0 && (de = readdir(d)))
		if (is_pid(de->d_name))
			r = scan_process(s, dirfd(d), de->d_name);
	closedir(d);
	if (r == 0)
		r = scan_tokens(s);
	if (r == 0)
		r = done_rebuild(s);
	if (r == 0) {
		r = ctrs_collect(s);
		toks_collect(s);
	}
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
	for (size_t i = 0; i < s->toks.cap; i++)
		if (s->toks.tab[i].key) {
			struct tok *t = s->toks.tab[i].val;

			pg_free(t->key);
			pg_free(t);
		}
	ktab_free(&s->toks);
	pg_free(s->done.h);
	sample_end(s);
	pg_free(s->nslist);
	buf_free(&s->line);
	buf_free(&s->table);
	pg_free(s);
	return NULL;
}
