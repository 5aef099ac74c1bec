/* forkflow: see LICENSE. */
/*
 * Tests of the dialects of the other public implementations (issue 4;
 * forkflow-program(5), COMPATIBILITY).  Every spelling of an operator and
 * of a function is checked by what the loaded operator computes (its
 * expression run by expr_eval(), or its reduce function run by agg), in
 * every way a program may write a step: a JSON object with "arg" or
 * "value" or the argument embedded ("ADD(5)"), a string step
 * ("map(ADD(5))") in "instructions", a line of a line program with its
 * words separated by blanks, ';' or ','.  Also the keys "instructions" and
 * "files", the defaults and ignored arguments of reduce, line programs,
 * everything refused with its message and FILE:LINE:COLUMN,
 * --changekey-on through program_load_opts(), an empty program, and where
 * inputs are looked for.
 *
 * As in check_program.c, single quotes become double quotes in the file,
 * and a backquote marks where an error must point.
 */

#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "forkflow.h"
#include "check_forkflow.h"

#define NITEMS(a)	(sizeof (a) / sizeof (a)[0])

/* The ways a program may write one step. */
enum dialect {
	D_OBJECT,	/* {"operator": O, "function": F, "arg": A} */
	D_VALUE,	/* {"operator": O, "function": F, "value": A} */
	D_EMBED,	/* {"operator": O, "function": "F(A)"} */
	D_STRING,	/* "O(F(A))" in "instructions" */
	D_LINE,		/* O F A */
	D_SEMI,		/* O;F;A */
	D_COMMA,	/* O,F,A */
	D_NDIALECTS
};

static const char *const dialect_names[] = {
	"object", "value", "embedded", "string", "line", "line;", "line,"
};

/* Where the backquote goes in a step made by dl_source(). */
enum mark {
	M_NONE,
	M_STEP,		/* the step: an object, a string, a line */
	M_OPER,		/* the operator's name */
	M_FUNC,		/* the function's name */
	M_ARG		/* the argument (apart from the function) */
};

static char	dl_tmpdir[256];

#define dl_path(...)	ck_path(dl_tmpdir, __VA_ARGS__)
#define dl_write(name, src, line, col) \
	ck_program_write(dl_tmpdir, (name), (src), (line), (col))
#define dl_bad(src, changekey, msg) \
	ck_program_bad(dl_tmpdir, "bad", (src), (changekey), (msg))
#define dl_check_inputs(p, want, nwant) \
	ck_program_inputs(dl_tmpdir, (p), (want), (nwant))

static void	dl_setup(void);
static void	dl_teardown(void);
static struct program *dl_load(const char *, int);
static char	*dl_source(enum dialect, const char *, const char *,
		    const char *, enum mark);
static struct program *dl_step(enum dialect, const char *, const char *,
		    const char *, int);
static int64_t	dl_eval(const struct op *, int64_t, int64_t);
static int64_t	dl_reduce(const struct op *);

static void
dl_setup(void)
{
	ck_tmpdir(dl_tmpdir, sizeof dl_tmpdir, "check_dialect");
}

static void
dl_teardown(void)
{
	rm_tree(dl_tmpdir);
}

/* Load src, which must load, with --changekey-on changekey (-1: none). */
static struct program *
dl_load(const char *src, int changekey)
{
	struct program	*p;
	char		*path, *cause = NULL;
	int		 line, col;

	path = dl_write("prog", src, &line, &col);
	p = program_load_opts(path, changekey, &cause);
	ck_assert_msg(p != NULL, "%s\nin: %s", cause, src);
	free(path);
	return (p);
}

/*
 * A program of one step in dialect d: operator oper, function fn (NULL:
 * none), argument arg (NULL: none), with a backquote at m.
 */
static char *
dl_source(enum dialect d, const char *oper, const char *fn, const char *arg,
    enum mark m)
{
	const char	*ms = m == M_STEP ? "`" : "", *mo = m == M_OPER ? "`" : "";
	const char	*mf = m == M_FUNC ? "`" : "", *ma = m == M_ARG ? "`" : "";
	const char	*key = d == D_VALUE ? "value" : "arg", *sep;
	char		*s, *f, *a;

	switch (d) {
	case D_OBJECT:
	case D_VALUE:
	case D_EMBED:
		if (fn == NULL)
			f = xstrdup("");
		else if (d == D_EMBED && arg != NULL)
			xasprintf(&f, ", 'function': %s'%s(%s)'", mf, fn, arg);
		else
			xasprintf(&f, ", 'function': %s'%s'", mf, fn);
		if (arg != NULL && d != D_EMBED)
			xasprintf(&a, ", '%s': %s%s", key, ma, arg);
		else
			a = xstrdup("");
		xasprintf(&s, "{'operations': [\n  %s{'operator': %s'%s'%s%s}"
		    "\n]}\n", ms, mo, oper, f, a);
		free(f);
		free(a);
		return (s);
	case D_STRING:
		if (fn == NULL)
			f = xstrdup("");
		else if (arg != NULL)
			xasprintf(&f, "%s%s(%s)", mf, fn, arg);
		else
			xasprintf(&f, "%s%s", mf, fn);
		xasprintf(&s, "{'instructions': [\n  %s'%s%s(%s)'\n]}\n", ms,
		    mo, oper, f);
		free(f);
		return (s);
	default:
		sep = d == D_SEMI ? ";" : d == D_COMMA ? "," : " ";
		xasprintf(&s, "# %s\n\n%s%s%s%s%s%s%s%s%s\n", dialect_names[d],
		    ms, mo, oper, fn != NULL ? sep : "", mf,
		    fn != NULL ? fn : "", arg != NULL ? sep : "", ma,
		    arg != NULL ? arg : "");
		return (s);
	}
}

/* Load a program of one step, which must load. */
static struct program *
dl_step(enum dialect d, const char *oper, const char *fn, const char *arg,
    int changekey)
{
	struct program	*p;
	char		*src;

	src = dl_source(d, oper, fn, arg, M_NONE);
	p = dl_load(src, changekey);
	ck_assert_msg(p->nops == 1, "%zu operators in: %s", p->nops, src);
	ck_assert_msg(p->nwarnings == 0, "%s\nin: %s", p->warnings[0], src);
	free(src);
	return (p);
}

/* What the operator's expression gives for (k, v). */
static int64_t
dl_eval(const struct op *op, int64_t k, int64_t v)
{
	int64_t	r;

	ck_assert_ptr_nonnull(op->expr);
	ck_assert_int_eq(expr_eval(op->expr, k, v, &r), 0);
	return (r);
}

/* What the reduce gives for the values 3, -2, 5 of one key. */
static int64_t
dl_reduce(const struct op *op)
{
	static const int64_t	 ks[] = { 42, 42, 42 }, vs[] = { 3, -2, 5 };
	struct agg		 a;
	size_t			 pos = 0;
	int64_t			 k, acc, k2, acc2;

	ck_assert_int_eq(op->kind, OP_REDUCE);
	ck_assert_ptr_null(op->expr);
	ck_assert_int_eq(op->has_arg, 0);
	agg_init(&a, op->fn);
	agg_add_batch(&a, ks, vs, NITEMS(vs));
	ck_assert_int_eq(agg_next(&a, &pos, &k, &acc), 1);
	ck_assert_int_eq(k, 42);
	ck_assert_int_eq(agg_next(&a, &pos, &k2, &acc2), 0);
	agg_free(&a);
	return (acc);
}

/*
 * Operators in any case, with '_' and '-' ignored, and "change" for
 * changeKey, in every dialect.  map ADD 3 and changeKey ADD 3 (on the
 * value by default) give v + 3, filter GT 3 keeps v > 3, reduce SUM sums.
 */
START_TEST(test_dialect_operators)
{
	static const struct {
		const char	*name;
		enum op_kind	 kind;
	} t[] = {
		{ "map",	OP_MAP },
		{ "MAP",	OP_MAP },
		{ "Map",	OP_MAP },
		{ "filter",	OP_FILTER },
		{ "FILTER",	OP_FILTER },
		{ "Filter",	OP_FILTER },
		{ "changeKey",	OP_CHANGEKEY },
		{ "CHANGEKEY",	OP_CHANGEKEY },
		{ "changekey",	OP_CHANGEKEY },
		{ "change_key",	OP_CHANGEKEY },
		{ "CHANGE_KEY",	OP_CHANGEKEY },
		{ "Change-Key",	OP_CHANGEKEY },
		{ "change",	OP_CHANGEKEY },
		{ "CHANGE",	OP_CHANGEKEY },
		{ "Change",	OP_CHANGEKEY },
		{ "reduce",	OP_REDUCE },
		{ "REDUCE",	OP_REDUCE },
		{ "Reduce",	OP_REDUCE },
	};
	static const char *const fn[] = {
		[OP_MAP] = "ADD", [OP_FILTER] = "GT",
		[OP_CHANGEKEY] = "add", [OP_REDUCE] = "SUM",
	};
	struct program	*p;
	const struct op	*op;
	size_t		 i;
	int		 d;

	for (i = 0; i < NITEMS(t); i++) {
		for (d = 0; d < D_NDIALECTS; d++) {
			p = dl_step(d, t[i].name, fn[t[i].kind], "3", -1);
			op = &p->ops[0];
			ck_assert_msg(op->kind == t[i].kind, "%s (%s): kind %d",
			    t[i].name, dialect_names[d], op->kind);
			ck_assert_int_eq(op->on_key, 0);
			switch (t[i].kind) {
			case OP_MAP:
			case OP_CHANGEKEY:
				ck_assert_int_eq(dl_eval(op, 10, 100), 103);
				ck_assert_int_eq(dl_eval(op, 10, -5), -2);
				break;
			case OP_FILTER:
				ck_assert_int_ne(dl_eval(op, 10, 4), 0);
				ck_assert_int_eq(dl_eval(op, 10, 3), 0);
				ck_assert_int_eq(dl_eval(op, 4, 3), 0);
				break;
			case OP_REDUCE:
				ck_assert_int_eq(op->fn, FN_SUM);
				ck_assert_int_eq(dl_reduce(op), 6);
				break;
			default:
				ck_abort_msg("%s: no check for kind %d",
				    t[i].name, t[i].kind);
			}
			program_free(p);
		}
	}
}
END_TEST

/*
 * The functions of map and changeKey and their synonyms, in every dialect,
 * with 3 as the argument: on the value, and with --changekey-on key on the
 * key of a changeKey.
 */
START_TEST(test_dialect_unary)
{
	static const struct {
		const char	*name;
		enum op_fn	 fn;
		int64_t		 neg;	/* on -10 */
		int64_t		 pos;	/* on 7 */
	} t[] = {
		{ "add",	FN_ADD,	-7,	10 },
		{ "ADD",	FN_ADD,	-7,	10 },
		{ "sub",	FN_SUB,	-13,	4 },
		{ "SUB",	FN_SUB,	-13,	4 },
		{ "subtract",	FN_SUB,	-13,	4 },
		{ "SUBTRACT",	FN_SUB,	-13,	4 },
		{ "mul",	FN_MUL,	-30,	21 },
		{ "MUL",	FN_MUL,	-30,	21 },
		{ "mult",	FN_MUL,	-30,	21 },
		{ "MULT",	FN_MUL,	-30,	21 },
		{ "multiply",	FN_MUL,	-30,	21 },
		{ "MULTIPLY",	FN_MUL,	-30,	21 },
		{ "div",	FN_DIV,	-3,	2 },
		{ "DIV",	FN_DIV,	-3,	2 },
		{ "divide",	FN_DIV,	-3,	2 },
		{ "DIVIDE",	FN_DIV,	-3,	2 },
		{ "mod",	FN_MOD,	-1,	1 },
		{ "MOD",	FN_MOD,	-1,	1 },
		{ "modulo",	FN_MOD,	-1,	1 },
		{ "MODULO",	FN_MOD,	-1,	1 },
		{ "Sub-Tract",	FN_SUB,	-13,	4 },
	};
	static const char *const opers[] = { "map", "changeKey" };
	struct program	*p;
	const struct op	*op;
	size_t		 i, j;
	int		 d;

	for (i = 0; i < NITEMS(t); i++) {
		for (d = 0; d < D_NDIALECTS; d++) {
			for (j = 0; j < NITEMS(opers); j++) {
				p = dl_step(d, opers[j], t[i].name, "3", -1);
				op = &p->ops[0];
				ck_assert_msg(op->fn == t[i].fn &&
				    op->has_arg && op->arg == 3,
				    "%s %s (%s): fn %d arg %lld", opers[j],
				    t[i].name, dialect_names[d], op->fn,
				    (long long)op->arg);
				ck_assert_int_eq(dl_eval(op, 1000, -10),
				    t[i].neg);
				ck_assert_int_eq(dl_eval(op, 1000, 7),
				    t[i].pos);
				program_free(p);
			}
			p = dl_step(d, "changeKey", t[i].name, "3", 1);
			op = &p->ops[0];
			ck_assert_int_eq(op->on_key, 1);
			ck_assert_int_eq(dl_eval(op, -10, 1000), t[i].neg);
			ck_assert_int_eq(dl_eval(op, 7, 1000), t[i].pos);
			program_free(p);
		}
	}
}
END_TEST

/*
 * The predicates of filter and their synonyms, in every dialect, with 3
 * as the argument (ignored by EVEN and ODD): which of the values -3, 2, 3
 * and 4 each keeps.
 */
START_TEST(test_dialect_filters)
{
	static const struct {
		const char	*name;
		enum op_fn	 fn;
		const char	*keeps;	/* of -3, 2, 3, 4 */
	} t[] = {
		{ "gt",			FN_GT,		"0001" },
		{ "GT",			FN_GT,		"0001" },
		{ "greater_than",	FN_GT,		"0001" },
		{ "GREATER_THAN",	FN_GT,		"0001" },
		{ "GreaterThan",	FN_GT,		"0001" },
		{ "greater-than",	FN_GT,		"0001" },
		{ "ge",			FN_GE,		"0011" },
		{ "GE",			FN_GE,		"0011" },
		{ "gte",		FN_GE,		"0011" },
		{ "GTE",		FN_GE,		"0011" },
		{ "greater_or_equal",	FN_GE,		"0011" },
		{ "GREATER_OR_EQUAL",	FN_GE,		"0011" },
		{ "greater_of_equal",	FN_GE,		"0011" },
		{ "GREATER_OF_EQUAL",	FN_GE,		"0011" },
		{ "greater_equal",	FN_GE,		"0011" },
		{ "lt",			FN_LT,		"1100" },
		{ "LT",			FN_LT,		"1100" },
		{ "lower_than",		FN_LT,		"1100" },
		{ "LOWER_THAN",		FN_LT,		"1100" },
		{ "less_than",		FN_LT,		"1100" },
		{ "LESS_THAN",		FN_LT,		"1100" },
		{ "le",			FN_LE,		"1110" },
		{ "LE",			FN_LE,		"1110" },
		{ "lte",		FN_LE,		"1110" },
		{ "LTE",		FN_LE,		"1110" },
		{ "lower_or_equal",	FN_LE,		"1110" },
		{ "LOWER_OR_EQUAL",	FN_LE,		"1110" },
		{ "less_or_equal",	FN_LE,		"1110" },
		{ "lower_equal",	FN_LE,		"1110" },
		{ "less_equal",		FN_LE,		"1110" },
		{ "eq",			FN_EQ,		"0010" },
		{ "EQ",			FN_EQ,		"0010" },
		{ "equal",		FN_EQ,		"0010" },
		{ "EQUAL",		FN_EQ,		"0010" },
		{ "equals",		FN_EQ,		"0010" },
		{ "ne",			FN_NE,		"1101" },
		{ "NE",			FN_NE,		"1101" },
		{ "neq",		FN_NE,		"1101" },
		{ "not_equal",		FN_NE,		"1101" },
		{ "NOT_EQUAL",		FN_NE,		"1101" },
		{ "NotEqual",		FN_NE,		"1101" },
		{ "even",		FN_EVEN,	"0101" },
		{ "EVEN",		FN_EVEN,	"0101" },
		{ "is_even",		FN_EVEN,	"0101" },
		{ "IS_EVEN",		FN_EVEN,	"0101" },
		{ "odd",		FN_ODD,		"1010" },
		{ "ODD",		FN_ODD,		"1010" },
		{ "is_odd",		FN_ODD,		"1010" },
		{ "IS_ODD",		FN_ODD,		"1010" },
	};
	static const int64_t vs[] = { -3, 2, 3, 4 };
	struct program	*p;
	const struct op	*op;
	size_t		 i, j;
	int		 d, even_odd;

	for (i = 0; i < NITEMS(t); i++) {
		even_odd = t[i].fn == FN_EVEN || t[i].fn == FN_ODD;
		for (d = 0; d < D_NDIALECTS; d++) {
			p = dl_step(d, "filter", t[i].name, "3", -1);
			op = &p->ops[0];
			ck_assert_msg(op->kind == OP_FILTER &&
			    op->fn == t[i].fn, "%s (%s): fn %d", t[i].name,
			    dialect_names[d], op->fn);
			ck_assert_int_eq(op->has_arg, !even_odd);
			for (j = 0; j < NITEMS(vs); j++) {
				ck_assert_msg((dl_eval(op, 1000, vs[j]) != 0) ==
				    (t[i].keeps[j] == '1'), "%s 3 (%s) on %lld",
				    t[i].name, dialect_names[d],
				    (long long)vs[j]);
				/* On the value, never the key. */
				ck_assert_int_eq(dl_eval(op, vs[j], 1000) != 0,
				    dl_eval(op, 2000, 1000) != 0);
			}
			program_free(p);

			/* EVEN and ODD need no argument. */
			if (even_odd) {
				p = dl_step(d, "filter", t[i].name, NULL, -1);
				ck_assert_int_eq(p->ops[0].fn, t[i].fn);
				ck_assert_int_eq(dl_eval(&p->ops[0], 0, 3) != 0,
				    t[i].fn == FN_ODD);
				program_free(p);
			}
		}
	}
}
END_TEST

/*
 * The functions of reduce and their synonyms, in every dialect, with an
 * argument (ignored) and without: on the values 3, -2 and 5.
 */
START_TEST(test_dialect_reduces)
{
	static const struct {
		const char	*name;
		enum op_fn	 fn;
		int64_t		 want;
	} t[] = {
		{ "sum",	FN_SUM,		6 },
		{ "SUM",	FN_SUM,		6 },
		{ "add",	FN_SUM,		6 },
		{ "ADD",	FN_SUM,		6 },
		{ "prod",	FN_PROD,	-30 },
		{ "PROD",	FN_PROD,	-30 },
		{ "product",	FN_PROD,	-30 },
		{ "PRODUCT",	FN_PROD,	-30 },
		{ "mul",	FN_PROD,	-30 },
		{ "MUL",	FN_PROD,	-30 },
		{ "mult",	FN_PROD,	-30 },
		{ "MULT",	FN_PROD,	-30 },
		{ "multiply",	FN_PROD,	-30 },
		{ "MULTIPLY",	FN_PROD,	-30 },
		{ "min",	FN_MIN,		-2 },
		{ "MIN",	FN_MIN,		-2 },
		{ "minimum",	FN_MIN,		-2 },
		{ "MINIMUM",	FN_MIN,		-2 },
		{ "max",	FN_MAX,		5 },
		{ "MAX",	FN_MAX,		5 },
		{ "maximum",	FN_MAX,		5 },
		{ "MAXIMUM",	FN_MAX,		5 },
		{ "count",	FN_COUNT,	3 },
		{ "COUNT",	FN_COUNT,	3 },
		{ "Count",	FN_COUNT,	3 },
	};
	struct program	*p;
	size_t		 i;
	int		 d;

	for (i = 0; i < NITEMS(t); i++) {
		for (d = 0; d < D_NDIALECTS; d++) {
			p = dl_step(d, "reduce", t[i].name, "8", -1);
			ck_assert_msg(p->ops[0].fn == t[i].fn, "%s (%s): fn %d",
			    t[i].name, dialect_names[d], p->ops[0].fn);
			ck_assert_int_eq(dl_reduce(&p->ops[0]), t[i].want);
			program_free(p);
			p = dl_step(d, "reduce", t[i].name, NULL, -1);
			ck_assert_int_eq(p->ops[0].fn, t[i].fn);
			ck_assert_int_eq(dl_reduce(&p->ops[0]), t[i].want);
			program_free(p);
		}
	}
}
END_TEST

/* A reduce without a function sums; whatever "arg" it has is ignored. */
START_TEST(test_dialect_reduce_default)
{
	static const char *const src[] = {
		"{'operations': [{'operator': 'reduce'}]}",
		"{'operations': [{'operator': 'REDUCE', 'arg': 3}]}",
		"{'operations': [{'operator': 'reduce', 'value': 'x'}]}",
		"{'operations': ['reduce()']}",
		"{'instructions': ['reduce']}",
		"{'instructions': ['Reduce( )']}",
		"reduce\n",
		"  REDUCE  # sums\n",
		"reduce;;\n",
		/* Ignored arguments, whatever they hold. */
		"{'operations': [{'operator': 'reduce', 'function': 'SUM', "
		    "'arg': 'x'}]}",
		"{'operations': [{'operator': 'reduce', 'function': 'ADD', "
		    "'value': [1]}]}",
		"{'operations': [{'operator': 'reduce', 'function': 'ADD', "
		    "'arg': 8}]}",
		"{'operations': [{'operator': 'reduce', 'function': 'SUM(9)'}]}",
		"{'operations': ['reduce(SUM(-1))']}",
		"reduce add 0\n",
		"reduce;add;77\n",
	};
	struct program	*p;
	size_t		 i;

	for (i = 0; i < NITEMS(src); i++) {
		p = dl_load(src[i], -1);
		ck_assert_uint_eq(p->nops, 1);
		ck_assert_msg(p->ops[0].fn == FN_SUM, "%s: fn %d", src[i],
		    p->ops[0].fn);
		ck_assert_int_eq(dl_reduce(&p->ops[0]), 6);
		ck_assert_uint_eq(p->nwarnings, 0);
		program_free(p);
	}

	/* The fold of AlessandroConti11: "reduce;mult;77" is a product. */
	p = dl_load("reduce;mult;77\n", -1);
	ck_assert_int_eq(p->ops[0].fn, FN_PROD);
	ck_assert_int_eq(dl_reduce(&p->ops[0]), -30);
	program_free(p);
}
END_TEST

/* "instructions" for "operations", "files" for "input". */
START_TEST(test_dialect_keys)
{
	struct program	*p;

	p = dl_load("{'instructions': [{'operator': 'map', 'function': 'ADD',"
	    " 'arg': 1}], 'files': 'in.csv', 'partitions': 3}", -1);
	ck_assert_uint_eq(p->nops, 1);
	ck_assert_int_eq(dl_eval(&p->ops[0], 0, 1), 2);
	ck_assert_uint_eq(p->ninput_specs, 1);
	ck_assert_str_eq(p->input_specs[0], "in.csv");
	ck_assert_int_eq(p->partitions, 3);
	ck_assert_uint_eq(p->nwarnings, 0);
	program_free(p);

	p = dl_load("{'files': ['files/p0/key1.csv', 'files/p0/key2.csv'], "
	    "'operations': []}", -1);
	ck_assert_uint_eq(p->ninput_specs, 2);
	ck_assert_str_eq(p->input_specs[0], "files/p0/key1.csv");
	ck_assert_str_eq(p->input_specs[1], "files/p0/key2.csv");
	ck_assert_uint_eq(p->nops, 0);
	ck_assert_uint_eq(p->nwarnings, 0);
	program_free(p);

	dl_bad("{'files': `7, 'operations': []}", -1,
	    "files must be a file name or a list of them");
	dl_bad("{'files': ['a', `[]], 'operations': []}", -1,
	    "an input is a file name (string)");
	dl_bad("{'instructions': `'map(ADD(1))'}", -1,
	    "instructions must be a list of operators");
	dl_bad("`{'Instructions': []}", -1, "missing \"operations\"");
}
END_TEST

/* Steps written as strings, as loretor's "instructions". */
START_TEST(test_dialect_string_steps)
{
	static const struct {
		const char	*step;
		enum op_kind	 kind;
		enum op_fn	 fn;
		int		 has_arg;
		int64_t		 arg;
		int64_t		 want;	/* on (k 10, v 100); reduce: 3 -2 5 */
	} t[] = {
		{ "map(ADD(5))",	OP_MAP,		FN_ADD, 1, 5,	105 },
		{ "change(MUL(2))",	OP_CHANGEKEY,	FN_MUL, 1, 2,	200 },
		{ "reduce()",		OP_REDUCE,	FN_SUM,	0, 0,	6 },
		{ "filter(IS_EVEN)",	OP_FILTER,	FN_EVEN, 0, 0,	1 },
		{ "map(ADD(-3))",	OP_MAP,		FN_ADD, 1, -3,	97 },
		{ "reduce(SUM)",	OP_REDUCE,	FN_SUM,	0, 0,	6 },
		{ "map(SUB(3))",	OP_MAP,		FN_SUB, 1, 3,	97 },
		{ "changeKey(DIV(7))",	OP_CHANGEKEY,	FN_DIV, 1, 7,	14 },
		{ "filter(GT(100))",	OP_FILTER,	FN_GT,	1, 100,	0 },
		{ "filter(LTE(100))",	OP_FILTER,	FN_LE,	1, 100,	1 },
		{ "reduce(MAX)",	OP_REDUCE,	FN_MAX,	0, 0,	5 },
		{ "reduce(PRODUCT)",	OP_REDUCE,	FN_PROD, 0, 0,	-30 },
		{ " map ( ADD( 5 ) )",	OP_MAP,		FN_ADD, 1, 5,	105 },
		{ "map(ADD(+4))",	OP_MAP,		FN_ADD, 1, 4,	104 },
		{ "MAP(add(1))",	OP_MAP,		FN_ADD, 1, 1,	101 },
	};
	struct program	*p;
	const struct op	*op;
	char		*src;
	size_t		 i;
	int64_t		 r;

	/* All in one program, as loretor writes it. */
	p = dl_load("{\n\t'partitions': 9,\n\t'instructions': ['map(ADD(5))',"
	    "'change(MUL(2))','map(SUB(3))','reduce()']\n}\n", -1);
	ck_assert_int_eq(p->partitions, 9);
	ck_assert_uint_eq(p->nops, 4);
	ck_assert_int_eq(p->ops[0].pos.line, 3);
	ck_assert_int_eq(p->ops[1].pos.line, 3);
	ck_assert_int_eq(p->ops[0].pos.col, 19);
	ck_assert_int_eq(p->ops[1].pos.col, 33);
	ck_assert_int_eq(p->ops[3].kind, OP_REDUCE);
	program_free(p);

	for (i = 0; i < NITEMS(t); i++) {
		xasprintf(&src, "{'operations': ['map(ADD(0))', '%s']}",
		    t[i].step);
		p = dl_load(src, -1);
		ck_assert_uint_eq(p->nops, 2);
		op = &p->ops[1];
		ck_assert_msg(op->kind == t[i].kind && op->fn == t[i].fn &&
		    op->has_arg == t[i].has_arg && op->arg == t[i].arg,
		    "%s: kind %d fn %d has_arg %d arg %lld", t[i].step,
		    op->kind, op->fn, op->has_arg, (long long)op->arg);
		if (op->kind == OP_REDUCE)
			r = dl_reduce(op);
		else {
			r = dl_eval(op, 10, 100);
			if (op->kind == OP_FILTER)
				r = r != 0;
		}
		ck_assert_msg(r == t[i].want, "%s: %lld", t[i].step,
		    (long long)r);
		ck_assert_uint_eq(p->nwarnings, 0);
		program_free(p);
		free(src);
	}
}
END_TEST

/* The argument: "value" for "arg", embedded, given twice, not an integer. */
START_TEST(test_dialect_args)
{
	static const struct {
		const char	*fn;
		int64_t		 arg;
	} ok[] = {
		{ "ADD(5)",			5 },
		{ "ADD(-3)",			-3 },
		{ "ADD(+4)",			4 },
		{ "ADD( 7 )",			7 },
		{ "ADD (8)",			8 },
		{ "ADD(0)",			0 },
		{ "ADD(9223372036854775807)",	INT64_MAX },
		{ "ADD(-9223372036854775808)",	INT64_MIN },
	};
	static const char *const bad[] = {
		"x", "1.5", "5x", "-", "+", "0x10", "1e3", "5 5", "--5",
		"9223372036854775808", "-9223372036854775809",
		"99999999999999999999",
	};
	struct program	*p;
	char		*src, *msg;
	size_t		 i;

	p = dl_load("{'operations': [{'operator': 'map', 'function': 'ADD', "
	    "'value': 5}, {'operator': 'filter', 'function': 'GT', "
	    "'value': -1}]}", -1);
	ck_assert_int_eq(p->ops[0].arg, 5);
	ck_assert_int_eq(dl_eval(&p->ops[0], 0, 10), 15);
	ck_assert_int_eq(dl_eval(&p->ops[1], 0, -1), 0);
	ck_assert_int_ne(dl_eval(&p->ops[1], 0, 0), 0);
	ck_assert_uint_eq(p->nwarnings, 0);
	program_free(p);

	for (i = 0; i < NITEMS(ok); i++) {
		xasprintf(&src, "{'operations': [{'operator': 'map', "
		    "'function': '%s'}]}", ok[i].fn);
		p = dl_load(src, -1);
		ck_assert_msg(p->ops[0].fn == FN_ADD && p->ops[0].has_arg &&
		    p->ops[0].arg == ok[i].arg, "%s: %lld", ok[i].fn,
		    (long long)p->ops[0].arg);
		ck_assert_int_eq(dl_eval(&p->ops[0], 0, 0), ok[i].arg);
		program_free(p);
		free(src);
	}

	/* An embedded argument that is not an integer. */
	for (i = 0; i < NITEMS(bad); i++) {
		xasprintf(&src, "{'operations': [{'operator': 'map', "
		    "'function': `'ADD(%s)'}]}", bad[i]);
		xasprintf(&msg, "the argument of 'ADD(%s)' must be an integer",
		    bad[i]);
		dl_bad(src, -1, msg);
		free(src);
		free(msg);
		xasprintf(&src, "{'operations': ['map(`ADD(%s))']}", bad[i]);
		xasprintf(&msg, "the argument of 'ADD(%s)' must be an integer",
		    bad[i]);
		dl_bad(src, -1, msg);
		free(src);
		free(msg);
	}
	/* The same, as the third word of a line. */
	dl_bad("map add `x\n", -1, "the argument 'x' must be an integer");
	dl_bad("map;add;`1.5\n", -1, "the argument '1.5' must be an integer");
	dl_bad("\n  filter,gt,`0x10\n", -1,
	    "the argument '0x10' must be an integer");
	dl_bad("map add `99999999999999999999\n", -1,
	    "the argument '99999999999999999999' must be an integer");

	/* Given twice. */
	dl_bad("{'operations': [{'operator': 'map', 'function': `'ADD(5)', "
	    "'arg': 5}]}", -1, "the argument is given twice");
	dl_bad("{'operations': [{'operator': 'map', 'function': `'ADD(5)', "
	    "'value': 6}]}", -1, "the argument is given twice");
	dl_bad("{'operations': [{'operator': 'filter', 'value': 1, "
	    "'function': `'GT(1)'}]}", -1, "the argument is given twice");

	/* Missing, or not an integer apart. */
	dl_bad("{'operations': [`{'operator': 'map', 'function': 'ADD()'}]}",
	    -1, "map ADD needs an integer \"arg\"");
	dl_bad("{'operations': [`'map(ADD)']}", -1,
	    "map ADD needs an integer \"arg\"");
	dl_bad("{'operations': [`'change(MUL())']}", -1,
	    "changeKey MUL needs an integer \"arg\"");
	dl_bad("\n`map add\n", -1, "map ADD needs an integer \"arg\"");
	dl_bad("  `filter;gte\n", -1, "filter GE needs an integer \"arg\"");
	dl_bad("{'operations': [{'operator': 'map', 'function': 'ADD', "
	    "'value': `'5'}]}", -1, "\"value\" must be an integer");
	dl_bad("{'operations': [{'operator': 'map', 'function': 'ADD', "
	    "'value': `2.5}]}", -1, "\"value\" must be an integer");

	/* Division by zero, embedded. */
	dl_bad("{'operations': [{'operator': 'map', 'function': `'DIV(0)'}]}",
	    -1, "map DIV 0: division by zero");
	dl_bad("{'operations': [{'operator': 'map', 'function': `'DIVIDE(-0)'"
	    "}]}", -1, "map DIV 0: division by zero");
	dl_bad("{'operations': ['change(`MODULO(0))']}", -1,
	    "changeKey MOD 0: modulo by zero");
	dl_bad("{'operations': [{'operator': 'map', 'function': 'DIV', "
	    "'value': `0}]}", -1, "map DIV 0: division by zero");
}
END_TEST

/*
 * A line program's division by zero points at the argument, as a JSON
 * program's does ({"arg": 0} points at the 0).
 */
START_TEST(test_dialect_line_div_zero_at_arg)
{
	dl_bad("map div `0\n", -1, "map DIV 0: division by zero");
	dl_bad("changeKey;mod;`0\n", -1, "changeKey MOD 0: modulo by zero");
}
END_TEST

/* Reduce SUB and DIV depend on the order; power and root are not integer. */
START_TEST(test_dialect_refused)
{
	static const char *const order[] = {
		"SUB", "sub", "SUBTRACT", "subtract", "Sub_Tract", "DIV", "div",
		"DIVIDE", "divide",
	};
	static const char *const real[] = {
		"power", "POWER", "pow", "POW", "root", "ROOT", "sqrt", "SQRT",
	};
	static const char *const opers[] = {
		"map", "changeKey", "filter", "reduce",
	};
	static const char *const canon[] = {
		"map", "changeKey", "filter", "reduce",
	};
	char		*src, *msg;
	size_t		 i, j;
	int		 d;

	for (i = 0; i < NITEMS(order); i++) {
		xasprintf(&msg, "reduce %s is refused: it depends on the order "
		    "of the values, which is not defined", order[i]);
		for (d = 0; d < D_NDIALECTS; d++) {
			src = dl_source(d, "reduce", order[i], "1", M_FUNC);
			dl_bad(src, -1, msg);
			free(src);
			src = dl_source(d, "REDUCE", order[i], NULL, M_FUNC);
			dl_bad(src, -1, msg);
			free(src);
		}
		free(msg);
	}
	for (i = 0; i < NITEMS(real); i++) {
		for (j = 0; j < NITEMS(opers); j++) {
			xasprintf(&msg, "%s %s is refused: it gives numbers "
			    "that are not integers; values are 64-bit "
			    "integers", canon[j], real[i]);
			for (d = 0; d < D_NDIALECTS; d++) {
				src = dl_source(d, opers[j], real[i], "2",
				    M_FUNC);
				dl_bad(src, -1, msg);
				free(src);
			}
			free(msg);
		}
	}

	/* Erlang's op2, as it is: the first refused line is named. */
	dl_bad("partitions = 300\nmap add 1\nmap subtract 2\nmap multiply 3\n"
	    "map divide 4\nmap `power 5\nmap root 6\nchangeKey add 1\n"
	    "reduce add 0", -1, "map power is refused: it gives numbers that "
	    "are not integers; values are 64-bit integers");

	/* SUB and DIV are fine where they have one meaning. */
	src = dl_source(D_SEMI, "map", "sub", "2", M_NONE);
	msg = dl_source(D_STRING, "change", "DIVIDE", "2", M_NONE);
	program_free(dl_load(src, -1));
	program_free(dl_load(msg, -1));
	free(src);
	free(msg);
}
END_TEST

/* Unknown names, at their position in every dialect. */
START_TEST(test_dialect_unknown)
{
	static const char *const opers[] = { "mapp", "flatMapp", "iterate",
	    "change key", "chang" };
	char		*src, *msg;
	size_t		 i;
	int		 d;

	for (i = 0; i < NITEMS(opers); i++) {
		xasprintf(&msg, "unknown operator '%s' (expected map, filter, "
		    "changeKey, flatMap or reduce)", opers[i]);
		for (d = 0; d < D_NDIALECTS; d++) {
			/* A blank splits a line's words. */
			if (d >= D_LINE && strchr(opers[i], ' ') != NULL)
				continue;
			src = dl_source(d, opers[i], "ADD", "1", M_OPER);
			dl_bad(src, -1, msg);
			free(src);
		}
		free(msg);
	}
	for (d = 0; d < D_NDIALECTS; d++) {
		src = dl_source(d, "map", "EXP", "1", M_FUNC);
		dl_bad(src, -1, "unknown function 'EXP' for map (expected ADD, "
		    "SUB, MUL, DIV or MOD)");
		free(src);
		src = dl_source(d, "filter", "ADD", "1", M_FUNC);
		dl_bad(src, -1, "unknown function 'ADD' for filter (expected "
		    "GT, GE, LT, LE, EQ, NE, EVEN or ODD)");
		free(src);
		src = dl_source(d, "reduce", "AVG", "1", M_FUNC);
		dl_bad(src, -1, "unknown function 'AVG' for reduce (expected "
		    "SUM, PROD, MIN, MAX, COUNT or COLLECT)");
		free(src);
		src = dl_source(d, "change_key", "GT", "1", M_FUNC);
		dl_bad(src, -1, "unknown function 'GT' for changeKey (expected "
		    "ADD, SUB, MUL, DIV or MOD)");
		free(src);
		src = dl_source(d, "map", NULL, NULL, M_STEP);
		dl_bad(src, -1, "missing \"function\" (or \"expr\")");
		free(src);
	}

	/* Strings that are not NAME(FUNCTION(ARG)). */
	dl_bad("{'operations': [`'map(ADD(5)) x']}", -1, "an operator written "
	    "as a string is NAME(FUNCTION(ARG)), like \"map(ADD(5))\": "
	    "\"map(ADD(5)) x\"");
	dl_bad("{'operations': ['map(`ADD(5)']}", -1, "unbalanced parentheses "
	    "in function 'ADD(5'");
	dl_bad("{'operations': [{'operator': 'map', 'function': `'ADD(5'}]}",
	    -1, "unbalanced parentheses in function 'ADD(5'");
	dl_bad("{'operations': [`'map)ADD(5)(']}", -1, "an operator written "
	    "as a string is NAME(FUNCTION(ARG)), like \"map(ADD(5))\": "
	    "\"map)ADD(5)(\"");
	dl_bad("{'operations': [`7]}", -1, "an operator is a JSON object or a "
	    "string like \"map(ADD(5))\"");
}
END_TEST

/*
 * In a string step, an unknown operator after blanks is pointed at, not
 * the blanks before it.
 */
START_TEST(test_dialect_string_blank_position)
{
	dl_bad("{'operations': ['  `mapp(ADD(1))']}", -1, "unknown operator "
	    "'mapp' (expected map, filter, changeKey, flatMap or reduce)");
}
END_TEST

/* Line programs: their grammar. */
START_TEST(test_dialect_lines)
{
	static const struct {
		enum op_kind	kind;
		enum op_fn	fn;
		int		has_arg;
		int64_t		arg;
		int		line;
		int		col;
	} want[] = {
		{ OP_MAP,	FN_ADD,	 1, 1,	3, 1 },
		{ OP_CHANGEKEY,	FN_MUL,	 1, 4,	4, 3 },
		{ OP_FILTER,	FN_NE,	 1, 55,	6, 1 },
		{ OP_CHANGEKEY,	FN_ADD,	 1, -70, 7, 1 },
		{ OP_FILTER,	FN_EVEN, 0, 0,	9, 2 },
		{ OP_MAP,	FN_SUB,	 1, 2,	10, 1 },
		{ OP_REDUCE,	FN_SUM,	 0, 0,	11, 1 },
	};
	struct program	*p;
	size_t		 i;

	p = dl_load("# Erlang, AlessandroConti11 and more, mixed\n"
	    "partitions = 30\n"
	    "map add 1\n"
	    "  changeKey\tmultiply   4   # a comment\n"
	    "\n"
	    "filter;not_equal;55\r\n"
	    "change_key;add;-70\n"
	    "   \t\n"
	    "\tfilter,is_even\n"
	    "map , sub ;; 2\n"
	    "reduce add 0", -1);
	ck_assert_int_eq(p->partitions, 30);
	ck_assert_uint_eq(p->ninput_specs, 0);
	ck_assert_int_eq(p->changekey_on_key, 0);
	ck_assert_uint_eq(p->nwarnings, 0);
	ck_assert_uint_eq(p->nops, NITEMS(want));
	for (i = 0; i < NITEMS(want); i++) {
		ck_assert_msg(p->ops[i].kind == want[i].kind &&
		    p->ops[i].fn == want[i].fn &&
		    p->ops[i].has_arg == want[i].has_arg &&
		    p->ops[i].arg == want[i].arg, "operator %zu: kind %d fn %d "
		    "arg %lld", i, p->ops[i].kind, p->ops[i].fn,
		    (long long)p->ops[i].arg);
		ck_assert_int_eq(p->ops[i].pos.line, want[i].line);
		ck_assert_int_eq(p->ops[i].pos.col, want[i].col);
	}
	ck_assert_int_eq(dl_eval(&p->ops[0], 0, 1), 2);
	ck_assert_int_eq(dl_eval(&p->ops[1], 1, 5), 20);
	ck_assert_int_eq(dl_eval(&p->ops[2], 0, 55), 0);
	ck_assert_int_ne(dl_eval(&p->ops[2], 0, 56), 0);
	ck_assert_int_eq(dl_eval(&p->ops[3], 0, 100), 30);
	ck_assert_int_eq(dl_eval(&p->ops[5], 0, 100), 98);
	program_free(p);

	/* "partitions" spelt in several ways; the last one counts. */
	p = dl_load("partitions=4\nreduce\n", -1);
	ck_assert_int_eq(p->partitions, 4);
	ck_assert_uint_eq(p->nops, 1);
	program_free(p);
	dl_bad("`partitions=4\n", -1, "no operator in this program");
	p = dl_load("PARTITIONS: 1024\nmap add 1\n", -1);
	ck_assert_int_eq(p->partitions, 1024);
	program_free(p);
	p = dl_load("map add 1\npartitions 2\npartitions\t=\t1\n", -1);
	ck_assert_int_eq(p->partitions, 1);
	ck_assert_uint_eq(p->nops, 1);
	program_free(p);
	p = dl_load("map add 1\n", -1);
	ck_assert_int_eq(p->partitions, 0);
	program_free(p);

	/* A comment alone is no program: it has no operator. */
	dl_bad("`# nothing yet\n\n", -1, "no operator in this program");

	/* JSON only if the first character that is not blank is '{'. */
	p = dl_load("\n\n   {'operations': ['map(ADD(1))']}\n", -1);
	ck_assert_uint_eq(p->nops, 1);
	program_free(p);
	dl_bad("# JSON?\n`{'operations': []}\n", -1, "unknown operator "
	    "'{\"operations\":' (expected map, filter, changeKey, flatMap or reduce)");
	dl_bad("\n `[1]", -1, "a program is a JSON object");
}
END_TEST

/* Line programs: errors, at their line and column. */
START_TEST(test_dialect_lines_bad)
{
	static const char *const parts[] = {
		"`partitions = 0\n",
		"`partitions=1025\n",
		"`partitions = x\n",
		"`partitions =\n",
		"`partitions\n",
		"`partitions = -2\n",
		"`partitions=3 4\n",
		"map add 1\n\n  `partitions = 99999999999999999999\n",
		"`partitions = 2.5\n",
	};
	size_t	i;

	for (i = 0; i < NITEMS(parts); i++)
		dl_bad(parts[i], -1, "partitions must be an integer from 1 to "
		    "1024");

	dl_bad("map add 1 `2\n", -1, "a line is OPERATOR FUNCTION [ARG]; this "
	    "one has more words");
	dl_bad("partitions = 4 `5\n", -1, "a line is OPERATOR FUNCTION [ARG]; "
	    "this one has more words");
	dl_bad("# ok\nmap add 1\nfilter;gt;1;`2\n", -1, "a line is OPERATOR "
	    "FUNCTION [ARG]; this one has more words");
	dl_bad("map add 1 # more words here are a comment\n\t`mapp add 1\n", -1,
	    "unknown operator 'mapp' (expected map, filter, changeKey, "
	    "flatMap or reduce)");
	dl_bad("\n\n   `mapp add 1\n", -1, "unknown operator 'mapp' (expected "
	    "map, filter, changeKey, flatMap or reduce)");
	dl_bad("map;`addd;1\n", -1, "unknown function 'addd' for map "
	    "(expected ADD, SUB, MUL, DIV or MOD)");
	dl_bad("reduce add 0\nreduce `sub 0\n", -1, "reduce sub is refused: "
	    "it depends on the order of the values, which is not defined");
}
END_TEST

/*
 * --changekey-on through program_load_opts(): 1 forces the key, 0 the
 * value, -1 leaves it to the program ("changeKeyOn"; a line program has
 * none, so the value).  Only named changeKey functions are affected.
 */
START_TEST(test_dialect_changekey_on)
{
	static const struct {
		const char	*src;
		int		 program;	/* what the program says */
	} t[] = {
		{ "{'operations': [{'operator': 'changeKey', 'function': "
		    "'ADD', 'arg': 3}]}", 0 },
		{ "{'changeKeyOn': 'key', 'operations': [{'operator': "
		    "'changeKey', 'function': 'ADD', 'arg': 3}]}", 1 },
		{ "{'changeKeyOn': 'value', 'operations': ['change(ADD(3))']}",
		    0 },
		{ "{'operations': ['change(ADD(3))'], 'changeKeyOn': 'KEY'}", 1 },
		{ "changeKey add 3\n", 0 },
		{ "change_key;add;3\n", 0 },
	};
	static const int opts[] = { -1, 0, 1 };
	struct program	*p;
	char		*c;
	size_t		 i, j;
	int		 on_key;

	for (i = 0; i < NITEMS(t); i++) {
		for (j = 0; j < NITEMS(opts); j++) {
			on_key = opts[j] == -1 ? t[i].program : opts[j];
			p = dl_load(t[i].src, opts[j]);
			ck_assert_int_eq(p->changekey_on_key, on_key);
			ck_assert_int_eq(p->changekey_forced, opts[j]);
			ck_assert_int_eq(p->ops[0].on_key, on_key);
			ck_assert_msg(dl_eval(&p->ops[0], 10, 100) ==
			    (on_key ? 13 : 103), "%s with %d", t[i].src,
			    opts[j]);
			c = program_canonical(p);
			ck_assert_ptr_nonnull(strstr(c, on_key ?
			    "\"changeKeyOn\": \"key\"" :
			    "\"changeKeyOn\": \"value\""));
			free(c);
			program_free(p);
		}
	}

	/* map and expressions are not affected. */
	p = dl_load("{'operations': [{'operator': 'map', 'function': 'ADD', "
	    "'arg': 3}, {'operator': 'changeKey', 'expr': 'v * 2'}, "
	    "'map(ADD(3))']}", 1);
	ck_assert_int_eq(dl_eval(&p->ops[0], 10, 100), 103);
	ck_assert_int_eq(dl_eval(&p->ops[1], 10, 100), 200);
	ck_assert_int_eq(dl_eval(&p->ops[2], 10, 100), 103);
	program_free(p);
	p = dl_load("map add 3\n", 1);
	ck_assert_int_eq(dl_eval(&p->ops[0], 10, 100), 103);
	program_free(p);
}
END_TEST

/* An empty program is refused, whatever its dialect would have been. */
START_TEST(test_dialect_empty)
{
	static const char *const src[] = { "", " ", "\n", " \t\r\n\n\t" };
	struct program	*p;
	char		*path, *cause = NULL, *want;
	size_t		 i;

	path = dl_path("empty");
	xasprintf(&want, "%s:1:1: empty program", path);
	for (i = 0; i < NITEMS(src); i++) {
		ck_spew_str(path, src[i]);
		p = program_load_opts(path, -1, &cause);
		ck_assert_ptr_null(p);
		ck_assert_str_eq(cause, want);
		free(cause);
		cause = NULL;
		p = program_load_opts(path, 1, &cause);
		ck_assert_ptr_null(p);
		ck_assert_str_eq(cause, want);
		free(cause);
		cause = NULL;
	}
	free(want);
	free(path);
}
END_TEST

/*
 * Inputs are looked for beside the program, then in input/ beside it,
 * then in the current folder (the test changes folder: Check forks it).
 */
START_TEST(test_dialect_input_search)
{
	static const char *const dirs[] = { "prog", "prog/input",
	    "prog/input/data", "cwd", "cwd/files", "cwd/files/p0" };
	static const char *const files[] = {
		"prog/a.csv", "prog/input/a.csv", "cwd/a.csv",
		"prog/input/b.csv", "cwd/b.csv",
		"cwd/c.csv",
		"prog/input/data/2.csv", "prog/input/data/1.csv",
		"cwd/files/p0/key1.csv",
	};
	static const char *const want[] = {
		"prog/a.csv", "prog/input/b.csv", "cwd/c.csv",
		"prog/input/data/1.csv", "prog/input/data/2.csv",
		"cwd/files/p0/key1.csv",
	};
	struct program	*p;
	const char	*abs[1];
	char		*path, *cause = NULL, *d, *msg;
	size_t		 i;
	int		 cwd, line, col;

	for (i = 0; i < NITEMS(dirs); i++) {
		d = dl_path("%s", dirs[i]);
		ck_assert_int_eq(mkdir(d, 0755), 0);
		free(d);
	}
	for (i = 0; i < NITEMS(files); i++) {
		d = dl_path("%s", files[i]);
		ck_spew_str(d, "1,2\n");
		free(d);
	}
	path = dl_write("prog/p.json", "{'files': ['a.csv', 'b.csv', "
	    "'c.csv', 'data', 'files/p0/key1.csv'], 'operations': []}",
	    &line, &col);

	cwd = open(".", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ne(cwd, -1);
	d = dl_path("cwd");
	ck_assert_int_eq(chdir(d), 0);
	free(d);

	p = program_load_opts(path, -1, &cause);
	ck_assert_msg(p != NULL, "%s", cause);
	ck_assert_int_eq(program_set_inputs(p, NULL, 0, &cause), 0);
	/* Found in the current folder: named as the program names it. */
	ck_assert_uint_eq(p->ninputs, NITEMS(want));
	for (i = 0; i < NITEMS(want); i++) {
		if (strncmp(want[i], "cwd/", 4) == 0)
			ck_assert_str_eq(p->inputs[i], want[i] + 4);
		else {
			xasprintf(&d, "%s/%s", dl_tmpdir, want[i]);
			ck_assert_str_eq(p->inputs[i], d);
			free(d);
		}
	}
	program_free(p);

	/* The program named from the current folder, by a relative path. */
	p = program_load_opts("../prog/p.json", -1, &cause);
	ck_assert_msg(p != NULL, "%s", cause);
	ck_assert_int_eq(program_set_inputs(p, NULL, 0, &cause), 0);
	ck_assert_str_eq(p->inputs[0], "../prog/a.csv");
	ck_assert_str_eq(p->inputs[1], "../prog/input/b.csv");
	ck_assert_str_eq(p->inputs[2], "c.csv");
	ck_assert_str_eq(p->inputs[3], "../prog/input/data/1.csv");
	ck_assert_str_eq(p->inputs[5], "files/p0/key1.csv");
	program_free(p);

	/* Elsewhere, what was in the current folder is not found. */
	ck_assert_int_eq(chdir(dl_tmpdir), 0);
	p = program_load_opts(path, -1, &cause);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(program_set_inputs(p, NULL, 0, &cause), -1);
	xasprintf(&msg, "%s: input c.csv not found (in %s/prog/, "
	    "%s/prog/input/ or the current folder)", path, dl_tmpdir,
	    dl_tmpdir);
	ck_assert_str_eq(cause, msg);
	free(msg);
	free(cause);
	program_free(p);

	/* Absolute paths are what they say. */
	free(path);
	xasprintf(&msg, "{'input': '%s/cwd/c.csv', 'operations': []}",
	    dl_tmpdir);
	path = dl_write("prog/abs.json", msg, &line, &col);
	free(msg);
	p = program_load_opts(path, -1, &cause);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(program_set_inputs(p, NULL, 0, &cause), 0);
	xasprintf(&msg, "%s/cwd/c.csv", dl_tmpdir);
	abs[0] = msg;
	dl_check_inputs(p, abs, 1);
	free(msg);
	program_free(p);
	free(path);

	ck_assert_int_eq(fchdir(cwd), 0);
	close(cwd);
}
END_TEST

/*
 * `forkflow validate --canonical` converts: the canonical form of a
 * program in a dialect loads to the same operators.
 */
START_TEST(test_dialect_canonical)
{
	static const char *const src[] = {
		"{'partitions': 9, 'instructions': ['map(ADD(5))', "
		    "'change(MUL(2))', 'map(SUB(3))', 'reduce()']}",
		"{'operations': [{'operator': 'FILTER', 'function': 'GT(0)'}, "
		    "{'operator': 'CHANGEKEY', 'function': 'DIVIDE(2)'}, "
		    "{'operator': 'REDUCE', 'function': 'SUM'}], 'files': "
		    "['files/program0/key1.csv', 'files/program0/key2.csv']}",
		"partitions = 30\nmap add 1\nchangeKey multiply 4\n"
		    "reduce add 0\n",
		"filter;not_equal;55\nchange_key;add;70\nfilter;greater_of_equal"
		    ";-3\nfilter;is_odd\nmap;mult;77\nreduce;mult;77\n",
	};
	static const int opts[] = { -1, 1 };
	struct program	*p, *q;
	char		*c1, *c2, *path, *cause = NULL;
	size_t		 i, j, k;
	int		 line, col;

	for (i = 0; i < NITEMS(src); i++) {
		for (j = 0; j < NITEMS(opts); j++) {
			p = dl_load(src[i], opts[j]);
			c1 = program_canonical(p);
			path = dl_write("canonical.json", c1, &line, &col);
			q = program_load_opts(path, -1, &cause);
			ck_assert_msg(q != NULL, "%s\n%s", cause, c1);
			ck_assert_uint_eq(q->nwarnings, 0);
			c2 = program_canonical(q);
			ck_assert_str_eq(c1, c2);
			ck_assert_int_eq(q->partitions, p->partitions);
			ck_assert_int_eq(q->changekey_on_key,
			    p->changekey_on_key);
			ck_assert_uint_eq(q->ninput_specs, p->ninput_specs);
			ck_assert_uint_eq(q->nops, p->nops);
			for (k = 0; k < p->nops; k++) {
				ck_assert_int_eq(q->ops[k].kind,
				    p->ops[k].kind);
				ck_assert_int_eq(q->ops[k].fn, p->ops[k].fn);
				ck_assert_int_eq(q->ops[k].has_arg,
				    p->ops[k].has_arg);
				ck_assert_int_eq(q->ops[k].arg, p->ops[k].arg);
				ck_assert_int_eq(q->ops[k].on_key,
				    p->ops[k].on_key);
			}
			free(c1);
			free(c2);
			free(path);
			program_free(p);
			program_free(q);
		}
	}

	/* Spelt out once. */
	p = dl_load("partitions = 30\nmap add 1\nchange multiply 4\n"
	    "reduce add 0\n", 1);
	c1 = program_canonical(p);
	ck_assert_str_eq(c1, "{\n"
	    "  \"partitions\": 30,\n"
	    "  \"changeKeyOn\": \"key\",\n"
	    "  \"operations\": [\n"
	    "    {\n"
	    "      \"operator\": \"map\",\n"
	    "      \"function\": \"ADD\",\n"
	    "      \"arg\": 1\n"
	    "    },\n"
	    "    {\n"
	    "      \"operator\": \"changeKey\",\n"
	    "      \"function\": \"MUL\",\n"
	    "      \"arg\": 4\n"
	    "    },\n"
	    "    {\n"
	    "      \"operator\": \"reduce\",\n"
	    "      \"function\": \"SUM\"\n"
	    "    }\n"
	    "  ]\n"
	    "}");
	free(c1);
	program_free(p);
}
END_TEST

Suite *
dialect_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("dialect");
	tc = tcase_create("names");
	tcase_add_unchecked_fixture(tc, dl_setup, dl_teardown);
	tcase_add_test(tc, test_dialect_operators);
	tcase_add_test(tc, test_dialect_unary);
	tcase_add_test(tc, test_dialect_filters);
	tcase_add_test(tc, test_dialect_reduces);
	tcase_add_test(tc, test_dialect_reduce_default);
	suite_add_tcase(s, tc);

	tc = tcase_create("forms");
	tcase_add_unchecked_fixture(tc, dl_setup, dl_teardown);
	tcase_add_test(tc, test_dialect_keys);
	tcase_add_test(tc, test_dialect_string_steps);
	tcase_add_test(tc, test_dialect_args);
	tcase_add_test(tc, test_dialect_lines);
	tcase_add_test(tc, test_dialect_lines_bad);
	tcase_add_test(tc, test_dialect_changekey_on);
	tcase_add_test(tc, test_dialect_empty);
	tcase_add_test(tc, test_dialect_canonical);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusals");
	tcase_add_unchecked_fixture(tc, dl_setup, dl_teardown);
	tcase_add_test(tc, test_dialect_refused);
	tcase_add_test(tc, test_dialect_unknown);
	suite_add_tcase(s, tc);

	tc = tcase_create("inputs");
	tcase_add_unchecked_fixture(tc, dl_setup, dl_teardown);
	tcase_add_test(tc, test_dialect_input_search);
	suite_add_tcase(s, tc);

	/* Known bugs: see each test's comment. */
	tc = tcase_create("positions");
	tcase_add_unchecked_fixture(tc, dl_setup, dl_teardown);
	tcase_add_test(tc, test_dialect_line_div_zero_at_arg);
	tcase_add_test(tc, test_dialect_string_blank_position);
	suite_add_tcase(s, tc);
	return (s);
}
