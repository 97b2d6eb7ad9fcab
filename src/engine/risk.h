/* risk.h - what a ServiceAccount's RBAC grants let it do, scored: the
 * risk rules of the identity inventory as pure functions of the granted
 * rules.  The controller, the webhook's maxRisk and `profileguard
 * identities` all judge here, so they say the same thing. */
#ifndef PG_RISK_H
#define PG_RISK_H

#include <stdbool.h>
#include <stddef.h>

struct rbac_rule;

enum risk_level { RISK_NONE, RISK_LOW, RISK_MEDIUM, RISK_HIGH, RISK_CRITICAL };

/* "None", "Low", "Medium", "High", "Critical". */
const char *risk_level_name(enum risk_level l);
/* Parses one of those names; -EINVAL otherwise. */
int risk_level_parse(const char *s, enum risk_level *ret);

/* The rules, most severe first (the order findings are sorted in). */
enum risk_rule {
	RR_CLUSTER_ADMIN,
	RR_ESCALATE_OR_BIND,
	RR_IMPERSONATE,
	RR_READ_SECRETS,
	RR_CREATE_TOKENS,
	RR_APPROVE_CSR,
	RR_CONTROL_WEBHOOKS,
	RR_CREATE_WORKLOADS,
	RR_EXEC_INTO_PODS,
	RR_NODE_PROXY,
	RR_WILDCARD,
	RR_DELETE_BROADLY,
	RR_WRITE_RBAC,
	RR_READ_ONLY,
	RR__COUNT
};

const char *risk_rule_name(enum risk_rule r);          /* "read-secrets" */
/* The rule of that name; -EINVAL for none. */
int risk_rule_parse(const char *s, enum risk_rule *ret);
enum risk_level risk_rule_severity(enum risk_rule r);

/* One rule granted to an account, and the way it comes. */
struct risk_grant {
	const struct rbac_rule *rule;
	const char *namespace;      /* where it applies; NULL: every namespace
	                             * (a ClusterRoleBinding) */
	const char *via;            /* "RoleBinding payments/app -> Role payments/app" */
};

/* Limits on one judgement's output: the report keeps the most severe
 * RISK_MAX_FINDINGS and says how many more there were; the level is
 * always that of every finding. */
#define RISK_MAX_FINDINGS 32
#define RISK_GRANT_TEXT 256         /* bytes of a finding's grant text, NUL included */
#define RISK_VIA_TEXT 512

struct risk_finding {
	enum risk_rule rule;
	char grant[RISK_GRANT_TEXT];    /* "get,list secrets in payments" */
	char via[RISK_VIA_TEXT];
};

struct risk_result {
	enum risk_level level;
	struct risk_finding findings[RISK_MAX_FINDINGS];
	size_t nfindings;
	size_t omitted;             /* findings past RISK_MAX_FINDINGS */
	size_t rule_counts[RR__COUNT];  /* every finding, kept or not, by rule */
};

/* Judges @n grants (borrowed) into @ret.  Time linear in the size of the
 * grants (items of their lists), whatever they hold.  Findings are
 * distinct (rule, grant, via), sorted by severity, then rule, via and
 * grant.  Returns 0, or -ENOMEM with @ret zeroed. */
int risk_judge(const struct risk_grant *grants, size_t n, struct risk_result *ret);

/* One line per finding for messages: "read-secrets (Critical): get,list
 * secrets in payments via RoleBinding payments/app -> Role payments/app". */
int risk_finding_format(const struct risk_finding *f, char *out, size_t n);

#endif
