/* A child's exit is seen through its pidfd (Linux 5.3+), not libev's ev_child, which on the
 * default loop reaps every child with waitpid(-1) and breaks io.popen and os.execute. The
 * fallback keeps that promise: on SIGCHLD, waitid peeks (WNOWAIT) at our own pids only. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "stream.h"
#include "trace.h"
#include "io.h"
#include "resource.h"
#include "signal.h"
#include "spawn.h"

extern char **environ;

static void proc_shutdown(struct rt *rt, struct resource *r)
{
    proc_close(rt, (struct proc *)r);
}

/* Peeks without reaping: the child's status stays for proc_reap (or io.popen's pclose). */
static bool proc_exited(const struct proc *p)
{
    siginfo_t si = {0};
    return waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid;
}

static void proc_describe(struct resource *r, char *buf, size_t size)
{
    struct proc *p = (struct proc *)r;
    /* an exited child nobody waited for is not "running" */
    bool exited = proc_exited(p);
    snprintf(buf, size, "%d (%s)", (int)p->pid, exited ? "exited, never waited for" : "still running: killed");
}

/* kill(2) to the child's whole group, so that its own children go with it; to the child
 * alone if it has moved to another group (setpgid) and left its own empty. */
static int proc_signal(const struct proc *p, int signo)
{
    if (p->group) {
        if (kill(-p->pid, signo) == 0)
            return 0;
        if (errno != ESRCH)
            return -1;
    }
    return kill(p->pid, signo);
}

/* File actions making fd 0-2 what the caller asked for. */
static int proc_actions(posix_spawn_file_actions_t *fa, const struct proc_stdio *stdio,
                        const char *cwd)
{
    int err = 0;
    for (int i = 0; i < 3 && !err; i++) {
        if (stdio->fd[i] == -2)
            err = posix_spawn_file_actions_addopen(fa, i, "/dev/null", i ? O_WRONLY : O_RDONLY, 0);
        else if (stdio->fd[i] == -3) /* 2>&1, after fd 1 is set */
            err = posix_spawn_file_actions_adddup2(fa, 1, i);
        else if (stdio->fd[i] >= 0)
            err = posix_spawn_file_actions_adddup2(fa, stdio->fd[i], i);
    }
    if (!err && cwd)
        err = posix_spawn_file_actions_addchdir_np(fa, cwd);
    if (!err) /* nothing but 0-2: not even descriptors inherited without close-on-exec */
        err = posix_spawn_file_actions_addclosefrom_np(fa, 3);
    return err;
}

/* Makes the exit fd readable once the child has exited (fallback mode). */
static void proc_check_exit(struct proc *p)
{
    if (p->exit_seen || !proc_exited(p))
        return;
    p->exit_seen = true;
    eventfd_write(p->pidfd, 1);
}

void proc_sigchld(struct rt *rt)
{
    for (struct resource *r = rt->resources; r; r = r->next)
        if (r->shutdown == proc_shutdown && ((struct proc *)r)->fallback)
            proc_check_exit((struct proc *)r);
}

/* Whether children are watched through pidfds (else the SIGCHLD fallback). */
static bool proc_pidfds(struct rt *rt)
{
    if (rt->pidfd_mode == 0) {
        const char *no = getenv("ASYNCRUN_NO_PIDFD");
        rt->pidfd_mode = no && *no && strcmp(no, "0") != 0 ? -1 : 1;
    }
    return rt->pidfd_mode > 0;
}

/* The exit fd: the pidfd clone3 gave, one from pidfd_open, or the fallback's eventfd (for
 * good once pidfd_open failed). */
static int proc_exit_fd(struct rt *rt, struct proc *p, int pidfd)
{
    if (pidfd >= 0) {
        p->pidfd = pidfd;
        return 0;
    }
    if (proc_pidfds(rt)) {
        p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
        if (p->pidfd >= 0) {
            fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
            return 0;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
            return -errno; /* a shortage, not a kernel or sandbox without pidfds */
        rt->pidfd_mode = -1;
    }
    int err = signal_watch_children();
    if (err)
        return err;
    p->pidfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->pidfd < 0)
        return -errno;
    p->fallback = true;
    proc_check_exit(p); /* it may have exited before SIGCHLD was caught */
    return 0;
}

/* The way that waits for the exec: 0 or -errno, an exec failure included. */
static int proc_posix_spawn(struct rt *rt, struct proc *p, char *const argv[],
                            char *const envp[], const char *cwd, const struct proc_stdio *stdio)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, defaults;
    int err;
    sigemptyset(&none);
    sigemptyset(&defaults);
    if (!rt->pipe_ignored_at_start)
        sigaddset(&defaults, SIGPIPE); /* ignored by asyncrun itself, not by its children */
    if ((err = posix_spawn_file_actions_init(&fa)) != 0)
        return -err;
    if ((err = posix_spawnattr_init(&attr)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -err;
    }
    err = proc_actions(&fa, stdio, cwd);
    if (!err)
        err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
                                                  | (stdio->group ? POSIX_SPAWN_SETPGROUP : 0));
    if (!err)
        err = posix_spawnattr_setpgroup(&attr, 0); /* 0: the child's own pid */
    if (!err)
        err = posix_spawnattr_setsigmask(&attr, &none);
    if (!err)
        err = posix_spawnattr_setsigdefault(&attr, &defaults);
    if (!err)
        err = posix_spawnp(&p->pid, argv[0], &fa, &attr, argv, envp ? envp : environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return -err;
}

int proc_spawn(struct rt *rt, struct proc *p, char *const argv[], char *const envp[],
               const char *cwd, const struct proc_stdio *stdio)
{
    int err = 0, pidfd = -1;
    memset(p, 0, sizeof *p);
    p->pidfd = -1;
    trace_before_output(rt);
    stream_drain_std(rt, true); /* a child sharing fd 1 or 2 writes after what the script wrote */
    if (rt->spawn_mode == 0)
        rt->spawn_mode = spawn_available() ? 1 : -1;
    if (rt->spawn_mode > 0) {
        struct spawn_req req = {
            .argv = argv, .envp = envp, .cwd = cwd, .fd = stdio->fd, .group = stdio->group,
            .default_pipe = !rt->pipe_ignored_at_start, .want_pidfd = proc_pidfds(rt),
        };
        err = spawn_begin(&req, &p->pid, &pidfd, &p->start);
        if (err == -ENOSYS || err == -EPERM || err == -EINVAL)
            rt->spawn_mode = -1; /* no clone3 here (valgrind, seccomp, Linux < 5.3) */
    }
    if (rt->spawn_mode < 0)
        err = proc_posix_spawn(rt, p, argv, envp, cwd, stdio);
    if (err)
        return err;
    p->group = stdio->group;
    if ((err = proc_exit_fd(rt, p, pidfd)) != 0) {
        proc_signal(p, SIGKILL);
        waitpid(p->pid, NULL, 0);
        if (p->start)
            spawn_free(p->start);
        return err;
    }
    iosrc_init(&p->exit, p->pidfd, EV_READ, "process", (int)p->pid);
    if (p->start)
        iosrc_init(&p->started, spawn_fd(p->start), EV_READ, "process", (int)p->pid);
    p->res.kind = "process";
    p->res.shutdown = proc_shutdown;
    p->res.describe = proc_describe;
    resource_add(rt, &p->res);
    return 0;
}

/* The exec is over (or the child reaped): its pipe and spawn block go. */
static void proc_start_over(struct rt *rt, struct proc *p)
{
    if (!p->start)
        return;
    iosrc_release(rt, &p->started);
    spawn_free(p->start);
    p->start = NULL;
}

/* Done with the child: its exit fd and its resource go. */
static void proc_release(struct rt *rt, struct proc *p)
{
    p->reaped = true;
    proc_start_over(rt, p);
    iosrc_release(rt, &p->exit);
    close(p->pidfd);
    p->pidfd = -1;
    resource_remove(rt, &p->res);
}

int proc_started(struct rt *rt, struct proc *p, bool block)
{
    if (!p->start)
        return 0;
    int r = spawn_end(p->start, block);
    if (r > 0)
        return 1;
    proc_start_over(rt, p);
    if (r < 0) { /* the child has exited 127 or is about to */
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        proc_release(rt, p);
    }
    return r;
}

bool proc_reap(struct rt *rt, struct proc *p)
{
    int status;
    if (p->reaped)
        return true;
    pid_t r;
    do
        r = waitpid(p->pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    if (r < 0) { /* somebody else reaped it (a SIGCHLD handler of a C module): unknown */
        p->code = -1;
    } else if (WIFSIGNALED(status)) {
        p->signo = WTERMSIG(status);
    } else {
        p->code = WEXITSTATUS(status);
    }
    proc_release(rt, p);
    return true;
}

int proc_kill(struct proc *p, int signo)
{
    if (p->reaped)
        return -ESRCH;
    return proc_signal(p, signo) == 0 ? 0 : -errno;
}

void proc_close(struct rt *rt, struct proc *p)
{
    if (p->reaped || p->pid == 0)
        return;
    proc_signal(p, SIGKILL);
    while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    p->signo = SIGKILL;
    proc_release(rt, p); /* the child has left our memory: its spawn block is free */
}
