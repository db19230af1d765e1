/* The seeded schedule. Without --seed a batch runs in FIFO order and rt->seed is NULL: the
 * scheduler pays one predictable branch per batch. With it, every batch (the tasks ready when
 * it begins, however they were woken: spawned, a timer of the same deadline, an I/O event of
 * the same poll, a hand-off) is reordered here before it runs, so one seed is one
 * interleaving, and under --fake-time with no outside input, the same one every run. The
 * order stays one that the API allows: waits are still served first in, first out (who
 * gets the lock or the item does not change, only who runs first), and sleep(0) still lets
 * every task ready before it run first (seed_rank).
 *
 * Two strategies, and by default a run draws one of them (bench/EXPLORE.md measures them on
 * planted bugs: PCT finds a task that must stay ahead for many steps at once where a shuffle
 * needs 2^steps runs, but it hardly ever changes the lead twice in a short run):
 * - shuffle: a uniform permutation of each batch (sorted by random keys);
 * - pct: PCT (Burckhardt et al., ASPLOS 2010) adapted to batches: each task has a random
 *   priority for the whole run and a batch runs in priority order; at PCT_DEPTH - 1 steps
 *   drawn at random, the task of that step drops below every other task. A bug of depth d
 *   (d ordering constraints) is found with probability >= 1/(n k^(d-1)) per run. */
#include <errno.h>
#include <stdlib.h>
#include <lauxlib.h>

#include "seed.h"

enum { PCT_DEPTH = 3 };

/* A task of the batch being ordered: it runs in the order of (rank, at). */
struct seed_slot {
    uint64_t rank;
    size_t at;                /* its place in the ready list */
    struct task *t;           /* borrowed */
};

struct seed {
    uint64_t s[4];            /* xoshiro256** state */
    enum rt_seed_strategy strategy;
    struct seed_slot *v;      /* owned: the batch being ordered, grown as needed */
    size_t cap;
    /* pct */
    uint64_t key;             /* mixed into every task's priority */
    uint64_t steps;           /* steps of the batches ordered so far */
    uint64_t change[PCT_DEPTH - 1]; /* the steps after which a task is demoted */
    struct { lua_Integer id; uint64_t priority; } low[PCT_DEPTH - 1]; /* demoted tasks */
    int nlow;
};

static uint64_t seed_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t seed_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna) */
static uint64_t seed_next(struct seed *g)
{
    uint64_t *s = g->s, r = seed_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = seed_rotl(s[3], 45);
    return r;
}

/* uniform in [0, n), n > 0: Lemire's multiply, with its rejection step */
static uint64_t seed_below(struct seed *g, uint64_t n)
{
    for (;;) {
        unsigned __int128 m = (unsigned __int128)seed_next(g) * n;
        uint64_t low = (uint64_t)m;
        if (low >= n || low >= (uint64_t)-n % n)
            return (uint64_t)(m >> 64);
    }
}

int seed_open(struct rt *rt)
{
    const struct rt_options *opt = rt->opt;
    if (!opt->seeded)
        return 0;
    struct seed *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    uint64_t x = opt->seed;
    for (int i = 0; i < 4; i++)
        g->s[i] = seed_splitmix(&x);
    g->strategy = opt->seed_strategy;
    if (g->strategy == SEED_MIXED)
        g->strategy = seed_below(g, 2) ? SEED_PCT : SEED_SHUFFLE;
    g->key = seed_next(g);
    /* the number of steps is not known in advance: change points fall in the first
     * 2^2..2^12 steps, a scale drawn per run */
    uint64_t span = (uint64_t)4 << seed_below(g, 11);
    for (int i = 0; i < PCT_DEPTH - 1; i++)
        g->change[i] = 1 + seed_below(g, span);
    rt->seed = g;
    return 0;
}

void seed_close(struct rt *rt)
{
    if (!rt->seed)
        return;
    free(rt->seed->v);
    free(rt->seed);
    rt->seed = NULL;
}

void seed_math_random(struct rt *rt, lua_State *L)
{
    if (!rt->seed)
        return;
    lua_getglobal(L, "math");
    lua_getfield(L, -1, "randomseed");
    lua_pushinteger(L, (lua_Integer)rt->opt->seed);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
}

/* A task's PCT priority: drawn once per run (a hash of its id), unless it was demoted. */
static uint64_t seed_priority(struct seed *g, const struct task *t)
{
    for (int i = 0; i < g->nlow; i++)
        if (g->low[i].id == t->id)
            return g->low[i].priority;
    uint64_t x = g->key ^ (uint64_t)t->id;
    return seed_splitmix(&x) | (uint64_t)1 << 63; /* above every demoted one */
}

static int seed_by_rank(const void *a, const void *b)
{
    const struct seed_slot *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Ranks the batch: at random (shuffle), or by priority (pct). A task that yielded with
 * sleep(0) (or a deferred gather) was promised that every task ready before it runs first:
 * it ranks with the highest rank before it in the list and, on a tie, its later place. The
 * tasks after it in the list are free to run before it or after. */
static void seed_rank(struct seed *g, size_t n)
{
    uint64_t highest = 0;
    for (size_t i = 0; i < n; i++) {
        struct seed_slot *s = &g->v[i];
        s->at = i;
        if (s->t->yielded) {
            s->t->yielded = false;
            s->rank = highest;
            continue;
        }
        s->rank = g->strategy == SEED_PCT ? ~seed_priority(g, s->t) : seed_next(g);
        if (s->rank > highest)
            highest = s->rank;
    }
}

/* The change points among this batch's steps demote their tasks, later ones lower. */
static void seed_demote(struct seed *g, size_t n)
{
    for (int i = 0; i < PCT_DEPTH - 1; i++) {
        uint64_t c = g->change[i];
        if (c <= g->steps || c > g->steps + n || g->nlow == PCT_DEPTH - 1)
            continue;
        g->low[g->nlow].id = g->v[c - g->steps - 1].t->id;
        g->low[g->nlow].priority = PCT_DEPTH - 1 - i;
        g->nlow++;
    }
    g->steps += n;
}

void seed_order(struct rt *rt)
{
    struct seed *g = rt->seed;
    size_t n = 0;
    for (struct task *t = rt->ready.head; t; t = t->ready_next)
        n++;
    if (n > g->cap) {
        size_t cap = n < 64 ? 64 : 2 * n;
        struct seed_slot *v = realloc(g->v, cap * sizeof *v);
        if (!v)
            return; /* out of memory: this batch runs in FIFO order */
        g->v = v;
        g->cap = cap;
    }
    n = 0;
    for (struct task *t = rt->ready.head; t; t = t->ready_next)
        g->v[n++].t = t;
    if (n > 1) {
        seed_rank(g, n);
        qsort(g->v, n, sizeof *g->v, seed_by_rank);
    } else {
        g->v[0].t->yielded = false; /* a lone task (a ping-pong's every batch): no order to draw */
    }
    if (g->strategy == SEED_PCT)
        seed_demote(g, n);
    for (size_t i = 0; i + 1 < n; i++)
        g->v[i].t->ready_next = g->v[i + 1].t;
    g->v[n - 1].t->ready_next = NULL;
    rt->ready.head = g->v[0].t;
    rt->ready.tail = g->v[n - 1].t;
}
