/* forkflow: see LICENSE. */
/*
 * Checkpoint files and status pages: small files in the job directory that
 * a worker maps MAP_SHARED.  The pages of such a mapping belong to the file,
 * not to the process, so what a worker stored survives its death without
 * any system call.
 *
 * A checkpoint file holds two slots written alternately, as LMDB writes its
 * meta pages: the slot of generation g is g % 2, and each carries a
 * checksum over its contents.  A reader takes the valid slot with the
 * higher generation, so a write torn by a crash falls back one generation
 * and never yields a state that was not published.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "forkflow.h"


static uint64_t
ckpt_sum(const struct ckpt_state *s)
{
	return (XXH3_64bits(s, offsetof(struct ckpt_state, checksum)));
}

/* Open (creating) the checkpoint file of a partition. */
struct ckpt *
ckpt_open(const char *path, unsigned int partition, uint64_t job_id)
{
	struct ckpt	*c;

	c = xcalloc(1, sizeof *c);
	c->slots = map_shared_file(path, 2 * CKPT_SLOTSIZE, 1);
	if (c->slots == NULL) {
		free(c);
		return (NULL);
	}
	c->partition = partition;
	c->job_id = job_id;
	return (c);
}

void
ckpt_close(struct ckpt *c)
{
	if (c == NULL)
		return;
	munmap(c->slots, 2 * CKPT_SLOTSIZE);
	free(c);
}

/* Is slot s a valid state of this job and partition? */
static int
ckpt_valid(const struct ckpt *c, const struct ckpt_state *s)
{
	return (memcmp(s->magic, CKPT_MAGIC, sizeof s->magic) == 0 &&
	    s->version == CKPT_VERSION && s->partition == c->partition &&
	    s->job_id == c->job_id && s->checksum == ckpt_sum(s));
}

/*
 * Load the newest valid state.  Returns 1 and fills *out, or 0 when no
 * slot is valid (a new file, or both slots damaged: start afresh).
 */
int
ckpt_load(const struct ckpt *c, struct ckpt_state *out)
{
	struct ckpt_state	a, b;
	int			va, vb;

	memcpy(&a, c->slots, sizeof a);
	memcpy(&b, (char *)c->slots + CKPT_SLOTSIZE, sizeof b);
	va = ckpt_valid(c, &a);
	vb = ckpt_valid(c, &b);
	if (!va && !vb)
		return (0);
	if (va && (!vb || a.generation > b.generation))
		*out = a;
	else
		*out = b;
	return (1);
}

/* The generation the next ckpt_publish() will write. */
uint64_t
ckpt_next_generation(const struct ckpt *c)
{
	struct ckpt_state	old;

	return (ckpt_load(c, &old) ? old.generation + 1 : 1);
}

/*
 * Publish a new state: the next generation, into the slot the previous
 * one did not use.  With durable, msync it to the disk.
 */
int
ckpt_publish(struct ckpt *c, struct ckpt_state *s, int durable)
{
	struct ckpt_state	old;
	char			*slot;

	if (ckpt_load(c, &old))
		s->generation = old.generation + 1;
	else
		s->generation = 1;
	memcpy(s->magic, CKPT_MAGIC, sizeof s->magic);
	s->version = CKPT_VERSION;
	s->partition = c->partition;
	s->job_id = c->job_id;
	s->checksum = ckpt_sum(s);
	slot = (char *)c->slots + (s->generation % 2) * CKPT_SLOTSIZE;
	memcpy(slot, s, sizeof *s);
	if (durable && msync(c->slots, 2 * CKPT_SLOTSIZE, MS_SYNC) != 0)
		return (-1);
	return (0);
}
