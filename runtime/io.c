#include <stddef.h>

#include "io.h"
#include "sched.h"
#include "task.h"

static void iosrc_stop(struct rt *rt, struct iosrc *src)
{
    if (!ev_is_active(&src->w))
        return;
    if (src->background) {
        ev_ref(rt->loop);
        src->background = false;
    }
    ev_io_stop(rt->loop, &src->w);
    rt->io_waits--;
}

static void iosrc_start(struct rt *rt, struct iosrc *src)
{
    if (!ev_is_active(&src->w)) {
        ev_io_start(rt->loop, &src->w);
        rt->io_waits++;
    }
}

static void iosrc_wake_all(struct rt *rt, struct iosrc *src)
{
    size_t n = 0;
    struct waiter *w;
    iosrc_stop(rt, src);
    /* only those there now: a wake function that waits again (at the tail) waits for the
     * next readiness, and every node stays in src's list, where iosrc_unwait_node finds it */
    for (w = src->waiters.head; w; w = w->next)
        n++;
    while (n-- > 0 && (w = waitq_pop(&src->waiters))) {
        if (w->wake)
            w->wake(rt, w);
        else
            sched_ready(rt, w->task, WAKE_OK);
    }
}

static void iosrc_ready(struct ev_loop *loop, ev_io *w, int revents)
{
    struct iosrc *src = (struct iosrc *)((char *)w - offsetof(struct iosrc, w));
    (void)revents;
    iosrc_wake_all(ev_userdata(loop), src);
}

void iosrc_init(struct iosrc *src, int fd, int events, const char *what, int label)
{
    ev_io_init(&src->w, iosrc_ready, fd, events);
    src->waiters.head = src->waiters.tail = NULL;
    src->what = what;
    src->label = label;
    src->background = false;
}

void iosrc_wait(struct rt *rt, struct task *t)
{
    iosrc_wait_node(rt, t->run->on.io, &t->run->w);
}

void iosrc_wait_node(struct rt *rt, struct iosrc *src, struct waiter *w)
{
    if (w->q)
        return;
    waitq_push(&src->waiters, w);
    if (w->wake) { /* the runtime's own waiter: what it serves is kept alive elsewhere */
        iosrc_watch(rt, src);
    } else if (src->background) { /* a task waits on it now: it counts */
        ev_ref(rt->loop);
        src->background = false;
    } else {
        iosrc_start(rt, src);
    }
}

void iosrc_watch(struct rt *rt, struct iosrc *src)
{
    if (ev_is_active(&src->w))
        return;
    iosrc_start(rt, src);
    ev_unref(rt->loop); /* SPEC §5: asyncrun's own watchers never count as a way to wake a task */
    src->background = true;
}

void iosrc_unwait(struct rt *rt, struct task *t)
{
    iosrc_unwait_node(rt, &t->run->w);
}

void iosrc_unwait_node(struct rt *rt, struct waiter *w)
{
    if (!w->q)
        return;
    struct iosrc *src = (struct iosrc *)((char *)w->q - offsetof(struct iosrc, waiters));
    waitq_remove(w);
    if (!src->waiters.head)
        iosrc_stop(rt, src);
}

void iosrc_release(struct rt *rt, struct iosrc *src)
{
    iosrc_wake_all(rt, src);
}
