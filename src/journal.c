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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"

/* A path inside the job directory. */
char *
job_path(const struct job *job, const char *fmt, ...)
{
	va_list	 ap;
	char	*rel, *path;

	va_start(ap, fmt);
	xvasprintf(&rel, fmt, ap);
	va_end(ap);
	xasprintf(&path, "%s/%s", job->jobdir, rel);
	free(rel);
	return (path);
}

static int
job_mkdir(const struct job *job, const char *name, char **cause)
{
	char	*path = job_path(job, "%s", name);

	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	free(path);
	return (0);
}

/*
 * Lock the job directory, make its folders and start the journal.
 * Returns 0, or -1 with *cause set.
 */
int
journal_open(struct job *job, char **cause)
{
	char		*path, line[128];
	unsigned int	 s;
	int		 fd, n;

	path = job_path(job, "lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		xasprintf(cause, "job directory %s is in use by another "
		    "forkflow", job->jobdir);
		free(path);
		close(fd);
		return (-1);
	}
	free(path);
	job->lockfd = fd;
	n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
	(void)ftruncate(fd, 0);
	(void)pwrite(fd, line, (size_t)n, 0);

	if (job_mkdir(job, "status", cause) != 0 ||
	    job_mkdir(job, "ckpt", cause) != 0 ||
	    job_mkdir(job, "out", cause) != 0)
		return (-1);
	for (s = 0; s < job->plan->nstages; s++) {
		snprintf(line, sizeof line, "s%u", s);
		if (job_mkdir(job, line, cause) != 0)
			return (-1);
	}

	path = job_path(job, "journal");
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	free(path);
	n = snprintf(line, sizeof line, "job %016llx partitions %u stages %zu\n",
	    (unsigned long long)job->job_id, job->nparts, job->plan->nstages);
	if (write_all(fd, line, (size_t)n) != 0 ||
	    (job->durable && fsync(fd) != 0)) {
		xasprintf(cause, "journal: %s", strerror(errno));
		close(fd);
		return (-1);
	}
	job->journalfd = fd;
	return (0);
}

/* Record that every worker has committed stage s. */
int
journal_commit_stage(struct job *job, unsigned int s)
{
	char	line[64];
	int	n;

	n = snprintf(line, sizeof line, "stage %u committed\n", s);
	if (write_all(job->journalfd, line, (size_t)n) != 0)
		return (-1);
	if (job->durable && fsync(job->journalfd) != 0)
		return (-1);
	return (0);
}
