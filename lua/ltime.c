/* async.sleep and async.now. */
#include <lauxlib.h>

#include "larg.h"
#include "lasync.h"
#include "laux.h"

/* [-0, +0, v] continuation of sleep */
static int ltime_sleep_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    laux_resumed(L, rt_of(L)->current);
    return 0;
}

/* async.sleep(seconds) [-1, +0, e y]: 0 or less lets every other ready task run first */
static int ltime_sleep(lua_State *L)
{
    lua_Number s = larg_number(L, 1, "seconds");
    struct task *t = laux_suspending_task(L);
    if (s > 0) {
        t->wait = WAIT_SLEEP;
        t->run->on.sleep.secs = s;
        t->run->on.sleep.tm.deadline = rt_now(t->rt) + s;
    } else {
        t->wait = WAIT_READY;
    }
    return laux_suspend(L, t, 0, ltime_sleep_k);
}

/* async.now() -> seconds [-0, +1, -] */
static int ltime_now(lua_State *L)
{
    lua_pushnumber(L, rt_now(rt_of(L)));
    return 1;
}

static const luaL_Reg ltime_functions[] = {
    {"sleep", ltime_sleep},
    {"now", ltime_now},
    {NULL, NULL},
};

void ltime_open(lua_State *L)
{
    luaL_setfuncs(L, ltime_functions, 0);
}
