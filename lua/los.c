/* os.exit leaves at once, as in lua, but first writes what the runtime owes: the trace's
 * closing event and buffered output. */
#include <lauxlib.h>

#include "lasync.h"
#include "core.h"

/* os.exit([code [, close]]) [-(n), +0, -] does not return */
static int los_exit(lua_State *L)
{
    rt_before_exit(rt_of(L));
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 0);
    return 0;
}

void los_patch(lua_State *L)
{
    lua_getglobal(L, "os");
    lua_getfield(L, -1, "exit");
    lua_pushcclosure(L, los_exit, 1);
    lua_setfield(L, -2, "exit");
    lua_pop(L, 1);
}
