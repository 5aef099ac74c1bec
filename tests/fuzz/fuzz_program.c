/* forkflow: see LICENSE. */
/*
 * libFuzzer harness for program.c and program-text.c.  The input is a
 * program file, JSON or lines of text as its first byte decides, loaded
 * with program_load_opts() and a changeKey setting taken from its bytes.
 * The load must either fail with a cause naming the file, or give a program
 * whose canonical JSON (program_canonical()) loads again, to the same
 * canonical text and the same operators, formats and commands.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"
#include "fuzz_util.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int		str_same(const char *, const char *);
static int		argv_same(char **, char **);
static void		check_same(const struct program *,
			    const struct program *, const char *);

static const char	*fuzz_path;	/* the input as a program */
static const char	*fuzz_canon;	/* its canonical form */

/* Make the scratch folder and name its files. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_scratch();
	fuzz_path = fuzz_file("job.json");
	fuzz_canon = fuzz_file("canonical.json");
	return (0);
}

/* Two strings, either maybe NULL, are the same. */
static int
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

/* Two commands as words, either maybe NULL, are the same. */
static int
argv_same(char **a, char **b)
{
	size_t	 i;

	if (a == NULL || b == NULL)
		return (a == b);
	for (i = 0; a[i] != NULL && b[i] != NULL; i++) {
		if (strcmp(a[i], b[i]) != 0)
			return (0);
	}
	return (a[i] == b[i]);
}

/* The operators of a program and of its canonical form must agree. */
static void
check_same(const struct program *p, const struct program *q, const char *c)
{
	const struct op	*a, *b;
	char		*da, *db;
	size_t		 i;

	if (p->nops != q->nops || p->partitions != q->partitions ||
	    p->changekey_on_key != q->changekey_on_key ||
	    p->ninput_specs != q->ninput_specs ||
	    p->in_format != q->in_format || p->out_format != q->out_format)
		fuzz_fail("the canonical form differs:\n%s", c);
	for (i = 0; i < p->nops; i++) {
		a = &p->ops[i];
		b = &q->ops[i];
		if (a->kind != b->kind || a->fn != b->fn ||
		    a->has_arg != b->has_arg || a->arg != b->arg ||
		    a->on_key != b->on_key ||
		    (a->expr == NULL) != (b->expr == NULL) ||
		    !str_same(a->sarg, b->sarg) ||
		    !str_same(a->command, b->command) ||
		    !argv_same(a->argv, b->argv) ||
		    (a->combiner == NULL) != (b->combiner == NULL) ||
		    (a->combiner != NULL &&
		    !str_same(a->combiner->command, b->combiner->command)))
			fuzz_fail("operator %zu differs in the canonical "
			    "form:\n%s", i, c);
		if ((a->kind == OP_MAP || a->kind == OP_FILTER ||
		    a->kind == OP_CHANGEKEY) && a->expr == NULL)
			fuzz_fail("operator %zu has no expression:\n%s", i, c);
		if ((a->kind == OP_MAPPER || a->kind == OP_REDUCER) &&
		    (a->command == NULL) == (a->argv == NULL))
			fuzz_fail("operator %zu has %s command:\n%s", i,
			    a->command == NULL ? "no" : "two", c);
		da = program_op_describe(p, a);
		db = program_op_describe(q, b);
		if (strncmp(da, program_op_name(a), strlen(program_op_name(a)))
		    != 0 || strcmp(program_op_name(a), program_op_name(b)) != 0)
			fuzz_fail("operator %zu is described as %s and %s", i,
			    da, db);
		free(da);
		free(db);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct program	*p, *q;
	char		*cause = NULL, *c1, *c2;
	size_t		 i, plen = strlen(fuzz_path);
	unsigned int	 sum = 0;
	int		 on;

	/* changeKey on: as the program says, the value or the key. */
	for (i = 0; i < size; i++)
		sum += data[i];
	on = (int)(sum % 3) - 1;

	fuzz_write_file(fuzz_path, data, size);
	p = program_load_opts(fuzz_path, on, &cause);
	if (p == NULL) {
		if (cause == NULL)
			fuzz_fail("load failed without a cause");
		if (strncmp(cause, fuzz_path, plen) != 0 || cause[plen] != ':')
			fuzz_fail("cause does not start with the file name: "
			    "%s", cause);
		free(cause);
		return (0);
	}
	if (cause != NULL)
		fuzz_fail("loaded, yet a cause is set: %s", cause);
	if (on != -1 && p->changekey_on_key != on)
		fuzz_fail("changeKey on %d forced, the program has %d", on,
		    p->changekey_on_key);

	if ((c1 = program_canonical(p)) == NULL)
		fuzz_fail("no canonical form");
	fuzz_write_file(fuzz_canon, c1, strlen(c1));
	q = program_load_opts(fuzz_canon, -1, &cause);
	if (q == NULL)
		fuzz_fail("the canonical form does not load: %s\n%s", cause,
		    c1);
	if ((c2 = program_canonical(q)) == NULL)
		fuzz_fail("no canonical form of the canonical form");
	if (strcmp(c1, c2) != 0)
		fuzz_fail("canonical forms differ:\n%s\n----\n%s", c1, c2);
	if (q->nwarnings != 0)
		fuzz_fail("the canonical form has warnings: %s\n%s",
		    q->warnings[0], c1);
	check_same(p, q, c1);

	free(c1);
	free(c2);
	program_free(q);
	program_free(p);
	return (0);
}
