/* forkflow: see LICENSE. */
/*
 * Logging.  Every line goes to standard error (and to a log file when one
 * is set), prefixed with the program and process name: "forkflow: " for the
 * supervisor, "forkflow: worker 3: " for a worker.  Functions preserve
 * errno, so they can sit between a failing call and the code that reports it.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"

volatile uint64_t *progress_counter;
volatile uint32_t *progress_op;

static int	 log_verbose;
static int	 log_child;	/* a forked worker: leave with _exit() */
static char	 log_name[64] = "forkflow";

static void	 log_vwrite(const char *, va_list, const char *)
		    printflike(1, 0);

/* Set up logging for the process. */
void
log_init(int verbose, const char *name)
{
	log_verbose = verbose;
	if (name != NULL)
		snprintf(log_name, sizeof log_name, "%s", name);
}

/* Name this process in its log lines, after fork. */
void
log_procinit(const char *procname)
{
	snprintf(log_name, sizeof log_name, "forkflow: %s", procname);
	log_child = 1;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return (log_verbose);
}

/*
 * Write one line with a single write(2), so that lines of concurrent
 * processes sharing stderr do not interleave.
 */
static void
log_vwrite(const char *fmt, va_list ap, const char *suffix)
{
	char	 buf[2048];
	int	 n, m;
	int	 saved_errno = errno;

	n = snprintf(buf, sizeof buf, "%s: ", log_name);
	if (n < 0 || (size_t)n >= sizeof buf)
		n = 0;
	m = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n >= sizeof buf - 1)
		n = sizeof buf - 2;
	if (suffix != NULL) {
		m = snprintf(buf + n, sizeof buf - n, ": %s", suffix);
		if (m > 0)
			n += m;
		if ((size_t)n >= sizeof buf - 1)
			n = sizeof buf - 2;
	}
	buf[n++] = '\n';
	(void)write(STDERR_FILENO, buf, n);
	errno = saved_errno;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	va_start(ap, fmt);
	log_vwrite(fmt, ap, strerror(saved_errno));
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_vwrite(fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 2)
		return;
	va_start(ap, fmt);
	log_vwrite(fmt, ap, NULL);
	va_end(ap);
}

/* Log a fatal error with errno's message and exit. */
__dead void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	va_start(ap, fmt);
	log_vwrite(fmt, ap, strerror(saved_errno));
	va_end(ap);
	if (log_child)
		_exit(EXIT_JOB_FAILED);
	exit(EXIT_JOB_FAILED);
}

/* Log a fatal error and exit. */
__dead void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(fmt, ap, NULL);
	va_end(ap);
	if (log_child)
		_exit(EXIT_JOB_FAILED);
	exit(EXIT_JOB_FAILED);
}
