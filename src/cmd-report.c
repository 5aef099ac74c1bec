/* forkflow: see LICENSE. */
/*
 * forkflow report: one self-contained HTML page of a job (report.c), and
 * its timeline as Chrome trace-event JSON.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "forkflow.h"

const char cmd_report_synopsis[] =
"forkflow report [-o report.html] [--trace file] jobdir";

static const char cmd_report_help[] =
"Write an HTML report of a job (timeline, counters, program) that loads\n"
"nothing from anywhere, and its trace.\n"
"\n"
"  -o, --output FILE    the report (default report.html; - for standard\n"
"                       output)\n"
"      --trace FILE     also write the timeline as Chrome trace-event JSON\n"
"\n"
"Exit status: 0, or 2 when jobdir holds no job to report.\n";

static const struct option report_opts[] = {
	{ "output",	required_argument,	NULL, 'o' },
	{ "trace",	required_argument,	NULL, 't' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

/* forkflow report [-o FILE] [--trace FILE] JOBDIR */
int
cmd_report(int argc, char **argv)
{
	const char	*out = "report.html", *trace = NULL;
	char		*cause, *path;
	int		 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:", report_opts, NULL)) !=
	    -1) {
		if (ch == 'o')
			out = optarg;
		else if (ch == 't')
			trace = optarg;
		else if (ch == 'h')
			cmd_usage(cmd_report_synopsis, cmd_report_help, 0);
		else
			cmd_usage(cmd_report_synopsis, NULL, EXIT_USAGE);
	}
	cmd_operands(argc, argv, optind, 1, "job directory", cmd_report_synopsis);
	if (report_html(argv[optind], out, &cause) != 0) {
		fprintf(stderr, "forkflow: %s\n", cause);
		free(cause);
		return (EXIT_USAGE);
	}
	if (trace != NULL) {
		path = jd_file(argv[optind], JD_EVENTS);
		if (report_trace(path, trace, &cause) != 0) {
			fprintf(stderr, "forkflow: %s\n", cause);
			free(cause);
			free(path);
			return (EXIT_USAGE);
		}
		free(path);
	}
	return (0);
}
