/* The watchdog is a thread that polls the step counter every 100 ms. A step still running
 * after 1 s gets the loop thread signalled (SIGURG, private to asyncrun); the handler, like
 * lua.c's for Ctrl-C, only sets a count hook on the Lua thread running now, and the hook
 * prints the line being executed from inside the loop thread. A count hook cannot fire
 * while the step is stuck inside a C function: the watchdog says so if the hook stays
 * silent. Nothing here touches Lua from the watchdog thread. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "debug.h"
#include "task.h"
#include "where.h"
#include "dump.h"
#include "escape.h"
#include "clock.h"

#define DEBUG_SIGNAL SIGURG
#define DEBUG_BLOCKED_AFTER 1.0

struct debug {
    pthread_t watchdog, loop_thread;
    atomic_bool stop;
    atomic_uint_fast64_t step;      /* incremented when a step begins and when it ends */
    _Atomic double step_began;
    atomic_bool hook_fired;
    struct sigaction saved;
    char end_at[256];               /* where the step now running returned from its task */
};

/* The signal handler reaches the rt through this: it is set before the handler is
 * installed and cleared after it is removed. */
static struct rt *debug_rt;

/* A return from the outermost Lua function of a task's thread (below it, C functions at
 * most, like the main task's runner) ends its last step: remember the line, the stack is
 * gone by the time the scheduler sees the step end. */
static void debug_hook_return(struct rt *rt, lua_State *L)
{
    lua_Debug caller;
    struct task *t = rt->current;
    if (!t || t->run->co != L)
        return;
    for (int level = 1; lua_getstack(L, level, &caller); level++)
        if (lua_getinfo(L, "l", &caller) && caller.currentline > 0)
            return;
    char at[sizeof rt->debug->end_at];
    if (strcmp(where_at(L, 0, at, sizeof at), "?") != 0) /* not the C function around it */
        memcpy(rt->debug->end_at, at, sizeof at);
}

static void debug_hook(lua_State *L, lua_Debug *ar)
{
    struct rt *rt = rt_of(L);
    struct task *t = rt->current;
    char name[32], at[256];
    if (!rt->debug)
        return; /* a thread that outlived --debug's close still has the hook */
    if (ar->event != LUA_HOOKCOUNT) {
        debug_hook_return(rt, L);
        return;
    }
    lua_sethook(L, debug_hook, LUA_MASKRET, 0);
    atomic_store(&rt->debug->hook_fired, true);
    esc_report(stderr, "asyncrun: blocked: task %" PRId64 " (%s) has run %.1f s without suspending, now at %s\n",
            t ? (int64_t)t->id : 0, t ? task_name(t, name, sizeof name) : "?",
            clock_now() - atomic_load(&rt->debug->step_began), where_at(L, 0, at, sizeof at));
}

static void debug_signal(int signo)
{
    (void)signo;
    if (debug_rt && debug_rt->running_L)
        lua_sethook(debug_rt->running_L, debug_hook, LUA_MASKCOUNT | LUA_MASKRET, 1);
}

static void *debug_watch(void *arg)
{
    struct debug *d = arg;
    uint_fast64_t reported = 0;
    const struct timespec tick = {0, 100 * 1000 * 1000};
    while (!atomic_load(&d->stop)) {
        nanosleep(&tick, NULL);
        uint_fast64_t step = atomic_load(&d->step);
        if (!(step & 1) || step == reported)
            continue; /* no step running, or this one was reported */
        if (clock_now() - atomic_load(&d->step_began) < DEBUG_BLOCKED_AFTER)
            continue;
        reported = step;
        atomic_store(&d->hook_fired, false);
        pthread_kill(d->loop_thread, DEBUG_SIGNAL);
        nanosleep(&tick, NULL);
        nanosleep(&tick, NULL);
        if (!atomic_load(&d->hook_fired) && atomic_load(&d->step) == step) {
            static const char msg[] = "asyncrun: blocked: a step has run over 1 s without "
                                      "suspending, inside a C function (no Lua line to show)\n";
            ssize_t n = write(2, msg, sizeof msg - 1);
            (void)n;
        }
    }
    return NULL;
}

int debug_open(struct rt *rt)
{
    struct sigaction sa;
    struct debug *d;
    int err;
    if (!rt->opt->debug)
        return 0;
    d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->loop_thread = pthread_self();
    rt->debug = d;
    debug_rt = rt;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = debug_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(DEBUG_SIGNAL, &sa, &d->saved);
    /* threads inherit the hook from the main thread they are created from */
    lua_sethook(rt->L, debug_hook, LUA_MASKRET, 0);
    err = pthread_create(&d->watchdog, NULL, debug_watch, d);
    if (err) {
        sigaction(DEBUG_SIGNAL, &d->saved, NULL);
        lua_sethook(rt->L, NULL, 0, 0);
        debug_rt = NULL;
        free(d);
        rt->debug = NULL;
        return -err;
    }
    return 0;
}

void debug_close(struct rt *rt)
{
    struct debug *d = rt->debug;
    if (!d)
        return;
    atomic_store(&d->stop, true);
    pthread_join(d->watchdog, NULL);
    sigaction(DEBUG_SIGNAL, &d->saved, NULL);
    lua_sethook(rt->L, NULL, 0, 0);
    debug_rt = NULL;
    free(d);
    rt->debug = NULL;
}

void debug_step_begin(struct rt *rt, struct task *t)
{
    (void)t;
    rt->debug->end_at[0] = '\0';
    atomic_store(&rt->debug->step_began, clock_now());
    atomic_fetch_add(&rt->debug->step, 1);
}

void debug_step_end(struct rt *rt, struct task *t, bool suspended)
{
    char name[32], at[256];
    const char *place;
    atomic_fetch_add(&rt->debug->step, 1);
    double ran = task_timing(t)->step_ran;
    if (ran < rt->opt->slow)
        return;
    if (suspended)
        place = dump_where(rt->L, t, at, sizeof at);
    else
        place = rt->debug->end_at[0] ? rt->debug->end_at : "its end"; /* a C body: no line */
    fflush(stdout);
    esc_report(stderr, "asyncrun: slow step: task %" PRId64 " (%s) ran %.1f ms at %s\n",
            (int64_t)t->id, task_name(t, name, sizeof name), ran * 1000, place);
}

/* Warns once per task that something caught its cancellation; then says what followed. */
static void debug_warn_swallowed(struct task *t, const char *then, const char *at)
{
    char name[32];
    if (t->swallow_warned)
        return;
    t->swallow_warned = true;
    fflush(stdout);
    esc_report(stderr,
            "asyncrun: warning: task %" PRId64 " (%s) caught its cancellation and went on; %s%s\n",
            (int64_t)t->id, task_name(t, name, sizeof name), then, at);
}

void debug_cancel_raised(struct rt *rt, struct task *t, lua_State *L)
{
    char at[256];
    (void)rt;
    if (!t->cancel_raised) {
        t->cancel_raised = true;
        return;
    }
    if (!t->swallow_warned)
        debug_warn_swallowed(t, "it is raised again at ", where_at(L, 1, at, sizeof at));
}

void debug_cancel_swallowed(struct rt *rt, struct task *t)
{
    (void)rt;
    debug_warn_swallowed(t, "it finished normally", "");
}
