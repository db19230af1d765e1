/* async.exec and the Process object. A running child anchors its object in the registry,
 * so dropping the last reference neither kills it nor loses its status; the anchor goes
 * when the child is reaped (by wait, or by shutdown, which kills what still runs). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lauxlib.h>

#include "larg.h"
#include "lasync.h"
#include "laux.h"
#include "lstream.h"
#include "proc.h"
#include "signame.h"

#define PROC_MT "async.Process"

struct lproc {
    struct proc p;
    int ref; /* ref: registry, anchors the userdata while the child is unreaped */
    struct stream *handed[3]; /* borrowed, anchored by exec's opts: the parent's copies of
                               * pipes handed to the child, closed once its exec is over */
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
    int signo = larg_signal(L, 2, "TERM");
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

/* What opts.stdin/stdout/stderr ask for. */
enum { IO_INHERIT, IO_PIPE, IO_NULL, IO_STREAM, IO_FILE, IO_STDOUT };

struct lproc_io {
    int mode[3];
    struct stream *stream[3]; /* IO_STREAM: borrowed, anchored by opts */
    FILE *file[3];            /* IO_FILE: borrowed, anchored by opts */
    int fd[3];                /* a descriptor of ours (>= 3) handed to the child, or -1 */
    int pipes[3][2];          /* IO_PIPE: both ends until the spawn */
};

/* [-0, +0, v] opts[names[i]]: "inherit" | "pipe" | "null" | "stdout" (stderr only) | an
 * open stream | an open Lua file */
static void lproc_stdio_mode(lua_State *L, int opts, int i, struct lproc_io *io)
{
    static const char *const names[3] = {"stdin", "stdout", "stderr"};
    static const char *const what[3] = {"opts.stdin", "opts.stdout", "opts.stderr"};
    static const char *const modes[] = {"inherit", "pipe", "null"};
    io->mode[i] = IO_INHERIT;
    if (opts == 0 || lua_getfield(L, opts, names[i]) == LUA_TNIL) {
        if (opts)
            lua_pop(L, 1);
        return;
    }
    const char *mode = lua_type(L, -1) == LUA_TSTRING ? laux_cstring(L, -1, 2, what[i], 0) : NULL;
    for (int m = 0; mode && m < 3; m++)
        if (strcmp(mode, modes[m]) == 0) {
            io->mode[i] = m;
            lua_pop(L, 1);
            return;
        }
    if (mode && i == 2 && strcmp(mode, "stdout") == 0) {
        io->mode[i] = IO_STDOUT;
    } else if ((io->stream[i] = laux_test(L, -1, MT_STREAM))) {
        io->mode[i] = IO_STREAM;
        if (io->stream[i]->closed)
            luaL_error(L, "bad argument #2 to 'exec' (opts.%s is a closed stream)", names[i]);
        if (io->stream[i]->kind == STREAM_TLS)
            luaL_error(L, "bad argument #2 to 'exec' (opts.%s is a TLS stream: the child would "
                          "see ciphertext)", names[i]);
    } else if (luaL_testudata(L, -1, LUA_FILEHANDLE)) {
        luaL_Stream *f = lua_touserdata(L, -1);
        io->mode[i] = IO_FILE;
        io->file[i] = f->f;
        if (!f->closef)
            luaL_error(L, "bad argument #2 to 'exec' (opts.%s is a closed file)", names[i]);
    } else {
        luaL_error(L, "bad argument #2 to 'exec' (opts.%s must be \"inherit\", \"pipe\", "
                      "\"null\", %sa stream or a file)", names[i], i == 2 ? "\"stdout\", " : "");
    }
    lua_pop(L, 1);
}

/* A process's pipe (the only non-std stream on a pipe) is handed over, not shared. */
static bool lproc_handed_over(const struct stream *s)
{
    return !s->std && s->kind == STREAM_FD;
}

/* A stream's descriptor for a child, as a blocking one: the std streams by their own fd
 * 0-2 (the stream may hold a private non-blocking reopening), a socket made blocking (the
 * parent uses MSG_DONTWAIT on it), a process's pipe made blocking for good, since it is
 * handed over: the parent closes its copy after the spawn, as a shell does. */
static int lproc_stream_fd(struct stream *s)
{
    static const char *const std[3] = {"stdin", "stdout", "stderr"};
    if (s->std)
        for (int k = 0; k < 3; k++)
            if (strcmp(s->name, std[k]) == 0)
                return k;
    if (s->kind != STREAM_FILE) {
        int flags = fcntl(s->fd, F_GETFL);
        if (flags >= 0)
            fcntl(s->fd, F_SETFL, flags & ~O_NONBLOCK);
    }
    return s->fd;
}

static void lproc_io_close(struct lproc_io *io)
{
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 2; k++)
            if (io->pipes[i][k] >= 0)
                close(io->pipes[i][k]);
        if (io->fd[i] >= 0)
            close(io->fd[i]);
        io->pipes[i][0] = io->pipes[i][1] = io->fd[i] = -1;
    }
}

/* Makes what the child gets: pipes, and private copies (>= 3, so that no dup2 onto 0-2
 * clobbers another's source) of handed descriptors. 0 or errno, having closed them all. */
static int lproc_io_open(struct rt *rt, struct lproc_io *io, struct proc_stdio *stdio)
{
    for (int i = 0; i < 3; i++) {
        int src = -1;
        stdio->fd[i] = io->mode[i] == IO_INHERIT ? -1 : io->mode[i] == IO_STDOUT ? -3 : -2;
        if (io->mode[i] == IO_PIPE) {
            if (pipe2(io->pipes[i], O_CLOEXEC) != 0)
                goto fail;
            int child = i == 0 ? 0 : 1; /* the child reads its stdin and writes the others */
            stdio->fd[i] = io->pipes[i][child];
            fcntl(io->pipes[i][1 - child], F_SETFL, O_NONBLOCK);
        } else if (io->mode[i] == IO_STREAM) {
            stream_drain(rt, io->stream[i]); /* what the script wrote comes first, as for a file */
            src = lproc_stream_fd(io->stream[i]);
        } else if (io->mode[i] == IO_FILE) {
            fflush(io->file[i]); /* what the script wrote comes first */
            src = fileno(io->file[i]);
        }
        if (src >= 0 && (stdio->fd[i] = io->fd[i] = fcntl(src, F_DUPFD_CLOEXEC, 3)) < 0)
            goto fail;
    }
    return 0;
fail:;
    int err = errno;
    lproc_io_close(io);
    return err;
}

/* [-0, +0, v] opts.group: a process group of its own unless false */
static bool lproc_group(lua_State *L, int opts)
{
    bool group = true;
    if (opts && lua_getfield(L, opts, "group") != LUA_TNIL) {
        if (!lua_isboolean(L, -1))
            luaL_error(L, "bad argument #2 to 'exec' (opts.group must be a boolean)");
        group = lua_toboolean(L, -1);
    }
    if (opts)
        lua_pop(L, 1);
    return group;
}

/* A child reading the controlling terminal, asyncrun being its foreground job, stays in
 * asyncrun's group: in a background group, reading the terminal would stop it (SIGTTIN). */
static bool lproc_reads_terminal(const struct proc_stdio *stdio)
{
    int in = stdio->fd[0] == -1 ? 0 : stdio->fd[0];
    return in >= 0 && isatty(in) && tcgetpgrp(in) == getpgrp();
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
        const char *name = laux_cstring(L, -2, 2, "opts.env name", 0);
        if (strchr(name, '='))
            luaL_argerror(L, 2, lua_pushfstring(L, "opts.env name '%s' contains '='", name));
        if (!*name) /* "=value" is no variable: a child would see a broken environment */
            luaL_argerror(L, 2, "opts.env name is empty");
        laux_cstring(L, -1, 2, "opts.env value", 0);
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
    return laux_cstring(L, -1, 2, "opts.cwd", 0);
}

/* Who failed: the program, whose exec's failure names it, or asyncrun, whose own shortage of
 * descriptors, memory or processes names nobody (the child's setup counts as asyncrun's: it
 * runs with asyncrun's descriptor table). */
static const char *lproc_who(int err, const char *program)
{
    return err == -EMFILE || err == -ENFILE || err == -ENOMEM || err == -EAGAIN ? NULL : program;
}

/* The streams handed to the child: closed once it runs, as the shell does (their reader
 * sees the end when the child's writer ends); the parent's again (non-blocking) if not. */
static void lproc_hand_over(struct rt *rt, struct lproc *lp, bool child_runs)
{
    for (int i = 0; i < 3; i++) {
        struct stream *s = lp->handed[i];
        if (!s)
            continue;
        if (child_runs)
            stream_close(rt, s);
        else
            fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
        lp->handed[i] = NULL;
    }
}

/* [-0, +1|3, -] the end of exec once the child's exec is over (err 0) or failed (its streams
 * closed, the streams handed to it the parent's again): the process at 7, or the failure */
static int lproc_exec_end(lua_State *L, struct lproc *lp, int err)
{
    struct rt *rt = rt_of(L);
    lproc_hand_over(rt, lp, !err);
    if (!err) {
        lua_pushvalue(L, 7);
        return 1;
    }
    lua_getiuservalue(L, 7, 1); /* the parent's ends */
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1))
        stream_close(rt, lua_touserdata(L, -1));
    luaL_unref(L, LUA_REGISTRYINDEX, lp->ref);
    lp->ref = LUA_NOREF;
    lua_rawgeti(L, 3, 1);
    return laux_failure(L, -err, lproc_who(err, lua_tostring(L, -1)));
}

/* [-0, +1|3, e y] exec, waiting for the child's exec to be over: a cancellation meanwhile
 * kills the child */
static int lproc_exec_k(lua_State *L, int status, lua_KContext ctx)
{
    struct rt *rt = rt_of(L);
    struct lproc *lp = lua_touserdata(L, 7);
    (void)ctx;
    /* a coroutine resumed where the task cannot suspend: wait here after all */
    bool noyield = status == LUA_YIELD && rt->current->wake == WAKE_NOYIELD;
    if (status == LUA_YIELD && rt->current->wake != WAKE_OK && !noyield) {
        proc_close(rt, &lp->p);
        lproc_exec_end(L, lp, -EINTR);
        laux_resumed(L, rt->current);
        return 3;
    }
    bool block = noyield || !laux_can_suspend(L);
    /* a task always waits once, even for an exec already over: the same trace events */
    int r = status == LUA_OK && !block && lp->p.start ? 1 : proc_started(rt, &lp->p, block);
    if (r > 0)
        return laux_wait_io(L, &lp->p.started, 0, lproc_exec_k);
    return lproc_exec_end(L, lp, r);
}

/* async.exec(argv [, opts]) -> process | nil, message, errno [-(1|2), +1|3, e y] */
static int lproc_exec(lua_State *L)
{
    static const char *const names[3] = {"stdin", "stdout", "stderr"};
    struct rt *rt = rt_of(L);
    struct lproc_io io = {.fd = {-1, -1, -1}, .pipes = {{-1, -1}, {-1, -1}, {-1, -1}}};
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
        argv[i] = (char *)laux_cstring(L, -1, 1, "argv", i + 1);
        lua_rawseti(L, 3, i + 1);
    }
    argv[n] = NULL;
    char **envp = lproc_env(L, opts);     /* 5 */
    const char *cwd = lproc_cwd(L, opts); /* 6 */
    for (int i = 0; i < 3; i++)
        lproc_stdio_mode(L, opts, i, &io);
    /* 7: stack slots 1-7 stay while exec waits for the child's exec: the strings it reads */
    struct lproc *lp = lua_newuserdatauv(L, sizeof *lp, 1);
    memset(lp, 0, sizeof *lp);
    lp->ref = LUA_NOREF;
    rt_setmetatable(L, MT_PROC);
    lua_createtable(L, 0, 3); /* 8: the parent's ends, as streams (made before any fd) */
    struct stream *ends[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++)
        if (io.mode[i] == IO_PIPE) {
            ends[i] = lstream_new(L);
            lua_setfield(L, 8, names[i]);
        }
    for (int i = 0; i < 3; i++)
        if (io.mode[i] == IO_STREAM && lproc_handed_over(io.stream[i]))
            lp->handed[i] = io.stream[i];
    bool group = lproc_group(L, opts);
    int io_err = lproc_io_open(rt, &io, &stdio), err = -io_err;
    if (!io_err) {
        stdio.group = group && !lproc_reads_terminal(&stdio);
        err = proc_spawn(rt, &lp->p, argv, envp, cwd, &stdio);
    }
    if (err) {
        lproc_hand_over(rt, lp, false);
        lproc_io_close(&io);
        return laux_failure(L, -err, io_err ? NULL : lproc_who(err, argv[0]));
    }
    for (int i = 0; i < 3; i++) {
        int child = i == 0 ? 0 : 1;
        if (io.mode[i] == IO_PIPE) {
            stream_init(rt, ends[i], io.pipes[i][1 - child], STREAM_FD, true, "pipe");
            io.pipes[i][1 - child] = -1;
        }
    }
    lproc_io_close(&io);
    lua_setiuservalue(L, 7, 1);
    lua_pushvalue(L, 7);
    lp->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return lproc_exec_k(L, LUA_OK, 0);
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
