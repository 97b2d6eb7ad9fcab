/* scan.h - one sample of a node: the processes of pod containers
 * under a proc root (their executables and their outbound connections)
 * and the claims of the pods' projected tokens under the kubelet's pod
 * directory, handed out as native telemetry lines (SPEC §5.2) for what
 * is new since the previous sample only.
 *
 * What "new" means: an exec per (pod, container, executable), a connect
 * per (pod, container, address, port, protocol), while the container
 * lives; a token event per (pod, projected volume) whenever iat or exp
 * change.  A container that is gone from a sample is forgotten, so a
 * restarted one is reported afresh.
 *
 * What a sample costs: per process, its cgroup, exe and ns/net; its fds
 * only when its network namespace attempted a TCP connection or sent a
 * UDP datagram since the last sample; a net table only for a socket not
 * seen before (or due again: a UDP socket may connect() elsewhere, and
 * is looked up again every recheck_samples), and only within the
 * sample's budget for tables. */
#ifndef PG_SCAN_H
#define PG_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;

/* How many distinct executables and how many distinct destinations one
 * container may make the agent remember.  Past that, new ones are
 * counted (scan_stats.untracked) and not reported: a container that
 * connects to thousands of addresses cannot grow the agent without bound. */
#define SCAN_DEFAULT_MAX_KEYS 4096
/* A socket whose remote may still change (UDP, or TCP not yet connected)
 * is looked up again this many samples after it was last looked up. */
#define SCAN_DEFAULT_RECHECK 10

struct scan_config {
	const char *proc_root;          /* "/proc" */
	const char *pods_dir;           /* "/var/lib/kubelet/pods"; NULL: no tokens */
	const char *node;               /* NULL or "": events carry no "node" */
	bool exec_args;                 /* also send each first exec's arguments */
	size_t max_keys;                /* 0: SCAN_DEFAULT_MAX_KEYS */
	unsigned recheck_samples;       /* 0: SCAN_DEFAULT_RECHECK */
	/* Wall time one sample may spend reading net tables (each read of
	 * /proc/PID/net/tcp walks the kernel's whole established hash, ms on
	 * a large machine).  Sockets left over are looked up by the next
	 * samples, which start elsewhere.  0: no limit (--once). */
	unsigned table_budget_ms;
	/* Told once per (pod, volume) and problem, so the loop can log it: a
	 * token that cannot be read or decoded, or whose pod claim names
	 * another pod.  @detail never holds token text.  NULL: not told. */
	void (*warn)(void *ud, const char *what, const char *pod_uid, const char *volume,
		     const char *detail);
	void *warn_ud;
};

/* Counts of one sample. */
struct scan_stats {
	size_t processes;               /* process directories looked at */
	size_t pod_processes;           /* ... in a pod container */
	size_t containers;              /* containers with a process */
	size_t netns;                   /* network namespaces with a pod process */
	size_t fd_walks;                /* processes whose fds were read */
	size_t fd_skips;                /* ... not read: their namespace sent nothing */
	size_t lookups;                 /* socket inodes looked up in net tables */
	size_t tables;                  /* net tables read */
	size_t deferred;                /* lookups left to the next sample (budget) */
	size_t execs, connects, tokens; /* events handed out */
	size_t untracked;               /* past max_keys, not reported */
	size_t unreadable;              /* entries that could not be read (a process
	                                 * that exited mid-sample is not counted) */
	size_t bad_rows;                /* malformed net table rows */
};

/* Called per event with one JSON line (no newline), borrowed for the
 * call.  A negative return stops the sample; the event is then reported
 * again by the next one. */
typedef int (*scan_emit_fn)(void *ud, const char *line, size_t len);

struct scan;

/* The strings of @cfg are borrowed and must outlive the scanner.
 * 0 or -ENOMEM. */
int scan_new(const struct scan_config *cfg, struct scan **ret);
/* One sample at wall time @now.  0, -errno when the proc root cannot be
 * read (nothing is forgotten then), -ENOMEM, or @emit's error. */
int scan_sample(struct scan *s, const struct timespec *now, scan_emit_fn emit, void *ud,
		struct scan_stats *ret_stats);
/* NULL-safe; returns NULL. */
struct scan *scan_free(struct scan *s);


#endif
