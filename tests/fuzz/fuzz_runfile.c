/* forkflow: see LICENSE. */
/*
 * libFuzzer harness for the run files of shuffle.c, read and written.
 *
 * Read: the input, as it is, is a run file.  shuffle_open() (sealed) and
 * shuffle_open_len() (being written, valid up to a length) must either fail
 * with a cause or give runs whose buckets lie one after the other inside
 * the mapping, as the format lays them out.  Each bucket whose checksum
 * holds, of a file with strings, must decode whole with shuffle_next(),
 * every record inside the bucket; a bucket written must pass its check.
 * A length past the end of the file must be refused.
 *
 * Write: the input also describes runs of records, integers or strings,
 * written with runfile_append_recs() or runfile_append_sorted(), with a
 * crash after some of them (a torn run left behind, the file taken up
 * again at the checkpointed length), then sealed.  The file must read back,
 * before and after sealing, as exactly the runs written, each record in
 * the bucket of its key's partition when the run was written sorted.
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

/* The run file's header and a run's, as shuffle.c lays them out. */
#define HDR_LEN		40	/* struct runfile_hdr */
#define HDR_NBUCKETS	12	/* its nbuckets */
#define HDR_LENGTH	24	/* its length */
#define RUNHDR_LEN	24	/* struct run_hdr */
#define RUNENT_LEN	16	/* struct run_ent: a bucket's count and sum */

#define NPARTS_MAX	1024	/* as PARTITIONS_MAX */
#define WBUCKETS_MAX	4	/* buckets of a file written */
#define WRUNS_MAX	16	/* runs of a file written */

/* A run to write, and what each bucket must then hold. */
struct wrun {
	int		 sorted;	/* by runfile_append_sorted() */
	size_t		 n;
	struct pair	*given;		/* as passed */
	uint64_t	 count[WBUCKETS_MAX];
	struct pair	*want;		/* bucket after bucket */
};

/* Runs to write, of records of types kt and vt. */
struct wplan {
	unsigned int	 nbuckets;
	enum vtype	 kt;
	enum vtype	 vt;
	unsigned int	 runs;
	struct wrun	 run[WRUNS_MAX];
	unsigned int	 crash;		/* runs before the crash */
	size_t		 torn;		/* bytes of a run left after */
	struct arena	 a;		/* the strings */
};

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void		check_field(const char *, enum vtype, int64_t,
			    const char *, const char *);
static size_t		check_bucket(const char *,
			    const struct shuffle_file *, unsigned int,
			    unsigned int, const char *, size_t,
			    const struct wplan *);
static int		check_open(const char *, unsigned int, uint64_t,
			    uint64_t, const struct wplan *);
static void		check_read(const uint8_t *, size_t);
static int64_t		wplan_value(struct wplan *, enum vtype,
			    const uint8_t *, size_t, size_t *);
static void		wplan_make(struct wplan *, const uint8_t *, size_t);
static void		wplan_free(struct wplan *);
static int		wplan_append(struct runfile *, const struct wrun *);
static void		check_write(const struct wplan *);

static const char	*fuzz_path;	/* the input as a run file */
static const char	*fuzz_wpath;	/* a run file written */
static const char	*fuzz_wtmp;	/* it, while being written */

/* Make the scratch folder and name its files. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_scratch();
	fuzz_path = fuzz_file("in.run");
	fuzz_wpath = fuzz_file("out.run");
	fuzz_wtmp = fuzz_file("out.run.tmp");
	return (0);
}

/* A string decoded from a bucket must lie inside it, 4-aligned. */
static void
check_field(const char *path, enum vtype t, int64_t f, const char *lo,
    const char *hi)
{
	const char	*s = (const char *)(uintptr_t)f;

	if (t == VT_INT)
		return;
	if (s < lo || hi - s < 4 || (size_t)(hi - s) - 4 < str_of(f)->len ||
	    ((uintptr_t)s & 3) != 0)
		fuzz_fail("%s: a string of %u bytes at %td, outside its "
		    "bucket [0, %td)", path, (unsigned int)(hi - s >= 4 ?
		    str_of(f)->len : 0), s - lo, hi - lo);
}

/*
 * Decode bucket b of run r, bytes at p, of a file with strings: as the
 * file was opened, it must decode whole; with want, to the records
 * written.  Returns the number of records.
 */
static size_t
check_bucket(const char *path, const struct shuffle_file *sf, unsigned int r,
    unsigned int b, const char *p, size_t bytes, const struct wplan *want)
{
	const struct wrun	*wr = want != NULL ? &want->run[r] : NULL;
	const struct pair	*wp = NULL;
	const char		*q = p, *end = p + bytes;
	struct pair		 rec;
	size_t			 n = 0, i;
	int			 got;

	if (wr != NULL) {
		wp = wr->want;
		for (i = 0; i < b; i++)
			wp += wr->count[i];
	}
	while ((got = shuffle_next(sf, &q, end, &rec)) == 1) {
		if (q > end)
			fuzz_fail("%s: run %u bucket %u: a record past its "
			    "end", path, r, b);
		check_field(path, sf->kt, rec.k, p, end);
		check_field(path, sf->vt, rec.v, p, end);
		if (wr != NULL && (n >= wr->count[b] ||
		    !val_eq(sf->kt, rec.k, wp[n].k) ||
		    !val_eq(sf->vt, rec.v, wp[n].v)))
			fuzz_fail("%s: run %u bucket %u: record %zu is not "
			    "the one written", path, r, b, n);
		n++;
	}
	if (got != 0)
		fuzz_fail("%s: run %u bucket %u: damaged after %zu records, "
		    "yet the file was opened", path, r, b, n);
	if (wr != NULL && n != wr->count[b])
		fuzz_fail("%s: run %u bucket %u: %zu records, %llu written",
		    path, r, b, n, (unsigned long long)wr->count[b]);
	return (n);
}

/*
 * Open the run file at path (fsize bytes) for nparts partitions, sealed
 * (len 0) or valid up to len, and check what it gives: the buckets of each
 * run right after its header and counts, one after the other, ending at
 * the end of what is valid.  With want, the runs must be those written.
 * Returns 0 if the file opened, -1 if not.
 */
static int
check_open(const char *path, unsigned int nparts, uint64_t len,
    uint64_t fsize, const struct wplan *want)
{
	struct shuffle_file	 sf;
	const struct pair	*seg, *wp;
	const char		*bp;
	volatile uint64_t	 sink = 0;
	uint64_t		 limit, expect, off, nrec = 0;
	size_t			 cnt, bytes, i;
	unsigned int		 r, b;
	char			*cause = NULL;

	if (shuffle_open_len(&sf, path, nparts, len, &cause) != 0) {
		if (cause == NULL)
			fuzz_fail("%s: failed without a cause", path);
		if (sf.map != NULL || sf.runoff != NULL || sf.runcount != NULL)
			fuzz_fail("%s: failed but left a mapping", path);
		free(cause);
		return (-1);
	}
	if (cause != NULL)
		fuzz_fail("%s: opened, yet a cause is set", path);
	if (len > fsize)
		fuzz_fail("%s: valid up to %llu accepted, the file has %llu",
		    path, (unsigned long long)len,
		    (unsigned long long)fsize);
	if (sf.len != fsize)
		fuzz_fail("%s: mapped %zu bytes of %llu", path, sf.len,
		    (unsigned long long)fsize);
	if (sf.nparts != nparts || sf.schema > 3 ||
	    sf.kt != (enum vtype)(sf.schema & 1) ||
	    sf.vt != (enum vtype)(sf.schema >> 1))
		fuzz_fail("%s: %u buckets of schema %u (%d, %d), asked for "
		    "%u", path, sf.nparts, sf.schema, sf.kt, sf.vt, nparts);
	if (want != NULL && (sf.kt != want->kt || sf.vt != want->vt))
		fuzz_fail("%s: types %d, %d, written %d, %d", path, sf.kt,
		    sf.vt, want->kt, want->vt);
	limit = len > 0 ? len : fsize;

	expect = HDR_LEN;
	for (r = 0; r < sf.runs; r++) {
		expect += RUNHDR_LEN + (uint64_t)nparts * RUNENT_LEN;
		for (b = 0; b < nparts; b++) {
			i = (size_t)r * nparts + b;
			off = sf.runoff[i];
			bytes = (size_t)(sf.schema == 0 ? sf.runcount[i] *
			    sizeof(struct pair) : sf.runcount[i]);
			if (off != expect)
				fuzz_fail("%s: run %u bucket %u at %llu, "
				    "expected at %llu", path, r, b,
				    (unsigned long long)off,
				    (unsigned long long)expect);
			if (bytes > limit - off)
				fuzz_fail("%s: run %u bucket %u: %zu bytes "
				    "at %llu, past %llu", path, r, b, bytes,
				    (unsigned long long)off,
				    (unsigned long long)limit);
			expect += bytes;
			if (sf.schema != 0 && (bytes & 3) != 0)
				fuzz_fail("%s: run %u bucket %u: %zu bytes",
				    path, r, b, bytes);
			bp = shuffle_bucket(&sf, r, b, &bytes);
			if (bp == NULL) {
				if (want != NULL)
					fuzz_fail("%s: run %u bucket %u: its "
					    "checksum fails as written", path,
					    r, b);
				if (sf.bad != off)
					fuzz_fail("%s: run %u bucket %u: "
					    "damage at %llu, not at it", path,
					    r, b, (unsigned long long)sf.bad);
				continue;
			}
			if ((uint64_t)(bp - sf.map) != off)
				fuzz_fail("%s: run %u bucket %u: the bucket "
				    "is not where its table says", path, r, b);
			if (sf.schema != 0) {
				nrec += check_bucket(path, &sf, r, b, bp,
				    bytes, want);
				continue;
			}
			seg = shuffle_segment(&sf, r, b, &cnt);
			if ((const char *)seg != bp ||
			    bytes != cnt * sizeof *seg)
				fuzz_fail("%s: run %u bucket %u: segment and "
				    "bucket differ", path, r, b);
			for (i = 0; i < cnt; i++)
				sink ^= (uint64_t)(seg[i].k ^ seg[i].v);
			nrec += cnt;
			if (want == NULL)
				continue;
			if (r >= want->runs || cnt != want->run[r].count[b])
				fuzz_fail("%s: run %u bucket %u: %zu records, "
				    "not as written", path, r, b, cnt);
			wp = want->run[r].want;
			for (i = 0; i < b; i++)
				wp += want->run[r].count[i];
			if (cnt > 0 && memcmp(seg, wp, cnt * sizeof *seg) != 0)
				fuzz_fail("%s: run %u bucket %u: not the "
				    "records written", path, r, b);
		}
	}
	if (expect != limit)
		fuzz_fail("%s: runs end at %llu, the file at %llu", path,
		    (unsigned long long)expect, (unsigned long long)limit);
	if (want != NULL && nrec != sf.records)
		fuzz_fail("%s: %llu records decode, the runs say %llu", path,
		    (unsigned long long)nrec, (unsigned long long)sf.records);
	if (want != NULL && sf.runs != want->runs)
		fuzz_fail("%s: %u runs, %u written", path, sf.runs,
		    want->runs);
	(void)sink;
	shuffle_close(&sf);
	return (0);
}

/* The input as a run file, read for as many partitions as it says. */
static void
check_read(const uint8_t *data, size_t size)
{
	uint64_t	 hlen = 0, len;
	uint32_t	 nb = 0;
	unsigned int	 nparts;

	fuzz_write_file(fuzz_path, data, size);
	if (size >= HDR_NBUCKETS + sizeof nb)
		memcpy(&nb, data + HDR_NBUCKETS, sizeof nb);
	nparts = nb >= 1 && nb <= NPARTS_MAX ? nb : 1 + size % 4;
	check_open(fuzz_path, nparts, 0, size, NULL);

	/* Being written: up to its length field if that fits, or whole. */
	if (size >= HDR_LENGTH + sizeof hlen)
		memcpy(&hlen, data + HDR_LENGTH, sizeof hlen);
	len = hlen > 0 && hlen <= size ? hlen : size;
	if (len > 0)
		check_open(fuzz_path, nparts, len, size, NULL);
	if (check_open(fuzz_path, nparts, (uint64_t)size + 1, size,
	    NULL) == 0)
		fuzz_fail("valid up to past the end accepted");
	unlink(fuzz_path);
}

/* A key or value from the input: a small integer, or a short string. */
static int64_t
wplan_value(struct wplan *w, enum vtype t, const uint8_t *data, size_t size,
    size_t *cur)
{
	uint8_t	 c = *cur < size ? data[(*cur)++] : 0;
	size_t	 len;

	if (t == VT_INT)
		return ((int64_t)(int8_t)c);
	len = c % 8;
	if (len > size - *cur)
		len = size - *cur;
	*cur += len;
	return (str_make(&w->a, (const char *)data + *cur - len, len));
}

/*
 * Runs to write, from the input.  Byte 0: buckets (bits 0-1), the key and
 * value types (bits 2-3), the run of the crash (bits 4-7).  Then each run
 * is a byte (bit 7: written sorted; the rest: counts per bucket, or the
 * number of records for a sorted run), and a byte or a short string per
 * key and value.  The last byte also gives the torn bytes.
 */
static void
wplan_make(struct wplan *w, const uint8_t *data, size_t size)
{
	struct wrun	*wr;
	size_t		 cur = 1, i, j, at;
	unsigned int	 b;
	uint8_t		 c0 = size > 0 ? data[0] : 0, c;

	memset(w, 0, sizeof *w);
	w->nbuckets = 1 + (c0 & 3);
	w->kt = (c0 & 4) ? VT_STR : VT_INT;
	w->vt = (c0 & 8) ? VT_STR : VT_INT;
	while (cur < size && w->runs < WRUNS_MAX) {
		wr = &w->run[w->runs++];
		c = data[cur++];
		wr->sorted = (c & 0x80) != 0;
		if (wr->sorted)
			wr->n = c & 7;
		else {
			for (b = 0; b < w->nbuckets; b++) {
				wr->count[b] = (c >> (2 * b)) & 3;
				wr->n += wr->count[b];
			}
		}
		wr->given = xcalloc(wr->n + 1, sizeof *wr->given);
		for (i = 0; i < wr->n; i++) {
			wr->given[i].k = wplan_value(w, w->kt, data, size,
			    &cur);
			wr->given[i].v = wplan_value(w, w->vt, data, size,
			    &cur);
		}
		wr->want = xcalloc(wr->n + 1, sizeof *wr->want);
		if (!wr->sorted) {
			memcpy(wr->want, wr->given, wr->n * sizeof *wr->want);
			continue;
		}
		/* Each record in its key's bucket, in the order given. */
		for (i = 0; i < wr->n; i++)
			wr->count[part_of(w->kt, wr->given[i].k,
			    w->nbuckets)]++;
		at = 0;
		for (b = 0; b < w->nbuckets; b++) {
			for (j = 0; j < wr->n; j++) {
				if (part_of(w->kt, wr->given[j].k,
				    w->nbuckets) == b)
					wr->want[at++] = wr->given[j];
			}
		}
	}
	w->crash = (c0 >> 4) % (w->runs + 1);
	w->torn = size > 1 ? (size_t)(data[size - 1] % 9) * 7 : 0;
}

static void
wplan_free(struct wplan *w)
{
	unsigned int	r;

	for (r = 0; r < w->runs; r++) {
		free(w->run[r].given);
		free(w->run[r].want);
	}
	arena_free(&w->a);
}

/* Append one run as the plan says. */
static int
wplan_append(struct runfile *rf, const struct wrun *wr)
{
	if (wr->sorted)
		return (runfile_append_sorted(rf, wr->given, wr->n));
	return (runfile_append_recs(rf, wr->given, wr->count));
}

/*
 * Write the runs of w, with a crash after w->crash of them that leaves
 * w->torn bytes of the next behind; take the file up again and finish it.
 */
static void
check_write(const struct wplan *w)
{
	struct runfile	 rf;
	uint64_t	 len;
	unsigned int	 r, runs;
	int		 fd;
	static const uint8_t junk[64] = { 0x52, 0x55, 0x4e, 0x31, 0xff };

	if (runfile_open_typed(&rf, fuzz_wpath, w->nbuckets, w->kt, w->vt, 0,
	    0) != 0)
		fuzz_fail("runfile_open: %s", strerror(errno));
	for (r = 0; r < w->crash; r++) {
		if (wplan_append(&rf, &w->run[r]) != 0)
			fuzz_fail("runfile_append: %s", strerror(errno));
	}
	len = rf.len;
	runs = rf.runs;
	if (check_open(fuzz_wtmp, w->nbuckets, len, len, NULL) != 0)
		fuzz_fail("a run file being written does not open");

	/* The crash: a torn run, and the file given up. */
	if (w->torn > 0 && write_all(rf.fd, junk, w->torn) != 0)
		fuzz_fail("write: %s", strerror(errno));
	runfile_abort(&rf);

	/* Not with other buckets or types, nor past what the file holds. */
	if (runfile_open_typed(&rf, fuzz_wpath, w->nbuckets + 1, w->kt, w->vt,
	    len, runs) == 0)
		fuzz_fail("runfile_open took up a file of %u buckets for %u",
		    w->nbuckets, w->nbuckets + 1);
	if (runfile_open_typed(&rf, fuzz_wpath, w->nbuckets, !w->kt, w->vt,
	    len, runs) == 0)
		fuzz_fail("runfile_open took up a file of other types");
	if (runfile_open_typed(&rf, fuzz_wpath, w->nbuckets, w->kt, w->vt,
	    len + w->torn + 1, runs) == 0)
		fuzz_fail("runfile_open took up a file of %llu bytes at %llu",
		    (unsigned long long)(len + w->torn),
		    (unsigned long long)(len + w->torn + 1));

	if (runfile_open_typed(&rf, fuzz_wpath, w->nbuckets, w->kt, w->vt,
	    len, runs) != 0)
		fuzz_fail("runfile_open at %llu: %s",
		    (unsigned long long)len, strerror(errno));
	for (r = w->crash; r < w->runs; r++) {
		if (wplan_append(&rf, &w->run[r]) != 0)
			fuzz_fail("runfile_append: %s", strerror(errno));
	}
	if (rf.runs != w->runs)
		fuzz_fail("%u runs written, %u counted", w->runs, rf.runs);
	if (check_open(fuzz_wtmp, w->nbuckets, rf.len, rf.len, w) != 0)
		fuzz_fail("a run file being written does not open");
	len = rf.len;
	if (runfile_seal(&rf, 0) != 0)
		fuzz_fail("runfile_seal: %s", strerror(errno));
	if ((fd = open(fuzz_wtmp, O_RDONLY)) != -1) {
		close(fd);
		fuzz_fail("%s is left after sealing", fuzz_wtmp);
	}
	if (check_open(fuzz_wpath, w->nbuckets, 0, len, w) != 0)
		fuzz_fail("a sealed run file does not open");
	unlink(fuzz_wpath);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wplan	 w;

	check_read(data, size);
	wplan_make(&w, data, size);
	check_write(&w);
	wplan_free(&w);
	return (0);
}
