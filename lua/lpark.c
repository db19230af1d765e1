/* Park queues: the one suspension primitive under events, locks, semaphores and futures
 * (written in Lua over it) and queues (lqueue.c, in C over lpark.h). park() suspends the
 * running task in FIFO order; unpark(v) hands v to the first parked task, which then
 * returns it.
 * A hand-off is final: a task cancelled after it was handed something still returns it,
 * and the cancellation is raised at its next suspension, so nothing handed over is lost.
 * A task cancelled while parked just leaves the queue: nothing was consumed. */
#include <lauxlib.h>

#include "lasync.h"
#include "lpark.h"
#include "laux.h"
#include "task.h"

struct park {
    struct waitq q;
    const char *label; /* borrowed: anchored by user value 1 */
};

static struct park *lpark_check(lua_State *L)
{
    return laux_check(L, 1, MT_PARK);
}

/* core.park_queue(label) -> queue [-1, +1, m] */
static int lpark_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TSTRING);
    struct park *p = lua_newuserdatauv(L, sizeof *p, 1);
    p->q.head = p->q.tail = NULL;
    p->label = lua_tostring(L, 1);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    rt_setmetatable(L, MT_PARK);
    return 1;
}

/* [-0, +1, v] continuation of a wait: the handed value is on top */
static int lpark_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    laux_resumed(L, rt_of(L)->current);
    return 1;
}

int lpark_wait(lua_State *L, struct waitq *q, const char *label, lua_KFunction k)
{
    struct task *t = laux_suspending_task(L);
    t->wait = WAIT_PARK;
    t->run->on.park.q = q;
    t->run->on.park.label = label;
    return laux_suspend(L, t, 0, k ? k : lpark_k);
}

void lpark_hand(lua_State *L, struct waitq *q)
{
    struct task *t = q->head->task;
    /* the waiting thread's continuation returns what is on top of its stack. It waits in a
     * C function (lpark_wait's caller), which Lua gave LUA_MINSTACK free slots and which
     * used but a few: there is room for one more. */
    lua_xmove(L, t->run->wait_L, 1);
    task_hand_off(rt_of(L), t);
}

void lpark_payload(lua_State *L, struct waitq *q)
{
    lua_State *wl = q->head->task->run->wait_L;
    if (!lua_checkstack(wl, 1))
        luaL_error(L, "not enough memory");
    lua_pushvalue(wl, 2);
    lua_xmove(wl, L, 1);
}

/* queue:park() -> value [-?, +1, e y] */
static int lpark_park(lua_State *L)
{
    struct park *p = lpark_check(L);
    lua_settop(L, 1);
    return lpark_wait(L, &p->q, p->label, NULL);
}

/* queue:unpark([value]) -> bool [-?, +1, m] */
static int lpark_unpark(lua_State *L)
{
    struct park *p = lpark_check(L);
    lua_settop(L, 2);
    if (!p->q.head) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lpark_hand(L, &p->q);
    lua_pushboolean(L, 1);
    return 1;
}

/* queue:empty() -> bool: no task is parked [-0, +1, -] */
static int lpark_empty(lua_State *L)
{
    lua_pushboolean(L, lpark_check(L)->q.head == NULL);
    return 1;
}

static const luaL_Reg lpark_methods[] = {
    {"park", lpark_park}, {"unpark", lpark_unpark}, {"empty", lpark_empty}, {NULL, NULL},
};

void lpark_open(lua_State *L, int core)
{
    laux_newmetatable(L, MT_PARK);
    luaL_newlib(L, lpark_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, lpark_new);
    lua_setfield(L, core, "park_queue");
}
