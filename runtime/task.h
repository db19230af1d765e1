/* Tasks: creation, cancellation, the end of a task, and waiter lists. */
#ifndef ASYNCRUN_TASK_H
#define ASYNCRUN_TASK_H

#include "core.h"

#define TASK_MT "async.Task"
#define CANCELLED_MT "async.Cancelled"

/* [-(nargs+1), +1, m] function and arguments on top of L become a new pending task. */
struct task *task_new(struct rt *rt, lua_State *L, int nargs);

/* [-0, +0, m] gives t, about to take its first step, its run block; raises when there is
 * no memory for it. */
struct task_run *task_run_new(lua_State *L, struct task *t);
/* Frees t's run block, if it has one: at its end, or when the run is torn down. */
void task_run_free(struct rt *rt, struct task *t);

/* [-0, +1, -] pushes the userdata of an unfinished task. */
void task_push(lua_State *L, const struct task *t);

static inline bool task_finished(const struct task *t)
{
    return t->state >= TASK_DONE;
}

/* Requests cancellation and wakes the task if it waits; false if it had finished.
 * by is a static string ("task", "shutdown", "signal:INT", ...); by_id names the task for "task". */
bool task_cancel(struct rt *rt, struct task *t, const char *by, lua_Integer by_id);

/* Ends a task after its last step: status is lua_resume's, its results or error on top of co. */
void task_finish(struct rt *rt, struct task *t, int status, int nres);

/* Ends a task cancelled before its first step: its body never runs. */
void task_finish_unstarted(struct rt *rt, struct task *t);

/* Registry field of the error groups (async.errors), a table with weak keys: task -> the
 * group of the error that the task's last failing scope, gather, wait_for, await or result
 * raised in it, {n = count, primary, the errors raised with it..., shown = how many of
 * those the primary's own traceback already lists}. */
#define ERROR_GROUPS "async.error_groups"

/* [-0, +0, -] true when the value at idx has the registry metatable name. */
bool value_has_metatable(lua_State *L, int idx, const char *name);

/* [-0, +0, -] true when the value at idx is an async.Cancelled value. */
bool task_is_cancel_value(lua_State *L, int idx);

/* [-0, +1, m] the value a cancelled task raises: its reason object, or async.Cancelled. */
void task_push_cancel_value(lua_State *L, struct task *t);

/* Marks a failed task's error as retrieved, so nobody reports it. */
void task_retrieved(struct rt *rt, struct task *t);

/* Reports a failed task nobody awaited; sets the exit status to 1 if it was 0. */
void task_report_unretrieved(struct rt *rt, struct task *t);

/* "task-<id>" or the name the script gave, into buf; returns buf. */
const char *task_name(const struct task *t, char *buf, size_t size);
/* [-0, +1, m] pushes a new table with weak keys, also kept in the registry under key */
void task_new_weak_keyed(lua_State *L, const char *key);
/* [-1, +0, m] names t (its userdata at idx) with the string on top */
void task_set_name(lua_State *L, struct task *t, int idx);

/* Wakes t if a cancellation or a cancelled scope now applies to its wait. */
void task_interrupt(struct rt *rt, struct task *t);

/* Wakes t, parked in a park queue, with something handed to it: the wake stands even if
 * t is cancelled before it runs (the cancellation is raised at its next suspension). */
void task_hand_off(struct rt *rt, struct task *t);

void waitq_push(struct waitq *q, struct waiter *w);
struct waiter *waitq_pop(struct waitq *q);
void waitq_remove(struct waiter *w);

#endif
