/* The child of spawn_begin shares our memory until its execve, runs concurrently with us, and
 * shares our thread's TLS (errno) too: it calls no libc function, only system calls through
 * inline assembly, and touches nothing but its struct spawn and its own stack (the tail of
 * the same block). The block is ours again once the status pipe reaches end of file: at
 * exec (close-on-exec runs after the child has left our memory) or at the child's exit. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sys/syscall.h>

#include "spawn.h"

extern char **environ;

#define SPAWN_STACK (16 * 1024) /* the child needs a few hundred bytes */

struct spawn {
    int status_fd;            /* our read end; the child holds the write end until exec/exit */
    volatile int err;         /* written by the child before it exits 127 */
    int fd[3];
    bool group, default_pipe;
    const char *cwd;
    char *const *argv;
    char *const *envp;
    char **paths;             /* the execve candidates, NULL-terminated */
    /* then: paths[], a copy of environ's pointers, the candidates' strings, the stack */
};

/* The execve candidates of file as posix_spawnp tries them: file itself if it has a '/',
 * else file in each PATH element (an empty one is the current directory). With out NULL it
 * only counts: returns how many, *bytes their size. */
static size_t spawn_candidates(const char *file, const char *path, char **out, char *buf,
                               size_t *bytes)
{
    size_t n = 0, used = 0, flen = strlen(file);
    if (flen == 0) { /* execvp("") is ENOENT */
        *bytes = 0;
        return 0;
    }
    if (strchr(file, '/'))
        path = "";
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        size_t dlen = (size_t)(end - p);
        if (out) {
            char *s = buf + used;
            out[n] = s;
            if (dlen) {
                memcpy(s, p, dlen);
                s[dlen++] = '/';
            }
            memcpy(s + dlen, file, flen + 1);
        } else if (dlen) {
            dlen++;
        }
        used += dlen + flen + 1;
        n++;
        if (!*end)
            break;
        p = end;
    }
    *bytes = used;
    return n;
}

int spawn_fd(const struct spawn *sp)
{
    return sp->status_fd;
}

void spawn_free(struct spawn *sp)
{
    close(sp->status_fd);
    free(sp);
}

int spawn_end(struct spawn *sp, bool block)
{
    char c;
    ssize_t n;
    while ((n = read(sp->status_fd, &c, 1)) < 0) {
        struct pollfd pfd = {.fd = sp->status_fd, .events = POLLIN};
        if (errno == EAGAIN && !block)
            return 1;
        if (errno == EAGAIN)
            poll(&pfd, 1, -1);
        else if (errno != EINTR)
            break;
    }
    return -sp->err;
}

#if defined(__x86_64__)

#define SPAWN_CHILD __attribute__((no_sanitize("address", "undefined")))

static inline __attribute__((always_inline)) SPAWN_CHILD long spawn_sys(long n, long a, long b,
                                                                         long c, long d)
{
    register long r10 __asm__("r10") = d;
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}

/* clone3 with fn(arg) run by the child on the new stack; the raw result (pid or -errno). */
long spawn_clone3(struct clone_args *args, size_t size, int (*fn)(void *), void *arg);
__asm__(".text\n"
        ".globl spawn_clone3\n"
        ".hidden spawn_clone3\n"
        ".type spawn_clone3, @function\n"
        "spawn_clone3:\n"
        "  mov %rdx, %r8\n"   /* fn and arg survive the syscall in r8 and r9 */
        "  mov %rcx, %r9\n"
        "  mov $435, %eax\n"  /* SYS_clone3 */
        "  syscall\n"
        "  test %rax, %rax\n"
        "  jnz 1f\n"
        "  xor %ebp, %ebp\n"  /* the child: the outermost frame */
        "  mov %r9, %rdi\n"
        "  call *%r8\n"
        "  mov %eax, %edi\n"
        "  mov $231, %eax\n"  /* SYS_exit_group, should fn return */
        "  syscall\n"
        "  hlt\n"
        "1: ret\n"
        ".size spawn_clone3, .-spawn_clone3\n");

struct spawn_sigaction { /* the kernel's, for rt_sigaction */
    unsigned long handler, flags, restorer, mask;
};

/* What execvp does on these: try the next PATH element. */
static inline __attribute__((always_inline)) SPAWN_CHILD bool spawn_try_next(long r)
{
    return r == -ENOENT || r == -ESTALE || r == -ENOTDIR || r == -ENODEV || r == -ETIMEDOUT;
}

/* The child, all signals blocked: what posix_spawn's child does, then execve. */
static SPAWN_CHILD int spawn_child(void *arg)
{
    struct spawn *sp = arg;
    struct spawn_sigaction dfl = {0, 0, 0, 0}, old;
    unsigned long none = 0;
    bool eacces = false;
    long r;
    /* our handlers must not run here, nor in the program: SIG_IGN stays (nohup) */
    for (long sig = 1; sig <= 64; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (!(sig == SIGPIPE && sp->default_pipe)
            && (spawn_sys(SYS_rt_sigaction, sig, 0, (long)&old, 8) != 0 || old.handler <= 1))
            continue;
        spawn_sys(SYS_rt_sigaction, sig, (long)&dfl, 0, 8);
    }
    if (sp->group && (r = spawn_sys(SYS_setpgid, 0, 0, 0, 0)) < 0)
        goto fail;
    for (long i = 0; i < 3; i++) {
        long src = sp->fd[i];
        if (src == -1)
            continue;
        if (src == -2) {
            src = spawn_sys(SYS_openat, AT_FDCWD, (long)"/dev/null", i ? O_WRONLY : O_RDONLY, 0);
            if ((r = src) < 0)
                goto fail;
            if (src != i) {
                r = spawn_sys(SYS_dup2, src, i, 0, 0);
                spawn_sys(SYS_close, src, 0, 0, 0);
            }
        } else if (src == i) { /* dup2 would leave its close-on-exec flag */
            r = spawn_sys(SYS_fcntl, i, F_SETFD, 0, 0);
        } else {
            r = spawn_sys(SYS_dup2, src == -3 ? 1 : src, i, 0, 0);
        }
        if (r < 0)
            goto fail;
    }
    if (sp->cwd && (r = spawn_sys(SYS_chdir, (long)sp->cwd, 0, 0, 0)) < 0)
        goto fail;
    /* close-on-exec, not closed: the status pipe must stay open until the exec */
    if ((r = spawn_sys(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC, 0)) < 0)
        goto fail;
    spawn_sys(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8);
    r = -ENOENT;
    for (char **p = sp->paths; *p; p++) {
        r = spawn_sys(SYS_execve, (long)*p, (long)sp->argv, (long)sp->envp, 0);
        if (r == -EACCES)
            eacces = true;
        else if (!spawn_try_next(r))
            goto fail;
    }
    if (eacces)
        r = -EACCES;
fail:
    sp->err = (int)-r;
    spawn_sys(SYS_exit_group, 127, 0, 0, 0);
    return 127;
}

bool spawn_available(void)
{
    /* an empty range: succeeds where the kernel knows the flag (Linux 5.11) */
    return syscall(SYS_close_range, ~0U, ~0U, CLOSE_RANGE_CLOEXEC) == 0;
}

/* The block: the struct, the pointer arrays, the strings, then the stack (16-aligned). */
static struct spawn *spawn_block(const struct spawn_req *req, size_t *stack_at)
{
    const char *path = getenv("PATH");
    size_t bytes, nenv = 0;
    size_t n = spawn_candidates(req->argv[0], path ? path : "/bin:/usr/bin", NULL, NULL, &bytes);
    if (!req->envp)
        while (environ[nenv])
            nenv++;
    size_t ptrs = n + 1 + (req->envp ? 0 : nenv + 1);
    size_t head = (sizeof(struct spawn) + ptrs * sizeof(char *) + bytes + 15) & ~(size_t)15;
    struct spawn *sp = malloc(head + SPAWN_STACK);
    if (!sp)
        return NULL;
    sp->err = 0;
    memcpy(sp->fd, req->fd, sizeof sp->fd);
    sp->group = req->group;
    sp->default_pipe = req->default_pipe;
    sp->cwd = req->cwd;
    sp->argv = req->argv;
    sp->paths = (char **)(sp + 1);
    char *strings = (char *)(sp->paths + ptrs);
    spawn_candidates(req->argv[0], path ? path : "/bin:/usr/bin", sp->paths, strings, &bytes);
    sp->paths[n] = NULL;
    if (req->envp) {
        sp->envp = req->envp;
    } else { /* environ may be reallocated by a setenv while the child reads it */
        char **env = sp->paths + n + 1;
        memcpy(env, environ, (nenv + 1) * sizeof(char *));
        sp->envp = env;
    }
    *stack_at = head;
    return sp;
}

int spawn_begin(const struct spawn_req *req, pid_t *pid, int *pidfd, struct spawn **out)
{
    size_t stack_at;
    int st[2] = {-1, -1};
    long r;
    struct spawn *sp = spawn_block(req, &stack_at);
    if (!sp)
        return -ENOMEM;
    if (pipe2(st, O_CLOEXEC | O_NONBLOCK) != 0)
        goto fail_errno;
    if (st[1] < 3) { /* not where the child's dup2 onto 0-2 would close it */
        int fd = fcntl(st[1], F_DUPFD_CLOEXEC, 3);
        close(st[1]);
        if ((st[1] = fd) < 0)
            goto fail_errno;
    }
    struct clone_args args;
    memset(&args, 0, sizeof args);
    *pidfd = -1;
    args.flags = CLONE_VM | (req->want_pidfd ? CLONE_PIDFD : 0);
    args.pidfd = (uintptr_t)pidfd;
    args.exit_signal = SIGCHLD;
    args.stack = (uintptr_t)((char *)sp + stack_at);
    args.stack_size = SPAWN_STACK;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the child starts with all of them blocked */
    r = spawn_clone3(&args, sizeof args, spawn_child, sp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(st[1]);
    if (r < 0) {
        st[1] = -1;
        goto fail;
    }
    sp->status_fd = st[0];
    *pid = (pid_t)r;
    *out = sp;
    return 0;
fail_errno:
    r = -errno;
fail:
    for (int i = 0; i < 2; i++)
        if (st[i] >= 0)
            close(st[i]);
    free(sp);
    return (int)r;
}

#else

bool spawn_available(void)
{
    return false;
}

int spawn_begin(const struct spawn_req *req, pid_t *pid, int *pidfd, struct spawn **out)
{
    (void)req, (void)pid, (void)pidfd, (void)out, (void)spawn_candidates;
    return -ENOSYS;
}

#endif
