/* The runtime as the command line sees it: options in, exit status out. */
#ifndef ASYNCRUN_RT_H
#define ASYNCRUN_RT_H

#include <stdbool.h>
#include <stdint.h>

#include "status.h"

struct lua_State;

/* The registry key where the opener (rt_options.open_libs) leaves a function returning the
 * interactive prompt's function, which -i calls with the version string. */
#define RT_REPL "async.repl"

/* One -e chunk or -l module, kept in command-line order. */
struct rt_chunk {
    char kind;          /* 'e' (code) or 'l' (library) */
    const char *text;   /* borrowed from argv */
};

enum rt_trace_format { TRACE_OFF, TRACE_TEXT, TRACE_JSON, TRACE_CHROME, TRACE_HTML };
enum rt_stats_format { STATS_OFF, STATS_TEXT, STATS_JSON };
/* How --seed orders a ready batch: each run draws one of the two (mixed), a uniform shuffle,
 * or PCT's priorities (runtime/seed.c) */
enum rt_seed_strategy { SEED_MIXED, SEED_SHUFFLE, SEED_PCT };

struct rt_options {
    char **argv;          /* borrowed: the process's argv, for the `arg` table */
    int argc;
    int script_index;     /* argv index of the script, or 0 when there is none */
    const char *script;   /* borrowed: NULL, a path, or "-" for stdin */
    struct rt_chunk *chunks; /* owned by the CLI: -e and -l in order */
    int nchunks;
    bool ignore_env;      /* -E */
    bool warnings;        /* -W */
    bool check_only;      /* --check */
    bool interactive;     /* -i, or no script with a terminal on stdin */
    bool fake_time;       /* --fake-time */
    double timeout;       /* --timeout seconds, 0 when unset */
    enum rt_trace_format trace;
    const char *trace_file; /* borrowed: NULL means stderr */
    enum rt_stats_format stats;
    bool debug;           /* --debug */
    double slow;          /* --slow threshold in seconds (default 0.1) */
    bool strict;          /* --strict */
    size_t memlimit;      /* --memlimit bytes, 0 for none */
    /* opens the bindings after the standard libraries, as lua.c has luaL_openlibs open
     * Lua's: the runtime never calls the bindings otherwise (see RT_REPL) [-0, +0, e] */
    void (*open_libs)(struct lua_State *L);
    bool seeded;          /* --seed or ASYNCRUN_SEED: a seeded schedule */
    uint64_t seed;
    enum rt_seed_strategy seed_strategy; /* ASYNCRUN_SEED_STRATEGY */
    int explore;          /* --explore runs, 0 when off (cli/explore.c) */
    int explore_index;    /* argv index of the last --explore, for the runs' command lines */
    int explore_count;    /* how many --explore options there were */
    int seed_index, seed_argn; /* argv index of --seed and its word count, 0 when none */
};

/* Runs the whole lifecycle of SPEC §2 and returns the process exit status. */
int rt_run(const struct rt_options *opt);

/* "asyncrun X.Y.Z (Lua 5.4.N, libev 4.N)" into buf. */
void rt_version(char *buf, unsigned size);

#endif
