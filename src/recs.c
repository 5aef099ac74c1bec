/* forkflow: see LICENSE. */
/*
 * Record buffers: records of any types kept in memory, sorted, and folded
 * by key.  This is how a stage combines and reduces records whose keys or
 * values are strings: it sorts them by key, then value, and folds each
 * run of equal keys (integer pairs take the faster hash table of agg.c).
 * Sorting first also gives a reduce its groups in key order, so that a
 * stage resumed from a checkpoint sends them on in the same order.
 */

#include <stdlib.h>
#include <string.h>

#include "forkflow.h"

struct schema_ctx {
	enum vtype	kt;
	enum vtype	vt;
};

/* Add a record, copying its strings into the buffer's arena. */
void
recbuf_add(struct recbuf *rb, int64_t k, int64_t v)
{
	if (rb->n == rb->cap) {
		rb->cap = rb->cap ? rb->cap * 2 : 4096;
		rb->r = xreallocarray(rb->r, rb->cap, sizeof *rb->r);
	}
	rb->r[rb->n].k = val_copy(rb->kt, &rb->a, k);
	rb->r[rb->n].v = val_copy(rb->vt, &rb->a, v);
	rb->n++;
}

/* Empty the buffer, keeping its memory. */
void
recbuf_clear(struct recbuf *rb)
{
	rb->n = 0;
	arena_reset(&rb->a);
}

void
recbuf_free(struct recbuf *rb)
{
	free(rb->r);
	arena_free(&rb->a);
	memset(rb, 0, sizeof *rb);
}

static int
rec_cmp(const void *x, const void *y, void *arg)
{
	const struct schema_ctx	*sc = arg;
	const struct pair	*a = x, *b = y;
	int			 c;

	/* A sort of millions of strings is long: it shows it moves. */
	progress();
	if ((c = val_cmp(sc->kt, a->k, b->k)) != 0)
		return (c);
	return (val_cmp(sc->vt, a->v, b->v));
}

/*
 * The first 8 bytes of a string key, big-endian, 0 past its end, as an
 * int64 whose order is theirs: keys whose prefixes differ compare as
 * their prefixes do; keys with the same prefix must be compared whole.
 */
static int64_t
key_prefix(int64_t k)
{
	const struct str	*x = str_of(k);
	uint64_t		 p = 0;
	size_t			 i;

	for (i = 0; i < 8 && i < x->len; i++)
		p |= (uint64_t)(unsigned char)x->s[i] << (56 - 8 * i);
	return ((int64_t)(p ^ ((uint64_t)1 << 63)));
}

/*
 * Records with string keys: a radix sort of their keys' prefixes (with
 * sort_pairs, beside their places), the records put in that order, then
 * the runs of equal prefixes sorted whole.  Words are mostly shorter than
 * a prefix: most comparisons are never made.
 */
static void
recs_sort_strkeys(struct pair *r, size_t n, struct schema_ctx *sc)
{
	struct pair	*ix, *tmp;
	size_t		 i, j;

	ix = xreallocarray(NULL, n, sizeof *ix);
	for (i = 0; i < n; i++) {
		ix[i].k = key_prefix(r[i].k);
		ix[i].v = (int64_t)i;
	}
	sort_pairs(ix, n);
	tmp = xreallocarray(NULL, n, sizeof *tmp);
	for (i = 0; i < n; i++)
		tmp[i] = r[ix[i].v];
	memcpy(r, tmp, n * sizeof *r);
	free(tmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && ix[j].k == ix[i].k; j++)
			;
		if (j - i > 1)
			qsort_r(r + i, j - i, sizeof *r, rec_cmp, sc);
		if ((i & 0xffff) == 0)
			progress();
	}
	free(ix);
}

/* Sort records of the given types by key, then value. */
void
recs_sort(struct pair *r, size_t n, enum vtype kt, enum vtype vt)
{
	struct schema_ctx	sc;

	/* No records: r may be NULL, which qsort_r must not be given. */
	if (n < 2)
		return;
	if (kt == VT_INT && vt == VT_INT) {
		sort_pairs(r, n);
		return;
	}
	sc.kt = kt;
	sc.vt = vt;
	if (kt == VT_STR && n > 64)
		recs_sort_strkeys(r, n, &sc);
	else
		qsort_r(r, n, sizeof *r, rec_cmp, &sc);
}

/* Join the distinct values of a group, sorted, with commas. */
static int64_t
recs_join(const struct pair *g, size_t n, enum vtype vt, struct arena *a)
{
	struct str	*x;
	size_t		 i, len = 0;
	char		*p;

	for (i = 0; i < n; i++) {
		if (i > 0 && val_eq(vt, g[i].v, g[i - 1].v))
			continue;
		len += val_width(vt, g[i].v) + 1;
	}
	x = arena_alloc(a, sizeof *x + len);
	p = x->s;
	for (i = 0; i < n; i++) {
		if (i > 0 && val_eq(vt, g[i].v, g[i - 1].v))
			continue;
		if (p != x->s)
			*p++ = ',';
		p = val_format(vt, OUT_TSV, p, g[i].v);
	}
	x->len = (uint32_t)(p - x->s);
	return ((int64_t)(uintptr_t)x);
}

/*
 * Fold sorted records by key, in place: one record per key.  To combine
 * (before a shuffle), COUNT counts records and COLLECT keeps the distinct
 * pairs; to reduce (after it), COUNT adds the counts and COLLECT joins the
 * distinct values.  New strings go into the arena a.  Returns the number
 * of records left.
 */
size_t
recs_fold(struct pair *r, size_t n, enum vtype kt, enum vtype vt,
    enum op_fn fn, int combine, struct arena *a)
{
	size_t	i, j, out = 0;
	int64_t	acc;

	for (i = 0; i < n; i = j) {
		progress();
		for (j = i + 1; j < n && val_eq(kt, r[j].k, r[i].k); j++)
			;
		if (fn == FN_COLLECT && combine) {
			/* Distinct pairs: the reducer joins them. */
			r[out++] = r[i];
			for (size_t m = i + 1; m < j; m++) {
				if (!val_eq(vt, r[m].v, r[out - 1].v))
					r[out++] = r[m];
			}
			continue;
		}
		switch (fn) {
		case FN_COLLECT:
			acc = recs_join(r + i, j - i, vt, a);
			break;
		case FN_COUNT:
			if (combine) {
				acc = (int64_t)(j - i);
				break;
			}
			/* FALLTHROUGH */
		default:
			acc = r[i].v;
			for (size_t m = i + 1; m < j; m++)
				acc = fold_one(fn == FN_COUNT ? FN_SUM : fn,
				    vt, acc, r[m].v);
			break;
		}
		r[out].k = r[i].k;
		r[out].v = acc;
		out++;
	}
	return (out);
}

/* Fold one value into an accumulator. */
int64_t
fold_one(enum op_fn fn, enum vtype vt, int64_t acc, int64_t x)
{
	switch (fn) {
	case FN_PROD:
		return ((int64_t)((uint64_t)acc * (uint64_t)x));
	case FN_MIN:
		return (val_cmp(vt, x, acc) < 0 ? x : acc);
	case FN_MAX:
		return (val_cmp(vt, x, acc) > 0 ? x : acc);
	default:
		return ((int64_t)((uint64_t)acc + (uint64_t)x));
	}
}
