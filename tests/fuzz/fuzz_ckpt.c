/* forkflow: see LICENSE. */
/*
 * libFuzzer harness for checkpoint.c.  The input is a control byte and the
 * bytes of a checkpoint file, of any length.  The control byte can ask for
 * the checksum of either slot to be made right, and chooses the partition
 * and job the file is opened for, so that valid slots are not left to luck.
 *
 * ckpt_load() must never take a slot whose magic, version, partition, job
 * or checksum is wrong; it must take the valid slot of the higher
 * generation, byte for byte as the file has it, and report none when no
 * slot is valid.  A state published next must then be the one loaded.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "forkflow.h"
#include "fuzz_util.h"

/* As checkpoint.c has them. */
#define CKPT_MAGIC	"FFCKPT3"
#define CKPT_VERSION	3
#define CKPT_SLOTSIZE	512
#define CKPT_FILESIZE	(2 * CKPT_SLOTSIZE)

/* The control byte. */
#define CTL_SUM0	0x01	/* make slot 0's checksum right */
#define CTL_SUM1	0x02	/* and slot 1's */
#define CTL_IDS1	0x04	/* partition and job from slot 1, not 0 */
#define CTL_OTHERJOB	0x08	/* then a job one off */

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint64_t		slot_sum(const struct ckpt_state *);
static int		slot_valid(const struct ckpt_state *, unsigned int,
			    uint64_t);

static const char	*fuzz_path;

/* Make the scratch folder and name its files. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_scratch();
	fuzz_path = fuzz_file("ckpt");
	return (0);
}

/* The checksum a slot should carry, computed here and not by checkpoint.c. */
static uint64_t
slot_sum(const struct ckpt_state *s)
{
	return (XXH3_64bits(s, offsetof(struct ckpt_state, checksum)));
}

static int
slot_valid(const struct ckpt_state *s, unsigned int part, uint64_t job)
{
	return (memcmp(s->magic, CKPT_MAGIC, sizeof s->magic) == 0 &&
	    s->version == CKPT_VERSION && s->partition == part &&
	    s->job_id == job && s->checksum == slot_sum(s));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ckpt		*c;
	struct ckpt_state	 slot[2], got, pub, again;
	uint8_t			*file;
	size_t			 len, flen;
	uint64_t		 job;
	unsigned int		 part, i;
	uint8_t			 ctl;
	int			 valid[2], want, r;

	ctl = size > 0 ? data[0] : 0;
	len = size > 0 ? size - 1 : 0;
	flen = len > CKPT_FILESIZE ? len : CKPT_FILESIZE;
	file = xcalloc(flen, 1);	/* as ckpt_open() grows it: zeros */
	if (len > 0)
		memcpy(file, data + 1, len);

	for (i = 0; i < 2; i++) {
		if (ctl & (CTL_SUM0 << i)) {
			memcpy(&slot[i], file + i * CKPT_SLOTSIZE,
			    sizeof slot[i]);
			slot[i].checksum = slot_sum(&slot[i]);
			memcpy(file + i * CKPT_SLOTSIZE, &slot[i],
			    sizeof slot[i]);
		}
	}
	/* A short file stays short, unless a checksum was made right. */
	fuzz_write_file(fuzz_path, file, (ctl & (CTL_SUM0 | CTL_SUM1)) ? flen : len);

	for (i = 0; i < 2; i++)
		memcpy(&slot[i], file + i * CKPT_SLOTSIZE, sizeof slot[i]);
	i = (ctl & CTL_IDS1) ? 1 : 0;
	part = slot[i].partition;
	job = slot[i].job_id ^ ((ctl & CTL_OTHERJOB) ? 1 : 0);

	if ((c = ckpt_open(fuzz_path, part, job)) == NULL)
		fuzz_fail("ckpt_open: %s", strerror(errno));
	for (i = 0; i < 2; i++)
		valid[i] = slot_valid(&slot[i], part, job);
	if (!valid[0] && !valid[1])
		want = -1;
	else if (valid[0] && (!valid[1] ||
	    slot[0].generation > slot[1].generation))
		want = 0;
	else
		want = 1;

	memset(&got, 0xa5, sizeof got);
	r = ckpt_load(c, &got);
	if (r != 0 && r != 1)
		fuzz_fail("ckpt_load gave %d", r);
	if (r == 1 && !slot_valid(&got, part, job))
		fuzz_fail("ckpt_load took an invalid slot (generation %llu, "
		    "checksum %016llx, should be %016llx)",
		    (unsigned long long)got.generation,
		    (unsigned long long)got.checksum,
		    (unsigned long long)slot_sum(&got));
	if (r == 1 && memcmp(&got, &slot[0], sizeof got) != 0 &&
	    memcmp(&got, &slot[1], sizeof got) != 0)
		fuzz_fail("ckpt_load gave a state that is in neither slot");
	if (want == -1 && r != 0)
		fuzz_fail("ckpt_load found a valid slot where there is none");
	if (want != -1 && r != 1)
		fuzz_fail("ckpt_load found no valid slot, slot %d is", want);
	if (want != -1 && memcmp(&got, &slot[want], sizeof got) != 0)
		fuzz_fail("ckpt_load took the older slot, not slot %d "
		    "(generations %llu and %llu)", want,
		    (unsigned long long)slot[0].generation,
		    (unsigned long long)slot[1].generation);

	/*
	 * Publish the next state and load it back.  After generation
	 * 2^64 - 1 the next wraps to 0 and loses to the old one: a file
	 * would need 2^64 checkpoints to get there, so that is left out.
	 */
	if (r == 0)
		memset(&pub, 0, sizeof pub);
	else
		pub = got;
	pub.cursor++;
	pub.records_in += 3;
	if (ckpt_publish(c, &pub, 0) != 0)
		fuzz_fail("ckpt_publish: %s", strerror(errno));
	if (pub.generation != (r == 1 ? got.generation + 1 : 1))
		fuzz_fail("published generation %llu after %llu",
		    (unsigned long long)pub.generation,
		    (unsigned long long)(r == 1 ? got.generation : 0));
	if (r == 0 || got.generation != UINT64_MAX) {
		if (ckpt_load(c, &again) != 1 ||
		    memcmp(&again, &pub, sizeof pub) != 0)
			fuzz_fail("the state published (generation %llu) "
			    "is not the one loaded",
			    (unsigned long long)pub.generation);
	}

	ckpt_close(c);
	unlink(fuzz_path);
	free(file);
	return (0);
}
