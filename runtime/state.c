/* luaL_newstate would allocate the state's first blocks with realloc before lua_setallocf
 * could take over, and alloc.c must see every block it is later asked to free. So the
 * state is made with lua_newstate, and the panic and warning functions luaL_newstate
 * installs (static in lauxlib) are written again here, with the same messages. */
#include <stdio.h>
#include <string.h>

#include "state.h"
#include "alloc.h"

static int state_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL)
        msg = "error object is not a string";
    fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n", msg);
    fflush(stderr);
    return 0;
}

static void state_warn_on(void *ud, const char *message, int tocont);
static void state_warn_off(void *ud, const char *message, int tocont);

/* "@on" and "@off" switch warnings; true when message was one of those controls */
static bool state_warn_control(lua_State *L, const char *message, int tocont)
{
    if (tocont || *message != '@')
        return false;
    if (strcmp(message + 1, "off") == 0)
        lua_setwarnf(L, state_warn_off, L);
    else if (strcmp(message + 1, "on") == 0)
        lua_setwarnf(L, state_warn_on, L);
    return true;
}

static void state_warn_off(void *ud, const char *message, int tocont)
{
    state_warn_control(ud, message, tocont);
}

/* the rest of a message that is being continued */
static void state_warn_cont(void *ud, const char *message, int tocont)
{
    fputs(message, stderr);
    if (tocont) {
        lua_setwarnf(ud, state_warn_cont, ud);
    } else {
        fputs("\n", stderr);
        lua_setwarnf(ud, state_warn_on, ud);
    }
    fflush(stderr);
}

static void state_warn_on(void *ud, const char *message, int tocont)
{
    if (state_warn_control(ud, message, tocont))
        return;
    fputs("Lua warning: ", stderr);
    state_warn_cont(ud, message, tocont);
}

lua_State *state_new(struct alloc *a)
{
    lua_State *L = lua_newstate(alloc_lua, a);
    if (!L) {
        alloc_close(a);
        return NULL;
    }
    lua_atpanic(L, state_panic);
    lua_setwarnf(L, state_warn_off, L);
    return L;
}
