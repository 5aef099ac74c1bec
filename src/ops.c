/* forkflow: see LICENSE. */
/*
 * Operator kernels: run a stage's narrow operators over a batch of records,
 * fused, one operator after the other over the whole batch.  Expressions
 * are evaluated a batch at a time (expr.c); a map or changeKey swaps the
 * result column in, and a filter compacts the batch in place.
 */

#include <string.h>

#include "forkflow.h"

static void
batch_swap(int64_t **a, int64_t **b)
{
	int64_t	*t = *a;

	*a = *b;
	*b = t;
}

/* Set up an empty batch. */
void
batch_init(struct batch *b)
{
	b->n = 0;
	b->k = b->col[0];
	b->v = b->col[1];
	b->tmp = b->col[2];
}

/*
 * Run operators [first, end) of the program over the batch.  Returns 0, or
 * -1 with *failed_op and the failing record's key and value for a run-time
 * error (a division by zero).
 */
int
ops_run(const struct program *p, size_t first, size_t end, struct batch *b,
    struct ops_error *err)
{
	const struct op	*op;
	size_t		 i, j, n, failed;
	int64_t		*t;

	for (i = first; i < end && b->n > 0; i++) {
		op = &p->ops[i];
		n = b->n;
		if (progress_op != NULL)
			*progress_op = (uint32_t)i;
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
	return (0);
}
