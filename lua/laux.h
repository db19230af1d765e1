/* What every suspending binding shares: the checks before a yield, the yield of the runtime's
 * tag, and turning the wake reason into an error after it. */
#ifndef ASYNCRUN_LAUX_H
#define ASYNCRUN_LAUX_H

#include <string.h>

#include "core.h"

/* [-0, +0, v] the running task that may suspend now; raises "attempt to suspend outside a
 * task", the non-yieldable cause, or the task's pending cancellation (level-triggered). */
struct task *laux_suspending_task(lua_State *L);

/* [-0, +0, v y] raises the running task's pending cancellation or timeout (after one turn
 * of the loop, as laux_suspending_task does), if it has one and may suspend: called before an
 * operation opens what an interrupted wait would have to give back (a connecting socket). */
void laux_interruption_point(lua_State *L);

/* [-0, +0, -] whether laux_suspending_task would return, raising nothing: a running task,
 * L yieldable, no cancellation pending. */
bool laux_can_suspend(lua_State *L);

/* [-0, +0, v] raises what a suspension of t must raise now: its cancellation, or the value
 * of a cancelled scope; returns when nothing applies. */
void laux_check_interrupt(lua_State *L, struct task *t);

/* [-0, +0, y] suspends t on the request it recorded (t->wait, t->on); k runs on wake-up. */
int laux_suspend(lua_State *L, struct task *t, lua_KContext ctx, lua_KFunction k);

/* [-0, +0, y] suspends the running task until src is ready (fd readiness, a process's
 * exit); k runs on wake-up. Raises as laux_suspending_task does. */
int laux_wait_io(lua_State *L, struct iosrc *src, lua_KContext ctx, lua_KFunction k);

/* [-0, +0, v] after wake-up: raises Cancelled (or the wake's error) unless woken normally. */
void laux_resumed(lua_State *L, struct task *t);

/* [-0, +0, e y] suspends the running task while host is looked up off the loop (resolve.h);
 * k takes the request back with laux_looked_up. */
int laux_lookup(lua_State *L, const char *host, lua_KContext ctx, lua_KFunction k);

/* [-0, +0, v] in k of laux_lookup: the request, the caller's to free; raises (freeing it)
 * when the lookup was interrupted. */
struct resolve_req *laux_looked_up(lua_State *L);

/* [-0, +0, v] raises "attempt to suspend inside a non-yieldable call ..." naming the cause. */
int laux_noyield_error(lua_State *L);
/* core.api(fn): wraps an API function written in Lua in a C closure, see laux.c */
int laux_api_new(lua_State *L);

/* [-0, +(0|1), m] whether the string (or number, converted in place) at idx holds a zero
 * byte, which C would take for its end; if so, pushes "what contains a zero byte" (what[i]
 * when i > 0), for a function that raises in its own words. */
bool laux_zero_byte(lua_State *L, int idx, const char *what, lua_Integer i);
/* [-0, +0, v] the string (or number, converted in place) at idx as a C string, idx holding
 * argument arg or a part of it that what names ("opts.cwd"; what[i] when i > 0): a zero
 * byte, which C would take for the end, raises "bad argument #arg to 'f' (what contains a
 * zero byte)"; NULL if it is neither a string nor a number. */
const char *laux_cstring(lua_State *L, int idx, int arg, const char *what, lua_Integer i);
/* [-0, +0, v] luaL_checkstring and luaL_optstring for a string that becomes a C string */
const char *laux_checkcstring(lua_State *L, int arg);
const char *laux_optcstring(lua_State *L, int arg, const char *def);
/* [-0, +0, v] luaL_checkoption, an option with a zero byte being none */
int laux_checkoption(lua_State *L, int arg, const char *def, const char *const list[]);

/* [-0, +3, m] the run-time failure triple: nil, "what: message" (or the message), errno */
int laux_failure(lua_State *L, int err, const char *what);

/* [-0, +1, m] creates the metatable of a userdata type (by its name too, for tools) */
void laux_newmetatable(lua_State *L, enum rt_mt which);
/* [-0, +0, m] makes the table on top the metatable of that userdata type */
void laux_adopt_metatable(lua_State *L, enum rt_mt which);
/* [-0, +0, -] the userdata at idx if it has at least size bytes and the pointer field at
 * offset holds tag, else NULL. The address of a static string of asyncrun's own is something
 * no Lua code can write into a userdata: checking it (after the size) tells a type apart at
 * a fraction of the cost of fetching the metatable, on the hot paths (queue methods, the
 * lists gather and first are given). */
static inline void *laux_test_tag(lua_State *L, int idx, size_t size, size_t offset, const char *tag)
{
    char *p = lua_touserdata(L, idx);
    const char *found;
    if (!p || lua_rawlen(L, idx) < size)
        return NULL;
    memcpy(&found, p + offset, sizeof found);
    return found == tag ? p : NULL;
}
/* [-0, +0, -] / [-0, +0, v] laux_test and laux_check for tasks, by their kind field (they
 * have two metatables: a failed one gets one with __gc, see ltask.c) */
struct task *laux_test_task(lua_State *L, int idx);
struct task *laux_check_task(lua_State *L, int idx);
/* [-0, +0, -] the userdata at idx if it is of that type, else NULL */
void *laux_test(lua_State *L, int idx, enum rt_mt which);
/* [-0, +0, v] the same, or a standard argument error */
void *laux_check(lua_State *L, int idx, enum rt_mt which);

/* [-0, +0, m] an error value type (Cancelled, Timeout): a metatable named mtname with
 * __tostring, and its singleton, kept as the metatable's "value" and as async[field];
 * the module table is on top of the stack */
void laux_error_value(lua_State *L, const char *mtname, lua_CFunction tostring, const char *field);

#endif
