/* forkflow: see LICENSE. */
/*
 * Programs: read a program file into a struct program, and give it back as
 * canonical JSON.  A file that does not start like JSON is handed to
 * program-text.c; the operators found are built by program-ops.c, and the
 * inputs resolved later by program-input.c.
 *
 * jansson parses and validates the JSON, but keeps no positions of the
 * values it returns, and every error in a program must name FILE:LINE:COLUMN.
 * So a small scanner walks the (already valid) text once more and builds a
 * tree of positions parallel to jansson's; the loader looks a value's
 * position up by the same path it used to find the value.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* The scanner of positions: where it is in the text. */
struct jscan {
	const char	*s;
	size_t		 len;
	size_t		 i;
	int		 line;
	size_t		 bol;		/* offset of the current line */
};

static struct jpos	*jscan_value(struct jscan *);
static void		 jpos_free(struct jpos *);
static struct jpos	*jpos_member(const struct jpos *, const char *);
static int		 is_name(json_t *, const char *);
static int		 program_load_json(struct program *, size_t, char **);
static int		 load_partitions(struct program *, json_t *,
			     struct jpos *, char **);
static int		 load_memory(struct program *, json_t *,
			     struct jpos *, char **);
static int		 load_timeout(struct program *, json_t *,
			     struct jpos *, char **);
static int		 load_environment(struct program *, json_t *,
			     struct jpos *, char **);
static int		 load_fields(struct program *, json_t *,
			     struct jpos *, struct op *, char **);
static int		 load_changekey(struct program *, json_t *,
			     struct jpos *, char **);
static int		 load_inputs(struct program *, json_t *,
			     struct jpos *, char **);
static int		 load_ops(struct program *, json_t *, struct jpos *,
			     char **);
static int		 check_order(struct program *, char **);
static int		 load_sep(struct program *, json_t *, struct jpos *,
			     const char *, char **, char **);
static int		 check_keyorder(struct program *, char **);
static int		 load_lines(struct program *, json_t *, struct jpos *,
			    struct op *, char **);
static void		 combiner_fields(struct program *);
static int		 load_keyorder(struct program *, json_t *, struct jpos *,
			     struct op *, char **);
static int		 load_op(struct program *, json_t *, struct jpos *,
			     struct op *, char **);
static int		 load_command(struct program *, json_t *,
			     struct jpos *, struct opspec *, struct op *,
			     char **);
static int		 load_function(struct program *, json_t *,
			     struct jpos *, struct opspec *, struct op *,
			     char **);

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

/* A position where the scanner is. */
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
			p->keys = xgrow(p->keys, p->n,
			    sizeof *p->keys);
			p->kids = xgrow(p->kids, p->n,
			    sizeof *p->kids);
			p->keypos = xgrow(p->keypos, p->n,
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
			p->kids = xgrow(p->kids, p->n,
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

/* Free a tree of positions. */
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

/* Where the name of member name of an object stands (the last). */
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
	p->warnings = xgrow(p->warnings, p->nwarnings,
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
	return (program_load_as(path, NULL, NULL, changekey_on, cause));
}

/*
 * The same, for a copy of a program at path: messages name it name, and
 * its relative paths are relative to the folder dir (forkflow serve's
 * jobs).  Either NULL: path's.
 */
struct program *
program_load_as(const char *path, const char *name, const char *dir,
    int changekey_on, char **cause)
{
	char	*text;
	size_t	 len;

	if ((text = read_file(path, &len)) == NULL) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (NULL);
	}
	return (program_load_buf_as(path, name, dir, changekey_on, text, len,
	    cause));
}

/*
 * The same, for the text of the program at path, already read (len bytes
 * and a NUL), which the program takes.
 */
struct program *
program_load_buf_as(const char *path, const char *name, const char *dir,
    int changekey_on, char *text, size_t len, char **cause)
{
	struct program	*p;
	struct srcpos	 where;
	const char	*slash, *nul;
	size_t		 i;

	p = xcalloc(1, sizeof *p);
	p->task_timeout_ms = -1;
	p->path = xstrdup(name != NULL ? name : path);
	if (dir != NULL)
		xasprintf(&p->dir, "%s%s", dir, *dir != '\0' &&
		    dir[strlen(dir) - 1] != '/' ? "/" : "");
	else if ((slash = strrchr(path, '/')) != NULL)
		p->dir = xstrndup(path, slash - path + 1);
	else
		p->dir = xstrdup("");
	p->changekey_forced = changekey_on;
	if (changekey_on != -1)
		p->changekey_on_key = changekey_on;
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

/* Load a program, with changeKey as it says. */
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
		if (is_name(f, "text"))
			p->in_format = IN_TEXT;
		else if (is_name(f, "csv"))
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

/*
 * "output": {"format": "csv" or "tsv", "order": "key" or "input",
 * "separator": S}.  In input order (a program without reduce or reducer,
 * as Hadoop's map-only jobs), each part keeps the order its worker made
 * its records in.  TSV's lines may have another separator than a tab
 * between key and value (Hadoop's textoutputformat.separator).
 */
static int
json_output_object(struct program *p, json_t *j, struct jpos *pos,
    char **cause)
{
	static const char	*known[] = { "format", "order", "separator",
	    NULL };
	json_t			*f;

	if (!json_is_object(j)) {
		program_error(cause, p, &pos->at, "output is an object, like "
		    "{\"format\": \"tsv\"}");
		return (-1);
	}
	json_warn_unknown(p, j, pos, known);
	if ((f = json_object_get(j, "order")) != NULL) {
		if (is_name(f, "input"))
			p->in_order = 1;
		else if (!is_name(f, "key")) {
			program_error(cause, p, &jpos_member(pos, "order")->at,
			    "the output order is \"key\" or \"input\"");
			return (-1);
		}
		p->pos_order = jpos_member(pos, "order");
	}
	if ((f = json_object_get(j, "format")) != NULL) {
		if (is_name(f, "tsv"))
			p->out_format = OUT_TSV;
		else if (is_name(f, "csv"))
			p->out_format = OUT_CSV;
		else {
			program_error(cause, p, &jpos_member(pos,
			    "format")->at, "the output format is \"csv\" or "
			    "\"tsv\"");
			return (-1);
		}
	}
	if (json_object_get(j, "separator") == NULL)
		return (0);
	if (p->out_format != OUT_TSV) {
		program_error(cause, p, &jpos_member(pos, "separator")->at,
		    "a separator is for \"format\": \"tsv\" (CSV's is a "
		    "comma)");
		return (-1);
	}
	return (load_sep(p, j, pos, "separator", &p->out_sep, cause));
}

/* Whether j is a string that spells name, as program_name_equal() says. */
static int
is_name(json_t *j, const char *name)
{
	return (json_is_string(j) &&
	    program_name_equal(json_string_value(j), name));
}

/*
 * Load a JSON program from p->text: its members in a fixed order, so that
 * of two errors the same one is always reported.
 */
static int
program_load_json(struct program *p, size_t len, char **cause)
{
	json_t		*root, *j;
	json_error_t	 e;
	struct jscan	 js;
	struct jpos	*rootpos;
	struct srcpos	 where;
	static const char *known[] = { "partitions", "input", "files",
	    "changeKeyOn", "operations", "instructions", "output",
	    "taskTimeout", "memory", "environment", NULL };

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
	if (load_partitions(p, root, rootpos, cause) != 0 ||
	    load_timeout(p, root, rootpos, cause) != 0 ||
	    load_memory(p, root, rootpos, cause) != 0 ||
	    load_environment(p, root, rootpos, cause) != 0 ||
	    load_changekey(p, root, rootpos, cause) != 0 ||
	    load_inputs(p, root, rootpos, cause) != 0)
		goto fail;
	if ((j = json_object_get(root, "output")) != NULL &&
	    json_output_object(p, j, jpos_member(rootpos, "output"),
	    cause) != 0)
		goto fail;
	if (load_ops(p, root, rootpos, cause) != 0 ||
	    check_order(p, cause) != 0 || check_keyorder(p, cause) != 0)
		goto fail;
	combiner_fields(p);
	json_decref(root);
	return (0);

fail:
	json_decref(root);
	return (-1);
}

/*
 * Output in input order is for a program of one stage: a reduce's or a
 * reducer's output comes in the order of its keys.
 */
static int
check_order(struct program *p, char **cause)
{
	size_t	i;

	if (!p->in_order)
		return (0);
	for (i = 0; i < p->nops; i++) {
		if (p->ops[i].kind == OP_REDUCE ||
		    p->ops[i].kind == OP_REDUCER) {
			program_error(cause, p, &p->pos_order->at, "the output "
			    "order \"input\" is for a program without reduce "
			    "or reducer; operator %zu is a %s", i,
			    p->ops[i].kind == OP_REDUCE ? "reduce" :
			    "reducer");
			return (-1);
		}
	}
	return (0);
}

/*
 * A combiner's lines are a mapper's output, cut as the mapper's are
 * (Hadoop's stream.map.output.field.separator and
 * stream.num.map.output.key.fields).
 */
static void
combiner_fields(struct program *p)
{
	struct op	*c;
	size_t		 i;

	for (i = 1; i < p->nops; i++) {
		c = p->ops[i].combiner;
		if (c == NULL || p->ops[i - 1].kind != OP_MAPPER)
			continue;
		if (p->ops[i - 1].osep != NULL) {
			free(c->osep);
			c->osep = xstrdup(p->ops[i - 1].osep);
		}
		c->okeys = p->ops[i - 1].okeys;
	}
}

/*
 * A secondary sort cuts keys that are text into fields: a reducer with one
 * must get string keys (from a mapper, or text input).
 */
static int
check_keyorder(struct program *p, char **cause)
{
	enum vtype	 kt, vt;
	size_t		 i;

	kt = vt = p->in_format == IN_TEXT ? VT_STR : VT_INT;
	for (i = 0; i < p->nops; i++) {
		if (p->ops[i].korder != NULL && kt != VT_STR) {
			program_error(cause, p, &p->ops[i].pos, "a reducer "
			    "with sortKeys, partitionKeys or keyFieldSeparator "
			    "needs keys that are text; operator %zu gets "
			    "integers", i);
			return (-1);
		}
		(void)op_types(&p->ops[i], &kt, &vt);
	}
	return (0);
}

/* "partitions": an integer from 1 to PARTS_MAX, if given. */
static int
load_partitions(struct program *p, json_t *root, struct jpos *rootpos,
    char **cause)
{
	json_t		*j;
	struct jpos	*at;
	json_int_t	 n;

	if ((j = json_object_get(root, "partitions")) == NULL)
		return (0);
	at = jpos_member(rootpos, "partitions");
	if (!json_is_integer(j)) {
		program_error(cause, p, &at->at,
		    "partitions must be an integer");
		return (-1);
	}
	n = json_integer_value(j);
	if (n < 1 || n > PARTS_MAX) {
		program_error(cause, p, &at->at,
		    "partitions must be between 1 and %d", PARTS_MAX);
		return (-1);
	}
	p->partitions = (int)n;
	return (0);
}

/*
 * "environment": {"NAME": "VALUE", ...}, variables for every command of
 * the job (streaming's -cmdenv and its properties).
 */
static int
load_environment(struct program *p, json_t *root, struct jpos *rootpos,
    char **cause)
{
	json_t		*j, *v;
	struct jpos	*at;
	const char	*name;

	if ((j = json_object_get(root, "environment")) == NULL)
		return (0);
	at = jpos_member(rootpos, "environment");
	if (!json_is_object(j)) {
		program_error(cause, p, &at->at, "environment must be an "
		    "object of names and their values");
		return (-1);
	}
	json_object_foreach(j, name, v) {
		if (*name == '\0' || strchr(name, '=') != NULL ||
		    !json_is_string(v)) {
			program_error(cause, p, &jpos_member(at, name)->at,
			    "an environment variable has a name without "
			    "'=' and a string value");
			return (-1);
		}
		p->env = xreallocarray(p->env, p->nenv + 2, sizeof *p->env);
		xasprintf(&p->env[p->nenv++], "%s=%s", name,
		    json_string_value(v));
		p->env[p->nenv] = NULL;
	}
	return (0);
}

/* "taskTimeout": milliseconds, if given. */
static int
load_timeout(struct program *p, json_t *root, struct jpos *rootpos,
    char **cause)
{
	json_t		*j;
	struct jpos	*at;

	if ((j = json_object_get(root, "taskTimeout")) == NULL)
		return (0);
	at = jpos_member(rootpos, "taskTimeout");
	if (!json_is_integer(j) || json_integer_value(j) < 0 ||
	    json_integer_value(j) > (json_int_t)1000 * 1000000) {
		program_error(cause, p, &at->at, "taskTimeout must be "
		    "a number of milliseconds from 0 to 1000000000");
		return (-1);
	}
	p->task_timeout_ms = (int64_t)json_integer_value(j);
	return (0);
}

/* "memory": the workers' budget, a size ("512M") or bytes, if given. */
static int
load_memory(struct program *p, json_t *root, struct jpos *rootpos,
    char **cause)
{
	json_t		*j;
	struct jpos	*at;
	uint64_t	 n;

	if ((j = json_object_get(root, "memory")) == NULL)
		return (0);
	at = jpos_member(rootpos, "memory");
	if (json_is_integer(j) && json_integer_value(j) > 0)
		n = (uint64_t)json_integer_value(j);
	else if (!json_is_string(j) ||
	    size_parse(json_string_value(j), &n) != 0) {
		program_error(cause, p, &at->at, "memory must be a size, "
		    "like \"512M\" or \"2G\", or a number of bytes");
		return (-1);
	}
	p->memory = n;
	return (0);
}

/* "changeKeyOn": "key" or "value", unless the command line said. */
static int
load_changekey(struct program *p, json_t *root, struct jpos *rootpos,
    char **cause)
{
	json_t		*j;
	struct jpos	*at;

	if ((j = json_object_get(root, "changeKeyOn")) == NULL)
		return (0);
	at = jpos_member(rootpos, "changeKeyOn");
	if (is_name(j, "key")) {
		if (p->changekey_forced == -1)
			p->changekey_on_key = 1;
	} else if (is_name(j, "value")) {
		if (p->changekey_forced == -1)
			p->changekey_on_key = 0;
	} else {
		program_error(cause, p, &at->at,
		    "changeKeyOn must be \"key\" or \"value\"");
		return (-1);
	}
	return (0);
}

/*
 * "input" (or "files"): a file name, a list of them, or an object with
 * "path" and "format".  The names are kept as given; program_set_inputs()
 * finds the files.
 */
static int
load_inputs(struct program *p, json_t *root, struct jpos *rootpos,
    char **cause)
{
	json_t		*j;
	struct jpos	*at;
	const char	*which;
	size_t		 i;
	static const char *input_names[] = { "input", "files", NULL };

	if ((j = json_get_any(p, root, rootpos, input_names, &which)) == NULL)
		return (0);
	at = jpos_member(rootpos, which);
	if (json_is_object(j) &&
	    json_input_object(p, j, at, &j, &at, cause) != 0)
		return (-1);
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
				program_error(cause, p, &at->kids[i]->at,
				    "an input is a file name (string)");
				return (-1);
			}
			p->input_specs[i] = xstrdup(
			    json_string_value(json_array_get(j, i)));
		}
	} else {
		program_error(cause, p, &at->at, "%s must be a file "
		    "name or a list of them", which);
		return (-1);
	}
	return (0);
}

/* "operations" (or "instructions"): the list of operators. */
static int
load_ops(struct program *p, json_t *root, struct jpos *rootpos, char **cause)
{
	json_t		*ops;
	struct jpos	*at;
	const char	*which;
	size_t		 i;
	static const char *ops_names[] = { "operations", "instructions",
	    NULL };

	if ((ops = json_get_any(p, root, rootpos, ops_names, &which)) == NULL) {
		program_error(cause, p, &rootpos->at,
		    "missing \"operations\"");
		return (-1);
	}
	at = jpos_member(rootpos, which);
	if (!json_is_array(ops)) {
		program_error(cause, p, &at->at,
		    "%s must be a list of operators", which);
		return (-1);
	}
	p->nops = json_array_size(ops);
	if (p->nops > 0)
		p->ops = xcalloc(p->nops, sizeof *p->ops);
	for (i = 0; i < p->nops; i++) {
		if (load_op(p, json_array_get(ops, i), at->kids[i], &p->ops[i],
		    cause) != 0)
			return (-1);
	}
	return (0);
}

/*
 * Load one operator of a JSON program: an object, or a string such as
 * "map(ADD(5))", "change(MUL(2))" or "reduce()".
 */
static int
load_op(struct program *p, json_t *j, struct jpos *pos, struct op *op,
    char **cause)
{
	json_t		*jop;
	struct opspec	 spec;
	struct jpos	*at;
	static const char *known[] = { "operator", "function", "arg",
	    "value", "expr", "command", "combiner", "separator", "keyFields",
	    "inputSeparator", "keyFieldSeparator", "sortKeys", "partitionKeys",
	    "processPerFile", "linesPerProcess", "inputKey", NULL };

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

	if (json_object_get(j, "command") != NULL)
		return (load_command(p, j, pos, &spec, op, cause));
	return (load_function(p, j, pos, &spec, op, cause));
}

/*
 * The rest of a mapper or reducer: its command, as argv or for /bin/sh -c,
 * and its combiner.
 */
static int
load_command(struct program *p, json_t *j, struct jpos *pos,
    struct opspec *spec, struct op *op, char **cause)
{
	json_t		*jcmd, *jfn;
	struct jpos	*at;
	size_t		 i;
	int		 r;

	jcmd = json_object_get(j, "command");
	at = jpos_member(pos, "command");
	if (json_is_string(jcmd) && *json_string_value(jcmd) != '\0')
		spec->command = json_string_value(jcmd);
	else if (json_is_array(jcmd) && json_array_size(jcmd) > 0) {
		spec->argv = xcalloc(json_array_size(jcmd) + 1,
		    sizeof *spec->argv);
		for (i = 0; i < json_array_size(jcmd); i++) {
			if (!json_is_string(json_array_get(jcmd, i))) {
				free(spec->argv);
				program_error(cause, p, &at->kids[i]->at,
				    "a command's words are strings");
				return (-1);
			}
			spec->argv[i] = (char *)json_string_value(
			    json_array_get(jcmd, i));
		}
	} else {
		program_error(cause, p, &at->at, "a command is a "
		    "string (run with /bin/sh -c) or a list of words");
		return (-1);
	}
	spec->command_at = at->at;
	if ((jfn = json_object_get(j, "combiner")) != NULL) {
		if (!json_is_string(jfn)) {
			free(spec->argv);
			program_error(cause, p, &jpos_member(pos,
			    "combiner")->at, "a combiner is a command "
			    "(a string)");
			return (-1);
		}
		spec->combiner = json_string_value(jfn);
	}
	r = program_op_build(p, spec, op, cause);
	free(spec->argv);
	if (r == 0)
		r = load_fields(p, j, pos, op, cause);
	return (r);
}

/* A string key of a command's that must not be empty, or NULL. */
static int
load_sep(struct program *p, json_t *j, struct jpos *pos, const char *key,
    char **out, char **cause)
{
	json_t	*v;

	if ((v = json_object_get(j, key)) == NULL)
		return (0);
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strchr(json_string_value(v), '\n') != NULL) {
		program_error(cause, p, &jpos_member(pos, key)->at, "%s is "
		    "a string of one or more characters, not a newline",
		    key);
		return (-1);
	}
	*out = xstrdup(json_string_value(v));
	return (0);
}

/*
 * How a command's lines are cut: "separator" and "keyFields", where its
 * output lines' key ends (the keyFields-th separator; a tab and 1 by
 * default), and "inputSeparator", what a reducer's input lines have
 * between key and value.  A combiner cuts as its reducer's input is cut.
 */
static int
load_fields(struct program *p, json_t *j, struct jpos *pos, struct op *op,
    char **cause)
{
	json_t		*v;
	json_int_t	 n;

	if (load_sep(p, j, pos, "separator", &op->osep, cause) != 0 ||
	    load_sep(p, j, pos, "inputSeparator", &op->isep, cause) != 0)
		return (-1);
	if ((v = json_object_get(j, "keyFields")) != NULL) {
		n = json_is_integer(v) ? json_integer_value(v) : 0;
		if (n < 1 || n > 1000) {
			program_error(cause, p, &jpos_member(pos,
			    "keyFields")->at, "keyFields is a number of "
			    "fields, from 1 to 1000");
			return (-1);
		}
		op->okeys = (unsigned int)n;
	}
	if (op->isep != NULL && op->kind != OP_REDUCER) {
		program_error(cause, p, &jpos_member(pos,
		    "inputSeparator")->at, "only a reducer's input is cut "
		    "into key and value");
		return (-1);
	}
	if (op->combiner != NULL && op->isep != NULL) {
		op->combiner->isep = xstrdup(op->isep);
		op->combiner->osep = xstrdup(op->isep);
	}
	if ((v = json_object_get(j, "processPerFile")) != NULL) {
		if (!json_is_boolean(v) || op->kind != OP_MAPPER) {
			program_error(cause, p, &jpos_member(pos,
			    "processPerFile")->at, "processPerFile is true or "
			    "false, for a mapper");
			return (-1);
		}
		op->per_file = json_is_true(v);
	}
	if (load_lines(p, j, pos, op, cause) != 0)
		return (-1);
	return (load_keyorder(p, j, pos, op, cause));
}

/*
 * A first mapper on text may see each line with its byte offset in its
 * file ("inputKey": "offset") and be started anew every N lines of a file
 * ("linesPerProcess"): Hadoop's NLineInputFormat.
 */
static int
load_lines(struct program *p, json_t *j, struct jpos *pos, struct op *op,
    char **cause)
{
	json_t		*v;
	const char	*key = NULL;

	if ((v = json_object_get(j, "linesPerProcess")) != NULL) {
		key = "linesPerProcess";
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 1000000000) {
			program_error(cause, p, &jpos_member(pos, key)->at,
			    "linesPerProcess is a number of lines, from 1 to "
			    "1000000000");
			return (-1);
		}
		op->lines_per = (uint64_t)json_integer_value(v);
	}
	if ((v = json_object_get(j, "inputKey")) != NULL) {
		key = "inputKey";
		if (!json_is_string(v) || (strcmp(json_string_value(v),
		    "offset") != 0 && strcmp(json_string_value(v), "none") !=
		    0)) {
			program_error(cause, p, &jpos_member(pos, key)->at,
			    "inputKey is \"offset\" (each line after its byte "
			    "offset in its file and a tab) or \"none\"");
			return (-1);
		}
		op->key_offset = strcmp(json_string_value(v), "offset") == 0;
	}
	if (key != NULL && (op->kind != OP_MAPPER || op != p->ops ||
	    p->in_format != IN_TEXT)) {
		program_error(cause, p, &jpos_member(pos, key)->at, "%s is for "
		    "a mapper that is the first operator, on text input", key);
		return (-1);
	}
	return (0);
}

/* One of "sortKeys" and "partitionKeys": options like -k1,1 -k2,2nr. */
static int
load_keyspecs(struct program *p, json_t *j, struct jpos *pos, const char *key,
    struct keyspec **specs, size_t *n, char **src, char **cause)
{
	json_t	*v;
	char	*why;

	if ((v = json_object_get(j, key)) == NULL)
		return (0);
	if (!json_is_string(v)) {
		program_error(cause, p, &jpos_member(pos, key)->at, "%s is a "
		    "string of options, like \"-k1,1 -k2,2nr\"", key);
		return (-1);
	}
	if (keyspec_parse(json_string_value(v), specs, n, &why) != 0) {
		program_error(cause, p, &jpos_member(pos, key)->at, "%s: %s",
		    key, why);
		free(why);
		return (-1);
	}
	*src = xstrdup(json_string_value(v));
	return (0);
}

/*
 * A reducer's secondary sort, Hadoop's key-field comparator and
 * partitioner: "keyFieldSeparator" (a tab by default) cuts its keys into
 * fields, "sortKeys" orders its input by them, "partitionKeys" says which
 * of them choose its partition.  Its combiner sorts as it does.
 */
static int
load_keyorder(struct program *p, json_t *j, struct jpos *pos, struct op *op,
    char **cause)
{
	struct keyorder	*ko;
	static const char *keys[] = { "keyFieldSeparator", "sortKeys",
	    "partitionKeys" };
	size_t		 i;

	for (i = 0; i < 3; i++) {
		if (json_object_get(j, keys[i]) != NULL)
			break;
	}
	if (i == 3)
		return (0);
	if (op->kind != OP_REDUCER) {
		program_error(cause, p, &jpos_member(pos, keys[i])->at,
		    "%s is a reducer's: it orders and partitions the reducer's "
		    "input", keys[i]);
		return (-1);
	}
	ko = xcalloc(1, sizeof *ko);
	op->korder = ko;
	if (load_sep(p, j, pos, "keyFieldSeparator", &ko->sep, cause) != 0 ||
	    load_keyspecs(p, j, pos, "sortKeys", &ko->sort, &ko->nsort,
	    &ko->sort_src, cause) != 0 || load_keyspecs(p, j, pos,
	    "partitionKeys", &ko->part, &ko->npart, &ko->part_src, cause) != 0)
		return (-1);
	if (ko->sep == NULL)
		ko->sep = xstrdup("\t");
	if (op->combiner != NULL)
		op->combiner->korder = ko;
	return (0);
}

/*
 * The rest of any other operator: an "expr", or a "function" with its
 * "arg" (or "value").
 */
static int
load_function(struct program *p, json_t *j, struct jpos *pos,
    struct opspec *spec, struct op *op, char **cause)
{
	json_t		*jfn, *jarg, *jexpr;
	struct jpos	*at;
	const char	*which = NULL;
	static const char *arg_names[] = { "arg", "value", NULL };

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
		spec->expr = json_string_value(jexpr);
		spec->expr_at = at->at;
		spec->expr_off = at->off;
		return (program_op_build(p, spec, op, cause));
	}
	if (jfn != NULL) {
		at = jpos_member(pos, "function");
		if (!json_is_string(jfn)) {
			program_error(cause, p, &at->at,
			    "\"function\" must be a string");
			return (-1);
		}
		spec->func = json_string_value(jfn);
		spec->func_at = at->at;
	}
	if (jarg != NULL) {
		at = jpos_member(pos, which);
		spec->arg_at = at->at;
		if (json_is_integer(jarg)) {
			spec->has_arg = 1;
			spec->arg = json_integer_value(jarg);
		} else {
			spec->arg_bad = which;	/* an error if it is used */
			if (json_is_string(jarg))
				spec->sarg = json_string_value(jarg);
		}
	}
	return (program_op_build(p, spec, op, cause));
}

/* Free a program and all it holds. */
void
program_free(struct program *p)
{
	size_t	i;

	if (p == NULL)
		return;
	free(p->out_sep);
	for (i = 0; i < p->nops; i++) {
		if (p->ops[i].argv != NULL) {
			for (size_t n = 0; p->ops[i].argv[n] != NULL; n++)
				free(p->ops[i].argv[n]);
			free(p->ops[i].argv);
		}
		free(p->ops[i].command);
		if (p->ops[i].combiner != NULL) {
			free(p->ops[i].combiner->command);
			free(p->ops[i].combiner->osep);
			free(p->ops[i].combiner->isep);
			free(p->ops[i].combiner);
		}
		free(p->ops[i].osep);
		free(p->ops[i].isep);
		keyorder_free(p->ops[i].korder);
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
	for (i = 0; i < p->nenv; i++)
		free(p->env[i]);
	free(p->env);
	jpos_free(p->pos_root);
	free(p->text);
	free(p->path);
	free(p->dir);
	free(p);
}

/* The program in canonical JSON, as `forkflow validate` prints it. */
char *
program_canonical(const struct program *p)
{
	json_t		*root, *ops, *o, *in;
	const struct op	*op;
	size_t		 i;
	const char	*eq;
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
	if (p->out_format == OUT_TSV || p->in_order) {
		in = json_object();
		if (p->out_format == OUT_TSV)
			json_object_set_new(in, "format", json_string("tsv"));
		if (p->in_order)
			json_object_set_new(in, "order", json_string("input"));
		if (p->out_sep != NULL)
			json_object_set_new(in, "separator",
			    json_string(p->out_sep));
		json_object_set_new(root, "output", in);
	}
	json_object_set_new(root, "changeKeyOn",
	    json_string(p->changekey_on_key ? "key" : "value"));
	if (p->task_timeout_ms >= 0)
		json_object_set_new(root, "taskTimeout",
		    json_integer(p->task_timeout_ms));
	if (p->memory != 0)
		json_object_set_new(root, "memory",
		    json_integer((json_int_t)p->memory));
	if (p->nenv > 0) {
		in = json_object();
		for (i = 0; i < p->nenv; i++) {
			eq = strchr(p->env[i], '=');
			s = xstrndup(p->env[i], (size_t)(eq - p->env[i]));
			json_object_set_new(in, s, json_string(eq + 1));
			free(s);
		}
		json_object_set_new(root, "environment", in);
	}
	ops = json_array();
	for (i = 0; i < p->nops; i++) {
		op = &p->ops[i];
		o = json_object();
		json_object_set_new(o, "operator",
		    json_string(program_op_name(op)));
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
			if (op->osep != NULL)
				json_object_set_new(o, "separator",
				    json_string(op->osep));
			if (op->okeys != 0)
				json_object_set_new(o, "keyFields",
				    json_integer(op->okeys));
			if (op->isep != NULL)
				json_object_set_new(o, "inputSeparator",
				    json_string(op->isep));
			if (op->per_file)
				json_object_set_new(o, "processPerFile",
				    json_true());
			if (op->lines_per != 0)
				json_object_set_new(o, "linesPerProcess",
				    json_integer((json_int_t)op->lines_per));
			if (op->key_offset)
				json_object_set_new(o, "inputKey",
				    json_string("offset"));
			if (op->korder != NULL && !op->is_combiner) {
				json_object_set_new(o, "keyFieldSeparator",
				    json_string(op->korder->sep));
				if (op->korder->sort_src != NULL)
					json_object_set_new(o, "sortKeys",
					    json_string(op->korder->sort_src));
				if (op->korder->part_src != NULL)
					json_object_set_new(o,
					    "partitionKeys", json_string(
					    op->korder->part_src));
			}
		} else if (op->fn == FN_EXPR)
			json_object_set_new(o, "expr", json_string(op->src));
		else {
			json_object_set_new(o, "function",
			    json_string(program_fn_name(op->fn)));
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
