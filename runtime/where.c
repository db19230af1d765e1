#include <stdio.h>

#include "where.h"

const char *where_at(lua_State *L, int level, char *buf, size_t size)
{
    lua_Debug ar;
    for (; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            snprintf(buf, size, "%s:%d", ar.short_src, ar.currentline);
            return buf;
        }
    }
    snprintf(buf, size, "?");
    return buf;
}
