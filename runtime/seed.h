/* --seed: the seeded schedule. Each ready batch is reordered from a PRNG seeded with N
 * before it runs, so that a run explores one interleaving and the same seed repeats it. */
#ifndef ASYNCRUN_SEED_H
#define ASYNCRUN_SEED_H

#include "core.h"

/* rt->seed from the options (NULL without --seed); -ENOMEM when it cannot be allocated. */
int seed_open(struct rt *rt);
/* Reorders rt->ready, the batch about to run, in the seeded order of the strategy. */
void seed_order(struct rt *rt);
/* [-0, +0, e] math.randomseed(N), after the standard library is open */
void seed_math_random(struct rt *rt, lua_State *L);
void seed_close(struct rt *rt);

#endif
