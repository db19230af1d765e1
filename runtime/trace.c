/* The trace. Each event is a list of key/value fields written by one of four backends:
 * text (logfmt behind "trace: "), json (one object per line, same keys), chrome (the Trace
 * Event Format: a slice per step, instants for spawn, cancel, failure, timeout) and html (a
 * self-contained page with the events packed in it, see trace_html.c). The stream
 * is private and fully buffered, flushed whenever the loop is about to block and at exit. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include <fcntl.h>
#include <stdio_ext.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace.h"
#include "trace_html.h"
#include "dump.h"
#include "where.h"
#include "fmt.h"
#include "escape.h"
#include "task.h"
#include "stream.h"

#define TRACE_FILE_BUFFER (256 * 1024)

/* Whether the trace's descriptor writes to the same file or pipe as stdout or stderr (the
 * default --trace, 2>&1, a terminal): their lines must then be kept in order. */
static bool trace_shares_output(int fd)
{
    struct stat t, o;
    if (fstat(fd, &t) != 0)
        return false;
    for (int std = 1; std <= 2; std++)
        if (fstat(std, &o) == 0 && o.st_dev == t.st_dev && o.st_ino == t.st_ino)
            return true;
    return false;
}

int trace_open(struct rt *rt)
{
    const char *path = rt->opt->trace_file;
    if (rt->opt->trace == TRACE_OFF)
        return 0;
    rt->trace = path ? fopen(path, "we") : fdopen(fcntl(2, F_DUPFD_CLOEXEC, 3), "w");
    if (!rt->trace)
        return -errno;
    rt->trace_shared = trace_shares_output(fileno(rt->trace));
    /* a file takes big writes: a busy run traces hundreds of MB, 4 KiB at a time otherwise */
    if (path && (rt->trace_buf = malloc(TRACE_FILE_BUFFER)) != NULL)
        setvbuf(rt->trace, rt->trace_buf, _IOFBF, TRACE_FILE_BUFFER);
    if (rt->opt->trace == TRACE_CHROME)
        fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n"
              "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"tid\":0,"
              "\"args\":{\"name\":\"asyncrun\"}}",
              rt->trace);
    else if (rt->opt->trace == TRACE_HTML && !(rt->trace_html = trace_html_begin(rt->trace))) {
        trace_close(rt);
        return -ENOMEM;
    }
    return 0;
}

void trace_close(struct rt *rt)
{
    if (!rt->trace)
        return;
    if (rt->opt->trace == TRACE_CHROME)
        fputs("\n]}\n", rt->trace);
    else if (rt->opt->trace == TRACE_HTML && rt->trace_html)
        trace_html_end(rt->trace_html, rt->trace);
    rt->trace_html = NULL;
    fclose(rt->trace);
    rt->trace = NULL;
    free(rt->trace_buf);
    rt->trace_buf = NULL;
}

void trace_before_output(struct rt *rt)
{
    if (rt->trace_shared)
        fflush(rt->trace);
}

void trace_flush(struct rt *rt)
{
    if (rt->trace)
        fflush(rt->trace);
}

/* An event is formatted into a buffer on the stack and handed to stdio in one call: tracing
 * a busy run writes millions of events, and a stdio call (or printf) per piece dominates. A
 * piece that does not fit spills what is there first, so values of any length pass. */
struct out {
    FILE *f;
    size_t n;
    char buf[1024];
};

static void out_spill(struct out *o)
{
    fwrite_unlocked(o->buf, 1, o->n, o->f);
    o->n = 0;
}

static void out_put(struct out *o, const char *s, size_t n)
{
    if (n > sizeof o->buf - o->n) {
        out_spill(o);
        if (n > sizeof o->buf) {
            fwrite_unlocked(s, 1, n, o->f);
            return;
        }
    }
    memcpy(o->buf + o->n, s, n);
    o->n += n;
}

static void out_puts(struct out *o, const char *s)
{
    out_put(o, s, strlen(s));
}

static void out_char(struct out *o, char c)
{
    if (o->n == sizeof o->buf)
        out_spill(o);
    o->buf[o->n++] = c;
}

static void out_int(struct out *o, int64_t v)
{
    char buf[24];
    size_t n = fmt_int(buf, v);
    out_put(o, buf, n);
}

/* printf for the rare events (chrome metadata, odd numbers) */
static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
    char buf[256], *p = buf;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    /* longer (a number of 300 digits): printed again in full, never cut mid-record */
    if (n >= (int)sizeof buf) {
        if ((p = malloc((size_t)n + 1)))
            vsnprintf(p, (size_t)n + 1, fmt, again);
        else
            p = buf, n = (int)sizeof buf - 1; /* no memory: cut, as it must be */
    }
    va_end(again);
    va_end(ap);
    out_put(o, p, n < 0 ? 0 : (size_t)n);
    if (p != buf)
        free(p);
}

/* seconds with 6 decimals, as "%.6f" would print them */
static void out_seconds(struct out *o, double d)
{
    if (!(d >= 0 && d < 9e12)) {
        out_printf(o, "%.6f", d);
        return;
    }
    int64_t us = (int64_t)(d * 1e6 + 0.5);
    char frac[7];
    out_int(o, us / 1000000);
    frac[0] = '.';
    for (int i = 6, r = (int)(us % 1000000); i >= 1; i--, r /= 10)
        frac[i] = (char)('0' + r % 10);
    out_put(o, frac, 7);
}

static void out_sink(void *o, const char *s, size_t n)
{
    out_put(o, s, n);
}

/* A logfmt value: bare when it is plain and has no space or '=', else double-quoted. */
static void out_logfmt_value(struct out *o, const char *s)
{
    size_t n = esc_plain(s, ESC_TEXT);
    if (n && !s[n] && !strpbrk(s, " =")) {
        out_put(o, s, n);
        return;
    }
    out_char(o, '"');
    esc_write(s, ESC_TEXT, out_sink, o);
    out_char(o, '"');
}

/* A JSON string ('<' escaped too, so that the html page can embed it in a script). */
static void out_json_string(struct out *o, const char *s)
{
    out_char(o, '"');
    esc_write(s, ESC_JSON, out_sink, o);
    out_char(o, '"');
}

static void out_value(struct out *o, const struct field *fd, bool json)
{
    if (fd->type == F_STR) {
        if (json)
            out_json_string(o, fd->v.s);
        else
            out_logfmt_value(o, fd->v.s);
    } else if (fd->type == F_INT) {
        out_int(o, fd->v.i);
    } else {
        out_seconds(o, fd->v.d);
    }
}

static void out_text(struct out *o, const struct field *fs, int n)
{
    out_put(o, "trace:", 6);
    for (int i = 0; i < n; i++) {
        out_char(o, ' ');
        out_put(o, fs[i].key, fs[i].klen);
        out_char(o, '=');
        out_value(o, &fs[i], false);
    }
    out_char(o, '\n');
}

static void out_json(struct out *o, const struct field *fs, int n)
{
    out_char(o, '{');
    for (int i = 0; i < n; i++) {
        if (i)
            out_char(o, ',');
        out_char(o, '"');
        out_put(o, fs[i].key, fs[i].klen); /* keys are plain identifiers */
        out_put(o, "\":", 2);
        out_value(o, &fs[i], true);
    }
    out_char(o, '}');
}

/* Chrome: an instant on the task's track (fs[0] is t, fs[1] the event, then the task if
 * any); loop events go on track 0. */
static void trace_chrome_instant(struct out *o, const struct field *fs, int n)
{
    int64_t tid = n > 2 && strcmp(fs[2].key, "task") == 0 ? fs[2].v.i : 0;
    out_printf(o, ",\n{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":%" PRId64 ",\"ts\":%.3f,\"name\":",
               tid, fs[0].v.d * 1e6);
    out_json_string(o, fs[1].v.s);
    out_puts(o, ",\"args\":");
    out_json(o, fs + 2, n > 2 ? n - 2 : 0);
    out_char(o, '}');
}

/* Chrome: names the task's track "<id> <name>", with the name it has now. */
static void trace_chrome_track(struct out *o, const struct task *t)
{
    char name[32], track[96];
    snprintf(track, sizeof track, "%" PRId64 " %s", (int64_t)t->id, task_name(t, name, sizeof name));
    out_printf(o, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":%" PRId64
                  ",\"args\":{\"name\":",
               (int64_t)t->id);
    out_json_string(o, track);
    out_puts(o, "}}");
}

/* Chrome: the step that just ended, as a slice. */
static void trace_chrome_step(struct out *o, struct task *t, const char *label, const char *on,
                              const char *at)
{
    trace_chrome_track(o, t);
    out_printf(o, ",\n{\"ph\":\"X\",\"pid\":1,\"tid\":%" PRId64 ",\"ts\":%.3f,\"dur\":%.3f,\"name\":",
               (int64_t)t->id, task_timing(t)->step_at * 1e6, task_timing(t)->step_ran * 1e6);
    out_json_string(o, label);
    out_puts(o, ",\"args\":{");
    if (on) {
        out_puts(o, "\"on\":");
        out_json_string(o, on);
        out_puts(o, ",\"at\":");
        out_json_string(o, at);
    }
    out_puts(o, "}}");
}

/* t of an event at clock reading `now` (virtual under --fake-time) */
static double trace_clock_at(const struct rt *rt, double now)
{
    return (rt->fake_now > 0 ? rt->fake_now : now) - rt->t0;
}

static double trace_clock(const struct rt *rt)
{
    return rt_now(rt) - rt->t0;
}

/* On the output's file, the output written before an event goes out before it:
 * async.stdout's and async.stderr's buffers, then C stdio's (which holds only newer bytes).
 * Output flushes the trace before it is written (trace_before_output), so at any time the
 * trace's buffer or the output's are empty, and either may go out whenever it likes: the
 * order holds with one system call per switch between the two, none when only one writes. */
static void trace_output_first(struct rt *rt)
{
    for (int fd = 1; fd <= 2; fd++)
        if (rt->std_streams[fd] && rt->std_streams[fd]->wlen > 0) {
            stream_drain_std(rt, false);
            break;
        }
    if (__fpending(stdout) > 0)
        rt_fflush(rt, stdout);
}

/* Writes one event (fs[0] must be t, fs[1] the event name), after what o holds already. */
static void trace_emit_to(struct rt *rt, struct out *o, const struct field *fs, int n)
{
    if (rt->trace_shared)
        trace_output_first(rt);
    switch (rt->opt->trace) {
    case TRACE_TEXT:
        out_text(o, fs, n);
        break;
    case TRACE_JSON:
        out_json(o, fs, n);
        out_char(o, '\n');
        break;
    case TRACE_HTML:
        out_spill(o);
        trace_html_event(rt->trace_html, o->f, fs, n);
        break;
    case TRACE_CHROME:
        /* steps become slices in trace_suspend and trace_end_step; the rest are instants */
        if (strcmp(fs[1].v.s, "resume") != 0 && strcmp(fs[1].v.s, "suspend") != 0)
            trace_chrome_instant(o, fs, n);
        break;
    default:
        break;
    }
    out_spill(o);
}

static void trace_emit(struct rt *rt, const struct field *fs, int n)
{
    struct out o = {.f = rt->trace, .n = 0};
    trace_emit_to(rt, &o, fs, n);
}

/* The fields every task event starts with. */
#define TASK_FIELDS(rt, ev, t, name)                                                          \
    FNUM("t", trace_clock(rt)), FSTR("event", ev), FINT("task", (t)->id),                   \
        FSTR("name", task_name(t, name, sizeof name))

void trace_loop_start(struct rt *rt)
{
    if (!rt->trace)
        return;
    struct field fs[] = {FNUM("t", trace_clock(rt)), FSTR("event", "loop-start"),
                         FINT("seed", rt->opt->seed)};
    trace_emit(rt, fs, rt->opt->seeded ? 3 : 2);
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
    struct out o = {.f = rt->trace, .n = 0};
    struct field fs[] = {TASK_FIELDS(rt, "spawn", t, name), FINT("parent", t->parent),
                         FSTR("at", dump_spawn_site(L, t, at, sizeof at))};
    if (rt->opt->trace == TRACE_CHROME)
        trace_chrome_track(&o, t);
    trace_emit_to(rt, &o, fs, 6);
}

void trace_resume(struct rt *rt, struct task *t, double now)
{
    char name[32];
    task_timing(t)->step_at = trace_clock_at(rt, now);
    struct field fs[] = {FNUM("t", task_timing(t)->step_at), FSTR("event", "resume"), FINT("task", t->id),
                         FSTR("name", task_name(t, name, sizeof name))};
    trace_emit(rt, fs, 4);
}

void trace_suspend(struct rt *rt, struct task *t, double now)
{
    char name[32], onbuf[256], at[256];
    struct out o = {.f = rt->trace, .n = 0};
    const char *on = dump_wait(t, onbuf, sizeof onbuf);
    dump_where(rt->L, t, at, sizeof at);
    struct field fs[] = {FNUM("t", trace_clock_at(rt, now)), FSTR("event", "suspend"),
                         FINT("task", t->id), FSTR("name", task_name(t, name, sizeof name)),
                         FSTR("on", on), FNUM("ran", task_timing(t)->step_ran), FSTR("at", at)};
    if (rt->opt->trace == TRACE_CHROME)
        trace_chrome_step(&o, t, "step", on, at);
    trace_emit_to(rt, &o, fs, 7);
}

/* The last step of a task, for the chrome slices. */
static void trace_end_step(struct rt *rt, struct out *o, struct task *t, const char *outcome)
{
    if (rt->opt->trace == TRACE_CHROME && t->started)
        trace_chrome_step(o, t, outcome, NULL, NULL);
}

void trace_done(struct rt *rt, struct task *t)
{
    char name[32];
    struct out o = {.f = rt->trace, .n = 0};
    trace_end_step(rt, &o, t, "done");
    struct field fs[] = {TASK_FIELDS(rt, "done", t, name), FNUM("wall", rt_now(rt) - task_timing(t)->spawned_at),
                         FNUM("run", task_timing(t)->run_time)};
    trace_emit_to(rt, &o, fs, 6);
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
    struct out o = {.f = rt->trace, .n = 0};
    trace_end_step(rt, &o, t, "fail");
    struct field fs[] = {TASK_FIELDS(rt, "fail", t, name), FSTR("error", first)};
    trace_emit_to(rt, &o, fs, 5);
}

void trace_cancel(struct rt *rt, struct task *t, const char *by, lua_Integer by_id)
{
    char name[32], bybuf[64];
    if (by_id) {
        snprintf(bybuf, sizeof bybuf, "%s:%" PRId64, by, (int64_t)by_id);
        by = bybuf;
    }
    struct field fs[] = {TASK_FIELDS(rt, "cancel", t, name), FSTR("by", by)};
    trace_emit(rt, fs, 5);
}

void trace_cancelled(struct rt *rt, struct task *t)
{
    char name[32];
    struct out o = {.f = rt->trace, .n = 0};
    if (rt->opt->trace == TRACE_CHROME && !t->started)
        trace_chrome_track(&o, t); /* renamed before it could run */
    trace_end_step(rt, &o, t, "cancelled");
    struct field fs[] = {TASK_FIELDS(rt, "cancelled", t, name)};
    trace_emit_to(rt, &o, fs, 4);
}

void trace_timeout(struct rt *rt, struct task *t)
{
    char name[32];
    struct field fs[] = {TASK_FIELDS(rt, "timeout", t, name)};
    trace_emit(rt, fs, 4);
}

void trace_http(struct rt *rt, const struct trace_http *e)
{
    double now = trace_clock(rt);
    struct field fs[] = {FNUM("t", now), FSTR("event", "http"), FINT("task", e->task),
                         FSTR("method", e->method), FSTR("url", e->url), FINT("status", e->status),
                         FINT("bytes", e->bytes), FNUM("lookup", e->lookup),
                         FNUM("connect", e->connect), FNUM("tls", e->tls),
                         FNUM("first_byte", e->first_byte), FNUM("total", e->total),
                         FSTR("error", e->error)};
    int n = e->error ? 13 : 12;
    if (rt->opt->trace != TRACE_CHROME) {
        trace_emit(rt, fs, n);
        return;
    }
    /* a span on the task's track, from the request's start to its end */
    struct out o = {.f = rt->trace, .n = 0};
    char name[64];
    snprintf(name, sizeof name, "%s %s", e->method, e->url);
    out_printf(&o, ",\n{\"ph\":\"X\",\"cat\":\"http\",\"pid\":1,\"tid\":%" PRId64
                   ",\"ts\":%.3f,\"dur\":%.3f,\"name\":",
               (int64_t)e->task, (now - e->total) * 1e6, e->total * 1e6);
    out_json_string(&o, name);
    out_puts(&o, ",\"args\":");
    out_json(&o, fs + 2, n - 2);
    out_char(&o, '}');
    out_spill(&o);
}
