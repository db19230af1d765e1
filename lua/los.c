/* os.exit leaves at once, as in lua, but first writes what the runtime owes: the trace's
 * closing event and buffered output. print and io's writes keep program order with the
 * buffered std streams. */
#include <signal.h>
#include <stdlib.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lasync.h"
#include "core.h"
#include "stream.h"

/* os.exit([code [, close]]) [-(n), +0, v] does not return; raises on a bad code */
static int los_exit(lua_State *L)
{
    int status = lua_isboolean(L, 1) ? (lua_toboolean(L, 1) ? EXIT_SUCCESS : EXIT_FAILURE)
                                     : (int)luaL_optinteger(L, 1, EXIT_SUCCESS);
    rt_exit(rt_of(L), status, lua_toboolean(L, 2));
    return 0;
}

/* io.popen and os.execute, with SIGPIPE as asyncrun found it for the child they fork: the
 * runtime ignores it for itself, a shell pipeline in the child must not [-(n), +r, e] */
static int los_with_sigpipe(lua_State *L)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL}, saved;
    bool restore = !rt_of(L)->pipe_ignored_at_start;
    stream_drain_std(rt_of(L)); /* the child writes after what the script wrote */
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    if (restore)
        sigaction(SIGPIPE, &dfl, &saved);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (restore)
        sigaction(SIGPIPE, &saved, NULL);
    if (status != LUA_OK)
        return lua_error(L);
    return lua_gettop(L);
}

/* print, io.write and file:write, after what async.stdout and async.stderr buffered: their
 * bytes were written first [-(n), +r, e] */
static int los_after_streams(lua_State *L)
{
    stream_drain_std(rt_of(L));
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* [-0, +0, e] replaces t.name (t on top) with a closure over the original */
static void los_wrap_in(lua_State *L, const char *name, lua_CFunction f)
{
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, -2, name);
}

/* [-0, +0, e] replaces lib.name with a closure over the original */
static void los_wrap(lua_State *L, const char *lib, const char *name, lua_CFunction f)
{
    lua_getglobal(L, lib);
    los_wrap_in(L, name, f);
    lua_pop(L, 1);
}

void los_patch(lua_State *L)
{
    lua_getglobal(L, "os");
    lua_pushcfunction(L, los_exit);
    lua_setfield(L, -2, "exit");
    lua_pop(L, 1);
    los_wrap(L, "os", "execute", los_with_sigpipe);
    los_wrap(L, "io", "popen", los_with_sigpipe);
    los_wrap(L, "io", "write", los_after_streams);
    lua_pushglobaltable(L);
    los_wrap_in(L, "print", los_after_streams);
    luaL_getmetatable(L, LUA_FILEHANDLE);
    lua_getfield(L, -1, "__index");
    los_wrap_in(L, "write", los_after_streams);
    lua_pop(L, 3);
}
