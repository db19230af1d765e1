/* Byte streams over fds: a read buffer, non-blocking reads and writes that report EAGAIN,
 * and the two I/O sources tasks wait on. Regular files are read and written directly. */
#ifndef ASYNCRUN_STREAM_H
#define ASYNCRUN_STREAM_H

#include <sys/types.h>

#include "core.h"

enum stream_kind {
    STREAM_FILE,   /* a regular file: epoll cannot wait on it, I/O never blocks for long */
    STREAM_FD,     /* a pipe or tty whose open file is ours and non-blocking */
    STREAM_SOCKET, /* a socket: MSG_DONTWAIT per call, so a shared one (fd 0-2) works too */
    STREAM_TLS,    /* a socket of ours under TLS: bytes go through tls (runtime/tls.h) */
};

struct tls_conn;

enum stream_vbuf { STREAM_VBUF_NO, STREAM_VBUF_LINE, STREAM_VBUF_FULL };

struct stream {
    struct resource res;
    int fd;
    uint8_t kind;
    bool closed, eof, owned;
    bool std;                 /* async.stdout/stderr: a gone reader ends the run (status 141) */
    bool lingering;           /* closed by the script; the runtime's, until its output is out
                                 (under TLS: until the peer has acknowledged it) */
    struct iosrc rd, wr;
    uint8_t vbuf;             /* STREAM_VBUF_*: when s:write hands its buffer to the kernel */
    char *buf;                /* owned, from the Lua allocator (--memlimit counts it): unread
                                 bytes are buf[off .. off+len) */
    size_t off, len, cap;
    size_t scanned;           /* of them, the first ones read("l") found without a newline */
    char *wbuf;               /* owned: written bytes not yet in the kernel: wbuf[0 .. wlen) */
    size_t wlen, wcap;
    int werr;                 /* errno of a write that failed after s:write returned, or 0 */
    double quiet_until;       /* at the end of the run: when a drain gives up on this peer
                                 unless it reads (rt->close_grace) */
    struct stream *pend_next, **pend_prev; /* in rt->pending_out while wlen > 0, or in
                                              rt->lingering */
    const char *name;         /* static: "tcp", "unix", "pipe", "stdin"... */
    struct tls_conn *tls;     /* owned: STREAM_TLS's connection */
    bool rd_other, wr_other;  /* TLS: the last read waits for writability, or the reverse */
};

/* What a task waits on after stream_fill or stream_send said -EAGAIN: the readiness it asked
 * for, or the other one when TLS must write to read or read to write. */
static inline struct iosrc *stream_rd_src(struct stream *s)
{
    return s->rd_other ? &s->wr : &s->rd;
}
static inline struct iosrc *stream_wr_src(struct stream *s)
{
    return s->wr_other ? &s->rd : &s->wr;
}

void stream_init(struct rt *rt, struct stream *s, int fd, enum stream_kind kind, bool owned,
                 const char *name);
/* Reads more into the buffer: bytes read, 0 at end of stream, or -errno (-EAGAIN; -ENOMEM
 * past --memlimit). */
ssize_t stream_fill(struct rt *rt, struct stream *s);
void stream_consume(struct stream *s, size_t n);
/* Writes what it can: bytes written or -errno (-EAGAIN). */
ssize_t stream_send(struct stream *s, const char *p, size_t n);
/* Appends what fits of p[0 .. n) to the write buffer (64 KiB unless setvbuf said otherwise,
 * taken at the first write): bytes taken, or -ENOMEM. */
ssize_t stream_buffer(struct stream *s, const char *p, size_t n);
/* Hands the write buffer to the kernel: 0 once it is empty, -EAGAIN, or -errno (the buffer
 * is then dropped: a peer that is gone reads nothing more). */
int stream_flush_some(struct stream *s);
/* Puts s on rt->pending_out (if it is not there) so the loop flushes it before it waits. */
void stream_pend(struct rt *rt, struct stream *s);
/* Before the loop waits: flushes every pending stream as far as the kernel takes it and
 * watches for room where it did not (errors are kept for the next call: werr), then C
 * stdio's stdout unless async.stdout still holds older bytes. */
void stream_flush_pending(struct rt *rt);
/* Waits (poll, blocking the loop) until the write buffer is in the kernel: 0 or -errno;
 * -ETIMEDOUT when --timeout, a signal that ends the run or the end of the run bounded the
 * wait (the rest is dropped). For the end of the run and output ordered with C stdio's. */
int stream_drain(struct rt *rt, struct stream *s);
/* stream_drain of a stream holding output; async.stdout/stderr whose reader left end the
 * run (rt_output_gone, status 141). 0 or -errno. */
int stream_drain_or_exit(struct rt *rt, struct stream *s);
/* Drains every stream with pending output and every lingering one, all at once: the end of
 * the run. A reader of async.stdout/stderr that left sets rt->std_gone, another error on
 * them is reported at exit (rt_output_error). */
void stream_drain_all(struct rt *rt);
/* Drains async.stdout and async.stderr: C stdio, a child or the runtime writes to the same
 * descriptor next. A reader that left ends the run (rt_output_gone) if exit_if_gone, else
 * sets rt->std_gone. */
void stream_drain_std(struct rt *rt, bool exit_if_gone);
/* Frees the lingering streams, dropping what they hold: the loop is closing. */
void stream_end_lingering(struct rt *rt);
/* Changes the buffering; size 0 keeps the current size, one smaller than what the buffer
 * holds is made that much. 0 or -ENOMEM. */
int stream_setvbuf(struct stream *s, enum stream_vbuf mode, size_t size);
/* Wakes its waiters, closes the fd if owned, frees the buffers. Idempotent. Output the
 * kernel does not take at once lingers: the loop sends it later (never waiting here); a TLS
 * socket also lingers until the peer has acknowledged its output, or 30 s have passed. */
void stream_close(struct rt *rt, struct stream *s);
/* Opens fd 0-2 as a stream without changing the flags of the shared open file. */
int stream_open_std(struct rt *rt, struct stream *s, int fd);

#endif
