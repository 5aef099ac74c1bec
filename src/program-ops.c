/* forkflow: see LICENSE. */
/*
 * Operators: what a program may call them and their functions, in every
 * dialect (synonyms, any case, an argument embedded as "ADD(5)" or given
 * apart), and how an operator is built from its parts once a reader, JSON
 * (program.c) or lines (program-text.c), has found them: the kind, the
 * function, its argument, and the expression that does the work.  Also the
 * canonical names, and an operator described for messages.
 */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "forkflow.h"

/* Names of a function or operator, as the program may spell them. */
struct name {
	const char	*name;
	int		 value;
};

/*
 * Operators and functions, with the synonyms the other public
 * implementations use (see forkflow-program(5), "Compatibility").  Names
 * match whatever their case, and '_' and '-' in them are ignored.
 */
static const struct name op_names[] = {
	{ "map",		OP_MAP },
	{ "filter",		OP_FILTER },
	{ "changekey",		OP_CHANGEKEY },
	{ "change",		OP_CHANGEKEY },
	{ "reduce",		OP_REDUCE },
	{ "flatmap",		OP_FLATMAP },
	{ "mapper",		OP_MAPPER },
	{ "reducer",		OP_REDUCER },
	{ NULL,			0 }
};

static const struct name flatmap_names[] = {
	{ "words",		FN_WORDS },
	{ "words_doc",		FN_WORDS_DOC },
	{ "split",		FN_SPLIT },
	{ NULL,			0 }
};

static const struct name unary_names[] = {
	{ "add",		FN_ADD },
	{ "sub",		FN_SUB },
	{ "subtract",		FN_SUB },
	{ "mul",		FN_MUL },
	{ "mult",		FN_MUL },
	{ "multiply",		FN_MUL },
	{ "div",		FN_DIV },
	{ "divide",		FN_DIV },
	{ "mod",		FN_MOD },
	{ "modulo",		FN_MOD },
	{ NULL,			0 }
};

static const struct name filter_names[] = {
	{ "gt",			FN_GT },
	{ "greater_than",	FN_GT },
	{ "ge",			FN_GE },
	{ "gte",		FN_GE },
	{ "greater_or_equal",	FN_GE },
	{ "greater_of_equal",	FN_GE },	/* sic, in one peer */
	{ "greater_equal",	FN_GE },
	{ "lt",			FN_LT },
	{ "lower_than",		FN_LT },
	{ "less_than",		FN_LT },
	{ "le",			FN_LE },
	{ "lte",		FN_LE },
	{ "lower_or_equal",	FN_LE },
	{ "less_or_equal",	FN_LE },
	{ "lower_equal",	FN_LE },
	{ "less_equal",		FN_LE },
	{ "eq",			FN_EQ },
	{ "equal",		FN_EQ },
	{ "equals",		FN_EQ },
	{ "ne",			FN_NE },
	{ "neq",		FN_NE },
	{ "not_equal",		FN_NE },
	{ "even",		FN_EVEN },
	{ "is_even",		FN_EVEN },
	{ "odd",		FN_ODD },
	{ "is_odd",		FN_ODD },
	{ NULL,			0 }
};

static const struct name reduce_names[] = {
	{ "sum",		FN_SUM },
	{ "add",		FN_SUM },
	{ "prod",		FN_PROD },
	{ "product",		FN_PROD },
	{ "mul",		FN_PROD },
	{ "mult",		FN_PROD },
	{ "multiply",		FN_PROD },
	{ "min",		FN_MIN },
	{ "minimum",		FN_MIN },
	{ "max",		FN_MAX },
	{ "maximum",		FN_MAX },
	{ "count",		FN_COUNT },
	{ "collect",		FN_COLLECT },
	{ NULL,			0 }
};

/* What cannot be given one meaning, and why. */
static const struct refusal {
	int		 kind;		/* -1: any operator */
	const char	*name;
	const char	*why;
} refusals[] = {
	{ OP_REDUCE, "sub", "depends on the order of the values, which is "
	    "not defined" },
	{ OP_REDUCE, "subtract", "depends on the order of the values, which "
	    "is not defined" },
	{ OP_REDUCE, "div", "depends on the order of the values, which is "
	    "not defined" },
	{ OP_REDUCE, "divide", "depends on the order of the values, which is "
	    "not defined" },
	{ -1, "power", "gives numbers that are not integers; values are "
	    "64-bit integers" },
	{ -1, "pow", "gives numbers that are not integers; values are "
	    "64-bit integers" },
	{ -1, "root", "gives numbers that are not integers; values are "
	    "64-bit integers" },
	{ -1, "sqrt", "gives numbers that are not integers; values are "
	    "64-bit integers" },
	{ -1, NULL, NULL }
};

/* Canonical spelling of each function, indexed by enum op_fn. */
static const char *fn_canonical[] = {
	[FN_EXPR] = "expr",
	[FN_ADD] = "ADD", [FN_SUB] = "SUB", [FN_MUL] = "MUL",
	[FN_DIV] = "DIV", [FN_MOD] = "MOD",
	[FN_GT] = "GT", [FN_GE] = "GE", [FN_LT] = "LT", [FN_LE] = "LE",
	[FN_EQ] = "EQ", [FN_NE] = "NE", [FN_EVEN] = "EVEN", [FN_ODD] = "ODD",
	[FN_SUM] = "SUM", [FN_PROD] = "PROD", [FN_MIN] = "MIN",
	[FN_MAX] = "MAX", [FN_COUNT] = "COUNT", [FN_COLLECT] = "COLLECT",
	[FN_WORDS] = "WORDS", [FN_WORDS_DOC] = "WORDS_DOC",
	[FN_SPLIT] = "SPLIT",
};

/* Canonical spelling of each operator, indexed by enum op_kind. */
static const char *op_canonical[] = {
	[OP_MAP] = "map", [OP_FILTER] = "filter",
	[OP_CHANGEKEY] = "changeKey", [OP_REDUCE] = "reduce",
	[OP_FLATMAP] = "flatMap", [OP_MAPPER] = "mapper",
	[OP_REDUCER] = "reducer",
};

static int		 name_lookup(const struct name *, const char *);
static int		 split_call(const char *, size_t *, const char **,
			     size_t *);
static const char	*trim(const char *, size_t *);
static int		 parse_arg(const char *, size_t, int64_t *);
static const char	*refused(int, const char *);
static int		 op_command(struct program *, const struct opspec *,
			     struct op *, char **);
static int		 op_expr(struct program *, const struct opspec *,
			     struct op *, char **);
static int		 op_function(struct program *, const struct opspec *,
			     struct op *, const char **, size_t *, char **);
static int		 op_separator(struct program *, const struct opspec *,
			     struct op *, const char *, size_t, char **);
static int		 op_arg(struct program *, const struct opspec *,
			     struct op *, const char *, size_t, char **);
static void		 expr_srcpos(const struct program *, const struct op *,
			     size_t, struct srcpos *);
static int		 build_expr(struct program *, struct op *, char **);

/* Compare names ignoring case, '_' and '-'. */
int
program_name_equal(const char *a, const char *b)
{
	for (;;) {
		while (*a == '_' || *a == '-')
			a++;
		while (*b == '_' || *b == '-')
			b++;
		if (*a == '\0' || *b == '\0')
			return (*a == *b);
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return (0);
		a++;
		b++;
	}
}

/* The value of the name that s spells in table t, or -1. */
static int
name_lookup(const struct name *t, const char *s)
{
	for (; t->name != NULL; t++) {
		if (program_name_equal(t->name, s))
			return (t->value);
	}
	return (-1);
}

/*
 * Split "NAME(INNER)" at s: the name's length, and where INNER is (NULL
 * if there are no parentheses).  Returns -1 if the parentheses are not
 * balanced or something follows them.
 */
static int
split_call(const char *s, size_t *namelen, const char **inner,
    size_t *innerlen)
{
	const char	*open, *close;

	*inner = NULL;
	*innerlen = 0;
	if ((open = strchr(s, '(')) == NULL) {
		*namelen = strlen(s);
		return (0);
	}
	*namelen = (size_t)(open - s);
	close = strrchr(s, ')');
	if (close == NULL || close < open || close[1] != '\0')
		return (-1);
	*inner = open + 1;
	*innerlen = (size_t)(close - open - 1);
	return (0);
}

/* Trim blanks around a piece of a string: its start and new length. */
static const char *
trim(const char *s, size_t *len)
{
	while (*len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		(*len)--;
	}
	while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
		(*len)--;
	return (s);
}

/* An operator written as a string: "map(ADD(5))", "reduce()". */
int
program_op_string(struct program *p, const char *s, const struct srcpos *at,
    struct op *op, char **cause)
{
	struct opspec	 spec;
	const char	*inner, *t;
	size_t		 nlen, ilen;
	char		*oper, *func = NULL;
	int		 r;

	memset(&spec, 0, sizeof spec);
	spec.at = *at;
	spec.oper_at = *at;
	spec.oper_at.col++;		/* past the quote */
	if (split_call(s, &nlen, &inner, &ilen) != 0) {
		program_error(cause, p, at, "an operator written as a string "
		    "is NAME(FUNCTION(ARG)), like \"map(ADD(5))\": \"%s\"",
		    s);
		return (-1);
	}
	t = trim(s, &nlen);
	oper = xstrndup(t, nlen);
	spec.oper = oper;
	spec.oper_at.col += (int)(t - s);
	if (inner != NULL) {
		t = trim(inner, &ilen);
		if (ilen > 0) {
			func = xstrndup(t, ilen);
			spec.func = func;
			spec.func_at = *at;
			spec.func_at.col += 1 + (int)(t - s);
		}
	}
	r = program_op_build(p, &spec, op, cause);
	free(oper);
	free(func);
	return (r);
}

/* Parse an integer argument written as text. */
static int
parse_arg(const char *s, size_t len, int64_t *out)
{
	char		 buf[32], *end;
	long long	 v;

	if (len == 0 || len >= sizeof buf)
		return (-1);
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (*end != '\0' || errno != 0 || !(isdigit((unsigned char)buf[0]) ||
	    ((buf[0] == '-' || buf[0] == '+') &&
	    isdigit((unsigned char)buf[1]))))
		return (-1);
	*out = v;
	return (0);
}

/* Is name refused for an operator kind?  Return why, or NULL. */
static const char *
refused(int kind, const char *name)
{
	const struct refusal	*r;

	for (r = refusals; r->name != NULL; r++) {
		if ((r->kind == -1 || r->kind == kind) &&
		    program_name_equal(r->name, name))
			return (r->why);
	}
	return (NULL);
}

/*
 * Build an operator from its parts as the program spells them, in any
 * dialect: names in any case, synonyms, an argument embedded in the
 * function ("ADD(5)") or given apart.
 */
int
program_op_build(struct program *p, const struct opspec *spec, struct op *op,
    char **cause)
{
	const char	*inner;
	size_t		 ilen;
	int		 kind;

	op->pos = spec->at;
	if ((kind = name_lookup(op_names, spec->oper)) == -1) {
		program_error(cause, p, &spec->oper_at, "unknown operator "
		    "'%s' (expected map, filter, changeKey, flatMap or reduce)",
		    spec->oper);
		return (-1);
	}
	op->kind = kind;
	op->on_key = (kind == OP_CHANGEKEY && p->changekey_on_key);

	if (kind == OP_MAPPER || kind == OP_REDUCER)
		return (op_command(p, spec, op, cause));
	if (spec->argv != NULL || spec->command != NULL) {
		program_error(cause, p, &spec->command_at, "only a mapper or "
		    "reducer has a \"command\"");
		return (-1);
	}
	if (spec->expr != NULL)
		return (op_expr(p, spec, op, cause));
	if (spec->func == NULL) {
		if (kind == OP_REDUCE) {
			op->fn = FN_SUM;	/* as the peers do */
			return (0);
		}
		program_error(cause, p, &spec->at,
		    "missing \"function\" (or \"expr\")");
		return (-1);
	}
	if (op_function(p, spec, op, &inner, &ilen, cause) != 0)
		return (-1);
	if (kind == OP_FLATMAP)
		return (op_separator(p, spec, op, inner, ilen, cause));
	return (op_arg(p, spec, op, inner, ilen, cause));
}

/* A mapper or reducer: copy its command and make its combiner. */
static int
op_command(struct program *p, const struct opspec *spec, struct op *op,
    char **cause)
{
	size_t	 n;

	if (spec->argv == NULL && spec->command == NULL) {
		program_error(cause, p, &spec->at, "%s needs a "
		    "\"command\"", op_canonical[op->kind]);
		return (-1);
	}
	if (spec->argv != NULL) {
		for (n = 0; spec->argv[n] != NULL; n++)
			;
		op->argv = xcalloc(n + 1, sizeof *op->argv);
		for (n = 0; spec->argv[n] != NULL; n++)
			op->argv[n] = xstrdup(spec->argv[n]);
	} else
		op->command = xstrdup(spec->command);
	if (spec->combiner != NULL) {
		if (op->kind != OP_REDUCER) {
			program_error(cause, p, &spec->at, "only a "
			    "reducer has a combiner");
			return (-1);
		}
		op->combiner = xcalloc(1, sizeof *op->combiner);
		op->combiner->kind = OP_REDUCER;
		op->combiner->is_combiner = 1;
		op->combiner->command = xstrdup(spec->combiner);
		op->combiner->pos = spec->at;
	}
	return (0);
}

/* An operator with an expression: only map, filter and changeKey have one. */
static int
op_expr(struct program *p, const struct opspec *spec, struct op *op,
    char **cause)
{
	if (op->kind == OP_FLATMAP) {
		program_error(cause, p, &spec->expr_at, "flatMap takes "
		    "a \"function\" (WORDS, WORDS_DOC or SPLIT), not "
		    "an expression");
		return (-1);
	}
	if (op->kind == OP_REDUCE) {
		program_error(cause, p, &spec->expr_at, "reduce takes "
		    "a \"function\" (SUM, PROD, MIN, MAX, COUNT or COLLECT), "
		    "not an expression");
		return (-1);
	}
	op->fn = FN_EXPR;
	op->src = xstrdup(spec->expr);
	op->expr_pos = spec->expr_at;
	op->expr_off = spec->expr_off;
	return (build_expr(p, op, cause));
}

/*
 * Find the function an operator names among those of its kind, or say why
 * not; *inner and *ilen are what its parentheses hold, if it has any.
 */
static int
op_function(struct program *p, const struct opspec *spec, struct op *op,
    const char **inner, size_t *ilen, char **cause)
{
	const struct name	*table;
	const char		*why, *t;
	size_t			 nlen;
	char			*fname;
	int			 kind = op->kind, fn;

	if (split_call(spec->func, &nlen, inner, ilen) != 0) {
		program_error(cause, p, &spec->func_at, "unbalanced "
		    "parentheses in function '%s'", spec->func);
		return (-1);
	}
	t = trim(spec->func, &nlen);
	fname = xstrndup(t, nlen);
	switch (kind) {
	case OP_FILTER:
		table = filter_names;
		break;
	case OP_REDUCE:
		table = reduce_names;
		break;
	case OP_FLATMAP:
		table = flatmap_names;
		break;
	default:
		table = unary_names;
		break;
	}
	if ((fn = name_lookup(table, fname)) == -1) {
		if ((why = refused(kind, fname)) != NULL)
			program_error(cause, p, &spec->func_at, "%s %s is "
			    "refused: it %s", op_canonical[kind], fname, why);
		else
			program_error(cause, p, &spec->func_at, "unknown "
			    "function '%s' for %s (expected %s)", fname,
			    op_canonical[kind], kind == OP_FILTER ?
			    "GT, GE, LT, LE, EQ, NE, EVEN or ODD" :
			    kind == OP_REDUCE ? "SUM, PROD, MIN, MAX, COUNT or "
			    "COLLECT" : kind == OP_FLATMAP ? "WORDS, WORDS_DOC "
			    "or SPLIT" : "ADD, SUB, MUL, DIV or MOD");
		free(fname);
		return (-1);
	}
	free(fname);
	op->fn = fn;
	return (0);
}

/* flatMap SPLIT's separator: a string, or the embedded text. */
static int
op_separator(struct program *p, const struct opspec *spec, struct op *op,
    const char *inner, size_t ilen, char **cause)
{
	if (op->fn != FN_SPLIT)
		return (0);
	if (spec->sarg != NULL)
		op->sarg = xstrdup(spec->sarg);
	else if (spec->arg_text != NULL)
		op->sarg = xstrdup(spec->arg_text);
	else if (inner != NULL && ilen > 0)
		op->sarg = xstrndup(inner, ilen);
	if (op->sarg == NULL || *op->sarg == '\0') {
		program_error(cause, p, &spec->at, "flatMap SPLIT "
		    "needs a separator \"arg\", like \",\"");
		return (-1);
	}
	return (0);
}

/*
 * The integer argument of a named function: embedded, apart, or as text;
 * then the operator's expression.
 */
static int
op_arg(struct program *p, const struct opspec *spec, struct op *op,
    const char *inner, size_t ilen, char **cause)
{
	const char	*t;
	int		 kind = op->kind, fn = op->fn;

	op->has_arg = spec->has_arg;
	op->arg = spec->arg;
	if (inner != NULL) {
		t = trim(inner, &ilen);
		if (ilen > 0) {
			if (spec->has_arg || spec->arg_bad != NULL ||
			    spec->arg_text != NULL) {
				program_error(cause, p, &spec->func_at,
				    "the argument is given twice");
				return (-1);
			}
			if (parse_arg(t, ilen, &op->arg) != 0) {
				program_error(cause, p, &spec->func_at,
				    "the argument of '%s' must be an integer",
				    spec->func);
				return (-1);
			}
			op->has_arg = 1;
		}
	} else if (spec->arg_text != NULL) {
		if (parse_arg(spec->arg_text, strlen(spec->arg_text),
		    &op->arg) != 0) {
			program_error(cause, p, &spec->arg_at, "the argument "
			    "'%s' must be an integer", spec->arg_text);
			return (-1);
		}
		op->has_arg = 1;
	}

	/* An argument here is ignored, as the seed implementation does. */
	if (kind == OP_REDUCE || fn == FN_EVEN || fn == FN_ODD) {
		op->has_arg = 0;
		op->arg = 0;
		return (kind == OP_REDUCE ? 0 : build_expr(p, op, cause));
	}
	if (spec->arg_bad != NULL && !op->has_arg) {
		program_error(cause, p, &spec->arg_at, "\"%s\" must be an "
		    "integer", spec->arg_bad);
		return (-1);
	}
	if (!op->has_arg) {
		program_error(cause, p, &spec->at, "%s %s needs an integer "
		    "\"arg\"", op_canonical[kind], fn_canonical[fn]);
		return (-1);
	}
	if ((fn == FN_DIV || fn == FN_MOD) && op->arg == 0) {
		program_error(cause, p, spec->has_arg ||
		    spec->arg_text != NULL ? &spec->arg_at : &spec->func_at,
		    "%s %s 0: %s by zero", op_canonical[kind],
		    fn_canonical[fn], fn == FN_DIV ? "division" : "modulo");
		return (-1);
	}
	return (build_expr(p, op, cause));
}

/*
 * Find the line and column in the file of byte off of an expression: walk
 * the raw JSON string, whose escapes are longer than what they decode to.
 */
static void
expr_srcpos(const struct program *p, const struct op *op, size_t off,
    struct srcpos *out)
{
	const char	*raw = p->text + op->expr_off + 1;
	size_t		 dec = 0, r = 0;
	unsigned int	 cp;

	while (raw[r] != '\0' && raw[r] != '"' && dec < off) {
		if (raw[r] == '\\') {
			if (raw[r + 1] == 'u') {
				cp = (unsigned int)strtoul(
				    (char[]){ raw[r + 2], raw[r + 3],
				    raw[r + 4], raw[r + 5], '\0' }, NULL, 16);
				dec += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
				r += 6;
			} else {
				dec++;
				r += 2;
			}
		} else {
			dec++;
			r++;
		}
	}
	out->line = op->expr_pos.line;
	out->col = op->expr_pos.col + 1 + (int)r;
}

/* Compile the operator's expression, or build one for a named function. */
static int
build_expr(struct program *p, struct op *op, char **cause)
{
	struct expr	*x, *var;
	struct srcpos	 at;
	char		*why;
	size_t		 errpos;

	if (op->fn == FN_EXPR) {
		op->expr = expr_parse(op->src, &why, &errpos);
		if (op->expr == NULL) {
			expr_srcpos(p, op, errpos, &at);
			program_error(cause, p, &at, "in expression \"%s\": %s",
			    op->src, why);
			free(why);
			return (-1);
		}
		return (0);
	}

	var = expr_var(op->on_key ? 'k' : 'v');
	switch (op->fn) {
	case FN_ADD:
		x = expr_binary(XOP_ADD, var, expr_const(op->arg));
		break;
	case FN_SUB:
		x = expr_binary(XOP_SUB, var, expr_const(op->arg));
		break;
	case FN_MUL:
		x = expr_binary(XOP_MUL, var, expr_const(op->arg));
		break;
	case FN_DIV:
		x = expr_binary(XOP_DIV, var, expr_const(op->arg));
		break;
	case FN_MOD:
		x = expr_binary(XOP_MOD, var, expr_const(op->arg));
		break;
	case FN_GT:
		x = expr_binary(XOP_GT, var, expr_const(op->arg));
		break;
	case FN_GE:
		x = expr_binary(XOP_GE, var, expr_const(op->arg));
		break;
	case FN_LT:
		x = expr_binary(XOP_LT, var, expr_const(op->arg));
		break;
	case FN_LE:
		x = expr_binary(XOP_LE, var, expr_const(op->arg));
		break;
	case FN_EQ:
		x = expr_binary(XOP_EQ, var, expr_const(op->arg));
		break;
	case FN_NE:
		x = expr_binary(XOP_NE, var, expr_const(op->arg));
		break;
	case FN_EVEN:
	case FN_ODD:
		x = expr_binary(op->fn == FN_EVEN ? XOP_EQ : XOP_NE,
		    expr_binary(XOP_MOD, var, expr_const(2)), expr_const(0));
		break;
	default:
		expr_free(var);
		return (0);
	}
	if (expr_finish(x, &why, &errpos) != 0) {
		program_error(cause, p, NULL, "%s", why);
		free(why);
		expr_free(x);
		return (-1);
	}
	op->expr = x;
	return (0);
}

/* The canonical name of a function. */
const char *
program_fn_name(enum op_fn fn)
{
	return (fn_canonical[fn]);
}

/* The canonical name of an operator. */
const char *
program_op_name(const struct op *op)
{
	return (op_canonical[op->kind]);
}

/* Describe an operator for messages: "map ADD 5 (job.json:7:5)". */
char *
program_op_describe(const struct program *p, const struct op *op)
{
	char	*s, *cmd, *t;
	size_t	 i;

	if (op->kind == OP_MAPPER || op->kind == OP_REDUCER) {
		if (op->command != NULL)
			cmd = xstrdup(op->command);
		else {
			cmd = xstrdup(op->argv[0]);
			for (i = 1; op->argv[i] != NULL; i++) {
				xasprintf(&t, "%s %s", cmd, op->argv[i]);
				free(cmd);
				cmd = t;
			}
		}
		xasprintf(&s, "%s \"%s\" (%s:%d:%d)", op->is_combiner ?
		    "combiner" : op_canonical[op->kind], cmd, p->path,
		    op->pos.line, op->pos.col);
		free(cmd);
		return (s);
	}
	if (op->fn == FN_EXPR)
		xasprintf(&s, "%s \"%s\" (%s:%d:%d)", op_canonical[op->kind],
		    op->src, p->path, op->pos.line, op->pos.col);
	else if (op->has_arg)
		xasprintf(&s, "%s %s %lld (%s:%d:%d)", op_canonical[op->kind],
		    fn_canonical[op->fn], (long long)op->arg, p->path,
		    op->pos.line, op->pos.col);
	else
		xasprintf(&s, "%s %s (%s:%d:%d)", op_canonical[op->kind],
		    fn_canonical[op->fn], p->path, op->pos.line, op->pos.col);
	return (s);
}
