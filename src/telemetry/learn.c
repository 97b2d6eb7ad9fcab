/* learn.c - building a WorkloadProfile from observations.  Everything
 * seen is collected into sets, then written sorted: executables, file
 * reads and writes, egress (addresses merged into exact CIDRs when whole
 * aligned blocks share a port set), and API calls per resource. */
#include "learn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image.h"
#include "pg_config.h"
#include "strutil.h"
#include "xalloc.h"

struct strset {
	char **v;
	size_t n, cap;
};

struct dest {
	struct netaddr addr;
	uint16_t port;
};

struct apicall {
	char *resource;         /* canonical: "apps/deployments/scale" */
	char *verb;
	char *name;             /* NULL: a collection call */
};

struct learn {
	struct learn_opts o;
	char *name, *namespace, *mode, *sa;
	struct strset exes, reads, writes, sources;
	struct dest *dests;
	size_t ndests, cap_dests;
	struct apicall *calls;
	size_t ncalls, cap_calls;
	bool seen[5];                   /* per rt_kind */
	size_t used, skipped;
	int64_t first, last;
	/* peak API calls of one pod in one minute */
	char *rate_key;
	int64_t rate_minute;
	uint32_t rate_count, rate_peak;
	const struct pod *pod;
	char *pod_origin;
};

static int set_add(struct strset *s, const char *v)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		char **p = pg_realloc(s->v, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = ncap;
	}
	if (!(s->v[s->n] = pg_strdup(v)))
		return -ENOMEM;
	s->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and removes duplicates. */
static void set_finish(struct strset *s)
{
	size_t w = 0;

	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	for (size_t i = 0; i < s->n; i++) {
		if (w && strcmp(s->v[w - 1], s->v[i]) == 0) {
			pg_free(s->v[i]);
			continue;
		}
		s->v[w++] = s->v[i];
	}
	s->n = w;
}

static bool set_has(const struct strset *s, const char *v)
{
	return s->n && bsearch(&v, s->v, s->n, sizeof(*s->v), cmp_str);
}

static void set_free(struct strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		pg_free(s->v[i]);
	pg_free(s->v);
	memset(s, 0, sizeof(*s));
}

struct learn *learn_new(const struct learn_opts *o)
{
	struct learn *l = pg_calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->name = pg_strdup(o->name ? o->name : "learned");
	l->namespace = pg_strdup(o->namespace ? o->namespace : "default");
	l->mode = pg_strdup(o->mode ? o->mode : "Audit");
	l->sa = o->service_account ? pg_strdup(o->service_account) : NULL;
	l->first = -1;
	l->last = -1;
	if (!l->name || !l->namespace || !l->mode || (o->service_account && !l->sa))
		return learn_free(l);
	return l;
}

struct learn *learn_free(struct learn *l)
{
	if (!l)
		return NULL;
	set_free(&l->exes);
	set_free(&l->reads);
	set_free(&l->writes);
	set_free(&l->sources);
	pg_free(l->dests);
	for (size_t i = 0; i < l->ncalls; i++) {
		pg_free(l->calls[i].resource);
		pg_free(l->calls[i].verb);
		pg_free(l->calls[i].name);
	}
	pg_free(l->calls);
	pg_free(l->name);
	pg_free(l->namespace);
	pg_free(l->mode);
	pg_free(l->sa);
	pg_free(l->rate_key);
	pg_free(l->pod_origin);
	pg_free(l);
	return NULL;
}

void learn_set_pod(struct learn *l, const struct pod *pod, const char *origin)
{
	l->pod = pod;
	pg_free(l->pod_origin);
	l->pod_origin = origin ? pg_strdup(origin) : NULL;
}

int learn_note_source(struct learn *l, const char *what)
{
	return set_add(&l->sources, what);
}

void learn_counts(const struct learn *l, struct learn_counts *ret)
{
	ret->used = l->used;
	ret->skipped = l->skipped;
}

static const char *identity_sa(const struct learn *l)
{
	if (l->sa)
		return l->sa;
	return l->pod ? pod_service_account(l->pod) : NULL;
}

static int add_call(struct learn *l, const struct tel_event *e)
{
	char res[512];
	struct apicall *c;

	if (!e->ev.resource || !*e->ev.resource || !e->ev.verb)
		return 0;       /* discovery and /healthz: not profiled */
	runtime_api_resource(e->ev.api_group, e->ev.resource, e->ev.subresource, res, sizeof(res));
	if (l->ncalls == l->cap_calls) {
		size_t ncap = l->cap_calls ? l->cap_calls * 2 : 16;
		struct apicall *p = pg_realloc(l->calls, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->calls = p;
		l->cap_calls = ncap;
	}
	c = &l->calls[l->ncalls];
	c->resource = pg_strdup(res);
	c->verb = pg_strdup(e->ev.verb);
	c->name = e->ev.object_name ? pg_strdup(e->ev.object_name) : NULL;
	if (!c->resource || !c->verb || (e->ev.object_name && !c->name)) {
		pg_free(c->resource);
		pg_free(c->verb);
		pg_free(c->name);
		return -ENOMEM;
	}
	l->ncalls++;
	return 0;
}

/* Peak calls per minute of one pod (or identity). */
static int count_rate(struct learn *l, const struct tel_event *e)
{
	const char *key = e->pod_uid ? e->pod_uid : e->pod_name ? e->pod_name : e->ev.username;
	int64_t minute = e->ev.time / 60;

	if (!key)
		key = "";
	if (!l->rate_key || strcmp(l->rate_key, key) != 0 || l->rate_minute != minute) {
		pg_free(l->rate_key);
		l->rate_key = pg_strdup(key);
		if (!l->rate_key)
			return -ENOMEM;
		l->rate_minute = minute;
		l->rate_count = 0;
	}
	if (++l->rate_count > l->rate_peak)
		l->rate_peak = l->rate_count;
	return 0;
}

int learn_add(struct learn *l, const struct tel_event *e)
{
	int r = 0;

	if (e->pod_namespace && strcmp(e->pod_namespace, l->namespace) != 0) {
		l->skipped++;
		return 0;
	}
	if (e->ev.kind == RT_API) {
		const char *sa = identity_sa(l);
		char want[600];

		snprintf(want, sizeof(want), "system:serviceaccount:%s:%s", l->namespace, sa ? sa : "");
		if (sa ? strcmp(e->ev.username, want) != 0
		       : !str_has_prefix(e->ev.username, want)) {
			l->skipped++;
			return 0;
		}
	}
	switch (e->ev.kind) {
	case RT_EXEC:
		r = set_add(&l->exes, e->ev.exe);
		break;
	case RT_OPEN:
		r = set_add(e->ev.write ? &l->writes : &l->reads, e->ev.path);
		break;
	case RT_CONNECT:
		if (l->ndests == l->cap_dests) {
			size_t ncap = l->cap_dests ? l->cap_dests * 2 : 16;
			struct dest *p = pg_realloc(l->dests, ncap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			l->dests = p;
			l->cap_dests = ncap;
		}
		l->dests[l->ndests].addr = e->ev.daddr;
		l->dests[l->ndests].port = e->ev.dport;
		l->ndests++;
		break;
	case RT_API:
		r = add_call(l, e);
		if (r == 0)
			r = count_rate(l, e);
		break;
	case RT_TOKEN:
		break;
	}
	if (r < 0)
		return r;
	l->seen[e->ev.kind] = true;
	l->used++;
	if (l->first < 0 || e->ev.time < l->first)
		l->first = e->ev.time;
	if (e->ev.time > l->last)
		l->last = e->ev.time;
	return 0;
}

/* ---- YAML out ------------------------------------------------------------- */

/* Plain when it cannot be misread (YAML 1.1 booleans, numbers, aliases,
 * flow and comment characters), else a double-quoted JSON string. */
static int yq(struct buf *b, const char *s)
{
	static const char *const words[] = { "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
					     "true", "True", "TRUE", "false", "False", "FALSE", "on", "On",
					     "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", NULL };
	bool plain = *s && strchr("/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", s[0]);

	for (const char *p = s; plain && *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_.-", *p))
			plain = false;
	for (const char *const *w = words; plain && *w; w++)
		if (!strcmp(*w, s))
			plain = false;
	if (plain)
		return buf_adds(b, s);
	buf_addc(b, '"');
	buf_add_json_escaped(b, s);
	return buf_addc(b, '"');
}

static void ylist(struct buf *b, const char *indent, const char *key, char *const *v, size_t n)
{
	buf_printf(b, "%s%s:", indent, key);
	if (!n) {
		buf_adds(b, " []\n");
		return;
	}
	buf_addc(b, '\n');
	for (size_t i = 0; i < n; i++) {
		buf_printf(b, "%s  - ", indent);
		yq(b, v[i]);
		buf_addc(b, '\n');
	}
}

static void fmt_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || !gmtime_r(&tt, &tm)) {
		snprintf(out, n, "?");
		return;
	}
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- egress: exact CIDR aggregation ------------------------------------------ */

struct block {
	struct cidr net;
	char ports[512];        /* "443,5432" sorted, "" = no port seen? never */
};

static int cmp_dest(const void *a, const void *b)
{
	const struct dest *x = a, *y = b;
	int r = (int)x->addr.family - (int)y->addr.family;

	if (r)
		return r;
	r = memcmp(x->addr.bytes, y->addr.bytes, 16);
	return r ? r : (int)x->port - (int)y->port;
}

static int cmp_block(const void *a, const void *b)
{
	const struct block *x = a, *y = b;
	int r = (int)x->net.addr.family - (int)y->net.addr.family;

	if (r)
		return r;
	r = strcmp(x->ports, y->ports);
	if (r)
		return r;
	r = (int)x->net.prefix - (int)y->net.prefix;
	if (r)
		return r;
	return memcmp(x->net.addr.bytes, y->net.addr.bytes, 16);
}

static bool bit(const uint8_t *b, unsigned i)
{
	return (b[i / 8] >> (7 - i % 8)) & 1;
}

/* Two blocks of one prefix length that are the halves of their parent. */
static bool siblings(const struct block *a, const struct block *b)
{
	unsigned p = a->net.prefix;
	uint8_t x[16];

	if (p == 0 || a->net.addr.family != b->net.addr.family || b->net.prefix != p ||
	    strcmp(a->ports, b->ports) || bit(a->net.addr.bytes, p - 1) || !bit(b->net.addr.bytes, p - 1))
		return false;
	memcpy(x, a->net.addr.bytes, 16);
	x[(p - 1) / 8] |= (uint8_t)(0x80u >> ((p - 1) % 8));
	return memcmp(x, b->net.addr.bytes, 16) == 0;
}

static size_t egress_blocks(struct learn *l, struct block **ret)
{
	struct block *v;
	size_t n = 0;
	bool merged = true;

	*ret = NULL;
	if (!l->ndests)
		return 0;
	qsort(l->dests, l->ndests, sizeof(*l->dests), cmp_dest);
	v = pg_calloc(l->ndests, sizeof(*v));
	if (!v)
		return 0;
	for (size_t i = 0; i < l->ndests;) {
		size_t j = i, len = 0;
		struct block *b = &v[n++];

		b->net.addr = l->dests[i].addr;
		b->net.prefix = l->dests[i].addr.family == 4 ? 32 : 128;
		for (; j < l->ndests && !memcmp(&l->dests[j].addr, &l->dests[i].addr, sizeof(struct netaddr)); j++) {
			if (j > i && l->dests[j].port == l->dests[j - 1].port)
				continue;
			len += (size_t)snprintf(b->ports + len, sizeof(b->ports) - len > 8 ? sizeof(b->ports) - len : 0,
						"%s%u", len ? "," : "", l->dests[j].port);
		}
		i = j;
	}
	/* Merge sibling halves with the same ports until nothing merges:
	 * the result allows exactly the addresses seen. */
	while (merged) {
		size_t w = 0;

		merged = false;
		qsort(v, n, sizeof(*v), cmp_block);
		for (size_t i = 0; i < n; i++) {
			if (i + 1 < n && siblings(&v[i], &v[i + 1])) {
				v[w] = v[i];
				v[w].net.prefix--;
				w++;
				i++;
				merged = true;
			} else {
				v[w++] = v[i];
			}
		}
		n = w;
	}
	*ret = v;
	return n;
}

static int cmp_block_addr(const void *a, const void *b)
{
	const struct block *x = a, *y = b;
	int r = (int)x->net.addr.family - (int)y->net.addr.family;

	if (r)
		return r;
	r = memcmp(x->net.addr.bytes, y->net.addr.bytes, 16);
	return r ? r : (int)x->net.prefix - (int)y->net.prefix;
}

static void render_egress(struct learn *l, struct buf *b)
{
	struct block *v;
	size_t n = egress_blocks(l, &v);

	if (!n) {
		buf_adds(b, "    egress: []\n");
		pg_free(v);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_block_addr);
	buf_adds(b, "    egress:\n");
	for (size_t i = 0; i < n; i++) {
		char addr[64];

		inet_ntop(v[i].net.addr.family == 4 ? AF_INET : AF_INET6, v[i].net.addr.bytes, addr, sizeof(addr));
		buf_printf(b, "      - cidr: \"%s/%u\"\n        ports: [%s]\n", addr, v[i].net.prefix, v[i].ports);
	}
	pg_free(v);
}

/* ---- API calls ---------------------------------------------------------------- */

static int cmp_call(const void *a, const void *b)
{
	const struct apicall *x = a, *y = b;
	int r = strcmp(x->resource, y->resource);

	return r ? r : strcmp(x->verb, y->verb);
}

static void render_api(struct learn *l, struct buf *b)
{
	if (!l->ncalls) {
		buf_adds(b, "    kubernetesAPI: []\n");
		return;
	}
	qsort(l->calls, l->ncalls, sizeof(*l->calls), cmp_call);
	buf_adds(b, "    kubernetesAPI:\n");
	for (size_t i = 0; i < l->ncalls;) {
		struct strset verbs = { 0 }, names = { 0 };
		bool unnamed = false;
		size_t j = i;

		for (; j < l->ncalls && !strcmp(l->calls[j].resource, l->calls[i].resource); j++) {
			set_add(&verbs, l->calls[j].verb);
			if (l->calls[j].name)
				set_add(&names, l->calls[j].name);
			else
				unnamed = true;
		}
		set_finish(&verbs);
		set_finish(&names);
		buf_adds(b, "      - verbs: [");
		for (size_t k = 0; k < verbs.n; k++) {
			buf_adds(b, k ? ", " : "");
			yq(b, verbs.v[k]);
		}
		buf_adds(b, "]\n        resources: [");
		yq(b, l->calls[i].resource);
		buf_adds(b, "]\n");
		/* Names restrict only when every call named its object; a list
		 * or watch was seen otherwise. */
		if (!unnamed && names.n) {
			buf_adds(b, "        resourceNames: [");
			for (size_t k = 0; k < names.n; k++) {
				buf_adds(b, k ? ", " : "");
				yq(b, names.v[k]);
			}
			buf_adds(b, "]\n");
		}
		set_free(&verbs);
		set_free(&names);
		i = j;
	}
}

/* ---- admission part from the pod ------------------------------------------------ */

static bool volatile_label(const char *k)
{
	/* Set per replica or per revision by controllers, or per release:
	 * a selector on them would stop matching at the next rollout. */
	return !strcmp(k, "pod-template-hash") || !strcmp(k, "controller-revision-hash") ||
	       !strcmp(k, "statefulset.kubernetes.io/pod-name") || !strcmp(k, "job-name") ||
	       !strcmp(k, "controller-uid") || str_has_prefix(k, "batch.kubernetes.io/") ||
	       !strcmp(k, "apps.kubernetes.io/pod-index") ||
	       /* and labels that change with every release */
	       !strcmp(k, "app.kubernetes.io/version") || !strcmp(k, "version") ||
	       !strcmp(k, "helm.sh/chart");
}

static int cmp_idx_labels(const void *a, const void *b, void *ud)
{
	const struct labels *l = ud;

	return strcmp(l->keys[*(const size_t *)a], l->keys[*(const size_t *)b]);
}

static void render_selector(struct learn *l, struct buf *b)
{
	const struct labels *lb = l->pod ? &l->pod->labels : NULL;
	size_t idx[256], n = 0;

	for (size_t i = 0; lb && i < lb->n && n < 256; i++)
		if (!volatile_label(lb->keys[i]))
			idx[n++] = i;
	if (!n) {
		buf_adds(b, "  selector:\n    # no pod labels known: check this selector\n    matchLabels:\n      app: ");
		yq(b, l->name);
		buf_addc(b, '\n');
		return;
	}
	{
		struct labels sorted_by = *lb;

		qsort_r(idx, n, sizeof(idx[0]), cmp_idx_labels, &sorted_by);
	}
	buf_adds(b, "  selector:\n    matchLabels:\n");
	for (size_t i = 0; i < n; i++) {
		buf_adds(b, "      ");
		yq(b, lb->keys[idx[i]]);
		buf_adds(b, ": ");
		yq(b, lb->values[idx[i]]);
		buf_addc(b, '\n');
	}
}

static void render_admission(struct learn *l, struct buf *b)
{
	const struct pod *p = l->pod;
	struct strset images = { 0 }, caps = { 0 }, paths = { 0 };
	bool all_digest = true, any_priv = false, all_no_esc = true, all_nonroot = true, any_3607 = false;
	int64_t max_exp = -1;

	if (!p)
		return;
	for (uint16_t i = 0; i < p->ntokens; i++) {
		int64_t exp = p->tokens[i].expiration < 0 ? 3600 : p->tokens[i].expiration;

		any_3607 |= exp == 3607;
		if (exp > max_exp)
			max_exp = exp;
	}
	buf_adds(b, "  identity:\n    serviceAccountNames: [");
	yq(b, pod_service_account(p));
	buf_adds(b, "]\n");
	buf_printf(b, "    tokenAutomount: %s\n", p->ntokens || p->automount != OPT_FALSE ? "Allow" : "Forbid");
	if (max_exp >= 0) {
		buf_printf(b, "    maxTokenExpirationSeconds: %lld\n", (long long)(max_exp < 600 ? 600 : max_exp));
		buf_printf(b, "    extendedTokens: %s\n", any_3607 ? "Allow" : "Forbid");
		buf_printf(b, "    maxTokenAgeSeconds: %lld\n", (long long)max_exp);
	}
	buf_adds(b, "    legacyTokenSecrets: Forbid\n");

	for (uint16_t i = 0; i < p->ncontainers; i++) {
		const struct container *c = &p->containers[i];
		int64_t uid = c->run_as_user >= 0 ? c->run_as_user : p->run_as_user;
		uint8_t nr = c->run_as_non_root != OPT_UNSET ? c->run_as_non_root : p->run_as_non_root;

		if (c->image)
			set_add(&images, c->image);
		all_digest &= c->image && image_has_digest(c->image);
		any_priv |= c->privileged == OPT_TRUE;
		all_no_esc &= c->allow_escalation == OPT_FALSE;
		all_nonroot &= uid > 0 || (uid < 0 && nr == OPT_TRUE);
		for (uint16_t k = 0; k < c->ncaps; k++) {
			char cap[80];
			const char *s = c->caps_add[k];
			size_t n;

			if (str_has_prefix(s, "CAP_") || str_has_prefix(s, "cap_"))
				s += 4;
			for (n = 0; s[n] && n < sizeof(cap) - 1; n++)
				cap[n] = (s[n] >= 'a' && s[n] <= 'z') ? (char)(s[n] - 32) : s[n];
			cap[n] = '\0';
			set_add(&caps, cap);
		}
	}
	for (uint16_t i = 0; i < p->nhost_paths; i++)
		set_add(&paths, p->host_paths[i].path);
	set_finish(&images);
	set_finish(&caps);
	set_finish(&paths);
	buf_adds(b, "  images:\n");
	ylist(b, "    ", "allow", images.v, images.n);
	buf_printf(b, "    requireDigest: %s\n", all_digest && images.n ? "true" : "false");
	buf_adds(b, "  privileges:\n");
	buf_printf(b, "    privileged: %s\n", any_priv ? "Allow" : "Forbid");
	buf_printf(b, "    privilegeEscalation: %s\n", all_no_esc ? "Forbid" : "Allow");
	buf_printf(b, "    hostNamespaces: %s\n", p->host_network || p->host_pid || p->host_ipc ? "Allow" : "Forbid");
	buf_printf(b, "    runAsNonRoot: %s\n", all_nonroot ? "Require" : "Any");
	ylist(b, "    ", "allowedCapabilities", caps.v, caps.n);
	ylist(b, "    ", "allowedHostPaths", paths.v, paths.n);
	set_free(&images);
	set_free(&caps);
	set_free(&paths);
}

int learn_render(struct learn *l, struct buf *b)
{
	char t1[40], t2[40];
	struct strset reads = { 0 };

	set_finish(&l->exes);
	set_finish(&l->reads);
	set_finish(&l->writes);
	set_finish(&l->sources);
	fmt_time(l->first, t1, sizeof(t1));
	fmt_time(l->last, t2, sizeof(t2));

	buf_printf(b, "# WorkloadProfile learned by profileguard learn %s\n", PG_VERSION);
	buf_printf(b, "# from %zu events", l->used);
	for (size_t i = 0; i < l->sources.n; i++)
		buf_printf(b, "%s%s", i ? ", " : " (", l->sources.v[i]);
	buf_printf(b, "%s; %zu skipped (other namespaces or identities)\n", l->sources.n ? ")" : "", l->skipped);
	if (l->used)
		buf_printf(b, "# observed %s .. %s\n", t1, t2);
	if (l->pod)
		buf_printf(b, "# admission rules from %s (%s %s/%s)\n", l->pod_origin ? l->pod_origin : "the pod manifest",
			   workload_kind_name((enum workload_kind)l->pod->kind), l->pod->namespace, l->pod->name);
	buf_adds(b, "# It allows exactly what was seen. Review it; mode Audit reports without acting:\n"
		    "# switch to Enforce once the workload has run clean against it.\n");
	buf_adds(b, "apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\nmetadata:\n  name: ");
	yq(b, l->name);
	buf_adds(b, "\n  namespace: ");
	yq(b, l->namespace);
	buf_adds(b, "\nspec:\n");
	render_selector(l, b);
	buf_printf(b, "  mode: %s\n", l->mode);
	render_admission(l, b);

	buf_adds(b, "  runtime:\n");
	if (l->seen[RT_EXEC])
		ylist(b, "    ", "executables", l->exes.v, l->exes.n);
	else
		buf_adds(b, "    # no exec events seen: executables are not profiled\n");
	if (l->seen[RT_CONNECT])
		render_egress(l, b);
	else
		buf_adds(b, "    # no connections seen: egress is not profiled\n");
	if (l->seen[RT_OPEN]) {
		/* A path written is also readable: list it once, under write. */
		for (size_t i = 0; i < l->reads.n; i++)
			if (!set_has(&l->writes, l->reads.v[i]))
				set_add(&reads, l->reads.v[i]);
		buf_adds(b, "    files:\n");
		ylist(b, "      ", "read", reads.v, reads.n);
		ylist(b, "      ", "write", l->writes.v, l->writes.n);
		set_free(&reads);
	} else {
		buf_adds(b, "    # no file opens seen: files are not profiled\n");
	}
	if (l->seen[RT_API]) {
		uint32_t limit = l->rate_peak * 2 < 60 ? 60 : l->rate_peak * 2;

		render_api(l, b);
		buf_printf(b, "    # peak seen: %u calls in one minute by one pod; the limit leaves 2x headroom\n", l->rate_peak);
		buf_printf(b, "    maxAPICallsPerMinute: %u\n", limit);
	} else {
		buf_adds(b, "    # no audit events of this identity seen: API calls are not profiled\n");
	}
	return b->len > b->max ? -E2BIG : 0;
}
