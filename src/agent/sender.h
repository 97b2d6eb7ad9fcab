/* sender.h - delivery of the agent's events to the controller
 * (SPEC §5.1 POST /telemetry/v1/events): a bounded queue that drops its
 * oldest events when full, batches of JSON lines POSTed over verified
 * TLS by a thread of its own with the agent's bearer token (re-read as
 * the kubelet rotates it, and after a 401), and exponential backoff with
 * jitter while the controller is away.  An event leaves the queue only
 * once the controller has answered 2xx for its batch. */
#ifndef PG_SENDER_H
#define PG_SENDER_H

#include <stddef.h>
#include <stdint.h>

struct metrics;

#define SENDER_DEFAULT_MAX_QUEUE 10000
#define SENDER_DEFAULT_MAX_BATCH 1000
#define SENDER_DEFAULT_MAX_BATCH_BYTES (4u * 1024 * 1024)
#define SENDER_MAX_TOKEN_BYTES (16u * 1024)

struct sender_config {
	const char *url;                /* https://.../telemetry/v1/events */
	const char *ca_file;            /* PEM; NULL: the system's CAs */
	const char *token_file;         /* NULL: requests carry no token */
	size_t max_queue;               /* 0: SENDER_DEFAULT_MAX_QUEUE */
	size_t max_batch;               /* 0: SENDER_DEFAULT_MAX_BATCH */
	size_t max_batch_bytes;         /* 0: SENDER_DEFAULT_MAX_BATCH_BYTES */
	unsigned connect_timeout_ms;    /* 0: 5 s */
	unsigned timeout_ms;            /* a whole request; 0: 30 s */
	unsigned backoff_min_ms;        /* 0: 500 ms */
	unsigned backoff_max_ms;        /* 0: 30 s */
	unsigned token_reread_s;        /* 0: 60 s */
	struct metrics *metrics;        /* borrowed; NULL: no metrics */
};

struct sender_stats {
	uint64_t queued;                /* events pushed */
	uint64_t accepted;              /* the controller's "accepted" counts */
	uint64_t rejected;              /* its "rejected" counts */
	uint64_t dropped;               /* oldest dropped from a full queue, or
	                                 * in a batch the controller refused */
	uint64_t posts;                 /* requests answered 2xx */
	uint64_t failures;              /* requests that were not */
	uint64_t token_reads;           /* times the token file was read */
	size_t queue_len;
};

struct sender;

/* Starts the sending thread (curl_global_init() must have been called).
 * The strings of @cfg are copied.  0, or -errno with a reason in @err. */
int sender_new(const struct sender_config *cfg, struct sender **ret, char *err, size_t errsz);
/* Queues a copy of one JSON line.  A full queue drops its oldest event
 * (counted) to make room.  0 or -ENOMEM. */
int sender_push(struct sender *s, const char *line, size_t len);
/* A sample has ended: send what is queued now (unless backing off). */
void sender_kick(struct sender *s);
void sender_get_stats(struct sender *s, struct sender_stats *ret);
/* Tries for up to @flush_ms to deliver what is still queued, backoff
 * ignored, then stops the thread and frees everything.  What could not
 * be sent is counted as dropped and logged.  NULL-safe; returns NULL. */
struct sender *sender_stop(struct sender *s, unsigned flush_ms);

/* The delay before retry number @failures (1 for the first retry):
 * min(max, min * 2^(failures-1)), jittered down by up to half with
 * @rnd, so agents that lost the controller together do not come back
 * together.  Pure, for tests. */
unsigned sender_backoff_ms(unsigned failures, unsigned min_ms, unsigned max_ms, uint64_t rnd);

#endif
