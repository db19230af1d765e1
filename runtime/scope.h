/* Cancel scopes: timeouts, nurseries and shields, stacked per task. A suspension raises the
 * task's cancellation unless a shield is entered, else the innermost cancelled scope above
 * the innermost shield. */
#ifndef ASYNCRUN_SCOPE_H
#define ASYNCRUN_SCOPE_H

#include "core.h"

enum interrupt { INT_NONE, INT_CANCEL, INT_SCOPE };

/* What a suspension of t must raise now; *which is the scope for INT_SCOPE. */
enum interrupt scope_pending(const struct task *t, struct cscope **which);

/* [-1, +0, m] enters s (its userdata on top of L, popped) for the running task t;
 * a finite deadline arms its timer. Returns -ENOMEM if the timer heap cannot grow. */
int scope_enter(lua_State *L, struct task *t, struct cscope *s, double deadline);
void scope_leave(lua_State *L, struct cscope *s);

/* Marks s cancelled and interrupts its task if that makes its suspension raise. */
void scope_cancel(struct rt *rt, struct cscope *s);

/* A coroutine of t died with scopes entered in it (their to-be-closed slots close only
 * when the coroutine is closed): leave them now, they can never be left otherwise. */
void scope_drop_thread(lua_State *L, struct task *t, lua_State *co);

/* [-0, +1, -] the userdata of an entered scope */
void scope_push(lua_State *L, const struct cscope *s);

#endif
