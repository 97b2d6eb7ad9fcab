/* flags.c - long/short flags with environment fallbacks. */
#include "flags.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strutil.h"
#include "xalloc.h"

static int strlist_push(struct strlist *l, const char *s)
{
	const char **v = pg_realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	v[l->n++] = s;
	l->v = v;
	return 0;
}

void strlist_free(struct strlist *l)
{
	if (!l)
		return;
	pg_free(l->owned);
	l->owned = NULL;
	pg_free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int parse_bool(const char *s, bool *ret)
{
	if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes"))
		*ret = true;
	else if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

/* A decimal number ("50", "0.5", "1e3"): strtod's hex, inf and nan are
 * not flag values anyone means. */
static int parse_double(const char *s, double *ret)
{
	char *end;
	double v;

	if (!*s || strspn(s, "0123456789.eE+-") != strlen(s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno || !isfinite(v))
		return -EINVAL;
	*ret = v;
	return 0;
}

/* The words of enum flags as their metavars spell them, NUL-terminated,
 * for *dst to point at: the tables are static, so a few hundred bytes
 * hold every word a command declares. */
static char enum_words[1024];
static size_t enum_words_len;

static const char *enum_intern(const char *w, size_t n)
{
	for (size_t i = 0; i < enum_words_len; i += strlen(enum_words + i) + 1)
		if (strlen(enum_words + i) == n && memcmp(enum_words + i, w, n) == 0)
			return enum_words + i;
	if (enum_words_len + n + 1 > sizeof(enum_words))
		return NULL;
	memcpy(enum_words + enum_words_len, w, n);
	enum_words[enum_words_len + n] = '\0';
	enum_words_len += n + 1;
	return enum_words + enum_words_len - n - 1;
}

/* "-o/--output" or "--mode": how the flag is named in a message. */
static void flag_label(const struct flag *f, char *out, size_t n)
{
	if (f->shortname)
		snprintf(out, n, "-%c/--%s", f->shortname, f->name);
	else
		snprintf(out, n, "--%s", f->name);
}

static const struct flag *find_long(const struct flag *flags, const char *name, size_t n);

static int set_enum(const struct flag *flags, const struct flag *f, const char *value, const char *cmd,
		    const char *from)
{
	const char *w = f->metavar, *bar, *canon = NULL;
	char label[96], sibling[96];
	size_t words = 1, i = 0;

	for (const char *p = w; *p; p++)
		words += *p == '|';
	for (;; w = bar + 1) {
		size_t n;

		bar = strchr(w, '|');
		n = bar ? (size_t)(bar - w) : strlen(w);
		if (strlen(value) == n && strncasecmp(value, w, n) == 0) {
			canon = enum_intern(w, n);
			break;
		}
		if (!bar)
			break;
	}
	if (canon) {
		*(const char **)f->dst = canon;
		return 0;
	}
	flag_label(f, label, sizeof(label));
	if (strncmp(from, "PROFILEGUARD_", 13) == 0)
		fprintf(stderr, "profileguard %s: $%s (%s) must be ", cmd, from, label);
	else
		fprintf(stderr, "profileguard %s: %s must be ", cmd, label);
	for (w = f->metavar; w; w = bar ? bar + 1 : NULL, i++) {
		bar = strchr(w, '|');
		fprintf(stderr, "%s%.*s", i == 0 ? "" : i + 1 == words ? " or " : ", ",
			(int)(bar ? (size_t)(bar - w) : strlen(w)), w);
	}
	fprintf(stderr, " (got \"%s\")", value);
	/* -o used to be a path in some commands: name the flag that is. */
	snprintf(sibling, sizeof(sibling), "%s-file", f->name);
	if (find_long(flags, sibling, strlen(sibling)))
		fprintf(stderr, "; a file to write is --%s", sibling);
	fputc('\n', stderr);
	return -EINVAL;
}

static int set_value(const struct flag *flags, const struct flag *f, const char *value, const char *cmd,
		     const char *from)
{
	int64_t n;

	switch (f->type) {
	case FLAG_ENUM:
		return set_enum(flags, f, value, cmd, from);
	case FLAG_STRING:
		*(const char **)f->dst = value;
		return 0;
	case FLAG_STRINGS:
		return strlist_push(f->dst, value);
	case FLAG_INT:
		if (str_to_i64(value, &n) < 0) {
			fprintf(stderr, "profileguard %s: %s: \"%s\" is not an integer\n", cmd, from, value);
			return -EINVAL;
		}
		*(long *)f->dst = (long)n;
		return 0;
	case FLAG_DOUBLE:
		if (parse_double(value, f->dst) < 0) {
			fprintf(stderr, "profileguard %s: %s: \"%s\" is not a number\n", cmd, from, value);
			return -EINVAL;
		}
		return 0;
	case FLAG_BOOL:
		if (parse_bool(value, f->dst) < 0) {
			fprintf(stderr, "profileguard %s: %s: \"%s\" is not true or false\n", cmd, from, value);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

/* PROFILEGUARD_MAX_ACTIONS_PER_MINUTE for --max-actions-per-minute. */
static void env_name(const char *flag, char *out, size_t n)
{
	size_t len = (size_t)snprintf(out, n, "PROFILEGUARD_");

	for (const char *p = flag; *p && len + 1 < n; p++)
		out[len++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	out[len] = '\0';
}

static int apply_env(const struct flag *flags, const char *cmd)
{
	for (const struct flag *f = flags; f->name; f++) {
		char name[128];
		const char *v;

		env_name(f->name, name, sizeof(name));
		v = getenv(name);
		if (!v)
			continue;
		if (f->type == FLAG_STRINGS) {
			/* A list from the environment is comma-separated; the
			 * pieces live in a copy the list owns. */
			char *copy = pg_strdup(v), *p;

			if (!copy)
				return -ENOMEM;
			pg_free(((struct strlist *)f->dst)->owned);
			((struct strlist *)f->dst)->owned = copy;
			for (p = copy; p;) {
				char *comma = strchr(p, ',');

				if (comma)
					*comma = '\0';
				if (*p && strlist_push(f->dst, p) < 0)
					return -ENOMEM;
				p = comma ? comma + 1 : NULL;
			}
			continue;
		}
		if (set_value(flags, f, v, cmd, name) < 0)
			return -EINVAL;
	}
	return 0;
}

void flags_usage(FILE *out, const char *cmd, const char *synopsis, const struct flag *flags)
{
	fprintf(out, "usage: profileguard %s %s\n\nflags:\n", cmd, synopsis);
	for (const struct flag *f = flags; f->name; f++) {
		char left[96], env[128];

		snprintf(left, sizeof(left), "%s%c%s--%s%s%s", f->shortname ? "-" : "",
			 f->shortname ? f->shortname : ' ', f->shortname ? ", " : "  ", f->name,
			 f->metavar ? " " : "", f->metavar ? f->metavar : "");
		env_name(f->name, env, sizeof(env));
		fprintf(out, "  %-36s %s [$%s]\n", left + (f->shortname ? 0 : 1), f->help, env);
	}
	fprintf(out, "  %-36s %s\n", "-h, --help", "show this help");
}

static const struct flag *find_long(const struct flag *flags, const char *name, size_t n)
{
	for (const struct flag *f = flags; f->name; f++)
		if (strlen(f->name) == n && strncmp(f->name, name, n) == 0)
			return f;
	return NULL;
}

static const struct flag *find_short(const struct flag *flags, char c)
{
	for (const struct flag *f = flags; f->name; f++)
		if (f->shortname == c)
			return f;
	return NULL;
}

/* The flag a typo of a long name most likely meant, or NULL. */
static const struct flag *near_long(const struct flag *flags, const char *name, size_t n)
{
	const struct flag *best = NULL;
	size_t best_d = 3;

	for (const struct flag *f = flags; f->name; f++) {
		size_t d = str_edit_distance(name, n, f->name, strlen(f->name));

		if (d < best_d) {
			best_d = d;
			best = f;
		}
	}
	return best;
}

static int parse_args(const struct flag *flags, int argc, char **argv, const char *cmd,
		      const char *synopsis, int *ret_optind)
{
	int i, r, nops;

	r = apply_env(flags, cmd);
	if (r < 0)
		return r;
	/* Flags may follow operands, as in kubectl and GNU tools
	 * ("test DIR -o junit"): operands are gathered in order and moved
	 * to the end of argv once every flag is read; "--" ends the flags. */
	nops = 0;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL;
		const struct flag *f;

		if (strcmp(arg, "--") == 0) {
			while (++i < argc)
				argv[nops++ + 1] = argv[i];
			break;
		}
		if (arg[0] != '-' || strcmp(arg, "-") == 0) {
			/* Slots before i are read already: operands are packed
			 * there, from argv[1], and never overwrite one unread. */
			argv[++nops] = argv[i];
			continue;
		}
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			flags_usage(stdout, cmd, synopsis, flags);
			return 1;
		}
		if (arg[1] == '-') {
			const char *eq = strchr(arg + 2, '=');

			f = find_long(flags, arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
			if (eq)
				value = eq + 1;
		} else {
			/* -ojson and -o=json as kubectl takes them; a flag
			 * without a value takes nothing glued on. */
			f = find_short(flags, arg[1]);
			if (f && arg[2] && f->type == FLAG_BOOL)
				f = NULL;
			else if (f && arg[2])
				value = arg[2] == '=' ? arg + 3 : arg + 2;
		}
		if (!f) {
			const struct flag *near = arg[1] == '-' ? near_long(flags, arg + 2, strcspn(arg + 2, "=")) : NULL;

			if (near)
				fprintf(stderr, "profileguard %s: unknown flag %s, did you mean --%s? (see profileguard %s --help)\n",
					cmd, arg, near->name, cmd);
			else
				fprintf(stderr, "profileguard %s: unknown flag %s (see profileguard %s --help)\n",
					cmd, arg, cmd);
			return -EINVAL;
		}
		if (f->type == FLAG_BOOL && !value) {
			*(bool *)f->dst = true;
			continue;
		}
		if (!value) {
			if (i + 1 >= argc) {
				fprintf(stderr, "profileguard %s: flag --%s needs a value\n", cmd, f->name);
				return -EINVAL;
			}
			value = argv[++i];
		}
		if (set_value(flags, f, value, cmd, arg) < 0)
			return -EINVAL;
	}
	/* argv[1..nops] hold the operands in order; move them to the end. */
	memmove(argv + argc - nops, argv + 1, (size_t)nops * sizeof(*argv));
	*ret_optind = argc - nops;
	return 0;
}

int flags_parse(const struct flag *flags, int argc, char **argv, const char *cmd,
		const char *synopsis, int *ret_optind)
{
	int r = parse_args(flags, argc, argv, cmd, synopsis, ret_optind);

	/* The lists filled before a refused flag (or --help) are the
	 * caller's no longer: it returns at once. */
	if (r != 0)
		for (const struct flag *f = flags; f->name; f++)
			if (f->type == FLAG_STRINGS)
				strlist_free(f->dst);
	return r;
}
