/* forkflow: see LICENSE. */
/*
 * Input: read pairs from a byte range of the input files.
 *
 * The files are seen as one sequence of bytes, cut into one range per
 * worker.  A line belongs to the range its first byte is in, so a worker
 * skips the piece of a line at the start of its range (the previous worker
 * reads it) and reads on past its end to finish its last line, as Hadoop's
 * line reader does.  Files are mmap'd; the parser stops at the first byte
 * that does not fit, and a line always ends at a newline before the end of
 * the mapping except the last, unterminated one, which is copied out first.
 *
 * A line is "KEY SEP VALUE" where SEP is ',', ';', a tab or spaces, with
 * spaces allowed around it and at the end, and CRLF endings.  A UTF-8 BOM
 * and one header line at the start of a file are skipped, and so are blank
 * lines.  Any other line is an error that names file, line and column.
 *
 * The files of a job are read through the descriptors the supervisor keeps
 * open for it, and each is held to the fingerprint the job took of it when
 * it started, each time a worker opens it and when the worker is done with
 * it: a file replaced, written or touched meanwhile stops the job rather
 * than give a result of neither version.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"

static int	input_open_file(struct input *, size_t);
static int	input_open_fixed(struct input *, size_t);
static int	input_unchanged(struct input *, const struct stat *);
static void	input_close_file(struct input *);
static const char *input_tail(struct input *, const char *);
static int	input_next_file(struct input *);
static int	input_current(struct input *);
static int	input_error(struct input *, const char *, const char *);
static int	input_sys_error(struct input *, const char *);
static const char *input_text_lines(struct input *, struct batch *,
		    const char *, size_t *);

static inline int
is_blank(int c)
{
	return (c == ' ' || c == '\t');
}

static const uint64_t pow10_of[9] = { 1, 10, 100, 1000, 10000, 100000,
    1000000, 10000000, 100000000 };

/* Does the line at p start with a number (so that it is no header)? */
static int
is_number_start(const char *p)
{
	while (is_blank(*p))
		p++;
	if (*p == '-' || *p == '+')
		p++;
	return (*p >= '0' && *p <= '9');
}

/*
 * Parse a decimal int64 at p.  Returns the first byte after it, or NULL
 * with *why set if there is no integer or it is out of range.
 */
static inline const char *
parse_int(const char *p, const char *lim, int64_t *out, const char **why)
{
	const char	*digits;
	uint64_t	 x, d, limit, w, nd;
	unsigned int	 n;
	int		 neg = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	} else if (*p == '+')
		p++;
	digits = p;
	x = (unsigned char)*p - '0';
	if (x > 9) {
		*why = "expected an integer";
		return (NULL);
	}
	x = 0;
	/*
	 * Eight bytes at a time where eight can be read: find how many
	 * digits lead the word, then convert them with three multiplies.
	 * A byte below '0' borrows from the bytes after it, never from
	 * those before, so the first non-digit is found right.
	 */
	while (lim - p >= 8) {
		memcpy(&w, p, 8);
		w -= 0x3030303030303030ULL;
		nd = (w | (w + 0x7676767676767676ULL)) & 0x8080808080808080ULL;
		n = nd == 0 ? 8 : (unsigned int)__builtin_ctzll(nd) / 8;
		if (n == 0)
			break;
		if (n < 8)
			w <<= 8 * (8 - n);
		w = ((w & 0x0F0F0F0F0F0F0F0FULL) * 2561) >> 8;
		w = ((w & 0x00FF00FF00FF00FFULL) * 6553601) >> 16;
		w = ((w & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32;
		x = x * pow10_of[n] + w;
		p += n;
		if (n < 8 || p - digits > 18)
			break;
	}
	while ((d = (unsigned char)*p - '0') <= 9) {
		x = x * 10 + d;
		p++;
	}
	if (p - digits > 18) {
		/* Slow path: redo with overflow checks. */
		limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		x = 0;
		for (p = digits; (d = (unsigned char)*p - '0') <= 9; p++) {
			if (x > (limit - d) / 10) {
				*why = "integer out of range for a signed "
				    "64-bit integer";
				return (NULL);
			}
			x = x * 10 + d;
		}
	}
	*out = neg ? (int64_t)(0 - x) : (int64_t)x;
	return (p);
}

/*
 * Parse one line starting at p (which ends with '\n').  Returns the start
 * of the next line, or NULL with *why and *at set.  *blank is set for a
 * line with nothing on it.
 */
static inline const char *
parse_line(const char *p, const char *lim, int64_t *k, int64_t *v,
    int *blank, const char **why, const char **at)
{
	const char	*q;

	*blank = 0;
	while (is_blank(*p))
		p++;
	if (*p == '\n' || (*p == '\r' && p[1] == '\n')) {
		*blank = 1;
		return (p + (*p == '\r' ? 2 : 1));
	}
	if ((q = parse_int(p, lim, k, why)) == NULL) {
		*why = (*why)[0] == 'e' ? "expected an integer key" : *why;
		*at = p;
		return (NULL);
	}
	p = q;
	if (*p == ',' || *p == ';')
		p++;
	else if (is_blank(*p)) {
		while (is_blank(*p))
			p++;
		if (*p == ',' || *p == ';')
			p++;
	} else {
		*why = "expected a separator (',', ';', tab or space) "
		    "after the key";
		*at = p;
		return (NULL);
	}
	while (is_blank(*p))
		p++;
	if ((q = parse_int(p, lim, v, why)) == NULL) {
		*why = (*why)[0] == 'e' ? "expected an integer value" : *why;
		*at = p;
		return (NULL);
	}
	p = q;
	while (is_blank(*p))
		p++;
	if (*p == '\r')
		p++;
	if (*p != '\n') {
		*why = "unexpected characters after the value";
		*at = p;
		return (NULL);
	}
	return (p + 1);
}

/*
 * Start reading the byte range [lo, hi) of the files (global offsets over
 * their concatenation).
 */
void
input_open(struct input *in, const struct input_file *files, size_t nfiles,
    uint64_t lo, uint64_t hi)
{
	memset(in, 0, sizeof *in);
	in->files = files;
	in->nfiles = nfiles;
	in->lo = lo;
	in->hi = hi;
	in->fi = 0;
	in->fd = -1;
	in->cur_start = 0;
}

void
input_close(struct input *in)
{
	input_close_file(in);
	free(in->rbuf);
	in->rbuf = NULL;
	in->rbufcap = 0;
	free(in->names);
	in->names = NULL;
	arena_free(&in->names_arena);
	free(in->cause);
	in->cause = NULL;
}

/*
 * A file of up to INPUT_READ_MAX bytes is read whole into a buffer that
 * the next one reuses; a larger one is mapped.  Mapping and unmapping
 * cost more than reading a small file: a thousand files of 100 kB took
 * 0.14 s of munmap(2) alone.  Returns 0, or -1 with the error set.
 */
#define INPUT_READ_MAX	(1 << 20)
#define INPUT_READ_MIN	(64 * 1024)	/* the first buffer of reads */
#define FILE_GROUP_BUF	(256 * 1024)	/* reads of input_group_start() */

static int
input_read_small(struct input *in, int fd)
{
	size_t	off = 0;
	ssize_t	n;

	if (in->maplen > INPUT_READ_MAX) {
		in->map = mmap(NULL, in->maplen, PROT_READ, MAP_PRIVATE, fd,
		    0);
		if (in->map == MAP_FAILED) {
			in->map = NULL;
			return (input_sys_error(in, "mmap"));
		}
		in->mapped = 1;
		(void)madvise(in->map, in->maplen, MADV_SEQUENTIAL);
		return (0);
	}
	if (in->rbufcap < in->maplen) {
		/* Grown by doubling, from 64 KiB: an input of small files
		 * (or a job of one) does not take a megabyte for each. */
		free(in->rbuf);
		if (in->rbufcap < INPUT_READ_MIN)
			in->rbufcap = INPUT_READ_MIN;
		while (in->rbufcap < in->maplen)
			in->rbufcap *= 2;
		in->rbuf = xmalloc(in->rbufcap);
	}
	while (off < in->maplen) {
		n = pread(fd, in->rbuf + off, in->maplen - off, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return (input_sys_error(in, "read"));
		if (n == 0)
			return (input_error(in, NULL, "file changed size "
			    "while the job ran"));
		off += (size_t)n;
	}
	in->map = in->rbuf;
	in->mapped = 0;
	return (0);
}

static void
input_close_file(struct input *in)
{
	if (in->map != NULL && in->mapped)
		munmap(in->map, in->maplen);
	in->map = NULL;
	free(in->tail);
	in->tail = NULL;
	if (in->fd != -1)
		close(in->fd);
	in->fd = -1;
}

/*
 * Map file fi and find where, inside it, this worker's lines start and end.
 * Returns 1 if there is something to read, 0 if not, -1 on error.
 */
static int
input_open_file(struct input *in, size_t fi)
{
	const struct input_file	*f = &in->files[fi];
	uint64_t		 fstart = in->cur_start, fend, a, b;
	const char		*nl;
	struct stat		 st;
	int			 fd;

	fend = fstart + f->size;
	if (fend <= in->lo || fstart >= in->hi || f->size == 0)
		return (0);
	a = in->lo > fstart ? in->lo - fstart : 0;
	b = in->hi < fend ? in->hi - fstart : f->size;

	if (f->fp.set) {
		if ((fd = input_open_fixed(in, fi)) == -1)
			return (-1);
	} else {
		if ((in->fd = open(f->path, O_RDONLY | O_CLOEXEC)) == -1) {
			/* Gone: the input changed under the job. */
			if (errno == ENOENT)
				return (input_error(in, NULL, "file removed "
				    "while the job ran"));
			return (input_sys_error(in, "open"));
		}
		if (fstat(in->fd, &st) == -1)
			return (input_sys_error(in, "fstat"));
		if ((uint64_t)st.st_size != f->size)
			return (input_error(in, NULL, "file changed size "
			    "while the job ran"));
		fd = in->fd;
	}
	in->maplen = f->size;
	if (input_read_small(in, fd) != 0)
		return (-1);

	in->base = in->map;
	in->bom = 0;
	if (in->maplen >= 3 && memcmp(in->map, "\xef\xbb\xbf", 3) == 0)
		in->bom = 3;
	/* The first line of the range starts after the first newline. */
	if (a > 0) {
		nl = memchr(in->map + a - 1, '\n', in->maplen - (a - 1));
		if (nl == NULL || (uint64_t)(nl + 1 - in->map) >= b)
			return (0);	/* no line starts in the range */
		a = nl + 1 - in->map;
	} else {
		/*
		 * The first line starts at byte 0, BOM included: it is ours
		 * even when the range ends inside the BOM.  A file that is a
		 * BOM and nothing else has no line.
		 */
		a = in->bom;
		if (a >= in->maplen)
			return (0);
		if (b <= a)
			b = a + 1;
	}
	in->p = in->map + a;
	in->end = in->map + b;
	in->first_line = (a == in->bom) ? in->map + a : NULL;

	/* An unterminated last line is copied out, with a newline. */
	nl = memrchr(in->map, '\n', in->maplen);
	in->safe_end = nl == NULL ? in->map : nl + 1;
	return (1);
}

/*
 * Open input file fi as the job fixed it: its path must still name the file
 * the job started with, unchanged, which is read through the descriptor the
 * supervisor keeps open, or opened again (and checked again) when it could
 * not keep one.  Returns the descriptor, or -1 with the error recorded.
 */
static int
input_open_fixed(struct input *in, size_t fi)
{
	const struct input_file	*f = &in->files[fi];
	struct stat		 st;

	if (stat(f->path, &st) != 0) {
		if (errno == ENOENT)
			return (input_error(in, NULL, "removed since the job "
			    "started; the job cannot go on"));
		return (input_sys_error(in, "stat"));
	}
	if (input_unchanged(in, &st) != 0)
		return (-1);
	if (f->fd != -1) {
		if (fstat(f->fd, &st) != 0)
			return (input_sys_error(in, "fstat"));
		if (input_unchanged(in, &st) != 0)
			return (-1);
		return (f->fd);
	}
	if ((in->fd = open(f->path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return (input_error(in, NULL, "removed since the job "
			    "started; the job cannot go on"));
		return (input_sys_error(in, "open"));
	}
	if (fstat(in->fd, &st) != 0)
		return (input_sys_error(in, "fstat"));
	if (input_unchanged(in, &st) != 0)
		return (-1);
	return (in->fd);
}

/*
 * Is what stat(2) says of the current file what the job's fingerprint of
 * it says?  Returns 0, or -1 with the error recorded: a permanent one, as
 * a job on a changed input gives a result of neither version.
 */
static int
input_unchanged(struct input *in, const struct stat *st)
{
	struct input_fp	 now;
	const char	*what;
	char		*why;
	int		 r;

	input_fp_get(&now, st);
	if ((what = input_fp_differs(&in->files[in->fi].fp, &now)) == NULL)
		return (0);
	xasprintf(&why, "changed since the job started (%s differs); the job "
	    "cannot go on", what);
	r = input_error(in, NULL, why);
	free(why);
	return (r);
}

/* The fingerprint of a file, from what stat(2) says of it. */
void
input_fp_get(struct input_fp *fp, const struct stat *st)
{
	memset(fp, 0, sizeof *fp);
	fp->set = 1;
	fp->dev = (uint64_t)st->st_dev;
	fp->ino = (uint64_t)st->st_ino;
	fp->size = (uint64_t)st->st_size;
	fp->mtime_sec = (int64_t)st->st_mtim.tv_sec;
	fp->mtime_nsec = st->st_mtim.tv_nsec;
}

/* What differs between two fingerprints of a file, or NULL. */
const char *
input_fp_differs(const struct input_fp *want, const struct input_fp *got)
{
	if (want->dev != got->dev)
		return ("device");
	if (want->ino != got->ino)
		return ("inode");
	if (want->size != got->size)
		return ("size");
	if (want->mtime_sec != got->mtime_sec ||
	    want->mtime_nsec != got->mtime_nsec)
		return ("modification time");
	return (NULL);
}

/*
 * The last line of the file at p lacks its newline: copy it out with one,
 * so that parsers can stop at a newline.  Returns where it now starts.
 */
static const char *
input_tail(struct input *in, const char *p)
{
	size_t	len = in->map + in->maplen - p;

	in->tail = xmalloc(len + 2);
	memcpy(in->tail, p, len);
	in->tail[len] = '\n';
	in->tail[len + 1] = '\0';
	in->base = in->tail - (p - in->map);
	in->end = in->tail + len;
	if (in->first_line == p)
		in->first_line = in->tail;
	return (in->tail);
}

/*
 * Make sure a file with lines of this range is open.  Returns 1, 0 when
 * the range's files are done, -1 on error.
 */
static int
input_current(struct input *in)
{
	int	r;

	while (in->map == NULL) {
		if (in->fi >= in->nfiles) {
			/* This range is done: on to the next, if any. */
			if (in->ri + 1 >= in->nranges)
				return (0);
			in->ri++;
			in->lo = in->rlo[in->ri];
			in->hi = in->rhi[in->ri];
			in->fi = 0;
			in->cur_start = 0;
			continue;
		}
		if ((r = input_open_file(in, in->fi)) == -1)
			return (-1);
		if (r == 0 && input_next_file(in) != 0)
			return (-1);
	}
	return (1);
}

/*
 * Done with the current file: on to the next.  A file the job fixed is
 * looked at once more, since a write in place while it was read may have
 * mixed old and new bytes in what was read.  Returns 0, or -1 with the
 * error recorded.
 */
static int
input_next_file(struct input *in)
{
	const struct input_file	*f = &in->files[in->fi];
	struct stat		 st;
	int			 fd = in->fd != -1 ? in->fd : f->fd;

	if (in->map != NULL && f->fp.set) {
		if (fstat(fd, &st) != 0)
			return (input_sys_error(in, "fstat"));
		if (input_unchanged(in, &st) != 0)
			return (-1);
	}
	input_close_file(in);
	in->cur_start += f->size;
	in->fi++;
	return (0);
}

/*
 * A system call on the current file failed: no fault of the input's
 * (in->err_sys says which error it was).  Returns -1.
 */
static int
input_sys_error(struct input *in, const char *call)
{
	int	saved_errno = errno;

	free(in->cause);
	xasprintf(&in->cause, "%s: %s: %s", in->files[in->fi].name, call,
	    strerror(saved_errno));
	in->err_file = in->fi;
	in->err_off = 0;
	in->err_sys = saved_errno;
	return (-1);
}

/* Record an error at byte at of the current file (NULL: the file). */
static int
input_error(struct input *in, const char *at, const char *why)
{
	const struct input_file	*f = &in->files[in->fi];
	const char		*s, *lim;
	uint64_t		 line = 1, off, bol = 0;

	free(in->cause);
	if (at == NULL) {
		xasprintf(&in->cause, "%s: %s", f->name, why);
		in->err_off = 0;
	} else {
		/* Count lines in the mapping (a copied tail has none). */
		off = at - in->base;
		lim = in->map + (off < in->maplen ? off : in->maplen);
		for (s = in->map; (s = memchr(s, '\n', lim - s)) != NULL;
		    s++) {
			line++;
			bol = s + 1 - in->map;
		}
		if (line == 1)
			bol = in->bom;
		xasprintf(&in->cause, "%s:%llu:%llu: %s", f->name,
		    (unsigned long long)line,
		    (unsigned long long)(off - bol + 1), why);
		in->err_off = off;
	}
	in->err_file = in->fi;
	return (-1);
}

/*
 * Text input: each line is a record <file name, line>, the line without
 * its end of line (LF or CRLF), the file named without its folders.
 * Returns where the next line starts.
 */
static const char *
input_text_lines(struct input *in, struct batch *b, const char *p, size_t *np)
{
	const char	*nl, *lim;
	size_t		 n = *np, len;

	if (in->names == NULL) {
		in->names = xcalloc(in->nfiles + 1, sizeof *in->names);
		/* A document is named by its file's name, without folders,
		 * so that output does not depend on where a job runs. */
		for (size_t i = 0; i < in->nfiles; i++) {
			const char *base = strrchr(in->files[i].name, '/');

			base = base == NULL ? in->files[i].name : base + 1;
			in->names[i] = str_make(&in->names_arena, base,
			    strlen(base));
		}
	}
	if (n == 0)
		arena_reset(&b->arena);	/* the batch's old lines are gone */
	while (n < BATCH_MAX && p < in->end) {
		if (p >= in->safe_end && in->base == in->map)
			p = input_tail(in, p);
		lim = in->base == in->map ? in->map + in->maplen :
		    in->end + 1;
		nl = memchr(p, '\n', lim - p);
		len = (size_t)(nl - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		b->pos[n] = in->cur_start + (uint64_t)(p - in->base);
		b->k[n] = in->names[in->fi];
		b->v[n] = str_make(&b->arena, p, len);
		n++;
		p = nl + 1;
	}
	*np = n;
	return (p);
}

/*
 * Text input, read as blocks of whole lines (about 1 MiB each) rather than
 * records, for kernels that scan text: *p and *len are the next block,
 * whose lines all belong to this range.  Returns 1, 0 at the end, -1 on
 * error.
 */
int
input_read_block(struct input *in, const char **pp, size_t *lenp)
{
	const char	*p, *q, *nl, *lim;
	int		 r;

	for (;;) {
		if ((r = input_current(in)) != 1)
			return (r);
		p = in->p;
		if (p >= in->end) {
			if (input_next_file(in) != 0)
				return (-1);
			continue;
		}
		if (p >= in->safe_end && in->base == in->map)
			p = input_tail(in, p);
		lim = in->base == in->map ? in->safe_end : in->end + 1;
		/* The block ends with the line that holds its last byte. */
		q = (size_t)(in->end - p) > (1 << 20) ? p + (1 << 20) :
		    in->end;
		if (q > lim)
			q = lim;
		nl = memchr(q - 1, '\n', (size_t)(lim - (q - 1)));
		if (nl == NULL)
			nl = lim - 1;
		*pp = p;
		*lenp = (size_t)(nl + 1 - p);
		in->p = nl + 1;
		return (1);
	}
}

/*
 * Read several byte ranges in turn (--split-size deals splits out to the
 * workers), from global offset start on: ranges that end before it are
 * done.
 */
void
input_open_ranges(struct input *in, const struct input_file *files,
    size_t nfiles, const uint64_t *rlo, const uint64_t *rhi, size_t n,
    uint64_t start)
{
	size_t	ri = 0;

	while (ri + 1 < n && rhi[ri] <= start)
		ri++;
	input_open(in, files, nfiles, start > rlo[ri] ? start : rlo[ri],
	    rhi[ri]);
	in->rlo = rlo;
	in->rhi = rhi;
	in->nranges = n;
	in->ri = ri;
}

/* How many bytes of its ranges the reader has read. */
uint64_t
input_progress(const struct input *in)
{
	return (input_progress_at(in, input_tell(in)));
}

/* The same, with the reader at global offset t of its current range. */
uint64_t
input_progress_at(const struct input *in, uint64_t t)
{
	uint64_t	done = 0;
	size_t		i;

	if (in->nranges == 0)
		return (0);
	for (i = 0; i < in->ri; i++)
		done += in->rhi[i] - in->rlo[i];
	if (t > in->rhi[in->ri])
		t = in->rhi[in->ri];
	if (t > in->rlo[in->ri])
		done += t - in->rlo[in->ri];
	return (done);
}

/* Which file holds the global offset off. */
size_t
input_file_of(const struct input_file *files, size_t nfiles, uint64_t off)
{
	uint64_t	start = 0;
	size_t		i;

	for (i = 0; i + 1 < nfiles; i++) {
		if (off < start + files[i].size)
			break;
		start += files[i].size;
	}
	return (i);
}

/*
 * Where the first group of n lines that starts at global offset x or after
 * it starts: the start of a line whose number in its file is a multiple
 * of n, or the file's end.  A line is its reader's when it starts in its
 * range; so is a group, with the ranges' ends moved to these offsets.
 * The file is read from its start.  Returns 0, or -1 with errno set.
 */
int
input_group_start(const struct input_file *files, size_t nfiles, uint64_t x,
    uint64_t n, uint64_t *at)
{
	const struct input_file	*f;
	char			*buf, *p, *e;
	uint64_t		 fstart = 0, off = 0, line = 0, want = 0;
	ssize_t			 got;
	size_t			 fi;
	int			 fd, saved;

	fi = input_file_of(files, nfiles, x);
	for (size_t i = 0; i < fi; i++)
		fstart += files[i].size;
	f = &files[fi];
	*at = x;
	if (x <= fstart || x >= fstart + f->size)
		return (0);
	if ((fd = f->fd) == -1 && (fd = open(f->path, O_RDONLY |
	    O_CLOEXEC)) == -1)
		return (-1);
	buf = xmalloc(FILE_GROUP_BUF);
	/* Line k (from 0) starts after the kth newline: the first at x or
	 * after it is the one after the newlines before x - 1. */
	while (off < f->size) {
		if ((got = pread(fd, buf, FILE_GROUP_BUF, (off_t)off)) <= 0) {
			if (got == 0)
				errno = EIO;
			if (got == 0 || errno != EINTR)
				goto fail;
			continue;
		}
		for (p = buf, e = buf + got; p < e; p++) {
			if (*p != '\n')
				continue;
			line++;
			if (want == 0 && off + (uint64_t)(p - buf) >= x - 1 -
			    fstart)
				want = (line + n - 1) / n * n;
			if (want != 0 && line == want) {
				*at = fstart + off + (uint64_t)(p - buf) + 1;
				goto done;
			}
		}
		off += (uint64_t)got;
	}
	*at = fstart + f->size;
done:
	free(buf);
	if (fd != f->fd)
		close(fd);
	return (0);
fail:
	saved = errno;
	free(buf);
	if (fd != f->fd)
		close(fd);
	errno = saved;
	return (-1);
}

/* The global offset of the next line to read. */
uint64_t
input_tell(const struct input *in)
{
	uint64_t	off;

	if (in->map == NULL)
		return (in->fi >= in->nfiles ? in->hi : in->cur_start);
	/* Past a copied last line is its added newline: the file's end. */
	off = (uint64_t)(in->p - in->base);
	if (off > in->files[in->fi].size)
		off = in->files[in->fi].size;
	return (in->cur_start + off);
}

/*
 * Parse lines into the batch until it is full or the range ends.  Returns
 * the number of records, 0 at the end, -1 on error (in->cause says why).
 */
int
input_read(struct input *in, struct batch *b)
{
	const char	*p, *next, *why = NULL, *at = NULL;
	int64_t		*k = b->k, *v = b->v;
	size_t		 n = 0;
	int		 blank, r;

	b->n = 0;
	for (;;) {
		if ((r = input_current(in)) != 1)
			return (r);
		p = in->p;
		if (in->format == IN_TEXT) {
			p = input_text_lines(in, b, p, &n);
			goto advanced;
		}
		while (n < BATCH_MAX && p < in->end) {
			if (p >= in->safe_end && in->base == in->map)
				p = input_tail(in, p);
			b->pos[n] = in->cur_start + (uint64_t)(p - in->base);
			next = parse_line(p, in->base == in->map ?
			    in->safe_end : in->tail, &k[n], &v[n], &blank,
			    &why, &at);
			if (next == NULL) {
				if (p != in->first_line || is_number_start(p))
					return (input_error(in, at, why));
				/* One header line at the start of a file. */
				next = memchr(p, '\n', (in->base == in->map ?
				    in->map + in->maplen : in->end + 1) - p);
				next = next == NULL ? in->end : next + 1;
			} else if (!blank)
				n++;
			p = next;
		}
advanced:
		in->p = p;
		if (p >= in->end && input_next_file(in) != 0)
			return (-1);
		if (n == BATCH_MAX || (n > 0 && in->map == NULL)) {
			b->n = n;
			return ((int)n);
		}
	}
}

/*
 * Find which file and line the global offset off is in, for messages
 * about a record.  Reads the file up to there through a small buffer.
 * Returns 0, or -1 if it cannot.
 */
int
input_locate(const struct input_file *files, size_t nfiles, uint64_t off,
    size_t *fi, uint64_t *line)
{
	char		 buf[65536], *p;
	uint64_t	 start = 0, left;
	off_t		 at;
	ssize_t		 n;
	size_t		 i;
	int		 fd, kept;

	for (i = 0; i < nfiles; i++) {
		if (off < start + files[i].size)
			break;
		start += files[i].size;
	}
	if (i == nfiles)
		return (-1);
	/* The file the job reads, if the supervisor keeps it open. */
	kept = files[i].fp.set && files[i].fd != -1;
	if (kept)
		fd = files[i].fd;
	else if ((fd = open(files[i].path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	*fi = i;
	*line = 1;
	left = off - start;
	at = 0;
	while (left > 0) {
		n = pread(fd, buf, left < sizeof buf ? left : sizeof buf, at);
		if (n <= 0)
			break;
		for (p = buf; (p = memchr(p, '\n', buf + n - p)) != NULL; p++)
			(*line)++;
		left -= (uint64_t)n;
		at += n;
	}
	if (!kept)
		close(fd);
	return (0);
}
