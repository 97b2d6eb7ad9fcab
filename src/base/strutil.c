/* strutil.c - string helpers: patterns, strict numbers, Kubernetes names. */
#include "strutil.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

bool glob_has_wildcard(const char *pattern)
{
	return strpbrk(pattern, "*?") != NULL;
}

/* Greedy matcher with one backtrack point: the classic linear algorithm,
 * since '*' is the only variable-length token. */
bool glob_match(const char *p, const char *s)
{
	const char *star = NULL, *retry = NULL;

	while (*s) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (!*p)
				return true;
			star = p;
			retry = s;
			continue;
		}
		if (*p == '?' || *p == *s) {
			p++;
			s++;
			continue;
		}
		if (!star)
			return false;
		p = star;
		s = ++retry;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

size_t str_utf8_len(const char *str, size_t avail)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned c = s[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

size_t str_utf8_cut(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	/* Back off continuation bytes (10xxxxxx) to the lead byte of the
	 * sequence that would be cut, and cut before it. */
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int str_to_u64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

int str_to_i64(const char *s, int64_t *ret)
{
	uint64_t v;
	bool neg = false;
	int r;

	if (s && (*s == '-' || *s == '+')) {
		neg = *s == '-';
		s++;
	}
	r = str_to_u64(s, &v);
	if (r < 0)
		return r;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		*ret = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > INT64_MAX)
			return -ERANGE;
		*ret = (int64_t)v;
	}
	return 0;
}

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool dns_label_n(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return false;
	if (!is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum_lower(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool str_is_dns1123_label(const char *s)
{
	return dns_label_n(s, strlen(s));
}

bool str_is_dns1123_subdomain(const char *s)
{
	size_t n = strlen(s);
	const char *start = s;

	if (n == 0 || n > 253)
		return false;
	for (const char *p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (!dns_label_n(start, (size_t)(p - start)))
				return false;
			if (!*p)
				return true;
			start = p + 1;
		}
	}
}

/* Qualified name part: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, <= 63. */
static bool qualified_name_n(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return false;
	if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

bool str_is_label_key(const char *s)
{
	const char *slash = strchr(s, '/');

	if (slash) {
		char prefix[254];
		size_t n = (size_t)(slash - s);

		if (n == 0 || n >= sizeof(prefix))
			return false;
		memcpy(prefix, s, n);
		prefix[n] = '\0';
		if (!str_is_dns1123_subdomain(prefix))
			return false;
		s = slash + 1;
	}
	return qualified_name_n(s, strlen(s));
}

bool str_is_label_value(const char *s)
{
	size_t n = strlen(s);

	return n == 0 || qualified_name_n(s, n);
}

int path_clean(const char *in, char *out, size_t outsz)
{
	size_t len = 0;

	if (in[0] != '/' || outsz < 2)
		return -EINVAL;
	out[len++] = '/';
	for (const char *p = in; *p;) {
		const char *seg;
		size_t n;

		while (*p == '/')
			p++;
		seg = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - seg);
		if (n == 0 || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			/* Back up to the previous '/', never above the root. */
			while (len > 1 && out[len - 1] != '/')
				len--;
			if (len > 1)
				len--;
			continue;
		}
		if (len > 1)
			out[len++] = '/';
		if (len + n + 1 > outsz)
			return -ENAMETOOLONG;
		memcpy(out + len, seg, n);
		len += n;
	}
	out[len] = '\0';
	return 0;
}

bool path_has_prefix(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (n == 1 && prefix[0] == '/')
		return path[0] == '/';
	if (strncmp(path, prefix, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/';
}
