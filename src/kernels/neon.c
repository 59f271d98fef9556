/*
 * NEON (Advanced SIMD) kernels for aarch64, where NEON is always present.
 *
 * Same arithmetic as scalar.c lane by lane (c' = cos·scale, s' = ±sin·scale,
 * y0 = x0·c' − x1·s', y1 = x1·c' + x0·s'; f32: products rounded separately, no
 * FMA; f16/bf16: x0·c' (y0) and x1·c' (y1) fused, rot), so results are
 * bit-identical to the reference. Interleaved pairs
 * are split into even/odd lanes by ld2/st2, which makes both conventions the
 * same four-pair loop (the de-interleaving layout loads one pairing and stores the
 * other). f16 uses the hardware conversions (fcvtl/fcvtn, round
 * to nearest even); bf16 -> f32 is a widening shift, f32 -> bf16 the integer
 * round-to-nearest-even of rope_f32_to_bf16. Pairs after the last full group
 * of four run through a scalar loop written exactly like the reference.
 *
 * sincos: kernels/sincos.h on 2 doubles, the same operations in the same
 * order as the scalar kernel, so the same bits.
 *
 * Tested on x86 hosts under qemu-aarch64 by `make test-neon` (cmake/aarch64-linux-gnu.cmake).
 */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/sincos.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define INLINE static inline __attribute__((always_inline))

INLINE size_t esize(int dt) { return dt == ROPE_KDTYPE_F32 ? 4 : 2; }

/* --------------------------------------------------- 4 lanes of one dtype */

INLINE float32x4_t cvt_in16(uint16x4_t h, int dt) {
    if (dt == ROPE_KDTYPE_F16) return vcvt_f32_f16(vreinterpret_f16_u16(h));
    return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}

INLINE uint16x4_t cvt_out16(float32x4_t v, int dt) {
    if (dt == ROPE_KDTYPE_F16) return vreinterpret_u16_f16(vcvt_f16_f32(v));
    uint32x4_t u = vreinterpretq_u32_f32(v);
    uint32x4_t lsb = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
    uint32x4_t r = vaddq_u32(u, vaddq_u32(lsb, vdupq_n_u32(0x7fff)));
    uint32x4_t qnan = vorrq_u32(u, vdupq_n_u32(0x400000)); /* quiet bit, then truncate */
    uint32x4_t isnum = vceqq_f32(v, v);
    return vshrn_n_u32(vbslq_u32(isnum, r, qnan), 16);
}

/* Load the two members of 4 pairs: interleaved (ld2) or half (i, i + hd). */
INLINE void ld_pairs(const unsigned char *x, int64_t i, int64_t hd, int half_style, int dt,
                     float32x4_t *x0, float32x4_t *x1) {
    if (dt == ROPE_KDTYPE_F32) {
        const float *p = (const float *)x;
        if (half_style) {
            *x0 = vld1q_f32(p + i);
            *x1 = vld1q_f32(p + i + hd);
        } else {
            float32x4x2_t v = vld2q_f32(p + 2 * i);
            *x0 = v.val[0];
            *x1 = v.val[1];
        }
        return;
    }
    const uint16_t *p = (const uint16_t *)x;
    if (half_style) {
        *x0 = cvt_in16(vld1_u16(p + i), dt);
        *x1 = cvt_in16(vld1_u16(p + i + hd), dt);
    } else {
        uint16x4x2_t v = vld2_u16(p + 2 * i);
        *x0 = cvt_in16(v.val[0], dt);
        *x1 = cvt_in16(v.val[1], dt);
    }
}

INLINE void st_pairs(unsigned char *y, int64_t i, int64_t hd, int half_style, int dt,
                     float32x4_t y0, float32x4_t y1) {
    if (dt == ROPE_KDTYPE_F32) {
        float *p = (float *)y;
        if (half_style) {
            vst1q_f32(p + i, y0);
            vst1q_f32(p + i + hd, y1);
        } else {
            float32x4x2_t v = {{y0, y1}};
            vst2q_f32(p + 2 * i, v);
        }
        return;
    }
    uint16_t *p = (uint16_t *)y;
    if (half_style) {
        vst1_u16(p + i, cvt_out16(y0, dt));
        vst1_u16(p + i + hd, cvt_out16(y1, dt));
    } else {
        uint16x4x2_t v = {{cvt_out16(y0, dt), cvt_out16(y1, dt)}};
        vst2_u16(p + 2 * i, v);
    }
}

/* The pair arithmetic (kernel.h): float32 storage rounds each product
 * (y0 = x0·c − x1·s, HF's float32 bits); 16-bit storage fuses the first
 * product of each output, y0 = fma(x0, c, −(x1·s)), y1 = fma(x1, c, x0·s)
 * (vfmaq_f32(a, b, c) = a + b·c rounded once; −(x1·s) is negated exactly, so
 * a zero result has the reference's sign, which an fms would not give). */
INLINE void rot(float32x4_t x0, float32x4_t x1, float32x4_t c, float32x4_t s, int dt,
                float32x4_t *y0, float32x4_t *y1) {
    if (dt == ROPE_KDTYPE_F32) {
        *y0 = vsubq_f32(vmulq_f32(x0, c), vmulq_f32(x1, s));
        *y1 = vaddq_f32(vmulq_f32(x1, c), vmulq_f32(x0, s));
    } else {
        *y0 = vfmaq_f32(vnegq_f32(vmulq_f32(x1, s)), x0, c);
        *y1 = vfmaq_f32(vmulq_f32(x0, s), x1, c);
    }
}

/* ------------------------------------------- scalar remainder (reference) */

/* Pairs [from, R/2) exactly as scalar.c does them. */
static void rest(const rope_row_args *a, const unsigned char *x, unsigned char *y, int64_t from,
                 int half_style, int dt) {
    rope_ref_pairs(a, x, y, from, half_style, dt);
}

/* ------------------------------------------------------------------ rows */

enum { MAX_G = ROPE_MAX_FREQS / 4 };

INLINE void row(const rope_row_args *a, int half_style, int dt) {
    const int64_t hd = a->rotary_dim / 2, ng = hd / 4;
    const size_t es = esize(dt);
    float32x4_t C[MAX_G], S[MAX_G];
    const float32x4_t sc = vdupq_n_f32(a->scale);
    for (int64_t g = 0; g < ng; g++) {
        C[g] = vmulq_f32(vld1q_f32(a->cos + 4 * g), sc);
        S[g] = vmulq_f32(vld1q_f32(a->sin + 4 * g), sc);
        if (a->inverse) S[g] = vnegq_f32(S[g]);
    }
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * (int64_t)es;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * (int64_t)es;
        for (int64_t g = 0; g < ng; g++) {
            float32x4_t x0, x1;
            ld_pairs(x, 4 * g, hd, half_style, dt, &x0, &x1);
            float32x4_t y0, y1;
            rot(x0, x1, C[g], S[g], dt, &y0, &y1);
            st_pairs(y, 4 * g, hd, half_style, dt, y0, y1);
        }
        if (4 * ng < hd) rest(a, x, y, 4 * ng, half_style, dt);
        if (y != x && a->head_dim > a->rotary_dim)
            memcpy(y + a->rotary_dim * (int64_t)es, x + a->rotary_dim * (int64_t)es,
                   (size_t)(a->head_dim - a->rotary_dim) * es);
    }
}

/* De-interleave: loads of one pairing, stores of the other (forward: ld2 in, half out;
 * inverse: half in, st2 out). In place the head's rotary part is read from a copy
 * (rope_ref_deint_src): outputs land where later inputs are. */
INLINE void deint_row(const rope_row_args *a, int dt) {
    const int64_t hd = a->rotary_dim / 2, ng = hd / 4;
    const size_t es = esize(dt);
    const int ld_half = a->inverse, st_half = !a->inverse;
    float32x4_t C[MAX_G], S[MAX_G];
    float tmp[ROPE_MAX_HEAD_DIM];
    const float32x4_t sc = vdupq_n_f32(a->scale);
    for (int64_t g = 0; g < ng; g++) {
        C[g] = vmulq_f32(vld1q_f32(a->cos + 4 * g), sc);
        S[g] = vmulq_f32(vld1q_f32(a->sin + 4 * g), sc);
        if (a->inverse) S[g] = vnegq_f32(S[g]);
    }
    for (int64_t h = 0; h < a->n_heads; h++) {
        const unsigned char *x = (const unsigned char *)a->in + h * a->in_head_stride * (int64_t)es;
        unsigned char *y = (unsigned char *)a->out + h * a->out_head_stride * (int64_t)es;
        const unsigned char *src = rope_ref_deint_src(a, x, y, (unsigned char *)tmp, dt);
        for (int64_t g = 0; g < ng; g++) {
            float32x4_t x0, x1;
            ld_pairs(src, 4 * g, hd, ld_half, dt, &x0, &x1);
            float32x4_t y0, y1;
            rot(x0, x1, C[g], S[g], dt, &y0, &y1);
            st_pairs(y, 4 * g, hd, st_half, dt, y0, y1);
        }
        if (4 * ng < hd) rope_ref_deinterleave(a, src, y, 1, 4 * ng, dt);
        if (y != x && a->head_dim > a->rotary_dim)
            memcpy(y + a->rotary_dim * (int64_t)es, x + a->rotary_dim * (int64_t)es,
                   (size_t)(a->head_dim - a->rotary_dim) * es);
    }
}

static void inter_f32(const rope_row_args *a) { row(a, 0, ROPE_KDTYPE_F32); }
static void inter_f16(const rope_row_args *a) { row(a, 0, ROPE_KDTYPE_F16); }
static void inter_bf16(const rope_row_args *a) { row(a, 0, ROPE_KDTYPE_BF16); }
static void deint_f32(const rope_row_args *a) { deint_row(a, ROPE_KDTYPE_F32); }
static void deint_f16(const rope_row_args *a) { deint_row(a, ROPE_KDTYPE_F16); }
static void deint_bf16(const rope_row_args *a) { deint_row(a, ROPE_KDTYPE_BF16); }
static void half_f32(const rope_row_args *a) { row(a, 1, ROPE_KDTYPE_F32); }
static void half_f16(const rope_row_args *a) { row(a, 1, ROPE_KDTYPE_F16); }
static void half_bf16(const rope_row_args *a) { row(a, 1, ROPE_KDTYPE_BF16); }

/* ---------------------------------------------------------------- sincos */

/* The definition of kernels/sincos.h (rope_sc_reduced) on 2 lanes, operation
 * for operation, so the bits equal the scalar kernel's. */
#define V2(c) vdupq_n_f64(c)

INLINE void two_sum2(float64x2_t a, float64x2_t b, float64x2_t *s, float64x2_t *e) {
    float64x2_t x = vaddq_f64(a, b), bb = vsubq_f64(x, a);
    *e = vaddq_f64(vsubq_f64(a, vsubq_f64(x, bb)), vsubq_f64(b, bb));
    *s = x;
}

/* r = hi + lo − k·π/2, and k (vfmaq_f64(c, a, b) = c + a·b fused) */
INLINE float64x2_t reduce2(float64x2_t hi, float64x2_t lo, float64x2_t *kq) {
    float64x2_t k = vrndnq_f64(vmulq_f64(hi, V2(ROPE_SC_C1)));
    uint64x2_t big = vcagtq_f64(hi, V2(ROPE_SC_KFIX));
    if (vgetq_lane_u64(big, 0) | vgetq_lane_u64(big, 1)) { /* the second step of k, where needed */
        float64x2_t f = vaddq_f64(vfmaq_f64(vnegq_f64(k), hi, V2(ROPE_SC_C1)),
                                  vfmaq_f64(vmulq_f64(lo, V2(ROPE_SC_C1)), hi, V2(ROPE_SC_C2)));
        k = vbslq_f64(big, vaddq_f64(k, vrndnq_f64(f)), k);
    }
    float64x2_t s1 = vfmsq_f64(hi, k, V2(ROPE_SC_P1)); /* exact */
    float64x2_t a2 = vmulq_f64(k, V2(ROPE_SC_P2));
    float64x2_t e2 = vfmaq_f64(vnegq_f64(a2), k, V2(ROPE_SC_P2));
    float64x2_t s2, t2;
    two_sum2(s1, vnegq_f64(a2), &s2, &t2);
    *kq = k;
    return vaddq_f64(vaddq_f64(s2, lo), vsubq_f64(t2, vaddq_f64(e2, vmulq_f64(k, V2(ROPE_SC_P3)))));
}

INLINE void sincos2(float64x2_t hi, float64x2_t lo, float64x2_t *cs, float64x2_t *sn) {
    float64x2_t k, r = reduce2(hi, lo, &k);
    float64x2_t z = vmulq_f64(r, r);
    float64x2_t ps = vfmaq_f64(V2(ROPE_SC_S6), V2(ROPE_SC_S7), z);
    ps = vfmaq_f64(V2(ROPE_SC_S5), ps, z);
    ps = vfmaq_f64(V2(ROPE_SC_S4), ps, z);
    ps = vfmaq_f64(V2(ROPE_SC_S3), ps, z);
    ps = vfmaq_f64(V2(ROPE_SC_S2), ps, z);
    ps = vfmaq_f64(V2(ROPE_SC_S1), ps, z);
    float64x2_t s1 = vfmaq_f64(r, vmulq_f64(ps, z), r);
    float64x2_t pc = vfmaq_f64(V2(ROPE_SC_C7), V2(ROPE_SC_C8), z);
    pc = vfmaq_f64(V2(ROPE_SC_C6), pc, z);
    pc = vfmaq_f64(V2(ROPE_SC_C5), pc, z);
    pc = vfmaq_f64(V2(ROPE_SC_C4), pc, z);
    pc = vfmaq_f64(V2(ROPE_SC_C3), pc, z);
    pc = vfmaq_f64(V2(ROPE_SC_C2P), pc, z);
    pc = vfmaq_f64(V2(ROPE_SC_C1P), pc, z);
    float64x2_t c1 = vfmaq_f64(V2(1.0), pc, z);
    /* quadrant q = k mod 4: sin = (s, c, −s, −c)[q], cos = (c, −s, −c, s)[q] */
    uint64x2_t q = vreinterpretq_u64_s64(vcvtq_s64_f64(k)); /* k: integer, exact */
    uint64x2_t odd = vtstq_u64(q, vdupq_n_u64(1));
    uint64x2_t neg_s = vshlq_n_u64(vandq_u64(q, vdupq_n_u64(2)), 62);
    uint64x2_t neg_c = vshlq_n_u64(vandq_u64(vaddq_u64(q, vdupq_n_u64(1)), vdupq_n_u64(2)), 62);
    float64x2_t so = vbslq_f64(odd, c1, s1), co = vbslq_f64(odd, s1, c1);
    *sn = vreinterpretq_f64_u64(veorq_u64(vreinterpretq_u64_f64(so), neg_s));
    *cs = vreinterpretq_f64_u64(veorq_u64(vreinterpretq_u64_f64(co), neg_c));
}

static void sincos_block(const double *inv_freq, double pos, float *co, float *so) {
    const float64x2_t vpos = vdupq_n_f64(pos), th = vld1q_f64(inv_freq);
    float64x2_t x = vmulq_f64(vpos, th);
    float64x2_t lo = vfmaq_f64(vnegq_f64(x), vpos, th); /* pos·θ − x, exact */
    float64x2_t c, s;
    sincos2(x, lo, &c, &s);
    vst1_f32(co, vcvt_f32_f64(c));
    vst1_f32(so, vcvt_f32_f64(s));
    for (int l = 0; l < 2; l++) /* beyond ROPE_SC_LIMIT (or NaN): the scalar kernel */
        if (!(fabs(pos * inv_freq[l]) < ROPE_SC_LIMIT))
            rope_scalar_sincos(inv_freq + l, 1, pos, co + l, so + l);
}

static void sincos_neon(const double *inv_freq, int64_t n, double pos, float *cos_out,
                        float *sin_out) {
    int64_t i = 0;
    for (; i + 2 <= n; i += 2) sincos_block(inv_freq + i, pos, cos_out + i, sin_out + i);
    if (i < n) {
        double f[2] = {inv_freq[i], 0};
        float c[2], s[2];
        sincos_block(f, pos, c, s);
        cos_out[i] = c[0];
        sin_out[i] = s[0];
    }
}

/* The table build's anchors: sincos2 stored before the rounding to float; an
 * odd last entry by the scalar definition (the same operations). */
static void sincos_d_neon(const double *inv_freq, int64_t n, double pos, double *cos_out,
                          double *sin_out) {
    const float64x2_t vpos = vdupq_n_f64(pos);
    int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
        float64x2_t th = vld1q_f64(inv_freq + i);
        float64x2_t x = vmulq_f64(vpos, th);
        float64x2_t lo = vfmaq_f64(vnegq_f64(x), vpos, th); /* pos·θ − x, exact */
        float64x2_t c, s;
        sincos2(x, lo, &c, &s);
        vst1q_f64(cos_out + i, c);
        vst1q_f64(sin_out + i, s);
    }
    rope_scalar_sincos_d(inv_freq + i, n - i, pos, cos_out + i, sin_out + i);
}

/* The table build's rows from anchors: rope_sc_sum on 2 lanes (same operations,
 * same decisions; vfmsq_f64(c, a, b) = c − a·b fused); undecided lanes go to the
 * scalar kernel, an odd last entry to the scalar definition. */
INLINE void sum_row(const double *ca, const double *sa, const double *cb, const double *sb,
                    const double *inv_freq, int64_t n, double pos, float *cos_out,
                    float *sin_out) {
    const float64x2_t tol = V2(ROPE_SC_SUM_TOL);
    int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
        float64x2_t ac = vld1q_f64(ca + i), as = vld1q_f64(sa + i);
        float64x2_t bc = vld1q_f64(cb + i), bs = vld1q_f64(sb + i);
        float64x2_t c = vfmaq_f64(vnegq_f64(vmulq_f64(as, bs)), ac, bc);
        float64x2_t s = vfmaq_f64(vmulq_f64(ac, bs), as, bc);
        float32x2_t c0 = vcvt_f32_f64(vsubq_f64(c, tol)), c1 = vcvt_f32_f64(vaddq_f64(c, tol));
        float32x2_t s0 = vcvt_f32_f64(vsubq_f64(s, tol)), s1 = vcvt_f32_f64(vaddq_f64(s, tol));
        vst1_f32(cos_out + i, c0);
        vst1_f32(sin_out + i, s0);
        uint32x2_t ok = vand_u32(vceq_f32(c0, c1), vceq_f32(s0, s1));
        for (int l = 0; l < 2; l++)
            if (!(l ? vget_lane_u32(ok, 1) : vget_lane_u32(ok, 0)))
                rope_scalar_sincos(inv_freq + i + l, 1, pos, cos_out + i + l, sin_out + i + l);
    }
    rope_scalar_sincos_sum(ca + i, sa + i, cb + i, sb + i, inv_freq + i, n - i, 1, pos,
                           cos_out + i, sin_out + i);
}

static void sincos_sum_neon(const double *ca, const double *sa, const double *cb,
                            const double *sb, const double *inv_freq, int64_t n, int64_t rows,
                            double pos, float *cos_out, float *sin_out) {
    for (int64_t b = 0; b < rows; b++)
        sum_row(ca, sa, cb + b * n, sb + b * n, inv_freq, n, pos + (double)b, cos_out + b * n,
                sin_out + b * n);
}

const rope_kernels rope_kernels_neon = {
    "neon",
    {
        [ROPE_KSTYLE_INTERLEAVED] = {inter_f32, inter_f16, inter_bf16},
        [ROPE_KSTYLE_HALF] = {half_f32, half_f16, half_bf16},
        [ROPE_KSTYLE_DEINTERLEAVE] = {deint_f32, deint_f16, deint_bf16},
    },
    sincos_neon,
    sincos_d_neon,
    sincos_sum_neon,
};
