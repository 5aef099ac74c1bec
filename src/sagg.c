/* forkflow: see LICENSE. */
/*
 * Hash aggregation for string keys and integer values: word count's
 * combiner.  Open addressing on a 64-bit hash of the key, stored in the
 * entry with the key's offset and length, so that most probes compare no
 * bytes; keys are copied once, packed end to end in one buffer, when they
 * first arrive.  Entries are 24 bytes and keys take only their bytes: the
 * table of a large vocabulary stays in the cache as far as it can.  A
 * combiner's table and a reduce's scramble the hash with seeds of their
 * own, for the same reason as agg.c: one table's order must not be a bad
 * order of insertion for the next.
 */

#include <stdlib.h>
#include <string.h>

#include "forkflow.h"

/*
 * Are the n bytes at a and b the same?  Words are a few bytes long, for
 * which a call to memcmp() costs more than the comparison.
 */
static inline int
key_eq(const char *a, const char *b, size_t n)
{
	uint64_t	x, y;

	while (n >= 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return (0);
		a += 8;
		b += 8;
		n -= 8;
	}
	while (n > 0) {
		if (*a++ != *b++)
			return (0);
		n--;
	}
	return (1);
}

/* The hash of a key (see sagg_hash_start in forkflow.h). */
static inline uint64_t
sagg_hash(const struct sagg *t, const char *s, size_t len)
{
	uint64_t	h = sagg_hash_start(t);
	size_t		i;

	for (i = 0; i < len; i++)
		h = sagg_hash_step(h, (unsigned char)s[i]);
	return (sagg_hash_end(h));
}

static void
sagg_grow(struct sagg *t)
{
	struct sagg_entry	*old = t->e;
	size_t			 oldcap = t->cap, i, j;

	t->cap = oldcap ? oldcap * 2 : 1 << 16;
	t->e = xcalloc(t->cap, sizeof *t->e);
	for (i = 0; i < oldcap; i++) {
		if ((i & 0xffff) == 0)
			progress();
		if (old[i].len == 0)
			continue;
		j = (size_t)(old[i].hash & (t->cap - 1));
		while (t->e[j].len != 0)
			j = (j + 1) & (t->cap - 1);
		t->e[j] = old[i];
	}
	free(old);
}

/*
 * Make an empty table for reduce function fn, as a reduce or, with
 * sagg_init_combiner(), as a combiner: each with its own seed, the same in
 * every process, for the reason agg.c gives (a reduce reads the words a
 * combiner's table wrote in the order of its slots).
 */
static void
sagg_init_seed(struct sagg *t, enum op_fn fn, uint64_t seed)
{
	memset(t, 0, sizeof *t);
	t->fn = fn;
	t->seed = seed;
	sagg_grow(t);
}

void
sagg_init(struct sagg *t, enum op_fn fn)
{
	sagg_init_seed(t, fn, 0xC2B2AE3D27D4EB4FULL);
}

void
sagg_init_combiner(struct sagg *t, enum op_fn fn)
{
	sagg_init_seed(t, fn, 0x9E3779B97F4A7C15ULL);
}

void
sagg_free(struct sagg *t)
{
	free(t->e);
	free(t->keys);
	arena_free(&t->a);
	memset(t, 0, sizeof *t);
}

/* Forget every key, keeping the memory. */
void
sagg_clear(struct sagg *t)
{
	memset(t->e, 0, t->cap * sizeof *t->e);
	t->used = 0;
	t->klen = 0;
	arena_reset(&t->a);
}

/* The memory the table takes. */
size_t
sagg_bytes(const struct sagg *t)
{
	return (t->cap * sizeof *t->e + t->kcap + t->a.bytes);
}

/* Keep the table within bytes (sagg_full() says when it is not). */
void
sagg_limit(struct sagg *t, size_t bytes)
{
	t->max_bytes = bytes;
}

/*
 * Is the table as full as it should get before it is flushed?  With a
 * limit: near a growth of its slots (which double when half full, both
 * held while they move) or of its keys that the limit has no room for.
 */
int
sagg_full(const struct sagg *t)
{
	size_t	slots = t->cap * sizeof *t->e;

	if (t->klen > SAGG_KEYS_MAX)
		return (1);
	if (t->max_bytes == 0)
		return (0);
	return ((t->used * 8 > t->cap * 3 && 3 * slots + t->kcap >
	    t->max_bytes) || (t->klen * 4 > t->kcap * 3 && slots +
	    2 * t->kcap > t->max_bytes));
}

/* Merge x into the key s of length len (empty keys too). */
void
sagg_add(struct sagg *t, const char *s, size_t len, int64_t x)
{
	sagg_add_hashed(t, s, len, sagg_hash(t, s, len), x);
}

/*
 * The same, with the hash computed by the caller as sagg_hash() does (word
 * count computes it while it copies the word).
 */
void
sagg_add_hashed(struct sagg *t, const char *s, size_t len, uint64_t h,
    int64_t x)
{
	struct sagg_entry	*e;
	size_t			 j;

	for (j = (size_t)(h & (t->cap - 1));; j = (j + 1) & (t->cap - 1)) {
		e = &t->e[j];
		if (e->len == 0)
			break;
		if (e->hash == h && e->len == len + 1 &&
		    key_eq(t->keys + e->off, s, len)) {
			e->acc = t->fn == FN_SUM ? (int64_t)((uint64_t)e->acc +
			    (uint64_t)x) : fold_one(t->fn, VT_INT, e->acc, x);
			return;
		}
	}
	/* The first key, even an empty one, makes the buffer. */
	if (t->keys == NULL || t->kcap - t->klen < len) {
		while (t->kcap == 0 || t->kcap - t->klen < len)
			t->kcap = t->kcap ? t->kcap * 2 : 1 << 20;
		t->keys = xreallocarray(t->keys, t->kcap, 1);
	}
	memcpy(t->keys + t->klen, s, len);
	e->hash = h;
	e->acc = x;
	e->off = (uint32_t)t->klen;
	e->len = (uint32_t)len + 1;
	t->klen += len;
	if (++t->used * 2 > t->cap)
		sagg_grow(t);
}

/*
 * The groups as records <key, accumulator>, into an array the caller
 * frees; the keys are made as strings in the table's arena, which keeps
 * them until the table is cleared.
 */
struct pair *
sagg_pairs(struct sagg *t, size_t *np)
{
	struct pair	*r;
	size_t		 i, n = 0;

	r = xreallocarray(NULL, t->used + 1, sizeof *r);
	for (i = 0; i < t->cap; i++) {
		if ((i & 0xffff) == 0)
			progress();
		if (t->e[i].len == 0)
			continue;
		r[n].k = str_make(&t->a, t->keys + t->e[i].off,
		    t->e[i].len - 1);
		r[n].v = t->e[i].acc;
		n++;
	}
	*np = n;
	return (r);
}
