/* forkflow: see LICENSE. */
/*
 * The event log, JOBDIR/events.jsonl: one JSON object a line for each
 * thing that happens to a job, in the order it happens.  The supervisor
 * writes most of them; a worker writes its own checkpoints.  Each event is
 * one write(2) to a file opened with O_APPEND, so lines of several
 * processes never cut into each other.  A resumed job appends to the same
 * file, after a new "job_start".
 *
 * Every event has "t", seconds of CLOCK_MONOTONIC (the same clock in every
 * process of the machine), and "event"; the fields partition, stage,
 * operator, pid and attempt where they apply; and fields of its own.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "forkflow.h"

static int	events_fd = -1;

/* Open the job's event log for appending; forked workers inherit it. */
int
events_open(const struct job *job)
{
	char	*path, c;
	off_t	 end;

	events_close();
	path = jd_file(job->jobdir, JD_EVENTS);
	events_fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600);
	free(path);
	if (events_fd == -1)
		return (-1);
	/* A line an earlier run left cut short ends here, not in ours. */
	if ((end = lseek(events_fd, 0, SEEK_END)) > 0 &&
	    pread(events_fd, &c, 1, end - 1) == 1 && c != '\n')
		(void)write(events_fd, "\n", 1);
	return (0);
}

void
events_close(void)
{
	if (events_fd != -1)
		close(events_fd);
	events_fd = -1;
}

/* Write event o (a json_t object), whole, as a line of the log. */
void
events_put(const void *o)
{
	char	*s;
	size_t	 len;

	if (events_fd != -1 && (s = json_dumps(o, JSON_COMPACT |
	    JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))) != NULL) {
		len = strlen(s);
		s[len] = '\n';	/* over the NUL: written by length */
		(void)write(events_fd, s, len + 1);
		free(s);
	}
}

/*
 * Append an event.  extra is a json_t object of the event's own fields,
 * or NULL; the reference is taken.  An event log that cannot be written
 * loses the event, never the job.
 */
void
event_emit(const char *name, const struct evwhere *at, void *extra)
{
	json_t	*o = json_object();
	double	 t = mono_now();
	int	 saved_errno = errno;

	/* Microseconds are enough, and keep the lines short. */
	json_object_set_new(o, "t", json_real((double)(int64_t)(t * 1e6) /
	    1e6));
	json_object_set_new(o, "event", json_string(name));
	if (at != NULL) {
		if (at->part >= 0)
			json_object_set_new(o, "partition",
			    json_integer(at->part));
		if (at->stage >= 0)
			json_object_set_new(o, "stage",
			    json_integer(at->stage));
		if (at->op >= 0)
			json_object_set_new(o, "operator",
			    json_integer(at->op));
		if (at->pid > 0)
			json_object_set_new(o, "pid", json_integer(at->pid));
		if (at->attempt > 0)
			json_object_set_new(o, "attempt",
			    json_integer(at->attempt));
	}
	if (extra != NULL) {
		json_object_update(o, extra);
		json_decref(extra);
	}
	events_put(o);
	json_decref(o);
	errno = saved_errno;
}

/*
 * Read an event log into a JSON array of its events.  A line that is not
 * a JSON object (one cut short by a writer killed in the middle of it) is
 * left out, with a warning.  Times go on from one run to the next: a run
 * that starts at a time before the last one's, after the machine started
 * again, is moved to follow it.
 */
void *
events_load(const char *path, char **cause)
{
	json_t		*a, *o, *t;
	FILE		*f;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 n;
	unsigned long	 lineno = 0, bad = 0, first = 0;
	double		 shift = 0, last = 0, v;
	const char	*ev;

	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (NULL);
	}
	a = json_array();
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		o = json_loadb(line, (size_t)n, 0, NULL);
		if (o == NULL || !json_is_object(o)) {
			if (bad++ == 0)
				first = lineno;
			json_decref(o);
			continue;
		}
		if ((t = json_object_get(o, "t")) != NULL &&
		    json_is_number(t)) {
			v = json_number_value(t);
			ev = json_string_value(json_object_get(o, "event"));
			if (ev != NULL && strcmp(ev, "job_start") == 0 &&
			    v + shift < last)
				shift = last - v;
			last = v + shift;
			if (shift != 0)
				json_object_set_new(o, "t", json_real(last));
		}
		json_array_append_new(a, o);
	}
	free(line);
	fclose(f);
	if (bad > 0)
		log_warnx("%s: %lu line%s not JSON objects left out (the "
		    "first: line %lu)", path, bad, bad == 1 ? "" : "s", first);
	return (a);
}
