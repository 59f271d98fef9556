/*
 * A pool of persistent worker threads (pthreads) and a fork/join parallel-for.
 *
 * rope_pool_create(n) starts n − 1 workers; the calling thread is the n-th
 * participant of every job. A job is [0, n_items) cut into P·4 contiguous
 * chunks, P = the number of threads it is worth using. Participant t first
 * claims its own four chunks (t·4 .. t·4+3, from its own atomic counter), so
 * in a steady loop each thread touches the same data every call (its cache
 * stays warm), then steals unclaimed chunks of the others. The caller never
 * waits for a worker that is slow to wake (a futex wake-up costs tens of
 * microseconds): it simply takes that worker's chunks itself. Each item is
 * computed the same way whoever runs it, so results are bit-identical
 * whatever the thread count.
 *
 * Publishing: the caller writes the job, then bumps `gen`. Workers spin on
 * `gen` for a short while after each job (so a run of calls, one per layer or
 * per token, finds them awake), then sleep on a condition variable.
 * On a machine where other processes keep every CPU busy, two things kept a
 * 1 MiB decode batch from running any faster on 2 threads than on 1 (issue
 * 13; measured on a 2-vCPU VM with a background job on each CPU): a worker
 * that was preempted while spinning fell asleep (its spin was bounded in
 * wall time), and the kernel woke it up on the caller's own CPU, where the
 * two only took turns. So the spin is bounded in the worker's own CPU time
 * (spin_for_job), and a worker that finds itself on the caller's CPU after
 * a job steps off it (leave_callers_cpu).
 * Retiring: a worker registers (refs++) and only then checks that the job it
 * saw is still open (job_gen == gen it read); the caller, once every chunk is
 * done, closes the job (job_gen = 0) and waits for refs to drop to 0. With
 * sequentially consistent atomics, a worker either is counted in refs before
 * the close, or sees the job closed and touches nothing; so no worker reads a
 * job's description after the call returns.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* sched_getcpu, sched_setaffinity: see leave_callers_cpu() */
#else
#define _POSIX_C_SOURCE 200809L
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

enum { MAX_THREADS = 256, CHUNKS_PER_THREAD = 4, COLD_WAKE_FACTOR = 2, LEAVE_RETRY_JOBS = 4096 };
/* How long an idle worker spins before it sleeps (its own time on a CPU,
 * see spin_for_job), and how long the caller spins waiting for stragglers
 * before it yields the CPU. */
static const int64_t SPIN_NS = 100000;
/* A longer gap between two clock reads of a spin loop (64 pauses, a few µs at
 * most) means the thread was descheduled meanwhile. */
static const int64_t PREEMPTED_NS = 20000;
/* Calls to a pool closer together than this are a stream (see rope_parallel_for). */
static const int64_t STREAM_NS = 1000000;

struct worker {
    pthread_t thread;
    struct rope_pool *pool;
    int index; /* 1 .. n_threads-1; the caller is 0 */
};

/* Per-participant claim counter, one cache line each (no false sharing). */
struct slot {
    atomic_int_fast64_t next;
    char pad[64 - sizeof(atomic_int_fast64_t)];
};

/* Fields grouped by who writes them, one cache line per group: a job costs a
 * few line transfers between the caller's core and each worker's, each about
 * 0.1 µs on the machine the issue was measured on, against a 1 MiB decode
 * batch of ~8 µs per thread. */
struct rope_pool {
    int n_threads;
    struct worker *workers;
    struct slot *slots; /* n_threads, claim counters of each participant's chunks */
    pthread_mutex_t busy; /* one job at a time; trylock, else run inline */

    /* the job, written by the caller before it bumps `gen`; read by workers */
    _Alignas(64) rope_range_fn fn;
    void *ctx;
    int64_t n_items;
    int n_parts;     /* participants planned: chunks = n_parts · CHUNKS_PER_THREAD */
    atomic_int caller_cpu;          /* CPU the caller published the job from, -1 unknown */
    atomic_uint_fast64_t job_gen;   /* gen of the open job, 0 when closed */
    atomic_uint_fast64_t gen;
    atomic_int stop;

    /* written by the participants as they finish, read by the caller */
    _Alignas(64) atomic_int_fast64_t done_chunks;
    atomic_int refs;                /* workers inside the open job */

    _Alignas(64) atomic_int n_sleeping;
    atomic_int_fast64_t last_call_ns; /* when the last job worth splitting came */
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Chunk c of K covers [c·n/K, (c+1)·n/K), nearly equal contiguous parts. */
static void run_chunk(struct rope_pool *p, int64_t c) {
    const int64_t k = (int64_t)p->n_parts * CHUNKS_PER_THREAD;
    const int64_t base = p->n_items / k, rem = p->n_items % k;
    int64_t begin = c * base + (c < rem ? c : rem);
    int64_t end = begin + base + (c < rem ? 1 : 0);
    if (begin < end) p->fn(p->ctx, begin, end);
}

/* Participant t: its own chunks first, then whatever the others left; the
 * chunks it ran are counted once at the end (one line transfer, not one per
 * chunk). */
static void run_chunks(struct rope_pool *p, int t) {
    const int parts = p->n_parts;
    int64_t done = 0;
    for (int i = 0; i < parts; i++) {
        int o = (t + i) % parts;
        for (;;) {
            int64_t c = atomic_fetch_add(&p->slots[o].next, 1);
            if (c >= CHUNKS_PER_THREAD) break;
            run_chunk(p, (int64_t)o * CHUNKS_PER_THREAD + c);
            done++;
        }
    }
    if (done) atomic_fetch_add(&p->done_chunks, done);
}

/* Spin until gen moves past `seen` (or stop), for at most SPIN_NS of this
 * thread's own time on a CPU. A gap longer than PREEMPTED_NS between two
 * clock reads means the thread was descheduled meanwhile (another process
 * had the CPU): that gap is not spinning and does not count. Counting it
 * (wall time) let a worker that was preempted fall asleep while calls kept
 * coming, and the futex wake-up that followed let the kernel place it on the
 * caller's own CPU (wake-affine placement when no CPU is idle), where it
 * could only take turns with the caller: on a loaded 2-vCPU machine the
 * 1 MiB decode batch then ran no faster with 2 threads than with 1. */
static uint_fast64_t spin_for_job(struct rope_pool *p, uint_fast64_t seen) {
    int64_t last = now_ns(), spent = 0;
    int spins = 0;
    uint_fast64_t g;
    while ((g = atomic_load(&p->gen)) == seen &&
           !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
        cpu_relax();
        if (++spins % 64) continue;
        int64_t t = now_ns();
        if (t - last < PREEMPTED_NS) spent += t - last;
        last = t;
        if (spent > SPIN_NS) break;
    }
    return g;
}

static int current_cpu(void) {
#if defined(__linux__)
    return sched_getcpu(); /* glibc ≥ 2.35: a read of the rseq area, no system call */
#else
    return -1;
#endif
}

/* A worker found on the CPU of the caller it serves: the two can only take
 * turns there. This happens on a machine with no idle CPU, where the kernel
 * places a woken thread beside its waker. Step off: for an instant allow
 * every CPU this thread may use except that one (the kernel moves the thread
 * at once), then restore the mask, so nothing stays pinned. 0 when there is
 * no other CPU to go to (a process confined to one CPU) or it failed. */
static int leave_callers_cpu(int cpu) {
#if defined(__linux__)
    cpu_set_t allowed, others;
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof allowed, &allowed)) return 0;
    others = allowed;
    CPU_CLR(cpu, &others);
    if (CPU_COUNT(&others) == 0 || sched_setaffinity(0, sizeof others, &others)) return 0;
    sched_setaffinity(0, sizeof allowed, &allowed);
    return 1;
#else
    (void)cpu;
    return 0;
#endif
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct rope_pool *p = w->pool;
    uint_fast64_t seen = 0, next_leave = 0; /* first job after which it may step off again */
    for (;;) {
        uint_fast64_t g = atomic_load(&p->gen);
        if (g == seen) {
            g = spin_for_job(p, seen);
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
        atomic_fetch_add(&p->refs, 1);
        if (atomic_load(&p->job_gen) == g) run_chunks(p, w->index); /* still open: join in */
        atomic_fetch_sub(&p->refs, 1);
        /* off the caller's CPU, outside the job (the caller is not waiting);
         * where that is impossible, the next try only after many jobs */
        int cpu = current_cpu();
        if (g >= next_leave && cpu >= 0 &&
            cpu == atomic_load_explicit(&p->caller_cpu, memory_order_relaxed) &&
            !leave_callers_cpu(cpu))
            next_leave = g + LEAVE_RETRY_JOBS;
    }
}

rope_status rope_pool_create(int n_threads, rope_pool **out) {
    if (!out) return ROPE_E_NULL;
    if (n_threads < 0 || n_threads > MAX_THREADS) return ROPE_E_PARAM;
    if (n_threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
    }
    /* aligned as its cache-line groups ask (calloc promises only 16 bytes) */
    size_t size = (sizeof(struct rope_pool) + 63) / 64 * 64;
    struct rope_pool *p = aligned_alloc(64, size);
    if (!p) return ROPE_E_NOMEM;
    memset(p, 0, size);
    p->n_threads = n_threads;
    atomic_init(&p->done_chunks, 0);
    atomic_init(&p->job_gen, 0);
    atomic_init(&p->refs, 0);
    atomic_init(&p->gen, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->caller_cpu, -1);
    atomic_init(&p->last_call_ns, 0);
    atomic_init(&p->stop, 0);
    if (pthread_mutex_init(&p->busy, NULL)) {
        free(p);
        return ROPE_E_THREADS;
    }
    if (pthread_mutex_init(&p->lock, NULL)) {
        pthread_mutex_destroy(&p->busy);
        free(p);
        return ROPE_E_THREADS;
    }
    if (pthread_cond_init(&p->wake, NULL)) {
        pthread_mutex_destroy(&p->lock);
        pthread_mutex_destroy(&p->busy);
        free(p);
        return ROPE_E_THREADS;
    }
    if (n_threads > 1) {
        p->workers = calloc((size_t)n_threads, sizeof *p->workers);
        p->slots = calloc((size_t)n_threads, sizeof *p->slots);
        if (!p->workers || !p->slots) {
            p->n_threads = 1;
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
    free(p->slots);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->busy);
    free(p);
}

int rope_pool_size(const rope_pool *p) { return p ? p->n_threads : 1; }

static void wait_until(atomic_int_fast64_t *v, int64_t target) {
    int64_t until = now_ns() + SPIN_NS;
    int spins = 0;
    while (atomic_load(v) < target) {
        cpu_relax();
        if (++spins % 64 == 0 && now_ns() > until) sched_yield();
    }
}

rope_status rope_parallel_for(rope_pool *p, int64_t n_items, int64_t min_items_per_thread,
                              rope_range_fn fn, void *ctx) {
    if (!fn) return ROPE_E_NULL;
    if (n_items <= 0) return ROPE_OK;
    if (min_items_per_thread < 1) min_items_per_thread = 1;
    int64_t k = n_items / min_items_per_thread;
    if (!p || p->n_threads <= 1 || k <= 1) {
        fn(ctx, 0, n_items);
        return ROPE_OK;
    }
    /* Workers all asleep: a futex wake-up costs ~10-30 µs before a worker
     * runs, so a lone small job runs inline. But a small job that follows
     * another within STREAM_NS is one of a run of calls (a decode loop, a
     * benchmark): waking the workers then pays off over the next calls,
     * which find them spinning; without this a pool whose workers had once
     * fallen asleep would never split such jobs again. */
    int64_t t = now_ns(), last = atomic_exchange_explicit(&p->last_call_ns, t, memory_order_relaxed);
    int cold = atomic_load(&p->n_sleeping) == p->n_threads - 1;
    if ((cold && k < COLD_WAKE_FACTOR * p->n_threads && t - last > STREAM_NS) ||
        pthread_mutex_trylock(&p->busy) != 0) {
        fn(ctx, 0, n_items);
        return ROPE_OK;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_items = n_items;
    p->n_parts = k < p->n_threads ? (int)k : p->n_threads;
    for (int i = 0; i < p->n_parts; i++) atomic_store(&p->slots[i].next, 0);
    atomic_store(&p->done_chunks, 0);
    atomic_store_explicit(&p->caller_cpu, current_cpu(), memory_order_relaxed);
    uint_fast64_t g = atomic_load(&p->gen) + 1;
    atomic_store(&p->job_gen, g);
    atomic_store(&p->gen, g); /* publishes the job */
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
    run_chunks(p, 0);
    /* chunks a worker is still running */
    wait_until(&p->done_chunks, (int64_t)p->n_parts * CHUNKS_PER_THREAD);
    atomic_store(&p->job_gen, 0);             /* close: late workers touch nothing */
    int spins = 0;
    while (atomic_load(&p->refs) > 0)
        if (++spins % 64 == 0) sched_yield();
        else cpu_relax();
    pthread_mutex_unlock(&p->busy);
    return ROPE_OK;
}

/* ------------------------------------------------------------ cache sizes */

enum { DEFAULT_L2 = 512 * 1024, DEFAULT_LLC = 8 * 1024 * 1024 };

static int64_t cache_l2 = DEFAULT_L2, cache_llc = DEFAULT_LLC;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

/* One line of a small sysfs file; 0 when absent. */
static int read_line(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(buf, (int)n, f) != NULL;
    fclose(f);
    if (ok) buf[strcspn(buf, "\n")] = 0;
    return ok;
}

/* "32768K", "1M", "512" -> bytes; 0 when unreadable. */
static int64_t parse_size(const char *s) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0) return 0;
    if (*end == 'K') v *= 1024;
    else if (*end == 'M') v *= 1024 * 1024;
    else if (*end == 'G') v *= 1024LL * 1024 * 1024;
    return (int64_t)v;
}

/* cpu0's data/unified caches from sysfs: L2 and the largest level. */
static void cache_from_sysfs(int64_t *l2, int64_t *llc) {
    int best_level = 0;
    for (int i = 0; i < 16; i++) {
        char path[128], buf[64];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (!read_line(path, buf, sizeof buf)) break;
        if (!strcmp(buf, "Instruction")) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if (!read_line(path, buf, sizeof buf)) continue;
        int level = atoi(buf);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!read_line(path, buf, sizeof buf)) continue;
        int64_t size = parse_size(buf);
        if (!size) continue;
        if (level == 2) *l2 = size;
        if (level >= best_level) {
            best_level = level;
            *llc = size;
        }
    }
}

static void cache_detect(void) {
    int64_t l2 = 0, llc = 0;
    cache_from_sysfs(&l2, &llc);
#if defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
    if (!l2) l2 = sysconf(_SC_LEVEL2_CACHE_SIZE) > 0 ? sysconf(_SC_LEVEL2_CACHE_SIZE) : 0;
    if (!llc) llc = sysconf(_SC_LEVEL3_CACHE_SIZE) > 0 ? sysconf(_SC_LEVEL3_CACHE_SIZE) : l2;
#endif
    if (l2 > 0) cache_l2 = l2;
    if (llc > 0) cache_llc = llc;
    if (cache_llc < cache_l2) cache_llc = cache_l2;
}

void rope_cache_sizes(int64_t *l2_bytes, int64_t *llc_bytes) {
    pthread_once(&cache_once, cache_detect);
    if (l2_bytes) *l2_bytes = cache_l2;
    if (llc_bytes) *llc_bytes = cache_llc;
}

int64_t rope_split_min_bytes(void) {
    int64_t l2;
    rope_cache_sizes(&l2, NULL);
    int64_t m = l2 / 4;
    return m < 64 * 1024 ? 64 * 1024 : m > 512 * 1024 ? 512 * 1024 : m;
}

rope_status rope_pool_run(rope_pool *p, int64_t n_items, int64_t min_items_per_thread,
                          rope_range_fn fn, void *ctx) {
    if (!fn) return ROPE_E_NULL;
    /* a negative count is a caller's bug, not "nothing to do" (rope.h) */
    if (n_items < 0 || min_items_per_thread < 0) return ROPE_E_PARAM;
    return rope_parallel_for(p, n_items, min_items_per_thread, fn, ctx);
}
