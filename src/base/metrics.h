/* metrics.h - a small thread-safe Prometheus registry: counters, gauges and
 * histograms with fixed label names, rendered in the text exposition format
 * (version 0.0.4).  Shared by the webhook and the controller.
 *
 * Registration and the first lookup of a label combination allocate; after
 * that the hot path is one atomic operation on a series the caller keeps
 * (look it up once, cache the pointer).  Every update function accepts
 * NULL, so a failed lookup (out of memory, too many series) costs a
 * missing sample, never a crash. */
#ifndef PG_METRICS_H
#define PG_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

struct metrics;         /* a registry */
struct metric_vec;      /* a family: name, help, type, label names */
struct metric;          /* one series of a family */

/* The most series one family holds: label values a peer influences can
 * never grow the registry without bound. */
#define METRICS_MAX_SERIES 4096
#define METRICS_MAX_LABELS 8
#define METRICS_MAX_BUCKETS 32

/* A new, empty registry; NULL on allocation failure. */
struct metrics *metrics_new(void);
/* NULL-safe; frees every family and series.  Returns NULL. */
struct metrics *metrics_free(struct metrics *m);

/* Adds process_resident_memory_bytes, process_cpu_seconds_total,
 * process_open_fds, process_virtual_memory_bytes and
 * process_start_time_seconds, read from /proc at render time. */
void metrics_enable_process(struct metrics *m);

/* Registers a family.  @name is a full metric name (copied), @help copied,
 * @labels a NULL-terminated list of label names (copied; NULL for none).
 * Histograms take @nbuckets ascending upper bounds (+Inf is implied).
 * Returns a borrowed family owned by @m, NULL on allocation failure or
 * bad arguments (too many labels or buckets, a name registered twice). */
struct metric_vec *metrics_counter(struct metrics *m, const char *name, const char *help,
				   const char *const *labels);
struct metric_vec *metrics_gauge(struct metrics *m, const char *name, const char *help,
				 const char *const *labels);
struct metric_vec *metrics_histogram(struct metrics *m, const char *name, const char *help,
				     const char *const *labels, const double *buckets,
				     size_t nbuckets);

/* The series of @v for @values (as many as the family has label names;
 * NULL for a family without labels): found, or created on first use.
 * Borrowed, valid as long as the registry.  NULL when @v is NULL, on
 * allocation failure or past METRICS_MAX_SERIES.  Takes a lock: call it
 * once and keep the pointer on hot paths. */
struct metric *metric_vec_get(struct metric_vec *v, const char *const *values);
/* metric_vec_get() once per @slot: a hot path keeps one atomic slot per
 * label combination it counts, so the lookup (and its lock) is paid on the
 * first count only.  @v NULL: NULL (the metric_* calls take NULL). */
struct metric *metric_vec_cached(_Atomic(struct metric *) *slot, struct metric_vec *v,
				 const char *const *values);
/* The same for a family with exactly one or two labels. */
struct metric *metric_vec_get1(struct metric_vec *v, const char *value);
struct metric *metric_vec_get2(struct metric_vec *v, const char *a, const char *b);

/* Counters: lock-free. */
void metric_inc(struct metric *s);
void metric_add(struct metric *s, uint64_t n);
/* Gauges: lock-free. */
void metric_set(struct metric *s, double value);
void metric_gauge_add(struct metric *s, double delta);
/* Histograms: lock-free; a value equal to a bound falls in its bucket. */
void metric_observe(struct metric *s, double value);

/* Reads back a counter or gauge (tests, readiness decisions). */
double metric_value(const struct metric *s);
/* Reads back a histogram's sample count. */
uint64_t metric_count(const struct metric *s);

/* Appends the whole registry to @out in the text exposition format,
 * families in registration order, series in creation order.
 * 0, -ENOMEM or -E2BIG (from @out's limit). */
int metrics_render(struct metrics *m, struct buf *out);

/* The Content-Type of metrics_render()'s output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
