/* The `async` module and the standard-library patches a task environment needs. */
#ifndef ASYNCRUN_LASYNC_H
#define ASYNCRUN_LASYNC_H

#include <lua.h>

/* [-0, +0, e] opens `async` (global and package.loaded), patches coroutine and os.exit,
 * and sets RT_REPL: the opener the CLI hands to the runtime (rt_options.open_libs) */
void lasync_open(lua_State *L);

/* Each adds its functions to the module table at the top of the stack, and the private
 * functions the Lua part uses to the table at index core. [-0, +0, e] */
void ltask_open(lua_State *L, int core);
void ltime_open(lua_State *L);
void lscope_open(lua_State *L, int core);
void lpark_open(lua_State *L, int core);
void lqueue_open(lua_State *L);
void lstream_open(lua_State *L);
/* [-0, +(0|1), e] async.__index for "stdin", "stdout", "stderr": opens and caches the
 * stream; returns 0 for any other key */
int lstream_std(lua_State *L);
void lproc_open(lua_State *L);
void lnet_open(lua_State *L, int core);
void lhttp_open(lua_State *L);
void ltls_open(lua_State *L, int core);
void ludp_open(lua_State *L);
void lsignal_open(lua_State *L);
void lline_open(lua_State *L, int core);
/* [-0, +0, e] replace coroutine.* and os.exit, keeping the originals as upvalues */
void lcoro_patch(lua_State *L);
void los_patch(lua_State *L);

#endif
