/* forkflow: see LICENSE. */
/*
 * forkflow serve: the jobs' runs.  Each job's attempt is a forkflow run,
 * forked, in a session of its own; the table (serve-db.c) knows it before
 * it begins.  Its end is read from its wait status or, for a run adopted
 * after a restart, from its job directory; a run that may be mended is
 * tried again after a backoff.  Queued jobs start, oldest first, while
 * their cores fit.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"
#include "serve-int.h"

struct serve	 sv;

static int	 sv_start(struct sjob *);
static void	 sv_ended(struct sjob *, int, int);

/* STATE_DIR/jobs/ID[/name]. */
char *
sv_path(int64_t id, const char *name)
{
	char	*p;

	if (name == NULL)
		xasprintf(&p, "%s/jobs/%lld", sv.statedir, (long long)id);
	else
		xasprintf(&p, "%s/jobs/%lld/%s", sv.statedir, (long long)id,
		    name);
	return (p);
}

/* --- Running jobs --------------------------------------------------------- */

/* The last non-empty line of a job's log, for its reason; or NULL. */
static char *
sv_log_tail(int64_t id)
{
	char	*path, buf[2048], *p, *e;
	ssize_t	 n;
	off_t	 size;
	int	 fd;

	path = sv_path(id, "log");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return (NULL);
	size = lseek(fd, 0, SEEK_END);
	n = pread(fd, buf, sizeof buf - 1, size > (off_t)sizeof buf - 1 ?
	    size - (off_t)sizeof buf + 1 : 0);
	close(fd);
	if (n <= 0)
		return (NULL);
	buf[n] = '\0';
	for (e = buf + n; e > buf && (e[-1] == '\n' || e[-1] == '\r'); e--)
		;
	*e = '\0';
	p = strrchr(buf, '\n');
	p = p != NULL ? p + 1 : buf;
	return (*p != '\0' ? xstrdup(p) : NULL);
}

/*
 * How a job's last run ended, as its job directory's events say: the exit
 * status of their last "job_end", or -1 when there is none (the run was
 * killed); its reason in *reason (NULL when none).
 */
static int
sv_run_end(int64_t id, char **reason)
{
	char	*path, *text, *line, *next;
	json_t	*o, *st;
	size_t	 len;
	int	 status = -1;

	*reason = NULL;
	path = sv_path(id, "jd/events.jsonl");
	text = read_file(path, &len);
	free(path);
	if (text == NULL)
		return (-1);
	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strstr(line, "\"job_end\"") == NULL)
			continue;
		if ((o = json_loads(line, 0, NULL)) == NULL)
			continue;
		st = json_object_get(o, "exit_status");
		if (json_is_integer(st))
			status = (int)json_integer_value(st);
		free(*reason);
		*reason = NULL;
		if (json_is_string(json_object_get(o, "reason")) &&
		    json_string_length(json_object_get(o, "reason")) > 0)
			*reason = xstrdup(json_string_value(json_object_get(o,
			    "reason")));
		json_decref(o);
	}
	free(text);
	return (status);
}

/*
 * Did a failed run keep its job directory?  It does when there is work
 * to resume; a failure no run can mend (a record a function rejects, an
 * output it cannot write) leaves none, and is not tried again.
 */
static int
sv_run_kept(int64_t id)
{
	struct stat	 st;
	char		*jd;
	int		 kept;

	jd = sv_path(id, "jd");
	kept = stat(jd, &st) == 0;
	free(jd);
	return (kept);
}

/* The start of process pid, in clock ticks after the boot, or 0. */
static uint64_t
sv_proc_start(pid_t pid)
{
	char			*path, *stat, *p;
	size_t			 len;
	unsigned long long	 t = 0;
	int			 field;

	xasprintf(&path, "/proc/%ld/stat", (long)pid);
	stat = read_file(path, &len);
	free(path);
	if (stat == NULL)
		return (0);
	/* Field 22; the name, field 2, ends at the last ')'. */
	if ((p = strrchr(stat, ')')) != NULL) {
		for (field = 2; field < 22 && p != NULL; field++)
			p = strchr(p + 1, ' ');
		if (p != NULL)
			t = strtoull(p + 1, NULL, 10);
	}
	free(stat);
	return (t);
}

/*
 * Is j's run alive?  The pid and its start time name one process; its
 * command line is the run, or, before its exec, this service's child.
 */
static int
sv_run_alive(const struct sjob *j)
{
	char	*path, *cmd, *jd;
	size_t	 len, i, word;
	int	 yes;

	if (j->pid <= 0 || (kill(j->pid, 0) != 0 && errno != EPERM) ||
	    sv_proc_start(j->pid) != j->pid_start)
		return (0);
	xasprintf(&path, "/proc/%ld/cmdline", (long)j->pid);
	cmd = read_file(path, &len);
	free(path);
	if (cmd == NULL)
		return (0);
	word = len;
	for (i = 0; i + 1 < len; i++) {
		if (cmd[i] == '\0') {
			cmd[i] = ' ';
			if (word == len)
				word = i + 1;
		}
	}
	jd = sv_path(j->id, "jd");
	/* Its second word "serve", options after it or not. */
	yes = strstr(cmd, jd) != NULL || strcmp(cmd + word, "serve") == 0 ||
	    strncmp(cmd + word, "serve ", 6) == 0;
	free(jd);
	free(cmd);
	return (yes);
}

static void
sv_pidfd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sjob	*j = w->data;

	(void)loop;
	(void)revents;
	sv_ended(j, 0, 0);
}

static void
sv_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sjob	*j = w->data;

	(void)revents;
	if (!sv_run_alive(j)) {
		ev_timer_stop(loop, w);
		sv_ended(j, 0, 0);
	}
}

/*
 * Follow a live run that is not our child: a pidfd says when it is gone
 * (polled where the kernel has none).
 */
static void
sv_adopt(struct sjob *j)
{
	char	detail[64];

	j->state = SJ_RUNNING;
	sv.used += j->cores;
#ifdef SYS_pidfd_open
	j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
#else
	j->pidfd = -1;
#endif
	if (j->pidfd != -1) {
		(void)fcntl(j->pidfd, F_SETFD, FD_CLOEXEC);
		ev_io_init(&j->pidw, sv_pidfd_cb, j->pidfd, EV_READ);
		j->pidw.data = j;
		ev_io_start(sv.loop, &j->pidw);
	} else {
		ev_timer_init(&j->timer, sv_poll_cb, 0.5, 0.5);
		j->timer.data = j;
		ev_timer_start(sv.loop, &j->timer);
	}
	snprintf(detail, sizeof detail, "pid %ld", (long)j->pid);
	(void)sdb_update(sv.db, j, wall_now(), -1, NULL, "adopted", detail);
	log_info("job %lld: adopted its run (pid %ld)", (long long)j->id,
	    (long)j->pid);
}

/* Have the inputs changed since the job was submitted?  Which, or NULL. */
static const char *
sv_input_changed(const struct sjob *j)
{
	struct stat	 st;
	json_t		*in;
	size_t		 i;
	double		 mt;

	json_array_foreach(j->inputs, i, in) {
		const char *path = json_string_value(json_object_get(in,
		    "path"));

		if (path == NULL)
			continue;
		if (stat(path, &st) != 0)
			return (path);
		mt = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec /
		    1e9;
		if ((json_int_t)st.st_size != json_integer_value(
		    json_object_get(in, "size")) || mt - json_number_value(
		    json_object_get(in, "mtime")) > 1e-6 || json_number_value(
		    json_object_get(in, "mtime")) - mt > 1e-6)
			return (path);
	}
	return (NULL);
}

/* A file of the job's folder, opened for the run, as its owner's. */
int
sv_job_file(const struct sjob *j, const char *name, int flags)
{
	char	*path;
	int	 fd;

	path = sv_path(j->id, name);
	fd = open(path, flags | O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd != -1 && geteuid() == 0)
		(void)fchown(fd, j->uid, j->gid);
	free(path);
	return (fd);
}

/*
 * In the child: become the job's run once the service says so on go.
 * Never returns.
 */
static __dead void
sv_exec(const struct sjob *j, int out, int logfd, int go)
{
	struct passwd	*pw;
	sigset_t	 all;
	char		**argv, **envp, *copy, *jd;
	json_t		*s;
	size_t		 i, n;
	ssize_t		 r;
	int		 fd, sig;
	char		 c;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	(void)setsid();
	do
		r = read(go, &c, 1);
	while (r == -1 && errno == EINTR);
	if (r != 1) {
		/* The service is gone, perhaps after the table said this
		 * run began: the next one is told it never did. */
		jd = sv_path(j->id, "unstarted");
		if ((fd = open(jd, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1)
			dprintf(fd, "%ld\n", (long)getpid());
		_exit(EXIT_JOB_FAILED);
	}
	if ((fd = open("/dev/null", O_RDONLY)) != -1 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	dup2(out, 1);
	dup2(logfd, 2);
	for (fd = 3; fd < 1024; fd++)
		(void)close(fd);
	if (getuid() == 0 && j->uid != 0) {
		pw = getpwuid(j->uid);
		if ((pw != NULL ? initgroups(pw->pw_name, j->gid) :
		    setgroups(0, NULL)) != 0 || setgid(j->gid) != 0 ||
		    setuid(j->uid) != 0) {
			fprintf(stderr, "forkflow serve: job %lld: cannot run "
			    "as uid %ld: %s\n", (long long)j->id, (long)j->uid,
			    strerror(errno));
			_exit(EXIT_USAGE);
		}
	}
	if (chdir(j->cwd) != 0) {
		fprintf(stderr, "forkflow serve: job %lld: %s: %s\n",
		    (long long)j->id, j->cwd, strerror(errno));
		_exit(EXIT_USAGE);
	}
	n = json_array_size(j->args);
	argv = xcalloc(n + 16, sizeof *argv);
	copy = sv_path(j->id, "program.json");
	jd = sv_path(j->id, "jd");
	i = 0;
	argv[i++] = sv.self;
	argv[i++] = "run";
	argv[i++] = copy;
	argv[i++] = "--program-dir";
	argv[i++] = j->program_dir;
	argv[i++] = "--program-name";
	argv[i++] = j->program_name;
	argv[i++] = "--job-dir";
	argv[i++] = jd;
	argv[i++] = "--keep";
	argv[i++] = "--progress";
	argv[i++] = "never";
	json_array_foreach(j->args, n, s)
		argv[i++] = (char *)json_string_value(s);
	argv[i] = NULL;
	envp = xcalloc(json_array_size(j->env) + 1, sizeof *envp);
	json_array_foreach(j->env, n, s)
		envp[n] = (char *)json_string_value(s);
	execve(sv.self, argv, envp);
	fprintf(stderr, "forkflow serve: %s: %s\n", sv.self, strerror(errno));
	_exit(127);
}

static void
sv_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct sjob	*j = w->data;

	(void)revents;
	ev_child_stop(loop, w);
	sv_ended(j, 1, w->rstatus);
}

/*
 * Start an attempt of job j: its run, forked.  Returns 0, or -1 when it
 * could not (it waits, queued, for the next try).
 */
static int
sv_start(struct sjob *j)
{
	const char	*changed;
	char		*reason;
	char		 detail[64];
	pid_t		 pid = -1;
	int		 out, logfd, go[2] = { -1, -1 };
	double		 started = j->started;

	if ((changed = sv_input_changed(j)) != NULL) {
		xasprintf(&reason, "%s: changed since the job was submitted",
		    changed);
		j->state = SJ_FAILED;
		(void)sdb_update(sv.db, j, wall_now(), EXIT_USAGE, reason,
		    "failed", reason);
		log_info("job %lld: %s", (long long)j->id, reason);
		free(reason);
		sv_ended(j, -1, 0);
		return (0);
	}
	/*
	 * The run begins only once the table has its pid and start time (it
	 * waits for a byte on go): a service killed at any moment leaves no
	 * run the next one does not know of, and so never starts a second.
	 */
	out = sv_job_file(j, "stdout", O_TRUNC);
	logfd = sv_job_file(j, "log", O_APPEND);
	if (out == -1 || logfd == -1 || pipe2(go, O_CLOEXEC) != 0 ||
	    (pid = fork()) == -1)
		goto fail;
	if (pid == 0) {
		close(go[1]);
		sv_exec(j, out, logfd, go[0]);
	}
	close(go[0]);
	go[0] = -1;
	if (sv.inject == SV_KILL_FORK)
		raise(SIGKILL);
	j->pid = pid;
	j->pid_start = sv_proc_start(pid);
	j->state = SJ_RUNNING;
	j->attempts++;
	if (j->started == 0)
		j->started = wall_now();
	snprintf(detail, sizeof detail, "attempt %d, pid %ld", j->attempts,
	    (long)pid);
	if (sdb_update(sv.db, j, wall_now(), -1, NULL, "started",
	    detail) != 0) {
		/* Not said, not begun: the child ends on go's end. */
		close(go[1]);
		go[1] = -1;
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		j->pid = 0;
		j->attempts--;
		j->started = started;
		goto fail;
	}
	if (sv.inject == SV_KILL_SAID)
		raise(SIGKILL);
	(void)write(go[1], "", 1);
	close(go[1]);
	close(out);
	close(logfd);
	sv.used += j->cores;
	ev_child_init(&j->child, sv_child_cb, pid, 0);
	j->child.data = j;
	ev_child_start(sv.loop, &j->child);
	log_info("job %lld: started (%s)", (long long)j->id, detail);
	return (0);

fail:
	log_warn("job %lld: cannot start its run", (long long)j->id);
	if (out != -1)
		close(out);
	if (logfd != -1)
		close(logfd);
	if (go[0] != -1)
		close(go[0]);
	if (go[1] != -1)
		close(go[1]);
	/* Tried again by the next schedule. */
	j->state = SJ_QUEUED;
	return (-1);
}

static void
sv_unlink_job(struct sjob *j)
{
	struct sjob	**p;

	for (p = &sv.jobs; *p != NULL; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			return;
		}
	}
}

static void
sv_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sjob	*j = w->data;

	(void)loop;
	(void)revents;
	sv.used -= j->cores;
	(void)sv_start(j);
}

/*
 * Stop following a run (it ended): its watchers, and its cores.
 */
static void
sv_forget_run(struct sjob *j)
{
	if (j->pid == 0)
		return;
	ev_child_stop(sv.loop, &j->child);
	if (j->pidfd != -1) {
		ev_io_stop(sv.loop, &j->pidw);
		close(j->pidfd);
		j->pidfd = -1;
	}
	ev_timer_stop(sv.loop, &j->timer);
	sv.used -= j->cores;
	j->pid = 0;
}

/*
 * Did j's run never begin, its service gone before it could say so (the
 * child's mark, see sv_exec)?
 */
static int
sv_never_began(const struct sjob *j)
{
	char	*path, *s;
	size_t	 len;
	int	 yes;

	path = sv_path(j->id, "unstarted");
	s = read_file(path, &len);
	yes = s != NULL && strtol(s, NULL, 10) == (long)j->pid;
	if (s != NULL)
		(void)unlink(path);
	free(s);
	free(path);
	return (yes);
}

/*
 * A job's run ended: with wait status ws when it was our child (own 1),
 * as its job directory says when it was adopted (own 0), or it never ran
 * (own -1: j's state is already final).  Succeeded, failed, canceled, or
 * another attempt after a backoff.
 */
static void
sv_ended(struct sjob *j, int own, int ws)
{
	char		*jd, *tail = NULL, *why = NULL, *reason = NULL;
	char		 detail[96];
	const char	*event;
	int		 code;

	if (own == 0 && sv_never_began(j)) {
		sv_forget_run(j);
		j->state = SJ_QUEUED;
		if (--j->attempts == 0)
			j->started = 0;
		(void)sdb_update(sv.db, j, wall_now(), -1, NULL, "requeued",
		    "its run never began");
		log_info("job %lld: its run never began; queued again",
		    (long long)j->id);
		sv_schedule();
		return;
	}
	sv_forget_run(j);
	code = own == -1 ? EXIT_USAGE : sv_run_end(j->id, &why);
	if (own == 1) {
		code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -WTERMSIG(ws);
		/* Killed, it wrote no end: a "job_end" is an earlier one's. */
		if (code < 0) {
			free(why);
			why = NULL;
		}
	}
	if (own != -1) {
		/* Why it failed: as its run said, else its log's last line
		 * (without the program's name). */
		tail = why != NULL ? why : sv_log_tail(j->id);
		if (tail != NULL && strncmp(tail, "forkflow: ", 10) == 0)
			memmove(tail, tail + 10, strlen(tail + 10) + 1);
		if (code >= 0)
			snprintf(detail, sizeof detail, "attempt %d: exit %d",
			    j->attempts, code);
		else
			snprintf(detail, sizeof detail, "attempt %d: %s",
			    j->attempts, code == -1 ? "its run is gone" :
			    strsignal(-code));
		if (j->canceling) {
			j->state = SJ_CANCELED;
			event = "canceled";
		} else if (code == 0) {
			j->state = SJ_SUCCEEDED;
			event = "succeeded";
		} else if (code == EXIT_USAGE || j->attempts >= SERVE_RETRIES ||
		    (code == EXIT_JOB_FAILED && !sv_run_kept(j->id))) {
			j->state = SJ_FAILED;
			event = "failed";
			xasprintf(&reason, "%s%s", tail != NULL ? tail : detail,
			    j->attempts >= SERVE_RETRIES && code != EXIT_USAGE ?
			    " (no attempt left)" : "");
		} else {
			/* Another attempt resumes from the journal. */
			(void)sdb_update(sv.db, j, wall_now(), -1, NULL,
			    "retry", detail);
			log_info("job %lld: %s; again in %d s", (long long)j->id,
			    detail, 1 << (j->attempts - 1));
			free(tail);
			sv.used += j->cores;
			ev_timer_init(&j->timer, sv_backoff_cb,
			    (double)(1 << (j->attempts - 1)), 0);
			j->timer.data = j;
			ev_timer_start(sv.loop, &j->timer);
			return;
		}
		free(tail);
		(void)sdb_update(sv.db, j, wall_now(), code >= 0 ? code :
		    128 - code, reason, event, detail);
		log_info("job %lld: %s (%s)", (long long)j->id, event, detail);
		free(reason);
		if (j->state == SJ_SUCCEEDED) {
			/* Its result is in place: the job directory goes. */
			jd = sv_path(j->id, "jd");
			(void)rm_tree(jd);
			free(jd);
		}
	}
	sv_unlink_job(j);
	sv_wake(j->id);
	sjob_free(j);
	sv_schedule();
}

/*
 * Start queued jobs, oldest first, while their cores fit; none overtakes
 * an older one.  Starting a job may end it at once (its input changed),
 * which asks for this again: the list is walked afresh after each start.
 */
void
sv_schedule(void)
{
	static int	 busy, again;
	struct sjob	*j;

	if (busy) {
		again = 1;
		return;
	}
	/* Not before the table's runs are known (sv_recover). */
	if (sv.recovering)
		return;
	busy = 1;
	do {
		again = 0;
		for (j = sv.jobs; j != NULL; j = j->next) {
			if (j->state != SJ_QUEUED)
				continue;
			if (sv.used + j->cores > sv.cores && sv.used > 0)
				break;
			if (sv_start(j) == 0)
				again = 1;
			break;
		}
	} while (again);
	busy = 0;
}

/* Every few seconds: a start that failed (fork, a full disk) is tried
 * again. */
void
sv_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	sv_schedule();
}

static void
sv_cancel_kill_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sjob	*j = w->data;

	(void)loop;
	(void)revents;
	if (j->pid > 0) {
		log_info("job %lld: its run outlived SIGTERM: SIGKILL",
		    (long long)j->id);
		(void)kill(-j->pid, SIGKILL);
	}
}

/*
 * The jobs the table has as not ended: queued ones wait their turn; a
 * running one whose run lives is adopted; one whose run is gone ended
 * while no service watched, as its job directory says (it is resumed
 * from its journal when another attempt may mend it).
 */
void
sv_recover(void)
{
	struct sjob	*j;

	sv.recovering = 1;
	if (sdb_load_active(sv.db, &sv.jobs) < 0)
		fatalx("job table: %s", sqlite3_errmsg(sv.db));
	/* The live ones first: their cores are taken. */
	for (j = sv.jobs; j != NULL; j = j->next)
		if (j->state == SJ_RUNNING && sv_run_alive(j))
			sv_adopt(j);
again:
	for (j = sv.jobs; j != NULL; j = j->next) {
		if (j->state != SJ_RUNNING || ev_is_active(&j->pidw) ||
		    ev_is_active(&j->timer))
			continue;
		/* sv_ended gives back the cores of a run it forgets; it may
		 * free j, or others. */
		if (j->pid > 0)
			sv.used += j->cores;
		sv_ended(j, 0, 0);
		goto again;
	}
	sv.recovering = 0;
	sv_schedule();
}


/*
 * Cancel job j for reason: a running one's run gets SIGTERM, and SIGKILL
 * after SERVE_CANCEL_GRACE; it ends when its run is gone.  Any other ends
 * now (and is freed).
 */
void
sv_job_cancel(struct sjob *j, const char *reason)
{
	j->canceling = 1;
	if (j->pid > 0) {
		/* Its run stops its workers and keeps its job directory. */
		(void)kill(-j->pid, SIGTERM);
		ev_timer_stop(sv.loop, &j->timer);
		ev_timer_init(&j->timer, sv_cancel_kill_cb, SERVE_CANCEL_GRACE,
		    0);
		j->timer.data = j;
		ev_timer_start(sv.loop, &j->timer);
		(void)sdb_update(sv.db, j, wall_now(), -1, reason, "cancel",
		    NULL);
		return;
	}
	if (j->state == SJ_RUNNING) {
		/* Between two attempts. */
		ev_timer_stop(sv.loop, &j->timer);
		sv.used -= j->cores;
	}
	j->state = SJ_CANCELED;
	(void)sdb_update(sv.db, j, wall_now(), -1, reason, "canceled", NULL);
	sv_ended(j, -1, 0);
}
