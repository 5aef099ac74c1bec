/* forkflow: see LICENSE. */
/*
 * forkflow serve: a job service.  One libev process listens on a unix
 * socket for newline-delimited JSON requests (forkflow-serve(8)), keeps
 * every job in an SQLite table (serve-db.c), and runs each job as a
 * `forkflow run` of its own, in its own job directory and session,
 * exactly as on the command line: recovery inside a job is the run's.
 * The service holds nothing that is not in the table or a job's
 * directory: killed and started again, it adopts the runs that live
 * (their pids and start times, as the table has them) and resumes the
 * others from their journals (serve-job.c).  This file is the socket,
 * the requests and the clients that wait.
 */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <err.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"
#include "serve-int.h"

static void	 sv_client_kill(struct client *);
static void	 sv_client_flush(struct client *);
#define SERVE_CLIENTS	1024		/* connections at once */
#define SERVE_OUT_HIGH	(4 << 20)	/* stop reading past this pending */

const char cmd_serve_synopsis[] =
"forkflow serve [--socket path] [--state-dir dir] [--cores n] [--group group]\n"
"                      [--log-file file] [-v]";

static const char cmd_serve_help[] =
"\n"
"Run the job service: accept jobs from forkflow submit on a unix socket,\n"
"keep them in an SQLite table, run each as a forkflow run of its own.\n"
"\n"
"      --socket PATH    listen there (default $FORKFLOW_SOCKET, else\n"
"                       $XDG_RUNTIME_DIR/forkflow.sock, else in the state dir)\n"
"      --state-dir DIR  the job table and the jobs' folders (default\n"
"                       $FORKFLOW_STATE_DIR, else /var/lib/forkflow as root,\n"
"                       else $XDG_STATE_HOME/forkflow or ~/.local/state/forkflow)\n"
"      --cores N        cores the running jobs may take together (default:\n"
"                       the processors online); a job takes its partitions'\n"
"      --group GROUP    let GROUP's members connect (socket mode 0660)\n"
"      --log-file FILE  append the service's log there too\n"
"  -v                   log each request and each change of a job\n"
"      --inject-kill fork|said\n"
"                       for tests: SIGKILL itself as the first run starts\n"
"\n"
"See forkflow-serve(8).\n";

struct client {
	int		 fd;
	uid_t		 uid;
	pid_t		 pid;
	ev_io		 rw;
	ev_io		 ww;
	struct buf	 in;
	struct buf	 out;
	int		 sendfd;	/* a file being sent, or -1 */
	uint64_t	 sendleft;
	int64_t		 waiting;	/* a job waited for, or 0 */
	int		 closing;	/* close once out is sent */
	int		 broken;	/* closed at the loop's next turn */
	uint64_t	 skipping;	/* bytes of a too long line dropped */
	struct client	*next;
};

/* --- Answers ------------------------------------------------------------ */

static void
sv_send(struct client *c, json_t *o)
{
	char	*s;

	json_object_set_new(o, "v", json_integer(SERVE_PROTO));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		fatalx("out of memory");
	buf_add(&c->out, s, strlen(s));
	buf_add(&c->out, "\n", 1);
	free(s);
	sv_client_flush(c);
}

static void
sv_ok(struct client *c, json_t *o)
{
	if (o == NULL)
		o = json_object();
	json_object_set_new(o, "ok", json_true());
	sv_send(c, o);
}

static void printflike(2, 3)
sv_error(struct client *c, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
	log_debug("client pid %ld: %s", (long)c->pid, msg);
	sv_send(c, json_pack("{s:b, s:o}", "ok", 0, "error", json_text(msg,
	    strlen(msg))));
	free(msg);
}

/* The protocol's object of job id, with its folders; NULL if none. */
static json_t *
sv_job_json(int64_t id)
{
	json_t	*o;
	char	*p;

	if ((o = sdb_job(sv.db, id)) == NULL)
		return (NULL);
	p = sv_path(id, "jd");
	json_object_set_new(o, "jobdir", json_string(p));
	free(p);
	return (o);
}

static struct sjob *
sv_active(int64_t id)
{
	struct sjob	*j;

	for (j = sv.jobs; j != NULL; j = j->next)
		if (j->id == id)
			return (j);
	return (NULL);
}

/* Tell the clients waiting for job id that it ended. */
void
sv_wake(int64_t id)
{
	struct client	*c;
	json_t		*o;

	for (c = sv.clients; c != NULL; c = c->next) {
		if (c->waiting != id)
			continue;
		c->waiting = 0;
		if ((o = sv_job_json(id)) == NULL)
			sv_error(c, "job %lld is gone", (long long)id);
		else
			sv_ok(c, json_pack("{s:o}", "job", o));
	}
}

/* --- Requests --------------------------------------------------------------- */

/* The job a request names, if the caller may act on it; else answered. */
static json_t *
sv_owned(struct client *c, json_t *req, int64_t *id)
{
	json_t	*v = json_object_get(req, "id"), *o;

	if (!json_is_integer(v) || json_integer_value(v) <= 0) {
		sv_error(c, "\"id\" is a job's number");
		return (NULL);
	}
	*id = json_integer_value(v);
	if ((o = sv_job_json(*id)) == NULL) {
		sv_error(c, "no job %lld", (long long)*id);
		return (NULL);
	}
	if (c->uid != 0 && (uid_t)json_integer_value(json_object_get(o,
	    "uid")) != c->uid) {
		sv_error(c, "job %lld belongs to uid %lld", (long long)*id,
		    (long long)json_integer_value(json_object_get(o, "uid")));
		json_decref(o);
		return (NULL);
	}
	return (o);
}

/* One job of a jobs answer, written out as it comes. */
static void
sv_jobs_row(json_t *o, void *arg)
{
	struct client	*c = arg;
	char		*p, *s;

	p = sv_path(json_integer_value(json_object_get(o, "id")), "jd");
	json_object_set_new(o, "jobdir", json_string(p));
	free(p);
	if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
		fatalx("out of memory");
	if (c->out.len > c->out.off && c->out.data[c->out.len - 1] != '[')
		buf_add(&c->out, ",", 1);
	buf_add(&c->out, s, strlen(s));
	free(s);
}

/*
 * The jobs answer: {"jobs":[...],"ok":true,"v":1}, the rows written as
 * the table gives them, never the whole list as one tree.
 */
static void
sv_jobs(struct client *c, int all)
{
	static const char head[] = "{\"jobs\":[";
	static const char tail[] = "],\"ok\":true,\"v\":1}\n";

	buf_add(&c->out, head, sizeof head - 1);
	(void)sdb_jobs(sv.db, all, sv_jobs_row, c);
	buf_add(&c->out, tail, sizeof tail - 1);
	sv_client_flush(c);
}

/*
 * A field of a request, of a type (JSON_REAL: any number, JSON_TRUE: true
 * or false); else answered, and NULL.
 */
static json_t *
sv_field(struct client *c, json_t *req, const char *name, json_type type)
{
	static const struct {
		json_type	 type;
		const char	*what;
	} types[] = {
		{ JSON_OBJECT,	"an object" },
		{ JSON_ARRAY,	"a list" },
		{ JSON_STRING,	"a string" },
		{ JSON_INTEGER,	"an integer" },
		{ JSON_REAL,	"a number" },
		{ JSON_TRUE,	"true or false" },
	};
	json_t		*v = json_object_get(req, name);
	size_t		 i;
	int		 ok;

	if (type == JSON_REAL)
		ok = json_is_number(v);
	else if (type == JSON_TRUE)
		ok = json_is_boolean(v);
	else
		ok = v != NULL && json_typeof(v) == type;
	if (ok)
		return (v);
	for (i = 0; types[i].type != type; i++)
		;
	sv_error(c, "\"%s\" must be %s", name, types[i].what);
	return (NULL);
}

/* Is every member of list a string (with an '=' when eq)? */
static int
sv_strings(json_t *list, int eq)
{
	json_t	*s;
	size_t	 i;

	json_array_foreach(list, i, s) {
		if (!json_is_string(s) || (eq && strchr(json_string_value(s),
		    '=') == NULL) || strlen(json_string_value(s)) !=
		    json_string_length(s))
			return (0);
	}
	return (1);
}

static void
sv_submit(struct client *c, json_t *req)
{
	struct sjob	*j, **tail;
	json_t		*prog, *name, *dir, *args, *cwd, *env, *parts, *inputs,
			*in, *a;
	char		*cause, *path;
	size_t		 i;
	int		 fd;

	if ((prog = sv_field(c, req, "program", JSON_STRING)) == NULL ||
	    (name = sv_field(c, req, "program_name", JSON_STRING)) == NULL ||
	    (dir = sv_field(c, req, "program_dir", JSON_STRING)) == NULL ||
	    (args = sv_field(c, req, "args", JSON_ARRAY)) == NULL ||
	    (cwd = sv_field(c, req, "cwd", JSON_STRING)) == NULL ||
	    (env = sv_field(c, req, "env", JSON_ARRAY)) == NULL ||
	    (parts = sv_field(c, req, "partitions", JSON_INTEGER)) == NULL ||
	    (inputs = sv_field(c, req, "inputs", JSON_ARRAY)) == NULL)
		return;
	if (json_string_value(dir)[0] != '/' || json_string_value(cwd)[0] !=
	    '/' || strlen(json_string_value(dir)) != json_string_length(dir) ||
	    strlen(json_string_value(cwd)) != json_string_length(cwd) ||
	    strlen(json_string_value(name)) != json_string_length(name)) {
		sv_error(c, "\"program_dir\" and \"cwd\" are absolute paths");
		return;
	}
	if (json_integer_value(parts) < 0 || json_integer_value(parts) >
	    PARTS_MAX) {
		sv_error(c, "\"partitions\" is from 0 to %d", PARTS_MAX);
		return;
	}
	if (!sv_strings(args, 0) || !sv_strings(env, 1)) {
		sv_error(c, "\"args\" is a list of strings, \"env\" of "
		    "NAME=VALUE strings");
		return;
	}
	json_array_foreach(args, i, a) {
		const char *s = json_string_value(a);

		if (strncmp(s, "--job-dir", 9) == 0 || strcmp(s, "--keep") ==
		    0 || strncmp(s, "--program-", 10) == 0) {
			sv_error(c, "%s: the service sets that itself", s);
			return;
		}
	}
	json_array_foreach(inputs, i, in) {
		if (!json_is_object(in) || !json_is_string(json_object_get(in,
		    "path")) || !json_is_integer(json_object_get(in, "size")) ||
		    !json_is_number(json_object_get(in, "mtime"))) {
			sv_error(c, "\"inputs\" is a list of {\"path\", "
			    "\"size\", \"mtime\"}");
			return;
		}
	}
	j = xcalloc(1, sizeof *j);
	j->pidfd = -1;
	j->uid = c->uid;
	{
		struct passwd *pw = getpwuid(c->uid);

		j->gid = pw != NULL ? pw->pw_gid : (gid_t)c->uid;
	}
	j->program_name = xstrdup(json_string_value(name));
	j->program_dir = xstrdup(json_string_value(dir));
	j->cwd = xstrdup(json_string_value(cwd));
	j->args = json_incref(args);
	j->env = json_incref(env);
	j->inputs = json_incref(inputs);
	j->partitions = (unsigned int)json_integer_value(parts);
	j->cores = j->partitions == 0 ? sv.cores : j->partitions;
	if (j->cores > sv.cores)
		j->cores = sv.cores;
	if (sdb_insert(sv.db, j, json_string_value(prog), &cause) != 0) {
		sv_error(c, "job table: %s", cause);
		free(cause);
		sjob_free(j);
		return;
	}
	/* Its folder and its copy of the program, the owner's. */
	path = sv_path(j->id, NULL);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		log_warn("%s", path);
	if (geteuid() == 0)
		(void)chown(path, j->uid, j->gid);
	free(path);
	fd = sv_job_file(j, "program.json", O_TRUNC);
	if (fd == -1 || write_all(fd, json_string_value(prog),
	    json_string_length(prog)) != 0) {
		j->state = SJ_FAILED;
		(void)sdb_update(sv.db, j, wall_now(), EXIT_JOB_FAILED,
		    "cannot keep a copy of the program", "failed", NULL);
		sv_error(c, "cannot keep a copy of the program: %s",
		    strerror(errno));
		if (fd != -1)
			close(fd);
		sjob_free(j);
		return;
	}
	close(fd);
	for (tail = &sv.jobs; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = j;
	log_info("job %lld: submitted by uid %ld: %s", (long long)j->id,
	    (long)c->uid, j->program_name);
	sv_ok(c, json_pack("{s:I}", "id", (json_int_t)j->id));
	sv_schedule();
}

static void
sv_cancel(struct client *c, json_t *req)
{
	struct sjob	*j;
	json_t		*o;
	int64_t		 id;
	char		*reason;

	if ((o = sv_owned(c, req, &id)) == NULL)
		return;
	json_decref(o);
	if ((j = sv_active(id)) == NULL) {
		sv_error(c, "job %lld has ended", (long long)id);
		return;
	}
	if (j->canceling) {
		sv_ok(c, json_pack("{s:o}", "job", sv_job_json(id)));
		return;
	}
	xasprintf(&reason, "canceled by uid %ld", (long)c->uid);
	log_info("job %lld: %s", (long long)id, reason);
	sv_job_cancel(j, reason);
	/* Answered now; when its run is gone, its waiters. */
	sv_ok(c, json_pack("{s:o}", "job", sv_job_json(id)));
	free(reason);
}

/* logs, output: the answer, then the file's bytes. */
static void
sv_send_file(struct client *c, json_t *req, const char *name)
{
	struct stat	 st;
	json_t		*o;
	int64_t		 id;
	char		*path;
	int		 fd;

	if ((o = sv_owned(c, req, &id)) == NULL)
		return;
	json_decref(o);
	path = sv_path(id, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1 || fstat(fd, &st) != 0) {
		if (fd != -1)
			close(fd);
		sv_ok(c, json_pack("{s:i}", "bytes", 0));
		return;
	}
	sv_ok(c, json_pack("{s:I}", "bytes", (json_int_t)st.st_size));
	if (c->sendfd != -1)
		close(c->sendfd);
	c->sendfd = fd;
	c->sendleft = (uint64_t)st.st_size;
	sv_client_flush(c);
}

static void
sv_request(struct client *c, const char *line, size_t len)
{
	json_error_t	 je;
	json_t		*req, *op, *v, *o;
	const char	*name;
	int64_t		 id;

	/* No JSON text holds a NUL byte (jansson takes one after a number). */
	if (memchr(line, '\0', len) != NULL) {
		sv_error(c, "not JSON: a NUL byte at column %zu",
		    (size_t)((const char *)memchr(line, '\0', len) - line) + 1);
		return;
	}
	if ((req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		sv_error(c, "not JSON: column %d: %s", je.column, je.text);
		return;
	}
	if (!json_is_object(req)) {
		sv_error(c, "a request is a JSON object");
		goto done;
	}
	v = json_object_get(req, "v");
	if (!json_is_integer(v) || json_integer_value(v) != SERVE_PROTO) {
		sv_error(c, "\"v\" must be %d, this service's protocol",
		    SERVE_PROTO);
		goto done;
	}
	if ((op = sv_field(c, req, "op", JSON_STRING)) == NULL)
		goto done;
	name = json_string_value(op);
	log_debug("client pid %ld (uid %ld): %s", (long)c->pid, (long)c->uid,
	    name);
	if (strcmp(name, "submit") == 0)
		sv_submit(c, req);
	else if (strcmp(name, "jobs") == 0) {
		v = json_object_get(req, "all");
		if (v != NULL && !json_is_boolean(v))
			sv_error(c, "\"all\" must be true or false");
		else
			sv_jobs(c, json_is_true(v));
	} else if (strcmp(name, "status") == 0) {
		v = json_object_get(req, "id");
		if (!json_is_integer(v))
			sv_error(c, "\"id\" is a job's number");
		else if ((o = sv_job_json(json_integer_value(v))) == NULL)
			sv_error(c, "no job %lld", (long long)
			    json_integer_value(v));
		else
			sv_ok(c, json_pack("{s:o}", "job", o));
	} else if (strcmp(name, "cancel") == 0)
		sv_cancel(c, req);
	else if (strcmp(name, "wait") == 0) {
		if ((o = sv_owned(c, req, &id)) == NULL)
			goto done;
		if (sv_active(id) == NULL)
			sv_ok(c, json_pack("{s:o}", "job", o));
		else {
			json_decref(o);
			c->waiting = id;
		}
	} else if (strcmp(name, "logs") == 0)
		sv_send_file(c, req, "log");
	else if (strcmp(name, "output") == 0)
		sv_send_file(c, req, "stdout");
	else if (strcmp(name, "ping") == 0)
		sv_ok(c, json_pack("{s:s, s:I}", "version", PACKAGE_VERSION,
		    "pid", (json_int_t)getpid()));
	else
		sv_error(c, "unknown \"op\": %s", name);
done:
	json_decref(req);
}

/* --- Connections -------------------------------------------------------- */

/*
 * Done with a connection: its watchers stop now, and it is closed and
 * freed before the loop waits again (sv_reap_cb), since callers up the
 * stack may still hold it.
 */
static void
sv_client_kill(struct client *c)
{
	c->broken = 1;
	c->waiting = 0;
	ev_io_stop(sv.loop, &c->rw);
	ev_io_stop(sv.loop, &c->ww);
}

static void
sv_reap_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct client	**p, *c;

	(void)loop;
	(void)w;
	(void)revents;
	for (p = &sv.clients; (c = *p) != NULL;) {
		if (!c->broken) {
			p = &c->next;
			continue;
		}
		*p = c->next;
		close(c->fd);
		if (c->sendfd != -1)
			close(c->sendfd);
		buf_free(&c->in);
		buf_free(&c->out);
		free(c);
		sv.nclients--;
	}
}

/* Write what is pending; read the file being sent as room allows. */
static void
sv_client_flush(struct client *c)
{
	ssize_t	 n;
	size_t	 want;
	char	*p;

	if (c->broken)
		return;
	for (;;) {
		if (c->out.len - c->out.off == 0 && c->sendfd != -1) {
			if (c->sendleft == 0) {
				close(c->sendfd);
				c->sendfd = -1;
				break;
			}
			want = c->sendleft < 65536 ? (size_t)c->sendleft :
			    65536;
			p = buf_reserve(&c->out, want);
			n = read(c->sendfd, p, want);
			if (n <= 0) {
				/* Shorter than it was: fill with nothing
				 * more; the client counted on the size. */
				memset(p, 0, want);
				n = (ssize_t)want;
			}
			c->out.len += (size_t)n;
			c->sendleft -= (uint64_t)n;
		}
		if (c->out.len - c->out.off == 0)
			break;
		n = write(c->fd, c->out.data + c->out.off, c->out.len -
		    c->out.off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			sv_client_kill(c);
			return;
		}
		buf_drain(&c->out, (size_t)n);
	}
	if (c->out.len - c->out.off > 0 || c->sendfd != -1)
		ev_io_start(sv.loop, &c->ww);
	else {
		ev_io_stop(sv.loop, &c->ww);
		if (c->closing) {
			sv_client_kill(c);
			return;
		}
	}
	/* Too much pending: read no more requests until it is sent. */
	if (c->out.len - c->out.off > SERVE_OUT_HIGH || c->closing)
		ev_io_stop(sv.loop, &c->rw);
	else
		ev_io_start(sv.loop, &c->rw);
}

static void
sv_client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	sv_client_flush(w->data);
}

static void
sv_client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client	*c = w->data;
	char		*p, *nl;
	ssize_t		 n;
	size_t		 len;

	(void)loop;
	(void)revents;
	p = buf_reserve(&c->in, 65536);
	n = read(c->fd, p, 65536);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		sv_client_kill(c);
		return;
	}
	c->in.len += (size_t)n;
	/* The rest of a line too long: dropped up to its end, so that its
	 * sender reads the answer; then the connection closes. */
	if (c->skipping > 0) {
		nl = memchr(c->in.data + c->in.off, '\n', c->in.len -
		    c->in.off);
		c->skipping += (uint64_t)n;
		buf_drain(&c->in, c->in.len - c->in.off);
		if (nl != NULL || c->skipping > 64 * (uint64_t)SERVE_LINE_MAX) {
			c->closing = 1;
			sv_client_flush(c);
		}
		return;
	}
	/* Each line a request. */
	while (!c->closing && !c->broken && (nl = memchr(c->in.data +
	    c->in.off, '\n', c->in.len - c->in.off)) != NULL) {
		p = c->in.data + c->in.off;
		len = (size_t)(nl - p);
		buf_drain(&c->in, len + 1);
		if (len > SERVE_LINE_MAX) {
			sv_error(c, "a request is at most %d bytes",
			    SERVE_LINE_MAX);
			c->closing = 1;
		} else if (len > 0)
			sv_request(c, p, len);
	}
	if (!c->closing && !c->broken && c->in.len - c->in.off >
	    SERVE_LINE_MAX) {
		sv_error(c, "a request is at most %d bytes", SERVE_LINE_MAX);
		c->skipping = c->in.len - c->in.off;
		buf_drain(&c->in, c->in.len - c->in.off);
		return;
	}
	if (c->closing)
		sv_client_flush(c);
}

static void
sv_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof cred;
	int		 fd;

	(void)loop;
	(void)w;
	(void)revents;
	fd = accept4(sv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR && errno !=
		    ECONNABORTED)
			log_warn("accept");
		return;
	}
	if (sv.nclients >= SERVE_CLIENTS || getsockopt(fd, SOL_SOCKET,
	    SO_PEERCRED, &cred, &len) != 0) {
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->uid = cred.uid;
	c->pid = cred.pid;
	c->sendfd = -1;
	ev_io_init(&c->rw, sv_client_read_cb, fd, EV_READ);
	ev_io_init(&c->ww, sv_client_write_cb, fd, EV_WRITE);
	c->rw.data = c->ww.data = c;
	ev_io_start(sv.loop, &c->rw);
	c->next = sv.clients;
	sv.clients = c;
	sv.nclients++;
}

/* --- Start and stop ------------------------------------------------------ */

/*
 * The default state folder and socket, for the service and its clients
 * alike (forkflow-serve(8)).
 */
char *
serve_default_statedir(void)
{
	const char	*e;
	char		*p;

	if ((e = getenv("FORKFLOW_STATE_DIR")) != NULL && *e != '\0')
		return (xstrdup(e));
	if (geteuid() == 0)
		return (xstrdup("/var/lib/forkflow"));
	if ((e = getenv("XDG_STATE_HOME")) != NULL && *e == '/')
		xasprintf(&p, "%s/forkflow", e);
	else {
		e = getenv("HOME");
		if (e == NULL || *e == '\0') {
			struct passwd *pw = getpwuid(geteuid());

			e = pw != NULL ? pw->pw_dir : "/tmp";
		}
		xasprintf(&p, "%s/.local/state/forkflow", e);
	}
	return (p);
}

char *
serve_default_socket(void)
{
	const char	*e;
	char		*p, *dir;

	if ((e = getenv("FORKFLOW_SOCKET")) != NULL && *e != '\0')
		return (xstrdup(e));
	if (geteuid() == 0)
		return (xstrdup("/run/forkflow.sock"));
	if ((e = getenv("XDG_RUNTIME_DIR")) != NULL && *e == '/') {
		xasprintf(&p, "%s/forkflow.sock", e);
		return (p);
	}
	dir = serve_default_statedir();
	xasprintf(&p, "%s/forkflow.sock", dir);
	free(dir);
	return (p);
}

/* The address of the socket at path; a path too long for one exits. */
void
serve_sockaddr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun->sun_path)
		errx(EXIT_USAGE, "%s: a socket's path is at most %zu bytes",
		    path, sizeof sun->sun_path - 1);
	memcpy(sun->sun_path, path, strlen(path) + 1);
}

static int
sv_mkdirs(const char *path, mode_t mode)
{
	char	*p, *s;

	p = xstrdup(path);
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST) {
			free(p);
			return (-1);
		}
		*s = '/';
	}
	free(p);
	return (mkdir(path, mode) != 0 && errno != EEXIST ? -1 : 0);
}

/*
 * Listen on a new socket at path with mode (not blocking, closed on exec):
 * one left by a dead what is removed, a live one's is a usage error.
 * Returns its descriptor; other errors exit.
 */
int
serve_listen_at(const char *path, mode_t mode, const char *what)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd;

	serve_sockaddr(path, &sun);
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		errx(EXIT_USAGE, "%s: there already, and no socket", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(EXIT_JOB_FAILED, "socket");
	/* A socket nobody answers on is a dead one's. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
		errx(EXIT_USAGE, "%s: another %s listens there", path, what);
	close(fd);
	(void)unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		err(EXIT_JOB_FAILED, "socket");
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
		err(EXIT_JOB_FAILED, "%s", path);
	if (chmod(path, mode) != 0)
		err(EXIT_JOB_FAILED, "%s", path);
	if (listen(fd, 128) != 0)
		err(EXIT_JOB_FAILED, "listen");
	return (fd);
}

/* Listen on the socket at path (mode 0600, or 0660 for group gid). */
static void
sv_listen(const char *path, gid_t gid, int group)
{
	const char		*e;
	int			 fd;

	e = getenv("LISTEN_PID");
	if (e != NULL && strtol(e, NULL, 10) == (long)getpid() &&
	    (e = getenv("LISTEN_FDS")) != NULL && strtol(e, NULL, 10) >= 1) {
		/* systemd's socket, as descriptor 3. */
		sv.lfd = 3;
		sv.activated = 1;
		(void)fcntl(3, F_SETFD, FD_CLOEXEC);
		(void)fcntl(3, F_SETFL, fcntl(3, F_GETFL) | O_NONBLOCK);
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		return;
	}
	fd = serve_listen_at(path, group ? 0660 : 0600, "service");
	if (group && chown(path, (uid_t)-1, gid) != 0)
		err(EXIT_JOB_FAILED, "%s", path);
	sv.lfd = fd;
}

static void
sv_stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_info("stopping on signal %d; the runs go on", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static const struct option serve_opts[] = {
	{ "socket",	required_argument,	NULL, 's' },
	{ "state-dir",	required_argument,	NULL, 'd' },
	{ "cores",	required_argument,	NULL, 'c' },
	{ "group",	required_argument,	NULL, 'g' },
	{ "log-file",	required_argument,	NULL, 'l' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "inject-kill", required_argument,	NULL, 'K' },
	{ NULL,		0,			NULL, 0 }
};

/* forkflow serve */
int
cmd_serve(int argc, char **argv)
{
	struct group	*gr;
	char		*cause, *path, self[PATH_MAX], line[32];
	const char	*logfile = NULL, *group = NULL;
	gid_t		 gid = 0;
	ssize_t		 n;
	long		 ncpu;
	int		 ch, verbose = 0;

	optind = 1;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	sv.cores = ncpu > 0 ? (unsigned int)ncpu : 1;
	while ((ch = getopt_long(argc, argv, "v", serve_opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			free(sv.sockpath);
			sv.sockpath = xstrdup(optarg);
			break;
		case 'd':
			free(sv.statedir);
			sv.statedir = xstrdup(optarg);
			break;
		case 'c':
			sv.cores = cmd_parse_count(optarg, "--cores", 4096);
			break;
		case 'g':
			group = optarg;
			break;
		case 'l':
			logfile = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'K':
			if (strcmp(optarg, "fork") == 0)
				sv.inject = SV_KILL_FORK;
			else if (strcmp(optarg, "said") == 0)
				sv.inject = SV_KILL_SAID;
			else
				errx(EXIT_USAGE, "--inject-kill: fork or said, "
				    "not %s", optarg);
			break;
		case 'h':
			cmd_usage(cmd_serve_synopsis, cmd_serve_help, 0);
		default:
			cmd_usage(cmd_serve_synopsis, NULL, EXIT_USAGE);
		}
	}
	cmd_operands(argc, argv, optind, 0, NULL, cmd_serve_synopsis);
	log_init(verbose + 1, "forkflow serve");
	if (logfile != NULL && log_open_file(logfile) != 0)
		err(EXIT_USAGE, "%s", logfile);
	if (group != NULL) {
		if ((gr = getgrnam(group)) == NULL)
			errx(EXIT_USAGE, "--group %s: no such group", group);
		gid = gr->gr_gid;
	}
	if (sv.statedir == NULL)
		sv.statedir = serve_default_statedir();
	if (sv.sockpath == NULL)
		sv.sockpath = serve_default_socket();
	if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) <= 0)
		err(EXIT_JOB_FAILED, "/proc/self/exe");
	self[n] = '\0';
	sv.self = xstrdup(self);

	/* One service per state folder. */
	if (sv_mkdirs(sv.statedir, geteuid() == 0 ? 0755 : 0700) != 0)
		err(EXIT_USAGE, "%s", sv.statedir);
	xasprintf(&path, "%s/jobs", sv.statedir);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		err(EXIT_USAGE, "%s", path);
	free(path);
	xasprintf(&path, "%s/serve.lock", sv.statedir);
	sv.lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sv.lockfd == -1)
		err(EXIT_USAGE, "%s", path);
	if (flock(sv.lockfd, LOCK_EX | LOCK_NB) != 0) {
		n = pread(sv.lockfd, line, sizeof line - 1, 0);
		line[n > 0 ? n : 0] = '\0';
		errx(EXIT_USAGE, "%s is in use by another forkflow serve (pid "
		    "%ld)", sv.statedir, strtol(line, NULL, 10));
	}
	n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
	if (ftruncate(sv.lockfd, 0) != 0 || pwrite(sv.lockfd, line, (size_t)n,
	    0) != n)
		err(EXIT_JOB_FAILED, "%s", path);
	free(path);
	xasprintf(&path, "%s/jobs.db", sv.statedir);
	if ((sv.db = sdb_open(path, &cause)) == NULL)
		errx(EXIT_JOB_FAILED, "%s", cause);
	free(path);
	sv_listen(sv.sockpath, gid, group != NULL);

	sv.loop = ev_default_loop(EVFLAG_AUTO);
	ev_io_init(&sv.acceptw, sv_accept_cb, sv.lfd, EV_READ);
	ev_io_start(sv.loop, &sv.acceptw);
	ev_signal_init(&sv.sigterm, sv_stop_cb, SIGTERM);
	ev_signal_start(sv.loop, &sv.sigterm);
	ev_signal_init(&sv.sigint, sv_stop_cb, SIGINT);
	ev_signal_start(sv.loop, &sv.sigint);
	ev_prepare_init(&sv.reapw, sv_reap_cb);
	ev_prepare_start(sv.loop, &sv.reapw);
	ev_timer_init(&sv.tick, sv_tick_cb, 5, 5);
	ev_timer_start(sv.loop, &sv.tick);
	log_info("listening on %s, %u cores, state in %s (pid %ld)",
	    sv.activated ? "systemd's socket" : sv.sockpath, sv.cores,
	    sv.statedir, (long)getpid());
	sv_recover();
	ev_run(sv.loop, 0);

	/* The runs go on, in sessions of their own: the next start adopts
	 * them. */
	close(sv.lfd);
	if (!sv.activated)
		(void)unlink(sv.sockpath);
	sdb_close(sv.db);
	return (0);
}
