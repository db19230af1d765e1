/* The signals asyncrun handles itself. SIGINT and SIGTERM cancel the main task; SIGQUIT and
 * SIGUSR1 print the task dump and the run goes on. The handler only counts and wakes the
 * loop through an ev_async; the loop thread does the rest. A second SIGINT must work while
 * a task hogs the loop, so it is handled in the handler itself: default disposition,
 * re-raise, and the process dies by SIGINT as a shell expects. A signal ignored when
 * asyncrun started stays ignored. */
#include <signal.h>
#include <string.h>

#include "signal.h"
#include "task.h"
#include "trace.h"
#include "dump.h"

enum { SIG_INT, SIG_TERM, SIG_QUIT, SIG_USR1, SIG_COUNT };

static const int signal_numbers[SIG_COUNT] = {SIGINT, SIGTERM, SIGQUIT, SIGUSR1};

/* Signal handlers cannot take arguments: the rt is reached through signal_rt, written
 * before the handlers are installed; the counters are the handlers' only writes. */
static struct rt *signal_rt;
static volatile sig_atomic_t signal_count[SIG_COUNT];
static sig_atomic_t signal_seen[SIG_COUNT]; /* loop thread only */
static struct sigaction signal_saved[SIG_COUNT];
static bool signal_caught[SIG_COUNT];

static void signal_handler(int signo)
{
    for (int i = 0; i < SIG_COUNT; i++) {
        if (signal_numbers[i] != signo)
            continue;
        if (i == SIG_INT && signal_count[i] > 0) {
            signal(SIGINT, SIG_DFL);
            raise(SIGINT);
            return;
        }
        signal_count[i]++;
    }
    ev_async_send(signal_rt->loop, &signal_rt->signal_watch);
}

static void signal_cancel_main(struct rt *rt, int status, const char *by)
{
    if (rt->signal_status == 0)
        rt->signal_status = status;
    if (rt->main && !task_finished(rt->main))
        task_cancel(rt, rt->main, by, 0);
}

/* true when signal i arrived since the last look */
static bool signal_arrived_now(int i)
{
    sig_atomic_t n = signal_count[i];
    bool arrived = n != signal_seen[i];
    signal_seen[i] = n;
    return arrived;
}

static void signal_arrived(struct ev_loop *loop, ev_async *w, int revents)
{
    struct rt *rt = ev_userdata(loop);
    (void)w;
    (void)revents;
    if (signal_arrived_now(SIG_INT))
        signal_cancel_main(rt, 130, "signal:INT");
    if (signal_arrived_now(SIG_TERM))
        signal_cancel_main(rt, 143, "signal:TERM");
    if (signal_arrived_now(SIG_QUIT) | signal_arrived_now(SIG_USR1)) {
        trace_flush(rt);
        fflush(stdout);
        fputs("asyncrun: task dump (the run goes on)\n", stderr);
        dump_tasks(rt, stderr);
    }
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
    ev_async_init(&rt->signal_watch, signal_arrived);
    ev_async_start(rt->loop, &rt->signal_watch);
    ev_unref(rt->loop); /* an internal watcher: it must not hide a deadlock */
    for (int i = 0; i < SIG_COUNT; i++) {
        signal_count[i] = signal_seen[i] = 0;
        signal_caught[i] = signal_catch(signal_numbers[i], &signal_saved[i]);
    }
}

void signal_restore(struct rt *rt)
{
    for (int i = 0; i < SIG_COUNT; i++) {
        if (signal_caught[i])
            sigaction(signal_numbers[i], &signal_saved[i], NULL);
        signal_caught[i] = false;
    }
    ev_ref(rt->loop);
    ev_async_stop(rt->loop, &rt->signal_watch);
}
