/* cgroup.c - pod UID and container ID from a process's cgroup paths.
 * The path is read component by component; nothing is trusted to sit at
 * a fixed depth, because kubelet --cgroup-root, kind, docker-in-docker
 * and cgroup namespaces all add or hide leading components. */
#include "cgroup.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

struct span {
	const char *p;
	size_t n;
};

static bool span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool span_has_prefix(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n >= n && memcmp(s.p, lit, n) == 0;
}

static bool span_has_suffix(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n >= n && memcmp(s.p + s.n - n, lit, n) == 0;
}

static bool span_contains(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return n <= s.n && memmem(s.p, s.n, lit, n) != NULL;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
}

/* A pod UID: a UUID whose dashes are @sep ('-' for cgroupfs, '_' for
 * systemd, which escapes '-' in unit names), or the 32 hex of a static
 * pod's config hash.  Written to @out with dashes. */
static bool parse_uid(struct span s, char sep, char out[CGROUP_POD_UID_MAX + 1])
{
	char uid[CGROUP_POD_UID_MAX + 1];

	if (s.n != 36 && s.n != 32)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		bool dash = s.n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);

		if (dash ? s.p[i] != sep : !is_hex(s.p[i]))
			return false;
		uid[i] = dash ? '-' : lower(s.p[i]);
	}
	uid[s.n] = '\0';
	/* written only once whole: a failed candidate leaves @out alone */
	memcpy(out, uid, s.n + 1);
	return true;
}

static bool parse_id(struct span s, char out[CGROUP_CONTAINER_ID_LEN + 1])
{
	if (s.n != CGROUP_CONTAINER_ID_LEN)
		return false;
	/* Runtimes write lowercase; anything else is not an ID. */
	for (size_t i = 0; i < s.n; i++)
		if (!((s.p[i] >= '0' && s.p[i] <= '9') || (s.p[i] >= 'a' && s.p[i] <= 'f')))
			return false;
	memcpy(out, s.p, s.n);
	out[s.n] = '\0';
	return true;
}

/* systemd driver: "<prefix>-pod<uid_with_underscores>.slice" where the
 * prefix names kubepods ("kubepods", "kubepods-burstable",
 * "kubelet-kubepods-besteffort" under --cgroup-root=/kubelet). */
static bool pod_systemd(struct span c, struct cgroup_ident *id)
{
	struct span base = { c.p, c.n }, prefix, uid;
	const char *dash = NULL;

	if (!span_has_suffix(c, ".slice"))
		return false;
	base.n -= strlen(".slice");
	for (size_t i = base.n; i >= 4; i--)
		if (memcmp(base.p + i - 4, "-pod", 4) == 0) {
			dash = base.p + i - 4;
			break;
		}
	if (!dash)
		return false;
	prefix = (struct span){ base.p, (size_t)(dash - base.p) };
	uid = (struct span){ dash + 4, base.n - prefix.n - 4 };
	if (!span_contains(prefix, "kubepods") || !parse_uid(uid, '_', id->pod_uid))
		return false;
	if (span_has_suffix(prefix, "-burstable"))
		id->qos = CGROUP_QOS_BURSTABLE;
	else if (span_has_suffix(prefix, "-besteffort"))
		id->qos = CGROUP_QOS_BESTEFFORT;
	else
		id->qos = CGROUP_QOS_GUARANTEED;
	return true;
}

/* cgroupfs driver: "pod<uid>" under "kubepods" (guaranteed), "burstable"
 * or "besteffort", or under ".." when a cgroup namespace hides the rest. */
static bool pod_cgroupfs(struct span parent, struct span c, struct cgroup_ident *id)
{
	if (!span_has_prefix(c, "pod") ||
	    !parse_uid((struct span){ c.p + 3, c.n - 3 }, '-', id->pod_uid))
		return false;
	if (span_eq(parent, "burstable"))
		id->qos = CGROUP_QOS_BURSTABLE;
	else if (span_eq(parent, "besteffort"))
		id->qos = CGROUP_QOS_BESTEFFORT;
	else if (span_contains(parent, "kubepods"))
		id->qos = CGROUP_QOS_GUARANTEED;
	else if (span_eq(parent, ".."))
		id->qos = CGROUP_QOS_UNKNOWN;
	else
		return false;
	return true;
}

/* The component under the pod's: the container, or "" for conmon and
 * anything else that lives at pod level. */
static void container_of(struct span c, struct cgroup_ident *id)
{
	static const struct {
		const char *prefix;
		const char *suffix;
		enum cgroup_runtime rt;
	} forms[] = {
		{ "cri-containerd-", ".scope", CGROUP_RUNTIME_CONTAINERD },
		{ "crio-", ".scope", CGROUP_RUNTIME_CRIO },
		{ "crio-", "", CGROUP_RUNTIME_CRIO },
		{ "docker-", ".scope", CGROUP_RUNTIME_DOCKER },
		{ "", "", CGROUP_RUNTIME_UNKNOWN },
	};

	id->container_id[0] = '\0';
	id->runtime = CGROUP_RUNTIME_UNKNOWN;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		size_t pn = strlen(forms[i].prefix), sn = strlen(forms[i].suffix);

		if (c.n < pn + sn || !span_has_prefix(c, forms[i].prefix) ||
		    !span_has_suffix(c, forms[i].suffix))
			continue;
		if (parse_id((struct span){ c.p + pn, c.n - pn - sn }, id->container_id)) {
			id->runtime = forms[i].rt;
			return;
		}
	}
}

int cgroup_parse_path(const char *path, size_t len, struct cgroup_ident *ret)
{
	struct span parent = { "", 0 }, c;
	const char *p = path, *end = path + len;
	struct cgroup_ident id;

	memset(&id, 0, sizeof(id));
	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));

		c.p = p;
		c.n = (size_t)((slash ? slash : end) - p);
		p = slash ? slash + 1 : end;
		if (c.n == 0)
			continue;
		if (pod_systemd(c, &id) || pod_cgroupfs(parent, c, &id)) {
			/* the next non-empty component, if any, is the container */
			while (p < end && *p == '/')
				p++;
			slash = memchr(p, '/', (size_t)(end - p));
			c.p = p;
			c.n = (size_t)((slash ? slash : end) - p);
			container_of(c, &id);
			*ret = id;
			return 0;
		}
		parent = c;
	}
	return -ENOENT;
}

int cgroup_parse(const char *data, size_t len, struct cgroup_ident *ret)
{
	const char *p = data, *end = data + len;
	struct cgroup_ident best, id;
	bool found = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *c1, *c2;

		c1 = memchr(p, ':', (size_t)(eol - p));
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (c2 && c1 > p && cgroup_parse_path(c2 + 1, (size_t)(eol - c2 - 1), &id) == 0) {
			if (id.container_id[0]) {
				*ret = id;
				return 0;
			}
			if (!found) {
				best = id;
				found = true;
			}
		}
		p = nl ? nl + 1 : end;
	}
	if (!found)
		return -ENOENT;
	*ret = best;
	return 0;
}

const char *cgroup_runtime_scheme(enum cgroup_runtime rt)
{
	switch (rt) {
	case CGROUP_RUNTIME_CONTAINERD: return "containerd://";
	case CGROUP_RUNTIME_CRIO: return "cri-o://";
	case CGROUP_RUNTIME_DOCKER: return "docker://";
	default: return "";
	}
}

const char *cgroup_qos_name(enum cgroup_qos q)
{
	switch (q) {
	case CGROUP_QOS_GUARANTEED: return "Guaranteed";
	case CGROUP_QOS_BURSTABLE: return "Burstable";
	case CGROUP_QOS_BESTEFFORT: return "BestEffort";
	default: return "Unknown";
	}
}
