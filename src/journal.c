/* forkflow: see LICENSE. */
/*
 * The job directory and its journal.  Everything a job writes besides its
 * output lives in the job directory: the lock, the journal, the workers'
 * status pages and checkpoints, the shuffle files of each stage and the
 * sorted parts.  The journal is a text file to which the supervisor appends
 * one line per event that must survive it: the job's fingerprint when the
 * job starts, and each stage once every worker has committed it.
 */

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "forkflow.h"

static int
job_mkdir(const struct job *job, const char *name, char **cause)
{
	char	*path = jd_file(job->jobdir, name);

	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	free(path);
	return (0);
}

/*
 * Take the lock of the job directory.  The lock file holds the pid of the
 * supervisor.  When that supervisor is dead, its workers may still hold
 * the lock for a moment (they die with it, by PR_SET_PDEATHSIG): wait for
 * them a little.
 */
int
journal_lock(struct job *job, char **cause)
{
	char		*path, line[32];
	long		 pid = 0;
	ssize_t		 n;
	int		 fd, tries;

	path = jd_file(job->jobdir, JD_LOCK);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	free(path);
	for (tries = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; tries++) {
		n = pread(fd, line, sizeof line - 1, 0);
		line[n > 0 ? n : 0] = '\0';
		pid = strtol(line, NULL, 10);
		if ((pid > 0 && kill((pid_t)pid, 0) == 0) || tries == 500) {
			xasprintf(cause, "job directory %s is in use by another "
			    "forkflow (pid %ld)", job->jobdir, pid);
			close(fd);
			return (-1);
		}
		usleep(10000);
	}
	job->run.lockfd = fd;
	n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
		xasprintf(cause, "job directory %s: %s", job->jobdir,
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/*
 * Each line of the journal ends in " #SUM", the XXH3 of what comes before
 * it: a line that fails its check ends the journal there, as a line cut
 * short does, and what it and the lines after it said is done again.
 */
static char *
journal_line(const char *text, size_t len)
{
	char	*line;

	xasprintf(&line, "%.*s #%016llx\n", (int)len, text,
	    (unsigned long long)XXH3_64bits(text, len));
	return (line);
}

/* Check a line (without its newline) and cut its sum off: 0 or -1. */
static int
journal_check(char *line)
{
	char			*p = strrchr(line, '#');
	unsigned long long	 sum;
	char			*end;

	if (p == NULL || p == line || p[-1] != ' ' || strlen(p + 1) != 16)
		return (-1);
	errno = 0;
	sum = strtoull(p + 1, &end, 16);
	if (errno != 0 || *end != '\0' ||
	    XXH3_64bits(line, (size_t)(p - 1 - line)) != sum)
		return (-1);
	p[-1] = '\0';
	return (0);
}

/*
 * Load partition p's checkpoint, if the job directory has a valid one of
 * this job (none is made).  Returns 1, or 0.
 */
int
job_ckpt_load(const struct job *job, unsigned int p, struct ckpt_state *cs)
{
	struct ckpt	*c;
	char		*path;
	int		 r = 0;

	path = jd_ckpt(job->jobdir, p);
	if (access(path, F_OK) == 0 &&
	    (c = ckpt_open(path, p, job->job_id)) != NULL) {
		r = ckpt_load(c, cs);
		ckpt_close(c);
	}
	free(path);
	return (r);
}

/* Does the job directory hold a valid checkpoint of this job? */
static int
journal_ckpts_ours(const struct job *job)
{
	struct ckpt_state	cs;
	unsigned int		p;

	for (p = 0; p < job->nparts; p++) {
		if (job_ckpt_load(job, p, &cs))
			return (1);
	}
	return (0);
}

/* A record skipped by an earlier run: skip it again. */
static void
journal_read_skip(struct job *job, const char *line)
{
	struct skip	 x;

	memset(&x, 0, sizeof x);
	if (sscanf(line, "skip %u %u %" SCNu64 " %" SCNd64 " %" SCNd64
	    " %" SCNu64, &x.part, &x.stage, &x.record, &x.k, &x.v,
	    &x.pos) != 6)
		return;
	job->run.skips = xgrow(job->run.skips, job->run.nskips,
	    sizeof *job->run.skips);
	job->run.skips[job->run.nskips++] = x;
}

/* The fingerprint an earlier run took of an input. */
static void
journal_read_input(struct job *job, const char *line)
{
	struct input_fp	 fp;
	size_t		 i;

	memset(&fp, 0, sizeof fp);
	if (sscanf(line, "input %zu %" SCNu64 " %" SCNu64 " %" SCNu64 " %"
	    SCNd64 ".%ld", &i, &fp.dev, &fp.ino, &fp.size, &fp.mtime_sec,
	    &fp.mtime_nsec) != 6 || i >= job->nfiles)
		return;
	fp.set = 1;
	if (job->run.journal_fps == NULL)
		job->run.journal_fps = xcalloc(job->nfiles,
		    sizeof *job->run.journal_fps);
	job->run.journal_fps[i] = fp;
}

/*
 * Read an existing journal: it must be of this job; count the stages it
 * has as committed.  *whole is the length of its whole lines: what comes
 * after is a line a crash cut short.  Returns 1 if there is a journal with
 * a whole first line, 0 if not, -1 with *cause set if it belongs to
 * another job.
 */
static int
journal_read(struct job *job, const char *path, off_t *whole, char **cause)
{
	FILE			*f;
	char			*line = NULL;
	size_t			 cap = 0;
	ssize_t			 n;
	unsigned long long	 id;
	unsigned int		 s, lineno = 0;
	size_t			 len;
	char			*nl;
	int			 first = 1, bad;

	*whole = 0;
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return (0);
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	while ((n = getline(&line, &cap, f)) != -1) {
		if ((nl = memchr(line, '\n', (size_t)n)) == NULL)
			break;		/* a line cut short by a crash */
		len = (size_t)n;
		*nl = '\0';
		/* A NUL before the newline is damage too. */
		bad = strlen(line) + 1 != len || journal_check(line) != 0;
		/* A damaged first line that still names this job, or
		 * checkpoints of this job, say the directory is ours. */
		if (bad && first && !journal_ckpts_ours(job) &&
		    (sscanf(line, "job %llx", &id) != 1 ||
		    id != job->job_id)) {
			/* Whose directory this is, nothing here says. */
			xasprintf(cause, "job directory %s holds another job, "
			    "or a journal damaged in its first line (%s, at "
			    "offset 0), and no checkpoint of this job: use "
			    "another --job-dir, or remove it", job->jobdir,
			    path);
			goto refuse;
		}
		if (bad) {
			log_warnx("%s: line %u damaged (at offset %llu); what "
			    "it and the lines after it recorded is done again",
			    path, lineno + 1, (unsigned long long)*whole);
			job->run.journal_bad = (uint64_t)*whole + 1;
			break;
		}
		lineno++;
		*whole += (off_t)len;
		if (first) {
			first = 0;
			if (sscanf(line, "job %llx", &id) != 1 ||
			    id != job->job_id) {
				xasprintf(cause, "job directory %s holds "
				    "another job: its program, partitions or "
				    "input differ from this one's; use another "
				    "--job-dir, or remove it", job->jobdir);
				goto refuse;
			}
			continue;
		}
		if (sscanf(line, "stage %u committed", &s) == 1 &&
		    s == job->run.first_stage) {
			job->run.first_stage = s + 1;
			job->run.committed = s + 1;
		} else if (strncmp(line, "skip ", 5) == 0)
			journal_read_skip(job, line);
		else if (strncmp(line, "output committed", 16) == 0)
			job->run.output_done = 1;
		else if (strncmp(line, "run ", 4) == 0)
			(void)sscanf(line, "run %" SCNx64, &job->run.run_id);
		else if (strncmp(line, "input ", 6) == 0)
			journal_read_input(job, line);
	}
	free(line);
	fclose(f);
	/*
	 * The last stage runs again: its parts are in the output folder
	 * or the job directory, by where the output goes, and workers that
	 * committed it for this output find theirs and do nothing.
	 */
	if (job->run.first_stage >= job->plan->nstages)
		job->run.first_stage = job->plan->nstages - 1;
	return (first ? 0 : 1);

refuse:
	free(line);
	fclose(f);
	return (-1);
}

/*
 * Lock the job directory, make its folders, and open its journal: start
 * it, or, when it is there, check that it is this job's and find where to
 * resume.  Returns 0, or -1 with *cause set.
 */
int
journal_open(struct job *job, char **cause)
{
	char		*path, *stage;
	unsigned int	 s;
	off_t		 whole;
	int		 fd, r, made;

	path = jd_file(job->jobdir, JD_JOURNAL);
	if ((r = journal_read(job, path, &whole, cause)) == -1) {
		free(path);
		return (-1);
	}
	job->run.resumed = r;
	if (job_mkdir(job, JD_STATUS, cause) != 0 ||
	    job_mkdir(job, JD_CKPT, cause) != 0 ||
	    job_mkdir(job, JD_COUNTERS, cause) != 0 ||
	    job_mkdir(job, JD_OUT, cause) != 0) {
		free(path);
		return (-1);
	}
	for (s = 0; s < job->plan->nstages; s++) {
		stage = jd_stage(NULL, s);
		made = job_mkdir(job, stage, cause);
		free(stage);
		if (made != 0) {
			free(path);
			return (-1);
		}
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	free(path);
	job->run.journalfd = fd;
	/* Lines are appended after the last whole one, never after a cut
	 * one (a cut first line leaves nothing: the journal starts again). */
	if (ftruncate(fd, whole) != 0) {
		xasprintf(cause, "journal: %s", strerror(errno));
		return (-1);
	}
	if (r == 1)
		return (0);
	if (journal_note(job, "job %016llx partitions %u stages %zu\n",
	    (unsigned long long)job->job_id, job->nparts,
	    job->plan->nstages) != 0) {
		xasprintf(cause, "journal: %s", strerror(errno));
		return (-1);
	}
	return (0);
}

/* Append a line to the journal, synced with --durable. */
int
journal_note(struct job *job, const char *fmt, ...)
{
	va_list	 ap;
	char	*line, *text;
	size_t	 len;
	int	 r;

	va_start(ap, fmt);
	len = (size_t)xvasprintf(&text, fmt, ap);
	va_end(ap);
	if (len > 0 && text[len - 1] == '\n')
		len--;
	line = journal_line(text, len);
	free(text);
	r = write_all(job->run.journalfd, line, strlen(line));
	free(line);
	if (r == 0 && job->opts->durable && fsync(job->run.journalfd) != 0)
		r = -1;
	return (r);
}

#define USED_MAGIC	"FFUSED1"

struct used_hdr {
	char		magic[8];
	uint32_t	nparts;
	uint32_t	pad;
	uint64_t	sum;		/* XXH3 of the matrix */
}; /* followed by nparts rows of (nparts + 7) / 8 bytes */

/*
 * Keep which partitions' outputs of stage s have records for which: a row
 * per writer, a bit per reader.  The readers of stage s + 1 open only the
 * files with records for them, and a supervisor that resumes the job
 * finds this again.  Returns 0, or -1 with errno set.
 */
int
journal_save_used(struct job *job, unsigned int s, const uint8_t *m)
{
	struct used_hdr	 hdr;
	size_t		 len = (size_t)job->nparts * ((job->nparts + 7) / 8);
	char		*path, *tmp;
	int		 fd, r = -1, saved_errno;

	memset(&hdr, 0, sizeof hdr);
	memcpy(hdr.magic, USED_MAGIC, sizeof hdr.magic);
	hdr.nparts = job->nparts;
	hdr.sum = XXH3_64bits(m, len);
	path = jd_used(job->jobdir, s);
	xasprintf(&tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) != -1) {
		if (write_all(fd, &hdr, sizeof hdr) == 0 &&
		    write_all(fd, m, len) == 0 &&
		    (!job->opts->durable || fsync(fd) == 0))
			r = 0;
		saved_errno = errno;
		if (close(fd) != 0 && r == 0) {
			r = -1;
			saved_errno = errno;
		}
		if (r == 0 && rename(tmp, path) != 0) {
			r = -1;
			saved_errno = errno;
		}
		errno = saved_errno;
	}
	free(tmp);
	free(path);
	return (r);
}

/*
 * The matrix journal_save_used() kept for stage s, or NULL when there is
 * none that is whole (then every reader opens every file, as it may).
 */
uint8_t *
journal_load_used(const struct job *job, unsigned int s)
{
	struct used_hdr	 hdr;
	size_t		 len = (size_t)job->nparts * ((job->nparts + 7) / 8);
	uint8_t		*m;
	char		*path;
	int		 fd;

	path = jd_used(job->jobdir, s);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return (NULL);
	m = xmalloc(len + 1);
	if (pread(fd, &hdr, sizeof hdr, 0) != sizeof hdr ||
	    memcmp(hdr.magic, USED_MAGIC, sizeof hdr.magic) != 0 ||
	    hdr.nparts != job->nparts ||
	    pread(fd, m, len, sizeof hdr) != (ssize_t)len ||
	    XXH3_64bits(m, len) != hdr.sum) {
		free(m);
		m = NULL;
	}
	close(fd);
	return (m);
}

/* Record that every worker has committed stage s. */
int
journal_commit_stage(struct job *job, unsigned int s)
{
	if (journal_note(job, "stage %u committed\n", s) != 0)
		return (-1);
	if (job->run.committed < s + 1)
		job->run.committed = s + 1;
	return (0);
}

/*
 * Does the job directory hold work that a run of the same job would not
 * do again: a committed stage, or a worker's checkpoint?
 */
int
job_resumable(const struct job *job)
{
	struct ckpt_state	cs;
	unsigned int		p;

	if (job->run.committed > 0)
		return (1);
	for (p = 0; p < job->nparts; p++) {
		if (job_ckpt_load(job, p, &cs) && (cs.stages_done > 0 ||
		    cs.phase != PHASE_NONE))
			return (1);
	}
	return (0);
}

/*
 * Are the inputs what they were when the job started, as the journal has
 * them?  Checked before a resumed job's workers start: a changed input
 * would give a result of neither version.  Returns 0, or -1 with *cause
 * naming the file.
 */
int
journal_check_inputs(const struct job *job, char **cause)
{
	const struct input_file	*f;
	const char		*what;
	size_t			 i;

	if (job->run.journal_fps == NULL)
		return (0);
	for (i = 0; i < job->nfiles; i++) {
		f = &job->files[i];
		if (!job->run.journal_fps[i].set || !f->fp.set || f->spooled)
			continue;
		what = input_fp_differs(&job->run.journal_fps[i], &f->fp);
		if (what == NULL)
			continue;
		xasprintf(cause, "%s: changed since the job started (%s "
		    "differs); the job cannot go on; to run it on the file as "
		    "it is now, remove %s or use another --job-dir", f->name,
		    what, job->jobdir);
		return (-1);
	}
	return (0);
}

/*
 * Note what every run of the job must find again, unless an earlier run
 * noted it: a random number for the job's run, which names its temporary
 * output folder and goes into its _SUCCESS, and the fingerprint of each
 * input (a copy in the job directory is the job's own, and has none).
 * Returns 0, or -1 with errno set.
 */
int
journal_note_run(struct job *job)
{
	const struct input_fp	*fp;
	size_t			 i;

	if (job->run.run_id == 0) {
		if (getentropy(&job->run.run_id, sizeof job->run.run_id) != 0)
			job->run.run_id = XXH3_64bits_withSeed(job->jobdir,
			    strlen(job->jobdir), (uint64_t)getpid() ^
			    (uint64_t)time(NULL));
		job->run.run_id |= 1;
		if (journal_note(job, "run %016" PRIx64 "\n", job->run.run_id) != 0)
			return (-1);
	}
	for (i = 0; i < job->nfiles; i++) {
		fp = &job->files[i].fp;
		if (!fp->set || job->files[i].spooled ||
		    (job->run.journal_fps != NULL && job->run.journal_fps[i].set))
			continue;
		if (journal_note(job, "input %zu %" PRIu64 " %" PRIu64 " %"
		    PRIu64 " %" PRId64 ".%09ld\n", i, fp->dev, fp->ino,
		    fp->size, fp->mtime_sec, fp->mtime_nsec) != 0)
			return (-1);
	}
	return (0);
}
