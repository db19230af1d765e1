/* SIGINT and SIGTERM. The handler only counts and wakes the loop through an ev_async; the
 * loop thread then cancels the main task. A second SIGINT must work while a task hogs the
 * loop, so it is handled in the handler itself: default disposition, re-raise, and the
 * process dies by SIGINT as a shell expects. A signal ignored at start stays ignored. */
#include <signal.h>
#include <string.h>

#include "signal.h"
#include "task.h"
#include "trace.h"

/* Signal handlers cannot take arguments: these are the only process-wide variables, written
 * before the handlers are installed and read-only afterwards (the counters excepted). */
static struct rt *signal_rt;
static volatile sig_atomic_t signal_int_count, signal_term_count;
static struct sigaction signal_saved_int, signal_saved_term;
static bool signal_have_int, signal_have_term;

static void signal_handler(int signo)
{
    if (signo == SIGINT) {
        if (signal_int_count++ > 0) {
            signal(SIGINT, SIG_DFL);
            raise(SIGINT);
            return;
        }
    } else {
        signal_term_count++;
    }
    ev_async_send(signal_rt->loop, &signal_rt->signal_watch);
}

static void signal_deliver(struct rt *rt, int status, const char *by)
{
    if (rt->signal_status == 0)
        rt->signal_status = status;
    if (rt->main && !task_finished(rt->main))
        task_cancel(rt, rt->main, by, 0);
}

static void signal_arrived(struct ev_loop *loop, ev_async *w, int revents)
{
    struct rt *rt = ev_userdata(loop);
    (void)w;
    (void)revents;
    if (signal_int_count > 0)
        signal_deliver(rt, 130, "signal:INT");
    if (signal_term_count > 0)
        signal_deliver(rt, 143, "signal:TERM");
}

/* Installs the handler unless the signal was ignored when asyncrun started. */
static bool signal_catch(int signo, struct sigaction *saved)
{
    struct sigaction sa;
    if (sigaction(signo, NULL, saved) != 0 || saved->sa_handler == SIG_IGN)
        return false;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = signal_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(signo, &sa, NULL) == 0;
}

void signal_install(struct rt *rt)
{
    signal_rt = rt;
    signal_int_count = signal_term_count = 0;
    ev_async_init(&rt->signal_watch, signal_arrived);
    ev_async_start(rt->loop, &rt->signal_watch);
    ev_unref(rt->loop); /* an internal watcher: it must not hide a deadlock */
    signal_have_int = signal_catch(SIGINT, &signal_saved_int);
    signal_have_term = signal_catch(SIGTERM, &signal_saved_term);
}

void signal_restore(struct rt *rt)
{
    if (signal_have_int)
        sigaction(SIGINT, &signal_saved_int, NULL);
    if (signal_have_term)
        sigaction(SIGTERM, &signal_saved_term, NULL);
    signal_have_int = signal_have_term = false;
    ev_ref(rt->loop);
    ev_async_stop(rt->loop, &rt->signal_watch);
}
