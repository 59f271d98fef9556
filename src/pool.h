/* Internal: the parallel-for that apply.c and attention.c split work with. */
#ifndef ROPE_POOL_INTERNAL_H
#define ROPE_POOL_INTERNAL_H

#include "rope.h"

/* rope_range_fn: in rope.h (rope_pool_run is the public face of this). */

/*
 * Run fn over [0, n_items) in contiguous chunks, one per thread, the calling
 * thread taking the first. Uses at most n_items / min_items_per_thread
 * threads, so small work runs inline on the caller with no wake-up at all;
 * also inline when p is NULL, has one thread, or is busy with another call
 * (concurrent or nested use of one pool is safe, just not parallel).
 * fn must compute each item independently of the split: then the result is
 * bit-identical whatever the thread count. Returns when every chunk is done.
 */
/*
 * Cache sizes of this machine in bytes, read once at run time (thread-safe):
 * the per-core L2 and the last-level cache. Sources, first that answers:
 * sysfs (/sys/devices/system/cpu/cpu0/cache/index*), then sysconf
 * (_SC_LEVEL2_CACHE_SIZE / _SC_LEVEL3_CACHE_SIZE), then safe defaults
 * (L2 512 KiB, LLC 8 MiB). sysfs comes first because glibc's sysconf can be
 * far off inside a VM (a 2-vCPU guest of a 32 MiB L3 reports 320 MiB).
 */
void rope_cache_sizes(int64_t *l2_bytes, int64_t *llc_bytes);

/*
 * Bytes (read + written) each thread must get before work is split: a quarter
 * of the L2, within [64 KiB, 512 KiB]. Below that, waking a worker and moving
 * cache lines between cores costs more than the second core saves; with a
 * 1 MiB L2 a 1 MiB decode batch is split over 2 threads (and a 4-core split
 * needs 1 MiB). apply.c and the copy baseline of `rope bench` use this rule.
 */
int64_t rope_split_min_bytes(void);

rope_status rope_parallel_for(rope_pool *p, int64_t n_items, int64_t min_items_per_thread,
                              rope_range_fn fn, void *ctx);

#endif
