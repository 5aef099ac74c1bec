/* forkflow: see LICENSE. */
/*
 * Run files: how records move from the workers of one stage to those of the
 * next, and how a worker keeps what it has done inside a stage.
 *
 * A run file is a header followed by runs.  Each run holds its records
 * grouped in buckets (one per destination partition for a shuffle, the
 * sort-shuffle layout; one for a spill), behind a small table of counts.
 * A worker appends a run at each checkpoint and records the file's length
 * in its checkpoint, so after a crash it truncates the file to that length
 * and carries on: every run below it is whole.  When the stage is done the
 * header gets the number of runs and the file is renamed from NAME.tmp to
 * NAME: a file under its final name is always sealed and whole.  The reader
 * of partition p maps the files of all workers and reads bucket p of each
 * run.
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

#define RUNFILE_MAGIC	"FFRUNS2"
#define RUNFILE_VERSION	2
#define RUN_MAGIC	0x314e5552u	/* "RUN1" */

struct runfile_hdr {
	char		magic[8];
	uint32_t	version;
	uint32_t	nbuckets;
	uint32_t	runs;		/* 0 until sealed */
	uint32_t	schema;		/* key type | value type << 1 */
	uint64_t	length;		/* of the sealed file */
};

struct run_hdr {
	uint32_t	magic;
	uint32_t	nbuckets;
	uint64_t	records;
}; /* followed by nbuckets counts (bytes when any type is a string) */

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

/* The partition of a key of either type. */
unsigned int
part_of(enum vtype kt, int64_t k, unsigned int nparts)
{
	if (kt == VT_INT)
		return (shuffle_partition(k, nparts));
	return ((unsigned int)(((unsigned __int128)val_hash(kt, k) *
	    nparts) >> 64));
}

/*
 * Write all of buf, or fail.  Writes go in pieces of at most 8 MiB, each
 * a unit of progress, so that a long write to a slow disk shows it moves.
 */
int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len < ((size_t)8 << 20) ? len :
		    ((size_t)8 << 20));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		progress();
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * Start writing a run file at path (as path.tmp), or, with len > 0, take
 * up the one a crashed attempt left: truncate it to the length of its last
 * checkpoint, where runs runs ended.  Returns 0, or -1 with errno set.
 */
int
runfile_open(struct runfile *rf, const char *path, unsigned int nbuckets,
    uint64_t len, unsigned int runs)
{
	return (runfile_open_typed(rf, path, nbuckets, VT_INT, VT_INT, len,
	    runs));
}

/* The same, for records of the given types. */
int
runfile_open_typed(struct runfile *rf, const char *path,
    unsigned int nbuckets, enum vtype kt, enum vtype vt, uint64_t len,
    unsigned int runs)
{
	struct runfile_hdr	hdr;
	struct stat		st;
	int			saved_errno;

	memset(rf, 0, sizeof *rf);
	rf->fd = -1;
	rf->nbuckets = nbuckets;
	rf->kt = kt;
	rf->vt = vt;
	xasprintf(&rf->path, "%s", path);
	xasprintf(&rf->tmp, "%s.tmp", path);
	if (len > 0) {
		rf->fd = open(rf->tmp, O_RDWR | O_CLOEXEC);
		if (rf->fd == -1)
			goto fail;
		if (fstat(rf->fd, &st) != 0)
			goto fail;
		if ((uint64_t)st.st_size < len ||
		    pread(rf->fd, &hdr, sizeof hdr, 0) != sizeof hdr ||
		    memcmp(hdr.magic, RUNFILE_MAGIC, sizeof hdr.magic) != 0 ||
		    hdr.nbuckets != nbuckets ||
		    hdr.schema != (uint32_t)(kt | vt << 1)) {
			errno = EINVAL;
			goto fail;
		}
		if (ftruncate(rf->fd, (off_t)len) != 0 ||
		    lseek(rf->fd, (off_t)len, SEEK_SET) == -1)
			goto fail;
		rf->len = len;
		rf->runs = runs;
		return (0);
	}
	rf->fd = open(rf->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (rf->fd == -1)
		goto fail;
	memset(&hdr, 0, sizeof hdr);
	memcpy(hdr.magic, RUNFILE_MAGIC, sizeof hdr.magic);
	hdr.version = RUNFILE_VERSION;
	hdr.nbuckets = nbuckets;
	hdr.schema = (uint32_t)(kt | vt << 1);
	if (write_all(rf->fd, &hdr, sizeof hdr) != 0)
		goto fail;
	rf->len = sizeof hdr;
	return (0);

fail:
	saved_errno = errno;
	runfile_abort(rf);
	errno = saved_errno;
	return (-1);
}

/*
 * Append a run: counts[b] records for each bucket b, stored one bucket
 * after the other in pairs.
 */
int
runfile_append(struct runfile *rf, const struct pair *pairs,
    const uint64_t *counts)
{
	struct run_hdr	hdr;
	uint64_t	n = 0;
	unsigned int	b;

	for (b = 0; b < rf->nbuckets; b++)
		n += counts[b];
	hdr.magic = RUN_MAGIC;
	hdr.nbuckets = rf->nbuckets;
	hdr.records = n;
	if (write_all(rf->fd, &hdr, sizeof hdr) != 0 ||
	    write_all(rf->fd, counts, rf->nbuckets * sizeof *counts) != 0 ||
	    write_all(rf->fd, pairs, n * sizeof *pairs) != 0)
		return (-1);
	rf->len += sizeof hdr + rf->nbuckets * sizeof *counts +
	    n * sizeof *pairs;
	rf->runs++;
	rf->records += n;
	return (0);
}

/*
 * Append a run of records of any types: counts[b] records for bucket b,
 * one bucket after the other in r.  The run's table then holds each
 * bucket's length in bytes.
 */
int
runfile_append_recs(struct runfile *rf, const struct pair *r,
    const uint64_t *counts)
{
	struct run_hdr	 hdr;
	uint64_t	*bytes, n = 0, i, total = 0;
	unsigned int	 b;
	char		*buf, *p;
	int		 ret;

	if (rf->kt == VT_INT && rf->vt == VT_INT)
		return (runfile_append(rf, r, counts));
	bytes = xcalloc(rf->nbuckets, sizeof *bytes);
	for (b = 0; b < rf->nbuckets; b++) {
		for (i = 0; i < counts[b]; i++, n++)
			bytes[b] += val_size(rf->kt, r[n].k) +
			    val_size(rf->vt, r[n].v);
		total += bytes[b];
		progress();
	}
	buf = xmalloc(total + 1);
	p = buf;
	for (i = 0; i < n; i++) {
		p = val_put(rf->kt, p, r[i].k);
		p = val_put(rf->vt, p, r[i].v);
		if ((i & 0xffff) == 0)
			progress();
	}
	hdr.magic = RUN_MAGIC;
	hdr.nbuckets = rf->nbuckets;
	hdr.records = n;
	ret = 0;
	if (write_all(rf->fd, &hdr, sizeof hdr) != 0 ||
	    write_all(rf->fd, bytes, rf->nbuckets * sizeof *bytes) != 0 ||
	    write_all(rf->fd, buf, total) != 0)
		ret = -1;
	else {
		rf->len += sizeof hdr + rf->nbuckets * sizeof *bytes + total;
		rf->runs++;
		rf->records += n;
	}
	free(buf);
	free(bytes);
	return (ret);
}

/*
 * Append records sorted by key as one run, bucketed by the partition of
 * their key, keeping their order inside each bucket.
 */
int
runfile_append_sorted(struct runfile *rf, const struct pair *r, size_t n)
{
	struct pair	*out;
	uint64_t	*count, *pos;
	unsigned int	*part, b;
	size_t		 i;
	int		 ret;

	count = xcalloc(rf->nbuckets, sizeof *count);
	if (rf->nbuckets == 1) {
		count[0] = n;
		ret = runfile_append_recs(rf, r, count);
		free(count);
		return (ret);
	}
	part = xreallocarray(NULL, n + 1, sizeof *part);
	pos = xcalloc(rf->nbuckets, sizeof *pos);
	for (i = 0; i < n; i++) {
		part[i] = part_of(rf->kt, r[i].k, rf->nbuckets);
		count[part[i]]++;
		if ((i & 0xffff) == 0)
			progress();
	}
	for (b = 1; b < rf->nbuckets; b++)
		pos[b] = pos[b - 1] + count[b - 1];
	out = xreallocarray(NULL, n + 1, sizeof *out);
	for (i = 0; i < n; i++)
		out[pos[part[i]]++] = r[i];
	ret = runfile_append_recs(rf, out, count);
	free(out);
	free(pos);
	free(part);
	free(count);
	return (ret);
}

/*
 * Append the keys of an aggregation table as one run, bucketed by
 * partition (nbuckets > 1), or sorted by key (one bucket).
 */
int
runfile_append_agg(struct runfile *rf, const struct agg *a)
{
	struct pair	*pairs;
	size_t		 n, i, it = 0;
	int64_t		 k, acc;
	int		 r;

	n = agg_count(a);
	pairs = xreallocarray(NULL, n + 1, sizeof *pairs);
	for (i = 0; agg_next(a, &it, &k, &acc); i++) {
		pairs[i].k = k;
		pairs[i].v = acc;
		if ((i & 0xffff) == 0)
			progress();
	}
	if (rf->nbuckets == 1)
		sort_pairs(pairs, n);
	r = runfile_append_sorted(rf, pairs, n);
	free(pairs);
	return (r);
}

/* Sync what is written (for --durable checkpoints). */
int
runfile_sync(struct runfile *rf)
{
	return (fsync(rf->fd));
}

/*
 * Seal the file: write the number of runs and the length into the header,
 * and rename it to its final name.  With sync, make it durable first.
 */
int
runfile_seal(struct runfile *rf, int sync)
{
	struct runfile_hdr	hdr;
	int			saved_errno;

	if (pread(rf->fd, &hdr, sizeof hdr, 0) != sizeof hdr) {
		errno = EIO;
		goto fail;
	}
	hdr.runs = rf->runs;
	hdr.length = rf->len;
	if (pwrite(rf->fd, &hdr, sizeof hdr, 0) != sizeof hdr)
		goto fail;
	if (sync && fsync(rf->fd) != 0)
		goto fail;
	if (close(rf->fd) != 0) {
		rf->fd = -1;
		goto fail;
	}
	rf->fd = -1;
	if (rename(rf->tmp, rf->path) != 0)
		goto fail;
	if (sync && fsync_parent(rf->path) != 0)
		goto fail;
	free(rf->tmp);
	free(rf->path);
	rf->tmp = rf->path = NULL;
	return (0);

fail:
	saved_errno = errno;
	runfile_abort(rf);
	errno = saved_errno;
	return (-1);
}

/* Give up a run file being written (its .tmp stays for a later attempt). */
void
runfile_abort(struct runfile *rf)
{
	if (rf->fd != -1)
		close(rf->fd);
	rf->fd = -1;
	free(rf->tmp);
	free(rf->path);
	rf->tmp = rf->path = NULL;
}

/*
 * Write the aggregation table a as a whole run file of one run, bucketed
 * for nbuckets partitions.
 */
int
shuffle_write_agg(const char *path, unsigned int nbuckets, const struct agg *a,
    int durable, uint64_t *bytes)
{
	struct runfile	rf;

	if (runfile_open(&rf, path, nbuckets, 0, 0) != 0)
		return (-1);
	if (runfile_append_agg(&rf, a) != 0) {
		runfile_abort(&rf);
		return (-1);
	}
	*bytes = rf.len;
	return (runfile_seal(&rf, durable));
}

/*
 * Which buckets of a sealed run file hold records: a bit per bucket in
 * used (nbuckets bits, cleared first), read from the run headers and their
 * tables with pread(2), without mapping the file or reading its records.
 * The next stage's readers open only the files that have records for
 * them.  Returns 0, or -1 with errno set (EINVAL: not a whole run file).
 */
int
runfile_used(const char *path, unsigned int nbuckets, uint8_t *used)
{
	struct runfile_hdr	 hdr;
	struct run_hdr		 rh;
	uint64_t		*counts, off, sum;
	unsigned int		 r, b;
	int			 fd, saved_errno;

	memset(used, 0, (nbuckets + 7) / 8);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	errno = 0;
	counts = xcalloc(nbuckets, sizeof *counts);
	if (pread(fd, &hdr, sizeof hdr, 0) != sizeof hdr ||
	    memcmp(hdr.magic, RUNFILE_MAGIC, sizeof hdr.magic) != 0 ||
	    hdr.nbuckets != nbuckets)
		goto bad;
	off = sizeof hdr;
	for (r = 0; r < hdr.runs; r++) {
		progress();
		if (pread(fd, &rh, sizeof rh, (off_t)off) != sizeof rh ||
		    rh.magic != RUN_MAGIC || rh.nbuckets != nbuckets ||
		    pread(fd, counts, nbuckets * sizeof *counts,
		    (off_t)(off + sizeof rh)) != (ssize_t)(nbuckets *
		    sizeof *counts))
			goto bad;
		sum = 0;
		for (b = 0; b < nbuckets; b++) {
			if (counts[b] != 0)
				used[b / 8] |= (uint8_t)(1u << (b % 8));
			sum += counts[b];
		}
		/* Typed runs count bytes; integer runs count pairs. */
		off += sizeof rh + nbuckets * sizeof *counts +
		    (hdr.schema != 0 ? sum : sum * sizeof(struct pair));
		if (off > hdr.length)
			goto bad;
	}
	free(counts);
	close(fd);
	return (0);

bad:
	saved_errno = errno;
	free(counts);
	close(fd);
	errno = saved_errno != 0 ? saved_errno : EINVAL;
	return (-1);
}

/*
 * Count the records of len bytes of a typed run at off, decoding each:
 * a run whose records do not decode, or whose count is not what its header
 * says, is damaged.  Returns the count, or UINT64_MAX.
 */
static uint64_t
shuffle_count(const struct shuffle_file *sf, uint64_t off, uint64_t len)
{
	const char	*p = sf->map + off, *end = p + len;
	struct pair	 rec;
	uint64_t	 n = 0;
	int		 r;

	while ((r = shuffle_next(sf, &p, end, &rec)) == 1) {
		if ((++n & 0x3ff) == 0)
			progress();
	}
	return (r == 0 ? n : UINT64_MAX);
}

/*
 * Walk the runs of a mapped file up to len, checking each, and note where
 * each run's buckets are.  Returns the number of runs, or -1.
 */
static int
shuffle_walk(struct shuffle_file *sf, uint64_t len, unsigned int maxruns)
{
	struct run_hdr	 rh;
	uint64_t	 off = sizeof(struct runfile_hdr), c, sum, at;
	unsigned int	 r = 0, b;

	while (off < len && r < maxruns) {
		progress();
		if (len - off < sizeof rh)
			return (-1);
		memcpy(&rh, sf->map + off, sizeof rh);
		if (rh.magic != RUN_MAGIC || rh.nbuckets != sf->nparts)
			return (-1);
		off += sizeof rh;
		if ((len - off) / sizeof c < sf->nparts)
			return (-1);
		at = off + (uint64_t)sf->nparts * sizeof c;
		sum = 0;
		sf->runoff = xreallocarray(sf->runoff,
		    ((size_t)r + 1) * sf->nparts, sizeof *sf->runoff);
		sf->runcount = xreallocarray(sf->runcount,
		    ((size_t)r + 1) * sf->nparts, sizeof *sf->runcount);
		for (b = 0; b < sf->nparts; b++) {
			memcpy(&c, sf->map + off + b * sizeof c, sizeof c);
			if (sf->schema != 0) {
				/* Lengths in bytes, of whole fields. */
				if (c > len - at - sum || (c & 3) != 0)
					return (-1);
				sf->runoff[(size_t)r * sf->nparts + b] =
				    at + sum;
			} else {
				if (c > (len - at) / sizeof(struct pair) - sum)
					return (-1);
				sf->runoff[(size_t)r * sf->nparts + b] =
				    at + sum * sizeof(struct pair);
			}
			sf->runcount[(size_t)r * sf->nparts + b] = c;
			sum += c;
		}
		if (sf->schema == 0 && sum != rh.records)
			return (-1);
		if (sf->schema != 0) {
			/* Each bucket decodes whole, on its own. */
			uint64_t	total = 0, c2;

			for (b = 0; b < sf->nparts; b++) {
				c2 = shuffle_count(sf, sf->runoff[(size_t)r *
				    sf->nparts + b], sf->runcount[(size_t)r *
				    sf->nparts + b]);
				if (c2 == UINT64_MAX)
					return (-1);
				total += c2;
			}
			if (total != rh.records)
				return (-1);
		}
		sf->records += rh.records;
		off = at + (sf->schema != 0 ? sum : sum * sizeof(struct pair));
		r++;
	}
	if (off != len)
		return (-1);
	return ((int)r);
}

/*
 * Map a run file and check every run.  A sealed file must be whole; with
 * len > 0 the file is one still being written, valid up to len.  Returns 0,
 * or -1 with *cause set.
 */
int
shuffle_open_len(struct shuffle_file *sf, const char *path,
    unsigned int nbuckets, uint64_t len, char **cause)
{
	struct runfile_hdr	 hdr;
	struct stat		 st;
	int			 fd, n;

	memset(sf, 0, sizeof *sf);
	sf->nparts = nbuckets;
	progress();
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
	if (sf->len < sizeof hdr || (len > 0 && sf->len < len)) {
		xasprintf(cause, "%s: truncated run file", path);
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
	if (memcmp(hdr.magic, RUNFILE_MAGIC, sizeof hdr.magic) != 0 ||
	    hdr.version != RUNFILE_VERSION || hdr.nbuckets != nbuckets ||
	    hdr.schema > 3) {
		xasprintf(cause, "%s: not a run file of this job", path);
		goto fail;
	}
	sf->schema = hdr.schema;
	sf->kt = (enum vtype)(hdr.schema & 1);
	sf->vt = (enum vtype)(hdr.schema >> 1);
	if (len == 0 && hdr.length != sf->len) {
		xasprintf(cause, "%s: run file not sealed or truncated", path);
		goto fail;
	}
	n = shuffle_walk(sf, len > 0 ? len : sf->len,
	    len > 0 ? UINT32_MAX : hdr.runs);
	if (n < 0 || (len == 0 && (unsigned int)n != hdr.runs)) {
		xasprintf(cause, "%s: damaged run file", path);
		goto fail;
	}
	sf->runs = (unsigned int)n;
	return (0);

fail:
	shuffle_close(sf);
	return (-1);
}

int
shuffle_open(struct shuffle_file *sf, const char *path, unsigned int nparts,
    char **cause)
{
	return (shuffle_open_len(sf, path, nparts, 0, cause));
}

/* Find bucket p of run r of a file of any types: its bytes. */
const char *
shuffle_bucket(const struct shuffle_file *sf, unsigned int r, unsigned int p,
    size_t *bytes)
{
	size_t	i = (size_t)r * sf->nparts + p;

	*bytes = (size_t)(sf->schema == 0 ? sf->runcount[i] *
	    sizeof(struct pair) : sf->runcount[i]);
	return (sf->map + sf->runoff[i]);
}

/*
 * Decode the next record of a bucket at *p (see shuffle_bucket); returns
 * 0 at its end, -1 if it is damaged.
 */
int
shuffle_next(const struct shuffle_file *sf, const char **p, const char *end,
    struct pair *rec)
{
	const char	*q;

	if (*p >= end)
		return (0);
	if ((q = val_get(sf->kt, *p, end, &rec->k)) == NULL ||
	    (q = val_get(sf->vt, q, end, &rec->v)) == NULL)
		return (-1);
	*p = q;
	return (1);
}

/* Find bucket p of run r: its records and their number. */
const struct pair *
shuffle_segment(const struct shuffle_file *sf, unsigned int r, unsigned int p,
    size_t *count)
{
	size_t	i = (size_t)r * sf->nparts + p;

	*count = (size_t)sf->runcount[i];
	return ((const struct pair *)(sf->map + sf->runoff[i]));
}

void
shuffle_close(struct shuffle_file *sf)
{
	if (sf->map != NULL)
		munmap(sf->map, sf->len);
	sf->map = NULL;
	free(sf->runoff);
	free(sf->runcount);
	sf->runoff = NULL;
	sf->runcount = NULL;
}
