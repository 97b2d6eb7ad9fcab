/* flags.h - command-line flags that also read PROFILEGUARD_<FLAG> from the
 * environment (SPEC §1): the environment first, then the command line. */
#ifndef PG_FLAGS_H
#define PG_FLAGS_H

#include <stdbool.h>
#include <stdio.h>

/* FLAG_ENUM: one of the '|'-separated words of the metavar ("text|json"),
 * in any case; *dst is set to the word as the metavar spells it, so a
 * command compares with strcmp.  A flag means the same in every command
 * (SPEC §6): -o/--output is a format, --output-file a path, -f an input. */
enum flag_type { FLAG_STRING, FLAG_STRINGS, FLAG_INT, FLAG_DOUBLE, FLAG_BOOL, FLAG_ENUM };

/* A growable list of borrowed strings (argv or environ). */
struct strlist {
	const char **v;
	size_t n;
	char *owned;            /* the split copy of an environment value */
};

struct flag {
	const char *name;       /* long name, without "--" */
	char shortname;         /* 0: none */
	enum flag_type type;
	void *dst;              /* const char ** (STRING, ENUM), struct strlist *, long *, double *, bool * */
	const char *metavar;
	const char *help;
};

/* Parses @argv from index 1; on success *ret_optind is the first operand.
 * Long flags take "--name value" or "--name=value", short ones "-o value",
 * "-ovalue" or "-o=value", as kubectl does; a flag the table does not
 * hold is refused, so a command never ignores what it was told.
 * Returns 0, 1 when -h/--help was given (usage printed to stdout), or
 * -EINVAL with a message already written to stderr; on anything but 0 the
 * FLAG_STRINGS lists of @flags are freed and empty. */
int flags_parse(const struct flag *flags, int argc, char **argv, const char *cmd,
		const char *synopsis, int *ret_optind);
void flags_usage(FILE *out, const char *cmd, const char *synopsis, const struct flag *flags);
void strlist_free(struct strlist *l);

#endif
