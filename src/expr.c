/* forkflow: see LICENSE. */
/*
 * Expressions over a record's key k and value v, as used by map, filter and
 * changeKey: parsing, constant folding and evaluation.  Arithmetic is on
 * int64_t and never undefined: + - * and unary minus wrap, / truncates
 * toward zero, INT64_MIN / -1 is INT64_MIN and INT64_MIN % -1 is 0, and the
 * only error is division or modulo by zero.
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

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libdivide.h>

#include "forkflow.h"

#define XNEST_MAX	256	/* deepest nesting the parser recurses into */
#define XHEIGHT_MAX	1024	/* tallest tree the parser builds */
#define XTOKEN_SHOW	32	/* longest token quoted in a message */

#define XNITEMS(a)	(sizeof (a) / sizeof (a)[0])

/* Inner loops handle this many lanes at once so they vectorise at -O2. */
#define XK_CHUNK	16

/* What a node of the tree is. */
enum xnode {
	XN_CONST,
	XN_VAR,
	XN_UNARY,
	XN_BINARY,
	XN_COND,		/* arg[0] ? arg[1] : arg[2] */
};

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

/* Tokens other than single characters, which stand for themselves. */
enum {
	XT_END = 256,
	XT_NUM,
	XT_IDENT,
	XT_LE,
	XT_GE,
	XT_EQ,
	XT_NE,
	XT_AND,
	XT_OR,
	XT_BAD,			/* the lexer has already complained */
};

/* A token: where it is and, for numbers, its value. */
struct xtok {
	int		 type;
	size_t		 pos;
	size_t		 len;
	uint64_t	 num;		/* XT_NUM; above 2^63 if out of range */
};

/* The parser's state. */
struct xparse {
	const char	*src;
	size_t		 off;		/* where the next token starts */
	struct xtok	 tok;		/* the current token */
	int		 nest;
	char		*cause;		/* the first error */
	size_t		 errpos;
};

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

static struct expr	*xnode(enum xnode, size_t);
static struct expr	*xnode_unary(enum expr_op, struct expr *, size_t);
static struct expr	*xnode_binary(enum expr_op, struct expr *, struct expr *,
			     size_t);
static void		 xupdate(struct expr *);
static void		 xfree_args(struct expr *);
static void		 xprog_free(struct xprog *);

static int		 xisdigit(int);
static int		 xisident(int);
static void		 xerror(struct xparse *, size_t, const char *, ...)
			     printflike(3, 4);
static void		 xlex(struct xparse *);
static void		 xunexpected(struct xparse *, const char *);
static int		 xenter(struct xparse *);
static struct expr	*xp_check(struct xparse *, struct expr *);
static struct expr	*xp_cond(struct xparse *);
static struct expr	*xp_binary(struct xparse *, int);
static struct expr	*xp_unary(struct xparse *);
static struct expr	*xp_primary(struct xparse *);
static struct expr	*xp_ident(struct xparse *);
static int		 xbinop(int, enum expr_op *);

static int		 xfold(struct expr *, char **, size_t *);
static int		 xfold_binary(struct expr *, char **, size_t *);
static void		 xbecome(struct expr *, int);
static void		 xset_const(struct expr *, int64_t);
static void		 xset_unary(struct expr *, enum expr_op, int);
static void		 xset_bool(struct expr *, int);
static int		 xisbool(const struct expr *);

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
static int64_t		 xf_unary(enum expr_op, int64_t);
static int64_t		 xf_binary(enum expr_op, int64_t, int64_t);

/*
 * The operations other than / and %, each an expression in x (and y): one
 * definition for folding, expr_eval() and the kernels.  Comparisons and
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

/* Binary operators: token, operation, precedence (higher binds tighter). */
static const struct {
	int		 type;
	enum expr_op	 op;
	int		 prec;
} xbinops[] = {
	{ XT_OR, XOP_OR, 1 },
	{ XT_AND, XOP_AND, 2 },
	{ XT_EQ, XOP_EQ, 3 }, { XT_NE, XOP_NE, 3 },
	{ '<', XOP_LT, 4 }, { XT_LE, XOP_LE, 4 },
	{ '>', XOP_GT, 4 }, { XT_GE, XOP_GE, 4 },
	{ '+', XOP_ADD, 5 }, { '-', XOP_SUB, 5 },
	{ '*', XOP_MUL, 6 }, { '/', XOP_DIV, 6 }, { '%', XOP_MOD, 6 },
};

/* Tokens of two characters. */
static const struct {
	const char	*text;
	int		 type;
} xpairs[] = {
	{ "<=", XT_LE }, { ">=", XT_GE }, { "==", XT_EQ }, { "!=", XT_NE },
	{ "&&", XT_AND }, { "||", XT_OR },
};

/* Functions. */
static const struct {
	const char	*name;
	enum expr_op	 op;
	int		 nargs;
} xfuncs[] = {
	{ "abs", XOP_ABS, 1 },
	{ "min", XOP_MIN, 2 },
	{ "max", XOP_MAX, 2 },
};

#define XISCONST(e)	((e)->type == XN_CONST)
#define XISVALUE(e, c)	((e)->type == XN_CONST && (e)->value == (c))

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
static int64_t
xf_unary(enum expr_op op, int64_t x)
{
	switch (op) {
	XOPS_UNARY(XOP_CASE)
	default:
		fatalx("%s: bad operation %d", __func__, op);
	}
}

/* Apply a binary operation; the caller checks division by zero. */
static int64_t
xf_binary(enum expr_op op, int64_t x, int64_t y)
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

/* Allocate a node. */
static struct expr *
xnode(enum xnode type, size_t pos)
{
	struct expr	*e;

	e = xcalloc(1, sizeof *e);
	e->type = type;
	e->pos = pos;
	e->height = 1;
	return (e);
}

/* Make a unary node, owning its operand. */
static struct expr *
xnode_unary(enum expr_op op, struct expr *a, size_t pos)
{
	struct expr	*e;

	e = xnode(XN_UNARY, pos);
	e->op = op;
	e->arg[0] = a;
	xupdate(e);
	return (e);
}

/* Make a binary node, owning its operands. */
static struct expr *
xnode_binary(enum expr_op op, struct expr *a, struct expr *b, size_t pos)
{
	struct expr	*e;

	e = xnode(XN_BINARY, pos);
	e->op = op;
	e->arg[0] = a;
	e->arg[1] = b;
	xupdate(e);
	return (e);
}

/* Recompute what a node knows about its operands. */
static void
xupdate(struct expr *e)
{
	int	 i;

	e->height = 1;
	e->canfail = 0;
	for (i = 0; i < 3; i++) {
		if (e->arg[i] == NULL)
			continue;
		if (e->arg[i]->height >= e->height)
			e->height = e->arg[i]->height + 1;
		e->canfail |= e->arg[i]->canfail;
	}
	if (e->type == XN_BINARY && (e->op == XOP_DIV || e->op == XOP_MOD) &&
	    (!XISCONST(e->arg[1]) || e->arg[1]->value == 0))
		e->canfail = 1;
}

/* Free the operands of a node. */
static void
xfree_args(struct expr *e)
{
	int	 i;

	for (i = 0; i < 3; i++) {
		expr_free(e->arg[i]);
		e->arg[i] = NULL;
	}
}

/* Free a batch form. */
static void
xprog_free(struct xprog *p)
{
	if (p == NULL)
		return;
	free(p->insns);
	free(p);
}

/* A variable, 'k' or 'v'. */
struct expr *
expr_var(int c)
{
	struct expr	*e;

	if (c != 'k' && c != 'v')
		fatalx("%s: bad variable %d", __func__, c);
	e = xnode(XN_VAR, 0);
	e->var = c;
	return (e);
}

/* A constant. */
struct expr *
expr_const(int64_t value)
{
	struct expr	*e;

	e = xnode(XN_CONST, 0);
	e->value = value;
	return (e);
}

/* Apply XOP_NEG, XOP_NOT or XOP_ABS to an expression, which it takes. */
struct expr *
expr_unary(enum expr_op op, struct expr *a)
{
	if (op != XOP_NEG && op != XOP_NOT && op != XOP_ABS)
		fatalx("%s: bad operation %d", __func__, op);
	xprog_free(a->prog);
	a->prog = NULL;
	return (xnode_unary(op, a, 0));
}

/* Apply a binary operation to two expressions, which it takes. */
struct expr *
expr_binary(enum expr_op op, struct expr *a, struct expr *b)
{
	if (op < XOP_ADD || op > XOP_MAX)
		fatalx("%s: bad operation %d", __func__, op);
	xprog_free(a->prog);
	a->prog = NULL;
	xprog_free(b->prog);
	b->prog = NULL;
	return (xnode_binary(op, a, b, 0));
}

/* Free an expression. */
void
expr_free(struct expr *e)
{
	if (e == NULL)
		return;
	xfree_args(e);
	xprog_free(e->prog);
	free(e);
}

/* Whether an expression mentions variable c. */
int
expr_uses(const struct expr *e, int c)
{
	int	 i;

	if (e->type == XN_VAR)
		return (e->var == c);
	for (i = 0; i < 3; i++) {
		if (e->arg[i] != NULL && expr_uses(e->arg[i], c))
			return (1);
	}
	return (0);
}

static int
xisdigit(int ch)
{
	return (ch >= '0' && ch <= '9');
}

static int
xisident(int ch)
{
	return ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    xisdigit(ch) || ch == '_');
}

/* Record a parse error unless there is one already. */
static void
xerror(struct xparse *xp, size_t pos, const char *fmt, ...)
{
	va_list	 ap;

	if (xp->cause != NULL)
		return;
	va_start(ap, fmt);
	xvasprintf(&xp->cause, fmt, ap);
	va_end(ap);
	xp->errpos = pos;
}

/* Read the next token into xp->tok, complaining about bad ones. */
static void
xlex(struct xparse *xp)
{
	const char	*s = xp->src;
	struct xtok	*t = &xp->tok;
	size_t		 off = xp->off;
	uint64_t	 big = (uint64_t)INT64_MAX + 1, d;
	size_t		 i;
	int		 ch, next;

	while (s[off] == ' ' || s[off] == '\t' || s[off] == '\n' ||
	    s[off] == '\r')
		off++;
	t->pos = off;
	t->num = 0;
	ch = (unsigned char)s[off];
	next = (ch == '\0') ? '\0' : (unsigned char)s[off + 1];
	for (i = 0; i < XNITEMS(xpairs); i++) {
		if (xpairs[i].text[0] == ch && xpairs[i].text[1] == next)
			break;
	}

	if (ch == '\0') {
		t->type = XT_END;
	} else if (xisdigit(ch)) {
		/* Saturate just above 2^63: only 2^63 itself is special. */
		for (; xisdigit(s[off]); off++) {
			d = s[off] - '0';
			if (t->num > (big - d) / 10)
				t->num = big + 1;
			else
				t->num = t->num * 10 + d;
		}
		t->type = XT_NUM;
		if (xisident(s[off])) {
			while (xisident(s[off]))
				off++;
			t->type = XT_BAD;
			xerror(xp, t->pos, "invalid integer literal '%.*s'",
			    (int)(off - t->pos), s + t->pos);
		} else if (ch == '0' && off - t->pos > 1) {
			t->type = XT_BAD;
			xerror(xp, t->pos, "leading zero in integer literal "
			    "'%.*s'", (int)(off - t->pos), s + t->pos);
		}
	} else if (xisident(ch)) {
		while (xisident(s[off]))
			off++;
		t->type = XT_IDENT;
	} else if (i < XNITEMS(xpairs)) {
		t->type = xpairs[i].type;
		off += 2;
	} else if (strchr("+-*/%<>!?:(),", ch) != NULL) {
		t->type = ch;
		off++;
	} else {
		t->type = XT_BAD;
		off++;
		if (ch == '=' || ch == '&' || ch == '|') {
			xerror(xp, t->pos, "unexpected '%c' (did you mean "
			    "'%c%c'?)", ch, ch, ch);
		} else if (ch > ' ' && ch < 0x7f)
			xerror(xp, t->pos, "unexpected '%c'", ch);
		else
			xerror(xp, t->pos, "unexpected byte 0x%02x", ch);
	}
	t->len = off - t->pos;
	xp->off = off;
}

/* Complain about the current token; what is the token wanted, or NULL. */
static void
xunexpected(struct xparse *xp, const char *what)
{
	struct xtok	*t = &xp->tok;
	const char	*more = "";
	int		 len = (int)t->len;

	if (t->type == XT_END) {
		if (what == NULL)
			xerror(xp, t->pos, "unexpected end of expression");
		else {
			xerror(xp, t->pos, "expected %s but found end of "
			    "expression", what);
		}
		return;
	}
	if (len > XTOKEN_SHOW) {
		len = XTOKEN_SHOW;
		more = "...";
	}
	if (what == NULL) {
		xerror(xp, t->pos, "unexpected '%.*s%s'", len,
		    xp->src + t->pos, more);
	} else {
		xerror(xp, t->pos, "expected %s but found '%.*s%s'", what, len,
		    xp->src + t->pos, more);
	}
}

/* Go one level deeper into the parser; fails if that is too deep. */
static int
xenter(struct xparse *xp)
{
	if (++xp->nest > XNEST_MAX) {
		xerror(xp, xp->tok.pos, "expression nested too deeply");
		return (-1);
	}
	return (0);
}

/* Refuse a node that makes the tree too tall (NULL is passed through). */
static struct expr *
xp_check(struct xparse *xp, struct expr *e)
{
	if (e != NULL && e->height > XHEIGHT_MAX) {
		xerror(xp, e->pos, "expression nested too deeply");
		expr_free(e);
		return (NULL);
	}
	return (e);
}

/* Parse a conditional expression, the lowest level of precedence. */
static struct expr *
xp_cond(struct xparse *xp)
{
	struct expr	*c = NULL, *a = NULL, *b, *e = NULL;
	size_t		 pos;

	if (xenter(xp) != 0)
		goto out;
	if ((c = xp_binary(xp, 1)) == NULL)
		goto out;
	if (xp->tok.type != '?') {
		e = c;
		goto out;
	}
	pos = xp->tok.pos;
	xlex(xp);
	if ((a = xp_cond(xp)) == NULL)
		goto out;
	if (xp->tok.type != ':') {
		xunexpected(xp, "':'");
		goto out;
	}
	xlex(xp);
	if ((b = xp_cond(xp)) == NULL)
		goto out;
	e = xnode(XN_COND, pos);
	e->arg[0] = c;
	e->arg[1] = a;
	e->arg[2] = b;
	xupdate(e);
	e = xp_check(xp, e);
	c = a = NULL;
out:
	if (e == NULL) {
		expr_free(c);
		expr_free(a);
	}
	xp->nest--;
	return (e);
}

/* The precedence of a binary operator token (0 if it is not one). */
static int
xbinop(int type, enum expr_op *op)
{
	size_t	 i;

	for (i = 0; i < XNITEMS(xbinops); i++) {
		if (xbinops[i].type == type) {
			*op = xbinops[i].op;
			return (xbinops[i].prec);
		}
	}
	return (0);
}

/* Parse left-associative binary operators of precedence minprec or more. */
static struct expr *
xp_binary(struct xparse *xp, int minprec)
{
	struct expr	*a, *b;
	enum expr_op	 op;
	size_t		 pos;
	int		 prec;

	if ((a = xp_unary(xp)) == NULL)
		return (NULL);
	while ((prec = xbinop(xp->tok.type, &op)) >= minprec) {
		pos = xp->tok.pos;
		xlex(xp);
		if ((b = xp_binary(xp, prec + 1)) == NULL) {
			expr_free(a);
			return (NULL);
		}
		if ((a = xp_check(xp, xnode_binary(op, a, b, pos))) == NULL)
			return (NULL);
	}
	return (a);
}

/*
 * Parse unary operators.  9223372036854775808 is allowed right after a minus
 * sign, so that INT64_MIN can be written as in C's limits.h.
 */
static struct expr *
xp_unary(struct xparse *xp)
{
	struct expr	*e = NULL, *a;
	struct xtok	*t = &xp->tok;
	enum expr_op	 op;
	size_t		 pos;
	int		 type = t->type;

	if (type != '-' && type != '!' && type != '+')
		return (xp_primary(xp));
	if (xenter(xp) != 0)
		goto out;
	pos = t->pos;
	xlex(xp);
	if (type == '-' && t->type == XT_NUM) {
		if (t->num > (uint64_t)INT64_MAX + 1) {
			xerror(xp, t->pos, "integer literal out of range");
			goto out;
		}
		e = xnode(XN_CONST, pos);
		e->value = (int64_t)(0 - t->num);
		xlex(xp);
		goto out;
	}
	if ((a = xp_unary(xp)) == NULL)
		goto out;
	if (type == '+') {
		e = a;
		goto out;
	}
	op = (type == '-') ? XOP_NEG : XOP_NOT;
	e = xp_check(xp, xnode_unary(op, a, pos));
out:
	xp->nest--;
	return (e);
}

/* Parse a literal, a variable, a call or an expression in parentheses. */
static struct expr *
xp_primary(struct xparse *xp)
{
	struct expr	*e;
	struct xtok	*t = &xp->tok;

	switch (t->type) {
	case XT_NUM:
		if (t->num > INT64_MAX) {
			xerror(xp, t->pos, "integer literal out of range");
			return (NULL);
		}
		e = xnode(XN_CONST, t->pos);
		e->value = (int64_t)t->num;
		xlex(xp);
		return (e);
	case XT_IDENT:
		return (xp_ident(xp));
	case '(':
		xlex(xp);
		if ((e = xp_cond(xp)) == NULL)
			return (NULL);
		if (t->type != ')') {
			xunexpected(xp, "')'");
			expr_free(e);
			return (NULL);
		}
		xlex(xp);
		return (e);
	}
	xunexpected(xp, NULL);
	return (NULL);
}

/* Parse a variable or a call of abs, min or max. */
static struct expr *
xp_ident(struct xparse *xp)
{
	struct xtok	*t = &xp->tok;
	struct expr	*e, *a = NULL, *b = NULL;
	const char	*s = xp->src + t->pos, *name, *after, *more = "";
	enum expr_op	 op;
	size_t		 pos = t->pos, i;
	int		 nargs, len = (int)t->len;

	if (len == 1 && (*s == 'k' || *s == 'v')) {
		e = xnode(XN_VAR, pos);
		e->var = *s;
		xlex(xp);
		return (e);
	}
	for (i = 0; i < XNITEMS(xfuncs); i++) {
		if (strlen(xfuncs[i].name) == t->len &&
		    strncmp(s, xfuncs[i].name, t->len) == 0)
			break;
	}
	if (i == XNITEMS(xfuncs)) {
		after = s + len;
		after += strspn(after, " \t\n\r");
		if (len > XTOKEN_SHOW) {
			len = XTOKEN_SHOW;
			more = "...";
		}
		if (*after == '(') {
			xerror(xp, pos, "unknown function '%.*s%s' (use abs, "
			    "min or max)", len, s, more);
		} else {
			xerror(xp, pos, "unknown identifier '%.*s%s' (use k or "
			    "v)", len, s, more);
		}
		return (NULL);
	}
	name = xfuncs[i].name;
	op = xfuncs[i].op;
	nargs = xfuncs[i].nargs;

	xlex(xp);
	if (t->type != '(') {
		xerror(xp, t->pos, "expected '(' after '%s'", name);
		return (NULL);
	}
	xlex(xp);
	if (t->type == ')')
		goto nargs;
	if ((a = xp_cond(xp)) == NULL)
		return (NULL);
	if (nargs == 2) {
		if (t->type == ')')
			goto nargs;
		if (t->type != ',') {
			xunexpected(xp, "','");
			goto fail;
		}
		xlex(xp);
		if ((b = xp_cond(xp)) == NULL)
			goto fail;
	}
	if (t->type == ',')
		goto nargs;
	if (t->type != ')') {
		xunexpected(xp, "')'");
		goto fail;
	}
	xlex(xp);
	if (nargs == 1)
		return (xp_check(xp, xnode_unary(op, a, pos)));
	return (xp_check(xp, xnode_binary(op, a, b, pos)));

nargs:
	xerror(xp, t->pos, "'%s' takes %d argument%s", name, nargs,
	    nargs == 1 ? "" : "s");
fail:
	expr_free(a);
	expr_free(b);
	return (NULL);
}

/* Parse and finish an expression. */
struct expr *
expr_parse(const char *src, char **cause, size_t *errpos)
{
	struct xparse	 xp;
	struct expr	*e = NULL;

	memset(&xp, 0, sizeof xp);
	xp.src = src;
	xlex(&xp);
	if (xp.tok.type == XT_END)
		xerror(&xp, 0, "empty expression");
	else if ((e = xp_cond(&xp)) != NULL && xp.tok.type != XT_END) {
		xunexpected(&xp, NULL);
		expr_free(e);
		e = NULL;
	}
	if (e == NULL) {
		if (cause != NULL)
			*cause = xp.cause;
		else
			free(xp.cause);
		if (errpos != NULL)
			*errpos = xp.errpos;
		return (NULL);
	}
	if (expr_finish(e, cause, errpos) != 0) {
		expr_free(e);
		return (NULL);
	}
	return (e);
}

/* Replace a node by its operand i. */
static void
xbecome(struct expr *e, int i)
{
	struct expr	*a = e->arg[i];
	struct xprog	*prog = e->prog;

	e->arg[i] = NULL;
	xfree_args(e);
	*e = *a;
	e->prog = prog;
	free(a);
}

/* Replace a node by a constant. */
static void
xset_const(struct expr *e, int64_t value)
{
	xfree_args(e);
	e->type = XN_CONST;
	e->value = value;
}

/* Replace a node by a unary operation on its operand i. */
static void
xset_unary(struct expr *e, enum expr_op op, int i)
{
	struct expr	*a = e->arg[i];

	e->arg[i] = NULL;
	xfree_args(e);
	e->type = XN_UNARY;
	e->op = op;
	e->arg[0] = a;
}

/* Replace a node by operand i as a truth value, 0 or 1. */
static void
xset_bool(struct expr *e, int i)
{
	struct expr	*a = e->arg[i];

	if (xisbool(a)) {
		xbecome(e, i);
		return;
	}
	e->arg[i] = NULL;
	xfree_args(e);
	e->type = XN_BINARY;
	e->op = XOP_NE;
	e->arg[0] = a;
	e->arg[1] = xnode(XN_CONST, e->pos);
}

/* Whether a node's value is always 0 or 1. */
static int
xisbool(const struct expr *e)
{
	switch (e->type) {
	case XN_CONST:
		return (e->value == 0 || e->value == 1);
	case XN_UNARY:
		return (e->op == XOP_NOT);
	case XN_BINARY:
		return (e->op >= XOP_LT && e->op <= XOP_OR);
	default:
		return (0);
	}
}

/*
 * Fold constants, in place so that the root stays where the caller has it.
 * Any division by a constant zero is refused, even in a branch that cannot
 * be taken: it is always a mistake.  Operands that are dropped must not be
 * able to fail (x * 0 stays when x may divide by zero).
 */
static int
xfold(struct expr *e, char **cause, size_t *errpos)
{
	int	 i;

	for (i = 0; i < 3; i++) {
		if (e->arg[i] != NULL && xfold(e->arg[i], cause, errpos) != 0)
			return (-1);
	}
	switch (e->type) {
	case XN_UNARY:
		if (XISCONST(e->arg[0]))
			xset_const(e, xf_unary(e->op, e->arg[0]->value));
		break;
	case XN_BINARY:
		if (xfold_binary(e, cause, errpos) != 0)
			return (-1);
		break;
	case XN_COND:
		if (XISCONST(e->arg[0]))
			xbecome(e, e->arg[0]->value != 0 ? 1 : 2);
		break;
	default:
		break;
	}
	xupdate(e);
	return (0);
}

/* Fold a binary node whose operands are folded. */
static int
xfold_binary(struct expr *e, char **cause, size_t *errpos)
{
	struct expr	*a = e->arg[0], *b = e->arg[1];
	int		 i;

	if ((e->op == XOP_DIV || e->op == XOP_MOD) && XISVALUE(b, 0)) {
		if (cause != NULL) {
			xasprintf(cause, "%s by constant zero",
			    e->op == XOP_DIV ? "division" : "modulo");
		}
		if (errpos != NULL)
			*errpos = e->pos;
		return (-1);
	}
	if (XISCONST(a) && XISCONST(b)) {
		xset_const(e, xf_binary(e->op, a->value, b->value));
		return (0);
	}

	switch (e->op) {
	case XOP_AND:
		if (XISCONST(a)) {
			if (a->value == 0)
				xset_const(e, 0);
			else
				xset_bool(e, 1);
		} else if (XISCONST(b)) {
			if (b->value != 0)
				xset_bool(e, 0);
			else if (!a->canfail)
				xset_const(e, 0);
		}
		break;
	case XOP_OR:
		if (XISCONST(a)) {
			if (a->value != 0)
				xset_const(e, 1);
			else
				xset_bool(e, 1);
		} else if (XISCONST(b)) {
			if (b->value == 0)
				xset_bool(e, 0);
			else if (!a->canfail)
				xset_const(e, 1);
		}
		break;
	case XOP_ADD:
		if (XISVALUE(a, 0))
			xbecome(e, 1);
		else if (XISVALUE(b, 0))
			xbecome(e, 0);
		break;
	case XOP_SUB:
		if (XISVALUE(b, 0))
			xbecome(e, 0);
		else if (XISVALUE(a, 0))
			xset_unary(e, XOP_NEG, 1);
		break;
	case XOP_MUL:
		i = XISCONST(a) ? 0 : 1;
		if (!XISCONST(e->arg[i]))
			break;
		if (e->arg[i]->value == 1)
			xbecome(e, 1 - i);
		else if (e->arg[i]->value == -1)
			xset_unary(e, XOP_NEG, 1 - i);
		else if (e->arg[i]->value == 0 && !e->arg[1 - i]->canfail)
			xset_const(e, 0);
		break;
	case XOP_DIV:
		if (XISVALUE(b, 1))
			xbecome(e, 0);
		else if (XISVALUE(b, -1))
			xset_unary(e, XOP_NEG, 0);
		break;
	case XOP_MOD:
		if ((XISVALUE(b, 1) || XISVALUE(b, -1)) && !a->canfail)
			xset_const(e, 0);
		break;
	default:
		break;
	}
	return (0);
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

	xprog_free(e->prog);
	e->prog = NULL;
	if (xfold(e, cause, errpos) != 0)
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
		*res = xf_unary(e->op, a);
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
	*res = xf_binary(e->op, a, b);
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
