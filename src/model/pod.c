/* pod.c - from a Kubernetes object to the compact pod the engine judges.
 * The reader is strict about types (a string where a bool belongs is bad
 * input, as the API server would say) and lenient about absence. */
#include "pod.h"

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "errlist.h"
#include "fpath.h"
#include "jval.h"
#include "netaddr.h"
#include "rfc3339.h"
#include "strutil.h"
#include "xalloc.h"

struct pctx {
	struct arena *a;
	struct errlist *errs;
	struct fpath path;
	struct pod *pod;
	/* Room in the pod's arrays, each sized from the bound of its own
	 * writes (read_spec()); a write past one is refused, not dropped. */
	size_t tokens_cap, secrets_cap, host_paths_cap;
	bool failed;
	bool oom;
};

_Static_assert(POD_MAX_VOLUMES + POD_MAX_SOURCES_TOTAL + POD_MAX_ENV_TOTAL <= UINT16_MAX,
	       "secret uses must fit pod.nsecrets");
_Static_assert(POD_MAX_SOURCES_TOTAL <= UINT16_MAX && POD_MAX_CONTAINERS <= UINT16_MAX &&
	       POD_MAX_VOLUMES <= UINT16_MAX && POD_MAX_CAPS <= UINT16_MAX &&
	       POD_MAX_STATUSES <= UINT16_MAX && POD_MAX_IPS <= UINT8_MAX,
	       "pod counts are uint16_t (nips uint8_t)");

static const struct {
	const char *kind;
	const char *api_version;        /* NULL: any version of the group */
	enum workload_kind wk;
	const char *spec_root;
} kinds[] = {
	{ "Pod", "v1", WK_POD, "spec" },
	{ "Deployment", "apps/", WK_DEPLOYMENT, "spec.template.spec" },
	{ "ReplicaSet", "apps/", WK_REPLICASET, "spec.template.spec" },
	{ "StatefulSet", "apps/", WK_STATEFULSET, "spec.template.spec" },
	{ "DaemonSet", "apps/", WK_DAEMONSET, "spec.template.spec" },
	{ "Job", "batch/", WK_JOB, "spec.template.spec" },
	{ "CronJob", "batch/", WK_CRONJOB, "spec.jobTemplate.spec.template.spec" },
	{ "ReplicationController", "v1", WK_REPLICATIONCONTROLLER, "spec.template.spec" },
};

static void perr(struct pctx *c, const char *msg)
{
	if (errlist_add(c->errs, "%s: %s", fpath_str(&c->path), msg) < 0)
		c->oom = true;
	c->failed = true;
}

/* An error at @key under the current path. */
static void perr_key(struct pctx *c, const char *key, const char *msg)
{
	size_t m = fpath_key(&c->path, key);

	perr(c, msg);
	fpath_pop(&c->path, m);
}

static void perr_cap(struct pctx *c, size_t cap, const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "more than %zu %s (profileguard's limit)", cap, what);
	perr(c, msg);
}

/* A string member read leniently (absent or another type: NULL), but
 * never one holding U+0000: C would judge the part before the NUL
 * ("registry/x\u0000evil.com/x" as "registry/x"), and Kubernetes admits
 * no NUL in any field read here. */
static const char *opt_str(struct pctx *c, const struct jval *o, const char *key)
{
	const struct jval *v = jval_get(o, key);

	if (jval_has_nul(v)) {
		perr_key(c, key, "must not contain NUL");
		return NULL;
	}
	return jval_str(v);
}

static const char *pdup(struct pctx *c, const char *s)
{
	char *r = arena_strdup(c->a, s);

	if (!r)
		c->oom = true;
	return r;
}

int pod_workload_kind(const struct jval *obj, enum workload_kind *ret)
{
	const char *kind = jval_str(jval_get(obj, "kind"));
	const char *av = jval_str(jval_get(obj, "apiVersion"));

	if (!kind || !av)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kinds[i].kind, kind) != 0)
			continue;
		if (str_has_suffix(kinds[i].api_version, "/") ? !str_has_prefix(av, kinds[i].api_version)
							      : strcmp(av, kinds[i].api_version) != 0)
			continue;
		*ret = kinds[i].wk;
		return 0;
	}
	return -ENOENT;
}

int pod_workload_kind_cstr(const struct jval *obj, enum workload_kind *ret)
{
	const char *kind = jval_cstr(jval_get(obj, "kind")), *av = jval_cstr(jval_get(obj, "apiVersion"));
	struct jmember m[2] = {
		{ "kind", { .type = JV_STRING, .u.s = kind } },
		{ "apiVersion", { .type = JV_STRING, .u.s = av } },
	};
	struct jval v = { .type = JV_OBJECT, .n = 2, .u.members = m };

	if (!kind || !av)
		return -EINVAL;
	m[0].val.n = (uint32_t)strlen(kind);
	m[1].val.n = (uint32_t)strlen(av);
	return pod_workload_kind(&v, ret);
}

const char *workload_kind_name(enum workload_kind k)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].wk == k)
			return kinds[i].kind;
	return "?";
}

const char *container_list_name(enum container_kind k)
{
	switch (k) {
	case CK_INIT: return "initContainers";
	case CK_EPHEMERAL: return "ephemeralContainers";
	default: return "containers";
	}
}

const char *pod_service_account(const struct pod *p)
{
	return p->service_account && *p->service_account ? p->service_account : "default";
}

/* ---- typed readers: absent or null is "unset"; a wrong type is an error -- */

static const struct jval *get_obj(struct pctx *c, const struct jval *o, const char *key)
{
	const struct jval *v = jval_get(o, key);
	size_t m;

	if (!v || jval_is_null(v))
		return NULL;
	if (jval_is_object(v))
		return v;
	m = fpath_key(&c->path, key);
	perr(c, "must be an object");
	fpath_pop(&c->path, m);
	return NULL;
}

static const struct jval *get_arr(struct pctx *c, const struct jval *o, const char *key, size_t max)
{
	const struct jval *v = jval_get(o, key);
	size_t m;

	if (!v || jval_is_null(v))
		return NULL;
	m = fpath_key(&c->path, key);
	if (!jval_is_array(v)) {
		perr(c, "must be a list");
		v = NULL;
	} else if (jval_size(v) > max) {
		perr_cap(c, max, "items");
		v = NULL;
	}
	fpath_pop(&c->path, m);
	return v;
}

static const char *get_str(struct pctx *c, const struct jval *o, const char *key)
{
	const struct jval *v = jval_get(o, key);
	size_t m;

	if (!v || jval_is_null(v))
		return NULL;
	if (jval_is_string(v))
		return pdup(c, jval_str(v));
	m = fpath_key(&c->path, key);
	perr(c, jval_has_nul(v) ? "must not contain NUL" : "must be a string");
	fpath_pop(&c->path, m);
	return NULL;
}

static uint8_t get_bool(struct pctx *c, const struct jval *o, const char *key)
{
	const struct jval *v = jval_get(o, key);
	size_t m;

	if (!v || jval_is_null(v))
		return OPT_UNSET;
	if (jval_is_bool(v))
		return jval_is_true(v) ? OPT_TRUE : OPT_FALSE;
	m = fpath_key(&c->path, key);
	perr(c, "must be true or false");
	fpath_pop(&c->path, m);
	return OPT_UNSET;
}

static int64_t get_int(struct pctx *c, const struct jval *o, const char *key)
{
	const struct jval *v = jval_get(o, key);
	size_t m;

	if (!v || jval_is_null(v))
		return -1;
	if (jval_is_int(v) && v->u.i >= 0)
		return v->u.i;
	m = fpath_key(&c->path, key);
	perr(c, "must be a non-negative integer");
	fpath_pop(&c->path, m);
	return -1;
}

/* ---- pieces --------------------------------------------------------------- */

static void add_secret_use(struct pctx *c, const char *secret, enum secret_use_kind kind,
			   enum container_kind ck, size_t a, size_t b)
{
	struct pod *p = c->pod;
	struct secret_use *u;

	if (!secret)
		return;
	if (p->nsecrets >= c->secrets_cap) {
		/* read_spec() sized the array from every list that adds
		 * here, so this is a bug: refuse the pod rather than judge it
		 * without a reference. */
		perr(c, "more Secret references than counted (profileguard bug)");
		return;
	}
	u = &p->secrets[p->nsecrets++];
	u->secret = secret;
	u->kind = (uint8_t)kind;
	u->ckind = (uint8_t)ck;
	u->a = (uint16_t)a;
	u->b = (uint16_t)b;
}

static void read_security_context(struct pctx *c, const struct jval *sc, struct container *ct)
{
	const struct jval *caps, *add, *v;
	size_t m, i;

	ct->run_as_user = -1;
	if (!sc)
		return;
	m = fpath_key(&c->path, "securityContext");
	ct->privileged = get_bool(c, sc, "privileged");
	ct->allow_escalation = get_bool(c, sc, "allowPrivilegeEscalation");
	ct->run_as_non_root = get_bool(c, sc, "runAsNonRoot");
	ct->run_as_user = get_int(c, sc, "runAsUser");
	caps = get_obj(c, sc, "capabilities");
	if (caps) {
		size_t mc = fpath_key(&c->path, "capabilities");

		add = get_arr(c, caps, "add", POD_MAX_CAPS);
		if (add) {
			ct->caps_add = arena_alloc(c->a, (jval_size(add) + 1) * sizeof(char *));
			if (!ct->caps_add)
				c->oom = true;
			jval_foreach_item(add, i, v) {
				if (!jval_is_string(v)) {
					size_t mi = fpath_key(&c->path, "add");

					fpath_index(&c->path, i);
					perr(c, jval_has_nul(v) ? "must not contain NUL" : "must be a string");
					fpath_pop(&c->path, mi);
				} else if (ct->caps_add) {
					ct->caps_add[ct->ncaps++] = pdup(c, jval_str(v));
				}
			}
		}
		fpath_pop(&c->path, mc);
	}
	fpath_pop(&c->path, m);
}

/* The name at @key1.@key2.name of item @i of the list @list, read as
 * opt_str() does, with the error at its full path. */
static const char *ref_name(struct pctx *c, const struct jval *item, const char *list, size_t i,
			    const char *key1, const char *key2)
{
	const struct jval *o = jval_get(item, key1);
	const char *r;
	size_t m;

	if (!jval_is_object(o))
		return NULL;
	if (key2 && !jval_is_object(o = jval_get(o, key2)))
		return NULL;
	if (!jval_has_nul(jval_get(o, "name")))
		return jval_str(jval_get(o, "name"));
	m = fpath_key(&c->path, list);
	fpath_index(&c->path, i);
	fpath_key(&c->path, key1);
	if (key2)
		fpath_key(&c->path, key2);
	r = opt_str(c, o, "name");
	fpath_pop(&c->path, m);
	return r;
}

static void read_container(struct pctx *c, const struct jval *j, enum container_kind kind, size_t index)
{
	struct pod *p = c->pod;
	struct container *ct = &p->containers[p->ncontainers];
	const struct jval *env, *env_from, *e;
	size_t i;

	if (!jval_is_object(j)) {
		perr(c, "must be an object");
		return;
	}
	ct->kind = (uint8_t)kind;
	ct->index = (uint16_t)index;
	ct->name = get_str(c, j, "name");
	ct->image = get_str(c, j, "image");
	read_security_context(c, get_obj(c, j, "securityContext"), ct);

	env = get_arr(c, j, "env", POD_MAX_ENV);
	jval_foreach_item(env, i, e) {
		const char *name = ref_name(c, e, "env", i, "valueFrom", "secretKeyRef");

		if (name)
			add_secret_use(c, pdup(c, name), SU_ENV, kind, index, i);
	}
	env_from = get_arr(c, j, "envFrom", POD_MAX_ENV_FROM);
	jval_foreach_item(env_from, i, e) {
		const char *name = ref_name(c, e, "envFrom", i, "secretRef", NULL);

		if (name)
			add_secret_use(c, pdup(c, name), SU_ENV_FROM, kind, index, i);
	}
	p->ncontainers++;
}

static void read_volume(struct pctx *c, const struct jval *vol, size_t vi)
{
	struct pod *p = c->pod;
	const char *name;
	const struct jval *hp, *secret, *projected, *sources, *src;
	size_t i;

	if (!jval_is_object(vol)) {
		perr(c, "must be an object");
		return;
	}
	name = opt_str(c, vol, "name");
	if (name && str_has_prefix(name, "kube-api-access-"))
		p->has_api_access_volume = true;

	hp = get_obj(c, vol, "hostPath");
	if (hp) {
		size_t m = fpath_key(&c->path, "hostPath");
		const char *path = get_str(c, hp, "path");

		if (path && p->nhost_paths >= c->host_paths_cap) {
			perr(c, "more hostPaths than counted (profileguard bug)");
		} else if (path) {
			p->host_paths[p->nhost_paths].path = path;
			p->host_paths[p->nhost_paths].volume = (uint16_t)vi;
			p->nhost_paths++;
		}
		fpath_pop(&c->path, m);
	}
	secret = get_obj(c, vol, "secret");
	if (secret) {
		size_t m = fpath_key(&c->path, "secret");
		const char *sn = opt_str(c, secret, "secretName");

		if (sn)
			add_secret_use(c, pdup(c, sn), SU_VOLUME, CK_CONTAINER, vi, 0);
		fpath_pop(&c->path, m);
	}
	projected = get_obj(c, vol, "projected");
	if (!projected)
		return;
	{
		size_t m = fpath_key(&c->path, "projected");

		sources = get_arr(c, projected, "sources", POD_MAX_PROJECTED_SOURCES);
		jval_foreach_item(sources, i, src) {
			const struct jval *sat = jval_is_object(src) ? jval_get(src, "serviceAccountToken") : NULL;
			size_t ms = fpath_key(&c->path, "sources");

			fpath_index(&c->path, i);
			if (jval_is_object(sat) && p->ntokens >= c->tokens_cap) {
				perr(c, "more serviceAccountToken sources than counted (profileguard bug)");
			} else if (jval_is_object(sat)) {
				struct token_source *t = &p->tokens[p->ntokens++];
				size_t mt = fpath_key(&c->path, "serviceAccountToken");

				t->volume = (uint16_t)vi;
				t->source = (uint16_t)i;
				t->expiration = get_int(c, sat, "expirationSeconds");
				fpath_pop(&c->path, mt);
			}
			fpath_pop(&c->path, ms);
			{
				const char *sn = ref_name(c, src, "sources", i, "secret", NULL);

				if (sn)
					add_secret_use(c, pdup(c, sn), SU_PROJECTED, CK_CONTAINER, vi, i);
			}
		}
		fpath_pop(&c->path, m);
	}
}

static size_t count_items(const struct jval *obj, const char *key)
{
	const struct jval *v = jval_get(obj, key);

	return jval_is_array(v) ? jval_size(v) : 0;
}

/* Upper bounds of what the readers below write, from the lists they read:
 * each array is sized from the count that limits its own writes.  Sizes
 * are each at most the parser's member limit, so the sums cannot wrap. */
static size_t count_env(const struct jval *const conts[3])
{
	size_t n = 0, i;
	const struct jval *ct;

	for (size_t l = 0; l < 3; l++)
		jval_foreach_item(conts[l], i, ct)
			n += count_items(ct, "env") + count_items(ct, "envFrom");
	return n;
}

static size_t count_sources(const struct jval *vols)
{
	size_t n = 0, i;
	const struct jval *v;

	jval_foreach_item(vols, i, v)
		n += count_items(jval_get(v, "projected"), "sources");
	return n;
}

static void read_spec(struct pctx *c, const struct jval *spec)
{
	static const char *const lists[] = { "initContainers", "containers", "ephemeralContainers" };
	static const enum container_kind lkinds[] = { CK_INIT, CK_CONTAINER, CK_EPHEMERAL };
	struct pod *p = c->pod;
	size_t ncont = 0, nvol, nsrc, nenv, i;
	const struct jval *vols, *v, *sc, *conts[3];
	bool over = false;

	if (!jval_is_object(spec)) {
		perr(c, spec ? "must be an object" : "required");
		return;
	}
	p->service_account = get_str(c, spec, "serviceAccountName");
	if (!p->service_account || !*p->service_account)
		p->service_account = get_str(c, spec, "serviceAccount");
	p->automount = get_bool(c, spec, "automountServiceAccountToken");
	p->host_network = get_bool(c, spec, "hostNetwork") == OPT_TRUE;
	p->host_pid = get_bool(c, spec, "hostPID") == OPT_TRUE;
	p->host_ipc = get_bool(c, spec, "hostIPC") == OPT_TRUE;
	p->run_as_user = -1;
	sc = get_obj(c, spec, "securityContext");
	if (sc) {
		size_t m = fpath_key(&c->path, "securityContext");

		p->run_as_non_root = get_bool(c, sc, "runAsNonRoot");
		p->run_as_user = get_int(c, sc, "runAsUser");
		fpath_pop(&c->path, m);
	}

	/* Every list is checked against its cap before anything is sized
	 * from it: a list over its cap refuses the pod (get_arr()). */
	vols = get_arr(c, spec, "volumes", POD_MAX_VOLUMES);
	for (size_t l = 0; l < 3; l++) {
		conts[l] = get_arr(c, spec, lists[l], POD_MAX_CONTAINERS);
		ncont += jval_size(conts[l]);
	}
	if (ncont > POD_MAX_CONTAINERS) {
		perr_cap(c, POD_MAX_CONTAINERS,
			 "containers in initContainers, containers and ephemeralContainers together");
		over = true;
	}
	nvol = jval_size(vols);
	nsrc = count_sources(vols);
	if (nsrc > POD_MAX_SOURCES_TOTAL) {
		size_t m = fpath_key(&c->path, "volumes");

		perr_cap(c, POD_MAX_SOURCES_TOTAL, "projected sources in all volumes together");
		fpath_pop(&c->path, m);
		over = true;
	}
	nenv = count_env(conts);
	if (nenv > POD_MAX_ENV_TOTAL) {
		perr_cap(c, POD_MAX_ENV_TOTAL, "env and envFrom items in all containers together");
		over = true;
	}
	if (over)
		return;

	/* tokens: one per projected source at most; hostPaths: one per
	 * volume; Secret uses: one per volume (secret), per projected
	 * source (secret) and per env or envFrom item. */
	c->tokens_cap = nsrc;
	c->host_paths_cap = nvol;
	c->secrets_cap = nvol + nsrc + nenv;
	p->containers = arena_alloc(c->a, (ncont + 1) * sizeof(*p->containers));
	p->tokens = arena_alloc(c->a, (c->tokens_cap + 1) * sizeof(*p->tokens));
	p->host_paths = arena_alloc(c->a, (c->host_paths_cap + 1) * sizeof(*p->host_paths));
	p->secrets = arena_alloc(c->a, (c->secrets_cap + 1) * sizeof(*p->secrets));
	if (!p->containers || !p->tokens || !p->host_paths || !p->secrets) {
		c->oom = true;
		return;
	}

	jval_foreach_item(vols, i, v) {
		size_t m = fpath_key(&c->path, "volumes");

		fpath_index(&c->path, i);
		read_volume(c, v, i);
		fpath_pop(&c->path, m);
	}
	for (size_t l = 0; l < 3; l++) {
		const struct jval *ct;

		jval_foreach_item(conts[l], i, ct) {
			size_t m = fpath_key(&c->path, lists[l]);

			fpath_index(&c->path, i);
			read_container(c, ct, lkinds[l], i);
			fpath_pop(&c->path, m);
		}
	}
}

/* Epoch seconds, -1 when absent or not an RFC 3339 time. */
static int64_t parse_time(const char *s)
{
	int64_t t;

	return rfc3339_parse(s, &t, NULL) == 0 ? t : -1;
}

/* Strips "containerd://", "cri-o://", "docker://". */
static const char *strip_runtime(const char *id)
{
	const char *sep = id ? strstr(id, "://") : NULL;

	return sep ? sep + 3 : id;
}

/* status.podIPs or status.hostIPs (@list), or the single @one on old
 * servers.  Kubernetes allows one address per family: more is a
 * malformed pod, refused rather than cut.  The path is "status" on entry. */
static const char **read_ips(struct pctx *c, const struct jval *status, const char *list,
			     const char *one, uint8_t *ret_n)
{
	const struct jval *ips = jval_get(status, list), *it;
	const char **v;
	const char *ip;
	size_t i;

	*ret_n = 0;
	if (jval_is_array(ips) && jval_size(ips) > POD_MAX_IPS) {
		char msg[64];

		snprintf(msg, sizeof(msg), "more than %d items (Kubernetes allows %d)", POD_MAX_IPS,
			 POD_MAX_IPS);
		perr_key(c, list, msg);
		ips = NULL;
	} else {
		ips = get_arr(c, status, list, POD_MAX_IPS);
	}
	v = arena_alloc(c->a, (POD_MAX_IPS + 1) * sizeof(char *));
	if (!v) {
		c->oom = true;
		return NULL;
	}
	jval_foreach_item(ips, i, it) {
		size_t m = fpath_key(&c->path, list);

		fpath_index(&c->path, i);
		ip = opt_str(c, it, "ip");
		if (ip)
			v[(*ret_n)++] = pdup(c, ip);
		fpath_pop(&c->path, m);
	}
	ip = opt_str(c, status, one);
	if (*ret_n == 0 && ip)
		v[(*ret_n)++] = pdup(c, ip);
	return v;
}

/* The path is "status" on entry. */
static void read_status_ids(struct pctx *c, const struct jval *status)
{
	static const char *const lists[] = { "initContainerStatuses", "containerStatuses",
					     "ephemeralContainerStatuses" };
	struct pod *p = c->pod;
	const struct jval *it, *arr[3];
	size_t n = 0, i;

	/* Both pod addresses of a dual-stack pod; podIP alone on old servers.
	 * The node's too: masquerading or SNAT puts a pod's calls there. */
	p->ips = read_ips(c, status, "podIPs", "podIP", &p->nips);
	p->host_ips = read_ips(c, status, "hostIPs", "hostIP", &p->nhost_ips);
	if (!p->ips || !p->host_ips)
		return;

	for (size_t l = 0; l < 3; l++) {
		arr[l] = get_arr(c, status, lists[l], POD_MAX_STATUSES);
		n += jval_size(arr[l]);
	}
	if (n > POD_MAX_STATUSES) {
		perr_cap(c, POD_MAX_STATUSES, "container statuses in all three lists together");
		return;
	}
	p->container_ids = arena_alloc(c->a, (n + 1) * sizeof(char *));
	p->container_names = arena_alloc(c->a, (n + 1) * sizeof(char *));
	if (!p->container_ids || !p->container_names) {
		c->oom = true;
		return;
	}
	for (size_t l = 0; l < 3; l++) {
		jval_foreach_item(arr[l], i, it) {
			size_t m = fpath_key(&c->path, lists[l]);
			const char *id, *name;

			fpath_index(&c->path, i);
			id = strip_runtime(opt_str(c, it, "containerID"));
			name = opt_str(c, it, "name");
			fpath_pop(&c->path, m);
			if (!id || !*id || !name)
				continue;
			p->container_ids[p->ncontainer_ids] = pdup(c, id);
			p->container_names[p->ncontainer_ids] = pdup(c, name);
			p->ncontainer_ids++;
		}
	}
}

const char *pod_container_by_id(const struct pod *p, const char *id)
{
	size_t n;

	id = strip_runtime(id);
	if (!id)
		return NULL;
	n = strlen(id);
	if (n < 12)
		return NULL;
	for (uint16_t i = 0; i < p->ncontainer_ids; i++)
		if (strncmp(p->container_ids[i], id, n) == 0)
			return p->container_names[i];
	return NULL;
}

static bool ips_have(const char *const *ips, uint8_t n, const char *ip)
{
	struct netaddr want, have;
	bool parsed = netaddr_parse(ip, &want) == 0;

	/* Compared as addresses: IPv6 has many spellings of one address. */
	for (uint8_t i = 0; i < n; i++) {
		if (parsed && netaddr_parse(ips[i], &have) == 0) {
			if (want.family == have.family && memcmp(want.bytes, have.bytes, 16) == 0)
				return true;
		} else if (strcmp(ips[i], ip) == 0) {
			return true;
		}
	}
	return false;
}

bool pod_has_ip(const struct pod *p, const char *ip)
{
	return ips_have(p->ips, p->nips, ip);
}

bool pod_has_host_ip(const struct pod *p, const char *ip)
{
	return ips_have(p->host_ips, p->nhost_ips, ip);
}

static const char *const phase_names[] = {
	[PHASE_UNSET] = "", [PHASE_PENDING] = "Pending", [PHASE_RUNNING] = "Running",
	[PHASE_SUCCEEDED] = "Succeeded", [PHASE_FAILED] = "Failed", [PHASE_UNKNOWN] = "Unknown",
};

const char *pod_phase_name(enum pod_phase ph)
{
	return (size_t)ph < sizeof(phase_names) / sizeof(phase_names[0]) ? phase_names[ph] : "";
}

/* status.phase: the API's spelling exactly; anything else is unset. */
static uint8_t read_phase(struct pctx *c, const struct jval *status)
{
	const char *s = opt_str(c, status, "phase");

	for (size_t i = PHASE_PENDING; s && i < sizeof(phase_names) / sizeof(phase_names[0]); i++)
		if (strcmp(s, phase_names[i]) == 0)
			return (uint8_t)i;
	return PHASE_UNSET;
}

static void read_runtime_facts(struct pctx *c, const struct jval *obj)
{
	struct pod *p = c->pod;
	const struct jval *meta = jval_get(obj, "metadata");
	const struct jval *spec = jval_get(obj, "spec");
	const struct jval *status = jval_get(obj, "status");
	const struct jval *owners = jval_get(meta, "ownerReferences"), *o;
	const struct jval *ann = jval_get(meta, "annotations");
	const char *s;
	size_t i;

	p->start_time = -1;
	p->created = -1;
	p->deletion_time = -1;
	fpath_init(&c->path, "spec");
	if ((s = opt_str(c, spec, "nodeName")))
		p->node_name = pdup(c, s);
	fpath_init(&c->path, "metadata");
	jval_foreach_item(owners, i, o) {
		size_t m;

		if (!jval_is_true(jval_get(o, "controller")))
			continue;
		m = fpath_key(&c->path, "ownerReferences");
		fpath_index(&c->path, i);
		if ((s = opt_str(c, o, "kind")))
			p->owner_kind = pdup(c, s);
		if ((s = opt_str(c, o, "name")))
			p->owner_name = pdup(c, s);
		if ((s = opt_str(c, o, "uid")))
			p->owner_uid = pdup(c, s);
		fpath_pop(&c->path, m);
		break;
	}
	p->mirror = jval_get(ann, "kubernetes.io/config.mirror") != NULL;
	p->terminating = jval_get(meta, "deletionTimestamp") != NULL &&
			 !jval_is_null(jval_get(meta, "deletionTimestamp"));
	p->deletion_time = parse_time(opt_str(c, meta, "deletionTimestamp"));
	p->created = parse_time(opt_str(c, meta, "creationTimestamp"));
	fpath_init(&c->path, "status");
	p->start_time = parse_time(opt_str(c, status, "startTime"));
	p->phase = read_phase(c, status);
	read_status_ids(c, status);
}

int pod_from_jval(const struct jval *obj, const char *default_ns, struct errlist *errs,
		  struct pod **ret_pod)
{
	enum workload_kind wk;
	int r = pod_workload_kind(obj, &wk);

	if (r < 0)
		return r;
	return pod_from_jval_kind(obj, wk, default_ns, errs, ret_pod);
}

int pod_from_jval_kind(const struct jval *obj, enum workload_kind wk, const char *default_ns,
		       struct errlist *errs, struct pod **ret_pod)
{
	struct pctx c = { .errs = errs };
	const struct jval *meta, *tmpl_meta = NULL, *spec, *labels;
	struct pod *p;
	const char *ns;
	size_t m;
	int r;
	p = pg_calloc(1, sizeof(*p));
	c.a = arena_new(512);
	if (!p || !c.a) {
		pg_free(p);
		arena_free(c.a);
		return -ENOMEM;
	}
	p->arena = c.a;
	p->kind = (uint8_t)wk;
	c.pod = p;
	fpath_init(&c.path, NULL);

	meta = jval_get(obj, "metadata");
	if (meta && !jval_is_object(meta)) {
		fpath_key(&c.path, "metadata");
		perr(&c, "must be an object");
		goto done;
	}
	m = fpath_key(&c.path, "metadata");
	ns = opt_str(&c, meta, "namespace");
	p->namespace = pdup(&c, ns && *ns ? ns : default_ns ? default_ns : "default");
	p->name = opt_str(&c, meta, "name");
	if (!p->name)
		p->name = opt_str(&c, meta, "generateName");
	p->name = pdup(&c, p->name ? p->name : "");
	if ((p->uid = opt_str(&c, meta, "uid")))
		p->uid = pdup(&c, p->uid);
	fpath_pop(&c.path, m);

	spec = jval_get(obj, "spec");
	switch (wk) {
	case WK_POD:
		p->spec_root = "spec";
		break;
	case WK_CRONJOB:
		p->spec_root = "spec.jobTemplate.spec.template.spec";
		spec = jval_get(jval_get(spec, "jobTemplate"), "spec");
		spec = jval_get(spec, "template");
		tmpl_meta = jval_get(spec, "metadata");
		spec = jval_get(spec, "spec");
		break;
	default:
		p->spec_root = "spec.template.spec";
		spec = jval_get(jval_get(obj, "spec"), "template");
		tmpl_meta = jval_get(spec, "metadata");
		spec = jval_get(spec, "spec");
		break;
	}

	m = fpath_key(&c.path, wk == WK_POD ? "metadata" : "spec");
	if (wk != WK_POD) {
		fpath_pop(&c.path, m);
		fpath_init(&c.path, p->spec_root);
		fpath_pop(&c.path, strlen(p->spec_root) - strlen(".spec"));
		m = fpath_key(&c.path, "metadata");
	}
	fpath_key(&c.path, "labels");
	labels = jval_get(wk == WK_POD ? meta : tmpl_meta, "labels");
	r = labels_from_jval(labels, c.a, &c.path, errs, &p->labels);
	if (r == -ENOMEM)
		c.oom = true;
	else if (r < 0)
		c.failed = true;
	fpath_init(&c.path, p->spec_root);

	read_spec(&c, spec);
	if (wk == WK_POD)
		read_runtime_facts(&c, obj);
	else
		p->start_time = p->created = p->deletion_time = -1;
done:
	if (c.oom || errs->oom) {
		pod_free(p);
		return -ENOMEM;
	}
	if (c.failed) {
		pod_free(p);
		return -EINVAL;
	}
	*ret_pod = p;
	return 0;
}

struct pod *pod_free(struct pod *p)
{
	if (!p)
		return NULL;
	arena_free(p->arena);
	pg_free(p);
	return NULL;
}

