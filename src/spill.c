/* forkflow: see LICENSE. */
/*
 * Spills: what a worker writes when its table or its records outgrow its
 * share of the memory budget.  Each spill is one run, sorted by key then
 * value, appended to the stage's spill file (sS/wP.spill, a run file of
 * one bucket); a checkpoint notes the file's length, so a run torn by a
 * crash is cut off when the worker resumes, as GNU sort's temporary files
 * and Spark's ExternalSorter spills are thrown away with their task.
 *
 * At the end of the stage the runs are merged, k at a time (the fan-in,
 * from the budget): while there are more than k, each k of them become one
 * run of the next pass's file; the last pass writes the stage's output,
 * one run.  The merge combines equal keys as it goes (the reduce function
 * is associative), keeps the distinct pairs of a COLLECT until the last
 * pass joins them, and keeps every record for a streaming reducer.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"

/* How a merge pass treats records of equal keys. */
enum spill_pass {
	PASS_KEEP,			/* every record (a reducer's input) */
	PASS_COMBINE,			/* one per key, or per pair (COLLECT) */
	PASS_REDUCE,			/* one per key; COLLECT joins values */
};

/*
 * Start or resume the spill file at path: new when len is 0, else cut to
 * len bytes and runs runs, as a checkpoint noted them.  fn is the reduce
 * function (FN_COUNT's partial counts add up), or 0 to keep every record.
 */
int
spill_open(struct spill *sp, const char *path, enum vtype kt, enum vtype vt,
    enum op_fn fn, unsigned int fanin, uint64_t len, unsigned int runs)
{
	memset(sp, 0, sizeof *sp);
	sp->kt = kt;
	sp->vt = vt;
	sp->fn = fn;
	sp->fanin = fanin < 2 ? 2 : fanin;
	sp->path = xstrdup(path);
	if (runfile_open_typed(&sp->rf, path, 1, kt, vt, len, runs) != 0) {
		free(sp->path);
		sp->path = NULL;
		return (-1);
	}
	return (0);
}

void
spill_free(struct spill *sp)
{
	runfile_abort(&sp->rf);
	free(sp->path);
	sp->path = NULL;
}

/* Add n records, sorted by key then value, as one run. */
int
spill_run(struct spill *sp, const struct pair *r, size_t n)
{
	uint64_t	before = sp->rf.len, count = n;

	if (n == 0)
		return (0);
	if (runfile_append_recs(&sp->rf, r, &count) != 0)
		return (-1);
	sp->bytes += sp->rf.len - before;
	return (0);
}

/* Add an aggregation table as one run, sorted by key, and empty it. */
int
spill_agg(struct spill *sp, struct agg *a)
{
	uint64_t	before = sp->rf.len;

	if (agg_count(a) == 0)
		return (0);
	if (runfile_append_agg(&sp->rf, a) != 0)
		return (-1);
	sp->bytes += sp->rf.len - before;
	agg_clear(a);
	return (0);
}

/* A group of equal keys being folded into one record. */
struct spill_group {
	int		 open;
	struct pair	 rec;
	struct buf	 join;		/* COLLECT: the distinct values */
	int64_t		 last_v;	/* the last value joined */
	struct arena	 a;
};

/* Write the folded group, if there is one. */
static int
spill_group_out(struct spill *sp, struct spill_group *g, struct runfile *out,
    enum spill_pass pass)
{
	struct str	*x;
	int		 r;

	if (!g->open)
		return (0);
	g->open = 0;
	if (pass == PASS_REDUCE && sp->fn == FN_COLLECT) {
		x = arena_alloc(&g->a, sizeof *x + g->join.len);
		memcpy(x->s, g->join.data, g->join.len);
		x->len = (uint32_t)g->join.len;
		g->join.len = 0;
		r = runfile_run_put(out, g->rec.k, (int64_t)(uintptr_t)x);
		arena_reset(&g->a);
		return (r);
	}
	return (runfile_run_put(out, g->rec.k, g->rec.v));
}

/* Take one record into the output of a pass. */
static int
spill_take(struct spill *sp, struct spill_group *g, const struct pair *rec,
    struct runfile *out, enum spill_pass pass)
{
	char	*p;
	size_t	 w;

	if (pass == PASS_KEEP)
		return (runfile_run_put(out, rec->k, rec->v));
	if (g->open && val_eq(sp->kt, g->rec.k, rec->k)) {
		if (sp->fn != FN_COLLECT) {
			g->rec.v = fold_one(sp->fn == FN_COUNT ? FN_SUM :
			    sp->fn, sp->vt, g->rec.v, rec->v);
			return (0);
		}
		/* Distinct values: equal ones are next to each other. */
		if (val_eq(sp->vt, g->last_v, rec->v))
			return (0);
		if (pass == PASS_COMBINE)
			return (runfile_run_put(out, rec->k, rec->v));
	} else {
		if (spill_group_out(sp, g, out, pass) != 0)
			return (-1);
		g->open = 1;
		g->rec = *rec;
		if (sp->fn != FN_COLLECT)
			return (0);
		if (pass == PASS_COMBINE) {
			g->open = 0;	/* COLLECT's pairs go out as they are */
			g->last_v = rec->v;
			return (runfile_run_put(out, rec->k, rec->v));
		}
	}
	if (pass == PASS_COMBINE) {
		g->last_v = rec->v;
		return (0);
	}
	/* PASS_REDUCE of COLLECT: join the value. */
	w = val_width(sp->vt, rec->v) + 1;
	p = buf_reserve(&g->join, w);
	if (g->join.len > 0)
		*p++ = ',';
	p = val_format(sp->vt, OUT_TSV, p, rec->v);
	g->join.len = (size_t)(p - g->join.data);
	g->last_v = rec->v;
	return (0);
}

/*
 * Merge runs [first, first + n) of the mapped file sf into one run of out.
 * Each run is checked against its sum as it is read: a damaged one fails
 * the merge at its end, before out is sealed.
 */
static int
spill_merge_runs(struct spill *sp, struct shuffle_file *sf, unsigned int first,
    unsigned int n, struct runfile *out, enum spill_pass pass)
{
	struct kmerge_run	*src;
	struct kmerge		 m;
	struct kmerge_src	*top;
	struct spill_group	 g;
	size_t			 i;
	uint64_t		 moved = 0;
	int			 r = -1;

	src = xcalloc(n, sizeof *src);
	kmerge_init(&m, sp->kt, sp->vt, n);
	memset(&g, 0, sizeof g);
	errno = EINVAL;		/* a damaged run, unless a write says */
	for (i = 0; i < n; i++)
		kmerge_run_init(&src[i], sf, first + (unsigned int)i, 0, 1);
	for (i = 0; i < n; i++) {
		if (kmerge_add(&m, &src[i].ks) != 0)
			goto out;
	}
	kmerge_start(&m);
	if (runfile_run_begin(out) != 0)
		goto out;
	while ((top = kmerge_top(&m)) != NULL) {
		if (spill_take(sp, &g, &top->cur, out, pass) != 0)
			goto out;
		if (kmerge_pop(&m) != 0) {
			errno = EINVAL;
			goto out;
		}
		/* A long merge shows it moves. */
		if ((++moved & 0xfff) == 0) {
			progress();
			if (sp->tick != NULL)
				sp->tick(sp->arg, moved);
		}
	}
	if (spill_group_out(sp, &g, out, pass) != 0 ||
	    runfile_run_end(out) != 0)
		goto out;
	r = 0;
out:
	buf_free(&g.join);
	arena_free(&g.a);
	kmerge_free(&m);
	for (i = 0; i < n; i++)
		kmerge_run_free(&src[i]);
	free(src);
	return (r);
}

/* Open a pass's input: the spill file as far as it is written, or a
 * pass's sealed file. */
static int
spill_map(struct spill *sp, struct shuffle_file *sf, const char *path,
    int first)
{
	char	*cause = NULL;
	int	 r;

	if (first)
		r = shuffle_open_len(sf, sp->rf.tmp, 1, sp->rf.len, &cause);
	else
		r = shuffle_open(sf, path, 1, &cause);
	if (r != 0) {
		log_warnx("%s", cause);
		free(cause);
		errno = EINVAL;
		return (-1);
	}
	shuffle_for_merge(sf);
	return (0);
}

/*
 * Map the runs of the spill file for a merge of at most the fan-in: while
 * there are more, each fan-in of them become one run of the next pass's
 * file (path.1, path.2, ...; the one before is removed once the next is
 * written).  Equal keys are combined as they meet, or every record kept
 * without a reduce function.  Returns 0 with sf mapped and *cur the pass
 * file it maps (NULL: the spill file itself), for the caller to remove
 * once merged; or -1.
 */
static int
spill_narrow(struct spill *sp, struct shuffle_file *sf, char **cur)
{
	struct runfile	 next;
	char		*name;
	unsigned int	 pass = 0, r, n;

	*cur = NULL;
	for (;;) {
		if (spill_map(sp, sf, *cur, pass == 0) != 0)
			break;
		sp->passes++;
		if (sf->runs <= sp->fanin)
			return (0);
		xasprintf(&name, "%s.%u", sp->path, ++pass);
		if (runfile_open_typed(&next, name, 1, sp->kt, sp->vt, 0,
		    0) != 0) {
			free(name);
			shuffle_close(sf);
			break;
		}
		for (r = 0; r < sf->runs; r += n) {
			n = sf->runs - r < sp->fanin ? sf->runs - r : sp->fanin;
			if (spill_merge_runs(sp, sf, r, n, &next, sp->fn == 0 ?
			    PASS_KEEP : PASS_COMBINE) != 0)
				break;
		}
		shuffle_close(sf);
		if (r < sf->runs || runfile_seal(&next, 0) != 0) {
			runfile_abort(&next);
			free(name);
			break;
		}
		if (*cur != NULL)
			(void)unlink(*cur);
		free(*cur);
		*cur = name;
	}
	if (*cur != NULL)
		(void)unlink(*cur);
	free(*cur);
	*cur = NULL;
	return (-1);
}

/*
 * Merge the runs of the spill file into out, as one run of values of type
 * out_vt, in as many passes as the fan-in needs (spill_narrow()); the
 * last reduces equal keys (or keeps every record, without a reduce
 * function).  The spill file stays as it is, for a resume, until
 * spill_remove().
 */
int
spill_merge(struct spill *sp, const char *out, enum vtype out_vt, int durable)
{
	struct shuffle_file	 sf;
	struct runfile		 next;
	char			*cur;
	int			 ret = -1;

	if (sp->rf.fd != -1 && durable && runfile_sync(&sp->rf) != 0)
		return (-1);
	if (spill_narrow(sp, &sf, &cur) != 0)
		return (-1);
	if (runfile_open_typed(&next, out, 1, sp->kt, out_vt, 0, 0) != 0 ||
	    spill_merge_runs(sp, &sf, 0, sf.runs, &next, sp->fn == 0 ?
	    PASS_KEEP : PASS_REDUCE) != 0 || runfile_seal(&next, durable) != 0)
		runfile_abort(&next);
	else
		ret = 0;
	shuffle_close(&sf);
	if (cur != NULL)
		(void)unlink(cur);
	free(cur);
	return (ret);
}

/*
 * Map the runs of rf, a run file of one bucket being written (records of
 * types kt and vt, every one kept), for a merge of at most fanin of them,
 * as spill_narrow() does.  *passes counts the passes made.
 */
int
runs_narrow(const struct runfile *rf, enum vtype kt, enum vtype vt,
    unsigned int fanin, struct shuffle_file *sf, char **cur,
    unsigned int *passes)
{
	struct spill	sp;
	int		r;

	memset(&sp, 0, sizeof sp);
	sp.rf = *rf;
	sp.path = rf->tmp;
	sp.kt = kt;
	sp.vt = vt;
	sp.fanin = fanin < 2 ? 2 : fanin;
	r = spill_narrow(&sp, sf, cur);
	*passes += sp.passes > 0 ? sp.passes - 1 : 0;
	return (r);
}

/* Remove the spill file: the stage's output is committed. */
void
spill_remove(struct spill *sp)
{
	if (sp->rf.tmp != NULL)
		(void)unlink(sp->rf.tmp);
	spill_free(sp);
}
