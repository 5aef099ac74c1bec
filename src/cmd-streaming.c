/* forkflow: see LICENSE. */
/*
 * forkflow streaming: Hadoop Streaming's own command line, so that a Hadoop
 * Streaming job runs as it is written.  Each option and property Hadoop
 * documents is honoured with Hadoop's meaning, warned about when it has
 * none on one machine, or refused when forkflow cannot give it its meaning
 * (hstream_opts[] and hstream_props[] say which).  The job is written as a
 * program (text input, a mapper, a reducer with its combiner, TSV output)
 * into its job directory and run as `forkflow run` runs a program.
 */

#include <ctype.h>
#include <err.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "forkflow.h"

const char cmd_streaming_synopsis[] =
"forkflow streaming -input in [-input in]... -output out -mapper cmd\n"
"                          [-reducer cmd] [-combiner cmd] [-numReduceTasks n]\n"
"                          [-file f]... [-files f[#link],...] [-archives a,...]\n"
"                          [-D name=value]... [-conf file.xml] [-cmdenv n=v]...\n"
"                          [-inputformat class] [-outputformat class]\n"
"                          [-partitioner class] [-lazyOutput] [-verbose] [-qv]\n"
"                          [run-options]";

static const char cmd_streaming_help[] =
"Run a Hadoop Streaming job as it is written: a mapper and a reducer\n"
"command, in any language, over lines of text, into OUT/part-NNNNN and\n"
"OUT/_SUCCESS.\n"
"\n"
"  -input PATH          an input file or folder, a glob, or a comma-separated\n"
"                       list of them; may be repeated\n"
"  -output DIR          the output folder; it must not exist\n"
"  -mapper CMD          the map command, run with /bin/sh -c, or\n"
"                       org.apache.hadoop.mapred.lib.IdentityMapper\n"
"  -reducer CMD         the reduce command, fed its input sorted by key;\n"
"                       NONE: no reduce; aggregate: Hadoop's aggregate\n"
"                       reducer; or ...IdentityReducer\n"
"  -combiner CMD        a command run on each map output before the shuffle\n"
"  -numReduceTasks N    the number of partitions (0: no reduce)\n"
"  -file FILE           link FILE into the folder where the commands run\n"
"  -files F[#L],...     link each F there, named L\n"
"  -archives A[#L],...  unpack each archive (tar, zip...) into a folder there\n"
"  -D NAME=VALUE        a property; the commands see each as NAME with its\n"
"                       dots as _ (forkflow(1) lists those honoured)\n"
"  -conf FILE           properties from a Hadoop XML configuration file\n"
"  -cmdenv NAME=VALUE   an environment variable for the commands\n"
"  -inputformat CLASS   TextInputFormat, KeyValueTextInputFormat, or\n"
"                       NLineInputFormat (a mapper process per N lines)\n"
"  -outputformat CLASS  TextOutputFormat\n"
"  -partitioner CLASS   HashPartitioner, or KeyFieldBasedPartitioner with\n"
"                       -D mapreduce.partition.keypartitioner.options\n"
"  -lazyOutput          no part file for a partition without output\n"
"  -verbose, -v         log stages and workers\n"
"  -q                   as forkflow run's\n"
"\n"
"Exit status: 0 success, 1 the job failed at run time, 2 usage error or\n"
"invalid input.  See forkflow(1).\n";

/* What the command line says, before it becomes a program. */
struct hstream {
	struct run_opts	 ro;
	json_t		*inputs;	/* absolute paths */
	const char	*mapper;
	const char	*reducer;
	const char	*combiner;
	long		 nred;		/* -numReduceTasks, or -1 */
	json_t		*dprops;	/* -D, in order */
	json_t		*props;		/* -conf's, then -D's */
	json_t		*env;		/* -cmdenv, then the properties */
	char		**confs;
	size_t		 nconfs;
	const char	*inputformat;
	const char	*outputformat;
	const char	*partitioner;
	int		 kfpart;	/* KeyFieldBasedPartitioner */
	const char	*kf_sep;	/* the key-field properties */
	const char	*kf_part;
	const char	*kf_sort;
	const char	*kf_class;
	const char	*out_sep;	/* textoutputformat.separator */
	long		 nline;		/* NLineInputFormat's lines, or 0 */
	int		 ignore_key;	/* stream.map.input.ignoreKey: 1, 0, */
					/* -1: as the input format has it */
	json_t		*mapop;		/* the program's operators */
	json_t		*redop;
	json_t		*root;		/* the program */
};

/* What forkflow does with an option or property of Hadoop's. */
enum hwhat {
	H_HONOUR,	/* done as Hadoop does it */
	H_WARN,		/* no meaning on one machine: a warning */
	H_REFUSE,	/* forkflow cannot: an error */
};

static void	 hs_input(struct hstream *, const char *);
static void	 hs_ship(struct hstream *, const char *, int, int);
static json_t	*hs_command(struct hstream *, const char *, const char *);

/*
 * Take the value of the option at argv[*i]: step past both, or fail when
 * the value is missing.
 */
static const char *
hs_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		warnx("%s needs a value", argv[*i]);
		cmd_usage(cmd_streaming_synopsis, NULL, EXIT_USAGE);
	}
	*i += 2;
	return (argv[*i - 1]);
}

/* A Hadoop class name, with or without its package. */
static int
hs_class(const char *given, const char *simple)
{
	const char	*dot = strrchr(given, '.');

	return (strcmp(dot != NULL ? dot + 1 : given, simple) == 0 &&
	    (dot == NULL || strncmp(given, "org.apache.hadoop.", 18) == 0));
}

/*
 * Does cmd look like a Java class rather than a command: dotted names
 * ending in one with a capital (com.example.WordMapper), not a file?
 */
static int
hs_is_class(const char *cmd)
{
	const char	*last, *p;

	if (strchr(cmd, '.') == NULL || access(cmd, F_OK) == 0)
		return (0);
	for (p = cmd; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' &&
		    *p != '$')
			return (0);
	last = strrchr(cmd, '.') + 1;
	return (isupper((unsigned char)*last) ||
	    strncmp(cmd, "org.apache.hadoop.", 18) == 0);
}

/* The options that take no value, and those whose value is ignored. */
static int
hs_flag(struct hstream *h, int argc, char **argv, int *i)
{
	const char	*arg = argv[*i];

	if (strcmp(arg, "-lazyOutput") == 0)
		h->ro.lazy = 1;
	else if (strcmp(arg, "-verbose") == 0 || strcmp(arg, "-v") == 0)
		run_opts_short(&h->ro, 'v');
	else if (strcmp(arg, "-q") == 0)
		run_opts_short(&h->ro, 'q');
	else if (strcmp(arg, "-background") == 0 ||
	    strcmp(arg, "-debug") == 0)
		warnx("%s: means nothing to forkflow, ignored", arg);
	else if (strcmp(arg, "-mapdebug") == 0 ||
	    strcmp(arg, "-reducedebug") == 0 || strcmp(arg, "-libjars") == 0 ||
	    strcmp(arg, "-fs") == 0 || strcmp(arg, "-jt") == 0) {
		warnx("%s %s: means nothing on one machine without Java, "
		    "ignored (a failing task's standard error is in its log)",
		    arg, argv[*i + 1 < argc ? *i + 1 : *i]);
		(void)hs_value(argc, argv, i);
		return (0);
	} else
		return (-1);
	(*i)++;
	return (0);
}

/* -io: only text, which every other option takes for granted. */
static void
hs_io(const char *v)
{
	if (strcmp(v, "text") != 0)
		errx(EXIT_USAGE, "-io %s: forkflow's commands read and write "
		    "lines of text only (-io text)", v);
}

/* -cmdenv NAME=VALUE. */
static void
hs_setenv(struct hstream *h, const char *v)
{
	char	*name;

	if (strchr(v, '=') == NULL || *v == '=')
		errx(EXIT_USAGE, "-cmdenv wants NAME=VALUE: %s", v);
	name = xstrndup(v, (size_t)(strchr(v, '=') - v));
	json_object_set_new(h->env, name, json_string(strchr(v, '=') + 1));
	free(name);
}

/* Take the options of one word at argv[*i]; -1 if it is not one. */
static int
hs_option(struct hstream *h, int argc, char **argv, int *i)
{
	const char	*arg = argv[*i], *v;

	if (strcmp(arg, "-input") == 0)
		hs_input(h, hs_value(argc, argv, i));
	else if (strcmp(arg, "-output") == 0) {
		free(h->ro.output);
		h->ro.output = xstrdup(hs_value(argc, argv, i));
	} else if (strcmp(arg, "-mapper") == 0)
		h->mapper = hs_value(argc, argv, i);
	else if (strcmp(arg, "-reducer") == 0)
		h->reducer = hs_value(argc, argv, i);
	else if (strcmp(arg, "-combiner") == 0)
		h->combiner = hs_value(argc, argv, i);
	else if (strcmp(arg, "-numReduceTasks") == 0) {
		v = hs_value(argc, argv, i);
		h->nred = strcmp(v, "0") == 0 ? 0 :
		    (long)cmd_parse_count(v, "-numReduceTasks", PARTS_MAX);
	} else if (strcmp(arg, "-file") == 0)
		hs_ship(h, hs_value(argc, argv, i), 0, 0);
	else if (strcmp(arg, "-files") == 0)
		hs_ship(h, hs_value(argc, argv, i), 1, 0);
	else if (strcmp(arg, "-archives") == 0)
		hs_ship(h, hs_value(argc, argv, i), 1, 1);
	else if (strncmp(arg, "-D", 2) == 0) {
		v = arg[2] != '\0' ? (++*i, arg + 2) : hs_value(argc, argv, i);
		if (strchr(v, '=') == NULL || *v == '=')
			errx(EXIT_USAGE, "-D wants NAME=VALUE: %s", v);
		json_array_append_new(h->dprops, json_string(v));
	} else if (strcmp(arg, "-conf") == 0) {
		h->confs = xgrow(h->confs, h->nconfs,
		    sizeof *h->confs);
		h->confs[h->nconfs++] = (char *)hs_value(argc, argv, i);
	} else if (strcmp(arg, "-cmdenv") == 0) {
		hs_setenv(h, hs_value(argc, argv, i));
	} else if (strcmp(arg, "-inputformat") == 0)
		h->inputformat = hs_value(argc, argv, i);
	else if (strcmp(arg, "-outputformat") == 0)
		h->outputformat = hs_value(argc, argv, i);
	else if (strcmp(arg, "-partitioner") == 0)
		h->partitioner = hs_value(argc, argv, i);
	else if (strcmp(arg, "-io") == 0)
		hs_io(hs_value(argc, argv, i));
	else if (strcmp(arg, "-inputreader") == 0)
		errx(EXIT_USAGE, "-inputreader %s: forkflow reads lines of "
		    "text only", hs_value(argc, argv, i));
	else
		return (hs_flag(h, argc, argv, i));
	return (0);
}

/* One path of an -input, which must be there. */
static void
hs_input_path(struct hstream *h, const char *path)
{
	char	*abs;

	if ((abs = realpath(path, NULL)) == NULL)
		err(EXIT_USAGE, "-input %s", path);
	json_array_append_new(h->inputs, json_string(abs));
	free(abs);
}

/*
 * An -input: comma-separated paths, each a file, a folder or a glob (with
 * Hadoop's {a,b}); a glob that matches nothing is an error, as in Hadoop.
 */
static void
hs_input(struct hstream *h, const char *arg)
{
	glob_t		 g;
	char		*list, *p, *path, save;
	size_t		 i, depth = 0;

	list = xstrdup(arg);
	for (p = path = list;; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && depth > 0)
			depth--;
		if (!((*p == ',' && depth == 0) || *p == '\0'))
			continue;
		/* path ends here: take it. */
		save = *p;
		*p = '\0';
		if (strpbrk(path, "*?[{") != NULL) {
			if (glob(path, GLOB_BRACE, NULL, &g) != 0 ||
			    g.gl_pathc == 0)
				errx(EXIT_USAGE, "-input %s: the pattern "
				    "matches no file", path);
			for (i = 0; i < g.gl_pathc; i++)
				hs_input_path(h, g.gl_pathv[i]);
			globfree(&g);
		} else if (*path != '\0')
			hs_input_path(h, path);
		*p = save;
		if (*p == '\0')
			break;
		path = p + 1;
	}
	free(list);
}

/*
 * -file F, or -files and -archives with their lists "F[#LINK],...": each
 * a local path (file:// or none; another scheme is not on this machine).
 */
static void
hs_ship(struct hstream *h, const char *arg, int list, int archive)
{
	struct ship	*s;
	char		*copy, *item, *next, *hash, *abs, *base;

	copy = xstrdup(arg);
	for (item = copy; item != NULL; item = next) {
		next = list ? strchr(item, ',') : NULL;
		if (next != NULL)
			*next++ = '\0';
		hash = list ? strrchr(item, '#') : NULL;
		if (hash != NULL)
			*hash++ = '\0';
		if (strncmp(item, "file://", 7) == 0)
			item += 7;
		else if (strstr(item, "://") != NULL)
			errx(EXIT_USAGE, "%s: forkflow takes files of this "
			    "machine only", item);
		if ((abs = realpath(item, NULL)) == NULL)
			err(EXIT_USAGE, "%s", item);
		base = strrchr(abs, '/') + 1;
		if (hash != NULL && (*hash == '\0' || strchr(hash, '/') !=
		    NULL || strcmp(hash, ".") == 0 || strcmp(hash, "..") == 0))
			errx(EXIT_USAGE, "%s#%s: a link is a name without /",
			    item, hash);
		h->ro.ship = xgrow(h->ro.ship, h->ro.nship,
		    sizeof *h->ro.ship);
		s = &h->ro.ship[h->ro.nship++];
		s->path = abs;
		s->link = xstrdup(hash != NULL ? hash : base);
		s->archive = archive;
	}
	free(copy);
}

/* The name of a property as a variable of the commands': dots as _. */
static char *
hs_env_name(const char *prop)
{
	char	*s = xstrdup(prop), *p;

	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p))
			*p = '_';
	return (s);
}

/* A property's value as a count within [min, max]. */
static long
hs_count(const char *name, const char *v, long min, long max)
{
	char	*end;
	long	 n;

	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < min || n > max)
		errx(EXIT_USAGE, "-D %s=%s: must be a number from %ld to %ld",
		    name, v, min, max);
	return (n);
}

/* A separator property: its value, which must not be empty. */
static const char *
hs_sep(const char *name, const char *v)
{
	if (*v == '\0' || strchr(v, '\n') != NULL)
		errx(EXIT_USAGE, "-D %s: a separator is one character or "
		    "more, not a newline", name);
	return (v);
}

/* Hadoop 1's names of the properties below, and their Hadoop 2 names. */
static const char *const hs_old[][2] = {
	{ "mapred.reduce.tasks", "mapreduce.job.reduces" },
	{ "mapred.task.timeout", "mapreduce.task.timeout" },
	{ "mapred.job.name", "mapreduce.job.name" },
	{ "mapred.map.tasks", "mapreduce.job.maps" },
	{ "map.output.key.field.separator",
	    "mapreduce.map.output.key.field.separator" },
	{ "mapred.text.key.partitioner.options",
	    "mapreduce.partition.keypartitioner.options" },
	{ "mapred.text.key.comparator.options",
	    "mapreduce.partition.keycomparator.options" },
	{ "mapred.output.key.comparator.class",
	    "mapreduce.job.output.key.comparator.class" },
	{ "mapred.textoutputformat.separator",
	    "mapreduce.output.textoutputformat.separator" },
	{ "key.value.separator.in.input.line",
	    "mapreduce.input.keyvaluelinerecordreader.key.value.separator" },
	{ "mapred.line.input.format.linespermap",
	    "mapreduce.input.lineinputformat.linespermap" },
};

/*
 * Hadoop's properties that mean nothing on one machine, warned about: the
 * cluster's resources, its scheduling and its file system.
 */
static const char *const hs_cluster[] = {
	"mapreduce.job.maps", "mapreduce.map.memory.mb",
	"mapreduce.reduce.memory.mb", "mapreduce.map.java.opts",
	"mapreduce.reduce.java.opts", "mapreduce.job.queuename",
	"mapreduce.map.speculative", "mapreduce.reduce.speculative",
	"mapreduce.job.priority", "mapreduce.map.cpu.vcores",
	"mapreduce.reduce.cpu.vcores", "dfs.replication", "dfs.blocksize",
	"mapreduce.job.jvm.numtasks", "mapreduce.task.io.sort.mb",
	"mapreduce.task.io.sort.factor", "mapreduce.reduce.shuffle.parallelcopies",
	"mapreduce.job.ubertask.enable", "yarn.app.mapreduce.am.resource.mb",
	"mapreduce.framework.name", "fs.defaultFS", "mapreduce.jobtracker.address",
	NULL
};

/*
 * Act on one property: those forkflow honours go into the program, those
 * with no meaning here are warned about, those it cannot honour refused.
 * Every property is also in the commands' environment, as in Hadoop.
 */
static void
hs_property(struct hstream *h, const char *given, const char *v)
{
	const char	*name = given;
	char		*var;
	size_t		 i;

	for (i = 0; i < sizeof hs_old / sizeof hs_old[0]; i++)
		if (strcmp(given, hs_old[i][0]) == 0)
			name = hs_old[i][1];
	var = hs_env_name(given);
	json_object_set_new(h->env, var, json_string(v));
	if (strcmp(name, "mapreduce.job.reduces") == 0) {
		if (h->nred < 0)
			h->nred = hs_count(name, v, 0, PARTS_MAX);
	} else if (strcmp(name, "mapreduce.task.timeout") == 0)
		json_object_set_new(h->root, "taskTimeout",
		    json_integer(hs_count(name, v, 0, 1000000000L)));
	else if (strcmp(name, "stream.map.output.field.separator") == 0)
		json_object_set_new(h->mapop, "separator",
		    json_string(hs_sep(name, v)));
	else if (strcmp(name, "stream.num.map.output.key.fields") == 0)
		json_object_set_new(h->mapop, "keyFields",
		    json_integer(hs_count(name, v, 1, 1000)));
	else if (strcmp(name, "stream.reduce.output.field.separator") == 0) {
		if (h->redop != NULL)
			json_object_set_new(h->redop, "separator",
			    json_string(hs_sep(name, v)));
	} else if (strcmp(name, "stream.num.reduce.output.key.fields") == 0) {
		if (h->redop != NULL)
			json_object_set_new(h->redop, "keyFields",
			    json_integer(hs_count(name, v, 1, 1000)));
	} else if (strcmp(name, "stream.reduce.input.field.separator") == 0) {
		if (h->redop != NULL)
			json_object_set_new(h->redop, "inputSeparator",
			    json_string(hs_sep(name, v)));
	} else if (strcmp(name, "mapreduce.job.name") == 0)
		log_debug("job name %s", v);
	else if (strcmp(name, "mapreduce.output.textoutputformat.separator") ==
	    0)
		h->out_sep = hs_sep(name, v);
	else if (strcmp(name, "stream.map.input.field.separator") == 0 ||
	    strcmp(name, "mapreduce.input.keyvaluelinerecordreader."
	    "key.value.separator") == 0) {
		if (strcmp(v, "\t") != 0)
			errx(EXIT_USAGE, "-D %s: forkflow's lines have a tab "
			    "there, not %s", given, v);
	} else if (strcmp(name, "mapreduce.map.output.key.field.separator") ==
	    0)
		h->kf_sep = v;
	else if (strcmp(name, "mapreduce.partition.keypartitioner.options") ==
	    0)
		h->kf_part = v;
	else if (strcmp(name, "mapreduce.partition.keycomparator.options") ==
	    0)
		h->kf_sort = v;
	else if (strcmp(name, "mapreduce.job.output.key.comparator.class") ==
	    0)
		h->kf_class = v;
	else if (strcmp(name, "mapreduce.input.lineinputformat.linespermap") ==
	    0)
		h->nline = hs_count(name, v, 1, 1000000000L);
	else if (strcmp(name, "stream.map.input.ignoreKey") == 0)
		h->ignore_key = strcmp(v, "true") == 0;
	else if (strcmp(name, "stream.map.input") == 0 ||
	    strcmp(name, "stream.map.output") == 0 ||
	    strcmp(name, "stream.reduce.input") == 0 ||
	    strcmp(name, "stream.reduce.output") == 0)
		hs_io(v);
	else {
		for (i = 0; hs_cluster[i] != NULL; i++)
			if (strcmp(name, hs_cluster[i]) == 0)
				break;
		if (hs_cluster[i] != NULL)
			warnx("-D %s: means nothing on one machine, ignored",
			    given);
		else
			warnx("-D %s: not a property forkflow acts on; the "
			    "commands see it as $%s", given, var);
	}
	free(var);
}

/* -conf files, then -D (which win), each acted on. */
static void
hs_properties(struct hstream *h)
{
	const char	*name, *eq;
	json_t		*v;
	char		*cause, *n;
	size_t		 i;

	for (i = 0; i < h->nconfs; i++)
		if (hconf_read(h->confs[i], h->props, &cause) != 0)
			errx(EXIT_USAGE, "-conf %s", cause);
	for (i = 0; i < json_array_size(h->dprops); i++) {
		name = json_string_value(json_array_get(h->dprops, i));
		eq = strchr(name, '=');
		n = xstrndup(name, (size_t)(eq - name));
		json_object_set_new(h->props, n, json_string(eq + 1));
		free(n);
	}
	json_object_foreach(h->props, name, v)
		hs_property(h, name, json_string_value(v));
}

/* -inputformat, -outputformat, -partitioner: the classes forkflow is. */
static void
hs_classes(struct hstream *h)
{
	if (h->inputformat != NULL && !hs_class(h->inputformat,
	    "TextInputFormat") && !hs_class(h->inputformat,
	    "KeyValueTextInputFormat") && !hs_class(h->inputformat,
	    "NLineInputFormat"))
		errx(EXIT_USAGE, "-inputformat %s: forkflow reads text "
		    "(TextInputFormat, KeyValueTextInputFormat, "
		    "NLineInputFormat)", h->inputformat);
	if (h->outputformat != NULL && !hs_class(h->outputformat,
	    "TextOutputFormat"))
		errx(EXIT_USAGE, "-outputformat %s: forkflow writes text "
		    "(TextOutputFormat)", h->outputformat);
	if (h->partitioner != NULL && hs_class(h->partitioner,
	    "KeyFieldBasedPartitioner"))
		h->kfpart = 1;
	else if (h->partitioner != NULL && !hs_class(h->partitioner,
	    "HashPartitioner"))
		errx(EXIT_USAGE, "-partitioner %s: forkflow partitions by a "
		    "hash of the key (HashPartitioner) or of some of its "
		    "fields (KeyFieldBasedPartitioner)", h->partitioner);
}

/*
 * The secondary sort: KeyFieldBasedComparator's options order the
 * reducer's input, KeyFieldBasedPartitioner's choose its partition, both
 * on the key cut at mapreduce.map.output.key.field.separator; as in
 * Hadoop, each set of options counts only with its class.
 */
static void
hs_keyorder(struct hstream *h)
{
	int	sort = 0;

	if (h->kf_class != NULL) {
		if (!hs_class(h->kf_class, "KeyFieldBasedComparator"))
			errx(EXIT_USAGE, "-D mapreduce.job.output.key."
			    "comparator.class=%s: forkflow sorts keys as bytes, "
			    "or by their fields (KeyFieldBasedComparator)",
			    h->kf_class);
		sort = 1;
	}
	if (h->kf_sort != NULL && !sort)
		warnx("-D mapreduce.partition.keycomparator.options: taken "
		    "only with mapreduce.job.output.key.comparator.class="
		    "KeyFieldBasedComparator, as in Hadoop; ignored");
	if (h->kf_part != NULL && !h->kfpart)
		warnx("-D mapreduce.partition.keypartitioner.options: taken "
		    "only with -partitioner KeyFieldBasedPartitioner, as in "
		    "Hadoop; ignored");
	if (!sort && !h->kfpart)
		return;
	if (h->redop == NULL) {
		warnx("the key-field comparator and partitioner order a "
		    "reducer's input; this job has none: ignored");
		return;
	}
	json_object_set_new(h->redop, "keyFieldSeparator", json_string(
	    h->kf_sep != NULL ? h->kf_sep : "\t"));
	/* Without options, the whole key, as bytes. */
	json_object_set_new(h->redop, "sortKeys", json_string(sort &&
	    h->kf_sort != NULL ? h->kf_sort : ""));
	json_object_set_new(h->redop, "partitionKeys", json_string(
	    h->kfpart && h->kf_part != NULL ? h->kf_part : ""));
}

/* The path of this program, for the commands that stand for classes. */
static char *
hs_self(void)
{
	char	*self;

	if ((self = realpath("/proc/self/exe", NULL)) == NULL)
		err(EXIT_JOB_FAILED, "/proc/self/exe");
	return (self);
}

/* Hadoop's aggregate reducer or combiner, by either of its names. */
static int
hs_is_aggregate(const char *cmd)
{
	return (strcmp(cmd, "aggregate") == 0 || hs_class(cmd,
	    "ValueAggregatorReducer") || hs_class(cmd,
	    "ValueAggregatorCombiner"));
}

/*
 * A -mapper, -reducer or -combiner: a command, or one of the classes of
 * Hadoop's that forkflow has (IdentityMapper, IdentityReducer, aggregate).
 * A command whose first word names a file shipped with -file runs that
 * file from the work folder, as in Hadoop.
 */
static json_t *
hs_command(struct hstream *h, const char *cmd, const char *role)
{
	json_t		*a;
	const char	*link;
	char		*self;
	size_t		 i, n;

	if (hs_class(cmd, "IdentityMapper") || hs_class(cmd,
	    "IdentityReducer")) {
		a = json_array();
		json_array_append_new(a, json_string("cat"));
		return (a);
	}
	if (hs_is_aggregate(cmd)) {
		self = hs_self();
		a = json_array();
		json_array_append_new(a, json_string(self));
		json_array_append_new(a, json_string("builtin"));
		json_array_append_new(a, json_string("aggregate"));
		if (strcmp(role, "combiner") == 0)
			json_array_append_new(a, json_string("--combine"));
		free(self);
		return (a);
	}
	if (hs_is_class(cmd))
		errx(EXIT_USAGE, "-%s %s: a Java class forkflow does not "
		    "have; give a command", role, cmd);
	n = strcspn(cmd, " \t");
	for (i = 0; i < h->ro.nship; i++) {
		link = h->ro.ship[i].link;
		if (strlen(link) == n && strncmp(cmd, link, n) == 0)
			return (json_sprintf("./%s", cmd));
	}
	return (json_string(cmd));
}

/*
 * A command of hs_command() as /bin/sh runs it, which a combiner must be:
 * a list's words quoted and joined.
 */
static json_t *
hs_shell(json_t *cmd)
{
	struct buf	 b;
	const char	*w;
	json_t		*s;
	size_t		 i;

	if (json_is_string(cmd))
		return (cmd);
	memset(&b, 0, sizeof b);
	for (i = 0; i < json_array_size(cmd); i++) {
		if (i > 0)
			buf_add(&b, " ", 1);
		buf_add(&b, "'", 1);
		for (w = json_string_value(json_array_get(cmd, i)); *w != '\0';
		    w++) {
			if (*w == '\'')
				buf_add(&b, "'\\''", 4);
			else
				buf_add(&b, w, 1);
		}
		buf_add(&b, "'", 1);
	}
	s = json_stringn(b.data, b.len);
	buf_free(&b);
	json_decref(cmd);
	return (s);
}

/* Write the program the command line makes. */
static void
hs_program(struct hstream *h)
{
	json_t		*o, *ops;
	const char	*comb;
	int		 kv;

	o = json_object();
	json_object_set_new(o, "path", h->inputs);
	json_object_set_new(o, "format", json_string("text"));
	json_object_set_new(h->root, "input", o);
	o = json_object();
	json_object_set_new(o, "format", json_string("tsv"));
	if (h->out_sep != NULL && strcmp(h->out_sep, "\t") != 0)
		json_object_set_new(o, "separator", json_string(h->out_sep));
	/* A map-only job keeps each map task's order, as Hadoop's does, and
	 * its commands see no reduce. */
	if (h->redop == NULL) {
		json_object_set_new(o, "order", json_string("input"));
		json_object_set_new(h->env, "mapreduce_job_reduces",
		    json_string("0"));
	}
	json_object_set_new(h->root, "output", o);
	ops = json_array();
	/* NLineInputFormat: a map task per so many lines of a file (1 by
	 * default), whose mapper sees each line after its byte offset, as
	 * for any format but TextInputFormat. */
	if (h->inputformat != NULL && hs_class(h->inputformat,
	    "NLineInputFormat"))
		json_object_set_new(h->mapop, "linesPerProcess",
		    json_integer(h->nline > 0 ? h->nline : 1));
	kv = h->inputformat != NULL && hs_class(h->inputformat,
	    "KeyValueTextInputFormat");
	if (kv && h->ignore_key == 1)
		errx(EXIT_USAGE, "-D stream.map.input.ignoreKey=true: forkflow "
		    "gives KeyValueTextInputFormat's mapper the whole line");
	if (!kv && (h->ignore_key == 0 || (h->ignore_key == -1 &&
	    h->inputformat != NULL && hs_class(h->inputformat,
	    "NLineInputFormat"))))
		json_object_set_new(h->mapop, "inputKey",
		    json_string("offset"));
	json_object_set_new(h->mapop, "operator", json_string("mapper"));
	json_object_set_new(h->mapop, "command", hs_command(h, h->mapper,
	    "mapper"));
	json_array_append(ops, h->mapop);
	if (h->redop != NULL) {
		json_object_set_new(h->redop, "operator",
		    json_string("reducer"));
		json_object_set_new(h->redop, "command", hs_command(h,
		    h->reducer, "reducer"));
		/* Hadoop gives aggregate its combiner. */
		comb = h->combiner;
		if (comb == NULL && hs_is_aggregate(h->reducer))
			comb = "aggregate";
		if (comb != NULL)
			json_object_set_new(h->redop, "combiner",
			    hs_shell(hs_command(h, comb, "combiner")));
		json_array_append(ops, h->redop);
	}
	json_object_set_new(h->root, "operations", ops);
	if (json_object_size(h->env) > 0)
		json_object_set(h->root, "environment", h->env);
}

/*
 * forkflow streaming: Hadoop Streaming's own options, so that a Hadoop
 * Streaming job runs as it is.  The job is written as a program into the
 * job directory, and run as `forkflow run` runs one; options of run's,
 * such as --job-dir or --keep, are taken as run takes them.  The same
 * command with the same --job-dir resumes the job.
 */
int
cmd_streaming(int argc, char **argv)
{
	struct hstream	 h;
	const char	*arg;
	int		 i, status;

	memset(&h, 0, sizeof h);
	run_opts_init(&h.ro);
	h.ro.streaming = 1;
	h.ro.argc = argc;
	h.ro.argv = argv;
	h.nred = -1;
	h.ignore_key = -1;
	h.inputs = json_array();
	h.dprops = json_array();
	h.props = json_object();
	h.env = json_object();
	h.root = json_object();
	for (i = 1; i < argc;) {
		arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-help") == 0 ||
		    strcmp(arg, "-info") == 0) {
			printf("usage: %s\n\n%s\nThe options of forkflow run "
			    "are taken too:\n\n%s", cmd_streaming_synopsis,
			    cmd_streaming_help, run_options_help);
			exit(0);
		}
		if (run_opts_long(&h.ro, argc, argv, &i) == 0)
			continue;
		if (hs_option(&h, argc, argv, &i) != 0) {
			warnx("unknown option %s", arg);
			cmd_usage(cmd_streaming_synopsis, NULL, EXIT_USAGE);
		}
	}
	if (json_array_size(h.inputs) == 0 || h.ro.output == NULL ||
	    h.mapper == NULL) {
		warnx("streaming needs -input, -output and -mapper");
		cmd_usage(cmd_streaming_synopsis, NULL, EXIT_USAGE);
	}
	h.mapop = json_object();
	/* Hadoop's spelling of a job without reduce. */
	if (h.reducer != NULL && strcmp(h.reducer, "NONE") == 0)
		h.reducer = NULL;
	hs_classes(&h);
	/* The reducer's object first, for the properties to fill. */
	if (h.reducer != NULL)
		h.redop = json_object();
	hs_properties(&h);
	if (h.nred == 0 && h.redop != NULL) {
		json_decref(h.redop);
		h.redop = NULL;
	}
	hs_keyorder(&h);
	if (h.nred > 0 && h.ro.parts == 0)
		h.ro.parts = (unsigned int)h.nred;
	hs_program(&h);
	h.ro.gen = json_dumps(h.root, JSON_INDENT(2));

	json_decref(h.root);
	json_decref(h.mapop);
	json_decref(h.redop);
	json_decref(h.dprops);
	json_decref(h.props);
	json_decref(h.env);
	free(h.confs);
	status = run_job(&h.ro);
	run_opts_free(&h.ro);
	return (status);
}
