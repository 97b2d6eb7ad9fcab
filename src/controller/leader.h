/* leader.h - leader election on a coordination.k8s.io/v1 Lease, with
 * client-go's semantics: a candidate takes the Lease only after seeing its
 * record unchanged for a whole lease duration by its own clock (so clock
 * skew between replicas does not matter, only their rates); the leader
 * renews every retry period and gives up when it could not renew within
 * the renew deadline; a clean shutdown clears the holder so a follower
 * takes over at once.
 *
 * The election does not fence: before any write the caller asks
 * leader_holds(), which is true only while the last successful renewal was
 * sent less than a lease duration (minus a margin) ago. */
#ifndef PG_LEADER_H
#define PG_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kube_client;
struct kube_api_lease;
struct leader;

struct leader_config {
	struct kube_client *client;     /* borrowed, outlives the leader */
	const char *namespace;          /* copied */
	const char *name;               /* the Lease; copied */
	const char *identity;           /* holderIdentity; copied */
	int64_t lease_ms;               /* 0: 15 s */
	int64_t renew_deadline_ms;      /* 0: 10 s; must be < lease_ms */
	int64_t retry_ms;               /* 0: 2 s */
	/* Called on the election thread; they may block briefly. */
	void (*on_started)(void *ud);
	void (*on_stopped)(void *ud);
	/* A Lease read or write failed (for logs); @err is a negative errno. */
	void (*on_error)(void *ud, int err, const char *what, const char *message);
	void *ud;
};

/* 0, -EINVAL (bad timings or names), -ENOMEM. */
int leader_new(const struct leader_config *cfg, struct leader **ret);
/* Starts the election thread.  0 or -errno. */
int leader_start(struct leader *l);
/* True while this replica leads (it won and has not given up). */
bool leader_is_leader(struct leader *l);
/* True while it leads and its last successful renewal was sent less than
 * lease_ms - @margin_ms ago: safe to act. */
bool leader_holds(struct leader *l, int64_t margin_ms);
/* The holder last observed, into @out ("" when none). */
void leader_observed_holder(struct leader *l, char *out, size_t n);
/* Stops the thread; with @release and the Lease held, clears its holder
 * (calling on_stopped first).  Idempotent, NULL-safe. */
void leader_stop(struct leader *l, bool release);
/* Stops (releasing), then frees.  NULL-safe; returns NULL. */
struct leader *leader_free(struct leader *l);

/* ---- the decision, apart from any clock or socket ------------------------------ */

enum leader_decision {
	LEADER_WAIT,            /* another holder, not expired by our clock */
	LEADER_TAKE,            /* free or expired: take it (a transition) */
	LEADER_RENEW,           /* ours: renew */
};

/* What to do with the Lease record @holder (NULL or "" when free), seen
 * unchanged since @observed_ms (our monotonic clock), given its duration. */
enum leader_decision leader_decide(const char *holder, const char *me, int64_t observed_ms,
				   int64_t lease_ms, int64_t now_ms);

#endif
