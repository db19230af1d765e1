/* Streams as Lua sees them: Lua's file API (read with "n", "l", "L", "a" or a count, lines,
 * write, flush, setvbuf, seek, close, <close>) plus read_some, over runtime/stream.c. A read
 * or write that would block suspends the task on the stream's I/O source and continues where
 * it stopped. */
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <unistd.h>
#include <lauxlib.h>

#include "larg.h"
#include "lasync.h"
#include "laux.h"
#include "lstream.h"
#include "stream.h"
#include "trace.h"

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

/* [-0, +0, m] fills the buffer once; READ_DONE when bytes or the end arrived. A buffer
 * that would pass --memlimit (a line without end) fails as the Lua heap does. */
static int lstream_fill(lua_State *L, struct stream *s, int *err)
{
    ssize_t n = stream_fill(rt_of(L), s);
    if (n >= 0)
        return READ_DONE;
    if (n == -EAGAIN)
        return READ_WAIT;
    if (n == -ENOMEM) {
        lua_pushliteral(L, "not enough memory");
        lua_error(L);
    }
    *err = (int)-n;
    return READ_ERROR;
}

/* A numeral as liolib's read_number reads it from a FILE, over the buffered bytes:
 * -1 when they end before the numeral does (fill and try again), else the bytes it takes
 * (those of buff, at most 200: the look-ahead byte stays), buff holding them. */
enum { LSTREAM_MAXNUM = 200 };
struct lstream_rn {
    const char *p;
    size_t n, len, i;
    bool eof;
    int c;
    char buff[LSTREAM_MAXNUM + 1];
};

static bool lstream_rn_next(struct lstream_rn *rn)
{
    if (rn->n >= LSTREAM_MAXNUM) {
        rn->buff[0] = '\0'; /* too long: invalid */
        return false;
    }
    rn->buff[rn->n++] = (char)rn->c;
    rn->i++;
    rn->c = rn->i < rn->len ? (unsigned char)rn->p[rn->i] : rn->eof ? EOF : -2;
    return true;
}

static bool lstream_rn_test2(struct lstream_rn *rn, const char *set)
{
    return (rn->c == set[0] || rn->c == set[1]) && lstream_rn_next(rn);
}

static int lstream_rn_digits(struct lstream_rn *rn, bool hex)
{
    int count = 0;
    while (rn->c >= 0 && (hex ? isxdigit(rn->c) : isdigit(rn->c)) && lstream_rn_next(rn))
        count++;
    return count;
}

static long lstream_scan_number(struct lstream_rn *rn)
{
    char decp[2] = {lua_getlocaledecpoint(), '.'};
    int count = 0;
    bool hex = false;
    rn->n = rn->i = 0;
    rn->c = rn->len > 0 ? (unsigned char)rn->p[0] : rn->eof ? EOF : -2;
    lstream_rn_test2(rn, "-+");
    if (lstream_rn_test2(rn, "00")) {
        if (lstream_rn_test2(rn, "xX"))
            hex = true;
        else
            count = 1; /* the initial '0' is a digit */
    }
    count += lstream_rn_digits(rn, hex);
    if (lstream_rn_test2(rn, decp))
        count += lstream_rn_digits(rn, hex);
    if (count > 0 && lstream_rn_test2(rn, hex ? "pP" : "eE")) {
        lstream_rn_test2(rn, "-+");
        lstream_rn_digits(rn, false);
    }
    if (rn->c == -2)
        return -1;
    rn->buff[rn->n] = '\0';
    return (long)rn->n;
}

/* [-0, +1, m] read("n"): READ_DONE with a number, READ_EOF with nil (not a numeral), or
 * READ_WAIT / READ_ERROR after a fill that brought nothing */
static int lstream_read_number(lua_State *L, struct stream *s, int *err)
{
    struct lstream_rn rn;
    for (;;) {
        while (s->len > 0 && isspace((unsigned char)s->buf[s->off]))
            stream_consume(s, 1);
        rn.p = s->buf ? s->buf + s->off : "";
        rn.len = s->len;
        rn.eof = s->eof;
        long n = s->len > 0 || s->eof ? lstream_scan_number(&rn) : -1;
        if (n >= 0) {
            stream_consume(s, (size_t)n);
            if (lua_stringtonumber(L, rn.buff))
                return READ_DONE;
            lua_pushnil(L);
            return READ_EOF;
        }
        int r = lstream_fill(L, s, err);
        if (r != READ_DONE)
            return r;
    }
}

/* [-0, +1, m] one format; pushes its result unless it returns READ_WAIT or READ_ERROR */
static int lstream_read_one(lua_State *L, struct stream *s, int fmt, int *err)
{
    for (;;) {
        if (lua_type(L, fmt) == LUA_TNUMBER) {
            /* as for files: up to n bytes, nil at the end; read(0) tests for the end */
            size_t want = (size_t)larg_integer(L, fmt, 0, LUA_MAXINTEGER, "count");
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
            if (*f == 'n')
                return lstream_read_number(L, s, err);
            if (*f == 'l' || *f == 'L') {
                /* only the bytes that came since the last look: linear in the line's length */
                const char *nl = s->len > s->scanned
                    ? memchr(s->buf + s->off + s->scanned, '\n', s->len - s->scanned) : NULL;
                s->scanned = nl ? 0 : s->len;
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
        int r = lstream_fill(L, s, err);
        if (r != READ_DONE)
            return r;
    }
}

/* ctx flag of lines(): a read error raises, as file:lines does */
#define READ_RAISE ((lua_KContext)1 << 32)

static int lstream_read_k(lua_State *L, int status, lua_KContext ctx);

/* stack: stream s, formats (nfmt), results (done so far). ctx = flags | nfmt << 16 | done */
static int lstream_read_from(lua_State *L, struct stream *s, lua_KContext ctx)
{
    int nfmt = (int)((ctx >> 16) & 0xffff), done = (int)(ctx & 0xffff), err = 0;
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
            lua_KContext k = (ctx & READ_RAISE) | (lua_KContext)nfmt << 16 | done;
            return laux_wait_io(L, stream_rd_src(s), k, lstream_read_k);
        }
    }
    return nfmt;
}

static int lstream_read_k(lua_State *L, int status, lua_KContext ctx)
{
    struct stream *s = laux_check(L, 1, MT_STREAM);
    if (status == LUA_YIELD)
        laux_resumed(L, rt_of(L)->current);
    return lstream_read_from(L, s, ctx);
}

/* [-0, +0, v] the arguments from 2 to last are formats: numbers or strings */
static void lstream_check_formats(lua_State *L, int last)
{
    for (int i = 2; i <= last; i++)
        if (lua_type(L, i) != LUA_TNUMBER && lua_type(L, i) != LUA_TSTRING)
            luaL_argerror(L, i, "invalid format");
}

/* s:read([fmt...]) -> ... [-(n), +n, e y] */
static int lstream_read(lua_State *L)
{
    struct stream *s = lstream_check(L, 1);
    if (lua_gettop(L) == 1)
        lua_pushliteral(L, "l");
    int nfmt = lua_gettop(L) - 1;
    luaL_argcheck(L, nfmt < 0xffff, 2, "too many formats");
    luaL_checkstack(L, nfmt + 3, "too many formats");
    lstream_check_formats(L, nfmt + 1);
    return lstream_read_from(L, s, (lua_KContext)nfmt << 16);
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
        int r = lstream_fill(L, s, &err);
        if (r == READ_ERROR)
            return laux_failure(L, err, NULL);
        if (r == READ_WAIT) {
            return laux_wait_io(L, stream_rd_src(s), ctx, lstream_read_some_k);
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
    lua_Integer max = larg_optinteger(L, 2, 65536, 1, LUA_MAXINTEGER, "max");
    lua_settop(L, 2);
    return lstream_read_some_k(L, LUA_OK, (lua_KContext)max);
}

/* the iterator of s:lines(fmt) [-0, +1, e y] */
static int lstream_lines_next(lua_State *L)
{
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    return lstream_read_from(L, lstream_check(L, 1), READ_RAISE | (lua_KContext)1 << 16);
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
    lstream_check_formats(L, 2); /* a table would reach the iterator as a NULL format */
    lua_pushcclosure(L, lstream_lines_next, 2);
    return 1;
}

/* [-0, +3, -] a write error: nil, msg, errno; standard output whose reader left ends the run */
static int lstream_write_failed(lua_State *L, struct stream *s, int err)
{
    if (err == EPIPE && s->std)
        rt_output_gone(rt_of(L));
    return laux_failure(L, err, NULL);
}

/* [-0, +0|3, -] the error a background flush kept for this call; 0 when there is none */
static int lstream_deferred(lua_State *L, struct stream *s)
{
    int err = s->werr;
    if (!err)
        return 0;
    s->werr = 0;
    return lstream_write_failed(L, s, err);
}

/* [-0, +0, y] suspends until s can take more; output left in the buffer stays pending */
static int lstream_wait_room(lua_State *L, struct stream *s, lua_KContext ctx, lua_KFunction k)
{
    stream_pend(rt_of(L), s);
    return laux_wait_io(L, stream_wr_src(s), ctx, k);
}

static int lstream_write_k(lua_State *L, int status, lua_KContext ctx);

/* Whether n bytes go to the kernel straight from the Lua string: bigger than an empty buffer,
 * they are not copied. Never under TLS: a record OpenSSL could not send whole stays pending,
 * and its next SSL_write must pass the same bytes again, which a write cancelled or timed
 * out while waiting would no longer have (the next data would be counted as sent in its
 * place); from the write buffer they are there until sent. */
static bool lstream_direct(const struct stream *s, size_t n)
{
    return s->kind != STREAM_TLS && s->wlen == 0 && s->wcap > 0 && n >= s->wcap;
}

/* stack: stream s, data...; ctx = argument index << 40 | offset written in it. An index past
 * the last argument: the flush that "no" and "line" buffering do before write returns. */
static int lstream_write_from(lua_State *L, struct stream *s, lua_KContext ctx)
{
    int nargs = lua_gettop(L);
    int i = (int)(ctx >> 40);
    size_t off = (size_t)(ctx & (((lua_KContext)1 << 40) - 1));
    if (s->closed)
        return laux_failure(L, EBADF, NULL);
    for (; i <= nargs; i++, off = 0) {
        size_t len;
        const char *p = lua_tolstring(L, i, &len);
        while (off < len) {
            ssize_t n;
            if (lstream_direct(s, len - off))
                n = stream_send(s, p + off, len - off);
            else if ((n = stream_buffer(s, p + off, len - off)) == 0)
                n = stream_flush_some(s); /* full: 0 once it is empty again */
            if (n >= 0) {
                off += (size_t)n;
                continue;
            }
            if (n == -EAGAIN)
                return lstream_wait_room(L, s, (lua_KContext)i << 40 | (lua_KContext)off,
                                         lstream_write_k);
            return lstream_write_failed(L, s, (int)-n);
        }
    }
    if (s->wlen > 0 && s->vbuf != STREAM_VBUF_FULL
        && (s->vbuf == STREAM_VBUF_NO || memchr(s->wbuf, '\n', s->wlen))) {
        int r = stream_flush_some(s);
        if (r == -EAGAIN)
            return lstream_wait_room(L, s, (lua_KContext)(nargs + 1) << 40, lstream_write_k);
        if (r < 0)
            return lstream_write_failed(L, s, -r);
    }
    if (s->wlen > 0)
        stream_pend(rt_of(L), s);
    lua_settop(L, 1);
    return 1;
}

static int lstream_write_k(lua_State *L, int status, lua_KContext ctx)
{
    struct stream *s = laux_check(L, 1, MT_STREAM);
    if (status == LUA_YIELD)
        laux_resumed(L, rt_of(L)->current);
    return lstream_write_from(L, s, ctx);
}

/* C stdio's stdout holds only what print and io.write wrote after the last write to
 * async.stdout (each write flushes it, and they drain async.stdout first): the older
 * buffered bytes of async.stdout go first, then stdio's. */
static void lstream_after_stdio(lua_State *L)
{
    struct stream *out = rt_of(L)->std_streams[1];
    if (__fpending(stdout) == 0)
        return;
    if (out)
        stream_drain_or_exit(rt_of(L), out);
    rt_fflush(rt_of(L), stdout);
}

/* s:write(...) -> s | nil, msg, errno [-(n), +1|3, e y] buffered: see s:setvbuf */
static int lstream_write(lua_State *L)
{
    struct stream *s = lstream_check(L, 1);
    for (int i = 2; i <= lua_gettop(L); i++)
        if (lua_type(L, i) != LUA_TSTRING)
            luaL_checklstring(L, i, NULL); /* a number becomes a string in its slot */
    if (s->werr)
        return lstream_deferred(L, s);
    if (s->std) {
        trace_before_output(rt_of(L));
        lstream_after_stdio(L); /* what print wrote comes first */
    }
    return lstream_write_from(L, s, (lua_KContext)2 << 40);
}

/* [-0, +1|3, e y] continuation of flush: stack: stream */
static int lstream_flush_k(lua_State *L, int status, lua_KContext ctx)
{
    struct stream *s = laux_check(L, 1, MT_STREAM);
    if (status == LUA_YIELD)
        laux_resumed(L, rt_of(L)->current);
    if (s->closed)
        return laux_failure(L, EBADF, NULL);
    int r = stream_flush_some(s);
    if (r == -EAGAIN)
        return lstream_wait_room(L, s, ctx, lstream_flush_k);
    if (r < 0)
        return lstream_write_failed(L, s, -r);
    return 1;
}

/* s:flush() -> s | nil, msg, errno [-0, +1|3, e y] waits until the kernel has it all */
static int lstream_flush(lua_State *L)
{
    struct stream *s = lstream_check(L, 1);
    lua_settop(L, 1);
    if (s->werr)
        return lstream_deferred(L, s);
    return lstream_flush_k(L, LUA_OK, 0);
}

/* s:setvbuf(mode [, size]) -> true [-(0|1), +1, v] never waits: the output it holds stays */
static int lstream_setvbuf(lua_State *L)
{
    static const char *const modes[] = {"no", "line", "full", NULL};
    static const enum stream_vbuf values[] = {STREAM_VBUF_NO, STREAM_VBUF_LINE, STREAM_VBUF_FULL};
    struct stream *s = lstream_check(L, 1);
    int mode = laux_checkoption(L, 2, NULL, modes);
    lua_Integer size = larg_optinteger(L, 3, 0, 0, (lua_Integer)1 << 30, "size");
    if (stream_setvbuf(s, values[mode], (size_t)size) != 0)
        return luaL_error(L, "not enough memory");
    lua_pushboolean(L, 1);
    return 1;
}

/* s:seek([whence [, offset]]) -> position | nil, msg, errno [-(0|2), +1|3, v] as file:seek;
 * pipes and sockets cannot seek (ESPIPE) */
static int lstream_seek(lua_State *L)
{
    static const char *const names[] = {"set", "cur", "end", NULL};
    static const int whence[] = {SEEK_SET, SEEK_CUR, SEEK_END};
    struct stream *s = lstream_check(L, 1);
    int op = laux_checkoption(L, 2, "cur", names);
    lua_Integer offset = larg_optinteger(L, 3, 0, LUA_MININTEGER, LUA_MAXINTEGER, "offset");
    if (s->kind != STREAM_FILE)
        return laux_failure(L, ESPIPE, NULL);
    int r = stream_drain(rt_of(L), s);
    if (r < 0)
        return laux_failure(L, -r, NULL);
    if (whence[op] == SEEK_CUR)
        offset -= (lua_Integer)s->len; /* the read buffer is ahead of the position */
    off_t pos = lseek(s->fd, (off_t)offset, whence[op]);
    if (pos < 0)
        return laux_failure(L, errno, NULL);
    stream_consume(s, s->len);
    s->eof = false;
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

/* [-0, +1|3, e y] continuation of close: stack: stream. Closes even when the flush fails,
 * and at once when the task cannot wait (its cancellation, a non-yieldable call): then what
 * the kernel has not taken yet lingers, and the loop sends it later. */
static int lstream_close_k(lua_State *L, int status, lua_KContext ctx)
{
    struct stream *s = laux_check(L, 1, MT_STREAM);
    struct task *t = rt_of(L)->current;
    int r = 0;
    if (status == LUA_YIELD && t->wake != WAKE_OK) {
        stream_close(rt_of(L), s); /* cancelled while waiting: released now, not by the GC */
        laux_resumed(L, t);
    }
    if (!s->closed) {
        r = s->werr ? -s->werr : stream_flush_some(s);
        s->werr = 0;
        if (r == -EAGAIN && laux_can_suspend(L))
            return lstream_wait_room(L, s, ctx, lstream_close_k);
        stream_close(rt_of(L), s);
    }
    if (r < 0 && r != -EAGAIN)
        return lstream_write_failed(L, s, -r);
    lua_pushboolean(L, 1);
    return 1;
}

/* s:close() -> true | nil, msg, errno [-0, +1|3, e y] flushes first; also __close, so that
 * a stream closed by leaving its scope (a server's handler) waits as close does */
static int lstream_close(lua_State *L)
{
    laux_check(L, 1, MT_STREAM);
    lua_settop(L, 1);
    return lstream_close_k(L, LUA_OK, 0);
}

/* __gc: close if still open, never waiting [-0, +0, -] */
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
    rt_of(L)->std_streams[fd] = s;
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1); /* stack: async, key, stream */
    return 1;
}

static const luaL_Reg lstream_methods[] = {
    {"read", lstream_read},   {"read_some", lstream_read_some}, {"lines", lstream_lines},
    {"write", lstream_write}, {"close", lstream_close},          {"flush", lstream_flush},
    {"setvbuf", lstream_setvbuf}, {"seek", lstream_seek},       {NULL, NULL},
};

void lstream_open(lua_State *L)
{
    /* stack: async */
    laux_newmetatable(L, MT_STREAM);
    luaL_newlib(L, lstream_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lstream_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lstream_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, lstream_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}
