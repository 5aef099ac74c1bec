/* forkflow: see LICENSE. */
/*
 * Tests of ops.c, the operators over batches: programs of maps, filters,
 * changeKeys, in-place reduces, flatMaps (WORDS, WORDS_DOC, SPLIT) and
 * streaming mappers, run batch by batch, in batches of many sizes, into a
 * sink that keeps every record; the records that entered each operator; a
 * run-time error and a failed command, with the operator they name; and
 * contexts used side by side, interleaved or one inside another's sink,
 * which must share nothing.
 *
 * What each program should give is worked out here with plain C loops over
 * the same input, never by ops.c or expr.c.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "forkflow.h"
#include "check_forkflow.h"

/* A sink that runs what reaches it through another context. */
struct chain {
	struct ops	*o;
	size_t		 end;
	struct recbuf	*got;
	struct batch	*b;
};

static char	ops_tmpdir[256];

static void	ops_setup(void);
static void	ops_teardown(void);
static void	ops_nopipe(void);
static struct program *load(const char *);
static void	sink_add(void *, struct batch *);
static void	sink_chain(void *, struct batch *);
static int	feed(struct ops *, size_t, size_t, const struct recbuf *,
		    const struct ops_sink *, struct ops_error *);
static void	check_run(const char *, size_t, size_t, const struct recbuf *,
		    const struct recbuf *, const uint64_t *);
static void	recs_init(struct recbuf *, enum vtype, enum vtype);
static void	add_si(struct recbuf *, const char *, size_t, int64_t);
static void	ints(struct recbuf *, size_t, uint64_t);
static void	lines(struct recbuf *, size_t, uint64_t);
static int	letter(char);
static void	want_words(struct recbuf *, const struct recbuf *, int,
		    int64_t);
static void	want_split(struct recbuf *, const char *, size_t,
		    const char *);

static void
ops_setup(void)
{
	ck_tmpdir(ops_tmpdir, sizeof ops_tmpdir, "check_ops");
}

static void
ops_teardown(void)
{
	rm_tree(ops_tmpdir);
}

/*
 * A command's early exit must be an EPIPE, not the test's death; what is
 * logged is kept, to be looked at.
 */
static void
ops_nopipe(void)
{
	signal(SIGPIPE, SIG_IGN);
	ck_log_capture();
}

/* Load a program written in the quoting of ck_program_write. */
static struct program *
load(const char *src)
{
	struct program	*p;
	char		*path, *cause = NULL;
	int		 line, col;

	path = ck_program_write(ops_tmpdir, "ops.json", src, &line, &col);
	p = program_load(path, &cause);
	ck_assert_msg(p != NULL, "%s", cause);
	free(path);
	return (p);
}

/* The sink: keep each record; a batch that reaches it is never empty. */
static void
sink_add(void *arg, struct batch *b)
{
	struct recbuf	*rb = arg;
	size_t		 i;

	ck_assert_uint_gt(b->n, 0);
	ck_assert_uint_le(b->n, BATCH_MAX);
	for (i = 0; i < b->n; i++)
		recbuf_add(rb, b->k[i], b->v[i]);
}

/* Send the keys (strings) of a batch, as keys and values, through c->o. */
static void
sink_chain(void *arg, struct batch *b)
{
	struct chain		*c = arg;
	struct ops_sink		 sink = { sink_add, c->got };
	struct ops_error	 err;
	size_t			 i;

	batch_init(c->b);
	for (i = 0; i < b->n; i++) {
		c->b->k[i] = b->k[i];
		c->b->v[i] = b->k[i];
	}
	c->b->n = b->n;
	memset(&err, 0, sizeof err);
	ck_assert_int_eq(ops_run(c->o, 0, c->end, c->b, &sink, &err), 0);
}

/*
 * Run operators [first, end) of o over the records of in, in batches of
 * sizes from 1 to BATCH_MAX, then finish them, into sink.  Returns what
 * ops_finish returns, with *err.
 */
static int
feed(struct ops *o, size_t first, size_t end, const struct recbuf *in,
    const struct ops_sink *sink, struct ops_error *err)
{
	static const size_t	 sizes[] = { 1, 7, BATCH_MAX, 300,
				    BATCH_MAX - 1, 2, 1000 };
	struct batch		*b;
	int			 r;
	size_t			 i, j, n = 0;

	b = batch_new();
	for (i = 0; i < in->n; i += j) {
		batch_init(b);
		for (j = 0; j < sizes[n % 7] && i + j < in->n; j++) {
			b->k[j] = in->r[i + j].k;
			b->v[j] = in->r[i + j].v;
		}
		b->n = j;
		n++;
		memset(err, 0, sizeof *err);
		ck_assert_int_eq(ops_run(o, first, end, b, sink, err), 0);
	}
	batch_free(b);
	memset(err, 0, sizeof *err);
	r = ops_finish(o, first, end, sink, err);
	return (r);
}

/*
 * Run operators [first, end) of program src over the records of in, and
 * expect the records want from them, and counts[i - first] records to have
 * entered each operator i of the range, none any other.
 */
static void
check_run(const char *src, size_t first, size_t end, const struct recbuf *in,
    const struct recbuf *want, const uint64_t *counts)
{
	struct program		*p;
	struct ops		*o;
	struct recbuf		 got;
	struct ops_sink		 sink = { sink_add, &got };
	struct ops_error	 err;
	size_t			 i;

	p = load(src);
	o = ops_new(p, in->kt, in->vt, NULL);
	recs_init(&got, want->kt, want->vt);
	ck_assert_int_eq(feed(o, first, end, in, &sink, &err), 0);
	ck_recs_eq(&got, want, src);
	for (i = 0; i <= p->nops; i++)
		ck_assert_msg(ops_records(o)[i] == (i >= first && i < end ?
		    counts[i - first] : 0), "%s: %llu records into operator "
		    "%zu", src, (unsigned long long)ops_records(o)[i], i);
	ops_free(o);
	program_free(p);
	recbuf_free(&got);
}

/* An empty buffer of records of types kt and vt. */
static void
recs_init(struct recbuf *rb, enum vtype kt, enum vtype vt)
{
	memset(rb, 0, sizeof *rb);
	rb->kt = kt;
	rb->vt = vt;
}

/* Add a record of a string key and an integer value. */
static void
add_si(struct recbuf *rb, const char *k, size_t klen, int64_t v)
{
	static struct arena	scratch;

	arena_reset(&scratch);
	recbuf_add(rb, str_make(&scratch, k, klen), v);
}

/* n integer records, drawn from seed, far from overflowing when tripled. */
static void
ints(struct recbuf *rb, size_t n, uint64_t seed)
{
	size_t	i;

	recs_init(rb, VT_INT, VT_INT);
	for (i = 0; i < n; i++)
		recbuf_add(rb, (int64_t)(ck_rand(&seed) % 2001) - 1000,
		    (int64_t)(ck_rand(&seed) % 2000001) - 1000000);
}

/*
 * n lines of text input (the key a file name) of words in capitals,
 * digits, punctuation, tabs and UTF-8 between them.
 */
static void
lines(struct recbuf *rb, size_t n, uint64_t seed)
{
	static const char *const tok[] = { "Hello", "WORLD", "caf\xc3\xa9",
	    "don't", "x1y2", "--", "a", "UpPeR", "12345", "tab\there",
	    "na\xc3\xafve", "end.", "", "zz", "Apple;Pie", "\xe2\x82\xac" };
	char	line[512], doc[16];
	size_t	i, j, len;

	recs_init(rb, VT_STR, VT_STR);
	for (i = 0; i < n; i++) {
		len = 0;
		for (j = ck_rand(&seed) % 12; j > 0; j--)
			len += (size_t)snprintf(line + len, sizeof line - len,
			    "%s%s", tok[ck_rand(&seed) % 16],
			    ck_rand(&seed) % 3 ? " " : ",");
		snprintf(doc, sizeof doc, "doc%zu", i % 3);
		ck_recs_add_str(rb, doc, strlen(doc), line, len);
	}
}

/* An ASCII letter, which is all a word is made of. */
static int
letter(char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

/*
 * The words of the values of in, lower-cased: each with v, or with the
 * record's key with by_doc.
 */
static void
want_words(struct recbuf *want, const struct recbuf *in, int by_doc,
    int64_t v)
{
	const struct str	*line, *doc;
	char			 w[512];
	size_t			 i, a, n;

	for (i = 0; i < in->n; i++) {
		doc = str_of(in->r[i].k);
		line = str_of(in->r[i].v);
		for (a = 0; a < line->len; a++) {
			if (!letter(line->s[a]))
				continue;
			for (n = 0; a < line->len && letter(line->s[a]); a++)
				w[n++] = (char)(line->s[a] <= 'Z' ?
				    line->s[a] + 32 : line->s[a]);
			if (by_doc)
				ck_recs_add_str(want, w, n, doc->s, doc->len);
			else
				add_si(want, w, n, v);
		}
	}
}

/* The fields of s between separators sep, each with 1. */
static void
want_split(struct recbuf *want, const char *s, size_t len, const char *sep)
{
	char		 buf[512];
	const char	*f, *hit;

	memcpy(buf, s, len);
	buf[len] = '\0';
	for (f = buf; (hit = strstr(f, sep)) != NULL; f = hit + strlen(sep))
		add_si(want, f, (size_t)(hit - f), 1);
	add_si(want, f, strlen(f), 1);
}

/* Maps, filters and changeKeys, named and by expression, fused. */
START_TEST(test_ops_chain)
{
	struct recbuf	 in, want;
	uint64_t	 k, v, n1 = 0;
	size_t		 i;

	ints(&in, 20000, 1);
	recs_init(&want, VT_INT, VT_INT);
	for (i = 0; i < in.n; i++) {
		k = (uint64_t)in.r[i].k;
		v = (uint64_t)in.r[i].v * 3 + k;
		if ((int64_t)v % 2 != 0)
			continue;
		n1++;
		k = v * (uint64_t)-2;
		v += 5;
		k += v;
		if ((int64_t)v > 0)
			recbuf_add(&want, (int64_t)k, (int64_t)v);
	}
	ck_assert_uint_gt(want.n, 1000);
	ck_assert_uint_lt(want.n, n1);
	check_run("{'operations': ["
	    "{'operator': 'map', 'expr': 'v * 3 + k'}, "
	    "{'operator': 'filter', 'expr': 'v % 2 == 0'}, "
	    "{'operator': 'changeKey', 'function': 'MUL', 'arg': -2}, "
	    "{'operator': 'map', 'function': 'ADD', 'arg': 5}, "
	    "{'operator': 'changeKey', 'expr': 'k + v'}, "
	    "{'operator': 'filter', 'function': 'GT', 'arg': 0}]}", 0, 6,
	    &in, &want, (uint64_t []){ in.n, in.n, n1, n1, n1, n1 });
	recbuf_free(&in);
	recbuf_free(&want);
}
END_TEST

/*
 * A filter that keeps nothing: the sink gets no batch, and the operators
 * after it see no record; a range of operators counts from its first.
 */
START_TEST(test_ops_counts)
{
	static const char	 src[] = "{'operations': ["
	    "{'operator': 'map', 'expr': 'v - 1'}, "
	    "{'operator': 'filter', 'expr': 'v > 1000000'}, "
	    "{'operator': 'map', 'expr': 'v + 1'}]}";
	struct recbuf		 in, want;
	size_t			 i;

	ints(&in, 5000, 2);
	recs_init(&want, VT_INT, VT_INT);
	check_run(src, 0, 3, &in, &want, (uint64_t []){ in.n, in.n, 0 });
	for (i = 0; i < in.n; i++)
		recbuf_add(&want, in.r[i].k, in.r[i].v + 1);
	check_run(src, 2, 3, &in, &want, (uint64_t []){ in.n });
	recbuf_free(&in);
	recbuf_free(&want);
}
END_TEST

/* A division by zero names its operator and record; nothing goes on. */
START_TEST(test_ops_div_zero)
{
	struct program		*p;
	struct ops		*o;
	struct recbuf		 got;
	struct ops_sink		 sink = { sink_add, &got };
	struct ops_error	 err;
	struct batch		*b;
	size_t			 i;

	p = load("{'operations': ["
	    "{'operator': 'filter', 'expr': 'v != 370'}, "
	    "{'operator': 'map', 'expr': 'v / k'}]}");
	o = ops_new(p, VT_INT, VT_INT, NULL);
	recs_init(&got, VT_INT, VT_INT);
	b = batch_new();
	for (i = 0; i < 100; i++) {
		b->k[i] = i == 37 || i == 60 ? 0 : (int64_t)i + 1;
		b->v[i] = (int64_t)i * 10;
	}
	b->n = 100;
	memset(&err, 0, sizeof err);
	ck_assert_int_eq(ops_run(o, 0, 2, b, &sink, &err), -1);
	ck_assert_ptr_eq(err.op, &p->ops[1]);
	ck_assert_int_eq(err.k, 0);
	ck_assert_int_eq(err.v, 600);
	ck_assert_ptr_null(err.why);
	ck_assert_uint_eq(got.n, 0);
	ck_assert_uint_eq(ops_records(o)[0], 100);
	ck_assert_uint_eq(ops_records(o)[1], 99);

	/*
	 * The filter keeps the zero from the division; the counts go on
	 * from where they are set, as a worker resuming sets them.
	 */
	ops_records(o)[1] = 1000;
	batch_init(b);
	b->k[0] = 4;
	b->v[0] = 40;
	b->k[1] = 0;
	b->v[1] = 370;
	b->k[2] = -3;
	b->v[2] = -30;
	b->n = 3;
	ck_assert_int_eq(ops_run(o, 0, 2, b, &sink, &err), 0);
	ck_assert_uint_eq(got.n, 2);
	ck_assert_int_eq(got.r[0].k, 4);
	ck_assert_int_eq(got.r[0].v, 10);
	ck_assert_int_eq(got.r[1].k, -3);
	ck_assert_int_eq(got.r[1].v, 10);
	ck_assert_uint_eq(ops_records(o)[0], 103);
	ck_assert_uint_eq(ops_records(o)[1], 1002);
	batch_free(b);
	ops_free(o);
	program_free(p);
	recbuf_free(&got);
}
END_TEST

/* A reduce after a reduce runs in place: a COUNT makes each value 1. */
START_TEST(test_ops_reduce_in_place)
{
	struct recbuf	 in, want;
	size_t		 i;

	ints(&in, 3000, 3);
	recs_init(&want, VT_INT, VT_INT);
	for (i = 0; i < in.n; i++)
		recbuf_add(&want, in.r[i].k, 10 + in.r[i].k - 1);
	check_run("{'operations': ["
	    "{'operator': 'reduce', 'function': 'SUM'}, "
	    "{'operator': 'reduce', 'function': 'COUNT'}, "
	    "{'operator': 'map', 'expr': 'v * 10 + k'}, "
	    "{'operator': 'reduce', 'function': 'MAX'}, "
	    "{'operator': 'map', 'expr': 'v - 1'}]}", 1, 5, &in, &want,
	    (uint64_t []){ in.n, in.n, in.n, in.n });
	recbuf_free(&in);
	recbuf_free(&want);
}
END_TEST

/* WORDS and WORDS_DOC, many batches of words from each batch of lines. */
START_TEST(test_ops_words)
{
	static const char *const progs[] = {
	    "{'input': {'path': 't.txt', 'format': 'text'}, 'operations': ["
	    "{'operator': 'flatMap', 'function': 'WORDS'}]}",
	    "{'input': {'path': 't.txt', 'format': 'text'}, 'operations': ["
	    "{'operator': 'flatMap', 'function': 'WORDS_DOC'}]}",
	    "{'input': {'path': 't.txt', 'format': 'text'}, 'operations': ["
	    "{'operator': 'flatMap', 'function': 'WORDS'},"
	    "{'operator': 'map', 'expr': 'v + 41'}]}" };
	struct recbuf	 in, want;
	size_t		 i;

	lines(&in, 2000, 4);
	for (i = 0; i < 3; i++) {
		recs_init(&want, VT_STR, i == 1 ? VT_STR : VT_INT);
		want_words(&want, &in, i == 1, i == 2 ? 42 : 1);
		ck_assert_uint_gt(want.n, 4 * BATCH_MAX);
		check_run(progs[i], 0, i == 2 ? 2 : 1, &in, &want,
		    (uint64_t []){ in.n, want.n });
		recbuf_free(&want);
	}
	recbuf_free(&in);
}
END_TEST

/* SPLIT: every field, empty ones too, a separator of two bytes. */
START_TEST(test_ops_split)
{
	static const char *const vals[] = { "a;;b;;;;c", ";;", "", "x;;;y",
	    "none", ";;lead", "trail;;", ";", ";;;;;;" };
	struct recbuf	 in, want;
	uint64_t	 seed = 5;
	size_t		 i;
	const char	*v;

	recs_init(&in, VT_STR, VT_STR);
	recs_init(&want, VT_STR, VT_INT);
	for (i = 0; i < 3000; i++) {
		v = vals[ck_rand(&seed) % 9];
		ck_recs_add_str(&in, "f", 1, v, strlen(v));
		want_split(&want, v, strlen(v), ";;");
	}
	check_run("{'input': {'path': 't.txt', 'format': 'text'}, "
	    "'operations': [{'operator': 'flatMap', 'function': 'SPLIT', "
	    "'arg': ';;'}]}", 0, 1, &in, &want, (uint64_t []){ in.n });
	recbuf_free(&in);
	recbuf_free(&want);
}
END_TEST

/*
 * A mapper (cat) over integers, then a SPLIT of what it writes: the lines
 * come back while it runs and when it is finished.
 */
START_TEST(test_ops_mapper)
{
	struct recbuf	 in, want;
	char		 v[32];
	size_t		 i;

	ints(&in, 10000, 6);
	recs_init(&want, VT_STR, VT_INT);
	for (i = 0; i < in.n; i++) {
		snprintf(v, sizeof v, "%lld", (long long)in.r[i].v);
		want_split(&want, v, strlen(v), "7");
	}
	check_run("{'operations': ["
	    "{'operator': 'mapper', 'command': ['cat']}, "
	    "{'operator': 'flatMap', 'function': 'SPLIT', 'arg': '7'}]}",
	    0, 2, &in, &want, (uint64_t []){ in.n, in.n });
	recbuf_free(&in);
	recbuf_free(&want);
}
END_TEST

/* Text input's mapper gets its lines alone, and awk splits them. */
START_TEST(test_ops_mapper_text)
{
	struct recbuf	 in, want;
	char		 line[128], a[32], b[32];
	size_t		 i;

	recs_init(&in, VT_STR, VT_STR);
	recs_init(&want, VT_STR, VT_STR);
	for (i = 0; i < 5000; i++) {
		snprintf(a, sizeof a, "first%zu", i * 7);
		snprintf(b, sizeof b, "second%zu", i % 13);
		snprintf(line, sizeof line, "%s %s third", a, b);
		ck_recs_add_str(&in, "file.txt", 8, line, strlen(line));
		ck_recs_add_str(&want, b, strlen(b), a, strlen(a));
	}
	check_run("{'input': {'path': 't.txt', 'format': 'text'}, "
	    "'operations': [{'operator': 'mapper', 'command': ['awk', "
	    "'{ print $2 \\'\\\\t\\' $1 }']}]}", 0, 1, &in, &want,
	    (uint64_t []){ in.n });
	recbuf_free(&in);
	recbuf_free(&want);
}
END_TEST

/* A mapper that fails: ops_finish names it and says how it ended. */
START_TEST(test_ops_mapper_fail)
{
	struct program		*p;
	struct ops		*o;
	struct recbuf		 in, got;
	struct ops_sink		 sink = { sink_add, &got };
	struct ops_error	 err;
	char			*what;

	p = load("{'operations': ["
	    "{'operator': 'map', 'expr': 'v + 1'}, "
	    "{'operator': 'mapper', 'command': "
	    "'cat >/dev/null; echo bad >&2; exit 3'}]}");
	ints(&in, 3000, 7);
	o = ops_new(p, VT_INT, VT_INT, NULL);
	recs_init(&got, VT_STR, VT_STR);
	ck_assert_int_eq(feed(o, 0, 2, &in, &sink, &err), -1);
	ck_assert_ptr_eq(err.op, &p->ops[1]);
	ck_assert_str_eq(err.why, "mapper exited with status 3; its last "
	    "standard error: bad");
	what = program_op_describe(p, err.op);
	ck_assert_msg(strstr(what, "mapper \"cat >/dev/null; echo bad >&2; "
	    "exit 3\"") == what, "%s", what);
	ck_assert_uint_eq(got.n, 0);
	ck_assert_uint_eq(ops_records(o)[1], in.n);
	ck_assert_str_eq(ck_log(), "forkflow: mapper: bad\n");

	/* It is over: finishing again has nothing to do. */
	free(err.why);
	memset(&err, 0, sizeof err);
	ck_assert_int_eq(ops_finish(o, 0, 2, &sink, &err), 0);
	free(what);
	ops_free(o);
	program_free(p);
	recbuf_free(&in);
	recbuf_free(&got);
}
END_TEST

/*
 * Three contexts interleaved, batch by batch: one program over integers
 * and over strings, another that swaps.  Each has its own processes, types
 * and counts.
 */
START_TEST(test_ops_contexts)
{
	struct program	*p, *q;
	struct ops	*o[3];
	struct recbuf	 in[3], got[3], want[3];
	struct ops_sink	 sink[3];
	struct ops_error err;
	struct batch	*b;
	char		 k[32], v[32];
	size_t		 i, j, r, n[3] = { 5000, 3000, 4000 };

	p = load("{'operations': [{'operator': 'mapper', 'command': "
	    "['cat']}]}");
	q = load("{'operations': [{'operator': 'mapper', 'command': "
	    "['awk', '-F', '\\\\t', '{ print $2 \\'\\\\t\\' $1 }']}]}");
	o[0] = ops_new(p, VT_INT, VT_INT, NULL);
	o[1] = ops_new(p, VT_STR, VT_STR, NULL);
	o[2] = ops_new(q, VT_INT, VT_INT, NULL);
	ints(&in[0], n[0], 8);
	recs_init(&in[1], VT_STR, VT_STR);
	for (i = 0; i < n[1]; i++) {
		snprintf(k, sizeof k, "key %zu", i % 17);
		snprintf(v, sizeof v, "line %zu", i);
		ck_recs_add_str(&in[1], k, strlen(k), v, strlen(v));
	}
	ints(&in[2], n[2], 10);
	for (j = 0; j < 3; j++) {
		recs_init(&got[j], VT_STR, VT_STR);
		recs_init(&want[j], VT_STR, VT_STR);
		sink[j].fn = sink_add;
		sink[j].ctx = &got[j];
		for (i = 0; i < n[j]; i++) {
			if (j == 1) {
				recbuf_add(&want[1], in[1].r[i].k,
				    in[1].r[i].v);
				continue;
			}
			snprintf(k, sizeof k, "%lld", (long long)in[j].r[i].k);
			snprintf(v, sizeof v, "%lld", (long long)in[j].r[i].v);
			if (j == 0)
				ck_recs_add_str(&want[j], k, strlen(k), v,
				    strlen(v));
			else
				ck_recs_add_str(&want[j], v, strlen(v), k,
				    strlen(k));
		}
	}

	b = batch_new();
	for (r = 0; r * 500 < 5000; r++) {
		for (j = 0; j < 3; j++) {
			batch_init(b);
			for (i = r * 500; i < n[j] && i < (r + 1) * 500; i++) {
				b->k[b->n] = in[j].r[i].k;
				b->v[b->n++] = in[j].r[i].v;
			}
			memset(&err, 0, sizeof err);
			ck_assert_int_eq(ops_run(o[j], 0, 1, b, &sink[j], &err),
			    0);
		}
	}
	for (j = 3; j > 0; j--) {
		memset(&err, 0, sizeof err);
		ck_assert_int_eq(ops_finish(o[j - 1], 0, 1, &sink[j - 1],
		    &err), 0);
	}
	for (j = 0; j < 3; j++) {
		ck_recs_eq(&got[j], &want[j], j == 0 ? "cat of integers" :
		    j == 1 ? "cat of strings" : "awk");
		ck_assert_uint_eq(ops_records(o[j])[0], n[j]);
		ops_free(o[j]);
		recbuf_free(&in[j]);
		recbuf_free(&got[j]);
		recbuf_free(&want[j]);
	}
	batch_free(b);
	program_free(p);
	program_free(q);
}
END_TEST

/*
 * A context run from inside another's sink: each word of the first's
 * flatMap goes through the second's, so both fill a flatMap's batch at
 * once.
 */
START_TEST(test_ops_nested)
{
	struct program		*p, *q;
	struct ops		*outer, *inner;
	struct recbuf		 in, got, words, want;
	struct chain		 c;
	struct ops_sink		 sink = { sink_chain, &c };
	struct ops_error	 err;
	size_t			 i;

	p = load("{'input': {'path': 't.txt', 'format': 'text'}, "
	    "'operations': [{'operator': 'flatMap', 'function': 'WORDS'}]}");
	q = load("{'input': {'path': 't.txt', 'format': 'text'}, "
	    "'operations': [{'operator': 'flatMap', 'function': 'SPLIT', "
	    "'arg': 'e'}, {'operator': 'map', 'expr': 'v * 3'}]}");
	lines(&in, 3000, 11);
	recs_init(&words, VT_STR, VT_INT);
	want_words(&words, &in, 0, 1);
	recs_init(&want, VT_STR, VT_INT);
	for (i = 0; i < words.n; i++)
		want_split(&want, str_of(words.r[i].k)->s,
		    str_of(words.r[i].k)->len, "e");
	for (i = 0; i < want.n; i++)
		want.r[i].v = 3;
	outer = ops_new(p, VT_STR, VT_STR, NULL);
	inner = ops_new(q, VT_STR, VT_STR, NULL);
	recs_init(&got, VT_STR, VT_INT);
	c.o = inner;
	c.end = 2;
	c.got = &got;
	c.b = batch_new();
	ck_assert_int_eq(feed(outer, 0, 1, &in, &sink, &err), 0);
	ck_recs_eq(&got, &want, "words, split");
	ck_assert_uint_eq(ops_records(outer)[0], in.n);
	ck_assert_uint_eq(ops_records(outer)[1], 0);
	ck_assert_uint_eq(ops_records(inner)[0], words.n);
	ck_assert_uint_eq(ops_records(inner)[1], want.n);
	batch_free(c.b);
	ops_free(outer);
	ops_free(inner);
	program_free(p);
	program_free(q);
	recbuf_free(&in);
	recbuf_free(&got);
	recbuf_free(&words);
	recbuf_free(&want);
}
END_TEST

Suite *
ops_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("ops");
	tc = tcase_create("kernels");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, ops_setup, ops_teardown);
	tcase_add_test(tc, test_ops_chain);
	tcase_add_test(tc, test_ops_counts);
	tcase_add_test(tc, test_ops_div_zero);
	tcase_add_test(tc, test_ops_reduce_in_place);
	tcase_add_test(tc, test_ops_words);
	tcase_add_test(tc, test_ops_split);
	tcase_add_test(tc, test_ops_nested);
	suite_add_tcase(s, tc);

	tc = tcase_create("streaming");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, ops_setup, ops_teardown);
	tcase_add_checked_fixture(tc, ops_nopipe, NULL);
	tcase_add_test(tc, test_ops_mapper);
	tcase_add_test(tc, test_ops_mapper_text);
	tcase_add_test(tc, test_ops_mapper_fail);
	tcase_add_test(tc, test_ops_contexts);
	suite_add_tcase(s, tc);
	return (s);
}
