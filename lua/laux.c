#include <stddef.h>
#include <string.h>
#include <lauxlib.h>

#include "laux.h"
#include "sched.h"
#include "task.h"
#include "scope.h"
#include "resolve.h"
#include "debug.h"
#include "where.h"

/* C functions that can yield, between a suspension and the call that cannot */
static bool laux_yieldable_c(const char *name)
{
    return strcmp(name, "pcall") == 0 || strcmp(name, "xpcall") == 0
        || strncmp(name, "coroutine.", 10) == 0 || strncmp(name, "async.", 6) == 0;
}

/* [-0, +?, -] continuation of laux_api_call: all the results are the function's */
static int laux_api_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    return lua_gettop(L);
}

/* An API function written in Lua, called through this C closure (upvalue 1): a C function
 * reached by a tail call leaves its caller's frame on the stack, so `return q:get()` still
 * shows the user's line in dumps and traces. [-n, +?, e y] */
static int laux_api_call(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_callk(L, n, LUA_MULTRET, 0, laux_api_k);
    return lua_gettop(L);
}

/* core.api(fn) -> the C closure calling fn [-1, +1, m] */
int laux_api_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    lua_pushcclosure(L, laux_api_call, 1);
    return 1;
}

int laux_noyield_error(lua_State *L)
{
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Snf", &ar))
            continue;
        int fn = lua_gettop(L);
        if (lua_tocfunction(L, fn) == laux_api_call) {
            /* yieldable: it passes suspensions through */
        } else if (ar.what[0] == 'C' && where_push_global_name(L, fn)) {
            const char *name = lua_tostring(L, -1);
            if (!laux_yieldable_c(name))
                return luaL_error(L, "attempt to suspend inside a non-yieldable call to '%s'", name);
            lua_pop(L, 1);
        } else if (ar.name && strcmp(ar.namewhat, "metamethod") == 0) {
            return luaL_error(L, "attempt to suspend inside a %s metamethod", ar.name);
        } else if (ar.what[0] == 'C') {
            return luaL_error(L, "attempt to suspend inside a non-yieldable C function");
        }
        lua_settop(L, fn - 1);
    }
    return luaL_error(L, "attempt to suspend inside a non-yieldable call");
}

void laux_check_interrupt(lua_State *L, struct task *t)
{
    struct cscope *s;
    switch (scope_pending(t, &s)) {
    case INT_CANCEL:
        if (t->rt->debug)
            debug_cancel_raised(t->rt, t, L);
        task_push_cancel_value(L, t);
        lua_error(L);
        break;
    case INT_SCOPE:
        scope_push(L, s);
        lua_getiuservalue(L, -1, 1); /* the value the scope raises */
        lua_error(L);
        break;
    default:
        break;
    }
}

/* [-0, +0, v] continuation of an interrupted suspension: raise what is pending */
static int laux_interrupted_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    laux_check_interrupt(L, rt_of(L)->current);
    return luaL_error(L, "interrupted");
}

bool laux_can_suspend(lua_State *L)
{
    struct cscope *s;
    struct task *t = rt_of(L)->current;
    return t && lua_isyieldable(L) && scope_pending(t, &s) == INT_NONE;
}

struct task *laux_suspending_task(lua_State *L)
{
    struct cscope *s;
    struct task *t = rt_of(L)->current;
    if (!t)
        luaL_error(L, "attempt to suspend outside a task");
    if (!lua_isyieldable(L))
        laux_noyield_error(L);
    if (scope_pending(t, &s) != INT_NONE) {
        /* raise it after one turn of the loop, so that a task swallowing its cancellation
         * in a loop still lets timers (--timeout, the shutdown grace) and signals act */
        t->wait = WAIT_READY;
        laux_suspend(L, t, 0, laux_interrupted_k); /* does not return */
    }
    return t;
}

void laux_interruption_point(lua_State *L)
{
    struct cscope *s;
    struct task *t = rt_of(L)->current;
    if (t && lua_isyieldable(L) && scope_pending(t, &s) != INT_NONE)
        laux_suspending_task(L); /* does not return */
}

int laux_suspend(lua_State *L, struct task *t, lua_KContext ctx, lua_KFunction k)
{
    t->run->wait_L = L;
    t->rt->suspending = true; /* see sched_take_suspension */
    return lua_yieldk(L, 0, ctx, k);
}

int laux_wait_io(lua_State *L, struct iosrc *src, lua_KContext ctx, lua_KFunction k)
{
    struct task *t = laux_suspending_task(L);
    t->wait = WAIT_IO;
    t->run->on.io = src;
    return laux_suspend(L, t, ctx, k);
}

void laux_resumed(lua_State *L, struct task *t)
{
    switch (t->wake) {
    case WAKE_INTERRUPT:
        laux_check_interrupt(L, t);
        break;
    case WAKE_NOYIELD:
        luaL_error(L, "attempt to suspend inside a non-yieldable call (a coroutine resumed there)");
        break;
    case WAKE_NOMEM:
        lua_pushliteral(L, "not enough memory");
        lua_error(L);
        break;
    default:
        break;
    }
}

int laux_lookup(lua_State *L, const char *host, lua_KContext ctx, lua_KFunction k)
{
    struct task *t = laux_suspending_task(L);
    struct resolve_req *req = resolve_new(t, host);
    if (!req)
        return luaL_error(L, "not enough memory");
    t->wait = WAIT_RESOLVE;
    t->run->on.resolve = req;
    return laux_suspend(L, t, ctx, k);
}

struct resolve_req *laux_looked_up(lua_State *L)
{
    struct task *t = rt_of(L)->current;
    struct resolve_req *req = t->run->on.resolve;
    /* ours unless an interruption abandoned it to the pool (req NULL): it never reached the
     * pool, or the pool handed it back before an interruption came */
    if (req && (t->wake == WAKE_NOMEM || t->wake == WAKE_INTERRUPT)) {
        resolve_free(req);
        req = NULL;
    }
    laux_resumed(L, t); /* raises what interrupted the lookup */
    if (!req)
        luaL_error(L, "interrupted");
    return req;
}

bool laux_zero_byte(lua_State *L, int idx, const char *what, lua_Integer i)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (!s || strlen(s) == len)
        return false;
    if (i > 0)
        lua_pushfstring(L, "%s[%I] contains a zero byte", what, i);
    else
        lua_pushfstring(L, "%s contains a zero byte", what);
    return true;
}

const char *laux_cstring(lua_State *L, int idx, int arg, const char *what, lua_Integer i)
{
    const char *s = lua_tostring(L, idx);
    if (laux_zero_byte(L, idx, what, i))
        luaL_argerror(L, arg, lua_tostring(L, -1));
    return s;
}

const char *laux_checkcstring(lua_State *L, int arg)
{
    luaL_checkstring(L, arg);
    return laux_cstring(L, arg, arg, "string", 0);
}

const char *laux_optcstring(lua_State *L, int arg, const char *def)
{
    return lua_isnoneornil(L, arg) ? def : laux_checkcstring(L, arg);
}

int laux_checkoption(lua_State *L, int arg, const char *def, const char *const list[])
{
    if (!lua_isnoneornil(L, arg))
        laux_checkcstring(L, arg);
    return luaL_checkoption(L, arg, def, list);
}

int laux_failure(lua_State *L, int err, const char *what)
{
    lua_pushnil(L);
    if (what)
        lua_pushfstring(L, "%s: %s", what, strerror(err));
    else
        lua_pushstring(L, strerror(err));
    lua_pushinteger(L, err);
    return 3;
}

static const char *const laux_mt_names[MT_COUNT] = {
    "async.Task", "async.FailureGuard", "async.Stream", "async.ParkQueue", "async.Process",
    "async.Scope", "async.Signal", "async.Server", "async.Queue", "async.UDP",
};

void laux_adopt_metatable(lua_State *L, enum rt_mt which)
{
    struct rt *rt = rt_of(L);
    lua_pushvalue(L, -1);
    rt->mt_ref[which] = luaL_ref(L, LUA_REGISTRYINDEX);
    rt->mt[which] = lua_topointer(L, -1);
}

void laux_newmetatable(lua_State *L, enum rt_mt which)
{
    luaL_newmetatable(L, laux_mt_names[which]);
    laux_adopt_metatable(L, which);
}

struct task *laux_test_task(lua_State *L, int idx)
{
    return laux_test_tag(L, idx, sizeof(struct task), offsetof(struct task, kind), task_kind);
}

struct task *laux_check_task(lua_State *L, int idx)
{
    struct task *t = laux_test_task(L, idx);
    return t ? t : laux_check(L, idx, MT_TASK); /* raises the standard type error */
}

void *laux_test(lua_State *L, int idx, enum rt_mt which)
{
    void *p = lua_touserdata(L, idx);
    if (!p || !lua_getmetatable(L, idx))
        return NULL;
    bool same = lua_topointer(L, -1) == rt_of(L)->mt[which];
    lua_pop(L, 1);
    return same ? p : NULL;
}

void *laux_check(lua_State *L, int idx, enum rt_mt which)
{
    void *p = laux_test(L, idx, which);
    if (!p)
        luaL_typeerror(L, idx, laux_mt_names[which]);
    return p;
}

void laux_error_value(lua_State *L, const char *mtname, lua_CFunction tostring, const char *field)
{
    luaL_newmetatable(L, mtname);
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
    lua_newtable(L);
    lua_pushvalue(L, -2);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "value"); /* the runtime finds the singleton here */
    /* stack: async, mt, value */
    lua_setfield(L, -3, field);
    lua_pop(L, 1);
}
