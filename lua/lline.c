/* Line editing and history for the prompt, through libedit's readline interface when stdin
 * and stdout are terminals. libedit is loaded (dlopen) the first time the prompt reads a
 * line: linked in, it and the three libraries it needs would cost every run a third of its
 * start-up time. Without it the prompt reads plain lines. It reads through the loop: the task
 * waits for stdin to be readable and feeds editline one character at a time
 * (rl_callback_read_char), so other tasks keep running while a line is being typed. */
#include <dlfcn.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <lauxlib.h>

#include "lasync.h"
#include "laux.h"
#include "io.h"

#define LLINE_LIBRARY "libedit.so.2"

/* editline's line handler takes no context argument: what it hands over lands here, and
 * so does the I/O source on stdin (editline itself is process-wide state anyway). */
static struct {
    struct iosrc in;
    bool installed, done, loaded, missing;
    char *line; /* owned: malloc'd by editline */
    char prompt[16];
    /* the part of libedit's readline interface the prompt uses */
    void (*handler_install)(const char *prompt, void (*handler)(char *line));
    void (*handler_remove)(void);
    void (*read_char)(void);
    int (*add_history)(const char *line);
    int *catch_signals;
} lline;

/* Loads libedit once; false when it is not installed. The handle is kept to the end. */
static bool lline_load(void)
{
    if (lline.loaded || lline.missing)
        return lline.loaded;
    void *lib = dlopen(LLINE_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (lib) {
        /* POSIX: function pointers travel through dlsym's void * */
        *(void **)&lline.handler_install = dlsym(lib, "rl_callback_handler_install");
        *(void **)&lline.handler_remove = dlsym(lib, "rl_callback_handler_remove");
        *(void **)&lline.read_char = dlsym(lib, "rl_callback_read_char");
        *(void **)&lline.add_history = dlsym(lib, "add_history");
        lline.catch_signals = dlsym(lib, "rl_catch_signals");
    }
    lline.loaded = lib && lline.handler_install && lline.handler_remove && lline.read_char
                   && lline.add_history && lline.catch_signals;
    lline.missing = !lline.loaded;
    return lline.loaded;
}

static void lline_handler(char *line)
{
    lline.line = line;
    lline.done = true;
    lline.handler_remove();
    lline.installed = false;
}

static void lline_stop(void)
{
    if (lline.installed)
        lline.handler_remove();
    lline.installed = false;
}

/* [-0, +1, e y] feeds what stdin has, suspends until it has more or the line is done */
static int lline_read_k(lua_State *L, int status, lua_KContext ctx)
{
    struct task *t = rt_of(L)->current;
    if (status == LUA_YIELD && t->wake != WAKE_OK) {
        lline_stop(); /* the terminal goes back to normal before the error travels */
        laux_resumed(L, t);
    }
    while (!lline.done) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(&p, 1, 0) == 1) {
            lline.read_char();
            continue;
        }
        return laux_wait_io(L, &lline.in, ctx, lline_read_k);
    }
    if (!lline.line) {
        lua_pushnil(L); /* end of input */
        return 1;
    }
    if (*lline.line)
        lline.add_history(lline.line);
    lua_pushstring(L, lline.line);
    free(lline.line);
    lline.line = NULL;
    return 1;
}

/* core.readline(prompt) -> line | nil at the end | false without line editing [-1, +1, e y] */
static int lline_read(lua_State *L)
{
    const char *prompt = luaL_checkstring(L, 1);
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || !lline_load()) {
        lua_pushboolean(L, 0);
        return 1;
    }
    fflush(stdout);
    *lline.catch_signals = 0; /* Ctrl-C belongs to the prompt's listener */
    iosrc_init(&lline.in, STDIN_FILENO, EV_READ, "read", STDIN_FILENO);
    lline.done = false;
    lline.line = NULL;
    snprintf(lline.prompt, sizeof lline.prompt, "%s", prompt);
    lline.handler_install(lline.prompt, lline_handler);
    lline.installed = true;
    return lline_read_k(L, LUA_OK, 0);
}

/* core.readline_interrupted(): Ctrl-C at the prompt drops the line being typed [-0, +0, -] */
static int lline_interrupted(lua_State *L)
{
    (void)L;
    if (!lline.installed)
        return 0;
    /* a fresh handler starts a fresh, empty line */
    lline.handler_remove();
    fputs("\n", stdout);
    fflush(stdout);
    lline.handler_install(lline.prompt, lline_handler);
    return 0;
}

void lline_open(lua_State *L, int core)
{
    lua_pushcfunction(L, lline_read);
    lua_setfield(L, core, "readline");
    lua_pushcfunction(L, lline_interrupted);
    lua_setfield(L, core, "readline_interrupted");
}
