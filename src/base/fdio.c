/* fdio.c - reading a descriptor whole (see fdio.h). */
#include "fdio.h"

#include <errno.h>
#include <unistd.h>

ssize_t fdio_read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}
