/* Starting a child without waiting for its exec. posix_spawn (vfork) stops the whole loop
 * until the child's execve is under way, and with dozens of busy children that wait is the
 * child's turn in the run queue: the loop starts children no faster than the scheduler lets
 * them reach execve. Here the child runs on a stack of its own inside our memory (clone3 with
 * CLONE_VM, no CLONE_VFORK) and does its setup with raw system calls only (it shares our
 * errno and heap); the loop goes on at once, and the exec's outcome arrives on a pipe: end of
 * file when the program runs (close-on-exec) or when the child gave up, with its errno left
 * in the shared block. x86-64 only; elsewhere, and where clone3 or close_range's CLOEXEC is
 * missing (valgrind, old kernels, seccomp), proc.c uses posix_spawn. */
#ifndef ASYNCRUN_SPAWN_H
#define ASYNCRUN_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

struct spawn;

/* What the child is to be. The strings must live until spawn_end or spawn_free. */
struct spawn_req {
    char *const *argv;        /* argv[0] is looked up in PATH unless it has a '/' */
    char *const *envp;        /* NULL: ours */
    const char *cwd;          /* NULL: ours */
    const int *fd;            /* [3], as proc_stdio.fd */
    bool group;               /* setpgid(0, 0) */
    bool default_pipe;        /* SIGPIPE back to SIG_DFL (asyncrun ignores it) */
    bool want_pidfd;          /* CLONE_PIDFD */
};

/* Whether this machine can start children so (x86-64, close_range with CLOSE_RANGE_CLOEXEC). */
bool spawn_available(void);
/* Starts the child: 0 with *pid, *pidfd (-1 unless asked for) and *sp for spawn_end; -ENOSYS,
 * -EPERM or -EINVAL when clone3 cannot do it here (use posix_spawn); else -errno. */
int spawn_begin(const struct spawn_req *req, pid_t *pid, int *pidfd, struct spawn **sp);
/* The read end that reaches end of file once the exec is over, one way or the other. */
int spawn_fd(const struct spawn *sp);
/* The exec's outcome: 1 while under way (block: waits), 0 once the program runs, or -errno
 * of the failure (the child exits 127, still to be reaped). */
int spawn_end(struct spawn *sp, bool block);
/* Once spawn_end is not 1, or the child was reaped: closes the pipe, frees the block. */
void spawn_free(struct spawn *sp);

#endif
