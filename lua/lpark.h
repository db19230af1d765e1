/* The park primitive shared by the synchronisation types written in C (queues) and the park
 * queues lua/async.lua builds the others on: a task waits in a FIFO of waiters, and is woken
 * with a value handed to it. */
#ifndef ASYNCRUN_LPARK_H
#define ASYNCRUN_LPARK_H

#include "core.h"

/* [-0, +1, e y] suspends the running task in q (dumps and traces say `label`, which must
 * live as long as the wait) until a value is handed to it, then returns that value, or
 * lets k (which must call laux_resumed first) turn it into results. The caller's stack
 * stays as it is meanwhile: a payload at index 2 is what lpark_payload finds. Raises as
 * laux_suspending_task does, and Cancelled when cancelled before a hand-off. */
int lpark_wait(lua_State *L, struct waitq *q, const char *label, lua_KFunction k);
/* [-1, +0, m] hands the value on top to the first task waiting in q (which must not be
 * empty); it is woken and returns that value, even if cancelled meanwhile. */
void lpark_hand(lua_State *L, struct waitq *q);
/* [-0, +1, m] the payload (index 2) of the first task waiting in q, which must not be empty. */
void lpark_payload(lua_State *L, struct waitq *q);

#endif
