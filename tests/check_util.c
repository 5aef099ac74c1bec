/* forkflow: see LICENSE. */
/*
 * Helpers the Check suites share: a scratch folder per suite, paths in it,
 * whole-file reads and writes, and a small random number generator.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "forkflow.h"
#include "check_forkflow.h"

/* Make a scratch folder NAME.XXXXXX under $TMPDIR into buf. */
void
ck_tmpdir(char *buf, size_t size, const char *name)
{
	const char	*t = getenv("TMPDIR");

	snprintf(buf, size, "%s/%s.XXXXXX", t != NULL && *t != '\0' ? t :
	    "/tmp", name);
	if (mkdtemp(buf) == NULL)
		ck_abort_msg("mkdtemp: %s", strerror(errno));
}

/* A path in folder dir. */
char *
ck_path(const char *dir, const char *fmt, ...)
{
	va_list	 ap;
	char	*name, *path;

	va_start(ap, fmt);
	xvasprintf(&name, fmt, ap);
	va_end(ap);
	xasprintf(&path, "%s/%s", dir, name);
	free(name);
	return (path);
}

/* Read a whole file, NUL-terminated. */
char *
ck_slurp(const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	int		 fd;

	fd = open(path, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = xmalloc((size_t)st.st_size + 1);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	*lenp = (size_t)st.st_size;
	return (buf);
}

/* Write a whole file. */
void
ck_spew(const char *path, const void *data, size_t len)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write_all(fd, data, len), 0);
	ck_assert_int_eq(close(fd), 0);
}

/* xorshift64*: a small, reproducible random number generator. */
uint64_t
ck_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (*s * 0x2545F4914F6CDD1DULL);
}
