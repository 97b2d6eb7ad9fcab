/* pod.h - the compact pod the engine judges: what a Pod, or the pod
 * template of a Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
 * CronJob or ReplicationController, says about identity and privilege.
 * Everything lives in the pod's own arena; the controller caches these
 * for every pod in the cluster, so only what the rules need is kept, and
 * field paths are rebuilt from indexes when a finding needs one. */
#ifndef PG_POD_H
#define PG_POD_H

#include <stdbool.h>
#include <stdint.h>

#include "selector.h"

struct arena;
struct errlist;
struct jval;

enum workload_kind {
	WK_POD, WK_DEPLOYMENT, WK_REPLICASET, WK_STATEFULSET, WK_DAEMONSET,
	WK_JOB, WK_CRONJOB, WK_REPLICATIONCONTROLLER,
};

enum container_kind { CK_INIT, CK_CONTAINER, CK_EPHEMERAL };

/* status.phase of a Pod read from the API server.  A fact only: what it
 * means for judgement is the engine's to say (engine_counts()). */
enum pod_phase {
	PHASE_UNSET = 0,        /* no status.phase (manifests, templates), or one not known */
	PHASE_PENDING, PHASE_RUNNING, PHASE_SUCCEEDED, PHASE_FAILED,
	PHASE_UNKNOWN,          /* "Unknown": the node stopped reporting */
};

/* Tri-state booleans from the API: unset differs from false. */
enum opt_bool { OPT_UNSET = 0, OPT_FALSE, OPT_TRUE };

struct container {
	const char *name;
	const char *image;
	const char **caps_add;
	uint16_t ncaps;
	uint16_t index;                 /* within its kind's list */
	uint8_t kind;                   /* enum container_kind */
	uint8_t privileged;             /* enum opt_bool */
	uint8_t allow_escalation;       /* enum opt_bool */
	uint8_t run_as_non_root;        /* enum opt_bool, container level */
	int64_t run_as_user;            /* -1: unset */
};

/* A projected serviceAccountToken source. */
struct token_source {
	uint16_t volume;
	uint16_t source;
	int64_t expiration;             /* -1: unset (the API server's default 3600) */
};

enum secret_use_kind { SU_VOLUME, SU_PROJECTED, SU_ENV, SU_ENV_FROM };

/* A place a Secret is consumed by name. */
struct secret_use {
	const char *secret;
	uint8_t kind;                   /* enum secret_use_kind */
	uint8_t ckind;                  /* for SU_ENV*: enum container_kind */
	uint16_t a;                     /* volume or container index */
	uint16_t b;                     /* source, env or envFrom index */
};

struct host_path {
	const char *path;
	uint16_t volume;
};

struct pod {
	struct arena *arena;            /* owns everything below */
	uint8_t kind;                   /* enum workload_kind */
	const char *spec_root;          /* "spec", "spec.template.spec", ... */
	const char *namespace;
	const char *name;
	const char *uid;
	struct labels labels;           /* the pod's (or template's) labels */

	const char *service_account;    /* NULL: unset, which means "default" */
	uint8_t automount;              /* enum opt_bool */
	bool host_network, host_pid, host_ipc;
	uint8_t run_as_non_root;        /* pod-level securityContext, enum opt_bool */
	int64_t run_as_user;            /* pod-level, -1: unset */

	struct container *containers;   /* init, then regular, then ephemeral */
	uint16_t ncontainers;
	struct token_source *tokens;
	uint16_t ntokens;
	struct secret_use *secrets;
	uint16_t nsecrets;
	struct host_path *host_paths;
	uint16_t nhost_paths;
	bool has_api_access_volume;     /* the injected kube-api-access-* volume */

	/* Runtime facts (Pods read from the API server only). */
	const char *node_name;
	const char *owner_kind;         /* controller ownerReference */
	const char *owner_name;
	const char *owner_uid;
	bool mirror;                    /* kubernetes.io/config.mirror annotation */
	bool terminating;               /* deletionTimestamp set */
	uint8_t phase;                  /* enum pod_phase, status.phase */
	int64_t start_time;             /* status.startTime, epoch seconds; -1.  The
	                                 * kubelet's clock: never compare it with
	                                 * an API server time */
	int64_t created;                /* metadata.creationTimestamp (API server
	                                 * clock), epoch seconds; -1 */
	int64_t deletion_time;          /* metadata.deletionTimestamp (API server
	                                 * clock), epoch seconds; -1: not set */
	const char **ips;               /* status.podIPs (or podIP) */
	uint8_t nips;
	const char **host_ips;          /* status.hostIPs (or hostIP): the node's */
	uint8_t nhost_ips;
	/* status.{init,,ephemeral}ContainerStatuses[].containerID without the
	 * "containerd://" prefix, parallel to container_names. */
	const char **container_ids;
	const char **container_names;
	uint16_t ncontainer_ids;
};

/* Limits on what one pod may hold (SPEC §2 "Bounds").  A pod over any of
 * them is refused whole, with the cap named in the message: never cut,
 * since a list cut short can hide the entry a rule would have refused.
 * The totals keep every count within the uint16_t fields above: secret
 * uses are at most VOLUMES + SOURCES_TOTAL + ENV_TOTAL. */
#define POD_MAX_CONTAINERS 1024         /* initContainers + containers + ephemeralContainers */
#define POD_MAX_VOLUMES 4096            /* spec.volumes */
#define POD_MAX_PROJECTED_SOURCES 1024  /* sources of one projected volume */
#define POD_MAX_SOURCES_TOTAL 16384     /* projected sources of all volumes together */
#define POD_MAX_ENV 16384               /* env of one container */
#define POD_MAX_ENV_FROM 16384          /* envFrom of one container */
#define POD_MAX_ENV_TOTAL 32768         /* env + envFrom of all containers together */
#define POD_MAX_CAPS 256                /* securityContext.capabilities.add of one container */
#define POD_MAX_IPS 2                   /* status.podIPs: Kubernetes allows one per family */
#define POD_MAX_STATUSES POD_MAX_CONTAINERS  /* container statuses of all three lists */

/* Names the kind of @obj: 0 and *ret set for a pod-bearing kind,
 * -ENOENT for any other object (skip it), -EINVAL when it has no
 * apiVersion/kind. */
int pod_workload_kind(const struct jval *obj, enum workload_kind *ret);
/* The same reading kind and apiVersion with jval_cstr() (up to a NUL), as
 * the commands sort the objects of their inputs: one whose kind holds a
 * NUL is taken for the kind before it, and pod_from_jval() refuses it. */
int pod_workload_kind_cstr(const struct jval *obj, enum workload_kind *ret);
const char *workload_kind_name(enum workload_kind k);

/* Builds the compact pod of @obj (borrowed).  @default_ns is used when
 * metadata.namespace is absent.  Errors (a field of the wrong type, a
 * limit exceeded, a string read holding U+0000) go to @errs with their
 * field path: -EINVAL.
 * -ENOENT when @obj carries no pod spec; -ENOMEM. */
int pod_from_jval(const struct jval *obj, const char *default_ns, struct errlist *errs,
		  struct pod **ret_pod);
/* The same when the kind is known and @obj may not say it (list items). */
int pod_from_jval_kind(const struct jval *obj, enum workload_kind wk, const char *default_ns,
		       struct errlist *errs, struct pod **ret_pod);
struct pod *pod_free(struct pod *p);

/* The container whose runtime ID is @id: a full ID or a prefix of at
 * least 12 hex digits (Falco's short form), with or without a
 * "runtime://" prefix.  NULL when none. */
const char *pod_container_by_id(const struct pod *p, const char *id);
/* Whether @ip (text) is one of the pod's addresses. */
bool pod_has_ip(const struct pod *p, const char *ip);
/* Whether @ip (text) is one of its node's addresses (status.hostIPs). */
bool pod_has_host_ip(const struct pod *p, const char *ip);

/* "Running", "Succeeded", ... for logs; "" for PHASE_UNSET. */
const char *pod_phase_name(enum pod_phase ph);

/* The effective service account: "default" when unset or empty. */
const char *pod_service_account(const struct pod *p);
/* The list name of a container kind: "initContainers", "containers",
 * "ephemeralContainers". */
const char *container_list_name(enum container_kind k);

#endif
