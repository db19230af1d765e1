/* --trace: one event per line as it happens. Every entry point is a no-op when tracing is off,
 * and callers test rt->trace first so the off path costs one branch. */
#ifndef ASYNCRUN_TRACE_H
#define ASYNCRUN_TRACE_H

#include "core.h"

/* Opens the destination and writes the format's header; returns -errno on failure. */
int trace_open(struct rt *rt);
/* Writes the format's footer and closes; later events are dropped. */
void trace_close(struct rt *rt);
void trace_flush(struct rt *rt);
/* Output to stdout or stderr is about to be written: with the trace on the same file, the
 * events before it go out first. */
void trace_before_output(struct rt *rt);

void trace_loop_start(struct rt *rt);
void trace_loop_close(struct rt *rt);
/* L is the spawning thread, for at=. */
void trace_spawn(struct rt *rt, struct task *t, lua_State *L);
/* now: the clock (clock_now) when the step began, or ended */
void trace_resume(struct rt *rt, struct task *t, double now);
/* the step that just ended is in t->step_at, t->step_ran */
void trace_suspend(struct rt *rt, struct task *t, double now);
void trace_done(struct rt *rt, struct task *t);
void trace_fail(struct rt *rt, struct task *t, const char *msg);
/* by, by_id: as task_cancel was told */
void trace_cancel(struct rt *rt, struct task *t, const char *by, lua_Integer by_id);
void trace_cancelled(struct rt *rt, struct task *t);
/* A finished HTTP transfer: curl's phases in seconds from its start. */
struct trace_http {
    lua_Integer task;
    const char *method, *url, *error; /* error: NULL unless it failed */
    long status;
    uint64_t bytes;
    double lookup, connect, tls, first_byte, total;
};
void trace_http(struct rt *rt, const struct trace_http *e);
/* a timeout scope of t expired */
void trace_timeout(struct rt *rt, struct task *t);

#endif
