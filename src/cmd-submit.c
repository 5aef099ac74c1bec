/* forkflow: see LICENSE. */
/*
 * The clients of forkflow serve: submit, jobs, status ID, cancel, wait,
 * logs ID, watch.  Each sends newline-delimited JSON requests on the
 * service's unix socket (forkflow-serve(8)) and prints the answers.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <err.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "forkflow.h"
#include "serve-int.h"

#define EXIT_NO_SERVICE	3	/* the service cannot be reached */

extern char **environ;

const char cmd_submit_synopsis[] =
"forkflow submit [--socket path] [--wait] program [run options]";
const char cmd_jobs_synopsis[] =
"forkflow jobs [--socket path] [--all] [--json]";
const char cmd_cancel_synopsis[] =
"forkflow cancel [--socket path] id";
const char cmd_wait_synopsis[] =
"forkflow wait [--socket path] id";
const char cmd_watch_synopsis[] =
"forkflow watch [--socket path] [--interval seconds]";

static const char clients_help[] =
"\n"
"      --socket PATH    the service's socket (default $FORKFLOW_SOCKET, else\n"
"                       $XDG_RUNTIME_DIR/forkflow.sock, else in the state dir)\n"
"\n"
"Exit status: 0 success, 1 the job failed or was canceled, or the service\n"
"refused the request, 2 usage error, 3 the service cannot be reached.\n"
"See forkflow-serve(8).\n";

struct conn {
	int		 fd;
	const char	*path;
	struct buf	 in;
};

/* Connect to the service, or exit 3 saying why. */
static void
conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un	sun;

	memset(c, 0, sizeof *c);
	c->path = path;
	serve_sockaddr(path, &sun);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(EXIT_NO_SERVICE, "socket");
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof sun) != 0)
		err(EXIT_NO_SERVICE, "cannot reach the service at %s", path);
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	buf_free(&c->in);
}

/* Read n raw bytes that follow an answer, to fd out. */
static void
conn_copy(struct conn *c, uint64_t n, int out)
{
	size_t	 have;
	ssize_t	 r;
	char	 b[65536];

	have = c->in.len - c->in.off;
	if (have > n)
		have = (size_t)n;
	if (have > 0 && write_all(out, c->in.data + c->in.off, have) != 0)
		err(EXIT_JOB_FAILED, "write");
	buf_drain(&c->in, have);
	n -= have;
	while (n > 0) {
		r = read(c->fd, b, n < sizeof b ? (size_t)n : sizeof b);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			errx(EXIT_NO_SERVICE, "%s: the service closed the "
			    "connection", c->path);
		if (write_all(out, b, (size_t)r) != 0)
			err(EXIT_JOB_FAILED, "write");
		n -= (uint64_t)r;
	}
}

/*
 * Read n raw bytes that follow an answer; keep the last lines of them, at
 * most 10 and 4 KiB, as a string.
 */
static char *
conn_tail(struct conn *c, uint64_t n)
{
	char	 tmp[] = "/tmp/forkflow-log.XXXXXX", *s, *p;
	off_t	 size;
	ssize_t	 r;
	int	 fd, lines = 0;

	if ((fd = mkstemp(tmp)) == -1)
		err(EXIT_JOB_FAILED, "mkstemp");
	(void)unlink(tmp);
	conn_copy(c, n, fd);
	size = lseek(fd, 0, SEEK_END);
	s = xcalloc(1, 4097);
	r = pread(fd, s, 4096, size > 4096 ? size - 4096 : 0);
	close(fd);
	if (r <= 0) {
		free(s);
		return (NULL);
	}
	s[r] = '\0';
	for (p = s + r; p > s; p--) {
		if (p[-1] == '\n' && p != s + r && ++lines == 10)
			break;
	}
	memmove(s, p, strlen(p) + 1);
	return (s);
}

/*
 * Send a request (taken) and read its answer.  An error answer is printed
 * and exits 1; a service that hangs up exits 3.
 */
static json_t *
conn_call(struct conn *c, json_t *req)
{
	json_error_t	 je;
	json_t		*a;
	char		*s, *nl, *p;
	ssize_t		 r;

	json_object_set_new(req, "v", json_integer(SERVE_PROTO));
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (s == NULL)
		errx(EXIT_JOB_FAILED, "out of memory");
	if (write_all(c->fd, s, strlen(s)) != 0 || write_all(c->fd, "\n",
	    1) != 0)
		err(EXIT_NO_SERVICE, "%s", c->path);
	free(s);
	while (c->in.len == c->in.off || (nl = memchr(c->in.data +
	    c->in.off, '\n', c->in.len - c->in.off)) == NULL) {
		p = buf_reserve(&c->in, 65536);
		r = read(c->fd, p, 65536);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			errx(EXIT_NO_SERVICE, "%s: the service closed the "
			    "connection", c->path);
		c->in.len += (size_t)r;
	}
	p = c->in.data + c->in.off;
	a = json_loadb(p, (size_t)(nl - p), 0, &je);
	buf_drain(&c->in, (size_t)(nl - p) + 1);
	if (a == NULL || !json_is_object(a))
		errx(EXIT_NO_SERVICE, "%s: not an answer of forkflow serve",
		    c->path);
	if (!json_is_true(json_object_get(a, "ok")))
		errx(EXIT_JOB_FAILED, "%s", json_string_value(json_object_get(a,
		    "error")) != NULL ? json_string_value(json_object_get(a,
		    "error")) : "the service refused the request");
	return (a);
}

/* A job's number, from an operand. */
static json_int_t
job_id(const char *s, const char *synopsis)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v <= 0) {
		warnx("%s: not a job's number", s);
		cmd_usage(synopsis, NULL, EXIT_USAGE);
	}
	return ((json_int_t)v);
}

/*
 * The clients' own options, --socket PATH and the flags in flags (each
 * "--name"), up to the first operand; the rest is left.  Returns the
 * index of the first operand; *set has bit i for flags[i].
 */
static int
client_opts(int argc, char **argv, char **sock, const char *const *flags,
    unsigned int *set, const char *synopsis)
{
	size_t	i;
	int	a;

	*set = 0;
	for (a = 1; a < argc && argv[a][0] == '-'; a++) {
		if (strcmp(argv[a], "--") == 0)
			return (a + 1);
		if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a],
		    "-h") == 0)
			cmd_usage(synopsis, clients_help, 0);
		if (strcmp(argv[a], "--socket") == 0 && a + 1 < argc) {
			free(*sock);
			*sock = xstrdup(argv[++a]);
			continue;
		}
		if (strncmp(argv[a], "--socket=", 9) == 0) {
			free(*sock);
			*sock = xstrdup(argv[a] + 9);
			continue;
		}
		for (i = 0; flags != NULL && flags[i] != NULL; i++)
			if (strcmp(argv[a], flags[i]) == 0)
				break;
		if (flags == NULL || flags[i] == NULL) {
			warnx("unknown option: %s", argv[a]);
			cmd_usage(synopsis, NULL, EXIT_USAGE);
		}
		*set |= 1u << i;
	}
	if (*sock == NULL)
		*sock = serve_default_socket();
	return (a);
}

/* --- forkflow submit ------------------------------------------------------ */

/* An input's path, absolute, and its size and mtime, into list. */
static void
submit_input(json_t *list, const char *path)
{
	struct stat	 st;
	char		*abs;

	if (strcmp(path, "-") == 0)
		errx(EXIT_USAGE, "standard input cannot be submitted: give a "
		    "file");
	if ((abs = realpath(path, NULL)) == NULL || stat(abs, &st) != 0)
		err(EXIT_USAGE, "%s", path);
	json_array_append_new(list, json_pack("{s:s, s:I, s:f}", "path", abs,
	    "size", (json_int_t)st.st_size, "mtime", (double)st.st_mtim.tv_sec +
	    (double)st.st_mtim.tv_nsec / 1e9));
	free(abs);
}

static int
job_wait(struct conn *c, json_int_t id);

/* forkflow submit [--socket PATH] [--wait] PROGRAM [run options] */
int
cmd_submit(int argc, char **argv)
{
	static const char *const flags[] = { "--wait", NULL };
	struct run_opts	 o;
	struct program	*p;
	struct conn	 c;
	json_t		*req, *args, *env, *inputs, *a;
	char		*sock = NULL, *text, *cause, *dir, *slash, cwd[PATH_MAX];
	char		**rargv;
	unsigned int	 set;
	size_t		 len, i;
	int		 first, k, status;
	json_int_t	 id;

	first = client_opts(argc, argv, &sock, flags, &set,
	    cmd_submit_synopsis);
	if (first >= argc)
		cmd_usage(cmd_submit_synopsis, clients_help, EXIT_USAGE);
	/* The job's options, checked as forkflow run checks them. */
	rargv = xcalloc((size_t)(argc - first) + 2, sizeof *rargv);
	rargv[0] = argv[0];
	for (k = first; k < argc; k++)
		rargv[k - first + 1] = argv[k];
	run_opts_init(&o);
	run_opts_argv(&o, argc - first + 1, rargv);
	if (o.jobdir != NULL || o.keep)
		errx(EXIT_USAGE, "--job-dir and --keep are the service's");
	if (o.program_dir != NULL || o.program_name != NULL)
		errx(EXIT_USAGE, "--program-dir and --program-name are the "
		    "service's");
	if ((text = read_file(o.program, &len)) == NULL)
		err(EXIT_USAGE, "%s", o.program);
	if ((p = program_load_opts(o.program, o.changekey, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		exit(EXIT_USAGE);
	}
	if (getcwd(cwd, sizeof cwd) == NULL)
		err(EXIT_USAGE, "getcwd");
	slash = strrchr(o.program, '/');
	if (slash == NULL)
		dir = xstrdup(cwd);
	else {
		char *d = xstrndup(o.program, (size_t)(slash - o.program) + 1);

		if ((dir = realpath(d, NULL)) == NULL)
			err(EXIT_USAGE, "%s", d);
		free(d);
	}
	inputs = json_array();
	if (o.ninputs > 0)
		for (i = 0; i < o.ninputs; i++)
			submit_input(inputs, o.inputs[i]);
	else
		for (i = 0; i < p->ninputs; i++)
			submit_input(inputs, p->inputs[i]);
	args = json_array();
	for (k = first + 1; k < argc; k++)
		json_array_append_new(args, json_string(argv[k]));
	env = json_array();
	for (i = 0; environ[i] != NULL; i++)
		if (strchr(environ[i], '=') != NULL)
			json_array_append_new(env, json_string(environ[i]));
	req = json_pack("{s:s, s:o, s:s, s:s, s:o, s:s, s:o, s:i, s:o}",
	    "op", "submit", "program", json_text(text, len), "program_name",
	    o.program, "program_dir", dir, "args", args, "cwd", cwd, "env",
	    env, "partitions", o.parts != 0 ? (int)o.parts : p->partitions,
	    "inputs", inputs);
	if (req == NULL)
		errx(EXIT_USAGE, "%s: not text a request can carry", o.program);
	conn_open(&c, sock);
	a = conn_call(&c, req);
	id = json_integer_value(json_object_get(a, "id"));
	json_decref(a);
	if (set & 1)
		status = job_wait(&c, id);
	else {
		printf("%lld\n", (long long)id);
		status = 0;
	}
	conn_close(&c);
	program_free(p);
	free(text);
	free(dir);
	free(rargv);
	run_opts_free(&o);
	free(sock);
	return (status);
}

/* --- wait, cancel ----------------------------------------------------------- */

/*
 * Wait for job id to end; copy its result to standard output when it
 * succeeded, say why when not.  Returns the exit status: 0, 1, or 2 for
 * a job that failed on its program or input.
 */
static int
job_wait(struct conn *c, json_int_t id)
{
	json_t		*a, *j;
	const char	*state, *reason;
	json_int_t	 code;
	int		 status;

	a = conn_call(c, json_pack("{s:s, s:I}", "op", "wait", "id", id));
	j = json_object_get(a, "job");
	state = json_string_value(json_object_get(j, "state"));
	if (state != NULL && strcmp(state, "succeeded") == 0) {
		json_decref(a);
		a = conn_call(c, json_pack("{s:s, s:I}", "op", "output", "id",
		    id));
		fflush(stdout);
		conn_copy(c, (uint64_t)json_integer_value(json_object_get(a,
		    "bytes")), STDOUT_FILENO);
		json_decref(a);
		return (0);
	}
	reason = json_string_value(json_object_get(j, "reason"));
	code = json_integer_value(json_object_get(j, "exit_status"));
	if (state != NULL && strcmp(state, "failed") == 0) {
		/* Its log's last lines first, as a failed run would show. */
		json_t	*l;
		char	*t;

		l = conn_call(c, json_pack("{s:s, s:I}", "op", "logs", "id",
		    id));
		t = conn_tail(c, (uint64_t)json_integer_value(
		    json_object_get(l, "bytes")));
		if (t != NULL)
			fprintf(stderr, "%s", t);
		free(t);
		json_decref(l);
	}
	fprintf(stderr, "forkflow: job %lld %s%s%s\n", (long long)id,
	    state != NULL ? state : "ended", reason != NULL ? ": " : "",
	    reason != NULL ? reason : "");
	status = state != NULL && strcmp(state, "failed") == 0 && code ==
	    EXIT_USAGE ? EXIT_USAGE : EXIT_JOB_FAILED;
	json_decref(a);
	return (status);
}

/* forkflow wait [--socket PATH] ID */
int
cmd_wait(int argc, char **argv)
{
	struct conn	 c;
	char		*sock = NULL;
	unsigned int	 set;
	int		 first, status;

	first = client_opts(argc, argv, &sock, NULL, &set, cmd_wait_synopsis);
	cmd_operands(argc, argv, first, 1, "job id", cmd_wait_synopsis);
	conn_open(&c, sock);
	status = job_wait(&c, job_id(argv[first], cmd_wait_synopsis));
	conn_close(&c);
	free(sock);
	return (status);
}

/* forkflow cancel [--socket PATH] ID */
int
cmd_cancel(int argc, char **argv)
{
	struct conn	 c;
	json_t		*a;
	char		*sock = NULL;
	unsigned int	 set;
	int		 first;
	json_int_t	 id;

	first = client_opts(argc, argv, &sock, NULL, &set,
	    cmd_cancel_synopsis);
	cmd_operands(argc, argv, first, 1, "job id", cmd_cancel_synopsis);
	id = job_id(argv[first], cmd_cancel_synopsis);
	conn_open(&c, sock);
	a = conn_call(&c, json_pack("{s:s, s:I}", "op", "cancel", "id", id));
	json_decref(a);
	conn_close(&c);
	free(sock);
	return (0);
}

/* --- jobs, status, logs, watch ------------------------------------------- */

/* Seconds as "1h02m", "3m05s" or "4.2s". */
static void
fmt_secs(char *b, size_t n, double s)
{
	if (s < 0)
		s = 0;
	if (s >= 3600)
		snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)s % 3600 / 60);
	else if (s >= 60)
		snprintf(b, n, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(b, n, "%.1fs", s);
}

/* The table of jobs, a line each. */
static void
print_jobs(FILE *f, json_t *jobs)
{
	json_t		*j, *u;
	const char	*reason;
	double		 now = wall_now(), start, end;
	char		 el[32], who[32];
	size_t		 i;

	fprintf(f, "%6s  %-9s  %-10s  %5s  %3s  %8s  %s\n", "ID", "STATE",
	    "USER", "CORES", "TRY", "ELAPSED", "PROGRAM");
	json_array_foreach(jobs, i, j) {
		start = json_number_value(json_object_get(j, "started"));
		end = json_is_number(json_object_get(j, "ended")) ?
		    json_number_value(json_object_get(j, "ended")) : now;
		if (start > 0)
			fmt_secs(el, sizeof el, end - start);
		else
			snprintf(el, sizeof el, "-");
		u = json_object_get(j, "user");
		if (json_is_string(u))
			snprintf(who, sizeof who, "%s", json_string_value(u));
		else
			snprintf(who, sizeof who, "%lld", (long long)
			    json_integer_value(json_object_get(j, "uid")));
		reason = json_string_value(json_object_get(j, "reason"));
		fprintf(f, "%6lld  %-9s  %-10s  %5lld  %3lld  %8s  %s%s%s\n",
		    (long long)json_integer_value(json_object_get(j, "id")),
		    json_string_value(json_object_get(j, "state")), who,
		    (long long)json_integer_value(json_object_get(j, "cores")),
		    (long long)json_integer_value(json_object_get(j,
		    "attempts")), el, json_string_value(json_object_get(j,
		    "program")), reason != NULL ? ": " : "", reason != NULL ?
		    reason : "");
	}
}

/* forkflow jobs [--socket PATH] [--all] [--json] */
int
cmd_jobs(int argc, char **argv)
{
	static const char *const flags[] = { "--all", "--json", NULL };
	struct conn	 c;
	json_t		*a;
	char		*sock = NULL, *s;
	unsigned int	 set;
	int		 first;

	first = client_opts(argc, argv, &sock, flags, &set, cmd_jobs_synopsis);
	cmd_operands(argc, argv, first, 0, NULL, cmd_jobs_synopsis);
	conn_open(&c, sock);
	a = conn_call(&c, json_pack("{s:s, s:b}", "op", "jobs", "all",
	    (set & 1) != 0));
	if (set & 2) {
		s = json_dumps(json_object_get(a, "jobs"), JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
	} else
		print_jobs(stdout, json_object_get(a, "jobs"));
	json_decref(a);
	conn_close(&c);
	free(sock);
	return (0);
}

/*
 * Is this a status or logs command for the service: --socket, or a job's
 * number that names no folder?
 */
int
serve_client_wanted(int argc, char **argv)
{
	struct stat	 st;
	const char	*s, *one = NULL;
	int		 i, n = 0;

	for (i = 1; i < argc; i++) {
		s = argv[i];
		if (strcmp(s, "--socket") == 0 || strncmp(s, "--socket=",
		    9) == 0)
			return (1);
		if (*s != '-') {
			one = s;
			n++;
		}
	}
	/* One operand, a number, and no such folder (logs DIR PARTITION
	 * has two). */
	if (n != 1 || *one == '\0' || strspn(one, "0123456789") !=
	    strlen(one))
		return (0);
	return (stat(one, &st) != 0);
}

/* forkflow status [--socket PATH] [--json] ID */
int
serve_status(int argc, char **argv)
{
	static const char *const flags[] = { "--json", NULL };
	struct conn	 c;
	json_t		*a, *j, *o;
	char		*sock = NULL, *s, *sargv[4];
	const char	*dir, *state;
	unsigned int	 set;
	int		 first;

	first = client_opts(argc, argv, &sock, flags, &set,
	    "forkflow status [--socket path] [--json] id");
	cmd_operands(argc, argv, first, 1, "job id",
	    "forkflow status [--socket path] [--json] id");
	conn_open(&c, sock);
	a = conn_call(&c, json_pack("{s:s, s:I}", "op", "status", "id",
	    job_id(argv[first], "forkflow status [--socket path] id")));
	conn_close(&c);
	j = json_object_get(a, "job");
	if (set & 1) {
		s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
	} else {
		o = json_pack("[O]", j);
		print_jobs(stdout, o);
		json_decref(o);
		state = json_string_value(json_object_get(j, "state"));
		dir = json_string_value(json_object_get(j, "jobdir"));
		/* A running job's workers, when its folder is ours to read. */
		if (state != NULL && strcmp(state, "running") == 0 && dir !=
		    NULL && access(dir, R_OK | X_OK) == 0) {
			printf("\n");
			fflush(stdout);
			sargv[0] = argv[0];
			sargv[1] = (char *)dir;
			sargv[2] = NULL;
			(void)cmd_status(2, sargv);
		}
	}
	json_decref(a);
	free(sock);
	return (0);
}

/* forkflow logs [--socket PATH] ID */
int
serve_logs(int argc, char **argv)
{
	struct conn	 c;
	json_t		*a;
	char		*sock = NULL;
	unsigned int	 set;
	int		 first;

	first = client_opts(argc, argv, &sock, NULL, &set,
	    "forkflow logs [--socket path] id");
	cmd_operands(argc, argv, first, 1, "job id",
	    "forkflow logs [--socket path] id");
	conn_open(&c, sock);
	a = conn_call(&c, json_pack("{s:s, s:I}", "op", "logs", "id",
	    job_id(argv[first], "forkflow logs [--socket path] id")));
	fflush(stdout);
	conn_copy(&c, (uint64_t)json_integer_value(json_object_get(a,
	    "bytes")), STDOUT_FILENO);
	json_decref(a);
	conn_close(&c);
	free(sock);
	return (0);
}

/*
 * forkflow watch [--socket PATH] [--interval SECONDS]: the table of jobs
 * and, for each running job whose folder is readable, its workers; drawn
 * again every second on a terminal, else printed every --interval (10 s).
 */
int
cmd_watch(int argc, char **argv)
{
	struct conn	 c;
	json_t		*a, *j;
	char		*sock = NULL, *sargv[3];
	const char	*dir;
	double		 every;
	unsigned int	 set;
	size_t		 i;
	int		 first, tty = isatty(STDOUT_FILENO);

	/* --interval takes a value: find it before the flags. */
	every = tty ? 1 : 10;
	for (first = 1; first + 1 < argc; first++) {
		if (strcmp(argv[first], "--interval") == 0) {
			every = cmd_parse_seconds(argv[first + 1],
			    "--interval");
			memmove(argv + first, argv + first + 2, (size_t)(argc -
			    first - 2) * sizeof *argv);
			argc -= 2;
			break;
		}
	}
	first = client_opts(argc, argv, &sock, NULL, &set,
	    cmd_watch_synopsis);
	cmd_operands(argc, argv, first, 0, NULL, cmd_watch_synopsis);
	if (every <= 0)
		every = 1;
	conn_open(&c, sock);
	for (;;) {
		a = conn_call(&c, json_pack("{s:s, s:b}", "op", "jobs", "all",
		    0));
		if (tty)
			printf("\033[H\033[2J");
		else {
			time_t	t = time(NULL);
			char	when[32];

			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S",
			    localtime(&t));
			printf("forkflow watch: %s\n", when);
		}
		print_jobs(stdout, json_object_get(a, "jobs"));
		json_array_foreach(json_object_get(a, "jobs"), i, j) {
			const char *st = json_string_value(json_object_get(j,
			    "state"));

			if (st == NULL || strcmp(st, "running") != 0)
				continue;
			dir = NULL;
			{
				json_t *o = conn_call(&c, json_pack("{s:s, s:O}",
				    "op", "status", "id", json_object_get(j,
				    "id")));

				dir = json_string_value(json_object_get(
				    json_object_get(o, "job"), "jobdir"));
				if (dir != NULL && access(dir, R_OK | X_OK) ==
				    0) {
					printf("\njob %lld:\n", (long long)
					    json_integer_value(json_object_get(
					    j, "id")));
					fflush(stdout);
					sargv[0] = argv[0];
					sargv[1] = (char *)dir;
					sargv[2] = NULL;
					(void)cmd_status(2, sargv);
				}
				json_decref(o);
			}
		}
		printf("\n");
		fflush(stdout);
		json_decref(a);
		usleep((useconds_t)(every * 1e6));
	}
	/* NOTREACHED */
	conn_close(&c);
	return (0);
}
