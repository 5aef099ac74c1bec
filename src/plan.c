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

struct plan *
plan_make(const struct program *p)
{
	struct plan	*pl;
	struct stage	*st;
	const struct op	*op;
	size_t		 i;
	int		 grouped = 0;	/* keys unique and partitioned */

	pl = xcalloc(1, sizeof *pl);
	pl->stages = xcalloc(p->nops + 1, sizeof *pl->stages);
	st = &pl->stages[0];
	st->first = 0;
	for (i = 0; i < p->nops; i++) {
		op = &p->ops[i];
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
			grouped = 1;
			break;
		default:
			break;
		}
	}
	st->end = p->nops;
	pl->nstages++;
	return (pl);
}

void
plan_free(struct plan *pl)
{
	if (pl == NULL)
		return;
	free(pl->stages);
	free(pl);
}
