/* Sleeping tasks live in a binary min-heap of deadlines (task.on.sleep.slot is the index), and
 * one ev_timer is armed for the earliest. Owning the heap keeps the clock ours: deadlines are
 * measured from the moment a sleep is requested, and a virtual clock can jump between them. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "timer.h"
#include "sched.h"
#include "clock.h"

static bool timer_before(const struct task *a, const struct task *b)
{
    return a->on.sleep.deadline < b->on.sleep.deadline;
}

static void timer_place(struct timer_heap *h, size_t i, struct task *t)
{
    h->v[i] = t;
    t->on.sleep.slot = i;
}

static void timer_sift_up(struct timer_heap *h, size_t i)
{
    struct task *t = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, h->v[parent]))
            break;
        timer_place(h, i, h->v[parent]);
        i = parent;
    }
    timer_place(h, i, t);
}

static void timer_sift_down(struct timer_heap *h, size_t i)
{
    struct task *t = h->v[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && timer_before(h->v[child + 1], h->v[child]))
            child++;
        if (!timer_before(h->v[child], t))
            break;
        timer_place(h, i, h->v[child]);
        i = child;
    }
    timer_place(h, i, t);
}

/* Points the libev timer at the earliest finite deadline, or stops it: a heap holding only
 * infinite sleeps must not keep the loop alive, or a deadlock would hang. */
static void timer_rearm(struct rt *rt)
{
    struct timer_heap *h = &rt->timers;
    ev_timer_stop(rt->loop, &rt->timer_watch);
    if (h->n == 0 || isinf(h->v[0]->on.sleep.deadline))
        return;
    ev_now_update(rt->loop); /* libev measures "after" from its cached time */
    double after = h->v[0]->on.sleep.deadline - clock_now();
    ev_timer_set(&rt->timer_watch, after > 0 ? after : 0, 0);
    ev_timer_start(rt->loop, &rt->timer_watch);
}

static void timer_pop(struct timer_heap *h, size_t i)
{
    struct task *last = h->v[--h->n];
    if (i == h->n)
        return;
    timer_place(h, i, last);
    if (i > 0 && timer_before(last, h->v[(i - 1) / 2]))
        timer_sift_up(h, i);
    else
        timer_sift_down(h, i);
}

static void timer_expired(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct rt *rt = ev_userdata(loop);
    struct timer_heap *h = &rt->timers;
    double now = clock_now();
    (void)w;
    (void)revents;
    while (h->n > 0 && h->v[0]->on.sleep.deadline <= now) {
        struct task *t = h->v[0];
        timer_pop(h, 0);
        sched_ready(rt, t, WAKE_OK);
    }
    timer_rearm(rt);
}

void timer_init(struct rt *rt)
{
    ev_init(&rt->timer_watch, timer_expired);
}

int timer_add(struct rt *rt, struct task *t)
{
    struct timer_heap *h = &rt->timers;
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        struct task **v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    h->n++;
    timer_place(h, h->n - 1, t);
    timer_sift_up(h, h->n - 1);
    if (t->on.sleep.slot == 0)
        timer_rearm(rt);
    return 0;
}

void timer_remove(struct rt *rt, struct task *t)
{
    size_t i = t->on.sleep.slot;
    timer_pop(&rt->timers, i);
    if (i == 0)
        timer_rearm(rt);
}

void timer_close(struct rt *rt)
{
    ev_timer_stop(rt->loop, &rt->timer_watch);
    free(rt->timers.v);
    rt->timers.v = NULL;
    rt->timers.n = rt->timers.cap = 0;
}
