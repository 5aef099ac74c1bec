/* forkflow: see LICENSE. */
/*
 * Tests of shuffle.c: the partition of a key (in range, the same in every
 * process and run, well spread), the round trip of an aggregation table
 * through a shuffle file, and the refusal of damaged files with a cause
 * instead of a crash.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include <xxhash.h>

#include "forkflow.h"
#include "check_forkflow.h"

/* The layout of a shuffle file, as the tests expect it. */
/* The run file layout (shuffle.c), written out independently. */
#define SHDR_SIZE	40	/* magic[8], 4 x uint32, uint64 length, sum */
#define RHDR_SIZE	24	/* uint32 magic, buckets, uint64 n, sum */
#define SCNT_SIZE	16	/* uint64 count and sum per bucket */
#define OFF_VERSION	8
#define OFF_PARTS	12
#define OFF_RUNS	16
#define OFF_LENGTH	24
#define OFF_HSUM	32	/* XXH3 of the 32 bytes before it */
#define OFF_RUN		SHDR_SIZE	/* the first run's header */
#define OFF_RSUM	(OFF_RUN + 16)
#define OFF_COUNTS	(SHDR_SIZE + RHDR_SIZE)

static char	shuf_tmpdir[256];

#define tmp_path(...)	ck_path(shuf_tmpdir, __VA_ARGS__)

static unsigned int ref_partition(int64_t, unsigned int);
static void	shuf_setup(void);
static void	shuf_teardown(void);
static void	check_round_trip(unsigned int, size_t, uint64_t);
static void	check_refused(const char *, const void *, size_t,
		    unsigned int, const char *);
static void	put_u32(char *, size_t, uint32_t);
static void	put_u64(char *, size_t, uint64_t);
static void	reseal(char *, unsigned int);

/*
 * The partition as documented: the MurmurHash3 finaliser, then the high
 * word of h * P, computed here with 32-bit halves rather than __int128.
 */
static unsigned int
ref_partition(int64_t k, unsigned int nparts)
{
	uint64_t	h = (uint64_t)k, lo, hi, mid;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	lo = (h & 0xffffffffULL) * nparts;
	hi = (h >> 32) * nparts;
	mid = hi + (lo >> 32);
	return ((unsigned int)(mid >> 32));
}

START_TEST(test_shuffle_partition_range)
{
	static const unsigned int nparts[] = { 1, 2, 3, 7, 8, 64, 1000, 1024 };
	static const int64_t keys[] = { INT64_MIN, INT64_MIN + 1, -1, 0, 1,
	    INT64_MAX, INT64_MAX - 1, 1LL << 32, -(1LL << 62) };
	uint64_t	s = 11;
	size_t		i, j;
	int64_t		k;
	unsigned int	p;

	for (i = 0; i < sizeof nparts / sizeof nparts[0]; i++) {
		for (j = 0; j < 20000 + sizeof keys / sizeof keys[0]; j++) {
			k = j < sizeof keys / sizeof keys[0] ? keys[j] :
			    (int64_t)ck_rand(&s);
			p = shuffle_partition(k, nparts[i]);
			if (p >= nparts[i] || p != ref_partition(k, nparts[i]))
				ck_abort_msg("key %" PRId64 ", P %u: partition "
				    "%u, expected %u", k, nparts[i], p,
				    ref_partition(k, nparts[i]));
		}
	}
	for (j = 0; j < 1000; j++) {
		if (shuffle_partition((int64_t)j - 500, 1) != 0)
			ck_abort_msg("P 1 gave a partition other than 0");
	}
}
END_TEST

/*
 * Fixed values: a resumed job must route keys as the first run did, so
 * these may change only with the shuffle file format.
 */
START_TEST(test_shuffle_partition_stable)
{
	static const struct {
		int64_t		k;
		unsigned int	p2, p7, p1024;
	} golden[] = {
		{ 0,		0, 0, 0 },
		{ 1,		1, 4, 721 },
		{ -1,		0, 2, 402 },
		{ 42,		1, 3, 516 },
		{ INT64_MIN,	1, 3, 573 },
		{ INT64_MAX,	1, 4, 686 },
		{ 1000000,	0, 1, 272 },
	};
	size_t	i;

	for (i = 0; i < sizeof golden / sizeof golden[0]; i++) {
		ck_assert_uint_eq(shuffle_partition(golden[i].k, 2),
		    golden[i].p2);
		ck_assert_uint_eq(shuffle_partition(golden[i].k, 7),
		    golden[i].p7);
		ck_assert_uint_eq(shuffle_partition(golden[i].k, 1024),
		    golden[i].p1024);
	}
}
END_TEST

/* Keys 1..100000 spread over P partitions, each within 10% of the mean. */
START_TEST(test_shuffle_partition_spread)
{
	static const unsigned int nparts[] = { 2, 3, 7, 16, 50 };
	static const unsigned int strides[] = { 1, 2, 10, 1024, 1u << 20 };
	unsigned int	count[64], p, i, t;
	int64_t		k, n = 100000;
	double		mean;

	for (t = 0; t < sizeof strides / sizeof strides[0]; t++) {
		for (i = 0; i < sizeof nparts / sizeof nparts[0]; i++) {
			memset(count, 0, sizeof count);
			for (k = 1; k <= n; k++)
				count[shuffle_partition(k * strides[t],
				    nparts[i])]++;
			mean = (double)n / nparts[i];
			for (p = 0; p < nparts[i]; p++)
				ck_assert_msg(count[p] > mean * 0.9 &&
				    count[p] < mean * 1.1, "stride %u, P %u: "
				    "partition %u has %u keys, mean %.0f",
				    strides[t], nparts[i], p, count[p], mean);
		}
	}
}
END_TEST

static void
shuf_setup(void)
{
	ck_tmpdir(shuf_tmpdir, sizeof shuf_tmpdir, "check_shuffle");
}

static void
shuf_teardown(void)
{
	rm_tree(shuf_tmpdir);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

/*
 * Aggregate nkeys keys (several values each) into a table, write it for
 * nparts partitions and read every segment back: each key must be in
 * segment shuffle_partition(k) with its sum, and none lost or doubled.
 */
static void
check_round_trip(unsigned int nparts, size_t nkeys, uint64_t seed)
{
	struct shuffle_file	 sf;
	struct agg		 a;
	const struct pair	*seg;
	struct stat		 st;
	int64_t			*keys, *sums;
	uint8_t			*seen;
	uint64_t		 s = seed, bytes;
	size_t			 i, j, n, nuniq, count, total = 0;
	unsigned int		 p;
	char			*path, *cause = NULL;
	int64_t			*hit;

	keys = xcalloc(nkeys + 1, sizeof *keys);
	sums = xcalloc(nkeys + 1, sizeof *sums);
	seen = xcalloc(nkeys + 1, 1);
	for (i = 0; i < nkeys; i++)
		keys[i] = (int64_t)ck_rand(&s) >> (i % 50);
	if (nkeys > 2) {
		keys[0] = INT64_MIN;
		keys[1] = INT64_MAX;
		keys[2] = 0;
	}
	qsort(keys, nkeys, sizeof *keys, cmp_i64);
	for (i = nuniq = 0; i < nkeys; i++) {
		if (nuniq == 0 || keys[i] != keys[nuniq - 1])
			keys[nuniq++] = keys[i];
	}

	agg_init(&a, FN_SUM);
	for (i = 0; i < 3 * nuniq; i++) {
		int64_t	x = (int64_t)ck_rand(&s);

		j = (size_t)(ck_rand(&s) % nuniq);
		agg_add(&a, keys[j], x);
		sums[j] = (int64_t)((uint64_t)sums[j] + (uint64_t)x);
		seen[j] = 1;
	}
	for (j = 0; j < nuniq; j++)
		total += seen[j];

	path = tmp_path("rt-%u-%zu", nparts, nkeys);
	ck_assert_int_eq(shuffle_write_agg(path, nparts, &a, 0, &bytes), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, bytes);
	ck_assert_uint_eq(bytes, SHDR_SIZE + RHDR_SIZE +
	    (uint64_t)nparts * SCNT_SIZE + total * sizeof(struct pair));
	ck_assert_int_eq(shuffle_open(&sf, path, nparts, &cause), 0);
	ck_assert_ptr_null(cause);
	ck_assert_uint_eq(sf.runs, 1);

	memset(seen, 0, nkeys + 1);
	count = 0;
	for (p = 0; p < nparts; p++) {
		seg = shuffle_segment(&sf, 0, p, &n);
		/* Plain tests: every ck_assert costs Check a write(2). */
		for (i = 0; i < n; i++) {
			if (shuffle_partition(seg[i].k, nparts) != p)
				ck_abort_msg("key %" PRId64 " in segment %u",
				    seg[i].k, p);
			hit = bsearch(&seg[i].k, keys, nuniq, sizeof *keys,
			    cmp_i64);
			if (hit == NULL)
				ck_abort_msg("key %" PRId64 " never added",
				    seg[i].k);
			j = (size_t)(hit - keys);
			if (seen[j])
				ck_abort_msg("key %" PRId64 " twice", seg[i].k);
			seen[j] = 1;
			if (seg[i].v != sums[j])
				ck_abort_msg("key %" PRId64 ": %" PRId64
				    ", expected %" PRId64, seg[i].k, seg[i].v,
				    sums[j]);
		}
		count += n;
	}
	ck_assert_uint_eq(count, total);
	shuffle_close(&sf);
	ck_assert_ptr_null(sf.map);
	agg_free(&a);
	free(path);
	free(keys);
	free(sums);
	free(seen);
}

START_TEST(test_shuffle_round_trip)
{
	check_round_trip(1, 1000, 1);
	check_round_trip(2, 1, 2);
	check_round_trip(7, 0, 3);
	check_round_trip(7, 3, 4);
	check_round_trip(7, 50000, 5);
	check_round_trip(64, 20000, 6);
	check_round_trip(1024, 5000, 7);
}
END_TEST

/* The one record of key INT64_MIN (held apart in the table) is kept. */
START_TEST(test_shuffle_key_min)
{
	struct shuffle_file	 sf;
	struct agg		 a;
	const struct pair	*seg;
	uint64_t		 bytes;
	size_t			 n;
	unsigned int		 p;
	char			*path, *cause = NULL;

	agg_init(&a, FN_COUNT);
	agg_add(&a, INT64_MIN, 5);
	path = tmp_path("keymin");
	ck_assert_int_eq(shuffle_write_agg(path, 5, &a, 1, &bytes), 0);
	ck_assert_int_eq(shuffle_open(&sf, path, 5, &cause), 0);
	for (p = 0; p < 5; p++) {
		seg = shuffle_segment(&sf, 0, p, &n);
		if (p == shuffle_partition(INT64_MIN, 5)) {
			ck_assert_uint_eq(n, 1);
			ck_assert_int_eq(seg[0].k, INT64_MIN);
			ck_assert_int_eq(seg[0].v, 5);
		} else
			ck_assert_uint_eq(n, 0);
	}
	shuffle_close(&sf);
	agg_free(&a);
	free(path);
}
END_TEST

/* Expect shuffle_open to refuse data written at path, saying why. */
static void
check_refused(const char *path, const void *data, size_t len,
    unsigned int nparts, const char *why)
{
	struct shuffle_file	 sf;
	char			*cause = NULL, *want;

	if (data != NULL)
		ck_spew(path, data, len);
	ck_assert_int_eq(shuffle_open(&sf, path, nparts, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_null(sf.map);
	xasprintf(&want, "%s: %s", path, why);
	ck_assert_str_eq(cause, want);
	free(want);
	free(cause);
}

static void
put_u32(char *buf, size_t off, uint32_t x)
{
	memcpy(buf + off, &x, sizeof x);
}

static void
put_u64(char *buf, size_t off, uint64_t x)
{
	memcpy(buf + off, &x, sizeof x);
}

/*
 * Sum again the header and the first run's table of a file of one run
 * and nparts buckets, as the format says: the header's first 32 bytes;
 * the table, seeded with the run's records, magic and buckets.
 */
static void
reseal(char *buf, unsigned int nparts)
{
	uint64_t	n, seed;
	uint32_t	magic, nb;

	put_u64(buf, OFF_HSUM, XXH3_64bits(buf, OFF_HSUM));
	memcpy(&magic, buf + OFF_RUN, 4);
	memcpy(&nb, buf + OFF_RUN + 4, 4);
	memcpy(&n, buf + OFF_RUN + 8, 8);
	seed = n ^ (uint64_t)magic << 32 ^ nb;
	put_u64(buf, OFF_RSUM, XXH3_64bits_withSeed(buf + OFF_COUNTS,
	    (size_t)nparts * SCNT_SIZE, seed));
}

START_TEST(test_shuffle_corrupt)
{
	struct shuffle_file	 sf;
	struct agg		 a;
	uint64_t		 bytes;
	char			*good, *bad, *path, *copy, *cause, *why;
	size_t			 len, i, at, data;
	unsigned int		 p, hit;

	agg_init(&a, FN_SUM);
	for (i = 0; i < 100; i++)
		agg_add(&a, (int64_t)i, (int64_t)i * 10);
	path = tmp_path("good");
	ck_assert_int_eq(shuffle_write_agg(path, 4, &a, 0, &bytes), 0);
	good = ck_slurp(path, &len);
	data = SHDR_SIZE + RHDR_SIZE + 4 * SCNT_SIZE;
	ck_assert_uint_eq(len, data + 100 * 16);
	ck_assert(memcmp(good, "FFRUNS3", 8) == 0);
	bad = xmalloc(len);
	copy = tmp_path("bad");

	/* Whole, but for other partitions, or not a run file. */
	check_refused(path, NULL, 0, 5, "not a run file of this job");
	check_refused(path, NULL, 0, 3, "not a run file of this job");
	memcpy(bad, good, len);
	bad[0] = 'X';
	reseal(bad, 4);
	check_refused(copy, bad, len, 4, "not a run file of this job");
	memcpy(bad, good, len);
	put_u32(bad, OFF_VERSION, 2);
	reseal(bad, 4);
	check_refused(copy, bad, len, 4, "not a run file of this job");

	/* Any byte of the header changed, and its sum fails. */
	for (at = 0; at < SHDR_SIZE; at++) {
		memcpy(bad, good, len);
		bad[at] ^= 0x10;
		check_refused(copy, bad, len, 4,
		    "damaged at offset 0 (its header)");
	}

	/* Not sealed, or not as long as sealed. */
	memcpy(bad, good, len);
	put_u32(bad, OFF_RUNS, 0);
	reseal(bad, 4);
	xasprintf(&why, "damaged at offset %d (a run's table)", SHDR_SIZE);
	check_refused(copy, bad, len, 4, why);
	free(why);
	memcpy(bad, good, len);
	put_u64(bad, OFF_LENGTH, 0);	/* never sealed */
	reseal(bad, 4);
	check_refused(copy, bad, len, 4, "damaged at offset 0");
	memcpy(bad, good, len);
	put_u64(bad, OFF_LENGTH, len + 16);
	reseal(bad, 4);
	xasprintf(&why, "truncated at offset %zu", len);
	check_refused(copy, bad, len, 4, why);
	free(why);
	xasprintf(&why, "truncated at offset %zu", len - 1);
	check_refused(copy, good, len - 1, 4, why);
	free(why);
	check_refused(copy, good, 0, 4, "truncated at 0 bytes");
	xasprintf(&why, "truncated at %d bytes", SHDR_SIZE - 1);
	check_refused(copy, good, SHDR_SIZE - 1, 4, why);
	free(why);

	/* A run's header and table: each byte under the table's sum, and
	 * sums made to hold over counts that do not add up. */
	xasprintf(&why, "damaged at offset %d (a run's table)", OFF_RUN);
	for (at = OFF_RUN; at < data; at++) {
		memcpy(bad, good, len);
		bad[at] ^= 0x01;
		check_refused(copy, bad, len, 4, why);
	}
	memcpy(bad, good, len);
	put_u32(bad, OFF_RUNS, 2);	/* claims a second run */
	reseal(bad, 4);
	free(why);
	xasprintf(&why, "damaged at offset %zu (a run's table)", len);
	check_refused(copy, bad, len, 4, why);
	free(why);
	xasprintf(&why, "damaged at offset %d (a run's table)", OFF_RUN);
	memcpy(bad, good, len);
	put_u64(bad, OFF_RUN + 8, 99);	/* run records */
	reseal(bad, 4);
	check_refused(copy, bad, len, 4, why);
	memcpy(bad, good, len);
	put_u64(bad, OFF_COUNTS + 2 * SCNT_SIZE, 101);
	reseal(bad, 4);
	check_refused(copy, bad, len, 4, why);
	memcpy(bad, good, len);
	put_u64(bad, OFF_COUNTS, UINT64_MAX);
	reseal(bad, 4);
	check_refused(copy, bad, len, 4, why);
	memcpy(bad, good, len);
	put_u64(bad, OFF_COUNTS + 1 * SCNT_SIZE, UINT64_MAX / 8);
	reseal(bad, 4);
	check_refused(copy, bad, len, 4, why);
	free(why);

	/*
	 * Each byte of the records: the file opens, and the check of the
	 * bucket that holds it fails, at that bucket, and of no other.
	 */
	for (at = data; at < len; at++) {
		memcpy(bad, good, len);
		bad[at] ^= 0x80;
		ck_spew(copy, bad, len);
		cause = NULL;
		ck_assert_int_eq(shuffle_open(&sf, copy, 4, &cause), 0);
		for (p = 0, hit = 0; p < 4; p++) {
			if (shuffle_check(&sf, 0, p) == 0)
				continue;
			hit++;
			ck_assert_uint_le(sf.bad, at);
			ck_assert_ptr_null(shuffle_segment(&sf, 0, p, &i));
		}
		ck_assert_uint_eq(hit, 1);
		ck_assert_int_eq(shuffle_check_all(&sf), -1);
		shuffle_close(&sf);
	}

	/* A file that is not there. */
	free(copy);
	copy = tmp_path("absent");
	check_refused(copy, NULL, 0, 4, "No such file or directory");

	agg_free(&a);
	free(good);
	free(bad);
	free(copy);
	free(path);
}
END_TEST

/*
 * A file still being written is read up to the length its checkpoint
 * gives: runs below it are whole, a torn run past it is ignored.
 */
START_TEST(test_shuffle_open_len)
{
	struct shuffle_file	 sf;
	struct runfile		 rf;
	struct pair		 pr[3] = { { 1, 10 }, { 2, 20 }, { 3, 30 } };
	const struct pair	*seg;
	uint64_t		 count = 3, mark;
	char			*path, *cause = NULL;
	size_t			 n;

	path = tmp_path("inprogress");
	ck_assert_int_eq(runfile_open(&rf, path, 1, 0, 0), 0);
	ck_assert_int_eq(runfile_append(&rf, pr, &count), 0);
	mark = rf.len;
	count = 2;
	ck_assert_int_eq(runfile_append(&rf, pr, &count), 0);
	ck_assert_uint_eq(rf.runs, 2);
	runfile_abort(&rf);
	free(path);
	path = tmp_path("inprogress.tmp");
	ck_assert_int_eq(shuffle_open_len(&sf, path, 1, mark, &cause), 0);
	ck_assert_uint_eq(sf.runs, 1);
	seg = shuffle_segment(&sf, 0, 0, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(seg[2].v, 30);
	shuffle_close(&sf);
	ck_assert_int_eq(shuffle_open_len(&sf, path, 1, mark + 3, &cause),
	    -1);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	free(path);

	/* Resuming truncates to the mark and appends after it. */
	path = tmp_path("inprogress");
	ck_assert_int_eq(runfile_open(&rf, path, 1, mark, 1), 0);
	count = 1;
	ck_assert_int_eq(runfile_append(&rf, pr + 2, &count), 0);
	ck_assert_int_eq(runfile_seal(&rf, 0), 0);
	cause = NULL;
	ck_assert_int_eq(shuffle_open(&sf, path, 1, &cause), 0);
	ck_assert_uint_eq(sf.runs, 2);
	seg = shuffle_segment(&sf, 1, 0, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(seg[0].k, 3);
	shuffle_close(&sf);
	free(path);
}
END_TEST


/*
 * The ranges a host reads (shuffle_extents), written at their offsets into
 * a file of the same length, make a file the reader opens: its kept
 * buckets give the same records, the others fail their sums (they were not
 * sent), and the ranges hold less than the file.
 */
START_TEST(test_shuffle_extents)
{
	struct shuffle_file	 sf, part;
	struct runfile		 rf;
	struct pair		 pr[64];
	const struct pair	*a, *b;
	uint64_t		 counts[5], *ext, sent = 0;
	uint8_t			 keep = (1u << 1) | (1u << 3);
	char			*path, *copy, *cause = NULL;
	size_t			 n, na, nb, i, k;
	unsigned int		 r, q;
	int			 fd;

	path = tmp_path("extents");
	ck_assert_int_eq(runfile_open(&rf, path, 5, 0, 0), 0);
	for (r = 0; r < 3; r++) {
		for (k = 0, q = 0; q < 5; q++) {
			counts[q] = (r + q) % 3 + 1;
			for (i = 0; i < counts[q]; i++, k++) {
				pr[k].k = (int64_t)(r * 100 + q * 10 + i);
				pr[k].v = -(int64_t)k - 1;
			}
		}
		ck_assert_int_eq(runfile_append(&rf, pr, counts), 0);
	}
	ck_assert_int_eq(runfile_seal(&rf, 0), 0);
	ck_assert_int_eq(shuffle_open(&sf, path, 5, &cause), 0);
	n = shuffle_extents(&sf, &keep, &ext);
	ck_assert_uint_gt(n, 0);
	copy = tmp_path("extents.part");
	fd = open(copy, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(ftruncate(fd, (off_t)sf.len), 0);
	for (i = 0; i < n; i++) {
		ck_assert_uint_le(ext[2 * i] + ext[2 * i + 1], sf.len);
		if (i > 0)
			ck_assert_uint_gt(ext[2 * i], ext[2 * i - 2] +
			    ext[2 * i - 1]);
		ck_assert_int_eq(pwrite(fd, sf.map + ext[2 * i],
		    (size_t)ext[2 * i + 1], (off_t)ext[2 * i]),
		    (ssize_t)ext[2 * i + 1]);
		sent += ext[2 * i + 1];
	}
	close(fd);
	ck_assert_uint_lt(sent, sf.len);
	ck_assert_int_eq(shuffle_open(&part, copy, 5, &cause), 0);
	ck_assert_uint_eq(part.runs, 3);
	for (r = 0; r < 3; r++) {
		for (q = 0; q < 5; q++) {
			if (!(keep & (1u << q))) {
				ck_assert_int_eq(shuffle_check(&part, r, q), -1);
				continue;
			}
			a = shuffle_segment(&sf, r, q, &na);
			b = shuffle_segment(&part, r, q, &nb);
			ck_assert_ptr_nonnull(b);
			ck_assert_uint_eq(na, nb);
			ck_assert_int_eq(memcmp(a, b, na * sizeof *a), 0);
		}
	}
	shuffle_close(&part);
	shuffle_close(&sf);
	free(ext);
	free(copy);
	free(path);
}
END_TEST

/*
 * Which host was lost, from the lines that mpirun and the ranks write when
 * a host is lost (as Open MPI 4.1 and forkflow word them); other lines
 * name none.
 */
START_TEST(test_mpi_lost_in)
{
	static const struct {
		const char	*line, *want;
	} t[] = {
		{ "mpirun noticed that process rank 1 with PID 703 on node "
		  "node2 exited on signal 9 (Killed).",
		  "rank 1 on host node2 was killed by signal 9" },
		{ "forkflow: host node1: stage 2: host node3 (rank 2) has not "
		  "been heard from for 5 s; the job is aborted on every host",
		  "host node3 (rank 2) was not heard from" },
		{ "  Remote daemon: [[58232,0],3] on node node4",
		  "Open MPI lost its daemon on host node4" },
		{ "forkflow: host node1: the job failed; it is aborted on "
		  "every host (the job directory /j/rank-0 is kept)", NULL },
		{ "forkflow: host node1 (rank 0) has been heard", NULL },
		{ "mpirun noticed that process rank 0 with PID 9 on node n1 "
		  "exited with status 1", NULL },
		{ "", NULL },
	};
	char	lost[256];
	size_t	i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		lost[0] = '\0';
		if (t[i].want == NULL) {
			ck_assert_msg(mpi_lost_in(t[i].line, lost,
			    sizeof lost) == 0, "line %zu: %s", i, lost);
			continue;
		}
		ck_assert_int_eq(mpi_lost_in(t[i].line, lost, sizeof lost), 1);
		ck_assert_msg(strncmp(lost, t[i].want, strlen(t[i].want)) ==
		    0, "line %zu: got \"%s\"", i, lost);
	}
}
END_TEST

/*
 * A run written record by record (runfile_run_begin/put/end) is the same
 * bytes as the run appended whole, for integers and for strings, across
 * the writer's buffer; the reader takes it, sums and all.
 */
static void
check_stream_run(enum vtype kt, enum vtype vt, size_t n, size_t biglen)
{
	struct runfile		 rf;
	struct shuffle_file	 sf;
	struct arena		 a;
	struct pair		*r, rec;
	uint64_t		 count = n;
	char			*whole, *streamed, *cause = NULL, *big;
	char			 word[32];
	const char		*p, *end;
	void			*x, *y;
	size_t			 i, xlen, ylen, len;

	memset(&a, 0, sizeof a);
	r = xcalloc(n + 1, sizeof *r);
	big = xmalloc(biglen + 1);
	memset(big, 'x', biglen);
	for (i = 0; i < n; i++) {
		snprintf(word, sizeof word, "w%zu", i * 7919 % 100003);
		r[i].k = kt == VT_INT ? (int64_t)(i * 3) - 5 : i == n / 2 &&
		    biglen > 0 ? str_make(&a, big, biglen) :
		    str_make(&a, word, strlen(word));
		r[i].v = vt == VT_INT ? (int64_t)i : str_make(&a, word,
		    strlen(word));
	}
	whole = tmp_path("whole");
	streamed = tmp_path("streamed");
	ck_assert_int_eq(runfile_open_typed(&rf, whole, 1, kt, vt, 0, 0), 0);
	ck_assert_int_eq(runfile_append_recs(&rf, r, &count), 0);
	ck_assert_int_eq(runfile_seal(&rf, 0), 0);
	ck_assert_int_eq(runfile_open_typed(&rf, streamed, 1, kt, vt, 0, 0),
	    0);
	ck_assert_int_eq(runfile_run_begin(&rf), 0);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(runfile_run_put(&rf, r[i].k, r[i].v), 0);
	ck_assert_int_eq(runfile_run_end(&rf), 0);
	ck_assert_int_eq(runfile_seal(&rf, 0), 0);
	x = ck_slurp(whole, &xlen);
	y = ck_slurp(streamed, &ylen);
	ck_assert_uint_eq(xlen, ylen);
	ck_assert(memcmp(x, y, xlen) == 0);
	ck_assert_int_eq(shuffle_open(&sf, streamed, 1, &cause), 0);
	ck_assert_int_eq(shuffle_check_all(&sf), 0);
	ck_assert_uint_eq(sf.records, n);
	p = shuffle_bucket(&sf, 0, 0, &len);
	ck_assert_ptr_nonnull(p);
	end = p + len;
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(shuffle_next(&sf, &p, end, &rec), 1);
		if (kt == VT_INT)
			ck_assert_int_eq(rec.k, r[i].k);
		else
			ck_assert_uint_eq(str_of(rec.k)->len,
			    str_of(r[i].k)->len);
	}
	ck_assert(p == end);
	shuffle_close(&sf);
	free(x);
	free(y);
	free(whole);
	free(streamed);
	free(big);
	free(r);
	arena_free(&a);
}

START_TEST(test_runfile_stream)
{
	check_stream_run(VT_INT, VT_INT, 0, 0);
	check_stream_run(VT_INT, VT_INT, 200000, 0);	/* 3 MB: flushes */
	check_stream_run(VT_STR, VT_INT, 150000, 0);
	check_stream_run(VT_STR, VT_STR, 1000, (size_t)3 << 20);
}
END_TEST

/*
 * Every truncation of a valid file, and random damage to its header and
 * index: shuffle_open either refuses with a cause or gives segments that lie
 * inside the file.
 */
START_TEST(test_shuffle_fuzz)
{
	struct shuffle_file	 sf;
	const struct pair	*seg;
	struct agg		 a;
	uint64_t		 bytes, s = 3;
	char			*good, *bad, *path, *copy, *cause;
	size_t			 len, cut, i, n, index_len;
	unsigned int		 p;
	int			 r, t;

	agg_init(&a, FN_SUM);
	for (i = 0; i < 40; i++)
		agg_add(&a, (int64_t)i - 20, 1);
	path = tmp_path("fuzz");
	copy = tmp_path("fuzz-copy");
	ck_assert_int_eq(shuffle_write_agg(path, 3, &a, 0, &bytes), 0);
	good = ck_slurp(path, &len);
	bad = xmalloc(len);
	index_len = SHDR_SIZE + RHDR_SIZE + 3 * SCNT_SIZE;

	for (cut = 0; cut < len; cut++) {
		cause = NULL;
		ck_spew(copy, good, cut);
		r = shuffle_open(&sf, copy, 3, &cause);
		if (r != -1 || cause == NULL)
			ck_abort_msg("a file cut to %zu of %zu bytes opened",
			    cut, len);
		free(cause);
	}
	for (t = 0; t < 3000; t++) {
		memcpy(bad, good, len);
		for (i = 0; i < 1 + (size_t)t % 4; i++) {
			size_t	at = (size_t)(ck_rand(&s) % index_len);

			bad[at] = (char)ck_rand(&s);
		}
		ck_spew(copy, bad, len);
		cause = NULL;
		r = shuffle_open(&sf, copy, 3, &cause);
		if (r == -1) {
			if (cause == NULL)
				ck_abort_msg("refused without a cause");
			free(cause);
			continue;
		}
		for (p = 0; p < 3; p++) {
			if ((seg = shuffle_segment(&sf, 0, p, &n)) == NULL)
				continue;	/* its check failed */
			if ((const char *)seg < sf.map ||
			    (const char *)(seg + n) > sf.map + sf.len)
				ck_abort_msg("segment %u outside the file", p);
		}
		shuffle_close(&sf);
	}
	agg_free(&a);
	free(good);
	free(bad);
	free(path);
	free(copy);
}
END_TEST

Suite *
shuffle_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("shuffle");
	tc = tcase_create("partition");
	tcase_add_test(tc, test_shuffle_partition_range);
	tcase_add_test(tc, test_shuffle_partition_stable);
	tcase_add_test(tc, test_shuffle_partition_spread);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, shuf_setup, shuf_teardown);
	tcase_add_test(tc, test_shuffle_round_trip);
	tcase_add_test(tc, test_shuffle_key_min);
	tcase_add_test(tc, test_shuffle_corrupt);
	tcase_add_test(tc, test_shuffle_open_len);
	tcase_add_test(tc, test_shuffle_extents);
	tcase_add_test(tc, test_mpi_lost_in);
	tcase_add_test(tc, test_runfile_stream);
	tcase_add_test(tc, test_shuffle_fuzz);
	suite_add_tcase(s, tc);
	return (s);
}
