/* The coroutine library inside tasks. A runtime suspension inside a user coroutine yields
 * the scheduler's tag; the patched resume/wrap pass it up to the task (yielding themselves
 * with a continuation) and, once the scheduler resumes the task, resume the inner coroutine
 * again, until it yields a value of its own or ends. In a task's own code the library
 * behaves as on Lua's main thread: running() says main, isyieldable() is false, yield fails. */
#include <string.h>
#include <lauxlib.h>

#include "lasync.h"
#include "sched.h"
#include "resolve.h"
#include "scope.h"

enum { LCORO_RESUME, LCORO_WRAP };

/* A coroutine whose suspension is being forwarded is part of a suspended task: it is
 * "parked" by pointing its extra space at the task, so that other code sees it as active
 * (status "normal"; resume and close refuse it), exactly as if the task were running it. */
static void lcoro_park(lua_State *co, struct task *t)
{
    *(void **)lua_getextraspace(co) = t;
}

static void lcoro_unpark(lua_State *co)
{
    *(void **)lua_getextraspace(co) = rt_of(co);
}

static bool lcoro_is_parked(lua_State *co)
{
    struct task *t = task_of_thread(co);
    return t && (!t->run || t->run->co != co); /* a finished task has no thread */
}

static int lcoro_resumed(lua_State *L, int status, lua_KContext how);

/* [-0, +0, e] calls the original resume on the coroutine at index 1 with what is above it */
static int lcoro_call(lua_State *L, lua_KContext how)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_rotate(L, 2, 2); /* stack: co, resume, co, args... */
    rt_of(L)->running_L = lua_tothread(L, 1); /* for the --debug watchdog's hook */
    lua_callk(L, lua_gettop(L) - 2, LUA_MULTRET, how, lcoro_resumed);
    return lcoro_resumed(L, LUA_OK, how);
}

/* [-0, +0, e] the scheduler resumed the task: resume the inner coroutine with nothing, so the
 * suspending function's continuation reads its wake reason from the task */
static int lcoro_forwarded(lua_State *L, int status, lua_KContext how)
{
    (void)status;
    lua_settop(L, 1);
    lcoro_unpark(lua_tothread(L, 1));
    return lcoro_call(L, how);
}

/* [-0, +0, e] the coroutine wrap() made raised: close it, add position to a string error */
static int lcoro_wrap_error(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    int st = lua_status(co);
    if (st != LUA_OK && st != LUA_YIELD) {
        st = lua_resetthread(co);
        lua_xmove(co, L, 1);
    }
    if (st != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

/* [-0, +r, e y] stack: co, ok, values... from the original resume */
static int lcoro_resumed(lua_State *L, int status, lua_KContext how)
{
    (void)status;
    rt_of(L)->running_L = L;
    if (lua_toboolean(L, 2) && sched_take_suspension(rt_of(L), lua_gettop(L) - 2)) {
        struct task *t = rt_of(L)->current;
        lua_settop(L, 1);
        if (lua_isyieldable(L)) {
            lcoro_park(lua_tothread(L, 1), t);
            rt_of(L)->suspending = true; /* passed on up */
            return lua_yieldk(L, 0, how, lcoro_forwarded);
        }
        /* the request cannot travel further up: let the inner call raise it */
        if (t->wait == WAIT_RESOLVE)
            resolve_free(t->run->on.resolve); /* never submitted */
        t->wait = WAIT_NONE;
        t->wake = WAKE_NOYIELD;
        return lcoro_forwarded(L, LUA_OK, how);
    }
    if (!lua_toboolean(L, 2) && rt_of(L)->current)
        scope_drop_thread(L, rt_of(L)->current, lua_tothread(L, 1));
    if (how == LCORO_RESUME)
        return lua_gettop(L) - 1;
    if (!lua_toboolean(L, 2))
        return lcoro_wrap_error(L);
    return lua_gettop(L) - 2;
}

/* coroutine.resume(co, ...) -> ok, ... [-(n), +r, e y] */
static int lcoro_resume(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    if (co && task_of_thread(co)) {
        lua_pushboolean(L, 0);
        if (lcoro_is_parked(co))
            lua_pushliteral(L, "cannot resume non-suspended coroutine");
        else
            lua_pushliteral(L, "cannot resume a task's own thread");
        return 2;
    }
    return lcoro_call(L, LCORO_RESUME);
}

/* the function coroutine.wrap returns [-(n), +r, e y] */
static int lcoro_wrapped(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_insert(L, 1);
    return lcoro_call(L, LCORO_WRAP);
}

/* coroutine.wrap(f) -> function [-1, +1, m] */
static int lcoro_wrap(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_State *co = lua_newthread(L);
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, -2);
    lua_pushcclosure(L, lcoro_wrapped, 2);
    return 1;
}

/* coroutine.status(co) -> string [-1, +1, v] a parked coroutine is "normal" */
static int lcoro_status(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    if (co && lcoro_is_parked(co)) {
        lua_pushliteral(L, "normal");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* coroutine.running() -> thread, ismain [-0, +2, -] */
static int lcoro_running(lua_State *L)
{
    int ismain = lua_pushthread(L);
    lua_pushboolean(L, ismain || task_of_thread(L) != NULL);
    return 2;
}

/* coroutine.isyieldable([co]) -> bool [-0, +1, v] */
static int lcoro_isyieldable(lua_State *L)
{
    lua_State *co = lua_isnone(L, 1) ? L : lua_tothread(L, 1);
    luaL_argexpected(L, co, 1, "coroutine");
    lua_pushboolean(L, !task_of_thread(co) && lua_isyieldable(co));
    return 1;
}

/* coroutine.yield(...) [-(n), +r, e y] */
static int lcoro_yield(lua_State *L)
{
    struct task *t = rt_of(L)->current;
    if (task_of_thread(L)) {
        lua_pushliteral(L, "attempt to yield from outside a coroutine");
        return lua_error(L);
    }
    /* a scope is the task's while it runs: a coroutine cannot leave it suspended */
    if (t && t->run->scopes && t->run->scopes->L == L)
        return luaL_error(L, "attempt to yield inside async.timeout, async.shield or async.scope");
    return lua_yield(L, lua_gettop(L));
}

/* coroutine.close(co) [-1, +r, e] a task's thread belongs to the scheduler; the running
 * task's own, seen from a coroutine it resumed, is "normal" as Lua's main thread would be */
static int lcoro_close(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    struct task *cur = rt_of(L)->current;
    if (co && (lcoro_is_parked(co) || (co != L && cur && cur->run->co == co)))
        return luaL_error(L, "cannot close a normal coroutine");
    if (co && task_of_thread(co) && co != L)
        return luaL_error(L, "cannot close a task's own thread");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

void lcoro_patch(lua_State *L)
{
    lua_getglobal(L, "coroutine");
    lua_getfield(L, -1, "resume");
    /* stack: coroutine, original resume */
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, lcoro_resume, 1);
    lua_setfield(L, -3, "resume");
    lua_pushcclosure(L, lcoro_wrap, 1);
    lua_setfield(L, -2, "wrap");
    lua_getfield(L, -1, "close");
    lua_pushcclosure(L, lcoro_close, 1);
    lua_setfield(L, -2, "close");
    lua_getfield(L, -1, "status");
    lua_pushcclosure(L, lcoro_status, 1);
    lua_setfield(L, -2, "status");
    lua_pushcfunction(L, lcoro_running);
    lua_setfield(L, -2, "running");
    lua_pushcfunction(L, lcoro_isyieldable);
    lua_setfield(L, -2, "isyieldable");
    lua_pushcfunction(L, lcoro_yield);
    lua_setfield(L, -2, "yield");
    lua_pop(L, 1);
}
