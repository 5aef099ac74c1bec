/* forkflow: see LICENSE. */
/*
 * Logging.  Every line goes to standard error (and to a log file when one
 * is set), prefixed with the program and process name: "forkflow: " for the
 * supervisor, "forkflow: worker 3: " for a worker.  Functions preserve
 * errno, so they can sit between a failing call and the code that reports it.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "forkflow.h"

volatile uint64_t *progress_counter;
volatile uint32_t *progress_op;
volatile uint32_t *progress_wait;

static int	 log_verbose;
static int	 log_child;	/* a forked worker: leave with _exit() */
static char	 log_name[64] = "forkflow";
static int	 log_fd = -1;	/* --log-file, inherited by workers */
static void	(*log_hook)(const char *, size_t);
static void	(*log_fatal_hook)(void);
static int	  log_nomem_status = EXIT_JOB_FAILED;

static void	 log_vwrite(const char *, va_list, const char *, int)
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

/*
 * Also write every line to a file, with the time it was written: the lines
 * of standard error, and those of -v even without it.  Forked workers
 * inherit the file; commands they run do not.
 */
int
log_open_file(const char *path)
{
	log_close_file();
	if ((log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) == -1)
		return (-1);
	return (0);
}

/* No more --log-file (a pool's rank, between its jobs). */
void
log_close_file(void)
{
	if (log_fd != -1)
		close(log_fd);
	log_fd = -1;
}

/* Hand the lines of standard error to fn instead (NULL: write them). */
void
log_set_hook(void (*fn)(const char *, size_t))
{
	log_hook = fn;
}

/*
 * The exit status of fatal() when what failed was out of memory (ENOMEM):
 * a worker's says so to its supervisor, which gives it less next time.
 */
void
log_set_nomem_status(int status)
{
	log_nomem_status = status;
}

/* Call fn before fatal() and fatalx() exit (NULL: nothing). */
void
log_set_fatal_hook(void (*fn)(void))
{
	log_fatal_hook = fn;
}

/* Write a line or lines to standard error, through the hook if set. */
void
log_line(const char *s, size_t len)
{
	if (log_hook != NULL)
		log_hook(s, len);
	else
		(void)write(STDERR_FILENO, s, len);
}

/* Write a line to the log file, after the time. */
static void
log_file_line(const char *s, size_t len)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 buf[2200];
	size_t		 n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, sizeof buf - n, ".%03ldZ ",
	    ts.tv_nsec / 1000000);
	if (len > sizeof buf - n)
		len = sizeof buf - n;
	memcpy(buf + n, s, len);
	(void)write(log_fd, buf, n + len);
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
log_vwrite(const char *fmt, va_list ap, const char *suffix, int level)
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
	if (level <= log_verbose)
		log_line(buf, (size_t)n);
	if (log_fd != -1 && level <= (log_verbose > 1 ? log_verbose : 1))
		log_file_line(buf, (size_t)n);
	errno = saved_errno;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	va_start(ap, fmt);
	log_vwrite(fmt, ap, strerror(saved_errno), 0);
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(fmt, ap, NULL, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 1 && log_fd == -1)
		return;
	va_start(ap, fmt);
	log_vwrite(fmt, ap, NULL, 1);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 2)
		return;
	va_start(ap, fmt);
	log_vwrite(fmt, ap, NULL, 2);
	va_end(ap);
}

/* Log a fatal error with errno's message and exit. */
__dead void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	int	status = saved_errno == ENOMEM ? log_nomem_status :
		    EXIT_JOB_FAILED;

	va_start(ap, fmt);
	log_vwrite(fmt, ap, strerror(saved_errno), 0);
	va_end(ap);
	if (log_fatal_hook != NULL)
		log_fatal_hook();
	if (log_child)
		_exit(status);
	exit(status);
}

/* Log a fatal error and exit. */
__dead void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(fmt, ap, NULL, 0);
	va_end(ap);
	if (log_fatal_hook != NULL)
		log_fatal_hook();
	if (log_child)
		_exit(EXIT_JOB_FAILED);
	exit(EXIT_JOB_FAILED);
}
