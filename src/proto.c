/* forkflow: see LICENSE. */
/*
 * Message framing between supervisor and workers (see contract.h).  Messages
 * are appended to a per-peer output buffer and written when the socket is
 * writable; input is read into a buffer from which whole messages are
 * taken.  A header with an oversized length is malformed: the reader stops
 * there, and the supervisor treats the worker as crashed.  A writer is
 * never allowed to make one: proto_compose() refuses it.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contract.h"	/* first: it compiles on its own */
#include "forkflow.h"

/*
 * Make room for len more bytes at the end of a buffer, and return where
 * they go; the caller writes them and adds to b->len.
 */
char *
buf_reserve(struct buf *b, size_t len)
{
	if (b->off > 0 && b->off == b->len) {
		b->off = 0;
		b->len = 0;
	}
	if (b->cap - b->len < len) {
		if (b->off > 0) {
			memmove(b->data, b->data + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		while (b->cap - b->len < len)
			b->cap = b->cap ? b->cap * 2 : 4096;
		b->data = xreallocarray(b->data, b->cap, 1);
	}
	return (b->data + b->len);
}

/* Append bytes to a buffer. */
void
buf_add(struct buf *b, const void *data, size_t len)
{
	if (len == 0)
		return;
	memcpy(buf_reserve(b, len), data, len);
	b->len += len;
}

/* Consume len bytes from the front of a buffer. */
void
buf_drain(struct buf *b, size_t len)
{
	b->off += len;
	if (b->off >= b->len) {
		b->off = 0;
		b->len = 0;
	}
}

void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

/*
 * Queue a message: header, then a fixed part and a variable part.  A
 * message longer than MSG_MAXSIZE is refused whole, never cut: returns 0,
 * or -1 with errno EMSGSIZE and nothing queued.
 */
int
proto_compose(struct buf *b, uint32_t type, uint32_t partition, uint32_t seq,
    const void *fixed, size_t flen, const void *var, size_t vlen)
{
	struct msg_hdr	hdr;

	if (flen > MSG_MAXSIZE || vlen > MSG_MAXSIZE - flen) {
		errno = EMSGSIZE;
		return (-1);
	}
	hdr.type = type;
	hdr.len = (uint32_t)(flen + vlen);
	hdr.partition = partition;
	hdr.seq = seq;
	buf_add(b, &hdr, sizeof hdr);
	buf_add(b, fixed, flen);
	buf_add(b, var, vlen);
	return (0);
}

/*
 * Take one whole message from the buffer.  Returns 1 and fills m (valid
 * until the buffer changes), 0 if more bytes are needed, -1 if malformed.
 */
int
proto_take(struct buf *b, struct msg *m)
{
	size_t	avail = b->len - b->off;

	if (avail < sizeof m->hdr)
		return (0);
	memcpy(&m->hdr, b->data + b->off, sizeof m->hdr);
	if (m->hdr.len > MSG_MAXSIZE)
		return (-1);
	if (avail < sizeof m->hdr + m->hdr.len)
		return (0);
	m->data = b->data + b->off + sizeof m->hdr;
	m->len = m->hdr.len;
	m->rpos = 0;
	buf_drain(b, sizeof m->hdr + m->hdr.len);
	return (1);
}

/* Copy the next len bytes of a payload into dst; -1 if too short. */
int
proto_get(struct msg *m, void *dst, size_t len)
{
	if (m->len - m->rpos < len)
		return (-1);
	memcpy(dst, m->data + m->rpos, len);
	m->rpos += len;
	return (0);
}

/* Fail when a payload has bytes left over. */
int
proto_end(const struct msg *m)
{
	return (m->rpos == m->len ? 0 : -1);
}

/* Write what the buffer holds; returns bytes written or -1. */
ssize_t
proto_flush(int fd, struct buf *b)
{
	ssize_t	n;

	if (b->len == b->off)
		return (0);
	n = write(fd, b->data + b->off, b->len - b->off);
	if (n > 0)
		buf_drain(b, (size_t)n);
	return (n);
}

/* Read what the socket has into the buffer; 0 on EOF, -1 on error. */
ssize_t
proto_fill(int fd, struct buf *b)
{
	char	tmp[16384];
	ssize_t	n;

	n = read(fd, tmp, sizeof tmp);
	if (n > 0)
		buf_add(b, tmp, (size_t)n);
	return (n);
}

/* Send one message, blocking (workers). */
int
proto_send(int fd, uint32_t type, uint32_t partition, const void *fixed,
    size_t flen, const void *var, size_t vlen)
{
	struct buf	b;
	ssize_t		n;

	memset(&b, 0, sizeof b);
	if (proto_compose(&b, type, partition, 0, fixed, flen, var, vlen) != 0)
		return (-1);
	while (b.len > b.off) {
		n = proto_flush(fd, &b);
		if (n == -1 && errno != EINTR) {
			buf_free(&b);
			return (-1);
		}
	}
	buf_free(&b);
	return (0);
}

/*
 * Receive one message, blocking (workers).  Returns 1, 0 on EOF, -1 on
 * error or a malformed message.
 */
int
proto_recv(int fd, struct buf *b, struct msg *m)
{
	ssize_t	n;
	int	r;

	for (;;) {
		if ((r = proto_take(b, m)) != 0)
			return (r);
		n = proto_fill(fd, b);
		if (n == 0)
			return (0);
		if (n == -1 && errno != EINTR)
			return (-1);
	}
}
