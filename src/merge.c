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

#include <sys/mman.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "forkflow.h"

/*
 * A run is read once, front to back, by a merge that reads many at once.
 * The kernel's read-ahead is the device's window (8 MiB on some disks,
 * twice that for MADV_SEQUENTIAL): fan-in windows do not fit a memory
 * cgroup, and pages read ahead for one run were evicted before the merge
 * got to them, and read again (a 300 MB word count in 200 MiB spent 180 s
 * of system time a worker so, against 12 s of its own).  So a merge maps
 * its file MADV_RANDOM (shuffle_for_merge, run_map) and each source asks for its
 * next RUN_WINDOW bytes itself, half a window before it gets there, and
 * gives back the pages it has moved past, less the last RUN_KEEP bytes,
 * where the key of a group being folded may still be read.
 */
#define RUN_WINDOW	(256 << 10)
#define RUN_KEEP	(32 << 10)

static uintptr_t	run_page;
static int		run_keep_pages;

/*
 * Where the job's files are: in memory (tmpfs), pages given back would go
 * to swap, written for nothing, as the files are removed soon after; they
 * are only unmapped there.
 */
void
run_window_dir(const char *dir)
{
	struct statfs	sfs;

	run_keep_pages = statfs(dir, &sfs) == 0 &&
	    (unsigned long)sfs.f_type == TMPFS_MAGIC;
}

/*
 * A reader of a mapped run at p (of a run that ends at end) moves: ask for
 * the window ahead of it, give back the pages behind it.
 */
void
run_window(struct run_window *w, const char *p, const char *end)
{
	uintptr_t	lo, hi;

	if (run_page == 0)
		run_page = (uintptr_t)sysconf(_SC_PAGESIZE);
	if (w->done == NULL)
		w->done = w->ahead = p;
	if (w->ahead < end && p + RUN_WINDOW / 2 >= w->ahead) {
		lo = (uintptr_t)w->ahead & ~(run_page - 1);
		hi = (uintptr_t)end - (uintptr_t)w->ahead > RUN_WINDOW ?
		    (uintptr_t)w->ahead + RUN_WINDOW : (uintptr_t)end;
		(void)madvise((void *)lo, hi - lo, MADV_WILLNEED);
		w->ahead = (const char *)hi;
	}
	if (p - w->done < RUN_WINDOW / 2 + RUN_KEEP)
		return;
	/* Only whole pages of this run: a neighbour may share the ends. */
	lo = ((uintptr_t)w->done + run_page - 1) & ~(run_page - 1);
	hi = ((uintptr_t)p - RUN_KEEP) & ~(run_page - 1);
#ifdef MADV_PAGEOUT
	if (hi > lo && !run_keep_pages &&
	    madvise((void *)lo, hi - lo, MADV_PAGEOUT) == 0)
		lo = hi;
#endif
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
	w->done = (const char *)hi;
}

/* Map len bytes of fd for a merge that reads it through run_window(). */
void *
run_map(int fd, size_t len)
{
	void	*map;

	map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map != MAP_FAILED)
		(void)madvise(map, len, MADV_RANDOM);
	return (map);
}

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
	const char		*at = r->p;
	int			 got;

	run_window(&r->win, r->p, r->end);
	got = shuffle_next(r->sf, &r->p, r->end, &ks->cur);
	if (r->sum == NULL)
		return (got);
	/* Checked as it is read: the bucket's sum at its end. */
	if (got == 1)
		XXH3_64bits_update(r->sum, at, (size_t)(r->p - at));
	else if (got == 0 && XXH3_64bits_digest(r->sum) != r->want)
		got = -1;
	return (got);
}

/*
 * Make r the source of bucket b of run n of sf, a file mapped for a merge.
 * With check, the bucket is checked against its sum as it is read (its
 * next() fails at its end if the sum does not match), rather than read
 * once to be checked and again to be merged.
 */
void
kmerge_run_init(struct kmerge_run *r, const struct shuffle_file *sf,
    unsigned int n, unsigned int b, int check)
{
	size_t	len;

	memset(r, 0, sizeof *r);
	r->ks.next = kmerge_run_next;
	r->sf = sf;
	r->p = shuffle_bytes(sf, n, b, &len);
	r->end = r->p + len;
	if (check) {
		if ((r->sum = XXH3_createState()) == NULL)
			fatal("XXH3_createState");
		(void)XXH3_64bits_reset(r->sum);
		r->want = sf->runsum[(size_t)n * sf->nparts + b];
	}
}

void
kmerge_run_free(struct kmerge_run *r)
{
	if (r->sum != NULL)
		XXH3_freeState(r->sum);
	r->sum = NULL;
}
