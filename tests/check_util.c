/* forkflow: see LICENSE. */
/*
 * Helpers the Check suites share: a scratch folder per suite, paths in it,
 * whole-file reads and writes, and a small random number generator.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "forkflow.h"
#include "check_forkflow.h"

/* Make a scratch folder NAME.XXXXXX under $TMPDIR into buf. */
void
ck_tmpdir(char *buf, size_t size, const char *name)
{
	const char	*t = getenv("TMPDIR");

	snprintf(buf, size, "%s/%s.XXXXXX", t != NULL && *t != '\0' ? t :
	    "/tmp", name);
	if (mkdtemp(buf) == NULL)
		ck_abort_msg("mkdtemp: %s", strerror(errno));
}

/* A path in folder dir. */
char *
ck_path(const char *dir, const char *fmt, ...)
{
	va_list	 ap;
	char	*name, *path;

	va_start(ap, fmt);
	xvasprintf(&name, fmt, ap);
	va_end(ap);
	xasprintf(&path, "%s/%s", dir, name);
	free(name);
	return (path);
}

/* Read a whole file, NUL-terminated. */
char *
ck_slurp(const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	int		 fd;

	fd = open(path, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = xmalloc((size_t)st.st_size + 1);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	*lenp = (size_t)st.st_size;
	return (buf);
}

/* Write a whole file. */
void
ck_spew(const char *path, const void *data, size_t len)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write_all(fd, data, len), 0);
	ck_assert_int_eq(close(fd), 0);
}

/* xorshift64*: a small, reproducible random number generator. */
uint64_t
ck_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (*s * 0x2545F4914F6CDD1DULL);
}

/* Write a whole file of text. */
void
ck_spew_str(const char *path, const char *text)
{
	ck_spew(path, text, strlen(text));
}

/*
 * Turn single quotes into double quotes and take out the backquote,
 * giving its line and column (0 if there is none).
 */
static char *
ck_program_text(const char *src, int *line, int *col)
{
	char		*out, *o;
	const char	*s;
	int		 l = 1, c = 1;

	*line = *col = 0;
	out = o = xmalloc(strlen(src) + 1);
	for (s = src; *s != '\0'; s++) {
		if (*s == '`') {
			*line = l;
			*col = c;
			continue;
		}
		*o++ = *s == '\'' ? '"' : *s;
		if (*s == '\n') {
			l++;
			c = 1;
		} else
			c++;
	}
	*o = '\0';
	return (out);
}

/*
 * Write program src, in the quoting of ck_program_text(), as name in
 * folder dir; returns its path, and the backquote's line and column.
 */
char *
ck_program_write(const char *dir, const char *name, const char *src,
    int *line, int *col)
{
	char	*text, *path;

	text = ck_program_text(src, line, col);
	path = ck_path(dir, "%s", name);
	ck_spew_str(path, text);
	free(text);
	return (path);
}

/*
 * Expect loading src, written as name in folder dir, with --changekey-on
 * changekey (-1: none), to fail at the backquote with message msg.
 */
void
ck_program_bad(const char *dir, const char *name, const char *src,
    int changekey, const char *msg)
{
	struct program	*p;
	char		*path, *cause = NULL, *want;
	int		 line, col;

	path = ck_program_write(dir, name, src, &line, &col);
	ck_assert_msg(line > 0, "no backquote in: %s", src);
	p = program_load_opts(path, changekey, &cause);
	ck_assert_msg(p == NULL, "loaded: %s", src);
	ck_assert_ptr_nonnull(cause);
	xasprintf(&want, "%s:%d:%d: %s", path, line, col, msg);
	ck_assert_msg(strcmp(cause, want) == 0, "in: %s\nwant: %s\ngot:  %s",
	    src, want, cause);
	free(want);
	free(cause);
	free(path);
}

/*
 * Expect the inputs of p to be want, each relative to folder dir unless
 * it is absolute or "-".
 */
void
ck_program_inputs(const char *dir, const struct program *p,
    const char *const *want, size_t nwant)
{
	char	*w;
	size_t	 i;

	ck_assert_uint_eq(p->ninputs, nwant);
	for (i = 0; i < nwant; i++) {
		if (want[i][0] == '/' || strcmp(want[i], "-") == 0)
			w = xstrdup(want[i]);
		else
			xasprintf(&w, "%s/%s", dir, want[i]);
		ck_assert_str_eq(p->inputs[i], w);
		free(w);
	}
}

/*
 * A field of type t as text, for messages, in buf: a string quoted, with
 * its control bytes in octal, cut short if it does not fit.
 */
static const char *
ck_field(enum vtype t, int64_t f, char *buf, size_t size)
{
	const struct str	*x;
	size_t			 i, n = 0;

	if (t == VT_INT) {
		snprintf(buf, size, "%lld", (long long)f);
		return (buf);
	}
	x = str_of(f);
	buf[n++] = '"';
	for (i = 0; i < x->len && n + 6 < size; i++) {
		if ((unsigned char)x->s[i] < ' ')
			n += (size_t)snprintf(buf + n, size - n, "\\%03o",
			    (unsigned char)x->s[i]);
		else
			buf[n++] = x->s[i];
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return (buf);
}

/*
 * Expect the records got to be want, in order, of the same types; what
 * names the case in a message.
 */
void
ck_recs_eq(const struct recbuf *got, const struct recbuf *want,
    const char *what)
{
	char	b[4][96];
	size_t	i;

	ck_assert_msg(got->kt == want->kt && got->vt == want->vt,
	    "%s: types differ", what);
	for (i = 0; i < got->n && i < want->n; i++) {
		if (val_eq(want->kt, got->r[i].k, want->r[i].k) &&
		    val_eq(want->vt, got->r[i].v, want->r[i].v))
			continue;
		ck_abort_msg("%s: record %zu is (%s, %s), expected (%s, %s)",
		    what, i,
		    ck_field(got->kt, got->r[i].k, b[0], sizeof b[0]),
		    ck_field(got->vt, got->r[i].v, b[1], sizeof b[1]),
		    ck_field(want->kt, want->r[i].k, b[2], sizeof b[2]),
		    ck_field(want->vt, want->r[i].v, b[3], sizeof b[3]));
	}
	ck_assert_msg(got->n == want->n, "%s: %zu records, expected %zu", what,
	    got->n, want->n);
}

/* Add a record of two strings, copied into the buffer's arena. */
void
ck_recs_add_str(struct recbuf *rb, const char *k, size_t klen, const char *v,
    size_t vlen)
{
	static struct arena	scratch;

	arena_reset(&scratch);
	recbuf_add(rb, str_make(&scratch, k, klen), str_make(&scratch, v,
	    vlen));
}

/* The lines logged since ck_log_capture(). */
static struct buf	ck_log_buf;

static void
ck_log_line(const char *s, size_t len)
{
	buf_add(&ck_log_buf, s, len);
}

/* Keep what is logged from now on, instead of writing it. */
void
ck_log_capture(void)
{
	buf_free(&ck_log_buf);
	log_set_hook(ck_log_line);
}

/* The lines logged since ck_log_capture(), NUL-terminated. */
const char *
ck_log(void)
{
	buf_add(&ck_log_buf, "", 1);
	ck_log_buf.len--;
	return (ck_log_buf.data);
}
