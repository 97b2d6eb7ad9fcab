/* netaddr.c - address and CIDR parsing on top of inet_pton. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strutil.h"

int netaddr_parse(const char *s, struct netaddr *ret)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct netaddr a = { 0 };

	if (strlen(s) >= INET6_ADDRSTRLEN)
		return -EINVAL;
	if (inet_pton(AF_INET, s, a.bytes) == 1) {
		a.family = 4;
	} else if (inet_pton(AF_INET6, s, a.bytes) == 1) {
		a.family = 6;
		if (memcmp(a.bytes, mapped, sizeof(mapped)) == 0) {
			memmove(a.bytes, a.bytes + 12, 4);
			memset(a.bytes + 4, 0, 12);
			a.family = 4;
		}
	} else {
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

int cidr_parse(const char *s, struct cidr *ret)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	struct cidr c = { 0 };
	uint64_t prefix;
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max;

	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	/* Parse without IPv4-mapped folding: "::ffff:0:0/96" is IPv6. */
	if (inet_pton(AF_INET, host, c.addr.bytes) == 1)
		c.addr.family = 4;
	else if (inet_pton(AF_INET6, host, c.addr.bytes) == 1)
		c.addr.family = 6;
	else
		return -EINVAL;
	max = c.addr.family == 4 ? 32 : 128;
	if (slash) {
		if (str_to_u64(slash + 1, &prefix) < 0 || prefix > max ||
		    strlen(slash + 1) > 3)
			return -EINVAL;
	} else {
		prefix = max;
	}
	c.prefix = (uint8_t)prefix;
	for (unsigned bit = c.prefix; bit < max; bit++)
		c.addr.bytes[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	*ret = c;
	return 0;
}

bool cidr_contains(const struct cidr *c, const struct netaddr *a)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (c->addr.family != a->family)
		return false;
	if (memcmp(c->addr.bytes, a->bytes, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xffu << (8 - rest));

		return (c->addr.bytes[full] & mask) == (a->bytes[full] & mask);
	}
	return true;
}

static bool addr_bit(const uint8_t *b, unsigned i)
{
	return (b[i / 8] >> (7 - i % 8)) & 1;
}

bool cidr_siblings(const struct cidr *lo, const struct cidr *hi)
{
	unsigned p = lo->prefix;
	uint8_t x[16];

	if (p == 0 || lo->addr.family != hi->addr.family || hi->prefix != p ||
	    addr_bit(lo->addr.bytes, p - 1) || !addr_bit(hi->addr.bytes, p - 1))
		return false;
	memcpy(x, lo->addr.bytes, 16);
	x[(p - 1) / 8] |= (uint8_t)(0x80u >> ((p - 1) % 8));
	return memcmp(x, hi->addr.bytes, 16) == 0;
}
