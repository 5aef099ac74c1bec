/* forkflow: see LICENSE. */
/*
 * Key fields: the secondary sort of Hadoop Streaming, its
 * KeyFieldBasedComparator and KeyFieldBasedPartitioner.  A key is cut
 * into fields at a separator; specs in sort(1)'s words (-k2,2nr: field 2,
 * as a number, in reverse) say which bytes of it decide the order of a
 * reducer's input, and which its partition.
 *
 * The shuffle itself knows only keys in byte order and a partition per
 * key, so a record bound for such a reducer travels with a key made for
 * it (keyorder_encode): each sort field encoded so that byte order is the
 * spec's order (text escaped and ended by a 0 byte, numbers by sign and
 * digits, a reversed field's bytes inverted), then the key as the command
 * wrote it, its length, and the hash of its partition fields, which the
 * run file's writer takes for the partition (RUNFILE_KEYTAIL).  The
 * reducer is fed the key as written (keyorder_raw).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "forkflow.h"

/* Parse "F[.C]" into *f, *c (c 0 when not given); returns the end. */
static const char *
keyspec_pos(const char *s, unsigned int *f, unsigned int *c)
{
	char		*end;
	unsigned long	 n;

	if (*s < '0' || *s > '9')
		return (NULL);
	n = strtoul(s, &end, 10);
	if (n == 0 || n > 1000000)
		return (NULL);
	*f = (unsigned int)n;
	*c = 0;
	s = end;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return (NULL);
		n = strtoul(s, &end, 10);
		if (n > 1000000)
			return (NULL);
		*c = (unsigned int)n;
		s = end;
	}
	return (s);
}

/* Flags after a position: n and r. */
static const char *
keyspec_flags(const char *s, struct keyspec *k)
{
	for (; *s == 'n' || *s == 'r'; s++) {
		if (*s == 'n')
			k->numeric = 1;
		else
			k->reverse = 1;
	}
	return (s);
}

/*
 * Parse options as Hadoop's key-field classes take them, sort(1)'s: -n and
 * -r for every field, -kF[.C][nr][,F[.C][nr]] for each field range.
 * Returns 0, or -1 with *why.
 */
int
keyspec_parse(const char *text, struct keyspec **specs, size_t *n, char **why)
{
	struct keyspec	*k, all;
	const char	*s = text, *w;
	size_t		 i;

	*specs = NULL;
	*n = 0;
	memset(&all, 0, sizeof all);
	while (*s != '\0') {
		if (*s == ' ' || *s == '\t') {
			s++;
			continue;
		}
		w = s;
		if (strncmp(s, "-k", 2) != 0) {
			if (*s != '-' || (s = keyspec_flags(s + 1, &all)) ==
			    w + 1 || (*s != '\0' && *s != ' '))
				goto bad;
			continue;
		}
		s += 2;
		while (*s == ' ')
			s++;
		*specs = xgrow(*specs, *n, sizeof **specs);
		k = &(*specs)[(*n)++];
		memset(k, 0, sizeof *k);
		if ((s = keyspec_pos(s, &k->f1, &k->c1)) == NULL)
			goto bad;
		if (k->c1 == 0)
			k->c1 = 1;
		s = keyspec_flags(s, k);
		if (*s == ',') {
			if ((s = keyspec_pos(s + 1, &k->f2, &k->c2)) == NULL)
				goto bad;
			s = keyspec_flags(s, k);
		}
		if (*s != '\0' && *s != ' ')
			goto bad;
		if (k->f2 != 0 && (k->f2 < k->f1 || (k->f2 == k->f1 &&
		    k->c2 != 0 && k->c2 < k->c1))) {
			xasprintf(why, "%.*s ends before it starts",
			    (int)(s - w), w);
			goto fail;
		}
	}
	/* -n and -r apply to the fields that name neither. */
	for (i = 0; i < *n; i++) {
		if (!(*specs)[i].numeric && !(*specs)[i].reverse) {
			(*specs)[i].numeric = all.numeric;
			(*specs)[i].reverse = all.reverse;
		}
	}
	if (*n == 0 && (all.numeric || all.reverse)) {
		/* The whole key. */
		*specs = xgrow(*specs, 0, sizeof **specs);
		memset(*specs, 0, sizeof **specs);
		(*specs)[0].f1 = (*specs)[0].c1 = 1;
		(*specs)[0].numeric = all.numeric;
		(*specs)[0].reverse = all.reverse;
		*n = 1;
	}
	return (0);

bad:
	xasprintf(why, "\"%s\": not options like -k1,1 -k2,2nr (at \"%s\")",
	    text, w);
fail:
	free(*specs);
	*specs = NULL;
	*n = 0;
	return (-1);
}

/* Where field f (1-based) of key starts, or NULL past the last field. */
static const char *
keyfield_at(const char *p, const char *end, const char *sep, size_t seplen,
    unsigned int f)
{
	const char	*q;

	while (--f > 0) {
		if ((q = memmem(p, (size_t)(end - p), sep, seplen)) == NULL)
			return (NULL);
		p = q + seplen;
	}
	return (p);
}

/* The end of the field that starts at p. */
static const char *
keyfield_end(const char *p, const char *end, const char *sep, size_t seplen)
{
	const char	*q;

	q = memmem(p, (size_t)(end - p), sep, seplen);
	return (q != NULL ? q : end);
}

/* The bytes of key that spec k selects, [*a, *b). */
static void
keyfield_range(const struct keyorder *ko, const struct keyspec *k,
    const char *key, size_t len, const char **a, const char **b)
{
	const char	*end = key + len, *p, *fe;
	size_t		 seplen = strlen(ko->sep);

	*a = *b = end;
	if ((p = keyfield_at(key, end, ko->sep, seplen, k->f1)) == NULL)
		return;
	fe = keyfield_end(p, end, ko->sep, seplen);
	*a = (size_t)(fe - p) >= k->c1 - 1 ? p + k->c1 - 1 : fe;
	if (k->f2 == 0) {
		*b = end;
		return;
	}
	if ((p = keyfield_at(key, end, ko->sep, seplen, k->f2)) == NULL)
		return;
	fe = keyfield_end(p, end, ko->sep, seplen);
	*b = k->c2 == 0 || (size_t)(fe - p) < k->c2 ? fe : p + k->c2;
	if (*b < *a)
		*b = *a;
}

/* Append a text field: bytes 0 and 1 escaped, then a 0 byte. */
static void
keyorder_text(struct buf *o, const char *a, const char *b)
{
	char	*p;

	p = buf_reserve(o, 2 * (size_t)(b - a) + 1);
	for (; a < b; a++) {
		if ((unsigned char)*a <= 1) {
			*p++ = 1;
			*p++ = (char)(*a + 1);
		} else
			*p++ = *a;
	}
	*p++ = 0;
	o->len = (size_t)(p - o->data);
}

/*
 * Append a number as Hadoop's numeric comparison reads one (blanks, a
 * sign, digits, a point and digits; what follows, or a field with no
 * digits, counts as 0): a class byte (1 negative, 2 zero, 3 positive),
 * then the count of integer digits, the digits without leading zeros and
 * the fraction without trailing ones, ended by a 0 byte; inverted for a
 * negative number, as a larger magnitude is then less.
 */
static void
keyorder_number(struct buf *o, const char *a, const char *b)
{
	const char	*i0, *i1, *f0, *f1;
	size_t		 start, j;
	uint32_t	 nint;
	int		 neg = 0;
	char		*p;

	while (a < b && (*a == ' ' || *a == '\t'))
		a++;
	if (a < b && *a == '-') {
		neg = 1;
		a++;
	}
	i0 = a;
	while (a < b && *a >= '0' && *a <= '9')
		a++;
	i1 = a;
	f0 = f1 = a;
	if (a < b && *a == '.') {
		f0 = ++a;
		while (a < b && *a >= '0' && *a <= '9')
			a++;
		f1 = a;
	}
	while (i0 < i1 && *i0 == '0')
		i0++;
	while (f1 > f0 && f1[-1] == '0')
		f1--;
	if (i0 == i1 && f0 == f1) {
		p = buf_reserve(o, 1);
		*p = 2;
		o->len++;
		return;
	}
	start = o->len;
	p = buf_reserve(o, 1 + 4 + (size_t)(i1 - i0) + (size_t)(f1 - f0) + 1);
	*p++ = neg ? 1 : 3;
	nint = (uint32_t)(i1 - i0);
	*p++ = (char)(nint >> 24);
	*p++ = (char)(nint >> 16);
	*p++ = (char)(nint >> 8);
	*p++ = (char)nint;
	memcpy(p, i0, (size_t)(i1 - i0));
	p += i1 - i0;
	memcpy(p, f0, (size_t)(f1 - f0));
	p += f1 - f0;
	*p++ = 0;
	o->len = (size_t)(p - o->data);
	if (neg) {
		for (j = start + 1; j < o->len; j++)
			o->data[j] = (char)~o->data[j];
	}
}

/*
 * The hash of the partition fields of a key.  It runs for every record
 * bound for the reducer: one hash state, made once, serves them all.
 */
static uint64_t
keyorder_hash(const struct keyorder *ko, const char *key, size_t len)
{
	static XXH3_state_t	*st;
	const char		*a, *b;
	size_t			 i;

	if (ko->npart == 0)
		return (XXH3_64bits(key, len));
	if (st == NULL && (st = XXH3_createState()) == NULL)
		fatalx("out of memory");
	(void)XXH3_64bits_reset(st);
	for (i = 0; i < ko->npart; i++) {
		keyfield_range(ko, &ko->part[i], key, len, &a, &b);
		(void)XXH3_64bits_update(st, a, (size_t)(b - a));
		(void)XXH3_64bits_update(st, "", 1);
	}
	return (XXH3_64bits_digest(st));
}

/*
 * The key a record bound for the reducer travels with, for the key k as
 * its command wrote it: a string value made in o, valid until o changes.
 */
int64_t
keyorder_key(const struct keyorder *ko, int64_t k, struct buf *o)
{
	const struct str	*x = str_of(k);
	const char		*a, *b, *key = x->s;
	size_t			 i, start, len = x->len;
	uint64_t		 h;
	uint32_t		 l32 = (uint32_t)len;
	char			*p;

	o->len = 0;
	(void)buf_reserve(o, sizeof(struct str));
	o->len = sizeof(struct str);
	for (i = 0; i < ko->nsort; i++) {
		start = o->len;
		keyfield_range(ko, &ko->sort[i], key, len, &a, &b);
		if (ko->sort[i].numeric)
			keyorder_number(o, a, b);
		else
			keyorder_text(o, a, b);
		if (ko->sort[i].reverse) {
			for (; start < o->len; start++)
				o->data[start] = (char)~o->data[start];
		}
	}
	h = keyorder_hash(ko, key, len);
	p = buf_reserve(o, len + sizeof l32 + sizeof h);
	memcpy(p, key, len);
	memcpy(p + len, &l32, sizeof l32);
	memcpy(p + len + sizeof l32, &h, sizeof h);
	o->len += len + sizeof l32 + sizeof h;
	((struct str *)(void *)o->data)->len = (uint32_t)(o->len -
	    sizeof(struct str));
	return ((int64_t)(uintptr_t)o->data);
}

/* The key as the command wrote it, in an encoded key of len bytes. */
const char *
keyorder_raw(const char *k, size_t len, size_t *rawlen)
{
	uint32_t	l32;

	if (len < sizeof l32 + sizeof(uint64_t)) {
		*rawlen = 0;
		return (k);
	}
	memcpy(&l32, k + len - sizeof(uint64_t) - sizeof l32, sizeof l32);
	if (l32 > len - sizeof l32 - sizeof(uint64_t))
		l32 = 0;
	*rawlen = l32;
	return (k + len - sizeof(uint64_t) - sizeof l32 - l32);
}

/* The partition hash at the end of an encoded key. */
uint64_t
keyorder_tail(const char *k, size_t len)
{
	uint64_t	h = 0;

	if (len >= sizeof h)
		memcpy(&h, k + len - sizeof h, sizeof h);
	return (h);
}

void
keyorder_free(struct keyorder *ko)
{
	if (ko == NULL)
		return;
	free(ko->sep);
	free(ko->sort);
	free(ko->part);
	free(ko->sort_src);
	free(ko->part_src);
	free(ko);
}
