/* --explore: each run is `/proc/self/exe --seed=S+i ARGS` with ARGS the command line minus
 * --explore and --seed, so the run sees exactly the options and arguments the user gave
 * (arg[] included, since argv[0] is kept). Standard input is read once into a temporary file
 * that every run reads from its start; each run's output goes to two temporary files, shown
 * only for the run that fails. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "explore.h"

static volatile sig_atomic_t explore_interrupted;

static void explore_on_signal(int sig)
{
    explore_interrupted = sig;
}

/* A temporary file, already unlinked, close-on-exec (a run gets it as its stdio only, and
 * the run's own children never); NULL on failure (reported). */
static FILE *explore_tmp(const char *what)
{
    FILE *f = tmpfile();
    if (f && fcntl(fileno(f), F_SETFD, FD_CLOEXEC) != 0) {
        fclose(f);
        f = NULL;
    }
    if (!f)
        fprintf(stderr, "asyncrun: --explore: cannot create a file for %s: %s\n", what,
                strerror(errno));
    return f;
}

/* Copies stdin into a file once, so that every run reads the same input: NULL when stdin
 * is a terminal (each run then shares it) or closed, or on failure (*failed). */
static FILE *explore_stdin(bool *failed)
{
    char buf[65536];
    size_t n;
    if (isatty(STDIN_FILENO) || (fcntl(STDIN_FILENO, F_GETFD) < 0 && errno == EBADF))
        return NULL;
    FILE *f = explore_tmp("standard input");
    if (!f) {
        *failed = true;
        return NULL;
    }
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        if (fwrite(buf, 1, n, f) != n)
            break;
    if (ferror(stdin) || ferror(f) || fflush(f) != 0) {
        fprintf(stderr, "asyncrun: --explore: cannot keep standard input: %s\n", strerror(errno));
        fclose(f);
        *failed = true;
        return NULL;
    }
    return f;
}

static bool explore_word(const char *a)
{
    return strncmp(a, "--explore", 9) == 0 && (a[9] == '\0' || a[9] == '=');
}

/* Whether the --explore words before the last --explore option are all options: there are
 * as many as options were counted (else one of them is another option's value, and only the
 * last option's place is known). */
static bool explore_earlier_are_options(const struct rt_options *opt)
{
    int words = 0;
    for (int i = 1; i < opt->explore_index; i++)
        words += explore_word(opt->argv[i]);
    return opt->explore_count > 1 && words == opt->explore_count - 1;
}

/* The runs' argv: argv minus every --explore, with seed_arg (--seed=N) in the place of the
 * --seed that counted (the last one: an earlier one stays overridden), or else right after
 * argv[0]. A NULL-terminated malloc'd array; NULL when out of memory. */
static char **explore_argv(const struct rt_options *opt, char *seed_arg)
{
    char **av = malloc(((size_t)opt->argc + 2) * sizeof *av);
    int n = 0;
    if (!av)
        return NULL;
    bool earlier = explore_earlier_are_options(opt);
    av[n++] = opt->argv[0];
    if (!opt->seed_index)
        av[n++] = seed_arg;
    for (int i = 1; i < opt->argc; i++) {
        if (i == opt->explore_index || (earlier && i < opt->explore_index && explore_word(opt->argv[i])))
            continue;
        if (i == opt->seed_index)
            av[n++] = seed_arg;
        if (i >= opt->seed_index && i < opt->seed_index + opt->seed_argn)
            continue;
        av[n++] = opt->argv[i];
    }
    av[n] = NULL;
    return av;
}

static bool explore_rewind(FILE *f)
{
    return fflush(f) == 0 && fseek(f, 0, SEEK_SET) == 0 && ftruncate(fileno(f), 0) == 0;
}

/* One run: its exit status (128+N for a signal), or -1 when it could not be started. */
static int explore_once(char **av, FILE *in, FILE *out, FILE *err)
{
    if (!explore_rewind(out) || !explore_rewind(err) || (in && fseek(in, 0, SEEK_SET) != 0))
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if ((in && dup2(fileno(in), STDIN_FILENO) < 0) || dup2(fileno(out), STDOUT_FILENO) < 0
            || dup2(fileno(err), STDERR_FILENO) < 0)
            _exit(127);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execv("/proc/self/exe", av);
        fprintf(stderr, "asyncrun: --explore: cannot run /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
        if (explore_interrupted) /* sent to asyncrun alone: the run gets it too */
            kill(pid, explore_interrupted);
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static void explore_copy(FILE *from, FILE *to)
{
    char buf[65536];
    size_t n;
    fflush(from);
    rewind(from);
    while ((n = fread(buf, 1, sizeof buf, from)) > 0)
        fwrite(buf, 1, n, to);
    fflush(to);
}

static bool explore_has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* s as one shell word: bare when it is made of safe characters, in bash's $'...' with \xNN
 * when it holds control bytes (a report carries none raw), else in single quotes. */
static void explore_quote(const char *s, FILE *f)
{
    if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-")
                  == strlen(s)) {
        fputs(s, f);
        return;
    }
    if (explore_has_control(s)) {
        fputs("$'", f);
        for (; *s; s++) {
            unsigned char c = (unsigned char)*s;
            if (c == '\'' || c == '\\')
                fprintf(f, "\\%c", c);
            else if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\x%02x", c);
            else
                fputc(c, f);
        }
        fputc('\'', f);
        return;
    }
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

/* The line names the environment variables that the runs inherited and that change what a
 * run does (the strategy that turns the seed into a schedule, the heap cap, the code Lua
 * runs first), so that it replays the run from any shell. */
static void explore_report(char **av, uint64_t seed, int status, int passed)
{
    static const char *const inherited[] = {"ASYNCRUN_SEED_STRATEGY", "ASYNCRUN_MEMLIMIT",
                                            "LUA_INIT_5_4", "LUA_INIT"};
    fprintf(stderr, "asyncrun: explore: seed %" PRIu64 " failed with status %d after %d passing run%s; replay:",
            seed, status, passed, passed == 1 ? "" : "s");
    for (size_t i = 0; i < sizeof inherited / sizeof *inherited; i++) {
        const char *v = getenv(inherited[i]);
        if (v && *v) {
            fprintf(stderr, " %s=", inherited[i]);
            explore_quote(v, stderr);
        }
    }
    for (int i = 0; av[i]; i++) {
        fputc(' ', stderr);
        explore_quote(av[i], stderr);
    }
    fputc('\n', stderr);
}

int explore_run(const struct rt_options *opt)
{
    char seed_arg[40];
    bool failed = false, progress = isatty(STDERR_FILENO);
    uint64_t first = opt->seeded ? opt->seed : 1;
    int status = ST_FAILURE, i;
    FILE *in = explore_stdin(&failed), *out = NULL, *err = NULL;
    char **av = explore_argv(opt, seed_arg);
    if (failed || !av || !(out = explore_tmp("a run's output")) || !(err = explore_tmp("a run's errors")))
        goto done;
    struct sigaction sa = {.sa_handler = explore_on_signal}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    for (i = 0; i < opt->explore; i++) {
        uint64_t seed = first + (uint64_t)i;
        snprintf(seed_arg, sizeof seed_arg, "--seed=%" PRIu64, seed);
        if (progress)
            fprintf(stderr, "\rasyncrun: explore: run %d of %d (seed %" PRIu64 ")\033[K", i + 1,
                    opt->explore, seed);
        status = explore_once(av, in, out, err);
        if (progress)
            fputs("\r\033[K", stderr);
        if (explore_interrupted) {
            status = 128 + explore_interrupted;
            break;
        }
        if (status < 0) {
            fprintf(stderr, "asyncrun: --explore: cannot start a run: %s\n", strerror(errno));
            status = ST_FAILURE;
            break;
        }
        if (status != 0) {
            explore_copy(out, stdout);
            explore_copy(err, stderr);
            explore_report(av, seed, status, i);
            break;
        }
    }
    if (i == opt->explore)
        fprintf(stderr, "asyncrun: explore: %d run%s passed (seeds %" PRIu64 "..%" PRIu64 ")\n",
                opt->explore, opt->explore == 1 ? "" : "s", first, first + (uint64_t)opt->explore - 1);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
done:
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    if (err)
        fclose(err);
    free(av);
    return status;
}
