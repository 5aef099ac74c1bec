/* forkflow: see LICENSE. */
/*
 * What forkflow run --hosts (mpi-launch.c) and forkflow pool (pool.c)
 * share: relaying mpirun's output, and what they tell the user of it.
 */

#ifndef LAUNCH_INT_H
#define LAUNCH_INT_H

/* What mpi_relay_take() learns from mpirun's standard error. */
struct relay {
	int		 out;		/* where mpirun's output goes */
	int		 err;		/* and its standard error */
	char		 line[2048];	/* the line so far (its start, if
					 * longer) */
	size_t		 len;
	double		 deadline;	/* when mpirun must be done, or 0 */
	char		 lost[256];	/* which host was lost, as mpirun said */
	struct display	*display;	/* rank 0's frames drawn here, or NULL */
	char		*held;		/* with a display: the line so far */
	size_t		 nheld;
	size_t		 aheld;
};

int	 mpi_relay_take(struct relay *, int, const char *, size_t);
void	 mpi_relay_line(struct relay *, const char *);
void	 mpi_relay_end(struct relay *);
char	**mpi_rank_args(const struct run_opts *, int);
int	 mpi_display(const struct run_opts *);
unsigned int mpi_count_hosts(const struct run_opts *);
void	 mpi_keepalive(double);
int	 mpi_failed(int, int, const char *, const char *, const char *,
	    const char *);

#endif
