/* forkflow: see LICENSE. */
/*
 * forkflow: run dataflow programs over key-value pairs on one forked worker
 * per partition, surviving the crash of any of them.  This file finds the
 * subcommand and hands it the command line; each lives in cmd-NAME.c.
 */

#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forkflow.h"

/* The subcommands, in the order the usage lists them. */
static const struct {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*synopsis;
} cmds[] = {
	{ "run",	cmd_run,	cmd_run_synopsis },
	{ "streaming",	cmd_streaming,	cmd_streaming_synopsis },
	{ "mapreduce",	cmd_mapreduce,	cmd_mapreduce_synopsis },
	{ "validate",	cmd_validate,	cmd_validate_synopsis },
	{ "status",	cmd_status,	cmd_status_synopsis },
	{ "logs",	cmd_logs,	cmd_logs_synopsis },
	{ "report",	cmd_report,	cmd_report_synopsis },
	{ "serve",	cmd_serve,	cmd_serve_synopsis },
	{ "submit",	cmd_submit,	cmd_submit_synopsis },
	{ "jobs",	cmd_jobs,	cmd_jobs_synopsis },
	{ "cancel",	cmd_cancel,	cmd_cancel_synopsis },
	{ "wait",	cmd_wait,	cmd_wait_synopsis },
	{ "watch",	cmd_watch,	cmd_watch_synopsis },
	{ "pool",	cmd_pool,	cmd_pool_synopsis },
	{ "builtin",	cmd_builtin,	cmd_builtin_synopsis },
};

static __dead void
usage(int status)
{
	FILE	*f = status == 0 ? stdout : stderr;
	size_t	 i;

	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		fprintf(f, "%s%s\n", i == 0 ? "usage: " : "       ",
		    cmds[i].synopsis);
	fprintf(f, "       forkflow --help | --version\n");
	if (status == 0)
		fprintf(f, "\n"
"Run a dataflow program over key-value pairs, one forked worker per\n"
"partition, with crash recovery.  `forkflow COMMAND --help` lists the\n"
"options of a command.\n"
"\n"
"Exit status: 0 success, 1 the job failed at run time, 2 usage error or\n"
"invalid program or input.  See forkflow(1) and forkflow-program(5).\n");
	exit(status);
}

int
main(int argc, char **argv)
{
	struct sigaction	sa;
	size_t			i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	log_init(0, "forkflow");

	if (argc < 2)
		usage(EXIT_USAGE);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		usage(0);
	if (strcmp(argv[1], "--version") == 0) {
		printf("forkflow %s\n", PACKAGE_VERSION);
		return (0);
	}
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(argv[1], cmds[i].name) == 0) {
			/* getopt names argv[0] in its messages. */
			argv[1] = argv[0];
			return (cmds[i].fn(argc - 1, argv + 1));
		}
	}
	warnx("unknown command: %s", argv[1]);
	usage(EXIT_USAGE);
}
