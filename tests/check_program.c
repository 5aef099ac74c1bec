/* forkflow: see LICENSE. */
/*
 * Tests of program.c, the loader of JSON programs: a sample program and
 * the spellings it may use, every error with the FILE:LINE:COLUMN it must
 * name, warnings for unknown keys, the canonical form, and how the inputs
 * are resolved.
 *
 * Programs are written with single quotes for readability; they become
 * double quotes in the file.  A backquote marks where an error or warning
 * must point: it is taken out, and its line and column are expected.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "forkflow.h"
#include "check_forkflow.h"

static char	prog_tmpdir[256];

#define tmp_path(...)	ck_path(prog_tmpdir, __VA_ARGS__)
#define prog_write(name, src, line, col) \
	ck_program_write(prog_tmpdir, (name), (src), (line), (col))
#define check_bad(src, msg) \
	ck_program_bad(prog_tmpdir, "bad.json", (src), -1, (msg))
#define check_inputs(p, want, nwant) \
	ck_program_inputs(prog_tmpdir, (p), (want), (nwant))

static void	prog_setup(void);
static void	prog_teardown(void);
static struct program *load_ok(const char *);
static void	check_bad_expr(const char *, const char *);
static void	check_bad_json(const char *, int, int);
static void	check_warnings(const char *, const char *const *, size_t);
static void	check_canonical(const char *);

static void
prog_setup(void)
{
	ck_tmpdir(prog_tmpdir, sizeof prog_tmpdir, "check_program");
}

static void
prog_teardown(void)
{
	rm_tree(prog_tmpdir);
}

static struct program *
load_ok(const char *src)
{
	struct program	*p;
	char		*path, *cause = NULL;
	int		 line, col;

	path = prog_write("ok.json", src, &line, &col);
	p = program_load(path, &cause);
	ck_assert_msg(p != NULL, "%s", cause);
	free(path);
	return (p);
}

/*
 * Expect the expression src (of a map, as the JSON string holds it, with
 * escapes) to fail at the backquote, with expr_parse()'s reason for the
 * decoded text dec.
 */
static void
check_bad_expr(const char *src, const char *dec)
{
	struct expr	*e;
	char		*why = NULL, *prog, *msg;
	size_t		 pos;

	e = expr_parse(dec, &why, &pos);
	ck_assert_ptr_null(e);
	xasprintf(&prog, "{\n  'operations': [\n    {'operator': 'map', "
	    "'expr': '%s'}\n  ]\n}\n", src);
	xasprintf(&msg, "in expression \"%s\": %s", dec, why);
	check_bad(prog, msg);
	free(prog);
	free(msg);
	free(why);
}

/* The sample program of the seed, with changeKey on the key. */
static const char sample[] =
    "{\n"
    "    'partitions': 1,\n"
    "    'input': 'input.csv',\n"
    "    'changeKeyOn': 'key',\n"
    "    'operations': [\n"
    "        {\n"
    "            'operator': 'reduce',\n"
    "            'function': 'ADD',\n"
    "            'arg': 8\n"
    "        },\n"
    "        {\n"
    "            'operator': 'reduce',\n"
    "            'function': 'ADD',\n"
    "            'arg': 3\n"
    "        },\n"
    "        {\n"
    "            'operator': 'changeKey',\n"
    "            'function': 'ADD',\n"
    "            'arg': 4\n"
    "        },\n"
    "        {\n"
    "            'operator': 'reduce',\n"
    "            'function': 'ADD',\n"
    "            'arg': 9\n"
    "        },\n"
    "        {\n"
    "            'operator': 'map',\n"
    "            'function': 'ADD',\n"
    "            'arg': 6\n"
    "        }\n"
    "    ]\n"
    "}\n";

START_TEST(test_program_sample)
{
	static const struct {
		enum op_kind	kind;
		enum op_fn	fn;
		int		has_arg;
		int64_t		arg;
		int		on_key;
		int		line;
	} want[] = {
		{ OP_REDUCE,	FN_SUM, 0, 0, 0, 6 },
		{ OP_REDUCE,	FN_SUM, 0, 0, 0, 11 },
		{ OP_CHANGEKEY,	FN_ADD, 1, 4, 1, 16 },
		{ OP_REDUCE,	FN_SUM, 0, 0, 0, 21 },
		{ OP_MAP,	FN_ADD, 1, 6, 0, 26 },
	};
	struct program	*p;
	char		*d;
	int64_t		 r;
	size_t		 i;

	p = load_ok(sample);
	ck_assert_int_eq(p->partitions, 1);
	ck_assert_int_eq(p->changekey_on_key, 1);
	ck_assert_uint_eq(p->ninput_specs, 1);
	ck_assert_str_eq(p->input_specs[0], "input.csv");
	ck_assert_uint_eq(p->nwarnings, 0);
	ck_assert_uint_eq(p->nops, 5);
	for (i = 0; i < p->nops; i++) {
		ck_assert_int_eq(p->ops[i].kind, want[i].kind);
		ck_assert_int_eq(p->ops[i].fn, want[i].fn);
		ck_assert_int_eq(p->ops[i].has_arg, want[i].has_arg);
		ck_assert_int_eq(p->ops[i].arg, want[i].arg);
		ck_assert_int_eq(p->ops[i].on_key, want[i].on_key);
		ck_assert_int_eq(p->ops[i].pos.line, want[i].line);
		ck_assert_int_eq(p->ops[i].pos.col, 9);
		ck_assert_int_eq(p->ops[i].expr == NULL,
		    want[i].kind == OP_REDUCE);
	}
	/* changeKey ADD 4 applies to the key, map ADD 6 to the value. */
	ck_assert_int_eq(expr_eval(p->ops[2].expr, 10, 100, &r), 0);
	ck_assert_int_eq(r, 14);
	ck_assert_int_eq(expr_eval(p->ops[4].expr, 10, 100, &r), 0);
	ck_assert_int_eq(r, 106);
	ck_assert_str_eq(program_op_name(&p->ops[2]), "changeKey");
	d = program_op_describe(p, &p->ops[2]);
	ck_assert_int_eq(strncmp(d, "changeKey ADD 4 (", 17), 0);
	ck_assert_ptr_nonnull(strstr(d, "ok.json:16:9)"));
	free(d);
	d = program_op_describe(p, &p->ops[0]);
	ck_assert_ptr_nonnull(strstr(d, "reduce SUM ("));
	free(d);
	program_free(p);
}
END_TEST

/* changeKey works on the value unless the program says otherwise. */
START_TEST(test_program_changekey_on)
{
	struct program	*p;
	int64_t		 r;

	p = load_ok("{'operations': [{'operator': 'changeKey', "
	    "'function': 'MUL', 'arg': 3}]}");
	ck_assert_int_eq(p->changekey_on_key, 0);
	ck_assert_int_eq(p->ops[0].on_key, 0);
	ck_assert_int_eq(expr_eval(p->ops[0].expr, 10, 100, &r), 0);
	ck_assert_int_eq(r, 300);
	program_free(p);

	/* Given after the operations, still in force; any spelling. */
	p = load_ok("{'operations': [{'operator': 'changeKey', "
	    "'function': 'MUL', 'arg': 3}], 'changeKeyOn': 'KEY'}");
	ck_assert_int_eq(p->ops[0].on_key, 1);
	ck_assert_int_eq(expr_eval(p->ops[0].expr, 10, 100, &r), 0);
	ck_assert_int_eq(r, 30);
	program_free(p);

	p = load_ok("{'changeKeyOn': 'Value', 'operations': []}");
	ck_assert_int_eq(p->changekey_on_key, 0);
	program_free(p);
}
END_TEST

/* Names ignore case, '_' and '-'. */
START_TEST(test_program_names)
{
	static const struct {
		const char	*op;
		const char	*fn;
		enum op_kind	 kind;
		enum op_fn	 want;
	} t[] = {
		{ "map",	"ADD",		OP_MAP,		FN_ADD },
		{ "MAP",	"sub",		OP_MAP,		FN_SUB },
		{ "Map",	"Mul",		OP_MAP,		FN_MUL },
		{ "changeKey",	"div",		OP_CHANGEKEY,	FN_DIV },
		{ "CHANGEKEY",	"MOD",		OP_CHANGEKEY,	FN_MOD },
		{ "change_key",	"ADD",		OP_CHANGEKEY,	FN_ADD },
		{ "change-key",	"ADD",		OP_CHANGEKEY,	FN_ADD },
		{ "Change_Key",	"ADD",		OP_CHANGEKEY,	FN_ADD },
		{ "changekey",	"ADD",		OP_CHANGEKEY,	FN_ADD },
		{ "FILTER",	"gt",		OP_FILTER,	FN_GT },
		{ "filter",	"G_E",		OP_FILTER,	FN_GE },
		{ "filter",	"lt",		OP_FILTER,	FN_LT },
		{ "filter",	"LE",		OP_FILTER,	FN_LE },
		{ "filter",	"eq",		OP_FILTER,	FN_EQ },
		{ "filter",	"Ne",		OP_FILTER,	FN_NE },
		{ "filter",	"EVEN",		OP_FILTER,	FN_EVEN },
		{ "filter",	"odd",		OP_FILTER,	FN_ODD },
		{ "reduce",	"SUM",		OP_REDUCE,	FN_SUM },
		{ "reduce",	"ADD",		OP_REDUCE,	FN_SUM },
		{ "Reduce",	"add",		OP_REDUCE,	FN_SUM },
		{ "reduce",	"prod",		OP_REDUCE,	FN_PROD },
		{ "reduce",	"MIN",		OP_REDUCE,	FN_MIN },
		{ "reduce",	"max",		OP_REDUCE,	FN_MAX },
		{ "reduce",	"COUNT",	OP_REDUCE,	FN_COUNT },
		{ "reduce",	"_count_",	OP_REDUCE,	FN_COUNT },
	};
	struct program	*p;
	char		*src;
	size_t		 i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		xasprintf(&src, "{'operations': [{'operator': '%s', "
		    "'function': '%s', 'arg': 2}]}", t[i].op, t[i].fn);
		p = load_ok(src);
		ck_assert_uint_eq(p->nops, 1);
		ck_assert_msg(p->ops[0].kind == t[i].kind &&
		    p->ops[0].fn == t[i].want, "%s %s: kind %d fn %d",
		    t[i].op, t[i].fn, p->ops[0].kind, p->ops[0].fn);
		program_free(p);
		free(src);
	}
}
END_TEST

/* An "arg" on a reduce, EVEN or ODD is ignored, whatever it holds. */
START_TEST(test_program_arg_ignored)
{
	struct program	*p;
	int64_t		 r;

	p = load_ok("{'operations': [{'operator': 'reduce', 'function': 'SUM', "
	    "'arg': 'x'}, {'operator': 'filter', 'function': 'EVEN', "
	    "'arg': [1]}, {'operator': 'filter', 'function': 'ODD'}, "
	    "{'operator': 'reduce', 'function': 'MAX'}]}");
	ck_assert_uint_eq(p->nops, 4);
	ck_assert_int_eq(p->ops[0].has_arg, 0);
	ck_assert_int_eq(p->ops[1].has_arg, 0);
	/* Workers run every filter through its expression. */
	ck_assert_ptr_nonnull(p->ops[1].expr);
	ck_assert_ptr_nonnull(p->ops[2].expr);
	ck_assert_int_eq(expr_eval(p->ops[1].expr, 1, 4, &r), 0);
	ck_assert_int_ne(r, 0);
	ck_assert_int_eq(expr_eval(p->ops[1].expr, 4, -3, &r), 0);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(expr_eval(p->ops[2].expr, 4, -3, &r), 0);
	ck_assert_int_ne(r, 0);
	ck_assert_uint_eq(p->nwarnings, 0);
	program_free(p);
}
END_TEST

/* Named functions compute on the value with their arg. */
START_TEST(test_program_functions)
{
	static const struct {
		const char	*op;
		const char	*fn;
		int64_t		 arg;
		int64_t		 v;
		int64_t		 want;
	} t[] = {
		{ "map",	"ADD",	5,	10,	15 },
		{ "map",	"SUB",	5,	10,	5 },
		{ "map",	"MUL",	-3,	10,	-30 },
		{ "map",	"DIV",	3,	-10,	-3 },
		{ "map",	"MOD",	3,	-10,	-1 },
		{ "map",	"ADD",	1,	INT64_MAX, INT64_MIN },
		{ "filter",	"GT",	5,	6,	1 },
		{ "filter",	"GT",	5,	5,	0 },
		{ "filter",	"GE",	5,	5,	1 },
		{ "filter",	"LT",	-1,	-2,	1 },
		{ "filter",	"LE",	-1,	0,	0 },
		{ "filter",	"EQ",	7,	7,	1 },
		{ "filter",	"NE",	7,	7,	0 },
	};
	struct program	*p;
	char		*src;
	int64_t		 r;
	size_t		 i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		xasprintf(&src, "{'operations': [{'operator': '%s', "
		    "'function': '%s', 'arg': %lld}]}", t[i].op, t[i].fn,
		    (long long)t[i].arg);
		p = load_ok(src);
		ck_assert_int_eq(p->ops[0].has_arg, 1);
		ck_assert_int_eq(p->ops[0].arg, t[i].arg);
		ck_assert_int_eq(expr_eval(p->ops[0].expr, 1000, t[i].v, &r),
		    0);
		if (strcmp(t[i].op, "filter") == 0)
			r = r != 0;
		ck_assert_msg(r == t[i].want, "%s %s %lld on %lld: %lld",
		    t[i].op, t[i].fn, (long long)t[i].arg, (long long)t[i].v,
		    (long long)r);
		program_free(p);
		free(src);
	}
}
END_TEST

/*
 * Expect text to be refused as invalid JSON at line:col, with jansson's own
 * words for what is wrong.  The column is the byte column of the first
 * character of the token jansson stopped at.
 */
static void
check_bad_json(const char *text, int line, int col)
{
	struct program	*p;
	json_error_t	 e;
	json_t		*j;
	char		*path, *cause = NULL, *want;

	j = json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &e);
	ck_assert_ptr_null(j);
	path = tmp_path("json.json");
	ck_spew_str(path, text);
	p = program_load(path, &cause);
	ck_assert_ptr_null(p);
	xasprintf(&want, "%s:%d:%d: invalid JSON: %s", path, line, col,
	    e.text);
	ck_assert_str_eq(cause, want);
	free(want);
	free(cause);
	free(path);
}

/* Errors in the JSON itself point where jansson stopped. */
START_TEST(test_program_bad_json)
{
	struct program	*p;
	char		*path, *cause = NULL;

	check_bad_json("{\"operations\": [}", 1, 17);
	check_bad_json("{\n  \"operations\": [],\n  \"operations\": []\n}\n", 3, 3);
	check_bad_json("{\n\t\"operations\": [\n\t\ttrue false\n]}", 3, 8);
	check_bad_json("{\"operations\": []}\n}", 2, 1);

	path = tmp_path("absent.json");
	p = program_load(path, &cause);
	ck_assert_ptr_null(p);
	free(path);
	xasprintf(&path, "%s/absent.json: %s", prog_tmpdir, strerror(ENOENT));
	ck_assert_str_eq(cause, path);
	free(cause);
	free(path);
}
END_TEST

START_TEST(test_program_bad_structure)
{
	check_bad("\n  `[1]", "a program is a JSON object");
	check_bad("`{'partitions': 2}", "missing \"operations\"");
	check_bad("{'operations': `{}}",
	    "operations must be a list of operators");
	check_bad("{'operations': [\n  {'operator': 'map', 'function': 'ADD', "
	    "'arg': 1},\n  `5\n]}", "an operator is a JSON object or a "
	    "string like \"map(ADD(5))\"");
	check_bad("{'operations': [`{'function': 'ADD', 'arg': 1}]}",
	    "missing \"operator\"");
	check_bad("{'operations': [{'operator': `'mapp', 'function': 'ADD', "
	    "'arg': 1}]}", "unknown operator 'mapp' (expected map, filter, "
	    "changeKey, flatMap or reduce)");
	check_bad("{'operations': [{'operator': `'changekeys', 'function': "
	    "'ADD', 'arg': 1}]}", "unknown operator 'changekeys' (expected "
	    "map, filter, changeKey, flatMap or reduce)");
	check_bad("{'operations': [{'operator': `'', 'function': 'ADD'}]}",
	    "unknown operator '' (expected map, filter, changeKey, flatMap or reduce)");
	check_bad("{'operations': [{'operator':\t`7}]}",
	    "\"operator\" must be a string");
	check_bad("{'operations': [`{'operator': 'map'}]}",
	    "missing \"function\" (or \"expr\")");
}
END_TEST

START_TEST(test_program_bad_function)
{
	check_bad("{'operations': [{'operator': 'map', 'function': `'POW', "
	    "'arg': 1}]}", "map POW is refused: it gives numbers that are not "
	    "integers; values are 64-bit integers");
	check_bad("{'operations': [{'operator': 'map', 'function': `'EXP', "
	    "'arg': 1}]}", "unknown function 'EXP' for map (expected ADD, "
	    "SUB, MUL, DIV or MOD)");
	check_bad("{'operations': [{'operator': 'changeKey', 'function': "
	    "`'GT', 'arg': 1}]}", "unknown function 'GT' for changeKey "
	    "(expected ADD, SUB, MUL, DIV or MOD)");
	check_bad("{'operations': [{'operator': 'filter', 'function': `'ADD', "
	    "'arg': 1}]}", "unknown function 'ADD' for filter (expected GT, "
	    "GE, LT, LE, EQ, NE, EVEN or ODD)");
	check_bad("{'operations': [{'operator': 'reduce', 'function': `'AVG'}"
	    "]}", "unknown function 'AVG' for reduce (expected SUM, PROD, "
	    "MIN, MAX, COUNT or COLLECT)");
	check_bad("{'operations': [{'operator': 'map', 'function': `null}]}",
	    "\"function\" must be a string");
}
END_TEST

START_TEST(test_program_bad_arg)
{
	check_bad("{'operations': [\n\t`{'operator': 'map', 'function': "
	    "'ADD'}]}", "map ADD needs an integer \"arg\"");
	check_bad("{'operations': [`{'operator': 'filter', 'function': "
	    "'ge'}]}", "filter GE needs an integer \"arg\"");
	check_bad("{'operations': [`{'operator': 'change_key', 'function': "
	    "'mul'}]}", "changeKey MUL needs an integer \"arg\"");
	check_bad("{'operations': [{'operator': 'map', 'function': 'ADD', "
	    "'arg': `'5'}]}", "\"arg\" must be an integer");
	check_bad("{'operations': [{'operator': 'map', 'function': 'ADD', "
	    "'arg': `1.5}]}", "\"arg\" must be an integer");
	check_bad("{'operations': [{'operator': 'map', 'function': 'ADD', "
	    "'arg':`true}]}", "\"arg\" must be an integer");
	check_bad("{'operations': [{'operator': 'map', 'function': 'DIV', "
	    "'arg': `0}]}", "map DIV 0: division by zero");
	check_bad("{'operations': [\n  {\n    'operator': 'changeKey',\n"
	    "    'function': 'MOD',\n    'arg': `0\n  }\n]}",
	    "changeKey MOD 0: modulo by zero");
	check_bad("{'operations': [{'operator': 'map', 'function': 'DIV', "
	    "'arg': `-0}]}", "map DIV 0: division by zero");
}
END_TEST

/* Errors inside an expression point into the string. */
START_TEST(test_program_bad_expr)
{
	/* One message spelt out in full. */
	check_bad("{'operations': [{'operator': 'map', 'expr': 'v + `@'}]}",
	    "in expression \"v + @\": unexpected '@'");
	check_bad_expr("v + `@", "v + @");
	check_bad_expr("`", "");
	check_bad_expr("v `/ 0", "v / 0");
	check_bad_expr("`x + 1", "x + 1");
	check_bad_expr("(v + 1`", "(v + 1");
	check_bad_expr("k * `* 2", "k * * 2");
	/* Escapes before the error are longer in the file than decoded. */
	check_bad_expr("\\t\\u0076 + `$", "\tv + $");
	check_bad_expr("v \\/ 2 `\\\\ #", "v / 2 \\ #");
	check_bad_expr("v + `\\u00e9", "v + \xc3\xa9");
	check_bad_expr("v + `\\\"\\\"", "v + \"\"");
}
END_TEST

START_TEST(test_program_bad_expr_use)
{
	check_bad("{'operations': [{'operator': 'map', 'function': 'ADD', "
	    "'arg': 1, 'expr': `'v + 1'}]}",
	    "give either \"function\" or \"expr\", not both");
	check_bad("{'operations': [{'operator': 'map', 'expr': `'v + 1', "
	    "'function': 'ADD'}]}",
	    "give either \"function\" or \"expr\", not both");
	check_bad("{'operations': [{'operator': 'reduce', 'expr': `'v + 1'}]}",
	    "reduce takes a \"function\" (SUM, PROD, MIN, MAX, COUNT or "
	    "COLLECT), not "
	    "an expression");
	check_bad("{'operations': [{'operator': 'filter', 'expr': `42}]}",
	    "expr must be a string");
}
END_TEST

START_TEST(test_program_bad_top)
{
	check_bad("{'partitions': `0, 'operations': []}",
	    "partitions must be between 1 and 1024");
	check_bad("{'partitions': `2000, 'operations': []}",
	    "partitions must be between 1 and 1024");
	check_bad("{'partitions': `1025, 'operations': []}",
	    "partitions must be between 1 and 1024");
	check_bad("{'partitions': `-1, 'operations': []}",
	    "partitions must be between 1 and 1024");
	check_bad("{'partitions': `'4', 'operations': []}",
	    "partitions must be an integer");
	check_bad("{'partitions': `4.0, 'operations': []}",
	    "partitions must be an integer");
	check_bad("{'operations': [],\r\n  'partitions': `null}",
	    "partitions must be an integer");
	check_bad("{'changeKeyOn': `'both', 'operations': []}",
	    "changeKeyOn must be \"key\" or \"value\"");
	check_bad("{'changeKeyOn': `true, 'operations': []}",
	    "changeKeyOn must be \"key\" or \"value\"");
	check_bad("{'input': `5, 'operations': []}",
	    "input must be a file name or a list of them");
	check_bad("{'input': `[], 'operations': []}",
	    "input must be a file name or a list of them");
	check_bad("{'input': ['a.csv', `5], 'operations': []}",
	    "an input is a file name (string)");
	check_bad("{'input': ['a\\'b', 'c\\\\', `{}], 'operations': []}",
	    "an input is a file name (string)");
}
END_TEST

/* Positions stay right past escaped keys, tabs and CRLF line ends. */
START_TEST(test_program_positions)
{
	check_bad("{\r\n\t'operations': [\r\n\t\t{'op\\u0065rator': `'mapp', "
	    "'function': 'ADD'}\r\n\t]\r\n}\r\n", "unknown operator 'mapp' "
	    "(expected map, filter, changeKey, flatMap or reduce)");
	check_bad("{'input': 'a\\'],[{b', 'x': {'y': [1, {'z': '}'}]},\n"
	    "'operations': [{'operator': 'map', 'function': 'DIV', "
	    "'arg': `0}]}", "map DIV 0: division by zero");
	check_bad("{'operations': [{'operator': 'map', 'function': 'ADD', "
	    "'arg': 1}, {'operator': 'filter', 'expr': 'v > 0'},\n"
	    "  {'operator': 'map', 'expr': '\\u0020\\u0020`?'}]}",
	    "in expression \"  ?\": unexpected '?'");
}
END_TEST

/* Expect the warnings of a program that loads. */
static void
check_warnings(const char *src, const char *const *want, size_t nwant)
{
	struct program	*p;
	char		*path, *cause = NULL, *w;
	size_t		 i;
	int		 line, col;

	path = prog_write("warn.json", src, &line, &col);
	p = program_load(path, &cause);
	ck_assert_msg(p != NULL, "%s", cause);
	ck_assert_uint_eq(p->nwarnings, nwant);
	for (i = 0; i < nwant; i++) {
		xasprintf(&w, "%s:%s", path, want[i]);
		ck_assert_str_eq(p->warnings[i], w);
		free(w);
	}
	program_free(p);
	free(path);
}

START_TEST(test_program_warnings)
{
	static const char *const w1[] = {
		"1:2: warning: unknown key 'name' ignored",
		"3:3: warning: unknown key 'Partitions' ignored",
	};
	static const char *const w2[] = {
		"2:42: warning: unknown key 'args' ignored",
	};
	static const char *const w3[] = {
		"1:50: warning: \"arg\" is ignored with \"expr\"",
	};

	check_warnings("{'name': 'x', 'operations': [],\n"
	    "  'input': 'a',\n  'Partitions': 3}", w1, 2);
	check_warnings("{'operations': [\n"
	    "  {'operator': 'map', 'function': 'ADD', 'args': 1, 'arg': 2}"
	    "\n]}", w2, 1);
	check_warnings("{'operations': [{'operator': 'map', 'expr': 'v', "
	    "'arg': 5}]}", w3, 1);
	check_warnings("{'operations': []}", NULL, 0);
}
END_TEST

/* The canonical text loads again to the same canonical text. */
static void
check_canonical(const char *src)
{
	struct program	*p, *q;
	char		*c1, *c2, *path, *cause = NULL;

	p = load_ok(src);
	c1 = program_canonical(p);
	ck_assert_ptr_nonnull(c1);
	path = tmp_path("canonical.json");
	ck_spew_str(path, c1);
	q = program_load(path, &cause);
	ck_assert_msg(q != NULL, "%s\n%s", cause, c1);
	ck_assert_uint_eq(q->nwarnings, 0);
	c2 = program_canonical(q);
	ck_assert_str_eq(c1, c2);
	ck_assert_uint_eq(p->nops, q->nops);
	free(c1);
	free(c2);
	free(path);
	program_free(p);
	program_free(q);
}

START_TEST(test_program_canonical)
{
	struct program	*p;
	char		*c;

	check_canonical(sample);
	check_canonical("{'operations': []}");
	check_canonical("{'input': ['a.csv', 'b dir/', '-'], 'partitions': "
	    "1024, 'operations': [{'operator': 'filter', 'expr': "
	    "'v > -500 && v < 1000'}, {'operator': 'changeKey', 'expr': "
	    "'k / 100'}, {'operator': 'filter', 'function': 'odd', 'arg': 3},"
	    " {'operator': 'map', 'expr': '\\tv\\u002b1'}, {'operator': "
	    "'reduce', 'function': 'count'}], 'extra': 1}");
	check_canonical("{'changeKeyOn': 'key', 'operations': [{'operator': "
	    "'change-key', 'function': 'MOD', 'arg': -9223372036854775808}]}");

	/* Spelt out once. */
	p = load_ok("{'operations': [{'operator': 'MAP', 'function': 'add', "
	    "'arg': 5}, {'operator': 'reduce', 'function': 'ADD', 'arg': 1}],"
	    " 'input': 'in.csv', 'partitions': 2}");
	c = program_canonical(p);
	ck_assert_str_eq(c, "{\n"
	    "  \"partitions\": 2,\n"
	    "  \"input\": \"in.csv\",\n"
	    "  \"changeKeyOn\": \"value\",\n"
	    "  \"operations\": [\n"
	    "    {\n"
	    "      \"operator\": \"map\",\n"
	    "      \"function\": \"ADD\",\n"
	    "      \"arg\": 5\n"
	    "    },\n"
	    "    {\n"
	    "      \"operator\": \"reduce\",\n"
	    "      \"function\": \"SUM\"\n"
	    "    }\n"
	    "  ]\n"
	    "}");
	free(c);
	program_free(p);
}
END_TEST

START_TEST(test_program_inputs)
{
	static const char *const want[] = { "sub/a.csv", "sub/data/B.csv",
	    "sub/data/a.csv", "sub/data/a10", "sub/data/a2", "top.csv", "-" };
	static const char *const want_given[] = { "sub/a.csv" };
	struct program	*p;
	char		*path, *src, *cause = NULL, *d, *given[2];
	int		 line, col;

	/* A program in sub/ naming a file, a folder, a path above it, "-". */
	d = tmp_path("sub");
	ck_assert_int_eq(mkdir(d, 0755), 0);
	free(d);
	d = tmp_path("sub/data");
	ck_assert_int_eq(mkdir(d, 0755), 0);
	free(d);
	d = tmp_path("sub/data/nested");
	ck_assert_int_eq(mkdir(d, 0755), 0);
	free(d);
	d = tmp_path("sub/data/.hidden");
	ck_spew_str(d, "1,2\n");
	free(d);
	d = tmp_path("sub/data/nested/deep.csv");
	ck_spew_str(d, "1,2\n");
	free(d);
	d = tmp_path("sub/data/a2");
	ck_spew_str(d, "");
	free(d);
	d = tmp_path("sub/data/a10");
	ck_spew_str(d, "");
	free(d);
	d = tmp_path("sub/data/B.csv");
	ck_spew_str(d, "");
	free(d);
	d = tmp_path("sub/data/a.csv");
	ck_spew_str(d, "");
	free(d);
	d = tmp_path("sub/a.csv");
	ck_spew_str(d, "");
	free(d);
	d = tmp_path("top.csv");
	ck_spew_str(d, "");

	xasprintf(&src, "{'input': ['a.csv', 'data', '%s', '-'], "
	    "'operations': []}", d);
	path = prog_write("sub/prog.json", src, &line, &col);
	free(src);
	p = program_load(path, &cause);
	ck_assert_msg(p != NULL, "%s", cause);
	ck_assert_int_eq(program_set_inputs(p, NULL, 0, &cause), 0);
	check_inputs(p, want, sizeof want / sizeof want[0]);
	program_free(p);
	free(path);

	/* Inputs given on the command line replace the program's. */
	path = tmp_path("sub/prog.json");
	p = program_load(path, &cause);
	ck_assert_ptr_nonnull(p);
	given[0] = tmp_path("sub/a.csv");
	ck_assert_int_eq(program_set_inputs(p, given, 1, &cause), 0);
	check_inputs(p, want_given, 1);
	program_free(p);
	free(given[0]);
	free(path);

	/* A missing file is named as resolved. */
	path = prog_write("sub/missing.json", "{'input': ['a.csv', 'nope.csv'],"
	    " 'operations': []}", &line, &col);
	p = program_load(path, &cause);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(program_set_inputs(p, NULL, 0, &cause), -1);
	free(d);
	xasprintf(&d, "%s/sub/missing.json: input nope.csv not found (in "
	    "%s/sub/, %s/sub/input/ or the current folder)", prog_tmpdir,
	    prog_tmpdir, prog_tmpdir);
	ck_assert_str_eq(cause, d);
	free(cause);
	free(d);
	program_free(p);
	free(path);

	/* No input at all; stdin twice; an empty folder. */
	path = prog_write("noinput.json", "{'operations': []}", &line, &col);
	p = program_load(path, &cause);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(program_set_inputs(p, NULL, 0, &cause), -1);
	xasprintf(&d, "%s: no input: give \"input\" in the program or -i on "
	    "the command line", path);
	ck_assert_str_eq(cause, d);
	free(d);
	free(cause);
	given[0] = given[1] = (char *)"-";
	ck_assert_int_eq(program_set_inputs(p, given, 2, &cause), -1);
	ck_assert_str_eq(cause, "standard input given twice");
	free(cause);
	program_free(p);
	free(path);

	d = tmp_path("sub/data/nested/empty");
	ck_assert_int_eq(mkdir(d, 0755), 0);
	free(d);
	path = prog_write("sub/data/nested/empty.json", "{'input': 'empty', "
	    "'operations': []}", &line, &col);
	p = program_load(path, &cause);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(program_set_inputs(p, NULL, 0, &cause), -1);
	ck_assert_str_eq(cause, "empty: no input files in this folder");
	free(cause);
	program_free(p);
	free(path);
}
END_TEST

/* A program named by a relative path finds its inputs beside it. */
START_TEST(test_program_inputs_relative)
{
	struct program	*p;
	char		*path, *cause = NULL, *d;
	int		 cwd, line, col;

	d = tmp_path("rel");
	ck_assert_int_eq(mkdir(d, 0755), 0);
	free(d);
	d = tmp_path("rel/in.csv");
	ck_spew_str(d, "1,2\n");
	free(d);
	path = prog_write("rel/p.json", "{'input': 'in.csv', 'operations': []}",
	    &line, &col);
	free(path);

	cwd = open(".", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ne(cwd, -1);
	ck_assert_int_eq(chdir(prog_tmpdir), 0);
	p = program_load("rel/p.json", &cause);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->dir, "rel/");
	ck_assert_int_eq(program_set_inputs(p, NULL, 0, &cause), 0);
	ck_assert_uint_eq(p->ninputs, 1);
	ck_assert_str_eq(p->inputs[0], "rel/in.csv");
	program_free(p);

	ck_assert_int_eq(chdir("rel"), 0);
	p = program_load("p.json", &cause);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(program_set_inputs(p, NULL, 0, &cause), 0);
	ck_assert_str_eq(p->inputs[0], "in.csv");
	program_free(p);
	ck_assert_int_eq(fchdir(cwd), 0);
	close(cwd);
}
END_TEST

Suite *
program_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("program");
	tc = tcase_create("load");
	tcase_add_unchecked_fixture(tc, prog_setup, prog_teardown);
	tcase_add_test(tc, test_program_sample);
	tcase_add_test(tc, test_program_changekey_on);
	tcase_add_test(tc, test_program_names);
	tcase_add_test(tc, test_program_arg_ignored);
	tcase_add_test(tc, test_program_functions);
	tcase_add_test(tc, test_program_warnings);
	tcase_add_test(tc, test_program_canonical);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_unchecked_fixture(tc, prog_setup, prog_teardown);
	tcase_add_test(tc, test_program_bad_json);
	tcase_add_test(tc, test_program_bad_structure);
	tcase_add_test(tc, test_program_bad_function);
	tcase_add_test(tc, test_program_bad_arg);
	tcase_add_test(tc, test_program_bad_expr);
	tcase_add_test(tc, test_program_bad_expr_use);
	tcase_add_test(tc, test_program_bad_top);
	tcase_add_test(tc, test_program_positions);
	suite_add_tcase(s, tc);

	tc = tcase_create("inputs");
	tcase_add_unchecked_fixture(tc, prog_setup, prog_teardown);
	tcase_add_test(tc, test_program_inputs);
	tcase_add_test(tc, test_program_inputs_relative);
	suite_add_tcase(s, tc);
	return (s);
}
