/* forkflow: see LICENSE. */
/*
 * libFuzzer harness for input.c.  The input is a header of HDR_LEN bytes
 * and the text of the input files: one file, or two split where the header
 * says, the text repeated up to a few thousand times if the header asks (so
 * that reads cross BATCH_MAX).  The files are read in one of three ways:
 * CSV records (input_read()), text records (<file name, line>) or text
 * blocks (input_read_block()).
 *
 * They are read whole, as one range, and cut into 2 to 4 ranges at offsets
 * from the header, as the workers of a job read them.  When the whole read
 * succeeds every range must succeed, and the records (or bytes) of the
 * ranges, in order, must be those of the whole read, at the same offsets.
 * When it fails, the first range that fails must fail with the same
 * message, and the records read up to there must agree.  Text, read whole,
 * must also be what the files hold, line for line, as computed here.
 *
 * Every read but the first whole one also crashes after a number of
 * batches (or blocks) the header gives and resumes from input_tell(), as a
 * worker resumes from its checkpoint, so the properties above hold across
 * that too; and the whole read resumed must be the whole read.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"
#include "fuzz_util.h"

#define HDR_LEN		10
#define TOTAL_MAX	(16 * 1024)	/* bytes, once repeated */
#define RANGES_MAX	4

/*
 * The header:
 *
 *	byte 0	bit 0: two files; bits 1-2: ranges - 2 (at most 4);
 *		bits 3-6: repetitions (below 8: none, else 2^(n-4))
 *	1-2	where the second file starts (little endian)
 *	3-8	three cuts between ranges (little endian)
 *	9	bits 0-2: batches before a crash of each read (0: none);
 *		bits 3-4: how to read (enum mode)
 */
enum mode {
	MODE_CSV,
	MODE_TEXT,		/* text records */
	MODE_BLOCKS,		/* text blocks */
};

/* A record read: for text, the file's number and the line in the blob. */
struct rec {
	int64_t		 k;
	int64_t		 v;
	uint64_t	 pos;
	size_t		 off;
	size_t		 len;
};

/* What a read gave: records, and the bytes of lines or blocks. */
struct recs {
	struct rec	*r;
	size_t		 n;
	size_t		 cap;
	char		*blob;
	size_t		 blen;
	size_t		 bcap;
};

/* How a read ended. */
struct outcome {
	int		 failed;
	char		*cause;
	size_t		 err_file;
	uint64_t	 err_off;
};

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void		fuzz_cleanup(void);
static uint64_t		scale(unsigned int, uint64_t);
static struct rec	*recs_add(struct recs *);
static void		blob_add(struct recs *, const char *, size_t);
static void		recs_free(struct recs *);
static void		read_range(const struct input_file *, size_t, int,
			    uint64_t, uint64_t, unsigned int, struct recs *,
			    struct outcome *);
static void		expect_text(const struct input_file *, size_t,
			    const char *, int, struct recs *);
static void		check_prefix(const struct recs *,
			    const struct recs *, size_t, const char *);
static void		check_blob(const struct recs *, const struct recs *,
			    const char *);
static void		check_same(const struct recs *, const struct outcome *,
			    const struct recs *, const struct outcome *);
static int		cmp_u64(const void *, const void *);

static const char	*fuzz_path[2];
static const char	*fuzz_name[2] = { "a.csv", "b.csv" };
static struct batch	 fuzz_batch;

/* Free the batch at exit. */
static void
fuzz_cleanup(void)
{
	arena_free(&fuzz_batch.arena);
}

/* Make the scratch folder and name its files. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_scratch();
	fuzz_path[0] = fuzz_file(fuzz_name[0]);
	fuzz_path[1] = fuzz_file(fuzz_name[1]);
	atexit(fuzz_cleanup);
	return (0);
}

/* An offset in [0, total] from 16 bits of the header. */
static uint64_t
scale(unsigned int x, uint64_t total)
{
	if (total < 0xffff)
		return (x % (total + 1));
	return (((uint64_t)x * (total + 1)) >> 16);
}

/* Room for one more record. */
static struct rec *
recs_add(struct recs *rs)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 256;
		rs->r = xreallocarray(rs->r, rs->cap, sizeof *rs->r);
	}
	memset(&rs->r[rs->n], 0, sizeof rs->r[rs->n]);
	return (&rs->r[rs->n++]);
}

/* Append len bytes to the blob. */
static void
blob_add(struct recs *rs, const char *p, size_t len)
{
	if (rs->bcap - rs->blen < len) {
		while (rs->bcap - rs->blen < len)
			rs->bcap = rs->bcap ? rs->bcap * 2 : 4096;
		rs->blob = xreallocarray(rs->blob, rs->bcap, 1);
	}
	if (len > 0)
		memcpy(rs->blob + rs->blen, p, len);
	rs->blen += len;
}

static void
recs_free(struct recs *rs)
{
	free(rs->r);
	free(rs->blob);
	memset(rs, 0, sizeof *rs);
}

/*
 * Read the range [lo, hi) to its end in the given mode, appending what it
 * gives to rs.  With crash > 0, stop after that many batches or blocks
 * and start again from where input_tell() says, as a worker resumed from a
 * checkpoint does.
 */
static void
read_range(const struct input_file *files, size_t nfiles, int mode,
    uint64_t lo, uint64_t hi, unsigned int crash, struct recs *rs,
    struct outcome *o)
{
	struct input		 in;
	struct batch		*b = &fuzz_batch;
	struct rec		*x;
	const struct str	*s;
	const char		*p;
	uint64_t		 last = 0, tell;
	size_t			 i, len, first = rs->n;
	unsigned int		 steps = 0;
	int			 r, f;

	memset(o, 0, sizeof *o);
	b->n = 0;
	b->k = b->col[0];
	b->v = b->col[1];
	b->tmp = b->col[2];
	input_open(&in, files, nfiles, lo, hi);
	in.format = mode == MODE_CSV ? IN_CSV : IN_TEXT;
	for (;;) {
		if (mode == MODE_BLOCKS) {
			if ((r = input_read_block(&in, &p, &len)) == 1) {
				if (len == 0 || p[len - 1] != '\n')
					fuzz_fail("[%llu, %llu): a block of "
					    "%zu bytes, not whole lines",
					    (unsigned long long)lo,
					    (unsigned long long)hi, len);
				blob_add(rs, p, len);
			}
		} else
			r = input_read(&in, b);
		if (r == 0)
			break;
		if (r == -1) {
			if (in.cause == NULL)
				fuzz_fail("[%llu, %llu): failed without a "
				    "cause", (unsigned long long)lo,
				    (unsigned long long)hi);
			o->failed = 1;
			o->cause = xstrdup(in.cause);
			o->err_file = in.err_file;
			o->err_off = in.err_off;
			break;
		}
		if (mode != MODE_BLOCKS && (r < 0 || r > BATCH_MAX ||
		    (size_t)r != b->n))
			fuzz_fail("[%llu, %llu): input_read() gave %d, the "
			    "batch holds %zu", (unsigned long long)lo,
			    (unsigned long long)hi, r, b->n);
		for (i = 0; mode != MODE_BLOCKS && i < b->n; i++) {
			if (rs->n > first && b->pos[i] <= last)
				fuzz_fail("[%llu, %llu): record at %llu "
				    "after one at %llu",
				    (unsigned long long)lo,
				    (unsigned long long)hi,
				    (unsigned long long)b->pos[i],
				    (unsigned long long)last);
			last = b->pos[i];
			x = recs_add(rs);
			x->pos = b->pos[i];
			if (mode == MODE_CSV) {
				x->k = b->k[i];
				x->v = b->v[i];
				continue;
			}
			/* Text: the file by its name, and the line. */
			s = str_of(b->k[i]);
			for (f = 0; f < 2; f++) {
				if (s->len == strlen(fuzz_name[f]) &&
				    memcmp(s->s, fuzz_name[f], s->len) == 0)
					break;
			}
			if (f == 2)
				fuzz_fail("a record of a file named \"%.*s\"",
				    (int)s->len, s->s);
			x->k = f;
			s = str_of(b->v[i]);
			x->off = rs->blen;
			x->len = s->len;
			blob_add(rs, s->s, s->len);
		}
		if (++steps == crash) {
			/*
			 * At hi, the last line read may be the first of a
			 * file, past a BOM longer than the range.
			 */
			tell = input_tell(&in);
			if ((tell < hi && rs->n > first && tell <= last) ||
			    tell < lo)
				fuzz_fail("[%llu, %llu): input_tell() gives "
				    "%llu after a record at %llu",
				    (unsigned long long)lo,
				    (unsigned long long)hi,
				    (unsigned long long)tell,
				    (unsigned long long)last);
			input_close(&in);
			input_open(&in, files, nfiles, tell, hi);
			in.format = mode == MODE_CSV ? IN_CSV : IN_TEXT;
		}
	}
	if (r == 0 && mode != MODE_BLOCKS && b->n != 0)
		fuzz_fail("[%llu, %llu): end of the range with %zu records "
		    "in the batch", (unsigned long long)lo,
		    (unsigned long long)hi, b->n);
	input_close(&in);
}

/*
 * What text input must give for the files, computed here: each line of
 * each file, past a BOM, without its LF or CRLF; or, as blocks, the bytes
 * of the lines, a newline ending the last one.
 */
static void
expect_text(const struct input_file *files, size_t nfiles, const char *buf,
    int mode, struct recs *rs)
{
	struct rec	*x;
	const char	*c, *nl;
	uint64_t	 start = 0, p, end, len;
	size_t		 f;

	for (f = 0; f < nfiles; start += files[f].size, f++) {
		c = buf + start;
		p = 0;
		if (files[f].size >= 3 && memcmp(c, "\xef\xbb\xbf", 3) == 0)
			p = 3;
		while (p < files[f].size) {
			nl = memchr(c + p, '\n', files[f].size - p);
			end = nl != NULL ? (uint64_t)(nl - c) : files[f].size;
			if (mode == MODE_BLOCKS) {
				blob_add(rs, c + p, end - p);
				blob_add(rs, "\n", 1);
				p = end + 1;
				continue;
			}
			len = end - p;
			if (len > 0 && c[p + len - 1] == '\r')
				len--;
			x = recs_add(rs);
			x->k = (int64_t)f;
			x->pos = start + p;
			x->off = rs->blen;
			x->len = len;
			blob_add(rs, c + p, len);
			p = end + 1;
		}
	}
}

/* The first n records of a and b must be the same, at the same offsets. */
static void
check_prefix(const struct recs *a, const struct recs *b, size_t n,
    const char *what)
{
	const struct rec	*x, *y;
	size_t			 i;

	for (i = 0; i < n; i++) {
		x = &a->r[i];
		y = &b->r[i];
		if (x->k != y->k || x->v != y->v || x->pos != y->pos ||
		    x->len != y->len || (x->len > 0 &&
		    memcmp(a->blob + x->off, b->blob + y->off, x->len) != 0))
			fuzz_fail("record %zu: %lld %lld \"%.*s\" at %llu "
			    "read whole, %lld %lld \"%.*s\" at %llu %s", i,
			    (long long)x->k, (long long)x->v, (int)x->len,
			    a->blob + x->off, (unsigned long long)x->pos,
			    (long long)y->k, (long long)y->v, (int)y->len,
			    b->blob + y->off, (unsigned long long)y->pos,
			    what);
	}
}

/* The bytes of blocks read must be the same. */
static void
check_blob(const struct recs *a, const struct recs *b, const char *what)
{
	size_t	 i;

	for (i = 0; i < a->blen && i < b->blen; i++) {
		if (a->blob[i] != b->blob[i])
			break;
	}
	if (i < a->blen || i < b->blen)
		fuzz_fail("blocks read whole and %s differ at byte %zu of "
		    "%zu and %zu", what, i, a->blen, b->blen);
}

/* Two reads of the same lines must give the same records, or error. */
static void
check_same(const struct recs *a, const struct outcome *oa,
    const struct recs *b, const struct outcome *ob)
{
	if (oa->failed != ob->failed)
		fuzz_fail("resumed after a crash, the read %s: %s",
		    ob->failed ? "fails" : "succeeds",
		    ob->failed ? ob->cause : oa->cause);
	if (oa->failed && (strcmp(oa->cause, ob->cause) != 0 ||
	    oa->err_file != ob->err_file || oa->err_off != ob->err_off))
		fuzz_fail("resumed after a crash, the read fails with \"%s\", "
		    "not \"%s\"", ob->cause, oa->cause);
	if (!oa->failed && a->n != b->n)
		fuzz_fail("resumed after a crash, the read gives %zu records, "
		    "not %zu", b->n, a->n);
	check_prefix(a, b, a->n < b->n ? a->n : b->n, "resumed");
	if (!oa->failed)
		check_blob(a, b, "resumed");
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input_file	 files[2];
	struct recs		 whole, again, parts, want;
	struct outcome		 ow, oa, op;
	uint8_t			 hdr[HDR_LEN];
	const uint8_t		*text;
	char			*buf;
	size_t			 len, total, split, nfiles, nranges;
	size_t			 rep, i;
	uint64_t		 cut[RANGES_MAX + 1];
	unsigned int		 e, crash;
	int			 mode;

	memset(hdr, 0, sizeof hdr);
	memcpy(hdr, data, size < HDR_LEN ? size : HDR_LEN);
	text = size > HDR_LEN ? data + HDR_LEN : NULL;
	len = size > HDR_LEN ? size - HDR_LEN : 0;

	nfiles = 1 + (hdr[0] & 1);
	nranges = 2 + ((hdr[0] >> 1) & 3);
	if (nranges > RANGES_MAX)
		nranges = RANGES_MAX;
	e = (hdr[0] >> 3) & 15;
	rep = e < 8 ? 1 : (size_t)1 << (e - 4);
	while (rep > 1 && len * rep > TOTAL_MAX)
		rep /= 2;
	crash = hdr[9] & 7;
	mode = (hdr[9] >> 3) & 3;
	if (mode > MODE_BLOCKS)
		mode = MODE_CSV;

	total = len * rep;
	buf = xmalloc(total + 1);
	for (i = 0; i < rep && len > 0; i++)
		memcpy(buf + i * len, text, len);
	split = nfiles == 2 ? scale(hdr[1] | hdr[2] << 8, total) : total;

	memset(files, 0, sizeof files);
	files[0].path = (char *)fuzz_path[0];
	files[0].name = (char *)fuzz_name[0];
	files[0].size = split;
	files[1].path = (char *)fuzz_path[1];
	files[1].name = (char *)fuzz_name[1];
	files[1].size = total - split;
	fuzz_write_file(fuzz_path[0], buf, split);
	if (nfiles == 2)
		fuzz_write_file(fuzz_path[1], buf + split, total - split);

	/* The cuts, in order; ranges may be empty. */
	cut[0] = 0;
	for (i = 1; i < nranges; i++)
		cut[i] = scale(hdr[1 + 2 * i] | hdr[2 + 2 * i] << 8, total);
	qsort(cut + 1, nranges - 1, sizeof *cut, cmp_u64);
	cut[nranges] = total;

	memset(&whole, 0, sizeof whole);
	memset(&again, 0, sizeof again);
	memset(&parts, 0, sizeof parts);
	memset(&want, 0, sizeof want);
	read_range(files, nfiles, mode, 0, total, 0, &whole, &ow);
	if (mode != MODE_CSV) {
		if (ow.failed)
			fuzz_fail("text input failed: %s", ow.cause);
		expect_text(files, nfiles, buf, mode, &want);
		if (want.n != whole.n)
			fuzz_fail("%zu lines read as text, the files have %zu",
			    whole.n, want.n);
		check_prefix(&want, &whole, want.n, "(what the files hold)");
		check_blob(&want, &whole, "(what the files hold)");
	}
	if (crash != 0) {
		read_range(files, nfiles, mode, 0, total, crash, &again, &oa);
		check_same(&whole, &ow, &again, &oa);
		free(oa.cause);
	}
	for (i = 0; i < nranges; i++) {
		read_range(files, nfiles, mode, cut[i], cut[i + 1], crash,
		    &parts, &op);
		if (op.failed)
			break;
	}

	if (!ow.failed) {
		if (op.failed)
			fuzz_fail("range %zu [%llu, %llu) failed, the whole "
			    "read did not: %s", i,
			    (unsigned long long)cut[i],
			    (unsigned long long)cut[i + 1], op.cause);
		if (whole.n != parts.n)
			fuzz_fail("%zu records read whole, %zu in %zu ranges",
			    whole.n, parts.n, nranges);
		check_prefix(&whole, &parts, whole.n, "in ranges");
		check_blob(&whole, &parts, "in ranges");
	} else {
		if (!op.failed)
			fuzz_fail("the whole read failed (%s), no range did",
			    ow.cause);
		if (strcmp(ow.cause, op.cause) != 0 ||
		    ow.err_file != op.err_file || ow.err_off != op.err_off)
			fuzz_fail("the whole read failed with \"%s\" (file "
			    "%zu, offset %llu), range %zu with \"%s\" (file "
			    "%zu, offset %llu)", ow.cause, ow.err_file,
			    (unsigned long long)ow.err_off, i, op.cause,
			    op.err_file, (unsigned long long)op.err_off);
		check_prefix(&whole, &parts,
		    whole.n < parts.n ? whole.n : parts.n, "in ranges");
	}

	free(ow.cause);
	free(op.cause);
	recs_free(&whole);
	recs_free(&again);
	recs_free(&parts);
	recs_free(&want);
	free(buf);
	arena_reset(&fuzz_batch.arena);
	return (0);
}
