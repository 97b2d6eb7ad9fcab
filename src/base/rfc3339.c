/* rfc3339.c - RFC 3339 times (include/rfc3339.h): a strict reader that
 * takes exactly the digits it expects, so "+0a:00" or "2024-1-5" is an
 * error rather than a time somewhere else. */
#include "rfc3339.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

int rfc3339_format(const struct timespec *ts, int micro, char out[RFC3339_MAX])
{
	struct tm tm;
	size_t n;

	if (!gmtime_r(&ts->tv_sec, &tm))
		return -EINVAL;
	n = strftime(out, RFC3339_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return -EINVAL;
	if (micro)
		snprintf(out + n, RFC3339_MAX - n, ".%06ldZ", (long)(ts->tv_nsec / 1000));
	else
		snprintf(out + n, RFC3339_MAX - n, "Z");
	return 0;
}

/* Reads exactly @n digits. */
static bool digits(const char **s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*s)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*s += n;
	*ret = v;
	return true;
}

static bool expect(const char **s, char c)
{
	if (**s != c)
		return false;
	(*s)++;
	return true;
}

int rfc3339_parse(const char *s, int64_t *ret_sec, long *ret_nsec)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, off = 0;
	long nsec = 0;
	time_t t;

	if (!s)
		return -EINVAL;
	if (!digits(&s, 4, &y) || !expect(&s, '-') || !digits(&s, 2, &mo) ||
	    !expect(&s, '-') || !digits(&s, 2, &d) || (*s != 'T' && *s != 't'))
		return -EINVAL;
	s++;
	if (!digits(&s, 2, &h) || !expect(&s, ':') || !digits(&s, 2, &mi) ||
	    !expect(&s, ':') || !digits(&s, 2, &sec))
		return -EINVAL;
	if (*s == '.') {
		long scale = 100000000;

		s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
			nsec += (*s - '0') * scale;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s++ == '-' ? -1 : 1, oh, om;

		if (!digits(&s, 2, &oh) || !expect(&s, ':') || !digits(&s, 2, &om) ||
		    oh > 23 || om > 59)
			return -EINVAL;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -EINVAL;
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*ret_sec = (int64_t)t - off;
	if (ret_nsec)
		*ret_nsec = nsec;
	return 0;
}
