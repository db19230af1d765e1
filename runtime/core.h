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
#include "term.h"

struct rt;
struct stream;

enum task_state { TASK_PENDING, TASK_RUNNING, TASK_DONE, TASK_FAILED, TASK_CANCELLED };

/* What a suspended task waits on: the request a binding records before it yields. */
enum wait_kind {
    WAIT_NONE,  /* running, or finished */
    WAIT_READY, /* in the ready FIFO */
    WAIT_SLEEP, /* on.sleep in the timer heap */
    WAIT_TASK,  /* its waiter node in one task's awaiters */
    WAIT_TASKS, /* on.tasks: a node in each of several tasks' awaiters */
    WAIT_PARK,  /* its waiter node in a park queue (queues, locks, events...) */
    WAIT_IO,    /* its waiter node in an I/O source: fd readiness, process exit, signal */
    WAIT_RESOLVE, /* on.resolve: a name lookup in the worker pool */
    WAIT_SIGNAL, /* its waiter node in a signal listener */
    WAIT_HTTP,  /* on.http: a transfer in the run's libcurl multi handle */
};

/* Why the scheduler resumed a task; the binding's continuation turns it into results or an
 * error. INTERRUPT means "a cancellation or an expired scope applies now". */
enum wake_reason { WAKE_OK, WAKE_INTERRUPT, WAKE_NOYIELD, WAKE_NOMEM };

/* A deadline in the timer heap: a sleeping task's, or a timeout scope's. */
struct timer {
    double deadline;
    size_t slot;              /* index in the heap while armed */
    void (*fire)(struct rt *rt, struct timer *tm);
};

/* A node in a waiter list: a task waiting on a task or in a park queue; on an I/O source,
 * also the runtime's own waiters (a transfer paused on a stream) through wake. */
struct waiter {
    struct waiter *prev, *next;
    struct waitq *q;          /* borrowed: the list it sits in, NULL when unlinked */
    struct task *task;        /* borrowed: who waits */
    void (*wake)(struct rt *rt, struct waiter *w); /* not a task's: called, unlinked, when
                                                      the source is ready or closed */
};

/* An intrusive FIFO list of waiters. */
struct waitq {
    struct waiter *head, *tail;
};

/* Something outside the tasks that can wake them: an fd's readiness (a stream, a listening
 * socket, a process's pidfd). Its watcher runs only while tasks wait on it; while it runs it
 * is referenced, so the loop (and deadlock detection) knows the world may still act. */
struct iosrc {
    ev_io w;
    struct waitq waiters;
    const char *what;         /* static: "read", "write", "accept", "process" */
    int label;                /* fd or pid, for on=what:label */
    bool background;          /* watched for no task (iosrc_watch): unref'd */
};

/* Something shutdown must close if the script did not: streams, servers, processes,
 * signal listeners. Linked in rt->resources while open. */
struct resource {
    struct resource *prev, *next;
    const char *kind;         /* static: "stream", "server", "process", "signal" */
    void (*shutdown)(struct rt *rt, struct resource *r); /* close it, kill it... */
    void (*describe)(struct resource *r, char *buf, size_t size);
};

/* A cancel scope on a task's stack: a timeout, a nursery, or a shield barrier. Entered and
 * left by the C function whose frame holds its userdata as a to-be-closed variable. */
struct cscope {
    struct cscope *outer;     /* borrowed: the next enclosing scope of the same task */
    struct task *task;        /* borrowed: the owner while entered, NULL once left */
    lua_State *L;             /* borrowed: the thread (task's or a coroutine in it) it runs in */
    struct timer timer;       /* the deadline of a timeout, when armed */
    int ref;                  /* ref: registry, anchors the userdata while entered */
    bool shield, cancelled, armed;
};

/* The Lua allocator (alloc.c): its accounting (bytes in use, the peak, the --memlimit cap,
 * 0: none) and its size classes: blocks up to ALLOC_SMALL bytes (a coroutine's first stack,
 * 720 bytes, among them), in steps of ALLOC_GRAIN. */
#define ALLOC_GRAIN 16
#define ALLOC_SMALL 1024

struct alloc {
    size_t used, peak, limit;
    void *free[ALLOC_SMALL / ALLOC_GRAIN]; /* borrowed: free blocks of each class, linked */
    char *bump, *end;         /* borrowed: the unused part of the newest chunk */
    struct alloc_chunk *chunks; /* owned: every chunk, newest first */
    size_t chunk_bytes;       /* their total size */
    struct alloc_filler *filler; /* owned: maps big chunks ahead, from the first one on */
    bool filler_failed;       /* its thread could not start: big chunks are mapped in line */
};

/* Intrusive list linked through task.list_prev/list_next: live tasks, or finished tasks
 * whose failure nobody retrieved yet. */
struct task_list {
    struct task *head, *tail;
    size_t count;
};

/* What only a started, unfinished task needs: its thread and what it waits on. Allocated at
 * its first step and freed at its end (task_run_new, task_run_free), so that the many tasks
 * of a burst that are waiting to start, or have finished, do not carry it. */
struct task_run {
    lua_State *co;            /* borrowed: anchored by user value 1 while the task runs */
    lua_State *wait_L;        /* borrowed: the thread (task's or a user coroutine) that suspended */
    struct cscope *scopes;    /* borrowed: innermost entered cancel scope */
    struct waiter w;          /* the task's node for single waits; w.task is the task */
    union {
        struct { struct timer tm; double secs; } sleep;
        struct task *awaited; /* borrowed: unfinished, hence anchored */
        struct {
            struct waiter *nodes; /* borrowed: a userdata on the waiting thread's stack */
            struct task **targets; /* borrowed: same userdata; node i waits on targets[i] */
            int n, pending, fired; /* fired: index of the node that woke it */
            bool all;         /* wake when all have finished, not at the first */
            bool failures;    /* with all: wake at the first failure too */
        } tasks;
        struct iosrc *io;     /* borrowed: owned by a stream, server or process on the stack */
        struct resolve_req *resolve; /* borrowed: the pool owns it until the task is woken */
        struct siglistener *sig; /* borrowed: a userdata on the waiting thread's stack */
        struct http_xfer *http; /* borrowed: a userdata on the waiting thread's stack */
        struct {
            struct waitq *q;  /* borrowed: in the park queue's userdata, on the waiter's stack */
            const char *label; /* borrowed: "queue", "lock", ... anchored by that userdata */
        } park;
    } on;
};

struct task {
    struct rt *rt;            /* first field: a thread's extra space points at a task or the rt */
    const char *kind;         /* task_kind: what the bindings check a task by */
    lua_Integer id, parent;
    struct task_run *run;     /* owned: from the first step to the end, else NULL */
    const char *name;         /* borrowed: anchored by TASK_NAMES; NULL means "task-<id>" */
    const char *traceback;    /* borrowed: anchored by UV_TRACE; a failure's message and traceback */
    int ref;                  /* ref: registry, anchors the userdata until the task finishes */
    int nargs;                /* arguments stored for the first step (user value 2) */
    int nres;                 /* results kept after a normal end (user value 2) */
    int spawn_line;           /* line of the spawn call in the spawning function (UV_TRACE) */
    uint8_t state;            /* enum task_state */
    uint8_t wait;             /* enum wait_kind */
    uint8_t wake;             /* enum wake_reason */
    bool started : 1, cancel_requested : 1, error_retrieved : 1, reported : 1, plain_error : 1;
    bool cancel_raised : 1, swallow_warned : 1; /* --debug: swallowed cancellations */
    bool handed : 1;          /* woken by a hand-off (item, permit): the wake cannot be undone */
    bool cancel_reason : 1;   /* UV_DATA holds the Cancelled that cancel(reason) made */
    bool c_body : 1;          /* the body is a C function: dumps show the spawn site */
    bool pooled : 1;          /* its thread is one of the pool's, to be idle again after it */
    bool yielded : 1;         /* --seed: ready by its own yield, see seed_rank */
    uint64_t finish_seq;      /* order in which tasks finished, for "the first error" */
    struct task *ready_next;  /* ready FIFO */
    struct task *list_prev, *list_next;
    struct waitq awaiters;    /* nodes of tasks waiting for this one to finish */
    struct cscope *nursery;   /* borrowed: a scope to cancel if this task fails */
};

extern const char task_kind[];

/* Clock seconds of a task, kept only while timing (trace, stats, debug): then they follow
 * struct task in its userdata, so that a run without diagnostics does not carry them. */
struct task_timing {
    double spawned_at, run_time;
    double step_at, step_ran; /* the last step: start on the trace clock, duration */
};

static inline struct task_timing *task_timing(struct task *t)
{
    return (struct task_timing *)(t + 1);
}

/* Names given to tasks (rare: kept out of the task's own block), in a registry table with
 * weak keys: task userdata -> name string. */
#define TASK_NAMES "async.task_names"

/* User values of a task userdata. */
enum { UV_FN = 1, /* function until first run, then the thread; after a failure, the
                     failure guard: a userdata whose __gc reports it if never retrieved */
       UV_DATA,   /* arguments until first run, then results or the error value */
       UV_TRACE,  /* until the first run: the spawning function (for the spawn site);
                     then a failure's traceback string */
       UV_COUNT = UV_TRACE };

/* A min-heap of deadlines, armed through one ev_timer. Each slot keeps a copy of its timer's
 * deadline: sifting compares neighbours in the array instead of visiting every timer. */
struct timer_slot {
    double deadline;
    struct timer *tm;         /* borrowed */
};

struct timer_heap {
    struct timer_slot *v;     /* owned: malloc'd array, grown by doubling */
    size_t n, cap;
};

/* The userdata types, whose metatables are checked by identity (not looked up by name, which
 * costs a string comparison on every method call). */
enum rt_mt { MT_TASK, MT_FAILURE_GUARD, MT_STREAM, MT_PARK, MT_PROC, MT_SCOPE, MT_SIGNAL, MT_SERVER,
             MT_QUEUE, MT_UDP, MT_COUNT };

#define POOL_MAX 256

struct rt {
    struct rt *self;          /* first field, see struct task */
    lua_State *L;             /* the main thread: only the scheduler resumes tasks from it */
    struct ev_loop *loop;
    const struct rt_options *opt;
    struct task *main, *current;
    struct task_list live, unretrieved;
    struct { struct task *head, *tail; } ready;
    lua_Integer next_id;
    uint64_t finish_seq;
    uint64_t iterations;      /* turns of the scheduler loop */
    size_t ended[3];          /* tasks done, failed, cancelled (state - TASK_DONE) */
    struct alloc alloc;       /* the Lua heap's accounting */
    lua_State *running_L;     /* the thread executing Lua now: a task's, or a coroutine in it */
    double fake_now;          /* --fake-time: the virtual clock; 0 when time is real */
    size_t io_waits;          /* waits on the world (I/O, processes): fake time must not jump */
    struct resource *resources; /* borrowed: open resources, most recent first */
    size_t spawned, peak_live;
    struct timer_heap timers;
    ev_timer timer_watch;     /* fires at the earliest deadline of the heap */
    ev_timer deadline_watch;  /* --timeout and the shutdown grace; internal, unref'd */
    ev_async signal_watch;    /* woken by the signal handler; internal, unref'd */
    int8_t pidfd_mode;        /* 0 untried, 1 pidfds work, -1 the SIGCHLD fallback (proc.h) */
    int8_t spawn_mode;        /* 0 untried, 1 spawn.c's clone3, -1 posix_spawn */
    double t0;                /* clock at loop start */
    double last_poll;         /* clock of the last poll while tasks were ready */
    /* Threads for reuse: up to POOL_MAX of them are anchored for good in the registry table
     * pool_ref (its pool_members first slots); those not in use by a task are idle. */
    int pool_ref, pool_members, pool_n;
    lua_State *pool_idle[POOL_MAX]; /* borrowed: the idle ones, pool_n of them */
    int status;               /* exit status decided so far */
    int signal_status;        /* 130/143 once a signal cancelled main */
    bool suspending;          /* a runtime suspension is yielding: see sched_take_suspension */
    bool loop_open, shutting_down, closed, strict_failed, pipe_ignored_at_start, deadlocked, timed_out, grace_expired;
    bool std_gone;            /* a final drain of async.stdout/stderr found its reader gone */
    bool drain_expired;       /* a drain gave up at rt->drain_until */
    int out_err[2];           /* errno of a write error on stdout, stderr that the script never
                                 received: reported at exit (rt_output_error) */
    double drain_until;       /* clock past which a drain blocking the loop gives up, 0: never:
                                 --timeout's expiry, then the grace after it or a signal */
    double close_grace;       /* at the end of the run: how long a drain waits for a stream but
                                 stdout/stderr that makes no progress, 0: no limit */
    struct stream *lingering; /* owned: closed streams whose output is still going out */
    FILE *trace;              /* NULL when tracing is off */
    bool trace_shared;        /* the trace goes to stdout's or stderr's file: kept in order */
    char *trace_buf;          /* owned: the trace file's stdio buffer */
    struct trace_html *trace_html; /* owned: the page's state under --trace=html */
    bool timing;              /* steps are timed: tracing, --stats or --debug */
    struct stats *stats;      /* owned: NULL without --stats */
    struct resolve_pool *resolver; /* owned: started by the first lookup */
    struct http *http;        /* owned: libcurl's multi handle, from the first async.http call */
    int mt_ref[MT_COUNT];     /* ref: registry, the metatables of the userdata types */
    const void *mt[MT_COUNT]; /* the same, for identity checks */
    struct debug *debug;      /* owned: NULL without --debug */
    struct seed *seed;        /* owned: NULL without --seed */
    struct stream *pending_out; /* borrowed: streams with buffered output (stream_pend) */
    struct stream *std_streams[3]; /* borrowed: async.stdin/stdout/stderr once opened */
    struct term term;         /* the terminal as the run found it, put back on the way out */
};

/* The diagnostics' hooks: one branch each on the hot paths, compiled out altogether with
 * -DASYNCRUN_NO_TRACE_HOOKS (the baseline `make bench-trace-cost` measures them against). */
#ifdef ASYNCRUN_NO_TRACE_HOOKS
#define rt_tracing(rt) ((void)(rt), false)
#define rt_timing(rt) ((void)(rt), false)
#else
#define rt_tracing(rt) ((rt)->trace != NULL)
#define rt_timing(rt) ((rt)->timing)
#endif

/* The runtime's clock: virtual under --fake-time. */
double rt_now(const struct rt *rt);

/* os.exit is leaving the process now: kill children, print stats, close the trace. */
void rt_before_exit(struct rt *rt);
/* os.exit: rt_before_exit, then lua_close if close, then exit(status). */
_Noreturn void rt_exit(struct rt *rt, int status, bool close);

/* stdout or stderr lost its reader: end the run quietly with status 141, as Unix tools do. */
void rt_output_gone(struct rt *rt);

/* Checks C stdio's error flags: a broken stdout/stderr pipe ends the run (rt_output_gone),
 * another error is kept for the report at exit. */
void rt_check_output(struct rt *rt);

/* fflush of C stdio's stdout or stderr: a failure is noted while errno is the write's
 * (rt_output_error), a broken pipe as one (rt->std_gone). */
void rt_fflush(struct rt *rt, FILE *f);

/* A write error on stdout or stderr (name) that the script will never receive: reported
 * once at exit ("asyncrun: stdout: No space left on device"), and a 0 status becomes 1. */
void rt_output_error(struct rt *rt, const char *name, int err);

/* The run is ending (--timeout, a signal): drains that block the loop give up on a reader
 * that does not read after the shutdown grace (rt->drain_until). */
void rt_bound_drains(struct rt *rt);

/* The rt pointer in any thread's extra space (tasks, user coroutines, the main thread). */
static inline struct rt *rt_of(lua_State *L)
{
    return **(struct rt ***)lua_getextraspace(L);
}

/* [-1, +1, -] sets the metatable of the userdata type which on the value on top */
static inline void rt_setmetatable(lua_State *L, enum rt_mt which)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt_of(L)->mt_ref[which]);
    lua_setmetatable(L, -2);
}

/* The task whose own thread L is, or NULL (main thread, user coroutines). */
static inline struct task *task_of_thread(lua_State *L)
{
    void *p = *(void **)lua_getextraspace(L);
    struct rt *rt = *(struct rt **)p;
    return p == (void *)rt ? NULL : (struct task *)p;
}

#endif
