/* procfs.h - reading what the agent needs from /proc: the rows of
 * /proc/PID/net/{tcp,tcp6,udp,udp6}, the socket inodes behind
 * /proc/PID/fd, an exe link's " (deleted)" mark, and bounded reads
 * relative to a directory descriptor.  The parsers are pure. */
#ifndef PG_PROCFS_H
#define PG_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

struct buf;

enum procfs_proto { PROCFS_TCP, PROCFS_UDP };

/* Socket states as the kernel numbers them (include/net/tcp_states.h);
 * a connected UDP socket reports ESTABLISHED, an unconnected one CLOSE. */
enum {
	PROCFS_ESTABLISHED = 0x01,
	PROCFS_SYN_SENT = 0x02,
	PROCFS_CLOSE = 0x07,
	PROCFS_LISTEN = 0x0a,
};

struct procfs_sock {
	enum procfs_proto proto;
	uint8_t state;
	struct netaddr laddr;           /* IPv4-mapped IPv6 reads as IPv4 */
	struct netaddr raddr;
	uint16_t lport;
	uint16_t rport;
	uint64_t inode;
};

/* One data line of a net table (header excluded, no newline needed):
 * "  0: 0100007F:0CEA 00000000:0000 0A ... 12345 ...".  Addresses are
 * the kernel's %08X of each 32-bit word in host order, 8 hex digits for
 * IPv4, 32 for IPv6.  0, or -EINVAL. */
int procfs_net_line(const char *line, size_t len, enum procfs_proto proto, struct procfs_sock *ret);

typedef int (*procfs_sock_fn)(void *ud, const struct procfs_sock *s);

/* Every row of a whole table (the header line skipped) to @fn; a
 * negative return from @fn stops with it.  Malformed rows are counted in
 * *ret_bad (may be NULL) and skipped.  0 or @fn's error. */
int procfs_net_parse(const char *data, size_t len, enum procfs_proto proto, procfs_sock_fn fn,
		     void *ud, size_t *ret_bad);

/* The counters of a network namespace that move when a socket of it
 * sends to somewhere: TCP connection attempts (v4 and v6 share them) and
 * UDP datagrams sent.  While none moves, no socket of the namespace can
 * have a new destination. */
struct procfs_counters {
	uint64_t tcp_active_opens;      /* net/snmp Tcp: ActiveOpens */
	uint64_t udp_out;               /* net/snmp Udp: OutDatagrams */
	uint64_t udp6_out;              /* net/snmp6 Udp6OutDatagrams; 0 without IPv6 */
};

/* From the text of /proc/PID/net/snmp (header and value lines per
 * protocol) and of net/snmp6 (@snmp6 may be NULL).  0, or -EINVAL when
 * the Tcp or Udp lines are missing or malformed. */
int procfs_snmp_parse(const char *snmp, size_t len, const char *snmp6, size_t len6,
		      struct procfs_counters *ret);

/* True when @a is loopback (127/8, ::1) or unspecified (0.0.0.0, ::). */
bool procfs_addr_is_local(const struct netaddr *a);

/* "socket:[12345]" (an fd link's text, @len bytes) to its inode.
 * 0, or -EINVAL for anything else (files, pipes, anon inodes). */
int procfs_socket_inode(const char *link, size_t len, uint64_t *ret);

/* Strips the " (deleted)" the kernel appends to an exe link whose file
 * was unlinked; true when it was there.  @path is NUL-terminated. */
bool procfs_strip_deleted(char *path);

/* Reads @name relative to @dirfd (O_NOFOLLOW is not used: /proc's own
 * links are what we follow) into @out, NUL-terminated, at most @cap - 1
 * bytes.  *ret_len is the length read.  0; -E2BIG when the file was
 * longer (the first @cap - 1 bytes are there); negative errno. */
int procfs_read_at(int dirfd, const char *name, char *out, size_t cap, size_t *ret_len);

/* The same into @out (appended; its max bounds the read): 0, -E2BIG when
 * the file was longer than out->max allows, -ENOMEM, negative errno. */
int procfs_read_buf(int dirfd, const char *name, struct buf *out);

/* readlinkat() into @out, NUL-terminated.  The length, -ENAMETOOLONG
 * when it did not fit, or negative errno. */
long procfs_readlink_at(int dirfd, const char *name, char *out, size_t cap);

#endif
