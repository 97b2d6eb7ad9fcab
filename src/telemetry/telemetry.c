/* telemetry.c - reading native, Falco, Tetragon and audit telemetry.
 * Every line is parsed into its own small arena with the strict reader,
 * so one bad line costs one counter and the rest of the batch counts. */
#include "telemetry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "jval.h"
#include "rfc3339.h"
#include "strutil.h"

static const char *const source_names[TELEMETRY__COUNT] = {
	[TELEMETRY_NATIVE] = "events", [TELEMETRY_FALCO] = "falco", [TELEMETRY_TETRAGON] = "tetragon", [TELEMETRY_AUDIT] = "audit",
};

const char *telemetry_source_name(enum telemetry_source s)
{
	return s < TELEMETRY__COUNT ? source_names[s] : "unknown";
}

enum telemetry_source telemetry_detect(const char *body, size_t len)
{
	/* Look at the first record only: at most 64 KiB. */
	size_t n = len < 65536 ? len : 65536;
	const char *nl = memchr(body, '\n', n);

	if (nl && body[0] != '{')
		n = (size_t)(nl - body);
	if (memmem(body, n, "\"output_fields\"", 15))
		return TELEMETRY_FALCO;
	if (memmem(body, n, "\"process_exec\"", 14) || memmem(body, n, "\"process_kprobe\"", 16) ||
	    memmem(body, n, "\"process_exit\"", 14))
		return TELEMETRY_TETRAGON;
	if (memmem(body, n, "\"auditID\"", 9) || memmem(body, n, "audit.k8s.io/", 13))
		return TELEMETRY_AUDIT;
	return TELEMETRY_NATIVE;
}

int telemetry_source_parse(const char *s, enum telemetry_source *ret)
{
	if (!strcmp(s, "native") || !strcmp(s, "events"))
		*ret = TELEMETRY_NATIVE;
	else if (!strcmp(s, "falco"))
		*ret = TELEMETRY_FALCO;
	else if (!strcmp(s, "tetragon"))
		*ret = TELEMETRY_TETRAGON;
	else if (!strcmp(s, "audit"))
		*ret = TELEMETRY_AUDIT;
	else
		return -EINVAL;
	return 0;
}

int64_t telemetry_time(const char *s)
{
	int64_t t;

	return rfc3339_parse(s, &t, NULL) == 0 ? t : -1;
}

struct ctx {
	enum telemetry_source src;
	telemetry_fn fn;
	void *ud;
	struct telemetry_stats *st;
	int rc;
	size_t line, item;              /* where the record being read is */
};

static void reject(struct ctx *c, const char *why)
{
	c->st->rejected++;
	if (!c->st->first_error[0])
		snprintf(c->st->first_error, sizeof(c->st->first_error), "%s", why);
}

static int deliver(struct ctx *c, struct telemetry_event *e)
{
	int r;

	if (c->st->accepted >= TELEMETRY_MAX_EVENTS)
		return -E2BIG;
	e->source = c->src;
	e->line = c->line;
	e->item = c->item;
	r = c->fn(c->ud, e);
	if (r < 0)
		return r;
	c->st->accepted++;
	return 0;
}

static const char *str_at(const struct jval *v, const char *k)
{
	return jval_str(jval_get(v, k));
}

/* A port as a number or a numeric string; -1 otherwise. */
static long port_of(const struct jval *v)
{
	int64_t n;

	if (jval_is_int(v))
		return v->u.i >= 0 && v->u.i <= 65535 ? (long)v->u.i : -1;
	if (jval_is_string(v) && str_to_i64(v->u.s, &n) == 0 && n >= 0 && n <= 65535)
		return (long)n;
	return -1;
}

static char *join_args(struct arena *a, const struct jval *args)
{
	size_t len = 0, i;
	const struct jval *it;
	char *out, *o;

	jval_foreach_item(args, i, it)
		len += (jval_is_string(it) ? it->n : 0) + 1;
	out = o = arena_alloc(a, len + 1);
	if (!out)
		return NULL;
	jval_foreach_item(args, i, it) {
		if (!jval_is_string(it))
			continue;
		if (o != out)
			*o++ = ' ';
		memcpy(o, it->u.s, it->n);
		o += it->n;
	}
	*o = '\0';
	return out;
}

/* ---- native (SPEC §5.2) ---------------------------------------------------- */

static int parse_native(struct ctx *c, const struct jval *v, struct arena *a)
{
	struct telemetry_event e = { 0 };
	const char *kind = str_at(v, "kind");
	const struct jval *pod = jval_get(v, "pod");

	if (!jval_is_object(v) || !kind) {
		reject(c, "not an event object with a kind");
		return 0;
	}
	e.ev.time = telemetry_time(str_at(v, "time"));
	if (e.ev.time < 0) {
		reject(c, "time: not an RFC 3339 time");
		return 0;
	}
	e.node = str_at(v, "node");
	e.ev.container = str_at(v, "container");
	e.pod_namespace = str_at(pod, "namespace");
	e.pod_name = str_at(pod, "name");
	e.pod_uid = str_at(pod, "uid");
	e.container_id = str_at(v, "containerID");
	if (!(e.pod_namespace && e.pod_name) && !e.pod_uid && !e.container_id) {
		reject(c, "names no pod (pod.namespace/name, pod.uid or containerID)");
		return 0;
	}
	e.ev.iat = e.ev.exp = -1;
	if (!strcmp(kind, "exec")) {
		e.ev.kind = RUNTIME_EXEC;
		e.ev.exe = str_at(v, "exe");
		e.args = join_args(a, jval_get(v, "args"));
		if (!e.ev.exe || e.ev.exe[0] != '/') {
			reject(c, "exec: exe must be an absolute path");
			return 0;
		}
	} else if (!strcmp(kind, "connect")) {
		long port = port_of(jval_get(v, "dport"));

		e.ev.kind = RUNTIME_CONNECT;
		e.ev.protocol = str_at(v, "protocol");
		if (!str_at(v, "daddr") || netaddr_parse(str_at(v, "daddr"), &e.ev.daddr) < 0 || port < 0) {
			reject(c, "connect: daddr and dport must be an address and a port");
			return 0;
		}
		e.ev.dport = (uint16_t)port;
	} else if (!strcmp(kind, "open")) {
		e.ev.kind = RUNTIME_OPEN;
		e.ev.path = str_at(v, "path");
		e.ev.write = jval_is_true(jval_get(v, "write"));
		if (!e.ev.path || e.ev.path[0] != '/') {
			reject(c, "open: path must be absolute");
			return 0;
		}
	} else if (!strcmp(kind, "token")) {
		const struct jval *iat = jval_get(v, "iat"), *exp = jval_get(v, "exp");

		e.ev.kind = RUNTIME_TOKEN;
		if (!jval_is_int(iat) || !jval_is_int(exp)) {
			reject(c, "token: iat and exp must be integers");
			return 0;
		}
		e.ev.iat = iat->u.i;
		e.ev.exp = exp->u.i;
	} else {
		reject(c, "kind: not exec, connect, open or token");
		return 0;
	}
	return deliver(c, &e);
}

/* ---- Falco http_output ----------------------------------------------------- */

static const char *falco_str(const struct jval *f, const char *k)
{
	const char *s = str_at(f, k);

	/* Falco writes "<NA>" for fields it could not resolve. */
	return s && strcmp(s, "<NA>") != 0 && *s ? s : NULL;
}

static int parse_falco(struct ctx *c, const struct jval *v, struct arena *a)
{
	const struct jval *f = jval_get(v, "output_fields");
	struct telemetry_event e = { 0 };
	const char *type, *exe, *name;

	if (!jval_is_object(f)) {
		reject(c, "no output_fields");
		return 0;
	}
	e.ev.time = telemetry_time(str_at(v, "time"));
	if (e.ev.time < 0) {
		reject(c, "time: not an RFC 3339 time");
		return 0;
	}
	e.ev.iat = e.ev.exp = -1;
	e.node = falco_str(v, "hostname");
	e.pod_namespace = falco_str(f, "k8s.ns.name");
	e.pod_name = falco_str(f, "k8s.pod.name");
	e.pod_uid = falco_str(f, "k8s.pod.uid");
	e.container_id = falco_str(f, "container.id");
	e.ev.container = falco_str(f, "container.name");
	if (e.container_id && !strcmp(e.container_id, "host")) {
		c->st->ignored++;       /* a host process, not a pod's */
		return 0;
	}
	if (!(e.pod_namespace && e.pod_name) && !e.container_id) {
		reject(c, "output_fields name no pod (k8s.ns.name + k8s.pod.name, or container.id)");
		return 0;
	}
	type = falco_str(f, "evt.type");
	exe = falco_str(f, "proc.exepath");
	if (!exe)
		exe = falco_str(f, "proc.exe");
	name = falco_str(f, "fd.name");
	if (!type) {
		/* Rules that print no evt.type: an exec when the rule is about
		 * a process and nothing else. */
		reject(c, "output_fields lack evt.type");
		return 0;
	}
	if (!strcmp(type, "execve") || !strcmp(type, "execveat")) {
		e.ev.kind = RUNTIME_EXEC;
		e.ev.exe = exe;
		e.args = falco_str(f, "proc.cmdline");
		if (!exe || exe[0] != '/') {
			reject(c, "execve without an absolute proc.exepath");
			return 0;
		}
	} else if (!strcmp(type, "connect") || !strcmp(type, "sendto") || !strcmp(type, "sendmsg")) {
		const char *sip = falco_str(f, "fd.sip");
		long port = port_of(jval_get(f, "fd.sport"));

		e.ev.kind = RUNTIME_CONNECT;
		e.ev.protocol = falco_str(f, "fd.l4proto");
		if (!sip || netaddr_parse(sip, &e.ev.daddr) < 0 || port < 0) {
			reject(c, "connect without fd.sip and fd.sport");
			return 0;
		}
		e.ev.dport = (uint16_t)port;
	} else if (!strcmp(type, "open") || !strcmp(type, "openat") || !strcmp(type, "openat2") ||
		   !strcmp(type, "creat")) {
		const struct jval *w = jval_get(f, "evt.is_open_write");
		const char *flags = falco_str(f, "evt.arg.flags");

		e.ev.kind = RUNTIME_OPEN;
		e.ev.path = name;
		e.ev.write = jval_is_true(w) || (jval_is_string(w) && !strcmp(w->u.s, "true")) ||
			     (flags && (strstr(flags, "O_WRONLY") || strstr(flags, "O_RDWR") ||
					strstr(flags, "O_CREAT") || strstr(flags, "O_TRUNC"))) ||
			     !strcmp(type, "creat");
		if (!name || name[0] != '/') {
			reject(c, "open without an absolute fd.name");
			return 0;
		}
	} else {
		c->st->ignored++;
		return 0;
	}
	(void)a;
	return deliver(c, &e);
}

/* ---- Tetragon export --------------------------------------------------------- */

static int tetragon_common(struct ctx *c, const struct jval *v, const struct jval *proc,
			   struct telemetry_event *e)
{
	const struct jval *pod = jval_get(proc, "pod");
	const struct jval *ct = jval_get(pod, "container");

	e->ev.time = telemetry_time(str_at(v, "time"));
	if (e->ev.time < 0) {
		reject(c, "time: not an RFC 3339 time");
		return -1;
	}
	e->ev.iat = e->ev.exp = -1;
	e->node = str_at(v, "node_name");
	if (!jval_is_object(pod)) {
		c->st->ignored++;       /* not in a pod: a host process */
		return -1;
	}
	e->pod_namespace = str_at(pod, "namespace");
	e->pod_name = str_at(pod, "name");
	e->container_id = str_at(ct, "id");
	e->ev.container = str_at(ct, "name");
	if (!(e->pod_namespace && e->pod_name) && !e->container_id) {
		reject(c, "process.pod names no pod");
		return -1;
	}
	return 0;
}

static int parse_tetragon(struct ctx *c, const struct jval *v, struct arena *a)
{
	const struct jval *ex = jval_get(v, "process_exec"), *kp = jval_get(v, "process_kprobe");
	struct telemetry_event e = { 0 };

	if (jval_is_object(ex)) {
		const struct jval *proc = jval_get(ex, "process");

		if (tetragon_common(c, v, proc, &e) < 0)
			return 0;
		e.ev.kind = RUNTIME_EXEC;
		e.ev.exe = str_at(proc, "binary");
		e.args = str_at(proc, "arguments");
		if (!e.ev.exe || e.ev.exe[0] != '/') {
			reject(c, "process_exec without an absolute process.binary");
			return 0;
		}
		return deliver(c, &e);
	}
	if (jval_is_object(kp)) {
		const char *fn = str_at(kp, "function_name");
		const struct jval *args = jval_get(kp, "args"), *arg, *sock = NULL;
		size_t i;
		long port;

		if (!fn || (strcmp(fn, "tcp_connect") && strcmp(fn, "__x64_sys_connect") &&
			    strcmp(fn, "ip4_datagram_connect") && strcmp(fn, "udp_sendmsg"))) {
			c->st->ignored++;
			return 0;
		}
		if (tetragon_common(c, v, jval_get(kp, "process"), &e) < 0)
			return 0;
		jval_foreach_item(args, i, arg)
			if (!sock && jval_is_object(jval_get(arg, "sock_arg")))
				sock = jval_get(arg, "sock_arg");
		port = port_of(jval_get(sock, "dport"));
		e.ev.kind = RUNTIME_CONNECT;
		if (!sock || !str_at(sock, "daddr") || netaddr_parse(str_at(sock, "daddr"), &e.ev.daddr) < 0 ||
		    port < 0) {
			reject(c, "tcp_connect without a sock_arg daddr and dport");
			return 0;
		}
		e.ev.dport = (uint16_t)port;
		e.ev.protocol = str_at(sock, "protocol");
		if (e.ev.protocol && !strcmp(e.ev.protocol, "IPPROTO_TCP"))
			e.ev.protocol = "tcp";
		else if (e.ev.protocol && !strcmp(e.ev.protocol, "IPPROTO_UDP"))
			e.ev.protocol = "udp";
		else if (!e.ev.protocol && !strcmp(fn, "tcp_connect"))
			e.ev.protocol = "tcp";
		(void)a;
		return deliver(c, &e);
	}
	c->st->ignored++;       /* process_exit, process_tracepoint, ... */
	return 0;
}

/* ---- audit.k8s.io/v1 ----------------------------------------------------------- */

static const char *first_extra(const struct jval *extra, const char *key)
{
	return jval_str(jval_at(jval_get(extra, key), 0));
}

static int parse_audit_event(struct ctx *c, const struct jval *v, struct arena *a)
{
	const struct jval *user = jval_get(v, "user"), *ref = jval_get(v, "objectRef");
	const struct jval *extra = jval_get(user, "extra"), *ann = jval_get(v, "annotations");
	const char *stage = str_at(v, "stage"), *username = str_at(user, "username");
	struct telemetry_event e = { 0 };

	if (!jval_is_object(v) || !stage || !username || !str_at(v, "verb")) {
		reject(c, "not an audit Event (stage, verb, user.username)");
		return 0;
	}
	/* One judgement per request: the stage every policy records last. */
	if (strcmp(stage, "ResponseComplete") && strcmp(stage, "Panic")) {
		c->st->ignored++;
		return 0;
	}
	if (!str_has_prefix(username, "system:serviceaccount:")) {
		c->st->ignored++;       /* people and nodes have no profile */
		return 0;
	}
	e.ev.kind = RUNTIME_API;
	e.ev.iat = e.ev.exp = -1;
	e.ev.time = telemetry_time(str_at(v, "stageTimestamp"));
	if (e.ev.time < 0)
		e.ev.time = telemetry_time(str_at(v, "requestReceivedTimestamp"));
	if (e.ev.time < 0) {
		reject(c, "stageTimestamp: not an RFC 3339 time");
		return 0;
	}
	/* When the call was made, for "after its pod was deleted": the
	 * stage time of a long watch may be minutes later. */
	e.received = telemetry_time(str_at(v, "requestReceivedTimestamp"));
	{
		const struct jval *code = jval_get(jval_get(v, "responseStatus"), "code");

		if (jval_is_int(code) && code->u.i > 0 && code->u.i < 1000)
			e.code = (int)code->u.i;
	}
	e.ev.username = username;
	e.ev.verb = str_at(v, "verb");
	e.ev.api_group = str_at(ref, "apiGroup");
	if (!e.ev.api_group)
		e.ev.api_group = "";
	e.ev.resource = str_at(ref, "resource");
	e.ev.subresource = str_at(ref, "subresource");
	e.ev.object_name = str_at(ref, "name");
	e.ev.object_namespace = str_at(ref, "namespace");
	e.request_uri = str_at(v, "requestURI");
	e.ev.stale_token = jval_get(ann, "authentication.k8s.io/stale-token") != NULL;
	e.ev.legacy_token = jval_get(ann, "authentication.k8s.io/legacy-token") != NULL;
	e.bound_pod_name = first_extra(extra, "authentication.kubernetes.io/pod-name");
	e.bound_pod_uid = first_extra(extra, "authentication.kubernetes.io/pod-uid");
	e.node = first_extra(extra, "authentication.kubernetes.io/node-name");
	/* sourceIPs lists X-Forwarded-For, then X-Real-Ip, then the
	 * connection's own address: only the last is not the client's to
	 * choose, so a replayed token cannot hide behind a forged header. */
	{
		const struct jval *ips = jval_get(v, "sourceIPs");
		size_t n = jval_size(ips);

		e.source_ip = n ? jval_str(jval_at(ips, n - 1)) : NULL;
	}
	/* The identity's namespace: system:serviceaccount:NS:NAME. */
	{
		const char *ns = username + strlen("system:serviceaccount:");
		const char *colon = strchr(ns, ':');

		if (!colon || colon == ns || colon - ns > 253) {
			reject(c, "user.username: not system:serviceaccount:NS:NAME");
			return 0;
		}
		e.pod_namespace = arena_strndup(a, ns, (size_t)(colon - ns));
		if (!e.pod_namespace)
			return -ENOMEM;
	}
	e.pod_name = e.bound_pod_name;
	e.pod_uid = e.bound_pod_uid;
	return deliver(c, &e);
}

static int parse_audit(struct ctx *c, const struct jval *v, struct arena *a)
{
	const char *kind = str_at(v, "kind");
	const struct jval *items = jval_get(v, "items"), *it;
	size_t i;

	if (kind && !strcmp(kind, "EventList")) {
		if (!jval_is_array(items)) {
			reject(c, "EventList without items");
			return 0;
		}
		jval_foreach_item(items, i, it) {
			int r;

			c->item = i + 1;
			if ((r = parse_audit_event(c, it, a)) < 0)
				return r;
		}
		c->item = 0;
		return 0;
	}
	return parse_audit_event(c, v, a);
}

/* ---- batches ------------------------------------------------------------------ */

static int dispatch(struct ctx *c, const struct jval *v, struct arena *a)
{
	switch (c->src) {
	case TELEMETRY_NATIVE: return parse_native(c, v, a);
	case TELEMETRY_FALCO: return parse_falco(c, v, a);
	case TELEMETRY_TETRAGON: return parse_tetragon(c, v, a);
	default: return parse_audit(c, v, a);
	}
}

static int parse_one(struct ctx *c, const char *p, size_t n)
{
	struct jval_limits lim = { 32, 65536 };
	struct arena *a = arena_new(n + 512 < 16384 ? n + 512 : 16384);
	const struct jval *v;
	struct jval_error jerr;
	int r;

	if (!a)
		return -ENOMEM;
	r = jval_parse(p, n, &lim, a, &v, &jerr);
	if (r == -ENOMEM) {
		arena_free(a);
		return r;
	}
	if (r < 0) {
		char why[160];

		snprintf(why, sizeof(why), "malformed JSON: %s", jerr.msg);
		reject(c, why);
		arena_free(a);
		return 0;
	}
	r = dispatch(c, v, a);
	arena_free(a);
	return r;
}

int telemetry_parse(enum telemetry_source src, const char *body, size_t len, telemetry_fn fn, void *ud,
	      struct telemetry_stats *stats)
{
	struct ctx c = { .src = src, .fn = fn, .ud = ud, .st = stats };
	size_t off = 0, i = 0;

	memset(stats, 0, sizeof(*stats));
	/* A body that is one JSON value (Falco posts one object, the audit
	 * backend one EventList, maybe pretty-printed) is read whole;
	 * anything else is JSON lines, each on its own. */
	while (i < len && strchr(" \t\r\n", body[i]))
		i++;
	if (i < len && body[i] == '{') {
		struct jval_limits lim = { 32, TELEMETRY_MAX_EVENTS };
		struct arena *a = arena_new(16384);
		const struct jval *v;
		int r;

		if (!a)
			return -ENOMEM;
		r = jval_parse(body + i, len - i, &lim, a, &v, NULL);
		if (r == 0)
			r = dispatch(&c, v, a);
		arena_free(a);
		if (r != -EINVAL && r != -E2BIG)
			return r;
		/* not one value (or too big for one): JSON lines */
		if (r == -E2BIG && src == TELEMETRY_AUDIT)
			return r;
	}
	while (off < len) {
		const char *nl = memchr(body + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (body + off)) : len - off;
		size_t s = 0;
		int r;

		c.line++;
		while (s < n && strchr(" \t\r", body[off + s]))
			s++;
		if (s < n) {
			if (n > TELEMETRY_MAX_LINE)
				reject(&c, "line longer than 256 KiB");
			else if ((r = parse_one(&c, body + off, n)) < 0)
				return r;
		}
		off += n + 1;
	}
	return 0;
}
