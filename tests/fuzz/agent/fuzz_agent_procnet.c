/* fuzz_agent_procnet.c - the /proc net tables (as TCP and as UDP), fd
 * link texts and the snmp counters: never a crash, and every row handed
 * out has a family of 4 or 6 for both ends. */
#include <stdint.h>
#include <stdlib.h>

#include "procfs.h"

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
	struct procfs_counters c;
	size_t n = 0, bad = 0;
	uint64_t inode;

	procfs_net_parse((const char *)data, size, PROCFS_TCP, check_row, &n, &bad);
	procfs_net_parse((const char *)data, size, PROCFS_UDP, check_row, &n, &bad);
	procfs_socket_inode((const char *)data, size, &inode);
	/* the same bytes as net/snmp, and split in two as snmp + snmp6 */
	procfs_snmp_parse((const char *)data, size, NULL, 0, &c);
	procfs_snmp_parse((const char *)data, size / 2, (const char *)data + size / 2, size - size / 2, &c);
	return 0;
}
