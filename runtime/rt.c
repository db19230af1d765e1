/* The one runtime context and SPEC §2's lifecycle, in order: state and loop, the main task,
 * the run, cancellation of what is left, close, and the exit status decided in one place. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lualib.h>

#include "rt.h"
#include "status.h"
#include "core.h"
#include "task.h"
#include "sched.h"
#include "timer.h"
#include "trace.h"
#include "dump.h"
#include "escape.h"
#include "signal.h"
#include "main_task.h"
#include "state.h"
#include "stats.h"
#include "debug.h"
#include "resource.h"
#include "resolve.h"
#include "http.h"
#include "clock.h"
#include "alloc.h"
#include "seed.h"
#include "version.h" /* ASYNCRUN_VERSION, generated from the file VERSION */
#include "stream.h"

#define RT_GRACE_SECONDS 5.0

static bool rt_pipe_broken(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

void rt_fflush(struct rt *rt, FILE *f)
{
    errno = 0;
    if (fflush(f) == 0 && !ferror(f))
        return;
    if (rt_pipe_broken(fileno(f)))
        rt->std_gone = true;
    else
        rt_output_error(rt, f == stdout ? "stdout" : "stderr", errno ? errno : EIO);
    clearerr(f);
}

/* Everything written goes out before anything the runtime prints: streams' buffers first,
 * since C stdio's stdout holds only newer bytes (see lstream_after_stdio). Only stdout and
 * stderr: what a pipe to a child or a socket holds is no part of that order. */
static void rt_flush_output(struct rt *rt)
{
    stream_drain_std(rt, false);
    rt_fflush(rt, stdout);
}

void rt_bound_drains(struct rt *rt)
{
    double until = clock_now() + RT_GRACE_SECONDS;
    if (rt->drain_until == 0 || until < rt->drain_until)
        rt->drain_until = until;
}

void rt_output_error(struct rt *rt, const char *name, int err)
{
    int i = strcmp(name, "stdout") == 0 ? 0 : 1;
    if (!rt->out_err[i])
        rt->out_err[i] = err;
}

/* The end of the run and of os.exit, after resources are closed: children are killed by
 * then, so a pipe to one that never reads fails at once instead of holding the run; the
 * rest goes out, bounded by the grace for streams but stdout and stderr. A write error a
 * background flush kept on async.stdout/stderr that the script never asked for is the
 * run's to report. */
static void rt_finish_output(struct rt *rt)
{
    rt->close_grace = RT_GRACE_SECONDS;
    stream_drain_all(rt);
    for (int fd = 1; fd <= 2; fd++) {
        struct stream *s = rt->std_streams[fd];
        if (s && s->werr == EPIPE)
            rt->std_gone = true;
        else if (s && s->werr)
            rt_output_error(rt, s->name, s->werr);
        if (s)
            s->werr = 0;
    }
    rt_fflush(rt, stdout);
}

void rt_before_exit(struct rt *rt)
{
    term_restore(&rt->term);
    rt_flush_output(rt);
    resource_shutdown(rt);
    rt_finish_output(rt);
    stats_print(rt);
    trace_loop_close(rt);
    trace_close(rt);
}

/* The exit status once C stdio's last flush is done: a broken pipe is 141; another write
 * error nobody received is reported here, after everything else, and a 0 becomes 1. */
static int rt_output_status(struct rt *rt, int status)
{
    static const char *const names[] = {"stdout", "stderr"};
    rt_fflush(rt, stdout);
    rt_fflush(rt, stderr);
    if (rt->std_gone && status == ST_OK)
        return ST_SIGPIPE;
    for (int i = 0; i < 2; i++) {
        if (!rt->out_err[i])
            continue;
        fprintf(stderr, "asyncrun: %s: %s\n", names[i], strerror(rt->out_err[i]));
        if (status == ST_OK)
            status = ST_FAILURE;
    }
    return status;
}

/* Closes the Lua state and its heap. Tasks still live (stragglers, a run that failed, an
 * os.exit) keep their run blocks, which are no Lua objects: taken before lua_close frees the
 * tasks (finalizers, such as a stream's, may still unlink their waiters), freed after it. */
static void rt_close_state(struct rt *rt)
{
    size_t n = 0;
    struct task_run **runs = malloc((rt->live.count + 1) * sizeof *runs);
    for (struct task *t = rt->live.head; runs && t; t = t->list_next)
        if (t->run)
            runs[n++] = t->run;
    lua_close(rt->L);
    while (n > 0)
        alloc_lua(&rt->alloc, runs[--n], sizeof **runs, 0);
    free(runs);
    alloc_close(&rt->alloc);
}

void rt_exit(struct rt *rt, int status, bool close)
{
    rt_before_exit(rt);
    if (close)
        rt_close_state(rt);
    exit(rt_output_status(rt, status));
}

void rt_output_gone(struct rt *rt)
{
    rt_before_exit(rt);
    exit(ST_SIGPIPE);
}

void rt_check_output(struct rt *rt)
{
    int err = errno;
    if ((ferror(stdout) && rt_pipe_broken(1)) || (ferror(stderr) && rt_pipe_broken(2)))
        rt_output_gone(rt);
    if (ferror(stdout))
        rt_output_error(rt, "stdout", err ? err : EIO);
    if (ferror(stderr))
        rt_output_error(rt, "stderr", err ? err : EIO);
    clearerr(stdout);
    clearerr(stderr);
}

void rt_version(char *buf, unsigned size)
{
    snprintf(buf, size, "asyncrun %s (%s, libev %d.%d)", ASYNCRUN_VERSION, LUA_RELEASE,
             ev_version_major(), ev_version_minor());
}

/* [-0, +0, m] the `arg` table exactly as lua.c builds it */
static void rt_arg_table(lua_State *L, const struct rt_options *opt)
{
    int script = opt->script_index; /* 0 without a script: arg[0] is then the interpreter */
    lua_createtable(L, opt->argc - script - 1 > 0 ? opt->argc - script - 1 : 0, script + 1);
    for (int i = 0; i < opt->argc; i++) {
        lua_pushstring(L, opt->argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static bool rt_main_over(const struct rt *rt)
{
    return task_finished(rt->main) || rt->grace_expired;
}

static bool rt_shutdown_over(const struct rt *rt)
{
    if (rt->live.count == 0 || rt->grace_expired)
        return true;
    /* a task spawned during shutdown must be cancelled too: stop to sweep again */
    for (const struct task *t = rt->live.head; t; t = t->list_next)
        if (!t->cancel_requested)
            return true;
    return false;
}

/* --timeout, then the grace periods: an internal timer that never keeps the loop alive */
static void rt_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct rt *rt = ev_userdata(loop);
    (void)revents;
    ev_ref(loop); /* libev stopped the unref'd one-shot timer: rebalance */
    if (rt->shutting_down || rt->timed_out) {
        rt->grace_expired = true;
        return;
    }
    rt->timed_out = true;
    rt_bound_drains(rt);
    trace_flush(rt);
    rt_flush_output(rt);
    fprintf(stderr, "asyncrun: timeout: the run exceeded %g s\n", rt->opt->timeout);
    dump_tasks(rt, stderr);
    task_cancel(rt, rt->main, "timeout", 0);
    sched_internal_timer(rt, w, RT_GRACE_SECONDS);
}

static void rt_stop_deadline(struct rt *rt)
{
    if (ev_is_active(&rt->deadline_watch)) {
        ev_ref(rt->loop);
        ev_timer_stop(rt->loop, &rt->deadline_watch);
    }
}

/* Prints how the main task ended, unless a signal or the timeout ended it. */
static void rt_report_main(struct rt *rt)
{
    struct task *m = rt->main;
    trace_flush(rt);
    rt_flush_output(rt);
    if (m->state == TASK_FAILED)
        esc_report(stderr, "asyncrun: %s\n", m->traceback);
    else if (m->state == TASK_CANCELLED && !rt->signal_status && !rt->timed_out)
        fprintf(stderr, "asyncrun: the main task was cancelled\n");
}

static void rt_shutdown(struct rt *rt)
{
    rt->shutting_down = true;
    rt_stop_deadline(rt);
    if (rt->grace_expired)
        goto stragglers;
    sched_internal_timer(rt, &rt->deadline_watch, RT_GRACE_SECONDS);
    for (;;) {
        for (struct task *t = rt->live.head; t; t = t->list_next)
            if (!t->cancel_requested)
                task_cancel(rt, t, "shutdown", 0);
        if (!sched_run(rt, rt_shutdown_over) || rt->live.count == 0 || rt->grace_expired)
            break;
    }
stragglers:
    rt_stop_deadline(rt);
    if (rt->live.count > 0) {
        trace_flush(rt);
        rt_flush_output(rt);
        fprintf(stderr, "asyncrun: %zu task(s) did not finish after cancellation at shutdown:\n",
                rt->live.count);
        dump_tasks(rt, stderr);
    }
    while (rt->unretrieved.head)
        task_report_unretrieved(rt, rt->unretrieved.head);
}

static int rt_exit_status(const struct rt *rt)
{
    if (rt->deadlocked)
        return ST_DEADLOCK;
    if (rt->timed_out)
        return ST_TIMEOUT;
    if (rt->signal_status)
        return rt->signal_status;
    if (rt->main->state != TASK_DONE || (rt->strict_failed && rt->status == ST_OK))
        return ST_FAILURE;
    return rt->status;
}

static void rt_open_loop(struct rt *rt)
{
    rt->loop_open = true;
    ev_set_userdata(rt->loop, rt);
    timer_init(rt);
    ev_init(&rt->deadline_watch, rt_deadline);
    signal_install(rt);
    if (rt->opt->timeout > 0) {
        sched_internal_timer(rt, &rt->deadline_watch, rt->opt->timeout);
        rt->drain_until = clock_now() + rt->opt->timeout; /* a drain must not outlive it */
    }
}

static void rt_close_loop(struct rt *rt)
{
    if (!rt->loop_open)
        return;
    rt->loop_open = false;
    rt_stop_deadline(rt);
    stream_end_lingering(rt);
    signal_restore(rt);
    resolve_close(rt);
    http_close(rt);
    timer_close(rt);
}

/* [-1, +0, e] the whole run under lua_pcall: the rt arrives as a light userdata */
static int rt_pmain(lua_State *L)
{
    struct rt *rt = lua_touserdata(L, 1);
    const struct rt_options *opt = rt->opt;
    luaL_checkversion(L);
    if (opt->ignore_env) {
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    seed_math_random(rt, L);
    rt_arg_table(L, opt);
    opt->open_libs(L);
    if (opt->warnings)
        lua_warning(L, "@on", 0);
    lua_newtable(L);
    rt->pool_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    rt_open_loop(rt);
    if (opt->fake_time)
        rt->fake_now = 1.0; /* a small exact epoch keeps virtual sums exact: 1 + 1000 - 1 */
    rt->t0 = rt_now(rt);
    rt->last_poll = clock_now();
    trace_loop_start(rt);
    lua_pushcfunction(L, main_task_body);
    rt->main = task_new(rt, L, 0);
    lua_pushliteral(L, "main");
    task_set_name(L, rt->main, -2);
    /* stack: rt, main task (kept here so its traceback outlives its registry anchor) */
    if (!sched_run(rt, rt_main_over)) {
        rt->deadlocked = true;
        trace_flush(rt);
        rt_flush_output(rt);
        fputs("asyncrun: deadlock: no task can run and nothing can wake the main task\n", stderr);
        dump_tasks(rt, stderr);
    }
    ev_run(rt->loop, EVRUN_NOWAIT); /* a signal that came during main's last step counts */
    rt_check_output(rt);            /* and so does a reader of stdout/stderr gone meanwhile */
    if (task_finished(rt->main))
        rt_report_main(rt);
    if (opt->strict && rt->live.count > 0) {
        rt->strict_failed = true;
        fprintf(stderr, "asyncrun: strict: %zu task(s) still pending when the main task ended:\n",
                rt->live.count);
        dump_tasks(rt, stderr);
    }
    rt_shutdown(rt);
    if (resource_shutdown(rt) > 0 && opt->strict)
        rt->strict_failed = true;
    rt_finish_output(rt);
    ev_run(rt->loop, EVRUN_NOWAIT); /* a signal that came while the output went out counts */
    if (rt->drain_expired && !rt->timed_out && !rt->signal_status && opt->timeout > 0
        && clock_now() >= rt->drain_until) { /* the output to a reader that did not read */
        rt->timed_out = true;
        fprintf(stderr, "asyncrun: timeout: the run exceeded %g s\n", opt->timeout);
    }
    stats_print(rt);
    trace_loop_close(rt);
    return 0;
}

/* --check: load every chunk without running anything */
static int rt_check(lua_State *L, const struct rt_options *opt)
{
    for (int i = 0; i < opt->nchunks; i++) {
        const struct rt_chunk *c = &opt->chunks[i];
        if (c->kind == 'e'
            && luaL_loadbuffer(L, c->text, strlen(c->text), "=(command line)") != LUA_OK)
            goto fail;
        lua_settop(L, 0);
    }
    if (opt->script
        && luaL_loadfile(L, strcmp(opt->script, "-") == 0 ? NULL : opt->script) != LUA_OK)
        goto fail;
    return ST_OK;
fail:
    esc_report(stderr, "asyncrun: %s\n", lua_tostring(L, -1));
    return ST_FAILURE;
}

/* Opens what the run needs besides the Lua state; NULL or what failed, with *err. */
static const char *rt_open(struct rt *rt, int *err)
{
    rt->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
    if (!rt->loop) {
        *err = -ENOMEM;
        return "cannot create the event loop";
    }
    if ((*err = trace_open(rt)) != 0)
        return "cannot open the trace file";
    if ((*err = stats_open(rt)) != 0)
        return "cannot start --stats";
    if ((*err = debug_open(rt)) != 0)
        return "cannot start the --debug watchdog";
    if ((*err = seed_open(rt)) != 0)
        return "cannot start --seed";
    return NULL;
}

/* fd 0-2 closed by the caller would be taken by the loop's own descriptors, and then
 * handed to children as their stdin or stdout: hold them with /dev/null. */
static void rt_hold_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", fd ? O_WRONLY : O_RDONLY) < 0)
            break;
}

int rt_run(const struct rt_options *opt)
{
    struct rt rt;
    int status = ST_FAILURE, err = 0;
    const char *failed;
    rt_hold_std_fds();
    memset(&rt, 0, sizeof rt);
    rt.self = &rt;
    rt.opt = opt;
    rt.pool_ref = LUA_NOREF;
    lua_State *L = state_new(&rt.alloc);
    if (!L) {
        fputs("asyncrun: cannot create the Lua state: not enough memory\n", stderr);
        return ST_FAILURE;
    }
    rt.alloc.limit = opt->memlimit;
    *(struct rt **)lua_getextraspace(L) = &rt;
    rt.L = L;
    if (opt->check_only) {
        status = rt_check(L, opt);
        rt_close_state(&rt);
        return status;
    }
    /* a peer that left makes writes fail with EPIPE, never kills the run */
    struct sigaction ign = {.sa_handler = SIG_IGN}, saved_pipe;
    sigaction(SIGPIPE, &ign, &saved_pipe);
    rt.pipe_ignored_at_start = saved_pipe.sa_handler == SIG_IGN;
    rt.timing = opt->trace != TRACE_OFF || opt->stats != STATS_OFF || opt->debug;
    term_save(&rt.term);
    if ((failed = rt_open(&rt, &err))) {
        fprintf(stderr, "asyncrun: %s: %s\n", failed, strerror(-err));
        goto out;
    }
    lua_pushcfunction(L, rt_pmain);
    lua_pushlightuserdata(L, &rt);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        trace_flush(&rt);
        esc_report(stderr, "asyncrun: %s\n", msg ? msg : "(error object is not a string)");
    } else {
        status = rt_exit_status(&rt);
    }
out:
    term_restore(&rt.term);
    rt.closed = true;
    rt_close_loop(&rt);
    debug_close(&rt);
    stats_close(&rt);
    seed_close(&rt);
    trace_close(&rt);
    sched_close(&rt);
    rt_close_state(&rt);
    if (rt.loop)
        ev_loop_destroy(rt.loop);
    status = rt_output_status(&rt, status);
    sigaction(SIGPIPE, &saved_pipe, NULL);
    return status;
}
