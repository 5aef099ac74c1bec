/* forkflow: see LICENSE. */
/*
 * Expressions: the tree, the builders that make one in code, the parser
 * that makes one from text, and constant folding.  The grammar is C's for
 * integers: ?:, ||, &&, == !=, < <= > >=, + -, * / %, unary - ! +, with k,
 * v, decimal literals and the functions abs, min and max.  Errors carry
 * the byte offset where they were found.  What each operation means, and
 * the batch form expr_finish() makes of a folded tree, are in expr.c.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forkflow.h"
#include "expr-int.h"

#define XNEST_MAX	256	/* deepest nesting the parser recurses into */
#define XHEIGHT_MAX	1024	/* tallest tree the parser builds */
#define XTOKEN_SHOW	32	/* longest token quoted in a message */

#define XNITEMS(a)	(sizeof (a) / sizeof (a)[0])

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

static struct expr	*xnode(enum xnode, size_t);
static struct expr	*xnode_unary(enum expr_op, struct expr *, size_t);
static struct expr	*xnode_binary(enum expr_op, struct expr *, struct expr *,
			     size_t);
static void		 xupdate(struct expr *);
static void		 xfree_args(struct expr *);

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

static int		 xfold_binary(struct expr *, char **, size_t *);
static void		 xbecome(struct expr *, int);
static void		 xset_const(struct expr *, int64_t);
static void		 xset_unary(struct expr *, enum expr_op, int);
static void		 xset_bool(struct expr *, int);
static int		 xisbool(const struct expr *);

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
	expr_prog_free(a->prog);
	a->prog = NULL;
	return (xnode_unary(op, a, 0));
}

/* Apply a binary operation to two expressions, which it takes. */
struct expr *
expr_binary(enum expr_op op, struct expr *a, struct expr *b)
{
	if (op < XOP_ADD || op > XOP_MAX)
		fatalx("%s: bad operation %d", __func__, op);
	expr_prog_free(a->prog);
	a->prog = NULL;
	expr_prog_free(b->prog);
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
	expr_prog_free(e->prog);
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
int
expr_fold(struct expr *e, char **cause, size_t *errpos)
{
	int	 i;

	for (i = 0; i < 3; i++) {
		if (e->arg[i] != NULL &&
		    expr_fold(e->arg[i], cause, errpos) != 0)
			return (-1);
	}
	switch (e->type) {
	case XN_UNARY:
		if (XISCONST(e->arg[0])) {
			xset_const(e, expr_apply_unary(e->op,
			    e->arg[0]->value));
		}
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
		xset_const(e, expr_apply_binary(e->op, a->value, b->value));
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
