/* The Lua allocator: size-classed small blocks and malloc for the rest (see alloc.c), with
 * accounting (the --stats heap peak) and an optional cap (--memlimit), past which
 * allocation fails and Lua raises "not enough memory". */
#ifndef ASYNCRUN_ALLOC_H
#define ASYNCRUN_ALLOC_H

#include <stddef.h>

#include "core.h"

/* A lua_Alloc; ud is a struct alloc. Shrinking never fails. */
void *alloc_lua(void *ud, void *ptr, size_t osize, size_t nsize);
/* Gives the chunks back; after lua_close of the state that used a. */
void alloc_close(struct alloc *a);

#endif
