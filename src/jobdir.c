/* forkflow: see LICENSE. */
/*
 * The job directory's layout, named in one place.  The layout is a
 * contract on disk: a resumed run, `forkflow status` and `forkflow report`
 * find the files of an earlier run by these names.  Each function gives
 * the name of one kind of file, inside dir, or relative to the job
 * directory when dir is NULL (as messages and events name them); the
 * caller frees it.  The folders a job makes are in jd_folders().
 */

#include <stdarg.h>
#include <stdlib.h>

#include "forkflow.h"

static char	*jd_name(const char *, const char *, ...) printflike(2, 3);

static char *
jd_name(const char *dir, const char *fmt, ...)
{
	va_list	 ap;
	char	*rel, *path;

	va_start(ap, fmt);
	xvasprintf(&rel, fmt, ap);
	va_end(ap);
	if (dir == NULL)
		return (rel);
	xasprintf(&path, "%s/%s", dir, rel);
	free(rel);
	return (path);
}

/* A file of the job directory with a fixed name (JD_JOURNAL ...). */
char *
jd_file(const char *dir, const char *name)
{
	return (jd_name(dir, "%s", name));
}

/* The folder of a streaming task: stage, partition and attempt. */
char *
jd_task(const char *dir, unsigned int s, unsigned int p, unsigned int a)
{
	return (jd_name(dir, JD_TASKS "/s%u-p%u-a%u", s, p, a));
}

/*
 * The log of a task, stage s of partition p at attempt a: what its
 * commands wrote on their standard error, as Hadoop's userlogs keep it.
 */
char *
jd_log(const char *dir, unsigned int s, unsigned int p, unsigned int a)
{
	return (jd_name(dir, JD_LOGS "/s%u-p%u-a%u", s, p, a));
}

/* The folder of stage s's run files. */
char *
jd_stage(const char *dir, unsigned int s)
{
	return (jd_name(dir, "s%u", s));
}

/* The run file of partition p in stage s (.tmp while written). */
char *
jd_run(const char *dir, unsigned int s, unsigned int p)
{
	return (jd_name(dir, "s%u/w%u.data", s, p));
}

/* The lock taken to produce that run file again. */
char *
jd_redo_lock(const char *dir, unsigned int s, unsigned int p)
{
	return (jd_name(dir, "s%u/w%u.redo", s, p));
}

/*
 * The runs partition p's reduce spilled in stage s (spill.c); ".tmp" while
 * written, as every run file.
 */
char *
jd_spill(const char *dir, unsigned int s, unsigned int p)
{
	return (jd_name(dir, "s%u/w%u.spill", s, p));
}

/* The groups partition p's reduce wrote in stage s. */
char *
jd_reduced(const char *dir, unsigned int s, unsigned int p)
{
	return (jd_name(dir, "s%u/w%u.reduced", s, p));
}

/* Which partitions' run files of stage s hold pairs for which. */
char *
jd_used(const char *dir, unsigned int s)
{
	return (jd_name(dir, "s%u/used", s));
}

/* Part p of the result, in the job directory or an output folder. */
char *
jd_part(const char *dir, unsigned int p)
{
	return (jd_name(dir, "part-%05u", p));
}

/* Part p of the result in the job directory, without -o. */
char *
jd_out_part(const char *dir, unsigned int p)
{
	return (jd_name(dir, JD_OUT "/part-%05u", p));
}

/* The runs of the last stage of partition p, before its part. */
char *
jd_part_runs(const char *dir, unsigned int p)
{
	return (jd_name(dir, JD_OUT "/part-%05u.runs", p));
}

/* The counters of partition p in stage s, at its end. */
char *
jd_counters(const char *dir, unsigned int p, unsigned int s)
{
	return (jd_name(dir, JD_COUNTERS "/%u.%u", p, s));
}

/* The counters of partition p in stage s as of its checkpoint g. */
char *
jd_counters_ckpt(const char *dir, unsigned int p, unsigned int s,
    uint64_t g)
{
	return (jd_name(dir, JD_COUNTERS "/%u.%u.g%llu", p, s,
	    (unsigned long long)g));
}

/* The checkpoint file of partition p. */
char *
jd_ckpt(const char *dir, unsigned int p)
{
	return (jd_name(dir, JD_CKPT "/%u", p));
}

/* The checkpoint of a process that produces a file of p again. */
char *
jd_ckpt_redo(const char *dir, unsigned int p)
{
	return (jd_name(dir, JD_CKPT "/%u.redo", p));
}

/* The status page of partition p's worker. */
char *
jd_status(const char *dir, unsigned int p)
{
	return (jd_name(dir, JD_STATUS "/%u", p));
}

/* The copy of input i that a job keeps (standard input, a FIFO ...). */
char *
jd_input_copy(const char *dir, size_t i)
{
	return (jd_name(dir, "input-%zu", i));
}
