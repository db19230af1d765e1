/* asyncrun: parse the command line, run with the bindings opened, exit with the runtime's status. */
#include <stdio.h>

#include "explore.h"
#include "opts.h"
#include "usage.h"
#include "lasync.h"

int main(int argc, char **argv)
{
    struct rt_options opt;
    char version[128];
    int status;
    switch (opts_parse(argc, argv, &opt)) {
    case OPTS_HELP:
        usage_print(stdout);
        status = ST_OK;
        break;
    case OPTS_VERSION:
        rt_version(version, sizeof version);
        puts(version);
        status = ST_OK;
        break;
    case OPTS_USAGE_ERROR:
        usage_hint();
        status = ST_USAGE;
        break;
    default:
        opt.open_libs = lasync_open;
        status = opt.explore ? explore_run(&opt) : rt_run(&opt);
    }
    opts_free(&opt);
    return status;
}
