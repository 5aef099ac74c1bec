/* forkflow: see LICENSE. */
/*
 * forkflow mapreduce -d DATA_DIR -c CODE_DIR -o OUTPUT_DIR: Python map and
 * reduce functions, a task.py in CODE_DIR, over the files of DATA_DIR.
 * The job is a program of a mapper and a reducer, each `forkflow builtin
 * pytask` (pytask.py, the runner: one interpreter per process, the
 * streaming protocol between), run as forkflow streaming runs its own:
 * the same recovery, the same job directory, the same resume.
 */

#include <err.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "forkflow.h"

const char cmd_mapreduce_synopsis[] =
"forkflow mapreduce -d data_dir -c code_dir -o output_dir [-qv]\n"
"                          [run-options]";

static const char cmd_mapreduce_help[] =
"Run the Python functions of code_dir/task.py over the files of data_dir:\n"
"mapper(doc_id, chunk) yields (key, value) pairs for each chunk of a file\n"
"(doc_id its path, chunk a block of --split-size cut at a line end), and\n"
"reducer(key_values), given {key: [values]}, yields the (key, value) pairs\n"
"of the result, written as JSON, a key, a tab and a value a line, into\n"
"output_dir/part-00000 and so on.\n"
"\n"
"  -d DIR               the input files\n"
"  -c DIR               the folder of task.py\n"
"  -o DIR               the result (it must not exist)\n"
"  -q, -v               as forkflow run's\n"
"\n"
"FORKFLOW_PYTHON names the interpreter (python3 by default).\n";

/* An absolute path to an existing folder, or exit 2 naming the option. */
static char *
mr_folder(const char *opt, const char *path)
{
	char	*abs;

	if ((abs = realpath(path, NULL)) == NULL)
		err(EXIT_USAGE, "%s %s", opt, path);
	return (abs);
}

/* forkflow mapreduce -d DATA_DIR -c CODE_DIR -o OUTPUT_DIR [options] */
int
cmd_mapreduce(int argc, char **argv)
{
	struct run_opts	 ro;
	json_t		*root, *o, *ops, *op, *cmd, *env;
	const char	*data = NULL, *code = NULL, *arg;
	char		*self, *datadir, *codedir, *task, *size;
	int		 i, status;

	memset(&ro, 0, sizeof ro);
	run_opts_init(&ro);
	ro.streaming = 2;
	ro.argc = argc;
	ro.argv = argv;
	for (i = 1; i < argc;) {
		arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			printf("usage: %s\n\n%s\nThe options of forkflow run "
			    "are taken too:\n\n%s", cmd_mapreduce_synopsis,
			    cmd_mapreduce_help, run_options_help);
			exit(0);
		}
		if (run_opts_long(&ro, argc, argv, &i) == 0)
			continue;
		if ((strcmp(arg, "-d") == 0 || strcmp(arg, "-c") == 0 ||
		    strcmp(arg, "-o") == 0) && i + 1 >= argc)
			errx(EXIT_USAGE, "%s needs a value", arg);
		if (strcmp(arg, "-d") == 0)
			data = argv[i + 1];
		else if (strcmp(arg, "-c") == 0)
			code = argv[i + 1];
		else if (strcmp(arg, "-o") == 0) {
			free(ro.output);
			ro.output = xstrdup(argv[i + 1]);
		} else if (strcmp(arg, "-q") == 0 || strcmp(arg, "-v") == 0) {
			run_opts_short(&ro, arg[1]);
			i++;
			continue;
		} else {
			warnx("unknown option %s", arg);
			cmd_usage(cmd_mapreduce_synopsis, NULL, EXIT_USAGE);
		}
		i += 2;
	}
	if (data == NULL || code == NULL || ro.output == NULL) {
		warnx("mapreduce needs -d, -c and -o");
		cmd_usage(cmd_mapreduce_synopsis, NULL, EXIT_USAGE);
	}
	datadir = mr_folder("-d", data);
	codedir = mr_folder("-c", code);
	xasprintf(&task, "%s/task.py", codedir);
	if (access(task, R_OK) != 0)
		err(EXIT_USAGE, "-c %s: %s", code, task);
	free(task);
	if ((self = realpath("/proc/self/exe", NULL)) == NULL)
		err(EXIT_JOB_FAILED, "/proc/self/exe");

	root = json_object();
	o = json_object();
	json_object_set_new(o, "path", json_string(datadir));
	json_object_set_new(o, "format", json_string("text"));
	json_object_set_new(root, "input", o);
	o = json_object();
	json_object_set_new(o, "format", json_string("tsv"));
	json_object_set_new(root, "output", o);
	ops = json_array();
	op = json_object();
	json_object_set_new(op, "operator", json_string("mapper"));
	cmd = json_pack("[s, s, s, s, s]", self, "builtin", "pytask", "map",
	    codedir);
	json_object_set_new(op, "command", cmd);
	/* doc_id: one process per file. */
	json_object_set_new(op, "processPerFile", json_true());
	json_array_append_new(ops, op);
	op = json_object();
	json_object_set_new(op, "operator", json_string("reducer"));
	cmd = json_pack("[s, s, s, s, s]", self, "builtin", "pytask", "reduce",
	    codedir);
	json_object_set_new(op, "command", cmd);
	json_array_append_new(ops, op);
	json_object_set_new(root, "operations", ops);
	env = json_object();
	xasprintf(&size, "%llu", (unsigned long long)ro.split_size);
	json_object_set_new(env, "FORKFLOW_SPLIT_SIZE", json_string(size));
	free(size);
	json_object_set_new(root, "environment", env);
	ro.gen = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	free(self);
	free(datadir);
	free(codedir);
	status = run_job(&ro);
	run_opts_free(&ro);
	return (status);
}
