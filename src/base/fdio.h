/* fdio.h - reading a descriptor whole: the one read loop (EINTR retried,
 * short reads continued) under every bounded file read. */
#ifndef PG_FDIO_H
#define PG_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* Reads into @buf until @len bytes are in or the end of the file:
 * the bytes read (fewer than @len only at the end), or -errno. */
ssize_t fdio_read_full(int fd, void *buf, size_t len);

#endif
