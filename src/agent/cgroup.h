/* cgroup.h - which pod and container a process runs in, read from
 * the text of /proc/PID/cgroup.  Pure: bytes in, identity out.
 *
 * Knows the kubelet's two cgroup drivers (cgroupfs "/kubepods/burstable/
 * pod<uid>/..." and systemd "kubepods-burstable-pod<uid_with_underscores>
 * .slice"), the three QoS classes (guaranteed pods sit directly under
 * kubepods), cgroup v1 (one line per hierarchy) and v2 ("0::/..."), paths
 * seen through a cgroup namespace ("/../../kubepods-..."), and the
 * container names of containerd ("cri-containerd-<id>.scope" or a bare
 * "<id>"), CRI-O ("crio-<id>.scope", "crio-<id>") and Docker
 * ("docker-<id>.scope", bare "<id>"). */
#ifndef PG_CGROUP_H
#define PG_CGROUP_H

#include <stddef.h>

enum cgroup_runtime {
	CGROUP_RUNTIME_UNKNOWN,         /* a bare 64-hex name: containerd or Docker */
	CGROUP_RUNTIME_CONTAINERD,
	CGROUP_RUNTIME_CRIO,
	CGROUP_RUNTIME_DOCKER,
};

enum cgroup_qos {
	CGROUP_QOS_UNKNOWN,             /* the parent was hidden by a cgroup namespace */
	CGROUP_QOS_GUARANTEED,
	CGROUP_QOS_BURSTABLE,
	CGROUP_QOS_BESTEFFORT,
};

#define CGROUP_POD_UID_MAX 36           /* a UUID; static pods have 32 hex */
#define CGROUP_CONTAINER_ID_LEN 64

struct cgroup_ident {
	char pod_uid[CGROUP_POD_UID_MAX + 1];   /* as metadata.uid writes it */
	/* 64 lowercase hex; "" for a process in the pod's own cgroup but in
	 * no container's (CRI-O's conmon, a pod-level helper). */
	char container_id[CGROUP_CONTAINER_ID_LEN + 1];
	enum cgroup_runtime runtime;
	enum cgroup_qos qos;
};

/* One cgroup path ("/kubepods/besteffort/pod<uid>/<id>").  The outermost
 * pod in the path wins (a kind node inside a pod is that pod's).  0 with
 * *ret filled, or -ENOENT when the path is not a pod's; *ret is left
 * alone on failure. */
int cgroup_parse_path(const char *path, size_t len, struct cgroup_ident *ret);

/* The whole /proc/PID/cgroup text: the pod from any hierarchy's line, a
 * line that also names the container preferred.  Lines that are not
 * "ID:CONTROLLERS:PATH" are skipped.  0, or -ENOENT when no line names a
 * pod (a host process, garbage); *ret is left alone on failure. */
int cgroup_parse(const char *data, size_t len, struct cgroup_ident *ret);

/* "containerd://", "cri-o://", "docker://", as status.containerStatuses[]
 * .containerID prefixes them; "" when unknown. */
const char *cgroup_runtime_scheme(enum cgroup_runtime rt);
const char *cgroup_qos_name(enum cgroup_qos q);      /* "Burstable", ... */

#endif
