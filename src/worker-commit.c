/* forkflow: see LICENSE. */
/*
 * A worker's sinks, and the commit of a stage.  What reaches the end of a
 * stage's operators is combined in a table (integers), counted (words) or
 * kept in a record buffer (the rest), and goes to the stage's run file
 * as one run at each checkpoint, or when it outgrows its share of memory:
 * bucketed by partition before a shuffle, sorted in the last stage, whose
 * runs are merged into the partition's part at its end.
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

static void	worker_merge_runs(struct wctx *, struct shuffle_file *,
		    const char *, const struct outspec *, const char *);
static int	worker_output_whole(struct wctx *, unsigned int, const char *,
		    const struct ckpt_state *);

/* The end of a stage's operators: keep what reaches it, to combine. */
void
worker_sink(void *arg, struct batch *b)
{
	struct wctx	*w = arg;
	uint32_t	 op = w->status->op;

	w->records_out += b->n;
	if (w->st->reduce_out != NULL)
		w->status->op = (uint32_t)(w->st->reduce_out -
		    w->job->prog->ops);
	w->out->put(w, b);
	w->status->op = op;	/* the operator that sent them runs on */
}

/* Append what the sink holds to the stage's run file as one run. */
void
worker_flush(struct wctx *w)
{
	w->out->flush(w);
}

/* Integers to combine: a hash table, bucketed by partition at a flush. */
static void
sink_agg_init(struct wctx *w)
{
	agg_init_combiner(&w->comb, w->st->reduce_out->fn);
	agg_limit(&w->comb, w->budget);
}

/* A batch that would grow the table past its share spills it first. */
static void
sink_agg_put(struct wctx *w, struct batch *b)
{
	if (!agg_room(&w->comb, b->n))
		worker_sink_spill(w);
	agg_add_batch(&w->comb, b->k, b->v, b->n);
}

static void
sink_agg_flush(struct wctx *w)
{
	if (agg_count(&w->comb) > 0 &&
	    runfile_append_agg(&w->sink, &w->comb) != 0)
		worker_io_fail(w, w->sink.tmp);
	agg_clear(&w->comb);
}

static void
sink_agg_free(struct wctx *w)
{
	agg_free(&w->comb);
}

/* Words and their counts: worker_count_words fills the table itself. */
static void
sink_words_init(struct wctx *w)
{
	sagg_init_combiner(&w->words, w->st->reduce_out->fn == FN_COUNT ?
	    FN_SUM : w->st->reduce_out->fn);
	sagg_limit(&w->words, w->budget);
}

static void
sink_words_put(struct wctx *w, struct batch *b)
{
	fatalx("stage %u: %zu records for the table of words", w->s, b->n);
}

static void
sink_words_flush(struct wctx *w)
{
	struct pair	*r;
	size_t		 nr;

	if (w->words.used == 0)
		return;
	r = sagg_pairs(&w->words, &nr);
	if (runfile_append_sorted(&w->sink, r, nr) != 0)
		worker_io_fail(w, w->sink.tmp);
	free(r);
	sagg_clear(&w->words);
}

static void
sink_words_free(struct wctx *w)
{
	sagg_free(&w->words);
}

/*
 * Any other records: a buffer, sorted at a flush, passed through the
 * combiner's command if there is one, folded before a shuffle.
 */
static void
sink_recs_init(struct wctx *w)
{
	recbuf_free(&w->recs);
	w->recs.kt = w->st->out_k;
	w->recs.vt = w->st->out_v;
}

/* Checked between batches, when no command of the stage is writing. */
static int
sink_recs_full(const struct wctx *w)
{
	return (recbuf_full(&w->recs, w->budget));
}

static void
sink_recs_put(struct wctx *w, struct batch *b)
{
	const struct keyorder	*ko = NULL;
	static struct buf	 key;
	size_t			 i;

	/* Bound for a secondary sort: keys made for it (keyfield.c). */
	if (w->st->reduce_out != NULL)
		ko = w->st->reduce_out->korder;
	for (i = 0; i < b->n; i++)
		recbuf_add(&w->recs, ko != NULL ? keyorder_key(ko, b->k[i],
		    &key) : b->k[i], b->v[i]);
}

static void
sink_recs_flush(struct wctx *w)
{
	struct recbuf		*rb = &w->recs;
	struct ops_error	 err;
	uint64_t		 n;

	if (rb->n == 0)
		return;
	/* In input order, a run is the records as they came. */
	if (!w->job->prog->in_order)
		recs_sort(rb->r, rb->n, rb->kt, rb->vt);
	if (w->st->reduce_out != NULL && w->st->reduce_out->combiner != NULL) {
		memset(&err, 0, sizeof err);
		if (stream_filter(w->st->reduce_out->combiner, &w->groups, rb,
		    &err.why) != 0) {
			err.op = w->st->reduce_out->combiner;
			worker_stream_fail(w, &err);
		}
	}
	n = rb->n;
	if (w->st->reduce_out != NULL) {
		if (w->st->reduce_out->kind == OP_REDUCE)
			n = recs_fold(rb->r, rb->n, rb->kt, rb->vt,
			    w->st->reduce_out->fn, 1, &rb->a);
		if (runfile_append_sorted(&w->sink, rb->r, n) != 0)
			worker_io_fail(w, w->sink.tmp);
	} else if (runfile_append_recs(&w->sink, rb->r, &n) != 0)
		worker_io_fail(w, w->sink.tmp);
	recbuf_clear(rb);
}

static void
sink_recs_free(struct wctx *w)
{
	recbuf_free(&w->recs);
}

static const struct wsink sink_agg = {
	"table", sink_agg_init, sink_agg_put, sink_agg_flush, NULL,
	sink_agg_free
};
static const struct wsink sink_words = {
	"words", sink_words_init, sink_words_put, sink_words_flush, NULL,
	sink_words_free
};
static const struct wsink sink_recs = {
	"records", sink_recs_init, sink_recs_put, sink_recs_flush,
	sink_recs_full, sink_recs_free
};

/*
 * The sink of the stage, chosen once: integer pairs to combine take the
 * hash table, word count the table of words, all else the buffer.
 */
const struct wsink *
worker_sink_of(const struct wctx *w)
{
	const struct stage	*st = w->st;

	if (worker_is_wordcount(w))
		return (&sink_words);
	if (st->reduce_out != NULL && st->out_k == VT_INT &&
	    st->out_v == VT_INT && st->reduce_out->kind == OP_REDUCE &&
	    st->reduce_out->fn != FN_COLLECT)
		return (&sink_agg);
	return (&sink_recs);
}

/* The sink is at the stage's share of memory: one more run of its file. */
void
worker_sink_spill(struct wctx *w)
{
	uint64_t	before = w->sink.len;

	worker_flush(w);
	worker_spilled(w, w->sink.len - before);
}

/* The path of a stage's committed output. */
char *
worker_stage_path(struct wctx *w, unsigned int s)
{
	struct job	*job = w->job;
	char		*path;

	if (job->plan->stages[s].reduce_out != NULL)
		return (jd_run(job->jobdir, s, w->part));
	if (job->opts->output != NULL) {
		path = jd_part(job->outtmp, w->part);
		return (path);
	}
	return (jd_out_part(job->jobdir, w->part));
}

/*
 * Is the committed output of stage s at path whole?  A run file's header
 * and tables are checked here, its buckets by their readers; a part
 * against the sum its checkpoint has.  Damage is reported.
 */
static int
worker_output_whole(struct wctx *w, unsigned int s, const char *path,
    const struct ckpt_state *cs)
{
	uint8_t		*used;
	uint64_t	 off = 0;
	char		*file;
	int		 r;

	if (w->job->plan->stages[s].reduce_out != NULL) {
		used = xmalloc((w->job->nparts + 7) / 8);
		r = runfile_used(path, w->job->nparts, used);
		free(used);
		if (r != 0 && errno != EINVAL)
			worker_io_fail(w, path);
		file = jd_run(NULL, s, w->part);
	} else {
		r = output_check(path, cs->output_len, cs->output_sum, &off);
		if (r == -1)
			worker_io_fail(w, path);
		file = jd_part(NULL, w->part);
	}
	if (r != 0) {
		log_warnx("%s: damaged; doing stage %u again", file, s);
		worker_damaged(w, file, off, DAMAGE_RESTART);
	}
	free(file);
	return (r == 0);
}

/*
 * Has this partition committed stage s already (a worker forked again after
 * it finished the stage)?  Its checkpoint says so, and the output is there.
 */
int
worker_stage_committed(struct wctx *w, unsigned int s)
{
	struct ckpt_state	 cs;
	char			*path;
	int			 done;

	if (!ckpt_load(w->ckpt, &cs) || cs.stages_done < s)
		return (0);
	path = worker_stage_path(w, s);
	done = access(path, F_OK) == 0;
	if (done && cs.stages_done == s &&
	    w->job->plan->stages[s].reduce_out == NULL) {
		/*
		 * A part renamed into place by a worker that died before it
		 * published its sum: nothing tells it from one damaged since.
		 * It goes, and the stage goes on from its checkpoint.
		 */
		log_debug("%s: no sum published; stage %u again", path, s);
		(void)unlink(path);
		done = 0;
	} else if (done && cs.stages_done == s) {
		/*
		 * The run file was renamed into place, but the worker died
		 * before it published that: the stage is done (a run file
		 * checks itself as it is read).
		 */
		memset(&w->cs, 0, sizeof w->cs);
		w->cs.stages_done = s + 1;
		w->cs.records_in = cs.records_in;
		w->cs.records_out = cs.records_out;
		if (ckpt_publish(w->ckpt, &w->cs, w->job->opts->durable) != 0)
			worker_io_fail(w, "checkpoint");
		cs = w->cs;
	}
	if (done && !worker_output_whole(w, s, path, &cs)) {
		/* Committed, then damaged: the stage is done again. */
		(void)unlink(path);
		memset(&w->cs, 0, sizeof w->cs);
		w->cs.stages_done = s;
		if (ckpt_publish(w->ckpt, &w->cs, w->job->opts->durable) != 0)
			worker_io_fail(w, "checkpoint");
		done = 0;
	}
	free(path);
	if (done) {
		w->records_in = cs.records_in;
		w->records_out = cs.records_out;
		w->bytes_in = cs.bytes_in;
		w->bytes_out = cs.output_len;
		log_debug("stage %u already committed", s);
	}
	return (done);
}

/*
 * Merge the runs of the stage's run file, mapped, and the records the
 * sink still holds into the part at path, as they come (the k-way merge
 * of merge.c): a part of any size takes no more memory than its runs'
 * windows; in input order, the runs one after the other, then the
 * records held.  Each run is checked against its sum as it is read: a
 * damaged one leaves the part unwritten, and the stage is done again.
 */
static void
worker_merge_runs(struct wctx *w, struct shuffle_file *sf, const char *path,
    const struct outspec *os, const char *file)
{
	struct kmerge_run	*run;
	struct kmerge_array	 held;
	struct kmerge		 m;
	struct kmerge_src	*top;
	struct outw		 o;
	uint64_t		 moved = 0, bad = 0;
	unsigned int		 r;
	int			 got;

	run = xcalloc(sf->runs + 1, sizeof *run);
	kmerge_init(&m, os->kt, os->vt, sf->runs + 1);
	if (output_part_begin(&o, path) != 0)
		worker_io_fail(w, path);
	for (r = 0; r < sf->runs; r++)
		kmerge_run_init(&run[r], sf, r, 0, 1);
	memset(&held, 0, sizeof held);
	held.ks.next = kmerge_array_next;
	held.p = w->recs.r;
	held.n = w->recs.n;
	for (r = 0; os->in_order && r <= sf->runs; r++) {
		top = r < sf->runs ? &run[r].ks : &held.ks;
		while ((got = top->next(top)) == 1) {
			if (output_part_put(&o, &top->cur, os) != 0)
				worker_io_fail(w, path);
			if ((++moved & 0xffff) == 0)
				progress();
		}
		if (got != 0) {
			bad = r < sf->runs ? sf->runoff[r] : 0;
			goto damaged;
		}
	}
	for (r = 0; !os->in_order && r < sf->runs; r++) {
		if (kmerge_add(&m, &run[r].ks) != 0) {
			bad = sf->runoff[r];
			goto damaged;
		}
	}
	if (!os->in_order)
		(void)kmerge_add(&m, &held.ks);
	kmerge_start(&m);
	while ((top = kmerge_top(&m)) != NULL) {
		if (output_part_put(&o, &top->cur, os) != 0)
			worker_io_fail(w, path);
		if (kmerge_pop(&m) != 0) {
			bad = sf->runoff[top->idx];
			goto damaged;
		}
		if ((++moved & 0xffff) == 0)
			progress();
	}
	if (output_part_end(&o, path, w->job->opts->output != NULL ||
	    w->job->opts->durable, &w->bytes_out, &w->out_sum) != 0)
		worker_io_fail(w, path);
	kmerge_free(&m);
	for (r = 0; r < sf->runs; r++)
		kmerge_run_free(&run[r]);
	free(run);
	return;

damaged:
	output_part_abort(&o);
	worker_restart_stage(w, file, bad);
}

/*
 * Commit the final stage's output: merge the sorted runs into the part,
 * in passes of at most the fan-in (their files beside the sink's, removed
 * once merged).
 */
void
worker_commit_final(struct wctx *w, const char *path)
{
	struct job		*job = w->job;
	struct shuffle_file	 sf;
	struct pair_src		 src;
	struct outspec		 os;
	char			*cause, *cur;
	unsigned int		 passes = 0;

	os.kt = w->st->out_k;
	os.vt = w->st->out_v;
	os.fmt = job->out_format;
	os.text = job->opts->output != NULL;
	os.in_order = job->prog->in_order;
	os.sep = job->prog->out_sep;
	/* A reduce's groups come sorted, one per key: no operator after it
	 * can change that order. */
	if (!os.in_order && (w->st->reduce_in == NULL ||
	    w->st->first != w->st->end))
		recs_sort(w->recs.r, w->recs.n, os.kt, os.vt);
	if (w->sink.runs == 0) {
		src.p = w->recs.r;
		src.n = w->recs.n;
		if (output_write_merged(path, &src, 1, &os, job->opts->output !=
		    NULL || job->opts->durable, &w->bytes_out, &w->out_sum) != 0)
			worker_io_fail(w, path);
		unlink(w->sink.tmp);
		runfile_abort(&w->sink);
		return;
	}
	if (shuffle_open_len(&sf, w->sink.tmp, 1, w->sink.len, &cause) != 0) {
		if (!sf.damaged)
			fatalx("%s", cause);
		log_warnx("%s", cause);
		worker_restart_stage(w, worker_sink_name(w), sf.bad);
	}
	cur = NULL;
	if (!os.in_order && sf.runs + 1 > worker_fanin(w)) {
		/* The records held are one more source. */
		shuffle_close(&sf);
		if (runs_narrow(&w->sink, os.kt, os.vt, worker_fanin(w) - 1,
		    &sf, &cur, &passes) != 0) {
			if (errno != EINVAL)
				worker_io_fail(w, worker_sink_name(w));
			worker_restart_stage(w, worker_sink_name(w), 0);
		}
		w->passes += passes;
	} else
		shuffle_for_merge(&sf);
	worker_merge_runs(w, &sf, path, &os, worker_sink_name(w));
	shuffle_close(&sf);
	if (cur != NULL)
		(void)unlink(cur);
	free(cur);
	unlink(w->sink.tmp);
	runfile_abort(&w->sink);
}

/* The name of the stage's sink, being written, in the job directory. */
const char *
worker_sink_name(const struct wctx *w)
{
	static char	 name[64];
	char		*n;

	n = w->st->reduce_out != NULL ? jd_run(NULL, w->s, w->part) :
	    jd_part_runs(NULL, w->part);
	snprintf(name, sizeof name, "%s.tmp", n);
	free(n);
	return (name);
}

/*
 * Open the stage's sink: its run file, fresh or as the checkpoint left
 * it.  Returns 0, or -1 if the checkpoint's file is not usable.
 */
int
worker_open_sink(struct wctx *w, int resume)
{
	struct job		*job = w->job;
	const struct stage	*st = w->st;
	char			*path;
	int			 r;

	enum vtype		 vt = st->out_v;

	/* A combiner's values: counts for COUNT. */
	if (st->reduce_out != NULL && st->reduce_out->fn == FN_COUNT)
		vt = VT_INT;
	if (st->reduce_out != NULL) {
		path = jd_run(job->jobdir, w->s, w->part);
		r = runfile_open_typed(&w->sink, path, job->nparts, st->out_k,
		    vt, resume ? w->cs.sink_len : 0,
		    resume ? w->cs.sink_runs : 0);
		/* A secondary sort's keys carry their partition. */
		w->sink.keytail = st->reduce_out->korder != NULL;
	} else {
		path = jd_part_runs(job->jobdir, w->part);
		r = runfile_open_typed(&w->sink, path, 1, st->out_k, vt,
		    resume ? w->cs.sink_len : 0,
		    resume ? w->cs.sink_runs : 0);
	}
	if (r != 0 && !resume)
		worker_io_fail(w, path);
	free(path);
	return (r);
}
