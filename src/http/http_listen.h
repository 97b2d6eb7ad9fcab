/* http_listen.h - the listening socket of the HTTP servers (the webhook,
 * the metrics and ops listeners, the controller's telemetry endpoints):
 * one parser for "host:port", ":port" and "[v6]:port", one socket set-up. */
#ifndef PG_HTTP_LISTEN_H
#define PG_HTTP_LISTEN_H

#include <stddef.h>
#include <stdint.h>

/* Parses a listen address into host ("" for any) and port.  0 or -EINVAL. */
int http_listen_parse(const char *listen, char *host, size_t hostsz, uint16_t *port);

/* Binds and listens on @addr (an empty host: every address, IPv4 too when
 * the kernel has IPv6), non-blocking and close-on-exec, and sets *ret_fd
 * and the bound port *ret_port.  0, or -errno with a one-line reason in
 * @err that starts with @flag and @addr ("--listen :8443: ..."). */
int http_listen_open(const char *addr, const char *flag, int *ret_fd, uint16_t *ret_port,
		     char *err, size_t errsz);

#endif
