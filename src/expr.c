/* forkflow: see LICENSE. */
/*
 * Expressions over a record's key k and value v, as used by map, filter and
 * changeKey: compiling and evaluating them (expr-parse.c makes and folds
 * the tree).  Arithmetic is on int64_t and never undefined: + - * and unary
 * minus wrap, / truncates toward zero, INT64_MIN / -1 is INT64_MIN and
 * INT64_MIN % -1 is 0, and the only error is division or modulo by zero.
 *
 * An expression is kept in two forms.  The tree is what the parser and the
 * builders make and what expr_eval() walks, with C's short-circuit rules.
 * expr_finish() folds it and turns it into a short list of instructions for
 * expr_eval_batch(), each one a tight loop over a whole batch that the
 * compiler can vectorise.  An instruction reads k, v, constants or rows of
 * scratch holding earlier results, and writes a row or the caller's output.
 * The batch form evaluates both sides of && || and ?:, which can only go
 * wrong where a skipped side divides by zero: such lanes are marked and
 * evaluated again with expr_eval(), which also finds the first real error.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libdivide.h>

#include "forkflow.h"
#include "expr-int.h"

/* Inner loops handle this many lanes at once so they vectorise at -O2. */
#define XK_CHUNK	16

/* Where an instruction finds an operand; rows of scratch are >= 0. */
#define XS_OUT		-1		/* result: the caller's output */
#define XS_K		-2
#define XS_V		-3
#define XS_IMM		-4		/* the instruction's immediate */
#define XS_NONE		-5

struct xinsn;
typedef void xkern(const struct xinsn *, int64_t *restrict,
    const int64_t *restrict, const int64_t *restrict,
    const int64_t *restrict, size_t);

/* One loop of the batch form: dst = fn(src[0], src[1], src[2]). */
struct xinsn {
	xkern		*fn;
	int		 dst;		/* a row or XS_OUT */
	int		 src[3];
	int64_t		 imm[3];	/* operands that are XS_IMM */
	uint8_t		*zero;		/* the program's lane marks */
	int		 shift;		/* multiplying by 2^shift */
	struct libdivide_s64_branchfree_t div;	/* by imm[1], |imm[1]| > 1 */
};

/*
 * The batch form of an expression.  Its scratch rows and lane marks are
 * those of the module, shared by every expression (a program may have a
 * hundred thousand of them, and evaluates one at a time): expressions must
 * not be evaluated by two threads at once.  xzero[i] marks a lane that
 * divided by zero somewhere; xzero[BATCH_MAX] says whether any did.  All
 * marks are clear between batches.
 */
struct xprog {
	struct xinsn	*insns;
	size_t		 ninsns;
	int		 nrows;		/* scratch rows, not counting the spare */
	int		 ndivs;		/* divisions by something not constant */
};

static int64_t	*xscratch;		/* xscratch_rows rows of BATCH_MAX */
static size_t	 xscratch_rows;
static uint8_t	 xzero[BATCH_MAX + 1];

/* The shared scratch, with at least rows rows. */
static int64_t *
xscratch_get(size_t rows)
{
	if (rows > xscratch_rows) {
		free(xscratch);
		xscratch = xreallocarray(NULL, rows * BATCH_MAX,
		    sizeof *xscratch);
		xscratch_rows = rows;
	}
	return (xscratch);
}

/* An operand in the batch form, while compiling. */
struct xopd {
	int		 src;
	int64_t		 imm;
};

/* The compiler's state. */
struct xcomp {
	struct xprog	*p;
	size_t		 cap;		/* room in p->insns */
	char		*busy;		/* rows holding a live value */
	int		 nbusy;		/* room in busy */
};

static size_t		 xcount(const struct expr *);
static int		 xrow_alloc(struct xcomp *);
static void		 xrow_free(struct xcomp *, struct xopd);
static struct xopd	 xcompile(struct xcomp *, const struct expr *);
static void		 xselect(struct xcomp *, struct xinsn *,
			     const struct expr *, struct xopd *);
static void		 xselect_binary(struct xcomp *, struct xinsn *,
			     enum expr_op, struct xopd *);
static int		 xmirror(enum expr_op, enum expr_op *);
static int		 xrun(const struct expr *, const int64_t *,
			     const int64_t *, size_t, int64_t *, size_t *);
static int		 xoverlap(const int64_t *, const int64_t *, size_t);
static inline int	 xeval(const struct expr *, int64_t, int64_t, int64_t *);

static inline uint64_t	 xf_nz(int64_t);
static inline int64_t	 xf_less(int64_t, int64_t);
static inline int64_t	 xf_sel(int64_t, int64_t, int64_t);
static inline int64_t	 xf_neg(int64_t);
static inline int64_t	 xf_abs(int64_t);

/*
 * The operations other than / and %, each an expression in x (and y): one
 * definition for the kernels, expr_eval() and, through expr_apply_unary()
 * and expr_apply_binary(), folding in expr-parse.c.  Comparisons and
 * selections use shifts and masks, not compares and branches: SSE2, all that
 * x86-64 promises, has no 64-bit compare, and in this form GCC vectorises
 * them anyway.  X(OP, name, value) stands for XOP_OP.
 */
#define XOPS_BINARY(X)							\
	X(ADD, add, (int64_t)((uint64_t)x + (uint64_t)y))		\
	X(SUB, sub, (int64_t)((uint64_t)x - (uint64_t)y))		\
	X(MUL, mul, (int64_t)((uint64_t)x * (uint64_t)y))		\
	X(LT, lt, xf_less(x, y))					\
	X(LE, le, xf_less(y, x) ^ 1)					\
	X(GT, gt, xf_less(y, x))					\
	X(GE, ge, xf_less(x, y) ^ 1)					\
	X(EQ, eq, (int64_t)(xf_nz(x ^ y) ^ 1))				\
	X(NE, ne, (int64_t)xf_nz(x ^ y))				\
	X(AND, and, (int64_t)(xf_nz(x) & xf_nz(y)))			\
	X(OR, or, (int64_t)xf_nz(x | y))				\
	X(MIN, min, xf_sel(xf_less(x, y), x, y))			\
	X(MAX, max, xf_sel(xf_less(y, x), x, y))
#define XOPS_UNARY(X)							\
	X(NEG, neg, xf_neg(x))						\
	X(NOT, not, (int64_t)(xf_nz(x) ^ 1))				\
	X(ABS, abs, xf_abs(x))

/* Declare xop_name(), the operation, and its kernels. */
#define XOP_DECLARE_BINARY(OP, f, value)				\
	static inline int64_t xop_##f(int64_t, int64_t);		\
	static xkern xk_##f##_aa, xk_##f##_ai;
#define XOP_DECLARE_UNARY(OP, f, value)					\
	static inline int64_t xop_##f(int64_t);				\
	static xkern xk_##f;
XOPS_BINARY(XOP_DECLARE_BINARY)
XOPS_UNARY(XOP_DECLARE_UNARY)
static xkern	xk_sub_ia, xk_shl, xk_mov, xk_fill;
static xkern	xk_sel_aa, xk_sel_ai, xk_sel_ia, xk_sel_ii;
static xkern	xk_div_aa, xk_div_ia, xk_div_ai;
static xkern	xk_mod_aa, xk_mod_ia, xk_mod_ai;

/* Kernels by operation: OP array, array OP array, array OP immediate. */
#define XK_A(OP, f, value)	[XOP_##OP] = xk_##f,
#define XK_AA(OP, f, value)	[XOP_##OP] = xk_##f##_aa,
#define XK_AI(OP, f, value)	[XOP_##OP] = xk_##f##_ai,
static xkern *const xk_a[] = {
	XOPS_UNARY(XK_A)
};
static xkern *const xk_aa[] = {
	XOPS_BINARY(XK_AA)
	[XOP_DIV] = xk_div_aa,
	[XOP_MOD] = xk_mod_aa,
};
static xkern *const xk_ai[] = {
	XOPS_BINARY(XK_AI)
	[XOP_DIV] = xk_div_ai,
	[XOP_MOD] = xk_mod_ai,
};

/*
 * Run stmt for i from 0 to n - 1.  The inner loop has a constant trip count,
 * which is what GCC's cheap vectoriser (the default at -O2) insists on, and
 * is unrolled once vectorised: the loop alone was twice as slow on some
 * alignments.  The last n % XK_CHUNK lanes take the plain loop.
 */
#define XK_LOOP(n, stmt) do {						\
	size_t	 i_, j_, i;						\
									\
	for (i_ = 0; i_ + XK_CHUNK <= (n); i_ += XK_CHUNK) {		\
		_Pragma("GCC unroll 8")					\
		for (j_ = 0; j_ < XK_CHUNK; j_++) {			\
			i = i_ + j_;					\
			stmt;						\
		}							\
	}								\
	for (i = i_; i < (n); i++)					\
		stmt;							\
} while (0)

/*
 * Define xop_f() and its kernels: xk_f_aa() for two arrays, xk_f_ai() for an
 * array and the immediate imm[1].
 */
#define XOP_DEFINE_BINARY(OP, f, value)					\
static inline int64_t							\
xop_##f(int64_t x, int64_t y)						\
{									\
	return (value);							\
}									\
									\
static void								\
xk_##f##_aa(const struct xinsn *in, int64_t *restrict d,		\
    const int64_t *restrict a, const int64_t *restrict b,		\
    const int64_t *restrict c, size_t n)				\
{									\
	(void)in;							\
	(void)c;							\
	XK_LOOP(n, d[i] = xop_##f(a[i], b[i]));				\
}									\
									\
static void								\
xk_##f##_ai(const struct xinsn *in, int64_t *restrict d,		\
    const int64_t *restrict a, const int64_t *restrict b,		\
    const int64_t *restrict c, size_t n)				\
{									\
	const int64_t	 y = in->imm[1];				\
									\
	(void)b;							\
	(void)c;							\
	XK_LOOP(n, d[i] = xop_##f(a[i], y));				\
}

/* Define xop_f() and its kernel xk_f() for a unary operation. */
#define XOP_DEFINE_UNARY(OP, f, value)					\
static inline int64_t							\
xop_##f(int64_t x)							\
{									\
	return (value);							\
}									\
									\
static void								\
xk_##f(const struct xinsn *in, int64_t *restrict d,			\
    const int64_t *restrict a, const int64_t *restrict b,		\
    const int64_t *restrict c, size_t n)				\
{									\
	(void)in;							\
	(void)b;							\
	(void)c;							\
	XK_LOOP(n, d[i] = xop_##f(a[i]));				\
}

/*
 * Define a division of x, a[i] or the immediate imm[0], by an array with
 * expr_div() or expr_mod(): lanes with a zero divisor are marked (and give 0).
 * The hardware divides here, as nothing vectorises a 64-bit division.
 */
#define XK_DIVIDE(name, lane, x)					\
static void								\
name(const struct xinsn *in, int64_t *restrict d,			\
    const int64_t *restrict a, const int64_t *restrict b,		\
    const int64_t *restrict c, size_t n)				\
{									\
	uint8_t *restrict	 zero = in->zero;			\
	const int64_t		 imm = in->imm[0];			\
	uint8_t			 any = 0, z;				\
	size_t			 i;					\
									\
	(void)a;							\
	(void)c;							\
	(void)imm;							\
	for (i = 0; i < n; i++) {					\
		z = (b[i] == 0);					\
		zero[i] |= z;						\
		any |= z;						\
		d[i] = lane(x, b[i]);					\
	}								\
	zero[BATCH_MAX] |= any;						\
}

/* Define a selection a[i] ? y : z, y and z arrays or immediates. */
#define XK_SELECT(name, y, z)						\
static void								\
name(const struct xinsn *in, int64_t *restrict d,			\
    const int64_t *restrict a, const int64_t *restrict b,		\
    const int64_t *restrict c, size_t n)				\
{									\
	const int64_t	 iy = in->imm[1], iz = in->imm[2];		\
									\
	(void)b;							\
	(void)c;							\
	(void)iy;							\
	(void)iz;							\
	XK_LOOP(n, d[i] = xf_sel(a[i], y, z));				\
}

/* 1 if x is not 0, else 0. */
static inline uint64_t
xf_nz(int64_t x)
{
	return (((uint64_t)x | (0 - (uint64_t)x)) >> 63);
}

/* 1 if x < y, else 0: the sign of x - y, corrected for overflow. */
static inline int64_t
xf_less(int64_t x, int64_t y)
{
	uint64_t	 ux = (uint64_t)x, uy = (uint64_t)y, d = ux - uy;

	return ((int64_t)((d ^ ((ux ^ uy) & (d ^ ux))) >> 63));
}

/* c != 0 ? x : y, without a branch. */
static inline int64_t
xf_sel(int64_t c, int64_t x, int64_t y)
{
	uint64_t	 m = 0 - xf_nz(c);

	return ((int64_t)((uint64_t)y ^ (((uint64_t)x ^ (uint64_t)y) & m)));
}

/* Wrapping negation: -INT64_MIN is INT64_MIN. */
static inline int64_t
xf_neg(int64_t x)
{
	return ((int64_t)(0 - (uint64_t)x));
}

/* Absolute value; abs(INT64_MIN) is INT64_MIN. */
static inline int64_t
xf_abs(int64_t x)
{
	uint64_t	 s = 0 - ((uint64_t)x >> 63);

	return ((int64_t)(((uint64_t)x ^ s) - s));
}

XOPS_BINARY(XOP_DEFINE_BINARY)
XOPS_UNARY(XOP_DEFINE_UNARY)
XK_DIVIDE(xk_div_aa, expr_div, a[i])
XK_DIVIDE(xk_div_ia, expr_div, imm)
XK_DIVIDE(xk_mod_aa, expr_mod, a[i])
XK_DIVIDE(xk_mod_ia, expr_mod, imm)
XK_SELECT(xk_sel_aa, b[i], c[i])
XK_SELECT(xk_sel_ai, b[i], iz)
XK_SELECT(xk_sel_ia, iy, c[i])
XK_SELECT(xk_sel_ii, iy, iz)

#define XOP_CASE(OP, f, value)						\
	case XOP_##OP:							\
		return (value);

/* Apply a unary operation. */
int64_t
expr_apply_unary(enum expr_op op, int64_t x)
{
	switch (op) {
	XOPS_UNARY(XOP_CASE)
	default:
		fatalx("%s: bad operation %d", __func__, op);
	}
}

/* Apply a binary operation; the caller checks division by zero. */
int64_t
expr_apply_binary(enum expr_op op, int64_t x, int64_t y)
{
	switch (op) {
	XOPS_BINARY(XOP_CASE)
	case XOP_DIV:
		return (expr_div(x, y));
	case XOP_MOD:
		return (expr_mod(x, y));
	default:
		fatalx("%s: bad operation %d", __func__, op);
	}
}

/*
 * Divide, truncating toward zero; INT64_MIN / -1 is INT64_MIN.  Callers
 * check for zero, but the kernels rely on a zero divisor giving 0.
 */
int64_t
expr_div(int64_t a, int64_t b)
{
	if (b == 0)
		return (0);
	if (b == -1)
		return (xf_neg(a));
	return (a / b);
}

/* C's remainder, with the sign of a; INT64_MIN % -1 is 0 and so is a % 0. */
int64_t
expr_mod(int64_t a, int64_t b)
{
	if (b == 0 || b == -1)
		return (0);
	return (a % b);
}

/* Free a batch form. */
void
expr_prog_free(struct xprog *p)
{
	if (p == NULL)
		return;
	free(p->insns);
	free(p);
}

/* Count the nodes of a tree. */
static size_t
xcount(const struct expr *e)
{
	size_t	 n = 1;
	int	 i;

	for (i = 0; i < 3; i++) {
		if (e->arg[i] != NULL)
			n += xcount(e->arg[i]);
	}
	return (n);
}

/* Take a free row of scratch. */
static int
xrow_alloc(struct xcomp *xc)
{
	int	 row;

	for (row = 0; row < xc->nbusy; row++) {
		if (!xc->busy[row])
			break;
	}
	if (row == xc->nbusy)
		fatalx("%s: out of rows", __func__);
	xc->busy[row] = 1;
	if (row >= xc->p->nrows)
		xc->p->nrows = row + 1;
	return (row);
}

/* Give back an operand's row, if it has one. */
static void
xrow_free(struct xcomp *xc, struct xopd o)
{
	if (o.src >= 0)
		xc->busy[o.src] = 0;
}

/*
 * Emit the instructions computing e and say where its value will be.  The
 * taller operand goes first so that fewer rows are live at once, and the
 * result takes a row distinct from its operands' (kernels take restrict
 * pointers).
 */
static struct xopd
xcompile(struct xcomp *xc, const struct expr *e)
{
	struct xprog	*p = xc->p;
	struct xopd	 o[3], r;
	struct xinsn	*in;
	int		 order[3] = { 0, 1, 2 }, n, i, j, t;

	r.imm = 0;
	switch (e->type) {
	case XN_CONST:
		r.src = XS_IMM;
		r.imm = e->value;
		return (r);
	case XN_VAR:
		r.src = (e->var == 'k') ? XS_K : XS_V;
		return (r);
	case XN_UNARY:
		n = 1;
		break;
	case XN_BINARY:
		n = 2;
		break;
	default:
		n = 3;
		break;
	}
	for (i = 1; i < n; i++) {
		for (j = i; j > 0; j--) {
			if (e->arg[order[j]]->height <=
			    e->arg[order[j - 1]]->height)
				break;
			t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	}
	for (i = 0; i < n; i++)
		o[order[i]] = xcompile(xc, e->arg[order[i]]);
	r.src = xrow_alloc(xc);
	for (i = 0; i < n; i++)
		xrow_free(xc, o[i]);

	if (p->ninsns == xc->cap)
		fatalx("%s: out of instructions", __func__);
	in = &p->insns[p->ninsns++];
	in->dst = r.src;
	in->zero = xzero;
	for (i = 0; i < 3; i++) {
		in->src[i] = (i < n) ? o[i].src : XS_NONE;
		in->imm[i] = (i < n) ? o[i].imm : 0;
	}
	xselect(xc, in, e, o);
	return (r);
}

/* Choose the kernel of an instruction. */
static void
xselect(struct xcomp *xc, struct xinsn *in, const struct expr *e,
    struct xopd *o)
{
	static xkern *const	 sel[2][2] = {
		{ xk_sel_aa, xk_sel_ai }, { xk_sel_ia, xk_sel_ii }
	};

	switch (e->type) {
	case XN_UNARY:
		if (o[0].src == XS_IMM)
			fatalx("%s: unfolded constant", __func__);
		in->fn = xk_a[e->op];
		break;
	case XN_BINARY:
		xselect_binary(xc, in, e->op, o);
		break;
	case XN_COND:
		if (o[0].src == XS_IMM)
			fatalx("%s: unfolded constant", __func__);
		in->fn = sel[o[1].src == XS_IMM][o[2].src == XS_IMM];
		break;
	default:
		fatalx("%s: bad node %d", __func__, e->type);
	}
}

/*
 * Choose the kernel of a binary operation.  A constant left operand is moved
 * to the right where the operation allows.  Division by a constant uses
 * libdivide, except by 1 and -1: a copy and a negation are cheaper, and
 * libdivide's INT64_MIN / -1 overflows (undefined behaviour, not a wrap).
 */
static void
xselect_binary(struct xcomp *xc, struct xinsn *in, enum expr_op op,
    struct xopd *o)
{
	struct xopd	 t;
	enum expr_op	 mop;
	int64_t		 c;

	if (o[0].src == XS_IMM && o[1].src != XS_IMM && xmirror(op, &mop)) {
		t = o[0];
		o[0] = o[1];
		o[1] = t;
		op = mop;
		in->src[0] = o[0].src;
		in->src[1] = o[1].src;
		in->imm[0] = o[0].imm;
		in->imm[1] = o[1].imm;
	}
	if (o[0].src == XS_IMM && o[1].src == XS_IMM)
		fatalx("%s: unfolded constants", __func__);

	if (o[0].src == XS_IMM) {
		switch (op) {
		case XOP_SUB:
			in->fn = xk_sub_ia;
			break;
		case XOP_DIV:
			in->fn = xk_div_ia;
			xc->p->ndivs++;
			break;
		case XOP_MOD:
			in->fn = xk_mod_ia;
			xc->p->ndivs++;
			break;
		default:
			fatalx("%s: bad operation %d", __func__, op);
		}
		return;
	}
	if (o[1].src != XS_IMM) {
		in->fn = xk_aa[op];
		if (op == XOP_DIV || op == XOP_MOD)
			xc->p->ndivs++;
		return;
	}
	c = o[1].imm;
	if (op == XOP_MUL && c != 0 && ((uint64_t)c & ((uint64_t)c - 1)) == 0) {
		/* SSE2 has no 64-bit multiply but can shift. */
		while (((uint64_t)c >> in->shift) != 1)
			in->shift++;
		in->fn = xk_shl;
		return;
	}
	if (op != XOP_DIV && op != XOP_MOD) {
		in->fn = xk_ai[op];
		return;
	}
	if (c == 0)
		fatalx("%s: division by constant zero", __func__);
	if (c == 1 || c == -1) {
		if (op == XOP_MOD) {
			in->fn = xk_fill;
			in->imm[0] = 0;
		} else
			in->fn = (c == 1) ? xk_mov : xk_neg;
		return;
	}
	in->div = libdivide_s64_branchfree_gen(c);
	in->fn = (op == XOP_DIV) ? xk_div_ai : xk_mod_ai;
}

/* The operation op' with c op x == x op' c, if there is one. */
static int
xmirror(enum expr_op op, enum expr_op *mop)
{
	switch (op) {
	case XOP_ADD:
	case XOP_MUL:
	case XOP_EQ:
	case XOP_NE:
	case XOP_AND:
	case XOP_OR:
	case XOP_MIN:
	case XOP_MAX:
		*mop = op;
		return (1);
	case XOP_LT:
		*mop = XOP_GT;
		return (1);
	case XOP_LE:
		*mop = XOP_GE;
		return (1);
	case XOP_GT:
		*mop = XOP_LT;
		return (1);
	case XOP_GE:
		*mop = XOP_LE;
		return (1);
	default:
		return (0);
	}
}

/*
 * Fold the tree and build the batch form; on failure the tree may be partly
 * folded but is still whole.
 */
int
expr_finish(struct expr *e, char **cause, size_t *errpos)
{
	struct xcomp	 xc;
	struct xprog	*p;
	struct xinsn	*in;
	struct xopd	 r;
	size_t		 n;

	expr_prog_free(e->prog);
	e->prog = NULL;
	if (expr_fold(e, cause, errpos) != 0)
		return (-1);

	n = xcount(e);
	p = xcalloc(1, sizeof *p);
	p->insns = xcalloc(n + 1, sizeof *p->insns);
	memset(&xc, 0, sizeof xc);
	xc.p = p;
	xc.cap = n + 1;
	xc.nbusy = (int)n + 1;
	xc.busy = xcalloc(xc.nbusy, sizeof *xc.busy);

	r = xcompile(&xc, e);
	if (r.src >= 0)
		p->insns[p->ninsns - 1].dst = XS_OUT;
	else {
		/* A constant or a variable alone. */
		in = &p->insns[p->ninsns++];
		in->dst = XS_OUT;
		in->src[0] = r.src;
		in->src[1] = in->src[2] = XS_NONE;
		in->imm[0] = r.imm;
		in->zero = xzero;
		in->fn = (r.src == XS_IMM) ? xk_fill : xk_mov;
	}
	free(xc.busy);
	e->prog = p;
	return (0);
}

/* Evaluate an operand, without a call for a constant or a variable. */
static inline int
xeval(const struct expr *e, int64_t k, int64_t v, int64_t *res)
{
	if (e->type == XN_CONST) {
		*res = e->value;
		return (0);
	}
	if (e->type == XN_VAR) {
		*res = (e->var == 'k') ? k : v;
		return (0);
	}
	return (expr_eval(e, k, v, res));
}

/* Evaluate an expression for one record, with C's short circuits. */
int
expr_eval(const struct expr *e, int64_t k, int64_t v, int64_t *res)
{
	int64_t	 a, b;

	switch (e->type) {
	case XN_CONST:
	case XN_VAR:
		return (xeval(e, k, v, res));
	case XN_UNARY:
		if (xeval(e->arg[0], k, v, &a) != 0)
			return (-1);
		*res = expr_apply_unary(e->op, a);
		return (0);
	case XN_COND:
		if (xeval(e->arg[0], k, v, &a) != 0)
			return (-1);
		return (xeval(e->arg[a != 0 ? 1 : 2], k, v, res));
	case XN_BINARY:
		break;
	}

	if (xeval(e->arg[0], k, v, &a) != 0)
		return (-1);
	if (e->op == XOP_AND && a == 0) {
		*res = 0;
		return (0);
	}
	if (e->op == XOP_OR && a != 0) {
		*res = 1;
		return (0);
	}
	if (xeval(e->arg[1], k, v, &b) != 0)
		return (-1);
	if ((e->op == XOP_DIV || e->op == XOP_MOD) && b == 0)
		return (-1);
	*res = expr_apply_binary(e->op, a, b);
	return (0);
}

/* Whether n values from a overlap n values from b. */
static int
xoverlap(const int64_t *a, const int64_t *b, size_t n)
{
	uintptr_t	 x = (uintptr_t)a, y = (uintptr_t)b;
	size_t		 len = n * sizeof *a;

	return (x < y + len && y < x + len);
}

/*
 * Run the batch form over n <= BATCH_MAX records.  If out overlaps k or v
 * the last instruction writes the spare row instead, and lanes marked by a
 * division are evaluated again from k and v, which must still be intact.
 */
static int
xrun(const struct expr *e, const int64_t *k, const int64_t *v, size_t n,
    int64_t *out, size_t *failed)
{
	struct xprog		*p = e->prog;
	const struct xinsn	*in;
	int64_t			*fin, *dst;
	const int64_t		*src[3];
	int64_t			*scratch;
	size_t			 i;
	int			 j;

	scratch = xscratch_get((size_t)p->nrows + 1);
	fin = out;
	if (xoverlap(out, k, n) || xoverlap(out, v, n))
		fin = scratch + (size_t)p->nrows * BATCH_MAX;
	for (i = 0; i < p->ninsns; i++) {
		in = &p->insns[i];
		for (j = 0; j < 3; j++) {
			switch (in->src[j]) {
			case XS_K:
				src[j] = k;
				break;
			case XS_V:
				src[j] = v;
				break;
			case XS_IMM:
			case XS_NONE:
				src[j] = NULL;
				break;
			default:
				src[j] = scratch +
				    (size_t)in->src[j] * BATCH_MAX;
				break;
			}
		}
		dst = fin;
		if (in->dst != XS_OUT)
			dst = scratch + (size_t)in->dst * BATCH_MAX;
		in->fn(in, dst, src[0], src[1], src[2], n);
	}

	if (p->ndivs != 0 && xzero[BATCH_MAX]) {
		for (i = 0; i < n; i++) {
			if (xzero[i] &&
			    expr_eval(e, k[i], v[i], &fin[i]) != 0) {
				memset(xzero, 0, sizeof xzero);
				*failed = i;
				return (-1);
			}
		}
		memset(xzero, 0, sizeof xzero);
	}
	if (fin != out)
		memcpy(out, fin, n * sizeof *out);
	return (0);
}

/*
 * Evaluate an expression for n records: out[i] is the value for k[i] and
 * v[i].  out may be k or v but must not overlap them otherwise.  On division
 * by zero, *failed is the first record whose expr_eval() fails.
 */
int
expr_eval_batch(const struct expr *e, const int64_t *k, const int64_t *v,
    size_t n, int64_t *out, size_t *failed)
{
	size_t	 done, m;

	if (e->prog == NULL) {
		/* Not finished: slow but right. */
		for (done = 0; done < n; done++) {
			if (expr_eval(e, k[done], v[done], &out[done]) != 0) {
				*failed = done;
				return (-1);
			}
		}
		return (0);
	}
	for (done = 0; done < n; done += m) {
		m = n - done;
		if (m > BATCH_MAX)
			m = BATCH_MAX;
		if (xrun(e, k + done, v + done, m, out + done, failed) != 0) {
			*failed += done;
			return (-1);
		}
	}
	return (0);
}

/* Immediate minus array. */
static void
xk_sub_ia(const struct xinsn *in, int64_t *restrict d,
    const int64_t *restrict a, const int64_t *restrict b,
    const int64_t *restrict c, size_t n)
{
	const int64_t	 x = in->imm[0];

	(void)a;
	(void)c;
	XK_LOOP(n, d[i] = xop_sub(x, b[i]));
}

/* Multiply by 2^shift. */
static void
xk_shl(const struct xinsn *in, int64_t *restrict d,
    const int64_t *restrict a, const int64_t *restrict b,
    const int64_t *restrict c, size_t n)
{
	const int	 shift = in->shift;

	(void)b;
	(void)c;
	XK_LOOP(n, d[i] = (int64_t)((uint64_t)a[i] << shift));
}

/* Copy an array. */
static void
xk_mov(const struct xinsn *in, int64_t *restrict d,
    const int64_t *restrict a, const int64_t *restrict b,
    const int64_t *restrict c, size_t n)
{
	(void)in;
	(void)b;
	(void)c;
	memcpy(d, a, n * sizeof *d);
}

/* Fill with the immediate imm[0]. */
static void
xk_fill(const struct xinsn *in, int64_t *restrict d,
    const int64_t *restrict a, const int64_t *restrict b,
    const int64_t *restrict c, size_t n)
{
	const int64_t	 x = in->imm[0];

	(void)a;
	(void)b;
	(void)c;
	XK_LOOP(n, d[i] = x);
}

/* Divide by a constant other than 0, 1 and -1 with libdivide. */
static void
xk_div_ai(const struct xinsn *in, int64_t *restrict d,
    const int64_t *restrict a, const int64_t *restrict b,
    const int64_t *restrict c, size_t n)
{
	const struct libdivide_s64_branchfree_t	 dv = in->div;

	(void)b;
	(void)c;
	XK_LOOP(n, d[i] = libdivide_s64_branchfree_do(a[i], &dv));
}

/* Modulo by a constant other than 0, 1 and -1: a - (a / c) * c. */
static void
xk_mod_ai(const struct xinsn *in, int64_t *restrict d,
    const int64_t *restrict a, const int64_t *restrict b,
    const int64_t *restrict c, size_t n)
{
	const struct libdivide_s64_branchfree_t	 dv = in->div;
	const int64_t				 y = in->imm[1];

	(void)b;
	(void)c;
	XK_LOOP(n, d[i] = xop_sub(a[i],
	    xop_mul(libdivide_s64_branchfree_do(a[i], &dv), y)));
}
