/* throttle.c - the brakes on actions (SPEC §4): a global token bucket
 * (--max-actions-per-minute) and an exponential backoff per owning
 * workload, so a Deployment whose replacement pods drift again is not
 * deleted in a tight loop.  Pure: the caller passes the time. */
#include "throttle.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "hash.h"
#include "xalloc.h"

/* ---- the bucket ------------------------------------------------------------ */

void throttle_bucket_init(struct throttle_bucket *b, double per_minute, int64_t now_ms)
{
	b->per_ms = per_minute > 0 ? per_minute / 60000.0 : 0;
	b->burst = per_minute > 0 ? per_minute : 0;
	b->tokens = b->burst;
	b->last_ms = now_ms;
}

int64_t throttle_bucket_take(struct throttle_bucket *b, int64_t now_ms)
{
	if (b->per_ms <= 0)
		return 0;
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * b->per_ms;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ms = now_ms;
	}
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	return (int64_t)ceil((1.0 - b->tokens) / b->per_ms);
}

void throttle_bucket_refund(struct throttle_bucket *b)
{
	if (b->per_ms <= 0)
		return;
	b->tokens += 1.0;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
}

/* ---- owner backoff ------------------------------------------------------------ */

#define QUIET_MIN_MS (10 * 60 * 1000)

struct owner {
	struct smap_node node;
	unsigned n;             /* actions in the streak */
	int64_t last_ms;
	char uid[];
};

struct throttle_backoff {
	struct smap map;
	int64_t base_ms, cap_ms;
	size_t max;
};

struct throttle_backoff *throttle_backoff_new(int64_t base_ms, int64_t cap_ms, size_t max)
{
	struct throttle_backoff *ob = pg_calloc(1, sizeof(*ob));

	if (!ob)
		return NULL;
	ob->base_ms = base_ms > 0 ? base_ms : 30000;
	ob->cap_ms = cap_ms > 0 ? cap_ms : 3600000;
	ob->max = max ? max : 100000;
	return ob;
}

static void free_owner(void *ud, struct smap_node *n)
{
	pg_free(smap_entry(n, struct owner, node));
}

void throttle_backoff_clear(struct throttle_backoff *ob)
{
	smap_clear(&ob->map, free_owner, NULL);
}

struct throttle_backoff *throttle_backoff_free(struct throttle_backoff *ob)
{
	if (!ob)
		return NULL;
	throttle_backoff_clear(ob);
	pg_free(ob);
	return NULL;
}

int64_t throttle_backoff_delay(const struct throttle_backoff *ob, unsigned n)
{
	int64_t d = ob->base_ms;

	if (n == 0)
		return 0;
	for (unsigned i = 1; i < n && d < ob->cap_ms; i++)
		d *= 2;
	return d < ob->cap_ms ? d : ob->cap_ms;
}

/* A streak ends when the owner stayed quiet this long after its last
 * action. */
static int64_t quiet_ms(const struct throttle_backoff *ob, unsigned n)
{
	int64_t q = 2 * throttle_backoff_delay(ob, n);

	return q > QUIET_MIN_MS ? q : QUIET_MIN_MS;
}

static bool streak_over(const struct throttle_backoff *ob, const struct owner *o, int64_t now_ms)
{
	return now_ms - o->last_ms > quiet_ms(ob, o->n);
}

int64_t throttle_backoff_wait(struct throttle_backoff *ob, const char *owner, int64_t now_ms,
			   unsigned *ret_n)
{
	struct smap_node *n = owner && *owner ? smap_get(&ob->map, owner) : NULL;
	struct owner *o = n ? smap_entry(n, struct owner, node) : NULL;
	int64_t until;

	if (ret_n)
		*ret_n = 0;
	if (!o || streak_over(ob, o, now_ms))
		return 0;
	if (ret_n)
		*ret_n = o->n;
	until = o->last_ms + throttle_backoff_delay(ob, o->n);
	return until > now_ms ? until - now_ms : 0;
}

struct prune_ctx {
	struct throttle_backoff *ob;
	int64_t now;
};

static bool prune_quiet(void *ud, struct smap_node *n)
{
	struct prune_ctx *p = ud;
	struct owner *o = smap_entry(n, struct owner, node);

	if (!streak_over(p->ob, o, p->now))
		return false;
	pg_free(o);
	return true;
}

int throttle_backoff_record(struct throttle_backoff *ob, const char *owner, int64_t now_ms)
{
	struct smap_node *n;
	struct owner *o;
	size_t len;

	if (!owner || !*owner)
		return 0;
	n = smap_get(&ob->map, owner);
	if (n) {
		o = smap_entry(n, struct owner, node);
		o->n = streak_over(ob, o, now_ms) ? 1 : o->n + 1;
		o->last_ms = now_ms;
		return 0;
	}
	if (ob->map.n >= ob->max) {
		struct prune_ctx p = { ob, now_ms };

		smap_filter(&ob->map, prune_quiet, &p);
		if (ob->map.n >= ob->max)
			return -ENOMEM;
	}
	len = strlen(owner);
	o = pg_calloc(1, sizeof(*o) + len + 1);
	if (!o)
		return -ENOMEM;
	memcpy(o->uid, owner, len + 1);
	o->node.key = o->uid;
	o->n = 1;
	o->last_ms = now_ms;
	if (smap_put(&ob->map, &o->node) < 0) {
		pg_free(o);
		return -ENOMEM;
	}
	return 0;
}
