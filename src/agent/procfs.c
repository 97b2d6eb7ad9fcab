/* procfs.c - the /proc net tables, fd links and exe links, read without
 * sscanf: a table row is a handful of hex fields, and a hostNetwork pod's
 * netns can hold thousands of them every sample. */
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fdio.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly @n hex digits to a number. */
static bool hex_n(const char *p, size_t n, uint32_t *ret)
{
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++) {
		int d = hexval(p[i]);

		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*ret = v;
	return true;
}

/* "0100007F:0CEA" or 32 hex digits ":" 4.  The kernel prints each 32-bit
 * word of the address as it sits in memory read as a host integer, so
 * copying the parsed word back in host order restores network order on
 * any endianness. */
static bool parse_endpoint(const char *p, size_t n, struct netaddr *addr, uint16_t *port)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	size_t words;
	uint32_t w;

	if (n == 8 + 1 + 4)
		words = 1;
	else if (n == 32 + 1 + 4)
		words = 4;
	else
		return false;
	if (p[words * 8] != ':' || !hex_n(p + words * 8 + 1, 4, &w))
		return false;
	*port = (uint16_t)w;
	memset(addr, 0, sizeof(*addr));
	for (size_t i = 0; i < words; i++) {
		if (!hex_n(p + i * 8, 8, &w))
			return false;
		memcpy(addr->bytes + i * 4, &w, 4);
	}
	addr->family = words == 1 ? 4 : 6;
	if (addr->family == 6 && memcmp(addr->bytes, mapped, 12) == 0) {
		memmove(addr->bytes, addr->bytes + 12, 4);
		memset(addr->bytes + 4, 0, 12);
		addr->family = 4;
	}
	return true;
}

/* The next whitespace-separated field of [*p, end). */
static bool next_field(const char **p, const char *end, const char **ret, size_t *ret_n)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s >= end)
		return false;
	*ret = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*ret_n = (size_t)(s - *ret);
	*p = s;
	return true;
}

int procfs_net_line(const char *line, size_t len, enum procfs_proto proto, struct procfs_sock *ret)
{
	const char *p = line, *end = line + len, *f[10];
	size_t n[10];
	struct procfs_sock s;
	uint32_t st;
	uint64_t inode = 0;

	/* sl local remote st tx:rx tr:when retrnsmt uid timeout inode */
	for (size_t i = 0; i < 10; i++)
		if (!next_field(&p, end, &f[i], &n[i]))
			return -EINVAL;
	if (n[0] < 2 || f[0][n[0] - 1] != ':')
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	s.proto = proto;
	if (n[1] != n[2] || !parse_endpoint(f[1], n[1], &s.laddr, &s.lport) ||
	    !parse_endpoint(f[2], n[2], &s.raddr, &s.rport) || n[3] != 2 || !hex_n(f[3], 2, &st))
		return -EINVAL;
	if (n[9] == 0 || n[9] > 20)
		return -EINVAL;
	for (size_t i = 0; i < n[9]; i++) {
		unsigned d = (unsigned)(f[9][i] - '0');

		if (d > 9 || inode > (UINT64_MAX - d) / 10)
			return -EINVAL;
		inode = inode * 10 + d;
	}
	s.state = (uint8_t)st;
	s.inode = inode;
	*ret = s;
	return 0;
}

int procfs_net_parse(const char *data, size_t len, enum procfs_proto proto, procfs_sock_fn fn,
		     void *ud, size_t *ret_bad)
{
	const char *p = data, *end = data + len;
	size_t bad = 0;
	bool header = true;
	int r = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		struct procfs_sock s;

		if (header) {
			header = false;
		} else if (eol > p) {
			if (procfs_net_line(p, (size_t)(eol - p), proto, &s) < 0)
				bad++;
			else if ((r = fn(ud, &s)) < 0)
				break;
		}
		p = nl ? nl + 1 : end;
	}
	if (ret_bad)
		*ret_bad = bad;
	return r < 0 ? r : 0;
}

/* The line starting with @prefix (at a line start) in [p, end). */
static const char *find_line(const char *p, const char *end, const char *prefix, const char **ret_eol)
{
	size_t n = strlen(prefix);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if ((size_t)(eol - p) >= n && memcmp(p, prefix, n) == 0) {
			*ret_eol = eol;
			return p;
		}
		p = nl ? nl + 1 : end;
	}
	return NULL;
}

static bool dec_u64(const char *p, size_t n, uint64_t *ret)
{
	uint64_t v = 0;

	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(p[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*ret = v;
	return true;
}

/* "Tcp: A B C\nTcp: 1 2 3": the value under @name in the two lines of
 * @proto ("Tcp:"). */
static bool snmp_value(const char *p, const char *end, const char *proto, const char *name, uint64_t *ret)
{
	const char *h_eol, *v_eol, *h = find_line(p, end, proto, &h_eol), *v;
	const char *hp, *vp, *f, *g;
	size_t fn, gn;

	if (!h || h_eol == end)
		return false;
	v = find_line(h_eol + 1, end, proto, &v_eol);
	if (!v)
		return false;
	hp = h + strlen(proto);
	vp = v + strlen(proto);
	while (next_field(&hp, h_eol, &f, &fn)) {
		if (!next_field(&vp, v_eol, &g, &gn))
			return false;
		if (fn == strlen(name) && memcmp(f, name, fn) == 0)
			return dec_u64(g, gn, ret);
	}
	return false;
}

int procfs_snmp_parse(const char *snmp, size_t len, const char *snmp6, size_t len6,
		      struct procfs_counters *ret)
{
	struct procfs_counters c = { 0 };
	const char *l, *eol, *f;
	size_t fn;

	if (!snmp_value(snmp, snmp + len, "Tcp:", "ActiveOpens", &c.tcp_active_opens) ||
	    !snmp_value(snmp, snmp + len, "Udp:", "OutDatagrams", &c.udp_out))
		return -EINVAL;
	if (snmp6 && (l = find_line(snmp6, snmp6 + len6, "Udp6OutDatagrams", &eol))) {
		const char *p = l + strlen("Udp6OutDatagrams");

		if (!next_field(&p, eol, &f, &fn) || !dec_u64(f, fn, &c.udp6_out))
			return -EINVAL;
	}
	*ret = c;
	return 0;
}

bool procfs_addr_is_local(const struct netaddr *a)
{
	static const uint8_t zero[16];

	if (a->family == 4)
		return a->bytes[0] == 127 || memcmp(a->bytes, zero, 4) == 0;
	if (memcmp(a->bytes, zero, 15) != 0)
		return false;
	return a->bytes[15] == 0 || a->bytes[15] == 1;
}

int procfs_socket_inode(const char *link, size_t len, uint64_t *ret)
{
	static const char pre[] = "socket:[";
	uint64_t v = 0;
	size_t i;

	if (len < sizeof(pre) + 1 || memcmp(link, pre, sizeof(pre) - 1) != 0 || link[len - 1] != ']')
		return -EINVAL;
	for (i = sizeof(pre) - 1; i < len - 1; i++) {
		unsigned d = (unsigned)(link[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

bool procfs_strip_deleted(char *path)
{
	static const char mark[] = " (deleted)";
	size_t n = strlen(path), m = sizeof(mark) - 1;

	if (n <= m || memcmp(path + n - m, mark, m) != 0)
		return false;
	path[n - m] = '\0';
	return true;
}

static int open_at(int dirfd, const char *name)
{
	/* O_NONBLOCK: a synthetic tree (or a hostile one) may put a FIFO
	 * where a /proc file should be; never hang a sample on it. */
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

int procfs_read_at(int dirfd, const char *name, char *out, size_t cap, size_t *ret_len)
{
	size_t len = 0;
	ssize_t n;
	int fd, r = 0;

	if (cap == 0)
		return -EINVAL;
	fd = open_at(dirfd, name);
	if (fd < 0)
		return fd;
	n = fdio_read_full(fd, out, cap - 1);
	if (n < 0) {
		r = (int)n;
	} else {
		len = (size_t)n;
		if (len == cap - 1) {
			/* full: one more byte says whether there was more */
			char extra;

			n = fdio_read_full(fd, &extra, 1);
			if (n > 0)
				r = -E2BIG;
			else if (n < 0)
				r = (int)n;
		}
	}
	close(fd);
	out[len] = '\0';
	*ret_len = len;
	return r;
}

int procfs_read_buf(int dirfd, const char *name, struct buf *out)
{
	char chunk[16384];
	int fd, r = 0;

	fd = open_at(dirfd, name);
	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t n = fdio_read_full(fd, chunk, sizeof(chunk));

		if (n < 0) {
			r = (int)n;
			break;
		}
		if (n == 0)
			break;
		r = buf_add(out, chunk, (size_t)n);
		if (r < 0 || (size_t)n < sizeof(chunk))
			break;
	}
	close(fd);
	return r;
}

long procfs_readlink_at(int dirfd, const char *name, char *out, size_t cap)
{
	ssize_t n;

	if (cap < 2)
		return -EINVAL;
	n = readlinkat(dirfd, name, out, cap);
	if (n < 0)
		return -errno;
	if ((size_t)n >= cap)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return (long)n;
}
