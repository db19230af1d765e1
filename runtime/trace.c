/* The text trace: logfmt behind "trace: ", one event per line, into a private fully
 * buffered stream that is flushed whenever the loop is about to block and at exit. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "trace.h"
#include "dump.h"
#include "where.h"
#include "task.h"
#include "clock.h"

int trace_open(struct rt *rt)
{
    const char *path = rt->opt->trace_file;
    if (rt->opt->trace == TRACE_OFF)
        return 0;
    if (path) {
        rt->trace = fopen(path, "we");
        if (!rt->trace)
            return -errno;
    } else {
        rt->trace = fdopen(dup(2), "w");
        if (!rt->trace)
            return -errno;
    }
    return 0;
}

void trace_close(struct rt *rt)
{
    if (rt->trace)
        fclose(rt->trace);
    rt->trace = NULL;
}

void trace_flush(struct rt *rt)
{
    if (rt->trace)
        fflush(rt->trace);
}

/* A logfmt value: bare when it has no space, quote or '=', else double-quoted with escapes. */
static void trace_value(FILE *f, const char *s)
{
    if (*s && !strpbrk(s, " \t\n\r\"=\\")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        switch (*s) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        default: fputc(*s, f);
        }
    }
    fputc('"', f);
}

static void trace_head(struct rt *rt, const char *event)
{
    fprintf(rt->trace, "trace: t=%.6f event=%s", rt_now(rt) - rt->t0, event);
}

static void trace_task_head(struct rt *rt, const char *event, const struct task *t)
{
    char buf[32];
    trace_head(rt, event);
    fprintf(rt->trace, " task=%" PRId64 " name=", (int64_t)t->id);
    trace_value(rt->trace, task_name(t, buf, sizeof buf));
}

static void trace_kv(struct rt *rt, const char *key, const char *value)
{
    fprintf(rt->trace, " %s=", key);
    trace_value(rt->trace, value);
}

static void trace_end(struct rt *rt)
{
    fputc('\n', rt->trace);
}

void trace_loop_start(struct rt *rt)
{
    if (!rt->trace)
        return;
    trace_head(rt, "loop-start");
    trace_end(rt);
}

void trace_loop_close(struct rt *rt)
{
    if (!rt->trace)
        return;
    trace_head(rt, "loop-close");
    fprintf(rt->trace, " wall=%.6f tasks=%zu", rt_now(rt) - rt->t0, rt->spawned);
    trace_end(rt);
}

void trace_spawn(struct rt *rt, struct task *t, lua_State *L)
{
    char at[256];
    trace_task_head(rt, "spawn", t);
    fprintf(rt->trace, " parent=%" PRId64, (int64_t)t->parent);
    trace_kv(rt, "at", where_at(L, 1, at, sizeof at));
    trace_end(rt);
}

void trace_resume(struct rt *rt, struct task *t)
{
    trace_task_head(rt, "resume", t);
    trace_end(rt);
}

void trace_suspend(struct rt *rt, struct task *t, double ran)
{
    char on[64], at[256];
    trace_task_head(rt, "suspend", t);
    trace_kv(rt, "on", dump_wait(t, on, sizeof on));
    fprintf(rt->trace, " ran=%.6f", ran);
    trace_kv(rt, "at", where_at(t->wait_L, 0, at, sizeof at));
    trace_end(rt);
}

void trace_done(struct rt *rt, struct task *t)
{
    trace_task_head(rt, "done", t);
    fprintf(rt->trace, " wall=%.6f run=%.6f", rt_now(rt) - t->spawned_at, t->run_time);
    trace_end(rt);
}

void trace_fail(struct rt *rt, struct task *t, const char *msg)
{
    /* the first line of the traceback is the message */
    const char *nl = strchr(msg, '\n');
    char first[512];
    size_t n = nl ? (size_t)(nl - msg) : strlen(msg);
    if (n >= sizeof first)
        n = sizeof first - 1;
    memcpy(first, msg, n);
    first[n] = '\0';
    trace_task_head(rt, "fail", t);
    trace_kv(rt, "error", first);
    trace_end(rt);
}

void trace_cancel(struct rt *rt, struct task *t)
{
    trace_task_head(rt, "cancel", t);
    if (t->cancel_by_id)
        fprintf(rt->trace, " by=%s:%" PRId64, t->cancel_by, (int64_t)t->cancel_by_id);
    else
        trace_kv(rt, "by", t->cancel_by);
    trace_end(rt);
}

void trace_cancelled(struct rt *rt, struct task *t)
{
    trace_task_head(rt, "cancelled", t);
    trace_end(rt);
}

void trace_timeout(struct rt *rt, struct task *t)
{
    trace_task_head(rt, "timeout", t);
    trace_end(rt);
}
