/* forkflow: see LICENSE. */
/*
 * forkflow pool: one rank on each host, started once through mpirun and
 * given jobs one after the other, so that a job run with --pool does not
 * wait for mpirun, Open MPI's daemons and MPI_Init (half a second on two
 * hosts).
 *
 * The pool listens on a unix socket.  forkflow run --pool sends it the
 * ranks' command line (what --hosts would give mpirun), its directory and
 * environment, with its standard output and error; the pool writes the
 * line on mpirun's standard input, which mpirun gives rank 0, and rank 0
 * gives every rank (mpi_pool_bcast()).  Each rank runs the job in its own
 * process, as a rank of --hosts does, on communicators of the job's own.
 * What the ranks write comes back through mpirun and is relayed to the
 * job's standard output and error as by --hosts; a record from each rank
 * ends the job, with rank 0's status and the bytes of results it wrote,
 * which are relayed before the status is.
 *
 * A job that fails on a host ends the ranks, as it ends mpirun's under
 * --hosts: the pool says so, as --hosts does, and starts them again.  So
 * does a job whose forkflow run is interrupted.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"
#include "launch-int.h"
#include "serve-int.h"

extern char	**environ;

#define POOL_RECORD	"\036forkflow-pool "	/* a rank's word to the pool */
#define POOL_REQ_MAX	(16u << 20)	/* bytes of a request */
#define POOL_LINE_MAX	(1u << 20)	/* a longer line goes as it is */
#define POOL_STARTS	3		/* failed starts in a row: give up */
#define POOL_STOP_WAIT	10		/* seconds the ranks have to end */

const char cmd_pool_synopsis[] =
"forkflow pool socket --hosts host,... | --hostfile file\n"
"                     [--shuffle-timeout seconds]";

static const char cmd_pool_help[] =
"\n"
"Start one rank on each host through mpirun, and keep them: listen on the\n"
"unix socket SOCKET and run there, one after the other, the jobs of\n"
"forkflow run --pool SOCKET.  Runs until SIGINT, SIGTERM or SIGHUP, which\n"
"stop the job that runs as Control-C does.\n"
"\n"
"      --hosts H1,H2... the hosts, as forkflow run --hosts takes them\n"
"      --hostfile FILE  the hosts of mpirun's hostfile FILE\n"
"      --shuffle-timeout SECONDS\n"
"                       how long Open MPI's daemons wait for a host that is\n"
"                       silent (60); each job has its own\n"
"\n"
"See forkflow(1), \"Several machines\".\n";

/* --- The ranks -------------------------------------------------------------- */

/* Free a NULL-ended array of strings. */
static void
strv_free(char **v)
{
	size_t	i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* A request's array of strings, NULL-ended, or NULL if it is no such. */
static char **
pool_strings(json_t *a, size_t *n)
{
	char	**v;
	size_t	  i;

	if (!json_is_array(a))
		return (NULL);
	v = xcalloc(json_array_size(a) + 1, sizeof *v);
	for (i = 0; i < json_array_size(a); i++) {
		if (!json_is_string(json_array_get(a, i))) {
			strv_free(v);
			return (NULL);
		}
		v[i] = xstrdup(json_string_value(json_array_get(a, i)));
	}
	*n = i;
	return (v);
}

/*
 * Run the job of a request on this rank: its command line, in its folder
 * and environment.  Returns its exit status.  What this rank cannot do
 * the others can exits, as a rank of --hosts does: mpirun then ends them.
 */
static int
pool_rank_job(const char *req, size_t len)
{
	json_error_t	  e;
	json_t		 *j;
	char		**av, **env, **saved;
	size_t		  ac, nenv;
	mode_t		  mask;
	int		  here, status;

	if ((j = json_loadb(req, len, 0, &e)) == NULL)
		errx(EXIT_JOB_FAILED, "pool: a request that is no JSON: %s",
		    e.text);
	av = pool_strings(json_object_get(j, "argv"), &ac);
	env = pool_strings(json_object_get(j, "env"), &nenv);
	if (av == NULL || ac == 0 || env == NULL ||
	    !json_is_string(json_object_get(j, "cwd")))
		errx(EXIT_JOB_FAILED, "pool: a request without argv, cwd and "
		    "env");
	if ((here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		err(EXIT_JOB_FAILED, "pool: .");
	if (chdir(json_string_value(json_object_get(j, "cwd"))) != 0)
		err(EXIT_JOB_FAILED, "%s", json_string_value(
		    json_object_get(j, "cwd")));
	run_pool_job(json_string_value(json_object_get(j, "hint")));
	mask = umask((mode_t)json_integer_value(json_object_get(j, "umask")) &
	    0777);
	saved = environ;
	environ = env;
	if (strcmp(av[0], "run") == 0)
		status = cmd_run((int)ac, av);
	else if (strcmp(av[0], "streaming") == 0)
		status = cmd_streaming((int)ac, av);
	else if (strcmp(av[0], "mapreduce") == 0)
		status = cmd_mapreduce((int)ac, av);
	else
		errx(EXIT_USAGE, "pool: %s: not a job's command", av[0]);
	environ = saved;
	(void)umask(mask);
	log_close_file();
	run_pool_job(NULL);
	json_decref(j);
	if (fchdir(here) != 0)
		err(EXIT_JOB_FAILED, "pool: back to its folder");
	close(here);
	strv_free(av);
	strv_free(env);
	return (status);
}

/* The pool stops a job: mpirun passes SIGUSR1 on to every rank. */
static void
pool_usr1(int sig)
{
	(void)sig;
	(void)kill(getpid(), SIGINT);
}

/* SIGINT between jobs, which a job's start forgets. */
static void
pool_int(int sig)
{
	(void)sig;
}

/*
 * forkflow pool --rank, what mpirun starts on each host: start MPI, then
 * run the jobs rank 0 reads on its standard input until it ends.
 */
int
pool_rank(void)
{
	struct sigaction	 sa;
	FILE			*in = NULL;
	char			*line = NULL, *req, *cause;
	size_t			 cap = 0, len;
	ssize_t			 n;
	uint64_t		 out, streamed;
	int			 rank, size, status, fd;

	n = 0;

	/* A stopped job ends as one interrupted by Control-C does; between
	 * jobs, the signal is for none. */
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = pool_usr1;
	(void)sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = pool_int;
	(void)sigaction(SIGINT, &sa, NULL);
	if (mpi_pool_init(&rank, &size, &cause) != 0)
		errx(EXIT_JOB_FAILED, "%s", cause);
	if (rank == 0) {
		/* The requests come on a descriptor of their own: no job
		 * reads them as its standard input. */
		if ((fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)) == -1 ||
		    (in = fdopen(fd, "r")) == NULL)
			err(EXIT_JOB_FAILED, "pool: standard input");
		if ((fd = open("/dev/null", O_RDONLY)) != -1 &&
		    fd != STDIN_FILENO) {
			(void)dup2(fd, STDIN_FILENO);
			close(fd);
		}
		fprintf(stderr, POOL_RECORD "ready %d\n", size);
		fflush(stderr);
	}
	for (;;) {
		req = NULL;
		len = 0;
		while (rank == 0 && (n = getline(&line, &cap, in)) == -1 &&
		    ferror(in) && errno == EINTR)
			clearerr(in);
		if (rank == 0 && n > 0) {
			len = (size_t)n - (line[n - 1] == '\n');
			line[len] = '\0';
			req = line;
		}
		if (mpi_pool_bcast(&req, &len) != 0)
			errx(EXIT_JOB_FAILED, "pool: MPI_Bcast failed");
		if (req == NULL)
			break;
		status = pool_rank_job(req, len);
		/* The job caught SIGINT as run does. */
		(void)sigaction(SIGINT, &sa, NULL);
		fflush(stdout);
		out = run_stdout_take(&streamed);
		fprintf(stderr, POOL_RECORD "end %d %d %llu %llu\n", rank,
		    status, (unsigned long long)out,
		    (unsigned long long)streamed);
		fflush(stderr);
		if (rank != 0)
			free(req);
	}
	free(line);
	if (in != NULL)
		fclose(in);
	mpi_pool_end();
	return (0);
}

/* --- The pool --------------------------------------------------------------- */

struct pool {
	char		 *sock;
	char		**argv;		/* mpirun's */
	int		  lfd;
	unsigned int	  nhosts;
	pid_t		  pid;		/* mpirun, or -1 */
	int		  in;		/* its standard input, ours to write */
	int		  out;		/* its standard output */
	int		  err;		/* and error */
	int		  ready;	/* rank 0 said it is */
	int		  starts;	/* failed starts in a row */
	double		  stopping;	/* when asked to stop, or 0 */
	char		 *eline;	/* mpirun's standard error: the line */
	size_t		  neline;
	size_t		  aeline;

	/* The job, while cfd is not -1. */
	int		  cfd;		/* the client */
	int		  cout;		/* its standard output */
	int		  cerr;		/* and error */
	struct relay	  r;
	double		  cancelled;	/* when its client went or asked, or 0 */
	unsigned int	  ended;	/* ranks that said it ended */
	int		  status;	/* rank 0's status */
	uint64_t	  want;		/* bytes rank 0 wrote on its output */
	uint64_t	  got;		/* and those that came */
	uint64_t	  streamed;	/* bytes rank 0 sent to ri */
	struct result_in  ri;		/* the result's own way */
	char		 *jobdir;	/* its --job-dir, or NULL */
	char		 *hint;		/* the command that resumes it */
};

static volatile sig_atomic_t pool_signal;

static void	pool_cancel(struct pool *);

static void
pool_signal_cb(int sig)
{
	pool_signal = sig;
}

/*
 * While a job runs, SIGALRM cuts a write to its client's output short
 * four times a second, so that one that does not read (a pipe to a
 * program that stopped, a paused terminal) does not keep the pool from
 * hearing that it is asked to stop.
 */
static void
pool_alarm_cb(int sig)
{
	(void)sig;
}

static void
pool_alarm(int on)
{
	struct itimerval	it;

	memset(&it, 0, sizeof it);
	if (on) {
		it.it_interval.tv_usec = 250000;
		it.it_value.tv_usec = 250000;
	}
	(void)setitimer(ITIMER_REAL, &it, NULL);
}

/* Start the ranks. */
static void
pool_start(struct pool *p)
{
	int	inp[2], outp[2], errp[2];

	if (pipe2(inp, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0 ||
	    pipe2(errp, O_CLOEXEC) != 0)
		err(EXIT_JOB_FAILED, "pipe");
	fflush(stdout);
	fflush(stderr);
	if ((p->pid = fork()) == -1)
		err(EXIT_JOB_FAILED, "fork");
	if (p->pid == 0) {
		/* Control-C in the pool's terminal is the pool's: it stops
		 * the job, and the ranks then. */
		(void)setpgid(0, 0);
		(void)dup2(inp[0], STDIN_FILENO);
		(void)dup2(outp[1], STDOUT_FILENO);
		(void)dup2(errp[1], STDERR_FILENO);
		execvp(p->argv[0], p->argv);
		warn("%s", p->argv[0]);
		_exit(127);
	}
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	p->in = inp[1];
	p->out = outp[0];
	p->err = errp[0];
	p->ready = 0;
	p->neline = 0;
}

/* Tell the job's client that it was stopped, and how to resume it. */
static void
pool_say_stopped(struct pool *p, const char *what)
{
	if (p->hint != NULL)
		dprintf(p->cerr, "forkflow: %s; to resume, run %s\n", what,
		    p->hint);
	else
		dprintf(p->cerr, "forkflow: %s\n", what);
}

/* The job is done: the client hears status, and is let go. */
static void
pool_job_end(struct pool *p, int status)
{
	char	buf[32];

	mpi_relay_end(&p->r);
	display_stop(p->r.display);
	p->r.display = NULL;
	pool_alarm(0);
	result_close(&p->ri);
	if (status == 0 && p->r.outerr != 0) {
		dprintf(p->cerr, "forkflow: writing the output: %s\n",
		    strerror(p->r.outerr));
		status = EXIT_JOB_FAILED;
	} else if (status == 0 && p->r.cut) {
		/* As forkflow run stopped while it writes the output. */
		pool_say_stopped(p, "interrupted while writing the output");
		status = EXIT_JOB_FAILED;
	}
	(void)snprintf(buf, sizeof buf, "status %d\n", status);
	(void)write_all(p->cfd, buf, strlen(buf));
	close(p->cfd);
	close(p->cout);
	close(p->cerr);
	p->cfd = p->cout = p->cerr = -1;
	free(p->jobdir);
	free(p->hint);
	p->jobdir = p->hint = NULL;
	if (p->stopping > 0 && p->in != -1) {
		/* The ranks end when rank 0 reads no more. */
		close(p->in);
		p->in = -1;
	}
}

/* Has every rank said that the job ended, and are its results all here? */
static void
pool_job_check(struct pool *p)
{
	if (p->cfd != -1 && p->ended == p->nhosts && p->got >= p->want &&
	    p->ri.bytes >= p->streamed)
		pool_job_end(p, p->status);
}

/* A rank's record (after POOL_RECORD). */
static void
pool_record(struct pool *p, const char *s)
{
	unsigned long long	 want, streamed;
	int			 rank, status, n;

	if (sscanf(s, "ready %d", &n) == 1) {
		p->ready = 1;
		p->starts = 0;
		log_info("ready on %s, %d hosts", p->sock, n);
	} else if (sscanf(s, "end %d %d %llu %llu", &rank, &status, &want,
	    &streamed) == 4 && p->cfd != -1) {
		p->ended++;
		if (rank == 0) {
			p->status = status;
			p->want = want;
			p->streamed = streamed;
		}
		pool_job_check(p);
	}
}

/* A whole line of mpirun's standard error (len bytes, and its newline). */
static void
pool_err_line(struct pool *p, char *s, size_t len)
{
	char	*rec;

	s[len] = '\0';
	if ((rec = memmem(s, len, POOL_RECORD, strlen(POOL_RECORD))) != NULL) {
		/* What comes before it is another rank's line, cut. */
		if (rec > s) {
			*rec = '\n';
			pool_err_line(p, s, (size_t)(rec - s));
		}
		pool_record(p, rec + strlen(POOL_RECORD));
		return;
	}
	/* What the pool did, not the job. */
	if (strncmp(s, "mpirun: Forwarding signal ", 26) == 0)
		return;
	s[len] = '\n';
	if (p->cfd != -1)
		(void)mpi_relay_take(&p->r, 0, s, len + 1);
	else
		(void)write_all(STDERR_FILENO, s, len + 1);
}

/* Bytes of mpirun's standard error, taken a line at a time. */
static void
pool_err_bytes(struct pool *p, const char *buf, size_t n)
{
	char	*nl;
	size_t	 off = 0, len;

	if (p->neline + n + 1 > p->aeline) {
		p->aeline = p->neline + n + 1 > 2 * p->aeline ?
		    p->neline + n + 1 : 2 * p->aeline;
		p->eline = xreallocarray(p->eline, p->aeline, 1);
	}
	memcpy(p->eline + p->neline, buf, n);
	p->neline += n;
	while ((nl = memchr(p->eline + off, '\n', p->neline - off)) != NULL) {
		len = (size_t)(nl - (p->eline + off));
		pool_err_line(p, p->eline + off, len);
		off += len + 1;
	}
	if (p->neline - off > POOL_LINE_MAX) {
		if (p->cfd != -1)
			(void)mpi_relay_take(&p->r, 0, p->eline + off,
			    p->neline - off);
		else
			(void)write_all(STDERR_FILENO, p->eline + off,
			    p->neline - off);
		off = p->neline;
	}
	memmove(p->eline, p->eline + off, p->neline - off);
	p->neline -= off;
}

/* Bytes of mpirun's standard output: the job's results. */
static void
pool_out_bytes(struct pool *p, const char *buf, size_t n)
{
	if (p->cfd == -1) {
		log_warnx("%zu bytes of results with no job: dropped", n);
		return;
	}
	p->got += n;
	(void)mpi_relay_take(&p->r, 1, buf, n);
	pool_job_check(p);
}

/* Read what mpirun wrote on fd (0: error, 1: output); 0 at its end. */
static int
pool_read(struct pool *p, int which)
{
	char	buf[65536];
	ssize_t	n;

	n = read(which == 0 ? p->err : p->out, buf, sizeof buf);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return (1);
	if (n <= 0)
		return (0);
	if (which == 0)
		pool_err_bytes(p, buf, (size_t)n);
	else
		pool_out_bytes(p, buf, (size_t)n);
	return (1);
}

/* mpirun ended with wait status ws: the job with it, if one ran. */
static void
pool_ended(struct pool *p, int ws)
{
	struct pollfd	pfd;
	int		st, i, fds[2] = { p->err, p->out };

	/* What it wrote last. */
	for (i = 1; i >= 0; i--) {
		pfd.fd = fds[i];
		pfd.events = POLLIN;
		while (fds[i] != -1 && poll(&pfd, 1, 0) > 0 &&
		    pool_read(p, i) == 1)
			;
		if (fds[i] != -1)
			close(fds[i]);
	}
	if (p->neline > 0)
		pool_err_line(p, p->eline, p->neline);	/* no newline */
	p->neline = 0;
	if (p->in != -1)
		close(p->in);
	p->in = p->out = p->err = -1;
	p->pid = -1;
	st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (p->cfd != -1) {
		result_drain(&p->ri, &p->r, 5);
		pool_job_check(p);
	}
	if (p->cfd != -1) {
		if (p->cancelled > 0) {
			mpi_relay_end(&p->r);
			pool_say_stopped(p, "the job was interrupted");
			pool_job_end(p, EXIT_JOB_FAILED);
		} else {
			mpi_relay_end(&p->r);
			pool_job_end(p, mpi_failed(p->cerr, st, p->r.lost,
			    p->argv[0], p->jobdir, p->hint));
		}
	} else if (!p->ready) {
		p->starts++;
		log_warnx("the ranks ended before they were ready (%s: exit "
		    "%d)", p->argv[0], st);
	} else if (p->stopping == 0)
		log_warnx("the ranks ended (%s: exit %d): starting them again",
		    p->argv[0], st);
}

/* Has a client sent its byte that stops its job, or gone? */
static int
pool_client_said(int fd)
{
	char	buf[64];

	return (!(recv(fd, buf, sizeof buf, MSG_DONTWAIT) == -1 &&
	    (errno == EINTR || errno == EAGAIN)));
}

/* A write to the job's client was cut short: give it up? */
static int
pool_write_stop(void *arg)
{
	struct pool	*p = arg;

	if (pool_signal != 0 || p->cancelled > 0)
		return (1);
	if (p->cfd != -1 && pool_client_said(p->cfd)) {
		pool_cancel(p);
		return (1);
	}
	return (0);
}

/* Set NAME=VALUE in a request's environment, an array of such strings. */
static void
pool_env_set(json_t *env, const char *nv)
{
	const char	*s;
	size_t		 i, len = strcspn(nv, "=") + 1;

	if (!json_is_array(env))
		return;
	for (i = 0; i < json_array_size(env); i++) {
		s = json_string_value(json_array_get(env, i));
		if (s != NULL && strncmp(s, nv, len) == 0) {
			json_array_set_new(env, i, json_string(nv));
			return;
		}
	}
	json_array_append_new(env, json_string(nv));
}

/* A message of the request's length, lenb, with room for two descriptors. */
union pool_fds {
	struct cmsghdr	hdr;
	char		buf[CMSG_SPACE(2 * sizeof(int))];
};

static void
pool_msg(struct msghdr *msg, struct iovec *iov, unsigned char *lenb,
    union pool_fds *cm)
{
	memset(msg, 0, sizeof *msg);
	memset(cm, 0, sizeof *cm);
	iov->iov_base = lenb;
	iov->iov_len = 4;
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	msg->msg_control = cm->buf;
	msg->msg_controllen = sizeof cm->buf;
}

/*
 * Take a job from a client that connected: its request (a length, with
 * its standard output and error, then the JSON), written to rank 0.
 */
static void
pool_accept(struct pool *p)
{
	struct ucred	 cred;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*c;
	struct timeval	 tv = { 10, 0 };
	union pool_fds	 cm;
	socklen_t	 credlen = sizeof cred;
	json_error_t	 e;
	json_t		*j = NULL;
	unsigned char	 lenb[4];
	char		*req = NULL, *line;
	uint32_t	 len;
	ssize_t		 got;
	size_t		 k, nfds;
	int		 fd, one, fds[2] = { -1, -1 };

	if ((fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) != 0 ||
	    (cred.uid != geteuid() && cred.uid != 0)) {
		log_warnx("a client of uid %ld: only its owner's jobs run here",
		    (long)cred.uid);
		goto fail;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	pool_msg(&msg, &iov, lenb, &cm);
	got = recvmsg(fd, &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC);
	/* Two descriptors are due: any others are closed. */
	nfds = 0;
	for (c = CMSG_FIRSTHDR(&msg); got >= 0 && c != NULL;
	    c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		    k++) {
			memcpy(&one, CMSG_DATA(c) + k * sizeof(int),
			    sizeof one);
			if (nfds < 2)
				fds[nfds] = one;
			else
				close(one);
			nfds++;
		}
	}
	if (got != (ssize_t)sizeof lenb || nfds != 2)
		goto fail;
	len = (uint32_t)lenb[0] << 24 | (uint32_t)lenb[1] << 16 |
	    (uint32_t)lenb[2] << 8 | lenb[3];
	if (len == 0 || len > POOL_REQ_MAX) {
		dprintf(fds[1], "forkflow: --pool: a request of %lu bytes, "
		    "past the pool's %u (its environment?)\n",
		    (unsigned long)len, POOL_REQ_MAX);
		(void)write_all(fd, "status 2\n", 9);
		goto fail;
	}
	req = xmalloc((size_t)len + 1);
	if (recv(fd, req, len, MSG_WAITALL) != (ssize_t)len)
		goto fail;
	req[len] = '\0';
	if ((j = json_loadb(req, len, 0, &e)) == NULL ||
	    !json_is_array(json_object_get(j, "argv"))) {
		log_warnx("a request that is no job's: %s", e.text);
		goto fail;
	}
	if (pool_client_said(fd)) {
		/* Stopped while it waited for its turn. */
		dprintf(fds[1], "forkflow: interrupted before the job "
		    "started\n");
		(void)write_all(fd, "status 1\n", 9);
		goto fail;
	}
	memset(&p->r, 0, sizeof p->r);
	p->r.stop = pool_write_stop;
	p->r.stoparg = p;
	p->cfd = fd;
	p->cout = p->r.out = fds[0];
	p->cerr = p->r.err = fds[1];
	p->cancelled = 0;
	p->ended = 0;
	p->status = EXIT_JOB_FAILED;
	p->want = p->got = 0;
	if (json_is_string(json_object_get(j, "jobdir")))
		p->jobdir = xstrdup(json_string_value(json_object_get(j,
		    "jobdir")));
	if (json_is_string(json_object_get(j, "hint")))
		p->hint = xstrdup(json_string_value(json_object_get(j,
		    "hint")));
	if (json_is_true(json_object_get(j, "draw")))
		p->r.display = display_start(1, p->cerr, 0);
	p->streamed = 0;
	if (result_listen(&p->ri) == 0)
		pool_env_set(json_object_get(j, "env"), p->ri.env);
	/* One line: JSON's strings hold no newline of their own.  If
	 * mpirun is gone, pool_ended() says so. */
	line = json_dumps(j, JSON_COMPACT);
	if (line != NULL && (write_all(p->in, line, strlen(line)) != 0 ||
	    write_all(p->in, "\n", 1) != 0))
		log_warn("%s: its standard input", p->argv[0]);
	free(line);
	pool_alarm(1);
	json_decref(j);
	free(req);
	return;
fail:
	json_decref(j);
	free(req);
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
	close(fd);
}

/* Stop the job: its client went, or asked (forkflow run was stopped). */
static void
pool_cancel(struct pool *p)
{
	if (p->cancelled > 0)
		return;
	p->cancelled = mono_now();
	/* Ranks done with it wait for the next: what is left of its
	 * output goes. */
	if (p->ended == p->nhosts) {
		p->r.outgone = p->r.outstop = 1;
		return;
	}
	/* Every rank stops the job as forkflow run does on Control-C, and
	 * waits for the next. */
	log_info("a job's client asks it to stop");
	if (p->pid != -1)
		(void)kill(p->pid, SIGUSR1);
}

/* A stop signal: no more jobs; the ranks end after the one that runs. */
static void
pool_stop(struct pool *p)
{
	double	now = mono_now();

	if (p->stopping == 0) {
		log_info("stopping on signal %d", (int)pool_signal);
		p->stopping = now;
		if (p->cfd != -1)
			pool_cancel(p);
		else if (p->in != -1) {
			close(p->in);
			p->in = -1;
		}
	} else if (p->pid != -1)
		(void)kill(p->pid, SIGTERM);
	pool_signal = 0;
}

/* Run jobs until a stop signal, starting the ranks as often as needed. */
static int
pool_loop(struct pool *p)
{
	struct pollfd	pfd[4];
	nfds_t		nfd;
	int		rfd;
	int		ws, killed = 0;

	for (;;) {
		if (pool_signal != 0)
			pool_stop(p);
		if (p->pid != -1 && waitpid(p->pid, &ws, WNOHANG) == p->pid)
			pool_ended(p, ws);
		if (p->pid == -1) {
			if (p->stopping > 0)
				return (0);
			if (p->starts >= POOL_STARTS) {
				log_warnx("the ranks could not be started %d "
				    "times in a row: stopping", POOL_STARTS);
				return (EXIT_JOB_FAILED);
			}
			if (p->starts > 0)
				sleep(1);
			pool_start(p);
			killed = 0;
		}
		/* mpirun after an abort waits for nothing, and ranks
		 * asked to stop may not: killed then. */
		if ((p->r.deadline > 0 && p->cfd != -1 && mono_now() >
		    p->r.deadline + 5 * killed) || (p->cancelled > 0 &&
		    p->cfd != -1 && mono_now() > p->cancelled +
		    POOL_STOP_WAIT + 5 * killed) || (p->stopping > 0 &&
		    mono_now() > p->stopping + POOL_STOP_WAIT + 5 * killed)) {
			(void)kill(p->pid, killed ? SIGKILL : SIGTERM);
			killed++;
		}
		nfd = 0;
		pfd[nfd].fd = p->err;
		pfd[nfd++].events = POLLIN;
		pfd[nfd].fd = p->out;
		pfd[nfd++].events = POLLIN;
		/* A job's client, until it asks to stop the job (or goes:
		 * its end stays readable); else new ones, when ready. */
		if (p->cfd != -1)
			pfd[nfd].fd = p->cancelled > 0 ? -1 : p->cfd;
		else
			pfd[nfd].fd = p->ready && p->stopping == 0 ? p->lfd : -1;
		pfd[nfd++].events = POLLIN;
		rfd = p->cfd != -1 ? result_fd(&p->ri) : -1;
		pfd[nfd].fd = rfd;
		pfd[nfd++].events = POLLIN;
		if (poll(pfd, nfd, 100) <= 0)
			continue;
		if (rfd != -1 && pfd[3].revents != 0) {
			result_read(&p->ri, &p->r);
			pool_job_check(p);
		}
		if (pfd[0].revents != 0 && pool_read(p, 0) == 0) {
			close(p->err);
			p->err = -1;
		}
		if (pfd[1].revents != 0 && pool_read(p, 1) == 0) {
			close(p->out);
			p->out = -1;
		}
		if (pfd[2].revents != 0) {
			if (p->cfd != -1 && pfd[2].fd == p->cfd &&
			    pool_client_said(p->cfd))
				pool_cancel(p);
			else if (p->cfd == -1)
				pool_accept(p);
		}
	}
}

static const struct option pool_opts[] = {
	{ "hosts",		required_argument,	NULL, 'H' },
	{ "hostfile",		required_argument,	NULL, 'f' },
	{ "shuffle-timeout",	required_argument,	NULL, 't' },
	{ "rank",		no_argument,		NULL, 'r' },
	{ "help",		no_argument,		NULL, 'h' },
	{ NULL,			0,			NULL, 0 }
};

/* forkflow pool SOCKET --hosts H1,H2... | --hostfile FILE */
int
cmd_pool(int argc, char **argv)
{
	struct run_opts		 o;
	struct pool		 p;
	struct sigaction	 sa;
	char			*self, *n;
	double			 timeout = 60;
	mode_t			 mask;
	size_t			 k = 0;
	int			 ch, rank = 0, status;

	memset(&o, 0, sizeof o);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", pool_opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			free(o.hosts);
			o.hosts = xstrdup(optarg);
			break;
		case 'f':
			free(o.hostfile);
			o.hostfile = xstrdup(optarg);
			break;
		case 't':
			timeout = cmd_parse_seconds(optarg,
			    "--shuffle-timeout");
			break;
		case 'r':
			rank = 1;
			break;
		case 'h':
			cmd_usage(cmd_pool_synopsis, cmd_pool_help, 0);
		default:
			cmd_usage(cmd_pool_synopsis, NULL, EXIT_USAGE);
		}
	}
	if (rank)
		return (pool_rank());
	cmd_operands(argc, argv, optind, 1, "socket", cmd_pool_synopsis);
	if ((o.hosts == NULL) == (o.hostfile == NULL))
		errx(EXIT_USAGE, "pool: --hosts or --hostfile, one of them");
#ifndef HAVE_MPI
	errx(EXIT_USAGE, "pool: this forkflow was built without Open MPI "
	    "(configure --with-mpi)");
#endif
	log_init(1, "forkflow pool");
	memset(&p, 0, sizeof p);
	p.sock = argv[optind];
	p.nhosts = mpi_count_hosts(&o);
	p.pid = -1;
	p.in = p.out = p.err = p.cfd = p.cout = p.cerr = -1;
	p.ri.lfd = p.ri.fd = -1;
	if ((self = realpath("/proc/self/exe", NULL)) == NULL)
		err(EXIT_JOB_FAILED, "/proc/self/exe");
	p.argv = mpi_argv(&o, 4, &k, &n);
	p.argv[k++] = self;
	p.argv[k++] = "pool";
	p.argv[k++] = "--rank";
	p.argv[k] = NULL;
	mpi_keepalive(timeout);
	mask = umask(077);
	p.lfd = serve_listen_at(p.sock, 0600, "pool");
	(void)umask(mask);
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = pool_signal_cb;
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = pool_alarm_cb;
	(void)sigaction(SIGALRM, &sa, NULL);
	status = pool_loop(&p);
	(void)unlink(p.sock);
	close(p.lfd);
	free(p.eline);
	free(p.argv);
	free(n);
	free(self);
	free(o.hosts);
	free(o.hostfile);
	return (status);
}

/* --- forkflow run --pool ------------------------------------------------- */

static volatile sig_atomic_t submit_signal;

static void
submit_signal_cb(int sig)
{
	submit_signal = sig;
}

/* The request of o's job: what --hosts would run, and where. */
static char *
submit_request(const struct run_opts *o, int draw)
{
	json_t	*j, *a, *v;
	char	**args, *cwd, *hint, *s;
	size_t	 i;
	mode_t	 mask;

	j = json_object();
	a = json_array();
	args = mpi_rank_args(o, draw);
	for (i = 0; args[i] != NULL; i++) {
		if ((v = json_string(args[i])) == NULL)
			errx(EXIT_USAGE, "--pool: %s: an argument the pool "
			    "takes in UTF-8 only", args[i]);
		json_array_append_new(a, v);
	}
	free(args);
	json_object_set_new(j, "argv", a);
	if ((cwd = getcwd(NULL, 0)) == NULL)
		err(EXIT_JOB_FAILED, "getcwd");
	if ((v = json_string(cwd)) == NULL)
		errx(EXIT_USAGE, "--pool: %s: a folder the pool takes in UTF-8 "
		    "only", cwd);
	json_object_set_new(j, "cwd", v);
	free(cwd);
	a = json_array();
	for (i = 0; environ[i] != NULL; i++) {
		if ((v = json_string(environ[i])) != NULL)
			json_array_append_new(a, v);
		else
			log_warnx("--pool: %.*s: not UTF-8, so not in the job's "
			    "environment", (int)strcspn(environ[i], "="),
			    environ[i]);
	}
	json_object_set_new(j, "env", a);
	mask = umask(0);
	(void)umask(mask);
	json_object_set_new(j, "umask", json_integer((json_int_t)mask));
	json_object_set_new(j, "draw", json_boolean(draw));
	if (o->jobdir != NULL) {
		hint = run_resume_hint(o, o->jobdir);
		json_object_set_new(j, "jobdir", json_string(o->jobdir));
		json_object_set_new(j, "hint", json_string(hint));
		free(hint);
	}
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL)
		errx(EXIT_USAGE, "--pool: the environment or the command line "
		    "is not UTF-8");
	return (s);
}

/*
 * forkflow run --pool SOCKET: have the pool there run the job on its
 * hosts, relaying to this process's standard output and error; a stop
 * signal stops the job.  Returns its exit status.
 */
int
pool_submit(const struct run_opts *o)
{
	struct sockaddr_un	 sun;
	struct ucred		 cred;
	socklen_t		 credlen = sizeof cred;
	struct sigaction	 sa;
	struct msghdr		 msg;
	struct iovec		 iov;
	struct cmsghdr		*c;
	union pool_fds		 cm;
	struct pollfd		 pfd;
	unsigned char		 lenb[4];
	char			*req, reply[64];
	size_t			 len, got = 0;
	ssize_t			 n;
	int			 fd, draw, status, fds[2] = { STDOUT_FILENO,
				    STDERR_FILENO }, asked = 0;

	if (o->hosts != NULL || o->hostfile != NULL || o->mpi)
		errx(EXIT_USAGE, "--pool: its hosts are the pool's; not with "
		    "--hosts, --hostfile or --mpi");
	if (o->progress == PROGRESS_RELAY)
		errx(EXIT_USAGE, "--progress relay is for the ranks of "
		    "forkflow run --hosts (--mpi)");
	mpi_files_only(o, "--pool");
	draw = mpi_display(o);
	req = submit_request(o, draw);
	len = strlen(req);
	serve_sockaddr(o->pool, &sun);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(EXIT_JOB_FAILED, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
		err(EXIT_JOB_FAILED, "--pool %s: no forkflow pool there",
		    o->pool);
	/* Its output, error and environment go to this user's pool only. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) != 0 ||
	    (cred.uid != getuid() && cred.uid != 0))
		errx(EXIT_JOB_FAILED, "--pool %s: the pool there is another "
		    "user's (uid %ld)", o->pool, (long)cred.uid);
	lenb[0] = (unsigned char)(len >> 24);
	lenb[1] = (unsigned char)(len >> 16);
	lenb[2] = (unsigned char)(len >> 8);
	lenb[3] = (unsigned char)len;
	pool_msg(&msg, &iov, lenb, &cm);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(c), fds, sizeof fds);
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof lenb ||
	    write_all(fd, req, len) != 0)
		err(EXIT_JOB_FAILED, "--pool %s", o->pool);
	free(req);
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = submit_signal_cb;
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		if (submit_signal != 0 && asked) {
			/* Asked again: the pool stops the job when it finds
			 * this end closed. */
			warnx("--pool %s: interrupted by signal %d", o->pool,
			    (int)submit_signal);
			close(fd);
			return (128 + (int)submit_signal);
		}
		if (submit_signal != 0) {
			/* The pool stops the job and says how it ended. */
			(void)write(fd, "c", 1);
			asked = 1;
			submit_signal = 0;
		}
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(fd, reply + got, sizeof reply - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(reply, '\n', got) != NULL || got == sizeof reply - 1)
			break;
	}
	close(fd);
	reply[got] = '\0';
	if (sscanf(reply, "status %d", &status) != 1) {
		warnx("--pool %s: the pool ended during the job", o->pool);
		return (EXIT_JOB_FAILED);
	}
	return (status);
}
