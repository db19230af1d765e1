#include <stdlib.h>

#include "alloc.h"

void *alloc_lua(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct alloc *a = ud;
    size_t old = ptr ? osize : 0; /* without a block, osize is a type tag */
    if (nsize == 0) {
        free(ptr);
        a->used -= old;
        return NULL;
    }
    if (a->limit && nsize > old && a->used + (nsize - old) > a->limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    a->used = a->used - old + nsize;
    if (a->used > a->peak)
        a->peak = a->used;
    return p;
}
