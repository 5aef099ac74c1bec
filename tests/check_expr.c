/* forkflow: see LICENSE. */
/*
 * Tests of expr.c: precedence, wrapping arithmetic, division rules, short
 * circuits, parse errors with their positions, the builders, and random
 * trees evaluated three ways (expr_eval_batch, expr_eval and a reference
 * evaluator here that works in __int128) which must agree, errors included.
 */

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "forkflow.h"
#include "check_forkflow.h"

#define NLANES		37	/* two chunks of 16 and a tail */
#define RNODES		64	/* nodes of a random tree */
#define RTEXT		8192	/* its source text */
#define RTRIES		3000	/* random trees */

/* Check records every ck_assert(), which is too slow in loops over lanes. */
#define quiet_assert(cond, ...) do {					\
	if (!(cond))							\
		ck_abort_msg(__VA_ARGS__);				\
} while (0)

/* A node of a random tree, as the reference evaluator sees it. */
enum rkind {
	R_CONST,
	R_K,
	R_V,
	R_UNARY,
	R_BINARY,
	R_COND,
};

struct rnode {
	enum rkind	 kind;
	enum expr_op	 op;
	int64_t		 c;
	int		 arg[3];
};

struct rtree {
	struct rnode	 n[RNODES];
	int		 nn;
	int		 pending;	/* nodes promised to parents */
	int		 conds;		/* has ?: (not for builders) */
	const char	*sep;		/* white space around tokens */
};

/* Values that break things: limits, neighbours, zeros, powers of two. */
static const int64_t special[] = {
	0, 1, -1, 2, -2, 3, -3, 7, -7, 10, -10, 1000, -1000,
	INT64_MAX, INT64_MAX - 1, INT64_MIN, INT64_MIN + 1,
	INT64_C(1) << 32, -(INT64_C(1) << 32), INT64_C(1) << 62,
	-(INT64_C(1) << 62), (INT64_C(1) << 62) + 1, INT64_C(3037000499),
	INT64_C(3037000500), -INT64_C(3037000500),
};
#define NSPECIAL	(sizeof special / sizeof special[0])

static void	 check_eval(const char *, int64_t, int64_t, int64_t);
static void	 check_fail(const char *, int64_t, int64_t);
static void	 check_error(const char *, const char *, size_t);
static void	 check_finish(struct expr *, int64_t, int64_t, int64_t);
static void	 check_finish_error(struct expr *, const char *);
static void	 check_divmod(int64_t, int64_t, int64_t, int64_t);
static void	 check_batch_fail(const char *, const int64_t *,
		     const int64_t *, size_t, size_t);
static struct expr *parse_ok(const char *);

static int64_t	 wrap(__int128);
static int64_t	 ref_div(int64_t, int64_t);
static int64_t	 ref_mod(int64_t, int64_t);
static uint64_t	 rnext(uint64_t *);
static int64_t	 rvalue(uint64_t *);
static int	 rgen(struct rtree *, uint64_t *, int);
static int	 reval(const struct rtree *, int, int64_t, int64_t, int64_t *);
static void	 rcat(char *, const char *, ...)
		     __attribute__((__format__(__printf__, 2, 3)));
static void	 rtext(const struct rtree *, int, char *);
static struct expr *rbuild(const struct rtree *, int);
static int	 rzero(const struct rtree *, const int64_t *,
		     const int64_t *, size_t);
static int	 rconstzero(const struct rtree *, int);
static int	 rhasvar(const struct rtree *, int);
static void	 rcompare(struct expr *, const char *, const int64_t *,
		     const int64_t *, size_t, const int64_t *, const int *);

/* Parse src, which must be valid. */
static struct expr *
parse_ok(const char *src)
{
	struct expr	*e;
	char		*cause = NULL;
	size_t		 pos = 0;

	e = expr_parse(src, &cause, &pos);
	ck_assert_msg(e != NULL, "\"%s\": %s at %zu", src, cause, pos);
	return (e);
}

/*
 * Evaluate src for one k and v, as a scalar, as a batch of NLANES and in
 * place over v and over k: all must give want.
 */
static void
check_eval(const char *src, int64_t k, int64_t v, int64_t want)
{
	struct expr	*e;
	int64_t		 res, kk[NLANES], vv[NLANES], out[NLANES];
	size_t		 i, failed;

	e = parse_ok(src);
	ck_assert_msg(expr_eval(e, k, v, &res) == 0, "\"%s\" failed", src);
	ck_assert_msg(res == want, "\"%s\" (k=%" PRId64 ", v=%" PRId64 ") is %"
	    PRId64 ", expected %" PRId64, src, k, v, res, want);

	for (i = 0; i < NLANES; i++) {
		kk[i] = k;
		vv[i] = v;
		out[i] = ~want;
	}
	ck_assert_msg(expr_eval_batch(e, kk, vv, NLANES, out, &failed) == 0,
	    "\"%s\": batch failed at %zu", src, failed);
	for (i = 0; i < NLANES; i++) {
		ck_assert_msg(out[i] == want, "\"%s\": batch lane %zu is %"
		    PRId64 ", expected %" PRId64, src, i, out[i], want);
	}
	ck_assert(expr_eval_batch(e, kk, vv, NLANES, vv, &failed) == 0);
	for (i = 0; i < NLANES; i++) {
		ck_assert_msg(vv[i] == want, "\"%s\": in place over v, lane "
		    "%zu is wrong", src, i);
		vv[i] = v;
	}
	ck_assert(expr_eval_batch(e, kk, vv, NLANES, kk, &failed) == 0);
	for (i = 0; i < NLANES; i++) {
		ck_assert_msg(kk[i] == want, "\"%s\": in place over k, lane "
		    "%zu is wrong", src, i);
	}
	expr_free(e);
}

/* Evaluating src for k and v must fail with division by zero. */
static void
check_fail(const char *src, int64_t k, int64_t v)
{
	struct expr	*e;
	int64_t		 res, kk[NLANES], vv[NLANES], out[NLANES];
	size_t		 i, failed = 99;

	e = parse_ok(src);
	ck_assert_msg(expr_eval(e, k, v, &res) == -1, "\"%s\" gave %" PRId64,
	    src, res);
	for (i = 0; i < NLANES; i++) {
		kk[i] = k;
		vv[i] = v;
	}
	ck_assert_msg(expr_eval_batch(e, kk, vv, NLANES, out, &failed) == -1,
	    "\"%s\": batch did not fail", src);
	ck_assert_uint_eq(failed, 0);
	expr_free(e);
}

/* Evaluating src over n records must fail first at record first. */
static void
check_batch_fail(const char *src, const int64_t *k, const int64_t *v,
    size_t n, size_t first)
{
	struct expr	*e;
	int64_t		*out;
	size_t		 failed = 0;

	out = xcalloc(n, sizeof *out);
	e = parse_ok(src);
	ck_assert_msg(expr_eval_batch(e, k, v, n, out, &failed) == -1,
	    "\"%s\": batch did not fail", src);
	ck_assert_msg(failed == first, "\"%s\": failed at %zu, not %zu", src,
	    failed, first);
	expr_free(e);
	free(out);
}

/* Parsing src must fail with cause at errpos. */
static void
check_error(const char *src, const char *want, size_t wantpos)
{
	struct expr	*e;
	char		*cause = NULL;
	size_t		 pos = 12345;

	e = expr_parse(src, &cause, &pos);
	ck_assert_msg(e == NULL, "\"%s\" was accepted", src);
	ck_assert_msg(cause != NULL && strcmp(cause, want) == 0,
	    "\"%s\": cause \"%s\", expected \"%s\"", src, cause, want);
	ck_assert_msg(pos == wantpos, "\"%s\": position %zu, expected %zu",
	    src, pos, wantpos);
	free(cause);
}

/* Finish a built expression and check its value for k and v; frees it. */
static void
check_finish(struct expr *e, int64_t k, int64_t v, int64_t want)
{
	int64_t		 res, kk[NLANES], vv[NLANES], out[NLANES];
	char		*cause = NULL;
	size_t		 i, pos, failed;

	ck_assert_msg(expr_finish(e, &cause, &pos) == 0, "finish: %s", cause);
	ck_assert(expr_eval(e, k, v, &res) == 0);
	ck_assert_msg(res == want, "built: %" PRId64 ", expected %" PRId64,
	    res, want);
	for (i = 0; i < NLANES; i++) {
		kk[i] = k;
		vv[i] = v;
	}
	ck_assert(expr_eval_batch(e, kk, vv, NLANES, out, &failed) == 0);
	for (i = 0; i < NLANES; i++)
		ck_assert(out[i] == want);
	expr_free(e);
}

/* Finishing a built expression must fail with cause at position 0. */
static void
check_finish_error(struct expr *e, const char *want)
{
	char	*cause = NULL;
	size_t	 pos = 12345;

	ck_assert(expr_finish(e, &cause, &pos) == -1);
	ck_assert_msg(cause != NULL && strcmp(cause, want) == 0,
	    "cause \"%s\", expected \"%s\"", cause, want);
	ck_assert_uint_eq(pos, 0);
	free(cause);
	expr_free(e);
}

/*
 * a / b must be q and a % b must be r through expr_div(), expr_mod(), and
 * the three batch paths: by an array (hardware), by a constant (libdivide)
 * and of a constant.
 */
static void
check_divmod(int64_t a, int64_t b, int64_t q, int64_t r)
{
	struct expr	*e;
	int64_t		 res, kk[NLANES], vv[NLANES], out[NLANES];
	size_t		 i, failed;
	int		 j;

	ck_assert_msg(expr_div(a, b) == q, "expr_div(%" PRId64 ", %" PRId64
	    ") is %" PRId64, a, b, expr_div(a, b));
	ck_assert_msg(expr_mod(a, b) == r, "expr_mod(%" PRId64 ", %" PRId64
	    ") is %" PRId64, a, b, expr_mod(a, b));
	ck_assert(ref_div(a, b) == q && ref_mod(a, b) == r);

	for (i = 0; i < NLANES; i++) {
		kk[i] = b;
		vv[i] = a;
	}
	for (j = 0; j < 6; j++) {
		switch (j) {
		case 0:
			e = expr_binary(XOP_DIV, expr_var('v'), expr_var('k'));
			break;
		case 1:
			e = expr_binary(XOP_MOD, expr_var('v'), expr_var('k'));
			break;
		case 2:
			e = expr_binary(XOP_DIV, expr_var('v'), expr_const(b));
			break;
		case 3:
			e = expr_binary(XOP_MOD, expr_var('v'), expr_const(b));
			break;
		case 4:
			e = expr_binary(XOP_DIV, expr_const(a), expr_var('k'));
			break;
		default:
			e = expr_binary(XOP_MOD, expr_const(a), expr_var('k'));
			break;
		}
		ck_assert(expr_finish(e, NULL, NULL) == 0);
		ck_assert(expr_eval(e, b, a, &res) == 0);
		ck_assert_msg(res == ((j % 2 == 0) ? q : r), "case %d: %" PRId64
		    " by %" PRId64 " is %" PRId64, j, a, b, res);
		ck_assert(expr_eval_batch(e, kk, vv, NLANES, out, &failed) == 0);
		for (i = 0; i < NLANES; i++) {
			ck_assert_msg(out[i] == res, "batch case %d: %" PRId64
			    " by %" PRId64 " is %" PRId64 ", not %" PRId64, j,
			    a, b, out[i], res);
		}
		expr_free(e);
	}
}

/* Truncate to 64 bits, two's complement. */
static int64_t
wrap(__int128 x)
{
	return ((int64_t)(uint64_t)(unsigned __int128)x);
}

static int64_t
ref_div(int64_t a, int64_t b)
{
	return (wrap((__int128)a / b));
}

static int64_t
ref_mod(int64_t a, int64_t b)
{
	return (wrap((__int128)a % b));
}

/* splitmix64. */
static uint64_t
rnext(uint64_t *s)
{
	uint64_t	 z;

	z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (z ^ (z >> 31));
}

/* A random value, often a nasty one. */
static int64_t
rvalue(uint64_t *s)
{
	uint64_t	 r = rnext(s);

	switch (r % 4) {
	case 0:
	case 1:
		return (special[(r >> 8) % NSPECIAL]);
	case 2:
		return ((int64_t)((r >> 8) % 21) - 10);
	default:
		return ((int64_t)rnext(s));
	}
}

/* Make a random subtree at most depth deep; returns its index. */
static int
rgen(struct rtree *t, uint64_t *s, int depth)
{
	struct rnode	*n;
	int		 i = t->nn++, j, r, nargs = 0;

	t->pending--;
	n = &t->n[i];
	memset(n, 0, sizeof *n);
	r = (int)(rnext(s) % 100);
	if (depth == 0 || t->nn + t->pending + 3 > RNODES || r < 30) {
		r = (int)(rnext(s) % 3);
		n->kind = (r == 0) ? R_CONST : (r == 1) ? R_K : R_V;
		n->c = rvalue(s);
		return (i);
	}
	if (r < 45) {
		n->kind = R_UNARY;
		n->op = XOP_NEG + (int)(rnext(s) % 3);
		nargs = 1;
	} else if (r < 55 && t->conds) {
		n->kind = R_COND;
		nargs = 3;
	} else {
		n->kind = R_BINARY;
		n->op = (enum expr_op)(rnext(s) % (XOP_MAX + 1));
		nargs = 2;
	}
	t->pending += nargs;
	for (j = 0; j < nargs; j++) {
		r = rgen(t, s, depth - 1);
		t->n[i].arg[j] = r;
	}
	return (i);
}

/* The reference evaluator: -1 on division by zero. */
static int
reval(const struct rtree *t, int i, int64_t k, int64_t v, int64_t *res)
{
	const struct rnode	*n = &t->n[i];
	int64_t			 a, b;

	switch (n->kind) {
	case R_CONST:
		*res = n->c;
		return (0);
	case R_K:
		*res = k;
		return (0);
	case R_V:
		*res = v;
		return (0);
	case R_COND:
		if (reval(t, n->arg[0], k, v, &a) != 0)
			return (-1);
		return (reval(t, n->arg[a ? 1 : 2], k, v, res));
	case R_UNARY:
		if (reval(t, n->arg[0], k, v, &a) != 0)
			return (-1);
		if (n->op == XOP_NEG)
			*res = wrap(-(__int128)a);
		else if (n->op == XOP_NOT)
			*res = !a;
		else
			*res = wrap(a < 0 ? -(__int128)a : a);
		return (0);
	case R_BINARY:
		break;
	}

	if (reval(t, n->arg[0], k, v, &a) != 0)
		return (-1);
	if ((n->op == XOP_AND && !a) || (n->op == XOP_OR && a)) {
		*res = (n->op == XOP_OR);
		return (0);
	}
	if (reval(t, n->arg[1], k, v, &b) != 0)
		return (-1);
	switch (n->op) {
	case XOP_ADD:
		*res = wrap((__int128)a + b);
		break;
	case XOP_SUB:
		*res = wrap((__int128)a - b);
		break;
	case XOP_MUL:
		*res = wrap((__int128)a * b);
		break;
	case XOP_DIV:
	case XOP_MOD:
		if (b == 0)
			return (-1);
		*res = (n->op == XOP_DIV) ? ref_div(a, b) : ref_mod(a, b);
		break;
	case XOP_LT:
		*res = a < b;
		break;
	case XOP_LE:
		*res = a <= b;
		break;
	case XOP_GT:
		*res = a > b;
		break;
	case XOP_GE:
		*res = a >= b;
		break;
	case XOP_EQ:
		*res = a == b;
		break;
	case XOP_NE:
		*res = a != b;
		break;
	case XOP_AND:
	case XOP_OR:
		*res = (b != 0);
		break;
	case XOP_MIN:
		*res = a < b ? a : b;
		break;
	case XOP_MAX:
		*res = a > b ? a : b;
		break;
	default:
		ck_abort_msg("bad operation %d", n->op);
	}
	return (0);
}

/* Append to a string of RTEXT bytes. */
static void
rcat(char *buf, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 len = strlen(buf);

	va_start(ap, fmt);
	vsnprintf(buf + len, RTEXT - len, fmt, ap);
	va_end(ap);
	ck_assert(strlen(buf) < RTEXT - 1);
}

/* Write a random tree as source text, fully in parentheses. */
static void
rtext(const struct rtree *t, int i, char *buf)
{
	static const char	*ops[] = {
		"+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "&&",
		"||"
	};
	const struct rnode	*n = &t->n[i];
	const char		*s = t->sep;

	switch (n->kind) {
	case R_CONST:
		if (n->c < 0)
			rcat(buf, "(%s-%s%" PRIu64 ")", s, s, 0 - (uint64_t)n->c);
		else
			rcat(buf, "%" PRId64, n->c);
		break;
	case R_K:
	case R_V:
		rcat(buf, "%s%c%s", s, n->kind == R_K ? 'k' : 'v', s);
		break;
	case R_UNARY:
		rcat(buf, "%s(", n->op == XOP_NEG ? "-" : n->op == XOP_NOT ?
		    "!" : "abs");
		rtext(t, n->arg[0], buf);
		rcat(buf, ")");
		break;
	case R_COND:
		rcat(buf, "(");
		rtext(t, n->arg[0], buf);
		rcat(buf, "%s?%s", s, s);
		rtext(t, n->arg[1], buf);
		rcat(buf, "%s:%s", s, s);
		rtext(t, n->arg[2], buf);
		rcat(buf, ")");
		break;
	case R_BINARY:
		if (n->op == XOP_MIN || n->op == XOP_MAX) {
			rcat(buf, "%s(", n->op == XOP_MIN ? "min" : "max");
			rtext(t, n->arg[0], buf);
			rcat(buf, ",%s", s);
			rtext(t, n->arg[1], buf);
			rcat(buf, ")");
			break;
		}
		rcat(buf, "(");
		rtext(t, n->arg[0], buf);
		rcat(buf, "%s%s%s", s, ops[n->op], s);
		rtext(t, n->arg[1], buf);
		rcat(buf, ")");
		break;
	}
}

/* Build a random tree without ?: through the builders. */
static struct expr *
rbuild(const struct rtree *t, int i)
{
	const struct rnode	*n = &t->n[i];

	switch (n->kind) {
	case R_CONST:
		return (expr_const(n->c));
	case R_K:
		return (expr_var('k'));
	case R_V:
		return (expr_var('v'));
	case R_UNARY:
		return (expr_unary(n->op, rbuild(t, n->arg[0])));
	case R_BINARY:
		return (expr_binary(n->op, rbuild(t, n->arg[0]),
		    rbuild(t, n->arg[1])));
	default:
		ck_abort_msg("no builder for ?:");
	}
	return (NULL);
}

/* Whether node i mentions k or v. */
static int
rhasvar(const struct rtree *t, int i)
{
	const struct rnode	*n = &t->n[i];
	int			 j, nargs;

	if (n->kind == R_K || n->kind == R_V)
		return (1);
	nargs = (n->kind == R_UNARY) ? 1 : (n->kind == R_BINARY) ? 2 :
	    (n->kind == R_COND) ? 3 : 0;
	for (j = 0; j < nargs; j++) {
		if (rhasvar(t, n->arg[j]))
			return (1);
	}
	return (0);
}

/*
 * Whether some division has a divisor with no variable that is zero or
 * itself fails: such a tree must be refused.
 */
static int
rconstzero(const struct rtree *t, int i)
{
	const struct rnode	*n = &t->n[i];
	int64_t			 d;
	int			 j, nargs;

	nargs = (n->kind == R_UNARY) ? 1 : (n->kind == R_BINARY) ? 2 :
	    (n->kind == R_COND) ? 3 : 0;
	for (j = 0; j < nargs; j++) {
		if (rconstzero(t, n->arg[j]))
			return (1);
	}
	if (n->kind == R_BINARY && (n->op == XOP_DIV || n->op == XOP_MOD) &&
	    !rhasvar(t, n->arg[1]))
		return (reval(t, n->arg[1], 0, 0, &d) != 0 || d == 0);
	return (0);
}

/*
 * Whether refusing the tree is justified: some divisor is zero for every
 * record of the batch and for every pair of special values.
 */
static int
rzero(const struct rtree *t, const int64_t *k, const int64_t *v, size_t n)
{
	const struct rnode	*d;
	int64_t			 res;
	size_t			 i, a, b;
	int			 j, ok;

	for (j = 0; j < t->nn; j++) {
		d = &t->n[j];
		if (d->kind != R_BINARY || (d->op != XOP_DIV && d->op != XOP_MOD))
			continue;
		ok = 1;
		for (i = 0; ok && i < n; i++) {
			if (reval(t, d->arg[1], k[i], v[i], &res) == 0 &&
			    res != 0)
				ok = 0;
		}
		for (a = 0; ok && a < NSPECIAL; a++) {
			for (b = 0; ok && b < NSPECIAL; b++) {
				if (reval(t, d->arg[1], special[a], special[b],
				    &res) == 0 && res != 0)
					ok = 0;
			}
		}
		if (ok)
			return (1);
	}
	return (0);
}

/*
 * Compare an expression with the reference over n records, scalar and in
 * batches (into a separate array and in place over v).
 */
static void
rcompare(struct expr *e, const char *src, const int64_t *k, const int64_t *v,
    size_t n, const int64_t *want, const int *bad)
{
	static int64_t	 out[BATCH_MAX], io[BATCH_MAX];
	int64_t		 res;
	size_t		 i, first = n, failed;
	int		 r;

	for (i = 0; i < n; i++) {
		r = expr_eval(e, k[i], v[i], &res);
		quiet_assert(r == (bad[i] ? -1 : 0), "\"%s\" k=%" PRId64 " v=%"
		    PRId64 ": expr_eval returned %d", src, k[i], v[i], r);
		quiet_assert(bad[i] || res == want[i], "\"%s\" k=%" PRId64
		    " v=%" PRId64 ": %" PRId64 ", expected %" PRId64, src, k[i],
		    v[i], res, want[i]);
		if (bad[i] && first == n)
			first = i;
	}

	memcpy(io, v, n * sizeof *io);
	for (r = 0; r < 2; r++) {
		failed = n + 1;
		if (expr_eval_batch(e, k, r ? io : v, n, r ? io : out,
		    &failed) != 0) {
			quiet_assert(failed == first, "\"%s\": batch of %zu "
			    "failed at %zu, expected %zu", src, n, failed,
			    first);
			continue;
		}
		quiet_assert(first == n, "\"%s\": batch of %zu did not fail "
		    "at %zu", src, n, first);
		for (i = 0; i < n; i++) {
			res = r ? io[i] : out[i];
			quiet_assert(res == want[i], "\"%s\" k=%" PRId64 " v=%"
			    PRId64 ": batch lane %zu is %" PRId64 ", expected %"
			    PRId64, src, k[i], v[i], i, res, want[i]);
		}
	}
}

START_TEST(test_expr_precedence)
{
	check_eval("1 + 2 * 3", 0, 0, 7);
	check_eval("(1 + 2) * 3", 0, 0, 9);
	check_eval("-2 * 3", 0, 0, -6);
	check_eval("- 1 + 2", 0, 0, 1);
	check_eval("-v * 3", 0, 2, -6);
	check_eval("!0 + 1", 0, 0, 2);
	check_eval("!k * 5", 0, 0, 5);
	check_eval("1 - 2 - 3", 0, 0, -4);
	check_eval("7 - 3 + 2", 0, 0, 6);
	check_eval("100 / 10 / 5", 0, 0, 2);
	check_eval("2 * 3 % 4", 0, 0, 2);
	check_eval("17 % 10 % 4", 0, 0, 3);
	check_eval("5 % 3 * 2", 0, 0, 4);
	check_eval("1 + 5 % 3", 0, 0, 3);
	check_eval("10 - 6 / 2", 0, 0, 7);
	check_eval("1 + 2 < 4", 0, 0, 1);
	check_eval("1 < 2 == 1", 0, 0, 1);
	check_eval("3 > 2 > 1", 0, 0, 0);
	check_eval("2 == 2 != 0", 0, 0, 1);
	check_eval("1 || 0 && 0", 0, 0, 1);
	check_eval("0 && 0 || 1", 0, 0, 1);
	check_eval("k || v && 0", 1, 1, 1);
	check_eval("k == 1 && v != 2", 1, 3, 1);
	check_eval("k < v == v > k", 1, 3, 1);
	check_eval("k - v - k", 5, 3, -3);
	check_eval("--5", 0, 0, 5);
	check_eval("!!7", 0, 0, 1);
	check_eval("- -v", 0, -4, -4);
	check_eval("+3", 0, 0, 3);
	check_eval("+-3", 0, 0, -3);
	check_eval("-+v", 0, 3, -3);
	check_eval(" \t1\n+\n2 ", 0, 0, 3);
	check_eval("k*v+k", 3, 4, 15);
	check_eval("v", 3, 4, 4);
	check_eval("k", 3, 4, 3);
	check_eval("42", 3, 4, 42);
	check_eval("((((v))))", 3, 4, 4);
}
END_TEST

START_TEST(test_expr_ternary)
{
	check_eval("1 ? 2 : 3 ? 4 : 5", 0, 0, 2);
	check_eval("0 ? 2 : 3 ? 4 : 5", 0, 0, 4);
	check_eval("0 ? 2 : 0 ? 4 : 5", 0, 0, 5);
	check_eval("1 ? 0 ? 6 : 7 : 8", 0, 0, 7);
	check_eval("k ? v ? 1 : 2 : v ? 3 : 4", 0, 0, 4);
	check_eval("k ? v ? 1 : 2 : v ? 3 : 4", 0, 1, 3);
	check_eval("k ? v ? 1 : 2 : v ? 3 : 4", 1, 0, 2);
	check_eval("k ? v ? 1 : 2 : v ? 3 : 4", 1, 1, 1);
	check_eval("0 || 1 ? 10 : 20", 0, 0, 10);
	check_eval("1 ? 2 : 3 + 10", 0, 0, 2);
	check_eval("0 ? 2 : 3 + 10", 0, 0, 13);
	check_eval("(k ? 1 : 2) + 10", 0, 0, 12);
	check_eval("v > 0 ? v : -v", 0, -5, 5);
	check_eval("v > 0 ? v : -v", 0, 5, 5);
	check_eval("k ? v : 7", 1, 9, 9);
	check_eval("k ? 7 : v", 1, 9, 7);
	check_eval("k ? 7 : 8", 0, 9, 8);
	check_eval("k ? k : v", 0, 9, 9);
}
END_TEST

START_TEST(test_expr_wrap)
{
	check_eval("9223372036854775807 + 1", 0, 0, INT64_MIN);
	check_eval("-9223372036854775808", 0, 0, INT64_MIN);
	check_eval("- 9223372036854775808", 0, 0, INT64_MIN);
	check_eval("-9223372036854775808 - 1", 0, 0, INT64_MAX);
	check_eval("-9223372036854775807 - 1", 0, 0, INT64_MIN);
	check_eval("--9223372036854775808", 0, 0, INT64_MIN);
	check_eval("-9223372036854775808 * -1", 0, 0, INT64_MIN);
	check_eval("v + 1", 0, INT64_MAX, INT64_MIN);
	check_eval("v - 1", 0, INT64_MIN, INT64_MAX);
	check_eval("v + k", INT64_MAX, INT64_MAX, -2);
	check_eval("v * 2", 0, INT64_MAX, -2);
	check_eval("v * 4", 0, INT64_MIN + 1, 4);
	check_eval("v * 3", 0, INT64_MAX, INT64_MAX - 2);
	check_eval("v * v", 0, INT64_C(1) << 32, 0);
	check_eval("v * k", -1, INT64_MIN, INT64_MIN);
	check_eval("v * -1", 0, INT64_MIN, INT64_MIN);
	check_eval("v * -9223372036854775808", 0, 3, INT64_MIN);
	check_eval("-v", 0, INT64_MIN, INT64_MIN);
	check_eval("0 - v", 0, INT64_MIN, INT64_MIN);
	check_eval("5 - v", 0, INT64_MIN, INT64_MIN + 5);
	check_eval("abs(v)", 0, INT64_MIN, INT64_MIN);
	check_eval("abs(v)", 0, INT64_MIN + 1, INT64_MAX);
	check_eval("abs(-9223372036854775808)", 0, 0, INT64_MIN);
	check_eval("v < v + 1", 0, INT64_MAX, 0);
	check_eval("v > k", INT64_MIN, INT64_MAX, 1);
	check_eval("v < k", INT64_MIN, INT64_MAX, 0);
	check_eval("v <= k", INT64_MAX, INT64_MIN, 1);
	check_eval("v >= k", INT64_MIN, INT64_MAX, 1);
	check_eval("v == k", INT64_MIN, INT64_MIN, 1);
	check_eval("v != k", INT64_MIN, INT64_MAX, 1);
}
END_TEST

START_TEST(test_expr_divmod)
{
	/* All sign combinations, truncating toward zero. */
	check_divmod(7, 2, 3, 1);
	check_divmod(-7, 2, -3, -1);
	check_divmod(7, -2, -3, 1);
	check_divmod(-7, -2, 3, -1);
	check_divmod(6, 3, 2, 0);
	check_divmod(-6, 3, -2, 0);
	check_divmod(6, -3, -2, 0);
	check_divmod(-6, -3, 2, 0);
	check_divmod(0, 5, 0, 0);
	check_divmod(0, -5, 0, 0);
	check_divmod(5, 7, 0, 5);
	check_divmod(-5, 7, 0, -5);
	check_divmod(5, -7, 0, 5);
	check_divmod(1000, 1, 1000, 0);
	check_divmod(1000, -1, -1000, 0);

	/* The limits. */
	check_divmod(INT64_MIN, -1, INT64_MIN, 0);
	check_divmod(INT64_MIN, 1, INT64_MIN, 0);
	check_divmod(INT64_MAX, -1, -INT64_MAX, 0);
	check_divmod(INT64_MIN, 2, -(INT64_C(1) << 62), 0);
	check_divmod(INT64_MIN, -2, INT64_C(1) << 62, 0);
	check_divmod(INT64_MIN + 1, 2, -(INT64_C(1) << 62) + 1, -1);
	check_divmod(INT64_MIN, INT64_MIN, 1, 0);
	check_divmod(INT64_MAX, INT64_MIN, 0, INT64_MAX);
	check_divmod(INT64_MIN + 1, INT64_MIN, 0, INT64_MIN + 1);
	check_divmod(-1, INT64_MIN, 0, -1);
	check_divmod(INT64_MIN, INT64_MAX, -1, -1);
	check_divmod(INT64_MAX, INT64_MAX, 1, 0);
	check_divmod(INT64_MIN, 3, INT64_C(-3074457345618258602), -2);
	check_divmod(INT64_MIN, -3, INT64_C(3074457345618258602), -2);
	check_divmod(INT64_MAX, 3, INT64_C(3074457345618258602), 1);
	check_divmod(INT64_MAX, -3, INT64_C(-3074457345618258602), 1);
	check_divmod(INT64_MIN, 10, INT64_C(-922337203685477580), -8);
	check_divmod(INT64_MIN, 1000, INT64_C(-9223372036854775), -808);
	check_divmod(INT64_MIN, -1000, INT64_C(9223372036854775), -808);

	/* The same rules written as expressions. */
	check_eval("-7 / 2", 0, 0, -3);
	check_eval("-7 % 2", 0, 0, -1);
	check_eval("7 % -2", 0, 0, 1);
	check_eval("-9223372036854775808 / -1", 0, 0, INT64_MIN);
	check_eval("-9223372036854775808 % -1", 0, 0, 0);
	check_eval("v / -1", 0, INT64_MIN, INT64_MIN);
	check_eval("v % -1", 0, INT64_MIN, 0);
	check_eval("v / k", -1, INT64_MIN, INT64_MIN);
	check_eval("v % k", -1, INT64_MIN, 0);
	check_eval("v / k % -1", 1, INT64_MIN, 0);
	check_eval("v / k % 1", 1, INT64_MIN, 0);
	check_eval("v / k / -1", 1, INT64_MIN, INT64_MIN);
	check_eval("v % 3 != 0", 0, -3, 0);
	check_eval("v % 3 != 0", 0, -4, 1);
	check_eval("v % 1000", 0, -123456, -456);
}
END_TEST

/*
 * Division by constants goes through libdivide: compare it with the
 * reference for many divisors, most of all negative ones, powers of two
 * and the limits, over numerators near the limits.
 */
START_TEST(test_expr_divmod_sweep)
{
	static int64_t	 num[BATCH_MAX], out[BATCH_MAX], dd[BATCH_MAX];
	int64_t		 div[300], want;
	struct expr	*e;
	uint64_t	 seed = 42;
	size_t		 nnum = 0, ndiv = 0, i, j, failed;
	int		 s, mod;

	for (i = 0; i < NSPECIAL; i++) {
		num[nnum++] = special[i];
		if (special[i] != 0)
			div[ndiv++] = special[i];
	}
	for (s = 1; s < 63; s++) {
		div[ndiv++] = INT64_C(1) << s;
		div[ndiv++] = -(INT64_C(1) << s);
		num[nnum++] = (INT64_C(1) << s) - 1;
		num[nnum++] = -(INT64_C(1) << s) + 1;
	}
	for (s = 2; s < 60; s++)
		div[ndiv++] = s % 2 ? s : -s;
	while (ndiv < sizeof div / sizeof div[0]) {
		if ((div[ndiv] = (int64_t)rnext(&seed) >> (rnext(&seed) % 63))
		    != 0)
			ndiv++;
	}
	while (nnum < BATCH_MAX)
		num[nnum++] = (int64_t)rnext(&seed) >> (rnext(&seed) % 64);

	for (j = 0; j < ndiv; j++) {
		for (mod = 0; mod < 2; mod++) {
			/* v / c: libdivide. */
			e = expr_binary(mod ? XOP_MOD : XOP_DIV, expr_var('v'),
			    expr_const(div[j]));
			ck_assert(expr_finish(e, NULL, NULL) == 0);
			ck_assert(expr_eval_batch(e, num, num, nnum, out,
			    &failed) == 0);
			for (i = 0; i < nnum; i++) {
				want = mod ? ref_mod(num[i], div[j]) :
				    ref_div(num[i], div[j]);
				quiet_assert(out[i] == want, "%" PRId64 " %c %"
				    PRId64 " is %" PRId64 ", expected %" PRId64,
				    num[i], mod ? '%' : '/', div[j], out[i],
				    want);
				quiet_assert(want == (mod ? expr_mod(num[i],
				    div[j]) : expr_div(num[i], div[j])),
				    "expr_div or expr_mod(%" PRId64 ", %" PRId64
				    ")", num[i], div[j]);
			}
			expr_free(e);

			/* v / k: the hardware. */
			for (i = 0; i < nnum; i++)
				dd[i] = div[j];
			e = expr_binary(mod ? XOP_MOD : XOP_DIV, expr_var('v'),
			    expr_var('k'));
			ck_assert(expr_finish(e, NULL, NULL) == 0);
			ck_assert(expr_eval_batch(e, dd, num, nnum, out,
			    &failed) == 0);
			for (i = 0; i < nnum; i++) {
				want = mod ? ref_mod(num[i], div[j]) :
				    ref_div(num[i], div[j]);
				quiet_assert(out[i] == want, "%" PRId64 " %c %"
				    PRId64 " by an array is %" PRId64, num[i],
				    mod ? '%' : '/', div[j], out[i]);
			}
			expr_free(e);
		}
	}
}
END_TEST

START_TEST(test_expr_functions)
{
	check_eval("abs(-5)", 0, 0, 5);
	check_eval("abs(5)", 0, 0, 5);
	check_eval("abs(0)", 0, 0, 0);
	check_eval("abs(k - v)", 3, 10, 7);
	check_eval("abs(v)", 0, -1, 1);
	check_eval("min(3, -4)", 0, 0, -4);
	check_eval("max(3, -4)", 0, 0, 3);
	check_eval("min(k, v)", INT64_MIN, INT64_MAX, INT64_MIN);
	check_eval("max(k, v)", INT64_MIN, INT64_MAX, INT64_MAX);
	check_eval("min(v, k)", INT64_MIN, INT64_MAX, INT64_MIN);
	check_eval("max(v, k)", INT64_MIN, INT64_MAX, INT64_MAX);
	check_eval("min(v, 10)", 0, 11, 10);
	check_eval("max(v, 10)", 0, 11, 11);
	check_eval("min(10, v)", 0, -11, -11);
	check_eval("max(10, v)", 0, -11, 10);
	check_eval("min(max(1, 2), 3)", 0, 0, 2);
	check_eval("max(min(k, v), min(v, 0))", 4, -2, -2);
	check_eval("abs ( v ) + min ( k , 1 )", 5, -2, 3);
	check_eval("min(k ? 1 : 2, 3) * 10", 0, 0, 20);
}
END_TEST

START_TEST(test_expr_short_circuit)
{
	int64_t	 k[8] = { 1, 0, 2, 0, 3, 0, 0, 4 };
	int64_t	 v[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	int64_t	 cond[5] = { 0, 3, -5, 0, -5 };

	check_eval("k != 0 && v / k > 1", 0, 6, 0);
	check_eval("k != 0 && v / k > 1", 2, 6, 1);
	check_eval("k == 0 || v / k > 1", 0, 6, 1);
	check_eval("k == 0 || v % k > 1", 0, 6, 1);
	check_eval("k ? v / k : -1", 0, 6, -1);
	check_eval("k ? -1 : v / k", 1, 6, -1);
	check_eval("k == 0 ? 0 : v % k", 0, 6, 0);
	check_eval("0 && v / k", 0, 6, 0);
	check_eval("1 || v / k", 0, 6, 1);
	check_eval("k && (v / k || 1 / k)", 0, 6, 0);
	check_eval("k > 0 ? v / k : v / (k + 5)", 0, 10, 2);

	/* Folding must not drop a division that fails. */
	check_fail("v / k && 0", 0, 6);
	check_fail("v / k || 1", 0, 6);
	check_fail("(v / k) * 0", 0, 6);
	check_fail("0 * (v % k)", 0, 6);
	check_fail("v % k % 1", 0, 6);
	check_fail("v / k % -1", 0, 6);
	check_fail("min(k, v / k)", 0, 6);
	check_fail("1 ? v / k : 0", 0, 6);
	check_fail("(v / k) ? 1 : 1", 0, 6);

	/* In a batch, lanes dividing by zero on a skipped side are fine. */
	check_batch_fail("v / k", k, v, 8, 1);
	check_batch_fail("k > 0 ? v / k : v / (k + 5)", cond, v, 5, 2);
	check_batch_fail("k == 0 && v / k", k, v, 8, 1);
	check_batch_fail("k > 2 ? v / (k - 3) : 0", k, v, 8, 4);
}
END_TEST

START_TEST(test_expr_div_zero)
{
	check_fail("v / k", 0, 6);
	check_fail("v % k", 0, 6);
	check_fail("v / (k - k)", 5, 6);
	check_fail("v / (v - 6)", 0, 6);
	check_fail("1 / v", 0, 0);
	check_fail("1 % v", 0, 0);
	check_fail("abs(v / k) + 1", 0, 6);
	check_fail("k == 0 && v / k", 0, 6);
	check_fail("-9223372036854775808 / k", 0, 0);
}
END_TEST

START_TEST(test_expr_parse_errors)
{
	char	 buf[4096];
	size_t	 i;

	check_error("", "empty expression", 0);
	check_error(" \t\n ", "empty expression", 0);
	check_error("1 +", "unexpected end of expression", 3);
	check_error("-", "unexpected end of expression", 1);
	check_error("1 + * 2", "unexpected '*'", 4);
	check_error(")", "unexpected ')'", 0);
	check_error("()", "unexpected ')'", 1);
	check_error("v + 1 )", "unexpected ')'", 6);
	check_error("1 2", "unexpected '2'", 2);
	check_error("k v", "unexpected 'v'", 2);
	check_error("(1 + 2", "expected ')' but found end of expression", 6);
	check_error("(1 + 2 3", "expected ')' but found '3'", 7);
	check_error("1 ? 2", "expected ':' but found end of expression", 5);
	check_error("1 ? 2 3", "expected ':' but found '3'", 6);
	check_error("1 ? : 2", "unexpected ':'", 4);
	check_error("x + 1", "unknown identifier 'x' (use k or v)", 0);
	check_error("v + K", "unknown identifier 'K' (use k or v)", 4);
	check_error("v + kv", "unknown identifier 'kv' (use k or v)", 4);
	check_error("v + foo (1)",
	    "unknown function 'foo' (use abs, min or max)", 4);
	check_error("abs", "expected '(' after 'abs'", 3);
	check_error("abs 1", "expected '(' after 'abs'", 4);
	check_error("abs(1", "expected ')' but found end of expression", 5);
	check_error("abs()", "'abs' takes 1 argument", 4);
	check_error("abs(1, 2)", "'abs' takes 1 argument", 5);
	check_error("min(1)", "'min' takes 2 arguments", 5);
	check_error("max()", "'max' takes 2 arguments", 4);
	check_error("min(1, 2, 3)", "'min' takes 2 arguments", 8);
	check_error("min(1 2)", "expected ',' but found '2'", 6);
	check_error("min(,1)", "unexpected ','", 4);
	check_error("9223372036854775808", "integer literal out of range", 0);
	check_error("-(9223372036854775808)", "integer literal out of range",
	    2);
	check_error("1 - 9223372036854775808", "integer literal out of range",
	    4);
	check_error("-9223372036854775809", "integer literal out of range", 1);
	check_error("v * 99999999999999999999999",
	    "integer literal out of range", 4);
	check_error("0x10", "invalid integer literal '0x10'", 0);
	check_error("v + 2k", "invalid integer literal '2k'", 4);
	check_error("010", "leading zero in integer literal '010'", 0);
	check_error("v = 1", "unexpected '=' (did you mean '=='?)", 2);
	check_error("k < = v", "unexpected '=' (did you mean '=='?)", 4);
	check_error("v & k", "unexpected '&' (did you mean '&&'?)", 2);
	check_error("v | k", "unexpected '|' (did you mean '||'?)", 2);
	check_error("v @ k", "unexpected '@'", 2);
	check_error("v\001", "unexpected byte 0x01", 1);
	check_error("v + \xc3\xa9", "unexpected byte 0xc3", 4);
	check_error("k +\n\n  v v", "unexpected 'v'", 9);
	check_error("v + abcdefghijklmnopqrstuvwxyzabcdefghij",
	    "unknown identifier 'abcdefghijklmnopqrstuvwxyzabcdef...' "
	    "(use k or v)", 4);
	check_error("v 12345678901234567890123456789012345",
	    "unexpected '12345678901234567890123456789012...'", 2);

	/* Constant zero divisors, after folding. */
	check_error("v / 0", "division by constant zero", 2);
	check_error("v % 0", "modulo by constant zero", 2);
	check_error("v % (1 - 1)", "modulo by constant zero", 2);
	check_error("k + v / (2 * 3 - 6)", "division by constant zero", 6);
	check_error("1 ? v : v / 0", "division by constant zero", 10);
	check_error("v / (k - k) + v / (0 && k)", "division by constant zero",
	    16);

	/* Too deep: refused, not a crash. */
	for (i = 0; i < 3000; i++)
		buf[i] = '(';
	buf[i] = '\0';
	check_error(buf, "expression nested too deeply", 256);
	memset(buf, '-', 3000);
	check_error(buf, "expression nested too deeply", 255);
	buf[0] = '1';
	for (i = 1; i + 2 < 3000; i += 2)
		memcpy(buf + i, "+1", 2);
	buf[i] = '\0';
	check_error(buf, "expression nested too deeply", 2047);
}
END_TEST

START_TEST(test_expr_deep)
{
	struct expr	*e;
	char		 buf[4096];
	int64_t		 res;
	size_t		 i;

	for (i = 0; i < 100; i++)
		buf[i] = '(';
	buf[i++] = 'v';
	for (; i < 201; i++)
		buf[i] = ')';
	buf[i] = '\0';
	check_eval(buf, 0, 5, 5);

	buf[0] = 'v';
	for (i = 1; i + 2 < 1000; i += 2)
		memcpy(buf + i, "+k", 2);
	buf[i] = '\0';
	e = parse_ok(buf);
	ck_assert(expr_eval(e, 1, 0, &res) == 0);
	ck_assert_int_eq(res, 499);
	expr_free(e);
}
END_TEST

START_TEST(test_expr_builders)
{
	struct expr	*e;
	int64_t		 res;

	/* map ADD 5, filter EVEN and ODD, changeKey MUL 3. */
	check_finish(expr_binary(XOP_ADD, expr_var('v'), expr_const(5)),
	    0, 10, 15);
	check_finish(expr_binary(XOP_EQ, expr_binary(XOP_MOD, expr_var('v'),
	    expr_const(2)), expr_const(0)), 0, -4, 1);
	check_finish(expr_binary(XOP_EQ, expr_binary(XOP_MOD, expr_var('v'),
	    expr_const(2)), expr_const(0)), 0, INT64_MIN, 1);
	check_finish(expr_binary(XOP_NE, expr_binary(XOP_MOD, expr_var('v'),
	    expr_const(2)), expr_const(0)), 0, -3, 1);
	check_finish(expr_binary(XOP_MUL, expr_var('k'), expr_const(3)),
	    7, 0, 21);
	check_finish(expr_binary(XOP_DIV, expr_var('v'), expr_const(-1)),
	    0, INT64_MIN, INT64_MIN);
	check_finish(expr_binary(XOP_MIN, expr_var('k'), expr_var('v')),
	    -3, 4, -3);
	check_finish(expr_binary(XOP_MAX, expr_const(7), expr_var('v')),
	    -3, 4, 7);
	check_finish(expr_unary(XOP_ABS, expr_var('v')), 0, -8, 8);
	check_finish(expr_unary(XOP_NOT, expr_var('v')), 0, 0, 1);
	check_finish(expr_unary(XOP_NEG, expr_const(5)), 0, 0, -5);
	check_finish(expr_var('v'), 1, 2, 2);
	check_finish(expr_const(-9), 1, 2, -9);

	/* A finished expression as an operand; finishing twice. */
	e = expr_binary(XOP_MUL, parse_ok("v + 1"), expr_const(2));
	ck_assert(expr_finish(e, NULL, NULL) == 0);
	check_finish(e, 0, 4, 10);

	/* Constant zero divisors. */
	check_finish_error(expr_binary(XOP_DIV, expr_var('v'), expr_const(0)),
	    "division by constant zero");
	check_finish_error(expr_binary(XOP_MOD, expr_var('v'),
	    expr_binary(XOP_SUB, expr_const(1), expr_const(1))),
	    "modulo by constant zero");
	check_finish_error(expr_binary(XOP_ADD, expr_var('k'),
	    expr_binary(XOP_MOD, expr_const(5), expr_unary(XOP_NOT,
	    expr_const(3)))), "modulo by constant zero");

	/* Without expr_finish, expr_eval still works. */
	e = expr_binary(XOP_DIV, expr_var('v'), expr_const(0));
	ck_assert(expr_eval(e, 1, 2, &res) == -1);
	expr_free(e);
	expr_free(NULL);
}
END_TEST

START_TEST(test_expr_uses)
{
	static const struct {
		const char	*src;
		int		 k, v;
	} t[] = {
		{ "k + 1", 1, 0 },
		{ "v", 0, 1 },
		{ "1 + 2", 0, 0 },
		{ "abs(k) + min(v, 2)", 1, 1 },
		{ "v ? 1 : k", 1, 1 },
		{ "max(1, v / 2)", 0, 1 },
		{ "!k", 1, 0 },
	};
	struct expr	*e;
	size_t		 i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		e = parse_ok(t[i].src);
		ck_assert_msg(expr_uses(e, 'k') == t[i].k, "%s: k", t[i].src);
		ck_assert_msg(expr_uses(e, 'v') == t[i].v, "%s: v", t[i].src);
		expr_free(e);
	}
	e = expr_binary(XOP_ADD, expr_var('k'), expr_const(1));
	ck_assert(expr_uses(e, 'k') && !expr_uses(e, 'v'));
	expr_free(e);
}
END_TEST

START_TEST(test_expr_batch)
{
	static int64_t	 k[3000], v[3000], out[3000];
	struct expr	*e;
	int64_t		 res;
	uint64_t	 seed = 7;
	size_t		 sizes[] = { 1, 2, 15, 16, 17, 31, 1023, 1024 };
	size_t		 i, j, failed;

	e = parse_ok("v * 2 + k - abs(v % 7) * (k < v ? 3 : -1)");
	for (i = 0; i < 3000; i++) {
		k[i] = rvalue(&seed);
		v[i] = rvalue(&seed);
	}
	for (j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
		memset(out, 0, sizeof out);
		ck_assert(expr_eval_batch(e, k, v, sizes[j], out, &failed) == 0);
		for (i = 0; i < sizes[j]; i++) {
			ck_assert(expr_eval(e, k[i], v[i], &res) == 0);
			ck_assert(out[i] == res);
		}
		ck_assert(out[sizes[j]] == 0);
	}
	ck_assert(expr_eval_batch(e, k, v, 0, out, &failed) == 0);

	/* More than BATCH_MAX records are taken in pieces. */
	ck_assert(expr_eval_batch(e, k, v, 3000, out, &failed) == 0);
	for (i = 0; i < 3000; i++) {
		ck_assert(expr_eval(e, k[i], v[i], &res) == 0);
		ck_assert(out[i] == res);
	}
	expr_free(e);

	for (i = 0; i < 3000; i++)
		k[i] = 1 + (int64_t)(i % 5);
	k[2500] = 0;
	k[2900] = 0;
	check_batch_fail("v / k", k, v, 3000, 2500);
	check_batch_fail("v / k", k + 1, v, 2999, 2499);
	k[1] = 0;
	check_batch_fail("v % k", k, v, 3000, 1);
}
END_TEST

/*
 * Random trees over random records: expr_eval_batch, expr_eval and the
 * reference must agree on every value and on the first failing record, for
 * both the parsed text and (without ?:) the builders.
 */
START_TEST(test_expr_random)
{
	static int64_t	 k[BATCH_MAX], v[BATCH_MAX], want[BATCH_MAX];
	static int	 bad[BATCH_MAX];
	static char	 src[RTEXT];
	static const char *seps[] = { " ", "", "\t\n " };
	struct rtree	 t;
	struct expr	*e, *b;
	char		*cause;
	uint64_t	 seed = 20240601;
	size_t		 n, i, pos;
	int		 try, refused = 0, failing = 0, nbuilt = 0;

	for (try = 0; try < RTRIES; try++) {
		memset(&t, 0, sizeof t);
		t.conds = try % 2;
		t.pending = 1;
		t.sep = seps[try % 3];
		rgen(&t, &seed, 1 + (int)(rnext(&seed) % 6));
		src[0] = '\0';
		rtext(&t, 0, src);

		switch (rnext(&seed) % 4) {
		case 0:
			n = 1 + rnext(&seed) % 20;
			break;
		case 1:
			n = BATCH_MAX;
			break;
		default:
			n = 1 + rnext(&seed) % BATCH_MAX;
			break;
		}
		for (i = 0; i < n; i++) {
			k[i] = rvalue(&seed);
			v[i] = rvalue(&seed);
			bad[i] = reval(&t, 0, k[i], v[i], &want[i]) != 0;
		}

		cause = NULL;
		e = expr_parse(src, &cause, &pos);
		b = NULL;
		if (!t.conds) {
			b = rbuild(&t, 0);
			if (expr_finish(b, NULL, NULL) != 0) {
				ck_assert_msg(e == NULL, "\"%s\": only the "
				    "built tree is refused", src);
				expr_free(b);
				b = NULL;
			} else {
				ck_assert_msg(e != NULL, "\"%s\": only the "
				    "built tree is accepted", src);
			}
		}
		if (e == NULL) {
			ck_assert_msg(strcmp(cause, "division by constant "
			    "zero") == 0 || strcmp(cause, "modulo by constant "
			    "zero") == 0, "\"%s\": %s", src, cause);
			ck_assert_msg(rzero(&t, k, v, n), "\"%s\": refused, "
			    "but no divisor is always zero", src);
			free(cause);
			refused++;
			continue;
		}
		ck_assert_msg(!rconstzero(&t, 0), "\"%s\": accepted", src);

		for (i = 0; i < n; i++) {
			if (bad[i]) {
				failing++;
				break;
			}
		}
		rcompare(e, src, k, v, n, want, bad);
		expr_free(e);
		if (b != NULL) {
			rcompare(b, src, k, v, n, want, bad);
			expr_free(b);
			nbuilt++;
		}
	}

	/* The trees must have been varied enough to mean something. */
	ck_assert_msg(refused < RTRIES / 5, "%d refused", refused);
	ck_assert_msg(failing > RTRIES / 20, "only %d failing", failing);
	ck_assert_msg(failing < RTRIES / 2, "%d failing", failing);
	ck_assert_msg(nbuilt > RTRIES / 4, "only %d built", nbuilt);
}
END_TEST

Suite *
expr_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("expr");

	tc = tcase_create("eval");
	tcase_add_test(tc, test_expr_precedence);
	tcase_add_test(tc, test_expr_ternary);
	tcase_add_test(tc, test_expr_wrap);
	tcase_add_test(tc, test_expr_divmod);
	tcase_add_test(tc, test_expr_functions);
	tcase_add_test(tc, test_expr_short_circuit);
	tcase_add_test(tc, test_expr_div_zero);
	tcase_add_test(tc, test_expr_batch);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_expr_parse_errors);
	tcase_add_test(tc, test_expr_deep);
	tcase_add_test(tc, test_expr_builders);
	tcase_add_test(tc, test_expr_uses);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_expr_divmod_sweep);
	tcase_add_test(tc, test_expr_random);
	suite_add_tcase(s, tc);

	return (s);
}
