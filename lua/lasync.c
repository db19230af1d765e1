/* luaopen_async: the module table, assembled from one binding file per concern, then the
 * part written in Lua (lua/async.lua, embedded at build time) over the private core. */
#include <lauxlib.h>

#include "lasync.h"
#include "async_lua.h"

/* [-0, +1, e] */
static int luaopen_async(lua_State *L)
{
    lua_newtable(L); /* async */
    lua_newtable(L); /* core: private to lua/async.lua */
    int core = lua_gettop(L);
    lua_pushvalue(L, -2);
    ltask_open(L, core);
    ltime_open(L);
    lscope_open(L, core);
    lpark_open(L, core);
    lstream_open(L);
    lproc_open(L);
    lnet_open(L, core);
    lsignal_open(L);
    lua_pop(L, 1);
    /* stack: async, core; the core is kept for the runtime too (the prompt) */
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "async.core");
    if (luaL_loadbuffer(L, (const char *)async_lua, sizeof async_lua, "=[async]") != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, -3);
    lua_pushvalue(L, -3);
    lua_call(L, 2, 0);
    lua_pop(L, 1);
    return 1;
}

void lasync_open(lua_State *L)
{
    luaL_requiref(L, "async", luaopen_async, 1);
    lua_pop(L, 1);
    lcoro_patch(L);
    los_patch(L);
}
