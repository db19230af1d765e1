/* A small pool: up to RESOLVE_THREADS workers, started on demand. A request is queued under
 * the lock, a worker runs getaddrinfo, moves it to the done list and wakes the loop with
 * ev_async_send; the loop thread then wakes the waiting task. While lookups are pending the
 * loop holds a reference, so a task waiting for a name is not taken for a deadlock.
 * The end of the run never waits for a lookup in progress (a name server that does not answer
 * holds getaddrinfo for its whole timeout): such a worker detaches itself. The idle ones are
 * joined, so that no thread (and no resolver state of glibc's) outlives the run for nothing.
 * Once the loop is gone, a worker frees the request it finishes, and the last of the two
 * sides to let go of the pool (the loop, the last worker) frees it. */
#include <time.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"
#include "sched.h"

#define RESOLVE_THREADS 4

struct resolve_pool {
    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t left;      /* a worker ended while the loop closes */
    pthread_t ended[RESOLVE_THREADS]; /* those workers, for the loop to join */
    int nended;
    struct resolve_req *queue, *queue_tail, *done;
    struct ev_loop *loop;     /* borrowed: NULL once the loop closed, then workers end */
    int nthreads, idle;       /* workers alive, and those waiting for work */
    bool released;            /* the loop let go of the pool: the last worker frees it */
    size_t pending;           /* loop thread only: lookups not yet handed back */
    ev_async wake;
};

static void resolve_pool_free(struct resolve_pool *p)
{
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->left);
    free(p);
}

static void *resolve_worker(void *arg)
{
    struct resolve_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->queue && p->loop) {
            p->idle++;
            pthread_cond_wait(&p->work, &p->lock);
            p->idle--;
        }
        if (!p->loop)
            break;
        struct resolve_req *req = p->queue;
        p->queue = req->next;
        if (!p->queue)
            p->queue_tail = NULL;
        pthread_mutex_unlock(&p->lock);
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        req->rc = getaddrinfo(req->host, NULL, &hints, &req->res);
        pthread_mutex_lock(&p->lock);
        if (!p->loop) {
            resolve_free(req); /* nobody is left to hand it to */
            continue;
        }
        req->next = p->done;
        p->done = req;
        ev_async_send(p->loop, &p->wake);
    }
    bool last = --p->nthreads == 0 && p->released;
    if (p->released) {
        pthread_detach(pthread_self()); /* a lookup outlived the loop: nobody joins it */
    } else {
        p->ended[p->nended++] = pthread_self();
        pthread_cond_signal(&p->left);
    }
    pthread_mutex_unlock(&p->lock);
    if (last)
        resolve_pool_free(p);
    return NULL;
}

static void resolve_finished(struct ev_loop *loop, ev_async *w, int revents)
{
    struct rt *rt = ev_userdata(loop);
    struct resolve_pool *p = rt->resolver;
    struct resolve_req *done;
    (void)w;
    (void)revents;
    pthread_mutex_lock(&p->lock);
    done = p->done;
    p->done = NULL;
    pthread_mutex_unlock(&p->lock);
    while (done) {
        struct resolve_req *req = done;
        done = req->next;
        p->pending--;
        rt->io_waits--;
        ev_unref(loop);
        if (req->task)
            sched_ready(rt, req->task, WAKE_OK);
        else
            resolve_free(req);
    }
}

static struct resolve_pool *resolve_pool(struct rt *rt)
{
    struct resolve_pool *p = rt->resolver;
    if (p)
        return p;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = rt->loop;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->left, NULL);
    ev_async_init(&p->wake, resolve_finished);
    ev_async_start(rt->loop, &p->wake);
    ev_unref(rt->loop); /* referenced only while lookups are pending */
    rt->resolver = p;
    return p;
}

struct resolve_req *resolve_new(struct task *t, const char *host)
{
    size_t n = strlen(host);
    struct resolve_req *req = malloc(sizeof *req + n + 1);
    if (!req)
        return NULL;
    memset(req, 0, sizeof *req);
    req->task = t;
    memcpy(req->host, host, n + 1);
    return req;
}

int resolve_submit(struct rt *rt, struct resolve_req *req)
{
    struct resolve_pool *p = resolve_pool(rt);
    if (!p)
        return -ENOMEM;
    pthread_t thread;
    pthread_mutex_lock(&p->lock);
    if (p->idle == 0 && p->nthreads < RESOLVE_THREADS
        && pthread_create(&thread, NULL, resolve_worker, p) == 0) {
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        pthread_mutex_unlock(&p->lock);
        return -EAGAIN;
    }
    if (p->queue_tail)
        p->queue_tail->next = req;
    else
        p->queue = req;
    p->queue_tail = req;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    p->pending++;
    rt->io_waits++;
    ev_ref(rt->loop);
    return 0;
}

void resolve_abandon(struct rt *rt, struct resolve_req *req)
{
    struct resolve_pool *p = rt->resolver;
    struct resolve_req **at, *prev = NULL;
    req->task = NULL; /* read by the loop thread only */
    if (!p)
        return; /* the loop has closed: what is left belongs to the workers */
    pthread_mutex_lock(&p->lock);
    for (at = &p->queue; *at && *at != req; at = &(*at)->next)
        prev = *at;
    bool queued = *at != NULL;
    if (queued) {
        *at = req->next;
        if (p->queue_tail == req)
            p->queue_tail = prev;
    }
    pthread_mutex_unlock(&p->lock);
    if (!queued)
        return;
    resolve_free(req);
    p->pending--;
    rt->io_waits--;
    ev_unref(rt->loop);
}

void resolve_free(struct resolve_req *req)
{
    if (req->res)
        freeaddrinfo(req->res);
    free(req);
}

void resolve_close(struct rt *rt)
{
    struct resolve_pool *p = rt->resolver;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->loop = NULL; /* idle workers end, busy ones free their request when it returns */
    struct resolve_req *queued = p->queue;
    p->queue = p->queue_tail = NULL;
    pthread_cond_broadcast(&p->work);
    /* the idle workers end now; the busy ones are in getaddrinfo, maybe for long */
    int busy = p->nthreads - p->idle;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    while (p->nthreads > busy && pthread_cond_timedwait(&p->left, &p->lock, &until) == 0)
        ;
    pthread_mutex_unlock(&p->lock);
    /* hand back what finished; requests whose task is gone are freed */
    resolve_finished(rt->loop, &p->wake, 0);
    while (queued) {
        struct resolve_req *req = queued;
        queued = req->next;
        resolve_free(req);
    }
    /* the lookups not handed back (never started, or left to their workers) */
    rt->io_waits -= p->pending;
    for (; p->pending > 0; p->pending--)
        ev_unref(rt->loop);
    ev_ref(rt->loop);
    ev_async_stop(rt->loop, &p->wake);
    rt->resolver = NULL;
    pthread_mutex_lock(&p->lock);
    p->released = true;
    bool last = p->nthreads == 0;
    pthread_t ended[RESOLVE_THREADS];
    int nended = p->nended;
    memcpy(ended, p->ended, sizeof ended);
    pthread_mutex_unlock(&p->lock);
    while (nended > 0)
        pthread_join(ended[--nended], NULL);
    if (last)
        resolve_pool_free(p);
}
