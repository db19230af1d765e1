/* --stats: what the run cost, printed at exit as text or one JSON object. */
#ifndef ASYNCRUN_STATS_H
#define ASYNCRUN_STATS_H

#include "core.h"

/* -ENOMEM when the collector cannot be allocated. */
int stats_open(struct rt *rt);
/* A step ended (t->step_ran); suspended tells whether t waits now or finished. */
void stats_step(struct rt *rt, struct task *t, bool suspended);
void stats_task_end(struct rt *rt, struct task *t);
/* An HTTP request ended (done, failed or given up) with bytes of body. */
void stats_http(struct rt *rt, bool failed, uint64_t bytes);
/* Prints the summary to stderr once; later calls do nothing. */
void stats_print(struct rt *rt);
void stats_close(struct rt *rt);

#endif
