/* O_NONBLOCK lives on the open file, which fd 0-2 share with the shell and with C stdio: a
 * pipe or tty is reopened through /proc/self/fd (a new open file of the same pipe or
 * terminal, ours to make non-blocking), a socket is used with MSG_DONTWAIT, a regular file
 * directly. Nothing ever changes the flags of an inherited descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream.h"
#include "io.h"
#include "resource.h"
#include "tls.h"

static void stream_shutdown(struct rt *rt, struct resource *r)
{
    stream_close(rt, (struct stream *)r);
}

static void stream_describe(struct resource *r, char *buf, size_t size)
{
    struct stream *s = (struct stream *)r;
    snprintf(buf, size, "%s (fd %d)", s->name, s->fd);
}

void stream_init(struct rt *rt, struct stream *s, int fd, enum stream_kind kind, bool owned,
                 const char *name)
{

    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->kind = (uint8_t)kind;
    s->owned = owned;
    s->name = name;
    /* as C stdio: line by line to a person, in blocks to anything else */
    s->vbuf = kind == STREAM_FD && isatty(fd) ? STREAM_VBUF_LINE : STREAM_VBUF_FULL;
    iosrc_init(&s->rd, fd, EV_READ, "read", fd);
    iosrc_init(&s->wr, fd, EV_WRITE, "write", fd);
    s->res.kind = "stream";
    s->res.shutdown = stream_shutdown;
    s->res.describe = stream_describe;
    if (owned)
        resource_add(rt, &s->res);
}

int stream_open_std(struct rt *rt, struct stream *s, int fd)
{
    static const char *const names[] = {"stdin", "stdout", "stderr"};
    struct stat st;
    char path[32];
    int nfd;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (S_ISSOCK(st.st_mode)) {
        stream_init(rt, s, fd, STREAM_SOCKET, false, names[fd]);
        s->std = true;
        return 0;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        nfd = open(path, (fd == 0 ? O_RDONLY : O_WRONLY) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (nfd >= 0) {
            stream_init(rt, s, nfd, STREAM_FD, true, names[fd]);
            resource_remove(rt, &s->res); /* the runtime's own: closed without a report */
            s->std = true;
            return 0;
        }
    }
    /* a regular file, or no /proc: a private descriptor on the same open file, used as is */
    nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (nfd < 0)
        return -errno;
    stream_init(rt, s, nfd, S_ISREG(st.st_mode) ? STREAM_FILE : STREAM_FD, true, names[fd]);
    resource_remove(rt, &s->res);
    s->std = true;
    return 0;
}

ssize_t stream_fill(struct stream *s)
{
    enum { CHUNK = 16384 };
    ssize_t n;
    if (s->off > 0 && (s->len == 0 || s->off > s->cap / 2)) {
        memmove(s->buf, s->buf + s->off, s->len);
        s->off = 0;
    }
    if (s->cap - s->off - s->len < CHUNK) {
        size_t cap = s->cap ? s->cap * 2 : CHUNK;
        while (cap - s->off - s->len < CHUNK)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b)
            return -ENOMEM;
        s->buf = b;
        s->cap = cap;
    }
    char *dst = s->buf + s->off + s->len;
    size_t room = s->cap - s->off - s->len;
    do {
        if (s->kind == STREAM_TLS)
            n = tls_read(s->tls, dst, room, &s->rd_other);
        else if (s->kind == STREAM_SOCKET)
            n = recv(s->fd, dst, room, MSG_DONTWAIT);
        else
            n = read(s->fd, dst, room);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (n == 0)
        s->eof = true;
    s->len += (size_t)n;
    return n;
}

void stream_consume(struct stream *s, size_t n)
{
    s->off += n;
    s->len -= n;
    if (s->len == 0)
        s->off = 0;
}

ssize_t stream_send(struct stream *s, const char *p, size_t n)
{
    ssize_t w;
    do {
        if (s->kind == STREAM_TLS)
            w = tls_write(s->tls, p, n, &s->wr_other);
        else if (s->kind == STREAM_SOCKET)
            w = send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        else
            w = write(s->fd, p, n); /* SIGPIPE is ignored: a gone reader is EPIPE */
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return w;
}

enum { STREAM_WBUF = 65536 };

ssize_t stream_buffer(struct stream *s, const char *p, size_t n)
{
    if (!s->wbuf) {
        size_t cap = s->wcap ? s->wcap : STREAM_WBUF;
        if (!(s->wbuf = malloc(cap)))
            return -ENOMEM;
        s->wcap = cap;
    }
    size_t room = s->wcap - s->wlen;
    if (n > room)
        n = room;
    memcpy(s->wbuf + s->wlen, p, n);
    s->wlen += n;
    return (ssize_t)n;
}

int stream_flush_some(struct stream *s)
{
    size_t done = 0;
    while (done < s->wlen) {
        ssize_t n = stream_send(s, s->wbuf + done, s->wlen - done);
        if (n < 0) {
            if (n != -EAGAIN) {
                s->wlen = 0;
                return (int)n;
            }
            memmove(s->wbuf, s->wbuf + done, s->wlen - done);
            s->wlen -= done;
            return -EAGAIN;
        }
        done += (size_t)n;
    }
    s->wlen = 0;
    return 0;
}

void stream_pend(struct rt *rt, struct stream *s)
{
    if (s->pend_prev)
        return;
    s->pend_next = rt->pending_out;
    if (s->pend_next)
        s->pend_next->pend_prev = &s->pend_next;
    s->pend_prev = &rt->pending_out;
    rt->pending_out = s;
}

static void stream_unpend(struct stream *s)
{
    if (!s->pend_prev)
        return;
    *s->pend_prev = s->pend_next;
    if (s->pend_next)
        s->pend_next->pend_prev = s->pend_prev;
    s->pend_next = NULL;
    s->pend_prev = NULL;
}

void stream_flush_pending(struct rt *rt)
{
    struct stream *s = rt->pending_out, *next, *out = rt->std_streams[1];
    for (; s; s = next) {
        next = s->pend_next;
        int r = s->wlen ? stream_flush_some(s) : 0;
        if (r == -EAGAIN) {
            iosrc_watch(rt, stream_wr_src(s)); /* the loop wakes when there is room */
            continue;
        }
        stream_unpend(s);
        if (r == -EPIPE && s->std)
            rt_output_gone(rt);
        if (r < 0 && !s->werr)
            s->werr = -r;
    }
    /* print and io.write: what C stdio holds is newer than what async.stdout holds */
    if (__fpending(stdout) > 0 && !(out && out->wlen > 0))
        fflush(stdout);
}

int stream_drain(struct stream *s)
{
    int r;
    while ((r = stream_flush_some(s)) == -EAGAIN) {
        struct pollfd p = {.fd = s->fd, .events = POLLOUT};
        if (poll(&p, 1, -1) < 0 && errno != EINTR) {
            s->wlen = 0;
            return -errno;
        }
    }
    stream_unpend(s);
    return r;
}

/* A drain at the end of the run or at a close: standard output whose reader left makes the
 * status 141 (rt->std_gone), as a failed final fflush of C stdio does. */
static void stream_drain_noting(struct rt *rt, struct stream *s)
{
    if (stream_drain(s) == -EPIPE && s->std)
        rt->std_gone = true;
}

void stream_drain_all(struct rt *rt)
{
    while (rt->pending_out)
        stream_drain_noting(rt, rt->pending_out);
}

int stream_drain_or_exit(struct rt *rt, struct stream *s)
{
    int r = s->wlen > 0 ? stream_drain(s) : 0;
    if (r == -EPIPE && s->std)
        rt_output_gone(rt);
    return r;
}

void stream_drain_std(struct rt *rt)
{
    for (int fd = 1; fd <= 2; fd++)
        if (rt->std_streams[fd])
            stream_drain_or_exit(rt, rt->std_streams[fd]);
}

int stream_setvbuf(struct stream *s, enum stream_vbuf mode, size_t size)
{
    if (size > 0 && size != s->wcap) {
        if (s->wlen > 0)
            return -EAGAIN;
        free(s->wbuf);
        s->wbuf = NULL;
        s->wcap = size;
    }
    s->vbuf = (uint8_t)mode;
    return 0;
}

void stream_close(struct rt *rt, struct stream *s)
{
    if (s->closed)
        return;
    stream_drain_noting(rt, s);
    s->closed = true;
    for (int i = 0; i < 3; i++)
        if (rt->std_streams[i] == s)
            rt->std_streams[i] = NULL;
    iosrc_release(rt, &s->rd);
    iosrc_release(rt, &s->wr);
    if (s->tls)
        tls_close(s->tls); /* close_notify, before the fd goes */
    s->tls = NULL;
    if (s->owned) {
        close(s->fd);
        resource_remove(rt, &s->res);
    }
    free(s->buf);
    free(s->wbuf);
    s->buf = s->wbuf = NULL;
    s->off = s->len = s->cap = s->wlen = s->wcap = 0;
}
