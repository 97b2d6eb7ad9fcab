/* pod.c - from a Kubernetes object to the compact pod the engine judges.
 * The reader is strict about types (a string where a bool belongs is bad
 * input, as the API server would say) and lenient about absence. */
#include "pod.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "errlist.h"
#include "fpath.h"
#include "jval.h"
#include "netaddr.h"
#include "strutil.h"
#include "xalloc.h"

struct pctx {
	struct arena *a;
	struct errlist *errs;
	struct fpath path;
	struct pod *pod;
	bool failed;
	bool oom;
};

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

static const char *pdup(struct pctx *c, const char *s)
{
	char *r = arena_strdup(c->a, s);

	if (!r)
		c->oom = true;
	return r;
}

int pod_workload_kind_jval(const struct jval *obj, enum workload_kind *ret)
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
		char msg[64];

		snprintf(msg, sizeof(msg), "more than %zu items", max);
		perr(c, msg);
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
	perr(c, "must be a string");
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
			   enum container_kind ck, size_t a, size_t b, size_t cap)
{
	struct pod *p = c->pod;
	struct secret_use *u;

	if (!secret || p->nsecrets >= cap)
		return;
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

		add = get_arr(c, caps, "add", 256);
		if (add) {
			ct->caps_add = arena_alloc(c->a, (jval_size(add) + 1) * sizeof(char *));
			if (!ct->caps_add)
				c->oom = true;
			jval_foreach_item(add, i, v) {
				if (!jval_is_string(v)) {
					size_t mi = fpath_key(&c->path, "add");

					fpath_index(&c->path, i);
					perr(c, "must be a string");
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

static void read_container(struct pctx *c, const struct jval *j, enum container_kind kind, size_t index,
			   size_t env_cap)
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
		const struct jval *vf = jval_get(e, "valueFrom");
		const struct jval *skr = jval_is_object(vf) ? jval_get(vf, "secretKeyRef") : NULL;
		const char *name = jval_is_object(skr) ? jval_str(jval_get(skr, "name")) : NULL;

		if (name)
			add_secret_use(c, pdup(c, name), SU_ENV, kind, index, i, env_cap);
	}
	env_from = get_arr(c, j, "envFrom", POD_MAX_ENV);
	jval_foreach_item(env_from, i, e) {
		const struct jval *sr = jval_get(e, "secretRef");
		const char *name = jval_is_object(sr) ? jval_str(jval_get(sr, "name")) : NULL;

		if (name)
			add_secret_use(c, pdup(c, name), SU_ENV_FROM, kind, index, i, env_cap);
	}
	p->ncontainers++;
}

static void read_volume(struct pctx *c, const struct jval *vol, size_t vi, size_t cap)
{
	struct pod *p = c->pod;
	const char *name;
	const struct jval *hp, *secret, *projected, *sources, *src;
	size_t i;

	if (!jval_is_object(vol)) {
		perr(c, "must be an object");
		return;
	}
	name = jval_str(jval_get(vol, "name"));
	if (name && str_has_prefix(name, "kube-api-access-"))
		p->has_api_access_volume = true;

	hp = get_obj(c, vol, "hostPath");
	if (hp) {
		size_t m = fpath_key(&c->path, "hostPath");
		const char *path = get_str(c, hp, "path");

		if (path && p->nhost_paths < cap) {
			p->host_paths[p->nhost_paths].path = path;
			p->host_paths[p->nhost_paths].volume = (uint16_t)vi;
			p->nhost_paths++;
		}
		fpath_pop(&c->path, m);
	}
	secret = get_obj(c, vol, "secret");
	if (secret) {
		const char *sn = jval_str(jval_get(secret, "secretName"));

		if (sn)
			add_secret_use(c, pdup(c, sn), SU_VOLUME, CK_CONTAINER, vi, 0, cap);
	}
	projected = get_obj(c, vol, "projected");
	if (!projected)
		return;
	{
		size_t m = fpath_key(&c->path, "projected");

		sources = get_arr(c, projected, "sources", 1024);
		jval_foreach_item(sources, i, src) {
			const struct jval *sat = jval_is_object(src) ? jval_get(src, "serviceAccountToken") : NULL;
			const struct jval *sec = jval_is_object(src) ? jval_get(src, "secret") : NULL;

			if (jval_is_object(sat) && p->ntokens < cap) {
				size_t ms = fpath_key(&c->path, "sources");
				struct token_source *t = &p->tokens[p->ntokens++];

				fpath_index(&c->path, i);
				fpath_key(&c->path, "serviceAccountToken");
				t->volume = (uint16_t)vi;
				t->source = (uint16_t)i;
				t->expiration = get_int(c, sat, "expirationSeconds");
				fpath_pop(&c->path, ms);
			}
			if (jval_is_object(sec)) {
				const char *sn = jval_str(jval_get(sec, "name"));

				if (sn)
					add_secret_use(c, pdup(c, sn), SU_PROJECTED, CK_CONTAINER, vi, i, cap);
			}
		}
		fpath_pop(&c->path, m);
	}
}

static size_t count_items(const struct jval *spec, const char *key)
{
	const struct jval *v = jval_get(spec, key);

	return jval_is_array(v) ? jval_size(v) : 0;
}

/* Upper bound of secret references, so the arrays are sized once. */
static size_t count_env(const struct jval *spec)
{
	static const char *const lists[] = { "initContainers", "containers", "ephemeralContainers" };
	size_t n = 0;

	for (size_t l = 0; l < 3; l++) {
		const struct jval *arr = jval_get(spec, lists[l]), *ct;
		size_t i;

		if (!jval_is_array(arr))
			continue;
		jval_foreach_item(arr, i, ct) {
			n += count_items(ct, "env") + count_items(ct, "envFrom");
			if (n > POD_MAX_ENV)
				return POD_MAX_ENV;
		}
	}
	return n;
}

static size_t count_sources(const struct jval *spec)
{
	const struct jval *vols = jval_get(spec, "volumes"), *v;
	size_t n = 0, i;

	jval_foreach_item(vols, i, v) {
		const struct jval *pr = jval_get(v, "projected");

		n += 1 + (jval_is_object(pr) ? count_items(pr, "sources") : 0);
		if (n > POD_MAX_VOLUMES * 4)
			return POD_MAX_VOLUMES * 4;
	}
	return n;
}

static void read_spec(struct pctx *c, const struct jval *spec)
{
	static const char *const lists[] = { "initContainers", "containers", "ephemeralContainers" };
	static const enum container_kind lkinds[] = { CK_INIT, CK_CONTAINER, CK_EPHEMERAL };
	struct pod *p = c->pod;
	size_t ncont = 0, nsrc, nenv, i;
	const struct jval *vols, *v, *sc;

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

	for (size_t l = 0; l < 3; l++)
		ncont += count_items(spec, lists[l]);
	if (ncont > POD_MAX_CONTAINERS) {
		perr(c, "more containers than profileguard judges (1024)");
		return;
	}
	nsrc = count_sources(spec);
	nenv = count_env(spec);
	p->containers = arena_alloc(c->a, (ncont + 1) * sizeof(*p->containers));
	p->tokens = arena_alloc(c->a, (nsrc + 1) * sizeof(*p->tokens));
	p->host_paths = arena_alloc(c->a, (nsrc + 1) * sizeof(*p->host_paths));
	p->secrets = arena_alloc(c->a, (nsrc + nenv + 1) * sizeof(*p->secrets));
	if (!p->containers || !p->tokens || !p->host_paths || !p->secrets) {
		c->oom = true;
		return;
	}

	vols = get_arr(c, spec, "volumes", POD_MAX_VOLUMES);
	jval_foreach_item(vols, i, v) {
		size_t m = fpath_key(&c->path, "volumes");

		fpath_index(&c->path, i);
		read_volume(c, v, i, nsrc + nenv);
		fpath_pop(&c->path, m);
	}
	for (size_t l = 0; l < 3; l++) {
		const struct jval *arr = get_arr(c, spec, lists[l], POD_MAX_CONTAINERS), *ct;

		jval_foreach_item(arr, i, ct) {
			size_t m = fpath_key(&c->path, lists[l]);

			fpath_index(&c->path, i);
			read_container(c, ct, lkinds[l], i, nsrc + nenv);
			fpath_pop(&c->path, m);
		}
	}
}

static int64_t parse_time(const char *s)
{
	struct tm tm = { 0 };
	const char *end;

	if (!s)
		return -1;
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -1;
	return (int64_t)timegm(&tm);
}

/* Strips "containerd://", "cri-o://", "docker://". */
static const char *strip_runtime(const char *id)
{
	const char *sep = id ? strstr(id, "://") : NULL;

	return sep ? sep + 3 : id;
}

/* status.podIPs or status.hostIPs (@list), or the single @one on old
 * servers: at most one address per family, so 8 is ample. */
static const char **read_ips(struct pctx *c, const struct jval *status, const char *list,
			     const char *one, uint8_t *ret_n)
{
	const struct jval *ips = jval_get(status, list), *it;
	size_t n = jval_size(ips), i;
	const char **v;

	if (n > 8)
		n = 8;
	v = arena_alloc(c->a, (n + 1) * sizeof(char *));
	if (!v) {
		c->oom = true;
		return NULL;
	}
	*ret_n = 0;
	jval_foreach_item(ips, i, it) {
		const char *ip = jval_str(jval_get(it, "ip"));

		if (i >= n)
			break;
		if (ip)
			v[(*ret_n)++] = pdup(c, ip);
	}
	if (*ret_n == 0 && jval_str(jval_get(status, one)))
		v[(*ret_n)++] = pdup(c, jval_str(jval_get(status, one)));
	return v;
}

static void read_status_ids(struct pctx *c, const struct jval *status)
{
	static const char *const lists[] = { "initContainerStatuses", "containerStatuses",
					     "ephemeralContainerStatuses" };
	struct pod *p = c->pod;
	const struct jval *it;
	size_t n = 0, i;

	/* Both pod addresses of a dual-stack pod; podIP alone on old servers.
	 * The node's too: masquerading or SNAT puts a pod's calls there. */
	p->ips = read_ips(c, status, "podIPs", "podIP", &p->nips);
	p->host_ips = read_ips(c, status, "hostIPs", "hostIP", &p->nhost_ips);
	if (!p->ips || !p->host_ips)
		return;

	n = 0;
	for (size_t l = 0; l < 3; l++)
		n += jval_size(jval_get(status, lists[l]));
	if (n > POD_MAX_CONTAINERS)
		n = POD_MAX_CONTAINERS;
	p->container_ids = arena_alloc(c->a, (n + 1) * sizeof(char *));
	p->container_names = arena_alloc(c->a, (n + 1) * sizeof(char *));
	if (!p->container_ids || !p->container_names) {
		c->oom = true;
		return;
	}
	for (size_t l = 0; l < 3; l++) {
		const struct jval *arr = jval_get(status, lists[l]);

		jval_foreach_item(arr, i, it) {
			const char *id = strip_runtime(jval_str(jval_get(it, "containerID")));
			const char *name = jval_str(jval_get(it, "name"));

			if (!id || !*id || !name || p->ncontainer_ids >= n)
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
static uint8_t read_phase(const struct jval *status)
{
	const char *s = jval_str(jval_get(status, "phase"));

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
	size_t i;

	p->start_time = -1;
	p->created = -1;
	p->deletion_time = -1;
	if (jval_is_string(jval_get(spec, "nodeName")))
		p->node_name = pdup(c, jval_str(jval_get(spec, "nodeName")));
	jval_foreach_item(owners, i, o) {
		if (!jval_is_true(jval_get(o, "controller")))
			continue;
		if (jval_is_string(jval_get(o, "kind")))
			p->owner_kind = pdup(c, jval_str(jval_get(o, "kind")));
		if (jval_is_string(jval_get(o, "name")))
			p->owner_name = pdup(c, jval_str(jval_get(o, "name")));
		if (jval_is_string(jval_get(o, "uid")))
			p->owner_uid = pdup(c, jval_str(jval_get(o, "uid")));
		break;
	}
	p->mirror = jval_get(ann, "kubernetes.io/config.mirror") != NULL;
	p->terminating = jval_get(meta, "deletionTimestamp") != NULL &&
			 !jval_is_null(jval_get(meta, "deletionTimestamp"));
	p->deletion_time = parse_time(jval_str(jval_get(meta, "deletionTimestamp")));
	p->created = parse_time(jval_str(jval_get(meta, "creationTimestamp")));
	p->start_time = parse_time(jval_str(jval_get(status, "startTime")));
	p->phase = read_phase(status);
	read_status_ids(c, status);
}

int pod_from_jval(const struct jval *obj, const char *default_ns, struct errlist *errs,
		  struct pod **ret_pod)
{
	enum workload_kind wk;
	int r = pod_workload_kind_jval(obj, &wk);

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
	ns = jval_str(jval_get(meta, "namespace"));
	p->namespace = pdup(&c, ns && *ns ? ns : default_ns ? default_ns : "default");
	p->name = jval_str(jval_get(meta, "name"));
	if (!p->name)
		p->name = jval_str(jval_get(meta, "generateName"));
	p->name = pdup(&c, p->name ? p->name : "");
	if (jval_is_string(jval_get(meta, "uid")))
		p->uid = pdup(&c, jval_str(jval_get(meta, "uid")));

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

/* The jansson entry points convert first: they serve cold paths (check,
 * tests), while the webhook and the informer parse straight to jval. */
int pod_workload_kind(json_t *obj, enum workload_kind *ret)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	struct jmember m[2] = {
		{ "kind", { .type = JV_STRING, .u.s = kind } },
		{ "apiVersion", { .type = JV_STRING, .u.s = av } },
	};
	struct jval v = { .type = JV_OBJECT, .n = 2, .u.members = m };

	if (!kind || !av)
		return -EINVAL;
	return pod_workload_kind_jval(&v, ret);
}

int pod_from_object(json_t *obj, const char *default_ns, struct errlist *errs,
		    struct pod **ret_pod)
{
	struct arena *a = arena_new(4096);
	const struct jval *v;
	int r;

	if (!a)
		return -ENOMEM;
	r = jval_from_json(obj, a, &v);
	if (r == 0)
		r = pod_from_jval(v, default_ns, errs, ret_pod);
	arena_free(a);
	return r;
}
