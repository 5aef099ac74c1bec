/* forkflow: see LICENSE. */
/*
 * forkflow run: read the command line, load the program, prepare the job
 * (its job directory, its inputs, where its output goes), hand it to the
 * supervisor, then present the output.
 */

#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <xxhash.h>

#include "forkflow.h"

const char cmd_run_synopsis[] =
"forkflow run program [-qv] [-p partitions] [-i input]... [-o output]\n"
"                    [--force] [--job-dir dir] [--keep] [--durable]\n"
"                    [--max-attempts n] [--checkpoint-interval size]\n"
"                    [--heartbeat-timeout seconds] [--skip-bad-records]\n"
"                    [--inject-crash partition:operator[:record[:attempts]]]\n"
"                    [--chaos mean-seconds] [--changekey-on key|value]\n"
"                    [--output-format csv|tsv] [--split-size size]\n"
"                    [--progress auto|always|never] [--status-interval s]\n"
"                    [--log-file file] [--trace file]";

static const char cmd_run_help[] =
"Run a dataflow program over key-value pairs, one forked worker per\n"
"partition, with crash recovery.\n"
"\n"
"  -p, --partitions N   number of partitions (workers); overrides the program\n"
"  -i, --input PATH     input file or folder ('-' for standard input); may be\n"
"                       repeated; replaces the program's \"input\"\n"
"  -o, --output DIR     write DIR/part-00000... and DIR/_SUCCESS instead of\n"
"                       printing the sorted result on standard output\n"
"      --force          replace an existing output folder\n"
"      --job-dir DIR    keep the job's working files in DIR (default: a new\n"
"                       folder under $TMPDIR)\n"
"      --keep           do not remove the job directory after success\n"
"      --durable        sync checkpoints and outputs to disk\n"
"      --max-attempts N failures in a row of one partition before the job\n"
"                       fails (4)\n"
"      --checkpoint-interval SIZE\n"
"                       checkpoint every SIZE bytes of input (64M; k, M, G)\n"
"      --heartbeat-timeout SECONDS\n"
"                       kill a worker that shows no progress that long (10)\n"
"      --skip-bad-records\n"
"                       skip a record that crashed a worker twice\n"
"      --inject-crash P:OP[:RECORD[:ATTEMPTS]]\n"
"                       worker P kills itself at operator OP (on the stage\n"
"                       input's RECORD-th record) on its first ATTEMPTS tries\n"
"      --chaos SECONDS  kill a random worker every SECONDS on average\n"
"      --split-size SIZE\n"
"                       cut the input into splits of SIZE bytes, dealt out\n"
"                       to the workers in turn (default: one share each)\n"
"      --output-format csv|tsv\n"
"                       k,v lines (strings quoted when needed) or key\\tvalue\n"
"      --changekey-on key|value\n"
"                       what a named changeKey function applies to, as the\n"
"                       program's \"changeKeyOn\" (default: value)\n"
"      --progress auto|always|never\n"
"                       draw live progress on standard error (auto: when it\n"
"                       is a terminal); never also stops status blocks\n"
"      --status-interval SECONDS\n"
"                       without a terminal, print a status block that often\n"
"                       (10; 0: never)\n"
"      --log-file FILE  append the log, with times, to FILE (as -v at least)\n"
"      --trace FILE     write the job's timeline as Chrome trace-event JSON\n"
"  -v, --verbose        log stages and workers (twice: more)\n"
"  -q, --quiet          print no warnings, progress or counters\n"
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
	OPT_INJECT,
	OPT_CHAOS,
	OPT_SKIP_BAD,
	OPT_CHANGEKEY_ON,
	OPT_OUTPUT_FORMAT,
	OPT_SPLIT_SIZE,
	OPT_PROGRESS,
	OPT_STATUS_INTERVAL,
	OPT_LOG_FILE,
	OPT_TRACE,
	OPT_HELP,
};

static const struct option longopts[] = {
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
	{ "inject-crash",	required_argument,	NULL, OPT_INJECT },
	{ "chaos",		required_argument,	NULL, OPT_CHAOS },
	{ "skip-bad-records",	no_argument,		NULL, OPT_SKIP_BAD },
	{ "changekey-on",	required_argument,	NULL, OPT_CHANGEKEY_ON },
	{ "output-format",	required_argument,	NULL, OPT_OUTPUT_FORMAT },
	{ "split-size",		required_argument,	NULL, OPT_SPLIT_SIZE },
	{ "progress",		required_argument,	NULL, OPT_PROGRESS },
	{ "status-interval",	required_argument,	NULL, OPT_STATUS_INTERVAL },
	{ "log-file",		required_argument,	NULL, OPT_LOG_FILE },
	{ "trace",		required_argument,	NULL, OPT_TRACE },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "quiet",		no_argument,		NULL, 'q' },
	{ "help",		no_argument,		NULL, OPT_HELP },
	{ NULL,			0,			NULL, 0 }
};

/* When to draw the live progress display (--progress). */
enum progress_mode {
	PROGRESS_AUTO,		/* when standard error is a terminal */
	PROGRESS_ALWAYS,
	PROGRESS_NEVER,
};

/* Parse --inject-crash PARTITION:OPERATOR[:RECORD[:ATTEMPTS]]. */
static void
parse_inject(const char *s, struct inject *ij)
{
	unsigned long long	 v[4] = { 0, 0, 0, 1 };
	const char		*p = s;
	char			*end;
	int			 i;

	for (i = 0; i < 4; i++) {
		errno = 0;
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
	if (i < 2 || *p != '\0' || v[0] > 1023 || v[1] > 100000 ||
	    v[3] == 0 || v[3] > 1000)
		errx(EXIT_USAGE, "--inject-crash wants "
		    "PARTITION:OPERATOR[:RECORD[:ATTEMPTS]]: %s", s);
	ij->set = 1;
	ij->part = (unsigned int)v[0];
	ij->op = (unsigned int)v[1];
	ij->record = v[2];
	ij->attempts = (unsigned int)v[3];
}

static char *
resume_hint(int argc, char **argv, const char *jobdir, int given)
{
	char	*s, *t;
	int	 i;

	s = xstrdup("forkflow run");
	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '\0' && strspn(argv[i], "abcdefghijklmnopq"
		    "rstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") ==
		    strlen(argv[i]))
			xasprintf(&t, "%s %s", s, argv[i]);
		else
			xasprintf(&t, "%s '%s'", s, argv[i]);
		free(s);
		s = t;
	}
	if (!given) {
		xasprintf(&t, "%s --job-dir %s", s, jobdir);
		free(s);
		s = t;
	}
	return (s);
}

static char *
spool_input(struct job *job, int in, const char *name, size_t i,
    uint64_t *hash)
{
	XXH3_state_t	*h;
	char		 buf[65536], *path;
	ssize_t		 n;
	int		 fd;

	path = job_path(job, "input-%zu", i);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		err(EXIT_JOB_FAILED, "%s", path);
	h = XXH3_createState();
	XXH3_64bits_reset(h);
	for (;;) {
		n = read(in, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			err(EXIT_USAGE, "%s", name);
		if (n == 0)
			break;
		XXH3_64bits_update(h, buf, (size_t)n);
		if (write_all(fd, buf, (size_t)n) != 0)
			err(EXIT_JOB_FAILED, "%s", path);
	}
	if ((job->durable && fsync(fd) != 0) || close(fd) != 0)
		err(EXIT_JOB_FAILED, "%s", path);
	*hash = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	return (path);
}

/*
 * Fix the input files and their sizes, and the job's fingerprint: the
 * program as it will run, the partitions, and each input's name, size and
 * modification time (or contents, for a spooled one).
 */
static void
job_inputs(struct job *job)
{
	struct program	*p = job->prog;
	struct stat	 st;
	XXH3_state_t	*h;
	char		*canon;
	size_t		 i;
	uint64_t	 mt;
	int		 fd;

	job->nfiles = p->ninputs;
	job->files = xcalloc(p->ninputs, sizeof *job->files);
	h = XXH3_createState();
	XXH3_64bits_reset(h);
	canon = program_canonical(p);
	XXH3_64bits_update(h, canon, strlen(canon));
	free(canon);
	XXH3_64bits_update(h, &job->nparts, sizeof job->nparts);
	XXH3_64bits_update(h, &job->out_format, sizeof job->out_format);
	XXH3_64bits_update(h, &job->split_size, sizeof job->split_size);
	for (i = 0; i < p->ninputs; i++) {
		if (strcmp(p->inputs[i], "-") == 0) {
			job->files[i].name = xstrdup("<stdin>");
			job->files[i].path = spool_input(job, STDIN_FILENO,
			    "standard input", i, &mt);
		} else {
			job->files[i].name = xstrdup(p->inputs[i]);
			if (stat(p->inputs[i], &st) != 0)
				err(EXIT_USAGE, "%s", p->inputs[i]);
			if (S_ISREG(st.st_mode)) {
				job->files[i].path = xstrdup(p->inputs[i]);
				mt = (uint64_t)st.st_mtim.tv_sec *
				    1000000000u + (uint64_t)st.st_mtim.tv_nsec;
			} else {
				/* A pipe, as from -i <(command), or a
				 * device. */
				fd = open(p->inputs[i], O_RDONLY | O_CLOEXEC);
				if (fd == -1)
					err(EXIT_USAGE, "%s", p->inputs[i]);
				job->files[i].path = spool_input(job, fd,
				    p->inputs[i], i, &mt);
				close(fd);
			}
		}
		if (stat(job->files[i].path, &st) != 0)
			err(EXIT_JOB_FAILED, "%s", job->files[i].path);
		job->files[i].size = (uint64_t)st.st_size;
		job->total += job->files[i].size;
		XXH3_64bits_update(h, job->files[i].name,
		    strlen(job->files[i].name) + 1);
		XXH3_64bits_update(h, &job->files[i].size,
		    sizeof job->files[i].size);
		XXH3_64bits_update(h, &mt, sizeof mt);
	}
	job->job_id = XXH3_64bits_digest(h);
	XXH3_freeState(h);
}

/*
 * The job of this process, freed at exit, with the job directory when
 * this process made it and the job left nothing in it worth keeping (an
 * error stopped it early, or it succeeded).
 */
static struct job	*cleanup_job;

static void	job_free(struct job *);

static void
cleanup_at_exit(void)
{
	if (cleanup_job != NULL)
		job_free(cleanup_job);
}

/* Free what a job holds (the job directory stays as it is). */
static void
job_free(struct job *job)
{
	size_t	i;

	if (cleanup_job == job)
		cleanup_job = NULL;
	if (job->jobdir_made && !job->keep)
		(void)rm_tree(job->jobdir);
	for (i = 0; i < job->nfiles; i++) {
		free(job->files[i].path);
		free(job->files[i].name);
	}
	free(job->files);
	program_free(job->prog);
	plan_free(job->plan);
	free(job->jobdir);
	free(job->outtmp);
	free(job->output);
	free(job->resume_hint);
	free(job->workdir);
	free(job->skips);
	if (job->journalfd > 0)
		close(job->journalfd);
	if (job->lockfd > 0)
		close(job->lockfd);
	memset(job, 0, sizeof *job);
}

/* Is there a whole output folder at path (with its _SUCCESS)? */
static int
output_complete(const char *path)
{
	char	*s;
	int	 r;

	xasprintf(&s, "%s/_SUCCESS", path);
	r = access(s, F_OK) == 0;
	free(s);
	return (r);
}

/* Link the -file files into the job's work folder for its commands. */
static void
job_stream_files(struct job *job)
{
	char	*link;
	size_t	 i;

	if (job->nship == 0) {
		/* Commands run where forkflow streaming was started. */
		if (job->streaming && (job->workdir = getcwd(NULL, 0)) == NULL)
			err(EXIT_JOB_FAILED, "getcwd");
		return;
	}
	job->workdir = job_path(job, "files");
	if (mkdir(job->workdir, 0700) != 0 && errno != EEXIST)
		err(EXIT_JOB_FAILED, "%s", job->workdir);
	for (i = 0; i < job->nship; i++) {
		xasprintf(&link, "%s/%s", job->workdir,
		    strrchr(job->ship[i], '/') + 1);
		(void)unlink(link);
		if (symlink(job->ship[i], link) != 0)
			err(EXIT_JOB_FAILED, "%s", link);
		free(link);
	}
}


static void
job_dir(struct job *job, const char *given)
{
	const char	*tmp;
	char		*templ;

	if (given != NULL) {
		if (mkdir(given, 0700) != 0 && errno != EEXIST)
			err(EXIT_USAGE, "%s", given);
		job->jobdir = xstrdup(given);
		return;
	}
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	xasprintf(&templ, "%s/forkflow.XXXXXX", tmp);
	if (mkdtemp(templ) == NULL)
		err(EXIT_JOB_FAILED, "mkdtemp %s", templ);
	job->jobdir = templ;
	job->jobdir_made = 1;
}

/* Present the result: merge the parts to stdout, or commit the folder. */
static int
job_output(struct job *job)
{
	char		**paths, *cause, *path;
	struct outspec	  os;
	struct stat	  st;
	unsigned int	  i;
	uint64_t	  bytes;
	int		  r;

	if (job->output != NULL) {
		for (i = 0; i < job->nparts; i++) {
			xasprintf(&path, "%s/part-%05u", job->outtmp, i);
			if (stat(path, &st) == 0)
				job->bytes_written += (uint64_t)st.st_size;
			free(path);
		}
		if (output_commit(job->outtmp, job->output, job->force,
		    &cause) != 0) {
			warnx("%s", cause);
			free(cause);
			return (EXIT_JOB_FAILED);
		}
		return (0);
	}
	paths = xcalloc(job->nparts, sizeof *paths);
	for (i = 0; i < job->nparts; i++)
		paths[i] = job_path(job, "out/part-%05u", i);
	os.kt = job->plan->stages[job->plan->nstages - 1].out_k;
	os.vt = job->plan->stages[job->plan->nstages - 1].out_v;
	os.fmt = job->out_format;
	os.text = 1;
	r = output_merge_spec(paths, job->nparts, STDOUT_FILENO, &os, &bytes);
	job->bytes_written = bytes;
	if (r != 0 && errno == EPIPE) {
		/* The reader stopped (| head): the job itself is done. */
		job->stdout_closed = 1;
	} else if (r != 0)
		warn("writing the output");
	for (i = 0; i < job->nparts; i++)
		free(paths[i]);
	free(paths);
	return (r == 0 ? 0 : EXIT_JOB_FAILED);
}

/*
 * The peak resident set of this process, in KiB.  VmHWM belongs to the
 * address space, so unlike getrusage() it does not carry the peak of the
 * process that exec'd us.
 */
static long
peak_rss_kib(void)
{
	FILE	*f;
	char	 line[256];
	long	 kib = -1;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return (kib);
}

/* List the records skipped by --skip-bad-records. */
static void
print_skipped(const struct job *job)
{
	FILE	*f;
	char	*path, line[1024];

	log_warnx("%llu bad record%s skipped:",
	    (unsigned long long)job->skipped, job->skipped == 1 ? "" : "s");
	path = job_path(job, "skipped");
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL)
			fprintf(stderr, "  %s", line);
		fclose(f);
	}
	free(path);
}

/* The event that opens a run of the job. */
static void
event_job_start(const struct job *job)
{
	char		 when[32];
	time_t		 now = time(NULL);
	struct tm	 tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	event_emit("job_start", NULL, json_pack("{s:o, s:i, s:i, s:i, s:s, "
	    "s:I, s:i, s:b, s:i, s:s}", "job_id", json_sprintf("%016llx",
	    (unsigned long long)job->job_id), "partitions",
	    (int)job->nparts, "stages", (int)job->plan->nstages, "operators",
	    (int)job->prog->nops, "program", job->prog->path, "input_bytes",
	    (json_int_t)job->total, "pid", (int)getpid(), "resumed",
	    job->resumed, "first_stage", (int)job->first_stage, "time",
	    when));
}

/* Keep the program in the job directory, for `forkflow report`. */
static void
job_save_program(const struct job *job)
{
	char	*path, *canon;
	FILE	*f;

	path = job_path(job, "program.json");
	if ((f = fopen(path, "w")) != NULL) {
		canon = program_canonical(job->prog);
		fprintf(f, "%s\n", canon);
		free(canon);
		fclose(f);
	}
	free(path);
}

/* The end of a run: the counters, the event, the trace. */
static void
job_end(struct job *job, int status)
{
	json_t	*stats = NULL;
	char	*cause, *path;

	if (status == 0 && !job->permanent) {
		stats = stats_collect(job);
		if (stats_save(job, stats) != 0)
			log_warn("counters.json");
		if (!job->quiet) {
			fflush(stderr);
			stats_print(stats, stderr);
		}
	}
	event_emit("job_end", NULL, json_pack("{s:i, s:s, s:I, s:I, s:f}",
	    "exit_status", status, "state", status == 0 ? "done" :
	    job->interrupted ? "interrupted" : "failed", "records_in",
	    (json_int_t)job->records_in, "records_out",
	    (json_int_t)job->records_out, "wall", mono_now() - job->started));
	jobpage_finish(job, status);
	json_decref(stats);
	if (job->trace != NULL) {
		path = job_path(job, "events.jsonl");
		if (report_trace(path, job->trace, &cause) != 0) {
			log_warnx("%s", cause);
			free(cause);
		}
		free(path);
	}
}
/*
 * Run a job from a command line of `forkflow run`; ship names the files
 * that `forkflow streaming -file` links into the commands' folder.
 */
int
run_main(int argc, char **argv, char **ship, size_t nship, int streaming)
{
	struct job	 job;
	struct program	*p;
	char		*cause, **inputs = NULL, *jobdir = NULL, *base, *dir;
	size_t		 ninputs = 0;
	unsigned int	 parts = 0;
	int		 ch, verbose = 0, status, changekey = -1;
	int		 outfmt = -1;
	const char	*logfile = NULL;
	enum progress_mode progress = PROGRESS_AUTO;
	struct stat	 st;
	long		 ncpu;

	memset(&job, 0, sizeof job);
	job.ship = ship;
	job.nship = nship;
	job.streaming = streaming;
	job.started = mono_now();
	cleanup_job = &job;
	atexit(cleanup_at_exit);
	job.status_interval = 10;
	job.max_attempts = 4;
	job.checkpoint_interval = 64 << 20;
	job.heartbeat_timeout = 10;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "p:i:o:qv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'p':
			parts = cmd_parse_count(optarg, "partitions", 1024);
			break;
		case 'i':
			inputs = xreallocarray(inputs, ninputs + 1,
			    sizeof *inputs);
			inputs[ninputs++] = optarg;
			break;
		case 'o':
			job.output = optarg;
			break;
		case 'q':
			job.quiet = 1;
			break;
		case 'v':
			verbose++;
			break;
		case OPT_FORCE:
			job.force = 1;
			break;
		case OPT_JOBDIR:
			jobdir = optarg;
			break;
		case OPT_KEEP:
			job.keep = 1;
			break;
		case OPT_DURABLE:
			job.durable = 1;
			break;
		case OPT_MAX_ATTEMPTS:
			job.max_attempts = cmd_parse_count(optarg,
			    "--max-attempts", 1000);
			break;
		case OPT_CKPT_INTERVAL:
			job.checkpoint_interval = cmd_parse_size(optarg,
			    "--checkpoint-interval");
			break;
		case OPT_HEARTBEAT:
			job.heartbeat_timeout = cmd_parse_seconds(optarg,
			    "--heartbeat-timeout");
			break;
		case OPT_INJECT:
			parse_inject(optarg, &job.inject);
			break;
		case OPT_CHAOS:
			job.chaos = cmd_parse_seconds(optarg, "--chaos");
			break;
		case OPT_SKIP_BAD:
			job.skip_bad = 1;
			break;
		case OPT_CHANGEKEY_ON:
			changekey = cmd_parse_changekey(optarg);
			break;
		case OPT_SPLIT_SIZE:
			job.split_size = cmd_parse_size(optarg, "--split-size");
			break;
		case OPT_PROGRESS:
			/* In the order of enum progress_mode. */
			progress = (enum progress_mode)cmd_parse_choice(optarg,
			    "--progress wants auto, always or never",
			    (const char *const[]){ "auto", "always", "never",
			    NULL });
			break;
		case OPT_STATUS_INTERVAL:
			job.status_interval = strcmp(optarg, "0") == 0 ? 0 :
			    cmd_parse_seconds(optarg, "--status-interval");
			break;
		case OPT_LOG_FILE:
			logfile = optarg;
			break;
		case OPT_TRACE:
			job.trace = optarg;
			break;
		case OPT_OUTPUT_FORMAT:
			/* In the order of enum out_format. */
			outfmt = cmd_parse_choice(optarg, "--output-format wants "
			    "csv or tsv", (const char *const[]){ "csv", "tsv",
			    NULL });
			break;
		case OPT_HELP:
			cmd_usage(cmd_run_synopsis, cmd_run_help, 0);
		default:
			cmd_usage(cmd_run_synopsis, NULL, EXIT_USAGE);
		}
	}
	if (argc - optind != 1)
		cmd_usage(cmd_run_synopsis, NULL, EXIT_USAGE);
	log_init(verbose, "forkflow");
	if (logfile != NULL && log_open_file(logfile) != 0)
		err(EXIT_USAGE, "%s", logfile);
	job.display = progress == PROGRESS_ALWAYS ||
	    (progress == PROGRESS_AUTO && !job.quiet && isatty(STDERR_FILENO));
	if (progress == PROGRESS_NEVER || job.quiet)
		job.status_interval = 0;

	if ((p = program_load_opts(argv[optind], changekey, &cause)) ==
	    NULL) {
		/* FILE:LINE:COLUMN: first, as compilers print them. */
		free(inputs);
		fprintf(stderr, "%s\n", cause);
		exit(EXIT_USAGE);
	}
	job.prog = p;
	job.out_format = outfmt == -1 ? p->out_format :
	    (enum out_format)outfmt;
	cmd_print_warnings(p, job.quiet);
	if (program_set_inputs(p, inputs, ninputs, &cause) != 0) {
		free(inputs);
		errx(EXIT_USAGE, "%s", cause);
	}
	free(inputs);
	if (parts == 0)
		parts = (unsigned int)p->partitions;
	/* As the peers do: one partition per input file. */
	if (parts == 0 && p->ninputs >= 2)
		parts = p->ninputs > 1024 ? 1024 : (unsigned int)p->ninputs;
	if (parts == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		parts = ncpu < 1 ? 1 : ncpu > 1024 ? 1024 : (unsigned int)ncpu;
	}
	job.nparts = parts;
	job.plan = plan_make(p);

	if (job.inject.set && (job.inject.part >= job.nparts ||
	    job.inject.op >= p->nops))
		errx(EXIT_USAGE, "--inject-crash: no partition %u or operator "
		    "%u in this job", job.inject.part, job.inject.op);

	if (job.output != NULL) {
		/* "res/" is the folder res. */
		job.output = xstrdup(job.output);
		while (strlen(job.output) > 1 &&
		    job.output[strlen(job.output) - 1] == '/')
			job.output[strlen(job.output) - 1] = '\0';
		dir = path_dirname(job.output);
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
			errx(EXIT_USAGE, "%s: no such folder for the output",
			    dir);
		free(dir);
	}
	/* Without --job-dir nothing can be resumed: refuse before making
	 * anything. */
	if (jobdir == NULL && job.output != NULL && !job.force &&
	    access(job.output, F_OK) == 0)
		errx(EXIT_USAGE, "%s: output exists (use --force to replace "
		    "it)", job.output);

	job_dir(&job, jobdir);
	/* Lock first: copying standard input must not touch a running
	 * job's copy. */
	if (journal_lock(&job, &cause) != 0)
		errx(EXIT_JOB_FAILED, "%s", cause);
	job_inputs(&job);
	if (journal_open(&job, &cause) != 0)
		errx(EXIT_JOB_FAILED, "%s", cause);
	job_stream_files(&job);
	job.resume_hint = resume_hint(argc, argv, job.jobdir, jobdir != NULL);
	/*
	 * The job was done: its journal says so, or every stage was
	 * committed and the output, with its _SUCCESS, is in place (the
	 * supervisor died between the rename and the journal line).
	 */
	if (job.output != NULL && job.resumed && (job.output_done ||
	    job.committed >= job.plan->nstages) &&
	    output_complete(job.output)) {
		if (!job.quiet)
			log_warnx("the job in %s is complete; its output is "
			    "%s", job.jobdir, job.output);
		job_free(&job);
		return (0);
	}
	if (job.output != NULL && !job.force &&
	    access(job.output, F_OK) == 0)
		errx(EXIT_USAGE, "%s: output exists (use --force to replace "
		    "it)", job.output);
	if (job.output != NULL) {
		dir = path_dirname(job.output);
		base = strrchr(job.output, '/');
		base = base == NULL ? job.output : base + 1;
		xasprintf(&job.outtmp, "%s/.%s.forkflow-tmp", dir, base);
		free(dir);
		/* A resumed job keeps the parts it committed. */
		if (!job.resumed && rm_tree(job.outtmp) != 0)
			err(EXIT_JOB_FAILED, "%s", job.outtmp);
		if (mkdir(job.outtmp, 0755) != 0 && errno != EEXIST)
			err(EXIT_JOB_FAILED, "%s", job.outtmp);
	}
	if (job.resumed)
		log_info("resuming the job in %s from stage %u",
		    job.jobdir, job.first_stage);
	log_info("job %016llx: %u partitions, %zu stages, %llu bytes of "
	    "input in %zu files, job directory %s",
	    (unsigned long long)job.job_id, job.nparts, job.plan->nstages,
	    (unsigned long long)job.total, job.nfiles, job.jobdir);

	if (events_open(&job) != 0)
		log_warn("%s/events.jsonl", job.jobdir);
	job_save_program(&job);
	event_job_start(&job);
	status = supervisor_run(&job);
	if (status == 0)
		status = job_output(&job);
	if (status == 0 && journal_note(&job, "output committed\n") != 0)
		log_warn("journal");
	if (status == 0 && job.skipped > 0 && !job.quiet)
		print_skipped(&job);
	job_end(&job, status);
	events_close();
	if (status != 0 && job.outtmp != NULL)
		(void)rm_tree(job.outtmp);

	if (status == 0 || job.permanent || job.stdout_closed) {
		if (job.jobdir_made && !job.keep)
			(void)rm_tree(job.jobdir);
	} else {
		job.keep = 1;
		if (!job.quiet)
			log_warnx("the job directory %s is kept", job.jobdir);
	}

	if (status == 0 && verbose) {
		log_info("done: %llu records in, %llu out, %zu stages, "
		    "%.3f s, supervisor peak RSS %ld KiB",
		    (unsigned long long)job.records_in,
		    (unsigned long long)job.records_out, job.plan->nstages,
		    mono_now() - job.started, peak_rss_kib());
	}
	job_free(&job);
	return (status);
}

/* forkflow run PROGRAM [options] */
int
cmd_run(int argc, char **argv)
{
	return (run_main(argc, argv, NULL, 0, 0));
}
