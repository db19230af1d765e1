/* The heap is binary, indexed by timer.slot so that removal is O(log n). One ev_timer
 * is armed for the earliest finite deadline; an empty heap, or one holding only infinite
 * deadlines, arms nothing, so that it cannot hide a deadlock. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "timer.h"
#include "clock.h"

double rt_now(const struct rt *rt)
{
    return rt->fake_now > 0 ? rt->fake_now : clock_now();
}

static void timer_place(struct timer_heap *h, size_t i, struct timer_slot e)
{
    h->v[i] = e;
    e.tm->slot = i;
}

static void timer_sift_up(struct timer_heap *h, size_t i)
{
    struct timer_slot e = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!(e.deadline < h->v[parent].deadline))
            break;
        timer_place(h, i, h->v[parent]);
        i = parent;
    }
    timer_place(h, i, e);
}

static void timer_sift_down(struct timer_heap *h, size_t i)
{
    struct timer_slot e = h->v[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->v[child + 1].deadline < h->v[child].deadline)
            child++;
        if (!(h->v[child].deadline < e.deadline))
            break;
        timer_place(h, i, h->v[child]);
        i = child;
    }
    timer_place(h, i, e);
}

static void timer_rearm(struct rt *rt)
{
    struct timer_heap *h = &rt->timers;
    ev_timer_stop(rt->loop, &rt->timer_watch);
    if (h->n == 0 || isinf(h->v[0].deadline) || rt->fake_now > 0)
        return; /* virtual time never waits in epoll for a deadline */
    ev_now_update(rt->loop); /* libev measures "after" from its cached time */
    double after = h->v[0].deadline - clock_now();
    ev_timer_set(&rt->timer_watch, after > 0 ? after : 0, 0);
    ev_timer_start(rt->loop, &rt->timer_watch);
}

static void timer_unlink(struct timer_heap *h, size_t i)
{
    struct timer_slot last = h->v[--h->n];
    if (i == h->n)
        return;
    timer_place(h, i, last);
    if (i > 0 && last.deadline < h->v[(i - 1) / 2].deadline)
        timer_sift_up(h, i);
    else
        timer_sift_down(h, i);
}

static void timer_fire_due(struct rt *rt, double now)
{
    struct timer_heap *h = &rt->timers;
    while (h->n > 0 && h->v[0].deadline <= now) {
        struct timer *tm = h->v[0].tm;
        timer_unlink(h, 0);
        tm->fire(rt, tm);
    }
    timer_rearm(rt);
}

static void timer_expired(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct rt *rt = ev_userdata(loop);
    (void)w;
    (void)revents;
    timer_fire_due(rt, rt_now(rt));
}

bool timer_jump(struct rt *rt)
{
    struct timer_heap *h = &rt->timers;
    if (h->n == 0 || isinf(h->v[0].deadline))
        return false;
    if (h->v[0].deadline > rt->fake_now)
        rt->fake_now = h->v[0].deadline;
    timer_fire_due(rt, rt->fake_now);
    return true;
}

void timer_init(struct rt *rt)
{
    ev_init(&rt->timer_watch, timer_expired);
}

int timer_add(struct rt *rt, struct timer *tm)
{
    struct timer_heap *h = &rt->timers;
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        struct timer_slot *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    h->n++;
    timer_place(h, h->n - 1, (struct timer_slot){.deadline = tm->deadline, .tm = tm});
    timer_sift_up(h, h->n - 1);
    if (tm->slot == 0)
        timer_rearm(rt);
    return 0;
}

void timer_remove(struct rt *rt, struct timer *tm)
{
    size_t i = tm->slot;
    timer_unlink(&rt->timers, i);
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
