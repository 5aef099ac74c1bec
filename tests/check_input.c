/* forkflow: see LICENSE. */
/*
 * Tests of input.c, the reader of "KEY SEP VALUE" lines over byte ranges of
 * the input files: the accepted forms of a line, the errors and where they
 * point, and the range property the workers rely on: however the input is
 * cut into ranges, the ranges together read every record exactly once, in
 * order.
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

#define NITEMS(a)	(sizeof (a) / sizeof (a)[0])

/* Records read, growing as needed. */
struct got {
	struct pair	*r;
	size_t		 n;
	size_t		 cap;
};

/* A set of input files made for one test. */
struct files {
	struct input_file	*f;
	size_t			 n;
	uint64_t		 total;
};

static char	in_tmpdir[256];
static unsigned int in_serial;

static void	in_setup(void);
static void	in_teardown(void);
static void	files_make(struct files *, const char *const *,
		    const size_t *, size_t);
static void	files_free(struct files *);
static int	read_range(const struct files *, uint64_t, uint64_t,
		    struct got *, char **, size_t *, uint64_t *);
static void	got_add(struct got *, int64_t, int64_t);
static void	check_same(const struct got *, const int64_t *, size_t,
		    const char *);
static void	check_parse(const char *, size_t, const int64_t *, size_t);
static void	check_error(const char *, size_t, const char *, uint64_t);
static void	check_cuts(const struct files *, const int64_t *, size_t,
		    unsigned int);
static int	cuts_next(uint64_t *, unsigned int, uint64_t);

/* Parse text as one file and expect the pairs given after it. */
#define PARSE(text, ...) do {						\
	static const int64_t w_[] = { 0, __VA_ARGS__ };			\
	check_parse(text, sizeof (text) - 1, w_ + 1, NITEMS(w_) - 1);	\
} while (0)
/* Parse text as one file "in.csv" and expect the error "in.csv:" why. */
#define FAIL(text, why, off)						\
	check_error(text, sizeof (text) - 1, why, off)

static void
in_setup(void)
{
	ck_tmpdir(in_tmpdir, sizeof in_tmpdir, "check_input");
}

static void
in_teardown(void)
{
	rm_tree(in_tmpdir);
}

/* Write n files with the given contents; names are f0.csv, f1.csv, ... */
static void
files_make(struct files *fs, const char *const *texts, const size_t *lens,
    size_t n)
{
	size_t	i;
	int	fd;

	fs->f = xcalloc(n + 1, sizeof *fs->f);
	fs->n = n;
	fs->total = 0;
	for (i = 0; i < n; i++) {
		xasprintf(&fs->f[i].path, "%s/%u-%zu.csv", in_tmpdir,
		    in_serial++, i);
		xasprintf(&fs->f[i].name, "f%zu.csv", i);
		fs->f[i].fd = -1;
		fs->f[i].size = lens != NULL ? lens[i] : strlen(texts[i]);
		fd = open(fs->f[i].path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		ck_assert_int_ne(fd, -1);
		ck_assert_int_eq(write_all(fd, texts[i], fs->f[i].size), 0);
		ck_assert_int_eq(close(fd), 0);
		fs->total += fs->f[i].size;
	}
}

static void
files_free(struct files *fs)
{
	size_t	i;

	for (i = 0; i < fs->n; i++) {
		if (fs->f[i].fd != -1)
			close(fs->f[i].fd);
		free(fs->f[i].path);
		free(fs->f[i].name);
	}
	free(fs->f);
}

static void
got_add(struct got *g, int64_t k, int64_t v)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->r = xreallocarray(g->r, g->cap, sizeof *g->r);
	}
	g->r[g->n].k = k;
	g->r[g->n].v = v;
	g->n++;
}

/*
 * Read the range [lo, hi) to its end, appending to g.  Returns 0, or -1
 * with the cause (if asked for) and where the error is.
 */
static int
read_range(const struct files *fs, uint64_t lo, uint64_t hi, struct got *g,
    char **cause, size_t *err_file, uint64_t *err_off)
{
	struct input	in;
	struct batch	b;
	size_t		i;
	int		r;

	batch_init(&b);
	input_open(&in, fs->f, fs->n, lo, hi);
	while ((r = input_read(&in, &b)) > 0) {
		if (b.n != (size_t)r || b.n > BATCH_MAX)
			ck_abort_msg("batch of %zu records, returned %d", b.n,
			    r);
		for (i = 0; i < b.n; i++)
			got_add(g, b.k[i], b.v[i]);
	}
	if (r == -1) {
		if (in.cause == NULL)
			ck_abort_msg("an error without a cause");
		if (cause != NULL)
			*cause = xstrdup(in.cause);
		if (err_file != NULL)
			*err_file = in.err_file;
		if (err_off != NULL)
			*err_off = in.err_off;
	} else if (r != 0)
		ck_abort_msg("input_read returned %d", r);
	input_close(&in);
	return (r);
}

/* Expect the records read to be want (flattened k, v pairs). */
static void
check_same(const struct got *g, const int64_t *want, size_t nwant,
    const char *what)
{
	size_t	i;

	/* Plain tests: every ck_assert costs Check a write(2). */
	for (i = 0; i < g->n && 2 * i + 1 < nwant; i++) {
		if (g->r[i].k != want[2 * i] || g->r[i].v != want[2 * i + 1])
			ck_abort_msg("%s: record %zu is (%" PRId64 ", %" PRId64
			    "), expected (%" PRId64 ", %" PRId64 ")", what, i,
			    g->r[i].k, g->r[i].v, want[2 * i],
			    want[2 * i + 1]);
	}
	if (g->n * 2 != nwant)
		ck_abort_msg("%s: %zu records, expected %zu", what, g->n,
		    nwant / 2);
}

static void
check_parse(const char *text, size_t len, const int64_t *want, size_t nwant)
{
	struct files	 fs;
	struct got	 g;
	char		*cause = NULL;

	memset(&g, 0, sizeof g);
	files_make(&fs, &text, &len, 1);
	ck_assert_msg(read_range(&fs, 0, fs.total, &g, &cause, NULL,
	    NULL) == 0, "\"%s\": %s", text, cause);
	check_same(&g, want, nwant, text);
	free(g.r);
	files_free(&fs);
}

START_TEST(test_input_separators)
{
	PARSE("1,2\n", 1, 2);
	PARSE("1;2\n", 1, 2);
	PARSE("1\t2\n", 1, 2);
	PARSE("1 2\n", 1, 2);
	PARSE("1    2\n", 1, 2);
	PARSE("1, 2\n", 1, 2);
	PARSE("1 ,2\n", 1, 2);
	PARSE("1 ; 2\n", 1, 2);
	PARSE("1\t,\t2\n", 1, 2);
	PARSE("1 \t 2\n", 1, 2);
	PARSE("  1,2  \n", 1, 2);
	PARSE("\t-1;-2\t\n", -1, -2);
	PARSE("+3,+4\n", 3, 4);
	PARSE("-0,007\n", 0, 7);
	PARSE("10,20\n30;40\n50\t60\n70 80\n", 10, 20, 30, 40, 50, 60, 70, 80);
}
END_TEST

START_TEST(test_input_line_forms)
{
	PARSE("");
	PARSE("\n");
	PARSE("\n\n\r\n \t \n");
	PARSE("   ");
	PARSE("1,2\r\n3,4\r\n", 1, 2, 3, 4);
	PARSE("1,2 \r\n", 1, 2);
	PARSE("1,2\n\n3,4\n\n", 1, 2, 3, 4);
	PARSE("1,2\n3,4", 1, 2, 3, 4);		/* no final newline */
	PARSE("5,6", 5, 6);
	PARSE("5,6\r", 5, 6);
	PARSE("5,6   ", 5, 6);
	PARSE("\n\n7,8", 7, 8);
	/* A header, then the data. */
	PARSE("key,value\n1,2\n", 1, 2);
	PARSE("key;value\r\n1;2\r\n", 1, 2);
	PARSE("k v\n3 4", 3, 4);
	PARSE("key,value\n");
	PARSE("key,value");
	PARSE("\"k\",\"v\"\n-1,1\n", -1, 1);
	/* A UTF-8 BOM, with or without a header. */
	PARSE("\xef\xbb\xbf" "1,2\n", 1, 2);
	PARSE("\xef\xbb\xbf" "key;value\n1;5\n1;1\n", 1, 5, 1, 1);
	PARSE("\xef\xbb\xbf" "k,v");
	PARSE("\xef\xbb\xbf");
}
END_TEST

START_TEST(test_input_extremes)
{
	PARSE("-9223372036854775808,9223372036854775807\n", INT64_MIN,
	    INT64_MAX);
	PARSE("9223372036854775807;-9223372036854775808", INT64_MAX,
	    INT64_MIN);
	PARSE("-9223372036854775807 -1\n", INT64_MIN + 1, -1);
	PARSE("999999999999999999,-999999999999999999\n",
	    999999999999999999LL, -999999999999999999LL);
	PARSE("1000000000000000000,-1000000000000000000\n",
	    1000000000000000000LL, -1000000000000000000LL);
	PARSE("0000000000000000000000000000001,"
	    "-00000000000000000000009223372036854775808\n", 1, INT64_MIN);
	PARSE("+9223372036854775807,0\n", INT64_MAX, 0);
}
END_TEST

/* Read text as the file "in.csv" and expect the error "in.csv:" why. */
static void
check_error(const char *text, size_t len, const char *why, uint64_t off)
{
	struct files	 fs;
	struct got	 g;
	char		*cause = NULL, *want;
	size_t		 err_file = 99;
	uint64_t	 err_off = 99;

	memset(&g, 0, sizeof g);
	files_make(&fs, &text, &len, 1);
	free(fs.f[0].name);
	fs.f[0].name = xstrdup("in.csv");
	ck_assert_msg(read_range(&fs, 0, fs.total, &g, &cause, &err_file,
	    &err_off) == -1, "\"%s\" was read", text);
	xasprintf(&want, "in.csv:%s", why);
	ck_assert_str_eq(cause, want);
	ck_assert_uint_eq(err_file, 0);
	ck_assert_uint_eq(err_off, off);
	free(want);
	free(cause);
	free(g.r);
	files_free(&fs);
}

START_TEST(test_input_errors)
{
	FAIL("1,2\nabc,1\n", "2:1: expected an integer key", 4);
	FAIL("1,2\n  x 1\n", "2:3: expected an integer key", 6);
	FAIL("1,2\n3,4\nfoo", "3:1: expected an integer key", 8);
	FAIL("1,\n", "1:3: expected an integer value", 2);
	FAIL("1, \n", "1:4: expected an integer value", 3);
	FAIL("1,,2\n", "1:3: expected an integer value", 2);
	FAIL("1, -\n", "1:4: expected an integer value", 3);
	FAIL("1,x\r\n", "1:3: expected an integer value", 2);
	FAIL("7,8\n1", "2:2: expected a separator (',', ';', tab or space) "
	    "after the key", 5);
	FAIL("1\n", "1:2: expected a separator (',', ';', tab or space) "
	    "after the key", 1);
	FAIL("1.5,2\n", "1:2: expected a separator (',', ';', tab or space) "
	    "after the key", 1);
	FAIL("9223372036854775808,1\n", "1:1: integer out of range for a "
	    "signed 64-bit integer", 0);
	FAIL("-9223372036854775809,1\n", "1:1: integer out of range for a "
	    "signed 64-bit integer", 0);
	FAIL("1,2\n0;9223372036854775808\n", "2:3: integer out of range for "
	    "a signed 64-bit integer", 6);
	FAIL("1,-9223372036854775809", "1:3: integer out of range for a "
	    "signed 64-bit integer", 2);
	FAIL("1,99999999999999999999999999\n", "1:3: integer out of range "
	    "for a signed 64-bit integer", 2);
	FAIL("1,2x\n", "1:4: unexpected characters after the value", 3);
	FAIL("1,2 3\n", "1:5: unexpected characters after the value", 4);
	FAIL("1;2;\n", "1:4: unexpected characters after the value", 3);
	FAIL("1,2\r3\n", "1:5: unexpected characters after the value", 4);
	FAIL("1,2\n\n\t3,4 #\n", "3:6: unexpected characters after the value",
	    10);
	FAIL("1,2\n3,4x", "2:4: unexpected characters after the value", 7);
	/* A header is only the first line. */
	FAIL("key,value\nkey,value\n", "2:1: expected an integer key", 10);
	FAIL("\nkey,value\n", "2:1: expected an integer key", 1);
	/* A first line that starts like a number is data, and wrong. */
	FAIL("1x,2\n", "1:2: expected a separator (',', ';', tab or space) "
	    "after the key", 1);
	FAIL(" -5 , z\n", "1:7: expected an integer value", 6);
	/* Columns count from after a BOM; offsets from the file's start. */
	FAIL("\xef\xbb\xbf" "1,x\n", "1:3: expected an integer value", 5);
	FAIL("\xef\xbb\xbf" "k,v\n1,2\n3,x\n", "3:3: expected an integer "
	    "value", 13);
	FAIL("\xef\xbb\xbf" "1,x", "1:3: expected an integer value", 5);
}
END_TEST

/* Errors name the right file of several, and failures of the file itself. */
START_TEST(test_input_file_errors)
{
	const char	*texts[] = { "1,2\n", "", "k,v\n3,4\n5,y\n" };
	struct files	 fs;
	struct got	 g;
	char		*cause = NULL;
	size_t		 err_file;
	uint64_t	 err_off;

	memset(&g, 0, sizeof g);
	files_make(&fs, texts, NULL, 3);
	ck_assert_int_eq(read_range(&fs, 0, fs.total, &g, &cause, &err_file,
	    &err_off), -1);
	ck_assert_str_eq(cause, "f2.csv:3:3: expected an integer value");
	ck_assert_uint_eq(err_file, 2);
	ck_assert_uint_eq(err_off, 10);
	free(cause);

	/* The size given is not the size found. */
	fs.f[0].size++;
	fs.total++;
	ck_assert_int_eq(read_range(&fs, 0, fs.total, &g, &cause, &err_file,
	    &err_off), -1);
	ck_assert_str_eq(cause, "f0.csv: file changed size while the job "
	    "ran");
	ck_assert_uint_eq(err_file, 0);
	free(cause);
	fs.f[0].size--;
	fs.total--;

	/* A file that went away: the input changed, no system error. */
	ck_assert_int_eq(unlink(fs.f[2].path), 0);
	ck_assert_int_eq(read_range(&fs, 4, fs.total, &g, &cause, &err_file,
	    &err_off), -1);
	ck_assert_str_eq(cause, "f2.csv: file removed while the job ran");
	ck_assert_uint_eq(err_file, 2);
	free(cause);
	free(g.r);
	files_free(&fs);
}
END_TEST

/* Advance cut points c[0] <= ... <= c[n-1] <= total; 0 when done. */
static int
cuts_next(uint64_t *c, unsigned int n, uint64_t total)
{
	unsigned int	i, j;

	for (i = n; i > 0; i--) {
		if (c[i - 1] < total) {
			c[i - 1]++;
			for (j = i; j < n; j++)
				c[j] = c[i - 1];
			return (1);
		}
	}
	return (0);
}

/*
 * For every way of cutting the input into nranges ranges (empty ones too),
 * read the ranges in turn and expect the whole input once, in order.
 */
static void
check_cuts(const struct files *fs, const int64_t *want, size_t nwant,
    unsigned int nranges)
{
	struct got	 g;
	uint64_t	 c[8], lo, hi;
	unsigned int	 i;
	char		 what[128];
	int		 more;
	size_t		 sets = 0;

	memset(c, 0, sizeof c);
	memset(&g, 0, sizeof g);
	do {
		g.n = 0;
		for (i = 0; i < nranges; i++) {
			lo = i == 0 ? 0 : c[i - 1];
			hi = i == nranges - 1 ? fs->total : c[i];
			if (read_range(fs, lo, hi, &g, NULL, NULL, NULL) != 0)
				ck_abort_msg("range [%" PRIu64 ", %" PRIu64
				    ") failed", lo, hi);
		}
		snprintf(what, sizeof what, "%u ranges cut at", nranges);
		for (i = 0; i + 1 < nranges; i++)
			snprintf(what + strlen(what), sizeof what -
			    strlen(what), " %" PRIu64, c[i]);
		check_same(&g, want, nwant, what);
		sets++;
		more = nranges > 1 && cuts_next(c, nranges - 1, fs->total);
	} while (more);
	ck_assert_uint_gt(sets, 0);
	free(g.r);
}

/*
 * Small files with a header, a blank CRLF line, an empty file and last
 * lines without their newline, cut into 1 to 6 ranges in every possible
 * way.
 */
START_TEST(test_input_ranges_all_cuts)
{
	static const char *texts[] = { "h\n1,2\n", "", "3 4", "\r\n-5;6" };
	static const int64_t want[] = { 1, 2, 3, 4, -5, 6 };
	struct files	fs;
	unsigned int	n;

	files_make(&fs, texts, NULL, NITEMS(texts));
	ck_assert_uint_eq(fs.total, 15);
	for (n = 1; n <= 6; n++)
		check_cuts(&fs, want, NITEMS(want), n);
	files_free(&fs);
}
END_TEST

/* A richer input, cut in two and in three at every offset. */
START_TEST(test_input_ranges_pairs_of_cuts)
{
	static const char *texts[] = {
		"key;value\r\n10;-1\r\n\r\n11;-2\r\n",
		"12\t-3\n  13 ,  -4  \n\n",
		"",
		"k,v\n-9223372036854775808,9223372036854775807\n14,5",
		"\n",
		"15,6\n16,7\n",
	};
	static const int64_t want[] = { 10, -1, 11, -2, 12, -3, 13, -4,
	    INT64_MIN, INT64_MAX, 14, 5, 15, 6, 16, 7 };
	struct files	fs;

	files_make(&fs, texts, NULL, NITEMS(texts));
	check_cuts(&fs, want, NITEMS(want), 1);
	check_cuts(&fs, want, NITEMS(want), 2);
	check_cuts(&fs, want, NITEMS(want), 3);
	files_free(&fs);
}
END_TEST

/* Files of many lines, across batches, cut in two at many offsets. */
START_TEST(test_input_ranges_batches)
{
	char		*texts[2], *p;
	int64_t		*want;
	struct files	 fs;
	struct got	 g;
	size_t		 nwant = 0, i, f;
	uint64_t	 cut;

	want = xcalloc(2 * 5000, sizeof *want);
	for (f = 0; f < 2; f++) {
		texts[f] = p = xmalloc(2500 * 32);
		for (i = 0; i < 2500; i++) {
			int64_t	k = (int64_t)(i * 7919 % 100003) - 50000;
			int64_t	v = (int64_t)(f * 2500 + i);

			p += sprintf(p, i % 3 ? "%" PRId64 ",%" PRId64 "\n" :
			    "%" PRId64 " ;\t%" PRId64 "\r\n", k, v);
			want[nwant++] = k;
			want[nwant++] = v;
		}
	}
	files_make(&fs, (const char *const *)texts, NULL, 2);
	memset(&g, 0, sizeof g);
	ck_assert_int_eq(read_range(&fs, 0, fs.total, &g, NULL, NULL, NULL),
	    0);
	check_same(&g, want, nwant, "whole");
	for (cut = 0; cut <= fs.total; cut += 97) {
		g.n = 0;
		ck_assert_int_eq(read_range(&fs, 0, cut, &g, NULL, NULL, NULL),
		    0);
		ck_assert_int_eq(read_range(&fs, cut, fs.total, &g, NULL, NULL,
		    NULL), 0);
		check_same(&g, want, nwant, "cut in two");
	}
	free(g.r);
	free(want);
	free(texts[0]);
	free(texts[1]);
	files_free(&fs);
}
END_TEST

/*
 * A bad line is reported by exactly the range it belongs to, with the same
 * message and offset whatever the cut.
 */
START_TEST(test_input_ranges_error)
{
	static const char *texts[] = { "1,2\n3,4\n", "5,6\n7,oops\n8,9\n" };
	struct files	 fs;
	struct got	 g;
	char		*cause;
	size_t		 err_file;
	uint64_t	 cut, err_off;
	int		 r1, r2;

	files_make(&fs, texts, NULL, 2);
	memset(&g, 0, sizeof g);
	for (cut = 0; cut <= fs.total; cut++) {
		cause = NULL;
		r1 = read_range(&fs, 0, cut, &g, NULL, NULL, NULL);
		r2 = read_range(&fs, cut, fs.total, &g, NULL, NULL, NULL);
		ck_assert_msg(r1 + r2 == -1, "cut %" PRIu64 ": %d %d", cut,
		    r1, r2);
		/* The line starts at global offset 12. */
		ck_assert_int_eq(cut <= 12 ? r2 : r1, -1);
		ck_assert_int_eq(read_range(&fs, cut <= 12 ? cut : 0,
		    cut <= 12 ? fs.total : cut, &g, &cause, &err_file,
		    &err_off), -1);
		ck_assert_str_eq(cause,
		    "f1.csv:2:3: expected an integer value");
		ck_assert_uint_eq(err_file, 1);
		ck_assert_uint_eq(err_off, 6);
		free(cause);
	}
	free(g.r);
	files_free(&fs);
}
END_TEST

/*
 * Files that start with a BOM, cut anywhere, even inside the BOM: the range
 * that holds the BOM's first byte owns the file's first line, as it owns
 * every other line that starts in it.
 */
START_TEST(test_input_ranges_bom)
{
	static const char *texts[] = { "\xef\xbb\xbf" "k,v\n1,2\n",
	    "\xef\xbb\xbf" "3,4\n", "\xef\xbb\xbf" "5,6" };
	static const int64_t want[] = { 1, 2, 3, 4, 5, 6 };
	struct files	fs;
	unsigned int	n;

	files_make(&fs, texts, NULL, NITEMS(texts));
	for (n = 1; n <= 4; n++)
		check_cuts(&fs, want, NITEMS(want), n);
	files_free(&fs);
}
END_TEST

/* Ranges that are empty or past the end read nothing. */
START_TEST(test_input_ranges_empty)
{
	static const char *texts[] = { "1,2\n", "3,4\n" };
	struct files	fs;
	struct got	g;

	files_make(&fs, texts, NULL, 2);
	memset(&g, 0, sizeof g);
	ck_assert_int_eq(read_range(&fs, 0, 0, &g, NULL, NULL, NULL), 0);
	ck_assert_int_eq(read_range(&fs, 3, 3, &g, NULL, NULL, NULL), 0);
	ck_assert_int_eq(read_range(&fs, 8, 8, &g, NULL, NULL, NULL), 0);
	ck_assert_int_eq(read_range(&fs, 8, 100, &g, NULL, NULL, NULL), 0);
	ck_assert_int_eq(read_range(&fs, 1, 4, &g, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_int_eq(read_range(&fs, 0, 1, &g, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_int_eq(read_range(&fs, 4, 5, &g, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_int_eq(g.r[1].k, 3);
	free(g.r);
	files_free(&fs);
}
END_TEST

/* fix FS I KEEP: take file i's fingerprint, keeping it open with keep. */
static void
fix(struct files *fs, size_t i, int keep)
{
	struct stat	st;

	if (fs->f[i].fd != -1)
		close(fs->f[i].fd);
	fs->f[i].fd = -1;
	if (keep)
		ck_assert_int_ne(fs->f[i].fd = open(fs->f[i].path, O_RDONLY),
		    -1);
	ck_assert_int_eq(stat(fs->f[i].path, &st), 0);
	input_fp_get(&fs->f[i].fp, &st);
}

/* expect_changed FS WHAT: reading fails: f0.csv changed, WHAT differs. */
static void
expect_changed(const struct files *fs, const char *what)
{
	struct got	 g;
	char		*cause = NULL, *want;

	memset(&g, 0, sizeof g);
	ck_assert_int_eq(read_range(fs, 0, fs->total, &g, &cause, NULL,
	    NULL), -1);
	xasprintf(&want, "f0.csv: changed since the job started (%s "
	    "differs); the job cannot go on", what);
	ck_assert_str_eq(cause, want);
	free(want);
	free(cause);
	free(g.r);
}

/*
 * A file the job fixed is read only while it is what its fingerprint says:
 * through the descriptor kept open or by path, a file renamed over it, one
 * written in place, or touched, is an error naming the file; so is one
 * removed.
 */
START_TEST(test_input_fixed)
{
	const char		*texts[] = { "1,2\n3,4\n" };
	const struct timespec	 later[2] = { { 0, UTIME_OMIT },
				     { 1000000000, 5 } };
	struct files		 fs;
	struct got		 g;
	char			*cause = NULL, *tmp;
	int			 keep, fd;

	for (keep = 0; keep <= 1; keep++) {
		files_make(&fs, texts, NULL, 1);
		fix(&fs, 0, keep);
		memset(&g, 0, sizeof g);
		ck_assert_int_eq(read_range(&fs, 0, fs.total, &g, NULL, NULL,
		    NULL), 0);
		ck_assert_uint_eq(g.n, 2);
		free(g.r);

		/* Touched. */
		ck_assert_int_eq(utimensat(AT_FDCWD, fs.f[0].path, later, 0),
		    0);
		expect_changed(&fs, "modification time");
		fix(&fs, 0, keep);

		/* Written in place, the same size. */
		ck_assert_int_ne(fd = open(fs.f[0].path, O_WRONLY), -1);
		ck_assert_int_eq(write_all(fd, "5", 1), 0);
		ck_assert_int_eq(close(fd), 0);
		expect_changed(&fs, "modification time");
		fix(&fs, 0, keep);

		/* Replaced by another file of the same size. */
		xasprintf(&tmp, "%s.new", fs.f[0].path);
		ck_assert_int_ne(fd = open(tmp, O_WRONLY | O_CREAT, 0644), -1);
		ck_assert_int_eq(write_all(fd, texts[0], fs.f[0].size), 0);
		ck_assert_int_eq(close(fd), 0);
		ck_assert_int_eq(rename(tmp, fs.f[0].path), 0);
		free(tmp);
		expect_changed(&fs, "inode");

		/* Removed. */
		ck_assert_int_eq(unlink(fs.f[0].path), 0);
		memset(&g, 0, sizeof g);
		ck_assert_int_eq(read_range(&fs, 0, fs.total, &g, &cause, NULL,
		    NULL), -1);
		ck_assert_str_eq(cause, "f0.csv: removed since the job "
		    "started; the job cannot go on");
		free(cause);
		free(g.r);
		files_free(&fs);
	}
}
END_TEST

Suite *
input_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("input");
	tc = tcase_create("parse");
	tcase_add_unchecked_fixture(tc, in_setup, in_teardown);
	tcase_add_test(tc, test_input_separators);
	tcase_add_test(tc, test_input_line_forms);
	tcase_add_test(tc, test_input_extremes);
	tcase_add_test(tc, test_input_errors);
	tcase_add_test(tc, test_input_file_errors);
	tcase_add_test(tc, test_input_fixed);
	suite_add_tcase(s, tc);

	tc = tcase_create("ranges");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, in_setup, in_teardown);
	tcase_add_test(tc, test_input_ranges_all_cuts);
	tcase_add_test(tc, test_input_ranges_pairs_of_cuts);
	tcase_add_test(tc, test_input_ranges_batches);
	tcase_add_test(tc, test_input_ranges_error);
	tcase_add_test(tc, test_input_ranges_empty);
	tcase_add_test(tc, test_input_ranges_bom);
	suite_add_tcase(s, tc);
	return (s);
}
