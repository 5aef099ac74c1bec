/* forkflow: see LICENSE. */
/*
 * Streaming operators: a user's mapper or reducer command, run as Hadoop
 * Streaming runs it.  One process per partition and stage (and per
 * checkpoint interval: a checkpoint ends the process's input, so that all
 * its output up to there is committed); records go to its standard input
 * as "key<TAB>value" lines, and each line of its standard output is a
 * record, split at its first tab (a line without one is all key).  A
 * reducer gets its input sorted by key.  Lines of its standard error
 * "reporter:counter:GROUP,NAME,N" and "reporter:status:MSG" are counters
 * and status; the others are passed on (not with -q).  Every line goes to
 * the task's log, JOBDIR/logs/sS-pP-aA, as Hadoop keeps a task attempt's
 * stderr in its userlogs.  A process that exits with a
 * status other than 0, or is killed, fails its worker, which is forked
 * again and resumes from its checkpoint.
 *
 * The worker writes to the process and reads from it at once, with
 * poll(2), so that neither waits on the other's full pipe.
 *
 * Each process leads a process group of its own, named in the worker's
 * status page while it runs, so that nothing it starts outlives it (a
 * `sleep` behind `sh -c`, or the other end of a pipeline): the worker
 * kills the group when the process exits and when it fails itself, and
 * the supervisor when the worker dies of a signal.  The group is killed
 * before the process is reaped, as a zombie holds the group's number, which
 * no other process can then be given.
 */

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"

#define STREAM_TAIL	10	/* stderr lines kept for messages */
#define STREAM_TAIL_LINE 1024	/* and the bytes kept of each */

/* What a streaming operator is called in messages. */
static const char *
stream_role(const struct op *op)
{
	if (op->is_combiner)
		return ("combiner");
	return (op->kind == OP_MAPPER ? "mapper" : "reducer");
}

/* What the environment of a streaming process says, set per stage. */
struct stream_env	 stream_env;

/*
 * The status page's slots for the process groups of the worker's commands,
 * or NULL outside a worker: what stream_kill_all() empties when the worker
 * fails, however it fails.  Which slot a command takes is counted in the
 * struct stream_groups it is started with.
 */
volatile int32_t	*stream_groups;

static void	stream_stderr_line(struct stream *, const char *, size_t);
static int	stream_group_pick(struct stream_groups *, pid_t *);
static void	stream_group_leave(struct stream *);
static void	child_setenv(const char *, const char *, ...)
		    printflike(2, 3);

/* Set an environment variable in the child, from a format. */
static void
child_setenv(const char *name, const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[4096];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	setenv(name, buf, 1);
}

/*
 * The process group a new command goes in: one of its own (*pgid 0), in a
 * free slot of g, or when every slot is taken, the group of the last.  That
 * group lives on while any of its commands is not reaped, and is killed
 * when the last of them exits.  Returns the slot, or -1 without slots.
 */
static int
stream_group_pick(struct stream_groups *g, pid_t *pgid)
{
	int	i;

	*pgid = 0;
	if (g == NULL || g->pgid == NULL)
		return (-1);
	for (i = 0; i < STATUS_GROUPS; i++) {
		if (g->members[i] == 0)
			return (i);
	}
	i = STATUS_GROUPS - 1;
	*pgid = g->pgid[i];
	return (i);
}

/*
 * A command has exited and is not reaped yet: kill what it leaves in its
 * group, unless another running command shares the group, and free the
 * slot.
 */
static void
stream_group_leave(struct stream *s)
{
	if (s->slot >= 0 && --s->groups->members[s->slot] > 0)
		return;
	if (s->pgid > 1 && s->pgid != getpgrp())
		(void)kill(-s->pgid, SIGKILL);
	if (s->slot >= 0)
		s->groups->pgid[s->slot] = 0;
}

/*
 * Kill the process groups a status page names, with SIGKILL; with clear,
 * free their slots.  A number that cannot be a command's group (0, 1,
 * ours) is left alone.  Returns how many groups were killed.
 */
int
stream_kill_groups(volatile int32_t *pgid, int clear)
{
	pid_t	own = getpgrp();
	int	i, n = 0;

	for (i = 0; i < STATUS_GROUPS; i++) {
		if (pgid[i] > 1 && pgid[i] != own &&
		    kill(-(pid_t)pgid[i], SIGKILL) == 0)
			n++;
		if (clear)
			pgid[i] = 0;
	}
	return (n);
}

/* A worker that fails: its commands, and all they started, go with it. */
void
stream_kill_all(void)
{
	if (stream_groups != NULL)
		(void)stream_kill_groups(stream_groups, 1);
}

/* In the child: become the command, in process group pgid (0: its own). */
static __dead void
stream_exec(const struct op *op, pid_t ppid, pid_t pgid, int in, int out,
    int err)
{
	struct sigaction	 sa;
	/* A combiner runs in the map task, as Hadoop's does. */
	const char		*kind = op->kind == OP_MAPPER ||
	    op->is_combiner ? "m" : "r";
	char *const		*env;
	char			*sh[4];
	int			 fd;

	/* Die with the worker; if it died before this, at once. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != ppid)
		_exit(127);
	/*
	 * A process group apart from forkflow's: Control-C in the terminal
	 * reaches forkflow, which stops the job, and not the command, whose
	 * death by SIGINT would look like a crash of the job's.  The worker
	 * does the same, so that the group is there whichever runs first.
	 */
	(void)setpgid(0, pgid);
	if (dup2(in, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1 ||
	    dup2(err, STDERR_FILENO) == -1)
		_exit(127);
	for (fd = 3; fd < 1024; fd++)
		(void)close(fd);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGPIPE, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);

	/* The job's own (-cmdenv, properties), then Hadoop's for a task. */
	for (env = stream_env.env; env != NULL && *env != NULL; env++)
		(void)putenv(*env);
	child_setenv("mapreduce_job_id", "job_forkflow_%016llx",
	    (unsigned long long)stream_env.job_id);
	child_setenv("mapreduce_task_id", "task_forkflow_%016llx_%s_%06u",
	    (unsigned long long)stream_env.job_id, kind, stream_env.part);
	child_setenv("mapreduce_task_attempt_id",
	    "attempt_forkflow_%016llx_%s_%06u_%u",
	    (unsigned long long)stream_env.job_id, kind, stream_env.part,
	    stream_env.attempt);
	child_setenv("mapreduce_task_partition", "%u", stream_env.part);
	child_setenv("mapreduce_task_ismap", "%s", *kind == 'm' ? "true" :
	    "false");
	child_setenv("mapreduce_job_maps", "%u", stream_env.nparts);
	child_setenv("mapreduce_job_reduces", "%u", stream_env.nparts);
	if (stream_env.input_file != NULL)
		child_setenv("mapreduce_map_input_file", "%s",
		    stream_env.input_file);
	child_setenv("mapreduce_map_input_start", "%llu",
	    (unsigned long long)stream_env.input_start);
	child_setenv("mapreduce_map_input_length", "%llu",
	    (unsigned long long)stream_env.input_length);

	if (stream_env.workdir != NULL && chdir(stream_env.workdir) != 0)
		fprintf(stderr, "%s: %s\n", stream_env.workdir, strerror(errno));
	if (op->argv != NULL)
		execvp(op->argv[0], op->argv);
	else {
		sh[0] = (char *)"/bin/sh";
		sh[1] = (char *)"-c";
		sh[2] = op->command;
		sh[3] = NULL;
		execv(sh[0], sh);
	}
	fprintf(stderr, "cannot run %s: %s\n", op->argv != NULL ?
	    op->argv[0] : "/bin/sh", strerror(errno));
	_exit(127);
}

/*
 * Start the process of a streaming operator, its process group named in a
 * slot of g (NULL: none).  Returns 0 or -1.
 */
int
stream_start(struct stream *s, const struct op *op, struct stream_groups *g)
{
	int	in[2], out[2], err[2];
	pid_t	ppid = getpid(), pgid;

	memset(s, 0, sizeof *s);
	s->op = op;
	s->groups = g;
	s->slot = stream_group_pick(g, &pgid);
	if (pipe2(in, O_CLOEXEC) != 0)
		return (-1);
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		return (-1);
	}
	if (pipe2(err, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return (-1);
	}
	switch (s->pid = fork()) {
	case -1:
		return (-1);
	case 0:
		stream_exec(op, ppid, pgid, in[0], out[1], err[1]);
		/* NOTREACHED */
	default:
		break;
	}
	s->pgid = pgid != 0 ? pgid : s->pid;
	(void)setpgid(s->pid, s->pgid);
	if (s->slot >= 0) {
		g->pgid[s->slot] = (int32_t)s->pgid;
		g->members[s->slot]++;
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	s->in = in[1];
	s->out = out[0];
	s->err = err[0];
	(void)fcntl(s->in, F_SETFL, O_NONBLOCK);
	(void)fcntl(s->out, F_SETFL, O_NONBLOCK);
	(void)fcntl(s->err, F_SETFL, O_NONBLOCK);
	s->running = 1;
	return (0);
}

/*
 * Append a line of a command's standard error to the task's log, made on
 * its first line.  A log that cannot be written is said once, and the
 * job goes on: the log is for the user, the records do not depend on it.
 */
static void
stream_log(const char *line, size_t len)
{
	static int	 fd = -1, failed;
	static char	*open_path;
	struct iovec	 iov[2];
	char		*dir, *slash;

	if (stream_env.log == NULL || failed)
		return;
	if (fd != -1 && strcmp(open_path, stream_env.log) != 0) {
		close(fd);
		fd = -1;
	}
	if (fd == -1) {
		free(open_path);
		open_path = xstrdup(stream_env.log);
		dir = xstrdup(open_path);
		if ((slash = strrchr(dir, '/')) != NULL) {
			*slash = '\0';
			(void)mkdir(dir, 0700);
		}
		free(dir);
		fd = open(open_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0600);
		if (fd == -1) {
			log_warnx("%s: %s", open_path, strerror(errno));
			failed = 1;
			return;
		}
	}
	iov[0].iov_base = (void *)(uintptr_t)line;
	iov[0].iov_len = len;
	iov[1].iov_base = (void *)(uintptr_t)"\n";
	iov[1].iov_len = 1;
	if (writev(fd, iov, 2) != (ssize_t)len + 1) {
		log_warnx("%s: %s", open_path, strerror(errno));
		failed = 1;
	}
}

/* Keep a line of the process's standard error. */
static void
stream_stderr_line(struct stream *s, const char *line, size_t len)
{
	const char	*c;
	char		*text;

	stream_log(line, len);
	text = xstrndup(line, len);
	if (strncmp(text, "reporter:", 9) == 0)
		progress();
	if (strncmp(text, "reporter:counter:", 17) == 0 &&
	    (c = strrchr(text, ',')) != NULL && c > text + 17 &&
	    text[17] != COUNTER_OWN[0]) {
		s->counters++;
		counters_add(text + 17, (size_t)(c - (text + 17)),
		    strtoll(c + 1, NULL, 10));
		log_debug("%s", text);
	} else if (strncmp(text, "reporter:status:", 16) == 0)
		log_info("status: %s", text + 16);
	else if (!stream_env.quiet)
		log_warnx("%s: %s", stream_role(s->op), text);
	free(s->tail[s->ntail % STREAM_TAIL]);
	s->tail[s->ntail % STREAM_TAIL] = text;
	s->ntail++;
}

/*
 * Where a command's output line of len bytes at p is cut: the length of
 * its key, and in *v where its value starts.  The key ends at the op's
 * okeys-th separator (a tab, the first, by default); a line with fewer is
 * all key, as in Hadoop.
 */
static size_t
stream_cut(const struct op *op, const char *p, size_t len, const char **v)
{
	const char	*sep = op->osep != NULL ? op->osep : "\t", *at;
	size_t		 seplen = strlen(sep), off = 0;
	unsigned int	 n = op->okeys > 0 ? op->okeys : 1;

	for (;;) {
		if (seplen == 1)
			at = memchr(p + off, *sep, len - off);
		else
			at = memmem(p + off, len - off, sep, seplen);
		if (at == NULL) {
			*v = p + len;
			return (len);
		}
		if (--n == 0) {
			*v = at + seplen;
			return ((size_t)(at - p));
		}
		off = (size_t)(at - p) + seplen;
	}
}

/*
 * Split what arrived on a descriptor into lines: each whole line of
 * standard output becomes a record, each of standard error is kept.
 */
static void
stream_lines(struct stream *s, struct buf *b, int is_err,
    const struct stream_out *out)
{
	const char	*p, *nl, *v, *end;
	size_t		 len, klen;

	p = b->data + b->off;
	end = b->data + b->len;
	while ((nl = memchr(p, '\n', end - p)) != NULL) {
		len = (size_t)(nl - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (is_err)
			stream_stderr_line(s, p, len);
		else {
			klen = stream_cut(s->op, p, len, &v);
			out->fn(out->ctx, p, klen, v, (size_t)(p + len - v));
		}
		p = nl + 1;
	}
	buf_drain(b, (size_t)(p - (b->data + b->off)));
}

/*
 * Move bytes: write what is queued for the process, read what it wrote.
 * With drain, wait until both its outputs end.  Returns 0, or -1 if the
 * process closed its input early (it has failed, or will).
 */
static int
stream_pump(struct stream *s, const struct stream_out *out, int drain)
{
	struct pollfd	pfd[3];
	char		tmp[65536];
	ssize_t		n;
	int		i, nfd, r, ret = 0;

	for (;;) {
		nfd = 0;
		if (s->in != -1 && s->wbuf.len > s->wbuf.off) {
			pfd[nfd].fd = s->in;
			pfd[nfd++].events = POLLOUT;
		}
		if (s->out != -1) {
			pfd[nfd].fd = s->out;
			pfd[nfd++].events = POLLIN;
		}
		if (s->err != -1) {
			pfd[nfd].fd = s->err;
			pfd[nfd++].events = POLLIN;
		}
		if (nfd == 0)
			return (ret);
		if (!drain && (s->in == -1 || s->wbuf.len == s->wbuf.off))
			return (ret);
		/* The command's time: the supervisor gives it the task
		 * timeout, not the heartbeat's. */
		if (progress_wait != NULL)
			*progress_wait = 1;
		r = poll(pfd, (nfds_t)nfd, -1);
		if (progress_wait != NULL)
			*progress_wait = 0;
		if (r == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		for (i = 0; i < nfd; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == s->in) {
				n = proto_flush(s->in, &s->wbuf);
				if (n == -1 && errno != EAGAIN &&
				    errno != EINTR) {
					/* EPIPE: it stopped reading. */
					close(s->in);
					s->in = -1;
					buf_free(&s->wbuf);
					ret = -1;
				}
				progress();
				continue;
			}
			n = read(pfd[i].fd, tmp, sizeof tmp);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0) {
				if (pfd[i].fd == s->out) {
					close(s->out);
					s->out = -1;
				} else {
					close(s->err);
					s->err = -1;
				}
				continue;
			}
			/* Output is progress; standard error is only by
			 * its reporter: lines (stream_stderr_line). */
			if (pfd[i].fd == s->out) {
				buf_add(&s->rbuf, tmp, (size_t)n);
				stream_lines(s, &s->rbuf, 0, out);
				progress();
			} else {
				buf_add(&s->ebuf, tmp, (size_t)n);
				stream_lines(s, &s->ebuf, 1, out);
			}
		}
	}
}

/* Give a batch of records to the process, as key<TAB>value lines. */
int
stream_feed(struct stream *s, const struct batch *b, enum vtype kt,
    enum vtype vt, int value_only, const struct stream_out *out)
{
	const char	*sep = s->op->isep != NULL ? s->op->isep : "\t", *raw;
	char		 stack[4096], *line;
	size_t		 i, w, seplen = strlen(sep), rawlen;
	char		*p;

	if (s->in == -1)
		return (-1);
	for (i = 0; i < b->n; i++) {
		w = val_width(kt, b->k[i]) + val_width(vt, b->v[i]) + 1 +
		    seplen;
		line = w <= sizeof stack ? stack : xmalloc(w);
		p = line;
		if (!value_only && s->op->korder != NULL) {
			/* The key as its command wrote it (keyfield.c). */
			raw = keyorder_raw(str_of(b->k[i])->s,
			    str_of(b->k[i])->len, &rawlen);
			memcpy(p, raw, rawlen);
			p += rawlen;
			memcpy(p, sep, seplen);
			p += seplen;
		} else if (!value_only) {
			p = val_format(kt, OUT_TSV, p, b->k[i]);
			memcpy(p, sep, seplen);
			p += seplen;
		}
		p = val_format(vt, OUT_TSV, p, b->v[i]);
		*p++ = '\n';
		buf_add(&s->wbuf, line, (size_t)(p - line));
		if (line != stack)
			free(line);
	}
	return (stream_pump(s, out, 0));
}

/*
 * End the process's input and take all it still writes; then wait for it.
 * Returns 0 if it exited with status 0; else -1 with *why saying how it
 * ended and its last lines of standard error.
 */
int
stream_finish(struct stream *s, const struct stream_out *out, char **why)
{
	siginfo_t	 si;
	char		*tail = NULL, *t;
	size_t		 i, first;
	int		 status, r;

	if (s->in != -1 && s->wbuf.len > s->wbuf.off)
		(void)stream_pump(s, out, 0);
	if (s->in != -1) {
		close(s->in);
		s->in = -1;
	}
	(void)stream_pump(s, out, 1);
	if (s->rbuf.len > s->rbuf.off) {
		/* A last line without its newline. */
		buf_add(&s->rbuf, "\n", 1);
		stream_lines(s, &s->rbuf, 0, out);
	}
	/* It has exited, but is reaped only once its group is killed. */
	while (waitid(P_PID, (id_t)s->pid, &si, WEXITED | WNOWAIT) == -1 &&
	    errno == EINTR)
		;
	stream_group_leave(s);
	while ((r = waitpid(s->pid, &status, 0)) == -1 && errno == EINTR)
		;
	s->running = 0;
	buf_free(&s->wbuf);
	buf_free(&s->rbuf);
	buf_free(&s->ebuf);
	if (r != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		for (i = 0; i < STREAM_TAIL; i++)
			free(s->tail[i]);
		return (0);
	}
	first = s->ntail > STREAM_TAIL ? s->ntail - STREAM_TAIL : 0;
	tail = xstrdup("");
	for (i = first; i < s->ntail; i++) {
		xasprintf(&t, "%s%s%s", tail, *tail != '\0' ? " | " : "",
		    s->tail[i % STREAM_TAIL]);
		free(tail);
		tail = t;
	}
	for (i = 0; i < STREAM_TAIL; i++)
		free(s->tail[i]);
	if (r == -1)
		xasprintf(why, "%s could not be waited for",
		    stream_role(s->op));
	else if (WIFSIGNALED(status))
		xasprintf(why, "%s killed by signal %d; its last standard "
		    "error: %s", stream_role(s->op), WTERMSIG(status),
		    *tail ? tail : "(none)");
	else
		xasprintf(why, "%s exited with status %d; its last standard "
		    "error: %s", stream_role(s->op), WEXITSTATUS(status),
		    *tail ? tail : "(none)");
	free(tail);
	return (-1);
}

/* Collect a combiner's output lines as records. */
static void
stream_collect(void *arg, const char *k, size_t klen, const char *v,
    size_t vlen)
{
	struct recbuf	*rb = arg;

	if (rb->n == rb->cap) {
		rb->cap = rb->cap ? rb->cap * 2 : 4096;
		rb->r = xreallocarray(rb->r, rb->cap, sizeof *rb->r);
	}
	rb->r[rb->n].k = str_make(&rb->a, k, klen);
	rb->r[rb->n].v = str_make(&rb->a, v, vlen);
	rb->n++;
}

/*
 * Run a combiner over records sorted by key: they go through the command,
 * its group in a slot of g, and what it writes replaces them (strings,
 * sorted again).  Returns 0, or -1 with *why.
 */
int
stream_filter(const struct op *op, struct stream_groups *g, struct recbuf *rb,
    char **why)
{
	struct stream		 s;
	struct recbuf		 out;
	struct stream_out	 so = { stream_collect, &out };
	struct batch		*b;
	struct buf		 key;
	size_t			 i;

	memset(&key, 0, sizeof key);
	memset(&out, 0, sizeof out);
	out.kt = out.vt = VT_STR;
	if (stream_start(&s, op, g) != 0) {
		xasprintf(why, "cannot start the combiner: %s",
		    strerror(errno));
		return (-1);
	}
	b = batch_new();
	for (i = 0; i < rb->n; i++) {
		b->k[b->n] = rb->r[i].k;
		b->v[b->n] = rb->r[i].v;
		if (++b->n == BATCH_MAX || i + 1 == rb->n) {
			(void)stream_feed(&s, b, rb->kt, rb->vt, 0, &so);
			b->n = 0;
		}
	}
	batch_free(b);
	if (stream_finish(&s, &so, why) != 0) {
		recbuf_free(&out);
		return (-1);
	}
	recbuf_free(rb);
	*rb = out;
	if (op->korder != NULL) {
		/* Bound for a secondary sort: keys made for it again. */
		memset(&out, 0, sizeof out);
		out.kt = out.vt = VT_STR;
		for (i = 0; i < rb->n; i++)
			recbuf_add(&out, keyorder_key(op->korder, rb->r[i].k,
			    &key), rb->r[i].v);
		recbuf_free(rb);
		*rb = out;
		buf_free(&key);
	}
	recs_sort(rb->r, rb->n, rb->kt, rb->vt);
	return (0);
}
