/* forkflow: see LICENSE. */
/*
 * Line programs: the plain-text dialect of some other implementations,
 * one operator a line, "OPERATOR FUNCTION [ARG]", the words separated by
 * spaces, tabs, ';' or ',' ("map add 1", "filter;not_equal;55"), with '#'
 * comments and blank lines, and an optional "partitions = N" line.  Each
 * line becomes an operator through program_op_build(), as JSON does.
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "forkflow.h"

#define WORDS_MAX	3

static int
is_sep(int c)
{
	return (c == ' ' || c == '\t' || c == ';' || c == ',' || c == '\r');
}

/* Is the line "partitions = N" (or "partitions N")?  Parse N. */
static int
text_partitions(const char *line, size_t len, long *n, int *bad)
{
	const char	*s = line, *end = line + len;
	char		*e;

	*bad = 0;
	if (len < 10 || strncasecmp(s, "partitions", 10) != 0 ||
	    (len > 10 && !is_sep(s[10]) && s[10] != '=' && s[10] != ':'))
		return (0);
	s += 10;
	while (s < end && (is_sep(*s) || *s == '=' || *s == ':'))
		s++;
	if (s == end || !isdigit((unsigned char)*s)) {
		*bad = 1;
		return (1);
	}
	*n = strtol(s, &e, 10);
	while (e < end && is_sep(*e))
		e++;
	if (e != end)
		*bad = 1;
	return (1);
}

/* Load a line program from p->text. */
int
program_load_text(struct program *p, size_t len, char **cause)
{
	struct opspec	 spec;
	struct srcpos	 at;
	const char	*line, *end, *nl = NULL, *s, *w[WORDS_MAX + 1];
	char		*word[WORDS_MAX];
	size_t		 wlen[WORDS_MAX + 1], n, i;
	long		 parts;
	int		 lineno = 0, bad, r;

	for (line = p->text; line < p->text + len; line = nl + 1) {
		lineno++;
		nl = memchr(line, '\n', p->text + len - line);
		if (nl == NULL)
			nl = p->text + len;
		end = memchr(line, '#', nl - line);
		if (end == NULL)
			end = nl;
		at.line = lineno;

		/* Split into words. */
		n = 0;
		for (s = line; s < end;) {
			while (s < end && is_sep(*s))
				s++;
			if (s == end)
				break;
			if (n == WORDS_MAX) {
				at.col = (int)(s - line) + 1;
				program_error(cause, p, &at, "a line is "
				    "OPERATOR FUNCTION [ARG]; this one has "
				    "more words");
				return (-1);
			}
			w[n] = s;
			while (s < end && !is_sep(*s))
				s++;
			wlen[n] = (size_t)(s - w[n]);
			n++;
		}
		if (n == 0)
			continue;
		at.col = (int)(w[0] - line) + 1;
		if (text_partitions(w[0], (size_t)(end - w[0]), &parts,
		    &bad)) {
			if (bad || parts < 1 || parts > PARTS_MAX) {
				program_error(cause, p, &at, "partitions must "
				    "be an integer from 1 to %d", PARTS_MAX);
				return (-1);
			}
			p->partitions = (int)parts;
			continue;
		}

		for (i = 0; i < n; i++)
			word[i] = xstrndup(w[i], wlen[i]);
		memset(&spec, 0, sizeof spec);
		spec.at = at;
		spec.oper = word[0];
		spec.oper_at = at;
		if (n > 1) {
			spec.func = word[1];
			spec.func_at.line = lineno;
			spec.func_at.col = (int)(w[1] - line) + 1;
		}
		if (n > 2) {
			spec.arg_text = word[2];
			spec.arg_at.line = lineno;
			spec.arg_at.col = (int)(w[2] - line) + 1;
		}
		p->ops = xgrow(p->ops, p->nops, sizeof *p->ops);
		memset(&p->ops[p->nops], 0, sizeof p->ops[p->nops]);
		r = program_op_build(p, &spec, &p->ops[p->nops], cause);
		p->nops++;
		for (i = 0; i < n; i++)
			free(word[i]);
		if (r != 0)
			return (-1);
		if (nl == p->text + len)
			break;
	}
	if (p->nops == 0) {
		at.line = 1;
		at.col = 1;
		program_error(cause, p, &at, "no operator in this program");
		return (-1);
	}
	return (0);
}
