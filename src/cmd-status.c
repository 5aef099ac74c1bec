/* forkflow: see LICENSE. */
/*
 * forkflow status: the state of a running, failed or finished job, read
 * from the job page and the workers' status pages of its job directory
 * with pread(2).  It never writes to the job directory.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "forkflow.h"

const char cmd_status_synopsis[] =
"forkflow status [--json] jobdir | [--socket path] id";

static const char cmd_status_help[] =
"Show the state of a running, failed or finished job, and the state of\n"
"each of its workers, from its job directory.\n"
"\n"
"      --json           print it as JSON (forkflow-events(5))\n"
"\n"
"Exit status: 0, or 2 when jobdir holds no forkflow job.\n";

static const struct option status_opts[] = {
	{ "json",	no_argument,		NULL, 'j' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

/* Is the supervisor whose pid the lock file holds still there? */
static int
job_supervisor_alive(const char *jobdir, pid_t pid)
{
	char	*path, *s;
	size_t	 len;
	long	 lpid;

	path = jd_file(jobdir, JD_LOCK);
	s = read_file(path, &len);
	free(path);
	lpid = s != NULL ? strtol(s, NULL, 10) : 0;
	free(s);
	return (lpid == (long)pid && pid > 0 && (kill(pid, 0) == 0 ||
	    errno == EPERM));
}

/* forkflow status [--json] JOBDIR */
int
cmd_status(int argc, char **argv)
{
	struct job_page		*jp;
	struct status_page	**sp;
	json_t			*o, *c;
	json_error_t		 je;
	char			*path, *cause, *s;
	const char		*dir;
	unsigned int		 i;
	int			 ch, json = 0, fd, alive;
	double			 now = mono_now();

	/* A job of forkflow serve's, by its number. */
	if (serve_client_wanted(argc, argv))
		return (serve_status(argc, argv));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", status_opts, NULL)) != -1) {
		if (ch == 'h')
			cmd_usage(cmd_status_synopsis, cmd_status_help, 0);
		if (ch != 'j')
			cmd_usage(cmd_status_synopsis, NULL, EXIT_USAGE);
		json = 1;
	}
	cmd_operands(argc, argv, optind, 1, "job directory", cmd_status_synopsis);
	dir = argv[optind];
	path = jd_file(dir, JD_JOBPAGE);
	jp = jobpage_read(path, &cause);
	free(path);
	if (jp == NULL) {
		fprintf(stderr, "forkflow: %s: no forkflow job there (%s)\n",
		    dir, cause);
		free(cause);
		return (EXIT_USAGE);
	}
	alive = job_supervisor_alive(dir, jp->pid);
	if (!alive)
		jobpage_orphan(jp);
	/* A page that is not there, or of another version, shows nothing. */
	sp = xcalloc(jp->nparts, sizeof *sp);
	for (i = 0; i < jp->nparts; i++) {
		path = jd_status(dir, i);
		sp[i] = xcalloc(1, sizeof *sp[i]);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
		    pread(fd, sp[i], sizeof *sp[i], 0) != (ssize_t)sizeof *sp[i] ||
		    memcmp(sp[i]->magic, STATUS_MAGIC, sizeof STATUS_MAGIC) != 0 ||
		    sp[i]->version != STATUS_VERSION) {
			free(sp[i]);
			sp[i] = NULL;
		}
		if (fd != -1)
			close(fd);
		free(path);
	}
	path = jd_file(dir, JD_COUNTERS_JSON);
	c = json_load_file(path, 0, &je);
	free(path);
	if (json) {
		o = status_json(jp, sp, now, alive);
		json_object_set_new(o, "job_dir", json_string(dir));
		if (c != NULL)
			json_object_set(o, "counters", c);
		s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
		json_decref(o);
	} else {
		s = status_block(jp, sp, now);
		printf("%s", s);
		free(s);
		/* A supervisor that was killed left no reason, nor the
		 * command that resumes the job. */
		if (jp->state == JS_INTERRUPTED && jp->reason[0] == '\0')
			printf("  the supervisor (pid %d) is gone; run the "
			    "same command with --job-dir %s to resume\n",
			    jp->pid, dir);
		if (c != NULL) {
			fflush(stdout);
			stats_print(c, stdout);
		}
	}
	json_decref(c);
	for (i = 0; i < jp->nparts; i++)
		free(sp[i]);
	free(sp);
	free(jp);
	return (0);
}

