/* forkflow: see LICENSE. */
/*
 * forkflow run: load the program (cmd-run-opts.c reads the command line),
 * prepare the job (its job directory, its inputs, where its output goes),
 * hand it to the supervisor, then present the output.
 *
 * A run removes what it made when it ends with nothing worth resuming: the
 * job directory it created (a new one under $TMPDIR, or a --job-dir that
 * did not exist) when an error stops the job before it started or on the
 * program or the input, the temporary output folder whenever the job
 * fails, unless another job's output took the folder first (the result is
 * then kept in the job directory).  A job directory that holds committed
 * work of a job that failed at run time, or was interrupted, is kept, and
 * the message says how to resume it.  Every error path goes through
 * run_fail(), which says why, removes what the rule above says and exits
 * with the documented status.
 */

#include <sys/resource.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>
#include <xxhash.h>

#include "forkflow.h"


/* The job of this run, for run_fail() and the handlers of fatal paths. */
static struct job	*run_job_now;

/* A signal that asks the run to stop, caught before the supervisor runs. */
static volatile sig_atomic_t run_signal;

/* The bytes of results written on standard output, and to the launcher
 * (run_stdout_take()). */
static uint64_t		 run_stdout;
static uint64_t		 run_streamed;

/* The command that resumes a pool's job (run_pool_job()), or NULL. */
static const char	*run_pool_hint;

static void	run_free(struct job *);
static __dead void run_exit(int);
static __dead void run_fail(int, const char *, ...) printflike(2, 3);
static __dead void run_fail_errno(int, const char *, ...) printflike(2, 3);

/* The command line that resumes this job, for messages. */
char *
run_resume_hint(const struct run_opts *o, const char *jobdir)
{
	char	*s, *t;
	int	 i;

	xasprintf(&s, "forkflow %s", o->streaming == 2 ? "mapreduce" :
	    o->streaming ? "streaming" : "run");
	for (i = 1; i < o->argc; i++) {
		if (o->argv[i][0] != '\0' && strspn(o->argv[i],
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789-_./:=,+@%") == strlen(o->argv[i]))
			xasprintf(&t, "%s %s", s, o->argv[i]);
		else
			xasprintf(&t, "%s '%s'", s, o->argv[i]);
		free(s);
		s = t;
	}
	if (o->jobdir == NULL) {
		xasprintf(&t, "%s --job-dir %s", s, jobdir);
		free(s);
		s = t;
	}
	return (s);
}

/*
 * An error stops the run: say why, remove what the run made and holds
 * nothing to resume (see the top of this file), and exit with status.
 */
static __dead void
run_fail(int status, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	run_exit(status);
}

/* Remove what the run made and holds nothing to resume, and exit. */
static __dead void
run_exit(int status)
{
	if (run_job_now != NULL) {
		if (run_job_now->outtmp != NULL)
			(void)rm_tree(run_job_now->outtmp);
		run_free(run_job_now);
	}
	exit(status);
}

/* The same, with errno's message after the text. */
static __dead void
run_fail_errno(int status, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	run_fail(status, "%s: %s", msg, strerror(saved_errno));
}

/* A signal asks the run to stop. */
static void
run_signal_cb(int sig)
{
	run_signal = sig;
}

/*
 * Catch SIGINT, SIGTERM and SIGHUP without SA_RESTART, so that a read of a
 * FIFO or of standard input that blocks is cut short, and the run can
 * clean up before it exits.
 */
static void
run_catch_signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = run_signal_cb;
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
}

/* Stop the run if a signal asked for it. */
static void
run_check_signal(void)
{
	if (run_signal != 0)
		run_fail(EXIT_JOB_FAILED, "interrupted by signal %d before "
		    "the job started", (int)run_signal);
}

/*
 * Read at most size bytes of fd into buf, once it has data, an end or an
 * error to read; a stop signal ends the run instead.  The signals are
 * blocked from the test of run_signal until ppoll lets them in,
 * atomically: one that comes just before the wait is not lost, leaving the
 * wait to block for ever (a FIFO no one opens).  Returns the bytes read, 0
 * at the end; an error ends the run, naming name.
 */
static size_t
run_read_some(int fd, const char *name, char *buf, size_t size)
{
	struct pollfd	pfd;
	sigset_t	stop, old, during;
	ssize_t		n;
	int		r;

	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	for (;;) {
		(void)pthread_sigmask(SIG_BLOCK, &stop, &old);
		during = old;
		sigdelset(&during, SIGINT);
		sigdelset(&during, SIGTERM);
		sigdelset(&during, SIGHUP);
		do {
			if (run_signal != 0) {
				(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
				run_check_signal();
			}
			pfd.fd = fd;
			pfd.events = POLLIN;
			pfd.revents = 0;
		} while ((r = ppoll(&pfd, 1, NULL, &during)) == -1 &&
		    errno == EINTR);
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (r == -1)
			run_fail_errno(EXIT_USAGE, "%s", name);
		if ((n = read(fd, buf, size)) >= 0)
			return ((size_t)n);
		if (errno != EINTR && errno != EAGAIN)
			run_fail_errno(EXIT_USAGE, "%s", name);
	}
}

/*
 * Open path to be read to its end.  A FIFO (its caller stat'ed it) is
 * opened without waiting for a writer (run_read_some() waits for its data,
 * where a signal cuts the wait short), then made blocking again.  Returns
 * -1 with errno.
 */
static int
run_open_stream(const char *path, int fifo)
{
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | (fifo ? O_NONBLOCK :
	    0))) == -1)
		return (-1);
	if (fifo && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) ==
	    -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * The text of a program that is a FIFO (a shell's <(...)), read here,
 * where a stop signal cuts the wait for its writer short; NULL for any
 * other file, which program_load_as() reads.
 */
static char *
run_program_fifo(const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0, cap = 0, n;
	int		 fd;

	if (stat(path, &st) != 0 || !S_ISFIFO(st.st_mode))
		return (NULL);
	if ((fd = run_open_stream(path, 1)) == -1)
		run_fail_errno(EXIT_USAGE, "%s", path);
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = xreallocarray(buf, cap, 1);
		}
		n = run_read_some(fd, path, buf + len, cap - len - 1);
		len += n;
	} while (n > 0);
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return (buf);
}

/*
 * Copy an input that cannot be mapped (standard input, a pipe, a device,
 * a file of /proc that says it is empty) into the job directory, so that
 * workers can map it.  Its fingerprint is a hash of its contents.
 */
static char *
spool_input(struct job *job, int in, const char *name, size_t i,
    uint64_t *hash)
{
	XXH3_state_t	*h;
	char		 buf[65536], *path;
	size_t		 n;
	int		 fd;

	path = jd_input_copy(job->jobdir, i);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		run_fail_errno(EXIT_JOB_FAILED, "%s", path);
	h = XXH3_createState();
	XXH3_64bits_reset(h);
	while ((n = run_read_some(in, name, buf, sizeof buf)) > 0) {
		XXH3_64bits_update(h, buf, n);
		if (write_all(fd, buf, n) != 0)
			run_fail_errno(EXIT_JOB_FAILED, "%s", path);
	}
	if ((job->opts->durable && fsync(fd) != 0) || close(fd) != 0)
		run_fail_errno(EXIT_JOB_FAILED, "%s", path);
	*hash = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	return (path);
}

/*
 * Fix one input file, i: its path (a copy in the job directory if it
 * cannot be mapped as it is), its size and its fingerprint.  With keep,
 * it is opened for the whole job: workers read through that descriptor,
 * which they inherit.  *hash gets the hash of a copy's contents.
 */
static void
job_input(struct job *job, size_t i, int keep, uint64_t *hash)
{
	struct input_file	*f = &job->files[i];
	const char		*path = job->prog->inputs[i];
	struct stat		 st;
	int			 fd;

	f->fd = -1;
	if (strcmp(path, "-") == 0) {
		f->name = xstrdup("<stdin>");
		f->path = spool_input(job, STDIN_FILENO, "standard input", i,
		    hash);
		f->spooled = 1;
	} else {
		f->name = xstrdup(path);
		if (stat(path, &st) != 0)
			run_fail_errno(EXIT_USAGE, "%s", path);
		if (S_ISREG(st.st_mode) && st.st_size > 0)
			f->path = xstrdup(path);
		else {
			/*
			 * A pipe, as from -i <(command), a device, or a file
			 * that says it is empty but may not be (/proc): read
			 * it to its end.
			 */
			if ((fd = run_open_stream(path,
			    S_ISFIFO(st.st_mode))) == -1)
				run_fail_errno(EXIT_USAGE, "%s", path);
			f->path = spool_input(job, fd, path, i, hash);
			f->spooled = 1;
			close(fd);
		}
	}
	if (keep) {
		if ((f->fd = open(f->path, O_RDONLY | O_CLOEXEC)) == -1 ||
		    fstat(f->fd, &st) != 0)
			run_fail_errno(f->spooled ? EXIT_JOB_FAILED :
			    EXIT_USAGE, "%s", f->path);
	} else if (stat(f->path, &st) != 0)
		run_fail_errno(EXIT_JOB_FAILED, "%s", f->path);
	input_fp_get(&f->fp, &st);
	f->size = (uint64_t)st.st_size;
}

/*
 * How many input files the supervisor may keep open: the descriptors
 * left after what run_check_fds() keeps for the partitions.
 */
static size_t
run_fds_spare(unsigned int nparts)
{
	struct rlimit	rl;
	rlim_t		need = (rlim_t)nparts + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return (0);
	if (rl.rlim_cur == RLIM_INFINITY)
		return (SIZE_MAX);
	return (rl.rlim_cur > need ? (size_t)(rl.rlim_cur - need) : 0);
}

/*
 * Fix the input files, their sizes and fingerprints, and the job's
 * identity: the program as it will run, the partitions, and each input's
 * name, or contents for a copy.  What an input file is (device, inode,
 * size, modification time) goes into the journal instead, so that a run
 * that resumes the job can name the file that changed (journal.c).  As
 * many files as the descriptors allow are kept open for the whole job.
 */
static void
job_inputs(struct job *job)
{
	struct program	*p = job->prog;
	XXH3_state_t	*h;
	char		*canon;
	size_t		 i, spare;
	uint64_t	 hash;

	job->nfiles = p->ninputs;
	job->files = xcalloc(p->ninputs, sizeof *job->files);
	for (i = 0; i < p->ninputs; i++)
		job->files[i].fd = -1;
	h = XXH3_createState();
	XXH3_64bits_reset(h);
	canon = program_canonical(p);
	XXH3_64bits_update(h, canon, strlen(canon));
	free(canon);
	XXH3_64bits_update(h, &job->nparts, sizeof job->nparts);
	XXH3_64bits_update(h, &job->out_format, sizeof job->out_format);
	XXH3_64bits_update(h, &job->opts->split_size,
	    sizeof job->opts->split_size);
	spare = run_fds_spare(job->nparts);
	for (i = 0; i < p->ninputs; i++) {
		job_input(job, i, i < spare, &hash);
		job->total += job->files[i].size;
		XXH3_64bits_update(h, job->files[i].name,
		    strlen(job->files[i].name) + 1);
		if (job->files[i].spooled)
			XXH3_64bits_update(h, &hash, sizeof hash);
	}
	job->job_id = XXH3_64bits_digest(h);
	XXH3_freeState(h);
}

/*
 * Free what a job holds, and remove its job directory if this run made
 * it and nothing in it is to be kept.
 */
static void
run_free(struct job *job)
{
	size_t	i;

	if (run_job_now == job)
		run_job_now = NULL;
	if (job->run.jobdir_made && !job->keep)
		(void)rm_tree(job->jobdir);
	for (i = 0; i < job->nfiles; i++) {
		if (job->files[i].fd != -1)
			close(job->files[i].fd);
		free(job->files[i].path);
		free(job->files[i].name);
	}
	free(job->files);
	free(job->run.journal_fps);
	program_free(job->prog);
	plan_free(job->plan);
	free(job->jobdir);
	free(job->outtmp);
	free(job->resume_hint);
	free(job->workdir);
	free(job->run.skips);
	free(job->run.reason);
	if (job->run.journalfd > 0)
		close(job->run.journalfd);
	if (job->run.lockfd > 0)
		close(job->run.lockfd);
	memset(job, 0, sizeof *job);
}

/*
 * What this job's run writes into _SUCCESS: the job and its run, so that a
 * run that resumes the job knows the output folder for its own.
 */
static char *
run_token(const struct job *job)
{
	char	*s;

	xasprintf(&s, "job %016llx run %016llx\n",
	    (unsigned long long)job->job_id, (unsigned long long)job->run.run_id);
	return (s);
}

/*
 * Is the folder at path this job's whole output: 1 if its _SUCCESS is this
 * run's, 2 if it is an earlier run's of this same job (one whose journal
 * lost its run line to damage, which this run may replace), 0 if not.
 */
static int
output_ours(const struct job *job, const char *path)
{
	char	*s, *token, buf[128];
	ssize_t	 n;
	int	 fd, r = 0;

	xasprintf(&s, "%s/_SUCCESS", path);
	fd = open(s, O_RDONLY | O_CLOEXEC);
	free(s);
	if (fd == -1)
		return (0);
	token = run_token(job);
	n = read(fd, buf, sizeof buf);
	if (n >= 0 && (size_t)n == strlen(token) && memcmp(buf, token,
	    (size_t)n) == 0)
		r = 1;
	else if (n >= 0 && (size_t)n == strlen(token) && memcmp(buf, token,
	    strlen("job 0123456789abcdef ")) == 0)
		r = 2;
	close(fd);
	free(token);
	return (r);
}

/*
 * The temporary output folder of this job's run, beside the output: its
 * name is the run's, so that two jobs never share one, and a run that
 * resumes the job finds it again.
 */
static char *
output_tmp_name(const struct job *job)
{
	const char	*out = job->opts->output, *base;
	char		*dir, *tmp;

	dir = path_dirname(out);
	base = strrchr(out, '/');
	base = base == NULL ? out : base + 1;
	xasprintf(&tmp, "%s/.%s.forkflow-%016llx", dir, base,
	    (unsigned long long)job->run.run_id);
	free(dir);
	return (tmp);
}

/*
 * Link the files of -file and -files into the job's work folder for its
 * commands, and unpack those of -archives there.
 */
static void
job_stream_files(struct job *job)
{
	const struct run_opts	*o = job->opts;
	char			*link, *cause;
	size_t			 i;

	if (o->nship == 0) {
		/* Commands run where forkflow streaming was started. */
		if (o->streaming && (job->workdir = getcwd(NULL, 0)) == NULL)
			run_fail_errno(EXIT_JOB_FAILED, "getcwd");
		return;
	}
	job->workdir = jd_file(job->jobdir, JD_FILES);
	if (mkdir(job->workdir, 0700) != 0 && errno != EEXIST)
		run_fail_errno(EXIT_JOB_FAILED, "%s", job->workdir);
	for (i = 0; i < o->nship; i++) {
		xasprintf(&link, "%s/%s", job->workdir, o->ship[i].link);
		if (o->ship[i].archive) {
			if (unpack_archive(o->ship[i].path, link, &cause) != 0)
				run_fail(EXIT_USAGE, "-archives %s", cause);
		} else {
			(void)unlink(link);
			if (symlink(o->ship[i].path, link) != 0)
				run_fail_errno(EXIT_JOB_FAILED, "%s", link);
		}
		free(link);
	}
}

/* Make or adopt the job directory. */
static void
job_dir(struct job *job)
{
	const char	*tmp, *given = job->opts->jobdir;
	char		*templ;

	if (given != NULL) {
		if (job->nhosts > 1) {
			/* One folder per host, there: the hosts may share
			 * the file system. */
			if (mkdir(given, 0700) != 0 && errno != EEXIST)
				run_fail_errno(EXIT_USAGE, "%s", given);
			xasprintf(&templ, "%s/rank-%u", given, job->rank);
			given = templ;
		}
		if (mkdir(given, 0700) == 0)
			job->run.jobdir_made = 1;
		else if (errno != EEXIST)
			run_fail_errno(EXIT_USAGE, "%s", given);
		job->jobdir = xstrdup(given);
		if (job->nhosts > 1)
			free(templ);
		run_window_dir(job->jobdir);
		return;
	}
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	xasprintf(&templ, "%s/forkflow.XXXXXX", tmp);
	if (mkdtemp(templ) == NULL)
		run_fail_errno(EXIT_JOB_FAILED, "mkdtemp %s", templ);
	job->jobdir = templ;
	job->run.jobdir_made = 1;
	run_window_dir(job->jobdir);
}

/*
 * Write the program that `forkflow streaming` made into the job directory,
 * where the command that resumes the job finds it again.
 */
static char *
job_gen_program(struct job *job)
{
	char	*path, *tmp;
	int	 fd;

	path = jd_file(job->jobdir, JD_STREAMING);
	xasprintf(&tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || write_all(fd, job->opts->gen,
	    strlen(job->opts->gen)) != 0 || close(fd) != 0 ||
	    rename(tmp, path) != 0)
		run_fail_errno(EXIT_JOB_FAILED, "%s", tmp);
	free(tmp);
	return (path);
}

/* A damaged line of the journal, found as it was read: an event. */
static void
event_journal_damaged(const struct job *job)
{
	if (job->run.journal_bad == 0)
		return;
	event_emit("damaged", NULL, json_pack("{s:s, s:I, s:s}", "file",
	    JD_JOURNAL, "offset", (json_int_t)job->run.journal_bad - 1, "action",
	    "what its lines from there recorded is done again"));
}

/*
 * Is a file of partition p's stage s damaged: its counters, or, for the
 * last stage, its part, checked against the sum its checkpoint has?
 * Returns 0, or 1 with *file (its name) and *off set.
 */
static int
job_file_damaged(struct job *job, unsigned int s, unsigned int p,
    char **file, uint64_t *off)
{
	struct ckpt_state	 cs;
	char			*path;
	int			 r;

	*off = 0;
	*file = jd_counters(NULL, p, s);
	path = jd_counters(job->jobdir, p, s);
	counters_clear();
	r = counters_load(path);
	counters_clear();
	free(path);
	if (r != 0)
		return (1);
	free(*file);
	*file = NULL;
	if (s + 1 < job->plan->nstages)
		return (0);
	if (!job_ckpt_load(job, p, &cs))
		return (0);	/* not this run's to check */
	if (job->opts->output != NULL)
		path = jd_part(job->outtmp, p);
	else
		path = jd_out_part(job->jobdir, p);
	r = output_check(path, cs.output_len, cs.output_sum, off);
	if (r != 0)
		*file = path;
	else
		free(path);
	return (r != 0);
}

/*
 * Before the result is presented, check what it is made of: each
 * partition's counters of each stage and its part.  What fails its check
 * is produced again by its stage; what stays damaged fails the job.
 */
static int
job_verify(struct job *job)
{
	struct evwhere	 at;
	unsigned int	 s, p, tries, a;
	uint64_t	 off;
	char		*file;
	int		 r;

	for (p = 0; p < job->nparts; p++) {
		if (!job_owns(job, p))
			continue;
		for (s = 0; s < job->plan->nstages; s++) {
			for (tries = 0; job_file_damaged(job, s, p, &file,
			    &off); tries++) {
				memset(&at, 0, sizeof at);
				at.part = (int)p;
				at.stage = (int)s;
				at.op = -1;
				event_emit("damaged", &at, json_pack("{s:o, s:I, "
				    "s:s}", "file", json_text(file,
				    strlen(file)), "offset", (json_int_t)off,
				    "action", "its writer's stage is done "
				    "again"));
				log_warnx("%s: damaged (at offset %llu); doing "
				    "stage %u of partition %u again", file,
				    (unsigned long long)off, s, p);
				/* A child that crashed is forked again. */
				for (a = 0, r = -1; tries < 3 && a <
				    job->opts->max_attempts && r != 0; a++)
					r = worker_redo_stage(job, s, p);
				if (r != 0) {
					xasprintf(&job->run.reason, "%s: damaged "
					    "at offset %llu, and producing it "
					    "again failed", file,
					    (unsigned long long)off);
					warnx("%s", job->run.reason);
					free(file);
					return (EXIT_JOB_FAILED);
				}
				free(file);
			}
		}
	}
	return (0);
}

/*
 * Another job committed its output to the folder first.  Keep this job's
 * result, whole with its _SUCCESS, in its job directory, JOBDIR/output, or
 * where it is when that is on another file system, keep the job directory,
 * and fail.
 */
static int
job_output_lost(struct job *job, char *cause)
{
	char	*kept;

	kept = jd_file(job->jobdir, JD_OUTPUT);
	if (rm_tree(kept) != 0 || rename(job->outtmp, kept) != 0) {
		free(kept);
		kept = xstrdup(job->outtmp);
	}
	xasprintf(&job->run.reason, "%s; this job's result is kept in %s", cause,
	    kept);
	warnx("%s", job->run.reason);
	free(cause);
	free(kept);
	free(job->outtmp);
	job->outtmp = NULL;
	job->keep = 1;
	return (EXIT_JOB_FAILED);
}

/* Present the result: merge the parts to stdout, or commit the folder. */
static int
job_output(struct job *job)
{
	char		**paths, *cause, *path, *token;
	struct outspec	  os;
	struct stat	  st;
	unsigned int	  i;
	uint64_t	  bytes;
	int		  r, lost, fd, out = STDOUT_FILENO, saved_errno;

	if (job->opts->output != NULL) {
		for (i = 0; i < job->nparts; i++) {
			path = jd_part(job->outtmp, i);
			if (stat(path, &st) == 0) {
				job->run.bytes_written += (uint64_t)st.st_size;
				/* -lazyOutput: a partition without output
				 * has no part. */
				if (job->opts->lazy && st.st_size == 0 &&
				    unlink(path) != 0)
					run_fail_errno(EXIT_JOB_FAILED, "%s",
					    path);
			}
			free(path);
		}
		token = run_token(job);
		r = output_commit(job->outtmp, job->opts->output, token,
		    job->opts->force || job->run.replace_own, &cause);
		lost = r != 0 && errno == EEXIST;
		free(token);
		if (lost)
			return (job_output_lost(job, cause));
		if (r != 0) {
			warnx("%s", cause);
			job->run.reason = cause;
			return (EXIT_JOB_FAILED);
		}
		return (0);
	}
	paths = xcalloc(job->nparts, sizeof *paths);
	for (i = 0; i < job->nparts; i++)
		paths[i] = jd_out_part(job->jobdir, i);
	os.kt = job->plan->stages[job->plan->nstages - 1].out_k;
	os.vt = job->plan->stages[job->plan->nstages - 1].out_v;
	os.fmt = job->out_format;
	os.text = 1;
	os.in_order = job->prog->in_order;
	os.sep = job->prog->out_sep;
	/* From rank 0, on the launcher's own connection where it can. */
	if (job->nhosts > 1 && job->rank == 0 && (fd = result_connect()) != -1)
		out = fd;
	r = output_merge_spec(paths, job->nparts, out, &os, &bytes);
	job->run.bytes_written = bytes;
	if (out != STDOUT_FILENO) {
		saved_errno = errno;
		close(out);
		errno = saved_errno;
		run_streamed += bytes;
	} else
		run_stdout += bytes;
	if (r != 0 && errno == EPIPE) {
		/* The reader stopped (| head): the job itself is done. */
		job->run.stdout_closed = 1;
	} else if (r != 0 && errno == EINTR && run_signal != 0) {
		xasprintf(&job->run.reason, "interrupted by signal %d while "
		    "writing the output; to resume, run %s", (int)run_signal,
		    job->resume_hint);
		warnx("%s", job->run.reason);
		job->run.interrupted = 1;
	} else if (r != 0) {
		/*
		 * The output cannot be written (a full disk): the job's
		 * files are no use to a run that cannot write either.
		 */
		xasprintf(&job->run.reason, "writing the output: %s",
		    strerror(errno));
		warnx("%s", job->run.reason);
		job->run.permanent = 1;
	}
	for (i = 0; i < job->nparts; i++)
		free(paths[i]);
	free(paths);
	return (r == 0 ? 0 : EXIT_JOB_FAILED);
}

/*
 * The peak resident set of this process, in KiB.  VmHWM belongs to the
 * address space, so unlike getrusage() it does not carry the peak of the
 * process that exec'd us.
 */
static long
peak_rss_kib(void)
{
	FILE	*f;
	char	 line[256];
	long	 kib = -1;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return (kib);
}

/* List the records skipped by --skip-bad-records. */
static void
print_skipped(const struct job *job)
{
	FILE	*f;
	char	*path, line[1024];

	log_warnx("%llu bad record%s skipped:",
	    (unsigned long long)job->run.skipped, job->run.skipped == 1 ? "" : "s");
	path = jd_file(job->jobdir, JD_SKIPPED);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL)
			fprintf(stderr, "  %s", line);
		fclose(f);
	}
	free(path);
}

/* The event that opens a run of the job. */
static void
event_job_start(const struct job *job)
{
	char		 when[32];
	time_t		 now = time(NULL);
	struct tm	 tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	event_emit("job_start", NULL, json_pack("{s:o, s:i, s:i, s:i, s:s, "
	    "s:I, s:i, s:b, s:i, s:s}", "job_id", json_sprintf("%016llx",
	    (unsigned long long)job->job_id), "partitions",
	    (int)job->nparts, "stages", (int)job->plan->nstages, "operators",
	    (int)job->prog->nops, "program", job->prog->path, "input_bytes",
	    (json_int_t)job->total, "pid", (int)getpid(), "resumed",
	    job->run.resumed, "first_stage", (int)job->run.first_stage, "time",
	    when));
}

/* Keep the program in the job directory, for `forkflow report`. */
static void
job_save_program(const struct job *job)
{
	char	*path, *canon;
	FILE	*f;

	path = jd_file(job->jobdir, JD_PROGRAM);
	if ((f = fopen(path, "w")) != NULL) {
		canon = program_canonical(job->prog);
		fprintf(f, "%s\n", canon);
		free(canon);
		fclose(f);
	}
	free(path);
}

/* The end of a run: the counters, the event, the trace. */
static void
job_end(struct job *job, int status)
{
	json_t	*stats = NULL, *end;
	char	*cause, *path;

	if (status == 0 && !job->run.permanent) {
		stats = stats_collect(job);
		if (stats_save(job, stats) != 0)
			log_warn("counters.json");
		/* On several hosts, rank 0 has every host's counters. */
		if (!job->opts->quiet && job->rank == 0) {
			fflush(stderr);
			stats_print(stats, stderr);
		}
	}
	end = json_pack("{s:i, s:s, s:I, s:I, s:f}", "exit_status", status,
	    "state", status == 0 ? "done" : job->run.interrupted ? "interrupted" :
	    "failed", "records_in", (json_int_t)job->run.records_in,
	    "records_out", (json_int_t)job->run.records_out, "wall", mono_now() -
	    job->run.started);
	if (job->run.reason != NULL)
		json_object_set_new(end, "reason", json_text(job->run.reason,
		    strlen(job->run.reason)));
	event_emit("job_end", NULL, end);
	jobpage_finish(job, status);
	json_decref(stats);
	if (job->opts->trace != NULL) {
		path = jd_file(job->jobdir, JD_EVENTS);
		if (report_trace(path, job->opts->trace, &cause) != 0) {
			log_warnx("%s", cause);
			free(cause);
		}
		free(path);
	}
}

/*
 * How many partitions: -p, else the program's, else one per online
 * processor.  The input files, however many, are cut into byte ranges
 * across them.
 */
static unsigned int
run_partitions(const struct run_opts *o, const struct program *p)
{
	long	ncpu;

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (o->parts != 0) {
		if (o->parts > 4 * (unsigned long)ncpu && !o->quiet)
			log_warnx("-p %u is more than four times the %ld "
			    "processors: the workers will take turns", o->parts,
			    ncpu);
		return (o->parts);
	}
	if (p->partitions != 0)
		return ((unsigned int)p->partitions);
	return (ncpu > PARTS_MAX ? PARTS_MAX : (unsigned int)ncpu);
}

/*
 * Make sure the run has the file descriptors it needs: the supervisor
 * holds a socket per worker and, to merge the output, a descriptor per
 * part.  Raise the soft limit to the hard one if that is too low.  It
 * would like one more per input file too, to keep them open for the job
 * (job_inputs()); those that do not fit are opened by path.
 */
static void
run_check_fds(unsigned int nparts, size_t ninputs)
{
	struct rlimit	rl;
	rlim_t		need = (rlim_t)nparts + 64, want = need + ninputs;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want)
		rl.rlim_cur = want;
	else
		rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need)
		run_fail(EXIT_JOB_FAILED, "too few file descriptors: %u "
		    "partitions need %llu, and the limit is %llu (ulimit -n)",
		    nparts, (unsigned long long)need,
		    (unsigned long long)rl.rlim_cur);
}

/*
 * Load the program and fix what the job is: its inputs, partitions, plan
 * and where its output goes.  Nothing is made on disk yet.
 */
static void
run_load(struct job *job)
{
	const struct run_opts	*o = job->opts;
	struct program		*p;
	struct stat		 st;
	char			*cause, *dir, *out, *text;
	size_t			 len;

	if ((text = run_program_fifo(o->program, &len)) != NULL)
		p = program_load_buf_as(o->program, o->program_name,
		    o->program_dir, o->changekey, text, len, &cause);
	else
		p = program_load_as(o->program, o->program_name,
		    o->program_dir, o->changekey, &cause);
	if (p == NULL) {
		/* FILE:LINE:COLUMN: first, as compilers print them. */
		fprintf(stderr, "%s\n", cause);
		free(cause);
		run_exit(EXIT_USAGE);
	}
	job->prog = p;
	job->out_format = o->out_format == -1 ? p->out_format :
	    (enum out_format)o->out_format;
	cmd_print_warnings(p, o->quiet);
	if (program_set_inputs(p, o->inputs, o->ninputs, &cause) != 0)
		run_fail(EXIT_USAGE, "%s", cause);
	job->nparts = run_partitions(o, p);
	if (job->nhosts > 1) {
		size_t	i;

		if (job->nparts < job->nhosts)
			run_fail(EXIT_USAGE, "%u partitions on %u hosts: give "
			    "each host one at least (-p)", job->nparts,
			    job->nhosts);
		for (i = 0; i < p->ninputs; i++)
			if (strcmp(p->inputs[i], "-") == 0)
				run_fail(EXIT_USAGE, "on several hosts the "
				    "input must be files every host reads, "
				    "not standard input");
	}
	/* Hadoop's mapreduce.task.timeout, 600 s by default. */
	job->task_timeout = o->task_timeout >= 0 ? o->task_timeout :
	    p->task_timeout_ms >= 0 ? (double)p->task_timeout_ms / 1000 : 600;
	job->plan = plan_make(p);
	job->memory = o->memory != 0 ? o->memory : p->memory != 0 ?
	    p->memory : mem_default_budget();
	xmalloc_use_huge(memcg_limit() == UINT64_MAX);
	/* On several hosts, the budget is each host's, for its workers. */
	job->mem_share = job->memory / (job->nhosts > 1 ? (job->nparts -
	    job->rank + job->nhosts - 1) / job->nhosts : job->nparts);
	if (o->inject.set && (o->inject.part >= job->nparts ||
	    (o->inject.point == INJECT_RECORD && o->inject.op >= p->nops)))
		run_fail(EXIT_USAGE, "--inject-crash: no partition %u or "
		    "operator %u in this job", o->inject.part, o->inject.op);
	if (o->inject.set && o->inject.point == INJECT_COMMIT &&
	    o->inject.record >= job->plan->nstages)
		run_fail(EXIT_USAGE, "--inject-crash: no stage %llu in this "
		    "job (it has %u)", (unsigned long long)o->inject.record,
		    (unsigned int)job->plan->nstages);
	if ((out = o->output) != NULL) {
		/* "res/" is the folder res. */
		while ((len = strlen(out)) > 1 && out[len - 1] == '/')
			out[len - 1] = '\0';
		dir = path_dirname(out);
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
			run_fail(EXIT_USAGE, "%s: no such folder for the output",
			    dir);
		free(dir);
		/* Without --job-dir nothing can be resumed: refuse before
		 * making anything. */
		if (o->jobdir == NULL && !o->force && access(out, F_OK) == 0)
			run_fail(EXIT_USAGE, "%s: output exists (use --force "
			    "to replace it)", out);
	}
	run_check_fds(job->nparts, p->ninputs);
}

/*
 * Make the job directory, lock it, fix the inputs and open the journal.
 * Returns 1 when the job is complete, its run's output in place; else 0.
 */
static int
run_prepare(struct job *job)
{
	const struct run_opts	*o = job->opts;
	char			*cause, *tmp, *kept;
	int			 ours;

	if (job->jobdir == NULL)
		job_dir(job);
	/* Lock first: copying standard input must not touch a running
	 * job's copy. */
	if (journal_lock(job, &cause) != 0) {
		job->run.jobdir_made = 0;	/* it is another run's */
		run_fail(EXIT_JOB_FAILED, "%s", cause);
	}
	job_inputs(job);
	if (journal_open(job, &cause) != 0)
		run_fail(EXIT_JOB_FAILED, "%s", cause);
	/* Before any worker of a resumed job starts. */
	if (journal_check_inputs(job, &cause) != 0)
		run_fail(EXIT_USAGE, "%s", cause);
	if (journal_note_run(job) != 0)
		run_fail_errno(EXIT_JOB_FAILED, "%s/journal", job->jobdir);
	job_stream_files(job);
	/* A rank's command line is mpirun's or srun's to give, or that of
	 * forkflow run --pool, which a pool's rank is told. */
	job->resume_hint = job->nhosts > 1 ? xstrdup(run_pool_hint != NULL ?
	    run_pool_hint : "the job's command again (forkflow run --hosts or "
	    "--pool, mpirun or srun)") : run_resume_hint(o, job->jobdir);
	if (o->output == NULL)
		return (0);
	if (job->rank != 0) {
		/* Its parts go to rank 0, which writes the output. */
		job->outtmp = jd_file(job->jobdir, "parts");
		if (mkdir(job->outtmp, 0700) != 0 && errno != EEXIST)
			run_fail_errno(EXIT_JOB_FAILED, "%s", job->outtmp);
		return (0);
	}
	tmp = output_tmp_name(job);
	kept = jd_file(job->jobdir, JD_OUTPUT);
	/*
	 * The job was done: the output in place is its run's (the
	 * supervisor may have died between the rename and the journal
	 * line).  Its temporary folder may hold the output it replaced.
	 */
	ours = output_ours(job, o->output);
	if (ours == 1) {
		(void)rm_tree(tmp);
		(void)rm_tree(kept);
		if (!job->run.output_done &&
		    journal_note(job, "output committed\n") != 0)
			log_warn("journal");
		free(tmp);
		free(kept);
		return (1);
	}
	/* An earlier run's output of this job may be replaced. */
	job->run.replace_own = ours == 2;
	if (!o->force && !job->run.replace_own && access(o->output, F_OK) == 0) {
		free(tmp);
		free(kept);
		run_fail(EXIT_USAGE, "%s: output exists (use --force to "
		    "replace it)", o->output);
	}
	job->outtmp = tmp;
	/*
	 * A resumed job keeps the parts it committed, in its temporary
	 * folder, or in its job directory after another job's output won
	 * the folder.
	 */
	if (!job->run.resumed && rm_tree(job->outtmp) != 0)
		run_fail_errno(EXIT_JOB_FAILED, "%s", job->outtmp);
	if (job->run.resumed && access(job->outtmp, F_OK) != 0)
		(void)rename(kept, job->outtmp);
	(void)rm_tree(kept);
	free(kept);
	if (mkdir(job->outtmp, 0755) != 0 && errno != EEXIST)
		run_fail_errno(EXIT_JOB_FAILED, "%s", job->outtmp);
	return (0);
}

/*
 * run_prepare, on each host: the job is complete when rank 0 finds its
 * output in place, and every host starts at the earliest stage any host
 * has not committed (a host may have died between the barrier and its
 * journal's line).
 */
static int
run_prepare_hosts(struct job *job)
{
	unsigned int	first;
	int		done;

	done = run_prepare(job);
	if (job->nhosts <= 1)
		return (done);
	/* Hosts that read different bytes would lose or double records. */
	if (!mpi_same(job->total) || !mpi_same(job->nfiles))
		run_fail(EXIT_USAGE, "host %s: the hosts do not read the same "
		    "input (%zu files, %llu bytes here)",
		    mpi_host((int)job->rank), job->nfiles,
		    (unsigned long long)job->total);
	if (mpi_worst(done) == 1)
		return (1);
	first = (unsigned int)-mpi_worst(-(int)job->run.first_stage);
	if (first < job->run.first_stage) {
		log_info("stage %u is not committed on every host: from it",
		    first);
		job->run.first_stage = first;
	}
	return (0);
}

/* A fatal error of libev's (it cannot make a pipe): fail cleanly. */
static void
run_ev_syserr(const char *msg)
{
	int	saved_errno = errno;

	/* Once the supervisor runs, the job's work is worth resuming. */
	if (run_job_now != NULL && run_job_now->resume_hint != NULL) {
		run_job_now->keep = 1;
		warnx("the job directory %s is kept; to resume, run %s",
		    run_job_now->jobdir, run_job_now->resume_hint);
	}
	errno = saved_errno;
	run_fail_errno(EXIT_JOB_FAILED, "libev: %s", msg);
}

/*
 * On several hosts, after this host's stages: a host that failed aborts
 * the job on every host (the others wait for it at a barrier); else the
 * parts and counters go to rank 0.  Returns the status to go on with.
 */
static int
run_hosts_end(struct job *job, int status)
{
	char	*cause;

	if (status == 0 && mpi_gather_parts(job, job->opts->shuffle_timeout,
	    &cause) != 0) {
		log_warnx("host %s: gathering the parts: %s",
		    mpi_host((int)job->rank), cause);
		free(cause);
		status = EXIT_JOB_FAILED;
	}
	if (status != 0) {
		job->keep = 1;
		job_end(job, status);
		events_close();
		log_warnx("host %s: the job failed; it is aborted on every "
		    "host (the job directory %s is kept)",
		    mpi_host((int)job->rank), job->jobdir);
		mpi_abort(status);
	}
	return (0);
}

/* Run the job's stages, present the output, and end the job. */
static int
run_execute(struct job *job)
{
	const struct run_opts	*o = job->opts;
	sigset_t		 set;
	int			 status;

	if (job->run.resumed)
		log_info("resuming the job in %s from stage %u", job->jobdir,
		    job->run.first_stage);
	log_info("job %016llx: %u partitions, %zu stages, %llu bytes of "
	    "input in %zu files, job directory %s",
	    (unsigned long long)job->job_id, job->nparts, job->plan->nstages,
	    (unsigned long long)job->total, job->nfiles, job->jobdir);
	if (events_open(job) != 0)
		log_warn("%s/events.jsonl", job->jobdir);
	job_save_program(job);
	event_job_start(job);
	event_journal_damaged(job);

	/* The supervisor takes the stop signals over from here. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (run_signal != 0)
		job->run.interrupted = (int)run_signal;
	status = supervisor_run(job);
	run_catch_signals();
	sigprocmask(SIG_UNBLOCK, &set, NULL);

	if (status == 0)
		status = job_verify(job);
	if (job->nhosts > 1)
		status = run_hosts_end(job, status);
	if (status == 0 && job->rank == 0)
		status = job_output(job);
	if (status == 0 && journal_note(job, "output committed\n") != 0)
		log_warn("journal");
	if (status == 0 && job->run.skipped > 0 && !o->quiet)
		print_skipped(job);
	job_end(job, status);
	events_close();
	if (status != 0 && job->outtmp != NULL)
		(void)rm_tree(job->outtmp);
	if (status == 0) {
		/* A --job-dir is the user's: kept after success. */
		job->keep = o->keep || o->jobdir != NULL;
	} else if (!job->run.permanent && !job->run.stdout_closed &&
	    (o->jobdir != NULL || job_resumable(job))) {
		/* Work to resume from, or a job directory the user named
		 * (where `forkflow status` tells why it failed). */
		job->keep = 1;
		if (!o->quiet)
			log_warnx("the job directory %s is kept", job->jobdir);
	}
	if (status == 0 && o->verbose)
		log_info("done: %llu records in, %llu out, %zu stages, "
		    "%.3f s, supervisor peak RSS %ld KiB",
		    (unsigned long long)job->run.records_in,
		    (unsigned long long)job->run.records_out, job->plan->nstages,
		    mono_now() - job->run.started, peak_rss_kib());
	return (status);
}

/*
 * Does --progress (always, or auto on a terminal without -q) draw the
 * display on this process's standard error?
 */
int
run_draws(const struct run_opts *o)
{
	return (o->progress == PROGRESS_ALWAYS || (o->progress ==
	    PROGRESS_AUTO && !o->quiet && isatty(STDERR_FILENO)));
}

/*
 * The bytes of results this process wrote on its standard output since
 * the last call, and in *streamed those it sent on the launcher's
 * connection: a pool's rank 0 says how many its job wrote.
 */
uint64_t
run_stdout_take(uint64_t *streamed)
{
	uint64_t	n = run_stdout;

	*streamed = run_streamed;
	run_stdout = run_streamed = 0;
	return (n);
}

/*
 * The next jobs of this pool's rank are resumed by hint (forkflow run
 * --pool's command line, a string of the caller's), or NULL: not known.
 */
void
run_pool_job(const char *hint)
{
	run_pool_hint = hint;
}

/* Run a job as the options say: `forkflow run`, or streaming's. */
int
run_job(struct run_opts *o)
{
	struct job	job;
	int		status;

	if (o->pool != NULL)
		return (pool_submit(o));
	if (o->hosts != NULL || o->hostfile != NULL)
		return (mpi_launch(o));
	/* A pool's rank runs one job after the other. */
	run_signal = 0;
	if (o->progress == PROGRESS_RELAY && !o->mpi)
		errx(EXIT_USAGE, "--progress relay is for the ranks of "
		    "forkflow run --hosts (--mpi)");
	memset(&job, 0, sizeof job);
	job.opts = o;
	job.run.started = mono_now();
	if (o->mpi) {
		char	*cause;

		if (mpi_start(&job, &cause) != 0)
			errx(EXIT_USAGE, "%s", cause);
	}
	run_job_now = &job;
	run_catch_signals();
	ev_set_syserr_cb(run_ev_syserr);
	log_init(o->verbose, "forkflow");
	if (o->log_file != NULL && log_open_file(o->log_file) != 0)
		run_fail_errno(EXIT_USAGE, "%s", o->log_file);
	job.display = o->progress == PROGRESS_RELAY || run_draws(o);
	/* On several hosts rank 0 alone draws: it hears every host's
	 * workers, and one screen holds one display. */
	if (job.nhosts > 1 && job.rank != 0)
		job.display = 0;
	job.status_interval = o->progress == PROGRESS_NEVER || o->quiet ? 0 :
	    o->status_interval;

	if (o->gen == NULL)
		run_load(&job);
	else {
		/* The program lives in the job directory: make it first. */
		job_dir(&job);
		o->program = job_gen_program(&job);
		run_load(&job);
	}
	run_check_signal();
	if (run_prepare_hosts(&job) == 1) {
		/* Nothing more is run, but what was found is shown. */
		if (job.run.journal_bad != 0 && events_open(&job) == 0) {
			event_journal_damaged(&job);
			events_close();
		}
		if (!o->quiet && job.rank == 0)
			log_warnx("the job in %s is complete; its output is "
			    "%s", job.jobdir, o->output);
		run_free(&job);
		mpi_end();
		return (0);
	}
	run_check_signal();
	status = run_execute(&job);
	run_free(&job);
	mpi_end();
	return (status);
}
