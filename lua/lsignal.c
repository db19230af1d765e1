/* async.signal(name) -> listener: wait() returns at the next delivery (deliveries that came
 * while nobody waited are counted and consumed one per wait), close() stops listening. */
#include <errno.h>
#include <string.h>
#include <lauxlib.h>

#include "lasync.h"
#include "laux.h"
#include "signal.h"
#include "signame.h"

#define SIGNAL_MT "async.Signal"

static struct siglistener *lsignal_check(lua_State *L)
{
    return laux_check(L, 1, MT_SIGNAL);
}

/* async.signal(name) -> listener [-1, +1, v] */
static int lsignal_new(lua_State *L)
{
    const char *name = laux_checkcstring(L, 1);
    int signo = signame_number(name);
    if (signo == 0)
        return luaL_argerror(L, 1, lua_pushfstring(L, "unknown signal '%s'", name));
    struct siglistener *l = lua_newuserdatauv(L, sizeof *l, 0);
    int err = signal_listen(rt_of(L), l, signo);
    if (err)
        return luaL_argerror(L, 1, lua_pushfstring(L, "cannot listen for '%s': %s", name,
                                                   strerror(-err)));
    rt_setmetatable(L, MT_SIGNAL);
    return 1;
}

/* listener:wait() -> true | nil, "closed" [-0, +1|2, e y] */
static int lsignal_wait_k(lua_State *L, int status, lua_KContext ctx)
{
    struct siglistener *l = lsignal_check(L);
    (void)ctx;
    if (status == LUA_YIELD) {
        struct task *t = rt_of(L)->current;
        laux_resumed(L, t);
        if (t->handed) { /* the delivery was handed over directly */
            lua_pushboolean(L, 1);
            return 1;
        }
    }
    if (signal_take(l)) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (l->closed) {
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        return 2;
    }
    struct task *t = laux_suspending_task(L);
    t->wait = WAIT_SIGNAL;
    t->run->on.sig = l;
    return laux_suspend(L, t, 0, lsignal_wait_k);
}

static int lsignal_wait(lua_State *L)
{
    lsignal_check(L);
    lua_settop(L, 1);
    return lsignal_wait_k(L, LUA_OK, 0);
}

/* listener:close() and __gc [-0, +0, -] */
static int lsignal_close(lua_State *L)
{
    signal_unlisten(rt_of(L), lsignal_check(L));
    return 0;
}

static const luaL_Reg lsignal_methods[] = {
    {"wait", lsignal_wait},
    {"close", lsignal_close},
    {NULL, NULL},
};

void lsignal_open(lua_State *L)
{
    laux_newmetatable(L, MT_SIGNAL);
    luaL_newlib(L, lsignal_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lsignal_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lsignal_close);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);
    lua_pushcfunction(L, lsignal_new);
    lua_setfield(L, -2, "signal");
}
