/* recorder.h - Event names, notes and the series cache of the
 * controller's Event recorder. */
#ifndef PG_RECORDER_H
#define PG_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#define RECORDER_NAME_MAX 254

/* The name of the Event for one finding group, fixed by (pod UID, reason,
 * action, profile), so repeats fold into one Event even across restarts
 * and leader changes, and what was done differently is a new Event:
 * "<pod name>.<16 hex>", a valid DNS subdomain.  @action NULL or
 * "Record": the name of a recorded Event. */
void recorder_event_name(char out[RECORDER_NAME_MAX], const char *pod, const char *pod_uid,
			 const char *reason, const char *action, const char *profile_key);
/* The API server's cap on a note, cut on a UTF-8 boundary: the length to
 * keep of @s. */
size_t recorder_note_len(const char *s);

/* Remembers the count of every Event written lately, so a repeat is one
 * series PATCH instead of a read. */
struct recorder;

/* @max entries, each forgotten @ttl_ms after its last write. */
struct recorder *recorder_new(size_t max, int64_t ttl_ms);
struct recorder *recorder_free(struct recorder *rc);
/* The count of @name's series (1 for an Event without one), 0 when not
 * known. */
int32_t recorder_count(struct recorder *rc, const char *name, int64_t now_ms);
/* Records that @name now has @count.  0 or -ENOMEM. */
int recorder_store(struct recorder *rc, const char *name, int32_t count, int64_t now_ms);
void recorder_forget(struct recorder *rc, const char *name);
/* When @name was last written (ticker_now_ms), -1 when not known. */
int64_t recorder_written_ms(struct recorder *rc, const char *name, int64_t now_ms);
/* The note of an Event that folds @count findings of one reason (found
 * while it waited): how many, the @latest evidence, and the @samples of
 * earlier ones named, appended to @out.  @count <= 1: @latest alone.
 * 0, or the first error of buf_printf() (a piece past @out's max is left
 * out; the rest is kept). */
struct buf;
int recorder_fold_note(struct buf *out, int64_t count, const char *latest,
		       const char *const *samples, size_t nsamples);
void recorder_clear(struct recorder *rc);
size_t recorder_size(const struct recorder *rc);

#endif
