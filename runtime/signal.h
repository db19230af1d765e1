/* Signals: SIGINT/SIGTERM cancel the main task (a second SIGINT exits at once);
 * SIGQUIT/SIGUSR1 print the task dump. */
#ifndef ASYNCRUN_SIGNAL_H
#define ASYNCRUN_SIGNAL_H

#include "core.h"

void signal_install(struct rt *rt);
void signal_restore(struct rt *rt);

#endif
