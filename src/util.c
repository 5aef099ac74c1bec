/* forkflow: see LICENSE. */
/*
 * Small helpers that several modules share and that belong to none of
 * them.
 */

#include <sys/random.h>

#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "forkflow.h"

/*
 * 64 random bits, different in each process: from getrandom(2), else from
 * the process ID and the clock.  For hash seeds, not for secrets.
 */
uint64_t
random_seed(void)
{
	struct timespec	ts;
	uint64_t	x;

	if (getrandom(&x, sizeof x, GRND_NONBLOCK) == (ssize_t)sizeof x)
		return (x);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	x = (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_nsec ^
	    (uint64_t)ts.tv_sec * 0x9E3779B97F4A7C15ULL;
	return (x);
}
