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
 *
 * Everything in a run file is checksummed with XXH3: the header, each
 * run's table, and each bucket, whose sum is in the table beside its
 * length.  A reader checks the header and the tables when it opens a
 * file and a bucket just before it reads it (shuffle_segment() and
 * shuffle_bucket() return NULL for one that fails), so a damaged byte is
 * found by the only reader that would have used it, at the cost of one
 * hash over what is read.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "forkflow.h"

#define RUNFILE_MAGIC	"FFRUNS3"
#define RUNFILE_VERSION	3
#define RUN_MAGIC	0x324e5552u	/* "RUN2" */

struct runfile_hdr {
	char		magic[8];
	uint32_t	version;
	uint32_t	nbuckets;
	uint32_t	runs;		/* 0 until sealed */
	uint32_t	schema;		/* key type | value type << 1 */
	uint64_t	length;		/* of the sealed file */
	uint64_t	sum;		/* XXH3 of the fields above */
};

struct run_hdr {
	uint32_t	magic;
	uint32_t	nbuckets;
	uint64_t	records;
	uint64_t	sum;		/* XXH3 of the table, seeded */
}; /* followed by nbuckets struct run_ent */

struct run_ent {
	uint64_t	count;		/* records, or bytes if typed */
	uint64_t	sum;		/* XXH3 of the bucket's bytes */
};

static uint64_t
runfile_hdr_sum(const struct runfile_hdr *h)
{
	return (XXH3_64bits(h, offsetof(struct runfile_hdr, sum)));
}

/* A run's table sum, seeded with its header so neither moves alone. */
static uint64_t
run_table_sum(const struct run_hdr *rh, const struct run_ent *ent)
{
	return (XXH3_64bits_withSeed(ent, rh->nbuckets * sizeof *ent,
	    rh->records ^ (uint64_t)rh->magic << 32 ^ rh->nbuckets));
}

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
		    hdr.sum != runfile_hdr_sum(&hdr) ||
		    hdr.nbuckets != nbuckets ||
		    hdr.schema != (uint32_t)(kt | vt << 1) ||
		    runfile_check_tmp(rf->tmp, nbuckets, len, runs) != 0) {
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
	hdr.sum = runfile_hdr_sum(&hdr);
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
 * Write a run: its header, its table ent (each bucket's count and sum), and
 * its data, len bytes holding records records.
 */
static int
runfile_put_run(struct runfile *rf, struct run_ent *ent, const void *data,
    uint64_t len, uint64_t records)
{
	struct run_hdr	hdr;

	memset(&hdr, 0, sizeof hdr);
	hdr.magic = RUN_MAGIC;
	hdr.nbuckets = rf->nbuckets;
	hdr.records = records;
	hdr.sum = run_table_sum(&hdr, ent);
	if (write_all(rf->fd, &hdr, sizeof hdr) != 0 ||
	    write_all(rf->fd, ent, rf->nbuckets * sizeof *ent) != 0 ||
	    write_all(rf->fd, data, len) != 0)
		return (-1);
	rf->len += sizeof hdr + rf->nbuckets * sizeof *ent + len;
	rf->runs++;
	rf->records += records;
	return (0);
}

/*
 * A run of one bucket written as it comes (a merge's output, too big to
 * hold): runfile_run_begin() leaves room for the run's header and table,
 * runfile_run_put() adds records' bytes through a buffer, and
 * runfile_run_end() writes the header and table, with the sum of all.
 */
struct runfile_stream {
	uint64_t	 start;		/* where the run begins */
	uint64_t	 bytes;
	uint64_t	 records;
	XXH3_state_t	*sum;
	char		*buf;
	size_t		 blen;
};

#define RUN_STREAM_BUF	((size_t)1 << 20)

int
runfile_run_begin(struct runfile *rf)
{
	struct runfile_stream	*s;
	size_t			 head = sizeof (struct run_hdr) +
				    sizeof (struct run_ent);

	if (rf->nbuckets != 1 || rf->stream != NULL) {
		errno = EINVAL;
		return (-1);
	}
	s = xcalloc(1, sizeof *s);
	s->start = rf->len;
	if ((s->sum = XXH3_createState()) == NULL)
		fatalx("out of memory");
	XXH3_64bits_reset(s->sum);
	s->buf = xmalloc(RUN_STREAM_BUF);
	rf->stream = s;
	/* The header and table, written for real at the end. */
	memset(s->buf, 0, head);
	if (write_all(rf->fd, s->buf, head) != 0)
		return (-1);
	rf->len += head;
	return (0);
}

static int
runfile_run_flush(struct runfile *rf)
{
	struct runfile_stream	*s = rf->stream;

	if (s->blen == 0)
		return (0);
	XXH3_64bits_update(s->sum, s->buf, s->blen);
	if (write_all(rf->fd, s->buf, s->blen) != 0)
		return (-1);
	rf->len += s->blen;
	s->bytes += s->blen;
	s->blen = 0;
	return (0);
}

/* Add one record (k, v) of the file's types to the run being written. */
int
runfile_run_put(struct runfile *rf, int64_t k, int64_t v)
{
	struct runfile_stream	*s = rf->stream;
	size_t			 need;
	char			*p;

	need = val_size(rf->kt, k) + val_size(rf->vt, v);
	if (s->blen + need > RUN_STREAM_BUF && runfile_run_flush(rf) != 0)
		return (-1);
	if (need > RUN_STREAM_BUF) {
		/* A record larger than the buffer: its own write. */
		p = xmalloc(need);
		val_put(rf->vt, val_put(rf->kt, p, k), v);
		XXH3_64bits_update(s->sum, p, need);
		if (write_all(rf->fd, p, need) != 0) {
			free(p);
			return (-1);
		}
		free(p);
		rf->len += need;
		s->bytes += need;
	} else {
		p = val_put(rf->kt, s->buf + s->blen, k);
		p = val_put(rf->vt, p, v);
		s->blen += need;
	}
	s->records++;
	return (0);
}

/* End the run: write its header and table where runfile_run_begin left
 * room. */
int
runfile_run_end(struct runfile *rf)
{
	struct runfile_stream	*s = rf->stream;
	struct run_hdr		 hdr;
	struct run_ent		 ent;
	char			 head[sizeof hdr + sizeof ent];
	int			 r = -1;

	if (runfile_run_flush(rf) != 0)
		goto out;
	memset(&hdr, 0, sizeof hdr);
	memset(&ent, 0, sizeof ent);
	hdr.magic = RUN_MAGIC;
	hdr.nbuckets = 1;
	hdr.records = s->records;
	/* An integer file counts records, a typed one bytes. */
	ent.count = rf->kt == VT_INT && rf->vt == VT_INT ? s->records :
	    s->bytes;
	ent.sum = XXH3_64bits_digest(s->sum);
	hdr.sum = run_table_sum(&hdr, &ent);
	memcpy(head, &hdr, sizeof hdr);
	memcpy(head + sizeof hdr, &ent, sizeof ent);
	if (pwrite(rf->fd, head, sizeof head, (off_t)s->start) !=
	    (ssize_t)sizeof head)
		goto out;
	rf->runs++;
	rf->records += s->records;
	r = 0;
out:
	XXH3_freeState(s->sum);
	free(s->buf);
	free(s);
	rf->stream = NULL;
	return (r);
}

/*
 * Append a run: counts[b] records for each bucket b, stored one bucket
 * after the other in pairs.
 */
int
runfile_append(struct runfile *rf, const struct pair *pairs,
    const uint64_t *counts)
{
	struct run_ent	*ent;
	uint64_t	 n = 0;
	unsigned int	 b;
	int		 r;

	ent = xcalloc(rf->nbuckets, sizeof *ent);
	for (b = 0; b < rf->nbuckets; b++) {
		ent[b].count = counts[b];
		ent[b].sum = XXH3_64bits(pairs + n, counts[b] * sizeof *pairs);
		n += counts[b];
	}
	r = runfile_put_run(rf, ent, pairs, n * sizeof *pairs, n);
	free(ent);
	return (r);
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
	struct run_ent	*ent;
	uint64_t	 n = 0, i, total = 0;
	unsigned int	 b;
	char		*buf, *p, *q;
	int		 ret;

	if (rf->kt == VT_INT && rf->vt == VT_INT)
		return (runfile_append(rf, r, counts));
	ent = xcalloc(rf->nbuckets, sizeof *ent);
	for (b = 0; b < rf->nbuckets; b++) {
		for (i = 0; i < counts[b]; i++, n++)
			ent[b].count += val_size(rf->kt, r[n].k) +
			    val_size(rf->vt, r[n].v);
		total += ent[b].count;
		progress();
	}
	buf = xmalloc(total + 1);
	p = buf;
	for (b = 0, n = 0; b < rf->nbuckets; b++) {
		q = p;
		for (i = 0; i < counts[b]; i++, n++) {
			p = val_put(rf->kt, p, r[n].k);
			p = val_put(rf->vt, p, r[n].v);
			if ((n & 0xffff) == 0)
				progress();
		}
		ent[b].sum = XXH3_64bits(q, (size_t)(p - q));
	}
	ret = runfile_put_run(rf, ent, buf, total, n);
	free(buf);
	free(ent);
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
		part[i] = rf->keytail ? (unsigned int)(((unsigned __int128)
		    keyorder_tail(str_of(r[i].k)->s, str_of(r[i].k)->len) *
		    rf->nbuckets) >> 64) : part_of(rf->kt, r[i].k, rf->nbuckets);
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
	hdr.sum = runfile_hdr_sum(&hdr);
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
	if (rf->stream != NULL) {
		XXH3_freeState(rf->stream->sum);
		free(rf->stream->buf);
		free(rf->stream);
		rf->stream = NULL;
	}
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
 * them.  Returns 0, or -1 with errno set (EINVAL: not a whole run file, or
 * a header or table whose checksum fails).
 */
int
runfile_used(const char *path, unsigned int nbuckets, uint8_t *used)
{
	struct runfile_hdr	 hdr;
	struct run_hdr		 rh;
	struct run_ent		*ent;
	uint64_t		 off, sum;
	unsigned int		 r, b;
	int			 fd, saved_errno;

	memset(used, 0, (nbuckets + 7) / 8);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	errno = 0;
	ent = xcalloc(nbuckets, sizeof *ent);
	if (pread(fd, &hdr, sizeof hdr, 0) != sizeof hdr ||
	    memcmp(hdr.magic, RUNFILE_MAGIC, sizeof hdr.magic) != 0 ||
	    hdr.sum != runfile_hdr_sum(&hdr) || hdr.nbuckets != nbuckets)
		goto bad;
	off = sizeof hdr;
	for (r = 0; r < hdr.runs; r++) {
		progress();
		if (pread(fd, &rh, sizeof rh, (off_t)off) != sizeof rh ||
		    rh.magic != RUN_MAGIC || rh.nbuckets != nbuckets ||
		    pread(fd, ent, nbuckets * sizeof *ent,
		    (off_t)(off + sizeof rh)) != (ssize_t)(nbuckets *
		    sizeof *ent) || rh.sum != run_table_sum(&rh, ent))
			goto bad;
		sum = 0;
		for (b = 0; b < nbuckets; b++) {
			if (ent[b].count != 0)
				used[b / 8] |= (uint8_t)(1u << (b % 8));
			sum += ent[b].count;
		}
		/* Typed runs count bytes; integer runs count pairs. */
		off += sizeof rh + nbuckets * sizeof *ent +
		    (hdr.schema != 0 ? sum : sum * sizeof(struct pair));
		if (off > hdr.length)
			goto bad;
	}
	if (off != hdr.length)
		goto bad;
	free(ent);
	close(fd);
	return (0);

bad:
	saved_errno = errno;
	free(ent);
	close(fd);
	errno = saved_errno != 0 ? saved_errno : EINVAL;
	return (-1);
}

/*
 * Walk the runs of a mapped file up to len, checking each header and
 * table, and note where each run's buckets are.  Returns the number of
 * runs, or -1 with sf->bad set to where the damage is.
 */
static int
shuffle_walk(struct shuffle_file *sf, uint64_t len, unsigned int maxruns)
{
	struct run_hdr	 rh;
	struct run_ent	 e;
	uint64_t	 off = sizeof(struct runfile_hdr), sum, at;
	unsigned int	 r = 0, b;
	size_t		 i;

	while (off < len && r < maxruns) {
		progress();
		sf->bad = off;
		if (len - off < sizeof rh)
			return (-1);
		memcpy(&rh, sf->map + off, sizeof rh);
		if (rh.magic != RUN_MAGIC || rh.nbuckets != sf->nparts)
			return (-1);
		off += sizeof rh;
		if ((len - off) / sizeof e < sf->nparts ||
		    rh.sum != run_table_sum(&rh,
		    (const struct run_ent *)(sf->map + off)))
			return (-1);
		at = off + (uint64_t)sf->nparts * sizeof e;
		sum = 0;
		sf->runoff = xreallocarray(sf->runoff,
		    ((size_t)r + 1) * sf->nparts, sizeof *sf->runoff);
		sf->runcount = xreallocarray(sf->runcount,
		    ((size_t)r + 1) * sf->nparts, sizeof *sf->runcount);
		sf->runsum = xreallocarray(sf->runsum,
		    ((size_t)r + 1) * sf->nparts, sizeof *sf->runsum);
		for (b = 0; b < sf->nparts; b++) {
			memcpy(&e, sf->map + off + b * sizeof e, sizeof e);
			i = (size_t)r * sf->nparts + b;
			if (sf->schema != 0) {
				/* Lengths in bytes, of whole fields. */
				if (e.count > len - at - sum ||
				    (e.count & 3) != 0)
					return (-1);
				sf->runoff[i] = at + sum;
			} else {
				if (e.count > (len - at) / sizeof(struct pair) -
				    sum)
					return (-1);
				sf->runoff[i] = at + sum * sizeof(struct pair);
			}
			sf->runcount[i] = e.count;
			sf->runsum[i] = e.sum;
			sum += e.count;
		}
		if (sf->schema == 0 && sum != rh.records)
			return (-1);
		sf->records += rh.records;
		off = at + (sf->schema != 0 ? sum : sum * sizeof(struct pair));
		r++;
	}
	sf->bad = off;
	if (off != len)
		return (-1);
	sf->bad = 0;
	return ((int)r);
}

/*
 * Map a run file and check its header and every run's table.  A sealed
 * file must be whole; with len > 0 the file is one still being written,
 * valid up to len.  Returns 0, or -1 with *cause set (naming the offset
 * of damage, which is also in sf->bad; sf->damaged says it is damage
 * rather than a file that cannot be read).
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
		sf->damaged = errno == ENOENT;
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
		sf->damaged = 1;
		sf->bad = sf->len;
		xasprintf(cause, "%s: truncated at %zu bytes", path, sf->len);
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
	sf->damaged = 1;
	if (hdr.sum != runfile_hdr_sum(&hdr)) {
		xasprintf(cause, "%s: damaged at offset 0 (its header)", path);
		goto fail;
	}
	/* Whole, but not what this job's readers expect here. */
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
		sf->bad = hdr.length < sf->len ? hdr.length : sf->len;
		xasprintf(cause, "%s: %s at offset %llu", path,
		    hdr.length < sf->len ? "damaged" : "truncated",
		    (unsigned long long)sf->bad);
		goto fail;
	}
	n = shuffle_walk(sf, len > 0 ? len : sf->len,
	    len > 0 ? UINT32_MAX : hdr.runs);
	if (n >= 0 && len == 0 && (unsigned int)n != hdr.runs)
		sf->bad = sf->len;	/* fewer runs than sealed */
	if (n < 0 || (len == 0 && (unsigned int)n != hdr.runs)) {
		xasprintf(cause, "%s: damaged at offset %llu (a run's table)",
		    path, (unsigned long long)sf->bad);
		goto fail;
	}
	sf->runs = (unsigned int)n;
	sf->damaged = 0;
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

/*
 * Check bucket p of run r against its sum: 0, or -1 with sf->bad set to
 * its offset.
 */
int
shuffle_check(struct shuffle_file *sf, unsigned int r, unsigned int p)
{
	size_t	i = (size_t)r * sf->nparts + p;
	size_t	bytes = (size_t)(sf->schema == 0 ? sf->runcount[i] *
	    sizeof(struct pair) : sf->runcount[i]);

	if (XXH3_64bits(sf->map + sf->runoff[i], bytes) == sf->runsum[i])
		return (0);
	sf->bad = sf->runoff[i];
	sf->damaged = 1;
	return (-1);
}

/* Check every bucket of every run: 0, or -1 with sf->bad set. */
int
shuffle_check_all(struct shuffle_file *sf)
{
	unsigned int	r, p;

	for (r = 0; r < sf->runs; r++) {
		for (p = 0; p < sf->nparts; p++) {
			if (shuffle_check(sf, r, p) != 0)
				return (-1);
		}
		progress();
	}
	return (0);
}

/* Where runfile_check_tmp() found damage. */
uint64_t	runfile_bad;

/*
 * Check the runs of a run file being written, up to the length len of a
 * checkpoint (where runs runs end), before a worker appends to it again.
 */
int
runfile_check_tmp(const char *path, unsigned int nbuckets, uint64_t len,
    unsigned int runs)
{
	struct shuffle_file	 sf;
	char			*cause;
	int			 r;

	runfile_bad = 0;
	if (shuffle_open_len(&sf, path, nbuckets, len, &cause) != 0) {
		log_warnx("%s", cause);
		free(cause);
		runfile_bad = sf.bad;
		return (-1);
	}
	r = sf.runs == runs ? shuffle_check_all(&sf) : -1;
	runfile_bad = sf.bad;
	if (r != 0)
		log_warnx("%s: damaged at offset %llu", path,
		    (unsigned long long)sf.bad);
	shuffle_close(&sf);
	return (r);
}

/* Bucket p of run r, its bytes, as found (one checked already). */
const char *
shuffle_bytes(const struct shuffle_file *sf, unsigned int r, unsigned int p,
    size_t *bytes)
{
	size_t	i = (size_t)r * sf->nparts + p;

	*bytes = (size_t)(sf->schema == 0 ? sf->runcount[i] *
	    sizeof(struct pair) : sf->runcount[i]);
	return (sf->map + sf->runoff[i]);
}

/*
 * Find bucket p of run r of a file of any types, checked: its bytes, or
 * NULL if its checksum fails (sf->bad is then its offset).
 */
const char *
shuffle_bucket(struct shuffle_file *sf, unsigned int r, unsigned int p,
    size_t *bytes)
{
	if (shuffle_check(sf, r, p) != 0) {
		*bytes = 0;
		return (NULL);
	}
	return (shuffle_bytes(sf, r, p, bytes));
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

/*
 * Find bucket p of run r, checked: its records and their number, or NULL
 * if its checksum fails.
 */
const struct pair *
shuffle_segment(struct shuffle_file *sf, unsigned int r, unsigned int p,
    size_t *count)
{
	size_t	i = (size_t)r * sf->nparts + p;

	*count = (size_t)sf->runcount[i];
	if (shuffle_check(sf, r, p) != 0)
		return (NULL);
	return ((const struct pair *)(sf->map + sf->runoff[i]));
}

/*
 * A file that a merge reads many runs of at once: no read-ahead of the
 * kernel's, each source reads ahead for itself (see merge.c).
 */
void
shuffle_for_merge(struct shuffle_file *sf)
{
	(void)madvise(sf->map, sf->len, MADV_RANDOM);
}

/* Add the range [off, off + len) to the n pairs of *e (a allocated). */
static void
extent_add(uint64_t **e, size_t *n, size_t *a, uint64_t off, uint64_t len)
{
	uint64_t	*last;

	if (len == 0)
		return;
	last = *n > 0 ? *e + 2 * (*n - 1) : NULL;
	if (last != NULL && last[0] + last[1] == off) {
		last[1] += len;
		return;
	}
	if (*n == *a) {
		*a = *a == 0 ? 64 : *a * 2;
		*e = xreallocarray(*e, *a, 2 * sizeof **e);
	}
	(*e)[2 * *n] = off;
	(*e)[2 * *n + 1] = len;
	(*n)++;
}

/*
 * The byte ranges of an opened file that a host whose partitions are set
 * in the bitmap keep reads: the header, each run's header and table, and
 * the kept buckets, adjacent ones joined, as (offset, length) pairs in
 * *ext.  Returns the number of pairs.  Written at the same offsets into a
 * file of the same length, they make one that this host's readers take
 * for the whole: they check only their own buckets.
 */
size_t
shuffle_extents(const struct shuffle_file *sf, const uint8_t *keep,
    uint64_t **ext)
{
	uint64_t	 table, bytes;
	size_t		 n = 0, a = 0, i;
	unsigned int	 r, b;

	*ext = NULL;
	table = sizeof(struct run_hdr) + (uint64_t)sf->nparts *
	    sizeof(struct run_ent);
	extent_add(ext, &n, &a, 0, sizeof(struct runfile_hdr));
	for (r = 0; r < sf->runs; r++) {
		i = (size_t)r * sf->nparts;
		extent_add(ext, &n, &a, sf->runoff[i] - table, table);
		for (b = 0; b < sf->nparts; b++, i++) {
			if (!(keep[b / 8] & (1u << (b % 8))))
				continue;
			bytes = sf->schema == 0 ? sf->runcount[i] *
			    sizeof(struct pair) : sf->runcount[i];
			extent_add(ext, &n, &a, sf->runoff[i], bytes);
		}
	}
	return (n);
}

void
shuffle_close(struct shuffle_file *sf)
{
	if (sf->map != NULL)
		munmap(sf->map, sf->len);
	sf->map = NULL;
	free(sf->runoff);
	free(sf->runcount);
	free(sf->runsum);
	sf->runoff = NULL;
	sf->runcount = NULL;
	sf->runsum = NULL;
}
