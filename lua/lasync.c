/* luaopen_async: the module table, assembled from one binding file per concern. */
#include <lauxlib.h>

#include "lasync.h"

/* [-0, +1, m] */
static int luaopen_async(lua_State *L)
{
    lua_newtable(L);
    ltask_open(L);
    ltime_open(L);
    return 1;
}

void lasync_open(lua_State *L)
{
    luaL_requiref(L, "async", luaopen_async, 1);
    lua_pop(L, 1);
    lcoro_patch(L);
    los_patch(L);
}
