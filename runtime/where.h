/* Where a task is: the innermost file:line of Lua code on a thread's stack. */
#ifndef ASYNCRUN_WHERE_H
#define ASYNCRUN_WHERE_H

#include <stddef.h>
#include <lua.h>

/* "file:line" of the first Lua frame at or above level, or "?" ; returns buf. */
const char *where_at(lua_State *L, int level, char *buf, size_t size);

#endif
