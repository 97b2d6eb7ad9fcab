/* buf.h - growable byte buffer born with a maximum (after curl's dynbuf).
 * The contents are always NUL-terminated, so buf_str() is a C string. */
#ifndef PG_BUF_H
#define PG_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;     /* the length buf_add refuses to grow past */
};

#define BUF_INIT(m) { NULL, 0, 0, (m) }

void buf_init(struct buf *b, size_t max);
/* 0, -ENOMEM, or -E2BIG when the result would exceed b->max; on error the
 * buffer is left as it was. */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends @s as the inside of a JSON string (no quotes added): control
 * characters escaped, and bytes that are not UTF-8 replaced by U+FFFD, so
 * what is written is always JSON a strict reader takes, whatever a name
 * cut mid-character or a path the kernel allows holds (and a profile
 * pattern can never match a replaced path by accident). */
int buf_add_json_escaped(struct buf *b, const char *s);
/* Appends @s as one YAML scalar that reads back as exactly @s: plain
 * when it cannot be misread (YAML 1.1 booleans, numbers, aliases, flow
 * and comment characters), else double-quoted with the escapes YAML
 * needs beyond JSON's (C1 controls, U+2028/U+2029, U+FEFF, U+FFFE/U+FFFF
 * as \u escapes; a byte that is not UTF-8 reads back as U+FFFD).  For
 * YAML written by hand, with comments (learn, rbac). */
int buf_add_yaml_scalar(struct buf *b, const char *s);
/* Appends @s for the inside of a YAML comment: a byte that is not
 * printable ASCII could end the comment line (YAML 1.1 breaks lines at
 * NEL, U+2028 and U+2029 too), so it is written as '?'. */
int buf_add_yaml_comment(struct buf *b, const char *s);
/* Borrowed view; "" when empty. */
const char *buf_str(const struct buf *b);
void buf_truncate(struct buf *b, size_t len);
void buf_reset(struct buf *b);
/* Hands the (NUL-terminated) storage to the caller, who frees it with
 * pg_free(); the buffer is left empty.  Returns NULL on allocation failure. */
char *buf_steal(struct buf *b);
void buf_free(struct buf *b);

#endif
