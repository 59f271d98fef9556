/*
 * The pool's behaviour between jobs (issue 13: a 1 MiB decode batch ran no
 * faster on 2 threads than on 1 on a loaded 2-vCPU machine):
 *   1. a run of small jobs after the workers fell asleep: the first runs on
 *      the caller alone, the next ones wake the workers, which then join;
 *      before, a pool whose workers slept never split such jobs again;
 *   2. (Linux, 2+ CPUs) a worker on the caller's CPU steps off it after a
 *      job, so the two do not take turns on one CPU; the caller pins itself
 *      to the worker's CPU to stage that;
 *   3. (Linux) a process confined to one CPU: a 2-thread pool still gives
 *      rope_apply's exact bits and returns (the worker has nowhere to go).
 * Scheduling is not deterministic, so 1 and 2 wait for an event for up to a
 * few seconds and check the majority, not every job; the results of every
 * job are checked exactly.
 */
#if defined(__linux__)
#define _GNU_SOURCE
#include <sched.h>
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "rope.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cpu_now(void) {
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
}

/* Items of a job: each spins ~20 µs, counts who ran it and where. */
typedef struct track {
    pthread_t caller;
    int items_worker; /* items run by a worker in this job */
    int worker_cpu;   /* CPU of the last such item */
    int items_total;
} track;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void items(void *ctx, int64_t begin, int64_t end) {
    track *t = ctx;
    int mine = pthread_equal(pthread_self(), t->caller), cpu = cpu_now();
    double until = now_s() + 20e-6 * (double)(end - begin);
    while (now_s() < until) {
    }
    pthread_mutex_lock(&g_lock);
    t->items_total += (int)(end - begin);
    if (!mine) {
        t->items_worker += (int)(end - begin);
        t->worker_cpu = cpu;
    }
    pthread_mutex_unlock(&g_lock);
}

static track run_job(rope_pool *pool, int64_t n) {
    track t = {pthread_self(), 0, -1, 0};
    CHECK_OK(rope_pool_run(pool, n, 1, items, &t));
    CHECK_EQ_INT(t.items_total, n);
    return t;
}

/* 1: two items (worth 2 threads, under the 2·threads a sleeping pool wants). */
static void small_jobs_wake_sleeping_workers(rope_pool *pool) {
    struct timespec nap = {0, 50 * 1000 * 1000};
    nanosleep(&nap, NULL); /* the workers spin ~100 µs of CPU, then sleep */
    int joined = 0, jobs = 0;
    for (double end = now_s() + 5; !joined && now_s() < end; jobs++)
        joined = run_job(pool, 2).items_worker > 0;
    CHECK_MSG(joined, "no worker joined %d back-to-back 2-item jobs after it slept", jobs);
    printf("  small jobs after a sleep: a worker joined at job %d\n", jobs);
}

#if defined(__linux__)
/* 2: the caller moves onto the worker's CPU; the worker should not stay. */
static void worker_leaves_callers_cpu(rope_pool *pool) {
    cpu_set_t all, one;
    if (sched_getaffinity(0, sizeof all, &all) || CPU_COUNT(&all) < 2) {
        printf("  leave the caller's CPU: skipped (fewer than 2 CPUs allowed)\n");
        return;
    }
    int w = -1;
    for (double end = now_s() + 5; w < 0 && now_s() < end;) w = run_job(pool, 8).worker_cpu;
    CHECK_MSG(w >= 0, "no worker ran an item in 5 s");
    if (w < 0) return;
    CPU_ZERO(&one);
    CPU_SET(w, &one);
    if (sched_setaffinity(0, sizeof one, &one)) { /* a sandbox may forbid it */
        printf("  leave the caller's CPU: skipped (cannot pin the caller)\n");
        return;
    }
    int on_w = 0, elsewhere = 0;
    for (double end = now_s() + 5; on_w + elsewhere < 200 && now_s() < end;) {
        track t = run_job(pool, 8);
        if (t.items_worker) *(t.worker_cpu == w ? &on_w : &elsewhere) += 1;
    }
    CHECK(sched_setaffinity(0, sizeof all, &all) == 0);
    CHECK_MSG(elsewhere > 0 && on_w < elsewhere,
              "worker jobs on the caller's CPU %d: %d, on another CPU: %d", w, on_w, elsewhere);
    printf("  caller pinned to the worker's CPU %d: worker jobs there %d, elsewhere %d\n", w, on_w,
           elsewhere);
}

/* 3: everything on one CPU; results exact, calls return. */
static void confined_to_one_cpu(void) {
    enum { SEQ = 64, HEADS = 32, D = 128, N = SEQ * HEADS * D };
    cpu_set_t all, one;
    if (sched_getaffinity(0, sizeof all, &all)) return;
    int c0 = -1;
    for (int c = 0; c < CPU_SETSIZE && c0 < 0; c++)
        if (CPU_ISSET(c, &all)) c0 = c;
    CPU_ZERO(&one);
    CPU_SET(c0, &one);
    if (c0 < 0 || sched_setaffinity(0, sizeof one, &one)) {
        printf("  confined to one CPU: skipped (cannot pin the caller)\n");
        return;
    }
    rope_pool *pool = NULL; /* created now: its worker inherits the one CPU */
    CHECK_OK(rope_pool_create(2, &pool));
    rope_config cfg;
    rope_config_init(&cfg);
    cfg.head_dim = D;
    rope_freqs f;
    rope_table *table = NULL;
    CHECK_OK(rope_freqs_compute(&cfg, 0, &f));
    CHECK_OK(rope_table_create(&f, 1024, ROPE_PRECISION_ACCURATE, &table));
    float *in = malloc(sizeof(float) * N), *ref = malloc(sizeof(float) * N),
          *out = malloc(sizeof(float) * N);
    if (pool && table && in && ref && out) {
        uint64_t s = 11;
        for (int i = 0; i < N; i++) in[i] = (float)(check_rand64(&s) >> 40) / 16777216.0f - 0.5f;
        rope_apply_params p;
        rope_apply_params_init(&p);
        p.style = ROPE_STYLE_INTERLEAVED;
        p.table = table;
        p.rotary_dim = D;
        rope_tensor ti, tr, to;
        rope_tensor_contiguous(&ti, in, ROPE_F32, 1, SEQ, HEADS, D);
        rope_tensor_contiguous(&tr, ref, ROPE_F32, 1, SEQ, HEADS, D);
        rope_tensor_contiguous(&to, out, ROPE_F32, 1, SEQ, HEADS, D);
        rope_positions pos = {0};
        pos.offset = 77;
        CHECK_OK(rope_apply(&p, &pos, &ti, &tr)); /* no pool */
        p.pool = pool;
        int differ = 0;
        for (int r = 0; r < 300; r++) {
            memset(out, 0, sizeof(float) * N);
            CHECK_OK(rope_apply(&p, &pos, &ti, &to));
            differ += memcmp(out, ref, sizeof(float) * N) != 0;
        }
        CHECK_MSG(differ == 0, "%d of 300 calls differ from the 1-thread bits", differ);
        printf("  confined to CPU %d: 300 calls on a 2-thread pool, bits as 1 thread\n", c0);
    }
    free(in), free(ref), free(out);
    rope_table_free(table);
    rope_pool_free(pool);
    CHECK(sched_setaffinity(0, sizeof all, &all) == 0);
}
#endif

int main(void) {
    rope_pool *pool = NULL;
    CHECK_OK(rope_pool_create(2, &pool));
    if (!pool) return check_report("test_pool_wake");
    small_jobs_wake_sleeping_workers(pool);
#if defined(__linux__)
    worker_leaves_callers_cpu(pool);
    confined_to_one_cpu();
#endif
    rope_pool_free(pool);
    return check_report("test_pool_wake");
}
