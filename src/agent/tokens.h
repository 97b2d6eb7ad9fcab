/* tokens.h - the claims of a pod's projected service-account token,
 * and only the claims: the JWT's payload segment is decoded, its header
 * and signature are never looked at, and the token text never leaves the
 * buffer it was read into (zeroed before that is freed).  What comes out
 * is numbers and a UID: nothing in it could authenticate anyone.  Below
 * that, the sampler's pass over the pods' projected volumes. */
#ifndef PG_TOKENS_H
#define PG_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ktab.h"

/* A projected token is a few hundred bytes to a few KiB; anything bigger
 * is not one, and is never read whole. */
#define TOKENS_MAX_BYTES (16u * 1024)

struct tokens_claims {
	int64_t iat;                    /* -1: absent */
	int64_t exp;                    /* -1: absent */
	int64_t nbf;                    /* -1: absent */
	char pod_uid[40];               /* kubernetes.io.pod.uid; "" when absent */
};

/* Decodes the claims of the compact JWT @jwt (@len bytes, surrounding
 * whitespace allowed): three base64url segments without padding, the
 * second a JSON object.  0; -EINVAL when it is not a JWT, the payload is
 * not base64url or not a JSON object, or a claim has the wrong type;
 * -E2BIG past TOKENS_MAX_BYTES; -ENOMEM.  *ret is left alone on error. */
int tokens_decode(const char *jwt, size_t len, struct tokens_claims *ret);

/* Reads the token file @name relative to @dirfd (a symlink into the
 * projected volume's ..data is followed; a FIFO or a directory is
 * refused), decodes it, and zeroes every copy of the text.  0, -E2BIG
 * for a file over TOKENS_MAX_BYTES, -EINVAL, or negative errno. */
int tokens_read_at(int dirfd, const char *name, struct tokens_claims *ret);

/* ---- for the sampler (scan.c) --------------------------------------------- */

/* What the sampler remembers of the projected tokens of the node's pods:
 * per (pod, volume), the claims last reported and the problem last told.
 * Zeroed: nothing yet. */
struct tokens_seen {
	struct ktab toks;               /* "<pod uid>/<volume>" -> its record */
};

/* Where tokens_scan() sends what it finds. */
struct tokens_sink {
	/* A token's iat and exp, new for its (pod, volume): 0, or -errno,
	 * which ends the scan and leaves the token unreported. */
	int (*report)(void *ud, const char *pod_uid, const char *volume, int64_t iat, int64_t exp);
	/* Told once per (pod, volume) and problem (see scan_config.warn);
	 * @detail never holds token text.  NULL: not told. */
	void (*warn)(void *ud, const char *what, const char *pod_uid, const char *volume,
		     const char *detail);
	void *warn_ud;
	void *ud;                       /* report's */
};

/* Reads the token of every projected volume of every pod under @pods_dir
 * (the kubelet's pod directory; NULL, "" or missing: nothing), marking each
 * seen in sample @gen, and reports those new or renewed since the last
 * report.  @seed keys the table's hash.  0, or the first error of the sink
 * or -ENOMEM; an unreadable token is warned of, not an error. */
int tokens_scan(struct tokens_seen *ts, const char *pods_dir, uint64_t seed, uint64_t gen,
		const struct tokens_sink *sink);
/* Drops the volumes not seen in sample @gen.  Out of memory, a live one
 * is dropped too: it is then reported again, never lost. */
void tokens_forget(struct tokens_seen *ts, uint64_t gen);
/* Frees what @ts holds, not @ts. */
void tokens_seen_free(struct tokens_seen *ts);

#endif
