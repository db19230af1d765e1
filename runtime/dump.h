/* The task dump: every live task with what it waits on and where, under its parent. */
#ifndef ASYNCRUN_DUMP_H
#define ASYNCRUN_DUMP_H

#include "core.h"

/* "sleep:0.5", "task:3", "ready", "running" into buf; returns buf. */
const char *dump_wait(const struct task *t, char *buf, size_t size);
void dump_tasks(struct rt *rt, FILE *out);

#endif
