/* strutil.c - string helpers: patterns, strict numbers, Kubernetes names. */
#include "strutil.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "xalloc.h"

bool glob_has_wildcard(const char *pattern)
{
	return strpbrk(pattern, "*?") != NULL;
}

/* ---- patterns -------------------------------------------------------------------
 *
 * A pattern is segments separated by runs of '*'; each segment is a fixed
 * number of bytes, '?' standing for any one.  The text matches when the
 * first segment is its start, the last its end, and the middle ones occur
 * in order without overlapping between them.  Taking each middle segment
 * at its leftmost occurrence is enough: a match that used a later one
 * could use the leftmost instead, leaving more text for the rest.  Each
 * occurrence is found by a search linear in the text it scans, and the
 * next search starts where that occurrence ends, so the whole match costs
 * O(n + m) for segments without '?' (Crochemore-Perrin two-way: no table,
 * constant space) and O(n * ceil(k / 64)) for a segment of k bytes with a
 * '?' (Shift-And, 64 pattern positions per word).  The matcher it
 * replaces retried every start position of the last '*' and cost O(n * m):
 * seconds per pod against 4 KB patterns a profile may hold (SPEC §2
 * "Bounds").  '?' is one byte, as it always was here. */

/* Whether the k pattern bytes at @p match the k text bytes at @s. */
static bool seg_eq(const unsigned char *p, const unsigned char *s, size_t k)
{
	for (size_t i = 0; i < k; i++)
		if (p[i] != '?' && p[i] != s[i])
			return false;
	return true;
}

/* The maximal suffix of x[0..m) under byte order (@rev: the reverse
 * order) and its period: half of the two-way critical factorisation.
 * Returns its start minus one, -1 for the whole word. */
static ptrdiff_t tw_max_suffix(const unsigned char *x, ptrdiff_t m, bool rev, ptrdiff_t *ret_period)
{
	ptrdiff_t ms = -1, j = 0, k = 1, p = 1;

	while (j + k < m) {
		unsigned a = x[j + k], b = x[ms + k];

		if (rev ? a > b : a < b) {
			/* the suffix at ms+1 stays the maximum; its period grows */
			j += k;
			k = 1;
			p = j - ms;
		} else if (a == b) {
			if (k == p) {
				j += p;
				k = 1;
			} else {
				k++;
			}
		} else {
			/* a larger suffix starts at j+1 */
			ms = j;
			j = ms + 1;
			k = p = 1;
		}
	}
	*ret_period = p;
	return ms;
}

/* Leftmost occurrence of x[0..m) (m >= 1, no '?') in y[0..n): its offset,
 * or -1.  Two-way string matching: compare the right half of the critical
 * factorisation left to right, then the left half right to left; a
 * mismatch shifts past what was compared, and in a periodic word the part
 * already known to match is remembered, so no text byte is compared more
 * than twice. */
static ptrdiff_t tw_search(const unsigned char *x, ptrdiff_t m, const unsigned char *y, ptrdiff_t n)
{
	ptrdiff_t p1, p2, ell, per, j = 0;
	ptrdiff_t s1 = tw_max_suffix(x, m, false, &p1), s2 = tw_max_suffix(x, m, true, &p2);

	if (s1 > s2) {
		ell = s1;
		per = p1;
	} else {
		ell = s2;
		per = p2;
	}
	if (memcmp(x, x + per, (size_t)(ell + 1)) == 0) {
		ptrdiff_t memory = -1;

		while (j <= n - m) {
			ptrdiff_t i = (ell > memory ? ell : memory) + 1;

			while (i < m && x[i] == y[i + j])
				i++;
			if (i < m) {
				j += i - ell;
				memory = -1;
				continue;
			}
			for (i = ell; i > memory && x[i] == y[i + j]; i--)
				;
			if (i <= memory)
				return j;
			j += per;
			memory = m - per - 1;
		}
		return -1;
	}
	per = (ell + 1 > m - ell - 1 ? ell + 1 : m - ell - 1) + 1;
	while (j <= n - m) {
		ptrdiff_t i = ell + 1;

		while (i < m && x[i] == y[i + j])
			i++;
		if (i < m) {
			j += i - ell;
			continue;
		}
		for (i = ell; i >= 0 && x[i] == y[i + j]; i--)
			;
		if (i < 0)
			return j;
		j += per;
	}
	return -1;
}

/* Words of Shift-And state kept on the stack; a segment that needs more
 * (many distinct bytes in a long segment with '?') takes them from the
 * heap. */
#define SA_STACK_WORDS 512

/* Leftmost occurrence of x[0..m) (m >= 1, with '?') in y[0..n), or -1;
 * -ENOMEM as -2.  Shift-And: bit i of the state says x[0..i] matches the
 * text ending here; one row of masks per distinct byte of @x (row 0:
 * the '?' positions, which match any byte). */
static ptrdiff_t sa_search(const unsigned char *x, ptrdiff_t m, const unsigned char *y, ptrdiff_t n)
{
	uint64_t stack_words[SA_STACK_WORDS], *rows, *d;
	uint16_t row_of[256] = { 0 };
	size_t w = ((size_t)m + 63) / 64, nrows = 1, last = (size_t)(m - 1);
	ptrdiff_t ret = -1;

	for (ptrdiff_t i = 0; i < m; i++)
		if (x[i] != '?' && !row_of[x[i]])
			row_of[x[i]] = (uint16_t)nrows++;
	if ((nrows + 1) * w <= SA_STACK_WORDS) {
		rows = stack_words;
	} else {
		rows = pg_malloc((nrows + 1) * w * sizeof(*rows));
		if (!rows)
			return -2;
	}
	memset(rows, 0, (nrows + 1) * w * sizeof(*rows));
	d = rows + nrows * w;
	for (size_t i = 0; i < (size_t)m; i++) {
		uint64_t bit = (uint64_t)1 << (i % 64);

		if (x[i] == '?')
			for (size_t r = 0; r < nrows; r++)
				rows[r * w + i / 64] |= bit;
		else
			rows[row_of[x[i]] * w + i / 64] |= bit;
	}
	for (ptrdiff_t t = 0; t < n; t++) {
		const uint64_t *row = rows + row_of[y[t]] * w;
		/* Only words that can hold a live bit are stepped: bits past t
		 * are not set yet, and a bit below m-n+t can no longer reach
		 * m-1 before the text ends (what carries into the lowest word
		 * stepped lies below that too).  Halves the work when the
		 * segment is about half the text. */
		ptrdiff_t live = m - n + t;
		size_t lo = live > 0 ? (size_t)(live - 1) / 64 : 0, hi = (size_t)t / 64;
		uint64_t carry = lo == 0;

		if (hi > w - 1)
			hi = w - 1;
		for (size_t k = lo; k <= hi; k++) {
			uint64_t next = d[k] >> 63;

			d[k] = ((d[k] << 1) | carry) & row[k];
			carry = next;
		}
		if ((d[last / 64] >> (last % 64)) & 1) {
			ret = t - m + 1;
			break;
		}
	}
	if (rows != stack_words)
		pg_free(rows);
	return ret;
}

/* Leftmost occurrence of the segment x[0..k) in y[0..n): its offset, -1
 * when there is none, -2 when memory ran out.  '?' at either end only
 * needs room, so the search is for what lies between. */
static ptrdiff_t seg_find(const unsigned char *x, size_t k, const unsigned char *y, size_t n)
{
	size_t a = 0, b = 0;
	ptrdiff_t r;

	if (k > n)
		return -1;
	while (a < k && x[a] == '?')
		a++;
	while (b < k - a && x[k - 1 - b] == '?')
		b++;
	if (a + b == k)
		return 0;
	if (memchr(x + a, '?', k - a - b))
		r = sa_search(x + a, (ptrdiff_t)(k - a - b), y + a, (ptrdiff_t)(n - a - b));
	else
		r = tw_search(x + a, (ptrdiff_t)(k - a - b), y + a, (ptrdiff_t)(n - a - b));
	return r;
}

bool glob_match(const char *pattern, const char *str)
{
	const unsigned char *p = (const unsigned char *)pattern, *s = (const unsigned char *)str;
	const unsigned char *star = (const unsigned char *)strchr(pattern, '*'), *last_star, *tail;
	size_t n = strlen(str), head, ntail, pos, end;

	if (!star) {
		size_t k = strlen(pattern);

		return k == n && seg_eq(p, s, k);
	}
	head = (size_t)(star - p);
	last_star = (const unsigned char *)strrchr(pattern, '*');
	tail = last_star + 1;
	ntail = strlen((const char *)tail);
	if (head > n || ntail > n - head || !seg_eq(p, s, head) || !seg_eq(tail, s + n - ntail, ntail))
		return false;
	pos = head;
	end = n - ntail;
	for (const unsigned char *q = star; q < last_star;) {
		const unsigned char *next;
		ptrdiff_t at;

		while (*q == '*')
			q++;
		if (q > last_star)
			break;
		next = memchr(q, '*', (size_t)(last_star - q) + 1);
		at = seg_find(q, (size_t)(next - q), s + pos, end - pos);
		if (at < 0)
			return false;   /* not there, or no memory: nothing is allowed on a guess */
		pos += (size_t)at + (size_t)(next - q);
		q = next;
	}
	return true;
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

int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

size_t str_edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t row[64];

	if (la >= sizeof(row) / sizeof(row[0]) || lb >= sizeof(row) / sizeof(row[0]))
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

const char *str_closest(const char *w, const char *const *v, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < n && v[i]; i++) {
		size_t d = str_edit_distance(w, strlen(w), v[i], strlen(v[i]));

		if (d < best_d) {
			best_d = d;
			best = v[i];
		}
	}
	return best;
}

const char *str_quote(const char *s, char *tmp, size_t n)
{
	size_t cut = str_utf8_cut(s, 200);

	snprintf(tmp, n, "\"%.*s%s\"", (int)cut, s, s[cut] ? "..." : "");
	return tmp;
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
