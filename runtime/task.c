/* Tasks: a task is a userdata whose block is struct task; the runtime anchors it in the
 * registry (task.ref) from spawn until it finishes, so it runs to the end unreferenced. */
#include <inttypes.h>
#include <string.h>
#include <lauxlib.h>

#include "task.h"
#include "alloc.h"
#include "sched.h"
#include "timer.h"
#include "io.h"
#include "signal.h"
#include "resolve.h"
#include "http.h"
#include "trace.h"
#include "scope.h"
#include "stats.h"
#include "debug.h"
#include "fmt.h"
#include "escape.h"
#include "where.h"

void waitq_push(struct waitq *q, struct waiter *w)
{
    w->q = q;
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
}

void waitq_remove(struct waiter *w)
{
    struct waitq *q = w->q;
    if (!q)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->q = NULL;
    w->prev = w->next = NULL;
}

struct waiter *waitq_pop(struct waitq *q)
{
    struct waiter *w = q->head;
    if (w)
        waitq_remove(w);
    return w;
}

static void task_list_add(struct task_list *l, struct task *t)
{
    t->list_next = NULL;
    t->list_prev = l->tail;
    if (l->tail)
        l->tail->list_next = t;
    else
        l->head = t;
    l->tail = t;
    l->count++;
}

static void task_list_remove(struct task_list *l, struct task *t)
{
    if (t->list_prev)
        t->list_prev->list_next = t->list_next;
    else
        l->head = t->list_next;
    if (t->list_next)
        t->list_next->list_prev = t->list_prev;
    else
        l->tail = t->list_prev;
    t->list_prev = t->list_next = NULL;
    l->count--;
}

const char *task_name(const struct task *t, char *buf, size_t size)
{
    return t->name ? t->name : fmt_joined(buf, size, "task", '-', t->id);
}

const char task_kind[] = "async.Task";

/* [-(nargs+1), +1, m] */
struct task *task_new(struct rt *rt, lua_State *L, int nargs)
{
    size_t size = sizeof(struct task) + (rt_timing(rt) ? sizeof(struct task_timing) : 0);
    struct task *t = lua_newuserdatauv(L, size, UV_COUNT);
    memset(t, 0, size);
    t->rt = rt;
    t->kind = task_kind;
    t->id = ++rt->next_id;
    t->parent = rt->current ? rt->current->id : 0;
    t->nargs = nargs;
    t->state = TASK_PENDING;
    rt_setmetatable(L, MT_TASK);
    /* stack: fn, args..., task */
    lua_insert(L, -(nargs + 2));
    if (nargs == 1) {
        lua_setiuservalue(L, -3, UV_DATA); /* the common case goes without a table */
    } else if (nargs > 1) {
        /* stack: task, fn, args... */
        lua_createtable(L, nargs, 0);
        lua_insert(L, -(nargs + 1));
        for (int i = nargs; i >= 1; i--)
            lua_rawseti(L, -(i + 1), i);
        lua_setiuservalue(L, -3, UV_DATA);
    }
    lua_setiuservalue(L, -2, UV_FN);
    lua_pushvalue(L, -1);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    task_list_add(&rt->live, t);
    rt->spawned++;
    if (rt->live.count > rt->peak_live)
        rt->peak_live = rt->live.count;
    if (rt_timing(rt))
        task_timing(t)->spawned_at = rt_now(rt);
    sched_ready(rt, t, WAKE_OK);
    return t;
}

/* [-0, +0, m] */
struct task_run *task_run_new(lua_State *L, struct task *t)
{
    struct task_run *r = alloc_lua(&t->rt->alloc, NULL, 0, sizeof *r);
    if (!r) {
        lua_pushliteral(L, "not enough memory");
        lua_error(L);
    }
    memset(r, 0, sizeof *r);
    r->w.task = t;
    t->run = r;
    return r;
}

void task_run_free(struct rt *rt, struct task *t)
{
    if (t->run)
        alloc_lua(&rt->alloc, t->run, sizeof *t->run, 0);
    t->run = NULL;
}

/* [-0, +1, m] */
void task_new_weak_keyed(lua_State *L, const char *key)
{
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, key);
}

/* [-1, +0, m] */
void task_set_name(lua_State *L, struct task *t, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_getfield(L, LUA_REGISTRYINDEX, TASK_NAMES) != LUA_TTABLE) {
        lua_pop(L, 1);
        task_new_weak_keyed(L, TASK_NAMES);
    }
    /* stack: name, names */
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    t->name = lua_tostring(L, -2);
    lua_pop(L, 2);
}

/* [-0, +1, -] */
void task_push(lua_State *L, const struct task *t)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
}

/* [-0, +0, -] */
bool value_has_metatable(lua_State *L, int idx, const char *name)
{
    bool yes;
    if (!lua_getmetatable(L, idx))
        return false;
    luaL_getmetatable(L, name);
    yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* [-0, +0, -] */
bool task_is_cancel_value(lua_State *L, int idx)
{
    return value_has_metatable(L, idx, CANCELLED_MT);
}

/* [-0, +1, m] the reason object a canceller stored in UV_DATA, else the async.Cancelled singleton */
void task_push_cancel_value(lua_State *L, struct task *t)
{
    if (t->cancel_reason) {
        task_push(L, t);
        lua_getiuservalue(L, -1, UV_DATA);
        lua_remove(L, -2);
        return;
    }
    luaL_getmetatable(L, CANCELLED_MT);
    lua_getfield(L, -1, "value");
    lua_remove(L, -2);
}

/* Unlinks every node of a multi-task wait. */
static void task_unwait_all(struct task *t)
{
    for (int i = 0; i < t->run->on.tasks.n; i++)
        waitq_remove(&t->run->on.tasks.nodes[i]);
}

void task_interrupt(struct rt *rt, struct task *t)
{
    struct cscope *which;
    if (scope_pending(t, &which) == INT_NONE)
        return;
    switch (t->wait) {
    case WAIT_SLEEP:
        timer_remove(rt, &t->run->on.sleep.tm);
        break;
    case WAIT_TASK:
    case WAIT_PARK:
        waitq_remove(&t->run->w);
        break;
    case WAIT_TASKS:
        task_unwait_all(t);
        break;
    case WAIT_IO:
        iosrc_unwait(rt, t);
        break;
    case WAIT_RESOLVE:
        resolve_abandon(rt, t->run->on.resolve);
        t->run->on.resolve = NULL; /* the pool's now, or freed */
        break;
    case WAIT_HTTP:
        http_abandon(rt, t->run->on.http);
        break;
    case WAIT_SIGNAL:
        signal_unwait(rt, t);
        break;
    case WAIT_READY:
        /* woken but not resumed: unless something was handed over, raise at this wait */
        if (t->started && !t->handed)
            t->wake = WAKE_INTERRUPT;
        return;
    default: /* running, or about to start: checked at its next suspension */
        return;
    }
    sched_ready(rt, t, WAKE_INTERRUPT);
}

bool task_cancel(struct rt *rt, struct task *t, const char *by, lua_Integer by_id)
{
    if (task_finished(t))
        return false;
    if (!t->cancel_requested) {
        t->cancel_requested = true;
        if (rt_tracing(rt))
            trace_cancel(rt, t, by, by_id);
    }
    task_interrupt(rt, t);
    return true;
}

void task_hand_off(struct rt *rt, struct task *t)
{
    waitq_remove(&t->run->w);
    t->handed = true;
    sched_ready(rt, t, WAKE_OK);
}

/* A finished task wakes single awaiters, and multi-task waiters when their condition holds:
 * the first to finish, or the last one, or the first failure. */
static void task_wake_awaiters(struct rt *rt, struct task *t)
{
    struct waiter *w;
    while ((w = waitq_pop(&t->awaiters))) {
        struct task *x = w->task;
        if (x->wait == WAIT_TASKS) {
            bool failed = t->state != TASK_DONE;
            if (x->run->on.tasks.all && !(x->run->on.tasks.failures && failed) && --x->run->on.tasks.pending > 0)
                continue;
            x->run->on.tasks.fired = (int)(w - x->run->on.tasks.nodes);
            task_unwait_all(x);
        }
        sched_ready(rt, x, WAKE_OK);
    }
}

/* Common end of every task: drop the runtime's anchor and wake whoever awaits it. */
static void task_release(struct rt *rt, struct task *t)
{
    lua_State *L = rt->L;
    task_list_remove(&rt->live, t);
    task_wake_awaiters(rt, t);
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    t->ref = LUA_NOREF;
    task_run_free(rt, t);
    t->wait = WAIT_NONE;
}

void task_finish_unstarted(struct rt *rt, struct task *t)
{
    lua_State *L = rt->L;
    t->state = TASK_CANCELLED;
    t->finish_seq = ++rt->finish_seq;
    rt->ended[TASK_CANCELLED - TASK_DONE]++;
    task_push(L, t);
    task_push_cancel_value(L, t);
    lua_setiuservalue(L, -2, UV_DATA);
    lua_pushnil(L);
    lua_setiuservalue(L, -2, UV_FN);
    lua_pop(L, 1);
    if (rt_tracing(rt))
        trace_cancelled(rt, t);
    task_release(rt, t);
}

/* [-0, +1, m] the message lua.c would print for the error value at idx. Its __tostring runs
 * protected: a failing one (it raises, returns no string, tries to suspend) gives a
 * placeholder, never an error in the runtime's own reports. */
static const char *task_error_message(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER) {
        lua_pushvalue(L, idx); /* convert a copy: the error value itself must stay a number */
        return lua_tostring(L, -1);
    }
    if (luaL_getmetafield(L, idx, "__tostring") == LUA_TNIL)
        return lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, idx));
    lua_pushvalue(L, idx);
    int status = lua_pcall(L, 1, 1, 0);
    if (status == LUA_OK && lua_type(L, -1) == LUA_TSTRING)
        return lua_tostring(L, -1);
    const char *why = "'__tostring' must return a string";
    if (status != LUA_OK) /* its own error value is not converted again unless a string */
        why = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1);
    const char *msg = lua_pushfstring(L, "(error object: __tostring failed: %s)", why);
    lua_remove(L, -2);
    return msg;
}

/* At most this many errors raised with a failure are listed in its report. */
#define TASK_SECONDARIES_SHOWN 20

/* [-1, +1, m] appends to the failure's text on top the errors raised with it (its group,
 * see ERROR_GROUPS) that the text does not list yet, one line each: none of them is lost
 * when nobody catches the error. */
static void task_add_secondaries(lua_State *L, int ud_idx, int err_idx)
{
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, ERROR_GROUPS);
    lua_pushvalue(L, ud_idx);
    if (lua_rawget(L, -2) != LUA_TTABLE || (lua_rawgeti(L, -1, 1), !lua_rawequal(L, -1, err_idx))) {
        lua_settop(L, top);
        return;
    }
    int group = top + 2;
    lua_getfield(L, group, "n");
    lua_getfield(L, group, "shown");
    lua_Integer n = lua_tointeger(L, -2), first = lua_tointeger(L, -1) + 2, last = n;
    lua_settop(L, group);
    if (first > n) {
        lua_settop(L, top);
        return;
    }
    if (last - first >= TASK_SECONDARIES_SHOWN)
        last = first + TASK_SECONDARIES_SHOWN - 1;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushvalue(L, top);
    luaL_addvalue(&b);
    for (lua_Integer i = first; i <= last; i++) {
        luaL_addstring(&b, "\nalso raised: ");
        lua_rawgeti(L, group, i);
        int err = lua_gettop(L);
        lua_pushstring(L, task_error_message(L, err)); /* which may leave more on the stack */
        lua_replace(L, err);
        lua_settop(L, err);
        luaL_addvalue(&b);
    }
    if (last < n) {
        lua_pushfstring(L, "\nand %I more errors raised with it", (LUA_INTEGER)(n - last));
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_replace(L, top);
    lua_settop(L, top);
}

/* [-0, +0, m] the failure's traceback into UV_TRACE of the task at ud_idx, error at err_idx:
 * the chain built by await when the error was re-raised from an awaited task, else co's own. */
static void task_keep_traceback(lua_State *L, struct task *t, int ud_idx, int err_idx)
{
    if (t->plain_error) {
        task_error_message(L, err_idx);
    } else if (lua_getiuservalue(L, ud_idx, UV_TRACE) == LUA_TTABLE
               && (lua_rawgeti(L, -1, 1), lua_rawequal(L, -1, err_idx))) {
        lua_rawgeti(L, -2, 2);
        lua_replace(L, -3);
        lua_pop(L, 1);
    } else {
        lua_settop(L, ud_idx > err_idx ? ud_idx : err_idx);
        const char *msg = task_error_message(L, err_idx);
        where_traceback(L, t->run->co, msg, t->rt->opt->debug);
        lua_remove(L, -2);
    }
    if (!t->plain_error)
        task_add_secondaries(L, ud_idx, err_idx);
    t->traceback = lua_tostring(L, -1);
    lua_setiuservalue(L, ud_idx, UV_TRACE);
}

/* Makes a finished task's thread idle again if it is one of the pool's; the GC takes the
 * others, and a pool thread that cannot be reset stays out of use (anchored, never idle). */
static void task_recycle_thread(struct rt *rt, struct task *t, lua_State *co, int status)
{
    if (status == LUA_OK)
        lua_settop(co, 0);
    else if (lua_resetthread(co) != LUA_OK)
        return; /* an error closing its to-be-closed variables: do not reuse */
    *(void **)lua_getextraspace(co) = rt;
    if (t->pooled)
        rt->pool_idle[rt->pool_n++] = co;
}

void task_finish(struct rt *rt, struct task *t, int status, int nres)
{
    lua_State *L = rt->L, *co = t->run->co;
    int top = lua_gettop(L);
    task_push(L, t);
    if (status == LUA_OK) {
        t->state = TASK_DONE;
        t->nres = nres;
        if (nres > 1) {
            /* keep several results in one table built on co, which has them on its stack */
            lua_checkstack(co, 1);
            lua_createtable(co, nres, 0);
            lua_insert(co, -(nres + 1));
            for (int i = nres; i >= 1; i--)
                lua_rawseti(co, -(i + 1), i);
        }
        if (nres == 0)
            lua_pushnil(L); /* drops the arguments */
        else
            lua_xmove(co, L, 1);
        lua_setiuservalue(L, -2, UV_DATA);
        if (rt_tracing(rt))
            trace_done(rt, t);
        if (rt->debug && t->cancel_raised)
            debug_cancel_swallowed(rt, t);
    } else {
        lua_xmove(co, L, 1);
        /* stack: task, error */
        if (task_is_cancel_value(L, -1)) {
            t->state = TASK_CANCELLED;
            if (rt_tracing(rt))
                trace_cancelled(rt, t);
        } else {
            t->state = TASK_FAILED;
            if (status == LUA_ERRMEM)
                t->plain_error = true; /* a traceback would need the memory there is not */
            task_keep_traceback(L, t, top + 1, top + 2);
            if (rt_tracing(rt))
                trace_fail(rt, t, t->traceback);
            if (t == rt->main)
                t->error_retrieved = true; /* the runtime itself reports the main task's error */
        }
        lua_settop(L, top + 2);
        lua_setiuservalue(L, top + 1, UV_DATA);
    }
    t->finish_seq = ++rt->finish_seq;
    rt->ended[t->state - TASK_DONE]++;
    if (rt->stats)
        stats_task_end(rt, t);
    task_recycle_thread(rt, t, co, status);
    if (t->state == TASK_FAILED && !t->error_retrieved) {
        /* A failure nobody can retrieve any more is reported when the task is collected, by
         * the __gc of a new guard that only the task holds. Not a __gc on the task itself:
         * a metatable with __gc set on an old object costs a walk over every object made
         * since (lua_setmetatable), quadratic over many failures; on a new one, nothing. */
        lua_newuserdatauv(L, 0, 1);
        lua_pushvalue(L, top + 1);
        lua_setiuservalue(L, -2, 1);
        rt_setmetatable(L, MT_FAILURE_GUARD);
    } else {
        lua_pushnil(L);
    }
    lua_setiuservalue(L, top + 1, UV_FN);
    lua_settop(L, top);
    task_release(rt, t);
    if (!t->error_retrieved && t->state == TASK_FAILED)
        task_list_add(&rt->unretrieved, t); /* list links are free once it left the live list */
    if (t->state == TASK_FAILED && t->nursery)
        scope_cancel(rt, t->nursery); /* a failed child cancels its nursery's body */
}

void task_retrieved(struct rt *rt, struct task *t)
{
    if (t->state == TASK_FAILED && !t->error_retrieved && t != rt->main)
        task_list_remove(&rt->unretrieved, t);
    t->error_retrieved = true;
}

void task_report_unretrieved(struct rt *rt, struct task *t)
{
    char buf[32];
    if (t->error_retrieved || t->reported || t == rt->main)
        return;
    t->reported = true;
    task_list_remove(&rt->unretrieved, t);
    if (rt_tracing(rt))
        trace_flush(rt);
    rt_fflush(rt, stdout);
    esc_report(stderr, "asyncrun: task %" PRId64 " (%s) failed and nobody awaited it: %s\n",
            (int64_t)t->id, task_name(t, buf, sizeof buf),
            t->traceback ? t->traceback : "(its error was lost: not enough memory)");
    if (rt->status == 0)
        rt->status = 1;
}
