/* async.udp: datagram sockets over runtime/udp.h. A host is a numeric address, "localhost"
 * (the loopback of the socket's family, without a lookup), or a name, looked up on the
 * resolver's threads (resolve.h) while only the calling task waits. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <lauxlib.h>

#include "lasync.h"
#include "laux.h"
#include "larg.h"
#include "io.h"
#include "net.h"
#include "resolve.h"
#include "resource.h"
#include "udp.h"

/* The receive buffer, on the C stack: the largest datagram IPv6 can carry fits. */
#define LUDP_BUF 65536

struct udp {
    struct resource res;
    int fd, port, family;
    bool dual, closed;
    struct iosrc rd, wr;
};

/* The stack of sendto, connect once normalised, and where the address goes. */
enum { LUDP_HOST = 3, LUDP_PORT = 4, LUDP_ADDR = 5 };
enum { LUDP_SENDTO, LUDP_CONNECT };

static void ludp_close_socket(struct rt *rt, struct udp *u)
{
    if (u->closed)
        return;
    u->closed = true;
    iosrc_release(rt, &u->rd); /* before close: epoll follows the open file */
    iosrc_release(rt, &u->wr);
    close(u->fd);
    resource_remove(rt, &u->res);
}

static void ludp_shutdown(struct rt *rt, struct resource *r)
{
    ludp_close_socket(rt, (struct udp *)r);
}

static void ludp_describe(struct resource *r, char *buf, size_t size)
{
    snprintf(buf, size, "(fd %d)", ((struct udp *)r)->fd);
}

static struct udp *ludp_check(lua_State *L)
{
    return laux_check(L, 1, MT_UDP);
}

/* [-0, +2, m] what every method of a closed socket returns */
static int ludp_closed(lua_State *L)
{
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
}

/* [-0, +0, v] a port argument: an integer (or a numeric string) from 0 to 65535 */
static int ludp_checkport(lua_State *L, int idx)
{
    return (int)larg_integer(L, idx, 0, 65535, "port");
}

/* The address of a numeric host or "localhost": 0, or -EINVAL when host is a name. */
static int ludp_numeric(const char *host, int port, int family, bool dual, struct udp_addr *a)
{
    if (strcmp(host, "localhost") == 0)
        host = family == AF_INET6 && !dual ? "::1" : "127.0.0.1";
    return net_address(host, port, false, &a->ss, &a->len);
}

/* [-0, +0|3, v] after a lookup of host: 0 with the first address that a socket of that
 * family can use (0: any family, to bind) in a, with port; else the failure, pushed. */
static int ludp_resolved(lua_State *L, const char *host, int port, int family, bool dual,
                         struct udp_addr *a)
{
    struct resolve_req *req = laux_looked_up(L);
    int rc = req->rc, err = -EAFNOSUPPORT;
    for (struct addrinfo *ai = req->res; ai && err; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof a->ss)
            continue;
        memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
        a->len = ai->ai_addrlen;
        udp_set_port(a, port);
        err = family ? udp_fit(a, family, dual) : 0;
    }
    resolve_free(req);
    if (rc) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", host, gai_strerror(rc));
        lua_pushinteger(L, rc);
        return 3;
    }
    return err ? laux_failure(L, -err, host) : 0;
}

/* Binds the closed socket u to a and opens it: 0 or -errno. */
static int ludp_start(struct rt *rt, struct udp *u, const struct udp_addr *a)
{
    int err = udp_bind(a, &u->fd, &u->dual);
    if (err)
        return err;
    u->closed = false;
    u->family = a->ss.ss_family;
    u->port = net_port(u->fd);
    iosrc_init(&u->rd, u->fd, EV_READ, "recv", u->fd);
    iosrc_init(&u->wr, u->fd, EV_WRITE, "send", u->fd);
    resource_add(rt, &u->res);
    return 0;
}

/* [-0, +1|3, e y] continuation of bind's lookup: the socket waits at index 3 */
static int ludp_bind_k(lua_State *L, int status, lua_KContext ctx)
{
    struct udp *u = lua_touserdata(L, 3);
    struct udp_addr a;
    (void)status;
    (void)ctx;
    int n = ludp_resolved(L, lua_tostring(L, 1), (int)lua_tointeger(L, 2), 0, false, &a);
    if (n)
        return n;
    int err = ludp_start(rt_of(L), u, &a);
    return err ? laux_failure(L, -err, NULL) : 1;
}

/* async.udp.bind(host, port) -> socket | nil, message, errno [-2, +1|3, e y] host nil:
 * every address, IPv6 and IPv4 (IPv4 alone where the system has no IPv6) */
static int ludp_bind(lua_State *L)
{
    const char *host = laux_optcstring(L, 1, NULL);
    int port = ludp_checkport(L, 2);
    struct udp_addr a;
    int err;
    lua_settop(L, 2);
    struct udp *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    u->fd = -1;
    u->closed = true; /* until bound: __gc has nothing to do */
    u->res.kind = "udp";
    u->res.shutdown = ludp_shutdown;
    u->res.describe = ludp_describe;
    rt_setmetatable(L, MT_UDP);
    if (!host) {
        net_address("::", port, true, &a.ss, &a.len);
        err = ludp_start(rt_of(L), u, &a);
        if (err == -EAFNOSUPPORT) {
            net_address("0.0.0.0", port, true, &a.ss, &a.len);
            err = ludp_start(rt_of(L), u, &a);
        }
    } else {
        err = ludp_numeric(host, port, 0, false, &a);
        if (err == -EINVAL)
            return laux_lookup(L, host, 0, ludp_bind_k);
        if (!err)
            err = ludp_start(rt_of(L), u, &a);
    }
    return err ? laux_failure(L, -err, NULL) : 1;
}

/* [-0, +1|2|3, e y] sends the data at index 2 to the address at LUDP_ADDR (nil: to the
 * connected peer), waiting while the send buffer is full */
static int ludp_send_k(lua_State *L, int status, lua_KContext ctx)
{
    struct udp *u = ludp_check(L);
    size_t n;
    const char *data = lua_tolstring(L, 2, &n);
    if (status == LUA_YIELD)
        laux_resumed(L, rt_of(L)->current);
    if (u->closed)
        return ludp_closed(L);
    int err = udp_send(u->fd, data, n, lua_touserdata(L, LUDP_ADDR));
    if (err == -EAGAIN)
        return laux_wait_io(L, &u->wr, ctx, ludp_send_k);
    if (err)
        return laux_failure(L, -err, NULL);
    lua_pushboolean(L, 1);
    return 1;
}

/* [-0, +1|2|3, e] connects to the address at LUDP_ADDR */
static int ludp_connect_to(lua_State *L)
{
    struct udp *u = ludp_check(L);
    if (u->closed)
        return ludp_closed(L);
    int err = udp_connect(u->fd, lua_touserdata(L, LUDP_ADDR));
    if (err)
        return laux_failure(L, -err, lua_tostring(L, LUDP_HOST));
    lua_pushboolean(L, 1);
    return 1;
}

/* [-0, +1|2|3, e y] puts a at LUDP_ADDR, then does op */
static int ludp_then(lua_State *L, const struct udp_addr *a, lua_KContext op)
{
    lua_settop(L, LUDP_ADDR - 1);
    memcpy(lua_newuserdatauv(L, sizeof *a, 0), a, sizeof *a);
    return op == LUDP_CONNECT ? ludp_connect_to(L) : ludp_send_k(L, LUA_OK, 0);
}

/* [-0, +1|2|3, e y] continuation of a lookup for sendto or connect (op) */
static int ludp_target_k(lua_State *L, int status, lua_KContext op)
{
    struct udp *u = ludp_check(L);
    struct udp_addr a;
    (void)status;
    int n = ludp_resolved(L, lua_tostring(L, LUDP_HOST), (int)lua_tointeger(L, LUDP_PORT),
                          u->family, u->dual, &a);
    return n ? n : ludp_then(L, &a, op);
}

/* [-0, +1|2|3, e y] finds the address of the host and port at LUDP_HOST and LUDP_PORT for
 * u (a name suspends the task while it is looked up), then does op */
static int ludp_target(lua_State *L, struct udp *u, lua_KContext op)
{
    const char *host = lua_tostring(L, LUDP_HOST);
    struct udp_addr a;
    if (u->closed)
        return ludp_closed(L);
    int err = ludp_numeric(host, (int)lua_tointeger(L, LUDP_PORT), u->family, u->dual, &a);
    if (err == -EINVAL)
        return laux_lookup(L, host, op, ludp_target_k);
    if (err || (err = udp_fit(&a, u->family, u->dual)))
        return laux_failure(L, -err, host);
    return ludp_then(L, &a, op);
}

/* sock:sendto(data, host, port) -> true | nil, message, errno [-4, +1|2|3, e y] */
static int ludp_sendto(lua_State *L)
{
    struct udp *u = ludp_check(L);
    luaL_checklstring(L, 2, NULL);
    laux_checkcstring(L, LUDP_HOST);
    ludp_checkport(L, LUDP_PORT);
    lua_settop(L, LUDP_PORT);
    return ludp_target(L, u, LUDP_SENDTO);
}

/* sock:connect(host, port) -> true | nil, message, errno [-3, +1|2|3, e y] sets the peer
 * of send and recv, and the only sender recv accepts */
static int ludp_connect(lua_State *L)
{
    struct udp *u = ludp_check(L);
    laux_checkcstring(L, 2);
    ludp_checkport(L, 3);
    lua_settop(L, 3);
    lua_pushnil(L);
    lua_insert(L, 2); /* stack: sock, nil, host, port, as sendto's */
    return ludp_target(L, u, LUDP_CONNECT);
}

/* sock:send(data) -> true | nil, message, errno [-2, +1|2|3, e y] to the connected peer */
static int ludp_send(lua_State *L)
{
    ludp_check(L);
    luaL_checklstring(L, 2, NULL);
    lua_settop(L, 2); /* drop extra arguments: LUDP_ADDR must not be the caller's */
    lua_settop(L, LUDP_ADDR); /* nil there: the connected peer */
    return ludp_send_k(L, LUA_OK, 0);
}

/* [-0, +1|2|3, e y] receives one datagram of at most the size at index 2, waiting for
 * one; with_from: its sender's host and port too */
static int ludp_recv_k(lua_State *L, int status, lua_KContext with_from)
{
    struct udp *u = ludp_check(L);
    char buf[LUDP_BUF];
    struct udp_addr from;
    char host[INET6_ADDRSTRLEN];
    int port;
    if (status == LUA_YIELD)
        laux_resumed(L, rt_of(L)->current);
    if (u->closed)
        return ludp_closed(L);
    ssize_t n = udp_recv(u->fd, buf, (size_t)lua_tointeger(L, 2), with_from ? &from : NULL);
    if (n == -EAGAIN)
        return laux_wait_io(L, &u->rd, with_from, ludp_recv_k);
    if (n < 0)
        return laux_failure(L, (int)-n, NULL);
    lua_pushlstring(L, buf, (size_t)n);
    if (!with_from)
        return 1;
    if (udp_name(&from, host, sizeof host, &port) != 0)
        return 1; /* not an IP sender: cannot happen on these sockets */
    lua_pushstring(L, host);
    lua_pushinteger(L, port);
    return 3;
}

/* [-(1|2), +1|2|3, e y] recv and recvfrom: the size argument, then the receive */
static int ludp_receive(lua_State *L, lua_KContext with_from)
{
    ludp_check(L);
    lua_Integer max = larg_optinteger(L, 2, LUDP_BUF, 1, LUA_MAXINTEGER, "size");
    lua_settop(L, 1);
    lua_pushinteger(L, max < LUDP_BUF ? max : LUDP_BUF);
    return ludp_recv_k(L, LUA_OK, with_from);
}

/* sock:recvfrom([max]) -> data, host, port | nil, message, errno [-(1|2), +2|3, e y]
 * a longer datagram is cut to max bytes */
static int ludp_recvfrom(lua_State *L)
{
    return ludp_receive(L, 1);
}

/* sock:recv([max]) -> data | nil, message, errno [-(1|2), +1|2|3, e y] */
static int ludp_recv(lua_State *L)
{
    return ludp_receive(L, 0);
}

/* sock:port() -> integer | nil, "closed" [-1, +1|2, -] the local port */
static int ludp_port(lua_State *L)
{
    struct udp *u = ludp_check(L);
    if (u->closed)
        return ludp_closed(L);
    lua_pushinteger(L, u->port);
    return 1;
}

/* sock:close() -> true [-1, +1, -] a task waiting in recv or send wakes with nil, "closed" */
static int ludp_close(lua_State *L)
{
    ludp_close_socket(rt_of(L), ludp_check(L));
    lua_pushboolean(L, 1);
    return 1;
}

/* __gc and __close [-1, +0, -] */
static int ludp_gc(lua_State *L)
{
    ludp_close_socket(rt_of(L), ludp_check(L));
    return 0;
}

/* tostring(sock) [-1, +1, m] */
static int ludp_tostring(lua_State *L)
{
    struct udp *u = ludp_check(L);
    if (u->closed)
        lua_pushliteral(L, "udp (closed)");
    else
        lua_pushfstring(L, "udp (fd %d)", u->fd);
    return 1;
}

static const luaL_Reg ludp_methods[] = {
    {"sendto", ludp_sendto}, {"recvfrom", ludp_recvfrom}, {"connect", ludp_connect},
    {"send", ludp_send},     {"recv", ludp_recv},         {"port", ludp_port},
    {"close", ludp_close},   {NULL, NULL},
};

void ludp_open(lua_State *L)
{
    /* stack: async */
    laux_newmetatable(L, MT_UDP);
    luaL_newlib(L, ludp_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ludp_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, ludp_gc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, ludp_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, ludp_bind);
    lua_setfield(L, -2, "bind");
    lua_setfield(L, -2, "udp");
}
