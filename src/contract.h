/* forkflow: see LICENSE. */
/*
 * Everything two processes of a job share, in one place: the messages
 * between the supervisor and its workers, the checkpoint slot a worker
 * writes and the next fork of it reads, the worker's status page and the
 * supervisor's job page, which `forkflow status` reads.  Each layout has a
 * magic or version of its own: bump it when its struct changes.  This
 * header compiles on its own.
 *
 * Messages: one SOCK_STREAM socketpair per worker carries messages made of
 * a fixed header and a payload.  Bump PROTO_VERSION when any message
 * struct changes; retired message numbers stay reserved.
 */

#ifndef CONTRACT_H
#define CONTRACT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;

#define PROTO_VERSION	6
#define MSG_MAXSIZE	(64 * 1024)	/* payload bytes */

enum msg_type {
	MSG_HELLO = 100,	/* worker -> supervisor: version, pid */
	MSG_START = 200,	/* supervisor -> worker: run a stage */
	MSG_FINISH,		/* supervisor -> worker: all done, exit */
	MSG_STAGE_DONE = 400,	/* worker -> supervisor: stage committed */
	MSG_ERROR = 500,	/* worker -> supervisor: permanent failure */
	MSG_NOTE = 600,		/* worker -> supervisor: why it will crash */
	MSG_DAMAGED = 700,	/* worker -> supervisor: a file failed its check */
};

struct msg_hdr {
	uint32_t	type;
	uint32_t	len;		/* payload bytes after the header */
	uint32_t	partition;
	uint32_t	seq;
};

struct msg_hello {
	uint32_t	version;
	int32_t		pid;
};

struct msg_start {
	uint32_t	stage;
	uint32_t	attempt;
	uint32_t	nskip;		/* stage input records to skip */
	uint32_t	ncareful;	/* ranges to run a record at a time */
	uint32_t	nsources;	/* bytes of the sources, or 0: all */
	uint32_t	pad;
}; /* followed by nskip uint64_t, ncareful pairs of uint64_t, then the
    * sources: a bit per partition, set for each whose output of the stage
    * before has records for this one */

struct msg_stage_done {
	uint32_t	stage;
	uint32_t	flags;		/* DONE_ALREADY */
	uint64_t	records_in;
	uint64_t	records_out;
	uint64_t	bytes_in;
	uint64_t	bytes_out;
	uint32_t	nused;		/* bytes of the buckets used, or 0 */
	uint32_t	pad;
}; /* followed by the buckets used: a bit per partition, set for each that
    * the stage's output has records for (a stage that shuffles) */

/* The stage was committed by an earlier fork of this worker. */
#define DONE_ALREADY	1

/* Kinds of permanent failure, as MSG_ERROR reports them. */
#define ERROR_INPUT	1	/* bad input: exit 2 */
#define ERROR_RUNTIME	2	/* deterministic run-time error: exit 1 */

struct msg_error {
	uint32_t	kind;
	uint32_t	stage;
	uint64_t	file;		/* where, to report the first error */
	uint64_t	off;
}; /* followed by the message text, not NUL-terminated */

/* What is done about a damaged file, as MSG_DAMAGED reports it. */
#define DAMAGE_REDONE	1	/* its writer's stage is done again */
#define DAMAGE_RESTART	2	/* this worker does its stage again */
#define DAMAGE_REREAD	3	/* a snapshot dropped: the input read again */
#define DAMAGE_RESEND	4	/* asked again of the host that sent it */

struct msg_damaged {
	uint32_t	action;		/* DAMAGE_* */
	uint32_t	stage;		/* DAMAGE_RESEND: whose output it is */
	uint64_t	off;		/* where the check failed */
	uint32_t	part;
	uint32_t	pad;
}; /* followed by the file's name in the job directory */

/* A message taken from a buffer; data points into the buffer. */
struct msg {
	struct msg_hdr	 hdr;
	const char	*data;
	size_t		 len;
	size_t		 rpos;		/* read position for proto_get_* */
};

int	proto_compose(struct buf *, uint32_t, uint32_t, uint32_t,
	    const void *, size_t, const void *, size_t);
int	proto_take(struct buf *, struct msg *);
int	proto_get(struct msg *, void *, size_t);
int	proto_end(const struct msg *);
ssize_t	proto_fill(int, struct buf *);
int	proto_send(int, uint32_t, uint32_t, const void *, size_t,
	    const void *, size_t);
int	proto_recv(int, struct buf *, struct msg *);

#define CKPT_MAGIC	"FFCKPT3"
#define CKPT_VERSION	3
#define CKPT_SLOTSIZE	512	/* a slot; a checkpoint file has two */

/*
 * A worker's checkpoint, as one slot of its checkpoint file holds it.
 * Fields up to checksum are covered by it.
 */
struct ckpt_state {
	char		 magic[8];
	uint32_t	 version;
	uint32_t	 partition;
	uint64_t	 job_id;
	uint64_t	 generation;
	uint32_t	 stages_done;	/* stages committed */
	uint32_t	 phase;		/* enum ckpt_phase, in stage stages_done */
	uint32_t	 op;		/* next operator of the current stage */
	uint32_t	 sink_runs;	/* runs in the sink file */
	uint64_t	 sink_len;	/* its committed length */
	uint64_t	 cursor;	/* input offset, source, or group */
	uint64_t	 cursor2;	/* record within the source */
	uint32_t	 spill_runs;	/* runs in the reduce's spill file */
	uint32_t	 pad;
	uint64_t	 spill_len;	/* its length; 0: none */
	uint64_t	 records_in;
	uint64_t	 records_out;
	uint64_t	 bytes_in;
	uint64_t	 output_len;	/* bytes of the committed stage output */
	uint64_t	 output_sum;	/* XXH3 of a committed part */
	uint64_t	 checksum;
};

/* Where a worker stands inside a stage. */
enum ckpt_phase {
	PHASE_NONE,		/* nothing of the stage is kept */
	PHASE_READ,		/* reading the stage's input */
	PHASE_EMIT,		/* sending the reduced groups on */
	PHASE_MERGE,		/* the input is read: merging the spills */
};

/*
 * The process groups of a worker's commands its status page has room for;
 * more commands at once share the last (stream.c).
 */
#define STATUS_GROUPS	8

/*
 * A worker's status page, mmap'd shared: the worker bumps its counters with
 * plain stores (no system call on the hot path), the supervisor and
 * `forkflow status` read them.  It also names the process groups of its
 * running commands, which the supervisor kills when the worker dies.  The
 * supervisor makes each page, with its magic and version, before it forks
 * the worker; a reader takes no page of another version.
 */
#define STATUS_MAGIC	"FFSTAT1"
#define STATUS_VERSION	2

struct status_page {
	char		 magic[8];	/* STATUS_MAGIC, set by the supervisor */
	uint32_t	 version;
	uint32_t	 pad;
	uint64_t	 heartbeat;	/* bumped once per batch */
	uint32_t	 stage;
	uint32_t	 state;
	int32_t		 pid;
	uint32_t	 attempt;
	uint64_t	 records_in;	/* this stage */
	uint64_t	 records_out;
	uint64_t	 bytes_in;
	uint64_t	 bytes_total;	/* of the stage's input, if known */
	uint32_t	 op;		/* operator being run */
	uint32_t	 cur_n;		/* records in the batch being run */
	uint64_t	 cur_lo;	/* stage input index of its first */
	int64_t		 cur_k;		/* that record */
	int64_t		 cur_v;
	uint64_t	 cur_pos;	/* its input offset + 1, or 0 */
	uint32_t	 cur_str;	/* 1: its key, 2: its value is text */
	uint32_t	 in_command;	/* waiting on a user's command */
	uint64_t	 checkpoints;
	int32_t		 pgid[STATUS_GROUPS];	/* its commands' groups, or 0 */
	uint64_t	 mem_share;	/* its share of --memory, set by the
					 * supervisor: less after an OOM */
};

/*
 * The supervisor's status page, status/job: what `forkflow status` reads of
 * a running job, and what the progress display draws.  The supervisor
 * alone writes it; readers take it as it stands.
 */
#define JOBPAGE_MAGIC	"FFJOB3"
#define JOBPAGE_VERSION	3
#define JOBPAGE_REASON	1024	/* bytes kept of why a job failed */

enum job_state {
	JS_RUNNING,
	JS_DONE,
	JS_FAILED,
	JS_INTERRUPTED,
};

/* What a worker is doing, as the job page shows it. */
enum jp_worker_state {
	JW_STARTING,		/* not forked yet */
	JW_RUNNING,		/* busy with the current stage */
	JW_WAITING,		/* done with the stage, at the barrier */
	JW_BACKOFF,		/* crashed, waiting to be forked again */
	JW_DONE,
	JW_FAILED,
	JW_STOPPED,		/* its supervisor went away */
	JW_ELSEWHERE,		/* another host's supervisor runs it */
};

/* Stages a job page may have: a program of this many operators. */
#define JOBPAGE_STAGES_MAX	65536

struct jp_worker {
	uint32_t	 state;		/* enum jp_worker_state */
	uint32_t	 attempts;	/* forks so far */
	uint32_t	 restarts;
	uint32_t	 stages_done;
	int32_t		 pid;
	uint32_t	 pad;
	double		 last_progress;	/* monotonic seconds */
};

struct job_page {
	char		 magic[8];
	uint32_t	 version;
	uint32_t	 pad;
	uint32_t	 nparts;
	uint32_t	 nstages;
	uint32_t	 stage;		/* the stage running */
	uint32_t	 state;		/* enum job_state */
	int32_t		 pid;		/* the supervisor */
	int32_t		 exit_status;
	uint64_t	 job_id;
	double		 started;	/* monotonic seconds */
	double		 ended;		/* or 0 */
	double		 stage_started;
	double		 updated;	/* when the supervisor last wrote it */
	uint64_t	 restarts;
	uint64_t	 skipped;
	char		 reason[JOBPAGE_REASON];	/* why it failed, or "" */
	struct jp_worker w[];
};

#endif /* CONTRACT_H */
