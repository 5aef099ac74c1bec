/* forkflow: see LICENSE. */
/*
 * A worker's life, as a table of states by events (lifecycle.c).  The
 * table only decides; what it decides is done through the callbacks of a
 * struct life_ops: the supervisor forks, signals and sends messages, the
 * unit suite writes down what it was asked to do.  The table is the only
 * place a worker changes state, and the only place the count of live
 * workers changes.
 */

#ifndef LIFECYCLE_H
#define LIFECYCLE_H

enum life_state {
	LS_NEW,			/* not forked yet */
	LS_RUNNING,		/* forked, running the current stage */
	LS_WAITING,		/* committed the current stage, waits */
	LS_BACKOFF,		/* crashed, waiting to be forked again */
	LS_BACKOFF_FAILING,	/* so, while the job fails: forked once more
				 * to finish its stage, never again */
	LS_FAILING,		/* running while the job fails: it may finish
				 * its stage, it is not restarted */
	LS_FINISHING,		/* told to exit */
	LS_DONE,		/* exited when told to, or not needed */
	LS_FAILED,		/* gone for good */
	LS_NSTATES
};

enum life_event {
	LE_START,		/* the job starts */
	LE_COMMITTED,		/* it says it committed the current stage */
	LE_NEXT,		/* the next stage starts */
	LE_LAST,		/* every stage is committed */
	LE_FAIL,		/* the job fails; it may finish its stage */
	LE_STOP,		/* the job fails; it need not finish */
	LE_EXIT_OK,		/* it exited with status 0 */
	LE_CRASH,		/* signal, exit 1, EOF, bad message, no fork */
	LE_EXIT_PERMANENT,	/* it found the program or input at fault */
	LE_TIMER,		/* its backoff is over */
	LE_NEVENTS
};

/* Whether it could be forked, and whether it already did the stage. */
enum life_spawned {
	LSP_FAILED = -1,
	LSP_STAGE,		/* forked: tell it to run the stage */
	LSP_COMMITTED,		/* forked; it committed the stage already */
};

struct life;

/* What the table has done; each gets the worker's struct life. */
struct life_ops {
	enum life_spawned (*spawn)(struct life *);
	void	(*start)(struct life *);	/* run the current stage */
	void	(*finish)(struct life *);	/* exit, your work is done */
	void	(*terminate)(struct life *);	/* SIGTERM it */
	void	(*backoff)(struct life *, double);	/* arm the timer */
	void	(*cancel)(struct life *);	/* stop the timer */
	void	(*give_up)(struct life *);	/* the job fails on it */
	void	(*permanent)(struct life *);	/* it found a bad input */
	int	(*progressed)(struct life *);	/* since it was forked */
	void	(*changed)(struct life *);	/* after each event */
	void	(*idle)(struct life *);		/* no worker is live */
};

/* What the workers of a job share. */
struct life_set {
	const struct life_ops	*ops;
	unsigned int		 live;		/* in a live state */
	unsigned int		 max_attempts;	/* failures in a row */
};

struct life {
	struct life_set		*set;
	void			*arg;		/* the caller's worker */
	enum life_state		 state;
	unsigned int		 failures;	/* in a row, without progress */
	int			 chaos;		/* killed by --chaos */
	int			 depth;		/* events being handled */
};

void		 life_init(struct life *, struct life_set *, void *);
void		 life_event(struct life *, enum life_event);
int		 life_live(enum life_state);
double		 life_delay(unsigned int, int);
const char	*life_state_name(enum life_state);
const char	*life_event_name(enum life_event);

#endif /* LIFECYCLE_H */
