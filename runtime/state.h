/* The Lua state: created over asyncrun's allocator from its first block, with what
 * luaL_newstate adds (the panic message, warnings off until "@on"). */
#ifndef ASYNCRUN_STATE_H
#define ASYNCRUN_STATE_H

#include "core.h"

/* A new state whose every block comes from alloc_lua over a; NULL without memory. */
lua_State *state_new(struct alloc *a);
/* It is closed by rt_close_state: lua_close, then alloc_close. */

#endif
