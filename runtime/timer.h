/* Deadlines: a min-heap of struct timer armed through one libev timer. Owning the heap keeps
 * the clock ours: deadlines count from the moment they are requested, and under --fake-time
 * the virtual clock jumps from one deadline to the next. */
#ifndef ASYNCRUN_TIMER_H
#define ASYNCRUN_TIMER_H

#include "core.h"

void timer_init(struct rt *rt);
/* Arms tm (deadline and fire set); -ENOMEM when the heap cannot grow. */
int timer_add(struct rt *rt, struct timer *tm);
void timer_remove(struct rt *rt, struct timer *tm);
/* --fake-time: jumps the virtual clock to the earliest deadline and fires what is due;
 * false when no finite deadline is armed. */
bool timer_jump(struct rt *rt);
void timer_close(struct rt *rt);

#endif
