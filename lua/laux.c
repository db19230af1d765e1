#include <string.h>
#include <lauxlib.h>

#include "laux.h"
#include "sched.h"
#include "task.h"

int laux_noyield_error(lua_State *L)
{
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sn", &ar))
            continue;
        if (ar.what[0] == 'C' && ar.name)
            return luaL_error(L, "attempt to suspend inside a non-yieldable call to '%s'", ar.name);
        if (ar.name && strcmp(ar.namewhat, "metamethod") == 0 && strcmp(ar.name, "__gc") == 0)
            return luaL_error(L, "attempt to suspend inside a __gc metamethod");
    }
    return luaL_error(L, "attempt to suspend inside a non-yieldable call");
}

struct task *laux_suspending_task(lua_State *L)
{
    struct task *t = rt_of(L)->current;
    if (!t)
        luaL_error(L, "attempt to suspend outside a task");
    if (!lua_isyieldable(L))
        laux_noyield_error(L);
    if (t->cancel_requested) {
        task_push_cancel_value(L, t);
        lua_error(L);
    }
    return t;
}

int laux_suspend(lua_State *L, struct task *t, lua_KContext ctx, lua_KFunction k)
{
    t->wait_L = L;
    lua_pushlightuserdata(L, SCHED_TAG);
    return lua_yieldk(L, 1, ctx, k);
}

void laux_resumed(lua_State *L, struct task *t)
{
    switch (t->wake) {
    case WAKE_CANCEL:
        task_push_cancel_value(L, t);
        lua_error(L);
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
