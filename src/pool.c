/*
 * A pool of persistent worker threads (pthreads) and a fork/join parallel-for.
 *
 * rope_pool_create(n) starts n − 1 workers; the calling thread is the n-th
 * participant of every job. A job is published by bumping a generation
 * counter. Workers spin on it for a short while after each job (so a run of
 * calls, one per layer or per token, wakes them in well under a microsecond),
 * then sleep on a condition variable. Every worker acknowledges every job
 * (also when its chunk is empty), so no worker can still be reading a job's
 * description when the next one is written.
 *
 * n_threads == 0 means one thread per online CPU.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield")
#else
#define cpu_relax() ((void)0)
#endif

enum { MAX_THREADS = 256 };
/* How long an idle worker spins before it sleeps, and how long the caller
 * spins waiting for the workers before it yields the CPU. */
static const int64_t SPIN_NS = 100000;

struct worker {
    pthread_t thread;
    struct rope_pool *pool;
    int index; /* 1 .. n_threads-1; the caller is 0 */
};

struct rope_pool {
    int n_threads;
    struct worker *workers;

    pthread_mutex_t busy; /* one job at a time; trylock, else run inline */

    /* the job, written by the caller before it bumps `gen` */
    rope_range_fn fn;
    void *ctx;
    int64_t n_items;
    int n_chunks;

    atomic_uint_fast64_t gen;
    atomic_int pending; /* workers yet to acknowledge the current job */
    atomic_int n_sleeping;
    atomic_int stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Chunk t of n items split in k nearly equal contiguous parts. */
static void chunk(int64_t n, int k, int t, int64_t *begin, int64_t *end) {
    int64_t base = n / k, rem = n % k;
    *begin = t * base + (t < rem ? t : rem);
    *end = *begin + base + (t < rem ? 1 : 0);
}

static void run_chunk(struct rope_pool *p, int t) {
    if (t >= p->n_chunks) return;
    int64_t b, e;
    chunk(p->n_items, p->n_chunks, t, &b, &e);
    if (b < e) p->fn(p->ctx, b, e);
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct rope_pool *p = w->pool;
    uint_fast64_t seen = 0;
    for (;;) {
        uint_fast64_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g == seen) {
            int64_t until = now_ns() + SPIN_NS;
            int spins = 0;
            while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
                   !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
                cpu_relax();
                if (++spins % 64 == 0 && now_ns() > until) break;
            }
            if (g == seen && !atomic_load(&p->stop)) {
                /* Sleep. n_sleeping is raised before gen is re-checked (both
                 * seq_cst), and the caller bumps gen before it reads
                 * n_sleeping, so one of the two always sees the other. */
                pthread_mutex_lock(&p->lock);
                atomic_fetch_add(&p->n_sleeping, 1);
                while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop))
                    pthread_cond_wait(&p->wake, &p->lock);
                atomic_fetch_sub(&p->n_sleeping, 1);
                pthread_mutex_unlock(&p->lock);
            }
        }
        if (atomic_load(&p->stop)) return NULL;
        if (g == seen) continue;
        seen = g;
        run_chunk(p, w->index);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
    }
}

rope_status rope_pool_create(int n_threads, rope_pool **out) {
    if (!out) return ROPE_E_NULL;
    if (n_threads < 0 || n_threads > MAX_THREADS) return ROPE_E_PARAM;
    if (n_threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
    }
    struct rope_pool *p = calloc(1, sizeof *p);
    if (!p) return ROPE_E_NOMEM;
    p->n_threads = n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->stop, 0);
    if (pthread_mutex_init(&p->busy, NULL) || pthread_mutex_init(&p->lock, NULL) ||
        pthread_cond_init(&p->wake, NULL)) {
        free(p);
        return ROPE_E_THREADS;
    }
    if (n_threads > 1) {
        p->workers = calloc((size_t)n_threads, sizeof *p->workers);
        if (!p->workers) {
            rope_pool_free(p);
            return ROPE_E_NOMEM;
        }
        for (int i = 1; i < n_threads; i++) {
            p->workers[i].pool = p;
            p->workers[i].index = i;
            if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i])) {
                p->n_threads = i; /* free joins the ones that started */
                rope_pool_free(p);
                return ROPE_E_THREADS;
            }
        }
    }
    *out = p;
    return ROPE_OK;
}

void rope_pool_free(rope_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->n_threads && p->workers; i++) pthread_join(p->workers[i].thread, NULL);
    free(p->workers);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->busy);
    free(p);
}

int rope_pool_size(const rope_pool *p) { return p ? p->n_threads : 1; }

rope_status rope_parallel_for(rope_pool *p, int64_t n_items, int64_t min_items_per_thread,
                              rope_range_fn fn, void *ctx) {
    if (!fn) return ROPE_E_NULL;
    if (n_items <= 0) return ROPE_OK;
    if (min_items_per_thread < 1) min_items_per_thread = 1;
    int64_t want = n_items / min_items_per_thread;
    if (!p || p->n_threads <= 1 || want <= 1 || pthread_mutex_trylock(&p->busy) != 0) {
        fn(ctx, 0, n_items);
        return ROPE_OK;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_items = n_items;
    p->n_chunks = want < p->n_threads ? (int)want : p->n_threads;
    atomic_store_explicit(&p->pending, p->n_threads - 1, memory_order_relaxed);
    atomic_fetch_add(&p->gen, 1); /* seq_cst: publishes the job */
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
    run_chunk(p, 0);
    int64_t until = now_ns() + SPIN_NS;
    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        cpu_relax();
        if (++spins % 64 == 0 && now_ns() > until) sched_yield();
    }
    pthread_mutex_unlock(&p->busy);
    return ROPE_OK;
}
