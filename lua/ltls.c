/* The C half of async.tls (lua/async.lua composes it with async.tcp): contexts, and the
 * handshake that turns a connected socket stream into a TLS stream in place. libssl is
 * loaded by the first call, never at start-up (runtime/tls.h). */
#include <errno.h>
#include <lauxlib.h>

#include "lasync.h"
#include "laux.h"
#include "lstream.h"
#include "tls.h"

#define LTLS_CTX_MT "async.TLSContext"
#define LTLS_LIB "async.tls"              /* registry: the struct tls userdata */
#define LTLS_SYSTEM "async.tls.system"    /* registry: the client context on the system's CAs */

/* A context: kept by the Lua code that uses it, and by each connection made in it. */
struct ltls_ctx {
    struct tls *t;
    struct ssl_ctx_st *ctx;
};

/* [-0, +0, e] libssl's functions, loaded by the first call; raises the message naming the
 * package to install when the library is missing */
static struct tls *ltls_lib(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, LTLS_LIB) == LUA_TUSERDATA) {
        struct tls *t = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return t;
    }
    lua_pop(L, 1);
    char err[512];
    struct tls *t = lua_newuserdatauv(L, tls_size(), 0);
    if (tls_load(t, err, sizeof err) != 0) {
        lua_pushstring(L, err);
        lua_error(L);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, LTLS_LIB); /* never collected: streams point into it */
    return t;
}

/* __gc of a context [-0, +0, -] */
static int ltls_ctx_gc(lua_State *L)
{
    struct ltls_ctx *u = luaL_checkudata(L, 1, LTLS_CTX_MT);
    if (u->ctx)
        tls_ctx_free(u->t, u->ctx);
    u->ctx = NULL;
    return 0;
}

/* core.tls_context(server, cafile | cert [, key]) -> context | nil, msg, errno [-(2|3), +1|3, e]
 * a client context trusting cafile (nil: the system's CAs, loaded once), or a server's */
static int ltls_context(lua_State *L)
{
    struct tls *t = ltls_lib(L);
    bool server = lua_toboolean(L, 1);
    const char *a = luaL_optstring(L, 2, NULL), *b = luaL_optstring(L, 3, NULL);
    bool system = !server && !a;
    if (system && lua_getfield(L, LUA_REGISTRYINDEX, LTLS_SYSTEM) == LUA_TUSERDATA)
        return 1;
    struct ltls_ctx *u = lua_newuserdatauv(L, sizeof *u, 0);
    struct tls_error e;
    u->t = t;
    u->ctx = NULL;
    luaL_setmetatable(L, LTLS_CTX_MT);
    u->ctx = server ? tls_ctx_server(t, a, b, &e) : tls_ctx_client(t, a, &e);
    if (!u->ctx) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        lua_pushinteger(L, e.code);
        return 3;
    }
    if (system) {
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, LTLS_SYSTEM);
    }
    return 1;
}

/* core.tls_check(s) -> nil | why s cannot go under TLS [-1, +1, m] */
static int ltls_check(lua_State *L)
{
    struct stream *s = laux_test(L, 1, MT_STREAM);
    if (!s)
        lua_pushfstring(L, "stream expected, got %s", luaL_typename(L, 1));
    else if (s->closed)
        lua_pushliteral(L, "closed stream");
    else if (s->kind == STREAM_TLS)
        lua_pushliteral(L, "already a TLS stream");
    else if (s->kind != STREAM_SOCKET || s->std)
        lua_pushliteral(L, "not a connected socket (async.tcp or async.unix)");
    else
        lua_pushnil(L);
    return 1;
}

/* [-0, +3, -] a failed wrap: the stream is closed (half a handshake cannot be undone) */
static int ltls_failed(lua_State *L, struct stream *s, const char *msg, int code)
{
    stream_close(rt_of(L), s);
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushinteger(L, code);
    return 3;
}

enum { LTLS_FLUSH, LTLS_HANDSHAKE };

/* [-0, +1|3, e y] continuation of tls_wrap: stack: stream, context, servername, insecure,
 * server; ctx: the phase. Plain bytes written before the switch go out first. */
static int ltls_wrap_k(lua_State *L, int status, lua_KContext phase)
{
    struct stream *s = laux_check(L, 1, MT_STREAM);
    struct rt *rt = rt_of(L);
    struct tls_error e;
    if (status == LUA_YIELD) {
        struct task *t = rt->current;
        if (t->wake != WAKE_OK)
            stream_close(rt, s); /* cancelled or timed out: no half-made connection left */
        laux_resumed(L, t);
    }
    if (s->closed)
        return laux_failure(L, EBADF, NULL);
    if (phase == LTLS_FLUSH) {
        int r = stream_flush_some(s);
        if (r == -EAGAIN)
            return laux_wait_io(L, &s->wr, phase, ltls_wrap_k);
        if (r < 0)
            return ltls_failed(L, s, strerror(-r), -r);
        struct ltls_ctx *u = lua_touserdata(L, 2);
        s->tls = tls_conn_new(u->t, u->ctx, s->fd, lua_toboolean(L, 5), lua_tostring(L, 3),
                              lua_toboolean(L, 4));
        if (!s->tls)
            return ltls_failed(L, s, strerror(ENOMEM), ENOMEM);
        s->kind = STREAM_TLS;
        s->name = "tls";
        s->rd.what = s->wr.what = "handshake"; /* what dumps say the task waits for */
        phase = LTLS_HANDSHAKE;
    }
    switch (tls_handshake(s->tls, &e)) {
    case TLS_WANT_READ:
        return laux_wait_io(L, &s->rd, phase, ltls_wrap_k);
    case TLS_WANT_WRITE:
        return laux_wait_io(L, &s->wr, phase, ltls_wrap_k);
    case TLS_FAILED:
        return ltls_failed(L, s, e.msg, e.code);
    case TLS_DONE:
        break;
    }
    s->rd.what = "read";
    s->wr.what = "write";
    lua_settop(L, 1);
    return 1;
}

/* core.tls_wrap(s, context, servername, insecure, server) -> s | nil, msg, code
 * [-5, +1|3, e y] s (checked by tls_check) becomes a TLS stream once the handshake is done;
 * a failure closes it */
static int ltls_wrap(lua_State *L)
{
    struct stream *s = lstream_check(L, 1);
    luaL_checkudata(L, 2, LTLS_CTX_MT);
    lua_settop(L, 5);
    if (s->len > 0) /* bytes the socket BIO would never see */
        return ltls_failed(L, s, "TLS: the peer's handshake came before the switch to TLS",
                           EPROTO);
    return ltls_wrap_k(L, LUA_OK, LTLS_FLUSH);
}

static const luaL_Reg ltls_core[] = {
    {"tls_context", ltls_context},
    {"tls_check", ltls_check},
    {"tls_wrap", ltls_wrap},
    {NULL, NULL},
};

void ltls_open(lua_State *L, int core)
{
    luaL_newmetatable(L, LTLS_CTX_MT);
    lua_pushcfunction(L, ltls_ctx_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_pushvalue(L, core);
    luaL_setfuncs(L, ltls_core, 0);
    lua_pop(L, 1);
}
