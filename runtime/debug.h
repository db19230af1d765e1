/* --debug: slow-step warnings, a watchdog that reports a step blocking the loop while it is
 * still blocking, and warnings about swallowed cancellations. */
#ifndef ASYNCRUN_DEBUG_H
#define ASYNCRUN_DEBUG_H

#include "core.h"

/* Starts the watchdog thread; -errno on failure. */
int debug_open(struct rt *rt);
void debug_close(struct rt *rt);
/* A step is starting / has ended (t->step_ran). */
void debug_step_begin(struct rt *rt, struct task *t);
void debug_step_end(struct rt *rt, struct task *t, bool suspended);
/* t is about to get its cancellation raised again: a pcall swallowed the previous one. */
void debug_cancel_raised(struct rt *rt, struct task *t, lua_State *L);
/* t finished normally although its cancellation was raised: something caught it. */
void debug_cancel_swallowed(struct rt *rt, struct task *t);

#endif
