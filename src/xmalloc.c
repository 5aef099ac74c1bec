/* forkflow: see LICENSE. */
/*
 * Allocators that never return NULL: running out of memory is fatal, and a
 * worker's fatal() is handled by its supervisor like any other crash.
 */

#include <sys/mman.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forkflow.h"

#define HUGE_PAGE	((size_t)2 << 20)

static int	xmalloc_huge = 1;

/*
 * Whether large blocks ask for huge pages.  Not in a memory cgroup with a
 * limit: near it, a fault of a huge page makes the kernel reclaim and
 * compact memory first, and jobs there ran several times slower.
 */
void
xmalloc_use_huge(int on)
{
	xmalloc_huge = on;
}

/*
 * Ask for huge pages under a large block (its whole 2 MiB pages): the
 * tables and sort buffers of millions of records, which are touched all
 * over, take 512 times fewer page faults, and page faults are dear (on
 * a virtual machine several microseconds each).  Only where the kernel
 * does so on request (transparent_hugepage "madvise" or "always").
 */
static void *
xhuge(void *p, size_t size)
{
	uintptr_t	lo, hi;

	if (!xmalloc_huge || size < 2 * HUGE_PAGE)
		return (p);
	lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
	hi = ((uintptr_t)p + size) & ~(uintptr_t)(HUGE_PAGE - 1);
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
	return (p);
}

void *
xmalloc(size_t size)
{
	void	*p;

	if (size == 0)
		fatalx("xmalloc: zero size");
	if ((p = malloc(size)) == NULL)
		fatal("xmalloc: allocating %zu bytes", size);
	return (xhuge(p, size));
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (size == 0 || nmemb == 0)
		fatalx("xcalloc: zero size");
	if ((p = calloc(nmemb, size)) == NULL)
		fatal("xcalloc: allocating %zu * %zu bytes", nmemb, size);
	return (xhuge(p, nmemb * size));
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		fatalx("xreallocarray: zero size");
	if (nmemb > SIZE_MAX / size) {
		errno = ENOMEM;
		fatal("xreallocarray: %zu * %zu bytes", nmemb, size);
	}
	if ((p = realloc(ptr, nmemb * size)) == NULL)
		fatal("xreallocarray: allocating %zu * %zu bytes", nmemb, size);
	return (xhuge(p, nmemb * size));
}

/*
 * Room for one more element after the first n of ptr, an array that only
 * xgrow() sizes: it doubles when n is a power of two, so n appends copy
 * O(n) elements in all.  (Grown by one at a time, 100,000 operators took
 * minutes under ASan, whose realloc() always copies.)
 */
void *
xgrow(void *ptr, size_t n, size_t size)
{
	if (n != 0 && (n & (n - 1)) != 0)
		return (ptr);
	return (xreallocarray(ptr, n == 0 ? 1 : 2 * n, size));
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("xstrdup");
	return (p);
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		fatal("xstrndup");
	return (p);
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	ap;
	int	i;

	va_start(ap, fmt);
	i = xvasprintf(ret, fmt, ap);
	va_end(ap);
	return (i);
}

int
xvasprintf(char **ret, const char *fmt, va_list ap)
{
	int	i;

	i = vasprintf(ret, fmt, ap);
	if (i == -1)
		fatal("xasprintf");
	return (i);
}
