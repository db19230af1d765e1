/* os.exit leaves at once, as in lua, but first writes what the runtime owes: the trace's
 * closing event and buffered output. print and io's writes keep program order with the
 * buffered std streams. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lasync.h"
#include "core.h"
#include "stream.h"
#include "trace.h"

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
    trace_before_output(rt_of(L));
    stream_drain_std(rt_of(L), true); /* the child writes after what the script wrote */
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

/* The originals of print, io.write and file:write, kept in the registry: their wrappers
 * have no upvalues, as Lua's own functions (debug.getinfo(print, "u").nups is 0). */
#define LOS_PRINT "asyncrun.print"
#define LOS_IO_WRITE "asyncrun.io.write"
#define LOS_FILE_WRITE "asyncrun.file.write"

/* [-0, +0, -] after a write through C stdio: an error it set on stdout or stderr (had: their
 * error indicators before it) is kept for the report at exit while errno is the failed
 * write's, unless the write returned it to the script (received: the call's first result is
 * nil). A reader gone ends the run at once with 141, as SIGPIPE would. */
static void los_note_stdio_error(lua_State *L, bool received, const bool had[2])
{
    int err = errno;
    FILE *const files[] = {stdout, stderr};
    static const char *const names[] = {"stdout", "stderr"};
    if (err == EPIPE)
        rt_check_output(rt_of(L)); /* does not return when the pipe is broken */
    for (int i = 0; i < 2; i++) {
        if (!ferror(files[i]) || had[i])
            continue;
        if (!received)
            rt_output_error(rt_of(L), names[i], err ? err : EIO);
        clearerr(files[i]);
    }
}

/* [-0, +r, e] calls the original under key with the arguments, after what async.stdout and
 * async.stderr buffered: their bytes were written first */
static int los_call_after_streams(lua_State *L, const char *key)
{
    trace_before_output(rt_of(L));
    stream_drain_std(rt_of(L), true);
    lua_getfield(L, LUA_REGISTRYINDEX, key);
    lua_insert(L, 1);
    bool had[2] = {ferror(stdout) != 0, ferror(stderr) != 0};
    errno = 0;
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    if (ferror(stdout) || ferror(stderr))
        los_note_stdio_error(L, lua_gettop(L) > 0 && lua_isnil(L, 1), had);
    return lua_gettop(L);
}

/* [-0, +0, v] the arguments from first on are what a write takes: the error names the
 * wrapper (io.write), which the original, not in package.loaded any more, could not */
static void los_check_writable(lua_State *L, int first)
{
    for (int i = first; i <= lua_gettop(L); i++)
        if (lua_type(L, i) != LUA_TNUMBER)
            luaL_checklstring(L, i, NULL);
}

/* print(...) [-n, +0, e] */
static int los_print(lua_State *L)
{
    return los_call_after_streams(L, LOS_PRINT);
}

/* io.write(...) [-n, +1, e] */
static int los_io_write(lua_State *L)
{
    los_check_writable(L, 1);
    return los_call_after_streams(L, LOS_IO_WRITE);
}

/* file:write(...) [-n, +1, e] */
static int los_file_write(lua_State *L)
{
    luaL_checkudata(L, 1, LUA_FILEHANDLE);
    los_check_writable(L, 2);
    return los_call_after_streams(L, LOS_FILE_WRITE);
}

/* [-0, +0, e] moves t.name (t on top) to the registry under key and puts f in its place */
static void los_replace_in(lua_State *L, const char *name, const char *key, lua_CFunction f)
{
    lua_getfield(L, -1, name);
    lua_setfield(L, LUA_REGISTRYINDEX, key);
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, name);
}

/* [-0, +0, e] replaces lib.name with a closure over the original */
static void los_wrap(lua_State *L, const char *lib, const char *name, lua_CFunction f)
{
    lua_getglobal(L, lib);
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, -2, name);
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
    lua_getglobal(L, "io");
    los_replace_in(L, "write", LOS_IO_WRITE, los_io_write);
    lua_pushglobaltable(L);
    los_replace_in(L, "print", LOS_PRINT, los_print);
    luaL_getmetatable(L, LUA_FILEHANDLE);
    lua_getfield(L, -1, "__index");
    los_replace_in(L, "write", LOS_FILE_WRITE, los_file_write);
    lua_pop(L, 4);
}
