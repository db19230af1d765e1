/* luaopen_async: the module table, assembled from one binding file per concern, then the
 * part written in Lua (lua/async.lua, embedded at build time) over the private core. */
#include <lauxlib.h>

#include "larg.h"
#include "lasync.h"
#include "laux.h"
#include "where.h"
#include "async_lua.h"

/* [-0, +0, e] runs lua/async.lua over the module and the core, once */
static void lasync_load_lua(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, "async.lua.loaded") == LUA_TBOOLEAN) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "async.lua.loaded");
    if (luaL_loadbuffer(L, (const char *)async_lua, sizeof async_lua, WHERE_API_CHUNK) != LUA_OK)
        lua_error(L);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "async");
    lua_remove(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, "async.core");
    lua_call(L, 2, 0);
}

/* async.__index: the std streams, or the Lua half of the module, compiled on first use so
 * that a script that never needs it does not pay for it at start-up [-0, +1, e] */
static int lasync_index(lua_State *L)
{
    if (lstream_std(L))
        return 1;
    lasync_load_lua(L);
    lua_settop(L, 2);
    lua_rawget(L, 1);
    return 1;
}

/* registry[RT_REPL]() -> the prompt (core.repl of lua/async.lua) [-0, +1, e] */
static int lasync_repl(lua_State *L)
{
    lasync_load_lua(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, "async.core");
    lua_getfield(L, -1, "repl");
    return 1;
}

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
    lqueue_open(L);
    lstream_open(L);
    lproc_open(L);
    lnet_open(L, core);
    lhttp_open(L);
    ltls_open(L, core);
    ludp_open(L);
    lsignal_open(L);
    lline_open(L, core);
    larg_open(L, core);
    lua_pushcfunction(L, laux_api_new);
    lua_setfield(L, core, "api");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, lasync_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
    /* stack: async, core; the core is kept for lua/async.lua and the prompt */
    lua_setfield(L, LUA_REGISTRYINDEX, "async.core");
    return 1;
}

void lasync_open(lua_State *L)
{
    luaL_requiref(L, "async", luaopen_async, 1);
    lua_pop(L, 1);
    lcoro_patch(L);
    los_patch(L);
    lua_pushcfunction(L, lasync_repl);
    lua_setfield(L, LUA_REGISTRYINDEX, RT_REPL);
}
