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

/* A file that holds one number, or "max"; UINT64_MAX for "max" or none. */
static uint64_t
file_number(const char *path)
{
	FILE			*f;
	char			 line[64];
	unsigned long long	 v;
	char			*end;

	if ((f = fopen(path, "r")) == NULL)
		return (UINT64_MAX);
	if (fgets(line, sizeof line, f) == NULL) {
		fclose(f);
		return (UINT64_MAX);
	}
	fclose(f);
	errno = 0;
	v = strtoull(line, &end, 10);
	if (end == line || errno != 0)
		return (UINT64_MAX);
	return ((uint64_t)v);
}

/*
 * The memory this process's cgroup may use, or UINT64_MAX when it has no
 * limit.  In v2 a cgroup is held by the least memory.max of it and its
 * ancestors; v1 says so itself in memory.stat
 * (hierarchical_memory_limit), and writes "no limit" as a huge number.
 */
uint64_t
memcg_limit(void)
{
	char		*dir, *path, *slash;
	uint64_t	 lim = UINT64_MAX, v;
	int64_t		 h;
	int		 v2 = 0;

	if ((dir = memcg_dir(&v2)) == NULL)
		return (UINT64_MAX);
	if (!v2) {
		xasprintf(&path, "%s/memory.stat", dir);
		h = file_field(path, "hierarchical_memory_limit");
		free(path);
		if (h > 0)
			lim = (uint64_t)h;
		else {
			xasprintf(&path, "%s/memory.limit_in_bytes", dir);
			lim = file_number(path);
			free(path);
		}
	} else {
		for (;;) {
			xasprintf(&path, "%s/memory.max", dir);
			v = file_number(path);
			free(path);
			if (v < lim)
				lim = v;
			if ((slash = strrchr(dir, '/')) == NULL ||
			    strcmp(dir, "/sys/fs/cgroup") == 0 ||
			    strcmp(dir, "/sys/fs/cgroup/unified") == 0)
				break;
			*slash = '\0';
		}
	}
	free(dir);
	/* v1's "unlimited" is about INT64_MAX rounded to a page. */
	if (lim >= (uint64_t)1 << 60)
		lim = UINT64_MAX;
	return (lim);
}

/* The machine's physical memory, in bytes (0 if unknown). */
uint64_t
mem_physical(void)
{
	long	pages = sysconf(_SC_PHYS_PAGES);
	long	size = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || size <= 0)
		return (0);
	return ((uint64_t)pages * (uint64_t)size);
}

/*
 * The default memory budget of a job's workers together: half of the
 * physical memory, or of the cgroup's limit where it is less.
 */
uint64_t
mem_default_budget(void)
{
	uint64_t	phys = mem_physical(), lim = memcg_limit();

	if (phys == 0 || lim < phys)
		phys = lim;
	if (phys == UINT64_MAX)
		phys = (uint64_t)1 << 30;	/* nothing says: 1 GiB */
	return (phys / 2);
}
