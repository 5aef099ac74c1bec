/* forkflow: see LICENSE. */
/*
 * The k-way merge: sources of records, each sorted by key then value, read
 * as one sorted sequence.  A binary heap holds the sources by their
 * current record; ties go to the source added first, so a merge gives the
 * same bytes on every run.  The output's merge of a job's parts, the merge
 * of a part's runs and the merge of a reduce's spills all take it; what a
 * source is (an array, a file read through a buffer, a mapped run) is the
 * caller's, behind its next() function.
 */

#include <stdlib.h>

#include "forkflow.h"

/* Is a before b?  Key, then value, then the source added first. */
static inline int
kmerge_before(const struct kmerge *m, const struct kmerge_src *a,
    const struct kmerge_src *b)
{
	int	c;

	if (m->kt == VT_INT) {
		if (a->cur.k != b->cur.k)
			return (a->cur.k < b->cur.k);
	} else if ((c = val_cmp(m->kt, a->cur.k, b->cur.k)) != 0)
		return (c < 0);
	if (m->vt == VT_INT) {
		if (a->cur.v != b->cur.v)
			return (a->cur.v < b->cur.v);
	} else if ((c = val_cmp(m->vt, a->cur.v, b->cur.v)) != 0)
		return (c < 0);
	return (a->idx < b->idx);
}

/* Restore the heap below slot i. */
static void
kmerge_sift(struct kmerge *m, size_t i)
{
	struct kmerge_src	*t;
	size_t			 c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= m->n)
			break;
		if (c + 1 < m->n && kmerge_before(m, m->heap[c + 1],
		    m->heap[c]))
			c++;
		if (!kmerge_before(m, m->heap[c], m->heap[i]))
			break;
		t = m->heap[c];
		m->heap[c] = m->heap[i];
		m->heap[i] = t;
		i = c;
	}
}

/* Start a merge of at most max sources of records of types kt and vt. */
void
kmerge_init(struct kmerge *m, enum vtype kt, enum vtype vt, size_t max)
{
	m->kt = kt;
	m->vt = vt;
	m->n = m->added = 0;
	m->heap = xcalloc(max + 1, sizeof *m->heap);
}

void
kmerge_free(struct kmerge *m)
{
	free(m->heap);
	m->heap = NULL;
	m->n = 0;
}

/*
 * Add a source (its next set), reading its first record (an empty one is
 * left out).
 * Sources are added in order, then kmerge_start() makes the heap.
 * Returns 0, or -1 if next() failed.
 */
int
kmerge_add(struct kmerge *m, struct kmerge_src *s)
{
	int	r;

	s->idx = m->added++;
	if ((r = s->next(s)) == -1)
		return (-1);
	if (r == 1)
		m->heap[m->n++] = s;
	return (0);
}

void
kmerge_start(struct kmerge *m)
{
	size_t	i;

	for (i = m->n; i > 0; i--)
		kmerge_sift(m, i - 1);
}

/* The source with the least record, or NULL when every one is done. */
struct kmerge_src *
kmerge_top(const struct kmerge *m)
{
	return (m->n > 0 ? m->heap[0] : NULL);
}

/* Move past the least record.  Returns 0, or -1 if next() failed. */
int
kmerge_pop(struct kmerge *m)
{
	int	r;

	if ((r = m->heap[0]->next(m->heap[0])) == -1)
		return (-1);
	if (r == 0)
		m->heap[0] = m->heap[--m->n];
	kmerge_sift(m, 0);
	return (0);
}

/* The next record of a sorted array. */
int
kmerge_array_next(struct kmerge_src *ks)
{
	struct kmerge_array	*a = (struct kmerge_array *)ks;

	if (a->n == 0)
		return (0);
	ks->cur = *a->p++;
	a->n--;
	return (1);
}

/* The next record of a bucket of a run file: -1 if it does not decode. */
int
kmerge_run_next(struct kmerge_src *ks)
{
	struct kmerge_run	*r = (struct kmerge_run *)ks;

	return (shuffle_next(r->sf, &r->p, r->end, &ks->cur));
}
