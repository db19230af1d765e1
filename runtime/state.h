/* The Lua state: created over asyncrun's allocator from its first block, with what
 * luaL_newstate adds (the panic message, warnings off until "@on"). */
#ifndef ASYNCRUN_STATE_H
#define ASYNCRUN_STATE_H

#include "core.h"

/* A new state whose every block comes from alloc_lua over a; NULL without memory. */
lua_State *state_new(struct alloc *a);
/* Closes L, then gives a's memory back. */
void state_close(lua_State *L, struct alloc *a);

#endif
