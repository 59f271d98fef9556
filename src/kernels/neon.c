/*
 * NEON (Advanced SIMD) kernels for aarch64, where NEON is always present.
 *
 * Same arithmetic as scalar.c lane by lane (c' = cos·scale, s' = ±sin·scale,
 * y0 = x0·c' − x1·s', y1 = x1·c' + x0·s', products rounded separately: no
 * FMA), so f32 results are bit-identical to the reference. Interleaved pairs
 * are split into even/odd lanes by ld2/st2, which makes both conventions the
 * same four-pair loop. f16 uses the hardware conversions (fcvtl/fcvtn, round
 * to nearest even); bf16 -> f32 is a widening shift, f32 -> bf16 the integer
 * round-to-nearest-even of rope_f32_to_bf16. Pairs after the last full group
 * of four run through a scalar loop written exactly like the reference.
 *
 * sincos: the algorithm of avx512.c on 2 doubles (exact angle pos·θᵢ as
 * hi + lo, three-part Cody–Waite reduction by π/2 with FMA, Taylor polynomials
 * in double, one rounding to float).
 *
 * Tested on x86 hosts under qemu-aarch64 by `make test-neon` (cmake/aarch64-linux-gnu.cmake).
 */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"

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
            float32x4_t y0 = vsubq_f32(vmulq_f32(x0, C[g]), vmulq_f32(x1, S[g]));
            float32x4_t y1 = vaddq_f32(vmulq_f32(x1, C[g]), vmulq_f32(x0, S[g]));
            st_pairs(y, 4 * g, hd, half_style, dt, y0, y1);
        }
        if (4 * ng < hd) rest(a, x, y, 4 * ng, half_style, dt);
        if (y != x && a->head_dim > a->rotary_dim)
            memcpy(y + a->rotary_dim * (int64_t)es, x + a->rotary_dim * (int64_t)es,
                   (size_t)(a->head_dim - a->rotary_dim) * es);
    }
}

static void inter_f32(const rope_row_args *a) { row(a, 0, ROPE_KDTYPE_F32); }
static void inter_f16(const rope_row_args *a) { row(a, 0, ROPE_KDTYPE_F16); }
static void inter_bf16(const rope_row_args *a) { row(a, 0, ROPE_KDTYPE_BF16); }
static void half_f32(const rope_row_args *a) { row(a, 1, ROPE_KDTYPE_F32); }
static void half_f16(const rope_row_args *a) { row(a, 1, ROPE_KDTYPE_F16); }
static void half_bf16(const rope_row_args *a) { row(a, 1, ROPE_KDTYPE_BF16); }

/* ---------------------------------------------------------------- sincos */

#define SC_P1 0x1.921fb54442d18p+0
#define SC_P2 0x1.1a62633145c07p-54
#define SC_P3 (-0x1.f1976b7ed8fbcp-110)
#define SC_LIMIT 0x1p30

INLINE float64x2_t poly(float64x2_t x2, const double *c, int n) {
    float64x2_t p = vdupq_n_f64(c[0]);
    for (int i = 1; i < n; i++) p = vfmaq_f64(vdupq_n_f64(c[i]), p, x2);
    return p;
}

static void sincos_block(const double *inv_freq, double pos, float *co, float *so) {
    static const double SP[] = {-1.0 / 39916800.0, 1.0 / 362880.0, -1.0 / 5040.0, 1.0 / 120.0,
                                -1.0 / 6.0};
    static const double CP[] = {1.0 / 479001600.0, -1.0 / 3628800.0, 1.0 / 40320.0,
                                -1.0 / 720.0,      1.0 / 24.0,        -0.5,
                                1.0};
    const float64x2_t vpos = vdupq_n_f64(pos), th = vld1q_f64(inv_freq);
    const float64x2_t magic = vdupq_n_f64(0x1.8p52);
    float64x2_t x = vmulq_f64(vpos, th);
    float64x2_t lo = vfmaq_f64(vnegq_f64(x), vpos, th); /* pos·θ − x, exact */
    float64x2_t t = vfmaq_f64(magic, x, vdupq_n_f64(0x1.45f306dc9c883p-1));
    float64x2_t k = vsubq_f64(t, magic);
    float64x2_t r = vfmsq_f64(x, k, vdupq_n_f64(SC_P1));
    r = vfmsq_f64(r, k, vdupq_n_f64(SC_P2));
    r = vfmsq_f64(r, k, vdupq_n_f64(SC_P3));
    r = vaddq_f64(r, lo);
    float64x2_t r2 = vmulq_f64(r, r);
    float64x2_t s = vfmaq_f64(r, vmulq_f64(poly(r2, SP, 5), r2), r);
    float64x2_t c = poly(r2, CP, 7);
    uint64x2_t q = vreinterpretq_u64_f64(t);
    uint64x2_t odd = vtstq_u64(q, vdupq_n_u64(1));
    uint64x2_t sgn_s = vshlq_n_u64(vandq_u64(q, vdupq_n_u64(2)), 62);
    uint64x2_t sgn_c = vshlq_n_u64(vandq_u64(vaddq_u64(q, vdupq_n_u64(1)), vdupq_n_u64(2)), 62);
    float64x2_t so2 = vbslq_f64(odd, c, s), co2 = vbslq_f64(odd, s, c);
    so2 = vreinterpretq_f64_u64(veorq_u64(vreinterpretq_u64_f64(so2), sgn_s));
    co2 = vreinterpretq_f64_u64(veorq_u64(vreinterpretq_u64_f64(co2), sgn_c));
    vst1_f32(co, vcvt_f32_f64(co2));
    vst1_f32(so, vcvt_f32_f64(so2));
    for (int l = 0; l < 2; l++) { /* too large (or NaN): the reference's libm route */
        double hi = pos * inv_freq[l];
        if (fabs(hi) <= SC_LIMIT) continue;
        double e = fma(pos, inv_freq[l], -hi);
        double c1 = cos(hi), s1 = sin(hi);
        co[l] = (float)(c1 - s1 * e);
        so[l] = (float)(s1 + c1 * e);
    }
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

const rope_kernels rope_kernels_neon = {
    "neon",
    {
        [ROPE_KSTYLE_INTERLEAVED] = {inter_f32, inter_f16, inter_bf16},
        [ROPE_KSTYLE_HALF] = {half_f32, half_f16, half_bf16},
    },
    sincos_neon,
};
