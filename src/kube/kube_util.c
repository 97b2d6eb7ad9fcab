/* kube_util.c - percent encoding, API timestamps and jitter for the
 * Kubernetes client. */
#include "kube_util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "buf.h"

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int kube_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = out->len;
	int r = buf_add(out, "", 0);

	for (const unsigned char *p = (const unsigned char *)s; *p && r == 0; p++) {
		if (is_unreserved(*p)) {
			r = buf_addc(out, (char)*p);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

			r = buf_add(out, e, 3);
		}
	}
	if (r < 0)
		buf_truncate(out, start);
	return r;
}

int kube_query_append(struct buf *out, const struct kube_param *params)
{
	size_t start = out->len;
	char sep = '?';
	int r = 0;

	for (const struct kube_param *p = params; p && p->key && r == 0; p++) {
		if (!p->value)
			continue;
		r = buf_addc(out, sep);
		if (r == 0)
			r = kube_escape(out, p->key);
		if (r == 0)
			r = buf_addc(out, '=');
		if (r == 0)
			r = kube_escape(out, p->value);
		sep = '&';
	}
	if (r < 0)
		buf_truncate(out, start);
	return r;
}

int kube_time_format(const struct timespec *ts, int micro, char out[KUBE_TIME_MAX])
{
	struct tm tm;
	size_t n;

	if (!gmtime_r(&ts->tv_sec, &tm))
		return -EINVAL;
	n = strftime(out, KUBE_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return -EINVAL;
	if (micro)
		snprintf(out + n, KUBE_TIME_MAX - n, ".%06ldZ", (long)(ts->tv_nsec / 1000));
	else
		snprintf(out + n, KUBE_TIME_MAX - n, "Z");
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

int kube_time_parse(const char *s, int64_t *ret_epoch)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, off = 0;
	time_t t;

	if (!digits(&s, 4, &y) || !expect(&s, '-') || !digits(&s, 2, &mo) ||
	    !expect(&s, '-') || !digits(&s, 2, &d) || (*s != 'T' && *s != 't'))
		return -EINVAL;
	s++;
	if (!digits(&s, 2, &h) || !expect(&s, ':') || !digits(&s, 2, &mi) ||
	    !expect(&s, ':') || !digits(&s, 2, &sec))
		return -EINVAL;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		while (*s >= '0' && *s <= '9')
			s++;
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
	*ret_epoch = (int64_t)t - off;
	return 0;
}

uint64_t kube_rand(void)
{
	static _Thread_local uint64_t state;
	uint64_t x;

	if (state == 0) {
		struct timespec ts;

		if (getrandom(&state, sizeof(state), GRND_NONBLOCK) != sizeof(state)) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			state = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)&ts;
		}
		state |= 1;
	}
	/* xorshift64* */
	x = state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	state = x;
	return x * 0x2545F4914F6CDD1Dull;
}
