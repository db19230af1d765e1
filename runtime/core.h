/* The one runtime context and the task record, shared by runtime modules and the Lua bindings.
 * Ownership: struct rt lives on rt_run's stack for the whole run; a struct task is the block
 * of its Lua userdata, so the Lua GC owns its memory and the runtime anchors it (task.ref)
 * for as long as it is unfinished. */
#ifndef ASYNCRUN_CORE_H
#define ASYNCRUN_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <ev.h>
#include <lua.h>

#include "rt.h"

struct rt;

enum task_state { TASK_PENDING, TASK_RUNNING, TASK_DONE, TASK_FAILED, TASK_CANCELLED };

/* What a suspended task waits on: the request a binding records before it yields. */
enum wait_kind { WAIT_NONE, WAIT_READY, WAIT_SLEEP, WAIT_TASK };

/* Why the scheduler resumed a task; the binding's continuation turns it into results or an error. */
enum wake_reason { WAKE_OK, WAKE_CANCEL, WAKE_NOYIELD, WAKE_NOMEM };

/* An intrusive FIFO list of waiting tasks (linked through task.wq_prev/wq_next). */
struct waitq {
    struct task *head, *tail;
};

/* Intrusive list linked through task.list_prev/list_next: live tasks, or finished tasks
 * whose failure nobody retrieved yet. */
struct task_list {
    struct task *head, *tail;
    size_t count;
};

struct task {
    struct rt *rt;            /* first field: a thread's extra space points at a task or the rt */
    lua_Integer id, parent;
    lua_State *co;            /* borrowed: anchored by user value 1 while the task runs */
    lua_State *wait_L;        /* borrowed: the thread (task's or a user coroutine) that suspended */
    const char *name;         /* borrowed: anchored by user value UV_NAME; NULL means "task-<id>" */
    const char *traceback;    /* borrowed: anchored by UV_TRACE; a failure's message and traceback */
    int ref;                  /* ref: registry, anchors the userdata until the task finishes */
    uint8_t state;            /* enum task_state */
    uint8_t wait;             /* enum wait_kind */
    uint8_t wake;             /* enum wake_reason */
    bool started, cancel_requested, error_retrieved, reported, plain_error;
    int nargs;                /* arguments stored for the first step (user value 2) */
    int nres;                 /* results kept after a normal end (user value 2) */
    struct task *ready_next;  /* ready FIFO */
    struct task *list_prev, *list_next;
    struct task *wq_prev, *wq_next;
    struct waitq *wq;         /* borrowed: the waiter list this task sits in, if any */
    struct waitq awaiters;    /* tasks suspended in await() on this one */
    union {
        struct { double deadline, secs; size_t slot; } sleep;
        struct task *awaited; /* borrowed: unfinished, hence anchored */
    } on;
    double spawned_at, run_time; /* clock seconds; kept only while tracing */
    const char *cancel_by;    /* static string: who asked for the cancellation */
    lua_Integer cancel_by_id; /* the task that asked, when cancel_by is "task" */
};

/* User values of a task userdata. */
enum { UV_FN = 1, /* function until first run, then the thread */
       UV_DATA,   /* arguments until first run, then results or the error value */
       UV_NAME,   /* name string, nil means "task-<id>" */
       UV_TRACE,  /* traceback string of a failure */
       UV_COUNT = UV_TRACE };

/* A min-heap of sleeping tasks ordered by deadline, armed through one ev_timer. */
struct timer_heap {
    struct task **v;          /* owned: malloc'd array, grown by doubling */
    size_t n, cap;
};

struct rt {
    struct rt *self;          /* first field, see struct task */
    lua_State *L;             /* the main thread: only the scheduler resumes tasks from it */
    struct ev_loop *loop;
    const struct rt_options *opt;
    struct task *main, *current;
    struct task_list live, unretrieved;
    struct { struct task *head, *tail; } ready;
    lua_Integer next_id;
    size_t spawned, peak_live;
    struct timer_heap timers;
    ev_timer timer_watch;     /* fires at the earliest deadline of the heap */
    ev_timer deadline_watch;  /* --timeout and the shutdown grace; internal, unref'd */
    ev_async signal_watch;    /* woken by the signal handler; internal, unref'd */
    double t0;                /* clock at loop start */
    double last_poll;         /* clock of the last poll while tasks were ready */
    int pool_ref, pool_n;     /* ref: registry table of idle threads for reuse */
    int status;               /* exit status decided so far */
    int signal_status;        /* 130/143 once a signal cancelled main */
    bool loop_open, shutting_down, closed, deadlocked, timed_out, grace_expired;
    FILE *trace;              /* NULL when tracing is off */
};

/* os.exit is leaving the process now: write the closing trace event and flush. */
void rt_before_exit(struct rt *rt);

/* The rt pointer in any thread's extra space (tasks, user coroutines, the main thread). */
static inline struct rt *rt_of(lua_State *L)
{
    return **(struct rt ***)lua_getextraspace(L);
}

/* The task whose own thread L is, or NULL (main thread, user coroutines). */
static inline struct task *task_of_thread(lua_State *L)
{
    void *p = *(void **)lua_getextraspace(L);
    struct rt *rt = *(struct rt **)p;
    return p == (void *)rt ? NULL : (struct task *)p;
}

#endif
