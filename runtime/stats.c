/* Counters that cost nothing (loop iterations, task outcomes) live in the rt; this module
 * keeps what needs timing: the longest step with its place, and the top tasks by run time. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "stats.h"
#include "task.h"
#include "where.h"
#include "dump.h"
#include "escape.h"

enum { STATS_TOP = 5 };

struct stats_task {
    int64_t id;
    char name[32];
    double run;
};

struct stats {
    struct stats_task longest; /* run is the step's duration */
    char longest_at[256];
    struct stats_task top[STATS_TOP];
    int ntop;
    uint64_t http_requests, http_failures, http_bytes;
    bool printed;
};

int stats_open(struct rt *rt)
{
    if (rt->opt->stats == STATS_OFF)
        return 0;
    rt->stats = calloc(1, sizeof *rt->stats);
    return rt->stats ? 0 : -ENOMEM;
}

void stats_close(struct rt *rt)
{
    free(rt->stats);
    rt->stats = NULL;
}

static void stats_record(struct stats_task *to, const struct task *t, double run)
{
    char buf[32];
    to->id = t->id;
    snprintf(to->name, sizeof to->name, "%s", task_name(t, buf, sizeof buf));
    to->run = run;
}

void stats_step(struct rt *rt, struct task *t, bool suspended)
{
    struct stats *s = rt->stats;
    struct task_timing *tt = task_timing(t);
    if (tt->step_ran <= s->longest.run)
        return;
    stats_record(&s->longest, t, tt->step_ran);
    if (suspended)
        dump_where(rt->L, t, s->longest_at, sizeof s->longest_at);
    else
        snprintf(s->longest_at, sizeof s->longest_at, "its end");
}

/* Keeps the STATS_TOP tasks with the most run time, sorted, by insertion. */
void stats_task_end(struct rt *rt, struct task *t)
{
    struct stats *s = rt->stats;
    double run = task_timing(t)->run_time;
    int i;
    if (s->ntop < STATS_TOP)
        i = s->ntop++;
    else if (run <= s->top[STATS_TOP - 1].run)
        return;
    else
        i = STATS_TOP - 1;
    for (; i > 0 && s->top[i - 1].run < run; i--)
        s->top[i] = s->top[i - 1];
    stats_record(&s->top[i], t, run);
}

void stats_http(struct rt *rt, bool failed, uint64_t bytes)
{
    struct stats *s = rt->stats;
    s->http_requests++;
    s->http_failures += failed;
    s->http_bytes += bytes;
}

static double stats_seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

void stats_print(struct rt *rt)
{
    struct stats *s = rt->stats;
    struct rusage ru;
    if (!s || s->printed)
        return;
    s->printed = true;
    getrusage(RUSAGE_SELF, &ru);
    double wall = rt_now(rt) - rt->t0;
    long long rss = (long long)ru.ru_maxrss * 1024;
    FILE *f = stderr;
    fflush(stdout);
    if (rt->opt->stats == STATS_JSON) {
        fprintf(f,
                "{\"wall_s\":%.6f,\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f,\"loop_iterations\":%" PRIu64
                ",\"tasks_spawned\":%zu,\"tasks_done\":%zu,\"tasks_failed\":%zu,"
                "\"tasks_cancelled\":%zu,\"tasks_peak\":%zu,\"max_step_s\":%.6f,"
                "\"lua_mem_peak_bytes\":%zu,\"rss_peak_bytes\":%lld",
                wall, stats_seconds(ru.ru_utime), stats_seconds(ru.ru_stime), rt->iterations,
                rt->spawned, rt->ended[TASK_DONE - TASK_DONE], rt->ended[TASK_FAILED - TASK_DONE],
                rt->ended[TASK_CANCELLED - TASK_DONE], rt->peak_live, s->longest.run,
                rt->alloc.peak, rss);
        if (s->http_requests)
            fprintf(f, ",\"http_requests\":%" PRIu64 ",\"http_failures\":%" PRIu64
                       ",\"http_bytes\":%" PRIu64,
                    s->http_requests, s->http_failures, s->http_bytes);
        if (rt->opt->seeded)
            fprintf(f, ",\"seed\":%" PRIu64, rt->opt->seed);
        fputs("}\n", f);
        return;
    }
    fprintf(f, "asyncrun stats:\n");
    fprintf(f, "  %-18s %.6f s\n", "wall", wall);
    fprintf(f, "  %-18s %.6f s user, %.6f s system\n", "cpu", stats_seconds(ru.ru_utime),
            stats_seconds(ru.ru_stime));
    fprintf(f, "  %-18s %" PRIu64 "\n", "loop iterations", rt->iterations);
    if (rt->opt->seeded)
        fprintf(f, "  %-18s %" PRIu64 "\n", "seed", rt->opt->seed);
    fprintf(f, "  %-18s %zu spawned, %zu done, %zu failed, %zu cancelled, %zu peak live\n",
            "tasks", rt->spawned, rt->ended[0], rt->ended[1], rt->ended[2], rt->peak_live);
    if (s->longest.id)
        esc_report(f, "  %-18s %.6f s, task %" PRId64 " (%s) at %s\n", "longest step",
                s->longest.run, s->longest.id, s->longest.name, s->longest_at);
    if (s->http_requests)
        fprintf(f, "  %-18s %" PRIu64 " requests, %" PRIu64 " failed, %" PRIu64 " body bytes\n",
                "http", s->http_requests, s->http_failures, s->http_bytes);
    fprintf(f, "  %-18s %zu bytes\n", "lua heap peak", rt->alloc.peak);
    fprintf(f, "  %-18s %lld bytes\n", "rss peak", rss);
    if (s->ntop > 0)
        fprintf(f, "  top tasks by run time:\n");
    for (int i = 0; i < s->ntop; i++)
        esc_report(f, "    %.6f s  task %" PRId64 " (%s)\n", s->top[i].run, s->top[i].id,
                s->top[i].name);
}
