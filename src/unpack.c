/* forkflow: see LICENSE. */
/*
 * The archives of streaming's -archives, unpacked with libarchive (tar,
 * compressed or not, zip, and whatever else it reads) into a folder of
 * the job's work folder, as Hadoop unpacks them into a task's.  Entries
 * that would land outside the folder (absolute paths, "..", through a
 * symbolic link) are refused.  The folder is made under a temporary name
 * and renamed whole, so that a job stopped half way through leaves no
 * half-unpacked archive for its resume to take.
 */

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "forkflow.h"

/* Copy the data of the entry being read into the one being written. */
static int
unpack_data(struct archive *in, struct archive *out)
{
	const void	*p;
	size_t		 len;
	la_int64_t	 off;
	int		 r;

	for (;;) {
		r = archive_read_data_block(in, &p, &len, &off);
		if (r == ARCHIVE_EOF)
			return (ARCHIVE_OK);
		if (r < ARCHIVE_WARN)
			return (r);
		if (archive_write_data_block(out, p, len, off) < ARCHIVE_WARN)
			return (ARCHIVE_FATAL);
	}
}

/* Remove a folder and what it holds (a failed unpack's), if it is there. */
static void
unpack_rmtree(const char *dir)
{
	if (rm_tree(dir) != 0)
		log_warnx("could not remove %s: %s", dir, strerror(errno));
}

/*
 * In a child, in the folder it is to fill: unpack the archive at path,
 * entries with their own relative names.  Returns 0, or -1 with *cause.
 */
static int
unpack_here(const char *path, char **cause)
{
	struct archive		*in, *out;
	struct archive_entry	*e;
	int			 r, ret = -1;

	in = archive_read_new();
	archive_read_support_filter_all(in);
	archive_read_support_format_all(in);
	out = archive_write_disk_new();
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_TIME |
	    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	archive_write_disk_set_standard_lookup(out);
	if (archive_read_open_filename(in, path, 65536) != ARCHIVE_OK) {
		xasprintf(cause, "%s", archive_error_string(in));
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(in, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			xasprintf(cause, "%s", archive_error_string(in));
			goto out;
		}
		if (archive_write_header(out, e) < ARCHIVE_WARN ||
		    (archive_entry_size(e) > 0 &&
		    unpack_data(in, out) != ARCHIVE_OK) ||
		    archive_write_finish_entry(out) < ARCHIVE_WARN) {
			xasprintf(cause, "%s: %s", archive_entry_pathname(e),
			    archive_error_string(out) != NULL ?
			    archive_error_string(out) :
			    archive_error_string(in));
			goto out;
		}
	}
	ret = 0;
out:
	archive_read_free(in);
	archive_write_free(out);
	return (ret);
}

/*
 * Unpack the archive at path (absolute) into the folder dir, which must
 * not be there: an existing dir is taken as unpacked already.  A child
 * process does it, in the folder, so that no entry names a place outside
 * it.  Returns 0, or -1 with *cause.
 */
int
unpack_archive(const char *path, const char *dir, char **cause)
{
	struct stat	 st;
	char		 msg[1024], *tmp, *why = NULL;
	ssize_t		 n;
	size_t		 len = 0;
	pid_t		 pid;
	int		 fd[2], status;

	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return (0);
	xasprintf(&tmp, "%s.unpack-%ld", dir, (long)getpid());
	unpack_rmtree(tmp);
	if (mkdir(tmp, 0700) != 0 || pipe(fd) != 0) {
		xasprintf(cause, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return (-1);
	}
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(fd[0]);
		if (chdir(tmp) != 0)
			xasprintf(&why, "%s: %s", tmp, strerror(errno));
		else if (unpack_here(path, &why) == 0)
			_exit(0);
		(void)write(fd[1], why, strlen(why));
		_exit(1);
	}
	close(fd[1]);
	while (len < sizeof msg - 1 && ((n = read(fd[0], msg + len,
	    sizeof msg - 1 - len)) > 0 || (n == -1 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	msg[len] = '\0';
	close(fd[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    rename(tmp, dir) == 0) {
		free(tmp);
		return (0);
	}
	if (len > 0)
		xasprintf(cause, "%s: %s", path, msg);
	else
		xasprintf(cause, "%s: %s", path, WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0 ? strerror(errno) :
		    "could not be unpacked");
	unpack_rmtree(tmp);
	free(tmp);
	return (-1);
}
