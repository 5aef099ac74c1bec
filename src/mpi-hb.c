/* forkflow: see LICENSE. */
/*
 * Heartbeats between the supervisors of several hosts (mpi.c): each
 * sends every other one a heartbeat twice a second, on a communicator of
 * their own, from its loop: what its workers are doing (the caller's
 * bytes, at most max of them), which the others show as their own.  A
 * host that is lost, or cut off, is silent, and is named when it has been
 * for the timeout, even while the others wait for it at a barrier for as
 * long as its stage takes.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_MPI
#include <mpi.h>
#endif

#include "forkflow.h"
#include "mpi-int.h"

#ifdef HAVE_MPI

static MPI_Comm		 mpi_hb = MPI_COMM_NULL;
static MPI_Request	*mpi_hb_req;	/* a receive posted from each rank */
static MPI_Request	*mpi_hb_sreq;	/* and the last send to it */
static char		*mpi_hb_in;	/* max bytes a rank, in, then out */
static double		*mpi_hb_heard;	/* when each rank was last heard */
static size_t		 mpi_hb_max;
static int		 mpi_hb_n;

/* Start a job's heartbeats among the n ranks of world. */
int
mpi_hb_start(MPI_Comm world, int n, char **cause)
{
	if (MPI_Comm_dup(world, &mpi_hb) != MPI_SUCCESS) {
		xasprintf(cause, "MPI_Comm_dup failed");
		return (-1);
	}
	MPI_Comm_set_errhandler(mpi_hb, MPI_ERRORS_RETURN);
	mpi_hb_n = n;
	return (0);
}

static int
mpi_hb_post(int r)
{
	return (MPI_Irecv(mpi_hb_in + (size_t)r * mpi_hb_max, (int)mpi_hb_max,
	    MPI_BYTE, r, 0, mpi_hb, &mpi_hb_req[r]));
}

/*
 * Hear the other hosts, giving heard() what each said, and send them
 * mine (len bytes, at most max, the same max on every host).  Returns 0,
 * or -1 with *cause naming a host silent for timeout seconds.
 */
int
mpi_heartbeat(const void *mine, size_t len, size_t max,
    void (*heard)(int, const void *, size_t, void *), void *arg,
    double timeout, char **cause)
{
	MPI_Status	 st;
	double		 now = mono_now();
	char		*out;
	int		 r, me, done, got;

	if (mpi_hb == MPI_COMM_NULL || len > max)
		return (0);
	MPI_Comm_rank(mpi_hb, &me);
	if (mpi_hb_req == NULL) {
		mpi_hb_max = max;
		mpi_hb_req = xcalloc((size_t)mpi_hb_n, sizeof *mpi_hb_req);
		mpi_hb_sreq = xcalloc((size_t)mpi_hb_n, sizeof *mpi_hb_sreq);
		mpi_hb_in = xcalloc((size_t)mpi_hb_n * 2, max);
		mpi_hb_heard = xcalloc((size_t)mpi_hb_n, sizeof *mpi_hb_heard);
		for (r = 0; r < mpi_hb_n; r++) {
			mpi_hb_req[r] = mpi_hb_sreq[r] = MPI_REQUEST_NULL;
			mpi_hb_heard[r] = now;
			if (r != me)
				(void)mpi_hb_post(r);
		}
	}
	for (r = 0; r < mpi_hb_n; r++) {
		if (r == me)
			continue;
		/* All that came since the last time. */
		while (mpi_hb_req[r] != MPI_REQUEST_NULL &&
		    MPI_Test(&mpi_hb_req[r], &done, &st) == MPI_SUCCESS &&
		    done) {
			mpi_hb_heard[r] = now;
			if (MPI_Get_count(&st, MPI_BYTE, &got) == MPI_SUCCESS &&
			    heard != NULL)
				heard(r, mpi_hb_in + (size_t)r * max,
				    (size_t)got, arg);
			if (mpi_hb_post(r) != MPI_SUCCESS)
				break;
		}
		/* A rank still taking the last one gets no other yet. */
		done = 1;
		if (mpi_hb_sreq[r] != MPI_REQUEST_NULL)
			(void)MPI_Test(&mpi_hb_sreq[r], &done,
			    MPI_STATUS_IGNORE);
		if (done) {
			out = mpi_hb_in + ((size_t)mpi_hb_n + (size_t)r) * max;
			memcpy(out, mine, len);
			(void)MPI_Isend(out, (int)len, MPI_BYTE, r, 0, mpi_hb,
			    &mpi_hb_sreq[r]);
		}
		if (now - mpi_hb_heard[r] > timeout) {
			xasprintf(cause, "host %s (rank %d) has not been heard "
			    "from for %.0f s", mpi_host(r), r, now -
			    mpi_hb_heard[r]);
			return (-1);
		}
	}
	return (0);
}

/*
 * Heartbeats still being sent when their job ended, with their buffer: a
 * send cannot be cancelled.  A pool's next jobs free them once sent.
 */
struct mpi_hb_left {
	char		*buf;
	MPI_Request	*req;
	int		 n;
};
static struct mpi_hb_left	*mpi_hb_left;
static size_t			 mpi_hb_nleft;

/* Free what the heartbeats of ended jobs have sent. */
static void
mpi_hb_reap(void)
{
	size_t	i = 0;
	int	done;

	while (i < mpi_hb_nleft) {
		if (MPI_Testall(mpi_hb_left[i].n, mpi_hb_left[i].req, &done,
		    MPI_STATUSES_IGNORE) != MPI_SUCCESS || !done) {
			i++;
			continue;
		}
		free(mpi_hb_left[i].buf);
		free(mpi_hb_left[i].req);
		mpi_hb_left[i] = mpi_hb_left[--mpi_hb_nleft];
	}
}

/* The end of a job's heartbeats. */
void
mpi_hb_end(void)
{
	int	r, sending = 0;

	for (r = 0; mpi_hb_req != NULL && r < mpi_hb_n; r++) {
		if (mpi_hb_req[r] != MPI_REQUEST_NULL) {
			MPI_Cancel(&mpi_hb_req[r]);
			MPI_Wait(&mpi_hb_req[r], MPI_STATUS_IGNORE);
		}
		if (mpi_hb_sreq[r] != MPI_REQUEST_NULL)
			sending = 1;
	}
	if (mpi_hb != MPI_COMM_NULL)
		MPI_Comm_free(&mpi_hb);
	if (sending) {
		/* They go on, unwatched but for mpi_hb_reap(). */
		mpi_hb_left = xreallocarray(mpi_hb_left, mpi_hb_nleft + 1,
		    sizeof *mpi_hb_left);
		mpi_hb_left[mpi_hb_nleft].buf = mpi_hb_in;
		mpi_hb_left[mpi_hb_nleft].req = mpi_hb_sreq;
		mpi_hb_left[mpi_hb_nleft++].n = mpi_hb_n;
	} else {
		free(mpi_hb_in);
		free(mpi_hb_sreq);
	}
	mpi_hb_reap();
	free(mpi_hb_req);
	free(mpi_hb_heard);
	mpi_hb_req = mpi_hb_sreq = NULL;
	mpi_hb_in = NULL;
	mpi_hb_heard = NULL;
	mpi_hb_n = 0;
}

/* MPI is finalized: what its sends held goes. */
void
mpi_hb_free(void)
{
	while (mpi_hb_nleft > 0) {
		free(mpi_hb_left[--mpi_hb_nleft].buf);
		free(mpi_hb_left[mpi_hb_nleft].req);
	}
	free(mpi_hb_left);
	mpi_hb_left = NULL;
}

#else /* !HAVE_MPI */

int
mpi_heartbeat(const void *mine, size_t len, size_t max,
    void (*heard)(int, const void *, size_t, void *), void *arg,
    double timeout, char **cause)
{
	(void)mine;
	(void)len;
	(void)max;
	(void)heard;
	(void)arg;
	(void)timeout;
	(void)cause;
	return (0);
}

#endif /* HAVE_MPI */
