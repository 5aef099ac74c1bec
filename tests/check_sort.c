/* forkflow: see LICENSE. */
/*
 * Tests of sort.c and of the final output in output.c: sort_pairs() against
 * qsort(3) on arrays of many sizes and shapes (around the switch from
 * insertion sort to radix sort, extreme and repeated values), the text form
 * of a record, and the merge of sorted binary parts onto one stream.
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

#include "forkflow.h"
#include "check_forkflow.h"

/* How the values of a test array are drawn. */
enum shape {
	SHAPE_RANDOM,		/* any 64-bit key and value */
	SHAPE_EXTREME,		/* INT64_MIN, INT64_MAX, 0, +-1 and so on */
	SHAPE_FEWKEYS,		/* many equal keys, random values */
	SHAPE_EQUAL,		/* one key, values from a small set */
	SHAPE_SORTED,
	SHAPE_REVERSED,
	SHAPE_NEGATIVE,		/* small negative and positive numbers */
	SHAPE_HIGHBYTES,	/* differ only in the top bytes */
	SHAPE_MAX
};

static char	sort_tmpdir[256];

#define tmp_path(...)	ck_path(sort_tmpdir, __VA_ARGS__)

static int	pair_cmp(const void *, const void *);
static void	fill(struct pair *, size_t, enum shape, uint64_t *);
static void	check_sort(size_t, enum shape);
static void	check_format(int64_t, int64_t, const char *);
static void	sort_setup(void);
static void	sort_teardown(void);
static void	check_merge(const size_t *, size_t, uint64_t);

static int
pair_cmp(const void *a, const void *b)
{
	const struct pair	*x = a, *y = b;

	if (x->k != y->k)
		return (x->k < y->k ? -1 : 1);
	if (x->v != y->v)
		return (x->v < y->v ? -1 : 1);
	return (0);
}

static void
fill(struct pair *r, size_t n, enum shape shape, uint64_t *s)
{
	static const int64_t extremes[] = { INT64_MIN, INT64_MIN + 1,
	    INT64_MAX, INT64_MAX - 1, 0, -1, 1, -256, 255, 256 };
	size_t	i;

	for (i = 0; i < n; i++) {
		switch (shape) {
		case SHAPE_RANDOM:
			r[i].k = (int64_t)ck_rand(s);
			r[i].v = (int64_t)ck_rand(s);
			break;
		case SHAPE_EXTREME:
			r[i].k = extremes[ck_rand(s) % 10];
			r[i].v = extremes[ck_rand(s) % 10];
			break;
		case SHAPE_FEWKEYS:
			r[i].k = (int64_t)(ck_rand(s) % 7) - 3;
			r[i].v = (int64_t)ck_rand(s);
			break;
		case SHAPE_EQUAL:
			r[i].k = INT64_MIN;
			r[i].v = (int64_t)(ck_rand(s) % 3) - 1;
			break;
		case SHAPE_SORTED:
			r[i].k = (int64_t)i - (int64_t)n / 2;
			r[i].v = -(int64_t)i;
			break;
		case SHAPE_REVERSED:
			r[i].k = (int64_t)(n - i) * 1000003;
			r[i].v = (int64_t)i;
			break;
		case SHAPE_NEGATIVE:
			r[i].k = (int64_t)(ck_rand(s) % 2001) - 1000;
			r[i].v = (int64_t)(ck_rand(s) % 2001) - 1000;
			break;
		default:
			r[i].k = (int64_t)(ck_rand(s) &
			    0xff00000000000000ULL);
			r[i].v = (int64_t)(ck_rand(s) &
			    0xf000000000000001ULL);
			break;
		}
	}
}

/* Sort an array of n records of one shape and compare with qsort. */
static void
check_sort(size_t n, enum shape shape)
{
	struct pair	*got, *want;
	uint64_t	 s = 0x1234567 + n * 31 + shape;
	size_t		 i;

	got = calloc(n + 1, sizeof *got);
	want = calloc(n + 1, sizeof *want);
	ck_assert_ptr_nonnull(got);
	ck_assert_ptr_nonnull(want);
	fill(got, n, shape, &s);
	got[n].k = got[n].v = 0x5a5a5a5a;	/* must stay untouched */
	memcpy(want, got, (n + 1) * sizeof *got);
	qsort(want, n, sizeof *want, pair_cmp);
	sort_pairs(got, n);
	/* A plain test: every ck_assert costs Check a write(2). */
	for (i = 0; i <= n; i++) {
		if (got[i].k != want[i].k || got[i].v != want[i].v)
			ck_abort_msg("n %zu shape %d: record %zu is (%" PRId64
			    ", %" PRId64 "), expected (%" PRId64 ", %" PRId64
			    ")", n, shape, i, got[i].k, got[i].v, want[i].k,
			    want[i].v);
	}
	free(got);
	free(want);
}

START_TEST(test_sort_sizes)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 63, 64, 65, 66, 127, 256,
	    1000, 4097 };
	size_t	i;
	int	shape;

	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		for (shape = 0; shape < SHAPE_MAX; shape++)
			check_sort(sizes[i], shape);
	}
}
END_TEST

START_TEST(test_sort_large)
{
	int	shape;

	for (shape = 0; shape < SHAPE_MAX; shape++)
		check_sort(100000, shape);
}
END_TEST

/* The order of string keys, as the suite has it: bytes, then length. */
static int
ref_str_cmp(const void *x, const void *y)
{
	const struct pair	*a = x, *b = y;
	const struct str	*p = str_of(a->k), *q = str_of(b->k);
	size_t			 n = p->len < q->len ? p->len : q->len;
	int			 c = memcmp(p->s, q->s, n);

	if (c != 0)
		return (c);
	if (p->len != q->len)
		return (p->len < q->len ? -1 : 1);
	return (a->v < b->v ? -1 : a->v > b->v);
}

/*
 * Records with string keys (of bytes 0, 'a' and 'b', 0 to 12 long, so
 * that prefixes, zero bytes and shared first 8 bytes all come up) sort as
 * qsort(3) with the suite's comparator does, for many sizes.
 */
START_TEST(test_recs_sort_strings)
{
	static const char	 alpha[] = { '\0', 'a', 'b' };
	static const size_t	 sizes[] = { 2, 63, 65, 1000, 30000 };
	struct arena		 a;
	struct pair		*r, *want;
	uint64_t		 seed = 99;
	char			 buf[16];
	size_t			 s, i, len, j;

	memset(&a, 0, sizeof a);
	for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		r = xcalloc(sizes[s], sizeof *r);
		want = xcalloc(sizes[s], sizeof *want);
		for (i = 0; i < sizes[s]; i++) {
			len = (size_t)(ck_rand(&seed) % 13);
			for (j = 0; j < len; j++)
				buf[j] = alpha[ck_rand(&seed) % 3];
			r[i].k = str_make(&a, buf, len);
			r[i].v = (int64_t)(ck_rand(&seed) % 7) - 3;
		}
		memcpy(want, r, sizes[s] * sizeof *r);
		qsort(want, sizes[s], sizeof *want, ref_str_cmp);
		recs_sort(r, sizes[s], VT_STR, VT_INT);
		for (i = 0; i < sizes[s]; i++)
			ck_assert_msg(ref_str_cmp(&r[i], &want[i]) == 0,
			    "size %zu: record %zu out of order", sizes[s], i);
		free(r);
		free(want);
		arena_reset(&a);
	}
	arena_free(&a);
}
END_TEST

/* Records that differ in a single byte of key or value, in turn. */
START_TEST(test_sort_each_byte)
{
	struct pair	r[200], want[200];
	unsigned int	b;
	size_t		i;
	uint64_t	s = 99;

	for (b = 0; b < 16; b++) {
		for (i = 0; i < 200; i++) {
			uint64_t x = (ck_rand(&s) & 0xff) << ((b & 7) * 8);

			r[i].k = b < 8 ? 5 : (int64_t)x;
			r[i].v = b < 8 ? (int64_t)x : -5;
		}
		memcpy(want, r, sizeof r);
		qsort(want, 200, sizeof *want, pair_cmp);
		sort_pairs(r, 200);
		ck_assert_msg(memcmp(r, want, sizeof r) == 0, "byte %u", b);
	}
}
END_TEST

/* Format one record and compare with the expected line. */
static void
check_format(int64_t k, int64_t v, const char *want)
{
	char	buf[64];
	size_t	n;

	memset(buf, 'x', sizeof buf);
	n = output_format(buf, k, v);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert_uint_le(n, 42);
	ck_assert_msg(memcmp(buf, want, n) == 0, "got '%.*s', expected '%s'",
	    (int)n, buf, want);
	ck_assert_int_eq(buf[n], 'x');
}

START_TEST(test_output_format)
{
	check_format(0, 0, "0,0\n");
	check_format(1, -1, "1,-1\n");
	check_format(-10, 10, "-10,10\n");
	check_format(1234567890, 987654321, "1234567890,987654321\n");
	check_format(INT64_MAX, INT64_MIN,
	    "9223372036854775807,-9223372036854775808\n");
	check_format(INT64_MIN, INT64_MIN,
	    "-9223372036854775808,-9223372036854775808\n");
	check_format(INT64_MIN + 1, INT64_MAX,
	    "-9223372036854775807,9223372036854775807\n");
	check_format(-1000000000000000000LL, 1000000000000000000LL,
	    "-1000000000000000000,1000000000000000000\n");
}
END_TEST

/* Every int64 formats as printf does. */
START_TEST(test_output_format_random)
{
	char		buf[64], want[64];
	uint64_t	s = 5;
	int64_t		k, v;
	size_t		n;
	int		i;

	for (i = 0; i < 100000; i++) {
		k = (int64_t)(ck_rand(&s) >> (ck_rand(&s) % 64));
		v = (int64_t)ck_rand(&s);
		if (i & 1)
			k = (int64_t)(0 - (uint64_t)k);
		n = output_format(buf, k, v);
		snprintf(want, sizeof want, "%" PRId64 ",%" PRId64 "\n", k, v);
		if (n != strlen(want) || memcmp(buf, want, n) != 0)
			ck_abort_msg("got '%.*s', expected '%s'", (int)n, buf,
			    want);
	}
}
END_TEST

static void
sort_setup(void)
{
	ck_tmpdir(sort_tmpdir, sizeof sort_tmpdir, "check_sort");
}

static void
sort_teardown(void)
{
	rm_tree(sort_tmpdir);
}

/*
 * Write nparts sorted binary parts of the given sizes with
 * output_write_part, merge them, and compare with the union sorted by
 * qsort and printed by printf.
 */
static void
check_merge(const size_t *sizes, size_t nparts, uint64_t seed)
{
	struct pair	*all, *part;
	char		**paths, *out, *got, *want, *w;
	size_t		 i, j, n = 0, total = 0, len;
	uint64_t	 s = seed, bytes;
	int		 fd;

	for (i = 0; i < nparts; i++)
		total += sizes[i];
	all = xcalloc(total + 1, sizeof *all);
	paths = xcalloc(nparts + 1, sizeof *paths);
	for (i = 0; i < nparts; i++) {
		part = all + n;
		for (j = 0; j < sizes[i]; j++) {
			/* Keys collide across parts; values break ties. */
			part[j].k = (int64_t)(ck_rand(&s) % 5000) - 2500;
			part[j].v = (int64_t)(ck_rand(&s) % 3) - 1;
			if (ck_rand(&s) % 97 == 0)
				part[j].k = ck_rand(&s) & 1 ? INT64_MIN :
				    INT64_MAX;
		}
		qsort(part, sizes[i], sizeof *part, pair_cmp);
		paths[i] = tmp_path("part-%" PRIu64 "-%zu", seed, i);
		ck_assert_int_eq(output_write_part(paths[i], part, sizes[i], 0,
		    0, &bytes), 0);
		ck_assert_uint_eq(bytes, sizes[i] * sizeof *part);
		n += sizes[i];
	}
	qsort(all, total, sizeof *all, pair_cmp);
	want = xmalloc(total * 42 + 1);
	for (w = want, i = 0; i < total; i++)
		w += sprintf(w, "%" PRId64 ",%" PRId64 "\n", all[i].k,
		    all[i].v);
	*w = '\0';

	out = tmp_path("merged-%" PRIu64, seed);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(output_merge(paths, nparts, fd, &bytes), 0);
	close(fd);
	got = ck_slurp(out, &len);
	ck_assert_uint_eq(bytes, (uint64_t)(w - want));
	ck_assert_uint_eq(len, (size_t)(w - want));
	ck_assert_msg(strcmp(got, want) == 0, "merge of %zu parts differs",
	    nparts);

	free(got);
	free(want);
	free(out);
	for (i = 0; i < nparts; i++)
		free(paths[i]);
	free(paths);
	free(all);
}

START_TEST(test_output_merge)
{
	static const size_t one[] = { 1 }, empty[] = { 0 },
	    empties[] = { 0, 0, 0 }, small[] = { 3, 0, 5, 1 },
	    big[] = { 0, 10000, 1, 30000, 0, 4096, 4097 };
	size_t	many[40], i;

	check_merge(one, 1, 1);
	check_merge(empty, 1, 2);
	check_merge(empties, 3, 3);
	check_merge(small, 4, 4);
	check_merge(big, 7, 5);
	for (i = 0; i < 40; i++)
		many[i] = i * 37 % 11;
	check_merge(many, 40, 6);
}
END_TEST

/* A text part is what output_format makes, a missing part is an error. */
START_TEST(test_output_write_part_text)
{
	struct pair	r[] = { { INT64_MIN, -1 }, { 0, 0 }, { 7, INT64_MAX } };
	char		*path, *got, *paths[2];
	size_t		 len;
	uint64_t	 bytes;
	int		 fd;

	path = tmp_path("text");
	ck_assert_int_eq(output_write_part(path, r, 3, 1, 1, &bytes), 0);
	got = ck_slurp(path, &len);
	ck_assert_str_eq(got, "-9223372036854775808,-1\n0,0\n"
	    "7,9223372036854775807\n");
	ck_assert_uint_eq(bytes, len);
	free(got);

	/* A part whose size is no whole number of records is refused. */
	paths[0] = path;
	paths[1] = tmp_path("absent");
	fd = open("/dev/null", O_WRONLY);
	ck_assert_int_eq(output_merge(paths, 1, fd, &bytes), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_int_eq(output_merge(paths + 1, 1, fd, &bytes), -1);
	ck_assert_int_eq(errno, ENOENT);
	close(fd);
	free(paths[1]);
	free(path);
}
END_TEST

Suite *
sort_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("sort");
	tc = tcase_create("sort");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sort_sizes);
	tcase_add_test(tc, test_sort_large);
	tcase_add_test(tc, test_sort_each_byte);
	tcase_add_test(tc, test_recs_sort_strings);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, sort_setup, sort_teardown);
	tcase_add_test(tc, test_output_format);
	tcase_add_test(tc, test_output_format_random);
	tcase_add_test(tc, test_output_write_part_text);
	tcase_add_test(tc, test_output_merge);
	suite_add_tcase(s, tc);
	return (s);
}
