/* forkflow: see LICENSE. */
/*
 * The source of a stage that starts with a reduce, in two phases: it
 * merges its bucket of every run file of the stage before into a table
 * (or sorts it, for strings and reducers), spilling sorted runs past its
 * share of memory and at each checkpoint, and writes the groups sorted by
 * key to its reduced file; then it sends the groups on in that order, so
 * that the place it stopped at is the same on every attempt.
 */

#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "forkflow.h"
#include "worker-int.h"

static void	worker_reduce(struct wctx *, int);
static void	worker_emit(struct wctx *, struct batch *, uint64_t);
static void	worker_reduce_run(struct wctx *, struct batch *, int);
static void	worker_merge_tick(void *, uint64_t);
static void	worker_spill_open(struct wctx *, enum vtype, enum vtype,
		    enum op_fn, int);
static void	worker_spill_agg(struct wctx *, struct agg *);
static void	worker_spill_words(struct wctx *, struct sagg *);
static void	worker_spill_sorted(struct wctx *, struct pair *, size_t,
		    enum op_fn, struct arena *);
static void	worker_spill_recs(struct wctx *, const struct pair *, size_t);
static void	worker_merge_spills(struct wctx *, const char *, enum vtype);
static void	worker_reduce_sorted(struct wctx *);

/*
 * A run went to disk because the stage's records outgrew its share of the
 * memory: count it, and crash here if asked to (--inject-crash P:spill:N),
 * after its bytes and before the checkpoint that keeps them.
 */
void
worker_spilled(struct wctx *w, uint64_t bytes)
{
	const struct inject	*ij = &w->job->opts->inject;

	if (bytes == 0)
		return;
	(void)worker_peak_kib();
	w->spilled += bytes;
	if (ij->set && ij->point == INJECT_SPILL && ij->part == w->part &&
	    w->attempt <= ij->attempts && ij->record == w->spills)
		raise(SIGKILL);
	w->spills++;
	w->status->heartbeat++;
}

/* A merge of spills moves: crash here if asked to (P:merge:N). */
static void
worker_merge_tick(void *arg, uint64_t merged)
{
	struct wctx		*w = arg;
	const struct inject	*ij = &w->job->opts->inject;

	if (ij->set && ij->point == INJECT_MERGE && ij->part == w->part &&
	    w->attempt <= ij->attempts && merged >= ij->record)
		raise(SIGKILL);
}

/*
 * How many runs a merge takes in at once: as many as the share has MiB,
 * from 2 to 64 (each reads a window ahead, and gives back what it has
 * read: see merge.c).
 */
unsigned int
worker_fanin(const struct wctx *w)
{
	uint64_t	fanin = w->budget >> 20;

	return ((unsigned int)(fanin < 2 ? 2 : fanin > 64 ? 64 : fanin));
}

/*
 * Open the reduce's spill file, fresh or as the checkpoint left it; one
 * the checkpoint names that is gone or damaged is the worker's own file:
 * it does the stage again.  A merge takes in as many runs at once as the
 * share has MiB, from 2 to 64.
 */
static void
worker_spill_open(struct wctx *w, enum vtype kt, enum vtype vt,
    enum op_fn fn, int resume)
{
	char		*path, *file;
	uint64_t	 fanin = w->budget >> 20;
	int		 gone;

	fanin = fanin < 2 ? 2 : fanin > 64 ? 64 : fanin;
	path = jd_spill(w->job->jobdir, w->s, w->part);
	if (spill_open(&w->spill, path, kt, vt, fn, (unsigned int)fanin,
	    resume ? w->cs.spill_len : 0, resume ? w->cs.spill_runs : 0) != 0) {
		/* Gone is damaged too: the checkpoint was an older one
		 * (the newer damaged), from before the spill's last merge. */
		gone = errno == ENOENT;
		if (!resume || (errno != EINVAL && !gone))
			worker_io_fail(w, path);
		xasprintf(&file, "%s.tmp", jd_spill(NULL, w->s, w->part));
		worker_restart_stage(w, file, gone ? 0 : runfile_bad);
	}
	free(path);
	w->spill.tick = worker_merge_tick;
	w->spill.arg = w;
}

/* Spill the reduce table as one sorted run, and empty it. */
static void
worker_spill_agg(struct wctx *w, struct agg *red)
{
	uint64_t	before = w->spill.bytes;

	if (spill_agg(&w->spill, red) != 0)
		worker_io_fail(w, w->spill.rf.tmp);
	worker_spilled(w, w->spill.bytes - before);
}

/* Spill the word table's groups, sorted, as one run, and empty it. */
static void
worker_spill_words(struct wctx *w, struct sagg *t)
{
	struct pair	*r;
	size_t		 n;

	r = sagg_pairs(t, &n);
	recs_sort(r, n, VT_STR, VT_INT);
	worker_spill_recs(w, r, n);
	free(r);
	sagg_clear(t);
}

/*
 * Sort n records, fold them as far as a later fold can go on from (COLLECT
 * keeps the distinct pairs), and spill them as one run.
 */
static void
worker_spill_sorted(struct wctx *w, struct pair *r, size_t n, enum op_fn fn,
    struct arena *a)
{
	recs_sort(r, n, w->st->in_k, w->st->red_v);
	if (fn != 0)
		n = recs_fold(r, n, w->st->in_k, w->st->red_v, fn,
		    fn == FN_COLLECT, a);
	worker_spill_recs(w, r, n);
	arena_reset(a);
}

/* Spill n records, sorted, as one run. */
static void
worker_spill_recs(struct wctx *w, const struct pair *r, size_t n)
{
	uint64_t	before = w->spill.bytes;

	if (spill_run(&w->spill, r, n) != 0)
		worker_io_fail(w, w->spill.rf.tmp);
	worker_spilled(w, w->spill.bytes - before);
}

/*
 * Merge the spilled runs into the stage's reduced file, with the values
 * of type vt; a run found damaged is the worker's own file: it does the
 * stage again.
 */
static void
worker_merge_spills(struct wctx *w, const char *path, enum vtype vt)
{
	char	*file;

	if (spill_merge(&w->spill, path, vt, w->job->opts->durable) != 0) {
		if (errno != EINVAL)
			worker_io_fail(w, path);
		xasprintf(&file, "%s.tmp", jd_spill(NULL, w->s, w->part));
		worker_restart_stage(w, file, 0);
	}
	w->passes += w->spill.passes;
}

/* A bucket of the stage before's run files, to a reduce (worker_buckets). */
typedef void	bucket_fn(struct wctx *, const struct shuffle_file *,
		    unsigned int, const char *, size_t, void *);

/*
 * Read this worker's bucket of each run of the stage before's run files,
 * from partition first's on: fn takes each bucket's bytes, checked as the
 * file was opened.  The files stay open in keep[] when it is given (the
 * records read point into them), else each is closed once read.
 */
static void
worker_buckets(struct wctx *w, unsigned int first, struct shuffle_file *keep,
    bucket_fn *fn, void *arg)
{
	struct shuffle_file	 one, *sf;
	const char		*p;
	size_t			 len;
	unsigned int		 src, run;

	for (src = first; src < w->job->nparts; src++) {
		if (!worker_source(w, src))
			continue;
		sf = keep != NULL ? &keep[src] : &one;
		worker_open_source(w, src, sf);
		for (run = 0; run < sf->runs; run++) {
			p = shuffle_bytes(sf, run, w->part, &len);
			fn(w, sf, src, p, len, arg);
		}
		if (keep == NULL)
			shuffle_close(sf);
	}
	w->status->bytes_in = w->bytes_in;
}

/* What a sorted reduce holds while it reads. */
struct sorted {
	enum op_fn	 fn;		/* 0: a reducer's, keep all */
	int		 words;		/* strings and counts: a table */
	struct sagg	 t;
	struct pair	*r;
	size_t		 n;
	size_t		 cap;
	struct arena	 a;
};

/* Take a bucket's records into the table or the buffer, spilling them
 * when they reach the share of memory. */
static void
sorted_bucket(struct wctx *w, const struct shuffle_file *sf, unsigned int src,
    const char *p, size_t len, void *arg)
{
	struct sorted		*so = arg;
	const struct str	*k;
	const char		*end = p + len;
	struct pair		 rec;
	int			 got;

	while ((got = shuffle_next(sf, &p, end, &rec)) == 1) {
		if (so->words) {
			k = str_of(rec.k);
			sagg_add(&so->t, k->s, k->len, rec.v);
			if ((++so->n & 0xfff) == 0) {
				progress();
				if (sagg_full(&so->t))
					worker_spill_words(w, &so->t);
			}
			continue;
		}
		if (so->n == so->cap) {
			if (so->cap > 0 && 2 * so->cap * sizeof *so->r >
			    w->budget) {
				worker_spill_sorted(w, so->r, so->n, so->fn,
				    &so->a);
				so->n = 0;
			} else {
				so->cap = so->cap ? so->cap * 2 : 4096;
				so->r = xreallocarray(so->r, so->cap,
				    sizeof *so->r);
			}
		}
		so->r[so->n++] = rec;
		if ((so->n & 1023) == 0)
			w->status->heartbeat++;
	}
	if (got == -1)
		fatalx("%s: damaged record", jd_run(NULL, w->s - 1, src));
	w->bytes_in += len;
}

/*
 * Later stages, first phase, for keys or values that are strings: gather
 * this worker's bucket of every shuffle file, sort it by key and fold each
 * key's group, and write the groups to the stage's reduced file.  Records
 * past the share of memory are sorted, folded as far as they can be, and
 * spilled as a run; the runs are merged at the end.  (This phase takes no
 * checkpoint inside it yet: a crash reads it again.)
 */
static void
worker_reduce_sorted(struct wctx *w)
{
	struct job		*job = w->job;
	struct shuffle_file	*sf;
	struct runfile		 rf;
	struct sorted		 so;
	char			*path;
	uint64_t		 one;
	unsigned int		 src;

	memset(&so, 0, sizeof so);
	so.fn = w->st->reduce_in->kind == OP_REDUCE ? w->st->reduce_in->fn : 0;
	so.words = so.fn != 0 && so.fn != FN_COLLECT && w->st->in_k ==
	    VT_STR && w->st->red_v == VT_INT && w->st->in_v == VT_INT;
	if (so.words) {
		sagg_init(&so.t, so.fn == FN_COUNT ? FN_SUM : so.fn);
		sagg_limit(&so.t, w->budget);
	}
	worker_spill_open(w, w->st->in_k, w->st->red_v, so.fn, 0);
	sf = xcalloc(job->nparts, sizeof *sf);
	worker_buckets(w, 0, sf, sorted_bucket, &so);
	if (so.words) {
		if (w->spills > 0)
			worker_spill_words(w, &so.t);
		free(so.r);
		so.r = sagg_pairs(&so.t, &so.n);
		recs_sort(so.r, so.n, VT_STR, VT_INT);
	} else if (w->spills > 0) {
		worker_spill_sorted(w, so.r, so.n, so.fn, &so.a);
		so.n = 0;
	} else {
		recs_sort(so.r, so.n, w->st->in_k, w->st->red_v);
		if (so.fn != 0)
			so.n = recs_fold(so.r, so.n, w->st->in_k,
			    w->st->red_v, so.fn, 0, &so.a);
	}
	path = jd_reduced(job->jobdir, w->s, w->part);
	if (w->spills > 0)
		worker_merge_spills(w, path, w->st->in_v);
	else {
		one = so.n;
		if (runfile_open_typed(&rf, path, 1, w->st->in_k,
		    w->st->in_v, 0, 0) != 0 || runfile_append_recs(&rf, so.r,
		    &one) != 0 || runfile_seal(&rf, job->opts->durable) != 0)
			worker_io_fail(w, path);
	}
	free(path);
	for (src = 0; src < job->nparts; src++) {
		if (worker_source(w, src))
			shuffle_close(&sf[src]);
	}
	free(sf);
	free(so.r);
	arena_free(&so.a);
	if (so.words)
		sagg_free(&so.t);
	worker_checkpoint(w, PHASE_EMIT, 0, 0);
	spill_remove(&w->spill);
}

/* What an integer reduce holds while it reads. */
struct table {
	struct agg	 red;
	unsigned int	 src;		/* the partition being read */
	uint64_t	 rec;		/* its record being read */
	uint64_t	 skip;		/* records of it read before */
};

/*
 * Add a bucket's pairs to the table, spilling it when it is full and at
 * each checkpoint, which notes the partition and record it stands at.
 */
static void
table_bucket(struct wctx *w, const struct shuffle_file *sf, unsigned int src,
    const char *p, size_t len, void *arg)
{
	struct table		*tb = arg;
	const struct pair	*seg = (const struct pair *)(const void *)p;
	size_t			 i, n = len / sizeof *seg;

	(void)sf;
	if (src != tb->src) {
		tb->src = src;
		tb->rec = tb->skip = 0;
	}
	for (i = 0; i < n; i++, tb->rec++) {
		if (tb->rec < tb->skip)
			continue;
		if (agg_full(&tb->red))
			worker_spill_agg(w, &tb->red);
		agg_add(&tb->red, seg[i].k, seg[i].v);
		w->bytes_in += sizeof *seg;
		if ((tb->rec & 1023) == 1023) {
			w->status->heartbeat++;
			w->status->bytes_in = w->bytes_in;
			if (worker_due(w)) {
				worker_spill_agg(w, &tb->red);
				worker_checkpoint(w, PHASE_READ, src,
				    tb->rec + 1);
			}
		}
	}
}

/*
 * Later stages, first phase: merge this worker's bucket of every shuffle
 * file of the previous stage into the reduce table, then write the groups
 * sorted by key to the stage's reduced file.  A table that reaches the
 * share of memory, and each checkpoint, spill it as a sorted run (a
 * checkpoint writes what came since the one before, not the whole
 * table); the runs and what is left are merged at the end.
 */
static void
worker_reduce(struct wctx *w, int resume)
{
	struct job		*job = w->job;
	struct table		 tb;
	struct runfile		 rf;
	char			*path;
	enum op_fn		 fn;
	int			 merging = resume && w->cs.phase == PHASE_MERGE;

	if (w->st->in_k != VT_INT || w->st->red_v != VT_INT ||
	    w->st->in_v != VT_INT || w->st->reduce_in->kind == OP_REDUCER) {
		worker_reduce_sorted(w);
		return;
	}
	fn = w->st->reduce_in->fn == FN_COUNT ? FN_SUM : w->st->reduce_in->fn;
	memset(&tb, 0, sizeof tb);
	agg_init(&tb.red, fn);
	agg_limit(&tb.red, w->budget);
	worker_spill_open(w, VT_INT, VT_INT, fn, resume);
	if (resume) {
		tb.src = merging ? job->nparts : (unsigned int)w->cs.cursor;
		tb.skip = w->cs.cursor2;
		w->bytes_in = w->cs.bytes_in;
		w->mark = w->bytes_in;
	}
	worker_buckets(w, tb.src, NULL, table_bucket, &tb);

	path = jd_reduced(job->jobdir, w->s, w->part);
	if (w->spill.rf.runs == 0) {
		/* It all fit: the table is the result. */
		if (runfile_open(&rf, path, 1, 0, 0) != 0 ||
		    runfile_append_agg(&rf, &tb.red) != 0 ||
		    runfile_seal(&rf, job->opts->durable) != 0)
			worker_io_fail(w, path);
	} else {
		worker_spill_agg(w, &tb.red);
		if (!merging)
			worker_checkpoint(w, PHASE_MERGE, 0, 0);
		worker_merge_spills(w, path, VT_INT);
	}
	free(path);
	agg_free(&tb.red);
	worker_checkpoint(w, PHASE_EMIT, 0, 0);
	spill_remove(&w->spill);
}

/* Later stages, second phase: send the sorted groups on. */
static void
worker_emit(struct wctx *w, struct batch *b, uint64_t from)
{
	struct shuffle_file	 sf;
	struct pair		 g;
	const char		*p, *end;
	char			*path, *cause, *file;
	size_t			 len;
	uint64_t		 i, n;

	path = jd_reduced(w->job->jobdir, w->s, w->part);
	file = jd_reduced(NULL, w->s, w->part);
	if (shuffle_open(&sf, path, 1, &cause) != 0) {
		if (!sf.damaged)
			fatalx("%s", cause);
		log_warnx("%s", cause);
		worker_restart_stage(w, file, sf.bad);
	}
	free(path);
	if ((p = shuffle_bucket(&sf, 0, 0, &len)) == NULL)
		worker_restart_stage(w, file, sf.bad);
	free(file);
	end = p + len;
	n = sf.records;
	w->status->bytes_total = len;
	w->records_in = from;
	b->n = 0;
	for (i = 0; i < n; i++) {
		if (shuffle_next(&sf, &p, end, &g) != 1) {
			file = jd_reduced(NULL, w->s, w->part);
			worker_restart_stage(w, file, (uint64_t)(p - sf.map));
		}
		if (i < from)
			continue;
		b->k[b->n] = g.k;
		b->v[b->n] = g.v;
		b->pos[b->n] = 0;
		if (++b->n == BATCH_MAX || i + 1 == n) {
			worker_push(w, b);
			batch_init(b);
			w->bytes_in = (uint64_t)(p - (end - len));
			w->status->bytes_in = w->bytes_in;
			/* A reducer's input is cut only at its end. */
			if (worker_due(w) && i + 1 < n && !w->streaming)
				worker_checkpoint(w, PHASE_EMIT, i + 1, 0);
		}
	}
	shuffle_close(&sf);
}

/* The source of a stage after the first: reduce, then send the groups on. */
static void
worker_reduce_run(struct wctx *w, struct batch *b, int resume)
{
	if (w->cs.phase != PHASE_EMIT)
		worker_reduce(w, resume);
	worker_emit(w, b, w->cs.cursor);
}

const struct wsource worker_source_reduce = { "reduce", worker_reduce_run };
