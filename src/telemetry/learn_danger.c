/* learn_danger.c - what a learned profile marks for review: credential
 * files, writes to system files, shells and package managers, process
 * memory and environment, API calls on Secrets or that escalate.  The
 * table is data in one place; learn.c only asks it.  Patterns are those of
 * profiles (glob_match: a star matches any run, slashes included); an
 * executable is matched by its file name, so /bin/sh and /usr/bin/sh are
 * one entry. */
#include <string.h>

#include "learn.h"
#include "strutil.h"

/* Which lists an entry applies to. */
enum on_mask {
	ON_READ = 1u << LEARN_ON_READ,
	ON_WRITE = 1u << LEARN_ON_WRITE,
	ON_FILE = ON_READ | ON_WRITE,   /* a path written is readable too */
	ON_EXEC = 1u << LEARN_ON_EXEC,
	ON_API = 1u << LEARN_ON_API,
};

struct danger {
	unsigned on;                    /* enum on_mask */
	const char *pattern;            /* path, executable name or API resource */
	const char *verb;               /* LEARN_ON_API: NULL is any verb */
	const char *why;
};

/* First match wins: the exact entries come before the wider ones. */
static const struct danger table[] = {
	/* credentials, read or written */
	{ ON_FILE, "/etc/shadow", NULL, "credential file: password hashes" },
	{ ON_FILE, "/etc/shadow-", NULL, "credential file: password hashes" },
	{ ON_FILE, "/etc/gshadow", NULL, "credential file: group password hashes" },
	{ ON_FILE, "/etc/gshadow-", NULL, "credential file: group password hashes" },
	{ ON_FILE, "/etc/sudoers", NULL, "sudo rules" },
	{ ON_FILE, "/etc/sudoers.d/*", NULL, "sudo rules" },
	{ ON_FILE, "/etc/ssh/ssh_host_*", NULL, "ssh host key" },
	{ ON_FILE, "*/.ssh/*", NULL, "ssh key or authorized_keys" },
	{ ON_FILE, "*/id_rsa*", NULL, "ssh private key" },
	{ ON_FILE, "*/id_ecdsa*", NULL, "ssh private key" },
	{ ON_FILE, "*/id_ed25519*", NULL, "ssh private key" },
	{ ON_FILE, "*.pem", NULL, "key or certificate file (*.pem): may be a private key" },
	{ ON_FILE, "*.key", NULL, "private key file (*.key)" },
	{ ON_FILE, "/var/run/secrets/*", NULL, "service-account token or mounted secret" },
	{ ON_FILE, "/run/secrets/*", NULL, "service-account token or mounted secret" },
	{ ON_FILE, "/proc/*/mem", NULL, "another process's memory" },
	{ ON_FILE, "/proc/*/environ", NULL, "a process's environment (secrets in variables)" },
	/* system files, written */
	{ ON_WRITE, "/etc/passwd", NULL, "write to the user database" },
	{ ON_WRITE, "/etc/group", NULL, "write to the group database" },
	{ ON_WRITE, "/etc/*", NULL, "write to a system configuration file" },
	{ ON_WRITE, "/bin/*", NULL, "write to system executables" },
	{ ON_WRITE, "/sbin/*", NULL, "write to system executables" },
	{ ON_WRITE, "/usr/*", NULL, "write to system executables or libraries" },
	{ ON_WRITE, "/lib/*", NULL, "write to system libraries" },
	{ ON_WRITE, "/lib64/*", NULL, "write to system libraries" },
	{ ON_WRITE, "/boot/*", NULL, "write to the boot files" },
	{ ON_WRITE, "/proc/*", NULL, "write to /proc" },
	{ ON_WRITE, "/sys/*", NULL, "write to /sys" },
	/* shells: what an attacker's first exec is */
	{ ON_EXEC, "sh", NULL, "a shell" },
	{ ON_EXEC, "bash", NULL, "a shell" },
	{ ON_EXEC, "dash", NULL, "a shell" },
	{ ON_EXEC, "zsh", NULL, "a shell" },
	{ ON_EXEC, "ash", NULL, "a shell" },
	{ ON_EXEC, "busybox", NULL, "busybox: a shell and most tools in one" },
	/* package managers: installing tools at run time */
	{ ON_EXEC, "apt", NULL, "a package manager" },
	{ ON_EXEC, "apt-get", NULL, "a package manager" },
	{ ON_EXEC, "dpkg", NULL, "a package manager" },
	{ ON_EXEC, "apk", NULL, "a package manager" },
	{ ON_EXEC, "yum", NULL, "a package manager" },
	{ ON_EXEC, "dnf", NULL, "a package manager" },
	{ ON_EXEC, "rpm", NULL, "a package manager" },
	{ ON_EXEC, "pip", NULL, "a package manager" },
	{ ON_EXEC, "pip3", NULL, "a package manager" },
	{ ON_EXEC, "pip3.*", NULL, "a package manager" },
	{ ON_EXEC, "npm", NULL, "a package manager" },
	{ ON_EXEC, "gem", NULL, "a package manager" },
	/* API calls */
	{ ON_API, "secrets", NULL, "Secrets: credentials" },
	{ ON_API, "pods/exec", NULL, "runs commands in pods (pods/exec)" },
	{ ON_API, "pods/attach", NULL, "attaches to pods (pods/attach)" },
	{ ON_API, "serviceaccounts/token", "create", "mints service-account tokens" },
	{ ON_API, "*", "bind", "grants roles it does not hold (bind)" },
	{ ON_API, "*", "escalate", "raises a role's permissions (escalate)" },
	{ ON_API, "*", "impersonate", "acts as another user or account (impersonate)" },
};

const char *learn_danger(enum learn_on on, const char *subject, const char *verb)
{
	const char *s = subject;

	if (on == LEARN_ON_EXEC && strrchr(subject, '/'))
		s = strrchr(subject, '/') + 1;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct danger *d = &table[i];

		if (!(d->on & (1u << on)))
			continue;
		if (d->verb && (!verb || strcmp(d->verb, verb) != 0))
			continue;
		if (glob_match(d->pattern, s))
			return d->why;
	}
	return NULL;
}

bool learn_dir_foldable(enum learn_on on, const char *dir)
{
	size_t nd = strlen(dir);

	if (nd == 0 || dir[0] != '/' || !strcmp(dir, "/") || glob_has_wildcard(dir))
		return false;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct danger *d = &table[i];
		size_t lit;

		/* Entries by file name (*.key) may be anywhere: they are
		 * caught when seen, a folded directory may still cover one
		 * unseen; those by absolute location are kept out. */
		if (!(d->on & (1u << on)) || d->pattern[0] != '/')
			continue;
		lit = strcspn(d->pattern, "*?");
		/* "@dir/" against the literal head of the pattern (all of it
		 * when it has no wildcard): the head longer and under "@dir/",
		 * or a wildcard's head that is a prefix of @dir, means @dir's
		 * pattern reaches the location. */
		if (lit > nd ? !strncmp(d->pattern, dir, nd) && d->pattern[nd] == '/'
			     : d->pattern[lit] != '\0' && !strncmp(d->pattern, dir, lit))
			return false;
	}
	return true;
}
