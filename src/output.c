/* forkflow: see LICENSE. */
/*
 * Output: the final stage's sorted parts, and how they become the result.
 *
 * Each worker sorts what its partition holds and writes it as one part.
 * With -o DIR the parts are text files written in a temporary folder beside
 * DIR; the supervisor adds _SUCCESS, syncs, and renames the folder into
 * place, so DIR appears whole or not at all.  Without -o the parts are
 * binary, and the supervisor merges them onto standard output through small
 * buffers, so its memory does not grow with the data.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"

#define OUTBUF_SIZE	(256 * 1024)

/* Format a decimal int64 at p; returns the byte after it. */
static inline char *
fmt_int(char *p, int64_t x)
{
	char		tmp[24];
	uint64_t	u = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
	int		n = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (x < 0)
		*p++ = '-';
	while (n > 0)
		*p++ = tmp[--n];
	return (p);
}

/* Format one "k,v\n" line; returns its length (at most 42). */
size_t
output_format(char *buf, int64_t k, int64_t v)
{
	char	*p = buf;

	p = fmt_int(p, k);
	*p++ = ',';
	p = fmt_int(p, v);
	*p++ = '\n';
	return ((size_t)(p - buf));
}

/* Write n sorted records to path (see output_write_merged). */
int
output_write_part(const char *path, const struct pair *r, size_t n, int text,
    int sync, uint64_t *bytes)
{
	struct pair_src	src;

	src.p = r;
	src.n = n;
	return (output_write_merged(path, &src, 1, text, sync, bytes));
}

/* The source holding the least record, or NULL when all are done. */
static inline struct pair_src *
merged_least(struct pair_src *s, size_t ns)
{
	struct pair_src	*best = NULL;
	size_t		 i;

	for (i = 0; i < ns; i++) {
		if (s[i].n == 0)
			continue;
		if (best == NULL || s[i].p->k < best->p->k ||
		    (s[i].p->k == best->p->k && s[i].p->v < best->p->v))
			best = &s[i];
	}
	return (best);
}

/*
 * Merge sorted arrays of records into path, as text lines or binary
 * records, through a temporary file renamed into place; sync it first
 * when asked.  The arrays are few (one per checkpoint of the stage), so
 * a linear scan picks the least.
 */
int
output_write_merged(const char *path, struct pair_src *srcs, size_t nsrc,
    int text, int sync, uint64_t *bytes)
{
	struct pair_src	*s;
	char		*buf, *tmp;
	size_t		 len = 0;
	int		 fd, saved_errno;

	*bytes = 0;
	xasprintf(&tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1) {
		saved_errno = errno;
		free(tmp);
		errno = saved_errno;
		return (-1);
	}
	buf = xmalloc(OUTBUF_SIZE);
	if (!text && nsrc == 1) {
		if (write_all(fd, srcs[0].p, srcs[0].n * sizeof *srcs[0].p) != 0)
			goto fail;
		*bytes = srcs[0].n * sizeof *srcs[0].p;
	} else {
		while ((s = merged_least(srcs, nsrc)) != NULL) {
			if (len > OUTBUF_SIZE - 64) {
				if (write_all(fd, buf, len) != 0)
					goto fail;
				*bytes += len;
				len = 0;
				progress();
			}
			if (text)
				len += output_format(buf + len, s->p->k,
				    s->p->v);
			else {
				memcpy(buf + len, s->p, sizeof *s->p);
				len += sizeof *s->p;
			}
			s->p++;
			s->n--;
		}
		if (write_all(fd, buf, len) != 0)
			goto fail;
		*bytes += len;
	}
	if (sync && fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) != 0 || (sync && fsync_parent(path) != 0)) {
		fd = -1;
		goto fail;
	}
	free(buf);
	free(tmp);
	return (0);

fail:
	saved_errno = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	free(tmp);
	free(buf);
	errno = saved_errno;
	return (-1);
}

/* One sorted binary part being merged. */
struct merge_src {
	int		 fd;
	struct pair	*buf;
	size_t		 n;		/* records in buf */
	size_t		 i;		/* next one */
};

/* Refill a source; returns 1 if it has a record, 0 at its end, -1. */
static int
merge_fill(struct merge_src *s, size_t cap)
{
	ssize_t	n;
	size_t	got = 0;

	if (s->i < s->n)
		return (1);
	while (got < cap * sizeof *s->buf) {
		n = read(s->fd, (char *)s->buf + got,
		    cap * sizeof *s->buf - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return (-1);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got % sizeof *s->buf != 0) {
		errno = EIO;
		return (-1);
	}
	s->n = got / sizeof *s->buf;
	s->i = 0;
	return (s->n > 0);
}

static inline int
merge_less(const struct merge_src *a, const struct merge_src *b)
{
	const struct pair	*x = &a->buf[a->i], *y = &b->buf[b->i];

	return (x->k < y->k || (x->k == y->k && x->v < y->v));
}

/* Restore the heap property below slot i. */
static void
merge_sift(struct merge_src **h, size_t n, size_t i)
{
	struct merge_src	*t;
	size_t			 c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && merge_less(h[c + 1], h[c]))
			c++;
		if (!merge_less(h[c], h[i]))
			break;
		t = h[c];
		h[c] = h[i];
		h[i] = t;
		i = c;
	}
}

/*
 * Merge the sorted binary parts onto fd as text.  Memory is bounded: each
 * part is read through a buffer of at most 64 KiB, less with many parts.
 * Returns 0, or -1 with errno set (EPIPE when the reader went away).
 */
int
output_merge(char **paths, size_t nparts, int out, uint64_t *bytes)
{
	struct merge_src	*src, **heap;
	char			*obuf;
	size_t			 i, nh = 0, len = 0, cap;
	int			 r, ret = -1, saved_errno = 0;

	cap = (size_t)(8 << 20) / (nparts * sizeof(struct pair));
	if (cap > 4096)
		cap = 4096;
	if (cap < 64)
		cap = 64;
	*bytes = 0;
	src = xcalloc(nparts, sizeof *src);
	heap = xcalloc(nparts, sizeof *heap);
	obuf = xmalloc(OUTBUF_SIZE);
	for (i = 0; i < nparts; i++)
		src[i].fd = -1;
	for (i = 0; i < nparts; i++) {
		if ((src[i].fd = open(paths[i], O_RDONLY | O_CLOEXEC)) == -1)
			goto done;
		src[i].buf = xcalloc(cap, sizeof *src[i].buf);
		if ((r = merge_fill(&src[i], cap)) == -1)
			goto done;
		if (r == 1)
			heap[nh++] = &src[i];
	}
	for (i = nh; i > 0; i--)
		merge_sift(heap, nh, i - 1);
	while (nh > 0) {
		if (len > OUTBUF_SIZE - 64) {
			if (write_all(out, obuf, len) != 0)
				goto done;
			*bytes += len;
			len = 0;
		}
		len += output_format(obuf + len, heap[0]->buf[heap[0]->i].k,
		    heap[0]->buf[heap[0]->i].v);
		heap[0]->i++;
		if ((r = merge_fill(heap[0], cap)) == -1)
			goto done;
		if (r == 0)
			heap[0] = heap[--nh];
		merge_sift(heap, nh, 0);
	}
	if (write_all(out, obuf, len) != 0)
		goto done;
	*bytes += len;
	ret = 0;

done:
	saved_errno = errno;
	for (i = 0; i < nparts; i++) {
		if (src[i].fd != -1)
			close(src[i].fd);
		free(src[i].buf);
	}
	free(src);
	free(heap);
	free(obuf);
	errno = saved_errno;
	return (ret);
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

/*
 * Commit an output folder: write _SUCCESS last into the complete temporary
 * folder, sync it, and rename it to its name (exchanging it with an old
 * one under --force, which is then removed), then sync the parent.  A
 * crash at any point leaves either no output or the whole output.
 */
int
output_commit(const char *tmpdir, const char *dir, int force, char **cause)
{
	char	*path, *parent, *old = NULL;
	int	 fd;

	xasprintf(&path, "%s/_SUCCESS", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || fsync(fd) != 0 || close(fd) != 0) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	free(path);
	if (fsync_dir(tmpdir) != 0) {
		xasprintf(cause, "%s: %s", tmpdir, strerror(errno));
		return (-1);
	}
	if (rename(tmpdir, dir) != 0) {
		if (!force || (errno != ENOTEMPTY && errno != EEXIST &&
		    errno != ENOTDIR)) {
			xasprintf(cause, "rename %s to %s: %s", tmpdir, dir,
			    strerror(errno));
			return (-1);
		}
		/* --force: swap with the old output, then remove it. */
		if (renameat2(AT_FDCWD, tmpdir, AT_FDCWD, dir,
		    RENAME_EXCHANGE) != 0) {
			xasprintf(cause, "exchange %s with %s: %s", tmpdir, dir,
			    strerror(errno));
			return (-1);
		}
		old = xstrdup(tmpdir);
	}
	parent = path_dirname(dir);
	if (fsync_dir(parent) != 0) {
		xasprintf(cause, "%s: %s", parent, strerror(errno));
		free(parent);
		free(old);
		return (-1);
	}
	free(parent);
	if (old != NULL) {
		(void)rm_tree(old);
		free(old);
	}
	return (0);
}
