/* forkflow: see LICENSE. */
/* What the libFuzzer harnesses share (fuzz_util.c). */

#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>

#include "forkflow.h"

__dead void	 fuzz_fail(const char *, ...) printflike(1, 2);
void		 fuzz_scratch(void);
const char	*fuzz_file(const char *);
void		 fuzz_write_file(const char *, const void *, size_t);

#endif
