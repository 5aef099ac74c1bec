/* forkflow: see LICENSE. */
/*
 * Plans: cut a program's operators into stages where records must move
 * between workers, that is at a reduce whose keys are not already grouped.
 *
 * A stage reads its input (the input files, or its bucket of the previous
 * stage's output reduced by reduce_in), runs its narrow operators fused in
 * one pass, and ends either with a shuffle combined by reduce_out or with
 * the sorted final output.  A reduce that follows a reduce with no
 * changeKey between sees every key once and in the worker that holds it:
 * it needs no exchange and runs in place as a narrow operator.
 */

#include <stdlib.h>

#include "forkflow.h"

/*
 * The types of keys and values after op, given those before it.  Returns
 * NULL, or what is wrong: expressions and named map, filter and changeKey
 * functions compute on integers; WORDS and SPLIT take text values.
 */
const char *
op_types(const struct op *op, enum vtype *kt, enum vtype *vt)
{
	int	uses_k, uses_v;

	switch (op->kind) {
	case OP_MAP:
	case OP_FILTER:
	case OP_CHANGEKEY:
		if (op->fn == FN_EXPR) {
			uses_k = expr_uses(op->expr, 'k');
			uses_v = expr_uses(op->expr, 'v');
		} else {
			uses_k = op->on_key;
			uses_v = !op->on_key;
		}
		if ((uses_k && *kt != VT_INT) || (uses_v && *vt != VT_INT))
			return ("computes on integers, but the keys or values "
			    "here are strings");
		if (op->kind == OP_MAP)
			*vt = VT_INT;
		else if (op->kind == OP_CHANGEKEY)
			*kt = VT_INT;
		return (NULL);
	case OP_MAPPER:
	case OP_REDUCER:
		/* Lines of text in, lines of text out. */
		*kt = *vt = VT_STR;
		return (NULL);
	case OP_FLATMAP:
		if (*vt != VT_STR)
			return ("splits text, but the values here are "
			    "integers (use \"format\": \"text\" input)");
		if (op->fn == FN_WORDS_DOC) {
			if (*kt != VT_STR)
				return ("needs file names as keys, as text "
				    "input gives them");
			*vt = VT_STR;
		} else
			*vt = VT_INT;
		*kt = VT_STR;
		return (NULL);
	case OP_REDUCE:
		switch (op->fn) {
		case FN_SUM:
		case FN_PROD:
			if (*vt != VT_INT)
				return ("adds or multiplies integers, but the "
				    "values here are strings");
			break;
		case FN_COUNT:
			*vt = VT_INT;
			break;
		case FN_COLLECT:
			*vt = VT_STR;
			break;
		default:
			break;	/* MIN, MAX: integers or strings */
		}
		return (NULL);
	}
	return (NULL);
}

/*
 * Check that each operator gets keys and values of the types it works
 * on.  Returns 0, or -1 with *cause naming the operator.
 */
int
program_check_types(struct program *p, char **cause)
{
	enum vtype	 kt, vt;
	const char	*why;
	size_t		 i;

	kt = vt = p->in_format == IN_TEXT ? VT_STR : VT_INT;
	for (i = 0; i < p->nops; i++) {
		if (p->ops[i].combiner != NULL && (kt != VT_STR ||
		    vt != VT_STR)) {
			program_error(cause, p, &p->ops[i].pos, "a combiner "
			    "takes text, as a mapper writes it");
			return (-1);
		}
		if ((why = op_types(&p->ops[i], &kt, &vt)) != NULL) {
			program_error(cause, p, &p->ops[i].pos, "%s %s %s",
			    program_op_name(&p->ops[i]),
			    p->ops[i].fn == FN_EXPR ? "(expr)" :
			    program_fn_name(p->ops[i].fn), why);
			return (-1);
		}
	}
	return (0);
}

struct plan *
plan_make(const struct program *p)
{
	struct plan	*pl;
	struct stage	*st;
	const struct op	*op;
	size_t		 i;
	enum vtype	 kt, vt, red_v = VT_INT, red_k = VT_INT;
	int		 grouped = 0;	/* keys unique and partitioned */

	pl = xcalloc(1, sizeof *pl);
	pl->stages = xcalloc(p->nops + 1, sizeof *pl->stages);
	st = &pl->stages[0];
	st->first = 0;
	kt = vt = p->in_format == IN_TEXT ? VT_STR : VT_INT;
	st->in_k = kt;
	st->in_v = vt;
	for (i = 0; i < p->nops; i++) {
		op = &p->ops[i];
		if ((op->kind == OP_REDUCE && !grouped) ||
		    op->kind == OP_REDUCER) {
			/* The sink of this stage sees the reduce's input. */
			st->out_k = kt;
			st->out_v = vt;
		}
		red_v = vt;
		red_k = kt;
		(void)op_types(op, &kt, &vt);
		switch (op->kind) {
		case OP_CHANGEKEY:
			grouped = 0;
			break;
		case OP_REDUCE:
			if (grouped)
				break;	/* runs in place */
			st->end = i;
			st->reduce_out = op;
			st = &pl->stages[++pl->nstages];
			st->reduce_in = op;
			st->first = i + 1;
			/* A combined COUNT holds counts. */
			st->red_v = op->fn == FN_COUNT ? VT_INT : red_v;
			st->in_k = kt;
			st->in_v = vt;
			grouped = 1;
			break;
		case OP_FLATMAP:
		case OP_MAPPER:
			grouped = 0;
			break;
		case OP_REDUCER:
			/* Its input is shuffled and sorted; it runs first in
			 * the next stage, and its keys are its own. */
			st->end = i;
			st->reduce_out = op;
			st = &pl->stages[++pl->nstages];
			st->reduce_in = op;
			st->first = i;
			st->red_v = red_v;
			st->in_k = red_k;
			st->in_v = red_v;
			grouped = 0;
			break;
		default:
			break;
		}
	}
	st->end = p->nops;
	st->out_k = kt;
	st->out_v = vt;
	pl->nstages++;
	return (pl);
}

/*
 * The operator a worker starts stage st with: the reduce it completes,
 * for a stage that starts with one, else the stage's first.
 */
unsigned int
stage_first_op(const struct program *p, const struct stage *st)
{
	if (st->reduce_in != NULL)
		return ((unsigned int)(st->reduce_in - p->ops));
	return ((unsigned int)st->first);
}

void
plan_free(struct plan *pl)
{
	if (pl == NULL)
		return;
	free(pl->stages);
	free(pl);
}
