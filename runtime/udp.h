/* UDP sockets, non-blocking and close-on-exec from the start, IPv4 and IPv6. A socket bound
 * to every IPv6 address is dual-stack: IPv4 peers reach it as v4-mapped addresses, which
 * udp_fit makes and udp_name unmakes, so that scripts only ever see plain IPv4 text.
 * Every function returns 0 (or a length) or -errno. */
#ifndef ASYNCRUN_UDP_H
#define ASYNCRUN_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The largest payload of one datagram: 65,535 minus the IPv4 and UDP headers. IPv6 would
 * allow 20 bytes more; one limit for both keeps a script's behaviour the same on either. */
#define UDP_MAX 65507

struct udp_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* A socket bound to a (an address with its port); *dual says whether it is dual-stack. */
int udp_bind(const struct udp_addr *a, int *fd, bool *dual);
/* Makes a fit for sending from a socket of that family: an IPv4 address becomes v4-mapped
 * on a dual-stack socket; -EAFNOSUPPORT when it cannot be reached from that socket. */
int udp_fit(struct udp_addr *a, int family, bool dual);
/* Sets the port of an IPv4 or IPv6 address. */
void udp_set_port(struct udp_addr *a, int port);
/* Sends one datagram to a, or to the connected peer when a is NULL: 0, -EAGAIN when the
 * send buffer is full, -EMSGSIZE above UDP_MAX bytes, or -errno (ECONNREFUSED after an
 * ICMP refusal on a connected socket). */
int udp_send(int fd, const void *data, size_t n, const struct udp_addr *a);
/* Receives one datagram into buf (cut to size bytes), with its sender in *from unless
 * from is NULL: its length, -EAGAIN when none is waiting, or -errno. */
ssize_t udp_recv(int fd, void *buf, size_t size, struct udp_addr *from);
int udp_connect(int fd, const struct udp_addr *a);
/* The numeric text (a v4-mapped address as plain IPv4) and port of a; -EAFNOSUPPORT for
 * other families. host needs INET6_ADDRSTRLEN bytes. */
int udp_name(const struct udp_addr *a, char *host, size_t size, int *port);

#endif
