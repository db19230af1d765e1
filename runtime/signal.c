/* The signals asyncrun handles itself. SIGINT, SIGTERM and SIGHUP cancel the main task, and
 * shutdown then kills the children's process groups: a closed terminal hangs up only its
 * foreground group, never the children that lead groups of their own. SIGQUIT and SIGUSR1
 * print the task dump and the run goes on; any catchable signal can have listeners
 * (async.signal), and a listener for INT, TERM or HUP replaces the cancellation. The handler
 * only counts and wakes the loop through an ev_async; the loop thread does the rest. A second
 * SIGINT must work while a task hogs the loop, so it is handled in the handler itself:
 * default disposition, re-raise, and the process dies by SIGINT as a shell expects. A
 * signal ignored when asyncrun started stays ignored unless a listener asks for it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "signal.h"
#include "task.h"
#include "trace.h"
#include "dump.h"
#include "resource.h"
#include "sched.h"
#include "signame.h"
#include "proc.h"

#define SIGNAL_MAX 65

/* Signal handlers cannot take arguments: the rt is reached through signal_rt, written
 * before any handler is installed; the counters and flags below are the handlers'. */
static struct rt *signal_rt;
static volatile sig_atomic_t signal_count[SIGNAL_MAX];
static volatile sig_atomic_t signal_listened[SIGNAL_MAX];
static volatile sig_atomic_t signal_int_acted; /* a SIGINT has cancelled the main task */
static sig_atomic_t signal_seen[SIGNAL_MAX]; /* loop thread only */
static struct sigaction signal_saved[SIGNAL_MAX];
static bool signal_caught[SIGNAL_MAX];
static struct siglistener *signal_listeners[SIGNAL_MAX];

static const int signal_own_set[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1};

/* true for the signals asyncrun handles even without listeners */
static bool signal_own(int signo)
{
    for (size_t i = 0; i < sizeof signal_own_set / sizeof signal_own_set[0]; i++)
        if (signal_own_set[i] == signo)
            return true;
    return signo == SIGCHLD && signal_rt->pidfd_mode < 0; /* the process fallback's */
}

static void signal_handler(int signo)
{
    if (signo <= 0 || signo >= SIGNAL_MAX)
        return;
    if (signo == SIGINT && !signal_listened[signo]
        && (signal_int_acted || signal_count[signo] != signal_seen[signo])) {
        signal(SIGINT, SIG_DFL); /* the second Ctrl-C: leave now, even from a busy step */
        term_restore(&signal_rt->term);
        raise(SIGINT);
        return;
    }
    signal_count[signo]++;
    ev_async_send(signal_rt->loop, &signal_rt->signal_watch);
}

bool signal_ending(void)
{
    static const int ending[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof ending / sizeof ending[0]; i++)
        if (signal_count[ending[i]] != signal_seen[ending[i]] && !signal_listeners[ending[i]])
            return true;
    return false;
}

static void signal_cancel_main(struct rt *rt, int status, const char *by)
{
    if (rt->signal_status == 0)
        rt->signal_status = status;
    rt_bound_drains(rt); /* output held for a reader that does not read is given up */
    if (rt->main && !task_finished(rt->main))
        task_cancel(rt, rt->main, by, 0);
}

/* Hands pending deliveries to the listener's waiting tasks, one each. */
static void signal_serve(struct rt *rt, struct siglistener *l)
{
    struct waiter *w;
    while (l->pending > 0 && (w = l->waiters.head)) {
        l->pending--;
        signal_unwait(rt, w->task);
        task_hand_off(rt, w->task);
    }
}

static void signal_deliver(struct rt *rt, int signo, unsigned n)
{
    if (signo == SIGCHLD && rt->pidfd_mode < 0)
        proc_sigchld(rt);
    if (signal_listeners[signo]) {
        for (struct siglistener *l = signal_listeners[signo]; l; l = l->next) {
            l->pending += n;
            signal_serve(rt, l);
        }
    } else if (signo == SIGINT) {
        signal_int_acted = 1;
        signal_cancel_main(rt, 130, "signal:INT");
    } else if (signo == SIGTERM) {
        signal_cancel_main(rt, 143, "signal:TERM");
    } else if (signo == SIGHUP) {
        signal_cancel_main(rt, 129, "signal:HUP");
    } else if (signo == SIGQUIT || signo == SIGUSR1) {
        trace_flush(rt);
        fflush(stdout);
        fputs("asyncrun: task dump (the run goes on)\n", stderr);
        dump_tasks(rt, stderr);
    }
}

static void signal_arrived(struct ev_loop *loop, ev_async *w, int revents)
{
    struct rt *rt = ev_userdata(loop);
    (void)w;
    (void)revents;
    for (int signo = 1; signo < SIGNAL_MAX; signo++) {
        sig_atomic_t n = signal_count[signo];
        if (n == signal_seen[signo])
            continue;
        unsigned delta = (unsigned)(n - signal_seen[signo]);
        signal_seen[signo] = n;
        signal_deliver(rt, signo, delta);
    }
}

/* Installs the handler; unless forced, not for a signal ignored when asyncrun started. */
static bool signal_catch(int signo, bool force)
{
    struct sigaction sa;
    if (signal_caught[signo])
        return true;
    if (sigaction(signo, NULL, &signal_saved[signo]) != 0
        || (!force && signal_saved[signo].sa_handler == SIG_IGN))
        return false;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = signal_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    signal_caught[signo] = sigaction(signo, &sa, NULL) == 0;
    return signal_caught[signo];
}

void signal_install(struct rt *rt)
{
    signal_rt = rt;
    ev_async_init(&rt->signal_watch, signal_arrived);
    ev_async_start(rt->loop, &rt->signal_watch);
    ev_unref(rt->loop); /* an internal watcher: it must not hide a deadlock */
    for (int i = 0; i < SIGNAL_MAX; i++) {
        signal_count[i] = signal_seen[i] = signal_listened[i] = 0;
        signal_int_acted = 0;
        signal_caught[i] = false;
        signal_listeners[i] = NULL;
    }
    for (size_t i = 0; i < sizeof signal_own_set / sizeof signal_own_set[0]; i++)
        signal_catch(signal_own_set[i], false);
}

void signal_restore(struct rt *rt)
{
    for (int i = 1; i < SIGNAL_MAX; i++) {
        if (signal_caught[i])
            sigaction(i, &signal_saved[i], NULL);
        signal_caught[i] = false;
    }
    ev_ref(rt->loop);
    ev_async_stop(rt->loop, &rt->signal_watch);
}

int signal_watch_children(void)
{
    return signal_catch(SIGCHLD, true) ? 0 : -errno;
}

static void signal_shutdown(struct rt *rt, struct resource *r)
{
    signal_unlisten(rt, (struct siglistener *)r);
}

static void signal_describe(struct resource *r, char *buf, size_t size)
{
    const char *name = signame_name(((struct siglistener *)r)->signo);
    snprintf(buf, size, "listener for %s", name ? name : "?");
}

int signal_listen(struct rt *rt, struct siglistener *l, int signo)
{
    if (signo <= 0 || signo >= SIGNAL_MAX || signo == SIGKILL || signo == SIGSTOP)
        return -EINVAL;
    if (!signal_catch(signo, true))
        return -errno;
    memset(l, 0, sizeof *l);
    l->signo = signo;
    l->next = signal_listeners[signo];
    signal_listeners[signo] = l;
    signal_listened[signo] = 1;
    l->res.kind = "signal";
    l->res.shutdown = signal_shutdown;
    l->res.describe = signal_describe;
    resource_add(rt, &l->res);
    return 0;
}

bool signal_take(struct siglistener *l)
{
    if (l->pending == 0)
        return false;
    l->pending--;
    return true;
}

void signal_wait(struct rt *rt, struct task *t)
{
    waitq_push(&t->run->on.sig->waiters, &t->run->w);
    rt->io_waits++;
    ev_ref(rt->loop); /* a delivery may still come: not a deadlock */
}

void signal_unwait(struct rt *rt, struct task *t)
{
    waitq_remove(&t->run->w);
    rt->io_waits--;
    ev_unref(rt->loop);
}

void signal_unlisten(struct rt *rt, struct siglistener *l)
{
    struct waiter *w;
    if (l->closed)
        return;
    l->closed = true;
    while ((w = l->waiters.head)) {
        signal_unwait(rt, w->task);
        sched_ready(rt, w->task, WAKE_OK);
    }
    struct siglistener **p = &signal_listeners[l->signo];
    while (*p && *p != l)
        p = &(*p)->next;
    if (*p)
        *p = l->next;
    signal_listened[l->signo] = signal_listeners[l->signo] != NULL;
    if (!signal_listened[l->signo] && !signal_own(l->signo) && signal_caught[l->signo]) {
        sigaction(l->signo, &signal_saved[l->signo], NULL); /* as before anyone listened */
        signal_caught[l->signo] = false;
    }
    resource_remove(rt, &l->res);
}
