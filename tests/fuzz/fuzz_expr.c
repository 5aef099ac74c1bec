/* forkflow: see LICENSE. */
/*
 * libFuzzer harness for expr.c.  The input is an expression, optionally
 * followed by a NUL and bytes that choose the records to evaluate it on.
 * expr_parse() must either fail with a cause and an error position inside
 * the text, or give an expression whose batch form (expr_eval_batch())
 * agrees with the tree (expr_eval()) record for record: the same values,
 * and on division by zero the same first failing record.  The batch is
 * evaluated into separate output and in place over k or v, across the
 * BATCH_MAX boundary, and twice, so that marks left by one batch would show
 * in the next.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forkflow.h"
#include "fuzz_util.h"

#define NITEMS(a)	(sizeof (a) / sizeof (a)[0])
#define LONG_EXPR	256	/* longer: no more than a batch of records */

/* Where the output of expr_eval_batch() goes. */
enum {
	OUT_APART,
	OUT_K,
	OUT_V,
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int64_t		pick_value(const uint8_t *, size_t, size_t);
static void		check_batch(const struct expr *, const int64_t *,
			    const int64_t *, const int64_t *, size_t, size_t,
			    int, const char *);

/* Values that find edge cases of 64-bit arithmetic. */
static const int64_t specials[] = {
	0, 1, -1, 2, -2, 3, -3, 7, 10, -10, 64, 1000,
	INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1,
	(int64_t)1 << 32, -((int64_t)1 << 32), INT32_MIN, INT32_MAX,
};

/*
 * Value i of the records: from the bytes after the expression if there are
 * any (a special value or a small number, or eight bytes as they are),
 * else from the table of special values: each as a key, with values that
 * vary.
 */
static int64_t
pick_value(const uint8_t *b, size_t n, size_t i)
{
	uint64_t	 x = 0;
	size_t		 j;
	uint8_t		 c;

	if (n == 0)
		return (specials[(i % 2 == 0 ? i / 2 : i * 7) %
		    NITEMS(specials)]);
	c = b[i % n];
	if (c < 2 * NITEMS(specials))
		return (specials[c % NITEMS(specials)]);
	if (c >= 0xf8) {
		for (j = 0; j < 8; j++)
			x |= (uint64_t)b[(i + 1 + j) % n] << (8 * j);
		return ((int64_t)x);
	}
	return ((int64_t)c - 128);
}

/*
 * Evaluate records [lo, n) of k and v as one batch, the output going where
 * mode says, and compare with the tree's values ref and first failure.
 */
static void
check_batch(const struct expr *e, const int64_t *k, const int64_t *v,
    const int64_t *ref, size_t n, size_t lo, int mode, const char *src)
{
	int64_t		*bk, *bv, *out, *bout;
	size_t		 m = n - lo, want = m, failed = (size_t)-1, i;
	int		 r;

	/* The first failure at or after lo, as expr_eval() sees it. */
	for (i = lo; i < n; i++) {
		if (ref[2 * i + 1] != 0) {
			want = i - lo;
			break;
		}
	}

	bk = xcalloc(m + 1, sizeof *bk);
	bv = xcalloc(m + 1, sizeof *bv);
	bout = xcalloc(m + 1, sizeof *bout);
	memcpy(bk, k + lo, m * sizeof *bk);
	memcpy(bv, v + lo, m * sizeof *bv);
	out = mode == OUT_K ? bk : mode == OUT_V ? bv : bout;

	r = expr_eval_batch(e, bk, bv, m, out, &failed);
	if (want == m) {
		if (r != 0)
			fuzz_fail("\"%s\": batch of %zu from %zu (mode %d) "
			    "failed at %zu, expr_eval() does not", src, m, lo,
			    mode, failed);
	} else {
		if (r != -1)
			fuzz_fail("\"%s\": batch of %zu from %zu (mode %d) "
			    "succeeded, expr_eval() fails at %zu", src, m, lo,
			    mode, want);
		if (failed != want)
			fuzz_fail("\"%s\": batch of %zu from %zu (mode %d) "
			    "failed at %zu, expr_eval() at %zu", src, m, lo,
			    mode, failed, want);
	}
	/* Values: all of them, or those before the failure if out is apart. */
	if (want == m || mode == OUT_APART) {
		for (i = 0; i < want; i++) {
			if (out[i] != ref[2 * (lo + i)])
				fuzz_fail("\"%s\": record %zu (k %lld, v %lld)"
				    ": batch %lld, expr_eval() %lld (mode %d, "
				    "from %zu)", src, lo + i,
				    (long long)k[lo + i], (long long)v[lo + i],
				    (long long)out[i],
				    (long long)ref[2 * (lo + i)], mode, lo);
		}
	}
	/* Inputs that are not the output must be left as they were. */
	if (mode != OUT_K && memcmp(bk, k + lo, m * sizeof *bk) != 0)
		fuzz_fail("\"%s\": expr_eval_batch() changed k", src);
	if (mode != OUT_V && memcmp(bv, v + lo, m * sizeof *bv) != 0)
		fuzz_fail("\"%s\": expr_eval_batch() changed v", src);
	free(bk);
	free(bv);
	free(bout);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct expr	*e;
	char		*src, *cause = NULL;
	const uint8_t	*vb = NULL;
	size_t		 len, errpos = (size_t)-1, nvb = 0, n, i;
	int64_t		*k, *v, *ref;
	uint8_t		 ctl = (NITEMS(specials) - 1) << 3;
	int		 mode;

	src = xmalloc(size + 1);
	memcpy(src, data, size);
	src[size] = '\0';
	len = strlen(src);
	if (len < size) {
		/*
		 * After the NUL: a control byte, then the values.  Without
		 * them, one record for each special value.
		 */
		ctl = data[len + 1 < size ? len + 1 : len];
		if (len + 2 < size) {
			vb = data + len + 2;
			nvb = size - len - 2;
		}
	}

	e = expr_parse(src, &cause, &errpos);
	if (e == NULL) {
		if (cause == NULL || *cause == '\0')
			fuzz_fail("\"%s\": failed without a cause", src);
		if (errpos > len)
			fuzz_fail("\"%s\": error position %zu past the end "
			    "(%zu): %s", src, errpos, len, cause);
		free(cause);
		free(src);
		return (0);
	}
	if (cause != NULL)
		fuzz_fail("\"%s\": parsed, yet a cause is set", src);

	/*
	 * Bit 2 of the control byte asks for more than a batch, so that the
	 * batch form is run in two chunks, if the expression is short enough
	 * for that to stay fast; bits 0 and 1 choose the output.
	 */
	n = 1 + (ctl >> 3);
	if ((ctl & 4) && len <= LONG_EXPR)
		n += BATCH_MAX;
	mode = ctl & 3;
	if (mode > OUT_V)
		mode = OUT_APART;

	k = xcalloc(n, sizeof *k);
	v = xcalloc(n, sizeof *v);
	ref = xcalloc(2 * n, sizeof *ref);	/* value, failed */
	for (i = 0; i < n; i++) {
		k[i] = pick_value(vb, nvb, 2 * i);
		v[i] = pick_value(vb, nvb, 2 * i + 1);
		ref[2 * i + 1] = expr_eval(e, k[i], v[i], &ref[2 * i]) != 0;
	}

	/*
	 * All records, with the output asked for and then apart (the marks
	 * of the first batch must not show in the second); then a tail that
	 * starts past the first lanes.
	 */
	check_batch(e, k, v, ref, n, 0, mode, src);
	check_batch(e, k, v, ref, n, 0, OUT_APART, src);
	check_batch(e, k, v, ref, n, n / 3, mode, src);

	free(k);
	free(v);
	free(ref);
	expr_free(e);
	free(src);
	return (0);
}
