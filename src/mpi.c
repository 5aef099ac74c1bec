/* forkflow: see LICENSE. */
/*
 * Several hosts, on Open MPI: each rank (`forkflow run --mpi`, started by
 * mpi-launch.c's `forkflow run --hosts`, by mpirun or by srun) is the
 * supervisor of the partitions p with p % hosts == rank, with a job
 * directory of its own.
 * At a stage's barrier the ranks OR their "used" matrices together, and
 * each sends the buckets of its writers' run files to the hosts whose
 * partitions read them (non-blocking requests the supervisor tests from
 * its loop); the receiver writes them at their places in files of the
 * same names, so the next stage reads what one host would.  A last
 * barrier makes the stage committed on every host before any commits it.
 * At the end the parts, counters and events go to rank 0, which verifies
 * and prints the result as one host does.  The supervisors hear each
 * other's heartbeats all along (mpi-hb.c).  Workers never call MPI.
 *
 * Built without Open MPI, --mpi and --hosts say so and nothing else here
 * is reached.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#ifdef HAVE_MPI
#include <mpi.h>
#endif

#include "forkflow.h"
#include "mpi-int.h"

#define MPI_CHUNK	(4u << 20)	/* bytes of one message of a file */
#define MPI_MAXFD	1024		/* the descriptors looked at */

#ifdef HAVE_MPI

struct mpi_xchg;
static int	 mpi_gather_files(struct mpi_xchg *);
static int	 mpi_xchg_progress(struct mpi_xchg *);
static void	 mpi_asks_end(void);
static MPI_Comm	 mpi_asks = MPI_COMM_NULL;
static MPI_Comm	 mpi_world = MPI_COMM_NULL;	/* this job's own */
static int	 mpi_up;
static int	 mpi_pool;		/* MPI outlives the job (mpi_pool_init) */
static char	*mpi_names;		/* each rank's host name */
static double	*mpi_clock;		/* each rank's wall - monotonic time */
static uint8_t	 mpi_fds[MPI_MAXFD / 8];	/* MPI's own descriptors */

#define MPI_HOSTNAME	64

/* The name of rank r's host. */
const char *
mpi_host(int r)
{
	if (mpi_names == NULL || r < 0)
		return ("?");
	return (mpi_names + (size_t)r * MPI_HOSTNAME);
}

/* Note the descriptors open now in set (a bit each). */
static void
mpi_fds_open(uint8_t *set)
{
	DIR		*d;
	struct dirent	*e;
	long		 fd;

	memset(set, 0, MPI_MAXFD / 8);
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		fd = strtol(e->d_name, NULL, 10);
		if (e->d_name[0] != '.' && fd >= 0 && fd < MPI_MAXFD &&
		    fd != dirfd(d))
			set[fd / 8] |= 1u << (fd % 8);
	}
	closedir(d);
}

/*
 * Start MPI and set job's rank and hosts.  Returns 0, or -1 with *cause
 * set.
 */
/* Start MPI: returns 0, or -1 with *cause set. */
static int
mpi_init(char **cause)
{
	uint8_t	before[MPI_MAXFD / 8];
	int	provided, i;

	mpi_fds_open(before);
	if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) !=
	    MPI_SUCCESS) {
		xasprintf(cause, "MPI_Init failed");
		return (-1);
	}
	mpi_up = 1;
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	mpi_fds_open(mpi_fds);
	for (i = 0; i < MPI_MAXFD / 8; i++)
		mpi_fds[i] &= (uint8_t)~before[i];
	return (0);
}

/*
 * Start MPI for a pool's rank (forkflow pool), whose jobs come one after
 * the other: mpi_start() and mpi_end() then leave MPI up.  Returns 0 with
 * this rank and the number of ranks, or -1 with *cause set.
 */
int
mpi_pool_init(int *rank, int *size, char **cause)
{
	if (mpi_init(cause) != 0)
		return (-1);
	mpi_pool = 1;
	MPI_Comm_rank(MPI_COMM_WORLD, rank);
	MPI_Comm_size(MPI_COMM_WORLD, size);
	return (0);
}

/*
 * Rank 0's request, len bytes at *req (NULL at the end), given to every
 * rank: the others get a copy to free.  Returns 0, or -1 if MPI failed.
 */
int
mpi_pool_bcast(char **req, size_t *len)
{
	unsigned long long	n = *req != NULL ? *len + 1 : 0;
	struct timespec		ts = { 0, 0 };
	MPI_Request		r;
	int			rank, done = 0;

	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	/* A blocking wait would spin on a core between jobs: the ranks
	 * look every 10 ms at most. */
	if (MPI_Ibcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD,
	    &r) != MPI_SUCCESS)
		return (-1);
	while (MPI_Test(&r, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS &&
	    !done) {
		ts.tv_nsec = ts.tv_nsec == 0 ? 100000 : ts.tv_nsec >= 5000000 ?
		    10000000 : 2 * ts.tv_nsec;
		(void)nanosleep(&ts, NULL);
	}
	if (!done || n > INT_MAX)
		return (-1);
	if (rank != 0)
		*req = n > 0 ? xmalloc((size_t)n) : NULL;
	*len = n > 0 ? (size_t)n - 1 : 0;
	if (n > 0 && MPI_Bcast(*req, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD) !=
	    MPI_SUCCESS)
		return (-1);
	return (0);
}

/* The end of a pool's rank: its last job is done. */
void
mpi_pool_end(void)
{
	mpi_pool = 0;
	mpi_end();
}

/*
 * Start MPI, or a pool's next job on it, and set job's rank and hosts.
 * Each job talks on communicators of its own.  Returns 0, or -1 with
 * *cause set.
 */
int
mpi_start(struct job *job, char **cause)
{
	char	name[MPI_HOSTNAME];
	double	off;
	int	rank, size;

	if (!mpi_pool && mpi_init(cause) != 0)
		return (-1);
	if (MPI_Comm_dup(MPI_COMM_WORLD, &mpi_world) != MPI_SUCCESS) {
		xasprintf(cause, "MPI_Comm_dup failed");
		return (-1);
	}
	MPI_Comm_set_errhandler(mpi_world, MPI_ERRORS_RETURN);
	MPI_Comm_rank(mpi_world, &rank);
	MPI_Comm_size(mpi_world, &size);
	job->rank = (unsigned int)rank;
	job->nhosts = (unsigned int)size;
	memset(name, 0, sizeof name);
	if (gethostname(name, sizeof name - 1) != 0)
		name[0] = '?';
	mpi_names = xcalloc((size_t)size, MPI_HOSTNAME);
	mpi_clock = xcalloc((size_t)size, sizeof *mpi_clock);
	off = wall_now() - mono_now();
	if (MPI_Allgather(name, MPI_HOSTNAME, MPI_CHAR, mpi_names,
	    MPI_HOSTNAME, MPI_CHAR, mpi_world) != MPI_SUCCESS ||
	    MPI_Allgather(&off, 1, MPI_DOUBLE, mpi_clock, 1, MPI_DOUBLE,
	    mpi_world) != MPI_SUCCESS) {
		xasprintf(cause, "MPI_Allgather failed");
		return (-1);
	}
	if (MPI_Comm_dup(mpi_world, &mpi_asks) != MPI_SUCCESS) {
		xasprintf(cause, "MPI_Comm_dup failed");
		return (-1);
	}
	MPI_Comm_set_errhandler(mpi_asks, MPI_ERRORS_RETURN);
	return (mpi_hb_start(mpi_world, size, cause));
}

/*
 * In a worker, just forked: close what MPI opened in the supervisor (its
 * descriptors of MPI_Init, and its sockets since), all but keep.
 */
void
mpi_child_close(int keep)
{
	struct stat	st;
	int		fd;

	if (!mpi_up)
		return;
	for (fd = 3; fd < MPI_MAXFD; fd++) {
		if (fd == keep)
			continue;
		if ((mpi_fds[fd / 8] & (1u << (fd % 8))) ||
		    (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)))
			(void)close(fd);
	}
}

/* Stop the whole job, on every host, with status. */
void
mpi_abort(int status)
{
	if (mpi_up) {
		/* What this process said reaches mpirun through its host's
		 * daemon, which stops it once MPI_Abort is called: a second
		 * for that, since it is how the launcher knows. */
		sleep(1);
		/* MPI_Abort may wait for a host that cannot be reached. */
		alarm(10);
		MPI_Abort(MPI_COMM_WORLD, status);
	}
	_exit(status);
}

/* The end of a job's MPI once every rank is done, and of MPI but in a pool. */
void
mpi_end(void)
{
	if (mpi_up) {
		mpi_hb_end();
		mpi_asks_end();
		if (mpi_world != MPI_COMM_NULL)
			MPI_Comm_free(&mpi_world);
		if (!mpi_pool) {
			MPI_Finalize();
			mpi_up = 0;
			mpi_hb_free();
		}
	}
	free(mpi_names);
	mpi_names = NULL;
	free(mpi_clock);
	mpi_clock = NULL;
}

/* --- Files between hosts ------------------------------------------------- */

/*
 * A file goes as its length, the number of its ranges and the XXH3 of
 * their bytes; then the ranges, (offset, length) pairs; then their bytes,
 * in groups of at most MPI_GROUP bytes, each one message of an hindexed
 * datatype over the file mapped on both sides, so that nothing is copied.
 * A run file sends only the ranges the receiver's partitions read (see
 * shuffle_extents); the receiver writes them at their offsets in a file of
 * the same length, whose other bytes are holes that no reader visits.
 */
#define MPI_GROUP	(64u << 20)	/* bytes of a message at most */
#define MPI_PIECES	4096		/* ranges of a message at most */

/* A file being received. */
struct xfile {
	char		*path;		/* its name, to be */
	char		*tmp;		/* what is written */
	uint64_t	 hdr[3];	/* length, ranges, sum */
	uint64_t	*ext;
	int		 src;
	int		 tag;
	int		 fd;
	char		*map;
	unsigned int	 left;		/* groups not yet received */
};

/* A file being sent, mapped once whatever the ranks it goes to. */
struct smap {
	struct shuffle_file	 sf;	/* a run file, or only map and len */
	int			 run;
};

/* What goes to one rank of a file being sent. */
struct sfile {
	uint64_t	 hdr[3];
	uint64_t	*ext;
};

struct mpi_xchg {
	const struct job *job;
	MPI_Comm	 comm;		/* the world's, or the asks' */
	uint32_t	 ask[4];	/* an ask: stage, part, id; 0 */
	uint64_t	 none[3];	/* the header of a file not sent */
	int		 phase;		/* 0 used, 1 files, 2 barrier, 3 done */
	uint8_t		*used;
	size_t		 usedlen;
	MPI_Request	*req;
	int		*what;		/* per request: -1 sent, -2 other; or
					 * 3 * file + 0 (its header), 1 (its
					 * ranges) or 2 (a group of bytes) */
	int		 nreq;
	int		 areq;
	struct xfile	**rx;		/* each in place: MPI writes its hdr */
	size_t		 nrx;
	struct sfile	**tx;
	size_t		 ntx;
	struct smap	**maps;
	size_t		 nmaps;
	double		 moved;		/* when a request last completed */
	int		 gather;	/* the parts to rank 0, not a stage */
	char		*cause;
};

static void
mpi_xchg_add(struct mpi_xchg *x, MPI_Request r, int what)
{
	if (x->nreq == x->areq) {
		x->areq = x->areq == 0 ? 64 : x->areq * 2;
		x->req = xreallocarray(x->req, (size_t)x->areq,
		    sizeof *x->req);
		x->what = xreallocarray(x->what, (size_t)x->areq,
		    sizeof *x->what);
	}
	x->req[x->nreq] = r;
	x->what[x->nreq] = what;
	x->nreq++;
}

/* The XXH3 of the bytes of n ranges ext of map. */
static uint64_t
mpi_ext_sum(const char *map, const uint64_t *ext, uint64_t n)
{
	XXH3_state_t	*st;
	uint64_t	 i, sum;

	if ((st = XXH3_createState()) == NULL)
		fatalx("out of memory");
	XXH3_64bits_reset(st);
	for (i = 0; i < n; i++)
		XXH3_64bits_update(st, map + ext[2 * i], ext[2 * i + 1]);
	sum = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return (sum);
}

/*
 * Post the messages of ranges ext (n of them) of map, sent to or received
 * from peer under tag: one hindexed datatype per group of at most MPI_GROUP
 * bytes and MPI_PIECES ranges, a range cut at MPI_CHUNK.  Returns the
 * number of groups, or -1.
 */
static int
mpi_ext_post(struct mpi_xchg *x, char *map, const uint64_t *ext, uint64_t n,
    int peer, int tag, int send, int what)
{
	MPI_Datatype	 type;
	MPI_Request	 r;
	MPI_Aint	*displ;
	int		*lens, k = 0, groups = 0, rc;
	uint64_t	 i, off, left, bytes = 0, piece;

	lens = xcalloc(MPI_PIECES, sizeof *lens);
	displ = xcalloc(MPI_PIECES, sizeof *displ);
	for (i = 0; i <= n; i++) {
		off = i < n ? ext[2 * i] : 0;
		left = i < n ? ext[2 * i + 1] : 0;
		do {
			piece = left < MPI_CHUNK ? left : MPI_CHUNK;
			if (k > 0 && (i == n || bytes + piece > MPI_GROUP ||
			    k == MPI_PIECES)) {
				/* The group so far, one message. */
				if (MPI_Type_create_hindexed(k, lens, displ,
				    MPI_BYTE, &type) != MPI_SUCCESS ||
				    MPI_Type_commit(&type) != MPI_SUCCESS)
					goto fail;
				rc = send ? MPI_Isend(map, 1, type, peer, tag,
				    x->comm, &r) : MPI_Irecv(map, 1, type,
				    peer, tag, x->comm, &r);
				/* Freed once the request is done. */
				MPI_Type_free(&type);
				if (rc != MPI_SUCCESS)
					goto fail;
				mpi_xchg_add(x, r, what);
				groups++;
				k = 0;
				bytes = 0;
			}
			if (piece == 0)
				break;
			lens[k] = (int)piece;
			displ[k] = (MPI_Aint)off;
			k++;
			bytes += piece;
			off += piece;
			left -= piece;
		} while (left > 0);
	}
	free(lens);
	free(displ);
	return (groups);
fail:
	free(lens);
	free(displ);
	return (-1);
}

/*
 * Map the file at path for sending: a run file of nbuckets buckets,
 * checked (run), or any file.  Unmapped with the exchange.  Returns it,
 * or NULL with x->cause.
 */
static struct smap *
mpi_send_map(struct mpi_xchg *x, const char *path, int run,
    unsigned int nbuckets)
{
	struct smap	*m;
	struct stat	 st;
	int		 fd;

	m = xcalloc(1, sizeof *m);
	x->maps = xreallocarray(x->maps, x->nmaps + 1, sizeof *x->maps);
	x->maps[x->nmaps++] = m;
	m->run = run;
	if (run)
		return (shuffle_open(&m->sf, path, nbuckets, &x->cause) == 0 ?
		    m : NULL);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) != 0) {
		xasprintf(&x->cause, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return (NULL);
	}
	m->sf.len = (size_t)st.st_size;
	if (m->sf.len > 0 && (m->sf.map = mmap(NULL, m->sf.len, PROT_READ,
	    MAP_SHARED, fd, 0)) == MAP_FAILED) {
		m->sf.map = NULL;
		xasprintf(&x->cause, "%s: %s", path, strerror(errno));
		close(fd);
		return (NULL);
	}
	close(fd);
	return (m);
}

/*
 * Send file m to rank dst under tags tag and tag + 1: the ranges of a run
 * file that the partitions set in keep read, or all of it (keep NULL).
 */
static int
mpi_send_file(struct mpi_xchg *x, const struct smap *m, const char *path,
    int dst, int tag, const uint8_t *keep)
{
	struct sfile	*f;
	MPI_Request	 r;
	uint64_t	 n;

	f = xcalloc(1, sizeof *f);
	x->tx = xreallocarray(x->tx, x->ntx + 1, sizeof *x->tx);
	x->tx[x->ntx++] = f;
	if (keep != NULL)
		n = shuffle_extents(&m->sf, keep, &f->ext);
	else {
		f->ext = xcalloc(2, sizeof *f->ext);
		f->ext[1] = m->sf.len;
		n = m->sf.len > 0;
	}
	f->hdr[0] = m->sf.len;
	f->hdr[1] = n;
	f->hdr[2] = mpi_ext_sum(m->sf.map, f->ext, n);
	if (MPI_Isend(f->hdr, 3, MPI_UINT64_T, dst, tag, x->comm, &r) !=
	    MPI_SUCCESS)
		goto fail;
	mpi_xchg_add(x, r, -1);
	if (n == 0)
		return (0);
	if (MPI_Isend(f->ext, (int)(2 * n), MPI_UINT64_T, dst, tag + 1,
	    x->comm, &r) != MPI_SUCCESS)
		goto fail;
	mpi_xchg_add(x, r, -1);
	if (mpi_ext_post(x, m->sf.map, f->ext, n, dst, tag + 1, 1, -1) < 0)
		goto fail;
	return (0);
fail:
	xasprintf(&x->cause, "sending %s to %s failed", path, mpi_host(dst));
	return (-1);
}

/* Send the whole file at path to rank dst under tags tag and tag + 1. */
static int
mpi_send_whole(struct mpi_xchg *x, const char *path, int dst, int tag)
{
	struct smap	*m;

	if ((m = mpi_send_map(x, path, 0, 0)) == NULL)
		return (-1);
	return (mpi_send_file(x, m, path, dst, tag, NULL));
}

/* Expect a file from rank src under tags tag and tag + 1, for path. */
static int
mpi_recv_file(struct mpi_xchg *x, char *path, int src, int tag)
{
	struct xfile	*f;
	MPI_Request	 r;

	f = xcalloc(1, sizeof *f);
	x->rx = xreallocarray(x->rx, x->nrx + 1, sizeof *x->rx);
	x->rx[x->nrx] = f;
	f->path = path;
	xasprintf(&f->tmp, "%s.recv", path);
	f->src = src;
	f->tag = tag;
	f->fd = -1;
	if (MPI_Irecv(f->hdr, 3, MPI_UINT64_T, src, tag, x->comm, &r) !=
	    MPI_SUCCESS) {
		xasprintf(&x->cause, "receiving %s from %s failed", path,
		    mpi_host(src));
		return (-1);
	}
	mpi_xchg_add(x, r, 3 * (int)x->nrx);
	x->nrx++;
	return (0);
}

/*
 * A message of file i came (what: 0 its header, 1 its ranges, 2 a group
 * of its bytes): ask for the next.  Returns 1 when the file is whole, 0
 * while more is to come, -1 with x->cause.
 */
static int
mpi_recv_step(struct mpi_xchg *x, size_t i, int what)
{
	struct xfile	*f = x->rx[i];
	MPI_Request	 r;
	uint64_t	 len = f->hdr[0], n = f->hdr[1], k;
	int		 groups;

	switch (what) {
	case 0:
		if (len == UINT64_MAX) {
			xasprintf(&x->cause, "%s: host %s could not send it "
			    "again", f->path, mpi_host(f->src));
			return (-1);
		}
		if (len > ((uint64_t)1 << 48) || n > len) {
			xasprintf(&x->cause, "%s: a malformed header from %s",
			    f->path, mpi_host(f->src));
			return (-1);
		}
		/* Its file is opened once its ranges are known, and closed
		 * once mapped: thousands of files may be on their way. */
		if (n == 0) {
			(void)unlink(f->tmp);
			if ((f->fd = open(f->tmp, O_RDWR | O_CREAT | O_TRUNC |
			    O_CLOEXEC, 0600)) == -1 || ftruncate(f->fd,
			    (off_t)len) != 0)
				goto fail;
			return (1);
		}
		f->ext = xcalloc((size_t)n, 2 * sizeof *f->ext);
		if (MPI_Irecv(f->ext, (int)(2 * n), MPI_UINT64_T, f->src,
		    f->tag + 1, x->comm, &r) != MPI_SUCCESS)
			goto mpifail;
		mpi_xchg_add(x, r, 3 * (int)i + 1);
		return (0);
	case 1:
		(void)unlink(f->tmp);
		if ((f->fd = open(f->tmp, O_RDWR | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600)) == -1 || ftruncate(f->fd, (off_t)len) != 0)
			goto fail;
		/* Room on the disk now: a full one is an error, not SIGBUS. */
		for (k = 0; k < n; k++) {
			if (f->ext[2 * k] > len || f->ext[2 * k + 1] > len -
			    f->ext[2 * k]) {
				xasprintf(&x->cause, "%s: a range out of the "
				    "file from %s", f->path, mpi_host(f->src));
				return (-1);
			}
			if ((errno = posix_fallocate(f->fd,
			    (off_t)f->ext[2 * k], (off_t)f->ext[2 * k + 1])) !=
			    0)
				goto fail;
		}
		if ((f->map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_SHARED, f->fd, 0)) == MAP_FAILED) {
			f->map = NULL;
			goto fail;
		}
		close(f->fd);
		f->fd = -1;
		if ((groups = mpi_ext_post(x, f->map, f->ext, n, f->src,
		    f->tag + 1, 0, 3 * (int)i + 2)) < 0)
			goto mpifail;
		f->left = (unsigned int)groups;
		return (f->left == 0);
	default:
		return (--f->left == 0);
	}
fail:
	xasprintf(&x->cause, "%s: %s", f->tmp, strerror(errno));
	return (-1);
mpifail:
	xasprintf(&x->cause, "receiving %s from %s failed", f->path,
	    mpi_host(f->src));
	return (-1);
}

/* File i is whole: check it and put it in place. */
static int
mpi_recv_done(struct mpi_xchg *x, size_t i)
{
	struct xfile	*f = x->rx[i];
	uint64_t	 len = f->hdr[0];
	int		 r = 0;

	if (f->hdr[1] > 0 && mpi_ext_sum(f->map, f->ext, f->hdr[1]) !=
	    f->hdr[2]) {
		xasprintf(&x->cause, "%s: damaged on its way from %s", f->path,
		    mpi_host(f->src));
		r = -1;
	}
	/* On disk before its name, as a run file of this host's is: with
	 * --durable.  Otherwise a file lost with its machine is damage, and
	 * asked for again. */
	if (r == 0 && x->job->opts->durable && ((f->map != NULL &&
	    msync(f->map, len, MS_SYNC) != 0) || (f->fd != -1 &&
	    fsync(f->fd) != 0)))
		r = -1;
	if (r == 0 && rename(f->tmp, f->path) != 0)
		r = -1;
	if (r != 0 && x->cause == NULL) {
		xasprintf(&x->cause, "%s: %s", f->path, strerror(errno));
		r = -1;
	}
	if (f->map != NULL)
		munmap(f->map, len);
	f->map = NULL;
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	return (r);
}

static void
mpi_xchg_free_files(struct mpi_xchg *x)
{
	size_t	i;

	for (i = 0; i < x->nrx; i++) {
		if (x->rx[i]->map != NULL)
			munmap(x->rx[i]->map, x->rx[i]->hdr[0]);
		if (x->rx[i]->fd != -1)
			close(x->rx[i]->fd);
		free(x->rx[i]->path);
		free(x->rx[i]->tmp);
		free(x->rx[i]->ext);
		free(x->rx[i]);
	}
	free(x->rx);
	x->rx = NULL;
	x->nrx = 0;
	for (i = 0; i < x->ntx; i++) {
		free(x->tx[i]->ext);
		free(x->tx[i]);
	}
	free(x->tx);
	x->tx = NULL;
	x->ntx = 0;
	for (i = 0; i < x->nmaps; i++) {
		if (x->maps[i]->run)
			shuffle_close(&x->maps[i]->sf);
		else if (x->maps[i]->sf.map != NULL)
			munmap(x->maps[i]->sf.map, x->maps[i]->sf.len);
		free(x->maps[i]);
	}
	free(x->maps);
	x->maps = NULL;
	x->nmaps = 0;
}

/* --- A stage's barrier ---------------------------------------------------- */

/* Do tags up to top fit this MPI's?  If not, say so in x->cause. */
static int
mpi_tags_fit(struct mpi_xchg *x, uint64_t top)
{
	int	*ub, flag = 0;

	if (MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &flag) !=
	    MPI_SUCCESS || !flag || top <= (uint64_t)*ub)
		return (1);
	xasprintf(&x->cause, "%u partitions and %zu stages need tags up to "
	    "%llu, past this MPI's %d", x->job->nparts,
	    x->job->plan->nstages, (unsigned long long)top, *ub);
	return (0);
}

/* Does rank r own a partition whose bit is set in row? */
static int
mpi_row_wants(const struct job *job, const uint8_t *row, unsigned int r)
{
	unsigned int	q;

	for (q = r; q < job->nparts; q += job->nhosts)
		if (row[q / 8] & (1u << (q % 8)))
			return (1);
	return (0);
}

/*
 * The used matrix is the same on every host: send each writer's run file
 * of stage s to the hosts that read it, and expect the others'.
 */
static int
mpi_stage_files(struct mpi_xchg *x, unsigned int s)
{
	const struct job	*job = x->job;
	size_t			 row = (job->nparts + 7) / 8;
	unsigned int		 p, r, me = job->rank;
	struct smap		*m;
	uint8_t			*keep;
	char			*path;

	if (!mpi_tags_fit(x, 2 * (uint64_t)job->nparts + 1))
		return (-1);
	/* Each host's partitions, the buckets it reads. */
	keep = xcalloc(job->nhosts, row);
	for (p = 0; p < job->nparts; p++)
		keep[(p % job->nhosts) * row + p / 8] |= 1u << (p % 8);
	for (p = 0; p < job->nparts; p++) {
		const uint8_t *u = x->used + (size_t)p * row;

		if (p % job->nhosts == me) {
			/* Mapped once, for every rank that reads it. */
			path = jd_run(job->jobdir, s, p);
			m = NULL;
			for (r = 0; r < job->nhosts; r++) {
				if (r == me || !mpi_row_wants(job, u, r))
					continue;
				if ((m == NULL && (m = mpi_send_map(x, path, 1,
				    job->nparts)) == NULL) || mpi_send_file(x,
				    m, path, (int)r, (int)(2 * p), keep +
				    r * row) != 0) {
					free(path);
					free(keep);
					return (-1);
				}
			}
			free(path);
		} else if (mpi_row_wants(job, u, me)) {
			if (mpi_recv_file(x, jd_run(job->jobdir, s, p),
			    (int)(p % job->nhosts), (int)(2 * p)) != 0) {
				free(keep);
				return (-1);
			}
		}
	}
	free(keep);
	return (0);
}

/*
 * Begin the barrier of the stage that ended: used is this host's matrix
 * (the rows of its writers), ORed with the other hosts' in place.
 */
struct mpi_xchg *
mpi_stage_begin(const struct job *job, uint8_t *used)
{
	struct mpi_xchg	*x;
	MPI_Request	 r;

	x = xcalloc(1, sizeof *x);
	x->job = job;
	x->comm = mpi_world;
	x->used = used;
	x->usedlen = (size_t)job->nparts * ((job->nparts + 7) / 8);
	x->moved = mono_now();
	if (MPI_Iallreduce(MPI_IN_PLACE, used, (int)x->usedlen, MPI_BYTE,
	    MPI_BOR, mpi_world, &r) != MPI_SUCCESS)
		xasprintf(&x->cause, "MPI_Iallreduce failed");
	else
		mpi_xchg_add(x, r, -2);
	return (x);
}

/*
 * Test x's requests; files whose last message came are checked and put
 * in place.  Returns 0, or -1 with x->cause.
 */
static int
mpi_xchg_progress(struct mpi_xchg *x)
{
	int	*idx, n, i, k, w, got, r = 0;

	idx = xcalloc((size_t)x->nreq, sizeof *idx);
	if (MPI_Testsome(x->nreq, x->req, &n, idx, MPI_STATUSES_IGNORE) !=
	    MPI_SUCCESS) {
		free(idx);
		xasprintf(&x->cause, "MPI_Testsome failed");
		return (-1);
	}
	if (n != MPI_UNDEFINED && n > 0)
		x->moved = mono_now();
	for (i = 0; n != MPI_UNDEFINED && i < n && r == 0; i++) {
		w = x->what[idx[i]];
		if (w < 0)
			continue;
		k = w / 3;
		if ((got = mpi_recv_step(x, (size_t)k, w % 3)) < 0 ||
		    (got == 1 && mpi_recv_done(x, (size_t)k) != 0))
			r = -1;
	}
	free(idx);
	/* Drop the requests that are done. */
	for (i = k = 0; i < x->nreq; i++) {
		if (x->req[i] != MPI_REQUEST_NULL) {
			x->req[k] = x->req[i];
			x->what[k++] = x->what[i];
		}
	}
	x->nreq = k;
	return (r);
}

/*
 * Move stage s's barrier on: 1 when it is done on every host, 0 while it
 * goes on, -1 with *cause when it cannot be, or has not moved for timeout
 * seconds.
 */
int
mpi_stage_test(struct mpi_xchg *x, unsigned int s, double timeout,
    char **cause)
{
	MPI_Request	 r;
	int		 done = 0;

	if (x->cause != NULL)
		goto fail;
	if (x->nreq > 0) {
		if (mpi_xchg_progress(x) < 0)
			goto fail;
		if (x->nreq > 0) {
			/* Waiting for the other hosts at a barrier is not a
			 * stall: their heartbeats say they live. */
			if (x->phase == 1 && mono_now() - x->moved > timeout) {
				xasprintf(&x->cause, "the shuffle of stage %u "
				    "made no progress for %.0f s", s, timeout);
				goto fail;
			}
			return (0);
		}
	}
	switch (x->phase) {
	case 0:
		x->phase = 1;
		if ((x->gather ? mpi_gather_files(x) :
		    mpi_stage_files(x, s)) != 0)
			goto fail;
		return (mpi_stage_test(x, s, timeout, cause));
	case 1:
		mpi_xchg_free_files(x);
		x->phase = 2;
		if (MPI_Ibarrier(mpi_world, &r) != MPI_SUCCESS) {
			xasprintf(&x->cause, "MPI_Ibarrier failed");
			goto fail;
		}
		mpi_xchg_add(x, r, -2);
		return (0);
	default:
		x->phase = 3;
		done = 1;
		break;
	}
	return (done);
fail:
	*cause = x->cause;
	x->cause = NULL;
	return (-1);
}

void
mpi_stage_free(struct mpi_xchg *x)
{
	if (x == NULL)
		return;
	mpi_xchg_free_files(x);
	free(x->req);
	free(x->what);
	free(x->cause);
	free(x);
}

/*
 * Wait for x to end, testing it every millisecond (no worker is left to
 * hear from).
 */
static int
mpi_xchg_wait(struct mpi_xchg *x, double timeout, char **cause)
{
	int	r;

	while ((r = mpi_stage_test(x, 0, timeout, cause)) == 0)
		usleep(1000);
	return (r < 0 ? -1 : 0);
}

/*
 * Rank 0: add the other hosts' events of their partitions (their files
 * events.rank-R) to the job's log, each with its host, at this host's
 * time (their monotonic clocks are set against it through the wall
 * clocks).  The events of the job and its stages are this host's.
 */
static void
mpi_merge_events(const struct job *job)
{
	FILE		*f;
	json_t		*o, *t;
	const char	*ev;
	char		*path, *line = NULL;
	size_t		 size = 0;
	unsigned int	 r;
	double		 shift;

	for (r = 1; r < job->nhosts; r++) {
		xasprintf(&path, "%s/events.rank-%u", job->jobdir, r);
		shift = mpi_clock[r] - mpi_clock[0];
		if ((f = fopen(path, "r")) != NULL) {
			while (getline(&line, &size, f) != -1) {
				if ((o = json_loads(line, 0, NULL)) == NULL)
					continue;
				ev = json_string_value(json_object_get(o,
				    "event"));
				t = json_object_get(o, "t");
				/* A partition's: the job's are rank 0's. */
				if (ev != NULL && json_object_get(o,
				    "partition") != NULL && json_is_number(t)) {
					json_object_set_new(o, "t", json_real(
					    json_number_value(t) + shift));
					json_object_set_new(o, "host",
					    json_string(mpi_host((int)r)));
					events_put(o);
				}
				json_decref(o);
			}
			fclose(f);
		}
		(void)unlink(path);
		free(path);
	}
	free(line);
}

/* The files of the gather: every host's parts, counters and events. */
static int
mpi_gather_files(struct mpi_xchg *x)
{
	const struct job	*job = x->job;
	unsigned int		 p, s, me = job->rank, ns = job->plan->nstages;
	char			*path;
	int			 tag;

	if (!mpi_tags_fit(x, 2 * ((uint64_t)job->nparts * (ns + 1) +
	    job->nhosts) + 1))
		return (-1);
	for (p = 0; p < job->nparts && x->cause == NULL; p++) {
		if (p % job->nhosts == 0)
			continue;
		for (s = 0; s <= ns && x->cause == NULL; s++) {
			/* Tags: the counters of each stage, then the part. */
			tag = (int)(2 * ((size_t)p * (ns + 1) + s));
			if (s < ns)
				path = jd_counters(job->jobdir, p, s);
			else if (job->opts->output != NULL)
				path = jd_part(job->outtmp, p);
			else
				path = jd_out_part(job->jobdir, p);
			if (p % job->nhosts == me)
				(void)mpi_send_whole(x, path, 0, tag);
			else if (me == 0) {
				(void)mpi_recv_file(x, path, (int)(p %
				    job->nhosts), tag);
				continue;
			}
			free(path);
		}
	}
	/* And each host's events, for one log of the job on rank 0. */
	tag = (int)(2 * ((size_t)job->nparts * (ns + 1)));
	if (me != 0 && x->cause == NULL) {
		path = jd_file(job->jobdir, JD_EVENTS);
		(void)mpi_send_whole(x, path, 0, tag + 2 * (int)me);
		free(path);
	}
	for (p = 1; me == 0 && p < job->nhosts && x->cause == NULL; p++) {
		xasprintf(&path, "%s/events.rank-%u", job->jobdir, p);
		(void)mpi_recv_file(x, path, (int)p, tag + 2 * (int)p);
	}
	return (x->cause != NULL ? -1 : 0);
}

/*
 * At the end: every host's parts and counters go to rank 0, which
 * presents the result, and its events, which rank 0 adds to the job's.
 * A barrier first: the hosts verify their parts, each at its own pace.
 * Returns 0, or -1 with *cause (then the job is aborted: what MPI may
 * still be using is left as it is).
 */
int
mpi_gather_parts(struct job *job, double timeout, char **cause)
{
	struct mpi_xchg	*x;
	MPI_Request	 r;

	x = xcalloc(1, sizeof *x);
	x->job = job;
	x->comm = mpi_world;
	x->gather = 1;
	x->moved = mono_now();
	if (MPI_Ibarrier(mpi_world, &r) != MPI_SUCCESS) {
		xasprintf(cause, "MPI_Ibarrier failed");
		return (-1);
	}
	mpi_xchg_add(x, r, -2);
	if (mpi_xchg_wait(x, timeout, cause) != 0)
		return (-1);
	mpi_stage_free(x);
	if (job->rank == 0)
		mpi_merge_events(job);
	return (0);
}

/* Has every host the same v? */
int
mpi_same(uint64_t v)
{
	uint64_t	lo = v, hi = v;

	if (MPI_Allreduce(&v, &lo, 1, MPI_UINT64_T, MPI_MIN,
	    mpi_world) != MPI_SUCCESS || MPI_Allreduce(&v, &hi, 1,
	    MPI_UINT64_T, MPI_MAX, mpi_world) != MPI_SUCCESS)
		return (0);
	return (lo == hi);
}

/* Every host's status, the worst (the largest) of them. */
int
mpi_worst(int status)
{
	int	worst = status;

	if (MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MAX,
	    mpi_world) != MPI_SUCCESS)
		return (status != 0 ? status : EXIT_JOB_FAILED);
	return (worst);
}

/* --- Files asked again ---------------------------------------------------- */

/*
 * A worker that finds damaged a file another host sent it has its
 * supervisor ask for it again (mpi_ask), in the middle of a stage: the
 * sender, whose own output it is and which keeps it while the stage after
 * reads it, sends this host's buckets of it again, and the file is put in
 * place of the damaged one as at a barrier.  Asks go on a communicator of
 * their own, tag 0: stage, partition and the asker's id for it, whose file
 * comes under tags 1 + 2 id and 2 + 2 id.  Every supervisor hears the asks
 * from its heartbeats (mpi_asks_poll).  An ask that fails is given up, not
 * the job: its file's mark PATH.noask sends the worker to produce it here.
 */
static MPI_Request	  mpi_asks_req = MPI_REQUEST_NULL;
static uint32_t		  mpi_asks_in[4];
static uint32_t		  mpi_asks_id;
static struct mpi_xchg	**mpi_asks_x;	/* asked, and being sent */
static size_t		  mpi_asks_n;
static struct mpi_xchg	**mpi_asks_dead;	/* failed, left to MPI */
static size_t		  mpi_asks_ndead;

/*
 * Give up x, an ask or a send that failed for cause (freed): say so, and
 * mark an ask's file.  What MPI may still use of it is kept to the end.
 */
static void
mpi_asks_fail(struct mpi_xchg *x, char *cause)
{
	char	*mark;
	int	 fd;

	if (x->ask[3] == 1 && x->nrx == 1) {
		/* The causes name the file. */
		log_warnx("%s; it is produced here", cause);
		xasprintf(&mark, "%s.noask", x->rx[0]->path);
		if ((fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) !=
		    -1)
			close(fd);
		free(mark);
	} else
		log_warnx("sending a file asked for again failed: %s", cause);
	free(cause);
	mpi_asks_dead = xreallocarray(mpi_asks_dead, mpi_asks_ndead + 1,
	    sizeof *mpi_asks_dead);
	mpi_asks_dead[mpi_asks_ndead++] = x;
}

static struct mpi_xchg *
mpi_asks_new(const struct job *job)
{
	struct mpi_xchg	*x;

	x = xcalloc(1, sizeof *x);
	x->job = job;
	x->comm = mpi_asks;
	x->phase = 1;
	x->moved = mono_now();
	mpi_asks_x = xreallocarray(mpi_asks_x, mpi_asks_n + 1,
	    sizeof *mpi_asks_x);
	mpi_asks_x[mpi_asks_n++] = x;
	return (x);
}

/*
 * Ask the host of partition src for its output of stage t again: this
 * host's buckets of it, in place of the file here.  An ask of the same file
 * under way does for this one.  One that cannot be made is given up.
 */
void
mpi_ask(const struct job *job, unsigned int t, unsigned int src)
{
	struct mpi_xchg	*x;
	MPI_Request	 r;
	size_t		 i;
	int		 owner = (int)(src % job->nhosts);

	for (i = 0; i < mpi_asks_n; i++) {
		x = mpi_asks_x[i];
		if (x->ask[3] == 1 && x->ask[0] == t && x->ask[1] == src)
			return;
	}
	x = mpi_asks_new(job);
	x->ask[0] = t;
	x->ask[1] = src;
	x->ask[2] = ++mpi_asks_id;
	x->ask[3] = 1;		/* the asker's side, when matched */
	if (mpi_recv_file(x, jd_run(job->jobdir, t, src), owner,
	    (int)(1 + 2 * x->ask[2])) != 0 ||
	    !mpi_tags_fit(x, 2 + 2 * (uint64_t)x->ask[2]) ||
	    MPI_Isend(x->ask, 3, MPI_UINT32_T, owner, 0, mpi_asks, &r) !=
	    MPI_SUCCESS) {
		if (x->cause == NULL)
			xasprintf(&x->cause, "MPI_Isend failed");
		mpi_asks_n--;
		mpi_asks_fail(x, x->cause);
		x->cause = NULL;
		return;
	}
	mpi_xchg_add(x, r, -1);
}

/*
 * Host from asked for the output of stage a[0] of partition a[1], this
 * host's: send its buckets of it, or a header that says it cannot be.
 */
static void
mpi_asks_serve(const struct job *job, int from, const uint32_t *a)
{
	struct mpi_xchg	*x;
	struct smap	*m = NULL;
	MPI_Request	 r;
	size_t		 row = (job->nparts + 7) / 8;
	unsigned int	 p;
	uint8_t		*keep;
	char		*path;
	int		 tag = (int)(1 + 2 * (uint64_t)a[2]);

	if (a[2] == 0 || a[2] > INT_MAX / 2 - 1) {
		log_warnx("an ask from host %s with no place for its answer: "
		    "ignored", mpi_host(from));
		return;
	}
	x = mpi_asks_new(job);
	if (from == (int)job->rank || a[1] >= job->nparts || !job_owns(job,
	    a[1]) || (uint64_t)a[0] + 1 >= job->plan->nstages) {
		log_warnx("an ask from host %s for a file that is not this "
		    "host's to send", mpi_host(from));
		goto none;
	}
	path = jd_run(job->jobdir, a[0], a[1]);
	keep = xcalloc(1, row);
	for (p = (unsigned int)from; p < job->nparts; p += job->nhosts)
		keep[p / 8] |= 1u << (p % 8);
	/* Its header first: sent, this host can send the rest. */
	if ((m = mpi_send_map(x, path, 1, job->nparts)) != NULL &&
	    mpi_send_file(x, m, path, from, tag, keep) == 0) {
		log_warnx("%s: asked for again by host %s; sending it", path,
		    mpi_host(from));
		free(keep);
		free(path);
		return;
	}
	log_warnx("%s: asked for again by host %s, and cannot be sent: %s",
	    path, mpi_host(from), x->cause != NULL ? x->cause : "?");
	free(x->cause);
	x->cause = NULL;
	free(keep);
	free(path);
	if (x->nreq > 0)
		return;		/* its header went: the rest never will */
none:
	x->none[0] = UINT64_MAX;
	if (MPI_Isend(x->none, 3, MPI_UINT64_T, from, tag, mpi_asks, &r) ==
	    MPI_SUCCESS)
		mpi_xchg_add(x, r, -1);
}

/*
 * Serve the other hosts' asks, and move those under way on; one that fails
 * or moves nothing for timeout seconds is given up.  Returns how many are
 * under way.
 */
int
mpi_asks_poll(const struct job *job, double timeout)
{
	MPI_Status	 st;
	struct mpi_xchg	*x;
	size_t		 i, k;
	char		*cause;
	int		 done;

	if (mpi_asks == MPI_COMM_NULL)
		return (0);
	for (;;) {
		if (mpi_asks_req == MPI_REQUEST_NULL && MPI_Irecv(mpi_asks_in,
		    3, MPI_UINT32_T, MPI_ANY_SOURCE, 0, mpi_asks,
		    &mpi_asks_req) != MPI_SUCCESS)
			break;
		if (MPI_Test(&mpi_asks_req, &done, &st) != MPI_SUCCESS ||
		    !done)
			break;
		mpi_asks_serve(job, st.MPI_SOURCE, mpi_asks_in);
	}
	for (i = k = 0; i < mpi_asks_n; i++) {
		x = mpi_asks_x[i];
		if (x->nreq > 0 && mpi_xchg_progress(x) != 0) {
			mpi_asks_fail(x, x->cause);
			x->cause = NULL;
		} else if (x->nreq > 0 && mono_now() - x->moved > timeout) {
			xasprintf(&cause, "%s: asked for again, it moved "
			    "nothing for %.0f s", x->nrx == 1 ? x->rx[0]->path :
			    "a file", timeout);
			mpi_asks_fail(x, cause);
		} else if (x->nreq == 0)
			mpi_stage_free(x);
		else
			mpi_asks_x[k++] = x;
	}
	mpi_asks_n = k;
	return ((int)k);
}

static void
mpi_asks_end(void)
{
	size_t	i;

	if (mpi_asks_req != MPI_REQUEST_NULL) {
		MPI_Cancel(&mpi_asks_req);
		MPI_Wait(&mpi_asks_req, MPI_STATUS_IGNORE);
	}
	/* What is under way is left to MPI, as the barrier's is. */
	for (i = 0; i < mpi_asks_n; i++)
		if (mpi_asks_x[i]->nreq == 0)
			mpi_stage_free(mpi_asks_x[i]);
	for (i = 0; i < mpi_asks_ndead; i++)
		if (mpi_asks_dead[i]->nreq == 0)
			mpi_stage_free(mpi_asks_dead[i]);
	free(mpi_asks_x);
	free(mpi_asks_dead);
	mpi_asks_x = mpi_asks_dead = NULL;
	mpi_asks_n = mpi_asks_ndead = 0;
	if (mpi_asks != MPI_COMM_NULL)
		MPI_Comm_free(&mpi_asks);
}

#else /* !HAVE_MPI */

int
mpi_start(struct job *job, char **cause)
{
	(void)job;
	xasprintf(cause, "--mpi: this forkflow was built without Open MPI "
	    "(configure --with-mpi)");
	return (-1);
}

const char *
mpi_host(int r)
{
	(void)r;
	return ("?");
}

void
mpi_child_close(int keep)
{
	(void)keep;
}

void
mpi_abort(int status)
{
	_exit(status);
}

void
mpi_end(void)
{
}

int
mpi_pool_init(int *rank, int *size, char **cause)
{
	*rank = 0;
	*size = 1;
	xasprintf(cause, "this forkflow was built without Open MPI "
	    "(configure --with-mpi)");
	return (-1);
}

int
mpi_pool_bcast(char **req, size_t *len)
{
	(void)req;
	(void)len;
	return (-1);
}

void
mpi_pool_end(void)
{
}

struct mpi_xchg *
mpi_stage_begin(const struct job *job, uint8_t *used)
{
	(void)job;
	(void)used;
	return (NULL);
}

int
mpi_stage_test(struct mpi_xchg *x, unsigned int s, double timeout,
    char **cause)
{
	(void)x;
	(void)s;
	(void)timeout;
	xasprintf(cause, "built without Open MPI");
	return (-1);
}

void
mpi_stage_free(struct mpi_xchg *x)
{
	(void)x;
}

int
mpi_gather_parts(struct job *job, double timeout, char **cause)
{
	(void)job;
	(void)timeout;
	xasprintf(cause, "built without Open MPI");
	return (-1);
}

int
mpi_worst(int status)
{
	return (status);
}

int
mpi_same(uint64_t v)
{
	(void)v;
	return (1);
}

void
mpi_ask(const struct job *job, unsigned int t, unsigned int src)
{
	(void)job;
	(void)t;
	(void)src;
}

int
mpi_asks_poll(const struct job *job, double timeout)
{
	(void)job;
	(void)timeout;
	return (0);
}

#endif /* HAVE_MPI */
