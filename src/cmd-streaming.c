/* forkflow: see LICENSE. */
/*
 * forkflow streaming: Hadoop Streaming's own command line, so that a Hadoop
 * Streaming job runs as it is.  The job is written as a program (text
 * input, a mapper, a reducer with its combiner, TSV output) into its job
 * directory and run as `forkflow run` runs a program.
 */

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "forkflow.h"

const char cmd_streaming_synopsis[] =
"forkflow streaming -input in [-input in]... -output out -mapper cmd\n"
"                          [-reducer cmd] [-combiner cmd] [-numReduceTasks n]\n"
"                          [-file f]... [-D name=value]... [-qv]\n"
"                          [run-options]";

static const char cmd_streaming_help[] =
"Run a Hadoop Streaming job as it is written: a mapper and a reducer\n"
"command, in any language, over lines of text, into OUT/part-NNNNN and\n"
"OUT/_SUCCESS.\n"
"\n"
"  -input PATH          an input file or folder; may be repeated\n"
"  -output DIR          the output folder; it must not exist\n"
"  -mapper CMD          the map command, run with /bin/sh -c\n"
"  -reducer CMD         the reduce command, fed its input sorted by key;\n"
"                       NONE: no reduce, as with -numReduceTasks 0\n"
"  -combiner CMD        a command run on each map output before the shuffle\n"
"  -numReduceTasks N    the number of partitions (0: no reduce)\n"
"  -file FILE           link FILE into the folder where the commands run;\n"
"                       may be repeated\n"
"  -D NAME=VALUE        a property: mapreduce.task.timeout (ms) is honoured,\n"
"                       any other ignored with a warning\n"
"  -cmdenv NAME=VALUE   ignored, with a warning\n"
"  -q, -v               as forkflow run's\n"
"\n"
"Exit status: 0 success, 1 the job failed at run time, 2 usage error or\n"
"invalid input.  See forkflow(1).\n";

static json_t		*stream_command(const struct run_opts *, const char *);

/*
 * Take the value of the option at argv[*i]: step past both, or fail when
 * the value is missing.
 */
static const char *
stream_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		warnx("%s needs a value", argv[*i]);
		cmd_usage(cmd_streaming_synopsis, NULL, EXIT_USAGE);
	}
	*i += 2;
	return (argv[*i - 1]);
}

/* The absolute path of an -input or -file, which must exist. */
static char *
stream_path(const char *path)
{
	char	*abs;

	if ((abs = realpath(path, NULL)) == NULL)
		err(EXIT_USAGE, "%s", path);
	return (abs);
}

/*
 * A -D NAME=VALUE property: those forkflow honours go into the program it
 * writes, the others are ignored with a warning that names them.
 */
static void
stream_property(json_t *root, const char *prop)
{
	const char	*eq = strchr(prop, '=');
	char		*end;
	long long	 ms;

	if (eq == NULL)
		errx(EXIT_USAGE, "-D wants NAME=VALUE: %s", prop);
	if ((size_t)(eq - prop) == strlen("mapreduce.task.timeout") &&
	    strncmp(prop, "mapreduce.task.timeout", (size_t)(eq - prop)) == 0) {
		ms = strtoll(eq + 1, &end, 10);
		if (eq[1] == '\0' || *end != '\0' || ms < 0 ||
		    ms > 1000000000LL)
			errx(EXIT_USAGE, "mapreduce.task.timeout must be a "
			    "number of milliseconds: %s", eq + 1);
		json_object_set_new(root, "taskTimeout", json_integer(ms));
		return;
	}
	warnx("-D %s ignored", prop);
}

/*
 * forkflow streaming: Hadoop Streaming's own options, so that a Hadoop
 * Streaming job runs as it is.  The job is written as a program (text
 * input, a mapper, a reducer with its combiner, TSV output) into the job
 * directory, and run as `forkflow run` runs one; options of run's, such as
 * --job-dir or --keep, are taken as run takes them.  The same command
 * with the same --job-dir resumes the job.
 */
int
cmd_streaming(int argc, char **argv)
{
	struct run_opts	 ro;
	json_t		*root, *in, *ops, *o;
	const char	*mapper = NULL, *reducer = NULL, *combiner = NULL, *arg;
	char		*abs;
	long		 nred = -1;
	int		 i, status;

	run_opts_init(&ro);
	ro.streaming = 1;
	ro.argc = argc;
	ro.argv = argv;
	root = json_object();
	in = json_array();
	for (i = 1; i < argc;) {
		arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-help") == 0) {
			printf("usage: %s\n\n%s\nThe options of forkflow run "
			    "are taken too:\n\n%s", cmd_streaming_synopsis,
			    cmd_streaming_help, run_options_help);
			exit(0);
		}
		if (run_opts_long(&ro, argc, argv, &i) == 0)
			continue;
		/* -q and -v, as run takes them. */
		if (strcmp(arg, "-q") == 0 || strcmp(arg, "-v") == 0) {
			run_opts_short(&ro, arg[1]);
			i++;
			continue;
		}
		if (strcmp(arg, "-input") == 0) {
			abs = stream_path(stream_value(argc, argv, &i));
			json_array_append_new(in, json_string(abs));
			free(abs);
		} else if (strcmp(arg, "-output") == 0) {
			free(ro.output);
			ro.output = xstrdup(stream_value(argc, argv, &i));
		} else if (strcmp(arg, "-mapper") == 0)
			mapper = stream_value(argc, argv, &i);
		else if (strcmp(arg, "-reducer") == 0)
			reducer = stream_value(argc, argv, &i);
		else if (strcmp(arg, "-combiner") == 0)
			combiner = stream_value(argc, argv, &i);
		else if (strcmp(arg, "-numReduceTasks") == 0) {
			arg = stream_value(argc, argv, &i);
			nred = strcmp(arg, "0") == 0 ? 0 :
			    (long)cmd_parse_count(arg, "-numReduceTasks",
			    PARTS_MAX);
		} else if (strcmp(arg, "-file") == 0) {
			ro.ship = xreallocarray(ro.ship, ro.nship + 1,
			    sizeof *ro.ship);
			ro.ship[ro.nship++] = stream_path(stream_value(argc,
			    argv, &i));
		} else if (strncmp(arg, "-D", 2) == 0) {
			stream_property(root, arg[2] != '\0' ? (i++, arg + 2) :
			    stream_value(argc, argv, &i));
		} else if (strcmp(arg, "-cmdenv") == 0) {
			warnx("%s %s ignored", arg, stream_value(argc, argv,
			    &i));
		} else {
			warnx("unknown option %s", arg);
			cmd_usage(cmd_streaming_synopsis, NULL, EXIT_USAGE);
		}
	}
	if (json_array_size(in) == 0 || ro.output == NULL || mapper == NULL) {
		warnx("streaming needs -input, -output and -mapper");
		cmd_usage(cmd_streaming_synopsis, NULL, EXIT_USAGE);
	}
	/* Hadoop's spelling of a job without reduce. */
	if (reducer != NULL && strcmp(reducer, "NONE") == 0)
		reducer = NULL;
	if (nred > 0 && ro.parts == 0)
		ro.parts = (unsigned int)nred;

	o = json_object();
	json_object_set_new(o, "path", in);
	json_object_set_new(o, "format", json_string("text"));
	json_object_set_new(root, "input", o);
	o = json_object();
	json_object_set_new(o, "format", json_string("tsv"));
	json_object_set_new(root, "output", o);
	ops = json_array();
	o = json_object();
	json_object_set_new(o, "operator", json_string("mapper"));
	json_object_set_new(o, "command", stream_command(&ro, mapper));
	json_array_append_new(ops, o);
	if (reducer != NULL && nred != 0) {
		o = json_object();
		json_object_set_new(o, "operator", json_string("reducer"));
		json_object_set_new(o, "command", stream_command(&ro,
		    reducer));
		if (combiner != NULL)
			json_object_set_new(o, "combiner", stream_command(&ro,
			    combiner));
		json_array_append_new(ops, o);
	}
	json_object_set_new(root, "operations", ops);
	ro.gen = json_dumps(root, JSON_INDENT(2));
	json_decref(root);

	status = run_job(&ro);
	run_opts_free(&ro);
	return (status);
}

/*
 * A command whose first word names a file shipped with -file runs that
 * file, from the work folder (as Hadoop Streaming does).
 */
static json_t *
stream_command(const struct run_opts *ro, const char *cmd)
{
	const char	*base;
	size_t		 i, n = strcspn(cmd, " \t");

	for (i = 0; i < ro->nship; i++) {
		base = strrchr(ro->ship[i], '/') + 1;
		if (strlen(base) == n && strncmp(cmd, base, n) == 0)
			return (json_sprintf("./%s", cmd));
	}
	return (json_string(cmd));
}

