/* Sleeping tasks: a min-heap of deadlines armed through one libev timer. */
#ifndef ASYNCRUN_TIMER_H
#define ASYNCRUN_TIMER_H

#include "core.h"

void timer_init(struct rt *rt);
/* Adds t, whose on.sleep.deadline is set; returns -ENOMEM when the heap cannot grow. */
int timer_add(struct rt *rt, struct task *t);
void timer_remove(struct rt *rt, struct task *t);
void timer_close(struct rt *rt);

#endif
