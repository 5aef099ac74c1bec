/* forkflow: see LICENSE. */
/*
 * forkflow validate: load a program, as `run` would, and print it in
 * forkflow's own canonical JSON, or the error that stops it.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "forkflow.h"

const char cmd_validate_synopsis[] =
"forkflow validate [-q] [--canonical] [--changekey-on key|value]\n"
"                         program";

static const char cmd_validate_help[] =
"Check a program and print it in canonical JSON.\n"
"\n"
"  -q, --quiet          print no warnings\n"
"      --canonical      print the canonical program (what validate prints\n"
"                       anyway)\n"
"      --changekey-on key|value\n"
"                       what a named changeKey function applies to, as the\n"
"                       program's \"changeKeyOn\" (default: value)\n"
"\n"
"Exit status: 0 the program is valid, 2 it is not (the error names\n"
"FILE:LINE:COLUMN).\n";

enum {
	OPT_CANONICAL = 256,
	OPT_CHANGEKEY_ON,
	OPT_HELP,
};

static const struct option validate_opts[] = {
	{ "quiet",		no_argument,		NULL, 'q' },
	{ "canonical",		no_argument,		NULL, OPT_CANONICAL },
	{ "changekey-on",	required_argument,	NULL, OPT_CHANGEKEY_ON },
	{ "help",		no_argument,		NULL, OPT_HELP },
	{ NULL,			0,			NULL, 0 }
};

/* forkflow validate [-q] [--canonical] [--changekey-on key|value] PROGRAM */
int
cmd_validate(int argc, char **argv)
{
	struct program	*p;
	char		*cause, *s;
	int		 ch, quiet = 0, changekey = -1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "q", validate_opts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'q':
			quiet = 1;
			break;
		case OPT_CANONICAL:
			break;		/* what validate prints anyway */
		case OPT_CHANGEKEY_ON:
			changekey = cmd_parse_changekey(optarg);
			break;
		case OPT_HELP:
			cmd_usage(cmd_validate_synopsis, cmd_validate_help, 0);
		default:
			cmd_usage(cmd_validate_synopsis, NULL, EXIT_USAGE);
		}
	}
	cmd_operands(argc, argv, optind, 1, "program", cmd_validate_synopsis);
	if ((p = program_load_opts(argv[optind], changekey, &cause)) ==
	    NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return (EXIT_USAGE);
	}
	cmd_print_warnings(p, quiet);
	s = program_canonical(p);
	printf("%s\n", s);
	free(s);
	program_free(p);
	return (0);
}
