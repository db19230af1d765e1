/* Small blocks (most Lua objects: tasks, threads, call frames, closures, short strings)
 * come from size classes of ALLOC_GRAIN bytes, carved from big chunks and recycled through
 * one free list per class: Lua tells the size of every block it frees, so a block needs no
 * header, and taking or giving one back is a few instructions. A run with a million tasks
 * allocates and frees millions of them, which glibc's malloc does at several times the
 * cost, with 8 to 16 bytes more each. Freed small blocks stay in their class for reuse;
 * the chunks go back to the system when the state is closed (alloc_close). Larger blocks
 * use malloc. Under AddressSanitizer every block uses malloc, so that ASan still sees the
 * Lua heap's misuse. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_POOLED 0
#else
#define ALLOC_POOLED ALLOC_SMALL
#endif

#define ALLOC_CHUNK (256 * 1024)
/* Past ALLOC_BIG_AFTER bytes of chunks, a chunk is ALLOC_BIG bytes mapped with MAP_POPULATE:
 * one system call fills it with pages, where touching them one by one takes a page fault
 * each. A million-task run spends about a third less in the kernel (W2: 0.15 -> 0.10 s).
 * Transparent huge pages were faster still on a machine with memory to spare, but on a VM
 * that reports freed 2 MiB blocks to its host (virtio_balloon), a huge page is such a block
 * and took up to 0.5 s more in the kernel. Small runs keep small, lazily touched chunks:
 * their RSS stays small. */
#define ALLOC_BIG (2 * 1024 * 1024)
#define ALLOC_BIG_AFTER (4 * ALLOC_BIG)

/* The head of a chunk; its blocks follow, ALLOC_GRAIN-aligned. */
struct alloc_chunk {
    struct alloc_chunk *next;
    size_t size;              /* ALLOC_CHUNK from malloc, or ALLOC_BIG from mmap */
    max_align_t align;
};

static size_t alloc_class(size_t size)
{
    return (size + ALLOC_GRAIN - 1) / ALLOC_GRAIN - 1;
}

static struct alloc_chunk *alloc_map_big(void)
{
    void *m = mmap(NULL, ALLOC_BIG, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    struct alloc_chunk *k = m;
    k->size = ALLOC_BIG;
    return k;
}

/* A heap that takes big chunks is growing fast (a burst of spawns, say): a helper thread
 * maps and populates the next chunk while the Lua thread fills the current one, so that
 * filling pages, a sixth of a million-task spawn, runs on another core. */
struct alloc_filler {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct alloc_chunk *ready; /* owned: the next big chunk, populated */
    bool stop;
};

static void *alloc_fill(void *arg)
{
    struct alloc_filler *f = arg;
    pthread_mutex_lock(&f->lock);
    while (!f->stop) {
        if (f->ready) {
            pthread_cond_wait(&f->wake, &f->lock);
            continue;
        }
        pthread_mutex_unlock(&f->lock);
        struct alloc_chunk *k = alloc_map_big();
        pthread_mutex_lock(&f->lock);
        if (!k)
            break; /* out of memory: the Lua thread maps in line, and meets the failure */
        f->ready = k;
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

static struct alloc_filler *alloc_filler_start(struct alloc *a)
{
    sigset_t all, saved;
    struct alloc_filler *f = calloc(1, sizeof *f);
    if (!f) {
        a->filler_failed = true;
        return NULL;
    }
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->wake, NULL);
    sigfillset(&all); /* signals are the loop thread's to take */
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    int err = pthread_create(&f->thread, NULL, alloc_fill, f);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (err) {
        pthread_cond_destroy(&f->wake);
        pthread_mutex_destroy(&f->lock);
        free(f);
        a->filler_failed = true;
        return NULL;
    }
    return a->filler = f;
}

static void alloc_filler_stop(struct alloc_filler *f)
{
    pthread_mutex_lock(&f->lock);
    f->stop = true;
    pthread_cond_signal(&f->wake);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    if (f->ready)
        munmap(f->ready, ALLOC_BIG);
    pthread_cond_destroy(&f->wake);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

/* The chunk the filler has ready, if any, and a request for the next one. */
static struct alloc_chunk *alloc_chunk_big(struct alloc *a)
{
    struct alloc_chunk *k = NULL;
    struct alloc_filler *f = a->filler;
    if (!f && !a->filler_failed)
        f = alloc_filler_start(a);
    if (f) {
        pthread_mutex_lock(&f->lock);
        k = f->ready;
        f->ready = NULL;
        pthread_cond_signal(&f->wake);
        pthread_mutex_unlock(&f->lock);
    }
    return k ? k : alloc_map_big();
}

static struct alloc_chunk *alloc_chunk_new(struct alloc *a)
{
    if (a->chunk_bytes >= ALLOC_BIG_AFTER) {
        struct alloc_chunk *k = alloc_chunk_big(a);
        if (k)
            return k;
    }
    struct alloc_chunk *k = malloc(ALLOC_CHUNK);
    if (k)
        k->size = ALLOC_CHUNK;
    return k;
}

static void *alloc_small(struct alloc *a, size_t size)
{
    size_t c = alloc_class(size), bytes = (c + 1) * ALLOC_GRAIN;
    void *p = a->free[c];
    if (p) {
        memcpy(&a->free[c], p, sizeof(void *));
        return p;
    }
    if ((size_t)(a->end - a->bump) < bytes) {
        struct alloc_chunk *k = alloc_chunk_new(a);
        if (!k)
            return NULL;
        k->next = a->chunks;
        a->chunks = k;
        a->chunk_bytes += k->size;
        a->bump = (char *)(k + 1);
        a->end = (char *)k + k->size; /* the rest of the old chunk is left unused */
    }
    p = a->bump;
    a->bump += bytes;
    return p;
}

static void alloc_free(struct alloc *a, void *p, size_t size)
{
    if (size > ALLOC_POOLED) {
        free(p);
        return;
    }
    size_t c = alloc_class(size);
    memcpy(p, &a->free[c], sizeof(void *));
    a->free[c] = p;
}

/* Block p of osize bytes resized to nsize (neither 0), its contents kept. */
static void *alloc_resize(struct alloc *a, void *p, size_t osize, size_t nsize)
{
    if (nsize > ALLOC_POOLED && osize > ALLOC_POOLED)
        return realloc(p, nsize);
    if (osize <= ALLOC_POOLED && nsize <= ALLOC_POOLED && alloc_class(osize) == alloc_class(nsize))
        return p;
    void *q = nsize > ALLOC_POOLED ? malloc(nsize) : alloc_small(a, nsize);
    if (!q)
        /* a shrink must not fail (Lua relies on it): the old block is big enough; if it came
         * from malloc and now counts as small, it ends up in a free list, never freed */
        return nsize <= osize ? p : NULL;
    memcpy(q, p, osize < nsize ? osize : nsize);
    alloc_free(a, p, osize);
    return q;
}

void *alloc_lua(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct alloc *a = ud;
    if (nsize == 0) { /* Lua frees NULL too, for vectors that were never allocated */
        if (ptr) {
            alloc_free(a, ptr, osize);
            a->used -= osize;
        }
        return NULL;
    }
    if (!ptr) { /* a new block; osize is a type tag */
        if (a->limit && a->used + nsize > a->limit)
            return NULL;
        void *p = nsize <= ALLOC_POOLED ? alloc_small(a, nsize) : malloc(nsize);
        if (p && (a->used += nsize) > a->peak)
            a->peak = a->used;
        return p;
    }
    if (a->limit && nsize > osize && a->used + (nsize - osize) > a->limit)
        return NULL;
    void *p = alloc_resize(a, ptr, osize, nsize);
    if (!p)
        return NULL;
    a->used = a->used - osize + nsize;
    if (a->used > a->peak)
        a->peak = a->used;
    return p;
}

void alloc_close(struct alloc *a)
{
    while (a->chunks) {
        struct alloc_chunk *k = a->chunks;
        a->chunks = k->next;
        if (k->size == ALLOC_BIG)
            munmap(k, ALLOC_BIG);
        else
            free(k);
    }
    if (a->filler)
        alloc_filler_stop(a->filler);
    a->filler = NULL;
    memset(a->free, 0, sizeof a->free);
    a->bump = a->end = NULL;
    a->chunk_bytes = 0;
}
