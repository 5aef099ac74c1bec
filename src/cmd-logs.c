/* forkflow: see LICENSE. */
/*
 * forkflow logs: what a job's commands wrote on their standard error, one
 * log per task (stage, partition and attempt) in JOBDIR/logs, printed in
 * the order of their stages, partitions and attempts, each under a line
 * that names it.  It never writes to the job directory.
 */

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"

const char cmd_logs_synopsis[] =
"forkflow logs jobdir [partition] | [--socket path] id";

static const char cmd_logs_help[] =
"Print what the commands of a job wrote on their standard error, from its\n"
"job directory: each task's log (stage, partition, attempt) in turn, or\n"
"those of one partition.\n"
"\n"
"Exit status: 0, or 2 when jobdir holds no forkflow job or partition is\n"
"not one of its.\n";

static const struct option logs_opts[] = {
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

/* A task's log, by the numbers of its name. */
struct tasklog {
	unsigned int	 s, p, a;
	char		*name;
};

static int
tasklog_cmp(const void *x, const void *y)
{
	const struct tasklog	*a = x, *b = y;

	if (a->s != b->s)
		return (a->s < b->s ? -1 : 1);
	if (a->p != b->p)
		return (a->p < b->p ? -1 : 1);
	if (a->a != b->a)
		return (a->a < b->a ? -1 : 1);
	return (0);
}

/* Copy the file at path to standard output.  Returns 0 or -1. */
static int
logs_copy(const char *path)
{
	char	buf[65536];
	ssize_t	n;
	int	fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			r = -1;
			break;
		}
	}
	if (n < 0)
		r = -1;
	close(fd);
	return (r);
}

/* forkflow logs JOBDIR [PARTITION] */
int
cmd_logs(int argc, char **argv)
{
	struct tasklog	*t = NULL;
	struct dirent	*e;
	DIR		*d;
	FILE		*f;
	char		*path, *logs, end;
	const char	*dir;
	size_t		 n = 0, i;
	long		 want = -1;
	unsigned int	 nparts = 0;
	int		 ch, status = 0;

	/* A job of forkflow serve's, by its number. */
	if (serve_client_wanted(argc, argv))
		return (serve_logs(argc, argv));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", logs_opts, NULL)) != -1) {
		if (ch == 'h')
			cmd_usage(cmd_logs_synopsis, cmd_logs_help, 0);
		cmd_usage(cmd_logs_synopsis, NULL, EXIT_USAGE);
	}
	if (argc - optind != 2)
		cmd_operands(argc, argv, optind, 1, "job directory",
		    cmd_logs_synopsis);
	dir = argv[optind];
	/* The journal's first line names the job and its partitions. */
	path = jd_file(dir, JD_JOURNAL);
	if ((f = fopen(path, "r")) == NULL || fscanf(f,
	    "job %*s partitions %u", &nparts) != 1 || nparts == 0) {
		fprintf(stderr, "forkflow: %s: no forkflow job there (%s)\n",
		    dir, f == NULL ? strerror(errno) : "no journal's header");
		if (f != NULL)
			fclose(f);
		free(path);
		return (EXIT_USAGE);
	}
	fclose(f);
	free(path);
	if (argc - optind == 2) {
		errno = 0;
		want = strtol(argv[optind + 1], &path, 10);
		if (*argv[optind + 1] == '\0' || *path != '\0' || errno != 0 ||
		    want < 0 || want >= (long)nparts)
			errx(EXIT_USAGE, "partition must be an integer from 0 "
			    "to %u: %s", nparts - 1, argv[optind + 1]);
	}
	logs = jd_file(dir, JD_LOGS);
	if ((d = opendir(logs)) == NULL) {
		/* None: no command wrote a line. */
		if (errno != ENOENT) {
			warn("%s", logs);
			status = 1;
		}
		free(logs);
		return (status);
	}
	while ((e = readdir(d)) != NULL) {
		t = xgrow(t, n, sizeof *t);
		if (sscanf(e->d_name, "s%u-p%u-a%u%c", &t[n].s, &t[n].p,
		    &t[n].a, &end) != 3 || (want >= 0 && t[n].p !=
		    (unsigned long)want))
			continue;
		t[n++].name = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(t, n, sizeof *t, tasklog_cmp);
	for (i = 0; i < n; i++) {
		xasprintf(&path, "%s/%s", logs, t[i].name);
		printf("%s==> stage %u, partition %u, attempt %u (%s) <==\n",
		    i > 0 ? "\n" : "", t[i].s, t[i].p, t[i].a, path);
		if (logs_copy(path) != 0) {
			warn("%s", path);
			status = 1;
		}
		free(path);
		free(t[i].name);
	}
	free(t);
	free(logs);
	if (fflush(stdout) != 0)
		status = 1;
	return (status);
}
