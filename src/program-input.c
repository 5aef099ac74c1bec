/* forkflow: see LICENSE. */
/*
 * Inputs: find the files a program reads.  Those named on the command line
 * are taken as given; those the program names are looked for beside it
 * first.  A folder stands for the regular files in it.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"

static int	 add_input(struct program *, const char *, char **);
static char	*find_input(const struct program *, const char *);

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
						p->inputs = xgrow(p->inputs, p->ninputs,
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
	p->inputs = xgrow(p->inputs, p->ninputs,
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
