/* leastpriv.h - least privilege from behaviour: the API calls of
 * ServiceAccounts in, the smallest RBAC rules that allow exactly the
 * authorized ones out, with what each rule covers; and, given what RBAC
 * grants an account (identity.h), the grants it never used.  Pure: no I/O;
 * `profileguard rbac` reads the audit events and writes the objects. */
#ifndef PG_LEASTPRIV_H
#define PG_LEASTPRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "risk.h"

/* Bounds on one run.  Over one is a refusal naming it (leastpriv_error()),
 * never a cut, except LEASTPRIV_MAX_NAMES: a rule whose calls named more
 * objects than that drops resourceNames (a documented widening, marked on
 * the rule as names_dropped). */
#define LEASTPRIV_MAX_ACCOUNTS 10000
#define LEASTPRIV_MAX_KEYS 1024         /* distinct (namespace, group, resource,
                                         * verb) or (path, verb) of one account,
                                         * authorized and refused each */
#define LEASTPRIV_MAX_NAMES 64          /* objects named by one (namespace, group,
                                         * resource, verb) */
#define LEASTPRIV_MAX_GRANTED 100000    /* granted (verb, group, resource,
                                         * namespace) combinations of one account */
#define LEASTPRIV_MAX_STRING 1024       /* bytes of one name, verb, resource or path */

/* One API call of a ServiceAccount (an audit event).  Borrowed. */
struct leastpriv_call {
	const char *sa_namespace;
	const char *sa_name;
	const char *verb;
	const char *group;              /* "" or NULL: core */
	const char *resource;           /* NULL: a non-resource call (@path) */
	const char *subresource;        /* NULL or "" for none */
	const char *name;               /* the object named; NULL or "" for none */
	const char *namespace;          /* the object's; NULL or "": cluster-wide */
	const char *path;               /* non-resource calls: the URL path */
	int code;                       /* responseStatus.code; 0 absent */
	int64_t time;                   /* epoch seconds */
};

/* What a call's code says: authorized (it passed the authorizer: below
 * 400, or 404, 409, 422, which only a handler past the authorizer
 * answers), refused (403), or neither (401, 429, 5xx, absent: no
 * evidence either way). */
enum leastpriv_outcome { LEASTPRIV_AUTHORIZED, LEASTPRIV_REFUSED, LEASTPRIV_OTHER };
enum leastpriv_outcome leastpriv_outcome_of(int code);

/* One PolicyRule of a generated role.  Either a resource rule (group and
 * resource set, names sorted, none meaning any object) or a non-resource
 * rule (path set).  Verbs sorted.  calls/first/last: the calls it covers. */
struct leastpriv_rule {
	const char *group;
	const char *resource;           /* "pods", "pods/log" */
	const char *path;               /* nonResourceURLs: one path */
	const char **verbs;
	size_t nverbs;
	const char **names;
	size_t nnames;
	bool names_dropped;             /* > LEASTPRIV_MAX_NAMES objects were named */
	size_t calls;
	int64_t first, last;
};

/* A Role (namespace set) or the ClusterRole (namespace NULL). */
struct leastpriv_role {
	const char *namespace;
	struct leastpriv_rule *rules;
	size_t nrules;
};

/* A call refused (403), by (namespace, group, resource, verb) or (path,
 * verb). */
struct leastpriv_refusal {
	const char *namespace;          /* NULL: cluster-wide */
	const char *group;
	const char *resource;           /* NULL: @path */
	const char *path;
	const char *verb;
	size_t calls;
	int64_t first, last;
};

/* A granted (verb, group, resource, namespace) no authorized call used.
 * Wildcards are kept as granted ("*"). */
struct leastpriv_unused {
	const char *verb;
	const char *group;
	const char *resource;
	const char *namespace;          /* NULL: every namespace */
	const char **names;             /* the rule's resourceNames */
	size_t nnames;
	const char *via;
};

struct leastpriv_account {
	const char *namespace;
	const char *name;
	size_t authorized, refused, other;      /* calls */
	struct leastpriv_role *roles;   /* Roles by namespace, then the ClusterRole */
	size_t nroles;
	struct leastpriv_refusal *refusals;     /* sorted */
	size_t nrefusals;
	struct leastpriv_unused *unused;        /* after leastpriv_grants_done() */
	size_t nunused;
	size_t nonresource_grants;      /* nonResourceURLs rules granted (not expanded) */
};

struct leastpriv;

/* 0 or -ENOMEM. */
int leastpriv_new(struct leastpriv **ret);
/* NULL-safe; returns NULL. */
struct leastpriv *leastpriv_free(struct leastpriv *lp);

/* Records @c (strings copied).  0; -EINVAL (a string too long or not a
 * call: see leastpriv_error()), -E2BIG (a bound: leastpriv_error() names
 * it; the run should stop), -ENOMEM. */
int leastpriv_add(struct leastpriv *lp, const struct leastpriv_call *c);
/* The last refusal's text, "" when none. */
const char *leastpriv_error(const struct leastpriv *lp);

/* Builds the roles of every account (once; no leastpriv_add() after) and
 * returns them sorted by namespace and name, owned by @lp.  0 or -ENOMEM. */
int leastpriv_accounts(struct leastpriv *lp, struct leastpriv_account **ret, size_t *n);

/* One grant of @a (identity_index_grants()): each (verb, group, resource)
 * of its rule in its namespace that no authorized call of @a matched
 * becomes an unused entry (strings copied).  A call matches as the RBAC
 * authorizer would: "*" any verb, group or resource, "*\/sub" that
 * subresource of any resource, resourceNames the objects named (a rule
 * whose names were dropped matches any).  0, -ENOMEM, or -E2BIG past
 * LEASTPRIV_MAX_GRANTED (leastpriv_error()). */
int leastpriv_grant(struct leastpriv *lp, struct leastpriv_account *a, const struct risk_grant *g);
/* Sorts @a's unused entries (namespace, group, resource, verb, via) and
 * drops duplicates. */
void leastpriv_grants_done(struct leastpriv_account *a);

#endif
