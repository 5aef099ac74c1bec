/* forkflow: see LICENSE. */
/* What mpi.c and mpi-hb.c share, with Open MPI. */

#ifndef MPI_INT_H
#define MPI_INT_H

#ifdef HAVE_MPI
int	mpi_hb_start(MPI_Comm, int, char **);
void	mpi_hb_end(void);
void	mpi_hb_free(void);
#endif

#endif
