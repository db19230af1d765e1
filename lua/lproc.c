/* async.exec and the Process object. A running child anchors its object in the registry,
 * so dropping the last reference neither kills it nor loses its status; the anchor goes
 * when the child is reaped (by wait, or by shutdown, which kills what still runs). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lauxlib.h>

#include "lasync.h"
#include "laux.h"
#include "lstream.h"
#include "proc.h"
#include "signame.h"

#define PROC_MT "async.Process"

struct lproc {
    struct proc p;
    int ref; /* ref: registry, anchors the userdata while the child is unreaped */
};

static struct lproc *lproc_check(lua_State *L)
{
    return laux_check(L, 1, MT_PROC);
}

/* [-0, +0, -] reaps if the child has exited, dropping the anchor */
static bool lproc_reap(lua_State *L, struct lproc *lp)
{
    if (!proc_reap(rt_of(L), &lp->p))
        return false;
    luaL_unref(L, LUA_REGISTRYINDEX, lp->ref);
    lp->ref = LUA_NOREF;
    return true;
}

/* [-0, +2, -] code, nil after an exit; nil, "KILL" after a signal */
static int lproc_status(lua_State *L, const struct proc *p)
{
    if (p->signo) {
        const char *name = signame_name(p->signo);
        lua_pushnil(L);
        if (name)
            lua_pushstring(L, name);
        else
            lua_pushfstring(L, "%d", p->signo);
    } else {
        lua_pushinteger(L, p->code);
        lua_pushnil(L);
    }
    return 2;
}

/* process:wait() -> code, nil | nil, signame [-0, +2, e y] */
static int lproc_wait_k(lua_State *L, int status, lua_KContext ctx)
{
    struct lproc *lp = lproc_check(L);
    if (status == LUA_YIELD)
        laux_resumed(L, rt_of(L)->current);
    if (lp->p.reaped || lproc_reap(L, lp))
        return lproc_status(L, &lp->p);
    return laux_wait_io(L, &lp->p.exit, ctx, lproc_wait_k);
}

static int lproc_wait(lua_State *L)
{
    lproc_check(L);
    lua_settop(L, 1);
    return lproc_wait_k(L, LUA_OK, 0);
}

/* process:kill([signame]) -> true | nil, message, errno [-0, +1|3, v] */
static int lproc_kill(lua_State *L)
{
    struct lproc *lp = lproc_check(L);
    const char *name = luaL_optstring(L, 2, "TERM");
    int signo = signame_number(name);
    if (signo == 0)
        return luaL_argerror(L, 2, lua_pushfstring(L, "unknown signal '%s'", name));
    if (!lp->p.reaped)
        lproc_reap(L, lp);
    int err = proc_kill(&lp->p, signo);
    if (err)
        return laux_failure(L, -err, NULL);
    lua_pushboolean(L, 1);
    return 1;
}

/* process.pid, .stdin, .stdout, .stderr, methods [-0, +1, -] */
static int lproc_index(lua_State *L)
{
    struct lproc *lp = lproc_check(L);
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "pid") == 0) {
        lua_pushinteger(L, lp->p.pid);
        return 1;
    }
    lua_getiuservalue(L, 1, 1); /* the pipes */
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL)
        return 1;
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

/* tostring(process) [-0, +1, m] */
static int lproc_tostring(lua_State *L)
{
    struct lproc *lp = lproc_check(L);
    lua_pushfstring(L, "process %d (%s)", (int)lp->p.pid, lp->p.reaped ? "exited" : "running");
    return 1;
}

/* [-0, +0, v] "inherit" | "pipe" | "null" for opts[name] */
static int lproc_stdio_mode(lua_State *L, int opts, const char *name, const char *dflt)
{
    static const char *const modes[] = {"inherit", "pipe", "null", NULL};
    if (opts == 0 || lua_getfield(L, opts, name) == LUA_TNIL) {
        if (opts)
            lua_pop(L, 1);
        lua_pushstring(L, dflt);
    }
    const char *mode = lua_tostring(L, -1);
    for (int i = 0; modes[i]; i++)
        if (mode && strcmp(mode, modes[i]) == 0) {
            lua_pop(L, 1);
            return i;
        }
    return luaL_error(L, "bad argument #2 to 'exec' (opts.%s must be \"inherit\", \"pipe\" or "
                         "\"null\")", name);
}

/* [-0, +1, m] a NULL-terminated char* array in a userdata with one user value */
static char **lproc_strings(lua_State *L, int n)
{
    return lua_newuserdatauv(L, ((size_t)n + 1) * sizeof(char *), 1);
}

/* [-0, +1, e] opts.env, a name -> value table replacing the whole environment, as a
 * char* array (its strings anchored by its user value), or nil and NULL */
static char **lproc_env(lua_State *L, int opts)
{
    int n = 0;
    if (opts == 0 || lua_getfield(L, opts, "env") == LUA_TNIL) {
        if (opts == 0)
            lua_pushnil(L);
        return NULL;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "bad argument #2 to 'exec' (opts.env must be a table)");
    int env = lua_gettop(L);
    lua_newtable(L); /* env + 1: the "name=value" strings */
    for (lua_pushnil(L); lua_next(L, env); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
            luaL_error(L, "bad argument #2 to 'exec' (opts.env must map names to strings)");
        lua_pushfstring(L, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
        lua_rawseti(L, env + 1, ++n);
    }
    char **envp = lproc_strings(L, n);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, env + 1, i + 1);
        envp[i] = (char *)lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    envp[n] = NULL;
    lua_insert(L, env + 1);
    lua_setiuservalue(L, env + 1, 1);
    lua_remove(L, env);
    return envp;
}

/* [-0, +1, e] opts.cwd as a string, or nil and NULL */
static const char *lproc_cwd(lua_State *L, int opts)
{
    if (opts == 0 || lua_getfield(L, opts, "cwd") == LUA_TNIL) {
        if (opts == 0)
            lua_pushnil(L);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "bad argument #2 to 'exec' (opts.cwd must be a string)");
    return lua_tostring(L, -1);
}

static void lproc_close_pipes(int pipes[3][2])
{
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++)
            if (pipes[i][k] >= 0)
                close(pipes[i][k]);
}

/* async.exec(argv [, opts]) -> process | nil, message, errno [-(1|2), +1|3, e] */
static int lproc_exec(lua_State *L)
{
    static const char *const names[3] = {"stdin", "stdout", "stderr"};
    struct rt *rt = rt_of(L);
    int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}}, modes[3];
    struct proc_stdio stdio;
    luaL_checktype(L, 1, LUA_TTABLE);
    int opts = lua_isnoneornil(L, 2) ? 0 : (luaL_checktype(L, 2, LUA_TTABLE), 2);
    lua_settop(L, 2);
    int n = (int)luaL_len(L, 1);
    luaL_argcheck(L, n > 0, 1, "non-empty list expected");
    lua_createtable(L, n, 0); /* 3: the argument strings, anchored */
    char **argv = lproc_strings(L, n); /* 4 */
    for (int i = 0; i < n; i++) {
        int type = lua_rawgeti(L, 1, i + 1);
        if (type != LUA_TSTRING && type != LUA_TNUMBER)
            return luaL_argerror(L, 1, "list of strings expected");
        argv[i] = (char *)lua_tostring(L, -1);
        lua_rawseti(L, 3, i + 1);
    }
    argv[n] = NULL;
    char **envp = lproc_env(L, opts);     /* 5 */
    const char *cwd = lproc_cwd(L, opts); /* 6 */
    for (int i = 0; i < 3; i++)
        modes[i] = lproc_stdio_mode(L, opts, names[i], "inherit");
    struct lproc *lp = lua_newuserdatauv(L, sizeof *lp, 1); /* 7 */
    memset(lp, 0, sizeof *lp);
    lp->ref = LUA_NOREF;
    rt_setmetatable(L, MT_PROC);
    for (int i = 0; i < 3; i++) {
        stdio.fd[i] = modes[i] == 0 ? -1 : -2;
        if (modes[i] != 1)
            continue;
        if (pipe2(pipes[i], O_CLOEXEC) != 0) {
            int err = errno;
            lproc_close_pipes(pipes);
            return laux_failure(L, err, NULL);
        }
        int child = i == 0 ? 0 : 1; /* the child reads its stdin and writes the others */
        stdio.fd[i] = pipes[i][child];
        fcntl(pipes[i][1 - child], F_SETFL, O_NONBLOCK);
    }
    int err = proc_spawn(rt, &lp->p, argv, envp, cwd, &stdio);
    if (err) {
        lproc_close_pipes(pipes);
        return laux_failure(L, -err, argv[0]);
    }
    lua_createtable(L, 0, 3); /* the parent's ends, as streams */
    for (int i = 0; i < 3; i++) {
        if (modes[i] != 1)
            continue;
        int child = i == 0 ? 0 : 1;
        close(pipes[i][child]);
        struct stream *s = lstream_new(L);
        stream_init(rt, s, pipes[i][1 - child], STREAM_FD, true, "pipe");
        lua_setfield(L, -2, names[i]);
    }
    lua_setiuservalue(L, 7, 1);
    lua_pushvalue(L, 7);
    lp->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

static const luaL_Reg lproc_methods[] = {
    {"wait", lproc_wait},
    {"kill", lproc_kill},
    {NULL, NULL},
};

void lproc_open(lua_State *L)
{
    laux_newmetatable(L, MT_PROC);
    luaL_newlib(L, lproc_methods);
    lua_pushcclosure(L, lproc_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lproc_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lua_pushcfunction(L, lproc_exec);
    lua_setfield(L, -2, "exec");
}
