/* forkflow: see LICENSE. */
/*
 * forkflow run --hosts and --hostfile: the same command line with --mpi,
 * run through mpirun, one rank per host (mpi.c is what each rank does).
 * mpirun's standard error is relayed, read for the host that was lost,
 * and mpirun is killed when it does not end after a host aborted the job.
 * This needs no Open MPI library: built without it, --hosts says so.
 */

#include <sys/types.h>
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

#define MPI_ABORT_GRACE	15		/* seconds mpirun has to abort */

/* How many hosts --hosts or --hostfile names. */
static unsigned int
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

/* What mpi_relay() learns from mpirun's standard error, a line at a time. */
struct relay {
	char	line[2048];	/* the line so far (its start, if longer) */
	size_t	len;
	double	deadline;	/* when mpirun must be done, or 0 */
	char	lost[256];	/* which host was lost, as mpirun said */
};

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
static void
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

/* Bytes that mpirun wrote: their lines, whole. */
static void
mpi_relay_scan(struct relay *r, const char *buf, size_t n)
{
	size_t	i;

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
 * Copy mpirun's standard error (fd) to ours until it exits; returns its
 * wait status, and in lost what it said of a host that was lost (or "").
 * Once a rank has said that it aborts the job, or mpirun that a rank or a
 * daemon is lost, mpirun has MPI_ABORT_GRACE seconds to be done: it waits
 * for the daemon of a host that cannot be reached without end, so it is
 * killed then.
 */
static int
mpi_relay(pid_t pid, int fd, char *lost, size_t lostsz)
{
	struct relay		 r;
	struct sigaction	 sa;
	struct pollfd		 pfd;
	char			 buf[8192];
	ssize_t			 n;
	int			 ws, killed = 0, open = 1;

	memset(&r, 0, sizeof r);
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
	for (;;) {
		if (waitpid(pid, &ws, WNOHANG) == pid)
			break;
		if (r.deadline > 0 && mono_now() > r.deadline + 5 * killed) {
			warnx("%s has not ended %d s after a host aborted the "
			    "job: killing it", MPIRUN, MPI_ABORT_GRACE +
			    5 * killed);
			(void)kill(pid, killed ? SIGKILL : SIGTERM);
			killed++;
		}
		if (!open) {
			usleep(100000);
			continue;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((n = read(fd, buf, sizeof buf)) <= 0) {
			if (n == 0 || errno != EINTR)
				open = 0;
			continue;
		}
		(void)write_all(STDERR_FILENO, buf, (size_t)n);
		mpi_relay_scan(&r, buf, (size_t)n);
	}
	/* What it wrote last, without waiting for those it left. */
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (open && poll(&pfd, 1, 0) > 0 && (n = read(fd, buf,
	    sizeof buf)) > 0) {
		(void)write_all(STDERR_FILENO, buf, (size_t)n);
		mpi_relay_scan(&r, buf, (size_t)n);
	}
	if (r.len > 0) {
		/* A last line with no newline. */
		r.line[r.len] = '\0';
		mpi_relay_line(&r, r.line);
	}
	(void)snprintf(lost, lostsz, "%s", r.lost);
	mpi_launched = 0;
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	return (ws);
}

/*
 * forkflow run --hosts/--hostfile: run the same command line with --mpi
 * through mpirun, one rank per host, and say how to resume when it fails.
 * Returns the job's exit status.
 */
int
mpi_launch(const struct run_opts *o)
{
	char		**argv, *self, *n, *hint, *ka, *why, lost[256];
	const char	*mpirun;
	unsigned int	 nhosts;
	size_t		 i, k;
	pid_t		 pid;
	int		 ws, st, errp[2];

#ifndef HAVE_MPI
	errx(EXIT_USAGE, "--hosts: this forkflow was built without Open MPI "
	    "(configure --with-mpi)");
#endif
	if (o->hosts != NULL && o->hostfile != NULL)
		errx(EXIT_USAGE, "--hosts or --hostfile, not both");
	if (o->mpi)
		errx(EXIT_USAGE, "--mpi is what --hosts starts: not both");
	for (i = 0; i < o->ninputs; i++)
		if (strcmp(o->inputs[i], "-") == 0)
			errx(EXIT_USAGE, "--hosts: the input must be files "
			    "every host reads, not standard input");
	nhosts = mpi_count_hosts(o);
	if ((self = realpath("/proc/self/exe", NULL)) == NULL)
		err(EXIT_JOB_FAILED, "/proc/self/exe");
	if ((mpirun = getenv("FORKFLOW_MPIRUN")) == NULL || *mpirun == '\0')
		mpirun = MPIRUN;
	argv = xcalloc((size_t)o->argc + 16, sizeof *argv);
	k = 0;
	argv[k++] = (char *)mpirun;
	argv[k++] = o->hosts != NULL ? "--host" : "--hostfile";
	argv[k++] = o->hosts != NULL ? o->hosts : o->hostfile;
	argv[k++] = "-np";
	xasprintf(&n, "%u", nhosts);
	argv[k++] = n;
	argv[k++] = "--map-by";
	argv[k++] = "node";
	argv[k++] = "--bind-to";
	argv[k++] = "none";
	argv[k++] = self;
	argv[k++] = o->streaming == 2 ? "mapreduce" : o->streaming ?
	    "streaming" : "run";
	for (i = 1; i < (size_t)o->argc; i++) {
		const char *a = o->argv[i];

		if (strcmp(a, "--hosts") == 0 || strcmp(a, "--hostfile") == 0) {
			i++;
			continue;
		}
		if (strncmp(a, "--hosts=", 8) == 0 ||
		    strncmp(a, "--hostfile=", 11) == 0)
			continue;
		argv[k++] = o->argv[i];
	}
	argv[k++] = "--mpi";
	argv[k] = NULL;
	/* A lost host is noticed by Open MPI's daemons too. */
	xasprintf(&ka, "%.0f", o->shuffle_timeout);
	(void)setenv("OMPI_MCA_oob_tcp_keepalive_time", ka, 0);
	(void)setenv("OMPI_MCA_oob_tcp_keepalive_intvl", "2", 0);
	(void)setenv("OMPI_MCA_oob_tcp_keepalive_probes", "3", 0);
	free(ka);
	fflush(stdout);
	fflush(stderr);
	if (pipe2(errp, O_CLOEXEC) != 0 || (pid = fork()) == -1)
		err(EXIT_JOB_FAILED, "fork");
	if (pid == 0) {
		(void)dup2(errp[1], STDERR_FILENO);
		execvp(mpirun, argv);
		warn("%s", mpirun);
		_exit(127);
	}
	close(errp[1]);
	ws = mpi_relay(pid, errp[0], lost, sizeof lost);
	close(errp[0]);
	st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (st != 0) {
		/* The host that was lost, where mpirun named it. */
		if (*lost != '\0')
			xasprintf(&why, ": %s; %s: exit %d", lost, mpirun, st);
		else
			xasprintf(&why, " (%s: exit %d)", mpirun, st);
		if (o->jobdir != NULL) {
			hint = run_resume_hint(o, o->jobdir);
			warnx("the job failed on its hosts%s; its job "
			    "directories are kept in %s on each host; to "
			    "resume, run %s", why, o->jobdir, hint);
			free(hint);
		} else
			warnx("the job failed on its hosts%s; with --job-dir "
			    "it could be resumed", why);
		free(why);
		if (st != EXIT_USAGE)
			st = EXIT_JOB_FAILED;
	}
	free(n);
	free(self);
	free(argv);
	return (st);
}
