/* forkflow: see LICENSE. */
/*
 * Private to the worker's files (worker.c, worker-input.c,
 * worker-reduce.c, worker-commit.c): what a worker keeps while it runs,
 * and the functions they take from one another.  Include it after
 * forkflow.h.
 */

#ifndef WORKER_INT_H
#define WORKER_INT_H

/* What a worker keeps while it runs. */
struct wctx {
	struct job		*job;
	unsigned int		 part;
	int			 fd;
	unsigned int		 attempt;
	char			*taskdir;	/* its commands', or NULL */
	char			*logpath;	/* their stderr's log */
	struct status_page	*status;
	struct ckpt		*ckpt;
	struct ckpt_state	 cs;		/* the state being built */

	unsigned int		 s;		/* the stage */
	const struct stage	*st;
	uint64_t		 records_in;	/* stage input records */
	uint64_t		 records_out;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	uint64_t		 mark;		/* bytes_in at the checkpoint */
	int64_t			 cpu_base;	/* CPU µs of the stage so far */
	int64_t			 cpu_start;	/* process CPU µs at its start */

	/* The sink of the stage, and the run file behind it. */
	struct agg		 comb;		/* integer pairs, to shuffle */
	struct recbuf		 recs;		/* any other, or to output */
	struct sagg		 words;		/* word count: word -> count */
	const struct wsource	*in;		/* the stage's source */
	const struct wsink	*out;		/* and its sink */
	int			 streaming;	/* the stage runs a process */
	uint64_t		 ingroup;	/* lines its mapper has had of */
	size_t			 gfile;		/* the group of this file */
	size_t			 grange;	/* and range (linesPerProcess) */
	int			 already;	/* the stage was committed */
	char			*input_abs;	/* the file a mapper reads */
	uint64_t		*rlo;		/* its byte ranges of the input */
	uint64_t		*rhi;
	struct runfile		 sink;

	/* Records to skip, and ranges to run one record at a time. */
	uint64_t		*skip;
	size_t			 nskip;
	uint64_t		*careful;	/* pairs lo, hi */
	size_t			 ncareful;

	/* The partitions whose output of the stage before has records for
	 * this one (a bit each), or NULL: any may. */
	uint8_t			*sources;

	int			 redo;		/* producing a file again */
	uint64_t		 out_sum;	/* XXH3 of the part written */
	struct ops		*ops;		/* the operators at work */
	struct stream_groups	 groups;	/* their commands' groups */

	/* The memory the stage's tables and records may take (its share
	 * of --memory), and what went to disk past it. */
	uint64_t		 budget;
	struct spill		 spill;		/* a reduce's sorted runs */
	uint64_t		 spills;	/* runs, this stage */
	uint64_t		 spilled;	/* bytes of them */
	uint64_t		 passes;	/* merge passes */
};

/*
 * Where a stage's records come from, chosen once per stage
 * (worker_source_of): stage 0's input files, or its words counted
 * straight from the bytes; a later stage's reduce of the stage before.
 */
struct wsource {
	const char	*name;
	void		(*run)(struct wctx *, struct batch *, int);
};

/*
 * Where the records that reach the end of a stage's operators go, chosen
 * once per stage (worker_sink_of): a table of integers to combine, a
 * table of words, or a buffer of records to sort.  put takes a batch,
 * flush appends what is held to the stage's run file as one run, full
 * (if any) says between batches that it has reached the stage's share of
 * memory.
 */
struct wsink {
	const char	*name;
	void		(*init)(struct wctx *);
	void		(*put)(struct wctx *, struct batch *);
	void		(*flush)(struct wctx *);
	int		(*full)(const struct wctx *);
	void		(*free)(struct wctx *);
};

/* Is a checkpoint due? */
static inline int
worker_due(const struct wctx *w)
{
	return (w->bytes_in - w->mark >= w->job->opts->checkpoint_interval);
}

/* worker.c */
__dead void	worker_fail(struct wctx *, uint32_t, uint64_t, uint64_t,
		    const char *);
__dead void	worker_io_fail(struct wctx *, const char *);
__dead void	worker_input_fail(struct wctx *, const struct input *);
__dead void	worker_stream_fail(struct wctx *, const struct ops_error *);
__dead void	worker_op_fail(struct wctx *, const struct ops_error *);
void	worker_damaged(struct wctx *, const char *, uint64_t, uint32_t);
int	worker_damaged_in(struct wctx *, const char *, uint64_t, uint32_t,
	    unsigned int, unsigned int);
__dead void	worker_restart_stage(struct wctx *, const char *, uint64_t);
int64_t	worker_peak_kib(void);
void	worker_checkpoint(struct wctx *, uint32_t, uint64_t, uint64_t);
__dead void	worker_redo_child(struct job *, unsigned int, unsigned int);

/* worker-input.c */
const struct wsource *worker_source_of(const struct wctx *);
void	worker_open_source(struct wctx *, unsigned int, struct shuffle_file *);
unsigned int	worker_fanin(const struct wctx *);
void	worker_finish_streams(struct wctx *);
int	worker_source(const struct wctx *, unsigned int);
void	worker_push(struct wctx *, struct batch *);
int	worker_is_wordcount(const struct wctx *);

/* worker-reduce.c */
extern const struct wsource worker_source_reduce;
void	worker_spilled(struct wctx *, uint64_t);

/* worker-commit.c */
const struct wsink *worker_sink_of(const struct wctx *);
void	worker_sink(void *, struct batch *);
void	worker_flush(struct wctx *);
void	worker_sink_spill(struct wctx *);
char	*worker_stage_path(struct wctx *, unsigned int);
int	worker_stage_committed(struct wctx *, unsigned int);
void	worker_commit_final(struct wctx *, const char *);
const char	*worker_sink_name(const struct wctx *);
int	worker_open_sink(struct wctx *, int);

#endif /* WORKER_INT_H */
