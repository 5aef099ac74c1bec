/* forkflow: see LICENSE. */
/*
 * Hash aggregation: an open-addressing table from int64 key to int64
 * accumulator, used by the combiner before a shuffle and by the reduce that
 * follows it.  Every int64 is a valid key, so the empty-slot sentinel
 * (INT64_MIN) is itself stored apart, in its own flag and accumulator.
 */

#include <stdlib.h>
#include <string.h>

#include "forkflow.h"

#define AGG_EMPTY	INT64_MIN

static void	agg_grow(struct agg *);
static void	agg_set_spill(struct agg *);

/*
 * Multiply-shift hashing.  Tables feed each other: a shuffle file holds a
 * combiner's keys in the order of its slots, and the next stage's reduce
 * adds them in that order.  With the same multiplier in both, keys would
 * arrive sorted by their slot in the new table and pile up in long runs
 * while it is small (a reduce 25 to 50 times slower).  So a combiner and
 * a reduce hash with two different multipliers, the same in every process
 * and on every run: Fibonacci hashing's golden ratio for a combiner, which
 * spreads runs of keys best (the integer program's combiner is its hot
 * table), and another constant, odd and well mixed, for a reduce.  (Files a reduce table writes for itself, its snapshots, are
 * sorted by key, which it spreads well.)
 */
static inline size_t
agg_slot(const struct agg *a, int64_t k)
{
	return ((size_t)(((uint64_t)k * a->mult) >> (64 - a->bits)));
}

#define AGG_MULT_COMBINE	0x9E3779B97F4A7C15ULL
#define AGG_MULT_REDUCE		0xC2B2AE3D27D4EB4FULL

static void
agg_init_mult(struct agg *a, enum op_fn fn, uint64_t mult)
{
	size_t	i;

	memset(a, 0, sizeof *a);
	a->fn = fn;
	a->bits = 10;
	a->mult = mult;
	a->cap = (size_t)1 << a->bits;
	a->e = xreallocarray(NULL, a->cap, sizeof *a->e);
	for (i = 0; i < a->cap; i++)
		a->e[i].k = AGG_EMPTY;
	agg_set_spill(a);
}

/*
 * Keep the table within bytes: agg_full() says so when the next new key
 * would make it grow past them.  It grows by doubling, with the old slots
 * and the new ones both held while it moves: three times its size.
 */
void
agg_limit(struct agg *a, size_t bytes)
{
	a->max_bytes = bytes;
	agg_set_spill(a);
}

static void
agg_set_spill(struct agg *a)
{
	if (a->max_bytes != 0 && 3 * a->cap * sizeof *a->e > a->max_bytes)
		a->spill_at = a->cap / 2;
	else
		a->spill_at = SIZE_MAX;
}

/* The memory the table takes. */
size_t
agg_bytes(const struct agg *a)
{
	return (a->cap * sizeof *a->e);
}

/* Create a table for the reduce function fn, as a reduce. */
void
agg_init(struct agg *a, enum op_fn fn)
{
	agg_init_mult(a, fn, AGG_MULT_REDUCE);
}

/* Create a table for the reduce function fn, as a combiner. */
void
agg_init_combiner(struct agg *a, enum op_fn fn)
{
	agg_init_mult(a, fn, AGG_MULT_COMBINE);
}

void
agg_free(struct agg *a)
{
	free(a->e);
	a->e = NULL;
	a->used = 0;
	a->has_min = 0;
}

/* Forget every key, keeping the memory. */
void
agg_clear(struct agg *a)
{
	size_t	i;

	for (i = 0; i < a->cap; i++)
		a->e[i].k = AGG_EMPTY;
	a->used = 0;
	a->has_min = 0;
}

static void
agg_grow(struct agg *a)
{
	struct agg_entry	*old = a->e;
	size_t			 oldcap = a->cap, i, j;

	a->bits++;
	a->cap <<= 1;
	a->e = xreallocarray(NULL, a->cap, sizeof *a->e);
	for (i = 0; i < a->cap; i++)
		a->e[i].k = AGG_EMPTY;
	for (i = 0; i < oldcap; i++) {
		if ((i & 0xffff) == 0)
			progress();
		if (old[i].k == AGG_EMPTY)
			continue;
		j = agg_slot(a, old[i].k);
		while (a->e[j].k != AGG_EMPTY)
			j = (j + 1) & (a->cap - 1);
		a->e[j] = old[i];
	}
	free(old);
	agg_set_spill(a);
}

/* Combine acc and x with the table's reduce function. */
static inline int64_t
agg_merge(enum op_fn fn, int64_t acc, int64_t x)
{
	switch (fn) {
	case FN_PROD:
		return ((int64_t)((uint64_t)acc * (uint64_t)x));
	case FN_MIN:
		return (x < acc ? x : acc);
	case FN_MAX:
		return (x > acc ? x : acc);
	default:	/* FN_SUM, FN_COUNT (x is a count) */
		return ((int64_t)((uint64_t)acc + (uint64_t)x));
	}
}

/* Merge the partial aggregate x into key k. */
void
agg_add(struct agg *a, int64_t k, int64_t x)
{
	size_t	j, mask = a->cap - 1;

	if (k == AGG_EMPTY) {
		a->min_acc = a->has_min ? agg_merge(a->fn, a->min_acc, x) : x;
		a->has_min = 1;
		return;
	}
	j = agg_slot(a, k);
	for (;;) {
		if (a->e[j].k == k) {
			a->e[j].acc = agg_merge(a->fn, a->e[j].acc, x);
			return;
		}
		if (a->e[j].k == AGG_EMPTY)
			break;
		j = (j + 1) & mask;
	}
	a->e[j].k = k;
	a->e[j].acc = x;
	if (++a->used * 2 > a->cap)	/* keep the load under 1/2 */
		agg_grow(a);
}

/* Find key k: 1 with its accumulator, or 0 if the table lacks it. */
int
agg_lookup(const struct agg *a, int64_t k, int64_t *acc)
{
	size_t	j;

	if (k == AGG_EMPTY) {
		*acc = a->min_acc;
		return (a->has_min);
	}
	for (j = agg_slot(a, k); a->e[j].k != AGG_EMPTY;
	    j = (j + 1) & (a->cap - 1)) {
		if (a->e[j].k == k) {
			*acc = a->e[j].acc;
			return (1);
		}
	}
	return (0);
}

/*
 * Add a batch of raw records: each value counts as 1 for COUNT, else as
 * itself.
 */
void
agg_add_batch(struct agg *a, const int64_t *k, const int64_t *v, size_t n)
{
	size_t	i;

	if (a->fn == FN_COUNT) {
		for (i = 0; i < n; i++)
			agg_add(a, k[i], 1);
	} else {
		for (i = 0; i < n; i++)
			agg_add(a, k[i], v[i]);
	}
}

/* Number of keys held. */
size_t
agg_count(const struct agg *a)
{
	return (a->used + (a->has_min ? 1 : 0));
}

/*
 * Iterate: *pos starts at 0; returns 0 at the end.  The order is that of
 * the table, which is deterministic for a given sequence of additions.
 */
int
agg_next(const struct agg *a, size_t *pos, int64_t *k, int64_t *acc)
{
	while (*pos < a->cap) {
		if (a->e[*pos].k != AGG_EMPTY) {
			*k = a->e[*pos].k;
			*acc = a->e[*pos].acc;
			(*pos)++;
			return (1);
		}
		(*pos)++;
	}
	if (*pos == a->cap && a->has_min) {
		*k = AGG_EMPTY;
		*acc = a->min_acc;
		(*pos)++;
		return (1);
	}
	return (0);
}
