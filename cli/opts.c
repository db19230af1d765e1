/* The command line, modelled on lua.c: options up to the first non-option (the script),
 * -e and -l kept in order, long options as --opt=VALUE or --opt VALUE, and the
 * ASYNCRUN_* variables as defaults that options override. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"

/* Options of later issues: accepted by the parser, refused until they exist. */
static const char *const opts_pending[] = {"-i", "--stats", "--debug", "--slow", "--strict",
                                           "--memlimit", NULL};

static enum opts_action opts_error(const char *fmt, const char *what)
{
    fputs("asyncrun: ", stderr);
    fprintf(stderr, fmt, what);
    fputc('\n', stderr);
    return OPTS_USAGE_ERROR;
}

static enum opts_action opts_not_yet(const char *name)
{
    return opts_error("%s: not implemented yet", name);
}

static bool opts_trace_format(const char *value, struct rt_options *opt)
{
    if (strcmp(value, "text") == 0) {
        opt->trace = TRACE_TEXT;
        return true;
    }
    return false;
}

static bool opts_is_trace_format(const char *value)
{
    return strcmp(value, "json") == 0 || strcmp(value, "chrome") == 0
        || strcmp(value, "html") == 0;
}

/* --trace=FORMAT from an option or ASYNCRUN_TRACE */
static enum opts_action opts_set_trace(const char *value, const char *name,
                                       struct rt_options *opt)
{
    if (opts_trace_format(value, opt))
        return OPTS_RUN;
    if (opts_is_trace_format(value)) {
        fprintf(stderr, "asyncrun: %s=%s: not implemented yet\n", name, value);
        return OPTS_USAGE_ERROR;
    }
    fprintf(stderr, "asyncrun: %s: unknown format '%s' (text, json, chrome or html)\n", name,
            value);
    return OPTS_USAGE_ERROR;
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
    if ((v = getenv("ASYNCRUN_STATS")) && *v)
        return opts_not_yet("ASYNCRUN_STATS");
    if ((v = getenv("ASYNCRUN_MEMLIMIT")) && *v)
        return opts_not_yet("ASYNCRUN_MEMLIMIT");
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

static enum opts_action opts_timeout(const char *value, struct rt_options *opt)
{
    char *end;
    double s = value ? strtod(value, &end) : 0;
    if (!value)
        return opts_error("option '%s' requires a value", "--timeout");
    if (end == value || *end || !(s > 0) || isinf(s))
        return opts_error("--timeout: '%s' is not a positive number of seconds", value);
    opt->timeout = s;
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
        return a[7] ? opts_set_trace(a + 8, "--trace", opt) : opts_set_trace("text", "--trace", opt);
    if (opts_is(a, "--timeout"))
        return opts_timeout(opts_value(argc, argv, i, "--timeout"), opt);
    for (int k = 0; opts_pending[k]; k++)
        if (opts_pending[k][1] == '-' && opts_is(a, opts_pending[k]))
            return opts_not_yet(opts_pending[k]);
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
            return opts_not_yet("-i");
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
    if (i < argc) {
        opt->script_index = i;
        opt->script = argv[i];
    } else if (opt->nchunks == 0) {
        if (isatty(STDIN_FILENO) && !opt->check_only)
            return opts_not_yet("interactive prompt (no script and a terminal on stdin)");
        opt->script = "-"; /* stdin is the script, as lua does */
    }
    return OPTS_RUN;
}

void opts_free(struct rt_options *opt)
{
    free(opt->chunks);
    opt->chunks = NULL;
}
