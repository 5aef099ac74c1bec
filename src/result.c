/* forkflow: see LICENSE. */
/*
 * The result's own way from rank 0 to the launcher (forkflow run --hosts,
 * forkflow pool).  What a rank writes on its standard output reaches
 * mpirun through Open MPI's daemons, a few KiB a message: 80 MB/s here.
 * So the launcher listens on a TCP port of its own and tells rank 0,
 * in FORKFLOW_RESULT, its addresses, the port and a token; rank 0
 * connects, says the token, and once the launcher has answered (it is no
 * other program on an address its host has too) writes the result there.  Where it cannot
 * connect (a host that cannot reach the launcher's), the result goes on
 * standard output, as before.
 */

#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkflow.h"
#include "launch-int.h"

#define RESULT_CONNECT_MS	3000	/* to reach an address of the launcher */
#define RESULT_ACK		"forkflow\n"	/* its answer to the token */

/*
 * Listen for rank 0's result on a new port: ri->env is then what the
 * ranks need (FORKFLOW_RESULT=ADDRESSES:PORT:TOKEN).  Returns 0, or -1
 * (then the result comes through mpirun).
 */
int
result_listen(struct result_in *ri)
{
	struct sockaddr_in	 sin;
	struct ifaddrs		*ifs, *i;
	socklen_t		 len = sizeof sin;
	unsigned char		 rnd[16];
	char			 a[INET_ADDRSTRLEN], *s, *t;
	size_t			 k;

	memset(ri, 0, sizeof *ri);
	ri->lfd = ri->fd = -1;
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		return (-1);
	for (k = 0; k < sizeof rnd; k++)
		(void)snprintf(ri->token + 2 * k, 3, "%02x", rnd[k]);
	if ((ri->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		return (-1);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(ri->lfd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    listen(ri->lfd, 8) != 0 || getsockname(ri->lfd,
	    (struct sockaddr *)&sin, &len) != 0 || getifaddrs(&ifs) != 0) {
		result_close(ri);
		return (-1);
	}
	/* Every address of this host's, the loopback last. */
	s = xstrdup("");
	for (k = 0; k < 2; k++) {
		for (i = ifs; i != NULL; i = i->ifa_next) {
			if (i->ifa_addr == NULL || i->ifa_addr->sa_family !=
			    AF_INET || !(i->ifa_flags & IFF_UP) ||
			    !(i->ifa_flags & IFF_LOOPBACK) != (k == 0) ||
			    inet_ntop(AF_INET, &((struct sockaddr_in *)
			    i->ifa_addr)->sin_addr, a, sizeof a) == NULL)
				continue;
			xasprintf(&t, "%s%s%s", s, *s != '\0' ? "," : "", a);
			free(s);
			s = t;
		}
	}
	freeifaddrs(ifs);
	xasprintf(&ri->env, "FORKFLOW_RESULT=%s:%u:%s", s,
	    (unsigned int)ntohs(sin.sin_port), ri->token);
	free(s);
	return (0);
}

/* What is to be polled for the result: its connection, or the port. */
int
result_fd(const struct result_in *ri)
{
	if (ri->done)
		return (-1);
	return (ri->fd != -1 ? ri->fd : ri->lfd);
}

/*
 * The result's descriptor is readable: take rank 0's connection, its
 * token, or bytes of the result, written on r's output.  Connections
 * without the token are closed.
 */
void
result_read(struct result_in *ri, struct relay *r)
{
	char	buf[65536], *nl;
	ssize_t	n;
	size_t	want;
	int	fd;

	if (ri->fd == -1) {
		if ((fd = accept4(ri->lfd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
			ri->fd = fd;
			ri->ngot = 0;
			ri->said = 0;
		}
		return;
	}
	want = ri->said ? sizeof buf : sizeof ri->got - 1 - ri->ngot;
	n = read(ri->fd, ri->said ? buf : ri->got + ri->ngot, want);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0 && ri->said) {
		ri->bytes += (uint64_t)n;
		(void)mpi_relay_take(r, 1, buf, (size_t)n);
		return;
	}
	if (n > 0) {
		ri->ngot += (size_t)n;
		ri->got[ri->ngot] = '\0';
		if ((nl = memchr(ri->got, '\n', ri->ngot)) == NULL &&
		    ri->ngot < sizeof ri->got - 1)
			return;
		if (nl != NULL && (size_t)(nl - ri->got) == strlen(ri->token) &&
		    memcmp(ri->got, ri->token, strlen(ri->token)) == 0 &&
		    write_all(ri->fd, RESULT_ACK, strlen(RESULT_ACK)) == 0) {
			ri->said = 1;
			/* What came after the token. */
			n = (ssize_t)(ri->ngot - (size_t)(nl + 1 - ri->got));
			if (n > 0) {
				ri->bytes += (uint64_t)n;
				(void)mpi_relay_take(r, 1, nl + 1, (size_t)n);
			}
			return;
		}
	}
	/* Its end, an error, or not rank 0. */
	if (ri->said)
		ri->done = 1;
	close(ri->fd);
	ri->fd = -1;
}

/*
 * rank 0 is done with the result: read what is left of it, waiting at
 * most timeout seconds for the end of a connection that was made.
 */
void
result_drain(struct result_in *ri, struct relay *r, double timeout)
{
	struct pollfd	pfd;
	double		end = mono_now() + timeout;

	while (!ri->done && ri->lfd != -1) {
		pfd.fd = result_fd(ri);
		pfd.events = POLLIN;
		/* No connection waiting: rank 0 made none. */
		if (poll(&pfd, 1, ri->fd == -1 ? 0 : 100) <= 0) {
			if (ri->fd == -1 || mono_now() > end)
				break;
			continue;
		}
		result_read(ri, r);
	}
}

void
result_close(struct result_in *ri)
{
	if (ri->fd != -1)
		close(ri->fd);
	if (ri->lfd != -1)
		close(ri->lfd);
	ri->fd = ri->lfd = -1;
	free(ri->env);
	ri->env = NULL;
}

/* Connect to addr:port within RESULT_CONNECT_MS; the socket, or -1. */
static int
result_try(const char *addr, unsigned int port)
{
	struct sockaddr_in	sin;
	struct pollfd		pfd;
	socklen_t		len = sizeof(int);
	int			fd, e = 0;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (errno != EINPROGRESS || poll(&pfd, 1,
		    RESULT_CONNECT_MS) != 1 || getsockopt(fd, SOL_SOCKET,
		    SO_ERROR, &e, &len) != 0 || e != 0) {
			close(fd);
			return (-1);
		}
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return (fd);
}

/* Has the launcher answered the token on fd, within RESULT_CONNECT_MS? */
static int
result_acked(int fd)
{
	struct pollfd	pfd;
	char		buf[sizeof RESULT_ACK];
	size_t		got = 0;
	ssize_t		n;

	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < strlen(RESULT_ACK)) {
		if (poll(&pfd, 1, RESULT_CONNECT_MS) != 1)
			return (0);
		if ((n = read(fd, buf + got, strlen(RESULT_ACK) - got)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return (0);
		}
		got += (size_t)n;
	}
	return (memcmp(buf, RESULT_ACK, strlen(RESULT_ACK)) == 0);
}

/*
 * In rank 0: the launcher's connection for the result, as FORKFLOW_RESULT
 * says, the token said; or -1, and the result goes on standard output.
 */
int
result_connect(void)
{
	const char	*spec = getenv("FORKFLOW_RESULT");
	char		*s, *addrs, *port, *token, *a, *next;
	unsigned int	 p;
	int		 fd = -1;

	if (spec == NULL || *spec == '\0')
		return (-1);
	s = xstrdup(spec);
	if ((token = strrchr(s, ':')) == NULL || (*token++ = '\0', port =
	    strrchr(s, ':')) == NULL || sscanf(port + 1, "%u", &p) != 1) {
		free(s);
		return (-1);
	}
	*port = '\0';
	addrs = s;
	for (a = addrs; fd == -1 && a != NULL && *a != '\0'; a = next) {
		if ((next = strchr(a, ',')) != NULL)
			*next++ = '\0';
		if ((fd = result_try(a, p)) == -1)
			continue;
		if (write_all(fd, token, strlen(token)) != 0 ||
		    write_all(fd, "\n", 1) != 0 || !result_acked(fd)) {
			close(fd);
			fd = -1;
			continue;
		}
		log_info("the result goes to the launcher at %s:%u", a, p);
	}
	if (fd == -1)
		log_info("the launcher cannot be reached (%s): the result goes "
		    "through mpirun", addrs);
	free(s);
	return (fd);
}
