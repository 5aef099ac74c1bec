/* forkflow: see LICENSE. */
/*
 * Programs: read a JSON program file into a struct program.
 *
 * jansson parses and validates the JSON, but keeps no positions of the
 * values it returns, and every error in a program must name FILE:LINE:COLUMN.
 * So a small scanner walks the (already valid) text once more and builds a
 * tree of positions parallel to jansson's; the loader looks a value's
 * position up by the same path it used to find the value.
 */

#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "forkflow.h"

/* Position of a JSON value, with its members or elements. */
struct jpos {
	struct srcpos	 at;
	size_t		 off;		/* byte offset of its first character */
	size_t		 n;
	char		**keys;		/* objects: member names */
	struct jpos	**kids;		/* members or elements */
	struct jpos	**keypos;	/* objects: where each name stands */
};

struct jscan {
	const char	*s;
	size_t		 len;
	size_t		 i;
	int		 line;
	size_t		 bol;		/* offset of the current line */
};

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

static const char *op_canonical[] = {
	[OP_MAP] = "map", [OP_FILTER] = "filter",
	[OP_CHANGEKEY] = "changeKey", [OP_REDUCE] = "reduce",
	[OP_FLATMAP] = "flatMap", [OP_MAPPER] = "mapper",
	[OP_REDUCER] = "reducer",
};

static struct jpos	*jscan_value(struct jscan *);
static void		 jpos_free(struct jpos *);
static struct jpos	*jpos_member(const struct jpos *, const char *);
static int		 name_lookup(const struct name *, const char *);
static int		 load_op(struct program *, json_t *, struct jpos *,
			     struct op *, char **);
static int		 program_load_json(struct program *, size_t, char **);
static int		 program_op_string(struct program *, const char *,
			     const struct srcpos *, struct op *, char **);
static int		 build_expr(struct program *, struct op *, char **);
static int		 add_input(struct program *, const char *, char **);

/* Skip white space, counting lines. */
static void
jscan_ws(struct jscan *js)
{
	while (js->i < js->len) {
		switch (js->s[js->i]) {
		case '\n':
			js->line++;
			js->bol = js->i + 1;
			/* FALLTHROUGH */
		case ' ':
		case '\t':
		case '\r':
			js->i++;
			continue;
		}
		break;
	}
}

static struct jpos *
jpos_new(struct jscan *js)
{
	struct jpos	*p;

	p = xcalloc(1, sizeof *p);
	p->at.line = js->line;
	p->at.col = (int)(js->i - js->bol) + 1;
	p->off = js->i;
	return (p);
}

/* Scan a string and return its raw contents (escapes kept). */
static char *
jscan_string(struct jscan *js)
{
	size_t	start;

	js->i++;		/* opening quote */
	start = js->i;
	while (js->i < js->len && js->s[js->i] != '"') {
		if (js->s[js->i] == '\\')
			js->i++;
		js->i++;
	}
	if (js->i > js->len)
		js->i = js->len;
	js->i++;		/* closing quote */
	return (xstrndup(js->s + start, js->i - 1 - start));
}

/* Decode the escapes of a raw JSON string well enough to compare names. */
static char *
jscan_unescape(const char *raw)
{
	json_t		*j;
	json_error_t	 e;
	char		*buf, *s;

	xasprintf(&buf, "\"%s\"", raw);
	j = json_loads(buf, JSON_DECODE_ANY, &e);
	free(buf);
	if (j == NULL || !json_is_string(j)) {
		json_decref(j);
		return (xstrdup(raw));
	}
	s = xstrdup(json_string_value(j));
	json_decref(j);
	return (s);
}

/* Scan one JSON value and record where it and its parts are. */
static struct jpos *
jscan_value(struct jscan *js)
{
	struct jpos	*p, *kp;
	char		*raw;

	jscan_ws(js);
	p = jpos_new(js);
	if (js->i >= js->len)
		return (p);
	switch (js->s[js->i]) {
	case '{':
		js->i++;
		for (;;) {
			jscan_ws(js);
			if (js->i >= js->len || js->s[js->i] == '}')
				break;
			if (js->s[js->i] == ',') {
				js->i++;
				continue;
			}
			kp = jpos_new(js);
			raw = jscan_string(js);
			jscan_ws(js);
			if (js->i < js->len && js->s[js->i] == ':')
				js->i++;
			p->keys = xreallocarray(p->keys, p->n + 1,
			    sizeof *p->keys);
			p->kids = xreallocarray(p->kids, p->n + 1,
			    sizeof *p->kids);
			p->keypos = xreallocarray(p->keypos, p->n + 1,
			    sizeof *p->keypos);
			p->keys[p->n] = jscan_unescape(raw);
			free(raw);
			p->keypos[p->n] = kp;
			p->kids[p->n] = jscan_value(js);
			p->n++;
		}
		js->i++;
		break;
	case '[':
		js->i++;
		for (;;) {
			jscan_ws(js);
			if (js->i >= js->len || js->s[js->i] == ']')
				break;
			if (js->s[js->i] == ',') {
				js->i++;
				continue;
			}
			p->kids = xreallocarray(p->kids, p->n + 1,
			    sizeof *p->kids);
			p->kids[p->n++] = jscan_value(js);
		}
		js->i++;
		break;
	case '"':
		free(jscan_string(js));
		break;
	default:
		/* A number or a word; whatever it is, at least one byte, so
		 * that the scan always moves on.  (strchr() would find a NUL
		 * byte in its list: the text holds none, see
		 * program_load_opts.) */
		do
			js->i++;
		while (js->i < js->len &&
		    strchr(",]} \t\r\n", js->s[js->i]) == NULL);
		break;
	}
	return (p);
}

static void
jpos_free(struct jpos *p)
{
	size_t	i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		if (p->keys != NULL) {
			free(p->keys[i]);
			jpos_free(p->keypos[i]);
		}
		jpos_free(p->kids[i]);
	}
	free(p->keys);
	free(p->keypos);
	free(p->kids);
	free(p);
}

/* The position of member name of an object (the last, as jansson keeps). */
static struct jpos *
jpos_member(const struct jpos *p, const char *name)
{
	size_t	i;

	if (p == NULL || p->keys == NULL)
		return (NULL);
	for (i = p->n; i > 0; i--) {
		if (strcmp(p->keys[i - 1], name) == 0)
			return (p->kids[i - 1]);
	}
	return (NULL);
}

static struct jpos *
jpos_keypos(const struct jpos *p, const char *name)
{
	size_t	i;

	if (p == NULL || p->keys == NULL)
		return (NULL);
	for (i = p->n; i > 0; i--) {
		if (strcmp(p->keys[i - 1], name) == 0)
			return (p->keypos[i - 1]);
	}
	return (NULL);
}

/* Compare names ignoring case, '_' and '-'. */
static int
name_equal(const char *a, const char *b)
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

static int
name_lookup(const struct name *t, const char *s)
{
	for (; t->name != NULL; t++) {
		if (name_equal(t->name, s))
			return (t->value);
	}
	return (-1);
}

/* The line and column (from 1, in bytes) of byte off of a text. */
static void
text_where(const char *text, size_t off, struct srcpos *at)
{
	size_t	i, bol = 0;

	at->line = 1;
	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			at->line++;
			bol = i + 1;
		}
	}
	at->col = (int)(off - bol) + 1;
}

/* Format an error at a position of the program file. */
void
program_error(char **cause, const struct program *p, const struct srcpos *at,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	if (at != NULL)
		xasprintf(cause, "%s:%d:%d: %s", p->path, at->line, at->col,
		    msg);
	else
		xasprintf(cause, "%s: %s", p->path, msg);
	free(msg);
}

/* Keep a warning at a position of the program file. */
void
program_warn(struct program *p, const struct srcpos *at, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	p->warnings = xreallocarray(p->warnings, p->nwarnings + 1,
	    sizeof *p->warnings);
	xasprintf(&p->warnings[p->nwarnings++], "%s:%d:%d: warning: %s",
	    p->path, at->line, at->col, msg);
	free(msg);
}

/*
 * Where a JSON syntax error is, as a line and a byte column.  jansson
 * reports the position after the token it choked on and quotes that token
 * ("... near 'tru'"); the error is at the token's first byte.
 */
static void
json_error_where(const char *text, size_t len, const json_error_t *e,
    int *line, int *col)
{
	const char	*near, *q;
	struct srcpos	 at;
	size_t		 pos;

	pos = e->position > 0 && (size_t)e->position <= len ?
	    (size_t)e->position : len;
	if ((near = strstr(e->text, "near '")) != NULL &&
	    (q = strrchr(near + 6, '\'')) != NULL &&
	    (size_t)(q - (near + 6)) <= pos &&
	    memcmp(text + pos - (q - (near + 6)), near + 6,
	    q - (near + 6)) == 0)
		pos -= q - (near + 6);
	text_where(text, pos, &at);
	*line = at.line;
	*col = at.col;
}

/*
 * Load the program at path, in any of the accepted dialects: JSON (with
 * the variations of forkflow-program(5), "Compatibility"), or lines of
 * "OPERATOR FUNCTION [ARG]" when its first non-blank character is not '{'.
 * changekey_on is 1 (key), 0 (value) or -1 (as the program says).  On
 * error return NULL with *cause set to "FILE:LINE:COLUMN: what is wrong".
 * Warnings are kept in the program.
 */
struct program *
program_load_opts(const char *path, int changekey_on, char **cause)
{
	struct program	*p;
	struct srcpos	 where;
	const char	*slash, *nul;
	char		*text;
	size_t		 len, i;

	p = xcalloc(1, sizeof *p);
	p->task_timeout_ms = -1;
	p->path = xstrdup(path);
	if ((slash = strrchr(path, '/')) != NULL)
		p->dir = xstrndup(path, slash - path + 1);
	else
		p->dir = xstrdup("");
	p->changekey_forced = changekey_on;
	if (changekey_on != -1)
		p->changekey_on_key = changekey_on;
	if ((text = read_file(path, &len)) == NULL) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		program_free(p);
		return (NULL);
	}
	p->text = text;
	/* No valid program holds a NUL byte; the scanner of positions and
	 * jansson would not agree on where the text ends. */
	if ((nul = memchr(text, '\0', len)) != NULL) {
		text_where(text, (size_t)(nul - text), &where);
		program_error(cause, p, &where, "a NUL byte, which no program "
		    "holds");
		program_free(p);
		return (NULL);
	}
	for (i = 0; i < len && strchr(" \t\r\n", text[i]) != NULL; i++)
		;
	if (i == len) {
		xasprintf(cause, "%s:1:1: empty program", path);
		program_free(p);
		return (NULL);
	}
	if (strchr("{[\"", text[i]) != NULL) {
		if (program_load_json(p, len, cause) != 0) {
			program_free(p);
			return (NULL);
		}
	} else if (program_load_text(p, len, cause) != 0) {
		program_free(p);
		return (NULL);
	}
	if (program_check_types(p, cause) != 0) {
		program_free(p);
		return (NULL);
	}
	return (p);
}

struct program *
program_load(const char *path, char **cause)
{
	return (program_load_opts(path, -1, cause));
}

/*
 * The first of the names that object j has, and which it is; a warning
 * for any other of them it also has.
 */
static json_t *
json_get_any(struct program *p, json_t *j, struct jpos *pos,
    const char **names, const char **which)
{
	json_t		*v, *found = NULL;

	for (; *names != NULL; names++) {
		if ((v = json_object_get(j, *names)) == NULL)
			continue;
		if (found == NULL) {
			found = v;
			*which = *names;
		} else
			program_warn(p, &jpos_keypos(pos, *names)->at,
			    "\"%s\" is ignored: \"%s\" says the same",
			    *names, *which);
	}
	return (found);
}

/* Warn of keys of object j that are not among known. */
static void
json_warn_unknown(struct program *p, json_t *j, struct jpos *pos,
    const char **known)
{
	const char	*key;
	json_t		*v;
	size_t		 i;

	json_object_foreach(j, key, v) {
		for (i = 0; known[i] != NULL; i++) {
			if (strcmp(known[i], key) == 0)
				break;
		}
		if (known[i] == NULL)
			program_warn(p, &jpos_keypos(pos, key)->at,
			    "unknown key '%s' ignored", key);
	}
}

/*
 * "input": {"path": PATH or [PATHS], "format": "csv" or "text"}: set the
 * format and hand back the path part.
 */
static int
json_input_object(struct program *p, json_t *j, struct jpos *pos,
    json_t **path, struct jpos **path_pos, char **cause)
{
	static const char	*known[] = { "path", "format", NULL };
	json_t			*f;
	struct jpos		*at;

	json_warn_unknown(p, j, pos, known);
	if ((f = json_object_get(j, "format")) != NULL) {
		at = jpos_member(pos, "format");
		if (json_is_string(f) && name_equal(json_string_value(f),
		    "text"))
			p->in_format = IN_TEXT;
		else if (json_is_string(f) && name_equal(json_string_value(f),
		    "csv"))
			p->in_format = IN_CSV;
		else {
			program_error(cause, p, &at->at, "the input format "
			    "is \"csv\" or \"text\"");
			return (-1);
		}
	}
	if ((*path = json_object_get(j, "path")) == NULL) {
		program_error(cause, p, &pos->at, "an input object needs a "
		    "\"path\"");
		return (-1);
	}
	*path_pos = jpos_member(pos, "path");
	return (0);
}

/* "output": {"format": "csv" or "tsv"}. */
static int
json_output_object(struct program *p, json_t *j, struct jpos *pos,
    char **cause)
{
	static const char	*known[] = { "format", NULL };
	json_t			*f;

	if (!json_is_object(j)) {
		program_error(cause, p, &pos->at, "output is an object, like "
		    "{\"format\": \"tsv\"}");
		return (-1);
	}
	json_warn_unknown(p, j, pos, known);
	if ((f = json_object_get(j, "format")) == NULL)
		return (0);
	if (json_is_string(f) && name_equal(json_string_value(f), "tsv"))
		p->out_format = OUT_TSV;
	else if (json_is_string(f) && name_equal(json_string_value(f), "csv"))
		p->out_format = OUT_CSV;
	else {
		program_error(cause, p, &jpos_member(pos, "format")->at,
		    "the output format is \"csv\" or \"tsv\"");
		return (-1);
	}
	return (0);
}

/* Load a JSON program from p->text. */
static int
program_load_json(struct program *p, size_t len, char **cause)
{
	json_t		*root, *j, *ops;
	json_error_t	 e;
	struct jscan	 js;
	struct jpos	*rootpos, *at;
	const char	*which;
	size_t		 i;
	json_int_t	 n;
	struct srcpos	 where;
	static const char *known[] = { "partitions", "input", "files",
	    "changeKeyOn", "operations", "instructions", "output",
	    "taskTimeout", NULL };
	static const char *ops_names[] = { "operations", "instructions",
	    NULL };
	static const char *input_names[] = { "input", "files", NULL };

	root = json_loadb(p->text, len, JSON_REJECT_DUPLICATES, &e);
	if (root == NULL) {
		json_error_where(p->text, len, &e, &where.line, &where.col);
		program_error(cause, p, &where, "invalid JSON: %s", e.text);
		return (-1);
	}
	memset(&js, 0, sizeof js);
	js.s = p->text;
	js.len = len;
	js.line = 1;
	rootpos = jscan_value(&js);
	p->pos_root = rootpos;

	if (!json_is_object(root)) {
		program_error(cause, p, &rootpos->at,
		    "a program is a JSON object");
		goto fail;
	}
	json_warn_unknown(p, root, rootpos, known);

	if ((j = json_object_get(root, "partitions")) != NULL) {
		at = jpos_member(rootpos, "partitions");
		if (!json_is_integer(j)) {
			program_error(cause, p, &at->at,
			    "partitions must be an integer");
			goto fail;
		}
		n = json_integer_value(j);
		if (n < 1 || n > PARTS_MAX) {
			program_error(cause, p, &at->at,
			    "partitions must be between 1 and %d",
			    PARTS_MAX);
			goto fail;
		}
		p->partitions = (int)n;
	}

	if ((j = json_object_get(root, "taskTimeout")) != NULL) {
		at = jpos_member(rootpos, "taskTimeout");
		if (!json_is_integer(j) || json_integer_value(j) < 0 ||
		    json_integer_value(j) > (json_int_t)1000 * 1000000) {
			program_error(cause, p, &at->at, "taskTimeout must be "
			    "a number of milliseconds from 0 to 1000000000");
			goto fail;
		}
		p->task_timeout_ms = (int64_t)json_integer_value(j);
	}

	if ((j = json_object_get(root, "changeKeyOn")) != NULL) {
		at = jpos_member(rootpos, "changeKeyOn");
		if (json_is_string(j) &&
		    name_equal(json_string_value(j), "key")) {
			if (p->changekey_forced == -1)
				p->changekey_on_key = 1;
		} else if (json_is_string(j) &&
		    name_equal(json_string_value(j), "value")) {
			if (p->changekey_forced == -1)
				p->changekey_on_key = 0;
		} else {
			program_error(cause, p, &at->at,
			    "changeKeyOn must be \"key\" or \"value\"");
			goto fail;
		}
	}

	if ((j = json_get_any(p, root, rootpos, input_names, &which)) != NULL) {
		at = jpos_member(rootpos, which);
		if (json_is_object(j) &&
		    json_input_object(p, j, at, &j, &at, cause) != 0)
			goto fail;
		if (json_is_string(j)) {
			p->input_specs = xcalloc(1, sizeof *p->input_specs);
			p->input_specs[0] = xstrdup(json_string_value(j));
			p->ninput_specs = 1;
		} else if (json_is_array(j) && json_array_size(j) > 0) {
			p->ninput_specs = json_array_size(j);
			p->input_specs = xcalloc(p->ninput_specs,
			    sizeof *p->input_specs);
			for (i = 0; i < p->ninput_specs; i++) {
				if (!json_is_string(json_array_get(j, i))) {
					program_error(cause, p,
					    &at->kids[i]->at, "an input is a "
					    "file name (string)");
					goto fail;
				}
				p->input_specs[i] = xstrdup(
				    json_string_value(json_array_get(j, i)));
			}
		} else {
			program_error(cause, p, &at->at, "%s must be a file "
			    "name or a list of them", which);
			goto fail;
		}
	}

	if ((j = json_object_get(root, "output")) != NULL &&
	    json_output_object(p, j, jpos_member(rootpos, "output"),
	    cause) != 0)
		goto fail;

	if ((ops = json_get_any(p, root, rootpos, ops_names, &which)) == NULL) {
		program_error(cause, p, &rootpos->at,
		    "missing \"operations\"");
		goto fail;
	}
	at = jpos_member(rootpos, which);
	if (!json_is_array(ops)) {
		program_error(cause, p, &at->at,
		    "%s must be a list of operators", which);
		goto fail;
	}
	p->nops = json_array_size(ops);
	if (p->nops > 0)
		p->ops = xcalloc(p->nops, sizeof *p->ops);
	for (i = 0; i < p->nops; i++) {
		if (load_op(p, json_array_get(ops, i), at->kids[i], &p->ops[i],
		    cause) != 0)
			goto fail;
	}
	json_decref(root);
	return (0);

fail:
	json_decref(root);
	return (-1);
}

/*
 * Load one operator of a JSON program: an object, or a string such as
 * "map(ADD(5))", "change(MUL(2))" or "reduce()".
 */
static int
load_op(struct program *p, json_t *j, struct jpos *pos, struct op *op,
    char **cause)
{
	json_t		*jop, *jfn, *jarg, *jexpr;
	struct opspec	 spec;
	struct jpos	*at;
	const char	*which = NULL;
	static const char *known[] = { "operator", "function", "arg",
	    "value", "expr", "command", "combiner", NULL };
	json_t		*jcmd;
	size_t		 i;
	static const char *arg_names[] = { "arg", "value", NULL };

	memset(&spec, 0, sizeof spec);
	spec.at = pos->at;
	if (json_is_string(j))
		return (program_op_string(p, json_string_value(j), &pos->at,
		    op, cause));
	if (!json_is_object(j)) {
		program_error(cause, p, &pos->at, "an operator is a JSON "
		    "object or a string like \"map(ADD(5))\"");
		return (-1);
	}
	json_warn_unknown(p, j, pos, known);

	if ((jop = json_object_get(j, "operator")) == NULL) {
		program_error(cause, p, &pos->at, "missing \"operator\"");
		return (-1);
	}
	at = jpos_member(pos, "operator");
	if (!json_is_string(jop)) {
		program_error(cause, p, &at->at, "\"operator\" must be a "
		    "string");
		return (-1);
	}
	spec.oper = json_string_value(jop);
	spec.oper_at = at->at;

	/* A mapper or reducer: its command, as argv or for /bin/sh -c. */
	if ((jcmd = json_object_get(j, "command")) != NULL) {
		at = jpos_member(pos, "command");
		if (json_is_string(jcmd) && *json_string_value(jcmd) != '\0')
			spec.command = json_string_value(jcmd);
		else if (json_is_array(jcmd) && json_array_size(jcmd) > 0) {
			spec.argv = xcalloc(json_array_size(jcmd) + 1,
			    sizeof *spec.argv);
			for (i = 0; i < json_array_size(jcmd); i++) {
				if (!json_is_string(json_array_get(jcmd, i))) {
					free(spec.argv);
					program_error(cause, p,
					    &at->kids[i]->at, "a command's "
					    "words are strings");
					return (-1);
				}
				spec.argv[i] = (char *)json_string_value(
				    json_array_get(jcmd, i));
			}
		} else {
			program_error(cause, p, &at->at, "a command is a "
			    "string (run with /bin/sh -c) or a list of words");
			return (-1);
		}
		spec.command_at = at->at;
		if ((jfn = json_object_get(j, "combiner")) != NULL) {
			if (!json_is_string(jfn)) {
				free(spec.argv);
				program_error(cause, p, &jpos_member(pos,
				    "combiner")->at, "a combiner is a command "
				    "(a string)");
				return (-1);
			}
			spec.combiner = json_string_value(jfn);
		}
		i = (size_t)program_op_build(p, &spec, op, cause);
		free(spec.argv);
		return ((int)i);
	}
	jfn = json_object_get(j, "function");
	jexpr = json_object_get(j, "expr");
	jarg = json_get_any(p, j, pos, arg_names, &which);
	if (jfn != NULL && jexpr != NULL) {
		program_error(cause, p, &jpos_member(pos, "expr")->at,
		    "give either \"function\" or \"expr\", not both");
		return (-1);
	}
	if (jexpr != NULL) {
		at = jpos_member(pos, "expr");
		if (!json_is_string(jexpr)) {
			program_error(cause, p, &at->at,
			    "expr must be a string");
			return (-1);
		}
		if (jarg != NULL)
			program_warn(p, &jpos_keypos(pos, which)->at,
			    "\"%s\" is ignored with \"expr\"", which);
		spec.expr = json_string_value(jexpr);
		spec.expr_at = at->at;
		spec.expr_off = at->off;
		return (program_op_build(p, &spec, op, cause));
	}
	if (jfn != NULL) {
		at = jpos_member(pos, "function");
		if (!json_is_string(jfn)) {
			program_error(cause, p, &at->at,
			    "\"function\" must be a string");
			return (-1);
		}
		spec.func = json_string_value(jfn);
		spec.func_at = at->at;
	}
	if (jarg != NULL) {
		at = jpos_member(pos, which);
		spec.arg_at = at->at;
		if (json_is_integer(jarg)) {
			spec.has_arg = 1;
			spec.arg = json_integer_value(jarg);
		} else {
			spec.arg_bad = which;	/* an error if it is used */
			if (json_is_string(jarg))
				spec.sarg = json_string_value(jarg);
		}
	}
	return (program_op_build(p, &spec, op, cause));
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
static int
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
		    name_equal(r->name, name))
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
	const struct name	*table;
	const char		*inner, *why, *t;
	size_t			 nlen, ilen;
	char			*fname;
	int			 kind, fn;

	op->pos = spec->at;
	if ((kind = name_lookup(op_names, spec->oper)) == -1) {
		program_error(cause, p, &spec->oper_at, "unknown operator "
		    "'%s' (expected map, filter, changeKey, flatMap or reduce)",
		    spec->oper);
		return (-1);
	}
	op->kind = kind;
	op->on_key = (kind == OP_CHANGEKEY && p->changekey_on_key);

	if (kind == OP_MAPPER || kind == OP_REDUCER) {
		if (spec->argv == NULL && spec->command == NULL) {
			program_error(cause, p, &spec->at, "%s needs a "
			    "\"command\"", op_canonical[kind]);
			return (-1);
		}
		if (spec->argv != NULL) {
			size_t	n;

			for (n = 0; spec->argv[n] != NULL; n++)
				;
			op->argv = xcalloc(n + 1, sizeof *op->argv);
			for (n = 0; spec->argv[n] != NULL; n++)
				op->argv[n] = xstrdup(spec->argv[n]);
		} else
			op->command = xstrdup(spec->command);
		if (spec->combiner != NULL) {
			if (kind != OP_REDUCER) {
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
	if (spec->argv != NULL || spec->command != NULL) {
		program_error(cause, p, &spec->command_at, "only a mapper or "
		    "reducer has a \"command\"");
		return (-1);
	}

	if (spec->expr != NULL) {
		if (kind == OP_FLATMAP) {
			program_error(cause, p, &spec->expr_at, "flatMap takes "
			    "a \"function\" (WORDS, WORDS_DOC or SPLIT), not "
			    "an expression");
			return (-1);
		}
		if (kind == OP_REDUCE) {
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

	if (spec->func == NULL) {
		if (kind == OP_REDUCE) {
			op->fn = FN_SUM;	/* as the peers do */
			return (0);
		}
		program_error(cause, p, &spec->at,
		    "missing \"function\" (or \"expr\")");
		return (-1);
	}
	if (split_call(spec->func, &nlen, &inner, &ilen) != 0) {
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
	if (kind == OP_FLATMAP) {
		if (fn != FN_SPLIT)
			return (0);
		/* SPLIT's separator: a string, or the embedded text. */
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

	/* The argument: embedded, apart, or as text. */
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

/* Add one input path, a folder standing for the files in it. */
static int
add_input(struct program *p, const char *path, char **cause)
{
	struct stat	  st;
	struct dirent	**names;
	char		 *file;
	int		  n, i;

	if (strcmp(path, "-") != 0) {
		if (stat(path, &st) != 0) {
			xasprintf(cause, "%s: %s", path, strerror(errno));
			return (-1);
		}
		if (S_ISDIR(st.st_mode)) {
			n = scandir(path, &names, NULL, alphasort);
			if (n < 0) {
				xasprintf(cause, "%s: %s", path,
				    strerror(errno));
				return (-1);
			}
			for (i = 0; i < n; i++) {
				if (names[i]->d_name[0] != '.') {
					xasprintf(&file, "%s/%s", path,
					    names[i]->d_name);
					if (stat(file, &st) == 0 &&
					    S_ISREG(st.st_mode)) {
						p->inputs = xreallocarray(
						    p->inputs, p->ninputs + 1,
						    sizeof *p->inputs);
						p->inputs[p->ninputs++] = file;
					} else
						free(file);
				}
				free(names[i]);
			}
			free(names);
			return (0);
		}
	}
	p->inputs = xreallocarray(p->inputs, p->ninputs + 1,
	    sizeof *p->inputs);
	p->inputs[p->ninputs++] = xstrdup(path);
	return (0);
}

/*
 * Find an input the program names: an absolute path or "-" is what it
 * says; a relative one is looked for beside the program, in input/ beside
 * it, then in the current folder, as the other implementations' layouts
 * need.  Returns the path, or NULL if it is nowhere.
 */
static char *
find_input(const struct program *p, const char *spec)
{
	char	*path;

	if (spec[0] == '/' || strcmp(spec, "-") == 0)
		return (xstrdup(spec));
	xasprintf(&path, "%s%s", p->dir, spec);
	if (access(path, F_OK) == 0)
		return (path);
	free(path);
	xasprintf(&path, "%sinput/%s", p->dir, spec);
	if (access(path, F_OK) == 0)
		return (path);
	free(path);
	if (access(spec, F_OK) == 0)
		return (xstrdup(spec));
	return (NULL);
}

/*
 * Resolve the inputs: those given on the command line (relative to the
 * current folder) replace the program's (relative to the program's folder).
 */
int
program_set_inputs(struct program *p, char **given, size_t ngiven,
    char **cause)
{
	char	*path;
	size_t	 i;
	int	 stdin_seen = 0;

	if (ngiven > 0) {
		for (i = 0; i < ngiven; i++) {
			if (add_input(p, given[i], cause) != 0)
				return (-1);
		}
	} else {
		if (p->ninput_specs == 0) {
			xasprintf(cause, "%s: no input: give \"input\" in the "
			    "program or -i on the command line", p->path);
			return (-1);
		}
		for (i = 0; i < p->ninput_specs; i++) {
			if ((path = find_input(p, p->input_specs[i])) == NULL) {
				xasprintf(cause, "%s: input %s not found (in "
				    "%s, %sinput/ or the current folder)",
				    p->path, p->input_specs[i],
				    *p->dir != '\0' ? p->dir : "./",
				    p->dir);
				return (-1);
			}
			if (add_input(p, path, cause) != 0) {
				free(path);
				return (-1);
			}
			free(path);
		}
	}
	for (i = 0; i < p->ninputs; i++) {
		if (strcmp(p->inputs[i], "-") == 0 && stdin_seen++) {
			xasprintf(cause, "standard input given twice");
			return (-1);
		}
	}
	if (p->ninputs == 0) {
		/* Only empty folders: name the first. */
		xasprintf(cause, "%s: no input files in this folder",
		    ngiven > 0 ? given[0] : p->input_specs[0]);
		return (-1);
	}
	return (0);
}

void
program_free(struct program *p)
{
	size_t	i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nops; i++) {
		if (p->ops[i].argv != NULL) {
			for (size_t n = 0; p->ops[i].argv[n] != NULL; n++)
				free(p->ops[i].argv[n]);
			free(p->ops[i].argv);
		}
		free(p->ops[i].command);
		if (p->ops[i].combiner != NULL) {
			free(p->ops[i].combiner->command);
			free(p->ops[i].combiner);
		}
		free(p->ops[i].sarg);
		free(p->ops[i].src);
		expr_free(p->ops[i].expr);
	}
	free(p->ops);
	for (i = 0; i < p->ninput_specs; i++)
		free(p->input_specs[i]);
	free(p->input_specs);
	for (i = 0; i < p->ninputs; i++)
		free(p->inputs[i]);
	free(p->inputs);
	for (i = 0; i < p->nwarnings; i++)
		free(p->warnings[i]);
	free(p->warnings);
	jpos_free(p->pos_root);
	free(p->text);
	free(p->path);
	free(p->dir);
	free(p);
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

/* The program in canonical JSON, as `forkflow validate` prints it. */
char *
program_canonical(const struct program *p)
{
	json_t		*root, *ops, *o, *in;
	const struct op	*op;
	size_t		 i;
	char		*s;

	root = json_object();
	if (p->partitions > 0)
		json_object_set_new(root, "partitions",
		    json_integer(p->partitions));
	if (p->ninput_specs == 1)
		json_object_set_new(root, "input",
		    json_string(p->input_specs[0]));
	else if (p->ninput_specs > 1) {
		in = json_array();
		for (i = 0; i < p->ninput_specs; i++)
			json_array_append_new(in,
			    json_string(p->input_specs[i]));
		json_object_set_new(root, "input", in);
	}
	if (p->in_format == IN_TEXT) {
		in = json_object();
		json_object_set(in, "path", json_object_get(root, "input"));
		json_object_set_new(in, "format", json_string("text"));
		json_object_set_new(root, "input", in);
	}
	if (p->out_format == OUT_TSV) {
		in = json_object();
		json_object_set_new(in, "format", json_string("tsv"));
		json_object_set_new(root, "output", in);
	}
	json_object_set_new(root, "changeKeyOn",
	    json_string(p->changekey_on_key ? "key" : "value"));
	if (p->task_timeout_ms >= 0)
		json_object_set_new(root, "taskTimeout",
		    json_integer(p->task_timeout_ms));
	ops = json_array();
	for (i = 0; i < p->nops; i++) {
		op = &p->ops[i];
		o = json_object();
		json_object_set_new(o, "operator",
		    json_string(op_canonical[op->kind]));
		if (op->kind == OP_MAPPER || op->kind == OP_REDUCER) {
			if (op->command != NULL)
				json_object_set_new(o, "command",
				    json_string(op->command));
			else {
				json_t	*a = json_array();

				for (size_t n = 0; op->argv[n] != NULL; n++)
					json_array_append_new(a,
					    json_string(op->argv[n]));
				json_object_set_new(o, "command", a);
			}
			if (op->combiner != NULL)
				json_object_set_new(o, "combiner",
				    json_string(op->combiner->command));
		} else if (op->fn == FN_EXPR)
			json_object_set_new(o, "expr", json_string(op->src));
		else {
			json_object_set_new(o, "function",
			    json_string(fn_canonical[op->fn]));
			if (op->has_arg)
				json_object_set_new(o, "arg",
				    json_integer(op->arg));
			else if (op->sarg != NULL)
				json_object_set_new(o, "arg",
				    json_string(op->sarg));
		}
		json_array_append_new(ops, o);
	}
	json_object_set_new(root, "operations", ops);
	s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return (s);
}
