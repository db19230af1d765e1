#include <stdio.h>
#include <string.h>
#include <lauxlib.h>

#include "where.h"
#include "fmt.h"

/* Frames shown before and after a "..." line, as luaL_traceback shows them; a middle part no
 * longer than WHERE_SCAN levels is looked at, to tell whether any of its frames is shown. */
enum { WHERE_HEAD = 10, WHERE_TAIL = 11, WHERE_SCAN = 2000 };

static bool where_is_api(const lua_Debug *ar)
{
    return strcmp(ar->source, WHERE_API_CHUNK) == 0;
}

int where_user_level(lua_State *L, int level, lua_Debug *ar, bool push)
{
    for (; lua_getstack(L, level, ar); level++) {
        lua_getinfo(L, push ? "fSl" : "Sl", ar);
        /* the Lua half of the API ("[async]") is not where the user's code is */
        if (ar->currentline > 0 && !where_is_api(ar))
            return level;
        if (push)
            lua_pop(L, 1);
    }
    return -1;
}

const char *where_at(lua_State *L, int level, char *buf, size_t size)
{
    lua_Debug ar;
    if (where_user_level(L, level, &ar, false) >= 0)
        return fmt_joined(buf, size, ar.short_src, ':', ar.currentline);
    snprintf(buf, size, "?");
    return buf;
}

bool where_push_global_name(lua_State *L, int fn)
{
    fn = lua_absindex(L, fn);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
        if (lua_type(L, -1) != LUA_TTABLE || lua_type(L, -2) != LUA_TSTRING)
            continue;
        for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
            if (lua_rawequal(L, -1, fn) && lua_type(L, -2) == LUA_TSTRING) {
                /* stack: loaded, module name, module, name, function */
                const char *mod = lua_tostring(L, -4);
                if (strcmp(mod, LUA_GNAME) == 0)
                    lua_pushvalue(L, -2);
                else
                    lua_pushfstring(L, "%s.%s", mod, lua_tostring(L, -2));
                lua_replace(L, -6);
                lua_pop(L, 4);
                return true;
            }
        }
    }
    lua_pop(L, 1);
    return false;
}

/* Whether the frame at level is the user's: Lua code outside the API's chunk, or a C function
 * called by such code, directly or through other C functions (the API call itself, pcall).
 * C functions called by the API's Lua half (a park queue's park, its pcall) are asyncrun's.
 * C functions with no Lua code under them (the main task's body) stay: "[C]: in ?", as lua
 * prints the frame that called its main chunk. The API's iterators are left out too. */
static bool where_is_user(lua_State *co, int level)
{
    lua_Debug ar;
    /* A C function at the top called by a for loop is the API's iterator (s:lines()), that
     * Lua would show as "in for iterator 'for iterator'": the loop's line below says it. */
    if (level == 0 && lua_getstack(co, 0, &ar) && lua_getinfo(co, "Sn", &ar) && ar.what[0] == 'C'
        && ar.namewhat && strcmp(ar.namewhat, "for iterator") == 0)
        return false;
    for (; lua_getstack(co, level, &ar); level++) {
        lua_getinfo(co, "S", &ar);
        if (ar.what[0] != 'C')
            return !where_is_api(&ar);
    }
    return true;
}

/* [-0, +0, m] adds the line of the frame at level, as luaL_traceback writes it; a name that
 * the API's Lua half gave its callee (its local variables) is no name for the user */
static void where_add_frame(luaL_Buffer *b, lua_State *co, int level)
{
    lua_State *L = b->L;
    lua_Debug ar, caller;
    lua_getstack(co, level, &ar);
    lua_getinfo(co, "Slnt", &ar);
    if (ar.currentline <= 0)
        lua_pushfstring(L, "\n\t%s: in ", ar.short_src);
    else
        lua_pushfstring(L, "\n\t%s:%d: in ", ar.short_src, ar.currentline);
    luaL_addvalue(b);
    bool api_named = lua_getstack(co, level + 1, &caller) && lua_getinfo(co, "S", &caller)
                     && where_is_api(&caller);
    /* lauxlib's way: ar belongs to co, the function lands on L (one global state) */
    lua_getinfo(L, "f", &ar);
    bool global = where_push_global_name(L, -1);
    if (global)
        lua_pushfstring(L, "function '%s'", lua_tostring(L, -1));
    else if (*ar.namewhat != '\0' && !api_named)
        lua_pushfstring(L, "%s '%s'", ar.namewhat, ar.name);
    else if (*ar.what == 'm')
        lua_pushliteral(L, "main chunk");
    else if (*ar.what != 'C')
        lua_pushfstring(L, "function <%s:%d>", ar.short_src, ar.linedefined);
    else
        lua_pushliteral(L, "?");
    /* stack: function, [its global name,] the text */
    lua_replace(L, global ? -3 : -2);
    if (global)
        lua_pop(L, 1);
    luaL_addvalue(b);
    if (ar.istailcall)
        luaL_addstring(b, "\n\t(...tail calls...)");
}

/* Number of the levels of co (luaL_traceback's lastlevel): a binary search, lua_getstack
 * costing a walk of the levels above the one it finds */
static int where_levels(lua_State *co)
{
    lua_Debug ar;
    int li = 1, le = 1;
    if (!lua_getstack(co, 0, &ar))
        return 0;
    while (lua_getstack(co, le, &ar)) {
        li = le;
        le *= 2;
    }
    while (li < le) {
        int m = (li + le) / 2;
        if (lua_getstack(co, m, &ar))
            li = m + 1;
        else
            le = m;
    }
    return le;
}

void where_traceback(lua_State *L, lua_State *co, const char *msg, bool full)
{
    if (full) {
        luaL_traceback(L, co, msg, 0);
        return;
    }
    /* the user's frames: the first WHERE_HEAD from the top, the last WHERE_TAIL from the
     * bottom, and how many are left out between them */
    int n = where_levels(co), head[WHERE_HEAD], tail[WHERE_TAIL], nhead = 0, ntail = 0;
    int level = 0, below = n;
    for (; level < n && nhead < WHERE_HEAD; level++)
        if (where_is_user(co, level))
            head[nhead++] = level;
    while (below > level && ntail < WHERE_TAIL)
        if (where_is_user(co, --below))
            tail[ntail++] = below;
    int between = below - level;
    if (between > 0 && between <= WHERE_SCAN) {
        between = 0;
        for (int i = level; i < below; i++)
            between += where_is_user(co, i);
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (msg) {
        luaL_addstring(&b, msg);
        luaL_addchar(&b, '\n');
    }
    luaL_addstring(&b, "stack traceback:");
    for (int i = 0; i < nhead; i++)
        where_add_frame(&b, co, head[i]);
    if (between > 0) {
        lua_pushfstring(L, "\n\t...\t(skipping %d levels)", between);
        luaL_addvalue(&b);
    }
    while (ntail > 0)
        where_add_frame(&b, co, tail[--ntail]);
    if (nhead == 0 && n > 0)
        luaL_addstring(&b, "\n\t(asyncrun's own code: --debug shows its frames)");
    luaL_pushresult(&b);
}
