/* forkflow: see LICENSE. */
/*
 * What the supervisor watches besides its workers' exits: the heartbeat
 * (a worker that shows no progress, or waits on nothing, is killed), the
 * chaos of --chaos, the signals that stop a job, the progress display and
 * the status blocks, and the workers' standard error drawn above them.
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

static int	worker_busy(const struct worker *);
static int	proc_stat(pid_t, double *);
static int	worker_starved(struct worker *, ev_tstamp);
static double	supervisor_random(struct supervisor *);
static int	worker_chaos_target(const struct worker *);
static void	supervisor_tick_cb(struct ev_loop *, ev_timer *, int);
static void	supervisor_block_cb(struct ev_loop *, ev_timer *, int);
static void	supervisor_errpipe_cb(struct ev_loop *, ev_io *, int);
static void	supervisor_log_hook(const char *, size_t);

/* Is a worker busy with the current stage (so it must show progress)? */
static int
worker_busy(const struct worker *w)
{
	return (worker_on_stage(w) && w->pid > 0 && !w->doomed &&
	    !w->sv->finishing);
}

/*
 * A process's state letter (R running, S sleeping, D waiting on the
 * kernel, T stopped, ...) and CPU seconds so far in its own code, from
 * its /proc stat; 0 if it cannot be read.
 */
static int
proc_stat(pid_t pid, double *cpu)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 ut, st;
	ssize_t			 n;
	int			 fd;
	long			 hz;

	*cpu = 0;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	/* The state follows the command name, which may hold ")"; utime and
	 * stime are the 12th and 13th fields after it. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return (0);
	if (sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu "
	    "%llu", &ut, &st) == 2 && (hz = sysconf(_SC_CLK_TCK)) > 0)
		*cpu = (double)ut / (double)hz;
	return (p[2]);
}

/*
 * Is a worker that has shown no progress since last_change stuck, or only
 * waiting: for the processor (a thousand workers on two cores), or for
 * the kernel, which reclaims memory or writes its pages for it (a job in
 * a tight memory cgroup)?  It is stuck when stopped or asleep, or when it
 * ran its own code for at least a tenth of the time without progress; a
 * worker runnable or in the kernel that ran less is waiting its turn.
 * The CPU time is noted the first time a worker is seen idle.
 */
static int
worker_starved(struct worker *w, ev_tstamp now)
{
	double	cpu;
	int	state;

	state = proc_stat(w->pid, &cpu);
	if (w->idle_since == 0) {
		w->idle_since = now;
		w->idle_cpu = cpu;
		return (1);
	}
	return ((state == 'R' || state == 'D') && cpu - w->idle_cpu <
	    (now - w->idle_since) / 10);
}

/*
 * The heartbeat: a busy worker bumps the counter in its status page at
 * least once per batch, and in every long loop, without a system call.
 * One whose counter has not moved for --heartbeat-timeout seconds is hung
 * (stopped, or stuck in a loop): kill it, and it is restarted like any
 * crashed worker.  A worker waiting on a user's command gives the command
 * Hadoop's contract instead: it is killed only after the task timeout
 * (mapreduce.task.timeout, 600 s) with no line read from the command, none
 * written to it and no reporter: line, unless the worker itself is
 * stopped.
 */
void
supervisor_heartbeat_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct supervisor	*sv = t->data;
	struct worker		*w;
	ev_tstamp		 now, idle;
	double			 cpu;
	uint64_t		 hb;
	unsigned int		 i;

	for (i = 0; i < sv->job->nparts; i++) {
		w = &sv->w[i];
		if (!worker_busy(w) || w->hung)
			continue;
		hb = w->status->heartbeat;
		if (hb != w->last_hb) {
			worker_moved(w);
			w->idle_since = 0;
			continue;
		}
		/* What it said may be waiting, unread: the stage done. */
		if (w->fd != -1) {
			supervisor_read_cb(loop, &w->rio, EV_READ);
			if (!worker_busy(w))
				continue;
		}
		now = ev_time();
		idle = now - w->last_change;
		if (idle < sv->job->opts->heartbeat_timeout)
			continue;
		if (w->status->in_command && proc_stat(w->pid, &cpu) != 'T' &&
		    proc_stat(w->pid, &cpu) != 't') {
			if (sv->job->task_timeout == 0 ||
			    idle < sv->job->task_timeout)
				continue;
			log_warnx("worker %u (pid %ld): its command read, "
			    "wrote and reported nothing for %.1f s (the task "
			    "timeout); killing it", w->part, (long)w->pid,
			    idle);
		} else if (worker_starved(w, now))
			continue;
		else
			log_warnx("worker %u (pid %ld) made no progress for "
			    "%.1f s; killing it", w->part, (long)w->pid, idle);
		w->hung = 1;
		w->doomed = 1;
		kill(w->pid, SIGKILL);
	}
}

/* A random number in [0, 1), from a xorshift generator. */
static double
supervisor_random(struct supervisor *sv)
{
	sv->rng ^= sv->rng << 13;
	sv->rng ^= sv->rng >> 7;
	sv->rng ^= sv->rng << 17;
	return ((double)(sv->rng >> 11) / 9007199254740992.0);
}

/* Arm the chaos timer: exponential delays of the given mean. */
void
supervisor_chaos_arm(struct supervisor *sv)
{
	double	delay;

	delay = -sv->job->opts->chaos * log(1.0 - supervisor_random(sv));
	ev_timer_set(&sv->chaos, delay, 0);
	ev_timer_start(sv->loop, &sv->chaos);
}

/*
 * May --chaos kill this worker?  Only a busy one that has written a
 * checkpoint since it was forked or started its stage: each kill then
 * loses at most what came after a checkpoint the worker got past, and a
 * job always ends, however often the kills come and however slow the
 * machine (a kill is no failure, so nothing else would stop them).
 */
static int
worker_chaos_target(const struct worker *w)
{
	return (worker_busy(w) && w->status->checkpoints != w->ckpts_at_fork);
}

/* --chaos: kill a random busy worker, as a crash would. */
void
supervisor_chaos_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct supervisor	*sv = t->data;
	struct worker		*w;
	unsigned int		 i, n = 0, pick;

	if (sv->finishing || sv->failing)
		return;
	for (i = 0; i < sv->job->nparts; i++)
		n += worker_chaos_target(&sv->w[i]);
	if (n > 0) {
		pick = (unsigned int)(supervisor_random(sv) * n);
		for (i = 0; i < sv->job->nparts; i++) {
			w = &sv->w[i];
			if (worker_chaos_target(w) && pick-- == 0) {
				log_warnx("chaos: killing worker %u (pid %ld)",
				    w->part, (long)w->pid);
				w->doomed = 1;
				w->life.chaos = 1;
				kill(w->pid, SIGKILL);
				break;
			}
		}
	}
	supervisor_chaos_arm(sv);
}

/* Draw the display, and keep the job page up to date. */
static void
supervisor_tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct supervisor	*sv = t->data;

	supervisor_page(sv);
	if (sv->display != NULL)
		display_draw(sv->display, sv->page, sv->pages, mono_now());
}

/*
 * What a host tells the others of each worker it runs, in its heartbeats
 * (mpi_heartbeat), for their job pages and status pages.  The hosts are
 * of one architecture.
 */
struct hb_lane {
	uint32_t	 part;
	uint32_t	 state;
	uint32_t	 attempts;
	uint32_t	 restarts;
	uint32_t	 stages_done;
	int32_t		 pid;
	uint32_t	 stage;
	uint32_t	 op;
	uint64_t	 heartbeat;
	uint64_t	 records_in;
	uint64_t	 records_out;
	uint64_t	 bytes_in;
	uint64_t	 bytes_total;
	uint64_t	 checkpoints;
};

/* The most bytes of lanes a host sends: as many as it has partitions. */
size_t
supervisor_lanes_max(const struct job *job)
{
	return ((job->nparts + job->nhosts - 1) / job->nhosts *
	    sizeof(struct hb_lane));
}

/* This host's lanes, into buf (supervisor_lanes_max bytes); their size. */
size_t
supervisor_lanes(struct supervisor *sv, void *buf)
{
	struct hb_lane		*l = buf;
	struct jp_worker	*pw;
	struct status_page	*sp;
	unsigned int		 i;
	size_t			 n = 0;

	supervisor_page(sv);
	for (i = 0; i < sv->job->nparts; i++) {
		if (!job_owns(sv->job, i))
			continue;
		pw = &sv->page->w[i];
		sp = sv->pages[i];
		memset(&l[n], 0, sizeof l[n]);
		l[n].part = i;
		l[n].state = pw->state;
		l[n].attempts = pw->attempts;
		l[n].restarts = pw->restarts;
		l[n].stages_done = pw->stages_done;
		l[n].pid = pw->pid;
		l[n].stage = sp->stage;
		l[n].op = sp->op;
		l[n].heartbeat = sp->heartbeat;
		l[n].records_in = sp->records_in;
		l[n].records_out = sp->records_out;
		l[n].bytes_in = sp->bytes_in;
		l[n].bytes_total = sp->bytes_total;
		l[n].checkpoints = sp->checkpoints;
		n++;
	}
	return (n * sizeof *l);
}

/*
 * Another host's lanes (rank's, len bytes): its workers as this job page
 * and these status pages show them, a second behind at most.
 */
void
supervisor_heard(int rank, const void *buf, size_t len, void *arg)
{
	struct supervisor	*sv = arg;
	const struct hb_lane	*l = buf;
	struct jp_worker	*pw;
	struct status_page	*sp;
	size_t			 n;
	uint32_t		 i;

	for (n = 0; n < len / sizeof *l; n++) {
		i = l[n].part;
		if (i >= sv->job->nparts || i % sv->job->nhosts !=
		    (unsigned int)rank || l[n].state > JW_ELSEWHERE)
			continue;
		pw = &sv->page->w[i];
		sp = sv->pages[i];
		if (l[n].heartbeat != sp->heartbeat)
			pw->last_progress = mono_now();
		pw->state = l[n].state;
		pw->attempts = l[n].attempts;
		pw->restarts = l[n].restarts;
		pw->stages_done = l[n].stages_done;
		pw->pid = l[n].pid;
		sp->stage = l[n].stage;
		sp->op = l[n].op;
		sp->heartbeat = l[n].heartbeat;
		sp->records_in = l[n].records_in;
		sp->records_out = l[n].records_out;
		sp->bytes_in = l[n].bytes_in;
		sp->bytes_total = l[n].bytes_total;
		sp->checkpoints = l[n].checkpoints;
	}
}

/* Without a terminal: a status block every --status-interval seconds. */
static void
supervisor_block_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct supervisor	*sv = t->data;
	char			*s, *line;
	int			 n;

	supervisor_page(sv);
	/* On several hosts, rank 0's block is every host's. */
	if (sv->job->nhosts > 1 && sv->job->rank != 0)
		return;
	s = status_block(sv->page, sv->pages, mono_now());
	if (sv->job->nhosts > 1)
		n = xasprintf(&line, "forkflow: on %u hosts: %s",
		    sv->job->nhosts, s);
	else
		n = xasprintf(&line, "forkflow: %s", s);
	log_line(line, (size_t)n);
	free(line);
	free(s);
}

/* Lines the workers write on standard error: above the display. */
static void
supervisor_errpipe_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct supervisor	*sv = io->data;
	struct buf		*b = &sv->errbuf;
	char			*nl;
	size_t			 len;

	while (proto_fill(sv->errpipe[0], b) > 0)
		;
	while (b->len > b->off && (nl = memchr(b->data + b->off, '\n',
	    b->len - b->off)) != NULL) {
		len = (size_t)(nl + 1 - (b->data + b->off));
		display_print(sv->display, b->data + b->off, len);
		buf_drain(b, len);
	}
	/* A line longer than any log line is shown as it is. */
	if (b->len - b->off > 4096) {
		display_print(sv->display, b->data + b->off, b->len - b->off);
		buf_drain(b, b->len - b->off);
	}
}

/* The supervisor's own log lines, above the display. */
static struct display	*log_display;

static void
supervisor_log_hook(const char *line, size_t len)
{
	display_print(log_display, line, len);
}

/* Set up the job page, the display and the timers that feed them. */
void
supervisor_watch(struct supervisor *sv)
{
	struct job	*job = sv->job;
	char		*path;
	unsigned int	 i;

	path = jd_file(job->jobdir, JD_JOBPAGE);
	if ((sv->page = jobpage_map(path, job->nparts)) == NULL)
		fatal("%s", path);
	free(path);
	sv->page->nstages = (uint32_t)job->plan->nstages;
	sv->page->pid = (int32_t)getpid();
	sv->page->job_id = job->job_id;
	sv->page->started = job->run.started;
	sv->page->stage_started = mono_now();
	sv->pages = xcalloc(job->nparts, sizeof *sv->pages);
	for (i = 0; i < job->nparts; i++) {
		sv->pages[i] = sv->w[i].status;
		/* Until its host's first heartbeat says more. */
		if (!job_owns(job, i))
			sv->page->w[i].state = JW_ELSEWHERE;
	}
	sv->errpipe[0] = sv->errpipe[1] = -1;
	if (job->display) {
		sv->display = display_start(job->nparts, STDERR_FILENO,
		    job->opts->progress == PROGRESS_RELAY);
		if (pipe(sv->errpipe) == 0) {
			(void)fcntl(sv->errpipe[0], F_SETFL, O_NONBLOCK);
			(void)fcntl(sv->errpipe[0], F_SETFD, FD_CLOEXEC);
			(void)fcntl(sv->errpipe[1], F_SETFD, FD_CLOEXEC);
			ev_io_init(&sv->errio, supervisor_errpipe_cb,
			    sv->errpipe[0], EV_READ);
			sv->errio.data = sv;
			ev_io_start(sv->loop, &sv->errio);
		} else
			sv->errpipe[0] = sv->errpipe[1] = -1;
		log_display = sv->display;
		log_set_hook(supervisor_log_hook);
	}
	ev_timer_init(&sv->tick, supervisor_tick_cb, 0.1,
	    sv->display != NULL ? 0.2 : 1);
	sv->tick.data = sv;
	ev_timer_start(sv->loop, &sv->tick);
	ev_init(&sv->block, supervisor_block_cb);
	sv->block.data = sv;
	if (sv->display == NULL && job->status_interval > 0) {
		ev_timer_set(&sv->block, job->status_interval,
		    job->status_interval);
		ev_timer_start(sv->loop, &sv->block);
	}
}

/* Take down what supervisor_watch set up. */
void
supervisor_unwatch(struct supervisor *sv)
{
	ev_timer_stop(sv->loop, &sv->tick);
	ev_timer_stop(sv->loop, &sv->block);
	supervisor_page(sv);
	if (sv->display != NULL) {
		/* What the workers wrote last, then off the screen. */
		supervisor_errpipe_cb(sv->loop, &sv->errio, EV_READ);
		if (sv->errbuf.len > sv->errbuf.off)
			display_print(sv->display, sv->errbuf.data +
			    sv->errbuf.off, sv->errbuf.len - sv->errbuf.off);
		ev_io_stop(sv->loop, &sv->errio);
		log_set_hook(NULL);
		log_display = NULL;
		display_stop(sv->display);
		buf_free(&sv->errbuf);
	}
	if (sv->errpipe[0] != -1) {
		close(sv->errpipe[0]);
		close(sv->errpipe[1]);
	}
	munmap(sv->page, jobpage_size(sv->job->nparts));
	free(sv->pages);
}
