/* The trace. Each event is a list of key/value fields written by one of four backends:
 * text (logfmt behind "trace: "), json (one object per line, same keys), chrome (the Trace
 * Event Format: a slice per step, instants for spawn, cancel, failure, timeout) and html (the
 * json objects inside a self-contained page that draws them, see trace_html.c). The stream
 * is private and fully buffered, flushed whenever the loop is about to block and at exit. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <fcntl.h>
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
    rt->trace = path ? fopen(path, "we") : fdopen(fcntl(2, F_DUPFD_CLOEXEC, 3), "w");
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

/* Output goes through the unlocked stdio calls and hand-written number formatting: tracing
 * a busy run writes millions of events, and locking or printf per character dominate. */
static void trace_put(FILE *f, const char *s, size_t n)
{
    fwrite_unlocked(s, 1, n, f);
}

static void trace_puts(FILE *f, const char *s)
{
    trace_put(f, s, strlen(s));
}

static void trace_int(FILE *f, int64_t v)
{
    char buf[24], *p = buf + sizeof buf;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *--p = '-';
    trace_put(f, p, (size_t)(buf + sizeof buf - p));
}

/* seconds with 6 decimals, as "%.6f" would print them */
static void trace_seconds(FILE *f, double d)
{
    if (!(d >= 0 && d < 9e12)) {
        fprintf(f, "%.6f", d);
        return;
    }
    int64_t us = (int64_t)(d * 1e6 + 0.5);
    char frac[6];
    trace_int(f, us / 1000000);
    for (int i = 5, r = (int)(us % 1000000); i >= 0; i--, r /= 10)
        frac[i] = (char)('0' + r % 10);
    fputc_unlocked('.', f);
    trace_put(f, frac, 6);
}

/* A logfmt value: bare when it has no space, quote or '=', else double-quoted with escapes. */
static void trace_logfmt_value(FILE *f, const char *s)
{
    if (*s && !strpbrk(s, " \t\n\r\"=\\")) {
        trace_puts(f, s);
        return;
    }
    fputc_unlocked('"', f);
    for (; *s; s++) {
        switch (*s) {
        case '"': trace_puts(f, "\\\""); break;
        case '\\': trace_puts(f, "\\\\"); break;
        case '\n': trace_puts(f, "\\n"); break;
        case '\t': trace_puts(f, "\\t"); break;
        case '\r': trace_puts(f, "\\r"); break;
        default: fputc_unlocked(*s, f);
        }
    }
    fputc_unlocked('"', f);
}

/* A JSON string; '<' is escaped too, so that the html page can embed it in a script. */
static void trace_json_string(FILE *f, const char *s)
{
    fputc_unlocked('"', f);
    for (;;) {
        size_t n = 0; /* the run of characters that need no escape */
        while (s[n] && s[n] != '"' && s[n] != '\\' && s[n] != '<'
               && (unsigned char)s[n] >= 0x20 && s[n] != 0x7f)
            n++;
        trace_put(f, s, n);
        s += n;
        if (!*s)
            break;
        unsigned char c = (unsigned char)*s++;
        if (c == '"' || c == '\\') {
            fputc_unlocked('\\', f);
            fputc_unlocked((int)c, f);
        } else if (c == '\n') {
            trace_puts(f, "\\n");
        } else if (c == '\t') {
            trace_puts(f, "\\t");
        } else {
            fprintf(f, "\\u%04x", c);
        }
    }
    fputc_unlocked('"', f);
}

static void trace_value(FILE *f, const struct field *fd, bool json)
{
    if (fd->type == F_STR) {
        if (json)
            trace_json_string(f, fd->v.s);
        else
            trace_logfmt_value(f, fd->v.s);
    } else if (fd->type == F_INT) {
        trace_int(f, fd->v.i);
    } else {
        trace_seconds(f, fd->v.d);
    }
}

static void trace_text(FILE *f, const struct field *fs, int n)
{
    trace_put(f, "trace:", 6);
    for (int i = 0; i < n; i++) {
        fputc_unlocked(' ', f);
        trace_puts(f, fs[i].key);
        fputc_unlocked('=', f);
        trace_value(f, &fs[i], false);
    }
    fputc_unlocked('\n', f);
}

static void trace_json(FILE *f, const struct field *fs, int n)
{
    fputc_unlocked('{', f);
    for (int i = 0; i < n; i++) {
        if (i)
            fputc_unlocked(',', f);
        fputc_unlocked('"', f);
        trace_puts(f, fs[i].key); /* keys are plain identifiers */
        trace_put(f, "\":", 2);
        trace_value(f, &fs[i], true);
    }
    fputc_unlocked('}', f);
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
