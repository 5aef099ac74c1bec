/* forkflow: see LICENSE. */
/*
 * Tests of the worker life cycle (lifecycle.c), the table the supervisor
 * runs: synthetic events drive a few workers whose callbacks write down
 * what they were asked to do, with no fork.  The expected states below
 * are written from the rules of a worker's life (HACKING.md), not read
 * from the table, so that a wrong entry of the table fails here.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "forkflow.h"
#include "lifecycle.h"
#include "check_forkflow.h"

#define NW	3

/* A worker as the suite sees it: what the table asked of it. */
struct fake {
	struct life		 life;
	char			 did[256];	/* "spawn start ..." */
	enum life_spawned	 spawn_result;	/* what spawn answers */
	int			 progressed;
	double			 last_delay;
	unsigned int		 spawns;
};

static struct fake	 fakes[NW];
static struct life_set	 set;
static unsigned int	 idles;

static void
did(struct life *l, const char *what)
{
	struct fake	*f = l->arg;
	size_t		 n = strlen(f->did);

	snprintf(f->did + n, sizeof f->did - n, "%s%s", n > 0 ? " " : "",
	    what);
}

static enum life_spawned
fk_spawn(struct life *l)
{
	struct fake	*f = l->arg;

	did(l, "spawn");
	f->spawns++;
	return (f->spawn_result);
}

static void
fk_start(struct life *l)
{
	did(l, "start");
}

static void
fk_finish(struct life *l)
{
	did(l, "finish");
}

static void
fk_terminate(struct life *l)
{
	did(l, "terminate");
}

static void
fk_backoff(struct life *l, double delay)
{
	struct fake	*f = l->arg;

	f->last_delay = delay;
	did(l, "backoff");
}

static void
fk_cancel(struct life *l)
{
	did(l, "cancel");
}

static void
fk_give_up(struct life *l)
{
	did(l, "give-up");
}

static void
fk_permanent(struct life *l)
{
	did(l, "permanent");
}

static int
fk_progressed(struct life *l)
{
	struct fake	*f = l->arg;

	return (f->progressed);
}

static void
fk_idle(struct life *l)
{
	idles++;
}

static const struct life_ops fake_ops = {
	.spawn = fk_spawn,
	.start = fk_start,
	.finish = fk_finish,
	.terminate = fk_terminate,
	.backoff = fk_backoff,
	.cancel = fk_cancel,
	.give_up = fk_give_up,
	.permanent = fk_permanent,
	.progressed = fk_progressed,
	.idle = fk_idle,
};

static void
setup(void)
{
	unsigned int	i;

	memset(&set, 0, sizeof set);
	set.ops = &fake_ops;
	set.max_attempts = 4;
	idles = 0;
	memset(fakes, 0, sizeof fakes);
	for (i = 0; i < NW; i++) {
		life_init(&fakes[i].life, &set, &fakes[i]);
		fakes[i].spawn_result = LSP_STAGE;
	}
}

/* Fire an event at worker i and forget what was done before. */
static void
fire(unsigned int i, enum life_event e)
{
	fakes[i].did[0] = '\0';
	life_event(&fakes[i].life, e);
}

/* The count of live workers must be that of workers in a live state. */
static void
check_live(void)
{
	unsigned int	i, n = 0;

	for (i = 0; i < NW; i++) {
		switch (fakes[i].life.state) {
		case LS_NEW:
		case LS_DONE:
		case LS_FAILED:
			break;
		default:
			n++;
		}
	}
	ck_assert_uint_eq(set.live, n);
}

#define ck_state(i, s) do {						\
	ck_assert_msg(fakes[i].life.state == (s), "worker %u is %s, not %s", \
	    (unsigned int)(i), life_state_name(fakes[i].life.state),	\
	    life_state_name(s));					\
	check_live();							\
} while (0)

#define ck_did(i, s)	ck_assert_str_eq(fakes[i].did, (s))

/* Start every worker. */
static void
start_all(void)
{
	unsigned int	i;

	for (i = 0; i < NW; i++) {
		fire(i, LE_START);
		ck_did(i, "spawn start");
		ck_state(i, LS_RUNNING);
	}
	ck_assert_uint_eq(set.live, NW);
}

START_TEST(test_stages)
{
	unsigned int	i;

	start_all();
	for (i = 0; i < NW; i++) {
		fire(i, LE_COMMITTED);
		ck_did(i, "");
		ck_state(i, LS_WAITING);
	}
	for (i = 0; i < NW; i++) {
		fire(i, LE_NEXT);
		ck_did(i, "start");
		ck_state(i, LS_RUNNING);
		fire(i, LE_COMMITTED);
	}
	for (i = 0; i < NW; i++) {
		fire(i, LE_LAST);
		ck_did(i, "finish");
		ck_state(i, LS_FINISHING);
	}
	for (i = 0; i < NW; i++) {
		ck_assert_uint_eq(idles, 0);
		fire(i, LE_EXIT_OK);
		ck_state(i, LS_DONE);
	}
	ck_assert_uint_eq(idles, 1);
}
END_TEST

/* A crash in each state where one can happen. */
START_TEST(test_crash_each_state)
{
	start_all();

	/* Running: backs off at once, then is forked again. */
	fire(0, LE_CRASH);
	ck_did(0, "backoff");
	ck_state(0, LS_BACKOFF);
	ck_assert(fakes[0].last_delay == 0);
	fire(0, LE_TIMER);
	ck_did(0, "spawn start");
	ck_state(0, LS_RUNNING);

	/* Waiting at the barrier: forked again, it waits again. */
	fire(1, LE_COMMITTED);
	fire(1, LE_CRASH);
	ck_did(1, "backoff");
	ck_state(1, LS_BACKOFF);
	fakes[1].spawn_result = LSP_COMMITTED;
	fire(1, LE_TIMER);
	ck_did(1, "spawn");
	ck_state(1, LS_WAITING);

	/* Finishing: told to exit, however it ends it is done. */
	fire(2, LE_COMMITTED);
	fire(2, LE_LAST);
	fire(2, LE_CRASH);
	ck_did(2, "");
	ck_state(2, LS_DONE);

	/* Failing: not restarted. */
	fire(0, LE_FAIL);
	ck_did(0, "");
	ck_state(0, LS_FAILING);
	fire(0, LE_CRASH);
	ck_did(0, "");
	ck_state(0, LS_FAILED);

	/* Done and failed: nothing more happens. */
	fire(0, LE_CRASH);
	ck_did(0, "");
	ck_state(0, LS_FAILED);
	fire(2, LE_TIMER);
	ck_did(2, "");
	ck_state(2, LS_DONE);
}
END_TEST

/* A worker must not leave before it is told to. */
START_TEST(test_exit_untold)
{
	start_all();
	fire(0, LE_EXIT_OK);
	ck_did(0, "backoff");
	ck_state(0, LS_BACKOFF);
	fire(1, LE_COMMITTED);
	fire(1, LE_EXIT_OK);
	ck_did(1, "backoff");
	ck_state(1, LS_BACKOFF);
	/* One that runs while the job fails may end. */
	fire(2, LE_FAIL);
	fire(2, LE_EXIT_OK);
	ck_did(2, "");
	ck_state(2, LS_DONE);
}
END_TEST

/* An exit seen during backoff (it cannot be) changes nothing. */
START_TEST(test_exit_during_backoff)
{
	enum life_event	e;

	start_all();
	fire(0, LE_CRASH);
	for (e = LE_START; e < LE_NEVENTS; e++) {
		if (e == LE_TIMER || e == LE_LAST || e == LE_FAIL ||
		    e == LE_STOP)
			continue;
		fire(0, e);
		ck_did(0, "");
		ck_state(0, LS_BACKOFF);
	}
	ck_assert_uint_eq(fakes[0].spawns, 1);
}
END_TEST

/* Failures in a row: backoff doubles, progress resets, max gives up. */
START_TEST(test_give_up)
{
	static const double	 delays[] = { 0, 1, 2 };
	unsigned int		 n;

	start_all();
	for (n = 0; n < 3; n++) {
		fire(0, LE_CRASH);
		ck_did(0, "backoff");
		ck_assert_uint_eq(fakes[0].life.failures, n + 1);
		ck_assert(fakes[0].last_delay == delays[n]);
		fire(0, LE_TIMER);
	}
	/* It made progress since its last fork: a new count. */
	fakes[0].progressed = 1;
	fire(0, LE_CRASH);
	ck_assert_uint_eq(fakes[0].life.failures, 1);
	fakes[0].progressed = 0;
	fire(0, LE_TIMER);
	/* A kill of --chaos is no failure. */
	fakes[0].life.chaos = 1;
	fire(0, LE_CRASH);
	ck_assert_uint_eq(fakes[0].life.failures, 1);
	ck_assert(fakes[0].last_delay == 0);
	fire(0, LE_TIMER);
	ck_assert_int_eq(fakes[0].life.chaos, 0);
	/* Committing a stage is progress too. */
	fire(0, LE_CRASH);
	fire(0, LE_TIMER);
	ck_assert_uint_eq(fakes[0].life.failures, 2);
	fire(0, LE_COMMITTED);
	ck_assert_uint_eq(fakes[0].life.failures, 0);
	fire(0, LE_NEXT);
	for (n = 1; n < set.max_attempts; n++) {
		fire(0, LE_CRASH);
		fire(0, LE_TIMER);
	}
	fire(0, LE_CRASH);
	ck_did(0, "give-up");
	ck_state(0, LS_FAILED);
}
END_TEST

START_TEST(test_delays)
{
	ck_assert(life_delay(1, 0) == 0);
	ck_assert(life_delay(2, 0) == 1);
	ck_assert(life_delay(3, 0) == 2);
	ck_assert(life_delay(6, 0) == 16);
	ck_assert(life_delay(7, 0) == 30);
	ck_assert(life_delay(100, 0) == 30);
	ck_assert(life_delay(5, 1) == 0);
}
END_TEST

/* The job fails: running ones go on, waiting ones go, backoff waits. */
START_TEST(test_fail)
{
	start_all();
	fire(1, LE_COMMITTED);
	fire(2, LE_CRASH);
	fire(0, LE_FAIL);
	ck_did(0, "");
	ck_state(0, LS_FAILING);
	fire(1, LE_FAIL);
	ck_did(1, "finish");
	ck_state(1, LS_FINISHING);
	fire(2, LE_FAIL);
	ck_did(2, "");
	ck_state(2, LS_BACKOFF_FAILING);
	/* Forked once more to finish its stage, never again. */
	fire(2, LE_TIMER);
	ck_did(2, "spawn start");
	ck_state(2, LS_FAILING);
	fire(2, LE_CRASH);
	ck_did(2, "");
	ck_state(2, LS_FAILED);
	/* One that finishes its stage while the job fails may go. */
	fire(0, LE_COMMITTED);
	ck_did(0, "finish");
	ck_state(0, LS_FINISHING);
	fire(0, LE_EXIT_OK);
	fire(1, LE_EXIT_OK);
	ck_state(0, LS_DONE);
	ck_state(1, LS_DONE);
	ck_assert_uint_eq(idles, 1);
}
END_TEST

/* The job fails now: every worker stops, each in its way. */
START_TEST(test_stop)
{
	start_all();
	fire(1, LE_COMMITTED);
	fire(2, LE_CRASH);
	fire(0, LE_STOP);
	ck_did(0, "terminate");
	ck_state(0, LS_FAILING);
	fire(1, LE_STOP);
	ck_did(1, "finish");
	ck_state(1, LS_FINISHING);
	fire(2, LE_STOP);
	ck_did(2, "cancel");
	ck_state(2, LS_FAILED);
	/* A second stop signals again; the ones gone see nothing. */
	fire(0, LE_STOP);
	ck_did(0, "terminate");
	fire(2, LE_STOP);
	ck_did(2, "");
	/* Killed by the SIGTERM: gone, not restarted. */
	fire(0, LE_CRASH);
	ck_did(0, "");
	ck_state(0, LS_FAILED);
	ck_assert_uint_eq(idles, 0);
	fire(1, LE_CRASH);	/* a kill during finishing */
	ck_state(1, LS_DONE);
	ck_assert_uint_eq(idles, 1);
}
END_TEST

/* A backoff stopped while the job fails: no fork, the loop may end. */
START_TEST(test_stop_backoff_failing)
{
	fire(0, LE_START);
	fire(0, LE_CRASH);
	fire(0, LE_FAIL);
	ck_state(0, LS_BACKOFF_FAILING);
	fire(0, LE_STOP);
	ck_did(0, "cancel");
	ck_state(0, LS_FAILED);
	ck_assert_uint_eq(idles, 1);
	fire(0, LE_TIMER);
	ck_did(0, "");
}
END_TEST

/* Every stage committed while one is in backoff: it is not forked. */
START_TEST(test_last_during_backoff)
{
	start_all();
	fire(0, LE_COMMITTED);
	fire(0, LE_CRASH);
	fire(0, LE_LAST);
	ck_did(0, "cancel");
	ck_state(0, LS_DONE);
	fire(0, LE_TIMER);
	ck_did(0, "");
	ck_assert_uint_eq(fakes[0].spawns, 1);
}
END_TEST

/* A fork that fails is a crash at once; one forked again while the job
 * fails, that had committed, goes at once. */
START_TEST(test_spawn_results)
{
	fakes[0].spawn_result = LSP_FAILED;
	fire(0, LE_START);
	ck_did(0, "spawn backoff");
	ck_state(0, LS_BACKOFF);
	ck_assert_uint_eq(fakes[0].life.failures, 1);
	fakes[0].spawn_result = LSP_COMMITTED;
	fire(0, LE_FAIL);
	fire(0, LE_TIMER);
	ck_did(0, "spawn finish");
	ck_state(0, LS_FINISHING);
}
END_TEST

START_TEST(test_permanent)
{
	start_all();
	fire(0, LE_EXIT_PERMANENT);
	ck_did(0, "permanent");
	ck_state(0, LS_FAILED);
	fire(1, LE_FAIL);
	fire(1, LE_EXIT_PERMANENT);
	ck_did(1, "permanent");
	ck_state(1, LS_FAILED);
	fire(2, LE_COMMITTED);
	fire(2, LE_LAST);
	fire(2, LE_EXIT_PERMANENT);
	ck_did(2, "");
	ck_state(2, LS_DONE);
}
END_TEST

/*
 * Every state by every event: the state it leads to, as the rules say.
 * The spawn callback answers "run the stage"; no progress; failures are
 * far from the limit.
 */
START_TEST(test_every_pair)
{
	static const enum life_state	 next[LS_NSTATES][LE_NEVENTS] = {
		/* start, committed, next, last, fail, stop, exit ok, crash,
		 * permanent, timer */
		[LS_NEW] = { LS_RUNNING, LS_NEW, LS_NEW, LS_DONE, LS_FAILED,
		    LS_FAILED, LS_NEW, LS_NEW, LS_NEW, LS_NEW },
		[LS_RUNNING] = { LS_RUNNING, LS_WAITING, LS_RUNNING,
		    LS_FINISHING, LS_FAILING, LS_FAILING, LS_BACKOFF,
		    LS_BACKOFF, LS_FAILED, LS_RUNNING },
		[LS_WAITING] = { LS_WAITING, LS_WAITING, LS_RUNNING,
		    LS_FINISHING, LS_FINISHING, LS_FINISHING, LS_BACKOFF,
		    LS_BACKOFF, LS_FAILED, LS_WAITING },
		[LS_BACKOFF] = { LS_BACKOFF, LS_BACKOFF, LS_BACKOFF, LS_DONE,
		    LS_BACKOFF_FAILING, LS_FAILED, LS_BACKOFF, LS_BACKOFF,
		    LS_BACKOFF, LS_RUNNING },
		[LS_BACKOFF_FAILING] = { LS_BACKOFF_FAILING,
		    LS_BACKOFF_FAILING, LS_BACKOFF_FAILING, LS_DONE,
		    LS_BACKOFF_FAILING, LS_FAILED, LS_BACKOFF_FAILING,
		    LS_BACKOFF_FAILING, LS_BACKOFF_FAILING, LS_FAILING },
		[LS_FAILING] = { LS_FAILING, LS_FINISHING, LS_FAILING,
		    LS_FINISHING, LS_FAILING, LS_FAILING, LS_DONE, LS_FAILED,
		    LS_FAILED, LS_FAILING },
		[LS_FINISHING] = { LS_FINISHING, LS_FINISHING, LS_FINISHING,
		    LS_FINISHING, LS_FINISHING, LS_FINISHING, LS_DONE, LS_DONE,
		    LS_DONE, LS_FINISHING },
		[LS_DONE] = { LS_DONE, LS_DONE, LS_DONE, LS_DONE, LS_DONE,
		    LS_DONE, LS_DONE, LS_DONE, LS_DONE, LS_DONE },
		[LS_FAILED] = { LS_FAILED, LS_FAILED, LS_FAILED, LS_FAILED,
		    LS_FAILED, LS_FAILED, LS_FAILED, LS_FAILED, LS_FAILED,
		    LS_FAILED },
	};
	enum life_state	s;
	enum life_event	e;

	for (s = LS_NEW; s < LS_NSTATES; s++) {
		for (e = LE_START; e < LE_NEVENTS; e++) {
			setup();
			fakes[0].life.state = s;
			set.live = life_live(s);
			life_event(&fakes[0].life, e);
			ck_assert_msg(fakes[0].life.state == next[s][e],
			    "%s + %s: %s, not %s", life_state_name(s),
			    life_event_name(e),
			    life_state_name(fakes[0].life.state),
			    life_state_name(next[s][e]));
			ck_assert_uint_eq(set.live,
			    life_live(fakes[0].life.state));
			ck_assert_uint_eq(idles, life_live(s) &&
			    !life_live(fakes[0].life.state));
		}
	}
}
END_TEST

Suite *
supervisor_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("supervisor");
	tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_stages);
	tcase_add_test(tc, test_crash_each_state);
	tcase_add_test(tc, test_exit_untold);
	tcase_add_test(tc, test_exit_during_backoff);
	tcase_add_test(tc, test_give_up);
	tcase_add_test(tc, test_delays);
	tcase_add_test(tc, test_fail);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_stop_backoff_failing);
	tcase_add_test(tc, test_last_during_backoff);
	tcase_add_test(tc, test_spawn_results);
	tcase_add_test(tc, test_permanent);
	tcase_add_test(tc, test_every_pair);
	suite_add_tcase(s, tc);
	return (s);
}
