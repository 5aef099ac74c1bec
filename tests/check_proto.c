/* forkflow: see LICENSE. */
/*
 * Tests of proto.c, the message framing between supervisor and workers:
 * compose and take round trips, messages arriving a byte at a time,
 * malformed lengths, payload readers that notice short and leftover
 * payloads, blocking send and receive over a real socketpair, and the
 * buffer's compaction.
 */

#include <sys/socket.h>

#include <fcntl.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "forkflow.h"

#include "check_forkflow.h"

static void	check_msg(struct msg *, uint32_t, uint32_t, uint32_t,
		    const void *, size_t);
static void	put_hdr(struct buf *, uint32_t, uint32_t);

/* Expect m to be the message (type, partition, seq) with this payload. */
static void
check_msg(struct msg *m, uint32_t type, uint32_t partition, uint32_t seq,
    const void *payload, size_t len)
{
	ck_assert_uint_eq(m->hdr.type, type);
	ck_assert_uint_eq(m->hdr.partition, partition);
	ck_assert_uint_eq(m->hdr.seq, seq);
	ck_assert_uint_eq(m->hdr.len, len);
	ck_assert_uint_eq(m->len, len);
	ck_assert_uint_eq(m->rpos, 0);
	if (len > 0)
		ck_assert(memcmp(m->data, payload, len) == 0);
}

/* Append a raw header claiming len payload bytes. */
static void
put_hdr(struct buf *b, uint32_t type, uint32_t len)
{
	struct msg_hdr	hdr;

	memset(&hdr, 0, sizeof hdr);
	hdr.type = type;
	hdr.len = len;
	buf_add(b, &hdr, sizeof hdr);
}

START_TEST(test_proto_round_trip)
{
	struct buf		b;
	struct msg		m;
	struct msg_hello	hello = { PROTO_VERSION, 4242 }, h2;
	struct msg_start	start = { 3, 7, 0, 0, 0, 0 }, s2;
	struct msg_error	err = { ERROR_INPUT, 1, 2, 12345 }, e2;
	const char		*text = "in.csv:3:1: expected an integer key";
	char			 got[64], both[sizeof err + 64];

	memset(&b, 0, sizeof b);
	proto_compose(&b, MSG_HELLO, 5, 1, &hello, sizeof hello, NULL, 0);
	proto_compose(&b, MSG_START, 5, 2, &start, sizeof start, NULL, 0);
	proto_compose(&b, MSG_ERROR, 6, 3, &err, sizeof err, text,
	    strlen(text));
	proto_compose(&b, MSG_FINISH, 0, 4, NULL, 0, NULL, 0);
	ck_assert_uint_eq(b.len - b.off, 4 * sizeof(struct msg_hdr) +
	    sizeof hello + sizeof start + sizeof err + strlen(text));

	ck_assert_int_eq(proto_take(&b, &m), 1);
	check_msg(&m, MSG_HELLO, 5, 1, &hello, sizeof hello);
	ck_assert_int_eq(proto_get(&m, &h2, sizeof h2), 0);
	ck_assert_int_eq(proto_end(&m), 0);
	ck_assert_uint_eq(h2.version, PROTO_VERSION);
	ck_assert_int_eq(h2.pid, 4242);

	ck_assert_int_eq(proto_take(&b, &m), 1);
	check_msg(&m, MSG_START, 5, 2, &start, sizeof start);
	ck_assert_int_eq(proto_get(&m, &s2, sizeof s2), 0);
	ck_assert_int_eq(proto_end(&m), 0);
	ck_assert_uint_eq(s2.stage, 3);
	ck_assert_uint_eq(s2.attempt, 7);

	ck_assert_int_eq(proto_take(&b, &m), 1);
	memcpy(both, &err, sizeof err);
	memcpy(both + sizeof err, text, strlen(text));
	check_msg(&m, MSG_ERROR, 6, 3, both, sizeof err + strlen(text));
	ck_assert_int_eq(proto_get(&m, &e2, sizeof e2), 0);
	ck_assert_int_eq(proto_end(&m), -1);	/* the text is left */
	ck_assert_uint_eq(e2.kind, ERROR_INPUT);
	ck_assert_uint_eq(e2.off, 12345);
	memset(got, 0, sizeof got);
	ck_assert_int_eq(proto_get(&m, got, m.len - m.rpos), 0);
	ck_assert_int_eq(proto_end(&m), 0);
	ck_assert_str_eq(got, text);

	ck_assert_int_eq(proto_take(&b, &m), 1);
	check_msg(&m, MSG_FINISH, 0, 4, NULL, 0);
	ck_assert_int_eq(proto_end(&m), 0);

	ck_assert_int_eq(proto_take(&b, &m), 0);
	ck_assert_uint_eq(b.len, b.off);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

/* Feeding a stream one byte at a time yields each message once, whole. */
START_TEST(test_proto_partial)
{
	struct buf	src, dst;
	struct msg	m;
	char		payload[3000];
	size_t		i, lens[] = { 0, 1, 15, 16, 17, 3000, 8 }, next = 0;
	size_t		sent = 0, stream;
	int		r;

	memset(&src, 0, sizeof src);
	memset(&dst, 0, sizeof dst);
	for (i = 0; i < sizeof payload; i++)
		payload[i] = (char)(i * 7 + 1);
	for (i = 0; i < sizeof lens / sizeof lens[0]; i++)
		proto_compose(&src, 300 + (uint32_t)i, (uint32_t)i,
		    (uint32_t)(i * 10), payload, lens[i], NULL, 0);
	stream = src.len - src.off;
	for (i = 0; i < stream; i++) {
		buf_add(&dst, src.data + src.off + i, 1);
		sent += 1;
		while ((r = proto_take(&dst, &m)) == 1) {
			ck_assert_uint_lt(next, sizeof lens / sizeof lens[0]);
			check_msg(&m, 300 + (uint32_t)next, (uint32_t)next,
			    (uint32_t)(next * 10), payload, lens[next]);
			next++;
		}
		ck_assert_int_eq(r, 0);
	}
	ck_assert_uint_eq(next, sizeof lens / sizeof lens[0]);
	ck_assert_uint_eq(sent, stream);
	ck_assert_uint_eq(dst.len, dst.off);
	buf_free(&src);
	buf_free(&dst);
}
END_TEST

/* A length past MSG_MAXSIZE is malformed, at once, even before its bytes. */
START_TEST(test_proto_oversized)
{
	struct buf	b;
	struct msg	m;
	char		*big;

	memset(&b, 0, sizeof b);
	put_hdr(&b, MSG_HELLO, MSG_MAXSIZE + 1);
	ck_assert_int_eq(proto_take(&b, &m), -1);
	ck_assert_int_eq(proto_take(&b, &m), -1);	/* and stays so */
	buf_free(&b);

	memset(&b, 0, sizeof b);
	put_hdr(&b, MSG_HELLO, UINT32_MAX);
	ck_assert_int_eq(proto_take(&b, &m), -1);
	buf_free(&b);

	/* Exactly MSG_MAXSIZE is fine once it is all there. */
	big = xcalloc(1, MSG_MAXSIZE);
	memset(&b, 0, sizeof b);
	put_hdr(&b, MSG_HELLO, MSG_MAXSIZE);
	buf_add(&b, big, MSG_MAXSIZE - 1);
	ck_assert_int_eq(proto_take(&b, &m), 0);
	buf_add(&b, big, 1);
	ck_assert_int_eq(proto_take(&b, &m), 1);
	ck_assert_uint_eq(m.len, MSG_MAXSIZE);
	buf_free(&b);

	/* A header short of its 16 bytes is not yet anything. */
	memset(&b, 0, sizeof b);
	buf_add(&b, "\xff\xff\xff\xff\xff\xff\xff\xff", 7);
	ck_assert_int_eq(proto_take(&b, &m), 0);
	buf_free(&b);

	/*
	 * compose refuses a message past MSG_MAXSIZE, whole: it queues
	 * nothing and says EMSGSIZE, whether the variable part or the fixed
	 * part alone is too long, and however far past the limit.
	 */
	memset(&b, 0, sizeof b);
	errno = 0;
	ck_assert_int_eq(proto_compose(&b, MSG_ERROR, 1, 1, big, 100, big,
	    MSG_MAXSIZE), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(proto_compose(&b, MSG_START, 1, 1, big,
	    MSG_MAXSIZE + 1, NULL, 0), -1);
	ck_assert_int_eq(proto_compose(&b, MSG_START, 1, 1, big,
	    MSG_MAXSIZE, "x", 1), -1);
	ck_assert_int_eq(proto_compose(&b, MSG_START, 1, 1, big, 1,
	    big, SIZE_MAX), -1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(proto_take(&b, &m), 0);
	/* Exactly MSG_MAXSIZE, fixed and variable parts together: fine. */
	ck_assert_int_eq(proto_compose(&b, MSG_ERROR, 1, 1, big, 100, big,
	    MSG_MAXSIZE - 100), 0);
	ck_assert_int_eq(proto_take(&b, &m), 1);
	ck_assert_uint_eq(m.len, MSG_MAXSIZE);
	buf_free(&b);
	free(big);
}
END_TEST

/* A blocking send of a message too large fails, and sends nothing. */
START_TEST(test_proto_send_oversized)
{
	struct buf	 b;
	struct msg	 m;
	char		*big;
	int		 sp[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	big = xcalloc(1, MSG_MAXSIZE + 1);
	errno = 0;
	ck_assert_int_eq(proto_send(sp[0], MSG_ERROR, 0, big, 16, big,
	    MSG_MAXSIZE), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(proto_send(sp[0], MSG_NOTE, 0, NULL, 0, "ok", 2), 0);
	close(sp[0]);
	memset(&b, 0, sizeof b);
	ck_assert_int_eq(proto_recv(sp[1], &b, &m), 1);
	ck_assert_uint_eq(m.hdr.type, MSG_NOTE);
	ck_assert_uint_eq(m.len, 2);
	ck_assert_int_eq(proto_recv(sp[1], &b, &m), 0);
	buf_free(&b);
	close(sp[1]);
	free(big);
}
END_TEST

/* proto_get refuses to read past the payload and leaves rpos alone. */
START_TEST(test_proto_get_end)
{
	struct buf		b;
	struct msg		m;
	struct msg_stage_done	sd, got;
	uint32_t		x;

	memset(&b, 0, sizeof b);
	memset(&sd, 0, sizeof sd);
	sd.stage = 2;
	sd.records_out = 99;

	/* Short: a payload one byte shy of the struct. */
	proto_compose(&b, MSG_STAGE_DONE, 1, 0, &sd, sizeof sd - 1, NULL, 0);
	ck_assert_int_eq(proto_take(&b, &m), 1);
	ck_assert_int_eq(proto_get(&m, &got, sizeof got), -1);
	ck_assert_uint_eq(m.rpos, 0);
	ck_assert_int_eq(proto_end(&m), -1);

	/* Exact. */
	proto_compose(&b, MSG_STAGE_DONE, 1, 0, &sd, sizeof sd, NULL, 0);
	ck_assert_int_eq(proto_take(&b, &m), 1);
	ck_assert_int_eq(proto_get(&m, &got, sizeof got), 0);
	ck_assert_int_eq(proto_end(&m), 0);
	ck_assert_uint_eq(got.stage, 2);
	ck_assert_uint_eq(got.records_out, 99);
	ck_assert_int_eq(proto_get(&m, &x, 1), -1);

	/* Leftover: one byte too many. */
	proto_compose(&b, MSG_STAGE_DONE, 1, 0, &sd, sizeof sd, "!", 1);
	ck_assert_int_eq(proto_take(&b, &m), 1);
	ck_assert_int_eq(proto_get(&m, &got, sizeof got), 0);
	ck_assert_int_eq(proto_end(&m), -1);
	ck_assert_int_eq(proto_get(&m, &x, sizeof x), -1);
	ck_assert_int_eq(proto_get(&m, &x, 1), 0);
	ck_assert_int_eq(proto_end(&m), 0);

	/* Empty payload: nothing to get, nothing left over. */
	proto_compose(&b, MSG_FINISH, 0, 0, NULL, 0, NULL, 0);
	ck_assert_int_eq(proto_take(&b, &m), 1);
	ck_assert_int_eq(proto_end(&m), 0);
	ck_assert_int_eq(proto_get(&m, &x, 0), 0);
	ck_assert_int_eq(proto_get(&m, &x, 1), -1);
	buf_free(&b);
}
END_TEST

/* Blocking send and receive over a socketpair, then EOF. */
START_TEST(test_proto_socketpair)
{
	struct buf		 b;
	struct msg		 m;
	struct msg_hello	 hello = { PROTO_VERSION, 77 };
	struct msg_hdr		 bad = { MSG_HELLO, MSG_MAXSIZE + 1, 0, 0 };
	struct sigaction	 sa, osa;
	char			*big;
	size_t			 i;
	int			 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(&b, 0, sizeof b);
	big = xmalloc(MSG_MAXSIZE);
	for (i = 0; i < MSG_MAXSIZE; i++)
		big[i] = (char)(i ^ (i >> 8));

	ck_assert_int_eq(proto_send(sv[0], MSG_HELLO, 3, &hello, sizeof hello,
	    NULL, 0), 0);
	ck_assert_int_eq(proto_send(sv[0], MSG_ERROR, 3, NULL, 0, big,
	    MSG_MAXSIZE), 0);
	ck_assert_int_eq(proto_send(sv[0], MSG_FINISH, 4, NULL, 0, NULL, 0), 0);

	ck_assert_int_eq(proto_recv(sv[1], &b, &m), 1);
	check_msg(&m, MSG_HELLO, 3, 0, &hello, sizeof hello);
	ck_assert_int_eq(proto_recv(sv[1], &b, &m), 1);
	check_msg(&m, MSG_ERROR, 3, 0, big, MSG_MAXSIZE);
	ck_assert_int_eq(proto_recv(sv[1], &b, &m), 1);
	check_msg(&m, MSG_FINISH, 4, 0, NULL, 0);

	/* A malformed header on the wire is an error, not a hang. */
	ck_assert_uint_eq(b.len, b.off);
	ck_assert_int_eq(write(sv[0], &bad, sizeof bad), (ssize_t)sizeof bad);
	ck_assert_int_eq(proto_recv(sv[1], &b, &m), -1);
	buf_free(&b);

	/* EOF after a partial message reads as EOF. */
	memset(&b, 0, sizeof b);
	ck_assert_int_eq(write(sv[0], "abc", 3), 3);
	close(sv[0]);
	ck_assert_int_eq(proto_recv(sv[1], &b, &m), 0);
	ck_assert_uint_eq(b.len - b.off, 3);
	/* A closed peer makes send fail with EPIPE (SIGPIPE ignored). */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	ck_assert_int_eq(sigaction(SIGPIPE, &sa, &osa), 0);
	ck_assert_int_eq(proto_send(sv[1], MSG_HELLO, 0, &hello, sizeof hello,
	    NULL, 0), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(sigaction(SIGPIPE, &osa, NULL), 0);
	close(sv[1]);
	buf_free(&b);
	free(big);
}
END_TEST

/* Consumed bytes at the front are reclaimed before the buffer grows. */
START_TEST(test_proto_buf_compaction)
{
	struct buf	b;
	char		data[6000];
	size_t		i;

	for (i = 0; i < sizeof data; i++)
		data[i] = (char)(i % 251);
	memset(&b, 0, sizeof b);
	buf_add(&b, data, 0);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);

	buf_add(&b, data, 3000);
	ck_assert_uint_eq(b.cap, 4096);
	buf_drain(&b, 2000);
	ck_assert_uint_eq(b.off, 2000);
	ck_assert_uint_eq(b.len, 3000);
	buf_add(&b, data + 3000, 2000);	/* fits once the front is moved */
	ck_assert_uint_eq(b.cap, 4096);
	ck_assert_uint_eq(b.off, 0);
	ck_assert_uint_eq(b.len, 3000);
	ck_assert(memcmp(b.data + b.off, data + 2000, 3000) == 0);

	/* Draining everything rewinds; draining too much does too. */
	buf_drain(&b, 3000);
	ck_assert_uint_eq(b.off, 0);
	ck_assert_uint_eq(b.len, 0);
	buf_add(&b, data, 10);
	buf_drain(&b, 50);
	ck_assert_uint_eq(b.off, 0);
	ck_assert_uint_eq(b.len, 0);

	/* Growing keeps the unread bytes, in order. */
	buf_add(&b, data, 4000);
	buf_drain(&b, 1);
	buf_add(&b, data + 4000, 2000);
	ck_assert_uint_ge(b.cap - b.off, 5999);
	ck_assert_uint_eq(b.len - b.off, 5999);
	ck_assert(memcmp(b.data + b.off, data + 1, 5999) == 0);
	buf_free(&b);
	ck_assert_uint_eq(b.cap, 0);
}
END_TEST

/*
 * Frame records (display.c), as forkflow run --hosts reads them from
 * mpirun: what it writes on its terminal for each, read back from a file.
 */
static char *
frame_feed(const char *const *lines, size_t n, int freeze)
{
	struct display	*d;
	char		 dir[256], *path, *out;
	size_t		 i, len;
	int		 fd;

	ck_tmpdir(dir, sizeof dir, "frame");
	path = ck_path(dir, "tty");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	d = display_start(1, fd, 0);
	for (i = 0; i < n; i++) {
		if (freeze && i == n - 1)
			display_freeze(d);
		if (!display_frame(d, lines[i], strlen(lines[i])))
			display_print(d, "-\n", 2);
	}
	display_stop(d);
	close(fd);
	out = ck_slurp(path, &len);
	unlink(path);
	rmdir(dir);
	free(path);
	return (out);
}

START_TEST(test_frame_records)
{
	const char *const in[] = {
		"a line of a rank",
		"\036forkflow-frame 2 15 \r\033[Kp0\037\r\033[Kbar\037",
		"cut sh\036forkflow-frame 1 7 \r\033[Kp1\037",
		"\036forkflow-frame 1 99 \r\033[Kp2\037",
		"\036forkflow-frame 0 0 ",
	};
	char	*out;

	(void)setenv("COLUMNS", "80", 1);
	(void)setenv("LINES", "24", 1);
	out = frame_feed(in, 5, 0);
	ck_assert_str_eq(out,
	    /* No record: the caller's. */
	    "-\n"
	    /* The first frame. */
	    "\r\033[Kp0\n\r\033[Kbar\n"
	    /* A line's start above the next frame, in its place. */
	    "\r\033[2A\033[Jcut sh\n\r\033[Kp0\n\r\033[Kbar\n"
	    "\r\033[2A\033[J\r\033[Kp1\n"
	    /* A record that is not whole: above, as it is. */
	    "\r\033[1A\033[J\036forkflow-frame 1 99 \r\033[Kp2\037\n"
	    "\r\033[Kp1\n"
	    /* The empty frame takes the display off. */
	    "\r\033[1A\033[J");
	free(out);
}
END_TEST

START_TEST(test_frame_cut_frozen)
{
	const char *const in[] = {
		"\036forkflow-frame 1 34 \r\033[K\033[32m[####----------]\033[0m 10%\037",
		"\036forkflow-frame 1 7 \r\033[Kp9\037",
	};
	char	*out;

	/* Narrower than rank 0 drew it: 19 columns each, colors kept. */
	(void)setenv("COLUMNS", "20", 1);
	(void)setenv("LINES", "10", 1);
	out = frame_feed(in, 2, 1);
	ck_assert_str_eq(out,
	    "\r\033[K\033[32m[####----------]\033[0m 10\n"
	    /* Frozen: taken off, the next frame not drawn. */
	    "\r\033[1A\033[J");
	free(out);
	(void)unsetenv("COLUMNS");
	(void)unsetenv("LINES");
}
END_TEST

Suite *
proto_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("proto");
	tc = tcase_create("framing");
	tcase_add_test(tc, test_proto_round_trip);
	tcase_add_test(tc, test_proto_partial);
	tcase_add_test(tc, test_proto_oversized);
	tcase_add_test(tc, test_proto_send_oversized);
	tcase_add_test(tc, test_proto_get_end);
	tcase_add_test(tc, test_proto_buf_compaction);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_proto_socketpair);
	suite_add_tcase(s, tc);

	tc = tcase_create("frame records");
	tcase_add_test(tc, test_frame_records);
	tcase_add_test(tc, test_frame_cut_frozen);
	suite_add_tcase(s, tc);
	return (s);
}
