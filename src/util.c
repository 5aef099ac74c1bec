/* forkflow: see LICENSE. */
/*
 * Small helpers that several modules share and that belong to none of
 * them.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "forkflow.h"

/* The length of the valid UTF-8 sequence at s (of n bytes), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t		len, i;
	uint32_t	c;

	if (s[0] < 0x80)
		return (1);
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return (0);
	if (len > n)
		return (0);
	c = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		c = c << 6 | (s[i] & 0x3f);
	}
	/* No overlong form, no surrogate, nothing past U+10FFFF. */
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 ||
	    c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
		return (0);
	return (len);
}

/*
 * A JSON string of n bytes of text that may not be UTF-8 (file names,
 * a command's output): each byte that starts no valid sequence becomes
 * U+FFFD, so that the JSON written stays valid.
 */
void *
json_text(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	json_t			*j;
	char			*t, *q;
	size_t			 i, len;

	if ((j = json_stringn(s, n)) != NULL)
		return (j);
	q = t = xmalloc(3 * n + 1);
	for (i = 0; i < n; i += len) {
		if ((len = utf8_len(p + i, n - i)) == 0) {
			memcpy(q, "\xef\xbf\xbd", 3);
			q += 3;
			len = 1;
		} else {
			memcpy(q, s + i, len);
			q += len;
		}
	}
	j = json_stringn(t, (size_t)(q - t));
	free(t);
	return (j);
}

/* Seconds of the monotonic clock. */
double
mono_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Seconds since the epoch, as a job table keeps times. */
double
wall_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/*
 * A size: a positive number with an optional k, M or G (powers of 1024).
 * 0, or -1 when it is not one.
 */
int
size_parse(const char *s, uint64_t *out)
{
	char			*end;
	unsigned long long	 n;
	unsigned int		 shift = 0;

	if (*s == '\0' || *s == '-')
		return (-1);
	errno = 0;
	n = strtoull(s, &end, 10);
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	}
	if (end == s || *end != '\0' || errno != 0 || n == 0 ||
	    n > (UINT64_MAX >> shift))
		return (-1);
	*out = (uint64_t)n << shift;
	return (0);
}
