/* fuzz_agent_procnet.c - the /proc net tables (as TCP and as UDP) and fd
 * link texts: never a crash, and every row handed out has a family of 4
 * or 6 for both ends. */
#include <stdint.h>
#include <stdlib.h>

#include "agent_procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_row(void *ud, const struct procfs_sock *s)
{
	size_t *n = ud;

	if ((s->laddr.family != 4 && s->laddr.family != 6) || (s->raddr.family != 4 && s->raddr.family != 6))
		abort();
	*n += procfs_addr_is_local(&s->raddr) + s->state;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0, bad = 0;
	uint64_t inode;

	procfs_net_parse((const char *)data, size, PROCFS_TCP, check_row, &n, &bad);
	procfs_net_parse((const char *)data, size, PROCFS_UDP, check_row, &n, &bad);
	procfs_socket_inode((const char *)data, size, &inode);
	return 0;
}
