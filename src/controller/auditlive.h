/* auditlive.h - whether the audit source is live, and since when: it is
 * live while an audit batch arrived within the live window, and its live
 * span starts at the first batch after a silence longer than that.  Idle
 * time of an identity counts only within the current span (lifecycle.h),
 * so an outage of the audit source never reads as idleness.
 *
 * A restart must neither forget a span (every identity's clock would
 * start again) nor invent one (a silence while no replica listened is not
 * evidence).  The span is kept in the cluster as two times, its start and
 * its last confirmation, written at most once per live window while live
 * (and once when a span starts); a restored span continues only when its
 * confirmation is within one window of now.  Pure: the caller keeps the
 * clock, the lock and the store. */
#ifndef PG_AUDITLIVE_H
#define PG_AUDITLIVE_H

#include <stdbool.h>
#include <stdint.h>

struct auditlive {
	int64_t window;                 /* seconds (--audit-live-window) */
	int64_t since;                  /* start of the current span; -1: none */
	int64_t last;                   /* last batch; -1: none */
	int64_t saved_since, saved_at;  /* what the store holds; -1 */
};

void auditlive_init(struct auditlive *l, int64_t window_s);
/* An audit batch arrived at @now (epoch seconds). */
void auditlive_batch(struct auditlive *l, int64_t now);
/* The start of the live span at @now, or -1 when not live. */
int64_t auditlive_since(const struct auditlive *l, int64_t now);
/* What the store held (@since, @confirmed; -1: nothing), read at @now.
 * A span that continues into memory's (or into now) is taken. */
void auditlive_restore(struct auditlive *l, int64_t since, int64_t confirmed, int64_t now);
/* True when the store should now be written with (since, now): a span
 * started that it does not hold, or a window passed since its last
 * confirmation. */
bool auditlive_due(const struct auditlive *l, int64_t now);
/* The store holds (@since, @at): what was written. */
void auditlive_saved(struct auditlive *l, int64_t since, int64_t at);

#endif
