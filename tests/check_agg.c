/* forkflow: see LICENSE. */
/*
 * Tests of agg.c, the hash aggregation table: the semantics of each reduce
 * function (wrapping like the rest of the arithmetic), the key INT64_MIN
 * that doubles as the empty-slot marker, growth through many rehashes
 * checked against a sorted reference, and iteration that visits every key
 * exactly once.
 */

#include <sys/wait.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "forkflow.h"
#include "check_forkflow.h"

static int64_t	agg_fold(enum op_fn, int64_t, const int64_t *, size_t);
static void	check_fold(enum op_fn, const int64_t *, size_t, int64_t);
static int	cmp_i64(const void *, const void *);
static void	check_growth(enum op_fn, size_t, unsigned int);

#define NITEMS(a)	(sizeof (a) / sizeof (a)[0])
#define FOLD(fn, want, ...) do {					\
	static const int64_t xs_[] = { __VA_ARGS__ };			\
	check_fold(fn, xs_, NITEMS(xs_), want);				\
} while (0)

/* The reference fold of one value into an accumulator (check_spill.c's
 * too). */
int64_t
agg_ref(enum op_fn fn, int64_t acc, int64_t x)
{
	switch (fn) {
	case FN_PROD:
		return ((int64_t)((uint64_t)acc * (uint64_t)x));
	case FN_MIN:
		return (x < acc ? x : acc);
	case FN_MAX:
		return (x > acc ? x : acc);
	case FN_COUNT:
		return (acc + 1);
	default:
		return ((int64_t)((uint64_t)acc + (uint64_t)x));
	}
}

/* Add xs to key k of a fresh table and return what it holds for k. */
static int64_t
agg_fold(enum op_fn fn, int64_t k, const int64_t *xs, size_t n)
{
	struct agg	a;
	size_t		pos = 0;
	int64_t		gk, acc = 0;
	int		found = 0;

	agg_init(&a, fn);
	agg_add_batch(&a, (int64_t[]){ k }, &xs[0], 1);
	if (n > 1) {
		int64_t	*ks = calloc(n - 1, sizeof *ks);
		size_t	 i;

		for (i = 0; i < n - 1; i++)
			ks[i] = k;
		agg_add_batch(&a, ks, &xs[1], n - 1);
		free(ks);
	}
	ck_assert_uint_eq(agg_count(&a), 1);
	while (agg_next(&a, &pos, &gk, &acc)) {
		ck_assert_int_eq(gk, k);
		ck_assert_int_eq(found, 0);
		found = 1;
	}
	ck_assert_int_eq(found, 1);
	agg_free(&a);
	return (acc);
}

/*
 * Fold raw values xs with fn, for an ordinary key, the key INT64_MIN (held
 * apart) and INT64_MIN + 1, and expect want each time.
 */
static void
check_fold(enum op_fn fn, const int64_t *xs, size_t n, int64_t want)
{
	ck_assert_int_eq(agg_fold(fn, 42, xs, n), want);
	ck_assert_int_eq(agg_fold(fn, INT64_MIN, xs, n), want);
	ck_assert_int_eq(agg_fold(fn, INT64_MIN + 1, xs, n), want);
	ck_assert_int_eq(agg_fold(fn, 0, xs, n), want);
}

START_TEST(test_agg_sum)
{
	FOLD(FN_SUM, 5, 5);
	FOLD(FN_SUM, 6, 1, 2, 3);
	FOLD(FN_SUM, 0, -7, 7);
	FOLD(FN_SUM, INT64_MIN, INT64_MAX, 1);		/* wraps */
	FOLD(FN_SUM, INT64_MAX, INT64_MIN, -1);
	FOLD(FN_SUM, -2, INT64_MAX, INT64_MAX);
	FOLD(FN_SUM, 0, INT64_MIN, INT64_MIN);
	FOLD(FN_SUM, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX,
	    INT64_MIN + 1, INT64_MIN + 1);
}
END_TEST

START_TEST(test_agg_prod)
{
	FOLD(FN_PROD, -3, -3);
	FOLD(FN_PROD, 24, 2, 3, 4);
	FOLD(FN_PROD, 0, 5, 0, 7);
	FOLD(FN_PROD, -2, INT64_MAX, 2);			/* wraps */
	FOLD(FN_PROD, INT64_MIN, INT64_MIN, -1);
	FOLD(FN_PROD, 0, INT64_MIN, 2);
	FOLD(FN_PROD, 1, INT64_MAX, INT64_MAX);
	FOLD(FN_PROD, (int64_t)0x8000000000000000ULL, 1LL << 32, 1LL << 31);
}
END_TEST

START_TEST(test_agg_min_max)
{
	FOLD(FN_MIN, 3, 3);
	FOLD(FN_MIN, -9, 4, -9, 0, 12);
	FOLD(FN_MIN, INT64_MIN, 0, INT64_MIN, INT64_MAX);
	FOLD(FN_MIN, INT64_MAX, INT64_MAX, INT64_MAX);
	FOLD(FN_MIN, INT64_MIN + 1, INT64_MAX, INT64_MIN + 1, -1);
	FOLD(FN_MAX, 3, 3);
	FOLD(FN_MAX, 12, 4, -9, 0, 12);
	FOLD(FN_MAX, INT64_MAX, 0, INT64_MIN, INT64_MAX);
	FOLD(FN_MAX, INT64_MIN, INT64_MIN, INT64_MIN);
	FOLD(FN_MAX, -1, INT64_MIN, -1, INT64_MIN + 1);
}
END_TEST

/* COUNT counts raw records whatever their values, and sums partial counts. */
START_TEST(test_agg_count)
{
	struct agg	a;
	size_t		pos = 0;
	int64_t		k, acc;

	FOLD(FN_COUNT, 1, INT64_MIN);
	FOLD(FN_COUNT, 3, 0, 0, 0);
	FOLD(FN_COUNT, 4, INT64_MAX, INT64_MAX, -5, INT64_MIN);

	/* Partial counts from combiners are added with agg_add. */
	agg_init(&a, FN_COUNT);
	agg_add(&a, 7, 3);
	agg_add(&a, 7, 4);
	agg_add(&a, INT64_MIN, 2);
	agg_add(&a, INT64_MIN, 5);
	agg_add_batch(&a, (int64_t[]){ 7, INT64_MIN }, (int64_t[]){ 100, 100 },
	    2);
	ck_assert_uint_eq(agg_count(&a), 2);
	while (agg_next(&a, &pos, &k, &acc)) {
		if (k == 7)
			ck_assert_int_eq(acc, 8);
		else {
			ck_assert_int_eq(k, INT64_MIN);
			ck_assert_int_eq(acc, 8);
		}
	}
	agg_free(&a);
}
END_TEST

/*
 * INT64_MIN is the empty marker, so it is held apart; INT64_MIN + 1, 0 and
 * -1 are ordinary keys next to it.  Each comes out once with its own sum.
 */
START_TEST(test_agg_key_extremes)
{
	static const int64_t keys[] = { INT64_MIN, INT64_MIN + 1, INT64_MAX,
	    0, -1, 1 };
	struct agg	a;
	size_t		pos = 0, i, seen[NITEMS(keys)];
	int64_t		k, acc;

	memset(seen, 0, sizeof seen);
	agg_init(&a, FN_SUM);
	ck_assert_uint_eq(agg_count(&a), 0);
	ck_assert_int_eq(agg_next(&a, &pos, &k, &acc), 0);
	pos = 0;
	for (i = 0; i < NITEMS(keys); i++) {
		agg_add(&a, keys[i], (int64_t)i + 1);
		agg_add(&a, keys[i], 100 * ((int64_t)i + 1));
	}
	ck_assert_uint_eq(agg_count(&a), NITEMS(keys));
	ck_assert_uint_eq(a.used, NITEMS(keys) - 1);
	ck_assert_int_eq(a.has_min, 1);
	while (agg_next(&a, &pos, &k, &acc)) {
		for (i = 0; i < NITEMS(keys); i++) {
			if (keys[i] == k)
				break;
		}
		ck_assert_uint_lt(i, NITEMS(keys));
		ck_assert_uint_eq(seen[i], 0);
		seen[i] = 1;
		ck_assert_int_eq(acc, 101 * ((int64_t)i + 1));
	}
	for (i = 0; i < NITEMS(keys); i++)
		ck_assert_uint_eq(seen[i], 1);
	/* The end stays the end. */
	ck_assert_int_eq(agg_next(&a, &pos, &k, &acc), 0);
	agg_free(&a);
}
END_TEST

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

/*
 * Add nadd random values to nkeys random distinct keys (INT64_MIN and
 * INT64_MIN + 1 among them) and compare with a reference kept beside a
 * sorted array of the keys.
 */
static void
check_growth(enum op_fn fn, size_t nkeys, unsigned int rounds)
{
	struct agg	 a;
	int64_t		*keys, *ref, k, acc, x;
	uint8_t		*seen, *has;
	uint64_t	 s = 0x9E3779B97F4A7C15ULL ^ nkeys ^ (uint64_t)fn;
	size_t		 i, j, n, pos = 0, count = 0;
	unsigned int	 r;

	keys = calloc(nkeys, sizeof *keys);
	ref = calloc(nkeys, sizeof *ref);
	seen = calloc(nkeys, 1);
	has = calloc(nkeys, 1);
	ck_assert_ptr_nonnull(keys);
	ck_assert_ptr_nonnull(ref);
	ck_assert_ptr_nonnull(seen);
	ck_assert_ptr_nonnull(has);

	/* Distinct keys: random ones, some small ones and the extremes. */
	for (i = 0; i < nkeys; i++) {
		switch (i % 4) {
		case 0:
			keys[i] = (int64_t)ck_rand(&s);
			break;
		case 1:
			keys[i] = (int64_t)i;		/* dense keys */
			break;
		case 2:
			keys[i] = (int64_t)(0 - ((uint64_t)i << 20));
			break;
		default:
			keys[i] = (int64_t)(ck_rand(&s) & 0xffff0000ULL);
			break;
		}
	}
	keys[0] = INT64_MIN;
	keys[nkeys - 1] = INT64_MIN + 1;
	keys[nkeys / 2] = INT64_MAX;
	qsort(keys, nkeys, sizeof *keys, cmp_i64);
	for (i = j = 0; i < nkeys; i++) {
		if (j == 0 || keys[i] != keys[j - 1])
			keys[j++] = keys[i];
	}
	n = j;
	ck_assert_uint_gt(n, nkeys * 9 / 10);

	agg_init(&a, fn);
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < n; i++) {
			/* Visit the keys in a scrambled order. */
			j = (size_t)(ck_rand(&s) % n);
			x = (int64_t)ck_rand(&s);
			if (fn == FN_PROD)
				x = (x & 7) - 3;
			agg_add(&a, keys[j], fn == FN_COUNT ? 1 : x);
			ref[j] = has[j] ? agg_ref(fn, ref[j], x) :
			    (fn == FN_COUNT ? 1 : x);
			if (!has[j])
				count++;
			has[j] = 1;
		}
	}
	ck_assert_uint_eq(agg_count(&a), count);
	ck_assert_uint_le(a.used * 2, a.cap);
	ck_assert_uint_ge(a.cap, count);

	/* Plain tests in the loops: every ck_assert costs Check a write(2). */
	while (agg_next(&a, &pos, &k, &acc)) {
		int64_t	*hit = bsearch(&k, keys, n, sizeof *keys, cmp_i64);

		if (hit == NULL || !has[hit - keys])
			ck_abort_msg("key %lld never added", (long long)k);
		j = (size_t)(hit - keys);
		if (seen[j])
			ck_abort_msg("key %lld visited twice", (long long)k);
		seen[j] = 1;
		if (acc != ref[j])
			ck_abort_msg("key %lld: %lld, expected %lld",
			    (long long)k, (long long)acc, (long long)ref[j]);
	}
	for (j = 0; j < n; j++) {
		if (seen[j] != has[j])
			ck_abort_msg("key %lld: seen %d, added %d",
			    (long long)keys[j], seen[j], has[j]);
	}
	agg_free(&a);
	free(keys);
	free(ref);
	free(seen);
	free(has);
}

START_TEST(test_agg_growth_sum)
{
	check_growth(FN_SUM, 200000, 3);
}
END_TEST

START_TEST(test_agg_growth_other)
{
	check_growth(FN_MIN, 50000, 2);
	check_growth(FN_MAX, 50000, 2);
	check_growth(FN_PROD, 50000, 2);
	check_growth(FN_COUNT, 50000, 2);
	check_growth(FN_SUM, 2, 5);
	check_growth(FN_SUM, 1025, 1);
}
END_TEST

/* Clearing forgets every key, INT64_MIN too, and keeps the memory. */
START_TEST(test_agg_clear)
{
	struct agg	a;
	size_t		cap, pos = 0, i;
	int64_t		k, acc;

	agg_init(&a, FN_SUM);
	for (i = 0; i < 5000; i++)
		agg_add(&a, (int64_t)i * 3, 1);
	agg_add(&a, INT64_MIN, 9);
	ck_assert_uint_eq(agg_count(&a), 5001);
	cap = a.cap;
	agg_clear(&a);
	ck_assert_uint_eq(agg_count(&a), 0);
	ck_assert_uint_eq(a.cap, cap);
	ck_assert_int_eq(agg_next(&a, &pos, &k, &acc), 0);

	/* It works again afterwards, without old sums leaking in. */
	agg_add(&a, 3, 5);
	agg_add(&a, INT64_MIN, 4);
	ck_assert_uint_eq(agg_count(&a), 2);
	pos = 0;
	while (agg_next(&a, &pos, &k, &acc)) {
		if (k == 3)
			ck_assert_int_eq(acc, 5);
		else {
			ck_assert_int_eq(k, INT64_MIN);
			ck_assert_int_eq(acc, 4);
		}
	}
	agg_free(&a);
	ck_assert_ptr_null(a.e);
	ck_assert_uint_eq(agg_count(&a), 0);
}
END_TEST

/*
 * A combiner's table and a reduce's, fed the same keys, hold the same
 * groups, but each hashes with a multiplier of its own, so that one
 * table's order of iteration (the order of a shuffle file) is no bad order
 * of insertion for the next.
 */
START_TEST(test_agg_order_independent)
{
	struct agg	a, b;
	size_t		pa = 0, pb = 0, i, n = 0, same = 0;
	int64_t		ka, kb, xa, xb, got;
	uint64_t	s = 7;

	agg_init_combiner(&a, FN_SUM);
	agg_init(&b, FN_SUM);
	ck_assert(a.mult != b.mult);
	ck_assert(a.mult & 1);
	ck_assert(b.mult & 1);
	for (i = 0; i < 20000; i++) {
		int64_t	k = (int64_t)(ck_rand(&s) % 5000) - 2500;

		agg_add(&a, k, (int64_t)i);
		agg_add(&b, k, (int64_t)i);
	}
	ck_assert_uint_eq(agg_count(&a), agg_count(&b));
	while (agg_next(&a, &pa, &ka, &xa)) {
		if (agg_next(&b, &pb, &kb, &xb) != 1)
			ck_abort_msg("table b ended at %zu", n);
		same += (ka == kb);
		/* b holds a's key with a's total. */
		if (!agg_lookup(&b, ka, &got) || got != xa)
			ck_abort_msg("key %lld differs", (long long)ka);
		n++;
	}
	ck_assert_uint_eq(n, agg_count(&a));
	ck_assert_msg(same < n / 10, "%zu of %zu keys in the same order",
	    same, n);
	agg_free(&a);
	agg_free(&b);
}
END_TEST

/*
 * Whatever a process did before, a reduce's table never hashes as the
 * combiners' tables whose files it reads: not the first table of a worker
 * forked again after a crash (once every process started its sequence of
 * multipliers at the same point, and such a reduce took the multiplier of
 * the first tables of the other workers, which wrote its input, and ran
 * 25 to 50 times slower), nor one made after others in a process.  Each
 * child of a fork reports the multipliers of a reduce's table made first
 * and after three others, and of a combiner's.
 */
START_TEST(test_agg_reduce_never_as_combiner)
{
	uint64_t	m[3], comb;
	struct agg	a, b;
	pid_t		pid;
	int		fd[2], i, j, st;

	agg_init_combiner(&a, FN_SUM);
	comb = a.mult;
	agg_free(&a);
	ck_assert(comb & 1);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(pipe(fd), 0);
		if ((pid = fork()) == 0) {
			for (j = 0; j < (i == 0 ? 0 : 3); j++) {
				agg_init_combiner(&b, FN_SUM);
				agg_free(&b);
			}
			agg_init(&a, FN_SUM);
			m[0] = a.mult;
			agg_init(&b, FN_SUM);
			m[1] = b.mult;
			agg_init_combiner(&a, FN_SUM);
			m[2] = a.mult;
			(void)write(fd[1], m, sizeof m);
			_exit(0);
		}
		ck_assert_int_gt(pid, 0);
		close(fd[1]);
		ck_assert_int_eq(read(fd[0], m, sizeof m), (ssize_t)sizeof m);
		close(fd[0]);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(m[0] & 1);
		ck_assert_msg(m[0] != comb && m[1] != comb, "a reduce hashes as "
		    "the combiners: %llx", (unsigned long long)m[0]);
		ck_assert(m[2] == comb);
	}
}
END_TEST

Suite *
agg_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("agg");
	tc = tcase_create("fold");
	tcase_add_test(tc, test_agg_sum);
	tcase_add_test(tc, test_agg_prod);
	tcase_add_test(tc, test_agg_min_max);
	tcase_add_test(tc, test_agg_count);
	tcase_add_test(tc, test_agg_key_extremes);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_agg_growth_sum);
	tcase_add_test(tc, test_agg_growth_other);
	tcase_add_test(tc, test_agg_clear);
	tcase_add_test(tc, test_agg_order_independent);
	tcase_add_test(tc, test_agg_reduce_never_as_combiner);
	suite_add_tcase(s, tc);
	return (s);
}
