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
 * Between stages the worker blocks on its socket; during a stage it runs
 * without system calls on the hot path and shows its progress in its
 * status page.  It exits as soon as its supervisor is gone.
 */

#include <sys/prctl.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"
#include "proto.h"

/* What a worker keeps while it runs. */
struct wctx {
	struct job		*job;
	unsigned int		 part;
	int			 fd;
	struct status_page	*status;
	struct ckpt		*ckpt;
	uint64_t		 records_in;
	uint64_t		 records_out;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	/* The sink of the current stage. */
	struct agg		 comb;		/* before a shuffle */
	struct pair		*out;		/* before the final output */
	size_t			 nout;
	size_t			 outcap;
};

static void	worker_run_stage(struct wctx *, unsigned int);
static int	worker_stage_committed(struct wctx *, unsigned int);
static __dead void worker_fail(struct wctx *, uint32_t, unsigned int,
		    uint64_t, uint64_t, const char *);

/* Report a permanent failure to the supervisor and exit. */
static __dead void
worker_fail(struct wctx *w, uint32_t kind, unsigned int stage, uint64_t file,
    uint64_t off, const char *text)
{
	struct msg_error	e;

	memset(&e, 0, sizeof e);
	e.kind = kind;
	e.stage = stage;
	e.file = file;
	e.off = off;
	if (proto_send(w->fd, MSG_ERROR, w->part, &e, sizeof e, text,
	    strlen(text)) != 0)
		log_warnx("%s", text);
	_exit(kind == ERROR_INPUT ? WORKER_EXIT_INPUT : WORKER_EXIT_RUNTIME);
}

/* Send a batch through the stage's operators and into its sink. */
static void
worker_push(struct wctx *w, const struct stage *st, unsigned int s,
    struct batch *b)
{
	struct ops_error	 err;
	char			*what, *msg;
	size_t			 i;

	w->records_in += b->n;
	if (ops_run(w->job->prog, st->first, st->end, b, &err) != 0) {
		what = program_op_describe(w->job->prog, err.op);
		xasprintf(&msg, "%s: division by zero at key %lld, value %lld",
		    what, (long long)err.k, (long long)err.v);
		worker_fail(w, ERROR_RUNTIME, s, 0, 0, msg);
	}
	w->records_out += b->n;
	if (st->reduce_out != NULL)
		agg_add_batch(&w->comb, b->k, b->v, b->n);
	else {
		if (w->outcap - w->nout < b->n) {
			w->outcap = w->outcap ? w->outcap * 2 : 4 * BATCH_MAX;
			w->out = xreallocarray(w->out, w->outcap,
			    sizeof *w->out);
		}
		for (i = 0; i < b->n; i++) {
			w->out[w->nout + i].k = b->k[i];
			w->out[w->nout + i].v = b->v[i];
		}
		w->nout += b->n;
	}
	w->status->heartbeat++;
	w->status->records_in = w->records_in;
	w->status->records_out = w->records_out;
}

/* Stage 0: read this worker's byte range of the input files. */
static void
worker_read_input(struct wctx *w, const struct stage *st, struct batch *b)
{
	struct job	*job = w->job;
	struct input	 in;
	uint64_t	 lo, hi;
	int		 r;

	lo = (uint64_t)((unsigned __int128)job->total * w->part / job->nparts);
	hi = (uint64_t)((unsigned __int128)job->total * (w->part + 1) /
	    job->nparts);
	w->status->bytes_total = hi - lo;
	input_open(&in, job->files, job->nfiles, lo, hi);
	while ((r = input_read(&in, b)) > 0)
		worker_push(w, st, 0, b);
	if (r == -1)
		worker_fail(w, ERROR_INPUT, 0, in.err_file, in.err_off,
		    in.cause);
	w->bytes_in = hi - lo;
	w->status->bytes_in = w->bytes_in;
	input_close(&in);
}

/*
 * Later stages: reduce this worker's segment of every shuffle file of the
 * previous stage, then send the groups through the stage's operators.
 */
static void
worker_read_shuffle(struct wctx *w, const struct stage *st, unsigned int s,
    struct batch *b)
{
	struct job		*job = w->job;
	struct shuffle_file	 sf;
	struct agg		 red;
	const struct pair	*seg;
	char			*path, *cause;
	size_t			 i, n, pos;
	unsigned int		 src, r;

	agg_init(&red, st->reduce_in->fn == FN_COUNT ? FN_SUM :
	    st->reduce_in->fn);
	for (src = 0; src < job->nparts; src++) {
		path = job_path(job, "s%u/w%u.data", s - 1, src);
		if (shuffle_open(&sf, path, job->nparts, &cause) != 0)
			fatalx("%s", cause);
		free(path);
		for (r = 0; r < sf.runs; r++) {
			seg = shuffle_segment(&sf, r, w->part, &n);
			for (i = 0; i < n; i++)
				agg_add(&red, seg[i].k, seg[i].v);
			w->bytes_in += n * sizeof *seg;
		}
		shuffle_close(&sf);
	}
	w->status->bytes_in = w->bytes_in;
	pos = 0;
	b->n = 0;
	while (agg_next(&red, &pos, &b->k[b->n], &b->v[b->n])) {
		if (++b->n == BATCH_MAX) {
			worker_push(w, st, s, b);
			b->n = 0;
		}
	}
	if (b->n > 0)
		worker_push(w, st, s, b);
	agg_free(&red);
}

/* The path of a stage's committed output. */
static char *
worker_stage_path(struct wctx *w, unsigned int s)
{
	struct job	*job = w->job;
	char		*path;

	if (job->plan->stages[s].reduce_out != NULL)
		return (job_path(job, "s%u/w%u.data", s, w->part));
	if (job->output != NULL) {
		xasprintf(&path, "%s/part-%05u", job->outtmp, w->part);
		return (path);
	}
	return (job_path(job, "out/part-%05u", w->part));
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

	if (!ckpt_load(w->ckpt, &cs) || cs.stages_done <= s)
		return (0);
	path = worker_stage_path(w, s);
	done = access(path, F_OK) == 0;
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

/* Run stage s of this partition and commit its output. */
static void
worker_run_stage(struct wctx *w, unsigned int s)
{
	struct job		*job = w->job;
	const struct stage	*st = &job->plan->stages[s];
	struct batch		*b;
	struct ckpt_state	 cs;
	char			*path;
	uint64_t		 bytes;

	w->records_in = w->records_out = w->bytes_in = w->bytes_out = 0;
	w->status->stage = s;
	if (worker_stage_committed(w, s))
		return;
	w->status->records_in = w->status->records_out = 0;
	w->status->bytes_in = w->status->bytes_total = 0;
	if (st->reduce_out != NULL)
		agg_init(&w->comb, st->reduce_out->fn);
	w->nout = 0;

	b = xmalloc(sizeof *b);
	batch_init(b);
	if (s == 0)
		worker_read_input(w, st, b);
	else
		worker_read_shuffle(w, st, s, b);
	free(b);

	path = worker_stage_path(w, s);
	if (st->reduce_out != NULL) {
		if (shuffle_write_agg(path, job->nparts, &w->comb,
		    job->durable, &bytes) != 0)
			fatal("%s", path);
		agg_free(&w->comb);
	} else {
		sort_pairs(w->out, w->nout);
		if (output_write_part(path, w->out, w->nout,
		    job->output != NULL, job->output != NULL, &bytes) != 0)
			fatal("%s", path);
		free(w->out);
		w->out = NULL;
		w->outcap = 0;
	}
	free(path);
	w->bytes_out = bytes;

	/* The stage's output is under its final name: publish that. */
	memset(&cs, 0, sizeof cs);
	cs.stages_done = s + 1;
	cs.records_in = w->records_in;
	cs.records_out = w->records_out;
	cs.bytes_in = w->bytes_in;
	cs.output_len = bytes;
	if (ckpt_publish(w->ckpt, &cs, job->durable) != 0)
		fatal("checkpoint");
}

/* The life of a worker process. */
__dead void
worker_main(struct job *job, unsigned int part, int fd)
{
	struct wctx		 w;
	struct msg_hello	 hello;
	struct msg_start	 start;
	struct msg_stage_done	 done;
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
	path = job_path(job, "status/%u", part);
	if ((w.status = map_shared_file(path, sizeof *w.status, 1)) == NULL)
		fatal("%s", path);
	free(path);
	path = job_path(job, "ckpt/%u", part);
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
			if (proto_get(&m, &start, sizeof start) != 0 ||
			    proto_end(&m) != 0 ||
			    start.stage >= job->plan->nstages)
				fatalx("bad MSG_START");
			worker_run_stage(&w, start.stage);
			memset(&done, 0, sizeof done);
			done.stage = start.stage;
			done.records_in = w.records_in;
			done.records_out = w.records_out;
			done.bytes_in = w.bytes_in;
			done.bytes_out = w.bytes_out;
			if (proto_send(fd, MSG_STAGE_DONE, part, &done,
			    sizeof done, NULL, 0) != 0)
				fatal("send");
			break;
		case MSG_FINISH:
			_exit(WORKER_EXIT_OK);
		default:
			fatalx("unexpected message %u", m.hdr.type);
		}
	}
}
