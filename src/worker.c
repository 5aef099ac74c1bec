/* forkflow: see LICENSE. */
/*
 * Workers: run one partition of a job, a stage at a time, as the supervisor
 * says.  A worker inherits the job (program, plan, inputs) from the fork,
 * greets its supervisor, then waits for MSG_START; it answers each stage
 * with MSG_STAGE_DONE once the stage's output is committed under its final
 * name, or with MSG_ERROR and a distinct exit status when the program or
 * the input is at fault, so that it is not restarted.  Any other death
 * (a signal, fatal()) is a crash the supervisor recovers from.
 *
 * Inside a stage the worker checkpoints every --checkpoint-interval bytes
 * of input: it appends what its sink holds to the stage's run file as one
 * more run, and publishes in its checkpoint file how far it read and how
 * long the run file is.  A worker forked again after a crash truncates the
 * run file to that length and reads on from there, so at most one interval
 * of work is done twice and no record is lost or counted twice.
 *
 * A stage that starts with a reduce reads in two phases: it merges its
 * bucket of every shuffle file into a table (checkpointed as a snapshot of
 * the whole table), then writes the groups sorted by key to a file and
 * sends them on in that order, so that the place it stopped at is the same
 * on every attempt.
 *
 * Between stages the worker blocks on its socket; during a stage it makes
 * no system call on the hot path and shows its progress in its status page,
 * where the supervisor's heartbeat timer looks for it.
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


/* What a worker keeps while it runs. */
struct wctx {
	struct job		*job;
	unsigned int		 part;
	int			 fd;
	unsigned int		 attempt;
	struct status_page	*status;
	struct ckpt		*ckpt;
	struct ckpt_state	 cs;		/* the state being built */

	unsigned int		 s;		/* the stage */
	const struct stage	*st;
	uint64_t		 records_in;	/* stage input records */
	uint64_t		 records_out;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	uint64_t		 mark;		/* bytes_in at the checkpoint */
	int64_t			 cpu_base;	/* CPU µs of the stage so far */
	int64_t			 cpu_start;	/* process CPU µs at its start */

	/* The sink of the stage, and the run file behind it. */
	struct agg		 comb;		/* integer pairs, to shuffle */
	struct recbuf		 recs;		/* any other, or to output */
	int			 use_agg;	/* comb, not recs */
	struct sagg		 words;		/* word count: word -> count */
	int			 use_sagg;
	int			 streaming;	/* the stage runs a process */
	int			 already;	/* the stage was committed */
	char			*input_abs;	/* the file a mapper reads */
	uint64_t		*rlo;		/* its byte ranges of the input */
	uint64_t		*rhi;
	struct runfile		 sink;

	/* Records to skip, and ranges to run one record at a time. */
	uint64_t		*skip;
	size_t			 nskip;
	uint64_t		*careful;	/* pairs lo, hi */
	size_t			 ncareful;

	/* The partitions whose output of the stage before has records for
	 * this one (a bit each), or NULL: any may. */
	uint8_t			*sources;

	int			 redo;		/* producing a file again */
	uint64_t		 out_sum;	/* XXH3 of the part written */
	struct ops		*ops;		/* the operators at work */
	struct stream_groups	 groups;	/* their commands' groups */

	/* The memory the stage's tables and records may take (its share
	 * of --memory), and what went to disk past it. */
	uint64_t		 budget;
	struct spill		 spill;		/* a reduce's sorted runs */
	uint64_t		 spills;	/* runs, this stage */
	uint64_t		 spilled;	/* bytes of them */
	uint64_t		 passes;	/* merge passes */
};

static void	worker_run_stage(struct wctx *, unsigned int);
static const char *worker_sink_name(const struct wctx *);
static void	worker_sink(void *, struct batch *);
static void	worker_sink_spill(struct wctx *);
static void	worker_spill_recs(struct wctx *, const struct pair *, size_t);
static int	worker_stage_committed(struct wctx *, unsigned int);
static __dead void worker_fail(struct wctx *, uint32_t, uint64_t, uint64_t,
		    const char *);

/*
 * Send the supervisor a message that ends with a text for people.  A text
 * too long for one message (a file name of thousands of bytes) is cut to
 * fit, and says so: the protocol never cuts a message itself.
 */
static int
worker_say(struct wctx *w, uint32_t type, const void *fixed, size_t flen,
    const char *text)
{
	static const char	 cut[] = " [cut]";
	size_t			 len = strlen(text), room = MSG_MAXSIZE - flen;
	char			*s;
	int			 r;

	if (len <= room)
		return (proto_send(w->fd, type, w->part, fixed, flen, text,
		    len));
	s = xmalloc(room);
	memcpy(s, text, room - (sizeof cut - 1));
	memcpy(s + room - (sizeof cut - 1), cut, sizeof cut - 1);
	r = proto_send(w->fd, type, w->part, fixed, flen, s, room);
	free(s);
	return (r);
}

/* Report a permanent failure to the supervisor and exit. */
static __dead void
worker_fail(struct wctx *w, uint32_t kind, uint64_t file, uint64_t off,
    const char *text)
{
	struct msg_error	e;

	memset(&e, 0, sizeof e);
	e.kind = kind;
	e.stage = w->s;
	e.file = file;
	e.off = off;
	if (worker_say(w, MSG_ERROR, &e, sizeof e, text) != 0)
		log_warnx("%s", text);
	stream_kill_all();
	_exit(kind == ERROR_INPUT ? WORKER_EXIT_INPUT : WORKER_EXIT_RUNTIME);
}

/*
 * A system call on the stage's files failed.  A full disk will not empty
 * itself by a retry: the job fails at once; anything else is a crash.
 */
static __dead void
worker_io_fail(struct wctx *w, const char *what)
{
	char	*msg;

	if (errno == ENOSPC || errno == EDQUOT) {
		xasprintf(&msg, "worker %u: %s: %s", w->part, what,
		    strerror(errno));
		worker_fail(w, ERROR_RUNTIME, 0, 0, msg);
	}
	fatal("%s", what);
}

/*
 * Reading the input failed.  Bad input fails the job with exit 2; a system
 * call that failed is no fault of the input's: out of memory (an mmap
 * under ulimit -v) would fail the same way again, and fails the job with
 * exit 1; anything else is a crash, retried from the checkpoint.
 */
static __dead void
worker_input_fail(struct wctx *w, const struct input *in)
{
	char	*msg;

	if (in->err_sys == 0)
		worker_fail(w, ERROR_INPUT, in->err_file, in->err_off,
		    in->cause);
	xasprintf(&msg, "worker %u: %s", w->part, in->cause);
	if (in->err_sys == ENOMEM)
		worker_fail(w, ERROR_RUNTIME, 0, 0, msg);
	(void)worker_say(w, MSG_NOTE, NULL, 0, msg);
	fatalx("%s", msg);
}

/*
 * A streaming process failed: tell the supervisor why (its message names
 * the process's last standard error), and die as a crash, to be forked
 * again and resume from the checkpoint.
 */
static __dead void
worker_stream_fail(struct wctx *w, const struct ops_error *err)
{
	char	*what, *msg;

	what = program_op_describe(w->job->prog, err->op);
	xasprintf(&msg, "%s: %s", what, err->why);
	log_warnx("%s", msg);
	(void)worker_say(w, MSG_NOTE, NULL, 0, msg);
	/* The stage's other commands, if any, are still running. */
	stream_kill_all();
	_exit(WORKER_EXIT_RETRY);
}

/* A run-time error of an operator: permanent, or a process that failed. */
static __dead void
worker_op_fail(struct wctx *w, const struct ops_error *err)
{
	char	*what, *msg;

	if (err->why != NULL)
		worker_stream_fail(w, err);
	what = program_op_describe(w->job->prog, err->op);
	xasprintf(&msg, "%s: division by zero at key %lld, value %lld", what,
	    (long long)err->k, (long long)err->v);
	worker_fail(w, ERROR_RUNTIME, 0, 0, msg);
}

/* End the stage's streaming processes' input and send on their output. */
static void
worker_finish_streams(struct wctx *w)
{
	struct ops_error	err;
	struct ops_sink		sink = { worker_sink, w };

	memset(&err, 0, sizeof err);
	if (ops_finish(w->ops, w->st->first, w->st->end, &sink,
	    &err) != 0)
		worker_op_fail(w, &err);
}

/*
 * A job file failed its check: tell the supervisor, which logs it, counts
 * it and shows it in the events.  file is its name in the job directory.
 */
static void
worker_damaged(struct wctx *w, const char *file, uint64_t off,
    uint32_t action)
{
	struct msg_damaged	d;

	if (w->redo)
		return;
	memset(&d, 0, sizeof d);
	d.action = action;
	d.off = off;
	if (worker_say(w, MSG_DAMAGED, &d, sizeof d, file) != 0)
		log_warnx("%s: damaged at offset %llu", file,
		    (unsigned long long)off);
}

/*
 * A file of this worker's own stage failed its check: the stage starts
 * again, from nothing.  The fresh checkpoint counts as progress, so the
 * restart is at once and is no failure of the partition's.
 */
static __dead void
worker_restart_stage(struct wctx *w, const char *file, uint64_t off)
{
	worker_damaged(w, file, off, DAMAGE_RESTART);
	if (w->redo)
		fatalx("%s: damaged at offset %llu", file,
		    (unsigned long long)off);
	memset(&w->cs, 0, sizeof w->cs);
	w->cs.stages_done = w->s;
	if (ckpt_publish(w->ckpt, &w->cs, w->job->opts->durable) != 0)
		worker_io_fail(w, "checkpoint");
	w->status->checkpoints++;
	_exit(WORKER_EXIT_RETRY);
}

static __dead void worker_redo_child(struct job *, unsigned int,
		    unsigned int);

/*
 * Produce the output of stage t of partition src again, in a child
 * process, and wait for it: its file was found damaged at off.  Readers
 * that find the same damage take turns on a lock, and the first one's
 * work serves the others.  Returns 0, or -1 if the child failed.
 */
static int
worker_redo(struct wctx *w, unsigned int t, unsigned int src,
    const char *file, uint64_t off, int (*fixed)(struct wctx *,
    unsigned int, unsigned int))
{
	char	*path;
	pid_t	 pid, r;
	int	 fd, status;

	path = jd_redo_lock(w->job->jobdir, t, src);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1)
		worker_io_fail(w, path);
	free(path);
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			worker_io_fail(w, "flock");
		progress();
		usleep(10000);
	}
	if (fixed(w, t, src)) {
		close(fd);
		return (0);
	}
	worker_damaged(w, file, off, DAMAGE_REDONE);
	log_info("%s: damaged at offset %llu; doing stage %u of partition %u "
	    "again", file, (unsigned long long)off, t, src);
	if ((pid = fork()) == -1)
		worker_io_fail(w, "fork");
	if (pid == 0)
		worker_redo_child(w->job, t, src);
	/*
	 * The child moves this worker's heartbeat (it shares the page):
	 * a child that hangs stops it, and the supervisor then kills this
	 * worker, and the child with it.
	 */
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 ||
	    (r == -1 && errno == EINTR))
		usleep(10000);
	close(fd);
	return (r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ?
	    0 : -1);
}

/*
 * Open the output of stage t of partition src, checked: its header and
 * tables, and this worker's bucket of every run (all of them with
 * bucket -1).  Returns 0, or -1 with *file and *off set to the damage.
 */
static int
worker_open_checked(struct wctx *w, unsigned int t, unsigned int src,
    struct shuffle_file *sf, int bucket, char **file, uint64_t *off)
{
	char		*path, *cause;
	unsigned int	 r;
	int		 bad = 0;

	path = jd_run(w->job->jobdir, t, src);
	*file = jd_run(NULL, t, src);
	if (shuffle_open(sf, path, w->job->nparts, &cause) != 0) {
		if (!sf->damaged)
			fatalx("%s", cause);
		log_warnx("%s", cause);
		free(cause);
		free(path);
		*off = sf->bad;
		return (-1);
	}
	free(path);
	if (bucket == -1)
		bad = shuffle_check_all(sf);
	else {
		for (r = 0; r < sf->runs && !bad; r++)
			bad = shuffle_check(sf, r, (unsigned int)bucket);
	}
	if (bad) {
		*off = sf->bad;
		shuffle_close(sf);
		return (-1);
	}
	free(*file);
	*file = NULL;
	return (0);
}

/* Is the output of stage t of partition src whole again? */
static int
worker_redo_fixed(struct wctx *w, unsigned int t, unsigned int src)
{
	struct shuffle_file	 sf;
	char			*file;
	uint64_t		 off;

	if (worker_open_checked(w, t, src, &sf, -1, &file, &off) != 0) {
		free(file);
		return (0);
	}
	shuffle_close(&sf);
	return (1);
}

/*
 * Open this worker's input from partition src of the stage before, as
 * worker_open_checked(); a damaged file is produced again by its writer's
 * stage, and a file that stays damaged fails the job.
 */
static void
worker_open_source(struct wctx *w, unsigned int src, struct shuffle_file *sf)
{
	char		*file, *msg;
	uint64_t	 off;
	int		 tries;

	/* A child that crashed (or was killed) is forked again. */
	for (tries = 0; tries < 4; tries++) {
		if (worker_open_checked(w, w->s - 1, src, sf, (int)w->part,
		    &file, &off) == 0)
			return;
		if (tries == 3)
			break;
		(void)worker_redo(w, w->s - 1, src, file, off,
		    worker_redo_fixed);
		free(file);
	}
	xasprintf(&msg, "%s: damaged at offset %llu, and producing it again "
	    "(stage %u of partition %u) failed", file, (unsigned long long)off,
	    w->s - 1, src);
	worker_fail(w, ERROR_RUNTIME, 0, 0, msg);
}

/* Does the output of partition src of the stage before hold records for
 * this one? */
static int
worker_source(const struct wctx *w, unsigned int src)
{
	return (w->sources == NULL ||
	    (w->sources[src / 8] & (1u << (src % 8))) != 0);
}

/* Is stage input record i to be skipped? */
static int
worker_skipped(const struct wctx *w, uint64_t i)
{
	size_t	j;

	for (j = 0; j < w->nskip; j++) {
		if (w->skip[j] == i)
			return (1);
	}
	return (0);
}

/* Is stage input record i to be run on its own? */
static int
worker_careful(const struct wctx *w, uint64_t i)
{
	size_t	j;

	for (j = 0; j < w->ncareful; j++) {
		if (i >= w->careful[2 * j] && i < w->careful[2 * j + 1])
			return (1);
	}
	return (0);
}

/* Does the batch [lo, lo + n) need skipping or care? */
static int
worker_special(const struct wctx *w, uint64_t lo, size_t n)
{
	size_t	j;

	for (j = 0; j < w->nskip; j++) {
		if (w->skip[j] >= lo && w->skip[j] < lo + n)
			return (1);
	}
	for (j = 0; j < w->ncareful; j++) {
		if (w->careful[2 * j] < lo + n && w->careful[2 * j + 1] > lo)
			return (1);
	}
	return (0);
}

/* Crash here if the user asked for it (--inject-crash). */
static void
worker_inject(struct wctx *w, struct batch *b, uint64_t lo)
{
	const struct inject	*ij = &w->job->opts->inject;
	uint64_t		 i;

	if (!ij->set || ij->point != INJECT_RECORD || ij->part != w->part ||
	    w->attempt > ij->attempts)
		return;
	if (!(ij->op >= w->st->first && ij->op < w->st->end) &&
	    !(w->st->reduce_out != NULL &&
	    w->st->reduce_out == &w->job->prog->ops[ij->op]))
		return;
	if (ij->record < lo || ij->record >= lo + b->n)
		return;
	i = ij->record - lo;
	w->status->op = ij->op;
	w->status->cur_lo = ij->record;
	w->status->cur_n = 1;
	w->status->cur_k = b->k[i];
	w->status->cur_v = b->v[i];
	w->status->cur_pos = w->s == 0 ? b->pos[i] + 1 : 0;
	raise(SIGKILL);
}

/* The end of a stage's operators: keep what reaches it, to combine. */
static void
worker_sink(void *arg, struct batch *b)
{
	struct wctx	*w = arg;
	size_t		 i;

	uint32_t	 op = w->status->op;

	w->records_out += b->n;
	if (w->st->reduce_out != NULL)
		w->status->op = (uint32_t)(w->st->reduce_out -
		    w->job->prog->ops);
	if (w->use_agg) {
		if (!agg_room(&w->comb, b->n))
			worker_sink_spill(w);
		agg_add_batch(&w->comb, b->k, b->v, b->n);
	} else {
		for (i = 0; i < b->n; i++)
			recbuf_add(&w->recs, b->k[i], b->v[i]);
	}
	w->status->op = op;	/* the operator that sent them runs on */
}

/* Send a batch through the stage's operators and into its sink. */
static void
worker_push_batch(struct wctx *w, struct batch *b)
{
	const struct stage	*st = w->st;
	struct status_page	*sp = w->status;
	struct ops_error	 err;
	struct ops_sink		 sink = { worker_sink, w };
	uint64_t		 lo = w->records_in;

	sp->cur_lo = lo;
	sp->cur_n = (uint32_t)b->n;
	sp->cur_str = (st->in_k == VT_STR) | (st->in_v == VT_STR) << 1;
	sp->cur_k = b->k[0];
	sp->cur_v = b->v[0];
	sp->cur_pos = w->s == 0 ? b->pos[0] + 1 : 0;
	worker_inject(w, b, lo);
	w->records_in += b->n;
	memset(&err, 0, sizeof err);
	if (ops_run(w->ops, st->first, st->end, b, &sink, &err) != 0)
		worker_op_fail(w, &err);
	if (recbuf_full(&w->recs, w->budget))
		worker_sink_spill(w);
	sp->cur_n = 0;
	sp->heartbeat++;
	sp->records_in = w->records_in;
	sp->records_out = w->records_out;
}

/*
 * Send a batch on.  Records the supervisor asked to skip are dropped (they
 * still count, so that record numbers stay the same); records it suspects
 * go one at a time, so that a crash names the one that caused it.
 */
static void
worker_push(struct wctx *w, struct batch *b)
{
	struct batch	*one;
	uint64_t	 idx;
	size_t		 i;

	if (b->n == 0)
		return;
	if (!worker_special(w, w->records_in, b->n)) {
		worker_push_batch(w, b);
		return;
	}
	one = batch_new();
	for (i = 0; i < b->n; i++) {
		/* Records go in order: what is pending goes first. */
		idx = w->records_in + one->n;
		if (worker_skipped(w, idx) || worker_careful(w, idx)) {
			if (one->n > 0) {
				worker_push_batch(w, one);
				batch_init(one);
			}
			if (worker_skipped(w, idx)) {
				log_warnx("skipping record %llu of stage %u "
				    "(key %lld, value %lld)",
				    (unsigned long long)idx, w->s,
				    (long long)b->k[i], (long long)b->v[i]);
				w->records_in++;
				continue;
			}
		}
		one->k[one->n] = b->k[i];
		one->v[one->n] = b->v[i];
		one->pos[one->n] = b->pos[i];
		one->n++;
		if (worker_careful(w, idx)) {
			worker_push_batch(w, one);
			batch_init(one);
		}
	}
	if (one->n > 0)
		worker_push_batch(w, one);
	batch_free(one);
}

/*
 * Append what the sink holds to the stage's run file as one run: the
 * combined groups, bucketed by partition, before a shuffle; the records
 * sorted, before the final output.
 */
static void
worker_flush(struct wctx *w)
{
	struct recbuf	*rb = &w->recs;
	uint64_t	 n;

	if (w->use_agg) {
		if (agg_count(&w->comb) > 0 &&
		    runfile_append_agg(&w->sink, &w->comb) != 0)
			worker_io_fail(w, w->sink.tmp);
		agg_clear(&w->comb);
		return;
	}
	if (w->use_sagg) {
		struct pair	*r;
		size_t		 nr;

		if (w->words.used == 0)
			return;
		r = sagg_pairs(&w->words, &nr);
		if (runfile_append_sorted(&w->sink, r, nr) != 0)
			worker_io_fail(w, w->sink.tmp);
		free(r);
		sagg_clear(&w->words);
		return;
	}
	if (rb->n == 0)
		return;
	recs_sort(rb->r, rb->n, rb->kt, rb->vt);
	if (w->st->reduce_out != NULL && w->st->reduce_out->combiner != NULL) {
		struct ops_error	err;

		memset(&err, 0, sizeof err);
		if (stream_filter(w->st->reduce_out->combiner, &w->groups, rb,
		    &err.why) != 0) {
			err.op = w->st->reduce_out->combiner;
			worker_stream_fail(w, &err);
		}
	}
	if (w->st->reduce_out != NULL) {
		n = rb->n;
		if (w->st->reduce_out->kind == OP_REDUCE)
			n = recs_fold(rb->r, rb->n, rb->kt, rb->vt,
			    w->st->reduce_out->fn, 1, &rb->a);
		if (runfile_append_sorted(&w->sink, rb->r, n) != 0)
			worker_io_fail(w, w->sink.tmp);
	} else {
		n = rb->n;
		if (runfile_append_recs(&w->sink, rb->r, &n) != 0)
			worker_io_fail(w, w->sink.tmp);
	}
	recbuf_clear(rb);
}

/* Log an event of this worker's (events.c), with its own fields. */
static void
worker_emit_event(struct wctx *w, const char *name, json_t *extra)
{
	struct evwhere	at;

	at.part = (int)w->part;
	at.stage = (int)w->s;
	at.op = (int)w->status->op;
	at.pid = (long)getpid();
	at.attempt = (int)w->attempt;
	event_emit(name, &at, extra);
}

/* CPU time of this process and its reaped children, in µs. */
static int64_t
cpu_us(void)
{
	struct rusage	ru, rc;

	getrusage(RUSAGE_SELF, &ru);
	getrusage(RUSAGE_CHILDREN, &rc);
	return ((int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    rc.ru_utime.tv_sec + rc.ru_stime.tv_sec) * 1000000 +
	    ru.ru_utime.tv_usec + ru.ru_stime.tv_usec + rc.ru_utime.tv_usec +
	    rc.ru_stime.tv_usec);
}

/*
 * The most anonymous memory this worker has been seen to hold, in KiB:
 * its RssAnon, sampled where it peaks (before a spill, at a checkpoint,
 * at the end of a stage).  Pages of files it maps do not count: the
 * kernel takes them back at will.
 */
static int64_t
worker_peak_kib(void)
{
	static int64_t	 peak;
	FILE		*f;
	char		 line[128];
	long long	 kib;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return (peak);
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "RssAnon: %lld kB", &kib) == 1) {
			if (kib > peak)
				peak = kib;
			break;
		}
	}
	fclose(f);
	return (peak);
}

/*
 * Save the stage's counters as they stand at checkpoint generation g (0:
 * the stage's end), where a resumed worker finds them: the streaming
 * commands' own, and the worker's, named after COUNTER_OWN (records into
 * each operator, records and bytes of the stage, CPU time), so that work
 * done twice is counted once.
 */
static void
worker_save_counters(struct wctx *w, uint64_t g)
{
	char	*path, name[32];
	size_t	 i;

	for (i = w->st->first; i < w->st->end; i++) {
		snprintf(name, sizeof name, COUNTER_OP, i);
		counters_set(name, (int64_t)ops_records(w->ops)[i]);
	}
	counters_set(COUNTER_OWN "records in", (int64_t)w->records_in);
	counters_set(COUNTER_OWN "records out", (int64_t)w->records_out);
	counters_set(COUNTER_OWN "bytes in", (int64_t)w->bytes_in);
	counters_set(COUNTER_OWN "bytes out", (int64_t)w->bytes_out);
	counters_set(COUNTER_OWN "cpu us", w->cpu_base + cpu_us() - w->cpu_start);
	counters_set(COUNTER_OWN "spills", (int64_t)w->spills);
	counters_set(COUNTER_OWN "spilled bytes", (int64_t)w->spilled);
	counters_set(COUNTER_OWN "merge passes", (int64_t)w->passes);
	counters_set(COUNTER_OWN "peak kib", worker_peak_kib());

	if (g == 0)
		path = jd_counters(w->job->jobdir, w->part, w->s);
	else
		path = jd_counters_ckpt(w->job->jobdir, w->part, w->s, g);
	if (counters_save(path) != 0)
		worker_io_fail(w, path);
	free(path);
}

/*
 * Remove the counters saved with checkpoint generation g of the stage:
 * a resume reads those of the newest checkpoint, or of the one before when
 * the newest is damaged, and nothing older.
 */
static void
worker_drop_counters(struct wctx *w, uint64_t g)
{
	char	*path;

	path = jd_counters_ckpt(w->job->jobdir, w->part, w->s, g);
	(void)unlink(path);
	free(path);
}

/*
 * Checkpoint: append what the sink holds to the stage's run file as one
 * run, then publish where the stage stands.  After a crash, a new attempt
 * truncates the run file to this length and resumes from this cursor.
 */
static void
worker_checkpoint(struct wctx *w, uint32_t phase, uint64_t cursor,
    uint64_t cursor2)
{
	struct job	*job = w->job;

	worker_finish_streams(w);
	worker_flush(w);
	if (job->opts->durable && runfile_sync(&w->sink) != 0)
		worker_io_fail(w, w->sink.tmp);
	w->cs.stages_done = w->s;
	w->cs.phase = phase;
	w->cs.op = (uint32_t)w->st->first;
	w->cs.sink_runs = w->sink.runs;
	w->cs.sink_len = w->sink.len;
	w->cs.spill_runs = w->spill.path != NULL ? w->spill.rf.runs : 0;
	w->cs.spill_len = w->spill.path != NULL ? w->spill.rf.len : 0;
	if (job->opts->durable && w->spill.path != NULL &&
	    runfile_sync(&w->spill.rf) != 0)
		worker_io_fail(w, w->spill.rf.tmp);
	w->cs.cursor = cursor;
	w->cs.cursor2 = cursor2;
	w->cs.records_in = w->records_in;
	w->cs.records_out = w->records_out;
	w->cs.bytes_in = w->bytes_in;
	worker_save_counters(w, ckpt_next_generation(w->ckpt));
	if (ckpt_publish(w->ckpt, &w->cs, job->opts->durable) != 0)
		worker_io_fail(w, "checkpoint");
	if (w->cs.generation > 2)
		worker_drop_counters(w, w->cs.generation - 2);
	w->status->checkpoints++;
	worker_emit_event(w, "checkpoint", json_pack("{s:I, s:i, s:I, s:I}",
	    "generation", (json_int_t)w->cs.generation, "phase", (int)phase,
	    "records_in", (json_int_t)w->records_in,
	    "bytes_in", (json_int_t)w->bytes_in));
	w->mark = w->bytes_in;
	log_debug("checkpoint %llu: stage %u, phase %u, at %llu/%llu, "
	    "%u runs", (unsigned long long)w->cs.generation, w->s, phase,
	    (unsigned long long)cursor, (unsigned long long)cursor2,
	    w->sink.runs);
}

/*
 * The memory the stage's tables and records may take: the worker's share
 * of --memory, less what the rest of a worker needs (batches, buffers of
 * commands and files), a quarter of the share up to 16 MiB.
 */
static uint64_t
worker_budget(const struct wctx *w)
{
	uint64_t	share = w->status->mem_share != 0 ?
			    w->status->mem_share : w->job->mem_share, reserve;

	reserve = share / 4 < ((uint64_t)16 << 20) ? share / 4 :
	    (uint64_t)16 << 20;
	return (share - reserve < ((uint64_t)256 << 10) ?
	    (uint64_t)256 << 10 : share - reserve);
}

/* Is a checkpoint due? */
static inline int
worker_due(const struct wctx *w)
{
	return (w->bytes_in - w->mark >= w->job->opts->checkpoint_interval);
}

/*
 * This worker's byte ranges of the input files (lines that start in them
 * are its): one range, the worker's share, or with --split-size splits of
 * that size dealt out to the workers in turn.  Returns their number and
 * their total length.
 */
static size_t
worker_splits(struct wctx *w, uint64_t *total)
{
	const struct job	*job = w->job;
	uint64_t		 s = job->opts->split_size, lo, n = 0, j;

	free(w->rlo);
	free(w->rhi);
	*total = 0;
	if (s == 0 || job->total == 0) {
		w->rlo = xcalloc(1, sizeof *w->rlo);
		w->rhi = xcalloc(1, sizeof *w->rhi);
		w->rlo[0] = (uint64_t)((unsigned __int128)job->total *
		    w->part / job->nparts);
		w->rhi[0] = (uint64_t)((unsigned __int128)job->total *
		    (w->part + 1) / job->nparts);
		*total = w->rhi[0] - w->rlo[0];
		return (1);
	}
	j = (job->total + s - 1) / s;
	w->rlo = xcalloc(j / job->nparts + 2, sizeof *w->rlo);
	w->rhi = xcalloc(j / job->nparts + 2, sizeof *w->rhi);
	for (lo = (uint64_t)w->part * s; lo < job->total;
	    lo += (uint64_t)job->nparts * s) {
		w->rlo[n] = lo;
		w->rhi[n] = lo + s < job->total ? lo + s : job->total;
		*total += w->rhi[n] - w->rlo[n];
		n++;
	}
	if (n == 0) {
		w->rlo[0] = w->rhi[0] = job->total;
		n = 1;
	}
	return ((size_t)n);
}

/*
 * Tell the streaming processes started from now on which input file they
 * read, and which bytes of it are this worker's (of the range [lo, hi)).
 */
static void
worker_stream_file(struct wctx *w, size_t f, uint64_t lo, uint64_t hi)
{
	const struct job	*job = w->job;
	uint64_t		 fstart = 0, fend;
	size_t			 i;

	for (i = 0; i < f; i++)
		fstart += job->files[i].size;
	fend = fstart + job->files[f].size;
	free(w->input_abs);
	w->input_abs = realpath(job->files[f].path, NULL);
	stream_env.input_file = w->input_abs != NULL ? w->input_abs :
	    job->files[f].path;
	stream_env.input_start = (lo > fstart ? lo : fstart) - fstart;
	stream_env.input_length = (hi < fend ? hi : fend) - (lo > fstart ?
	    lo : fstart);
}

/* Stage 0: read this worker's byte ranges of the input files. */
static void
worker_read_input(struct wctx *w, struct batch *b, int resume)
{
	struct job	*job = w->job;
	struct input	 in;
	uint64_t	 total;
	size_t		 cur, f, n;
	int		 r;

	n = worker_splits(w, &total);
	w->status->bytes_total = total;
	input_open_ranges(&in, job->files, job->nfiles, w->rlo, w->rhi, n,
	    resume ? w->cs.cursor : 0);
	in.format = job->prog->in_format;
	w->bytes_in = input_progress(&in);
	w->mark = w->bytes_in;
	cur = SIZE_MAX;
	while ((r = input_read(&in, b)) > 0) {
		/*
		 * A batch is of one file.  A mapper's process reads all the
		 * files of the worker's share in a row, as one of Hadoop's
		 * CombineFileInputFormat does, and is started again only at
		 * a checkpoint: its environment names the file it starts in.
		 */
		if (w->streaming && (f = input_file_of(job->files,
		    job->nfiles, b->pos[0])) != cur) {
			worker_stream_file(w, f, in.lo, in.hi);
			cur = f;
		}
		worker_push(w, b);
		w->bytes_in = input_progress(&in);
		w->status->bytes_in = w->bytes_in;
		if (worker_due(w))
			worker_checkpoint(w, PHASE_READ, input_tell(&in), 0);
	}
	if (r == -1)
		worker_input_fail(w, &in);
	w->bytes_in = total;
	w->status->bytes_in = w->bytes_in;
	input_close(&in);
}

/* Each ASCII letter lower-cased; 0 for every other byte. */
static const unsigned char word_lower[256] = {
	['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e',
	['F'] = 'f', ['G'] = 'g', ['H'] = 'h', ['I'] = 'i', ['J'] = 'j',
	['K'] = 'k', ['L'] = 'l', ['M'] = 'm', ['N'] = 'n', ['O'] = 'o',
	['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't',
	['U'] = 'u', ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y',
	['Z'] = 'z',
	['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e',
	['f'] = 'f', ['g'] = 'g', ['h'] = 'h', ['i'] = 'i', ['j'] = 'j',
	['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n', ['o'] = 'o',
	['p'] = 'p', ['q'] = 'q', ['r'] = 'r', ['s'] = 's', ['t'] = 't',
	['u'] = 'u', ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y',
	['z'] = 'z',
};

/*
 * Word count, fused: text input, flatMap WORDS and a combining reduce
 * (SUM, COUNT, MIN, MAX or PROD of the ones it gives) run as one scan of
 * the input's bytes into a hash table of words, with no line or record in
 * between.  It reads, checkpoints and resumes as worker_read_input does.
 */
static void
worker_count_words(struct wctx *w, int resume)
{
	struct job	*job = w->job;
	struct input	 in;
	const char	*p, *e, *q;
	char		 word[256], *big = NULL, *buf;
	size_t		 len, n, bigcap = 0;
	uint64_t	 total, lines, words, h;
	unsigned char	 c;
	int		 r;

	n = worker_splits(w, &total);
	w->status->bytes_total = total;
	input_open_ranges(&in, job->files, job->nfiles, w->rlo, w->rhi, n,
	    resume ? w->cs.cursor : 0);
	in.format = IN_TEXT;
	w->bytes_in = input_progress(&in);
	w->mark = w->bytes_in;
	while ((r = input_read_block(&in, &p, &len)) > 0) {
		e = p + len;
		lines = words = 0;
		while (p < e) {
			c = (unsigned char)*p;
			if (word_lower[c] == 0) {
				lines += (c == '\n');
				p++;
				continue;
			}
			/* Copy the word lower-cased, hashing it on the way. */
			h = sagg_hash_start(&w->words);
			for (q = p; q < e && (c = word_lower[(unsigned
			    char)*q]) != 0 && q - p < (ptrdiff_t)sizeof word;
			    q++) {
				word[q - p] = (char)c;
				h = sagg_hash_step(h, c);
			}
			if (q < e && word_lower[(unsigned char)*q] != 0) {
				/* A word longer than the buffer. */
				for (; q < e && word_lower[(unsigned char)*q] !=
				    0; q++)
					;
				n = (size_t)(q - p);
				if (n > bigcap) {
					bigcap = n;
					big = xreallocarray(big, bigcap, 1);
				}
				h = sagg_hash_start(&w->words);
				for (size_t i = 0; i < n; i++) {
					big[i] = (char)word_lower[(unsigned
					    char)p[i]];
					h = sagg_hash_step(h, (unsigned
					    char)big[i]);
				}
				buf = big;
			} else {
				n = (size_t)(q - p);
				buf = word;
			}
			sagg_add_hashed(&w->words, buf, n, sagg_hash_end(h), 1);
			words++;
			p = q;
		}
		if (w->job->opts->inject.set &&
		    w->job->opts->inject.point == INJECT_RECORD &&
		    w->job->opts->inject.part == w->part &&
		    w->attempt <= w->job->opts->inject.attempts &&
		    w->job->opts->inject.record < w->records_in + lines &&
		    w->job->opts->inject.record >= w->records_in) {
			w->status->op = (uint32_t)w->st->first;
			raise(SIGKILL);
		}
		w->records_in += lines;
		w->records_out += words;
		ops_records(w->ops)[w->st->first] += lines;
		w->bytes_in = input_progress(&in);
		w->status->bytes_in = w->bytes_in;
		w->status->records_in = w->records_in;
		w->status->heartbeat++;
		if (worker_due(w) || sagg_full(&w->words))
			worker_checkpoint(w, PHASE_READ, input_tell(&in), 0);
	}
	if (r == -1)
		worker_input_fail(w, &in);
	w->bytes_in = total;
	input_close(&in);
	free(big);
}

/* Does stage s of this program count words (worker_count_words)? */
static int
worker_is_wordcount(const struct wctx *w)
{
	const struct stage	*st = w->st;
	const struct op		*op;

	if (w->s != 0 || w->job->prog->in_format != IN_TEXT ||
	    st->end != st->first + 1 || st->reduce_out == NULL ||
	    w->job->opts->skip_bad)
		return (0);
	op = &w->job->prog->ops[st->first];
	return (op->kind == OP_FLATMAP && op->fn == FN_WORDS &&
	    st->reduce_out->kind == OP_REDUCE &&
	    st->reduce_out->fn != FN_COLLECT);
}

/*
 * A run went to disk because the stage's records outgrew its share of the
 * memory: count it, and crash here if asked to (--inject-crash P:spill:N),
 * after its bytes and before the checkpoint that keeps them.
 */
static void
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

/* The sink is at the stage's share of memory: one more run of its file. */
static void
worker_sink_spill(struct wctx *w)
{
	uint64_t	before = w->sink.len;

	worker_flush(w);
	worker_spilled(w, w->sink.len - before);
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

	fanin = fanin < 2 ? 2 : fanin > 64 ? 64 : fanin;
	path = jd_spill(w->job->jobdir, w->s, w->part);
	if (spill_open(&w->spill, path, kt, vt, fn, (unsigned int)fanin,
	    resume ? w->cs.spill_len : 0, resume ? w->cs.spill_runs : 0) != 0) {
		if (!resume || errno != EINVAL)
			worker_io_fail(w, path);
		xasprintf(&file, "%s.tmp", jd_spill(NULL, w->s, w->part));
		worker_restart_stage(w, file, runfile_bad);
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
	struct pair		*r = NULL, rec;
	struct arena		 a;
	struct sagg		 t;
	const struct str	*k;
	const char		*p, *end;
	char			*path;
	size_t			 n = 0, cap = 0, len;
	unsigned int		 src, run;
	uint64_t		 one;
	int			 got, words;
	enum op_fn		 fn = w->st->reduce_in->kind == OP_REDUCE ?
				    w->st->reduce_in->fn : 0;

	memset(&a, 0, sizeof a);
	memset(&t, 0, sizeof t);
	/* Words and counts: a hash table, then sort the groups. */
	words = fn != 0 && fn != FN_COLLECT && w->st->in_k == VT_STR &&
	    w->st->red_v == VT_INT && w->st->in_v == VT_INT;
	if (words) {
		sagg_init(&t, fn == FN_COUNT ? FN_SUM : fn);
		sagg_limit(&t, w->budget);
	}
	worker_spill_open(w, w->st->in_k, w->st->red_v, fn, 0);
	sf = xcalloc(job->nparts, sizeof *sf);
	for (src = 0; src < job->nparts; src++) {
		if (!worker_source(w, src))
			continue;
		worker_open_source(w, src, &sf[src]);
		for (run = 0; run < sf[src].runs; run++) {
			/* Checked as it was opened. */
			p = shuffle_bytes(&sf[src], run, w->part, &len);
			end = p + len;
			while ((got = shuffle_next(&sf[src], &p, end,
			    &rec)) == 1) {
				if (words) {
					k = str_of(rec.k);
					sagg_add(&t, k->s, k->len, rec.v);
					if ((++n & 0xfff) == 0) {
						progress();
						if (sagg_full(&t))
							worker_spill_words(w,
							    &t);
					}
					continue;
				}
				if (n == cap) {
					if (cap > 0 && 2 * cap * sizeof *r >
					    w->budget) {
						worker_spill_sorted(w, r, n,
						    fn, &a);
						n = 0;
					} else {
						cap = cap ? cap * 2 : 4096;
						r = xreallocarray(r, cap,
						    sizeof *r);
					}
				}
				r[n++] = rec;
				if ((n & 1023) == 0)
					w->status->heartbeat++;
			}
			if (got == -1)
				fatalx("%s: damaged record", jd_run(NULL,
				    w->s - 1, src));
			w->bytes_in += len;
		}
	}
	w->status->bytes_in = w->bytes_in;
	if (words) {
		if (w->spills > 0)
			worker_spill_words(w, &t);
		r = sagg_pairs(&t, &n);
		recs_sort(r, n, VT_STR, VT_INT);
	} else if (w->spills > 0) {
		worker_spill_sorted(w, r, n, fn, &a);
		n = 0;
	} else {
		recs_sort(r, n, w->st->in_k, w->st->red_v);
		if (fn != 0)
			n = recs_fold(r, n, w->st->in_k, w->st->red_v, fn, 0,
			    &a);
	}
	path = jd_reduced(job->jobdir, w->s, w->part);
	if (w->spills > 0)
		worker_merge_spills(w, path, w->st->in_v);
	else {
		one = n;
		if (runfile_open_typed(&rf, path, 1, w->st->in_k,
		    w->st->in_v, 0, 0) != 0 || runfile_append_recs(&rf, r,
		    &one) != 0 || runfile_seal(&rf, job->opts->durable) != 0)
			worker_io_fail(w, path);
	}
	free(path);
	for (src = 0; src < job->nparts; src++) {
		if (worker_source(w, src))
			shuffle_close(&sf[src]);
	}
	free(sf);
	free(r);
	arena_free(&a);
	if (t.e != NULL)
		sagg_free(&t);
	worker_checkpoint(w, PHASE_EMIT, 0, 0);
	spill_remove(&w->spill);
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
	struct shuffle_file	 sf;
	struct agg		 red;
	const struct pair	*seg;
	struct runfile		 rf;
	char			*path;
	size_t			 i, n;
	uint64_t		 skip, rec;
	unsigned int		 src, r, first = 0;
	enum op_fn		 fn;
	int			 merging = resume && w->cs.phase == PHASE_MERGE;

	if (w->st->in_k != VT_INT || w->st->red_v != VT_INT ||
	    w->st->in_v != VT_INT || w->st->reduce_in->kind == OP_REDUCER) {
		worker_reduce_sorted(w);
		return;
	}
	fn = w->st->reduce_in->fn == FN_COUNT ? FN_SUM : w->st->reduce_in->fn;
	agg_init(&red, fn);
	agg_limit(&red, w->budget);
	worker_spill_open(w, VT_INT, VT_INT, fn, resume);
	skip = 0;
	if (resume) {
		first = merging ? job->nparts : (unsigned int)w->cs.cursor;
		skip = w->cs.cursor2;
		w->bytes_in = w->cs.bytes_in;
		w->mark = w->bytes_in;
	}
	for (src = first; src < job->nparts; src++) {
		if (!worker_source(w, src))
			continue;
		worker_open_source(w, src, &sf);
		rec = 0;
		for (r = 0; r < sf.runs; r++) {
			/* Checked as it was opened. */
			seg = (const struct pair *)shuffle_bytes(&sf, r,
			    w->part, &n);
			n /= sizeof *seg;
			for (i = 0; i < n; i++, rec++) {
				if (rec < skip)
					continue;
				if (agg_full(&red))
					worker_spill_agg(w, &red);
				agg_add(&red, seg[i].k, seg[i].v);
				w->bytes_in += sizeof *seg;
				if ((rec & 1023) == 1023) {
					w->status->heartbeat++;
					w->status->bytes_in = w->bytes_in;
					if (worker_due(w)) {
						worker_spill_agg(w, &red);
						worker_checkpoint(w,
						    PHASE_READ, src, rec + 1);
					}
				}
			}
		}
		skip = 0;
		shuffle_close(&sf);
	}
	w->status->bytes_in = w->bytes_in;

	path = jd_reduced(job->jobdir, w->s, w->part);
	if (w->spill.rf.runs == 0) {
		/* It all fit: the table is the result. */
		if (runfile_open(&rf, path, 1, 0, 0) != 0 ||
		    runfile_append_agg(&rf, &red) != 0 ||
		    runfile_seal(&rf, job->opts->durable) != 0)
			worker_io_fail(w, path);
	} else {
		worker_spill_agg(w, &red);
		if (!merging)
			worker_checkpoint(w, PHASE_MERGE, 0, 0);
		worker_merge_spills(w, path, VT_INT);
	}
	free(path);
	agg_free(&red);
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

/* The path of a stage's committed output. */
static char *
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
static int
worker_stage_committed(struct wctx *w, unsigned int s)
{
	struct ckpt_state	 cs;
	char			*path;
	int			 done;

	if (!ckpt_load(w->ckpt, &cs) || cs.stages_done < s)
		return (0);
	path = worker_stage_path(w, s);
	done = access(path, F_OK) == 0;
	if (done && cs.stages_done == s) {
		/*
		 * The stage's output was renamed into place, but the worker
		 * died before it published that: the stage is done.  A part
		 * was renamed whole: its sum is what it holds.
		 */
		memset(&w->cs, 0, sizeof w->cs);
		w->cs.stages_done = s + 1;
		w->cs.records_in = cs.records_in;
		w->cs.records_out = cs.records_out;
		if (w->job->plan->stages[s].reduce_out == NULL &&
		    file_sum(path, &w->cs.output_len, &w->cs.output_sum) != 0)
			worker_io_fail(w, path);
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

/* Commit the final stage's output: merge the sorted runs into the part. */
static void
worker_commit_final(struct wctx *w, const char *path)
{
	struct job		*job = w->job;
	struct shuffle_file	 sf;
	struct pair_src		*src;
	struct outspec		 os;
	struct pair		**dec = NULL;
	const char		*p, *end;
	char			*cause;
	size_t			 len;
	unsigned int		 r;
	int			 rv;

	os.kt = w->st->out_k;
	os.vt = w->st->out_v;
	os.fmt = job->out_format;
	os.text = job->opts->output != NULL;
	/* A reduce's groups come sorted, one per key: no operator after it
	 * can change that order. */
	if (w->st->reduce_in == NULL || w->st->first != w->st->end)
		recs_sort(w->recs.r, w->recs.n, os.kt, os.vt);
	if (w->sink.runs == 0) {
		src = xcalloc(1, sizeof *src);
		src[0].p = w->recs.r;
		src[0].n = w->recs.n;
		rv = output_write_merged(path, src, 1, &os, job->opts->output !=
		    NULL || job->opts->durable, &w->bytes_out, &w->out_sum);
		if (rv != 0)
			worker_io_fail(w, path);
		free(src);
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
	if (shuffle_check_all(&sf) != 0)
		worker_restart_stage(w, worker_sink_name(w), sf.bad);
	src = xcalloc(sf.runs + 1, sizeof *src);
	dec = xcalloc(sf.runs + 1, sizeof *dec);
	for (r = 0; r < sf.runs; r++) {
		if (sf.schema == 0) {
			src[r].p = shuffle_segment(&sf, r, 0, &src[r].n);
			continue;
		}
		/* Records with strings: decode them, pointing into the map. */
		p = shuffle_bucket(&sf, r, 0, &len);
		end = p + len;
		dec[r] = xreallocarray(NULL, len / 8 + 1, sizeof **dec);
		while (shuffle_next(&sf, &p, end, &dec[r][src[r].n]) == 1) {
			if ((++src[r].n & 0xffff) == 0)
				progress();
		}
		src[r].p = dec[r];
	}
	src[r].p = w->recs.r;
	src[r].n = w->recs.n;
	rv = output_write_merged(path, src, sf.runs + 1, &os,
	    job->opts->output != NULL || job->opts->durable, &w->bytes_out,
	    &w->out_sum);
	if (rv != 0)
		worker_io_fail(w, path);
	for (r = 0; r <= sf.runs; r++)
		free(dec[r]);
	free(dec);
	free(src);
	shuffle_close(&sf);
	unlink(w->sink.tmp);
	runfile_abort(&w->sink);
}

/* The name of the stage's sink, being written, in the job directory. */
static const char *
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
static int
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

/* Run stage s of this partition and commit its output. */
static void
worker_run_stage(struct wctx *w, unsigned int s)
{
	struct job	*job = w->job;
	struct batch	*b;
	char		*path, *file, name[32];
	unsigned int	 i;
	int		 resume;

	w->s = s;
	w->st = &job->plan->stages[s];
	w->records_in = w->records_out = w->bytes_in = w->bytes_out = 0;
	w->mark = 0;
	w->status->stage = s;
	w->status->op = stage_first_op(job->prog, w->st);
	w->status->records_in = w->status->records_out = 0;
	w->status->bytes_in = w->status->bytes_total = 0;
	if ((w->already = worker_stage_committed(w, s)))
		return;

	/* Resume from the checkpoint if it is inside this stage. */
	resume = ckpt_load(w->ckpt, &w->cs) && w->cs.stages_done == s &&
	    w->cs.phase != PHASE_NONE;
	if (!resume)
		memset(&w->cs, 0, sizeof w->cs);
	counters_clear();
	if (resume) {
		/* The counters of the checkpoint, whole, or none of it. */
		file = jd_counters_ckpt(NULL, w->part, s, w->cs.generation);
		path = jd_counters_ckpt(job->jobdir, w->part, s,
		    w->cs.generation);
		if (counters_load(path) != 0) {
			log_warnx("%s: missing or damaged; starting stage %u "
			    "again", file, s);
			worker_damaged(w, file, 0, DAMAGE_RESTART);
			counters_clear();
			resume = 0;
			memset(&w->cs, 0, sizeof w->cs);
		}
		free(path);
		free(file);
	}
	if (resume && worker_open_sink(w, 1) != 0) {
		log_warnx("checkpoint of stage %u unusable; starting the "
		    "stage again", s);
		if (errno == EINVAL)
			worker_damaged(w, worker_sink_name(w), runfile_bad,
			    DAMAGE_RESTART);
		resume = 0;
		memset(&w->cs, 0, sizeof w->cs);
		counters_clear();
	}
	for (i = w->st->first; i < w->st->end; i++)
		ops_records(w->ops)[i] = 0;
	w->cpu_start = cpu_us();
	w->cpu_base = 0;
	w->spills = w->spilled = w->passes = 0;
	w->budget = worker_budget(w);
	if (resume) {
		for (i = w->st->first; i < w->st->end; i++) {
			snprintf(name, sizeof name, COUNTER_OP, (size_t)i);
			ops_records(w->ops)[i] = (uint64_t)counters_get(name);
		}
		w->cpu_base = counters_get(COUNTER_OWN "cpu us");
		w->spills = (uint64_t)counters_get(COUNTER_OWN "spills");
		w->spilled = (uint64_t)counters_get(COUNTER_OWN
		    "spilled bytes");
		w->passes = (uint64_t)counters_get(COUNTER_OWN
		    "merge passes");
	}
	if (!resume)
		(void)worker_open_sink(w, 0);
	else {
		w->records_in = w->cs.records_in;
		w->records_out = w->cs.records_out;
		log_info("resuming stage %u from checkpoint %llu (phase %u, "
		    "at %llu)", s, (unsigned long long)w->cs.generation,
		    w->cs.phase, (unsigned long long)w->cs.cursor);
	}
	/* Integer pairs to combine take the hash table; all else sorts. */
	w->use_agg = w->st->reduce_out != NULL && w->st->out_k == VT_INT &&
	    w->st->out_v == VT_INT && w->st->reduce_out->kind == OP_REDUCE &&
	    w->st->reduce_out->fn != FN_COLLECT;
	w->streaming = 0;
	for (i = w->st->first; i < w->st->end; i++) {
		if (job->prog->ops[i].kind == OP_MAPPER ||
		    job->prog->ops[i].kind == OP_REDUCER)
			w->streaming = 1;
	}
	stream_env.part = w->part;
	stream_env.nparts = job->nparts;
	stream_env.attempt = w->attempt;
	stream_env.job_id = job->job_id;
	stream_env.input_file = NULL;
	stream_env.input_start = stream_env.input_length = 0;
	/* Commands run where -file put their files, else beside the
	 * program, as its relative inputs are. */
	stream_env.workdir = job->workdir != NULL ? job->workdir :
	    (*job->prog->dir != '\0' ? job->prog->dir : NULL);
	w->use_sagg = worker_is_wordcount(w);
	if (w->use_agg) {
		agg_init_combiner(&w->comb, w->st->reduce_out->fn);
		agg_limit(&w->comb, w->budget);
	}
	if (w->use_sagg) {
		sagg_init_combiner(&w->words, w->st->reduce_out->fn == FN_COUNT ?
		    FN_SUM : w->st->reduce_out->fn);
		sagg_limit(&w->words, w->budget);
	}
	recbuf_free(&w->recs);
	w->recs.kt = w->st->out_k;
	w->recs.vt = w->st->out_v;

	b = batch_new();
	if (w->use_sagg)
		worker_count_words(w, resume);
	else if (s == 0)
		worker_read_input(w, b, resume);
	else {
		if (w->cs.phase != PHASE_EMIT)
			worker_reduce(w, resume);
		worker_emit(w, b, w->cs.cursor);
	}
	batch_free(b);
	worker_finish_streams(w);

	path = worker_stage_path(w, s);
	if (w->st->reduce_out != NULL) {
		worker_flush(w);
		w->bytes_out = w->sink.len;
		if (runfile_seal(&w->sink, job->opts->durable) != 0)
			worker_io_fail(w, path);
		if (w->use_agg)
			agg_free(&w->comb);
		if (w->use_sagg)
			sagg_free(&w->words);
	} else
		worker_commit_final(w, path);
	recbuf_free(&w->recs);
	free(path);
	if (s > 0) {
		/* What the reduce kept on the way is no longer needed. */
		path = jd_reduced(job->jobdir, s, w->part);
		(void)unlink(path);
		free(path);
		file = jd_spill(job->jobdir, s, w->part);
		xasprintf(&path, "%s.tmp", file);
		(void)unlink(path);
		free(path);
		free(file);
	}

	worker_save_counters(w, 0);

	/* The stage's output is under its final name: publish that. */
	memset(&w->cs, 0, sizeof w->cs);
	w->cs.stages_done = s + 1;
	w->cs.records_in = w->records_in;
	w->cs.records_out = w->records_out;
	w->cs.bytes_in = w->bytes_in;
	w->cs.output_len = w->bytes_out;
	w->cs.output_sum = w->out_sum;
	if (ckpt_publish(w->ckpt, &w->cs, job->opts->durable) != 0)
		worker_io_fail(w, "checkpoint");
	/* The stage's end has its own counters: those of its last two
	 * checkpoints are done with. */
	if (w->cs.generation > 2)
		worker_drop_counters(w, w->cs.generation - 2);
	if (w->cs.generation > 1)
		worker_drop_counters(w, w->cs.generation - 1);
}

/*
 * Tell the supervisor the stage is committed, with its counts and, for a
 * stage that shuffles, which partitions its output has records for.
 */
static void
worker_stage_done(struct wctx *w, unsigned int s)
{
	struct msg_stage_done	 done;
	uint8_t			*used = NULL;
	char			*path;

	memset(&done, 0, sizeof done);
	done.stage = s;
	done.flags = w->already ? DONE_ALREADY : 0;
	done.records_in = w->records_in;
	done.records_out = w->records_out;
	done.bytes_in = w->bytes_in;
	done.bytes_out = w->bytes_out;
	if (w->job->plan->stages[s].reduce_out != NULL) {
		done.nused = (w->job->nparts + 7) / 8;
		used = xmalloc(done.nused);
		path = worker_stage_path(w, s);
		if (runfile_used(path, w->job->nparts, used) != 0)
			fatal("%s", path);
		free(path);
	}
	if (proto_send(w->fd, MSG_STAGE_DONE, w->part, &done, sizeof done,
	    used, done.nused) != 0)
		fatal("send");
	free(used);
}

/* Read MSG_START: the stage, the attempt, records to skip or watch. */
static int
worker_get_start(struct wctx *w, struct msg *m, struct msg_start *start)
{
	size_t	i;

	if (proto_get(m, start, sizeof *start) != 0 ||
	    start->stage >= w->job->plan->nstages ||
	    start->nskip > MSG_MAXSIZE / 8 || start->ncareful > MSG_MAXSIZE / 16 ||
	    (start->nsources != 0 && start->nsources !=
	    (w->job->nparts + 7) / 8))
		return (-1);
	free(w->skip);
	free(w->careful);
	w->skip = xcalloc(start->nskip + 1, sizeof *w->skip);
	w->careful = xcalloc(2 * start->ncareful + 1, sizeof *w->careful);
	w->nskip = start->nskip;
	w->ncareful = start->ncareful;
	for (i = 0; i < w->nskip; i++) {
		if (proto_get(m, &w->skip[i], sizeof *w->skip) != 0)
			return (-1);
	}
	for (i = 0; i < 2 * w->ncareful; i++) {
		if (proto_get(m, &w->careful[i], sizeof *w->careful) != 0)
			return (-1);
	}
	free(w->sources);
	w->sources = NULL;
	if (start->nsources != 0) {
		w->sources = xmalloc(start->nsources);
		if (proto_get(m, w->sources, start->nsources) != 0)
			return (-1);
	}
	w->attempt = start->attempt;
	w->status->attempt = start->attempt;
	return (proto_end(m));
}

/*
 * The life of a process that produces the output of stage t of partition
 * part again: a worker of its own, with a checkpoint of its own and no
 * supervisor to talk to, that runs the stage from nothing and exits 0.
 * It writes what the first run wrote: a stage is a function of its input,
 * its checkpoints fall at the same records, and the records an earlier
 * run skipped (the journal has them) are skipped again.
 */
static __dead void
worker_redo_child(struct job *job, unsigned int t, unsigned int part)
{
	struct wctx	 c;
	char		 name[48], *path;
	uint8_t		*m;
	size_t		 row = (job->nparts + 7) / 8, j;
	unsigned int	 i;

	snprintf(name, sizeof name, "worker %u (stage %u again)", part, t);
	log_procinit(name);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	memset(&c, 0, sizeof c);
	c.job = job;
	c.part = part;
	c.fd = -1;
	c.sink.fd = -1;
	c.redo = 1;
	c.status = xcalloc(1, sizeof *c.status);
	/* A worker's child moves the worker's heartbeat. */
	if (progress_counter == NULL)
		progress_counter = &c.status->heartbeat;
	progress_op = &c.status->op;
	c.ops = ops_new(job->prog, job->prog->in_format == IN_TEXT ? VT_STR :
	    VT_INT, job->prog->in_format == IN_TEXT ? VT_STR : VT_INT,
	    &c.groups);
	path = jd_ckpt_redo(job->jobdir, part);
	(void)unlink(path);
	if ((c.ckpt = ckpt_open(path, part, job->job_id)) == NULL)
		fatal("%s", path);
	if (t > 0 && (m = journal_load_used(job, t - 1)) != NULL) {
		c.sources = xcalloc(row, 1);
		for (i = 0; i < job->nparts; i++) {
			if (m[i * row + part / 8] & (1u << (part % 8)))
				c.sources[i / 8] |= (uint8_t)(1u << (i % 8));
		}
		free(m);
	}
	c.skip = xcalloc(job->nskips + 1, sizeof *c.skip);
	for (j = 0; j < job->nskips; j++) {
		if (job->skips[j].part == part && job->skips[j].stage == t)
			c.skip[c.nskip++] = job->skips[j].record;
	}
	worker_run_stage(&c, t);
	(void)unlink(path);
	_exit(WORKER_EXIT_OK);
}

/*
 * Produce the output of stage t of partition part again (the supervisor
 * found a part damaged), in a child process, and wait for it.  Returns 0,
 * or -1 if it failed.
 */
int
worker_redo_stage(struct job *job, unsigned int t, unsigned int part)
{
	pid_t	pid, r;
	int	status;

	if ((pid = fork()) == -1)
		return (-1);
	if (pid == 0)
		worker_redo_child(job, t, part);
	while ((r = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	return (r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ?
	    0 : -1);
}

/* The life of a worker process. */
__dead void
worker_main(struct job *job, unsigned int part, int fd)
{
	struct wctx		 w;
	struct msg_hello	 hello;
	struct msg_start	 start;
	struct buf		 rbuf;
	struct msg		 m;
	char			 name[32], *path;
	pid_t			 ppid = getppid();
	int			 r;

	snprintf(name, sizeof name, "worker %u", part);
	log_procinit(name);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != ppid)
		_exit(WORKER_EXIT_RETRY);

	memset(&w, 0, sizeof w);
	w.job = job;
	w.part = part;
	w.fd = fd;
	w.sink.fd = -1;
	path = jd_status(job->jobdir, part);
	if ((w.status = map_shared_file(path, sizeof *w.status, 1)) == NULL)
		fatal("%s", path);
	free(path);
	progress_counter = &w.status->heartbeat;
	w.ops = ops_new(job->prog, job->prog->in_format == IN_TEXT ? VT_STR :
	    VT_INT, job->prog->in_format == IN_TEXT ? VT_STR : VT_INT,
	    &w.groups);
	progress_op = &w.status->op;
	progress_wait = &w.status->in_command;
	/* Whichever way this worker fails, its commands go with it. */
	stream_groups = w.groups.pgid = w.status->pgid;
	log_set_fatal_hook(stream_kill_all);
	log_set_nomem_status(WORKER_EXIT_NOMEM);
	path = jd_ckpt(job->jobdir, part);
	if ((w.ckpt = ckpt_open(path, part, job->job_id)) == NULL)
		fatal("%s", path);
	free(path);
	w.status->pid = getpid();

	memset(&hello, 0, sizeof hello);
	hello.version = PROTO_VERSION;
	hello.pid = getpid();
	if (proto_send(fd, MSG_HELLO, part, &hello, sizeof hello, NULL, 0))
		fatal("send");
	memset(&rbuf, 0, sizeof rbuf);
	for (;;) {
		r = proto_recv(fd, &rbuf, &m);
		if (r == 0)
			_exit(WORKER_EXIT_RETRY);	/* supervisor gone */
		if (r == -1)
			fatalx("malformed message from the supervisor");
		switch (m.hdr.type) {
		case MSG_START:
			if (worker_get_start(&w, &m, &start) != 0)
				fatalx("bad MSG_START");
			worker_run_stage(&w, start.stage);
			worker_stage_done(&w, start.stage);
			break;
		case MSG_FINISH:
			_exit(WORKER_EXIT_OK);
		default:
			fatalx("unexpected message %u", m.hdr.type);
		}
	}
}
