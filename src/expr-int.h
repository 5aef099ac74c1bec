/* forkflow: see LICENSE. */
/*
 * Private to the two halves of expressions: the tree, which expr-parse.c
 * builds and folds and expr.c compiles and evaluates, and the few
 * functions each half takes from the other.  Nothing else includes it;
 * include it after forkflow.h.
 */

#ifndef EXPR_INT_H
#define EXPR_INT_H

/* What a node of the tree is. */
enum xnode {
	XN_CONST,
	XN_VAR,
	XN_UNARY,
	XN_BINARY,
	XN_COND,		/* arg[0] ? arg[1] : arg[2] */
};

struct xprog;

/* A node of an expression; the root also holds the batch form. */
struct expr {
	enum xnode	 type;
	enum expr_op	 op;		/* XN_UNARY, XN_BINARY */
	int64_t		 value;		/* XN_CONST */
	int		 var;		/* XN_VAR: 'k' or 'v' */
	int		 height;	/* 1 for a leaf */
	int		 canfail;	/* divides by something not constant */
	size_t		 pos;		/* offset in the source; 0 if built */
	struct expr	*arg[3];
	struct xprog	*prog;		/* root only, once finished */
};

/* expr-parse.c */
int		 expr_fold(struct expr *, char **, size_t *);

/* expr.c */
void		 expr_prog_free(struct xprog *);
int64_t		 expr_apply_unary(enum expr_op, int64_t);
int64_t		 expr_apply_binary(enum expr_op, int64_t, int64_t);

#endif /* EXPR_INT_H */
