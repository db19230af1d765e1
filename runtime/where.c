#include <stdio.h>
#include <string.h>

#include "where.h"
#include "fmt.h"

const char *where_at(lua_State *L, int level, char *buf, size_t size)
{
    lua_Debug ar;
    for (; lua_getstack(L, level, &ar); level++) {
        /* the Lua half of the API ("[async]") is not where the user's code is */
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0 && strcmp(ar.source, "=[async]") != 0) {
            return fmt_joined(buf, size, ar.short_src, ':', ar.currentline);
        }
    }
    snprintf(buf, size, "?");
    return buf;
}
