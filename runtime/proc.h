/* Child processes: posix_spawn with pipes, a pidfd per child to wait on without reaping
 * anybody else's children (io.popen and os.execute keep working), kill at shutdown. */
#ifndef ASYNCRUN_PROC_H
#define ASYNCRUN_PROC_H

#include <sys/types.h>

#include "core.h"

struct proc {
    struct resource res;
    pid_t pid;
    int pidfd;
    bool reaped;
    int code, signo;          /* after reaping: exit code, or the signal that ended it */
    struct iosrc exit;        /* the pidfd: readable once the child has exited */
};

/* What the child's fd 0-2 become: inherited, /dev/null, or the given pipe end. */
struct proc_stdio {
    int fd[3];                /* -1: inherit; -2: /dev/null; else a descriptor to dup2 */
};

/* Starts argv[0] (PATH lookup) with envp (NULL: ours) in cwd (NULL: ours).
 * 0 or -errno; an exec failure is reported here, not as a child exiting 127. */
int proc_spawn(struct rt *rt, struct proc *p, char *const argv[], char *const envp[],
               const char *cwd, const struct proc_stdio *stdio);
/* Collects the exit status if the child has exited; true once reaped. */
bool proc_reap(struct rt *rt, struct proc *p);
/* Sends signo unless the child was reaped (its pid may belong to another process now). */
int proc_kill(struct proc *p, int signo);
/* SIGKILL if still running, reap, close the pidfd. */
void proc_close(struct rt *rt, struct proc *p);

#endif
