/* forkflow: see LICENSE. */
/*
 * A worker's counters for the stage it runs: the streaming commands' own,
 * from reporter:counter:GROUP,NAME,N lines, named "GROUP,NAME", and the
 * worker's (records into each operator, records and bytes of the stage,
 * CPU time), named after COUNTER_OWN.  They are saved with each checkpoint
 * (counters_save) and loaded back on resume, so that work done twice is
 * counted once.
 *
 * A program may have many operators, each with its counter: the table is
 * an open-addressing hash table on the name, so that setting all of them
 * at a checkpoint costs time in proportion to their number.
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "forkflow.h"

struct counter {
	char		*name;		/* "GROUP,NAME"; NULL: an empty slot */
	size_t		 len;
	uint64_t	 hash;
	int64_t		 value;
};

static struct counter	*counters;
static size_t		 cap;		/* slots, a power of two */
static size_t		 used;

/* The slot of a name: where it is, or the empty one where it would go. */
static struct counter *
counters_slot(const char *name, size_t len, uint64_t h)
{
	size_t	i = (size_t)h & (cap - 1);

	while (counters[i].name != NULL && (counters[i].hash != h ||
	    counters[i].len != len || memcmp(counters[i].name, name,
	    len) != 0))
		i = (i + 1) & (cap - 1);
	return (&counters[i]);
}

/* Double the table (or make it). */
static void
counters_grow(void)
{
	struct counter	*old = counters, *c;
	size_t		 oldcap = cap, i;

	cap = cap == 0 ? 64 : cap * 2;
	counters = xcalloc(cap, sizeof *counters);
	for (i = 0; i < oldcap; i++) {
		if (old[i].name == NULL)
			continue;
		c = counters_slot(old[i].name, old[i].len, old[i].hash);
		*c = old[i];
	}
	free(old);
}

/* Find a counter, making it (at 0) if make. */
static struct counter *
counters_find(const char *name, size_t len, int make)
{
	struct counter	*c;
	uint64_t	 h = XXH3_64bits(name, len);

	if (cap == 0) {
		if (!make)
			return (NULL);
		counters_grow();
	}
	c = counters_slot(name, len, h);
	if (c->name != NULL || !make)
		return (c->name != NULL ? c : NULL);
	if (2 * (used + 1) > cap) {
		counters_grow();
		c = counters_slot(name, len, h);
	}
	c->name = xstrndup(name, len);
	c->len = len;
	c->hash = h;
	c->value = 0;
	used++;
	return (c);
}

/* Add n to a counter (wrapping around, as every sum here does). */
void
counters_add(const char *name, size_t len, int64_t n)
{
	struct counter	*c = counters_find(name, len, 1);

	c->value = (int64_t)((uint64_t)c->value + (uint64_t)n);
}

/* Set a counter to a value (the worker's own, named after COUNTER_OWN). */
void
counters_set(const char *name, int64_t n)
{
	counters_find(name, strlen(name), 1)->value = n;
}

/* A counter's value, 0 if there is none. */
int64_t
counters_get(const char *name)
{
	struct counter	*c = counters_find(name, strlen(name), 0);

	return (c != NULL ? c->value : 0);
}

void
counters_clear(void)
{
	size_t	i;

	for (i = 0; i < cap; i++)
		free(counters[i].name);
	free(counters);
	counters = NULL;
	cap = used = 0;
}

/*
 * Write the counters to path, as "GROUP,NAME<TAB>N" lines, and a last
 * line "#xxh3 SUM" of what comes before it, through a temporary file.
 * Returns 0 or -1.
 */
int
counters_save(const char *path)
{
	char	*tmp, *text = NULL, *line;
	size_t	 i, len = 0, room = 0;
	int	 fd, n, r = -1;

	/* A program may have a hundred thousand operators: the text
	 * grows by doubling, and the loop shows it moves. */
	for (i = 0; i < cap; i++) {
		if (counters[i].name == NULL)
			continue;
		n = xasprintf(&line, "%s\t%lld\n", counters[i].name,
		    (long long)counters[i].value);
		if (len + (size_t)n + 1 > room) {
			room = (len + (size_t)n + 1) * 2;
			text = xreallocarray(text, room, 1);
		}
		memcpy(text + len, line, (size_t)n);
		len += (size_t)n;
		free(line);
		if ((i & 0xfff) == 0)
			progress();
	}
	n = xasprintf(&line, "#xxh3 %016llx\n",
	    (unsigned long long)XXH3_64bits(text, len));
	xasprintf(&tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) != -1) {
		if (write_all(fd, text, len) == 0 &&
		    write_all(fd, line, (size_t)n) == 0)
			r = 0;
		if (close(fd) != 0 || (r == 0 && rename(tmp, path) != 0))
			r = -1;
	}
	free(line);
	free(text);
	free(tmp);
	return (r);
}

/*
 * Add the counters of a file written by counters_save().  Returns 0, or
 * -1 if it cannot be read or fails its check (then none is added).
 */
int
counters_load(const char *path)
{
	FILE			*f;
	char			*text = NULL, *p, *end, *nl, *tab;
	size_t			 len = 0, cap0 = 0, n;
	char			 chunk[4096];
	unsigned long long	 sum;

	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (len + n + 1 > cap0) {
			cap0 = (len + n + 1) * 2;
			text = xreallocarray(text, cap0, 1);
		}
		memcpy(text + len, chunk, n);
		len += n;
	}
	if (ferror(f) || len == 0) {
		fclose(f);
		free(text);
		return (-1);
	}
	fclose(f);
	text[len] = '\0';
	/* The last line is the sum of all before it. */
	if (text[len - 1] != '\n')
		goto bad;
	text[len - 1] = '\0';
	if ((p = strrchr(text, '\n')) == NULL)
		p = text;
	else
		p++;
	if (sscanf(p, "#xxh3 %llx", &sum) != 1 ||
	    XXH3_64bits(text, (size_t)(p - text)) != sum)
		goto bad;
	end = p;
	for (p = text; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		*nl = '\0';
		if ((tab = strchr(p, '\t')) != NULL)
			counters_add(p, (size_t)(tab - p),
			    strtoll(tab + 1, NULL, 10));
	}
	free(text);
	return (0);

bad:
	free(text);
	return (-1);
}

static int
counter_cmp(const void *a, const void *b)
{
	const struct counter	*x = *(const struct counter * const *)a;
	const struct counter	*y = *(const struct counter * const *)b;

	return (strcmp(x->name, y->name));
}

/*
 * The streaming commands' counters, in the order of their names (the
 * worker's own, after COUNTER_OWN, are passed over): fn is called with
 * each name and value.
 */
void
counters_user(void (*fn)(void *, const char *, int64_t), void *arg)
{
	struct counter	**v;
	size_t		  i, n = 0;

	v = xcalloc(used + 1, sizeof *v);
	for (i = 0; i < cap; i++) {
		if (counters[i].name != NULL &&
		    counters[i].name[0] != COUNTER_OWN[0])
			v[n++] = &counters[i];
	}
	qsort(v, n, sizeof *v, counter_cmp);
	for (i = 0; i < n; i++)
		fn(arg, v[i]->name, v[i]->value);
	free(v);
}
