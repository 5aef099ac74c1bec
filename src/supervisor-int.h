/* forkflow: see LICENSE. */
/*
 * Private to the supervisor's files (supervisor.c, supervisor-watch.c):
 * what it keeps of the job and of each worker, and the functions they
 * take from one another.  Include it after forkflow.h and lifecycle.h.
 */

#ifndef SUPERVISOR_INT_H
#define SUPERVISOR_INT_H

struct supervisor;

/* A record (or a batch of them) a worker was running when it crashed. */
struct suspect {
	unsigned int		 stage;
	uint64_t		 lo;		/* stage input record index */
	uint64_t		 n;		/* 1: exactly that record */
	int64_t			 k;
	int64_t			 v;
	uint64_t		 pos;		/* input offset + 1, or 0 */
	unsigned int		 strs;		/* 1: key, 2: value is text */
	unsigned int		 crashes;
	int			 skip;		/* skip it from now on */
};

struct worker {
	struct supervisor	*sv;
	unsigned int		 part;
	pid_t			 pid;
	int			 fd;
	struct life		 life;		/* its state: lifecycle.c */
	unsigned int		 attempts;	/* forks so far */
	uint64_t		 ckpts_at_fork;	/* to see progress */
	unsigned int		 stages_done;
	uint64_t		 last_hb;	/* heartbeat when last seen */
	ev_tstamp		 last_change;	/* when it last moved */
	int			 hung;		/* killed for no progress */
	ev_tstamp		 idle_since;	/* first seen idle, or 0 */
	double			 idle_cpu;	/* its CPU seconds then */
	int			 doomed;	/* sent SIGKILL, not reaped yet */
	int			 oom;		/* by the kernel, for memory */
	int			 restage;	/* left to do its stage again */
	pid_t			 last_pid;
	struct suspect		*suspects;
	size_t			 nsuspects;
	ev_tstamp		 forked_at;
	ev_io			 rio;
	ev_io			 wio;
	ev_child		 child;
	ev_timer		 backoff;
	struct buf		 rbuf;
	struct buf		 wbuf;
	struct status_page	*status;
	int			 has_error;	/* a MSG_ERROR arrived */
	struct msg_error	 error;
	char			*error_text;
	char			*last_exit;	/* "killed by signal 9" */
	char			*note;		/* what it said before it went */
};

struct supervisor {
	struct job		*job;
	struct ev_loop		*loop;
	struct worker		*w;
	unsigned int		 stage;		/* the stage running */
	int			 finishing;	/* MSG_FINISH sent */
	int			 failing;	/* no new stage will start */
	int			 interrupted;
	char			*fail_msg;
	int			 fail_status;
	struct life_set		 lives;		/* the live count */
	ev_signal		 sigint;
	ev_signal		 sigterm;
	ev_signal		 sighup;
	ev_timer		 heartbeat;
	ev_timer		 chaos;
	uint64_t		 rng;
	uint64_t		 oom_kills;	/* the kernel's, accounted for */
	uint64_t		 records_in;	/* of stage 0 */
	uint64_t		 records_out;	/* of the last stage */
	struct job_page		*page;		/* status/job */
	struct status_page	**pages;	/* the workers' */
	struct display		*display;
	ev_timer		 tick;		/* the display, the page */
	ev_timer		 block;		/* status blocks */
	int			 errpipe[2];	/* workers' stderr, displayed */
	size_t			 rowbytes;	/* of a bitmap of partitions */
	uint8_t			*used;		/* this stage's, per writer */
	uint8_t			*sources;	/* the stage before's, or NULL */
	struct mpi_xchg		*xchg;		/* the hosts' barrier, going on */
	ev_timer		 xchgw;		/* which this tests */
	int			 shuffled;	/* it is done for this stage */
	ev_timer		 hbw;		/* the hosts' heartbeats */
	ev_timer		 askw;		/* files asked for again */
	void			*lanes;		/* what ours say */
	ev_io			 errio;
	struct buf		 errbuf;
};

void	worker_moved(struct worker *);
void	supervisor_page(struct supervisor *);
int	worker_on_stage(const struct worker *);
void	supervisor_read_cb(struct ev_loop *, ev_io *, int);
void	supervisor_heartbeat_cb(struct ev_loop *, ev_timer *, int);
void	supervisor_chaos_arm(struct supervisor *);
void	supervisor_chaos_cb(struct ev_loop *, ev_timer *, int);
void	supervisor_watch(struct supervisor *);
void	supervisor_unwatch(struct supervisor *);
size_t	supervisor_lanes_max(const struct job *);
size_t	supervisor_lanes(struct supervisor *, void *);
void	supervisor_heard(int, const void *, size_t, void *);

#endif /* SUPERVISOR_INT_H */
