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
 * This file is the worker's life: its messages, its checkpoints and
 * counters, and the driver of a stage, which picks the stage's source and
 * sink once (worker-input.c, worker-reduce.c, worker-commit.c) and runs
 * records from one through the operators to the other.
 *
 * Between stages the worker blocks on its socket; during a stage it makes
 * no system call on the hot path and shows its progress in its status page,
 * where the supervisor's heartbeat timer looks for it.
 */

#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
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

static int	worker_say(struct wctx *, uint32_t, const void *, size_t,
		    const char *);
static void	worker_emit_event(struct wctx *, const char *, json_t *);
static int64_t	cpu_us(void);
static void	worker_save_counters(struct wctx *, uint64_t);
static void	worker_drop_counters(struct wctx *, uint64_t);
static uint64_t	worker_budget(const struct wctx *);
static void	worker_run_stage(struct wctx *, unsigned int);
static void	worker_stage_done(struct wctx *, unsigned int);
static int	worker_get_start(struct wctx *, struct msg *,
		    struct msg_start *);

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
__dead void
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
__dead void
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
__dead void
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
__dead void
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
__dead void
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
void
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
void
worker_damaged(struct wctx *w, const char *file, uint64_t off,
    uint32_t action)
{
	(void)worker_damaged_in(w, file, off, action, 0, 0);
}

/*
 * The same, of the output of stage t of partition part (DAMAGE_RESEND).
 * Returns 0 when the supervisor was told.
 */
int
worker_damaged_in(struct wctx *w, const char *file, uint64_t off,
    uint32_t action, unsigned int t, unsigned int part)
{
	struct msg_damaged	d;

	if (w->redo)
		return (-1);
	memset(&d, 0, sizeof d);
	d.action = action;
	d.off = off;
	d.stage = t;
	d.part = part;
	if (worker_say(w, MSG_DAMAGED, &d, sizeof d, file) != 0) {
		log_warnx("%s: damaged at offset %llu", file,
		    (unsigned long long)off);
		return (-1);
	}
	return (0);
}

/*
 * A file of this worker's own stage failed its check: the stage starts
 * again, from nothing.  The fresh checkpoint counts as progress, so the
 * restart is at once and is no failure of the partition's.
 */
__dead void
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
int64_t
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
void
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

/*
 * Resume stage s from the checkpoint if it is inside it, with the
 * counters of that checkpoint and the stage's run file as it left them;
 * a checkpoint whose files are gone or damaged starts the stage again.
 * Returns whether it resumes.
 */
static int
worker_stage_resume(struct wctx *w, unsigned int s)
{
	struct job	*job = w->job;
	char		*path, *file;
	int		 resume;

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
	if (!resume)
		(void)worker_open_sink(w, 0);
	return (resume);
}

/* Set the stage's counts going, from the checkpoint's when it resumes. */
static void
worker_stage_counts(struct wctx *w, int resume)
{
	uint64_t	*opin = ops_records(w->ops);
	char		 name[32];
	unsigned int	 i;

	w->cpu_start = cpu_us();
	w->cpu_base = 0;
	w->spills = w->spilled = w->passes = 0;
	for (i = w->st->first; i < w->st->end; i++)
		opin[i] = 0;
	if (!resume)
		return;
	for (i = w->st->first; i < w->st->end; i++) {
		snprintf(name, sizeof name, COUNTER_OP, (size_t)i);
		opin[i] = (uint64_t)counters_get(name);
	}
	w->cpu_base = counters_get(COUNTER_OWN "cpu us");
	w->spills = (uint64_t)counters_get(COUNTER_OWN "spills");
	w->spilled = (uint64_t)counters_get(COUNTER_OWN "spilled bytes");
	w->passes = (uint64_t)counters_get(COUNTER_OWN "merge passes");
	w->records_in = w->cs.records_in;
	w->records_out = w->cs.records_out;
	log_info("resuming stage %u from checkpoint %llu (phase %u, at %llu)",
	    w->s, (unsigned long long)w->cs.generation, w->cs.phase,
	    (unsigned long long)w->cs.cursor);
}

/*
 * The folder of this task (stage, partition, attempt), where its commands
 * run when the job ships files, as Hadoop's tasks each have theirs:
 * JOBDIR/tasks/sS-pP-aA, with a link to each file and unpacked archive of
 * JOBDIR/files, so that what one task's commands write there is not
 * another's.
 */
static char *
worker_taskdir(struct wctx *w)
{
	struct dirent	*e;
	DIR		*d;
	char		*dir, *path, *to;

	dir = jd_file(w->job->jobdir, JD_TASKS);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		fatal("%s", dir);
	free(dir);
	dir = jd_task(w->job->jobdir, w->s, w->part, w->attempt);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		fatal("%s", dir);
	if ((d = opendir(w->job->workdir)) == NULL)
		fatal("%s", w->job->workdir);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		/* Relative, so that a relative --job-dir works too. */
		xasprintf(&to, "../../%s/%s", JD_FILES, e->d_name);
		xasprintf(&path, "%s/%s", dir, e->d_name);
		if (symlink(to, path) != 0 && errno != EEXIST)
			fatal("%s", path);
		free(path);
		free(to);
	}
	closedir(d);
	return (dir);
}

/* What the stage's commands see of it (stream.c). */
static void
worker_stage_env(struct wctx *w)
{
	struct job	*job = w->job;
	unsigned int	 i;

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
	/* Commands run in their task's folder when the job ships files,
	 * else where forkflow streaming started, else beside the program,
	 * as its relative inputs are. */
	free(w->taskdir);
	w->taskdir = NULL;
	if (job->opts->nship > 0)
		w->taskdir = worker_taskdir(w);
	stream_env.workdir = w->taskdir != NULL ? w->taskdir :
	    job->workdir != NULL ? job->workdir :
	    (*job->prog->dir != '\0' ? job->prog->dir : NULL);
	stream_env.env = job->prog->env;
	free(w->logpath);
	w->logpath = jd_log(job->jobdir, w->s, w->part, w->attempt);
	stream_env.log = w->logpath;
	stream_env.quiet = job->opts->quiet;
}

/*
 * The stage's records are all in: seal its run file, or merge its runs
 * into the partition's part, drop what the reduce kept on the way, and
 * publish that the stage is done.
 */
static void
worker_stage_commit(struct wctx *w, unsigned int s)
{
	struct job		*job = w->job;
	const struct inject	*ij;
	char			*path, *file;

	path = worker_stage_path(w, s);
	if (w->st->reduce_out != NULL) {
		worker_flush(w);
		w->bytes_out = w->sink.len;
		if (runfile_seal(&w->sink, job->opts->durable) != 0)
			worker_io_fail(w, path);
	} else
		worker_commit_final(w, path);
	w->out->free(w);
	free(path);
	if (s > 0) {
		path = jd_reduced(job->jobdir, s, w->part);
		(void)unlink(path);
		free(path);
		file = jd_spill(job->jobdir, s, w->part);
		xasprintf(&path, "%s.tmp", file);
		(void)unlink(path);
		free(path);
		free(file);
	}

	/* The window this publishes is tested with P:commit:S. */
	ij = &job->opts->inject;
	if (ij->set && ij->point == INJECT_COMMIT && ij->part == w->part &&
	    ij->record == s && w->attempt <= ij->attempts && !w->redo)
		raise(SIGKILL);
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
 * Run stage s of this partition and commit its output: its records go
 * from the stage's source through its operators to its sink, each chosen
 * once here.
 */
static void
worker_run_stage(struct wctx *w, unsigned int s)
{
	struct job	*job = w->job;
	struct batch	*b;
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
	resume = worker_stage_resume(w, s);
	worker_stage_counts(w, resume);
	worker_stage_env(w);
	w->budget = worker_budget(w);
	w->in = worker_source_of(w);
	w->out = worker_sink_of(w);
	w->out->init(w);

	b = batch_new();
	w->in->run(w, b, resume);
	batch_free(b);
	worker_finish_streams(w);
	worker_stage_commit(w, s);
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
__dead void
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
	c.skip = xcalloc(job->run.nskips + 1, sizeof *c.skip);
	for (j = 0; j < job->run.nskips; j++) {
		if (job->run.skips[j].part == part && job->run.skips[j].stage == t)
			c.skip[c.nskip++] = job->run.skips[j].record;
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
