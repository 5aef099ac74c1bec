/* forkflow: see LICENSE. */
/*
 * The job page (status/job) and what is drawn from it: the status block
 * printed every --status-interval seconds when standard error is no
 * terminal, and `forkflow status`, in text or JSON.  Both show the same
 * thing: the job page of the supervisor with the status page of each
 * worker (struct status_page), as they stand.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "forkflow.h"

static const char *worker_states[] = {
	"starting", "running", "waiting", "backoff", "done", "failed",
	"stopped", "on another host"
};

static const char *job_states[] = {
	"running", "done", "failed", "interrupted"
};

size_t
jobpage_size(unsigned int nparts)
{
	return (sizeof (struct job_page) + nparts * sizeof (struct jp_worker));
}

/* Make the job page of a job of nparts partitions, zeroed. */
struct job_page *
jobpage_map(const char *path, unsigned int nparts)
{
	struct job_page	*jp;
	size_t		 len = jobpage_size(nparts);

	(void)unlink(path);
	if ((jp = map_shared_file(path, len, 1)) == NULL)
		return (NULL);
	memset(jp, 0, len);
	jp->nparts = nparts;
	memcpy(jp->magic, JOBPAGE_MAGIC, sizeof JOBPAGE_MAGIC);
	jp->version = JOBPAGE_VERSION;
	return (jp);
}

/*
 * Read a job page, as another process: a copy, taken with read(2), so
 * that the reader never writes to the job directory.
 */
struct job_page *
jobpage_read(const char *path, char **cause)
{
	struct job_page	 head, *jp;
	size_t		 len;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (NULL);
	}
	if (pread(fd, &head, sizeof head, 0) != (ssize_t)sizeof head ||
	    memcmp(head.magic, JOBPAGE_MAGIC, sizeof JOBPAGE_MAGIC) != 0 ||
	    head.version != JOBPAGE_VERSION || head.nparts == 0 ||
	    head.nparts > PARTS_MAX || head.nstages == 0 ||
	    head.nstages > JOBPAGE_STAGES_MAX || head.stage > head.nstages) {
		xasprintf(cause, "%s: not a forkflow job page", path);
		close(fd);
		return (NULL);
	}
	len = jobpage_size(head.nparts);
	jp = xmalloc(len);
	if (pread(fd, jp, len, 0) != (ssize_t)len) {
		xasprintf(cause, "%s: cut short", path);
		free(jp);
		close(fd);
		return (NULL);
	}
	close(fd);
	return (jp);
}

/*
 * A job whose supervisor has gone without a word (killed, or the machine
 * stopped): it is interrupted, its workers are gone with it, and it ended
 * when its page was last brought up to date.
 */
void
jobpage_orphan(struct job_page *jp)
{
	uint32_t	i;

	if (jp->state != JS_RUNNING)
		return;
	jp->state = JS_INTERRUPTED;
	jp->exit_status = -1;
	jp->ended = jp->updated;
	for (i = 0; i < jp->nparts; i++) {
		if (jp->w[i].state != JW_DONE && jp->w[i].state != JW_FAILED &&
		    jp->w[i].state != JW_ELSEWHERE)
			jp->w[i].state = JW_STOPPED;
	}
}

const char *
jobpage_worker_state(uint32_t s)
{
	if (s >= sizeof worker_states / sizeof worker_states[0])
		return ("unknown");
	return (worker_states[s]);
}

const char *
jobpage_job_state(uint32_t s)
{
	if (s >= sizeof job_states / sizeof job_states[0])
		return ("unknown");
	return (job_states[s]);
}

/* Where stage s stands. */
static const char *
stage_state(const struct job_page *jp, uint32_t s)
{
	if (jp->state == JS_DONE || s < jp->stage)
		return ("completed");
	if (s > jp->stage)
		return ("pending");
	if (jp->state == JS_RUNNING)
		return ("running");
	if (jp->state == JS_INTERRUPTED)
		return ("interrupted");
	return ("failed");
}

/* Seconds since a worker last moved, or -1 if it is not busy. */
static double
idle_seconds(const struct jp_worker *w, double now)
{
	if (w->state != JW_RUNNING || w->last_progress == 0)
		return (-1);
	return (now - w->last_progress);
}

/*
 * The status block: the job, its stages, and a line per worker.  sp[i]
 * may be NULL (no status page).
 */
char *
status_block(const struct job_page *jp, struct status_page * const *sp,
    double now)
{
	char		*s, *t;
	size_t		 len;
	FILE		*f;
	uint32_t	 i, n[5] = { 0, 0, 0, 0, 0 };
	double		 idle, end;
	const char	*st;

	if ((f = open_memstream(&s, &len)) == NULL)
		fatal("open_memstream");
	end = jp->ended != 0 ? jp->ended : now;
	/* Stages count from 0, as in the logs, the journal and events. */
	if (jp->state == JS_DONE)
		fprintf(f, "job %016llx: done, %.1f s, %u stage%s\n",
		    (unsigned long long)jp->job_id, end - jp->started,
		    jp->nstages, jp->nstages == 1 ? "" : "s");
	else
		fprintf(f, "job %016llx: %s, %.1f s, stage %u of %u\n",
		    (unsigned long long)jp->job_id,
		    jobpage_job_state(jp->state), end - jp->started,
		    jp->stage >= jp->nstages ? jp->nstages - 1 : jp->stage,
		    jp->nstages);
	for (i = 0; i < jp->nstages; i++) {
		st = stage_state(jp, i);
		n[st[0] == 'c' ? 2 : st[0] == 'r' ? 1 : st[0] == 'p' ? 0 :
		    st[0] == 'i' ? 4 : 3]++;
	}
	fprintf(f, "  stages: %u pending, %u running, %u completed, %u "
	    "failed", n[0], n[1], n[2], n[3]);
	if (n[4] > 0)
		fprintf(f, ", %u interrupted", n[4]);
	fputc('\n', f);
	if (jp->state != JS_RUNNING && jp->state != JS_DONE &&
	    jp->reason[0] != '\0')
		fprintf(f, "  why: %.*s\n", (int)sizeof jp->reason,
		    jp->reason);
	for (i = 0; i < jp->nparts; i++) {
		fprintf(f, "  worker %u: %s", i,
		    jobpage_worker_state(jp->w[i].state));
		if (jp->w[i].state == JW_ELSEWHERE) {
			fputc('\n', f);
			continue;
		}
		if (jp->w[i].pid > 0 && (jp->w[i].state == JW_RUNNING ||
		    jp->w[i].state == JW_WAITING))
			fprintf(f, " pid %d", jp->w[i].pid);
		if (sp[i] != NULL && jp->w[i].state == JW_RUNNING)
			fprintf(f, " stage %u operator %u, %llu records in",
			    sp[i]->stage, sp[i]->op,
			    (unsigned long long)sp[i]->records_in);
		fprintf(f, ", attempt %u", jp->w[i].attempts);
		if ((idle = idle_seconds(&jp->w[i], now)) >= 0)
			fprintf(f, ", last progress %.1f s ago", idle);
		fputc('\n', f);
	}
	if (fclose(f) != 0)
		fatal("open_memstream");
	/* One allocation of ours, freed with free(). */
	t = xstrdup(s);
	free(s);
	return (t);
}

/* The same as JSON (a json_t, for the caller to dump and free). */
void *
status_json(const struct job_page *jp, struct status_page * const *sp,
    double now, int alive)
{
	json_t		*o, *stages, *workers, *w;
	uint32_t	 i;
	double		 idle, end;

	end = jp->ended != 0 ? jp->ended : now;
	o = json_pack("{s:s, s:i, s:b, s:f, s:I, s:I, s:I, s:I}",
	    "state", jobpage_job_state(jp->state),
	    "pid", (int)jp->pid, "supervisor_alive", alive,
	    "elapsed", end - jp->started, "partitions", (json_int_t)jp->nparts,
	    "stage", (json_int_t)jp->stage,
	    "restarts", (json_int_t)jp->restarts,
	    "skipped", (json_int_t)jp->skipped);
	json_object_set_new(o, "job_id", json_sprintf("%016llx",
	    (unsigned long long)jp->job_id));
	if (jp->state != JS_RUNNING)
		json_object_set_new(o, "exit_status",
		    json_integer(jp->exit_status));
	if (jp->state != JS_RUNNING && jp->state != JS_DONE &&
	    jp->reason[0] != '\0')
		json_object_set_new(o, "reason", json_text(jp->reason,
		    strnlen(jp->reason, sizeof jp->reason)));
	stages = json_array();
	for (i = 0; i < jp->nstages; i++)
		json_array_append_new(stages, json_pack("{s:I, s:s}",
		    "stage", (json_int_t)i, "state", stage_state(jp, i)));
	json_object_set_new(o, "stages", stages);
	workers = json_array();
	for (i = 0; i < jp->nparts; i++) {
		w = json_pack("{s:I, s:s, s:I, s:I, s:I}",
		    "partition", (json_int_t)i,
		    "state", jobpage_worker_state(jp->w[i].state),
		    "attempt", (json_int_t)jp->w[i].attempts,
		    "restarts", (json_int_t)jp->w[i].restarts,
		    "stages_done", (json_int_t)jp->w[i].stages_done);
		if (jp->w[i].pid > 0 && (jp->w[i].state == JW_RUNNING ||
		    jp->w[i].state == JW_WAITING))
			json_object_set_new(w, "pid",
			    json_integer(jp->w[i].pid));
		if ((idle = idle_seconds(&jp->w[i], now)) >= 0)
			json_object_set_new(w, "since_progress",
			    json_real(idle));
		if (sp[i] != NULL) {
			json_object_set_new(w, "stage",
			    json_integer(sp[i]->stage));
			json_object_set_new(w, "operator",
			    json_integer(sp[i]->op));
			json_object_set_new(w, "records_in",
			    json_integer((json_int_t)sp[i]->records_in));
			json_object_set_new(w, "records_out",
			    json_integer((json_int_t)sp[i]->records_out));
			json_object_set_new(w, "bytes_in",
			    json_integer((json_int_t)sp[i]->bytes_in));
			json_object_set_new(w, "bytes_total",
			    json_integer((json_int_t)sp[i]->bytes_total));
			json_object_set_new(w, "checkpoints",
			    json_integer((json_int_t)sp[i]->checkpoints));
		}
		json_array_append_new(workers, w);
	}
	json_object_set_new(o, "workers", workers);
	return (o);
}

/* Mark the job page of a job that has ended with its exit status. */
void
jobpage_finish(const struct job *job, int status)
{
	struct job_page	*jp;
	char		*path;
	size_t		 len = jobpage_size(job->nparts);

	path = jd_file(job->jobdir, JD_JOBPAGE);
	jp = map_shared_file(path, len, 0);
	free(path);
	if (jp == NULL)
		return;
	jp->state = status == 0 ? JS_DONE : job->run.interrupted ?
	    JS_INTERRUPTED : JS_FAILED;
	jp->exit_status = status;
	if (status != 0 && job->run.reason != NULL)
		snprintf(jp->reason, sizeof jp->reason, "%s", job->run.reason);
	jp->ended = mono_now();
	munmap(jp, len);
}
