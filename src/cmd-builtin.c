/* forkflow: see LICENSE. */
/*
 * forkflow builtin aggregate [--combine]: Hadoop's `aggregate` reducer
 * (and, with --combine, its combiner), which streaming runs for -reducer
 * aggregate as a command of its own.  Its input is a mapper's lines
 *
 *	TYPE:KEY<TAB>VALUE
 *
 * sorted by TYPE:KEY; for each TYPE:KEY the reducer writes KEY<TAB>REPORT
 * and the combiner TYPE:KEY<TAB>PARTIAL lines that the reducer takes as
 * it takes a mapper's.  The types and their reports are Hadoop's:
 *
 *	LongValueSum	the sum			LongValueMax, LongValueMin
 *	DoubleValueSum	the sum (a double)	StringValueMax, StringValueMin
 *	UniqValueCount	the number of distinct values
 *	ValueHistogram	for values "V" or "V<TAB>COUNT": the number of
 *			distinct V, then the minimum, median, maximum,
 *			average and standard deviation of their counts
 *
 * Doubles are written as Java writes them (1.5, 2.0, 1.0E7).
 */

#include <err.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"
#include "pytask.h"

enum agg_type {
	AG_LSUM, AG_LMAX, AG_LMIN, AG_DSUM, AG_SMAX, AG_SMIN, AG_UNIQ,
	AG_HIST,
};

static const char *const agg_names[] = {
	[AG_LSUM] = "LongValueSum", [AG_LMAX] = "LongValueMax",
	[AG_LMIN] = "LongValueMin", [AG_DSUM] = "DoubleValueSum",
	[AG_SMAX] = "StringValueMax", [AG_SMIN] = "StringValueMin",
	[AG_UNIQ] = "UniqValueCount", [AG_HIST] = "ValueHistogram",
};

/* A value of a UniqValueCount or ValueHistogram key, with its count. */
struct agg_item {
	char		*v;
	long long	 n;
};

/* The group being read: one TYPE:KEY. */
struct agg_group {
	char		*id;		/* TYPE:KEY as read */
	enum agg_type	 type;
	long long	 l;
	double		 d;
	char		*s;
	struct agg_item	*items;
	size_t		 nitems;
	size_t		 cap;
};

static unsigned long	 agg_line;

static __dead void
agg_fail(const char *what, const char *text)
{
	errx(EXIT_JOB_FAILED, "aggregate: standard input line %lu: %s: %s",
	    agg_line, what, text);
}

/*
 * A double as Java's Double.toString writes it: the fewest digits that
 * read back as the same double, plainly between 10^-3 and 10^7 ("2.0",
 * "0.001"), else as "d.dddE[-]n".
 */
static void
java_double(char *out, size_t size, double d)
{
	char	 e[40], digits[24], *p;
	int	 prec, exp, nd, i, o = 0;

	if (isnan(d)) {
		snprintf(out, size, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(out, size, "%sInfinity", d < 0 ? "-" : "");
		return;
	}
	if (d == 0) {
		snprintf(out, size, "%s0.0", signbit(d) ? "-" : "");
		return;
	}
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof e, "%.*e", prec, d);
		if (strtod(e, NULL) == d)
			break;
	}
	/* e is [-]D[.DDD]e[+-]XX: take its digits and exponent apart. */
	p = e;
	if (*p == '-')
		out[o++] = *p++;
	nd = 0;
	for (; *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	exp = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (fabs(d) >= 1e-3 && fabs(d) < 1e7) {
		if (exp < 0) {
			o += snprintf(out + o, size - o, "0.");
			for (i = -1; i > exp; i--)
				out[o++] = '0';
			for (i = 0; i < nd; i++)
				out[o++] = digits[i];
		} else {
			for (i = 0; i <= exp; i++)
				out[o++] = i < nd ? digits[i] : '0';
			out[o++] = '.';
			if (nd <= exp + 1)
				out[o++] = '0';
			for (i = exp + 1; i < nd; i++)
				out[o++] = digits[i];
		}
		out[o] = '\0';
		return;
	}
	out[o++] = digits[0];
	out[o++] = '.';
	if (nd == 1)
		out[o++] = '0';
	for (i = 1; i < nd; i++)
		out[o++] = digits[i];
	snprintf(out + o, size - o, "E%d", exp);
}

/* A long, as Java's Long.parseLong takes it. */
static long long
agg_long(const char *s)
{
	long long	 n;
	char		*end;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || *s == ' ')
		agg_fail("not a long", s);
	return (n);
}

static double
agg_double(const char *s)
{
	double	 d;
	char	*end;

	errno = 0;
	d = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || *s == ' ')
		agg_fail("not a number", s);
	return (d);
}

/* Count value v n more times. */
static void
agg_item_add(struct agg_group *g, const char *v, long long n)
{
	if (g->nitems == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->items = xreallocarray(g->items, g->cap, sizeof *g->items);
	}
	g->items[g->nitems].v = xstrdup(v);
	g->items[g->nitems++].n = n;
}

static int
agg_item_cmp(const void *a, const void *b)
{
	const struct agg_item	*x = a, *y = b;

	return (strcmp(x->v, y->v));
}

static int
agg_ll_cmp(const void *a, const void *b)
{
	long long	 x = *(const long long *)a, y = *(const long long *)b;

	return (x < y ? -1 : x > y);
}

/* Sort the items and add the counts of equal values. */
static void
agg_items_merge(struct agg_group *g)
{
	size_t	 i, o = 0;

	if (g->nitems == 0)
		return;
	qsort(g->items, g->nitems, sizeof *g->items, agg_item_cmp);
	for (i = 1; i < g->nitems; i++) {
		if (strcmp(g->items[i].v, g->items[o].v) == 0) {
			g->items[o].n += g->items[i].n;
			free(g->items[i].v);
		} else
			g->items[++o] = g->items[i];
	}
	g->nitems = o + 1;
}

/* Take one value of the group. */
static void
agg_take(struct agg_group *g, char *v, int first)
{
	char		*tab;
	long long	 n = 1;

	switch (g->type) {
	case AG_LSUM:
		g->l = first ? agg_long(v) : g->l + agg_long(v);
		break;
	case AG_LMAX:
		n = agg_long(v);
		g->l = first || n > g->l ? n : g->l;
		break;
	case AG_LMIN:
		n = agg_long(v);
		g->l = first || n < g->l ? n : g->l;
		break;
	case AG_DSUM:
		g->d = first ? agg_double(v) : g->d + agg_double(v);
		break;
	case AG_SMAX:
	case AG_SMIN:
		if (first || (g->type == AG_SMAX ? strcmp(v, g->s) > 0 :
		    strcmp(v, g->s) < 0)) {
			free(g->s);
			g->s = xstrdup(v);
		}
		break;
	case AG_UNIQ:
		agg_item_add(g, v, 1);
		break;
	case AG_HIST:
		if ((tab = strrchr(v, '\t')) != NULL) {
			*tab = '\0';
			n = agg_long(tab + 1);
		}
		agg_item_add(g, v, n);
		break;
	}
}

/*
 * A ValueHistogram's report: the number of distinct values, then the
 * least, median, greatest and mean of their counts, and their standard
 * deviation.
 */
static void
agg_histogram(const struct agg_group *g, const char *key)
{
	char		 d[64];
	long long	*c, acc = 0;
	double		 avg, sd = 0;
	size_t		 i;

	printf("%s\t%zu", key, g->nitems);
	if (g->nitems > 0) {
		c = xcalloc(g->nitems, sizeof *c);
		for (i = 0; i < g->nitems; i++) {
			c[i] = g->items[i].n;
			acc += c[i];
		}
		qsort(c, g->nitems, sizeof *c, agg_ll_cmp);
		avg = (double)acc / (double)g->nitems;
		for (i = 0; i < g->nitems; i++)
			sd += ((double)c[i] - avg) * ((double)c[i] - avg);
		sd = sqrt(sd / (double)g->nitems);
		printf("\t%lld\t%lld\t%lld", c[0], c[g->nitems / 2],
		    c[g->nitems - 1]);
		java_double(d, sizeof d, avg);
		printf("\t%s", d);
		java_double(d, sizeof d, sd);
		printf("\t%s", d);
		free(c);
	}
	putchar('\n');
}

/*
 * Write the group's report, as KEY<TAB>REPORT; or, combining, its partial
 * lines, as TYPE:KEY<TAB>PARTIAL, which the reducer takes as a mapper's.
 */
static void
agg_flush(struct agg_group *g, int combine)
{
	const char	*name = combine ? g->id : strchr(g->id, ':') + 1;
	char		 d[64];
	size_t		 i;

	if (g->type == AG_UNIQ || g->type == AG_HIST)
		agg_items_merge(g);
	switch (g->type) {
	case AG_LSUM: case AG_LMAX: case AG_LMIN:
		printf("%s\t%lld\n", name, g->l);
		break;
	case AG_DSUM:
		java_double(d, sizeof d, g->d);
		printf("%s\t%s\n", name, d);
		break;
	case AG_SMAX: case AG_SMIN:
		printf("%s\t%s\n", name, g->s);
		break;
	case AG_UNIQ:
		if (!combine)
			printf("%s\t%zu\n", name, g->nitems);
		else
			for (i = 0; i < g->nitems; i++)
				printf("%s\t%s\n", name, g->items[i].v);
		break;
	case AG_HIST:
		if (!combine)
			agg_histogram(g, name);
		else
			for (i = 0; i < g->nitems; i++)
				printf("%s\t%s\t%lld\n", name, g->items[i].v,
				    g->items[i].n);
		break;
	}
	for (i = 0; i < g->nitems; i++)
		free(g->items[i].v);
	g->nitems = 0;
	free(g->s);
	g->s = NULL;
}

/* The type named before the first colon of a key. */
static enum agg_type
agg_type_of(const char *id)
{
	const char	*colon = strchr(id, ':');
	size_t		 i;

	if (colon == NULL)
		agg_fail("no TYPE: before the key", id);
	for (i = 0; i < sizeof agg_names / sizeof agg_names[0]; i++)
		if (strlen(agg_names[i]) == (size_t)(colon - id) &&
		    strncmp(id, agg_names[i], (size_t)(colon - id)) == 0)
			return ((enum agg_type)i);
	agg_fail("not an aggregator of Hadoop's (LongValueSum, "
	    "ValueHistogram, ...)", id);
}

static int
builtin_aggregate(int combine)
{
	struct agg_group	 g;
	char			*line = NULL, *tab;
	size_t			 cap = 0;
	ssize_t			 n;
	int			 open = 0;

	memset(&g, 0, sizeof g);
	while ((n = getline(&line, &cap, stdin)) != -1) {
		agg_line++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if ((tab = strchr(line, '\t')) != NULL)
			*tab++ = '\0';
		else
			tab = line + n;
		if (open && strcmp(line, g.id) != 0) {
			agg_flush(&g, combine);
			free(g.id);
			open = 0;
		}
		if (!open) {
			g.type = agg_type_of(line);
			g.id = xstrdup(line);
		}
		agg_take(&g, tab, !open);
		open = 1;
	}
	if (ferror(stdin))
		err(EXIT_JOB_FAILED, "aggregate: standard input");
	if (open) {
		agg_flush(&g, combine);
		free(g.id);
	}
	free(g.items);
	free(line);
	if (fflush(stdout) != 0 || ferror(stdout))
		err(EXIT_JOB_FAILED, "aggregate: standard output");
	return (0);
}

const char cmd_builtin_synopsis[] =
"forkflow builtin aggregate [--combine] | pytask map|reduce folder";

/*
 * forkflow builtin pytask map|reduce FOLDER: the runner of forkflow
 * mapreduce (pytask.py, kept here as a string) in the interpreter that
 * FORKFLOW_PYTHON names, python3 by default.
 */
static __dead void
builtin_pytask(const char *role, const char *folder)
{
	const char	*py = getenv("FORKFLOW_PYTHON");

	if (py == NULL || *py == '\0')
		py = "python3";
	execlp(py, py, "-c", pytask_src, role, folder, (char *)NULL);
	err(127, "%s", py);
}

/*
 * forkflow builtin NAME: the commands that stand for Hadoop's own classes
 * in a streaming job.
 */
int
cmd_builtin(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "aggregate") == 0)
		return (builtin_aggregate(0));
	if (argc == 3 && strcmp(argv[1], "aggregate") == 0 &&
	    strcmp(argv[2], "--combine") == 0)
		return (builtin_aggregate(1));
	if (argc == 4 && strcmp(argv[1], "pytask") == 0 &&
	    (strcmp(argv[2], "map") == 0 || strcmp(argv[2], "reduce") == 0))
		builtin_pytask(argv[2], argv[3]);
	cmd_usage(cmd_builtin_synopsis, NULL, EXIT_USAGE);
}
