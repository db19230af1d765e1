/* SIGINT and SIGTERM: the first cancels the main task, a second SIGINT exits at once. */
#ifndef ASYNCRUN_SIGNAL_H
#define ASYNCRUN_SIGNAL_H

#include "core.h"

void signal_install(struct rt *rt);
void signal_restore(struct rt *rt);

#endif
