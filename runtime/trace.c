/* The trace. Each event is a list of key/value fields written by one of four backends:
 * text (logfmt behind "trace: "), json (one object per line, same keys), chrome (the Trace
 * Event Format: a slice per step, instants for spawn, cancel, failure, timeout) and html (the
 * json objects inside a self-contained page that draws them, see trace_html.c). The stream
 * is private and fully buffered, flushed whenever the loop is about to block and at exit. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "trace.h"
#include "trace_html.h"
#include "dump.h"
#include "where.h"
#include "task.h"

enum field_type { F_STR, F_INT, F_NUM };

struct field {
    const char *key;
    enum field_type type;
    union {
        const char *s;
        int64_t i;
        double d;
    } v;
};

#define FSTR(k, x) {.key = (k), .type = F_STR, .v.s = (x)}
#define FINT(k, x) {.key = (k), .type = F_INT, .v.i = (int64_t)(x)}
#define FNUM(k, x) {.key = (k), .type = F_NUM, .v.d = (x)}

int trace_open(struct rt *rt)
{
    const char *path = rt->opt->trace_file;
    if (rt->opt->trace == TRACE_OFF)
        return 0;
    rt->trace = path ? fopen(path, "we") : fdopen(dup(2), "w");
    if (!rt->trace)
        return -errno;
    if (rt->opt->trace == TRACE_CHROME)
        fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n"
              "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"tid\":0,"
              "\"args\":{\"name\":\"asyncrun\"}}",
              rt->trace);
    else if (rt->opt->trace == TRACE_HTML)
        trace_html_begin(rt->trace);
    return 0;
}

void trace_close(struct rt *rt)
{
    if (!rt->trace)
        return;
    if (rt->opt->trace == TRACE_CHROME)
        fputs("\n]}\n", rt->trace);
    else if (rt->opt->trace == TRACE_HTML)
        trace_html_end(rt->trace);
    fclose(rt->trace);
    rt->trace = NULL;
}

void trace_flush(struct rt *rt)
{
    if (rt->trace)
        fflush(rt->trace);
}

/* A logfmt value: bare when it has no space, quote or '=', else double-quoted with escapes. */
static void trace_logfmt_value(FILE *f, const char *s)
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

/* A JSON string; '<' is escaped too, so that the html page can embed it in a script. */
static void trace_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20 || c == '<' || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void trace_text(FILE *f, const struct field *fs, int n)
{
    fputs("trace:", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, " %s=", fs[i].key);
        if (fs[i].type == F_STR)
            trace_logfmt_value(f, fs[i].v.s);
        else if (fs[i].type == F_INT)
            fprintf(f, "%" PRId64, fs[i].v.i);
        else
            fprintf(f, "%.6f", fs[i].v.d);
    }
    fputc('\n', f);
}

static void trace_json(FILE *f, const struct field *fs, int n)
{
    fputc('{', f);
    for (int i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        trace_json_string(f, fs[i].key);
        fputc(':', f);
        if (fs[i].type == F_STR)
            trace_json_string(f, fs[i].v.s);
        else if (fs[i].type == F_INT)
            fprintf(f, "%" PRId64, fs[i].v.i);
        else
            fprintf(f, "%.6f", fs[i].v.d);
    }
    fputc('}', f);
}

/* Chrome: an instant on the task's track (fs[0] is t, fs[1] the event, then the task if
 * any); loop events go on track 0. */
static void trace_chrome_instant(FILE *f, const struct field *fs, int n)
{
    int64_t tid = n > 2 && strcmp(fs[2].key, "task") == 0 ? fs[2].v.i : 0;
    fprintf(f, ",\n{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":%" PRId64 ",\"ts\":%.3f,\"name\":",
            tid, fs[0].v.d * 1e6);
    trace_json_string(f, fs[1].v.s);
    fputs(",\"args\":", f);
    trace_json(f, fs + 2, n > 2 ? n - 2 : 0);
    fputc('}', f);
}

/* Chrome: names the task's track "<id> <name>", with the name it has now. */
static void trace_chrome_track(FILE *f, const struct task *t)
{
    char name[32], track[96];
    snprintf(track, sizeof track, "%" PRId64 " %s", (int64_t)t->id, task_name(t, name, sizeof name));
    fprintf(f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":%" PRId64
               ",\"args\":{\"name\":",
            (int64_t)t->id);
    trace_json_string(f, track);
    fputs("}}", f);
}

/* Chrome: the step that just ended, as a slice. */
static void trace_chrome_step(struct rt *rt, struct task *t, const char *label, const char *on,
                              const char *at)
{
    FILE *f = rt->trace;
    trace_chrome_track(f, t);
    fprintf(f, ",\n{\"ph\":\"X\",\"pid\":1,\"tid\":%" PRId64 ",\"ts\":%.3f,\"dur\":%.3f,\"name\":",
            (int64_t)t->id, t->step_at * 1e6, t->step_ran * 1e6);
    trace_json_string(f, label);
    fputs(",\"args\":{", f);
    if (on) {
        fputs("\"on\":", f);
        trace_json_string(f, on);
        fputs(",\"at\":", f);
        trace_json_string(f, at);
    }
    fputs("}}", f);
}

static double trace_clock(const struct rt *rt)
{
    return rt_now(rt) - rt->t0;
}

/* Writes one event: fs[0] must be t, fs[1] the event name. */
static void trace_emit(struct rt *rt, const struct field *fs, int n)
{
    switch (rt->opt->trace) {
    case TRACE_TEXT:
        trace_text(rt->trace, fs, n);
        break;
    case TRACE_JSON:
        trace_json(rt->trace, fs, n);
        fputc('\n', rt->trace);
        break;
    case TRACE_HTML:
        trace_json(rt->trace, fs, n);
        fputs(",\n", rt->trace);
        break;
    case TRACE_CHROME:
        /* steps become slices in trace_suspend and trace_end_step; the rest are instants */
        if (strcmp(fs[1].v.s, "resume") != 0 && strcmp(fs[1].v.s, "suspend") != 0)
            trace_chrome_instant(rt->trace, fs, n);
        break;
    default:
        break;
    }
}

/* The fields every task event starts with. */
#define TASK_FIELDS(rt, ev, t, name)                                                          \
    FNUM("t", trace_clock(rt)), FSTR("event", ev), FINT("task", (t)->id),                   \
        FSTR("name", task_name(t, name, sizeof name))

void trace_loop_start(struct rt *rt)
{
    if (!rt->trace)
        return;
    struct field fs[] = {FNUM("t", trace_clock(rt)), FSTR("event", "loop-start")};
    trace_emit(rt, fs, 2);
}

void trace_loop_close(struct rt *rt)
{
    if (!rt->trace)
        return;
    struct field fs[] = {FNUM("t", trace_clock(rt)), FSTR("event", "loop-close"),
                         FNUM("wall", trace_clock(rt)), FINT("tasks", rt->spawned)};
    trace_emit(rt, fs, 4);
}

void trace_spawn(struct rt *rt, struct task *t, lua_State *L)
{
    char name[32], at[256];
    struct field fs[] = {TASK_FIELDS(rt, "spawn", t, name), FINT("parent", t->parent),
                         FSTR("at", where_at(L, 1, at, sizeof at))};
    if (rt->opt->trace == TRACE_CHROME)
        trace_chrome_track(rt->trace, t);
    trace_emit(rt, fs, 6);
}

void trace_resume(struct rt *rt, struct task *t)
{
    char name[32];
    t->step_at = trace_clock(rt);
    struct field fs[] = {TASK_FIELDS(rt, "resume", t, name)};
    trace_emit(rt, fs, 4);
}

void trace_suspend(struct rt *rt, struct task *t)
{
    char name[32], on[64], at[256];
    dump_wait(t, on, sizeof on);
    where_at(t->wait_L, 0, at, sizeof at);
    struct field fs[] = {TASK_FIELDS(rt, "suspend", t, name), FSTR("on", on),
                         FNUM("ran", t->step_ran), FSTR("at", at)};
    trace_emit(rt, fs, 7);
    if (rt->opt->trace == TRACE_CHROME)
        trace_chrome_step(rt, t, "step", on, at);
}

/* The last step of a task, for the chrome slices. */
static void trace_end_step(struct rt *rt, struct task *t, const char *outcome)
{
    if (rt->opt->trace == TRACE_CHROME && t->started)
        trace_chrome_step(rt, t, outcome, NULL, NULL);
}

void trace_done(struct rt *rt, struct task *t)
{
    char name[32];
    trace_end_step(rt, t, "done");
    struct field fs[] = {TASK_FIELDS(rt, "done", t, name), FNUM("wall", rt_now(rt) - t->spawned_at),
                         FNUM("run", t->run_time)};
    trace_emit(rt, fs, 6);
}

void trace_fail(struct rt *rt, struct task *t, const char *msg)
{
    /* the first line of the traceback is the message */
    char name[32], first[512];
    size_t n = strcspn(msg, "\n");
    if (n >= sizeof first)
        n = sizeof first - 1;
    memcpy(first, msg, n);
    first[n] = '\0';
    trace_end_step(rt, t, "fail");
    struct field fs[] = {TASK_FIELDS(rt, "fail", t, name), FSTR("error", first)};
    trace_emit(rt, fs, 5);
}

void trace_cancel(struct rt *rt, struct task *t)
{
    char name[32], by[64];
    if (t->cancel_by_id)
        snprintf(by, sizeof by, "%s:%" PRId64, t->cancel_by, (int64_t)t->cancel_by_id);
    else
        snprintf(by, sizeof by, "%s", t->cancel_by);
    struct field fs[] = {TASK_FIELDS(rt, "cancel", t, name), FSTR("by", by)};
    trace_emit(rt, fs, 5);
}

void trace_cancelled(struct rt *rt, struct task *t)
{
    char name[32];
    if (rt->opt->trace == TRACE_CHROME && !t->started)
        trace_chrome_track(rt->trace, t); /* renamed before it could run */
    trace_end_step(rt, t, "cancelled");
    struct field fs[] = {TASK_FIELDS(rt, "cancelled", t, name)};
    trace_emit(rt, fs, 4);
}

void trace_timeout(struct rt *rt, struct task *t)
{
    char name[32];
    struct field fs[] = {TASK_FIELDS(rt, "timeout", t, name)};
    trace_emit(rt, fs, 4);
}
