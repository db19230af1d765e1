/* The task dump: every live task with what it waits on and where, under its parent. */
#ifndef ASYNCRUN_DUMP_H
#define ASYNCRUN_DUMP_H

#include "core.h"

/* What t waits on: "sleep:0.5", "task:3", "ready", "queue"...; formatted into buf, or a
 * string that lives as long as the wait. */
const char *dump_wait(const struct task *t, char *buf, size_t size);
void dump_tasks(struct rt *rt, FILE *out);

#endif
