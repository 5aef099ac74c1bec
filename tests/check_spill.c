/* forkflow: see LICENSE. */
/*
 * Tests of spill.c and of the memory limit of agg.c: records spilled as
 * sorted runs and merged back, with fan-ins that force several passes,
 * give what a plain sort and fold of all the records gives, computed here
 * with qsort(3) and loops of the suite's own; a spill file resumed from a
 * mark drops the run written after it; a byte of a run damaged after it
 * was written fails the merge (each run is checked as it is read).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "forkflow.h"
#include "check_forkflow.h"

static char	spill_tmpdir[256];

#define tmp_path(...)	ck_path(spill_tmpdir, __VA_ARGS__)

static void
spill_setup(void)
{
	ck_tmpdir(spill_tmpdir, sizeof spill_tmpdir, "spill");
}

static void
spill_teardown(void)
{
	char	*cmd;

	xasprintf(&cmd, "rm -rf '%s'", spill_tmpdir);
	(void)system(cmd);
	free(cmd);
}

static int
ref_pair_cmp(const void *x, const void *y)
{
	const struct pair	*a = x, *b = y;

	if (a->k != b->k)
		return (a->k < b->k ? -1 : 1);
	if (a->v != b->v)
		return (a->v < b->v ? -1 : 1);
	return (0);
}

/* Read the one run of a merged file. */
static struct pair *
read_out(const char *path, size_t *n)
{
	struct shuffle_file	 sf;
	struct pair		*r = NULL, rec;
	const char		*p, *end;
	char			*cause = NULL;
	size_t			 len, cap = 0;

	*n = 0;
	ck_assert_msg(shuffle_open(&sf, path, 1, &cause) == 0, "%s", cause);
	ck_assert_uint_eq(sf.runs, 1);
	p = shuffle_bucket(&sf, 0, 0, &len);
	ck_assert_ptr_nonnull(p);
	end = p + len;
	while (shuffle_next(&sf, &p, end, &rec) == 1) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			r = xreallocarray(r, cap, sizeof *r);
		}
		if (sf.kt == VT_STR)
			rec.k = (int64_t)(uintptr_t)xstrndup(str_of(rec.k)->s,
			    str_of(rec.k)->len);
		if (sf.vt == VT_STR)
			rec.v = (int64_t)(uintptr_t)xstrndup(str_of(rec.v)->s,
			    str_of(rec.v)->len);
		r[(*n)++] = rec;
	}
	ck_assert(p == end);
	shuffle_close(&sf);
	return (r);
}

/*
 * Integer pairs through a table limited to bytes, spilled whenever it is
 * full, merged fanin at a time, against a sort and fold of them all.
 */
static void
check_int(enum op_fn fn, size_t n, int64_t keys, size_t bytes,
    unsigned int fanin, unsigned int min_passes)
{
	struct agg	 a;
	struct spill	 sp;
	struct pair	*all, *out;
	uint64_t	 seed = n * 31 + (uint64_t)keys;
	char		*path, *res;
	size_t		 i, j, m, nout;
	int64_t		 k, v, acc;

	all = xcalloc(n + 1, sizeof *all);
	path = tmp_path("w0.spill");
	res = tmp_path("w0.reduced");
	agg_init(&a, fn);
	agg_limit(&a, bytes);
	ck_assert_int_eq(spill_open(&sp, path, VT_INT, VT_INT, fn, fanin, 0,
	    0), 0);
	for (i = 0; i < n; i++) {
		k = (int64_t)(ck_rand(&seed) % (uint64_t)keys) - keys / 2;
		v = (int64_t)(ck_rand(&seed) % 1000) - 500;
		if (i == 7)
			k = INT64_MIN;	/* the key a table holds apart */
		all[i].k = k;
		all[i].v = v;
		if (agg_full(&a))
			ck_assert_int_eq(spill_agg(&sp, &a), 0);
		agg_add(&a, k, v);
		ck_assert_uint_le(agg_bytes(&a) * 3, bytes < 49152 ? 49152 :
		    bytes);
	}
	ck_assert_int_eq(spill_agg(&sp, &a), 0);
	ck_assert_int_eq(spill_merge(&sp, res, VT_INT, 0), 0);
	ck_assert_uint_ge(sp.passes, min_passes);
	out = read_out(res, &nout);

	qsort(all, n, sizeof *all, ref_pair_cmp);
	for (i = 0, m = 0; i < n; i = j, m++) {
		acc = all[i].v;
		for (j = i + 1; j < n && all[j].k == all[i].k; j++)
			acc = agg_ref(fn, acc, all[j].v);
		ck_assert_uint_lt(m, nout);
		ck_assert_int_eq(out[m].k, all[i].k);
		ck_assert_int_eq(out[m].v, acc);
	}
	ck_assert_uint_eq(m, nout);
	spill_remove(&sp);
	ck_assert_int_eq(access(path, F_OK), -1);
	agg_free(&a);
	free(out);
	free(all);
	free(path);
	free(res);
}

START_TEST(test_spill_int)
{
	/* 16 KiB tables spill thousands of keys each time. */
	check_int(FN_SUM, 200000, 50000, 16384, 2, 3);
	check_int(FN_MIN, 100000, 5000, 16384, 3, 2);
	check_int(FN_MAX, 100000, 100000, 16384, 64, 1);
	check_int(FN_PROD, 50000, 300, 16384, 2, 1);
	/* No limit: one run, one pass. */
	check_int(FN_SUM, 10000, 100, 0, 2, 1);
}
END_TEST

struct srec {
	char	*k;
	char	*v;
};

static int
ref_srec_cmp(const void *x, const void *y)
{
	const struct srec	*a = x, *b = y;
	int			 c;

	if ((c = strcmp(a->k, b->k)) != 0)
		return (c);
	return (strcmp(a->v, b->v));
}

/* The runs of string records: chunks of chunk records, each sorted. */
static void
spill_chunks(struct spill *sp, struct srec *all, size_t n, size_t chunk)
{
	struct arena	 a;
	struct pair	*r;
	size_t		 i, j;

	memset(&a, 0, sizeof a);
	r = xcalloc(chunk + 1, sizeof *r);
	for (i = 0; i < n; i += chunk) {
		for (j = 0; j < chunk && i + j < n; j++) {
			r[j].k = str_make(&a, all[i + j].k,
			    strlen(all[i + j].k));
			r[j].v = str_make(&a, all[i + j].v,
			    strlen(all[i + j].v));
		}
		recs_sort(r, j, VT_STR, VT_STR);
		ck_assert_int_eq(spill_run(sp, r, j), 0);
		arena_reset(&a);
	}
	free(r);
	arena_free(&a);
}

/*
 * String keys and values: COLLECT joins each key's distinct values in
 * order; without a function every record comes out, in order.
 */
static void
check_str(enum op_fn fn, size_t n, unsigned int nkeys, unsigned int nvals,
    size_t chunk, unsigned int fanin)
{
	struct spill	 sp;
	struct srec	*all;
	struct pair	*out;
	uint64_t	 seed = n + nkeys;
	char		*path, *res, buf[64], *join;
	size_t		 i, j, m, nout, jl;

	all = xcalloc(n + 1, sizeof *all);
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof buf, "key%u", (unsigned int)
		    (ck_rand(&seed) % nkeys));
		all[i].k = xstrdup(buf);
		snprintf(buf, sizeof buf, "v%u", (unsigned int)
		    (ck_rand(&seed) % nvals));
		all[i].v = xstrdup(buf);
	}
	path = tmp_path("w1.spill");
	res = tmp_path("w1.reduced");
	ck_assert_int_eq(spill_open(&sp, path, VT_STR, VT_STR, fn, fanin, 0,
	    0), 0);
	spill_chunks(&sp, all, n, chunk);
	ck_assert_int_eq(spill_merge(&sp, res, VT_STR, 0), 0);
	ck_assert_uint_ge(sp.passes, 2);
	out = read_out(res, &nout);

	qsort(all, n, sizeof *all, ref_srec_cmp);
	if (fn == 0) {
		ck_assert_uint_eq(nout, n);
		for (i = 0; i < n; i++) {
			ck_assert_str_eq((char *)(uintptr_t)out[i].k, all[i].k);
			ck_assert_str_eq((char *)(uintptr_t)out[i].v, all[i].v);
		}
	} else {
		join = xmalloc(n * 16 + 1);
		for (i = 0, m = 0; i < n; i = j, m++) {
			jl = 0;
			for (j = i; j < n && strcmp(all[j].k, all[i].k) == 0;
			    j++) {
				if (j > i && strcmp(all[j].v, all[j - 1].v) == 0)
					continue;
				jl += (size_t)sprintf(join + jl, "%s%s",
				    jl > 0 ? "," : "", all[j].v);
			}
			ck_assert_uint_lt(m, nout);
			ck_assert_str_eq((char *)(uintptr_t)out[m].k, all[i].k);
			ck_assert_str_eq((char *)(uintptr_t)out[m].v, join);
		}
		ck_assert_uint_eq(m, nout);
		free(join);
	}
	for (i = 0; i < nout; i++) {
		free((char *)(uintptr_t)out[i].k);
		free((char *)(uintptr_t)out[i].v);
	}
	for (i = 0; i < n; i++) {
		free(all[i].k);
		free(all[i].v);
	}
	spill_remove(&sp);
	free(out);
	free(all);
	free(path);
	free(res);
}

START_TEST(test_spill_str)
{
	check_str(FN_COLLECT, 30000, 700, 40, 1000, 2);
	check_str(FN_COLLECT, 5000, 3, 5000, 100, 4);
	check_str(0, 20000, 50, 50, 700, 3);
}
END_TEST

/* A resumed spill file drops what was written after the mark. */
START_TEST(test_spill_resume)
{
	struct spill	 sp;
	struct agg	 a;
	struct pair	*out;
	char		*path, *res;
	uint64_t	 len;
	unsigned int	 runs;
	size_t		 n;

	path = tmp_path("w2.spill");
	res = tmp_path("w2.reduced");
	agg_init(&a, FN_SUM);
	ck_assert_int_eq(spill_open(&sp, path, VT_INT, VT_INT, FN_SUM, 2, 0,
	    0), 0);
	agg_add(&a, 1, 10);
	agg_add(&a, 2, 20);
	ck_assert_int_eq(spill_agg(&sp, &a), 0);
	ck_assert_uint_eq(agg_count(&a), 0);
	agg_add(&a, 2, 5);
	ck_assert_int_eq(spill_agg(&sp, &a), 0);
	len = sp.rf.len;
	runs = sp.rf.runs;
	/* Written after the checkpoint: lost in the crash. */
	agg_add(&a, 1, 1000);
	ck_assert_int_eq(spill_agg(&sp, &a), 0);
	spill_free(&sp);

	ck_assert_int_eq(spill_open(&sp, path, VT_INT, VT_INT, FN_SUM, 2, len,
	    runs), 0);
	agg_add(&a, 3, 30);
	ck_assert_int_eq(spill_agg(&sp, &a), 0);
	ck_assert_int_eq(spill_merge(&sp, res, VT_INT, 0), 0);
	out = read_out(res, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(out[0].k, 1);
	ck_assert_int_eq(out[0].v, 10);
	ck_assert_int_eq(out[1].k, 2);
	ck_assert_int_eq(out[1].v, 25);
	ck_assert_int_eq(out[2].k, 3);
	ck_assert_int_eq(out[2].v, 30);
	spill_remove(&sp);
	/* A mark past the end of the file is refused. */
	ck_assert_int_eq(spill_open(&sp, path, VT_INT, VT_INT, FN_SUM, 2,
	    len, runs), -1);
	agg_free(&a);
	free(out);
	free(path);
	free(res);
}
END_TEST

/*
 * Runs long enough to be read a window at a time (see merge.c): merged,
 * they give the sums computed here; with one byte of a run's values
 * changed after it was written, the merge fails with EINVAL and writes
 * nothing, at every fan-in.
 */
START_TEST(test_spill_damaged)
{
	struct spill		 sp;
	struct shuffle_file	 sf;
	struct pair		*r, *out;
	char			*path, *res, *cause = NULL, b;
	size_t			 n = 100000, nout, i;
	unsigned int		 run, fanin = _i == 0 ? 2 : 64;
	int			 damage, fd;
	off_t			 at;

	for (damage = 0; damage < 2; damage++) {
		path = tmp_path("w3.spill");
		res = tmp_path("w3.reduced");
		r = xcalloc(n, sizeof *r);
		ck_assert_int_eq(spill_open(&sp, path, VT_INT, VT_INT, FN_SUM,
		    fanin, 0, 0), 0);
		/* Run j has keys 0 .. n-1, each with value j + 1. */
		for (run = 0; run < 5; run++) {
			for (i = 0; i < n; i++)
				r[i] = (struct pair){ (int64_t)i, run + 1 };
			ck_assert_int_eq(spill_run(&sp, r, n), 0);
		}
		if (damage) {
			ck_assert_int_eq(shuffle_open_len(&sf, sp.rf.tmp, 1,
			    sp.rf.len, &cause), 0);
			/* A value of run 3, two thirds in. */
			at = (off_t)sf.runoff[3] + (off_t)(2 * n / 3) *
			    (off_t)sizeof(struct pair) + 8;
			shuffle_close(&sf);
			ck_assert_int_ne(fd = open(sp.rf.tmp, O_RDWR), -1);
			ck_assert_int_eq(pread(fd, &b, 1, at), 1);
			b ^= 0x10;
			ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
			close(fd);
			errno = 0;
			ck_assert_int_eq(spill_merge(&sp, res, VT_INT, 0), -1);
			ck_assert_int_eq(errno, EINVAL);
			ck_assert_int_eq(access(res, F_OK), -1);
		} else {
			ck_assert_int_eq(spill_merge(&sp, res, VT_INT, 0), 0);
			out = read_out(res, &nout);
			ck_assert_uint_eq(nout, n);
			for (i = 0; i < n; i++) {
				ck_assert_int_eq(out[i].k, (int64_t)i);
				ck_assert_int_eq(out[i].v, 1 + 2 + 3 + 4 + 5);
			}
			free(out);
			(void)unlink(res);
		}
		spill_remove(&sp);
		free(r);
		free(path);
		free(res);
	}
}
END_TEST

Suite *
spill_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("spill");
	tc = tcase_create("spill");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, spill_setup, spill_teardown);
	tcase_add_test(tc, test_spill_int);
	tcase_add_test(tc, test_spill_str);
	tcase_add_test(tc, test_spill_resume);
	tcase_add_loop_test(tc, test_spill_damaged, 0, 2);
	suite_add_tcase(s, tc);
	return (s);
}
