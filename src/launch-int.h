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
	int		 outgone;	/* out takes no more: dropped */
	int		 outerr;	/* and why, but for EPIPE (| head) */
	int		 errgone;	/* err takes no more */
	int		 outstop;	/* out was given up on, asked to stop */
	int		 cut;		/* and bytes of it were dropped */
	int		(*stop)(void *);	/* a write cut short by a signal:
					 * give up? (or NULL: never) */
	void		*stoparg;
};

/* The result's own way from rank 0 (result.c). */
struct result_in {
	int		 lfd;		/* the port listened on, or -1 */
	int		 fd;		/* rank 0's connection, or -1 */
	char		 token[33];	/* what it says first */
	char		 got[34];	/* what it said so far */
	size_t		 ngot;
	int		 said;		/* it said the token */
	int		 done;		/* the result's end was read */
	uint64_t	 bytes;		/* result bytes read */
	char		*env;		/* FORKFLOW_RESULT=..., for the ranks */
};

int	 result_listen(struct result_in *);
int	 result_fd(const struct result_in *);
void	 result_read(struct result_in *, struct relay *);
void	 result_drain(struct result_in *, struct relay *, double);
void	 result_close(struct result_in *);

int	 mpi_relay_take(struct relay *, int, const char *, size_t);
void	 mpi_relay_line(struct relay *, const char *);
void	 mpi_relay_end(struct relay *);
char	**mpi_rank_args(const struct run_opts *, int);
int	 mpi_display(const struct run_opts *);
unsigned int mpi_count_hosts(const struct run_opts *);
void	 mpi_keepalive(double);
void	 mpi_files_only(const struct run_opts *, const char *);
char	**mpi_argv(const struct run_opts *, size_t, size_t *, char **);
int	 mpi_failed(int, int, const char *, const char *, const char *,
	    const char *);

#endif
