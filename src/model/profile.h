/* profile.h - the WorkloadProfile resource (SPEC §2): parsed, validated
 * and held compactly.  One validation function serves `check`, the
 * webhook's /validate/workloadprofiles and the controller's Ready
 * condition, so all three say the same thing. */
#ifndef PG_PROFILE_H
#define PG_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "netaddr.h"
#include "selector.h"

struct arena;
struct errlist;
struct jval;

enum pg_mode { MODE_ENFORCE, MODE_AUDIT };
/* Every Allow/Forbid (and Require/Any) knob: UNSET constrains nothing. */
enum knob { KNOB_UNSET = 0, KNOB_ALLOW, KNOB_FORBID };
enum action { ACTION_DELETE, ACTION_EVICT, ACTION_NONE };

/* A list whose absence differs from its emptiness: an absent list
 * constrains nothing, an empty one allows nothing. */
struct strv {
	const char **v;
	size_t n;
	bool set;
};

struct egress_rule {
	struct cidr net;
	const char *cidr_text;
	uint16_t *ports;        /* NULL with nports 0: any port */
	size_t nports;
};

struct api_rule {
	struct strv verbs;          /* "*" allowed */
	struct strv resources;      /* "configmaps", "apps/deployments", "pods/log", "*" */
	struct strv names;          /* empty or absent: any */
};

struct profile {
	struct arena *arena;        /* owns everything below */
	const char *namespace;
	const char *name;
	const char *uid;
	const char *resource_version;
	int64_t generation;
	struct selector selector;
	enum pg_mode mode;          /* absent: Audit (SPEC §2) */

	struct {
		bool set;                       /* the section is present: the identity
		                                 * reasons are judged (SPEC §4) */
		struct strv service_accounts;
		bool bind_service_accounts;     /* absent: true (SPEC §2 identity binding) */
		enum knob token_automount;
		int64_t max_token_expiration;   /* -1: unset */
		enum knob extended_tokens;
		enum knob legacy_token_secrets;
		int64_t max_token_age;          /* -1: unset */
		/* maxRisk: the highest RBAC risk level the pod's ServiceAccount
		 * may have, 1 Low .. 4 Critical (the engine's enum risk_level);
		 * PROFILE_RISK_UNSET: not judged. */
		int8_t max_risk;
	} identity;

	struct {
		struct strv allow;
		bool require_digest;
	} images;

	struct {
		enum knob privileged;
		enum knob privilege_escalation;
		enum knob host_namespaces;
		enum knob run_as_non_root;      /* FORBID means Require, ALLOW Any */
		struct strv capabilities;       /* normalised: no CAP_ prefix, upper case */
		struct strv host_paths;         /* cleaned absolute paths */
	} privileges;

	struct {
		struct strv executables;
		struct egress_rule *egress;
		size_t negress;
		bool egress_set;
		struct strv files_read;
		struct strv files_write;
		struct api_rule *api;
		size_t napi;
		bool api_set;
		int64_t max_api_calls_per_minute;   /* -1: unset */
	} runtime;

	struct {
		enum action action;     /* absent: Delete */
		int64_t grace_period;   /* -1: unset */
	} response;
};

#define PROFILE_RISK_UNSET 0

/* Limits on what one profile may hold: every list is bounded. */
#define PROFILE_MAX_LIST 4096       /* items of any list, rules included */
#define PROFILE_MAX_STRING 4096     /* bytes of one list item */
#define PROFILE_MAX_PORTS 65535     /* ports of one egress rule */

/* Validates @obj (a whole WorkloadProfile object, borrowed) and, when it
 * is valid, returns a new profile in @ret_profile (NULL allowed: validate
 * only).  Every problem is added to @errs as "field.path: what is wrong".
 * A missing metadata.namespace is @default_ns (SPEC §2: "default").
 * Returns 0, -EINVAL (see @errs) or -ENOMEM. */
int profile_parse(const struct jval *obj, const char *default_ns, struct errlist *errs,
		  struct profile **ret_profile);
/* NULL-safe; returns NULL. */
struct profile *profile_free(struct profile *p);

const char *mode_name(enum pg_mode m);
/* True for a verb runtime.kubernetesAPI may list by name (the "*" aside):
 * Kubernetes' resource verbs, not bind, escalate, impersonate, use. */
bool profile_verb_valid(const char *verb);
const char *action_name(enum action a);

/* A set of profiles sorted by namespace then name, so the profiles of a
 * namespace are one contiguous run. */
struct profile_set {
	struct profile **v;
	size_t n;
	size_t cap;
};

void profile_set_init(struct profile_set *s);
/* Takes ownership of @p (also on failure, when it is freed).  A profile
 * with the same namespace/name replaces the old one.  0 or -ENOMEM. */
int profile_set_add(struct profile_set *s, struct profile *p);
/* Removes and frees; 0 or -ENOENT. */
int profile_set_remove(struct profile_set *s, const char *ns, const char *name);
/* The contiguous run of profiles in @ns: *ret_first and the count. */
size_t profile_set_namespace(const struct profile_set *s, const char *ns,
			     struct profile *const **ret_first);
void profile_set_free(struct profile_set *s);

/* The most status.enforcedSpec holds, serialized (the controller does not
 * record a bigger spec, and a reader refuses one). */
#define PROFILE_ENFORCED_SPEC_MAX (256 * 1024)

/* For a WorkloadProfile @obj (borrowed) whose spec is invalid: the last
 * valid generation the controller recorded in its status
 * (status.enforcedGeneration, status.enforcedSpec; SPEC §2), validated
 * with profile_parse as the spec is, so that a webhook or controller that
 * starts while the profile is invalid still enforces it.  Used only when
 * enforcedGeneration is older than metadata.generation.  Trusted as far as
 * the status subresource is: only the controller may write it.
 * 0 with a new profile in @ret_profile and its generation; -ENOENT when
 * status holds none to use, -EINVAL when it does not validate or is over
 * the cap (a one-line reason in @why either way, "" for none at all);
 * -ENOMEM. */
int profile_restore_enforced(const struct jval *obj, struct profile **ret_profile,
			     int64_t *ret_generation, char *why, size_t whysz);

#endif
