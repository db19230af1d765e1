#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"

int net_address(const char *host, int port, bool passive, struct sockaddr_storage *ss,
                       socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (port < 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        if (strlen(host) >= sizeof un->sun_path)
            return -ENAMETOOLONG;
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, host);
        *len = sizeof *un;
        return 0;
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
                             .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &ai);
    if (rc != 0)
        return rc == EAI_SYSTEM ? -errno : -EINVAL;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static int net_socket(int family, int *fd)
{
    *fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return *fd < 0 ? -errno : 0;
}

int net_connect(const char *host, int port, int *fd)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = net_address(host, port, false, &ss, &len);
    if (err || (err = net_socket(ss.ss_family, fd)))
        return err;
    if (ss.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (connect(*fd, (struct sockaddr *)&ss, len) == 0)
        return 0;
    err = errno == EAGAIN ? -EINPROGRESS : -errno; /* Unix sockets say EAGAIN when full */
    if (err != -EINPROGRESS) {
        close(*fd);
        *fd = -1;
    }
    return err;
}

int net_connect_result(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -errno;
    return -err;
}

int net_listen(const char *host, int port, bool reuseport, int *fd)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    int err = net_address(host ? host : "::", port, true, &ss, &len);
    if (err || (err = net_socket(ss.ss_family, fd)))
        return err;
    if (ss.ss_family != AF_UNIX) {
        setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (reuseport)
            setsockopt(*fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    if (bind(*fd, (struct sockaddr *)&ss, len) != 0 || listen(*fd, 511) != 0) {
        err = -errno;
        close(*fd);
        *fd = -1;
    }
    return err;
}

int net_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int net_accept(int lfd, int *fd)
{
    do
        *fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (*fd < 0 && errno == EINTR);
    if (*fd >= 0) {
        int one = 1; /* fails harmlessly on Unix sockets */
        setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return 0;
    }
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}
