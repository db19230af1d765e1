#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "udp.h"

int udp_bind(const struct udp_addr *a, int *fd, bool *dual)
{
    int family = a->ss.ss_family;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
    int err = 0;
    *fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*fd < 0)
        return -errno;
    /* explicit: the system default (net.ipv6.bindv6only) may say otherwise */
    *dual = family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
    if (family == AF_INET6) {
        int only = !*dual;
        setsockopt(*fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only);
    }
    if (bind(*fd, (const struct sockaddr *)&a->ss, a->len) != 0) {
        err = -errno;
        close(*fd);
        *fd = -1;
    }
    return err;
}

int udp_fit(struct udp_addr *a, int family, bool dual)
{
    if (a->ss.ss_family == family)
        return 0;
    if (a->ss.ss_family != AF_INET || !dual)
        return -EAFNOSUPPORT;
    struct sockaddr_in in = *(struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
    memset(in6, 0, sizeof *in6);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = in.sin_port;
    in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&in6->sin6_addr.s6_addr[12], &in.sin_addr, 4);
    a->len = sizeof *in6;
    return 0;
}

void udp_set_port(struct udp_addr *a, int port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
    else if (a->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
}

int udp_send(int fd, const void *data, size_t n, const struct udp_addr *a)
{
    ssize_t sent;
    if (n > UDP_MAX)
        return -EMSGSIZE;
    do
        sent = a ? sendto(fd, data, n, 0, (const struct sockaddr *)&a->ss, a->len)
                 : send(fd, data, n, 0);
    while (sent < 0 && errno == EINTR);
    if (sent >= 0)
        return 0;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

ssize_t udp_recv(int fd, void *buf, size_t size, struct udp_addr *from)
{
    ssize_t n;
    struct sockaddr *sa = from ? (struct sockaddr *)&from->ss : NULL;
    if (from)
        from->len = sizeof from->ss;
    do
        n = recvfrom(fd, buf, size, 0, sa, from ? &from->len : NULL);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

int udp_connect(int fd, const struct udp_addr *a)
{
    return connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 ? 0 : -errno;
}

int udp_name(const struct udp_addr *a, char *host, size_t size, int *port)
{
    const void *addr;
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
        addr = &in->sin_addr;
        *port = ntohs(in->sin_port);
    } else if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
        *port = ntohs(in6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, size) ? 0 : -errno;
        addr = &in6->sin6_addr;
    } else {
        return -EAFNOSUPPORT;
    }
    return inet_ntop(a->ss.ss_family, addr, host, size) ? 0 : -errno;
}
