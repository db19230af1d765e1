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
#include "alloc.h"
#include "io.h"
#include "resource.h"
#include "clock.h"
#include "signal.h"
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

ssize_t stream_fill(struct rt *rt, struct stream *s)
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
        char *b = alloc_lua(&rt->alloc, s->buf, s->cap, cap);
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
    s->scanned = s->scanned > n ? s->scanned - n : 0;
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
        rt_fflush(rt, stdout);
}

/* What a drain found on async.stdout/stderr that the script will never receive: a reader
 * that left makes the status 141 (rt->std_gone), another error is reported at exit. */
static void stream_note(struct rt *rt, struct stream *s, int err)
{
    if (err == -EPIPE && s->std)
        rt->std_gone = true;
    else if (err < 0 && err != -ETIMEDOUT && s->std)
        rt_output_error(rt, s->name, -err);
}

static void stream_linger_end(struct rt *rt, struct stream *l)
{
    for (int i = 0; i < 3; i++)
        if (rt->std_streams[i] == l)
            rt->std_streams[i] = NULL;
    if (ev_is_active(&l->wr.w)) {
        ev_ref(rt->loop);
        ev_io_stop(rt->loop, &l->wr.w);
    }
    stream_unpend(l);
    if (l->tls)
        tls_close(l->tls); /* close_notify after the rest of the data */
    if (l->owned)
        close(l->fd);
    free(l->wbuf);
    free(l);
}

/* Room for a lingering stream. Its watcher is unref'd: output that no task waits for never
 * keeps the run alive, nor hides a deadlock. */
static void stream_linger_ready(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stream *l = (struct stream *)((char *)w - offsetof(struct stream, wr.w));
    struct rt *rt = ev_userdata(loop);
    (void)revents;
    int r = stream_flush_some(l);
    if (r == -EAGAIN)
        return;
    if (r == -EPIPE && l->std)
        rt_output_gone(rt); /* as for async.stdout open: its reader left */
    stream_note(rt, l, r);
    stream_linger_end(rt, l);
}

/* Hands s's unsent output and its descriptor over to a stream of the runtime's own, which
 * the loop flushes while the run goes on, and the end of the run drains: a close never waits
 * for a slow peer. The lingering stream, or NULL without memory. */
static struct stream *stream_linger(struct rt *rt, struct stream *s)
{
    struct stream *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    memset(l, 0, sizeof *l);
    l->fd = s->fd;
    l->kind = s->kind;
    l->owned = s->owned;
    l->std = s->std;
    l->name = s->name;
    l->lingering = true;
    l->wbuf = s->wbuf; /* owned: taken from s */
    l->wlen = s->wlen;
    l->wcap = s->wcap;
    l->tls = s->tls; /* its output goes through TLS too */
    s->tls = NULL;
    s->wbuf = NULL;
    s->wlen = 0;
    s->owned = false; /* the descriptor is l's now */
    ev_io_init(&l->wr.w, stream_linger_ready, l->fd, EV_WRITE);
    ev_io_start(rt->loop, &l->wr.w);
    ev_unref(rt->loop);
    l->pend_next = rt->lingering;
    if (l->pend_next)
        l->pend_next->pend_prev = &l->pend_next;
    l->pend_prev = &rt->lingering;
    rt->lingering = l;
    return l;
}

void stream_end_lingering(struct rt *rt)
{
    while (rt->lingering)
        stream_linger_end(rt, rt->lingering);
}

/* The clock reading past which a drain that blocks the loop gives up on s (0: none). Output
 * for a reader that reads is never dropped, however slow: --timeout and a terminating signal
 * (rt->drain_until) bound the wait, and at the end of the run, for streams other than stdout
 * and stderr, so does a grace without progress (s->quiet_until). */
static double stream_deadline(const struct rt *rt, const struct stream *s)
{
    double a = rt->drain_until, b = s->std ? 0 : s->quiet_until;
    return a == 0 ? b : b == 0 || a < b ? a : b;
}

/* One pass of a drain over v[0 .. n): flushes each, drops the output of those past their
 * deadline (-ETIMEDOUT), and fills p with those still waiting for room; err[i] is the
 * outcome of v[i] once it is over. Returns how many wait, and in *ms poll's timeout. */
static size_t stream_drain_pass(struct rt *rt, struct stream **v, int *err, size_t n,
                                struct pollfd *p, int *ms)
{
    size_t waiting = 0;
    double now = clock_now(), first = 0;
    for (size_t i = 0; i < n; i++) {
        if (err[i] != -EAGAIN)
            continue;
        size_t before = v[i]->wlen;
        if ((err[i] = v[i]->wlen ? stream_flush_some(v[i]) : 0) != -EAGAIN)
            continue;
        if (rt->close_grace > 0 && (v[i]->quiet_until == 0 || v[i]->wlen < before))
            v[i]->quiet_until = now + rt->close_grace;
        double until = stream_deadline(rt, v[i]);
        if (until > 0 && now >= until) {
            v[i]->wlen = 0; /* a reader that does not read, and the run must end */
            err[i] = -ETIMEDOUT;
            rt->drain_expired = true;
            continue;
        }
        if (until > 0 && (first == 0 || until < first))
            first = until;
        p[waiting++] = (struct pollfd){.fd = v[i]->fd, .events = POLLOUT};
    }
    *ms = first == 0 ? -1 : (int)((first - now) * 1000) + 1;
    return waiting;
}

/* Drains v[0 .. n) together, blocking the loop: each err[i] ends as 0 or -errno. A signal
 * that ends the run (SIGINT, SIGTERM, SIGHUP) interrupts poll and bounds the wait. */
static void stream_drain_set(struct rt *rt, struct stream **v, int *err, size_t n)
{
    struct pollfd one, *p = n == 1 ? &one : malloc(n * sizeof *p);
    int ms;
    if (!p) { /* no memory for the set: one at a time */
        for (size_t i = 0; i < n; i++)
            stream_drain_set(rt, v + i, err + i, 1);
        return;
    }
    for (size_t i = 0; i < n; i++)
        err[i] = -EAGAIN;
    for (size_t waiting; (waiting = stream_drain_pass(rt, v, err, n, p, &ms)) > 0;) {
        if (poll(p, waiting, ms) >= 0)
            continue;
        if (errno == EINTR) {
            if (signal_ending())
                rt_bound_drains(rt);
            continue;
        }
        for (size_t i = 0; i < n; i++) /* poll itself failed: nothing can be waited for */
            if (err[i] == -EAGAIN) {
                v[i]->wlen = 0;
                err[i] = -errno;
            }
        break;
    }
    for (size_t i = 0; i < n; i++)
        if (!v[i]->lingering) /* a lingering one stays listed until it ends */
            stream_unpend(v[i]);
    if (p != &one)
        free(p);
}

int stream_drain(struct rt *rt, struct stream *s)
{
    int err;
    stream_drain_set(rt, &s, &err, 1);
    return err;
}

void stream_drain_all(struct rt *rt)
{
    size_t n = 0;
    for (struct stream *s = rt->pending_out; s; s = s->pend_next)
        n++;
    for (struct stream *s = rt->lingering; s; s = s->pend_next)
        n++;
    if (n == 0)
        return;
    struct stream **v = malloc(n * sizeof *v);
    int *err = malloc(n * sizeof *err);
    if (!v || !err) {
        free(v);
        free(err);
        while (rt->pending_out) /* no memory: one at a time */
            stream_note(rt, rt->pending_out, stream_drain(rt, rt->pending_out));
        while (rt->lingering)
            stream_linger_end(rt, rt->lingering);
        return;
    }
    n = 0;
    for (struct stream *s = rt->pending_out; s; s = s->pend_next)
        v[n++] = s;
    for (struct stream *s = rt->lingering; s; s = s->pend_next)
        v[n++] = s;
    stream_drain_set(rt, v, err, n);
    for (size_t i = 0; i < n; i++) {
        stream_note(rt, v[i], err[i]);
        if (v[i]->lingering)
            stream_linger_end(rt, v[i]);
    }
    free(v);
    free(err);
}

int stream_drain_or_exit(struct rt *rt, struct stream *s)
{
    int r = s->wlen > 0 ? stream_drain(rt, s) : 0;
    if (r == -EPIPE && s->std)
        rt_output_gone(rt);
    return r;
}

void stream_drain_std(struct rt *rt, bool exit_if_gone)
{
    for (int fd = 1; fd <= 2; fd++) {
        struct stream *s = rt->std_streams[fd];
        if (!s || s->wlen == 0)
            continue;
        if (exit_if_gone)
            stream_drain_or_exit(rt, s);
        else
            stream_note(rt, s, stream_drain(rt, s));
    }
}


int stream_setvbuf(struct stream *s, enum stream_vbuf mode, size_t size)
{
    if (size > 0 && size != s->wcap) {
        if (size < s->wlen) /* never waits for the kernel: keeps what is held */
            size = s->wlen;
        if (s->wlen > 0) {
            char *p = realloc(s->wbuf, size);
            if (!p)
                return -ENOMEM;
            s->wbuf = p;
        } else {
            free(s->wbuf);
            s->wbuf = NULL; /* allocated at the next write */
        }
        s->wcap = size;
    }
    s->vbuf = (uint8_t)mode;
    return 0;
}

void stream_close(struct rt *rt, struct stream *s)
{
    if (s->closed)
        return;
    struct stream *l = NULL;
    if (s->wlen > 0) {
        int r = stream_flush_some(s);
        if (r == -EAGAIN && !(rt->loop_open && (l = stream_linger(rt, s))))
            s->wlen = 0; /* the loop is gone (or no memory): what the kernel did not take */
        else if (r < 0 && r != -EAGAIN)
            stream_note(rt, s, r);
    }
    stream_unpend(s);
    s->closed = true;
    for (int i = 0; i < 3; i++) /* what print writes next still goes after what l holds */
        if (rt->std_streams[i] == s)
            rt->std_streams[i] = l;
    iosrc_release(rt, &s->rd);
    iosrc_release(rt, &s->wr);
    if (s->tls)
        tls_close(s->tls); /* close_notify, before the fd goes */
    s->tls = NULL;
    if (s->owned)
        close(s->fd); /* not when its output lingers: the lingering stream closes it */
    resource_remove(rt, &s->res);
    if (s->buf)
        alloc_lua(&rt->alloc, s->buf, s->cap, 0);
    free(s->wbuf);
    s->buf = s->wbuf = NULL;
    s->off = s->len = s->cap = s->scanned = s->wlen = s->wcap = 0;
}
