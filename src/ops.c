/* forkflow: see LICENSE. */
/*
 * Operator kernels: run a stage's narrow operators over a batch of records,
 * fused, one operator after the other over the whole batch.  Expressions
 * are evaluated a batch at a time (expr.c); a map or changeKey swaps the
 * result column in, and a filter compacts the batch in place.  A flatMap
 * fills batches of its own and runs the operators after it on each as it
 * fills; the end of the operators hands each batch to the stage's sink.
 */

#include <stdlib.h>
#include <string.h>

#include "forkflow.h"

static void
batch_swap(int64_t **a, int64_t **b)
{
	int64_t	*t = *a;

	*a = *b;
	*b = t;
}

/* Empty a batch (its arena keeps its strings until batch_clear). */
void
batch_init(struct batch *b)
{
	b->n = 0;
	b->k = b->col[0];
	b->v = b->col[1];
	b->tmp = b->col[2];
}

/* A new, empty batch. */
struct batch *
batch_new(void)
{
	struct batch	*b;

	b = xcalloc(1, sizeof *b);
	batch_init(b);
	return (b);
}

void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	arena_free(&b->arena);
	free(b);
}

/*
 * A program's operators at work, one array slot per operator: the types of
 * the records entering it, for a streaming operator to format them; its
 * process while one runs; the batch a flatMap fills, kept between calls;
 * and how many records entered it, for the job's counters.  Two contexts
 * share nothing but the process groups' slots.
 */
struct ops {
	const struct program	 *p;
	enum vtype		 *kt;
	enum vtype		 *vt;
	struct stream		 *streams;
	struct batch		**fm_out;
	uint64_t		 *records;
	struct stream_groups	 *groups;	/* where commands' groups go */
};

/* Where a streaming operator's output goes: a batch, then the rest. */
struct stream_ctx {
	struct ops		*o;
	size_t			 i;
	size_t			 end;
	struct batch		*out;
	const struct ops_sink	*sink;
	struct ops_error	*err;
	int			 failed;
};

/*
 * A context for running the operators of program p over records whose keys
 * are of type kt and values of type vt, working out the types of records
 * entering each operator.  Its commands' process groups are named in the
 * slots of g (NULL: none).
 */
struct ops *
ops_new(const struct program *p, enum vtype kt, enum vtype vt,
    struct stream_groups *g)
{
	struct ops	*o;
	size_t		 i;

	o = xcalloc(1, sizeof *o);
	o->p = p;
	o->groups = g;
	o->records = xcalloc(p->nops + 1, sizeof *o->records);
	o->kt = xcalloc(p->nops + 1, sizeof *o->kt);
	o->vt = xcalloc(p->nops + 1, sizeof *o->vt);
	o->streams = xcalloc(p->nops + 1, sizeof *o->streams);
	o->fm_out = xcalloc(p->nops + 1, sizeof *o->fm_out);
	for (i = 0; i < p->nops; i++) {
		o->kt[i] = kt;
		o->vt[i] = vt;
		(void)op_types(&p->ops[i], &kt, &vt);
	}
	return (o);
}

/* Free a context whose commands have ended (ops_finish). */
void
ops_free(struct ops *o)
{
	size_t	i;

	if (o == NULL)
		return;
	for (i = 0; i < o->p->nops; i++)
		batch_free(o->fm_out[i]);
	free(o->fm_out);
	free(o->streams);
	free(o->vt);
	free(o->kt);
	free(o->records);
	free(o);
}

/*
 * The records that entered each operator, by its index in the program;
 * the caller may set them, as a worker resuming from a checkpoint does.
 */
uint64_t *
ops_records(struct ops *o)
{
	return (o->records);
}

/* The batch flatMap i fills, kept between calls. */
static struct batch *
ops_fm_batch(struct ops *o, size_t i)
{
	if (o->fm_out[i] == NULL)
		o->fm_out[i] = batch_new();
	return (o->fm_out[i]);
}

/* Emit one record of a flatMap; run the rest when the batch is full. */
static int
ops_emit(struct ops *o, size_t i, size_t end, struct batch *out, int64_t k,
    int64_t v, const struct ops_sink *sink, struct ops_error *err)
{
	int	r = 0;

	out->k[out->n] = k;
	out->v[out->n] = v;
	out->pos[out->n] = 0;
	if (++out->n == BATCH_MAX) {
		r = ops_run(o, i + 1, end, out, sink, err);
		batch_init(out);
		arena_reset(&out->arena);
	}
	return (r);
}

/*
 * The rule of WORDS, here and in word count's fused scan (worker-input.c):
 * each maximal run of ASCII letters is a word, lower-cased; every other
 * byte (digits, punctuation, blanks, bytes of UTF-8 sequences) ends one.
 * Each letter's lower case; 0 for every other byte.
 */
const unsigned char word_lower[256] = {
	['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e',
	['F'] = 'f', ['G'] = 'g', ['H'] = 'h', ['I'] = 'i', ['J'] = 'j',
	['K'] = 'k', ['L'] = 'l', ['M'] = 'm', ['N'] = 'n', ['O'] = 'o',
	['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't',
	['U'] = 'u', ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y',
	['Z'] = 'z',
	['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e',
	['f'] = 'f', ['g'] = 'g', ['h'] = 'h', ['i'] = 'i', ['j'] = 'j',
	['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n', ['o'] = 'o',
	['p'] = 'p', ['q'] = 'q', ['r'] = 'r', ['s'] = 's', ['t'] = 't',
	['u'] = 'u', ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y',
	['z'] = 'z',
};

/* WORDS (word_lower's rule); WORDS_DOC pairs each word with the record's
 * key. */
static int
ops_words(struct ops *o, size_t i, size_t end, struct batch *b,
    const struct ops_sink *sink, struct ops_error *err)
{
	const struct op		*op = &o->p->ops[i];
	struct batch		*out = ops_fm_batch(o, i);
	const struct str	*line;
	struct str		*w;
	size_t			 j, a, e;
	unsigned char		 c;

	for (j = 0; j < b->n; j++) {
		line = str_of(b->v[j]);
		for (a = 0; a < line->len;) {
			c = (unsigned char)line->s[a];
			if (word_lower[c] == 0) {
				a++;
				continue;
			}
			for (e = a; e < line->len && word_lower[(unsigned char)
			    line->s[e]] != 0; e++)
				;
			w = arena_alloc(&out->arena, sizeof *w + (e - a));
			w->len = (uint32_t)(e - a);
			for (size_t m = a; m < e; m++)
				w->s[m - a] = (char)word_lower[(unsigned char)
				    line->s[m]];
			if (ops_emit(o, i, end, out, (int64_t)(uintptr_t)w,
			    op->fn == FN_WORDS_DOC ? b->k[j] : 1, sink,
			    err) != 0)
				return (-1);
			a = e;
		}
	}
	return (0);
}

/* SPLIT: each field of the value between separators. */
static int
ops_split(struct ops *o, size_t i, size_t end, struct batch *b,
    const struct ops_sink *sink, struct ops_error *err)
{
	const struct op		*op = &o->p->ops[i];
	struct batch		*out = ops_fm_batch(o, i);
	const struct str	*line;
	const char		*s, *e, *hit;
	size_t			 j, seplen = strlen(op->sarg);

	for (j = 0; j < b->n; j++) {
		line = str_of(b->v[j]);
		s = line->s;
		e = line->s + line->len;
		for (;;) {
			hit = memmem(s, (size_t)(e - s), op->sarg, seplen);
			if (ops_emit(o, i, end, out, str_make(&out->arena, s,
			    (size_t)((hit != NULL ? hit : e) - s)), 1, sink,
			    err) != 0)
				return (-1);
			if (hit == NULL)
				break;
			s = hit + seplen;
		}
	}
	return (0);
}

/* A line of a streaming process's output: a record for the rest. */
static void
ops_stream_line(void *arg, const char *k, size_t klen, const char *v,
    size_t vlen)
{
	struct stream_ctx	*c = arg;
	struct batch		*out = c->out;

	if (c->failed)
		return;
	out->k[out->n] = str_make(&out->arena, k, klen);
	out->v[out->n] = str_make(&out->arena, v, vlen);
	out->pos[out->n] = 0;
	if (++out->n == BATCH_MAX) {
		if (ops_run(c->o, c->i + 1, c->end, out, c->sink,
		    c->err) != 0)
			c->failed = 1;
		batch_init(out);
		arena_reset(&out->arena);
	}
}

/* Hand a batch to a streaming operator's process, starting it. */
static int
ops_stream(struct ops *o, size_t i, size_t end, struct batch *b,
    const struct ops_sink *sink, struct ops_error *err)
{
	const struct program	*p = o->p;
	struct stream_ctx	 c = { o, i, end, ops_fm_batch(o, i), sink, err,
				    0 };
	struct stream_out	 out = { ops_stream_line, &c };
	struct stream		*s = &o->streams[i];

	if (progress_op != NULL)
		*progress_op = (uint32_t)i;
	if (!s->running && stream_start(s, &p->ops[i], o->groups) != 0)
		fatal("cannot start the %s", p->ops[i].kind == OP_MAPPER ?
		    "mapper" : "reducer");
	/* Text input's mapper gets the lines alone, as Hadoop's does, or
	 * after their offsets ("inputKey"). */
	(void)stream_feed(s, b, o->kt[i], o->vt[i], i == 0 &&
	    p->in_format == IN_TEXT && !p->ops[i].key_offset, &out);
	return (c.failed ? -1 : 0);
}

/*
 * End the input of the streaming processes among operators [first, end),
 * in order, and send on all they still write: at a checkpoint and at the
 * end of a stage.  Returns 0, or -1 with err->op and err->why set when a
 * process failed.
 */
int
ops_finish(struct ops *o, size_t first, size_t end,
    const struct ops_sink *sink, struct ops_error *err)
{
	struct stream_ctx	 c;
	struct stream_out	 out = { ops_stream_line, &c };
	size_t			 i;
	char			*why;

	for (i = first; i < end; i++) {
		if (!o->streams[i].running)
			continue;
		memset(&c, 0, sizeof c);
		c.o = o;
		c.i = i;
		c.end = end;
		c.out = ops_fm_batch(o, i);
		c.sink = sink;
		c.err = err;
		if (progress_op != NULL)
			*progress_op = (uint32_t)i;
		if (stream_finish(&o->streams[i], &out, &why) != 0) {
			err->op = &o->p->ops[i];
			err->why = why;
			return (-1);
		}
		if (c.failed)
			return (-1);
		if (c.out->n > 0 && ops_run(o, i + 1, end, c.out, sink,
		    err) != 0)
			return (-1);
		batch_init(c.out);
		arena_reset(&c.out->arena);
	}
	return (0);
}

/*
 * Run operators [first, end) of the program over the batch.  Returns 0, or
 * -1 with err->op and the failing record's key and value for a run-time
 * error (a division by zero), or err->why when a process failed.
 */
int
ops_run(struct ops *o, size_t first, size_t end, struct batch *b,
    const struct ops_sink *sink, struct ops_error *err)
{
	struct batch	*out;
	int		 r;

	const struct op	*op;
	size_t		 i, j, n, failed;
	int64_t		*t;

	for (i = first; i < end && b->n > 0; i++) {
		op = &o->p->ops[i];
		n = b->n;
		o->records[i] += n;
		if (progress_op != NULL)
			*progress_op = (uint32_t)i;
		if (op->kind == OP_MAPPER || op->kind == OP_REDUCER)
			return (ops_stream(o, i, end, b, sink, err));
		if (op->kind == OP_FLATMAP) {
			/* The rest runs on the flatMap's own batches. */
			out = ops_fm_batch(o, i);
			r = op->fn == FN_SPLIT ? ops_split(o, i, end, b, sink,
			    err) : ops_words(o, i, end, b, sink, err);
			if (r == 0 && out->n > 0)
				r = ops_run(o, i + 1, end, out, sink, err);
			batch_init(out);
			arena_reset(&out->arena);
			return (r);
		}
		if (op->kind == OP_REDUCE) {
			/* In place: every key is seen once (plan.c). */
			if (op->fn == FN_COUNT) {
				for (j = 0; j < n; j++)
					b->v[j] = 1;
			}
			continue;
		}
		if (expr_eval_batch(op->expr, b->k, b->v, n, b->tmp,
		    &failed) != 0) {
			err->op = op;
			err->k = b->k[failed];
			err->v = b->v[failed];
			return (-1);
		}
		switch (op->kind) {
		case OP_MAP:
			batch_swap(&b->v, &b->tmp);
			break;
		case OP_CHANGEKEY:
			batch_swap(&b->k, &b->tmp);
			break;
		case OP_FILTER:
			t = b->tmp;
			for (j = 0; j < n && t[j] != 0; j++)
				;
			for (n = j; j < b->n; j++) {
				b->k[n] = b->k[j];
				b->v[n] = b->v[j];
				n += (t[j] != 0);
			}
			b->n = n;
			break;
		default:
			break;
		}
	}
	if (b->n > 0)
		sink->fn(sink->ctx, b);
	return (0);
}
