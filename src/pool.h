/* Internal: the parallel-for that apply.c and attention.c split work with. */
#ifndef ROPE_POOL_INTERNAL_H
#define ROPE_POOL_INTERNAL_H

#include "rope.h"

typedef void (*rope_range_fn)(void *ctx, int64_t begin, int64_t end);

/*
 * Run fn over [0, n_items) in contiguous chunks, one per thread, the calling
 * thread taking the first. Uses at most n_items / min_items_per_thread
 * threads, so small work runs inline on the caller with no wake-up at all;
 * also inline when p is NULL, has one thread, or is busy with another call
 * (concurrent or nested use of one pool is safe, just not parallel).
 * fn must compute each item independently of the split: then the result is
 * bit-identical whatever the thread count. Returns when every chunk is done.
 */
rope_status rope_parallel_for(rope_pool *p, int64_t n_items, int64_t min_items_per_thread,
                              rope_range_fn fn, void *ctx);

#endif
