/* dirwalk.h - a directory tree read recursively, in name order, for the
 * commands that take a directory of inputs (manifests, test files).  The
 * walk knows no file kind and writes no message: the caller picks the
 * files it wants and words each failure its own way. */
#ifndef PG_DIRWALK_H
#define PG_DIRWALK_H

/* What the walk could not do. */
enum dirwalk_fail {
	DIRWALK_TOO_DEEP,       /* @path is a directory past max_depth: not read */
	DIRWALK_OPEN,           /* @path is a directory that could not be read */
	DIRWALK_STAT,           /* @path is an entry that could not be stat()ed
	                         * (a dangling link, a race) */
};

struct stat;

struct dirwalk {
	int max_depth;          /* the top directory is depth 0 */
	/* Each regular file (links followed), by its path under the top
	 * directory ("DIR/sub/name"), with what stat() said of it.  A
	 * negative return stops the walk. */
	int (*file)(void *ud, const char *path, const struct stat *st);
	/* Optional: each directory within the depth cap, the top one
	 * included, before it is read.  A negative return stops the walk. */
	int (*dir)(void *ud, const char *path);
	/* Each failure, with the errno behind it (0 for DIRWALK_TOO_DEEP).
	 * 0 goes on past it; a negative return stops the walk. */
	int (*fail)(void *ud, enum dirwalk_fail what, const char *path, int err);
	void *ud;
};

/* Walks the directory @dir: entries starting with '.' are skipped,
 * directories are entered, regular files go to w->file, anything else
 * (sockets, devices, fifos) is passed over.  Each directory is read
 * whole and sorted by name (strcmp) before anything in it is visited.
 * 0, -ENOMEM, or a callback's negative value. */
int dirwalk(const struct dirwalk *w, const char *dir);

#endif
