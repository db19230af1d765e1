/* Resources the runtime closes at shutdown (SPEC §2 step 5) when the script did not. */
#ifndef ASYNCRUN_RESOURCE_H
#define ASYNCRUN_RESOURCE_H

#include "core.h"

void resource_add(struct rt *rt, struct resource *r);
void resource_remove(struct rt *rt, struct resource *r);
/* Closes every open resource, reporting each with --debug or --strict; returns how many. */
size_t resource_shutdown(struct rt *rt);

#endif
