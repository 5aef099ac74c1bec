/* forkflow: see LICENSE. */
/*
 * forkflow serve: what serve.c (connections and requests), serve-job.c (the
 * jobs' runs) and serve-db.c (the job table) share.  The protocol is in forkflow-serve(8).
 */

#ifndef SERVE_INT_H
#define SERVE_INT_H

#include <sys/types.h>

#include <ev.h>
#include <stdint.h>

struct sockaddr_un;
struct sqlite3;
struct json_t;

#define SERVE_PROTO		1		/* "v" of every message */
#define SERVE_LINE_MAX		(1 << 20)	/* a request's line */
#define SERVE_RETRIES		3		/* attempts of a job in all */
#define SERVE_CANCEL_GRACE	10.0		/* SIGTERM, then SIGKILL */

/* A job's states, as the table spells them. */
enum sjob_state {
	SJ_QUEUED,
	SJ_RUNNING,
	SJ_SUCCEEDED,
	SJ_FAILED,
	SJ_CANCELED,
};

/*
 * A job that has not ended, in memory; the table holds it too, and every
 * job that ended.
 */
struct sjob {
	int64_t		 id;
	uid_t		 uid;
	gid_t		 gid;
	char		*program_name;	/* as submitted, for messages */
	char		*program_dir;	/* its relative paths' folder */
	char		*cwd;		/* the client's */
	struct json_t	*args;		/* run's options, strings */
	struct json_t	*env;		/* "NAME=VALUE" strings */
	struct json_t	*inputs;	/* {"path","size","mtime"} */
	unsigned int	 partitions;	/* as submitted; 0: not known */
	unsigned int	 cores;
	enum sjob_state	 state;
	int		 attempts;
	double		 started;
	pid_t		 pid;		/* its forkflow run, or 0 */
	uint64_t	 pid_start;	/* and its start, in clock ticks */
	int		 pidfd;
	int		 canceling;
	ev_child	 child;
	ev_io		 pidw;
	ev_timer	 timer;		/* backoff, poll, or cancel's grace */
	struct sjob	*next;
};

/* The service's state: serve.c's connections, serve-job.c's runs. */
struct client;
struct serve {
	struct ev_loop	*loop;
	struct sqlite3	*db;
	char		*statedir;
	char		*sockpath;
	char		*self;		/* this binary */
	int		 activated;	/* the socket is systemd's */
	unsigned int	 cores;
	unsigned int	 used;
	int		 lfd;
	int		 lockfd;
	int		 recovering;	/* the table's runs being looked at */
	enum {
		SV_KILL_NONE,
		SV_KILL_FORK,		/* after a run's fork */
		SV_KILL_SAID,		/* after the table has its start */
	}		 inject;	/* --inject-kill: SIGKILL there */
	ev_io		 acceptw;
	ev_signal	 sigterm;
	ev_signal	 sigint;
	ev_prepare	 reapw;
	ev_timer	 tick;
	struct sjob	*jobs;		/* not ended, oldest first */
	struct client	*clients;
	unsigned int	 nclients;
};
extern struct serve sv;

/* serve.c */
void		 serve_sockaddr(const char *, struct sockaddr_un *);
int		 serve_listen_at(const char *, mode_t, const char *);
void		 sv_wake(int64_t);

/* serve-job.c */
char		*sv_path(int64_t, const char *);
int		 sv_job_file(const struct sjob *, const char *, int);
void		 sv_schedule(void);
void		 sv_tick_cb(struct ev_loop *, ev_timer *, int);
void		 sv_job_cancel(struct sjob *, const char *);
void		 sv_recover(void);

/* serve-db.c */
struct sqlite3	*sdb_open(const char *, char **);
void		 sdb_close(struct sqlite3 *);
int		 sdb_insert(struct sqlite3 *, struct sjob *, const char *,
		    char **);
int		 sdb_update(struct sqlite3 *, const struct sjob *, double,
		    int, const char *, const char *, const char *);
int		 sdb_load_active(struct sqlite3 *, struct sjob **);
struct json_t	*sdb_job(struct sqlite3 *, int64_t);
size_t		 sdb_jobs(struct sqlite3 *, int, void (*)(struct json_t *,
		    void *), void *);
const char	*sdb_state_name(enum sjob_state);
void		 sjob_free(struct sjob *);

#endif /* SERVE_INT_H */
