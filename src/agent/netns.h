/* netns.h - the network namespaces a sample of the node meets: which one
 * a process is in, whether its sockets may have a new destination since
 * the last sample, its net tables read on demand, and which of their
 * sockets are egress.  scan.c decides what to report; this file only
 * knows sockets. */
#ifndef PG_NETNS_H
#define PG_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ktab.h"
#include "procfs.h"

/* The most of one net table a sample reads (a host netns with ~400k
 * sockets); the rows past it are not seen. */
#define NETNS_TABLE_MAX (64u * 1024 * 1024)
/* A socket whose due sample this is is never looked up again. */
#define NETNS_DUE_NEVER UINT64_MAX

/* The net tables a socket can be in. */
enum {
	NETNS_TCP = 1,
	NETNS_TCP6 = 2,
	NETNS_UDP = 4,
	NETNS_UDP6 = 8,
	NETNS_ALL = 15,
};

/* What is known of one socket inode of a namespace.  seen and due are
 * the caller's: netns_sock() only adds the entry, netns_set_collect()
 * keeps the ones seen in this sample. */
struct netns_sock {
	uint64_t inode;                 /* 0: an empty slot */
	uint64_t seen;                  /* the last sample an fd of it was seen in */
	uint64_t due;                   /* the sample it is looked up in again */
	uint8_t tables;                 /* the net tables that can hold it; 0: not known yet */
};

/* A row of a net table, as this sample read it. */
struct netns_row {
	uint64_t inode;
	struct procfs_sock sock;
};

/* A network namespace with a pod process in it. */
struct netns {
	char *key;                      /* "net:[4026532001]", or "pid:N" in a tree without ns links */
	uint64_t gen;                   /* the last sample it had a pod process in */
	uint64_t walked;                /* the last sample its processes' fds were read in */
	bool walk;                      /* read its processes' fds in this sample */
	bool have_counters;
	struct procfs_counters counters;        /* as the last sample read them */
	struct netns_sock *socks;       /* open addressing by inode */
	size_t scap, sn;
	/* this sample's reads of its tables */
	uint8_t loaded;
	struct netns_row *rows;
	size_t nrows, caprows;
	uint32_t *idx;                  /* inode -> row index + 1 */
	size_t idxcap;
	uint32_t *listen;               /* proto << 16 | port, sorted */
	size_t nl, capl;
};

/* What this sample's namespace work counted (netns_set_begin() zeroes it). */
struct netns_stats {
	size_t netns;                   /* namespaces with a pod process */
	size_t tables;                  /* net tables read */
	size_t unreadable;              /* net tables that could not be read */
	size_t bad_rows;                /* malformed net table rows */
};

/* The namespaces met so far, by key.  Zero it, then netns_set_init(). */
struct netns_set {
	uint64_t seed;                  /* for the hash tables */
	uint64_t gen;                   /* this sample */
	unsigned budget_ms;             /* wall time a sample may spend in tables; 0: none */
	double table_ms;                /* this sample's time in net tables so far */
	struct ktab nets;               /* key -> struct netns * */
	struct buf table;               /* a net table being read */
	struct netns_stats st;
};

void netns_set_init(struct netns_set *t, uint64_t seed, unsigned budget_ms);

/* Starts sample @gen: clears the time spent in tables and the counts. */
void netns_set_begin(struct netns_set *t, uint64_t gen);

/* The namespace @pfd's process (@pid) is in, made when new.  Namespaces
 * are told apart by their ns/net link; a tree without one (a synthetic
 * one) gets one per process.  The first call of a sample for a
 * namespace decides its walk flag (the TCP and UDP counters moved since
 * the last sample, or cannot be told).  0, -EINVAL (the key does not
 * fit), -ENOMEM.  *@ret is borrowed from @t. */
int netns_get(struct netns_set *t, int pfd, const char *pid, struct netns **ret);

/* The entry of @inode in @n, added (zeroed) when absent.  NULL on
 * allocation failure. */
struct netns_sock *netns_sock(const struct netns_set *t, struct netns *n, uint64_t inode);

/* Which tables can hold the socket behind the fd link @path, from its
 * "system.sockprotoname" attribute: 0 for Unix, netlink and other
 * sockets; NETNS_ALL without the attribute (a synthetic tree). */
uint8_t netns_sock_tables(const char *path);

/* Reads the tables of @want that this sample has not read yet, through
 * the process directory @pfd (any process of the namespace will do).
 * -EAGAIN, reading nothing, when the sample's time budget for tables has
 * run out: the caller looks again next sample.  A load that starts
 * finishes, so a lookup that needs all four tables is never starved.
 * 0, -EAGAIN, -ENOMEM. */
int netns_load(struct netns_set *t, struct netns *n, int pfd, uint8_t want);

/* The row of @inode in the tables loaded this sample; NULL when none has
 * it.  Borrowed until the sample ends. */
const struct procfs_sock *netns_lookup(const struct netns_set *t, const struct netns *n, uint64_t inode);

/* Outbound: established or connecting TCP, connected UDP, to a remote
 * that is neither loopback nor unspecified, from a local port nothing
 * in @n's loaded tables listens on (an accepted connection is inbound). */
bool netns_is_egress(const struct netns *n, const struct procfs_sock *sk);

/* Drops the namespaces without a pod process in this sample, and in the
 * others (whose fds were read) the inodes no fd holds any more.  On
 * -ENOMEM the namespaces that could not be kept are forgotten, so
 * looked up afresh. */
int netns_set_collect(struct netns_set *t);

/* Ends the sample: its table reads are dropped, and large buffers freed. */
void netns_set_end(struct netns_set *t);

/* Frees every namespace; @t may be zeroed or half built. */
void netns_set_free(struct netns_set *t);

#endif
