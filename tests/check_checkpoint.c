/* forkflow: see LICENSE. */
/*
 * Tests of checkpoint.c: a checkpoint file holds two slots written in
 * turn, generation g in slot g % 2; the newest valid slot is loaded; a
 * flipped bit or a torn (partly overwritten) slot falls back to the older
 * generation, and two bad slots load nothing; a slot of another partition
 * or job is not accepted; map_shared_file creates, sizes and shares files,
 * and fails cleanly.
 *
 * The slot size is not exported: it is half the size of the file that
 * ckpt_open makes.
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

#include <check.h>
#include <xxhash.h>

#include "forkflow.h"
#include "check_forkflow.h"

#define JOB_ID		0x0123456789abcdefULL
#define STATE_LEN	offsetof(struct ckpt_state, checksum)

static char	ckpt_tmpdir[256];

static void	ckpt_setup(void);
static void	ckpt_teardown(void);
static struct ckpt *open_new(const char *, unsigned int, uint64_t);
static size_t	slot_size(const char *);
static void	publish(struct ckpt *, uint64_t);
static void	expect_state(const struct ckpt *, uint64_t);
static uint64_t	slot_generation(const char *, size_t, unsigned int);
static void	file_xor(const char *, off_t, unsigned char);
static void	file_write(const char *, off_t, const void *, size_t);
static void	forge(const char *, size_t, unsigned int, struct ckpt_state *);

static void
ckpt_setup(void)
{
	ck_tmpdir(ckpt_tmpdir, sizeof ckpt_tmpdir, "check_checkpoint");
}

static void
ckpt_teardown(void)
{
	rm_tree(ckpt_tmpdir);
}

/* Open a checkpoint file that must be new. */
static struct ckpt *
open_new(const char *path, unsigned int part, uint64_t job_id)
{
	struct ckpt	*c;

	ck_assert_int_ne(access(path, F_OK), 0);
	c = ckpt_open(path, part, job_id);
	ck_assert_ptr_nonnull(c);
	return (c);
}

/* The size of a slot: half the file. */
static size_t
slot_size(const char *path)
{
	struct stat	st;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_gt(st.st_size, 0);
	ck_assert_int_eq(st.st_size % 2, 0);
	ck_assert_uint_ge((size_t)st.st_size / 2, sizeof(struct ckpt_state));
	return ((size_t)st.st_size / 2);
}

/*
 * Publish the state of generation g, as the test knows it: every field
 * is derived from g, so that a load can be checked against it.
 */
static void
publish(struct ckpt *c, uint64_t g)
{
	struct ckpt_state	s;

	memset(&s, 0, sizeof s);
	s.stages_done = (uint32_t)(g / 3);
	s.phase = (uint32_t)(g % 3);
	s.op = (uint32_t)(g * 7);
	s.sink_runs = (uint32_t)g;
	s.sink_len = g * 1000003;
	s.cursor = g * 65536 + 17;
	s.cursor2 = g ^ 0x5555;
	s.spill_runs = (uint32_t)(g + 1);
	s.spill_len = g * 16;
	s.records_in = g * 101;
	s.records_out = g * 99;
	s.bytes_in = g * 4096;
	s.output_len = g * 11;
	ck_assert_int_eq(ckpt_publish(c, &s, (int)(g % 2)), 0);
	ck_assert_uint_eq(s.generation, g);
}

/* ckpt_load gives the state of generation g, of this job and partition. */
static void
expect_state(const struct ckpt *c, uint64_t g)
{
	struct ckpt_state	s;

	memset(&s, 0xa5, sizeof s);
	ck_assert_int_eq(ckpt_load(c, &s), 1);
	ck_assert_uint_eq(s.generation, g);
	ck_assert_uint_eq(s.partition, c->partition);
	ck_assert_uint_eq(s.job_id, c->job_id);
	ck_assert_uint_eq(s.stages_done, g / 3);
	ck_assert_uint_eq(s.phase, g % 3);
	ck_assert_uint_eq(s.op, g * 7);
	ck_assert_uint_eq(s.sink_runs, g);
	ck_assert_uint_eq(s.sink_len, g * 1000003);
	ck_assert_uint_eq(s.cursor, g * 65536 + 17);
	ck_assert_uint_eq(s.cursor2, g ^ 0x5555);
	ck_assert_uint_eq(s.spill_runs, g + 1);
	ck_assert_uint_eq(s.spill_len, g * 16);
	ck_assert_uint_eq(s.records_in, g * 101);
	ck_assert_uint_eq(s.records_out, g * 99);
	ck_assert_uint_eq(s.bytes_in, g * 4096);
	ck_assert_uint_eq(s.output_len, g * 11);
}

/* The generation stored in a slot of the file, read with read(2). */
static uint64_t
slot_generation(const char *path, size_t slot, unsigned int i)
{
	uint64_t	g;
	int		fd;

	fd = open(path, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(pread(fd, &g, sizeof g, (off_t)(i * slot +
	    offsetof(struct ckpt_state, generation))), (ssize_t)sizeof g);
	close(fd);
	return (g);
}

/* XOR a byte of the file with mask, through write(2). */
static void
file_xor(const char *path, off_t off, unsigned char mask)
{
	unsigned char	b;
	int		fd;

	fd = open(path, O_RDWR);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	b ^= mask;
	ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* Overwrite bytes of the file. */
static void
file_write(const char *path, off_t off, const void *p, size_t len)
{
	int	fd;

	fd = open(path, O_RDWR);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(pwrite(fd, p, len, off), (ssize_t)len);
	close(fd);
}

/* A new file loads nothing; generation g goes to slot g % 2. */
START_TEST(test_checkpoint_alternate)
{
	struct ckpt_state	 s;
	struct ckpt		*c;
	char			*path;
	size_t			 slot;
	uint64_t		 g;

	path = ck_path(ckpt_tmpdir, "alternate");
	c = open_new(path, 3, JOB_ID);
	slot = slot_size(path);
	ck_assert_int_eq(ckpt_load(c, &s), 0);
	for (g = 1; g <= 9; g++) {
		publish(c, g);
		/* What the mapping holds is in the file for read(2). */
		ck_assert_uint_eq(slot_generation(path, slot, g % 2), g);
		if (g > 1)
			ck_assert_uint_eq(slot_generation(path, slot,
			    (g + 1) % 2), g - 1);
		expect_state(c, g);
	}
	ckpt_close(c);
	free(path);
}
END_TEST

/* The newest slot wins, in either slot, and after the file is opened again. */
START_TEST(test_checkpoint_newest_wins)
{
	struct ckpt	*c;
	char		*path;
	uint64_t	 g;

	path = ck_path(ckpt_tmpdir, "newest");
	c = open_new(path, 0, JOB_ID);
	for (g = 1; g <= 6; g++) {
		publish(c, g);
		ckpt_close(c);
		c = ckpt_open(path, 0, JOB_ID);
		ck_assert_ptr_nonnull(c);
		expect_state(c, g);
	}
	/* Publishing goes on from what the file holds. */
	publish(c, 7);
	expect_state(c, 7);
	ckpt_close(c);
	free(path);
}
END_TEST

/*
 * A flipped bit anywhere in the newest slot's state or checksum falls back
 * to the older generation; in the older slot it changes nothing.
 */
START_TEST(test_checkpoint_flipped_bit)
{
	struct ckpt	*c;
	char		*path;
	size_t		 slot, off;
	unsigned int	 bit;

	path = ck_path(ckpt_tmpdir, "flip");
	c = open_new(path, 1, JOB_ID);
	slot = slot_size(path);
	publish(c, 1);
	publish(c, 2);		/* in slot 0; generation 1 in slot 1 */
	for (off = 0; off < sizeof(struct ckpt_state); off++) {
		bit = (unsigned int)(off % 8);
		file_xor(path, (off_t)off, (unsigned char)(1u << bit));
		expect_state(c, 1);
		file_xor(path, (off_t)off, (unsigned char)(1u << bit));
		expect_state(c, 2);

		file_xor(path, (off_t)(slot + off), (unsigned char)(1u << bit));
		expect_state(c, 2);
		file_xor(path, (off_t)(slot + off), (unsigned char)(1u << bit));
	}
	expect_state(c, 2);
	ckpt_close(c);
	free(path);
}
END_TEST

/*
 * A torn write: the state of generation g + 1 half written over the slot
 * of g - 1 leaves g.  The newest slot half overwritten with garbage, or
 * cut off by a truncated file, falls back to the older one.
 */
START_TEST(test_checkpoint_torn)
{
	struct ckpt_state	 next;
	struct ckpt		*c, *scratch;
	char			*path, *spath, junk[sizeof(struct ckpt_state)];
	size_t			 slot, cut;
	uint64_t		 g, seed = 42;

	path = ck_path(ckpt_tmpdir, "torn");
	c = open_new(path, 2, JOB_ID);
	slot = slot_size(path);
	for (g = 1; g <= 4; g++)
		publish(c, g);

	/* Generation 5 as it would be written: make it in another file. */
	spath = ck_path(ckpt_tmpdir, "torn-scratch");
	scratch = open_new(spath, 2, JOB_ID);
	for (g = 1; g <= 5; g++)
		publish(scratch, g);
	memcpy(&next, (char *)scratch->slots + slot, sizeof next);
	ck_assert_uint_eq(next.generation, 5);
	ckpt_close(scratch);
	free(spath);

	/* Its first bytes over generation 3's slot: 4 is loaded, and the
	 * next publication is 5 again. */
	for (cut = 8; cut < sizeof next; cut += 8) {
		file_write(path, (off_t)slot, &next, cut);
		expect_state(c, 4);
		publish(c, 5);
		expect_state(c, 5);
		/* Back to 3 and 4, where they were. */
		ckpt_close(c);
		ck_assert_int_eq(unlink(path), 0);
		c = open_new(path, 2, JOB_ID);
		for (g = 1; g <= 4; g++)
			publish(c, g);
	}
	/* Its last bytes. */
	file_write(path, (off_t)(slot + sizeof next / 2),
	    (char *)&next + sizeof next / 2, sizeof next - sizeof next / 2);
	expect_state(c, 4);

	/* The newest slot (slot 0: generation 4) half garbage. */
	ckpt_close(c);
	ck_assert_int_eq(unlink(path), 0);
	c = open_new(path, 2, JOB_ID);
	for (g = 1; g <= 4; g++)
		publish(c, g);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)ck_rand(&seed);
	file_write(path, (off_t)(sizeof(struct ckpt_state) / 2), junk,
	    sizeof(struct ckpt_state) - sizeof(struct ckpt_state) / 2);
	expect_state(c, 3);
	ckpt_close(c);

	/* A file cut inside slot 1, which then holds the newest: slot 0. */
	unlink(path);
	c = open_new(path, 2, JOB_ID);
	for (g = 1; g <= 5; g++)
		publish(c, g);
	ckpt_close(c);
	ck_assert_int_eq(truncate(path, (off_t)(slot + 40)), 0);
	c = ckpt_open(path, 2, JOB_ID);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(slot_size(path), slot);	/* grown again */
	expect_state(c, 4);
	ckpt_close(c);
	free(path);
}
END_TEST

/* Both slots bad, or an empty file: nothing; publishing starts at 1. */
START_TEST(test_checkpoint_both_bad)
{
	struct ckpt_state	 s;
	struct ckpt		*c;
	char			*path;
	size_t			 slot;

	path = ck_path(ckpt_tmpdir, "both");
	c = open_new(path, 0, JOB_ID);
	slot = slot_size(path);
	publish(c, 1);
	publish(c, 2);
	file_xor(path, 40, 0x10);
	file_xor(path, (off_t)(slot + 60), 0x01);
	ck_assert_int_eq(ckpt_load(c, &s), 0);
	publish(c, 1);
	expect_state(c, 1);
	ckpt_close(c);

	/* Truncated to nothing: opened again, it holds nothing. */
	ck_assert_int_eq(truncate(path, 0), 0);
	c = ckpt_open(path, 0, JOB_ID);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(ckpt_load(c, &s), 0);
	ckpt_close(c);
	free(path);
}
END_TEST

/* A file of another partition or another job is not accepted. */
START_TEST(test_checkpoint_other_owner)
{
	struct ckpt_state	 s;
	struct ckpt		*c;
	char			*path;

	path = ck_path(ckpt_tmpdir, "owner");
	c = open_new(path, 5, JOB_ID);
	publish(c, 1);
	publish(c, 2);
	ckpt_close(c);

	c = ckpt_open(path, 4, JOB_ID);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(ckpt_load(c, &s), 0);
	ckpt_close(c);
	c = ckpt_open(path, 5, JOB_ID ^ 1);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(ckpt_load(c, &s), 0);
	ckpt_close(c);
	c = ckpt_open(path, 5, JOB_ID);
	ck_assert_ptr_nonnull(c);
	expect_state(c, 2);
	ckpt_close(c);
	free(path);
}
END_TEST

/* Write state s into slot i of the file, with its checksum made right. */
static void
forge(const char *path, size_t slot, unsigned int i, struct ckpt_state *s)
{
	s->checksum = XXH3_64bits(s, STATE_LEN);
	file_write(path, (off_t)(i * slot), s, sizeof *s);
}

/*
 * A slot with a right checksum is not enough: the magic, the version, the
 * partition and the job must be this file's.  The states are forged in
 * slot 0 over generation 1 in slot 1, with a higher generation.
 */
START_TEST(test_checkpoint_forged)
{
	struct ckpt_state	 good, s;
	struct ckpt		*c;
	char			*path;
	size_t			 slot;

	path = ck_path(ckpt_tmpdir, "forged");
	c = open_new(path, 6, JOB_ID);
	slot = slot_size(path);
	publish(c, 1);
	memcpy(&good, (char *)c->slots + slot, sizeof good);
	ck_assert_uint_eq(good.generation, 1);

	/* The control: a forged generation 8 with every field right. */
	s = good;
	s.generation = 8;
	s.cursor = 8 * 65536 + 17;
	forge(path, slot, 0, &s);
	ck_assert_int_eq(ckpt_load(c, &s), 1);
	ck_assert_uint_eq(s.generation, 8);

	s = good;
	s.generation = 8;
	s.magic[0] ^= 0x20;
	forge(path, slot, 0, &s);
	expect_state(c, 1);

	s = good;
	s.generation = 8;
	s.version++;
	forge(path, slot, 0, &s);
	expect_state(c, 1);

	s = good;
	s.generation = 8;
	s.partition = 7;
	forge(path, slot, 0, &s);
	expect_state(c, 1);

	s = good;
	s.generation = 8;
	s.job_id = JOB_ID + 1;
	forge(path, slot, 0, &s);
	expect_state(c, 1);
	ckpt_close(c);
	free(path);
}
END_TEST

/* map_shared_file creates and sizes a file, and shares its pages. */
START_TEST(test_checkpoint_map_shared)
{
	struct stat	 st;
	char		*path, *p, buf[8];
	int		 fd;
	size_t		 i;

	path = ck_path(ckpt_tmpdir, "shared");
	p = map_shared_file(path, 10000, 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 10000);
	/* Blocks are allocated: a full disk fails here, not later. */
	ck_assert_int_ge((long long)st.st_blocks * 512, 10000);
	for (i = 0; i < 10000; i++)
		ck_assert_int_eq(p[i], 0);
	memcpy(p + 9990, "forkflow", 8);
	fd = open(path, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(pread(fd, buf, 8, 9990), 8);
	ck_assert_int_eq(memcmp(buf, "forkflow", 8), 0);
	close(fd);
	munmap(p, 10000);

	/* Mapped again, smaller, without create: the same bytes. */
	p = map_shared_file(path, 100, 0);
	ck_assert_ptr_nonnull(p);
	munmap(p, 100);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 10000);	/* not cut */

	/* Larger without create: refused, the file left as it is. */
	errno = 0;
	ck_assert_ptr_null(map_shared_file(path, 20000, 0));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 10000);
	/* Larger with create: grown, what was there kept. */
	p = map_shared_file(path, 20000, 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(memcmp(p + 9990, "forkflow", 8), 0);
	ck_assert_int_eq(p[19999], 0);
	munmap(p, 20000);
	free(path);

	/* A missing file without create, a missing folder: NULL, errno. */
	path = ck_path(ckpt_tmpdir, "absent");
	errno = 0;
	ck_assert_ptr_null(map_shared_file(path, 100, 0));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_ne(access(path, F_OK), 0);
	free(path);
	path = ck_path(ckpt_tmpdir, "no/such/folder/ckpt");
	errno = 0;
	ck_assert_ptr_null(map_shared_file(path, 100, 1));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(ckpt_open(path, 0, JOB_ID));
	free(path);
}
END_TEST

Suite *
checkpoint_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("checkpoint");
	tc = tcase_create("file");
	tcase_set_timeout(tc, 30);
	tcase_add_unchecked_fixture(tc, ckpt_setup, ckpt_teardown);
	tcase_add_test(tc, test_checkpoint_alternate);
	tcase_add_test(tc, test_checkpoint_newest_wins);
	tcase_add_test(tc, test_checkpoint_flipped_bit);
	tcase_add_test(tc, test_checkpoint_torn);
	tcase_add_test(tc, test_checkpoint_both_bad);
	tcase_add_test(tc, test_checkpoint_other_owner);
	tcase_add_test(tc, test_checkpoint_forged);
	tcase_add_test(tc, test_checkpoint_map_shared);
	suite_add_tcase(s, tc);
	return (s);
}
