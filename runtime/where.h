/* Where a task is: the innermost file:line of Lua code on a thread's stack, and tracebacks
 * that show the user's frames. */
#ifndef ASYNCRUN_WHERE_H
#define ASYNCRUN_WHERE_H

#include <stdbool.h>
#include <stddef.h>
#include <lua.h>

/* The chunk name of the Lua half of the API (lua/async.lua, loaded by lua/lasync.c): its
 * frames are asyncrun's own, never the user's. */
#define WHERE_API_CHUNK "=[async]"

/* [-0, +(0|1), -] The first level at or above level whose frame is the user's Lua code (a
 * line, outside the API's chunk), with its "Sl" info in *ar, or -1 when there is none (a task
 * of the API's own, such as an accept loop). With push, that frame's function is pushed. */
int where_user_level(lua_State *L, int level, lua_Debug *ar, bool push);

/* "file:line" of the first Lua frame at or above level, or "?" ; returns buf. */
const char *where_at(lua_State *L, int level, char *buf, size_t size);

/* [-0, +1, m] co's traceback in luaL_traceback's format, after msg unless it is NULL. Unless
 * full, asyncrun's own frames are left out: the Lua half of the API and the C functions it
 * calls; the user's call into the API (`[C]: in method 'wait'`) is the top frame. */
void where_traceback(lua_State *L, lua_State *co, const char *msg, bool full);

/* [-0, +(0|1), m] the name of the function at index fn as loaded modules hold it
 * ("table.sort", "async.gather"; "print" for a global), as luaL_traceback names functions;
 * returns whether it pushed one. */
bool where_push_global_name(lua_State *L, int fn);

#endif
