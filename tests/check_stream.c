/* forkflow: see LICENSE. */
/*
 * Tests of stream.c, the user's commands: records go to a command as
 * key<TAB>value lines and each line it writes comes back as a record
 * (split at its first tab, a carriage return and a last newline dropped),
 * both ways at once however much flows; a command that fails is named with
 * how it ended and its last lines of standard error; its reporter: lines
 * are counters; and the slots of its process group are taken, shared when
 * they run out, and freed, with what it leaves in its group killed.
 *
 * What a command should write is worked out here in C from the records
 * given to it, never by stream.c.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "forkflow.h"
#include "check_forkflow.h"

static void	st_setup(void);
static void	st_op(struct op *, enum op_kind, const char *);
static void	st_cat(struct op *);
static void	st_collect(void *, const char *, size_t, const char *, size_t);
static void	st_strs(struct recbuf *);
static int	st_run(struct stream *, const struct op *,
		    struct stream_groups *, const struct recbuf *, int,
		    struct recbuf *, char **);
static void	st_ints(struct recbuf *, size_t);
static void	st_want_ints(struct recbuf *, const struct recbuf *, int);
static void	check_cmd(const struct op *, const struct recbuf *, int,
		    const struct recbuf *, const char *);
static char	st_state(pid_t);
static int	st_gone(pid_t);
static void	check_fail(enum op_kind, int, const char *, const char *);

/*
 * A command's early exit must be an EPIPE, not the test's death; what is
 * logged is kept, to be looked at.
 */
static void
st_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	ck_log_capture();
}

/*
 * A streaming operator of the given kind running cmd with /bin/sh -c, or
 * with cmd NULL, the argv its caller gives it.
 */
static void
st_op(struct op *op, enum op_kind kind, const char *cmd)
{
	memset(op, 0, sizeof *op);
	op->kind = kind;
	op->command = (char *)cmd;
}

/*
 * A mapper that is cat itself, with no shell between that could leave it
 * behind when killed, a zombie in its group until init reaps it.
 */
static void
st_cat(struct op *op)
{
	static char	*argv[] = { (char *)"cat", NULL };

	st_op(op, OP_MAPPER, NULL);
	op->argv = argv;
}

/* A command's output line, as a record of two strings. */
static void
st_collect(void *arg, const char *k, size_t klen, const char *v,
    size_t vlen)
{
	ck_recs_add_str(arg, k, klen, v, vlen);
}

/* An empty buffer of string records. */
static void
st_strs(struct recbuf *rb)
{
	memset(rb, 0, sizeof *rb);
	rb->kt = rb->vt = VT_STR;
}

/*
 * Start op in s with the slots of g, give it the records in, a batch at a
 * time (only their values with value_only), and take what it writes into
 * got.  Returns what stream_finish returns, *why with it.
 */
static int
st_run(struct stream *s, const struct op *op, struct stream_groups *g,
    const struct recbuf *in, int value_only, struct recbuf *got, char **why)
{
	struct stream_out	 out = { st_collect, got };
	struct batch		*b;
	size_t			 i;

	ck_assert_int_eq(stream_start(s, op, g), 0);
	b = batch_new();
	for (i = 0; i < in->n; i++) {
		b->k[b->n] = in->r[i].k;
		b->v[b->n] = in->r[i].v;
		if (++b->n == BATCH_MAX || i + 1 == in->n) {
			(void)stream_feed(s, b, in->kt, in->vt, value_only,
			    &out);
			batch_init(b);
		}
	}
	batch_free(b);
	return (stream_finish(s, &out, why));
}

/* n integer records, with negative, extreme and repeated keys. */
static void
st_ints(struct recbuf *rb, size_t n)
{
	size_t	i;

	memset(rb, 0, sizeof *rb);
	rb->kt = rb->vt = VT_INT;
	for (i = 0; i < n; i++)
		recbuf_add(rb, (int64_t)(i % 97) * 7919 - 300000, i % 5 == 0 ?
		    INT64_MIN + (int64_t)i : (int64_t)(i * i));
}

/* The lines of integer records in, as strings; swapped with swap. */
static void
st_want_ints(struct recbuf *want, const struct recbuf *in, int swap)
{
	char	k[32], v[32];
	size_t	i;

	st_strs(want);
	for (i = 0; i < in->n; i++) {
		snprintf(k, sizeof k, "%lld", (long long)in->r[i].k);
		snprintf(v, sizeof v, "%lld", (long long)in->r[i].v);
		if (swap)
			ck_recs_add_str(want, v, strlen(v), k, strlen(k));
		else
			ck_recs_add_str(want, k, strlen(k), v, strlen(v));
	}
}

/* The state letter of a process in /proc, or 0 if it has none. */
static char
st_state(pid_t pid)
{
	char	 path[64], buf[512], *p;
	FILE	*f;
	size_t	 n;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (0);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] == '\0')
		return (0);
	return (p[2]);
}

/* Wait up to 5 s for a process to die (gone, or a zombie). */
static int
st_gone(pid_t pid)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };
	int		i;
	char		c;

	for (i = 0; i < 500; i++) {
		if ((c = st_state(pid)) == 0 || c == 'Z' || c == 'X')
			return (1);
		nanosleep(&ts, NULL);
	}
	return (0);
}

/*
 * Run op over the records in (only their values with value_only), and
 * expect it to succeed and write want; what names the case.
 */
static void
check_cmd(const struct op *op, const struct recbuf *in, int value_only,
    const struct recbuf *want, const char *what)
{
	struct stream	 s;
	struct recbuf	 got;
	char		*why = NULL;

	st_strs(&got);
	ck_assert_int_eq(st_run(&s, op, NULL, in, value_only, &got, &why), 0);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(s.running, 0);
	ck_recs_eq(&got, want, what);
	recbuf_free(&got);
}

/* Integers go out as text and come back, in order, as cat writes them. */
START_TEST(test_stream_cat)
{
	struct op	 op;
	struct recbuf	 in, want;
	size_t		 i;

	st_cat(&op);
	st_ints(&in, 3000);
	st_want_ints(&want, &in, 0);
	check_cmd(&op, &in, 0, &want, "cat");

	/* With the values alone, each line is all key. */
	recbuf_free(&want);
	st_want_ints(&want, &in, 1);
	for (i = 0; i < want.n; i++)
		want.r[i].v = str_make(&want.a, "", 0);
	check_cmd(&op, &in, 1, &want, "cat, values alone");
	recbuf_free(&in);
	recbuf_free(&want);
}
END_TEST

/* A command's lines are split at their first tab, as awk sees them. */
START_TEST(test_stream_awk)
{
	struct op	 op;
	struct recbuf	 in, want;

	st_op(&op, OP_REDUCER, "awk -F'\\t' '{ print $2 \"\\t\" $1 }'");
	st_ints(&in, 2500);
	st_want_ints(&want, &in, 1);
	check_cmd(&op, &in, 0, &want, "awk");
	recbuf_free(&in);
	recbuf_free(&want);
}
END_TEST

/*
 * Lines without a tab, with more than one, with a carriage return, empty,
 * and a last one without its newline.
 */
START_TEST(test_stream_lines)
{
	static const char *const lines[][2] = {
		{ "alone", "" }, { "a", "b\tc" }, { "", "lead" },
		{ "cr", "x" }, { "", "" }, { "trail", "" }, { "last", "line" },
	};
	struct op	 op;
	struct recbuf	 in, want;
	size_t		 i;

	st_op(&op, OP_MAPPER, "cat >/dev/null; printf 'alone\\na\\tb\\tc\\n"
	    "\\tlead\\ncr\\tx\\r\\n\\ntrail\\t\\nlast\\tline'");
	st_ints(&in, 10);
	st_strs(&want);
	for (i = 0; i < sizeof lines / sizeof lines[0]; i++)
		ck_recs_add_str(&want, lines[i][0], strlen(lines[i][0]),
		    lines[i][1], strlen(lines[i][1]));
	check_cmd(&op, &in, 0, &want, "lines");

	/* Strings go out as they are, tabs and all. */
	st_op(&op, OP_MAPPER, "cat");
	check_cmd(&op, &want, 0, &want, "strings through cat");
	recbuf_free(&in);
	recbuf_free(&want);
}
END_TEST

/*
 * Much more than a pipe holds, both ways at once (cat), and all of it
 * before a line comes back (tac): neither side waits on the other.
 */
START_TEST(test_stream_volume)
{
	struct op	 op;
	struct recbuf	 in, want;
	struct pair	 t;
	size_t		 i;

	st_ints(&in, 150 * BATCH_MAX + 3);
	st_want_ints(&want, &in, 0);
	st_op(&op, OP_MAPPER, "cat");
	check_cmd(&op, &in, 0, &want, "cat");

	for (i = 0; i < want.n / 2; i++) {
		t = want.r[i];
		want.r[i] = want.r[want.n - 1 - i];
		want.r[want.n - 1 - i] = t;
	}
	st_op(&op, OP_MAPPER, "tac");
	check_cmd(&op, &in, 0, &want, "tac");
	recbuf_free(&in);
	recbuf_free(&want);
}
END_TEST

/* Run cmd as an operator of kind (a combiner with comb); expect why. */
static void
check_fail(enum op_kind kind, int comb, const char *cmd, const char *want)
{
	struct stream	 s;
	struct op	 op;
	struct recbuf	 in, got;
	char		*why = NULL;

	st_op(&op, kind, cmd);
	op.is_combiner = comb;
	st_ints(&in, 2 * BATCH_MAX);
	st_strs(&got);
	ck_assert_int_eq(st_run(&s, &op, NULL, &in, 0, &got, &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, want);
	ck_assert_int_eq(s.running, 0);
	free(why);
	recbuf_free(&in);
	recbuf_free(&got);
}

/* A command that fails is named with how it ended and its last words. */
START_TEST(test_stream_fail)
{
	struct stream	 s;
	struct op	 op;
	struct recbuf	 in, got, want;
	char		*why = NULL, *msg;
	char		 tail[256] = "";
	int		 i;

	check_fail(OP_MAPPER, 0, "cat >/dev/null; echo one >&2; "
	    "echo 'two, three' >&2; exit 3", "mapper exited with status 3; "
	    "its last standard error: one | two, three");
	check_fail(OP_REDUCER, 0, "exit 7", "reducer exited with status 7; "
	    "its last standard error: (none)");
	check_fail(OP_REDUCER, 1, "echo x >&2; kill -9 $$", "combiner killed "
	    "by signal 9; its last standard error: x");
	/* Only the last ten lines are kept. */
	for (i = 6; i <= 15; i++)
		snprintf(tail + strlen(tail), sizeof tail - strlen(tail),
		    "%se%d", i > 6 ? " | " : "", i);
	xasprintf(&msg, "mapper exited with status 1; its last standard "
	    "error: %s", tail);
	check_fail(OP_MAPPER, 0, "i=1; while [ $i -le 15 ]; do echo e$i >&2; "
	    "i=$((i + 1)); done; exit 1", msg);
	free(msg);

	/* A command that cannot run says so, as exit 127. */
	st_op(&op, OP_MAPPER, NULL);
	op.argv = (char *[]){ (char *)"/nonexistent/cmd", NULL };
	xasprintf(&msg, "mapper exited with status 127; its last standard "
	    "error: cannot run /nonexistent/cmd: %s", strerror(ENOENT));
	st_ints(&in, 5);
	st_strs(&got);
	ck_assert_int_eq(st_run(&s, &op, NULL, &in, 0, &got, &why), -1);
	ck_assert_str_eq(why, msg);
	free(msg);
	free(why);
	why = NULL;

	/* What a failing command wrote before it failed still comes out. */
	recbuf_free(&got);
	st_op(&op, OP_MAPPER, "cat; exit 4");
	st_want_ints(&want, &in, 0);
	st_strs(&got);
	ck_assert_int_eq(st_run(&s, &op, NULL, &in, 0, &got, &why), -1);
	ck_assert_str_eq(why, "mapper exited with status 4; its last "
	    "standard error: (none)");
	ck_recs_eq(&got, &want, "cat; exit 4");
	free(why);
	recbuf_free(&in);
	recbuf_free(&got);
	recbuf_free(&want);
}
END_TEST

/* reporter:counter: lines add to the counters, except the worker's own. */
START_TEST(test_stream_counters)
{
	struct stream	 s;
	struct op	 op;
	struct recbuf	 in, got;
	char		*why = NULL;

	counters_clear();
	log_setverbose(1);
	st_op(&op, OP_MAPPER, "cat >/dev/null; "
	    "echo 'reporter:counter:grp,name,5' >&2; "
	    "echo 'reporter:counter:grp,name,-2' >&2; "
	    "echo 'reporter:counter:other,x,40' >&2; "
	    "echo 'reporter:status:half way' >&2; "
	    "printf 'reporter:counter:\\001op 0,9\\n' >&2; "
	    "echo 'reporter:counter:nocomma' >&2");
	st_ints(&in, 100);
	st_strs(&got);
	ck_assert_int_eq(st_run(&s, &op, NULL, &in, 0, &got, &why), 0);
	ck_assert_uint_eq(got.n, 0);
	ck_assert_uint_eq(s.counters, 3);
	ck_assert_int_eq(counters_get("grp,name"), 3);
	ck_assert_int_eq(counters_get("other,x"), 40);
	ck_assert_int_eq(counters_get(COUNTER_OWN "op 0"), 0);
	/* A status is told; the lines that are no counter are passed on. */
	ck_assert_str_eq(ck_log(), "forkflow: status: half way\n"
	    "forkflow: mapper: reporter:counter:\001op 0,9\n"
	    "forkflow: mapper: reporter:counter:nocomma\n");
	recbuf_free(&in);
	recbuf_free(&got);
}
END_TEST

/* Commands take free slots, each its own group, and free them at exit. */
START_TEST(test_stream_groups)
{
	int32_t			 slots[STATUS_GROUPS];
	struct stream_groups	 g;
	struct stream		 s[4];
	struct stream_out	 out = { st_collect, NULL };
	struct op		 op;
	struct recbuf		 got;
	char			*why = NULL;
	int			 i;

	memset(slots, 0, sizeof slots);
	memset(&g, 0, sizeof g);
	g.pgid = slots;
	st_cat(&op);
	st_strs(&got);
	out.ctx = &got;
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(stream_start(&s[i], &op, &g), 0);
		ck_assert_int_eq(s[i].slot, i);
		ck_assert_int_eq(s[i].pgid, s[i].pid);
		ck_assert_int_eq(getpgid(s[i].pid), s[i].pid);
		ck_assert_int_eq(slots[i], s[i].pid);
		ck_assert_uint_eq(g.members[i], 1);
	}
	ck_assert_int_eq(slots[3], 0);

	/* The slot of the one that ends is free, and taken next. */
	ck_assert_int_eq(stream_finish(&s[1], &out, &why), 0);
	ck_assert_int_eq(slots[1], 0);
	ck_assert_uint_eq(g.members[1], 0);
	ck_assert_int_eq(slots[0], s[0].pid);
	ck_assert_int_eq(slots[2], s[2].pid);
	ck_assert_int_eq(stream_start(&s[3], &op, &g), 0);
	ck_assert_int_eq(s[3].slot, 1);
	ck_assert_int_eq(slots[1], s[3].pid);

	ck_assert_int_eq(stream_finish(&s[0], &out, &why), 0);
	ck_assert_int_eq(stream_finish(&s[2], &out, &why), 0);
	ck_assert_int_eq(stream_finish(&s[3], &out, &why), 0);
	for (i = 0; i < STATUS_GROUPS; i++) {
		ck_assert_int_eq(slots[i], 0);
		ck_assert_uint_eq(g.members[i], 0);
	}
	ck_assert_uint_eq(got.n, 0);
	recbuf_free(&got);
}
END_TEST

/*
 * With every slot taken, more commands share the last group, which lives
 * on, with what they left in it, until the last of them ends.
 */
START_TEST(test_stream_groups_full)
{
	int32_t			 slots[STATUS_GROUPS];
	struct stream_groups	 g;
	struct stream		 s[STATUS_GROUPS + 1], left;
	struct stream_out	 out = { st_collect, NULL };
	struct op		 op, bg;
	struct recbuf		 got;
	char			*why = NULL;
	pid_t			 sleeper;
	int			 i, last = STATUS_GROUPS - 1;

	memset(slots, 0, sizeof slots);
	memset(&g, 0, sizeof g);
	g.pgid = slots;
	st_cat(&op);
	st_op(&bg, OP_MAPPER, "sleep 60 >/dev/null 2>&1 & echo $!");
	st_strs(&got);
	out.ctx = &got;
	for (i = 0; i <= STATUS_GROUPS; i++)
		ck_assert_int_eq(stream_start(&s[i], &op, &g), 0);
	ck_assert_int_eq(s[STATUS_GROUPS].slot, last);
	ck_assert_int_eq(s[STATUS_GROUPS].pgid, s[last].pid);
	ck_assert_int_eq(getpgid(s[STATUS_GROUPS].pid), s[last].pid);
	ck_assert_uint_eq(g.members[last], 2);

	/* One more leaves a process behind in the shared group. */
	ck_assert_int_eq(stream_start(&left, &bg, &g), 0);
	ck_assert_int_eq(left.pgid, s[last].pid);
	ck_assert_uint_eq(g.members[last], 3);
	ck_assert_int_eq(stream_finish(&left, &out, &why), 0);
	ck_assert_uint_eq(got.n, 1);
	sleeper = (pid_t)strtol(str_of(got.r[0].k)->s, NULL, 10);
	ck_assert_int_gt(sleeper, 1);
	ck_assert_int_eq(getpgid(sleeper), s[last].pid);
	ck_assert_uint_eq(g.members[last], 2);
	ck_assert_int_eq(slots[last], s[last].pid);

	/* The group's leader ends; the group, and the sleeper, live on. */
	ck_assert_int_eq(stream_finish(&s[last], &out, &why), 0);
	ck_assert_uint_eq(g.members[last], 1);
	ck_assert_int_eq(slots[last], s[last].pid);
	ck_assert_int_eq(kill(sleeper, 0), 0);
	ck_assert(st_state(sleeper) != 'Z');

	/* The last of the group ends: the sleeper is killed. */
	ck_assert_int_eq(stream_finish(&s[STATUS_GROUPS], &out, &why), 0);
	ck_assert_uint_eq(g.members[last], 0);
	ck_assert_int_eq(slots[last], 0);
	ck_assert_msg(st_gone(sleeper), "process %ld outlived its group",
	    (long)sleeper);
	for (i = 0; i < last; i++)
		ck_assert_int_eq(stream_finish(&s[i], &out, &why), 0);
	for (i = 0; i < STATUS_GROUPS; i++) {
		ck_assert_int_eq(slots[i], 0);
		ck_assert_uint_eq(g.members[i], 0);
	}
	recbuf_free(&got);
}
END_TEST

/* Without slots a command has a group of its own, killed as it ends. */
START_TEST(test_stream_group_own)
{
	struct stream	 s;
	struct op	 op;
	struct recbuf	 in, got;
	char		*why = NULL;
	pid_t		 sleeper;

	st_op(&op, OP_MAPPER, "sleep 60 >/dev/null 2>&1 & echo $!");
	st_ints(&in, 3);
	st_strs(&got);
	ck_assert_int_eq(st_run(&s, &op, NULL, &in, 0, &got, &why), 0);
	ck_assert_int_eq(s.slot, -1);
	ck_assert_int_eq(s.pgid, s.pid);
	ck_assert_uint_eq(got.n, 1);
	sleeper = (pid_t)strtol(str_of(got.r[0].k)->s, NULL, 10);
	ck_assert_int_gt(sleeper, 1);
	ck_assert_msg(st_gone(sleeper), "process %ld outlived its group",
	    (long)sleeper);
	recbuf_free(&in);
	recbuf_free(&got);
}
END_TEST

/* The groups a status page names are killed, and its slots emptied. */
START_TEST(test_stream_kill_groups)
{
	int32_t			 slots[STATUS_GROUPS];
	struct stream_groups	 g;
	struct stream		 s[3];
	struct op		 op;
	pid_t			 pid;
	int			 i, status;

	memset(slots, 0, sizeof slots);
	memset(&g, 0, sizeof g);
	g.pgid = slots;
	st_cat(&op);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(stream_start(&s[i], &op, &g), 0);
	ck_assert_int_eq(stream_kill_groups(slots, 0), 3);
	ck_assert_int_eq(slots[0], s[0].pid);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(waitpid(s[i].pid, &status, 0), s[i].pid);
		ck_assert(WIFSIGNALED(status));
		ck_assert_int_eq(WTERMSIG(status), SIGKILL);
		close(s[i].in);
		close(s[i].out);
		close(s[i].err);
	}
	ck_assert_int_eq(stream_kill_groups(slots, 1), 0);
	for (i = 0; i < STATUS_GROUPS; i++)
		ck_assert_int_eq(slots[i], 0);

	/*
	 * Our own group is left alone: tried in a child leading a group of
	 * its own, so that a mistake kills nothing else.
	 */
	if ((pid = fork()) == 0) {
		(void)setpgid(0, 0);
		slots[2] = (int32_t)getpgrp();
		_exit(stream_kill_groups(slots, 1) == 0 && slots[2] == 0 ?
		    0 : 1);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %d", status);
}
END_TEST

/* A record as text, and their order by key, then value, as C sorts. */
struct st_kv {
	char	k[24];
	char	v[24];
};

static int
st_kv_cmp(const void *a, const void *b)
{
	const struct st_kv	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->k, y->k)) != 0)
		return (c);
	return (strcmp(x->v, y->v));
}

/*
 * A combiner's output replaces the records, as strings sorted by key
 * then value; one that fails leaves them as they were.
 */
START_TEST(test_stream_filter)
{
	int32_t			 slots[STATUS_GROUPS];
	struct stream_groups	 g;
	struct op		 op;
	struct recbuf		 rb, want;
	struct st_kv		*kv;
	char			*why = NULL;
	size_t			 i, n = 3000;

	memset(slots, 0, sizeof slots);
	memset(&g, 0, sizeof g);
	g.pgid = slots;
	memset(&rb, 0, sizeof rb);
	rb.kt = rb.vt = VT_INT;
	kv = xcalloc(n, sizeof *kv);
	for (i = 0; i < n; i++) {
		recbuf_add(&rb, (int64_t)(i / 3), (int64_t)(i % 1000) - 500);
		snprintf(kv[i].k, sizeof kv[i].k, "%zu", i / 3);
		snprintf(kv[i].v, sizeof kv[i].v, "%lld",
		    ((long long)(i % 1000) - 500) * 2);
	}
	qsort(kv, n, sizeof *kv, st_kv_cmp);
	st_strs(&want);
	for (i = 0; i < n; i++)
		ck_recs_add_str(&want, kv[i].k, strlen(kv[i].k), kv[i].v,
		    strlen(kv[i].v));
	free(kv);

	st_op(&op, OP_REDUCER, "awk -F'\\t' '{ print $1 \"\\t\" $2 * 2 }'");
	op.is_combiner = 1;
	ck_assert_int_eq(stream_filter(&op, &g, &rb, &why), 0);
	ck_recs_eq(&rb, &want, "combiner");
	ck_assert_int_eq(slots[0], 0);
	ck_assert_uint_eq(g.members[0], 0);

	st_op(&op, OP_REDUCER, "exit 2");
	op.is_combiner = 1;
	ck_assert_int_eq(stream_filter(&op, &g, &rb, &why), -1);
	ck_assert_str_eq(why, "combiner exited with status 2; its last "
	    "standard error: (none)");
	ck_recs_eq(&rb, &want, "failed combiner");
	ck_assert_int_eq(slots[0], 0);
	free(why);
	recbuf_free(&rb);
	recbuf_free(&want);
}
END_TEST


/*
 * keyfield.c: keys of two tab-separated fields (a word, a number) made for
 * "-k1,1 -k2,2nr" compare, as bytes, as a reference comparator written
 * here says (the word, then the number from the largest down, then the
 * key's bytes); the key as written comes back out; bad options are
 * refused with their reason.
 */
struct kf_key {
	char	 text[64];
	char	*enc;
	size_t	 enclen;
};

static int
kf_ref(const struct kf_key *a, const struct kf_key *b)
{
	const char	*ta = strchr(a->text, '\t'), *tb = strchr(b->text, '\t');
	size_t		 la = (size_t)(ta - a->text), lb = (size_t)(tb - b->text);
	double		 na = strtod(ta + 1, NULL), nb = strtod(tb + 1, NULL);
	int		 c;

	c = memcmp(a->text, b->text, la < lb ? la : lb);
	if (c != 0 || la != lb)
		return (c != 0 ? c : la < lb ? -1 : 1);
	if (na != nb)
		return (na > nb ? -1 : 1);
	return (strcmp(a->text, b->text));
}

static int
kf_enc_cmp(const struct kf_key *a, const struct kf_key *b)
{
	size_t	n = a->enclen < b->enclen ? a->enclen : b->enclen;
	int	c = memcmp(a->enc, b->enc, n);

	if (c != 0)
		return (c);
	return (a->enclen < b->enclen ? -1 : a->enclen > b->enclen);
}

static int
kf_sign(int x)
{
	return ((x > 0) - (x < 0));
}

START_TEST(test_keyfield)
{
	static const char *words[] = { "", "a", "ab", "b", "a\001", "\002" };
	static const char *nums[] = { "0", "-0", "7", "-7", "10", "-10",
	    "7.5", "-7.5", "007", "0.50", ".5", "-.25", "x", "", "1e3" };
	struct keyorder	 ko;
	struct kf_key	 k[300];
	struct buf	 o;
	struct str	*x;
	const char	*raw;
	char		*why;
	size_t		 n = 0, i, j, rawlen;
	int64_t		 enc;

	memset(&ko, 0, sizeof ko);
	ko.sep = "\t";
	ck_assert_int_eq(keyspec_parse("-k1,1 -k2,2nr", &ko.sort, &ko.nsort,
	    &why), 0);
	ck_assert_uint_eq(ko.nsort, 2);
	ck_assert(ko.sort[1].numeric && ko.sort[1].reverse);
	memset(&o, 0, sizeof o);
	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		for (j = 0; j < sizeof nums / sizeof nums[0]; j++) {
			snprintf(k[n].text, sizeof k[n].text, "%s\t%s",
			    words[i], nums[j]);
			x = xmalloc(sizeof *x + strlen(k[n].text));
			x->len = (uint32_t)strlen(k[n].text);
			memcpy(x->s, k[n].text, x->len);
			enc = keyorder_key(&ko, (int64_t)(uintptr_t)x, &o);
			k[n].enclen = str_of(enc)->len;
			k[n].enc = xmalloc(k[n].enclen);
			memcpy(k[n].enc, str_of(enc)->s, k[n].enclen);
			raw = keyorder_raw(k[n].enc, k[n].enclen, &rawlen);
			ck_assert_uint_eq(rawlen, x->len);
			ck_assert(memcmp(raw, x->s, rawlen) == 0);
			free(x);
			n++;
		}
	}
	/* strtod reads "x" and "" as 0 and "1e3" as 1000; the comparator
	 * reads 1e3 as 1: leave out the pairs where they differ. */
	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			if (strstr(k[i].text, "1e3") != NULL ||
			    strstr(k[j].text, "1e3") != NULL)
				continue;
			ck_assert_msg(kf_sign(kf_enc_cmp(&k[i], &k[j])) ==
			    kf_sign(kf_ref(&k[i], &k[j])), "%s vs %s",
			    k[i].text, k[j].text);
		}
	}
	for (i = 0; i < n; i++)
		free(k[i].enc);
	free(o.data);
	free(ko.sort);
	ck_assert_int_eq(keyspec_parse("-k2,1", &ko.sort, &ko.nsort, &why),
	    -1);
	ck_assert_ptr_nonnull(strstr(why, "ends before it starts"));
	free(why);
	ck_assert_int_eq(keyspec_parse("-kx", &ko.sort, &ko.nsort, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "not options like"));
	free(why);
	ck_assert_int_eq(keyspec_parse("-nr", &ko.sort, &ko.nsort, &why), 0);
	ck_assert_uint_eq(ko.nsort, 1);
	ck_assert(ko.sort[0].numeric && ko.sort[0].reverse);
	free(ko.sort);
}
END_TEST

Suite *
stream_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("stream");
	tc = tcase_create("lines");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, st_setup, NULL);
	tcase_add_test(tc, test_stream_cat);
	tcase_add_test(tc, test_stream_awk);
	tcase_add_test(tc, test_stream_lines);
	tcase_add_test(tc, test_stream_volume);
	tcase_add_test(tc, test_stream_fail);
	tcase_add_test(tc, test_stream_counters);
	tcase_add_test(tc, test_stream_filter);
	tcase_add_test(tc, test_keyfield);
	suite_add_tcase(s, tc);

	tc = tcase_create("groups");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, st_setup, NULL);
	tcase_add_test(tc, test_stream_groups);
	tcase_add_test(tc, test_stream_groups_full);
	tcase_add_test(tc, test_stream_group_own);
	tcase_add_test(tc, test_stream_kill_groups);
	suite_add_tcase(s, tc);
	return (s);
}
