/* The command line (SPEC §1), parsed into runtime options. */
#ifndef ASYNCRUN_OPTS_H
#define ASYNCRUN_OPTS_H

#include "rt.h"

enum opts_action { OPTS_RUN, OPTS_HELP, OPTS_VERSION, OPTS_USAGE_ERROR };

/* Fills opt from argv and the ASYNCRUN_* environment; on a usage error prints the one-line
 * message naming the option. opt->chunks is malloc'd: release with opts_free. */
enum opts_action opts_parse(int argc, char **argv, struct rt_options *opt);
void opts_free(struct rt_options *opt);

#endif
