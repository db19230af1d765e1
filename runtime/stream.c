/* O_NONBLOCK lives on the open file, which fd 0-2 share with the shell and with C stdio: a
 * pipe or tty is reopened through /proc/self/fd (a new open file of the same pipe or
 * terminal, ours to make non-blocking), a socket is used with MSG_DONTWAIT, a regular file
 * directly. Nothing ever changes the flags of an inherited descriptor. */
#include <errno.h>
#include <linux/sockios.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* Reads and drops what is queued on fd, within a bound (never a wait): false once the peer
 * has hung up or reset, so that nothing more will come. */
static bool stream_discard_input(int fd)
{
    enum { CHUNK = 16384, MAX_CHUNKS = 64 };
    char scrap[CHUNK];
    for (int i = 0; i < MAX_CHUNKS; i++) {
        ssize_t n = recv(fd, scrap, sizeof scrap, MSG_DONTWAIT);
        if (n < (ssize_t)sizeof scrap)
            return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
    }
    return true;
}

/* Ends s's TLS connection (close_notify after the rest of the data) and closes its
 * descriptor if it owns it. A TLS socket first drops the input nobody read: TLS 1.3 session
 * tickets come unasked, and a client that only writes never reads them; a close with unread
 * input makes the kernel reset the connection and throw away the output it has not sent. */
static void stream_release(struct stream *s)
{
    if (s->tls)
        tls_close(s->tls);
    s->tls = NULL;
    if (!s->owned)
        return;
    if (s->kind == STREAM_TLS)
        stream_discard_input(s->fd);
    close(s->fd);
}

/* Whether fd has output in the kernel that the peer has not acknowledged yet. */
static bool stream_unacked(int fd)
{
    int queued;
    return ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0;
}

/* Whether closing s now could lose output: a sound TLS connection whose peer has not
 * acknowledged all of it yet. Tickets (or anything) the peer sends after the close would
 * reset the connection and drop the rest, so the socket is kept open until then. */
static bool stream_wait_ack(const struct stream *s)
{
    return s->tls && s->owned && tls_established(s->tls) && stream_unacked(s->fd);
}

/* A closed stream's descriptor, kept by the runtime while its output goes out. */
struct stream_lingerer {
    struct stream s;
    ev_timer acked; /* TLS: polls until the peer has acknowledged the output */
    double until;   /* clock_now past which it closes anyway: a peer that never reads */
};
static const double STREAM_ACK_WAIT = 30, STREAM_ACK_POLL = 0.05; /* seconds */

static struct stream_lingerer *stream_lingerer_of(struct stream *l)
{
    return (struct stream_lingerer *)((char *)l - offsetof(struct stream_lingerer, s));
}

/* Stops one of a lingering stream's watchers, which were unref'd when started. */
static void stream_linger_stop(struct rt *rt, ev_io *w)
{
    if (ev_is_active(w)) {
        ev_ref(rt->loop);
        ev_io_stop(rt->loop, w);
    }
}

static void stream_linger_end(struct rt *rt, struct stream *l)
{
    struct stream_lingerer *lg = stream_lingerer_of(l);
    for (int i = 0; i < 3; i++)
        if (rt->std_streams[i] == l)
            rt->std_streams[i] = NULL;
    stream_linger_stop(rt, &l->wr.w);
    stream_linger_stop(rt, &l->rd.w);
    if (ev_is_active(&lg->acked)) {
        ev_ref(rt->loop);
        ev_timer_stop(rt->loop, &lg->acked);
    }
    stream_unpend(l);
    stream_release(l);
    free(l->wbuf);
    free(lg);
}

/* Input on a lingering TLS socket: dropped; the peer's hang-up ends the wait. */
static void stream_linger_input(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stream *l = (struct stream *)((char *)w - offsetof(struct stream, rd.w));
    (void)revents;
    if (!stream_discard_input(l->fd))
        stream_linger_end(ev_userdata(loop), l);
}

static void stream_linger_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct stream_lingerer *lg =
        (struct stream_lingerer *)((char *)w - offsetof(struct stream_lingerer, acked));
    (void)revents;
    if (!stream_unacked(lg->s.fd) || clock_now() >= lg->until)
        stream_linger_end(ev_userdata(loop), &lg->s);
}

/* The lingering stream's output is all in the kernel: it ends, or under TLS sends
 * close_notify and the end of its output (shutdown) and waits for the acknowledgement. The
 * watchers are unref'd: output that no task waits for never keeps the run alive, nor hides a
 * deadlock. */
static void stream_linger_sent(struct rt *rt, struct stream *l)
{
    struct stream_lingerer *lg = stream_lingerer_of(l);
    stream_linger_stop(rt, &l->wr.w);
    if (!stream_wait_ack(l)) {
        stream_linger_end(rt, l);
        return;
    }
    tls_close(l->tls);
    l->tls = NULL;
    shutdown(l->fd, SHUT_WR);
    lg->until = clock_now() + STREAM_ACK_WAIT;
    ev_io_init(&l->rd.w, stream_linger_input, l->fd, EV_READ);
    ev_io_start(rt->loop, &l->rd.w);
    ev_unref(rt->loop);
    ev_timer_init(&lg->acked, stream_linger_tick, STREAM_ACK_POLL, STREAM_ACK_POLL);
    ev_timer_start(rt->loop, &lg->acked);
    ev_unref(rt->loop);
}

/* Room for a lingering stream. */
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
    stream_linger_sent(rt, l);
}

/* Hands s's unsent output and its descriptor over to a stream of the runtime's own, which
 * the loop flushes while the run goes on, and the end of the run drains: a close never waits
 * for a slow peer. The lingering stream while output is left to send; NULL without memory,
 * or when only a TLS peer's acknowledgement is waited for (the descriptor is taken then). */
static struct stream *stream_linger(struct rt *rt, struct stream *s)
{
    struct stream_lingerer *lg = calloc(1, sizeof *lg);
    if (!lg)
        return NULL;
    struct stream *l = &lg->s;
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
    l->pend_next = rt->lingering;
    if (l->pend_next)
        l->pend_next->pend_prev = &l->pend_next;
    l->pend_prev = &rt->lingering;
    rt->lingering = l;
    if (l->wlen == 0) { /* TLS output the peer has yet to acknowledge */
        stream_linger_sent(rt, l); /* may end it at once */
        return NULL;
    }
    ev_io_init(&l->wr.w, stream_linger_ready, l->fd, EV_WRITE);
    ev_io_start(rt->loop, &l->wr.w);
    ev_unref(rt->loop);
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

enum { STREAM_DRAIN_SLICE_MS = 250 };

/* Drains v[0 .. n) together, blocking the loop: each err[i] ends as 0 or -errno. A signal
 * that ends the run (SIGINT, SIGTERM, SIGHUP) bounds the wait. */
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
        /* in slices: a signal that came between the check and poll is seen at the next */
        int r = poll(p, waiting, ms < 0 || ms > STREAM_DRAIN_SLICE_MS ? STREAM_DRAIN_SLICE_MS : ms);
        int e = errno;
        if (signal_ending())
            rt_bound_drains(rt);
        if (r >= 0 || e == EINTR)
            continue;
        for (size_t i = 0; i < n; i++) /* poll itself failed: nothing can be waited for */
            if (err[i] == -EAGAIN) {
                v[i]->wlen = 0;
                err[i] = -e;
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
        if (r < 0 && r != -EAGAIN)
            stream_note(rt, s, r);
    }
    /* output the kernel did not take, or that a TLS peer has yet to acknowledge, lingers */
    if ((s->wlen > 0 || stream_wait_ack(s)) && !(rt->loop_open && (l = stream_linger(rt, s))))
        s->wlen = 0; /* the loop is gone, no memory, or only TLS's acknowledgement to wait */
    stream_unpend(s);
    s->closed = true;
    for (int i = 0; i < 3; i++) /* what print writes next still goes after what l holds */
        if (rt->std_streams[i] == s)
            rt->std_streams[i] = l;
    iosrc_release(rt, &s->rd);
    iosrc_release(rt, &s->wr);
    stream_release(s); /* not the fd when its output lingers: the lingering stream has it */
    resource_remove(rt, &s->res);
    if (s->buf)
        alloc_lua(&rt->alloc, s->buf, s->cap, 0);
    free(s->wbuf);
    s->buf = s->wbuf = NULL;
    s->off = s->len = s->cap = s->scanned = s->wlen = s->wcap = 0;
}
