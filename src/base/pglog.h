/* pglog.h - structured logs: one JSON object per line (ts, level, msg,
 * fields), or text for people.  Used by commands and loops only: library
 * layers return errors instead of logging.  Never pass a token or Secret
 * data as a field. */
#ifndef PG_PGLOG_H
#define PG_PGLOG_H

#include <stdio.h>

enum pglog_level { PGLOG_ERROR, PGLOG_WARN, PGLOG_INFO, PGLOG_DEBUG };
enum pglog_format { PGLOG_JSON, PGLOG_TEXT };

void pglog_setup(enum pglog_format fmt, enum pglog_level max, FILE *out);
/* 0 or -EINVAL for an unknown name. */
int pglog_level_parse(const char *s, enum pglog_level *ret);
int pglog_format_parse(const char *s, enum pglog_format *ret);
int pglog_enabled(enum pglog_level lvl);

/* Fields are key, value string pairs ended by NULL:
 *   pglog(PGLOG_INFO, "pod deleted", "namespace", ns, "pod", name, NULL);
 * A NULL value ends the list too, so pass "" for an absent value.
 * Thread-safe: a line is written whole. */
void pglog(enum pglog_level lvl, const char *msg, ...) __attribute__((sentinel));

#endif
