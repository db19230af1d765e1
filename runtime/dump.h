/* The task dump: every live task with what it waits on and where, under its parent. */
#ifndef ASYNCRUN_DUMP_H
#define ASYNCRUN_DUMP_H

#include "core.h"

/* What t waits on: "sleep:0.5", "task:3", "ready", "queue"...; formatted into buf, or a
 * string that lives as long as the wait. */
const char *dump_wait(const struct task *t, char *buf, size_t size);
/* [-0, +0, m] "file:line" of t's spawn call ("?" when unknown) into buf, which it returns */
const char *dump_spawn_site(lua_State *L, const struct task *t, char *buf, size_t size);
/* [-0, +0, m] where the suspended t waits, as the trace and the dump name it: the line of
 * the user's code under the wait, or, for the API's own tasks (an accept loop, capture's
 * readers), the user's call that spawned them */
const char *dump_where(lua_State *L, const struct task *t, char *buf, size_t size);
void dump_tasks(struct rt *rt, FILE *out);

#endif
