/* forkflow: see LICENSE. */
/*
 * A worker's life cycle: what each event does in each state.  The table
 * below is the behaviour, not a summary of it: every change of a worker's
 * state goes through an action of the table, and the count of live
 * workers changes only in life_enter.  The actions decide and call the
 * supervisor's callbacks (struct life_ops) to act, so the unit suite can
 * drive the table without forking.
 *
 * The job's course shows in the states: a worker that runs while the job
 * fails is FAILING (a crash does not restart it), one told to exit is
 * FINISHING (however it ends, it is done).
 */

#include <stddef.h>

#include "lifecycle.h"

typedef void	life_action(struct life *);

static life_action	la_none, la_spawn, la_committed, la_next, la_finish,
			la_fail, la_stop, la_restart, la_permanent, la_done,
			la_lost, la_hold, la_cancel, la_retire;

/* Rows by state, columns by event. */
static life_action *const actions[LS_NSTATES][LE_NEVENTS] = {
	/*		start		committed	next
			last		fail		stop
			exit ok		crash		permanent
			timer */
	[LS_NEW] = {	la_spawn,	la_none,	la_none,
			la_done,	la_lost,	la_lost,
			la_none,	la_none,	la_none,
			la_none },
	[LS_RUNNING] = { la_none,	la_committed,	la_none,
			la_finish,	la_fail,	la_stop,
			la_restart,	la_restart,	la_permanent,
			la_none },
	[LS_WAITING] = { la_none,	la_none,	la_next,
			la_finish,	la_finish,	la_finish,
			la_restart,	la_restart,	la_permanent,
			la_none },
	[LS_BACKOFF] = { la_none,	la_none,	la_none,
			la_retire,	la_hold,	la_cancel,
			la_none,	la_none,	la_none,
			la_spawn },
	[LS_BACKOFF_FAILING] = { la_none, la_none,	la_none,
			la_retire,	la_none,	la_cancel,
			la_none,	la_none,	la_none,
			la_spawn },
	[LS_FAILING] = { la_none,	la_finish,	la_none,
			la_finish,	la_none,	la_stop,
			la_done,	la_lost,	la_permanent,
			la_none },
	[LS_FINISHING] = { la_none,	la_none,	la_none,
			la_none,	la_none,	la_none,
			la_done,	la_done,	la_done,
			la_none },
	[LS_DONE] = {	la_none,	la_none,	la_none,
			la_none,	la_none,	la_none,
			la_none,	la_none,	la_none,
			la_none },
	[LS_FAILED] = {	la_none,	la_none,	la_none,
			la_none,	la_none,	la_none,
			la_none,	la_none,	la_none,
			la_none },
};

static const char *const state_names[LS_NSTATES] = {
	"new", "running", "waiting", "backoff", "backoff-failing", "failing",
	"finishing", "done", "failed",
};

static const char *const event_names[LE_NEVENTS] = {
	"start", "committed", "next", "last", "fail", "stop", "exit-ok",
	"crash", "permanent", "timer",
};

const char *
life_state_name(enum life_state s)
{
	return (s < LS_NSTATES ? state_names[s] : "?");
}

const char *
life_event_name(enum life_event e)
{
	return (e < LE_NEVENTS ? event_names[e] : "?");
}

/* Is a worker in this state forked, or to be forked again? */
int
life_live(enum life_state s)
{
	switch (s) {
	case LS_RUNNING:
	case LS_WAITING:
	case LS_BACKOFF:
	case LS_BACKOFF_FAILING:
	case LS_FAILING:
	case LS_FINISHING:
		return (1);
	default:
		return (0);
	}
}

/*
 * Seconds before a restart: the first at once, then 1, 2, 4, ... up to
 * 30; a kill of --chaos is no failure of the partition's.
 */
double
life_delay(unsigned int failures, int chaos)
{
	double	d;

	if (failures <= 1 || chaos)
		return (0);
	d = (double)(1u << (failures - 2 > 5 ? 5 : failures - 2));
	return (d > 30 ? 30 : d);
}

void
life_init(struct life *l, struct life_set *set, void *arg)
{
	l->set = set;
	l->arg = arg;
	l->state = LS_NEW;
	l->failures = 0;
	l->chaos = 0;
	l->depth = 0;
}

/* Move to a state, keeping the count of live workers. */
static void
life_enter(struct life *l, enum life_state s)
{
	struct life_set	*set = l->set;
	int		 was = life_live(l->state), is = life_live(s);

	l->state = s;
	if (was && !is && --set->live == 0)
		set->ops->idle(l);
	else if (!was && is)
		set->live++;
}

void
life_event(struct life *l, enum life_event e)
{
	l->depth++;
	actions[l->state][e](l);
	if (--l->depth == 0 && l->set->ops->changed != NULL)
		l->set->ops->changed(l);
}

/* Nothing to do: the event means nothing in this state. */
static void
la_none(struct life *l)
{
}

/* Fork it; one forked again after it committed the stage waits. */
static void
la_spawn(struct life *l)
{
	enum life_state	next;

	next = l->state == LS_BACKOFF_FAILING ? LS_FAILING : LS_RUNNING;
	life_enter(l, next);
	l->chaos = 0;
	switch (l->set->ops->spawn(l)) {
	case LSP_FAILED:
		life_event(l, LE_CRASH);
		break;
	case LSP_STAGE:
		l->set->ops->start(l);
		break;
	case LSP_COMMITTED:
		if (next == LS_FAILING)
			la_finish(l);
		else
			life_enter(l, LS_WAITING);
		break;
	}
}

/* It committed the stage: that was progress. */
static void
la_committed(struct life *l)
{
	l->failures = 0;
	life_enter(l, LS_WAITING);
}

static void
la_next(struct life *l)
{
	life_enter(l, LS_RUNNING);
	l->set->ops->start(l);
}

/* Its work is done, or not needed: it may leave in peace. */
static void
la_finish(struct life *l)
{
	life_enter(l, LS_FINISHING);
	l->set->ops->finish(l);
}

/* The job fails: it finishes its stage (it may find an earlier error). */
static void
la_fail(struct life *l)
{
	life_enter(l, LS_FAILING);
}

static void
la_stop(struct life *l)
{
	life_enter(l, LS_FAILING);
	l->set->ops->terminate(l);
}

/*
 * It crashed, or left before it was told to.  Failures count in a row: a
 * worker that checkpointed or committed since it was forked made
 * progress, and its crash was not the one before.
 */
static void
la_restart(struct life *l)
{
	const struct life_ops	*ops = l->set->ops;

	if (ops->progressed(l))
		l->failures = 0;
	if (!l->chaos)
		l->failures++;
	if (l->failures >= l->set->max_attempts) {
		life_enter(l, LS_FAILED);
		ops->give_up(l);
		return;
	}
	life_enter(l, LS_BACKOFF);
	ops->backoff(l, life_delay(l->failures, l->chaos));
}

static void
la_permanent(struct life *l)
{
	life_enter(l, LS_FAILED);
	l->set->ops->permanent(l);
}

static void
la_done(struct life *l)
{
	life_enter(l, LS_DONE);
}

static void
la_lost(struct life *l)
{
	life_enter(l, LS_FAILED);
}

/* In backoff when the job starts to fail: forked once more, later. */
static void
la_hold(struct life *l)
{
	life_enter(l, LS_BACKOFF_FAILING);
}

/* In backoff when the job fails: no fork, no child event to wait for. */
static void
la_cancel(struct life *l)
{
	l->set->ops->cancel(l);
	life_enter(l, LS_FAILED);
}

/* In backoff when every stage is committed: no need to fork it. */
static void
la_retire(struct life *l)
{
	l->set->ops->cancel(l);
	life_enter(l, LS_DONE);
}
