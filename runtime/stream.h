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
};

struct stream {
    struct resource res;
    int fd;
    uint8_t kind;
    bool closed, eof, owned;
    bool std;                 /* async.stdout/stderr: a gone reader ends the run (status 141) */
    struct iosrc rd, wr;
    char *buf;                /* owned: unread bytes are buf[off .. off+len) */
    size_t off, len, cap;
    const char *name;         /* static: "tcp", "unix", "pipe", "stdin"... */
};

void stream_init(struct rt *rt, struct stream *s, int fd, enum stream_kind kind, bool owned,
                 const char *name);
/* Reads more into the buffer: bytes read, 0 at end of stream, or -errno (-EAGAIN). */
ssize_t stream_fill(struct stream *s);
void stream_consume(struct stream *s, size_t n);
/* Writes what it can: bytes written or -errno (-EAGAIN). */
ssize_t stream_send(struct stream *s, const char *p, size_t n);
/* Wakes its waiters, closes the fd if owned, frees the buffer. Idempotent. */
void stream_close(struct rt *rt, struct stream *s);
/* Opens fd 0-2 as a stream without changing the flags of the shared open file. */
int stream_open_std(struct rt *rt, struct stream *s, int fd);

#endif
