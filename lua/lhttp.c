/* async.http: request, get and post on libcurl (runtime/http.c), which is opened on the first
 * call. The arguments are checked in full before anything is taken, so that a bad one raises
 * with nothing to release; the request is a userdata on the task's stack (LHTTP_XFER),
 * anchored in the registry while in flight, and the task waits on it as WAIT_HTTP. */
#include <errno.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lasync.h"
#include "laux.h"
#include "lstream.h"
#include "http.h"

#define HTTP_MAX_REDIRS 20

/* The request's stack, from lhttp_start to the continuation: opts, then what lhttp_parse
 * leaves. The option values stay in their slots while C pointers into them are used: opts
 * is the caller's table, whose __index may hand out a string nothing else holds. */
enum {
    LHTTP_OPTS = 1, LHTTP_URL, LHTTP_METHOD, LHTTP_CAFILE, LHTTP_BODY, LHTTP_OUTPUT,
    LHTTP_HEADERS, LHTTP_XFER,
};

/* Where the arguments are, for the messages: "bad argument #2 to 'get' (opts.timeout ...)",
 * "bad argument #1 to 'get' (url contains a zero byte)". */
struct lhttp_call {
    const char *fname;
    int arg;                  /* opts */
    int url_arg, body_arg;    /* a shorthand's own url and body arguments, or 0: in opts */
};

/* A request's arguments as checked, pointing into the values lhttp_parse leaves on the stack. */
struct lhttp_req {
    const char *url, *method;
    int body_type, output_type; /* 0 none, or the HTTP_FROM_* / HTTP_TO_* kind */
    bool streamed;
    struct http_opts o;
};

static int lhttp_argerror(lua_State *L, const struct lhttp_call *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *msg = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return luaL_error(L, "bad argument #%d to '%s' (%s)", c->arg, c->fname, msg);
}

/* [-0, +0, -] the call as the messages about a field see it (at): the shorthand's own
 * argument (own) when it has one, named as the field less its "opts.", else opts */
static const char *lhttp_own(const struct lhttp_call *c, int own, const char *name,
                             struct lhttp_call *at)
{
    *at = *c;
    if (!own)
        return name;
    at->arg = own;
    return name + sizeof "opts." - 1;
}

/* [-0, +0, v] the string at idx, which curl takes to its first zero byte: one inside raises */
static const char *lhttp_cstring(lua_State *L, const struct lhttp_call *c, int idx, const char *name)
{
    const char *s = lua_tostring(L, idx);
    if (laux_zero_byte(L, idx, name, 0))
        lhttp_argerror(L, c, "%s", lua_tostring(L, -1));
    return s;
}

/* [-0, +0, v] luaL_argexpected with the function's name, which a call through pcall lacks */
static void lhttp_expect(lua_State *L, bool ok, int arg, const char *fname, const char *what)
{
    if (!ok)
        luaL_error(L, "bad argument #%d to '%s' (%s expected, got %s)", arg, fname, what,
                   luaL_typename(L, arg));
}

static const char *const lhttp_options[] = {
    "url", "method", "headers", "body", "output", "stream", "timeout", "follow", "cafile",
    "insecure", NULL,
};

/* [-0, +0, v] the value on top, which the messages call name: "string", a stream or a Lua
 * file, else raises */
static int lhttp_io_kind(lua_State *L, const struct lhttp_call *c, const char *name, bool input)
{
    struct stream *s = laux_test(L, -1, MT_STREAM);
    luaL_Stream *f = luaL_testudata(L, -1, LUA_FILEHANDLE);
    if (input && lua_type(L, -1) == LUA_TSTRING)
        return HTTP_FROM_STRING;
    if (s && s->closed)
        lhttp_argerror(L, c, "%s is a closed stream", name);
    if (f && !f->closef)
        lhttp_argerror(L, c, "%s is a closed file", name);
    if (!s && !f)
        lhttp_argerror(L, c, "%s must be %s a stream or a file", name, input ? "a string," : "");
    if (input)
        return s ? HTTP_FROM_STREAM : HTTP_FROM_FILE;
    return s ? HTTP_TO_STREAM : HTTP_TO_FILE;
}

/* [-0, +0, v] a header name or value fit to be sent as it is */
static void lhttp_check_header(lua_State *L, const struct lhttp_call *c, int idx, bool name)
{
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    if (!s || (name && n == 0))
        lhttp_argerror(L, c, "opts.headers must map names to strings");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0')
            lhttp_argerror(L, c, "opts.headers: a header %s contains a zero byte", name ? "name" : "value");
        if (s[i] == '\r' || s[i] == '\n' || (name && (s[i] == ':' || isspace((unsigned char)s[i]))))
            lhttp_argerror(L, c, "opts.headers: invalid header %s '%s'", name ? "name" : "value", s);
    }
}

/* [-0, +1, v] checks the headers table (on top) and pushes a userdata holding the
 * NULL-terminated array of "Name: value" lines, which a table pushed under it anchors */
static void lhttp_headers(lua_State *L, const struct lhttp_call *c, struct lhttp_req *r)
{
    int tbl = lua_gettop(L), n = 0;
    lua_newtable(L); /* the lines */
    for (lua_pushnil(L); lua_next(L, tbl); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER))
            lhttp_argerror(L, c, "opts.headers must map names to strings");
        lhttp_check_header(L, c, -2, true);
        lhttp_check_header(L, c, -1, false);
        /* curl sends "Name;" as an empty header, "Name:" would remove it */
        if (lua_rawlen(L, -1) == 0)
            lua_pushfstring(L, "%s;", lua_tostring(L, -2));
        else
            lua_pushfstring(L, "%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
        lua_rawseti(L, tbl + 1, ++n);
    }
    const char **lines = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *lines, 1);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, tbl + 1, i + 1);
        lines[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    lines[n] = NULL;
    lua_pushvalue(L, tbl + 1);
    lua_setiuservalue(L, -2, 1);
    lua_replace(L, tbl);
    lua_settop(L, tbl);
    r->o.headers = lines;
}

/* [-0, +6, v] checks opts (LHTTP_OPTS); leaves url, method, cafile, the body, the output and
 * the header lines (or nil) in LHTTP_URL .. LHTTP_HEADERS */
static void lhttp_parse(lua_State *L, const struct lhttp_call *c, struct lhttp_req *r)
{
    struct lhttp_call at;
    const char *name;
    memset(r, 0, sizeof *r);
    for (lua_pushnil(L); lua_next(L, LHTTP_OPTS); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            lhttp_argerror(L, c, "options are named by strings");
        int i = 0;
        while (lhttp_options[i] && strcmp(lhttp_options[i], lua_tostring(L, -2)) != 0)
            i++;
        if (!lhttp_options[i])
            lhttp_argerror(L, c, "opts.%s is not an option", lua_tostring(L, -2));
    }
    if (lua_getfield(L, LHTTP_OPTS, "url") != LUA_TSTRING) /* LHTTP_URL */
        lhttp_argerror(L, c, "opts.url must be a string");
    name = lhttp_own(c, c->url_arg, "opts.url", &at);
    r->url = lhttp_cstring(L, &at, LHTTP_URL, name);
    int t = lua_getfield(L, LHTTP_OPTS, "method"); /* LHTTP_METHOD */
    if (t != LUA_TNIL && t != LUA_TSTRING)
        lhttp_argerror(L, c, "opts.method must be a string");
    r->method = t == LUA_TNIL ? "GET" : lhttp_cstring(L, c, LHTTP_METHOD, "opts.method");
    size_t n = strlen(r->method);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)r->method[i]) && r->method[i] != '-' && r->method[i] != '_')
            n = 0;
    if (n == 0 || n >= sizeof ((struct http_xfer *)0)->method)
        lhttp_argerror(L, c, "opts.method: invalid method '%s'", r->method);
    t = lua_getfield(L, LHTTP_OPTS, "cafile"); /* LHTTP_CAFILE */
    if (t != LUA_TNIL && t != LUA_TSTRING)
        lhttp_argerror(L, c, "opts.cafile must be a string");
    r->o.cafile = lhttp_cstring(L, c, LHTTP_CAFILE, "opts.cafile");
    t = lua_getfield(L, LHTTP_OPTS, "stream");
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        lhttp_argerror(L, c, "opts.stream must be a boolean");
    r->streamed = lua_toboolean(L, -1);
    lua_pop(L, 1);
    t = lua_getfield(L, LHTTP_OPTS, "timeout"); /* a number as Lua takes it: "5" is 5 */
    if (t != LUA_TNIL && (!lua_isnumber(L, -1) || !(lua_tonumber(L, -1) > 0)))
        lhttp_argerror(L, c, "opts.timeout must be a positive number of seconds");
    r->o.timeout = lua_tonumber(L, -1);
    lua_pop(L, 1);
    int isint;
    lua_Integer redirs;
    t = lua_getfield(L, LHTTP_OPTS, "follow");
    r->o.max_redirs = HTTP_MAX_REDIRS;
    if (t == LUA_TBOOLEAN)
        r->o.max_redirs = lua_toboolean(L, -1) ? HTTP_MAX_REDIRS : 0;
    else if (t != LUA_TNIL && (redirs = lua_tointegerx(L, -1, &isint), isint) && redirs >= 0
             && redirs <= 1000) /* a number as Lua takes it: "3" and 3.0 are 3 */
        r->o.max_redirs = (long)redirs;
    else if (t != LUA_TNIL)
        lhttp_argerror(L, c, "opts.follow must be a boolean or a number of redirects");
    lua_pop(L, 1);
    t = lua_getfield(L, LHTTP_OPTS, "insecure");
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        lhttp_argerror(L, c, "opts.insecure must be a boolean");
    r->o.insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);
    name = lhttp_own(c, c->body_arg, "opts.body", &at);
    if (lua_getfield(L, LHTTP_OPTS, "body") != LUA_TNIL) /* LHTTP_BODY */
        r->body_type = lhttp_io_kind(L, &at, name, true);
    if (lua_getfield(L, LHTTP_OPTS, "output") != LUA_TNIL) /* LHTTP_OUTPUT */
        r->output_type = lhttp_io_kind(L, c, "opts.output", false);
    if (r->output_type && r->streamed)
        lhttp_argerror(L, c, "opts.output and opts.stream exclude each other");
    t = lua_getfield(L, LHTTP_OPTS, "headers"); /* LHTTP_HEADERS */
    if (t == LUA_TTABLE)
        lhttp_headers(L, c, r);
    else if (t != LUA_TNIL)
        lhttp_argerror(L, c, "opts.headers must be a table");
}

/* [-0, +0, -] the size of what is left to read of a file, or -1 (not a regular file) */
static curl_off_t lhttp_file_left(FILE *f)
{
    long at = ftell(f), end;
    if (at < 0 || fseek(f, 0, SEEK_END) != 0)
        return -1;
    end = ftell(f);
    fseek(f, at, SEEK_SET);
    return end >= at ? (curl_off_t)(end - at) : -1;
}

static const char *lhttp_version(long v)
{
    switch (v) {
    case CURL_HTTP_VERSION_1_0:
        return "1.0";
    case CURL_HTTP_VERSION_1_1:
        return "1.1";
    case CURL_HTTP_VERSION_2_0:
        return "2";
    case CURL_HTTP_VERSION_3:
        return "3";
    default:
        return "?";
    }
}

/* [-0, +1, m] res.headers from the last response's header block: lower-case names, repeated
 * ones joined by ", " */
static void lhttp_push_headers(lua_State *L, const struct http_buf *head)
{
    const char *p = head->p, *end = head->p + head->len;
    lua_newtable(L);
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end, *colon;
        if (!eol)
            eol = end;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && colon > p && memcmp(p, "HTTP/", 5) != 0) {
            const char *v = colon + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            luaL_Buffer b;
            char *name = luaL_buffinitsize(L, &b, (size_t)(colon - p));
            for (const char *q = p; q < colon; q++)
                name[q - p] = (char)tolower((unsigned char)*q);
            luaL_pushresultsize(&b, (size_t)(colon - p));
            lua_pushvalue(L, -1);
            if (lua_rawget(L, -3) == LUA_TSTRING) {
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(ve - v));
                lua_concat(L, 3);
            } else {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(ve - v));
            }
            lua_rawset(L, -3);
        }
        p = next;
    }
}

/* [-1, +1|3, m] lhttp_results(x) -> res | nil, message, code: the results of the request x (a
 * light userdata), which the caller then settles or releases */
static int lhttp_results(lua_State *L)
{
    struct rt *rt = rt_of(L);
    struct http_xfer *x = lua_touserdata(L, 1);
    if (x->result != CURLE_OK || x->released) {
        lua_pushnil(L);
        lua_pushstring(L, http_strerror(x));
        lua_pushinteger(L, x->result);
        return 3;
    }
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, x->status);
    lua_setfield(L, -2, "status");
    lhttp_push_headers(L, &x->head);
    lua_setfield(L, -2, "headers");
    lua_pushstring(L, x->url);
    lua_setfield(L, -2, "url");
    lua_pushstring(L, lhttp_version(x->version));
    lua_setfield(L, -2, "version");
    if (x->sink == HTTP_TO_MEMORY) {
        lua_pushlstring(L, x->body.p ? x->body.p : "", x->body.len);
        lua_setfield(L, -2, "body");
    } else if (x->sink == HTTP_TO_PIPE) {
        struct stream *s = lstream_new(L);
        stream_init(rt, s, x->peer_fd, STREAM_SOCKET, true, "http");
        x->peer_fd = -1;
        lua_setfield(L, -2, "body");
    }
    return 1;
}

/* [-0, +1|3, e y] continuation: the request (LHTTP_XFER) ended, or its headers are in (stream) */
static int lhttp_request_k(lua_State *L, int status, lua_KContext ctx)
{
    struct rt *rt = rt_of(L);
    struct task *t = rt->current;
    struct http_xfer *x = lua_touserdata(L, LHTTP_XFER);
    (void)status;
    (void)ctx;
    lua_settop(L, LHTTP_XFER);
    if (t->wake != WAKE_OK) {
        http_release(rt, x);
        laux_resumed(L, t);
    }
    /* built in a protected call: an error (no memory) still settles or releases x, which
     * would otherwise stay anchored, a resource, until the end of the run */
    lua_pushcfunction(L, lhttp_results);
    lua_pushlightuserdata(L, x);
    int st = lua_pcall(L, 1, LUA_MULTRET, 0);
    int n = lua_gettop(L) - LHTTP_XFER;
    if (st == LUA_OK && n == 1)
        http_settle(rt, x);
    else
        http_release(rt, x);
    return st == LUA_OK ? n : lua_error(L);
}

/* [-?, +1|3, e y] the request described by the table in LHTTP_OPTS */
static int lhttp_start(lua_State *L, const struct lhttp_call *c)
{
    struct rt *rt = rt_of(L);
    struct lhttp_req r;
    char err[512];
    lua_settop(L, LHTTP_OPTS);
    lhttp_parse(L, c, &r);
    lua_settop(L, LHTTP_HEADERS);
    if (http_open(rt, err, sizeof err) != 0) {
        lua_pushstring(L, err);
        return lua_error(L);
    }
    struct task *t = laux_suspending_task(L);
    if (r.body_type == HTTP_FROM_STRING) {
        r.o.body = lua_tolstring(L, LHTTP_BODY, &r.o.body_len);
    } else if (r.body_type == HTTP_FROM_FILE) {
        r.o.body_size = lhttp_file_left(((luaL_Stream *)lua_touserdata(L, LHTTP_BODY))->f);
    } else {
        r.o.body_size = -1;
    }
    struct http_xfer *x = lua_newuserdatauv(L, sizeof *x, 2); /* LHTTP_XFER */
    http_init(rt, x);
    lua_pushvalue(L, LHTTP_BODY);
    lua_setiuservalue(L, LHTTP_XFER, 1);
    lua_pushvalue(L, LHTTP_OUTPUT);
    lua_setiuservalue(L, LHTTP_XFER, 2);
    lua_pushvalue(L, LHTTP_XFER);
    x->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    /* nothing below raises: what is taken is released on every path */
    snprintf(x->method, sizeof x->method, "%s", r.method);
    x->source = (uint8_t)(r.body_type ? r.body_type : HTTP_FROM_NONE);
    x->sink = (uint8_t)(r.streamed ? HTTP_TO_PIPE : r.output_type ? r.output_type : HTTP_TO_MEMORY);
    x->streamed = r.streamed;
    if (x->source == HTTP_FROM_FILE)
        x->in_file = ((luaL_Stream *)lua_touserdata(L, LHTTP_BODY))->f;
    else if (x->source == HTTP_FROM_STREAM)
        x->in_stream = lua_touserdata(L, LHTTP_BODY);
    if (x->sink == HTTP_TO_FILE)
        x->out_file = ((luaL_Stream *)lua_touserdata(L, LHTTP_OUTPUT))->f;
    else if (x->sink == HTTP_TO_STREAM)
        x->out_stream = lua_touserdata(L, LHTTP_OUTPUT);
    if (!(x->url = strdup(r.url)) || http_prepare(rt, x, &r.o) != 0) {
        http_release(rt, x);
        return laux_failure(L, ENOMEM, NULL);
    }
    x->task = t;
    x->task_id = t->id;
    t->wait = WAIT_HTTP;
    t->run->on.http = x;
    return laux_suspend(L, t, 0, lhttp_request_k);
}

/* async.http.request(opts) -> res | nil, message, code [-1, +1|3, e y] */
static int lhttp_request(lua_State *L)
{
    static const struct lhttp_call c = {"request", 1, 0, 0};
    lhttp_expect(L, lua_istable(L, 1), 1, c.fname, "table");
    return lhttp_start(L, &c);
}

/* [-0, +0, e] replaces slot 1 with a copy of the opts table at idx (or a new one) holding
 * url, and body when given */
static void lhttp_shorthand(lua_State *L, const struct lhttp_call *c, bool body, const char *method)
{
    int idx = c->arg;
    lhttp_expect(L, lua_type(L, 1) == LUA_TSTRING, 1, c->fname, "string");
    lhttp_expect(L, lua_isnoneornil(L, idx) || lua_istable(L, idx), idx, c->fname, "table");
    lua_newtable(L);
    int copy = lua_gettop(L);
    for (lua_pushnil(L); !lua_isnoneornil(L, idx) && lua_next(L, idx); ) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, copy);
    }
    lua_pushvalue(L, 1);
    lua_setfield(L, copy, "url");
    if (body) {
        lua_pushvalue(L, 2);
        lua_setfield(L, copy, "body");
    }
    if (method && lua_getfield(L, copy, "method") == LUA_TNIL) {
        lua_pushstring(L, method);
        lua_setfield(L, copy, "method");
    }
    lua_settop(L, copy);
    lua_replace(L, 1);
}

/* async.http.get(url [, opts]) -> res | nil, message, code [-(1|2), +1|3, e y] */
static int lhttp_get(lua_State *L)
{
    static const struct lhttp_call c = {"get", 2, 1, 0};
    lhttp_shorthand(L, &c, false, NULL);
    return lhttp_start(L, &c);
}

/* async.http.post(url, body [, opts]) -> res | nil, message, code [-(2|3), +1|3, e y] */
static int lhttp_post(lua_State *L)
{
    static const struct lhttp_call c = {"post", 3, 1, 2};
    lhttp_expect(L, !lua_isnoneornil(L, 2), 2, c.fname, "string, stream or file");
    lhttp_shorthand(L, &c, true, "POST");
    return lhttp_start(L, &c);
}

static const luaL_Reg lhttp_funcs[] = {
    {"request", lhttp_request}, {"get", lhttp_get}, {"post", lhttp_post}, {NULL, NULL},
};

void lhttp_open(lua_State *L)
{
    luaL_newlib(L, lhttp_funcs);
    lua_setfield(L, -2, "http");
}
