/* forkflow: see LICENSE. */
/*
 * A worker's sources: where a stage's records come from.  Stage 0 reads
 * its byte ranges of the input files (worker_read_input), or counts words
 * straight from the bytes (worker_count_words); later stages read their
 * bucket of the run files of the stage before, which a damaged file makes
 * a worker produce again first (worker_redo).  Every batch goes through
 * worker_push, which skips the records the supervisor says to and runs
 * the suspect ones one at a time.
 */

#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

static int	worker_redo(struct wctx *, unsigned int, unsigned int,
		    const char *, uint64_t, int (*)(struct wctx *,
		    unsigned int, unsigned int));
static int	worker_open_checked(struct wctx *, unsigned int, unsigned int,
		    struct shuffle_file *, int, char **, uint64_t *);
static int	worker_redo_fixed(struct wctx *, unsigned int, unsigned int);
static int	worker_skipped(const struct wctx *, uint64_t);
static int	worker_careful(const struct wctx *, uint64_t);
static int	worker_special(const struct wctx *, uint64_t, size_t);
static int	worker_inject_due(const struct wctx *, uint64_t, uint64_t);
static void	worker_inject(struct wctx *, struct batch *, uint64_t);
static void	worker_push_batch(struct wctx *, struct batch *);
static size_t	worker_splits(struct wctx *, uint64_t *);
static void	worker_stream_file(struct wctx *, size_t, uint64_t, uint64_t);
static void	worker_read_input(struct wctx *, struct batch *, int);
static void	worker_count_words(struct wctx *, int);
static void	worker_words_run(struct wctx *, struct batch *, int);

/*
 * Take the lock of the output of stage t of partition src, which the
 * readers that find it damaged take turns on; its descriptor.
 */
static int
worker_redo_lock(struct wctx *w, unsigned int t, unsigned int src)
{
	char	*path;
	int	 fd;

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
	return (fd);
}

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
	pid_t	 pid, r;
	int	 fd, status;

	fd = worker_redo_lock(w, t, src);
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

/* Is this worker's bucket of the output of stage t of partition src whole
 * again? */
static int
worker_bucket_fixed(struct wctx *w, unsigned int t, unsigned int src)
{
	struct shuffle_file	 sf;
	char			*file;
	uint64_t		 off;

	if (worker_open_checked(w, t, src, &sf, (int)w->part, &file,
	    &off) != 0) {
		free(file);
		return (0);
	}
	shuffle_close(&sf);
	return (1);
}

/*
 * The output of stage t of partition src came from the host of src, which
 * sends it cheaper than this host produces it (that may take the stages
 * before it too): have the supervisor ask for it again, and wait until a
 * new file is in its place.  Readers that find the same damage take turns
 * on the lock of worker_redo(), and the first one's ask serves the others.
 * Returns 0, or -1 when the ask was given up (the supervisor marks the
 * file PATH.noask) or --shuffle-timeout and a minute went by.
 */
static int
worker_ask(struct wctx *w, unsigned int t, unsigned int src,
    const char *file, uint64_t off)
{
	struct stat	 st;
	char		*path, *mark;
	double		 end;
	ino_t		 ino;
	int		 fd, r = 0;

	fd = worker_redo_lock(w, t, src);
	if (worker_bucket_fixed(w, t, src)) {
		close(fd);
		return (0);
	}
	path = jd_run(w->job->jobdir, t, src);
	xasprintf(&mark, "%s.noask", path);
	(void)unlink(mark);
	ino = stat(path, &st) == 0 ? st.st_ino : 0;
	if (worker_damaged_in(w, file, off, DAMAGE_RESEND, t, src) != 0)
		r = -1;
	else
		log_info("%s: damaged at offset %llu; asked for again", file,
		    (unsigned long long)off);
	/* Waiting is progress: the supervisor times the transfer. */
	end = mono_now() + w->job->opts->shuffle_timeout + 60;
	while (r == 0 && (stat(path, &st) != 0 || st.st_ino == ino)) {
		if (access(mark, F_OK) == 0 || mono_now() > end)
			r = -1;
		progress();
		usleep(10000);
	}
	(void)unlink(mark);
	free(mark);
	free(path);
	close(fd);
	return (r);
}

/*
 * Open this worker's input from partition src of the stage before, as
 * worker_open_checked(); a damaged file is produced again by its writer's
 * stage, after two asks for it of the host that sent it, if another did
 * (a worker's, not the child that produces an output again, which cannot
 * ask), and a file that stays damaged fails the job.
 */
void
worker_open_source(struct wctx *w, unsigned int src, struct shuffle_file *sf)
{
	char		*file, *msg;
	uint64_t	 off;
	int		 asks, redos = 0;

	asks = !job_owns(w->job, src) && !w->redo ? 2 : 0;
	for (;;) {
		if (worker_open_checked(w, w->s - 1, src, sf, (int)w->part,
		    &file, &off) == 0)
			return;
		if (asks > 0) {
			asks--;
			if (worker_ask(w, w->s - 1, src, file, off) == 0) {
				free(file);
				continue;
			}
			asks = 0;
		}
		/* A child that crashed (or was killed) is forked again. */
		if (redos++ == 3)
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
int
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

/*
 * Is the record --inject-crash names among records [lo, lo + n) of the
 * stage's input, in this worker, at an operator of this stage, on an
 * attempt it asks for?
 */
static int
worker_inject_due(const struct wctx *w, uint64_t lo, uint64_t n)
{
	const struct inject	*ij = &w->job->opts->inject;

	if (!ij->set || ij->point != INJECT_RECORD || ij->part != w->part ||
	    w->attempt > ij->attempts)
		return (0);
	if (!(ij->op >= w->st->first && ij->op < w->st->end) &&
	    !(w->st->reduce_out != NULL &&
	    w->st->reduce_out == &w->job->prog->ops[ij->op]))
		return (0);
	return (ij->record >= lo && ij->record < lo + n);
}

/* Crash here if the user asked for it, showing the record it was at. */
static void
worker_inject(struct wctx *w, struct batch *b, uint64_t lo)
{
	const struct inject	*ij = &w->job->opts->inject;
	uint64_t		 i;

	if (!worker_inject_due(w, lo, b->n))
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
	if (w->out->full != NULL && w->out->full(w))
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
void
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

/* A first mapper started anew every so many lines: how many (or 0). */
static uint64_t
worker_lines_per(const struct wctx *w)
{
	const struct program	*p = w->job->prog;

	return (w->s == 0 && p->nops > 0 ? p->ops[0].lines_per : 0);
}

/*
 * With linesPerProcess, each of the worker's ranges goes from the first
 * group of lines that starts in it to the first that starts in the next
 * (input_group_start): a group is one range's, whatever the partitions.
 */
static void
worker_group_ranges(struct wctx *w, size_t n, uint64_t *total)
{
	const struct job	*job = w->job;
	uint64_t		 per = worker_lines_per(w);
	size_t			 i;

	if (per == 0)
		return;
	*total = 0;
	for (i = 0; i < n; i++) {
		if (input_group_start(job->files, job->nfiles, w->rlo[i], per,
		    &w->rlo[i]) != 0 || input_group_start(job->files,
		    job->nfiles, w->rhi[i], per, &w->rhi[i]) != 0)
			worker_io_fail(w, job->files[input_file_of(job->files,
			    job->nfiles, w->rlo[i])].name);
		*total += w->rhi[i] - w->rlo[i];
	}
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

/* Does a mapper of the stage want a process of its own per file? */
static int
worker_per_file(const struct wctx *w)
{
	size_t	i;

	for (i = w->st->first; i < w->st->end; i++)
		if (w->job->prog->ops[i].per_file)
			return (1);
	return (0);
}

/* Each line's key: its byte offset in its file, as Hadoop's LongWritable. */
static void
worker_offset_keys(struct wctx *w, struct batch *b)
{
	const struct job	*job = w->job;
	uint64_t		 fstart = 0;
	size_t			 f, i;
	char			 num[24];
	int			 len;

	f = input_file_of(job->files, job->nfiles, b->pos[0]);
	for (i = 0; i < f; i++)
		fstart += job->files[i].size;
	for (i = 0; i < b->n; i++) {
		len = snprintf(num, sizeof num, "%llu",
		    (unsigned long long)(b->pos[i] - fstart));
		b->k[i] = str_make(&b->arena, num, (size_t)len);
	}
}

/* Records [s, e) of batch b on, through a batch of their own. */
static void
worker_push_part(struct wctx *w, const struct batch *b, size_t s, size_t e)
{
	static struct batch	*sub;

	if (s == 0 && e == b->n) {
		worker_push(w, (struct batch *)b);
		return;
	}
	if (sub == NULL)
		sub = batch_new();
	batch_init(sub);
	sub->n = e - s;
	memcpy(sub->k, b->k + s, sub->n * sizeof *sub->k);
	memcpy(sub->v, b->v + s, sub->n * sizeof *sub->v);
	memcpy(sub->pos, b->pos + s, sub->n * sizeof *sub->pos);
	worker_push(w, sub);
}

/*
 * linesPerProcess: the mapper's process ends after each group of so many
 * lines of a file, and at a file's or a range's end; a checkpoint falls
 * between groups, so that a resumed worker starts a group anew.
 */
static void
worker_push_groups(struct wctx *w, struct batch *b, const struct input *in)
{
	uint64_t	 per = worker_lines_per(w);
	size_t		 f, i, s = 0;

	f = input_file_of(w->job->files, w->job->nfiles, b->pos[0]);
	if (f != w->gfile || in->ri != w->grange) {
		if (w->ingroup > 0)
			worker_finish_streams(w);
		w->ingroup = 0;
		w->gfile = f;
		w->grange = in->ri;
	}
	for (i = 0; i < b->n; i++) {
		if (w->ingroup == per) {
			worker_push_part(w, b, s, i);
			worker_finish_streams(w);
			w->ingroup = 0;
			s = i;
			if (worker_due(w)) {
				w->bytes_in = input_progress_at(in, b->pos[i]);
				worker_checkpoint(w, PHASE_READ, b->pos[i], 0);
			}
		}
		w->ingroup++;
	}
	worker_push_part(w, b, s, b->n);
	if (w->ingroup == per) {
		worker_finish_streams(w);
		w->ingroup = 0;
	}
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
	worker_group_ranges(w, n, &total);
	w->status->bytes_total = total;
	input_open_ranges(&in, job->files, job->nfiles, w->rlo, w->rhi, n,
	    resume ? w->cs.cursor : 0);
	in.format = job->prog->in_format;
	w->bytes_in = input_progress(&in);
	w->mark = w->bytes_in;
	cur = SIZE_MAX;
	w->ingroup = 0;
	w->gfile = w->grange = SIZE_MAX;
	while ((r = input_read(&in, b)) > 0) {
		/*
		 * A batch is of one file.  A mapper's process reads all the
		 * files of the worker's share in a row, as one of Hadoop's
		 * CombineFileInputFormat does, and is started again only at
		 * a checkpoint: its environment names the file it starts in.
		 */
		if (w->streaming && (f = input_file_of(job->files,
		    job->nfiles, b->pos[0])) != cur) {
			/* A mapper that asks for it starts anew on each
			 * file (forkflow mapreduce's doc_id). */
			if (cur != SIZE_MAX && worker_per_file(w))
				worker_finish_streams(w);
			worker_stream_file(w, f, in.lo, in.hi);
			cur = f;
		}
		if (job->prog->nops > 0 && job->prog->ops[0].key_offset)
			worker_offset_keys(w, b);
		if (worker_lines_per(w) != 0)
			worker_push_groups(w, b, &in);
		else
			worker_push(w, b);
		w->bytes_in = input_progress(&in);
		w->status->bytes_in = w->bytes_in;
		/* Between groups only: a group's lines go to one process. */
		if (worker_due(w) && w->ingroup == 0)
			worker_checkpoint(w, PHASE_READ, input_tell(&in), 0);
	}
	if (r == -1)
		worker_input_fail(w, &in);
	w->bytes_in = total;
	w->status->bytes_in = w->bytes_in;
	input_close(&in);
}

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
		if (worker_inject_due(w, w->records_in, lines)) {
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
int
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

/* Word count's source: the bytes of the input, into the table of words. */
static void
worker_words_run(struct wctx *w, struct batch *b, int resume)
{
	(void)b;
	worker_count_words(w, resume);
}

/*
 * The source of the stage, chosen once: the input files in stage 0 (their
 * words alone for word count), the stage before's run files after it.
 */
const struct wsource *
worker_source_of(const struct wctx *w)
{
	static const struct wsource	input = { "input", worker_read_input };
	static const struct wsource	words = { "words", worker_words_run };

	if (w->s > 0)
		return (&worker_source_reduce);
	return (worker_is_wordcount(w) ? &words : &input);
}
