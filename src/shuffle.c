/* forkflow: see LICENSE. */
/*
 * Shuffle files: how records move from the workers of one stage to those of
 * the next.  Each worker writes one file per stage holding one segment per
 * destination partition (the sort-shuffle layout), behind an index; the
 * reader of partition p maps the files of all workers and reads segment p
 * of each.  A file holds one or more runs, each with its own P segments,
 * so that a worker can add to its output in steps.  Files are written
 * beside their final name and renamed into place when complete: a file
 * under its final name is always whole.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"

#define SHUFFLE_MAGIC	"FFSHUF1"
#define SHUFFLE_VERSION	1

struct shuffle_hdr {
	char		magic[8];
	uint32_t	version;
	uint32_t	partitions;
	uint32_t	runs;
	uint32_t	pad;
	uint64_t	records;
};

struct shuffle_seg {
	uint64_t	off;		/* bytes from the start of the file */
	uint64_t	count;		/* records */
};

/*
 * The partition of a key: a 64-bit mix of the key (the finaliser of
 * MurmurHash3) scaled to [0, P) by a multiply and shift.  It must be the
 * same in every process and on every run, for resumed jobs.
 */
unsigned int
shuffle_partition(int64_t k, unsigned int nparts)
{
	uint64_t	h = (uint64_t)k;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return ((unsigned int)(((unsigned __int128)h * nparts) >> 64));
}

/* Write all of buf, or fail. */
int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * Write the aggregation table a as one run bucketed for nparts partitions
 * to path, through a temporary file renamed into place.  Returns 0, or -1
 * with errno set.
 */
int
shuffle_write_agg(const char *path, unsigned int nparts, const struct agg *a,
    int durable, uint64_t *bytes)
{
	struct shuffle_hdr	 hdr;
	struct shuffle_seg	*seg;
	struct pair		*pairs;
	uint64_t		*count, off;
	unsigned int		*part;
	size_t			 n, i, pos;
	int64_t			 k, acc;
	char			*tmp;
	int			 fd, saved_errno;

	n = agg_count(a);
	pairs = xcalloc(n + 1, sizeof *pairs);
	part = xcalloc(n + 1, sizeof *part);
	count = xcalloc(nparts + 1, sizeof *count);
	seg = xcalloc(nparts, sizeof *seg);
	pos = 0;
	for (i = 0; agg_next(a, &pos, &k, &acc); i++) {
		part[i] = shuffle_partition(k, nparts);
		count[part[i] + 1]++;
		pairs[i].k = k;
		pairs[i].v = acc;
	}
	for (i = 0; i < nparts; i++)
		count[i + 1] += count[i];
	off = sizeof hdr + (uint64_t)nparts * sizeof *seg;
	for (i = 0; i < nparts; i++) {
		seg[i].off = off + count[i] * sizeof *pairs;
		seg[i].count = count[i + 1] - count[i];
	}
	/* Counting sort by partition, into a second array. */
	{
		struct pair	*sorted = xcalloc(n + 1, sizeof *sorted);

		for (i = 0; i < n; i++)
			sorted[count[part[i]]++] = pairs[i];
		free(pairs);
		pairs = sorted;
	}

	memset(&hdr, 0, sizeof hdr);
	memcpy(hdr.magic, SHUFFLE_MAGIC, sizeof hdr.magic);
	hdr.version = SHUFFLE_VERSION;
	hdr.partitions = nparts;
	hdr.runs = 1;
	hdr.records = n;

	xasprintf(&tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		goto fail;
	if (write_all(fd, &hdr, sizeof hdr) != 0 ||
	    write_all(fd, seg, nparts * sizeof *seg) != 0 ||
	    write_all(fd, pairs, n * sizeof *pairs) != 0)
		goto fail;
	if (durable && fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	*bytes = off + n * sizeof *pairs;
	free(tmp);
	free(pairs);
	free(part);
	free(count);
	free(seg);
	return (0);

fail:
	saved_errno = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	free(tmp);
	free(pairs);
	free(part);
	free(count);
	free(seg);
	errno = saved_errno;
	return (-1);
}

/*
 * Map a shuffle file and check its header and index.  Returns 0, or -1
 * with *cause set.
 */
int
shuffle_open(struct shuffle_file *sf, const char *path, unsigned int nparts,
    char **cause)
{
	struct shuffle_hdr	 hdr;
	struct shuffle_seg	 seg;
	struct stat		 st;
	size_t			 i, nseg;
	int			 fd;

	memset(sf, 0, sizeof *sf);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) != 0) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		close(fd);
		return (-1);
	}
	sf->len = (size_t)st.st_size;
	if (sf->len < sizeof hdr) {
		xasprintf(cause, "%s: truncated shuffle file", path);
		close(fd);
		return (-1);
	}
	sf->map = mmap(NULL, sf->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (sf->map == MAP_FAILED) {
		sf->map = NULL;
		xasprintf(cause, "%s: mmap: %s", path, strerror(errno));
		return (-1);
	}
	memcpy(&hdr, sf->map, sizeof hdr);
	if (memcmp(hdr.magic, SHUFFLE_MAGIC, sizeof hdr.magic) != 0 ||
	    hdr.version != SHUFFLE_VERSION || hdr.partitions != nparts ||
	    hdr.runs == 0 || hdr.runs > 1u << 20) {
		xasprintf(cause, "%s: not a shuffle file of this job", path);
		goto fail;
	}
	nseg = (size_t)hdr.runs * nparts;
	if (sizeof hdr + nseg * sizeof seg > sf->len) {
		xasprintf(cause, "%s: truncated shuffle index", path);
		goto fail;
	}
	for (i = 0; i < nseg; i++) {
		memcpy(&seg, sf->map + sizeof hdr + i * sizeof seg, sizeof seg);
		if (seg.off > sf->len || seg.count > (sf->len - seg.off) /
		    sizeof(struct pair)) {
			xasprintf(cause, "%s: segment %zu out of bounds",
			    path, i);
			goto fail;
		}
	}
	sf->runs = hdr.runs;
	sf->nparts = nparts;
	return (0);

fail:
	munmap(sf->map, sf->len);
	sf->map = NULL;
	return (-1);
}

/* Find segment p of run r: its records and their number. */
const struct pair *
shuffle_segment(const struct shuffle_file *sf, unsigned int r, unsigned int p,
    size_t *count)
{
	struct shuffle_seg	seg;

	memcpy(&seg, sf->map + sizeof(struct shuffle_hdr) +
	    ((size_t)r * sf->nparts + p) * sizeof seg, sizeof seg);
	*count = (size_t)seg.count;
	return ((const struct pair *)(sf->map + seg.off));
}

void
shuffle_close(struct shuffle_file *sf)
{
	if (sf->map != NULL)
		munmap(sf->map, sf->len);
	sf->map = NULL;
}
