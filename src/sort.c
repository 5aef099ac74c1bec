/* forkflow: see LICENSE. */
/*
 * Sorting of records by key, then value, as the final output needs.  Large
 * arrays take an LSD radix sort over the 16 bytes of (key, value), with the
 * sign bits flipped so that bytes compare as the signed integers do; a pass
 * whose byte is the same in every record is skipped, so small key and value
 * ranges cost few passes.  Small arrays take an insertion sort.
 */

#include <stdlib.h>
#include <string.h>

#include "forkflow.h"

#define SORT_SMALL	64

static inline int
pair_less(const struct pair *a, const struct pair *b)
{
	return (a->k < b->k || (a->k == b->k && a->v < b->v));
}

static void
sort_insertion(struct pair *r, size_t n)
{
	size_t		i, j;
	struct pair	x;

	for (i = 1; i < n; i++) {
		x = r[i];
		for (j = i; j > 0 && pair_less(&x, &r[j - 1]); j--)
			r[j] = r[j - 1];
		r[j] = x;
	}
}

/* Byte b (0 the lowest of the value, 15 the highest of the key). */
static inline unsigned int
pair_byte(const struct pair *p, unsigned int b)
{
	uint64_t	x;

	x = b < 8 ? (uint64_t)p->v : (uint64_t)p->k;
	x ^= 1ULL << 63;
	return ((unsigned int)(x >> ((b & 7) * 8)) & 0xff);
}

/* Sort n records by key, then value. */
void
sort_pairs(struct pair *r, size_t n)
{
	size_t		(*count)[256], i, sum, c;
	struct pair	*tmp, *src, *dst, *t;
	unsigned int	 b;

	if (n <= SORT_SMALL) {
		sort_insertion(r, n);
		return;
	}
	count = xcalloc(16, sizeof *count);
	for (i = 0; i < n; i++) {
		for (b = 0; b < 16; b++)
			count[b][pair_byte(&r[i], b)]++;
		if ((i & 0xffff) == 0)
			progress();
	}
	tmp = xreallocarray(NULL, n, sizeof *tmp);
	src = r;
	dst = tmp;
	for (b = 0; b < 16; b++) {
		if (count[b][pair_byte(&r[0], b)] == n)
			continue;	/* all alike: nothing to do */
		sum = 0;
		for (i = 0; i < 256; i++) {
			c = count[b][i];
			count[b][i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[b][pair_byte(&src[i], b)]++] = src[i];
		progress();
		t = src;
		src = dst;
		dst = t;
	}
	if (src != r)
		memcpy(r, src, n * sizeof *r);
	free(tmp);
	free(count);
}
