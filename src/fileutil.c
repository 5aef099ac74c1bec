/* forkflow: see LICENSE. */
/*
 * Files, as every module uses them: writing a buffer whole, syncing a
 * file's folder, removing a tree, the folder of a path, the length and
 * XXH3 of a file, a file read whole, and a file mapped shared between
 * processes.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "forkflow.h"

#define FILE_BUFSIZE	(256 * 1024)	/* reads of file_sum() */

/*
 * Write all of buf, or fail.  Writes go in pieces of at most 8 MiB, each
 * a unit of progress, so that a long write to a slow disk shows it moves.
 */
int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len < ((size_t)8 << 20) ? len :
		    ((size_t)8 << 20));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		progress();
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Sync a folder, so that renames in it are durable. */
int
fsync_dir(const char *path)
{
	int	fd, r, saved_errno;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-1);
	r = fsync(fd);
	saved_errno = errno;
	close(fd);
	errno = saved_errno;
	return (r);
}

/* Sync the folder that holds path, after a rename into it. */
int
fsync_parent(const char *path)
{
	char	*dir = path_dirname(path);
	int	 r, saved_errno;

	r = fsync_dir(dir);
	saved_errno = errno;
	free(dir);
	errno = saved_errno;
	return (r);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path));
}

/* Remove a tree (like rm -rf); 0 or -1. */
int
rm_tree(const char *path)
{
	struct stat	st;

	if (lstat(path, &st) != 0)
		return (errno == ENOENT ? 0 : -1);
	return (nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS));
}

/* The folder of path (for syncing it after a rename). */
char *
path_dirname(const char *path)
{
	const char	*slash = strrchr(path, '/');

	if (slash == NULL)
		return (xstrdup("."));
	if (slash == path)
		return (xstrdup("/"));
	return (xstrndup(path, slash - path));
}

/* The length and XXH3 of a file: 0, or -1 with errno set. */
int
file_sum(const char *path, uint64_t *len, uint64_t *sum)
{
	XXH3_state_t	*h;
	char		*buf;
	ssize_t		 n;
	int		 fd, saved_errno;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	buf = xmalloc(FILE_BUFSIZE);
	if ((h = XXH3_createState()) == NULL)
		fatalx("out of memory");
	XXH3_64bits_reset(h);
	*len = 0;
	while ((n = read(fd, buf, FILE_BUFSIZE)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			saved_errno = errno;
			XXH3_freeState(h);
			free(buf);
			close(fd);
			errno = saved_errno;
			return (-1);
		}
		XXH3_64bits_update(h, buf, (size_t)n);
		*len += (uint64_t)n;
		progress();
	}
	free(buf);
	close(fd);
	*sum = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	return (0);
}

/* Map a file of len bytes shared, creating and growing it as needed. */
void *
map_shared_file(const char *path, size_t len, int create)
{
	struct stat	 st;
	void		*p;
	int		 fd, r, saved_errno;

	fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd == -1)
		return (NULL);
	if (fstat(fd, &st) != 0)
		goto fail;
	if ((size_t)st.st_size < len) {
		if (!create) {
			errno = EINVAL;
			goto fail;
		}
		/* Allocate the blocks now: a full disk fails here, not
		 * with SIGBUS on a later store. */
		if ((r = posix_fallocate(fd, 0, (off_t)len)) != 0) {
			errno = r;
			goto fail;
		}
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	close(fd);
	return (p);

fail:
	saved_errno = errno;
	close(fd);
	errno = saved_errno;
	return (NULL);
}

/* Read a whole file into memory, NUL-terminated; NULL with errno. */
char *
read_file(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = xreallocarray(buf, cap, 1);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		n = errno;
		fclose(f);
		free(buf);
		errno = n;
		return (NULL);
	}
	fclose(f);
	buf[len] = '\0';
	*lenp = len;
	return (buf);
}
