/* async.timeout, async.shield, the Timeout value, and the cancel scopes the Lua-side
 * nursery uses. A scope's userdata is a to-be-closed slot of the C frame that runs the body,
 * so it is left however the body ends: normal return, error caught by a pcall, or the task's
 * end. */
#include <math.h>
#include <string.h>
#include <lauxlib.h>

#include "larg.h"
#include "lasync.h"
#include "laux.h"
#include "scope.h"
#include "task.h"

#define SCOPE_MT "async.Scope"
#define TIMEOUT_MT "async.Timeout"

static struct cscope *lscope_check(lua_State *L, int idx)
{
    return laux_check(L, idx, MT_SCOPE);
}

/* [-0, +1, m] a scope that raises the value at value_idx (0: none, a shield) */
static struct cscope *lscope_new(lua_State *L, int value_idx, bool shield)
{
    struct cscope *s = lua_newuserdatauv(L, sizeof *s, 1);
    memset(s, 0, sizeof *s);
    s->ref = LUA_NOREF;
    s->shield = shield;
    rt_setmetatable(L, MT_SCOPE);
    if (value_idx) {
        lua_pushvalue(L, value_idx);
        lua_setiuservalue(L, -2, 1);
    }
    return s;
}

/* [-0, +0, v] the running task, which a scope belongs to */
static struct task *lscope_task(lua_State *L, const char *what)
{
    struct task *t = rt_of(L)->current;
    if (!t)
        luaL_error(L, "attempt to use %s outside a task", what);
    return t;
}

/* [-0, +r, e] continuation: leave the scope in slot 1, return the body's results */
static int lscope_done(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    lua_closeslot(L, 1);
    return lua_gettop(L) - 1;
}

/* [-0, +r, e y] stack: scope, fn, args... runs fn(args...) inside the scope */
static int lscope_run_body(lua_State *L, struct task *t, struct cscope *s, double deadline)
{
    lua_toclose(L, 1);
    lua_pushvalue(L, 1);
    if (scope_enter(L, t, s, deadline) != 0)
        return luaL_error(L, "not enough memory");
    lua_callk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, lscope_done);
    return lscope_done(L, LUA_OK, 0);
}

/* async.timeout(seconds, fn, ...) -> ... [-(n), +r, e y] */
static int lscope_timeout(lua_State *L)
{
    lua_Number secs = larg_number(L, 1, "seconds");
    luaL_checktype(L, 2, LUA_TFUNCTION);
    struct task *t = lscope_task(L, "async.timeout");
    luaL_getmetatable(L, TIMEOUT_MT);
    lua_getfield(L, -1, "value");
    struct cscope *s = lscope_new(L, lua_gettop(L), false);
    lua_replace(L, 1); /* stack: scope, fn, args..., mt, value */
    lua_pop(L, 2);
    if (secs <= 0)
        s->cancelled = true; /* expired already: its first suspension raises */
    return lscope_run_body(L, t, s, secs > 0 && !isinf(secs) ? rt_now(t->rt) + secs : -1);
}

/* async.shield(fn, ...) -> ... [-(n), +r, e y] */
static int lscope_shield(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    struct task *t = lscope_task(L, "async.shield");
    lscope_new(L, 0, true);
    lua_insert(L, 1);
    return lscope_run_body(L, t, lscope_check(L, 1), -1);
}

/* core.scope(value) -> scope [-1, +1, m] a cancel scope raising value, not yet entered */
static int lscope_create(lua_State *L)
{
    luaL_checkany(L, 1);
    lscope_new(L, 1, false);
    return 1;
}

/* scope:run(fn, ...) -> ... [-(n), +r, e y] */
static int lscope_run(lua_State *L)
{
    struct cscope *s = lscope_check(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (s->task || s->cancelled)
        return luaL_error(L, "a scope runs only once");
    return lscope_run_body(L, lscope_task(L, "a scope"), s, -1);
}

/* scope:cancel() [-0, +0, -] */
static int lscope_cancel(lua_State *L)
{
    struct cscope *s = lscope_check(L, 1);
    if (s->task)
        scope_cancel(rt_of(L), s);
    else
        s->cancelled = true;
    return 0;
}

/* scope:cancelled() -> bool [-0, +1, -] */
static int lscope_cancelled(lua_State *L)
{
    lua_pushboolean(L, lscope_check(L, 1)->cancelled);
    return 1;
}

/* scope:adopt(task): the task's failure cancels the scope [-0, +0, v] */
static int lscope_adopt(lua_State *L)
{
    struct cscope *s = lscope_check(L, 1);
    struct task *t = laux_check_task(L, 2);
    t->nursery = s;
    return 0;
}

/* __close: leave the scope (no __gc: a scope is anchored while entered) [-0, +0, -] */
static int lscope_close(lua_State *L)
{
    scope_leave(L, lscope_check(L, 1));
    return 0;
}

/* async.is_timeout(v) -> bool [-0, +1, -] */
static int lscope_is_timeout(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushboolean(L, value_has_metatable(L, 1, TIMEOUT_MT));
    return 1;
}

/* tostring(async.Timeout) [-0, +1, -] */
static int lscope_timeout_tostring(lua_State *L)
{
    lua_pushliteral(L, "timeout");
    return 1;
}

static const luaL_Reg lscope_methods[] = {
    {"run", lscope_run},       {"cancel", lscope_cancel}, {"cancelled", lscope_cancelled},
    {"adopt", lscope_adopt},   {NULL, NULL},
};

static const luaL_Reg lscope_functions[] = {
    {"timeout", lscope_timeout},
    {"shield", lscope_shield},
    {"is_timeout", lscope_is_timeout},
    {NULL, NULL},
};

void lscope_open(lua_State *L, int core)
{
    /* stack: async */
    laux_newmetatable(L, MT_SCOPE);
    luaL_newlib(L, lscope_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lscope_close);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);

    laux_error_value(L, TIMEOUT_MT, lscope_timeout_tostring, "Timeout");

    luaL_setfuncs(L, lscope_functions, 0);
    lua_pushcfunction(L, lscope_create);
    lua_setfield(L, core, "scope");
}
