/*
 * Shared by the C API harnesses (fuzz_api.c, fuzz_api_ext.c): the input
 * reader with edge-biased picks, and arrays sized from exact (128-bit)
 * extents: exact when small, tiny when impossible (the call must fail).
 */
#ifndef ROPE_FUZZ_API_COMMON_H
#define ROPE_FUZZ_API_COMMON_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rope.h"

__extension__ typedef __int128 i128; /* exact extents: no int64 product can overflow it */

typedef struct rd {
    const uint8_t *p;
    size_t n, i;
} rd;

static inline uint8_t byte(rd *r) { return r->i < r->n ? r->p[r->i++] : 0; }

static inline int64_t pick(rd *r) {
    static const int64_t edge[] = {INT64_MAX, INT64_MIN, -1, 0, 1, 2, (int64_t)1 << 31,
                                   ((int64_t)1 << 32) + 1, (int64_t)1 << 53, ((int64_t)1 << 53) + 1,
                                   (int64_t)1 << 56, (int64_t)1 << 61, (int64_t)1 << 62, INT64_MAX / 2,
                                   INT64_MAX / 8 + 1, INT64_MAX - 1, -((int64_t)1 << 62), 1024, 4096,
                                   65536};
    uint8_t b = byte(r);
    if (b < 200) return (int64_t)(b % 40) - 4;
    if (b < 200 + sizeof edge / sizeof edge[0]) return edge[b - 200];
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v |= (uint64_t)byte(r) << (8 * k);
    return (int64_t)v;
}

static inline float pick_float(rd *r) {
    static const float vals[] = {1.0f, 0.5f, 2.0f, 0.0f, -1.0f, NAN, INFINITY, -INFINITY, 1e-30f, 1e30f};
    return vals[byte(r) % (sizeof vals / sizeof vals[0])];
}

#define SMALL ((i128)1 << 16)
#define IMPOSSIBLE ((i128)1 << 56)
enum { FIT, SKIP, HUGE };

/* Byte range of a view: lo (<= 0) and hi (> 0) relative to data, or HUGE/SKIP. */
static inline int view_range(const int64_t *shape, const int64_t *stride, size_t es, i128 *lo, i128 *hi) {
    i128 l = 0, h = 0;
    *lo = 0, *hi = (i128)es;
    for (int d = 0; d < 4; d++) {
        if (shape[d] <= 0) { /* empty, or refused on its own: a real one-element buffer */
            *lo = 0, *hi = (i128)es;
            return FIT;
        }
    }
    for (int d = 0; d < 4; d++) {
        i128 span = (i128)(shape[d] - 1) * stride[d]; /* |span| < 2^126 */
        if (span > IMPOSSIBLE || span < -IMPOSSIBLE) return HUGE; /* the extent is at least |span| */
        if (span < 0) l += span;
        else h += span;
    }
    l *= (i128)es;
    h = (h + 1) * (i128)es;
    *lo = l, *hi = h;
    if (h - l > IMPOSSIBLE) return HUGE;
    return h - l > SMALL ? SKIP : FIT;
}

typedef struct arr {
    unsigned char *mem;  /* allocation */
    size_t bytes;
    void *data;          /* the pointer the call sees */
    unsigned char *snap; /* copy before the call */
} arr;

static inline void arr_make(arr *a, i128 lo, i128 hi, int huge, rd *r) {
    a->bytes = huge ? 64 : (size_t)(hi - lo);
    a->mem = malloc(a->bytes ? a->bytes : 1);
    if (!a->mem) abort();
    for (size_t i = 0; i < a->bytes; i++) a->mem[i] = (unsigned char)(byte(r) & 0x3F); /* small, finite */
    a->data = huge ? a->mem : a->mem + (size_t)(-lo);
    a->snap = malloc(a->bytes ? a->bytes : 1);
    if (!a->snap) abort();
    memcpy(a->snap, a->mem, a->bytes);
}

static inline int arr_same(const arr *a) { return memcmp(a->mem, a->snap, a->bytes) == 0; }
static inline void arr_free(arr *a) { free(a->mem), free(a->snap); }

/* An int64 array of count entries (positions, ids, cu_seqlens). */
static inline int ids_make(arr *a, i128 count, rd *r, int monotone) {
    if (count > IMPOSSIBLE / 8) {
        arr_make(a, 0, 64, 1, r);
        free(a->snap); /* callers free only mem */
        a->snap = NULL;
        return HUGE;
    }
    if (count > 4096) return SKIP;
    a->bytes = (size_t)(count > 0 ? count : 0) * 8;
    a->mem = malloc(a->bytes ? a->bytes : 1);
    a->snap = NULL;
    if (!a->mem) abort();
    int64_t *v = (int64_t *)(void *)a->mem, acc = 0;
    for (size_t i = 0; i < a->bytes / 8; i++) {
        int64_t x = pick(r);
        v[i] = monotone ? (acc += (x < 0 ? 0 : x % 8)) : x;
    }
    if (monotone && a->bytes) v[0] = 0;
    a->data = a->mem;
    return FIT;
}

#endif
