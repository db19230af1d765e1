/* The main task runs LUA_INIT, then -e and -l in command-line order, then the script, as
 * lua.c does; each chunk is called with lua_callk so that its top-level code may suspend.
 * A chunk that fails to load raises its message without a traceback, as lua.c reports it. */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>

#include "main_task.h"
#include "core.h"

/* [-1, +0, v] a load failure: the message at the top becomes the main task's plain error */
static int main_load_failed(lua_State *L)
{
    rt_of(L)->main->plain_error = true;
    return lua_error(L);
}

/* [-0, +1, v] LUA_INIT_5_4 or LUA_INIT as a function; false when neither is set or -E */
static bool main_push_init(lua_State *L, const struct rt_options *opt)
{
    const char *name = "=LUA_INIT_5_4";
    const char *init = getenv(name + 1);
    int status;
    if (opt->ignore_env)
        return false;
    if (!init) {
        name = "=LUA_INIT";
        init = getenv(name + 1);
    }
    if (!init)
        return false;
    if (init[0] == '@')
        status = luaL_loadfile(L, init + 1);
    else
        status = luaL_loadbuffer(L, init, strlen(init), name);
    if (status != LUA_OK)
        main_load_failed(L);
    return true;
}

/* [-0, +0, e] -l NAME or -l G=NAME: G = require(NAME); "NAME-suffix" sets global NAME */
static void main_require(lua_State *L, const char *spec)
{
    const char *eq = strchr(spec, '=');
    const char *modname = eq ? eq + 1 : spec;
    size_t glen = eq ? (size_t)(eq - spec) : strcspn(spec, "-");
    lua_getglobal(L, "require");
    lua_pushstring(L, modname);
    lua_call(L, 1, 1); /* require never yields: a module that suspends at load time fails */
    /* stack: module */
    lua_pushglobaltable(L);
    lua_pushlstring(L, spec, glen);
    lua_pushvalue(L, -3);
    lua_settable(L, -3);
    lua_pop(L, 2);
}

/* [-0, +n+1, v] the script as a function and its arguments; returns n */
static int main_push_script(lua_State *L, const struct rt_options *opt)
{
    const char *fname = strcmp(opt->script, "-") == 0 ? NULL : opt->script;
    int nargs = opt->argc - opt->script_index - 1;
    if (luaL_loadfile(L, fname) != LUA_OK)
        main_load_failed(L);
    luaL_checkstack(L, nargs, "too many arguments to script");
    for (int i = 1; i <= nargs; i++)
        lua_pushstring(L, opt->argv[opt->script_index + i]);
    return nargs;
}

/* [-0, +2, e] the prompt, as the bindings give it (RT_REPL), and its argument */
static void main_push_repl(lua_State *L)
{
    char version[128];
    lua_getfield(L, LUA_REGISTRYINDEX, RT_REPL);
    lua_call(L, 0, 1);
    rt_version(version, sizeof version);
    lua_pushstring(L, version);
}

/* [-0, +0, e y] continues from step ctx: 0 is LUA_INIT, 1..n the chunks, n+1 the script,
 * n+2 the prompt */
static int main_task_steps(lua_State *L, int status, lua_KContext ctx)
{
    const struct rt_options *opt = rt_of(L)->opt;
    (void)status;
    for (int step = (int)ctx; step <= opt->nchunks + 2; step++) {
        int nargs = 0;
        lua_settop(L, 0);
        if (step == 0) {
            if (!main_push_init(L, opt))
                continue;
        } else if (step <= opt->nchunks) {
            const struct rt_chunk *c = &opt->chunks[step - 1];
            if (c->kind == 'l') {
                main_require(L, c->text);
                continue;
            }
            if (luaL_loadbuffer(L, c->text, strlen(c->text), "=(command line)") != LUA_OK)
                main_load_failed(L);
        } else if (step == opt->nchunks + 1) {
            if (!opt->script)
                continue;
            nargs = main_push_script(L, opt);
        } else {
            if (!opt->interactive)
                continue;
            main_push_repl(L);
            nargs = 1;
        }
        lua_callk(L, nargs, 0, step + 1, main_task_steps);
    }
    return 0;
}

int main_task_body(lua_State *L)
{
    return main_task_steps(L, LUA_OK, 0);
}
