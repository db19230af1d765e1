/* The scheduler. Tasks that were ready when a batch began run in FIFO order (in a seeded
 * order under --seed, see seed.c); tasks woken
 * during the batch run in the next one, so none can starve the others. The loop is polled
 * without blocking about once a millisecond while tasks are ready, and blocks in epoll only
 * when none is: a switch between tasks costs a resume, not a system call. */
#include <stddef.h>
#include <lauxlib.h>

#include "sched.h"
#include "task.h"
#include "timer.h"
#include "io.h"
#include "signal.h"
#include "resolve.h"
#include "http.h"
#include "trace.h"
#include "stats.h"
#include "debug.h"
#include "clock.h"
#include "seed.h"
#include "stream.h"


void sched_ready(struct rt *rt, struct task *t, enum wake_reason why)
{
    t->wait = WAIT_READY;
    t->wake = why;
    t->ready_next = NULL;
    if (rt->ready.tail)
        rt->ready.tail->ready_next = t;
    else
        rt->ready.head = t;
    rt->ready.tail = t;
}

/* [-0, +0, m] a thread for a task's first step: an idle one from the pool, or a new one */
static lua_State *sched_thread(struct rt *rt, struct task *t)
{
    lua_State *L = rt->L, *co;
    struct task_run *r = task_run_new(L, t);
    task_push(L, t);
    if (rt->pool_n > 0) {
        co = rt->pool_idle[--rt->pool_n];
        lua_pushthread(co);
        lua_xmove(co, L, 1);
        t->pooled = true;
    } else {
        co = lua_newthread(L);
        if (rt->pool_members < POOL_MAX) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, rt->pool_ref);
            lua_pushvalue(L, -2);
            lua_rawseti(L, -2, ++rt->pool_members);
            lua_pop(L, 1);
            t->pooled = true;
        }
    }
    *(void **)lua_getextraspace(co) = t;
    r->co = co;
    /* stack: task, thread */
    lua_getiuservalue(L, -2, UV_FN);
    lua_xmove(L, co, 1);
    lua_setiuservalue(L, -2, UV_FN); /* anchor: the thread lives as long as the task runs */
    if (t->nargs > 0) {
        lua_getiuservalue(L, -1, UV_DATA);
        lua_checkstack(co, t->nargs);
        if (t->nargs == 1) { /* stored as it is, see task_new */
            lua_xmove(L, co, 1);
        } else {
            for (int i = 1; i <= t->nargs; i++) {
                lua_rawgeti(L, -1, i);
                lua_xmove(L, co, 1);
            }
            lua_pop(L, 1);
        }
        /* UV_DATA keeps the arguments until the task's results or error replace them */
    }
    lua_pop(L, 1);
    return co;
}

static void sched_sleep_done(struct rt *rt, struct timer *tm)
{
    struct task_run *r = (struct task_run *)((char *)tm - offsetof(struct task_run, on.sleep.tm));
    struct task *t = r->w.task;
    sched_ready(rt, t, WAKE_OK);
}

/* Records what the task now waits on, as its binding requested before yielding: nothing is
 * linked before the yield succeeded, so a failed forwarding leaves no trace. */
static void sched_arm(struct rt *rt, struct task *t)
{
    switch (t->wait) {
    case WAIT_SLEEP:
        t->run->on.sleep.tm.fire = sched_sleep_done;
        if (timer_add(rt, &t->run->on.sleep.tm) != 0)
            sched_ready(rt, t, WAKE_NOMEM);
        return;
    case WAIT_TASK:
        waitq_push(&t->run->on.awaited->awaiters, &t->run->w);
        return;
    case WAIT_TASKS:
        for (int i = 0; i < t->run->on.tasks.n; i++)
            waitq_push(&t->run->on.tasks.targets[i]->awaiters, &t->run->on.tasks.nodes[i]);
        return;
    case WAIT_PARK:
        waitq_push(t->run->on.park.q, &t->run->w);
        return;
    case WAIT_IO:
        iosrc_wait(rt, t);
        return;
    case WAIT_SIGNAL:
        signal_wait(rt, t);
        return;
    case WAIT_RESOLVE:
        if (resolve_submit(rt, t->run->on.resolve) != 0)
            sched_ready(rt, t, WAKE_NOMEM);
        return;
    case WAIT_HTTP:
        if (http_submit(rt, t->run->on.http) != 0)
            sched_ready(rt, t, WAKE_NOMEM);
        return;
    case WAIT_READY:
        if (rt->seed)
            t->yielded = true; /* it must not overtake the tasks ready before it */
        sched_ready(rt, t, WAKE_OK);
        return;
    default:
        return;
    }
}

/* Diagnostics around a step, only when something asked for timing. */
static double sched_step_begin(struct rt *rt, struct task *t)
{
    double now = clock_now();
    if (rt_tracing(rt)) {
        trace_resume(rt, t, now);
        now = clock_now(); /* the step's time leaves the event's writing out */
    }
    if (rt->debug)
        debug_step_begin(rt, t);
    return now;
}

static void sched_step_end(struct rt *rt, struct task *t, bool suspended, double now)
{
    if (rt_tracing(rt) && suspended)
        trace_suspend(rt, t, now);
    if (rt->stats)
        stats_step(rt, t, suspended);
    if (rt->debug)
        debug_step_end(rt, t, suspended);
}

/* The one place a task's thread is resumed. */
static void sched_step(struct rt *rt, struct task *t)
{
    lua_State *co;
    int nargs = 0, nres, status;
    double started = 0, ended = 0;
    if (!t->started) {
        if (t->cancel_requested) {
            task_finish_unstarted(rt, t);
            return;
        }
        co = sched_thread(rt, t);
        t->started = true;
        nargs = t->nargs;
    } else {
        co = t->run->co;
    }
    t->wait = WAIT_NONE;
    t->state = TASK_RUNNING;
    rt->current = t;
    rt->running_L = co;
    if (rt_timing(rt))
        started = sched_step_begin(rt, t);
    status = lua_resume(co, rt->L, nargs, &nres);
    rt->current = NULL;
    rt->running_L = NULL;
    t->handed = false; /* its continuation has seen it */
    if (rt_timing(rt)) {
        ended = clock_now();
        struct task_timing *tt = task_timing(t);
        tt->step_ran = ended - started;
        tt->run_time += tt->step_ran;
    }
    if (status == LUA_YIELD) {
        t->state = TASK_PENDING;
        if (!sched_take_suspension(rt, nres)) {
            /* a C module yielded the task's own thread: there is nobody to yield to */
            lua_settop(co, 0);
            lua_pushliteral(co, "attempt to yield from outside a coroutine");
            task_finish(rt, t, LUA_ERRRUN, 1);
            return;
        }
        if (rt_timing(rt))
            sched_step_end(rt, t, true, ended);
        sched_arm(rt, t);
    } else {
        if (rt_timing(rt))
            sched_step_end(rt, t, false, ended);
        task_finish(rt, t, status, nres);
    }
}

static void sched_batch(struct rt *rt)
{
    if (rt->seed)
        seed_order(rt);
    struct task *t = rt->ready.head;
    rt->ready.head = rt->ready.tail = NULL;
    while (t) {
        struct task *next = t->ready_next;
        sched_step(rt, t);
        t = next;
    }
}

bool sched_run(struct rt *rt, bool (*stop)(const struct rt *))
{
    while (!stop(rt)) {
        rt->iterations++;
        if (ferror_unlocked(stdout) || ferror_unlocked(stderr))
            rt_check_output(rt);
        if (rt->ready.head) {
            sched_batch(rt);
            /* poll about once a millisecond while tasks stay ready; reading the clock
             * every 16th batch keeps its cost off the switch path */
            if (rt->ready.head && (rt->iterations & 15) == 0) {
                double now = clock_now();
                if (now - rt->last_poll >= 1e-3) {
                    rt->last_poll = now;
                    stream_flush_pending(rt); /* busy tasks hold nobody's output either */
                    ev_run(rt->loop, EVRUN_NOWAIT);
                }
            }
        } else if (rt->fake_now > 0 && rt->io_waits == 0 && timer_jump(rt)) {
            /* every task waits on time alone: jump there; still collect signals */
            ev_run(rt->loop, EVRUN_NOWAIT);
        } else {
            if (rt_tracing(rt))
                trace_flush(rt);
            stream_flush_pending(rt); /* nothing written is held while the loop sleeps */
            bool alive = ev_run(rt->loop, EVRUN_ONCE);
            rt->last_poll = clock_now();
            if (!alive && !rt->ready.head && !stop(rt))
                return false;
        }
    }
    return true;
}

void sched_internal_timer(struct rt *rt, ev_timer *w, double after)
{
    if (ev_is_active(w)) {
        ev_ref(rt->loop);
        ev_timer_stop(rt->loop, w);
    }
    ev_timer_set(w, after, 0);
    ev_timer_start(rt->loop, w);
    ev_unref(rt->loop);
}

void sched_close(struct rt *rt)
{
    luaL_unref(rt->L, LUA_REGISTRYINDEX, rt->pool_ref);
    rt->pool_ref = LUA_NOREF;
    rt->pool_n = rt->pool_members = 0;
}
