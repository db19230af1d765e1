/* libFuzzer target for the command-line parser (cli/opts.c).
 *
 * The input is a list of NUL-separated strings. The first one is not an argument: it holds
 * the ASYNCRUN_* variables the parser reads, separated by \x01, in the order TRACE,
 * TRACE_FILE, STATS, MEMLIMIT (an empty or missing field unsets the variable). The rest are
 * argv[1..], with argv[0] = "asyncrun" and argv[argc] = NULL as the kernel gives them.
 *
 * Besides what ASan and UBSan catch (reads past a string, a leak of opt->chunks on any
 * path), every parse that says OPTS_RUN is checked against the contract opts.h and
 * SPEC.md section 1 give: chunk texts and the script point into argv, the script index is
 * consistent, numbers are positive and finite, the trace and stats formats are valid and
 * chrome/html come with a trace file, an accepted memory limit is not 0 (= none). A broken
 * invariant aborts with a message.
 *
 * stderr goes to /dev/null once at start (the C stdio stream only, see LLVMFuzzerInitialize):
 * usage errors print one line per input. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"

#define MAX_ARGS 64

static const char *const env_names[] = {"ASYNCRUN_TRACE", "ASYNCRUN_TRACE_FILE",
                                        "ASYNCRUN_STATS", "ASYNCRUN_MEMLIMIT"};

static bool allow_memlimit0; /* FUZZ_OPTS_ALLOW=memlimit0: tolerate that known divergence */

static void fail(const char *what)
{
    fprintf(stdout, "fuzz_opts: invariant broken: %s\n", what);
    fflush(stdout);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* C stdio's stderr, not fd 2: libFuzzer kept its own FILE * for its reports, and the
     * sanitizers write to fd 2 directly, so only the parser's messages are silenced */
    FILE *null = fopen("/dev/null", "w");
    if (null)
        stderr = null;
    for (size_t i = 0; i < sizeof env_names / sizeof *env_names; i++)
        unsetenv(env_names[i]);
    const char *allow = getenv("FUZZ_OPTS_ALLOW");
    allow_memlimit0 = allow && strstr(allow, "memlimit0");
    return 0;
}

/* Sets the ASYNCRUN_* variables from the first string (fields separated by \x01, values cut
 * at 255 bytes). putenv with buffers of our own: setenv would keep every value ever set
 * (glibc never frees them), and the harness would grow by the input. */
static void set_environment(const char *spec)
{
    static char bufs[sizeof env_names / sizeof *env_names][300];
    const char *p = spec;
    for (size_t i = 0; i < sizeof env_names / sizeof *env_names; i++) {
        const char *end = p ? strchr(p, '\x01') : NULL;
        size_t n = p ? (end ? (size_t)(end - p) : strlen(p)) : 0;
        if (n == 0) {
            unsetenv(env_names[i]);
        } else {
            snprintf(bufs[i], sizeof bufs[i], "%s=%.*s", env_names[i], (int)(n > 255 ? 255 : n), p);
            putenv(bufs[i]);
        }
        p = end ? end + 1 : NULL;
    }
}

/* true when p points inside one of argv[1..argc-1] (at its start or later, NUL included) */
static bool in_argv(const char *p, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (p >= argv[i] && p <= argv[i] + n)
            return true;
    }
    return false;
}

/* true when the options part of argv (as the parser walks it: up to the script or "--",
 * skipping option values) sets --memlimit; a separate value counts only if present */
static bool memlimit_given(int argc, char **argv)
{
    static const char *const with_value[] = {"--trace-file", "--timeout", "--slow", "--memlimit"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0 || strcmp(a, "--") == 0)
            return false;
        if ((a[1] == 'e' || a[1] == 'l') && a[2] == '\0') {
            i++; /* the code or module name */
            continue;
        }
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) {
            size_t n = strlen(with_value[k]);
            if (strncmp(a, with_value[k], n) == 0 && (a[n] == '\0' || a[n] == '=')) {
                if (k == 3)
                    return true;
                if (a[n] == '\0')
                    i++;
            }
        }
    }
    return false;
}

static void check(enum opts_action act, const struct rt_options *o, int argc, char **argv,
                  const char *env_trace_file)
{
    if (act != OPTS_RUN && act != OPTS_HELP && act != OPTS_VERSION && act != OPTS_USAGE_ERROR)
        fail("opts_parse returned a value outside enum opts_action");
    if (act != OPTS_RUN)
        return;
    if (o->argc != argc || o->argv != argv)
        fail("argc/argv not kept");
    if (o->nchunks < 0 || o->nchunks > argc)
        fail("nchunks out of range");
    if (o->nchunks > 0 && !o->chunks)
        fail("chunks NULL with nchunks > 0");
    for (int i = 0; i < o->nchunks; i++) {
        if (o->chunks[i].kind != 'e' && o->chunks[i].kind != 'l')
            fail("chunk kind neither 'e' nor 'l'");
        if (!o->chunks[i].text || !in_argv(o->chunks[i].text, argc, argv))
            fail("chunk text does not point into argv");
    }
    if (o->script_index != 0) {
        if (o->script_index < 1 || o->script_index >= argc)
            fail("script_index out of range");
        if (o->script != argv[o->script_index])
            fail("script is not argv[script_index]");
    } else if (o->script && strcmp(o->script, "-") != 0) {
        fail("a script other than \"-\" without a script index");
    }
    if (o->script && o->script_index == 0 && o->nchunks > 0)
        fail("stdin taken as the script although -e/-l chunks were given");
    if ((unsigned)o->trace > TRACE_HTML)
        fail("trace format out of range");
    if ((unsigned)o->stats > STATS_JSON)
        fail("stats format out of range");
    if ((o->trace == TRACE_CHROME || o->trace == TRACE_HTML) && !o->trace_file)
        fail("chrome/html trace without a trace file");
    if (o->trace_file) {
        if (!*o->trace_file)
            fail("empty trace file accepted");
        if (!in_argv(o->trace_file, argc, argv)
            && !(env_trace_file && o->trace_file == env_trace_file))
            fail("trace file neither from argv nor from ASYNCRUN_TRACE_FILE");
        if (o->trace == TRACE_OFF)
            fail("a trace file with tracing off");
    }
    /* every run --explore starts gets a seed that --seed itself accepts (below 2^63) */
    if (o->seeded && o->seed > (uint64_t)INT64_MAX)
        fail("a seed past 2^63-1 accepted");
    if (o->explore && o->seeded && o->seed + (uint64_t)(o->explore - 1) > (uint64_t)INT64_MAX)
        fail("--explore accepted with seeds past 2^63-1");
    if (!(o->timeout >= 0) || isinf(o->timeout))
        fail("timeout negative, NaN or infinite");
    if (!(o->slow >= 0) || isinf(o->slow))
        fail("slow threshold negative, NaN or infinite");
    /* SPEC: past the limit allocation fails; 0 means "no limit", so an accepted size must
     * not become 0 (a size below one byte is either refused or rounded up) */
    const char *env_mem = getenv("ASYNCRUN_MEMLIMIT");
    if (!allow_memlimit0 && o->memlimit == 0 && ((env_mem && *env_mem) || memlimit_given(argc, argv)))
        fail("a --memlimit/ASYNCRUN_MEMLIMIT size was accepted as 0, which means no limit");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private NUL-terminated copy: strings may be read up to their terminator only */
    char *buf = malloc(size + 1);
    char *argv[MAX_ARGS + 2];
    int argc = 1;
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *env = buf;
    char *p = buf + strlen(buf) + 1; /* argv[1] starts after the environment string */
    argv[0] = (char *)"asyncrun";
    while (p < buf + size && argc <= MAX_ARGS) {
        argv[argc++] = p;
        p += strlen(p) + 1;
    }
    argv[argc] = NULL;
    set_environment(env);

    struct rt_options opt;
    enum opts_action act = opts_parse(argc, argv, &opt);
    check(act, &opt, argc, argv, getenv("ASYNCRUN_TRACE_FILE"));
    opts_free(&opt);
    if (opt.chunks)
        fail("opts_free left chunks set");
    free(buf);
    return 0;
}
