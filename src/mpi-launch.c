/* forkflow: see LICENSE. */
/*
 * forkflow run --hosts and --hostfile: the same command line with --mpi,
 * run through mpirun, one rank per host (mpi.c is what each rank does).
 * mpirun's standard error is relayed, read for the host that was lost,
 * and mpirun is killed when it does not end after a host aborted the job.
 * With a display, rank 0 writes its frames there as records (--progress
 * relay) and they are drawn here, the other lines above them.
 * This needs no Open MPI library: built without it, --hosts says so.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"
#include "launch-int.h"

#define MPI_ABORT_GRACE	15		/* seconds mpirun has to abort */

/* How many hosts --hosts or --hostfile names. */
unsigned int
mpi_count_hosts(const struct run_opts *o)
{
	FILE		*f;
	char		*line = NULL, *p;
	size_t		 size = 0;
	unsigned int	 n = 0;

	if (o->hosts != NULL) {
		for (p = o->hosts, n = 1; *p != '\0'; p++)
			n += *p == ',';
		return (n);
	}
	if ((f = fopen(o->hostfile, "r")) == NULL)
		err(EXIT_USAGE, "%s", o->hostfile);
	while (getline(&line, &size, f) != -1) {
		p = line + strspn(line, " \t");
		if (*p != '#' && *p != '\n' && *p != '\0')
			n++;
	}
	free(line);
	fclose(f);
	if (n == 0)
		errx(EXIT_USAGE, "%s: no host in it", o->hostfile);
	return (n);
}

static volatile sig_atomic_t mpi_launched;	/* mpirun's pid */

/* Pass a stop signal on to mpirun, which stops the ranks. */
static void
mpi_forward(int sig)
{
	if (mpi_launched > 0)
		(void)kill((pid_t)mpi_launched, sig);
}

#define RELAY_LINE_MAX	(1u << 20)	/* a longer line goes as it is */

/*
 * Does a line of mpirun's standard error name a host that was lost:
 * mpirun's words for a rank killed or a daemon lost, or a rank's for a
 * host it stopped hearing?  Returns 1 with what was lost in lost (size
 * bytes), else 0.
 */
int
mpi_lost_in(const char *s, char *lost, size_t size)
{
	const char	*p;
	char		 host[128];
	int		 rank, sig, end;

	if ((p = strstr(s, "process rank ")) != NULL && sscanf(p,
	    "process rank %d with PID %*d on node %127s exited on signal %d",
	    &rank, host, &sig) == 3) {
		(void)snprintf(lost, size, "rank %d on host %s was killed by "
		    "signal %d (%s)", rank, host, sig, strsignal(sig));
		return (1);
	}
	/* "forkflow: host A: stage S: host B (rank R) has not been heard
	 * from for T s": B, not A. */
	for (p = s; (p = strstr(p, "host ")) != NULL; p += 5) {
		end = 0;
		if (sscanf(p, "host %127s (rank %d) has not been heard from%n",
		    host, &rank, &end) == 2 && end > 0) {
			(void)snprintf(lost, size, "host %s (rank %d) was not "
			    "heard from", host, rank);
			return (1);
		}
	}
	if ((p = strstr(s, "Remote daemon:")) != NULL &&
	    (p = strstr(p, " on node ")) != NULL &&
	    sscanf(p, " on node %127s", host) == 1) {
		(void)snprintf(lost, size, "Open MPI lost its daemon on host "
		    "%s (the host or its network is down)", host);
		return (1);
	}
	return (0);
}

/*
 * A whole line: does it say that the job is aborted (ours, or mpirun's own
 * when a rank or a daemon is lost), and which host was lost?
 */
void
mpi_relay_line(struct relay *r, const char *s)
{
	static const char	*marks[] = { "is aborted on every host",
				    "MPI_ABORT was invoked",
				    "has lost communication with a remote daemon",
				    "mpirun noticed that process rank" };
	size_t			 i;

	for (i = 0; r->deadline == 0 && i < sizeof marks / sizeof marks[0];
	    i++)
		if (strstr(s, marks[i]) != NULL)
			r->deadline = mono_now() + MPI_ABORT_GRACE;
	if (r->lost[0] == '\0')
		(void)mpi_lost_in(s, r->lost, sizeof r->lost);
}

/*
 * With a display, bytes of mpirun's standard error are shown a line at a
 * time: rank 0's frame records drawn, other lines put above the frame.
 * With all, what is held is shown too, whole or not.
 */
static void
mpi_relay_show(struct relay *r, const char *buf, size_t n, int all)
{
	char	*nl;
	size_t	 len, off = 0;

	if (n == 0 && r->nheld == 0)
		return;
	if (r->nheld + n > r->aheld) {
		r->aheld = r->nheld + n > 2 * r->aheld ? r->nheld + n :
		    2 * r->aheld;
		r->held = xreallocarray(r->held, r->aheld, 1);
	}
	if (n > 0)
		memcpy(r->held + r->nheld, buf, n);
	r->nheld += n;
	while ((nl = memchr(r->held + off, '\n', r->nheld - off)) != NULL) {
		len = (size_t)(nl - (r->held + off));
		if (!display_frame(r->display, r->held + off, len))
			display_print(r->display, r->held + off, len + 1);
		off += len + 1;
	}
	if (r->nheld - off > 0 && (all || r->nheld - off > RELAY_LINE_MAX)) {
		display_print(r->display, r->held + off, r->nheld - off);
		off = r->nheld;
	}
	memmove(r->held, r->held + off, r->nheld - off);
	r->nheld -= off;
}

/*
 * Write n bytes on fd, as write_all() does, but give up when r->stop says
 * so after a signal cut a write short (a reader that stopped reading
 * holds no one up who asked to stop).  Returns 0, or -1 with errno set
 * (EINTR: given up).
 */
static int
mpi_relay_write(struct relay *r, int fd, const char *buf, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, buf, n)) >= 0) {
			buf += w;
			n -= (size_t)w;
			continue;
		}
		if (errno != EINTR)
			return (-1);
		if (r->stop != NULL && r->stop(r->stoparg)) {
			errno = EINTR;
			return (-1);
		}
	}
	return (0);
}

/* Bytes that mpirun wrote: shown, and their lines, whole, read. */
static void
mpi_relay_scan(struct relay *r, const char *buf, size_t n)
{
	size_t	i;

	if (r->display != NULL)
		mpi_relay_show(r, buf, n, 0);
	else if (!r->errgone && mpi_relay_write(r, r->err, buf, n) != 0)
		r->errgone = 1;
	for (i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (r->len + 1 < sizeof r->line)
				r->line[r->len++] = buf[i];
			continue;
		}
		r->line[r->len] = '\0';
		mpi_relay_line(r, r->line);
		r->len = 0;
	}
}

/*
 * n bytes that mpirun wrote on its standard error (fd 0) or output (1):
 * the first relayed, the second the result, which takes the display down.
 */
int
mpi_relay_take(struct relay *r, int fd, const char *buf, size_t n)
{
	if (fd == 0) {
		mpi_relay_scan(r, buf, n);
		return (0);
	}
	display_freeze(r->display);
	if (r->outgone) {
		r->cut |= r->outstop && n > 0;
		return (0);
	}
	if (mpi_relay_write(r, r->out, buf, n) != 0) {
		/* A reader that stopped (| head) takes no more; a full disk
		 * fails the job; one given up on was asked to stop. */
		r->outgone = 1;
		if (errno == EINTR)
			r->outstop = r->cut = 1;
		else if (errno != EPIPE)
			r->outerr = errno;
		return (-1);
	}
	return (0);
}

/* mpirun is done: what it said last, read, and the display cleared. */
void
mpi_relay_end(struct relay *r)
{
	if (r->len > 0) {
		/* A last line with no newline. */
		r->line[r->len] = '\0';
		mpi_relay_line(r, r->line);
		r->len = 0;
	}
	if (r->display != NULL) {
		mpi_relay_show(r, NULL, 0, 1);
		display_clear(r->display);
	}
	free(r->held);
	r->held = NULL;
	r->nheld = r->aheld = 0;
}

/*
 * Copy mpirun's standard error (fds[0]) to ours until it exits, and its
 * standard output (fds[1], or -1 when it writes to ours itself); returns
 * its wait status, and in lost what it said of a host that was lost (or
 * "").  Once a rank has said that it aborts the job, or mpirun that a
 * rank or a daemon is lost, mpirun has MPI_ABORT_GRACE seconds to be
 * done: it waits for the daemon of a host that cannot be reached without
 * end, so it is killed then.
 */
static int
mpi_relay(pid_t pid, const int *fds, struct display *display,
    struct result_in *ri, char *lost, size_t lostsz, int *outerr)
{
	struct relay		 r;
	struct sigaction	 sa;
	struct pollfd		 pfd[3];
	char			 buf[8192];
	ssize_t			 n;
	int			 ws, killed = 0, i;
	nfds_t			 nfd = 2;

	memset(&r, 0, sizeof r);
	r.display = display;
	r.out = STDOUT_FILENO;
	r.err = STDERR_FILENO;
	mpi_launched = pid;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = mpi_forward;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	/* Control-C reaches mpirun from the terminal: it stops the ranks,
	 * and this says how the job ended. */
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGINT, &sa, NULL);
	for (i = 0; i < (int)nfd; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	pfd[2].events = POLLIN;
	for (;;) {
		if (waitpid(pid, &ws, WNOHANG) == pid)
			break;
		if (r.deadline > 0 && mono_now() > r.deadline + 5 * killed) {
			if (display != NULL)
				display_clear(display);
			warnx("%s has not ended %d s after a host aborted the "
			    "job: killing it", MPIRUN, MPI_ABORT_GRACE +
			    5 * killed);
			(void)kill(pid, killed ? SIGKILL : SIGTERM);
			killed++;
		}
		pfd[2].fd = result_fd(ri);
		if (pfd[0].fd == -1 && pfd[1].fd == -1 && pfd[2].fd == -1) {
			usleep(100000);
			continue;
		}
		if (poll(pfd, 3, 100) <= 0)
			continue;
		if (pfd[2].fd != -1 && pfd[2].revents != 0)
			result_read(ri, &r);
		for (i = 0; i < (int)nfd; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			if ((n = read(pfd[i].fd, buf, sizeof buf)) <= 0) {
				if (n == 0 || errno != EINTR)
					pfd[i].fd = -1;
				continue;
			}
			(void)mpi_relay_take(&r, i, buf, (size_t)n);
		}
	}
	/* What it wrote last, without waiting for those it left. */
	for (i = (int)nfd - 1; i >= 0; i--) {
		while (pfd[i].fd != -1 && poll(&pfd[i], 1, 0) > 0 &&
		    (n = read(pfd[i].fd, buf, sizeof buf)) > 0)
			(void)mpi_relay_take(&r, i, buf, (size_t)n);
	}
	/* And the result, whose end rank 0 sent before it ended. */
	result_drain(ri, &r, MPI_ABORT_GRACE);
	mpi_relay_end(&r);
	*outerr = r.outerr;
	(void)snprintf(lost, lostsz, "%s", r.lost);
	mpi_launched = 0;
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	return (ws);
}

/*
 * Will the launcher draw the display?  Then rank 0 is told to send its
 * frames (--progress relay), drawn at this terminal's size.
 */
int
mpi_display(const struct run_opts *o)
{
	struct winsize	ws;
	char		n[16];

	if (!run_draws(o))
		return (0);
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 &&
	    ws.ws_row > 0) {
		(void)snprintf(n, sizeof n, "%u", ws.ws_col);
		(void)setenv("COLUMNS", n, 1);
		(void)snprintf(n, sizeof n, "%u", ws.ws_row);
		(void)setenv("LINES", n, 1);
	} else {
		(void)setenv("COLUMNS", "80", 0);
		(void)setenv("LINES", "24", 0);
	}
	return (1);
}

/*
 * The start of mpirun's command line, for one rank on each host that
 * --hosts or --hostfile names (FORKFLOW_MPIRUN's mpirun, or the one built
 * with), with room for more strings after its *k: a NULL-ended array to
 * free, and in *n the string of the number of ranks, to free too.
 */
char **
mpi_argv(const struct run_opts *o, size_t more, size_t *k, char **n)
{
	char		**argv;
	const char	 *mpirun;

	if ((mpirun = getenv("FORKFLOW_MPIRUN")) == NULL || *mpirun == '\0')
		mpirun = MPIRUN;
	xasprintf(n, "%u", mpi_count_hosts(o));
	argv = xcalloc(more + 10, sizeof *argv);
	*k = 0;
	argv[(*k)++] = (char *)mpirun;
	argv[(*k)++] = o->hosts != NULL ? "--host" : "--hostfile";
	argv[(*k)++] = o->hosts != NULL ? o->hosts : o->hostfile;
	argv[(*k)++] = "-np";
	argv[(*k)++] = *n;
	argv[(*k)++] = "--map-by";
	argv[(*k)++] = "node";
	argv[(*k)++] = "--bind-to";
	argv[(*k)++] = "none";
	return (argv);
}

/* On several hosts, what (an option) takes no standard input as input. */
void
mpi_files_only(const struct run_opts *o, const char *what)
{
	size_t	i;

	for (i = 0; i < o->ninputs; i++)
		if (strcmp(o->inputs[i], "-") == 0)
			errx(EXIT_USAGE, "%s: the input must be files every "
			    "host reads, not standard input", what);
}

/* A lost host is noticed by Open MPI's daemons too, after timeout s. */
void
mpi_keepalive(double timeout)
{
	char	*ka;

	xasprintf(&ka, "%.0f", timeout);
	(void)setenv("OMPI_MCA_oob_tcp_keepalive_time", ka, 0);
	(void)setenv("OMPI_MCA_oob_tcp_keepalive_intvl", "2", 0);
	(void)setenv("OMPI_MCA_oob_tcp_keepalive_probes", "3", 0);
	free(ka);
}

/*
 * What each rank runs, after forkflow itself: the subcommand and o's
 * arguments but those that choose hosts or a pool, with --progress relay
 * when draw, and --mpi.  Returns a NULL-ended array to free; its strings
 * are o's, or static.
 */
char **
mpi_rank_args(const struct run_opts *o, int draw)
{
	char	**args;
	size_t	  i, k = 0;
	int	  where;

	args = xcalloc((size_t)o->argc + 4, sizeof *args);
	args[k++] = o->streaming == 2 ? "mapreduce" : o->streaming ?
	    "streaming" : "run";
	for (i = 1; i < (size_t)o->argc; i++) {
		/* As getopt_long took them: no "--" ends run's options. */
		if ((where = run_opts_where(o->argv[i])) == 0)
			args[k++] = o->argv[i];
		else if (where == 2)
			i++;		/* and its value */
	}
	if (draw) {
		args[k++] = "--progress";
		args[k++] = "relay";
	}
	args[k++] = "--mpi";
	args[k] = NULL;
	return (args);
}

/*
 * Say on fd that the job failed on its hosts, where mpirun (exit status
 * st) said which host was lost (lost, or ""), and how to resume it (hint,
 * or NULL without a job directory).  Returns the job's exit status.
 */
int
mpi_failed(int fd, int st, const char *lost, const char *mpirun,
    const char *jobdir, const char *hint)
{
	char	*why;

	/* The host that was lost, where mpirun named it. */
	if (*lost != '\0')
		xasprintf(&why, ": %s; %s: exit %d", lost, mpirun, st);
	else
		xasprintf(&why, " (%s: exit %d)", mpirun, st);
	if (jobdir != NULL && hint != NULL)
		dprintf(fd, "forkflow: the job failed on its hosts%s; its job "
		    "directories are kept in %s on each host; to resume, run "
		    "%s\n", why, jobdir, hint);
	else
		dprintf(fd, "forkflow: the job failed on its hosts%s; with "
		    "--job-dir it could be resumed\n", why);
	free(why);
	return (st == EXIT_USAGE ? st : EXIT_JOB_FAILED);
}

/*
 * forkflow run --hosts/--hostfile: run the same command line with --mpi
 * through mpirun, one rank per host, and say how to resume when it fails.
 * Returns the job's exit status.
 */
int
mpi_launch(const struct run_opts *o)
{
	static const char *const envs[] = { "COLUMNS", "LINES", "TERM",
			    "NO_COLOR" };
	struct display	*display = NULL;
	struct result_in ri;
	char		**argv, **args, *self, *n, *hint, lost[256];
	const char	*mpirun;
	size_t		 i, k;
	pid_t		 pid;
	int		 ws, st, draw, errp[2], outp[2] = { -1, -1 }, fds[2];
	int		 outerr;

#ifndef HAVE_MPI
	errx(EXIT_USAGE, "--hosts: this forkflow was built without Open MPI "
	    "(configure --with-mpi)");
#endif
	if (o->hosts != NULL && o->hostfile != NULL)
		errx(EXIT_USAGE, "--hosts or --hostfile, not both");
	if (o->mpi)
		errx(EXIT_USAGE, "--mpi is what --hosts starts: not both");
	if (o->progress == PROGRESS_RELAY)
		errx(EXIT_USAGE, "--progress relay is what --hosts gives its "
		    "ranks: not both");
	mpi_files_only(o, "--hosts");
	if ((self = realpath("/proc/self/exe", NULL)) == NULL)
		err(EXIT_JOB_FAILED, "/proc/self/exe");
	draw = mpi_display(o);
	argv = mpi_argv(o, (size_t)o->argc + 20, &k, &n);
	mpirun = argv[0];
	if (draw) {
		/* What rank 0 draws with, wherever it runs. */
		for (i = 0; i < sizeof envs / sizeof envs[0]; i++) {
			if (getenv(envs[i]) != NULL) {
				argv[k++] = "-x";
				argv[k++] = (char *)envs[i];
			}
		}
	}
	if (result_listen(&ri) == 0) {
		/* Rank 0 sends the result straight here. */
		(void)putenv(ri.env);
		argv[k++] = "-x";
		argv[k++] = "FORKFLOW_RESULT";
	}
	argv[k++] = self;
	args = mpi_rank_args(o, draw);
	for (i = 0; args[i] != NULL; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	mpi_keepalive(o->shuffle_timeout);
	fflush(stdout);
	fflush(stderr);
	/* The result on the display's terminal waits for it to be cleared:
	 * mpirun's standard output comes through here too. */
	if (pipe2(errp, O_CLOEXEC) != 0 || (draw && isatty(STDOUT_FILENO) &&
	    pipe2(outp, O_CLOEXEC) != 0) || (pid = fork()) == -1)
		err(EXIT_JOB_FAILED, "fork");
	if (pid == 0) {
		(void)dup2(errp[1], STDERR_FILENO);
		if (outp[1] != -1)
			(void)dup2(outp[1], STDOUT_FILENO);
		execvp(mpirun, argv);
		warn("%s", mpirun);
		_exit(127);
	}
	close(errp[1]);
	if (outp[1] != -1)
		close(outp[1]);
	if (draw)
		display = display_start(1, STDERR_FILENO, 0);
	fds[0] = errp[0];
	fds[1] = outp[0];
	ws = mpi_relay(pid, fds, display, &ri, lost, sizeof lost, &outerr);
	if (ri.env != NULL)
		(void)unsetenv("FORKFLOW_RESULT");
	result_close(&ri);
	display_stop(display);
	close(errp[0]);
	if (outp[0] != -1)
		close(outp[0]);
	st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (st == 0 && outerr != 0) {
		warnx("writing the output: %s", strerror(outerr));
		st = EXIT_JOB_FAILED;
	} else if (st != 0) {
		hint = o->jobdir != NULL ? run_resume_hint(o, o->jobdir) : NULL;
		st = mpi_failed(STDERR_FILENO, st, lost, mpirun, o->jobdir,
		    hint);
		free(hint);
	}
	free(n);
	free(self);
	free(args);
	free(argv);
	return (st);
}
