#include <stdio.h>

#include "resource.h"
#include "escape.h"

void resource_add(struct rt *rt, struct resource *r)
{
    r->prev = NULL;
    r->next = rt->resources;
    if (rt->resources)
        rt->resources->prev = r;
    rt->resources = r;
}

void resource_remove(struct rt *rt, struct resource *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else if (rt->resources == r)
        rt->resources = r->next;
    else
        return; /* not linked */
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

size_t resource_shutdown(struct rt *rt)
{
    size_t n = 0;
    while (rt->resources) {
        struct resource *r = rt->resources;
        char what[128];
        r->describe(r, what, sizeof what);
        if (rt->opt->debug || rt->opt->strict) /* what: a URL, a path, as the script gave it */
            esc_report(stderr, "asyncrun: %s: %s %s was left open; shutdown closed it\n",
                       rt->opt->strict ? "strict" : "debug", r->kind, what);
        resource_remove(rt, r);
        r->shutdown(rt, r);
        n++;
    }
    return n;
}
