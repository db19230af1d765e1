/* async.queue: a FIFO of items with getters and putters parked FIFO (lpark.h). Written in C
 * because it is the switch path of producer/consumer code: a put that finds a getter waiting
 * hands the item over and queues the getter, in the same batch of the scheduler.
 * Items live in user value 1, a table whose indices [head, tail) are used as a ring; a putter
 * parked on a full queue keeps its item at index 2 of its stack until a get makes room. */
#include <stddef.h>
#include <lauxlib.h>

#include "larg.h"
#include "lasync.h"
#include "laux.h"
#include "lpark.h"

static const char lqueue_label[] = "queue";

struct queue {
    const char *tag;          /* lqueue_label: see laux_test_tag */
    struct waitq getters, putters;
    lua_Integer head, tail;   /* the items are at [head, tail) of user value 1 */
    lua_Integer max;          /* capacity; LUA_MAXINTEGER when unbounded */
    bool closed;
};

/* The queue at index 1, told by its tag field (laux_test_tag); anything else gets the
 * metatable check and its error. */
static struct queue *lqueue_check(lua_State *L)
{
    struct queue *q = laux_test_tag(L, 1, sizeof *q, offsetof(struct queue, tag), lqueue_label);
    return q ? q : laux_check(L, 1, MT_QUEUE);
}

/* async.queue([maxsize]) -> queue; 0 or nil: unbounded [-0, +1, e] */
static int lqueue_new(lua_State *L)
{
    lua_Integer max = larg_optinteger(L, 1, 0, 0, LUA_MAXINTEGER, "maxsize");
    struct queue *q = lua_newuserdatauv(L, sizeof *q, 1);
    *q = (struct queue){.tag = lqueue_label, .head = 1, .tail = 1, .max = max ? max : LUA_MAXINTEGER};
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    rt_setmetatable(L, MT_QUEUE);
    return 1;
}

/* [-0, +1, m] takes the oldest item; the first parked putter's item moves into the freed
 * place, and the putter is told it was accepted. The queue is at index 1. */
static void lqueue_pop(lua_State *L, struct queue *q)
{
    lua_getiuservalue(L, 1, 1);
    int items = lua_gettop(L);
    lua_rawgeti(L, items, q->head);
    lua_pushnil(L);
    lua_rawseti(L, items, q->head++);
    if (q->putters.head) {
        lpark_payload(L, &q->putters);
        lua_rawseti(L, items, q->tail++);
        lua_pushboolean(L, 1);
        lpark_hand(L, &q->putters);
    }
    lua_remove(L, items);
}

/* Hands v (index 2, on top) to a getter or appends it; false when the queue is full. */
static bool lqueue_offer(lua_State *L, struct queue *q)
{
    if (q->getters.head) {
        lpark_hand(L, &q->getters);
        return true;
    }
    if (q->tail - q->head >= q->max)
        return false;
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, q->tail++);
    lua_pop(L, 1);
    return true;
}

/* [-1, +0, v] continuation of a parked put: true, the item went in; false, the queue closed */
static int lqueue_put_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    laux_resumed(L, rt_of(L)->current);
    if (!lua_toboolean(L, -1))
        return luaL_error(L, "put on a closed queue");
    return 0;
}

/* queue:put(v): waits while the queue is full [-0, +0, e y] */
static int lqueue_put(lua_State *L)
{
    struct queue *q = lqueue_check(L);
    luaL_argcheck(L, !lua_isnoneornil(L, 2), 2, "value expected");
    if (lua_gettop(L) != 2)
        lua_settop(L, 2);
    if (q->closed)
        return luaL_error(L, "put on a closed queue");
    if (lqueue_offer(L, q))
        return 0;
    return lpark_wait(L, &q->putters, lqueue_label, lqueue_put_k);
}

/* queue:try_put(v) -> bool: false when full or closed [-0, +1, e] */
static int lqueue_try_put(lua_State *L)
{
    struct queue *q = lqueue_check(L);
    luaL_argcheck(L, !lua_isnoneornil(L, 2), 2, "value expected");
    lua_settop(L, 2);
    lua_pushboolean(L, !q->closed && lqueue_offer(L, q));
    return 1;
}

/* queue:get() -> item, or nil once closed and empty; waits while empty [-0, +1, e y] */
static int lqueue_get(lua_State *L)
{
    struct queue *q = lqueue_check(L);
    if (q->tail > q->head)
        lqueue_pop(L, q);
    else if (q->closed)
        lua_pushnil(L);
    else
        return lpark_wait(L, &q->getters, lqueue_label, NULL);
    return 1;
}

/* queue:try_get() -> item or nil [-0, +1, e] */
static int lqueue_try_get(lua_State *L)
{
    struct queue *q = lqueue_check(L);
    lua_settop(L, 1);
    if (q->tail > q->head)
        lqueue_pop(L, q);
    else
        lua_pushnil(L);
    return 1;
}

/* queue:len() -> integer [-0, +1, e] */
static int lqueue_len(lua_State *L)
{
    struct queue *q = lqueue_check(L);
    lua_pushinteger(L, q->tail - q->head);
    return 1;
}

/* queue:close(): getters get nil, parked putters raise; items already in stay [-0, +0, e] */
static int lqueue_close(lua_State *L)
{
    struct queue *q = lqueue_check(L);
    q->closed = true;
    while (q->getters.head) {
        lua_pushnil(L);
        lpark_hand(L, &q->getters);
    }
    while (q->putters.head) {
        lua_pushboolean(L, 0);
        lpark_hand(L, &q->putters);
    }
    return 0;
}

/* the iterator of queue:iter(): get() on the queue in upvalue 1 [-0, +1, e y] */
static int lqueue_next(lua_State *L)
{
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));
    return lqueue_get(L);
}

/* queue:iter() -> function for a generic for: items until closed and empty [-0, +1, e] */
static int lqueue_iter(lua_State *L)
{
    lqueue_check(L);
    lua_settop(L, 1);
    lua_pushcclosure(L, lqueue_next, 1);
    return 1;
}

static const luaL_Reg lqueue_methods[] = {
    {"put", lqueue_put}, {"try_put", lqueue_try_put}, {"get", lqueue_get},
    {"try_get", lqueue_try_get}, {"len", lqueue_len}, {"close", lqueue_close},
    {"iter", lqueue_iter}, {NULL, NULL},
};

void lqueue_open(lua_State *L)
{
    laux_newmetatable(L, MT_QUEUE);
    luaL_newlib(L, lqueue_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, lqueue_new);
    lua_setfield(L, -2, "queue");
}
