/* rbac.h - Roles, ClusterRoles, their bindings and ServiceAccounts, read
 * from their API objects (or manifests) and held compactly for the
 * identity inventory (engine/identity.h).  RBAC objects hold no secrets;
 * a ServiceAccount is read for its name, uid and token settings only. */
#ifndef PG_RBAC_H
#define PG_RBAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "selector.h"

struct arena;
struct errlist;
struct jval;

/* Bounds on one object: a hostile Role must not become large.  Over one
 * is an error naming it (the object is refused, never cut). */
#define RBAC_MAX_RULES 1024         /* rules of one role */
#define RBAC_MAX_LIST 1024          /* items of one list of a rule */
#define RBAC_MAX_SUBJECTS 1024      /* subjects of one binding */
#define RBAC_MAX_SELECTORS 64       /* clusterRoleSelectors of one aggregationRule */
#define RBAC_MAX_STRING 1024        /* bytes of one name, verb or resource */

enum rbac_kind {
	RBAC_ROLE,
	RBAC_CLUSTER_ROLE,
	RBAC_ROLE_BINDING,
	RBAC_CLUSTER_ROLE_BINDING,
	RBAC_SERVICE_ACCOUNT,
	RBAC_OTHER,             /* not one of the above */
};

/* The kind of @obj from its apiVersion and kind (any version of
 * rbac.authorization.k8s.io; ServiceAccount is v1). */
enum rbac_kind rbac_kind_of(const struct jval *obj);
const char *rbac_kind_name(enum rbac_kind k);    /* "Role", "ClusterRoleBinding", ... */

/* One PolicyRule.  A rule of nonResourceURLs is kept (counted) but never
 * judged: it grants no access to resources. */
struct rbac_rule {
	const char **verbs;
	size_t nverbs;
	const char **groups;        /* apiGroups; "" is the core group */
	size_t ngroups;
	const char **resources;     /* "secrets", "pods/exec", "*", "*\/scale" */
	size_t nresources;
	const char **names;         /* resourceNames: they never narrow a risk finding */
	size_t nnames;
	bool non_resource;          /* nonResourceURLs only */
};

/* A Role (namespace set) or ClusterRole (namespace NULL). */
struct rbac_role {
	struct arena *arena;        /* owns everything below */
	const char *namespace;
	const char *name;
	const char *uid;
	struct labels labels;       /* offline aggregation matches them */
	struct rbac_rule *rules;
	size_t nrules;
	/* aggregationRule.clusterRoleSelectors: the API server fills rules;
	 * offline, rbac_aggregate() does. */
	struct selector *aggregation;
	size_t naggregation;
};

enum rbac_subject_kind { SUBJECT_SERVICE_ACCOUNT, SUBJECT_GROUP, SUBJECT_USER };

/* A subject.  A User named system:serviceaccount:NS:NAME is the account
 * itself (the API server authenticates it with that user name), so it is
 * read as SUBJECT_SERVICE_ACCOUNT; an account subject without a namespace
 * in a RoleBinding is in the binding's namespace, as the authorizer reads
 * it. */
struct rbac_subject {
	enum rbac_subject_kind kind;
	const char *namespace;      /* service accounts only */
	const char *name;
};

/* A RoleBinding (namespace set) or ClusterRoleBinding (namespace NULL). */
struct rbac_binding {
	struct arena *arena;
	const char *namespace;
	const char *name;
	const char *uid;
	bool role_cluster;          /* roleRef.kind ClusterRole */
	const char *role_name;
	struct rbac_subject *subjects;
	size_t nsubjects;
};

/* A ServiceAccount: what the inventory reads of it (never its secrets'
 * data: the Secret references are names). */
struct rbac_account {
	struct arena *arena;
	const char *namespace;
	const char *name;
	const char *uid;
	int8_t automount;           /* automountServiceAccountToken: -1 unset, 0, 1 */
	const char **secrets;       /* names of the Secrets it lists */
	size_t nsecrets;
	struct labels labels;
};

/* Parse and validate one object of the kind named.  A missing namespace
 * of a namespaced kind is @default_ns.  Problems go to @errs as
 * "field.path: what is wrong".  Returns 0 with a new object (free it with
 * the matching *_free), -EINVAL (see @errs) or -ENOMEM. */
int rbac_role_parse(const struct jval *obj, const char *default_ns, struct errlist *errs,
		    struct rbac_role **ret);
int rbac_binding_parse(const struct jval *obj, const char *default_ns, struct errlist *errs,
		       struct rbac_binding **ret);
int rbac_account_parse(const struct jval *obj, const char *default_ns, struct errlist *errs,
		       struct rbac_account **ret);
/* NULL-safe; return NULL. */
struct rbac_role *rbac_role_free(struct rbac_role *r);
struct rbac_binding *rbac_binding_free(struct rbac_binding *b);
struct rbac_account *rbac_account_free(struct rbac_account *a);

/* Roles and bindings gathered from manifests before they are indexed
 * (identity_index_load()).  Zeroed is empty. */
struct rbac_set {
	struct rbac_role **roles;
	size_t nroles, caproles;
	struct rbac_binding **bindings;
	size_t nbindings, capbindings;
};

/* Parses @obj, a Role, ClusterRole, RoleBinding or ClusterRoleBinding,
 * into @s.  0; -ENOENT for another kind (nothing read); -EINVAL with the
 * problems in @errs; -ENOMEM. */
int rbac_set_add(struct rbac_set *s, const struct jval *obj, const char *default_ns, struct errlist *errs);
/* Frees what @s still holds (slots set to NULL were taken); NULL-safe. */
void rbac_set_free(struct rbac_set *s);

/* Offline aggregation, as the API server's aggregation controller does
 * it: a ClusterRole of @roles with an aggregationRule holds the rules of
 * every other ClusterRole whose labels match one of its selectors, in
 * place of its own (the controller overwrites them), aggregated roles
 * matched by another included with their filled rules (cycles read
 * once).  Rules are copied into the aggregating role's arena.  -ENOMEM,
 * or -E2BIG when a role would hold more than RBAC_MAX_RULES (@errs names
 * it). */
int rbac_aggregate(struct rbac_role **roles, size_t n, struct errlist *errs);

#endif
