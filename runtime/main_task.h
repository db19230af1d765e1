/* The main task's body (SPEC §2 step 2). */
#ifndef ASYNCRUN_MAIN_TASK_H
#define ASYNCRUN_MAIN_TASK_H

#include <lua.h>

/* [-0, +0, e y] runs LUA_INIT, the -e and -l chunks in order, then the script. */
int main_task_body(lua_State *L);

#endif
