/* kube_util.c - percent encoding and jitter for the Kubernetes client. */
#include "kube_util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "buf.h"
#include "ticker.h"

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

uint64_t kube_rand(void)
{
	static _Thread_local uint64_t state;
	uint64_t x;

	if (state == 0) {
		int64_t ns;

		if (getrandom(&state, sizeof(state), GRND_NONBLOCK) != sizeof(state)) {
			/* the nanoseconds and a stack address: differ per thread and run */
			ns = ticker_now_ns() % 1000000000;
			state = (uint64_t)ns * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)&ns;
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
