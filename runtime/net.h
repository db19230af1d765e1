/* Sockets: TCP and Unix, non-blocking and close-on-exec from the start. Every function
 * returns 0 or -errno; names in hosts must already be numeric (see resolve.h). */
#ifndef ASYNCRUN_NET_H
#define ASYNCRUN_NET_H

#include <stdbool.h>
#include <sys/socket.h>

/* The socket address for a numeric host (IPv4 or IPv6) and port, or a Unix path when
 * port < 0; -EINVAL when host is not numeric (a name: see resolve.h). */
int net_address(const char *host, int port, bool passive, struct sockaddr_storage *ss,
                socklen_t *len);
/* Starts connecting to a numeric address (IPv4 or IPv6) or, with port < 0, a Unix path:
 * 0 when connected, -EINPROGRESS while it goes on (wait for writability), else -errno. */
int net_connect(const char *host, int port, int *fd);
/* The outcome of a connect that was in progress. */
int net_connect_result(int fd);
/* A listening socket on host:port (a numeric address or NULL for all) or a Unix path. */
int net_listen(const char *host, int port, bool reuseport, int *fd);
/* The port a socket is bound to. */
int net_port(int fd);
/* Accepts one connection: 0, -EAGAIN, or -errno (EMFILE: the caller backs off). */
int net_accept(int lfd, int *fd);

#endif
