/* forkflow: run dataflow programs over key-value pairs on forked workers. */
/*
 * Shared structures and the prototypes of every module, in blocks headed by
 * their file: the table of contents of the source tree.  What two
 * processes share (messages, checkpoint, status and job pages) lives apart,
 * in contract.h.
 */

#ifndef FORKFLOW_H
#define FORKFLOW_H

#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "contract.h"

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif
#define printflike(a, b) __attribute__((__format__(__printf__, a, b)))

struct stat;
struct json_t;

/* Exit statuses of forkflow(1). */
#define EXIT_JOB_FAILED		1	/* the job failed at run time */
#define EXIT_USAGE		2	/* usage, invalid program or input */

/* Internal exit statuses of a worker; the supervisor decides on them. */
#define WORKER_EXIT_OK		0
#define WORKER_EXIT_RETRY	1	/* crash-like: restart from checkpoint */
#define WORKER_EXIT_INPUT	100	/* bad program or input: never restart */
#define WORKER_EXIT_RUNTIME	101	/* deterministic run-time error: never restart */
#define WORKER_EXIT_NOMEM	102	/* malloc failed: restart with less */

/* The most partitions a job may have. */
#define PARTS_MAX		1024

/* Records move through operators in batches of columns. */
#define BATCH_MAX		1024

/* A binary or unary operation of an expression. */
enum expr_op {
	XOP_ADD,
	XOP_SUB,
	XOP_MUL,
	XOP_DIV,
	XOP_MOD,
	XOP_LT,
	XOP_LE,
	XOP_GT,
	XOP_GE,
	XOP_EQ,
	XOP_NE,
	XOP_AND,
	XOP_OR,
	XOP_MIN,
	XOP_MAX,
	XOP_NEG,		/* unary */
	XOP_NOT,		/* unary */
	XOP_ABS,		/* unary */
};

/* Operators of a program. */
enum op_kind {
	OP_MAP,
	OP_FILTER,
	OP_CHANGEKEY,
	OP_REDUCE,
	OP_FLATMAP,
	OP_MAPPER,		/* a Hadoop Streaming command */
	OP_REDUCER,		/* the same, fed sorted by key */
};

/* The type of keys or values at a point of a program. */
enum vtype {
	VT_INT,			/* int64 */
	VT_STR,			/* bytes: a struct str, by pointer */
};

/* Input and output formats. */
enum in_format {
	IN_CSV,			/* k,v lines of integers */
	IN_TEXT,		/* <file name, line> per line */
};

enum out_format {
	OUT_CSV,
	OUT_TSV,
};

/*
 * A string value: its bytes follow its length.  Records hold strings by
 * pointer, cast to int64, where their type says VT_STR; the bytes live in
 * an arena, or in a mapped run file that stores them in this layout.
 */
struct str {
	uint32_t	 len;
	char		 s[];
};

/* An arena for strings: chunks that are freed together. */
struct arena {
	char		*chunk;
	size_t		 used;
	size_t		 size;
	char		**old;		/* full chunks */
	size_t		 nold;
	size_t		 bytes;		/* of every chunk held */
};

/* Named functions; FN_EXPR means the operator has an expression. */
enum op_fn {
	FN_EXPR,
	FN_ADD, FN_SUB, FN_MUL, FN_DIV, FN_MOD,			/* map, changeKey */
	FN_GT, FN_GE, FN_LT, FN_LE, FN_EQ, FN_NE, FN_EVEN, FN_ODD,	/* filter */
	FN_SUM, FN_PROD, FN_MIN, FN_MAX, FN_COUNT,		/* reduce */
	FN_COLLECT,						/* reduce */
	FN_WORDS, FN_WORDS_DOC, FN_SPLIT,			/* flatMap */
};

/* Where something stands in the program file. */
struct srcpos {
	int		line;
	int		col;
};

/* One operator of a program. */
struct op {
	enum op_kind	 kind;
	enum op_fn	 fn;
	int64_t		 arg;
	int		 has_arg;
	char		*sarg;		/* SPLIT's separator */
	char		**argv;		/* mapper, reducer: a command, or */
	char		*command;	/* one for /bin/sh -c */
	struct op	*combiner;	/* reducer: its combiner, or NULL */
	char		*osep;		/* output lines: key's separator, */
	unsigned int	 okeys;		/* and fields (NULL, 0: tab, 1) */
	char		*isep;		/* reducer: input key-value separator */
	struct keyorder	*korder;	/* reducer, combiner: key fields */
	int		 per_file;	/* mapper: a process per input file, */
	uint64_t	 lines_per;	/* or per so many lines of one (0) */
	int		 key_offset;	/* mapper: lines after their offset */
	int		 is_combiner;	/* this is a reducer's combiner */
	int		 on_key;	/* changeKey with a named function on k */
	char		*src;		/* expression text (FN_EXPR) */
	struct expr	*expr;		/* map/filter/changeKey: compiled form */
	struct srcpos	 pos;		/* of the operator object */
	struct srcpos	 expr_pos;	/* of the string holding src */
	size_t		 expr_off;	/* its byte offset in the file */
};

/* An operator as a program spells it, in any of the accepted dialects. */
struct opspec {
	const char	*oper;		/* operator name */
	const char	*func;		/* function, may hold "(ARG)"; or NULL */
	int		 has_arg;	/* arg holds an argument given apart */
	int64_t		 arg;
	const char	*arg_text;	/* or the argument as text, or NULL */
	const char	*arg_bad;	/* a key holding a non-integer */
	const char	*sarg;		/* a string argument (SPLIT) */
	char		**argv;		/* a command, as words */
	const char	*command;	/* or for /bin/sh -c */
	const char	*combiner;	/* a reducer's combiner, for /bin/sh */
	struct srcpos	 command_at;
	const char	*expr;		/* an expression, or NULL */
	size_t		 expr_off;	/* the JSON string's offset */
	struct srcpos	 at;		/* the operator */
	struct srcpos	 oper_at;
	struct srcpos	 func_at;
	struct srcpos	 arg_at;
	struct srcpos	 expr_at;
};

/* A program: operators and where the input is. */
struct program {
	char		*path;		/* program file as given */
	char		*dir;		/* its folder, for relative inputs */
	int		 partitions;	/* 0: not given */
	int64_t		 task_timeout_ms;	/* "taskTimeout", or -1 */
	uint64_t	 memory;		/* "memory", or 0 */
	char		**env;		/* "environment": NAME=VALUE, NULL */
	size_t		 nenv;
	int		 changekey_on_key;
	int		 changekey_forced;	/* by the command line, or -1 */
	enum in_format	 in_format;
	enum out_format	 out_format;
	char		**input_specs;	/* as the program gives them */
	size_t		 ninput_specs;
	char		**inputs;	/* resolved paths; "-" is stdin */
	size_t		 ninputs;
	struct op	*ops;
	size_t		 nops;
	char		**warnings;
	size_t		 nwarnings;
	char		*text;		/* the file, for positions */
	struct jpos	*pos_root;
	struct jpos	*pos_order;	/* of "output"'s "order" */
	char		*out_sep;	/* TSV's separator, or NULL: a tab */
	int		 in_order;	/* parts in input order, unsorted */
};

/* A key-field spec, sort(1)'s -kF1[.C1][,F2[.C2]] with n and r. */
struct keyspec {
	unsigned int	 f1, c1;	/* from field f1, character c1 */
	unsigned int	 f2, c2;	/* to f2 (0: the key's end), c2 (0: all) */
	int		 numeric;
	int		 reverse;
};

/*
 * A reducer's secondary sort: its key cut into fields at sep, sorted by
 * the sort specs (none: the whole key, as bytes), partitioned by the part
 * specs (none: the whole key).  See keyfield.c.
 */
struct keyorder {
	char		*sep;
	struct keyspec	*sort;
	size_t		 nsort;
	struct keyspec	*part;
	size_t		 npart;
	char		*sort_src;	/* as given, or NULL */
	char		*part_src;
};

/* A stage: operators between two exchanges of data. */
struct stage {
	size_t		 first;		/* index of its first operator */
	size_t		 end;		/* one past its last narrow operator */
	const struct op	*reduce_in;	/* reduce applied to this stage's input */
	const struct op	*reduce_out;	/* reduce after it: combine, shuffle */
	enum vtype	 in_k;		/* records entering its operators */
	enum vtype	 in_v;
	enum vtype	 out_k;		/* records reaching its sink */
	enum vtype	 out_v;
	enum vtype	 red_v;		/* values entering reduce_in */
};

struct plan {
	struct stage	*stages;
	size_t		 nstages;
};

/* A batch of records, as columns. */
struct batch {
	size_t		 n;
	int64_t		*k;
	int64_t		*v;
	int64_t		*tmp;		/* scratch column, swapped in and out */
	int64_t		 col[3][BATCH_MAX];
	uint64_t	 pos[BATCH_MAX];	/* input offsets (stage 0) */
	struct arena	 arena;		/* strings made for this batch */
};

/* How records are written out. */
struct outspec {
	enum vtype	 kt;
	enum vtype	 vt;
	enum out_format	 fmt;
	int		 text;		/* lines, or the binary encoding */
	int		 in_order;	/* sources one after the other */
	const char	*sep;		/* TSV: between key and value, or NULL */
};

/*
 * Records written through a buffer to a file (output.c), with their
 * length and, for a part, their XXH3.
 */
struct outw {
	int		 fd;
	char		*tmp;		/* a part's name while written */
	char		*buf;
	size_t		 len;
	uint64_t	 bytes;
	struct XXH3_state_s *sum;	/* or NULL */
};

/* A sorted array of records, one of those merged into an output. */
struct pair_src {
	const struct pair *p;
	size_t		 n;
};

/* A record as stored in shuffle and output files. */
struct pair {
	int64_t		 k;
	int64_t		 v;
};

/*
 * What an input file is when the job starts, which it must stay: a file
 * replaced, written or touched would give a result of neither version.
 */
struct input_fp {
	int		 set;		/* the rest is known */
	uint64_t	 dev;
	uint64_t	 ino;
	uint64_t	 size;
	int64_t		 mtime_sec;
	long		 mtime_nsec;
};

/* An input file, with its size fixed when the job starts. */
struct input_file {
	char		*path;		/* what to open */
	char		*name;		/* what to call it in messages */
	uint64_t	 size;
	struct input_fp	 fp;		/* checked on every open, if set */
	int		 fd;		/* with fp: kept open for the job, or -1 */
	int		 spooled;	/* a copy in the job directory */
};

/* A reader of one byte range of the input files. */
struct input {
	const struct input_file	*files;
	size_t		 nfiles;
	uint64_t	 lo;		/* the range, in global offsets */
	uint64_t	 hi;
	size_t		 fi;		/* current file */
	uint64_t	 cur_start;	/* its global offset */
	int		 fd;
	char		*map;
	int		 mapped;	/* map is mapped, not rbuf */
	char		*rbuf;		/* a small file, read whole */
	size_t		 rbufcap;
	size_t		 maplen;
	const char	*base;		/* file offset 0 (moves for the tail) */
	const char	*p;		/* next line */
	const char	*end;		/* lines starting here are not ours */
	const char	*safe_end;	/* past the last newline of the file */
	const char	*first_line;	/* the file's first line, if ours */
	char		*tail;		/* the unterminated last line, copied */
	size_t		 bom;
	char		*cause;		/* the error, "FILE:LINE:COL: why" */
	int		 err_sys;	/* errno of a failed system call, or 0 */
	size_t		 err_file;
	uint64_t	 err_off;
	enum in_format	 format;
	const uint64_t	*rlo;		/* the ranges, read one after another */
	const uint64_t	*rhi;
	size_t		 nranges;
	size_t		 ri;		/* the one being read */
	int64_t		*names;		/* text: each file's name, a string */
	struct arena	 names_arena;
};

/* Records of any types in memory, with an arena for their strings. */
struct recbuf {
	enum vtype	 kt;
	enum vtype	 vt;
	struct pair	*r;
	size_t		 n;
	size_t		 cap;
	struct arena	 a;
};

/*
 * Would a batch more make a record buffer take more than max bytes (its
 * records, doubled if they must grow, and its strings)?  0: no limit.
 */
static inline int
recbuf_full(const struct recbuf *rb, size_t max)
{
	size_t	strs = rb->a.bytes - (rb->a.size - rb->a.used);

	return (max != 0 && rb->n > 0 && (rb->n + BATCH_MAX > rb->cap ?
	    2 * rb->cap : rb->cap) * sizeof *rb->r + strs > max);
}

/* A hash aggregation table for string keys and integer values. */
struct sagg_entry {
	uint64_t	 hash;
	int64_t		 acc;
	uint32_t	 off;		/* of the key in keys */
	uint32_t	 len;		/* of the key + 1; 0: an empty slot */
};

/* Keys a word table holds before it must be flushed (offsets are 32-bit). */
#define SAGG_KEYS_MAX	((size_t)3 << 30)

struct sagg {
	enum op_fn	 fn;
	uint64_t	 seed;
	struct sagg_entry *e;
	size_t		 cap;
	size_t		 used;
	char		*keys;		/* packed end to end */
	size_t		 klen;
	size_t		 kcap;
	struct arena	 a;		/* strings made by sagg_pairs */
	size_t		 max_bytes;	/* the most it may take, or 0 */
};

/* A hash aggregation table. */
struct agg_entry {
	int64_t		 k;
	int64_t		 acc;
};

struct agg {
	enum op_fn	 fn;
	struct agg_entry *e;
	size_t		 cap;
	size_t		 used;
	unsigned int	 bits;
	uint64_t	 mult;		/* this table's hash multiplier */
	int		 has_min;	/* the key INT64_MIN is held apart */
	int64_t		 min_acc;
	size_t		 max_bytes;	/* the most it may take, or 0 */
	size_t		 spill_at;	/* keys held when it must spill */
};

/* Must the table be spilled before another key goes in (agg_limit)? */
static inline int
agg_full(const struct agg *a)
{
	return (a->used >= a->spill_at);
}

/* Can n more keys go in without agg_full() becoming true on the way? */
static inline int
agg_room(const struct agg *a, size_t n)
{
	return (a->spill_at == SIZE_MAX || a->used + n <= a->spill_at);
}

/* A run-time error of an operator, and the record it met. */
struct ops_error {
	const struct op	*op;
	int64_t		 k;
	int64_t		 v;
	char		*why;		/* a streaming process failed */
};

/* A growable byte buffer (proto.c). */
struct buf {
	char		*data;
	size_t		 len;
	size_t		 off;		/* consumed bytes at the front */
	size_t		 cap;
};

/* Where a streaming process's output lines go, split at the tab. */
struct stream_out {
	void		(*fn)(void *, const char *, size_t, const char *,
			    size_t);
	void		*ctx;
};

/*
 * The process groups of a worker's commands: its status page's slots, each
 * naming a group, and how many running commands each group holds, which is
 * more than one only when more commands run at once than there are slots.
 */
struct stream_groups {
	volatile int32_t *pgid;		/* the slots, or NULL: none */
	unsigned int	 members[STATUS_GROUPS];
};

/* A running mapper or reducer process. */
struct stream {
	const struct op	*op;
	struct stream_groups *groups;	/* where its group is named, or NULL */
	pid_t		 pid;
	int		 running;
	int		 in;		/* its standard input, ours to write */
	int		 out;
	int		 err;
	struct buf	 wbuf;
	struct buf	 rbuf;
	struct buf	 ebuf;
	char		*tail[10];	/* its last lines of standard error */
	size_t		 ntail;
	uint64_t	 counters;
	pid_t		 pgid;		/* its process group */
	int		 slot;		/* in the status page, or -1 */
};

/* What a streaming process is told of its task. */
struct stream_env {
	uint64_t	 job_id;
	unsigned int	 part;
	unsigned int	 nparts;
	unsigned int	 attempt;
	const char	*input_file;
	uint64_t	 input_start;
	uint64_t	 input_length;
	const char	*workdir;	/* where -file files are, or NULL */
	char *const	*env;		/* NAME=VALUE for commands, or NULL */
	const char	*log;		/* the task's log of standard error */
	int		 quiet;		/* -q: stderr to the log alone */
};

/* Where the operators of a stage hand their batches. */
struct ops_sink {
	void		(*fn)(void *, struct batch *);
	void		*ctx;
};

/* A run file being written. */
struct runfile {
	int		 fd;
	char		*path;		/* final name */
	char		*tmp;		/* name while written */
	unsigned int	 nbuckets;
	unsigned int	 runs;
	uint64_t	 len;
	uint64_t	 records;
	enum vtype	 kt;
	enum vtype	 vt;
	struct runfile_stream *stream;	/* a run being written, or NULL */
	int		 keytail;	/* partition: the keys' last 8 bytes */
};

/*
 * A source of a k-way merge (merge.c), first in the caller's own: its
 * current record, the order it was added in (ties go to the first), and
 * how it moves to its next record (1, 0 at its end, or -1).
 */
struct kmerge_src {
	struct pair	 cur;
	size_t		 idx;
	int		(*next)(struct kmerge_src *);
};

/* Sources of a merge: a sorted array; a bucket of a mapped run file. */
struct kmerge_array {
	struct kmerge_src ks;
	const struct pair *p;
	size_t		 n;
};

/* A reader of a mapped run in a merge: see run_window() in merge.c. */
struct run_window {
	const char	*ahead;		/* asked for up to here */
	const char	*done;		/* pages before it given back */
};

struct kmerge_run {
	struct kmerge_src ks;
	const struct shuffle_file *sf;
	const char	*p;
	const char	*end;
	struct run_window win;
	struct XXH3_state_s *sum;	/* if set, checked as it is read */
	uint64_t	 want;
};

struct kmerge {
	enum vtype	 kt;
	enum vtype	 vt;
	struct kmerge_src **heap;
	size_t		 n;		/* sources not done */
	size_t		 added;
};

/* The runs a worker spills in a stage (spill.c). */
struct spill {
	struct runfile	 rf;		/* sS/wP.spill, runs sorted by key */
	char		*path;
	enum vtype	 kt;
	enum vtype	 vt;
	enum op_fn	 fn;		/* the reduce's, or 0: keep all */
	unsigned int	 fanin;		/* runs merged at once */
	unsigned int	 passes;	/* merge passes made */
	uint64_t	 bytes;		/* spilled */
	void		(*tick)(void *, uint64_t);	/* records merged */
	void		*arg;
};

/* A mapped run file. */
struct shuffle_file {
	char		*map;
	size_t		 len;
	unsigned int	 runs;
	unsigned int	 nparts;	/* buckets per run */
	uint64_t	*runoff;	/* [run * nparts + bucket] */
	uint64_t	*runcount;	/* records, or bytes if schema != 0 */
	uint64_t	*runsum;	/* XXH3 of each bucket */
	uint64_t	 records;	/* in all runs */
	uint64_t	 bad;		/* offset of damage found */
	int		 damaged;	/* the last failure was damage */
	uint32_t	 schema;
	enum vtype	 kt;
	enum vtype	 vt;
};



struct ckpt {
	void		*slots;
	unsigned int	 partition;
	uint64_t	 job_id;
};

/*
 * A crash to inject: --inject-crash PARTITION:OPERATOR[:RECORD[:ATTEMPTS]],
 * or PARTITION:spill[:N[:ATTEMPTS]] (while it writes its Nth spill) or
 * PARTITION:merge[:N[:ATTEMPTS]] (after N records of a merge of spills)
 * or PARTITION:commit[:S[:ATTEMPTS]] (stage S's output renamed into place,
 * its checkpoint not yet published).
 */
enum inject_point {
	INJECT_RECORD,
	INJECT_SPILL,
	INJECT_MERGE,
	INJECT_COMMIT,
};

struct inject {
	int		 set;
	enum inject_point point;
	unsigned int	 part;
	unsigned int	 op;
	uint64_t	 record;	/* of the operator's stage input, or N */
	unsigned int	 attempts;	/* crash on attempts 1..attempts */
};

/* A record to skip, from --skip-bad-records, as the journal keeps it. */
struct skip {
	unsigned int	 part;
	unsigned int	 stage;
	uint64_t	 record;	/* index in the stage's input */
	int64_t		 k;
	int64_t		 v;
	uint64_t	 pos;		/* input offset + 1, or 0 */
};

/* What a user asked of a run: `forkflow run`'s options (cmd-run-opts.c). */
struct run_opts {
	char		*program;	/* the program file */
	char		**inputs;	/* -i, in order */
	size_t		 ninputs;
	unsigned int	 parts;		/* -p, or 0 */
	char		*output;	/* -o DIR, or NULL for stdout */
	int		 force;
	char		*jobdir;	/* --job-dir, or NULL */
	int		 keep;
	int		 durable;
	int		 quiet;
	int		 verbose;
	unsigned int	 max_attempts;
	uint64_t	 checkpoint_interval;	/* bytes of input */
	uint64_t	 split_size;	/* --split-size, or 0: one range */
	uint64_t	 memory;	/* --memory, or 0 */
	double		 heartbeat_timeout;	/* seconds */
	double		 task_timeout;	/* a user's command; -1 not given */
	double		 chaos;		/* mean seconds between kills, or 0 */
	int		 skip_bad;	/* --skip-bad-records */
	struct inject	 inject;
	int		 changekey;	/* 1 key, 0 value, -1 the program's */
	int		 out_format;	/* enum out_format, -1 the program's */
	int		 progress;	/* enum progress_mode */
	double		 status_interval;	/* seconds; 0: none */
	char		*log_file;
	char		*trace;		/* --trace FILE, or NULL */
	char		*program_dir;	/* its relative paths' folder, */
	char		*program_name;	/* its name (a copy's, serve) */
	char		*hosts;		/* --hosts, or NULL */
	char		*hostfile;	/* --hostfile, or NULL */
	int		 mpi;		/* --mpi: a rank of mpirun's */
	char		*pool;		/* --pool: its socket, or NULL */
	double		 shuffle_timeout;	/* seconds, between hosts */

	/* What `forkflow streaming` adds. */
	char		*gen;		/* the program it made, as JSON text */
	struct ship	*ship;		/* -file, -files, -archives */
	size_t		 nship;
	int		 lazy;		/* -lazyOutput: no empty parts */
	int		 streaming;	/* 1 streaming's, 2 mapreduce's */
	int		 argc;		/* the command line, for the resume */
	char		**argv;		/* hint (argv[0] is the subcommand) */
};

/* A file or archive of streaming's, for the folder its commands run in. */
struct ship {
	char		*path;		/* absolute */
	char		*link;		/* its name there */
	int		 archive;	/* unpacked into a folder of that name */
};

/* When to draw the live progress display (--progress). */
enum progress_mode {
	PROGRESS_AUTO,		/* when standard error is a terminal */
	PROGRESS_ALWAYS,
	PROGRESS_NEVER,
	PROGRESS_RELAY,		/* rank 0's frames for forkflow run --hosts */
};

/* What a run of a job finds and does, as it goes. */
struct job_run {
	int		 jobdir_made;	/* made by this run */
	int		 lockfd;
	int		 journalfd;
	unsigned int	 first_stage;	/* the first to run */
	unsigned int	 committed;	/* stages the journal has */
	int		 resumed;	/* the journal was there */
	int		 output_done;	/* and says the output is committed */
	uint64_t	 run_id;	/* random, from the journal's start */
	struct input_fp	*journal_fps;	/* by input, as the journal has them */
	struct skip	*skips;		/* from the journal */
	size_t		 nskips;
	uint64_t	 journal_bad;	/* offset + 1 of a damaged line */
	int		 replace_own;	/* -o holds an earlier run's output */
	double		 started;	/* monotonic seconds */
	uint64_t	 records_in;	/* counted by the supervisor */
	uint64_t	 records_out;
	uint64_t	 skipped;	/* bad records skipped */
	uint64_t	 bytes_written;	/* of the output */
	int		 stdout_closed;	/* the reader went away */
	int		 interrupted;	/* by SIGINT or SIGTERM */
	int		 permanent;	/* failed on the program or input */
	char		*reason;	/* why the job failed, or NULL */
};

/*
 * A job: the options the user gave (opts), what they and the program
 * settle before it starts, and what the run finds (run).
 */
struct job {
	const struct run_opts *opts;
	struct program	*prog;
	struct plan	*plan;
	unsigned int	 nparts;
	char		*jobdir;
	int		 keep;		/* keep the job directory */
	char		*outtmp;	/* the folder written before commit */
	enum out_format	 out_format;
	struct input_file *files;
	size_t		 nfiles;
	uint64_t	 total;		/* bytes of input */
	uint64_t	 job_id;	/* fingerprint of program and input */
	char		*resume_hint;	/* the command line that resumes */
	char		*workdir;	/* streaming -file files, or NULL */
	double		 task_timeout;	/* seconds a command may be silent */
	int		 display;	/* draw the progress display */
	double		 status_interval;	/* seconds; 0: no status blocks */
	uint64_t	 memory;	/* the workers' budget, together */
	uint64_t	 mem_share;	/* each worker's */
	unsigned int	 rank;		/* this host's, of nhosts (--mpi) */
	unsigned int	 nhosts;	/* 0 or 1: one host */
	struct job_run	 run;
};


/* mpi.c: several hosts */
struct mpi_xchg;
int		 mpi_launch(const struct run_opts *);

/* result.c */
int		 result_connect(void);

/* pool.c */
int		 pool_submit(const struct run_opts *);
int		 pool_rank(void);
char		*run_resume_hint(const struct run_opts *, const char *);
int		 run_opts_where(const char *);
int		 run_draws(const struct run_opts *);
uint64_t	 run_stdout_take(uint64_t *);
void		 run_pool_job(const char *);
int		 mpi_start(struct job *, char **);
const char	*mpi_host(int);
void		 mpi_child_close(int);
__dead void	 mpi_abort(int);
void		 mpi_end(void);
int		 mpi_pool_init(int *, int *, char **);
int		 mpi_pool_bcast(char **, size_t *);
void		 mpi_pool_end(void);
int		 mpi_lost_in(const char *, char *, size_t);
struct mpi_xchg	*mpi_stage_begin(const struct job *, uint8_t *);
int		 mpi_stage_test(struct mpi_xchg *, unsigned int, double, char **);
void		 mpi_stage_free(struct mpi_xchg *);
int		 mpi_gather_parts(struct job *, double, char **);
void		 mpi_ask(const struct job *, unsigned int, unsigned int);
int		 mpi_asks_poll(const struct job *, double);
int		 mpi_worst(int);
int		 mpi_same(uint64_t);
int		 mpi_heartbeat(const void *, size_t, size_t, void (*)(int,
		    const void *, size_t, void *), void *, double, char **);

/* Does this host run partition p (always, on one host)? */
#define job_owns(job, p)	((job)->nhosts <= 1 || \
				    (p) % (job)->nhosts == (job)->rank)

/* memcg.c */
char		*memcg_dir(int *);
uint64_t	 memcg_oom_kills(int *);
uint64_t	 memcg_limit(void);
uint64_t	 mem_physical(void);
uint64_t	 mem_default_budget(void);

/* util.c */
void		*json_text(const char *, size_t);
int		 size_parse(const char *, uint64_t *);

/* xmalloc.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xreallocarray(void *, size_t, size_t);
void		*xgrow(void *, size_t, size_t);
char		*xstrdup(const char *);
char		*xstrndup(const char *, size_t);
int		 xasprintf(char **, const char *, ...) printflike(2, 3);
int		 xvasprintf(char **, const char *, va_list) printflike(2, 0);
void		 xmalloc_use_huge(int);

/*
 * A counter that long loops bump to show they progress; in a worker it
 * points into its status page, elsewhere nowhere.
 */
extern volatile uint64_t *progress_counter;
extern volatile uint32_t *progress_op;	/* the operator being run */
extern volatile uint32_t *progress_wait;	/* 1: waiting on a command */

static inline void
progress(void)
{
	if (progress_counter != NULL)
		(*progress_counter)++;
}

/* log.c */
void		 log_init(int, const char *);
int		 log_open_file(const char *);
void		 log_close_file(void);
void		 log_set_hook(void (*)(const char *, size_t));
void		 log_set_fatal_hook(void (*)(void));
void		 log_set_nomem_status(int);
void		 log_line(const char *, size_t);
void		 log_procinit(const char *);
void		 log_setverbose(int);
int		 log_getverbose(void);
void		 log_warn(const char *, ...) printflike(1, 2);
void		 log_warnx(const char *, ...) printflike(1, 2);
void		 log_info(const char *, ...) printflike(1, 2);
void		 log_debug(const char *, ...) printflike(1, 2);
__dead void	 fatal(const char *, ...) printflike(1, 2);
__dead void	 fatalx(const char *, ...) printflike(1, 2);

/* program.c */
struct program	*program_load(const char *, char **);
struct program	*program_load_opts(const char *, int, char **);
struct program	*program_load_as(const char *, const char *, const char *, int,
		    char **);
struct program	*program_load_buf_as(const char *, const char *, const char *,
		    int, char *, size_t, char **);
void		 program_error(char **, const struct program *,
		     const struct srcpos *, const char *, ...)
		     printflike(4, 5);
void		 program_warn(struct program *, const struct srcpos *,
		     const char *, ...) printflike(3, 4);
void		 program_free(struct program *);
char		*program_canonical(const struct program *);

/* program-ops.c */
int		 program_name_equal(const char *, const char *);
int		 program_op_build(struct program *, const struct opspec *,
		     struct op *, char **);
int		 program_op_string(struct program *, const char *,
		     const struct srcpos *, struct op *, char **);
const char	*program_op_name(const struct op *);
const char	*program_fn_name(enum op_fn);
char		*program_op_describe(const struct program *, const struct op *);

/* program-input.c */
int		 program_set_inputs(struct program *, char **, size_t, char **);

/* program-text.c */
int		 program_load_text(struct program *, size_t, char **);

/* plan.c */
struct plan	*plan_make(const struct program *);
unsigned int	 stage_first_op(const struct program *, const struct stage *);
const char	*op_types(const struct op *, enum vtype *, enum vtype *);
int		 program_check_types(struct program *, char **);
void		 plan_free(struct plan *);

/* input.c */
void		 input_open(struct input *, const struct input_file *, size_t,
		     uint64_t, uint64_t);
int		 input_read(struct input *, struct batch *);
uint64_t	 input_tell(const struct input *);
void		 input_open_ranges(struct input *, const struct input_file *,
		     size_t, const uint64_t *, const uint64_t *, size_t,
		     uint64_t);
uint64_t	 input_progress(const struct input *);
uint64_t	 input_progress_at(const struct input *, uint64_t);
int		 input_group_start(const struct input_file *, size_t, uint64_t,
		    uint64_t, uint64_t *);
size_t		 input_file_of(const struct input_file *, size_t, uint64_t);
int		 input_read_block(struct input *, const char **, size_t *);
int		 input_locate(const struct input_file *, size_t, uint64_t,
		     size_t *, uint64_t *);
void		 input_fp_get(struct input_fp *, const struct stat *);
const char	*input_fp_differs(const struct input_fp *,
		     const struct input_fp *);
void		 input_close(struct input *);

/* agg.c */
void		 agg_init(struct agg *, enum op_fn);
void		 agg_init_combiner(struct agg *, enum op_fn);
void		 agg_free(struct agg *);
void		 agg_clear(struct agg *);
void		 agg_add(struct agg *, int64_t, int64_t);
int		 agg_lookup(const struct agg *, int64_t, int64_t *);
void		 agg_add_batch(struct agg *, const int64_t *, const int64_t *,
		     size_t);
size_t		 agg_count(const struct agg *);
int		 agg_next(const struct agg *, size_t *, int64_t *, int64_t *);
void		 agg_limit(struct agg *, size_t);
size_t		 agg_bytes(const struct agg *);

/* sort.c */
void		 sort_pairs(struct pair *, size_t);

/* value.c */
void		*arena_alloc(struct arena *, size_t);
void		 arena_reset(struct arena *);
void		 arena_free(struct arena *);
int64_t		 str_make(struct arena *, const char *, size_t);
const struct str *str_of(int64_t);
int		 val_cmp(enum vtype, int64_t, int64_t);
int		 val_eq(enum vtype, int64_t, int64_t);
uint64_t	 val_hash(enum vtype, int64_t);
int64_t		 val_copy(enum vtype, struct arena *, int64_t);
size_t		 val_size(enum vtype, int64_t);
char		*val_put(enum vtype, char *, int64_t);
const char	*val_get(enum vtype, const char *, const char *, int64_t *);
char		*val_format(enum vtype, enum out_format, char *, int64_t);
size_t		 val_width(enum vtype, int64_t);
const char	*vtype_name(enum vtype);

/*
 * The hash of word tables: FNV-1a from a basis of the table's own, with a
 * final shift to mix the high bits down.  For words of a few bytes it
 * costs less than xxh3, and its low bits, which pick the slot, are as good;
 * word count computes it a byte at a time as it copies a word.
 */
static inline uint64_t
sagg_hash_start(const struct sagg *t)
{
	return (14695981039346656037ULL ^ t->seed);
}

static inline uint64_t
sagg_hash_step(uint64_t h, unsigned char c)
{
	return ((h ^ c) * 1099511628211ULL);
}

static inline uint64_t
sagg_hash_end(uint64_t h)
{
	return (h ^ (h >> 29));
}

/* sagg.c */
void		 sagg_init(struct sagg *, enum op_fn);
void		 sagg_init_combiner(struct sagg *, enum op_fn);
void		 sagg_free(struct sagg *);
void		 sagg_clear(struct sagg *);
void		 sagg_add(struct sagg *, const char *, size_t, int64_t);
void		 sagg_add_hashed(struct sagg *, const char *, size_t,
		     uint64_t, int64_t);
struct pair	*sagg_pairs(struct sagg *, size_t *);
int		 sagg_full(const struct sagg *);
void		 sagg_limit(struct sagg *, size_t);
size_t		 sagg_bytes(const struct sagg *);

/* recs.c */
void		 recbuf_add(struct recbuf *, int64_t, int64_t);
void		 recbuf_clear(struct recbuf *);
void		 recbuf_free(struct recbuf *);
void		 recs_sort(struct pair *, size_t, enum vtype, enum vtype);
size_t		 recs_fold(struct pair *, size_t, enum vtype, enum vtype,
		     enum op_fn, int, struct arena *);
int64_t		 fold_one(enum op_fn, enum vtype, int64_t, int64_t);

/* proto.c (the messages are in contract.h) */
void		 buf_add(struct buf *, const void *, size_t);
char		*buf_reserve(struct buf *, size_t);
void		 buf_drain(struct buf *, size_t);
void		 buf_free(struct buf *);
ssize_t		 proto_flush(int, struct buf *);

/* stream.c */
extern struct stream_env stream_env;
extern volatile int32_t *stream_groups;	/* a worker's status page's pgid */
int		 stream_kill_groups(volatile int32_t *, int);
void		 stream_kill_all(void);
int		 stream_start(struct stream *, const struct op *,
		     struct stream_groups *);
int		 stream_feed(struct stream *, const struct batch *,
		     enum vtype, enum vtype, int, const struct stream_out *);
int		 stream_finish(struct stream *, const struct stream_out *,
		     char **);
int		 stream_filter(const struct op *, struct stream_groups *,
		     struct recbuf *, char **);

/*
 * counters.c.  The table holds the streaming commands' counters,
 * "GROUP,NAME", and the worker's own, named after COUNTER_OWN, which a
 * command's counter never starts with (stream_stderr_line).
 */
#define COUNTER_OWN	"\001"
#define COUNTER_OP	COUNTER_OWN "op %zu"	/* records into operator i */
void		 counters_add(const char *, size_t, int64_t);
void		 counters_clear(void);
int		 counters_save(const char *);
int		 counters_load(const char *);
void		 counters_user(void (*)(void *, const char *, int64_t),
		     void *);
void		 counters_set(const char *, int64_t);
int64_t		 counters_get(const char *);

/* ops.c */
extern const unsigned char word_lower[256];
void		 batch_init(struct batch *);
struct batch	*batch_new(void);
void		 batch_free(struct batch *);
struct ops	*ops_new(const struct program *, enum vtype, enum vtype,
		     struct stream_groups *);
void		 ops_free(struct ops *);
uint64_t	*ops_records(struct ops *);
int		 ops_run(struct ops *, size_t, size_t, struct batch *,
		     const struct ops_sink *, struct ops_error *);
int		 ops_finish(struct ops *, size_t, size_t,
		     const struct ops_sink *, struct ops_error *);

/* shuffle.c */
unsigned int	 shuffle_partition(int64_t, unsigned int);
int		 shuffle_write_agg(const char *, unsigned int,
		     const struct agg *, int, uint64_t *);
int		 shuffle_open(struct shuffle_file *, const char *,
		     unsigned int, char **);
const struct pair *shuffle_segment(struct shuffle_file *,
		     unsigned int, unsigned int, size_t *);
void		 shuffle_close(struct shuffle_file *);
size_t		 shuffle_extents(const struct shuffle_file *, const uint8_t *,
		    uint64_t **);

int		 runfile_open(struct runfile *, const char *, unsigned int,
		     uint64_t, unsigned int);
int		 runfile_append(struct runfile *, const struct pair *,
		     const uint64_t *);
int		 runfile_append_agg(struct runfile *, const struct agg *);
int		 runfile_run_begin(struct runfile *);
int		 runfile_run_put(struct runfile *, int64_t, int64_t);
int		 runfile_run_end(struct runfile *);

int		 runfile_open_typed(struct runfile *, const char *,
		     unsigned int, enum vtype, enum vtype, uint64_t,
		     unsigned int);
int		 runfile_append_recs(struct runfile *, const struct pair *,
		     const uint64_t *);
int		 runfile_append_sorted(struct runfile *, const struct pair *,
		     size_t);
unsigned int	 part_of(enum vtype, int64_t, unsigned int);
int		 shuffle_check(struct shuffle_file *, unsigned int,
		     unsigned int);
int		 shuffle_check_all(struct shuffle_file *);
const char	*shuffle_bytes(const struct shuffle_file *, unsigned int,
		     unsigned int, size_t *);
int		 runfile_check_tmp(const char *, unsigned int, uint64_t,
		     unsigned int);
extern uint64_t	 runfile_bad;
const char	*shuffle_bucket(struct shuffle_file *, unsigned int,
		     unsigned int, size_t *);
int		 shuffle_next(const struct shuffle_file *, const char **,
		     const char *, struct pair *);
int		 runfile_sync(struct runfile *);
int		 runfile_used(const char *, unsigned int, uint8_t *);
int		 runfile_seal(struct runfile *, int);
void		 runfile_abort(struct runfile *);

int		 shuffle_open_len(struct shuffle_file *, const char *,
		     unsigned int, uint64_t, char **);

/* merge.c */
void		 kmerge_init(struct kmerge *, enum vtype, enum vtype, size_t);
void		 kmerge_free(struct kmerge *);
int		 kmerge_add(struct kmerge *, struct kmerge_src *);
void		 kmerge_start(struct kmerge *);
struct kmerge_src *kmerge_top(const struct kmerge *);
int		 kmerge_pop(struct kmerge *);
int		 kmerge_array_next(struct kmerge_src *);
int		 kmerge_run_next(struct kmerge_src *);
void		 kmerge_run_init(struct kmerge_run *, const struct shuffle_file *,
		    unsigned int, unsigned int, int);
void		 kmerge_run_free(struct kmerge_run *);
void		 run_window(struct run_window *, const char *, const char *);
int		 keyspec_parse(const char *, struct keyspec **, size_t *,
		    char **);
int64_t		 keyorder_key(const struct keyorder *, int64_t, struct buf *);
const char	*keyorder_raw(const char *, size_t, size_t *);
uint64_t	 keyorder_tail(const char *, size_t);
void		 keyorder_free(struct keyorder *);
void		*run_map(int, size_t);
void		 run_window_dir(const char *);
void		 shuffle_for_merge(struct shuffle_file *);

/* spill.c */
int		 spill_open(struct spill *, const char *, enum vtype,
		     enum vtype, enum op_fn, unsigned int, uint64_t,
		     unsigned int);
void		 spill_free(struct spill *);
int		 spill_run(struct spill *, const struct pair *, size_t);
int		 spill_agg(struct spill *, struct agg *);
int		 spill_merge(struct spill *, const char *, enum vtype, int);
int		 runs_narrow(const struct runfile *, enum vtype, enum vtype,
		    unsigned int, struct shuffle_file *, char **, unsigned int *);
void		 spill_remove(struct spill *);

/* output.c */
size_t		 output_format(char *, int64_t, int64_t);
int		 output_write_part(const char *, const struct pair *, size_t,
		     int, int, uint64_t *);
int		 output_write_merged(const char *, struct pair_src *, size_t,
		     const struct outspec *, int, uint64_t *, uint64_t *);
int		 output_part_begin(struct outw *, const char *);
int		 output_part_put(struct outw *, const struct pair *,
		     const struct outspec *);
int		 output_part_end(struct outw *, const char *, int, uint64_t *,
		     uint64_t *);
void		 output_part_abort(struct outw *);
int		 output_check(const char *, uint64_t, uint64_t, uint64_t *);
int		 output_merge(char **, size_t, int, uint64_t *);
int		 output_merge_spec(char **, size_t, int,
		     const struct outspec *, uint64_t *);
int		 output_commit(const char *, const char *, const char *, int,
		     char **);

/* checkpoint.c */
struct ckpt	*ckpt_open(const char *, unsigned int, uint64_t);
void		 ckpt_close(struct ckpt *);
int		 ckpt_load(const struct ckpt *, struct ckpt_state *);
int		 ckpt_publish(struct ckpt *, struct ckpt_state *, int);
uint64_t	 ckpt_next_generation(const struct ckpt *);

/* worker.c */
__dead void	 worker_main(struct job *, unsigned int, int);
int		 worker_redo_stage(struct job *, unsigned int, unsigned int);

/* supervisor.c */
int		 supervisor_run(struct job *);

/* fileutil.c */
int		 write_all(int, const void *, size_t);
int		 fsync_dir(const char *);
int		 fsync_parent(const char *);
int		 rm_tree(const char *);
char		*path_dirname(const char *);
int		 file_sum(const char *, uint64_t *, uint64_t *);
char		*read_file(const char *, size_t *);
void		*map_shared_file(const char *, size_t, int);

/*
 * jobdir.c: the job directory's files, each kind named once; the fixed
 * names here.
 */
#define JD_LOCK		"lock"
#define JD_JOURNAL	"journal"
#define JD_EVENTS	"events.jsonl"
#define JD_STATUS	"status"
#define JD_JOBPAGE	"status/job"
#define JD_CKPT		"ckpt"
#define JD_COUNTERS	"counters"
#define JD_COUNTERS_JSON "counters.json"
#define JD_OUT		"out"
#define JD_OUTPUT	"output"	/* a result another job beat */
#define JD_PROGRAM	"program.json"
#define JD_STREAMING	"streaming.json"
#define JD_SKIPPED	"skipped"
#define JD_FILES	"files"		/* streaming -file copies */
#define JD_TASKS	"tasks"		/* their tasks' folders */
#define JD_LOGS		"logs"		/* commands' standard error */
char		*jd_file(const char *, const char *);
char		*jd_task(const char *, unsigned int, unsigned int, unsigned int);
char		*jd_log(const char *, unsigned int, unsigned int, unsigned int);
char		*jd_stage(const char *, unsigned int);
char		*jd_run(const char *, unsigned int, unsigned int);
char		*jd_redo_lock(const char *, unsigned int, unsigned int);
char		*jd_spill(const char *, unsigned int, unsigned int);
char		*jd_reduced(const char *, unsigned int, unsigned int);
char		*jd_used(const char *, unsigned int);
char		*jd_part(const char *, unsigned int);
char		*jd_out_part(const char *, unsigned int);
char		*jd_part_runs(const char *, unsigned int);
char		*jd_counters(const char *, unsigned int, unsigned int);
char		*jd_counters_ckpt(const char *, unsigned int, unsigned int,
		     uint64_t);
char		*jd_ckpt(const char *, unsigned int);
char		*jd_ckpt_redo(const char *, unsigned int);
char		*jd_status(const char *, unsigned int);
char		*jd_input_copy(const char *, size_t);

/* journal.c */
int		 journal_lock(struct job *, char **);
int		 journal_open(struct job *, char **);
int		 journal_commit_stage(struct job *, unsigned int);
int		 job_resumable(const struct job *);
int		 job_ckpt_load(const struct job *, unsigned int,
		     struct ckpt_state *);
int		 journal_save_used(struct job *, unsigned int, const uint8_t *);
uint8_t		*journal_load_used(const struct job *, unsigned int);
int		 journal_note(struct job *, const char *, ...)
		     printflike(2, 3);
int		 journal_check_inputs(const struct job *, char **);
int		 journal_note_run(struct job *);

/* events.c: JOBDIR/events.jsonl */
struct evwhere {
	int		 part;		/* -1 where it does not apply */
	int		 stage;
	int		 op;
	long		 pid;
	int		 attempt;
};
int		 events_open(const struct job *);
void		 events_close(void);
double		 mono_now(void);
double		 wall_now(void);
void		 event_emit(const char *, const struct evwhere *, void *);
void		 events_put(const void *);
void		*events_load(const char *, char **);

/* jobpage.c */
size_t		 jobpage_size(unsigned int);
void		 jobpage_finish(const struct job *, int);
struct job_page	*jobpage_map(const char *, unsigned int);
struct job_page	*jobpage_read(const char *, char **);
void		 jobpage_orphan(struct job_page *);
const char	*jobpage_worker_state(uint32_t);
const char	*jobpage_job_state(uint32_t);
char		*status_block(const struct job_page *, struct status_page *
		     const *, double);
void		*status_json(const struct job_page *, struct status_page *
		     const *, double, int);

/* display.c: the live progress display */
struct display;
struct display	*display_start(unsigned int, int, int);
void		 display_draw(struct display *, const struct job_page *,
		     struct status_page * const *, double);
void		 display_print(struct display *, const char *, size_t);
int		 display_frame(struct display *, const char *, size_t);
void		 display_clear(struct display *);
void		 display_freeze(struct display *);
void		 display_stop(struct display *);

/* stats.c: the counters of a run */
void		*stats_collect(const struct job *);
int		 stats_save(const struct job *, void *);
void		 stats_print(void *, FILE *);

/* report.c */
int		 report_html(const char *, const char *, char **);
int		 report_trace(const char *, const char *, char **);

/* cmd.c: what the subcommands share */
__dead void	 cmd_usage(const char *, const char *, int);
void		 cmd_operands(int, char **, int, int, const char *,
		     const char *);
unsigned int	 cmd_parse_count(const char *, const char *, unsigned int);
uint64_t	 cmd_parse_size(const char *, const char *);
double		 cmd_parse_seconds(const char *, const char *);
int		 cmd_parse_choice(const char *, const char *,
		     const char *const *);
int		 cmd_parse_changekey(const char *);
void		 cmd_print_warnings(const struct program *, int);

/* cmd-run-opts.c */
extern const char cmd_run_synopsis[];
extern const char run_options_help[];
int		 cmd_run(int, char **);
void		 run_opts_init(struct run_opts *);
void		 run_opts_free(struct run_opts *);
int		 run_opts_long(struct run_opts *, int, char **, int *);
void		 run_opts_short(struct run_opts *, int);
void		 run_opts_argv(struct run_opts *, int, char **);

/* cmd-run.c */
int		 run_job(struct run_opts *);

/* serve.c, cmd-submit.c: forkflow serve and its clients */
extern const char cmd_serve_synopsis[];
extern const char cmd_pool_synopsis[];
extern const char cmd_submit_synopsis[];
extern const char cmd_jobs_synopsis[];
extern const char cmd_cancel_synopsis[];
extern const char cmd_wait_synopsis[];
extern const char cmd_watch_synopsis[];
int		 cmd_serve(int, char **);
int		 cmd_pool(int, char **);
int		 cmd_submit(int, char **);
int		 cmd_jobs(int, char **);
int		 cmd_cancel(int, char **);
int		 cmd_wait(int, char **);
int		 cmd_watch(int, char **);
int		 serve_client_wanted(int, char **);
int		 serve_status(int, char **);
int		 serve_logs(int, char **);
char		*serve_default_statedir(void);
char		*serve_default_socket(void);

/* cmd-builtin.c */
extern const char cmd_builtin_synopsis[];
int		 cmd_builtin(int, char **);

/* hadoop-conf.c */
int		 hconf_read(const char *, struct json_t *, char **);

/* unpack.c */
int		 unpack_archive(const char *, const char *, char **);

/* cmd-streaming.c */
extern const char cmd_streaming_synopsis[];
int		 cmd_streaming(int, char **);

/* cmd-validate.c */
extern const char cmd_validate_synopsis[];
int		 cmd_validate(int, char **);

/* cmd-status.c */
extern const char cmd_status_synopsis[];
int		 cmd_status(int, char **);
extern const char cmd_logs_synopsis[];
int		 cmd_logs(int, char **);
extern const char cmd_mapreduce_synopsis[];
int		 cmd_mapreduce(int, char **);

/* cmd-report.c */
extern const char cmd_report_synopsis[];
int		 cmd_report(int, char **);

/* expr.c */
struct expr;
struct expr	*expr_parse(const char *, char **, size_t *);
struct expr	*expr_var(int);
struct expr	*expr_const(int64_t);
struct expr	*expr_unary(enum expr_op, struct expr *);
struct expr	*expr_binary(enum expr_op, struct expr *, struct expr *);
int		 expr_finish(struct expr *, char **, size_t *);
void		 expr_free(struct expr *);
int		 expr_eval(const struct expr *, int64_t, int64_t, int64_t *);
int		 expr_eval_batch(const struct expr *, const int64_t *,
		     const int64_t *, size_t, int64_t *, size_t *);
int		 expr_uses(const struct expr *, int);
int64_t		 expr_div(int64_t, int64_t);
int64_t		 expr_mod(int64_t, int64_t);

#endif /* FORKFLOW_H */
