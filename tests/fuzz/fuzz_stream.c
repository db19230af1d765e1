/* libFuzzer target for the stream read path: runtime/stream.c (stream_fill, stream_consume,
 * stream_open_std) under lua/lstream.c (read formats "l", "L", "a", counts, read_some,
 * lines), driven through the real runtime: each input is one rt_run() of the asyncrun
 * library (runtime/ and lua/, not cli/main.c), exactly the path `asyncrun -e CODE` takes.
 *
 * Input layout (every field is optional; a short input just means fewer operations):
 *   byte 0        mode: bits 0-1 the kind of stdin (0, 3: a pipe; 1: a socket pair;
 *                 2: a regular file), bit 2 "lock-step" (the writer waits until the reader
 *                 has taken each chunk, so every read returns exactly one chunk)
 *   byte 1        number of read operations N (at most 32)
 *   2N bytes      the operations (kind, argument): see stream_check.lua
 *   byte          number of chunk sizes M (at most 16), then M bytes of sizes
 *   the rest      the data, written to stdin in chunks cycling through the sizes
 *                 (1 + b bytes, or (b - 0xef) * 4096 for b >= 0xf0; one chunk if M = 0)
 *
 * The -e chunk (stream_check.lua, embedded at build time) performs each operation on
 * async.stdin and on a Lua file opened on the same bytes (a memfd, through /proc/self/fd),
 * and raises on any difference: rt_run then returns 1 and the harness aborts, so libFuzzer
 * keeps the input. ASan/UBSan/LSan watch the C side, including leaks across runs, and the
 * harness checks that rt_run closes every descriptor it opened.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"
#include "lasync.h" /* the bindings, opened the way cli/main.c opens them */
#include "stream_check_lua.h" /* generated: static const unsigned char stream_check_lua[] */

#define MAX_OPS 32
#define MAX_SIZES 16

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int oracle_fd = -1;   /* a memfd holding the data: the oracle and the "file" kind */
static char *script;         /* stream_check.lua as a C string */

struct writer {
    int fd;                  /* the write end */
    int probe;               /* the read end, for FIONREAD in lock-step mode */
    bool lockstep;
    const uint8_t *data;
    size_t size;
    const uint8_t *sizes;
    size_t nsizes;
    atomic_bool stop;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN); /* a writer whose reader has gone gets EPIPE */
    oracle_fd = memfd_create("fuzz_stream_oracle", 0);
    if (oracle_fd < 0) {
        perror("memfd_create");
        abort();
    }
    script = malloc(sizeof stream_check_lua + 1);
    memcpy(script, stream_check_lua, sizeof stream_check_lua);
    script[sizeof stream_check_lua] = '\0';
    return 0;
}

static size_t chunk_size(uint8_t b)
{
    return b >= 0xf0 ? (size_t)(b - 0xef) * 4096 : (size_t)b + 1;
}

static void pause_briefly(void)
{
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    size_t off = 0, k = 0;
    while (off < w->size && !atomic_load(&w->stop)) {
        size_t n = w->nsizes ? chunk_size(w->sizes[k++ % w->nsizes]) : w->size;
        if (n > w->size - off)
            n = w->size - off;
        size_t done = 0;
        while (done < n) {
            ssize_t r = write(w->fd, w->data + off + done, n - done);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                goto out; /* the reader has gone */
            done += (size_t)r;
        }
        off += n;
        if (w->lockstep) {
            int avail = 1;
            while (!atomic_load(&w->stop) && ioctl(w->probe, FIONREAD, &avail) == 0 && avail > 0)
                pause_briefly();
        }
    }
out:
    close(w->fd); /* the end of the stream */
    w->fd = -1;
    return NULL;
}

/* The number of open descriptors: rt_run must give back every one it opened. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    uint8_t mode = size > pos ? data[pos++] : 0;
    size_t nops = size > pos ? data[pos++] % (MAX_OPS + 1) : 0;
    if (nops * 2 > size - pos)
        nops = (size - pos) / 2;
    const uint8_t *ops = data + pos;
    pos += nops * 2;
    size_t nsizes = size > pos ? data[pos++] % (MAX_SIZES + 1) : 0;
    if (nsizes > size - pos)
        nsizes = size - pos;
    const uint8_t *sizes = data + pos;
    pos += nsizes;
    const uint8_t *payload = data + pos;
    size_t len = size - pos;

    int fds_before = count_fds(); /* compared once every descriptor of this run is closed */

    /* the oracle: the same bytes as a regular file */
    if (ftruncate(oracle_fd, 0) != 0 || pwrite(oracle_fd, payload, len, 0) != (ssize_t)len) {
        perror("oracle");
        abort();
    }

    int kind = mode & 3, rd = -1, wr = -1;
    if (kind == 1) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            abort();
        rd = sv[0];
        wr = sv[1];
    } else if (kind != 2) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0)
            abort();
        rd = p[0];
        wr = p[1];
    }
    int saved0 = dup(STDIN_FILENO);
    if (kind == 2) {
        dup2(oracle_fd, STDIN_FILENO);
        lseek(STDIN_FILENO, 0, SEEK_SET);
    } else {
        dup2(rd, STDIN_FILENO);
    }

    struct writer w = {.fd = wr, .probe = rd, .lockstep = mode & 4, .data = payload,
                       .size = len, .sizes = sizes, .nsizes = nsizes};
    atomic_init(&w.stop, false);
    pthread_t th;
    bool threaded = kind != 2;
    if (threaded && pthread_create(&th, NULL, writer_main, &w) != 0)
        abort();

    char ops_hex[2 * MAX_OPS * 2 + 1], oracle_path[64];
    hex(ops_hex, ops, nops * 2);
    snprintf(oracle_path, sizeof oracle_path, "/proc/self/fd/%d", oracle_fd);
    char *argv[] = {(char *)"fuzz_stream", ops_hex, oracle_path, NULL};
    struct rt_chunk chunk = {.kind = 'e', .text = script};
    struct rt_options opt;
    memset(&opt, 0, sizeof opt);
    opt.argv = argv;
    opt.argc = 3;
    opt.chunks = &chunk;
    opt.nchunks = 1;
    opt.ignore_env = true;
    opt.open_libs = lasync_open;
    opt.slow = 0.1;
    opt.timeout = 20; /* a hang becomes status 124 instead of a libFuzzer timeout */

    int status = rt_run(&opt);

    /* every read end goes: a writer still blocked in write() gets EPIPE */
    atomic_store(&w.stop, true);
    dup2(saved0, STDIN_FILENO);
    close(saved0);
    if (rd >= 0)
        close(rd);
    if (threaded)
        pthread_join(th, NULL);
    int fds_after = count_fds();
    if (status != 0) {
        fprintf(stderr, "fuzz_stream: the check failed (rt_run status %d)\n", status);
        abort();
    }
    if (fds_after != fds_before) {
        fprintf(stderr, "fuzz_stream: rt_run leaked %d descriptor(s)\n", fds_after - fds_before);
        abort();
    }
    return 0;
}
