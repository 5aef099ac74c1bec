/* forkflow: see LICENSE. */
/*
 * Output: the final stage's sorted parts, and how they become the result.
 *
 * Each worker sorts what its partition holds and writes it as one part.
 * With -o DIR the parts are text files written in a temporary folder beside
 * DIR, named for the job's run; the supervisor adds _SUCCESS, syncs, and
 * renames the folder into place if nothing is there, so DIR appears whole
 * or not at all, and two jobs cannot mix their parts.  Without -o the parts are
 * binary, and the supervisor merges them onto standard output through small
 * buffers, so its memory does not grow with the data.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "forkflow.h"

#define OUTBUF_SIZE	(256 * 1024)

struct outspec;
static int	output_merge_typed(char **, size_t, int,
		    const struct outspec *, uint64_t *);

/* Format one "k,v\n" line; returns its length (at most 42). */
size_t
output_format(char *buf, int64_t k, int64_t v)
{
	char	*p = buf;

	p = val_format(VT_INT, OUT_CSV, p, k);
	*p++ = ',';
	p = val_format(VT_INT, OUT_CSV, p, v);
	*p++ = '\n';
	return ((size_t)(p - buf));
}

/* Write n sorted integer pairs to path (see output_write_merged). */
int
output_write_part(const char *path, const struct pair *r, size_t n, int text,
    int sync, uint64_t *bytes)
{
	struct pair_src	src;
	struct outspec	os = { VT_INT, VT_INT, OUT_CSV, text };

	uint64_t	sum;

	src.p = r;
	src.n = n;
	return (output_write_merged(path, &src, 1, &os, sync, bytes, &sum));
}

/* The source holding the least record, or NULL when all are done. */
static inline struct pair_src *
merged_least(struct pair_src *s, size_t ns, const struct outspec *os)
{
	struct pair_src	*best = NULL;
	size_t		 i;
	int		 c;

	for (i = 0; i < ns; i++) {
		if (s[i].n == 0)
			continue;
		if (best == NULL) {
			best = &s[i];
			continue;
		}
		c = val_cmp(os->kt, s[i].p->k, best->p->k);
		if (c < 0 || (c == 0 && val_cmp(os->vt, s[i].p->v,
		    best->p->v) < 0))
			best = &s[i];
	}
	return (best);
}

/*
 * Format a record as an output line (text) or its run-file encoding
 * (binary) at p; returns the byte after it.
 */
static char *
output_record(char *p, const struct pair *r, const struct outspec *os)
{
	if (!os->text) {
		p = val_put(os->kt, p, r->k);
		return (val_put(os->vt, p, r->v));
	}
	p = val_format(os->kt, os->fmt, p, r->k);
	*p++ = os->fmt == OUT_TSV ? '\t' : ',';
	p = val_format(os->vt, os->fmt, p, r->v);
	*p++ = '\n';
	return (p);
}

/* The most bytes output_record() writes for a record. */
static size_t
output_record_width(const struct pair *r, const struct outspec *os)
{
	if (!os->text)
		return (val_size(os->kt, r->k) + val_size(os->vt, r->v));
	return (val_width(os->kt, r->k) + val_width(os->vt, r->v) + 2);
}

/*
 * Merge sorted arrays of records into path, as text lines or binary
 * records, through a temporary file renamed into place; sync it first
 * when asked.  Its length goes to *bytes, its XXH3 to *sum.  The arrays
 * are few (one per checkpoint of the stage), so
 * a linear scan picks the least.
 */
int
output_write_merged(const char *path, struct pair_src *srcs, size_t nsrc,
    const struct outspec *os, int sync, uint64_t *bytes, uint64_t *sum)
{
	struct pair_src	*s;
	XXH3_state_t	*h;
	char		*buf, *tmp, *big = NULL;
	size_t		 len = 0, w;
	int		 fd, saved_errno;

	*bytes = 0;
	if ((h = XXH3_createState()) == NULL)
		fatalx("out of memory");
	XXH3_64bits_reset(h);
	xasprintf(&tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1) {
		saved_errno = errno;
		XXH3_freeState(h);
		free(tmp);
		errno = saved_errno;
		return (-1);
	}
	buf = xmalloc(OUTBUF_SIZE);
	if (!os->text && nsrc == 1 && os->kt == VT_INT && os->vt == VT_INT) {
		if (write_all(fd, srcs[0].p, srcs[0].n * sizeof *srcs[0].p) != 0)
			goto fail;
		XXH3_64bits_update(h, srcs[0].p, srcs[0].n * sizeof *srcs[0].p);
		*bytes = srcs[0].n * sizeof *srcs[0].p;
	} else {
		while ((s = merged_least(srcs, nsrc, os)) != NULL) {
			w = output_record_width(s->p, os);
			if (len + w > OUTBUF_SIZE) {
				if (write_all(fd, buf, len) != 0)
					goto fail;
				XXH3_64bits_update(h, buf, len);
				*bytes += len;
				len = 0;
				progress();
			}
			if (w > OUTBUF_SIZE) {
				/* A record longer than the buffer. */
				big = xreallocarray(big, w, 1);
				w = (size_t)(output_record(big, s->p, os) - big);
				if (write_all(fd, big, w) != 0)
					goto fail;
				XXH3_64bits_update(h, big, w);
				*bytes += w;
			} else
				len = (size_t)(output_record(buf + len, s->p,
				    os) - buf);
			s->p++;
			s->n--;
		}
		if (write_all(fd, buf, len) != 0)
			goto fail;
		XXH3_64bits_update(h, buf, len);
		*bytes += len;
	}
	*sum = XXH3_64bits_digest(h);
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
	free(big);
	free(tmp);
	XXH3_freeState(h);
	return (0);

fail:
	saved_errno = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	XXH3_freeState(h);
	free(tmp);
	free(buf);
	free(big);
	errno = saved_errno;
	return (-1);
}

/*
 * Check a part against the length and XXH3 its writer recorded.  Returns
 * 0, 1 if it differs or is gone (*bad: the length it has), or -1 with
 * errno set.
 */
int
output_check(const char *path, uint64_t len, uint64_t sum, uint64_t *bad)
{
	uint64_t	got, h;

	*bad = 0;
	if (file_sum(path, &got, &h) != 0)
		return (errno == ENOENT ? 1 : -1);
	*bad = got;
	return (got == len && h == sum ? 0 : 1);
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
	struct outspec	os = { VT_INT, VT_INT, OUT_CSV, 1 };

	return (output_merge_spec(paths, nparts, out, &os, bytes));
}

/* The same, for parts of the given types and format. */
int
output_merge_spec(char **paths, size_t nparts, int out,
    const struct outspec *os, uint64_t *bytes)
{
	struct merge_src	*src, **heap;
	char			*obuf;
	size_t			 i, nh = 0, len = 0, cap;
	int			 r, ret = -1, saved_errno = 0;

	if (os->kt != VT_INT || os->vt != VT_INT || os->fmt != OUT_CSV)
		return (output_merge_typed(paths, nparts, out, os, bytes));
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

/* A part of any types being merged: mapped, read in order. */
struct gsrc {
	char		*map;
	size_t		 len;
	const char	*p;
	const char	*dropped;	/* pages given back up to here */
	struct pair	 cur;
	int		 has;
};

/* Decode the next record of a part; give back pages behind it. */
static int
gsrc_next(struct gsrc *g, const struct outspec *os)
{
	const char	*end = g->map + g->len, *q, *to;

	g->has = 0;
	if (g->p >= end)
		return (0);
	if ((q = val_get(os->kt, g->p, end, &g->cur.k)) == NULL ||
	    (q = val_get(os->vt, q, end, &g->cur.v)) == NULL) {
		errno = EIO;
		return (-1);
	}
	/* The record now read stays; pages before it go. */
	to = g->map + (((size_t)(g->p - g->map)) & ~(size_t)0xfffff);
	if (to > g->dropped) {
		(void)madvise((void *)g->dropped, (size_t)(to - g->dropped),
		    MADV_DONTNEED);
		g->dropped = to;
	}
	g->p = q;
	g->has = 1;
	return (1);
}

/*
 * Merge sorted parts of records of any types onto fd as text.  Parts are
 * mapped and read in order, and the pages behind the reading position
 * are given back, so memory stays small.
 */
static int
output_merge_typed(char **paths, size_t nparts, int out,
    const struct outspec *os, uint64_t *bytes)
{
	struct outspec	 text = *os;
	struct gsrc	*g, *best;
	struct stat	 st;
	char		*buf;
	size_t		 i, len = 0, w;
	int		 fd, c, ret = -1, saved_errno = 0;

	text.text = 1;
	*bytes = 0;
	g = xcalloc(nparts, sizeof *g);
	buf = xmalloc(OUTBUF_SIZE);
	for (i = 0; i < nparts; i++) {
		if ((fd = open(paths[i], O_RDONLY | O_CLOEXEC)) == -1)
			goto done;
		if (fstat(fd, &st) != 0) {
			close(fd);
			goto done;
		}
		g[i].len = (size_t)st.st_size;
		if (g[i].len > 0) {
			g[i].map = mmap(NULL, g[i].len, PROT_READ, MAP_PRIVATE,
			    fd, 0);
			if (g[i].map == MAP_FAILED) {
				g[i].map = NULL;
				close(fd);
				goto done;
			}
			(void)madvise(g[i].map, g[i].len, MADV_SEQUENTIAL);
		}
		close(fd);
		g[i].p = g[i].dropped = g[i].map;
		if (g[i].map != NULL && gsrc_next(&g[i], os) == -1)
			goto done;
	}
	for (;;) {
		best = NULL;
		for (i = 0; i < nparts; i++) {
			if (!g[i].has)
				continue;
			if (best == NULL) {
				best = &g[i];
				continue;
			}
			c = val_cmp(os->kt, g[i].cur.k, best->cur.k);
			if (c < 0 || (c == 0 && val_cmp(os->vt, g[i].cur.v,
			    best->cur.v) < 0))
				best = &g[i];
		}
		if (best == NULL)
			break;
		w = output_record_width(&best->cur, &text);
		if (len + w > OUTBUF_SIZE || w > OUTBUF_SIZE) {
			if (write_all(out, buf, len) != 0)
				goto done;
			*bytes += len;
			len = 0;
		}
		if (w > OUTBUF_SIZE) {
			char	*big = xmalloc(w);

			w = (size_t)(output_record(big, &best->cur, &text) -
			    big);
			c = write_all(out, big, w);
			free(big);
			if (c != 0)
				goto done;
			*bytes += w;
		} else
			len = (size_t)(output_record(buf + len, &best->cur,
			    &text) - buf);
		if (gsrc_next(best, os) == -1)
			goto done;
	}
	if (write_all(out, buf, len) != 0)
		goto done;
	*bytes += len;
	ret = 0;

done:
	saved_errno = errno;
	for (i = 0; i < nparts; i++) {
		if (g[i].map != NULL)
			munmap(g[i].map, g[i].len);
	}
	free(g);
	free(buf);
	errno = saved_errno;
	return (ret);
}

/*
 * Rename from to to unless to exists.  On a file system that takes no
 * flags for rename (NFS), look first, then rename(2): that replaces only
 * an empty folder, and only in the moment between the two.
 */
static int
output_rename_noreplace(const char *from, const char *to)
{
	struct stat	st;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return (0);
	if (errno != EINVAL)
		return (-1);
	if (lstat(to, &st) == 0) {
		errno = EEXIST;
		return (-1);
	}
	return (rename(from, to));
}

/*
 * Commit an output folder: write _SUCCESS, holding the run's token, last
 * into the complete temporary folder, sync it, and rename it to its name
 * with RENAME_NOREPLACE, so that of two jobs aiming at one folder exactly
 * one wins; under --force, exchange it with an old one (RENAME_EXCHANGE),
 * which is then removed.  Then sync the parent.  A crash at any point
 * leaves the old output or the new one, whole.  Returns 0, or -1 with
 * *cause set; errno is then EEXIST when dir was there first (without
 * force), and tmpdir is left as it was.
 */
int
output_commit(const char *tmpdir, const char *dir, const char *token,
    int force, char **cause)
{
	char	*path, *parent, *old = NULL;
	int	 fd, tries;

	xasprintf(&path, "%s/_SUCCESS", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || write_all(fd, token, strlen(token)) != 0 ||
	    fsync(fd) != 0 || close(fd) != 0) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	free(path);
	if (fsync_dir(tmpdir) != 0) {
		xasprintf(cause, "%s: %s", tmpdir, strerror(errno));
		return (-1);
	}
	for (tries = 0; output_rename_noreplace(tmpdir, dir) != 0; tries++) {
		if (errno != EEXIST && errno != ENOTEMPTY) {
			xasprintf(cause, "rename %s to %s: %s", tmpdir, dir,
			    strerror(errno));
			return (-1);
		}
		if (!force) {
			xasprintf(cause, "%s: another job wrote its output "
			    "there first", dir);
			errno = EEXIST;
			return (-1);
		}
		/* --force: swap with the old output, then remove it. */
		if (renameat2(AT_FDCWD, tmpdir, AT_FDCWD, dir,
		    RENAME_EXCHANGE) == 0) {
			old = xstrdup(tmpdir);
			break;
		}
		/* The old output went away meanwhile: rename again. */
		if (errno != ENOENT || tries == 3) {
			xasprintf(cause, "exchange %s with %s: %s", tmpdir, dir,
			    strerror(errno));
			return (-1);
		}
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
