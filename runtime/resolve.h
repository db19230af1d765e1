/* Name lookup off the loop: getaddrinfo on a few worker threads, results handed back to the
 * loop through an ev_async. Workers never touch the Lua state. */
#ifndef ASYNCRUN_RESOLVE_H
#define ASYNCRUN_RESOLVE_H

#include <netdb.h>

#include "core.h"

struct resolve_req {
    struct resolve_req *next;
    struct task *task;        /* borrowed: the waiting task, NULL once it gave up */
    int rc;                   /* getaddrinfo's result */
    struct addrinfo *res;     /* owned: freed with the request */
    char host[];              /* owned: the name */
};

/* A request for t, not yet queued (NULL without memory). */
struct resolve_req *resolve_new(struct task *t, const char *host);
/* Queues it (when its task has suspended); -errno if the pool cannot start. The request
 * belongs to the pool until the task is woken, then to the task (resolve_free); a lookup
 * still in progress when the loop closes belongs to its worker, which frees it. */
int resolve_submit(struct rt *rt, struct resolve_req *req);
/* The task gives up (cancelled): a request still queued goes at once (hundreds of abandoned
 * lookups of a name server that does not answer must not delay the next one), one in a
 * worker's hands is freed when its lookup ends. */
void resolve_abandon(struct rt *rt, struct resolve_req *req);
void resolve_free(struct resolve_req *req);
/* Lets the workers go without waiting for the lookups in progress, whose workers free them
 * when getaddrinfo returns; frees what is left, and the pool unless a worker still runs. */
void resolve_close(struct rt *rt);

#endif
