#include <stdio.h>
#include <string.h>

#include "where.h"
#include "fmt.h"

/* "src:line" into buf, truncated to size */
static const char *where_format(char *buf, size_t size, const char *src, int line)
{
    char num[20];
    size_t n = strlen(src), k = fmt_int(num, line);
    if (n + 1 + k >= size) {
        snprintf(buf, size, "%s:%d", src, line);
        return buf;
    }
    memcpy(buf, src, n);
    buf[n] = ':';
    memcpy(buf + n + 1, num, k);
    buf[n + 1 + k] = '\0';
    return buf;
}

const char *where_at(lua_State *L, int level, char *buf, size_t size)
{
    lua_Debug ar;
    for (; lua_getstack(L, level, &ar); level++) {
        /* the Lua half of the API ("[async]") is not where the user's code is */
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0 && strcmp(ar.source, "=[async]") != 0) {
            return where_format(buf, size, ar.short_src, ar.currentline);
        }
    }
    snprintf(buf, size, "?");
    return buf;
}
