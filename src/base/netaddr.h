/* netaddr.h - IPv4/IPv6 addresses and CIDR blocks for egress rules. */
#ifndef PG_NETADDR_H
#define PG_NETADDR_H

#include <stdbool.h>
#include <stdint.h>

struct netaddr {
	uint8_t family;         /* 4 or 6 */
	uint8_t bytes[16];      /* IPv4 in the first 4 */
};

struct cidr {
	struct netaddr addr;    /* host bits cleared */
	uint8_t prefix;
};

/* Strict text forms; IPv4-mapped IPv6 (::ffff:a.b.c.d) is read as IPv4
 * so a rule on 10.0.0.0/8 also covers a socket that reports the mapped
 * form.  0 or -EINVAL. */
int netaddr_parse(const char *s, struct netaddr *ret);
/* "10.0.0.0/8", "fd00::/8"; a bare address is a /32 or /128.  Host bits
 * set ("10.0.0.1/8") are accepted and cleared, as Kubernetes
 * NetworkPolicy ipBlock does not, but users expect. -EINVAL otherwise. */
int cidr_parse(const char *s, struct cidr *ret);
bool cidr_contains(const struct cidr *c, const struct netaddr *a);
/* Whether @lo and @hi are the lower and the upper half of one block
 * (same family and prefix p > 0, equal but for bit p-1): together they
 * are exactly @lo with prefix p-1, which is how learn merges the
 * addresses it saw into CIDRs that allow nothing more. */
bool cidr_siblings(const struct cidr *lo, const struct cidr *hi);

#endif
