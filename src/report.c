/* forkflow: see LICENSE. */
/*
 * Looking at a job from outside: `forkflow status` reads the job page and
 * the workers' status pages of a job directory, never writing to it;
 * `forkflow report` turns the event log into one self-contained HTML page
 * (a timeline in inline SVG, the counters, the program) and the same
 * timeline into Chrome trace-event JSON, which Perfetto opens.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "forkflow.h"

/*
 * Open the file a report goes to: standard output for "-", else a
 * temporary file beside it (*tmp), renamed into place by report_close(),
 * so that an old report is never left half written over.
 */
static FILE *
report_open(const char *out, char **tmp)
{
	FILE	*f;

	*tmp = NULL;
	if (strcmp(out, "-") == 0)
		return (stdout);
	xasprintf(tmp, "%s.tmp", out);
	if ((f = fopen(*tmp, "w")) == NULL) {
		free(*tmp);
		*tmp = NULL;
	}
	return (f);
}

/* Close what report_open() opened; r says whether writing failed. */
static int
report_close(FILE *f, const char *out, char *tmp, int r)
{
	int	saved_errno;

	if (f == stdout) {
		if (fflush(f) != 0 || ferror(f))
			r = -1;
		return (r);
	}
	if (ferror(f))
		r = -1;
	if (fclose(f) != 0)
		r = -1;
	if (r == 0 && rename(tmp, out) != 0)
		r = -1;
	saved_errno = errno;
	if (r != 0)
		(void)unlink(tmp);
	free(tmp);
	errno = saved_errno;
	return (r);
}

/* A stretch of time a worker spent on a stage. */
struct span {
	int		 part;
	int		 stage;
	int		 attempt;
	long		 pid;
	double		 t0;
	double		 t1;
	const char	*end;		/* "done", "died" or "stopped" */
};

/* Something that happened at an instant: a crash, a checkpoint. */
struct mark {
	int		 part;		/* -1: the whole job */
	int		 stage;
	double		 t;
	const char	*kind;		/* the event's name */
	const char	*what;		/* how it died, or NULL */
};

struct timeline {
	struct span	*spans;
	size_t		 nspans;
	struct mark	*marks;
	size_t		 nmarks;
	double		 t0;
	double		 t1;
	int		 nparts;
	int		 nstages;
	json_t		*start;		/* the first job_start */
	json_t		*end;		/* the last job_end, or NULL */
};

static const char *
ev_str(json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

/* An integer member from 0 to max - 1, or -1. */
static int
ev_int(json_t *o, const char *k, int max)
{
	json_t		*v = json_object_get(o, k);
	json_int_t	 n;

	if (!json_is_integer(v))
		return (-1);
	n = json_integer_value(v);
	return (n >= 0 && n < max ? (int)n : -1);
}

#define EV_BIG		INT_MAX

static void
tl_mark(struct timeline *tl, int part, int stage, double t, const char *kind,
    const char *what)
{
	tl->marks = xgrow(tl->marks, tl->nmarks,
	    sizeof *tl->marks);
	tl->marks[tl->nmarks++] = (struct mark){ part, stage, t, kind, what };
}

/*
 * Build the timeline from the events (a json_t array, which must outlive
 * it): a span from each "stage_start" of a partition to its "stage_done",
 * or to the death of its worker, or to the end of the run.
 */
static void
tl_build(struct timeline *tl, json_t *events)
{
	json_t		*o;
	size_t		 i, j;
	const char	*ev, *cause;
	double		 t, last = 0;
	int		 p, st, n, died, have_t = 0;
	ssize_t		*open;		/* by partition: the open span */

	memset(tl, 0, sizeof *tl);
	open = xreallocarray(NULL, PARTS_MAX, sizeof *open);
	for (j = 0; j < PARTS_MAX; j++)
		open[j] = -1;
	json_array_foreach(events, i, o) {
		ev = ev_str(o, "event");
		t = json_number_value(json_object_get(o, "t"));
		p = ev_int(o, "partition", PARTS_MAX);
		st = ev_int(o, "stage", JOBPAGE_STAGES_MAX);
		/* Times of the monotonic clock: seconds since boot. */
		if (ev == NULL || !isfinite(t) || fabs(t) > 1e12)
			continue;
		if (!have_t)
			tl->t0 = tl->t1 = t;
		have_t = 1;
		tl->t0 = t < tl->t0 ? t : tl->t0;
		tl->t1 = t > tl->t1 ? t : tl->t1;
		tl->nparts = p + 1 > tl->nparts ? p + 1 : tl->nparts;
		tl->nstages = st + 1 > tl->nstages ? st + 1 : tl->nstages;
		died = strcmp(ev, "worker_died") == 0;
		cause = ev_str(o, "cause");
		if (strcmp(ev, "job_start") == 0 || strcmp(ev, "job_end") == 0) {
			if (ev[4] == 's' && tl->start == NULL)
				tl->start = o;
			if (ev[4] == 'e')
				tl->end = o;
			n = ev_int(o, "partitions", PARTS_MAX + 1);
			tl->nparts = n > tl->nparts ? n : tl->nparts;
			n = ev_int(o, "stages", JOBPAGE_STAGES_MAX + 1);
			tl->nstages = n > tl->nstages ? n : tl->nstages;
			/* What a run left open ends with it: at its last
			 * event, if it died without its job_end. */
			for (j = 0; j < PARTS_MAX; j++) {
				if (open[j] >= 0) {
					tl->spans[open[j]].t1 = ev[4] == 'e' ?
					    t : last;
					tl->spans[open[j]].end = "stopped";
				}
				open[j] = -1;
			}
			if (ev[4] == 's' && tl->start != o)
				tl_mark(tl, -1, -1, t, "job_start", NULL);
		} else if (strcmp(ev, "stage_start") == 0 && p >= 0) {
			tl->spans = xgrow(tl->spans, tl->nspans,
			    sizeof *tl->spans);
			tl->spans[tl->nspans] = (struct span){ p, st,
			    ev_int(o, "attempt", EV_BIG),
			    (long)ev_int(o, "pid", EV_BIG), t, t, NULL };
			open[p] = (ssize_t)tl->nspans++;
		} else if ((strcmp(ev, "stage_done") == 0 || died) && p >= 0 &&
		    open[p] >= 0) {
			tl->spans[open[p]].t1 = t;
			tl->spans[open[p]].end = !died ? "done" : cause != NULL &&
			    strcmp(cause, "stopped") == 0 ? "stopped" : "died";
			open[p] = -1;
		}
		/* A worker the supervisor stopped did not crash. */
		if ((died && (cause == NULL || strcmp(cause, "stopped") != 0)) ||
		    strcmp(ev, "restart") == 0 ||
		    strcmp(ev, "checkpoint") == 0 ||
		    strcmp(ev, "record_skipped") == 0 ||
		    strcmp(ev, "stage_committed") == 0)
			tl_mark(tl, p, st, t, ev, ev_str(o, "how"));
		last = t;
	}
	for (j = 0; j < PARTS_MAX; j++) {
		if (open[j] >= 0) {
			tl->spans[open[j]].t1 = last;
			tl->spans[open[j]].end = "running";
		}
	}
	free(open);
}

static void
tl_free(struct timeline *tl)
{
	free(tl->spans);
	free(tl->marks);
}

/* Load the event log of a job directory and build its timeline. */
static json_t *
tl_load(const char *jobdir, struct timeline *tl, char **cause)
{
	json_t	*a;
	char	*path;

	path = jd_file(jobdir, JD_EVENTS);
	a = events_load(path, cause);
	free(path);
	if (a == NULL)
		return (NULL);
	tl_build(tl, a);
	return (a);
}

/*
 * The timeline as Chrome trace events: the job is a process, each
 * partition a thread; spans are complete events ("X"), the rest instant
 * events ("i").  Times are microseconds from the first event.
 */
int
report_trace(const char *events, const char *out, char **cause)
{
	struct timeline	 tl;
	json_t		*a, *te, *e;
	FILE		*f;
	size_t		 i;
	int		 p, r;
	char		 name[64], *tmp;

	if ((a = events_load(events, cause)) == NULL)
		return (-1);
	tl_build(&tl, a);
	te = json_array();
	json_array_append_new(te, json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}",
	    "name", "process_name", "ph", "M", "pid", 1, "tid", 0, "args",
	    "name", "forkflow job"));
	for (p = 0; p < tl.nparts; p++) {
		snprintf(name, sizeof name, "partition %d", p);
		json_array_append_new(te, json_pack("{s:s, s:s, s:i, s:i, "
		    "s:{s:s}}", "name", "thread_name", "ph", "M", "pid", 1,
		    "tid", p, "args", "name", name));
	}
	for (i = 0; i < tl.nspans; i++) {
		snprintf(name, sizeof name, "stage %d", tl.spans[i].stage);
		json_array_append_new(te, json_pack("{s:s, s:s, s:s, s:f, s:f, "
		    "s:i, s:i, s:{s:i, s:i, s:s}}", "name", name, "cat",
		    "stage", "ph", "X", "ts", (tl.spans[i].t0 - tl.t0) * 1e6,
		    "dur", (tl.spans[i].t1 - tl.spans[i].t0) * 1e6, "pid", 1,
		    "tid", tl.spans[i].part, "args", "attempt",
		    tl.spans[i].attempt, "pid", (int)tl.spans[i].pid, "end",
		    tl.spans[i].end));
	}
	for (i = 0; i < tl.nmarks; i++) {
		e = json_pack("{s:s, s:s, s:s, s:f, s:i, s:i, s:s}", "name",
		    tl.marks[i].kind, "cat", "event", "ph", "i", "ts",
		    (tl.marks[i].t - tl.t0) * 1e6, "pid", 1, "tid",
		    tl.marks[i].part < 0 ? 0 : tl.marks[i].part, "s",
		    tl.marks[i].part < 0 ? "p" : "t");
		if (tl.marks[i].what != NULL)
			json_object_set_new(e, "args", json_pack("{s:s}",
			    "how", tl.marks[i].what));
		json_array_append_new(te, e);
	}
	e = json_pack("{s:o, s:s}", "traceEvents", te, "displayTimeUnit",
	    "ms");
	r = -1;
	if ((f = report_open(out, &tmp)) != NULL) {
		r = json_dumpf(e, f, JSON_COMPACT | JSON_REAL_PRECISION(12));
		r = report_close(f, out, tmp, r);
	}
	if (r != 0)
		xasprintf(cause, "%s: %s", out, strerror(errno));
	json_decref(e);
	json_decref(a);
	tl_free(&tl);
	return (r == 0 ? 0 : -1);
}

/* Write text with the characters HTML gives meaning escaped. */
static void
html_text(FILE *f, const char *s)
{
	static const char	 special[] = "<>&\"";
	static const char	*entity[] = { "&lt;", "&gt;", "&amp;", "&quot;" };
	const char		*c;

	for (; s != NULL && *s != '\0'; s++) {
		if ((c = strchr(special, *s)) != NULL)
			fputs(entity[c - special], f);
		else
			fputc(*s, f);
	}
}

static const char *stage_colors[] = {
	"#4e79a7", "#59a14f", "#9c755f", "#76b7b2", "#edc948", "#b07aa1",
	"#ff9da7", "#bab0ac"
};

#define SVG_LEFT	96
#define SVG_WIDTH	1000
#define SVG_LANE	30
#define SVG_TOP		28

/* The timeline: a lane per partition, stages as bars, events marked. */
static void
report_svg(FILE *f, const struct timeline *tl)
{
	double		 span = tl->t1 - tl->t0, x, x1, step;
	unsigned int	 plotw = SVG_WIDTH - SVG_LEFT - 16, h;
	size_t		 i;
	int		 p, y, k;
	const struct mark *m;

	if (span <= 0)
		span = 1e-3;
	h = SVG_TOP + (unsigned int)tl->nparts * SVG_LANE + 24;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "class=\"timeline\" width=\"%d\" height=\"%u\" viewBox=\"0 0 %d "
	    "%u\" role=\"img\" aria-label=\"timeline\">\n", SVG_WIDTH, h,
	    SVG_WIDTH, h);
	/* The time axis, in steps of 1, 2 or 5 times a power of ten. */
	step = pow(10, floor(log10(span))) / 10;
	if (span / step > 10)
		step *= span / (step * 2) <= 10 ? 2 : span / (step * 5) <= 10 ?
		    5 : 10;
	for (x = 0, k = 0; x <= span + step / 2 && k < 40; x += step, k++) {
		x1 = SVG_LEFT + x / span * plotw;
		fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" "
		    "x2=\"%.1f\" y2=\"%u\"/><text class=\"axis\" x=\"%.1f\" "
		    "y=\"%d\">%gs</text>\n", x1, SVG_TOP - 6, x1, h - 20, x1,
		    SVG_TOP - 10, x);
	}
	for (p = 0; p < tl->nparts; p++) {
		y = SVG_TOP + p * SVG_LANE;
		fprintf(f, "<g class=\"lane\" data-partition=\"%d\">\n"
		    "<rect class=\"lanebg\" x=\"0\" y=\"%d\" width=\"%d\" "
		    "height=\"%d\"/><text class=\"label\" x=\"6\" y=\"%d\">"
		    "partition %d</text>\n", p, y, SVG_WIDTH, SVG_LANE,
		    y + SVG_LANE / 2 + 4, p);
		for (i = 0; i < tl->nspans; i++) {
			const struct span *s = &tl->spans[i];

			if (s->part != p)
				continue;
			x = SVG_LEFT + (s->t0 - tl->t0) / span * plotw;
			x1 = SVG_LEFT + (s->t1 - tl->t0) / span * plotw;
			fprintf(f, "<rect class=\"bar %s\" x=\"%.1f\" y=\"%d\" "
			    "width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>"
			    "partition %d, stage %d, attempt %d (pid %ld): "
			    "%.3f s to %.3f s, %s</title></rect>\n", s->end, x,
			    y + 5, x1 - x < 1 ? 1 : x1 - x, SVG_LANE - 10,
			    stage_colors[s->stage < 0 ? 0 : s->stage % 8],
			    p, s->stage, s->attempt, s->pid, s->t0 - tl->t0,
			    s->t1 - tl->t0, s->end);
		}
		for (i = 0; i < tl->nmarks; i++) {
			m = &tl->marks[i];
			if (m->part != p)
				continue;
			x = SVG_LEFT + (m->t - tl->t0) / span * plotw;
			if (strcmp(m->kind, "checkpoint") == 0)
				fprintf(f, "<line class=\"ckpt\" x1=\"%.1f\" "
				    "y1=\"%d\" x2=\"%.1f\" y2=\"%d\"><title>"
				    "checkpoint at %.3f s</title></line>\n",
				    x, y + SVG_LANE - 8, x, y + SVG_LANE - 2,
				    m->t - tl->t0);
			else if (strcmp(m->kind, "worker_died") == 0) {
				fprintf(f, "<path class=\"crash\" d=\"M%.1f "
				    "%dl8 8m0 -8l-8 8\"><title>worker died at "
				    "%.3f s: ", x - 4, y + 11, m->t - tl->t0);
				html_text(f, m->what);
				fputs("</title></path>\n", f);
			} else if (strcmp(m->kind, "restart") == 0)
				fprintf(f, "<path class=\"restart\" d=\"M%.1f "
				    "%dl6 4l-6 4z\"><title>restarted at %.3f s"
				    "</title></path>\n", x, y + 1,
				    m->t - tl->t0);
			else if (strcmp(m->kind, "record_skipped") == 0)
				fprintf(f, "<circle class=\"skip\" cx=\"%.1f\" "
				    "cy=\"%d\" r=\"3\"><title>record skipped at "
				    "%.3f s</title></circle>\n", x, y + 4,
				    m->t - tl->t0);
		}
		fputs("</g>\n", f);
	}
	for (i = 0; i < tl->nmarks; i++) {
		m = &tl->marks[i];
		if (strcmp(m->kind, "stage_committed") != 0 &&
		    strcmp(m->kind, "job_start") != 0)
			continue;
		x = SVG_LEFT + (m->t - tl->t0) / span * plotw;
		fprintf(f, "<line class=\"%s\" x1=\"%.1f\" y1=\"%d\" "
		    "x2=\"%.1f\" y2=\"%u\"><title>%s %d at %.3f s</title>"
		    "</line>\n", m->kind[0] == 's' ? "commit" : "resume", x,
		    SVG_TOP, x, h - 20, m->kind[0] == 's' ? "stage committed:" :
		    "resumed", m->kind[0] == 's' ? m->stage : 0, m->t - tl->t0);
	}
	fprintf(f, "<g class=\"legend\" transform=\"translate(%d %u)\">"
	    "<path class=\"crash\" d=\"M0 -8l8 8m0 -8l-8 8\"/><text x=\"14\" "
	    "y=\"0\">worker died</text><path class=\"restart\" "
	    "d=\"M110 -8l6 4l-6 4z\"/><text x=\"122\" y=\"0\">restart</text>"
	    "<line class=\"ckpt\" x1=\"190\" y1=\"-8\" x2=\"190\" y2=\"0\"/>"
	    "<text x=\"196\" y=\"0\">checkpoint</text><line class=\"commit\" "
	    "x1=\"280\" y1=\"-10\" x2=\"280\" y2=\"2\"/><text x=\"286\" "
	    "y=\"0\">stage committed</text>\n", SVG_LEFT, h - 4);
	for (p = 0; p < tl->nstages && p < 8; p++)
		fprintf(f, "<rect x=\"%d\" y=\"-9\" width=\"12\" height=\"10\" "
		    "fill=\"%s\"/><text x=\"%d\" y=\"0\">stage %d</text>\n",
		    410 + p * 72, stage_colors[p], 426 + p * 72, p);
	fputs("</g>\n</svg>\n", f);
}

/* The counters, as tables. */
static void
report_counters(FILE *f, json_t *c)
{
	json_t		*a, *e;
	const char	*k;
	size_t		 i;

	if (c == NULL) {
		fputs("<p>No counters: the job has not finished.</p>\n", f);
		return;
	}
	fputs("<table><tr><th>stage</th><th>records in</th><th>records out"
	    "</th><th>wall s</th><th>CPU s</th><th>runs spilled</th>"
	    "<th>bytes spilled</th><th>merge passes</th>"
	    "<th>peak worker KiB</th></tr>\n", f);
	json_array_foreach(json_object_get(c, "stages"), i, e)
		fprintf(f, "<tr><td>%zu</td><td>%lld</td><td>%lld</td><td>%.3f"
		    "</td><td>%.3f</td><td>%lld</td><td>%lld</td><td>%lld</td>"
		    "<td>%lld</td></tr>\n", i, (long long)
		    json_integer_value(json_object_get(e, "records_in")),
		    (long long)json_integer_value(json_object_get(e,
		    "records_out")), json_real_value(json_object_get(e,
		    "wall")), json_real_value(json_object_get(e, "cpu")),
		    (long long)json_integer_value(json_object_get(e,
		    "spilled_runs")), (long long)json_integer_value(
		    json_object_get(e, "spilled_bytes")), (long long)
		    json_integer_value(json_object_get(e, "merge_passes")),
		    (long long)json_integer_value(json_object_get(e,
		    "peak_kib")));
	fputs("</table>\n<table><tr><th>operator</th><th></th><th>records in"
	    "</th><th>records out</th></tr>\n", f);
	json_array_foreach(json_object_get(c, "operators"), i, e) {
		fprintf(f, "<tr><td>%zu</td><td class=\"op\">", i);
		html_text(f, json_string_value(json_object_get(e, "name")));
		fprintf(f, "</td><td>%lld</td><td>%lld</td></tr>\n",
		    (long long)json_integer_value(json_object_get(e,
		    "records_in")), (long long)json_integer_value(
		    json_object_get(e, "records_out")));
	}
	fputs("</table>\n<table>\n", f);
	json_object_foreach(c, k, e) {
		if (!json_is_number(e))
			continue;
		fputs("<tr><th>", f);
		html_text(f, k);
		if (json_is_integer(e))
			fprintf(f, "</th><td>%lld</td></tr>\n",
			    (long long)json_integer_value(e));
		else
			fprintf(f, "</th><td>%.3f</td></tr>\n",
			    json_real_value(e));
	}
	fputs("</table>\n", f);
	a = json_object_get(c, "user");
	if (json_object_size(a) == 0)
		return;
	fputs("<table><tr><th>counter of the streaming commands</th><th>"
	    "</th></tr>\n", f);
	json_object_foreach(a, k, e) {
		fputs("<tr><td>", f);
		html_text(f, k);
		fprintf(f, "</td><td>%lld</td></tr>\n",
		    (long long)json_integer_value(e));
	}
	fputs("</table>\n", f);
}

static const char report_css[] =
"body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}"
"h1{font-size:20px}h2{font-size:16px;margin-top:28px}.why{color:#b00}"
"table{border-collapse:collapse;margin:8px 0 16px}"
"td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
"td.op,th{text-align:left}pre{background:#f6f6f6;padding:8px;"
"overflow:auto}.lanebg{fill:#fafafa;stroke:#eee}"
".label,.axis,.legend text{font:12px sans-serif;fill:#444}"
".axis{text-anchor:middle}.grid{stroke:#e4e4e4}"
".bar.died{opacity:.55}.bar.stopped{opacity:.4}"
".crash{stroke:#d62728;stroke-width:2.5;fill:none}"
".restart{fill:#ff7f0e}.ckpt{stroke:#222;stroke-width:1.5}"
".skip{fill:#9467bd}.commit{stroke:#2ca02c;stroke-dasharray:4 3}"
".resume{stroke:#d62728;stroke-dasharray:2 2}";

/* Write the page. */
static void
report_write(FILE *f, const struct timeline *tl, json_t *counters,
    const char *program)
{
	const char	*state, *why;

	state = tl->end != NULL ? ev_str(tl->end, "state") : NULL;
	if (state == NULL)
		state = "running or stopped";
	/* The policy forbids the page to load or run anything: a browser
	 * that opens it never goes to the network. */
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
	    "charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" "
	    "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
	    "<title>forkflow job ", f);
	html_text(f, tl->start != NULL ? ev_str(tl->start, "job_id") : "");
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n"
	    "<h1>forkflow job ", report_css);
	html_text(f, tl->start != NULL ? ev_str(tl->start, "job_id") : "");
	fputs("</h1>\n<p>Program <code>", f);
	html_text(f, tl->start != NULL ? ev_str(tl->start, "program") : "");
	fprintf(f, "</code>, %d partitions, %d stages, started ", tl->nparts,
	    tl->nstages);
	html_text(f, tl->start != NULL ? ev_str(tl->start, "time") : "?");
	fputs("; ", f);
	html_text(f, state);
	fprintf(f, " after %.3f s.</p>\n", tl->t1 - tl->t0);
	if (tl->end != NULL && (why = ev_str(tl->end, "reason")) != NULL) {
		fputs("<p class=\"why\">Why: ", f);
		html_text(f, why);
		fputs("</p>\n", f);
	}
	fputs("<h2>Timeline</h2>\n", f);
	report_svg(f, tl);
	fputs("<h2>Counters</h2>\n", f);
	report_counters(f, counters);
	fputs("<h2>Program</h2>\n<pre>", f);
	html_text(f, program != NULL ? program : "(not kept)");
	fputs("</pre>\n</body>\n</html>\n", f);
}

/* Write the HTML report of a job directory to out. */
int
report_html(const char *jobdir, const char *out, char **cause)
{
	struct timeline	 tl;
	json_t		*a, *counters;
	json_error_t	 je;
	FILE		*f;
	char		*path, *program, *tmp;
	size_t		 len;
	int		 r = 0;

	if ((a = tl_load(jobdir, &tl, cause)) == NULL)
		return (-1);
	path = jd_file(jobdir, JD_COUNTERS_JSON);
	counters = json_load_file(path, 0, &je);
	free(path);
	path = jd_file(jobdir, JD_PROGRAM);
	program = read_file(path, &len);
	free(path);
	if ((f = report_open(out, &tmp)) == NULL)
		r = -1;
	else {
		report_write(f, &tl, counters, program);
		r = report_close(f, out, tmp, 0);
	}
	if (r != 0)
		xasprintf(cause, "%s: %s", out, strerror(errno));
	json_decref(a);
	json_decref(counters);
	free(program);
	tl_free(&tl);
	return (r);
}
