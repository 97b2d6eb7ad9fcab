/* netns.c - the network namespaces of a node sample: one per ns/net link,
 * its sockets by inode, its net tables read only when a socket needs
 * them and only the tables its protocol can be in (reading
 * /proc/PID/net/tcp walks the kernel's whole established hash, a few ms
 * each time on a large machine), and the listening ports that tell an
 * accepted connection from an outbound one. */
#include "netns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "ticker.h"
#include "xalloc.h"

void netns_set_init(struct netns_set *t, uint64_t seed, unsigned budget_ms)
{
	t->seed = seed;
	t->budget_ms = budget_ms;
	buf_init(&t->table, NETNS_TABLE_MAX);
}

void netns_set_begin(struct netns_set *t, uint64_t gen)
{
	t->gen = gen;
	t->table_ms = 0;
	memset(&t->st, 0, sizeof(t->st));
}

static void sample_reset(struct netns *n)
{
	n->loaded = 0;
	n->nrows = n->nl = 0;
	/* a hostNetwork pod's tables can be large: do not hold them */
	if (n->caprows > 4096) {
		pg_free(n->rows);
		n->rows = NULL;
		n->caprows = 0;
	}
	pg_free(n->idx);
	n->idx = NULL;
	n->idxcap = 0;
}

static struct netns *netns_free(struct netns *n)
{
	if (n) {
		sample_reset(n);
		pg_free(n->rows);
		pg_free(n->listen);
		pg_free(n->socks);
		pg_free(n->key);
		pg_free(n);
	}
	return NULL;
}

static uint64_t inode_hash(const struct netns_set *t, uint64_t inode)
{
	return ktab_hash(t->seed, &inode, sizeof(inode));
}

/* Moves @n's sockets into a new table of @cap slots (a power of two, more
 * than twice what it keeps): all of them, or with @only_seen those an fd
 * was seen holding in this sample. */
static int socks_rehash(const struct netns_set *t, struct netns *n, size_t cap, bool only_seen)
{
	struct netns_sock *nt = pg_calloc(cap, sizeof(*nt));
	size_t kept = 0, i;

	if (!nt)
		return -ENOMEM;
	for (size_t k = 0; k < n->scap; k++) {
		if (!n->socks[k].inode || (only_seen && n->socks[k].seen != t->gen))
			continue;
		for (i = inode_hash(t, n->socks[k].inode) & (cap - 1); nt[i].inode; i = (i + 1) & (cap - 1))
			;
		nt[i] = n->socks[k];
		kept++;
	}
	pg_free(n->socks);
	n->socks = nt;
	n->scap = cap;
	n->sn = kept;
	return 0;
}

struct netns_sock *netns_sock(const struct netns_set *t, struct netns *n, uint64_t inode)
{
	size_t i;

	if ((n->sn + 1) * 2 > n->scap && socks_rehash(t, n, n->scap ? n->scap * 2 : 32, false) < 0)
		return NULL;
	for (i = inode_hash(t, inode) & (n->scap - 1); n->socks[i].inode; i = (i + 1) & (n->scap - 1))
		if (n->socks[i].inode == inode)
			return &n->socks[i];
	n->socks[i] = (struct netns_sock){ .inode = inode };
	n->sn++;
	return &n->socks[i];
}

/* Keeps the inodes whose fds were seen in this sample (all of them when
 * no fd was read). */
static int collect_socks(const struct netns_set *t, struct netns *n)
{
	size_t keep = 0, cap = 32;

	if (n->walked != t->gen)
		return 0;
	for (size_t k = 0; k < n->scap; k++)
		keep += n->socks[k].inode && n->socks[k].seen == t->gen;
	while (cap < keep * 2 + 2)
		cap *= 2;
	return socks_rehash(t, n, cap, true);
}

/* Whether this sample reads the fds of the namespace's processes: only
 * when one of its sockets may have a new destination, that is when it
 * made a TCP connection attempt or sent a UDP datagram since the last
 * sample (its counters moved), or when that cannot be told (the first
 * sample, a tree without the counters).  Read before any fd, so what
 * happens during the walk moves the counters for the next sample. */
static void decide_walk(struct netns *n, int pfd)
{
	char snmp[8192], snmp6[16384];
	size_t len, len6 = 0;
	struct procfs_counters c;
	int r = procfs_read_at(pfd, "net/snmp", snmp, sizeof(snmp), &len);
	int r6 = procfs_read_at(pfd, "net/snmp6", snmp6, sizeof(snmp6), &len6);

	if ((r < 0 && r != -E2BIG) ||
	    procfs_snmp_parse(snmp, len, r6 < 0 && r6 != -E2BIG ? NULL : snmp6, len6, &c) < 0) {
		n->walk = true;
		n->have_counters = false;
		return;
	}
	n->walk = !n->have_counters || memcmp(&c, &n->counters, sizeof(c)) != 0;
	n->counters = c;
	n->have_counters = true;
}

int netns_get(struct netns_set *t, int pfd, const char *pid, struct netns **ret)
{
	char key[64];
	long n = procfs_readlink_at(pfd, "ns/net", key, sizeof(key));
	struct ktab_entry *e;
	struct netns *ns;
	uint64_t h;

	if (n < 0)
		n = snprintf(key, sizeof(key), "pid:%s", pid);
	if (n < 0 || (size_t)n >= sizeof(key))
		return -EINVAL;
	h = ktab_hash(t->seed, key, (size_t)n);
	e = ktab_find(&t->nets, h, key, (size_t)n);
	if (e) {
		ns = e->val;
	} else {
		ns = pg_calloc(1, sizeof(*ns));
		if (!ns || !(ns->key = pg_strdup(key))) {
			pg_free(ns);
			return -ENOMEM;
		}
		if (ktab_add(&t->nets, h, ns->key, (size_t)n, ns) < 0) {
			netns_free(ns);
			return -ENOMEM;
		}
	}
	if (ns->gen != t->gen) {
		ns->gen = t->gen;
		t->st.netns++;
		decide_walk(ns, pfd);
	}
	*ret = ns;
	return 0;
}

uint8_t netns_sock_tables(const char *path)
{
	char name[32];
	ssize_t n = getxattr(path, "system.sockprotoname", name, sizeof(name) - 1);

	if (n < 0)
		return NETNS_ALL;
	name[n] = '\0';
	if (!strcmp(name, "TCP"))
		return NETNS_TCP;
	if (!strcmp(name, "TCPv6"))
		return NETNS_TCP6;
	if (!strcmp(name, "UDP"))
		return NETNS_UDP;
	if (!strcmp(name, "UDPv6"))
		return NETNS_UDP6;
	return 0;
}

static int push_listen(struct netns *n, uint32_t v)
{
	if (n->nl == n->capl) {
		size_t ncap = n->capl ? n->capl * 2 : 16;
		uint32_t *nl = pg_realloc(n->listen, ncap * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		n->listen = nl;
		n->capl = ncap;
	}
	n->listen[n->nl++] = v;
	return 0;
}

static int on_row(void *ud, const struct procfs_sock *sk)
{
	struct netns *n = ud;

	if (sk->proto == PROCFS_TCP && sk->state == PROCFS_LISTEN &&
	    push_listen(n, (uint32_t)sk->proto << 16 | sk->lport) < 0)
		return -ENOMEM;
	/* a bound, unconnected UDP socket is UDP's listener */
	if (sk->proto == PROCFS_UDP && sk->state == PROCFS_CLOSE && sk->lport != 0 &&
	    push_listen(n, (uint32_t)sk->proto << 16 | sk->lport) < 0)
		return -ENOMEM;
	if (sk->inode == 0)
		return 0;       /* a TIME_WAIT or request socket: no fd has it */
	if (n->nrows == n->caprows) {
		size_t ncap = n->caprows ? n->caprows * 2 : 64;
		struct netns_row *nr = pg_realloc(n->rows, ncap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		n->rows = nr;
		n->caprows = ncap;
	}
	n->rows[n->nrows].inode = sk->inode;
	n->rows[n->nrows].sock = *sk;
	n->nrows++;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_listening(const struct netns *n, const struct procfs_sock *sk)
{
	uint32_t v = (uint32_t)sk->proto << 16 | sk->lport;

	return n->nl && bsearch(&v, n->listen, n->nl, sizeof(v), cmp_u32) != NULL;
}

bool netns_is_egress(const struct netns *n, const struct procfs_sock *sk)
{
	if (sk->proto == PROCFS_TCP ? sk->state != PROCFS_ESTABLISHED && sk->state != PROCFS_SYN_SENT
				    : sk->state != PROCFS_ESTABLISHED)
		return false;
	if (procfs_addr_is_local(&sk->raddr) || sk->rport == 0)
		return false;
	return !is_listening(n, sk);
}

int netns_load(struct netns_set *t, struct netns *n, int pfd, uint8_t want)
{
	static const struct {
		uint8_t bit;
		const char *name;
		enum procfs_proto proto;
	} files[] = {
		{ NETNS_TCP, "net/tcp", PROCFS_TCP }, { NETNS_TCP6, "net/tcp6", PROCFS_TCP },
		{ NETNS_UDP, "net/udp", PROCFS_UDP }, { NETNS_UDP6, "net/udp6", PROCFS_UDP },
	};
	bool grew = false;
	int r;

	if (!(want & ~n->loaded))
		return 0;
	if (t->budget_ms && t->table_ms >= t->budget_ms)
		return -EAGAIN;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t bad = 0;
		int64_t t0;

		if (!(want & files[i].bit) || (n->loaded & files[i].bit))
			continue;
		t0 = ticker_now_ns();
		n->loaded |= files[i].bit;
		buf_reset(&t->table);
		r = procfs_read_buf(pfd, files[i].name, &t->table);
		if (r == -ENOMEM)
			return r;
		if (r == -ENOENT && (files[i].bit & (NETNS_TCP6 | NETNS_UDP6)))
			continue;       /* no IPv6 in this kernel */
		if (r < 0 && r != -E2BIG) {
			t->st.unreadable++;
			continue;
		}
		t->st.tables++;
		r = procfs_net_parse(t->table.data ? t->table.data : "", t->table.len, files[i].proto, on_row,
				     n, &bad);
		if (r < 0)
			return r;
		t->st.bad_rows += bad;
		t->table_ms += (double)(ticker_now_ns() - t0) / 1e6;
		grew = true;
	}
	if (!grew)
		return 0;
	if (n->nl > 1)
		qsort(n->listen, n->nl, sizeof(*n->listen), cmp_u32);
	pg_free(n->idx);
	n->idxcap = 16;
	while (n->idxcap < n->nrows * 2)
		n->idxcap *= 2;
	n->idx = pg_calloc(n->idxcap, sizeof(*n->idx));
	if (!n->idx) {
		n->idxcap = 0;
		return -ENOMEM;
	}
	for (size_t i = 0; i < n->nrows; i++) {
		size_t j = inode_hash(t, n->rows[i].inode) & (n->idxcap - 1);

		while (n->idx[j])
			j = (j + 1) & (n->idxcap - 1);
		n->idx[j] = (uint32_t)(i + 1);
	}
	return 0;
}

const struct procfs_sock *netns_lookup(const struct netns_set *t, const struct netns *n, uint64_t inode)
{
	if (!n->idxcap)
		return NULL;
	for (size_t j = inode_hash(t, inode) & (n->idxcap - 1);; j = (j + 1) & (n->idxcap - 1)) {
		if (!n->idx[j])
			return NULL;
		if (n->rows[n->idx[j] - 1].inode == inode)
			return &n->rows[n->idx[j] - 1].sock;
	}
}

int netns_set_collect(struct netns_set *t)
{
	struct ktab keep = { 0 };
	int r = 0;

	for (size_t i = 0; i < t->nets.cap; i++) {
		struct ktab_entry *e = &t->nets.tab[i];
		struct netns *n = e->val;

		if (!e->key)
			continue;
		sample_reset(n);
		if (n->gen == t->gen && r == 0 && collect_socks(t, n) == 0 &&
		    ktab_add(&keep, e->h, e->key, e->len, n) == 0)
			continue;
		/* gone, or out of memory: forgotten, so looked up afresh */
		if (n->gen == t->gen)
			r = -ENOMEM;
		netns_free(n);
	}
	ktab_free(&t->nets);
	t->nets = keep;
	return r;
}

void netns_set_end(struct netns_set *t)
{
	for (size_t i = 0; i < t->nets.cap; i++)
		if (t->nets.tab[i].key)
			sample_reset(t->nets.tab[i].val);
	/* a hostNetwork pod's table can be large: do not hold it between samples */
	if (t->table.cap > 1024 * 1024)
		buf_free(&t->table);
}

void netns_set_free(struct netns_set *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nets.cap; i++)
		if (t->nets.tab[i].key)
			netns_free(t->nets.tab[i].val);
	ktab_free(&t->nets);
	buf_free(&t->table);
}
