/* Name lookup and the socket primitives under async.tcp and async.unix (lua/async.lua puts
 * the connect-to-each-address loop and the accepting task on top). */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <lauxlib.h>

#include "larg.h"
#include "lasync.h"
#include "laux.h"
#include "lstream.h"
#include "io.h"
#include "net.h"
#include "resolve.h"
#include "resource.h"

#define SERVER_MT "async.Server"

struct server {
    struct resource res;
    int fd, port;
    bool closed;
    struct iosrc acc;
};

static void lnet_server_close(struct rt *rt, struct server *sv)
{
    if (sv->closed)
        return;
    sv->closed = true;
    iosrc_release(rt, &sv->acc); /* before close: epoll follows the open file */
    close(sv->fd);
    resource_remove(rt, &sv->res);
}

static void lnet_server_shutdown(struct rt *rt, struct resource *r)
{
    lnet_server_close(rt, (struct server *)r);
}

static void lnet_server_describe(struct resource *r, char *buf, size_t size)
{
    struct server *sv = (struct server *)r;
    if (sv->port)
        snprintf(buf, size, "listening on port %d (fd %d)", sv->port, sv->fd);
    else
        snprintf(buf, size, "listening on a Unix socket (fd %d)", sv->fd);
}

/* [-0, +1|3, e y] continuation of resolve: the request is ours again */
static int lnet_resolve_k(lua_State *L, int status, lua_KContext ctx)
{
    struct resolve_req *req = laux_looked_up(L);
    (void)status;
    (void)ctx;
    if (req->rc != 0) {
        int rc = req->rc;
        resolve_free(req);
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", lua_tostring(L, 1), gai_strerror(rc));
        lua_pushinteger(L, rc);
        return 3;
    }
    lua_newtable(L); /* the list */
    lua_newtable(L); /* seen */
    int n = 0;
    for (struct addrinfo *ai = req->res; ai; ai = ai->ai_next) {
        char buf[INET6_ADDRSTRLEN];
        const void *addr = ai->ai_family == AF_INET
                               ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                               : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            || !inet_ntop(ai->ai_family, addr, buf, sizeof buf))
            continue;
        if (lua_getfield(L, -1, buf) == LUA_TNIL) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -3, buf);
            lua_pushstring(L, buf);
            lua_rawseti(L, -4, ++n);
        }
        lua_pop(L, 1);
    }
    resolve_free(req);
    lua_pop(L, 1);
    return 1;
}

/* async.resolve(host) -> {address...} | nil, message, code [-1, +1|3, e y] */
static int lnet_resolve(lua_State *L)
{
    const char *host = laux_checkcstring(L, 1);
    lua_settop(L, 1);
    return laux_lookup(L, host, 0, lnet_resolve_k);
}

/* [-0, +1|3, e y] continuation of connect: the stream at index 3 waited for writability */
static int lnet_connect_k(lua_State *L, int status, lua_KContext ctx)
{
    struct stream *s = laux_check(L, 3, MT_STREAM);
    (void)ctx;
    if (status == LUA_YIELD) {
        struct task *t = rt_of(L)->current;
        if (t->wake != WAKE_OK)
            stream_close(rt_of(L), s); /* cancelled or timed out: no half-open socket left */
        laux_resumed(L, t);
    }
    int err = s->closed ? -EBADF : net_connect_result(s->fd);
    if (err) {
        stream_close(rt_of(L), s);
        return laux_failure(L, -err, NULL);
    }
    return 1;
}

/* core.connect(host, port) / core.connect(path) -> stream | nil, message, errno
 * [-(1|2), +1|3, e y] host is numeric; a path connects a Unix socket */
static int lnet_connect(lua_State *L)
{
    const char *host = laux_checkcstring(L, 1);
    int port = lua_isnoneornil(L, 2) ? -1 : (int)larg_integer(L, 2, 0, 65535, "port");
    int fd;
    lua_settop(L, 2);
    laux_interruption_point(L); /* not once the socket is made: it would be left open */
    int err = net_connect(host, port, &fd);
    if (err && err != -EINPROGRESS)
        return laux_failure(L, -err, NULL);
    struct stream *s = lstream_new(L);
    stream_init(rt_of(L), s, fd, STREAM_SOCKET, true, port < 0 ? "unix" : "tcp");
    if (err == 0)
        return 1;
    return laux_wait_io(L, &s->wr, 0, lnet_connect_k);
}

/* core.listen(host, port, reuseport) / core.listen(path) -> server | nil, message, errno */
static int lnet_listen(lua_State *L)
{
    const char *host = laux_optcstring(L, 1, NULL);
    int port = lua_isnoneornil(L, 2) ? -1 : (int)larg_integer(L, 2, 0, 65535, "port");
    int fd;
    int err = net_listen(host, port, lua_toboolean(L, 3), &fd);
    if (err)
        return laux_failure(L, -err, NULL);
    struct server *sv = lua_newuserdatauv(L, sizeof *sv, 0);
    memset(sv, 0, sizeof *sv);
    sv->fd = fd;
    sv->port = port < 0 ? 0 : net_port(fd);
    iosrc_init(&sv->acc, fd, EV_READ, "accept", fd);
    sv->res.kind = "server";
    sv->res.shutdown = lnet_server_shutdown;
    sv->res.describe = lnet_server_describe;
    resource_add(rt_of(L), &sv->res);
    rt_setmetatable(L, MT_SERVER);
    return 1;
}

static struct server *lnet_server(lua_State *L)
{
    return laux_check(L, 1, MT_SERVER);
}

/* server:accept() -> stream | nil, message, errno [-0, +1|3, e y] */
static int lnet_accept_k(lua_State *L, int status, lua_KContext ctx)
{
    struct server *sv = lnet_server(L);
    int fd;
    if (status == LUA_YIELD)
        laux_resumed(L, rt_of(L)->current);
    if (sv->closed)
        return laux_failure(L, EBADF, NULL);
    int err = net_accept(sv->fd, &fd);
    if (err == -EAGAIN) {
        return laux_wait_io(L, &sv->acc, ctx, lnet_accept_k);
    }
    if (err)
        return laux_failure(L, -err, NULL);
    struct stream *s = lstream_new(L);
    stream_init(rt_of(L), s, fd, STREAM_SOCKET, true, sv->port ? "tcp" : "unix");
    return 1;
}

static int lnet_accept(lua_State *L)
{
    lnet_server(L);
    lua_settop(L, 1);
    return lnet_accept_k(L, LUA_OK, 0);
}

/* server:port() -> integer [-0, +1, -] */
static int lnet_port(lua_State *L)
{
    lua_pushinteger(L, lnet_server(L)->port);
    return 1;
}

/* server:close() [-0, +0, -] stops accepting; its waiting acceptor wakes and finds it closed */
static int lnet_close(lua_State *L)
{
    lnet_server_close(rt_of(L), lnet_server(L));
    return 0;
}

/* server:closed() -> bool [-0, +1, -] */
static int lnet_closed(lua_State *L)
{
    lua_pushboolean(L, lnet_server(L)->closed);
    return 1;
}

static const luaL_Reg lnet_server_methods[] = {
    {"accept", lnet_accept}, {"port", lnet_port}, {"close", lnet_close},
    {"closed", lnet_closed}, {NULL, NULL},
};

static const luaL_Reg lnet_core[] = {
    {"connect", lnet_connect},
    {"listen", lnet_listen},
    {NULL, NULL},
};

void lnet_open(lua_State *L, int core)
{
    laux_newmetatable(L, MT_SERVER);
    luaL_newlib(L, lnet_server_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lnet_close);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_pushcfunction(L, lnet_resolve);
    lua_setfield(L, -2, "resolve");
    lua_pushvalue(L, core);
    luaL_setfuncs(L, lnet_core, 0);
    lua_pop(L, 1);
}
