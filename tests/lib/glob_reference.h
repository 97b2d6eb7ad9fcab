/* glob_reference.h - the matcher glob_match() replaced (greedy, one
 * backtrack point): right, but O(n * m).  Kept only as the oracle the
 * linear matcher must agree with, in the unit test and the fuzz target. */
#ifndef PG_GLOB_REFERENCE_H
#define PG_GLOB_REFERENCE_H

#include <stdbool.h>

static inline bool glob_reference(const char *p, const char *s)
{
	const char *star = NULL, *retry = NULL;

	while (*s) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (!*p)
				return true;
			star = p;
			retry = s;
			continue;
		}
		if (*p == '?' || *p == *s) {
			p++;
			s++;
			continue;
		}
		if (!star)
			return false;
		p = star;
		s = ++retry;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

#endif
