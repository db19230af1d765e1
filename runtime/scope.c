#include <errno.h>
#include <stddef.h>
#include <lauxlib.h>

#include "scope.h"
#include "task.h"
#include "timer.h"
#include "trace.h"

enum interrupt scope_pending(const struct task *t, struct cscope **which)
{
    struct cscope *found = NULL;
    for (struct cscope *s = t->run ? t->run->scopes : NULL; s; s = s->outer) {
        if (s->shield) {
            *which = found;
            return found ? INT_SCOPE : INT_NONE;
        }
        if (s->cancelled && !found)
            found = s;
    }
    *which = found;
    if (t->cancel_requested)
        return INT_CANCEL; /* an outer cancellation always wins over a scope's */
    return found ? INT_SCOPE : INT_NONE;
}

void scope_cancel(struct rt *rt, struct cscope *s)
{
    if (s->cancelled || !s->task)
        return;
    s->cancelled = true;
    task_interrupt(rt, s->task);
}

static void scope_deadline(struct rt *rt, struct timer *tm)
{
    struct cscope *s = (struct cscope *)((char *)tm - offsetof(struct cscope, timer));
    s->armed = false; /* the heap already dropped it */
    if (rt_tracing(rt))
        trace_timeout(rt, s->task);
    scope_cancel(rt, s);
}

/* [-1, +0, m] */
int scope_enter(lua_State *L, struct task *t, struct cscope *s, double deadline)
{
    s->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    s->task = t;
    s->L = L;
    s->outer = t->run->scopes;
    t->run->scopes = s;
    if (deadline < 0 || s->shield)
        return 0;
    s->timer.deadline = deadline;
    s->timer.fire = scope_deadline;
    if (timer_add(t->rt, &s->timer) != 0)
        return -ENOMEM;
    s->armed = true;
    return 0;
}

void scope_leave(lua_State *L, struct cscope *s)
{
    struct task *t = s->task;
    if (!t)
        return;
    if (s->armed)
        timer_remove(t->rt, &s->timer);
    s->armed = false;
    /* scopes are left innermost first: their userdata close in reverse order of entry */
    t->run->scopes = s->outer;
    s->task = NULL;
    s->outer = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, s->ref);
    s->ref = LUA_NOREF;
}

void scope_push(lua_State *L, const struct cscope *s)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref);
}

void scope_drop_thread(lua_State *L, struct task *t, lua_State *co)
{
    while (t->run->scopes && t->run->scopes->L == co)
        scope_leave(L, t->run->scopes);
}
