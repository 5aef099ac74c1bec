/* forkflow: see LICENSE. */
/*
 * Values: int64 or byte strings.  A record is a struct pair whose fields
 * hold an int64, or a pointer to a struct str, as the type of the field at
 * that point of the program says.  This file has what depends on the
 * type: string arenas, comparison, hashing, the encoding of records in
 * run files, and formatting for the output.
 *
 * In a run file a record is its key then its value, each an int64 (8
 * bytes) or a string (a 4-byte length, the bytes, and padding to a
 * multiple of 4), so that a string read from a mapped file is a struct
 * str in place and is never copied.
 */

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "forkflow.h"

#define ARENA_CHUNK	(1024 * 1024)

/* Allocate len bytes, 8-aligned, from an arena. */
void *
arena_alloc(struct arena *a, size_t len)
{
	size_t	 size;
	void	*p;

	len = (len + 7) & ~(size_t)7;
	if (a->chunk == NULL || a->size - a->used < len) {
		if (a->chunk != NULL) {
			a->old = xgrow(a->old, a->nold,
			    sizeof *a->old);
			a->old[a->nold++] = a->chunk;
		}
		size = len > ARENA_CHUNK ? len : ARENA_CHUNK;
		a->chunk = xmalloc(size);
		a->size = size;
		a->bytes += size;
		a->used = 0;
	}
	p = a->chunk + a->used;
	a->used += len;
	return (p);
}

/* Forget everything allocated, keeping one chunk. */
void
arena_reset(struct arena *a)
{
	size_t	i;

	for (i = 0; i < a->nold; i++)
		free(a->old[i]);
	free(a->old);
	a->old = NULL;
	a->nold = 0;
	a->used = 0;
	a->bytes = a->chunk != NULL ? a->size : 0;
}

void
arena_free(struct arena *a)
{
	arena_reset(a);
	free(a->chunk);
	memset(a, 0, sizeof *a);
}

/* Make a string in an arena; returns it as a record field. */
int64_t
str_make(struct arena *a, const char *s, size_t len)
{
	struct str	*x;

	x = arena_alloc(a, sizeof *x + len);
	x->len = (uint32_t)len;
	memcpy(x->s, s, len);
	return ((int64_t)(uintptr_t)x);
}

/* The string a record field holds. */
const struct str *
str_of(int64_t f)
{
	return ((const struct str *)(uintptr_t)f);
}

/* Compare two fields of type t: bytewise for strings, as C's sort does. */
int
val_cmp(enum vtype t, int64_t a, int64_t b)
{
	const struct str	*x, *y;
	int			 c;

	if (t == VT_INT)
		return (a < b ? -1 : a > b);
	x = str_of(a);
	y = str_of(b);
	c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
	if (c != 0)
		return (c < 0 ? -1 : 1);
	return (x->len < y->len ? -1 : x->len > y->len);
}

/* Are two fields of type t equal? */
int
val_eq(enum vtype t, int64_t a, int64_t b)
{
	const struct str	*x, *y;

	if (t == VT_INT)
		return (a == b);
	x = str_of(a);
	y = str_of(b);
	return (x->len == y->len && memcmp(x->s, y->s, x->len) == 0);
}

/* A hash of a field's contents, the same in every process. */
uint64_t
val_hash(enum vtype t, int64_t f)
{
	const struct str	*x;

	if (t == VT_INT)
		return ((uint64_t)f);
	x = str_of(f);
	return (XXH3_64bits(x->s, x->len));
}

/* Copy a field into an arena (strings), so it outlives its batch. */
int64_t
val_copy(enum vtype t, struct arena *a, int64_t f)
{
	const struct str	*x;

	if (t == VT_INT)
		return (f);
	x = str_of(f);
	return (str_make(a, x->s, x->len));
}

/* The bytes a field takes in a run file. */
size_t
val_size(enum vtype t, int64_t f)
{
	if (t == VT_INT)
		return (8);
	return ((sizeof(uint32_t) + str_of(f)->len + 3) & ~(size_t)3);
}

/* Encode a field at p; returns the byte after it. */
char *
val_put(enum vtype t, char *p, int64_t f)
{
	const struct str	*x;
	size_t			 n;

	if (t == VT_INT) {
		memcpy(p, &f, 8);
		return (p + 8);
	}
	x = str_of(f);
	memcpy(p, &x->len, sizeof x->len);
	memcpy(p + sizeof x->len, x->s, x->len);
	n = sizeof x->len + x->len;
	while (n & 3)
		p[n++] = '\0';
	return (p + n);
}

/*
 * Decode a field at p, within end; strings point into the buffer, which
 * must be 4-aligned.  Returns the byte after it, or NULL if it overruns.
 */
const char *
val_get(enum vtype t, const char *p, const char *end, int64_t *f)
{
	uint32_t	len;

	if (t == VT_INT) {
		if (end - p < 8)
			return (NULL);
		memcpy(f, p, 8);
		return (p + 8);
	}
	if (end - p < (ptrdiff_t)sizeof len)
		return (NULL);
	memcpy(&len, p, sizeof len);
	if ((size_t)(end - p) - sizeof len < len)
		return (NULL);
	*f = (int64_t)(uintptr_t)p;
	p += (sizeof len + len + 3) & ~(size_t)3;
	return (p > end ? end : p);
}

/* Does a string need quotes in CSV? */
static int
csv_needs_quotes(const struct str *x)
{
	uint32_t	i;

	if (x->len == 0)
		return (0);
	for (i = 0; i < x->len; i++) {
		switch (x->s[i]) {
		case ',':
		case '"':
		case '\n':
		case '\r':
			return (1);
		}
	}
	return (x->s[0] == ' ' || x->s[x->len - 1] == ' ');
}

/*
 * Format a field for the output at p, with room for val_width() bytes.
 * CSV quotes a string only when it must (RFC 4180); TSV writes it as it
 * is, as Hadoop Streaming does.
 */
char *
val_format(enum vtype t, enum out_format fmt, char *p, int64_t f)
{
	const struct str	*x;
	char			 tmp[24];
	uint64_t		 u;
	uint32_t		 i;
	int			 n = 0;

	if (t == VT_INT) {
		u = f < 0 ? 0 - (uint64_t)f : (uint64_t)f;
		do {
			tmp[n++] = (char)('0' + u % 10);
			u /= 10;
		} while (u != 0);
		if (f < 0)
			*p++ = '-';
		while (n > 0)
			*p++ = tmp[--n];
		return (p);
	}
	x = str_of(f);
	if (fmt == OUT_TSV || !csv_needs_quotes(x)) {
		memcpy(p, x->s, x->len);
		return (p + x->len);
	}
	*p++ = '"';
	for (i = 0; i < x->len; i++) {
		if (x->s[i] == '"')
			*p++ = '"';
		*p++ = x->s[i];
	}
	*p++ = '"';
	return (p);
}

/* The most bytes val_format() writes for a field. */
size_t
val_width(enum vtype t, int64_t f)
{
	if (t == VT_INT)
		return (21);
	return (2 + 2 * (size_t)str_of(f)->len);
}

/* The name of a type, for messages. */
const char *
vtype_name(enum vtype t)
{
	return (t == VT_INT ? "integers" : "strings");
}
