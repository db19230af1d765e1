/* The one place where the API turns arguments into numbers: every binding and lua/async.lua
 * (through core.to_integer and core.to_number) take them as luaL_checkinteger and
 * luaL_checknumber do, so a port or a count given as arg[1] works, and the messages are
 * Lua's own for a value that is not a number, and name the range for one that is. */
#include <signal.h>
#include <lauxlib.h>

#include "larg.h"
#include "laux.h"
#include "signame.h"

/* [-0, +(0|1), m] the value at idx as an integer in [min, max] in *out and NULL, or the
 * message (pushed) of the error */
static const char *larg_tointeger(lua_State *L, int idx, lua_Integer min, lua_Integer max,
                                  const char *what, lua_Integer *out)
{
    int isnum;
    lua_Integer n = lua_tointegerx(L, idx, &isnum);
    if (!isnum)
        return lua_isnumber(L, idx)
            ? lua_pushstring(L, "number has no integer representation")
            : lua_pushfstring(L, "number expected, got %s", luaL_typename(L, idx));
    if (n < min || n > max)
        return max == LUA_MAXINTEGER
            ? lua_pushfstring(L, "%s must be %I or more, got %I", what, min, n)
            : lua_pushfstring(L, "%s must be %I to %I, got %I", what, min, max, n);
    *out = n;
    return NULL;
}

/* [-0, +(0|1), m] the value at idx as a number that is not NaN in *out and NULL, or the
 * message (pushed) of the error */
static const char *larg_tonumber(lua_State *L, int idx, const char *what, lua_Number *out)
{
    int isnum;
    lua_Number x = lua_tonumberx(L, idx, &isnum);
    if (!isnum)
        return lua_pushfstring(L, "number expected, got %s", luaL_typename(L, idx));
    if (x != x)
        return lua_pushfstring(L, "%s must not be nan", what);
    *out = x;
    return NULL;
}

lua_Integer larg_integer(lua_State *L, int arg, lua_Integer min, lua_Integer max, const char *what)
{
    lua_Integer n = 0;
    const char *msg = larg_tointeger(L, arg, min, max, what, &n);
    if (msg)
        luaL_argerror(L, arg, msg);
    return n;
}

lua_Integer larg_optinteger(lua_State *L, int arg, lua_Integer def, lua_Integer min,
                            lua_Integer max, const char *what)
{
    return lua_isnoneornil(L, arg) ? def : larg_integer(L, arg, min, max, what);
}

lua_Number larg_number(lua_State *L, int arg, const char *what)
{
    lua_Number x = 0;
    const char *msg = larg_tonumber(L, arg, what, &x);
    if (msg)
        luaL_argerror(L, arg, msg);
    return x;
}

int larg_signal(lua_State *L, int arg, const char *def)
{
    if (lua_isnumber(L, arg))
        return (int)larg_integer(L, arg, 1, SIGRTMAX, "signal number");
    const char *name = def && lua_isnoneornil(L, arg) ? def : laux_checkcstring(L, arg);
    int signo = signame_number(name);
    if (signo == 0)
        luaL_argerror(L, arg, lua_pushfstring(L, "unknown signal '%s'", name));
    return signo;
}

/* core.to_integer(v, min, max, what) -> integer | nil, message [-4, +1|2, m] */
static int larg_to_integer(lua_State *L)
{
    lua_Integer n = 0;
    const char *msg = larg_tointeger(L, 1, luaL_checkinteger(L, 2), luaL_checkinteger(L, 3),
                                     luaL_checkstring(L, 4), &n);
    if (msg) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushinteger(L, n);
    return 1;
}

/* core.to_number(v, what) -> number | nil, message [-2, +1|2, m] */
static int larg_to_number(lua_State *L)
{
    lua_Number x = 0;
    const char *msg = larg_tonumber(L, 1, luaL_checkstring(L, 2), &x);
    if (msg) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushnumber(L, x);
    return 1;
}

static const luaL_Reg larg_core[] = {
    {"to_integer", larg_to_integer},
    {"to_number", larg_to_number},
    {NULL, NULL},
};

void larg_open(lua_State *L, int core)
{
    lua_pushvalue(L, core);
    luaL_setfuncs(L, larg_core, 0);
    lua_pop(L, 1);
}
