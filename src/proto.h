/* forkflow: see LICENSE. */
/*
 * The wire contract between the supervisor and its workers.  One
 * SOCK_STREAM socketpair per worker carries messages made of a fixed header
 * and a payload.  Bump PROTO_VERSION when any struct below changes; retired
 * message numbers stay reserved.
 */

#ifndef PROTO_H
#define PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION	5
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

struct msg_damaged {
	uint32_t	action;		/* DAMAGE_* */
	uint32_t	pad;
	uint64_t	off;		/* where the check failed */
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

#endif /* PROTO_H */
