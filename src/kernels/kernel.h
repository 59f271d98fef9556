/*
 * The one kernel signature. Every ISA file (scalar.c, avx2.c, avx512.c,
 * neon.c) fills a rope_kernels table with functions of these types; dispatch.c
 * picks one table once, from cpuid (or ROPE_ISA).
 *
 * Kernels see only contiguous head vectors (element stride 1); apply.c checks
 * shapes, positions and overlap, splits the work, and sends any other layout to
 * its own strided scalar path.
 */
#ifndef ROPE_KERNEL_H
#define ROPE_KERNEL_H

#include <math.h>
#include <string.h>

#include "rope.h"

/* n_heads head vectors that share one position, hence one cos/sin row. */
typedef struct rope_row_args {
    const void *in;
    void *out;                  /* may equal in (in place), never partially overlap */
    int64_t n_heads;
    int64_t in_head_stride;     /* elements between consecutive heads */
    int64_t out_head_stride;
    int64_t head_dim;           /* D; dims [R, D) are copied when out != in */
    int64_t rotary_dim;         /* R, even */
    const float *cos;           /* R/2 entries, no attention factor */
    const float *sin;
    float scale;                /* attention factor, multiplies the rotated dims */
    int inverse;                /* 1: rotate by -angle */
    int stream;                 /* 1: the call is part of a large job whose output will
                                 * not be read again soon (apply.c sets it above a size
                                 * threshold): the SIMD kernels may prefetch ahead and
                                 * use non-temporal stores (then fence before
                                 * returning); results are the same bits either way */
} rope_row_args;

typedef void (*rope_row_fn)(const rope_row_args *a);

/* Fill cos/sin[0..n) for angles pos·inv_freq[i], reduced in float64 (accurate mode). */
typedef void (*rope_sincos_fn)(const double *inv_freq, int64_t n, double pos, float *cos_out,
                               float *sin_out);

/* The table build's two steps (kernels/sincos.h, rope_sc_sum; src/table.c):
 * sincos_d: cos/sin of pos·inv_freq[i] in double before the final rounding (the
 *   anchors), for |pos·θᵢ| < ROPE_SC_LIMIT only (the caller checks);
 * sincos_sum: rows b = 0 .. rows−1 of positions pos + b (row b at cos_out + b·n),
 *   from the anchors of pos (ca, sa: n doubles) and of b (cb, sb: row b at b·n) by
 *   the addition formula, entries the rounding test cannot decide redone by
 *   rope_scalar_sincos(inv_freq + i, 1, pos + b): the same bits as
 *   sincos(inv_freq, n, pos + b) in every kernel set. */
typedef void (*rope_sincos_d_fn)(const double *inv_freq, int64_t n, double pos, double *cos_out,
                                 double *sin_out);
typedef void (*rope_sincos_sum_fn)(const double *ca, const double *sa, const double *cb,
                                   const double *sb, const double *inv_freq, int64_t n,
                                   int64_t rows, double pos, float *cos_out, float *sin_out);

/* DEINTERLEAVE: ROPE_STYLE_DEINTERLEAVE (pairs (2i, 2i+1) in, (i, i+R/2) out; the inverse
 * the other way round). */
enum {
    ROPE_KSTYLE_INTERLEAVED = 0,
    ROPE_KSTYLE_HALF = 1,
    ROPE_KSTYLE_DEINTERLEAVE = 2,
    ROPE_KSTYLE_COUNT = 3
};
enum { ROPE_KDTYPE_F32 = 0, ROPE_KDTYPE_F16 = 1, ROPE_KDTYPE_BF16 = 2, ROPE_KDTYPE_COUNT = 3 };

typedef struct rope_kernels {
    const char *name;
    rope_row_fn row[ROPE_KSTYLE_COUNT][ROPE_KDTYPE_COUNT];
    rope_sincos_fn sincos;
    rope_sincos_d_fn sincos_d;
    rope_sincos_sum_fn sincos_sum;
} rope_kernels;

/* Defined by each ISA file; NULL-free tables. */
extern const rope_kernels rope_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const rope_kernels rope_kernels_avx2;
extern const rope_kernels rope_kernels_avx512;
#endif
#if defined(__aarch64__)
extern const rope_kernels rope_kernels_neon;
#endif

/* The scalar reference functions (scalar.c), exported so other ISA files can
 * fall back to them for cases they do not specialise. Their arithmetic is the
 * definition of correct: per pair, c' = cos·scale, s' = ±sin·scale (float32),
 * y0 = x0·c' − x1·s', y1 = x1·c' + x0·s'; for f32 storage each product rounded
 * separately (no FMA), exactly Hugging Face's float32 q·cos + rotate_half(q)·sin;
 * for f16/bf16 storage x0·c' (y0) and x1·c' (y1) fused (rope_ref_rotate16). */
void rope_scalar_row_interleaved_f32(const rope_row_args *a);
void rope_scalar_row_interleaved_f16(const rope_row_args *a);
void rope_scalar_row_interleaved_bf16(const rope_row_args *a);
void rope_scalar_row_half_f32(const rope_row_args *a);
void rope_scalar_row_half_f16(const rope_row_args *a);
void rope_scalar_row_half_bf16(const rope_row_args *a);
void rope_scalar_row_deinterleave_f32(const rope_row_args *a);
void rope_scalar_row_deinterleave_f16(const rope_row_args *a);
void rope_scalar_row_deinterleave_bf16(const rope_row_args *a);
void rope_scalar_sincos(const double *inv_freq, int64_t n, double pos, float *cos_out,
                        float *sin_out);
void rope_scalar_sincos_d(const double *inv_freq, int64_t n, double pos, double *cos_out,
                          double *sin_out);
void rope_scalar_sincos_sum(const double *ca, const double *sa, const double *cb,
                            const double *sb, const double *inv_freq, int64_t n, int64_t rows,
                            double pos, float *cos_out, float *sin_out);

/* ------------------------------------------------ the reference rotation
 * One pair, RoFormer eq. (34): y0 = x0·c − x1·s, y1 = x1·c + x0·s, with c, s
 * already multiplied by the attention factor (and s negated for the inverse).
 * For f32 storage every kernel reproduces exactly this rounding: one product per
 * statement, so no compiler contracts it into an FMA (ISO C mode, and separate
 * statements). scalar.c, apply.c's strided path and the SIMD kernels' tails all
 * call it (through rope_ref_rotate_dt), and so does the rotate-on-read of
 * attention.c, which works on float32 keys whatever the cache's dtype. */
static inline void rope_ref_rotate(float x0, float x1, float c, float s, float *y0, float *y1) {
    float x0c = x0 * c;
    float x1s = x1 * s;
    float x1c = x1 * c;
    float x0s = x0 * s;
    *y0 = x0c - x1s;
    *y1 = x1c + x0s;
}

/* The same pair for f16/bf16 storage: the first product of each output fused,
 * y0 = fma(x0, c, −(x1·s)), y1 = fma(x1, c, x0·s): two roundings before the
 * 16-bit one instead of three (docs/precision.md). No peer's bits to match
 * there; SIMD kernels use one multiply and one FMA per output. */
static inline void rope_ref_rotate16(float x0, float x1, float c, float s, float *y0, float *y1) {
    float x1s = x1 * s;
    float x0s = x0 * s;
    *y0 = fmaf(x0, c, -x1s);
    *y1 = fmaf(x1, c, x0s);
}

/* The pair rotation of kernel dtype dt. */
static inline void rope_ref_rotate_dt(float x0, float x1, float c, float s, float *y0, float *y1,
                                      int dt) {
    if (dt == ROPE_KDTYPE_F32)
        rope_ref_rotate(x0, x1, c, s, y0, y1);
    else
        rope_ref_rotate16(x0, x1, c, s, y0, y1);
}

/* One element of kernel dtype dt at byte address p (unaligned allowed). */
static inline float rope_ref_load(const unsigned char *p, int dt) {
    if (dt == ROPE_KDTYPE_F32) {
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    uint16_t h;
    memcpy(&h, p, 2);
    return dt == ROPE_KDTYPE_F16 ? rope_f16_to_f32(h) : rope_bf16_to_f32(h);
}

static inline void rope_ref_store(unsigned char *p, float v, int dt) {
    if (dt == ROPE_KDTYPE_F32) {
        memcpy(p, &v, 4);
        return;
    }
    uint16_t h = dt == ROPE_KDTYPE_F16 ? rope_f32_to_f16(v) : rope_f32_to_bf16(v);
    memcpy(p, &h, 2);
}

/* Pairs [from, R/2) of one contiguous head vector x -> y, the reference way. */
static inline void rope_ref_pairs(const rope_row_args *a, const unsigned char *x, unsigned char *y,
                                  int64_t from, int half_style, int dt) {
    const int64_t es = dt == ROPE_KDTYPE_F32 ? 4 : 2, half = a->rotary_dim / 2;
    for (int64_t i = from; i < half; i++) {
        float c = a->cos[i] * a->scale;
        float s = a->sin[i] * a->scale;
        if (a->inverse) s = -s;
        int64_t i0 = half_style ? i : 2 * i, i1 = half_style ? i + half : 2 * i + 1;
        float y0, y1;
        rope_ref_rotate_dt(rope_ref_load(x + i0 * es, dt), rope_ref_load(x + i1 * es, dt), c, s,
                           &y0, &y1, dt);
        rope_ref_store(y + i0 * es, y0, dt);
        rope_ref_store(y + i1 * es, y1, dt);
    }
}

/* ROPE_KSTYLE_DEINTERLEAVE, the reference way: pairs [from, R/2) of one head whose R
 * rotary inputs x are contiguous, into y with element stride ys. Forward: pair i =
 * (x[2i], x[2i+1]) -> (y[i], y[i+R/2]); inverse: (x[i], x[i+R/2]) -> (y[2i], y[2i+1]),
 * rotated by −θ. The output index differs from the input's, so x must not overlap y:
 * in place, callers first copy the head's rotary part (rope_ref_deint_src). */
static inline void rope_ref_deinterleave(const rope_row_args *a, const unsigned char *x,
                                         unsigned char *y, int64_t ys, int64_t from, int dt) {
    const int64_t es = dt == ROPE_KDTYPE_F32 ? 4 : 2, half = a->rotary_dim / 2;
    for (int64_t i = from; i < half; i++) {
        float c = a->cos[i] * a->scale;
        float s = a->sin[i] * a->scale;
        if (a->inverse) s = -s;
        int64_t i0 = a->inverse ? i : 2 * i, i1 = a->inverse ? i + half : 2 * i + 1;
        int64_t o0 = a->inverse ? 2 * i : i, o1 = a->inverse ? 2 * i + 1 : i + half;
        float y0, y1;
        rope_ref_rotate_dt(rope_ref_load(x + i0 * es, dt), rope_ref_load(x + i1 * es, dt), c, s,
                           &y0, &y1, dt);
        rope_ref_store(y + o0 * ys * es, y0, dt);
        rope_ref_store(y + o1 * ys * es, y1, dt);
    }
}

/* The input a DEINTERLEAVE head is read from: x itself out of place, else a copy of its
 * rotary part in tmp (ROPE_MAX_HEAD_DIM float32s: a whole row on the stack). */
static inline const unsigned char *rope_ref_deint_src(const rope_row_args *a,
                                                      const unsigned char *x, const unsigned char *y,
                                                      unsigned char *tmp, int dt) {
    if (x != y) return x;
    memcpy(tmp, x, (size_t)a->rotary_dim * (dt == ROPE_KDTYPE_F32 ? 4 : 2));
    return tmp;
}

/* The table in use (dispatch.c): chosen once, thread-safely. */
const rope_kernels *rope_kernels_get(void);

/* Test and benchmark hook (not exported from librope.so; tests, `rope check` and
 * `rope bench` link the static library): force a kernel set by name for the calls
 * that follow. ROPE_E_UNSUPPORTED if the CPU or build lacks it. Not thread-safe
 * against concurrent rope calls; programs use the ROPE_ISA environment variable. */
rope_status rope_isa_force(const char *name);

#endif
