/* forkflow: see LICENSE. */
/*
 * forkflow serve's job table: SQLite, in write-ahead-log mode with
 * synchronous=FULL, the service its only writer.  Every change of a job's
 * state is one transaction with its event, so that a service killed at
 * any moment finds the table as it last left it.
 */

#include <sys/types.h>

#include <jansson.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forkflow.h"
#include "serve-int.h"

#define SDB_VERSION	2	/* PRAGMA user_version of the schema */

static const char *const sdb_schema =
	"CREATE TABLE IF NOT EXISTS jobs ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" uid INTEGER NOT NULL, gid INTEGER NOT NULL,"
	" program TEXT NOT NULL, program_name TEXT NOT NULL,"
	" program_dir TEXT NOT NULL, cwd TEXT NOT NULL,"
	" args TEXT NOT NULL, env TEXT NOT NULL, inputs TEXT NOT NULL,"
	" partitions INTEGER NOT NULL, cores INTEGER NOT NULL,"
	" state TEXT NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0, submitted REAL NOT NULL,"
	" started REAL, ended REAL, exit_status INTEGER, reason TEXT,"
	" pid INTEGER, pid_start INTEGER);"
	"CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);"
	"CREATE TABLE IF NOT EXISTS events ("
	" id INTEGER PRIMARY KEY, job INTEGER NOT NULL REFERENCES jobs(id),"
	" t REAL NOT NULL, event TEXT NOT NULL, detail TEXT);"
	"CREATE INDEX IF NOT EXISTS events_job ON events(job);";

static const char *const sdb_states[] = {
	"queued", "running", "succeeded", "failed", "canceled"
};

const char *
sdb_state_name(enum sjob_state s)
{
	return (sdb_states[s]);
}

static int
sdb_state_of(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof sdb_states / sizeof sdb_states[0]; i++)
		if (strcmp(name, sdb_states[i]) == 0)
			return ((int)i);
	return (-1);
}

/* Run statements that return no rows; 0, or -1 with *cause set. */
static int
sdb_exec(sqlite3 *db, const char *sql, char **cause)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		xasprintf(cause, "%s", msg != NULL ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return (-1);
	}
	return (0);
}

/*
 * Open (or make) the table at path.  Returns the handle, or NULL with
 * *cause set.
 */
sqlite3 *
sdb_open(const char *path, char **cause)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	int		 version = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: %s", path, db != NULL ?
		    sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return (NULL);
	}
	if (sdb_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;", cause) != 0)
		goto fail;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (version > SDB_VERSION) {
		xasprintf(cause, "%s: a job table of version %d; this forkflow "
		    "knows %d", path, version, SDB_VERSION);
		goto fail;
	}
	/* Version 2 knows a run by its pid and its start time. */
	if (sdb_exec(db, "BEGIN IMMEDIATE", cause) != 0 ||
	    (version == 1 && sdb_exec(db, "ALTER TABLE jobs ADD COLUMN "
	    "pid_start INTEGER", cause) != 0) ||
	    sdb_exec(db, sdb_schema, cause) != 0 ||
	    sdb_exec(db, "PRAGMA user_version = 2; COMMIT", cause) != 0)
		goto fail;
	return (db);
fail:
	{
		char	*c = *cause;

		xasprintf(cause, "%s: %s", path, c);
		free(c);
	}
	sqlite3_close(db);
	return (NULL);
}

void
sdb_close(sqlite3 *db)
{
	sqlite3_close(db);
}

static void
sdb_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

static void
sdb_bind_json(sqlite3_stmt *st, int i, const json_t *j)
{
	char	*s;

	s = json_dumps(j, JSON_COMPACT);
	sdb_bind_text(st, i, s != NULL ? s : "[]");
	free(s);
}

/* Append an event of job id; in the caller's transaction. */
static int
sdb_event(sqlite3 *db, int64_t id, double t, const char *event,
    const char *detail)
{
	sqlite3_stmt	*st;
	int		 r;

	if (sqlite3_prepare_v2(db, "INSERT INTO events (job, t, event, "
	    "detail) VALUES (?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_double(st, 2, t);
	sdb_bind_text(st, 3, event);
	sdb_bind_text(st, 4, detail);
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	return (r == SQLITE_DONE ? 0 : -1);
}

/*
 * A new job, queued: its row and its "submitted" event, in one
 * transaction.  Sets j->id.  Returns 0, or -1 with *cause set.
 */
int
sdb_insert(sqlite3 *db, struct sjob *j, const char *program, char **cause)
{
	sqlite3_stmt	*st;
	double		 now = wall_now();
	int		 r;

	if (sdb_exec(db, "BEGIN IMMEDIATE", cause) != 0)
		return (-1);
	if (sqlite3_prepare_v2(db, "INSERT INTO jobs (uid, gid, program, "
	    "program_name, program_dir, cwd, args, env, inputs, partitions, "
	    "cores, state, submitted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "'queued', ?)", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, j->uid);
	sqlite3_bind_int64(st, 2, j->gid);
	sdb_bind_text(st, 3, program);
	sdb_bind_text(st, 4, j->program_name);
	sdb_bind_text(st, 5, j->program_dir);
	sdb_bind_text(st, 6, j->cwd);
	sdb_bind_json(st, 7, j->args);
	sdb_bind_json(st, 8, j->env);
	sdb_bind_json(st, 9, j->inputs);
	sqlite3_bind_int(st, 10, (int)j->partitions);
	sqlite3_bind_int(st, 11, (int)j->cores);
	sqlite3_bind_double(st, 12, now);
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		goto fail;
	j->id = sqlite3_last_insert_rowid(db);
	j->state = SJ_QUEUED;
	if (sdb_event(db, j->id, now, "submitted", NULL) != 0)
		goto fail;
	if (sdb_exec(db, "COMMIT", cause) != 0)
		return (-1);
	return (0);
fail:
	xasprintf(cause, "%s", sqlite3_errmsg(db));
	(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return (-1);
}

/*
 * Record job j as it now is (state, attempts, pid, times; exit status and
 * reason when it ended: status -1 is none) with the event that made it
 * so, in one transaction.  Returns 0 or -1.
 */
int
sdb_update(sqlite3 *db, const struct sjob *j, double now, int status,
    const char *reason, const char *event, const char *detail)
{
	sqlite3_stmt	*st;
	int		 r, ended = j->state >= SJ_SUCCEEDED;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_prepare_v2(db, "UPDATE jobs SET state = ?, attempts = ?, "
	    "pid = ?, started = ?, ended = ?, exit_status = ?, reason = "
	    "coalesce(?, reason), pid_start = ? WHERE id = ?", -1, &st,
	    NULL) != SQLITE_OK)
		goto fail;
	sdb_bind_text(st, 1, sdb_states[j->state]);
	sqlite3_bind_int(st, 2, j->attempts);
	if (j->pid > 0)
		sqlite3_bind_int64(st, 3, j->pid);
	else
		sqlite3_bind_null(st, 3);
	if (j->started > 0)
		sqlite3_bind_double(st, 4, j->started);
	else
		sqlite3_bind_null(st, 4);
	if (ended)
		sqlite3_bind_double(st, 5, now);
	else
		sqlite3_bind_null(st, 5);
	if (status >= 0)
		sqlite3_bind_int(st, 6, status);
	else
		sqlite3_bind_null(st, 6);
	sdb_bind_text(st, 7, reason);
	if (j->pid > 0)
		sqlite3_bind_int64(st, 8, (sqlite3_int64)j->pid_start);
	else
		sqlite3_bind_null(st, 8);
	sqlite3_bind_int64(st, 9, j->id);
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r != SQLITE_DONE || sdb_event(db, j->id, now, event, detail) != 0)
		goto fail;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return (0);
fail:
	log_warnx("job table: %s", sqlite3_errmsg(db));
	(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return (-1);
}

static json_t *
sdb_column_json(sqlite3_stmt *st, int i)
{
	json_t		*j;
	const char	*s = (const char *)sqlite3_column_text(st, i);

	if (s == NULL || (j = json_loads(s, 0, NULL)) == NULL)
		return (json_array());
	return (j);
}

/*
 * The jobs that have not ended, oldest first, as a list (*list), to run
 * or adopt, with the cancels asked of them.  Returns their number, or -1.
 */
int
sdb_load_active(sqlite3 *db, struct sjob **list)
{
	sqlite3_stmt	*st;
	struct sjob	*j, **tail = list;
	int		 n = 0, r;

	*list = NULL;
	if (sqlite3_prepare_v2(db, "SELECT id, uid, gid, program_name, "
	    "program_dir, cwd, args, env, inputs, cores, state, attempts, "
	    "started, pid, EXISTS (SELECT 1 FROM events WHERE job = jobs.id "
	    "AND event = 'cancel'), pid_start FROM jobs WHERE state IN ('queued', "
	    "'running') ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return (-1);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		j = xcalloc(1, sizeof *j);
		j->pidfd = -1;
		j->id = sqlite3_column_int64(st, 0);
		j->uid = (uid_t)sqlite3_column_int64(st, 1);
		j->gid = (gid_t)sqlite3_column_int64(st, 2);
		j->program_name = xstrdup((const char *)sqlite3_column_text(st,
		    3));
		j->program_dir = xstrdup((const char *)sqlite3_column_text(st,
		    4));
		j->cwd = xstrdup((const char *)sqlite3_column_text(st, 5));
		j->args = sdb_column_json(st, 6);
		j->env = sdb_column_json(st, 7);
		j->inputs = sdb_column_json(st, 8);
		j->cores = (unsigned int)sqlite3_column_int(st, 9);
		j->state = sdb_state_of((const char *)sqlite3_column_text(st,
		    10)) == SJ_RUNNING ? SJ_RUNNING : SJ_QUEUED;
		j->attempts = sqlite3_column_int(st, 11);
		j->started = sqlite3_column_double(st, 12);
		j->pid = (pid_t)sqlite3_column_int64(st, 13);
		/* A cancel its run had not yet answered when the service
		 * stopped. */
		j->canceling = sqlite3_column_int(st, 14);
		j->pid_start = (uint64_t)sqlite3_column_int64(st, 15);
		*tail = j;
		tail = &j->next;
		n++;
	}
	sqlite3_finalize(st);
	return (r == SQLITE_DONE ? n : -1);
}

void
sjob_free(struct sjob *j)
{
	if (j == NULL)
		return;
	free(j->program_name);
	free(j->program_dir);
	free(j->cwd);
	json_decref(j->args);
	json_decref(j->env);
	json_decref(j->inputs);
	free(j);
}

#define SDB_JOB_COLUMNS	"id, uid, state, program_name, partitions, cores, " \
	"attempts, submitted, started, ended, exit_status, reason, pid, cwd"

/* A row of SDB_JOB_COLUMNS as the protocol's job object. */
static json_t *
sdb_row_json(sqlite3_stmt *st)
{
	static uid_t	 last_uid;
	static char	*last_name;
	struct passwd	*pw;
	json_t		*o;
	uid_t		 uid = (uid_t)sqlite3_column_int64(st, 1);
	int		 i;
	static const char *const names[] = { "id", "uid", "state", "program",
	    "partitions", "cores", "attempts", "submitted", "started", "ended",
	    "exit_status", "reason", "pid", "cwd" };

	o = json_object();
	for (i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			json_object_set_new(o, names[i], json_integer(
			    sqlite3_column_int64(st, i)));
			break;
		case SQLITE_FLOAT:
			json_object_set_new(o, names[i], json_real(
			    sqlite3_column_double(st, i)));
			break;
		case SQLITE_TEXT:
			json_object_set_new(o, names[i], json_text((const char *)
			    sqlite3_column_text(st, i),
			    (size_t)sqlite3_column_bytes(st, i)));
			break;
		default:
			json_object_set_new(o, names[i], json_null());
			break;
		}
	}
	/* The owner's name, looked up once per owner in a row. */
	if (uid != last_uid || last_name == NULL) {
		free(last_name);
		pw = getpwuid(uid);
		last_name = pw != NULL ? xstrdup(pw->pw_name) : NULL;
		last_uid = uid;
	}
	if (last_name != NULL)
		json_object_set_new(o, "user", json_string(last_name));
	else
		json_object_set_new(o, "user", json_null());
	return (o);
}

/* Job id as the protocol's object, or NULL when there is none. */
json_t *
sdb_job(sqlite3 *db, int64_t id)
{
	sqlite3_stmt	*st;
	json_t		*o = NULL;

	if (sqlite3_prepare_v2(db, "SELECT " SDB_JOB_COLUMNS " FROM jobs "
	    "WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
		return (NULL);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		o = sdb_row_json(st);
	sqlite3_finalize(st);
	return (o);
}

/*
 * The jobs, oldest first: those that have not ended and the last 20 that
 * have, or all of them; each given to fn as it is read, so that a table
 * of any size is never in memory whole.  Returns how many.
 */
size_t
sdb_jobs(sqlite3 *db, int all, void (*fn)(json_t *, void *), void *arg)
{
	sqlite3_stmt	*st;
	json_t		*o;
	size_t		 n = 0;

	if (sqlite3_prepare_v2(db, all ? "SELECT " SDB_JOB_COLUMNS " FROM "
	    "jobs ORDER BY id" : "SELECT " SDB_JOB_COLUMNS " FROM jobs WHERE "
	    "state IN ('queued', 'running') OR id IN (SELECT id FROM jobs "
	    "WHERE state NOT IN ('queued', 'running') ORDER BY id DESC LIMIT "
	    "20) ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return (0);
	while (sqlite3_step(st) == SQLITE_ROW) {
		o = sdb_row_json(st);
		fn(o, arg);
		json_decref(o);
		n++;
	}
	sqlite3_finalize(st);
	return (n);
}
