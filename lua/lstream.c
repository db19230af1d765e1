/* Streams as Lua sees them: Lua's file API (read with "l", "L", "a" or a count, lines,
 * write, close, <close>) plus read_some, over runtime/stream.c. A read or write that would
 * block suspends the task on the stream's I/O source and continues where it stopped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <lauxlib.h>

#include "lasync.h"
#include "laux.h"
#include "lstream.h"
#include "stream.h"

/* Results of one read step. */
enum { READ_DONE, READ_EOF, READ_WAIT, READ_ERROR };

struct stream *lstream_check(lua_State *L, int idx)
{
    struct stream *s = laux_check(L, idx, MT_STREAM);
    if (s->closed)
        luaL_error(L, "attempt to use a closed stream");
    return s;
}

struct stream *lstream_new(lua_State *L)
{
    struct stream *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    s->closed = true; /* until stream_init */
    rt_setmetatable(L, MT_STREAM);
    return s;
}

/* [-0, +0, -] fills the buffer once; READ_DONE when bytes or the end arrived */
static int lstream_fill(struct stream *s, int *err)
{
    ssize_t n = stream_fill(s);
    if (n >= 0)
        return READ_DONE;
    if (n == -EAGAIN)
        return READ_WAIT;
    *err = (int)-n;
    return READ_ERROR;
}

/* [-0, +1, m] one format; pushes its result unless it returns READ_WAIT or READ_ERROR */
static int lstream_read_one(lua_State *L, struct stream *s, int fmt, int *err)
{
    for (;;) {
        if (lua_type(L, fmt) == LUA_TNUMBER) {
            /* as for files: up to n bytes, nil at the end; read(0) tests for the end */
            size_t want = (size_t)luaL_checkinteger(L, fmt);
            if (s->len > 0 && (s->len >= want || s->eof)) {
                size_t n = s->len < want ? s->len : want;
                lua_pushlstring(L, s->buf + s->off, n);
                stream_consume(s, n);
                return READ_DONE;
            }
            if (s->eof) {
                lua_pushnil(L);
                return READ_EOF;
            }
        } else {
            const char *f = lua_tostring(L, fmt);
            if (*f == '*')
                f++; /* Lua 5.4 still accepts "*l" */
            if (*f == 'l' || *f == 'L') {
                const char *nl = s->len ? memchr(s->buf + s->off, '\n', s->len) : NULL;
                if (nl || (s->eof && s->len > 0)) {
                    size_t n = nl ? (size_t)(nl - (s->buf + s->off)) + 1 : s->len;
                    size_t keep = (nl && *f == 'l') ? n - 1 : n;
                    lua_pushlstring(L, s->buf + s->off, keep);
                    stream_consume(s, n);
                    return READ_DONE;
                }
                if (s->eof) {
                    lua_pushnil(L);
                    return READ_EOF;
                }
            } else if (*f == 'a') {
                if (s->eof) {
                    lua_pushlstring(L, s->buf ? s->buf + s->off : "", s->len);
                    stream_consume(s, s->len);
                    return READ_DONE;
                }
            } else {
                return luaL_argerror(L, fmt, "invalid format");
            }
        }
        int r = lstream_fill(s, err);
        if (r != READ_DONE)
            return r;
    }
}

/* ctx flag of lines(): a read error raises, as file:lines does */
#define READ_RAISE ((lua_KContext)1 << 32)

/* stack: stream, formats (nfmt), results (done so far). ctx = flags | nfmt << 16 | done */
static int lstream_read_k(lua_State *L, int status, lua_KContext ctx)
{
    struct stream *s = laux_check(L, 1, MT_STREAM);
    int nfmt = (int)((ctx >> 16) & 0xffff), done = (int)(ctx & 0xffff), err = 0;
    if (status == LUA_YIELD)
        laux_resumed(L, rt_of(L)->current);
    if (s->closed)
        return laux_failure(L, EBADF, NULL);
    for (; done < nfmt; done++) {
        int r = lstream_read_one(L, s, 2 + done, &err);
        if (r == READ_EOF)
            return done + 1;
        if (r == READ_ERROR) {
            if (ctx & READ_RAISE)
                return luaL_error(L, "%s", strerror(err));
            return laux_failure(L, err, NULL);
        }
        if (r == READ_WAIT) {
            return laux_wait_io(L, &s->rd, (ctx & READ_RAISE) | (lua_KContext)nfmt << 16 | done,
                                lstream_read_k);
        }
    }
    return nfmt;
}

/* s:read([fmt...]) -> ... [-(n), +n, e y] */
static int lstream_read(lua_State *L)
{
    lstream_check(L, 1);
    if (lua_gettop(L) == 1)
        lua_pushliteral(L, "l");
    int nfmt = lua_gettop(L) - 1;
    luaL_argcheck(L, nfmt < 0xffff, 2, "too many formats");
    luaL_checkstack(L, nfmt + 3, "too many formats");
    for (int i = 2; i <= nfmt + 1; i++)
        if (lua_type(L, i) != LUA_TNUMBER && lua_type(L, i) != LUA_TSTRING)
            return luaL_argerror(L, i, "invalid format");
    return lstream_read_k(L, LUA_OK, (lua_KContext)nfmt << 16);
}

/* [-0, +1, e y] continuation of read_some: stack: stream, max */
static int lstream_read_some_k(lua_State *L, int status, lua_KContext ctx)
{
    struct stream *s = laux_check(L, 1, MT_STREAM);
    size_t max = (size_t)ctx;
    int err = 0;
    lua_settop(L, 2);
    if (status == LUA_YIELD)
        laux_resumed(L, rt_of(L)->current);
    if (s->closed)
        return laux_failure(L, EBADF, NULL);
    while (s->len == 0 && !s->eof) {
        int r = lstream_fill(s, &err);
        if (r == READ_ERROR)
            return laux_failure(L, err, NULL);
        if (r == READ_WAIT) {
            return laux_wait_io(L, &s->rd, ctx, lstream_read_some_k);
        }
    }
    if (s->len == 0) {
        lua_pushnil(L);
        return 1;
    }
    size_t n = s->len < max ? s->len : max;
    lua_pushlstring(L, s->buf + s->off, n);
    stream_consume(s, n);
    return 1;
}

/* s:read_some([max]) -> string | nil [-(0|1), +1, e y] */
static int lstream_read_some(lua_State *L)
{
    lstream_check(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, 65536);
    luaL_argcheck(L, max > 0, 2, "positive size expected");
    lua_settop(L, 2);
    return lstream_read_some_k(L, LUA_OK, (lua_KContext)max);
}

/* the iterator of s:lines(fmt) [-0, +1, e y] */
static int lstream_lines_next(lua_State *L)
{
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    lstream_check(L, 1);
    return lstream_read_k(L, LUA_OK, READ_RAISE | (lua_KContext)1 << 16);
}

/* s:lines([fmt]) -> iterator [-(0|1), +1, m] */
static int lstream_lines(lua_State *L)
{
    lstream_check(L, 1);
    if (lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        lua_pushliteral(L, "l");
    }
    lua_settop(L, 2);
    lua_pushcclosure(L, lstream_lines_next, 2);
    return 1;
}

/* stack: stream, data...; ctx = argument index << 40 | offset written in it */
static int lstream_write_k(lua_State *L, int status, lua_KContext ctx)
{
    struct stream *s = laux_check(L, 1, MT_STREAM);
    int nargs = lua_gettop(L);
    int i = (int)(ctx >> 40);
    size_t off = (size_t)(ctx & (((lua_KContext)1 << 40) - 1));
    if (status == LUA_YIELD)
        laux_resumed(L, rt_of(L)->current);
    if (s->closed)
        return laux_failure(L, EBADF, NULL);
    for (; i <= nargs; i++, off = 0) {
        size_t len;
        const char *p = lua_tolstring(L, i, &len);
        while (off < len) {
            ssize_t n = stream_send(s, p + off, len - off);
            if (n >= 0) {
                off += (size_t)n;
                continue;
            }
            if (n != -EAGAIN) {
                if (n == -EPIPE && s->std)
                    rt_output_gone(rt_of(L));
                return laux_failure(L, (int)-n, NULL);
            }
            return laux_wait_io(L, &s->wr, (lua_KContext)i << 40 | (lua_KContext)off, lstream_write_k);
        }
    }
    lua_settop(L, 1);
    return 1;
}

/* s:write(...) -> s [-(n), +1, e y] returns once the data is in the kernel */
static int lstream_write(lua_State *L)
{
    struct stream *s = lstream_check(L, 1);
    for (int i = 2; i <= lua_gettop(L); i++) {
        luaL_checklstring(L, i, NULL); /* numbers become strings, as file:write does */
        lua_pushvalue(L, i);
        lua_tostring(L, -1);
        lua_replace(L, i);
    }
    if (s->std)
        fflush(stdout); /* what print wrote comes first */
    return lstream_write_k(L, LUA_OK, (lua_KContext)2 << 40);
}

/* s:close() -> true [-0, +1, -] */
static int lstream_close(lua_State *L)
{
    struct stream *s = laux_check(L, 1, MT_STREAM);
    stream_close(rt_of(L), s);
    lua_pushboolean(L, 1);
    return 1;
}

/* __gc and __close: close if still open [-0, +0, -] */
static int lstream_gc(lua_State *L)
{
    struct stream *s = laux_check(L, 1, MT_STREAM);
    if (!s->closed)
        stream_close(rt_of(L), s);
    return 0;
}

/* tostring(s) [-0, +1, m] */
static int lstream_tostring(lua_State *L)
{
    struct stream *s = laux_check(L, 1, MT_STREAM);
    if (s->closed)
        lua_pushfstring(L, "stream (%s, closed)", s->name ? s->name : "?");
    else
        lua_pushfstring(L, "stream (%s, fd %d)", s->name, s->fd);
    return 1;
}

int lstream_std(lua_State *L)
{
    static const char *const names[] = {"stdin", "stdout", "stderr", NULL};
    const char *key = lua_tostring(L, 2);
    int fd = -1;
    for (int i = 0; key && names[i]; i++)
        if (strcmp(key, names[i]) == 0)
            fd = i;
    if (fd < 0)
        return 0;
    struct stream *s = lstream_new(L);
    int err = stream_open_std(rt_of(L), s, fd);
    if (err)
        return luaL_error(L, "cannot open async.%s: %s", key, strerror(-err));
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1); /* stack: async, key, stream */
    return 1;
}

static const luaL_Reg lstream_methods[] = {
    {"read", lstream_read},   {"read_some", lstream_read_some}, {"lines", lstream_lines},
    {"write", lstream_write}, {"close", lstream_close},          {NULL, NULL},
};

void lstream_open(lua_State *L)
{
    /* stack: async */
    laux_newmetatable(L, MT_STREAM);
    luaL_newlib(L, lstream_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lstream_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lstream_gc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, lstream_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}
