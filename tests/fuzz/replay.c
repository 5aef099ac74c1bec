/* forkflow: see LICENSE. */
/*
 * Replay inputs through a libFuzzer harness without libFuzzer, so that
 * `make check` runs the fuzzers' corpora and the crashes they found with
 * the normal compiler (and the sanitizers, if configured).  Linked with one
 * harness: it calls the harness's LLVMFuzzerInitialize(), if it has one,
 * then LLVMFuzzerTestOneInput() on each file named, in order, in one
 * process, as libFuzzer does.  Each input is given in a buffer of exactly
 * its size, so that a read past its end is caught by AddressSanitizer.
 *
 *	fuzz/replay/fuzz_expr FILE...
 *
 * A property that does not hold aborts (fuzz_fail()); a file that cannot
 * be read exits 2.
 */

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * LLVMFuzzerInitialize() is weak: a harness without one leaves it null, as
 * libFuzzer's own driver expects.
 */
int	LLVMFuzzerInitialize(int *, char ***) __attribute__((__weak__));
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t	*replay_read(const char *, size_t *);

/* Read the whole file at path into a buffer of its size. */
static uint8_t *
replay_read(const char *path, size_t *lenp)
{
	struct stat	 st;
	uint8_t		*buf;
	size_t		 len, done;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err(2, "%s", path);
	if (fstat(fd, &st) == -1)
		err(2, "%s", path);
	if (!S_ISREG(st.st_mode))
		errx(2, "%s: not a regular file", path);
	len = (size_t)st.st_size;
	/* Never malloc(0): an empty input still gets a pointer of its own. */
	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		err(2, "%s", path);
	for (done = 0; done < len; done += (size_t)n) {
		if ((n = read(fd, buf + done, len - done)) == -1) {
			if (errno == EINTR) {
				n = 0;
				continue;
			}
			err(2, "%s", path);
		}
		if (n == 0)
			errx(2, "%s: shorter than its size", path);
	}
	close(fd);
	*lenp = len;
	return (buf);
}

int
main(int argc, char **argv)
{
	uint8_t	*buf;
	size_t	 len;
	int	 i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s file ...\n", argv[0]);
		return (2);
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		buf = replay_read(argv[i], &len);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
	}
	return (0);
}
