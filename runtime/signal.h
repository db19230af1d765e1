/* Signals: SIGINT/SIGTERM/SIGHUP cancel the main task (a second SIGINT exits at once) unless a
 * listener wants them; SIGQUIT/SIGUSR1 print the task dump; async.signal listeners count
 * deliveries of any catchable signal. */
#ifndef ASYNCRUN_SIGNAL_H
#define ASYNCRUN_SIGNAL_H

#include "core.h"

struct siglistener {
    struct resource res;
    struct siglistener *next; /* the other listeners of the same signal */
    int signo;
    unsigned pending;         /* deliveries nobody has consumed yet */
    bool closed;
    struct waitq waiters;
};

void signal_install(struct rt *rt);
void signal_restore(struct rt *rt);

/* Whether a signal that ends the run (INT, TERM, HUP, without a listener) has arrived and
 * the loop has not handled it yet: for waits that block the loop. */
bool signal_ending(void);

/* Starts listening; -errno if the signal cannot be caught. */
int signal_listen(struct rt *rt, struct siglistener *l, int signo);
/* Consumes one pending delivery: true if there was one. */
bool signal_take(struct siglistener *l);
/* A task suspends on / leaves the listener (the loop stays alive while tasks wait). */
void signal_wait(struct rt *rt, struct task *t);
void signal_unwait(struct rt *rt, struct task *t);
/* Catches SIGCHLD for good (the process fallback: proc_sigchld on each delivery). */
int signal_watch_children(void);
/* Stops listening; its waiters wake and find it closed. Idempotent. */
void signal_unlisten(struct rt *rt, struct siglistener *l);

#endif
