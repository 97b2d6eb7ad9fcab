/* kube_retry.c - token bucket, backoff and Retry-After arithmetic. */
#include "kube_retry.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

void kube_bucket_init(struct kube_bucket *b, double qps, unsigned burst, int64_t now_ns)
{
	b->rate = qps;
	b->burst = burst ? burst : 1;
	b->tokens = b->burst;
	b->last_ns = now_ns;
}

int64_t kube_bucket_reserve(struct kube_bucket *b, int64_t now_ns)
{
	if (b->rate <= 0)
		return 0;
	if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) * b->rate / 1e9;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ns = now_ns;
	}
	b->tokens -= 1;
	if (b->tokens >= 0)
		return 0;
	return (int64_t)(-b->tokens / b->rate * 1e9) + 1;
}

int64_t kube_backoff_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms, uint64_t rnd)
{
	int64_t d = base_ms > 0 ? base_ms : 1;

	for (unsigned i = 0; i < attempt && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	if (d < 2)
		return d;
	return d / 2 + (int64_t)(rnd % (uint64_t)(d / 2 + 1));
}

bool kube_watch_progressed(int err, uint64_t delivered, int64_t ran_ms)
{
	return delivered > 0 || (err == 0 && ran_ms >= KUBE_WATCH_QUIET_OK_MS);
}

int kube_retry_after_parse(const char *value, time_t now, int64_t *ret_seconds)
{
	const char *p = value;
	int64_t v = 0;
	time_t t;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p >= '0' && *p <= '9') {
		for (; *p >= '0' && *p <= '9'; p++) {
			if (v > (INT64_MAX - 9) / 10)
				return -EINVAL;
			v = v * 10 + (*p - '0');
		}
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p)
			return -EINVAL;
		*ret_seconds = v;
		return 0;
	}
	/* An HTTP-date: curl already knows every form RFC 9110 allows. */
	if (!*p || strlen(p) > 64)
		return -EINVAL;
	t = curl_getdate(p, NULL);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret_seconds = t > now ? (int64_t)(t - now) : 0;
	return 0;
}
