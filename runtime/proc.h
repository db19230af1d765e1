/* Child processes: started by spawn.c without waiting for the exec (posix_spawn where that
 * cannot be done), with pipes, each child leading a process group of its own, a
 * pidfd per child to wait on without reaping anybody else's children (io.popen and
 * os.execute keep working), kill of the whole group at shutdown. Where pidfd_open fails (or
 * ASYNCRUN_NO_PIDFD=1), an eventfd per child stands in for it, made readable by the
 * SIGCHLD handling once waitid sees that child exited. */
#ifndef ASYNCRUN_PROC_H
#define ASYNCRUN_PROC_H

#include <sys/types.h>

#include "core.h"

struct spawn;

struct proc {
    struct resource res;
    pid_t pid;
    int pidfd;                /* the pidfd, or in the fallback the eventfd */
    bool reaped;
    bool group;               /* leads its own process group: kills go to -pid */
    bool fallback;            /* pidfd is an eventfd, written once the exit is seen */
    bool exit_seen;
    int code, signo;          /* after reaping: exit code, or the signal that ended it */
    struct iosrc exit;        /* the pidfd: readable once the child has exited */
    struct spawn *start;      /* owned while the child's exec is under way (spawn.h) */
    struct iosrc started;     /* readable once that exec is over */
};

/* What the child's fd 0-2 become: inherited, /dev/null, or the given pipe end. */
struct proc_stdio {
    int fd[3];                /* -1: inherit; -2: /dev/null; -3: fd 1 (2>&1); else one to dup2 */
    bool group;               /* a process group of its own (dropped for a terminal reader) */
};

/* Starts argv[0] (PATH lookup) with envp (NULL: ours) in cwd (NULL: ours): 0 or -errno.
 * The strings must live until proc_started is not 1. */
int proc_spawn(struct rt *rt, struct proc *p, char *const argv[], char *const envp[],
               const char *cwd, const struct proc_stdio *stdio);
/* Whether the exec is over: 1 while under way (wait on p->started; block: waits), 0 once
 * the program runs, or -errno of an exec failure, the child reaped (not a child exiting 127). */
int proc_started(struct rt *rt, struct proc *p, bool block);
/* Collects the exit status if the child has exited; true once reaped. */
bool proc_reap(struct rt *rt, struct proc *p);
/* Sends signo to the child's group (or the child alone without one) unless the child was
 * reaped (its pid may belong to another process now). */
int proc_kill(struct proc *p, int signo);
/* SIGKILL to the group if still running (or starting), reap, close the pidfd. */
void proc_close(struct rt *rt, struct proc *p);
/* The fallback's SIGCHLD: marks readable the exit fd of each of our children that exited. */
void proc_sigchld(struct rt *rt);

#endif
