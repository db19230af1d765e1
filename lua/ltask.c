/* async.spawn, the Task methods, async.current/tasks, and the Cancelled error value. */
#include <string.h>
#include <lauxlib.h>

#include "lasync.h"
#include "laux.h"
#include "task.h"
#include "trace.h"
#include "where.h"

static int ltask_new_cancelled(lua_State *L);

static const char *const ltask_states[] = {"pending", "running", "done", "failed", "cancelled"};

static struct task *ltask_check(lua_State *L, int idx)
{
    return laux_check_task(L, idx);
}

/* async.spawn(fn, ...) -> task [-(n), +1, m]; upvalue 1 true for core.spawn, the spawn of
 * the API's Lua half, whose tasks carry the site of the user's call into the API */
static int ltask_spawn(lua_State *L)
{
    struct rt *rt = rt_of(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    if (rt->closed)
        return luaL_error(L, "cannot spawn: the event loop is closed");
    bool c_body = lua_iscfunction(L, 1);
    struct task *t = task_new(rt, L, lua_gettop(L) - 1);
    lua_Debug ar;
    /* the spawn site, for dumps of tasks not started yet, running a C body or the API's own
     * code: the user's calling function (kept; the API's accept loops and readers have the
     * user's listen or capture call) and the line; the file name is looked up only to print */
    t->c_body = c_body;
    bool from_api = lua_toboolean(L, lua_upvalueindex(1));
    if (from_api ? where_user_level(L, 1, &ar, true) > 0
                 : lua_getstack(L, 1, &ar) && lua_getinfo(L, "fl", &ar)) {
        t->spawn_line = ar.currentline;
        lua_setiuservalue(L, -2, UV_TRACE);
    } else if (rt->current) { /* spawned by the API's own task: a handler has its listen call */
        task_push(L, rt->current);
        if (lua_getiuservalue(L, -1, UV_TRACE) == LUA_TFUNCTION) {
            t->spawn_line = rt->current->spawn_line;
            lua_setiuservalue(L, -3, UV_TRACE);
        } else {
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    if (rt_tracing(rt))
        trace_spawn(rt, t, L);
    return 1;
}

/* [-0, +1, m] the " (name)" part, as a task appears in messages */
static void ltask_push_label(lua_State *L, const struct task *t)
{
    char buf[32];
    lua_pushfstring(L, "task %I (%s)", (LUA_INTEGER)t->id, task_name(t, buf, sizeof buf));
}

/* [-0, +0, m] the running task self now holds the group of t's error (t at idx, its error
 * on top): a copy, since t's traceback, which the chain shows, lists all of it; or none */
static void ltask_pass_group(lua_State *L, int idx, struct task *self)
{
    int err = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, ERROR_GROUPS);
    task_push(L, self);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, err + 1) == LUA_TTABLE && (lua_rawgeti(L, -1, 1), lua_rawequal(L, -1, err))) {
        lua_pop(L, 1);
        lua_getfield(L, -1, "n");
        lua_Integer n = lua_tointeger(L, -1);
        lua_createtable(L, (int)n, 2);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -3, i);
            lua_rawseti(L, -2, i);
        }
        lua_insert(L, -2);
        lua_setfield(L, -2, "n");
        lua_pushinteger(L, n - 1);
        lua_setfield(L, -2, "shown");
    } else {
        lua_pushnil(L);
    }
    /* stack: error, groups, self, t's group or nil, ..., self's new group or nil */
    lua_copy(L, -1, err + 3);
    lua_settop(L, err + 3);
    lua_rawset(L, err + 1);
    lua_settop(L, err);
}

/* [-0, +n, v] a finished task's results, or raises its error (now retrieved). An error
 * re-raised in the calling task remembers the chain, so that if it escapes that task too
 * its traceback says where it came from and who awaited it. */
static int ltask_outcome(lua_State *L, int idx, struct task *t)
{
    struct rt *rt = rt_of(L);
    if (t->state == TASK_DONE) {
        if (t->nres == 0)
            return 0;
        lua_getiuservalue(L, idx, UV_DATA);
        if (t->nres == 1)
            return 1;
        luaL_checkstack(L, t->nres, "too many results");
        for (int i = 1; i <= t->nres; i++)
            lua_rawgeti(L, -i, i);
        return t->nres;
    }
    task_retrieved(rt, t);
    struct task *self = rt->current;
    lua_getiuservalue(L, idx, UV_DATA); /* the error */
    if (t->state == TASK_FAILED && self && self != t) {
        char at[256], name[32];
        /* stack: error; UV_TRACE of self = {error, chained traceback} */
        task_push(L, self);
        lua_createtable(L, 2, 0);
        lua_pushvalue(L, -3);
        lua_rawseti(L, -2, 1);
        lua_pushfstring(L, "%s\n\tawaited by task %I (%s) at %s", t->traceback,
                        (LUA_INTEGER)self->id, task_name(self, name, sizeof name),
                        where_at(L, 1, at, sizeof at));
        lua_rawseti(L, -2, 2);
        lua_setiuservalue(L, -2, UV_TRACE);
        lua_pop(L, 1);
    }
    if (self && self != t)
        ltask_pass_group(L, idx, self);
    return lua_error(L);
}

/* [-0, +n, v] continuation of await: the awaited task (argument 1) has finished */
static int ltask_await_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    laux_resumed(L, rt_of(L)->current);
    return ltask_outcome(L, 1, ltask_check(L, 1));
}

/* task:await() -> ... [-0, +n, e y] */
static int ltask_await(lua_State *L)
{
    struct task *t = ltask_check(L, 1);
    lua_settop(L, 1);
    if (task_finished(t))
        return ltask_outcome(L, 1, t);
    struct task *self = laux_suspending_task(L);
    if (self == t)
        return luaL_error(L, "a task cannot await itself");
    self->wait = WAIT_TASK;
    self->run->on.awaited = t;
    return laux_suspend(L, self, 0, ltask_await_k);
}

/* task:result() -> ... [-0, +n, v] */
static int ltask_result(lua_State *L)
{
    struct task *t = ltask_check(L, 1);
    lua_settop(L, 1);
    if (!task_finished(t)) {
        ltask_push_label(L, t);
        return luaL_error(L, "%s has not finished", lua_tostring(L, -1));
    }
    return ltask_outcome(L, 1, t);
}

/* task:cancel([reason]) -> bool [-0, +1, m] */
static int ltask_cancel(lua_State *L)
{
    struct rt *rt = rt_of(L);
    struct task *t = ltask_check(L, 1);
    if (!lua_isnoneornil(L, 2) && !task_finished(t) && !t->cancel_requested) {
        /* the value the task will raise: a Cancelled carrying the reason */
        lua_pushcfunction(L, ltask_new_cancelled);
        lua_pushvalue(L, 2);
        lua_call(L, 1, 1);
        lua_setiuservalue(L, 1, UV_DATA);
        t->cancel_reason = true;
    }
    lua_pushboolean(L, task_cancel(rt, t, "task", rt->current ? rt->current->id : 0));
    return 1;
}

/* task:status() -> string [-0, +1, -] */
static int ltask_status(lua_State *L)
{
    lua_pushstring(L, ltask_states[ltask_check(L, 1)->state]);
    return 1;
}

/* task:done() -> bool [-0, +1, -] */
static int ltask_done(lua_State *L)
{
    lua_pushboolean(L, task_finished(ltask_check(L, 1)));
    return 1;
}

/* task.id, task.name, methods [-0, +1, -] */
static int ltask_index(lua_State *L)
{
    struct task *t = ltask_check(L, 1);
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "id") == 0) {
        lua_pushinteger(L, t->id);
    } else if (key && strcmp(key, "name") == 0) {
        char buf[32];
        lua_pushstring(L, task_name(t, buf, sizeof buf));
    } else {
        lua_pushvalue(L, 2);
        lua_rawget(L, lua_upvalueindex(1));
    }
    return 1;
}

/* task.name = string [-0, +0, v] raises on a zero byte */
static int ltask_newindex(lua_State *L)
{
    struct task *t = ltask_check(L, 1);
    const char *key = lua_tostring(L, 2);
    if (!key || strcmp(key, "name") != 0)
        return luaL_error(L, "cannot set field '%s' of a task (only 'name' is assignable)",
                          key ? key : luaL_typename(L, 2));
    luaL_checktype(L, 3, LUA_TSTRING);
    lua_settop(L, 3);
    if (laux_zero_byte(L, 3, "task name", 0)) /* C would cut it in every report */
        return luaL_error(L, "%s", lua_tostring(L, -1));
    task_set_name(L, t, 1);
    return 0;
}

/* tostring(task) [-0, +1, m] */
static int ltask_tostring(lua_State *L)
{
    struct task *t = ltask_check(L, 1);
    ltask_push_label(L, t);
    lua_pushfstring(L, "%s: %s", lua_tostring(L, -1), ltask_states[t->state]);
    return 1;
}

/* the failure guard's __gc: a failure that nobody can retrieve any more is reported now
 * [-0, +0, -] */
static int ltask_guard_gc(lua_State *L)
{
    lua_getiuservalue(L, 1, 1);
    struct task *t = laux_test_task(L, -1);
    if (t && t->state == TASK_FAILED)
        task_report_unretrieved(t->rt, t);
    return 0;
}

enum { WAIT_FIRST, WAIT_ALL_OR_FAILURE, WAIT_ALL };

/* [-0, +1, -] continuation of a multi-task wait: the task that woke it */
static int ltask_wait_many_k(lua_State *L, int status, lua_KContext ctx)
{
    struct task *self = rt_of(L)->current;
    (void)status;
    (void)ctx;
    laux_resumed(L, self);
    /* stack: tasks, nodes (user value 1: the unfinished tasks, in node order) */
    lua_getiuservalue(L, 2, 1);
    lua_rawgeti(L, -1, self->run->on.tasks.fired + 1);
    return 1;
}

/* A wait for all of a long list whose tasks are mostly ready to run (just spawned, say)
 * first lets them run: those that finish in that batch need no waiter node, nor a wake-up
 * each. */
#define WAIT_DEFER_MIN 64

static int ltask_wait_many(lua_State *L, int mode, bool may_defer);

/* [-0, +1, e y] continuation of that one pass through the ready queue: wait as usual */
static int ltask_wait_deferred_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    laux_resumed(L, rt_of(L)->current);
    return ltask_wait_many(L, (int)ctx, false);
}

/* [-0, +0, v] raises "bad argument #1 to 'fname' (task expected at index i, got ...)" for the
 * item on top, or says that it is the running task, placed (as by luaL_where) at level */
static int ltask_bad_item(lua_State *L, int i, const char *fname, int level)
{
    luaL_where(L, level);
    if (laux_test_task(L, -2))
        lua_pushfstring(L, "%sbad argument #1 to '%s' (a task cannot await itself: the task at "
                        "index %d is the current one)", lua_tostring(L, -1), fname, i);
    else
        lua_pushfstring(L, "%sbad argument #1 to '%s' (task expected at index %d, got %s)",
                        lua_tostring(L, -1), fname, i, luaL_typename(L, -2));
    return lua_error(L);
}

/* [-0, +1, v] pushes item i of the list at index 1 and returns it as a task; anything else,
 * or the running task self (which would wait for itself forever), raises ltask_bad_item's
 * error */
static inline struct task *ltask_list_item(lua_State *L, int i, const char *fname, int level,
                                           const struct task *self)
{
    lua_rawgeti(L, 1, i);
    struct task *t = laux_test_task(L, -1);
    if (!t || t == self)
        ltask_bad_item(L, i, fname, level);
    return t;
}

/* Whether the n tasks of the list at index 1 are worth a pass through the ready queue: most
 * unfinished ones are ready and none has failed yet. Raises as the wait would on a non-task. */
static bool ltask_mostly_ready(lua_State *L, int n, const char *fname)
{
    int unfinished = 0, ready = 0;
    const struct task *self = rt_of(L)->current;
    for (int i = 1; i <= n; i++) {
        struct task *t = ltask_list_item(L, i, fname, 1, self);
        lua_pop(L, 1);
        if (task_finished(t)) {
            if (t->state != TASK_DONE)
                return false; /* the wait returns at once */
            continue;
        }
        unfinished++;
        ready += t->wait == WAIT_READY;
    }
    return unfinished >= WAIT_DEFER_MIN && 2 * ready >= unfinished;
}

/* [-1, +1, e y] waits on a list of tasks: mode WAIT_FIRST returns the first to finish (of
 * those already finished, the earliest); the others return the first failure, or nothing
 * (all mode: the last to finish) once every task has finished. */
static int ltask_wait_many(lua_State *L, int mode, bool may_defer)
{
    const char *fname = mode == WAIT_FIRST ? "first" : "gather";
    struct task *found = NULL, *self;
    int n, pending = 0, found_at = 0;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    n = (int)luaL_len(L, 1);
    if (n == 0 && mode == WAIT_FIRST)
        return luaL_argerror(L, 1, "empty list of tasks");
    if (may_defer && mode != WAIT_FIRST && n >= WAIT_DEFER_MIN && ltask_mostly_ready(L, n, fname)) {
        self = laux_suspending_task(L);
        self->wait = WAIT_READY;
        return laux_suspend(L, self, mode, ltask_wait_deferred_k);
    }
    self = rt_of(L)->current;
    for (int i = 1; i <= n; i++) {
        struct task *t = ltask_list_item(L, i, fname, 1, self);
        lua_pop(L, 1);
        if (!task_finished(t)) {
            pending++;
            continue;
        }
        bool wanted = mode == WAIT_FIRST || (mode == WAIT_ALL_OR_FAILURE && t->state != TASK_DONE);
        if (wanted && (!found || t->finish_seq < found->finish_seq)) {
            found = t;
            found_at = i;
        }
    }
    if (found || pending == 0) {
        if (found)
            lua_rawgeti(L, 1, found_at);
        else
            lua_pushnil(L);
        return 1;
    }
    self = laux_suspending_task(L);
    lua_createtable(L, pending, 0); /* stack: tasks, unfinished (every item is a task now) */
    for (int i = 1, k = 0; k < pending; i++) {
        lua_rawgeti(L, 1, i);
        if (task_finished(lua_touserdata(L, -1)))
            lua_pop(L, 1);
        else
            lua_rawseti(L, 2, ++k);
    }
    /* the nodes and their targets live in a userdata on this frame's stack during the wait */
    size_t size = (size_t)pending * (sizeof(struct waiter) + sizeof(struct task *));
    struct waiter *nodes = lua_newuserdatauv(L, size, 1);
    struct task **targets = (struct task **)(nodes + pending);
    lua_insert(L, 2);
    lua_setiuservalue(L, 2, 1);
    lua_getiuservalue(L, 2, 1);
    for (int i = 0; i < pending; i++) {
        lua_rawgeti(L, -1, i + 1);
        targets[i] = lua_touserdata(L, -1);
        lua_pop(L, 1);
        nodes[i] = (struct waiter){.task = self};
    }
    lua_settop(L, 2);
    self->wait = WAIT_TASKS;
    self->run->on.tasks.nodes = nodes;
    self->run->on.tasks.targets = targets;
    self->run->on.tasks.n = self->run->on.tasks.pending = pending;
    self->run->on.tasks.fired = -1;
    self->run->on.tasks.all = mode != WAIT_FIRST;
    self->run->on.tasks.failures = mode == WAIT_ALL_OR_FAILURE;
    return laux_suspend(L, self, 0, ltask_wait_many_k);
}

/* async.first(tasks) -> task [-1, +1, e y] */
static int ltask_first(lua_State *L)
{
    return ltask_wait_many(L, WAIT_FIRST, false);
}

/* core.wait_all(tasks, until_failure) -> task | nil [-2, +1, e y] */
static int ltask_wait_all(lua_State *L)
{
    int mode = lua_toboolean(L, 2) ? WAIT_ALL_OR_FAILURE : WAIT_ALL;
    return ltask_wait_many(L, mode, true);
}

/* core.is_task(v) -> bool [-1, +1, -] */
static int ltask_is_task(lua_State *L)
{
    lua_pushboolean(L, laux_test_task(L, 1) != NULL);
    return 1;
}

/* core.retrieve(task): its failure counts as retrieved [-1, +0, -] */
static int ltask_retrieve(lua_State *L)
{
    task_retrieved(rt_of(L), ltask_check(L, 1));
    return 0;
}

/* core.error_of(task) -> the error a failed task raised, not retrieved by this [-1, +1, -] */
static int ltask_error_of(lua_State *L)
{
    struct task *t = ltask_check(L, 1);
    if (t->state != TASK_FAILED)
        return luaL_argerror(L, 1, "a failed task expected");
    lua_getiuservalue(L, 1, UV_DATA);
    return 1;
}

/* core.finish_seq(task) -> integer, 0 while unfinished [-1, +1, -] */
static int ltask_finish_seq(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)ltask_check(L, 1)->finish_seq);
    return 1;
}

/* core.cancelled(reason) -> a fresh Cancelled value [-1, +1, m] */
static int ltask_new_cancelled(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "reason");
    luaL_setmetatable(L, CANCELLED_MT);
    return 1;
}

/* async.current() -> task | nil [-0, +1, -] */
static int ltask_current(lua_State *L)
{
    struct task *t = rt_of(L)->current;
    if (t)
        task_push(L, t);
    else
        lua_pushnil(L);
    return 1;
}

/* async.tasks() -> {task...} [-0, +1, m] */
static int ltask_tasks(lua_State *L)
{
    struct rt *rt = rt_of(L);
    lua_Integer i = 0;
    lua_createtable(L, (int)rt->live.count, 0);
    for (struct task *t = rt->live.head; t; t = t->list_next) {
        task_push(L, t);
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

/* async.is_cancelled(v) -> bool [-0, +1, -] */
static int ltask_is_cancelled(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushboolean(L, task_is_cancel_value(L, 1));
    return 1;
}

/* tostring(Cancelled) [-0, +1, m] */
static int ltask_cancelled_tostring(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TTABLE && lua_getfield(L, 1, "reason") != LUA_TNIL)
        lua_pushfstring(L, "cancelled: %s", luaL_tolstring(L, -1, NULL));
    else
        lua_pushliteral(L, "cancelled");
    return 1;
}

static const luaL_Reg ltask_methods[] = {
    {"await", ltask_await},   {"result", ltask_result}, {"cancel", ltask_cancel},
    {"status", ltask_status}, {"done", ltask_done},     {NULL, NULL},
};

static const luaL_Reg ltask_functions[] = {
    {"spawn", ltask_spawn},
    {"current", ltask_current},
    {"tasks", ltask_tasks},
    {"is_cancelled", ltask_is_cancelled},
    {"first", ltask_first},
    {NULL, NULL},
};

/* core.check_tasks(tasks, fname): raises "bad argument #1 to 'fname' (task expected at
 * index i, got ...)" at the caller of the API function calling the function that calls
 * this one (check_tasks in lua/async.lua) [-2, +0, v] */
static int ltask_check_tasks(lua_State *L)
{
    const char *fname = luaL_checkstring(L, 2);
    int n = (int)luaL_len(L, 1);
    const struct task *self = rt_of(L)->current;
    for (int i = 1; i <= n; i++) {
        /* levels: this, check_tasks, the API function, its C closure, its caller */
        ltask_list_item(L, i, fname, 4, self);
        lua_pop(L, 1);
    }
    return 0;
}

/* core.first_results(tasks) -> {first result of each}: tasks all done [-1, +1, m] */
static int ltask_first_results(lua_State *L)
{
    int n = (int)luaL_len(L, 1);
    lua_createtable(L, n, 0);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        struct task *t = laux_test_task(L, -1);
        if (!t || t->state != TASK_DONE || t->nres == 0) {
            lua_pop(L, 1);
            continue;
        }
        lua_getiuservalue(L, -1, UV_DATA);
        if (t->nres > 1) /* several results are kept in a table */
            lua_rawgeti(L, -1, 1);
        lua_rawseti(L, 2, i);
        lua_settop(L, 2);
    }
    return 1;
}

static const luaL_Reg ltask_core[] = {
    {"wait_all", ltask_wait_all},
    {"first_results", ltask_first_results},
    {"check_tasks", ltask_check_tasks},
    {"is_task", ltask_is_task},
    {"retrieve", ltask_retrieve},
    {"finish_seq", ltask_finish_seq},
    {"error_of", ltask_error_of},
    {"cancelled", ltask_new_cancelled},
    {NULL, NULL},
};

void ltask_open(lua_State *L, int core)
{
    /* stack: async */
    laux_newmetatable(L, MT_TASK);
    luaL_newlib(L, ltask_methods);
    lua_pushcclosure(L, ltask_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ltask_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, ltask_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    /* finalizers cost the collector: only failed tasks have a guard with one */
    laux_newmetatable(L, MT_FAILURE_GUARD);
    lua_pushcfunction(L, ltask_guard_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    laux_error_value(L, CANCELLED_MT, ltask_cancelled_tostring, "Cancelled");

    luaL_setfuncs(L, ltask_functions, 0);
    lua_pushvalue(L, core);
    luaL_setfuncs(L, ltask_core, 0);
    lua_pushboolean(L, 1);
    lua_pushcclosure(L, ltask_spawn, 1);
    lua_setfield(L, -2, "spawn");
    /* the error groups, kept for a task only as long as it lives */
    task_new_weak_keyed(L, ERROR_GROUPS);
    lua_setfield(L, -2, "error_groups");
    lua_pop(L, 1);
}
