/* forkflow: see LICENSE. */
/*
 * The counters of a job, gathered when it ends: records into and out of
 * each operator, bytes read, shuffled and written, checkpoints, restarts,
 * skipped records, wall and CPU time per stage, and the user counters of
 * streaming commands.  Workers leave their share of each stage in
 * JOBDIR/counters/PART.STAGE (stream.c's format, saved with every
 * checkpoint, so work done twice counts once); the event log gives the
 * times and the restarts.  The result is JOBDIR/counters.json and the
 * block printed at the end of a run.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "forkflow.h"

/* What the partitions' files of a stage add up to. */
struct stage_sums {
	json_int_t	 in;
	json_int_t	 out;
	json_int_t	 bytes_in;
	json_int_t	 bytes_out;
	double		 cpu;
	json_int_t	 spills;	/* runs spilled past the memory budget */
	json_int_t	 spilled;	/* their bytes */
	json_int_t	 passes;	/* merge passes over them */
	json_int_t	 peak_kib;	/* the most any worker held */
};

/* One partition's counters of one stage, into the table (stream.c). */
static void
stats_load(const struct job *job, unsigned int p, unsigned int s)
{
	char	*path;

	path = jd_counters(job->jobdir, p, s);
	counters_load(path);
	free(path);
}

/*
 * Wall time of each stage, from the event log: from the first worker
 * told to run it to its commit, added over the runs of a resumed job.
 * Also counts restarts, checkpoints and damaged files found.
 */
static void
stats_events(const struct job *job, double *wall, json_int_t *restarts,
    json_int_t *ckpts, json_int_t *damaged)
{
	json_t		*a, *o;
	double		*open, t, last = 0;
	char		*path, *cause;
	const char	*ev;
	size_t		 i, n = job->plan->nstages;
	json_int_t	 s;

	path = jd_file(job->jobdir, JD_EVENTS);
	a = events_load(path, &cause);
	free(path);
	if (a == NULL) {
		log_warnx("%s", cause);
		free(cause);
		return;
	}
	open = xcalloc(n, sizeof *open);
	json_array_foreach(a, i, o) {
		ev = json_string_value(json_object_get(o, "event"));
		t = json_number_value(json_object_get(o, "t"));
		s = json_integer_value(json_object_get(o, "stage"));
		if (ev == NULL)
			continue;
		if (strcmp(ev, "restart") == 0)
			(*restarts)++;
		else if (strcmp(ev, "checkpoint") == 0)
			(*ckpts)++;
		else if (strcmp(ev, "damaged") == 0)
			(*damaged)++;
		else if (strcmp(ev, "stage_start") == 0 && s >= 0 &&
		    (size_t)s < n && open[s] == 0)
			open[s] = t;
		else if (strcmp(ev, "stage_committed") == 0 && s >= 0 &&
		    (size_t)s < n && open[s] != 0) {
			wall[s] += t - open[s];
			open[s] = 0;
		} else if (strcmp(ev, "job_start") == 0 ||
		    strcmp(ev, "job_end") == 0) {
			/* A run ended: what it left open ends with it. */
			for (s = 0; (size_t)s < n; s++) {
				if (open[s] != 0)
					wall[s] += (ev[4] == 'e' ? t : last) -
					    open[s];
				open[s] = 0;
			}
		}
		last = t;
	}
	free(open);
	json_decref(a);
}

/* An operator for the counters: "map ADD 5", without where it is. */
static json_t *
stats_op_name(const struct program *p, size_t i)
{
	char	*s, *at;
	json_t	*j;

	s = program_op_describe(p, &p->ops[i]);
	if ((at = strrchr(s, '(')) != NULL && at > s)
		at[-1] = '\0';
	j = json_string(s);
	free(s);
	return (j);
}

/* Add a streaming command's counter to the job's (a json_t object). */
static void
stats_user_add(void *arg, const char *name, int64_t value)
{
	json_t	*user = arg, *old;

	old = json_object_get(user, name);
	json_object_set_new(user, name, json_integer(value + (old != NULL ?
	    json_integer_value(old) : 0)));
}

/*
 * Add up the files of every partition of stage s, read once each: the
 * stage's records, bytes and CPU time, the records into each of its
 * operators (opin), and the streaming commands' counters (into user).
 */
static json_t *
stats_stage(const struct job *job, unsigned int s, json_int_t *opin,
    json_t *user, double wall, struct stage_sums *sum)
{
	const struct stage	*st = &job->plan->stages[s];
	char			 name[32];
	size_t			 i;
	unsigned int		 p;
	json_int_t		 k0, k1;

	counters_clear();
	sum->peak_kib = 0;
	for (p = 0; p < job->nparts; p++) {
		/* The counters add up; the peak of memory is the most. */
		k0 = counters_get(COUNTER_OWN "peak kib");
		stats_load(job, p, s);
		k1 = counters_get(COUNTER_OWN "peak kib") - k0;
		if (k1 > sum->peak_kib)
			sum->peak_kib = k1;
	}
	sum->spills = counters_get(COUNTER_OWN "spills");
	sum->spilled = counters_get(COUNTER_OWN "spilled bytes");
	sum->passes = counters_get(COUNTER_OWN "merge passes");
	sum->in = counters_get(COUNTER_OWN "records in");
	sum->out = counters_get(COUNTER_OWN "records out");
	sum->bytes_in = counters_get(COUNTER_OWN "bytes in");
	sum->bytes_out = counters_get(COUNTER_OWN "bytes out");
	sum->cpu = (double)counters_get(COUNTER_OWN "cpu us") / 1e6;
	for (i = st->first; i < st->end; i++) {
		snprintf(name, sizeof name, COUNTER_OP, i);
		opin[i] = counters_get(name);
	}
	counters_user(stats_user_add, user);
	counters_clear();
	return (json_pack("{s:i, s:I, s:I, s:f, s:f, s:I, s:I, s:I, s:I}",
	    "stage", (int)s, "records_in", sum->in, "records_out", sum->out,
	    "wall", wall, "cpu", sum->cpu, "spilled_runs", sum->spills,
	    "spilled_bytes", sum->spilled, "merge_passes", sum->passes,
	    "peak_kib", sum->peak_kib));
}

/* Gather the job's counters (a json_t object). */
void *
stats_collect(const struct job *job)
{
	const struct plan	*pl = job->plan;
	const struct stage	*st;
	struct stage_sums	*sum;
	json_t			*o, *stages, *ops, *user, *comb;
	json_int_t		*opin, restarts = 0, ckpts = 0, in, out;
	json_int_t		 damaged = 0;
	json_int_t		 bshuf = 0;
	double			*wall, tcpu = 0;
	size_t			 s, i;

	sum = xcalloc(pl->nstages, sizeof *sum);
	wall = xcalloc(pl->nstages, sizeof *wall);
	opin = xcalloc(job->prog->nops + 1, sizeof *opin);
	stats_events(job, wall, &restarts, &ckpts, &damaged);
	stages = json_array();
	user = json_object();
	for (s = 0; s < pl->nstages; s++) {
		json_array_append_new(stages, stats_stage(job, (unsigned int)s,
		    opin, user, wall[s], &sum[s]));
		tcpu += sum[s].cpu;
		if (s + 1 < pl->nstages)
			bshuf += sum[s].bytes_out;
	}

	/*
	 * Narrow operators count what enters them; what leaves is what
	 * enters the next, or reaches the stage's end.  A reduce between
	 * stages takes the end of one and gives the start of the next.  A
	 * reducer runs first in the next stage, a narrow operator there, fed
	 * what its combiner, which has a row of its own, left of the end of
	 * the stage before.
	 */
	ops = json_array();
	for (i = 0; i < job->prog->nops; i++) {
		in = out = 0;
		comb = NULL;
		for (s = 0; s < pl->nstages; s++) {
			st = &pl->stages[s];
			if (st->reduce_out == &job->prog->ops[i] &&
			    st->reduce_out->combiner != NULL &&
			    s + 1 < pl->nstages)
				comb = json_pack("{s:I, s:I}", "records_in",
				    sum[s].out, "records_out", sum[s + 1].in);
			if (i >= st->first && i < st->end) {
				in = opin[i];
				out = i + 1 < st->end ? opin[i + 1] :
				    sum[s].out;
				break;
			}
			if (st->reduce_out == &job->prog->ops[i] &&
			    st->reduce_out->kind == OP_REDUCE &&
			    s + 1 < pl->nstages) {
				in = sum[s].out;
				out = sum[s + 1].in;
				break;
			}
		}
		o = json_pack("{s:i, s:o, s:I, s:I}", "operator", (int)i,
		    "name", stats_op_name(job->prog, i), "records_in", in,
		    "records_out", out);
		if (comb != NULL)
			json_object_set_new(o, "combiner", comb);
		json_array_append_new(ops, o);
	}

	o = json_pack("{s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, "
	    "s:f, s:o}", "stages", stages, "operators", ops,
	    "bytes_read", pl->nstages > 0 ? sum[0].bytes_in : 0,
	    "bytes_shuffled", bshuf,
	    "bytes_written", (json_int_t)job->run.bytes_written,
	    "checkpoints", ckpts, "restarts", restarts,
	    "damaged_files", damaged, "skipped_records", (json_int_t)job->run.skipped,
	    "wall", mono_now() - job->run.started, "cpu", tcpu, "user", user);
	free(sum);
	free(wall);
	free(opin);
	return (o);
}

/* Write the counters to JOBDIR/counters.json. */
int
stats_save(const struct job *job, void *stats)
{
	char	*path, *tmp;
	int	 r;

	path = jd_file(job->jobdir, JD_COUNTERS_JSON);
	xasprintf(&tmp, "%s.tmp", path);
	r = json_dump_file(stats, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(6));
	if (r == 0 && rename(tmp, path) != 0)
		r = -1;
	free(tmp);
	free(path);
	return (r);
}

/* Print the counters as a block, with long operators cut short. */
#define OPNAME_MAX	60

void
stats_print(void *stats, FILE *f)
{
	json_t		*o = stats, *a, *e, *c;
	const char	*k, *name;
	size_t		 i;

	fprintf(f, "forkflow: counters:\n");
	fprintf(f, "  %-6s %14s %14s %10s %10s\n", "stage", "records in",
	    "records out", "wall s", "cpu s");
	a = json_object_get(o, "stages");
	json_array_foreach(a, i, e)
		fprintf(f, "  %-6zu %14lld %14lld %10.3f %10.3f\n", i,
		    (long long)json_integer_value(json_object_get(e,
		    "records_in")), (long long)json_integer_value(
		    json_object_get(e, "records_out")), json_real_value(
		    json_object_get(e, "wall")), json_real_value(
		    json_object_get(e, "cpu")));
	fprintf(f, "  %-6s %14s %14s  %s\n", "op", "records in",
	    "records out", "operator");
	a = json_object_get(o, "operators");
	json_array_foreach(a, i, e) {
		if ((name = json_string_value(json_object_get(e, "name"))) ==
		    NULL)
			name = "";
		if ((c = json_object_get(e, "combiner")) != NULL)
			fprintf(f, "  %-6s %14lld %14lld  its combiner\n", "",
			    (long long)json_integer_value(json_object_get(c,
			    "records_in")), (long long)json_integer_value(
			    json_object_get(c, "records_out")));
		fprintf(f, "  %-6zu %14lld %14lld  %.*s%s\n", i,
		    (long long)json_integer_value(json_object_get(e,
		    "records_in")), (long long)json_integer_value(
		    json_object_get(e, "records_out")), OPNAME_MAX, name,
		    strlen(name) > OPNAME_MAX ? "..." : "");
	}
	fprintf(f, "  bytes read %lld, shuffled %lld, written %lld\n",
	    (long long)json_integer_value(json_object_get(o, "bytes_read")),
	    (long long)json_integer_value(json_object_get(o,
	    "bytes_shuffled")), (long long)json_integer_value(
	    json_object_get(o, "bytes_written")));
	fprintf(f, "  checkpoints %lld, restarts %lld, damaged files %lld, "
	    "skipped records %lld, wall %.3f s, cpu %.3f s\n",
	    (long long)json_integer_value(json_object_get(o, "checkpoints")),
	    (long long)json_integer_value(json_object_get(o, "restarts")),
	    (long long)json_integer_value(json_object_get(o,
	    "damaged_files")), (long long)json_integer_value(
	    json_object_get(o, "skipped_records")), json_real_value(
	    json_object_get(o, "wall")), json_real_value(json_object_get(o,
	    "cpu")));
	a = json_object_get(o, "stages");
	json_array_foreach(a, i, e) {
		if (json_integer_value(json_object_get(e, "spilled_runs")) == 0)
			continue;
		fprintf(f, "  stage %zu spilled %lld runs, %lld bytes, in %lld "
		    "merge passes; peak worker memory %lld KiB\n", i,
		    (long long)json_integer_value(json_object_get(e,
		    "spilled_runs")), (long long)json_integer_value(
		    json_object_get(e, "spilled_bytes")), (long long)
		    json_integer_value(json_object_get(e, "merge_passes")),
		    (long long)json_integer_value(json_object_get(e,
		    "peak_kib")));
	}
	a = json_object_get(o, "user");
	if (json_object_size(a) > 0)
		fprintf(f, "  counters of the streaming commands:\n");
	json_object_foreach(a, k, e)
		fprintf(f, "    %s\t%lld\n", k, (long long)json_integer_value(e));
}
