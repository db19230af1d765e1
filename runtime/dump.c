/* The task dump: each live task on one line (id, name, status, what it waits on, where),
 * its Lua traceback under it, and its children indented under it (the spawn tree). */
#include <inttypes.h>
#include <string.h>
#include <lauxlib.h>

#include "dump.h"
#include "fmt.h"
#include "escape.h"
#include "where.h"
#include "task.h"
#include "resolve.h"
#include "http.h"
#include "signal.h"
#include "signame.h"

const char *dump_wait(const struct task *t, char *buf, size_t size)
{
    switch (t->wait) {
    case WAIT_SLEEP:
        snprintf(buf, size, "sleep:%g", t->run->on.sleep.secs);
        break;
    case WAIT_TASK:
        return fmt_joined(buf, size, "task", ':', t->run->on.awaited->id);
    case WAIT_TASKS:
        snprintf(buf, size, "tasks:%d", t->run->on.tasks.n);
        break;
    case WAIT_PARK:
        return t->run->on.park.label;
    case WAIT_SIGNAL:
        snprintf(buf, size, "signal:%s", signame_name(t->run->on.sig->signo));
        break;
    case WAIT_RESOLVE:
        snprintf(buf, size, "resolve:%s", t->run->on.resolve->host);
        break;
    case WAIT_IO:
        snprintf(buf, size, "%s:%d", t->run->on.io->what, t->run->on.io->label);
        break;
    case WAIT_HTTP:
        snprintf(buf, size, "http:%s", t->run->on.http->url);
        break;
    case WAIT_READY:
        return t->started ? "ready" : "start";
    default:
        return "running";
    }
    return buf;
}

static bool dump_is_live(const struct rt *rt, lua_Integer id)
{
    for (const struct task *t = rt->live.head; t; t = t->list_next)
        if (t->id == id)
            return true;
    return false;
}

/* the spawning function kept in UV_TRACE, and the line */
const char *dump_spawn_site(lua_State *L, const struct task *t, char *buf, size_t size)
{
    lua_Debug ar;
    snprintf(buf, size, "?");
    task_push(L, t);
    if (lua_getiuservalue(L, -1, UV_TRACE) == LUA_TFUNCTION && t->spawn_line > 0
        && lua_getinfo(L, ">S", &ar)) /* pops the function */
        snprintf(buf, size, "%s:%d", ar.short_src, t->spawn_line);
    lua_settop(L, lua_gettop(L) - (lua_type(L, -1) == LUA_TFUNCTION ? 2 : 1));
    return buf;
}

const char *dump_where(lua_State *L, const struct task *t, char *buf, size_t size)
{
    lua_Debug ar;
    if (where_user_level(t->run->wait_L, 0, &ar, false) < 0)
        return dump_spawn_site(L, t, buf, size);
    return fmt_joined(buf, size, ar.short_src, ':', ar.currentline);
}

static void dump_indent(FILE *out, int depth)
{
    for (int i = 0; i < depth; i++)
        fputs("  ", out);
}

static void dump_one(struct rt *rt, struct task *t, FILE *out, int depth)
{
    static const char *const states[] = {"pending", "running", "done", "failed", "cancelled"};
    lua_State *L = rt->L;
    char name[32], on[256], at[256];
    dump_indent(out, depth + 1);
    esc_report(out, "task %" PRId64 " (%s) %s", (int64_t)t->id, task_name(t, name, sizeof name),
            states[t->state]);
    if (t->cancel_requested)
        fputs(" cancelling", out);
    if (!t->started) {
        esc_report(out, ", not started, spawned at %s\n", dump_spawn_site(L, t, at, sizeof at));
        return;
    }
    if (t->c_body && t->state == TASK_PENDING) {
        esc_report(out, ", waiting on %s, spawned at %s (its body is a C function)\n",
                dump_wait(t, on, sizeof on), dump_spawn_site(L, t, at, sizeof at));
        return;
    }
    /* started and live: it has its run block */
    lua_State *wl = t->state == TASK_PENDING ? t->run->wait_L : NULL;
    if (!wl) { /* a running task's stack is in use: only its header is safe to print */
        fputc('\n', out);
        return;
    }
    lua_Debug ar;
    if (where_user_level(wl, 0, &ar, false) < 0) {
        /* the API's own task (an accept loop, capture's reader): the user's call made it */
        esc_report(out, ", waiting on %s, spawned at %s (its body is asyncrun's own)\n",
                dump_wait(t, on, sizeof on), dump_spawn_site(L, t, at, sizeof at));
        if (!rt->opt->debug)
            return;
    } else {
        esc_report(out, ", waiting on %s at %s\n", dump_wait(t, on, sizeof on),
                fmt_joined(at, sizeof at, ar.short_src, ':', ar.currentline));
    }
    where_traceback(L, wl, NULL, rt->opt->debug);
    /* indent every line of the traceback under its task */
    const char *s = lua_tostring(L, -1);
    while (s && *s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        dump_indent(out, depth + 2);
        esc_report(out, "%.*s\n", (int)n, s);
        s = nl ? nl + 1 : s + n;
    }
    lua_pop(L, 1);
}

/* Depth-first over the spawn tree; quadratic, which is fine for the few tasks a person reads. */
static void dump_subtree(struct rt *rt, struct task *root, FILE *out, int depth)
{
    dump_one(rt, root, out, depth);
    for (struct task *t = rt->live.head; t; t = t->list_next)
        if (t->parent == root->id)
            dump_subtree(rt, t, out, depth + 1);
}

void dump_tasks(struct rt *rt, FILE *out)
{
    enum { TREE_MAX = 2000 };
    esc_report(out, "tasks (%zu live):\n", rt->live.count);
    for (struct task *t = rt->live.head; t; t = t->list_next) {
        if (rt->live.count > TREE_MAX)
            dump_one(rt, t, out, 0);
        else if (!dump_is_live(rt, t->parent))
            dump_subtree(rt, t, out, 0);
    }
    fflush(out);
}
