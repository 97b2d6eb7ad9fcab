/* http_listen.c - the listening socket of every HTTP server here: the
 * address forms the flags take, and one dual-stack socket for "every
 * address". */
#include "http_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "strutil.h"

int http_listen_parse(const char *listen, char *host, size_t hostsz, uint16_t *port)
{
	const char *colon, *h = listen;
	size_t hlen;
	uint64_t p;

	if (!listen || !*listen)
		return -EINVAL;
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = listen + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - listen);
		if (memchr(listen, ':', hlen))
			return -EINVAL;         /* IPv6 without brackets */
	}
	if (hlen >= hostsz || str_to_u64(colon + 1, &p) < 0 || p > 65535)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return 0;
}

int http_listen_open(const char *addr, const char *flag, int *ret_fd, uint16_t *ret_port,
		     char *err, size_t errsz)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[8];
	uint16_t p;
	int fd = -1, one = 1, zero = 0, r;

	if (http_listen_parse(addr, host, sizeof(host), &p) < 0) {
		snprintf(err, errsz, "%s %s: expected HOST:PORT, :PORT or [IPv6]:PORT", flag,
			 addr);
		return -EINVAL;
	}
	snprintf(port, sizeof(port), "%u", p);
	if (!host[0]) {
		/* Every address, IPv4 too when the kernel has IPv6. */
		hints.ai_family = AF_INET6;
		r = getaddrinfo(NULL, port, &hints, &ai);
		if (r == 0)
			fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (fd < 0) {
			if (ai)
				freeaddrinfo(ai);
			hints.ai_family = AF_INET;
			ai = NULL;
			r = getaddrinfo(NULL, port, &hints, &ai);
		}
	} else {
		hints.ai_family = AF_UNSPEC;
		r = getaddrinfo(host, port, &hints, &ai);
	}
	if (r != 0) {
		snprintf(err, errsz, "%s %s: %s", flag, addr, gai_strerror(r));
		return -EINVAL;
	}
	if (fd < 0)
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto syserr;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0)
		goto syserr;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(ai);
	*ret_fd = fd;
	return 0;
syserr:
	r = -errno;
	snprintf(err, errsz, "%s %s: %s", flag, addr, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return r;
}

