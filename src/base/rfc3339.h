/* rfc3339.h - the one parser and formatter of RFC 3339 times
 * ("2006-01-02T15:04:05Z", "...05.999999999+02:00"): Kubernetes'
 * metav1.Time and MicroTime, and the times of telemetry records. */
#ifndef PG_RFC3339_H
#define PG_RFC3339_H

#include <stdint.h>
#include <time.h>

/* Room for a formatted time, its NUL included. */
#define RFC3339_MAX 32

/* Parses "YYYY-MM-DDTHH:MM:SS", an optional fraction of one or more
 * digits, and "Z" or a numeric offset "+hh:mm"/"-hh:mm" (hh <= 23,
 * mm <= 59), which is applied; "T" and "Z" may be lower case.  Nothing
 * may follow.  *@ret_sec = seconds since the epoch, *@ret_nsec (may be
 * NULL) = the fraction's first nine digits in nanoseconds.  0, or -EINVAL
 * (outputs untouched). */
int rfc3339_parse(const char *s, int64_t *ret_sec, long *ret_nsec);
/* @ts in UTC with second ("2006-01-02T15:04:05Z", metav1.Time) or, with
 * @micro, microsecond precision ("...05.000000Z", metav1.MicroTime) into
 * @out.  0, or -EINVAL for a time gmtime cannot convert. */
int rfc3339_format(const struct timespec *ts, int micro, char out[RFC3339_MAX]);

#endif
