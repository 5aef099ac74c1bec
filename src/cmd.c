/* forkflow: see LICENSE. */
/*
 * What the subcommands share: their usage messages and the parsers of
 * option values (counts, sizes, seconds, one of a list of words).  A bad
 * value is a usage error: the message names the option and the value, and
 * the exit status is 2.
 */

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "forkflow.h"

/*
 * Print a subcommand's usage and exit: on standard output with its help
 * (the options, one per line) for --help, else on standard error.
 */
__dead void
cmd_usage(const char *synopsis, const char *help, int status)
{
	FILE	*f = status == 0 ? stdout : stderr;

	fprintf(f, "usage: %s\n", synopsis);
	if (status == 0 && help != NULL)
		fprintf(f, "\n%s", help);
	exit(status);
}

/*
 * Check that a command line has want operands from argv[first] on: name
 * the one too many, or say which is missing, then show the usage.
 */
void
cmd_operands(int argc, char **argv, int first, int want, const char *what,
    const char *synopsis)
{
	if (argc - first > want)
		warnx("unexpected argument: %s", argv[first + want]);
	else if (argc - first < want)
		warnx("missing %s", what);
	else
		return;
	cmd_usage(synopsis, NULL, EXIT_USAGE);
}

/* Parse a partition count or similar positive integer option. */
unsigned int
cmd_parse_count(const char *s, const char *what, unsigned int max)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || n < 1 ||
	    (unsigned long)n > max)
		errx(EXIT_USAGE, "%s must be an integer from 1 to %u: %s",
		    what, max, s);
	return ((unsigned int)n);
}

/* Parse a size: a number with an optional k, M or G (powers of 1024). */
uint64_t
cmd_parse_size(const char *s, const char *what)
{
	uint64_t	n;

	if (size_parse(s, &n) != 0)
		errx(EXIT_USAGE, "%s must be a positive size (like 64M): %s",
		    what, s);
	return (n);
}

/* Parse a number of seconds. */
double
cmd_parse_seconds(const char *s, const char *what)
{
	char	*end;
	double	 d;

	errno = 0;
	d = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !(d > 0) ||
	    d > 1e6)
		errx(EXIT_USAGE, "%s must be a positive number of seconds: %s",
		    what, s);
	return (d);
}

/*
 * Parse an option that names one of a list of words (NULL-terminated);
 * returns its index.  what is the option and its words, for the error.
 */
int
cmd_parse_choice(const char *s, const char *what, const char *const *words)
{
	int	i;

	for (i = 0; words[i] != NULL; i++) {
		if (strcasecmp(s, words[i]) == 0)
			return (i);
	}
	errx(EXIT_USAGE, "%s: %s", what, s);
}

/* Parse --changekey-on key|value: 1 for key. */
int
cmd_parse_changekey(const char *s)
{
	static const char *const words[] = { "value", "key", NULL };

	return (cmd_parse_choice(s, "--changekey-on wants key or value",
	    words));
}

/* Print a program's warnings, unless quiet. */
void
cmd_print_warnings(const struct program *p, int quiet)
{
	size_t	i;

	if (quiet)
		return;
	for (i = 0; i < p->nwarnings; i++)
		fprintf(stderr, "%s\n", p->warnings[i]);
}
