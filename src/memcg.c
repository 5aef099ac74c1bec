/* forkflow: see LICENSE. */
/*
 * What the kernel says about this process's memory: its memory cgroup (v1
 * or v2, whichever the machine has) and how many processes the kernel has
 * killed for want of memory.  The supervisor tells a worker killed by the
 * OOM killer from one that crashed: it is no record's fault.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"

/*
 * The folder of this process's memory cgroup, or NULL: from
 * /proc/self/cgroup, the v1 "memory" controller's line, else the v2 line
 * "0::PATH", under /sys/fs/cgroup (or /sys/fs/cgroup/unified on a hybrid
 * machine).  *v2 says which.
 */
char *
memcg_dir(int *v2)
{
	FILE	*f;
	char	 line[4096], *path = NULL, *p, *ctl, *dir, *s;
	size_t	 len;

	if ((f = fopen("/proc/self/cgroup", "r")) == NULL)
		return (NULL);
	while (fgets(line, sizeof line, f) != NULL) {
		if ((len = strlen(line)) > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		if ((ctl = strchr(line, ':')) == NULL ||
		    (p = strchr(ctl + 1, ':')) == NULL)
			continue;
		*p++ = '\0';
		ctl++;
		if (*ctl == '\0' && path == NULL) {
			path = xstrdup(p);
			*v2 = 1;
			continue;
		}
		for (s = strtok(ctl, ","); s != NULL; s = strtok(NULL, ",")) {
			if (strcmp(s, "memory") == 0) {
				free(path);
				path = xstrdup(p);
				*v2 = 0;
				break;
			}
		}
		if (path != NULL && !*v2)
			break;
	}
	fclose(f);
	if (path == NULL)
		return (NULL);
	if (!*v2)
		xasprintf(&dir, "/sys/fs/cgroup/memory%s", path);
	else {
		xasprintf(&dir, "/sys/fs/cgroup/unified%s", path);
		if (access(dir, F_OK) != 0) {
			free(dir);
			xasprintf(&dir, "/sys/fs/cgroup%s", path);
		}
	}
	free(path);
	if (access(dir, F_OK) != 0) {
		free(dir);
		return (NULL);
	}
	return (dir);
}

/* The number after "name " on a line of a file of such lines, or -1. */
static int64_t
file_field(const char *path, const char *name)
{
	FILE		*f;
	char		 line[256];
	size_t		 n = strlen(name);
	long long	 v = -1;

	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, name, n) == 0 && line[n] == ' ') {
			v = strtoll(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return (v);
}

/*
 * Processes the kernel has killed for want of memory: in this process's
 * memory cgroup when it counts them (memory.events or memory.oom_control),
 * else in the whole system (/proc/vmstat).  *cgroup says which.
 */
uint64_t
memcg_oom_kills(int *cgroup)
{
	char	*dir, *path;
	int64_t	 n = -1;
	int	 v2 = 0;

	*cgroup = 0;
	if ((dir = memcg_dir(&v2)) != NULL) {
		xasprintf(&path, "%s/%s", dir, v2 ? "memory.events" :
		    "memory.oom_control");
		n = file_field(path, "oom_kill");
		free(path);
		free(dir);
		if (n >= 0)
			*cgroup = 1;
	}
	if (n < 0)
		n = file_field("/proc/vmstat", "oom_kill");
	return (n < 0 ? 0 : (uint64_t)n);
}
