/* recorder.c - how the controller names its Events and remembers their
 * series.  One Event per (pod UID, reason, profile, action): its name is
 * derived from those, so a repeat folds into the same object whoever
 * writes it, this process, a restarted one or the next leader, while a
 * Delete after a Record (the profile switched to Enforce) is an Event of
 * its own, as kube-apiserver's isomorphic-Event rule has it. */
#include "recorder.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "hash.h"
#include "xalloc.h"

#define POD_PART_MAX 200
#define NOTE_MAX 1024

void recorder_event_name(char out[RECORDER_NAME_MAX], const char *pod, const char *pod_uid,
			 const char *reason, const char *action, const char *profile_key)
{
	uint64_t h = HASH_FNV64_BASIS;
	size_t n = pod ? strlen(pod) : 0;

	h = hash_fnv1a64_field(h, pod_uid);
	h = hash_fnv1a64_field(h, reason);
	/* "Record" adds nothing: the names of recorded Events stay those
	 * of earlier releases, which keep folding across an upgrade. */
	if (action && strcmp(action, "Record") != 0)
		h = hash_fnv1a64_field(h, action);
	h = hash_fnv1a64_field(h, profile_key);
	if (n > POD_PART_MAX)
		n = POD_PART_MAX;
	/* A cut name may end in '-' or '.': a DNS subdomain may not. */
	while (n > 0 && !isalnum((unsigned char)pod[n - 1]))
		n--;
	if (n == 0)
		snprintf(out, RECORDER_NAME_MAX, "profileguard.%016llx", (unsigned long long)h);
	else
		snprintf(out, RECORDER_NAME_MAX, "%.*s.%016llx", (int)n, pod, (unsigned long long)h);
}

size_t recorder_note_len(const char *s)
{
	size_t n = strlen(s);

	if (n <= NOTE_MAX)
		return n;
	n = NOTE_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* ---- the series cache ------------------------------------------------------------ */

struct rentry {
	struct smap_node node;
	int32_t count;
	int64_t last_ms;
	char name[];
};

struct recorder {
	struct smap map;
	size_t max;
	int64_t ttl_ms;
};

struct recorder *recorder_new(size_t max, int64_t ttl_ms)
{
	struct recorder *rc = pg_calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	rc->max = max ? max : 50000;
	rc->ttl_ms = ttl_ms > 0 ? ttl_ms : 55 * 60 * 1000;
	return rc;
}

static void free_entry(void *ud, struct smap_node *n)
{
	pg_free(smap_entry(n, struct rentry, node));
}

void recorder_clear(struct recorder *rc)
{
	smap_clear(&rc->map, free_entry, NULL);
}

struct recorder *recorder_free(struct recorder *rc)
{
	if (!rc)
		return NULL;
	recorder_clear(rc);
	pg_free(rc);
	return NULL;
}

size_t recorder_size(const struct recorder *rc)
{
	return rc->map.n;
}

int32_t recorder_count(struct recorder *rc, const char *name, int64_t now_ms)
{
	struct smap_node *n = smap_get(&rc->map, name);
	struct rentry *e;

	if (!n)
		return 0;
	e = smap_entry(n, struct rentry, node);
	if (now_ms - e->last_ms > rc->ttl_ms) {
		/* The API server has likely dropped it (Events live an hour). */
		smap_del(&rc->map, name);
		pg_free(e);
		return 0;
	}
	return e->count;
}

struct expire_ctx {
	const struct recorder *rc;
	int64_t now;
};

static bool expired(void *ud, struct smap_node *n)
{
	struct expire_ctx *x = ud;
	struct rentry *e = smap_entry(n, struct rentry, node);

	if (x->now - e->last_ms <= x->rc->ttl_ms)
		return false;
	pg_free(e);
	return true;
}

int recorder_store(struct recorder *rc, const char *name, int32_t count, int64_t now_ms)
{
	struct smap_node *n = smap_get(&rc->map, name);
	struct rentry *e;
	size_t len;

	if (n) {
		e = smap_entry(n, struct rentry, node);
		e->count = count;
		e->last_ms = now_ms;
		return 0;
	}
	if (rc->map.n >= rc->max) {
		struct expire_ctx x = { rc, now_ms };

		smap_filter(&rc->map, expired, &x);
		if (rc->map.n >= rc->max)
			return -ENOMEM;
	}
	len = strlen(name);
	e = pg_calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->name, name, len + 1);
	e->node.key = e->name;
	e->count = count;
	e->last_ms = now_ms;
	if (smap_put(&rc->map, &e->node) < 0) {
		pg_free(e);
		return -ENOMEM;
	}
	return 0;
}

void recorder_forget(struct recorder *rc, const char *name)
{
	struct smap_node *n = smap_del(&rc->map, name);

	if (n)
		pg_free(smap_entry(n, struct rentry, node));
}

int64_t recorder_written_ms(struct recorder *rc, const char *name, int64_t now_ms)
{
	struct smap_node *n;

	if (recorder_count(rc, name, now_ms) <= 0)
		return -1;
	n = smap_get(&rc->map, name);
	return n ? smap_entry(n, struct rentry, node)->last_ms : -1;
}

/* ---- folded notes ------------------------------------------------------------------ */

int recorder_fold_note(struct buf *out, int64_t count, const char *latest,
		       const char *const *samples, size_t nsamples)
{
	int r, first = 0;

	if (count <= 1)
		return buf_adds(out, latest ? latest : "");
	/* The count first and the few named next, so the API server's cut
	 * at 1 KiB only shortens the latest evidence; a piece that does not
	 * fit @out is left out whole. */
	first = buf_printf(out, "%lld findings of this reason since the last Event",
			   (long long)count);
	for (size_t i = 0; i < nsamples; i++) {
		r = buf_printf(out, "%s%s", i ? "; " : "; earlier ones, e.g.: ", samples[i]);
		if (r < 0 && !first)
			first = r;
	}
	r = buf_printf(out, "; latest: %s", latest ? latest : "");
	if (r < 0 && !first)
		first = r;
	return first;
}
