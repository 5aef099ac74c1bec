/* forkflow: see LICENSE. */
/*
 * forkflow run's command line: its options, which `forkflow streaming`
 * takes too as --NAME, their help, and the subcommand itself, which parses
 * them and hands the job to run_job() (cmd-run.c).
 */

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forkflow.h"

const char cmd_run_synopsis[] =
"forkflow run program [-qv] [-p partitions] [-i input]... [-o output]\n"
"                    [--force] [--job-dir dir] [--keep] [--durable]\n"
"                    [--max-attempts n] [--checkpoint-interval size]\n"
"                    [--heartbeat-timeout seconds] [--task-timeout seconds]\n"
"                    [--skip-bad-records]\n"
"                    [--inject-crash partition:operator[:record[:attempts]]]\n"
"                    [--chaos mean-seconds] [--changekey-on key|value]\n"
"                    [--output-format csv|tsv] [--split-size size]\n"
"                    [--memory size]\n"
"                    [--progress auto|always|never] [--status-interval s]\n"
"                    [--log-file file] [--trace file]\n"
"                    [--hosts host,... | --hostfile file | --pool socket |\n"
"                    --mpi]\n"
"                    [--shuffle-timeout seconds]";

#define RUN_OPTIONS_HELP \
"  -p, --partitions N   number of partitions (workers); overrides the program\n" \
"                       (default: the number of processors)\n" \
"  -i, --input PATH     input file or folder ('-' for standard input); may be\n" \
"                       repeated; replaces the program's \"input\"\n" \
"  -o, --output DIR     write DIR/part-00000... and DIR/_SUCCESS instead of\n" \
"                       printing the sorted result on standard output\n" \
"      --force          replace an existing output folder\n" \
"      --job-dir DIR    keep the job's working files in DIR (default: a new\n" \
"                       folder under $TMPDIR)\n" \
"      --keep           do not remove the job directory after success\n" \
"      --durable        sync checkpoints and outputs to disk\n" \
"      --max-attempts N failures in a row of one partition before the job\n" \
"                       fails (4)\n" \
"      --checkpoint-interval SIZE\n" \
"                       checkpoint every SIZE bytes of input (64M; k, M, G)\n" \
"      --heartbeat-timeout SECONDS\n" \
"                       kill a worker that shows no progress that long (10)\n" \
"      --task-timeout SECONDS\n" \
"                       kill a worker whose mapper or reducer reads, writes\n" \
"                       and reports nothing that long (the program's\n" \
"                       \"taskTimeout\", else 600; 0: never)\n" \
"      --skip-bad-records\n" \
"                       skip a record that crashed a worker twice\n" \
"      --inject-crash P:OP[:RECORD[:ATTEMPTS]]\n" \
"                       worker P kills itself at operator OP (on the stage\n" \
"                       input's RECORD-th record) on its first ATTEMPTS tries;\n" \
"                       OP spill: in its RECORD-th spill, merge: after\n" \
"                       RECORD records of a merge of its spills, commit:\n" \
"                       stage RECORD's output in place, not yet published\n" \
"      --chaos SECONDS  kill a random worker every SECONDS on average (one\n" \
"                       that wrote a checkpoint since its fork)\n" \
"      --split-size SIZE\n" \
"                       cut the input into splits of SIZE bytes, dealt out\n" \
"                       to the workers in turn (default: one share each)\n" \
"      --memory SIZE    the memory the workers may use together; past its\n" \
"                       share a worker spills sorted runs to the job\n" \
"                       directory (default: the program's \"memory\", else\n" \
"                       half the memory of the machine or of its cgroup)\n" \
"      --output-format csv|tsv\n" \
"                       k,v lines (strings quoted when needed) or key\\tvalue\n" \
"      --changekey-on key|value\n" \
"                       what a named changeKey function applies to, as the\n" \
"                       program's \"changeKeyOn\" (default: value)\n" \
"      --progress auto|always|never\n" \
"                       draw live progress on standard error (auto: when it\n" \
"                       is a terminal); never also stops status blocks;\n" \
"                       relay is what --hosts gives its ranks\n" \
"      --status-interval SECONDS\n" \
"                       without a terminal, print a status block that often\n" \
"                       (10; 0: never)\n" \
"      --log-file FILE  append the log, with times, to FILE (as -v at least)\n" \
"      --trace FILE     write the job's timeline as Chrome trace-event JSON\n" \
"      --hosts H1,H2... run on these hosts, one supervisor each, through\n" \
"                       Open MPI's mpirun\n" \
"      --hostfile FILE  so, on the hosts of mpirun's hostfile FILE\n" \
"      --pool SOCKET    run on the hosts of the forkflow pool at SOCKET, whose\n" \
"                       ranks are already up\n" \
"      --mpi            be one rank of a job that mpirun or srun started\n" \
"      --shuffle-timeout SECONDS\n" \
"                       abort when another host is silent, or the exchange\n" \
"                       of a stage's files stands still, for SECONDS (60)\n" \
"  -v, --verbose        log stages and workers (twice: more)\n" \
"  -q, --quiet          print no warnings, progress or counters\n"

/* The options of run, which streaming takes too (as --NAME). */
const char run_options_help[] = RUN_OPTIONS_HELP;

static const char cmd_run_help[] =
"Run a dataflow program over key-value pairs, one forked worker per\n"
"partition, with crash recovery.\n"
"\n"
RUN_OPTIONS_HELP
"\n"
"Exit status: 0 success, 1 the job failed at run time, 2 usage error or\n"
"invalid program or input.  See forkflow(1) and forkflow-program(5).\n";

enum {
	OPT_JOBDIR = 256,
	OPT_KEEP,
	OPT_FORCE,
	OPT_DURABLE,
	OPT_MAX_ATTEMPTS,
	OPT_CKPT_INTERVAL,
	OPT_HEARTBEAT,
	OPT_TASK_TIMEOUT,
	OPT_INJECT,
	OPT_CHAOS,
	OPT_SKIP_BAD,
	OPT_CHANGEKEY_ON,
	OPT_OUTPUT_FORMAT,
	OPT_SPLIT_SIZE,
	OPT_MEMORY,
	OPT_PROGRESS,
	OPT_STATUS_INTERVAL,
	OPT_LOG_FILE,
	OPT_TRACE,
	OPT_HOSTS,
	OPT_HOSTFILE,
	OPT_MPI,
	OPT_POOL,
	OPT_SHUFFLE_TIMEOUT,
	OPT_PROGRAM_DIR,
	OPT_PROGRAM_NAME,
	OPT_HELP,
};

static const struct option run_longopts[] = {
	{ "partitions",		required_argument,	NULL, 'p' },
	{ "input",		required_argument,	NULL, 'i' },
	{ "output",		required_argument,	NULL, 'o' },
	{ "force",		no_argument,		NULL, OPT_FORCE },
	{ "job-dir",		required_argument,	NULL, OPT_JOBDIR },
	{ "keep",		no_argument,		NULL, OPT_KEEP },
	{ "durable",		no_argument,		NULL, OPT_DURABLE },
	{ "max-attempts",	required_argument,	NULL, OPT_MAX_ATTEMPTS },
	{ "checkpoint-interval", required_argument,	NULL, OPT_CKPT_INTERVAL },
	{ "heartbeat-timeout",	required_argument,	NULL, OPT_HEARTBEAT },
	{ "task-timeout",	required_argument,	NULL, OPT_TASK_TIMEOUT },
	{ "inject-crash",	required_argument,	NULL, OPT_INJECT },
	{ "chaos",		required_argument,	NULL, OPT_CHAOS },
	{ "skip-bad-records",	no_argument,		NULL, OPT_SKIP_BAD },
	{ "changekey-on",	required_argument,	NULL, OPT_CHANGEKEY_ON },
	{ "output-format",	required_argument,	NULL, OPT_OUTPUT_FORMAT },
	{ "split-size",		required_argument,	NULL, OPT_SPLIT_SIZE },
	{ "memory",		required_argument,	NULL, OPT_MEMORY },
	{ "progress",		required_argument,	NULL, OPT_PROGRESS },
	{ "status-interval",	required_argument,	NULL, OPT_STATUS_INTERVAL },
	{ "log-file",		required_argument,	NULL, OPT_LOG_FILE },
	{ "trace",		required_argument,	NULL, OPT_TRACE },
	{ "hosts",		required_argument,	NULL, OPT_HOSTS },
	{ "hostfile",		required_argument,	NULL, OPT_HOSTFILE },
	{ "mpi",		no_argument,		NULL, OPT_MPI },
	{ "pool",		required_argument,	NULL, OPT_POOL },
	{ "shuffle-timeout",	required_argument,	NULL, OPT_SHUFFLE_TIMEOUT },
	/* forkflow serve's: a copy of the program, where it was. */
	{ "program-dir",	required_argument,	NULL, OPT_PROGRAM_DIR },
	{ "program-name",	required_argument,	NULL, OPT_PROGRAM_NAME },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "quiet",		no_argument,		NULL, 'q' },
	{ "help",		no_argument,		NULL, OPT_HELP },
	{ NULL,			0,			NULL, 0 }
};

/* Set the defaults of the options. */
void
run_opts_init(struct run_opts *o)
{
	memset(o, 0, sizeof *o);
	o->max_attempts = 4;
	o->checkpoint_interval = 64 << 20;
	o->heartbeat_timeout = 10;
	o->shuffle_timeout = 60;
	o->task_timeout = -1;
	o->changekey = -1;
	o->out_format = -1;
	o->progress = PROGRESS_AUTO;
	o->status_interval = 10;
}

void
run_opts_free(struct run_opts *o)
{
	size_t	i;

	free(o->program);
	for (i = 0; i < o->ninputs; i++)
		free(o->inputs[i]);
	free(o->inputs);
	free(o->output);
	free(o->jobdir);
	free(o->log_file);
	free(o->trace);
	free(o->hosts);
	free(o->hostfile);
	free(o->pool);
	free(o->program_dir);
	free(o->program_name);
	free(o->gen);
	for (i = 0; i < o->nship; i++) {
		free(o->ship[i].path);
		free(o->ship[i].link);
	}
	free(o->ship);
	memset(o, 0, sizeof *o);
}

/*
 * Parse --inject-crash PARTITION:OPERATOR[:RECORD[:ATTEMPTS]], where
 * OPERATOR may be "spill", "merge" or "commit" instead.
 */
static void
parse_inject(const char *s, struct inject *ij)
{
	static const char *const points[] = { "spill", "merge", "commit" };
	static const enum inject_point at[] = { INJECT_SPILL, INJECT_MERGE,
	    INJECT_COMMIT };
	unsigned long long	 v[4] = { 0, 0, 0, 1 };
	const char		*p = s;
	char			*end;
	size_t			 n;
	int			 i, j;

	ij->point = INJECT_RECORD;
	for (i = 0; i < 4; i++) {
		errno = 0;
		for (j = 0; i == 1 && j < 3; j++) {
			n = strlen(points[j]);
			if (strncmp(p, points[j], n) == 0 && (p[n] == ':' ||
			    p[n] == '\0')) {
				ij->point = at[j];
				p += n;
				break;
			}
		}
		if (ij->point != INJECT_RECORD && i == 1) {
			if (*p != ':') {
				i++;
				break;
			}
			p++;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		v[i] = strtoull(p, &end, 10);
		if (errno != 0)
			break;
		p = end;
		if (*p != ':') {
			i++;
			break;
		}
		p++;
	}
	if (i < 2 || *p != '\0' || v[0] > PARTS_MAX - 1 || v[1] > 100000 ||
	    v[3] == 0 || v[3] > 1000)
		errx(EXIT_USAGE, "--inject-crash wants "
		    "PARTITION:OPERATOR[:RECORD[:ATTEMPTS]] (OPERATOR may be "
		    "spill, merge or commit): %s", s);
	ij->set = 1;
	ij->part = (unsigned int)v[0];
	ij->op = (unsigned int)v[1];
	ij->record = v[2];
	ij->attempts = (unsigned int)v[3];
}

/*
 * Apply one option of `forkflow run`, as getopt_long() returned it.  The
 * streaming command applies its --options through run_opts_long().
 */
static void
run_opts_set(struct run_opts *o, int ch, const char *arg)
{
	switch (ch) {
	case 'p':
		o->parts = cmd_parse_count(arg, "partitions", PARTS_MAX);
		break;
	case 'i':
		o->inputs = xgrow(o->inputs, o->ninputs,
		    sizeof *o->inputs);
		o->inputs[o->ninputs++] = xstrdup(arg);
		break;
	case 'o':
		free(o->output);
		o->output = xstrdup(arg);
		break;
	case 'q':
		o->quiet = 1;
		break;
	case 'v':
		o->verbose++;
		break;
	case OPT_FORCE:
		o->force = 1;
		break;
	case OPT_JOBDIR:
		free(o->jobdir);
		o->jobdir = xstrdup(arg);
		break;
	case OPT_KEEP:
		o->keep = 1;
		break;
	case OPT_DURABLE:
		o->durable = 1;
		break;
	case OPT_MAX_ATTEMPTS:
		o->max_attempts = cmd_parse_count(arg, "--max-attempts", 1000);
		break;
	case OPT_CKPT_INTERVAL:
		o->checkpoint_interval = cmd_parse_size(arg,
		    "--checkpoint-interval");
		break;
	case OPT_HEARTBEAT:
		o->heartbeat_timeout = cmd_parse_seconds(arg,
		    "--heartbeat-timeout");
		break;
	case OPT_TASK_TIMEOUT:
		o->task_timeout = strcmp(arg, "0") == 0 ? 0 :
		    cmd_parse_seconds(arg, "--task-timeout");
		break;
	case OPT_INJECT:
		parse_inject(arg, &o->inject);
		break;
	case OPT_CHAOS:
		o->chaos = cmd_parse_seconds(arg, "--chaos");
		break;
	case OPT_SKIP_BAD:
		o->skip_bad = 1;
		break;
	case OPT_CHANGEKEY_ON:
		o->changekey = cmd_parse_changekey(arg);
		break;
	case OPT_SPLIT_SIZE:
		o->split_size = cmd_parse_size(arg, "--split-size");
		break;
	case OPT_MEMORY:
		o->memory = cmd_parse_size(arg, "--memory");
		break;
	case OPT_PROGRESS:
		/* In the order of enum progress_mode. */
		o->progress = cmd_parse_choice(arg, "--progress wants auto, "
		    "always or never", (const char *const[]){ "auto",
		    "always", "never", "relay", NULL });
		break;
	case OPT_STATUS_INTERVAL:
		o->status_interval = strcmp(arg, "0") == 0 ? 0 :
		    cmd_parse_seconds(arg, "--status-interval");
		break;
	case OPT_LOG_FILE:
		free(o->log_file);
		o->log_file = xstrdup(arg);
		break;
	case OPT_TRACE:
		free(o->trace);
		o->trace = xstrdup(arg);
		break;
	case OPT_HOSTS:
		free(o->hosts);
		o->hosts = xstrdup(arg);
		break;
	case OPT_HOSTFILE:
		free(o->hostfile);
		o->hostfile = xstrdup(arg);
		break;
	case OPT_MPI:
		o->mpi = 1;
		break;
	case OPT_POOL:
		free(o->pool);
		o->pool = xstrdup(arg);
		break;
	case OPT_SHUFFLE_TIMEOUT:
		o->shuffle_timeout = cmd_parse_seconds(arg,
		    "--shuffle-timeout");
		break;
	case OPT_PROGRAM_DIR:
		free(o->program_dir);
		o->program_dir = xstrdup(arg);
		break;
	case OPT_PROGRAM_NAME:
		free(o->program_name);
		o->program_name = xstrdup(arg);
		break;
	case OPT_OUTPUT_FORMAT:
		/* In the order of enum out_format. */
		o->out_format = cmd_parse_choice(arg, "--output-format wants "
		    "csv or tsv", (const char *const[]){ "csv", "tsv", NULL });
		break;
	}
}

/*
 * Apply the option of `forkflow run` at argv[*i], "--NAME", "--NAME=VALUE"
 * or "--NAME VALUE", and step *i past it.  Returns 0, or -1 if it is no
 * option of run's (or --help, which the caller handles).
 */
int
run_opts_long(struct run_opts *o, int argc, char **argv, int *i)
{
	const struct option	*lo;
	const char		*name = argv[*i] + 2, *eq, *arg = NULL;
	size_t			 len;

	if (strncmp(argv[*i], "--", 2) != 0)
		return (-1);
	eq = strchr(name, '=');
	len = eq != NULL ? (size_t)(eq - name) : strlen(name);
	for (lo = run_longopts; lo->name != NULL; lo++) {
		if (strlen(lo->name) == len && strncmp(lo->name, name,
		    len) == 0)
			break;
	}
	if (lo->name == NULL || lo->val == OPT_HELP)
		return (-1);
	if (lo->has_arg == no_argument && eq != NULL)
		errx(EXIT_USAGE, "--%s takes no value: %s", lo->name, argv[*i]);
	if (lo->has_arg == required_argument) {
		if (eq != NULL)
			arg = eq + 1;
		else if (*i + 1 < argc)
			arg = argv[++*i];
		else
			errx(EXIT_USAGE, "--%s needs a value", lo->name);
	}
	run_opts_set(o, lo->val, arg);
	(*i)++;
	return (0);
}

/*
 * Does argv's argument arg choose where the job runs (--hosts, --hostfile,
 * --pool, or a prefix getopt_long takes for one)?  Returns 0 if not, 1 if
 * it holds its value (--pool=S), 2 if its value is the next argument.
 */
int
run_opts_where(const char *arg)
{
	const struct option	*lo, *found = NULL;
	const char		*name = arg + 2, *eq;
	size_t			 len;

	if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
		return (0);
	eq = strchr(name, '=');
	len = eq != NULL ? (size_t)(eq - name) : strlen(name);
	for (lo = run_longopts; lo->name != NULL; lo++) {
		if (strncmp(lo->name, name, len) != 0)
			continue;
		if (strlen(lo->name) == len) {
			found = lo;	/* exact */
			break;
		}
		if (found != NULL && found->val != lo->val)
			return (0);	/* ambiguous: getopt refused it */
		found = lo;
	}
	if (found == NULL || (found->val != OPT_HOSTS && found->val !=
	    OPT_HOSTFILE && found->val != OPT_POOL))
		return (0);
	return (eq != NULL ? 1 : 2);
}

/* Apply a short option of run's that takes no value (-q, -v). */
void
run_opts_short(struct run_opts *o, int ch)
{
	run_opts_set(o, ch, NULL);
}

/*
 * Parse run's command line, PROGRAM [options] (argv[0] the subcommand's
 * name), into o; usage errors exit.  forkflow submit checks a job's the
 * same way.
 */
void
run_opts_argv(struct run_opts *o, int argc, char **argv)
{
	int	ch;

	o->argc = argc;
	o->argv = argv;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "p:i:o:qv", run_longopts,
	    NULL)) != -1) {
		if (ch == OPT_HELP)
			cmd_usage(cmd_run_synopsis, cmd_run_help, 0);
		if (ch == '?')
			cmd_usage(cmd_run_synopsis, NULL, EXIT_USAGE);
		run_opts_set(o, ch, optarg);
	}
	cmd_operands(argc, argv, optind, 1, "program", cmd_run_synopsis);
	o->program = xstrdup(argv[optind]);
}

/* forkflow run PROGRAM [options] */
int
cmd_run(int argc, char **argv)
{
	struct run_opts	o;
	int		status;

	run_opts_init(&o);
	run_opts_argv(&o, argc, argv);
	status = run_job(&o);
	run_opts_free(&o);
	return (status);
}
