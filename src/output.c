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

static char	*output_record(char *, const struct pair *,
		    const struct outspec *);
static size_t	 output_record_width(const struct pair *,
		    const struct outspec *);

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
	struct outspec	os = { VT_INT, VT_INT, OUT_CSV, text, 0, NULL };

	uint64_t	sum;

	src.p = r;
	src.n = n;
	return (output_write_merged(path, &src, 1, &os, sync, bytes, &sum));
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
	if (os->fmt == OUT_TSV && os->sep != NULL) {
		memcpy(p, os->sep, strlen(os->sep));
		p += strlen(os->sep);
	} else
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
	return (val_width(os->kt, r->k) + val_width(os->vt, r->v) + 2 +
	    (os->sep != NULL ? strlen(os->sep) : 0));
}

/* Write what the buffer holds. */
static int
outw_flush(struct outw *o)
{
	if (o->len == 0)
		return (0);
	if (write_all(o->fd, o->buf, o->len) != 0)
		return (-1);
	if (o->sum != NULL)
		XXH3_64bits_update(o->sum, o->buf, o->len);
	o->bytes += o->len;
	o->len = 0;
	progress();
	return (0);
}

/* Add a record, as output_record() formats it. */
static int
outw_put(struct outw *o, const struct pair *r, const struct outspec *os)
{
	char	*big;
	size_t	 w = output_record_width(r, os);
	int	 ret;

	if (o->len + w > OUTBUF_SIZE && outw_flush(o) != 0)
		return (-1);
	if (w <= OUTBUF_SIZE) {
		o->len = (size_t)(output_record(o->buf + o->len, r, os) -
		    o->buf);
		return (0);
	}
	/* A record longer than the buffer. */
	big = xmalloc(w);
	w = (size_t)(output_record(big, r, os) - big);
	ret = write_all(o->fd, big, w);
	if (ret == 0 && o->sum != NULL)
		XXH3_64bits_update(o->sum, big, w);
	o->bytes += w;
	free(big);
	return (ret);
}

/* Merge the arrays onto o (the k-way merge of merge.c). */
static int
output_merge_arrays(struct outw *o, struct pair_src *srcs, size_t nsrc,
    const struct outspec *os)
{
	struct kmerge_array	*a;
	struct kmerge		 m;
	struct kmerge_src	*top;
	size_t			 i;
	int			 ret = -1;

	a = xcalloc(nsrc + 1, sizeof *a);
	kmerge_init(&m, os->kt, os->vt, nsrc);
	for (i = 0; i < nsrc; i++) {
		a[i].ks.next = kmerge_array_next;
		a[i].p = srcs[i].p;
		a[i].n = srcs[i].n;
		(void)kmerge_add(&m, &a[i].ks);
	}
	kmerge_start(&m);
	while ((top = kmerge_top(&m)) != NULL) {
		if (outw_put(o, &top->cur, os) != 0)
			goto out;
		(void)kmerge_pop(&m);
	}
	ret = outw_flush(o);
out:
	kmerge_free(&m);
	free(a);
	return (ret);
}

/*
 * Start writing a part at path, through a temporary file: records go in
 * with output_part_put() (in order), and output_part_end() renames it into
 * place.  Returns 0, or -1 with errno set.
 */
int
output_part_begin(struct outw *o, const char *path)
{
	memset(o, 0, sizeof *o);
	if ((o->sum = XXH3_createState()) == NULL)
		fatalx("out of memory");
	XXH3_64bits_reset(o->sum);
	xasprintf(&o->tmp, "%s.tmp", path);
	o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o->fd == -1) {
		output_part_abort(o);
		return (-1);
	}
	o->buf = xmalloc(OUTBUF_SIZE);
	return (0);
}

int
output_part_put(struct outw *o, const struct pair *r, const struct outspec *os)
{
	return (outw_put(o, r, os));
}

/*
 * End the part: flush, sync it first when asked, rename it to path.  Its
 * length goes to *bytes, its XXH3 to *sum.
 */
int
output_part_end(struct outw *o, const char *path, int sync, uint64_t *bytes,
    uint64_t *sum)
{
	int	fd;

	if (outw_flush(o) != 0 || (sync && fsync(o->fd) != 0))
		goto fail;
	fd = o->fd;
	o->fd = -1;
	if (close(fd) != 0 || rename(o->tmp, path) != 0 ||
	    (sync && fsync_parent(path) != 0))
		goto fail;
	*bytes = o->bytes;
	*sum = XXH3_64bits_digest(o->sum);
	free(o->tmp);
	o->tmp = NULL;
	output_part_abort(o);
	return (0);
fail:
	output_part_abort(o);
	return (-1);
}

/* Give up a part being written: its temporary file goes. */
void
output_part_abort(struct outw *o)
{
	int	saved_errno = errno;

	if (o->fd != -1)
		close(o->fd);
	o->fd = -1;
	if (o->tmp != NULL)
		(void)unlink(o->tmp);
	free(o->tmp);
	o->tmp = NULL;
	if (o->sum != NULL)
		XXH3_freeState(o->sum);
	o->sum = NULL;
	free(o->buf);
	o->buf = NULL;
	errno = saved_errno;
}

/*
 * Merge sorted arrays of records into path, as text lines or binary
 * records (output_part_begin).  Its length goes to *bytes, its XXH3 to
 * *sum.
 */
int
output_write_merged(const char *path, struct pair_src *srcs, size_t nsrc,
    const struct outspec *os, int sync, uint64_t *bytes, uint64_t *sum)
{
	struct outw	 o;

	*bytes = 0;
	if (output_part_begin(&o, path) != 0)
		return (-1);
	if (!os->text && nsrc == 1 && os->kt == VT_INT && os->vt == VT_INT) {
		/* One run of binary pairs: the bytes as they are. */
		if (write_all(o.fd, srcs[0].p, srcs[0].n * sizeof *srcs[0].p) !=
		    0) {
			output_part_abort(&o);
			return (-1);
		}
		XXH3_64bits_update(o.sum, srcs[0].p, srcs[0].n *
		    sizeof *srcs[0].p);
		o.bytes = srcs[0].n * sizeof *srcs[0].p;
	} else if (output_merge_arrays(&o, srcs, nsrc, os) != 0) {
		output_part_abort(&o);
		return (-1);
	}
	return (output_part_end(&o, path, sync, bytes, sum));
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

/*
 * Merge the sorted binary parts onto fd as "k,v" text.  Returns 0, or -1
 * with errno set (EPIPE when the reader went away).
 */
int
output_merge(char **paths, size_t nparts, int out, uint64_t *bytes)
{
	struct outspec	os = { VT_INT, VT_INT, OUT_CSV, 1, 0, NULL };

	return (output_merge_spec(paths, nparts, out, &os, bytes));
}

/* A part being merged: mapped, read in order. */
struct gsrc {
	struct kmerge_src	 ks;
	const struct outspec	*os;
	char			*map;
	size_t			 len;
	const char		*p;
	struct run_window	 win;
};

/* Decode the next record of a part, reading it a window at a time. */
static int
gsrc_next(struct kmerge_src *ks)
{
	struct gsrc	*g = (struct gsrc *)ks;
	const char	*end = g->map + g->len, *q;

	run_window(&g->win, g->p, end);
	if (g->p >= end)
		return (0);
	if ((q = val_get(g->os->kt, g->p, end, &ks->cur.k)) == NULL ||
	    (q = val_get(g->os->vt, q, end, &ks->cur.v)) == NULL) {
		errno = EIO;
		return (-1);
	}
	g->p = q;
	return (1);
}

/* Map a part, to be read in order. */
static int
gsrc_open(struct gsrc *g, const char *path)
{
	struct stat	st;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	if (fstat(fd, &st) != 0) {
		close(fd);
		return (-1);
	}
	g->len = (size_t)st.st_size;
	if (g->len > 0) {
		if ((g->map = run_map(fd, g->len)) == MAP_FAILED) {
			g->map = NULL;
			close(fd);
			return (-1);
		}
	}
	close(fd);
	g->p = g->map;
	return (0);
}

/*
 * Merge sorted binary parts of records of the given types onto fd as text
 * of the given format, or, in input order, one after the other.  Parts
 * are mapped and read a window at a time (run_window()), so memory stays
 * small whatever their number.
 */
int
output_merge_spec(char **paths, size_t nparts, int out,
    const struct outspec *os, uint64_t *bytes)
{
	struct outspec		 text = *os;
	struct outw		 o;
	struct gsrc		*g;
	struct kmerge		 m;
	struct kmerge_src	*top;
	size_t			 i;
	int			 r, ret = -1, saved_errno = 0;

	text.text = 1;
	*bytes = 0;
	memset(&o, 0, sizeof o);
	o.fd = out;
	o.buf = xmalloc(OUTBUF_SIZE);
	g = xcalloc(nparts + 1, sizeof *g);
	kmerge_init(&m, os->kt, os->vt, nparts);
	for (i = 0; i < nparts; i++) {
		g[i].ks.next = gsrc_next;
		g[i].os = os;
		if (gsrc_open(&g[i], paths[i]) != 0 ||
		    (!os->in_order && kmerge_add(&m, &g[i].ks) != 0))
			goto done;
	}
	kmerge_start(&m);
	if (os->in_order) {
		for (i = 0; i < nparts; i++) {
			while ((r = gsrc_next(&g[i].ks)) == 1) {
				if (outw_put(&o, &g[i].ks.cur, &text) != 0)
					goto done;
			}
			if (r != 0)
				goto done;
		}
	}
	while (!os->in_order && (top = kmerge_top(&m)) != NULL) {
		if (outw_put(&o, &top->cur, &text) != 0 || kmerge_pop(&m) != 0)
			goto done;
	}
	ret = outw_flush(&o);

done:
	saved_errno = errno;
	*bytes = o.bytes;
	for (i = 0; i < nparts; i++) {
		if (g[i].map != NULL)
			munmap(g[i].map, g[i].len);
	}
	kmerge_free(&m);
	free(g);
	free(o.buf);
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
