/* synthproc.h - a synthetic /proc and kubelet pods directory for the
 * agent's tests and bench: <pid>/cgroup, exe and fd links, net tables in
 * the kernel's own format, projected tokens in the kubelet's ..data
 * layout.  Header-only helpers; every failure aborts (they build test
 * fixtures, not product code). */
#ifndef PG_SYNTHPROC_H
#define PG_SYNTHPROC_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static inline void sp_die(const char *what, const char *path)
{
	fprintf(stderr, "synthproc: %s %s: %s\n", what, path, strerror(errno));
	abort();
}

static inline void sp_path(char *out, size_t n, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static inline void sp_path(char *out, size_t n, const char *fmt, va_list ap)
{
	if ((size_t)vsnprintf(out, n, fmt, ap) >= n) {
		fprintf(stderr, "synthproc: path too long\n");
		abort();
	}
}

/* mkdir -p of a printf-formatted path */
static inline void sp_mkdir(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void sp_mkdir(const char *fmt, ...)
{
	char p[4096];
	va_list ap;

	va_start(ap, fmt);
	sp_path(p, sizeof(p), fmt, ap);
	va_end(ap);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			sp_die("mkdir", p);
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		sp_die("mkdir", p);
}

static inline void sp_write(const char *text, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void sp_write(const char *text, size_t len, const char *fmt, ...)
{
	char p[4096];
	va_list ap;
	int fd;

	va_start(ap, fmt);
	sp_path(p, sizeof(p), fmt, ap);
	va_end(ap);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		sp_die("write", p);
	close(fd);
}

static inline void sp_link(const char *target, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void sp_link(const char *target, const char *fmt, ...)
{
	char p[4096];
	va_list ap;

	va_start(ap, fmt);
	sp_path(p, sizeof(p), fmt, ap);
	va_end(ap);
	unlink(p);
	if (symlink(target, p) < 0)
		sp_die("symlink", p);
}

/* The kernel's hex for an address: each 32-bit word in memory read as a
 * host integer, %08X. */
static inline void sp_hex(const char *text, char *out, size_t n)
{
	unsigned char b[16];
	size_t words = 1;

	if (inet_pton(AF_INET, text, b) != 1) {
		if (inet_pton(AF_INET6, text, b) != 1) {
			fprintf(stderr, "synthproc: bad address %s\n", text);
			abort();
		}
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

#define SP_TCP_HEADER "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
#define SP_UDP_HEADER "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"

/* Appends one table row to @out (of size @n). */
static inline void sp_row(char *out, size_t n, const char *laddr, unsigned lport, const char *raddr,
			  unsigned rport, unsigned state, unsigned long long inode)
{
	char l[40], r[40];
	size_t len = strlen(out);

	sp_hex(laddr, l, sizeof(l));
	sp_hex(raddr, r, sizeof(r));
	snprintf(out + len, n - len,
		 "%4zu: %s:%04X %s:%04X %02X 00000000:00000000 00:00000000 00000000  1000        0 %llu 1 "
		 "0000000000000000 20 4 30 10 -1\n", len % 1000, l, lport, r, rport, state, inode);
}

/* A process directory: cgroup text and, when @exe is not NULL, the exe link. */
static inline void sp_proc(const char *root, int pid, const char *cgroup, const char *exe)
{
	sp_mkdir("%s/%d/fd", root, pid);
	sp_mkdir("%s/%d/net", root, pid);
	sp_write(cgroup, strlen(cgroup), "%s/%d/cgroup", root, pid);
	if (exe)
		sp_link(exe, "%s/%d/exe", root, pid);
}

/* fd @fd of @pid is socket:[@inode]. */
static inline void sp_sock(const char *root, int pid, int fd, unsigned long long inode)
{
	char target[64];

	snprintf(target, sizeof(target), "socket:[%llu]", inode);
	sp_link(target, "%s/%d/fd/%d", root, pid, fd);
}

/* The four net tables of @pid (NULL: header only). */
static inline void sp_net(const char *root, int pid, const char *tcp, const char *tcp6, const char *udp,
			  const char *udp6)
{
	char buf[65536];

	snprintf(buf, sizeof(buf), "%s%s", SP_TCP_HEADER, tcp ? tcp : "");
	sp_write(buf, strlen(buf), "%s/%d/net/tcp", root, pid);
	snprintf(buf, sizeof(buf), "%s%s", SP_TCP_HEADER, tcp6 ? tcp6 : "");
	sp_write(buf, strlen(buf), "%s/%d/net/tcp6", root, pid);
	snprintf(buf, sizeof(buf), "%s%s", SP_UDP_HEADER, udp ? udp : "");
	sp_write(buf, strlen(buf), "%s/%d/net/udp", root, pid);
	snprintf(buf, sizeof(buf), "%s%s", SP_UDP_HEADER, udp6 ? udp6 : "");
	sp_write(buf, strlen(buf), "%s/%d/net/udp6", root, pid);
}

static inline void sp_b64url(const char *in, size_t len, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (len - i >= 1) {
		unsigned v = (unsigned char)in[i] << 16 | (len - i == 2 ? (unsigned char)in[i + 1] << 8 : 0);

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		if (len - i == 2)
			out[o++] = a[v >> 6 & 63];
	}
	out[o] = '\0';
}

#define SP_SIGNATURE "U0VDUkVULXNpZ25hdHVyZS1ub3QtdG8tbGVhaw"

/* A projected token for @uid in the kubelet's layout, under a fresh
 * timestamped directory each call (as the kubelet rotates it). */
static inline void sp_token(const char *pods, const char *uid, const char *vol, long long iat, long long exp)
{
	static int serial;
	char payload[512], enc[1024], jwt[2048], stamp[64];

	snprintf(payload, sizeof(payload),
		 "{\"aud\":[\"https://kubernetes.default.svc\"],\"exp\":%lld,\"iat\":%lld,"
		 "\"kubernetes.io\":{\"namespace\":\"ns\",\"pod\":{\"name\":\"p\",\"uid\":\"%s\"}},"
		 "\"sub\":\"system:serviceaccount:ns:sa\"}", exp, iat, uid);
	sp_b64url(payload, strlen(payload), enc);
	snprintf(jwt, sizeof(jwt), "eyJhbGciOiJSUzI1NiJ9.%s.%s", enc, SP_SIGNATURE);
	snprintf(stamp, sizeof(stamp), "..2026_11_22_10_00_%02d.%d", serial % 60, serial);
	serial++;
	sp_mkdir("%s/%s/volumes/kubernetes.io~projected/%s/%s", pods, uid, vol, stamp);
	sp_write(jwt, strlen(jwt), "%s/%s/volumes/kubernetes.io~projected/%s/%s/token", pods, uid, vol, stamp);
	sp_link(stamp, "%s/%s/volumes/kubernetes.io~projected/%s/..data", pods, uid, vol);
	sp_link("..data/token", "%s/%s/volumes/kubernetes.io~projected/%s/token", pods, uid, vol);
}

static inline int sp_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

/* rm -rf @dir */
static inline void sp_rmtree(const char *dir)
{
	nftw(dir, sp_rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

#endif
