/* identity.h - the RBAC graph of a cluster, kept incrementally: Roles,
 * ClusterRoles and their bindings in; each ServiceAccount's grants, and
 * its risk, out.  Every change says which accounts it may touch, so the
 * controller re-judges those and no others.  No I/O: the controller's
 * informers and `profileguard identities` feed the same index. */
#ifndef PG_IDENTITY_H
#define PG_IDENTITY_H

#include <stddef.h>

#include "rbac.h"
#include "risk.h"

struct errlist;

struct identity_index;

/* Called for the accounts a change may touch: @name NULL is every
 * account of namespace @ns, @ns NULL every account.  Borrowed strings. */
typedef void (*identity_dirty_fn)(void *ud, const char *ns, const char *name);

int identity_index_new(struct identity_index **ret);
/* NULL-safe; frees every role and binding held.  Returns NULL. */
struct identity_index *identity_index_free(struct identity_index *x);

/* Takes @role or @b (owned from then on, also on failure), replacing the
 * one of the same kind, namespace and name; @dirty (may be NULL) hears of
 * every account whose grants may change.  0 or -ENOMEM. */
int identity_index_put_role(struct identity_index *x, struct rbac_role *role,
			    identity_dirty_fn dirty, void *ud);
int identity_index_put_binding(struct identity_index *x, struct rbac_binding *b,
			       identity_dirty_fn dirty, void *ud);
/* Removes the object (namespace NULL: the cluster-scoped kind); absent is
 * not an error. */
void identity_index_del_role(struct identity_index *x, const char *ns, const char *name,
			     identity_dirty_fn dirty, void *ud);
void identity_index_del_binding(struct identity_index *x, const char *ns, const char *name,
				identity_dirty_fn dirty, void *ud);

/* Offline, the objects of a set of manifests: aggregates @roles as the
 * API server would (rbac_aggregate(), its refusals into @errs), then puts
 * every role and binding into @x.  Takes every object (the arrays' slots
 * are set to NULL as they are taken, so the caller frees what is left
 * whatever happens).  0 or -ENOMEM. */
int identity_index_load(struct identity_index *x, struct rbac_role **roles, size_t nroles,
			struct rbac_binding **bindings, size_t nbindings, struct errlist *errs);

/* The role of that namespace (NULL: ClusterRole) and name, borrowed; NULL
 * when absent. */
const struct rbac_role *identity_index_role(const struct identity_index *x, const char *ns,
					    const char *name);

/* Calls @fn for each rule granted to the account @ns/@name: through
 * bindings that name it, the groups system:serviceaccounts,
 * system:serviceaccounts:@ns and system:authenticated, and Users named
 * system:serviceaccount:@ns:@name.  A RoleBinding's grants hold in its
 * namespace only; a binding whose role is absent grants nothing (as the
 * authorizer reads it).  The grant and its via text are borrowed for the
 * call.  A negative return from @fn stops the walk and is returned. */
typedef int (*identity_grant_fn)(void *ud, const struct risk_grant *g);
int identity_index_grants(const struct identity_index *x, const char *ns, const char *name,
			  identity_grant_fn fn, void *ud);

/* risk_judge() over the account's grants.  0 or -ENOMEM. */
int identity_index_judge(const struct identity_index *x, const char *ns, const char *name,
			 struct risk_result *ret);

struct identity_index_stats {
	size_t roles;
	size_t bindings;
	size_t edges;       /* subject and role references indexed */
};
void identity_index_stats(const struct identity_index *x, struct identity_index_stats *ret);

#endif
