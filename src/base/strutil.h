/* strutil.h - small string helpers shared by every layer. */
#ifndef PG_STRUTIL_H
#define PG_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Profile patterns: '*' matches any run of bytes ('/' included), '?' one
 * byte, everything else itself.  Time linear in the text whatever the
 * pattern: O(n + m) without '?', O(n * ceil(k / 64)) for a '?' between
 * '*'s in a run of k bytes (strutil.c).  A long run with '?' and many
 * distinct bytes needs a heap table; when that allocation fails the answer
 * is false (no match), never a guess. */
bool glob_match(const char *pattern, const char *s);
bool glob_has_wildcard(const char *pattern);

bool str_eq(const char *a, const char *b);        /* NULL-safe */
/* strcmp() of two (const char *)s pointed to: qsort() and bsearch() over
 * arrays of strings. */
int str_ptr_cmp(const void *a, const void *b);
/* Length of the valid UTF-8 sequence at @s, of which @avail bytes may be
 * read (at least 1); 0 when it is not one: overlong forms, surrogates and
 * code points past U+10FFFF included. */
size_t str_utf8_len(const char *s, size_t avail);
/* The longest prefix of @s of at most @max bytes that does not end inside
 * a UTF-8 sequence: where text meant for people (and JSON) may be cut. */
size_t str_utf8_cut(const char *s, size_t max);
bool str_has_prefix(const char *s, const char *prefix);
/* Levenshtein distance of @a (@la bytes) and @b (@lb bytes), for "did
 * you mean" suggestions: SIZE_MAX when either is longer than 63 bytes. */
size_t str_edit_distance(const char *a, size_t la, const char *b, size_t lb);
/* The entry of @v nearest @w, within an edit distance of 2: the "did you
 * mean" of a typo, NULL when none is that near.  @v has @n entries or
 * ends at a NULL before (SIZE_MAX for a NULL-terminated list). */
const char *str_closest(const char *w, const char *const *v, size_t n);
/* @s in double quotes for a message, cut at 200 bytes (on a UTF-8
 * boundary, "..." said) so a message stays bounded; into @tmp. */
const char *str_quote(const char *s, char *tmp, size_t n);
bool str_has_suffix(const char *s, const char *suffix);

/* Strict decimal parse of the whole string: 0, -EINVAL or -ERANGE.
 * No sign accepted for the unsigned form; no atoi. */
int str_to_i64(const char *s, int64_t *ret);
int str_to_u64(const char *s, uint64_t *ret);

/* RFC 1123 label / DNS subdomain as Kubernetes validates names. */
bool str_is_dns1123_label(const char *s);
bool str_is_dns1123_subdomain(const char *s);
/* Kubernetes label key ([prefix/]name) and value. */
bool str_is_label_key(const char *s);
bool str_is_label_value(const char *s);

/* Cleans an absolute path lexically: collapses "//", ".", "..".  @out has
 * room for strlen(in)+2.  Returns -EINVAL for a relative path. */
int path_clean(const char *in, char *out, size_t outsz);
/* True when @path equals @prefix or lies under it (component-wise). */
bool path_has_prefix(const char *path, const char *prefix);

#endif
