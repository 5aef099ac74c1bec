/* forkflow: see LICENSE. */
/*
 * The live progress display on standard error: a line per worker and a
 * total bar with an estimate of the time left, redrawn in place.  The
 * supervisor draws it from its job page and the workers' status pages at
 * most five times a second, and not before the job has run half a second,
 * so that short jobs print nothing.  Lines that must be printed while it
 * is up (log lines, the workers' standard error) go through
 * display_print(), which puts them above it.  Standard output is never
 * touched: the result is written after the display is cleared.
 *
 * On several hosts, rank 0 draws for forkflow run --hosts (--progress
 * relay): each frame is written as one line, a frame record, on its
 * standard error, which mpirun carries to the launcher with the other
 * ranks' lines.  The launcher puts the frames on its terminal with
 * display_frame() and every other line above them, so no two hosts ever
 * draw on one screen.
 */

#include <sys/ioctl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"

#define DISPLAY_DELAY	0.5		/* seconds before the first frame */
#define DISPLAY_PERIOD	0.2		/* between frames, at least */

struct display {
	int		 fd;
	int		 color;
	double		 last_draw;
	unsigned int	 lines;		/* of the frame on the screen */
	char		*frame;		/* what it shows */
	size_t		 framelen;
	uint64_t	*prev_rec;	/* for the rates */
	double		*prev_t;
	double		*rate;		/* records per second, smoothed */
	char		*shown;		/* has a line in the frame */
	int		 relay;		/* frames as records, not drawn */
	int		 midline;	/* relay: a line printed, not ended */
	int		 frozen;	/* cleared for good: frames ignored */
};

/*
 * A frame record: FRAME_MARK, the frame's lines and bytes, a space, and
 * its bytes with each newline written as FRAME_NL, then a newline.
 */
#define FRAME_MARK	"\036forkflow-frame "
#define FRAME_NL	'\037'


/*
 * Start a display on fd for nparts workers; color unless NO_COLOR.  With
 * relay, its frames are written as frame records for forkflow run --hosts.
 */
struct display *
display_start(unsigned int nparts, int fd, int relay)
{
	struct display	*d;
	const char	*nc = getenv("NO_COLOR"), *term = getenv("TERM");

	d = xcalloc(1, sizeof *d);
	d->fd = fd;
	d->relay = relay;
	d->color = (nc == NULL || *nc == '\0') &&
	    (term == NULL || strcmp(term, "dumb") != 0);
	d->prev_rec = xcalloc(nparts, sizeof *d->prev_rec);
	d->prev_t = xcalloc(nparts, sizeof *d->prev_t);
	d->rate = xcalloc(nparts, sizeof *d->rate);
	d->shown = xcalloc(nparts, sizeof *d->shown);
	return (d);
}

/*
 * The terminal's width and height; else COLUMNS and LINES, which forkflow
 * run --hosts sets to its terminal's for the rank that draws; else 80 by
 * 24.
 */
static void
display_size(const struct display *d, unsigned int *width,
    unsigned int *rows)
{
	struct winsize	 ws;
	const char	*c = getenv("COLUMNS"), *l = getenv("LINES");

	*width = 80;
	*rows = 24;
	if (ioctl(d->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20 &&
	    ws.ws_row >= 4) {
		*width = ws.ws_col;
		*rows = ws.ws_row;
	} else if (c != NULL && l != NULL && atoi(c) >= 20 && atoi(l) >= 4 &&
	    atoi(c) <= 4096 && atoi(l) <= 4096) {
		*width = (unsigned int)atoi(c);
		*rows = (unsigned int)atoi(l);
	}
}

/* Is a worker's line worth a place on a screen too small for all? */
static int
worker_of_note(uint32_t state)
{
	return (state == JW_RUNNING || state == JW_BACKOFF ||
	    state == JW_FAILED);
}

/* A count as people read it: 999, 12.3k, 4.56M, 7.89G. */
static void
fmt_count(char *buf, size_t len, double n, const char *unit)
{
	static const char	*sfx[] = { "", "k", "M", "G", "T", "P" };
	unsigned int		 i = 0;

	while (n >= 999.5 && i + 1 < sizeof sfx / sizeof sfx[0]) {
		n /= 1000;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f%s", n, unit);
	else
		snprintf(buf, len, "%.*f%s%s", n < 9.995 ? 2 : n < 99.95 ? 1 :
		    0, n, sfx[i], unit);
}

/* Seconds as M:SS or H:MM:SS. */
static void
fmt_time(char *buf, size_t len, double s)
{
	unsigned long	t = s < 0 ? 0 : (unsigned long)(s + 0.5);

	if (t >= 3600)
		snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60,
		    t % 60);
	else
		snprintf(buf, len, "%lu:%02lu", t / 60, t % 60);
}

/* Add a line to the frame, cut to the width, colored if asked. */
static void
frame_line(FILE *f, unsigned int width, const char *color, const char *s)
{
	int	n = (int)strlen(s);

	if (n > (int)width - 1)
		n = (int)width - 1;
	fputs("\r\033[K", f);
	if (color != NULL)
		fprintf(f, "\033[%sm%.*s\033[0m\n", color, n, s);
	else
		fprintf(f, "%.*s\n", n, s);
}

/* Move up over the frame on the screen and clear it. */
static void
frame_erase(const struct display *d, FILE *f)
{
	if (d->lines > 0)
		fprintf(f, "\r\033[%uA\033[J", d->lines);
}

/* Write what f gathered, in one write where it can. */
static void
display_flush(struct display *d, char *s, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(d->fd, s, len)) <= 0)
			break;
		s += n;
		len -= (size_t)n;
	}
}

/*
 * Put the frame on the screen in the place of the one there, with a line
 * printed above it, in one write.
 */
static void
display_show(struct display *d, const char *line, size_t len)
{
	FILE	*f;
	char	*s;
	size_t	 n, i;

	if ((f = open_memstream(&s, &n)) == NULL)
		return;
	if (d->relay) {
		/* The frame as a record, at the start of a line: the launcher
		 * draws it. */
		if (d->midline)
			fputc('\n', f);
		d->midline = 0;
		fprintf(f, "%s%u %zu ", FRAME_MARK, d->framelen > 0 ?
		    d->lines : 0, d->framelen);
		for (i = 0; i < d->framelen; i++)
			fputc(d->frame[i] == '\n' ? FRAME_NL : d->frame[i], f);
		fputc('\n', f);
		if (fclose(f) == 0)
			display_flush(d, s, n);
		free(s);
		return;
	}
	frame_erase(d, f);
	if (len > 0) {
		fwrite(line, 1, len, f);
		/* The frame starts at the left: end a line cut short. */
		if (line[len - 1] != '\n')
			fputc('\n', f);
	}
	fwrite(d->frame, 1, d->framelen, f);
	if (fclose(f) == 0)
		display_flush(d, s, n);
	free(s);
}

/* Print a line above the display, and draw the display again. */
void
display_print(struct display *d, const char *line, size_t len)
{
	/* A rank's line goes as it is: the launcher puts it above. */
	if (d->lines == 0 || d->relay) {
		display_flush(d, (char *)line, len);
		if (len > 0)
			d->midline = line[len - 1] != '\n';
		return;
	}
	display_show(d, line, len);
}

/* How far the stage has come, from 0 to 1, by bytes where known. */
static double
stage_fraction(const struct job_page *jp, struct status_page * const *sp)
{
	uint64_t	done = 0, total = 0;
	unsigned int	i, finished = 0;

	for (i = 0; i < jp->nparts; i++) {
		if (jp->w[i].stages_done > jp->stage) {
			finished++;
			continue;
		}
		if (sp[i]->stage == jp->stage && sp[i]->bytes_total > 0) {
			done += sp[i]->bytes_in < sp[i]->bytes_total ?
			    sp[i]->bytes_in : sp[i]->bytes_total;
			total += sp[i]->bytes_total;
		}
	}
	if (total == 0)
		return ((double)finished / jp->nparts);
	return (((double)finished + (double)(jp->nparts - finished) *
	    ((double)done / (double)total)) / jp->nparts);
}

/* Draw the next frame, if one is due. */
void
display_draw(struct display *d, const struct job_page *jp,
    struct status_page * const *sp, double now)
{
	FILE		*f;
	char		*s, line[512], a[32], b[32], c[32], r[32], e[32];
	size_t		 len;
	unsigned int	 i, width, rows, lines = 0, fill, barw, room, n[6];
	uint64_t	 rec, total_rec = 0;
	double		 frac, dt, inst;
	const char	*color;

	if (now - jp->started < DISPLAY_DELAY ||
	    now - d->last_draw < DISPLAY_PERIOD * 0.9)
		return;
	d->last_draw = now;
	display_size(d, &width, &rows);
	if ((f = open_memstream(&s, &len)) == NULL)
		return;
	/* A line per worker, if the screen has room for them and the bar;
	 * else those that run or crashed first, and a line for the rest. */
	room = jp->nparts <= rows - 2 ? jp->nparts : rows - 3;
	memset(n, 0, sizeof n);
	for (i = 0; i < jp->nparts; i++)
		d->shown[i] = 0;
	for (i = 0; i < jp->nparts && room > 0; i++) {
		if (worker_of_note(jp->w[i].state)) {
			d->shown[i] = 1;
			room--;
		}
	}
	for (i = 0; i < jp->nparts && room > 0; i++) {
		if (!d->shown[i]) {
			d->shown[i] = 1;
			room--;
		}
	}
	for (i = 0; i < jp->nparts; i++) {
		rec = sp[i]->records_in;
		total_rec += rec;
		dt = now - d->prev_t[i];
		if (rec < d->prev_rec[i])
			d->rate[i] = 0;		/* a new stage or attempt */
		else if (d->prev_t[i] > 0 && dt > 0) {
			inst = (double)(rec - d->prev_rec[i]) / dt;
			d->rate[i] = d->rate[i] == 0 ? inst :
			    0.7 * d->rate[i] + 0.3 * inst;
		}
		d->prev_rec[i] = rec;
		d->prev_t[i] = now;
		if (!d->shown[i]) {
			n[jp->w[i].state < 6 ? jp->w[i].state : 0]++;
			continue;
		}
		fmt_count(a, sizeof a, (double)rec, "");
		fmt_count(b, sizeof b, (double)sp[i]->bytes_in, "B");
		fmt_count(c, sizeof c, (double)sp[i]->bytes_total, "B");
		if (jp->w[i].state == JW_RUNNING)
			fmt_count(r, sizeof r, d->rate[i], "");
		else
			snprintf(r, sizeof r, "-");
		snprintf(line, sizeof line, "p%-3u stage %u of %u  op %-2u %9s "
		    "rec  %7s/%-7s %8s rec/s  %-8s attempt %u", i,
		    sp[i]->stage, jp->nstages, sp[i]->op, a, b, c, r,
		    jobpage_worker_state(jp->w[i].state), jp->w[i].attempts);
		color = NULL;
		if (d->color && jp->w[i].state == JW_BACKOFF)
			color = "33";
		else if (d->color && jp->w[i].state == JW_FAILED)
			color = "31";
		frame_line(f, width, color, line);
		lines++;
	}
	if (n[JW_STARTING] + n[JW_RUNNING] + n[JW_WAITING] + n[JW_BACKOFF] +
	    n[JW_DONE] + n[JW_FAILED] > 0) {
		snprintf(line, sizeof line, "and %u more: %u running, %u "
		    "waiting, %u in backoff, %u done, %u failed, %u starting",
		    n[JW_STARTING] + n[JW_RUNNING] + n[JW_WAITING] +
		    n[JW_BACKOFF] + n[JW_DONE] + n[JW_FAILED], n[JW_RUNNING],
		    n[JW_WAITING], n[JW_BACKOFF], n[JW_DONE], n[JW_FAILED],
		    n[JW_STARTING]);
		frame_line(f, width, NULL, line);
		lines++;
	}
	frac = ((double)jp->stage + stage_fraction(jp, sp)) / jp->nstages;
	if (frac > 1)
		frac = 1;
	barw = width > 100 ? 40 : width >= 60 ? 20 : 10;
	fill = (unsigned int)(frac * barw);
	fmt_count(a, sizeof a, (double)total_rec, "");
	fmt_time(b, sizeof b, now - jp->started);
	if (frac > 0.01)
		fmt_time(e, sizeof e, (now - jp->started) * (1 - frac) / frac);
	else
		snprintf(e, sizeof e, "-:--");
	fputs("\r\033[K", f);
	if (d->color)
		fputs("\033[32m", f);
	fputc('[', f);
	for (i = 0; i < barw; i++)
		fputc(i < fill ? '#' : '-', f);
	fputc(']', f);
	if (d->color)
		fputs("\033[0m", f);
	snprintf(line, sizeof line, " %3.0f%%  stage %u of %u  %s rec  %s  "
	    "ETA %s", frac * 100, jp->stage >= jp->nstages ? jp->nstages - 1 :
	    jp->stage, jp->nstages, a, b, e);
	/* width >= 20 > barw + 3: the bar and the rest fit in a line. */
	if (strlen(line) > width - barw - 3)
		line[width - barw - 3] = '\0';
	fprintf(f, "%s\n", line);
	lines++;
	if (fclose(f) != 0)
		return;
	/* Keep the frame, to draw it again under a printed line. */
	free(d->frame);
	d->frame = s;
	d->framelen = len;
	if (d->relay)
		d->lines = lines;
	display_show(d, NULL, 0);
	d->lines = lines;
}

/* Print len bytes of a line above the display, and its newline. */
static void
display_line(struct display *d, const char *line, size_t len)
{
	char	*s;

	s = xmalloc(len + 1);
	memcpy(s, line, len);
	s[len] = '\n';
	display_print(d, s, len + 1);
	free(s);
}

/*
 * Cut each line of frame s (*n bytes) to width - 1 columns, keeping its
 * escape sequences: the terminal may be narrower than the one it was
 * drawn for.
 */
static void
frame_cut(char *s, size_t *n, unsigned int width)
{
	size_t		i, o = 0;
	unsigned int	col = 0;

	for (i = 0; i < *n; i++) {
		if (s[i] == '\033' && i + 1 < *n && s[i + 1] == '[') {
			/* CSI: parameters, then a final byte. */
			s[o++] = s[i++];
			s[o++] = s[i++];
			while (i < *n && (s[i] < 0x40 || s[i] > 0x7e))
				s[o++] = s[i++];
			if (i < *n)
				s[o++] = s[i];
			continue;
		}
		if (s[i] == '\n' || s[i] == '\r')
			col = 0;
		else if (col++ >= width - 1)
			continue;
		s[o++] = s[i];
	}
	*n = o;
}

/*
 * Does line (len bytes, without its newline) hold a frame record?  If so,
 * print what comes before it, show its frame in place of the one on the
 * screen (or print it as it is, if it is not whole), and return 1; else 0.
 */
int
display_frame(struct display *d, const char *line, size_t len)
{
	unsigned long	 lines, n;
	unsigned int	 nl = 0, width, rows;
	size_t		 i, mark = sizeof FRAME_MARK - 1;
	char		*s, *p, *end;
	const char	*at;

	if ((at = memmem(line, len, FRAME_MARK, mark)) == NULL)
		return (0);
	/* Another line's start, cut short: above the frame. */
	if (at > line)
		display_line(d, line, (size_t)(at - line));
	len -= (size_t)(at - line);
	line = at;
	s = xmalloc(len + 1);
	memcpy(s, line, len);
	s[len] = '\0';
	/* "LINES BYTES " and the bytes, spaces one each: a frame starts
	 * with a carriage return. */
	p = s + mark;
	lines = strtoul(p, &end, 10);
	if (end == p || *end != ' ' || lines > 65536)
		goto not;
	p = end + 1;
	n = strtoul(p, &end, 10);
	if (end == p || *end != ' ' || n != len - (size_t)(end + 1 - s))
		goto not;
	memmove(s, end + 1, n);
	for (i = 0; i < n; i++) {
		if (s[i] == FRAME_NL) {
			s[i] = '\n';
			nl++;
		}
	}
	/* A frame of other lines than it says, or none: not one to draw. */
	if (nl != lines || (n > 0 && s[n - 1] != '\n'))
		goto not;
	if (d->frozen) {
		free(s);
		return (1);
	}
	display_size(d, &width, &rows);
	frame_cut(s, &n, width);
	free(d->frame);
	d->frame = s;
	d->framelen = n;
	display_show(d, NULL, 0);
	d->lines = (unsigned int)lines;
	return (1);
not:
	/* Not whole (another host's bytes in it?): nothing is lost. */
	free(s);
	display_line(d, line, len);
	return (1);
}

/* Take the display off the screen: show an empty frame. */
void
display_clear(struct display *d)
{
	if (d->lines == 0)
		return;
	d->framelen = 0;
	display_show(d, NULL, 0);
	d->lines = 0;
}

/* Take the display off the screen for good: frames come too late. */
void
display_freeze(struct display *d)
{
	if (d == NULL || d->frozen)
		return;
	display_clear(d);
	d->frozen = 1;
}

void
display_stop(struct display *d)
{
	if (d == NULL)
		return;
	display_clear(d);
	free(d->frame);
	free(d->prev_rec);
	free(d->prev_t);
	free(d->rate);
	free(d->shown);
	free(d);
}
