/* Number arguments for the whole API, taken as Lua's own functions take them
 * (luaL_checkinteger, luaL_checknumber: numeric strings such as arg[1], floats with an exact
 * integer value), with range errors that say what was wanted and what was given. */
#ifndef ASYNCRUN_LARG_H
#define ASYNCRUN_LARG_H

#include <lua.h>

/* [-0, +0, v] argument arg as luaL_checkinteger takes it, within [min, max]; outside,
 * "bad argument #arg to 'f' (<what> must be min to max, got n)" ("min or more" when max is
 * LUA_MAXINTEGER) */
lua_Integer larg_integer(lua_State *L, int arg, lua_Integer min, lua_Integer max, const char *what);

/* [-0, +0, v] the same, def when the argument is none or nil */
lua_Integer larg_optinteger(lua_State *L, int arg, lua_Integer def, lua_Integer min,
                            lua_Integer max, const char *what);

/* [-0, +0, v] argument arg as luaL_checknumber takes it, not NaN ("<what> must not be nan") */
lua_Number larg_number(lua_State *L, int arg, const char *what);

/* [-0, +0, v] a signal by name ("TERM", "SIGTERM") or number (9, "9"); def, a name, when
 * the argument is none or nil (NULL: required) */
int larg_signal(lua_State *L, int arg, const char *def);

/* [-0, +0, e] core.to_integer(v, min, max, what) and core.to_number(v, what) -> value | nil,
 * message: the same checks for lua/async.lua, which raises the message at its caller */
void larg_open(lua_State *L, int core);

#endif
