/* forkflow: see LICENSE. */
/*
 * What the libFuzzer harnesses share: a failure that crashes for
 * libFuzzer, and a scratch folder, removed with its files at exit.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"

#define FUZZ_MAXFILES	8

static char	fuzz_dir[512];
static char	fuzz_files[FUZZ_MAXFILES][600];
static size_t	fuzz_nfiles;

static void	fuzz_cleanup(void);

/*
 * Report a property that does not hold, after the harness's name, and
 * crash for libFuzzer.
 */
__dead void
fuzz_fail(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* Remove the files of the scratch folder, then it. */
static void
fuzz_cleanup(void)
{
	size_t	i;

	for (i = 0; i < fuzz_nfiles; i++)
		unlink(fuzz_files[i]);
	rmdir(fuzz_dir);
}

/* Make a scratch folder NAME.XXXXXX under $TMPDIR, removed at exit. */
void
fuzz_scratch(void)
{
	const char	*t = getenv("TMPDIR");

	snprintf(fuzz_dir, sizeof fuzz_dir, "%s/%s.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp",
	    program_invocation_short_name);
	if (mkdtemp(fuzz_dir) == NULL)
		fuzz_fail("mkdtemp %s: %s", fuzz_dir, strerror(errno));
	atexit(fuzz_cleanup);
}

/* The path of file name in the scratch folder, which removes it at exit. */
const char *
fuzz_file(const char *name)
{
	char	*path;

	if (fuzz_nfiles == FUZZ_MAXFILES)
		fuzz_fail("more than %d scratch files", FUZZ_MAXFILES);
	path = fuzz_files[fuzz_nfiles++];
	snprintf(path, sizeof fuzz_files[0], "%s/%s", fuzz_dir, name);
	return (path);
}

/* Replace the file at path by len bytes of buf. */
void
fuzz_write_file(const char *path, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		fuzz_fail("open %s: %s", path, strerror(errno));
	for (; len > 0; p += n, len -= (size_t)n) {
		if ((n = write(fd, p, len)) == -1)
			fuzz_fail("write %s: %s", path, strerror(errno));
	}
	if (close(fd) != 0)
		fuzz_fail("close %s: %s", path, strerror(errno));
}
