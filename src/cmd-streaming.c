/* forkflow: see LICENSE. */
/*
 * forkflow streaming: Hadoop Streaming's own command line, so that a Hadoop
 * Streaming job runs as it is.  The job is written as a program (text
 * input, a mapper, a reducer with its combiner, TSV output) and run as
 * `forkflow run` runs a program.
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
"                          [-file f]...";

static const char cmd_streaming_help[] =
"Run a Hadoop Streaming job as it is written: a mapper and a reducer\n"
"command, in any language, over lines of text, into OUT/part-NNNNN and\n"
"OUT/_SUCCESS.\n"
"\n"
"  -input PATH          an input file or folder; may be repeated\n"
"  -output DIR          the output folder; it must not exist\n"
"  -mapper CMD          the map command, run with /bin/sh -c\n"
"  -reducer CMD         the reduce command, fed its input sorted by key\n"
"  -combiner CMD        a command run on each map output before the shuffle\n"
"  -numReduceTasks N    the number of partitions (0: no reduce)\n"
"  -file FILE           link FILE into the folder where the commands run;\n"
"                       may be repeated\n"
"  -D NAME=VALUE, -cmdenv NAME=VALUE\n"
"                       ignored, with a warning\n"
"\n"
"Exit status: 0 success, 1 the job failed at run time, 2 usage error or\n"
"invalid input.  See forkflow(1).\n";

static const char	*stream_command(const char *);

/* Files of -file, linked into the job's work folder for its commands. */
static char	**stream_files;
static size_t	  nstream_files;
static char	 *stream_program;

static void
stream_program_remove(void)
{
	if (stream_program != NULL)
		(void)unlink(stream_program);
}

/*
 * forkflow streaming: Hadoop Streaming's own options, so that a Hadoop
 * Streaming job runs as it is.  The job is written as a program (text
 * input, a mapper, a reducer with its combiner, TSV output) and run.
 */
int
cmd_streaming(int argc, char **argv)
{
	json_t		*root, *in, *ops, *o;
	const char	*tmp, *mapper = NULL, *reducer = NULL, *combiner = NULL;
	const char	*output = NULL;
	char		*path, *abs, **av, nbuf[16];
	long		 nred = -1;
	int		 i, fd, n = 0, status;

	in = json_array();
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-help") == 0)
			cmd_usage(cmd_streaming_synopsis, cmd_streaming_help,
			    0);
		if (i + 1 >= argc)
			cmd_usage(cmd_streaming_synopsis, NULL, EXIT_USAGE);
		if (strcmp(argv[i], "-input") == 0) {
			if ((abs = realpath(argv[++i], NULL)) == NULL)
				err(EXIT_USAGE, "%s", argv[i]);
			json_array_append_new(in, json_string(abs));
			free(abs);
		} else if (strcmp(argv[i], "-output") == 0)
			output = argv[++i];
		else if (strcmp(argv[i], "-mapper") == 0)
			mapper = argv[++i];
		else if (strcmp(argv[i], "-reducer") == 0)
			reducer = argv[++i];
		else if (strcmp(argv[i], "-combiner") == 0)
			combiner = argv[++i];
		else if (strcmp(argv[i], "-numReduceTasks") == 0) {
			i++;
			nred = strcmp(argv[i], "0") == 0 ? 0 :
			    (long)cmd_parse_count(argv[i], "-numReduceTasks", 1024);
		}
		else if (strcmp(argv[i], "-file") == 0) {
			if ((abs = realpath(argv[++i], NULL)) == NULL)
				err(EXIT_USAGE, "%s", argv[i]);
			stream_files = xreallocarray(stream_files,
			    nstream_files + 1, sizeof *stream_files);
			stream_files[nstream_files++] = abs;
		} else if (strcmp(argv[i], "-D") == 0 ||
		    strcmp(argv[i], "-cmdenv") == 0) {
			warnx("%s %s ignored", argv[i], argv[i + 1]);
			i++;
		} else {
			warnx("unknown option %s", argv[i]);
			cmd_usage(cmd_streaming_synopsis, NULL, EXIT_USAGE);
		}
	}
	if (json_array_size(in) == 0 || output == NULL || mapper == NULL) {
		warnx("streaming needs -input, -output and -mapper");
		cmd_usage(cmd_streaming_synopsis, NULL, EXIT_USAGE);
	}

	root = json_object();
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
	json_object_set_new(o, "command", json_string(stream_command(mapper)));
	json_array_append_new(ops, o);
	if (reducer != NULL && nred != 0) {
		o = json_object();
		json_object_set_new(o, "operator", json_string("reducer"));
		json_object_set_new(o, "command",
		    json_string(stream_command(reducer)));
		if (combiner != NULL)
			json_object_set_new(o, "combiner",
			    json_string(stream_command(combiner)));
		json_array_append_new(ops, o);
	}
	json_object_set_new(root, "operations", ops);

	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	xasprintf(&path, "%s/forkflow-streaming.XXXXXX.json", tmp);
	if ((fd = mkstemps(path, 5)) == -1)
		err(EXIT_JOB_FAILED, "%s", path);
	stream_program = path;
	atexit(stream_program_remove);
	if (json_dumpfd(root, fd, JSON_INDENT(2)) != 0 || close(fd) != 0)
		err(EXIT_JOB_FAILED, "%s", path);
	json_decref(root);

	av = xcalloc(8, sizeof *av);
	av[n++] = argv[0];
	av[n++] = path;
	av[n++] = (char *)"-o";
	av[n++] = (char *)output;
	if (nred > 0) {
		snprintf(nbuf, sizeof nbuf, "%ld", nred);
		av[n++] = (char *)"-p";
		av[n++] = nbuf;
	}
	status = run_main(n, av, stream_files, nstream_files, 1);
	free(av);
	return (status);
}

/*
 * A command whose first word names a file shipped with -file runs that
 * file, from the work folder (as Hadoop Streaming does).
 */
static const char *
stream_command(const char *cmd)
{
	size_t	 i, n = strcspn(cmd, " \t");
	char	*s;

	for (i = 0; i < nstream_files; i++) {
		const char *base = strrchr(stream_files[i], '/') + 1;

		if (strlen(base) == n && strncmp(cmd, base, n) == 0) {
			xasprintf(&s, "./%s", cmd);
			return (s);
		}
	}
	return (cmd);
}

