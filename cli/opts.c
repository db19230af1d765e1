/* The command line, modelled on lua.c: options up to the first non-option (the script),
 * -e and -l kept in order, long options as --opt=VALUE or --opt VALUE, and the
 * ASYNCRUN_* variables as defaults that options override. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "escape.h"


static enum opts_action opts_error(const char *fmt, const char *what)
{
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, what);
    esc_report(stderr, "asyncrun: %s\n", msg); /* what the user typed, escaped */
    return OPTS_USAGE_ERROR;
}

/* The index of value in names (NULL-terminated), or -1. */
static int opts_lookup(const char *value, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(value, names[i]) == 0)
            return i;
    return -1;
}

/* --trace=FORMAT from an option or ASYNCRUN_TRACE */
static enum opts_action opts_set_trace(const char *value, const char *name,
                                       struct rt_options *opt)
{
    static const char *const formats[] = {"text", "json", "chrome", "html", NULL};
    static const enum rt_trace_format values[] = {TRACE_TEXT, TRACE_JSON, TRACE_CHROME, TRACE_HTML};
    int i = opts_lookup(value, formats);
    if (i < 0) {
        esc_report(stderr, "asyncrun: %s: unknown format '%s' (text, json, chrome or html)\n", name,
                value);
        return OPTS_USAGE_ERROR;
    }
    opt->trace = values[i];
    return OPTS_RUN;
}

/* --memlimit=SIZE from an option or ASYNCRUN_MEMLIMIT: bytes, or K, M, G (powers of 1024) */
static enum opts_action opts_set_memlimit(const char *value, const char *name,
                                          struct rt_options *opt)
{
    char *end;
    double x = value ? strtod(value, &end) : 0;
    if (!value)
        return opts_error("option '%s' requires a value", name);
    double unit = 1;
    if (end != value && *end && !end[1]) {
        const char *units = "KMG";
        const char *u = strchr(units, *end == 'k' || *end == 'm' || *end == 'g' ? *end - 32 : *end);
        if (u && *u) {
            for (const char *p = units; p <= u; p++)
                unit *= 1024;
            end++;
        }
    }
    if (end == value || *end || !(x * unit >= 1) || x * unit > 1e18) {
        esc_report(stderr, "asyncrun: %s: '%s' is not a size (bytes, or with K, M or G)\n", name, value);
        return OPTS_USAGE_ERROR;
    }
    opt->memlimit = (size_t)(x * unit);
    return OPTS_RUN;
}

/* --stats=FORMAT from an option or ASYNCRUN_STATS */
static enum opts_action opts_set_stats(const char *value, const char *name,
                                       struct rt_options *opt)
{
    static const char *const formats[] = {"text", "json", NULL};
    int i = opts_lookup(value, formats);
    if (i < 0) {
        esc_report(stderr, "asyncrun: %s: unknown format '%s' (text or json)\n", name, value);
        return OPTS_USAGE_ERROR;
    }
    opt->stats = i == 0 ? STATS_TEXT : STATS_JSON;
    return OPTS_RUN;
}

/* --seed=N from an option or ASYNCRUN_SEED: a non-negative integer below 2^63 */
static enum opts_action opts_set_seed(const char *value, const char *name,
                                      struct rt_options *opt)
{
    char *end;
    if (!value)
        return opts_error("option '%s' requires a value", name);
    errno = 0;
    unsigned long long n = strtoull(value, &end, 10);
    if (*value < '0' || *value > '9' || *end || errno || n > INT64_MAX) {
        esc_report(stderr, "asyncrun: %s: '%s' is not a non-negative integer\n", name, value);
        return OPTS_USAGE_ERROR;
    }
    opt->seeded = true;
    opt->seed = n;
    return OPTS_RUN;
}

/* --explore[=K]: K runs, a positive integer */
static enum opts_action opts_set_explore(const char *value, struct rt_options *opt)
{
    char *end;
    errno = 0;
    long k = strtol(value, &end, 10);
    if (*value < '0' || *value > '9' || *end || errno || k < 1 || k > 1000000000) {
        esc_report(stderr, "asyncrun: --explore: '%s' is not a positive number of runs\n", value);
        return OPTS_USAGE_ERROR;
    }
    opt->explore = (int)k;
    return OPTS_RUN;
}

static enum opts_action opts_environment(struct rt_options *opt)
{
    const char *v;
    if ((v = getenv("ASYNCRUN_TRACE")) && *v && opts_set_trace(v, "ASYNCRUN_TRACE", opt))
        return OPTS_USAGE_ERROR;
    if ((v = getenv("ASYNCRUN_TRACE_FILE")) && *v) {
        opt->trace_file = v;
        if (opt->trace == TRACE_OFF)
            opt->trace = TRACE_TEXT;
    }
    if ((v = getenv("ASYNCRUN_STATS")) && *v && opts_set_stats(v, "ASYNCRUN_STATS", opt))
        return OPTS_USAGE_ERROR;
    if ((v = getenv("ASYNCRUN_MEMLIMIT")) && *v && opts_set_memlimit(v, "ASYNCRUN_MEMLIMIT", opt))
        return OPTS_USAGE_ERROR;
    if ((v = getenv("ASYNCRUN_SEED")) && *v && opts_set_seed(v, "ASYNCRUN_SEED", opt))
        return OPTS_USAGE_ERROR;
    if ((v = getenv("ASYNCRUN_SEED_STRATEGY")) && *v) {
        static const char *const names[] = {"mixed", "shuffle", "pct", NULL};
        static const enum rt_seed_strategy values[] = {SEED_MIXED, SEED_SHUFFLE, SEED_PCT};
        int i = opts_lookup(v, names);
        if (i < 0) {
            esc_report(stderr, "asyncrun: ASYNCRUN_SEED_STRATEGY: unknown strategy '%s' (mixed, shuffle or pct)\n", v);
            return OPTS_USAGE_ERROR;
        }
        opt->seed_strategy = values[i];
    }
    return OPTS_RUN;
}

/* The value of --name=VALUE or --name VALUE; NULL when missing. *i advances past it. */
static const char *opts_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (a[n] == '=')
        return a + n + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

/* true when argv[i] is --name or --name=... */
static bool opts_is(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* A positive number of seconds (or of milliseconds for --slow) */
static enum opts_action opts_number(const char *value, const char *name, double *out)
{
    char *end;
    double x = value ? strtod(value, &end) : 0;
    if (!value)
        return opts_error("option '%s' requires a value", name);
    if (end == value || *end || !(x > 0) || isinf(x)) {
        esc_report(stderr, "asyncrun: %s: '%s' is not a positive number\n", name, value);
        return OPTS_USAGE_ERROR;
    }
    *out = x;
    return OPTS_RUN;
}

static enum opts_action opts_long(int argc, char **argv, int *i, struct rt_options *opt)
{
    const char *a = argv[*i];
    if (strcmp(a, "--help") == 0)
        return OPTS_HELP;
    if (strcmp(a, "--version") == 0)
        return OPTS_VERSION;
    if (strcmp(a, "--check") == 0) {
        opt->check_only = true;
        return OPTS_RUN;
    }
    if (strcmp(a, "--fake-time") == 0) {
        opt->fake_time = true;
        return OPTS_RUN;
    }
    if (opts_is(a, "--trace-file")) {
        opt->trace_file = opts_value(argc, argv, i, "--trace-file");
        if (!opt->trace_file || !*opt->trace_file)
            return opts_error("option '%s' requires a value", "--trace-file");
        if (opt->trace == TRACE_OFF)
            opt->trace = TRACE_TEXT;
        return OPTS_RUN;
    }
    if (opts_is(a, "--trace"))
        return opts_set_trace(a[7] ? a + 8 : "text", "--trace", opt);
    if (opts_is(a, "--stats"))
        return opts_set_stats(a[7] ? a + 8 : "text", "--stats", opt);
    if (opts_is(a, "--memlimit"))
        return opts_set_memlimit(opts_value(argc, argv, i, "--memlimit"), "--memlimit", opt);
    if (opts_is(a, "--timeout"))
        return opts_number(opts_value(argc, argv, i, "--timeout"), "--timeout", &opt->timeout);
    if (opts_is(a, "--slow")) {
        double ms;
        if (opts_number(opts_value(argc, argv, i, "--slow"), "--slow", &ms) != OPTS_RUN)
            return OPTS_USAGE_ERROR;
        opt->slow = ms / 1000;
        return OPTS_RUN;
    }
    if (strcmp(a, "--debug") == 0) {
        opt->debug = true;
        return OPTS_RUN;
    }
    if (opts_is(a, "--seed")) {
        opt->seed_index = *i;
        const char *v = opts_value(argc, argv, i, "--seed");
        opt->seed_argn = *i - opt->seed_index + 1;
        return opts_set_seed(v, "--seed", opt);
    }
    if (opts_is(a, "--explore")) {
        opt->explore_index = *i;
        opt->explore_count++;
        return opts_set_explore(a[9] ? a + 10 : "100", opt);
    }
    if (strcmp(a, "--strict") == 0) {
        opt->strict = true;
        return OPTS_RUN;
    }
    return opts_error("unrecognized option '%s'", a);
}

/* -e CODE, -eCODE, -l NAME, -lNAME */
static enum opts_action opts_chunk(int argc, char **argv, int *i, struct rt_options *opt)
{
    char kind = argv[*i][1];
    const char *text = argv[*i][2] ? argv[*i] + 2 : (*i + 1 < argc ? argv[++*i] : NULL);
    if (!text)
        return opts_error(kind == 'e' ? "option '%s' requires code" : "option '%s' requires a module name",
                          kind == 'e' ? "-e" : "-l");
    opt->chunks[opt->nchunks].kind = kind;
    opt->chunks[opt->nchunks].text = text;
    opt->nchunks++;
    return OPTS_RUN;
}

static enum opts_action opts_short(int argc, char **argv, int *i, struct rt_options *opt)
{
    const char *a = argv[*i];
    switch (a[1]) {
    case 'e':
    case 'l':
        return opts_chunk(argc, argv, i, opt);
    case 'E':
    case 'W':
    case 'v':
    case 'h':
    case 'i':
        if (a[2])
            break;
        if (a[1] == 'E')
            opt->ignore_env = true;
        else if (a[1] == 'W')
            opt->warnings = true;
        else if (a[1] == 'v')
            return OPTS_VERSION;
        else if (a[1] == 'h')
            return OPTS_HELP;
        else
            opt->interactive = true;
        return OPTS_RUN;
    default:
        break;
    }
    return opts_error("unrecognized option '%s'", a);
}

enum opts_action opts_parse(int argc, char **argv, struct rt_options *opt)
{
    enum opts_action act;
    int i;
    memset(opt, 0, sizeof *opt);
    opt->slow = 0.1;
    opt->argc = argc;
    opt->argv = argv;
    opt->chunks = calloc((size_t)argc + 1, sizeof *opt->chunks);
    if (!opt->chunks)
        return opts_error("%s", "not enough memory");
    if ((act = opts_environment(opt)) != OPTS_RUN)
        return act;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0)
            break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        act = a[1] == '-' ? opts_long(argc, argv, &i, opt) : opts_short(argc, argv, &i, opt);
        if (act != OPTS_RUN)
            return act;
    }
    if ((opt->trace == TRACE_CHROME || opt->trace == TRACE_HTML) && !opt->trace_file) {
        esc_report(stderr, "asyncrun: --trace=%s requires --trace-file=PATH\n",
                opt->trace == TRACE_CHROME ? "chrome" : "html");
        return OPTS_USAGE_ERROR;
    }
    if (opt->explore && (opt->interactive || (i >= argc && opt->nchunks == 0 && isatty(STDIN_FILENO))))
        return opts_error("%s needs a script or -e: it cannot explore the prompt", "--explore");
    /* every seed a run gets must be one --seed accepts: checked before the first run */
    if (opt->explore && opt->seeded && opt->seed > (uint64_t)INT64_MAX - (uint64_t)(opt->explore - 1)) {
        esc_report(stderr, "asyncrun: --explore: %d runs from seed %" PRIu64 " go past the largest seed, "
                        "%" PRId64 "\n", opt->explore, opt->seed, INT64_MAX);
        return OPTS_USAGE_ERROR;
    }
    if (i < argc) {
        opt->script_index = i;
        opt->script = argv[i];
    } else if (opt->nchunks == 0 && !opt->interactive) {
        if (isatty(STDIN_FILENO))
            opt->interactive = true; /* the prompt, as lua does */
        else
            opt->script = "-"; /* stdin is the script */
    }
    return OPTS_RUN;
}

void opts_free(struct rt_options *opt)
{
    free(opt->chunks);
    opt->chunks = NULL;
}
