/* The scheduler: the ready FIFO, the one lua_resume call site, and the run loop. */
#ifndef ASYNCRUN_SCHED_H
#define ASYNCRUN_SCHED_H

#include "core.h"

/* A runtime suspension yields no values and sets rt->suspending just before: whoever sees
 * the yield (the scheduler, or the coroutine library forwarding it out of a user coroutine)
 * takes the flag back, and so tells a suspension from an ordinary coroutine.yield. */
static inline bool sched_take_suspension(struct rt *rt, int nres)
{
    bool ours = rt->suspending && nres == 0;
    rt->suspending = false;
    return ours;
}

/* Makes t runnable in a later batch with the given wake reason. */
void sched_ready(struct rt *rt, struct task *t, enum wake_reason why);

/* Runs batches and polls the loop until stop(rt) holds; false when nothing can ever make
 * progress again (no task ready, no referenced watcher active). */
bool sched_run(struct rt *rt, bool (*stop)(const struct rt *));

/* Stops, unrefs and starts an internal one-shot timer that must not keep the loop alive. */
void sched_internal_timer(struct rt *rt, ev_timer *w, double after);

/* Frees the idle thread pool's registry table. */
void sched_close(struct rt *rt);

#endif
