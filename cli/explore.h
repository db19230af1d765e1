/* --explore[=K]: the script run K times under seeds S, S+1, ... as fresh processes. */
#ifndef ASYNCRUN_EXPLORE_H
#define ASYNCRUN_EXPLORE_H

#include "rt.h"

/* Runs them until one fails; returns the exit status of the whole exploration. */
int explore_run(const struct rt_options *opt);

#endif
