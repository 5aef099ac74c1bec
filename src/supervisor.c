/* forkflow: see LICENSE. */
/*
 * The supervisor: fork one worker per partition, lead them through the
 * stages of the plan, and watch them.  It runs libev's default loop, the
 * only one that handles SIGCHLD; libev reaps every child itself, so this
 * process never calls waitpid().  It never touches a record: workers
 * exchange data through files in the job directory.
 *
 * A stage is a barrier: stage s+1 starts when every worker has committed
 * stage s.  A worker's life is the state-by-event table of lifecycle.c,
 * whose decisions the life_* callbacks here carry out.  A worker that
 * crashes is forked again with the same partition and told to run its
 * current stage, which it resumes from its checkpoint; a worker that finds
 * the program or input at fault reports it and exits with a status that is
 * never retried.
 */

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "forkflow.h"
#include "lifecycle.h"
#include "supervisor-int.h"

static char	*exit_describe(int);
static unsigned int	worker_op(const struct worker *);
static void	worker_event_at(struct worker *, const char *, int, json_t *);
static void	worker_event(struct worker *, const char *, json_t *);
static char	*record_describe(const struct job *, int64_t, int64_t, uint64_t,
		    unsigned int);
static char	*op_describe(const struct job *, unsigned int);
static void	supervisor_note_crash(struct worker *);
static void	supervisor_add_skip(struct supervisor *, const struct skip *);
static void	worker_close(struct worker *);
static void	supervisor_write_cb(struct ev_loop *, ev_io *, int);
static void	supervisor_send(struct worker *, uint32_t, const void *,
		    size_t);
static void	supervisor_start_stage(struct worker *, unsigned int);
static void	supervisor_asks_cb(struct ev_loop *, ev_timer *, int);
static void	supervisor_damaged(struct worker *, const char *,
		    const struct msg_damaged *);
static int	supervisor_dispatch(struct worker *, struct msg *);
static void	supervisor_shrink(struct worker *);
static void	supervisor_check_oom(struct worker *, int);
static void	supervisor_kill_groups(struct worker *, int);
static void	supervisor_child_cb(struct ev_loop *, ev_child *, int);
static void	supervisor_backoff_cb(struct ev_loop *, ev_timer *, int);
static void	supervisor_fail(struct supervisor *, int, char *);
static void	supervisor_permanent(struct supervisor *, struct worker *);
static void	supervisor_give_up(struct supervisor *, struct worker *);
static void	life_backoff(struct life *, double);
static void	life_cancel(struct life *);
static void	life_start(struct life *);
static void	life_finish(struct life *);
static void	life_terminate(struct life *);
static void	life_give_up(struct life *);
static void	life_permanent(struct life *);
static int	life_progressed(struct life *);
static void	life_changed(struct life *);
static void	life_idle(struct life *);
static void	supervisor_barrier(struct supervisor *);
static void	proc_reset_signals(void);
static enum life_spawned	supervisor_spawn_failed(struct worker *,
		    const char *);
static enum life_spawned	supervisor_spawn(struct life *);
static void	supervisor_signal_cb(struct ev_loop *, ev_signal *, int);
static struct worker	*supervisor_first_error(struct supervisor *);
static void	supervisor_init(struct supervisor *, struct job *);
static int	supervisor_result(struct supervisor *);
static void	supervisor_free(struct supervisor *);
int	supervisor_run(struct job *);

/* Describe how a process ended, as log lines say it. */
static char *
exit_describe(int status)
{
	char	*s;

	if (WIFSIGNALED(status))
		xasprintf(&s, "killed by signal %d", WTERMSIG(status));
	else if (WIFEXITED(status))
		xasprintf(&s, "exited with status %d", WEXITSTATUS(status));
	else
		xasprintf(&s, "ended with wait status %d", status);
	return (s);
}

/*
 * The operator a worker runs: its status page's, when the page is of the
 * current stage (one killed before it started the stage still shows the
 * one before), else the stage's first.
 */
static unsigned int
worker_op(const struct worker *w)
{
	const struct job	*job = w->sv->job;

	if (w->status->stage == w->sv->stage && w->status->op <
	    job->prog->nops)
		return (w->status->op);
	return (stage_first_op(job->prog, &job->plan->stages[w->sv->stage]));
}

/* Where a worker stands, for an event: op -1 takes its status page's. */
static void
worker_event_at(struct worker *w, const char *name, int op, json_t *extra)
{
	struct evwhere	at;

	at.part = (int)w->part;
	at.stage = (int)w->sv->stage;
	at.op = op >= 0 ? op : (int)worker_op(w);
	at.pid = (long)(w->pid > 0 ? w->pid : w->last_pid);
	at.attempt = (int)w->attempts;
	event_emit(name, &at, extra);
}

/* Log an event of a worker's, at the operator it runs. */
static void
worker_event(struct worker *w, const char *name, json_t *extra)
{
	worker_event_at(w, name, -1, extra);
}

/* A worker moved: note when, for the heartbeat and for the job page. */
void
worker_moved(struct worker *w)
{
	w->last_hb = w->status->heartbeat;
	/*
	 * The time now, not the loop's time: this runs inside long
	 * callbacks too (forking a thousand workers), and a time taken at
	 * their start would age every worker by their length.
	 */
	w->last_change = ev_time();
	if (w->sv->page != NULL)
		w->sv->page->w[w->part].last_progress = mono_now();
}

/* Bring the job page up to date with the workers. */
void
supervisor_page(struct supervisor *sv)
{
	struct job_page		*jp = sv->page;
	struct worker		*w;
	struct jp_worker	*pw;
	unsigned int		 i;

	jp->stage = sv->stage;
	jp->updated = mono_now();
	for (i = 0; i < sv->job->nparts; i++) {
		w = &sv->w[i];
		pw = &jp->w[i];
		/* Another host's heartbeats set it (supervisor_heard). */
		if (!job_owns(sv->job, i))
			continue;
		switch (w->life.state) {
		case LS_NEW:
		case LS_RUNNING:
		case LS_WAITING:
		case LS_FAILING:
			pw->state = w->pid <= 0 ? JW_STARTING :
			    w->stages_done > sv->stage ? JW_WAITING :
			    JW_RUNNING;
			break;
		case LS_BACKOFF:
		case LS_BACKOFF_FAILING:
			pw->state = JW_BACKOFF;
			break;
		case LS_FINISHING:
		case LS_DONE:
			pw->state = JW_DONE;
			break;
		case LS_FAILED:
		case LS_NSTATES:
			pw->state = JW_FAILED;
			break;
		}
		pw->attempts = w->attempts;
		pw->stages_done = w->stages_done;
		pw->pid = (int32_t)w->pid;
		if (w->status->heartbeat != w->last_hb)
			worker_moved(w);
	}
}

/* Is a worker forked to run the current stage, and not done with it? */
int
worker_on_stage(const struct worker *w)
{
	return ((w->life.state == LS_RUNNING || w->life.state ==
	    LS_FAILING) && w->stages_done <= w->sv->stage);
}

/* Describe a record for messages: key, value and where it was read. */
static char *
record_describe(const struct job *job, int64_t k, int64_t v, uint64_t pos,
    unsigned int strs)
{
	char		*s;
	size_t		 fi;
	uint64_t	 line;

	char	kb[32], vb[32];

	/* A string field held a pointer in the worker: only ints show. */
	if (strs & 1)
		snprintf(kb, sizeof kb, "(text)");
	else
		snprintf(kb, sizeof kb, "%lld", (long long)k);
	if (strs & 2)
		snprintf(vb, sizeof vb, "(text)");
	else
		snprintf(vb, sizeof vb, "%lld", (long long)v);
	if (pos > 0 && input_locate(job->files, job->nfiles, pos - 1, &fi,
	    &line) == 0)
		xasprintf(&s, "key %s, value %s (%s:%llu)", kb, vb,
		    job->files[fi].name, (unsigned long long)line);
	else
		xasprintf(&s, "key %s, value %s", kb, vb);
	return (s);
}

/* Name the operator a worker was running, for messages. */
static char *
op_describe(const struct job *job, unsigned int op)
{
	if (op >= job->prog->nops)
		return (xstrdup("the stage's end"));
	return (program_op_describe(job->prog, &job->prog->ops[op]));
}

/*
 * A worker crashed in the middle of a stage: note what it was running.  A
 * batch becomes a range the next attempt runs one record at a time; a
 * single record is counted, and with --skip-bad-records one that crashed
 * a worker twice is skipped from then on and listed in JOBDIR/skipped.
 */
static void
supervisor_note_crash(struct worker *w)
{
	struct supervisor	*sv = w->sv;
	struct job		*job = sv->job;
	struct status_page	*sp = w->status;
	struct suspect		*x;
	char			*what, *line;
	size_t			 i;
	FILE			*f;

	if (sp->cur_n == 0 || sp->stage != sv->stage)
		return;
	w->suspects = xgrow(w->suspects, w->nsuspects,
	    sizeof *w->suspects);
	x = &w->suspects[w->nsuspects++];
	memset(x, 0, sizeof *x);
	x->stage = sp->stage;
	x->lo = sp->cur_lo;
	x->n = sp->cur_n;
	x->k = sp->cur_k;
	x->v = sp->cur_v;
	x->pos = sp->cur_pos;
	x->strs = sp->cur_str;
	x->crashes = 1;
	if (x->n != 1)
		return;
	for (i = 0; i + 1 < w->nsuspects; i++) {
		if (w->suspects[i].stage == x->stage &&
		    x->lo >= w->suspects[i].lo &&
		    x->lo < w->suspects[i].lo + w->suspects[i].n)
			x->crashes++;
	}
	if (x->crashes < 2 || !job->opts->skip_bad)
		return;
	x->skip = 1;
	sv->page->skipped++;
	what = record_describe(job, x->k, x->v, x->pos, x->strs);
	log_warnx("record %llu of stage %u (%s) crashed worker %u twice; "
	    "skipping it", (unsigned long long)x->lo, x->stage, what,
	    w->part);
	worker_event(w, "record_skipped", json_pack("{s:I, s:s}", "record",
	    (json_int_t)x->lo, "what", what));
	(void)journal_note(job, "skip %u %u %llu %lld %lld %llu\n", w->part,
	    x->stage, (unsigned long long)x->lo, (long long)x->k,
	    (long long)x->v, (unsigned long long)x->pos);
	line = jd_file(job->jobdir, JD_SKIPPED);
	if ((f = fopen(line, "a")) != NULL) {
		fprintf(f, "partition %u stage %u record %llu: %s\n", w->part,
		    x->stage, (unsigned long long)x->lo, what);
		fclose(f);
	}
	free(line);
	free(what);
}

/* Skip a record the journal says an earlier run skipped. */
static void
supervisor_add_skip(struct supervisor *sv, const struct skip *sk)
{
	struct worker	*w;
	struct suspect	*x;

	if (sk->part >= sv->job->nparts)
		return;
	w = &sv->w[sk->part];
	sv->page->skipped++;
	w->suspects = xgrow(w->suspects, w->nsuspects,
	    sizeof *w->suspects);
	x = &w->suspects[w->nsuspects++];
	memset(x, 0, sizeof *x);
	x->stage = sk->stage;
	x->lo = sk->record;
	x->n = 1;
	x->k = sk->k;
	x->v = sk->v;
	x->pos = sk->pos;
	x->crashes = 2;
	x->skip = 1;
}

/* Stop watching a worker's socket, and close it. */
static void
worker_close(struct worker *w)
{
	struct ev_loop	*loop = w->sv->loop;

	if (w->fd == -1)
		return;
	ev_io_stop(loop, &w->rio);
	ev_io_stop(loop, &w->wio);
	close(w->fd);
	w->fd = -1;
	buf_free(&w->rbuf);
	buf_free(&w->wbuf);
}

/* Write what is queued for a worker. */
static void
supervisor_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker	*w = io->data;

	if (proto_flush(w->fd, &w->wbuf) == -1 && errno != EAGAIN &&
	    errno != EINTR) {
		/* The worker is gone; its exit tells what happened. */
		worker_close(w);
		return;
	}
	if (w->wbuf.len == w->wbuf.off)
		ev_io_stop(loop, &w->wio);
}

/*
 * Queue a message for a worker and arm the write watcher.  A message too
 * long for the protocol fails the job (it would be one in the skip lists
 * of --skip-bad-records, past thousands of records).
 */
static void
supervisor_send(struct worker *w, uint32_t type, const void *p, size_t len)
{
	char	*msg;

	if (w->fd == -1)
		return;
	if (proto_compose(&w->wbuf, type, w->part, 0, p, len, NULL, 0) != 0) {
		xasprintf(&msg, "worker %u: message %u of %zu bytes is longer "
		    "than the %d the protocol takes", w->part, type, len,
		    MSG_MAXSIZE);
		supervisor_fail(w->sv, EXIT_JOB_FAILED, msg);
		return;
	}
	/*
	 * Write it now if the socket takes it, as it almost always does: a
	 * long callback (forking a thousand workers) must not keep the
	 * first ones waiting for their MSG_START until it ends.
	 */
	supervisor_write_cb(w->sv->loop, &w->wio, EV_WRITE);
	if (w->fd != -1 && w->wbuf.len > w->wbuf.off)
		ev_io_start(w->sv->loop, &w->wio);
}

/*
 * Tell a worker to run a stage, with the records of that stage it must
 * skip and the ranges it must run one record at a time.
 */
static void
supervisor_start_stage(struct worker *w, unsigned int stage)
{
	struct supervisor	*sv = w->sv;
	struct msg_start	 start;
	struct buf		 b;
	const struct suspect	*x;
	uint8_t			*bits;
	uint64_t		 u;
	size_t			 i;

	memset(&start, 0, sizeof start);
	memset(&b, 0, sizeof b);
	start.stage = stage;
	start.attempt = w->attempts;
	for (i = 0; i < w->nsuspects; i++) {
		x = &w->suspects[i];
		if (x->stage == stage && x->skip)
			start.nskip++;
		else if (x->stage == stage && x->n > 1)
			start.ncareful++;
	}
	buf_add(&b, &start, sizeof start);
	for (i = 0; i < w->nsuspects; i++) {
		x = &w->suspects[i];
		if (x->stage == stage && x->skip)
			buf_add(&b, &x->lo, sizeof x->lo);
	}
	for (i = 0; i < w->nsuspects; i++) {
		x = &w->suspects[i];
		if (x->stage == stage && !x->skip && x->n > 1) {
			buf_add(&b, &x->lo, sizeof x->lo);
			u = x->lo + x->n;
			buf_add(&b, &u, sizeof u);
		}
	}
	/* The writers with records for this reader: a column of the
	 * stage before's matrix. */
	if (stage > 0 && sv->sources != NULL) {
		bits = xcalloc(1, sv->rowbytes);
		for (i = 0; i < sv->job->nparts; i++) {
			if (sv->sources[i * sv->rowbytes + w->part / 8] &
			    (1u << (w->part % 8)))
				bits[i / 8] |= (uint8_t)(1u << (i % 8));
		}
		((struct msg_start *)(void *)b.data)->nsources =
		    (uint32_t)sv->rowbytes;
		buf_add(&b, bits, sv->rowbytes);
		free(bits);
	}
	supervisor_send(w, MSG_START, b.data, b.len);
	buf_free(&b);
	worker_moved(w);
	/* One in backoff is told when it is forked again. */
	if (w->fd != -1)
		worker_event_at(w, "stage_start", (int)w->sv->job->plan->
		    stages[stage].first, NULL);
}

/*
 * A worker found a job file damaged: log it and show it in the events
 * (the counters count those).  A worker that does its stage again exits
 * for it: that is no crash of a record's.
 */
static void
supervisor_damaged(struct worker *w, const char *file,
    const struct msg_damaged *d)
{
	static const char *const what[] = {
		NULL,
		"its writer's stage is done again",
		"the stage is done again",
		"the checkpoint's snapshot is dropped; the input is read again",
		"it is asked for again of the host that sent it",
	};
	struct supervisor	*sv = w->sv;

	log_warnx("%s: damaged at offset %llu, found by worker %u: %s", file,
	    (unsigned long long)d->off, w->part, what[d->action]);
	worker_event(w, "damaged", json_pack("{s:o, s:I, s:s}", "file",
	    json_text(file, strlen(file)), "offset", (json_int_t)d->off,
	    "action", what[d->action]));
	if (d->action == DAMAGE_RESTART)
		w->restage = 1;
	if (d->action != DAMAGE_RESEND)
		return;
	/* Another host's output: asked for, the worker waits for it. */
	mpi_ask(sv->job, d->stage, d->part);
	if (!ev_is_active(&sv->askw))
		ev_timer_start(sv->loop, &sv->askw);
}

/* Handle one message from a worker; -1 if it is malformed. */
static int
supervisor_dispatch(struct worker *w, struct msg *m)
{
	struct supervisor	*sv = w->sv;
	struct msg_hello	 hello;
	struct msg_stage_done	 done;
	struct msg_damaged	 dmg;
	char			*file;
	size_t			 tlen;

	if (m->hdr.partition != w->part)
		return (-1);
	switch (m->hdr.type) {
	case MSG_HELLO:
		if (proto_get(m, &hello, sizeof hello) != 0 ||
		    proto_end(m) != 0 || hello.version != PROTO_VERSION)
			return (-1);
		break;
	case MSG_STAGE_DONE:
		/* A stage that shuffles says which partitions it has
		 * records for; another says nothing. */
		if (proto_get(m, &done, sizeof done) != 0 ||
		    done.stage != sv->stage || done.nused != (sv->job->plan->
		    stages[done.stage].reduce_out != NULL ? sv->rowbytes : 0) ||
		    proto_get(m, sv->used + w->part * sv->rowbytes,
		    done.nused) != 0 || proto_end(m) != 0)
			return (-1);
		w->stages_done = done.stage + 1;
		w->ckpts_at_fork = w->status->checkpoints;
		if (done.stage == 0)
			sv->records_in += done.records_in;
		if (done.stage == sv->job->plan->nstages - 1)
			sv->records_out += done.records_out;
		if (done.flags & DONE_ALREADY)
			log_info("worker %u had committed stage %u already",
			    w->part, done.stage);
		else
			log_info("worker %u committed stage %u: %llu records "
			    "in, %llu out", w->part, done.stage,
			    (unsigned long long)done.records_in,
			    (unsigned long long)done.records_out);
		worker_event(w, "stage_done", json_pack("{s:I, s:I, s:I, s:I, "
		    "s:b}", "records_in", (json_int_t)done.records_in,
		    "records_out", (json_int_t)done.records_out,
		    "bytes_in", (json_int_t)done.bytes_in,
		    "bytes_out", (json_int_t)done.bytes_out,
		    "already", (done.flags & DONE_ALREADY) != 0));
		life_event(&w->life, LE_COMMITTED);
		supervisor_barrier(sv);
		break;
	case MSG_DAMAGED:
		if (proto_get(m, &dmg, sizeof dmg) != 0 || dmg.action <
		    DAMAGE_REDONE || dmg.action > DAMAGE_RESEND ||
		    m->len - m->rpos == 0 || (dmg.action == DAMAGE_RESEND &&
		    (sv->job->nhosts <= 1 || dmg.part >= sv->job->nparts ||
		    job_owns(sv->job, dmg.part) || dmg.stage + 1 !=
		    sv->stage)))
			return (-1);
		file = xstrndup(m->data + m->rpos, m->len - m->rpos);
		supervisor_damaged(w, file, &dmg);
		free(file);
		break;
	case MSG_NOTE:
		free(w->note);
		w->note = xstrndup(m->data, m->len);
		break;
	case MSG_ERROR:
		if (proto_get(m, &w->error, sizeof w->error) != 0)
			return (-1);
		tlen = m->len - m->rpos;
		free(w->error_text);
		w->error_text = xstrndup(m->data + m->rpos, tlen);
		w->has_error = 1;
		break;
	default:
		return (-1);
	}
	return (0);
}

/* Read from a worker and handle each whole message. */
void
supervisor_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker	*w = io->data;
	struct msg	 m;
	ssize_t		 n;
	int		 r;

	n = proto_fill(w->fd, &w->rbuf);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF: the exit status arrives through ev_child. */
		worker_close(w);
		return;
	}
	while ((r = proto_take(&w->rbuf, &m)) == 1) {
		if (supervisor_dispatch(w, &m) != 0) {
			r = -1;
			break;
		}
		if (w->fd == -1)
			return;
	}
	if (r == -1) {
		log_warnx("worker %u (pid %ld) sent a malformed message",
		    w->part, (long)w->pid);
		worker_close(w);
		if (w->pid > 0)
			kill(w->pid, SIGKILL);
	}
}

/*
 * A worker ran out of memory: the next attempt has half its share, so
 * that it spills sooner (not under 1 MiB).
 */
static void
supervisor_shrink(struct worker *w)
{
	uint64_t	share = w->status->mem_share;

	if (share <= (uint64_t)1 << 20)
		return;
	share = share / 2 < (uint64_t)1 << 20 ? (uint64_t)1 << 20 : share / 2;
	w->status->mem_share = share;
	log_warnx("worker %u: its share of --memory is now %llu MiB",
	    w->part, (unsigned long long)(share >> 20));
}

/*
 * Did a worker end for want of memory?  One that says an allocation
 * failed did; one that died of SIGKILL, which nobody here sent, did when
 * the kernel's count of its OOM kills says so: each new one is put down
 * to one worker.  Either is given less memory next time.
 */
static void
supervisor_check_oom(struct worker *w, int status)
{
	struct supervisor	*sv = w->sv;
	uint64_t		 n;
	int			 cgroup;

	w->oom = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_NOMEM) {
		w->oom = 1;
		free(w->last_exit);
		w->last_exit = xstrdup("ran out of memory (an allocation "
		    "failed)");
		supervisor_shrink(w);
		return;
	}
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL ||
	    w->doomed || w->life.chaos)
		return;
	n = memcg_oom_kills(&cgroup);
	if (n <= sv->oom_kills)
		return;
	sv->oom_kills++;
	w->oom = 1;
	free(w->last_exit);
	xasprintf(&w->last_exit, "killed by the kernel for want of memory "
	    "(the OOM killer%s)", cgroup ? ", in the job's memory cgroup" :
	    "");
	supervisor_shrink(w);
}

/*
 * Kill the process groups of a worker's commands its status page names;
 * with clear, the worker is gone, and the slots are freed.
 */
static void
supervisor_kill_groups(struct worker *w, int clear)
{
	int	n;

	if ((n = stream_kill_groups(w->status->pgid, clear)) > 0)
		log_info("worker %u: killed %d process group%s of its commands",
		    w->part, n, n == 1 ? "" : "s");
}

/* A worker exited. */
static void
supervisor_child_cb(struct ev_loop *loop, ev_child *c, int revents)
{
	struct worker	*w = c->data;
	int		 status = c->rstatus;

	ev_child_stop(loop, c);
	/*
	 * Its commands go with it: whatever it died of, they may have left
	 * children in their process groups.  Done at once, while something
	 * in the groups still holds their numbers.
	 */
	supervisor_kill_groups(w, 1);
	/* Read what it said before it went. */
	if (w->fd != -1)
		supervisor_read_cb(loop, &w->rio, EV_READ);
	worker_close(w);
	free(w->last_exit);
	w->last_exit = exit_describe(status);
	w->last_pid = w->pid;
	w->pid = 0;
	supervisor_check_oom(w, status);
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_OK &&
	    w->life.state == LS_FINISHING)
		worker_event(w, "worker_exit", json_pack("{s:i}", "status",
		    0));
	else
		worker_event(w, "worker_died", WIFSIGNALED(status) ?
		    json_pack("{s:i, s:s, s:s}", "signal", WTERMSIG(status),
		    "how", w->last_exit, "cause", w->life.chaos ? "chaos" :
		    w->oom ? "out of memory" :
		    w->hung ? "no progress" : (w->sv->failing ||
		    w->sv->interrupted) && WTERMSIG(status) == SIGTERM ?
		    "stopped" : "crash") :
		    json_pack("{s:i, s:s, s:s}", "status", WEXITSTATUS(status),
		    "how", w->last_exit, "cause", w->has_error ? "error" :
		    "crash"));
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_OK)
		life_event(&w->life, LE_EXIT_OK);
	else if (WIFEXITED(status) && w->has_error &&
	    (WEXITSTATUS(status) == WORKER_EXIT_INPUT ||
	    WEXITSTATUS(status) == WORKER_EXIT_RUNTIME))
		life_event(&w->life, LE_EXIT_PERMANENT);
	else {
		/* A record is suspect only when it may have done it. */
		if (worker_on_stage(w) && !w->life.chaos && !w->oom &&
		    !w->hung && !w->restage)
			supervisor_note_crash(w);
		if (w->restage) {
			free(w->last_exit);
			w->last_exit = xstrdup("left to do its stage again (a "
			    "damaged file)");
		}
		life_event(&w->life, LE_CRASH);
	}
}

static void
supervisor_backoff_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	life_event(&w->life, LE_TIMER);
}

/* The job fails: no new stage starts, running workers are stopped. */
static void
supervisor_fail(struct supervisor *sv, int status, char *msg)
{
	unsigned int	i;

	if (sv->fail_msg == NULL) {
		sv->fail_msg = msg;
		sv->fail_status = status;
	} else
		free(msg);
	sv->failing = 1;
	for (i = 0; i < sv->job->nparts; i++)
		life_event(&sv->w[i].life, LE_STOP);
}

/*
 * A worker failed for good with a permanent error.  The message shown is
 * that of the first error in the input's order, so that it is the same on
 * every run: workers after this one cannot have an earlier error and are
 * stopped; those before it finish their stage and may report one.
 */
static void
supervisor_permanent(struct supervisor *sv, struct worker *w)
{
	unsigned int	i;

	sv->failing = 1;
	for (i = 0; i < sv->job->nparts; i++) {
		/* With --split-size, a later partition reads splits before
		 * this one's too: it finishes, and may report an earlier
		 * error. */
		if ((i > w->part && sv->job->opts->split_size == 0) ||
		    sv->w[i].stages_done > sv->stage)
			life_event(&sv->w[i].life, LE_STOP);
		else
			life_event(&sv->w[i].life, LE_FAIL);
	}
}

/*
 * A partition failed --max-attempts times in a row: the job fails, with
 * one message that says where and on what.
 */
static void
supervisor_give_up(struct supervisor *sv, struct worker *w)
{
	const struct suspect	*x = NULL;
	char			*what, *rec, *msg;

	if (w->nsuspects > 0 && w->suspects[w->nsuspects - 1].stage ==
	    sv->stage && !w->oom)
		x = &w->suspects[w->nsuspects - 1];
	what = op_describe(sv->job, worker_op(w));
	if (x != NULL)
		rec = record_describe(sv->job, x->k, x->v, x->pos, x->strs);
	else if (w->oom)
		rec = xstrdup("none (no record is at fault: the job needs more "
		    "memory)");
	else
		rec = xstrdup("none (between records)");
	xasprintf(&msg, "partition %u failed in stage %u, operator %u (%s): "
	    "worker %s%s; gave up after %u failure%s in a row (attempt %u); "
	    "record being processed: %s%s%s%s", w->part, sv->stage, worker_op(w),
	    what, w->last_exit, w->hung ? " (no progress)" : "", w->life.failures,
	    w->life.failures == 1 ? "" : "s", w->attempts, rec,
	    x != NULL && !sv->job->opts->skip_bad ? " (--skip-bad-records skips "
	    "a record that crashes a worker twice)" : "",
	    w->note != NULL ? "; " : "", w->note != NULL ? w->note : "");
	free(what);
	free(rec);
	supervisor_fail(sv, EXIT_JOB_FAILED, msg);
}

/*
 * The table's callbacks (struct life_ops): what the supervisor does when
 * lifecycle.c decides.
 */

/* Back off before forking a crashed worker again. */
static void
life_backoff(struct life *l, double delay)
{
	struct worker		*w = l->arg;
	struct supervisor	*sv = w->sv;

	/* An attempt is a fork, as the display and status count them;
	 * failures in a row are what --max-attempts limits. */
	log_warnx("worker %u (pid %ld) %s; restarting from checkpoint "
	    "(stage %u, operator %u): attempt %u, failures in a row %u of %u",
	    w->part, (long)w->last_pid, w->last_exit, sv->stage, worker_op(w),
	    w->attempts + 1, l->failures, sv->lives.max_attempts);
	sv->page->restarts++;
	sv->page->w[w->part].restarts++;
	worker_event(w, "restart", json_pack("{s:f, s:i}", "delay", delay,
	    "next_attempt", (int)w->attempts + 1));
	ev_timer_init(&w->backoff, supervisor_backoff_cb, delay, 0);
	w->backoff.data = w;
	ev_timer_start(sv->loop, &w->backoff);
}

static void
life_cancel(struct life *l)
{
	struct worker	*w = l->arg;

	ev_timer_stop(w->sv->loop, &w->backoff);
}

static void
life_start(struct life *l)
{
	struct worker	*w = l->arg;

	supervisor_start_stage(w, w->sv->stage);
}

static void
life_finish(struct life *l)
{
	supervisor_send(l->arg, MSG_FINISH, NULL, 0);
}

static void
life_terminate(struct life *l)
{
	struct worker	*w = l->arg;

	if (w->pid > 0) {
		kill(w->pid, SIGTERM);
		/* Its slots are its own while it lives: they stay. */
		supervisor_kill_groups(w, 0);
	}
}

static void
life_give_up(struct life *l)
{
	struct worker	*w = l->arg;

	supervisor_give_up(w->sv, w);
}

static void
life_permanent(struct life *l)
{
	struct worker	*w = l->arg;

	supervisor_permanent(w->sv, w);
}

/* Did it checkpoint or commit a stage since it was forked? */
static int
life_progressed(struct life *l)
{
	struct worker	*w = l->arg;

	return (w->status->checkpoints != w->ckpts_at_fork);
}

static void
life_changed(struct life *l)
{
	struct worker	*w = l->arg;

	supervisor_page(w->sv);
}

/* No worker is forked or to be forked: the loop has nothing to wait for. */
static void
life_idle(struct life *l)
{
	struct worker	*w = l->arg;

	ev_break(w->sv->loop, EVBREAK_ALL);
}

static const struct life_ops supervisor_life_ops = {
	.spawn = supervisor_spawn,
	.start = life_start,
	.finish = life_finish,
	.terminate = life_terminate,
	.backoff = life_backoff,
	.cancel = life_cancel,
	.give_up = life_give_up,
	.permanent = life_permanent,
	.progressed = life_progressed,
	.changed = life_changed,
	.idle = life_idle,
};

/* Kill every worker and what it runs, at once. */
static void
supervisor_kill_all(struct supervisor *sv)
{
	unsigned int	i;

	for (i = 0; i < sv->job->nparts; i++) {
		if (sv->w[i].pid > 0)
			(void)kill(sv->w[i].pid, SIGKILL);
		supervisor_kill_groups(&sv->w[i], 1);
	}
}

/* A host is lost or cut off: end the job on every host. */
static __dead void
supervisor_hosts_abort(struct supervisor *sv, char *cause)
{
	log_warnx("host %s: stage %u: %s; the job is aborted on every host "
	    "(its job directory %s is kept)", mpi_host((int)sv->job->rank),
	    sv->stage, cause, sv->job->jobdir);
	event_emit("hosts_aborted", &(struct evwhere){ -1, (int)sv->stage, -1,
	    0, 0 }, json_pack("{s:s}", "cause", cause));
	free(cause);
	supervisor_kill_all(sv);
	mpi_abort(EXIT_JOB_FAILED);
}

/*
 * Twice a second, on several hosts: hear the others, and be heard, and
 * their asks for files again.
 */
static void
supervisor_hb_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct supervisor	*sv = t->data;
	char			*cause;
	size_t			 len;

	(void)revents;
	if (sv->lanes == NULL)
		sv->lanes = xmalloc(supervisor_lanes_max(sv->job));
	len = supervisor_lanes(sv, sv->lanes);
	if (mpi_heartbeat(sv->lanes, len, supervisor_lanes_max(sv->job),
	    supervisor_heard, sv, sv->job->opts->shuffle_timeout, &cause) != 0)
		supervisor_hosts_abort(sv, cause);
	if (!ev_is_active(&sv->askw))
		supervisor_asks_cb(loop, &sv->askw, 0);
}

/* Every millisecond while files asked for again are on their way. */
static void
supervisor_asks_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct supervisor	*sv = t->data;
	int			 n;

	(void)revents;
	n = mpi_asks_poll(sv->job, sv->job->opts->shuffle_timeout);
	if (n == 0)
		ev_timer_stop(loop, t);
	else if (!ev_is_active(t))
		ev_timer_start(loop, t);
}

/*
 * Test the hosts' barrier of the stage (mpi.c) every millisecond while it
 * goes on; when it is done, the stage is committed here too.  A barrier
 * that fails, or stands still for --shuffle-timeout, aborts the job on
 * every host: its job directories are kept for the rerun.
 */
static void
supervisor_xchg_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct supervisor	*sv = t->data;
	char			*cause;
	int			 r;

	(void)revents;
	r = mpi_stage_test(sv->xchg, sv->stage, sv->job->opts->shuffle_timeout,
	    &cause);
	if (r == 0)
		return;
	ev_timer_stop(loop, t);
	/* Before the exchange's buffers go: MPI may still use them. */
	if (r < 0)
		supervisor_hosts_abort(sv, cause);
	mpi_stage_free(sv->xchg);
	sv->xchg = NULL;
	sv->shuffled = 1;
	supervisor_barrier(sv);
}

/*
 * The barrier: when every worker has committed the current stage, record
 * it in the journal and start the next, or tell the workers to exit.  On
 * several hosts, every host's workers, and their files exchanged first.
 */
static void
supervisor_barrier(struct supervisor *sv)
{
	struct job	*job = sv->job;
	unsigned int	 i;

	/* A failing job starts no stage (the table lets those that are
	 * done go); a finishing one has committed every stage. */
	if (sv->failing || sv->finishing || sv->xchg != NULL)
		return;
	for (i = 0; i < job->nparts; i++) {
		if (job_owns(job, i) && sv->w[i].stages_done <= sv->stage)
			return;
	}
	if (job->nhosts > 1 && !sv->shuffled) {
		sv->xchg = mpi_stage_begin(job, sv->used);
		ev_timer_init(&sv->xchgw, supervisor_xchg_cb, 0, 0.001);
		sv->xchgw.data = sv;
		ev_timer_start(sv->loop, &sv->xchgw);
		return;
	}
	sv->shuffled = 0;
	if ((job->plan->stages[sv->stage].reduce_out != NULL &&
	    journal_save_used(job, sv->stage, sv->used) != 0) ||
	    journal_commit_stage(job, sv->stage) != 0) {
		supervisor_fail(sv, EXIT_JOB_FAILED, xstrdup("cannot write "
		    "the journal"));
		return;
	}
	/* What this stage wrote is what the next one reads. */
	free(sv->sources);
	sv->sources = sv->used;
	sv->used = xcalloc(job->nparts, sv->rowbytes);
	log_info("stage %u committed", sv->stage);
	event_emit("stage_committed", &(struct evwhere){ -1,
	    (int)sv->stage, -1, 0, 0 }, json_pack("{s:f}", "wall",
	    mono_now() - sv->page->stage_started));
	if (sv->stage + 1 < job->plan->nstages) {
		sv->stage++;
		sv->page->stage_started = mono_now();
		supervisor_page(sv);
		for (i = 0; i < job->nparts; i++)
			life_event(&sv->w[i].life, LE_NEXT);
		return;
	}
	sv->finishing = 1;
	for (i = 0; i < job->nparts; i++)
		life_event(&sv->w[i].life, LE_LAST);
}

/* Put signals back as a new process expects them. */
static void
proc_reset_signals(void)
{
	struct sigaction	sa;
	sigset_t		set;
	int			sig;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	}
	/* Ctrl-C reaches the whole process group: let the supervisor
	 * decide, and write errors rather than die of SIGPIPE. */
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

/*
 * A worker could not be forked (no socketpair, no fork): the table takes
 * it as a worker that crashed at once, which backs off and is tried again.
 */
static enum life_spawned
supervisor_spawn_failed(struct worker *w, const char *what)
{
	log_warn("worker %u: %s", w->part, what);
	w->attempts++;
	free(w->last_exit);
	xasprintf(&w->last_exit, "could not be forked (%s: %s)", what,
	    strerror(errno));
	return (LSP_FAILED);
}

/* Fork the worker of a partition, as a new one or again after a crash. */
static enum life_spawned
supervisor_spawn(struct life *l)
{
	struct worker		*w = l->arg;
	struct supervisor	*sv = w->sv;
	sigset_t		 set, oldset;
	int			 sp[2], saved_errno;
	unsigned int		 i;
	pid_t			 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0)
		return (supervisor_spawn_failed(w, "socketpair"));
	fflush(stdout);
	fflush(stderr);
	sigfillset(&set);
	sigprocmask(SIG_BLOCK, &set, &oldset);
	switch (pid = fork()) {
	case -1:
		saved_errno = errno;
		sigprocmask(SIG_SETMASK, &oldset, NULL);
		close(sp[0]);
		close(sp[1]);
		errno = saved_errno;
		return (supervisor_spawn_failed(w, "fork"));
	case 0:
		close(sp[0]);
		for (i = 0; i < sv->job->nparts; i++) {
			if (sv->w[i].fd != -1)
				close(sv->w[i].fd);
		}
		if (sv->errpipe[1] != -1) {
			/* Its lines go above the progress display. */
			(void)dup2(sv->errpipe[1], STDERR_FILENO);
			close(sv->errpipe[0]);
			close(sv->errpipe[1]);
		}
		log_set_hook(NULL);
		mpi_child_close(sp[1]);
		ev_loop_destroy(EV_DEFAULT);
		proc_reset_signals();
		worker_main(sv->job, w->part, sp[1]);
		/* NOTREACHED */
	default:
		break;
	}
	close(sp[1]);
	w->pid = pid;
	w->fd = sp[0];
	w->attempts++;
	w->hung = 0;
	w->restage = 0;
	w->doomed = 0;
	w->ckpts_at_fork = w->status->checkpoints;
	w->has_error = 0;
	w->forked_at = ev_now(sv->loop);
	(void)fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_NONBLOCK);
	(void)fcntl(w->fd, F_SETFD, FD_CLOEXEC);
	ev_child_init(&w->child, supervisor_child_cb, pid, 0);
	w->child.data = w;
	ev_child_start(sv->loop, &w->child);
	sigprocmask(SIG_SETMASK, &oldset, NULL);
	ev_io_init(&w->rio, supervisor_read_cb, w->fd, EV_READ);
	w->rio.data = w;
	ev_io_init(&w->wio, supervisor_write_cb, w->fd, EV_WRITE);
	w->wio.data = w;
	ev_io_start(sv->loop, &w->rio);
	log_debug("worker %u forked (pid %ld), attempt %u", w->part,
	    (long)pid, w->attempts);
	worker_event_at(w, "worker_forked", (int)sv->job->plan->
	    stages[sv->stage].first, NULL);
	/*
	 * One that committed the stage before it died waits for the next:
	 * told to run the stage again, it would answer that it had done it
	 * after the barrier had moved on.
	 */
	return (w->stages_done <= sv->stage ? LSP_STAGE : LSP_COMMITTED);
}

/* SIGINT or SIGTERM: stop the workers and keep the job directory. */
static void
supervisor_signal_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct supervisor	*sv = s->data;
	char			*msg;

	if (sv->interrupted++)
		return;
	xasprintf(&msg, "interrupted by signal %d; to resume, run %s",
	    s->signum, sv->job->resume_hint);
	sv->job->keep = 1;
	supervisor_fail(sv, EXIT_JOB_FAILED, msg);
}

/* Pick the error to report: the first in input order. */
static struct worker *
supervisor_first_error(struct supervisor *sv)
{
	struct worker	*best = NULL, *w;
	unsigned int	 i;

	for (i = 0; i < sv->job->nparts; i++) {
		w = &sv->w[i];
		if (!w->has_error)
			continue;
		if (best == NULL || w->error.stage < best->error.stage ||
		    (w->error.stage == best->error.stage &&
		    w->error.kind == ERROR_INPUT &&
		    best->error.kind == ERROR_INPUT &&
		    (w->error.file < best->error.file ||
		    (w->error.file == best->error.file &&
		    w->error.off < best->error.off))))
			best = w;
	}
	return (best);
}

/* Map the workers' status pages and watch signals and heartbeats. */
static void
supervisor_init(struct supervisor *sv, struct job *job)
{
	struct worker	*w;
	char		*path;
	sigset_t	 set;
	unsigned int	 i;
	int		 cgroup;

	memset(sv, 0, sizeof *sv);
	sv->job = job;
	sv->rowbytes = (job->nparts + 7) / 8;
	sv->oom_kills = memcg_oom_kills(&cgroup);
	sv->used = xcalloc(job->nparts, sv->rowbytes);
	if (job->run.first_stage > 0)
		sv->sources = journal_load_used(job, job->run.first_stage - 1);
	if ((sv->loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("cannot initialise libev");
	sv->lives.ops = &supervisor_life_ops;
	sv->lives.max_attempts = job->opts->max_attempts;
	sv->w = xcalloc(job->nparts, sizeof *sv->w);
	for (i = 0; i < job->nparts; i++) {
		w = &sv->w[i];
		w->sv = sv;
		life_init(&w->life, &sv->lives, w);
		w->part = i;
		w->fd = -1;
		path = jd_status(job->jobdir, i);
		w->status = map_shared_file(path, sizeof *w->status, 1);
		if (w->status == NULL)
			fatal("%s", path);
		free(path);
		/* Groups an earlier run left are not ours to kill: by now
		 * their numbers may name other processes. */
		memset(w->status->pgid, 0, sizeof w->status->pgid);
		memcpy(w->status->magic, STATUS_MAGIC, sizeof STATUS_MAGIC);
		w->status->version = STATUS_VERSION;
		w->status->mem_share = job->mem_share;
	}
	ev_signal_init(&sv->sigint, supervisor_signal_cb, SIGINT);
	sv->sigint.data = sv;
	ev_signal_start(sv->loop, &sv->sigint);
	ev_signal_init(&sv->sigterm, supervisor_signal_cb, SIGTERM);
	sv->sigterm.data = sv;
	ev_signal_start(sv->loop, &sv->sigterm);
	ev_signal_init(&sv->sighup, supervisor_signal_cb, SIGHUP);
	sv->sighup.data = sv;
	ev_signal_start(sv->loop, &sv->sighup);
	/* The caller blocked them until libev watches them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	ev_timer_init(&sv->heartbeat, supervisor_heartbeat_cb,
	    job->opts->heartbeat_timeout / 4, job->opts->heartbeat_timeout / 4);
	sv->heartbeat.data = sv;
	ev_timer_start(sv->loop, &sv->heartbeat);
	sv->rng = (uint64_t)getpid() * 0x9E3779B97F4A7C15ULL | 1;
	ev_init(&sv->chaos, supervisor_chaos_cb);
	sv->chaos.data = sv;
	if (job->opts->chaos > 0)
		supervisor_chaos_arm(sv);
}

/* How the job ended: 0, or the exit status, with the reason printed. */
static int
supervisor_result(struct supervisor *sv)
{
	struct job	*job = sv->job;
	struct worker	*e;
	int		 status = 0;

	if ((e = supervisor_first_error(sv)) != NULL) {
		/* Input errors start with FILE:LINE:COLUMN, as compilers
		 * print them; run-time errors name the operator. */
		if (e->error.kind == ERROR_INPUT)
			fprintf(stderr, "%s\n", e->error_text);
		else
			log_warnx("%s", e->error_text);
		job->run.permanent = 1;
		status = e->error.kind == ERROR_INPUT ? EXIT_USAGE :
		    EXIT_JOB_FAILED;
		job->run.reason = xstrdup(e->error_text);
	} else if (sv->fail_msg != NULL) {
		log_warnx("%s", sv->fail_msg);
		status = sv->fail_status;
		job->run.reason = xstrdup(sv->fail_msg);
	} else if (!sv->finishing) {
		log_warnx("the job stopped before its last stage");
		status = EXIT_JOB_FAILED;
		job->run.reason = xstrdup("the job stopped before its last stage");
	}
	return (status);
}

/* Kill what the workers left, count the skips, and free the rest. */
static void
supervisor_free(struct supervisor *sv)
{
	struct job	*job = sv->job;
	struct worker	*w;
	unsigned int	 i;
	size_t		 j;

	for (i = 0; i < job->nparts; i++) {
		w = &sv->w[i];
		/* No process of the job outlives it. */
		supervisor_kill_groups(w, 1);
		for (j = 0; j < w->nsuspects; j++)
			job->run.skipped += w->suspects[j].skip;
		free(w->suspects);
		free(w->error_text);
		free(w->last_exit);
		free(w->note);
		munmap(w->status, sizeof *w->status);
	}
	free(sv->w);
	free(sv->fail_msg);
	free(sv->used);
	free(sv->sources);
	free(sv->lanes);
	ev_signal_stop(sv->loop, &sv->sigint);
	ev_signal_stop(sv->loop, &sv->sigterm);
	ev_signal_stop(sv->loop, &sv->sighup);
}

/*
 * Run the job's stages on its workers.  Returns 0 when every stage is
 * committed; otherwise prints why and returns the exit status.
 */
int
supervisor_run(struct job *job)
{
	struct supervisor	 sv;
	char			*msg;
	unsigned int		 i;
	int			 status;

	supervisor_init(&sv, job);
	supervisor_watch(&sv);

	/* Records an earlier run skipped are skipped again. */
	for (i = 0; i < job->run.nskips; i++)
		supervisor_add_skip(&sv, &job->run.skips[i]);

	/* Stages the journal has as committed are not run again. */
	sv.stage = job->run.first_stage;
	if (job->run.interrupted) {
		/* A signal came before libev watched for it. */
		sv.interrupted = 1;
		xasprintf(&msg, "interrupted by signal %d; to resume, run %s",
		    job->run.interrupted, job->resume_hint);
		job->keep = 1;
		supervisor_fail(&sv, EXIT_JOB_FAILED, msg);
	} else if (sv.stage < job->plan->nstages) {
		ev_timer_init(&sv.hbw, supervisor_hb_cb, 0, 0.5);
		sv.hbw.data = &sv;
		ev_timer_init(&sv.askw, supervisor_asks_cb, 0, 0.001);
		sv.askw.data = &sv;
		if (job->nhosts > 1)
			ev_timer_start(sv.loop, &sv.hbw);
		for (i = 0; i < job->nparts; i++)
			if (job_owns(job, i))
				life_event(&sv.w[i].life, LE_START);
		if (sv.lives.live > 0)
			ev_run(sv.loop, 0);
	} else
		sv.finishing = 1;
	ev_timer_stop(sv.loop, &sv.heartbeat);
	ev_timer_stop(sv.loop, &sv.chaos);
	ev_timer_stop(sv.loop, &sv.hbw);
	ev_timer_stop(sv.loop, &sv.askw);
	supervisor_unwatch(&sv);
	job->run.interrupted = sv.interrupted > 0;
	status = supervisor_result(&sv);
	job->run.records_in = sv.records_in;
	job->run.records_out = sv.records_out;
	supervisor_free(&sv);
	return (status);
}
